/**
 * SQS conformance, messages: SendMessage(Batch), ReceiveMessage (visibility, long
 * polling, system and message attributes), DeleteMessage(Batch) and
 * ChangeMessageVisibility(Batch), over the real SDK v3.
 *
 * The SDK checks MD5OfMessageBody itself; MD5OfMessageAttributes is checked here against
 * the examples in AWS's documentation and an independent implementation of its algorithm.
 */
import { createHash } from 'node:crypto';
import {
  BatchEntryIdsNotDistinct,
  ChangeMessageVisibilityBatchCommand,
  ChangeMessageVisibilityCommand,
  CreateQueueCommand,
  DeleteMessageBatchCommand,
  DeleteMessageCommand,
  EmptyBatchRequest,
  GetQueueAttributesCommand,
  type MessageAttributeValue,
  MessageNotInflight,
  ReceiptHandleIsInvalid,
  ReceiveMessageCommand,
  type ReceiveMessageCommandInput,
  SendMessageBatchCommand,
  SendMessageCommand,
  TooManyEntriesInBatchRequest,
} from '@aws-sdk/client-sqs';
import { rejection, type SqsTarget, sleep, startSqsTarget, uniqueQueueName } from './harness';

let sqs: SqsTarget;

beforeAll(async () => {
  sqs = await startSqsTarget();
});

afterAll(async () => {
  await sqs.close();
});

async function createQueue(label: string, Attributes?: Record<string, string>): Promise<string> {
  const { QueueUrl } = await sqs.client.send(
    new CreateQueueCommand({ QueueName: uniqueQueueName(label), Attributes }),
  );
  if (!QueueUrl) throw new Error('CreateQueue returned no QueueUrl');
  return QueueUrl;
}

async function receive(input: ReceiveMessageCommandInput) {
  const { Messages } = await sqs.client.send(new ReceiveMessageCommand(input));
  return Messages ?? [];
}

async function countsOf(QueueUrl: string): Promise<Record<string, string>> {
  const { Attributes } = await sqs.client.send(
    new GetQueueAttributesCommand({
      QueueUrl,
      AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
    }),
  );
  return Attributes ?? {};
}

const md5 = (data: string | Uint8Array): string => createHash('md5').update(data).digest('hex');

/**
 * AWS's documented digest of message attributes, written independently of the provider:
 * per attribute in name order, length-prefixed name and data type, a transport byte
 * (1 string, 2 binary), then the length-prefixed value.
 */
function specMd5OfAttributes(attributes: Record<string, MessageAttributeValue>): string {
  const parts: Buffer[] = [];
  const withLength = (bytes: Buffer): Buffer => {
    const length = Buffer.alloc(4);
    length.writeUInt32BE(bytes.length);
    return Buffer.concat([length, bytes]);
  };
  for (const name of Object.keys(attributes).sort()) {
    const attribute = attributes[name] as MessageAttributeValue;
    parts.push(withLength(Buffer.from(name)), withLength(Buffer.from(attribute.DataType ?? '')));
    if (attribute.BinaryValue) {
      parts.push(Buffer.from([2]), withLength(Buffer.from(attribute.BinaryValue)));
    } else {
      parts.push(Buffer.from([1]), withLength(Buffer.from(attribute.StringValue ?? '')));
    }
  }
  return md5(Buffer.concat(parts));
}

describe('SendMessage', () => {
  it('answers with the MD5 of the body and none for attributes when there are none', async () => {
    // Prepare
    const QueueUrl = await createQueue('send-plain');
    const MessageBody = 'héllo wörld ✓';

    // Act
    const sent = await sqs.client.send(new SendMessageCommand({ QueueUrl, MessageBody }));

    // Assess
    expect(sent.MessageId).toMatch(/^[0-9a-f-]{36}$/);
    expect(sent.MD5OfMessageBody).toBe(md5(MessageBody));
    expect(sent.MD5OfMessageAttributes).toBeUndefined();
  });

  it('computes MD5OfMessageAttributes as AWS does (the documentation examples)', async () => {
    // Prepare
    const QueueUrl = await createQueue('send-md5');

    // Act
    const one = await sqs.client.send(
      new SendMessageCommand({
        QueueUrl,
        MessageBody: 'x',
        MessageAttributes: { SellerName: { DataType: 'String', StringValue: 'Example Store' } },
      }),
    );
    const five = await sqs.client.send(
      new SendMessageCommand({
        QueueUrl,
        MessageBody: 'x',
        MessageAttributes: {
          City: { DataType: 'String', StringValue: 'Any City' },
          PostalCode: { DataType: 'String', StringValue: '99065' },
          PricePerGallon: { DataType: 'Number', StringValue: '1.99' },
          Region: { DataType: 'String', StringValue: 'WA' },
          SellerName: { DataType: 'String', StringValue: 'Example Store' },
        },
      }),
    );

    // Assess
    expect(one.MD5OfMessageAttributes).toBe('cd28f3b68aeee4b2eac9c66f2f694b58');
    expect(five.MD5OfMessageAttributes).toBe('10809b55e3d9b22c17220b7dbaf283ef');
  });

  it('round-trips String, Number, Binary and custom-typed attributes', async () => {
    // Prepare
    const QueueUrl = await createQueue('send-attrs');
    const MessageAttributes: Record<string, MessageAttributeValue> = {
      text: { DataType: 'String', StringValue: 'ünïcode' },
      count: { DataType: 'Number', StringValue: '42' },
      blob: { DataType: 'Binary', BinaryValue: Uint8Array.from([0, 1, 2, 254, 255]) },
      'custom.label': { DataType: 'String.Custom', StringValue: 'labelled' },
    };

    // Act
    const sent = await sqs.client.send(
      new SendMessageCommand({ QueueUrl, MessageBody: 'with attributes', MessageAttributes }),
    );
    const [message] = await receive({ QueueUrl, MessageAttributeNames: ['All'] });
    const [only] = await (async () => {
      await sqs.client.send(
        new ChangeMessageVisibilityCommand({
          QueueUrl,
          ReceiptHandle: message?.ReceiptHandle,
          VisibilityTimeout: 0,
        }),
      );
      return receive({ QueueUrl, MessageAttributeNames: ['count', 'custom.*'] });
    })();

    // Assess
    expect(sent.MD5OfMessageAttributes).toBe(specMd5OfAttributes(MessageAttributes));
    expect(message?.MessageAttributes).toEqual({
      text: { DataType: 'String', StringValue: 'ünïcode' },
      count: { DataType: 'Number', StringValue: '42' },
      blob: { DataType: 'Binary', BinaryValue: Uint8Array.from([0, 1, 2, 254, 255]) },
      'custom.label': { DataType: 'String.Custom', StringValue: 'labelled' },
    });
    expect(message?.MD5OfMessageAttributes).toBe(sent.MD5OfMessageAttributes);
    expect(Object.keys(only?.MessageAttributes ?? {}).sort()).toEqual(['count', 'custom.label']);
    expect(only?.MD5OfMessageAttributes).toBe(
      specMd5OfAttributes({
        count: MessageAttributes.count as MessageAttributeValue,
        'custom.label': MessageAttributes['custom.label'] as MessageAttributeValue,
      }),
    );
  });

  it('rejects an attribute with an unknown data type', async () => {
    // Prepare
    const QueueUrl = await createQueue('send-bad-type');

    // Act
    const error = await rejection(
      sqs.client.send(
        new SendMessageCommand({
          QueueUrl,
          MessageBody: 'x',
          MessageAttributes: { a: { DataType: 'Colour', StringValue: 'red' } },
        }),
      ),
    );

    // Assess
    expect(error.$metadata.httpStatusCode).toBe(400);
    expect(error.name).toBe('InvalidParameterValue');
  });

  it('rejects characters outside the allowed Unicode set', async () => {
    // Prepare
    const QueueUrl = await createQueue('send-bad-chars');

    // Act
    const error = await rejection(
      sqs.client.send(new SendMessageCommand({ QueueUrl, MessageBody: 'a\u0000b' })),
    );

    // Assess
    expect(error.name).toBe('InvalidMessageContents');
  });

  it('delays a message by DelaySeconds', async () => {
    // Prepare
    const QueueUrl = await createQueue('send-delay');
    await sqs.client.send(new SendMessageCommand({ QueueUrl, MessageBody: 'late', DelaySeconds: 1 }));

    // Act
    const early = await receive({ QueueUrl });
    const delayed = await sqs.client.send(
      new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['ApproximateNumberOfMessagesDelayed'] }),
    );
    const later = await receive({ QueueUrl, WaitTimeSeconds: 3 });

    // Assess
    expect(early).toEqual([]);
    expect(delayed.Attributes).toEqual({ ApproximateNumberOfMessagesDelayed: '1' });
    expect(later.map((m) => m.Body)).toEqual(['late']);
  });

  it('applies the queue DelaySeconds when the message gives none', async () => {
    // Prepare
    const QueueUrl = await createQueue('queue-delay', { DelaySeconds: '1' });
    await sqs.client.send(new SendMessageCommand({ QueueUrl, MessageBody: 'late' }));

    // Act
    const early = await receive({ QueueUrl });
    const later = await receive({ QueueUrl, WaitTimeSeconds: 3 });

    // Assess
    expect(early).toEqual([]);
    expect(later.map((m) => m.Body)).toEqual(['late']);
  });
});

describe('SendMessageBatch', () => {
  it('sends the valid entries and reports the invalid ones in Failed', async () => {
    // Prepare
    const QueueUrl = await createQueue('batch');

    // Act
    const result = await sqs.client.send(
      new SendMessageBatchCommand({
        QueueUrl,
        Entries: [
          { Id: 'ok-1', MessageBody: 'first' },
          { Id: 'bad-chars', MessageBody: 'a\u0001b' },
          {
            Id: 'ok-2',
            MessageBody: 'second',
            MessageAttributes: { k: { DataType: 'String', StringValue: 'v' } },
          },
        ],
      }),
    );
    const messages = await receive({ QueueUrl, MaxNumberOfMessages: 10 });

    // Assess
    expect(result.Successful?.map((entry) => entry.Id).sort()).toEqual(['ok-1', 'ok-2']);
    const second = result.Successful?.find((entry) => entry.Id === 'ok-2');
    expect(second).toMatchObject({
      MD5OfMessageBody: md5('second'),
      MD5OfMessageAttributes: specMd5OfAttributes({ k: { DataType: 'String', StringValue: 'v' } }),
    });
    expect(result.Failed).toEqual([
      { Id: 'bad-chars', SenderFault: true, Code: 'InvalidMessageContents', Message: expect.any(String) },
    ]);
    expect(messages.map((m) => m.Body).sort()).toEqual(['first', 'second']);
  });

  it('rejects duplicate ids, more than 10 entries, and an empty batch', async () => {
    // Prepare
    const QueueUrl = await createQueue('batch-bad');
    const eleven = Array.from({ length: 11 }, (_, i) => ({ Id: `m${i}`, MessageBody: `${i}` }));

    // Act
    const duplicate = await rejection(
      sqs.client.send(
        new SendMessageBatchCommand({
          QueueUrl,
          Entries: [
            { Id: 'same', MessageBody: 'a' },
            { Id: 'same', MessageBody: 'b' },
          ],
        }),
      ),
    );
    const tooMany = await rejection(
      sqs.client.send(new SendMessageBatchCommand({ QueueUrl, Entries: eleven })),
    );
    const empty = await rejection(sqs.client.send(new SendMessageBatchCommand({ QueueUrl, Entries: [] })));
    const counts = await countsOf(QueueUrl);

    // Assess
    expect(duplicate).toBeInstanceOf(BatchEntryIdsNotDistinct);
    expect(tooMany).toBeInstanceOf(TooManyEntriesInBatchRequest);
    expect(empty).toBeInstanceOf(EmptyBatchRequest);
    expect(counts.ApproximateNumberOfMessages).toBe('0');
  });
});

describe('ReceiveMessage', () => {
  it('returns at most MaxNumberOfMessages, and rejects values outside 1–10', async () => {
    // Prepare
    const QueueUrl = await createQueue('receive-max');
    const entries = (from: number) =>
      Array.from({ length: 6 }, (_, i) => ({ Id: `m${from + i}`, MessageBody: `${from + i}` }));
    await sqs.client.send(new SendMessageBatchCommand({ QueueUrl, Entries: entries(0) }));
    await sqs.client.send(new SendMessageBatchCommand({ QueueUrl, Entries: entries(6) }));

    // Act
    const one = await receive({ QueueUrl });
    const ten = await receive({ QueueUrl, MaxNumberOfMessages: 10 });
    const rest = await receive({ QueueUrl, MaxNumberOfMessages: 10 });
    const eleven = await rejection(receive({ QueueUrl, MaxNumberOfMessages: 11 }));
    const zero = await rejection(receive({ QueueUrl, MaxNumberOfMessages: 0 }));

    // Assess
    expect(one).toHaveLength(1);
    expect(ten).toHaveLength(10);
    expect(rest).toHaveLength(1);
    expect(new Set([...one, ...ten, ...rest].map((m) => m.Body)).size).toBe(12);
    expect(eleven.name).toBe('InvalidParameterValue');
    expect(zero.name).toBe('InvalidParameterValue');
  });

  it('hides a received message for the VisibilityTimeout, then delivers it again', async () => {
    // Prepare
    const QueueUrl = await createQueue('visibility');
    const sent = await sqs.client.send(new SendMessageCommand({ QueueUrl, MessageBody: 'again' }));

    // Act
    const [first] = await receive({ QueueUrl, VisibilityTimeout: 1, MessageSystemAttributeNames: ['All'] });
    const hidden = await receive({ QueueUrl });
    const counts = await countsOf(QueueUrl);
    await sleep(1200);
    const [second] = await receive({ QueueUrl, MessageSystemAttributeNames: ['All'] });

    // Assess
    expect(first?.MessageId).toBe(sent.MessageId);
    expect(hidden).toEqual([]);
    expect(counts).toEqual({ ApproximateNumberOfMessages: '0', ApproximateNumberOfMessagesNotVisible: '1' });
    expect(second?.MessageId).toBe(sent.MessageId);
    expect(second?.ReceiptHandle).not.toBe(first?.ReceiptHandle);
    expect(first?.Attributes?.ApproximateReceiveCount).toBe('1');
    expect(second?.Attributes?.ApproximateReceiveCount).toBe('2');
    expect(second?.Attributes?.SentTimestamp).toBe(first?.Attributes?.SentTimestamp);
    expect(second?.Attributes?.ApproximateFirstReceiveTimestamp).toBe(
      first?.Attributes?.ApproximateFirstReceiveTimestamp,
    );
  });

  it('returns the requested system attributes: All, a list, and the legacy AttributeNames', async () => {
    // Prepare
    const QueueUrl = await createQueue('system-attrs');
    const before = Date.now();
    await sqs.client.send(new SendMessageCommand({ QueueUrl, MessageBody: 'attrs' }));

    // Act
    const [all] = await receive({ QueueUrl, MessageSystemAttributeNames: ['All'], VisibilityTimeout: 0 });
    const [some] = await receive({
      QueueUrl,
      MessageSystemAttributeNames: ['ApproximateReceiveCount', 'SentTimestamp'],
      VisibilityTimeout: 0,
    });
    const [legacy] = await receive({ QueueUrl, AttributeNames: ['All'], VisibilityTimeout: 0 });
    const [none] = await receive({ QueueUrl });

    // Assess
    expect(all?.Attributes).toEqual({
      SenderId: expect.any(String),
      SentTimestamp: expect.stringMatching(/^\d{13}$/),
      ApproximateReceiveCount: '1',
      ApproximateFirstReceiveTimestamp: expect.stringMatching(/^\d{13}$/),
    });
    expect(Number(all?.Attributes?.SentTimestamp)).toBeGreaterThanOrEqual(before - 1000);
    expect(some?.Attributes).toEqual({
      ApproximateReceiveCount: '2',
      SentTimestamp: all?.Attributes?.SentTimestamp,
    });
    expect(legacy?.Attributes).toEqual({ ...all?.Attributes, ApproximateReceiveCount: '3' });
    expect(none?.Attributes).toBeUndefined();
    expect(none?.MessageAttributes).toBeUndefined();
  });

  it('long-polls: answers as soon as a message arrives', async () => {
    // Prepare
    const QueueUrl = await createQueue('long-poll');
    const startedAt = Date.now();

    // Act
    const polling = receive({ QueueUrl, WaitTimeSeconds: 20 });
    await sleep(300);
    await sqs.client.send(new SendMessageCommand({ QueueUrl, MessageBody: 'wake up' }));
    const messages = await polling;

    // Assess
    expect(messages.map((m) => m.Body)).toEqual(['wake up']);
    // Half the wait: only an early answer can be this quick, however loaded the machine.
    expect(Date.now() - startedAt).toBeLessThan(10_000);
  }, 30_000);

  it('long-polls: answers empty once the wait is over', async () => {
    // Prepare
    const QueueUrl = await createQueue('long-poll-empty');
    const startedAt = Date.now();

    // Act
    const messages = await receive({ QueueUrl, WaitTimeSeconds: 1 });

    // Assess
    expect(messages).toEqual([]);
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(900);
  });

  it('long-polls by default for the queue ReceiveMessageWaitTimeSeconds', async () => {
    // Prepare
    const QueueUrl = await createQueue('long-poll-queue', { ReceiveMessageWaitTimeSeconds: '1' });
    const startedAt = Date.now();

    // Act
    const messages = await receive({ QueueUrl });

    // Assess
    expect(messages).toEqual([]);
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(900);
  });

  it('rejects WaitTimeSeconds above 20', async () => {
    // Prepare
    const QueueUrl = await createQueue('long-poll-bad');

    // Act
    const error = await rejection(receive({ QueueUrl, WaitTimeSeconds: 21 }));

    // Assess
    expect(error.name).toBe('InvalidParameterValue');
  });
});

describe('DeleteMessage and DeleteMessageBatch', () => {
  it('deletes a received message; deleting it again succeeds', async () => {
    // Prepare
    const QueueUrl = await createQueue('delete');
    await sqs.client.send(new SendMessageCommand({ QueueUrl, MessageBody: 'bye' }));
    const [message] = await receive({ QueueUrl, VisibilityTimeout: 1 });

    // Act
    await sqs.client.send(new DeleteMessageCommand({ QueueUrl, ReceiptHandle: message?.ReceiptHandle }));
    await sqs.client.send(new DeleteMessageCommand({ QueueUrl, ReceiptHandle: message?.ReceiptHandle }));
    const counts = await countsOf(QueueUrl);

    // Assess
    expect(counts).toEqual({ ApproximateNumberOfMessages: '0', ApproximateNumberOfMessagesNotVisible: '0' });
  });

  it('rejects a malformed receipt handle (ReceiptHandleIsInvalid)', async () => {
    // Prepare
    const QueueUrl = await createQueue('delete-bad');

    // Act
    const error = await rejection(
      sqs.client.send(new DeleteMessageCommand({ QueueUrl, ReceiptHandle: 'not-a-handle' })),
    );

    // Assess
    expect(error).toBeInstanceOf(ReceiptHandleIsInvalid);
    expect(error.message).toBe('The input receipt handle "not-a-handle" is not a valid receipt handle.');
  });

  it('deletes in a batch and reports bad handles in Failed', async () => {
    // Prepare
    const QueueUrl = await createQueue('delete-batch');
    await sqs.client.send(
      new SendMessageBatchCommand({
        QueueUrl,
        Entries: [
          { Id: 'a', MessageBody: 'a' },
          { Id: 'b', MessageBody: 'b' },
        ],
      }),
    );
    const messages = await receive({ QueueUrl, MaxNumberOfMessages: 10 });

    // Act
    const result = await sqs.client.send(
      new DeleteMessageBatchCommand({
        QueueUrl,
        Entries: [
          ...messages.map((m, i) => ({ Id: `ok${i}`, ReceiptHandle: m.ReceiptHandle })),
          { Id: 'bad', ReceiptHandle: 'garbage' },
        ],
      }),
    );
    const counts = await countsOf(QueueUrl);

    // Assess
    expect(result.Successful?.map((entry) => entry.Id).sort()).toEqual(['ok0', 'ok1']);
    expect(result.Failed).toEqual([
      { Id: 'bad', SenderFault: true, Code: 'ReceiptHandleIsInvalid', Message: expect.any(String) },
    ]);
    expect(counts).toEqual({ ApproximateNumberOfMessages: '0', ApproximateNumberOfMessagesNotVisible: '0' });
  });
});

describe('ChangeMessageVisibility and ChangeMessageVisibilityBatch', () => {
  it('releases a message at once with VisibilityTimeout 0', async () => {
    // Prepare
    const QueueUrl = await createQueue('release');
    await sqs.client.send(new SendMessageCommand({ QueueUrl, MessageBody: 'boomerang' }));
    const [first] = await receive({ QueueUrl, VisibilityTimeout: 30 });

    // Act
    await sqs.client.send(
      new ChangeMessageVisibilityCommand({
        QueueUrl,
        ReceiptHandle: first?.ReceiptHandle,
        VisibilityTimeout: 0,
      }),
    );
    const [second] = await receive({ QueueUrl });

    // Assess
    expect(second?.MessageId).toBe(first?.MessageId);
  });

  it('extends the visibility of an in-flight message', async () => {
    // Prepare
    const QueueUrl = await createQueue('extend');
    await sqs.client.send(new SendMessageCommand({ QueueUrl, MessageBody: 'slow job' }));
    const [message] = await receive({ QueueUrl, VisibilityTimeout: 1 });

    // Act
    await sqs.client.send(
      new ChangeMessageVisibilityCommand({
        QueueUrl,
        ReceiptHandle: message?.ReceiptHandle,
        VisibilityTimeout: 30,
      }),
    );
    await sleep(1200);
    const afterOriginalTimeout = await receive({ QueueUrl });

    // Assess
    expect(afterOriginalTimeout).toEqual([]);
  });

  it('rejects a change on a message that is not in flight (MessageNotInflight)', async () => {
    // Prepare
    const QueueUrl = await createQueue('not-inflight');
    await sqs.client.send(new SendMessageCommand({ QueueUrl, MessageBody: 'x' }));
    const [message] = await receive({ QueueUrl });
    const ReceiptHandle = message?.ReceiptHandle;
    await sqs.client.send(
      new ChangeMessageVisibilityCommand({ QueueUrl, ReceiptHandle, VisibilityTimeout: 0 }),
    );

    // Act
    const error = await rejection(
      sqs.client.send(new ChangeMessageVisibilityCommand({ QueueUrl, ReceiptHandle, VisibilityTimeout: 10 })),
    );

    // Assess
    expect(error).toBeInstanceOf(MessageNotInflight);
  });

  it('changes visibility in a batch and reports bad handles in Failed', async () => {
    // Prepare
    const QueueUrl = await createQueue('visibility-batch');
    await sqs.client.send(
      new SendMessageBatchCommand({
        QueueUrl,
        Entries: [
          { Id: 'a', MessageBody: 'a' },
          { Id: 'b', MessageBody: 'b' },
        ],
      }),
    );
    const messages = await receive({ QueueUrl, MaxNumberOfMessages: 10, VisibilityTimeout: 30 });

    // Act
    const result = await sqs.client.send(
      new ChangeMessageVisibilityBatchCommand({
        QueueUrl,
        Entries: [
          ...messages.map((m, i) => ({ Id: `ok${i}`, ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: 0 })),
          { Id: 'bad', ReceiptHandle: 'garbage', VisibilityTimeout: 0 },
        ],
      }),
    );
    const again = await receive({ QueueUrl, MaxNumberOfMessages: 10 });

    // Assess
    expect(result.Successful?.map((entry) => entry.Id).sort()).toEqual(['ok0', 'ok1']);
    expect(result.Failed).toEqual([
      { Id: 'bad', SenderFault: true, Code: 'ReceiptHandleIsInvalid', Message: expect.any(String) },
    ]);
    expect(again.map((m) => m.Body).sort()).toEqual(['a', 'b']);
  });
});
