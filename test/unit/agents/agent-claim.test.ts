/**
 * How `handleMessage` uses the dedupe store's claim. The store is scripted to force the rare
 * interleavings (a claim lost between the read and the write); Step Functions is an SDK client
 * whose requests stop at a recording middleware, since only the callbacks sent matter here.
 */
import { SFNClient } from '@aws-sdk/client-sfn';
import {
  type AgentLogger,
  createAgent,
  type DedupeRecord,
  type DedupeStore,
  MemoryDedupeStore,
  type TaskHandler,
} from '#agents/sdk/index';

const TASK = {
  task_token: 'token-1',
  workflow_id: 'wf-1',
  step_id: 'step-1',
  issue: { issue_id: 'i-1', title: 'DNS failing', severity: 'high', category: 'network' },
  action: 'execute',
  attempt: 1,
  deadline: '2030-01-01T00:00:00Z',
};
const BODY = JSON.stringify(TASK);

interface SentCallback {
  readonly command: string;
  readonly input: unknown;
}

/** An SFN client that answers every command with an empty success and records it. */
function recordingSfn(): { sfn: SFNClient; sent: SentCallback[] } {
  const sfn = new SFNClient({ region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } });
  const sent: SentCallback[] = [];
  sfn.middlewareStack.add(
    (_next, context) => async (args) => {
      sent.push({ command: context.commandName ?? '', input: args.input });
      return { output: { $metadata: {} }, response: {} };
    },
    { step: 'initialize', name: 'recordCallbacks' },
  );
  return { sfn, sent };
}

function recordingLogger(): AgentLogger & { readonly lines: string[] } {
  const lines: string[] = [];
  const push = (message: string) => {
    lines.push(message);
  };
  return { lines, info: push, warn: push, error: push };
}

/** A store answering `get` from a script, one entry per call, and claiming as told. */
function scriptedStore(
  reads: (DedupeRecord | undefined)[],
  claimWins: boolean,
): DedupeStore & { puts: DedupeRecord[] } {
  const puts: DedupeRecord[] = [];
  return {
    puts,
    get: async () => reads.shift(),
    put: async (_key, record) => {
      puts.push(record);
    },
    claim: async () => claimWins,
  };
}

function agentWith(execute: TaskHandler, dedupe: DedupeStore) {
  const { sfn, sent } = recordingSfn();
  const logger = recordingLogger();
  const agent = createAgent({
    agent_id: 'network-1',
    categories: ['network'],
    execute,
    rollback: async () => ({}),
    sfn,
    dedupe,
    logger,
  });
  return { agent, sent, logger };
}

describe('handleMessage with a claiming store', () => {
  it('drops the delivery as a duplicate when another delivery of its token claims first', async () => {
    // Prepare
    const execute = jest.fn(async () => ({ ok: true }));
    const store = scriptedStore([undefined, { status: 'IN_PROGRESS', task_token: 'token-1' }], false);
    const { agent, sent } = agentWith(execute, store);
    // Act
    const result = await agent.handleMessage(BODY);
    // Assess
    expect(result).toMatchObject({ outcome: 'DUPLICATE', ack: true });
    expect(execute).not.toHaveBeenCalled();
    expect(sent).toEqual([]);
    expect(store.puts).toEqual([]);
  });

  it('replays the success the winner stored when it finished before the re-read', async () => {
    // Prepare
    const execute = jest.fn(async () => ({ ok: true }));
    const stored = { status: 'SUCCEEDED', task_token: 'token-0', output: '{"done":true}' } as const;
    const { agent, sent } = agentWith(execute, scriptedStore([undefined, stored], false));
    // Act
    const result = await agent.handleMessage(BODY);
    // Assess
    expect(result).toMatchObject({ outcome: 'ANSWERED', ack: true });
    expect(sent).toEqual([
      { command: 'SendTaskSuccessCommand', input: { taskToken: 'token-1', output: '{"done":true}' } },
    ]);
    expect(execute).not.toHaveBeenCalled();
  });

  it('leaves the step to the latest claimant when the key changed hands twice', async () => {
    // Prepare
    const execute = jest.fn(async () => ({ ok: true }));
    const store = scriptedStore([undefined, { status: 'IN_PROGRESS', task_token: 'token-2' }], false);
    const { agent, sent } = agentWith(execute, store);
    // Act
    const result = await agent.handleMessage(BODY);
    // Assess
    expect(result).toMatchObject({ outcome: 'DUPLICATE', ack: true });
    expect(execute).not.toHaveBeenCalled();
    expect(sent).toEqual([]);
  });

  it('runs the handler once and stores its answer after winning the claim', async () => {
    // Prepare
    const execute = jest.fn(async () => ({ ok: true }));
    const store = scriptedStore([undefined], true);
    const { agent, sent } = agentWith(execute, store);
    // Act
    const result = await agent.handleMessage(BODY);
    // Assess
    expect(result).toMatchObject({ outcome: 'ANSWERED', ack: true });
    expect(execute).toHaveBeenCalledTimes(1);
    expect(store.puts).toEqual([{ status: 'SUCCEEDED', task_token: 'token-1', output: '{"ok":true}' }]);
    expect(sent.map((s) => s.command)).toEqual(['SendTaskSuccessCommand']);
  });

  it('runs two copies of one message in one process once (a duplicate within a Lambda batch)', async () => {
    // Prepare
    const execute = jest.fn(async () => {
      await new Promise((resolve) => setTimeout(resolve, 20));
      return { ok: true };
    });
    const { agent, sent } = agentWith(execute, new MemoryDedupeStore());
    // Act
    const results = await Promise.all([agent.handleMessage(BODY), agent.handleMessage(BODY)]);
    // Assess
    expect(results.map((r) => r.outcome).sort()).toEqual(['ANSWERED', 'DUPLICATE']);
    expect(execute).toHaveBeenCalledTimes(1);
    expect(sent).toHaveLength(1);
  });
});

describe('handleMessage with a store that cannot claim', () => {
  it('claims with a put of IN_PROGRESS, then stores the answer', async () => {
    // Prepare
    const execute = jest.fn(async () => ({ ok: true }));
    const store = scriptedStore([undefined], true);
    const { claim: _ignored, ...withoutClaim } = store;
    const { agent } = agentWith(execute, withoutClaim);
    // Act
    const result = await agent.handleMessage(BODY);
    // Assess
    expect(result).toMatchObject({ outcome: 'ANSWERED', ack: true });
    expect(store.puts).toEqual([
      { status: 'IN_PROGRESS', task_token: 'token-1' },
      { status: 'SUCCEEDED', task_token: 'token-1', output: '{"ok":true}' },
    ]);
  });
});

describe('handleMessage when the answer cannot be stored', () => {
  it('still sends the callback and logs the lost record', async () => {
    // Prepare
    const execute = jest.fn(async () => ({ ok: true }));
    const store: DedupeStore = {
      get: async () => undefined,
      claim: async () => true,
      put: async () => {
        throw new Error('ProvisionedThroughputExceededException');
      },
    };
    const { agent, sent, logger } = agentWith(execute, store);
    // Act
    const result = await agent.handleMessage(BODY);
    // Assess
    expect(result).toMatchObject({ outcome: 'ANSWERED', ack: true });
    expect(sent.map((s) => s.command)).toEqual(['SendTaskSuccessCommand']);
    expect(logger.lines).toContain('dedupe record not stored; answering anyway');
  });

  it('fails when the claim itself fails, so the message comes back', async () => {
    // Prepare
    const execute = jest.fn(async () => ({ ok: true }));
    const store: DedupeStore = {
      get: async () => undefined,
      put: async () => {},
      claim: async () => {
        throw new Error('RequestLimitExceeded');
      },
    };
    const { agent } = agentWith(execute, store);
    // Act
    const handling = agent.handleMessage(BODY);
    // Assess
    await expect(handling).rejects.toThrow('RequestLimitExceeded');
    expect(execute).not.toHaveBeenCalled();
  });
});
