/**
 * GET workflows/{id}/progress and GET progress over the real chain: the figures follow the
 * workflow's state as its steps are answered, and the ETA moves with observed durations.
 */
import { ProgressReport } from '#core/wire';
import { type Api, loadApi, referenceAgents, registerAgents, tokenFor } from './harness';
import { planOf, startPlan, succeedTask, takeTask, waitForStatus } from './workflow-helpers';

let api: Api;
const NETWORK = 'reference-network';

beforeAll(async () => {
  api = await loadApi();
  await registerAgents(api, referenceAgents());
});

afterAll(async () => {
  await api.close();
});

const queueUrl = () => {
  const queue = api.runtime.agentQueues.get('network');
  if (!queue) throw new Error('no network agent queue');
  return queue.queue.url;
};

async function progressOf(workflowId: string): Promise<ProgressReport> {
  const { token } = await tokenFor('viewer');
  const answer = await api.call({
    operationId: 'getWorkflowProgress',
    token,
    pathParameters: { id: workflowId },
  });
  expect(answer.status).toBe(200);
  return ProgressReport.parse(answer.body);
}

describe('GET workflows/{id}/progress', () => {
  it('follows the workflow: 0%, the active agent and an ETA, then 50%, then 100% with no ETA', async () => {
    // Prepare: a -> b, each planned at one minute.
    const accepted = await startPlan(api, {
      recovery_plan: {
        steps: [
          { step_id: 'a', issue_id: 'issue-a', agent_id: NETWORK, estimated_duration: 'PT1M' },
          {
            step_id: 'b',
            issue_id: 'issue-b',
            agent_id: NETWORK,
            estimated_duration: 'PT1M',
            depends_on: ['a'],
          },
        ],
      },
    });
    const id = accepted.workflow_id;

    // Act
    const first = await takeTask(api, queueUrl(), { workflow_id: id, step_id: 'a' });
    const atStart = await progressOf(id);
    await succeedTask(api, first, NETWORK);
    const second = await takeTask(api, queueUrl(), { workflow_id: id, step_id: 'b' });
    const halfway = await progressOf(id);
    await succeedTask(api, second, NETWORK);
    await waitForStatus(api, id, ['SUCCEEDED']);
    const done = await progressOf(id);

    // Assess
    expect(atStart).toMatchObject({
      completion_percentage: 0,
      active_agents: [NETWORK],
      resolved_issues: [],
    });
    expect(atStart.eta_completion).not.toBeNull();
    expect(halfway).toMatchObject({ completion_percentage: 50, resolved_issues: ['issue-a'] });
    // a took far less than its minute, so the ETA for b shrinks with it: well under a minute away.
    expect(Date.parse(halfway.eta_completion ?? '')).toBeLessThan(Date.parse(atStart.eta_completion ?? ''));
    expect(done).toEqual({
      completion_percentage: 100,
      active_agents: [],
      resolved_issues: ['issue-a', 'issue-b'],
      blocking_issues: [],
      eta_completion: null,
    });
  });

  it('answers 404 for a workflow that does not exist', async () => {
    const { token } = await tokenFor('viewer');
    const answer = await api.call({
      operationId: 'getWorkflowProgress',
      token,
      pathParameters: { id: 'wf-nope' },
    });
    expect(answer.status).toBe(404);
  });
});

describe('GET progress', () => {
  it('counts the steps of every workflow still at work, and no ended one', async () => {
    // Prepare: one running workflow waiting on its only step.
    const accepted = await startPlan(api, planOf([{ step_id: 'wait', agent_id: NETWORK }]));
    const task = await takeTask(api, queueUrl(), { workflow_id: accepted.workflow_id });
    const { token } = await tokenFor('viewer');

    // Act
    const during = ProgressReport.parse((await api.call({ operationId: 'getProgress', token })).body);
    await succeedTask(api, task, NETWORK);
    await waitForStatus(api, accepted.workflow_id, ['SUCCEEDED']);
    const after = ProgressReport.parse((await api.call({ operationId: 'getProgress', token })).body);

    // Assess
    expect(during.active_agents).toContain(NETWORK);
    expect(during.completion_percentage).toBeLessThan(100);
    expect(after.resolved_issues).not.toContain(`${accepted.workflow_id}:issue-wait`);
  });
});
