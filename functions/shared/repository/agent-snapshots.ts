/**
 * The agent registry as triage and the planner read it: every agent as an AgentSnapshot.
 * Apart from AgentRepository (agents.ts, which builds on it) so that the functions that only
 * route (intake, triage, resources, workflows) do not bundle the registry's writes.
 */
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import {
  type CircuitBreakerConfig,
  type CircuitBreakerState,
  closedCircuit,
  DEFAULT_CIRCUIT_CONFIG,
  effectiveCircuitState,
} from '#core/circuit-breaker';
import { AgentSnapshot, type AgentSnapshotInput } from '#core/wire';
import { asThrottled, type DocumentSender } from '#shared/repository/dynamo-errors';
import { GSI1, GSI1_PARTITIONS } from '#shared/table-design';

/** A registry this large is a misconfiguration, not a fleet; listing stops here. */
export const MAX_AGENTS = 5_000;

export type AgentItem = Record<string, unknown>;

const SNAPSHOT_FIELDS = Object.keys(AgentSnapshot.shape).filter((field) => field !== 'version');

/**
 * Reads the registry as routing sees it.
 * @example
 * const agents = new AgentSnapshotReader(documentClient, TABLE_NAME);
 * const snapshots = await agents.listSnapshots();
 */
export class AgentSnapshotReader {
  readonly #db: DocumentSender;
  readonly #table: string;

  constructor(db: DocumentSender, tableName: string) {
    this.#db = db;
    this.#table = tableName;
  }

  /**
   * All agents as triage and the planner see them. An OPEN circuit whose cooldown has passed
   * reads HALF_OPEN, so routing sends it the probe that can close it again.
   */
  async listSnapshots(
    now_ms = Date.now(),
    config: CircuitBreakerConfig = DEFAULT_CIRCUIT_CONFIG,
  ): Promise<AgentSnapshotInput[]> {
    return (await listAgentItems(this.#db, this.#table)).map((item) => toSnapshot(item, now_ms, config));
  }
}

/** Every agent item through GSI1, at most MAX_AGENTS. */
export async function listAgentItems(db: DocumentSender, tableName: string): Promise<AgentItem[]> {
  const items: AgentItem[] = [];
  let cursor: Record<string, unknown> | undefined;
  do {
    const page = await db
      .send(
        new QueryCommand({
          TableName: tableName,
          IndexName: GSI1.indexName,
          KeyConditionExpression: '#pk = :pk',
          ExpressionAttributeNames: { '#pk': GSI1.partitionKey },
          ExpressionAttributeValues: { ':pk': GSI1_PARTITIONS.agents },
          ExclusiveStartKey: cursor,
        }),
      )
      .catch((error: unknown) => Promise.reject(asThrottled(error)));
    items.push(...(page.Items ?? []));
    cursor = page.LastEvaluatedKey;
  } while (cursor && items.length < MAX_AGENTS);
  return items.slice(0, MAX_AGENTS);
}

/** The fields of `item` that are set, and only those. */
export function pick(item: AgentItem, fields: readonly string[]): AgentItem {
  return Object.fromEntries(fields.filter((f) => item[f] !== undefined).map((f) => [f, item[f]]));
}

/** The stored circuit; an agent registered before circuits were stored reads as a fresh, closed one. */
export function circuitOf(item: AgentItem): CircuitBreakerState {
  const stored = item.circuit as CircuitBreakerState | undefined;
  return stored && typeof stored.version === 'number' ? stored : closedCircuit();
}

function toSnapshot(item: AgentItem, now_ms: number, config: CircuitBreakerConfig): AgentSnapshotInput {
  const snapshot = pick(item, SNAPSHOT_FIELDS);
  const version = typeof item.agent_version === 'string' ? { version: item.agent_version } : {};
  const circuit =
    item.circuit === undefined
      ? {}
      : { circuit_state: effectiveCircuitState(circuitOf(item), now_ms, config) };
  return AgentSnapshot.parse({ ...snapshot, ...version, ...circuit });
}
