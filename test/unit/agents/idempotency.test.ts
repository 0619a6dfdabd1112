import { dedupeKey, MemoryDedupeStore } from '#agents/sdk/index';

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
