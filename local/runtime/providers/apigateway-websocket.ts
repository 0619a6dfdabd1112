/**
 * API Gateway WebSocket APIs (v2, `ProtocolType: WEBSOCKET`) for the offline runtime.
 * Deploys the template's `AWS::ApiGatewayV2::*` resources into memory and serves each
 * stage at LocalStack's no-DNS URL, `ws://127.0.0.1:<port>/_aws/execute-api/<apiId>/<stage>`
 * (what `localizeUrls` turns `wss://<apiId>.execute-api.<region>.amazonaws.com/<stage>` into).
 *
 * - Upgrade: the `$connect` route's REQUEST authorizer (identity sources such as
 *   `route.request.querystring.token`; a missing one → 401 without invoking it, Deny →
 *   403, `Unauthorized` → 401), then its AWS_PROXY integration; a non-2xx `statusCode`
 *   refuses the upgrade with that status. Only then the 101.
 * - Messages: routed by the API's RouteSelectionExpression (`$request.body.action`);
 *   non-JSON or an unknown key → `$default`, or without one AWS's
 *   `{"message":"Forbidden",...}` frame. A route with a RouteResponse (two-way) sends the
 *   integration's `body` back.
 * - Close → `$disconnect`, fire-and-forget.
 * - `@connections` management API: POST (PostToConnection), GET (GetConnection), DELETE
 *   (DeleteConnection) at `/_aws/execute-api/<apiId>/<stage>/@connections/<connectionId>`,
 *   so `new ApiGatewayManagementApiClient({ endpoint: '<edge>/_aws/execute-api/<apiId>/<stage>' })` works.
 *   A connection that is gone → 410 GoneException.
 *
 * Limits, as AWS's quotas for WebSocket APIs: a message (inbound or PostToConnection) is at
 * most 128 KB (inbound: closed with 1009; PostToConnection: 413 PayloadTooLargeException);
 * idle timeout 10 minutes, connection duration 2 hours (both configurable). AWS's 32 KB
 * per-frame limit is not enforced: `ws` reassembles fragmented messages and sends each
 * PostToConnection as one frame.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { type WebSocket, WebSocketServer } from 'ws';
import type {
  AwsRequest,
  AwsResponse,
  DeployContext,
  DeployedResource,
  LambdaInvoker,
  Provider,
  ResolvedResource,
  UsageReport,
} from '../types';
import { LambdaAuthorizers, TimeoutError, withTimeout } from './apigateway/authorizer';
import { GatewayError } from './apigateway/gateway-responses';
import { lambdaArnFromUri } from './apigateway/model';

export const API_GATEWAY_WEBSOCKET_RESOURCE_TYPES = [
  'AWS::ApiGatewayV2::Api',
  'AWS::ApiGatewayV2::Route',
  'AWS::ApiGatewayV2::Integration',
  'AWS::ApiGatewayV2::Authorizer',
  'AWS::ApiGatewayV2::Stage',
  'AWS::ApiGatewayV2::Deployment',
  'AWS::ApiGatewayV2::RouteResponse',
  'AWS::ApiGatewayV2::IntegrationResponse',
] as const;

/** API Gateway meters WebSocket messages in 32 KB increments. */
const BILLING_UNIT_BYTES = 32 * 1024;
/** AWS's message payload limit for WebSocket APIs (inbound and PostToConnection). */
export const MAX_MESSAGE_BYTES = 128 * 1024;
/** AWS's idle connection timeout. */
export const IDLE_TIMEOUT_MS = 10 * 60 * 1000;
/** AWS's maximum connection duration. */
export const MAX_CONNECTION_MS = 2 * 60 * 60 * 1000;
/** API Gateway's integration timeout. */
export const INTEGRATION_TIMEOUT_MS = 29_000;

const PREFIX = '/_aws/execute-api/';

export interface ApiGatewayWebSocketOptions {
  /** @default 128 KiB */
  readonly maxMessageBytes?: number;
  /** @default 10 minutes */
  readonly idleTimeoutMs?: number;
  /** @default 2 hours */
  readonly maxConnectionMs?: number;
  /** @default 29 s */
  readonly integrationTimeoutMs?: number;
}

interface IntegrationState {
  readonly type: string;
  readonly functionArn?: string;
}

interface AuthorizerDef {
  readonly id: string;
  readonly name: string;
  readonly type: string;
  readonly functionArn?: string;
  readonly identitySources: readonly string[];
}

interface RouteState {
  readonly id: string;
  readonly routeKey: string;
  readonly target?: string;
  readonly authorizationType: string;
  readonly authorizerId?: string;
  twoWay: boolean;
}

export interface WebSocketApiState {
  readonly id: string;
  readonly name: string;
  readonly routeSelectionExpression: string;
  readonly routes: Map<string, RouteState>;
  readonly routesById: Map<string, RouteState>;
  readonly integrations: Map<string, IntegrationState>;
  readonly authorizers: Map<string, AuthorizerDef>;
  readonly stages: Map<string, Record<string, string>>;
}

interface Connection {
  readonly id: string;
  readonly apiId: string;
  readonly stage: string;
  readonly ws: WebSocket;
  readonly connectedAt: number;
  lastActiveAt: number;
  readonly sourceIp: string;
  readonly userAgent?: string;
  readonly domainName: string;
  readonly authorizer?: Record<string, unknown>;
  idleTimer?: NodeJS.Timeout;
  maxTimer?: NodeJS.Timeout;
}

/** Thrown by deploy for what the provider does not emulate (an HTTP API). */
export class WebSocketDeployError extends Error {
  override readonly name = 'WebSocketDeployError';
}

/**
 * The WebSocket `execute-api` provider.
 * @example
 * const provider = createApiGatewayWebSocketProvider();
 * const { ref: apiId } = await provider.deploy?.(apiResource, context);
 * // ws://127.0.0.1:<port>/_aws/execute-api/<apiId>/<stage>?token=...
 */
export function createApiGatewayWebSocketProvider(options: ApiGatewayWebSocketOptions = {}): Provider & {
  readonly apis: () => readonly WebSocketApiState[];
  readonly connectionIds: () => readonly string[];
  usage(): UsageReport;
} {
  const maxMessageBytes = options.maxMessageBytes ?? MAX_MESSAGE_BYTES;
  const idleTimeoutMs = options.idleTimeoutMs ?? IDLE_TIMEOUT_MS;
  const maxConnectionMs = options.maxConnectionMs ?? MAX_CONNECTION_MS;
  const timeoutMs = options.integrationTimeoutMs ?? INTEGRATION_TIMEOUT_MS;
  const apis = new Map<string, WebSocketApiState>();
  const connections = new Map<string, Connection>();
  const pending = new Set<Duplex>();
  let region = 'us-east-1';
  let accountId = '000000000000';
  let lambda: () => LambdaInvoker | undefined = () => undefined;
  let log: (message: string) => void = () => {};
  let stopping = false;
  const authorizers = new LambdaAuthorizers({ now: Date.now, timeoutMs, log: (m) => log(m) });
  const wss = new WebSocketServer({ noServer: true, maxPayload: maxMessageBytes });
  /**
   * Cumulative, for `usage()`. API Gateway bills WebSocket messages both ways in 32 KB units,
   * and connection time by the minute.
   */
  const counters = {
    connections: 0,
    messages_received: 0,
    messages_sent: 0,
    message_units: 0,
    closed_connection_ms: 0,
  };
  const countMessage = (direction: 'messages_received' | 'messages_sent', bytes: number) => {
    counters[direction] += 1;
    counters.message_units += Math.max(1, Math.ceil(bytes / BILLING_UNIT_BYTES));
  };
  const sendCounted = (connection: Connection, text: string) => {
    countMessage('messages_sent', Buffer.byteLength(text));
    connection.ws.send(text);
  };

  const adopt = (context: Omit<DeployContext, 'stackName'>) => {
    region = context.region;
    accountId = context.accountId;
    lambda = () => context.services.lambda;
    log = context.log;
  };

  const apiOf = (resource: ResolvedResource): WebSocketApiState => {
    const apiId = String(resource.properties.ApiId ?? '');
    const api = apis.get(apiId);
    if (!api)
      throw new WebSocketDeployError(
        `${resource.logicalId} (${resource.type}): ApiId '${apiId}' is not a deployed WebSocket API`,
      );
    return api;
  };

  const newId = () => randomBytes(5).toString('hex');

  return {
    service: 'execute-api',
    resourceTypes: API_GATEWAY_WEBSOCKET_RESOURCE_TYPES,
    apis: () => [...apis.values()],
    connectionIds: () => [...connections.keys()],
    usage() {
      const now = Date.now();
      let openMs = 0;
      for (const connection of connections.values()) openMs += now - connection.connectedAt;
      return {
        ...counters,
        connection_ms: counters.closed_connection_ms + openMs,
        open_connections: connections.size,
      };
    },

    matches(request) {
      const target = parsePath(request.path);
      if (!target || !apis.has(target.apiId)) return false;
      if (isUpgrade(request)) return true;
      return target.rest[1] === '@connections';
    },

    async start(context) {
      adopt(context);
    },

    async deploy(resource, context): Promise<DeployedResource> {
      adopt(context);
      const props = resource.properties;
      switch (resource.type) {
        case 'AWS::ApiGatewayV2::Api': {
          const protocol = String(props.ProtocolType ?? '');
          if (protocol !== 'WEBSOCKET')
            throw new WebSocketDeployError(
              `${resource.logicalId}: ProtocolType ${protocol || '(none)'} is not supported offline; only WEBSOCKET APIs are`,
            );
          const id = newId();
          apis.set(id, {
            id,
            name: String(props.Name ?? resource.logicalId),
            routeSelectionExpression: String(props.RouteSelectionExpression ?? '$request.body.action'),
            routes: new Map(),
            routesById: new Map(),
            integrations: new Map(),
            authorizers: new Map(),
            stages: new Map(),
          });
          return {
            ref: id,
            attributes: { ApiId: id, ApiEndpoint: `wss://${id}.execute-api.${context.region}.amazonaws.com` },
          };
        }
        case 'AWS::ApiGatewayV2::Integration': {
          const api = apiOf(resource);
          const id = newId();
          const uri = typeof props.IntegrationUri === 'string' ? props.IntegrationUri : '';
          api.integrations.set(id, {
            type: String(props.IntegrationType ?? ''),
            functionArn: lambdaArnFromUri(uri) ?? (uri.startsWith('arn:aws:lambda:') ? uri : undefined),
          });
          return { ref: id, attributes: { IntegrationId: id } };
        }
        case 'AWS::ApiGatewayV2::Authorizer': {
          const api = apiOf(resource);
          const id = newId();
          const sources = props.IdentitySource;
          api.authorizers.set(id, {
            id,
            name: String(props.Name ?? resource.logicalId),
            type: String(props.AuthorizerType ?? 'REQUEST'),
            functionArn:
              typeof props.AuthorizerUri === 'string' ? lambdaArnFromUri(props.AuthorizerUri) : undefined,
            identitySources: (Array.isArray(sources) ? sources : typeof sources === 'string' ? [sources] : [])
              .flatMap((source) => String(source).split(','))
              .map((source) => source.trim())
              .filter(Boolean),
          });
          return { ref: id, attributes: { AuthorizerId: id } };
        }
        case 'AWS::ApiGatewayV2::Route': {
          const api = apiOf(resource);
          const id = newId();
          const route: RouteState = {
            id,
            routeKey: String(props.RouteKey ?? ''),
            target: typeof props.Target === 'string' ? props.Target : undefined,
            authorizationType: String(props.AuthorizationType ?? 'NONE'),
            authorizerId: typeof props.AuthorizerId === 'string' ? props.AuthorizerId : undefined,
            twoWay: false,
          };
          api.routes.set(route.routeKey, route);
          api.routesById.set(id, route);
          return { ref: id, attributes: { RouteId: id } };
        }
        case 'AWS::ApiGatewayV2::RouteResponse': {
          const route = apiOf(resource).routesById.get(String(props.RouteId ?? ''));
          if (route) route.twoWay = true;
          return { ref: newId() };
        }
        case 'AWS::ApiGatewayV2::Stage': {
          const api = apiOf(resource);
          const name = String(props.StageName ?? '$default');
          const variables = (props.StageVariables ?? {}) as Record<string, string>;
          api.stages.set(name, { ...variables });
          return { ref: name };
        }
        default:
          // Deployment, IntegrationResponse: nothing to emulate beyond an id.
          apiOf(resource);
          return { ref: newId() };
      }
    },

    async handle(request) {
      const target = parsePath(request.path);
      const api = target ? apis.get(target.apiId) : undefined;
      if (!target || !api || target.rest[1] !== '@connections' || target.rest.length !== 3)
        return json(404, { message: 'Not Found' });
      const connectionId = target.rest[2] ?? '';
      const connection = connections.get(connectionId);
      const alive = connection && connection.apiId === api.id && connection.ws.readyState === 1;
      if (!alive || !connection) return gone(connectionId);
      switch (request.method.toUpperCase()) {
        case 'POST': {
          if (request.body.length > maxMessageBytes)
            return errorResponse(
              413,
              'PayloadTooLargeException',
              `Message too long: over ${maxMessageBytes} bytes`,
            );
          sendCounted(connection, request.body.toString('utf8'));
          touch(connection);
          return { status: 200 };
        }
        case 'GET':
          // The wire names are camelCase; the SDK maps them to ConnectedAt, Identity.SourceIp, ...
          return json(200, {
            connectedAt: new Date(connection.connectedAt).toISOString(),
            lastActiveAt: new Date(connection.lastActiveAt).toISOString(),
            identity: { sourceIp: connection.sourceIp, userAgent: connection.userAgent ?? '' },
          });
        case 'DELETE':
          connection.ws.close(1000, 'Goodbye');
          return { status: 204 };
        default:
          return errorResponse(
            403,
            'ForbiddenException',
            `${request.method} is not supported on @connections`,
          );
      }
    },

    async upgrade(request, socket, head) {
      pending.add(socket);
      try {
        await upgrade(request, socket, head);
      } finally {
        pending.delete(socket);
      }
    },

    async stop() {
      stopping = true;
      for (const socket of pending) socket.destroy();
      for (const connection of connections.values()) {
        clearTimers(connection);
        connection.ws.terminate();
      }
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };

  async function upgrade(request: AwsRequest, socket: Duplex, head: Buffer): Promise<void> {
    const target = parsePath(request.path);
    const api = target ? apis.get(target.apiId) : undefined;
    const stage = target?.rest[0] ?? '';
    if (!target || !api) return refuse(socket, 404, { message: 'Not Found' });
    if (!api.stages.has(stage) || target.rest.length > 1)
      return refuse(socket, 403, { message: 'Forbidden' });
    const connectionId = newConnectionId();
    const requestId = randomUUID();
    const connectedAt = Date.now();
    const headers = flatHeaders(request);
    const query = Object.fromEntries(request.query.entries());
    const multiQuery: Record<string, string[]> = {};
    for (const key of request.query.keys()) multiQuery[key] = request.query.getAll(key);
    const domainName = headers.host ?? `${api.id}.execute-api.${region}.amazonaws.com`;
    const base: Omit<Connection, 'ws'> = {
      id: connectionId,
      apiId: api.id,
      stage,
      connectedAt,
      lastActiveAt: connectedAt,
      sourceIp: '127.0.0.1',
      userAgent: headers['user-agent'],
      domainName,
    };
    const connectContext = () => requestContext(base, api, '$connect', 'CONNECT', requestId);
    const route = api.routes.get('$connect');
    let authorizer: Record<string, unknown> | undefined;
    if (route && route.authorizationType === 'CUSTOM') {
      const definition = route.authorizerId ? api.authorizers.get(route.authorizerId) : undefined;
      if (!definition) {
        log(`execute-api: $connect of ${api.id} names unknown authorizer ${route.authorizerId}`);
        return refuse(socket, 500, { message: null });
      }
      const methodArn = `arn:aws:execute-api:${region}:${accountId}:${api.id}/${stage}/$connect`;
      const identityValue = (source: string) =>
        identitySource(source, headers, request.query, api.stages.get(stage));
      try {
        const outcome = await authorizers.authorize(
          {
            authorizer: { ...definition, ttlSeconds: 0 },
            methodArn,
            identityValue,
            buildEvent: () => ({
              type: 'REQUEST',
              methodArn,
              headers,
              multiValueHeaders: multiHeaders(request),
              queryStringParameters: query,
              multiValueQueryStringParameters: multiQuery,
              stageVariables: api.stages.get(stage),
              requestContext: connectContext(),
            }),
          },
          lambda(),
        );
        authorizer = {
          ...outcome.context,
          principalId: outcome.principalId,
          integrationLatency: outcome.latencyMs,
        };
      } catch (error) {
        if (error instanceof GatewayError)
          return refuse(socket, error.status, { message: error.errorMessage });
        throw error;
      }
    }
    const connectionBase = { ...base, authorizer };
    if (route) {
      const event = {
        headers,
        multiValueHeaders: multiHeaders(request),
        queryStringParameters: Object.keys(query).length > 0 ? query : undefined,
        multiValueQueryStringParameters: Object.keys(query).length > 0 ? multiQuery : undefined,
        requestContext: requestContext(connectionBase, api, '$connect', 'CONNECT', requestId),
        isBase64Encoded: false,
      };
      const result = await integrate(api, route, event);
      const status = result.ok ? statusOf(result.payload) : 502;
      if (status < 200 || status > 299)
        return refuse(socket, status, {
          message: result.ok ? (STATUS_CODES[status] ?? 'Error') : 'Internal server error',
        });
    }
    if (socket.destroyed) return;
    const shim = { method: 'GET', url: request.path, headers: request.headers };
    wss.handleUpgrade(shim as never, socket, head, (ws) => {
      const connection: Connection = { ...connectionBase, ws };
      connections.set(connectionId, connection);
      counters.connections += 1;
      touch(connection);
      connection.maxTimer = setTimeout(() => ws.close(1001, 'Going away'), maxConnectionMs);
      connection.maxTimer.unref();
      ws.on('message', (data, isBinary) => {
        touch(connection);
        const body = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer);
        countMessage('messages_received', body.length);
        void onMessage(
          connection,
          api,
          isBinary ? body.toString('base64') : body.toString('utf8'),
          isBinary,
        ).catch((error: unknown) =>
          log(`execute-api: message on ${connectionId}: ${(error as Error).message}`),
        );
      });
      ws.on('error', (error) => log(`execute-api: connection ${connectionId}: ${error.message}`));
      ws.on('close', (code, reason) => {
        clearTimers(connection);
        if (connections.delete(connectionId))
          counters.closed_connection_ms += Date.now() - connection.connectedAt;
        const disconnect = api.routes.get('$disconnect');
        if (!disconnect || stopping) return;
        const context = {
          ...requestContext(connection, api, '$disconnect', 'DISCONNECT', randomUUID()),
          disconnectStatusCode: code,
          disconnectReason: reason.toString('utf8'),
        };
        void integrate(api, disconnect, {
          headers,
          multiValueHeaders: multiHeaders(request),
          requestContext: context,
          isBase64Encoded: false,
        }).then((result) => {
          if (!result.ok) log(`execute-api: $disconnect of ${connectionId} failed: ${result.error}`);
        });
      });
    });
  }

  async function onMessage(connection: Connection, api: WebSocketApiState, body: string, isBinary: boolean) {
    const requestId = randomUUID();
    const key = isBinary ? undefined : selectRouteKey(api.routeSelectionExpression, body);
    const route = (key !== undefined ? api.routes.get(key) : undefined) ?? api.routes.get('$default');
    if (!route || route.routeKey === '$connect' || route.routeKey === '$disconnect') {
      sendFrame(connection, { message: 'Forbidden', connectionId: connection.id, requestId });
      return;
    }
    const event = {
      requestContext: {
        ...requestContext(connection, api, route.routeKey, 'MESSAGE', requestId),
        messageId: randomBytes(8).toString('base64').replace(/[+/=]/g, 'A'),
      },
      body,
      isBase64Encoded: isBinary,
    };
    const result = await integrate(api, route, event);
    if (!result.ok) {
      sendFrame(connection, { message: 'Internal server error', connectionId: connection.id, requestId });
      return;
    }
    if (!route.twoWay) return;
    const payload = result.payload as { body?: unknown } | null;
    const responseBody =
      payload && typeof payload === 'object' && 'body' in payload ? payload.body : undefined;
    if (responseBody === undefined || responseBody === null) return;
    if (connection.ws.readyState === 1)
      sendCounted(connection, typeof responseBody === 'string' ? responseBody : JSON.stringify(responseBody));
  }

  async function integrate(
    api: WebSocketApiState,
    route: RouteState,
    event: unknown,
  ): Promise<{ ok: true; payload: unknown } | { ok: false; error: string }> {
    const integrationId = route.target?.replace(/^integrations\//, '');
    const integration = integrationId ? api.integrations.get(integrationId) : undefined;
    if (!integration) return { ok: true, payload: { statusCode: 200 } };
    if (integration.type !== 'AWS_PROXY' || !integration.functionArn) {
      log(
        `execute-api: route ${route.routeKey} of ${api.id}: integration type ${integration.type} is not supported offline`,
      );
      return { ok: false, error: `unsupported integration ${integration.type}` };
    }
    const invoker = lambda();
    if (!invoker) return { ok: false, error: 'no Lambda provider is registered' };
    try {
      const result = await withTimeout(invoker.invoke(integration.functionArn, event), timeoutMs);
      if (!result.ok) {
        log(`execute-api: route ${route.routeKey} of ${api.id}: ${result.errorType}: ${result.errorMessage}`);
        return { ok: false, error: `${result.errorType}: ${result.errorMessage}` };
      }
      return { ok: true, payload: result.payload };
    } catch (error) {
      const reason = error instanceof TimeoutError ? 'Endpoint request timed out' : (error as Error).message;
      log(`execute-api: route ${route.routeKey} of ${api.id}: ${reason}`);
      return { ok: false, error: reason };
    }
  }

  function requestContext(
    connection: Omit<Connection, 'ws'>,
    api: WebSocketApiState,
    routeKey: string,
    eventType: 'CONNECT' | 'MESSAGE' | 'DISCONNECT',
    requestId: string,
  ): Record<string, unknown> {
    const now = Date.now();
    return {
      routeKey,
      eventType,
      extendedRequestId: requestId.replace(/-/g, '').slice(0, 16),
      requestTime: new Date(now).toUTCString(),
      messageDirection: 'IN',
      stage: connection.stage,
      connectedAt: connection.connectedAt,
      requestTimeEpoch: now,
      identity: { sourceIp: connection.sourceIp, userAgent: connection.userAgent },
      requestId,
      domainName: connection.domainName,
      connectionId: connection.id,
      apiId: api.id,
      ...(connection.authorizer ? { authorizer: connection.authorizer } : {}),
    };
  }

  function touch(connection: Connection): void {
    connection.lastActiveAt = Date.now();
    if (connection.idleTimer) clearTimeout(connection.idleTimer);
    connection.idleTimer = setTimeout(() => connection.ws.close(1001, 'Going away'), idleTimeoutMs);
    connection.idleTimer.unref();
  }

  function sendFrame(connection: Connection, body: unknown): void {
    if (connection.ws.readyState === 1) sendCounted(connection, JSON.stringify(body));
  }
}

// ---------------------------------------------------------------- helpers

function clearTimers(connection: Connection): void {
  if (connection.idleTimer) clearTimeout(connection.idleTimer);
  if (connection.maxTimer) clearTimeout(connection.maxTimer);
}

function parsePath(path: string): { apiId: string; rest: string[] } | undefined {
  if (!path.startsWith(PREFIX)) return undefined;
  // The SDK sends `@` as `%40`, and a connection id's `=` as `%3D`.
  const [apiId = '', ...rest] = path.slice(PREFIX.length).split('/').map(decodeSegment);
  if (rest.at(-1) === '') rest.pop();
  return apiId ? { apiId, rest } : undefined;
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

function isUpgrade(request: AwsRequest): boolean {
  return String(request.headers.upgrade ?? '').toLowerCase() === 'websocket';
}

/** A connection id like AWS's (`L0SM9cOFvHcCIhw=`): 16 characters, URL-safe but for the `=`. */
function newConnectionId(): string {
  return randomBytes(11).toString('base64').replace(/\+/g, 'A').replace(/\//g, 'B');
}

/** The route key the RouteSelectionExpression picks (`$request.body.action`), if any. */
export function selectRouteKey(expression: string, body: string): string | undefined {
  const path = /^\$\{?request\.body\.([^}]+)\}?$/.exec(expression.trim())?.[1];
  if (!path) return expression;
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    return undefined;
  }
  for (const key of path.split('.')) value = (value as Record<string, unknown> | null)?.[key];
  return typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean'
    ? String(value)
    : undefined;
}

function identitySource(
  source: string,
  headers: Record<string, string>,
  query: URLSearchParams,
  stageVariables: Record<string, string> | undefined,
): string | undefined {
  const match = /^route\.request\.(header|querystring)\.(.+)$/.exec(source);
  if (match?.[1] === 'header') return headers[(match[2] ?? '').toLowerCase()];
  if (match?.[1] === 'querystring') return query.getAll(match[2] ?? '').at(-1);
  const stageVariable = /^stageVariables\.(.+)$/.exec(source)?.[1];
  return stageVariable ? stageVariables?.[stageVariable] : undefined;
}

function flatHeaders(request: AwsRequest): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers))
    if (value !== undefined) headers[name] = Array.isArray(value) ? (value.at(-1) ?? '') : value;
  return headers;
}

function multiHeaders(request: AwsRequest): Record<string, string[]> {
  const headers: Record<string, string[]> = {};
  for (const [name, value] of Object.entries(request.headers))
    if (value !== undefined) headers[name] = Array.isArray(value) ? [...value] : [value];
  return headers;
}

function statusOf(payload: unknown): number {
  const status = (payload as { statusCode?: unknown } | null)?.statusCode;
  const number = typeof status === 'string' ? Number(status) : status;
  return typeof number === 'number' && Number.isInteger(number) ? number : 200;
}

function refuse(socket: Duplex, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\n` +
      'Content-Type: application/json\r\n' +
      `Content-Length: ${Buffer.byteLength(text)}\r\n` +
      'Connection: close\r\n\r\n' +
      text,
  );
}

function json(status: number, body: unknown): AwsResponse {
  return { status, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) };
}

function errorResponse(status: number, type: string, message: string): AwsResponse {
  return {
    status,
    headers: { 'content-type': 'application/json', 'x-amzn-errortype': type },
    body: JSON.stringify({ message }),
  };
}

function gone(connectionId: string): AwsResponse {
  return errorResponse(410, 'GoneException', `Connection ${connectionId} is gone`);
}
