/**
 * Jest globalSetup for the `integration` project: boots the offline services once for
 * the whole project, not once per test file.
 *
 * - AWS's DynamoDB Local on a free loopback port, with the single table created from
 *   functions/shared/table-design.ts.
 * - The local Secrets Manager, holding the JWT signing secret.
 *
 * Endpoints and names reach the tests through environment variables. Jest starts its
 * workers (or, in band, the test environment) after this runs, and they inherit
 * process.env, so handlers under test find everything through their normal config and
 * the SDK's `AWS_ENDPOINT_URL_<SERVICE>` variables, with no "if local" code.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  CreateSecretCommand,
  GetRandomPasswordCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { createTableFromDesign, type DynamoDbLocal, startDynamoDbLocal } from '#local/dynamodb-local';
import { type SecretsManagerServer, startSecretsManagerServer } from '#local/secrets-manager';

export const INTEGRATION_TABLE_NAME = 'master-orchestrator-it';
export const INTEGRATION_JWT_SECRET_NAME = 'master-orchestrator-jwt';
const REGION = 'us-east-1';

/** What global-teardown.ts needs; globalSetup and globalTeardown share one global scope. */
export interface IntegrationServices {
  dynamoDb: DynamoDbLocal;
  secretsManager: SecretsManagerServer;
}

export const SERVICES_KEY = Symbol.for('master-orchestrator.integration.services');

type GlobalWithServices = typeof globalThis & { [SERVICES_KEY]?: IntegrationServices };

export default async function globalSetup(): Promise<void> {
  const startedAt = performance.now();
  const dynamoDb = await startDynamoDbLocal({ port: 0 });
  let secretsManager: SecretsManagerServer | undefined;
  try {
    secretsManager = await startSecretsManagerServer({ port: 0 });
    const credentials = { accessKeyId: 'test', secretAccessKey: 'test' };

    const dynamoDbClient = new DynamoDBClient({ endpoint: dynamoDb.endpoint, region: REGION, credentials });
    const secretsClient = new SecretsManagerClient({
      endpoint: secretsManager.endpoint,
      region: REGION,
      credentials,
    });
    try {
      await createTableFromDesign(dynamoDbClient, INTEGRATION_TABLE_NAME);
      const { RandomPassword } = await secretsClient.send(
        new GetRandomPasswordCommand({ PasswordLength: 64, ExcludePunctuation: true }),
      );
      const { ARN } = await secretsClient.send(
        new CreateSecretCommand({
          Name: INTEGRATION_JWT_SECRET_NAME,
          Description: 'HS256 signing key for the integration tests',
          SecretString: RandomPassword,
        }),
      );
      if (!ARN) throw new Error('CreateSecret returned no ARN');

      Object.assign(process.env, {
        AWS_REGION: REGION,
        AWS_ACCESS_KEY_ID: credentials.accessKeyId,
        AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
        AWS_ENDPOINT_URL_DYNAMODB: dynamoDb.endpoint,
        AWS_ENDPOINT_URL_SECRETS_MANAGER: secretsManager.endpoint,
        TABLE_NAME: INTEGRATION_TABLE_NAME,
        JWT_SECRET_ARN: ARN,
        POWERTOOLS_SERVICE_NAME: 'master-orchestrator',
        POWERTOOLS_METRICS_NAMESPACE: 'MasterOrchestrator',
        POWERTOOLS_DEV: 'false',
        POWERTOOLS_TRACE_ENABLED: 'false',
        LOG_LEVEL: 'WARN',
      });
    } finally {
      dynamoDbClient.destroy();
      secretsClient.destroy();
    }
  } catch (error) {
    // Jest skips globalTeardown when globalSetup throws, so nothing may be left running.
    await Promise.allSettled([dynamoDb.stop(), secretsManager?.stop()]);
    throw error;
  }

  (globalThis as GlobalWithServices)[SERVICES_KEY] = { dynamoDb, secretsManager };
  const totalMs = Math.round(performance.now() - startedAt);
  process.stderr.write(
    `\n[integration] DynamoDB Local ${dynamoDb.endpoint} (pid ${dynamoDb.pid}, JVM ready in ${dynamoDb.startupMs} ms` +
      `${dynamoDb.loopbackOnly ? '' : ', listening on every interface'}), Secrets Manager ${secretsManager.endpoint}; setup ${totalMs} ms\n`,
  );
}
