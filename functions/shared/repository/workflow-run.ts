/**
 * A running workflow in the single table: its steps' status changes and its domain events.
 *
 * Every change is one TransactWriteItems that
 * 1. moves META's `event_seq` from n to n+1 (condition: still n) and its counters,
 * 2. changes the step (condition: still in the status it was read in),
 * 3. puts the domain event `EVT#<n+1>` (condition: new), and, for a dispatch, the task
 *    token's lookup item.
 * So the change and its event commit together, `seq` counts from 1 with no gaps, and a
 * concurrent change in the same workflow (parallel steps) loses the race on META, re-reads
 * and tries again. A change found already applied is a replay (Step Functions delivers
 * Tasks at least once) and writes nothing.
 */
import { createHash } from 'node:crypto';
import {
  GetCommand,
  QueryCommand,
  type QueryCommandInput,
  type TransactWriteCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import type { AgentAction, DomainEvent, DomainEventType, StepStatus, WorkflowStatus } from '#core/wire';
import type { StepTransition } from '#core/workflow';
import { ConflictError, NotFoundError } from '#shared/errors';
import {
  asThrottled,
  type DocumentSender,
  errorName,
  isConditionalCheckFailed,
} from '#shared/repository/dynamo-errors';
import { queryAll } from '#shared/repository/query-all';
import { GSI1, GSI1_PARTITIONS, keys } from '#shared/table-design';

export type Item = Record<string, unknown>;
export type TransactItems = NonNullable<
  ConstructorParameters<typeof TransactWriteCommand>[0]['TransactItems']
>;

/** How long events and task-token lookups are kept: 30 days. */
export const EVENT_RETENTION_SECONDS = 30 * 24 * 3600;
/** A task token's lookup item outlives the longest step timeout. */
export const TOKEN_RETENTION_SECONDS = 8 * 24 * 3600;
/** Stored step outputs are cut beyond this (the item limit is 400 KB). */
export const MAX_STORED_OUTPUT_BYTES = 64 * 1024;
/** Tries of one change against concurrent changes in the same workflow. */
export const MAX_TRIES = 12;

/** A workflow's META item, as the run needs it. */
export interface RunMeta {
  readonly workflow_id: string;
  readonly status: WorkflowStatus;
  readonly source: 'issues' | 'plan';
  readonly event_seq: number;
  readonly step_count: number;
  readonly steps_succeeded: number;
  readonly wave_concurrency: readonly number[];
  readonly execution_arn: string | null;
  readonly executions: readonly string[];
  readonly created_at: string;
  readonly updated_at: string;
  readonly started_at: string | null;
  readonly completed_at: string | null;
  readonly rollback: Item | null;
  readonly raw: Item;
}

/** A STEP item. */
export interface RunStep {
  readonly workflow_id: string;
  readonly step_id: string;
  readonly issue_id: string;
  readonly agent_id: string;
  readonly category: string | null;
  readonly action: string;
  readonly depends_on: readonly string[];
  readonly wave: number;
  readonly position: number;
  readonly idempotent: boolean;
  readonly parameters: Record<string, unknown> | undefined;
  /** The plan's estimate of the step's duration. */
  readonly duration_ms: number;
  readonly timeout_seconds: number;
  readonly heartbeat_seconds: number;
  readonly status: StepStatus;
  readonly attempts: number;
  readonly compensation_attempts: number;
  readonly started_at: string | null;
  /** When the latest execute attempt was sent. */
  readonly dispatched_at: string | null;
  /**
   * The task token of the latest execute dispatch, so the health sweep can fail a step held by
   * an agent that went down. Only the orchestrator's functions read the table (KMS-encrypted),
   * and answering with a token takes `states:SendTask*` or an agent token for this very step.
   */
  readonly task_token: string | null;
  /** Agents the step was moved away from, oldest first (core/health.ts, the re-routing rule). */
  readonly rerouted_from: readonly string[];
  /** The queue the latest execute dispatch went to: where its compensation goes if the agent has left. */
  readonly queue_url: string | null;
  readonly completed_at: string | null;
  readonly compensated_at: string | null;
  /** The event seq of the step's completion: the rollback's tie-break. */
  readonly completion_seq: number | null;
  readonly output: unknown;
  readonly error: { code: string; message: string } | undefined;
}

/** What the task-token lookup item says (tasks/* API). */
export interface TokenOwner {
  readonly workflow_id: string;
  readonly step_id: string;
  readonly agent_id: string;
  readonly action: AgentAction;
}

export interface StepChange {
  readonly workflow_id: string;
  readonly step_id: string;
  readonly transition: StepTransition;
  readonly now: string;
  /** Extra attributes to SET on the step, given the step as read. */
  readonly set?: (step: RunStep) => Item;
  /** The event to append, given the step as read; `seq`, `at`, `status` and `completion_percentage` are filled in. */
  readonly event: (step: RunStep) => EventSpec;
  /** For a dispatch: the token to index for tasks/*. */
  readonly token?: { readonly task_token: string; readonly action: AgentAction };
  /**
   * The workflow statuses the change is allowed in, checked in the same transaction: a
   * dispatch racing the start of a rollback either commits before it (and is compensated)
   * or not at all.
   */
  readonly whileWorkflow?: readonly WorkflowStatus[];
  /**
   * META and the step as the caller has just read them: the first try decides on these instead
   * of reading them again. The transaction's conditions still guard them, and a try that loses
   * a race reads afresh.
   */
  readonly read?: StepRead;
}

/** A workflow's META item and one of its STEP items, read together. */
export interface StepRead {
  readonly metaItem: Item;
  readonly stepItem: Item;
}

export type EventSpec = { type: DomainEventType } & Partial<Omit<DomainEvent, 'seq' | 'at'>>;

export type ChangeResult =
  | { readonly outcome: 'APPLIED'; readonly step: RunStep; readonly event: DomainEvent }
  | { readonly outcome: 'REPLAY'; readonly step: RunStep }
  | { readonly outcome: 'REFUSED'; readonly step: RunStep }
  | {
      readonly outcome: 'WORKFLOW_MOVED_ON';
      readonly step: RunStep;
      readonly workflow_status: WorkflowStatus;
    };

export interface WorkflowChange {
  readonly workflow_id: string;
  readonly from: readonly WorkflowStatus[];
  readonly to: WorkflowStatus;
  readonly now: string;
  readonly set?: Item;
  readonly event?: EventSpec;
}

export type WorkflowChangeResult =
  | { readonly outcome: 'APPLIED'; readonly meta: RunMeta; readonly event?: DomainEvent }
  | { readonly outcome: 'REPLAY' | 'REFUSED'; readonly meta: RunMeta };

/** The SHA-256 of a task token, hex: tokens are never stored in the clear. */
export function tokenHash(taskToken: string): string {
  return createHash('sha256').update(taskToken).digest('hex');
}

export const tokenKey = (hash: string) => ({ PK: `TOKEN#${hash}`, SK: 'META' });
export const eventKey = (workflowId: string, seq: number) => ({
  PK: keys.workflow(workflowId).PK,
  SK: `EVT#${String(seq).padStart(10, '0')}`,
});

export class WorkflowRunRepository {
  protected readonly db: DocumentSender;
  protected readonly table: string;
  protected readonly pause: (attempt: number) => Promise<void>;

  constructor(db: DocumentSender, tableName: string, pause = jitteredPause) {
    this.db = db;
    this.table = tableName;
    this.pause = pause;
  }

  /** META and every step, in record order. @throws NotFoundError when no META exists. */
  async load(workflowId: string): Promise<{ meta: RunMeta; steps: RunStep[] }> {
    const items = await this.queryItems({
      TableName: this.table,
      KeyConditionExpression: 'PK = :pk AND SK BETWEEN :a AND :b',
      ExpressionAttributeValues: { ':pk': keys.workflow(workflowId).PK, ':a': 'META', ':b': 'STEP#\uffff' },
      ConsistentRead: true,
    });
    const meta = items.find((i) => i.SK === 'META');
    if (!meta) throw new NotFoundError(`workflow ${workflowId} does not exist`);
    const steps = items
      .filter((i) => String(i.SK).startsWith('STEP#') && i.request_hash === meta.request_hash)
      .map(toStep)
      .sort((a, b) => a.position - b.position);
    return { meta: toMeta(meta), steps };
  }

  async meta(workflowId: string): Promise<RunMeta> {
    const item = await this.getItem(keys.workflow(workflowId));
    if (!item) throw new NotFoundError(`workflow ${workflowId} does not exist`);
    return toMeta(item);
  }

  async step(workflowId: string, stepId: string): Promise<RunStep> {
    const item = await this.getItem(keys.workflowStep(workflowId, stepId));
    if (!item) throw new NotFoundError(`step ${stepId} of workflow ${workflowId} does not exist`);
    return toStep(item);
  }

  /** Every issue of the workflow, as stored at intake, by issue_id. */
  async issues(workflowId: string): Promise<Map<string, Item>> {
    const items = await this.queryItems({
      TableName: this.table,
      KeyConditionExpression: 'PK = :pk AND begins_with(SK, :issue)',
      ExpressionAttributeValues: { ':pk': keys.workflow(workflowId).PK, ':issue': 'ISSUE#' },
    });
    return new Map(
      items.flatMap((i) =>
        i.issue ? [[String(i.issue_id ?? (i.issue as Item).issue_id), i.issue as Item]] : [],
      ),
    );
  }

  /** The issue a step works on, as stored at intake. */
  async issue(workflowId: string, issueId: string): Promise<Item | undefined> {
    const item = await this.getItem(keys.workflowIssue(workflowId, issueId));
    return item?.issue as Item | undefined;
  }

  /**
   * Workflows still at work (PENDING, RUNNING, ROLLING_BACK), newest first: at most `limit`,
   * read from the newest `scanLimit` workflows of GSI1 `WORKFLOWS`.
   */
  async listActive(limit = 100, scanLimit = 2000): Promise<RunMeta[]> {
    const items = await this.queryItems(
      {
        TableName: this.table,
        IndexName: GSI1.indexName,
        KeyConditionExpression: '#pk = :pk',
        FilterExpression: '#status IN (:pending, :running, :rolling)',
        ExpressionAttributeNames: { '#pk': GSI1.partitionKey, '#status': 'status' },
        ExpressionAttributeValues: {
          ':pk': GSI1_PARTITIONS.workflows,
          ':pending': 'PENDING',
          ':running': 'RUNNING',
          ':rolling': 'ROLLING_BACK',
        },
        ScanIndexForward: false,
        Limit: Math.min(scanLimit, 1000),
      },
      limit,
    );
    return items.slice(0, limit).map(toMeta);
  }

  /**
   * The newest workflows first (GSI1 `WORKFLOWS`, sorted by creation time), at most `limit`.
   * Without `status` it reads exactly the newest `limit`; with one, a single page of at most
   * the newest `scanLimit` workflows is filtered, so the read stays bounded however few match.
   */
  async listRecent(
    options: { readonly limit: number; readonly status?: WorkflowStatus },
    scanLimit = 1000,
  ): Promise<RunMeta[]> {
    const { limit, status } = options;
    const input: QueryCommandInput = {
      TableName: this.table,
      IndexName: GSI1.indexName,
      KeyConditionExpression: '#pk = :pk',
      ExpressionAttributeNames: { '#pk': GSI1.partitionKey },
      ExpressionAttributeValues: { ':pk': GSI1_PARTITIONS.workflows },
      ScanIndexForward: false,
    };
    if (!status)
      return (await this.queryItems({ ...input, Limit: limit }, limit)).slice(0, limit).map(toMeta);
    const page = await this.db
      .send(
        new QueryCommand({
          ...input,
          FilterExpression: '#status = :status',
          ExpressionAttributeNames: { ...input.ExpressionAttributeNames, '#status': 'status' },
          ExpressionAttributeValues: { ...input.ExpressionAttributeValues, ':status': status },
          Limit: scanLimit,
        }),
      )
      .catch((error: unknown) => Promise.reject(asThrottled(error)));
    return (page.Items ?? []).slice(0, limit).map(toMeta);
  }

  /** Events with seq > sinceSeq, oldest first. */
  async events(workflowId: string, sinceSeq = 0, limit = 1000): Promise<DomainEvent[]> {
    const items = await this.queryItems(
      {
        TableName: this.table,
        KeyConditionExpression: 'PK = :pk AND SK BETWEEN :a AND :b',
        ExpressionAttributeValues: {
          ':pk': keys.workflow(workflowId).PK,
          ':a': eventKey(workflowId, sinceSeq + 1).SK,
          ':b': 'EVT#\uffff',
        },
        ConsistentRead: true,
      },
      limit,
    );
    return items.slice(0, limit).map((i) => i.event as DomainEvent);
  }

  /** Who a task token was sent to, or undefined for a token this table never saw. */
  async tokenOwner(taskToken: string): Promise<TokenOwner | undefined> {
    const item = await this.getItem(tokenKey(tokenHash(taskToken)));
    if (!item) return undefined;
    return {
      workflow_id: String(item.workflow_id),
      step_id: String(item.step_id),
      agent_id: String(item.agent_id),
      action: item.action as AgentAction,
    };
  }

  /**
   * Records the execution that works on the workflow; the first one is `execution_arn`.
   * Retried when it collides with a running transaction on META (the execution's own first
   * Task writes there at the same moment).
   */
  async addExecution(workflowId: string, executionArn: string, now: string): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await this.db.send(
          new UpdateCommand({
            TableName: this.table,
            Key: keys.workflow(workflowId),
            UpdateExpression:
              'SET execution_arn = if_not_exists(execution_arn, :arn), executions = list_append(if_not_exists(executions, :empty), :one), updated_at = :now',
            ConditionExpression: 'attribute_exists(PK) AND NOT contains(executions, :arn)',
            ExpressionAttributeValues: {
              ':arn': executionArn,
              ':empty': [],
              ':one': [executionArn],
              ':now': now,
            },
          }),
        );
        return;
      } catch (error) {
        if (isConditionalCheckFailed(error)) return;
        if (errorName(error) !== 'TransactionConflictException' || attempt + 1 >= MAX_TRIES)
          throw asThrottled(error);
        await this.pause(attempt);
      }
    }
  }

  protected async getItem(key: Item): Promise<Item | undefined> {
    const { Item } = await this.db
      .send(new GetCommand({ TableName: this.table, Key: key, ConsistentRead: true }))
      .catch((error: unknown) => Promise.reject(asThrottled(error)));
    return Item;
  }

  protected queryItems(input: QueryCommandInput, max = Number.POSITIVE_INFINITY): Promise<Item[]> {
    return queryAll(this.db, input, max);
  }
}

/**
 * Too many concurrent changes in one workflow; the state machine retries the Task
 * (`Workflow.Busy` is in its Lambda retrier).
 */
export class WorkflowBusyError extends Error {
  override readonly name = 'Workflow.Busy';
}

/** 409 for an API caller when a workflow is not in a state that allows the request. */
export function workflowConflict(workflowId: string, status: WorkflowStatus, wanted: string): ConflictError {
  return new ConflictError(
    'WORKFLOW_STATE_CONFLICT',
    `workflow ${workflowId} is ${status}; cannot ${wanted}`,
    [{ workflow_id: workflowId, status }],
  );
}

// ---------------------------------------------------------------- mapping

export function toMeta(item: Item): RunMeta {
  return {
    workflow_id: String(item.workflow_id),
    status: item.status as WorkflowStatus,
    source: (item.source as 'issues' | 'plan' | undefined) ?? 'issues',
    event_seq: Number(item.event_seq ?? 0),
    step_count: Number(item.step_count ?? 0),
    steps_succeeded: Number(item.steps_succeeded ?? 0),
    wave_concurrency: (item.wave_concurrency as number[] | undefined) ?? [],
    execution_arn: (item.execution_arn as string | null | undefined) ?? null,
    executions: (item.executions as string[] | undefined) ?? [],
    created_at: String(item.created_at),
    updated_at: String(item.updated_at ?? item.created_at),
    started_at: (item.started_at as string | null | undefined) ?? null,
    completed_at: (item.completed_at as string | null | undefined) ?? null,
    rollback: (item.rollback as Item | null | undefined) ?? null,
    raw: item,
  };
}

export function toStep(item: Item): RunStep {
  return {
    workflow_id: String(item.workflow_id),
    step_id: String(item.step_id),
    issue_id: String(item.issue_id),
    agent_id: String(item.agent_id),
    category: (item.category as string | null | undefined) ?? null,
    action: String(item.action ?? 'remediate'),
    depends_on: (item.depends_on as string[] | undefined) ?? [],
    wave: Number(item.wave ?? 0),
    position: Number(item.position ?? 0),
    idempotent: item.idempotent === true,
    parameters: item.parameters as Record<string, unknown> | undefined,
    duration_ms: Number(item.duration_ms ?? 0),
    timeout_seconds: Number(item.timeout_seconds),
    heartbeat_seconds: Number(item.heartbeat_seconds),
    status: item.status as StepStatus,
    attempts: Number(item.attempts ?? 0),
    compensation_attempts: Number(item.compensation_attempts ?? 0),
    started_at: (item.started_at as string | null | undefined) ?? null,
    dispatched_at: (item.dispatched_at as string | null | undefined) ?? null,
    task_token: (item.task_token as string | null | undefined) ?? null,
    rerouted_from: (item.rerouted_from as string[] | undefined) ?? [],
    queue_url: (item.queue_url as string | null | undefined) ?? null,
    completed_at: (item.completed_at as string | null | undefined) ?? null,
    compensated_at: (item.compensated_at as string | null | undefined) ?? null,
    completion_seq: item.completion_seq === undefined ? null : Number(item.completion_seq),
    output: item.output,
    error: item.error as { code: string; message: string } | undefined,
  };
}

export function buildEvent(
  partial: EventSpec,
  base: Omit<DomainEvent, 'type' | 'eta_completion'> & { eta_completion?: string | null },
): DomainEvent {
  return {
    eta_completion: null,
    ...base,
    ...partial,
    seq: base.seq,
    at: base.at,
  } as DomainEvent;
}

export function percentage(done: number, total: number): number {
  if (total <= 0) return 0;
  return Math.round((1000 * Math.min(done, total)) / total) / 10;
}

/** `SET #a = :a, ...` over the given attributes. */
export function setExpression(set: Item): {
  UpdateExpression: string;
  ExpressionAttributeNames: Record<string, string>;
  ExpressionAttributeValues: Record<string, unknown>;
} {
  const names: Record<string, string> = {};
  const values: Record<string, unknown> = {};
  const parts = Object.entries(set)
    .filter(([, v]) => v !== undefined)
    .map(([k, v], i) => {
      names[`#s${i}`] = k;
      values[`:s${i}`] = v;
      return `#s${i} = :s${i}`;
    });
  return {
    UpdateExpression: `SET ${parts.join(', ')}`,
    ExpressionAttributeNames: names,
    ExpressionAttributeValues: values,
  };
}

export function mergeValues(
  expression: {
    ExpressionAttributeNames: Record<string, string>;
    ExpressionAttributeValues: Record<string, unknown>;
  },
  values: Record<string, unknown>,
  names: Record<string, string>,
) {
  return {
    ExpressionAttributeNames: { ...expression.ExpressionAttributeNames, ...names },
    ExpressionAttributeValues: { ...expression.ExpressionAttributeValues, ...values },
  };
}

export function epochSeconds(iso: string): number {
  return Math.floor(Date.parse(iso) / 1000);
}

function jitteredPause(attempt: number): Promise<void> {
  const ceiling = Math.min(1000, 20 * 2 ** attempt);
  return new Promise((resolve) => setTimeout(resolve, Math.random() * ceiling));
}
