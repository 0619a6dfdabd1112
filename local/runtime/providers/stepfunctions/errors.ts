/**
 * Errors of the local Step Functions: the ones the SFN API returns to its caller, and the
 * ones our Task overrides throw into the ASL interpreter.
 */

/**
 * An SFN API error, returned as `{"__type": type, "message": message}` with `status`.
 *
 * @example
 * throw new SfnApiError('ExecutionDoesNotExist', `Execution Does Not Exist: '${arn}'`);
 */
export class SfnApiError extends Error {
  constructor(
    readonly type: string,
    message: string,
    readonly status = 400,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'SfnApiError';
  }
}

/** A definition the ASL validator, or our own checks, rejected. */
export class InvalidDefinitionError extends SfnApiError {
  constructor(message: string, options?: ErrorOptions) {
    super('InvalidDefinition', message, 400, options);
    this.name = 'InvalidDefinitionError';
  }
}

/**
 * A failed Task as `Retry` and `Catch` see it. The interpreter matches `ErrorEquals` against
 * `name` and puts `message` in the catcher's `Cause`, so `name` is the ASL error name
 * (e.g. `Agent.Transient`, `Lambda.ServiceException`) rather than this class's name.
 */
export class TaskFailedError extends Error {
  constructor(error: string, cause: string, options?: ErrorOptions) {
    super(cause, options);
    this.name = error;
  }
}

/**
 * Ends a Task whose run was aborted (StopExecution, a failed sibling Map iteration, or the
 * runtime stopping). The interpreter reads `isRetryable`/`isCatchable`, so it neither retries
 * nor catches this: no agent is dispatched again for an aborted iteration.
 */
export class TaskCancelledError extends Error {
  readonly isRetryable = false;
  readonly isCatchable = false;

  constructor(message = 'The task was cancelled because its execution or iteration was aborted') {
    super(message);
    this.name = 'TaskCancelledError';
  }
}

/**
 * `States.Runtime`: AWS neither retries nor catches it. Raised for a Task whose Resource the
 * local runtime has no integration for.
 */
export class StatesRuntimeError extends Error {
  readonly isRetryable = false;
  readonly isCatchable = false;

  constructor(message: string) {
    super(message);
    this.name = 'States.Runtime';
  }
}
