/**
 * Progress-socket connections and their subscriptions (contract C9), in the single table:
 *
 * - `CONN#<connectionId> / META`: role, sub, connected_at, the set of subscribed workflow ids
 *   (`subscriptions`) and `ttl`.
 * - `SUBS#<workflow_id or *> / CONN#<connectionId>`: one item per subscription, so the
 *   broadcaster finds an event's subscribers with one Query on the workflow's partition and
 *   one on `*`'s.
 *
 * Everything carries `ttl` = connect (or subscribe) time + 2 hours, API Gateway's longest
 * WebSocket connection: items whose `$disconnect` was lost expire on their own, and readers
 * skip expired ones before DynamoDB deletes them.
 */
import {
  BatchWriteCommand,
  DeleteCommand,
  GetCommand,
  PutCommand,
  TransactWriteCommand,
} from '@aws-sdk/lib-dynamodb';
import type { SubscriptionTarget } from '#core/wire';
import {
  asThrottled,
  cancellationCodes,
  type DocumentSender,
  isConditionalCheckFailed,
} from '#shared/repository/dynamo-errors';
import { queryAll } from '#shared/repository/query-all';
import { keys, TTL_ATTRIBUTE } from '#shared/table-design';

/** API Gateway's maximum WebSocket connection duration. */
export const CONNECTION_TTL_SECONDS = 2 * 3600;
/** Subscriptions one connection may hold at once. */
export const MAX_SUBSCRIPTIONS_PER_CONNECTION = 100;
/** BatchWriteItem's limit. */
const BATCH_SIZE = 25;

export interface ConnectionIdentity {
  readonly connectionId: string;
  readonly role: string;
  readonly sub: string;
}

export interface StoredConnection extends ConnectionIdentity {
  readonly connected_at: string;
  readonly subscriptions: readonly string[];
}

export type SubscribeOutcome = 'subscribed' | 'no_connection' | 'too_many';

const epochSeconds = (now: Date) => Math.floor(now.getTime() / 1000);

/**
 * @example
 * const connections = new ConnectionRepository(documentClient, config.TABLE_NAME);
 * await connections.connect({ connectionId, role: 'viewer', sub: 'ops-1' });
 * await connections.subscribe(connectionId, 'wf-1');
 * const ids = await connections.subscribers('wf-1'); // includes `*` subscribers
 */
export class ConnectionRepository {
  readonly #db: DocumentSender;
  readonly #table: string;

  constructor(db: DocumentSender, tableName: string) {
    this.#db = db;
    this.#table = tableName;
  }

  /** Records a new connection (at `$connect`); a repeated id is overwritten. */
  async connect(identity: ConnectionIdentity, now = new Date()): Promise<void> {
    await this.#db
      .send(
        new PutCommand({
          TableName: this.#table,
          Item: {
            ...keys.connection(identity.connectionId),
            connection_id: identity.connectionId,
            role: identity.role,
            sub: identity.sub,
            connected_at: now.toISOString(),
            [TTL_ATTRIBUTE]: epochSeconds(now) + CONNECTION_TTL_SECONDS,
          },
        }),
      )
      .catch((error: unknown) => Promise.reject(asThrottled(error)));
  }

  async get(connectionId: string, now = new Date()): Promise<StoredConnection | undefined> {
    const { Item } = await this.#db
      .send(
        new GetCommand({ TableName: this.#table, Key: keys.connection(connectionId), ConsistentRead: true }),
      )
      .catch((error: unknown) => Promise.reject(asThrottled(error)));
    if (!Item || Number(Item[TTL_ATTRIBUTE] ?? 0) <= epochSeconds(now)) return undefined;
    return {
      connectionId,
      role: String(Item.role),
      sub: String(Item.sub),
      connected_at: String(Item.connected_at),
      subscriptions: [...((Item.subscriptions as Set<string> | undefined) ?? [])].sort(),
    };
  }

  /**
   * Adds a subscription: the workflow id joins META's set and the `SUBS#` item is written, in
   * one transaction that requires the connection to exist (so a subscribe racing `$disconnect`
   * leaves nothing behind). Idempotent.
   */
  async subscribe(
    connectionId: string,
    workflowId: SubscriptionTarget,
    now = new Date(),
  ): Promise<SubscribeOutcome> {
    const ttl = epochSeconds(now) + CONNECTION_TTL_SECONDS;
    try {
      await this.#db.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Update: {
                TableName: this.#table,
                Key: keys.connection(connectionId),
                UpdateExpression: 'ADD #subs :one',
                ConditionExpression:
                  'attribute_exists(PK) AND #ttl > :now AND (attribute_not_exists(#subs) OR contains(#subs, :id) OR size(#subs) < :max)',
                ExpressionAttributeNames: { '#subs': 'subscriptions', '#ttl': TTL_ATTRIBUTE },
                ExpressionAttributeValues: {
                  ':one': new Set([workflowId]),
                  ':id': workflowId,
                  ':max': MAX_SUBSCRIPTIONS_PER_CONNECTION,
                  ':now': epochSeconds(now),
                },
              },
            },
            {
              Put: {
                TableName: this.#table,
                Item: {
                  ...keys.subscription(workflowId, connectionId),
                  connection_id: connectionId,
                  workflow_id: workflowId,
                  [TTL_ATTRIBUTE]: ttl,
                },
              },
            },
          ],
        }),
      );
      return 'subscribed';
    } catch (error) {
      if (cancellationCodes(error)[0] !== 'ConditionalCheckFailed') throw asThrottled(error);
      return (await this.get(connectionId, now)) ? 'too_many' : 'no_connection';
    }
  }

  /** Removes one subscription; removing one that does not exist is fine. */
  async unsubscribe(connectionId: string, workflowId: SubscriptionTarget): Promise<void> {
    try {
      await this.#db.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Update: {
                TableName: this.#table,
                Key: keys.connection(connectionId),
                UpdateExpression: 'DELETE #subs :one',
                ConditionExpression: 'attribute_exists(PK)',
                ExpressionAttributeNames: { '#subs': 'subscriptions' },
                ExpressionAttributeValues: { ':one': new Set([workflowId]) },
              },
            },
            { Delete: { TableName: this.#table, Key: keys.subscription(workflowId, connectionId) } },
          ],
        }),
      );
    } catch (error) {
      if (cancellationCodes(error)[0] !== 'ConditionalCheckFailed') throw asThrottled(error);
      await this.#deleteItem(keys.subscription(workflowId, connectionId));
    }
  }

  /**
   * Connection ids subscribed to `workflowId` or to `*`, each once, expired ones left out:
   * one Query per partition.
   */
  async subscribers(workflowId: string, now = new Date()): Promise<{ connectionId: string; via: string }[]> {
    const partitions = workflowId === '*' ? ['*'] : [workflowId, '*'];
    const found = new Map<string, string>();
    for (const partition of partitions) {
      const items = await queryAll(this.#db, {
        TableName: this.#table,
        KeyConditionExpression: 'PK = :pk',
        ExpressionAttributeValues: { ':pk': keys.subscription(partition, '').PK },
      });
      for (const item of items) {
        if (Number(item[TTL_ATTRIBUTE] ?? 0) <= epochSeconds(now)) continue;
        const id = String(item.connection_id);
        if (!found.has(id)) found.set(id, partition);
      }
    }
    return [...found].map(([connectionId, via]) => ({ connectionId, via }));
  }

  /**
   * Deletes a connection's META and every subscription it lists, plus `alsoSubscribedTo`
   * (subscriptions the caller found that META may no longer list). Used by `$disconnect`
   * and by the broadcaster on 410 Gone. Idempotent.
   */
  async disconnect(connectionId: string, alsoSubscribedTo: readonly string[] = []): Promise<number> {
    const { Item } = await this.#db
      .send(
        new GetCommand({ TableName: this.#table, Key: keys.connection(connectionId), ConsistentRead: true }),
      )
      .catch((error: unknown) => Promise.reject(asThrottled(error)));
    const listed = [...((Item?.subscriptions as Set<string> | undefined) ?? [])];
    const targets = [...new Set([...listed, ...alsoSubscribedTo])];
    const doomed = [
      ...targets.map((workflowId) => keys.subscription(workflowId, connectionId)),
      keys.connection(connectionId),
    ];
    for (let start = 0; start < doomed.length; start += BATCH_SIZE) {
      let requests = doomed.slice(start, start + BATCH_SIZE).map((Key) => ({ DeleteRequest: { Key } }));
      // Unprocessed items are retried; DynamoDB returns them only under throttling.
      for (let attempt = 0; requests.length > 0; attempt += 1) {
        const result = await this.#db
          .send(new BatchWriteCommand({ RequestItems: { [this.#table]: requests } }))
          .catch((error: unknown) => Promise.reject(asThrottled(error)));
        requests = (result.UnprocessedItems?.[this.#table] ?? []) as typeof requests;
        if (requests.length > 0 && attempt >= 5)
          throw new Error(`could not delete connection ${connectionId}`);
        if (requests.length > 0) await new Promise((resolve) => setTimeout(resolve, 50 * 2 ** attempt));
      }
    }
    return targets.length;
  }

  async #deleteItem(key: Record<string, string>): Promise<void> {
    await this.#db.send(new DeleteCommand({ TableName: this.#table, Key: key })).catch((error: unknown) => {
      if (!isConditionalCheckFailed(error)) throw asThrottled(error);
    });
  }
}
