/**
 * Routing: every issue to the best capable agent, deterministically.
 *
 * Eligible agents serve the issue's category, hold all its `required_capabilities`,
 * are HEALTHY or DEGRADED, and their circuit is not OPEN. Among them the router
 * maximises
 *
 *   score = 100 x success_rate - 30 x load_ratio - 20 [DEGRADED] - 25 [HALF_OPEN]
 *
 * where load_ratio = (current_load + issues given to it earlier in this batch) /
 * max_concurrency. Issues are routed highest priority first, so the most urgent get
 * the least loaded agents. Ties: lower load_ratio, then agent_id (code-unit order).
 *
 * An issue nobody can take is UNASSIGNED with the most specific reason:
 * NO_CAPABLE_AGENT (no agent serves it), NO_HEALTHY_AGENT (those that do are down),
 * ALL_CIRCUITS_OPEN (up, but their circuits are open). Dependents of an unassigned
 * issue are UNASSIGNED too (BLOCKED_BY_UNASSIGNED): they could not run anyway.
 */
import { compareIds } from './priority';
import type { AgentSnapshot, Category, UnassignedReason } from './wire';

export interface RoutableIssue {
  readonly issue_id: string;
  readonly category: Category | null;
  readonly priority: number;
  readonly depends_on?: readonly string[] | undefined;
  readonly required_capabilities?: readonly string[] | undefined;
  /** Set when triage already refused it, e.g. LOW_CONFIDENCE. */
  readonly refused?: { readonly reason: UnassignedReason; readonly detail: string } | undefined;
}

export type RouteDecision =
  | {
      readonly issue_id: string;
      readonly status: 'ASSIGNED';
      readonly agent_id: string;
      readonly reason: string;
    }
  | {
      readonly issue_id: string;
      readonly status: 'UNASSIGNED';
      readonly agent_id: null;
      readonly reason: UnassignedReason;
      readonly detail: string;
    };

/**
 * Routes a batch. `issues` must already be checked for cycles (see graph.ts);
 * dependencies outside the batch are ignored here.
 * @returns one decision per issue, in input order.
 * @example
 * routeIssues([{ issue_id: 'i1', category: 'network', priority: 50 }],
 *             [{ agent_id: 'net-1', categories: ['network'], max_concurrency: 2, status: 'HEALTHY', circuit_state: 'CLOSED', current_load: 0 }])
 * // [{ issue_id: 'i1', status: 'ASSIGNED', agent_id: 'net-1', reason: '...' }]
 */
export function routeIssues(
  issues: readonly RoutableIssue[],
  agents: readonly AgentSnapshot[],
): RouteDecision[] {
  const byCategory = new Map<Category, AgentSnapshot[]>();
  for (const agent of [...agents].sort((a, b) => compareIds(a.agent_id, b.agent_id))) {
    for (const c of new Set(agent.categories)) {
      const list = byCategory.get(c);
      if (list) list.push(agent);
      else byCategory.set(c, [agent]);
    }
  }

  // Static refusals first, so that blocking can propagate before load balancing.
  // Issues are tracked by position; eligibility depends only on (category, capabilities).
  const refused: (Refusal | undefined)[] = new Array(issues.length);
  const candidates: (readonly AgentSnapshot[] | undefined)[] = new Array(issues.length);
  const eligibility = new Map<string, { agents: AgentSnapshot[] } | Refusal>();
  issues.forEach((issue, k) => {
    if (issue.refused) {
      refused[k] = issue.refused;
      return;
    }
    const key = `${issue.category}|${(issue.required_capabilities ?? []).join(',')}`;
    let outcome = eligibility.get(key);
    if (!outcome) {
      outcome = eligibleAgents(issue, byCategory);
      eligibility.set(key, outcome);
    }
    if ('reason' in outcome) refused[k] = outcome;
    else candidates[k] = outcome.agents;
  });
  propagateBlocking(issues, refused);

  const extraLoad = new Map<string, number>();
  const decisions: RouteDecision[] = new Array(issues.length);
  const routingOrder = issues
    .map((_, k) => k)
    .sort(
      (a, b) =>
        (issues[b] as RoutableIssue).priority - (issues[a] as RoutableIssue).priority ||
        compareIds((issues[a] as RoutableIssue).issue_id, (issues[b] as RoutableIssue).issue_id),
    );
  for (const k of routingOrder) {
    const issue = issues[k] as RoutableIssue;
    const refusal = refused[k];
    if (refusal) {
      decisions[k] = { issue_id: issue.issue_id, status: 'UNASSIGNED', agent_id: null, ...refusal };
      continue;
    }
    const pool = candidates[k] ?? [];
    let best: { agent: AgentSnapshot; score: number; load: number } | undefined;
    for (const agent of pool) {
      const load = (agent.current_load + (extraLoad.get(agent.agent_id) ?? 0)) / agent.max_concurrency;
      const score = scoreAgent(agent, load);
      // pool is sorted by agent_id, so keeping the first of equals breaks the last tie.
      if (!best || score > best.score || (score === best.score && load < best.load))
        best = { agent, score, load };
    }
    // eligibleAgents never returns an empty list without a reason.
    const chosen = best as { agent: AgentSnapshot; score: number; load: number };
    extraLoad.set(chosen.agent.agent_id, (extraLoad.get(chosen.agent.agent_id) ?? 0) + 1);
    decisions[k] = {
      issue_id: issue.issue_id,
      status: 'ASSIGNED',
      agent_id: chosen.agent.agent_id,
      reason: `best of ${pool.length} eligible for ${issue.category}: score ${round2(chosen.score)}, load ${round2(chosen.load)}`,
    };
  }
  return decisions;
}

interface Refusal {
  readonly reason: UnassignedReason;
  readonly detail: string;
}

function scoreAgent(agent: AgentSnapshot, loadRatio: number): number {
  return (
    100 * (agent.success_rate ?? 1) -
    30 * loadRatio -
    (agent.status === 'DEGRADED' ? 20 : 0) -
    (agent.circuit_state === 'HALF_OPEN' ? 25 : 0)
  );
}

function eligibleAgents(
  issue: RoutableIssue,
  byCategory: ReadonlyMap<Category, readonly AgentSnapshot[]>,
): { agents: AgentSnapshot[] } | Refusal {
  if (!issue.category) return { reason: 'LOW_CONFIDENCE', detail: 'no category could be inferred' };
  const needs = issue.required_capabilities ?? [];
  const capable = (byCategory.get(issue.category) ?? []).filter((a) =>
    needs.every((c) => a.capabilities?.includes(c)),
  );
  const what = needs.length > 0 ? `${issue.category} with ${needs.join(', ')}` : issue.category;
  if (capable.length === 0)
    return { reason: 'NO_CAPABLE_AGENT', detail: `no registered agent serves ${what}` };
  const up = capable.filter((a) => a.status === 'HEALTHY' || a.status === 'DEGRADED');
  if (up.length === 0)
    return { reason: 'NO_HEALTHY_AGENT', detail: `${capable.length} agent(s) serve ${what}, none healthy` };
  const closed = up.filter((a) => a.circuit_state !== 'OPEN');
  if (closed.length === 0)
    return {
      reason: 'ALL_CIRCUITS_OPEN',
      detail: `${up.length} healthy agent(s) serve ${what}, all circuits open`,
    };
  return { agents: closed };
}

/** Marks dependents of refused issues as blocked, transitively (breadth-first). */
function propagateBlocking(issues: readonly RoutableIssue[], refused: (Refusal | undefined)[]): void {
  const position = new Map(issues.map((issue, k) => [issue.issue_id, k]));
  const dependents: number[][] = issues.map(() => []);
  issues.forEach((issue, k) => {
    for (const d of issue.depends_on ?? []) {
      const j = position.get(d);
      if (j !== undefined) dependents[j]?.push(k);
    }
  });
  const queue: number[] = [];
  refused.forEach((r, k) => {
    if (r) queue.push(k);
  });
  for (let head = 0; head < queue.length; head++) {
    const blocker = queue[head] as number;
    for (const k of dependents[blocker] ?? []) {
      if (refused[k]) continue;
      refused[k] = {
        reason: 'BLOCKED_BY_UNASSIGNED',
        detail: `depends on ${(issues[blocker] as RoutableIssue).issue_id}, which is unassigned`,
      };
      queue.push(k);
    }
  }
}

function round2(x: number): number {
  return Math.round(x * 100) / 100;
}
