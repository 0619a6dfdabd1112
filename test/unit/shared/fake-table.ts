/**
 * An in-memory stand-in for the DocumentClient, enough for the repositories' write
 * protocol: Get, Put (alone or in a transaction) with the conditions the repositories
 * use, Update with `SET #a = :a, #n = #n + :one REMOVE #b` and version conditions,
 * Delete, BatchWrite deletes, BatchGet, and Query on PK or GSI1PK. Not a DynamoDB
 * emulator: the integration tests run against DynamoDB Local.
 */
import { ConditionalCheckFailedException, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import type { DocumentSender } from '#shared/repository/dynamo-errors';

type Item = Record<string, unknown>;
type Command = { constructor: { name: string }; input: Record<string, unknown> };

export interface FakeTable {
  readonly items: Map<string, Item>;
  readonly calls: { name: string; input: Record<string, unknown> }[];
  readonly client: DocumentSender;
  /** Return an error to fail the call; `apply` true applies the write first (a lost response). */
  failWhen: (
    name: string,
    input: Record<string, unknown>,
    index: number,
  ) => { error: Error; apply?: boolean } | undefined;
  put(item: Item): void;
}

const keyOf = (item: Item) => `${String(item.PK)}|${String(item.SK)}`;

export function fakeTable(): FakeTable {
  const items = new Map<string, Item>();
  const calls: FakeTable['calls'] = [];
  const table: FakeTable = {
    items,
    calls,
    failWhen: () => undefined,
    put: (item) => items.set(keyOf(item), structuredClone(item)),
    client: {
      send: (async (command: Command) => {
        const name = command.constructor.name;
        const input = command.input;
        calls.push({ name, input });
        const failure = table.failWhen(name, input, calls.filter((c) => c.name === name).length - 1);
        if (failure && !failure.apply) throw failure.error;
        const output = handle(name, input);
        if (failure) throw failure.error;
        return output;
      }) as unknown as DocumentSender['send'],
    },
  };

  function handle(name: string, input: Record<string, unknown>): unknown {
    switch (name) {
      case 'GetCommand':
        return { Item: structuredClone(items.get(keyOf(input.Key as Item))) };
      case 'PutCommand': {
        if (!conditionHolds(input as { Item: Item; ConditionExpression?: string })) throw conditionFailed();
        table.put(input.Item as Item);
        return {};
      }
      case 'DeleteCommand': {
        const key = keyOf(input.Key as Item);
        if (input.ConditionExpression === 'attribute_exists(PK)' && !items.has(key)) throw conditionFailed();
        items.delete(key);
        return {};
      }
      case 'UpdateCommand':
        return { Attributes: structuredClone(update(input)) };
      case 'TransactWriteCommand': {
        const actions = input.TransactItems as {
          Put: { Item: Item; ConditionExpression?: string; ExpressionAttributeValues?: Item };
        }[];
        const reasons = actions.map(({ Put }) =>
          conditionHolds(Put) ? { Code: 'None' } : { Code: 'ConditionalCheckFailed' },
        );
        if (reasons.some((r) => r.Code !== 'None'))
          throw new TransactionCanceledException({
            message: 'Transaction cancelled',
            $metadata: {},
            CancellationReasons: reasons,
          });
        for (const { Put } of actions) table.put(Put.Item);
        return {};
      }
      case 'BatchWriteCommand': {
        for (const requests of Object.values(
          input.RequestItems as Record<string, { DeleteRequest: { Key: Item } }[]>,
        ))
          for (const { DeleteRequest } of requests) items.delete(keyOf(DeleteRequest.Key));
        return { UnprocessedItems: {} };
      }
      case 'BatchGetCommand': {
        const [tableName, request] =
          Object.entries(input.RequestItems as Record<string, { Keys: Item[] }>)[0] ?? [];
        const found = (request?.Keys ?? []).flatMap((k) => {
          const item = items.get(keyOf(k));
          return item ? [structuredClone(item)] : [];
        });
        return { Responses: { [String(tableName)]: found }, UnprocessedKeys: {} };
      }
      case 'QueryCommand': {
        const values = input.ExpressionAttributeValues as Item;
        const byIndex = input.IndexName === 'GSI1';
        const matches = [...items.values()]
          .filter((item) => (byIndex ? item.GSI1PK === values[':pk'] : item.PK === values[':pk']))
          .sort((a, b) => String(byIndex ? a.GSI1SK : a.SK).localeCompare(String(byIndex ? b.GSI1SK : b.SK)));
        return { Items: structuredClone(matches) };
      }
      default:
        throw new Error(`fake table does not support ${name}`);
    }
  }

  function update(input: Record<string, unknown>): Item {
    const key = keyOf(input.Key as Item);
    const names = input.ExpressionAttributeNames as Record<string, string>;
    const values = input.ExpressionAttributeValues as Item;
    const item = items.get(key);
    const operand = (token: string) =>
      token.startsWith(':') ? values[token] : item?.[names[token] ?? token];
    const condition = String(input.ConditionExpression ?? '');
    const holds =
      !!item &&
      condition.split(' AND ').every((clause) => {
        const [left, right] = clause.split(' = ');
        return operand(String(left)) === operand(String(right));
      });
    if (!item || (condition && !holds)) throw conditionFailed();
    const [setPart, removePart] = String(input.UpdateExpression).replace(/^SET /, '').split(' REMOVE ');
    const next: Item = { ...item };
    for (const assignment of String(setPart).trim().split(', ')) {
      const [target, expression] = assignment.split(' = ');
      const [first, plus] = String(expression).split(' + ');
      const value = plus ? Number(operand(String(first))) + Number(operand(plus)) : operand(String(first));
      next[names[String(target)] ?? String(target)] = value;
    }
    for (const name of removePart ? removePart.trim().split(', ') : []) delete next[names[name] ?? name];
    items.set(key, next);
    return next;
  }

  function conditionFailed(): Error {
    return new ConditionalCheckFailedException({ message: 'The conditional request failed', $metadata: {} });
  }

  function conditionHolds(put: {
    Item: Item;
    ConditionExpression?: string;
    ExpressionAttributeValues?: Item;
  }): boolean {
    const existing = items.get(keyOf(put.Item));
    switch (put.ConditionExpression) {
      case undefined:
        return true;
      case 'attribute_not_exists(PK)':
        return !existing;
      case 'attribute_not_exists(PK) OR request_hash = :hash':
        return !existing || existing.request_hash === put.ExpressionAttributeValues?.[':hash'];
      default:
        throw new Error(`fake table does not understand ${put.ConditionExpression}`);
    }
  }

  return table;
}
