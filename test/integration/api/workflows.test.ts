/**
 * Workflows over the real chain: POST workflows, GET workflows/{id}, POST workflows/{id}/rollback
 * and /cancel, with the real recovery state machine running the real workflow handler (offline
 * Step Functions and SQS, DynamoDB Local). The tests play the reference agents: they take the
 * AgentTaskMessage off the agent's queue and answer through POST tasks/*.
 */
import { randomUUID } from 'node:crypto';
import { DescribeExecutionCommand } from '@aws-sdk/client-sfn';
import { ManualInterventionMessage, RecoveryWorkflowRequest, WorkflowAccepted } from '#core/wire';
import { MAX_WORKFLOW_STEPS } from '#core/workflow';
import { keys } from '#shared/table-design';
import {
  type Api,
  errorCode,
  loadApi,
  queryPartition,
  referenceAgents,
  registerAgents,
  sample,
  tokenFor,
  uniqueId,
} from './harness';
import { planOf, readWorkflow, startPlan, succeedTask, takeTask, waitForStatus } from './workflow-helpers';

let api: Api;
const NETWORK = 'reference-network';
const DATA = 'reference-data';
/** Registered without a queue in the catalog: its steps can never be dispatched. */
const QUEUELESS = uniqueId('it-queueless');

beforeAll(async () => {
  api = await loadApi();
  await registerAgents(api, [...referenceAgents(), { agent_id: QUEUELESS, categories: ['network'] }]);
});

afterEach(() => {
  jest.restoreAllMocks();
});

afterAll(async () => {
  await api.close();
});

const queueOf = (category: string) => {
  const queue = api.runtime.agentQueues.get(category);
  if (!queue) throw new Error(`no agent queue for ${category}`);
  return queue.queue.url;
};

async function post(
  operationId: string,
  id: string,
  body?: unknown,
  role: 'operator' | 'admin' = 'operator',
) {
  const { token } = await tokenFor(role);
  return api.call({ operationId, token, pathParameters: { id }, body });
}

/** A workflow whose every step an earlier run did: it runs to SUCCEEDED without an agent. */
async function succeededWorkflow(stepIds: readonly string[] = ['a', 'b']): Promise<string> {
  const accepted = await startPlan(
    api,
    planOf(
      stepIds.map((step_id) => ({ step_id, agent_id: NETWORK })),
      { progress_state: { succeeded_steps: stepIds } },
    ),
  );
  await waitForStatus(api, accepted.workflow_id, ['SUCCEEDED']);
  return accepted.workflow_id;
}

/** A workflow RUNNING with its one step dispatched to the network agent. */
async function runningWorkflow(): Promise<string> {
  const accepted = await startPlan(api, planOf([{ step_id: 'wait', agent_id: NETWORK }]));
  await waitForStatus(api, accepted.workflow_id, ['RUNNING']);
  return accepted.workflow_id;
}

describe('POST workflows', () => {
  it('answers 202, stores the plan as PENDING steps with their timers, and runs it to SUCCEEDED as the agents answer', async () => {
    // Prepare
    const body = {
      recovery_plan: {
        plan_id: 'it-plan',
        steps: [
          {
            step_id: 'drain',
            issue_id: 'inc-1',
            agent_id: NETWORK,
            estimated_duration: 'PT1M',
            timeout: 'PT10M',
            heartbeat: 'PT2M',
          },
          {
            step_id: 'repair',
            issue_id: 'inc-2',
            agent_id: DATA,
            depends_on: ['drain'],
            parameters: { table: 'orders' },
          },
        ],
      },
    };

    // Act
    const accepted = await startPlan(api, body);
    const first = await takeTask(api, queueOf('network'), {
      workflow_id: accepted.workflow_id,
      action: 'execute',
    });
    const firstAnswer = await succeedTask(api, first, NETWORK, { drained: 3 });
    const second = await takeTask(api, queueOf('data'), {
      workflow_id: accepted.workflow_id,
      action: 'execute',
    });
    const secondAnswer = await succeedTask(api, second, DATA);
    const done = await waitForStatus(api, accepted.workflow_id, ['SUCCEEDED']);

    // Assess
    expect(accepted.execution_arn).toMatch(new RegExp(`:execution:it-recovery:${accepted.workflow_id}$`));
    expect(['PENDING', 'RUNNING']).toContain(accepted.status);
    expect(first).toMatchObject({ step_id: 'drain', attempt: 1, issue: { issue_id: 'inc-1' } });
    expect(second.issue.parameters).toEqual({ table: 'orders' });
    expect(firstAnswer.status).toBe(200);
    expect(firstAnswer.body).toEqual({
      workflow_id: accepted.workflow_id,
      step_id: 'drain',
      action: 'execute',
      accepted: true,
    });
    expect(secondAnswer.status).toBe(200);
    expect(done).toMatchObject({
      source: 'plan',
      execution_arn: accepted.execution_arn,
      executions: [accepted.execution_arn],
      completion_percentage: 100,
    });
    expect(done.steps.map((s) => [s.step_id, s.status, s.wave])).toEqual([
      ['drain', 'SUCCEEDED', 0],
      ['repair', 'SUCCEEDED', 1],
    ]);
    expect(done.steps[0]).toMatchObject({
      timeout_seconds: 600,
      heartbeat_seconds: 120,
      output: { drained: 3 },
    });
    expect(done.result).toMatchObject({
      status: 'SUCCEEDED',
      resolved_issues: ['inc-1', 'inc-2'],
      failed_issues: [],
    });
  });

  it('stores the steps progress_state names as SUCCEEDED, and the run dispatches only the others', async () => {
    // Prepare
    const body = planOf(
      [
        { step_id: 'done-before', agent_id: NETWORK },
        { step_id: 'still-to-do', agent_id: NETWORK },
      ],
      { progress_state: { succeeded_steps: ['done-before'] } },
    );

    // Act
    const accepted = await startPlan(api, body);
    const task = await takeTask(api, queueOf('network'), { workflow_id: accepted.workflow_id });
    await succeedTask(api, task, NETWORK);
    const done = await waitForStatus(api, accepted.workflow_id, ['SUCCEEDED']);

    // Assess
    expect(task.step_id).toBe('still-to-do');
    expect(done.steps.map((s) => [s.step_id, s.status, s.attempts])).toEqual([
      ['done-before', 'SUCCEEDED', 0],
      ['still-to-do', 'SUCCEEDED', 1],
    ]);
  });

  it('runs the sample plan far enough to dispatch its first wave', async () => {
    // Prepare
    const body = RecoveryWorkflowRequest.parse(sample('recovery-workflow-request.json').json);

    // Act
    const accepted = await startPlan(api, body);
    const task = await takeTask(api, api.runtime.agentQueues.get('infrastructure')?.queue.url ?? '', {
      workflow_id: accepted.workflow_id,
    });

    // Assess
    expect(task).toMatchObject({ step_id: 'drain-az-b', action: 'execute' });
  });

  it('replays the same Idempotency-Key with the same answer and starts nothing new', async () => {
    // Prepare
    const { token } = await tokenFor('operator');
    const key = randomUUID();
    const body = planOf([{ step_id: 'once', agent_id: NETWORK }]);
    const call = () =>
      api.call({ operationId: 'startWorkflow', token, body, headers: { 'Idempotency-Key': key } });

    // Act
    const first = await call();
    const replay = await call();

    // Assess
    expect([first.status, replay.status]).toEqual([202, 202]);
    expect(replay.body).toEqual(first.body);
    const { workflow_id } = WorkflowAccepted.parse(first.body);
    expect((await readWorkflow(api, workflow_id)).executions).toHaveLength(1);
  });

  it('rejects a request without an Idempotency-Key with 400 IDEMPOTENCY_KEY_REQUIRED', async () => {
    // Prepare
    const { token } = await tokenFor('admin');

    // Act
    const answer = await api.call({
      operationId: 'startWorkflow',
      token,
      body: planOf([{ step_id: 'x', agent_id: NETWORK }]),
    });

    // Assess
    expect(answer.status).toBe(400);
    expect(errorCode(answer)).toBe('IDEMPOTENCY_KEY_REQUIRED');
  });

  it.each([
    {
      name: 'progress_state names a step the plan does not have',
      body: planOf([{ step_id: 'real', agent_id: NETWORK }], {
        progress_state: { succeeded_steps: ['real', 'ghost'] },
      }),
      status: 400,
      code: 'VALIDATION_FAILED',
    },
    {
      name: 'a timeout under one second',
      body: {
        recovery_plan: { steps: [{ step_id: 's', issue_id: 'i', agent_id: NETWORK, timeout: 'PT0S' }] },
      },
      status: 400,
      code: 'INVALID_TIMERS',
    },
    {
      name: 'a heartbeat longer than the timeout',
      body: {
        recovery_plan: {
          steps: [{ step_id: 's', issue_id: 'i', agent_id: NETWORK, timeout: 'PT1M', heartbeat: 'PT2M' }],
        },
      },
      status: 400,
      code: 'INVALID_TIMERS',
    },
    {
      name: 'a dependency cycle',
      body: {
        recovery_plan: {
          steps: [
            { step_id: 'a', issue_id: 'a', agent_id: NETWORK, depends_on: ['b'] },
            { step_id: 'b', issue_id: 'b', agent_id: NETWORK, depends_on: ['a'] },
          ],
        },
      },
      status: 422,
      code: 'DEPENDENCY_CYCLE',
    },
    {
      name: 'a step naming an agent nobody registered',
      body: planOf([{ step_id: 's', agent_id: uniqueId('nobody') }]),
      status: 422,
      code: 'UNROUTABLE_PLAN',
    },
    {
      name: `more than ${MAX_WORKFLOW_STEPS} steps`,
      body: planOf(
        Array.from({ length: MAX_WORKFLOW_STEPS + 1 }, (_, k) => ({ step_id: `s${k}`, agent_id: NETWORK })),
      ),
      status: 422,
      code: 'PLAN_TOO_LARGE',
    },
  ])('rejects $name with $status $code and stores nothing', async ({ body, status, code }) => {
    // Prepare
    const { token, sub } = await tokenFor('operator');
    const key = randomUUID();

    // Act
    const answer = await api.call({
      operationId: 'startWorkflow',
      token,
      body,
      headers: { 'Idempotency-Key': key },
    });

    // Assess
    expect({ status: answer.status, code: errorCode(answer) }).toEqual({ status, code });
    expect(await queryPartition(keys.workflow(api.workflows.workflowIdFor(sub, key)).PK)).toEqual([]);
  });

  it('points at the offending entry of progress_state.succeeded_steps', async () => {
    // Act
    const { token } = await tokenFor('operator');
    const answer = await api.call({
      operationId: 'startWorkflow',
      token,
      body: planOf([{ step_id: 'real', agent_id: NETWORK }], {
        progress_state: { succeeded_steps: ['real', 'ghost'] },
      }),
      headers: { 'Idempotency-Key': randomUUID() },
    });

    // Assess
    expect(answer.body).toMatchObject({
      error: { details: [{ path: 'progress_state.succeeded_steps[1]', code: 'invalid_value' }] },
    });
  });
});

describe('GET workflows/{id}', () => {
  it('answers 404 NOT_FOUND for a workflow that does not exist', async () => {
    // Prepare
    const { token } = await tokenFor('viewer');

    // Act
    const answer = await api.call({
      operationId: 'getWorkflow',
      token,
      pathParameters: { id: uniqueId('wf-none') },
    });

    // Assess
    expect(answer.status).toBe(404);
    expect(errorCode(answer)).toBe('NOT_FOUND');
  });

  it('rejects an id that is not an Identifier with 400 VALIDATION_FAILED', async () => {
    // Prepare
    const { token } = await tokenFor('viewer');

    // Act
    const answer = await api.call({ operationId: 'getWorkflow', token, pathParameters: { id: 'not an id' } });

    // Assess
    expect(answer.status).toBe(400);
    expect(errorCode(answer)).toBe('VALIDATION_FAILED');
  });

  it('shows a workflow that issues intake started, with its run', async () => {
    // Prepare
    const { token } = await tokenFor('operator');
    const submitted = await api.call({
      operationId: 'submitIssues',
      token,
      headers: { 'Idempotency-Key': randomUUID() },
      body: {
        detected_issues: [
          { issue_id: 'dns-1', title: 'DNS resolution failing', severity: 'high', category: 'network' },
        ],
      },
    });
    const { workflow_id, execution_arn } = submitted.body as { workflow_id: string; execution_arn: string };

    // Act
    const detail = await readWorkflow(api, workflow_id);

    // Assess
    expect(submitted.status).toBe(202);
    expect(detail).toMatchObject({ workflow_id, source: 'issues', execution_arn, result: null });
    expect(detail.steps.map((s) => s.issue_id)).toEqual(['dns-1']);
  });
});

describe('POST workflows/{id}/rollback', () => {
  it('compensates the steps that ran back to failure_point, latest first, and the workflow ends ROLLED_BACK', async () => {
    // Prepare
    const workflowId = await succeededWorkflow(['first', 'second', 'third']);
    const body = { reason: 'the release made things worse', failure_point: 'second' };

    // Act
    const answer = await post('rollbackWorkflow', workflowId, body);
    const undoThird = await takeTask(api, queueOf('network'), {
      workflow_id: workflowId,
      action: 'rollback',
    });
    await succeedTask(api, undoThird, NETWORK);
    const undoSecond = await takeTask(api, queueOf('network'), {
      workflow_id: workflowId,
      action: 'rollback',
    });
    await succeedTask(api, undoSecond, NETWORK);
    const done = await waitForStatus(api, workflowId, ['ROLLED_BACK']);

    // Assess
    expect(answer.status).toBe(202);
    const accepted = WorkflowAccepted.parse(answer.body);
    expect(accepted).toMatchObject({ workflow_id: workflowId, status: 'ROLLING_BACK' });
    expect(accepted.execution_arn).toMatch(new RegExp(`:${workflowId}\\.rollback-1$`));
    const execution = await api.runtime.sfn.send(
      new DescribeExecutionCommand({ executionArn: accepted.execution_arn }),
    );
    expect(JSON.parse(execution.input ?? '{}')).toEqual({
      workflow_id: workflowId,
      mode: 'rollback',
      ...body,
    });
    // Steps completed at the same time unwind by record order, the last first.
    expect([undoThird.step_id, undoSecond.step_id]).toEqual(['third', 'second']);
    expect(done.executions).toEqual([expect.stringMatching(`:${workflowId}$`), accepted.execution_arn]);
    expect(done.steps.map((s) => [s.step_id, s.status])).toEqual([
      ['first', 'SUCCEEDED'],
      ['second', 'COMPENSATED'],
      ['third', 'COMPENSATED'],
    ]);
    expect(done.result?.rollback).toMatchObject({
      status: 'ROLLED_BACK',
      failure_point: 'second',
      reason: body.reason,
      compensated_steps: ['second', 'third'],
    });
  });

  it('rolls back the rest on a second request, then answers 409 NOTHING_TO_ROLL_BACK once every step is compensated', async () => {
    // Prepare
    const workflowId = await succeededWorkflow(['only']);
    await post('rollbackWorkflow', workflowId, { reason: 'first try' });
    const undo = await takeTask(api, queueOf('network'), { workflow_id: workflowId, action: 'rollback' });
    await succeedTask(api, undo, NETWORK);
    await waitForStatus(api, workflowId, ['ROLLED_BACK']);

    // Act
    const again = await post('rollbackWorkflow', workflowId, { reason: 'second try' });

    // Assess
    expect(again.status).toBe(409);
    expect(errorCode(again)).toBe('NOTHING_TO_ROLL_BACK');
  });

  it('rejects a workflow that is still running with 409 WORKFLOW_STATE_CONFLICT', async () => {
    // Prepare
    const workflowId = await runningWorkflow();

    // Act
    const answer = await post('rollbackWorkflow', workflowId, { reason: 'too early' });

    // Assess
    expect(answer.status).toBe(409);
    expect(errorCode(answer)).toBe('WORKFLOW_STATE_CONFLICT');
    expect(answer.body).toMatchObject({
      error: { details: [{ workflow_id: workflowId, status: 'RUNNING' }] },
    });
  });

  it('rejects a failure_point that names no step with 400 VALIDATION_FAILED', async () => {
    // Prepare
    const workflowId = await succeededWorkflow(['a']);

    // Act
    const answer = await post('rollbackWorkflow', workflowId, {
      reason: 'typo',
      failure_point: 'no-such-step',
    });

    // Assess
    expect(answer.status).toBe(400);
    expect(errorCode(answer)).toBe('VALIDATION_FAILED');
    expect((await readWorkflow(api, workflowId)).executions).toHaveLength(1);
  });

  it('rejects a workflow whose steps never ran with 409 NOTHING_TO_ROLL_BACK', async () => {
    // Prepare: its only step has no agent queue, so the run fails before dispatching it.
    const accepted = await startPlan(api, planOf([{ step_id: 'stuck', agent_id: QUEUELESS }]));
    const failed = await waitForStatus(api, accepted.workflow_id, ['FAILED']);

    // Act
    const whole = await post('rollbackWorkflow', accepted.workflow_id, { reason: 'undo it' });
    const toStep = await post('rollbackWorkflow', accepted.workflow_id, {
      reason: 'undo it',
      failure_point: 'stuck',
    });

    // Assess
    expect(failed.steps[0]?.status).toBe('PENDING');
    expect([whole.status, toStep.status]).toEqual([409, 409]);
    expect([errorCode(whole), errorCode(toStep)]).toEqual(['NOTHING_TO_ROLL_BACK', 'NOTHING_TO_ROLL_BACK']);
  });

  it('answers 404 for a workflow that does not exist', async () => {
    // Act
    const answer = await post('rollbackWorkflow', uniqueId('wf-none'), { reason: 'nothing' });

    // Assess
    expect(answer.status).toBe(404);
  });

  it('starts one rollback for two identical requests that race, and refuses the next while it runs', async () => {
    // Prepare
    const workflowId = await succeededWorkflow(['x']);
    const body = { reason: 'double click' };

    // Act
    const [one, two] = await Promise.all([
      post('rollbackWorkflow', workflowId, body),
      post('rollbackWorkflow', workflowId, body, 'admin'),
    ]);
    const third = await post('rollbackWorkflow', workflowId, { reason: 'and again' });

    // Assess
    expect([one.status, two.status]).toEqual([202, 202]);
    expect(WorkflowAccepted.parse(one.body).execution_arn).toBe(
      WorkflowAccepted.parse(two.body).execution_arn,
    );
    expect((await readWorkflow(api, workflowId)).executions).toHaveLength(2);
    expect(third.status).toBe(409);
    expect(errorCode(third)).toBe('WORKFLOW_STATE_CONFLICT');
  });

  it('joins a twin that arrives after the first rollback was recorded to the same running execution', async () => {
    // Prepare
    const workflowId = await succeededWorkflow(['late']);
    const body = { reason: 'double click, slowly' };
    const first = await post('rollbackWorkflow', workflowId, body);

    // Act
    const late = await post('rollbackWorkflow', workflowId, body, 'admin');
    const other = await post('rollbackWorkflow', workflowId, { reason: 'something else' });

    // Assess
    expect([first.status, late.status]).toEqual([202, 202]);
    expect(WorkflowAccepted.parse(late.body).execution_arn).toBe(
      WorkflowAccepted.parse(first.body).execution_arn,
    );
    expect(other.status).toBe(409);
    expect((await readWorkflow(api, workflowId)).executions).toHaveLength(2);
  });

  it('lets only one of two different racing requests start a rollback', async () => {
    // Prepare
    const workflowId = await succeededWorkflow(['y']);

    // Act
    const answers = await Promise.all([
      post('rollbackWorkflow', workflowId, { reason: 'operator one' }),
      post('rollbackWorkflow', workflowId, { reason: 'operator two' }),
    ]);

    // Assess
    expect(answers.map((a) => a.status).sort()).toEqual([202, 409]);
    expect(
      errorCode(answers.find((a) => a.status === 409) ?? answers[0] ?? { status: 0, headers: {}, body: {} }),
    ).toBe('WORKFLOW_STATE_CONFLICT');
    expect((await readWorkflow(api, workflowId)).executions).toHaveLength(2);
  });

  it('ends ROLLBACK_FAILED and reports the step to the compensation queue when the agent cannot undo it', async () => {
    // Prepare
    const workflowId = await succeededWorkflow(['irreversible']);
    await post('rollbackWorkflow', workflowId, { reason: 'try to undo' });
    const undo = await takeTask(api, queueOf('network'), { workflow_id: workflowId, action: 'rollback' });
    const { token } = await tokenFor('agent', NETWORK);

    // Act
    const failure = await api.call({
      operationId: 'sendTaskFailure',
      token,
      body: {
        task_token: undo.task_token,
        error: { code: 'Agent.Permanent', message: 'cannot undo a deleted volume' },
      },
    });
    const done = await waitForStatus(api, workflowId, ['ROLLBACK_FAILED']);
    const { token: operator } = await tokenFor('operator');
    const dlq = await api.call({
      operationId: 'listDeadLetters',
      token: operator,
      query: { queue: 'compensation' },
    });

    // Assess
    expect(failure.status).toBe(200);
    expect(done.steps[0]?.status).toBe('COMPENSATION_FAILED');
    expect(done.result?.rollback).toMatchObject({
      status: 'ROLLBACK_FAILED',
      failed_compensations: ['irreversible'],
    });
    const messages = (dlq.body as { queues: { messages: { body: string }[] }[] }).queues[0]?.messages ?? [];
    const reports = messages.map((m) => ManualInterventionMessage.parse(JSON.parse(m.body)));
    expect(reports).toContainEqual(
      expect.objectContaining({ workflow_id: workflowId, step_id: 'irreversible', error: 'Agent.Permanent' }),
    );
  });
});

describe('POST workflows/{id}/cancel', () => {
  it('stops the run, compensates the step it had dispatched, and the workflow ends CANCELLED', async () => {
    // Prepare
    const workflowId = await runningWorkflow();
    const dispatched = await takeTask(api, queueOf('network'), {
      workflow_id: workflowId,
      action: 'execute',
    });

    // Act
    const answer = await post('cancelWorkflow', workflowId, { reason: 'resolved upstream' });
    const undo = await takeTask(api, queueOf('network'), { workflow_id: workflowId, action: 'rollback' });
    await succeedTask(api, undo, NETWORK);
    const done = await waitForStatus(api, workflowId, ['CANCELLED']);
    const late = await succeedTask(api, dispatched, NETWORK);

    // Assess
    expect(answer.status).toBe(202);
    const accepted = WorkflowAccepted.parse(answer.body);
    expect(accepted).toMatchObject({ workflow_id: workflowId, status: 'ROLLING_BACK' });
    const run = await api.runtime.sfn.send(
      new DescribeExecutionCommand({ executionArn: done.executions[0] }),
    );
    expect(run.status).toBe('ABORTED');
    expect(done.steps.map((s) => s.status)).toEqual(['COMPENSATED']);
    expect(done.result?.rollback).toMatchObject({ reason: 'resolved upstream', compensated_steps: ['wait'] });
    // The agent's answer to the stopped run comes too late.
    expect(late.status).toBe(410);
    expect(errorCode(late)).toBe('TASK_GONE');
  });

  it('takes an empty body, and cancels a workflow whose run has not dispatched anything', async () => {
    // Prepare
    api.runtime.pauseWorkflowTasks();
    let accepted: WorkflowAccepted;
    let answer: Awaited<ReturnType<typeof post>>;
    try {
      accepted = await startPlan(api, planOf([{ step_id: 'never', agent_id: NETWORK }]));

      // Act
      answer = await post('cancelWorkflow', accepted.workflow_id);
    } finally {
      api.runtime.resumeWorkflowTasks();
    }
    const done = await waitForStatus(api, accepted.workflow_id, ['CANCELLED']);

    // Assess
    expect(answer.status).toBe(202);
    expect(done.steps.map((s) => s.status)).toEqual(['PENDING']);
    expect(done.result?.rollback).toMatchObject({
      reason: 'cancelled by an operator',
      compensated_steps: [],
    });
  });

  it('rejects a workflow that has already ended with 409 WORKFLOW_STATE_CONFLICT', async () => {
    // Prepare
    const workflowId = await succeededWorkflow(['finished']);

    // Act
    const answer = await post('cancelWorkflow', workflowId, {});

    // Assess
    expect(answer.status).toBe(409);
    expect(errorCode(answer)).toBe('WORKFLOW_STATE_CONFLICT');
    expect((await readWorkflow(api, workflowId)).executions).toHaveLength(1);
  });

  it('answers 404 for a workflow that does not exist', async () => {
    // Act
    const answer = await post('cancelWorkflow', uniqueId('wf-none'), {});

    // Assess
    expect(answer.status).toBe(404);
  });
});
