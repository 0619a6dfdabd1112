/**
 * Agent errors and how they become Step Functions task failures.
 *
 * A recovery workflow retries `Agent.Transient` and catches `Agent.Permanent`; anything an
 * agent throws that is not an {@link AgentTransientError} counts as permanent, so a bug never
 * loops through retries.
 */

/** SendTaskFailure's `error` limit, in characters. */
export const MAX_ERROR_LENGTH = 256;
/** SendTaskFailure's `cause` limit, in characters. */
export const MAX_CAUSE_LENGTH = 32_768;

export const TRANSIENT_ERROR = 'Agent.Transient';
export const PERMANENT_ERROR = 'Agent.Permanent';

/** Something that may work if the workflow tries again (throttling, a busy dependency). */
export class AgentTransientError extends Error {
  override readonly name = 'AgentTransientError';
}

/** Something that will fail again however often it is tried (bad input, a refused change). */
export class AgentPermanentError extends Error {
  override readonly name = 'AgentPermanentError';
}

export interface TaskFailure {
  readonly error: string;
  readonly cause: string;
}

/** Cuts `text` to `max` characters, marking the cut with an ellipsis. */
export function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, Math.max(0, max - 1))}…`;
}

/**
 * Maps whatever `execute` or `rollback` threw to SendTaskFailure's error and cause,
 * within Step Functions' length limits.
 *
 * @example
 * toTaskFailure(new AgentTransientError('throttled')); // { error: 'Agent.Transient', cause: 'throttled' }
 */
export function toTaskFailure(thrown: unknown): TaskFailure {
  const error = thrown instanceof AgentTransientError ? TRANSIENT_ERROR : PERMANENT_ERROR;
  const message = thrown instanceof Error ? thrown.message : String(thrown);
  return {
    error: truncate(error, MAX_ERROR_LENGTH),
    cause: truncate(message === '' ? describe(thrown) : message, MAX_CAUSE_LENGTH),
  };
}

function describe(thrown: unknown): string {
  return thrown instanceof Error ? thrown.name : typeof thrown;
}

/**
 * SendTask* answers meaning the task is over or was never ours: a late or duplicate
 * callback. The message is done with; retrying would fail the same way forever.
 */
const CALLBACK_GONE = new Set(['TaskTimedOut', 'TaskDoesNotExist', 'InvalidToken']);

export function isCallbackGone(error: unknown): boolean {
  return error instanceof Error && CALLBACK_GONE.has(error.name);
}
