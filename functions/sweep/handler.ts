/**
 * The scheduled sweep (EventBridge `rate(1 minute)`): stale agents, work held by agents that
 * are down, stalled workflows. What it does and why: functions/shared/health-sweep.ts.
 */

import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { PutEventsCommand } from '@aws-sdk/client-eventbridge';
import * as z from 'zod';
import type { AgentHealthEvent } from '#core/wire';
import { CircuitEnv } from '#shared/circuit-config';
import { documentClient, eventBridge, sfn } from '#shared/clients';
import { loadConfig, StateMachineEnv, SweepTimingEnv, TableEnv } from '#shared/config';
import { DOMAIN_EVENT_SOURCE } from '#shared/domain-events';
import { createSweep, type SweepReport } from '#shared/health-sweep';
import { logger, metrics } from '#shared/powertools';
import { AgentRepository } from '#shared/repository/agents';
import { WorkflowRunRepository } from '#shared/repository/workflow-run';

export const SweepEnv = z.object({
  ...TableEnv,
  ...StateMachineEnv,
  ...CircuitEnv,
  ...SweepTimingEnv,
  EVENT_BUS_NAME: z.string().min(1),
});

const config = loadConfig(SweepEnv);

async function publish(events: readonly AgentHealthEvent[]): Promise<void> {
  if (events.length === 0) return;
  await eventBridge
    .send(
      new PutEventsCommand({
        Entries: events.slice(0, 10).map((event) => ({
          EventBusName: config.EVENT_BUS_NAME,
          Source: DOMAIN_EVENT_SOURCE,
          DetailType: event.type,
          Detail: JSON.stringify(event),
        })),
      }),
    )
    .catch((error: unknown) => logger.warn('agent health events not published', { error }));
}

const sweep = createSweep({
  agents: new AgentRepository(documentClient, config.TABLE_NAME),
  runs: new WorkflowRunRepository(documentClient, config.TABLE_NAME),
  sfn,
  publish,
  now: () => new Date(),
  staleMs: config.AGENT_HEARTBEAT_STALE_SECONDS * 1000,
  stalledMs: config.STALLED_AFTER_SECONDS * 1000,
  circuit: config.CIRCUIT_BREAKER,
});

export const handler = async (): Promise<SweepReport> => {
  const report = await sweep();
  for (const agent_id of report.marked_unhealthy) logger.warn('agent marked UNHEALTHY', { agent_id });
  for (const stalled of report.stalled) logger.warn('workflow stalled', stalled);
  metrics.addMetric('UnhealthyAgents', MetricUnit.Count, report.unhealthy_agents);
  metrics.addMetric('OpenCircuits', MetricUnit.Count, report.open_circuits);
  metrics.addMetric('StalledWorkflows', MetricUnit.Count, report.stalled.length);
  metrics.addMetric('StepsReleased', MetricUnit.Count, report.released.length);
  metrics.publishStoredMetrics();
  return report;
};
