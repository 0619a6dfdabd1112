/**
 * `simulate.duplicate_callback`: the reference agent answers a success twice, once itself and
 * once through the SDK, and the SDK drops the refused second answer as a late callback.
 */
import {
  parseSimulate,
  planSimulation,
  type SimulationClock,
  simulateTask,
} from '#agents/reference/simulate';
import {
  type AgentLogger,
  AgentPermanentError,
  createAgent,
  type TaskCallbacks,
  type TaskContext,
} from '#agents/sdk/index';
import type { AgentAction, AgentTaskMessage } from '#core/wire';

const NOW = Date.parse('2026-01-01T00:00:00Z');

function task(action: AgentAction, simulate: unknown, token = 'token-1'): AgentTaskMessage {
  return {
    task_token: token,
    workflow_id: 'wf-1',
    step_id: 's1',
    issue: { issue_id: 'i1', title: 'DNS failing', severity: 'high', parameters: { simulate } },
    action,
    attempt: 1,
    deadline: new Date(NOW + 30_000).toISOString(),
  };
}

const context: TaskContext = { agent_id: 'reference-network', signal: new AbortController().signal };
const clock: SimulationClock = { now: () => NOW, sleep: async () => {} };
const quiet: AgentLogger = { info: () => {}, warn: () => {}, error: () => {} };

class TaskTimedOut extends Error {
  override readonly name = 'TaskTimedOut';
}

/** Callbacks that behave like Step Functions: a token takes one answer, later ones get TaskTimedOut. */
function oneAnswerPerToken(): TaskCallbacks & { answers: { token: string; output: string }[] } {
  const answers: { token: string; output: string }[] = [];
  const closed = new Set<string>();
  const close = (token: string): void => {
    if (closed.has(token)) throw new TaskTimedOut('Provided task does not exist anymore');
    closed.add(token);
  };
  return {
    answers,
    success: async (token, output) => {
      close(token);
      answers.push({ token, output });
    },
    failure: async (token) => close(token),
    heartbeat: async () => {},
  };
}

describe('simulate.duplicate_callback', () => {
  it('is accepted with any outcome and rejects a non-boolean', () => {
    expect(parseSimulate({ simulate: { outcome: 'succeed', duplicate_callback: true } })).toEqual({
      outcome: 'succeed',
      duplicate_callback: true,
    });
    expect(() => parseSimulate({ simulate: { outcome: 'succeed', duplicate_callback: 'yes' } })).toThrow(
      /simulate\.duplicate_callback/,
    );
  });

  it('marks success plans only: failures and transient failures are answered once', () => {
    // Prepare
    const duplicate = { duplicate_callback: true, transient_failures: 1 };

    // Act
    const transient = planSimulation(task('execute', { outcome: 'succeed', ...duplicate }), NOW);
    const retried = planSimulation(
      { ...task('execute', { outcome: 'succeed', ...duplicate }), attempt: 2 },
      NOW,
    );
    const failed = planSimulation(task('execute', { outcome: 'fail', duplicate_callback: true }), NOW);
    const plain = planSimulation(task('execute', { outcome: 'succeed' }), NOW);

    // Assess
    expect(transient).not.toHaveProperty('duplicate_callback');
    expect(retried).toMatchObject({ kind: 'succeed', duplicate_callback: true });
    expect(failed).toMatchObject({ kind: 'fail' });
    expect(failed).not.toHaveProperty('duplicate_callback');
    expect(plain).toEqual({ kind: 'succeed', wait_ms: 0 });
  });

  it('answers early with the same output it returns', async () => {
    // Prepare
    const early: { token: string; output: string }[] = [];

    // Act
    const result = await simulateTask(
      task('execute', { outcome: 'succeed', duplicate_callback: true }),
      context,
      clock,
      async (token, output) => void early.push({ token, output }),
    );

    // Assess
    expect(early).toEqual([{ token: 'token-1', output: JSON.stringify(result) }]);
    expect(result).toEqual({ agent_id: 'reference-network', action: 'execute', simulated: true });
  });

  it('does not answer early without duplicate_callback', async () => {
    const early: string[] = [];
    await simulateTask(task('execute', { outcome: 'succeed' }), context, clock, async (token) => {
      early.push(token);
    });
    expect(early).toEqual([]);
  });

  it('fails with a permanent error when no early answer is possible', async () => {
    const running = simulateTask(
      task('execute', { outcome: 'succeed', duplicate_callback: true }),
      context,
      clock,
    );
    await expect(running).rejects.toThrow(AgentPermanentError);
  });

  it('the SDK drops the refused second answer and acknowledges the message', async () => {
    // Prepare: the agent wired the way agents/reference/handler.ts wires it.
    const callbacks = oneAnswerPerToken();
    const agent = createAgent({
      agent_id: 'reference-network',
      categories: ['network'],
      callbacks,
      execute: (t, c) => simulateTask(t, c, clock, callbacks.success),
      rollback: (t, c) => simulateTask(t, c, clock, callbacks.success),
      logger: quiet,
    });

    // Act
    const result = await agent.handleMessage(
      JSON.stringify(task('execute', { outcome: 'succeed', duplicate_callback: true })),
    );

    // Assess: one answer got through, the duplicate was refused and dropped.
    expect(result).toMatchObject({ outcome: 'GONE', ack: true });
    expect(callbacks.answers).toHaveLength(1);
    expect(JSON.parse(callbacks.answers[0]?.output ?? '{}')).toEqual({
      agent_id: 'reference-network',
      action: 'execute',
      simulated: true,
    });
  });
});
