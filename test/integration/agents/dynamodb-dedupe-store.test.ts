/**
 * DynamoDbDedupeStore against the DynamoDB Local that global-setup.ts booted (table and
 * endpoint from the environment), over the real SDK.
 */
import { randomUUID } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import {
  DEDUPE_SORT_KEY,
  DEFAULT_DEDUPE_KEY_PREFIX,
  DEFAULT_DEDUPE_TTL_SECONDS,
  DedupeClaimLostError,
  DynamoDbDedupeStore,
  InvalidDedupeRecordError,
} from '#agents/sdk/dynamodb-dedupe-store';
import type { DedupeRecord } from '#agents/sdk/index';

function requireEnv(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set; run this through the integration Jest project`);
  return value;
}

const TABLE_NAME = requireEnv('TABLE_NAME');
const documents = DynamoDBDocumentClient.from(new DynamoDBClient({}), {
  marshallOptions: { removeUndefinedValues: true },
});

afterAll(() => {
  documents.destroy();
});

/** A dedupe key no other test uses. */
const freshKey = (): string => `wf-${randomUUID()}#step-1#execute`;

/** Each store is what one agent instance (a Lambda execution environment) would build. */
const instance = (): DynamoDbDedupeStore =>
  new DynamoDbDedupeStore({ tableName: TABLE_NAME, client: documents });

async function rawItem(key: string, keyPrefix = DEFAULT_DEDUPE_KEY_PREFIX): Promise<Record<string, unknown>> {
  const { Item } = await documents.send(
    new GetCommand({ TableName: TABLE_NAME, Key: { PK: `${keyPrefix}${key}`, SK: DEDUPE_SORT_KEY } }),
  );
  if (!Item) throw new Error(`no item for ${key}`);
  return Item;
}

const nowSeconds = (): number => Math.floor(Date.now() / 1000);

describe('DynamoDbDedupeStore claim', () => {
  it('lets exactly one of two instances claiming the same delivery at once win', async () => {
    // Prepare
    const key = freshKey();
    const [first, second] = [instance(), instance()];
    // Act
    const won = await Promise.all([first.claim(key, 'token-1'), second.claim(key, 'token-1')]);
    // Assess
    expect(won.filter(Boolean)).toHaveLength(1);
    expect(await first.get(key)).toEqual({ status: 'IN_PROGRESS', task_token: 'token-1' });
  });

  it('lets exactly one of ten concurrent claims win', async () => {
    // Prepare
    const key = freshKey();
    const stores = Array.from({ length: 10 }, instance);
    // Act
    const won = await Promise.all(stores.map((store) => store.claim(key, 'token-1')));
    // Assess
    expect(won.filter(Boolean)).toHaveLength(1);
  });

  it('takes over a run still IN_PROGRESS on another token, as a workflow Retry dispatches it', async () => {
    // Prepare
    const key = freshKey();
    const store = instance();
    await store.claim(key, 'token-1');
    // Act
    const won = await store.claim(key, 'token-2');
    // Assess
    expect(won).toBe(true);
    expect(await store.get(key)).toEqual({ status: 'IN_PROGRESS', task_token: 'token-2' });
  });

  it('claims over an item whose ttl has passed but that DynamoDB has not deleted yet', async () => {
    // Prepare
    const key = freshKey();
    await documents.send(
      new PutCommand({
        TableName: TABLE_NAME,
        Item: {
          PK: `${DEFAULT_DEDUPE_KEY_PREFIX}${key}`,
          SK: DEDUPE_SORT_KEY,
          status: 'SUCCEEDED',
          task_token: 'token-1',
          output: '{}',
          ttl: nowSeconds() - 60,
        },
      }),
    );
    const store = instance();
    // Act
    const seen = await store.get(key);
    const won = await store.claim(key, 'token-1');
    // Assess
    expect(seen).toBeUndefined();
    expect(won).toBe(true);
  });

  it('rejects a put of IN_PROGRESS that would take over a live claim on the same token', async () => {
    // Prepare
    const key = freshKey();
    await instance().claim(key, 'token-1');
    // Act
    const put = instance().put(key, { status: 'IN_PROGRESS', task_token: 'token-1' });
    // Assess
    await expect(put).rejects.toThrow(DedupeClaimLostError);
  });

  it('fails when the table does not exist, rather than reporting a lost claim', async () => {
    // Prepare
    const store = new DynamoDbDedupeStore({ tableName: 'no-such-table', client: documents });
    // Act
    const claim = store.claim(freshKey(), 'token-1');
    // Assess
    await expect(claim).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
  });
});

describe('DynamoDbDedupeStore records', () => {
  it('replays a stored success to another instance and refuses every later claim on it', async () => {
    // Prepare
    const key = freshKey();
    const success: DedupeRecord = { status: 'SUCCEEDED', task_token: 'token-1', output: '{"fixed":true}' };
    await instance().claim(key, 'token-1');
    await instance().put(key, success);
    const other = instance();
    // Act
    const seen = await other.get(key);
    const sameToken = await other.claim(key, 'token-1');
    const newToken = await other.claim(key, 'token-2');
    // Assess
    expect(seen).toEqual(success);
    expect(sameToken).toBe(false);
    expect(newToken).toBe(false);
  });

  it('keeps a failure for its token and lets a new token claim the step again', async () => {
    // Prepare
    const key = freshKey();
    const failure: DedupeRecord = {
      status: 'FAILED',
      task_token: 'token-1',
      error: 'Agent.Transient',
      cause: 'throttled',
    };
    const store = instance();
    await store.put(key, failure);
    // Act
    const seen = await store.get(key);
    const sameToken = await store.claim(key, 'token-1');
    const newToken = await store.claim(key, 'token-2');
    // Assess
    expect(seen).toEqual(failure);
    expect(sameToken).toBe(false);
    expect(newToken).toBe(true);
    expect(await store.get(key)).toEqual({ status: 'IN_PROGRESS', task_token: 'token-2' });
  });

  it('writes PK, SK and a ttl of now plus ttlSeconds on every record', async () => {
    // Prepare
    const key = freshKey();
    const store = new DynamoDbDedupeStore({
      tableName: TABLE_NAME,
      client: documents,
      keyPrefix: 'AGENT_DEDUPE#network-1#',
      ttlSeconds: 3_600,
    });
    const before = nowSeconds();
    // Act
    await store.claim(key, 'token-1');
    const claimed = await rawItem(key, 'AGENT_DEDUPE#network-1#');
    await store.put(key, { status: 'SUCCEEDED', task_token: 'token-1', output: '{}' });
    const answered = await rawItem(key, 'AGENT_DEDUPE#network-1#');
    const after = nowSeconds();
    // Assess
    expect(claimed).toMatchObject({ SK: 'DEDUPE', status: 'IN_PROGRESS', task_token: 'token-1' });
    expect(answered).toMatchObject({
      PK: `AGENT_DEDUPE#network-1#${key}`,
      SK: 'DEDUPE',
      status: 'SUCCEEDED',
      output: '{}',
    });
    for (const item of [claimed, answered]) {
      expect(item.ttl).toBeGreaterThanOrEqual(before + 3_600);
      expect(item.ttl).toBeLessThanOrEqual(after + 3_600);
    }
  });

  it('defaults to the AGENT_DEDUPE# prefix, a seven-day ttl and a client from the environment', async () => {
    // Prepare
    const key = freshKey();
    const store = new DynamoDbDedupeStore({ tableName: TABLE_NAME });
    // Act
    await store.put(key, { status: 'FAILED', task_token: 'token-1', error: 'Agent.Permanent', cause: 'x' });
    const item = await rawItem(key);
    // Assess
    expect(item.PK).toBe(`AGENT_DEDUPE#${key}`);
    expect(item.ttl).toBeGreaterThanOrEqual(nowSeconds() + DEFAULT_DEDUPE_TTL_SECONDS - 5);
    expect(await store.get(key)).toEqual({
      status: 'FAILED',
      task_token: 'token-1',
      error: 'Agent.Permanent',
      cause: 'x',
    });
  });

  it('returns nothing for a key never written', async () => {
    expect(await instance().get(freshKey())).toBeUndefined();
  });

  it('rejects an item under its prefix that is not a dedupe record', async () => {
    // Prepare
    const key = freshKey();
    await documents.send(
      new PutCommand({
        TableName: TABLE_NAME,
        Item: { PK: `${DEFAULT_DEDUPE_KEY_PREFIX}${key}`, SK: DEDUPE_SORT_KEY, status: 'SUCCEEDED' },
      }),
    );
    // Act
    const read = instance().get(key);
    // Assess
    await expect(read).rejects.toThrow(InvalidDedupeRecordError);
  });
});
