/**
 * The scheduled sweep (functions/sweep): the guard against work that stops without telling
 * anyone. Every run, in this order:
 *
 * 1. **Stale agents.** An agent that heartbeats and has been silent for `staleMs` is marked
 *    UNHEALTHY and its circuit opened, conditionally on the record the sweep read (a heartbeat
 *    that races it wins). Routing stops choosing it; an `agent.unhealthy` event goes to the bus.
 * 2. **Work held by agents that are down** (marked now, or UNHEALTHY / OFFLINE by their own
 *    heartbeat). Each in-flight execute dispatch on such an agent is failed on its task token:
 *    `Agent.Rerouted` for an idempotent step, which the workflow retries at once and the
 *    dispatcher sends to another capable agent; `Agent.Unavailable` for any other step, which
 *    the workflow does not retry, so it rolls back. (The rule: core/health.ts.)
 * 3. **Stalled workflows.** A workflow still at work whose last change is `stalledMs` old is
 *    reported: the `StalledWorkflows` metric (alarmed on) and a WARN log line per workflow.
 *    Nothing is changed: every wait already has a timeout, so a stall means something outside
 *    the workflow's own timers, which a person should look at.
 *
 * Gauges for the dashboard: `UnhealthyAgents`, `OpenCircuits`, `StalledWorkflows`.
 */

import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { SendTaskFailureCommand, type SFNClient } from '@aws-sdk/client-sfn';
import {
  type CircuitBreakerConfig,
  DEFAULT_CIRCUIT_CONFIG,
  effectiveCircuitState,
} from '#core/circuit-breaker';
import { heartbeatVerdict, SERVING } from '#core/health';
import type { AgentHealthEvent } from '#core/wire';
import { logger, metrics } from '#shared/powertools';
import type { AgentRepository } from '#shared/repository/agents';
import { errorName } from '#shared/repository/dynamo-errors';
import type { RunStep, WorkflowRunRepository } from '#shared/repository/workflow-run';

export interface SweepDeps {
  readonly agents: Pick<AgentRepository, 'listWithCircuits' | 'markUnhealthy'>;
  readonly runs: Pick<WorkflowRunRepository, 'listActive' | 'load'>;
  readonly sfn: Pick<SFNClient, 'send'>;
  /** Publishes agent health events; best effort. */
  readonly publish: (events: readonly AgentHealthEvent[]) => Promise<void>;
  readonly now: () => Date;
  /** A heartbeat this old makes an agent UNHEALTHY. */
  readonly staleMs: number;
  /** A workflow at work with no change for this long is reported stalled. */
  readonly stalledMs: number;
  /** @default DEFAULT_CIRCUIT_CONFIG */
  readonly circuit?: CircuitBreakerConfig;
  /** Workflows read per run; the newest first. @default 500 */
  readonly activeLimit?: number;
}

export interface SweepReport {
  readonly marked_unhealthy: readonly string[];
  readonly released: readonly {
    workflow_id: string;
    step_id: string;
    agent_id: string;
    error: 'Agent.Rerouted' | 'Agent.Unavailable';
  }[];
  readonly stalled: readonly { workflow_id: string; status: string; idle_seconds: number }[];
  readonly unhealthy_agents: number;
  readonly open_circuits: number;
}

/** SendTaskFailure answers for a token that is already closed: the step moved on, nothing to do. */
const CLOSED_TOKEN = new Set(['TaskTimedOut', 'TaskDoesNotExist', 'InvalidToken']);

/**
 * @example
 * const sweep = createSweep({ agents, runs, sfn, publish, now: () => new Date(), staleMs: 90_000, stalledMs: 900_000 });
 * const report = await sweep();
 */
export function createSweep(deps: SweepDeps): () => Promise<SweepReport> {
  const config = deps.circuit ?? DEFAULT_CIRCUIT_CONFIG;

  async function release(step: RunStep, token: string) {
    const error = step.idempotent ? ('Agent.Rerouted' as const) : ('Agent.Unavailable' as const);
    const cause = step.idempotent
      ? `agent ${step.agent_id} went down; the step is idempotent and moves to another agent`
      : `agent ${step.agent_id} went down; the step is not idempotent, so the workflow rolls back`;
    try {
      await deps.sfn.send(new SendTaskFailureCommand({ taskToken: token, error, cause }));
      return { workflow_id: step.workflow_id, step_id: step.step_id, agent_id: step.agent_id, error };
    } catch (failure) {
      if (CLOSED_TOKEN.has(errorName(failure) ?? '')) return undefined;
      throw failure;
    }
  }

  return async function sweep(): Promise<SweepReport> {
    const now = deps.now();
    const now_ms = now.getTime();
    const at = now.toISOString();
    const agents = await deps.agents.listWithCircuits();

    const marked: typeof agents = [];
    for (const agent of agents) {
      if (heartbeatVerdict(agent.record, now_ms, deps.staleMs) !== 'STALE') continue;
      if (await deps.agents.markUnhealthy(agent.record, agent.circuit, at)) marked.push(agent);
    }
    const markedIds = new Set(marked.map((a) => a.record.agent_id));
    const down = new Set(
      agents
        .filter((a) => markedIds.has(a.record.agent_id) || !SERVING.has(a.record.status))
        .map((a) => a.record.agent_id),
    );

    const active = await deps.runs.listActive(deps.activeLimit ?? 500);
    const released: SweepReport['released'][number][] = [];
    if (down.size > 0) {
      for (const meta of active.filter((m) => m.status === 'RUNNING')) {
        const { steps } = await deps.runs.load(meta.workflow_id);
        for (const step of steps) {
          const inFlight = step.status === 'DISPATCHED' || step.status === 'RUNNING';
          if (!inFlight || !down.has(step.agent_id) || !step.task_token) continue;
          const done = await release(step, step.task_token);
          if (done) released.push(done);
        }
      }
    }

    const stalled = active
      .map((m) => ({
        workflow_id: m.workflow_id,
        status: m.status,
        idle_seconds: Math.floor((now_ms - Date.parse(m.updated_at)) / 1000),
      }))
      .filter((m) => m.idle_seconds * 1000 >= deps.stalledMs);

    if (marked.length > 0) {
      const perAgent = (id: string) => released.filter((r) => r.agent_id === id).length;
      await deps
        .publish(
          marked.map(({ record }) => ({
            type: 'agent.unhealthy',
            agent_id: record.agent_id,
            status: 'UNHEALTHY',
            circuit_state: 'OPEN',
            last_heartbeat_at: record.last_heartbeat_at,
            steps_released: perAgent(record.agent_id),
            reason: `no heartbeat for ${Math.round(deps.staleMs / 1000)} s or more`,
            at,
          })),
        )
        .catch((error: unknown) => logger.warn('agent health events not published', { error }));
    }

    return {
      marked_unhealthy: [...markedIds],
      released,
      stalled,
      unhealthy_agents: down.size,
      open_circuits: agents.filter(
        (a) =>
          markedIds.has(a.record.agent_id) || effectiveCircuitState(a.circuit, now_ms, config) === 'OPEN',
      ).length,
    };
  };
}

/**
 * Logs what a sweep did and emits its gauges (EMF): `UnhealthyAgents`, `OpenCircuits`,
 * `StalledWorkflows` (alarmed on) and `StepsReleased`.
 */
export function reportSweep(report: SweepReport): void {
  for (const agent_id of report.marked_unhealthy) logger.warn('agent marked UNHEALTHY', { agent_id });
  for (const stalled of report.stalled) logger.warn('workflow stalled', stalled);
  metrics.addMetric('UnhealthyAgents', MetricUnit.Count, report.unhealthy_agents);
  metrics.addMetric('OpenCircuits', MetricUnit.Count, report.open_circuits);
  metrics.addMetric('StalledWorkflows', MetricUnit.Count, report.stalled.length);
  metrics.addMetric('StepsReleased', MetricUnit.Count, report.released.length);
  metrics.publishStoredMetrics();
}
