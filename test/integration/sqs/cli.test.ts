/**
 * SQS conformance through the machine's AWS CLI v1 (botocore speaks the JSON 1.0
 * protocol to SQS, with `x-amzn-query-mode: true`).
 */
import { runAwsCli } from '../local/aws-cli';
import { type SqsTarget, startSqsTarget, uniqueQueueName } from './harness';

let sqs: SqsTarget;

beforeAll(async () => {
  sqs = await startSqsTarget();
});

afterAll(async () => {
  await sqs.close();
});

const cli = (args: readonly string[]) => runAwsCli(sqs.endpoint, ['sqs', ...args]);

describe('the AWS CLI', () => {
  it('creates a queue, sends with attributes, receives and deletes', async () => {
    // Prepare
    const name = uniqueQueueName('cli');

    // Act
    const created = await cli(['create-queue', '--queue-name', name, '--attributes', 'VisibilityTimeout=5']);
    const url = JSON.parse(created.stdout).QueueUrl as string;
    const listed = await cli(['list-queues', '--queue-name-prefix', name]);
    const sent = await cli([
      'send-message',
      '--queue-url',
      url,
      '--message-body',
      'from the cli',
      '--message-attributes',
      '{"kind":{"DataType":"String","StringValue":"test"},"n":{"DataType":"Number","StringValue":"7"}}',
    ]);
    const received = await cli([
      'receive-message',
      '--queue-url',
      url,
      '--attribute-names',
      'All',
      '--message-attribute-names',
      'All',
      '--wait-time-seconds',
      '1',
    ]);
    const message = JSON.parse(received.stdout).Messages[0];
    const deleted = await cli([
      'delete-message',
      '--queue-url',
      url,
      '--receipt-handle',
      message.ReceiptHandle,
    ]);
    const attributes = await cli([
      'get-queue-attributes',
      '--queue-url',
      url,
      '--attribute-names',
      'ApproximateNumberOfMessages',
      'ApproximateNumberOfMessagesNotVisible',
      'VisibilityTimeout',
    ]);

    // Assess
    expect(created.code).toBe(0);
    expect(url).toBe(sqs.urlOf(name));
    expect(JSON.parse(listed.stdout).QueueUrls).toEqual([url]);
    expect(sent.code).toBe(0);
    expect(JSON.parse(sent.stdout)).toMatchObject({
      MessageId: expect.any(String),
      MD5OfMessageBody: 'adc1c5502a75b5c1afdc54d0d67abd6f',
      MD5OfMessageAttributes: expect.stringMatching(/^[0-9a-f]{32}$/),
    });
    expect(message).toMatchObject({
      Body: 'from the cli',
      MessageAttributes: {
        kind: { DataType: 'String', StringValue: 'test' },
        n: { DataType: 'Number', StringValue: '7' },
      },
      Attributes: { ApproximateReceiveCount: '1' },
    });
    expect(deleted.code).toBe(0);
    expect(JSON.parse(attributes.stdout).Attributes).toEqual({
      ApproximateNumberOfMessages: '0',
      ApproximateNumberOfMessagesNotVisible: '0',
      VisibilityTimeout: '5',
    });
  }, 30_000);

  it('fails with the legacy error code for a missing queue', async () => {
    // Act
    const result = await cli(['get-queue-url', '--queue-name', uniqueQueueName('cli-missing')]);

    // Assess
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('AWS.SimpleQueueService.NonExistentQueue');
    expect(result.stderr).toContain('The specified queue does not exist.');
  }, 30_000);
});
