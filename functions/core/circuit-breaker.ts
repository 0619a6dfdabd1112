/**
 * Per-agent circuit breaker: CLOSED → OPEN after repeated failures, OPEN → HALF_OPEN
 * once a cooldown has elapsed, HALF_OPEN → CLOSED after enough successful probes.
 *
 * The state is a plain record persisted in DynamoDB as-is, so every function here is
 * pure: it takes the state read from the table plus the current time and returns the
 * state to write back. `version` supports optimistic locking: it moves by exactly one
 * on every change, and a call that changes nothing returns its input untouched, so a
 * caller can skip the write when `next.version === read.version`.
 */
import type { CircuitState } from './wire';

/** Tuning for one circuit. Validate it once at load time with {@link validateCircuitConfig}. */
export interface CircuitBreakerConfig {
  /** Consecutive failures in CLOSED that open the circuit. Integer >= 1. */
  failure_threshold: number;
  /** Time an OPEN circuit refuses traffic before it admits a probe. Milliseconds >= 0. */
  cooldown_ms: number;
  /** Probes allowed in flight at once while HALF_OPEN. Integer >= 1. */
  half_open_max_probes: number;
  /** Successful probes in HALF_OPEN that close the circuit. Integer >= 1. */
  success_threshold: number;
  /**
   * A probe that has not reported after this long is presumed lost (its workflow was
   * cancelled, its answer never came), and its slot is given to the next probe. Milliseconds >= 0.
   */
  probe_timeout_ms: number;
}

/** Five straight failures open the circuit for 30 s; two good probes, one at a time, close it. */
export const DEFAULT_CIRCUIT_CONFIG: CircuitBreakerConfig = Object.freeze({
  failure_threshold: 5,
  cooldown_ms: 30_000,
  half_open_max_probes: 1,
  success_threshold: 2,
  probe_timeout_ms: 10 * 60_000,
});

/** Persisted breaker state. Field names are the DynamoDB attribute names. */
export interface CircuitBreakerState {
  /** Stored state. An OPEN circuit past its cooldown still reads OPEN here; see {@link effectiveCircuitState}. */
  state: CircuitState;
  /** Failures since the last success. */
  consecutive_failures: number;
  /** Successful probes since the circuit last went HALF_OPEN. */
  half_open_successes: number;
  /** Probes admitted while HALF_OPEN that have not reported yet. */
  half_open_in_flight: number;
  /** When the circuit last opened; null only while it has never opened since it last closed. */
  opened_at_ms: number | null;
  /** When the newest HALF_OPEN probe was admitted; absent on states stored before probes timed out. */
  probe_started_at_ms?: number | null;
  /** Optimistic-lock counter: +1 on every change, unchanged on a no-op. */
  version: number;
}

/**
 * A fresh, closed circuit at version 0, for an agent that has no stored state yet.
 * @example
 * const state = closedCircuit(); // { state: 'CLOSED', consecutive_failures: 0, ..., version: 0 }
 */
export function closedCircuit(): CircuitBreakerState {
  return {
    state: 'CLOSED',
    consecutive_failures: 0,
    half_open_successes: 0,
    half_open_in_flight: 0,
    opened_at_ms: null,
    probe_started_at_ms: null,
    version: 0,
  };
}

/**
 * The state to route by. An OPEN circuit whose cooldown has elapsed reads HALF_OPEN, because
 * the next {@link canDispatch} would admit a probe; the stored state is not touched, so
 * read-only callers (routing, status pages) need no write.
 * @example
 * effectiveCircuitState({ ...closedCircuit(), state: 'OPEN', opened_at_ms: 0, version: 1 }, 30_000) // 'HALF_OPEN'
 */
export function effectiveCircuitState(
  s: CircuitBreakerState,
  now_ms: number,
  config: CircuitBreakerConfig = DEFAULT_CIRCUIT_CONFIG,
): CircuitState {
  if (s.state === 'OPEN' && cooldownElapsed(s, now_ms, config)) return 'HALF_OPEN';
  return s.state;
}

/**
 * Decides whether one request may go to the agent now, and returns the state to persist.
 * Admitting a probe takes a HALF_OPEN slot, so the returned state must be written
 * (conditionally on the version read) before the request is sent; otherwise two
 * dispatchers could both take the last slot.
 * @example
 * const { allowed, state } = canDispatch(stored, now_ms);
 * if (allowed && state.version !== stored.version) await repo.putIfVersion(state, stored.version);
 */
export function canDispatch(
  s: CircuitBreakerState,
  now_ms: number,
  config: CircuitBreakerConfig = DEFAULT_CIRCUIT_CONFIG,
): { allowed: boolean; state: CircuitBreakerState } {
  switch (s.state) {
    case 'CLOSED':
      return { allowed: true, state: s };
    case 'OPEN':
      if (!cooldownElapsed(s, now_ms, config)) return { allowed: false, state: s };
      return {
        allowed: true,
        state: {
          ...s,
          state: 'HALF_OPEN',
          half_open_successes: 0,
          half_open_in_flight: 1,
          probe_started_at_ms: now_ms,
          version: s.version + 1,
        },
      };
    case 'HALF_OPEN': {
      // Slots held by probes that never reported are freed once the newest is overdue.
      const since = s.probe_started_at_ms ?? s.opened_at_ms;
      const lost = since === null || now_ms - since >= config.probe_timeout_ms;
      const inFlight = lost ? 0 : s.half_open_in_flight;
      if (inFlight >= config.half_open_max_probes) return { allowed: false, state: s };
      return {
        allowed: true,
        state: {
          ...s,
          half_open_in_flight: inFlight + 1,
          probe_started_at_ms: now_ms,
          version: s.version + 1,
        },
      };
    }
  }
}

/**
 * Opens the circuit now, whatever its state: the health sweep found the agent silent, which
 * is stronger evidence than any count of failures. An OPEN circuit keeps its cooldown.
 * @example
 * tripCircuit(closedCircuit(), 5_000) // { state: 'OPEN', opened_at_ms: 5000, version: 1, ... }
 */
export function tripCircuit(s: CircuitBreakerState, now_ms: number): CircuitBreakerState {
  if (s.state === 'OPEN') return s;
  return openedAt(s, s.consecutive_failures, now_ms);
}

/**
 * An agent that was unhealthy has reported in again: its circuit goes HALF_OPEN at once, with
 * no probe in flight, so it earns traffic back probe by probe instead of waiting out the
 * cooldown or taking a full load. A CLOSED or already HALF_OPEN circuit is left as it is.
 * @example
 * probeAfterRecovery(tripCircuit(closedCircuit(), 0)).state // 'HALF_OPEN'
 */
export function probeAfterRecovery(s: CircuitBreakerState): CircuitBreakerState {
  if (s.state !== 'OPEN') return s;
  return {
    ...s,
    state: 'HALF_OPEN',
    half_open_successes: 0,
    half_open_in_flight: 0,
    probe_started_at_ms: null,
    version: s.version + 1,
  };
}

/**
 * Records a successful call. CLOSED: clears the failure streak. HALF_OPEN: releases the
 * probe's slot and counts it; reaching `success_threshold` closes the circuit.
 *
 * Reports that cannot come from an admitted probe are ignored: in OPEN, and in HALF_OPEN
 * with no probe in flight, the success belongs to a request sent before the circuit
 * opened and says nothing about whether the agent has recovered.
 * @example
 * const opened = { ...closedCircuit(), state: 'OPEN' as const, opened_at_ms: 0, version: 1 };
 * const probing = canDispatch(opened, 30_000).state; // HALF_OPEN, one probe in flight
 * recordSuccess(probing, 30_500, { ...DEFAULT_CIRCUIT_CONFIG, success_threshold: 1 }).state // 'CLOSED'
 */
export function recordSuccess(
  s: CircuitBreakerState,
  _now_ms: number,
  config: CircuitBreakerConfig = DEFAULT_CIRCUIT_CONFIG,
): CircuitBreakerState {
  switch (s.state) {
    case 'CLOSED':
      if (s.consecutive_failures === 0) return s;
      return { ...s, consecutive_failures: 0, version: s.version + 1 };
    case 'OPEN':
      return s;
    case 'HALF_OPEN': {
      if (s.half_open_in_flight <= 0) return s;
      const successes = s.half_open_successes + 1;
      if (successes >= config.success_threshold) return { ...closedCircuit(), version: s.version + 1 };
      return {
        ...s,
        consecutive_failures: 0,
        half_open_successes: successes,
        half_open_in_flight: s.half_open_in_flight - 1,
        version: s.version + 1,
      };
    }
  }
}

/**
 * Records a failed call. CLOSED: extends the failure streak and opens the circuit when it
 * reaches `failure_threshold`. HALF_OPEN: any failure re-opens it with a fresh cooldown,
 * since the agent has not recovered. OPEN: no change, because late failures from requests
 * sent before it opened must not push the cooldown further out.
 * @example
 * recordFailure({ ...closedCircuit(), consecutive_failures: 4 }, 1_000).opened_at_ms // 1000
 */
export function recordFailure(
  s: CircuitBreakerState,
  now_ms: number,
  config: CircuitBreakerConfig = DEFAULT_CIRCUIT_CONFIG,
): CircuitBreakerState {
  switch (s.state) {
    case 'CLOSED': {
      const failures = s.consecutive_failures + 1;
      if (failures < config.failure_threshold) {
        return { ...s, consecutive_failures: failures, version: s.version + 1 };
      }
      return openedAt(s, failures, now_ms);
    }
    case 'HALF_OPEN':
      return openedAt(s, s.consecutive_failures + 1, now_ms);
    case 'OPEN':
      return s;
  }
}

/**
 * Checks a config and returns it, so it can wrap the value where config is loaded.
 * @throws RangeError naming the first bad field: thresholds and probes must be integers
 * >= 1, `cooldown_ms` a finite number >= 0.
 * @example
 * const config = validateCircuitConfig({ ...DEFAULT_CIRCUIT_CONFIG, cooldown_ms: 60_000 });
 */
export function validateCircuitConfig(c: CircuitBreakerConfig): CircuitBreakerConfig {
  for (const field of ['failure_threshold', 'half_open_max_probes', 'success_threshold'] as const) {
    const value = c[field];
    if (!Number.isInteger(value) || value < 1) {
      throw new RangeError(`${field} must be an integer >= 1, got ${value}`);
    }
  }
  for (const field of ['cooldown_ms', 'probe_timeout_ms'] as const) {
    const value = c[field];
    if (!Number.isFinite(value) || value < 0) {
      throw new RangeError(`${field} must be a finite number >= 0, got ${value}`);
    }
  }
  return c;
}

// An OPEN record without a timestamp is corrupt; treating its cooldown as over lets a
// probe decide, instead of refusing the agent forever.
function cooldownElapsed(s: CircuitBreakerState, now_ms: number, config: CircuitBreakerConfig): boolean {
  return s.opened_at_ms === null || now_ms - s.opened_at_ms >= config.cooldown_ms;
}

function openedAt(s: CircuitBreakerState, failures: number, now_ms: number): CircuitBreakerState {
  return {
    state: 'OPEN',
    consecutive_failures: failures,
    half_open_successes: 0,
    half_open_in_flight: 0,
    opened_at_ms: now_ms,
    probe_started_at_ms: null,
    version: s.version + 1,
  };
}
