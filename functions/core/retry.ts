/**
 * Retry policy: exponential backoff with full jitter, a delay cap and an attempt limit.
 * It follows Step Functions Retrier semantics, so the policy that drives in-process
 * retries can also be emitted as the ASL `Retry` block of a Task ({@link toAslRetrier})
 * and both paths behave alike.
 */

/** How to retry one operation. Validate it once at load time with {@link validateRetryPolicy}. */
export interface RetryPolicy {
  /** Ceiling of the first retry's delay. Milliseconds > 0. */
  base_delay_ms: number;
  /** Factor the ceiling grows by on each further retry. >= 1. */
  backoff_rate: number;
  /** Cap on any single delay. Milliseconds >= `base_delay_ms`. */
  max_delay_ms: number;
  /** Total tries, the first one included. Integer >= 1; 1 means never retry. */
  max_attempts: number;
  /** Error names worth retrying, matched exactly; `States.ALL` (alone) matches any retryable error. */
  retryable_errors: readonly string[];
}

/** ASL wildcard error name. */
const STATES_ALL = 'States.ALL';

/** Terminal errors that Step Functions never lets `States.ALL` match. */
const NOT_MATCHED_BY_STATES_ALL: ReadonlySet<string> = new Set([
  'States.DataLimitExceeded',
  'States.Runtime',
]);

/** Up to 4 tries with delay ceilings of 2 s, 4 s and 8 s, for transient agent errors and timeouts. */
export const DEFAULT_RETRY_POLICY: RetryPolicy = Object.freeze({
  base_delay_ms: 2000,
  backoff_rate: 2,
  max_delay_ms: 60_000,
  max_attempts: 4,
  retryable_errors: Object.freeze(['Agent.Transient', 'States.Timeout', 'States.HeartbeatTimeout']),
});

/**
 * Checks a policy and returns it, so it can wrap the value where config is loaded.
 * @throws RangeError naming the first bad field: `base_delay_ms` > 0, `backoff_rate` >= 1,
 * `max_delay_ms` >= `base_delay_ms` (all finite), `max_attempts` an integer >= 1, and
 * `retryable_errors` a non-empty list of non-empty names in which `States.ALL`, if
 * present, stands alone (Step Functions refuses a Retrier that mixes them).
 * @example
 * const policy = validateRetryPolicy({ ...DEFAULT_RETRY_POLICY, max_attempts: 6 });
 */
export function validateRetryPolicy(p: RetryPolicy): RetryPolicy {
  if (!Number.isFinite(p.base_delay_ms) || p.base_delay_ms <= 0) {
    throw new RangeError(`base_delay_ms must be a finite number > 0, got ${p.base_delay_ms}`);
  }
  if (!Number.isFinite(p.backoff_rate) || p.backoff_rate < 1) {
    throw new RangeError(`backoff_rate must be a finite number >= 1, got ${p.backoff_rate}`);
  }
  if (!Number.isFinite(p.max_delay_ms) || p.max_delay_ms < p.base_delay_ms) {
    throw new RangeError(
      `max_delay_ms must be a finite number >= base_delay_ms (${p.base_delay_ms}), got ${p.max_delay_ms}`,
    );
  }
  if (!Number.isInteger(p.max_attempts) || p.max_attempts < 1) {
    throw new RangeError(`max_attempts must be an integer >= 1, got ${p.max_attempts}`);
  }
  if (p.retryable_errors.length === 0) {
    throw new RangeError('retryable_errors must name at least one error');
  }
  if (p.retryable_errors.some((name) => name.length === 0)) {
    throw new RangeError('retryable_errors must not contain an empty name');
  }
  if (p.retryable_errors.length > 1 && p.retryable_errors.includes(STATES_ALL)) {
    throw new RangeError(
      `retryable_errors must list ${STATES_ALL} alone, got ${p.retryable_errors.join(', ')}`,
    );
  }
  return p;
}

/**
 * Upper bound of the delay before a retry: `min(max_delay_ms, base_delay_ms * backoff_rate^(retry - 1))`.
 * @param retry 1-based: the first retry (the second try) has ceiling `base_delay_ms`.
 * @throws RangeError when `retry` is not an integer >= 1.
 * @example
 * backoffCeilingMs(3, DEFAULT_RETRY_POLICY) // 8000
 */
export function backoffCeilingMs(retry: number, p: RetryPolicy): number {
  if (!Number.isInteger(retry) || retry < 1) {
    throw new RangeError(`retry must be an integer >= 1, got ${retry}`);
  }
  // A large exponent overflows to Infinity, which the cap absorbs.
  return Math.min(p.max_delay_ms, p.base_delay_ms * p.backoff_rate ** (retry - 1));
}

/**
 * Delay before a retry with full jitter: a whole number of milliseconds drawn uniformly
 * from [0, ceiling] (below the ceiling with `Math.random`, which never returns 1).
 * Full jitter spreads retries from many callers that failed together, so they do not
 * hit a recovering agent in lockstep.
 * @param retry 1-based, as in {@link backoffCeilingMs}.
 * @param random Source of numbers in [0, 1]; injectable so tests are deterministic.
 * @throws RangeError when `retry` is invalid or `random` returns a value outside [0, 1].
 * @example
 * retryDelayMs(1, DEFAULT_RETRY_POLICY, () => 0.5) // 1000
 */
export function retryDelayMs(retry: number, p: RetryPolicy, random: () => number = Math.random): number {
  const ceiling = backoffCeilingMs(retry, p);
  const r = random();
  // NaN also fails this check; letting it through would schedule a retry for "NaN ms".
  if (!(r >= 0 && r <= 1)) throw new RangeError(`random() must return a number in [0, 1], got ${r}`);
  return Math.floor(r * ceiling);
}

/**
 * Whether to try again after a failure.
 * @param attempts_made Tries so far, the first one included (so 1 after the first failure).
 * @param error_name The failure's error name, compared exactly as Step Functions does.
 * `States.ALL` in the policy matches every name except the terminal errors Step
 * Functions never retries (`States.DataLimitExceeded`, `States.Runtime`).
 * @throws RangeError when `attempts_made` is not an integer >= 1.
 * @example
 * shouldRetry(1, 'Agent.Transient', DEFAULT_RETRY_POLICY) // true
 * shouldRetry(4, 'Agent.Transient', DEFAULT_RETRY_POLICY) // false: all 4 tries used
 */
export function shouldRetry(attempts_made: number, error_name: string, p: RetryPolicy): boolean {
  if (!Number.isInteger(attempts_made) || attempts_made < 1) {
    throw new RangeError(`attempts_made must be an integer >= 1, got ${attempts_made}`);
  }
  if (attempts_made >= p.max_attempts) return false;
  if (p.retryable_errors.includes(error_name)) return true;
  return p.retryable_errors.includes(STATES_ALL) && !NOT_MATCHED_BY_STATES_ALL.has(error_name);
}

/** One entry of an ASL Task's `Retry` array. */
export interface AslRetrier {
  ErrorEquals: string[];
  IntervalSeconds: number;
  BackoffRate: number;
  MaxAttempts: number;
  MaxDelaySeconds: number;
  JitterStrategy: 'FULL';
}

/**
 * The same policy as an ASL Retrier. ASL counts retries, not tries, so `MaxAttempts` is
 * `max_attempts - 1`; ASL also takes whole seconds >= 1, so both delays are rounded and
 * raised to one second, which makes sub-second policies wait slightly longer in Step Functions.
 * @example
 * toAslRetrier(DEFAULT_RETRY_POLICY)
 * // { ErrorEquals: ['Agent.Transient', ...], IntervalSeconds: 2, BackoffRate: 2,
 * //   MaxAttempts: 3, MaxDelaySeconds: 60, JitterStrategy: 'FULL' }
 */
export function toAslRetrier(p: RetryPolicy): AslRetrier {
  return {
    ErrorEquals: [...p.retryable_errors],
    IntervalSeconds: Math.max(1, Math.round(p.base_delay_ms / 1000)),
    BackoffRate: p.backoff_rate,
    MaxAttempts: p.max_attempts - 1,
    MaxDelaySeconds: Math.max(1, Math.round(p.max_delay_ms / 1000)),
    JitterStrategy: 'FULL',
  };
}
