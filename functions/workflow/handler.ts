/**
 * The recovery state machine's Tasks (statemachines/recovery.asl.json): one Lambda, one
 * operation per Task, chosen by the payload's `op` (see workflow-engine.ts). Errors keep
 * their `name`, which Step Functions reports as the error the ASL's Retry and Catch match.
 */
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import * as z from 'zod';
import { CircuitEnv } from '#shared/circuit-config';
import { documentClient } from '#shared/clients/dynamodb';
import { eventBridge } from '#shared/clients/eventbridge';
import { sfn } from '#shared/clients/sfn';
import { sqs } from '#shared/clients/sqs';
import { loadConfig, TableEnv } from '#shared/config';
import { eventBridgePublisher } from '#shared/domain-events';
import { logger, metrics } from '#shared/powertools';
import { AgentRepository } from '#shared/repository/agents';
import { WorkflowTransitions } from '#shared/repository/workflow-transitions';
import { createWorkflowEngine, WorkflowOp, type WorkflowOpResult } from '#shared/workflow-engine';

const config = loadConfig(
  z.object({
    ...TableEnv,
    ...CircuitEnv,
    /** JSON: agent_id or agent_type -> agent queue URL. */
    AGENT_QUEUE_URLS: z.string().transform((text) => z.record(z.string(), z.url()).parse(JSON.parse(text))),
    COMPENSATION_DLQ_URL: z.url(),
    /** The bus the domain events go to (the progress stream listens there). */
    EVENT_BUS_NAME: z.string().min(1),
  }),
);

const run = createWorkflowEngine({
  runs: new WorkflowTransitions(documentClient, config.TABLE_NAME),
  agents: new AgentRepository(documentClient, config.TABLE_NAME),
  sfn,
  sqs,
  agentQueues: config.AGENT_QUEUE_URLS,
  compensationDlqUrl: config.COMPENSATION_DLQ_URL,
  events: eventBridgePublisher(eventBridge, config.EVENT_BUS_NAME),
  circuit: config.CIRCUIT_BREAKER,
  now: () => new Date(),
});

/** `Workflows<Outcome>` counts, by the status a workflow ends in (the dashboard's outcomes). */
const OUTCOME_METRICS: Readonly<Record<string, string>> = {
  SUCCEEDED: 'WorkflowsSucceeded',
  ROLLED_BACK: 'WorkflowsRolledBack',
  ROLLBACK_FAILED: 'WorkflowsRollbackFailed',
  FAILED: 'WorkflowsFailed',
  CANCELLED: 'WorkflowsCancelled',
};

export const handler = async (event: unknown): Promise<WorkflowOpResult> => {
  const op = WorkflowOp.parse(event);
  logger.appendKeys({
    workflow_id: op.workflow_id,
    op: op.op,
    ...('step_id' in op ? { step_id: op.step_id } : {}),
  });
  const started = performance.now();
  try {
    const result = await run(op);
    const outcome = op.op === 'finish' && 'status' in result ? OUTCOME_METRICS[result.status] : undefined;
    if (outcome) metrics.addMetric(outcome, MetricUnit.Count, 1);
    return result;
  } catch (error) {
    logger.error('workflow task failed', { error });
    throw error;
  } finally {
    // The orchestration layer's own time per Task: what a step costs beyond the agent's work.
    metrics.addMetric('OrchestrationOverhead', MetricUnit.Milliseconds, performance.now() - started);
    metrics.publishStoredMetrics();
    logger.resetKeys();
  }
};
