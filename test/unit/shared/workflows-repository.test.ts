import { triageIssues } from '#core/triage';
import { Identifier, type IssueTriageRequest } from '#core/wire';
import { ApiError, ConflictError } from '#shared/errors';
import { fakeTable } from './fake-table';
import { setTestEnv } from './fixtures';

let repo: typeof import('#shared/repository/workflows');

beforeAll(async () => {
  setTestEnv();
  repo = await import('#shared/repository/workflows');
});

const NOW = '2026-11-24T03:00:00.000Z';
const AGENTS = [{ agent_id: 'net-1', categories: ['network' as const], max_concurrency: 10 }];

/** `n` issues; every tenth is a security issue no agent can take (manual triage). */
function batch(n: number, title = 'DNS failing'): IssueTriageRequest {
  return {
    detected_issues: Array.from({ length: n }, (_, k) => ({
      issue_id: `i-${String(k).padStart(4, '0')}`,
      title,
      severity: 'medium' as const,
      category: k % 10 === 9 ? ('security' as const) : ('network' as const),
    })),
    system_context: { now: NOW },
  };
}

function input(request: IssueTriageRequest, overrides: { workflow_id?: string; created_at?: string } = {}) {
  return {
    workflow_id: overrides.workflow_id ?? 'wf-test',
    request,
    outcome: triageIssues(request, AGENTS, { now_ms: Date.parse(NOW) }),
    created_at: overrides.created_at ?? NOW,
    caller: 'ops-1',
  };
}

const transactions = (table: ReturnType<typeof fakeTable>) =>
  table.calls
    .filter((c) => c.name === 'TransactWriteCommand')
    .map((c) => c.input.TransactItems as { Put: { Item: Record<string, unknown> } }[]);
const issueItems = (table: ReturnType<typeof fakeTable>) =>
  [...table.items.values()].filter((i) => String(i.SK).startsWith('ISSUE#'));
const metaOf = (table: ReturnType<typeof fakeTable>, id = 'wf-test') => table.items.get(`WF#${id}|META`);

async function thrown(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected the call to fail');
}

describe('createWorkflow', () => {
  it('writes 1,000 issues, their 900 steps and the DETAIL item in transactions of at most 99, then META alone, last', async () => {
    // Prepare
    const table = fakeTable();
    const workflows = new repo.WorkflowRepository(table.client, 'T');

    // Act
    const result = await workflows.createWorkflow(input(batch(1000)));

    // Assess
    const txs = transactions(table);
    expect(result).toBe('CREATED');
    expect(txs.map((t) => t.length)).toEqual([...Array(19).fill(99), 20, 1]);
    expect(txs.at(-2)?.at(-1)?.Put.Item.SK).toBe('DETAIL');
    const stepItems = txs.flat().filter((a) => String(a.Put.Item.SK).startsWith('STEP#'));
    expect(stepItems).toHaveLength(900);
    expect(stepItems[0]?.Put.Item).toMatchObject({
      status: 'PENDING',
      attempts: 0,
      timeout_seconds: expect.any(Number),
    });
    expect(txs.at(-1)?.[0]?.Put.Item).toMatchObject({
      PK: 'WF#wf-test',
      SK: 'META',
      status: 'PENDING',
      GSI1PK: 'WORKFLOWS',
    });
    expect(issueItems(table)).toHaveLength(1000);
  });

  it('puts assigned issues in BACKLOG and unassigned ones in TRIAGE#MANUAL, sorted by time and ids', async () => {
    // Prepare
    const table = fakeTable();

    // Act
    await new repo.WorkflowRepository(table.client, 'T').createWorkflow(input(batch(20)));

    // Assess
    const byPartition = (p: string) =>
      issueItems(table)
        .filter((i) => i.GSI1PK === p)
        .map((i) => i.issue_id);
    expect(byPartition('BACKLOG')).toHaveLength(18);
    expect(byPartition('TRIAGE#MANUAL')).toEqual(['i-0009', 'i-0019']);
    expect(table.items.get('WF#wf-test|ISSUE#i-0009')).toMatchObject({
      GSI1SK: `${NOW}#wf-test#i-0009`,
      decision: { status: 'UNASSIGNED', unassigned_reason: 'NO_CAPABLE_AGENT' },
    });
    expect(metaOf(table)).toMatchObject({ issue_count: 20, assigned_count: 18, unassigned_count: 2 });
    // The plan and assignment summary live in the write-once DETAIL item, so META (updated by
    // every step transition) stays small.
    expect(metaOf(table)).not.toHaveProperty('assignment');
    expect(metaOf(table)).not.toHaveProperty('plan');
    expect(table.items.get('WF#wf-test|DETAIL')).toMatchObject({
      entity: 'WORKFLOW_DETAIL',
      assignment: { execution_order: expect.any(Array) },
      plan: { makespan: expect.any(String) },
    });
    expect(table.items.get('WF#wf-test|DETAIL')?.assignment).not.toHaveProperty('decisions');
  });

  it('leaves nothing behind when a later chunk fails, and rethrows', async () => {
    // Prepare
    const table = fakeTable();
    const boom = new Error('socket hang up');
    table.failWhen = (name, _input, index) =>
      name === 'TransactWriteCommand' && index === 2 ? { error: boom } : undefined;

    // Act
    const error = await thrown(
      new repo.WorkflowRepository(table.client, 'T').createWorkflow(input(batch(300))),
    );

    // Assess
    expect(error).toBe(boom);
    expect(table.items.size).toBe(0);
    const deleted = table.calls
      .filter((c) => c.name === 'BatchWriteCommand')
      .flatMap((c) => Object.values(c.input.RequestItems as Record<string, unknown[]>).flat());
    expect(deleted).toHaveLength(198);
  });

  it('cleans up and answers 429 when the META write is throttled', async () => {
    // Prepare
    const table = fakeTable();
    const throttled = Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' });
    table.failWhen = (name, inputs) =>
      name === 'TransactWriteCommand' && (inputs.TransactItems as unknown[]).length === 1
        ? { error: throttled }
        : undefined;

    // Act
    const error = await thrown(
      new repo.WorkflowRepository(table.client, 'T').createWorkflow(input(batch(120))),
    );

    // Assess
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ status: 429, code: 'THROTTLED' });
    expect(table.items.size).toBe(0);
  });

  it('succeeds without cleanup when META was written but its response was lost', async () => {
    // Prepare
    const table = fakeTable();
    table.failWhen = (name, inputs) =>
      name === 'TransactWriteCommand' && (inputs.TransactItems as unknown[]).length === 1
        ? { error: new Error('ECONNRESET'), apply: true }
        : undefined;

    // Act
    const result = await new repo.WorkflowRepository(table.client, 'T').createWorkflow(input(batch(50)));

    // Assess
    expect(result).toBe('CREATED');
    expect(issueItems(table)).toHaveLength(50);
    expect(table.calls.some((c) => c.name === 'BatchWriteCommand')).toBe(false);
  });

  it('rewrites the items of an earlier crashed attempt of the same request and commits', async () => {
    // Prepare: a first attempt wrote its first chunk and died before cleaning up.
    const scratch = fakeTable();
    await new repo.WorkflowRepository(scratch.client, 'T').createWorkflow(input(batch(150)));
    const table = fakeTable();
    for (const item of issueItems(scratch).slice(0, 99)) table.put(item);
    const retriedAt = '2026-11-24T03:01:00.000Z';

    // Act
    const result = await new repo.WorkflowRepository(table.client, 'T').createWorkflow(
      input(batch(150), { created_at: retriedAt }),
    );

    // Assess
    expect(result).toBe('CREATED');
    expect(issueItems(table)).toHaveLength(150);
    expect(issueItems(table).every((i) => i.created_at === retriedAt)).toBe(true);
    expect(metaOf(table)?.created_at).toBe(retriedAt);
  });

  it('answers EXISTS, writing nothing, when the same request was already committed', async () => {
    // Prepare
    const table = fakeTable();
    const workflows = new repo.WorkflowRepository(table.client, 'T');
    await workflows.createWorkflow(input(batch(30)));
    const writesBefore = transactions(table).length;

    // Act
    const result = await workflows.createWorkflow(
      input(batch(30), { created_at: '2026-11-25T00:00:00.000Z' }),
    );

    // Assess
    expect(result).toBe('EXISTS');
    expect(transactions(table)).toHaveLength(writesBefore);
  });

  it('rejects another request under a committed workflow id with 409, writing nothing', async () => {
    // Prepare
    const table = fakeTable();
    const workflows = new repo.WorkflowRepository(table.client, 'T');
    await workflows.createWorkflow(input(batch(30)));
    const writesBefore = transactions(table).length;

    // Act
    const error = await thrown(workflows.createWorkflow(input(batch(30, 'Disk full'))));

    // Assess
    expect(error).toBeInstanceOf(ConflictError);
    expect(error).toMatchObject({ status: 409, code: 'IDEMPOTENCY_KEY_REUSED' });
    expect(transactions(table)).toHaveLength(writesBefore);
  });

  it('never overwrites uncommitted items of another request; removes only its own', async () => {
    // Prepare: another request's attempt left i-0100 behind, without META.
    const table = fakeTable();
    const stranger = {
      PK: 'WF#wf-test',
      SK: 'ISSUE#i-0100',
      request_hash: 'someone-else',
      issue_id: 'i-0100',
    };
    table.put(stranger);

    // Act
    const error = await thrown(
      new repo.WorkflowRepository(table.client, 'T').createWorkflow(input(batch(150))),
    );

    // Assess
    expect(error).toMatchObject({ status: 409, code: 'IDEMPOTENCY_KEY_REUSED' });
    expect([...table.items.values()]).toEqual([stranger]);
  });

  it('rejects an issue too large to store with 413 before writing', async () => {
    // Prepare
    const table = fakeTable();
    const request = batch(2);
    const big = { ...request.detected_issues[0], parameters: { blob: 'x'.repeat(400 * 1024) } };
    const oversized = { ...request, detected_issues: [big as (typeof request.detected_issues)[number]] };

    // Act
    const error = await thrown(
      new repo.WorkflowRepository(table.client, 'T').createWorkflow(input(oversized)),
    );

    // Assess
    expect(error).toMatchObject({ status: 413, code: 'ISSUE_TOO_LARGE' });
    expect(table.calls).toHaveLength(0);
  });
});

describe('getIntakeAccepted', () => {
  it('rebuilds the original 202 answer from the stored items', async () => {
    // Prepare
    const table = fakeTable();
    const workflows = new repo.WorkflowRepository(table.client, 'T');
    const stored = input(batch(120));
    await workflows.createWorkflow(stored);

    // Act
    const answer = await workflows.getIntakeAccepted('wf-test');

    // Assess
    expect(answer).toEqual({
      workflow_id: 'wf-test',
      execution_arn: null,
      status: 'PENDING',
      assignment: stored.outcome.assignment,
    });
  });

  it('fails with 404 for a workflow that never committed', async () => {
    const table = fakeTable();
    table.put({ PK: 'WF#wf-x', SK: 'ISSUE#a', request_hash: 'h' });
    const error = await thrown(new repo.WorkflowRepository(table.client, 'T').getIntakeAccepted('wf-x'));
    expect(error).toMatchObject({ status: 404 });
  });
});

describe('listBacklog and backlogPlan', () => {
  it('lists only assigned issues of committed workflows, and plans them with unique step ids', async () => {
    // Prepare
    const table = fakeTable();
    const workflows = new repo.WorkflowRepository(table.client, 'T');
    const chained: IssueTriageRequest = {
      detected_issues: [
        { issue_id: 'a', title: 'DNS failing', severity: 'high', category: 'network' },
        { issue_id: 'b', title: 'DNS failing', severity: 'low', category: 'network', depends_on: ['a'] },
      ],
      system_context: { now: NOW },
    };
    await workflows.createWorkflow(input(chained, { workflow_id: 'wf-one' }));
    await workflows.createWorkflow(input(chained, { workflow_id: 'wf-two' }));
    table.put({
      PK: 'WF#wf-orphan',
      SK: 'ISSUE#a',
      GSI1PK: 'BACKLOG',
      GSI1SK: 'z',
      workflow_id: 'wf-orphan',
      request_hash: 'h',
    });

    // Act
    const { entries, truncated } = await workflows.listBacklog();
    const plan = repo.backlogPlan(entries, AGENTS, { max_parallel_steps: 2 });

    // Assess
    expect(truncated).toBe(false);
    expect(entries.map((e) => `${e.workflow_id}/${e.issue.issue_id}`).sort()).toEqual([
      'wf-one/a',
      'wf-one/b',
      'wf-two/a',
      'wf-two/b',
    ]);
    expect(plan.constraints).toEqual({ max_parallel_steps: 2 });
    expect(plan.steps.find((s) => s.step_id === 'wf-two:b')).toMatchObject({
      issue_id: 'b',
      agent_id: 'net-1',
      depends_on: ['wf-two:a'],
    });
  });

  it('reports truncation past the limit', async () => {
    const table = fakeTable();
    const workflows = new repo.WorkflowRepository(table.client, 'T');
    await workflows.createWorkflow(input(batch(30)));
    const { entries, truncated } = await workflows.listBacklog(10);
    expect(entries).toHaveLength(10);
    expect(truncated).toBe(true);
  });

  it('drops the agent of a step whose agent is gone, and dependencies that left the backlog', () => {
    const plan = repo.backlogPlan(
      [
        {
          workflow_id: 'wf-1',
          issue: { issue_id: 'b', title: 't', severity: 'low', depends_on: ['a'] },
          agent_id: 'gone-1',
          category: 'network',
        },
      ],
      AGENTS,
    );
    expect(plan.steps).toEqual([
      expect.objectContaining({ step_id: 'wf-1:b', category: 'network', depends_on: [] }),
    ]);
    expect(plan.steps[0]).not.toHaveProperty('agent_id');
  });
});

describe('workflowIdFor and canonicalJson', () => {
  it('derives a stable, valid, caller-scoped workflow id', () => {
    const id = repo.workflowIdFor('ops-1', 'key-1');
    expect(id).toBe(repo.workflowIdFor('ops-1', 'key-1'));
    expect(id).toMatch(/^wf-[a-z2-7]{26}$/);
    expect(Identifier.safeParse(id).success).toBe(true);
    expect(repo.workflowIdFor('ops-2', 'key-1')).not.toBe(id);
    expect(repo.workflowIdFor('ops-1', 'key-2')).not.toBe(id);
  });

  it('ignores key order and undefined fields', () => {
    expect(repo.canonicalJson({ b: 1, a: [{ y: 2, x: undefined, w: 'v' }] })).toBe(
      '{"a":[{"w":"v","y":2}],"b":1}',
    );
  });
});
