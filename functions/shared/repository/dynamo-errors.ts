/**
 * DynamoDB failures the repositories turn into API errors. Matched by `name`, the
 * stable part of an SDK v3 service exception. It loads no SDK package (a type import only), so
 * a function that only names errors does not load the DynamoDB client at cold start.
 */
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { ApiError } from '#shared/errors';

/** What a repository needs of the DocumentClient; tests pass an in-memory table. */
export type DocumentSender = Pick<DynamoDBDocumentClient, 'send'>;

const THROTTLING = new Set([
  'ThrottlingException',
  'ProvisionedThroughputExceededException',
  'RequestLimitExceeded',
  'TransactionInProgressException',
]);

export function errorName(error: unknown): string | undefined {
  return error instanceof Error ? error.name : undefined;
}

export function isConditionalCheckFailed(error: unknown): boolean {
  return errorName(error) === 'ConditionalCheckFailedException';
}

/** The per-action reasons of a cancelled transaction (`None` for actions that were fine). */
export function cancellationCodes(error: unknown): string[] {
  if (errorName(error) !== 'TransactionCanceledException') return [];
  const reasons = (error as { CancellationReasons?: { Code?: string }[] }).CancellationReasons ?? [];
  return reasons.map((r) => r.Code ?? 'None');
}

/** 429 for throttling (contract C3), anything else unchanged. */
export function asThrottled(error: unknown): unknown {
  const throttled =
    THROTTLING.has(errorName(error) ?? '') ||
    cancellationCodes(error).some(
      (code) => code === 'ThrottlingError' || code === 'ProvisionedThroughputExceeded',
    );
  if (!throttled) return error;
  return new ApiError(429, 'THROTTLED', 'the service is busy; retry with backoff', undefined, {
    cause: error,
    headers: { 'retry-after': '1' },
  });
}
