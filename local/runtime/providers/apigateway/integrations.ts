/**
 * The request as a REST API sees it, and what the integrations make of it:
 *
 * - the v1 proxy event (AWS_PROXY) and the Lambda authorizer events, built from one
 *   `Invocation` so they agree field by field;
 * - the proxy result mapped back to HTTP, strictly: anything but
 *   `{statusCode, headers, multiValueHeaders, body, isBase64Encoded}` with the right types
 *   is a malformed response, which AWS answers with 502 "Internal server error";
 * - MOCK integrations (CORS preflights): the request template's statusCode picks the
 *   integration response, whose parameters and template make the answer.
 */
import { randomBytes } from 'node:crypto';
import type {
  APIGatewayEventRequestContextWithAuthorizer,
  APIGatewayProxyEvent,
  APIGatewayRequestAuthorizerEvent,
  APIGatewayTokenAuthorizerEvent,
} from 'aws-lambda';
import type { AwsResponse } from '../../types';
import type { AuthorizerOutcome } from './authorizer';
import { GatewayError } from './gateway-responses';
import type { IntegrationResponseState, RestApiState, StageState } from './model';
import { type ParameterSources, resolveParameterValue } from './parameters';
import type { RouteMatch } from './router';
import { renderVtl, VtlMap } from './vtl';

/** One request through a REST API stage, once routed. */
export interface Invocation {
  readonly requestId: string;
  readonly extendedRequestId: string;
  /** Epoch ms when the gateway received it. */
  readonly receivedAt: number;
  readonly region: string;
  readonly accountId: string;
  readonly api: RestApiState;
  readonly stage: StageState;
  readonly httpMethod: string;
  /** After the stage, percent-encoded as received, e.g. `/api/orchestrator/agents/a-1`. */
  readonly path: string;
  readonly route: RouteMatch;
  /** Lower-case names; the last value of a repeated header. */
  readonly headers: Readonly<Record<string, string>>;
  readonly multiValueHeaders: Readonly<Record<string, readonly string[]>>;
  readonly query: URLSearchParams;
  readonly body: Buffer;
  readonly domainName: string;
  readonly sourceIp: string;
}

/** `arn:aws:execute-api:<region>:<account>:<apiId>/<stage>/<METHOD>/<path without the leading slash>`. */
export function methodArnOf(invocation: Invocation): string {
  const { region, accountId, api, stage, httpMethod, path } = invocation;
  return `arn:aws:execute-api:${region}:${accountId}:${api.id}/${stage.name}/${httpMethod}/${path.replace(/^\//, '')}`;
}

/** `$context` as API Gateway fills it for this request, without `authorizer`. */
export function requestContextOf(
  invocation: Invocation,
): APIGatewayEventRequestContextWithAuthorizer<undefined> {
  const userAgent = invocation.headers['user-agent'];
  return {
    resourceId: invocation.route.resource.id,
    resourcePath: invocation.route.resourcePath,
    httpMethod: invocation.httpMethod,
    extendedRequestId: invocation.extendedRequestId,
    requestTime: formatRequestTime(invocation.receivedAt),
    path: `/${invocation.stage.name}${invocation.path}`,
    accountId: invocation.accountId,
    protocol: 'HTTP/1.1',
    stage: invocation.stage.name,
    domainPrefix: invocation.domainName.split('.')[0] ?? invocation.api.id,
    requestTimeEpoch: invocation.receivedAt,
    requestId: invocation.requestId,
    identity: {
      cognitoIdentityPoolId: null,
      accountId: null,
      cognitoIdentityId: null,
      caller: null,
      sourceIp: invocation.sourceIp,
      principalOrgId: null,
      accessKey: null,
      cognitoAuthenticationType: null,
      cognitoAuthenticationProvider: null,
      userArn: null,
      userAgent: userAgent ?? null,
      user: null,
      apiKey: null,
      apiKeyId: null,
      clientCert: null,
    },
    domainName: invocation.domainName,
    apiId: invocation.api.id,
    authorizer: undefined,
  };
}

export function requestAuthorizerEvent(invocation: Invocation): APIGatewayRequestAuthorizerEvent {
  const common = commonEventFields(invocation);
  return {
    type: 'REQUEST',
    methodArn: methodArnOf(invocation),
    resource: common.resource,
    path: common.path,
    httpMethod: common.httpMethod,
    headers: common.headers,
    multiValueHeaders: common.multiValueHeaders,
    queryStringParameters: common.queryStringParameters,
    multiValueQueryStringParameters: common.multiValueQueryStringParameters,
    pathParameters: common.pathParameters,
    stageVariables: common.stageVariables,
    requestContext: requestContextOf(invocation),
  };
}

export function tokenAuthorizerEvent(invocation: Invocation, token: string): APIGatewayTokenAuthorizerEvent {
  return { type: 'TOKEN', authorizationToken: token, methodArn: methodArnOf(invocation) };
}

/**
 * The v1 proxy event for a Lambda proxy (AWS_PROXY) integration.
 * @example
 * const event = proxyEvent(invocation, { principalId: 'u-1', context: { role: 'admin' }, latencyMs: 3 });
 */
export function proxyEvent(
  invocation: Invocation,
  authorizer: AuthorizerOutcome | undefined,
): APIGatewayProxyEvent {
  const common = commonEventFields(invocation);
  const binary = isBinary(invocation.api, invocation.headers['content-type']);
  const body = invocation.body.length === 0 ? null : invocation.body.toString(binary ? 'base64' : 'utf8');
  const requestContext = requestContextOf(invocation);
  return {
    ...common,
    requestContext: {
      ...requestContext,
      authorizer: authorizer
        ? {
            ...authorizer.context,
            principalId: authorizer.principalId,
            integrationLatency: authorizer.latencyMs,
          }
        : undefined,
    },
    body,
    isBase64Encoded: body !== null && binary,
  };
}

function commonEventFields(invocation: Invocation) {
  const singleQuery: Record<string, string> = {};
  const multiQuery: Record<string, string[]> = {};
  for (const [key, value] of invocation.query) {
    singleQuery[key] = value;
    multiQuery[key] = [...(multiQuery[key] ?? []), value];
  }
  const hasQuery = Object.keys(singleQuery).length > 0;
  return {
    resource: invocation.route.resourcePath,
    path: invocation.path,
    httpMethod: invocation.httpMethod,
    headers: { ...invocation.headers },
    multiValueHeaders: Object.fromEntries(
      Object.entries(invocation.multiValueHeaders).map(([name, values]) => [name, [...values]]),
    ),
    queryStringParameters: hasQuery ? singleQuery : null,
    multiValueQueryStringParameters: hasQuery ? multiQuery : null,
    pathParameters: invocation.route.pathParameters ? { ...invocation.route.pathParameters } : null,
    stageVariables: invocation.stage.variables ? { ...invocation.stage.variables } : null,
  };
}

const PROXY_RESULT_KEYS = new Set(['statusCode', 'headers', 'multiValueHeaders', 'body', 'isBase64Encoded']);

/**
 * The HTTP answer for a Lambda proxy result, or a GatewayError (502) when it is malformed.
 * Repeated header values are joined with `, `: the edge's response headers are single strings.
 */
export function proxyResultToResponse(payload: unknown, invocation: Invocation): AwsResponse {
  const malformed = (reason: string) =>
    new GatewayError('DEFAULT_5XX', 'Internal server error', {
      status: 502,
      cause: new Error(`Malformed Lambda proxy response: ${reason}`),
    });
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload))
    throw malformed('not a JSON object');
  const result = payload as Record<string, unknown>;
  const unknownKey = Object.keys(result).find((key) => !PROXY_RESULT_KEYS.has(key));
  if (unknownKey) throw malformed(`unexpected field ${unknownKey}`);

  const status =
    result.statusCode === undefined || result.statusCode === null ? 200 : Number(result.statusCode);
  if (!Number.isInteger(status) || status < 100 || status > 599)
    throw malformed(`bad statusCode ${String(result.statusCode)}`);
  if (result.body !== undefined && result.body !== null && typeof result.body !== 'string')
    throw malformed('body is not a string');
  if (result.isBase64Encoded !== undefined && typeof result.isBase64Encoded !== 'boolean')
    throw malformed('isBase64Encoded is not a boolean');

  const headers: Record<string, string> = {};
  const names = new Map<string, string>();
  const put = (name: string, value: string) => {
    const existing = names.get(name.toLowerCase());
    if (existing && existing !== name) delete headers[existing];
    names.set(name.toLowerCase(), name);
    headers[name] = value;
  };
  for (const [name, value] of Object.entries(objectOrEmpty(result.headers, 'headers', malformed))) {
    if (!isHeaderValue(value)) throw malformed(`header ${name} is not a string`);
    put(name, String(value));
  }
  for (const [name, values] of Object.entries(
    objectOrEmpty(result.multiValueHeaders, 'multiValueHeaders', malformed),
  )) {
    const list = Array.isArray(values) ? values : [values];
    if (!list.every(isHeaderValue)) throw malformed(`multiValueHeaders.${name} is not a list of strings`);
    put(name, list.map(String).join(', '));
  }
  if (!names.has('content-type')) put('content-type', 'application/json');

  const text = typeof result.body === 'string' ? result.body : '';
  const decode = result.isBase64Encoded === true && acceptsBinary(invocation.api, invocation.headers.accept);
  return { status, headers, body: decode ? Buffer.from(text, 'base64') : text };
}

function objectOrEmpty(
  value: unknown,
  field: string,
  malformed: (reason: string) => GatewayError,
): Record<string, unknown> {
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value)) throw malformed(`${field} is not an object`);
  return value as Record<string, unknown>;
}

function isHeaderValue(value: unknown): boolean {
  return typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean';
}

/** A MOCK integration's answer (e.g. a CORS preflight generated by CDK). */
export function mockIntegrationResponse(invocation: Invocation, sources: ParameterSources): AwsResponse {
  const integration = invocation.route.method.integration;
  const scope = () => templateScope(invocation, sources);
  const requestTemplate = pickTemplate(
    integration?.requestTemplates ?? {},
    invocation.headers['content-type'],
  );
  const rendered =
    requestTemplate === undefined ? '{"statusCode": 200}' : renderVtl(requestTemplate, scope());
  const statusCode = /["']?statusCode["']?\s*:\s*["']?(\d{3})/.exec(rendered)?.[1] ?? '200';
  const response = selectIntegrationResponse(integration?.integrationResponses ?? [], statusCode);
  if (!response)
    throw new GatewayError('API_CONFIGURATION_ERROR', 'Internal server error', {
      cause: new Error('No match for output mapping and no default output mapping'),
    });

  const headers: Record<string, string> = {};
  for (const [key, expression] of Object.entries(response.responseParameters)) {
    const name = /^method\.response\.header\.(.+)$/.exec(key)?.[1];
    const value = name ? resolveParameterValue(expression, sources) : undefined;
    if (name && value !== undefined) headers[name] = value;
  }
  const templateScopeValue = scope();
  const responseTemplate = pickTemplate(response.responseTemplates, invocation.headers.accept);
  const body = responseTemplate === undefined ? '' : renderVtl(responseTemplate, templateScopeValue).trim();
  const override = (templateScopeValue.context as { responseOverride?: ResponseOverride }).responseOverride;
  for (const [name, value] of Object.entries(override?.header ?? {})) headers[name] = String(value);
  const status = Number(override?.status ?? response.statusCode);
  if (!headers['content-type'] && !headers['Content-Type']) headers['content-type'] = 'application/json';
  return { status, headers, body: status === 204 ? '' : body };
}

interface ResponseOverride {
  header?: Record<string, unknown>;
  status?: unknown;
}

function selectIntegrationResponse(
  responses: readonly IntegrationResponseState[],
  statusCode: string,
): IntegrationResponseState | undefined {
  const patterned = responses.find(
    (r) =>
      r.selectionPattern !== undefined &&
      r.selectionPattern !== '' &&
      new RegExp(`^(?:${r.selectionPattern})$`).test(statusCode),
  );
  return patterned ?? responses.find((r) => r.selectionPattern === undefined || r.selectionPattern === '');
}

function pickTemplate(
  templates: Readonly<Record<string, string>>,
  mediaType: string | undefined,
): string | undefined {
  const wanted = mediaType?.split(';')[0]?.trim().toLowerCase();
  const entries = Object.entries(templates);
  return (entries.find(([type]) => type.toLowerCase() === wanted) ??
    entries.find(([type]) => type === 'application/json') ??
    entries[0])?.[1];
}

/** The VTL scope of mapping templates: `$context`, `$input`, `$stageVariables`, `$util`. */
function templateScope(invocation: Invocation, sources: ParameterSources): Record<string, unknown> {
  const headerMap = new VtlMap(Object.entries(invocation.headers), true);
  const queryMap = new VtlMap([...invocation.query.entries()]);
  const pathMap = new VtlMap(Object.entries(invocation.route.pathParameters ?? {}));
  const body = invocation.body.toString('utf8');
  return {
    context: { ...requestContextOf(invocation), ...sources.context, responseOverride: { header: {} } },
    stageVariables: invocation.stage.variables ?? {},
    input: {
      body,
      params: (name?: unknown) =>
        name === undefined
          ? new VtlMap([
              ['header', headerMap],
              ['querystring', queryMap],
              ['path', pathMap],
            ])
          : (pathMap.get(name) ?? queryMap.get(name) ?? headerMap.get(name)),
      json: () => body || '{}',
    },
    util: {
      escapeJavaScript: (value: unknown) => JSON.stringify(String(value ?? '')).slice(1, -1),
      urlEncode: (value: unknown) => encodeURIComponent(String(value ?? '')),
      urlDecode: (value: unknown) => decodeURIComponent(String(value ?? '')),
      base64Encode: (value: unknown) => Buffer.from(String(value ?? '')).toString('base64'),
      base64Decode: (value: unknown) => Buffer.from(String(value ?? ''), 'base64').toString('utf8'),
    },
  };
}

function isBinary(api: RestApiState, contentType: string | undefined): boolean {
  if (!contentType || api.binaryMediaTypes.length === 0) return false;
  const type = contentType.split(';')[0]?.trim().toLowerCase() ?? '';
  return api.binaryMediaTypes.some((pattern) => mediaTypeMatches(pattern, type));
}

function acceptsBinary(api: RestApiState, accept: string | undefined): boolean {
  if (!accept || api.binaryMediaTypes.length === 0) return false;
  return accept
    .split(',')
    .map((part) => part.split(';')[0]?.trim().toLowerCase() ?? '')
    .some((type) => api.binaryMediaTypes.some((pattern) => mediaTypeMatches(pattern, type)));
}

function mediaTypeMatches(pattern: string, type: string): boolean {
  if (pattern === '*/*') return true;
  const [patternMain, patternSub] = pattern.toLowerCase().split('/');
  const [main, sub] = type.split('/');
  return (patternMain === '*' || patternMain === main) && (patternSub === '*' || patternSub === sub);
}

/** `09/Apr/2015:12:34:56 +0000`. */
export function formatRequestTime(epochMs: number): string {
  const date = new Date(epochMs);
  const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${pad(date.getUTCDate())}/${months[date.getUTCMonth()]}/${date.getUTCFullYear()}:${pad(date.getUTCHours())}:${pad(
    date.getUTCMinutes(),
  )}:${pad(date.getUTCSeconds())} +0000`;
}

/** API Gateway's extended request id: 16 characters of base64, e.g. `BQGojGkkoAMFZ2A=`. */
export function newExtendedRequestId(): string {
  return randomBytes(11).toString('base64');
}

/** An X-Ray trace header: `Root=1-<epoch seconds hex>-<24 hex>`. */
export function newTraceId(epochMs: number): string {
  return `Root=1-${Math.floor(epochMs / 1000).toString(16)}-${randomBytes(12).toString('hex')}`;
}
