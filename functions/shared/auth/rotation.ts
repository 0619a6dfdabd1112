/**
 * Secrets Manager rotation of the JWT signing key, the four-step protocol AWS
 * documents for a rotation function. Every step is safe to repeat: Secrets Manager
 * retries a failed rotation from the start with the same ClientRequestToken.
 *
 * - createSecret: if the version `token` has no AWSPENDING value yet, put a fresh
 *   64-character alphanumeric key there (GetRandomPassword, punctuation excluded).
 * - setSecret: nothing; no other service holds this key.
 * - testSecret: the pending key must be long enough and sign a token it verifies.
 * - finishSecret: move AWSCURRENT to the new version (Secrets Manager then labels the
 *   old one AWSPREVIOUS, which verifiers still accept) and drop AWSPENDING.
 */
import {
  DescribeSecretCommand,
  GetRandomPasswordCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  type SecretsManagerClient,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';
import { keyFromSecret, signToken, verifyToken } from '#shared/auth/jwt';

export const SIGNING_KEY_LENGTH = 64;

export interface RotationEvent {
  readonly Step: string;
  readonly SecretId: string;
  readonly ClientRequestToken: string;
  /** Set by Secrets Manager for cross-account or assumed-role rotation; passed back on writes. */
  readonly RotationToken?: string;
}

type Client = Pick<SecretsManagerClient, 'send'>;
type Step = 'createSecret' | 'setSecret' | 'testSecret' | 'finishSecret';

/** The user guide spells steps `create_secret`; events say `createSecret`. Accept both. */
const STEPS: Readonly<Record<string, Step>> = {
  createsecret: 'createSecret',
  setsecret: 'setSecret',
  testsecret: 'testSecret',
  finishsecret: 'finishSecret',
};

/**
 * Runs one rotation step.
 * @returns what happened, for the log.
 * @example
 * await rotateSigningKey({ Step: 'createSecret', SecretId: arn, ClientRequestToken: token }, secretsManager);
 */
export async function rotateSigningKey(event: RotationEvent, client: Client): Promise<string> {
  const step = STEPS[event.Step.replaceAll('_', '').toLowerCase()];
  if (!step) throw new Error(`unknown rotation step ${event.Step}`);
  const { SecretId, ClientRequestToken: token } = event;

  const metadata = await client.send(new DescribeSecretCommand({ SecretId }));
  if (!metadata.RotationEnabled) throw new Error(`secret ${SecretId} is not enabled for rotation`);
  const stages = metadata.VersionIdsToStages?.[token];
  if (!stages) throw new Error(`version ${token} of ${SecretId} has no stage for rotation`);
  if (stages.includes('AWSCURRENT')) return `${step}: version ${token} is already AWSCURRENT`;
  if (!stages.includes('AWSPENDING')) throw new Error(`version ${token} of ${SecretId} is not AWSPENDING`);

  switch (step) {
    case 'createSecret':
      return createSecret(event, client);
    case 'setSecret':
      return 'setSecret: nothing to set; the key lives only in this secret';
    case 'testSecret':
      return testSecret(event, client);
    case 'finishSecret': {
      const current = Object.entries(metadata.VersionIdsToStages ?? {}).find(([, s]) =>
        s.includes('AWSCURRENT'),
      )?.[0];
      await client.send(
        new UpdateSecretVersionStageCommand({
          SecretId,
          VersionStage: 'AWSCURRENT',
          MoveToVersionId: token,
          RemoveFromVersionId: current,
        }),
      );
      await client.send(
        new UpdateSecretVersionStageCommand({
          SecretId,
          VersionStage: 'AWSPENDING',
          RemoveFromVersionId: token,
        }),
      );
      return `finishSecret: version ${token} is now AWSCURRENT (was ${current ?? 'none'})`;
    }
  }
}

async function createSecret(event: RotationEvent, client: Client): Promise<string> {
  const { SecretId, ClientRequestToken: token } = event;
  await client.send(new GetSecretValueCommand({ SecretId, VersionStage: 'AWSCURRENT' }));
  try {
    await client.send(new GetSecretValueCommand({ SecretId, VersionId: token, VersionStage: 'AWSPENDING' }));
    return `createSecret: version ${token} already has a value`;
  } catch (error) {
    if (!(error instanceof Error && error.name === 'ResourceNotFoundException')) throw error;
  }
  const { RandomPassword } = await client.send(
    new GetRandomPasswordCommand({
      PasswordLength: SIGNING_KEY_LENGTH,
      ExcludePunctuation: true,
      IncludeSpace: false,
    }),
  );
  if (!RandomPassword) throw new Error('GetRandomPassword returned no password');
  await client.send(
    new PutSecretValueCommand({
      SecretId,
      ClientRequestToken: token,
      SecretString: RandomPassword,
      VersionStages: ['AWSPENDING'],
      ...(event.RotationToken ? { RotationToken: event.RotationToken } : {}),
    }),
  );
  return `createSecret: put a new key as version ${token}`;
}

async function testSecret(event: RotationEvent, client: Client): Promise<string> {
  const { SecretString } = await client.send(
    new GetSecretValueCommand({
      SecretId: event.SecretId,
      VersionId: event.ClientRequestToken,
      VersionStage: 'AWSPENDING',
    }),
  );
  if (!SecretString || SecretString.length < 32)
    throw new Error('the pending signing key is shorter than 32 chars');
  const key = keyFromSecret(SecretString);
  const token = await signToken({ sub: 'rotation-test', role: 'viewer', ttlSeconds: 60 }, key);
  await verifyToken(token, [key]);
  return `testSecret: version ${event.ClientRequestToken} signs and verifies`;
}
