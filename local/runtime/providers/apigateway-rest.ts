/**
 * API Gateway REST APIs (v1) for the offline runtime: deploys the template's
 * `AWS::ApiGateway::*` resources into an in-memory model and serves each stage at
 * LocalStack's no-DNS URL, `/_aws/execute-api/<apiId>/<stage>/<path>` (and at
 * `Host: <apiId>.execute-api.<anything>` with `/<stage>/<path>`).
 *
 * A request goes through API Gateway's steps in AWS's order, each failure answered by
 * the API's gateway response of that type (see ./apigateway/gateway-responses.ts):
 *
 * 1. body over 10 MiB → 413 REQUEST_TOO_LARGE;
 * 2. resource and method (./apigateway/router.ts) → 403 MISSING_AUTHENTICATION_TOKEN;
 * 3. stage throttling (MethodSettings) → 429 THROTTLED;
 * 4. Lambda authorizer, cached per identity source → 401 / 403 / 500;
 * 5. request validator: parameters and body model → 400;
 * 6. integration: AWS_PROXY through `context.services.lambda` (v1 proxy event, 502 on a
 *    malformed result or a function error, 504 after 29 s) or MOCK.
 */
import { randomUUID } from 'node:crypto';
import type { AwsRequest, AwsResponse, DeployContext, LambdaInvoker, Provider } from '../types';
import { LambdaAuthorizers, TimeoutError, withTimeout } from './apigateway/authorizer';
import { GatewayError, renderGatewayResponse } from './apigateway/gateway-responses';
import {
  type Invocation,
  mockIntegrationResponse,
  newExtendedRequestId,
  newTraceId,
  proxyEvent,
  proxyResultToResponse,
  requestAuthorizerEvent,
  requestContextOf,
  tokenAuthorizerEvent,
} from './apigateway/integrations';
import {
  API_GATEWAY_REST_RESOURCE_TYPES,
  lambdaArnFromUri,
  RestApiRegistry,
  type RestApiState,
} from './apigateway/model';
import type { ParameterSources } from './apigateway/parameters';
import { type ExecuteApiTarget, matchRoute, parseExecuteApiPath } from './apigateway/router';
import { StageThrottle } from './apigateway/throttle';
import { validateRequest } from './apigateway/validation';

/** API Gateway's payload limit: 10 MiB. */
export const MAX_PAYLOAD_BYTES = 10 * 1024 * 1024;

/** API Gateway's integration timeout for REST APIs. */
export const INTEGRATION_TIMEOUT_MS = 29_000;

export interface ApiGatewayRestOptions {
  /** @default 29_000 (AWS's maximum) */
  readonly integrationTimeoutMs?: number;
  /** @default 10 MiB */
  readonly maxPayloadBytes?: number;
  /** Clock for throttling, authorizer caching and request times. @default Date.now */
  readonly now?: () => number;
  /** Used until `start` or `deploy` brings the runtime's log. @default no logging */
  readonly log?: (message: string) => void;
}

interface RuntimeContext {
  readonly region: string;
  readonly accountId: string;
  readonly lambda: () => LambdaInvoker | undefined;
  readonly log: (message: string) => void;
}

/**
 * The `execute-api` provider.
 * @example
 * const provider = createApiGatewayRestProvider();
 * await provider.deploy?.(restApiResource, deployContext);
 * const response = await provider.handle(request); // GET /_aws/execute-api/<apiId>/v1/api/orchestrator/health
 */
export function createApiGatewayRestProvider(options: ApiGatewayRestOptions = {}): Provider & {
  /** The deployed REST APIs, for printing URLs and for tests. */
  readonly apis: () => readonly RestApiState[];
} {
  const now = options.now ?? Date.now;
  const timeoutMs = options.integrationTimeoutMs ?? INTEGRATION_TIMEOUT_MS;
  const maxPayloadBytes = options.maxPayloadBytes ?? MAX_PAYLOAD_BYTES;
  const registry = new RestApiRegistry();
  const throttle = new StageThrottle(now);
  let runtime: RuntimeContext | undefined;
  const log = (message: string) => (runtime?.log ?? options.log ?? (() => {}))(message);
  const authorizers = new LambdaAuthorizers({ now, timeoutMs, log });

  const adopt = (context: Omit<DeployContext, 'stackName'>) => {
    runtime = {
      region: context.region,
      accountId: context.accountId,
      lambda: () => context.services.lambda,
      log: context.log,
    };
  };

  const targetOf = (request: AwsRequest): ExecuteApiTarget | undefined => {
    const byPath = parseExecuteApiPath(request.path);
    if (byPath) return byPath;
    const host = headerValue(request.headers.host);
    const apiId = host ? /^([a-z0-9]+)\.execute-api\./.exec(host)?.[1] : undefined;
    if (!apiId || !registry.get(apiId)) return undefined;
    const [, stage = '', ...segments] = request.path.split('/');
    return { apiId, stage, path: `/${segments.join('/')}` };
  };

  return {
    service: 'execute-api',
    resourceTypes: API_GATEWAY_REST_RESOURCE_TYPES,
    apis: () => registry.list(),

    matches: (request) => targetOf(request) !== undefined,

    async start(context) {
      adopt(context);
    },

    async deploy(resource, context) {
      adopt(context);
      return registry.deploy(resource, context.stackName);
    },

    async handle(request) {
      const target = targetOf(request);
      const api = target ? registry.get(target.apiId) : undefined;
      if (!target || !api)
        return plainJson(404, {
          message: `The API id '${target?.apiId ?? ''}' does not correspond to a deployed API Gateway API`,
        });
      const stage = api.stages.get(target.stage);
      if (!stage || api.disableExecuteApiEndpoint) return plainJson(403, { message: 'Forbidden' });
      return serve({
        request,
        api,
        stage,
        path: target.path,
        region: runtime?.region ?? request.region,
        accountId: runtime?.accountId ?? '000000000000',
      });
    },
  };

  async function serve(input: {
    request: AwsRequest;
    api: RestApiState;
    stage: Invocation['stage'];
    path: string;
    region: string;
    accountId: string;
  }): Promise<AwsResponse> {
    const { request, api, stage } = input;
    const receivedAt = now();
    const requestId = randomUUID();
    const extendedRequestId = newExtendedRequestId();
    const httpMethod = request.method.toUpperCase();
    const { headers, multiValueHeaders } = eventHeaders(request, receivedAt);
    const domainName = headers.host ?? `${api.id}.execute-api.${input.region}.amazonaws.com`;
    let invocation: Invocation | undefined;

    const header = (name: string) => headers[name.toLowerCase()];
    const querystring = (name: string) => lastQueryValue(request.query, name);
    const sources = (): ParameterSources => ({
      header,
      querystring,
      path: invocation?.route.pathParameters ?? {},
      stageVariables: stage.variables,
      context: invocation
        ? { ...requestContextOf(invocation) }
        : { requestId, extendedRequestId, apiId: api.id, stage: stage.name, httpMethod },
    });

    try {
      if (request.body.length > maxPayloadBytes)
        throw new GatewayError('REQUEST_TOO_LARGE', `HTTP content length exceeded ${maxPayloadBytes} bytes.`);
      const route = matchRoute(api, httpMethod, input.path);
      if (!route) throw new GatewayError('MISSING_AUTHENTICATION_TOKEN', 'Missing Authentication Token');
      invocation = {
        requestId,
        extendedRequestId,
        receivedAt,
        region: input.region,
        accountId: input.accountId,
        api,
        stage,
        httpMethod,
        path: input.path,
        route,
        headers,
        multiValueHeaders,
        query: request.query,
        body: request.body,
        domainName,
        sourceIp: '127.0.0.1',
      };
      if (!throttle.tryTake(api.id, stage, route.resourcePath, route.method.httpMethod))
        throw new GatewayError('THROTTLED', 'Too Many Requests');

      const authorizer = await authorize(invocation, sources());
      validateRequest(api, route.method, {
        header,
        querystring,
        pathParameters: route.pathParameters,
        contentType: (header('content-type') ?? 'application/json').split(';')[0]?.trim().toLowerCase() ?? '',
        body: request.body.length === 0 ? null : request.body.toString('utf8'),
      });
      const response = await integrate(invocation, authorizer, sources());
      return {
        ...response,
        headers: {
          'x-amzn-RequestId': requestId,
          'x-amz-apigw-id': extendedRequestId,
          'X-Amzn-Trace-Id': headers['x-amzn-trace-id'] ?? newTraceId(receivedAt),
          ...response.headers,
        },
      };
    } catch (error) {
      const gatewayError =
        error instanceof GatewayError
          ? error
          : new GatewayError('DEFAULT_5XX', 'Internal server error', { cause: error });
      if (gatewayError.status >= 500 && gatewayError.cause !== undefined)
        log(`execute-api ${httpMethod} ${input.path} (${requestId}): ${describeCause(gatewayError.cause)}`);
      const parameterSources = sources();
      return renderGatewayResponse(api.gatewayResponses, gatewayError, {
        requestId,
        contextVariables: parameterSources.context,
        stageVariables: stage.variables,
        parameters: parameterSources,
        accept: header('accept'),
      });
    }
  }

  async function authorize(invocation: Invocation, sources: ParameterSources) {
    const { method } = invocation.route;
    switch (method.authorizationType) {
      case 'NONE':
        return undefined;
      case 'CUSTOM': {
        const authorizer = method.authorizerId
          ? invocation.api.authorizers.get(method.authorizerId)
          : undefined;
        if (!authorizer) {
          log(
            `execute-api: method ${method.httpMethod} ${invocation.route.resourcePath} names unknown authorizer ${method.authorizerId}`,
          );
          throw new GatewayError('AUTHORIZER_CONFIGURATION_ERROR', null);
        }
        const identityValue = (source: string) => identitySourceValue(source, sources);
        return authorizers.authorize(
          {
            authorizer,
            methodArn: requestAuthorizerEvent(invocation).methodArn,
            identityValue,
            buildEvent: () =>
              authorizer.type === 'TOKEN'
                ? tokenAuthorizerEvent(invocation, identityValue(authorizer.identitySources[0] ?? '') ?? '')
                : requestAuthorizerEvent(invocation),
          },
          runtime?.lambda(),
        );
      }
      case 'AWS_IAM':
        // SigV4 is not verified offline: any signed request passes.
        if (!/^AWS4-HMAC-SHA256 /.test(sources.header('authorization') ?? ''))
          throw new GatewayError('MISSING_AUTHENTICATION_TOKEN', 'Missing Authentication Token');
        return undefined;
      default:
        log(`execute-api: authorization type ${method.authorizationType} is not supported offline`);
        throw new GatewayError('AUTHORIZER_CONFIGURATION_ERROR', null);
    }
  }

  async function integrate(
    invocation: Invocation,
    authorizer: Awaited<ReturnType<typeof authorize>>,
    sources: ParameterSources,
  ): Promise<AwsResponse> {
    const { integration } = invocation.route.method;
    const configurationError = (reason: string) =>
      new GatewayError('API_CONFIGURATION_ERROR', 'Internal server error', { cause: new Error(reason) });
    switch (integration?.type) {
      case 'AWS_PROXY': {
        const functionArn = integration.uri ? lambdaArnFromUri(integration.uri) : undefined;
        if (!functionArn)
          throw configurationError(`AWS_PROXY integration URI is not a Lambda one: ${integration.uri}`);
        if (integration.httpMethod && integration.httpMethod.toUpperCase() !== 'POST')
          throw configurationError('AWS_PROXY integrations must use IntegrationHttpMethod POST');
        const lambda = runtime?.lambda();
        if (!lambda)
          throw new GatewayError('DEFAULT_5XX', 'Internal server error', {
            cause: new Error('no Lambda provider is registered'),
          });
        const limit = Math.min(integration.timeoutMs ?? timeoutMs, timeoutMs);
        let result: Awaited<ReturnType<LambdaInvoker['invoke']>>;
        try {
          result = await withTimeout(lambda.invoke(functionArn, proxyEvent(invocation, authorizer)), limit);
        } catch (cause) {
          if (cause instanceof TimeoutError)
            throw new GatewayError('INTEGRATION_TIMEOUT', 'Endpoint request timed out', { cause });
          throw new GatewayError('DEFAULT_5XX', 'Internal server error', { status: 502, cause });
        }
        if (!result.ok)
          throw new GatewayError('DEFAULT_5XX', 'Internal server error', {
            status: 502,
            cause: new Error(`Lambda function failed: ${result.errorType}: ${result.errorMessage}`),
          });
        return proxyResultToResponse(result.payload, invocation);
      }
      case 'MOCK':
        return mockIntegrationResponse(invocation, sources);
      default:
        throw configurationError(
          `integration type ${integration?.type ?? '(none)'} is not supported offline`,
        );
    }
  }
}

// ---------------------------------------------------------------- helpers

/**
 * Headers as the integration sees them: lower-case names (as the edge gives them), the
 * hop-by-hop ones dropped, and API Gateway's X-Forwarded-* and X-Amzn-Trace-Id added.
 */
function eventHeaders(
  request: AwsRequest,
  receivedAt: number,
): { headers: Record<string, string>; multiValueHeaders: Record<string, string[]> } {
  const multiValueHeaders: Record<string, string[]> = {};
  for (const [name, value] of Object.entries(request.headers)) {
    if (value === undefined || name === 'content-length' || name === 'connection') continue;
    multiValueHeaders[name] = Array.isArray(value) ? [...value] : [value];
  }
  const host = headerValue(request.headers.host);
  const forwardedFor = headerValue(request.headers['x-forwarded-for']);
  multiValueHeaders['x-forwarded-for'] = [forwardedFor ? `${forwardedFor}, 127.0.0.1` : '127.0.0.1'];
  multiValueHeaders['x-forwarded-port'] = [host?.split(':')[1] ?? '80'];
  multiValueHeaders['x-forwarded-proto'] = ['http'];
  multiValueHeaders['x-amzn-trace-id'] ??= [newTraceId(receivedAt)];
  const headers = Object.fromEntries(
    Object.entries(multiValueHeaders).map(([name, values]) => [name, values[values.length - 1] ?? '']),
  );
  return { headers, multiValueHeaders };
}

function identitySourceValue(source: string, sources: ParameterSources): string | undefined {
  const match = /^method\.request\.(header|multivalueheader|querystring|multivaluequerystring)\.(.+)$/.exec(
    source,
  );
  if (match)
    return match[1]?.includes('header')
      ? sources.header(match[2] ?? '')
      : sources.querystring(match[2] ?? '');
  const stageVariable = /^stageVariables\.(.+)$/.exec(source)?.[1];
  if (stageVariable) return sources.stageVariables?.[stageVariable];
  const contextPath = /^context\.(.+)$/.exec(source)?.[1];
  if (contextPath) {
    let value: unknown = sources.context;
    for (const key of contextPath.split('.')) value = (value as Record<string, unknown> | undefined)?.[key];
    return value === undefined || value === null ? undefined : String(value);
  }
  return undefined;
}

function lastQueryValue(query: URLSearchParams, name: string): string | undefined {
  const values = query.getAll(name);
  return values.length === 0 ? undefined : values[values.length - 1];
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[value.length - 1] : value;
}

function plainJson(status: number, body: unknown): AwsResponse {
  return { status, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) };
}

function describeCause(cause: unknown): string {
  return cause instanceof Error ? `${cause.name}: ${cause.message}` : String(cause);
}
