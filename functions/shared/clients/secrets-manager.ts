/** The Secrets Manager client (see retry.ts for why each client has its own module). */
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';

export const secretsManager: SecretsManagerClient = new SecretsManagerClient({});
