/**
 * POST api/orchestrator/issues: triage, route and store a batch as a workflow, then start its
 * run (the recovery execution named by the workflow id). Idempotent per caller and
 * Idempotency-Key; the workflow id derives from both, so a retry after a crash rewrites the
 * same items (see repository/workflows.ts), and one that finds the workflow stored but not
 * started starts it. A batch with no assigned issue has no steps and no execution.
 */
import * as z from 'zod';
import { triageIssues } from '#core/triage';
import type { IntakeAccepted, IssueTriageRequest } from '#core/wire';
import { MAX_WORKFLOW_STEPS } from '#core/workflow';
import { backlogGateFromEnv } from '#shared/backpressure';
import { documentClient, dynamodb } from '#shared/clients/dynamodb';
import { sfn } from '#shared/clients/sfn';
import { BacklogEnv, loadConfig, StateMachineEnv, TableEnv } from '#shared/config';
import { PlanTooLargeError } from '#shared/errors';
import { executionArn } from '#shared/executions';
import { httpHandler, requirePrincipal } from '#shared/http';
import { idempotentRequests } from '#shared/idempotency';
import { recordTriage } from '#shared/powertools';
import { AgentSnapshotReader } from '#shared/repository/agent-snapshots';
import { WorkflowRunRepository } from '#shared/repository/workflow-run';
import { WorkflowRepository, workflowIdFor } from '#shared/repository/workflows';
import { IDEMPOTENCY_HEADER } from '#shared/request-rules';
import { submitIssuesRoute } from '#shared/routes';
import { createWorkflowControl } from '#shared/workflow-control';

const config = loadConfig(z.object({ ...TableEnv, ...StateMachineEnv, ...BacklogEnv }));
const { TABLE_NAME, STATE_MACHINE_ARN } = config;
const agents = new AgentSnapshotReader(documentClient, TABLE_NAME);
const workflows = new WorkflowRepository(documentClient, TABLE_NAME);
const runs = new WorkflowRunRepository(documentClient, TABLE_NAME);
const backlog = backlogGateFromEnv(config, workflows);
const control = createWorkflowControl({
  runs,
  db: documentClient,
  tableName: TABLE_NAME,
  sfn,
  stateMachineArn: STATE_MACHINE_ARN,
  now: () => new Date(),
});

const replay = workflows.intakeReplay();
const idempotency = idempotentRequests({
  tableName: TABLE_NAME,
  name: 'intake',
  client: dynamodb,
  compact: replay.compact,
  // A stored answer means the first request started the run, when there was one to start.
  expand: async (stored) => {
    const expanded = await replay.expand(stored);
    return { ...expanded, body: withRunArn(expanded.body as IntakeAccepted) };
  },
});

/** The run's ARN follows from its name; fills it in where the stored META lacks it. */
function withRunArn(accepted: IntakeAccepted): IntakeAccepted {
  if (accepted.execution_arn !== null || Object.keys(accepted.assignment.assigned_agents).length === 0)
    return accepted;
  return { ...accepted, execution_arn: executionArn(STATE_MACHINE_ARN, accepted.workflow_id) };
}

export const handler = httpHandler<IssueTriageRequest>(
  submitIssuesRoute,
  async (request) => {
    const { sub } = requirePrincipal(request);
    const workflow_id = workflowIdFor(sub, String(request.headers[IDEMPOTENCY_HEADER]));
    const agentList = await agents.listSnapshots();
    const started = performance.now();
    const outcome = triageIssues(request.body, agentList, { now_ms: Date.now() });
    const { assignment, allocation } = outcome;
    recordTriage(assignment, performance.now() - started);
    if (allocation.steps.length > MAX_WORKFLOW_STEPS)
      throw new PlanTooLargeError(allocation.steps.length, MAX_WORKFLOW_STEPS);
    const input = {
      workflow_id,
      request: request.body,
      outcome,
      caller: sub,
      created_at: new Date().toISOString(),
    };
    // Last check before the first write; a replay never gets here (see backpressure.ts).
    await backlog.admit(() => workflows.workflowExists(workflow_id));
    if ((await workflows.createWorkflow(input)) === 'EXISTS') {
      const run = await control.ensureRun(await runs.meta(workflow_id));
      const stored = await workflows.getIntakeAccepted(workflow_id);
      return { body: { ...stored, ...run } satisfies IntakeAccepted };
    }
    if (allocation.steps.length === 0) {
      const accepted: IntakeAccepted = { workflow_id, execution_arn: null, status: 'PENDING', assignment };
      return { body: accepted };
    }
    const run = await control.startRun(workflow_id);
    return { body: { workflow_id, ...run, assignment } satisfies IntakeAccepted };
  },
  { idempotency },
);
