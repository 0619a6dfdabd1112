/**
 * The recovery state machine's Tasks (functions/shared/workflow-engine.ts) over DynamoDB
 * Local: each op as the state machine calls it, its conditional writes, its events and their
 * seq, and what a replayed Task does. Step Functions and SQS are SDK clients whose requests
 * stop at a recording middleware: the e2e suite runs the real ones, this suite pins the
 * writes and the races.
 */
import { randomUUID } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SFNClient } from '@aws-sdk/client-sfn';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { optimizeResources } from '#core/triage';
import {
  AgentTaskMessage,
  type DomainEvent,
  ManualInterventionMessage,
  type PlanStep,
  type RecoveryWorkflowRequest,
} from '#core/wire';
import { AgentRepository } from '#shared/repository/agents';
import { WorkflowTransitions } from '#shared/repository/workflow-transitions';
import { WorkflowRepository } from '#shared/repository/workflows';
import { createWorkflowEngine, WorkflowOp, WorkflowStateError } from '#shared/workflow-engine';
import { recording, type Sent } from './recording';

const TABLE = process.env.TABLE_NAME as string;
const documents = DynamoDBDocumentClient.from(new DynamoDBClient({}), {
  marshallOptions: { removeUndefinedValues: true },
});
const NOW = new Date('2026-11-24T10:00:00Z');
const AGENTS = [
  { agent_id: 'net-1', categories: ['network' as const], max_concurrency: 4 },
  { agent_id: 'cap-1', categories: ['capacity' as const], max_concurrency: 4, agent_type: 'capacity-agents' },
];
const QUEUES = { 'net-1': 'https://sqs.local/000/net', 'capacity-agents': 'https://sqs.local/000/cap' };
const COMPENSATION_DLQ = 'https://sqs.local/000/compensation';

const credentials = { accessKeyId: 'x', secretAccessKey: 'x' };
let sent: Sent[];
let published: DomainEvent[];
let engine: ReturnType<typeof createWorkflowEngine>;
const runs = new WorkflowTransitions(documents, TABLE);
const workflows = new WorkflowRepository(documents, TABLE);

beforeEach(() => {
  sent = [];
  published = [];
  engine = createWorkflowEngine({
    runs,
    agents: new AgentRepository(documents, TABLE),
    sfn: recording(new SFNClient({ region: 'us-east-1', credentials }), sent),
    sqs: recording(new SQSClient({ region: 'us-east-1', credentials }), sent),
    agentQueues: QUEUES,
    compensationDlqUrl: COMPENSATION_DLQ,
    events: { publish: async (events) => void published.push(...events) },
    now: () => NOW,
  });
});

beforeAll(async () => {
  const agents = new AgentRepository(documents, TABLE);
  for (const agent of AGENTS) await agents.register(agent, NOW.toISOString()).catch(() => undefined);
});

const step = (step_id: string, extra: Partial<PlanStep> = {}): PlanStep => ({
  step_id,
  issue_id: `${step_id}-issue`,
  category: 'network',
  action: 'remediate',
  depends_on: [],
  idempotent: false,
  ...extra,
});

async function createWorkflow(steps: PlanStep[]): Promise<string> {
  const workflow_id = `wf-it-${randomUUID().slice(0, 12)}`;
  const request: RecoveryWorkflowRequest = {
    recovery_plan: {
      steps,
      issues: [{ issue_id: 'a-issue', title: 'DNS failing', severity: 'high', parameters: { zone: 'a' } }],
    },
  };
  const allocation = optimizeResources(request.recovery_plan, AGENTS, { now_ms: NOW.getTime() });
  await workflows.createPlannedWorkflow({
    workflow_id,
    request,
    allocation,
    created_at: NOW.toISOString(),
    caller: 'it',
  });
  return workflow_id;
}

const op = (value: unknown) => engine(WorkflowOp.parse(value));
const dispatch = (
  workflow_id: string,
  step_id: string,
  action = 'execute',
  task_token: string = randomUUID(),
) => op({ op: 'dispatch', action, workflow_id, step_id, task_token });
const messages = () =>
  sent
    .filter((s) => s.command === 'SendMessageCommand')
    .map((s) => ({ url: s.input.QueueUrl, body: JSON.parse(String(s.input.MessageBody)) }));

describe('workflow engine', () => {
  it('plans, dispatches to the right queue with the issue, records, and finishes with contiguous events', async () => {
    // Prepare
    const id = await createWorkflow([
      step('a'),
      step('b', { depends_on: ['a'], category: 'capacity', parameters: { size: 3 } }),
    ]);

    // Act
    const planned = await op({ op: 'plan', workflow_id: id, execution_arn: `arn:exec:${id}` });
    await dispatch(id, 'a', 'execute', 'token-a');
    await op({ op: 'record', action: 'execute', workflow_id: id, step_id: 'a', output: { ok: 1 } });
    await dispatch(id, 'b');
    await op({ op: 'record', action: 'execute', workflow_id: id, step_id: 'b', output: {} });
    const finished = await op({
      op: 'finish',
      outcome: 'succeeded',
      workflow_id: id,
      execution_input: { workflow_id: id },
    });

    // Assess
    expect(planned).toEqual({
      segments: [
        {
          wave: 0,
          max_concurrency: 1,
          steps: [
            {
              step_id: 'a',
              agent_id: 'net-1',
              issue_id: 'a-issue',
              timeout_seconds: expect.any(Number),
              heartbeat_seconds: 60,
            },
          ],
        },
        {
          wave: 1,
          max_concurrency: 1,
          steps: [
            {
              step_id: 'b',
              agent_id: 'cap-1',
              issue_id: 'b-issue',
              timeout_seconds: expect.any(Number),
              heartbeat_seconds: 60,
            },
          ],
        },
      ],
    });
    expect(finished).toEqual({ status: 'SUCCEEDED' });
    const [first, second] = messages();
    expect(first?.url).toBe(QUEUES['net-1']);
    expect(second?.url).toBe(QUEUES['capacity-agents']);
    const task = AgentTaskMessage.parse(first?.body);
    expect(task).toMatchObject({
      task_token: 'token-a',
      action: 'execute',
      attempt: 1,
      heartbeat_seconds: 60,
    });
    expect(task.issue).toMatchObject({
      issue_id: 'a-issue',
      title: 'DNS failing',
      parameters: { zone: 'a' },
    });
    expect(AgentTaskMessage.parse(second?.body).issue.parameters).toEqual({ size: 3 });
    const events = await runs.events(id);
    expect(events.map((e) => [e.seq, e.type])).toEqual([
      [1, 'workflow.started'],
      [2, 'step.dispatched'],
      [3, 'step.succeeded'],
      [4, 'step.dispatched'],
      [5, 'step.succeeded'],
      [6, 'workflow.completed'],
    ]);
    expect(events.at(-1)).toMatchObject({ status: 'SUCCEEDED', completion_percentage: 100 });
    // ETA by throughput: known once a step has succeeded (no time has passed on this clock), gone when all have.
    expect(events.map((e) => e.eta_completion)).toEqual([
      null,
      null,
      NOW.toISOString(),
      NOW.toISOString(),
      null,
      null,
    ]);
    expect(published).toEqual(events);
    const { meta, steps } = await runs.load(id);
    expect(meta.executions).toEqual([`arn:exec:${id}`]);
    expect(steps.map((s) => [s.step_id, s.status, s.attempts])).toEqual([
      ['a', 'SUCCEEDED', 1],
      ['b', 'SUCCEEDED', 1],
    ]);
    expect(await runs.tokenOwner('token-a')).toEqual({
      workflow_id: id,
      step_id: 'a',
      agent_id: 'net-1',
      action: 'execute',
    });
  });

  it('decides on the step as stored when the agent and issue the state machine names are stale', async () => {
    // Prepare: the hints name another agent and another issue than step a's own.
    const id = await createWorkflow([step('a'), step('b', { category: 'capacity' })]);
    await op({ op: 'plan', workflow_id: id, execution_arn: 'arn:x' });

    // Act
    await op({
      op: 'dispatch',
      action: 'execute',
      workflow_id: id,
      step_id: 'a',
      agent_id: 'cap-1',
      issue_id: 'b-issue',
      task_token: 'token-stale',
    });

    // Assess
    const [message] = messages();
    expect(message?.url).toBe(QUEUES['net-1']);
    const task = AgentTaskMessage.parse(message?.body);
    expect(task.issue).toMatchObject({ issue_id: 'a-issue', title: 'DNS failing' });
    expect(await runs.tokenOwner('token-stale')).toMatchObject({ step_id: 'a', agent_id: 'net-1' });
  });

  it('sends the same message whether or not the state machine names the agent and issue', async () => {
    // Prepare: two workflows of the same plan.
    const plain = await createWorkflow([step('a')]);
    const hinted = await createWorkflow([step('a')]);
    for (const id of [plain, hinted]) await op({ op: 'plan', workflow_id: id, execution_arn: `arn:${id}` });

    // Act
    await dispatch(plain, 'a', 'execute', 'token-plain');
    await op({
      op: 'dispatch',
      action: 'execute',
      workflow_id: hinted,
      step_id: 'a',
      agent_id: 'net-1',
      issue_id: 'a-issue',
      task_token: 'token-hinted',
    });

    // Assess
    const [first, second] = messages().map(({ url, body }) => {
      const { workflow_id, task_token, deadline, ...task } = AgentTaskMessage.parse(body);
      return { url, task };
    });
    expect(first?.task.issue).toMatchObject({ issue_id: 'a-issue', title: 'DNS failing' });
    expect(second).toEqual(first);
  });

  it('writes nothing for a replayed Record, and counts each re-dispatch as a new attempt', async () => {
    // Prepare
    const id = await createWorkflow([step('a')]);
    await op({ op: 'plan', workflow_id: id, execution_arn: 'arn:x' });
    await dispatch(id, 'a');
    await dispatch(id, 'a');
    await op({ op: 'record', action: 'execute', workflow_id: id, step_id: 'a', output: { n: 1 } });

    // Act
    const replay = await op({
      op: 'record',
      action: 'execute',
      workflow_id: id,
      step_id: 'a',
      output: { n: 2 },
    });

    // Assess
    expect(replay).toEqual({ status: 'SUCCEEDED' });
    const events = await runs.events(id);
    expect(events.map((e) => e.type)).toEqual([
      'workflow.started',
      'step.dispatched',
      'step.retrying',
      'step.succeeded',
    ]);
    expect(events[2]).toMatchObject({ attempt: 2 });
    expect((await runs.step(id, 'a')).output).toEqual({ n: 1 });
    expect(published.map((e) => e.seq)).toEqual([1, 2, 3, 4]);
    expect(messages().map((m) => m.body.attempt)).toEqual([1, 2]);
  });

  it('answers a dispatch of a step that already succeeded at once, from its stored output (the checkpoint)', async () => {
    // Prepare
    const id = await createWorkflow([step('a'), step('b', { depends_on: ['a'] })]);
    await op({ op: 'plan', workflow_id: id, execution_arn: 'arn:x' });
    await dispatch(id, 'a');
    await op({ op: 'record', action: 'execute', workflow_id: id, step_id: 'a', output: { done: true } });
    sent.length = 0;

    // Act
    const replanned = await op({ op: 'plan', workflow_id: id, execution_arn: 'arn:redrive' });
    const again = await dispatch(id, 'a', 'execute', 'token-again');

    // Assess
    expect(replanned).toMatchObject({ segments: [{ wave: 1, steps: [{ step_id: 'b' }] }] });
    expect(again).toEqual({ dispatched: false, attempt: 1 });
    expect(sent).toEqual([
      { command: 'SendTaskSuccessCommand', input: { taskToken: 'token-again', output: '{"done":true}' } },
    ]);
  });

  it('refuses to dispatch once the workflow has started rolling back', async () => {
    // Prepare
    const id = await createWorkflow([step('a'), step('b')]);
    await op({ op: 'plan', workflow_id: id, execution_arn: 'arn:x' });
    await dispatch(id, 'a');
    await op({
      op: 'plan_rollback',
      workflow_id: id,
      state: { failure: { Error: 'Agent.Permanent', Cause: 'boom' } },
      execution_input: { workflow_id: id },
    });

    // Act
    const late = dispatch(id, 'b');

    // Assess
    await expect(late).rejects.toMatchObject({ name: 'Dispatch.Refused' });
    expect((await runs.step(id, 'b')).status).toBe('PENDING');
    expect(messages()).toHaveLength(1);
  });

  it('fails a step, plans the rollback latest change first, compensates, and ends ROLLED_BACK', async () => {
    // Prepare: a, then b, succeed; c fails.
    const id = await createWorkflow([
      step('a'),
      step('b', { depends_on: ['a'] }),
      step('c', { depends_on: ['b'] }),
    ]);
    await op({ op: 'plan', workflow_id: id, execution_arn: 'arn:x' });
    for (const s of ['a', 'b']) {
      await dispatch(id, s);
      await op({ op: 'record', action: 'execute', workflow_id: id, step_id: s, output: {} });
    }
    await dispatch(id, 'c');
    await op({
      op: 'fail',
      action: 'execute',
      workflow_id: id,
      step_id: 'c',
      error: { Error: 'States.Timeout', Cause: '' },
    });

    // Act
    const planned = await op({
      op: 'plan_rollback',
      workflow_id: id,
      state: { failure: { Error: 'States.Timeout', Cause: 'no answer' } },
      execution_input: { workflow_id: id },
    });
    for (const s of ['c', 'b', 'a']) {
      await dispatch(id, s, 'rollback');
      await op({ op: 'record', action: 'rollback', workflow_id: id, step_id: s, output: {} });
    }
    const finished = await op({
      op: 'finish',
      outcome: 'rolled_back',
      workflow_id: id,
      execution_input: { workflow_id: id },
    });

    // Assess
    expect(planned).toMatchObject({ compensations: [{ step_id: 'c' }, { step_id: 'b' }, { step_id: 'a' }] });
    expect(finished).toEqual({ status: 'ROLLED_BACK' });
    const { steps, meta } = await runs.load(id);
    expect(steps.map((s) => s.status)).toEqual(['COMPENSATED', 'COMPENSATED', 'COMPENSATED']);
    expect(steps.find((s) => s.step_id === 'c')?.error).toEqual({ code: 'States.Timeout', message: '' });
    expect(meta.rollback).toMatchObject({ reason: 'States.Timeout: no answer', failure_point: null });
    const types = (await runs.events(id)).map((e) => e.type);
    expect(types.slice(-8)).toEqual([
      'rollback.started',
      'step.compensating',
      'step.compensated',
      'step.compensating',
      'step.compensated',
      'step.compensating',
      'step.compensated',
      'workflow.completed',
    ]);
    expect(
      messages()
        .filter((m) => m.body.action === 'rollback')
        .map((m) => m.body.step_id),
    ).toEqual(['c', 'b', 'a']);
  });

  it('marks a compensation that cannot succeed and sends a ManualInterventionMessage', async () => {
    // Prepare
    const id = await createWorkflow([step('a'), step('b', { depends_on: ['a'] })]);
    await op({ op: 'plan', workflow_id: id, execution_arn: 'arn:x' });
    for (const s of ['a', 'b']) {
      await dispatch(id, s);
      await op({ op: 'record', action: 'execute', workflow_id: id, step_id: s, output: {} });
    }
    await op({
      op: 'plan_rollback',
      workflow_id: id,
      state: {},
      execution_input: { workflow_id: id, mode: 'rollback', reason: 'operator' },
    });
    await dispatch(id, 'b', 'rollback');

    // Act
    await op({
      op: 'fail',
      action: 'rollback',
      workflow_id: id,
      step_id: 'b',
      error: { Error: 'Agent.Permanent', Cause: 'stuck' },
    });
    const finished = await op({
      op: 'finish',
      outcome: 'rollback_failed',
      workflow_id: id,
      execution_input: { workflow_id: id, mode: 'rollback', reason: 'operator' },
    });

    // Assess
    expect(finished).toEqual({ status: 'ROLLBACK_FAILED' });
    expect((await runs.step(id, 'b')).status).toBe('COMPENSATION_FAILED');
    const manual = sent.find((s) => s.input.QueueUrl === COMPENSATION_DLQ);
    expect(ManualInterventionMessage.parse(JSON.parse(String(manual?.input.MessageBody)))).toMatchObject({
      workflow_id: id,
      step_id: 'b',
      error: 'Agent.Permanent',
      cause: 'stuck',
      not_compensated: ['a'],
    });
  });

  it('rolls back only to the failure point, and ends CANCELLED for a cancel', async () => {
    // Prepare
    const id = await createWorkflow([
      step('a'),
      step('b', { depends_on: ['a'] }),
      step('c', { depends_on: ['b'] }),
    ]);
    await op({ op: 'plan', workflow_id: id, execution_arn: 'arn:x' });
    for (const s of ['a', 'b', 'c']) {
      await dispatch(id, s);
      await op({ op: 'record', action: 'execute', workflow_id: id, step_id: s, output: {} });
    }
    const input = { workflow_id: id, mode: 'cancel', reason: 'stop', failure_point: 'b' };

    // Act
    const planned = await op({ op: 'plan_rollback', workflow_id: id, state: {}, execution_input: input });
    const finished = await op({
      op: 'finish',
      outcome: 'rolled_back',
      workflow_id: id,
      execution_input: input,
    });

    // Assess
    expect(planned).toMatchObject({ compensations: [{ step_id: 'c' }, { step_id: 'b' }] });
    expect(finished).toEqual({ status: 'CANCELLED' });
  });

  it('keeps seq contiguous when many steps of one workflow record at once', async () => {
    // Prepare
    const ids = Array.from({ length: 12 }, (_, i) => `p${i}`);
    const id = await createWorkflow(ids.map((s) => step(s)));
    await op({ op: 'plan', workflow_id: id, execution_arn: 'arn:x' });
    await Promise.all(ids.map((s) => dispatch(id, s)));

    // Act
    await Promise.all(
      ids.map((s) => op({ op: 'record', action: 'execute', workflow_id: id, step_id: s, output: {} })),
    );

    // Assess
    const events: DomainEvent[] = await runs.events(id);
    expect(events.map((e) => e.seq)).toEqual(Array.from({ length: 25 }, (_, i) => i + 1));
    expect(events.filter((e) => e.type === 'step.succeeded')).toHaveLength(12);
    expect(events.at(-1)?.completion_percentage).toBe(100);
    const { meta } = await runs.load(id);
    expect(meta.steps_succeeded).toBe(12);
  }, 60_000);

  it('fails a dispatch to an agent with no queue with Dispatch.NoQueue, which the state machine does not retry', async () => {
    // Prepare
    const id = await createWorkflow([step('a')]);
    await op({ op: 'plan', workflow_id: id, execution_arn: 'arn:x' });
    engine = createWorkflowEngine({
      runs,
      agents: new AgentRepository(documents, TABLE),
      sfn: recording(new SFNClient({ region: 'us-east-1', credentials }), sent),
      sqs: recording(new SQSClient({ region: 'us-east-1', credentials }), sent),
      agentQueues: {},
      compensationDlqUrl: COMPENSATION_DLQ,
      events: { publish: async () => {} },
      now: () => NOW,
    });

    // Act
    const outcome = dispatch(id, 'a');

    // Assess
    await expect(outcome).rejects.toBeInstanceOf(WorkflowStateError);
    await expect(dispatch(id, 'a')).rejects.toMatchObject({ name: 'Dispatch.NoQueue' });
    expect((await runs.step(id, 'a')).status).toBe('PENDING');
  });

  it('refuses to plan a workflow that has already ended', async () => {
    // Prepare
    const id = await createWorkflow([step('a')]);
    await op({ op: 'plan', workflow_id: id, execution_arn: 'arn:x' });
    await dispatch(id, 'a');
    await op({ op: 'record', action: 'execute', workflow_id: id, step_id: 'a', output: {} });
    await op({ op: 'finish', outcome: 'succeeded', workflow_id: id, execution_input: { workflow_id: id } });

    // Act / Assess
    await expect(op({ op: 'plan', workflow_id: id, execution_arn: 'arn:y' })).rejects.toMatchObject({
      name: 'Workflow.NotRunnable',
    });
  });
});
