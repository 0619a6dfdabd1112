/**
 * The chaos suite (issue 7, `npm run chaos`) in a small configuration: one plan per fault class
 * with a fixed seed, against the target `target.ts` resolves (the offline runtime, or
 * `E2E_OUTPUTS`). It asserts issue 7's targets, not timings. bench/README.md, "Chaos", says how
 * each one is measured.
 */
import * as fc from 'fast-check';
import { type ChaosReport, runChaos } from '../../bench/chaos/chaos';
import { assignFaults, buildPlan, FAULT_CLASSES, RESERVED_CATEGORIES } from '../../bench/chaos/plans';
import { BOOT_TIMEOUT_MS } from './target';

/** Every plan's own wait, plus the DLQ sweep and the execution check, bounded inside runChaos. */
const RUN_TIMEOUT_MS = BOOT_TIMEOUT_MS + 300_000;

describe('chaos: one plan per fault class', () => {
  let report: ChaosReport;

  beforeAll(async () => {
    report = await runChaos({
      seed: 7,
      plans: FAULT_CLASSES.length,
      concurrency: FAULT_CLASSES.length,
      minSteps: 3,
      maxSteps: 6,
      timeLimitMs: 120_000,
      drainMs: 60_000,
      planTimeoutMs: 120_000,
    });
  }, RUN_TIMEOUT_MS);

  it('runs every fault class at least once (agent_unhealthy only if the stack has a sweep)', () => {
    // Prepare
    const sweepless = report.classes.agent_unhealthy.run === 0;

    // Act
    const notRun = FAULT_CLASSES.filter((fault) => report.classes[fault].run === 0).map((fault) => ({
      fault,
      why: report.classes[fault].not_run,
    }));

    // Assess
    expect(notRun).toEqual(
      sweepless ? [{ fault: 'agent_unhealthy', why: 'no SweepFunctionName output' }] : [],
    );
  });

  it('completes every plan whose only faults are transient (none, transient, duplicate_callback)', () => {
    expect(report.completion.total).toBeGreaterThanOrEqual(3);
    expect({ ...report.completion, problems: report.problems }).toEqual({
      ok: report.completion.total,
      total: report.completion.total,
      rate: 1,
      problems: [],
    });
  });

  it('rolls back every plan whose compensations can succeed', () => {
    expect(report.rollback.total).toBeGreaterThanOrEqual(4);
    expect(report.rollback.rate).toBe(1);
  });

  it('ends a plan whose compensation fails ROLLBACK_FAILED', () => {
    expect(report.rollback_failed).toEqual({ ok: 1, total: 1, rate: 1 });
  });

  it('loses no message: no step left in flight, every poison message found in a DLQ', () => {
    expect(report.lost.poison_sent).toBeGreaterThanOrEqual(1);
    expect(report.lost).toMatchObject({
      total: 0,
      in_flight_steps: 0,
      poison_found: report.lost.poison_sent,
    });
  });

  it('leaves no workflow or execution short of a terminal state', () => {
    expect(report.non_terminal).toEqual({ workflows: 0, executions: 0 });
  });

  it('routes every triaged issue: assigned, or UNASSIGNED with a reason', () => {
    expect(report.issues.total).toBeGreaterThanOrEqual(1);
    expect(report.issues.unrouted).toBe(0);
  });

  it('meets every target and every class expectation', () => {
    expect(report.targets.filter((t) => !t.met)).toEqual([]);
    expect(report.outcomes.filter((o) => !o.as_expected)).toEqual([]);
  });
});

describe('chaos plans (pure)', () => {
  const shape = (seed: number) => ({ seed, minSteps: 5, maxSteps: 40, nonce: 'test' });
  const anyPlan = fc.record({
    seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
    index: fc.integer({ min: 0, max: 1_000 }),
    fault: fc.constantFrom(...FAULT_CLASSES),
  });

  it('deals every class once per round of plans', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 31 - 1 }), (seed) => {
        const faults = assignFaults(seed, FAULT_CLASSES.length * 2, FAULT_CLASSES);
        expect([...faults.slice(0, FAULT_CLASSES.length)].sort()).toEqual([...FAULT_CLASSES].sort());
      }),
    );
  });

  it('builds an acyclic plan whose dependencies all come earlier in a topological order', () => {
    fc.assert(
      fc.property(anyPlan, ({ seed, index, fault }) => {
        const plan = buildPlan(shape(seed), index, fault);
        const done = new Set<string>();
        let progressed = true;
        while (progressed) {
          progressed = false;
          for (const step of plan.steps)
            if (!done.has(step.step_id) && step.depends_on.every((d) => done.has(d))) {
              done.add(step.step_id);
              progressed = true;
            }
        }
        expect(done.size).toBe(plan.steps.length);
        expect(plan.steps.length).toBeGreaterThanOrEqual(5);
        expect(plan.steps.length).toBeLessThanOrEqual(40);
      }),
    );
  });

  it('puts a failing fault on a step with a dependency, and fail_rollback on one of its ancestors', () => {
    fc.assert(
      fc.property(anyPlan, ({ seed, index }) => {
        for (const fault of ['fail', 'timeout', 'crash', 'late_callback', 'fail_rollback'] as const) {
          const plan = buildPlan(shape(seed), index, fault);
          const byId = new Map(plan.steps.map((s) => [s.step_id, s]));
          const failing = byId.get(plan.faulty[0] ?? '');
          expect(failing?.depends_on.length).toBeGreaterThan(0);
          if (fault !== 'fail_rollback') continue;
          const undo = plan.faulty[1] ?? '';
          const ancestors = new Set<string>();
          const stack = [...(failing?.depends_on ?? [])];
          while (stack.length > 0) {
            const id = stack.pop() as string;
            if (!ancestors.has(id)) stack.push(...(byId.get(id)?.depends_on ?? []));
            ancestors.add(id);
          }
          expect(ancestors.has(undo)).toBe(true);
          expect(byId.get(undo)?.parameters).toEqual({
            simulate: expect.objectContaining({ outcome: 'fail_rollback' }),
          });
        }
      }),
    );
  });

  it('pins agent_unhealthy steps to its own agent in a category no other plan uses', () => {
    fc.assert(
      fc.property(anyPlan, ({ seed, index }) => {
        const plan = buildPlan(shape(seed), index, 'agent_unhealthy');
        const pinned = plan.steps.filter((s) => plan.pinned.includes(s.step_id));
        expect(pinned.length).toBeGreaterThanOrEqual(1);
        for (const step of pinned)
          expect(step).toMatchObject({ agent_id: `${plan.id}-agent`, category: plan.pinnedCategory });
        const others = plan.steps.filter((s) => !plan.pinned.includes(s.step_id));
        for (const step of others) expect(RESERVED_CATEGORIES).not.toContain(step.category);
      }),
    );
  });
});
