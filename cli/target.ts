/**
 * The target: a stack's outputs file (contract C2, the shape `cdk deploy --outputs-file`
 * writes), the AWS clients that reach its services with the SDK's usual configuration, and the
 * bearer token for its REST API.
 */
import { readFileSync } from 'node:fs';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SFNClient } from '@aws-sdk/client-sfn';
import { keyFromSecret, signToken } from '#shared/auth/jwt';
import type { Role } from '#shared/routes';
import { connectionErrorCode, TargetError } from './errors';

export const DEFAULT_OUTPUTS_FILE = '.local/outputs.json';
export const DEFAULT_TOKEN_TTL_SECONDS = 3600;

export interface TargetOutputs {
  /** The stack's name in the outputs file. */
  readonly stack: string;
  /** Ends with `/`; routes go under `api/orchestrator/`. */
  readonly RestApiUrl: string;
  readonly WebSocketUrl?: string;
  readonly RecoveryStateMachineArn?: string;
  readonly JwtSecretArn?: string;
}

/**
 * Picks the first stack with a RestApiUrl out of an outputs file's text.
 * @throws TargetError when the text is not JSON or names no such stack.
 * @example
 * parseOutputs('{"Stack":{"RestApiUrl":"https://x/v1/"}}', 'out.json').RestApiUrl; // 'https://x/v1/'
 */
export function parseOutputs(text: string, file: string): TargetOutputs {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new TargetError(`${file} is not JSON: ${(error as Error).message}`, undefined, { cause: error });
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed))
    throw new TargetError(`${file} is not an outputs file: expected {"<Stack>": {"RestApiUrl": ...}}`);
  for (const [stack, outputs] of Object.entries(parsed)) {
    if (outputs === null || typeof outputs !== 'object') continue;
    const values = outputs as Record<string, unknown>;
    const url = values.RestApiUrl;
    if (typeof url !== 'string' || url === '') continue;
    const text = (name: string) =>
      typeof values[name] === 'string' && values[name] !== '' ? (values[name] as string) : undefined;
    return {
      stack,
      RestApiUrl: url.endsWith('/') ? url : `${url}/`,
      WebSocketUrl: text('WebSocketUrl'),
      RecoveryStateMachineArn: text('RecoveryStateMachineArn'),
      JwtSecretArn: text('JwtSecretArn'),
    };
  }
  throw new TargetError(`${file} names no stack with a RestApiUrl output`);
}

export function readOutputs(file: string): TargetOutputs {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new TargetError(
      `cannot read the outputs file ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
      file === DEFAULT_OUTPUTS_FILE
        ? 'start the offline runtime with `npm start`, or pass --outputs <file> (cdk deploy --outputs-file)'
        : 'pass --outputs <file> written by `npm start` or `cdk deploy --outputs-file`',
      { cause: error },
    );
  }
  return parseOutputs(text, file);
}

/** The region an ARN names (`arn:aws:states:us-east-1:...`). */
export function regionOfArn(arn: string | undefined): string | undefined {
  const region = arn?.split(':')[3];
  return region ? region : undefined;
}

/** The AWS settings the CLI was started with; read once, in main. */
export interface AwsEnvironment {
  readonly endpoint?: string;
  readonly region?: string;
}

/** What to tell the user when an AWS call cannot connect or has no credentials. */
export function awsHint(outputs: TargetOutputs, env: AwsEnvironment): string {
  const local = /^https?:\/\/(127\.0\.0\.1|localhost)(:\d+)?\//.exec(outputs.RestApiUrl);
  if (local) {
    const edge = new URL(outputs.RestApiUrl).origin;
    return env.endpoint === edge
      ? `is the offline runtime up at ${edge}? (npm start)`
      : `for the offline runtime: export AWS_ENDPOINT_URL=${edge} AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=${regionOfArn(outputs.JwtSecretArn) ?? 'us-east-1'}`;
  }
  return 'check AWS_REGION, AWS_PROFILE or the AWS_* credentials, and AWS_ENDPOINT_URL (unset it for AWS itself)';
}

/** Wraps an AWS SDK failure that is about reaching AWS, not about the request. */
export function asAwsTargetError(
  error: unknown,
  what: string,
  outputs: TargetOutputs,
  env: AwsEnvironment,
): unknown {
  const name = (error as { name?: string }).name ?? '';
  const code = connectionErrorCode(error);
  if (
    code ||
    name === 'CredentialsProviderError' ||
    /Region is missing/i.test((error as Error).message ?? '')
  )
    return new TargetError(
      `${what} failed: ${code ?? name}: ${(error as Error).message}`,
      awsHint(outputs, env),
      { cause: error },
    );
  return error;
}

/** The SDK clients, created once per run with the SDK's usual configuration. */
export class AwsClients {
  #sfn?: SFNClient;
  #secrets?: SecretsManagerClient;
  constructor(
    readonly outputs: TargetOutputs,
    readonly env: AwsEnvironment,
  ) {}

  /** AWS_REGION, else the region in the target's own ARNs. */
  get region(): string | undefined {
    return this.env.region ?? regionOfArn(this.outputs.RecoveryStateMachineArn ?? this.outputs.JwtSecretArn);
  }

  get sfn(): SFNClient {
    this.#sfn ??= new SFNClient({ region: this.region });
    return this.#sfn;
  }

  get secrets(): SecretsManagerClient {
    this.#secrets ??= new SecretsManagerClient({ region: this.region });
    return this.#secrets;
  }

  destroy(): void {
    this.#sfn?.destroy();
    this.#secrets?.destroy();
  }
}

/** Signs a token with the target's key, read through the Secrets Manager API. */
export async function mintToken(
  aws: AwsClients,
  claims: { sub: string; role: Role; ttlSeconds: number },
): Promise<string> {
  const arn = aws.outputs.JwtSecretArn;
  if (!arn)
    throw new TargetError(
      `the ${aws.outputs.stack} outputs have no JwtSecretArn, so no token can be signed`,
      'pass --token <jwt> or set ORCHESTRATOR_TOKEN',
    );
  let secret: string | undefined;
  try {
    ({ SecretString: secret } = await aws.secrets.send(new GetSecretValueCommand({ SecretId: arn })));
  } catch (error) {
    throw asAwsTargetError(error, 'reading the signing key (Secrets Manager)', aws.outputs, aws.env);
  }
  if (!secret) throw new TargetError(`secret ${arn} has no string value`);
  return signToken(claims, keyFromSecret(secret));
}
