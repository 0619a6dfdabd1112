import type { PutEventsCommand } from '@aws-sdk/client-eventbridge';
import type { AgentHealthEvent } from '#core/wire';
import { agentHealthPublisher, DOMAIN_EVENT_SOURCE } from '#shared/domain-events';

const event = (agent_id: string): AgentHealthEvent => ({
  type: 'agent.unhealthy',
  agent_id,
  status: 'UNHEALTHY',
  circuit_state: 'OPEN',
  last_heartbeat_at: '2026-11-24T10:00:00.000Z',
  steps_released: 0,
  reason: 'no heartbeat for 90 s or more',
  at: '2026-11-24T10:01:30.000Z',
});

function fakeBus(failed = 0) {
  const calls: PutEventsCommand[] = [];
  return {
    calls,
    client: {
      send: async (command: PutEventsCommand) => {
        calls.push(command);
        return { FailedEntryCount: failed, Entries: [] };
      },
    } as never,
  };
}

describe('agentHealthPublisher', () => {
  it('puts each event on the bus under the domain source with its type as detail-type, ten per call', async () => {
    // Prepare
    const bus = fakeBus();
    const events = Array.from({ length: 12 }, (_, k) => event(`agent-${k}`));

    // Act
    await agentHealthPublisher(bus.client, 'bus-1')(events);

    // Assess
    expect(bus.calls.map((c) => c.input.Entries?.length)).toEqual([10, 2]);
    expect(bus.calls[0]?.input.Entries?.[0]).toMatchObject({
      EventBusName: 'bus-1',
      Source: DOMAIN_EVENT_SOURCE,
      DetailType: 'agent.unhealthy',
      Detail: JSON.stringify(events[0]),
    });
  });

  it('fails when EventBridge refuses an entry', async () => {
    // Prepare
    const bus = fakeBus(1);

    // Act / Assess
    await expect(agentHealthPublisher(bus.client, 'bus-1')([event('a')])).rejects.toThrow(/refused 1/);
  });
});
