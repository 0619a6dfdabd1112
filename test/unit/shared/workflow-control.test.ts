/**
 * workflow-control.ts with fakes for the rare paths the integration tests cannot force:
 * Step Functions and DynamoDB errors around cancel and rollback, and the run's own state.
 */
import './test-env';
import type { RunMeta, RunStep } from '#shared/repository/workflow-run';
import { createWorkflowControl, needsRun, rollbackRefusal } from '#shared/workflow-control';

const MACHINE = 'arn:aws:states:eu-west-1:123456789012:stateMachine:recovery';
const RUN = 'arn:aws:states:eu-west-1:123456789012:execution:recovery:wf-1';
const NOW = new Date('2026-11-24T03:00:00.000Z');

function meta(overrides: Partial<RunMeta> = {}): RunMeta {
  return {
    workflow_id: 'wf-1',
    status: 'RUNNING',
    source: 'plan',
    event_seq: 3,
    step_count: 1,
    steps_succeeded: 0,
    wave_concurrency: [1],
    execution_arn: null,
    executions: [RUN],
    created_at: '2026-11-24T02:00:00.000Z',
    updated_at: '2026-11-24T02:00:00.000Z',
    started_at: null,
    completed_at: null,
    rollback: null,
    raw: {},
    ...overrides,
  };
}

function step(overrides: Partial<RunStep> = {}): RunStep {
  return {
    workflow_id: 'wf-1',
    step_id: 's1',
    issue_id: 'i1',
    agent_id: 'a1',
    category: 'network',
    action: 'remediate',
    depends_on: [],
    wave: 0,
    position: 0,
    idempotent: false,
    parameters: undefined,
    duration_ms: 60_000,
    timeout_seconds: 60,
    heartbeat_seconds: 60,
    status: 'SUCCEEDED',
    attempts: 1,
    compensation_attempts: 0,
    started_at: '2026-11-24T02:01:00.000Z',
    dispatched_at: '2026-11-24T02:01:00.000Z',
    task_token: null,
    rerouted_from: [],
    queue_url: null,
    completed_at: '2026-11-24T02:02:00.000Z',
    compensated_at: null,
    completion_seq: 2,
    output: {},
    error: undefined,
    ...overrides,
  };
}

const named = (name: string) => Object.assign(new Error(name), { name });

/** What a call threw (or resolved to), so several calls can be awaited in order. */
const outcome = (call: Promise<unknown>): Promise<unknown> => call.catch((error: unknown) => error);

/** Step Functions answers by command name; a function throws or returns. */
type SfnScript = Record<string, (input: Record<string, unknown>) => unknown>;

function setup(options: {
  meta?: RunMeta;
  steps?: RunStep[];
  sfn?: SfnScript;
  db?: () => unknown;
  after?: RunMeta;
}) {
  const current = options.meta ?? meta();
  const runs = {
    load: jest.fn(async () => ({ meta: current, steps: options.steps ?? [step()] })),
    meta: jest.fn(async () => options.after ?? current),
    addExecution: jest.fn(async () => undefined),
  };
  const calls: string[] = [];
  const sfn = {
    send: jest.fn(async (command: { constructor: { name: string }; input: Record<string, unknown> }) => {
      const name = command.constructor.name.replace(/Command$/, '');
      calls.push(name);
      const answer = options.sfn?.[name];
      if (answer) return answer(command.input);
      if (name === 'StartExecution')
        return { executionArn: `${MACHINE.replace('stateMachine', 'execution')}:${command.input.name}` };
      return {};
    }),
  };
  const db = { send: jest.fn(async () => options.db?.()) };
  const control = createWorkflowControl({
    runs: runs as never,
    db: db as never,
    tableName: 'table',
    sfn: sfn as never,
    stateMachineArn: MACHINE,
    now: () => NOW,
  });
  return { control, runs, sfn, db, calls };
}

describe('needsRun', () => {
  it('is true only for a PENDING workflow with steps and no execution recorded', () => {
    expect(needsRun(meta({ status: 'PENDING', executions: [] }))).toBe(true);
    expect(needsRun(meta({ status: 'PENDING', executions: [], step_count: 0 }))).toBe(false);
    expect(needsRun(meta({ status: 'PENDING', executions: [RUN] }))).toBe(false);
    expect(needsRun(meta({ status: 'PENDING', executions: [], execution_arn: RUN }))).toBe(false);
    expect(needsRun(meta({ status: 'CANCELLED', executions: [] }))).toBe(false);
  });
});

describe('rollbackRefusal', () => {
  it('refuses a running, pending or rolling-back workflow, and accepts an ended one with a step to undo', () => {
    for (const status of ['PENDING', 'RUNNING', 'ROLLING_BACK'] as const)
      expect(rollbackRefusal(meta({ status }), [step()], undefined)?.code).toBe('WORKFLOW_STATE_CONFLICT');
    expect(rollbackRefusal(meta({ status: 'SUCCEEDED' }), [step()], undefined)).toBeUndefined();
    expect(rollbackRefusal(meta({ status: 'FAILED' }), [step()], 's1')).toBeUndefined();
  });
});

describe('ensureRun', () => {
  it('starts the run of a workflow a crash left unstarted, and reads the status back', async () => {
    // Prepare
    const pending = meta({ status: 'PENDING', executions: [] });
    const { control, runs } = setup({ meta: pending, after: meta({ status: 'RUNNING' }) });

    // Act
    const run = await control.ensureRun(pending);

    // Assess
    expect(run).toEqual({ execution_arn: RUN, status: 'RUNNING' });
    expect(runs.addExecution).toHaveBeenCalledWith('wf-1', RUN, NOW.toISOString());
  });

  it('answers the recorded run, or null for a workflow that never had one', async () => {
    // Prepare
    const { control, sfn } = setup({});

    // Act
    const recorded = await control.ensureRun(meta({ status: 'SUCCEEDED' }));
    const none = await control.ensureRun(meta({ status: 'CANCELLED', executions: [`${RUN}.rollback-1`] }));

    // Assess
    expect(recorded.execution_arn).toBe(RUN);
    expect(none.execution_arn).toBeNull();
    expect(sfn.send).not.toHaveBeenCalled();
  });
});

describe('compensate: cancel', () => {
  it('stops a running run, then starts the compensating execution named after the executions so far', async () => {
    // Prepare
    const { control, calls, sfn } = setup({ sfn: { DescribeExecution: () => ({ status: 'RUNNING' }) } });

    // Act
    const accepted = await control.compensate('wf-1', { mode: 'cancel', reason: 'stop it' });

    // Assess
    expect(calls).toEqual(['DescribeExecution', 'StopExecution', 'StartExecution']);
    expect(sfn.send.mock.calls[1]?.[0].input).toMatchObject({
      executionArn: RUN,
      error: 'Workflow.Cancelled',
      cause: 'stop it',
    });
    expect(accepted).toEqual({
      workflow_id: 'wf-1',
      execution_arn: `${RUN}.rollback-1`,
      status: 'ROLLING_BACK',
    });
  });

  it('goes on when the run never started, or was stopped meanwhile', async () => {
    // Prepare
    const missing = setup({
      meta: meta({ status: 'PENDING', executions: [] }),
      sfn: { DescribeExecution: () => Promise.reject(named('ExecutionDoesNotExist')) },
    });
    const raced = setup({
      sfn: {
        DescribeExecution: () => ({ status: 'RUNNING' }),
        StopExecution: () => Promise.reject(named('ExecutionDoesNotExist')),
      },
    });

    // Act
    const first = await missing.control.compensate('wf-1', { mode: 'cancel', reason: 'r' });
    const second = await raced.control.compensate('wf-1', { mode: 'cancel', reason: 'r' });

    // Assess
    expect(first.execution_arn).toBe(`${RUN}.rollback-1`);
    expect(missing.calls).toEqual(['DescribeExecution', 'StartExecution']);
    expect(second.status).toBe('ROLLING_BACK');
  });

  it('refuses with 409 when the run ended on its own meanwhile, and goes on when it ended but the workflow still runs', async () => {
    // Prepare
    const ended = setup({
      sfn: { DescribeExecution: () => ({ status: 'SUCCEEDED' }) },
      after: meta({ status: 'SUCCEEDED' }),
    });
    const aborted = setup({ sfn: { DescribeExecution: () => ({ status: 'ABORTED' }) } });

    // Act
    const refused = await outcome(ended.control.compensate('wf-1', { mode: 'cancel', reason: 'r' }));
    const accepted = await aborted.control.compensate('wf-1', { mode: 'cancel', reason: 'r' });

    // Assess
    expect(refused).toMatchObject({ status: 409, code: 'WORKFLOW_STATE_CONFLICT' });
    expect(ended.calls).not.toContain('StartExecution');
    expect(accepted.status).toBe('ROLLING_BACK');
  });

  it('refuses an ended or rolling-back workflow, and one whose compensating execution still runs', async () => {
    // Prepare
    const running = setup({
      meta: meta({ executions: [RUN, `${RUN}.rollback-1`] }),
      sfn: { DescribeExecution: () => ({ status: 'RUNNING' }) },
    });

    // Act
    const ended = await outcome(
      setup({ meta: meta({ status: 'FAILED' }) }).control.compensate('wf-1', {
        mode: 'cancel',
        reason: 'r',
      }),
    );
    const rolling = await outcome(
      setup({ meta: meta({ status: 'ROLLING_BACK' }) }).control.compensate('wf-1', {
        mode: 'cancel',
        reason: 'r',
      }),
    );
    const busy = await outcome(running.control.compensate('wf-1', { mode: 'cancel', reason: 'r' }));

    // Assess
    expect(ended).toMatchObject({ status: 409 });
    expect(rolling).toMatchObject({ status: 409 });
    expect(busy).toMatchObject({ status: 409, code: 'WORKFLOW_STATE_CONFLICT' });
  });

  it('answers 429 when Step Functions throttles describe or stop, and passes any other error on', async () => {
    // Prepare
    const throttledDescribe = setup({
      sfn: { DescribeExecution: () => Promise.reject(named('ThrottlingException')) },
    });
    const throttledStop = setup({
      sfn: {
        DescribeExecution: () => ({ status: 'RUNNING' }),
        StopExecution: () => Promise.reject(named('TooManyRequestsException')),
      },
    });
    const denied = setup({
      sfn: { DescribeExecution: () => Promise.reject(named('AccessDeniedException')) },
    });

    // Act
    const first = await outcome(
      throttledDescribe.control.compensate('wf-1', { mode: 'cancel', reason: 'r' }),
    );
    const second = await outcome(throttledStop.control.compensate('wf-1', { mode: 'cancel', reason: 'r' }));
    const third = await outcome(denied.control.compensate('wf-1', { mode: 'cancel', reason: 'r' }));

    // Assess
    expect(first).toMatchObject({ status: 429, code: 'THROTTLED' });
    expect(second).toMatchObject({ status: 429, code: 'THROTTLED' });
    expect(third).toMatchObject({ name: 'AccessDeniedException' });
  });
});

describe('writes that lose to the execution writing META', () => {
  const conflict = () =>
    Object.assign(named('TransactionCanceledException'), {
      CancellationReasons: [{ Code: 'TransactionConflict' }],
    });

  it('records the started run again after a transaction conflict', async () => {
    // Prepare
    const pending = meta({ status: 'PENDING', executions: [] });
    const { control, runs } = setup({ meta: pending });
    runs.addExecution.mockRejectedValueOnce(conflict());

    // Act
    const run = await control.startRun('wf-1');

    // Assess
    expect(run.execution_arn).toBe(RUN);
    expect(runs.addExecution).toHaveBeenCalledTimes(2);
  });

  it('gives up on the claim after a few conflicts with 409, and passes other errors of addExecution on', async () => {
    // Prepare
    const busy = setup({
      meta: meta({ status: 'SUCCEEDED' }),
      db: () => Promise.reject(named('TransactionConflictException')),
    });
    const broken = setup({ meta: meta({ status: 'PENDING', executions: [] }) });
    broken.runs.addExecution.mockRejectedValueOnce(named('AccessDeniedException'));

    // Act
    const claim = await busy.control
      .compensate('wf-1', { mode: 'rollback', reason: 'r' })
      .catch((e: unknown) => e);
    const start = await broken.control.startRun('wf-1').catch((e: unknown) => e);

    // Assess
    expect(claim).toMatchObject({ status: 409 });
    expect(busy.db.send).toHaveBeenCalledTimes(4);
    expect(start).toMatchObject({ name: 'AccessDeniedException' });
    expect(broken.runs.addExecution).toHaveBeenCalledTimes(1);
  });
});

describe('compensate: the claim on META', () => {
  it('conditions the claim on the status and executions read, and names the execution it claims', async () => {
    // Prepare
    const { control, db } = setup({ meta: meta({ status: 'SUCCEEDED' }) });

    // Act
    await control.compensate('wf-1', { mode: 'rollback', reason: 'undo', failure_point: 's1' });

    // Assess
    const update = (db.send.mock.calls[0] as unknown as [{ input: Record<string, unknown> }])[0].input;
    expect(update.ConditionExpression).toContain('size(executions) = :count');
    expect(update.ExpressionAttributeValues).toMatchObject({
      ':status': 'SUCCEEDED',
      ':count': 1,
      ':name': 'wf-1.rollback-1',
      ':expired': '2026-11-24T02:59:00.000Z',
      ':request': { name: 'wf-1.rollback-1', mode: 'rollback', requested_at: NOW.toISOString() },
    });
  });

  it('answers 409 when the condition fails, 429 when DynamoDB throttles, and starts nothing', async () => {
    // Prepare
    const conflict = setup({
      meta: meta({ status: 'SUCCEEDED' }),
      db: () => Promise.reject(named('ConditionalCheckFailedException')),
    });
    const throttled = setup({
      meta: meta({ status: 'SUCCEEDED' }),
      db: () => Promise.reject(named('ThrottlingException')),
    });

    // Act
    const first = await outcome(conflict.control.compensate('wf-1', { mode: 'rollback', reason: 'r' }));
    const second = await outcome(throttled.control.compensate('wf-1', { mode: 'rollback', reason: 'r' }));

    // Assess
    expect(first).toMatchObject({ status: 409, code: 'WORKFLOW_STATE_CONFLICT' });
    expect(second).toMatchObject({ status: 429 });
    expect([...conflict.calls, ...throttled.calls]).not.toContain('StartExecution');
  });

  it('starts a rollback while the ended run is still in its final transition', async () => {
    // Prepare: the run's last Task wrote SUCCEEDED; Step Functions has not ended the run yet.
    const { control, calls } = setup({
      meta: meta({ status: 'SUCCEEDED' }),
      sfn: { DescribeExecution: () => ({ status: 'RUNNING' }) },
    });

    // Act
    const answer = await control.compensate('wf-1', { mode: 'rollback', reason: 'right away' });

    // Assess
    expect(answer.execution_arn).toBe(`${RUN}.rollback-1`);
    expect(calls).toContain('StartExecution');
  });

  describe('when the claim loses to a twin', () => {
    const ROLLBACK = `${RUN}.rollback-1`;

    /** A control whose claim fails, and whose META, read again, holds `claimed` by the request it sends. */
    function racing(options: { recorded: boolean; rival?: boolean }) {
      const race = setup({
        meta: meta({ status: 'SUCCEEDED' }),
        db: () => Promise.reject(named('ConditionalCheckFailedException')),
        sfn: {
          DescribeExecution: ({ executionArn }) => ({
            status: executionArn === RUN ? 'SUCCEEDED' : 'RUNNING',
          }),
        },
      });
      race.runs.meta.mockImplementation(async () => {
        const update = (race.db.send.mock.calls[0] as unknown as [{ input: Record<string, unknown> }])[0]
          .input;
        const sent = (update.ExpressionAttributeValues as Record<string, Record<string, unknown>>)[
          ':request'
        ];
        return meta({
          status: 'ROLLING_BACK',
          executions: options.recorded ? [RUN, ROLLBACK] : [RUN],
          raw: { compensation_request: { ...sent, ...(options.rival ? { hash: 'another request' } : {}) } },
        });
      });
      return race;
    }

    it('joins the execution a twin started and recorded meanwhile, and starts nothing', async () => {
      // Prepare
      const { control, runs, calls } = racing({ recorded: true });

      // Act
      const answer = await control.compensate('wf-1', { mode: 'rollback', reason: 'double click' });

      // Assess
      expect(answer).toEqual({ workflow_id: 'wf-1', execution_arn: ROLLBACK, status: 'ROLLING_BACK' });
      expect(calls).not.toContain('StartExecution');
      expect(runs.addExecution).not.toHaveBeenCalled();
    });

    it('records the running execution a twin started but had not recorded yet', async () => {
      // Prepare
      const { control, runs } = racing({ recorded: false });

      // Act
      const answer = await control.compensate('wf-1', { mode: 'rollback', reason: 'double click' });

      // Assess
      expect(answer.execution_arn).toBe(ROLLBACK);
      expect(runs.addExecution).toHaveBeenCalledWith('wf-1', ROLLBACK, NOW.toISOString());
    });

    it('answers 409 when the request that won is a different one', async () => {
      // Prepare
      const { control, calls } = racing({ recorded: true, rival: true });

      // Act
      const answer = await outcome(control.compensate('wf-1', { mode: 'rollback', reason: 'operator two' }));

      // Assess
      expect(answer).toMatchObject({ status: 409, code: 'WORKFLOW_STATE_CONFLICT' });
      expect(calls).not.toContain('StartExecution');
    });
  });
});
