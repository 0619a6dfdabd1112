/**
 * The REST API's request limits and header rules in one place: http.ts and
 * idempotency.ts enforce them, openapi.ts documents them. No I/O, no environment.
 *
 * Limits (contract C3, 413 for an oversize body):
 * - a request body is at most {@link MAX_BODY_BYTES} (1 MiB), measured in bytes after
 *   base64 decoding; API Gateway's own ceiling is 10 MB, so ours always wins;
 * - a batch holds at most `MAX_ISSUES_PER_REQUEST` (1,000) issues, and every field has
 *   its own bound in `#core/wire` (titles 256 chars, descriptions 4 KiB, ...);
 * - one stored issue (issue + decision + schedule) is at most {@link MAX_STORED_ISSUE_BYTES}.
 */
import * as z from 'zod';

export const MAX_BODY_BYTES = 1024 * 1024;

/** DynamoDB items hold 400 KB; this leaves room for keys and attribute names. */
export const MAX_STORED_ISSUE_BYTES = 350 * 1024;

/** Lower-case, as the HTTP stack normalises header names. */
export const IDEMPOTENCY_HEADER = 'idempotency-key';

/** How long a key is remembered: a retry within this window gets the first answer. */
export const IDEMPOTENCY_TTL_SECONDS = 24 * 60 * 60;

/** Printable ASCII without spaces, e.g. a UUID. */
export const IdempotencyKey = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[\x21-\x7e]+$/, 'printable ASCII without spaces');
