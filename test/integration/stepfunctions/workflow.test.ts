/**
 * Workflows on the local Step Functions, over the real SDK through the runtime's edge:
 * Map with MaxConcurrency, callbacks (success, failure, heartbeat timeout, task timeout),
 * Retry with backoff, Catch, and the Lambda and EventBridge integrations, each checked
 * through GetExecutionHistory.
 */
import {
  DescribeExecutionCommand,
  type HistoryEvent,
  SendTaskFailureCommand,
  SendTaskHeartbeatCommand,
  SendTaskSuccessCommand,
  StartExecutionCommand,
  TaskTimedOut,
} from '@aws-sdk/client-sfn';
import { functionArn, type Harness, historyOf, startHarness, taskOf, typesOf } from './harness';

let harness: Harness;
let dispatchWorkflow: string;
let agentCallback: string;
let unboundedCallback: string;
let lambdaResources: string;
let timerPaths: string;

beforeAll(async () => {
  harness = await startHarness();
  dispatchWorkflow = await harness.deploy('dispatch-workflow.asl.json', {
    logicalId: 'DispatchWorkflow',
    substitutions: { PlanFunctionArn: functionArn('plan'), EventBusName: 'orchestrator-bus' },
  });
  agentCallback = await harness.deploy('agent-callback.asl.json', { logicalId: 'AgentCallback' });
  unboundedCallback = await harness.deploy('unbounded-callback.asl.json', { logicalId: 'UnboundedCallback' });
  timerPaths = await harness.deploy('timer-paths.asl.json', { logicalId: 'TimerPaths' });
  lambdaResources = await harness.deploy('lambda-resources.asl.json', {
    logicalId: 'LambdaResources',
    substitutions: { EchoFunctionArn: functionArn('echo'), ValidateFunctionArn: functionArn('validate') },
  });
});

afterAll(async () => {
  await harness?.stop();
});

const namedError = (name: string, message: string): Error => Object.assign(new Error(message), { name });
const rejectionOf = (promise: Promise<unknown>): Promise<unknown> =>
  promise.then(
    () => new Error('expected a rejection'),
    (error: unknown) => error,
  );
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function start(stateMachineArn: string, input: unknown): Promise<string> {
  const { executionArn } = await harness.client.send(
    new StartExecutionCommand({ stateMachineArn, input: JSON.stringify(input) }),
  );
  if (!executionArn) throw new Error('StartExecution returned no executionArn');
  return executionArn;
}

async function finish(executionArn: string): Promise<{ status?: string; output: Record<string, unknown> }> {
  await harness.provider.waitForExecution(executionArn, 15_000);
  const described = await harness.client.send(new DescribeExecutionCommand({ executionArn }));
  return {
    status: described.status,
    output: JSON.parse(described.output ?? 'null') as Record<string, unknown>,
  };
}

/** Fails unless `expected` appears in `types` in this order (other events may come between). */
function expectInOrder(types: readonly string[], expected: readonly string[]): void {
  let at = 0;
  for (const type of types) if (type === expected[at]) at += 1;
  expect({ matched: expected.slice(0, at), missing: expected.slice(at) }).toEqual({
    matched: expected,
    missing: [],
  });
}

const details = (event: HistoryEvent | undefined): Record<string, unknown> =>
  Object.entries(event ?? {}).find(([key]) => key.endsWith('EventDetails'))?.[1] as Record<string, unknown>;

describe('a Map of agent tasks', () => {
  it('dispatches at most MaxConcurrency steps at a time, each resumed by SendTaskSuccess', async () => {
    // Prepare
    const steps = ['s1', 's2', 's3', 's4'].map((step_id) => ({ step_id }));
    harness.lambdas.register('plan', () => ({ steps }));

    // Act
    const executionArn = await start(dispatchWorkflow, { workflow_id: 'wf-map' });
    const first = taskOf(await harness.queues.next());
    const second = taskOf(await harness.queues.next());
    await sleep(200);
    const waitingWhileTwoRun = harness.queues.waiting;
    for (const task of [second, first]) {
      await harness.client.send(
        new SendTaskSuccessCommand({
          taskToken: task.task_token,
          output: JSON.stringify({ done: task.step_id }),
        }),
      );
    }
    for (let answered = 0; answered < 2; answered += 1) {
      const task = taskOf(await harness.queues.next());
      await harness.client.send(
        new SendTaskSuccessCommand({
          taskToken: task.task_token,
          output: JSON.stringify({ done: task.step_id }),
        }),
      );
    }
    const { status, output } = await finish(executionArn);
    const events = await historyOf(harness.client, executionArn);

    // Assess
    expect(waitingWhileTwoRun).toBe(0);
    expect(first).toEqual({
      task_token: expect.stringMatching(/^[A-Za-z0-9_-]{86}$/),
      workflow_id: 'wf-map',
      step_id: 's1',
      action: 'execute',
    });
    expect(second.task_token).not.toBe(first.task_token);
    expect(status).toBe('SUCCEEDED');
    expect(output.results).toEqual(steps.map((step) => ({ done: step.step_id })));
    expect(events.map((event) => event.id)).toEqual(events.map((_, index) => index + 1));
    expect(events.every((event) => event.timestamp instanceof Date)).toBe(true);
    expectInOrder(typesOf(events), [
      'ExecutionStarted',
      'TaskStateEntered',
      'TaskScheduled',
      'TaskStarted',
      'TaskSucceeded',
      'TaskStateExited',
      'MapStateEntered',
      'MapStateStarted',
      'MapIterationStarted',
      'TaskStateEntered',
      'TaskScheduled',
      'TaskStarted',
      'TaskSubmitted',
      'TaskSucceeded',
      'TaskStateExited',
      'MapIterationSucceeded',
      'MapStateSucceeded',
      'MapStateExited',
      'TaskStateEntered',
      'TaskScheduled',
      'TaskSucceeded',
      'TaskStateExited',
      'ExecutionSucceeded',
    ]);
    expect(details(events.find((event) => event.type === 'MapStateStarted'))).toEqual({ length: 4 });
    expect(typesOf(events, /^MapIteration/)).toHaveLength(8);
    const mapExit = typesOf(events).indexOf('MapStateSucceeded');
    expect(typesOf(events).lastIndexOf('MapIterationSucceeded')).toBeLessThan(mapExit);
    const scheduled = events.filter((event) => event.taskScheduledEventDetails?.resourceType === 'sqs');
    expect(scheduled).toHaveLength(4);
    expect(scheduled[0]?.taskScheduledEventDetails).toMatchObject({
      resource: 'sendMessage.waitForTaskToken',
      region: 'us-east-1',
      timeoutInSeconds: 20,
      heartbeatInSeconds: 10,
    });
    expect(JSON.parse(scheduled[0]?.taskScheduledEventDetails?.parameters ?? '{}')).toMatchObject({
      MessageBody: { task_token: first.task_token },
    });
    expect(harness.provider.publishedEvents()).toContainEqual({
      Source: 'master-orchestrator',
      DetailType: 'WorkflowCompleted',
      EventBusName: 'orchestrator-bus',
      Detail: JSON.stringify({ workflow_id: 'wf-map' }),
    });
    expect(harness.provider.executionStats(executionArn)).toMatchObject({
      status: 'SUCCEEDED',
      stateEntries: { Plan: 1, RunSteps: 1, Dispatch: 4, Announce: 1 },
      stateTransitions: 7,
      retries: 0,
      taskAttempts: 6,
    });
  });

  it('compensates when an agent reports failure: the Map fails and its sibling task is cancelled at once', async () => {
    // Prepare
    harness.lambdas.register('plan', () => ({ steps: [{ step_id: 'ok' }, { step_id: 'broken' }] }));
    const executionArn = await start(dispatchWorkflow, { workflow_id: 'wf-rollback' });
    const sibling = taskOf(await harness.queues.next());
    const failing = taskOf(await harness.queues.next());

    // Act
    await harness.client.send(
      new SendTaskFailureCommand({
        taskToken: failing.task_token,
        error: 'Agent.Permanent',
        cause: 'disk full',
      }),
    );
    const compensation = taskOf(await harness.queues.next());
    const statusDuringRollback = harness.provider.describeExecution(executionArn).status;
    const siblingAnswer = await rejectionOf(
      harness.client.send(new SendTaskSuccessCommand({ taskToken: sibling.task_token, output: '{}' })),
    );
    await harness.client.send(
      new SendTaskSuccessCommand({ taskToken: compensation.task_token, output: '{"compensated":true}' }),
    );
    const { status, output } = await finish(executionArn);
    const events = await historyOf(harness.client, executionArn);

    // Assess
    expect(compensation).toMatchObject({
      workflow_id: 'wf-rollback',
      action: 'rollback',
      failure: { Error: 'Agent.Permanent', Cause: 'disk full' },
    });
    expect(statusDuringRollback).toBe('RUNNING');
    expect(siblingAnswer).toBeInstanceOf(TaskTimedOut);
    expect(status).toBe('SUCCEEDED');
    expect(output).toMatchObject({ outcome: 'ROLLED_BACK', rollback: { compensated: true } });
    const failed = events.find((event) => event.type === 'TaskFailed');
    expect(failed?.taskFailedEventDetails).toEqual({
      resourceType: 'sqs',
      resource: 'sendMessage.waitForTaskToken',
      error: 'Agent.Permanent',
      cause: 'disk full',
    });
    expectInOrder(typesOf(events), [
      'MapStateEntered',
      'TaskFailed',
      'MapIterationFailed',
      'MapStateFailed',
      'MapStateExited',
      'TaskStateEntered',
      'TaskSubmitted',
      'TaskSucceeded',
      'TaskStateExited',
      'PassStateEntered',
      'ExecutionSucceeded',
    ]);
    expect(typesOf(events).indexOf('TaskStateAborted')).toBeLessThan(
      typesOf(events).lastIndexOf('TaskStateEntered'),
    );
    expect(typesOf(events)).not.toContain('MapStateSucceeded');
    await sleep(100);
    expect(harness.queues.waiting).toBe(0);
  });
});

describe('Retry and Catch on Lambda errors', () => {
  it('retries the planner with exponential backoff, then succeeds', async () => {
    // Prepare
    let attempts = 0;
    harness.lambdas.register('plan', () => {
      attempts += 1;
      if (attempts <= 2) throw namedError('Planner.Busy', `attempt ${attempts}: try later`);
      return { steps: [] };
    });
    const before = harness.lambdas.invocations.length;

    // Act
    const executionArn = await start(dispatchWorkflow, { workflow_id: 'wf-retry' });
    const { status, output } = await finish(executionArn);
    const events = await historyOf(harness.client, executionArn);

    // Assess
    expect(status).toBe('SUCCEEDED');
    expect(output).toMatchObject({ workflow_id: 'wf-retry', results: [] });
    const [first, second, third] = harness.lambdas.invocations
      .slice(before)
      .map((invocation) => invocation.at);
    expect((second ?? 0) - (first ?? 0)).toBeGreaterThanOrEqual(950);
    expect((third ?? 0) - (second ?? 0)).toBeGreaterThanOrEqual(1_950);
    const failures = events.filter((event) => event.type === 'TaskFailed');
    expect(failures.map((event) => event.taskFailedEventDetails)).toEqual([
      {
        resourceType: 'lambda',
        resource: 'invoke',
        error: 'Planner.Busy',
        cause: JSON.stringify({ errorType: 'Planner.Busy', errorMessage: 'attempt 1: try later' }),
      },
      expect.objectContaining({ error: 'Planner.Busy' }),
    ]);
    expect(typesOf(events).filter((type) => type === 'TaskScheduled')).toHaveLength(4);
    expect(harness.provider.executionStats(executionArn)).toMatchObject({ retries: 2, stateTransitions: 5 });
  });

  it('catches a planner error by name and fails through a Fail state', async () => {
    // Prepare
    harness.lambdas.register('plan', () => {
      throw namedError('Planner.Broken', 'no plan');
    });

    // Act
    const executionArn = await start(dispatchWorkflow, { workflow_id: 'wf-broken' });
    await harness.provider.waitForExecution(executionArn);
    const described = await harness.client.send(new DescribeExecutionCommand({ executionArn }));
    const events = await historyOf(harness.client, executionArn);

    // Assess
    expect(described).toMatchObject({ status: 'FAILED', error: 'PlanFailed', cause: 'The planner failed' });
    expect(described.stopDate).toBeInstanceOf(Date);
    expect(typesOf(events)).toEqual([
      'ExecutionStarted',
      'TaskStateEntered',
      'TaskScheduled',
      'TaskStarted',
      'TaskFailed',
      'TaskStateExited',
      'FailStateEntered',
      'ExecutionFailed',
    ]);
    expect(events.at(-1)?.executionFailedEventDetails).toEqual({
      error: 'PlanFailed',
      cause: 'The planner failed',
    });
  });

  it('runs a function ARN resource and the optimized lambda:invoke, catching a function error by its errorType', async () => {
    // Prepare
    harness.lambdas.register('echo', (event) => ({ echoed: event }));
    harness.lambdas.register('validate', (event) => {
      const { value } = event as { value: number };
      if (value < 0) throw namedError('Validation.Rejected', `${value} is negative`);
      return { valid: true };
    });

    // Act
    const accepted = await start(lambdaResources, { value: 5 });
    const rejected = await start(lambdaResources, { value: -1 });
    const acceptedResult = await finish(accepted);
    const rejectedResult = await finish(rejected);
    const events = await historyOf(harness.client, accepted);

    // Assess
    expect(acceptedResult).toEqual({
      status: 'SUCCEEDED',
      output: {
        value: 5,
        direct: { echoed: { value: 5 } },
        optimized: expect.objectContaining({
          ExecutedVersion: '$LATEST',
          Payload: { valid: true },
          StatusCode: 200,
        }),
      },
    });
    expect(rejectedResult.output.error).toEqual({
      Error: 'Validation.Rejected',
      Cause: JSON.stringify({ errorType: 'Validation.Rejected', errorMessage: '-1 is negative' }),
    });
    expect(typesOf(events).slice(0, 8)).toEqual([
      'ExecutionStarted',
      'TaskStateEntered',
      'LambdaFunctionScheduled',
      'LambdaFunctionStarted',
      'LambdaFunctionSucceeded',
      'TaskStateExited',
      'TaskStateEntered',
      'TaskScheduled',
    ]);
    expect(events[2]?.lambdaFunctionScheduledEventDetails).toEqual({
      resource: functionArn('echo'),
      input: JSON.stringify({ value: 5 }),
      inputDetails: { truncated: false },
    });
  });
});

describe('callback tasks', () => {
  it('resume with the output of SendTaskSuccess', async () => {
    // Act
    const executionArn = await start(agentCallback, { step_id: 'step-ok' });
    const task = taskOf(await harness.queues.next());
    await harness.client.send(
      new SendTaskSuccessCommand({ taskToken: task.task_token, output: JSON.stringify({ changed: 3 }) }),
    );
    const { status, output } = await finish(executionArn);
    const events = await historyOf(harness.client, executionArn);

    // Assess
    expect(task).toMatchObject({ execution: executionArn, step_id: 'step-ok' });
    expect(status).toBe('SUCCEEDED');
    expect(output).toEqual({ step_id: 'step-ok', result: { changed: 3 } });
    expect(typesOf(events)).toEqual([
      'ExecutionStarted',
      'TaskStateEntered',
      'TaskScheduled',
      'TaskStarted',
      'TaskSubmitted',
      'TaskSucceeded',
      'TaskStateExited',
      'ExecutionSucceeded',
    ]);
    expect(events[5]?.taskSucceededEventDetails).toEqual({
      resourceType: 'sqs',
      resource: 'sendMessage.waitForTaskToken',
      output: '{"changed":3}',
      outputDetails: { truncated: false },
    });
    expect(JSON.parse(events[4]?.taskSubmittedEventDetails?.output ?? '{}')).toMatchObject({
      MessageId: harness.queues.sent.at(-1)?.messageId,
      MD5OfMessageBody: expect.stringMatching(/^[0-9a-f]{32}$/),
    });
  });

  it('fail with the error and cause of SendTaskFailure, which Catch sees', async () => {
    // Act
    const executionArn = await start(agentCallback, { step_id: 'step-transient' });
    const task = taskOf(await harness.queues.next());
    await harness.client.send(
      new SendTaskFailureCommand({
        taskToken: task.task_token,
        error: 'Agent.Transient',
        cause: 'throttled',
      }),
    );
    const { status, output } = await finish(executionArn);
    const events = await historyOf(harness.client, executionArn);

    // Assess
    expect(status).toBe('SUCCEEDED');
    expect(output.error).toEqual({ Error: 'Agent.Transient', Cause: 'throttled' });
    expectInOrder(typesOf(events), ['TaskSubmitted', 'TaskFailed', 'TaskStateExited', 'PassStateEntered']);
    expect(details(events.find((event) => event.type === 'PassStateEntered'))).toMatchObject({
      name: 'Failed',
    });
  });

  it('fail with States.HeartbeatTimeout when the agent stops heartbeating', async () => {
    // Act
    const startedAt = Date.now();
    const executionArn = await start(agentCallback, { step_id: 'step-silent' });
    const task = taskOf(await harness.queues.next());
    const { status, output } = await finish(executionArn);
    const elapsed = Date.now() - startedAt;
    const late = await rejectionOf(
      harness.client.send(new SendTaskSuccessCommand({ taskToken: task.task_token, output: '{}' })),
    );
    const events = await historyOf(harness.client, executionArn);

    // Assess
    expect(status).toBe('SUCCEEDED');
    expect(output.error).toEqual({ Error: 'States.HeartbeatTimeout', Cause: '' });
    // Timers never fire early; which timer fired is proven by the error name above.
    expect(elapsed).toBeGreaterThanOrEqual(950);
    expect(late).toBeInstanceOf(TaskTimedOut);
    expect(events.find((event) => event.type === 'TaskTimedOut')?.taskTimedOutEventDetails).toEqual({
      resourceType: 'sqs',
      resource: 'sendMessage.waitForTaskToken',
      error: 'States.HeartbeatTimeout',
    });
    expect(details(events.find((event) => event.type === 'PassStateEntered'))).toMatchObject({
      name: 'Failed',
    });
  });

  it('stay alive past HeartbeatSeconds while heartbeating, but fail with States.Timeout at TimeoutSeconds', async () => {
    // Prepare
    const startedAt = Date.now();
    const executionArn = await start(agentCallback, { step_id: 'step-slow' });
    const task = taskOf(await harness.queues.next());

    // Act
    let heartbeats = 0;
    let heartbeatError: unknown;
    while (!heartbeatError) {
      await sleep(400);
      await harness.client.send(new SendTaskHeartbeatCommand({ taskToken: task.task_token })).then(
        () => {
          heartbeats += 1;
        },
        (error: unknown) => {
          heartbeatError = error;
        },
      );
    }
    const { status, output } = await finish(executionArn);
    const elapsed = Date.now() - startedAt;
    const events = await historyOf(harness.client, executionArn);

    // Assess
    expect(heartbeats).toBeGreaterThanOrEqual(3);
    expect(heartbeatError).toBeInstanceOf(TaskTimedOut);
    expect(elapsed).toBeGreaterThanOrEqual(1_950);
    expect(status).toBe('SUCCEEDED');
    // States.TaskFailed, the first catcher, matches every error but States.Timeout.
    expect(output.error).toEqual({ Error: 'States.Timeout', Cause: '' });
    expect(details(events.find((event) => event.type === 'PassStateEntered'))).toMatchObject({
      name: 'TimedOut',
    });
    expect(events.find((event) => event.type === 'TaskTimedOut')?.taskTimedOutEventDetails).toMatchObject({
      error: 'States.Timeout',
    });
  });

  it("read TimeoutSecondsPath and HeartbeatSecondsPath from the state's input, not from the parameters", async () => {
    // Act
    const executionArn = await start(timerPaths, {
      step_id: 'step-paths',
      timers: { timeout: 5, heartbeat: 1 },
    });
    const message = await harness.queues.next();
    const { status, output } = await finish(executionArn);
    const events = await historyOf(harness.client, executionArn);

    // Assess
    expect(status).toBe('SUCCEEDED');
    expect(output.error).toEqual({ Error: 'States.HeartbeatTimeout', Cause: '' });
    const scheduled = details(events.find((event) => event.type === 'TaskScheduled'));
    expect(scheduled).toMatchObject({ timeoutInSeconds: 5, heartbeatInSeconds: 1 });
    expect(String(scheduled.parameters)).not.toContain('__localStateInput');
    expect(Object.keys(JSON.parse(message.body ?? '{}') as object).sort()).toEqual([
      'execution',
      'step_id',
      'task_token',
    ]);
  });

  it('fail the execution with States.Runtime, which no Catch takes, when a timer path resolves to nothing', async () => {
    // Act
    const executionArn = await start(timerPaths, { step_id: 'step-no-timers' });
    await harness.provider.waitForExecution(executionArn, 15_000);
    const described = await harness.client.send(new DescribeExecutionCommand({ executionArn }));

    // Assess
    expect(described).toMatchObject({ status: 'FAILED', error: 'States.Runtime' });
    expect(described.cause).toContain("'$.timers.timeout'");
  });

  it('run without TimeoutSeconds or HeartbeatSeconds (the ASL lint, not the runtime, forbids that)', async () => {
    // Act
    const executionArn = await start(unboundedCallback, {});
    const message = await harness.queues.next();
    await sleep(50);
    const stillRunning = harness.provider.describeExecution(executionArn).status;
    await harness.client.send(new SendTaskSuccessCommand({ taskToken: message.body, output: '"done"' }));
    const { status } = await finish(executionArn);
    const events = await historyOf(harness.client, executionArn);

    // Assess
    expect(message.body).toMatch(/^[A-Za-z0-9_-]{86}$/);
    expect(stillRunning).toBe('RUNNING');
    expect(status).toBe('SUCCEEDED');
    const scheduled = events.find((event) => event.type === 'TaskScheduled')?.taskScheduledEventDetails;
    expect(scheduled).not.toHaveProperty('timeoutInSeconds');
    expect(scheduled).not.toHaveProperty('heartbeatInSeconds');
  });
});
