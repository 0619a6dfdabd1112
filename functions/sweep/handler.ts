/**
 * The scheduled sweep (EventBridge `rate(1 minute)`): stale agents, work held by agents that
 * are down, stalled workflows. What it does and why: functions/shared/health-sweep.ts.
 */
import * as z from 'zod';
import { CircuitEnv } from '#shared/circuit-config';
import { documentClient } from '#shared/clients/dynamodb';
import { eventBridge } from '#shared/clients/eventbridge';
import { sfn } from '#shared/clients/sfn';
import { loadConfig, StateMachineEnv, SweepTimingEnv, TableEnv } from '#shared/config';
import { agentHealthPublisher } from '#shared/domain-events';
import { createSweep, reportSweep, type SweepReport } from '#shared/health-sweep';
import { AgentRepository } from '#shared/repository/agents';
import { WorkflowRunRepository } from '#shared/repository/workflow-run';

const config = loadConfig(
  z.object({
    ...TableEnv,
    ...StateMachineEnv,
    ...CircuitEnv,
    ...SweepTimingEnv,
    EVENT_BUS_NAME: z.string().min(1),
  }),
);

const sweep = createSweep({
  agents: new AgentRepository(documentClient, config.TABLE_NAME),
  runs: new WorkflowRunRepository(documentClient, config.TABLE_NAME),
  sfn,
  publish: agentHealthPublisher(eventBridge, config.EVENT_BUS_NAME),
  now: () => new Date(),
  staleMs: config.AGENT_HEARTBEAT_STALE_SECONDS * 1000,
  stalledMs: config.STALLED_AFTER_SECONDS * 1000,
  circuit: config.CIRCUIT_BREAKER,
});

export const handler = async (): Promise<SweepReport> => {
  const report = await sweep();
  reportSweep(report);
  return report;
};
