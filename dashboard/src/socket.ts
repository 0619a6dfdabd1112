/**
 * The progress stream (contract C9) as the page follows it: `?token=`, a subscription to `*`
 * (every workflow: the list and the events table) and one to the chosen workflow with
 * `since_seq` (so a reconnect replays what was missed), reconnects with capped backoff, and a
 * ping now and then so idle timeouts do not close it.
 */
import type { DomainEvent } from '#core/wire';

export type SocketState = 'connecting' | 'open' | 'closed';

export interface SocketCallbacks {
  readonly onEvent: (event: DomainEvent) => void;
  readonly onState: (state: SocketState) => void;
}

const PING_MS = 60_000;
const MAX_BACKOFF_MS = 30_000;

/**
 * The configured socket URL as this page can reach it. Served through the no-DNS form of
 * API Gateway URLs (`<host>/_aws/execute-api/<rest id>/...`, as the offline runtime and
 * LocalStack serve them), an AWS `wss://<id>.execute-api.<region>.amazonaws.com/<stage>` URL
 * takes the same form on the page's own host; anything else is used as it is.
 */
export function reachableSocketUrl(configured: string, page: URL): string {
  if (configured === '' || !page.pathname.startsWith('/_aws/execute-api/')) return configured;
  const match = /^wss?:\/\/([a-z0-9]+)\.execute-api\.[^/]+(\/.*)?$/.exec(configured);
  if (!match) return configured;
  const scheme = page.protocol === 'https:' ? 'wss' : 'ws';
  return `${scheme}://${page.host}/_aws/execute-api/${match[1]}${match[2] ?? ''}`;
}

const isDomainEvent = (frame: unknown): frame is DomainEvent =>
  typeof frame === 'object' &&
  frame !== null &&
  typeof (frame as DomainEvent).workflow_id === 'string' &&
  typeof (frame as DomainEvent).seq === 'number' &&
  typeof (frame as DomainEvent).type === 'string';

export class ProgressSocket {
  #socket: WebSocket | undefined;
  #watched: { id: string; sinceSeq: number } | undefined;
  #backoff = 1000;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #ping: ReturnType<typeof setInterval> | undefined;
  #closed = false;

  constructor(
    private readonly url: string,
    private readonly token: string,
    private readonly callbacks: SocketCallbacks,
  ) {
    this.#connect();
  }

  /** Follows one workflow (replaying from `sinceSeq`), instead of the one followed before. */
  watch(workflowId: string, sinceSeq: number): void {
    const previous = this.#watched;
    this.#watched = { id: workflowId, sinceSeq };
    if (previous && previous.id !== workflowId)
      this.#send({ action: 'unsubscribe', workflow_id: previous.id });
    this.#send({ action: 'subscribe', workflow_id: workflowId, since_seq: sinceSeq });
  }

  /** Where a reconnect resumes the followed workflow from. */
  seen(workflowId: string, seq: number): void {
    if (this.#watched?.id === workflowId && seq > this.#watched.sinceSeq) this.#watched.sinceSeq = seq;
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
    clearInterval(this.#ping);
    this.#socket?.close();
  }

  #connect(): void {
    this.callbacks.onState('connecting');
    const separator = this.url.includes('?') ? '&' : '?';
    const socket = new WebSocket(`${this.url}${separator}token=${encodeURIComponent(this.token)}`);
    this.#socket = socket;
    socket.addEventListener('open', () => {
      this.#backoff = 1000;
      this.callbacks.onState('open');
      this.#send({ action: 'subscribe', workflow_id: '*' });
      if (this.#watched)
        this.#send({ action: 'subscribe', workflow_id: this.#watched.id, since_seq: this.#watched.sinceSeq });
      this.#ping = setInterval(() => this.#send({ action: 'ping' }), PING_MS);
    });
    socket.addEventListener('message', (message) => {
      let frame: unknown;
      try {
        frame = JSON.parse(String(message.data));
      } catch {
        return;
      }
      if (isDomainEvent(frame)) this.callbacks.onEvent(frame);
    });
    socket.addEventListener('close', () => {
      clearInterval(this.#ping);
      this.callbacks.onState('closed');
      if (this.#closed) return;
      this.#timer = setTimeout(() => this.#connect(), this.#backoff);
      this.#backoff = Math.min(this.#backoff * 2, MAX_BACKOFF_MS);
    });
  }

  #send(message: Record<string, unknown>): void {
    if (this.#socket?.readyState === WebSocket.OPEN) this.#socket.send(JSON.stringify(message));
  }
}
