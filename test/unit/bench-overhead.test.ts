import type { HistoryEvent } from '@aws-sdk/client-sfn';
import { RecoveryWorkflowRequest } from '#core/wire';
import { chainPlan, overheadOf, stepSpanOf } from '../../bench/overhead';

const at = (ms: number) => new Date(1_000_000 + ms);
const entered = (name: string, ms: number): HistoryEvent =>
  ({ type: 'TaskStateEntered', timestamp: at(ms), stateEnteredEventDetails: { name } }) as HistoryEvent;
const exited = (name: string, ms: number): HistoryEvent =>
  ({ type: 'TaskStateExited', timestamp: at(ms), stateExitedEventDetails: { name } }) as HistoryEvent;

describe('bench overhead', () => {
  it('builds a chain the API accepts, each step after the one before', () => {
    // Act
    const body = RecoveryWorkflowRequest.parse(chainPlan('p', 3, 100));

    // Assess
    expect(body.recovery_plan.steps.map((s) => [s.step_id, s.depends_on])).toEqual([
      ['s0', []],
      ['s1', ['s0']],
      ['s2', ['s1']],
    ]);
  });

  it('splits a workflow wall time into agent work and orchestration', () => {
    // Act
    const figures = overheadOf(
      { status: 'SUCCEEDED', created_at: '2026-12-06T00:00:00.000Z', updated_at: '2026-12-06T00:00:12.000Z' },
      10,
      1_000,
    );

    // Assess
    expect(figures).toEqual({ wall_ms: 12_000, per_step_ms: 200, ratio: 2_000 / 12_000 });
  });

  it('spans the steps from the first OrderWave to the last Record, leaving Plan and Complete out', () => {
    // Prepare: Plan, two waves of one step each, then Complete.
    const events = [
      entered('Plan', 0),
      exited('Plan', 40),
      entered('OrderWave', 41),
      exited('OrderWave', 42),
      entered('Dispatch', 43),
      exited('Record', 1_100),
      entered('OrderWave', 1_101),
      entered('Dispatch', 1_103),
      exited('Record', 2_150),
      entered('Complete', 2_151),
      exited('Complete', 2_190),
    ];

    // Act / Assess
    expect(stepSpanOf(events)).toEqual({ from: at(41).getTime(), to: at(2_150).getTime() });
  });

  it('finds no span in a history that never ran a step', () => {
    expect(stepSpanOf([entered('Plan', 0), exited('Plan', 40), entered('Complete', 41)])).toBeUndefined();
  });
});
