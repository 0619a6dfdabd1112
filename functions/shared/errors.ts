/**
 * HTTP-facing errors (contract C3). Handlers and adapters throw these; the error
 * middleware maps them, and the core's typed errors, to a status and the JSON body
 * `{ error: { code, message, details?, request_id? } }` in one place (see http.ts).
 */
import { CoreError } from '#core/errors';

export class ApiError extends Error {
  override readonly name: string = 'ApiError';

  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: readonly unknown[],
    options?: { cause?: unknown; headers?: Record<string, string> },
  ) {
    super(message, options);
    this.headers = options?.headers;
  }

  readonly headers: Record<string, string> | undefined;
}

export class ValidationError extends ApiError {
  override readonly name = 'ValidationError';
  constructor(message: string, details?: readonly unknown[]) {
    super(400, 'VALIDATION_FAILED', message, details);
  }
}

export class UnauthorizedError extends ApiError {
  override readonly name = 'UnauthorizedError';
  constructor(message = 'a valid bearer token is required') {
    super(401, 'UNAUTHORIZED', message);
  }
}

export class ForbiddenError extends ApiError {
  override readonly name = 'ForbiddenError';
  constructor(message: string) {
    super(403, 'FORBIDDEN', message);
  }
}

export class NotFoundError extends ApiError {
  override readonly name = 'NotFoundError';
  constructor(message: string) {
    super(404, 'NOT_FOUND', message);
  }
}

export class ConflictError extends ApiError {
  override readonly name = 'ConflictError';
  constructor(code: string, message: string, details?: readonly unknown[]) {
    super(409, code, message, details);
  }
}

export class PayloadTooLargeError extends ApiError {
  override readonly name = 'PayloadTooLargeError';
  constructor(limitBytes: number, actualBytes: number) {
    super(413, 'PAYLOAD_TOO_LARGE', `the body is ${actualBytes} bytes; the limit is ${limitBytes}`, [
      { limit_bytes: limitBytes, actual_bytes: actualBytes },
    ]);
  }
}

/** 422: a plan with more steps than one workflow holds (MAX_WORKFLOW_STEPS in #core/workflow). */
export class PlanTooLargeError extends ApiError {
  override readonly name = 'PlanTooLargeError';
  constructor(steps: number, limit: number) {
    super(
      422,
      'PLAN_TOO_LARGE',
      `the plan has ${steps} steps; one workflow holds at most ${limit}: split it into several workflows`,
      [{ steps, limit }],
    );
  }
}

/**
 * 429 BACKLOG_FULL: the backlog holds `bound` issues or more, so new work waits. The answer
 * carries `Retry-After` (seconds); see backpressure.ts.
 */
export class BacklogFullError extends ApiError {
  override readonly name = 'BacklogFullError';
  constructor(bound: number, retryAfterSeconds: number, options?: { cause?: unknown }) {
    super(
      429,
      'BACKLOG_FULL',
      `the backlog has reached its bound of ${bound} unresolved issues (MAX_BACKLOG_ISSUES); retry after ${retryAfterSeconds} s`,
      [{ max_backlog_issues: bound, retry_after_seconds: retryAfterSeconds }],
      { ...options, headers: { 'retry-after': String(retryAfterSeconds) } },
    );
  }
}

/** Core error codes and the status each maps to; anything unlisted is a 500. */
export const CORE_ERROR_STATUS: Readonly<Record<string, number>> = {
  DEPENDENCY_CYCLE: 422,
  UNKNOWN_DEPENDENCY: 422,
  UNROUTABLE_PLAN: 422,
  INFEASIBLE_PLAN: 422,
  DUPLICATE_ID: 409,
};

/** Maps any thrown value to an ApiError; unknown errors become an opaque 500. */
export function toApiError(error: unknown): ApiError {
  if (error instanceof ApiError) return error;
  if (error instanceof CoreError) {
    const status = CORE_ERROR_STATUS[error.code] ?? 500;
    if (status < 500) return new ApiError(status, error.code, error.message, error.details, { cause: error });
  }
  return new ApiError(500, 'INTERNAL_ERROR', 'internal error', undefined, { cause: error });
}
