/**
 * The agent as a Lambda SQS consumer with partial batch responses, on Powertools'
 * BatchProcessor: every record is handled, and those that must come back (a poison
 * message for the DLQ, a callback that failed transiently) are returned as
 * `batchItemFailures`. The event source mapping needs `ReportBatchItemFailures`.
 *
 * A poison message is also made visible again at once (ChangeMessageVisibility 0), so it
 * reaches the DLQ after `maxReceiveCount` quick receives rather than as many visibility
 * timeouts. The event only names the queue by ARN; its URL comes from GetQueueUrl, asked
 * once per ARN, so it is right for whatever endpoint the SQS client uses.
 */
import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import { GetQueueUrlCommand } from '@aws-sdk/client-sqs';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { type AgentCore, releasePoisonMessage } from './agent';

export type SqsBatchHandler = (event: SQSEvent, context?: Context) => Promise<SQSBatchResponse>;

/** Marks a record the queue must deliver again; BatchProcessor reports it as a failure. */
class NotAcknowledgedError extends Error {
  override readonly name = 'NotAcknowledgedError';
}

/** An event source ARN that is not `arn:<partition>:sqs:<region>:<account>:<queue>`. */
export class InvalidQueueArnError extends Error {
  override readonly name = 'InvalidQueueArnError';
}

export interface QueueArn {
  readonly region: string;
  readonly accountId: string;
  readonly queueName: string;
}

/**
 * Splits an SQS queue ARN into the parts GetQueueUrl needs.
 *
 * @example
 * parseQueueArn('arn:aws:sqs:eu-west-1:123456789012:agent-tasks');
 * // { region: 'eu-west-1', accountId: '123456789012', queueName: 'agent-tasks' }
 */
export function parseQueueArn(arn: string): QueueArn {
  const [prefix, partition, service, region, accountId, queueName, ...rest] = arn.split(':');
  if (
    prefix !== 'arn' ||
    !partition ||
    service !== 'sqs' ||
    !region ||
    !accountId ||
    !queueName ||
    rest.length > 0
  )
    throw new InvalidQueueArnError(`not an SQS queue ARN: ${arn}`);
  return { region, accountId, queueName };
}

/**
 * @example
 * export const handler = createAgent({ agent_id, categories, execute, rollback }).lambdaHandler;
 */
export function createLambdaHandler(core: AgentCore): SqsBatchHandler {
  const processor = new BatchProcessor(EventType.SQS);
  // Lives as long as the execution environment; a failed lookup is dropped and asked again.
  const queueUrls = new Map<string, Promise<string>>();

  const queueUrlOf = (arn: string): Promise<string> => {
    const cached = queueUrls.get(arn);
    if (cached) return cached;
    const lookup = (async () => {
      const { queueName, accountId } = parseQueueArn(arn);
      const { QueueUrl } = await core.sqs.send(
        new GetQueueUrlCommand({ QueueName: queueName, QueueOwnerAWSAccountId: accountId }),
      );
      if (!QueueUrl) throw new InvalidQueueArnError(`GetQueueUrl returned no URL for ${arn}`);
      return QueueUrl;
    })();
    queueUrls.set(arn, lookup);
    lookup.catch(() => {
      if (queueUrls.get(arn) === lookup) queueUrls.delete(arn);
    });
    return lookup;
  };

  const releasePoison = async (record: SQSRecord): Promise<void> => {
    let queueUrl: string;
    try {
      queueUrl = await queueUrlOf(record.eventSourceARN);
    } catch (error) {
      core.logger.warn('could not resolve the queue URL to release a poison message early', {
        message_id: record.messageId,
        event_source_arn: record.eventSourceARN,
        reason: error instanceof Error ? error.name : typeof error,
        detail: error instanceof Error ? error.message : String(error),
      });
      return;
    }
    await releasePoisonMessage(core, queueUrl, record.receiptHandle, record.messageId);
  };

  const handleRecord = async (record: SQSRecord): Promise<void> => {
    try {
      const result = await core.handleMessage(record.body);
      if (result.outcome === 'POISON') await releasePoison(record);
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
