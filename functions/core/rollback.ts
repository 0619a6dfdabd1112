/**
 * Rollback planning, the decision half of the spec's `manage_rollback`: which steps
 * to compensate, in which order, under which idempotency key.
 *
 * Every step that started may have changed something, so it is compensated: those
 * that SUCCEEDED, and those that FAILED, TIMED_OUT or were still DISPATCHED/RUNNING
 * when the workflow stopped (their agent may have applied part of the change). Steps
 * that never started (PENDING, SKIPPED) are skipped, and so are steps already
 * COMPENSATED by an earlier rollback, which makes re-running a rollback safe.
 *
 * Order: reverse completion order, the last change undone first, as a stack unwinds.
 * A step with no completion time (still running) ended last, so it goes first; ties
 * break on the step's `sequence` (the order steps were recorded), then step_id.
 */
import { compareIds } from './priority';
import type { Compensation, StepStatus } from './wire';

export interface RollbackStep {
  readonly step_id: string;
  readonly issue_id: string;
  readonly agent_id: string;
  readonly status: StepStatus;
  /** When the step reached a terminal state, ms since epoch; null if it had not. */
  readonly completed_at_ms: number | null;
  /** Monotonic record order, the tie-break for equal completion times. */
  readonly sequence: number;
}

export type SkipReason = 'NEVER_STARTED' | 'ALREADY_COMPENSATED' | 'BEFORE_FAILURE_POINT';

export interface RollbackPlan {
  readonly compensations: readonly Compensation[];
  readonly skipped: readonly { step_id: string; reason: SkipReason }[];
}

export interface RollbackOptions {
  /**
   * Undo only back to this step, inclusive: the changes made after it (in completion
   * order) and itself. Steps that completed before it keep their changes. Ignored when the
   * step is not among those to compensate; check with {@link canRollBackTo} first.
   */
  readonly failure_point?: string | undefined;
}

const NEVER_STARTED: ReadonlySet<StepStatus> = new Set(['PENDING', 'SKIPPED']);
const ALREADY_DONE: ReadonlySet<StepStatus> = new Set(['COMPENSATED']);

/**
 * Computes the compensation list for a workflow.
 * @example
 * planRollback('wf-1', [
 *   { step_id: 'a', issue_id: 'a', agent_id: 'x', status: 'SUCCEEDED', completed_at_ms: 1, sequence: 0 },
 *   { step_id: 'b', issue_id: 'b', agent_id: 'x', status: 'SUCCEEDED', completed_at_ms: 2, sequence: 1 },
 * ]).compensations.map((c) => c.step_id) // ['b', 'a']
 */
export function planRollback(
  workflowId: string,
  steps: readonly RollbackStep[],
  options: RollbackOptions = {},
): RollbackPlan {
  const skipped: { step_id: string; reason: SkipReason }[] = [];
  const toUndo: RollbackStep[] = [];
  for (const step of steps) {
    if (NEVER_STARTED.has(step.status)) skipped.push({ step_id: step.step_id, reason: 'NEVER_STARTED' });
    else if (ALREADY_DONE.has(step.status))
      skipped.push({ step_id: step.step_id, reason: 'ALREADY_COMPENSATED' });
    else toUndo.push(step);
  }
  toUndo.sort(
    (a, b) =>
      completionKey(b) - completionKey(a) || b.sequence - a.sequence || compareIds(b.step_id, a.step_id),
  );
  const cut = options.failure_point ? toUndo.findIndex((s) => s.step_id === options.failure_point) : -1;
  if (cut >= 0) {
    for (const kept of toUndo.splice(cut + 1))
      skipped.push({ step_id: kept.step_id, reason: 'BEFORE_FAILURE_POINT' });
  }
  return {
    compensations: toUndo.map((s, order) => ({
      step_id: s.step_id,
      issue_id: s.issue_id,
      agent_id: s.agent_id,
      idempotency_key: compensationKey(workflowId, s.step_id),
      order,
    })),
    skipped,
  };
}

/** Whether `failure_point` names a step a rollback would compensate (it ran and is not yet undone). */
export function canRollBackTo(steps: readonly RollbackStep[], failure_point: string): boolean {
  const step = steps.find((s) => s.step_id === failure_point);
  return step !== undefined && !NEVER_STARTED.has(step.status) && !ALREADY_DONE.has(step.status);
}

/** Stable across retries and re-runs of the same rollback, so agents can deduplicate. */
export function compensationKey(workflowId: string, stepId: string): string {
  return `${workflowId}#${stepId}#compensate`;
}

function completionKey(step: RollbackStep): number {
  return step.completed_at_ms ?? Number.POSITIVE_INFINITY;
}
