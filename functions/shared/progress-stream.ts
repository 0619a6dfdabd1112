/**
 * What the progress socket's two functions share: where the `@connections` management API is,
 * how a message becomes one frame under API Gateway's 32 KB frame size, and sending it.
 */
import {
  ApiGatewayManagementApiClient,
  GoneException,
  PostToConnectionCommand,
} from '@aws-sdk/client-apigatewaymanagementapi';
import * as z from 'zod';
import { type DomainEvent, SocketClientMessage, type SocketReply, type SocketSubscribe } from '#core/wire';
import { NotFoundError } from '#shared/errors';
import { type ConnectionRepository, MAX_SUBSCRIPTIONS_PER_CONNECTION } from '#shared/repository/connections';
import type { WorkflowRunRepository } from '#shared/repository/workflow-run';

/** API Gateway WebSocket frames are at most 32 KB; a message that fits is never split. */
export const MAX_FRAME_BYTES = 32 * 1024;

/** The environment both socket functions read (validated at cold start with `loadConfig`). */
export const WebSocketEnv = {
  /** `https://<apiId>.execute-api.<region>.amazonaws.com/<stage>`: the stage's callback URL. */
  WEBSOCKET_MANAGEMENT_ENDPOINT: z.url(),
  /** The SDK's own endpoint override; set by the offline runtime and LocalStack. */
  AWS_ENDPOINT_URL: z.url().optional(),
} as const;

/**
 * The @connections client for the stage, created once per execution environment.
 * @example
 * const management = managementClient(config);
 */
export function managementClient(config: {
  readonly WEBSOCKET_MANAGEMENT_ENDPOINT: string;
  readonly AWS_ENDPOINT_URL?: string | undefined;
}): ApiGatewayManagementApiClient {
  return new ApiGatewayManagementApiClient({
    endpoint: managementEndpoint(config.WEBSOCKET_MANAGEMENT_ENDPOINT, config.AWS_ENDPOINT_URL),
  });
}

/**
 * The management endpoint to call. Normally the stage's callback URL as configured
 * (`https://<apiId>.execute-api.<region>.amazonaws.com/<stage>`). When the SDK's standard
 * `AWS_ENDPOINT_URL` redirects every client (the offline runtime, LocalStack), the same URL
 * in its no-DNS form on that endpoint: `<AWS_ENDPOINT_URL>/_aws/execute-api/<apiId>/<stage>`.
 * @example
 * managementEndpoint('https://abc.execute-api.eu-west-1.amazonaws.com/v1', 'http://127.0.0.1:4566');
 * // 'http://127.0.0.1:4566/_aws/execute-api/abc/v1'
 */
export function managementEndpoint(configured: string, awsEndpointUrl?: string): string {
  if (!awsEndpointUrl) return configured;
  const match = /^https:\/\/([a-z0-9]+)\.execute-api\.[a-z0-9-]+\.amazonaws\.com(?:\.cn)?(\/.*)?$/.exec(
    configured,
  );
  if (!match) return configured;
  return `${awsEndpointUrl.replace(/\/+$/, '')}/_aws/execute-api/${match[1]}${(match[2] ?? '').replace(/\/+$/, '')}`;
}

const bytes = (text: string) => Buffer.byteLength(text, 'utf8');

/**
 * A domain event as one frame under {@link MAX_FRAME_BYTES}: as is when it fits (nearly
 * always: events are small), else without `issue_id` and `agent_id`, then with `error`
 * truncated. The C9 fields are never dropped.
 */
export function eventFrame(event: DomainEvent, maxBytes = MAX_FRAME_BYTES): string {
  const whole = JSON.stringify(event);
  if (bytes(whole) <= maxBytes) return whole;
  const { issue_id: _issue, agent_id: _agent, error, ...core } = event;
  const lean = JSON.stringify(core);
  if (error === undefined || bytes(lean) > maxBytes) return lean;
  const room = maxBytes - bytes(JSON.stringify({ ...core, error: '' })) - 16;
  let cut = error.slice(0, Math.max(0, room));
  // Escapes and multi-byte characters make the JSON longer than the slice; shrink until it fits.
  while (cut.length > 0 && bytes(JSON.stringify({ ...core, error: `${cut}…` })) > maxBytes)
    cut = cut.slice(0, Math.floor(cut.length * 0.9));
  return JSON.stringify({ ...core, error: `${cut}…` });
}

export type SendOutcome = 'sent' | 'gone';

/** PostToConnection; `gone` when API Gateway answers 410 (the client is no longer there). */
export async function sendToConnection(
  client: Pick<ApiGatewayManagementApiClient, 'send'>,
  connectionId: string,
  frame: string,
): Promise<SendOutcome> {
  try {
    await client.send(new PostToConnectionCommand({ ConnectionId: connectionId, Data: Buffer.from(frame) }));
    return 'sent';
  } catch (error) {
    if (error instanceof GoneException || (error as { name?: string }).name === 'GoneException')
      return 'gone';
    throw error;
  }
}

// ---------------------------------------------------------------- the socket's routes

/** What the socket routes read from an API Gateway WebSocket proxy event. */
export interface SocketRequest {
  readonly requestContext: {
    readonly routeKey: string;
    readonly connectionId: string;
    readonly authorizer?: Readonly<Record<string, unknown>> | null;
  };
  readonly body?: string | null;
}

export interface SocketResponse {
  readonly statusCode: number;
  readonly body?: string;
}

export interface SocketPorts {
  readonly connections: Pick<ConnectionRepository, 'connect' | 'subscribe' | 'unsubscribe' | 'disconnect'>;
  readonly runs: Pick<WorkflowRunRepository, 'meta' | 'events'>;
  /** PostToConnection of one frame. */
  readonly send: (connectionId: string, frame: string) => Promise<SendOutcome>;
}

/** Events read per page while replaying. */
const REPLAY_PAGE = 500;

const reply = (message: SocketReply, statusCode = 200): SocketResponse => ({
  statusCode,
  body: JSON.stringify(message),
});

const errorReply = (
  code: Extract<SocketReply, { type: 'error' }>['code'],
  message: string,
  details?: string[],
): SocketResponse =>
  reply({ type: 'error', code, message, ...(details ? { details } : {}) }, code === 'NOT_FOUND' ? 404 : 400);

/**
 * The progress socket's routes, keyed by `requestContext.routeKey`: `$connect` records the
 * caller (the authorizer proved who it is), `$disconnect` forgets it, `subscribe` /
 * `unsubscribe` / `ping` answer with a {@link SocketReply}, and anything else gets an
 * `UNKNOWN_ACTION` error frame. No route changes a workflow, so every role may use them all.
 * @example
 * const route = createSocketRoutes({ connections, runs, send });
 * await route({ requestContext: { routeKey: 'ping', connectionId: 'abc=' } }); // {statusCode: 200, body: '{"type":"pong"}'}
 */
export function createSocketRoutes(ports: SocketPorts): (request: SocketRequest) => Promise<SocketResponse> {
  const subscribe = async (connectionId: string, message: SocketSubscribe): Promise<SocketResponse> => {
    const workflowId = message.workflow_id;
    if (workflowId === '*' && message.since_seq !== undefined)
      return errorReply('VALIDATION_FAILED', 'since_seq needs one workflow_id: "*" has no single sequence');
    if (workflowId !== '*') {
      try {
        await ports.runs.meta(workflowId);
      } catch (error) {
        if (error instanceof NotFoundError)
          return errorReply('NOT_FOUND', `workflow ${workflowId} does not exist`);
        throw error;
      }
    }
    // Subscribe first, then replay: an event committed in between arrives twice (live and
    // replayed) rather than never; clients drop a seq they already hold.
    const outcome = await ports.connections.subscribe(connectionId, workflowId);
    if (outcome === 'no_connection')
      return errorReply('GONE', 'this connection is no longer registered; reconnect');
    if (outcome === 'too_many')
      return errorReply(
        'TOO_MANY_SUBSCRIPTIONS',
        `at most ${MAX_SUBSCRIPTIONS_PER_CONNECTION} subscriptions per connection`,
      );
    let replayed = 0;
    if (workflowId !== '*' && message.since_seq !== undefined) {
      let since = message.since_seq;
      for (;;) {
        const page = await ports.runs.events(workflowId, since, REPLAY_PAGE);
        for (const event of page) {
          if ((await ports.send(connectionId, eventFrame(event))) === 'gone') {
            await ports.connections.disconnect(connectionId, [workflowId]);
            return { statusCode: 410 };
          }
          replayed += 1;
          since = event.seq;
        }
        if (page.length < REPLAY_PAGE) break;
      }
    }
    return reply({ type: 'subscribed', workflow_id: workflowId, replayed });
  };

  return async (request) => {
    const { routeKey, connectionId, authorizer } = request.requestContext;
    switch (routeKey) {
      case '$connect': {
        const role = typeof authorizer?.role === 'string' ? authorizer.role : undefined;
        const sub = typeof authorizer?.sub === 'string' ? authorizer.sub : undefined;
        // The authorizer guards $connect; without its context the route is misconfigured.
        if (!role || !sub) return { statusCode: 403 };
        await ports.connections.connect({ connectionId, role, sub });
        return { statusCode: 200 };
      }
      case '$disconnect':
        await ports.connections.disconnect(connectionId);
        return { statusCode: 200 };
      default:
        break;
    }
    let body: unknown;
    try {
      body = JSON.parse(request.body ?? '');
    } catch {
      return errorReply('VALIDATION_FAILED', 'a message is a JSON object with an "action"');
    }
    const action = (body as { action?: unknown } | null)?.action;
    if (routeKey === '$default' || !['subscribe', 'unsubscribe', 'ping'].includes(String(action)))
      return errorReply(
        'UNKNOWN_ACTION',
        `unknown action ${JSON.stringify(action ?? null)}; the socket takes subscribe, unsubscribe and ping`,
      );
    const parsed = SocketClientMessage.safeParse(body);
    if (!parsed.success)
      return errorReply(
        'VALIDATION_FAILED',
        'the message does not match its schema',
        parsed.error.issues.map((issue) => `${issue.path.join('.') || '(message)'}: ${issue.message}`),
      );
    const message = parsed.data;
    switch (message.action) {
      case 'subscribe':
        return subscribe(connectionId, message);
      case 'unsubscribe':
        await ports.connections.unsubscribe(connectionId, message.workflow_id);
        return reply({ type: 'unsubscribed', workflow_id: message.workflow_id });
      case 'ping':
        return reply({ type: 'pong' });
    }
  };
}

// ---------------------------------------------------------------- the broadcaster

export interface BroadcastPorts {
  readonly connections: Pick<ConnectionRepository, 'subscribers' | 'disconnect'>;
  readonly send: (connectionId: string, frame: string) => Promise<SendOutcome>;
  /** A send that failed for another reason than 410 (the others still get the event). */
  readonly onSendError?: (connectionId: string, error: unknown) => void;
}

export interface BroadcastResult {
  readonly sent: number;
  readonly gone: number;
  readonly failed: number;
}

/** Connections sent to at once. */
const SEND_CONCURRENCY = 16;

/**
 * Sends one domain event to every subscriber of its workflow and of `*`; a subscriber that
 * is gone (410) has its connection items deleted. One failed send does not stop the others,
 * and nothing throws for it: a retried broadcast would send duplicates to everyone else.
 * @example
 * const broadcast = createBroadcaster({ connections, send });
 * await broadcast(DomainEvent.parse(event.detail)); // { sent: 2, gone: 0, failed: 0 }
 */
export function createBroadcaster(ports: BroadcastPorts): (event: DomainEvent) => Promise<BroadcastResult> {
  return async (event) => {
    const frame = eventFrame(event);
    const subscribers = await ports.connections.subscribers(event.workflow_id);
    let sent = 0;
    let gone = 0;
    let failed = 0;
    const queue = [...subscribers];
    const worker = async () => {
      for (let next = queue.shift(); next; next = queue.shift()) {
        try {
          if ((await ports.send(next.connectionId, frame)) === 'sent') sent += 1;
          else {
            gone += 1;
            await ports.connections.disconnect(next.connectionId, [next.via]);
          }
        } catch (error) {
          failed += 1;
          ports.onSendError?.(next.connectionId, error);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(SEND_CONCURRENCY, queue.length) }, worker));
    return { sent, gone, failed };
  };
}
