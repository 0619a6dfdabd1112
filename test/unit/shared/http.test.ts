import './test-env';
import * as z from 'zod';
import {
  DependencyCycleError,
  DuplicateIdError,
  InfeasiblePlanError,
  UnknownDependencyError,
} from '#core/errors';
import { ApiError, ConflictError, NotFoundError } from '#shared/errors';
import { httpHandler, httpRouter, routeById } from '#shared/http';
import { logger } from '#shared/powertools';
import { MAX_BODY_BYTES } from '#shared/request-rules';
import { ROLES, ROUTES, type Role, type RouteSpec } from '#shared/routes';
import { apiEvent, type EventOptions, errorOf, jsonBody, lambdaContext, REQUEST_ID } from './fixtures';

afterEach(() => jest.restoreAllMocks());

const TestBody = z.object({ name: z.string().max(5), count: z.number().int() }).strict();

const TEST_ROUTE: RouteSpec = {
  method: 'POST',
  path: 'test/{id}',
  function: 'triage',
  operationId: 'testOperation',
  summary: 'test',
  roles: ['operator', 'admin'],
  request: TestBody,
  success: { status: 200 },
};

const OPERATOR = { sub: 'ops-1', role: 'operator' };

function testEvent(options: EventOptions = {}) {
  return apiEvent({
    resource: '/api/orchestrator/test/{id}',
    pathParameters: { id: 'thing-1' },
    principal: OPERATOR,
    body: JSON.stringify({ name: 'ok', count: 1 }),
    ...options,
  });
}

async function invoke(
  route: RouteSpec,
  impl: (req: unknown) => Promise<unknown>,
  options: EventOptions = {},
) {
  const handler = httpHandler(route, async (request) => (await impl(request)) as { body?: unknown });
  return handler(testEvent(options), lambdaContext());
}

describe('httpHandler: success', () => {
  it('answers the route status with JSON and the security headers', async () => {
    // Prepare
    const impl = jest.fn(async () => ({ body: { hello: 'world' } }));

    // Act
    const result = await invoke(TEST_ROUTE, impl);

    // Assess
    expect(result.statusCode).toBe(200);
    expect(jsonBody(result)).toEqual({ hello: 'world' });
    expect(result.headers).toMatchObject({
      'content-type': 'application/json; charset=utf-8',
      'x-content-type-options': 'nosniff',
      'cache-control': 'no-store',
    });
  });

  it('hands the implementation the validated body, lower-cased headers, path and principal', async () => {
    // Prepare
    const impl = jest.fn(async (_request: unknown) => ({}));

    // Act
    await invoke(TEST_ROUTE, impl, { headers: { 'X-Custom-Header': 'v' } });

    // Assess
    expect(impl).toHaveBeenCalledWith(
      expect.objectContaining({
        body: { name: 'ok', count: 1 },
        headers: { 'x-custom-header': 'v' },
        pathParameters: { id: 'thing-1' },
        principal: { sub: 'ops-1', role: 'operator' },
        requestId: REQUEST_ID,
      }),
    );
  });

  it('lets the implementation choose another status and add headers; 204 has an empty body', async () => {
    // Act
    const created = await invoke(TEST_ROUTE, async () => ({
      status: 201,
      body: { id: 1 },
      headers: { etag: 'x' },
    }));
    const empty = await invoke({ ...TEST_ROUTE, success: { status: 204 } }, async () => ({}));

    // Assess
    expect(created.statusCode).toBe(201);
    expect(created.headers).toMatchObject({ etag: 'x' });
    expect(empty.statusCode).toBe(204);
    expect(empty.body).toBe('');
  });

  it('adds CORS headers only for an allowed Origin', async () => {
    // Act
    const allowed = await invoke(TEST_ROUTE, async () => ({}), {
      headers: { Origin: 'https://dashboard.example.com' },
    });
    const refused = await invoke(TEST_ROUTE, async () => ({}), {
      headers: { origin: 'https://evil.example.com' },
    });

    // Assess
    expect(allowed.headers).toMatchObject({ 'access-control-allow-origin': 'https://dashboard.example.com' });
    expect(refused.headers?.['access-control-allow-origin']).toBeUndefined();
  });

  it('treats an empty body as {} and ignores bodies on routes without a schema', async () => {
    // Prepare
    const lenient = { ...TEST_ROUTE, request: z.object({ note: z.string().optional() }).strict() };
    const noSchema = { ...TEST_ROUTE, request: undefined };
    const seen: unknown[] = [];

    // Act
    const empty = await invoke(lenient, async (r) => seen.push((r as { body: unknown }).body), {
      body: null,
    });
    const ignored = await invoke(noSchema, async (r) => seen.push((r as { body: unknown }).body), {
      body: '{oops',
    });

    // Assess
    expect(empty.statusCode).toBe(200);
    expect(ignored.statusCode).toBe(200);
    expect(seen).toEqual([{}, undefined]);
  });
});

describe('httpHandler: errors', () => {
  const cases: [string, () => Error, number, string][] = [
    ['NotFoundError', () => new NotFoundError('no such agent'), 404, 'NOT_FOUND'],
    ['ConflictError', () => new ConflictError('CONCURRENT_UPDATE', 'changed'), 409, 'CONCURRENT_UPDATE'],
    ['DependencyCycleError', () => new DependencyCycleError(['a', 'b', 'a']), 422, 'DEPENDENCY_CYCLE'],
    ['UnknownDependencyError', () => new UnknownDependencyError('a', 'z'), 422, 'UNKNOWN_DEPENDENCY'],
    ['InfeasiblePlanError', () => new InfeasiblePlanError('too big'), 422, 'INFEASIBLE_PLAN'],
    ['DuplicateIdError', () => new DuplicateIdError('a'), 409, 'DUPLICATE_ID'],
    ['ApiError 429', () => new ApiError(429, 'THROTTLED', 'slow down'), 429, 'THROTTLED'],
  ];

  it.each(cases)('maps %s to its status and code', async (_name, error, status, code) => {
    // Act
    const result = await invoke(TEST_ROUTE, async () => {
      throw error();
    });

    // Assess
    expect(result.statusCode).toBe(status);
    expect(errorOf(result)).toMatchObject({ code, message: error().message });
    expect(errorOf(result).request_id).toBeUndefined();
    expect(result.headers).toMatchObject({ 'content-type': 'application/json; charset=utf-8' });
  });

  it('passes core error details on, e.g. the cycle', async () => {
    // Act
    const result = await invoke(TEST_ROUTE, async () => {
      throw new DependencyCycleError(['a', 'b', 'a']);
    });

    // Assess
    expect(errorOf(result).details).toEqual([{ cycle: ['a', 'b', 'a'] }]);
  });

  it('hides a 5xx behind a generic message with the request id, and logs the real error', async () => {
    // Prepare
    const logged = jest.spyOn(logger, 'error');
    const secret = new Error('connect ECONNREFUSED 10.0.0.7: password=hunter2');

    // Act
    const result = await invoke(TEST_ROUTE, async () => {
      throw secret;
    });

    // Assess
    expect(result.statusCode).toBe(500);
    expect(errorOf(result)).toEqual({
      code: 'INTERNAL_ERROR',
      message: 'internal error',
      request_id: REQUEST_ID,
    });
    expect(result.body).not.toContain('hunter2');
    expect(logged).toHaveBeenCalledWith('request failed', { error: secret });
  });

  it('passes an error’s own headers through, e.g. retry-after', async () => {
    // Act
    const result = await invoke(TEST_ROUTE, async () => {
      throw new ApiError(409, 'REQUEST_IN_PROGRESS', 'wait', undefined, { headers: { 'retry-after': '2' } });
    });

    // Assess
    expect(result.headers).toMatchObject({ 'retry-after': '2' });
  });

  it('rejects a body over 1 MiB with 413 before parsing it', async () => {
    // Prepare
    const impl = jest.fn(async () => ({}));
    const body = JSON.stringify({ name: 'x'.repeat(MAX_BODY_BYTES), count: 1 });

    // Act
    const result = await invoke(TEST_ROUTE, impl, { body });

    // Assess
    expect(result.statusCode).toBe(413);
    expect(errorOf(result)).toMatchObject({
      code: 'PAYLOAD_TOO_LARGE',
      details: [{ limit_bytes: MAX_BODY_BYTES, actual_bytes: Buffer.byteLength(body) }],
    });
    expect(impl).not.toHaveBeenCalled();
  });

  it('measures a base64 body by its decoded size', async () => {
    // Prepare
    const decoded = JSON.stringify({ name: 'ok', count: 1, pad: 'x'.repeat(MAX_BODY_BYTES - 100) });
    const encoded = Buffer.from(decoded).toString('base64');

    // Act
    const result = await invoke(TEST_ROUTE, async () => ({}), { body: encoded, isBase64Encoded: true });

    // Assess: under the limit once decoded, so the body reaches validation (and fails on `pad`).
    expect(encoded.length).toBeGreaterThan(MAX_BODY_BYTES);
    expect(result.statusCode).toBe(400);
    expect(errorOf(result).code).toBe('VALIDATION_FAILED');
  });

  it('rejects malformed JSON with 400 MALFORMED_JSON', async () => {
    // Act
    const result = await invoke(TEST_ROUTE, async () => ({}), { body: '{"name": "ok",' });

    // Assess
    expect(result.statusCode).toBe(400);
    expect(errorOf(result).code).toBe('MALFORMED_JSON');
  });

  it('rejects an invalid body with 400 VALIDATION_FAILED and one detail per zod issue', async () => {
    // Prepare
    const impl = jest.fn(async () => ({}));

    // Act
    const result = await invoke(TEST_ROUTE, impl, {
      body: JSON.stringify({ name: 'too long', count: 1.5, x: 1 }),
    });

    // Assess
    expect(result.statusCode).toBe(400);
    const error = errorOf(result);
    expect(error.code).toBe('VALIDATION_FAILED');
    expect(error.details).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ path: 'name', code: 'too_big' }),
        expect.objectContaining({ path: 'count', code: 'invalid_type' }),
        expect.objectContaining({ path: '', code: 'unrecognized_keys' }),
      ]),
    );
    for (const detail of error.details as { message: unknown }[])
      expect(typeof detail.message).toBe('string');
    expect(impl).not.toHaveBeenCalled();
  });

  it('names nested paths with indexes, e.g. detected_issues[0].severity', async () => {
    // Prepare
    const route = routeById('triageIssues');
    const body = JSON.stringify({ detected_issues: [{ issue_id: 'i1', title: 't', severity: 'urgent' }] });

    // Act
    const result = await invoke(route, async () => ({}), { body });

    // Assess
    expect(errorOf(result).details).toEqual([
      expect.objectContaining({ path: 'detected_issues[0].severity', code: 'invalid_value' }),
    ]);
  });

  it('rejects a path id that is not an Identifier with 400', async () => {
    // Act
    const result = await invoke(TEST_ROUTE, async () => ({}), {
      pathParameters: { id: 'has spaces/and slashes' },
    });

    // Assess
    expect(result.statusCode).toBe(400);
    expect(errorOf(result).details).toEqual([expect.objectContaining({ path: 'path.id' })]);
  });
});

describe('httpHandler: query strings', () => {
  const QUERY_ROUTE: RouteSpec = {
    ...TEST_ROUTE,
    method: 'GET',
    request: undefined,
    query: z
      .object({ queue: z.string().optional(), limit: z.coerce.number().int().min(1).max(10).default(10) })
      .strict(),
  };

  it('hands the implementation the parsed query, with defaults and numbers coerced', async () => {
    // Prepare
    const impl = jest.fn(async (request: unknown) => ({ body: (request as { query: unknown }).query }));

    // Act
    const given = await invoke(QUERY_ROUTE, impl, {
      queryStringParameters: { queue: 'network', limit: '3' },
    });
    const defaulted = await invoke(QUERY_ROUTE, impl, { queryStringParameters: undefined });

    // Assess
    expect(jsonBody(given)).toEqual({ queue: 'network', limit: 3 });
    expect(jsonBody(defaulted)).toEqual({ limit: 10 });
  });

  it('rejects a query value out of range, or an unknown name, with 400 VALIDATION_FAILED and the query path', async () => {
    // Prepare
    const impl = jest.fn(async () => ({}));

    // Act
    const outOfRange = await invoke(QUERY_ROUTE, impl, { queryStringParameters: { limit: '11' } });
    const unknown = await invoke(QUERY_ROUTE, impl, { queryStringParameters: { page: '2' } });

    // Assess
    expect([outOfRange.statusCode, unknown.statusCode]).toEqual([400, 400]);
    expect(errorOf(outOfRange)).toMatchObject({
      code: 'VALIDATION_FAILED',
      details: [expect.objectContaining({ path: 'query.limit', code: 'too_big' })],
    });
    expect(errorOf(unknown).details).toEqual([
      expect.objectContaining({ path: 'query', code: 'unrecognized_keys' }),
    ]);
    expect(impl).not.toHaveBeenCalled();
  });

  it('ignores the query string of a route without a query schema', async () => {
    // Prepare
    const impl = jest.fn(async (request: unknown) => ({
      body: { query: (request as { query: unknown }).query },
    }));

    // Act
    const result = await invoke(TEST_ROUTE, impl, { queryStringParameters: { anything: 'x' } });

    // Assess
    expect(result.statusCode).toBe(200);
    expect(jsonBody(result)).toEqual({ query: {} });
  });
});

describe('httpHandler: roles', () => {
  /** A body each route accepts, so an allowed role gets past validation. */
  const VALID_BODIES: Record<string, unknown> = {
    submitIssues: { detected_issues: [{ issue_id: 'i1', title: 'DNS failing', severity: 'high' }] },
    triageIssues: { detected_issues: [{ issue_id: 'i1', title: 'DNS failing', severity: 'high' }] },
    registerAgent: { agent_id: 'agent-1', categories: ['network'] },
    heartbeat: { current_load: 1 },
    optimizeResources: {},
    startWorkflow: { recovery_plan: { steps: [{ step_id: 's1', issue_id: 'i1', category: 'network' }] } },
    rollbackWorkflow: { reason: 'bad release' },
    cancelWorkflow: {},
    sendTaskSuccess: { task_token: 'token-1', output: { ok: true } },
    sendTaskFailure: { task_token: 'token-1', error: { code: 'Agent.Permanent' } },
    sendTaskHeartbeat: { task_token: 'token-1' },
    redriveDeadLetters: {},
  };

  function routeEvent(route: RouteSpec, role: Role | undefined): EventOptions {
    return {
      method: route.method,
      resource: `/api/orchestrator/${route.path}`,
      pathParameters: route.path.includes('{id}') ? { id: 'agent-1' } : undefined,
      body: route.request ? JSON.stringify(VALID_BODIES[route.operationId]) : null,
      headers: { 'Idempotency-Key': 'k-1' },
      principal: role ? { sub: 'agent-1', role } : undefined,
    };
  }

  async function call(route: RouteSpec, role: Role | undefined) {
    const passThrough = { before: () => undefined };
    const handler = httpHandler(route, async () => ({}), { idempotency: passThrough });
    return handler(apiEvent(routeEvent(route, role)), lambdaContext());
  }

  const matrix = ROUTES.flatMap((route) => ROLES.map((role) => [route.operationId, role, route] as const));

  it.each(matrix)('%s as %s: allowed exactly when ROUTES lists the role', async (_id, role, route) => {
    // Act
    const result = await call(route, role);

    // Assess
    const allowed = route.roles.length === 0 || route.roles.includes(role);
    expect(result.statusCode).toBe(allowed ? route.success.status : 403);
    if (!allowed) expect(errorOf(result).code).toBe('FORBIDDEN');
  });

  it.each(ROUTES.map((r) => [r.operationId, r] as const))('%s without a principal', async (_id, route) => {
    // Act
    const result = await call(route, undefined);

    // Assess: public routes answer, the rest need a token.
    expect(result.statusCode).toBe(route.roles.length === 0 ? route.success.status : 401);
  });

  it('rejects an agent token acting on another agent’s heartbeat or registration', async () => {
    // Prepare
    const heartbeat = routeById('heartbeat');
    const register = routeById('registerAgent');
    const handlerFor = (route: RouteSpec) => httpHandler(route, async () => ({}));
    const agent = { sub: 'agent-1', role: 'agent' };

    // Act
    const otherHeartbeat = await handlerFor(heartbeat)(
      apiEvent({ ...routeEvent(heartbeat, 'agent'), pathParameters: { id: 'agent-2' }, principal: agent }),
      lambdaContext(),
    );
    const otherRegistration = await handlerFor(register)(
      apiEvent({
        ...routeEvent(register, 'agent'),
        body: JSON.stringify({ agent_id: 'agent-2', categories: ['network'] }),
      }),
      lambdaContext(),
    );
    const adminOnOther = await handlerFor(heartbeat)(
      apiEvent({ ...routeEvent(heartbeat, 'admin'), pathParameters: { id: 'agent-2' } }),
      lambdaContext(),
    );

    // Assess
    expect(otherHeartbeat.statusCode).toBe(403);
    expect(otherRegistration.statusCode).toBe(403);
    expect(adminOnOther.statusCode).toBe(200);
  });

  it('rejects a role outside ROLES as unauthenticated', async () => {
    // Act
    const result = await invoke(TEST_ROUTE, async () => ({}), { principal: { sub: 'x', role: 'root' } });

    // Assess
    expect(result.statusCode).toBe(401);
  });

  it('fails at cold start when an idempotent route has no idempotency middleware', () => {
    expect(() => httpHandler(routeById('submitIssues'), async () => ({}))).toThrow(/idempotent/);
  });

  it('fails at cold start for an unknown operationId', () => {
    expect(() => routeById('noSuchOperation')).toThrow(/noSuchOperation/);
  });
});

describe('httpRouter', () => {
  it('dispatches on the matched resource and method, and answers 404 for anything else', async () => {
    // Prepare
    const list = httpHandler(routeById('listAgents'), async () => ({ body: { which: 'list' } }));
    const get = httpHandler(routeById('getAgent'), async () => ({ body: { which: 'get' } }));
    const router = httpRouter([list, get]);
    const viewer = { sub: 'v-1', role: 'viewer' };

    // Act
    const listed = await router(
      apiEvent({ method: 'GET', resource: '/api/orchestrator/agents', principal: viewer }),
      lambdaContext(),
    );
    const got = await router(
      apiEvent({
        method: 'GET',
        resource: '/api/orchestrator/agents/{id}',
        pathParameters: { id: 'a-1' },
        principal: viewer,
      }),
      lambdaContext(),
    );
    const missing = await router(
      apiEvent({ method: 'DELETE', resource: '/api/orchestrator/agents/{id}', principal: viewer }),
      lambdaContext(),
    );

    // Assess
    expect(jsonBody(listed)).toEqual({ which: 'list' });
    expect(jsonBody(got)).toEqual({ which: 'get' });
    expect(missing.statusCode).toBe(404);
    expect(errorOf(missing).code).toBe('NOT_FOUND');
  });
});
