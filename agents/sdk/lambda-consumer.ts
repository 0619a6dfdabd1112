/**
 * The agent as a Lambda SQS consumer with partial batch responses.
 *
 * `@aws-lambda-powertools/batch` is not installed here, so this is the small equivalent of
 * its BatchProcessor: every record is handled, and the ids of those that must come back are
 * returned as `batchItemFailures` (the event source mapping needs `ReportBatchItemFailures`).
 */
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import type { AgentCore } from './agent';

/** Records handled at once within one batch. */
const BATCH_CONCURRENCY = 10;

export type SqsBatchHandler = (event: SQSEvent) => Promise<SQSBatchResponse>;

/**
 * @example
 * export const handler = createAgent({ agent_id, categories, execute, rollback }).lambdaHandler;
 */
export function createLambdaHandler(core: AgentCore): SqsBatchHandler {
  return async (event) => {
    const failures: string[] = [];
    await forEachBounded(event.Records, BATCH_CONCURRENCY, async (record) => {
      try {
        const result = await core.handleMessage(record.body);
        if (!result.ack) failures.push(record.messageId);
      } catch (error) {
        core.logger.error('message handling failed', {
          message_id: record.messageId,
          detail: error instanceof Error ? error.message : String(error),
        });
        failures.push(record.messageId);
      }
    });
    return { batchItemFailures: failures.map((itemIdentifier) => ({ itemIdentifier })) };
  };
}

/** Runs `work` over `items`, at most `limit` at a time. */
export async function forEachBounded<T>(
  items: readonly T[],
  limit: number,
  work: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next] as T;
      next += 1;
      await work(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
