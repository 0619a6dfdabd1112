/**
 * The poison fast-fail's rare paths: a queue ARN that cannot be parsed and an SQS that refuses
 * ChangeMessageVisibility. SQS is an SDK client whose requests stop at a scripted middleware;
 * the normal path runs against the offline SQS in test/integration/agents/agent-sdk.test.ts.
 */
import { SQSClient } from '@aws-sdk/client-sqs';
import type { SQSEvent, SQSRecord } from 'aws-lambda';
import { releasePoisonMessage } from '#agents/sdk/agent';
import { type AgentLogger, createAgent } from '#agents/sdk/index';
import { InvalidQueueArnError, parseQueueArn } from '#agents/sdk/lambda-consumer';

interface SentCommand {
  readonly command: string;
  readonly input: unknown;
}

type Script = (command: string, input: unknown) => Promise<Record<string, unknown>>;

/** An SQS client whose every command is answered by `script`, and recorded. */
function scriptedSqs(script: Script): { sqs: SQSClient; sent: SentCommand[] } {
  const sqs = new SQSClient({ region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } });
  const sent: SentCommand[] = [];
  sqs.middlewareStack.add(
    (_next, context) => async (args) => {
      const command = context.commandName ?? '';
      sent.push({ command, input: args.input });
      return { output: { $metadata: {}, ...(await script(command, args.input)) }, response: {} };
    },
    { step: 'initialize', name: 'scriptedSqs' },
  );
  return { sqs, sent };
}

function accessDenied(): Error {
  const error = new Error('not authorized to perform sqs:ChangeMessageVisibility');
  error.name = 'AccessDenied';
  return error;
}

function recordingLogger(): AgentLogger & { readonly lines: string[] } {
  const lines: string[] = [];
  const push = (message: string) => {
    lines.push(message);
  };
  return { lines, info: push, warn: push, error: push };
}

function agentWith(sqs: SQSClient, logger: AgentLogger) {
  return createAgent({
    agent_id: 'network-1',
    categories: ['network'],
    execute: jest.fn(),
    rollback: jest.fn(),
    sqs,
    logger,
  });
}

const poisonRecord = (eventSourceARN: string): SQSRecord => ({
  messageId: 'm-1',
  receiptHandle: 'rh-1',
  body: 'not a task',
  attributes: {
    ApproximateReceiveCount: '1',
    SentTimestamp: '0',
    SenderId: 'x',
    ApproximateFirstReceiveTimestamp: '0',
  },
  messageAttributes: {},
  md5OfBody: '',
  eventSource: 'aws:sqs',
  eventSourceARN,
  awsRegion: 'us-east-1',
});

describe('parseQueueArn', () => {
  it.each([
    ['arn:aws:sqs:eu-west-1:123456789012:agent-tasks', 'eu-west-1', '123456789012', 'agent-tasks'],
    ['arn:aws-cn:sqs:cn-north-1:123456789012:tasks.fifo', 'cn-north-1', '123456789012', 'tasks.fifo'],
  ])('splits %s', (arn, region, accountId, queueName) => {
    expect(parseQueueArn(arn)).toEqual({ region, accountId, queueName });
  });

  it.each([
    'https://sqs.us-east-1.amazonaws.com/123456789012/agent-tasks',
    'arn:aws:sns:us-east-1:123456789012:topic',
    'arn:aws:sqs:us-east-1:123456789012',
    'arn:aws:sqs:us-east-1::agent-tasks',
    'arn:aws:sqs:us-east-1:123456789012:agent-tasks:extra',
    '',
  ])('rejects %p', (arn) => {
    expect(() => parseQueueArn(arn)).toThrow(InvalidQueueArnError);
  });
});

describe('releasePoisonMessage', () => {
  it('sets the visibility to 0', async () => {
    // Prepare
    const { sqs, sent } = scriptedSqs(async () => ({}));
    // Act
    await releasePoisonMessage({ sqs, logger: recordingLogger() }, 'http://queue', 'rh-1', 'm-1');
    // Assess
    expect(sent).toEqual([
      {
        command: 'ChangeMessageVisibilityCommand',
        input: { QueueUrl: 'http://queue', ReceiptHandle: 'rh-1', VisibilityTimeout: 0 },
      },
    ]);
  });

  it('only logs a refused ChangeMessageVisibility', async () => {
    // Prepare
    const { sqs } = scriptedSqs(async () => {
      throw accessDenied();
    });
    const logger = recordingLogger();
    // Act
    const release = releasePoisonMessage({ sqs, logger }, 'http://queue', 'rh-1', 'm-1');
    // Assess
    await expect(release).resolves.toBeUndefined();
    expect(logger.lines).toEqual([
      'could not release the poison message early; it returns after its visibility timeout',
    ]);
  });
});

describe('Lambda consumer releasing a poison message', () => {
  it('still reports a poison message whose event source ARN it cannot parse, without calling SQS', async () => {
    // Prepare
    const { sqs, sent } = scriptedSqs(async () => ({}));
    const logger = recordingLogger();
    const event: SQSEvent = { Records: [poisonRecord('not-an-arn')] };
    // Act
    const response = await agentWith(sqs, logger).lambdaHandler(event);
    // Assess
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: 'm-1' }]);
    expect(sent).toEqual([]);
    expect(logger.lines).toContain('could not resolve the queue URL to release a poison message early');
  });

  it('still reports a poison message SQS refuses to release', async () => {
    // Prepare
    const { sqs, sent } = scriptedSqs(async (command) => {
      if (command === 'GetQueueUrlCommand') return { QueueUrl: 'http://sqs.local/123456789012/agent-tasks' };
      throw accessDenied();
    });
    const logger = recordingLogger();
    const event: SQSEvent = { Records: [poisonRecord('arn:aws:sqs:us-east-1:123456789012:agent-tasks')] };
    // Act
    const response = await agentWith(sqs, logger).lambdaHandler(event);
    // Assess
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: 'm-1' }]);
    expect(sent.map((s) => s.command)).toEqual(['GetQueueUrlCommand', 'ChangeMessageVisibilityCommand']);
    expect(sent[0]?.input).toEqual({ QueueName: 'agent-tasks', QueueOwnerAWSAccountId: '123456789012' });
    expect(logger.lines).toContain(
      'could not release the poison message early; it returns after its visibility timeout',
    );
  });
});

describe('poller releasing a poison message', () => {
  it('only logs a refused release, deletes nothing and keeps polling', async () => {
    // Prepare
    let receives = 0;
    const { sqs, sent } = scriptedSqs(async (command) => {
      if (command === 'ReceiveMessageCommand') {
        receives += 1;
        if (receives === 1)
          return { Messages: [{ MessageId: 'm-1', ReceiptHandle: 'rh-1', Body: 'not a task' }] };
        await new Promise((resolve) => setTimeout(resolve, 5));
        return {};
      }
      throw accessDenied();
    });
    const logger = recordingLogger();
    const controller = new AbortController();
    // Act
    const polling = agentWith(sqs, logger).poll({ queueUrl: 'http://queue', signal: controller.signal });
    while (receives < 3) await new Promise((resolve) => setTimeout(resolve, 5));
    controller.abort();
    await polling;
    // Assess
    const others = sent.filter((s) => s.command !== 'ReceiveMessageCommand');
    expect(others).toEqual([
      {
        command: 'ChangeMessageVisibilityCommand',
        input: { QueueUrl: 'http://queue', ReceiptHandle: 'rh-1', VisibilityTimeout: 0 },
      },
    ]);
    expect(logger.lines).toContain(
      'could not release the poison message early; it returns after its visibility timeout',
    );
  });
});
