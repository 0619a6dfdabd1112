/**
 * Priority scoring and dynamic re-prioritization.
 *
 * priority = severity + users + services + revenue + fan-out + age + SLA + ready + reroute
 *
 * | part       | points  | saturates at                         |
 * |------------|---------|--------------------------------------|
 * | severity   | 40/28/16/6 | critical/high/medium/low          |
 * | users      | 0..15   | 1,000,000 users (log10)              |
 * | services   | 0..10   | 31 services (log2)                   |
 * | revenue    | 0..5    | 1,000,000 per hour (log10)           |
 * | fan-out    | 0..15   | 63 open issues blocked (log2)        |
 * | age        | 0..5    | 24 h since detection (linear)        |
 * | SLA        | 0..15   | deadline reached; ramps over 4 h     |
 * | ready      | 0 or 5  | every blocker resolved               |
 * | reroute    | 0 or 5  | its agent failed; it must move       |
 *
 * Logarithms, because the tenth affected service matters less than the second.
 * Severity dominates on purpose: impact alone (max 30) cannot lift a `low` issue above
 * an otherwise empty `critical` one (40 vs 6 + 30 = 36), but fan-out and a breached SLA can.
 */
import { buildDependencyGraph, transitiveDependentCounts } from './graph';
import type { Issue, Severity } from './wire';

export const SEVERITY_POINTS: Readonly<Record<Severity, number>> = {
  critical: 40,
  high: 28,
  medium: 16,
  low: 6,
};
export const SLA_RAMP_MS = 4 * 60 * 60 * 1000;
const AGE_SATURATION_MS = 24 * 60 * 60 * 1000;

export interface PriorityContext {
  readonly now_ms: number;
  /** Open (unresolved) issues that depend on this one, directly or transitively. */
  readonly blocked_count: number;
  /** True once every issue this one depends on is resolved (and it had some). */
  readonly ready?: boolean;
  /** True when the agent it was routed to has failed and it needs another. */
  readonly needs_reroute?: boolean;
}

export interface PriorityBreakdown {
  readonly total: number;
  readonly parts: Readonly<Record<string, number>>;
}

type ScoredFields = Pick<Issue, 'severity' | 'impact' | 'detected_at'>;

/**
 * Scores one issue; higher runs first.
 * @example scorePriority({ severity: 'critical' }, { now_ms: 0, blocked_count: 0 }).total // 40
 */
export function scorePriority(issue: ScoredFields, ctx: PriorityContext): PriorityBreakdown {
  const impact = issue.impact ?? {};
  const parts: Record<string, number> = {
    severity: SEVERITY_POINTS[issue.severity],
    users: 15 * saturate(Math.log10(1 + (impact.users_affected ?? 0)) / 6),
    services: 10 * saturate(Math.log2(1 + (impact.services_affected ?? 0)) / 5),
    revenue: 5 * saturate(Math.log10(1 + (impact.revenue_per_hour ?? 0)) / 6),
    fan_out: 15 * saturate(Math.log2(1 + ctx.blocked_count) / 6),
    age: issue.detected_at
      ? 5 * saturate((ctx.now_ms - Date.parse(issue.detected_at)) / AGE_SATURATION_MS)
      : 0,
    sla: impact.sla_deadline
      ? 15 * saturate(1 - (Date.parse(impact.sla_deadline) - ctx.now_ms) / SLA_RAMP_MS)
      : 0,
    ready: ctx.ready ? 5 : 0,
    reroute: ctx.needs_reroute ? 5 : 0,
  };
  let total = 0;
  for (const key of Object.keys(parts)) {
    parts[key] = round2(parts[key] as number);
    total += parts[key] as number;
  }
  return { total: round2(total), parts };
}

/** Things that change priorities while a recovery runs. */
export type RescoreEvent =
  | { readonly type: 'blocker_resolved'; readonly issue_id: string }
  | { readonly type: 'agent_failed'; readonly agent_id: string }
  | { readonly type: 'sla_near'; readonly now_ms: number };

export interface PendingIssue extends ScoredFields {
  readonly issue_id: string;
  readonly depends_on?: readonly string[] | undefined;
  readonly agent_id?: string | null | undefined;
}

export interface RescoreState {
  readonly now_ms: number;
  readonly resolved: ReadonlySet<string>;
  readonly failed_agents: ReadonlySet<string>;
}

export interface RescoreResult {
  readonly state: RescoreState;
  /** Open issue ids, highest priority first (ties by issue_id). */
  readonly order: readonly string[];
  readonly priorities: ReadonlyMap<string, number>;
  /** Issues whose priority moved, with the old and new score. */
  readonly changed: readonly { issue_id: string; before: number; after: number }[];
}

/**
 * Applies an event and re-scores every open issue, for dynamic re-prioritization:
 * a resolved blocker makes its dependents ready and shrinks fan-outs, a failed agent
 * pushes its issues up for re-routing, and time passing raises SLA urgency.
 * @example
 * const r = rescoreIssues(pending, state, { type: 'agent_failed', agent_id: 'net-1' });
 * r.order[0] // the most urgent open issue now
 */
export function rescoreIssues(
  issues: readonly PendingIssue[],
  state: RescoreState,
  event: RescoreEvent,
): RescoreResult {
  const before = scoreOpenIssues(issues, state);
  const next: RescoreState =
    event.type === 'blocker_resolved'
      ? { ...state, resolved: new Set([...state.resolved, event.issue_id]) }
      : event.type === 'agent_failed'
        ? { ...state, failed_agents: new Set([...state.failed_agents, event.agent_id]) }
        : { ...state, now_ms: Math.max(state.now_ms, event.now_ms) };
  const after = scoreOpenIssues(issues, next);
  const changed = [...after]
    .filter(([id, p]) => before.get(id) !== p)
    .map(([issue_id, p]) => ({ issue_id, before: before.get(issue_id) ?? 0, after: p }));
  const order = [...after.keys()].sort(
    (a, b) => (after.get(b) as number) - (after.get(a) as number) || compareIds(a, b),
  );
  return { state: next, order, priorities: after, changed };
}

function scoreOpenIssues(issues: readonly PendingIssue[], state: RescoreState): Map<string, number> {
  const open = issues.filter((i) => !state.resolved.has(i.issue_id));
  const openIds = new Set(open.map((i) => i.issue_id));
  const blocked = countOpenDependents(open, openIds);
  const scores = new Map<string, number>();
  for (const issue of open) {
    const deps = issue.depends_on ?? [];
    const { total } = scorePriority(issue, {
      now_ms: state.now_ms,
      blocked_count: blocked.get(issue.issue_id) ?? 0,
      ready: deps.length > 0 && deps.every((d) => state.resolved.has(d)),
      needs_reroute: issue.agent_id != null && state.failed_agents.has(issue.agent_id),
    });
    scores.set(issue.issue_id, total);
  }
  return scores;
}

/** Transitive open dependents per open issue; dependencies already resolved drop out. */
function countOpenDependents(
  open: readonly PendingIssue[],
  openIds: ReadonlySet<string>,
): Map<string, number> {
  const graph = buildDependencyGraph(
    open.map((i) => ({ id: i.issue_id, depends_on: (i.depends_on ?? []).filter((d) => openIds.has(d)) })),
  );
  const counts = transitiveDependentCounts(graph);
  return new Map(open.map((i, k) => [i.issue_id, counts[k] as number]));
}

/** Code-unit order, so ordering never depends on the host's locale. */
export function compareIds(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function saturate(x: number): number {
  return Number.isFinite(x) ? Math.min(1, Math.max(0, x)) : 0;
}

function round2(x: number): number {
  return Math.round(x * 100) / 100;
}
