/**
 * Remembers what an agent answered per (workflow_id, step_id, action), so a duplicate
 * delivery never runs `execute` or `rollback` twice.
 *
 * The key leaves out `attempt` and the task token on purpose: the record holds the token it
 * was answered on, and that tells a redelivery of the same message (same token: replay the
 * answer or drop it) from a new dispatch by a workflow Retry (new token: a stored success is
 * replayed on it, a stored failure runs the handler again).
 */
import type { AgentAction } from '#core/wire';

export type DedupeRecord =
  | { readonly status: 'IN_PROGRESS'; readonly task_token: string }
  | { readonly status: 'SUCCEEDED'; readonly task_token: string; readonly output: string }
  | {
      readonly status: 'FAILED';
      readonly task_token: string;
      readonly error: string;
      readonly cause: string;
    };

/**
 * Where an agent keeps its dedupe records. The in-memory default lives as long as the
 * process (one Lambda execution environment, one poller); a DynamoDB-backed store shared by
 * every instance, with a conditional claim, comes with the workflows issue.
 */
export interface DedupeStore {
  get(key: string): Promise<DedupeRecord | undefined>;
  put(key: string, record: DedupeRecord): Promise<void>;
}

/** The dedupe key of a task. */
export function dedupeKey(task: {
  readonly workflow_id: string;
  readonly step_id: string;
  readonly action: AgentAction;
}): string {
  return `${task.workflow_id}#${task.step_id}#${task.action}`;
}

/**
 * A bounded LRU in memory: at most `capacity` records, the least recently used dropped first.
 *
 * @example
 * const agent = createAgent({ ...options, dedupe: new MemoryDedupeStore(50_000) });
 */
export class MemoryDedupeStore implements DedupeStore {
  private readonly records = new Map<string, DedupeRecord>();

  constructor(readonly capacity = 10_000) {
    if (!Number.isInteger(capacity) || capacity < 1)
      throw new RangeError('capacity must be a positive integer');
  }

  get size(): number {
    return this.records.size;
  }

  async get(key: string): Promise<DedupeRecord | undefined> {
    const record = this.records.get(key);
    if (record) {
      // Map keeps insertion order: re-inserting marks the key as the most recently used.
      this.records.delete(key);
      this.records.set(key, record);
    }
    return record;
  }

  async put(key: string, record: DedupeRecord): Promise<void> {
    this.records.delete(key);
    this.records.set(key, record);
    while (this.records.size > this.capacity) {
      const oldest = this.records.keys().next().value;
      if (oldest === undefined) break;
      this.records.delete(oldest);
    }
  }
}
