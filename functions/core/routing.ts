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
  const refused = new Map<string, { reason: UnassignedReason; detail: string }>();
  const candidates = new Map<string, AgentSnapshot[]>();
  for (const issue of issues) {
    if (issue.refused) {
      refused.set(issue.issue_id, issue.refused);
      continue;
    }
    const outcome = eligibleAgents(issue, byCategory);
    if ('reason' in outcome) refused.set(issue.issue_id, outcome);
    else candidates.set(issue.issue_id, outcome.agents);
  }
  propagateBlocking(issues, refused);

  const extraLoad = new Map<string, number>();
  const decisions = new Map<string, RouteDecision>();
  const routingOrder = [...issues].sort(
    (a, b) => b.priority - a.priority || compareIds(a.issue_id, b.issue_id),
  );
  for (const issue of routingOrder) {
    const refusal = refused.get(issue.issue_id);
    if (refusal) {
      decisions.set(issue.issue_id, {
        issue_id: issue.issue_id,
        status: 'UNASSIGNED',
        agent_id: null,
        ...refusal,
      });
      continue;
    }
    const pool = candidates.get(issue.issue_id) ?? [];
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
    decisions.set(issue.issue_id, {
      issue_id: issue.issue_id,
      status: 'ASSIGNED',
      agent_id: chosen.agent.agent_id,
      reason: `best of ${pool.length} eligible for ${issue.category}: score ${round2(chosen.score)}, load ${round2(chosen.load)}`,
    });
  }
  return issues.map((i) => decisions.get(i.issue_id) as RouteDecision);
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
): { agents: AgentSnapshot[] } | { reason: UnassignedReason; detail: string } {
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
function propagateBlocking(
  issues: readonly RoutableIssue[],
  refused: Map<string, { reason: UnassignedReason; detail: string }>,
): void {
  const dependents = new Map<string, string[]>();
  for (const issue of issues) {
    for (const d of issue.depends_on ?? []) {
      const list = dependents.get(d);
      if (list) list.push(issue.issue_id);
      else dependents.set(d, [issue.issue_id]);
    }
  }
  const queue = [...refused.keys()];
  for (let head = 0; head < queue.length; head++) {
    const blocker = queue[head] as string;
    for (const dependent of dependents.get(blocker) ?? []) {
      if (refused.has(dependent)) continue;
      refused.set(dependent, {
        reason: 'BLOCKED_BY_UNASSIGNED',
        detail: `depends on ${blocker}, which is unassigned`,
      });
      queue.push(dependent);
    }
  }
}

function round2(x: number): number {
  return Math.round(x * 100) / 100;
}
