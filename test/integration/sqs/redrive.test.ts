/**
 * SQS conformance, dead-letter queues: RedrivePolicy, ListDeadLetterSourceQueues and
 * the message move tasks (StartMessageMoveTask, ListMessageMoveTasks,
 * CancelMessageMoveTask), over the real SDK v3.
 */
import {
  CancelMessageMoveTaskCommand,
  ChangeMessageVisibilityBatchCommand,
  CreateQueueCommand,
  GetQueueAttributesCommand,
  ListDeadLetterSourceQueuesCommand,
  ListMessageMoveTasksCommand,
  type ListMessageMoveTasksResultEntry,
  ReceiveMessageCommand,
  type ReceiveMessageCommandInput,
  ResourceNotFoundException,
  SendMessageBatchCommand,
  SendMessageCommand,
  StartMessageMoveTaskCommand,
} from '@aws-sdk/client-sqs';
import { rejection, type SqsTarget, sleep, startSqsTarget, uniqueQueueName } from './harness';

let sqs: SqsTarget;

beforeAll(async () => {
  sqs = await startSqsTarget();
});

afterAll(async () => {
  await sqs.close();
});

interface Queue {
  readonly name: string;
  readonly url: string;
  readonly arn: string;
}

async function createQueue(label: string, Attributes?: Record<string, string>): Promise<Queue> {
  const name = uniqueQueueName(label);
  const { QueueUrl } = await sqs.client.send(new CreateQueueCommand({ QueueName: name, Attributes }));
  if (!QueueUrl) throw new Error('CreateQueue returned no QueueUrl');
  return { name, url: QueueUrl, arn: sqs.arnOf(name) };
}

/** A source queue whose messages go to a fresh dead-letter queue after `maxReceiveCount` receives. */
async function createPair(label: string, maxReceiveCount: number): Promise<{ source: Queue; dlq: Queue }> {
  const dlq = await createQueue(`${label}-dlq`);
  const source = await createQueue(label, {
    RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlq.arn, maxReceiveCount }),
  });
  return { source, dlq };
}

async function receive(input: ReceiveMessageCommandInput) {
  const { Messages } = await sqs.client.send(new ReceiveMessageCommand(input));
  return Messages ?? [];
}

/** Receives up to 10 messages and makes them visible again at once: one failed delivery each. */
async function failDeliveries(QueueUrl: string): Promise<number> {
  const messages = await receive({ QueueUrl, MaxNumberOfMessages: 10 });
  if (messages.length > 0) {
    await sqs.client.send(
      new ChangeMessageVisibilityBatchCommand({
        QueueUrl,
        Entries: messages.map((m, i) => ({
          Id: `m${i}`,
          ReceiptHandle: m.ReceiptHandle,
          VisibilityTimeout: 0,
        })),
      }),
    );
  }
  return messages.length;
}

async function countOf(QueueUrl: string): Promise<number> {
  const { Attributes } = await sqs.client.send(
    new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['ApproximateNumberOfMessages'] }),
  );
  return Number(Attributes?.ApproximateNumberOfMessages);
}

/** Fills `dlq` through the redrive of `source` (maxReceiveCount 1), so each message knows its source. */
async function deadLetter(source: Queue, bodies: readonly string[]): Promise<void> {
  await sqs.client.send(
    new SendMessageBatchCommand({
      QueueUrl: source.url,
      Entries: bodies.map((MessageBody, i) => ({ Id: `m${i}`, MessageBody })),
    }),
  );
  await failDeliveries(source.url);
  await receive({ QueueUrl: source.url, MaxNumberOfMessages: 10 });
}

async function latestTask(SourceArn: string, until: (task: ListMessageMoveTasksResultEntry) => boolean) {
  for (let attempt = 0; attempt < 50; attempt += 1) {
    const { Results } = await sqs.client.send(new ListMessageMoveTasksCommand({ SourceArn }));
    const task = Results?.[0];
    if (task && until(task)) return task;
    await sleep(100);
  }
  throw new Error(`no move task from ${SourceArn} reached the expected state`);
}

describe('RedrivePolicy', () => {
  it('moves a message to the DLQ on the receive after maxReceiveCount receives', async () => {
    // Prepare
    const { source, dlq } = await createPair('redrive', 2);
    const sent = await sqs.client.send(
      new SendMessageCommand({ QueueUrl: source.url, MessageBody: 'poison' }),
    );

    // Act
    const first = await failDeliveries(source.url);
    const second = await failDeliveries(source.url);
    const third = await receive({ QueueUrl: source.url });
    const [dead] = await receive({
      QueueUrl: dlq.url,
      MessageSystemAttributeNames: ['DeadLetterQueueSourceArn', 'SentTimestamp'],
    });

    // Assess
    expect([first, second]).toEqual([1, 1]);
    expect(third).toEqual([]);
    expect(dead).toMatchObject({ MessageId: sent.MessageId, Body: 'poison' });
    expect(dead?.Attributes?.DeadLetterQueueSourceArn).toBe(source.arn);
    expect(await countOf(source.url)).toBe(0);
  });

  it('lists the source queues of a dead-letter queue', async () => {
    // Prepare
    const dlq = await createQueue('sources-dlq');
    const RedrivePolicy = JSON.stringify({ deadLetterTargetArn: dlq.arn, maxReceiveCount: 5 });
    const a = await createQueue('source-a', { RedrivePolicy });
    const b = await createQueue('source-b', { RedrivePolicy });
    await createQueue('not-a-source');

    // Act
    const { queueUrls } = await sqs.client.send(new ListDeadLetterSourceQueuesCommand({ QueueUrl: dlq.url }));

    // Assess
    expect([...(queueUrls ?? [])].sort()).toEqual([a.url, b.url].sort());
  });
});

describe('message move tasks', () => {
  it('moves messages from a DLQ back to their source queue', async () => {
    // Prepare
    const { source, dlq } = await createPair('move-back', 1);
    await deadLetter(source, ['one', 'two', 'three']);
    const inDlq = await countOf(dlq.url);

    // Act
    const { TaskHandle } = await sqs.client.send(new StartMessageMoveTaskCommand({ SourceArn: dlq.arn }));
    const task = await latestTask(dlq.arn, (t) => t.Status === 'COMPLETED');
    const moved = await receive({ QueueUrl: source.url, MaxNumberOfMessages: 10 });

    // Assess
    expect(inDlq).toBe(3);
    expect(TaskHandle).toEqual(expect.any(String));
    expect(task).toMatchObject({
      Status: 'COMPLETED',
      SourceArn: dlq.arn,
      ApproximateNumberOfMessagesMoved: 3,
      ApproximateNumberOfMessagesToMove: 3,
      StartedTimestamp: expect.any(Number),
    });
    expect(task.TaskHandle).toBeUndefined();
    expect(moved.map((m) => m.Body).sort()).toEqual(['one', 'three', 'two']);
    expect(await countOf(dlq.url)).toBe(0);
  });

  it('moves messages to a DestinationArn', async () => {
    // Prepare
    const { source, dlq } = await createPair('move-dest', 1);
    const destination = await createQueue('move-destination');
    await deadLetter(source, ['x', 'y']);

    // Act
    await sqs.client.send(
      new StartMessageMoveTaskCommand({ SourceArn: dlq.arn, DestinationArn: destination.arn }),
    );
    const task = await latestTask(dlq.arn, (t) => t.Status === 'COMPLETED');
    const moved = await receive({ QueueUrl: destination.url, MaxNumberOfMessages: 10 });

    // Assess
    expect(task).toMatchObject({ DestinationArn: destination.arn, ApproximateNumberOfMessagesMoved: 2 });
    expect(moved.map((m) => m.Body).sort()).toEqual(['x', 'y']);
    expect(await countOf(source.url)).toBe(0);
  });

  it('cancels a running task', async () => {
    // Prepare
    const { source, dlq } = await createPair('move-cancel', 1);
    await deadLetter(source, ['1', '2', '3', '4', '5', '6']);
    await sqs.client.send(
      new StartMessageMoveTaskCommand({ SourceArn: dlq.arn, MaxNumberOfMessagesPerSecond: 1 }),
    );
    const running = await latestTask(dlq.arn, (t) => t.Status === 'RUNNING');

    // Act
    const cancelled = await sqs.client.send(
      new CancelMessageMoveTaskCommand({ TaskHandle: running.TaskHandle }),
    );
    const task = await latestTask(dlq.arn, (t) => t.Status === 'CANCELLED');

    // Assess
    expect(running).toMatchObject({ MaxNumberOfMessagesPerSecond: 1, ApproximateNumberOfMessagesToMove: 6 });
    expect(cancelled.ApproximateNumberOfMessagesMoved).toBeLessThan(6);
    expect(task.ApproximateNumberOfMessagesMoved).toBeLessThan(6);
    expect(await countOf(dlq.url)).toBeGreaterThan(0);
  });

  it('rejects a source that is not a dead-letter queue, and an unknown task handle', async () => {
    // Prepare
    const plain = await createQueue('move-plain');

    // Act
    const notDlq = await rejection(
      sqs.client.send(new StartMessageMoveTaskCommand({ SourceArn: plain.arn })),
    );
    const unknown = await rejection(
      sqs.client.send(new CancelMessageMoveTaskCommand({ TaskHandle: 'bm9wZQ==' })),
    );

    // Assess
    expect(notDlq.$metadata.httpStatusCode).toBe(400);
    expect(unknown).toBeInstanceOf(ResourceNotFoundException);
  });
});
