/**
 * Plan steps for the e2e suites: one step of a RecoveryWorkflowRequest, routed by category to
 * a reference agent, with `parameters.simulate` (contract C8) when the test wants an outcome.
 */
import { randomUUID } from 'node:crypto';
import { type RecoveryWorkflowRequest, WorkflowAccepted } from '#core/wire';
import type { Target } from './target';

export type PlanStep = RecoveryWorkflowRequest['recovery_plan']['steps'][number];

export function planStep(
  id: string,
  extra: Partial<PlanStep> & { simulate?: Record<string, unknown> } = {},
): PlanStep {
  const { simulate, ...rest } = extra;
  return {
    step_id: id,
    issue_id: `${id}-issue`,
    category: 'network',
    action: 'remediate',
    depends_on: [],
    idempotent: false,
    estimated_duration: 'PT1S',
    ...rest,
    ...(simulate ? { parameters: { simulate } } : {}),
  } as PlanStep;
}

/**
 * POST workflows with `steps` as `operatorToken`; the plan id derives from the Idempotency-Key,
 * so a retry with the same key sends the same body. Fails the test unless it answers 202.
 */
export async function submitPlan(
  target: Pick<Target, 'url'>,
  operatorToken: string,
  runId: string,
  steps: readonly PlanStep[],
  key: string = randomUUID(),
): Promise<WorkflowAccepted> {
  const response = await fetch(target.url('workflows'), {
    method: 'POST',
    headers: {
      authorization: `Bearer ${operatorToken}`,
      'content-type': 'application/json',
      'idempotency-key': key,
    },
    body: JSON.stringify({ recovery_plan: { plan_id: `${runId}-${key.slice(0, 8)}`, steps } }),
  });
  const body = await response.json();
  expect({ status: response.status, body }).toMatchObject({ status: 202 });
  return WorkflowAccepted.parse(body);
}
