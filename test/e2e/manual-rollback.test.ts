/**
 * The manual rollback journey, against the target `target.ts` resolves: an operator undoes a
 * workflow that SUCCEEDED with POST workflows/{id}/rollback, and the reference agents (C8)
 * compensate its steps, latest first. Ids are unique to this run and nothing is deleted, so
 * the suite is safe on a shared account; the SDK client is closed at the end.
 */
import { randomUUID } from 'node:crypto';
import { DescribeExecutionCommand, SFNClient } from '@aws-sdk/client-sfn';
import { WorkflowAccepted, WorkflowDetail, type WorkflowStatus } from '#core/wire';
import { TERMINAL_WORKFLOW_STATUSES } from '#core/workflow';
import { type PlanStep, planStep, submitPlan } from './plans';
import { BOOT_TIMEOUT_MS, resolveTarget, type Target } from './target';

const RUN = `mr-e2e-${randomUUID().slice(0, 8)}`;
const TERMINAL = TERMINAL_WORKFLOW_STATUSES;
/** Longest any one wait here may take; each test's own timeout is above it. */
const SETTLE_MS = 90_000;

let target: Target;
let sfn: SFNClient;
let operator: string;

/** a -> b -> c, each succeeding. */
const CHAIN: PlanStep[] = [
  planStep('a', { simulate: { outcome: 'succeed' } }),
  planStep('b', { depends_on: ['a'], simulate: { outcome: 'succeed' } }),
  planStep('c', { depends_on: ['b'], simulate: { outcome: 'succeed' } }),
];

async function detail(workflowId: string, token = operator): Promise<WorkflowDetail> {
  const response = await fetch(target.url(`workflows/${workflowId}`), {
    headers: { authorization: `Bearer ${token}` },
  });
  expect(response.status).toBe(200);
  return WorkflowDetail.parse(await response.json());
}

/** Polls GET workflows/{id} until `done(status)`; bounded by SETTLE_MS. */
async function settle(
  workflowId: string,
  done: (status: WorkflowStatus) => boolean = (status) => TERMINAL.includes(status),
): Promise<WorkflowDetail> {
  const until = Date.now() + SETTLE_MS;
  for (;;) {
    const current = await detail(workflowId);
    if (done(current.status)) return current;
    if (Date.now() > until)
      throw new Error(`workflow ${workflowId} is still ${current.status} after ${SETTLE_MS} ms`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

async function succeeded(): Promise<string> {
  const accepted = await submitPlan(target, operator, RUN, CHAIN);
  const done = await settle(accepted.workflow_id);
  expect(done.status).toBe('SUCCEEDED');
  return accepted.workflow_id;
}

async function rollback(workflowId: string, body: Record<string, unknown>, token = operator) {
  const response = await fetch(target.url(`workflows/${workflowId}/rollback`), {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as unknown };
}

const ms = (iso: string | null) => Date.parse(iso ?? 'invalid');

describe('manual rollback', () => {
  beforeAll(async () => {
    target = await resolveTarget(process.env, { referenceAgents: true });
    sfn = new SFNClient({
      endpoint: target.aws.endpoint,
      region: target.aws.region,
      credentials: target.aws.credentials,
    });
    operator = await target.tokenFor('operator', `${RUN}-operator`);
  }, BOOT_TIMEOUT_MS);

  afterAll(async () => {
    sfn?.destroy();
    await target?.stop();
  }, 60_000);

  it(
    'rolls a SUCCEEDED workflow back by hand: ROLLED_BACK, every step COMPENSATED, latest first',
    async () => {
      // Prepare
      const workflowId = await succeeded();
      const reason = `${RUN}: the release made things worse`;

      // Act
      const answer = await rollback(workflowId, { reason });
      const done = await settle(workflowId, (status) => status !== 'ROLLING_BACK' && status !== 'SUCCEEDED');
      const again = await rollback(workflowId, { reason: 'and again' });

      // Assess
      expect(answer.status).toBe(202);
      const accepted = WorkflowAccepted.parse(answer.body);
      expect(accepted).toMatchObject({ workflow_id: workflowId, status: 'ROLLING_BACK' });
      expect(done.status).toBe('ROLLED_BACK');
      expect(done.steps.map((s) => [s.step_id, s.status])).toEqual([
        ['a', 'COMPENSATED'],
        ['b', 'COMPENSATED'],
        ['c', 'COMPENSATED'],
      ]);
      const undone = [...done.steps].sort((x, y) => ms(x.compensated_at) - ms(y.compensated_at));
      expect(undone.map((s) => s.step_id)).toEqual(['c', 'b', 'a']);
      expect(done.result?.rollback).toMatchObject({
        status: 'ROLLED_BACK',
        reason,
        compensated_steps: expect.arrayContaining(['a', 'b', 'c']),
      });
      expect(done.executions).toHaveLength(2);
      expect(done.executions[1]).toBe(accepted.execution_arn);
      const rollbackRun = await sfn.send(
        new DescribeExecutionCommand({ executionArn: accepted.execution_arn }),
      );
      expect(JSON.parse(rollbackRun.input ?? '{}')).toMatchObject({
        workflow_id: workflowId,
        mode: 'rollback',
      });
      expect(again.status).toBe(409);
      expect(again.body).toMatchObject({ error: { code: 'NOTHING_TO_ROLL_BACK' } });
    },
    2 * SETTLE_MS + 10_000,
  );

  it(
    'rolls back only to failure_point, and keeps the steps before it',
    async () => {
      // Prepare
      const workflowId = await succeeded();

      // Act
      const answer = await rollback(workflowId, { reason: `${RUN}: partial`, failure_point: 'b' });
      const done = await settle(workflowId, (status) => status !== 'ROLLING_BACK' && status !== 'SUCCEEDED');

      // Assess
      expect(answer.status).toBe(202);
      expect(done.status).toBe('ROLLED_BACK');
      expect(done.steps.map((s) => [s.step_id, s.status])).toEqual([
        ['a', 'SUCCEEDED'],
        ['b', 'COMPENSATED'],
        ['c', 'COMPENSATED'],
      ]);
      expect(done.result?.rollback).toMatchObject({ status: 'ROLLED_BACK', failure_point: 'b' });
      expect([...(done.result?.rollback?.compensated_steps ?? [])].sort()).toEqual(['b', 'c']);
    },
    2 * SETTLE_MS + 10_000,
  );

  it(
    'rejects a rollback from a viewer with 403, and leaves the workflow as it was',
    async () => {
      // Prepare
      const workflowId = await succeeded();
      const viewer = await target.tokenFor('viewer', `${RUN}-viewer`);

      // Act
      const answer = await rollback(workflowId, { reason: 'not mine to undo' }, viewer);

      // Assess
      expect(answer.status).toBe(403);
      expect(answer.body).toMatchObject({ error: { code: 'FORBIDDEN' } });
      const after = await detail(workflowId, viewer);
      expect(after.status).toBe('SUCCEEDED');
      expect(after.executions).toHaveLength(1);
    },
    SETTLE_MS + 10_000,
  );
});
