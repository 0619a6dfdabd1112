/**
 * POST api/orchestrator/resources/optimize: plan the given recovery plan, or, without
 * one, the pending backlog of every committed workflow, under the given constraints
 * (which replace the plan's own when both are given).
 */
import * as z from 'zod';
import { optimizeResources } from '#core/triage';
import type { OptimizeRequest } from '#core/wire';
import { documentClient } from '#shared/clients/dynamodb';
import { loadConfig, TableEnv } from '#shared/config';
import { httpHandler, routeById } from '#shared/http';
import { logger } from '#shared/powertools';
import { AgentSnapshotReader } from '#shared/repository/agent-snapshots';
import { backlogPlan, WorkflowRepository } from '#shared/repository/workflows';

const config = loadConfig(z.object(TableEnv));
const agents = new AgentSnapshotReader(documentClient, config.TABLE_NAME);
const workflows = new WorkflowRepository(documentClient, config.TABLE_NAME);

export const handler = httpHandler<OptimizeRequest>(routeById('optimizeResources'), async ({ body }) => {
  const agentList = await agents.listSnapshots();
  const { recovery_plan, constraints } = body;
  if (recovery_plan) {
    const plan = { ...recovery_plan, constraints: constraints ?? recovery_plan.constraints };
    return { body: optimizeResources(plan, agentList, { now_ms: Date.now() }) };
  }
  const { entries, truncated } = await workflows.listBacklog();
  if (truncated)
    logger.warn('the backlog is larger than one plan; planning the oldest part', { planned: entries.length });
  const allocation = optimizeResources(backlogPlan(entries, agentList, constraints), agentList, {
    now_ms: Date.now(),
  });
  return { body: allocation, headers: truncated ? { 'x-backlog-truncated': 'true' } : undefined };
});
