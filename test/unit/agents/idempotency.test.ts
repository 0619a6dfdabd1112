import * as fc from 'fast-check';
import { DedupeRecord, dedupeKey, MemoryDedupeStore, mayClaim } from '#agents/sdk/index';

describe('dedupeKey', () => {
  it('separates execute from rollback of the same step and ignores attempt', () => {
    // Prepare
    const task = { workflow_id: 'wf-1', step_id: 's-1' };
    // Assess
    expect(dedupeKey({ ...task, action: 'execute' })).not.toBe(dedupeKey({ ...task, action: 'rollback' }));
    expect(dedupeKey({ ...task, action: 'execute' })).toBe('wf-1#s-1#execute');
  });
});

describe('MemoryDedupeStore', () => {
  const record = (task_token: string) => ({ status: 'IN_PROGRESS', task_token }) as const;

  it('returns what was put, latest write first', async () => {
    // Prepare
    const store = new MemoryDedupeStore();
    await store.put('k', record('t1'));
    // Act
    await store.put('k', { status: 'SUCCEEDED', task_token: 't1', output: '{}' });
    // Assess
    expect(await store.get('k')).toEqual({ status: 'SUCCEEDED', task_token: 't1', output: '{}' });
    expect(await store.get('missing')).toBeUndefined();
  });

  it('drops the least recently used record beyond its capacity', async () => {
    // Prepare
    const store = new MemoryDedupeStore(2);
    await store.put('a', record('ta'));
    await store.put('b', record('tb'));
    await store.get('a');
    // Act
    await store.put('c', record('tc'));
    // Assess
    expect(store.size).toBe(2);
    expect(await store.get('b')).toBeUndefined();
    expect(await store.get('a')).toEqual(record('ta'));
    expect(await store.get('c')).toEqual(record('tc'));
  });

  it.each([0, -1, 1.5])('rejects the capacity %p', (capacity) => {
    expect(() => new MemoryDedupeStore(capacity)).toThrow(RangeError);
  });
});

describe('mayClaim', () => {
  const records = {
    inProgress: { status: 'IN_PROGRESS', task_token: 't1' },
    succeeded: { status: 'SUCCEEDED', task_token: 't1', output: '{}' },
    failed: { status: 'FAILED', task_token: 't1', error: 'Agent.Transient', cause: 'throttled' },
  } as const;

  it.each([
    { label: 'no record', existing: undefined, token: 't1', expected: true },
    {
      label: 'a run on the same token (duplicate delivery)',
      existing: records.inProgress,
      token: 't1',
      expected: false,
    },
    {
      label: 'a run on another token (Retry after a stuck run)',
      existing: records.inProgress,
      token: 't2',
      expected: true,
    },
    { label: 'a success on the same token', existing: records.succeeded, token: 't1', expected: false },
    { label: 'a success on another token', existing: records.succeeded, token: 't2', expected: false },
    { label: 'a failure on the same token', existing: records.failed, token: 't1', expected: false },
    {
      label: 'a failure on another token (workflow Retry)',
      existing: records.failed,
      token: 't2',
      expected: true,
    },
  ])('given $label, answers $expected', ({ existing, token, expected }) => {
    expect(mayClaim(existing, token)).toBe(expected);
  });
});

describe('MemoryDedupeStore claim', () => {
  it('stores an IN_PROGRESS record for the token that wins', async () => {
    // Prepare
    const store = new MemoryDedupeStore();
    // Act
    const won = await store.claim('k', 't1');
    // Assess
    expect(won).toBe(true);
    expect(await store.get('k')).toEqual({ status: 'IN_PROGRESS', task_token: 't1' });
  });

  it('refuses a claim mayClaim refuses and leaves the record as it was', async () => {
    // Prepare
    const store = new MemoryDedupeStore();
    const success = { status: 'SUCCEEDED', task_token: 't1', output: '{"ok":true}' } as const;
    await store.put('k', success);
    // Act
    const won = await store.claim('k', 't2');
    // Assess
    expect(won).toBe(false);
    expect(await store.get('k')).toEqual(success);
  });

  it('lets exactly one of any number of concurrent claims on one token win', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 2, max: 20 }), async (claimants) => {
        // Prepare
        const store = new MemoryDedupeStore();
        // Act
        const won = await Promise.all(Array.from({ length: claimants }, () => store.claim('k', 't1')));
        // Assess
        expect(won.filter(Boolean)).toHaveLength(1);
      }),
    );
  });

  it('agrees with mayClaim for every stored record and token', async () => {
    const record = fc.oneof(
      fc.constant(undefined),
      fc.record({ status: fc.constant('IN_PROGRESS' as const), task_token: fc.constantFrom('t1', 't2') }),
      fc.record({
        status: fc.constant('SUCCEEDED' as const),
        task_token: fc.constantFrom('t1', 't2'),
        output: fc.constant('{}'),
      }),
      fc.record({
        status: fc.constant('FAILED' as const),
        task_token: fc.constantFrom('t1', 't2'),
        error: fc.constant('Agent.Permanent'),
        cause: fc.string(),
      }),
    );
    await fc.assert(
      fc.asyncProperty(record, fc.constantFrom('t1', 't2'), async (existing, token) => {
        // Prepare
        const store = new MemoryDedupeStore();
        if (existing) await store.put('k', existing);
        // Act
        const won = await store.claim('k', token);
        // Assess
        expect(won).toBe(mayClaim(existing, token));
        expect(await store.get('k')).toEqual(won ? { status: 'IN_PROGRESS', task_token: token } : existing);
      }),
    );
  });
});

describe('DedupeRecord', () => {
  it('keeps the record fields of a stored item and drops the rest', () => {
    // Act
    const parsed = DedupeRecord.parse({
      PK: 'AGENT_DEDUPE#k',
      SK: 'DEDUPE',
      ttl: 1,
      status: 'SUCCEEDED',
      task_token: 't1',
      output: '{}',
    });
    // Assess
    expect(parsed).toEqual({ status: 'SUCCEEDED', task_token: 't1', output: '{}' });
  });

  it.each([
    { status: 'SUCCEEDED', task_token: 't1' },
    { status: 'FAILED', task_token: 't1', error: 'Agent.Permanent' },
    { status: 'IN_PROGRESS', task_token: '' },
    { status: 'DONE', task_token: 't1' },
  ])('rejects %p', (item) => {
    expect(DedupeRecord.safeParse(item).success).toBe(false);
  });
});
