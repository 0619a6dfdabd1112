/**
 * POST tasks/success, tasks/failure and tasks/heartbeat over the real chain: the callbacks of
 * agents without AWS credentials, on task tokens the real recovery state machine handed out.
 */
import { randomUUID } from 'node:crypto';
import { TaskCallbackAccepted } from '#core/wire';
import {
  type Api,
  errorCode,
  failSend,
  loadApi,
  referenceAgents,
  registerAgents,
  sample,
  tokenFor,
  uniqueId,
} from './harness';
import { planOf, startPlan, succeedTask, takeTask, waitForStatus } from './workflow-helpers';
import { SHARED_AGENT_TYPE } from './workflow-runtime';

let api: Api;
const NETWORK = 'reference-network';

beforeAll(async () => {
  api = await loadApi();
  await registerAgents(api, referenceAgents());
});

afterEach(() => {
  jest.restoreAllMocks();
});

afterAll(async () => {
  await api.close();
});

const networkQueue = () => api.runtime.agentQueues.get('network')?.queue.url ?? '';

/** A workflow with one step dispatched to `agentId` on `queueUrl`; its task. */
async function dispatchedTask(agentId = NETWORK, queueUrl = networkQueue()) {
  const accepted = await startPlan(api, planOf([{ step_id: 'step', agent_id: agentId }]));
  const task = await takeTask(api, queueUrl, { workflow_id: accepted.workflow_id, action: 'execute' });
  return { workflowId: accepted.workflow_id, task };
}

describe('POST tasks/success', () => {
  it("lets the agent a task was sent to answer it, and the step succeeds with the agent's output", async () => {
    // Prepare
    const agentId = uniqueId('it-agent');
    await registerAgents(api, [
      { agent_id: agentId, agent_type: SHARED_AGENT_TYPE, categories: ['network'] },
    ]);
    const { workflowId, task } = await dispatchedTask(agentId, api.runtime.sharedAgentQueue.url);
    const { token } = await tokenFor('agent', agentId);

    // Act
    const answer = await api.call({
      operationId: 'sendTaskSuccess',
      token,
      body: { task_token: task.task_token, output: { restarted: ['resolver-a'] } },
    });
    const done = await waitForStatus(api, workflowId, ['SUCCEEDED']);

    // Assess
    expect(answer.status).toBe(200);
    expect(TaskCallbackAccepted.parse(answer.body)).toEqual({
      workflow_id: workflowId,
      step_id: 'step',
      action: 'execute',
      accepted: true,
    });
    expect(done.steps[0]).toMatchObject({
      status: 'SUCCEEDED',
      agent_id: agentId,
      output: { restarted: ['resolver-a'] },
    });
  });

  it('lets an admin answer any task, with no output', async () => {
    // Prepare
    const { workflowId, task } = await dispatchedTask();
    const { token } = await tokenFor('admin');

    // Act
    const answer = await api.call({
      operationId: 'sendTaskSuccess',
      token,
      body: { task_token: task.task_token },
    });
    const done = await waitForStatus(api, workflowId, ['SUCCEEDED']);

    // Assess
    expect(answer.status).toBe(200);
    expect(done.steps[0]?.output).toEqual({});
  });

  it("rejects an agent answering another agent's task with 403 FORBIDDEN, and the task stays open", async () => {
    // Prepare
    const { workflowId, task } = await dispatchedTask();
    const { token: intruder } = await tokenFor('agent', 'reference-data');

    // Act
    const refused = await api.call({
      operationId: 'sendTaskSuccess',
      token: intruder,
      body: { task_token: task.task_token },
    });
    const owner = await succeedTask(api, task, NETWORK);

    // Assess
    expect(refused.status).toBe(403);
    expect(errorCode(refused)).toBe('FORBIDDEN');
    expect(owner.status).toBe(200);
    await waitForStatus(api, workflowId, ['SUCCEEDED']);
  });

  it('answers 404 TASK_NOT_FOUND for a token no workflow sent', async () => {
    // Prepare
    const { token } = await tokenFor('admin');

    // Act
    const answer = await api.call({
      operationId: 'sendTaskSuccess',
      token,
      body: sample('task-success-request.json').json,
    });

    // Assess
    expect(answer.status).toBe(404);
    expect(errorCode(answer)).toBe('TASK_NOT_FOUND');
  });

  it('answers 410 TASK_GONE to a repeated callback, and changes nothing', async () => {
    // Prepare
    const { workflowId, task } = await dispatchedTask();
    await succeedTask(api, task, NETWORK, { first: true });
    await waitForStatus(api, workflowId, ['SUCCEEDED']);

    // Act
    const again = await succeedTask(api, task, NETWORK, { second: true });
    const failure = await api.call({
      operationId: 'sendTaskFailure',
      token: (await tokenFor('agent', NETWORK)).token,
      body: { task_token: task.task_token, error: { code: 'Agent.Permanent', message: 'too late' } },
    });
    const done = await waitForStatus(api, workflowId, ['SUCCEEDED']);

    // Assess
    expect([again.status, failure.status]).toEqual([410, 410]);
    expect([errorCode(again), errorCode(failure)]).toEqual(['TASK_GONE', 'TASK_GONE']);
    expect(done.steps[0]?.output).toEqual({ first: true });
  });

  it('rejects an output over 256 KiB with 413 OUTPUT_TOO_LARGE, and the task stays open', async () => {
    // Prepare
    const { workflowId, task } = await dispatchedTask();
    const { token } = await tokenFor('agent', NETWORK);

    // Act
    const answer = await api.call({
      operationId: 'sendTaskSuccess',
      token,
      body: { task_token: task.task_token, output: { log: 'x'.repeat(300 * 1024) } },
    });
    const retried = await succeedTask(api, task, NETWORK, { log: 'trimmed' });

    // Assess
    expect(answer.status).toBe(413);
    expect(errorCode(answer)).toBe('OUTPUT_TOO_LARGE');
    expect(retried.status).toBe(200);
    await waitForStatus(api, workflowId, ['SUCCEEDED']);
  });

  it('rejects a body without a task_token with 400 VALIDATION_FAILED', async () => {
    // Prepare
    const { token } = await tokenFor('agent', NETWORK);

    // Act
    const answer = await api.call({ operationId: 'sendTaskSuccess', token, body: { output: {} } });

    // Assess
    expect(answer.status).toBe(400);
    expect(errorCode(answer)).toBe('VALIDATION_FAILED');
  });

  it('answers 429 THROTTLED when Step Functions throttles the callback', async () => {
    // Prepare
    const { task } = await dispatchedTask();
    failSend(api.clients.sfn, 'ThrottlingException');

    // Act
    const answer = await succeedTask(api, task, NETWORK);

    // Assess
    expect(answer.status).toBe(429);
    expect(errorCode(answer)).toBe('THROTTLED');
  });
});

describe('POST tasks/success when Step Functions refuses the output', () => {
  it('answers 400 VALIDATION_FAILED on InvalidOutput', async () => {
    // Prepare
    const { task } = await dispatchedTask();
    failSend(api.clients.sfn, 'InvalidOutput');

    // Act
    const answer = await succeedTask(api, task, NETWORK);

    // Assess
    expect(answer.status).toBe(400);
    expect(answer.body).toMatchObject({
      error: { code: 'VALIDATION_FAILED', details: [{ path: 'output' }] },
    });
  });
});

describe('POST tasks/failure', () => {
  it('fails the step with the given error, and the workflow rolls back the step it ran', async () => {
    // Prepare
    const { workflowId, task } = await dispatchedTask();
    const { token } = await tokenFor('agent', NETWORK);

    // Act
    const answer = await api.call({
      operationId: 'sendTaskFailure',
      token,
      body: {
        task_token: task.task_token,
        error: { code: 'Agent.Permanent', message: 'resolver config is read-only' },
      },
    });
    const undo = await takeTask(api, networkQueue(), { workflow_id: workflowId, action: 'rollback' });
    await succeedTask(api, undo, NETWORK);
    const done = await waitForStatus(api, workflowId, ['ROLLED_BACK']);

    // Assess
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ workflow_id: workflowId, step_id: 'step', action: 'execute' });
    expect(done.steps[0]).toMatchObject({
      status: 'COMPENSATED',
      error: { code: 'Agent.Permanent', message: 'resolver config is read-only' },
    });
  });

  it('retries the step on Agent.Transient with a new task', async () => {
    // Prepare
    const { workflowId, task } = await dispatchedTask();
    const { token } = await tokenFor('agent', NETWORK);

    // Act
    const answer = await api.call({
      operationId: 'sendTaskFailure',
      token,
      body: sample('task-failure-request.json').json,
    });
    const unknownToken = answer.status;
    const failed = await api.call({
      operationId: 'sendTaskFailure',
      token,
      body: { task_token: task.task_token, error: { code: 'Agent.Transient' } },
    });
    const retry = await takeTask(api, networkQueue(), { workflow_id: workflowId, action: 'execute' }, 20_000);
    await succeedTask(api, retry, NETWORK);
    const done = await waitForStatus(api, workflowId, ['SUCCEEDED']);

    // Assess
    expect(unknownToken).toBe(404);
    expect(failed.status).toBe(200);
    expect(retry.attempt).toBe(2);
    expect(retry.task_token).not.toBe(task.task_token);
    expect(done.steps[0]).toMatchObject({ status: 'SUCCEEDED', attempts: 2 });
  }, 30_000);
});

describe('POST tasks/heartbeat', () => {
  it('accepts a heartbeat for an open task, and 410 TASK_GONE once the task has ended', async () => {
    // Prepare
    const { workflowId, task } = await dispatchedTask();
    const { token } = await tokenFor('agent', NETWORK);
    const beat = () =>
      api.call({ operationId: 'sendTaskHeartbeat', token, body: { task_token: task.task_token } });

    // Act
    const open = await beat();
    await succeedTask(api, task, NETWORK);
    await waitForStatus(api, workflowId, ['SUCCEEDED']);
    const ended = await beat();

    // Assess
    expect(open.status).toBe(200);
    expect(open.body).toMatchObject({ workflow_id: workflowId, step_id: 'step', accepted: true });
    expect(ended.status).toBe(410);
  });

  it('answers 404 TASK_NOT_FOUND for a token no workflow sent', async () => {
    // Prepare
    const { token } = await tokenFor('agent', NETWORK);

    // Act
    const answer = await api.call({
      operationId: 'sendTaskHeartbeat',
      token,
      body: { task_token: randomUUID() },
    });

    // Assess
    expect(answer.status).toBe(404);
    expect(errorCode(answer)).toBe('TASK_NOT_FOUND');
  });
});
