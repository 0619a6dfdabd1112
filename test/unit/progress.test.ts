import fc from 'fast-check';
import { computeProgress, type ProgressStep, throughputEta } from '#core/progress';
import { ProgressReport, StepStatus } from '#core/wire';

const NOW = Date.parse('2025-01-01T00:00:00.000Z');
const SECOND = 1000;

function step(step_id: string, overrides: Partial<ProgressStep> = {}): ProgressStep {
  return {
    step_id,
    issue_id: `issue-${step_id}`,
    agent_id: `agent-${step_id}`,
    status: 'PENDING',
    depends_on: [],
    estimated_duration_ms: SECOND,
    started_at_ms: null,
    completed_at_ms: null,
    ...overrides,
  };
}

/** A SUCCEEDED step that took `observed_ms` against `estimated_ms`, finished an hour ago. */
function finished(step_id: string, estimated_ms: number, observed_ms: number): ProgressStep {
  const completed = NOW - 3_600 * SECOND;
  return step(step_id, {
    status: 'SUCCEEDED',
    estimated_duration_ms: estimated_ms,
    started_at_ms: completed - observed_ms,
    completed_at_ms: completed,
  });
}

const eta = (ms: number): string => new Date(NOW + ms).toISOString();

describe('computeProgress', () => {
  describe('completion_percentage', () => {
    it('reports an empty list as complete with no ETA', () => {
      // Prepare
      const steps: ProgressStep[] = [];

      // Act
      const progress = computeProgress(steps, NOW);

      // Assess
      expect(progress).toEqual({
        completion_percentage: 100,
        active_agents: [],
        resolved_issues: [],
        blocking_issues: [],
        eta_completion: null,
        remaining_ms: 0,
        speed_ratio: 1,
        counts: Object.fromEntries(StepStatus.options.map((s) => [s, 0])),
      });
    });

    it('reports 0% and an ETA one estimate away when every independent step is pending', () => {
      // Prepare
      const steps = [step('a'), step('b'), step('c')];

      // Act
      const progress = computeProgress(steps, NOW);

      // Assess
      expect(progress.completion_percentage).toBe(0);
      expect(progress.remaining_ms).toBe(SECOND);
      expect(progress.eta_completion).toBe(eta(SECOND));
      expect(progress.counts.PENDING).toBe(3);
      expect(Object.keys(progress.counts).sort()).toEqual([...StepStatus.options].sort());
      expect(Object.values(progress.counts).reduce((a, b) => a + b, 0)).toBe(3);
    });

    it('weighs steps by their estimated duration', () => {
      // Prepare
      const steps = [step('long', { status: 'SUCCEEDED', estimated_duration_ms: 3_000 }), step('short')];

      // Act
      const progress = computeProgress(steps, NOW);

      // Assess
      expect(progress.completion_percentage).toBe(75);
    });

    it('gives a zero estimate a weight of 1 ms and rounds to 2 decimals', () => {
      // Prepare
      const zero = [
        step('a', { status: 'SUCCEEDED', estimated_duration_ms: 0 }),
        step('b', { estimated_duration_ms: 999 }),
      ];
      const thirds = [
        step('a', { status: 'SKIPPED', estimated_duration_ms: 1 }),
        step('b', { estimated_duration_ms: 2 }),
      ];

      // Act
      const zeroProgress = computeProgress(zero, NOW);
      const thirdsProgress = computeProgress(thirds, NOW);

      // Assess
      expect(zeroProgress.completion_percentage).toBe(0.1);
      expect(thirdsProgress.completion_percentage).toBe(33.33);
    });

    it('reports 99.99, not a rounded 100, while a tiny step is still pending', () => {
      // Prepare
      const steps = [
        step('big', { status: 'SUCCEEDED', estimated_duration_ms: 10_000_000 }),
        step('tiny', { estimated_duration_ms: 1 }),
      ];

      // Act
      const progress = computeProgress(steps, NOW);

      // Assess
      expect(progress.completion_percentage).toBe(99.99);
      expect(progress.eta_completion).not.toBeNull();
    });

    it('reports compensated steps as not done', () => {
      // Prepare
      const steps = [step('a', { status: 'SUCCEEDED' }), step('b', { status: 'COMPENSATED' })];

      // Act
      const progress = computeProgress(steps, NOW);

      // Assess
      expect(progress.completion_percentage).toBe(50);
      expect(progress.resolved_issues).toEqual(['issue-a']);
    });

    it('reports 100% and no ETA when every step succeeded or was skipped', () => {
      // Prepare
      const steps = [step('a', { status: 'SUCCEEDED' }), step('b', { status: 'SKIPPED' })];

      // Act
      const progress = computeProgress(steps, NOW);

      // Assess
      expect(progress.completion_percentage).toBe(100);
      expect(progress.eta_completion).toBeNull();
      expect(progress.remaining_ms).toBe(0);
    });
  });

  describe('agents and issues', () => {
    it('lists each agent with a dispatched, running or compensating step once, sorted', () => {
      // Prepare
      const steps = [
        step('a', { agent_id: 'zeta', status: 'RUNNING' }),
        step('b', { agent_id: 'zeta', status: 'DISPATCHED' }),
        step('c', { agent_id: 'alpha', status: 'COMPENSATING' }),
        step('d', { agent_id: 'mu', status: 'DISPATCHED' }),
        step('e', { agent_id: 'idle', status: 'PENDING' }),
        step('f', { agent_id: 'finished', status: 'SUCCEEDED' }),
      ];

      // Act
      const progress = computeProgress(steps, NOW);

      // Assess
      expect(progress.active_agents).toEqual(['alpha', 'mu', 'zeta']);
    });

    it('resolves an issue only when all of its steps are done', () => {
      // Prepare
      const steps = [
        step('i2-a', { issue_id: 'i2', status: 'SUCCEEDED' }),
        step('i2-b', { issue_id: 'i2', status: 'SKIPPED' }),
        step('i1-a', { issue_id: 'i1', status: 'SUCCEEDED' }),
        step('i3-a', { issue_id: 'i3', status: 'SUCCEEDED' }),
        step('i3-b', { issue_id: 'i3', status: 'RUNNING' }),
        step('i0-a', { issue_id: 'i0', status: 'SUCCEEDED' }),
      ];

      // Act
      const progress = computeProgress(steps, NOW);

      // Assess
      expect(progress.resolved_issues).toEqual(['i0', 'i1', 'i2']);
    });
  });

  describe('remaining_ms and eta_completion', () => {
    it('reports a chain as the sum of its steps and parallel branches as the longest one', () => {
      // Prepare
      const chain = [step('a'), step('b', { depends_on: ['a'] }), step('c', { depends_on: ['b'] })];
      const parallel = [step('a'), step('b'), step('c')];

      // Act
      const chainProgress = computeProgress(chain, NOW);
      const parallelProgress = computeProgress(parallel, NOW);

      // Assess
      expect(chainProgress.remaining_ms).toBe(3 * SECOND);
      expect(chainProgress.eta_completion).toBe(eta(3 * SECOND));
      expect(parallelProgress.remaining_ms).toBe(SECOND);
      expect(parallelProgress.eta_completion).toBe(eta(SECOND));
    });

    it('follows the longest branch of a diamond', () => {
      // Prepare
      const steps = [
        step('join', { depends_on: ['slow', 'fast'], estimated_duration_ms: 1_000 }),
        step('fast', { depends_on: ['root'], estimated_duration_ms: 500 }),
        step('slow', { depends_on: ['root'], estimated_duration_ms: 2_000 }),
        step('root', { estimated_duration_ms: 1_000 }),
      ];

      // Act
      const progress = computeProgress(steps, NOW);

      // Assess
      expect(progress.remaining_ms).toBe(4_000);
    });

    it('counts done dependencies as zero and subtracts the time a running step has run', () => {
      // Prepare
      const steps = [
        step('a', { status: 'SUCCEEDED', estimated_duration_ms: 5_000 }),
        step('b', { status: 'RUNNING', depends_on: ['a'], started_at_ms: NOW - 400 }),
        step('c', { depends_on: ['b'], estimated_duration_ms: 2_000 }),
      ];

      // Act
      const progress = computeProgress(steps, NOW);

      // Assess
      expect(progress.remaining_ms).toBe(600 + 2_000);
    });

    it('never lets a running step that outlived its estimate go below zero', () => {
      // Prepare
      const steps = [step('late', { status: 'RUNNING', started_at_ms: NOW - 1_500 })];

      // Act
      const progress = computeProgress(steps, NOW);

      // Assess
      expect(progress.remaining_ms).toBe(0);
      expect(progress.eta_completion).toBe(eta(0));
    });

    it('is never shorter than the remaining work spread over max_parallel slots', () => {
      // Prepare
      const steps = [step('a'), step('b'), step('c'), step('d')];

      // Act
      const unbounded = computeProgress(steps, NOW);
      const two = computeProgress(steps, NOW, { max_parallel: 2 });
      const one = computeProgress(steps, NOW, { max_parallel: 1 });

      // Assess
      expect(unbounded.remaining_ms).toBe(SECOND);
      expect(two.remaining_ms).toBe(2 * SECOND);
      expect(two.eta_completion).toBe(eta(2 * SECOND));
      expect(one.remaining_ms).toBe(4 * SECOND);
    });

    it('keeps the critical path when it is longer than the max_parallel bound', () => {
      // Prepare
      const steps = [
        step('a'),
        step('b', { depends_on: ['a'] }),
        step('c', { depends_on: ['b'] }),
        step('d'),
      ];

      // Act
      const progress = computeProgress(steps, NOW, { max_parallel: 2 });

      // Assess
      expect(progress.remaining_ms).toBe(3 * SECOND);
    });

    it('ignores unknown dependencies and survives a dependency cycle', () => {
      // Prepare
      const steps = [
        step('a', { depends_on: ['ghost'] }),
        step('b', { depends_on: ['c'] }),
        step('c', { depends_on: ['b'] }),
        step('d', { depends_on: ['d'], estimated_duration_ms: 1_500 }),
      ];

      // Act
      const progress = computeProgress(steps, NOW);

      // Assess
      expect(progress.remaining_ms).toBe(1_500);
      expect(progress.eta_completion).toBe(eta(1_500));
    });

    it('waits for every step sharing a repeated step id', () => {
      // Prepare
      const steps = [
        step('after', { depends_on: ['dup'] }),
        step('dup', { estimated_duration_ms: 3_000 }),
        step('dup', { estimated_duration_ms: 500 }),
      ];

      // Act
      const forward = computeProgress(steps, NOW);
      const backward = computeProgress([...steps].reverse(), NOW);

      // Assess
      expect(forward.remaining_ms).toBe(3_000 + SECOND);
      expect(backward).toEqual(forward);
    });

    it('treats bad estimates and timestamps as missing rather than throwing', () => {
      // Prepare
      const steps = [
        step('a', { estimated_duration_ms: Number.NaN }),
        step('b', { status: 'RUNNING', estimated_duration_ms: -5, started_at_ms: Number.POSITIVE_INFINITY }),
        step('c', { status: 'SUCCEEDED', started_at_ms: NOW, completed_at_ms: NOW - 10 * SECOND }),
      ];

      // Act
      const progress = computeProgress(steps, NOW);

      // Assess
      expect(progress.speed_ratio).toBe(1);
      expect(progress.remaining_ms).toBe(0);
      expect(progress.completion_percentage).toBe(Math.round((SECOND / (SECOND + 2)) * 10_000) / 100);
    });

    it('reports no ETA when it would fall after the year 9999', () => {
      // Prepare
      const steps = [step('forever', { estimated_duration_ms: Number.MAX_SAFE_INTEGER })];

      // Act
      const progress = computeProgress(steps, NOW);

      // Assess
      expect(progress.remaining_ms).toBeGreaterThan(0);
      expect(progress.eta_completion).toBeNull();
    });

    it.each(['FAILED', 'TIMED_OUT', 'COMPENSATION_FAILED', 'COMPENSATING', 'COMPENSATED'] as const)(
      'reports no ETA once a step is %s',
      (status) => {
        // Prepare
        const steps = [step('a', { status }), step('b')];

        // Act
        const progress = computeProgress(steps, NOW);

        // Assess
        expect(progress.eta_completion).toBeNull();
        expect(progress.remaining_ms).toBeGreaterThan(0);
      },
    );

    it('rejects a non-finite now_ms', () => {
      // Prepare
      const steps = [step('a')];

      // Act
      const act = () => computeProgress(steps, Number.NaN);

      // Assess
      expect(act).toThrow(RangeError);
    });

    it('rejects a max_parallel below 1', () => {
      // Prepare
      const steps = [step('a')];

      // Act
      const act = () => computeProgress(steps, NOW, { max_parallel: 0 });

      // Assess
      expect(act).toThrow(/max_parallel/);
    });
  });

  describe('speed_ratio', () => {
    it('scales remaining estimates by how much slower finished steps ran', () => {
      // Prepare
      const steps = [finished('a', 1_000, 2_000), finished('b', 3_000, 4_000), step('next')];

      // Act
      const progress = computeProgress(steps, NOW);

      // Assess
      expect(progress.speed_ratio).toBe(1.5);
      expect(progress.remaining_ms).toBe(1_500);
      expect(progress.eta_completion).toBe(eta(1_500));
    });

    it('learns only from succeeded steps with both timestamps and an estimate', () => {
      // Prepare
      const completed = NOW - SECOND;
      const steps = [
        finished('a', 1_000, 500),
        step('failed', { status: 'FAILED', started_at_ms: completed - 90_000, completed_at_ms: completed }),
        step('untimed', { status: 'SUCCEEDED', started_at_ms: null, completed_at_ms: completed }),
        finished('unestimated', 0, 60_000),
      ];

      // Act
      const progress = computeProgress(steps, NOW);

      // Assess
      expect(progress.speed_ratio).toBe(0.5);
    });

    it.each([
      { observed: 100_000, expected: 10 },
      { observed: 1, expected: 0.1 },
    ])('clamps a ratio of $observed/1000 to $expected', ({ observed, expected }) => {
      // Prepare
      const steps = [finished('outlier', 1_000, observed), step('next')];

      // Act
      const progress = computeProgress(steps, NOW);

      // Assess
      expect(progress.speed_ratio).toBe(expected);
      expect(progress.remaining_ms).toBe(1_000 * expected);
    });
  });

  describe('blocking_issues', () => {
    it('reports issues with a failed, timed-out or uncompensated step, once each, sorted', () => {
      // Prepare
      const steps = [
        step('a', { issue_id: 'i3', status: 'TIMED_OUT' }),
        step('b', { issue_id: 'i1', status: 'FAILED' }),
        step('c', { issue_id: 'i1', status: 'FAILED' }),
        step('d', { issue_id: 'i2', status: 'COMPENSATION_FAILED' }),
        step('e', { issue_id: 'i4', status: 'COMPENSATED' }),
        step('f', { issue_id: 'i5', status: 'PENDING' }),
      ];

      // Act
      const progress = computeProgress(steps, NOW);

      // Assess
      expect(progress.blocking_issues).toEqual(['i1', 'i2', 'i3']);
    });

    it('reports an overdue running step that a pending step waits for', () => {
      // Prepare
      const steps = [
        step('slow', { issue_id: 'stuck', status: 'RUNNING', started_at_ms: NOW - 2_500 }),
        step('next', { issue_id: 'waiting', depends_on: ['slow'] }),
      ];

      // Act
      const progress = computeProgress(steps, NOW);

      // Assess
      expect(progress.blocking_issues).toEqual(['stuck']);
      expect(progress.eta_completion).not.toBeNull();
    });

    it('does not report a running step still within twice its estimate', () => {
      // Prepare
      const steps = [
        step('slow', { status: 'DISPATCHED', started_at_ms: NOW - 1_900 }),
        step('next', { depends_on: ['slow'] }),
      ];

      // Act
      const progress = computeProgress(steps, NOW);

      // Assess
      expect(progress.blocking_issues).toEqual([]);
    });

    it('does not report an overdue step that nothing waits for', () => {
      // Prepare
      const steps = [
        step('leaf', { status: 'RUNNING', started_at_ms: NOW - 10 * SECOND }),
        step('skipped', { status: 'SKIPPED', depends_on: ['leaf'] }),
      ];

      // Act
      const progress = computeProgress(steps, NOW);

      // Assess
      expect(progress.blocking_issues).toEqual([]);
    });

    it('allows for the observed speed before calling a step overdue', () => {
      // Prepare
      const steps = [
        finished('earlier', 1_000, 2_000),
        step('slow', { status: 'RUNNING', started_at_ms: NOW - 2_500 }),
        step('next', { depends_on: ['slow'] }),
      ];

      // Act
      const progress = computeProgress(steps, NOW);

      // Assess
      expect(progress.speed_ratio).toBe(2);
      expect(progress.blocking_issues).toEqual([]);
    });
  });

  describe('properties', () => {
    const IDS = ['s0', 's1', 's2', 's3', 's4', 's5', 's6', 's7'] as const;

    /** Up to 8 steps with unique ids, any status, and edges to any id (self, cycles and unknown ids included). */
    const stepsArb = fc.uniqueArray(
      fc.record({
        step_id: fc.constantFrom(...IDS),
        issue_id: fc.constantFrom('i0', 'i1', 'i2'),
        agent_id: fc.constantFrom('a0', 'a1', 'a2'),
        status: fc.constantFrom(...StepStatus.options),
        depends_on: fc.uniqueArray(fc.constantFrom(...IDS, 'ghost'), { maxLength: 3 }),
        estimated_duration_ms: fc.integer({ min: 0, max: 3_600_000 }),
        started_at_ms: fc.option(fc.integer({ min: NOW - 7_200_000, max: NOW }), { nil: null }),
        completed_at_ms: fc.option(fc.integer({ min: NOW - 7_200_000, max: NOW }), { nil: null }),
      }),
      { selector: (s) => s.step_id, minLength: 1, maxLength: IDS.length },
    );
    const optionsArb = fc.record({ max_parallel: fc.integer({ min: 1, max: 4 }) }, { requiredKeys: [] });

    it('keeps completion within [0, 100] and never lowers it when a step succeeds', () => {
      fc.assert(
        fc.property(stepsArb, fc.nat(), (steps, pick) => {
          // Prepare
          const index = pick % steps.length;
          const withStatus = (status: StepStatus) =>
            steps.map((s, i) => (i === index ? { ...s, status } : s));

          // Act
          const before = computeProgress(withStatus('PENDING'), NOW).completion_percentage;
          const after = computeProgress(withStatus('SUCCEEDED'), NOW).completion_percentage;

          // Assess
          expect(before).toBeGreaterThanOrEqual(0);
          expect(before).toBeLessThan(100);
          expect(after).toBeGreaterThanOrEqual(before);
          expect(after).toBeLessThanOrEqual(100);
        }),
      );
    });

    it('gives the same result for any order of the input steps', () => {
      fc.assert(
        fc.property(
          stepsArb.chain((steps) =>
            fc.tuple(
              fc.constant(steps),
              fc.shuffledSubarray(steps, { minLength: steps.length, maxLength: steps.length }),
            ),
          ),
          optionsArb,
          ([steps, shuffled], options) => {
            // Act
            const original = computeProgress(steps, NOW, options);
            const permuted = computeProgress(shuffled, NOW, options);

            // Assess
            expect(permuted).toEqual(original);
          },
        ),
      );
    });

    it('always produces a valid wire ProgressReport', () => {
      fc.assert(
        fc.property(stepsArb, optionsArb, (steps, options) => {
          // Act
          const progress = computeProgress(steps, NOW, options);

          // Assess
          expect(ProgressReport.safeParse(progress).success).toBe(true);
          expect(progress.completion_percentage === 100).toBe(
            steps.every((s) => s.status === 'SUCCEEDED' || s.status === 'SKIPPED'),
          );
        }),
      );
    });
  });
});

describe('throughputEta', () => {
  it('projects the time per succeeded step so far over the steps left', () => {
    // Act / Assess
    expect(throughputEta('2026-01-01T00:00:00Z', '2026-01-01T00:01:00Z', 2, 6)).toBe(
      '2026-01-01T00:03:00.000Z',
    );
    expect(throughputEta('2026-01-01T00:00:00Z', '2026-01-01T00:00:10Z', 9, 10)).toBe(
      new Date(Date.parse('2026-01-01T00:00:10Z') + 10_000 / 9).toISOString(),
    );
  });

  it('is null before anything succeeded, once everything has, and without a start', () => {
    // Act / Assess
    expect(throughputEta('2026-01-01T00:00:00Z', '2026-01-01T00:01:00Z', 0, 6)).toBeNull();
    expect(throughputEta('2026-01-01T00:00:00Z', '2026-01-01T00:01:00Z', 6, 6)).toBeNull();
    expect(throughputEta(null, '2026-01-01T00:01:00Z', 2, 6)).toBeNull();
    expect(throughputEta('2026-01-01T00:02:00Z', '2026-01-01T00:01:00Z', 2, 6)).toBeNull();
  });
});
