import { readFileSync } from 'node:fs';
import { join } from 'node:path';
/**
 * The agent SDK against the offline runtime, over the real SDK: an edge serving the SQS and
 * Step Functions providers, a state machine dispatching one task with
 * `sqs:sendMessage.waitForTaskToken`, and an agent answering it by polling the queue or as a
 * Lambda batch handler.
 */
import { DescribeExecutionCommand, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import {
  ReceiveMessageCommand,
  type ReceiveMessageCommandOutput,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import type { SQSEvent } from 'aws-lambda';
import { DynamoDbDedupeStore } from '#agents/sdk/dynamodb-dedupe-store';
import {
  type Agent,
  type AgentLogger,
  type AgentOptions,
  AgentPermanentError,
  AgentTransientError,
  createAgent,
  MemoryDedupeStore,
  type TaskHandler,
} from '#agents/sdk/index';
import type { AgentTaskMessage } from '#core/wire';
import { type Edge, startEdge } from '#local/runtime/edge';
import { createSqsProvider, type SqsProvider, toLambdaSqsRecord } from '#local/runtime/providers/sqs';
import {
  createStepFunctionsProvider,
  type StepFunctionsProvider,
} from '#local/runtime/providers/stepfunctions';
import { DEFAULT_REGION, type DeployContext, LOCAL_ACCOUNT_ID } from '#local/runtime/types';

jest.setTimeout(15_000);

const CREDENTIALS = { accessKeyId: 'test', secretAccessKey: 'test' };

/** One dispatch with a heartbeat, Retry on Agent.Transient and a Catch for everything else. */
const DISPATCH_ASL = readFileSync(
  join(__dirname, '..', '..', 'fixtures', 'asl', 'agent-dispatch.asl.json'),
  'utf8',
);

interface Runtime {
  readonly edge: Edge;
  readonly sqsProvider: SqsProvider;
  readonly states: StepFunctionsProvider;
  readonly sfn: SFNClient;
  readonly sqs: SQSClient;
  readonly context: DeployContext;
}

let runtime: Runtime;
let counter = 0;

beforeAll(async () => {
  const sqsProvider = createSqsProvider();
  const states = createStepFunctionsProvider();
  const edge = await startEdge({ port: 0, providers: [sqsProvider, states], log: () => {} });
  const context: DeployContext = {
    region: DEFAULT_REGION,
    accountId: LOCAL_ACCOUNT_ID,
    endpoint: edge.endpoint,
    assemblyDir: '',
    stackName: 'AgentSdkIt',
    services: { get: (service) => (service === 'sqs' ? sqsProvider : undefined) },
    log: () => {},
  };
  await sqsProvider.start?.(context);
  await states.start?.(context);
  const clientConfig = { endpoint: edge.endpoint, region: DEFAULT_REGION, credentials: CREDENTIALS };
  runtime = {
    edge,
    sqsProvider,
    states,
    sfn: new SFNClient(clientConfig),
    sqs: new SQSClient(clientConfig),
    context,
  };
});

afterAll(async () => {
  runtime.sfn.destroy();
  runtime.sqs.destroy();
  await runtime.states.stop?.();
  await runtime.sqsProvider.stop?.();
  await runtime.edge.close();
});

/** A queue (with a DLQ after `maxReceiveCount` receives) and a state machine dispatching to it. */
async function deployWorkflow(
  maxReceiveCount = 5,
): Promise<{ queueUrl: string; dlqUrl: string; arn: string }> {
  counter += 1;
  const deploySqs = runtime.sqsProvider.deploy;
  const deployStates = runtime.states.deploy;
  if (!deploySqs || !deployStates) throw new Error('the providers cannot deploy');
  const dlq = await deploySqs(
    {
      logicalId: 'Dlq',
      type: 'AWS::SQS::Queue',
      properties: { QueueName: `agent-dlq-${counter}` },
      metadata: {},
    },
    runtime.context,
  );
  const queue = await deploySqs(
    {
      logicalId: 'Queue',
      type: 'AWS::SQS::Queue',
      properties: {
        QueueName: `agent-tasks-${counter}`,
        VisibilityTimeout: 1,
        RedrivePolicy: { deadLetterTargetArn: dlq.attributes?.Arn, maxReceiveCount },
      },
      metadata: {},
    },
    runtime.context,
  );
  const machine = await deployStates(
    {
      logicalId: 'Dispatch',
      type: 'AWS::StepFunctions::StateMachine',
      properties: {
        StateMachineName: `agent-dispatch-${counter}`,
        DefinitionString: DISPATCH_ASL,
        DefinitionSubstitutions: { AgentQueueUrl: queue.ref },
      },
      metadata: {},
    },
    runtime.context,
  );
  return { queueUrl: queue.ref, dlqUrl: dlq.ref, arn: machine.ref };
}

function workflowInput(action: 'execute' | 'rollback' = 'execute'): Record<string, unknown> {
  return {
    workflow_id: `wf-${counter}`,
    step_id: 'step-1',
    issue: { issue_id: 'i-1', title: 'DNS failing', severity: 'high', category: 'network' },
    action,
    attempt: 1,
    deadline: new Date(Date.now() + 8_000).toISOString(),
  };
}

async function runExecution(
  arn: string,
  input = workflowInput(),
): Promise<{ status?: string; output: unknown }> {
  const { executionArn } = await runtime.sfn.send(
    new StartExecutionCommand({ stateMachineArn: arn, input: JSON.stringify(input) }),
  );
  if (!executionArn) throw new Error('no execution ARN');
  await runtime.states.waitForExecution(executionArn, 12_000);
  const described = await runtime.sfn.send(new DescribeExecutionCommand({ executionArn }));
  return { status: described.status, output: JSON.parse(described.output ?? 'null') };
}

const quietLogger = (): AgentLogger & { readonly lines: string[] } => {
  const lines: string[] = [];
  const push = (message: string) => {
    lines.push(message);
  };
  return { lines, info: push, warn: push, error: push };
};

function agentWith(execute: TaskHandler, extra: Partial<AgentOptions> = {}): Agent {
  return createAgent({
    agent_id: 'network-1',
    categories: ['network'],
    execute,
    rollback: async () => ({ rolled_back: true }),
    sfn: runtime.sfn,
    sqs: runtime.sqs,
    heartbeatIntervalMs: 300,
    logger: quietLogger(),
    ...extra,
  });
}

/** Runs the agent's poller for the duration of `body`, then stops it and checks it stopped. */
async function withPoller<T>(
  agent: Agent,
  queueUrl: string,
  body: () => Promise<T>,
  visibilityTimeoutSeconds = 1,
): Promise<T> {
  const controller = new AbortController();
  const polling = agent.poll({
    queueUrl,
    signal: controller.signal,
    waitSeconds: 1,
    visibilityTimeoutSeconds,
  });
  try {
    return await body();
  } finally {
    controller.abort();
    await polling;
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('agent poller answering a waitForTaskToken dispatch', () => {
  it('succeeds the execution with the output execute returns', async () => {
    // Prepare
    const { queueUrl, arn } = await deployWorkflow();
    const execute = jest.fn(async (task: AgentTaskMessage) => ({ fixed: task.issue.issue_id }));
    // Act
    const result = await withPoller(agentWith(execute), queueUrl, () => runExecution(arn));
    // Assess
    expect(result.status).toBe('SUCCEEDED');
    expect(result.output).toMatchObject({ result: { fixed: 'i-1' } });
    expect(execute).toHaveBeenCalledTimes(1);
  });

  it('runs rollback for a rollback dispatch', async () => {
    // Prepare
    const { queueUrl, arn } = await deployWorkflow();
    const execute = jest.fn(async () => ({}));
    // Act
    const result = await withPoller(agentWith(execute), queueUrl, () =>
      runExecution(arn, workflowInput('rollback')),
    );
    // Assess
    expect(result.output).toMatchObject({ result: { rolled_back: true } });
    expect(execute).not.toHaveBeenCalled();
  });

  it('is retried by the workflow after an Agent.Transient failure and then succeeds', async () => {
    // Prepare
    const { queueUrl, arn } = await deployWorkflow();
    const execute = jest
      .fn<Promise<unknown>, [AgentTaskMessage]>()
      .mockRejectedValueOnce(new AgentTransientError('throttled'))
      .mockResolvedValueOnce({ attempt: 2 });
    // Act
    const result = await withPoller(agentWith(execute), queueUrl, () => runExecution(arn));
    // Assess
    expect(result.status).toBe('SUCCEEDED');
    expect(result.output).toMatchObject({ result: { attempt: 2 } });
    expect(execute).toHaveBeenCalledTimes(2);
  });

  it('fails the task with Agent.Permanent, which the workflow catches without retrying', async () => {
    // Prepare
    const { queueUrl, arn } = await deployWorkflow();
    const execute = jest.fn(async () => {
      throw new AgentPermanentError('zone is locked');
    });
    // Act
    const result = await withPoller(agentWith(execute), queueUrl, () => runExecution(arn));
    // Assess
    expect(result.output).toMatchObject({ error: { Error: 'Agent.Permanent', Cause: 'zone is locked' } });
    expect(execute).toHaveBeenCalledTimes(1);
  });

  it('keeps a task longer than HeartbeatSeconds alive with heartbeats', async () => {
    // Prepare
    const { queueUrl, arn } = await deployWorkflow();
    const execute = jest.fn(async () => {
      await sleep(2_500);
      return { slow: true };
    });
    // Act
    const result = await withPoller(agentWith(execute), queueUrl, () => runExecution(arn));
    // Assess
    expect(result.status).toBe('SUCCEEDED');
    expect(result.output).toMatchObject({ result: { slow: true } });
    expect(execute).toHaveBeenCalledTimes(1);
  });

  it('runs execute once when the same message is delivered twice', async () => {
    // Prepare
    const { queueUrl, arn } = await deployWorkflow();
    const bodies: string[] = [];
    const execute = jest.fn(async (task: AgentTaskMessage) => {
      bodies.push(JSON.stringify(task));
      return { ok: true };
    });
    const agent = agentWith(execute);
    // Act
    const result = await withPoller(agent, queueUrl, async () => {
      const done = await runExecution(arn);
      await runtime.sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: bodies[0] ?? '' }));
      await sleep(1_200);
      return done;
    });
    const remaining = await runtime.sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queueUrl, WaitTimeSeconds: 0 }),
    );
    // Assess
    expect(result.status).toBe('SUCCEEDED');
    expect(execute).toHaveBeenCalledTimes(1);
    expect(remaining.Messages ?? []).toEqual([]);
  });

  it('releases a poison message at once, so redrive moves it to the DLQ without waiting out its visibility', async () => {
    // Prepare
    const { queueUrl, dlqUrl } = await deployWorkflow(2);
    const execute = jest.fn(async () => ({}));
    const logger = quietLogger();
    const startedAt = Date.now();
    // Act: a 30 s visibility timeout would hold the message for a minute before the DLQ.
    const dead = await withPoller(
      agentWith(execute, { logger }),
      queueUrl,
      async () => {
        await runtime.sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: '{not json' }));
        return runtime.sqs.send(
          new ReceiveMessageCommand({ QueueUrl: dlqUrl, WaitTimeSeconds: 8, AttributeNames: ['All'] }),
        );
      },
      30,
    );
    // Assess
    expect(dead.Messages?.map((m) => m.Body)).toEqual(['{not json']);
    expect(dead.Messages?.[0]?.Attributes?.ApproximateReceiveCount).toBe('3');
    expect(Date.now() - startedAt).toBeLessThan(5_000);
    expect(logger.lines.filter((line) => line.startsWith('poison')).length).toBe(2);
    expect(logger.lines.filter((line) => line.startsWith('could not release'))).toEqual([]);
    expect(execute).not.toHaveBeenCalled();
  });

  it('stops polling promptly when the signal aborts', async () => {
    // Prepare
    const { queueUrl } = await deployWorkflow();
    const controller = new AbortController();
    const polling = agentWith(jest.fn()).poll({ queueUrl, signal: controller.signal, waitSeconds: 20 });
    await sleep(100);
    const startedAt = Date.now();
    // Act
    controller.abort();
    await polling;
    // Assess
    expect(Date.now() - startedAt).toBeLessThan(1_000);
  });
});

describe('agent as a Lambda SQS batch handler', () => {
  async function batchOf(
    queueUrl: string,
    expected: number,
    visibilityTimeoutSeconds?: number,
  ): Promise<SQSEvent> {
    const messages = [];
    while (messages.length < expected) {
      messages.push(
        ...(await runtime.sqsProvider.receiveMessages(queueUrl, {
          max: 10,
          waitSeconds: 2,
          ...(visibilityTimeoutSeconds !== undefined && { visibilityTimeoutSeconds }),
        })),
      );
    }
    return { Records: messages.map((m) => toLambdaSqsRecord(m, DEFAULT_REGION)) };
  }

  /** A poison message received with a visibility timeout that would keep it away for 30 s. */
  async function poisonBatch(queueUrl: string): Promise<SQSEvent> {
    await runtime.sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: 'not a task' }));
    return batchOf(queueUrl, 1, 30);
  }

  /** Receives what is visible right now, with its receive count. */
  function receiveNow(queueUrl: string): Promise<ReceiveMessageCommandOutput> {
    return runtime.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queueUrl,
        WaitTimeSeconds: 0,
        MessageSystemAttributeNames: ['ApproximateReceiveCount'],
      }),
    );
  }

  /** The real SDK client with the name of every command it sends recorded. */
  function recordingSqs(endpoint = runtime.edge.endpoint): { sqs: SQSClient; commands: string[] } {
    const sqs = new SQSClient({ endpoint, region: DEFAULT_REGION, credentials: CREDENTIALS, maxAttempts: 1 });
    const commands: string[] = [];
    sqs.middlewareStack.add(
      (next, context) => (args) => {
        commands.push(context.commandName ?? '');
        return next(args);
      },
      { step: 'initialize', name: 'recordCommands' },
    );
    return { sqs, commands };
  }

  it('makes a poison message visible again at once and still reports it, asking its URL once per queue', async () => {
    // Prepare
    const { queueUrl } = await deployWorkflow();
    const { sqs, commands } = recordingSqs();
    const logger = quietLogger();
    const handler = agentWith(jest.fn(), { sqs, logger }).lambdaHandler;
    const first = await poisonBatch(queueUrl);
    // Act
    const firstResponse = await handler(first);
    const again = await receiveNow(queueUrl);
    const secondResponse = await handler(first);
    // Assess
    expect(firstResponse.batchItemFailures).toEqual([{ itemIdentifier: first.Records[0]?.messageId }]);
    expect(secondResponse.batchItemFailures).toEqual([{ itemIdentifier: first.Records[0]?.messageId }]);
    expect(again.Messages?.map((m) => m.Body)).toEqual(['not a task']);
    expect(again.Messages?.[0]?.Attributes?.ApproximateReceiveCount).toBe('2');
    expect(commands.filter((name) => name === 'GetQueueUrlCommand')).toHaveLength(1);
    expect(commands.filter((name) => name === 'ChangeMessageVisibilityCommand')).toHaveLength(2);
    sqs.destroy();
  });

  it('only logs a failed release of a poison message and still reports it', async () => {
    // Prepare
    const { queueUrl } = await deployWorkflow();
    const logger = quietLogger();
    const event = await poisonBatch(queueUrl);
    const [record] = event.Records;
    if (!record) throw new Error('no record');
    const staleHandle: SQSEvent = { Records: [{ ...record, receiptHandle: 'not-a-receipt-handle' }] };
    // Act
    const response = await agentWith(jest.fn(), { logger }).lambdaHandler(staleHandle);
    // Assess
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: record.messageId }]);
    expect(
      logger.lines.filter((line) => line.startsWith('could not release the poison message')),
    ).toHaveLength(1);
    expect((await receiveNow(queueUrl)).Messages ?? []).toEqual([]);
  });

  it('only logs a queue URL it cannot resolve, and asks again on the next poison message', async () => {
    // Prepare
    const { queueUrl } = await deployWorkflow();
    const { sqs, commands } = recordingSqs();
    const logger = quietLogger();
    const event = await poisonBatch(queueUrl);
    const [record] = event.Records;
    if (!record) throw new Error('no record');
    const unknownQueue: SQSEvent = {
      Records: [
        { ...record, eventSourceARN: `arn:aws:sqs:${DEFAULT_REGION}:${LOCAL_ACCOUNT_ID}:no-such-queue` },
      ],
    };
    const handler = agentWith(jest.fn(), { sqs, logger }).lambdaHandler;
    // Act
    const first = await handler(unknownQueue);
    const second = await handler(unknownQueue);
    // Assess
    expect(first.batchItemFailures).toEqual([{ itemIdentifier: record.messageId }]);
    expect(second.batchItemFailures).toEqual([{ itemIdentifier: record.messageId }]);
    expect(commands).toEqual(['GetQueueUrlCommand', 'GetQueueUrlCommand']);
    expect(logger.lines.filter((line) => line.startsWith('could not resolve the queue URL'))).toHaveLength(2);
    sqs.destroy();
  });

  it('reports only the poison message as a batch item failure', async () => {
    // Prepare
    const { queueUrl, arn } = await deployWorkflow();
    const execute = jest.fn(async () => ({ ok: true }));
    const { executionArn } = await runtime.sfn.send(
      new StartExecutionCommand({ stateMachineArn: arn, input: JSON.stringify(workflowInput()) }),
    );
    await runtime.sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: '{"task_token":1}' }));
    const event = await batchOf(queueUrl, 2);
    const poison = event.Records.find((r) => r.body.startsWith('{"task_token":1'));
    // Act
    const response = await agentWith(execute).lambdaHandler(event);
    // Assess
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: poison?.messageId }]);
    expect(execute).toHaveBeenCalledTimes(1);
    const done = await runtime.states.waitForExecution(executionArn ?? '', 5_000);
    expect(done.status).toBe('SUCCEEDED');
  });

  it('reports a message whose callback failed, so SQS redelivers it, and does not run it again then', async () => {
    // Prepare
    const { queueUrl, arn } = await deployWorkflow();
    const execute = jest.fn(async () => ({ ok: true }));
    const unreachable = new SFNClient({
      endpoint: 'http://127.0.0.1:9',
      region: DEFAULT_REGION,
      credentials: CREDENTIALS,
      maxAttempts: 1,
    });
    const { executionArn } = await runtime.sfn.send(
      new StartExecutionCommand({ stateMachineArn: arn, input: JSON.stringify(workflowInput()) }),
    );
    const event = await batchOf(queueUrl, 1);
    const store = new MemoryDedupeStore();
    // Act
    const failed = await agentWith(execute, {
      sfn: unreachable,
      dedupe: store,
      heartbeatIntervalMs: 10_000,
    }).lambdaHandler(event);
    const redelivered = await agentWith(execute, { dedupe: store }).lambdaHandler(event);
    // Assess
    expect(failed.batchItemFailures).toEqual([{ itemIdentifier: event.Records[0]?.messageId }]);
    expect(redelivered.batchItemFailures).toEqual([]);
    expect(execute).toHaveBeenCalledTimes(1);
    const done = await runtime.states.waitForExecution(executionArn ?? '', 5_000);
    expect(done.status).toBe('SUCCEEDED');
    unreachable.destroy();
  });
});

describe('agent instances sharing a DynamoDbDedupeStore', () => {
  const tableName = process.env.TABLE_NAME ?? '';

  /** A message dispatched by a fresh execution, received as a Lambda would be handed it. */
  async function dispatched(): Promise<{ body: string; executionArn: string }> {
    const { queueUrl, arn } = await deployWorkflow();
    const { executionArn } = await runtime.sfn.send(
      new StartExecutionCommand({ stateMachineArn: arn, input: JSON.stringify(workflowInput()) }),
    );
    const [message] = await runtime.sqsProvider.receiveMessages(queueUrl, {
      max: 1,
      waitSeconds: 5,
      visibilityTimeoutSeconds: 30,
    });
    if (!message || !executionArn) throw new Error('nothing was dispatched');
    return { body: message.body, executionArn };
  }

  /** One instance: its own store object and client, the same table. */
  const instanceWith = (execute: TaskHandler): Agent =>
    agentWith(execute, { dedupe: new DynamoDbDedupeStore({ tableName }) });

  it('runs execute once when two instances get the same message at once', async () => {
    // Prepare
    const { body, executionArn } = await dispatched();
    const execute = jest.fn(async () => {
      await sleep(300);
      return { ok: true };
    });
    const [first, second] = [instanceWith(execute), instanceWith(execute)];
    // Act
    const results = await Promise.all([first.handleMessage(body), second.handleMessage(body)]);
    // Assess
    expect(results.map((r) => r.outcome).sort()).toEqual(['ANSWERED', 'DUPLICATE']);
    expect(results.every((r) => r.ack)).toBe(true);
    expect(execute).toHaveBeenCalledTimes(1);
    const done = await runtime.states.waitForExecution(executionArn, 5_000);
    expect(done.status).toBe('SUCCEEDED');
  });

  it('replays the stored success on a redelivery to another instance without running execute', async () => {
    // Prepare
    const { body, executionArn } = await dispatched();
    const execute = jest.fn(async () => ({ ok: true }));
    await instanceWith(execute).handleMessage(body);
    await runtime.states.waitForExecution(executionArn, 5_000);
    // Act
    const redelivered = await instanceWith(execute).handleMessage(body);
    // Assess: the task is closed, so Step Functions refuses the replayed callback as late.
    expect(redelivered).toMatchObject({ outcome: 'GONE', ack: true });
    expect(execute).toHaveBeenCalledTimes(1);
  });
});
