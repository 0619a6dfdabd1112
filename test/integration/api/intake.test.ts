/**
 * POST api/orchestrator/issues over the real chain and DynamoDB Local: what it stores, the
 * run it starts, idempotent replay, and every way it refuses a request without writing.
 *
 * The state machine's Tasks are held (pauseWorkflowTasks): executions start, but nothing
 * changes the stored workflow behind the tests' backs. workflows.test.ts runs them.
 */
import { randomUUID } from 'node:crypto';
import { DescribeExecutionCommand } from '@aws-sdk/client-sfn';
import { BatchWriteCommand, PutCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { CATEGORIES, IntakeAccepted, IssueTriageRequest, MAX_ISSUES_PER_REQUEST } from '#core/wire';
import { MAX_WORKFLOW_STEPS } from '#core/workflow';
import { MAX_BODY_BYTES } from '#shared/request-rules';
import { keys } from '#shared/table-design';
import {
  type Api,
  documents,
  errorCode,
  failSend,
  type Item,
  loadApi,
  queryPartition,
  referenceAgents,
  registerAgents,
  sample,
  TABLE_NAME,
  tokenFor,
  uniqueId,
} from './harness';

let api: Api;

beforeAll(async () => {
  api = await loadApi();
  // One agent per category: every categorised issue is assigned and becomes a step.
  await registerAgents(api, referenceAgents());
  api.runtime.pauseWorkflowTasks();
});

afterEach(() => {
  jest.restoreAllMocks();
});

afterAll(async () => {
  await api.close();
});

const triageSample = sample('issue-triage-request.json');
const sampleRequest = IssueTriageRequest.parse(triageSample.json);

/** What the table holds for a workflow: its META item, its ISSUE items by issue id, its STEP items. */
async function storedWorkflow(
  workflowId: string,
): Promise<{ meta?: Item; issues: Map<string, Item>; steps: Item[]; all: Item[] }> {
  const all = await queryPartition(keys.workflow(workflowId).PK);
  return {
    meta: all.find((item) => item.SK === 'META'),
    issues: new Map(
      all.filter((item) => String(item.SK).startsWith('ISSUE#')).map((item) => [String(item.issue_id), item]),
    ),
    steps: all.filter((item) => String(item.SK).startsWith('STEP#')),
    all,
  };
}

/** How many issues the answer assigned: each is one step. */
const assignedCount = (accepted: IntakeAccepted) =>
  accepted.assignment.decisions.filter((d) => d.status === 'ASSIGNED').length;

async function describeExecution(executionArn: string) {
  return api.runtime.sfn.send(new DescribeExecutionCommand({ executionArn }));
}

async function submit(token: string, key: string | undefined, body: unknown) {
  return api.call({
    operationId: 'submitIssues',
    token,
    body,
    headers: key === undefined ? {} : { 'Idempotency-Key': key },
  });
}

/**
 * `count` acyclic issues: each may depend on one with a smaller index (a forest). Unless
 * `assignable`, each needs a capability no agent has, so all go to manual triage: the batch
 * stores issues only, no steps and no run.
 */
function generatedBatch(count: number, prefix: string, assignable = false) {
  return {
    detected_issues: Array.from({ length: count }, (_, k) => ({
      issue_id: `${prefix}-${k}`,
      title: `Synthetic issue ${k} of a large batch`,
      severity: (['critical', 'high', 'medium', 'low'] as const)[k % 4],
      category: CATEGORIES[k % CATEGORIES.length],
      ...(k > 0 && k % 3 !== 0 ? { depends_on: [`${prefix}-${Math.floor(k / 2)}`] } : {}),
      estimated_duration: 'PT2M',
      ...(assignable ? {} : { required_capabilities: ['it-no-agent-has-this'] }),
    })),
  };
}

describe('POST issues', () => {
  it('answers 202 with the workflow id, assignment and run, and stores META, one ISSUE item per issue and one STEP item per assigned issue', async () => {
    // Prepare
    const { token, sub } = await tokenFor('operator');
    const key = randomUUID();

    // Act
    const answer = await submit(token, key, triageSample.text);

    // Assess
    expect(answer.status).toBe(202);
    const accepted = IntakeAccepted.parse(answer.body);
    expect(accepted.workflow_id).toBe(api.workflows.workflowIdFor(sub, key));
    const runArn = `${api.runtime.stateMachineArn.replace(':stateMachine:', ':execution:')}:${accepted.workflow_id}`;
    expect(accepted).toMatchObject({ status: 'PENDING', execution_arn: runArn });
    expect(accepted.assignment.decisions.map((d) => d.issue_id)).toEqual(
      sampleRequest.detected_issues.map((i) => i.issue_id),
    );
    // The vague issue goes to manual triage; the others are steps.
    const steps = assignedCount(accepted);
    expect(steps).toBe(sampleRequest.detected_issues.length - 1);
    const stored = await storedWorkflow(accepted.workflow_id);
    expect(stored.meta).toMatchObject({
      entity: 'WORKFLOW',
      workflow_id: accepted.workflow_id,
      status: 'PENDING',
      caller: sub,
      issue_count: sampleRequest.detected_issues.length,
      step_count: steps,
      executions: [runArn],
      version: 1,
    });
    expect(stored.steps).toHaveLength(steps);
    // The issues, the steps, DETAIL and META.
    expect(stored.all).toHaveLength(sampleRequest.detected_issues.length + steps + 2);
    const execution = await describeExecution(runArn);
    expect(execution.status).toBe('RUNNING');
    expect(JSON.parse(execution.input ?? '{}')).toEqual({ workflow_id: accepted.workflow_id });
    for (const [position, issue] of sampleRequest.detected_issues.entries()) {
      expect(stored.issues.get(issue.issue_id)).toMatchObject({
        entity: 'ISSUE',
        position,
        issue,
        request_hash: stored.meta?.request_hash,
        decision: accepted.assignment.decisions[position],
      });
    }
  });

  it('replays the same key and body with the same answer and writes nothing new', async () => {
    // Prepare
    const { token } = await tokenFor('operator');
    const key = randomUUID();
    const first = await submit(token, key, triageSample.text);
    const workflowId = IntakeAccepted.parse(first.body).workflow_id;
    const before = await storedWorkflow(workflowId);
    const send = jest.spyOn(api.clients.documentClient, 'send');

    // Act
    const replay = await submit(token, key, triageSample.text);

    // Assess
    expect(replay.status).toBe(202);
    expect(IntakeAccepted.parse(replay.body).workflow_id).toBe(workflowId);
    expect(replay.body).toEqual(first.body);
    const after = await storedWorkflow(workflowId);
    expect(after.all).toHaveLength(before.all.length);
    expect(after.meta).toEqual(before.meta);
    expect(after.all).toEqual(before.all);
    const commands = send.mock.calls.map(([command]) => command.constructor.name);
    expect(commands).not.toContain('TransactWriteCommand');
    expect(commands).not.toContain('PutCommand');
  });

  it('writes once when two identical requests race, and answers the loser with 202 or 409 REQUEST_IN_PROGRESS', async () => {
    // Prepare
    const { token, sub } = await tokenFor('operator');
    const key = randomUUID();

    // Act
    const answers = await Promise.all([
      submit(token, key, triageSample.text),
      submit(token, key, triageSample.text),
    ]);

    // Assess
    const outcomes = answers.map((answer) => (answer.status === 202 ? 'ACCEPTED' : errorCode(answer)));
    expect(outcomes).toContain('ACCEPTED');
    for (const outcome of outcomes) expect(['ACCEPTED', 'REQUEST_IN_PROGRESS']).toContain(outcome);
    const stored = await storedWorkflow(api.workflows.workflowIdFor(sub, key));
    expect(stored.all).toHaveLength(sampleRequest.detected_issues.length + stored.steps.length + 2);
    expect(stored.meta).toMatchObject({ caller: sub, version: 1 });
    // One run, whichever request started it.
    expect(stored.meta?.executions).toHaveLength(1);
  });

  it('rejects the same key with a different body with 409 IDEMPOTENCY_KEY_REUSED and leaves the workflow as it was', async () => {
    // Prepare
    const { token } = await tokenFor('admin');
    const key = randomUUID();
    const first = await submit(token, key, triageSample.text);
    const workflowId = IntakeAccepted.parse(first.body).workflow_id;
    const before = await storedWorkflow(workflowId);
    const changed = { ...sampleRequest, detected_issues: sampleRequest.detected_issues.slice(1) };

    // Act
    const answer = await submit(token, key, changed);

    // Assess
    expect(answer.status).toBe(409);
    expect(errorCode(answer)).toBe('IDEMPOTENCY_KEY_REUSED');
    expect((await storedWorkflow(workflowId)).all).toEqual(before.all);
  });

  it('rejects a request without an Idempotency-Key with 400 IDEMPOTENCY_KEY_REQUIRED', async () => {
    // Prepare
    const { token, sub } = await tokenFor('operator');

    // Act
    const answer = await submit(token, undefined, triageSample.text);

    // Assess
    expect(answer.status).toBe(400);
    expect(errorCode(answer)).toBe('IDEMPOTENCY_KEY_REQUIRED');
    // The id a missing header would stringify to must not exist either.
    expect((await storedWorkflow(api.workflows.workflowIdFor(sub, 'undefined'))).all).toEqual([]);
  });

  it('rejects a dependency cycle with 422 DEPENDENCY_CYCLE and writes no workflow, then accepts the fixed body under the same key', async () => {
    // Prepare
    const { token, sub } = await tokenFor('operator');
    const key = randomUUID();
    const prefix = uniqueId('cycle');
    const issue = (id: string, dependsOn: string) => ({
      issue_id: `${prefix}-${id}`,
      title: `Issue ${id} in a cycle`,
      severity: 'high',
      category: 'network',
      depends_on: [`${prefix}-${dependsOn}`],
    });
    const cyclic = { detected_issues: [issue('a', 'c'), issue('b', 'a'), issue('c', 'b')] };
    const workflowId = api.workflows.workflowIdFor(sub, key);

    // Act
    const answer = await submit(token, key, cyclic);
    const stored = await storedWorkflow(workflowId);
    const fixed = await submit(token, key, {
      detected_issues: [issue('a', 'b'), { ...issue('b', 'a'), depends_on: undefined }],
    });

    // Assess
    expect(answer.status).toBe(422);
    expect(errorCode(answer)).toBe('DEPENDENCY_CYCLE');
    expect(stored.all).toEqual([]);
    // The failed request released its idempotency record instead of burning the key.
    expect(fixed.status).toBe(202);
    // Two issues, two steps, DETAIL and META.
    expect((await storedWorkflow(workflowId)).all).toHaveLength(6);
  });

  it('rejects malformed JSON with 400 MALFORMED_JSON and writes no workflow', async () => {
    // Prepare
    const { token, sub } = await tokenFor('operator');
    const key = randomUUID();

    // Act
    const answer = await submit(token, key, '{"detected_issues": [');

    // Assess
    expect(answer.status).toBe(400);
    expect(errorCode(answer)).toBe('MALFORMED_JSON');
    expect((await storedWorkflow(api.workflows.workflowIdFor(sub, key))).all).toEqual([]);
  });

  it('rejects a body over 1 MiB with 413 PAYLOAD_TOO_LARGE and writes no workflow', async () => {
    // Prepare
    const { token, sub } = await tokenFor('operator');
    const key = randomUUID();
    const padding = 'x'.repeat(MAX_BODY_BYTES);
    const body = JSON.stringify({ ...sampleRequest, system_context: { tags: { padding } } });

    // Act
    const answer = await submit(token, key, body);

    // Assess
    expect(Buffer.byteLength(body)).toBeGreaterThan(MAX_BODY_BYTES);
    expect(answer.status).toBe(413);
    expect(errorCode(answer)).toBe('PAYLOAD_TOO_LARGE');
    expect((await storedWorkflow(api.workflows.workflowIdFor(sub, key))).all).toEqual([]);
  });

  it(`stores a batch of ${MAX_ISSUES_PER_REQUEST} issues completely, in chunked transactions`, async () => {
    // Prepare
    const { token } = await tokenFor('operator');
    const batch = generatedBatch(MAX_ISSUES_PER_REQUEST, uniqueId('big'));
    const send = jest.spyOn(api.clients.documentClient, 'send');

    // Act
    const answer = await submit(token, randomUUID(), batch);

    // Assess
    const transactions = send.mock.calls
      .map(([command]) => command)
      .filter((command) => command instanceof TransactWriteCommand);
    expect(answer.status).toBe(202);
    const { workflow_id } = IntakeAccepted.parse(answer.body);
    const stored = await storedWorkflow(workflow_id);
    expect(stored.meta).toMatchObject({ issue_count: MAX_ISSUES_PER_REQUEST, status: 'PENDING' });
    expect(stored.issues.size).toBe(MAX_ISSUES_PER_REQUEST);
    expect([...stored.issues.keys()].sort()).toEqual(batch.detected_issues.map((i) => i.issue_id).sort());
    // 1,000 issue items and DETAIL in transactions of at most 99 items, then META alone.
    const sizes = transactions.map((command) => command.input.TransactItems?.length ?? 0);
    expect(sizes.every((size) => size <= api.workflows.MAX_ITEMS_PER_TRANSACTION)).toBe(true);
    expect(sizes).toHaveLength(
      Math.ceil(MAX_ISSUES_PER_REQUEST / api.workflows.MAX_ITEMS_PER_TRANSACTION) + 1,
    );
    expect(sizes.at(-1)).toBe(1);
    // Every issue, DETAIL and META (no step: these issues are unassigned).
    expect(sizes.reduce((sum, size) => sum + size, 0)).toBe(MAX_ISSUES_PER_REQUEST + 2);
  });
});

describe('POST issues and the run', () => {
  it('starts no execution and answers execution_arn null when no issue can be assigned', async () => {
    // Prepare
    const { token, sub } = await tokenFor('operator');
    const key = randomUUID();
    const start = jest.spyOn(api.clients.sfn, 'send');

    // Act
    const answer = await submit(token, key, generatedBatch(3, uniqueId('manual')));

    // Assess
    expect(answer.status).toBe(202);
    const accepted = IntakeAccepted.parse(answer.body);
    expect(accepted).toMatchObject({ execution_arn: null, status: 'PENDING' });
    expect(assignedCount(accepted)).toBe(0);
    expect(start).not.toHaveBeenCalled();
    const stored = await storedWorkflow(api.workflows.workflowIdFor(sub, key));
    expect(stored.steps).toEqual([]);
    expect(stored.meta).toMatchObject({ step_count: 0, executions: [] });
  });

  it(`rejects more than ${MAX_WORKFLOW_STEPS} assigned issues with 422 PLAN_TOO_LARGE and writes nothing`, async () => {
    // Prepare
    const { token, sub } = await tokenFor('operator');
    const key = randomUUID();
    const batch = generatedBatch(MAX_WORKFLOW_STEPS + 1, uniqueId('huge'), true);

    // Act
    const answer = await submit(token, key, batch);

    // Assess
    expect(answer.status).toBe(422);
    expect(errorCode(answer)).toBe('PLAN_TOO_LARGE');
    expect(answer.body).toMatchObject({
      error: { details: [{ steps: MAX_WORKFLOW_STEPS + 1, limit: MAX_WORKFLOW_STEPS }] },
    });
    expect((await storedWorkflow(api.workflows.workflowIdFor(sub, key))).all).toEqual([]);
  });

  it(`accepts exactly ${MAX_WORKFLOW_STEPS} assigned issues as one workflow`, async () => {
    // Prepare
    const { token } = await tokenFor('operator');

    // Act
    const answer = await submit(
      token,
      randomUUID(),
      generatedBatch(MAX_WORKFLOW_STEPS, uniqueId('max'), true),
    );

    // Assess
    expect(answer.status).toBe(202);
    const accepted = IntakeAccepted.parse(answer.body);
    expect(assignedCount(accepted)).toBe(MAX_WORKFLOW_STEPS);
    expect((await storedWorkflow(accepted.workflow_id)).steps).toHaveLength(MAX_WORKFLOW_STEPS);
  });

  it('answers 429 when Step Functions throttles the start, and a retry with the same key starts the stored workflow', async () => {
    // Prepare
    const { token, sub } = await tokenFor('operator');
    const key = randomUUID();
    const workflowId = api.workflows.workflowIdFor(sub, key);
    failSend(api.clients.sfn, 'ThrottlingException');

    // Act
    const throttled = await submit(token, key, triageSample.text);
    const between = await storedWorkflow(workflowId);
    const retried = await submit(token, key, triageSample.text);

    // Assess
    expect(throttled.status).toBe(429);
    expect(errorCode(throttled)).toBe('THROTTLED');
    expect(throttled.headers['retry-after']).toBe('1');
    // The workflow was stored; only its start failed.
    expect(between.meta).toMatchObject({ status: 'PENDING', executions: [] });
    expect(retried.status).toBe(202);
    const accepted = IntakeAccepted.parse(retried.body);
    expect(accepted.execution_arn).toMatch(new RegExp(`:execution:[^:]+:${workflowId}$`));
    expect((await describeExecution(accepted.execution_arn ?? '')).status).toBe('RUNNING');
    expect((await storedWorkflow(workflowId)).meta?.executions).toEqual([accepted.execution_arn]);
  });
});

describe('POST issues when a transaction fails', () => {
  /** 250 issues: transactions of 99, 99 and 52 issue items, then META. */
  const BATCH_SIZE = 250;
  const CONFLICT_AT = 220;

  it('fails when a later chunk hits a conflicting item, and removes the chunks it had committed', async () => {
    // Prepare
    const { token, sub } = await tokenFor('operator');
    const key = randomUUID();
    const batch = generatedBatch(BATCH_SIZE, uniqueId('txn'));
    const workflowId = api.workflows.workflowIdFor(sub, key);
    const conflicting = batch.detected_issues[CONFLICT_AT]?.issue_id ?? '';
    // Another request's item where this request's third chunk will write.
    const foreign: Item = {
      ...keys.workflowIssue(workflowId, conflicting),
      entity: 'ISSUE',
      workflow_id: workflowId,
      issue_id: conflicting,
      request_hash: 'written-by-another-request',
    };
    await documents.send(new PutCommand({ TableName: TABLE_NAME, Item: foreign }));
    const send = jest.spyOn(api.clients.documentClient, 'send');

    // Act
    const answer = await submit(token, key, batch);

    // Assess
    const commands = send.mock.calls.map(([command]) => command);
    expect(answer.status).toBe(409);
    expect(errorCode(answer)).toBe('IDEMPOTENCY_KEY_REUSED');
    expect((await storedWorkflow(workflowId)).all).toEqual([foreign]);
    // The failure was real and late: two chunks committed before the third was cancelled ...
    const transactions = commands.filter((command) => command instanceof TransactWriteCommand);
    expect(transactions.map((command) => command.input.TransactItems?.length)).toEqual([99, 99, 53]);
    // ... and exactly their 198 items were deleted again.
    const deleted = commands
      .filter((command) => command instanceof BatchWriteCommand)
      .flatMap((command) => command.input.RequestItems?.[TABLE_NAME] ?? [])
      .map((request) => request.DeleteRequest?.Key?.SK);
    expect(deleted).toHaveLength(198);
    expect(new Set(deleted)).toEqual(
      new Set(batch.detected_issues.slice(0, 198).map((issue) => `ISSUE#${issue.issue_id}`)),
    );
  });

  it('rejects issue parameters nested deeper than DynamoDB can store with 400 VALIDATION_FAILED, and leaves nothing behind', async () => {
    // Prepare
    const { token, sub } = await tokenFor('operator');
    const key = randomUUID();
    const batch = generatedBatch(BATCH_SIZE, uniqueId('deep'));
    // An item nests at most 32 levels; under item.issue.parameters that leaves 30 maps.
    let deep: Record<string, unknown> = { leaf: true };
    for (let level = 1; level < 31; level++) deep = { nested: deep };
    // In the second chunk, so the first has committed when DynamoDB refuses this one.
    const issues = batch.detected_issues.map((issue, k) =>
      k === 150 ? { ...issue, parameters: deep } : issue,
    );
    const workflowId = api.workflows.workflowIdFor(sub, key);

    // Act
    const answer = await submit(token, key, { detected_issues: issues });

    // Assess
    expect((await storedWorkflow(workflowId)).all).toEqual([]);
    // The caller learns which field is wrong, and nothing of DynamoDB's own error.
    expect(JSON.stringify(answer.body)).not.toMatch(/dynamo|ValidationException/i);
    expect(answer.body).toMatchObject({
      error: { details: [expect.objectContaining({ path: 'detected_issues[150].parameters' })] },
    });
    expect({ status: answer.status, code: errorCode(answer) }).toEqual({
      status: 400,
      code: 'VALIDATION_FAILED',
    });
  });
});
