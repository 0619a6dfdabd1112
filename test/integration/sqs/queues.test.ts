/**
 * SQS conformance, queue management: CreateQueue, GetQueueUrl, ListQueues,
 * Get/SetQueueAttributes, PurgeQueue, DeleteQueue and tags, over the real SDK v3.
 */
import {
  CreateQueueCommand,
  DeleteQueueCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  InvalidAttributeName,
  InvalidAttributeValue,
  ListQueuesCommand,
  ListQueueTagsCommand,
  PurgeQueueCommand,
  PurgeQueueInProgress,
  QueueDoesNotExist,
  QueueNameExists,
  ReceiveMessageCommand,
  SendMessageCommand,
  SetQueueAttributesCommand,
  TagQueueCommand,
  UntagQueueCommand,
} from '@aws-sdk/client-sqs';
import { rejection, type SqsTarget, startSqsTarget, uniqueQueueName } from './harness';

let sqs: SqsTarget;

beforeAll(async () => {
  sqs = await startSqsTarget();
});

afterAll(async () => {
  await sqs.close();
});

async function createQueue(name: string, Attributes?: Record<string, string>): Promise<string> {
  const { QueueUrl } = await sqs.client.send(new CreateQueueCommand({ QueueName: name, Attributes }));
  if (!QueueUrl) throw new Error('CreateQueue returned no QueueUrl');
  return QueueUrl;
}

async function attributesOf(QueueUrl: string, names: string[] = ['All']): Promise<Record<string, string>> {
  const { Attributes } = await sqs.client.send(
    new GetQueueAttributesCommand({ QueueUrl, AttributeNames: names as never }),
  );
  return Attributes ?? {};
}

describe('CreateQueue', () => {
  it('creates a queue at <endpoint>/<account>/<name> with AWS defaults', async () => {
    // Prepare
    const name = uniqueQueueName('defaults');

    // Act
    const url = await createQueue(name);
    const attributes = await attributesOf(url);

    // Assess
    expect(url).toBe(sqs.urlOf(name));
    expect(attributes).toMatchObject({
      QueueArn: sqs.arnOf(name),
      VisibilityTimeout: '30',
      MaximumMessageSize: '1048576',
      MessageRetentionPeriod: '345600',
      DelaySeconds: '0',
      ReceiveMessageWaitTimeSeconds: '0',
      ApproximateNumberOfMessages: '0',
      ApproximateNumberOfMessagesNotVisible: '0',
      ApproximateNumberOfMessagesDelayed: '0',
      SqsManagedSseEnabled: 'true',
    });
    expect(attributes.CreatedTimestamp).toMatch(/^\d{10}$/);
    expect(attributes.LastModifiedTimestamp).toMatch(/^\d{10}$/);
    expect(attributes).not.toHaveProperty('RedrivePolicy');
    expect(attributes).not.toHaveProperty('KmsMasterKeyId');
  });

  it('stores and echoes every attribute it is given', async () => {
    // Prepare
    const dlqName = uniqueQueueName('echo-dlq');
    await createQueue(dlqName);
    const name = uniqueQueueName('echo');
    const redriveAllow = { redrivePermission: 'byQueue', sourceQueueArns: [sqs.arnOf(name)] };

    // Act
    const url = await createQueue(name, {
      VisibilityTimeout: '5',
      MessageRetentionPeriod: '120',
      ReceiveMessageWaitTimeSeconds: '1',
      DelaySeconds: '2',
      MaximumMessageSize: '2048',
      RedrivePolicy: JSON.stringify({ deadLetterTargetArn: sqs.arnOf(dlqName), maxReceiveCount: '3' }),
      RedriveAllowPolicy: JSON.stringify(redriveAllow),
      KmsMasterKeyId: 'alias/aws/sqs',
      KmsDataKeyReusePeriodSeconds: '600',
    });
    const attributes = await attributesOf(url);

    // Assess
    expect(attributes).toMatchObject({
      VisibilityTimeout: '5',
      MessageRetentionPeriod: '120',
      ReceiveMessageWaitTimeSeconds: '1',
      DelaySeconds: '2',
      MaximumMessageSize: '2048',
      KmsMasterKeyId: 'alias/aws/sqs',
      KmsDataKeyReusePeriodSeconds: '600',
      SqsManagedSseEnabled: 'false',
    });
    expect(JSON.parse(attributes.RedrivePolicy ?? '')).toEqual({
      deadLetterTargetArn: sqs.arnOf(dlqName),
      maxReceiveCount: 3,
    });
    expect(JSON.parse(attributes.RedriveAllowPolicy ?? '')).toEqual(redriveAllow);
  });

  it('keeps SqsManagedSseEnabled=false when asked', async () => {
    // Act
    const url = await createQueue(uniqueQueueName('sse-off'), { SqsManagedSseEnabled: 'false' });

    // Assess
    expect(await attributesOf(url, ['SqsManagedSseEnabled'])).toEqual({ SqsManagedSseEnabled: 'false' });
  });

  it('is idempotent for the same name and attributes', async () => {
    // Prepare
    const name = uniqueQueueName('idempotent');
    const first = await createQueue(name, { VisibilityTimeout: '7' });

    // Act
    const second = await createQueue(name, { VisibilityTimeout: '7' });

    // Assess
    expect(second).toBe(first);
  });

  it('rejects the same name with different attributes (QueueAlreadyExists)', async () => {
    // Prepare
    const name = uniqueQueueName('conflict');
    await createQueue(name, { VisibilityTimeout: '7' });

    // Act
    const error = await rejection(createQueue(name, { VisibilityTimeout: '8' }));

    // Assess
    expect(error).toBeInstanceOf(QueueNameExists);
    expect(error.$metadata.httpStatusCode).toBe(400);
  });

  it('rejects out-of-range and unknown attributes', async () => {
    // Act
    const tooLong = await rejection(
      createQueue(uniqueQueueName('bad-value'), { VisibilityTimeout: '43201' }),
    );
    const unknown = await rejection(createQueue(uniqueQueueName('bad-name'), { Colour: 'blue' }));

    // Assess
    expect(tooLong).toBeInstanceOf(InvalidAttributeValue);
    expect(unknown).toBeInstanceOf(InvalidAttributeName);
  });

  it('rejects a RedrivePolicy whose dead-letter queue does not exist', async () => {
    // Prepare
    const RedrivePolicy = JSON.stringify({
      deadLetterTargetArn: sqs.arnOf(uniqueQueueName('missing-dlq')),
      maxReceiveCount: 3,
    });

    // Act
    const error = await rejection(createQueue(uniqueQueueName('orphan'), { RedrivePolicy }));

    // Assess
    expect(error.$metadata.httpStatusCode).toBe(400);
    expect(error.name).toMatch(/InvalidParameterValue|InvalidAttributeValue/);
  });

  it('rejects invalid queue names', async () => {
    // Act
    const error = await rejection(createQueue('has spaces!'));

    // Assess
    expect(error.$metadata.httpStatusCode).toBe(400);
  });
});

describe('GetQueueUrl and ListQueues', () => {
  it('returns the URL of an existing queue', async () => {
    // Prepare
    const name = uniqueQueueName('url');
    const url = await createQueue(name);

    // Act
    const found = await sqs.client.send(new GetQueueUrlCommand({ QueueName: name }));

    // Assess
    expect(found.QueueUrl).toBe(url);
  });

  it('fails when the queue does not exist (QueueDoesNotExist)', async () => {
    // Act
    const error = await rejection(
      sqs.client.send(new GetQueueUrlCommand({ QueueName: uniqueQueueName('nope') })),
    );

    // Assess
    expect(error).toBeInstanceOf(QueueDoesNotExist);
    expect(error.message).toBe('The specified queue does not exist.');
  });

  it('lists queues by name prefix, with paging', async () => {
    // Prepare
    const prefix = uniqueQueueName('list');
    const urls = await Promise.all(['a', 'b', 'c'].map((suffix) => createQueue(`${prefix}-${suffix}`)));
    await createQueue(uniqueQueueName('unrelated'));

    // Act
    const all = await sqs.client.send(new ListQueuesCommand({ QueueNamePrefix: prefix }));
    const page1 = await sqs.client.send(new ListQueuesCommand({ QueueNamePrefix: prefix, MaxResults: 2 }));
    const page2 = await sqs.client.send(
      new ListQueuesCommand({ QueueNamePrefix: prefix, MaxResults: 2, NextToken: page1.NextToken }),
    );
    const none = await sqs.client.send(new ListQueuesCommand({ QueueNamePrefix: `${prefix}-zzz` }));

    // Assess
    expect([...(all.QueueUrls ?? [])].sort()).toEqual(urls.sort());
    expect(all.NextToken).toBeUndefined();
    expect(page1.QueueUrls).toHaveLength(2);
    expect(page1.NextToken).toEqual(expect.any(String));
    expect(page2.QueueUrls).toHaveLength(1);
    expect(page2.NextToken).toBeUndefined();
    expect([...(page1.QueueUrls ?? []), ...(page2.QueueUrls ?? [])].sort()).toEqual(urls.sort());
    expect(none.QueueUrls ?? []).toEqual([]);
  });
});

describe('GetQueueAttributes and SetQueueAttributes', () => {
  it('returns only the named attributes, with visible and in-flight counts', async () => {
    // Prepare
    const name = uniqueQueueName('counts');
    const QueueUrl = await createQueue(name);
    await sqs.client.send(new SendMessageCommand({ QueueUrl, MessageBody: 'one' }));
    await sqs.client.send(new SendMessageCommand({ QueueUrl, MessageBody: 'two' }));
    await sqs.client.send(new SendMessageCommand({ QueueUrl, MessageBody: 'later', DelaySeconds: 60 }));
    await sqs.client.send(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 1 }));

    // Act
    const attributes = await attributesOf(QueueUrl, [
      'QueueArn',
      'ApproximateNumberOfMessages',
      'ApproximateNumberOfMessagesNotVisible',
      'ApproximateNumberOfMessagesDelayed',
    ]);

    // Assess
    expect(attributes).toEqual({
      QueueArn: sqs.arnOf(name),
      ApproximateNumberOfMessages: '1',
      ApproximateNumberOfMessagesNotVisible: '1',
      ApproximateNumberOfMessagesDelayed: '1',
    });
  });

  it('rejects an unknown attribute name', async () => {
    // Prepare
    const QueueUrl = await createQueue(uniqueQueueName('bad-attr'));

    // Act
    const error = await rejection(attributesOf(QueueUrl, ['NotAnAttribute']));

    // Assess
    expect(error).toBeInstanceOf(InvalidAttributeName);
  });

  it('changes attributes, including adding and removing a RedrivePolicy', async () => {
    // Prepare
    const dlqName = uniqueQueueName('set-dlq');
    await createQueue(dlqName);
    const QueueUrl = await createQueue(uniqueQueueName('set'));
    const RedrivePolicy = JSON.stringify({ deadLetterTargetArn: sqs.arnOf(dlqName), maxReceiveCount: 4 });

    // Act
    await sqs.client.send(
      new SetQueueAttributesCommand({ QueueUrl, Attributes: { VisibilityTimeout: '11', RedrivePolicy } }),
    );
    const withPolicy = await attributesOf(QueueUrl);
    await sqs.client.send(new SetQueueAttributesCommand({ QueueUrl, Attributes: { RedrivePolicy: '' } }));
    const withoutPolicy = await attributesOf(QueueUrl);

    // Assess
    expect(withPolicy.VisibilityTimeout).toBe('11');
    expect(JSON.parse(withPolicy.RedrivePolicy ?? '')).toEqual({
      deadLetterTargetArn: sqs.arnOf(dlqName),
      maxReceiveCount: 4,
    });
    expect(withoutPolicy.VisibilityTimeout).toBe('11');
    expect(withoutPolicy).not.toHaveProperty('RedrivePolicy');
  });

  it('rejects an out-of-range value', async () => {
    // Prepare
    const QueueUrl = await createQueue(uniqueQueueName('set-bad'));

    // Act
    const error = await rejection(
      sqs.client.send(new SetQueueAttributesCommand({ QueueUrl, Attributes: { DelaySeconds: '901' } })),
    );

    // Assess
    expect(error).toBeInstanceOf(InvalidAttributeValue);
  });
});

describe('PurgeQueue and DeleteQueue', () => {
  it('purges every message, and rejects a second purge within 60 seconds', async () => {
    // Prepare
    const QueueUrl = await createQueue(uniqueQueueName('purge'));
    await sqs.client.send(new SendMessageCommand({ QueueUrl, MessageBody: 'a' }));
    await sqs.client.send(new SendMessageCommand({ QueueUrl, MessageBody: 'b' }));
    await sqs.client.send(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 1 }));

    // Act
    await sqs.client.send(new PurgeQueueCommand({ QueueUrl }));
    const attributes = await attributesOf(QueueUrl, [
      'ApproximateNumberOfMessages',
      'ApproximateNumberOfMessagesNotVisible',
    ]);
    const again = await rejection(sqs.client.send(new PurgeQueueCommand({ QueueUrl })));

    // Assess
    expect(attributes).toEqual({
      ApproximateNumberOfMessages: '0',
      ApproximateNumberOfMessagesNotVisible: '0',
    });
    expect(again).toBeInstanceOf(PurgeQueueInProgress);
  });

  it('deletes a queue; later calls on it fail with QueueDoesNotExist', async () => {
    // Prepare
    const name = uniqueQueueName('delete');
    const QueueUrl = await createQueue(name);

    // Act
    await sqs.client.send(new DeleteQueueCommand({ QueueUrl }));
    const getUrl = await rejection(sqs.client.send(new GetQueueUrlCommand({ QueueName: name })));
    const send = await rejection(sqs.client.send(new SendMessageCommand({ QueueUrl, MessageBody: 'x' })));
    const deleteAgain = await rejection(sqs.client.send(new DeleteQueueCommand({ QueueUrl })));

    // Assess
    expect(getUrl).toBeInstanceOf(QueueDoesNotExist);
    expect(send).toBeInstanceOf(QueueDoesNotExist);
    expect(deleteAgain).toBeInstanceOf(QueueDoesNotExist);
  });
});

describe('tags', () => {
  it('tags on create, TagQueue, ListQueueTags and UntagQueue', async () => {
    // Prepare
    const name = uniqueQueueName('tags');
    const { QueueUrl } = await sqs.client.send(
      new CreateQueueCommand({ QueueName: name, tags: { team: 'sre' } }),
    );

    // Act
    await sqs.client.send(new TagQueueCommand({ QueueUrl, Tags: { env: 'local', tier: 'one' } }));
    await sqs.client.send(new UntagQueueCommand({ QueueUrl, TagKeys: ['tier'] }));
    const { Tags } = await sqs.client.send(new ListQueueTagsCommand({ QueueUrl }));

    // Assess
    expect(Tags).toEqual({ team: 'sre', env: 'local' });
  });
});
