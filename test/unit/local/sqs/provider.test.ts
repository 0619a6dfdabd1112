/**
 * The SQS provider's contract with the runtime: matching, deploying template resources,
 * and the in-process API other providers call, including long polls that stop() ends.
 * No sockets: requests go straight to `handle`.
 */
import {
  createSqsProvider,
  isSqsProvider,
  SqsApiError,
  type SqsProvider,
  SqsStoppedError,
  toLambdaSqsRecord,
} from '#local/runtime/providers/sqs';
import type { AwsRequest, DeployContext, ResolvedResource } from '#local/runtime/types';

const ENDPOINT = 'http://127.0.0.1:4566';

const context: DeployContext = {
  region: 'us-east-1',
  accountId: '000000000000',
  endpoint: ENDPOINT,
  assemblyDir: 'cdk.out',
  stackName: 'MasterOrchestrator',
  services: { get: () => undefined },
  log: () => {},
};

function resource(logicalId: string, type: string, properties: Record<string, unknown>): ResolvedResource {
  return { logicalId, type, properties, metadata: {} };
}

function request(operation: string, body: unknown): AwsRequest {
  return {
    method: 'POST',
    path: '/',
    query: new URLSearchParams(),
    headers: { 'content-type': 'application/x-amz-json-1.0' },
    body: Buffer.from(JSON.stringify(body)),
    region: 'us-east-1',
    signingService: 'sqs',
    target: `AmazonSQS.${operation}`,
  };
}

async function call(provider: SqsProvider, operation: string, body: unknown) {
  const response = await provider.handle(request(operation, body));
  return { status: response.status, json: JSON.parse(String(response.body)) as Record<string, unknown> };
}

async function deployQueue(
  provider: SqsProvider,
  logicalId: string,
  properties: Record<string, unknown> = {},
) {
  if (!provider.deploy) throw new Error('the SQS provider must deploy');
  return provider.deploy(resource(logicalId, 'AWS::SQS::Queue', properties), context);
}

let provider: SqsProvider;

beforeEach(async () => {
  provider = createSqsProvider();
  await provider.start?.(context);
});

afterEach(async () => {
  await provider.stop?.();
});

describe('matching', () => {
  it('serves requests by X-Amz-Target or by the SigV4 signing name', () => {
    // Prepare
    const byTarget = { ...request('ListQueues', {}), signingService: undefined };
    const bySigning = { ...request('ListQueues', {}), target: undefined };
    const other = {
      ...request('ListQueues', {}),
      signingService: 'dynamodb',
      target: 'DynamoDB_20120810.ListTables',
    };

    // Act & Assess
    expect(provider.matches(byTarget)).toBe(true);
    expect(provider.matches(bySigning)).toBe(true);
    expect(provider.matches(other)).toBe(false);
    expect(provider.resourceTypes).toEqual(['AWS::SQS::Queue', 'AWS::SQS::QueuePolicy']);
    expect(isSqsProvider(provider)).toBe(true);
  });

  it('answers a signed request without X-Amz-Target with a protocol error', async () => {
    // Act
    const response = await provider.handle({ ...request('ListQueues', {}), target: undefined });

    // Assess
    expect(response.status).toBe(400);
    expect(JSON.parse(String(response.body)).__type).toBe('com.amazon.coral.service#SerializationException');
  });
});

describe('deploy', () => {
  it('creates a named queue whose Ref is its URL, resolving a RedrivePolicy given as an object', async () => {
    // Prepare
    const dlq = await deployQueue(provider, 'DeadLetters', { QueueName: 'agent-dlq' });

    // Act
    const queue = await deployQueue(provider, 'AgentQueue', {
      QueueName: 'agent-tasks',
      VisibilityTimeout: 60,
      RedrivePolicy: { deadLetterTargetArn: dlq.attributes?.Arn, maxReceiveCount: 5 },
      Tags: [{ Key: 'team', Value: 'sre' }],
    });
    const { json } = await call(provider, 'GetQueueAttributes', {
      QueueUrl: queue.ref,
      AttributeNames: ['All'],
    });

    // Assess
    expect(queue).toEqual({
      ref: `${ENDPOINT}/000000000000/agent-tasks`,
      attributes: {
        Arn: 'arn:aws:sqs:us-east-1:000000000000:agent-tasks',
        QueueName: 'agent-tasks',
        QueueUrl: `${ENDPOINT}/000000000000/agent-tasks`,
      },
    });
    expect(json.Attributes).toMatchObject({
      VisibilityTimeout: '60',
      RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlq.attributes?.Arn, maxReceiveCount: 5 }),
    });
  });

  it('generates <stack>-<logicalId>-<suffix> names, with .fifo for FIFO queues', async () => {
    // Act
    const standard = await deployQueue(provider, 'WorkQueue');
    const fifo = await deployQueue(provider, 'OrderedQueue', {
      FifoQueue: true,
      ContentBasedDeduplication: true,
    });

    // Assess
    expect(standard.attributes?.QueueName).toMatch(/^MasterOrchestrator-WorkQueue-[A-Z0-9]{12}$/);
    expect(fifo.attributes?.QueueName).toMatch(/^MasterOrchestrator-OrderedQueue-[A-Z0-9]{12}\.fifo$/);
  });

  it('updates a queue in place on redeploy', async () => {
    // Prepare
    await deployQueue(provider, 'Jobs', { QueueName: 'jobs', VisibilityTimeout: 30 });

    // Act
    const again = await deployQueue(provider, 'Jobs', { QueueName: 'jobs', VisibilityTimeout: 90 });

    // Assess
    expect(await provider.describeQueue(again.ref)).toMatchObject({
      name: 'jobs',
      visibilityTimeoutSeconds: 90,
    });
  });

  it('applies an AWS::SQS::QueuePolicy to each of its queues', async () => {
    // Prepare
    const queue = await deployQueue(provider, 'Inbox', { QueueName: 'inbox' });
    const PolicyDocument = {
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Action: 'sqs:SendMessage' }],
    };

    // Act
    const policy = await provider.deploy?.(
      resource('InboxPolicy', 'AWS::SQS::QueuePolicy', { Queues: [queue.ref], PolicyDocument }),
      context,
    );
    const { json } = await call(provider, 'GetQueueAttributes', {
      QueueUrl: queue.ref,
      AttributeNames: ['Policy'],
    });

    // Assess
    expect(policy?.ref).toMatch(/^MasterOrchestrator-InboxPolicy-/);
    expect(JSON.parse(String((json.Attributes as Record<string, string>).Policy))).toEqual(PolicyDocument);
  });

  it('rejects a RedrivePolicy onto a queue that does not exist', async () => {
    // Act
    const deploying = deployQueue(provider, 'Orphan', {
      RedrivePolicy: {
        deadLetterTargetArn: 'arn:aws:sqs:us-east-1:000000000000:nowhere',
        maxReceiveCount: 3,
      },
    });

    // Assess
    await expect(deploying).rejects.toThrow('Dead letter target does not exist.');
  });
});

describe('the in-process API', () => {
  it('sends by URL or ARN and receives every attribute, shaped for a Lambda event', async () => {
    // Prepare
    const queue = await deployQueue(provider, 'Tasks', { QueueName: 'tasks' });
    const arn = queue.attributes?.Arn ?? '';
    await provider.sendMessage(queue.ref, 'by url', { kind: { DataType: 'String', StringValue: 'a' } });
    await provider.sendMessage(arn, 'by arn', {
      raw: { DataType: 'Binary', BinaryValue: Buffer.from([1, 2]) },
    });

    // Act
    const messages = await provider.receiveMessages(arn, { max: 10, visibilityTimeoutSeconds: 5 });
    const records = messages.map((message) => toLambdaSqsRecord(message, 'us-east-1'));

    // Assess
    expect(records).toEqual([
      expect.objectContaining({
        body: 'by url',
        eventSource: 'aws:sqs',
        eventSourceARN: arn,
        awsRegion: 'us-east-1',
        attributes: expect.objectContaining({ ApproximateReceiveCount: '1', SenderId: '000000000000' }),
        messageAttributes: {
          kind: { stringValue: 'a', stringListValues: [], binaryListValues: [], dataType: 'String' },
        },
        md5OfMessageAttributes: expect.stringMatching(/^[0-9a-f]{32}$/),
      }),
      expect.objectContaining({
        body: 'by arn',
        messageAttributes: {
          raw: { binaryValue: 'AQI=', stringListValues: [], binaryListValues: [], dataType: 'Binary' },
        },
      }),
    ]);
  });

  it('deletes, and releases with changeVisibility 0', async () => {
    // Prepare
    const { ref } = await deployQueue(provider, 'Work', { QueueName: 'work' });
    await provider.sendMessage(ref, 'one');
    await provider.sendMessage(ref, 'two');
    const [first, second] = await provider.receiveMessages(ref, { max: 2 });

    // Act
    await provider.deleteMessage(ref, first?.receiptHandle ?? '');
    await provider.changeVisibility(ref, second?.receiptHandle ?? '', 0);
    const again = await provider.receiveMessages(ref, { max: 10 });

    // Assess
    expect(again.map((m) => [m.body, m.attributes.ApproximateReceiveCount])).toEqual([['two', '2']]);
  });

  it('answers a long poll as soon as a message is sent in process', async () => {
    // Prepare
    const { ref } = await deployQueue(provider, 'Waiting', { QueueName: 'waiting' });
    const polling = provider.receiveMessages(ref, { waitSeconds: 20 });

    // Act
    await provider.sendMessage(ref, 'hello');

    // Assess
    await expect(polling).resolves.toEqual([expect.objectContaining({ body: 'hello' })]);
  });

  it('ends pending long polls on stop(), then rejects new receives', async () => {
    // Prepare
    const { ref } = await deployQueue(provider, 'Idle', { QueueName: 'idle' });
    const polling = provider.receiveMessages(ref, { waitSeconds: 20 });

    // Act
    await provider.stop?.();

    // Assess
    await expect(polling).resolves.toEqual([]);
    await expect(provider.receiveMessages(ref, { waitSeconds: 1 })).rejects.toBeInstanceOf(SqsStoppedError);
  });

  it('ends a long poll when its signal aborts', async () => {
    // Prepare
    const { ref } = await deployQueue(provider, 'Abortable', { QueueName: 'abortable' });
    const controller = new AbortController();
    const polling = provider.receiveMessages(ref, { waitSeconds: 20, signal: controller.signal });

    // Act
    controller.abort();

    // Assess
    await expect(polling).resolves.toEqual([]);
  });

  it('fails with QueueDoesNotExist for an unknown queue', async () => {
    // Act
    const sending = provider.sendMessage('arn:aws:sqs:us-east-1:000000000000:missing', 'x');

    // Assess
    await expect(sending).rejects.toBeInstanceOf(SqsApiError);
    await expect(sending).rejects.toMatchObject({ shape: 'QueueDoesNotExist' });
  });
});
