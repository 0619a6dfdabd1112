import { ConflictError, NotFoundError } from '#shared/errors';
import { fakeTable } from './fake-table';
import { setTestEnv } from './fixtures';

let repo: typeof import('#shared/repository/agents');

beforeAll(async () => {
  setTestEnv();
  repo = await import('#shared/repository/agents');
});

const T0 = '2026-11-24T03:00:00.000Z';
const T1 = '2026-11-24T03:05:00.000Z';
const REGISTRATION = {
  agent_id: 'net-1',
  agent_type: 'reference-network',
  categories: ['network' as const],
  capabilities: ['dns'],
  max_concurrency: 4,
  version: '1.2.3',
};

async function thrown(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected the call to fail');
}

function registry() {
  const table = fakeTable();
  return { table, agents: new repo.AgentRepository(table.client, 'T') };
}

describe('AgentRepository', () => {
  it('creates an agent at version 1, healthy, listed under GSI1 AGENTS', async () => {
    // Prepare
    const { table, agents } = registry();

    // Act
    const { record, created } = await agents.register(REGISTRATION, T0);

    // Assess
    expect(created).toBe(true);
    expect(record).toMatchObject({
      agent_id: 'net-1',
      status: 'HEALTHY',
      circuit_state: 'CLOSED',
      current_load: 0,
      registered_at: T0,
      last_heartbeat_at: null,
      version: 1,
    });
    expect(table.items.get('AGENT#net-1|META')).toMatchObject({
      GSI1PK: 'AGENTS',
      GSI1SK: 'net-1',
      agent_version: '1.2.3',
    });
    expect(await agents.list()).toEqual([record]);
  });

  it('re-registration replaces the registration, keeps live state, and bumps the version', async () => {
    // Prepare
    const { agents } = registry();
    await agents.register(REGISTRATION, T0);
    await agents.heartbeat('net-1', { status: 'DEGRADED', current_load: 2 }, T0);

    // Act
    const { record, created } = await agents.register(
      { agent_id: 'net-1', categories: ['network', 'dependency'], max_concurrency: 8 },
      T1,
    );

    // Assess
    expect(created).toBe(false);
    expect(record).toMatchObject({
      categories: ['network', 'dependency'],
      max_concurrency: 8,
      status: 'DEGRADED',
      current_load: 2,
      registered_at: T0,
      updated_at: T1,
      version: 3,
    });
    expect(record).not.toHaveProperty('capabilities');
    expect(record).not.toHaveProperty('agent_type');
  });

  it('records a heartbeat: status defaults to HEALTHY, load kept unless given', async () => {
    // Prepare
    const { agents } = registry();
    await agents.register(REGISTRATION, T0);
    await agents.heartbeat('net-1', { status: 'UNHEALTHY', current_load: 3 }, T0);

    // Act
    const record = await agents.heartbeat('net-1', {}, T1);

    // Assess
    expect(record).toMatchObject({ status: 'HEALTHY', current_load: 3, last_heartbeat_at: T1, version: 3 });
  });

  it('loses cleanly to a concurrent update: 409 CONCURRENT_UPDATE and nothing written', async () => {
    // Prepare: another writer bumps the version between our read and our write.
    const { table, agents } = registry();
    await agents.register(REGISTRATION, T0);
    table.failWhen = (name) => {
      if (name === 'UpdateCommand') {
        const item = table.items.get('AGENT#net-1|META');
        if (item) table.put({ ...item, version: Number(item.version) + 1, current_load: 9 });
      }
      return undefined;
    };

    // Act
    const error = await thrown(agents.heartbeat('net-1', { current_load: 1 }, T1));

    // Assess
    expect(error).toBeInstanceOf(ConflictError);
    expect(error).toMatchObject({ status: 409, code: 'CONCURRENT_UPDATE' });
    expect(table.items.get('AGENT#net-1|META')).toMatchObject({ current_load: 9, version: 2 });
  });

  it('rejects a heartbeat whose expected_version is stale', async () => {
    // Prepare
    const { table, agents } = registry();
    await agents.register(REGISTRATION, T0);
    await agents.heartbeat('net-1', {}, T0);

    // Act
    const error = await thrown(agents.heartbeat('net-1', { current_load: 5, expected_version: 1 }, T1));
    const accepted = await agents.heartbeat('net-1', { current_load: 5, expected_version: 2 }, T1);

    // Assess
    expect(error).toMatchObject({ code: 'CONCURRENT_UPDATE' });
    expect(accepted).toMatchObject({ current_load: 5, version: 3 });
    expect(table.items.get('AGENT#net-1|META')?.version).toBe(3);
  });

  it('answers 404 for an unknown agent on get, heartbeat and deregister', async () => {
    const { agents } = registry();
    expect(await thrown(agents.get('nobody'))).toBeInstanceOf(NotFoundError);
    expect(await thrown(agents.heartbeat('nobody', {}, T0))).toBeInstanceOf(NotFoundError);
    expect(await thrown(agents.deregister('nobody'))).toBeInstanceOf(NotFoundError);
  });

  it('deregisters an agent', async () => {
    const { table, agents } = registry();
    await agents.register(REGISTRATION, T0);
    await agents.deregister('net-1');
    expect(table.items.size).toBe(0);
  });

  it('gives triage snapshots with the software version, not the locking counter', async () => {
    const { agents } = registry();
    await agents.register(REGISTRATION, T0);
    const [snapshot] = await agents.listSnapshots();
    expect(snapshot).toMatchObject({ agent_id: 'net-1', version: '1.2.3', max_concurrency: 4 });
    expect(snapshot).not.toHaveProperty('registered_at');
  });
});
