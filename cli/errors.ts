/**
 * Exit codes and the errors that map onto them. Every failure the CLI reports is one line on
 * stderr and one of these codes, so scripts can branch on `$?`.
 */

export const EXIT = {
  /** Done; for `watch`, the workflow SUCCEEDED. */
  OK: 0,
  /** `watch`: the workflow ended otherwise (FAILED, ROLLED_BACK, ROLLBACK_FAILED, CANCELLED). */
  WORKFLOW_FAILED: 1,
  /** Bad command, option or argument; an input file that is missing or not a request. */
  USAGE: 2,
  /** The target cannot be reached or read: outputs file, network, AWS credentials or endpoint. */
  TARGET: 3,
  /** `watch --timeout` ran out before the workflow ended. */
  TIMEOUT: 4,
  /** The API refused the request (4xx other than 429, or 5xx): the line carries its error code. */
  API: 5,
  /** The API is throttling (429, e.g. BACKLOG_FULL): try again after the Retry-After it gave. */
  THROTTLED: 6,
} as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** Base of the CLI's own errors: each knows its exit code and may carry a hint line. */
export class CliError extends Error {
  override readonly name: string = 'CliError';
  constructor(
    message: string,
    readonly exitCode: ExitCode,
    readonly hint?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export class UsageError extends CliError {
  override readonly name = 'UsageError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, EXIT.USAGE, undefined, options);
  }
}

export class TargetError extends CliError {
  override readonly name = 'TargetError';
  constructor(message: string, hint?: string, options?: { cause?: unknown }) {
    super(message, EXIT.TARGET, hint, options);
  }
}

export class WatchTimeoutError extends CliError {
  override readonly name = 'WatchTimeoutError';
  constructor(message: string) {
    super(message, EXIT.TIMEOUT);
  }
}

/** A non-2xx answer from the REST API, with the C3 error body's code when it had one. */
export class ApiError extends CliError {
  override readonly name = 'ApiError';
  constructor(
    readonly status: number,
    readonly code: string,
    readonly apiMessage: string,
    readonly details: readonly unknown[] = [],
    readonly retryAfterSeconds?: number,
  ) {
    super(describeApiError(status, code, apiMessage, details, retryAfterSeconds), exitCodeForStatus(status));
  }
}

export function exitCodeForStatus(status: number): ExitCode {
  if (status === 429) return EXIT.THROTTLED;
  return EXIT.API;
}

/** Terminal workflow status -> exit code of `watch`. */
export function exitCodeForWorkflow(status: string): ExitCode {
  return status === 'SUCCEEDED' ? EXIT.OK : EXIT.WORKFLOW_FAILED;
}

function describeDetail(detail: unknown): string {
  if (typeof detail === 'string') return detail;
  if (detail !== null && typeof detail === 'object') {
    const { path, message } = detail as { path?: unknown; message?: unknown };
    const where = Array.isArray(path) ? path.join('.') : typeof path === 'string' ? path : '';
    if (typeof message === 'string') return where ? `${where}: ${message}` : message;
  }
  return JSON.stringify(detail);
}

/** `BACKLOG_FULL (429): the backlog is full; retry after 30 s`, with up to three details. */
export function describeApiError(
  status: number,
  code: string,
  message: string,
  details: readonly unknown[] = [],
  retryAfterSeconds?: number,
): string {
  let line = `${code} (${status}): ${message}`;
  if (details.length > 0) {
    const shown = details.slice(0, 3).map(describeDetail).join('; ');
    line += ` [${shown}${details.length > 3 ? `; +${details.length - 3} more` : ''}]`;
  }
  if (retryAfterSeconds !== undefined) line += `; retry after ${retryAfterSeconds} s`;
  return line;
}

/** Node's network error codes that mean "nothing answers there". */
const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_SOCKET',
]);

/** The network error code somewhere in an error's cause chain (fetch and the SDK nest them). */
export function connectionErrorCode(error: unknown): string | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current !== null && typeof current === 'object'; depth++) {
    const { code, errors, cause } = current as { code?: unknown; errors?: unknown; cause?: unknown };
    if (typeof code === 'string' && CONNECTION_CODES.has(code)) return code;
    if (Array.isArray(errors)) {
      const inner = errors.map(connectionErrorCode).find((found) => found !== undefined);
      if (inner) return inner;
    }
    current = cause;
  }
  return undefined;
}

/** Exit code and stderr lines for anything thrown out of a command. */
export function reportFor(error: unknown): { exitCode: ExitCode; lines: string[] } {
  if (error instanceof CliError) {
    return {
      exitCode: error.exitCode,
      lines: error.hint ? [error.message, `hint: ${error.hint}`] : [error.message],
    };
  }
  const message = error instanceof Error ? error.message : String(error);
  const code = connectionErrorCode(error);
  if (code) return { exitCode: EXIT.TARGET, lines: [`cannot reach the target (${code}): ${message}`] };
  return { exitCode: EXIT.TARGET, lines: [`unexpected error: ${message}`] };
}
