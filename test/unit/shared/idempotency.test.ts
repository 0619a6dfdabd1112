import './test-env';
import { ConditionalCheckFailedException, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import * as z from 'zod';
import { httpHandler } from '#shared/http';
import { idempotentRequests } from '#shared/idempotency';
import type { RouteSpec } from '#shared/routes';
import { apiEvent, type EventOptions, errorOf, jsonBody, lambdaContext } from './fixtures';

type Item = Record<string, unknown>;

/**
 * A real SDK client whose requests never leave the process: a middleware answers the
 * four calls Powertools' DynamoDB persistence layer makes, with its put condition.
 */
function fakeIdempotencyStore() {
  const items = new Map<string, Item>();
  const client = new DynamoDBClient({
    region: 'eu-west-1',
    credentials: { accessKeyId: 'x', secretAccessKey: 'y' },
  });
  const keyOf = (key: Item) => `${String(key.PK)}|${String(key.SK)}`;
  const answer = (commandName: string, input: Record<string, unknown>): unknown => {
    const key = input.Key ? keyOf(unmarshall(input.Key as never)) : '';
    switch (commandName) {
      case 'PutItemCommand': {
        const item = unmarshall(input.Item as never);
        const existing = items.get(keyOf(item));
        const now = Date.now();
        const reusable =
          !existing ||
          Number(existing.expiration) < now / 1000 ||
          (existing.status === 'INPROGRESS' && Number(existing.in_progress_expiration) < now);
        if (!reusable)
          throw new ConditionalCheckFailedException({
            message: 'The conditional request failed',
            $metadata: {},
            Item: marshall(existing) as never,
          });
        items.set(keyOf(item), item);
        return {};
      }
      case 'GetItemCommand':
        return { Item: items.has(key) ? marshall(items.get(key)) : undefined };
      case 'UpdateItemCommand': {
        const names = input.ExpressionAttributeNames as Record<string, string>;
        const values = unmarshall(input.ExpressionAttributeValues as never);
        const next: Item = { ...items.get(key), ...unmarshall(input.Key as never) };
        for (const assignment of String(input.UpdateExpression).replace(/^SET /, '').split(', ')) {
          const [name, value] = assignment.split(' = ');
          next[names[String(name)] ?? String(name)] = values[String(value)];
        }
        items.set(key, next);
        return {};
      }
      case 'DeleteItemCommand':
        items.delete(key);
        return {};
      default:
        throw new Error(`unexpected ${commandName}`);
    }
  };
  client.middlewareStack.add(
    (_next, context) => async (args) => ({
      output: answer(String(context.commandName), args.input as Record<string, unknown>) as never,
      response: {},
    }),
    { step: 'initialize', name: 'fakeIdempotencyStore' },
  );
  return { items, client };
}

const ROUTE: RouteSpec = {
  method: 'POST',
  path: 'things',
  function: 'intake',
  operationId: 'createThing',
  summary: 'test',
  roles: ['operator'],
  request: z.object({ n: z.number() }),
  success: { status: 202 },
  idempotent: true,
};

function setup(
  impl: (body: unknown) => Promise<unknown> = async () => ({ workflow_id: 'wf-1', bulky: 'x'.repeat(1000) }),
) {
  const store = fakeIdempotencyStore();
  const executions: unknown[] = [];
  const handler = httpHandler(
    ROUTE,
    async ({ body }) => {
      executions.push(body);
      return { body: await impl(body) };
    },
    {
      idempotency: idempotentRequests({
        tableName: 'T',
        name: 'things',
        client: store.client,
        compact: ({ status, body }) => ({
          status,
          body: { workflow_id: (body as { workflow_id: string }).workflow_id },
        }),
        expand: async ({ status, body }) => ({ status, body: { ...(body as object), rebuilt: true } }),
      }),
    },
  );
  const call = (options: EventOptions = {}) =>
    handler(
      apiEvent({
        resource: '/api/orchestrator/things',
        principal: { sub: 'ops-1', role: 'operator' },
        headers: { 'Idempotency-Key': 'key-1' },
        body: JSON.stringify({ n: 1 }),
        ...options,
      }),
      lambdaContext(),
    );
  return { store, executions, call };
}

describe('idempotentRequests', () => {
  it('runs once; a retry gets the answer rebuilt from the compact record', async () => {
    // Prepare
    const { store, executions, call } = setup();

    // Act
    const first = await call();
    const retry = await call({ body: JSON.stringify({ n: 1 }) });

    // Assess
    expect(first.statusCode).toBe(202);
    expect(jsonBody(first)).toMatchObject({ workflow_id: 'wf-1' });
    expect(retry.statusCode).toBe(202);
    expect(jsonBody(retry)).toEqual({ workflow_id: 'wf-1', rebuilt: true });
    expect(retry.headers).toMatchObject({ 'x-content-type-options': 'nosniff' });
    expect(executions).toHaveLength(1);
    const [record] = [...store.items.values()];
    expect(record).toMatchObject({ PK: 'IDEMPOTENCY#things', status: 'COMPLETED' });
    expect(JSON.stringify(record?.data)).not.toContain('bulky');
  });

  it('keys by caller: another caller with the same key runs on its own', async () => {
    const { executions, call } = setup();
    await call();
    await call({ principal: { sub: 'ops-2', role: 'operator' } });
    expect(executions).toHaveLength(2);
  });

  it('rejects the same key with another body (409) and keeps the original record', async () => {
    // Prepare
    const { store, executions, call } = setup();
    await call();

    // Act
    const reused = await call({ body: JSON.stringify({ n: 2 }) });
    const retry = await call();

    // Assess
    expect(reused.statusCode).toBe(409);
    expect(errorOf(reused).code).toBe('IDEMPOTENCY_KEY_REUSED');
    expect(store.items.size).toBe(1);
    expect(jsonBody(retry)).toEqual({ workflow_id: 'wf-1', rebuilt: true });
    expect(executions).toHaveLength(1);
  });

  it('answers 409 REQUEST_IN_PROGRESS to a duplicate while the first runs, without dropping its lock', async () => {
    // Prepare
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const { store, executions, call } = setup(async () => {
      await gate;
      return { workflow_id: 'wf-1' };
    });

    // Act
    const first = call();
    await new Promise((resolve) => setImmediate(resolve));
    const duplicate = await call();
    const lockAfterDuplicate = [...store.items.values()][0]?.status;
    release();
    const firstResult = await first;

    // Assess
    expect(duplicate.statusCode).toBe(409);
    expect(errorOf(duplicate).code).toBe('REQUEST_IN_PROGRESS');
    expect(duplicate.headers).toMatchObject({ 'retry-after': '2' });
    expect(lockAfterDuplicate).toBe('INPROGRESS');
    expect(firstResult.statusCode).toBe(202);
    expect([...store.items.values()][0]?.status).toBe('COMPLETED');
    expect(executions).toHaveLength(1);
  });

  it('forgets a request that failed, so its retry runs again', async () => {
    // Prepare
    let fail = true;
    const { store, executions, call } = setup(async () => {
      if (fail) throw new Error('downstream exploded');
      return { workflow_id: 'wf-1' };
    });

    // Act
    const failed = await call();
    const afterFailure = store.items.size;
    fail = false;
    const retried = await call();

    // Assess
    expect(failed.statusCode).toBe(500);
    expect(afterFailure).toBe(0);
    expect(retried.statusCode).toBe(202);
    expect(executions).toHaveLength(2);
  });

  it('requires a well-formed Idempotency-Key header', async () => {
    // Prepare
    const { store, executions, call } = setup();

    // Act
    const missing = await call({ headers: {} });
    const invalid = await call({ headers: { 'idempotency-key': 'has space' } });

    // Assess
    expect(missing.statusCode).toBe(400);
    expect(errorOf(missing).code).toBe('IDEMPOTENCY_KEY_REQUIRED');
    expect(invalid.statusCode).toBe(400);
    expect(errorOf(invalid).code).toBe('IDEMPOTENCY_KEY_INVALID');
    expect(store.items.size).toBe(0);
    expect(executions).toHaveLength(0);
  });
});
