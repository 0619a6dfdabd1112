/**
 * GET workflows: the newest workflows first, bounded by `limit`, optionally filtered by status,
 * as summaries without their steps. Workflows are started through POST workflows with every
 * step already done (progress_state), so they run to SUCCEEDED without an agent.
 */
import { WorkflowList } from '#core/wire';
import { type Api, errorCode, loadApi, referenceAgents, registerAgents, tokenFor, uniqueId } from './harness';
import { planOf, startPlan, waitForStatus } from './workflow-helpers';

let api: Api;
const DATA = 'reference-data';

beforeAll(async () => {
  api = await loadApi();
  await registerAgents(api, referenceAgents());
});

afterAll(async () => {
  await api.close();
});

/** A plan of one step that an earlier run already did: it ends SUCCEEDED on its own. */
const donePlan = () => {
  const step = uniqueId('done');
  return planOf([{ step_id: step, agent_id: DATA }], { progress_state: { succeeded_steps: [step] } });
};

async function list(query?: Record<string, string>) {
  const { token } = await tokenFor('viewer');
  return api.call({ operationId: 'listWorkflows', token, query });
}

describe('GET workflows', () => {
  it('lists the newest workflows first, with status and completion, to a viewer', async () => {
    // Prepare
    const first = await startPlan(api, donePlan());
    const second = await startPlan(api, donePlan());
    await waitForStatus(api, first.workflow_id, ['SUCCEEDED']);
    await waitForStatus(api, second.workflow_id, ['SUCCEEDED']);

    // Act
    const answer = await list({ limit: '100' });

    // Assess
    expect(answer.status).toBe(200);
    const { workflows } = WorkflowList.parse(answer.body);
    const ids = workflows.map((w) => w.workflow_id);
    expect(ids.indexOf(second.workflow_id)).toBeGreaterThanOrEqual(0);
    expect(ids.indexOf(first.workflow_id)).toBeGreaterThan(ids.indexOf(second.workflow_id));
    const created = workflows.map((w) => w.created_at);
    expect(created).toEqual([...created].sort().reverse());
    expect(workflows.find((w) => w.workflow_id === first.workflow_id)).toEqual({
      workflow_id: first.workflow_id,
      status: 'SUCCEEDED',
      source: 'plan',
      created_at: expect.any(String),
      updated_at: expect.any(String),
      completed_at: expect.any(String),
      step_count: 1,
      steps_succeeded: 1,
      completion_percentage: 100,
    });
  });

  it('answers at most `limit` workflows', async () => {
    // Prepare
    await startPlan(api, donePlan());
    await startPlan(api, donePlan());

    // Act
    const answer = await list({ limit: '1' });

    // Assess
    expect(answer.status).toBe(200);
    expect(WorkflowList.parse(answer.body).workflows).toHaveLength(1);
  });

  it('answers only the workflows in `status` when asked', async () => {
    // Prepare
    const done = await startPlan(api, donePlan());
    await waitForStatus(api, done.workflow_id, ['SUCCEEDED']);

    // Act
    const succeeded = await list({ status: 'SUCCEEDED', limit: '100' });
    const cancelled = await list({ status: 'CANCELLED', limit: '100' });

    // Assess
    const statuses = WorkflowList.parse(succeeded.body).workflows.map((w) => w.status);
    expect(statuses.length).toBeGreaterThan(0);
    expect(new Set(statuses)).toEqual(new Set(['SUCCEEDED']));
    expect(WorkflowList.parse(succeeded.body).workflows.map((w) => w.workflow_id)).toContain(
      done.workflow_id,
    );
    expect(WorkflowList.parse(cancelled.body).workflows.map((w) => w.workflow_id)).not.toContain(
      done.workflow_id,
    );
  });

  it.each([
    [{ limit: '0' }, 'query.limit'],
    [{ limit: '101' }, 'query.limit'],
    [{ status: 'DONE' }, 'query.status'],
    [{ colour: 'red' }, 'query'],
  ])('rejects the query %j with 400 VALIDATION_FAILED at %s', async (query, path) => {
    // Act
    const answer = await list(query);

    // Assess
    expect(answer.status).toBe(400);
    expect(errorCode(answer)).toBe('VALIDATION_FAILED');
    expect((answer.body as { error: { details: { path: string }[] } }).error.details).toEqual(
      expect.arrayContaining([expect.objectContaining({ path })]),
    );
  });
});
