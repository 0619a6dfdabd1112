/**
 * The spec's `monitor_progress` math: how far a recovery has come, who is working,
 * what is stuck and when it should end. Pure: the clock is passed in as `now_ms`, so
 * a handler, the WebSocket fan-out and a test all get the same answer for the same
 * snapshot.
 */
import { type ProgressReport, StepStatus } from '#core/wire';

/** One step as progress sees it: the plan's estimate plus what has been observed so far. */
export interface ProgressStep {
  step_id: string;
  issue_id: string;
  agent_id: string;
  status: StepStatus;
  /** Step ids this step waits for. */
  depends_on: readonly string[];
  /** The plan's estimate. */
  estimated_duration_ms: number;
  started_at_ms: number | null;
  completed_at_ms: number | null;
}

export interface ProgressOptions {
  /**
   * Most steps that can run at once; the ETA is never shorter than the remaining
   * work spread over this many slots.
   * @default unbounded
   */
  max_parallel?: number;
}

/** The wire `ProgressReport` plus the figures it was derived from. */
export interface ProgressDetail extends ProgressReport {
  /** Estimated time left, in whole milliseconds. */
  remaining_ms: number;
  /** Observed / estimated duration of finished steps, clamped to [0.1, 10]; 1 when nothing was observed. */
  speed_ratio: number;
  /** Steps per status; every status is present. */
  counts: Record<StepStatus, number>;
}

/** One step with the figures every rule below reads, computed once. */
interface StepFacts {
  step: ProgressStep;
  /** Whole ms, 0 when missing or invalid. */
  estimate: number;
  done: boolean;
  /** How long a DISPATCHED/RUNNING step has run; null when not in flight or never started. */
  elapsed: number | null;
  /** Speed-adjusted time still needed, 0 when done. */
  remaining: number;
}

const DONE: ReadonlySet<StepStatus> = new Set(['SUCCEEDED', 'SKIPPED']);
const ACTIVE: ReadonlySet<StepStatus> = new Set(['DISPATCHED', 'RUNNING', 'COMPENSATING']);
const IN_FLIGHT: ReadonlySet<StepStatus> = new Set(['DISPATCHED', 'RUNNING']);
const BROKEN: ReadonlySet<StepStatus> = new Set(['FAILED', 'TIMED_OUT', 'COMPENSATION_FAILED']);
/** Once any step is here the run ends in failure or rollback, so a completion time would be a lie. */
const NO_NORMAL_FINISH: ReadonlySet<StepStatus> = new Set([...BROKEN, 'COMPENSATING', 'COMPENSATED']);

const MIN_SPEED_RATIO = 0.1;
const MAX_SPEED_RATIO = 10;
/** A step running longer than this many times its (speed-adjusted) estimate is overdue. */
const OVERDUE_FACTOR = 2;
/**
 * RFC 3339 needs a four-digit year; `toISOString` writes `+010000-…` past 9999, which
 * no client parses, so the ETA is only given inside 0000-01-01 .. 9999-12-31.
 */
const MIN_RFC3339_MS = -62_167_219_200_000;
const MAX_RFC3339_MS = 253_402_300_799_999;

/**
 * Computes progress for one workflow (or a whole fleet) from a snapshot of its steps.
 *
 * - `completion_percentage` weighs each step by `max(estimated_duration_ms, 1)`, so a long
 *   step counts for more than a quick one and a zero estimate still counts. SUCCEEDED and
 *   SKIPPED are done; every other status, compensated ones included, is not. Rounded to
 *   2 decimals and capped at 99.99 until every step is done, so 100 always means finished.
 *   An empty list is 100: there is nothing to do.
 * - `active_agents`: agents with a step DISPATCHED, RUNNING or COMPENSATING.
 * - `resolved_issues`: issues whose steps are all SUCCEEDED or SKIPPED.
 * - `blocking_issues`: issues with a FAILED, TIMED_OUT or COMPENSATION_FAILED step, plus
 *   issues with a DISPATCHED/RUNNING step that has run longer than
 *   2 × estimate × `speed_ratio` and that a not-done step waits for. An overdue leaf
 *   holds nobody up, so it is slow rather than blocking.
 * - `speed_ratio`: sum of observed over sum of estimated durations of SUCCEEDED steps
 *   that have both timestamps and a non-zero estimate; 1 when there are none. Clamped to
 *   [0.1, 10] so one outlier cannot wreck the ETA.
 * - `remaining_ms`: each not-done step needs `estimate × speed_ratio`, less the time it
 *   has already run when it is DISPATCHED/RUNNING (never below 0). The result is the
 *   longer of the remaining critical path along `depends_on` (done steps count 0) and,
 *   with `max_parallel`, the remaining work divided over that many slots.
 * - `eta_completion` is `now_ms + remaining_ms` as RFC 3339, or null when everything is
 *   done or the run can no longer finish normally (a step FAILED, TIMED_OUT,
 *   COMPENSATION_FAILED, COMPENSATING or COMPENSATED), and also when it would fall
 *   outside years 0000–9999, where RFC 3339 has no way to write it.
 *
 * Partial data never throws: unknown `depends_on` ids are ignored, bad estimates or
 * timestamps (negative, NaN) count as missing, and a dependency cycle (which the planner
 * refuses) is estimated without the edges inside it. Milliseconds are rounded to whole
 * numbers first so sums are exact and the result does not depend on the input order.
 * Runs in O(steps + edges).
 *
 * @throws RangeError when `now_ms` is not finite or `max_parallel` is below 1.
 * @example
 * computeProgress(
 *   [
 *     { step_id: 'a', issue_id: 'i1', agent_id: 'net', status: 'SUCCEEDED', depends_on: [],
 *       estimated_duration_ms: 60_000, started_at_ms: 0, completed_at_ms: 60_000 },
 *     { step_id: 'b', issue_id: 'i2', agent_id: 'db', status: 'RUNNING', depends_on: ['a'],
 *       estimated_duration_ms: 60_000, started_at_ms: 60_000, completed_at_ms: null },
 *   ],
 *   90_000,
 * );
 * // { completion_percentage: 50, active_agents: ['db'], resolved_issues: ['i1'],
 * //   blocking_issues: [], eta_completion: '1970-01-01T00:02:00.000Z', remaining_ms: 30000,
 * //   speed_ratio: 1, counts: { SUCCEEDED: 1, RUNNING: 1, PENDING: 0, ... } }
 */
export function computeProgress(
  steps: readonly ProgressStep[],
  now_ms: number,
  options: ProgressOptions = {},
): ProgressDetail {
  if (!Number.isFinite(now_ms)) throw new RangeError(`now_ms must be a finite number: ${now_ms}`);
  const { max_parallel } = options;
  if (max_parallel !== undefined && !(max_parallel >= 1)) {
    throw new RangeError(`max_parallel must be at least 1: ${max_parallel}`);
  }

  const counts = countStatuses(steps);
  const speed_ratio = measureSpeedRatio(steps);
  const facts = steps.map((step): StepFacts => {
    const estimate = wholeMs(step.estimated_duration_ms) ?? 0;
    const done = DONE.has(step.status);
    const started = wholeMs(step.started_at_ms);
    // A start in the future is clock skew, not negative work done.
    const elapsed = IN_FLIGHT.has(step.status) && started !== null ? Math.max(0, now_ms - started) : null;
    const remaining = done ? 0 : Math.max(0, Math.round(estimate * speed_ratio) - (elapsed ?? 0));
    return { step, estimate, done, elapsed, remaining };
  });

  let totalWeight = 0;
  let doneWeight = 0;
  let totalRemaining = 0;
  let canFinish = true;
  const active = new Set<string>();
  const blocking = new Set<string>();
  const issueDone = new Map<string, boolean>();
  const awaited = new Set<string>();
  for (const { step, estimate, done, remaining } of facts) {
    const weight = Math.max(estimate, 1);
    totalWeight += weight;
    if (done) doneWeight += weight;
    else for (const dep of step.depends_on) awaited.add(dep);
    totalRemaining += remaining;
    if (ACTIVE.has(step.status)) active.add(step.agent_id);
    if (BROKEN.has(step.status)) blocking.add(step.issue_id);
    if (NO_NORMAL_FINISH.has(step.status)) canFinish = false;
    issueDone.set(step.issue_id, (issueDone.get(step.issue_id) ?? true) && done);
  }
  for (const { step, estimate, elapsed } of facts) {
    const overdue = elapsed !== null && elapsed > OVERDUE_FACTOR * estimate * speed_ratio;
    if (overdue && awaited.has(step.step_id)) blocking.add(step.issue_id);
  }

  const allDone = facts.every((f) => f.done);
  const completion_percentage = allDone
    ? 100
    : Math.min(99.99, Math.round((doneWeight / totalWeight) * 10_000) / 100);
  const parallelBound = max_parallel === undefined ? 0 : Math.ceil(totalRemaining / max_parallel);
  const remaining_ms = Math.max(longestRemainingPath(facts), parallelBound);
  const etaMs = now_ms + remaining_ms;

  return {
    completion_percentage,
    active_agents: [...active].sort(),
    resolved_issues: [...issueDone].flatMap(([issue, resolved]) => (resolved ? [issue] : [])).sort(),
    blocking_issues: [...blocking].sort(),
    eta_completion:
      canFinish && !allDone && etaMs >= MIN_RFC3339_MS && etaMs <= MAX_RFC3339_MS
        ? new Date(etaMs).toISOString()
        : null,
    remaining_ms,
    speed_ratio,
    counts,
  };
}

/**
 * A finite, non-negative millisecond value rounded to a whole number, or null when unusable.
 * Capped at the end of year 9999 so sums of absurd estimates stay finite.
 */
function wholeMs(value: number | null): number | null {
  if (value === null || !Number.isFinite(value) || value < 0) return null;
  return Math.min(Math.round(value), MAX_RFC3339_MS);
}

function countStatuses(steps: readonly ProgressStep[]): Record<StepStatus, number> {
  const counts = Object.fromEntries(StepStatus.options.map((status) => [status, 0])) as Record<
    StepStatus,
    number
  >;
  for (const step of steps) counts[step.status] += 1;
  return counts;
}

function measureSpeedRatio(steps: readonly ProgressStep[]): number {
  let observed = 0;
  let estimated = 0;
  for (const step of steps) {
    const started = wholeMs(step.started_at_ms);
    const completed = wholeMs(step.completed_at_ms);
    const estimate = wholeMs(step.estimated_duration_ms) ?? 0;
    // Failed or skipped steps did not do the estimated work, a zero estimate has no
    // scale to compare against, and completed < started is a clock glitch.
    if (step.status !== 'SUCCEEDED' || started === null || completed === null) continue;
    if (estimate === 0 || completed < started) continue;
    observed += completed - started;
    estimated += estimate;
  }
  if (estimated === 0) return 1;
  return Math.min(MAX_SPEED_RATIO, Math.max(MIN_SPEED_RATIO, observed / estimated));
}

/**
 * Longest chain of remaining work through the not-done steps (Kahn's algorithm).
 *
 * Each distinct step id gets its own node between its steps and their dependents, so a
 * repeated step id (invalid, but possible in partial data) means "wait for all of them"
 * without multiplying edges. Nodes left over by Kahn sit on or behind a cycle; they keep
 * whatever their ordered predecessors gave them, which keeps the walk linear and the
 * result independent of input order.
 */
function longestRemainingPath(facts: readonly StepFacts[]): number {
  // Nodes 0..n-1 are steps, n.. are step ids; both live in flat arrays for a linear walk.
  const n = facts.length;
  const idNode = new Map<string, number>();
  for (const { step, done } of facts) {
    if (!done && !idNode.has(step.step_id)) idNode.set(step.step_id, n + idNode.size);
  }
  const size = n + idNode.size;
  const successors: number[][] = Array.from({ length: size }, () => []);
  const indegree = new Array<number>(size).fill(0);
  const base = new Array<number>(size).fill(0);
  facts.forEach(({ step, done, remaining }, i) => {
    if (done) return;
    base[i] = remaining;
    const own = idNode.get(step.step_id);
    if (own !== undefined) {
      successors[i]?.push(own);
      indegree[own] = (indegree[own] ?? 0) + 1;
    }
    for (const dep of step.depends_on) {
      // Unknown ids and ids whose steps are all done impose no wait.
      const from = idNode.get(dep);
      if (from === undefined) continue;
      successors[from]?.push(i);
      indegree[i] = (indegree[i] ?? 0) + 1;
    }
  });

  // Done steps have no edges and remaining 0, so starting them too changes nothing.
  const waitedFor = new Array<number>(size).fill(0);
  const queue: number[] = [];
  indegree.forEach((d, node) => {
    if (d === 0) queue.push(node);
  });
  // An array iterator sees elements pushed during the loop, so this drains the queue.
  for (const node of queue) {
    const finish = (waitedFor[node] ?? 0) + (base[node] ?? 0);
    for (const next of successors[node] ?? []) {
      waitedFor[next] = Math.max(waitedFor[next] ?? 0, finish);
      indegree[next] = (indegree[next] ?? 0) - 1;
      if (indegree[next] === 0) queue.push(next);
    }
  }

  let longest = 0;
  for (let i = 0; i < n; i += 1) longest = Math.max(longest, (waitedFor[i] ?? 0) + (base[i] ?? 0));
  return longest;
}

/**
 * A live event's ETA from the workflow's observed throughput: the time per succeeded step so
 * far (wall time since the run started over steps done, so parallelism counts), times the
 * steps left. Null before the first step succeeds (nothing observed yet) and once all have.
 * GET workflows/{id}/progress gives the fuller estimate (planned durations, agents at work).
 * @example
 * throughputEta('2026-01-01T00:00:00Z', '2026-01-01T00:01:00Z', 2, 6) // '2026-01-01T00:03:00.000Z'
 */
export function throughputEta(
  started_at: string | null,
  now: string,
  succeeded: number,
  total: number,
): string | null {
  if (started_at === null || succeeded <= 0 || succeeded >= total) return null;
  const now_ms = Date.parse(now);
  const elapsed = now_ms - Date.parse(started_at);
  if (!Number.isFinite(elapsed) || elapsed < 0) return null;
  return new Date(now_ms + (elapsed / succeeded) * (total - succeeded)).toISOString();
}
