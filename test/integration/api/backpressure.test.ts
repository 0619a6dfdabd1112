/**
 * Backpressure on POST issues and POST workflows over the real chain and DynamoDB Local: at or
 * above MAX_BACKLOG_ISSUES backlog issues, new work gets 429 BACKLOG_FULL with Retry-After and
 * nothing is written; an idempotent replay still gets its 202; once the backlog drains, new
 * work is accepted again. Also WorkflowRepository.countBacklog's bounded paging.
 *
 * The file runs on a table of its own with a bound of 3 and no count cache (backlog-env.ts),
 * so the backlog is exactly what these tests put in it; it must load before ./harness (it sorts
 * before it, and beforeAll checks the table name). The tests run in order: each builds on
 * the backlog the previous one left.
 */

import { randomUUID } from 'node:crypto';
import { DeleteTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, PutCommand, QueryCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { IntakeAccepted, WorkflowAccepted } from '#core/wire';
import { createTableFromDesign } from '#local/dynamodb-local';
import { GSI1, GSI1_PARTITIONS, IDEMPOTENCY_PK_PREFIX, keys } from '#shared/table-design';
import { BACKLOG_TEST_ENV, restoreBacklogEnv } from './backlog-env';
import {
  type Api,
  documents,
  errorCode,
  type Item,
  loadApi,
  queryPartition,
  referenceAgents,
  registerAgents,
  TABLE_NAME,
  tokenFor,
} from './harness';
import { planOf } from './workflow-helpers';

const BOUND = Number(BACKLOG_TEST_ENV.MAX_BACKLOG_ISSUES);
const NETWORK = 'reference-network';

let api: Api;
const tables = new DynamoDBClient({});

beforeAll(async () => {
  expect(TABLE_NAME).toBe(BACKLOG_TEST_ENV.TABLE_NAME);
  await createTableFromDesign(tables, TABLE_NAME);
  api = await loadApi();
  await registerAgents(api, referenceAgents());
  // Executions start, but no Task changes the stored workflows behind the tests' backs.
  api.runtime.pauseWorkflowTasks();
});

afterEach(() => {
  jest.restoreAllMocks();
});

afterAll(async () => {
  await api?.close();
  await tables.send(new DeleteTableCommand({ TableName: TABLE_NAME }));
  tables.destroy();
  restoreBacklogEnv();
});

/** `count` network issues, each assigned to the network agent: each adds one to the backlog. */
function issues(count: number, prefix = randomUUID().slice(0, 8)) {
  return {
    detected_issues: Array.from({ length: count }, (_, k) => ({
      issue_id: `${prefix}-${k}`,
      title: `DNS resolution failing in zone ${k}`,
      severity: 'high' as const,
      category: 'network' as const,
      estimated_duration: 'PT2M',
    })),
  };
}

async function submitIssues(token: string, key: string, body: unknown) {
  return api.call({ operationId: 'submitIssues', token, body, headers: { 'Idempotency-Key': key } });
}

async function startWorkflow(token: string, key: string, body: unknown) {
  return api.call({ operationId: 'startWorkflow', token, body, headers: { 'Idempotency-Key': key } });
}

/** Every item in this file's table, in a stable order. */
async function allItems(): Promise<Item[]> {
  const items: Item[] = [];
  let cursor: Record<string, unknown> | undefined;
  do {
    const page = await documents.send(
      new ScanCommand({ TableName: TABLE_NAME, ConsistentRead: true, ExclusiveStartKey: cursor }),
    );
    items.push(...(page.Items ?? []));
    cursor = page.LastEvaluatedKey;
  } while (cursor);
  return items.sort((a, b) => `${a.PK}|${a.SK}`.localeCompare(`${b.PK}|${b.SK}`));
}

async function backlogSize(): Promise<number> {
  const { Count } = await documents.send(
    new QueryCommand({
      TableName: TABLE_NAME,
      IndexName: GSI1.indexName,
      KeyConditionExpression: '#pk = :pk',
      ExpressionAttributeNames: { '#pk': GSI1.partitionKey },
      ExpressionAttributeValues: { ':pk': GSI1_PARTITIONS.backlog },
      Select: 'COUNT',
    }),
  );
  return Count ?? 0;
}

/** What the workflow handler does when a workflow ends: its issues leave the backlog. */
async function drain(workflowId: string): Promise<void> {
  const { WorkflowTransitions } = await import('#shared/repository/workflow-transitions');
  await new WorkflowTransitions(documents, TABLE_NAME).clearBacklog(workflowId);
}

/** Shared by the tests below, in order. */
const first = { token: '', sub: '', key: randomUUID(), body: issues(BOUND), answer: undefined as unknown };
const refused = { token: '', sub: '', key: randomUUID(), body: issues(1) };

describe('backpressure on new work', () => {
  it('accepts work while the backlog is below the bound', async () => {
    // Prepare
    Object.assign(first, await tokenFor('operator'));

    // Act
    const answer = await submitIssues(first.token, first.key, first.body);

    // Assess
    expect(answer.status).toBe(202);
    first.answer = answer.body;
    expect(IntakeAccepted.parse(answer.body).execution_arn).not.toBeNull();
    expect(await backlogSize()).toBe(BOUND);
  });

  it('rejects POST issues at the bound with 429 BACKLOG_FULL and Retry-After, and writes nothing', async () => {
    // Prepare
    Object.assign(refused, await tokenFor('operator'));
    const before = await allItems();

    // Act
    const answer = await submitIssues(refused.token, refused.key, refused.body);

    // Assess
    expect(answer.status).toBe(429);
    expect(errorCode(answer)).toBe('BACKLOG_FULL');
    expect(answer.headers['retry-after']).toBe(BACKLOG_TEST_ENV.BACKLOG_RETRY_AFTER_SECONDS);
    expect(answer.body).toMatchObject({
      error: {
        message: expect.stringContaining(`bound of ${BOUND}`),
        details: [{ max_backlog_issues: BOUND, retry_after_seconds: 17 }],
      },
    });
    // No workflow, no issue, and the idempotency lock released: the table is as it was.
    expect(
      await queryPartition(keys.workflow(api.workflows.workflowIdFor(refused.sub, refused.key)).PK),
    ).toEqual([]);
    expect(await allItems()).toEqual(before);
  });

  it('rejects POST workflows at the bound with 429 BACKLOG_FULL and Retry-After, and writes nothing', async () => {
    // Prepare
    const { token, sub } = await tokenFor('operator');
    const key = randomUUID();
    const before = await allItems();

    // Act
    const answer = await startWorkflow(token, key, planOf([{ step_id: 'flush', agent_id: NETWORK }]));

    // Assess
    expect(answer.status).toBe(429);
    expect(errorCode(answer)).toBe('BACKLOG_FULL');
    expect(answer.headers['retry-after']).toBe(BACKLOG_TEST_ENV.BACKLOG_RETRY_AFTER_SECONDS);
    expect(await queryPartition(keys.workflow(api.workflows.workflowIdFor(sub, key)).PK)).toEqual([]);
    expect(await allItems()).toEqual(before);
  });

  it('answers an idempotent replay of an accepted request with its stored 202 while the backlog is full', async () => {
    // Act
    const replay = await submitIssues(first.token, first.key, first.body);

    // Assess
    expect(replay.status).toBe(202);
    expect(replay.body).toEqual(first.answer);
  });

  it('lets the retry of an accepted request whose idempotency record is gone finish with 202, not 429', async () => {
    // Prepare: as if the first attempt stored its workflow and then crashed before saving its record.
    const records = await queryPartition(`${IDEMPOTENCY_PK_PREFIX}intake`);
    expect(records).toHaveLength(1);
    for (const record of records)
      await documents.send(
        new DeleteCommand({ TableName: TABLE_NAME, Key: { PK: record.PK, SK: record.SK } }),
      );
    const before = await backlogSize();

    // Act
    const retry = await submitIssues(first.token, first.key, first.body);

    // Assess
    expect(retry.status).toBe(202);
    expect(retry.body).toEqual(first.answer);
    expect(await backlogSize()).toBe(before);
  });

  it('accepts new work again once the backlog has drained below the bound', async () => {
    // Prepare
    await drain(IntakeAccepted.parse(first.answer).workflow_id);
    expect(await backlogSize()).toBe(0);
    const { token } = await tokenFor('operator');

    // Act: the refused request again, same key, and a new POST workflows.
    const issuesAnswer = await submitIssues(refused.token, refused.key, refused.body);
    const workflowAnswer = await startWorkflow(
      token,
      randomUUID(),
      planOf([{ step_id: 'flush', agent_id: NETWORK }]),
    );

    // Assess
    expect(issuesAnswer.status).toBe(202);
    expect(IntakeAccepted.parse(issuesAnswer.body).workflow_id).toBe(
      api.workflows.workflowIdFor(refused.sub, refused.key),
    );
    expect(workflowAnswer.status).toBe(202);
    WorkflowAccepted.parse(workflowAnswer.body);
    expect(await backlogSize()).toBe(1);
  });
});

describe('WorkflowRepository.countBacklog', () => {
  const fillers = Array.from({ length: 7 }, (_, k) => ({
    ...keys.workflowIssue('wf-count-filler', `i-${k}`),
    [GSI1.partitionKey]: GSI1_PARTITIONS.backlog,
    [GSI1.sortKey]: `2026-01-01T00:00:00.000Z#wf-count-filler#i-${k}`,
  }));

  beforeAll(async () => {
    for (const Item of fillers) await documents.send(new PutCommand({ TableName: TABLE_NAME, Item }));
  });

  afterAll(async () => {
    for (const { PK, SK } of fillers)
      await documents.send(new DeleteCommand({ TableName: TABLE_NAME, Key: { PK, SK } }));
  });

  it('counts up to the bound and never asks for more items than are still missing', async () => {
    // Prepare
    const total = await backlogSize();
    expect(total).toBeGreaterThan(5);
    const repository = new api.workflows.WorkflowRepository(documents, TABLE_NAME);
    const send = jest.spyOn(documents, 'send');

    // Act
    const atBound = await repository.countBacklog(5);
    const aboveAll = await repository.countBacklog(total + 10);

    // Assess
    expect(atBound).toBe(5);
    expect(aboveAll).toBe(total);
    const limits = send.mock.calls.map(([command]) => command.input as { Limit?: number; Select?: string });
    expect(limits[0]).toMatchObject({ Select: 'COUNT', Limit: 5 });
    expect(limits.every((input) => input.Select === 'COUNT')).toBe(true);
  });

  it('pages when the bound spans several pages and stops once it is reached', async () => {
    // Prepare: a sender that lets DynamoDB Local answer at most 2 items per page.
    const pages: number[] = [];
    const paged = {
      send: async (command: QueryCommand) => {
        const input = { ...command.input, Limit: Math.min(command.input.Limit ?? 2, 2) };
        const page = await documents.send(new QueryCommand(input));
        pages.push(page.Count ?? 0);
        return page;
      },
    };
    const repository = new api.workflows.WorkflowRepository(paged as typeof documents, TABLE_NAME);

    // Act
    const counted = await repository.countBacklog(5);

    // Assess
    expect(counted).toBe(5);
    expect(pages).toEqual([2, 2, 1]);
  });
});
