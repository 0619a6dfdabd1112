/**
 * The agent as a Lambda SQS consumer with partial batch responses, on Powertools'
 * BatchProcessor: every record is handled, and those that must come back (a poison
 * message for the DLQ, a callback that failed transiently) are returned as
 * `batchItemFailures`. The event source mapping needs `ReportBatchItemFailures`.
 */
import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import type { AgentCore } from './agent';

export type SqsBatchHandler = (event: SQSEvent, context?: Context) => Promise<SQSBatchResponse>;

/** Marks a record the queue must deliver again; BatchProcessor reports it as a failure. */
class NotAcknowledgedError extends Error {
  override readonly name = 'NotAcknowledgedError';
}

/**
 * @example
 * export const handler = createAgent({ agent_id, categories, execute, rollback }).lambdaHandler;
 */
export function createLambdaHandler(core: AgentCore): SqsBatchHandler {
  const processor = new BatchProcessor(EventType.SQS);
  const handleRecord = async (record: SQSRecord): Promise<void> => {
    try {
      const result = await core.handleMessage(record.body);
      if (!result.ack) throw new NotAcknowledgedError(`message ${record.messageId} is not acknowledged`);
    } catch (error) {
      if (!(error instanceof NotAcknowledgedError))
        core.logger.error('message handling failed', {
          message_id: record.messageId,
          detail: error instanceof Error ? error.message : String(error),
        });
      throw error;
    }
  };
  return async (event, context) =>
    processPartialResponse(event, handleRecord, processor, {
      ...(context ? { context } : {}),
      // A batch where every record must come back is still an answer, not a crash.
      throwOnFullBatchFailure: false,
      processInParallel: true,
    });
}
