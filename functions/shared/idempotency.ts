/**
 * Powertools idempotency for a REST route, keyed by the caller's `sub` and the
 * `Idempotency-Key` header and validated against the body: a retry within
 * IDEMPOTENCY_TTL_SECONDS gets the first answer, the same key with another body gets
 * 409 IDEMPOTENCY_KEY_REUSED, and one that arrives while the first still runs gets
 * 409 REQUEST_IN_PROGRESS. Records live in the main table under `IDEMPOTENCY#<name>`.
 *
 * Two things wrap `makeHandlerIdempotent` (2.35.0):
 * - Its onError deletes the record even when its own `before` refused the request, so
 *   a rejected duplicate would drop the original's lock or completed record
 *   (powertools-lambda-typescript#5675, fixed upstream after 2.35.0). Here only the
 *   request that acquired the record may delete it, and only if it fails before saving.
 * - A DynamoDB item holds 400 KB and a 1,000-issue answer can exceed that, so the
 *   record keeps a compact form (`compact`) and a replay rebuilds the answer from the
 *   stored workflow (`expand`).
 * The stack runs this last, after validation, so the hashed event is final; nothing
 * may change `event` after it (the hash is recomputed when the result is saved).
 */

import {
  IdempotencyAlreadyInProgressError,
  IdempotencyConfig,
  IdempotencyKeyError,
  IdempotencyValidationError,
} from '@aws-lambda-powertools/idempotency';
import { DynamoDBPersistenceLayer } from '@aws-lambda-powertools/idempotency/dynamodb';
import { makeHandlerIdempotent } from '@aws-lambda-powertools/idempotency/middleware';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Request } from '@middy/core';
import { ApiError, ConflictError } from '#shared/errors';
import type { ApiEvent, ApiMiddleware, HttpResponse } from '#shared/http';
import { IDEMPOTENCY_HEADER, IDEMPOTENCY_TTL_SECONDS, IdempotencyKey } from '#shared/request-rules';
import { IDEMPOTENCY_PK_PREFIX, TABLE_KEYS, TTL_ATTRIBUTE } from '#shared/table-design';

export interface IdempotentRequestsOptions {
  readonly tableName: string;
  /** Names the records' partition: `IDEMPOTENCY#<name>`. */
  readonly name: string;
  readonly client: DynamoDBClient;
  /** What the record keeps of a successful response. */
  readonly compact: (response: HttpResponse) => HttpResponse;
  /** Rebuilds the full response from what `compact` kept. */
  readonly expand: (stored: HttpResponse) => Promise<HttpResponse>;
}

type ApiRequest = Request<ApiEvent, HttpResponse>;

/**
 * @example
 * httpHandler(route, impl, { idempotency: idempotentRequests({ tableName, name: 'intake', client, compact, expand }) });
 */
export function idempotentRequests(options: IdempotentRequestsOptions): ApiMiddleware {
  const inner = makeHandlerIdempotent({
    persistenceStore: new DynamoDBPersistenceLayer({
      tableName: options.tableName,
      keyAttr: TABLE_KEYS.partitionKey,
      sortKeyAttr: TABLE_KEYS.sortKey,
      staticPkValue: `${IDEMPOTENCY_PK_PREFIX}${options.name}`,
      expiryAttr: TTL_ATTRIBUTE,
      awsSdkV3Client: options.client,
    }),
    config: new IdempotencyConfig({
      eventKeyJmesPath: `[requestContext.authorizer.sub, headers."${IDEMPOTENCY_HEADER}"]`,
      payloadValidationJmesPath: 'body',
      throwOnNoIdempotencyKey: true,
      expiresAfterSeconds: IDEMPOTENCY_TTL_SECONDS,
    }),
  });
  const owners = new WeakSet<ApiRequest>();
  return {
    before: async (request) => {
      checkKey(request.event.headers[IDEMPOTENCY_HEADER]);
      let stored: unknown;
      try {
        stored = await inner.before?.(request);
      } catch (error) {
        throw asApiError(error);
      }
      if (stored === undefined) {
        owners.add(request);
        return;
      }
      return options.expand(stored as HttpResponse);
    },
    after: async (request) => {
      // Released before saving: a failed save keeps the record instead of deleting it.
      if (!owners.delete(request) || !request.response) return;
      const full = request.response;
      request.response = options.compact(full);
      try {
        await inner.after?.(request);
      } finally {
        request.response = full;
      }
    },
    onError: async (request) => {
      if (owners.delete(request)) await inner.onError?.(request);
    },
  };
}

function checkKey(key: string | undefined): void {
  if (key === undefined)
    throw new ApiError(400, 'IDEMPOTENCY_KEY_REQUIRED', 'this route needs an Idempotency-Key header');
  const parsed = IdempotencyKey.safeParse(key);
  if (!parsed.success)
    throw new ApiError(
      400,
      'IDEMPOTENCY_KEY_INVALID',
      'the Idempotency-Key header is 1-128 printable characters',
      [{ message: parsed.error.issues[0]?.message }],
    );
}

function asApiError(error: unknown): unknown {
  if (error instanceof IdempotencyValidationError)
    return new ConflictError(
      'IDEMPOTENCY_KEY_REUSED',
      'this Idempotency-Key was already used with a different body; use a new key',
    );
  if (error instanceof IdempotencyAlreadyInProgressError)
    return new ApiError(
      409,
      'REQUEST_IN_PROGRESS',
      'a request with this Idempotency-Key is still running',
      undefined,
      {
        cause: error,
        headers: { 'retry-after': '2' },
      },
    );
  const cause = error instanceof Error ? error.cause : undefined;
  if (error instanceof IdempotencyKeyError || cause instanceof IdempotencyKeyError)
    return new ApiError(
      400,
      'IDEMPOTENCY_KEY_REQUIRED',
      'this route needs an Idempotency-Key header',
      undefined,
      {
        cause: error,
      },
    );
  return error;
}
