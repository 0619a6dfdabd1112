/**
 * The REST provider against the stack's own API definition: the synthesized template
 * from cdk.out is deployed into it, so routing, the authorizer, the validators and the
 * gateway responses are the ones `cdk deploy` ships. Lambda is an in-process double;
 * the authorizer double runs the real decision code (`authorizeRequest`) and the agents
 * and health doubles run the real HTTP middleware stack (`httpHandler`).
 */
import '../../shared/test-env';
import type { APIGatewayProxyEvent, APIGatewayRequestAuthorizerEvent } from 'aws-lambda';
import { authorizeRequest } from '#shared/auth/authorize';
import { signToken, verifyToken } from '#shared/auth/jwt';
import { httpHandler, httpRouter, routeById } from '#shared/http';
import type { Role } from '#shared/routes';
import { lambdaContext } from '../../shared/fixtures';
import {
  ACCOUNT_ID,
  type DeployedApi,
  deployApiGateway,
  executeApiRequest,
  functionArn,
  InProcessLambda,
  jsonOf,
  loadSynthesizedTemplate,
  logicalIdOf,
  type RequestOptions,
  type Template,
} from './stack-fixture';

const KEY = new TextEncoder().encode('apigateway-test-key-0123456789abcdefghijklmnopqrstuv');
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const VALID_ISSUES = JSON.stringify({
  detected_issues: [{ issue_id: 'i-1', title: 'db down', severity: 'high' }],
});

let template: Template;
let api: DeployedApi;
let lambda: InProcessLambda;
let clock = Date.parse('2026-03-01T12:00:00Z');
let tokenCounter = 0;

const arns = { authorizer: '', intake: '', agents: '', health: '', triage: '' };
type Behaviour = 'accept' | 'throw' | 'malformed' | 'not-json-object';
let intakeBehaviour: Behaviour = 'accept';

const fn = (prefix: string) => functionArn(logicalIdOf(template, 'AWS::Lambda::Function', prefix));
const asEvent = (event: unknown) => event as APIGatewayProxyEvent;

/** A fresh token per call, so no test shares another's authorizer cache entry. */
async function tokenFor(role: Role): Promise<string> {
  tokenCounter += 1;
  return signToken({ sub: `${role}-${tokenCounter}`, role, ttlSeconds: 600 }, KEY);
}

function send(method: string, path: string, options: RequestOptions = {}) {
  return api.provider.handle(executeApiRequest(api, method, `/api/orchestrator${path}`, options));
}

function authorizerCalls(): APIGatewayRequestAuthorizerEvent[] {
  return lambda.callsTo(arns.authorizer) as APIGatewayRequestAuthorizerEvent[];
}

beforeAll(async () => {
  template = loadSynthesizedTemplate();
  lambda = new InProcessLambda();
  arns.authorizer = fn('RestApiAuthorizerFunction');
  arns.intake = fn('RestApiIntakeFunction');
  arns.agents = fn('RestApiAgentsFunction');
  arns.health = fn('RestApiHealthFunction');
  arns.triage = fn('RestApiTriageFunction');

  lambda.register(arns.authorizer, async (event) => {
    const request = event as APIGatewayRequestAuthorizerEvent;
    const bearer = request.headers?.authorization ?? '';
    const apiArn = request.methodArn.split('/')[0];
    const policy = (effect: string, resource: string) => ({
      Version: '2012-10-17',
      Statement: [{ Action: 'execute-api:Invoke', Effect: effect, Resource: resource }],
    });
    if (bearer === 'Bearer deny-me')
      return { principalId: 'denied', policyDocument: policy('Deny', request.methodArn) };
    if (bearer === 'Bearer get-only')
      return {
        principalId: 'reader-1',
        policyDocument: policy('Allow', `${apiArn}/v1/GET/*`),
        context: { sub: 'reader-1', role: 'viewer' },
      };
    if (bearer === 'Bearer key-store-down') throw new Error('secrets manager unavailable');
    return authorizeRequest(request, (token) => verifyToken(token, [KEY]));
  });

  lambda.register(arns.intake, async () => {
    switch (intakeBehaviour) {
      case 'throw':
        throw new TypeError('boom');
      case 'malformed':
        return { statusCode: 202, body: { workflow_id: 'wf-1' } };
      case 'not-json-object':
        return 'accepted';
      default:
        return {
          statusCode: 202,
          headers: { 'content-type': 'application/json', 'x-single': 'one' },
          multiValueHeaders: { 'x-multi': ['a', 'b'] },
          body: JSON.stringify({ workflow_id: 'wf-1' }),
        };
    }
  });

  const health = httpHandler(routeById('health'), async () => ({ body: { status: 'ok' } }));
  lambda.register(arns.health, (event) => health(asEvent(event), lambdaContext()));

  const agents = httpRouter([
    httpHandler(routeById('listAgents'), async ({ principal }) => ({
      body: { agents: [], caller: principal },
    })),
    httpHandler(routeById('getAgent'), async ({ pathParameters, principal }) => ({
      body: { agent_id: pathParameters.id, caller: principal },
    })),
  ]);
  lambda.register(arns.agents, (event) => agents(asEvent(event), lambdaContext()));

  lambda.register(arns.triage, async () => {
    await new Promise((resolve) => setTimeout(resolve, 300));
    return { statusCode: 200, body: '{}' };
  });

  api = await deployApiGateway(template, lambda, { now: () => clock });
});

beforeEach(() => {
  lambda.calls.length = 0;
  intakeBehaviour = 'accept';
  // Two seconds per test refill the stage's token buckets (50 rps) well within the authorizer TTL.
  clock += 2_000;
});

describe('deploy', () => {
  it('builds the API from the template: id, stage, resource tree, authorizer, validator, models, responses', () => {
    // Act
    const [deployed] = api.provider.apis();

    // Assess
    expect(api.apiId).toMatch(/^[a-z0-9]{10}$/);
    expect(api.stage).toBe('v1');
    expect(deployed?.name).toBe('master-orchestrator');
    expect(deployed?.authorizers.size).toBe(1);
    expect([...(deployed?.authorizers.values() ?? [])][0]).toMatchObject({
      type: 'REQUEST',
      identitySources: ['method.request.header.Authorization'],
      ttlSeconds: 300,
      functionArn: arns.authorizer,
    });
    expect([...(deployed?.models.keys() ?? [])]).toEqual(
      expect.arrayContaining([
        'IssueTriageRequest',
        'AgentRegistration',
        'HeartbeatRequest',
        'OptimizeRequest',
      ]),
    );
    expect([...(deployed?.gatewayResponses.keys() ?? [])]).toEqual(
      expect.arrayContaining([
        'UNAUTHORIZED',
        'BAD_REQUEST_BODY',
        'MISSING_AUTHENTICATION_TOKEN',
        'DEFAULT_5XX',
      ]),
    );
    expect(deployed?.stages.get('v1')?.methodSettings).toEqual([
      { resourcePath: '/*', httpMethod: '*', throttlingRateLimit: 50, throttlingBurstLimit: 100 },
    ]);
  });

  it('keeps ids stable across deployments of the same stack', async () => {
    // Act
    const again = await deployApiGateway(template, lambda);

    // Assess
    expect(again.apiId).toBe(api.apiId);
  });

  it('serves only the execute-api paths', () => {
    // Assess
    expect(api.provider.matches(executeApiRequest(api, 'GET', '/api/orchestrator/health'))).toBe(true);
    expect(api.provider.matches({ ...executeApiRequest(api, 'GET', '/'), path: '/' })).toBe(false);
    expect(api.provider.matches({ ...executeApiRequest(api, 'GET', '/'), path: '/_aws/sqs/queues' })).toBe(
      false,
    );
  });
});

describe('public routes', () => {
  it('answers GET health with 200 from the integration, without running the authorizer', async () => {
    // Act
    const response = await send('GET', '/health');

    // Assess
    expect(response.status).toBe(200);
    expect(jsonOf(response)).toEqual({ status: 'ok' });
    expect(response.headers?.['x-amzn-RequestId']).toMatch(UUID);
    expect(response.headers?.['x-amz-apigw-id']).toHaveLength(16);
    expect(authorizerCalls()).toHaveLength(0);
  });

  it('ignores a trailing slash, as API Gateway does', async () => {
    // Act
    const response = await send('GET', '/health/');

    // Assess
    expect(response.status).toBe(200);
  });
});

describe('the Lambda authorizer', () => {
  it('rejects a protected route without a token with 401 in the C3 error shape, without invoking the authorizer', async () => {
    // Act
    const response = await send('GET', '/agents');

    // Assess
    expect(response.status).toBe(401);
    expect(response.headers?.['content-type']).toBe('application/json');
    expect(response.headers?.['x-amzn-ErrorType']).toBe('UnauthorizedException');
    expect(jsonOf(response)).toEqual({
      error: {
        code: 'UNAUTHORIZED',
        message: 'Unauthorized',
        request_id: response.headers?.['x-amzn-RequestId'],
      },
    });
    expect(authorizerCalls()).toHaveLength(0);
  });

  it('rejects a token the authorizer refuses with 401', async () => {
    // Act
    const response = await send('GET', '/agents', { headers: { Authorization: 'Bearer not-a-jwt' } });

    // Assess
    expect(response.status).toBe(401);
    expect(jsonOf(response)).toMatchObject({ error: { code: 'UNAUTHORIZED', message: 'Unauthorized' } });
    expect(authorizerCalls()).toHaveLength(1);
  });

  it('sends the authorizer a REQUEST event with the method ARN and the request', async () => {
    // Prepare
    const token = await tokenFor('viewer');

    // Act
    await send('GET', '/agents/agent-7', {
      headers: { Authorization: `Bearer ${token}` },
      query: 'verbose=1',
    });

    // Assess
    const [event] = authorizerCalls();
    expect(event).toMatchObject({
      type: 'REQUEST',
      methodArn: `arn:aws:execute-api:us-east-1:${ACCOUNT_ID}:${api.apiId}/v1/GET/api/orchestrator/agents/agent-7`,
      resource: '/api/orchestrator/agents/{id}',
      path: '/api/orchestrator/agents/agent-7',
      httpMethod: 'GET',
      headers: expect.objectContaining({ authorization: `Bearer ${token}` }),
      multiValueHeaders: expect.objectContaining({ authorization: [`Bearer ${token}`] }),
      queryStringParameters: { verbose: '1' },
      pathParameters: { id: 'agent-7' },
      stageVariables: null,
      requestContext: expect.objectContaining({
        apiId: api.apiId,
        stage: 'v1',
        resourcePath: '/api/orchestrator/agents/{id}',
      }),
    });
  });

  it('passes the principal and context on to the integration, where the real HTTP stack reads the role', async () => {
    // Prepare
    const token = await tokenFor('viewer');

    // Act
    const response = await send('GET', '/agents/agent-7', { headers: { Authorization: `Bearer ${token}` } });

    // Assess
    expect(response.status).toBe(200);
    const sub = `viewer-${tokenCounter}`;
    expect(jsonOf(response)).toEqual({ agent_id: 'agent-7', caller: { sub, role: 'viewer' } });
    const [event] = lambda.callsTo(arns.agents) as APIGatewayProxyEvent[];
    expect(event?.requestContext.authorizer).toEqual({
      sub,
      role: 'viewer',
      principalId: sub,
      integrationLatency: expect.any(Number),
    });
  });

  it('caches the decision per token for the TTL: two requests, one authorizer call', async () => {
    // Prepare
    const headers = { Authorization: `Bearer ${await tokenFor('viewer')}` };

    // Act
    const first = await send('GET', '/agents', { headers });
    const second = await send('GET', '/agents/agent-1', { headers });

    // Assess
    expect([first.status, second.status]).toEqual([200, 200]);
    expect(authorizerCalls()).toHaveLength(1);
    expect(lambda.callsTo(arns.agents)).toHaveLength(2);
  });

  it('asks the authorizer again once the TTL (300 s) has passed, and for another token', async () => {
    // Prepare
    const headers = { Authorization: `Bearer ${await tokenFor('viewer')}` };
    await send('GET', '/agents', { headers });

    // Act
    clock += 301_000;
    await send('GET', '/agents', { headers });
    await send('GET', '/agents', { headers: { Authorization: `Bearer ${await tokenFor('viewer')}` } });

    // Assess
    expect(authorizerCalls()).toHaveLength(3);
  });

  it('rejects an explicit Deny with 403 FORBIDDEN', async () => {
    // Act
    const response = await send('GET', '/agents', { headers: { Authorization: 'Bearer deny-me' } });

    // Assess
    expect(response.status).toBe(403);
    expect(jsonOf(response)).toMatchObject({
      error: {
        code: 'FORBIDDEN',
        message: 'User is not authorized to access this resource with an explicit deny',
      },
    });
    expect(lambda.callsTo(arns.agents)).toHaveLength(0);
  });

  it('rejects a method the policy does not cover (wildcard resources), even from the cache', async () => {
    // Prepare
    const headers = { Authorization: 'Bearer get-only' };

    // Act
    const allowed = await send('GET', '/agents', { headers });
    const denied = await send('POST', '/triage', { headers, body: VALID_ISSUES });

    // Assess
    expect(allowed.status).toBe(200);
    expect(denied.status).toBe(403);
    expect(jsonOf(denied)).toMatchObject({
      error: { code: 'FORBIDDEN', message: 'User is not authorized to access this resource' },
    });
    expect(authorizerCalls()).toHaveLength(1);
  });

  it('fails with 500 and a null message when the authorizer itself fails, as AWS does', async () => {
    // Act
    const response = await send('GET', '/agents', { headers: { Authorization: 'Bearer key-store-down' } });

    // Assess
    expect(response.status).toBe(500);
    expect(response.headers?.['x-amzn-ErrorType']).toBe('AuthorizerConfigurationException');
    expect(jsonOf(response)).toMatchObject({ error: { code: 'INTERNAL_ERROR', message: null } });
    expect(api.logs.some((line) => line.includes('secrets manager unavailable'))).toBe(true);
  });
});

describe('the AWS_PROXY integration', () => {
  it('sends POST issues to the intake function as a v1 proxy event', async () => {
    // Prepare
    const token = await tokenFor('operator');

    // Act
    const response = await send('POST', '/issues', {
      headers: {
        Authorization: `Bearer ${token}`,
        'Idempotency-Key': 'key-1',
        'Content-Type': 'application/json',
      },
      query: 'source=a&source=b',
      body: VALID_ISSUES,
    });

    // Assess
    expect(response.status).toBe(202);
    const [event] = lambda.callsTo(arns.intake) as APIGatewayProxyEvent[];
    const sub = `operator-${tokenCounter}`;
    expect(event).toEqual({
      resource: '/api/orchestrator/issues',
      path: '/api/orchestrator/issues',
      httpMethod: 'POST',
      headers: expect.objectContaining({
        authorization: `Bearer ${token}`,
        'idempotency-key': 'key-1',
        'content-type': 'application/json',
        'user-agent': 'jest-apigw',
        'x-forwarded-for': '127.0.0.1',
        'x-forwarded-proto': 'http',
        'x-amzn-trace-id': expect.stringMatching(/^Root=1-[0-9a-f]{8}-[0-9a-f]{24}$/),
      }),
      multiValueHeaders: expect.objectContaining({ 'idempotency-key': ['key-1'] }),
      queryStringParameters: { source: 'b' },
      multiValueQueryStringParameters: { source: ['a', 'b'] },
      pathParameters: null,
      stageVariables: null,
      requestContext: {
        resourceId: expect.stringMatching(/^[a-z0-9]{6}$/),
        resourcePath: '/api/orchestrator/issues',
        httpMethod: 'POST',
        extendedRequestId: expect.stringMatching(/^[A-Za-z0-9+/]{15}=$/),
        requestTime: expect.stringMatching(/^\d{2}\/[A-Z][a-z]{2}\/\d{4}:\d{2}:\d{2}:\d{2} \+0000$/),
        path: '/v1/api/orchestrator/issues',
        accountId: ACCOUNT_ID,
        protocol: 'HTTP/1.1',
        stage: 'v1',
        domainPrefix: '127',
        requestTimeEpoch: clock,
        requestId: expect.stringMatching(UUID),
        identity: expect.objectContaining({ sourceIp: '127.0.0.1', userAgent: 'jest-apigw', caller: null }),
        domainName: '127.0.0.1:4566',
        apiId: api.apiId,
        authorizer: { sub, role: 'operator', principalId: sub, integrationLatency: expect.any(Number) },
      },
      body: VALID_ISSUES,
      isBase64Encoded: false,
    });
    expect(event?.requestContext.requestId).toBe(response.headers?.['x-amzn-RequestId']);
    expect(event?.headers).not.toHaveProperty('content-length');
  });

  it('maps the proxy result back: status, headers, multi-value headers, body', async () => {
    // Prepare
    const headers = { Authorization: `Bearer ${await tokenFor('operator')}`, 'Idempotency-Key': 'key-2' };

    // Act
    const response = await send('POST', '/issues', { headers, body: VALID_ISSUES });

    // Assess
    expect(response.status).toBe(202);
    expect(response.headers).toMatchObject({
      'content-type': 'application/json',
      'x-single': 'one',
      'x-multi': 'a, b',
    });
    expect(jsonOf(response)).toEqual({ workflow_id: 'wf-1' });
  });

  it.each<[Behaviour, string]>([
    ['throw', 'a function error'],
    ['malformed', 'a body that is not a string'],
    ['not-json-object', 'a result that is not an object'],
  ])('answers 502 "Internal server error" for %s (%s)', async (behaviour) => {
    // Prepare
    intakeBehaviour = behaviour;
    const headers = { Authorization: `Bearer ${await tokenFor('operator')}`, 'Idempotency-Key': 'key-3' };

    // Act
    const response = await send('POST', '/issues', { headers, body: VALID_ISSUES });

    // Assess
    expect(response.status).toBe(502);
    expect(jsonOf(response)).toMatchObject({
      error: { code: 'INTERNAL_ERROR', message: 'Internal server error' },
    });
  });

  it('answers 504 when the integration outlives the integration timeout', async () => {
    // Prepare
    const fast = await deployApiGateway(template, lambda, { integrationTimeoutMs: 50, now: () => clock });
    const headers = { Authorization: `Bearer ${await tokenFor('operator')}` };

    // Act
    const response = await fast.provider.handle(
      executeApiRequest(fast, 'POST', '/api/orchestrator/triage', { headers, body: VALID_ISSUES }),
    );

    // Assess
    expect(response.status).toBe(504);
    expect(jsonOf(response)).toMatchObject({
      error: { code: 'INTERNAL_ERROR', message: 'Endpoint request timed out' },
    });
  });
});

describe('request validation', () => {
  it('rejects a body without detected_issues with 400 VALIDATION_FAILED, before the integration', async () => {
    // Prepare
    const headers = { Authorization: `Bearer ${await tokenFor('operator')}`, 'Idempotency-Key': 'key-4' };

    // Act
    const response = await send('POST', '/issues', { headers, body: JSON.stringify({ system_context: {} }) });

    // Assess
    expect(response.status).toBe(400);
    expect(jsonOf(response)).toEqual({
      error: {
        code: 'VALIDATION_FAILED',
        message: 'Invalid request body',
        details: ['[object has missing required properties (["detected_issues"])]'],
        request_id: response.headers?.['x-amzn-RequestId'],
      },
    });
    expect(lambda.callsTo(arns.intake)).toHaveLength(0);
  });

  it('names every failing keyword in the validator wording AWS uses', async () => {
    // Prepare
    const headers = { Authorization: `Bearer ${await tokenFor('operator')}` };
    const body = JSON.stringify({
      detected_issues: [{ issue_id: '-bad', title: 'x', severity: 'urgent', extra: 1 }],
    });

    // Act
    const response = await send('POST', '/triage', { headers, body });

    // Assess
    expect(response.status).toBe(400);
    const { details } = jsonOf(response).error as { details: string[] };
    expect(details).toHaveLength(1);
    expect(details[0]).toMatch(/^\[.*\]$/);
    expect(details[0]).toContain(
      'ECMA 262 regex "^[A-Za-z0-9][A-Za-z0-9._:-]*$" does not match input string "-bad"',
    );
    expect(details[0]).toContain(
      'instance value ("urgent") not found in enum (possible values: ["critical","high","medium","low"])',
    );
    expect(details[0]).toContain(
      'object instance has properties which are not allowed by the schema: ["extra"]',
    );
  });

  it('rejects a body that is not JSON with 400', async () => {
    // Prepare
    const headers = { Authorization: `Bearer ${await tokenFor('operator')}` };

    // Act
    const response = await send('POST', '/triage', { headers, body: '{"detected_issues": [' });

    // Assess
    expect(response.status).toBe(400);
    expect(jsonOf(response)).toMatchObject({
      error: { code: 'VALIDATION_FAILED', message: 'Invalid request body' },
    });
  });

  it('rejects POST issues without the Idempotency-Key header with 400', async () => {
    // Prepare
    const headers = { Authorization: `Bearer ${await tokenFor('operator')}` };

    // Act
    const response = await send('POST', '/issues', { headers, body: VALID_ISSUES });

    // Assess
    expect(response.status).toBe(400);
    expect(jsonOf(response)).toMatchObject({
      error: {
        code: 'VALIDATION_FAILED',
        message: 'Missing required request parameters: [Idempotency-Key]',
        details: ['Missing required request parameters: [Idempotency-Key]'],
      },
    });
    expect(lambda.callsTo(arns.intake)).toHaveLength(0);
  });

  it('runs the authorizer before the validator, as AWS does', async () => {
    // Act
    const response = await send('POST', '/issues', { body: '{}' });

    // Assess
    expect(response.status).toBe(401);
  });
});

describe('gateway responses', () => {
  it.each([
    ['an unknown path', 'GET', '/nothing-here'],
    ['a known path with another method', 'DELETE', '/health'],
    ['the root', 'GET', ''],
  ])(
    'answers %s with the template MISSING_AUTHENTICATION_TOKEN response: 404 NOT_FOUND',
    async (_label, method, path) => {
      // Act
      const response = await send(method, path);

      // Assess
      expect(response.status).toBe(404);
      expect(response.headers?.['x-amzn-ErrorType']).toBe('MissingAuthenticationTokenException');
      expect(jsonOf(response)).toEqual({
        error: {
          code: 'NOT_FOUND',
          message: 'no such route',
          request_id: response.headers?.['x-amzn-RequestId'],
        },
      });
    },
  );

  it('rejects a body over 10 MiB with 413 PAYLOAD_TOO_LARGE before routing or authorizing', async () => {
    // Prepare
    const body = Buffer.alloc(10 * 1024 * 1024 + 1, 0x20);

    // Act
    const response = await send('POST', '/issues', { headers: { Authorization: 'Bearer x' }, body });

    // Assess
    expect(response.status).toBe(413);
    expect(jsonOf(response)).toMatchObject({
      error: { code: 'PAYLOAD_TOO_LARGE', message: 'HTTP content length exceeded 10485760 bytes.' },
    });
    expect(lambda.calls).toHaveLength(0);
  });

  it('answers an unknown stage with 403 Forbidden and an unknown API with 404', async () => {
    // Act
    const stage = await api.provider.handle({
      ...executeApiRequest(api, 'GET', ''),
      path: `/_aws/execute-api/${api.apiId}/v9/x`,
    });
    const unknown = await api.provider.handle({
      ...executeApiRequest(api, 'GET', ''),
      path: '/_aws/execute-api/zzzzzzzzzz/v1/x',
    });

    // Assess
    expect(stage.status).toBe(403);
    expect(jsonOf(stage)).toEqual({ message: 'Forbidden' });
    expect(unknown.status).toBe(404);
  });
});

describe('stage throttling', () => {
  it('answers 429 THROTTLED once a method has used its burst, and recovers at the rate', async () => {
    // Prepare
    const throttled = structuredClone(template);
    const stageId = logicalIdOf(throttled, 'AWS::ApiGateway::Stage', '');
    const stage = throttled.Resources[stageId]?.Properties as Record<string, unknown>;
    stage.MethodSettings = [
      { ResourcePath: '/*', HttpMethod: '*', ThrottlingRateLimit: 1, ThrottlingBurstLimit: 2 },
    ];
    let now = clock;
    const deployed = await deployApiGateway(throttled, lambda, { now: () => now });
    const health = () =>
      deployed.provider.handle(executeApiRequest(deployed, 'GET', '/api/orchestrator/health'));

    // Act
    const burst = [(await health()).status, (await health()).status, (await health()).status];
    now += 1_000;
    const recovered = (await health()).status;

    // Assess
    expect(burst).toEqual([200, 200, 429]);
    expect(recovered).toBe(200);
    const response = await health();
    expect(jsonOf(response)).toMatchObject({ error: { code: 'THROTTLED', message: 'Too Many Requests' } });
  });
});
