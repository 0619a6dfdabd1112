/**
 * Health, circuit breakers and re-routing over DynamoDB Local: the health sweep
 * (functions/shared/health-sweep.ts), the agent registry's circuit writes, and the workflow
 * engine's dispatch rule (core/health.ts). Step Functions and SQS are SDK clients whose
 * requests stop at a recording middleware, as in engine.test.ts; the e2e and chaos suites
 * run the real ones.
 */
import { randomUUID } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SFNClient } from '@aws-sdk/client-sfn';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { type CircuitBreakerConfig, DEFAULT_CIRCUIT_CONFIG } from '#core/circuit-breaker';
import { optimizeResources } from '#core/triage';
import type { AgentHealthEvent, AgentRegistration, PlanStep, RecoveryWorkflowRequest } from '#core/wire';
import { createSweep } from '#shared/health-sweep';
import { AgentRepository } from '#shared/repository/agents';
import { WorkflowTransitions } from '#shared/repository/workflow-transitions';
import { WorkflowRepository } from '#shared/repository/workflows';
import { createWorkflowEngine, WorkflowOp } from '#shared/workflow-engine';
import { recording, type Sent } from './recording';

const TABLE = process.env.TABLE_NAME as string;
const documents = DynamoDBDocumentClient.from(new DynamoDBClient({}), {
  marshallOptions: { removeUndefinedValues: true },
});
const credentials = { accessKeyId: 'x', secretAccessKey: 'x' };
const START = Date.parse('2026-11-24T10:00:00Z');
const STALE_MS = 90_000;
const CIRCUIT: CircuitBreakerConfig = {
  ...DEFAULT_CIRCUIT_CONFIG,
  failure_threshold: 2,
  cooldown_ms: 30_000,
};

const agents = new AgentRepository(documents, TABLE);
const runs = new WorkflowTransitions(documents, TABLE);
const workflows = new WorkflowRepository(documents, TABLE);
let clock = START;
let sent: Sent[];
let published: AgentHealthEvent[];
let queues: Record<string, string>;

const at = (ms = clock) => new Date(ms).toISOString();
const engine = () =>
  createWorkflowEngine({
    runs,
    agents,
    sfn: recording(new SFNClient({ region: 'us-east-1', credentials }), sent),
    sqs: recording(new SQSClient({ region: 'us-east-1', credentials }), sent),
    agentQueues: queues,
    compensationDlqUrl: 'https://sqs.local/000/compensation',
    events: { publish: async () => undefined },
    circuit: CIRCUIT,
    now: () => new Date(clock),
  });
const sweep = () =>
  createSweep({
    agents,
    runs,
    sfn: recording(new SFNClient({ region: 'us-east-1', credentials }), sent),
    publish: async (events) => void published.push(...events),
    now: () => new Date(clock),
    staleMs: STALE_MS,
    stalledMs: 15 * 60_000,
    circuit: CIRCUIT,
  })();

/** A fresh agent of the category, with its own queue; ids are unique per test. */
async function agent(name: string, extra: Partial<AgentRegistration> = {}): Promise<string> {
  const agent_id = `${name}-${randomUUID().slice(0, 8)}`;
  await agents.register({ agent_id, categories: ['network'], max_concurrency: 4, ...extra }, at());
  queues[agent_id] = `https://sqs.local/000/${agent_id}`;
  return agent_id;
}

async function createWorkflow(
  steps: PlanStep[],
  issues: RecoveryWorkflowRequest['recovery_plan']['issues'] = [],
) {
  const workflow_id = `wf-res-${randomUUID().slice(0, 12)}`;
  const request: RecoveryWorkflowRequest = { recovery_plan: { steps, issues } };
  const snapshots = await agents.listSnapshots(clock, CIRCUIT);
  const allocation = optimizeResources(request.recovery_plan, snapshots, { now_ms: clock });
  await workflows.createPlannedWorkflow({
    workflow_id,
    request,
    allocation,
    created_at: at(),
    caller: 'it',
  });
  await engine()(WorkflowOp.parse({ op: 'plan', workflow_id, execution_arn: `arn:exec:${workflow_id}` }));
  return workflow_id;
}

const planStep = (step_id: string, agent_id: string, extra: Partial<PlanStep> = {}): PlanStep => ({
  step_id,
  issue_id: `${step_id}-issue`,
  agent_id,
  category: 'network',
  action: 'remediate',
  depends_on: [],
  idempotent: false,
  ...extra,
});

const dispatch = (workflow_id: string, step_id: string, task_token: string = randomUUID()) =>
  engine()(WorkflowOp.parse({ op: 'dispatch', action: 'execute', workflow_id, step_id, task_token }));
const failAttempt = (workflow_id: string, step_id: string, error: string) =>
  engine()(
    WorkflowOp.parse({
      op: 'fail',
      action: 'execute',
      workflow_id,
      step_id,
      error: { Error: error, Cause: 'test' },
    }),
  );
const succeed = (workflow_id: string, step_id: string) =>
  engine()(WorkflowOp.parse({ op: 'record', action: 'execute', workflow_id, step_id, output: {} }));
const messagesTo = (agentId: string) =>
  sent.filter((s) => s.command === 'SendMessageCommand' && s.input.QueueUrl === queues[agentId]);
const failures = () =>
  sent
    .filter((s) => s.command === 'SendTaskFailureCommand')
    .map((s) => ({ token: s.input.taskToken, error: s.input.error }));
const circuitOf = async (agentId: string) => (await agents.dispatchView(agentId))?.circuit;

beforeEach(() => {
  clock = START + Math.floor(Math.random() * 1_000) * 1_000_000;
  sent = [];
  published = [];
  queues = {};
});

describe('health sweep', () => {
  it('marks an agent with a stale heartbeat UNHEALTHY, opens its circuit and announces it; silent-by-design agents are left alone', async () => {
    // Prepare
    const stale = await agent('stale');
    const fresh = await agent('fresh');
    const neverBeats = await agent('quiet');
    await agents.heartbeat(stale, { status: 'HEALTHY' }, at(clock));
    await agents.heartbeat(fresh, { status: 'HEALTHY' }, at(clock + STALE_MS - 1_000));
    clock += STALE_MS;

    // Act
    const report = await sweep();

    // Assess
    expect(report.marked_unhealthy).toContain(stale);
    expect(report.marked_unhealthy).not.toContain(fresh);
    expect(report.marked_unhealthy).not.toContain(neverBeats);
    expect(await agents.get(stale)).toMatchObject({ status: 'UNHEALTHY', circuit_state: 'OPEN' });
    expect(await agents.get(fresh)).toMatchObject({ status: 'HEALTHY', circuit_state: 'CLOSED' });
    expect(await agents.get(neverBeats)).toMatchObject({ status: 'HEALTHY', last_heartbeat_at: null });
    expect(published.find((e) => e.agent_id === stale)).toMatchObject({
      type: 'agent.unhealthy',
      status: 'UNHEALTHY',
      circuit_state: 'OPEN',
    });
    const routable = (await agents.listSnapshots(clock, CIRCUIT)).find((a) => a.agent_id === stale);
    expect(routable).toMatchObject({ status: 'UNHEALTHY', circuit_state: 'OPEN' });
  });

  it('loses to a heartbeat that lands between its read and its write', async () => {
    // Prepare
    const racer = await agent('racer');
    await agents.heartbeat(racer, { status: 'HEALTHY' }, at(clock));
    const [read] = (await agents.listWithCircuits()).filter((a) => a.record.agent_id === racer);
    clock += STALE_MS;
    await agents.heartbeat(racer, { status: 'HEALTHY' }, at());

    // Act
    const marked = await agents.markUnhealthy(read?.record as never, read?.circuit, at());

    // Assess
    expect(marked).toBe(false);
    expect(await agents.get(racer)).toMatchObject({ status: 'HEALTHY', circuit_state: 'CLOSED' });
  });

  it('brings a recovered agent back through HALF_OPEN: one probe at a time, closed after two good ones', async () => {
    // Prepare
    const flaky = await agent('flaky');
    await agents.heartbeat(flaky, { status: 'HEALTHY' }, at());
    clock += STALE_MS;
    await sweep();
    const id = await createWorkflow([planStep('p1', flaky), planStep('p2', flaky), planStep('p3', flaky)]);

    // Act
    await agents.heartbeat(flaky, { status: 'HEALTHY' }, at());
    const afterHeartbeat = await agents.get(flaky);
    await dispatch(id, 'p1');
    const second = await dispatch(id, 'p2').catch((error: Error) => error.name);
    await succeed(id, 'p1');
    await dispatch(id, 'p2');
    await succeed(id, 'p2');

    // Assess
    expect(afterHeartbeat).toMatchObject({ status: 'HEALTHY', circuit_state: 'HALF_OPEN' });
    expect(second).toBe('Agent.CircuitOpen');
    expect(messagesTo(flaky)).toHaveLength(2);
    expect(await circuitOf(flaky)).toMatchObject({ state: 'CLOSED', consecutive_failures: 0 });
    expect((await agents.get(flaky)).circuit_state).toBe('CLOSED');
  });
});

describe('circuit breaker', () => {
  it('opens after failure_threshold silent final attempts, refuses a non-idempotent dispatch, and half-opens after the cooldown', async () => {
    // Prepare
    const slow = await agent('slow');
    const id = await createWorkflow([
      planStep('t1', slow),
      planStep('t2', slow),
      planStep('perm', slow),
      planStep('next', slow),
    ]);
    await dispatch(id, 'perm');
    await failAttempt(id, 'perm', 'Agent.Permanent');
    for (const stepId of ['t1', 't2']) {
      await dispatch(id, stepId);
      await failAttempt(id, stepId, 'States.HeartbeatTimeout');
    }
    const before = (await runs.step(id, 'next')).status;
    sent = [];

    // Act
    const refused = await dispatch(id, 'next').catch((error: Error) => error.name);
    const routed = (await agents.listSnapshots(clock, CIRCUIT)).find((a) => a.agent_id === slow);
    clock += CIRCUIT.cooldown_ms;
    const probe = await dispatch(id, 'next');

    // Assess
    expect(refused).toBe('Agent.CircuitOpen');
    expect(before).toBe('PENDING');
    expect(routed?.circuit_state).toBe('OPEN');
    expect(probe).toMatchObject({ dispatched: true, attempt: 1 });
    expect(messagesTo(slow)).toHaveLength(1);
    expect(await circuitOf(slow)).toMatchObject({
      state: 'HALF_OPEN',
      half_open_in_flight: 1,
      consecutive_failures: 2,
    });
  });

  it('counts an attempt that ran out its TimeoutSeconds when the retry dispatches it again', async () => {
    // Prepare
    const lagging = await agent('lagging');
    const id = await createWorkflow([planStep('s', lagging, { timeout: 'PT10S', heartbeat: 'PT5S' })]);
    await dispatch(id, 's');

    // Act: the retry comes after the 10-second timeout.
    clock += 12_000;
    await dispatch(id, 's');

    // Assess
    expect(await circuitOf(lagging)).toMatchObject({ state: 'CLOSED', consecutive_failures: 1 });
    expect((await runs.step(id, 's')).attempts).toBe(2);
  });
});

describe('re-routing', () => {
  it('moves an idempotent step off an agent that is down to a healthy one, with the token and the event', async () => {
    // Prepare
    const down = await agent('down');
    const spare = await agent('spare');
    const id = await createWorkflow([planStep('move', down, { idempotent: true })]);
    await agents.heartbeat(down, { status: 'UNHEALTHY' }, at());

    // Act
    const result = await dispatch(id, 'move', 'token-move');

    // Assess
    expect(result).toMatchObject({ dispatched: true });
    expect(messagesTo(down)).toHaveLength(0);
    expect(messagesTo(spare)).toHaveLength(1);
    const moved = await runs.step(id, 'move');
    expect(moved).toMatchObject({ agent_id: spare, rerouted_from: [down], status: 'DISPATCHED' });
    expect(await runs.tokenOwner('token-move')).toMatchObject({ agent_id: spare, step_id: 'move' });
    expect((await runs.events(id)).at(-1)).toMatchObject({ type: 'step.dispatched', agent_id: spare });
  });

  it('fails a non-idempotent step on an agent that is down with Agent.Unavailable, writing nothing', async () => {
    // Prepare
    const down = await agent('down');
    await agent('spare');
    const id = await createWorkflow([planStep('stay', down)]);
    await agents.heartbeat(down, { status: 'OFFLINE' }, at());
    const events = (await runs.events(id)).length;

    // Act
    const refused = await dispatch(id, 'stay').catch((error: Error) => error);

    // Assess
    expect(refused).toMatchObject({ name: 'Agent.Unavailable' });
    expect(String((refused as Error).message)).toContain('not idempotent');
    expect(await runs.step(id, 'stay')).toMatchObject({ status: 'PENDING', agent_id: down, attempts: 0 });
    expect(await runs.events(id)).toHaveLength(events);
    expect(sent.filter((s) => s.command === 'SendMessageCommand')).toHaveLength(0);
  });

  it('has the sweep hand back in-flight steps of an agent that went down: Agent.Rerouted if idempotent, Agent.Unavailable if not', async () => {
    // Prepare
    const dying = await agent('dying');
    const id = await createWorkflow([
      planStep('idem', dying, { idempotent: true }),
      planStep('once', dying),
      planStep('done', dying),
    ]);
    await agents.heartbeat(dying, { status: 'HEALTHY' }, at());
    await dispatch(id, 'idem', 'token-idem');
    await dispatch(id, 'once', 'token-once');
    await dispatch(id, 'done', 'token-done');
    await succeed(id, 'done');
    sent = [];
    clock += STALE_MS;

    // Act
    const report = await sweep();

    // Assess
    expect(report.marked_unhealthy).toContain(dying);
    expect(failures()).toEqual(
      expect.arrayContaining([
        { token: 'token-idem', error: 'Agent.Rerouted' },
        { token: 'token-once', error: 'Agent.Unavailable' },
      ]),
    );
    expect(failures().map((f) => f.token)).not.toContain('token-done');
    expect(report.released.filter((r) => r.workflow_id === id)).toHaveLength(2);
    expect(published.find((e) => e.agent_id === dying)?.steps_released).toBe(2);
  });
});

describe('wave order', () => {
  it('starts the step whose SLA is near and the one whose agent failed first, and keeps the plan order otherwise', async () => {
    // Prepare
    const steady = await agent('steady');
    const failing = await agent('failing');
    const soon = new Date(clock + 10 * 60_000).toISOString();
    const id = await createWorkflow(
      [planStep('w1', steady), planStep('w2', steady), planStep('w3', failing), planStep('w4', steady)],
      [
        { issue_id: 'w1-issue', title: 'one', severity: 'medium' },
        { issue_id: 'w2-issue', title: 'two', severity: 'medium' },
        { issue_id: 'w3-issue', title: 'three', severity: 'medium' },
        { issue_id: 'w4-issue', title: 'four', severity: 'medium', impact: { sla_deadline: soon } },
      ],
    );
    const wave = ['w1', 'w2', 'w3', 'w4'].map((step_id) => ({
      step_id,
      timeout_seconds: 60,
      heartbeat_seconds: 60,
    }));
    const order = async () =>
      (
        (await engine()(WorkflowOp.parse({ op: 'order', workflow_id: id, steps: wave }))) as {
          steps: { step_id: string }[];
        }
      ).steps.map((s) => s.step_id);

    // Act
    const healthy = await order();
    await agents.heartbeat(failing, { status: 'UNHEALTHY' }, at());
    const afterFailure = await order();

    // Assess
    expect(healthy).toEqual(['w4', 'w1', 'w2', 'w3']);
    expect(afterFailure).toEqual(['w4', 'w3', 'w1', 'w2']);
  });

  it('passes a wave that fits in its concurrency through as it came, reading nothing', async () => {
    // Prepare: a workflow id that does not exist, so any read would fail with NotFound.
    const wave = ['b', 'a', 'c'].map((step_id) => ({ step_id, timeout_seconds: 60, heartbeat_seconds: 60 }));
    const op = (max_concurrency: number) =>
      engine()(WorkflowOp.parse({ op: 'order', workflow_id: 'wf-none', steps: wave, max_concurrency }));

    // Act
    const fits = (await op(3)) as { steps: { step_id: string }[] };
    const overflow = op(2);

    // Assess
    expect(fits.steps.map((s) => s.step_id)).toEqual(['b', 'a', 'c']);
    await expect(overflow).rejects.toThrow(/does not exist/);
  });
});

describe('rollback edges', () => {
  const compensate = (workflow_id: string, step_id: string) =>
    engine()(
      WorkflowOp.parse({
        op: 'dispatch',
        action: 'rollback',
        workflow_id,
        step_id,
        task_token: randomUUID(),
      }),
    );
  const failCompensation = (workflow_id: string, step_id: string, error: string) =>
    engine()(
      WorkflowOp.parse({
        op: 'fail',
        action: 'rollback',
        workflow_id,
        step_id,
        error: { Error: error, Cause: 'test' },
      }),
    );
  const startRollback = (workflow_id: string) =>
    engine()(
      WorkflowOp.parse({
        op: 'plan_rollback',
        workflow_id,
        state: {},
        execution_input: { workflow_id, mode: 'rollback', reason: 'test' },
      }),
    );

  it('sends no further compensation once one has failed for good, and reports only the one that failed', async () => {
    // Prepare
    const owner = await agent('owner');
    const id = await createWorkflow([planStep('x', owner), planStep('y', owner)]);
    for (const stepId of ['x', 'y']) {
      await dispatch(id, stepId);
      await succeed(id, stepId);
    }
    await startRollback(id);
    await compensate(id, 'y');
    await failCompensation(id, 'y', 'Agent.Permanent');
    sent = [];

    // Act: a runtime that starts the next Map iteration anyway.
    const refused = await compensate(id, 'x').catch((error: Error) => error);
    const recorded = await failCompensation(id, 'x', 'Dispatch.Refused');

    // Assess
    expect(refused).toMatchObject({ name: 'Dispatch.Refused' });
    expect(recorded).toEqual({ status: 'SUCCEEDED' });
    expect(sent).toEqual([]);
    expect((await runs.step(id, 'y')).status).toBe('COMPENSATION_FAILED');
  });

  it('sends a compensation to the queue the change went to when the agent has left the catalog', async () => {
    // Prepare
    const leaving = await agent('leaving');
    const id = await createWorkflow([planStep('z', leaving)]);
    await dispatch(id, 'z');
    await succeed(id, 'z');
    const queue = queues[leaving];
    await agents.deregister(leaving);
    delete queues[leaving];
    await startRollback(id);
    sent = [];

    // Act
    await compensate(id, 'z');

    // Assess
    const [message] = sent.filter((s) => s.command === 'SendMessageCommand');
    expect(message?.input.QueueUrl).toBe(queue);
    expect((await runs.step(id, 'z')).status).toBe('COMPENSATING');
  });

  it('marks a compensation that could not be sent COMPENSATION_FAILED and reports it for a person', async () => {
    // Prepare
    const gone = await agent('gone');
    const id = await createWorkflow([planStep('q', gone)]);
    await dispatch(id, 'q');
    await succeed(id, 'q');
    await startRollback(id);
    sent = [];

    // Act
    const recorded = await failCompensation(id, 'q', 'Dispatch.NoQueue');

    // Assess
    expect(recorded).toEqual({ status: 'COMPENSATION_FAILED' });
    expect(sent.filter((s) => s.input.QueueUrl === 'https://sqs.local/000/compensation')).toHaveLength(1);
  });
});
