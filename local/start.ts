/**
 * `npm start`: the orchestrator offline, in the foreground (contracts C1 and C2).
 *
 * 1. Checks Node >= 20 and Java 17+ (DynamoDB Local needs it).
 * 2. Synthesizes the stack into cdk.out, skipped when the inputs are unchanged.
 * 3. Boots the offline runtime on 127.0.0.1:$PORT (default 4566) and deploys the template.
 * 4. Writes .local/outputs.json (the `cdk deploy --outputs-file` shape) and
 *    .local/admin-token (mode 0600).
 * 5. Registers the reference agents (C8) through the REST API (a failure is reported,
 *    not fatal), then prints the URLs, the token and examples.
 * 6. Ctrl-C or SIGTERM stops everything and exits 0; a second Ctrl-C forces the exit.
 *
 * Extra `-c key=value` arguments go to the synth (`npm start -- -c websocket=false`).
 */
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { keyFromSecret, signToken } from '#shared/auth/jwt';
import { findJava, JavaMissingError } from './java';
import { describeRegistration, registerReferenceAgents } from './reference-agents';
import { DEFAULT_PORT, HEALTH_PATH } from './runtime/edge';
import { steadyStateProviders } from './runtime/providers/index';
import { type Runtime, startRuntime } from './runtime/runtime';
import { synthesize } from './runtime/synth';
import { LOCAL_CREDENTIALS } from './runtime/types';

const PROJECT_DIR = resolve(__dirname, '..');
const STATE_DIR = join(PROJECT_DIR, '.local');
const MINIMUM_NODE_MAJOR = 20;
/** Long enough for a working day; `orchestrator token` mints others. */
const ADMIN_TOKEN_TTL_SECONDS = 24 * 60 * 60;
/** Signals closer together than this are one Ctrl-C delivered twice, not a second press. */
const DUPLICATE_SIGNAL_MS = 1_000;
/** JSON objects of queue URLs (C2), left out of the banner. */
const AGENT_URL_OUTPUTS = new Set(['AgentQueueUrls', 'AgentDlqUrls']);

function fail(message: string): never {
  console.error(`npm start: ${message}`);
  process.exit(1);
}

function portFromEnvironment(): number {
  const raw = process.env.PORT;
  if (raw === undefined || raw === '') return DEFAULT_PORT;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) fail(`PORT must be a port number, got "${raw}"`);
  return port;
}

function contextFromArgs(): Record<string, string> {
  const { values } = parseArgs({ options: { context: { type: 'string', short: 'c', multiple: true } } });
  const context: Record<string, string> = {};
  for (const pair of values.context ?? []) {
    const equals = pair.indexOf('=');
    if (equals < 1) fail(`-c expects key=value, got "${pair}"`);
    context[pair.slice(0, equals)] = pair.slice(equals + 1);
  }
  return context;
}

async function mintAdminToken(runtime: Runtime): Promise<string> {
  const secretArn = runtime.outputs.JwtSecretArn;
  if (!secretArn) throw new Error('the stack has no JwtSecretArn output');
  const client = new SecretsManagerClient({
    endpoint: runtime.endpoint,
    region: runtime.region,
    credentials: LOCAL_CREDENTIALS,
  });
  try {
    const { SecretString } = await client.send(new GetSecretValueCommand({ SecretId: secretArn }));
    if (!SecretString) throw new Error(`secret ${secretArn} has no string value`);
    return await signToken(
      { sub: 'local-admin', role: 'admin', ttlSeconds: ADMIN_TOKEN_TTL_SECONDS },
      keyFromSecret(SecretString),
    );
  } finally {
    client.destroy();
  }
}

function banner(
  runtime: Runtime,
  token: string,
  times: { synth: string; bootMs: number; totalMs: number },
  agents: string,
): string {
  const { endpoint, outputs, stackName } = runtime;
  // Without an API Gateway provider the URL still points at AWS: no use printing it as local.
  const restApiUrl = outputs.RestApiUrl?.startsWith(endpoint) ? outputs.RestApiUrl : undefined;
  const lines = [
    '',
    `Master Orchestrator is running offline (stack ${stackName}, region ${runtime.region})`,
    '',
    `  edge         ${endpoint}   (every AWS service: AWS_ENDPOINT_URL=${endpoint})`,
    `  health       ${endpoint}${HEALTH_PATH}`,
    ...(restApiUrl ? [`  REST API     ${restApiUrl}`] : []),
    ...Object.entries(outputs)
      .filter(([key]) => !(restApiUrl && (key === 'RestApiUrl' || /^RestApiEndpoint/.test(key))))
      // One URL per category: readable in outputs.json, too long for the banner.
      .filter(([key]) => !AGENT_URL_OUTPUTS.has(key))
      .map(([key, value]) => `  ${key.padEnd(12)} ${value}`),
    `  agents       ${agents}`,
    `  outputs      ${join(STATE_DIR, 'outputs.json')}`,
    `  admin token  ${join(STATE_DIR, 'admin-token')} (valid ${ADMIN_TOKEN_TTL_SECONDS / 3600} h):`,
    '',
    token,
    '',
    'Try:',
    ...(restApiUrl
      ? [
          `  curl -s ${restApiUrl}api/orchestrator/health`,
          `  curl -s -H "Authorization: Bearer $(cat .local/admin-token)" ${restApiUrl}api/orchestrator/agents`,
          `  curl -s -X POST -H "Authorization: Bearer $(cat .local/admin-token)" -H "Idempotency-Key: $(date +%s%N)" -H 'Content-Type: application/json' --data @events/samples/issue-triage-request.json ${restApiUrl}api/orchestrator/issues`,
          `  curl -s -H "Authorization: Bearer $(cat .local/admin-token)" ${restApiUrl}api/orchestrator/workflows/<workflow_id>`,
        ]
      : []),
    `  AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test aws --endpoint-url ${endpoint} --region ${runtime.region} stepfunctions list-executions --state-machine-arn ${runtime.outputs.RecoveryStateMachineArn ?? '<RecoveryStateMachineArn>'}`,
    `  AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test aws --endpoint-url ${endpoint} --region ${runtime.region} dynamodb list-tables`,
    '',
    `Boot: synth ${times.synth}, runtime ${times.bootMs} ms, total ${times.totalMs} ms. Ctrl-C stops everything.`,
    '',
  ];
  return lines.join('\n');
}

async function main(): Promise<void> {
  const nodeMajor = Number(process.versions.node.split('.')[0]);
  if (nodeMajor < MINIMUM_NODE_MAJOR)
    fail(`Node ${MINIMUM_NODE_MAJOR} or newer is required; this is ${process.version}`);
  try {
    findJava();
  } catch (error) {
    if (error instanceof JavaMissingError) fail(error.message);
    throw error;
  }
  const port = portFromEnvironment();
  const context = contextFromArgs();
  const log = (message: string): void => console.log(`[local] ${message}`);

  // Signals are handled from here on: a Ctrl-C during synth kills the CDK CLI, one during
  // boot waits for the boot and then stops everything it started.
  const aborter = new AbortController();
  let synthesizing: Promise<unknown> | undefined;
  let booting: Promise<Runtime> | undefined;
  let firstSignalAt = 0;
  const shutdown = (signal: NodeJS.Signals): void => {
    if (shuttingDown) {
      // One Ctrl-C reaches this process several times: from the terminal (the whole
      // process group), and relayed by npm and tsx. Only a later press forces the exit.
      if (Date.now() - firstSignalAt < DUPLICATE_SIGNAL_MS) return;
      console.error(`\n${signal} again: exiting now`);
      process.exit(130);
    }
    shuttingDown = true;
    firstSignalAt = Date.now();
    console.log(`\n${signal}: stopping the offline runtime...`);
    aborter.abort();
    // An aborted synth settles first, so it releases its lock file.
    const ignoreFailure = (): undefined => undefined;
    const stopped = booting
      ? booting.then((runtime) => runtime.stop(), ignoreFailure)
      : (synthesizing ?? Promise.resolve()).then(ignoreFailure, ignoreFailure);
    stopped.then(
      () => process.exit(0),
      (error: unknown) => {
        console.error(`npm start: stop failed: ${(error as Error).message}`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', shutdown);
  process.on('SIGTERM', shutdown);

  const synthesis = synthesize({ projectDir: PROJECT_DIR, context, log, signal: aborter.signal });
  synthesizing = synthesis;
  const synth = await synthesis;
  log(`synth ${synth.cached ? 'cached (inputs unchanged)' : 'done'} in ${synth.durationMs} ms`);
  if (shuttingDown) return;

  // The orchestrator runs for as long as the user keeps it: DynamoDB Local gets the JVM's full JIT.
  booting = startRuntime({ port, assemblyDir: synth.assemblyDir, log, providers: steadyStateProviders() });
  const runtime = await booting;
  if (shuttingDown) return;

  mkdirSync(STATE_DIR, { recursive: true });
  const outputsFile = join(STATE_DIR, 'outputs.json');
  writeFileSync(outputsFile, `${JSON.stringify({ [runtime.stackName]: runtime.outputs }, null, 2)}\n`);
  const token = await mintAdminToken(runtime);
  const tokenFile = join(STATE_DIR, 'admin-token');
  writeFileSync(tokenFile, `${token}\n`, { mode: 0o600 });
  // writeFileSync keeps the mode of a file that already exists.
  chmodSync(tokenFile, 0o600);

  const restApiUrl = runtime.outputs.RestApiUrl;
  let agents: string;
  if (restApiUrl?.startsWith(runtime.endpoint)) {
    const registration = await registerReferenceAgents(restApiUrl, token);
    agents = describeRegistration(
      registration,
      registration.registered.length + registration.failures.length,
    );
  } else {
    agents = 'reference agents not registered: the REST API is not served locally';
  }
  log(agents);
  if (shuttingDown) return;

  // performance.now() counts from the process start, so module loading is included.
  const totalMs = Math.round(performance.now());
  const synthTime = synth.cached ? `cached (${synth.durationMs} ms, warm)` : `${synth.durationMs} ms (cold)`;
  console.log(banner(runtime, token, { synth: synthTime, bootMs: runtime.bootMs, totalMs }, agents));
}

/** Set by the first SIGINT or SIGTERM; from then on the shutdown path owns the exit. */
let shuttingDown = false;

main().catch((error: unknown) => {
  if (shuttingDown) return;
  console.error(`npm start: ${(error as Error).message}`);
  process.exit(1);
});
