/**
 * Workflows: POST workflows (plan a caller's RecoveryWorkflowRequest, store it and start its
 * run), GET workflows (the newest first), GET workflows/{id}, POST workflows/{id}/rollback and
 * POST workflows/{id}/cancel (start a compensating execution; see workflow-control.ts). One
 * function; the router dispatches on the route API Gateway matched.
 */
import * as z from 'zod';
import { optimizeResources } from '#core/triage';
import type {
  CancelRequest,
  RecoveryWorkflowRequest,
  RollbackRequest,
  WorkflowAccepted,
  WorkflowList,
} from '#core/wire';
import { MAX_WORKFLOW_STEPS } from '#core/workflow';
import { backlogGateFromEnv } from '#shared/backpressure';
import { documentClient, dynamodb } from '#shared/clients/dynamodb';
import { sfn } from '#shared/clients/sfn';
import { BacklogEnv, loadConfig, StateMachineEnv, TableEnv } from '#shared/config';
import { PlanTooLargeError, ValidationError } from '#shared/errors';
import { type HttpRequest, httpHandler, httpRouter, requirePrincipal } from '#shared/http';
import { idempotentRequests } from '#shared/idempotency';
import { AgentSnapshotReader } from '#shared/repository/agent-snapshots';
import { WorkflowRunRepository } from '#shared/repository/workflow-run';
import { WorkflowRepository, workflowIdFor } from '#shared/repository/workflows';
import { IDEMPOTENCY_HEADER } from '#shared/request-rules';
import {
  cancelWorkflowRoute,
  getProgressRoute,
  getWorkflowProgressRoute,
  getWorkflowRoute,
  listWorkflowsRoute,
  rollbackWorkflowRoute,
  startWorkflowRoute,
  type WorkflowListQuery,
} from '#shared/routes';
import { createWorkflowControl } from '#shared/workflow-control';
import { systemProgress, workflowDetail, workflowProgress, workflowSummary } from '#shared/workflow-views';

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
/** The 202 answer is small: the record keeps it whole. */
const idempotency = idempotentRequests({
  tableName: TABLE_NAME,
  name: 'workflows',
  client: dynamodb,
  compact: ({ status, body }) => ({ status, body }),
  expand: async (stored) => stored,
});

/** The stack has already checked `{id}` is an Identifier. */
const workflowId = (request: HttpRequest<unknown>) => String(request.pathParameters.id);

/** `progress_state.succeeded_steps` may only name steps of the plan. */
function checkSucceededSteps({ recovery_plan, progress_state }: RecoveryWorkflowRequest): void {
  const stepIds = new Set(recovery_plan.steps.map((s) => s.step_id));
  const details = (progress_state?.succeeded_steps ?? []).flatMap((id, k) =>
    stepIds.has(id)
      ? []
      : [
          {
            path: `progress_state.succeeded_steps[${k}]`,
            message: `${id} is not a step of the plan`,
            code: 'invalid_value',
          },
        ],
  );
  if (details.length > 0)
    throw new ValidationError('progress_state.succeeded_steps names steps the plan does not have', details);
}

const startWorkflow = httpHandler<RecoveryWorkflowRequest>(
  startWorkflowRoute,
  async (request) => {
    const { sub } = requirePrincipal(request);
    const workflow_id = workflowIdFor(sub, String(request.headers[IDEMPOTENCY_HEADER]));
    const { recovery_plan } = request.body;
    if (recovery_plan.steps.length > MAX_WORKFLOW_STEPS)
      throw new PlanTooLargeError(recovery_plan.steps.length, MAX_WORKFLOW_STEPS);
    checkSucceededSteps(request.body);
    const allocation = optimizeResources(recovery_plan, await agents.listSnapshots(), { now_ms: Date.now() });
    // Last check before the first write; a replay never gets here (see backpressure.ts).
    await backlog.admit(() => workflows.workflowExists(workflow_id));
    const created = await workflows.createPlannedWorkflow({
      workflow_id,
      request: request.body,
      allocation,
      created_at: new Date().toISOString(),
      caller: sub,
    });
    const run =
      created === 'CREATED'
        ? await control.startRun(workflow_id)
        : await control.ensureRun(await runs.meta(workflow_id));
    const accepted: WorkflowAccepted = {
      workflow_id,
      execution_arn: run.execution_arn ?? control.runArnOf(workflow_id),
      status: run.status,
    };
    return { body: accepted };
  },
  { idempotency },
);

const listWorkflows = httpHandler<undefined, WorkflowListQuery>(listWorkflowsRoute, async ({ query }) => {
  const body: WorkflowList = { workflows: (await runs.listRecent(query)).map(workflowSummary) };
  return { body };
});

const getWorkflow = httpHandler(getWorkflowRoute, async (request) => {
  const { meta, steps } = await runs.load(workflowId(request));
  return { body: { ...workflowDetail(meta, steps), execution_arn: control.recordedRun(meta) } };
});

const rollbackWorkflow = httpHandler<RollbackRequest>(rollbackWorkflowRoute, async (request) => ({
  body: await control.compensate(workflowId(request), {
    mode: 'rollback',
    reason: request.body.reason,
    failure_point: request.body.failure_point,
  }),
}));

const cancelWorkflow = httpHandler<CancelRequest>(cancelWorkflowRoute, async (request) => ({
  body: await control.compensate(workflowId(request), { mode: 'cancel', reason: request.body.reason }),
}));

const getWorkflowProgress = httpHandler(getWorkflowProgressRoute, async (request) => {
  const { meta, steps } = await runs.load(workflowId(request));
  return { body: workflowProgress(meta, steps, Date.now()) };
});

/** At most this many active workflows are read at once for GET progress. */
const LOAD_CONCURRENCY = 8;

const getProgress = httpHandler(getProgressRoute, async () => {
  const active = await runs.listActive();
  const loaded: Awaited<ReturnType<typeof runs.load>>[] = [];
  for (let start = 0; start < active.length; start += LOAD_CONCURRENCY)
    loaded.push(
      ...(await Promise.all(
        active.slice(start, start + LOAD_CONCURRENCY).map((m) => runs.load(m.workflow_id)),
      )),
    );
  return { body: systemProgress(loaded, Date.now()) };
});

export const handler = httpRouter([
  startWorkflow,
  listWorkflows,
  getWorkflow,
  getWorkflowProgress,
  getProgress,
  rollbackWorkflow,
  cancelWorkflow,
]);
