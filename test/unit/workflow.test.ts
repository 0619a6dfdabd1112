import fc from 'fast-check';
import { StepStatus } from '#core/wire';
import {
  buildSegments,
  DEFAULT_HEARTBEAT_SECONDS,
  decideTransition,
  failureStatus,
  HISTORY_EVENTS,
  HISTORY_LIMIT,
  MAX_MAP_CONCURRENCY,
  MAX_WORKFLOW_STEPS,
  MIN_DEFAULT_TIMEOUT_SECONDS,
  type SegmentInput,
  STEP_TRANSITIONS,
  type StepTransition,
  stepTimers,
} from '#core/workflow';

describe('stepTimers', () => {
  it('defaults to 3x the planned duration and a one-minute heartbeat', () => {
    // Act
    const timers = stepTimers({ duration_ms: 120_000 });

    // Assess
    expect(timers).toEqual({ timeout_seconds: 360, heartbeat_seconds: DEFAULT_HEARTBEAT_SECONDS });
  });

  it('never defaults below a minute, whatever the plan says', () => {
    expect(stepTimers({ duration_ms: 500 })).toEqual({
      timeout_seconds: MIN_DEFAULT_TIMEOUT_SECONDS,
      heartbeat_seconds: 60,
    });
  });

  it('takes explicit ISO-8601 timers, rounded up to whole seconds', () => {
    expect(stepTimers({ duration_ms: 1000, timeout: 'PT4.2S', heartbeat: 'PT2S' })).toEqual({
      timeout_seconds: 5,
      heartbeat_seconds: 2,
    });
  });

  it('caps the default heartbeat at an explicit short timeout', () => {
    expect(stepTimers({ duration_ms: 1000, timeout: 'PT10S' })).toEqual({
      timeout_seconds: 10,
      heartbeat_seconds: 10,
    });
  });

  it('rejects a heartbeat longer than the timeout', () => {
    expect(() => stepTimers({ duration_ms: 1000, timeout: 'PT5S', heartbeat: 'PT6S' })).toThrow(
      /heartbeat \(6 s\) must not be longer than the step's timeout \(5 s\)/,
    );
  });

  it('rejects timers outside one second to seven days', () => {
    expect(() => stepTimers({ duration_ms: 1000, timeout: 'PT0S' })).toThrow(/timeout must be between/);
    expect(() => stepTimers({ duration_ms: 1000, timeout: 'P8D' })).toThrow(/timeout must be between/);
  });

  it('always gives 1 <= heartbeat <= timeout (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 10 * 24 * 3600 * 1000 }), (duration_ms) => {
        const { timeout_seconds, heartbeat_seconds } = stepTimers({ duration_ms });
        return (
          heartbeat_seconds >= 1 && heartbeat_seconds <= timeout_seconds && Number.isInteger(timeout_seconds)
        );
      }),
    );
  });
});

const input = (step_id: string, wave: number, status: StepStatus = 'PENDING'): SegmentInput => ({
  step_id,
  agent_id: `agent-${step_id}`,
  issue_id: `issue-${step_id}`,
  wave,
  status,
  timeout_seconds: 60,
  heartbeat_seconds: 30,
});

describe('buildSegments', () => {
  it('makes one segment per wave, in wave order, with the planned concurrency', () => {
    // Act
    const segments = buildSegments([input('c', 1), input('a', 0), input('b', 1)], [1, 2]);

    // Assess
    expect(segments.map((s) => [s.wave, s.max_concurrency, s.steps.map((x) => x.step_id)])).toEqual([
      [0, 1, ['a']],
      [1, 2, ['c', 'b']],
    ]);
    expect(segments[0]?.steps[0]).toEqual({
      step_id: 'a',
      agent_id: 'agent-a',
      issue_id: 'issue-a',
      timeout_seconds: 60,
      heartbeat_seconds: 30,
    });
  });

  it('leaves out steps that already succeeded (the checkpoint), and waves they empty', () => {
    const segments = buildSegments(
      [input('a', 0, 'SUCCEEDED'), input('b', 1), input('c', 1, 'SUCCEEDED')],
      [1, 2],
    );
    expect(segments).toEqual([
      {
        wave: 1,
        max_concurrency: 1,
        steps: [
          {
            step_id: 'b',
            agent_id: 'agent-b',
            issue_id: 'issue-b',
            timeout_seconds: 60,
            heartbeat_seconds: 30,
          },
        ],
      },
    ]);
  });

  it('keeps the concurrency between 1 and the inline Map limit', () => {
    const wide = Array.from({ length: 60 }, (_, i) => input(`s${i}`, 0));
    expect(buildSegments(wide, [100])[0]?.max_concurrency).toBe(MAX_MAP_CONCURRENCY);
    expect(buildSegments(wide, [0])[0]?.max_concurrency).toBe(1);
    expect(buildSegments(wide, [])[0]?.max_concurrency).toBe(MAX_MAP_CONCURRENCY);
  });

  it('holds every unfinished step exactly once, waves ascending (property)', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({ wave: fc.integer({ min: 0, max: 5 }), status: fc.constantFrom(...StepStatus.options) }),
          { maxLength: 50 },
        ),
        (specs) => {
          const steps = specs.map((s, i) => input(`s${i}`, s.wave, s.status));
          const segments = buildSegments(steps, [3, 3, 3]);
          const ids = segments.flatMap((s) => s.steps.map((x) => x.step_id)).sort();
          const expected = steps
            .filter((s) => s.status !== 'SUCCEEDED' && s.status !== 'SKIPPED')
            .map((s) => s.step_id)
            .sort();
          const waves = segments.map((s) => s.wave);
          return (
            JSON.stringify(ids) === JSON.stringify(expected) &&
            waves.every((w, i) => i === 0 || w > (waves[i - 1] as number))
          );
        },
      ),
    );
  });
});

describe('decideTransition', () => {
  it('applies a transition from an allowed status, replays one already applied, refuses the rest', () => {
    expect(decideTransition('succeed', 'DISPATCHED')).toBe('apply');
    expect(decideTransition('succeed', 'SUCCEEDED')).toBe('replay');
    expect(decideTransition('succeed', 'PENDING')).toBe('refuse');
    expect(decideTransition('compensated', 'COMPENSATED')).toBe('replay');
    expect(decideTransition('compensate', 'PENDING')).toBe('refuse');
  });

  it('treats every dispatch as a new attempt, never as a replay', () => {
    expect(decideTransition('dispatch', 'DISPATCHED')).toBe('apply');
    expect(decideTransition('dispatch', 'SUCCEEDED')).toBe('refuse');
  });

  it('never lets a finished step run again, nor an undone step be redone', () => {
    const transitions = Object.keys(STEP_TRANSITIONS) as StepTransition[];
    for (const t of transitions.filter((t) => t === 'dispatch' || t === 'succeed'))
      expect(decideTransition(t, 'COMPENSATED')).toBe('refuse');
  });

  it('maps timeouts to TIMED_OUT and anything else to FAILED', () => {
    expect(failureStatus('States.Timeout')).toBe('TIMED_OUT');
    expect(failureStatus('States.HeartbeatTimeout')).toBe('TIMED_OUT');
    expect(failureStatus('Agent.Permanent')).toBe('FAILED');
  });
});

describe('history budget', () => {
  it('fits the worst case of the largest workflow into one execution history', () => {
    // Act
    const worst =
      HISTORY_EVENTS.fixed +
      MAX_WORKFLOW_STEPS * (HISTORY_EVENTS.perStepExecute + HISTORY_EVENTS.perStepRollback);

    // Assess
    expect(worst).toBeLessThanOrEqual(HISTORY_LIMIT);
    expect(worst).toBe(24_000);
  });
});
