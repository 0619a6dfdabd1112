/**
 * A handler that answers later (ANSWER_LATER), heartbeats paced by the message's
 * heartbeat_seconds, and the reference agents' `crash` simulation built on both.
 */
import { SFNClient } from '@aws-sdk/client-sfn';
import { planSimulation, simulateTask } from '#agents/reference/simulate';
import {
  type AgentLogger,
  ANSWER_LATER,
  createAgent,
  heartbeatEvery,
  MemoryDedupeStore,
} from '#agents/sdk/index';
import type { AgentTaskMessage } from '#core/wire';

const TASK: AgentTaskMessage = {
  task_token: 'token-1',
  workflow_id: 'wf-1',
  step_id: 'step-1',
  issue: {
    issue_id: 'i-1',
    title: 'DNS failing',
    severity: 'high',
    parameters: { simulate: { outcome: 'crash' } },
  },
  action: 'execute',
  attempt: 1,
  deadline: '2030-01-01T00:00:00Z',
};

function recordingSfn(): { sfn: SFNClient; sent: string[] } {
  const sfn = new SFNClient({ region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } });
  const sent: string[] = [];
  sfn.middlewareStack.add(
    (_next, context) => async () => {
      sent.push(context.commandName ?? '');
      return { output: { $metadata: {} }, response: {} };
    },
    { step: 'initialize', name: 'recordCallbacks' },
  );
  return { sfn, sent };
}

const quiet: AgentLogger = { info: () => {}, warn: () => {}, error: () => {} };

describe('ANSWER_LATER', () => {
  it('acknowledges the message and sends no callback', async () => {
    // Prepare
    const { sfn, sent } = recordingSfn();
    const agent = createAgent({
      agent_id: 'a-1',
      categories: ['network'],
      execute: async () => ANSWER_LATER,
      rollback: async () => ({}),
      sfn,
      logger: quiet,
    });

    // Act
    const result = await agent.handleMessage(JSON.stringify(TASK));

    // Assess
    expect(result).toMatchObject({ outcome: 'DEFERRED', ack: true });
    expect(sent).toEqual([]);
  });

  it('keeps the claim, so a redelivery of the same message is a duplicate', async () => {
    // Prepare
    const { sfn, sent } = recordingSfn();
    const dedupe = new MemoryDedupeStore();
    const agent = createAgent({
      agent_id: 'a-1',
      categories: ['network'],
      execute: async () => ANSWER_LATER,
      rollback: async () => ({}),
      sfn,
      dedupe,
      logger: quiet,
    });
    await agent.handleMessage(JSON.stringify(TASK));

    // Act
    const again = await agent.handleMessage(JSON.stringify(TASK));

    // Assess
    expect(again.outcome).toBe('DUPLICATE');
    expect(sent).toEqual([]);
  });
});

describe('heartbeatEvery', () => {
  it("heartbeats at a third of the Task's HeartbeatSeconds when that is sooner", () => {
    expect(heartbeatEvery({ heartbeat_seconds: 3 }, 10_000)).toBe(1000);
    expect(heartbeatEvery({ heartbeat_seconds: 60 }, 10_000)).toBe(10_000);
    expect(heartbeatEvery({}, 10_000)).toBe(10_000);
    expect(heartbeatEvery({ heartbeat_seconds: 1 }, 100)).toBe(200);
  });
});

describe('simulate crash', () => {
  it('answers later, that is never, for execute and undoes normally', async () => {
    // Act
    const plan = planSimulation(TASK, Date.parse('2026-01-01T00:00:00Z'));
    const outcome = await simulateTask(TASK, { agent_id: 'a-1', signal: new AbortController().signal });
    const rollback = planSimulation({ ...TASK, action: 'rollback' }, Date.parse('2026-01-01T00:00:00Z'));

    // Assess
    expect(plan).toEqual({ kind: 'crash', wait_ms: 0 });
    expect(outcome).toBe(ANSWER_LATER);
    expect(rollback.kind).toBe('succeed');
  });
});
