/**
 * What the API does to a workflow's executions: start its run (POST issues, POST workflows),
 * and start a compensating execution that rolls it back or cancels it (POST
 * workflows/{id}/rollback and /cancel).
 *
 * Executions are named, so starting one twice is harmless (executions.ts): the run is named
 * `<workflow_id>`, the n-th compensating execution `<workflow_id>.rollback-<n>`, where n counts
 * the compensating executions recorded so far, plus one. Two requests that read the same
 * workflow therefore name the same execution, and Step Functions starts it once. Guards
 * around that:
 *
 * 1. The workflow's status must allow the request (409 WORKFLOW_STATE_CONFLICT): a rollback
 *    needs an ended workflow, a cancel a PENDING or RUNNING one.
 * 2. A compensating execution still running refuses the next one (409), which covers the
 *    window between a rollback being recorded and its first Task changing the status. The run
 *    is not asked: once its last Task wrote the ended status, it writes nothing more.
 * 3. A conditional write on META claims the execution name for this request
 *    (`compensation_request`: the name and a hash of mode, reason and failure_point), on
 *    condition that the status and the number of executions are still those read: a twin
 *    request (same body) joins the same execution, a different one racing it gets 409.
 *    A claim whose StartExecution failed is taken again by the retry (same name and body), or by
 *    any request once it is older than {@link CLAIM_EXPIRY_MS}.
 * 4. A twin joins the execution its twin claimed while that execution runs, whenever it
 *    arrives: before its own claim, and again when its claim loses because the twin's execution
 *    already moved META on (recorded it, or its first Task changed the status). Joining records
 *    the execution, in case the twin stopped between starting and recording it.
 */
import { createHash } from 'node:crypto';
import {
  DescribeExecutionCommand,
  type ExecutionStatus,
  type SFNClient,
  StopExecutionCommand,
} from '@aws-sdk/client-sfn';
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { canRollBackTo, planRollback } from '#core/rollback';
import type { WorkflowAccepted, WorkflowStatus } from '#core/wire';
import { ApiError, ConflictError, ValidationError } from '#shared/errors';
import {
  type ExecutionInput,
  executionArn,
  rollbackExecutionName,
  startNamedExecution,
} from '#shared/executions';
import {
  asThrottled,
  cancellationCodes,
  type DocumentSender,
  errorName,
  isConditionalCheckFailed,
} from '#shared/repository/dynamo-errors';
import {
  type RunMeta,
  type RunStep,
  type WorkflowRunRepository,
  workflowConflict,
} from '#shared/repository/workflow-run';
import { keys } from '#shared/table-design';
import { isTerminal, rollbackSteps } from '#shared/workflow-views';

export interface WorkflowControlDeps {
  readonly runs: Pick<WorkflowRunRepository, 'load' | 'meta' | 'addExecution'>;
  /** The table, for the claim on META. */
  readonly db: DocumentSender;
  readonly tableName: string;
  readonly sfn: Pick<SFNClient, 'send'>;
  readonly stateMachineArn: string;
  readonly now: () => Date;
}

/** What a compensating execution is asked to do. */
export interface CompensationRequest {
  readonly mode: 'rollback' | 'cancel';
  readonly reason: string;
  readonly failure_point?: string | undefined;
}

/** The run's execution (null: none, for a workflow without steps) and the workflow's status. */
export interface RunState {
  readonly execution_arn: string | null;
  readonly status: WorkflowStatus;
}

/** What makes two compensation requests twins: their mode, reason and failure point. */
function requestHash(request: CompensationRequest): string {
  return createHash('sha256')
    .update(JSON.stringify([request.mode, request.reason, request.failure_point ?? null]))
    .digest('hex');
}

/**
 * A claim older than this was abandoned (its request failed before recording its execution):
 * a request may take it over. Far beyond the API functions' 10 s timeout.
 */
export const CLAIM_EXPIRY_MS = 60_000;

/** Statuses a rollback refuses: the workflow is still working (cancel it instead) or already undoing. */
const NOT_ROLLBACKABLE: ReadonlySet<WorkflowStatus> = new Set(['PENDING', 'RUNNING', 'ROLLING_BACK']);

const SFN_THROTTLED = new Set(['ThrottlingException', 'TooManyRequestsException']);

/** Tries of one META write that loses to concurrent transactions (the execution's own Tasks write META too). */
const CONFLICT_TRIES = 4;

/** DynamoDB refused the write because a transaction on the same item was in flight. */
function isTransactionConflict(error: unknown): boolean {
  return (
    errorName(error) === 'TransactionConflictException' ||
    cancellationCodes(error).includes('TransactionConflict')
  );
}

/** Runs `write`, again after a short jittered pause while it loses to concurrent transactions. */
async function withConflictRetry<T>(write: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await write();
    } catch (error) {
      if (!isTransactionConflict(error) || attempt >= CONFLICT_TRIES) throw error;
      await new Promise((resolve) => setTimeout(resolve, 25 * 2 ** attempt * Math.random()));
    }
  }
}

/**
 * Whether the workflow's run still has to be started: it has steps, it is PENDING, and no
 * execution is recorded (a crash between storing the workflow and starting it).
 * @example
 * if (needsRun(meta)) await control.startRun(meta.workflow_id);
 */
export function needsRun(
  meta: Pick<RunMeta, 'status' | 'step_count' | 'execution_arn' | 'executions'>,
): boolean {
  return (
    meta.status === 'PENDING' &&
    meta.step_count > 0 &&
    meta.execution_arn === null &&
    meta.executions.length === 0
  );
}

/**
 * Why a rollback cannot start, or undefined when it can.
 * @throws nothing; returns the ApiError to throw (400 for an unknown failure_point, 409 otherwise).
 */
export function rollbackRefusal(
  meta: Pick<RunMeta, 'workflow_id' | 'status'>,
  steps: readonly RunStep[],
  failurePoint: string | undefined,
): ApiError | undefined {
  if (NOT_ROLLBACKABLE.has(meta.status))
    return workflowConflict(
      meta.workflow_id,
      meta.status,
      meta.status === 'ROLLING_BACK' ? 'roll back again while it rolls back' : 'roll back; cancel it instead',
    );
  const planned = rollbackSteps(steps);
  if (failurePoint !== undefined) {
    if (!steps.some((s) => s.step_id === failurePoint))
      return new ValidationError(
        `failure_point ${failurePoint} is not a step of workflow ${meta.workflow_id}`,
        [{ path: 'failure_point', message: 'names no step of the workflow', code: 'invalid_value' }],
      );
    if (!canRollBackTo(planned, failurePoint))
      return new ConflictError(
        'NOTHING_TO_ROLL_BACK',
        `step ${failurePoint} never ran or is already compensated; there is nothing to roll back to`,
        [{ workflow_id: meta.workflow_id, failure_point: failurePoint }],
      );
  }
  if (planRollback(meta.workflow_id, planned, { failure_point: failurePoint }).compensations.length === 0)
    return new ConflictError(
      'NOTHING_TO_ROLL_BACK',
      `workflow ${meta.workflow_id} has no step that ran and is not compensated yet`,
      [{ workflow_id: meta.workflow_id }],
    );
  return undefined;
}

/**
 * The API's control over workflow executions.
 * @example
 * const control = createWorkflowControl({ runs, db: documentClient, tableName, sfn, stateMachineArn, now: () => new Date() });
 * await control.startRun('wf-abc');
 * await control.compensate('wf-abc', { mode: 'rollback', reason: 'bad release' });
 */
export function createWorkflowControl(deps: WorkflowControlDeps) {
  const { runs } = deps;
  const runArnOf = (workflowId: string) => executionArn(deps.stateMachineArn, workflowId);

  /** Starts (or finds) the run `<workflow_id>` and records it; the status is read back. */
  async function startRun(workflowId: string): Promise<RunState & { execution_arn: string }> {
    const arn = await startNamedExecution(deps.sfn, deps.stateMachineArn, workflowId, {
      workflow_id: workflowId,
    });
    await record(workflowId, arn);
    const meta = await runs.meta(workflowId);
    return { execution_arn: arn, status: meta.status };
  }

  /**
   * The run's ARN as recorded: META's `execution_arn`, else the run among `executions` (the
   * first one recorded is the run only when the workflow was ever started); null when none.
   */
  function recordedRun(meta: Pick<RunMeta, 'workflow_id' | 'execution_arn' | 'executions'>): string | null {
    const runArn = runArnOf(meta.workflow_id);
    return meta.execution_arn ?? (meta.executions.includes(runArn) ? runArn : null);
  }

  /** The run's ARN if the workflow has one (started now when a crash left it unstarted), else null. */
  async function ensureRun(meta: RunMeta): Promise<RunState> {
    if (needsRun(meta)) return startRun(meta.workflow_id);
    return { execution_arn: recordedRun(meta), status: meta.status };
  }

  /** Starts a rollback or cancel execution (see the file comment); 202's body. */
  async function compensate(workflowId: string, request: CompensationRequest): Promise<WorkflowAccepted> {
    const { meta, steps } = await runs.load(workflowId);
    const runArn = runArnOf(workflowId);
    const joined = await twinInFlight(meta, request);
    if (joined) return { workflow_id: workflowId, execution_arn: joined, status: 'ROLLING_BACK' };
    if (request.mode === 'rollback') {
      const refusal = rollbackRefusal(meta, steps, request.failure_point);
      if (refusal) throw refusal;
    } else if (isTerminal(meta.status) || meta.status === 'ROLLING_BACK') {
      throw workflowConflict(
        workflowId,
        meta.status,
        meta.status === 'ROLLING_BACK' ? 'cancel while it rolls back' : 'cancel; it has already ended',
      );
    }

    // The run is not checked: the status already says whether it still works on the workflow.
    // Once its last Task has written an ended status, only its final transition is left, and a
    // rollback asked for the moment SUCCEEDED or FAILED shows must not get 409 for it.
    const last = meta.executions.at(-1);
    if (last && last !== runArn) {
      const status = await executionStatus(last);
      if (status === 'RUNNING')
        throw new ConflictError(
          'WORKFLOW_STATE_CONFLICT',
          `execution ${last} is still working on workflow ${workflowId}; wait for it to end`,
          [{ workflow_id: workflowId, execution_arn: last }],
        );
    }

    const compensations = meta.executions.filter((arn) => arn !== runArn).length;
    const name = rollbackExecutionName(workflowId, compensations + 1);
    if (!(await claim(meta, name, request))) {
      const late = await twinInFlight(await runs.meta(workflowId), request);
      if (late) return { workflow_id: workflowId, execution_arn: late, status: 'ROLLING_BACK' };
      throw new ConflictError(
        'WORKFLOW_STATE_CONFLICT',
        `workflow ${workflowId} changed while this request was on its way (another rollback or cancel, or its run moved on); read it and try again`,
        [{ workflow_id: workflowId }],
      );
    }

    if (request.mode === 'cancel') {
      const stopped = await stopRun(runArn, request.reason);
      if (stopped === 'ENDED') {
        // The run ended on its own while this request was on its way.
        const now = await runs.meta(workflowId);
        if (isTerminal(now.status) || now.status === 'ROLLING_BACK')
          throw workflowConflict(workflowId, now.status, 'cancel; it has already ended');
      }
    }

    const input: ExecutionInput = {
      workflow_id: workflowId,
      mode: request.mode,
      reason: request.reason,
      ...(request.failure_point ? { failure_point: request.failure_point } : {}),
    };
    const arn = await startNamedExecution(deps.sfn, deps.stateMachineArn, name, input);
    await record(workflowId, arn);
    return { workflow_id: workflowId, execution_arn: arn, status: 'ROLLING_BACK' };
  }

  /** Records a started execution on META; its first Task may be writing META at the same moment. */
  function record(workflowId: string, arn: string): Promise<void> {
    return withConflictRetry(() => runs.addExecution(workflowId, arn, deps.now().toISOString()));
  }

  /**
   * A twin (same mode, reason and failure_point) of the request that claimed the latest
   * compensating execution joins it while it runs (see the file comment, 4).
   * @returns that execution's ARN, or undefined when this request is no such twin.
   */
  async function twinInFlight(meta: RunMeta, request: CompensationRequest): Promise<string | undefined> {
    const claimed = meta.raw.compensation_request as { name?: unknown; hash?: unknown } | undefined;
    if (!claimed || typeof claimed.name !== 'string' || claimed.hash !== requestHash(request))
      return undefined;
    const arn = executionArn(deps.stateMachineArn, claimed.name);
    if ((await executionStatus(arn)) !== 'RUNNING') return undefined;
    if (!meta.executions.includes(arn)) await record(meta.workflow_id, arn);
    return arn;
  }

  /**
   * Claims `name` for this request on META (see the file comment, 3).
   * @returns false when META moved on since it was read (the condition failed).
   */
  async function claim(meta: RunMeta, name: string, request: CompensationRequest): Promise<boolean> {
    const hash = requestHash(request);
    const now = deps.now();
    try {
      await withConflictRetry(() =>
        deps.db.send(
          new UpdateCommand({
            TableName: deps.tableName,
            Key: keys.workflow(meta.workflow_id),
            UpdateExpression: 'SET compensation_request = :request',
            ConditionExpression:
              'attribute_exists(PK) AND #status = :status AND size(executions) = :count AND ' +
              '(attribute_not_exists(compensation_request) OR compensation_request.#name <> :name OR ' +
              'compensation_request.#hash = :hash OR compensation_request.requested_at < :expired)',
            ExpressionAttributeNames: { '#status': 'status', '#name': 'name', '#hash': 'hash' },
            ExpressionAttributeValues: {
              ':request': { name, hash, mode: request.mode, requested_at: now.toISOString() },
              ':expired': new Date(now.getTime() - CLAIM_EXPIRY_MS).toISOString(),
              ':status': meta.status,
              ':count': meta.executions.length,
              ':name': name,
              ':hash': hash,
            },
          }),
        ),
      );
      return true;
    } catch (error) {
      if (!isConditionalCheckFailed(error) && !isTransactionConflict(error)) throw asThrottled(error);
      return false;
    }
  }

  /** The execution's status, or undefined when Step Functions does not know it. */
  async function executionStatus(arn: string): Promise<ExecutionStatus | undefined> {
    try {
      const described = await deps.sfn.send(new DescribeExecutionCommand({ executionArn: arn }));
      return described.status;
    } catch (error) {
      if (errorName(error) === 'ExecutionDoesNotExist') return undefined;
      throw sfnError(error);
    }
  }

  /** Stops the run if it is running. 'ENDED': it had ended on its own (or never started: 'NONE'). */
  async function stopRun(arn: string, reason: string): Promise<'STOPPED' | 'ENDED' | 'NONE'> {
    const status = await executionStatus(arn);
    if (status === undefined) return 'NONE';
    if (status !== 'RUNNING') return 'ENDED';
    try {
      await deps.sfn.send(
        new StopExecutionCommand({
          executionArn: arn,
          error: 'Workflow.Cancelled',
          cause: reason.slice(0, 32_768),
        }),
      );
    } catch (error) {
      if (errorName(error) !== 'ExecutionDoesNotExist') throw sfnError(error);
    }
    return 'STOPPED';
  }

  return { startRun, ensureRun, recordedRun, runArnOf, compensate };
}

export type WorkflowControl = ReturnType<typeof createWorkflowControl>;

/** 429 for Step Functions throttling, anything else unchanged. */
function sfnError(error: unknown): unknown {
  if (!SFN_THROTTLED.has(errorName(error) ?? '')) return error;
  return new ApiError(429, 'THROTTLED', 'Step Functions is busy; retry with backoff', undefined, {
    cause: error,
    headers: { 'retry-after': '1' },
  });
}
