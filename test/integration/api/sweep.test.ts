/**
 * The scheduled sweep's handler (functions/sweep/handler.ts) against the in-process Step
 * Functions and SQS runtime and DynamoDB Local: an agent that reports itself UNHEALTHY while it
 * holds a step gets that step taken back. A non-idempotent step fails into rollback; an
 * idempotent one is dispatched again, to another capable agent.
 */
import { type Api, loadApi, referenceAgents, registerAgents, tokenFor, uniqueId } from './harness';
import { planOf, readWorkflow, startPlan, succeedTask, takeTask, waitForStatus } from './workflow-helpers';
import { SHARED_AGENT_TYPE } from './workflow-runtime';

let api: Api;
const sharedQueue = () => api.runtime.sharedAgentQueue.url;

beforeAll(async () => {
  api = await loadApi();
  await registerAgents(api, referenceAgents());
});

afterAll(async () => {
  await api.close();
});

async function agentAt(label: string): Promise<string> {
  const agent_id = uniqueId(label);
  await registerAgents(api, [{ agent_id, agent_type: SHARED_AGENT_TYPE, categories: ['security'] }]);
  return agent_id;
}

async function reportUnhealthy(agentId: string): Promise<void> {
  const { token } = await tokenFor('agent', agentId);
  const answer = await api.call({
    operationId: 'heartbeat',
    token,
    pathParameters: { id: agentId },
    body: { status: 'UNHEALTHY' },
  });
  expect(answer.status).toBe(200);
}

describe('sweep handler', () => {
  it('fails a non-idempotent step held by an agent that went down, and the workflow rolls back', async () => {
    // Prepare
    const doomed = await agentAt('it-doomed');
    const accepted = await startPlan(api, planOf([{ step_id: 'hold', agent_id: doomed }], {}));
    await takeTask(api, sharedQueue(), { workflow_id: accepted.workflow_id, action: 'execute' });
    await reportUnhealthy(doomed);

    // Act
    const report = await api.sweep();
    const undo = await takeTask(api, sharedQueue(), {
      workflow_id: accepted.workflow_id,
      action: 'rollback',
    });
    await succeedTask(api, undo, doomed);
    const done = await waitForStatus(api, accepted.workflow_id, ['ROLLED_BACK']);

    // Assess
    expect(report.released).toContainEqual({
      workflow_id: accepted.workflow_id,
      step_id: 'hold',
      agent_id: doomed,
      error: 'Agent.Unavailable',
    });
    expect(report.unhealthy_agents).toBeGreaterThanOrEqual(1);
    expect(done.steps[0]).toMatchObject({ status: 'COMPENSATED', error: { code: 'Agent.Unavailable' } });
  });

  it('re-dispatches an idempotent step held by an agent that went down to another capable agent', async () => {
    // Prepare
    const doomed = await agentAt('it-doomed');
    await agentAt('it-spare');
    const plan = planOf([{ step_id: 'move', agent_id: doomed }]);
    const accepted = await startPlan(api, {
      recovery_plan: {
        steps: plan.recovery_plan.steps.map((s) => ({ ...s, category: 'security', idempotent: true })),
      },
    });
    await takeTask(api, sharedQueue(), { workflow_id: accepted.workflow_id, action: 'execute' });
    await reportUnhealthy(doomed);

    // Act
    const report = await api.sweep();
    const again = await takeTask(api, sharedQueue(), {
      workflow_id: accepted.workflow_id,
      action: 'execute',
    });
    const moved = (await readWorkflow(api, accepted.workflow_id)).steps[0];
    await succeedTask(api, again, moved?.agent_id ?? '');
    const done = await waitForStatus(api, accepted.workflow_id, ['SUCCEEDED']);

    // Assess
    expect(report.released).toContainEqual(
      expect.objectContaining({
        workflow_id: accepted.workflow_id,
        step_id: 'move',
        error: 'Agent.Rerouted',
      }),
    );
    expect(again.attempt).toBe(2);
    expect(moved?.agent_id).not.toBe(doomed);
    expect(done.steps[0]).toMatchObject({ status: 'SUCCEEDED', attempts: 2 });
  });
});
