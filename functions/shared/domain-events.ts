/**
 * Domain events on the wire to EventBridge: `source` `master-orchestrator`, `detail-type` the
 * event's `type` (C9), `detail` the DomainEvent itself. The progress stream's broadcaster is a
 * rule on this bus; anyone else may add rules (audit, paging) without touching the workflow.
 */
import { type EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import type { AgentHealthEvent } from '#core/wire';
import type { EventPublisher } from '#shared/workflow-engine';

export const DOMAIN_EVENT_SOURCE = 'master-orchestrator';

/** PutEvents takes at most 10 entries a call. */
const MAX_ENTRIES = 10;

/**
 * @throws Error naming the first entry EventBridge refused (the caller decides whether that matters).
 * @example
 * const events = eventBridgePublisher(eventBridge, process.env.EVENT_BUS_NAME);
 */
export function eventBridgePublisher(
  client: Pick<EventBridgeClient, 'send'>,
  busName: string,
): EventPublisher {
  return {
    async publish(events) {
      for (let start = 0; start < events.length; start += MAX_ENTRIES) {
        const batch = events.slice(start, start + MAX_ENTRIES);
        const { FailedEntryCount = 0, Entries = [] } = await client.send(
          new PutEventsCommand({
            Entries: batch.map((event) => ({
              EventBusName: busName,
              Source: DOMAIN_EVENT_SOURCE,
              DetailType: event.type,
              Detail: JSON.stringify(event),
              Resources: [],
              Time: new Date(event.at),
            })),
          }),
        );
        if (FailedEntryCount > 0) {
          const failed = Entries.find((entry) => entry.ErrorCode);
          throw new Error(
            `EventBridge refused ${FailedEntryCount} event(s): ${failed?.ErrorCode} ${failed?.ErrorMessage}`,
          );
        }
      }
    },
  };
}

/**
 * Agent health events (`agent.unhealthy`) on the same bus and source; the progress stream's
 * rule matches only the C9 types, so they reach audit and paging rules, not subscribers.
 * @throws Error naming the first entry EventBridge refused.
 * @example
 * const publish = agentHealthPublisher(eventBridge, config.EVENT_BUS_NAME);
 * await publish([{ type: 'agent.unhealthy', agent_id: 'net-1', ... }]);
 */
export function agentHealthPublisher(
  client: Pick<EventBridgeClient, 'send'>,
  busName: string,
): (events: readonly AgentHealthEvent[]) => Promise<void> {
  return async (events) => {
    for (let start = 0; start < events.length; start += MAX_ENTRIES) {
      const { FailedEntryCount = 0 } = await client.send(
        new PutEventsCommand({
          Entries: events.slice(start, start + MAX_ENTRIES).map((event) => ({
            EventBusName: busName,
            Source: DOMAIN_EVENT_SOURCE,
            DetailType: event.type,
            Detail: JSON.stringify(event),
            Time: new Date(event.at),
          })),
        }),
      );
      if (FailedEntryCount > 0)
        throw new Error(`EventBridge refused ${FailedEntryCount} agent health event(s)`);
    }
  };
}
