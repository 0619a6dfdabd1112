/**
 * A {@link DedupeStore} in DynamoDB, shared by every instance of an agent (Lambda execution
 * environments and pollers alike), with a conditional claim so that two instances handed the
 * same message at once never both run the handler.
 *
 * One item per dedupe key: `PK = <keyPrefix><key>`, `SK = 'DEDUPE'`, the record's fields
 * (`status`, `task_token`, `output` or `error` and `cause`) and `ttl` in epoch seconds. The
 * table needs the `PK`/`SK` string keys of the single-table design and TTL on `ttl`; the
 * IAM it takes is in agents/README.md.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { TABLE_KEYS, TTL_ATTRIBUTE } from '#shared/table-design';
import { DedupeRecord, type DedupeStore } from './idempotency';

export const DEFAULT_DEDUPE_KEY_PREFIX = 'AGENT_DEDUPE#';
/** Seven days: longer than any recovery workflow waits for one step. */
export const DEFAULT_DEDUPE_TTL_SECONDS = 7 * 24 * 60 * 60;
export const DEDUPE_SORT_KEY = 'DEDUPE';

export interface DynamoDbDedupeStoreOptions {
  readonly tableName: string;
  /** @default a DocumentClient from the environment (AWS_ENDPOINT_URL_DYNAMODB, AWS_REGION, ...) */
  readonly client?: DynamoDBDocumentClient;
  /** Starts every partition key, so IAM can confine the agent to its items. @default 'AGENT_DEDUPE#' */
  readonly keyPrefix?: string;
  /** How long a record lives after its last write. @default 604800 (7 days) */
  readonly ttlSeconds?: number;
}

/** An item under the store's prefix that is not a dedupe record. */
export class InvalidDedupeRecordError extends Error {
  override readonly name = 'InvalidDedupeRecordError';
}

/** A `put` of an IN_PROGRESS record lost its claim: another delivery holds the key. */
export class DedupeClaimLostError extends Error {
  override readonly name = 'DedupeClaimLostError';
}

/**
 * @example
 * const agent = createAgent({
 *   ...options,
 *   dedupe: new DynamoDbDedupeStore({ tableName: config.tableName }),
 * });
 */
export class DynamoDbDedupeStore implements DedupeStore {
  readonly tableName: string;
  readonly keyPrefix: string;
  readonly ttlSeconds: number;
  private readonly client: DynamoDBDocumentClient;

  constructor(options: DynamoDbDedupeStoreOptions) {
    if (options.tableName === '') throw new RangeError('tableName must not be empty');
    const ttlSeconds = options.ttlSeconds ?? DEFAULT_DEDUPE_TTL_SECONDS;
    if (!Number.isInteger(ttlSeconds) || ttlSeconds < 1)
      throw new RangeError('ttlSeconds must be a positive integer');
    this.tableName = options.tableName;
    this.keyPrefix = options.keyPrefix ?? DEFAULT_DEDUPE_KEY_PREFIX;
    this.ttlSeconds = ttlSeconds;
    // Created once per store, which an agent builds once, at module scope.
    this.client =
      options.client ??
      DynamoDBDocumentClient.from(new DynamoDBClient({ maxAttempts: 5, retryMode: 'standard' }), {
        marshallOptions: { removeUndefinedValues: true },
      });
  }

  async get(key: string): Promise<DedupeRecord | undefined> {
    const { Item } = await this.client.send(
      new GetCommand({ TableName: this.tableName, Key: this.itemKey(key), ConsistentRead: true }),
    );
    // TTL deletion lags by up to a few days; an expired item is already gone as far as we care.
    if (!Item || isExpired(Item[TTL_ATTRIBUTE], nowSeconds())) return undefined;
    const parsed = DedupeRecord.safeParse(Item);
    if (!parsed.success)
      throw new InvalidDedupeRecordError(`the item for dedupe key ${key} is not a dedupe record`, {
        cause: parsed.error,
      });
    return parsed.data;
  }

  /** Stores `record`. An IN_PROGRESS record is a claim: it throws {@link DedupeClaimLostError} when lost. */
  async put(key: string, record: DedupeRecord): Promise<void> {
    if (record.status === 'IN_PROGRESS') {
      if (!(await this.claim(key, record.task_token)))
        throw new DedupeClaimLostError(`dedupe key ${key} is claimed by another delivery`);
      return;
    }
    await this.client.send(new PutCommand({ TableName: this.tableName, Item: this.item(key, record) }));
  }

  async claim(key: string, task_token: string): Promise<boolean> {
    const now = nowSeconds();
    try {
      await this.client.send(
        new PutCommand({
          TableName: this.tableName,
          Item: this.item(key, { status: 'IN_PROGRESS', task_token }, now),
          // The condition is mayClaim() evaluated by DynamoDB against the stored item.
          ConditionExpression:
            'attribute_not_exists(#pk) OR #ttl <= :now OR (#status <> :succeeded AND #token <> :token)',
          ExpressionAttributeNames: {
            '#pk': TABLE_KEYS.partitionKey,
            '#ttl': TTL_ATTRIBUTE,
            '#status': 'status',
            '#token': 'task_token',
          },
          ExpressionAttributeValues: { ':now': now, ':succeeded': 'SUCCEEDED', ':token': task_token },
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof Error && error.name === 'ConditionalCheckFailedException') return false;
      throw error;
    }
  }

  private itemKey(key: string): Record<string, string> {
    return { [TABLE_KEYS.partitionKey]: `${this.keyPrefix}${key}`, [TABLE_KEYS.sortKey]: DEDUPE_SORT_KEY };
  }

  private item(key: string, record: DedupeRecord, now = nowSeconds()): Record<string, unknown> {
    return { ...this.itemKey(key), ...record, [TTL_ATTRIBUTE]: now + this.ttlSeconds };
  }
}

function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

function isExpired(ttl: unknown, now: number): boolean {
  return typeof ttl === 'number' && ttl <= now;
}
