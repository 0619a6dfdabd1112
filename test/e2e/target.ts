/**
 * The e2e target: a deployed stack named by `E2E_OUTPUTS=<outputs file>` (contract C2,
 * `{ Stack: { RestApiUrl, TableName, JwtSecretArn, ... } }`, reached with the SDK's usual
 * credentials and endpoint settings), or, without it, the offline runtime booted once
 * from cdk.out with its endpoint and dummy credentials. Tokens are always signed with
 * the key read through the Secrets Manager API, never from a file.
 */
import { readFileSync } from 'node:fs';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { registerReferenceAgents } from '#local/reference-agents';
import { LOCAL_CREDENTIALS } from '#local/runtime/types';
import { keyFromSecret, signToken } from '#shared/auth/jwt';
import type { Role } from '#shared/routes';
import { BOOT_TIMEOUT_MS, bootRuntime } from '../integration/runtime/boot';

export { BOOT_TIMEOUT_MS };

export interface StackOutputs {
  readonly RestApiUrl: string;
  readonly JwtSecretArn: string;
  readonly TableName?: string;
  readonly RecoveryStateMachineArn?: string;
  readonly CompensationDlqUrl?: string;
  /** JSON: category -> agent queue URL. */
  readonly AgentQueueUrls?: string;
  /** JSON: category -> dead-letter queue URL. */
  readonly AgentDlqUrls?: string;
  /** The progress stream (C9); absent on a stack synthesized with `-c websocket=false`. */
  readonly WebSocketUrl?: string;
}

/** How SDK clients and the AWS CLI reach the target's AWS services. */
export interface AwsAccess {
  /** The offline runtime's edge; undefined for a deployed stack (the SDK's usual endpoints). */
  readonly endpoint?: string;
  readonly region?: string;
  readonly credentials?: { readonly accessKeyId: string; readonly secretAccessKey: string };
}

export interface Target {
  /** Whether this suite booted the offline runtime (and so owns its whole state). */
  readonly booted: boolean;
  readonly outputs: StackOutputs;
  readonly aws: AwsAccess;
  /** `<RestApiUrl>api/orchestrator/<path>`. */
  url(path: string): string;
  /** A bearer token for `role`, with `sub` as its subject. */
  tokenFor(role: Role, sub: string): Promise<string>;
  /** Stops the runtime this suite booted; a no-op for a deployed target. */
  stop(): Promise<void>;
}

const TOKEN_TTL_SECONDS = 900;

function requireOutput(stack: Record<string, string>, name: keyof StackOutputs, file: string): string {
  const value = stack[name];
  if (typeof value !== 'string' || value === '') throw new Error(`${file} has no ${name} output`);
  return value;
}

/** Reads the first stack in a `cdk deploy --outputs-file` file that has a RestApiUrl. */
export function readOutputsFile(file: string): StackOutputs {
  const parsed = JSON.parse(readFileSync(file, 'utf8')) as Record<string, Record<string, string>>;
  const stack = Object.values(parsed).find((outputs) => typeof outputs?.RestApiUrl === 'string');
  if (stack === undefined) throw new Error(`${file} names no stack with a RestApiUrl output`);
  return {
    RestApiUrl: requireOutput(stack, 'RestApiUrl', file),
    JwtSecretArn: requireOutput(stack, 'JwtSecretArn', file),
    TableName: stack.TableName,
    RecoveryStateMachineArn: stack.RecoveryStateMachineArn,
    CompensationDlqUrl: stack.CompensationDlqUrl,
    AgentQueueUrls: stack.AgentQueueUrls,
    AgentDlqUrls: stack.AgentDlqUrls,
    WebSocketUrl: stack.WebSocketUrl,
  };
}

function makeTarget(
  outputs: StackOutputs,
  secrets: SecretsManagerClient,
  booted: boolean,
  stopRuntime: () => Promise<void>,
  aws: AwsAccess = {},
): Target {
  const base = outputs.RestApiUrl.endsWith('/') ? outputs.RestApiUrl : `${outputs.RestApiUrl}/`;
  let key: Promise<Uint8Array> | undefined;
  const signingKey = (): Promise<Uint8Array> => {
    key ??= secrets
      .send(new GetSecretValueCommand({ SecretId: outputs.JwtSecretArn }))
      .then(({ SecretString }) => {
        if (!SecretString) throw new Error(`secret ${outputs.JwtSecretArn} has no string value`);
        return keyFromSecret(SecretString);
      });
    return key;
  };
  return {
    booted,
    outputs,
    aws,
    url: (path) => `${base}api/orchestrator/${path}`,
    tokenFor: async (role, sub) =>
      signToken({ sub, role, ttlSeconds: TOKEN_TTL_SECONDS }, await signingKey()),
    stop: async () => {
      secrets.destroy();
      await stopRuntime();
    },
  };
}

export interface TargetOptions {
  /**
   * On a runtime this suite boots, register the reference agents as `npm start` does, so
   * workflows have agents to route to. A deployed target already has its agents.
   * @default false (a booted runtime starts with an empty registry)
   */
  readonly referenceAgents?: boolean;
}

/** Resolves the target from the environment; call once per file, in beforeAll. */
export async function resolveTarget(
  env: NodeJS.ProcessEnv = process.env,
  options: TargetOptions = {},
): Promise<Target> {
  const outputsFile = env.E2E_OUTPUTS;
  if (outputsFile) {
    return makeTarget(readOutputsFile(outputsFile), new SecretsManagerClient({}), false, async () => {});
  }
  const { runtime } = await bootRuntime();
  const secrets = new SecretsManagerClient({
    endpoint: runtime.endpoint,
    region: runtime.region,
    credentials: LOCAL_CREDENTIALS,
  });
  const outputs: StackOutputs = {
    RestApiUrl: runtime.outputs.RestApiUrl ?? '',
    JwtSecretArn: runtime.outputs.JwtSecretArn ?? '',
    TableName: runtime.outputs.TableName,
    RecoveryStateMachineArn: runtime.outputs.RecoveryStateMachineArn,
    CompensationDlqUrl: runtime.outputs.CompensationDlqUrl,
    AgentQueueUrls: runtime.outputs.AgentQueueUrls,
    AgentDlqUrls: runtime.outputs.AgentDlqUrls,
    WebSocketUrl: runtime.outputs.WebSocketUrl,
  };
  const target = makeTarget(outputs, secrets, true, () => runtime.stop(), {
    endpoint: runtime.endpoint,
    region: runtime.region,
    credentials: LOCAL_CREDENTIALS,
  });
  if (options.referenceAgents) await registerReferenceAgentsOn(target);
  return target;
}

/**
 * Registers the reference agents on `target` with an admin token minted for it.
 * @throws Error naming every registration that failed (and stops the runtime it booted).
 */
export async function registerReferenceAgentsOn(target: {
  readonly outputs: Pick<StackOutputs, 'RestApiUrl'>;
  tokenFor: Target['tokenFor'];
  stop: Target['stop'];
}) {
  const admin = await target.tokenFor('admin', 'e2e-reference-agents');
  const { failures } = await registerReferenceAgents(target.outputs.RestApiUrl, admin);
  if (failures.length === 0) return;
  await target.stop();
  throw new Error(`registering the reference agents failed: ${failures.join('; ')}`);
}
