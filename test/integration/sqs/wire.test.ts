/**
 * SQS conformance, the AWS JSON 1.0 wire shapes seen by raw HTTP: content types, request
 * ids, and errors as `{"__type": "com.amazonaws.sqs#<Shape>", "message": ...}` with the
 * legacy query code in `x-amzn-query-error: <Code>;Sender`.
 */
import { type SqsTarget, startSqsTarget, uniqueQueueName } from './harness';

let sqs: SqsTarget;

beforeAll(async () => {
  sqs = await startSqsTarget();
});

afterAll(async () => {
  await sqs.close();
});

interface RawResponse {
  status: number;
  headers: Headers;
  json: Record<string, unknown>;
}

async function call(operation: string, body: unknown): Promise<RawResponse> {
  const response = await fetch(`${sqs.endpoint}/`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-amz-json-1.0',
      'x-amz-target': `AmazonSQS.${operation}`,
      authorization:
        'AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/sqs/aws4_request, SignedHeaders=host, Signature=0',
    },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, json: text ? JSON.parse(text) : {} };
}

describe('the AWS JSON 1.0 protocol', () => {
  it('answers a success with application/x-amz-json-1.0 and a request id', async () => {
    // Act
    const response = await call('CreateQueue', { QueueName: uniqueQueueName('wire') });

    // Assess
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/x-amz-json-1.0');
    expect(response.headers.get('x-amzn-requestid')).toMatch(/^[0-9a-f-]{36}$/);
    expect(response.json).toEqual({ QueueUrl: expect.stringContaining('/000000000000/it-wire-') });
  });

  it('shapes QueueDoesNotExist as AWS documents it', async () => {
    // Act
    const response = await call('GetQueueUrl', { QueueName: uniqueQueueName('missing') });

    // Assess
    expect(response.status).toBe(400);
    expect(response.headers.get('content-type')).toBe('application/x-amz-json-1.0');
    expect(response.headers.get('x-amzn-query-error')).toBe('AWS.SimpleQueueService.NonExistentQueue;Sender');
    expect(response.headers.get('x-amzn-requestid')).toMatch(/^[0-9a-f-]{36}$/);
    expect(response.json).toEqual({
      __type: 'com.amazonaws.sqs#QueueDoesNotExist',
      message: 'The specified queue does not exist.',
    });
  });

  it('gives QueueNameExists the legacy code QueueAlreadyExists', async () => {
    // Prepare
    const QueueName = uniqueQueueName('exists');
    await call('CreateQueue', { QueueName, Attributes: { VisibilityTimeout: '1' } });

    // Act
    const response = await call('CreateQueue', { QueueName, Attributes: { VisibilityTimeout: '2' } });

    // Assess
    expect(response.status).toBe(400);
    expect(response.headers.get('x-amzn-query-error')).toBe('QueueAlreadyExists;Sender');
    expect(response.json.__type).toBe('com.amazonaws.sqs#QueueNameExists');
  });

  it('answers ReceiptHandleIsInvalid with 404, as the service model declares', async () => {
    // Prepare
    const created = await call('CreateQueue', { QueueName: uniqueQueueName('handle') });

    // Act
    const response = await call('DeleteMessage', { QueueUrl: created.json.QueueUrl, ReceiptHandle: 'nope' });

    // Assess
    expect(response.status).toBe(404);
    expect(response.headers.get('x-amzn-query-error')).toBe('ReceiptHandleIsInvalid;Sender');
    expect(response.json.__type).toBe('com.amazonaws.sqs#ReceiptHandleIsInvalid');
  });

  it('rejects a missing required member with MissingParameter', async () => {
    // Act
    const response = await call('GetQueueUrl', {});

    // Assess
    expect(response.status).toBe(400);
    expect(response.headers.get('x-amzn-query-error')).toBe('MissingParameter;Sender');
  });

  it('rejects an unknown operation by name', async () => {
    // Act
    const response = await call('FlushEverything', {});

    // Assess
    expect(response.status).toBe(400);
    expect(String(response.json.__type)).toMatch(/UnknownOperation/);
  });

  it('rejects a body that is not JSON', async () => {
    // Act
    const response = await call('ListQueues', '{not json');

    // Assess
    expect(response.status).toBe(400);
    expect(response.json.__type).toEqual(expect.any(String));
  });
});
