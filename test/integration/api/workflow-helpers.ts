/**
 * Workflow fixtures for the API tests: start a plan, play an agent (take its task off the
 * queue, answer through POST tasks/*), and wait for a workflow to reach a status.
 */
import { randomUUID } from 'node:crypto';
import { DeleteMessageCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import {
  AgentTaskMessage,
  type WorkflowAccepted,
  WorkflowAccepted as WorkflowAcceptedSchema,
  WorkflowDetail,
  type WorkflowStatus,
} from '#core/wire';
import { type Api, tokenFor } from './harness';

/** POST workflows with a fresh Idempotency-Key; throws unless it answers 202. */
export async function startPlan(api: Api, body: unknown, token?: string): Promise<WorkflowAccepted> {
  const caller = token ?? (await tokenFor('operator')).token;
  const answer = await api.call({
    operationId: 'startWorkflow',
    token: caller,
    body,
    headers: { 'Idempotency-Key': randomUUID() },
  });
  if (answer.status !== 202)
    throw new Error(`POST workflows answered ${answer.status}: ${JSON.stringify(answer.body)}`);
  return WorkflowAcceptedSchema.parse(answer.body);
}

/** A plan of one step per entry, each on the given agent, no dependencies. */
export function planOf(steps: readonly { step_id: string; agent_id: string }[], extra: object = {}) {
  return {
    recovery_plan: {
      steps: steps.map((s) => ({ ...s, issue_id: `issue-${s.step_id}`, estimated_duration: 'PT1M' })),
    },
    ...extra,
  };
}

/** GET workflows/{id} as a viewer. */
export async function readWorkflow(api: Api, workflowId: string): Promise<WorkflowDetail> {
  const { token } = await tokenFor('viewer');
  const answer = await api.call({ operationId: 'getWorkflow', token, pathParameters: { id: workflowId } });
  if (answer.status !== 200)
    throw new Error(`GET workflows/${workflowId} answered ${answer.status}: ${JSON.stringify(answer.body)}`);
  return WorkflowDetail.parse(answer.body);
}

/** Polls GET workflows/{id} until its status is one of `statuses`. */
export async function waitForStatus(
  api: Api,
  workflowId: string,
  statuses: readonly WorkflowStatus[],
  timeoutMs = 15_000,
): Promise<WorkflowDetail> {
  const deadline = Date.now() + timeoutMs;
  let detail = await readWorkflow(api, workflowId);
  while (!statuses.includes(detail.status)) {
    if (Date.now() > deadline)
      throw new Error(
        `workflow ${workflowId} is ${detail.status} after ${timeoutMs} ms, not ${statuses.join('|')}`,
      );
    await new Promise((resolve) => setTimeout(resolve, 50));
    detail = await readWorkflow(api, workflowId);
  }
  return detail;
}

/**
 * Takes the next task for `workflowId` (and `action`) off an agent queue, as the agent would,
 * and deletes it there. Tasks of other workflows stay in the queue.
 */
export async function takeTask(
  api: Api,
  queueUrl: string,
  match: {
    readonly workflow_id: string;
    readonly action?: 'execute' | 'rollback';
    readonly step_id?: string;
  },
  timeoutMs = 15_000,
): Promise<AgentTaskMessage> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const { Messages } = await api.runtime.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queueUrl,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: 1,
        VisibilityTimeout: 0,
      }),
    );
    for (const message of Messages ?? []) {
      const task = AgentTaskMessage.parse(JSON.parse(message.Body ?? '{}'));
      const wanted =
        task.workflow_id === match.workflow_id &&
        (match.action === undefined || task.action === match.action) &&
        (match.step_id === undefined || task.step_id === match.step_id);
      if (!wanted) continue;
      await api.runtime.sqs.send(
        new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: message.ReceiptHandle }),
      );
      return task;
    }
  }
  throw new Error(
    `no ${match.action ?? ''} task for ${match.workflow_id} on ${queueUrl} within ${timeoutMs} ms`,
  );
}

/** Answers a task through POST tasks/success with an agent token of the task's agent. */
export async function succeedTask(
  api: Api,
  task: AgentTaskMessage,
  agentId: string,
  output: unknown = { done: true },
) {
  const { token } = await tokenFor('agent', agentId);
  return api.call({ operationId: 'sendTaskSuccess', token, body: { task_token: task.task_token, output } });
}
