/**
 * The edge: one node:http server on 127.0.0.1 that every AWS client talks to, the way
 * LocalStack's port 4566 works. It reads the request, works out the service from the
 * SigV4 credential scope, `X-Amz-Target` and the path, and asks the providers in order
 * which one serves it. Nothing is dropped silently: a request no provider serves gets
 * an AWS-shaped 400 that names the service and operation, and a provider that throws
 * gives a 500 `InternalFailure` while the edge keeps running.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import {
  type AwsRequest,
  type AwsResponse,
  awsJsonError,
  DEFAULT_REGION,
  type Provider,
  type UsageReport,
} from './types';

/** API Gateway's own limit, and far above any AWS API call's. */
export const MAX_BODY_BYTES = 10 * 1024 * 1024;
/**
 * API Gateway answers an oversized body with the API's own REQUEST_TOO_LARGE gateway
 * response, so execute-api requests get this much room past the cap and the provider
 * decides; only beyond it does the edge answer for them.
 */
export const EXECUTE_API_BODY_SLACK_BYTES = 1024 * 1024;
/** Past this, an oversized body is no longer drained but the connection is cut. */
const MAX_DRAIN_BYTES = 64 * 1024 * 1024;
export const DEFAULT_PORT = 4566;
export const HEALTH_PATH = '/_aws/health';
/**
 * `GET` answers the runtime's cumulative usage counters (see {@link UsageCounters}): every
 * request served, by service and operation, and each provider's own billed-for work. The cost
 * bench reads it before and after a run; nothing resets it.
 */
export const USAGE_PATH = '/_aws/usage';

export type ServiceStatus = 'starting' | 'running' | 'error' | 'stopping' | 'stopped';

export interface EdgeOptions {
  /** TCP port on 127.0.0.1; 0 picks a free one. @default 4566 */
  readonly port?: number;
  /** Asked in order; the first whose `matches` is true handles the request. */
  readonly providers: readonly Provider[];
  /** The region for requests that carry none. @default 'us-east-1' */
  readonly region?: string;
  readonly log: (message: string) => void;
  /** Each service's status, for `GET /_aws/health`. @default every provider 'running' */
  readonly health?: () => Readonly<Record<string, ServiceStatus>>;
  /** @default 10 MiB */
  readonly maxBodyBytes?: number;
}

/** The edge's port is taken. */
export class EdgePortInUseError extends Error {
  override readonly name = 'EdgePortInUseError';
}

export interface Edge {
  /** `http://127.0.0.1:<port>` */
  readonly endpoint: string;
  readonly port: number;
  /** Stops listening and closes open connections. Idempotent. */
  close(): Promise<void>;
}

/**
 * Starts the edge server.
 *
 * @example
 * const edge = await startEdge({ port: 0, providers, log: console.log });
 * // AWS_ENDPOINT_URL=${edge.endpoint}
 * await edge.close();
 */
export async function startEdge(options: EdgeOptions): Promise<Edge> {
  const { providers, log, maxBodyBytes = MAX_BODY_BYTES } = options;
  const region = options.region ?? DEFAULT_REGION;
  const health =
    options.health ??
    ((): Record<string, ServiceStatus> =>
      Object.fromEntries(providers.map((provider) => [provider.service, 'running' as const])));

  const requests = new RequestCounts();
  const server = createServer((incoming, outgoing) => {
    serve(incoming, outgoing, { providers, log, region, health, maxBodyBytes, requests }).catch(
      (error: unknown) => {
        log(`edge: could not answer ${incoming.method} ${incoming.url}: ${(error as Error).message}`);
        if (!outgoing.headersSent) outgoing.writeHead(500);
        outgoing.end();
      },
    );
  });
  // HTTP Upgrade (WebSocket) goes to the first provider with an `upgrade` hook that claims it.
  const upgraded = new Set<Duplex>();
  server.on('upgrade', (incoming: IncomingMessage, socket: Duplex, head: Buffer) => {
    upgraded.add(socket);
    socket.once('close', () => upgraded.delete(socket));
    socket.on('error', () => socket.destroy());
    const url = new URL(incoming.url ?? '/', 'http://127.0.0.1');
    const request = toAwsRequest(incoming, url, Buffer.alloc(0), region);
    const provider = providers.find((p) => p.upgrade && safeMatches(p, request, log));
    if (!provider?.upgrade) {
      log(`edge: 404 upgrade ${url.pathname}: no provider serves it`);
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    Promise.resolve()
      .then(() => provider.upgrade?.(request, socket, head))
      .catch((error: unknown) => {
        log(`edge: the ${provider.service} provider's upgrade threw: ${(error as Error).message}`);
        socket.destroy();
      });
  });
  // Lambda workers and the SDK keep connections alive; short idle timeouts keep stop() quick.
  server.keepAliveTimeout = 5_000;

  const requestedPort = options.port ?? DEFAULT_PORT;
  await new Promise<void>((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException): void => {
      reject(
        error.code === 'EADDRINUSE'
          ? new EdgePortInUseError(
              `127.0.0.1:${requestedPort} is already in use (another npm start, or LocalStack?); set PORT to another port`,
              { cause: error },
            )
          : error,
      );
    };
    server.once('error', onError);
    server.listen(requestedPort, '127.0.0.1', () => {
      server.off('error', onError);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  let closed: Promise<void> | undefined;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    close: () => {
      closed ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
        for (const socket of upgraded) socket.destroy();
      });
      return closed;
    },
  };
}

interface ServeSettings {
  readonly requests: RequestCounts;
  readonly providers: readonly Provider[];
  readonly log: (message: string) => void;
  readonly region: string;
  readonly health: () => Readonly<Record<string, ServiceStatus>>;
  readonly maxBodyBytes: number;
}

async function serve(
  incoming: IncomingMessage,
  outgoing: ServerResponse,
  settings: ServeSettings,
): Promise<void> {
  const requestId = randomUUID();
  const url = new URL(incoming.url ?? '/', 'http://127.0.0.1');
  const executeApi = url.pathname.startsWith('/_aws/execute-api/');
  const limit = settings.maxBodyBytes + (executeApi ? EXECUTE_API_BODY_SLACK_BYTES : 0);
  const body = await readBody(incoming, limit);
  if (body === undefined) {
    settings.log(`edge: 413 ${incoming.method} ${url.pathname}: body over ${limit} bytes`);
    const tooLarge = executeApi
      ? {
          status: 413,
          headers: { 'content-type': 'application/json' },
          body: '{"message":"Request Too Long"}',
        }
      : awsJsonError(
          413,
          'RequestEntityTooLargeException',
          `Request body exceeds ${settings.maxBodyBytes} bytes`,
        );
    send(outgoing, tooLarge, requestId, true);
    return;
  }

  if (incoming.method === 'GET' && (url.pathname === HEALTH_PATH || url.pathname === `${HEALTH_PATH}/`)) {
    send(
      outgoing,
      {
        status: 200,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ services: settings.health(), edition: 'offline' }),
      },
      requestId,
    );
    return;
  }

  if (incoming.method === 'GET' && (url.pathname === USAGE_PATH || url.pathname === `${USAGE_PATH}/`)) {
    const usage: UsageCounters = {
      requests: settings.requests.snapshot(),
      services: providerUsage(settings),
    };
    send(
      outgoing,
      { status: 200, headers: { 'content-type': 'application/json' }, body: JSON.stringify(usage) },
      requestId,
    );
    return;
  }

  const request = toAwsRequest(incoming, url, body, settings.region);
  const provider = settings.providers.find((candidate) => safeMatches(candidate, request, settings.log));
  if (provider) settings.requests.add(usageOperation(request));
  if (!provider) {
    const { service, operation } = describeOperation(request);
    settings.log(`edge: 400 ${service} ${operation}: no provider serves it`);
    send(outgoing, unknownOperation(request, service, operation, requestId), requestId);
    return;
  }

  let response: AwsResponse;
  try {
    response = await provider.handle(request);
  } catch (error) {
    const { service, operation } = describeOperation(request);
    settings.log(
      `edge: 500 ${service} ${operation} (request ${requestId}): the ${provider.service} provider threw: ` +
        `${(error as Error).stack ?? String(error)}`,
    );
    response = awsJsonError(
      500,
      'InternalFailure',
      `The offline runtime failed on ${service} ${operation} (request id ${requestId}); its log has the details`,
    );
  }
  send(outgoing, response, requestId);
}

/** The body of `GET /_aws/usage`. */
export interface UsageCounters {
  /** Requests a provider served, by service and operation: `{ dynamodb: { TransactWriteItems: 12 } }`. */
  readonly requests: Readonly<Record<string, Readonly<Record<string, number>>>>;
  /** Each provider's own counters, by service (see `Provider.usage`). */
  readonly services: Readonly<Record<string, UsageReport>>;
}

class RequestCounts {
  private readonly counts = new Map<string, Map<string, number>>();

  add({ service, operation }: { service: string; operation: string }): void {
    let byOperation = this.counts.get(service);
    if (!byOperation) {
      byOperation = new Map();
      this.counts.set(service, byOperation);
    }
    byOperation.set(operation, (byOperation.get(operation) ?? 0) + 1);
  }

  snapshot(): Record<string, Record<string, number>> {
    return Object.fromEntries(
      [...this.counts].map(([service, byOperation]) => [service, Object.fromEntries(byOperation)]),
    );
  }
}

function providerUsage(settings: ServeSettings): Record<string, UsageReport> {
  const usage: Record<string, UsageReport> = {};
  for (const provider of settings.providers) {
    if (!provider.usage) continue;
    try {
      usage[provider.service] = { ...usage[provider.service], ...provider.usage() };
    } catch (error) {
      settings.log(`edge: the ${provider.service} provider's usage() threw: ${(error as Error).message}`);
    }
  }
  return usage;
}

/**
 * A request's service and operation as the usage counters key them. API Gateway calls are
 * `execute-api` `Invoke` (a REST or WebSocket API request) or the `@connections` operation;
 * Lambda's REST-style Invoke is `Invoke`, not its path.
 *
 * @example
 * usageOperation(postToConnectionRequest); // { service: 'execute-api', operation: 'PostToConnection' }
 */
export function usageOperation(request: AwsRequest): { service: string; operation: string } {
  const executeApi = /^\/_aws\/execute-api\/[^/]+\/[^/]+(?:\/(@connections)(?:\/|$))?/.exec(request.path);
  if (executeApi) {
    if (!executeApi[1]) return { service: 'execute-api', operation: 'Invoke' };
    const method = request.method.toUpperCase();
    const operation =
      method === 'POST' ? 'PostToConnection' : method === 'DELETE' ? 'DeleteConnection' : 'GetConnection';
    return { service: 'execute-api', operation };
  }
  if (/^\/[0-9-]+\/functions\/[^/]+\/invocations$/.test(request.path))
    return { service: 'lambda', operation: 'Invoke' };
  return describeOperation(request);
}

function safeMatches(provider: Provider, request: AwsRequest, log: (message: string) => void): boolean {
  try {
    return provider.matches(request);
  } catch (error) {
    log(`edge: the ${provider.service} provider's matches() threw: ${(error as Error).message}`);
    return false;
  }
}

/** Resolves with the body, or undefined when it is over `limit` (the rest is drained, then dropped). */
function readBody(incoming: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const declared = Number(incoming.headers['content-length']);
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = Number.isFinite(declared) && declared > limit;
    incoming.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) tooLarge = true;
      if (tooLarge) {
        chunks.length = 0;
        if (size > MAX_DRAIN_BYTES) {
          resolve(undefined);
          incoming.destroy();
        }
        return;
      }
      chunks.push(chunk);
    });
    incoming.on('end', () => resolve(tooLarge ? undefined : Buffer.concat(chunks)));
    incoming.on('error', reject);
  });
}

function toAwsRequest(incoming: IncomingMessage, url: URL, body: Buffer, defaultRegion: string): AwsRequest {
  const scope = credentialScope(incoming.headers.authorization, url.searchParams);
  const target = incoming.headers['x-amz-target'];
  return {
    method: incoming.method ?? 'GET',
    path: url.pathname,
    query: url.searchParams,
    headers: incoming.headers,
    body,
    signingService: scope?.service,
    region: scope?.region ?? defaultRegion,
    target: typeof target === 'string' && target !== '' ? target : undefined,
  };
}

/**
 * The region and service from a SigV4 credential scope, in the `Authorization` header
 * (`AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/dynamodb/aws4_request, ...`) or
 * a presigned URL's `X-Amz-Credential`.
 *
 * @example
 * credentialScope('AWS4-HMAC-SHA256 Credential=test/20240101/eu-west-1/sqs/aws4_request, SignedHeaders=host, Signature=0');
 * // { region: 'eu-west-1', service: 'sqs' }
 */
export function credentialScope(
  authorization: string | undefined,
  query?: URLSearchParams,
): { region: string; service: string } | undefined {
  const credential =
    /Credential=([^,\s]+)/.exec(authorization ?? '')?.[1] ?? query?.get('X-Amz-Credential') ?? undefined;
  if (!credential) return undefined;
  const parts = credential.split('/');
  // AKID / date / region / service / aws4_request; an access key id holds no slash.
  if (parts.length < 5 || parts[parts.length - 1] !== 'aws4_request') return undefined;
  const region = parts[parts.length - 3] as string;
  const service = parts[parts.length - 2] as string;
  return region && service ? { region, service } : undefined;
}

/** The service and operation a request asks for, as well as the edge can tell. */
export function describeOperation(request: AwsRequest): { service: string; operation: string } {
  const [targetPrefix, targetOperation] = request.target?.includes('.')
    ? (request.target.split('.', 2) as [string, string])
    : [undefined, request.target];
  const action =
    request.query.get('Action') ?? (isQueryProtocol(request) ? formAction(request.body) : undefined);
  const service = request.signingService ?? targetPrefix ?? 'unknown';
  const operation = targetOperation ?? action ?? `${request.method} ${request.path}`;
  return { service, operation };
}

function isQueryProtocol(request: AwsRequest): boolean {
  return String(request.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded');
}

function formAction(body: Buffer): string | undefined {
  return new URLSearchParams(body.toString('utf8')).get('Action') ?? undefined;
}

/**
 * The error for a request no provider serves. Query-protocol clients (STS, SNS, ...)
 * parse XML errors; every other protocol reads `__type` from JSON or the
 * `x-amzn-errortype` header.
 */
function unknownOperation(
  request: AwsRequest,
  service: string,
  operation: string,
  requestId: string,
): AwsResponse {
  const message = `${service} ${operation} is not supported by the offline runtime`;
  if (isQueryProtocol(request) || request.query.has('Action')) {
    return {
      status: 400,
      headers: { 'content-type': 'text/xml' },
      body:
        '<ErrorResponse><Error><Type>Sender</Type><Code>UnknownOperationException</Code>' +
        `<Message>${escapeXml(message)}</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>`,
    };
  }
  const error = awsJsonError(400, 'UnknownOperationException', message);
  return { ...error, headers: { ...error.headers, 'x-amzn-errortype': 'UnknownOperationException' } };
}

function send(
  outgoing: ServerResponse,
  response: AwsResponse,
  requestId: string,
  closeConnection = false,
): void {
  const body = response.body === undefined ? Buffer.alloc(0) : Buffer.from(response.body);
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(response.headers ?? {})) {
    const lower = name.toLowerCase();
    if (lower === 'content-length' || lower === 'transfer-encoding' || lower === 'connection') continue;
    headers[lower] = value;
  }
  headers['x-amzn-requestid'] ??= requestId;
  headers['content-length'] = String(body.length);
  if (closeConnection) headers.connection = 'close';
  outgoing.writeHead(response.status, headers);
  outgoing.end(body);
}

export function escapeXml(text: string): string {
  return text
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
    .replaceAll("'", '&apos;');
}
