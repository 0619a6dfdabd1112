import { REFERENCE_AGENT_CATALOG } from '#agents/reference/catalog';
import {
  MAX_SIMULATED_WAIT_MS,
  parseSimulate,
  planSimulation,
  type SimulationClock,
  simulateTask,
  sleep,
  TIMEOUT_GRACE_MS,
} from '#agents/reference/simulate';
import { AgentPermanentError, AgentTransientError, type TaskContext } from '#agents/sdk/index';
import type { AgentAction, AgentTaskMessage } from '#core/wire';
import { registrationBody } from '#local/reference-agents';

const NOW = Date.parse('2025-01-01T00:00:00Z');

function task(action: AgentAction, simulate?: unknown, deadlineInMs = 30_000): AgentTaskMessage {
  return {
    task_token: 'token',
    workflow_id: 'wf-1',
    step_id: 'step-1',
    action,
    attempt: 1,
    deadline: new Date(NOW + deadlineInMs).toISOString(),
    issue: {
      issue_id: 'issue-1',
      ...(simulate === undefined ? {} : { parameters: { simulate } }),
    } as AgentTaskMessage['issue'],
  };
}

const context: TaskContext = { agent_id: 'reference-network', signal: new AbortController().signal };

function fakeClock(): SimulationClock & { slept: number[] } {
  const slept: number[] = [];
  return { slept, now: () => NOW, sleep: async (ms) => void slept.push(ms) };
}

describe('parseSimulate', () => {
  it('defaults to succeed without a delay', () => {
    expect(parseSimulate(undefined)).toEqual({ outcome: 'succeed' });
    expect(parseSimulate({ other: 1 })).toEqual({ outcome: 'succeed' });
  });

  it.each([
    [{ outcome: 'explode' }, /simulate\.outcome/],
    [{ outcome: 'fail', delay_ms: -1 }, /simulate\.delay_ms/],
    [{ outcome: 'fail', delay_ms: 1.5 }, /simulate\.delay_ms/],
    [{ outcome: 'fail', extra: true }, /invalid parameters\.simulate/],
    ['fail', /invalid parameters\.simulate/],
  ])('refuses %j with an AgentPermanentError', (simulate, message) => {
    expect(() => parseSimulate({ simulate })).toThrow(AgentPermanentError);
    expect(() => parseSimulate({ simulate })).toThrow(message);
  });
});

describe('planSimulation', () => {
  it.each([
    ['succeed', 'execute', 'succeed'],
    ['succeed', 'rollback', 'succeed'],
    ['fail', 'execute', 'fail'],
    ['fail', 'rollback', 'succeed'],
    ['timeout', 'execute', 'timeout'],
    ['timeout', 'rollback', 'succeed'],
    ['fail_rollback', 'execute', 'succeed'],
    ['fail_rollback', 'rollback', 'fail'],
  ] as const)('%s on %s → %s', (outcome, action, then) => {
    expect(planSimulation(task(action, { outcome, delay_ms: 5 }), NOW).kind).toBe(then);
  });

  it('waits delay_ms, capped', () => {
    expect(planSimulation(task('execute', { outcome: 'succeed', delay_ms: 250 }), NOW).wait_ms).toBe(250);
    expect(planSimulation(task('execute', { outcome: 'fail', delay_ms: 10_000_000 }), NOW).wait_ms).toBe(
      MAX_SIMULATED_WAIT_MS,
    );
  });

  it('a timeout waits past the deadline (or delay_ms if longer), capped', () => {
    expect(planSimulation(task('execute', { outcome: 'timeout' }, 5_000), NOW).wait_ms).toBe(
      5_000 + TIMEOUT_GRACE_MS,
    );
    expect(
      planSimulation(task('execute', { outcome: 'timeout', delay_ms: 20_000 }, 5_000), NOW).wait_ms,
    ).toBe(20_000);
    expect(planSimulation(task('execute', { outcome: 'timeout' }, 600_000), NOW).wait_ms).toBe(
      MAX_SIMULATED_WAIT_MS,
    );
    expect(planSimulation(task('execute', { outcome: 'timeout' }, -60_000), NOW).wait_ms).toBe(0);
  });
});

describe('simulateTask', () => {
  it('answers { agent_id, action, simulated: true } after the delay', async () => {
    const clock = fakeClock();
    await expect(
      simulateTask(task('execute', { outcome: 'succeed', delay_ms: 40 }), context, clock),
    ).resolves.toEqual({ agent_id: 'reference-network', action: 'execute', simulated: true });
    expect(clock.slept).toEqual([40]);
  });

  it('fail throws AgentPermanentError; fail_rollback only on rollback', async () => {
    await expect(
      simulateTask(task('execute', { outcome: 'fail' }), context, fakeClock()),
    ).rejects.toBeInstanceOf(AgentPermanentError);
    await expect(
      simulateTask(task('execute', { outcome: 'fail_rollback' }), context, fakeClock()),
    ).resolves.toMatchObject({ simulated: true });
    await expect(
      simulateTask(task('rollback', { outcome: 'fail_rollback' }), context, fakeClock()),
    ).rejects.toThrow(/simulated rollback failure/);
  });

  it('timeout settles with a transient error only after the deadline', async () => {
    const clock = fakeClock();
    const settled = simulateTask(task('execute', { outcome: 'timeout' }, 2_000), context, clock);
    await expect(settled).rejects.toBeInstanceOf(AgentTransientError);
    expect(clock.slept).toEqual([2_000 + TIMEOUT_GRACE_MS]);
  });

  it('an invalid simulate is a permanent failure', async () => {
    await expect(simulateTask(task('execute', { outcome: 'nope' }), context, fakeClock())).rejects.toThrow(
      AgentPermanentError,
    );
  });
});

describe('sleep', () => {
  it('resolves early when the signal aborts', async () => {
    const controller = new AbortController();
    const started = Date.now();
    const slept = sleep(60_000, controller.signal);
    controller.abort();
    await slept;
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it('resolves after the time', async () => {
    await expect(sleep(5)).resolves.toBeUndefined();
    await expect(sleep(0)).resolves.toBeUndefined();
  });
});

describe('registration', () => {
  it('registers reference-<category> with one category and max_concurrency 4', () => {
    expect(REFERENCE_AGENT_CATALOG).toHaveLength(10);
    const entry = REFERENCE_AGENT_CATALOG.find((e) => e.category === 'network');
    expect(entry && registrationBody(entry)).toEqual({
      agent_id: 'reference-network',
      agent_type: 'reference',
      categories: ['network'],
      max_concurrency: 4,
    });
  });
});
