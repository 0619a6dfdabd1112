import { planSimulation } from '#agents/reference/simulate';
import type { AgentAction, AgentTaskMessage } from '#core/wire';

const NOW = Date.parse('2026-01-01T00:00:00Z');

function task(action: AgentAction, attempt: number, simulate: unknown): AgentTaskMessage {
  return {
    task_token: 'token',
    workflow_id: 'wf-1',
    step_id: 's1',
    issue: { issue_id: 'i1', title: 'DNS failing', severity: 'high', parameters: { simulate } },
    action,
    attempt,
    deadline: new Date(NOW + 30_000).toISOString(),
  };
}

describe('simulate.transient_failures', () => {
  it('fails the first n execute attempts transiently, then follows the outcome', () => {
    // Prepare
    const simulate = { outcome: 'succeed', transient_failures: 2, delay_ms: 5 };

    // Act
    const kinds = [1, 2, 3].map((attempt) => planSimulation(task('execute', attempt, simulate), NOW).kind);

    // Assess
    expect(kinds).toEqual(['transient', 'transient', 'succeed']);
  });

  it('fails for good after the transient failures when the outcome is fail', () => {
    const simulate = { outcome: 'fail', transient_failures: 1 };
    expect(planSimulation(task('execute', 2, simulate), NOW).kind).toBe('fail');
  });

  it('never fails a rollback transiently', () => {
    const simulate = { outcome: 'succeed', transient_failures: 3 };
    expect(planSimulation(task('rollback', 1, simulate), NOW).kind).toBe('succeed');
  });

  it('rejects more than ten transient failures', () => {
    expect(() =>
      planSimulation(task('execute', 1, { outcome: 'succeed', transient_failures: 11 }), NOW),
    ).toThrow(/transient_failures/);
  });
});
