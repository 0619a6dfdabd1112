import fc from 'fast-check';
import { parseDuration } from '#core/duration';
import {
  DependencyCycleError,
  DuplicateIdError,
  InfeasiblePlanError,
  UnknownDependencyError,
} from '#core/errors';
import { type PlannerLimits, type PlannerStep, planSchedule } from '#core/planner';
import type { ResourceAllocation, ScheduledStep } from '#core/wire';

const START_MS = Date.parse('2026-01-01T00:00:00Z');

function step(
  step_id: string,
  duration_ms: number,
  extra: Partial<Omit<PlannerStep, 'step_id' | 'duration_ms'>> = {},
): PlannerStep {
  return { step_id, issue_id: `issue-${step_id}`, agent_id: 'agent-x', duration_ms, ...extra };
}

function byId(plan: ResourceAllocation): Map<string, ScheduledStep> {
  return new Map(plan.steps.map((s) => [s.step_id, s]));
}

function startsOf(plan: ResourceAllocation): Record<string, number> {
  return Object.fromEntries(plan.steps.map((s) => [s.step_id, s.start_offset_ms]));
}

/** Longest path through the DAG by plain dynamic programming over the input, independent of the planner. */
function longestPath(steps: readonly PlannerStep[]): number {
  const duration = new Map(steps.map((s) => [s.step_id, s.duration_ms]));
  const memo = new Map<string, number>();
  const finish = (id: string): number => {
    const known = memo.get(id);
    if (known !== undefined) return known;
    const s = steps.find((x) => x.step_id === id) as PlannerStep;
    const ready = Math.max(0, ...(s.depends_on ?? []).map(finish));
    const result = ready + (duration.get(id) as number);
    memo.set(id, result);
    return result;
  };
  return Math.max(0, ...steps.map((s) => finish(s.step_id)));
}

/** Everything running at instant t: start <= t < finish, so a zero-duration step occupies nothing. */
function activeAt(plan: ResourceAllocation, t: number): ScheduledStep[] {
  return plan.steps.filter((s) => s.start_offset_ms <= t && t < s.finish_offset_ms);
}

function expectDependenciesRespected(steps: readonly PlannerStep[], plan: ResourceAllocation): void {
  const scheduled = byId(plan);
  for (const s of steps) {
    const mine = scheduled.get(s.step_id) as ScheduledStep;
    expect(mine.finish_offset_ms).toBe(mine.start_offset_ms + s.duration_ms);
    for (const d of s.depends_on ?? []) {
      expect(mine.start_offset_ms).toBeGreaterThanOrEqual(
        (scheduled.get(d) as ScheduledStep).finish_offset_ms,
      );
    }
  }
}

function expectLimitsRespected(plan: ResourceAllocation, limits: PlannerLimits): void {
  for (const t of new Set(plan.steps.map((s) => s.start_offset_ms))) {
    const active = activeAt(plan, t);
    expect(active.length).toBeLessThanOrEqual(limits.max_parallel_steps ?? Number.POSITIVE_INFINITY);
    expect(active.reduce((sum, s) => sum + s.cpu_units, 0)).toBeLessThanOrEqual(
      limits.cpu_units ?? Number.POSITIVE_INFINITY,
    );
    expect(active.reduce((sum, s) => sum + s.memory_mb, 0)).toBeLessThanOrEqual(
      limits.memory_mb ?? Number.POSITIVE_INFINITY,
    );
    const perAgent = new Map<string, number>();
    for (const s of active) perAgent.set(s.agent_id, (perAgent.get(s.agent_id) ?? 0) + 1);
    for (const [agent, count] of perAgent) {
      expect(count).toBeLessThanOrEqual(limits.agent_slots?.[agent] ?? Number.POSITIVE_INFINITY);
    }
  }
}

function expectEachStepOnceAndWavesPartition(steps: readonly PlannerStep[], plan: ResourceAllocation): void {
  const ids = steps.map((s) => s.step_id).sort();
  expect(plan.steps.map((s) => s.step_id).sort()).toEqual(ids);
  expect(plan.waves.flatMap((w) => w.step_ids).sort()).toEqual(ids);
  const scheduled = byId(plan);
  plan.waves.forEach((w, index) => {
    expect(w.index).toBe(index);
    expect(w.step_ids.length).toBeGreaterThan(0);
    for (const id of w.step_ids) expect(scheduled.get(id)?.wave).toBe(index);
  });
  // A wave is a dependency level: one past the deepest dependency.
  for (const s of plan.steps) {
    const level = Math.max(-1, ...s.depends_on.map((d) => (scheduled.get(d) as ScheduledStep).wave)) + 1;
    expect(s.wave).toBe(level);
  }
}

function expectCriticalPathIsLongestChain(steps: readonly PlannerStep[], plan: ResourceAllocation): void {
  const scheduled = byId(plan);
  const cp = parseDuration(plan.critical_path_duration);
  expect(cp).toBe(longestPath(steps));
  const path = plan.critical_path.map((id) => scheduled.get(id) as ScheduledStep);
  expect(path[0]?.depends_on ?? []).toEqual([]);
  for (let k = 1; k < path.length; k++) {
    expect(path[k]?.depends_on).toContain(path[k - 1]?.step_id);
  }
  expect(path.reduce((sum, s) => sum + s.duration_ms, 0)).toBe(cp);
  expect(new Set(plan.steps.filter((s) => s.on_critical_path).map((s) => s.step_id))).toEqual(
    new Set(plan.critical_path),
  );
}

describe('planSchedule examples', () => {
  it('runs a chain back to back', () => {
    // Prepare
    const steps = [
      step('a', 1_000),
      step('b', 2_000, { depends_on: ['a'] }),
      step('c', 3_000, { depends_on: ['b'] }),
    ];

    // Act
    const plan = planSchedule(steps, { agent_slots: { 'agent-x': 1 } }, START_MS);

    // Assess
    expect(startsOf(plan)).toEqual({ a: 0, b: 1_000, c: 3_000 });
    expect(plan.makespan).toBe('PT6S');
    expect(plan.critical_path).toEqual(['a', 'b', 'c']);
    expect(plan.critical_path_duration).toBe('PT6S');
    expect(plan.steps.map((s) => s.bottom_level_ms)).toEqual([6_000, 5_000, 3_000]);
  });

  it('runs the arms of a diamond in parallel and joins on the longer one', () => {
    // Prepare
    const steps = [
      step('a', 1_000, { agent_id: 'agent-a' }),
      step('b', 2_000, { agent_id: 'agent-b', depends_on: ['a'] }),
      step('c', 500, { agent_id: 'agent-c', depends_on: ['a'] }),
      step('d', 1_000, { agent_id: 'agent-a', depends_on: ['b', 'c'] }),
    ];

    // Act
    const plan = planSchedule(steps, {}, START_MS);

    // Assess
    expect(startsOf(plan)).toEqual({ a: 0, b: 1_000, c: 1_000, d: 3_000 });
    expect(plan.makespan).toBe('PT4S');
    expect(plan.critical_path).toEqual(['a', 'b', 'd']);
    expect(byId(plan).get('c')?.on_critical_path).toBe(false);
    expect(plan.waves.map((w) => w.step_ids)).toEqual([['a'], ['b', 'c'], ['d']]);
  });

  it('serialises independent steps on a one-slot agent, by priority then step_id', () => {
    // Prepare
    const steps = [step('c', 1_000), step('a', 1_000), step('b', 1_000, { priority: 5 })];

    // Act
    const plan = planSchedule(steps, { agent_slots: { 'agent-x': 1 } }, START_MS);

    // Assess
    expect(startsOf(plan)).toEqual({ b: 0, a: 1_000, c: 2_000 });
    expect(plan.steps.map((s) => s.step_id)).toEqual(['b', 'a', 'c']);
    expect(plan.makespan).toBe('PT3S');
    expect(plan.agent_allocations).toEqual({ 'agent-x': { slots: 1, steps: 3, busy_ms: 3_000 } });
    expect(plan.resource_requirements.peak_parallel_steps).toBe(1);
  });

  it('runs the longest remaining chain first on a busy agent', () => {
    // Prepare: `long` has the larger bottom level through its dependent, so it goes first.
    const steps = [
      step('short', 1_000),
      step('long', 1_000),
      step('tail', 5_000, { agent_id: 'agent-y', depends_on: ['long'] }),
    ];

    // Act
    const plan = planSchedule(steps, { agent_slots: { 'agent-x': 1 } }, START_MS);

    // Assess
    expect(startsOf(plan)).toEqual({ long: 0, short: 1_000, tail: 1_000 });
    expect(plan.makespan).toBe('PT6S');
  });

  it('caps concurrency across agents at max_parallel_steps', () => {
    // Prepare
    const steps = ['a', 'b', 'c', 'd', 'e'].map((id) => step(id, 1_000, { agent_id: `agent-${id}` }));

    // Act
    const plan = planSchedule(steps, { max_parallel_steps: 2 }, START_MS);

    // Assess
    expect(startsOf(plan)).toEqual({ a: 0, b: 0, c: 1_000, d: 1_000, e: 2_000 });
    expect(plan.makespan).toBe('PT3S');
    expect(plan.resource_requirements.peak_parallel_steps).toBe(2);
    expect(plan.lower_bound).toBe('PT2.5S');
  });

  it('lets a small step on another agent backfill while a big one waits for CPU', () => {
    // Prepare: `big` outranks `small` but cannot fit beside `hog`; `small` can.
    const steps = [
      step('hog', 10_000, { agent_id: 'agent-h', cpu_units: 2 }),
      step('big', 5_000, { agent_id: 'agent-b', cpu_units: 4 }),
      step('small', 1_000, { agent_id: 'agent-s', cpu_units: 2 }),
    ];

    // Act
    const plan = planSchedule(steps, { cpu_units: 4 }, START_MS);

    // Assess
    expect(startsOf(plan)).toEqual({ hog: 0, small: 0, big: 10_000 });
    expect(plan.makespan).toBe('PT15S');
    expect(plan.resource_requirements.peak_cpu_units).toBe(4);
    expect(plan.utilization.cpu).toBeCloseTo((2 * 10_000 + 4 * 5_000 + 2 * 1_000) / (4 * 15_000));
  });

  it('lets a small step on another agent backfill while a big one waits for memory', () => {
    // Prepare
    const steps = [
      step('hog', 10_000, { agent_id: 'agent-h', memory_mb: 1_024 }),
      step('big', 5_000, { agent_id: 'agent-b', memory_mb: 2_048 }),
      step('small', 1_000, { agent_id: 'agent-s', memory_mb: 512 }),
    ];

    // Act
    const plan = planSchedule(steps, { memory_mb: 2_048 }, START_MS);

    // Assess
    expect(startsOf(plan)).toEqual({ hog: 0, small: 0, big: 10_000 });
    expect(plan.resource_requirements.peak_memory_mb).toBe(2_048);
    expect(plan.utilization.memory).not.toBeNull();
    expect(plan.utilization.cpu).toBeNull();
  });

  it('starts the dependents of zero-duration steps at the same instant', () => {
    // Prepare
    const steps = [
      step('gate', 0),
      step('work', 1_000, { depends_on: ['gate'] }),
      step('notify', 0, { depends_on: ['work'] }),
    ];

    // Act
    const plan = planSchedule(steps, { agent_slots: { 'agent-x': 1 } }, START_MS);

    // Assess
    expect(startsOf(plan)).toEqual({ gate: 0, work: 0, notify: 1_000 });
    expect(plan.makespan).toBe('PT1S');
    expect(plan.critical_path).toEqual(['gate', 'work', 'notify']);
  });

  it('plans only zero-duration steps as taking no time at full efficiency', () => {
    // Prepare
    const steps = [step('a', 0), step('b', 0, { depends_on: ['a'] })];

    // Act
    const plan = planSchedule(steps, { max_parallel_steps: 1 }, START_MS);

    // Assess
    expect(plan.makespan).toBe('PT0S');
    expect(plan.eta_completion).toBe('2026-01-01T00:00:00.000Z');
    expect(plan.utilization.efficiency).toBe(1);
  });

  it('plans nothing for no steps', () => {
    // Act
    const plan = planSchedule([], {}, START_MS);

    // Assess
    expect(plan.steps).toEqual([]);
    expect(plan.waves).toEqual([]);
    expect(plan.critical_path).toEqual([]);
    expect(plan.makespan).toBe('PT0S');
    expect(plan.lower_bound).toBe('PT0S');
    expect(plan.eta_completion).toBe(new Date(START_MS).toISOString());
    expect(plan.resource_requirements.total_steps).toBe(0);
  });

  it('follows the longest chain for the critical path, breaking ties by priority then step_id', () => {
    // Prepare: a -> c -> e and b -> d -> e both take 6 s.
    const dag = (bPriority: number) => [
      step('a', 2_000, { agent_id: 'agent-a' }),
      step('b', 4_000, { agent_id: 'agent-b', priority: bPriority }),
      step('c', 3_000, { agent_id: 'agent-c', depends_on: ['a'] }),
      step('d', 1_000, { agent_id: 'agent-d', depends_on: ['b', 'a'] }),
      step('e', 1_000, { agent_id: 'agent-e', depends_on: ['c', 'd'] }),
    ];

    // Act
    const byName = planSchedule(dag(0), {}, START_MS);
    const byPriority = planSchedule(dag(1), {}, START_MS);

    // Assess
    expect(byName.critical_path).toEqual(['a', 'c', 'e']);
    expect(byPriority.critical_path).toEqual(['b', 'd', 'e']);
    expect(byName.critical_path_duration).toBe('PT6S');
    expect(byName.makespan).toBe('PT6S');
    expect(byId(byName).get('d')?.on_critical_path).toBe(false);
  });

  it('groups steps into dependency levels and sums each wave run on its own', () => {
    // Prepare
    const steps = [
      step('a', 1_000),
      step('b', 2_000),
      step('c', 3_000, { agent_id: 'agent-y', depends_on: ['a'] }),
      step('d', 500, { depends_on: ['b', 'c'] }),
    ];

    // Act
    const plan = planSchedule(steps, { agent_slots: { 'agent-x': 1 } }, START_MS);

    // Assess
    expect(plan.waves).toEqual([
      { index: 0, step_ids: ['a', 'b'], max_concurrency: 1, span_ms: 3_000 },
      { index: 1, step_ids: ['c'], max_concurrency: 1, span_ms: 3_000 },
      { index: 2, step_ids: ['d'], max_concurrency: 1, span_ms: 500 },
    ]);
    expect(plan.wave_makespan).toBe('PT6.5S');
    expect(startsOf(plan)).toEqual({ a: 0, b: 1_000, c: 1_000, d: 4_000 });
    expect(plan.makespan).toBe('PT4.5S');
  });

  it('sets eta_completion to start_ms plus the makespan', () => {
    // Prepare
    const steps = [step('a', 90_500), step('b', 30_000, { depends_on: ['a'] })];

    // Act
    const plan = planSchedule(steps, {}, START_MS);

    // Assess
    expect(Date.parse(plan.eta_completion)).toBe(START_MS + parseDuration(plan.makespan));
    expect(plan.eta_completion).toBe('2026-01-01T00:02:00.500Z');
  });

  it('reports efficiency as lower_bound over makespan', () => {
    // Prepare: 3 s of work on 2 lanes is at least 1.5 s, and the schedule takes 2 s.
    const steps = ['a', 'b', 'c'].map((id) => step(id, 1_000, { agent_id: `agent-${id}` }));

    // Act
    const plan = planSchedule(steps, { max_parallel_steps: 2 }, START_MS);

    // Assess
    expect(plan.lower_bound).toBe('PT1.5S');
    expect(plan.makespan).toBe('PT2S');
    expect(plan.utilization.efficiency).toBeCloseTo(
      parseDuration(plan.lower_bound) / parseDuration(plan.makespan),
    );
    expect(plan.utilization.efficiency).toBeCloseTo(0.75);
  });

  it('rejects an unknown dependency', () => {
    // Act
    const act = () => planSchedule([step('a', 1, { depends_on: ['ghost'] })]);

    // Assess
    expect(act).toThrow(UnknownDependencyError);
  });

  it('rejects duplicate step ids', () => {
    // Act
    const act = () => planSchedule([step('a', 1), step('a', 2)]);

    // Assess
    expect(act).toThrow(DuplicateIdError);
  });

  it('rejects a dependency cycle', () => {
    // Act
    const act = () =>
      planSchedule([step('a', 1, { depends_on: ['b'] }), step('b', 1, { depends_on: ['a'] })]);

    // Assess
    expect(act).toThrow(DependencyCycleError);
  });

  it.each<[string, Partial<PlannerStep>, PlannerLimits]>([
    ['cpu_units above the pool', { cpu_units: 5 }, { cpu_units: 4 }],
    ['memory_mb above the pool', { memory_mb: 4_096 }, { memory_mb: 2_048 }],
    ['a negative duration', { duration_ms: -1 }, {}],
    ['a NaN duration', { duration_ms: Number.NaN }, {}],
    ['an infinite duration', { duration_ms: Number.POSITIVE_INFINITY }, {}],
    ['negative cpu_units', { cpu_units: -1 }, {}],
    ['NaN memory_mb', { memory_mb: Number.NaN }, {}],
  ])('rejects a step with %s as infeasible', (_, overrides, limits) => {
    // Prepare
    const steps = [step('fine', 1_000), { ...step('bad', 1_000), ...overrides }];

    // Act
    const act = () => planSchedule(steps, limits, START_MS);

    // Assess
    expect(act).toThrow(InfeasiblePlanError);
  });

  it('plans steps that use no CPU under a CPU pool of zero', () => {
    // Prepare: the wire allows resource_constraints.cpu_units = 0, and these steps need none.
    const steps = [step('a', 1_000), step('b', 1_000, { depends_on: ['a'] })];

    // Act
    const plan = planSchedule(steps, { cpu_units: 0, memory_mb: 0 }, START_MS);

    // Assess
    expect(plan.makespan).toBe('PT2S');
    expect(plan.lower_bound).toBe('PT2S');
  });

  it('starts a step needing the whole CPU pool once fractional steps before it have released theirs', () => {
    // Prepare: 0.1 + 0.3 fits a pool of 0.4, and both finish before `join` needs all 0.4.
    const steps = [
      step('a', 10, { agent_id: 'agent-a', cpu_units: 0.1 }),
      step('b', 20, { agent_id: 'agent-b', cpu_units: 0.3 }),
      step('join', 5, { agent_id: 'agent-c', cpu_units: 0.4, depends_on: ['a', 'b'] }),
    ];

    // Act
    const plan = planSchedule(steps, { cpu_units: 0.4 }, START_MS);

    // Assess
    expect(startsOf(plan)).toEqual({ a: 0, b: 0, join: 20 });
  });
});

interface Scenario {
  readonly steps: PlannerStep[];
  readonly limits: PlannerLimits;
}

const AGENTS = ['agent-0', 'agent-1', 'agent-2', 'agent-3', 'agent-4', 'agent-5'];

const rawStepArb = fc.record({
  duration_ms: fc.oneof(
    { arbitrary: fc.constant(0), weight: 1 },
    { arbitrary: fc.integer({ min: 0, max: 10_000 }), weight: 5 },
  ),
  agent: fc.nat(),
  deps: fc.array(fc.nat(), { maxLength: 4 }),
  cpu: fc.integer({ min: 0, max: 8 }),
  memory: fc.integer({ min: 0, max: 4_096 }),
  priority: fc.option(fc.integer({ min: -2, max: 2 }), { nil: undefined }),
});

/** Edges only point from a lower to a higher index, so every generated graph is a DAG. */
const scenarioArb: fc.Arbitrary<Scenario> = fc
  .record({
    raw: fc.array(rawStepArb, { minLength: 1, maxLength: 60 }),
    agentCount: fc.integer({ min: 1, max: 6 }),
    slots: fc.option(
      fc.array(fc.option(fc.integer({ min: 1, max: 4 }), { nil: undefined }), {
        minLength: AGENTS.length,
        maxLength: AGENTS.length,
      }),
      { nil: undefined },
    ),
    maxParallel: fc.option(fc.integer({ min: 1, max: 8 }), { nil: undefined }),
    cpuPool: fc.option(fc.integer({ min: 1, max: 8 }), { nil: undefined }),
    memPool: fc.option(fc.integer({ min: 512, max: 4_096 }), { nil: undefined }),
  })
  .map(({ raw, agentCount, slots, maxParallel, cpuPool, memPool }) => {
    const agentSlots: Record<string, number> = {};
    slots?.slice(0, agentCount).forEach((s, k) => {
      if (s !== undefined) agentSlots[AGENTS[k] as string] = s;
    });
    const limits: PlannerLimits = {
      ...(slots ? { agent_slots: agentSlots } : {}),
      ...(maxParallel === undefined ? {} : { max_parallel_steps: maxParallel }),
      ...(cpuPool === undefined ? {} : { cpu_units: cpuPool }),
      ...(memPool === undefined ? {} : { memory_mb: memPool }),
    };
    const steps = raw.map((r, i) =>
      step(`s${i}`, r.duration_ms, {
        agent_id: AGENTS[r.agent % agentCount] as string,
        depends_on: i === 0 ? [] : r.deps.map((d) => `s${d % i}`),
        cpu_units: cpuPool === undefined ? r.cpu : Math.min(r.cpu, cpuPool),
        memory_mb: memPool === undefined ? r.memory : Math.min(r.memory, memPool),
        priority: r.priority,
      }),
    );
    return { steps, limits };
  });

describe('planSchedule properties', () => {
  it('starts no step before its dependencies finish and exceeds no limit at any instant', () => {
    fc.assert(
      fc.property(scenarioArb, ({ steps, limits }) => {
        // Act
        const plan = planSchedule(steps, limits, START_MS);

        // Assess
        expectDependenciesRespected(steps, plan);
        expectLimitsRespected(plan, limits);
      }),
      { numRuns: 200 },
    );
  });

  it('schedules every step once and partitions the steps into dependency-level waves', () => {
    fc.assert(
      fc.property(scenarioArb, ({ steps, limits }) => {
        // Act
        const plan = planSchedule(steps, limits, START_MS);

        // Assess
        expectEachStepOnceAndWavesPartition(steps, plan);
      }),
      { numRuns: 200 },
    );
  });

  it('never beats the critical path or the lower bound, and reports the true longest chain', () => {
    fc.assert(
      fc.property(scenarioArb, ({ steps, limits }) => {
        // Act
        const plan = planSchedule(steps, limits, START_MS);

        // Assess
        const makespan = parseDuration(plan.makespan);
        expectCriticalPathIsLongestChain(steps, plan);
        expect(makespan).toBe(Math.max(0, ...plan.steps.map((s) => s.finish_offset_ms)));
        expect(makespan).toBeGreaterThanOrEqual(parseDuration(plan.critical_path_duration));
        expect(makespan).toBeGreaterThanOrEqual(parseDuration(plan.lower_bound));
        expect(parseDuration(plan.lower_bound)).toBeGreaterThanOrEqual(
          parseDuration(plan.critical_path_duration),
        );
        expect(Date.parse(plan.eta_completion)).toBe(START_MS + makespan);
      }),
      { numRuns: 200 },
    );
  });

  it('meets the critical path exactly when nothing is limited', () => {
    fc.assert(
      fc.property(scenarioArb, ({ steps }) => {
        // Act
        const plan = planSchedule(steps, {}, START_MS);

        // Assess
        expect(parseDuration(plan.makespan)).toBe(longestPath(steps));
        expect(plan.makespan).toBe(plan.critical_path_duration);
        expect(plan.utilization.efficiency).toBe(1);
      }),
      { numRuns: 200 },
    );
  });

  it('gives the same plan for the same input, and the same starts whatever the input order', () => {
    fc.assert(
      fc.property(
        scenarioArb.chain((scenario) =>
          fc
            .shuffledSubarray(scenario.steps, { minLength: scenario.steps.length })
            .map((shuffled) => ({ ...scenario, shuffled })),
        ),
        ({ steps, limits, shuffled }) => {
          // Act
          const first = planSchedule(steps, limits, START_MS);
          const again = planSchedule(steps, limits, START_MS);
          const reordered = planSchedule(shuffled, limits, START_MS);

          // Assess
          expect(again).toEqual(first);
          expect(startsOf(reordered)).toEqual(startsOf(first));
          expect(reordered).toEqual(first);
        },
      ),
      { numRuns: 200 },
    );
  });
});
