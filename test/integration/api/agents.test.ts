/**
 * The agent registry over the real chain and DynamoDB Local: the whole lifecycle of one
 * agent, with optimistic locking under concurrent heartbeats.
 */
import { AgentList, AgentRecord, AgentRegistration, Timestamp } from '#core/wire';
import { keys } from '#shared/table-design';
import { type Api, errorCode, loadApi, queryPartition, sample, tokenFor, uniqueId } from './harness';

let api: Api;

beforeAll(async () => {
  api = await loadApi();
});

afterAll(async () => {
  await api.close();
});

const sampleRegistration = AgentRegistration.parse(sample('agent-registration.json').json);
const registration = (agentId: string) => ({ ...sampleRegistration, agent_id: agentId });

async function storedVersion(agentId: string): Promise<unknown> {
  const [item] = await queryPartition(keys.agent(agentId).PK);
  return item?.version;
}

describe('the agent registry', () => {
  it('registers, re-registers, reads, lists, heartbeats, resolves a heartbeat race and deregisters one agent', async () => {
    // Prepare
    const agentId = uniqueId('lifecycle');
    const agent = (await tokenFor('agent', agentId)).token;
    const viewer = (await tokenFor('viewer')).token;
    const admin = (await tokenFor('admin')).token;
    const get = () => api.call({ operationId: 'getAgent', token: viewer, pathParameters: { id: agentId } });
    const heartbeat = (body: object) =>
      api.call({ operationId: 'heartbeat', token: agent, pathParameters: { id: agentId }, body });

    // Act: register, then register again with a new software version
    const created = await api.call({
      operationId: 'registerAgent',
      token: agent,
      body: registration(agentId),
    });
    const updated = await api.call({
      operationId: 'registerAgent',
      token: agent,
      body: { ...registration(agentId), version: '1.5.0', max_concurrency: 6 },
    });

    // Assess
    expect(created.status).toBe(201);
    expect(AgentRecord.parse(created.body)).toMatchObject({
      agent_id: agentId,
      version: 1,
      status: 'HEALTHY',
      last_heartbeat_at: null,
    });
    expect(updated.status).toBe(200);
    const afterUpdate = AgentRecord.parse(updated.body);
    expect(afterUpdate).toMatchObject({ version: 2, max_concurrency: 6 });
    expect(afterUpdate.registered_at).toBe(AgentRecord.parse(created.body).registered_at);

    // Act: read it alone and in the list
    const read = await get();
    const list = await api.call({ operationId: 'listAgents', token: viewer });

    // Assess
    expect(read.status).toBe(200);
    expect(read.body).toEqual(updated.body);
    expect(list.status).toBe(200);
    expect(AgentList.parse(list.body).agents).toContainEqual(afterUpdate);

    // Act: a heartbeat
    const beat = await heartbeat({ status: 'DEGRADED', current_load: 2 });

    // Assess
    expect(beat.status).toBe(200);
    const afterBeat = AgentRecord.parse(beat.body);
    expect(afterBeat).toMatchObject({ version: 3, status: 'DEGRADED', current_load: 2 });
    expect(Timestamp.safeParse(afterBeat.last_heartbeat_at).success).toBe(true);

    // Act: two heartbeats that both read version 3
    const race = await Promise.all([
      heartbeat({ current_load: 4, expected_version: afterBeat.version }),
      heartbeat({ current_load: 5, expected_version: afterBeat.version }),
    ]);

    // Assess: one wins, the other loses cleanly, and the version moved by exactly one
    expect(race.map((answer) => answer.status).sort()).toEqual([200, 409]);
    const loser = race.find((answer) => answer.status === 409);
    const winner = race.find((answer) => answer.status === 200);
    expect(loser && errorCode(loser)).toBe('CONCURRENT_UPDATE');
    expect(await storedVersion(agentId)).toBe(afterBeat.version + 1);
    expect((await get()).body).toEqual(winner?.body);

    // Act: deregister, then read again
    const deregistered = await api.call({
      operationId: 'deregisterAgent',
      token: admin,
      pathParameters: { id: agentId },
    });
    const gone = await get();
    const listAfter = await api.call({ operationId: 'listAgents', token: viewer });

    // Assess
    expect(deregistered.status).toBe(204);
    expect(deregistered.body).toBeUndefined();
    expect(gone.status).toBe(404);
    expect(errorCode(gone)).toBe('NOT_FOUND');
    expect(AgentList.parse(listAfter.body).agents.map((a) => a.agent_id)).not.toContain(agentId);
    expect(await queryPartition(keys.agent(agentId).PK)).toEqual([]);
  });

  it('rejects a heartbeat with a stale expected_version with 409 CONCURRENT_UPDATE and changes nothing', async () => {
    // Prepare
    const agentId = uniqueId('stale');
    const agent = (await tokenFor('agent', agentId)).token;
    await api.call({ operationId: 'registerAgent', token: agent, body: registration(agentId) });
    const fresh = await api.call({
      operationId: 'heartbeat',
      token: agent,
      pathParameters: { id: agentId },
      body: {},
    });
    const [before] = await queryPartition(keys.agent(agentId).PK);

    // Act
    const stale = await api.call({
      operationId: 'heartbeat',
      token: agent,
      pathParameters: { id: agentId },
      body: { current_load: 9, expected_version: 1 },
    });

    // Assess
    expect(fresh.status).toBe(200);
    expect(stale.status).toBe(409);
    expect(errorCode(stale)).toBe('CONCURRENT_UPDATE');
    expect(await queryPartition(keys.agent(agentId).PK)).toEqual([before]);
  });

  it('rejects a heartbeat and a deregistration of an unknown agent with 404 NOT_FOUND', async () => {
    // Prepare
    const agentId = uniqueId('unknown');
    const admin = (await tokenFor('admin')).token;

    // Act
    const beat = await api.call({
      operationId: 'heartbeat',
      token: admin,
      pathParameters: { id: agentId },
      body: {},
    });
    const deregister = await api.call({
      operationId: 'deregisterAgent',
      token: admin,
      pathParameters: { id: agentId },
    });

    // Assess
    expect([beat.status, deregister.status]).toEqual([404, 404]);
    expect(errorCode(beat)).toBe('NOT_FOUND');
    expect(await queryPartition(keys.agent(agentId).PK)).toEqual([]);
  });
});
