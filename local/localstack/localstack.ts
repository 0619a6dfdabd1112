/**
 * The LocalStack target (DESIGN §6.2): the four `npm run localstack:*` commands and the pieces
 * they share. Each command checks what it needs first (the auth token, the docker CLI, a
 * LocalStack that answers) and fails with one line naming what is missing. The scripts next to
 * this file (`up.ts`, `deploy.ts`, `e2e.ts`, `down.ts`) only call `runCommand`.
 *
 * cdklocal (npm `aws-cdk-local`, pinned in package.json) drives the project's own `aws-cdk`
 * CLI: it resolves `aws-cdk/package.json` from node_modules and runs that CLI in-process.
 * Only versions 3.0.2 and later understand CLIs whose package exports hide `lib/` (releases
 * after March 2026; 3.0.1 stops with ERR_PACKAGE_PATH_NOT_EXPORTED); 3.0.4 is the pairing
 * tested with aws-cdk 2.1148.1.
 */
import { type SpawnSyncReturns, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

export const PROJECT_DIR = resolve(__dirname, '..', '..');
export const COMPOSE_FILE = 'local/localstack/docker-compose.yml';
export const COMPOSE_PROJECT = 'master-orchestrator-localstack';
/** Where `localstack:deploy` writes the outputs (C2) and `localstack:e2e` reads them; relative to the project. */
export const OUTPUTS_FILE = '.local/localstack-outputs.json';
export const STACK_NAME = 'MasterOrchestrator';
export const EDGE_PORT = 4566;
/** A public DNS name for 127.0.0.1 whose subdomains resolve too (S3 buckets, API ids). */
export const EDGE_HOST = 'localhost.localstack.cloud';
export const DEFAULT_ENDPOINT = `http://${EDGE_HOST}:${EDGE_PORT}`;
export const DEFAULT_S3_ENDPOINT = `http://s3.${EDGE_HOST}:${EDGE_PORT}`;
export const LOCALSTACK_ACCOUNT = '000000000000';
export const DEFAULT_REGION = 'us-east-1';
export const HEALTH_PATH = '/_localstack/health';
const UP_TIMEOUT_MS = 180_000;
const REACHABLE_TIMEOUT_MS = 10_000;
const HEALTH_INTERVAL_MS = 1_000;
const PROBE_TIMEOUT_MS = 5_000;
const DOCKER_CHECK_TIMEOUT_MS = 15_000;
/** The AWS_* variables cdklocal 3 keeps; it deletes every other one before the CDK CLI runs. */
const CDKLOCAL_ALLOWLIST = [
  'AWS_REGION',
  'AWS_DEFAULT_REGION',
  'AWS_ACCESS_KEY_ID',
  'AWS_SECRET_ACCESS_KEY',
  'AWS_S3_FORCE_PATH_STYLE',
];

/** A missing prerequisite or a LocalStack that does not answer: the message says what to do. */
export class LocalStackSetupError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'LocalStackSetupError';
  }
}

export interface Health {
  readonly services: Readonly<Record<string, string>>;
  readonly edition?: string;
  readonly version?: string;
}

export interface WebsocketDecision {
  readonly websocket: boolean;
  readonly reason: string;
}

/** The edge (`LOCALSTACK_ENDPOINT`, default http://localhost.localstack.cloud:4566) and its S3 endpoint. */
export function endpointsFrom(env: NodeJS.ProcessEnv): { endpoint: string; s3: string } {
  const endpoint = (env.LOCALSTACK_ENDPOINT ?? DEFAULT_ENDPOINT).replace(/\/+$/, '');
  const s3 = env.LOCALSTACK_ENDPOINT_S3 ?? (endpoint === DEFAULT_ENDPOINT ? DEFAULT_S3_ENDPOINT : endpoint);
  return { endpoint, s3 };
}

/**
 * The environment cdklocal, the CDK CLI, the SDK and the AWS CLI need to reach LocalStack:
 * both endpoint variables (cdklocal 3 refuses `AWS_ENDPOINT_URL` without `AWS_ENDPOINT_URL_S3`),
 * a region, dummy credentials, and the allow-list that keeps them through cdklocal's clean-up.
 *
 * @example
 * spawn('node_modules/.bin/cdklocal', ['synth'], { env: localStackEnv(process.env) });
 */
export function localStackEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const { endpoint, s3 } = endpointsFrom(env);
  const region = env.LOCALSTACK_REGION ?? DEFAULT_REGION;
  return {
    ...env,
    AWS_ENDPOINT_URL: endpoint,
    AWS_ENDPOINT_URL_S3: s3,
    AWS_REGION: region,
    AWS_DEFAULT_REGION: region,
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
    AWS_ENVAR_ALLOWLIST: CDKLOCAL_ALLOWLIST.join(','),
    // No calls home, and no EC2 metadata probe when the CLI looks up the default account.
    CDK_DISABLE_VERSION_CHECK: 'true',
    CDK_DISABLE_CLI_TELEMETRY: 'true',
    AWS_EC2_METADATA_DISABLED: 'true',
  };
}

/** The token LocalStack needs to start; throws naming where to get one when it is unset. */
export function requireAuthToken(env: NodeJS.ProcessEnv): string {
  const token = env.LOCALSTACK_AUTH_TOKEN?.trim();
  if (!token)
    throw new LocalStackSetupError(
      'LOCALSTACK_AUTH_TOKEN is not set. Every LocalStack image since 2026.03.0 needs one: sign up or in at ' +
        'https://app.localstack.cloud, copy yours from https://app.localstack.cloud/workspace/auth-token, then ' +
        '`export LOCALSTACK_AUTH_TOKEN=...` (local/localstack/README.md).',
    );
  return token;
}

/** Checks that `docker compose` runs (with `env.PATH`); throws naming what to install otherwise. */
export function requireDocker(env: NodeJS.ProcessEnv): void {
  let result: SpawnSyncReturns<string>;
  try {
    result = spawnSync('docker', ['compose', 'version'], {
      env,
      encoding: 'utf8',
      timeout: DOCKER_CHECK_TIMEOUT_MS,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  } catch (error) {
    throw new LocalStackSetupError(`could not run docker: ${(error as Error).message}`, { cause: error });
  }
  if ((result.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT')
    throw new LocalStackSetupError(
      'docker is not installed or not on PATH. Install Docker Engine with the compose plugin ' +
        '(https://docs.docker.com/engine/install/), or Docker Desktop, and start it.',
    );
  if (result.error || result.status !== 0)
    throw new LocalStackSetupError(
      `\`docker compose version\` failed (${result.error?.message ?? `exit ${result.status}`}): ` +
        `is the compose plugin installed and the daemon running? ${(result.stderr ?? '').trim()}`.trim(),
    );
}

/** Reads `LOCALSTACK_WEBSOCKET` (`auto`, the default, `true` or `false`). */
export function websocketSetting(env: NodeJS.ProcessEnv): 'auto' | 'true' | 'false' {
  const value = (env.LOCALSTACK_WEBSOCKET ?? 'auto').trim().toLowerCase();
  if (value === 'auto' || value === 'true' || value === 'false') return value;
  throw new LocalStackSetupError(
    `LOCALSTACK_WEBSOCKET must be auto, true or false, got ${JSON.stringify(env.LOCALSTACK_WEBSOCKET)}`,
  );
}

/**
 * Whether to deploy the WebSocket API (API Gateway v2, not in LocalStack's free plan).
 * `auto` wants both signs: the health endpoint lists `apigatewayv2` as available or running,
 * and `GET /v2/apis` answers 200 (a plan without it answers an error).
 */
export function decideWebsocket(
  setting: 'auto' | 'true' | 'false',
  health: Health,
  v2ProbeStatus: number | undefined,
): WebsocketDecision {
  if (setting === 'true') return { websocket: true, reason: 'LOCALSTACK_WEBSOCKET=true' };
  if (setting === 'false')
    return { websocket: false, reason: 'LOCALSTACK_WEBSOCKET=false, so -c websocket=false' };
  const state = health.services.apigatewayv2;
  if (state !== 'available' && state !== 'running')
    return {
      websocket: false,
      reason: `the health endpoint lists apigatewayv2 as ${state ?? 'absent'}, so -c websocket=false`,
    };
  if (v2ProbeStatus !== 200)
    return {
      websocket: false,
      reason: `GET /v2/apis answered ${v2ProbeStatus ?? 'nothing'} (the plan lacks API Gateway v2?), so -c websocket=false`,
    };
  return { websocket: true, reason: 'the plan serves API Gateway v2' };
}

/** Parses a `/_localstack/health` body; throws on anything without a `services` object. */
export function parseHealth(body: unknown): Health {
  if (typeof body !== 'object' || body === null) throw new Error('health: not a JSON object');
  const { services, edition, version } = body as Record<string, unknown>;
  if (typeof services !== 'object' || services === null) throw new Error('health: no services object');
  return {
    services: Object.fromEntries(Object.entries(services).map(([name, state]) => [name, String(state)])),
    edition: typeof edition === 'string' ? edition : undefined,
    version: typeof version === 'string' ? version : undefined,
  };
}

function describeFailure(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  const code = cause?.code;
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN')
    return (
      `${EDGE_HOST} does not resolve (${code}); see "DNS" in local/localstack/README.md, ` +
      'or set LOCALSTACK_ENDPOINT=http://127.0.0.1:4566'
    );
  return cause?.message ?? (error as Error).message;
}

/**
 * Polls `<endpoint>/_localstack/health` until it answers 200 with a `services` object; bounded
 * by `timeoutMs`, after which it throws with the last failure.
 */
export async function waitForHealth(options: {
  endpoint: string;
  timeoutMs: number;
  intervalMs?: number;
}): Promise<Health> {
  const deadline = Date.now() + options.timeoutMs;
  let last = 'no answer yet';
  for (;;) {
    try {
      const response = await fetch(`${options.endpoint}${HEALTH_PATH}`, {
        signal: AbortSignal.timeout(PROBE_TIMEOUT_MS),
      });
      if (response.ok) return parseHealth(await response.json());
      last = `HTTP ${response.status}`;
    } catch (error) {
      last = describeFailure(error);
    }
    if (Date.now() >= deadline)
      throw new LocalStackSetupError(
        `LocalStack did not answer at ${options.endpoint}${HEALTH_PATH} within ${options.timeoutMs / 1000} s ` +
          `(last: ${last}). Is it up (npm run localstack:up)? Its log: docker logs ${COMPOSE_PROJECT}`,
      );
    await new Promise((done) => setTimeout(done, options.intervalMs ?? HEALTH_INTERVAL_MS));
  }
}

/**
 * `GET /v2/apis` (apigatewayv2 GetApis) with a dummy SigV4 header, which is all LocalStack routes
 * on; the status, or undefined when nothing answered.
 */
export async function probeApiGatewayV2(endpoint: string, region: string): Promise<number | undefined> {
  try {
    const response = await fetch(`${endpoint}/v2/apis`, {
      headers: {
        authorization: `AWS4-HMAC-SHA256 Credential=test/20260101/${region}/apigateway/aws4_request, SignedHeaders=host, Signature=0`,
        'x-amz-date': '20260101T000000Z',
      },
      signal: AbortSignal.timeout(PROBE_TIMEOUT_MS),
    });
    await response.arrayBuffer();
    return response.status;
  } catch {
    return undefined;
  }
}

/** `cdklocal bootstrap` for LocalStack's account: an explicit environment, so the app is not synthesized. */
export function bootstrapArgs(region: string): string[] {
  return ['bootstrap', `aws://${LOCALSTACK_ACCOUNT}/${region}`, '--no-notices'];
}

/** `cdklocal deploy` of the stack; a throwaway target, so everything goes with the container. */
export function deployArgs(websocket: boolean, extra: readonly string[] = []): string[] {
  return [
    'deploy',
    STACK_NAME,
    '--outputs-file',
    OUTPUTS_FILE,
    '--require-approval',
    'never',
    '--no-notices',
    '-c',
    'removalPolicy=destroy',
    ...(websocket ? [] : ['-c', 'websocket=false']),
    ...extra,
  ];
}

/**
 * With the edge reached by another name than localhost.localstack.cloud (LOCALSTACK_ENDPOINT),
 * the `https://<id>.execute-api.localhost.localstack.cloud:4566/<stage>/` URLs LocalStack puts in
 * the outputs would not resolve either: they become LocalStack's no-DNS form,
 * `<endpoint>/_aws/execute-api/<id>/<stage>/`. Other values are kept.
 */
export function rewriteApiUrls(
  outputs: Record<string, Record<string, string>>,
  endpoint: string,
): Record<string, Record<string, string>> {
  if (endpoint === DEFAULT_ENDPOINT) return outputs;
  const pattern = /^https?:\/\/([a-z0-9]+)\.execute-api\.[^/]+\/([^/]+)\/?$/;
  return Object.fromEntries(
    Object.entries(outputs).map(([stack, values]) => [
      stack,
      Object.fromEntries(
        Object.entries(values).map(([key, value]) => {
          const match =
            key === 'RestApiUrl' || key.startsWith('RestApiEndpoint') ? pattern.exec(value) : null;
          return [key, match ? `${endpoint}/_aws/execute-api/${match[1]}/${match[2]}/` : value];
        }),
      ),
    ]),
  );
}

/** The project's own binary in node_modules/.bin; throws when `npm ci` has not run. */
export function projectBin(name: string, projectDir: string = PROJECT_DIR): string {
  const bin = join(projectDir, 'node_modules', '.bin', name);
  if (!existsSync(bin)) throw new LocalStackSetupError(`${bin} is missing: run npm ci`);
  return bin;
}

function composeArgs(...args: string[]): string[] {
  return ['compose', '-f', join(PROJECT_DIR, COMPOSE_FILE), '-p', COMPOSE_PROJECT, ...args];
}

/** Runs a command in the project folder with inherited stdio; resolves with its exit code. */
function run(command: string, args: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  console.log(`localstack: ${[command, ...args].join(' ')}`);
  return new Promise((done, reject) => {
    const child = spawn(command, args, { cwd: PROJECT_DIR, env, stdio: 'inherit' });
    child.once('error', (error) =>
      reject(new LocalStackSetupError(`could not run ${command}: ${error.message}`, { cause: error })),
    );
    child.once('close', (code, signal) => done(code ?? (signal ? 128 : 1)));
  });
}

async function runOrThrow(command: string, args: readonly string[], env: NodeJS.ProcessEnv): Promise<void> {
  const code = await run(command, args, env);
  if (code !== 0) throw new LocalStackSetupError(`${command} ${args[0] ?? ''} failed with exit code ${code}`);
}

function timeoutFrom(env: NodeJS.ProcessEnv): number {
  const seconds = Number(env.LOCALSTACK_UP_TIMEOUT_SECONDS ?? UP_TIMEOUT_MS / 1000);
  if (!Number.isFinite(seconds) || seconds <= 0)
    throw new LocalStackSetupError('LOCALSTACK_UP_TIMEOUT_SECONDS must be a positive number of seconds');
  return seconds * 1000;
}

/** `localstack:up`: compose up -d, then wait for the health endpoint (bounded). */
export async function up(env: NodeJS.ProcessEnv): Promise<void> {
  requireAuthToken(env);
  requireDocker(env);
  const timeoutMs = timeoutFrom(env);
  const { endpoint } = endpointsFrom(env);
  mkdirSync(join(PROJECT_DIR, '.local'), { recursive: true });
  await runOrThrow('docker', composeArgs('up', '-d'), env);
  const health = await waitForHealth({ endpoint, timeoutMs });
  console.log(
    `localstack: up at ${endpoint} (${health.edition ?? 'edition ?'} ${health.version ?? ''}); ` +
      `apigatewayv2 ${health.services.apigatewayv2 ?? 'absent'}. Next: npm run localstack:deploy`,
  );
}

/** `localstack:deploy`: bootstrap, then deploy the stack and write OUTPUTS_FILE. */
export async function deploy(env: NodeJS.ProcessEnv, extra: readonly string[] = []): Promise<void> {
  requireAuthToken(env);
  requireDocker(env);
  const setting = websocketSetting(env);
  const cdklocal = projectBin('cdklocal');
  const { endpoint } = endpointsFrom(env);
  const target = localStackEnv(env);
  const region = target.AWS_REGION ?? DEFAULT_REGION;
  const health = await waitForHealth({ endpoint, timeoutMs: REACHABLE_TIMEOUT_MS });
  const decision = decideWebsocket(
    setting,
    health,
    setting === 'auto' ? await probeApiGatewayV2(endpoint, region) : undefined,
  );
  console.log(`localstack: websocket=${decision.websocket}: ${decision.reason}`);
  mkdirSync(join(PROJECT_DIR, dirname(OUTPUTS_FILE)), { recursive: true });
  await runOrThrow(cdklocal, bootstrapArgs(region), target);
  await runOrThrow(cdklocal, deployArgs(decision.websocket, extra), target);
  const file = join(PROJECT_DIR, OUTPUTS_FILE);
  const outputs = JSON.parse(readFileSync(file, 'utf8')) as Record<string, Record<string, string>>;
  const rewritten = rewriteApiUrls(outputs, endpoint);
  if (rewritten !== outputs) writeFileSync(file, `${JSON.stringify(rewritten, null, 2)}\n`);
  console.log(`localstack: outputs in ${OUTPUTS_FILE}. Next: npm run localstack:e2e`);
}

/** `localstack:e2e`: the e2e Jest project against OUTPUTS_FILE; resolves with Jest's exit code. */
export async function e2e(env: NodeJS.ProcessEnv, extra: readonly string[] = []): Promise<number> {
  requireAuthToken(env);
  requireDocker(env);
  const file = join(PROJECT_DIR, OUTPUTS_FILE);
  if (!existsSync(file))
    throw new LocalStackSetupError(`${OUTPUTS_FILE} is missing: run npm run localstack:deploy first`);
  const { endpoint } = endpointsFrom(env);
  await waitForHealth({ endpoint, timeoutMs: REACHABLE_TIMEOUT_MS });
  const jest = projectBin('jest');
  return run(jest, ['--selectProjects', 'e2e', ...extra], { ...localStackEnv(env), E2E_OUTPUTS: file });
}

/** `localstack:down`: compose down, volumes included. The token is not needed to stop. */
export async function down(env: NodeJS.ProcessEnv): Promise<void> {
  requireDocker(env);
  // Compose interpolates the whole file, and `${LOCALSTACK_AUTH_TOKEN:?}` would stop `down` too.
  const composeEnv = { ...env, LOCALSTACK_AUTH_TOKEN: env.LOCALSTACK_AUTH_TOKEN || 'not-needed-to-stop' };
  await runOrThrow('docker', composeArgs('down', '--volumes', '--remove-orphans'), composeEnv);
}

export type CommandName = 'up' | 'deploy' | 'e2e' | 'down';

/**
 * Runs one command with `args` passed on (deploy: to `cdklocal deploy`; e2e: to Jest) and
 * resolves with the process exit code; a LocalStackSetupError prints its one line and gives 1.
 *
 * @example
 * runCommand('up', process.env).then((code) => process.exit(code));
 */
export async function runCommand(
  name: CommandName,
  env: NodeJS.ProcessEnv,
  args: readonly string[] = [],
): Promise<number> {
  try {
    if (name === 'up') await up(env);
    else if (name === 'deploy') await deploy(env, args);
    else if (name === 'e2e') return await e2e(env, args);
    else await down(env);
    return 0;
  } catch (error) {
    if (!(error instanceof LocalStackSetupError)) throw error;
    console.error(`localstack:${name}: ${error.message}`);
    return 1;
  }
}
