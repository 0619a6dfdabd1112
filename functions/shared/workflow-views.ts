/**
 * The API's views of a stored workflow: WorkflowDetail for GET workflows/{id}, and the
 * ExecutionResult and RollbackResult inside it. Built from what the run repository loads.
 */
import { formatDuration } from '#core/duration';
import { computeProgress, type ProgressStep } from '#core/progress';
import type { RollbackStep } from '#core/rollback';
import type {
  ExecutionResult,
  ProgressReport,
  RollbackResult,
  StepResult,
  WorkflowDetail,
  WorkflowStatus,
  WorkflowStep,
  WorkflowSummary,
} from '#core/wire';
import { TERMINAL_WORKFLOW_STATUSES } from '#core/workflow';
import type { RunMeta, RunStep } from '#shared/repository/workflow-run';

const TERMINAL: ReadonlySet<WorkflowStatus> = new Set(TERMINAL_WORKFLOW_STATUSES);

/** The steps as the rollback planner (`functions/core/rollback.ts`) sees them. */
export function rollbackSteps(steps: readonly RunStep[]): RollbackStep[] {
  return steps.map((s) => ({
    step_id: s.step_id,
    issue_id: s.issue_id,
    agent_id: s.agent_id,
    status: s.status,
    completed_at_ms: s.completed_at ? Date.parse(s.completed_at) : null,
    sequence: s.completion_seq ?? Number.MAX_SAFE_INTEGER,
  }));
}

export const isTerminal = (status: WorkflowStatus): boolean => TERMINAL.has(status);

function stepResult(step: RunStep): StepResult {
  return {
    step_id: step.step_id,
    issue_id: step.issue_id,
    agent_id: step.agent_id,
    status: step.status,
    attempts: step.attempts,
    started_at: step.started_at,
    completed_at: step.completed_at,
    ...(step.output === undefined ? {} : { output: step.output }),
    ...(step.error ? { error: step.error } : {}),
  };
}

function workflowStep(step: RunStep): WorkflowStep {
  return {
    ...stepResult(step),
    action: step.action,
    depends_on: [...step.depends_on],
    wave: step.wave,
    idempotent: step.idempotent,
    timeout_seconds: step.timeout_seconds,
    heartbeat_seconds: step.heartbeat_seconds,
    compensation_attempts: step.compensation_attempts,
    compensated_at: step.compensated_at,
  };
}

/** What the last rollback did, from the steps' statuses; null when none ran. */
export function rollbackResult(meta: RunMeta, steps: readonly RunStep[]): RollbackResult | null {
  const rollback = meta.rollback;
  if (!rollback) return null;
  const compensated = steps.filter((s) => s.status === 'COMPENSATED').map((s) => s.step_id);
  const failed = steps.filter((s) => s.status === 'COMPENSATION_FAILED').map((s) => s.step_id);
  const skipped = steps
    .filter((s) => s.status !== 'COMPENSATED' && s.status !== 'COMPENSATION_FAILED')
    .map((s) => s.step_id);
  let status: RollbackResult['status'] = 'ROLLED_BACK';
  if (failed.length > 0 || meta.status === 'ROLLBACK_FAILED') status = 'ROLLBACK_FAILED';
  else if (compensated.length === 0) status = 'NOTHING_TO_ROLL_BACK';
  return {
    workflow_id: meta.workflow_id,
    failure_point: (rollback.failure_point as string | null | undefined) ?? null,
    reason: String(rollback.reason ?? ''),
    status,
    compensated_steps: compensated,
    failed_compensations: failed,
    skipped_steps: skipped,
  };
}

/** The ExecutionResult of an ended workflow; null while it runs. */
export function executionResult(meta: RunMeta, steps: readonly RunStep[]): ExecutionResult | null {
  if (!isTerminal(meta.status)) return null;
  const started = meta.started_at ?? meta.created_at;
  const rollback = rollbackResult(meta, steps);
  return {
    workflow_id: meta.workflow_id,
    status: meta.status,
    started_at: started,
    completed_at: meta.completed_at,
    duration: meta.completed_at
      ? formatDuration(Math.max(0, Date.parse(meta.completed_at) - Date.parse(started)))
      : null,
    steps: steps.map(stepResult),
    resolved_issues: meta.status === 'SUCCEEDED' ? unique(steps.map((s) => s.issue_id)) : [],
    failed_issues:
      meta.status === 'SUCCEEDED'
        ? []
        : unique(steps.filter((s) => s.status !== 'SKIPPED').map((s) => s.issue_id)),
    ...(rollback ? { rollback } : {}),
  };
}

/** Succeeded steps over all steps, in percent with one decimal; 0 for a workflow without steps. */
function completionOf(meta: RunMeta): number {
  return meta.step_count === 0 ? 0 : Math.round((1000 * meta.steps_succeeded) / meta.step_count) / 10;
}

/** The fields GET workflows and GET workflows/{id} share, in their order. */
function heading(meta: RunMeta) {
  return {
    workflow_id: meta.workflow_id,
    status: meta.status,
    source: meta.source,
    created_at: meta.created_at,
    updated_at: meta.updated_at,
  };
}

/** One entry of GET workflows, from the META item alone. */
export function workflowSummary(meta: RunMeta): WorkflowSummary {
  return {
    ...heading(meta),
    completed_at: meta.completed_at,
    step_count: meta.step_count,
    steps_succeeded: meta.steps_succeeded,
    completion_percentage: completionOf(meta),
  };
}

export function workflowDetail(meta: RunMeta, steps: readonly RunStep[]): WorkflowDetail {
  return {
    ...heading(meta),
    execution_arn: meta.execution_arn,
    executions: [...meta.executions],
    completion_percentage: completionOf(meta),
    steps: steps.map(workflowStep),
    result: executionResult(meta, steps),
  };
}

const unique = (ids: readonly string[]): string[] => [...new Set(ids)];

function progressSteps(steps: readonly RunStep[], prefix = ''): ProgressStep[] {
  return steps.map((s) => ({
    step_id: `${prefix}${s.step_id}`,
    issue_id: `${prefix}${s.issue_id}`,
    agent_id: s.agent_id,
    status: s.status,
    depends_on: s.depends_on.map((d) => `${prefix}${d}`),
    estimated_duration_ms: s.duration_ms,
    started_at_ms: s.started_at ? Date.parse(s.started_at) : null,
    completed_at_ms: s.completed_at ? Date.parse(s.completed_at) : null,
  }));
}

function report(detail: ProgressReport): ProgressReport {
  const { completion_percentage, active_agents, resolved_issues, blocking_issues, eta_completion } = detail;
  return { completion_percentage, active_agents, resolved_issues, blocking_issues, eta_completion };
}

/**
 * GET workflows/{id}/progress: the core's `computeProgress` over the workflow's steps, with the
 * ETA from the plan's estimates scaled by how fast finished steps really were. An ended
 * workflow has no ETA.
 */
export function workflowProgress(meta: RunMeta, steps: readonly RunStep[], now_ms: number): ProgressReport {
  const progress = report(computeProgress(progressSteps(steps), now_ms));
  return isTerminal(meta.status) ? { ...progress, eta_completion: null } : progress;
}

/**
 * GET progress: every workflow still at work as one plan (issue ids are `<workflow_id>:<issue_id>`
 * so equal ids of different batches stay apart); the ETA is the latest of the workflows'.
 */
export function systemProgress(
  runs: readonly { readonly meta: RunMeta; readonly steps: readonly RunStep[] }[],
  now_ms: number,
): ProgressReport {
  const steps = runs.flatMap(({ meta, steps: own }) => progressSteps(own, `${meta.workflow_id}:`));
  return report(computeProgress(steps, now_ms));
}
