/**
 * Agent health and what it means for work in flight: which agents the sweep marks
 * UNHEALTHY, where a step goes when its agent cannot take it (the re-routing rule), and
 * the order a wave's steps start in (dynamic re-prioritization).
 *
 * The re-routing rule, applied every time a step is dispatched:
 *
 * 1. The assigned agent is HEALTHY or DEGRADED and its circuit admits the request
 *    (CLOSED, or a HALF_OPEN probe slot): the step goes to it.
 * 2. Otherwise an **idempotent** step goes to the best other agent that serves its category,
 *    is HEALTHY or DEGRADED and whose circuit admits it. Running an idempotent step twice is
 *    safe by definition, so a copy still held by the failed agent does no harm.
 * 3. Otherwise the step cannot go anywhere. If its agent is UNHEALTHY or OFFLINE it fails
 *    with `Agent.Unavailable`, which the workflow does not retry: the workflow rolls back.
 *    If the agent is up but its circuit refuses, it fails with `Agent.CircuitOpen`, which the
 *    workflow retries with backoff until the circuit half-opens, then rolls back.
 *
 * A non-idempotent step never moves: a second agent could apply the same change twice.
 * Agents with no registry record (a static catalog) are not judged: the step goes to them.
 */
import {
  type CircuitBreakerConfig,
  type CircuitBreakerState,
  canDispatch,
  closedCircuit,
  DEFAULT_CIRCUIT_CONFIG,
} from './circuit-breaker';
import { buildDependencyGraph, transitiveDependentCounts } from './graph';
import { compareIds, scorePriority } from './priority';
import type { AgentHealth, Category, Issue } from './wire';

// ---------------------------------------------------------------- heartbeats

/** Statuses that still take work. */
export const SERVING: ReadonlySet<AgentHealth> = new Set(['HEALTHY', 'DEGRADED']);

/**
 * What the sweep makes of an agent's heartbeat:
 * - `UNMONITORED`: it never sent one. Heartbeats are opt-in (a Lambda consumer has nothing to
 *   send them from), so silence from an agent that never spoke proves nothing; its circuit
 *   still judges it by its answers.
 * - `STALE`: it serves work, but its last heartbeat is `stale_ms` old or older: mark it UNHEALTHY.
 * - `FRESH`: anything else, including an agent already marked down.
 * @example
 * heartbeatVerdict({ status: 'HEALTHY', last_heartbeat_at: '2026-01-01T00:00:00Z' }, Date.parse('2026-01-01T00:02:00Z'), 90_000) // 'STALE'
 */
export function heartbeatVerdict(
  agent: { readonly status: AgentHealth; readonly last_heartbeat_at: string | null },
  now_ms: number,
  stale_ms: number,
): 'FRESH' | 'STALE' | 'UNMONITORED' {
  if (agent.last_heartbeat_at === null) return 'UNMONITORED';
  if (!SERVING.has(agent.status)) return 'FRESH';
  return now_ms - Date.parse(agent.last_heartbeat_at) >= stale_ms ? 'STALE' : 'FRESH';
}

// ---------------------------------------------------------------- re-routing

/** An agent as the dispatcher judges it. */
export interface DispatchAgent {
  readonly agent_id: string;
  readonly agent_type?: string | undefined;
  readonly categories: readonly Category[];
  readonly capabilities?: readonly string[] | undefined;
  readonly status: AgentHealth;
  readonly circuit?: CircuitBreakerState | undefined;
  readonly current_load: number;
  readonly max_concurrency: number;
}

export interface DispatchStep {
  readonly agent_id: string;
  readonly category: Category | null;
  readonly idempotent: boolean;
  readonly required_capabilities?: readonly string[] | undefined;
}

export type DispatchDecision =
  /** Send to `agent_id`; persist `circuit` over `read` first when its version moved. */
  | {
      readonly kind: 'send';
      readonly agent_id: string;
      /** The circuit as stored, which the decision was made from. */
      readonly read: CircuitBreakerState | undefined;
      readonly circuit: CircuitBreakerState | undefined;
      readonly rerouted_from: string | null;
    }
  | {
      readonly kind: 'refuse';
      readonly error: 'Agent.Unavailable' | 'Agent.CircuitOpen';
      readonly reason: string;
    };

/**
 * The re-routing rule (see the file comment) for one dispatch.
 * @param assigned the step's agent as stored, or undefined when it has no registry record.
 * @param others every other registered agent; only consulted for an idempotent step.
 * @example
 * decideDispatch(step, agents.get(step.agent_id), [...agents.values()], Date.now())
 * // { kind: 'send', agent_id: 'net-2', rerouted_from: 'net-1', circuit: {...} }
 */
export function decideDispatch(
  step: DispatchStep,
  assigned: DispatchAgent | undefined,
  others: readonly DispatchAgent[],
  now_ms: number,
  config: CircuitBreakerConfig = DEFAULT_CIRCUIT_CONFIG,
): DispatchDecision {
  if (!assigned)
    return {
      kind: 'send',
      agent_id: step.agent_id,
      read: undefined,
      circuit: undefined,
      rerouted_from: null,
    };
  const own = admit(assigned, now_ms, config);
  if (own)
    return {
      kind: 'send',
      agent_id: assigned.agent_id,
      read: assigned.circuit,
      circuit: own,
      rerouted_from: null,
    };
  if (step.idempotent) {
    for (const candidate of rankAlternatives(step, others, now_ms, config)) {
      const circuit = admit(candidate, now_ms, config);
      if (circuit)
        return {
          kind: 'send',
          agent_id: candidate.agent_id,
          read: candidate.circuit,
          circuit,
          rerouted_from: assigned.agent_id,
        };
    }
  }
  const where = step.idempotent
    ? ' and no other capable agent can take it'
    : ' and the step is not idempotent';
  if (!SERVING.has(assigned.status))
    return {
      kind: 'refuse',
      error: 'Agent.Unavailable',
      reason: `agent ${assigned.agent_id} is ${assigned.status}${where}`,
    };
  return {
    kind: 'refuse',
    error: 'Agent.CircuitOpen',
    reason: `the circuit of agent ${assigned.agent_id} is ${assigned.circuit?.state ?? 'CLOSED'} and refuses the step${where}`,
  };
}

/** The circuit to persist when `agent` may take a request now, else undefined. */
function admit(
  agent: DispatchAgent,
  now_ms: number,
  config: CircuitBreakerConfig,
): CircuitBreakerState | undefined {
  if (!SERVING.has(agent.status)) return undefined;
  const verdict = canDispatch(agent.circuit ?? closedCircuit(), now_ms, config);
  return verdict.allowed ? verdict.state : undefined;
}

/**
 * Other agents that could take the step, best first: serving its category with every
 * required capability; CLOSED circuits before HALF_OPEN ones, then the lower load ratio,
 * then agent_id. Agents that are down or whose circuit is open are left out.
 */
export function rankAlternatives(
  step: DispatchStep,
  agents: readonly DispatchAgent[],
  now_ms: number,
  config: CircuitBreakerConfig = DEFAULT_CIRCUIT_CONFIG,
): DispatchAgent[] {
  const needs = step.required_capabilities ?? [];
  const halfOpen = (a: DispatchAgent) => (a.circuit && a.circuit.state !== 'CLOSED' ? 1 : 0);
  const load = (a: DispatchAgent) => a.current_load / Math.max(1, a.max_concurrency);
  return agents
    .filter(
      (a) =>
        a.agent_id !== step.agent_id &&
        step.category !== null &&
        a.categories.includes(step.category) &&
        needs.every((c) => a.capabilities?.includes(c)) &&
        admit(a, now_ms, config) !== undefined,
    )
    .sort((a, b) => halfOpen(a) - halfOpen(b) || load(a) - load(b) || compareIds(a.agent_id, b.agent_id));
}

// ---------------------------------------------------------------- wave order

export interface WaveStep {
  readonly step_id: string;
  readonly issue_id: string;
  readonly agent_id: string;
  readonly depends_on: readonly string[];
  readonly status: string;
}

export interface WaveContext {
  readonly now_ms: number;
  /** Issue details by issue_id (severity, impact with `sla_deadline`, detected_at). */
  readonly issues: ReadonlyMap<string, Pick<Issue, 'severity' | 'impact' | 'detected_at'>>;
  /** Agents that cannot take work now (down, or circuit open): their steps need re-routing. */
  readonly failing_agents: ReadonlySet<string>;
}

/**
 * Dynamic re-prioritization: the order a wave's steps start in, scored when the wave
 * starts rather than when the plan was made. It matters when the wave has more steps than
 * its concurrency. Each step is scored with the core priority ({@link scorePriority}):
 * - fan-out counts only the workflow's steps still open, so a blocker resolved in an earlier
 *   wave (and the dependents it released) changes the score;
 * - SLA urgency is computed at `now_ms`, so a deadline drawing near moves a step up;
 * - a step whose agent is failing gets the re-route bonus, so it is dispatched (and moved to
 *   another agent, or refused) while the healthy work waits behind it, instead of holding a
 *   slot at the end of the wave.
 * Ties keep the plan's order (step_id as the last resort), so an unchanged situation gives
 * the planned order.
 * @returns the wave's step ids, highest priority first, with each step's score.
 * @example
 * orderWave(['b', 'a'], steps, { now_ms, issues, failing_agents: new Set() }).order // ['a', 'b']
 */
export function orderWave(
  wave: readonly string[],
  steps: readonly WaveStep[],
  context: WaveContext,
): { order: string[]; scores: Map<string, number> } {
  const open = steps.filter((s) => s.status !== 'SUCCEEDED' && s.status !== 'SKIPPED');
  const openIds = new Set(open.map((s) => s.step_id));
  const graph = buildDependencyGraph(
    open.map((s) => ({ id: s.step_id, depends_on: s.depends_on.filter((d) => openIds.has(d)) })),
  );
  const dependents = transitiveDependentCounts(graph);
  const blocked = new Map(open.map((s, k) => [s.step_id, dependents[k] ?? 0]));
  const byId = new Map(steps.map((s) => [s.step_id, s]));
  const scores = new Map<string, number>();
  for (const id of wave) {
    const step = byId.get(id);
    const issue = step ? context.issues.get(step.issue_id) : undefined;
    scores.set(
      id,
      scorePriority(issue ?? { severity: 'medium' }, {
        now_ms: context.now_ms,
        blocked_count: blocked.get(id) ?? 0,
        needs_reroute: step !== undefined && context.failing_agents.has(step.agent_id),
      }).total,
    );
  }
  const planned = new Map(wave.map((id, k) => [id, k]));
  const order = [...wave].sort(
    (a, b) =>
      (scores.get(b) as number) - (scores.get(a) as number) ||
      (planned.get(a) as number) - (planned.get(b) as number),
  );
  return { order, scores };
}
