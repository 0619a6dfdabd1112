/**
 * The `orchestrator` CLI (contract C6) end to end: the real command (`node cli/bin.mjs`) run as
 * a child process against the target, reading an outputs file written from the target's
 * outputs, with the SDK reaching AWS through the usual environment. Waits are bounded by each
 * child's timeout; nothing asserts on timing.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AgentList, DeadLetterList, DomainEvent, IntakeAccepted, ProgressReport } from '#core/wire';
import { BOOT_TIMEOUT_MS, resolveTarget, type Target } from './target';

const ROOT = join(__dirname, '..', '..');
const BIN = join(ROOT, 'cli', 'bin.mjs');
const SAMPLE = 'events/samples/issue-triage-request.json';
const ROLLBACK_SAMPLE = 'events/samples/issue-triage-request-rollback.json';
/** Longest one CLI run may take; each test's own timeout is above it. */
const RUN_MS = 90_000;

let target: Target;
let dir: string;
let outputsFile: string;
let socketlessOutputsFile: string;
let env: NodeJS.ProcessEnv;

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `orchestrator <args>` against the target's outputs file. */
function cli(args: readonly string[], outputs: string = outputsFile): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [BIN, ...args, '--outputs', outputs],
      { cwd: ROOT, env, timeout: RUN_MS, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

const jsonLines = (text: string): unknown[] =>
  text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line));

async function submitted(file: string): Promise<IntakeAccepted> {
  const run = await cli(['submit', file, '--json']);
  expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: '' });
  return IntakeAccepted.parse(JSON.parse(run.stdout));
}

beforeAll(async () => {
  target = await resolveTarget(process.env, { referenceAgents: true });
  dir = mkdtempSync(join(tmpdir(), 'orchestrator-cli-'));
  outputsFile = join(dir, 'outputs.json');
  socketlessOutputsFile = join(dir, 'outputs-no-websocket.json');
  writeFileSync(outputsFile, JSON.stringify({ MasterOrchestrator: target.outputs }));
  writeFileSync(
    socketlessOutputsFile,
    JSON.stringify({ MasterOrchestrator: { ...target.outputs, WebSocketUrl: undefined } }),
  );
  const { ORCHESTRATOR_TOKEN: _ignored, ...inherited } = process.env;
  // A service-specific endpoint (another project's setup may have set AWS_ENDPOINT_URL_SECRETS_MANAGER)
  // would win over AWS_ENDPOINT_URL and point the CLI at some other emulator.
  const serviceEndpoints = target.booted
    ? Object.keys(inherited).filter((k) => k.startsWith('AWS_ENDPOINT_URL_'))
    : [];
  for (const name of serviceEndpoints) delete inherited[name];
  env = {
    ...inherited,
    NO_COLOR: '1',
    ...(target.booted
      ? {
          AWS_ENDPOINT_URL: target.aws.endpoint,
          AWS_REGION: target.aws.region,
          AWS_ACCESS_KEY_ID: target.aws.credentials?.accessKeyId,
          AWS_SECRET_ACCESS_KEY: target.aws.credentials?.secretAccessKey,
        }
      : {}),
  };
}, BOOT_TIMEOUT_MS);

afterAll(async () => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  await target?.stop();
}, 60_000);

it('signs a token for a role with the key read through Secrets Manager', async () => {
  // Act
  const run = await cli(['token', '--role', 'operator', '--json']);

  // Assess
  expect(run.code).toBe(0);
  const body = JSON.parse(run.stdout) as { token: string; role: string };
  expect(body.role).toBe('operator');
  expect(body.token.split('.')).toHaveLength(3);
  const claims = JSON.parse(Buffer.from(body.token.split('.')[1] ?? '', 'base64url').toString('utf8'));
  expect(claims).toMatchObject({ role: 'operator', sub: 'orchestrator-cli' });
});

let succeededId: string;

it(
  'submits the sample batch and watches it over the stream to workflow.completed SUCCEEDED, exit 0',
  async () => {
    // Prepare
    const accepted = await submitted(SAMPLE);
    succeededId = accepted.workflow_id;

    // Act
    const run = await cli(['watch', accepted.workflow_id, '--json']);

    // Assess
    expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: '' });
    const events = jsonLines(run.stdout).map((line) => DomainEvent.parse(line));
    expect(events.map((event) => event.seq)).toEqual(events.map((_, i) => i + 1));
    expect(events.every((event) => event.workflow_id === accepted.workflow_id)).toBe(true);
    expect(events[0]?.type).toBe('workflow.started');
    expect(events.at(-1)).toMatchObject({ type: 'workflow.completed', status: 'SUCCEEDED' });
  },
  RUN_MS * 2 + 10_000,
);

it(
  'exits 1 when the watched workflow ends ROLLED_BACK',
  async () => {
    // Prepare
    const accepted = await submitted(ROLLBACK_SAMPLE);

    // Act
    const run = await cli(['watch', accepted.workflow_id, '--json']);

    // Assess
    expect(run.code).toBe(1);
    const events = jsonLines(run.stdout).map((line) => DomainEvent.parse(line));
    expect(events.some((event) => event.type === 'rollback.started')).toBe(true);
    expect(events.at(-1)).toMatchObject({ type: 'workflow.completed', status: 'ROLLED_BACK' });
  },
  RUN_MS * 2 + 10_000,
);

it(
  'falls back to polling on a target without a WebSocketUrl, and still ends on the final status',
  async () => {
    // Act
    const run = await cli(['submit', SAMPLE, '--watch', '--json'], socketlessOutputsFile);

    // Assess
    expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: '' });
    const [accepted, ...events] = jsonLines(run.stdout);
    const { workflow_id } = IntakeAccepted.parse(accepted);
    expect(events.length).toBeGreaterThan(0);
    expect(events.at(-1)).toMatchObject({
      type: 'workflow.completed',
      workflow_id,
      status: 'SUCCEEDED',
      synthesized: true,
    });
  },
  RUN_MS + 10_000,
);

it(
  'reads progress, agents and dead letters as JSON documents of the API shapes',
  async () => {
    // Act
    const [status, agents, dlq] = await Promise.all([
      cli(['status', '--json']),
      cli(['agents', '--json']),
      cli(['dlq', 'list', '--json']),
    ]);

    // Assess
    expect([status.code, agents.code, dlq.code]).toEqual([0, 0, 0]);
    expect(ProgressReport.safeParse(JSON.parse(status.stdout)).success).toBe(true);
    const list = AgentList.parse(JSON.parse(agents.stdout));
    expect(list.agents.length).toBeGreaterThan(0);
    expect(list.agents[0]).toHaveProperty('circuit_state');
    const deadLetters = DeadLetterList.parse(JSON.parse(dlq.stdout));
    expect(deadLetters.queues.length).toBeGreaterThan(0);
  },
  RUN_MS + 10_000,
);

it(
  'lists executions and reads one history through the Step Functions API',
  async () => {
    // Act
    const list = await cli(['executions', '--json', '--max', '100']);
    const history = await cli(['executions', 'history', succeededId, '--json']);

    // Assess
    expect(list.code).toBe(0);
    const { executions } = JSON.parse(list.stdout) as { executions: { name: string; status: string }[] };
    expect(executions).toContainEqual(expect.objectContaining({ name: succeededId, status: 'SUCCEEDED' }));
    expect(history.code).toBe(0);
    const { events } = JSON.parse(history.stdout) as { events: { type: string; state?: string }[] };
    expect(events[0]?.type).toBe('ExecutionStarted');
    expect(events.at(-1)?.type).toBe('ExecutionSucceeded');
    expect(events.some((event) => event.type.endsWith('StateEntered') && event.state !== undefined)).toBe(
      true,
    );
  },
  RUN_MS + 10_000,
);

it('fails with a usage error code and one stderr line on a bad command or a missing file', async () => {
  // Act
  const [unknown, missing] = await Promise.all([
    cli(['frobnicate']),
    cli(['submit', 'events/samples/no-such-request.json', '--json']),
  ]);

  // Assess
  expect(unknown).toEqual({
    code: 2,
    stdout: '',
    stderr: expect.stringMatching(/^orchestrator: unknown command 'frobnicate'\n/),
  });
  expect(missing).toEqual({
    code: 2,
    stdout: '',
    stderr: 'orchestrator: cannot read events/samples/no-such-request.json: ENOENT\n',
  });
});
