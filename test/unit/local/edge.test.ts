import { credentialScope, describeOperation, usageOperation } from '#local/runtime/edge';
import { localizeUrls } from '#local/runtime/runtime';
import type { AwsRequest } from '#local/runtime/types';

function request(overrides: Partial<AwsRequest>): AwsRequest {
  return {
    method: 'POST',
    path: '/',
    query: new URLSearchParams(),
    headers: {},
    body: Buffer.alloc(0),
    region: 'us-east-1',
    ...overrides,
  };
}

describe('credentialScope', () => {
  it('reads the region and service from the Authorization header', () => {
    const header =
      'AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20250101/eu-west-1/dynamodb/aws4_request, SignedHeaders=host;x-amz-date, Signature=abc';
    expect(credentialScope(header)).toEqual({ region: 'eu-west-1', service: 'dynamodb' });
  });

  it('reads a presigned URL credential', () => {
    const query = new URLSearchParams({
      'X-Amz-Credential': 'AKID/20250101/us-west-2/execute-api/aws4_request',
    });
    expect(credentialScope(undefined, query)).toEqual({ region: 'us-west-2', service: 'execute-api' });
  });

  it('rejects headers that are not SigV4', () => {
    expect(credentialScope('Bearer abc.def.ghi')).toBeUndefined();
    expect(credentialScope('AWS4-HMAC-SHA256 Credential=AKID/20250101/us-east-1/sqs')).toBeUndefined();
    expect(credentialScope(undefined)).toBeUndefined();
  });
});

describe('describeOperation', () => {
  it('names JSON-protocol operations from X-Amz-Target', () => {
    const described = describeOperation(request({ signingService: 'sqs', target: 'AmazonSQS.SendMessage' }));
    expect(described).toEqual({ service: 'sqs', operation: 'SendMessage' });
  });

  it('names query-protocol operations from the form body', () => {
    const described = describeOperation(
      request({
        signingService: 'sns',
        headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' },
        body: Buffer.from('Action=Publish&Version=2010-03-31'),
      }),
    );
    expect(described).toEqual({ service: 'sns', operation: 'Publish' });
  });

  it('falls back to the target prefix, then to the method and path', () => {
    expect(describeOperation(request({ target: 'Logs_20140328.PutLogEvents' }))).toEqual({
      service: 'Logs_20140328',
      operation: 'PutLogEvents',
    });
    expect(describeOperation(request({ method: 'GET', path: '/x' }))).toEqual({
      service: 'unknown',
      operation: 'GET /x',
    });
  });
});

describe('localizeUrls', () => {
  const endpoint = 'http://127.0.0.1:4566';

  it('rewrites REST and WebSocket API URLs to the no-DNS form', () => {
    expect(localizeUrls('https://abc123.execute-api.us-east-1.amazonaws.com/v1/', endpoint)).toBe(
      'http://127.0.0.1:4566/_aws/execute-api/abc123/v1/',
    );
    expect(localizeUrls('wss://ws9.execute-api.eu-west-1.amazonaws.com/live', endpoint)).toBe(
      'ws://127.0.0.1:4566/_aws/execute-api/ws9/live',
    );
  });

  it('rewrites URLs inside JSON and leaves everything else alone', () => {
    const json = JSON.stringify({ a: 'https://q1.execute-api.us-east-1.amazonaws.com/v1/x' });
    expect(localizeUrls(json, endpoint)).toBe('{"a":"http://127.0.0.1:4566/_aws/execute-api/q1/v1/x"}');
    expect(localizeUrls('arn:aws:sqs:us-east-1:000000000000:q', endpoint)).toBe(
      'arn:aws:sqs:us-east-1:000000000000:q',
    );
  });
});

describe('usageOperation', () => {
  it.each([
    ['POST', '/_aws/execute-api/abc123/v1/api/orchestrator/issues', 'execute-api', 'Invoke'],
    ['GET', '/_aws/execute-api/abc123/v1', 'execute-api', 'Invoke'],
    ['POST', '/_aws/execute-api/ws1/live/@connections/Zm9v', 'execute-api', 'PostToConnection'],
    ['GET', '/_aws/execute-api/ws1/live/@connections/Zm9v', 'execute-api', 'GetConnection'],
    ['DELETE', '/_aws/execute-api/ws1/live/@connections/Zm9v', 'execute-api', 'DeleteConnection'],
    ['POST', '/2015-03-31/functions/my-fn/invocations', 'lambda', 'Invoke'],
  ])('keys %s %s as %s %s', (method, path, service, operation) => {
    expect(usageOperation(request({ method, path }))).toEqual({ service, operation });
  });

  it('keys every other call as describeOperation does', () => {
    const call = request({ signingService: 'dynamodb', target: 'DynamoDB_20120810.Query' });
    expect(usageOperation(call)).toEqual({ service: 'dynamodb', operation: 'Query' });
  });
});
