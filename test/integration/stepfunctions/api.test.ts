/**
 * The SFN API of the local Step Functions over the real SDK, raw HTTP for the wire shapes,
 * and the AWS CLI: state machines, StartExecution idempotency, StopExecution, listing,
 * history paging, task-token errors, and the in-process API.
 */
import {
  DescribeExecutionCommand,
  DescribeStateMachineCommand,
  ExecutionAlreadyExists,
  ExecutionDoesNotExist,
  GetExecutionHistoryCommand,
  InvalidArn,
  InvalidExecutionInput,
  InvalidName,
  InvalidOutput,
  InvalidToken,
  ListExecutionsCommand,
  ListStateMachinesCommand,
  SendTaskHeartbeatCommand,
  SendTaskSuccessCommand,
  StartExecutionCommand,
  StateMachineDoesNotExist,
  StopExecutionCommand,
  TaskDoesNotExist,
  TaskTimedOut,
} from '@aws-sdk/client-sfn';
import { createStepFunctionsProvider } from '#local/runtime/providers/stepfunctions';
import type { DeployContext } from '#local/runtime/types';
import { runAwsCli } from '../local/aws-cli';
import {
  ACCOUNT,
  AGENT_QUEUE_URL,
  type Harness,
  historyOf,
  REGION,
  readFixture,
  startHarness,
  typesOf,
} from './harness';

let harness: Harness;
let callbackMachine: string;
let timeoutMachine: string;

beforeAll(async () => {
  harness = await startHarness();
  callbackMachine = await harness.deploy('unbounded-callback.asl.json', {
    logicalId: 'Callback',
    name: 'api-callback',
  });
  timeoutMachine = await harness.deploy('execution-timeout.asl.json', { logicalId: 'ExecutionTimeout' });
});

afterAll(async () => {
  await harness?.stop();
});

const rejectionOf = (promise: Promise<unknown>): Promise<unknown> =>
  promise.then(
    () => new Error('expected a rejection'),
    (error: unknown) => error,
  );

async function rawCall(
  operation: string,
  body: unknown,
): Promise<{ status: number; type: string | null; json: unknown }> {
  const response = await fetch(harness.edge.endpoint, {
    method: 'POST',
    headers: {
      'Content-Type': 'application/x-amz-json-1.0',
      'X-Amz-Target': `AWSStepFunctions.${operation}`,
    },
    body: JSON.stringify(body),
  });
  return { status: response.status, type: response.headers.get('content-type'), json: await response.json() };
}

/** Starts an execution of the callback machine and returns its ARN and task token. */
async function startWaiting(name?: string, input = '{}'): Promise<{ executionArn: string; token: string }> {
  const { executionArn } = await harness.client.send(
    new StartExecutionCommand({ stateMachineArn: callbackMachine, name, input }),
  );
  if (!executionArn) throw new Error('no executionArn');
  const message = await harness.queues.next();
  return { executionArn, token: message.body };
}

describe('state machines', () => {
  it('lists the deployed state machines and describes one with its substituted definition', async () => {
    // Act
    const { stateMachines } = await harness.client.send(new ListStateMachinesCommand({}));
    const described = await harness.client.send(
      new DescribeStateMachineCommand({ stateMachineArn: callbackMachine }),
    );

    // Assess
    expect(callbackMachine).toBe(`arn:aws:states:${REGION}:${ACCOUNT}:stateMachine:api-callback`);
    expect(timeoutMachine).toMatch(/:stateMachine:ExecutionTimeout-[0-9A-F]{12}$/);
    expect(stateMachines).toEqual(
      expect.arrayContaining([
        {
          stateMachineArn: callbackMachine,
          name: 'api-callback',
          type: 'STANDARD',
          creationDate: expect.any(Date),
        },
      ]),
    );
    expect(described).toMatchObject({ name: 'api-callback', status: 'ACTIVE', type: 'STANDARD' });
    expect(described.definition).toContain(AGENT_QUEUE_URL);
    expect(described.definition).not.toContain('${');
  });

  it('rejects an unknown state machine with StateMachineDoesNotExist and a malformed ARN with InvalidArn', async () => {
    // Act
    const unknown = await rejectionOf(
      harness.client.send(
        new StartExecutionCommand({
          stateMachineArn: `arn:aws:states:${REGION}:${ACCOUNT}:stateMachine:nope`,
        }),
      ),
    );
    const malformed = await rejectionOf(
      harness.client.send(new DescribeStateMachineCommand({ stateMachineArn: 'not-an-arn' })),
    );

    // Assess
    expect(unknown).toBeInstanceOf(StateMachineDoesNotExist);
    expect(malformed).toBeInstanceOf(InvalidArn);
  });

  it.each([
    ['invalid.asl.json', /StartAt/],
    [
      'heartbeat-not-below-timeout.asl.json',
      /HeartbeatSeconds must be less than the value of TimeoutSeconds/,
    ],
  ])('rejects the invalid definition %s with InvalidDefinition', async (fixture, message) => {
    // Prepare
    const provider = createStepFunctionsProvider();
    const context: DeployContext = {
      region: REGION,
      accountId: ACCOUNT,
      endpoint: '',
      assemblyDir: '',
      stackName: 'Invalid',
      services: { get: () => undefined },
      log: () => {},
    };

    // Act
    const deployed = provider.deploy?.(
      {
        logicalId: 'Broken',
        type: 'AWS::StepFunctions::StateMachine',
        properties: { DefinitionString: readFixture(fixture) },
        metadata: {},
      },
      context,
    );

    // Assess
    await expect(deployed).rejects.toMatchObject({ type: 'InvalidDefinition', message });
  });
});

describe('StartExecution', () => {
  it('is idempotent on the name while the execution runs with the same input', async () => {
    // Prepare
    const { executionArn, token } = await startWaiting('same-name', '{"attempt":1}');

    // Act
    const again = await harness.client.send(
      new StartExecutionCommand({
        stateMachineArn: callbackMachine,
        name: 'same-name',
        input: '{"attempt":1}',
      }),
    );
    const otherInput = await rejectionOf(
      harness.client.send(
        new StartExecutionCommand({
          stateMachineArn: callbackMachine,
          name: 'same-name',
          input: '{"attempt":2}',
        }),
      ),
    );
    await harness.client.send(new SendTaskSuccessCommand({ taskToken: token, output: '{}' }));
    await harness.provider.waitForExecution(executionArn);
    const afterClose = await rejectionOf(
      harness.client.send(
        new StartExecutionCommand({
          stateMachineArn: callbackMachine,
          name: 'same-name',
          input: '{"attempt":1}',
        }),
      ),
    );

    // Assess
    expect(again.executionArn).toBe(executionArn);
    expect(executionArn).toBe(`arn:aws:states:${REGION}:${ACCOUNT}:execution:api-callback:same-name`);
    expect(harness.queues.waiting).toBe(0);
    expect(otherInput).toBeInstanceOf(ExecutionAlreadyExists);
    // AWS: a closed execution's name cannot be reused, whatever the input.
    expect(afterClose).toBeInstanceOf(ExecutionAlreadyExists);
  });

  it('rejects input that is not JSON and names AWS forbids', async () => {
    // Act
    const badInput = await rejectionOf(
      harness.client.send(new StartExecutionCommand({ stateMachineArn: callbackMachine, input: '{nope' })),
    );
    const badName = await rejectionOf(
      harness.client.send(new StartExecutionCommand({ stateMachineArn: callbackMachine, name: 'has space' })),
    );

    // Assess
    expect(badInput).toBeInstanceOf(InvalidExecutionInput);
    expect(badName).toBeInstanceOf(InvalidName);
  });
});

describe('StopExecution', () => {
  it('aborts a waiting execution with its error and cause, and closes its task token', async () => {
    // Prepare
    const { executionArn, token } = await startWaiting('to-stop');

    // Act
    const { stopDate } = await harness.client.send(
      new StopExecutionCommand({ executionArn, error: 'Operator.Cancelled', cause: 'cancelled by test' }),
    );
    const described = await harness.client.send(new DescribeExecutionCommand({ executionArn }));
    const lateCallback = await rejectionOf(
      harness.client.send(new SendTaskSuccessCommand({ taskToken: token, output: '{}' })),
    );
    const events = await historyOf(harness.client, executionArn);

    // Assess
    expect(stopDate).toBeInstanceOf(Date);
    expect(described).toMatchObject({
      status: 'ABORTED',
      error: 'Operator.Cancelled',
      cause: 'cancelled by test',
      stopDate,
    });
    expect(lateCallback).toBeInstanceOf(TaskTimedOut);
    expect(typesOf(events).slice(-2)).toEqual(['TaskStateAborted', 'ExecutionAborted']);
    expect(events.at(-1)?.executionAbortedEventDetails).toEqual({
      error: 'Operator.Cancelled',
      cause: 'cancelled by test',
    });
  });
});

describe('ListExecutions', () => {
  it('lists newest first and filters by status', async () => {
    // Prepare
    const older = await startWaiting();
    const newer = await startWaiting();
    await harness.client.send(new StopExecutionCommand({ executionArn: older.executionArn }));

    // Act
    const all = await harness.client.send(new ListExecutionsCommand({ stateMachineArn: callbackMachine }));
    const running = await harness.client.send(
      new ListExecutionsCommand({ stateMachineArn: callbackMachine, statusFilter: 'RUNNING' }),
    );
    const firstPage = await harness.client.send(
      new ListExecutionsCommand({ stateMachineArn: callbackMachine, maxResults: 1 }),
    );
    const secondPage = await harness.client.send(
      new ListExecutionsCommand({
        stateMachineArn: callbackMachine,
        maxResults: 1,
        nextToken: firstPage.nextToken,
      }),
    );
    await harness.client.send(new StopExecutionCommand({ executionArn: newer.executionArn }));

    // Assess
    const arns = (all.executions ?? []).map((execution) => execution.executionArn);
    expect(arns.indexOf(newer.executionArn)).toBe(0);
    expect(arns.indexOf(older.executionArn)).toBe(1);
    expect(running.executions?.map((execution) => execution.executionArn)).toEqual([newer.executionArn]);
    expect(all.executions?.[1]).toMatchObject({ status: 'ABORTED', stopDate: expect.any(Date) });
    expect(firstPage.executions?.map((execution) => execution.executionArn)).toEqual([newer.executionArn]);
    expect(secondPage.executions?.map((execution) => execution.executionArn)).toEqual([older.executionArn]);
  });
});

describe('an execution TimeoutSeconds', () => {
  it('ends the execution TIMED_OUT and closes the task it was waiting on', async () => {
    // Act
    const { executionArn } = await harness.client.send(
      new StartExecutionCommand({ stateMachineArn: timeoutMachine }),
    );
    const message = await harness.queues.next();
    const described = await harness.provider.waitForExecution(executionArn ?? '');
    const late = await rejectionOf(
      harness.client.send(
        new SendTaskSuccessCommand({
          taskToken: (JSON.parse(message.body) as { task_token: string }).task_token,
          output: '{}',
        }),
      ),
    );
    const events = await historyOf(harness.client, executionArn ?? '');

    // Assess
    expect(described).toMatchObject({ status: 'TIMED_OUT', error: 'States.Timeout' });
    expect(late).toBeInstanceOf(TaskTimedOut);
    expect(typesOf(events).at(-1)).toBe('ExecutionTimedOut');
  });
});

describe('GetExecutionHistory', () => {
  it('pages, reverses, and leaves out execution data on request', async () => {
    // Prepare
    const { executionArn, token } = await startWaiting(undefined, '{"secret":"s3cr3t"}');
    await harness.client.send(new SendTaskSuccessCommand({ taskToken: token, output: '{"ok":true}' }));
    await harness.provider.waitForExecution(executionArn);

    // Act
    const firstPage = await harness.client.send(
      new GetExecutionHistoryCommand({ executionArn, maxResults: 3 }),
    );
    const secondPage = await harness.client.send(
      new GetExecutionHistoryCommand({ executionArn, maxResults: 3, nextToken: firstPage.nextToken }),
    );
    const reversed = await harness.client.send(
      new GetExecutionHistoryCommand({ executionArn, reverseOrder: true }),
    );
    const withoutData = await harness.client.send(
      new GetExecutionHistoryCommand({ executionArn, includeExecutionData: false }),
    );

    // Assess
    expect(firstPage.events?.map((event) => event.id)).toEqual([1, 2, 3]);
    expect(firstPage.events?.map((event) => event.previousEventId)).toEqual([0, 0, 2]);
    expect(secondPage.events?.map((event) => event.id)).toEqual([4, 5, 6]);
    expect(reversed.events?.[0]?.type).toBe('ExecutionSucceeded');
    expect(firstPage.events?.[0]?.executionStartedEventDetails).toEqual({
      input: '{"secret":"s3cr3t"}',
      inputDetails: { truncated: false },
      roleArn: expect.stringMatching(/^arn:aws:iam::/),
    });
    expect(JSON.stringify(withoutData.events)).not.toContain('s3cr3t');
    expect(JSON.stringify(withoutData.events)).not.toContain('"ok"');
  });
});

describe('SendTask* errors', () => {
  it('answers InvalidToken, TaskDoesNotExist, InvalidOutput and TaskTimedOut as AWS does', async () => {
    // Prepare
    const { executionArn, token } = await startWaiting();
    const unknownToken = 'A'.repeat(86);

    // Act
    const malformed = await rejectionOf(
      harness.client.send(new SendTaskSuccessCommand({ taskToken: 'not-a-token', output: '{}' })),
    );
    const unknown = await rejectionOf(
      harness.client.send(new SendTaskHeartbeatCommand({ taskToken: unknownToken })),
    );
    const notJson = await rejectionOf(
      harness.client.send(new SendTaskSuccessCommand({ taskToken: token, output: '{not json' })),
    );
    await harness.client.send(new SendTaskHeartbeatCommand({ taskToken: token }));
    await harness.client.send(new SendTaskSuccessCommand({ taskToken: token, output: '"first"' }));
    const duplicate = await rejectionOf(
      harness.client.send(new SendTaskSuccessCommand({ taskToken: token, output: '"second"' })),
    );
    const described = await harness.provider.waitForExecution(executionArn);

    // Assess
    expect(malformed).toBeInstanceOf(InvalidToken);
    expect(unknown).toBeInstanceOf(TaskDoesNotExist);
    expect(notJson).toBeInstanceOf(InvalidOutput);
    expect(duplicate).toBeInstanceOf(TaskTimedOut);
    expect(described).toMatchObject({ status: 'SUCCEEDED', output: '"first"' });
  });

  it('sends AWS JSON 1.0 error bodies: __type and message', async () => {
    // Act
    const missing = await rawCall('DescribeExecution', {
      executionArn: `arn:aws:states:${REGION}:${ACCOUNT}:execution:api-callback:missing`,
    });
    const unknownOperation = await rawCall('CreateActivity', { name: 'a' });
    const sdkMissing = await rejectionOf(
      harness.client.send(
        new DescribeExecutionCommand({ executionArn: `arn:aws:states:${REGION}:${ACCOUNT}:execution:x:y` }),
      ),
    );

    // Assess
    expect(missing).toEqual({
      status: 400,
      type: 'application/x-amz-json-1.0',
      json: {
        __type: 'ExecutionDoesNotExist',
        message: `Execution Does Not Exist: 'arn:aws:states:${REGION}:${ACCOUNT}:execution:api-callback:missing'`,
      },
    });
    expect(unknownOperation).toMatchObject({
      status: 400,
      json: { __type: 'UnknownOperationException', message: expect.stringContaining('CreateActivity') },
    });
    expect(sdkMissing).toBeInstanceOf(ExecutionDoesNotExist);
  });
});

describe('the in-process API', () => {
  it('runs an execution and counts its state transitions, and fails an SQS task clearly when no SQS provider runs', async () => {
    // Prepare
    const provider = createStepFunctionsProvider();
    const context: DeployContext = {
      region: REGION,
      accountId: ACCOUNT,
      endpoint: '',
      assemblyDir: '',
      stackName: 'NoSqs',
      services: { get: () => undefined },
      log: () => {},
    };
    await provider.start?.(context);
    const { ref } = (await provider.deploy?.(
      {
        logicalId: 'Lonely',
        type: 'AWS::StepFunctions::StateMachine',
        properties: {
          DefinitionString: readFixture('sqs-send.asl.json'),
          DefinitionSubstitutions: { AgentQueueUrl: AGENT_QUEUE_URL },
        },
        metadata: {},
      },
      { ...context },
    )) ?? { ref: '' };

    // Act
    const { executionArn } = provider.startExecution({ stateMachineArn: ref, input: '{}' });
    const described = await provider.waitForExecution(executionArn);
    const stats = provider.executionStats(executionArn);
    await provider.stop?.();

    // Assess
    expect(described).toMatchObject({
      status: 'FAILED',
      error: 'SQS.SdkClientException',
      cause: expect.stringContaining("services.get('sqs')"),
    });
    expect(stats).toMatchObject({
      status: 'FAILED',
      stateTransitions: 2,
      stateEntries: { Hello: 1, Send: 1 },
      taskAttempts: 1,
    });
  });
});

describe('the history quota', () => {
  it('fails an execution whose history reaches the maximum number of events', async () => {
    // Prepare
    const provider = createStepFunctionsProvider({ maxHistoryEvents: 20 });
    const { ref } = (await provider.deploy?.(
      {
        logicalId: 'PassMap',
        type: 'AWS::StepFunctions::StateMachine',
        properties: { DefinitionString: readFixture('pass-map.asl.json') },
        metadata: {},
      },
      {
        region: REGION,
        accountId: ACCOUNT,
        endpoint: '',
        assemblyDir: '',
        stackName: 'Quota',
        services: { get: () => undefined },
        log: () => {},
      },
    )) ?? { ref: '' };

    // Act
    const small = provider.startExecution({ stateMachineArn: ref, input: JSON.stringify({ items: [1, 2] }) });
    const large = provider.startExecution({
      stateMachineArn: ref,
      input: JSON.stringify({ items: [...Array(10).keys()] }),
    });
    const smallResult = await provider.waitForExecution(small.executionArn);
    const largeResult = await provider.waitForExecution(large.executionArn);
    const history = await provider.handle({
      method: 'POST',
      path: '/',
      query: new URLSearchParams(),
      headers: {},
      region: REGION,
      target: 'AWSStepFunctions.GetExecutionHistory',
      body: Buffer.from(JSON.stringify({ executionArn: large.executionArn, maxResults: 1000 })),
    });
    await provider.stop?.();

    // Assess
    expect(smallResult).toMatchObject({ status: 'SUCCEEDED', output: '[1,2]' });
    expect(largeResult).toMatchObject({
      status: 'FAILED',
      error: 'States.Runtime',
      cause: expect.stringContaining('maximum number of history events (20)'),
    });
    const events = (JSON.parse(String(history.body)) as { events: { id: number; type: string }[] }).events;
    expect(events).toHaveLength(21);
    expect(events.at(-1)?.type).toBe('ExecutionFailed');
  });
});

describe('the AWS CLI', () => {
  it('lists state machines, starts an execution and reads its history', async () => {
    // Act
    const listed = await runAwsCli(harness.edge.endpoint, ['stepfunctions', 'list-state-machines']);
    const started = await runAwsCli(harness.edge.endpoint, [
      'stepfunctions',
      'start-execution',
      '--state-machine-arn',
      callbackMachine,
      '--name',
      'from-cli',
      '--input',
      '{"from":"cli"}',
    ]);
    const token = (await harness.queues.next()).body;
    await harness.client.send(new SendTaskSuccessCommand({ taskToken: token, output: '{"done":true}' }));
    const { executionArn } = JSON.parse(started.stdout || '{}') as { executionArn: string };
    await harness.provider.waitForExecution(executionArn);
    const history = await runAwsCli(harness.edge.endpoint, [
      'stepfunctions',
      'get-execution-history',
      '--execution-arn',
      executionArn,
    ]);
    const described = await runAwsCli(harness.edge.endpoint, [
      'stepfunctions',
      'describe-execution',
      '--execution-arn',
      executionArn,
    ]);

    // Assess
    expect(listed).toMatchObject({ code: 0 });
    expect(JSON.parse(listed.stdout).stateMachines).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ stateMachineArn: callbackMachine, type: 'STANDARD' }),
      ]),
    );
    expect(started.code).toBe(0);
    expect(executionArn).toBe(`arn:aws:states:${REGION}:${ACCOUNT}:execution:api-callback:from-cli`);
    expect(history.code).toBe(0);
    expect((JSON.parse(history.stdout).events as { type: string }[]).map((event) => event.type)).toEqual([
      'ExecutionStarted',
      'TaskStateEntered',
      'TaskScheduled',
      'TaskStarted',
      'TaskSubmitted',
      'TaskSucceeded',
      'TaskStateExited',
      'ExecutionSucceeded',
    ]);
    expect(JSON.parse(described.stdout)).toMatchObject({
      status: 'SUCCEEDED',
      input: '{"from":"cli"}',
      output: '{"done":true}',
    });
  });
});
