/**
 * SQS conformance, FIFO queues: naming, MessageGroupId, deduplication (explicit and
 * content-based), ordering within a group, and a group blocked while a message of it is
 * in flight, over the real SDK v3.
 */
import {
  ChangeMessageVisibilityCommand,
  CreateQueueCommand,
  ReceiveMessageCommand,
  type ReceiveMessageCommandInput,
  SendMessageCommand,
  type SendMessageCommandInput,
} from '@aws-sdk/client-sqs';
import { rejection, type SqsTarget, startSqsTarget, uniqueQueueName } from './harness';

let sqs: SqsTarget;

beforeAll(async () => {
  sqs = await startSqsTarget();
});

afterAll(async () => {
  await sqs.close();
});

async function createFifoQueue(label: string, Attributes: Record<string, string> = {}): Promise<string> {
  const { QueueUrl } = await sqs.client.send(
    new CreateQueueCommand({
      QueueName: `${uniqueQueueName(label)}.fifo`,
      Attributes: { FifoQueue: 'true', ...Attributes },
    }),
  );
  if (!QueueUrl) throw new Error('CreateQueue returned no QueueUrl');
  return QueueUrl;
}

const send = (input: SendMessageCommandInput) => sqs.client.send(new SendMessageCommand(input));

async function receive(input: ReceiveMessageCommandInput) {
  const { Messages } = await sqs.client.send(new ReceiveMessageCommand(input));
  return Messages ?? [];
}

describe('FIFO queues', () => {
  it('requires the .fifo suffix exactly when FifoQueue is true', async () => {
    // Act
    const noSuffix = await rejection(
      sqs.client.send(
        new CreateQueueCommand({
          QueueName: uniqueQueueName('no-suffix'),
          Attributes: { FifoQueue: 'true' },
        }),
      ),
    );
    const noAttribute = await rejection(
      sqs.client.send(new CreateQueueCommand({ QueueName: `${uniqueQueueName('no-attr')}.fifo` })),
    );

    // Assess
    expect(noSuffix.name).toBe('InvalidParameterValue');
    expect(noAttribute.name).toBe('InvalidParameterValue');
  });

  it('rejects a message without MessageGroupId, or without any deduplication', async () => {
    // Prepare
    const QueueUrl = await createFifoQueue('fifo-rules');

    // Act
    const noGroup = await rejection(send({ QueueUrl, MessageBody: 'x', MessageDeduplicationId: 'd1' }));
    const noDeduplication = await rejection(send({ QueueUrl, MessageBody: 'x', MessageGroupId: 'g' }));
    const delayed = await rejection(
      send({
        QueueUrl,
        MessageBody: 'x',
        MessageGroupId: 'g',
        MessageDeduplicationId: 'd2',
        DelaySeconds: 1,
      }),
    );

    // Assess
    expect(noGroup.name).toBe('MissingParameter');
    expect(noDeduplication.name).toBe('InvalidParameterValue');
    expect(delayed.name).toBe('InvalidParameterValue');
  });

  it('drops a duplicate within the deduplication interval, answering with the first MessageId', async () => {
    // Prepare
    const QueueUrl = await createFifoQueue('fifo-dedup');

    // Act
    const first = await send({
      QueueUrl,
      MessageBody: 'once',
      MessageGroupId: 'g',
      MessageDeduplicationId: 'same',
    });
    const second = await send({
      QueueUrl,
      MessageBody: 'twice',
      MessageGroupId: 'g',
      MessageDeduplicationId: 'same',
    });
    const messages = await receive({ QueueUrl, MaxNumberOfMessages: 10 });

    // Assess
    expect(second.MessageId).toBe(first.MessageId);
    expect(second.SequenceNumber).toBe(first.SequenceNumber);
    expect(messages.map((m) => m.Body)).toEqual(['once']);
  });

  it('deduplicates by body with ContentBasedDeduplication', async () => {
    // Prepare
    const QueueUrl = await createFifoQueue('fifo-content', { ContentBasedDeduplication: 'true' });

    // Act
    await send({ QueueUrl, MessageBody: 'same body', MessageGroupId: 'g' });
    await send({ QueueUrl, MessageBody: 'same body', MessageGroupId: 'g' });
    await send({ QueueUrl, MessageBody: 'other body', MessageGroupId: 'g' });
    const messages = await receive({ QueueUrl, MaxNumberOfMessages: 10 });

    // Assess
    expect(messages.map((m) => m.Body)).toEqual(['same body', 'other body']);
  });

  it('delivers a group in order and holds it while one of its messages is in flight', async () => {
    // Prepare
    const QueueUrl = await createFifoQueue('fifo-order');
    for (const [group, body] of [
      ['a', 'a1'],
      ['a', 'a2'],
      ['b', 'b1'],
      ['a', 'a3'],
    ]) {
      await send({ QueueUrl, MessageBody: body, MessageGroupId: group, MessageDeduplicationId: body });
    }

    // Act
    const first = await receive({ QueueUrl, MaxNumberOfMessages: 10, MessageSystemAttributeNames: ['All'] });
    await send({ QueueUrl, MessageBody: 'a4', MessageGroupId: 'a', MessageDeduplicationId: 'a4' });
    const whileInFlight = await receive({ QueueUrl, MaxNumberOfMessages: 10 });
    const a1 = first.find((m) => m.Body === 'a1');
    await sqs.client.send(
      new ChangeMessageVisibilityCommand({
        QueueUrl,
        ReceiptHandle: a1?.ReceiptHandle,
        VisibilityTimeout: 0,
      }),
    );
    const afterRelease = await receive({ QueueUrl, MaxNumberOfMessages: 10 });

    // Assess
    expect(first.map((m) => m.Body)).toEqual(['a1', 'a2', 'b1', 'a3']);
    const sequence = first.map((m) => BigInt(m.Attributes?.SequenceNumber ?? '0'));
    expect([...sequence].sort((x, y) => (x < y ? -1 : 1))).toEqual(sequence);
    expect(first[0]?.Attributes).toMatchObject({ MessageGroupId: 'a', MessageDeduplicationId: 'a1' });
    expect(whileInFlight).toEqual([]);
    expect(afterRelease.map((m) => m.Body)).toEqual(['a1']);
  });
});
