/**
 * An execution's history, in AWS's event types and shapes (GetExecutionHistory).
 *
 * Two sources feed it: the interpreter's `eventLogs` (states entered and exited, Map
 * iterations) and our Task overrides (TaskScheduled ... TaskSucceeded). The interpreter
 * delivers its events a few microtasks late, and the events of Map iterations later still,
 * because each level forwards them through an async generator. So events are collected per
 * turn of the event loop and appended on `setImmediate`, in arrival order, with one repair:
 * a Map iteration's event that arrives after its Map state's exit but happened no later is
 * moved before that exit. Our overrides yield one turn before recording TaskScheduled, so
 * the TaskStateEntered that precedes it is already in.
 */
import type { JsonValue, StateSpec } from './definition';
import { readReferencePath } from './definition';
import type { LibraryEvent } from './engine';

export interface HistoryEventRecord {
  readonly id: number;
  readonly previousEventId: number;
  /** Epoch milliseconds. */
  readonly timestamp: number;
  readonly type: string;
  readonly details?: Readonly<Record<string, unknown>>;
}

export interface PendingEvent {
  readonly type: string;
  readonly details?: Readonly<Record<string, unknown>>;
  readonly timestamp?: number;
  /** Recorded inside a Map iteration or Parallel branch. */
  readonly nested?: boolean;
  /** Part of a Map state's exit (MapStateSucceeded, MapStateFailed, MapStateExited). */
  readonly mapExit?: boolean;
}

type QueuedEvent = PendingEvent & { readonly timestamp: number };

/** The `<type>EventDetails` member a history event's details go in. */
export function detailsMemberOf(type: string): string {
  if (type.endsWith('StateEntered')) return 'stateEnteredEventDetails';
  if (type.endsWith('StateExited')) return 'stateExitedEventDetails';
  return `${type.charAt(0).toLowerCase()}${type.slice(1)}EventDetails`;
}

/** AWS's quota: an execution whose history reaches this many events fails. */
export const MAX_HISTORY_EVENTS = 25_000;

export class ExecutionHistory {
  private readonly recorded: HistoryEventRecord[] = [];
  private queued: QueuedEvent[] = [];
  private flushHandle: NodeJS.Immediate | undefined;
  private sealed = false;

  constructor(
    private readonly maxEvents = MAX_HISTORY_EVENTS,
    /** Called once, when the history reaches `maxEvents`. */
    private readonly onFull: () => void = () => {},
  ) {}

  /** Queues an event; it is appended on the next turn of the event loop. */
  add(event: PendingEvent): void {
    // Counted on arrival, not on flush: a run of Pass states can finish within one turn.
    // Past the quota only the execution's last event (`seal`) is recorded.
    if (this.sealed || this.recorded.length + this.queued.length >= this.maxEvents) return;
    this.queued.push({ ...event, timestamp: event.timestamp ?? Date.now() });
    if (this.recorded.length + this.queued.length === this.maxEvents) this.onFull();
    this.flushHandle ??= setImmediate(() => this.flush());
  }

  /** Appends what is queued, then the execution's last event; later events are dropped. */
  seal(event: PendingEvent): void {
    if (this.sealed) return;
    this.flush();
    this.append({ ...event, timestamp: event.timestamp ?? Date.now() });
    this.sealed = true;
  }

  get events(): readonly HistoryEventRecord[] {
    return this.recorded;
  }

  /** Drops what is queued and stops the pending flush (the runtime is stopping). */
  dispose(): void {
    if (this.flushHandle) clearImmediate(this.flushHandle);
    this.flushHandle = undefined;
    this.queued = [];
    this.sealed = true;
  }

  flush(): void {
    if (this.flushHandle) clearImmediate(this.flushHandle);
    this.flushHandle = undefined;
    const batch = moveIterationEventsBeforeMapExits(this.queued);
    this.queued = [];
    for (const event of batch) this.append(event);
  }

  private append(event: QueuedEvent): void {
    const id = this.recorded.length + 1;
    const last = this.recorded.at(-1);
    this.recorded.push({
      id,
      // AWS links the first event after ExecutionStarted to 0, and each later one to the one before.
      previousEventId: id <= 2 ? 0 : id - 1,
      timestamp: Math.max(event.timestamp, last?.timestamp ?? 0),
      type: event.type,
      ...(event.details ? { details: event.details } : {}),
    });
  }
}

function moveIterationEventsBeforeMapExits(batch: readonly QueuedEvent[]): QueuedEvent[] {
  const ordered: QueuedEvent[] = [];
  for (const event of batch) {
    const exitIndex = event.nested
      ? ordered.findIndex((earlier) => earlier.mapExit && earlier.timestamp >= event.timestamp)
      : -1;
    if (exitIndex >= 0 && !event.mapExit) ordered.splice(exitIndex, 0, event);
    else ordered.push(event);
  }
  return ordered;
}

const json = (value: unknown): string => JSON.stringify(value ?? null);

/** Turns the interpreter's events into AWS history events. */
export class LibraryEventTranslator {
  /** Map and Parallel states whose failure a Catch handled: their exit is not a success. */
  private readonly caught = new Set<string>();

  constructor(private readonly states: ReadonlyMap<string, StateSpec>) {}

  translate(event: LibraryEvent): PendingEvent[] {
    const timestamp = event.timestamp;
    switch (event.type) {
      case 'StateEntered': {
        const { name, type, input } = event.state;
        const nested = event.index !== undefined;
        const entered: PendingEvent[] = [
          {
            type: `${type}StateEntered`,
            details: { name, input: json(input), inputDetails: { truncated: false } },
            timestamp,
            nested,
          },
        ];
        if (type === 'Map') {
          const length = this.mapLength(name, input as JsonValue);
          entered.push({
            type: 'MapStateStarted',
            ...(length === undefined ? {} : { details: { length } }),
            timestamp,
            nested,
          });
        } else if (type === 'Parallel') {
          entered.push({ type: 'ParallelStateStarted', timestamp, nested });
        }
        return entered;
      }
      case 'StateExited': {
        const { name, type, output } = event.state;
        const nested = event.index !== undefined;
        const mapExit = type === 'Map';
        const exited: PendingEvent[] = [];
        const wasCaught = this.caught.delete(`${name}#${event.index ?? ''}`);
        if (!wasCaught && (type === 'Map' || type === 'Parallel')) {
          exited.push({ type: `${type}StateSucceeded`, timestamp, nested, mapExit });
        }
        exited.push({
          type: `${type}StateExited`,
          details: { name, output: json(output), outputDetails: { truncated: false } },
          timestamp,
          nested,
          mapExit,
        });
        return exited;
      }
      case 'StateFailed': {
        const { type } = event.state;
        if (type !== 'Map' && type !== 'Parallel') return [];
        return [
          {
            type: `${type}StateFailed`,
            timestamp,
            nested: event.index !== undefined,
            mapExit: type === 'Map',
          },
        ];
      }
      case 'StateCaught': {
        const { name, type } = event.state;
        if (type === 'Map' || type === 'Parallel') this.caught.add(`${name}#${event.index ?? ''}`);
        return [];
      }
      case 'MapIterationStarted':
      case 'MapIterationSucceeded':
      case 'MapIterationFailed':
        return [
          {
            type: event.type,
            details: { name: event.parentState.name, index: event.index },
            timestamp,
            nested: true,
          },
        ];
      default:
        // Execution* events are recorded by the execution itself; retries and catches have
        // no event of their own in AWS's history.
        return [];
    }
  }

  private mapLength(name: string, input: JsonValue): number | undefined {
    const spec = this.states.get(name);
    const effective =
      spec?.inputPath === null ? {} : spec?.inputPath ? readReferencePath(input, spec.inputPath) : input;
    const items = readReferencePath(effective, spec?.itemsPath ?? '$');
    return Array.isArray(items) ? items.length : undefined;
  }
}
