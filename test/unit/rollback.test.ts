import fc from 'fast-check';
import { compareIds } from '#core/priority';
import { canRollBackTo, compensationKey, planRollback, type RollbackStep } from '#core/rollback';
import { StepStatus } from '#core/wire';

function step(
  step_id: string,
  status: StepStatus,
  completed_at_ms: number | null,
  sequence: number,
): RollbackStep {
  return {
    step_id,
    issue_id: `issue-${step_id}`,
    agent_id: `agent-${step_id}`,
    status,
    completed_at_ms,
    sequence,
  };
}

const NEVER_STARTED: readonly StepStatus[] = ['PENDING', 'SKIPPED'];

describe('planRollback', () => {
  it('compensates succeeded steps in reverse completion order, not record order', () => {
    // Prepare
    const steps = [
      step('a', 'SUCCEEDED', 1_000, 0),
      step('b', 'SUCCEEDED', 3_000, 1),
      step('c', 'SUCCEEDED', 2_000, 2),
    ];

    // Act
    const plan = planRollback('wf-1', steps);

    // Assess
    expect(plan.compensations).toEqual([
      {
        step_id: 'b',
        issue_id: 'issue-b',
        agent_id: 'agent-b',
        idempotency_key: 'wf-1#b#compensate',
        order: 0,
      },
      {
        step_id: 'c',
        issue_id: 'issue-c',
        agent_id: 'agent-c',
        idempotency_key: 'wf-1#c#compensate',
        order: 1,
      },
      {
        step_id: 'a',
        issue_id: 'issue-a',
        agent_id: 'agent-a',
        idempotency_key: 'wf-1#a#compensate',
        order: 2,
      },
    ]);
    expect(plan.skipped).toEqual([]);
  });

  it('skips steps that never started (PENDING, SKIPPED) as NEVER_STARTED', () => {
    // Prepare
    const steps = [
      step('done', 'SUCCEEDED', 1_000, 0),
      step('waiting', 'PENDING', null, 1),
      step('bypassed', 'SKIPPED', null, 2),
    ];

    // Act
    const plan = planRollback('wf-1', steps);

    // Assess
    expect(plan.compensations.map((c) => c.step_id)).toEqual(['done']);
    expect(plan.skipped).toEqual([
      { step_id: 'waiting', reason: 'NEVER_STARTED' },
      { step_id: 'bypassed', reason: 'NEVER_STARTED' },
    ]);
  });

  it('skips COMPENSATED steps as ALREADY_COMPENSATED, so a second rollback is safe', () => {
    // Prepare
    const steps = [step('undone', 'COMPENSATED', 1_000, 0), step('left', 'SUCCEEDED', 2_000, 1)];

    // Act
    const plan = planRollback('wf-1', steps);

    // Assess
    expect(plan.compensations.map((c) => c.step_id)).toEqual(['left']);
    expect(plan.skipped).toEqual([{ step_id: 'undone', reason: 'ALREADY_COMPENSATED' }]);
  });

  it('compensates FAILED, TIMED_OUT and still-running steps, those without a completion time first', () => {
    // Prepare
    const steps = [
      step('ok', 'SUCCEEDED', 1_000, 0),
      step('broke', 'FAILED', 4_000, 1),
      step('slow', 'TIMED_OUT', 3_000, 2),
      step('running', 'RUNNING', null, 3),
      step('sent', 'DISPATCHED', null, 4),
    ];

    // Act
    const plan = planRollback('wf-1', steps);

    // Assess
    expect(plan.compensations.map((c) => c.step_id)).toEqual(['sent', 'running', 'broke', 'slow', 'ok']);
    expect(plan.skipped).toEqual([]);
  });

  it('breaks equal completion times by sequence, the later record first', () => {
    // Prepare
    const steps = [
      step('first', 'SUCCEEDED', 5_000, 7),
      step('second', 'SUCCEEDED', 5_000, 9),
      step('third', 'SUCCEEDED', 5_000, 8),
    ];

    // Act
    const plan = planRollback('wf-1', steps);

    // Assess
    expect(plan.compensations.map((c) => c.step_id)).toEqual(['second', 'third', 'first']);
  });

  it('numbers compensations 0..n-1 in the order they run', () => {
    // Prepare
    const steps = Array.from({ length: 7 }, (_, k) => step(`s${k}`, 'SUCCEEDED', (k * 37) % 11, k));

    // Act
    const plan = planRollback('wf-1', steps);

    // Assess
    expect(plan.compensations.map((c) => c.order)).toEqual([0, 1, 2, 3, 4, 5, 6]);
  });

  it('returns nothing to compensate when no step started', () => {
    // Act
    const plan = planRollback('wf-1', [step('a', 'PENDING', null, 0)]);

    // Assess
    expect(plan).toEqual({ compensations: [], skipped: [{ step_id: 'a', reason: 'NEVER_STARTED' }] });
  });
});

describe('compensationKey', () => {
  it('is stable across calls and re-planned rollbacks of the same workflow', () => {
    // Prepare
    const steps = [step('a', 'SUCCEEDED', 1, 0), step('b', 'FAILED', 2, 1)];

    // Act
    const first = planRollback('wf-7', steps).compensations.map((c) => c.idempotency_key);
    const second = planRollback('wf-7', [...steps].reverse()).compensations.map((c) => c.idempotency_key);

    // Assess
    expect(first).toEqual(['wf-7#b#compensate', 'wf-7#a#compensate']);
    expect(second).toEqual(first);
    expect(compensationKey('wf-7', 'a')).toBe(compensationKey('wf-7', 'a'));
  });

  it('differs per step and per workflow', () => {
    // Act
    const keys = [
      compensationKey('wf-1', 'a'),
      compensationKey('wf-1', 'b'),
      compensationKey('wf-2', 'a'),
      compensationKey('wf-2', 'b'),
    ];

    // Assess
    expect(new Set(keys).size).toBe(keys.length);
  });
});

describe('planRollback properties', () => {
  const stepsArb = fc
    .uniqueArray(
      fc.record({
        step_id: fc.stringMatching(/^[a-z][a-z0-9-]{0,6}$/),
        status: fc.constantFrom(...StepStatus.options),
        completed_at_ms: fc.option(fc.integer({ min: 0, max: 20 }), { nil: null }),
      }),
      { selector: (s) => s.step_id, maxLength: 25 },
    )
    .chain((rows) =>
      fc
        .shuffledSubarray(
          Array.from({ length: rows.length * 2 }, (_, k) => k),
          { minLength: rows.length, maxLength: rows.length },
        )
        .map((sequences) =>
          rows.map((r, k) => step(r.step_id, r.status, r.completed_at_ms, sequences[k] as number)),
        ),
    );

  it('compensates exactly the started, uncompensated steps, in reverse completion order', () => {
    fc.assert(
      fc.property(stepsArb, fc.stringMatching(/^wf-[a-z0-9]{1,8}$/), (steps, workflowId) => {
        // Prepare
        const expected = steps
          .filter((s) => !NEVER_STARTED.includes(s.status) && s.status !== 'COMPENSATED')
          .sort(
            (a, b) =>
              (a.completed_at_ms ?? Number.POSITIVE_INFINITY) -
                (b.completed_at_ms ?? Number.POSITIVE_INFINITY) || a.sequence - b.sequence,
          )
          .reverse()
          .map((s) => s.step_id);

        // Act
        const plan = planRollback(workflowId, steps);

        // Assess
        expect(plan.compensations.map((c) => c.step_id)).toEqual(expected);
        expect(plan.compensations.map((c) => c.order)).toEqual(expected.map((_, k) => k));
        expect(plan.compensations.map((c) => c.idempotency_key)).toEqual(
          expected.map((id) => compensationKey(workflowId, id)),
        );
        const accounted = [
          ...plan.compensations.map((c) => c.step_id),
          ...plan.skipped.map((s) => s.step_id),
        ];
        expect(accounted.sort(compareIds)).toEqual(steps.map((s) => s.step_id).sort(compareIds));
      }),
      { numRuns: 300 },
    );
  });

  it('gives equal results when planned twice, whatever the record order', () => {
    fc.assert(
      fc.property(stepsArb, (steps) => {
        // Act
        const first = planRollback('wf-1', steps);
        const again = planRollback('wf-1', steps);
        const reversed = planRollback('wf-1', [...steps].reverse());

        // Assess
        expect(again).toEqual(first);
        expect(reversed.compensations).toEqual(first.compensations);
      }),
      { numRuns: 200 },
    );
  });
});

describe('planRollback with a failure point', () => {
  it('undoes back to and including the failure point, keeping earlier changes', () => {
    // Prepare
    const steps = [step('a', 'SUCCEEDED', 1, 0), step('b', 'SUCCEEDED', 2, 1), step('c', 'SUCCEEDED', 3, 2)];

    // Act
    const plan = planRollback('wf-1', steps, { failure_point: 'b' });

    // Assess
    expect(plan.compensations.map((c) => c.step_id)).toEqual(['c', 'b']);
    expect(plan.skipped).toEqual([{ step_id: 'a', reason: 'BEFORE_FAILURE_POINT' }]);
  });

  it('ignores a failure point that names no step to undo', () => {
    const steps = [step('a', 'SUCCEEDED', 1, 0), step('b', 'PENDING', null, 1)];
    expect(planRollback('wf-1', steps, { failure_point: 'b' }).compensations.map((c) => c.step_id)).toEqual([
      'a',
    ]);
    expect(canRollBackTo(steps, 'b')).toBe(false);
    expect(canRollBackTo(steps, 'a')).toBe(true);
    expect(canRollBackTo(steps, 'zzz')).toBe(false);
  });
});
