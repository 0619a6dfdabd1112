/**
 * The agent registry in the single table (table-design.ts): one item per agent at
 * `AGENT#<id>` / `META`, listed through GSI1 partition `AGENTS`. Items hold the
 * AgentRecord fields plus keys; `version` is the optimistic-locking counter, so the
 * registration's own software version is stored as `agent_version`.
 *
 * Every change is conditional on the version the writer read: a concurrent writer
 * loses with ConflictError('CONCURRENT_UPDATE') and writes nothing.
 */
import { DeleteCommand, GetCommand, PutCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import {
  AgentRecord,
  type AgentRegistration,
  AgentSnapshot,
  type AgentSnapshotInput,
  type HeartbeatRequest,
} from '#core/wire';
import { ConflictError, NotFoundError } from '#shared/errors';
import { asThrottled, type DocumentSender, isConditionalCheckFailed } from '#shared/repository/dynamo-errors';
import { GSI1, GSI1_PARTITIONS, keys } from '#shared/table-design';

/** A registry this large is a misconfiguration, not a fleet; listing stops here. */
export const MAX_AGENTS = 5_000;

const RECORD_FIELDS = Object.keys(AgentRecord.shape);
/** Registration fields a re-registration replaces (agent_id is the key; version is renamed). */
const REGISTRATION_FIELDS = [
  'agent_type',
  'categories',
  'capabilities',
  'max_concurrency',
  'avg_step_duration',
  'agent_version',
] as const;
const SNAPSHOT_FIELDS = Object.keys(AgentSnapshot.shape).filter((field) => field !== 'version');

type Item = Record<string, unknown>;

export class AgentRepository {
  readonly #db: DocumentSender;
  readonly #table: string;

  constructor(db: DocumentSender, tableName: string) {
    this.#db = db;
    this.#table = tableName;
  }

  /** All agents, by agent_id. */
  async list(): Promise<AgentRecord[]> {
    return (await this.#listItems()).map(toRecord);
  }

  /** All agents as triage and the planner see them. */
  async listSnapshots(): Promise<AgentSnapshotInput[]> {
    return (await this.#listItems()).map(toSnapshot);
  }

  /** @throws NotFoundError */
  async get(agentId: string): Promise<AgentRecord> {
    return toRecord(await this.#getItem(agentId));
  }

  /**
   * Creates the agent, or replaces the registration fields of an existing one
   * (keeping its live state: status, circuit, load, heartbeat).
   * @throws ConflictError('CONCURRENT_UPDATE') when another write wins the race.
   */
  async register(
    registration: AgentRegistration,
    now: string,
  ): Promise<{ record: AgentRecord; created: boolean }> {
    const fields = registrationFields(registration);
    const item: Item = {
      ...keys.agent(registration.agent_id),
      [GSI1.partitionKey]: GSI1_PARTITIONS.agents,
      [GSI1.sortKey]: registration.agent_id,
      entity: 'AGENT',
      agent_id: registration.agent_id,
      ...fields,
      status: 'HEALTHY',
      circuit_state: 'CLOSED',
      current_load: 0,
      registered_at: now,
      updated_at: now,
      last_heartbeat_at: null,
      version: 1,
    };
    try {
      await this.#db.send(
        new PutCommand({
          TableName: this.#table,
          Item: item,
          ConditionExpression: 'attribute_not_exists(PK)',
        }),
      );
      return { record: toRecord(item), created: true };
    } catch (error) {
      if (!isConditionalCheckFailed(error)) throw asThrottled(error);
    }
    const current = toRecord(await this.#getItem(registration.agent_id));
    const set = REGISTRATION_FIELDS.filter((f) => fields[f] !== undefined);
    const remove = REGISTRATION_FIELDS.filter((f) => fields[f] === undefined);
    const updated = await this.#conditionalUpdate(registration.agent_id, {
      UpdateExpression: [
        `SET ${[...set.map((f) => `#${f} = :${f}`), '#updated_at = :now', '#version = #version + :one'].join(', ')}`,
        remove.length ? `REMOVE ${remove.map((f) => `#${f}`).join(', ')}` : '',
      ].join(' '),
      ConditionExpression: '#version = :expected',
      ExpressionAttributeNames: Object.fromEntries(
        [...REGISTRATION_FIELDS, 'updated_at', 'version'].map((f) => [`#${f}`, f]),
      ),
      ExpressionAttributeValues: {
        ...Object.fromEntries(set.map((f) => [`:${f}`, fields[f]])),
        ':now': now,
        ':one': 1,
        ':expected': current.version,
      },
    });
    return { record: updated, created: false };
  }

  /** @throws NotFoundError */
  async deregister(agentId: string): Promise<void> {
    try {
      await this.#db.send(
        new DeleteCommand({
          TableName: this.#table,
          Key: keys.agent(agentId),
          ConditionExpression: 'attribute_exists(PK)',
        }),
      );
    } catch (error) {
      if (isConditionalCheckFailed(error)) throw new NotFoundError(`agent ${agentId} is not registered`);
      throw asThrottled(error);
    }
  }

  /**
   * Records a heartbeat: status (HEALTHY unless the agent says otherwise), load and
   * time. Conditional on the version read here and, when given, the one the caller read.
   * @throws NotFoundError, ConflictError('CONCURRENT_UPDATE')
   */
  async heartbeat(agentId: string, heartbeat: HeartbeatRequest, now: string): Promise<AgentRecord> {
    const current = toRecord(await this.#getItem(agentId));
    const expected = heartbeat.expected_version;
    return this.#conditionalUpdate(agentId, {
      UpdateExpression:
        'SET #status = :status, #current_load = :load, #last_heartbeat_at = :now, #updated_at = :now, #version = #version + :one',
      ConditionExpression: `#version = :read_version${expected === undefined ? '' : ' AND #version = :expected_version'}`,
      ExpressionAttributeNames: {
        '#status': 'status',
        '#current_load': 'current_load',
        '#last_heartbeat_at': 'last_heartbeat_at',
        '#updated_at': 'updated_at',
        '#version': 'version',
      },
      ExpressionAttributeValues: {
        ':status': heartbeat.status ?? 'HEALTHY',
        ':load': heartbeat.current_load ?? current.current_load,
        ':now': now,
        ':one': 1,
        ':read_version': current.version,
        ...(expected === undefined ? {} : { ':expected_version': expected }),
      },
    });
  }

  async #getItem(agentId: string): Promise<Item> {
    const { Item } = await this.#db
      .send(new GetCommand({ TableName: this.#table, Key: keys.agent(agentId), ConsistentRead: true }))
      .catch((error: unknown) => Promise.reject(asThrottled(error)));
    if (!Item) throw new NotFoundError(`agent ${agentId} is not registered`);
    return Item;
  }

  async #listItems(): Promise<Item[]> {
    const items: Item[] = [];
    let cursor: Record<string, unknown> | undefined;
    do {
      const page = await this.#db
        .send(
          new QueryCommand({
            TableName: this.#table,
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

  async #conditionalUpdate(
    agentId: string,
    update: Pick<
      ConstructorParameters<typeof UpdateCommand>[0],
      'UpdateExpression' | 'ConditionExpression' | 'ExpressionAttributeNames' | 'ExpressionAttributeValues'
    >,
  ): Promise<AgentRecord> {
    try {
      const { Attributes } = await this.#db.send(
        new UpdateCommand({
          TableName: this.#table,
          Key: keys.agent(agentId),
          ReturnValues: 'ALL_NEW',
          ...update,
        }),
      );
      return toRecord(Attributes ?? {});
    } catch (error) {
      if (isConditionalCheckFailed(error))
        throw new ConflictError(
          'CONCURRENT_UPDATE',
          `agent ${agentId} changed since it was read; read it again and retry`,
          [{ agent_id: agentId }],
        );
      throw asThrottled(error);
    }
  }
}

function registrationFields(
  registration: AgentRegistration,
): Record<(typeof REGISTRATION_FIELDS)[number], unknown> {
  return {
    agent_type: registration.agent_type,
    categories: registration.categories,
    capabilities: registration.capabilities,
    max_concurrency: registration.max_concurrency,
    avg_step_duration: registration.avg_step_duration,
    agent_version: registration.version,
  };
}

function pick(item: Item, fields: readonly string[]): Item {
  return Object.fromEntries(fields.filter((f) => item[f] !== undefined).map((f) => [f, item[f]]));
}

/** Parsing on the way out means a malformed item is a 500, never a bad answer. */
function toRecord(item: Item): AgentRecord {
  return AgentRecord.parse(pick(item, RECORD_FIELDS));
}

function toSnapshot(item: Item): AgentSnapshotInput {
  const snapshot = pick(item, SNAPSHOT_FIELDS);
  const version = typeof item.agent_version === 'string' ? { version: item.agent_version } : {};
  return AgentSnapshot.parse({ ...snapshot, ...version });
}
