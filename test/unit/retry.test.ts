import fc from 'fast-check';
import {
  backoffCeilingMs,
  DEFAULT_RETRY_POLICY,
  type RetryPolicy,
  retryDelayMs,
  shouldRetry,
  toAslRetrier,
  validateRetryPolicy,
} from '#core/retry';

const policy: RetryPolicy = {
  base_delay_ms: 1_000,
  backoff_rate: 2,
  max_delay_ms: 8_000,
  max_attempts: 3,
  retryable_errors: ['Agent.Transient', 'States.Timeout'],
};

describe('DEFAULT_RETRY_POLICY', () => {
  it('holds the documented defaults and passes validation', () => {
    // Act
    const validated = validateRetryPolicy(DEFAULT_RETRY_POLICY);

    // Assess
    expect(validated).toEqual({
      base_delay_ms: 2000,
      backoff_rate: 2,
      max_delay_ms: 60_000,
      max_attempts: 4,
      retryable_errors: ['Agent.Transient', 'States.Timeout', 'States.HeartbeatTimeout'],
    });
  });

  it('is frozen, error list included, so no caller can change the defaults for everyone', () => {
    // Assess
    expect(Object.isFrozen(DEFAULT_RETRY_POLICY)).toBe(true);
    expect(Object.isFrozen(DEFAULT_RETRY_POLICY.retryable_errors)).toBe(true);
  });
});

describe('validateRetryPolicy', () => {
  it('returns the policy it was given at the edges of every range', () => {
    // Prepare
    const edge: RetryPolicy = {
      base_delay_ms: 0.5,
      backoff_rate: 1,
      max_delay_ms: 0.5,
      max_attempts: 1,
      retryable_errors: ['States.ALL'],
    };

    // Act
    const validated = validateRetryPolicy(edge);

    // Assess
    expect(validated).toBe(edge);
  });

  it.each<[string, Partial<RetryPolicy>]>([
    ['base_delay_ms', { base_delay_ms: 0 }],
    ['base_delay_ms', { base_delay_ms: -1 }],
    ['base_delay_ms', { base_delay_ms: Number.NaN }],
    ['base_delay_ms', { base_delay_ms: Number.POSITIVE_INFINITY }],
    ['backoff_rate', { backoff_rate: 0.99 }],
    ['backoff_rate', { backoff_rate: Number.NaN }],
    ['backoff_rate', { backoff_rate: Number.POSITIVE_INFINITY }],
    ['max_delay_ms', { max_delay_ms: 999 }],
    ['max_delay_ms', { max_delay_ms: Number.POSITIVE_INFINITY }],
    ['max_attempts', { max_attempts: 0 }],
    ['max_attempts', { max_attempts: 2.5 }],
    ['max_attempts', { max_attempts: Number.NaN }],
    ['retryable_errors', { retryable_errors: [] }],
    ['retryable_errors', { retryable_errors: ['Agent.Transient', ''] }],
    ['retryable_errors', { retryable_errors: ['Agent.Transient', 'States.ALL'] }],
  ])('rejects a bad %s: %j', (field, override) => {
    // Prepare
    const bad: RetryPolicy = { ...policy, ...override };

    // Act
    const act = (): RetryPolicy => validateRetryPolicy(bad);

    // Assess
    expect(act).toThrow(RangeError);
    expect(act).toThrow(new RegExp(`^${field} must`));
  });
});

describe('backoffCeilingMs', () => {
  it('starts at base_delay_ms and multiplies by backoff_rate on each retry', () => {
    // Act
    const ceilings = [1, 2, 3, 4, 5].map((retry) => backoffCeilingMs(retry, DEFAULT_RETRY_POLICY));

    // Assess
    expect(ceilings).toEqual([2_000, 4_000, 8_000, 16_000, 32_000]);
  });

  it('caps the ceiling at max_delay_ms, including the retry that lands exactly on it', () => {
    // Act
    const belowCap = backoffCeilingMs(3, policy);
    const onCap = backoffCeilingMs(4, policy);
    const pastCap = backoffCeilingMs(5, policy);
    const defaultPastCap = backoffCeilingMs(6, DEFAULT_RETRY_POLICY);

    // Assess
    expect(belowCap).toBe(4_000);
    expect(onCap).toBe(8_000);
    expect(pastCap).toBe(8_000);
    expect(defaultPastCap).toBe(60_000);
  });

  it('stays at max_delay_ms when the exponent overflows', () => {
    // Act
    const ceiling = backoffCeilingMs(10_000, policy);

    // Assess
    expect(ceiling).toBe(8_000);
  });

  it('keeps a constant ceiling when backoff_rate is 1', () => {
    // Prepare
    const flat: RetryPolicy = { ...policy, backoff_rate: 1 };

    // Act
    const ceilings = [1, 2, 10].map((retry) => backoffCeilingMs(retry, flat));

    // Assess
    expect(ceilings).toEqual([1_000, 1_000, 1_000]);
  });

  it.each([0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY])('rejects retry = %p', (retry) => {
    // Act
    const act = (): number => backoffCeilingMs(retry, policy);

    // Assess
    expect(act).toThrow(RangeError);
    expect(act).toThrow(/^retry must be an integer >= 1/);
  });
});

describe('retryDelayMs', () => {
  it.each([
    [0, 0],
    [0.5, 1_000],
    [0.999_999, 1_999],
    [1, 2_000],
  ])('scales random() = %p to %p ms on the second retry', (random, expected) => {
    // Act
    const delay = retryDelayMs(2, policy, () => random);

    // Assess
    expect(delay).toBe(expected);
  });

  it('rounds down to a whole millisecond when the ceiling is fractional', () => {
    // Prepare
    const fractional: RetryPolicy = { ...policy, base_delay_ms: 1_500, backoff_rate: 1.5 };

    // Act
    const delay = retryDelayMs(2, fractional, () => 0.25);

    // Assess
    expect(delay).toBe(562);
  });

  it('applies the cap before jitter', () => {
    // Act
    const delay = retryDelayMs(20, policy, () => 0.5);

    // Assess
    expect(delay).toBe(4_000);
  });

  it('draws from Math.random when no source is given', () => {
    // Prepare
    const spy = jest.spyOn(Math, 'random').mockReturnValue(0.25);

    try {
      // Act
      const delay = retryDelayMs(1, DEFAULT_RETRY_POLICY);

      // Assess
      expect(delay).toBe(500);
      expect(spy).toHaveBeenCalledTimes(1);
    } finally {
      spy.mockRestore();
    }
  });

  it.each([-0.1, 1.1, Number.NaN])('rejects a random source that returns %p', (value) => {
    // Act
    const act = (): number => retryDelayMs(1, policy, () => value);

    // Assess
    expect(act).toThrow(RangeError);
    expect(act).toThrow(/^random\(\) must return a number in \[0, 1\]/);
  });

  it('rejects retry 0 before drawing a random number', () => {
    // Prepare
    const random = jest.fn(() => 0.5);

    // Act
    const act = (): number => retryDelayMs(0, policy, random);

    // Assess
    expect(act).toThrow(/^retry must be an integer >= 1/);
    expect(random).not.toHaveBeenCalled();
  });
});

describe('shouldRetry', () => {
  it('retries a listed error until attempts_made reaches max_attempts', () => {
    // Act
    const decisions = [1, 2, 3, 4].map((attempts) => shouldRetry(attempts, 'Agent.Transient', policy));

    // Assess
    expect(decisions).toEqual([true, true, false, false]);
  });

  it('never retries when max_attempts is 1', () => {
    // Act
    const decision = shouldRetry(1, 'Agent.Transient', { ...policy, max_attempts: 1 });

    // Assess
    expect(decision).toBe(false);
  });

  it.each(['Agent.Permanent', 'agent.transient', 'Agent.Transient.Extra', 'Agent', ''])(
    'does not retry %p, which is not an exact match',
    (name) => {
      // Act
      const decision = shouldRetry(1, name, policy);

      // Assess
      expect(decision).toBe(false);
    },
  );

  it('retries any error name under States.ALL', () => {
    // Prepare
    const all: RetryPolicy = { ...policy, retryable_errors: ['States.ALL'] };

    // Act
    const decisions = ['Agent.Permanent', 'States.TaskFailed', 'States.ALL'].map((name) =>
      shouldRetry(1, name, all),
    );

    // Assess
    expect(decisions).toEqual([true, true, true]);
  });

  it.each(['States.DataLimitExceeded', 'States.Runtime'])(
    'does not retry the terminal error %p under States.ALL, as Step Functions does not',
    (name) => {
      // Prepare
      const all: RetryPolicy = { ...policy, retryable_errors: ['States.ALL'] };

      // Act
      const decision = shouldRetry(1, name, all);

      // Assess
      expect(decision).toBe(false);
    },
  );

  it('stops at max_attempts under States.ALL too', () => {
    // Act
    const decision = shouldRetry(3, 'Anything', { ...policy, retryable_errors: ['States.ALL'] });

    // Assess
    expect(decision).toBe(false);
  });

  it.each([0, -1, 1.5, Number.NaN])('rejects attempts_made = %p', (attempts) => {
    // Act
    const act = (): boolean => shouldRetry(attempts, 'Agent.Transient', policy);

    // Assess
    expect(act).toThrow(RangeError);
    expect(act).toThrow(/^attempts_made must be an integer >= 1/);
  });
});

describe('toAslRetrier', () => {
  it('emits the default policy as a full-jitter Retrier counting retries only', () => {
    // Act
    const retrier = toAslRetrier(DEFAULT_RETRY_POLICY);

    // Assess
    expect(retrier).toEqual({
      ErrorEquals: ['Agent.Transient', 'States.Timeout', 'States.HeartbeatTimeout'],
      IntervalSeconds: 2,
      BackoffRate: 2,
      MaxAttempts: 3,
      MaxDelaySeconds: 60,
      JitterStrategy: 'FULL',
    });
  });

  it('emits MaxAttempts 0 for a policy that never retries', () => {
    // Act
    const retrier = toAslRetrier({ ...policy, max_attempts: 1 });

    // Assess
    expect(retrier.MaxAttempts).toBe(0);
  });

  it.each([
    [400, 1],
    [1_000, 1],
    [1_499, 1],
    [1_500, 2],
    [2_600, 3],
  ])('rounds %p ms to %p whole seconds, never below 1', (ms, seconds) => {
    // Act
    const retrier = toAslRetrier({ ...policy, base_delay_ms: ms, max_delay_ms: ms });

    // Assess
    expect(retrier.IntervalSeconds).toBe(seconds);
    expect(retrier.MaxDelaySeconds).toBe(seconds);
  });

  it('copies the error list so editing the Retrier cannot change the policy', () => {
    // Prepare
    const source: RetryPolicy = { ...policy, retryable_errors: ['Agent.Transient'] };

    // Act
    const retrier = toAslRetrier(source);
    retrier.ErrorEquals.push('States.TaskFailed');

    // Assess
    expect(source.retryable_errors).toEqual(['Agent.Transient']);
  });
});

describe('retry invariants (property)', () => {
  const policyArb = fc
    .record({
      base_delay_ms: fc.double({ min: 1, max: 10_000, noNaN: true }),
      backoff_rate: fc.double({ min: 1, max: 4, noNaN: true }),
      extra_delay_ms: fc.double({ min: 0, max: 1_000_000, noNaN: true }),
      max_attempts: fc.integer({ min: 1, max: 10 }),
    })
    .map(
      ({ extra_delay_ms, ...rest }): RetryPolicy => ({
        ...rest,
        max_delay_ms: rest.base_delay_ms + extra_delay_ms,
        retryable_errors: ['Agent.Transient'],
      }),
    );

  it('keeps every jittered delay a whole number within [0, ceiling]', () => {
    fc.assert(
      fc.property(
        policyArb,
        fc.integer({ min: 1, max: 60 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (p, retry, random) => {
          // Prepare
          const ceiling = backoffCeilingMs(retry, validateRetryPolicy(p));

          // Act
          const delay = retryDelayMs(retry, p, () => random);

          // Assess
          expect(Number.isInteger(delay)).toBe(true);
          expect(delay).toBeGreaterThanOrEqual(0);
          expect(delay).toBeLessThanOrEqual(ceiling);
        },
      ),
    );
  });

  it('keeps ceilings non-decreasing, starting at base_delay_ms and capped at max_delay_ms', () => {
    fc.assert(
      fc.property(policyArb, (p) => {
        // Act
        const ceilings = Array.from({ length: 60 }, (_, i) => backoffCeilingMs(i + 1, p));

        // Assess
        expect(ceilings[0]).toBe(p.base_delay_ms);
        ceilings.forEach((ceiling, i) => {
          expect(ceiling).toBeLessThanOrEqual(p.max_delay_ms);
          expect(ceiling).toBeGreaterThanOrEqual(ceilings[i - 1] ?? 0);
        });
      }),
    );
  });

  it('allows exactly as many retries in process as the ASL Retrier does', () => {
    fc.assert(
      fc.property(policyArb, (p) => {
        // Act
        const retries = Array.from({ length: 12 }, (_, i) => i + 1).filter((attempts) =>
          shouldRetry(attempts, 'Agent.Transient', p),
        ).length;

        // Assess
        expect(retries).toBe(toAslRetrier(p).MaxAttempts);
      }),
    );
  });
});
