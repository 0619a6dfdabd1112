/**
 * The agent registry in the single table (table-design.ts): one item per agent at
 * `AGENT#<id>` / `META`, listed through GSI1 partition `AGENTS`. Items hold the
 * AgentRecord fields plus keys; `version` is the optimistic-locking counter, so the
 * registration's own software version is stored as `agent_version`.
 *
 * Every change is conditional on the version the writer read: a concurrent writer
 * loses with ConflictError('CONCURRENT_UPDATE') and writes nothing.
 *
 * The circuit breaker (core/circuit-breaker.ts) lives on the same item as `circuit`, with
 * `circuit_state` as its flat copy for listings. It carries its own version
 * (`circuit.version`): the breaker is written on every failure and probe, and those writes
 * must neither conflict with heartbeats and re-registrations nor move the agent's `version`.
 * Writes that change both (the sweep marking an agent down, a heartbeat bringing it back)
 * are conditional on both versions.
 */
import { DeleteCommand, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import {
  type CircuitBreakerConfig,
  type CircuitBreakerState,
  closedCircuit,
  DEFAULT_CIRCUIT_CONFIG,
  probeAfterRecovery,
  tripCircuit,
} from '#core/circuit-breaker';
import { type DispatchAgent, SERVING } from '#core/health';
import {
  AgentRecord,
  type AgentRegistration,
  type AgentSnapshotInput,
  type HeartbeatRequest,
} from '#core/wire';
import { ConflictError, NotFoundError } from '#shared/errors';
import {
  type AgentItem,
  AgentSnapshotReader,
  circuitOf,
  listAgentItems,
  pick,
} from '#shared/repository/agent-snapshots';
import { asThrottled, type DocumentSender, isConditionalCheckFailed } from '#shared/repository/dynamo-errors';
import { GSI1, GSI1_PARTITIONS, keys } from '#shared/table-design';

export { MAX_AGENTS } from '#shared/repository/agent-snapshots';

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

type Item = AgentItem;

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

  /**
   * All agents as triage and the planner see them. An OPEN circuit whose cooldown has passed
   * reads HALF_OPEN, so routing sends it the probe that can close it again.
   */
  async listSnapshots(
    now_ms = Date.now(),
    config: CircuitBreakerConfig = DEFAULT_CIRCUIT_CONFIG,
  ): Promise<AgentSnapshotInput[]> {
    return new AgentSnapshotReader(this.#db, this.#table).listSnapshots(now_ms, config);
  }

  /** All agents with their circuits, as the health sweep reads them. */
  async listWithCircuits(): Promise<{ record: AgentRecord; circuit: CircuitBreakerState }[]> {
    return (await this.#listItems()).map((item) => ({ record: toRecord(item), circuit: circuitOf(item) }));
  }

  /** One agent with its circuit, as the dispatcher judges it; undefined when not registered. */
  async dispatchView(agentId: string): Promise<DispatchAgent | undefined> {
    const item = await this.#getItem(agentId).catch((error: unknown) => {
      if (error instanceof NotFoundError) return undefined;
      throw error;
    });
    return item ? toDispatchAgent(item) : undefined;
  }

  /** Every agent with its circuit. */
  async dispatchViews(): Promise<DispatchAgent[]> {
    return (await this.#listItems()).map(toDispatchAgent);
  }

  /**
   * Writes `next` as the agent's circuit if the stored one is still at `read.version`.
   * @returns false when another writer moved the circuit first (read again and decide again),
   * or the agent is gone.
   */
  async saveCircuit(agentId: string, read: CircuitBreakerState, next: CircuitBreakerState): Promise<boolean> {
    try {
      await this.#db.send(
        new UpdateCommand({
          TableName: this.#table,
          Key: keys.agent(agentId),
          UpdateExpression: 'SET #circuit = :next, #circuit_state = :state',
          ConditionExpression: `attribute_exists(PK) AND ${circuitCondition(read)}`,
          ExpressionAttributeNames: {
            '#circuit': 'circuit',
            '#circuit_state': 'circuit_state',
            '#cv': 'version',
          },
          ExpressionAttributeValues: { ':next': next, ':state': next.state, ':read_circuit': read.version },
        }),
      );
      return true;
    } catch (error) {
      if (isConditionalCheckFailed(error)) return false;
      throw asThrottled(error);
    }
  }

  /**
   * Reads the circuit, applies `change`, and writes the result when it moved; retried on a
   * concurrent change, up to `tries` times.
   * @returns the circuit as written (or as read, when `change` left it alone), or undefined
   * when the agent is not registered or every try lost a race.
   * @example
   * await agents.updateCircuit('net-1', (c) => recordFailure(c, Date.now(), config));
   */
  async updateCircuit(
    agentId: string,
    change: (circuit: CircuitBreakerState) => CircuitBreakerState,
    tries = 5,
  ): Promise<CircuitBreakerState | undefined> {
    for (let attempt = 0; attempt < tries; attempt++) {
      const agent = await this.dispatchView(agentId);
      if (!agent) return undefined;
      const read = agent.circuit ?? closedCircuit();
      const next = change(read);
      if (next.version === read.version) return read;
      if (await this.saveCircuit(agentId, read, next)) return next;
    }
    return undefined;
  }

  /**
   * The sweep's verdict: marks a serving agent UNHEALTHY and opens its circuit, if neither
   * its record nor its circuit changed since `read` (a heartbeat that raced the sweep wins).
   * @returns false when the agent changed or is gone, so nothing was written.
   */
  async markUnhealthy(
    read: AgentRecord,
    circuit: CircuitBreakerState | undefined,
    now: string,
  ): Promise<boolean> {
    const before = circuit ?? closedCircuit();
    const tripped = tripCircuit(before, Date.parse(now));
    try {
      await this.#db.send(
        new UpdateCommand({
          TableName: this.#table,
          Key: keys.agent(read.agent_id),
          UpdateExpression:
            'SET #status = :unhealthy, #circuit = :circuit, #circuit_state = :state, #updated_at = :now, #version = #version + :one',
          ConditionExpression: `#version = :read_version AND ${circuitCondition(before)}`,
          ExpressionAttributeNames: {
            '#status': 'status',
            '#circuit': 'circuit',
            '#circuit_state': 'circuit_state',
            '#updated_at': 'updated_at',
            '#version': 'version',
            '#cv': 'version',
          },
          ExpressionAttributeValues: {
            ':unhealthy': 'UNHEALTHY',
            ':circuit': tripped,
            ':state': tripped.state,
            ':now': now,
            ':one': 1,
            ':read_version': read.version,
            ':read_circuit': before.version,
          },
        }),
      );
      return true;
    } catch (error) {
      if (isConditionalCheckFailed(error)) return false;
      throw asThrottled(error);
    }
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
    const item = await this.#getItem(agentId);
    const current = toRecord(item);
    const expected = heartbeat.expected_version;
    const status = heartbeat.status ?? 'HEALTHY';
    // Back from UNHEALTHY or OFFLINE: the circuit half-opens, so traffic returns probe by probe.
    const circuit = circuitOf(item);
    const recovered = !SERVING.has(current.status) && SERVING.has(status);
    const probing = recovered ? probeAfterRecovery(circuit) : circuit;
    const moveCircuit = probing.version !== circuit.version;
    return this.#conditionalUpdate(agentId, {
      UpdateExpression: `SET #status = :status, #current_load = :load, #last_heartbeat_at = :now, #updated_at = :now, #version = #version + :one${moveCircuit ? ', #circuit = :circuit, #circuit_state = :circuit_state' : ''}`,
      ConditionExpression: `#version = :read_version${expected === undefined ? '' : ' AND #version = :expected_version'}${moveCircuit ? ` AND ${circuitCondition(circuit)}` : ''}`,
      ExpressionAttributeNames: {
        '#status': 'status',
        '#current_load': 'current_load',
        '#last_heartbeat_at': 'last_heartbeat_at',
        '#updated_at': 'updated_at',
        '#version': 'version',
        ...(moveCircuit
          ? { '#circuit': 'circuit', '#circuit_state': 'circuit_state', '#cv': 'version' }
          : {}),
      },
      ExpressionAttributeValues: {
        ':status': status,
        ':load': heartbeat.current_load ?? current.current_load,
        ':now': now,
        ':one': 1,
        ':read_version': current.version,
        ...(expected === undefined ? {} : { ':expected_version': expected }),
        ...(moveCircuit
          ? { ':circuit': probing, ':circuit_state': probing.state, ':read_circuit': circuit.version }
          : {}),
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

  #listItems(): Promise<Item[]> {
    return listAgentItems(this.#db, this.#table);
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

/** Parsing on the way out means a malformed item is a 500, never a bad answer. */
function toRecord(item: Item): AgentRecord {
  return AgentRecord.parse(pick(item, RECORD_FIELDS));
}

function toDispatchAgent(item: Item): DispatchAgent {
  const record = toRecord(item);
  return {
    agent_id: record.agent_id,
    agent_type: record.agent_type,
    categories: record.categories,
    capabilities: record.capabilities,
    status: record.status,
    circuit: circuitOf(item),
    current_load: record.current_load,
    max_concurrency: record.max_concurrency,
  };
}

/**
 * The condition that the stored circuit is still the one read. A never-written circuit is
 * version 0, which is also what an item without `circuit` reads as. Uses `#circuit`, `#cv`
 * and `:read_circuit`.
 */
function circuitCondition(read: CircuitBreakerState): string {
  return read.version === 0
    ? '(attribute_not_exists(#circuit) OR #circuit.#cv = :read_circuit)'
    : '#circuit.#cv = :read_circuit';
}
