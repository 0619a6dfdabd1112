/**
 * Plan steps for the e2e suites: one step of a RecoveryWorkflowRequest, routed by category to
 * a reference agent, with `parameters.simulate` (contract C8) when the test wants an outcome.
 */
import type { RecoveryWorkflowRequest } from '#core/wire';

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
