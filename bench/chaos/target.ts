/**
 * The chaos runner's target: a deployed stack named by `E2E_OUTPUTS=<outputs file>` (through
 * test/e2e/target.ts), or the offline runtime booted from cdk.out. Unlike the e2e target it
 * keeps every stack output, so outputs that target.ts does not name (`SweepFunctionName`) are
 * found too. Jest-free: it runs under plain `tsx`.
 */
import { readFileSync } from 'node:fs';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { steadyStateProviders } from '#local/runtime/providers/index';
import { LOCAL_CREDENTIALS } from '#local/runtime/types';
import { keyFromSecret, signToken } from '#shared/auth/jwt';
import type { Role } from '#shared/routes';
import {
  type AwsAccess,
  registerReferenceAgentsOn,
  resolveTarget,
  type TargetOptions,
} from '../../test/e2e/target';
import { bootRuntime } from '../../test/integration/runtime/boot';

export interface ChaosTarget {
  readonly booted: boolean;
  /** Every output of the stack, by key. */
  readonly outputs: Readonly<Record<string, string>>;
  readonly aws: AwsAccess;
  url(path: string): string;
  tokenFor(role: Role, sub: string): Promise<string>;
  stop(): Promise<void>;
}

const TOKEN_TTL_SECONDS = 3_600;

function stackOutputs(file: string): Record<string, string> {
  const parsed = JSON.parse(readFileSync(file, 'utf8')) as Record<string, Record<string, string>>;
  const stack = Object.values(parsed).find((outputs) => typeof outputs?.RestApiUrl === 'string');
  if (stack === undefined) throw new Error(`${file} names no stack with a RestApiUrl output`);
  return stack;
}

/**
 * The headers of a JSON request by the operator the benches act as.
 * @example
 * await fetch(target.url('triage'), { method: 'POST', headers: await benchOperatorHeaders(target), body });
 */
export async function benchOperatorHeaders(target: ChaosTarget): Promise<Record<string, string>> {
  const token = await target.tokenFor('operator', 'bench-operator');
  return { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
}

export interface ChaosTargetOptions extends TargetOptions {
  /**
   * Boot the runtime as `npm start` does for a long run (DynamoDB Local with the JVM's full JIT)
   * rather than for a quick test: what the benches measure.
   * @default false
   */
  readonly steadyState?: boolean;
}

/**
 * Resolves the target from the environment; `stop()` it when done. With `referenceAgents`, a
 * runtime booted here gets the reference agents registered, as `npm start` does.
 */
export async function openChaosTarget(
  env: NodeJS.ProcessEnv = process.env,
  options: ChaosTargetOptions = {},
): Promise<ChaosTarget> {
  const file = env.E2E_OUTPUTS;
  if (file) {
    const target = await resolveTarget(env, options);
    return {
      booted: false,
      outputs: stackOutputs(file),
      aws: target.aws,
      url: target.url,
      tokenFor: target.tokenFor,
      stop: target.stop,
    };
  }
  const { runtime } = await bootRuntime(options.steadyState ? { providers: steadyStateProviders() } : {});
  const aws: AwsAccess = {
    endpoint: runtime.endpoint,
    region: runtime.region,
    credentials: LOCAL_CREDENTIALS,
  };
  const secrets = new SecretsManagerClient({ ...aws });
  const base = runtime.outputs.RestApiUrl ?? '';
  let key: Promise<Uint8Array> | undefined;
  const signingKey = (): Promise<Uint8Array> => {
    key ??= secrets
      .send(new GetSecretValueCommand({ SecretId: runtime.outputs.JwtSecretArn }))
      .then(({ SecretString }) => {
        if (!SecretString) throw new Error('the signing secret has no string value');
        return keyFromSecret(SecretString);
      });
    return key;
  };
  const target: ChaosTarget = {
    booted: true,
    outputs: runtime.outputs,
    aws,
    url: (path) => `${base}api/orchestrator/${path}`,
    tokenFor: async (role, sub) =>
      signToken({ sub, role, ttlSeconds: TOKEN_TTL_SECONDS }, await signingKey()),
    stop: async () => {
      secrets.destroy();
      await runtime.stop();
    },
  };
  if (options.referenceAgents) await registerReferenceAgentsOn({ ...target, outputs: { RestApiUrl: base } });
  return target;
}
