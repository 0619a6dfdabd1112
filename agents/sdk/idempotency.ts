/**
 * Remembers what an agent answered per (workflow_id, step_id, action), so a duplicate
 * delivery never runs `execute` or `rollback` twice.
 *
 * The key leaves out `attempt` and the task token on purpose: the record holds the token it
 * was answered on, and that tells a redelivery of the same message (same token: replay the
 * answer or drop it) from a new dispatch by a workflow Retry (new token: a stored success is
 * replayed on it, a stored failure runs the handler again).
 */
import * as z from 'zod';
import type { AgentAction } from '#core/wire';

/** One stored answer (or a claim still running); stores parse what they read with it. */
export const DedupeRecord = z
  .discriminatedUnion('status', [
    z.object({ status: z.literal('IN_PROGRESS'), task_token: z.string().min(1) }),
    z.object({ status: z.literal('SUCCEEDED'), task_token: z.string().min(1), output: z.string() }),
    z.object({
      status: z.literal('FAILED'),
      task_token: z.string().min(1),
      error: z.string(),
      cause: z.string(),
    }),
  ])
  .readonly();
export type DedupeRecord = z.infer<typeof DedupeRecord>;

/**
 * Where an agent keeps its dedupe records.
 *
 * A store shared by several instances must implement `claim`: the agent reads the record,
 * and if it has to run the handler it claims the key first, so two instances handed the same
 * message at once cannot both run it. A store without `claim` is claimed with `put` of an
 * IN_PROGRESS record, which is only safe inside one process.
 */
export interface DedupeStore {
  get(key: string): Promise<DedupeRecord | undefined>;
  put(key: string, record: DedupeRecord): Promise<void>;
  /**
   * Atomically stores `{ status: 'IN_PROGRESS', task_token }` if {@link mayClaim} allows it
   * for the record stored now, and says whether it did. `false` means another delivery got
   * there first: the agent reads the record again and replays or drops the message.
   */
  claim?(key: string, task_token: string): Promise<boolean>;
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
 * Whether a delivery carrying `task_token` has to run the handler, given the stored record:
 * when there is none, or when it belongs to another token and is not a success (a failure or
 * a stuck run that a workflow Retry dispatched again). A success is always replayed, and a
 * record on the same token is replayed or is a duplicate delivery.
 *
 * @example
 * mayClaim({ status: 'FAILED', task_token: 't1', error: 'Agent.Transient', cause: '' }, 't2'); // true
 */
export function mayClaim(existing: DedupeRecord | undefined, task_token: string): boolean {
  return existing === undefined || (existing.status !== 'SUCCEEDED' && existing.task_token !== task_token);
}

/**
 * A bounded LRU in memory: at most `capacity` records, the least recently used dropped first.
 * `claim` is atomic within the process, which covers two copies of a message in one Lambda
 * batch; it knows nothing of other instances (`DynamoDbDedupeStore` does).
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

  async claim(key: string, task_token: string): Promise<boolean> {
    // No await between the check and the write: nothing else in the process can run in between.
    if (!mayClaim(this.records.get(key), task_token)) return false;
    await this.put(key, { status: 'IN_PROGRESS', task_token });
    return true;
  }
}
