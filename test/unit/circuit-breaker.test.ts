import fc from 'fast-check';
import {
  type CircuitBreakerConfig,
  type CircuitBreakerState,
  canDispatch,
  closedCircuit,
  DEFAULT_CIRCUIT_CONFIG,
  effectiveCircuitState,
  probeAfterRecovery,
  recordFailure,
  recordSuccess,
  tripCircuit,
  validateCircuitConfig,
} from '#core/circuit-breaker';

const config: CircuitBreakerConfig = {
  failure_threshold: 3,
  cooldown_ms: 1_000,
  half_open_max_probes: 2,
  success_threshold: 2,
  probe_timeout_ms: 60_000,
};

function openCircuit(
  opened_at_ms: number | null,
  extra: Partial<CircuitBreakerState> = {},
): CircuitBreakerState {
  return { ...closedCircuit(), state: 'OPEN', consecutive_failures: 3, opened_at_ms, version: 7, ...extra };
}

function halfOpenCircuit(extra: Partial<CircuitBreakerState> = {}): CircuitBreakerState {
  return {
    ...closedCircuit(),
    state: 'HALF_OPEN',
    consecutive_failures: 3,
    half_open_in_flight: 1,
    opened_at_ms: 0,
    version: 9,
    ...extra,
  };
}

describe('closedCircuit', () => {
  it('starts CLOSED with zeroed counters, no opening time and version 0', () => {
    // Act
    const state = closedCircuit();

    // Assess
    expect(state).toEqual({
      state: 'CLOSED',
      consecutive_failures: 0,
      half_open_successes: 0,
      half_open_in_flight: 0,
      opened_at_ms: null,
      probe_started_at_ms: null,
      version: 0,
    });
  });

  it('returns a new object on each call so callers cannot share state', () => {
    // Act
    const first = closedCircuit();
    const second = closedCircuit();

    // Assess
    expect(first).not.toBe(second);
  });
});

describe('DEFAULT_CIRCUIT_CONFIG', () => {
  it('holds the documented defaults and passes validation', () => {
    // Act
    const validated = validateCircuitConfig(DEFAULT_CIRCUIT_CONFIG);

    // Assess
    expect(validated).toEqual({
      failure_threshold: 5,
      cooldown_ms: 30_000,
      half_open_max_probes: 1,
      success_threshold: 2,
      probe_timeout_ms: 600_000,
    });
  });

  it('is frozen so no caller can change the defaults for everyone', () => {
    // Assess
    expect(Object.isFrozen(DEFAULT_CIRCUIT_CONFIG)).toBe(true);
  });
});

describe('validateCircuitConfig', () => {
  it('returns the config it was given when every field is valid', () => {
    // Prepare
    const minimal: CircuitBreakerConfig = {
      failure_threshold: 1,
      cooldown_ms: 0,
      half_open_max_probes: 1,
      success_threshold: 1,
      probe_timeout_ms: 0,
    };

    // Act
    const validated = validateCircuitConfig(minimal);

    // Assess
    expect(validated).toBe(minimal);
  });

  it.each([
    ['failure_threshold', 0],
    ['failure_threshold', 2.5],
    ['failure_threshold', Number.NaN],
    ['half_open_max_probes', 0],
    ['half_open_max_probes', -1],
    ['success_threshold', 0],
    ['success_threshold', 1.5],
    ['success_threshold', Number.POSITIVE_INFINITY],
  ] as const)('rejects %s = %p', (field, value) => {
    // Prepare
    const bad: CircuitBreakerConfig = { ...config, [field]: value };

    // Act
    const act = (): CircuitBreakerConfig => validateCircuitConfig(bad);

    // Assess
    expect(act).toThrow(RangeError);
    expect(act).toThrow(new RegExp(`^${field} must be an integer >= 1`));
  });

  it.each([-1, Number.NaN, Number.POSITIVE_INFINITY])('rejects cooldown_ms = %p', (value) => {
    // Prepare
    const bad: CircuitBreakerConfig = { ...config, cooldown_ms: value };

    // Act
    const act = (): CircuitBreakerConfig => validateCircuitConfig(bad);

    // Assess
    expect(act).toThrow(RangeError);
    expect(act).toThrow(/^cooldown_ms must be a finite number >= 0/);
  });
});

describe('effectiveCircuitState', () => {
  it('reads CLOSED and HALF_OPEN circuits as stored', () => {
    // Act
    const closed = effectiveCircuitState(closedCircuit(), 5_000, config);
    const halfOpen = effectiveCircuitState(halfOpenCircuit(), 5_000, config);

    // Assess
    expect(closed).toBe('CLOSED');
    expect(halfOpen).toBe('HALF_OPEN');
  });

  it('reads OPEN one millisecond before the cooldown ends', () => {
    // Act
    const state = effectiveCircuitState(openCircuit(10_000), 10_999, config);

    // Assess
    expect(state).toBe('OPEN');
  });

  it('reads HALF_OPEN once the cooldown has exactly elapsed, without changing the stored state', () => {
    // Prepare
    const stored = openCircuit(10_000);
    const before = structuredClone(stored);

    // Act
    const state = effectiveCircuitState(stored, 11_000, config);

    // Assess
    expect(state).toBe('HALF_OPEN');
    expect(stored).toEqual(before);
  });

  it('uses the default 30 s cooldown when no config is given', () => {
    // Prepare
    const stored = openCircuit(0);

    // Act
    const early = effectiveCircuitState(stored, 29_999);
    const due = effectiveCircuitState(stored, 30_000);

    // Assess
    expect(early).toBe('OPEN');
    expect(due).toBe('HALF_OPEN');
  });

  it('reads an OPEN record that lost its opening time as HALF_OPEN so it cannot stay open forever', () => {
    // Act
    const state = effectiveCircuitState(openCircuit(null), 0, config);

    // Assess
    expect(state).toBe('HALF_OPEN');
  });
});

describe('canDispatch', () => {
  it('allows a CLOSED circuit and returns it unchanged', () => {
    // Prepare
    const stored = { ...closedCircuit(), consecutive_failures: 2, version: 4 };

    // Act
    const result = canDispatch(stored, 1_000, config);

    // Assess
    expect(result.allowed).toBe(true);
    expect(result.state).toBe(stored);
    expect(result.state.version).toBe(4);
  });

  it('refuses an OPEN circuit one millisecond before the cooldown ends, without a state change', () => {
    // Prepare
    const stored = openCircuit(10_000);

    // Act
    const result = canDispatch(stored, 10_999, config);

    // Assess
    expect(result.allowed).toBe(false);
    expect(result.state).toBe(stored);
  });

  it('admits a probe when the cooldown has exactly elapsed, moving to HALF_OPEN', () => {
    // Prepare
    const stored = openCircuit(10_000, { half_open_successes: 1 });
    const before = structuredClone(stored);

    // Act
    const result = canDispatch(stored, 11_000, config);

    // Assess
    expect(result.allowed).toBe(true);
    expect(result.state).toEqual({
      state: 'HALF_OPEN',
      consecutive_failures: 3,
      half_open_successes: 0,
      half_open_in_flight: 1,
      opened_at_ms: 10_000,
      probe_started_at_ms: 11_000,
      version: 8,
    });
    expect(stored).toEqual(before);
  });

  it('admits a probe at once when the cooldown is zero', () => {
    // Act
    const result = canDispatch(openCircuit(5_000), 5_000, { ...config, cooldown_ms: 0 });

    // Assess
    expect(result.allowed).toBe(true);
    expect(result.state.state).toBe('HALF_OPEN');
  });

  it('admits a probe for an OPEN record that lost its opening time', () => {
    // Act
    const result = canDispatch(openCircuit(null), 0, config);

    // Assess
    expect(result.allowed).toBe(true);
    expect(result.state.state).toBe('HALF_OPEN');
    expect(result.state.half_open_in_flight).toBe(1);
  });

  it('admits another HALF_OPEN probe while below the limit, taking a slot', () => {
    // Prepare
    const stored = halfOpenCircuit({ half_open_in_flight: 1 });

    // Act
    const result = canDispatch(stored, 20_000, config);

    // Assess
    expect(result.allowed).toBe(true);
    expect(result.state).toEqual({
      ...stored,
      half_open_in_flight: 2,
      probe_started_at_ms: 20_000,
      version: stored.version + 1,
    });
  });

  it('refuses a HALF_OPEN probe when every slot is taken, without a state change', () => {
    // Prepare
    const stored = halfOpenCircuit({ half_open_in_flight: 2 });

    // Act
    const result = canDispatch(stored, 20_000, config);

    // Assess
    expect(result.allowed).toBe(false);
    expect(result.state).toBe(stored);
  });

  it('admits exactly half_open_max_probes probes after the cooldown, then refuses', () => {
    // Prepare
    const probeConfig = { ...config, half_open_max_probes: 3 };
    let state = openCircuit(0);
    const decisions: boolean[] = [];

    // Act
    for (let i = 0; i < 5; i++) {
      const result = canDispatch(state, 1_000, probeConfig);
      decisions.push(result.allowed);
      state = result.state;
    }

    // Assess
    expect(decisions).toEqual([true, true, true, false, false]);
    expect(state.half_open_in_flight).toBe(3);
    expect(state.version).toBe(10);
  });

  it('uses the default single probe when no config is given', () => {
    // Prepare
    const first = canDispatch(openCircuit(0), 30_000);

    // Act
    const second = canDispatch(first.state, 30_000);

    // Assess
    expect(first.allowed).toBe(true);
    expect(second.allowed).toBe(false);
  });
});

describe('recordSuccess', () => {
  it('clears the failure streak of a CLOSED circuit', () => {
    // Prepare
    const stored = { ...closedCircuit(), consecutive_failures: 2, version: 3 };

    // Act
    const next = recordSuccess(stored, 1_000, config);

    // Assess
    expect(next).toEqual({ ...closedCircuit(), version: 4 });
    expect(stored.consecutive_failures).toBe(2);
  });

  it('returns a CLOSED circuit with no failures unchanged, keeping its version', () => {
    // Prepare
    const stored = { ...closedCircuit(), version: 3 };

    // Act
    const next = recordSuccess(stored, 1_000, config);

    // Assess
    expect(next).toBe(stored);
    expect(next.version).toBe(3);
  });

  it('ignores a success reported while OPEN, even past the cooldown', () => {
    // Prepare
    const stored = openCircuit(0);

    // Act
    const beforeCooldown = recordSuccess(stored, 500, config);
    const afterCooldown = recordSuccess(stored, 5_000, config);

    // Assess
    expect(beforeCooldown).toBe(stored);
    expect(afterCooldown).toBe(stored);
  });

  it('counts a HALF_OPEN probe success below the threshold and frees its slot', () => {
    // Prepare
    const stored = halfOpenCircuit({ half_open_in_flight: 2 });

    // Act
    const next = recordSuccess(stored, 20_000, config);

    // Assess
    expect(next).toEqual({
      ...stored,
      consecutive_failures: 0,
      half_open_successes: 1,
      half_open_in_flight: 1,
      version: stored.version + 1,
    });
  });

  it('closes the circuit when HALF_OPEN successes exactly reach the threshold', () => {
    // Prepare
    const stored = halfOpenCircuit({ half_open_successes: 1, half_open_in_flight: 1 });

    // Act
    const next = recordSuccess(stored, 20_000, config);

    // Assess
    expect(next).toEqual({ ...closedCircuit(), version: stored.version + 1 });
  });

  it('closes on the first probe success when success_threshold is 1', () => {
    // Act
    const next = recordSuccess(halfOpenCircuit(), 20_000, { ...config, success_threshold: 1 });

    // Assess
    expect(next.state).toBe('CLOSED');
  });

  it('ignores a HALF_OPEN success with no probe in flight, since it cannot come from a probe', () => {
    // Prepare
    const stored = halfOpenCircuit({ half_open_in_flight: 0, half_open_successes: 1 });

    // Act
    const next = recordSuccess(stored, 20_000, config);

    // Assess
    expect(next).toBe(stored);
  });
});

describe('recordFailure', () => {
  it('counts a CLOSED failure below the threshold and stays CLOSED', () => {
    // Prepare
    const stored = { ...closedCircuit(), consecutive_failures: 1, version: 2 };

    // Act
    const next = recordFailure(stored, 1_000, config);

    // Assess
    expect(next).toEqual({ ...stored, consecutive_failures: 2, version: 3 });
  });

  it('opens the circuit when CLOSED failures exactly reach the threshold', () => {
    // Prepare
    const stored = { ...closedCircuit(), consecutive_failures: 2, version: 2 };

    // Act
    const next = recordFailure(stored, 1_234, config);

    // Assess
    expect(next).toEqual({
      state: 'OPEN',
      consecutive_failures: 3,
      half_open_successes: 0,
      half_open_in_flight: 0,
      opened_at_ms: 1_234,
      probe_started_at_ms: null,
      version: 3,
    });
  });

  it('opens on the first failure when failure_threshold is 1', () => {
    // Act
    const next = recordFailure(closedCircuit(), 50, { ...config, failure_threshold: 1 });

    // Assess
    expect(next.state).toBe('OPEN');
    expect(next.opened_at_ms).toBe(50);
  });

  it('uses the default threshold of five when no config is given', () => {
    // Prepare
    let state = closedCircuit();
    for (let i = 0; i < 4; i++) state = recordFailure(state, i);

    // Act
    const fifth = recordFailure(state, 4);

    // Assess
    expect(state.state).toBe('CLOSED');
    expect(fifth.state).toBe('OPEN');
  });

  it('re-opens a HALF_OPEN circuit on any failure with a fresh opening time', () => {
    // Prepare
    const stored = halfOpenCircuit({ half_open_successes: 1, half_open_in_flight: 2, opened_at_ms: 100 });

    // Act
    const next = recordFailure(stored, 20_000, config);

    // Assess
    expect(next).toEqual({
      state: 'OPEN',
      consecutive_failures: 4,
      half_open_successes: 0,
      half_open_in_flight: 0,
      opened_at_ms: 20_000,
      probe_started_at_ms: null,
      version: stored.version + 1,
    });
  });

  it('leaves an OPEN circuit unchanged so late failures do not extend the cooldown', () => {
    // Prepare
    const stored = openCircuit(10_000);

    // Act
    const during = recordFailure(stored, 10_500, config);
    const after = recordFailure(stored, 99_000, config);

    // Assess
    expect(during).toBe(stored);
    expect(after).toBe(stored);
    expect(after.opened_at_ms).toBe(10_000);
  });

  it('does not open when a success breaks the failure streak', () => {
    // Prepare
    let state = closedCircuit();
    state = recordFailure(state, 1, config);
    state = recordFailure(state, 2, config);
    state = recordSuccess(state, 3, config);

    // Act
    state = recordFailure(state, 4, config);
    state = recordFailure(state, 5, config);

    // Assess
    expect(state.state).toBe('CLOSED');
    expect(state.consecutive_failures).toBe(2);
  });
});

describe('circuit lifecycle', () => {
  it('opens, cools down, probes and closes with the default config, one version per change', () => {
    // Prepare
    let state = closedCircuit();
    for (let t = 0; t < 5; t++) state = recordFailure(state, t);
    const openedAt = state.opened_at_ms;

    // Act
    const tooEarly = canDispatch(state, 30_003);
    const probe1 = canDispatch(tooEarly.state, 30_004);
    const blocked = canDispatch(probe1.state, 30_005);
    const afterFirst = recordSuccess(blocked.state, 30_006);
    const probe2 = canDispatch(afterFirst, 30_007);
    const closed = recordSuccess(probe2.state, 30_008);

    // Assess
    expect(openedAt).toBe(4);
    expect([tooEarly.allowed, probe1.allowed, blocked.allowed, probe2.allowed]).toEqual([
      false,
      true,
      false,
      true,
    ]);
    expect(afterFirst.state).toBe('HALF_OPEN');
    expect(closed).toEqual({ ...closedCircuit(), version: 9 });
  });
});

describe('lost probes', () => {
  it('frees the slots of probes that never reported once the newest is probe_timeout_ms old', () => {
    // Prepare: both slots taken, the newest probe admitted at 20 s.
    const stored = halfOpenCircuit({ half_open_in_flight: 2, probe_started_at_ms: 20_000 });

    // Act
    const early = canDispatch(stored, 20_000 + config.probe_timeout_ms - 1, config);
    const overdue = canDispatch(stored, 20_000 + config.probe_timeout_ms, config);

    // Assess
    expect(early).toEqual({ allowed: false, state: stored });
    expect(overdue.allowed).toBe(true);
    expect(overdue.state).toMatchObject({
      state: 'HALF_OPEN',
      half_open_in_flight: 1,
      probe_started_at_ms: 20_000 + config.probe_timeout_ms,
      version: stored.version + 1,
    });
  });

  it('times probes of a state stored without probe_started_at_ms from when the circuit opened', () => {
    // Prepare
    const stored = halfOpenCircuit({ half_open_in_flight: 2, opened_at_ms: 5_000 });

    // Act
    const result = canDispatch(stored, 5_000 + config.probe_timeout_ms, config);

    // Assess
    expect(result.allowed).toBe(true);
  });
});

describe('tripCircuit', () => {
  it('opens a CLOSED or HALF_OPEN circuit now, one version up', () => {
    // Act
    const fromClosed = tripCircuit(closedCircuit(), 7_000);
    const fromHalfOpen = tripCircuit(halfOpenCircuit(), 8_000);

    // Assess
    expect(fromClosed).toMatchObject({
      state: 'OPEN',
      opened_at_ms: 7_000,
      half_open_in_flight: 0,
      version: 1,
    });
    expect(fromHalfOpen).toMatchObject({ state: 'OPEN', opened_at_ms: 8_000, version: 10 });
  });

  it('leaves an OPEN circuit and its cooldown alone', () => {
    // Prepare
    const stored = openCircuit(1_000);

    // Act
    const result = tripCircuit(stored, 9_000);

    // Assess
    expect(result).toBe(stored);
  });
});

describe('probeAfterRecovery', () => {
  it('moves an OPEN circuit to HALF_OPEN with no probe in flight, before its cooldown ends', () => {
    // Prepare
    const stored = openCircuit(1_000);

    // Act
    const result = probeAfterRecovery(stored);

    // Assess
    expect(result).toMatchObject({ state: 'HALF_OPEN', half_open_in_flight: 0, half_open_successes: 0 });
    expect(result.version).toBe(stored.version + 1);
    expect(canDispatch(result, 1_001, config).allowed).toBe(true);
  });

  it('leaves a CLOSED circuit closed', () => {
    // Prepare
    const stored = closedCircuit();

    // Act / Assess
    expect(probeAfterRecovery(stored)).toBe(stored);
  });
});

describe('circuit invariants (property)', () => {
  const configArb = fc.record({
    failure_threshold: fc.integer({ min: 1, max: 6 }),
    cooldown_ms: fc.integer({ min: 0, max: 100 }),
    half_open_max_probes: fc.integer({ min: 1, max: 3 }),
    success_threshold: fc.integer({ min: 1, max: 3 }),
    probe_timeout_ms: fc.integer({ min: 0, max: 200 }),
  });
  const opArb = fc.record({
    kind: fc.constantFrom('dispatch', 'success', 'failure', 'trip', 'recover'),
    advance_ms: fc.integer({ min: 0, max: 60 }),
  });

  it('keeps every reachable state consistent over any sequence of operations', () => {
    fc.assert(
      fc.property(configArb, fc.array(opArb, { maxLength: 80 }), (cfg, ops) => {
        // Prepare
        const circuitConfig = validateCircuitConfig(cfg);
        let state = closedCircuit();
        let now = 0;

        for (const op of ops) {
          now += op.advance_ms;
          const previous = state;
          const snapshot = structuredClone(previous);
          const routedAs = effectiveCircuitState(previous, now, circuitConfig);

          // Act
          if (op.kind === 'dispatch') {
            const result = canDispatch(previous, now, circuitConfig);
            // Assess: routing and dispatch agree on the obvious cases.
            if (routedAs === 'OPEN') expect(result.allowed).toBe(false);
            if (routedAs === 'CLOSED') expect(result.allowed).toBe(true);
            state = result.state;
          } else if (op.kind === 'trip') {
            state = tripCircuit(previous, now);
          } else if (op.kind === 'recover') {
            state = probeAfterRecovery(previous);
          } else if (op.kind === 'success') {
            state = recordSuccess(previous, now, circuitConfig);
          } else {
            state = recordFailure(previous, now, circuitConfig);
          }

          // Assess
          expect(previous).toEqual(snapshot);
          expect(state.half_open_in_flight).toBeGreaterThanOrEqual(0);
          expect(state.half_open_in_flight).toBeLessThanOrEqual(circuitConfig.half_open_max_probes);
          if (state.state === 'OPEN') {
            expect(state.opened_at_ms).not.toBeNull();
            expect(state.opened_at_ms).toBeLessThanOrEqual(now);
          }
          if (state.state === 'CLOSED') {
            expect(state.half_open_in_flight).toBe(0);
            expect(state.consecutive_failures).toBeLessThan(circuitConfig.failure_threshold);
          }
          if (state.state === 'HALF_OPEN') {
            expect(state.half_open_successes).toBeLessThan(circuitConfig.success_threshold);
          }
          const step = state.version - previous.version;
          expect([0, 1]).toContain(step);
          if (step === 0) expect(state).toEqual(previous);
          else expect(state).not.toEqual({ ...previous, version: state.version });
        }
      }),
    );
  });
});
