/**
 * Following a workflow to its end: the progress stream (contract C9) when the target has one,
 * polling GET workflows/{id} every second otherwise or when the socket fails. The pure parts,
 * ordering events by `seq` and deriving events from two polled snapshots, are exported for tests.
 */
import WebSocket from 'ws';
import { DomainEvent, type DomainEventType, SocketReply, type StepStatus, WorkflowDetail } from '#core/wire';
import type { ApiClient } from './api';
import { WatchTimeoutError } from './errors';

/** A domain event, or one derived from polled snapshots (`synthesized`, with a local `seq`). */
export type WatchEvent = DomainEvent & { readonly synthesized?: true };

export const TERMINAL_STATUSES: ReadonlySet<string> = new Set([
  'SUCCEEDED',
  'FAILED',
  'ROLLED_BACK',
  'ROLLBACK_FAILED',
  'CANCELLED',
]);

export const isTerminal = (status: string): boolean => TERMINAL_STATUSES.has(status);

/**
 * Puts events back in `seq` order (EventBridge does not keep order) and drops duplicates
 * (a replay after `since_seq` may repeat what arrived live).
 */
export class EventSequencer {
  #next = 1;
  readonly #held = new Map<number, DomainEvent>();

  /** The highest seq handed out so far (0 before any). */
  get lastSeq(): number {
    return this.#next - 1;
  }

  /** Whether events are held back waiting for a missing seq. */
  get hasGap(): boolean {
    return this.#held.size > 0;
  }

  /** Takes one event; returns those now ready, in order. */
  accept(event: DomainEvent): DomainEvent[] {
    if (event.seq < this.#next) return [];
    this.#held.set(event.seq, event);
    const ready: DomainEvent[] = [];
    for (let held = this.#held.get(this.#next); held !== undefined; held = this.#held.get(this.#next)) {
      ready.push(held);
      this.#held.delete(this.#next);
      this.#next += 1;
    }
    return ready;
  }
}

const STEP_EVENT: Partial<Record<StepStatus, DomainEventType>> = {
  DISPATCHED: 'step.dispatched',
  RUNNING: 'step.heartbeat',
  SUCCEEDED: 'step.succeeded',
  FAILED: 'step.failed',
  TIMED_OUT: 'step.failed',
  COMPENSATING: 'step.compensating',
  COMPENSATED: 'step.compensated',
  COMPENSATION_FAILED: 'step.failed',
};

/**
 * The events that lead from snapshot `before` (undefined: nothing seen yet) to `after`,
 * numbered from `seq + 1`: workflow start, each step's new status, rollback start, completion.
 * Statuses passed through between two polls are not seen.
 */
export function eventsBetween(
  before: WorkflowDetail | undefined,
  after: WorkflowDetail,
  seq: number,
  at: string,
): WatchEvent[] {
  const events: WatchEvent[] = [];
  const base = {
    workflow_id: after.workflow_id,
    completion_percentage: after.completion_percentage,
    eta_completion: null,
    at,
    synthesized: true as const,
  };
  const push = ({ type, ...event }: Omit<WatchEvent, 'seq' | keyof typeof base>) =>
    events.push({ type, ...base, ...event, seq: seq + events.length + 1 });
  const wasStarted = before !== undefined && before.status !== 'PENDING';
  if (!wasStarted && after.status !== 'PENDING') push({ type: 'workflow.started', status: 'RUNNING' });
  const previous = new Map(before?.steps.map((step) => [step.step_id, step.status]));
  for (const step of after.steps) {
    if (previous.get(step.step_id) === step.status) continue;
    const type = STEP_EVENT[step.status];
    if (type)
      push({
        type,
        status: step.status,
        step_id: step.step_id,
        issue_id: step.issue_id,
        agent_id: step.agent_id,
      });
  }
  if (after.status === 'ROLLING_BACK' && before?.status !== 'ROLLING_BACK')
    push({ type: 'rollback.started', status: 'ROLLING_BACK' });
  if (isTerminal(after.status) && (before === undefined || !isTerminal(before.status)))
    push({ type: 'workflow.completed', status: after.status });
  return events;
}

/** Where `watch` sends what it sees; the command renders it. */
export interface WatchSink {
  /** The workflow as first read: its steps are known from here on. */
  begin(detail: WorkflowDetail, mode: 'stream' | 'poll'): void;
  event(event: WatchEvent): void;
  /** A note for stderr, e.g. why the stream was left for polling. */
  notice(message: string): void;
}

export interface WatchOptions {
  readonly api: ApiClient;
  readonly workflowId: string;
  /** The target's WebSocketUrl; undefined: poll. */
  readonly webSocketUrl?: string;
  readonly token: () => Promise<string>;
  readonly sink: WatchSink;
  /** Give up after this long (WatchTimeoutError); undefined: wait for the end. */
  readonly timeoutMs?: number;
  /** @default 1000 */
  readonly pollIntervalMs?: number;
}

export const readWorkflow = async (api: ApiClient, id: string): Promise<WorkflowDetail> =>
  WorkflowDetail.parse(await api.call(`workflows/${encodeURIComponent(id)}`));

class StreamUnavailable extends Error {
  override readonly name = 'StreamUnavailable';
  /** The last seq the stream handed out before it failed. */
  lastSeq = 0;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits for the workflow to end and returns its final detail. */
export async function followWorkflow(options: WatchOptions): Promise<WorkflowDetail> {
  const deadline =
    options.timeoutMs === undefined ? Number.POSITIVE_INFINITY : Date.now() + options.timeoutMs;
  const first = await readWorkflow(options.api, options.workflowId);
  const timedOut = () =>
    new WatchTimeoutError(
      `workflow ${options.workflowId} had not ended after ${Math.round((options.timeoutMs ?? 0) / 1000)} s`,
    );
  if (options.webSocketUrl) {
    options.sink.begin(first, 'stream');
    try {
      return await streamWorkflow(options, first, deadline, timedOut);
    } catch (error) {
      if (!(error instanceof StreamUnavailable)) throw error;
      options.sink.notice(`progress stream unavailable (${error.message}); polling every second`);
      // What the stream already showed is the baseline: polling reports only what changes after.
      const baseline = error.lastSeq > 0 ? await readWorkflow(options.api, options.workflowId) : undefined;
      return pollWorkflow(options, deadline, timedOut, baseline, error.lastSeq);
    }
  }
  options.sink.begin(first, 'poll');
  return pollWorkflow(options, deadline, timedOut);
}

async function pollWorkflow(
  options: WatchOptions,
  deadline: number,
  timedOut: () => WatchTimeoutError,
  baseline?: WorkflowDetail,
  startSeq = 0,
): Promise<WorkflowDetail> {
  let before = baseline;
  let seq = startSeq;
  for (;;) {
    const detail = await readWorkflow(options.api, options.workflowId);
    const events = eventsBetween(before, detail, seq, new Date().toISOString());
    for (const event of events) options.sink.event(event);
    seq += events.length;
    before = detail;
    if (isTerminal(detail.status)) return detail;
    if (Date.now() >= deadline) throw timedOut();
    await sleep(Math.min(options.pollIntervalMs ?? 1000, Math.max(0, deadline - Date.now())));
  }
}

/** How long a gap in `seq` may stay open before the client asks for a replay. */
const GAP_REPLAY_MS = 2000;
const PING_MS = 60_000;

async function streamWorkflow(
  options: WatchOptions,
  first: WorkflowDetail,
  deadline: number,
  timedOut: () => WatchTimeoutError,
): Promise<WorkflowDetail> {
  const url = `${options.webSocketUrl}?token=${encodeURIComponent(await options.token())}`;
  const ws = new WebSocket(url);
  const sequencer = new EventSequencer();
  const timers: NodeJS.Timeout[] = [];
  let gapTimer: NodeJS.Timeout | undefined;
  let settled = false;
  try {
    return await new Promise<WorkflowDetail>((resolve, reject) => {
      const finish = (outcome: { detail: WorkflowDetail } | { error: Error }) => {
        if (settled) return;
        settled = true;
        if ('detail' in outcome) resolve(outcome.detail);
        else {
          if (outcome.error instanceof StreamUnavailable) outcome.error.lastSeq = sequencer.lastSeq;
          reject(outcome.error);
        }
      };
      const subscribe = (sinceSeq: number) =>
        ws.send(
          JSON.stringify({ action: 'subscribe', workflow_id: options.workflowId, since_seq: sinceSeq }),
        );
      /** A workflow.completed ends the watch only if no rollback has begun since (GET tells). */
      const checkEnded = () => {
        readWorkflow(options.api, options.workflowId).then(
          (detail) => (isTerminal(detail.status) ? finish({ detail }) : undefined),
          (error: Error) => finish({ error }),
        );
      };
      if (Number.isFinite(deadline))
        timers.push(setTimeout(() => finish({ error: timedOut() }), Math.max(0, deadline - Date.now())));
      ws.once('unexpected-response', (_request, response) =>
        finish({ error: new StreamUnavailable(`the socket answered HTTP ${response.statusCode}`) }),
      );
      ws.on('error', (error) => finish({ error: new StreamUnavailable(error.message) }));
      ws.on('close', () => finish({ error: new StreamUnavailable('the socket closed') }));
      ws.once('open', () => {
        subscribe(0);
        timers.push(setInterval(() => ws.send(JSON.stringify({ action: 'ping' })), PING_MS));
      });
      ws.on('message', (data) => {
        let frame: unknown;
        try {
          frame = JSON.parse(String(data));
        } catch {
          return;
        }
        const event = DomainEvent.safeParse(frame);
        if (event.success) {
          if (event.data.workflow_id !== options.workflowId) return;
          for (const ready of sequencer.accept(event.data)) {
            options.sink.event(ready);
            if (ready.type === 'workflow.completed') checkEnded();
          }
          if (sequencer.hasGap && gapTimer === undefined)
            gapTimer = setTimeout(() => {
              gapTimer = undefined;
              if (sequencer.hasGap) subscribe(sequencer.lastSeq);
            }, GAP_REPLAY_MS);
          return;
        }
        const reply = SocketReply.safeParse(frame);
        if (!reply.success) return;
        if (reply.data.type === 'error')
          finish({ error: new StreamUnavailable(`${reply.data.code}: ${reply.data.message}`) });
        // The replay is complete: a workflow that had ended before we came has nothing more to send.
        else if (reply.data.type === 'subscribed' && isTerminal(first.status) && !sequencer.hasGap)
          checkEnded();
      });
    });
  } finally {
    for (const timer of timers) clearTimeout(timer);
    if (gapTimer) clearTimeout(gapTimer);
    ws.removeAllListeners();
    ws.on('error', () => {});
    if (ws.readyState === WebSocket.OPEN || ws.readyState === WebSocket.CONNECTING) ws.terminate();
  }
}
