/** Paged Queries for the repositories. */
import { QueryCommand, type QueryCommandInput } from '@aws-sdk/lib-dynamodb';
import { asThrottled, type DocumentSender } from '#shared/repository/dynamo-errors';

/**
 * Every page of a Query, up to `max` items (the last page may overshoot it), with throttling
 * mapped to 429.
 * @example
 * const items = await queryAll(db, { TableName, KeyConditionExpression: 'PK = :pk', ExpressionAttributeValues });
 */
export async function queryAll(
  db: DocumentSender,
  input: QueryCommandInput,
  max = Number.POSITIVE_INFINITY,
): Promise<Record<string, unknown>[]> {
  const items: Record<string, unknown>[] = [];
  let cursor: Record<string, unknown> | undefined;
  do {
    const page = await db
      .send(new QueryCommand({ ...input, ExclusiveStartKey: cursor }))
      .catch((error: unknown) => Promise.reject(asThrottled(error)));
    items.push(...(page.Items ?? []));
    cursor = page.LastEvaluatedKey;
  } while (cursor && items.length < max);
  return items;
}
