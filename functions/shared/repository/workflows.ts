/**
 * Workflows and their issues in the single table (table-design.ts).
 *
 * A workflow is a partition `WF#<workflow_id>`: one `META` item (status, caller,
 * assignment and plan summaries; GSI1 `WORKFLOWS`) and one `ISSUE#<issue_id>` item
 * per issue (the issue, its TriageDecision and its scheduled step). Assigned issues
 * sit in GSI1 `BACKLOG`, unassigned ones in `TRIAGE#MANUAL` (contract C5), both
 * sorted by `<created_at>#<workflow_id>#<issue_id>`.
 *
 * Writing a batch of up to 1,000 issues "atomically" (contract C3: nothing
 * half-written) with TransactWriteItems, which takes at most 100 actions and 4 MB:
 *
 * 1. If META already exists, nothing is written: the same request (same caller and
 *    request hash) gets 'EXISTS', any other gets 409 IDEMPOTENCY_KEY_REUSED.
 * 2. Issue items go first, in transactions of at most 99 items (and 3.5 MB). Each
 *    Put succeeds on a new item or on one this same request wrote before
 *    (`attribute_not_exists(PK) OR request_hash = :hash`), so a retry after a crash
 *    rewrites the same items and never overwrites another request's.
 * 3. META goes last, alone, with `attribute_not_exists(PK)`: it is the commit marker.
 *    Readers trust only workflows whose META exists, and only issue items that carry
 *    META's request hash, so leftovers of a failed attempt are never read.
 * 4. When any transaction fails, META is read back: if it holds this request, the
 *    write did commit (a lost response, or a concurrent twin) and the call succeeds.
 *    Otherwise the issue items this call wrote are deleted, best effort (BatchWrite,
 *    retried), and the error is rethrown: 409 for a condition failure, 429 when
 *    throttled, else a 500. If META cannot even be read back, nothing is deleted:
 *    uncommitted leftovers are harmless, deleting a committed workflow's items is not.
 */
import { createHash } from 'node:crypto';
import {
  BatchGetCommand,
  BatchWriteCommand,
  GetCommand,
  QueryCommand,
  type QueryCommandInput,
  TransactWriteCommand,
} from '@aws-sdk/lib-dynamodb';
import * as z from 'zod';
import type { TriageOutcome } from '#core/triage';
import {
  type Category,
  Identifier,
  IntakeAccepted,
  type Issue,
  type IssueTriageRequest,
  type PlanStep,
  type RecoveryPlan,
  type RecoveryWorkflowRequest,
  type ResourceAllocation,
  type ResourceConstraints,
  type TriageDecision,
} from '#core/wire';
import { stepTimers } from '#core/workflow';
import { ApiError, ConflictError, NotFoundError } from '#shared/errors';
import type { IdempotentRequestsOptions } from '#shared/idempotency';
import { logger } from '#shared/powertools';
import {
  asThrottled,
  cancellationCodes,
  type DocumentSender,
  isConditionalCheckFailed,
} from '#shared/repository/dynamo-errors';
import { queryAll } from '#shared/repository/query-all';
import { MAX_STORED_ISSUE_BYTES } from '#shared/request-rules';
import { GSI1, GSI1_PARTITIONS, keys } from '#shared/table-design';

/** TransactWriteItems takes 100 actions; one stays free for a future ConditionCheck. */
export const MAX_ITEMS_PER_TRANSACTION = 99;
/** Under the 4 MB transaction limit, with room for DynamoDB's own accounting. */
export const MAX_TRANSACTION_BYTES = 3_500_000;
/** `resources/optimize` plans at most this many backlog issues. */
export const MAX_BACKLOG_ITEMS = 10_000;

export interface CreateWorkflowInput {
  readonly workflow_id: string;
  readonly request: IssueTriageRequest;
  readonly outcome: TriageOutcome;
  readonly created_at: string;
  /** The caller's `sub`. */
  readonly caller: string;
}

/** POST workflows: a caller's RecoveryWorkflowRequest, already planned. */
export interface CreatePlannedWorkflowInput {
  readonly workflow_id: string;
  readonly request: RecoveryWorkflowRequest;
  readonly allocation: ResourceAllocation;
  readonly created_at: string;
  readonly caller: string;
}

/** 'EXISTS': an earlier attempt of the same request already committed this workflow. */
export type CreateWorkflowResult = 'CREATED' | 'EXISTS';

export interface BacklogEntry {
  readonly workflow_id: string;
  readonly issue: Issue;
  readonly agent_id: string;
  readonly category: Category | null;
}

type Item = Record<string, unknown>;

const StoredAnswer = z.object({ workflow_id: Identifier });

/**
 * The backlog as one RecoveryPlan for the planner. Issue ids repeat across workflows,
 * so step ids are `<workflow_id>:<issue_id>`; dependencies stay within their workflow
 * and only on issues still in the backlog. A step keeps its agent while that agent is
 * registered; otherwise the planner routes it again by category.
 * @example
 * optimizeResources(backlogPlan(await workflows.listBacklog(), agents, constraints), agents, { now_ms })
 */
export function backlogPlan(
  entries: readonly BacklogEntry[],
  agents: readonly { readonly agent_id: string }[],
  constraints?: ResourceConstraints,
): RecoveryPlan {
  const registered = new Set(agents.map((a) => a.agent_id));
  const stepId = backlogStepId;
  const pending = new Set(entries.map((e) => stepId(e.workflow_id, e.issue.issue_id)));
  return {
    ...(constraints ? { constraints } : {}),
    steps: entries.map(({ workflow_id, issue, agent_id, category }) => ({
      step_id: stepId(workflow_id, issue.issue_id),
      issue_id: issue.issue_id,
      ...(registered.has(agent_id) ? { agent_id } : {}),
      ...(category ? { category } : {}),
      action: 'remediate',
      depends_on: (issue.depends_on ?? []).map((d) => stepId(workflow_id, d)).filter((id) => pending.has(id)),
      ...(issue.estimated_duration ? { estimated_duration: issue.estimated_duration } : {}),
      idempotent: issue.idempotent ?? false,
      ...(issue.resources ? { resources: issue.resources } : {}),
    })),
  };
}

/**
 * A backlog step's id, `<workflow_id>:<issue_id>`, kept within the 80 characters an
 * Identifier allows: a longer issue id is replaced by a hash of it (`h-...`). The
 * step's `issue_id` still carries the real id.
 */
export function backlogStepId(workflowId: string, issueId: string): string {
  const plain = `${workflowId}:${issueId}`;
  if (plain.length <= MAX_IDENTIFIER_LENGTH) return plain;
  const room = MAX_IDENTIFIER_LENGTH - workflowId.length - ':h-'.length;
  return `${workflowId}:h-${base32(createHash('sha256').update(issueId).digest()).slice(0, room)}`;
}

const MAX_IDENTIFIER_LENGTH = 80;

/**
 * The workflow id for a caller's idempotency key: the same pair always gives the same
 * id, so a retried request writes the same items.
 * @example
 * workflowIdFor('ops-1', '7f8c...') // 'wf-' + 26 base32 characters
 */
export function workflowIdFor(sub: string, idempotencyKey: string): string {
  const digest = createHash('sha256').update(`${sub}\n${idempotencyKey}`).digest();
  return `wf-${base32(digest).slice(0, 26)}`;
}

export class WorkflowRepository {
  readonly #db: DocumentSender;
  readonly #table: string;

  constructor(db: DocumentSender, tableName: string) {
    this.#db = db;
    this.#table = tableName;
  }

  /**
   * Stores a triaged batch as a PENDING workflow, all or nothing (see the file comment).
   * @throws ConflictError('IDEMPOTENCY_KEY_REUSED') when the id holds another request,
   *   ApiError 413 ISSUE_TOO_LARGE, ApiError 429 THROTTLED.
   */
  async createWorkflow(input: CreateWorkflowInput): Promise<CreateWorkflowResult> {
    const requestHash = sha256(canonicalJson(input.request));
    const items = [
      ...issueItems(input, requestHash),
      ...stepItems(
        input.workflow_id,
        input.outcome.recovery_plan.steps,
        input.outcome.allocation,
        requestHash,
      ),
    ];
    const { meta, detail } = metaItems(input, requestHash);
    return this.#commit(input, [...items, detail], meta, requestHash);
  }

  /**
   * Stores a planned RecoveryWorkflowRequest (POST workflows) as a PENDING workflow, with the
   * same all-or-nothing protocol. Issues the plan does not describe get a stub (title from
   * the step's action) so every step has an issue to send its agent. Steps the request's
   * `progress_state.succeeded_steps` names are stored SUCCEEDED (completed at `created_at`,
   * `resumed: true`) in the same commit, so the run skips them; the caller checks that they
   * are steps of the plan.
   */
  async createPlannedWorkflow(input: CreatePlannedWorkflowInput): Promise<CreateWorkflowResult> {
    const requestHash = sha256(canonicalJson(input.request));
    const { recovery_plan } = input.request;
    const succeeded = new Set(input.request.progress_state?.succeeded_steps ?? []);
    const described = new Map((recovery_plan.issues ?? []).map((i) => [i.issue_id, i]));
    const issues: Issue[] = [...described.values()];
    for (const step of recovery_plan.steps) {
      if (described.has(step.issue_id)) continue;
      const stub: Issue = {
        issue_id: step.issue_id,
        title: `${step.action} ${step.issue_id}`,
        severity: 'medium',
        ...(step.category ? { category: step.category } : {}),
      };
      described.set(step.issue_id, stub);
      issues.push(stub);
    }
    const items = [
      ...issues.map((issue, position) =>
        checkedSize({
          ...keys.workflowIssue(input.workflow_id, issue.issue_id),
          entity: 'ISSUE',
          workflow_id: input.workflow_id,
          issue_id: issue.issue_id,
          position,
          request_hash: requestHash,
          created_at: input.created_at,
          issue,
        }),
      ),
      ...stepItems(input.workflow_id, recovery_plan.steps, input.allocation, requestHash, {
        ids: succeeded,
        at: input.created_at,
      }),
    ];
    const meta = {
      ...baseMeta(input.workflow_id, input.created_at, input.caller, requestHash, input.allocation),
      steps_succeeded: input.allocation.steps.filter((s) => succeeded.has(s.step_id)).length,
      source: 'plan',
      issue_count: issues.length,
      plan_id: recovery_plan.plan_id ?? null,
    };
    const detail = detailItem(input.workflow_id, requestHash, input.allocation, {
      resource_constraints: recovery_plan.constraints,
      agent_status: input.request.agent_status,
    });
    return this.#commit(input, [...items, detail], meta, requestHash);
  }

  async #commit(
    input: { readonly workflow_id: string; readonly caller: string; readonly created_at: string },
    items: readonly Item[],
    meta: Item,
    requestHash: string,
  ): Promise<CreateWorkflowResult> {
    const isThisRequest = (found: Item | undefined) =>
      found?.request_hash === requestHash && found.caller === input.caller;

    const existing = await this.#readMeta(input.workflow_id);
    if (existing) {
      if (isThisRequest(existing)) return 'EXISTS';
      throw keyReused(input.workflow_id);
    }

    const written: Item[] = [];
    try {
      for (const chunk of chunked(items)) {
        await this.#transact(
          chunk.map((Item) => ({
            Put: {
              TableName: this.#table,
              Item,
              ConditionExpression: 'attribute_not_exists(PK) OR request_hash = :hash',
              ExpressionAttributeValues: { ':hash': requestHash },
            },
          })),
        );
        written.push(...chunk);
      }
      await this.#transact([
        { Put: { TableName: this.#table, Item: meta, ConditionExpression: 'attribute_not_exists(PK)' } },
      ]);
      return 'CREATED';
    } catch (error) {
      let committed: Item | undefined;
      try {
        committed = await this.#readMeta(input.workflow_id);
      } catch (readError) {
        logger.error('cannot tell whether the workflow committed; leaving its items', {
          workflow_id: input.workflow_id,
          error: readError,
        });
        throw asThrottled(error);
      }
      if (isThisRequest(committed)) return committed?.created_at === input.created_at ? 'CREATED' : 'EXISTS';
      await this.#deleteBestEffort(written);
      const conflict =
        isConditionalCheckFailed(error) || cancellationCodes(error).includes('ConditionalCheckFailed');
      throw conflict ? keyReused(input.workflow_id) : asThrottled(error);
    }
  }

  /**
   * The 202 answer for a committed workflow, rebuilt from its items: what an
   * idempotent replay returns.
   * @throws NotFoundError when no META exists.
   */
  async getIntakeAccepted(workflowId: string): Promise<IntakeAccepted> {
    const items = await this.#queryAll({
      TableName: this.#table,
      KeyConditionExpression: 'PK = :pk',
      ExpressionAttributeValues: { ':pk': keys.workflow(workflowId).PK },
      ConsistentRead: true,
    });
    const meta = items.find((item) => item.SK === 'META');
    if (!meta) throw new NotFoundError(`workflow ${workflowId} does not exist`);
    const detail = items.find((item) => item.SK === keys.workflowDetail(workflowId).SK);
    const decisions = items
      .filter((item) => String(item.SK).startsWith('ISSUE#') && item.request_hash === meta.request_hash)
      .sort((a, b) => Number(a.position) - Number(b.position))
      .map((item) => item.decision as TriageDecision);
    return IntakeAccepted.parse({
      workflow_id: workflowId,
      execution_arn: meta.execution_arn ?? null,
      status: meta.status,
      assignment: {
        ...(detail?.assignment as object),
        unassigned: decisions
          .filter((d) => d.status === 'UNASSIGNED')
          .map((d) => ({ issue_id: d.issue_id, reason: d.unassigned_reason, detail: d.reason })),
        decisions,
      },
    });
  }

  /**
   * How POST issues' idempotency record stands in for its 202 answer: the record keeps
   * the workflow id only (a 1,000-issue answer can outgrow a DynamoDB item) and a
   * replay rebuilds the answer with `getIntakeAccepted`.
   */
  intakeReplay(): Pick<IdempotentRequestsOptions, 'compact' | 'expand'> {
    return {
      compact: ({ status, body }) => ({
        status,
        body: { workflow_id: (body as IntakeAccepted).workflow_id },
      }),
      expand: async ({ status, body }) => ({
        status,
        body: await this.getIntakeAccepted(StoredAnswer.parse(body).workflow_id),
      }),
    };
  }

  /**
   * Assigned issues of committed workflows not yet resolved, oldest first.
   * @returns `truncated` when the backlog holds more than `limit` issues.
   */
  async listBacklog(limit = MAX_BACKLOG_ITEMS): Promise<{ entries: BacklogEntry[]; truncated: boolean }> {
    const items = await this.#queryAll(
      {
        TableName: this.#table,
        IndexName: GSI1.indexName,
        KeyConditionExpression: '#pk = :pk',
        ExpressionAttributeNames: { '#pk': GSI1.partitionKey },
        ExpressionAttributeValues: { ':pk': GSI1_PARTITIONS.backlog },
      },
      limit + 1,
    );
    const truncated = items.length > limit;
    const candidates = items.slice(0, limit);
    const hashes = await this.#committedRequestHashes([
      ...new Set(candidates.map((i) => String(i.workflow_id))),
    ]);
    const entries = candidates
      .filter((item) => hashes.get(String(item.workflow_id)) === item.request_hash)
      .map((item) => {
        const decision = item.decision as TriageDecision;
        return {
          workflow_id: String(item.workflow_id),
          issue: item.issue as Issue,
          agent_id: String(decision.agent_id),
          category: decision.category,
        };
      });
    return { entries, truncated };
  }

  /**
   * How many issues sit in the backlog (GSI1 `BACKLOG`), counted only up to `atLeast`: each page
   * asks for no more items than are still missing, and paging stops once the count reaches
   * `atLeast`, so the cost is bounded by `atLeast`, never by the table. GSI reads are eventually
   * consistent, and uncommitted leftovers of a failed write count too (listBacklog drops them):
   * an estimate good enough for backpressure, not for planning.
   * @returns a number in [0, atLeast].
   * @example
   * (await workflows.countBacklog(5000)) >= 5000 // the backlog is full
   */
  async countBacklog(atLeast: number): Promise<number> {
    if (atLeast < 1) return 0;
    let count = 0;
    let cursor: Record<string, unknown> | undefined;
    do {
      const page = await this.#db
        .send(
          new QueryCommand({
            TableName: this.#table,
            IndexName: GSI1.indexName,
            KeyConditionExpression: '#pk = :pk',
            ExpressionAttributeNames: { '#pk': GSI1.partitionKey },
            ExpressionAttributeValues: { ':pk': GSI1_PARTITIONS.backlog },
            Select: 'COUNT',
            Limit: atLeast - count,
            ExclusiveStartKey: cursor,
          }),
        )
        .catch((error: unknown) => Promise.reject(asThrottled(error)));
      count += page.Count ?? 0;
      cursor = page.LastEvaluatedKey;
    } while (cursor && count < atLeast);
    return Math.min(count, atLeast);
  }

  /** Whether the workflow's META exists: an earlier attempt of the request committed it. */
  async workflowExists(workflowId: string): Promise<boolean> {
    return (await this.#readMeta(workflowId)) !== undefined;
  }

  async #readMeta(workflowId: string): Promise<Item | undefined> {
    const { Item } = await this.#db
      .send(new GetCommand({ TableName: this.#table, Key: keys.workflow(workflowId), ConsistentRead: true }))
      .catch((error: unknown) => Promise.reject(asThrottled(error)));
    return Item;
  }

  async #transact(
    items: NonNullable<ConstructorParameters<typeof TransactWriteCommand>[0]['TransactItems']>,
  ) {
    await this.#db.send(new TransactWriteCommand({ TransactItems: items }));
  }

  #queryAll(input: QueryCommandInput, max = Number.POSITIVE_INFINITY): Promise<Item[]> {
    return queryAll(this.#db, input, max);
  }

  /** workflow_id -> request hash, for the workflows whose META exists. */
  async #committedRequestHashes(workflowIds: readonly string[]): Promise<Map<string, unknown>> {
    const hashes = new Map<string, unknown>();
    for (let start = 0; start < workflowIds.length; start += 100) {
      let pending: Record<string, unknown>[] = workflowIds
        .slice(start, start + 100)
        .map((id) => keys.workflow(id));
      for (let attempt = 0; pending.length > 0; attempt++) {
        if (attempt > 0) await pause(attempt);
        if (attempt > 5) throw new ApiError(429, 'THROTTLED', 'the service is busy; retry with backoff');
        const { Responses, UnprocessedKeys } = await this.#db
          .send(
            new BatchGetCommand({
              RequestItems: {
                [this.#table]: {
                  Keys: pending,
                  ProjectionExpression: 'workflow_id, request_hash',
                  ConsistentRead: true,
                },
              },
            }),
          )
          .catch((error: unknown) => Promise.reject(asThrottled(error)));
        for (const meta of Responses?.[this.#table] ?? [])
          hashes.set(String(meta.workflow_id), meta.request_hash);
        pending = UnprocessedKeys?.[this.#table]?.Keys ?? [];
      }
    }
    return hashes;
  }

  /** Deletes what a failed attempt wrote; logs and gives up rather than masking the real error. */
  async #deleteBestEffort(items: readonly Item[]): Promise<void> {
    let pending = items.map((item) => ({ DeleteRequest: { Key: { PK: item.PK, SK: item.SK } } }));
    try {
      for (let attempt = 0; pending.length > 0 && attempt < 5; attempt++) {
        if (attempt > 0) await pause(attempt);
        const failed: typeof pending = [];
        for (let start = 0; start < pending.length; start += 25) {
          const { UnprocessedItems } = await this.#db.send(
            new BatchWriteCommand({ RequestItems: { [this.#table]: pending.slice(start, start + 25) } }),
          );
          failed.push(...((UnprocessedItems?.[this.#table] ?? []) as typeof pending));
        }
        pending = failed;
      }
    } catch (error) {
      logger.error('cleanup of a failed workflow write stopped', { error, left: pending.length });
      return;
    }
    if (pending.length > 0)
      logger.error('cleanup of a failed workflow write left items', { left: pending.length });
  }
}

// ---------------------------------------------------------------- items

function issueItems(input: CreateWorkflowInput, requestHash: string): Item[] {
  const { workflow_id, created_at, outcome } = input;
  const decisions = new Map(outcome.assignment.decisions.map((d) => [d.issue_id, d]));
  const steps = new Map(outcome.allocation.steps.map((s) => [s.issue_id, s]));
  return input.request.detected_issues.map((issue, position) => {
    const decision = decisions.get(issue.issue_id);
    const item: Item = {
      ...keys.workflowIssue(workflow_id, issue.issue_id),
      [GSI1.partitionKey]:
        decision?.status === 'ASSIGNED' ? GSI1_PARTITIONS.backlog : GSI1_PARTITIONS.manualTriage,
      [GSI1.sortKey]: `${created_at}#${workflow_id}#${issue.issue_id}`,
      entity: 'ISSUE',
      workflow_id,
      issue_id: issue.issue_id,
      position,
      request_hash: requestHash,
      created_at,
      issue,
      decision,
      scheduled_step: steps.get(issue.issue_id),
    };
    return checkedSize(item);
  });
}

function checkedSize(item: Item): Item {
  const bytes = Buffer.byteLength(JSON.stringify(item));
  if (bytes > MAX_STORED_ISSUE_BYTES)
    throw new ApiError(
      413,
      'ISSUE_TOO_LARGE',
      `issue ${item.issue_id} is ${bytes} bytes once stored; the limit is ${MAX_STORED_ISSUE_BYTES}`,
      [{ issue_id: item.issue_id, bytes, limit_bytes: MAX_STORED_ISSUE_BYTES }],
    );
  return item;
}

/**
 * One STEP item per scheduled step, PENDING, with its agent, wave and timers. The step's
 * own fields (action, parameters, timers) come from the plan step of the same id.
 * @throws ApiError 400 INVALID_TIMERS when a step's timeout or heartbeat is out of range.
 */
function stepItems(
  workflowId: string,
  planSteps: readonly PlanStep[],
  allocation: ResourceAllocation,
  requestHash: string,
  /** Steps an earlier run already did: stored SUCCEEDED, completed `at`. */
  done: { readonly ids: ReadonlySet<string>; readonly at: string } = { ids: new Set(), at: '' },
): Item[] {
  const byId = new Map(planSteps.map((s) => [s.step_id, s]));
  return allocation.steps.map((scheduled, position) => {
    const step = byId.get(scheduled.step_id);
    let timers: ReturnType<typeof stepTimers>;
    try {
      timers = stepTimers({
        duration_ms: scheduled.duration_ms,
        timeout: step?.timeout,
        heartbeat: step?.heartbeat,
      });
    } catch (error) {
      throw new ApiError(400, 'INVALID_TIMERS', `step ${scheduled.step_id}: ${(error as Error).message}`, [
        { step_id: scheduled.step_id, timeout: step?.timeout, heartbeat: step?.heartbeat },
      ]);
    }
    return {
      ...keys.workflowStep(workflowId, scheduled.step_id),
      entity: 'STEP',
      workflow_id: workflowId,
      step_id: scheduled.step_id,
      issue_id: scheduled.issue_id,
      agent_id: scheduled.agent_id,
      category: step?.category ?? null,
      action: step?.action ?? 'remediate',
      depends_on: scheduled.depends_on,
      wave: scheduled.wave,
      position,
      idempotent: step?.idempotent ?? false,
      parameters: step?.parameters,
      duration_ms: scheduled.duration_ms,
      ...timers,
      status: 'PENDING',
      attempts: 0,
      compensation_attempts: 0,
      started_at: null,
      completed_at: null,
      compensated_at: null,
      ...(done.ids.has(scheduled.step_id)
        ? { status: 'SUCCEEDED', started_at: done.at, completed_at: done.at, resumed: true }
        : {}),
      request_hash: requestHash,
    };
  });
}

/** What every workflow's META holds, whatever its source. */
function baseMeta(
  workflowId: string,
  createdAt: string,
  caller: string,
  requestHash: string,
  allocation: ResourceAllocation,
): Item {
  return {
    ...keys.workflow(workflowId),
    [GSI1.partitionKey]: GSI1_PARTITIONS.workflows,
    [GSI1.sortKey]: `${createdAt}#${workflowId}`,
    entity: 'WORKFLOW',
    workflow_id: workflowId,
    status: 'PENDING',
    created_at: createdAt,
    updated_at: createdAt,
    caller,
    request_hash: requestHash,
    // No execution_arn until one starts: `if_not_exists` treats a stored null as present.
    executions: [],
    event_seq: 0,
    step_count: allocation.steps.length,
    steps_succeeded: 0,
    wave_concurrency: allocation.waves.map((w) => w.max_concurrency),
    version: 1,
  };
}

/**
 * The write-once DETAIL item (keys.workflowDetail): the plan's figures and whatever else the
 * request brought that no step transition reads. Written in the chunks before META, so it
 * commits or rolls back with the workflow.
 */
function detailItem(
  workflowId: string,
  requestHash: string,
  allocation: ResourceAllocation,
  extra: Item,
): Item {
  return {
    ...keys.workflowDetail(workflowId),
    entity: 'WORKFLOW_DETAIL',
    workflow_id: workflowId,
    request_hash: requestHash,
    plan: {
      makespan: allocation.makespan,
      wave_makespan: allocation.wave_makespan,
      lower_bound: allocation.lower_bound,
      critical_path: allocation.critical_path,
      critical_path_duration: allocation.critical_path_duration,
      eta_completion: allocation.eta_completion,
      utilization: allocation.utilization,
      wave_count: allocation.waves.length,
    },
    ...extra,
  };
}

function metaItems(input: CreateWorkflowInput, requestHash: string): { meta: Item; detail: Item } {
  const { workflow_id, created_at, outcome, request } = input;
  const { assignment, allocation } = outcome;
  const assigned = assignment.decisions.filter((d) => d.status === 'ASSIGNED').length;
  const meta = {
    ...baseMeta(workflow_id, created_at, input.caller, requestHash, allocation),
    source: 'issues',
    issue_count: request.detected_issues.length,
    assigned_count: assigned,
    unassigned_count: request.detected_issues.length - assigned,
  };
  const detail = detailItem(workflow_id, requestHash, allocation, {
    assignment: {
      assigned_agents: assignment.assigned_agents,
      execution_order: assignment.execution_order,
      estimated_duration: assignment.estimated_duration,
      resource_requirements: assignment.resource_requirements,
    },
    system_context: request.system_context,
    resource_constraints: request.resource_constraints,
  });
  return { meta, detail };
}

function* chunked(items: readonly Item[]): Generator<Item[]> {
  let chunk: Item[] = [];
  let bytes = 0;
  for (const item of items) {
    const size = Buffer.byteLength(JSON.stringify(item));
    if (
      chunk.length > 0 &&
      (chunk.length === MAX_ITEMS_PER_TRANSACTION || bytes + size > MAX_TRANSACTION_BYTES)
    ) {
      yield chunk;
      chunk = [];
      bytes = 0;
    }
    chunk.push(item);
    bytes += size;
  }
  if (chunk.length > 0) yield chunk;
}

function keyReused(workflowId: string): ConflictError {
  return new ConflictError(
    'IDEMPOTENCY_KEY_REUSED',
    `workflow ${workflowId} already holds a different request; use a new Idempotency-Key`,
    [{ workflow_id: workflowId }],
  );
}

// ---------------------------------------------------------------- hashing

/** JSON with object keys sorted, so equal values hash equally whatever their key order. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object')
    return `{${Object.keys(value)
      .filter((k) => (value as Item)[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Item)[k])}`)
      .join(',')}}`;
  return JSON.stringify(value) ?? 'null';
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';

/** RFC 4648 base32, lower case, without padding. */
function base32(bytes: Uint8Array): string {
  let out = '';
  let buffer = 0;
  let bits = 0;
  for (const byte of bytes) {
    buffer = ((buffer << 8) | byte) & 0xffff;
    bits += 8;
    while (bits >= 5) {
      out += BASE32[(buffer >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += BASE32[(buffer << (5 - bits)) & 31];
  return out;
}

function pause(attempt: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.min(1000, 50 * 2 ** attempt)));
}
