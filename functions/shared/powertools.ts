/**
 * Powertools Logger and Metrics, created once per execution environment and shared by
 * every handler and adapter. The http stack wires them into each request.
 *
 * There is no in-code tracer: Lambda active tracing (infra/constructs/orchestrator-function.ts)
 * records each invocation's segment and the service map. The Powertools Tracer is built on the
 * X-Ray SDK, in maintenance mode since 2026-02-25, and cost every bundle about 110 KB and
 * its share of cold init.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import * as z from 'zod';
import type { AgentAssignmentResult } from '#core/wire';
import { loadConfig, PowertoolsEnv } from '#shared/config';

const env = loadConfig(z.object(PowertoolsEnv));

export const serviceName = env.POWERTOOLS_SERVICE_NAME;

export const logger = new Logger({
  serviceName: env.POWERTOOLS_SERVICE_NAME,
  logLevel: env.LOG_LEVEL,
});

export const metrics = new Metrics({
  namespace: env.POWERTOOLS_METRICS_NAMESPACE,
  serviceName: env.POWERTOOLS_SERVICE_NAME,
});

/**
 * EMF metrics of one triage decision: how long it took and how many issues it placed.
 * @example
 * recordTriage(outcome.assignment, performance.now() - started);
 */
export function recordTriage(assignment: AgentAssignmentResult, latencyMs: number): void {
  metrics.addMetric('DecisionLatency', MetricUnit.Milliseconds, latencyMs);
  metrics.addMetric('IssuesTriaged', MetricUnit.Count, assignment.decisions.length);
  metrics.addMetric('IssuesUnassigned', MetricUnit.Count, assignment.unassigned.length);
}
