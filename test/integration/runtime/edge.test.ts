/**
 * The edge server on its own, with small in-test providers: routing, the request it
 * builds, body limits and failure handling. No JVM, so it is quick.
 */
import { type Edge, MAX_BODY_BYTES, startEdge } from '#local/runtime/edge';
import type { AwsRequest, Provider } from '#local/runtime/types';

const seen: AwsRequest[] = [];
const logs: string[] = [];
let edge: Edge;

const echo: Provider = {
  service: 'echo',
  resourceTypes: [],
  matches: (request) => request.signingService === 'echo',
  handle: async (request) => {
    seen.push(request);
    return { status: 201, headers: { 'content-type': 'text/plain', 'x-custom': 'yes' }, body: request.body };
  },
};

const broken: Provider = {
  service: 'broken',
  resourceTypes: [],
  matches: (request) => request.target?.startsWith('Broken.') === true,
  handle: async () => {
    throw new Error('secret detail');
  },
};

const pathProvider: Provider = {
  service: 'execute-api',
  resourceTypes: [],
  matches: (request) => request.path.startsWith('/_aws/execute-api/'),
  handle: async () => ({ status: 200, body: 'api' }),
};

beforeAll(async () => {
  edge = await startEdge({
    port: 0,
    providers: [pathProvider, echo, broken],
    log: (line) => logs.push(line),
  });
});

afterAll(async () => {
  await edge.close();
});

const signedFor = (service: string, region = 'eu-central-1'): string =>
  `AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20250101/${region}/${service}/aws4_request, SignedHeaders=host, Signature=abc`;

describe('edge', () => {
  it('routes by the SigV4 scope and hands the provider the parsed request', async () => {
    // Act
    const response = await fetch(`${edge.endpoint}/some/path?Action=Echo&x=1`, {
      method: 'PUT',
      headers: { authorization: signedFor('echo'), 'x-amz-target': 'Echo_2020.Say' },
      body: 'hello',
    });

    // Assess
    expect(response.status).toBe(201);
    expect(await response.text()).toBe('hello');
    expect(response.headers.get('x-custom')).toBe('yes');
    expect(response.headers.get('x-amzn-requestid')).toMatch(/^[0-9a-f-]{36}$/);
    const request = seen.at(-1);
    expect(request).toMatchObject({
      method: 'PUT',
      path: '/some/path',
      signingService: 'echo',
      region: 'eu-central-1',
      target: 'Echo_2020.Say',
    });
    expect(request?.query.get('x')).toBe('1');
    expect(request?.body.toString()).toBe('hello');
  });

  it('routes by path for unsigned requests, asking providers in order', async () => {
    const response = await fetch(`${edge.endpoint}/_aws/execute-api/abc/v1/x`, {
      headers: { authorization: signedFor('echo') },
    });
    expect(await response.text()).toBe('api');
  });

  it('answers 500 InternalFailure when a provider throws, logs the detail, and keeps serving', async () => {
    // Act
    const response = await fetch(`${edge.endpoint}/`, {
      method: 'POST',
      headers: { 'x-amz-target': 'Broken.DoIt', 'content-type': 'application/x-amz-json-1.0' },
      body: '{}',
    });
    const body = (await response.json()) as { __type: string; message: string };
    const after = await fetch(`${edge.endpoint}/_aws/health`);

    // Assess
    expect(response.status).toBe(500);
    expect(body.__type).toBe('InternalFailure');
    expect(body.message).not.toContain('secret detail');
    expect(logs.some((line) => line.includes('500 Broken DoIt') && line.includes('secret detail'))).toBe(
      true,
    );
    expect(after.status).toBe(200);
  });

  it('rejects a body over 10 MiB with 413', async () => {
    const response = await fetch(`${edge.endpoint}/`, {
      method: 'POST',
      headers: { authorization: signedFor('echo') },
      body: Buffer.alloc(MAX_BODY_BYTES + 1, 97),
    });
    expect(response.status).toBe(413);
    expect(((await response.json()) as { __type: string }).__type).toBe('RequestEntityTooLargeException');
  });

  it('leaves a body just over 10 MiB on an execute-api path to the API Gateway provider', async () => {
    const response = await fetch(`${edge.endpoint}/_aws/execute-api/abc/v1/upload`, {
      method: 'POST',
      body: Buffer.alloc(MAX_BODY_BYTES + 1, 97),
    });
    expect(await response.text()).toBe('api');
  });

  it('accepts a body of exactly 10 MiB', async () => {
    const response = await fetch(`${edge.endpoint}/`, {
      method: 'POST',
      headers: { authorization: signedFor('echo') },
      body: Buffer.alloc(MAX_BODY_BYTES, 97),
    });
    expect(response.status).toBe(201);
    expect((await response.arrayBuffer()).byteLength).toBe(MAX_BODY_BYTES);
  });

  it('answers unknown REST calls with a JSON error naming the method and path', async () => {
    const response = await fetch(`${edge.endpoint}/2015-03-31/functions/`, {
      headers: { authorization: signedFor('lambda') },
    });
    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({
      __type: 'UnknownOperationException',
      message: 'lambda GET /2015-03-31/functions/ is not supported by the offline runtime',
    });
  });

  it('lists the providers on the health route', async () => {
    const response = await fetch(`${edge.endpoint}/_aws/health`);
    expect(await response.json()).toEqual({
      services: { 'execute-api': 'running', echo: 'running', broken: 'running' },
      edition: 'offline',
    });
  });
});

describe('startEdge', () => {
  it('fails with a clear message when the port is taken', async () => {
    await expect(startEdge({ port: edge.port, providers: [], log: () => {} })).rejects.toThrow(
      `127.0.0.1:${edge.port} is already in use (another npm start, or LocalStack?); set PORT to another port`,
    );
  });
});
