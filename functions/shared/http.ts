/**
 * The middy stack every REST handler shares. A handler supplies its route from
 * ROUTES and an implementation that takes a validated request and returns
 * `{ status?, body }`; everything HTTP happens here, once:
 *
 * 1. Powertools: Logger context with API Gateway's requestId as correlation id,
 *    EMF metrics flushed after each request.
 * 2. Errors: anything thrown is mapped by `toApiError` to
 *    `{ error: { code, message, details?, request_id? } }`; a 5xx shows a generic
 *    message and the request id, and the full error goes to the log.
 * 3. Before the implementation, in order: header names lower-cased; body at most
 *    MAX_BODY_BYTES (413 PAYLOAD_TOO_LARGE); role from the authorizer context checked
 *    against `route.roles` (401 without one, 403 FORBIDDEN for the wrong one); path
 *    parameters checked as Identifiers (400 VALIDATION_FAILED); the query string
 *    validated by `route.query` (400 VALIDATION_FAILED); JSON parsed (400
 *    MALFORMED_JSON); body validated by `route.request` (400
 *    VALIDATION_FAILED, zod issues as `details: [{ path, message, code }]`); for
 *    `agentSelfOnly` routes an `agent` token may only name its own id.
 * 4. Around the whole stack: JSON serialisation, security headers, and CORS headers
 *    when the Origin is allowed. They sit outside middy because an early return (an
 *    idempotent replay) skips middy's `after` hooks.
 */
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy, { type MiddlewareObj } from '@middy/core';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import * as z from 'zod';
import { Identifier } from '#core/wire';
import { CorsEnv, loadConfig } from '#shared/config';
import {
  ApiError,
  ForbiddenError,
  NotFoundError,
  PayloadTooLargeError,
  toApiError,
  UnauthorizedError,
  ValidationError,
} from '#shared/errors';
import { logger, metrics } from '#shared/powertools';
import { MAX_BODY_BYTES } from '#shared/request-rules';
import { ROLES, ROUTES, type Role, type RouteSpec, routeMatches } from '#shared/routes';

const { CORS_ALLOWED_ORIGINS } = loadConfig(z.object(CorsEnv));

/** Who is calling, as the Lambda authorizer put it in the request context. */
export interface Principal {
  readonly sub: string;
  readonly role: Role;
}

/** What an implementation receives: the validated body and the caller. */
export interface HttpRequest<TBody, TQuery = Readonly<Record<string, unknown>>> {
  readonly body: TBody;
  readonly pathParameters: Readonly<Record<string, string | undefined>>;
  /** The query string as `route.query` parsed it; empty for a route without one. */
  readonly query: TQuery;
  /** Names lower-cased. */
  readonly headers: Readonly<Record<string, string | undefined>>;
  /** Undefined only on public routes. */
  readonly principal: Principal | undefined;
  readonly requestId: string;
}

/** What an implementation returns; `status` defaults to the route's success status. */
export interface HttpResult {
  readonly status?: number;
  readonly body?: unknown;
  readonly headers?: Readonly<Record<string, string>>;
}

/** What travels through the middy stack before serialisation. */
export interface HttpResponse {
  readonly status: number;
  readonly body?: unknown;
  readonly headers?: Readonly<Record<string, string>>;
}

/** API Gateway's proxy event once the stack has parsed the body (and the query, into `query`). */
export type ApiEvent = Omit<APIGatewayProxyEvent, 'body'> & { body: unknown; query?: unknown };

export type RouteImpl<TBody, TQuery = Readonly<Record<string, unknown>>> = (
  request: HttpRequest<TBody, TQuery>,
) => Promise<HttpResult>;

export type ApiMiddleware = MiddlewareObj<ApiEvent, HttpResponse>;

export type ApiHandler = ((
  event: APIGatewayProxyEvent,
  context: Context,
) => Promise<APIGatewayProxyResult>) & {
  readonly route: RouteSpec;
};

export interface HttpHandlerOptions {
  /** Runs last before the implementation, e.g. idempotency; required for `idempotent` routes. */
  readonly idempotency?: ApiMiddleware;
}

const BASE_HEADERS: Readonly<Record<string, string>> = {
  'content-type': 'application/json; charset=utf-8',
  'x-content-type-options': 'nosniff',
  'cache-control': 'no-store',
};

const AuthorizerContext = z.object({ sub: z.string().min(1), role: z.enum(ROLES) });

/**
 * The route with this operationId; throws at cold start when there is none. It reads ROUTES,
 * so the bundle holds every route and its schemas; a function near its bundle size target
 * imports its routes by name instead (`httpHandler(submitIssuesRoute, ...)`).
 * @example
 * export const handler = httpHandler(routeById('health'), async () => ({ body: { status: 'ok' } }));
 */
export function routeById(operationId: string): RouteSpec {
  const route = ROUTES.find((r) => r.operationId === operationId);
  if (!route) throw new Error(`no route has operationId ${operationId}`);
  return route;
}

/** The caller of a protected route; throws 401 where a public route has none. */
export function requirePrincipal(request: HttpRequest<unknown>): Principal {
  if (!request.principal) throw new UnauthorizedError();
  return request.principal;
}

/**
 * Builds the Lambda handler for one route.
 * `TBody` is the output type of `route.request`, which the stack validates before
 * calling `impl`.
 * @example
 * export const handler = httpHandler<IssueTriageRequest>(routeById('triageIssues'), async ({ body }) => ({
 *   body: triageIssues(body, agents, { now_ms: Date.now() }).assignment,
 * }));
 */
export function httpHandler<TBody = undefined, TQuery = Readonly<Record<string, unknown>>>(
  route: RouteSpec,
  impl: RouteImpl<TBody, TQuery>,
  options: HttpHandlerOptions = {},
): ApiHandler {
  if (route.idempotent && !options.idempotency)
    throw new Error(`route ${route.operationId} is idempotent; pass the idempotency middleware`);
  const stack = middy<ApiEvent, HttpResponse>(async (event: ApiEvent): Promise<HttpResponse> => {
    const result = await impl({
      body: event.body as TBody,
      pathParameters: event.pathParameters ?? {},
      query: (event.query ?? {}) as TQuery,
      headers: event.headers,
      principal: principalOf(event),
      requestId: event.requestContext.requestId,
    });
    return { status: result.status ?? route.success.status, body: result.body, headers: result.headers };
  })
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .use(correlate)
    .use(logMetrics(metrics, { captureColdStartMetric: true }))
    .use(countRequest(route))
    .use(errorResponses)
    .use(normaliseHeaders)
    .use(limitBodySize)
    .use(checkRole(route))
    .use(validatePathParameters(route))
    .use(validateQuery(route))
    .use(parseJsonBody(route))
    .use(validateBody(route))
    .use(checkAgentSelf(route));
  if (options.idempotency) stack.use(options.idempotency);
  return Object.assign(serialised(stack), { route });
}

/**
 * One Lambda behind several routes: dispatches on API Gateway's `resource` and method.
 * @example
 * export const handler = httpRouter([listAgents, getAgent]);
 */
export function httpRouter(
  handlers: readonly ApiHandler[],
): (event: APIGatewayProxyEvent, context: Context) => Promise<APIGatewayProxyResult> {
  return async (event, context) => {
    // Matched against its own routes, not ROUTES, so a router bundles only the routes it serves.
    const handler = handlers.find((h) => routeMatches(h.route, event.httpMethod, event.resource));
    if (handler) return handler(event, context);
    logger.error('no handler for the matched resource', {
      method: event.httpMethod,
      resource: event.resource,
    });
    const error = new NotFoundError(`no route ${event.httpMethod} ${event.resource}`);
    return toProxyResult(event, errorResponse(error, event.requestContext?.requestId));
  };
}

// ---------------------------------------------------------------- middlewares

/**
 * API Gateway's requestId as the log correlation id. Set directly: `correlationIdPath`
 * would need `@aws-lambda-powertools/jmespath`, an optional peer the logger lacks here.
 */
const correlate: ApiMiddleware = {
  before: ({ event }) => {
    if (event.requestContext?.requestId) logger.setCorrelationId(event.requestContext.requestId);
  },
};

/**
 * One `ApiRequests` data point per request, tagged with the operation: the API's own
 * traffic metric, and it keeps every EMF flush non-empty.
 */
const countRequest = (route: RouteSpec): ApiMiddleware => ({
  before: () => {
    metrics.addMetadata('operation', route.operationId);
    metrics.addMetric('ApiRequests', MetricUnit.Count, 1);
  },
});

const errorResponses: ApiMiddleware = {
  onError: (request) => {
    const error = toApiError(request.error);
    if (error.status >= 500) logger.error('request failed', { error: request.error });
    else logger.info('request rejected', { status: error.status, code: error.code, message: error.message });
    request.response = errorResponse(
      error,
      request.event.requestContext?.requestId ?? request.context.awsRequestId,
    );
  },
};

const normaliseHeaders: ApiMiddleware = {
  before: ({ event }) => {
    event.headers = Object.fromEntries(
      Object.entries(event.headers ?? {}).map(([name, value]) => [name.toLowerCase(), value]),
    );
  },
};

const limitBodySize: ApiMiddleware = {
  before: ({ event }) => {
    if (typeof event.body !== 'string') return;
    const bytes = Buffer.byteLength(event.body, event.isBase64Encoded ? 'base64' : 'utf8');
    if (bytes > MAX_BODY_BYTES) throw new PayloadTooLargeError(MAX_BODY_BYTES, bytes);
  },
};

const checkRole = (route: RouteSpec): ApiMiddleware => ({
  before: ({ event }) => {
    if (route.roles.length === 0) return;
    const principal = principalOf(event);
    if (!principal) throw new UnauthorizedError();
    if (!route.roles.includes(principal.role))
      throw new ForbiddenError(
        `role ${principal.role} may not call ${route.method} ${route.path}; allowed: ${route.roles.join(', ')}`,
      );
  },
});

/** Every `{name}` in a route's path is an Identifier, as the OpenAPI document says. */
const validatePathParameters = (route: RouteSpec): ApiMiddleware => {
  const names = [...route.path.matchAll(/\{(\w+)\}/g)].map((match) => match[1] as string);
  return {
    before: ({ event }) => {
      const details = names.flatMap((name) => {
        const result = Identifier.safeParse(event.pathParameters?.[name]);
        return result.success
          ? []
          : [
              {
                path: `path.${name}`,
                message: result.error.issues[0]?.message ?? 'invalid',
                code: 'invalid_format',
              },
            ];
      });
      if (details.length > 0) throw new ValidationError('a path parameter is not a valid id', details);
    },
  };
};

/** A route without a query schema ignores the query string; with one, `event.query` holds it parsed. */
const validateQuery = (route: RouteSpec): ApiMiddleware => ({
  before: ({ event }) => {
    if (!route.query) return;
    const result = route.query.safeParse(event.queryStringParameters ?? {});
    if (!result.success) {
      const details = result.error.issues.map((issue) => ({
        path: `query${issue.path.length > 0 ? `.${formatPath(issue.path)}` : ''}`,
        message: issue.message,
        code: issue.code,
      }));
      throw new ValidationError(`the query string has ${details.length} problem(s); see details`, details);
    }
    event.query = result.data;
  },
});

/** A route without a request schema ignores any body; an empty body counts as `{}`. */
const parseJsonBody = (route: RouteSpec): ApiMiddleware => ({
  before: ({ event }) => {
    if (!route.request) {
      event.body = undefined;
      return;
    }
    const raw = typeof event.body === 'string' ? event.body : '';
    const text = event.isBase64Encoded ? Buffer.from(raw, 'base64').toString('utf8') : raw;
    if (text.trim() === '') {
      event.body = {};
      return;
    }
    try {
      event.body = JSON.parse(text);
    } catch (cause) {
      throw new ApiError(400, 'MALFORMED_JSON', 'the body is not valid JSON', [{ message: String(cause) }], {
        cause,
      });
    }
  },
});

const validateBody = (route: RouteSpec): ApiMiddleware => ({
  before: ({ event }) => {
    if (!route.request) return;
    const result = route.request.safeParse(event.body);
    if (!result.success) {
      const details = result.error.issues.map((issue) => ({
        path: formatPath(issue.path),
        message: issue.message,
        code: issue.code,
      }));
      throw new ValidationError(`the body has ${details.length} problem(s); see details`, details);
    }
    event.body = result.data;
  },
});

/** An `agent` token acts only on its own id: the path `{id}` and the body's `agent_id`. */
const checkAgentSelf = (route: RouteSpec): ApiMiddleware => ({
  before: ({ event }) => {
    const principal = principalOf(event);
    if (!route.agentSelfOnly || principal?.role !== 'agent') return;
    const bodyId = (event.body as { agent_id?: unknown } | undefined)?.agent_id;
    const named = [event.pathParameters?.id, bodyId].filter((id) => id !== undefined);
    if (named.length === 0 || named.some((id) => id !== principal.sub))
      throw new ForbiddenError(`an agent token may act only on its own agent id (${principal.sub})`);
  },
});

// ---------------------------------------------------------------- helpers

function principalOf(event: Pick<APIGatewayProxyEvent, 'requestContext'>): Principal | undefined {
  const parsed = AuthorizerContext.safeParse(event.requestContext?.authorizer);
  return parsed.success ? parsed.data : undefined;
}

/** `detected_issues[0].severity`; the empty string for the body itself. */
function formatPath(path: readonly PropertyKey[]): string {
  return path
    .map((key, k) => (typeof key === 'number' ? `[${key}]` : `${k === 0 ? '' : '.'}${String(key)}`))
    .join('');
}

function errorResponse(error: ApiError, requestId: string | undefined): HttpResponse {
  const internal = error.status >= 500;
  return {
    status: error.status,
    headers: error.headers,
    body: {
      error: {
        code: error.code,
        message: error.message,
        ...(error.details && !internal ? { details: error.details } : {}),
        ...(internal && requestId ? { request_id: requestId } : {}),
      },
    },
  };
}

function serialised(
  stack: (event: ApiEvent, context: Context) => Promise<HttpResponse>,
): (event: APIGatewayProxyEvent, context: Context) => Promise<APIGatewayProxyResult> {
  return async (event, context) => {
    try {
      return toProxyResult(event, await stack(event, context));
    } catch (error) {
      // Only reached when the error middleware itself failed.
      logger.error('unhandled failure in the HTTP stack', { error });
      return toProxyResult(event, errorResponse(toApiError(error), event.requestContext?.requestId));
    }
  };
}

function toProxyResult(
  event: Pick<APIGatewayProxyEvent, 'headers'>,
  response: HttpResponse,
): APIGatewayProxyResult {
  return {
    statusCode: response.status,
    headers: { ...BASE_HEADERS, ...corsHeaders(event), ...response.headers },
    body: response.body === undefined ? '' : JSON.stringify(response.body),
  };
}

function corsHeaders(event: Pick<APIGatewayProxyEvent, 'headers'>): Record<string, string> {
  const origin = Object.entries(event.headers ?? {}).find(([name]) => name.toLowerCase() === 'origin')?.[1];
  if (!origin || !CORS_ALLOWED_ORIGINS.includes(origin)) return {};
  return { 'access-control-allow-origin': origin, vary: 'Origin' };
}
