/**
 * POST api/orchestrator/issues: triage, route and store a batch as a PENDING workflow.
 * Idempotent per caller and Idempotency-Key; the workflow id derives from both, so a
 * retry after a crash rewrites the same items (see repository/workflows.ts).
 */
import * as z from 'zod';
import { triageIssues } from '#core/triage';
import type { IntakeAccepted, IssueTriageRequest } from '#core/wire';
import { documentClient, dynamodb } from '#shared/clients';
import { loadConfig, TableEnv } from '#shared/config';
import { httpHandler, requirePrincipal, routeById } from '#shared/http';
import { idempotentRequests } from '#shared/idempotency';
import { recordTriage } from '#shared/powertools';
import { AgentRepository } from '#shared/repository/agents';
import { WorkflowRepository, workflowIdFor } from '#shared/repository/workflows';
import { IDEMPOTENCY_HEADER } from '#shared/request-rules';

const { TABLE_NAME } = loadConfig(z.object(TableEnv));
const agents = new AgentRepository(documentClient, TABLE_NAME);
const workflows = new WorkflowRepository(documentClient, TABLE_NAME);
const replay = workflows.intakeReplay();
const idempotency = idempotentRequests({
  tableName: TABLE_NAME,
  name: 'intake',
  client: dynamodb,
  ...replay,
});

export const handler = httpHandler<IssueTriageRequest>(
  routeById('submitIssues'),
  async (request) => {
    const { sub } = requirePrincipal(request);
    const workflow_id = workflowIdFor(sub, String(request.headers[IDEMPOTENCY_HEADER]));
    const agentList = await agents.listSnapshots();
    const started = performance.now();
    const outcome = triageIssues(request.body, agentList, { now_ms: Date.now() });
    const { assignment } = outcome;
    recordTriage(assignment, performance.now() - started);
    const input = {
      workflow_id,
      request: request.body,
      outcome,
      caller: sub,
      created_at: new Date().toISOString(),
    };
    if ((await workflows.createWorkflow(input)) === 'EXISTS')
      return { body: await workflows.getIntakeAccepted(workflow_id) };
    const accepted: IntakeAccepted = { workflow_id, execution_arn: null, status: 'PENDING', assignment };
    return { body: accepted };
  },
  { idempotency },
);
