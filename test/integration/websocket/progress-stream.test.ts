/**
 * The progress socket's routes, its broadcaster and the connection repository over DynamoDB
 * Local. PostToConnection stops at a recording fake: the e2e suite runs the real gateway.
 */
import { randomUUID } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { DomainEvent } from '#core/wire';
import {
  createBroadcaster,
  createSocketRoutes,
  type SendOutcome,
  type SocketRequest,
} from '#shared/progress-stream';
import {
  CONNECTION_TTL_SECONDS,
  ConnectionRepository,
  MAX_SUBSCRIPTIONS_PER_CONNECTION,
} from '#shared/repository/connections';
import { eventKey, WorkflowRunRepository } from '#shared/repository/workflow-run';
import { keys } from '#shared/table-design';

const TABLE = process.env.TABLE_NAME as string;
const documents = DynamoDBDocumentClient.from(new DynamoDBClient({}), {
  marshallOptions: { removeUndefinedValues: true },
});
const connections = new ConnectionRepository(documents, TABLE);
const runs = new WorkflowRunRepository(documents, TABLE);

/** A recording PostToConnection: connections in `gone` answer 410. */
function recorder(gone: Set<string> = new Set()) {
  const sent: { connectionId: string; frame: unknown }[] = [];
  const send = async (connectionId: string, frame: string): Promise<SendOutcome> => {
    if (gone.has(connectionId)) return 'gone';
    sent.push({ connectionId, frame: JSON.parse(frame) });
    return 'sent';
  };
  return { sent, send };
}

const id = (prefix: string) => `${prefix}-${randomUUID().slice(0, 8)}`;

function event(workflowId: string, seq: number, extra: Partial<DomainEvent> = {}): DomainEvent {
  return {
    type: seq === 1 ? 'workflow.started' : 'step.succeeded',
    workflow_id: workflowId,
    status: seq === 1 ? 'RUNNING' : 'SUCCEEDED',
    completion_percentage: 0,
    eta_completion: null,
    seq,
    at: new Date(Date.UTC(2026, 10, 24, 10, 0, seq)).toISOString(),
    ...extra,
  };
}

/** A workflow META and `count` stored events, as the workflow Lambda leaves them. */
async function storedWorkflow(count: number): Promise<string> {
  const workflowId = id('wf');
  await documents.send(
    new PutCommand({
      TableName: TABLE,
      Item: {
        ...keys.workflow(workflowId),
        workflow_id: workflowId,
        status: 'RUNNING',
        event_seq: count,
        created_at: new Date().toISOString(),
      },
    }),
  );
  for (let seq = 1; seq <= count; seq += 1)
    await documents.send(
      new PutCommand({
        TableName: TABLE,
        Item: { ...eventKey(workflowId, seq), event: event(workflowId, seq) },
      }),
    );
  return workflowId;
}

const request = (routeKey: string, connectionId: string, body?: unknown, role = 'viewer'): SocketRequest => ({
  requestContext: {
    routeKey,
    connectionId,
    authorizer: { role, sub: `${role}-1`, principalId: `${role}-1` },
  },
  body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
});

const replyOf = (response: { body?: string }) => JSON.parse(response.body ?? 'null');

describe('ConnectionRepository', () => {
  it('records a connection with its caller and a two-hour ttl', async () => {
    // Prepare
    const connectionId = id('c');
    const now = new Date('2026-11-24T10:00:00Z');

    // Act
    await connections.connect({ connectionId, role: 'viewer', sub: 'ops-1' }, now);
    const { Item } = await documents.send(
      new GetCommand({ TableName: TABLE, Key: keys.connection(connectionId) }),
    );

    // Assess
    expect(Item).toMatchObject({
      role: 'viewer',
      sub: 'ops-1',
      connected_at: now.toISOString(),
      ttl: now.getTime() / 1000 + CONNECTION_TTL_SECONDS,
    });
  });

  it('finds the subscribers of a workflow and of *, each once', async () => {
    // Prepare
    const [one, both, star, other] = [id('c'), id('c'), id('c'), id('c')];
    const workflowId = id('wf');
    for (const c of [one, both, star, other])
      await connections.connect({ connectionId: c, role: 'viewer', sub: 's' });
    await connections.subscribe(one, workflowId);
    await connections.subscribe(both, workflowId);
    await connections.subscribe(both, '*');
    await connections.subscribe(star, '*');
    await connections.subscribe(other, id('wf'));

    // Act
    const found = (await connections.subscribers(workflowId)).map((s) => s.connectionId);

    // Assess
    expect(found).toEqual(expect.arrayContaining([one, both, star]));
    expect(found).not.toContain(other);
    expect(new Set(found).size).toBe(found.length);
  });

  it('leaves out subscriptions whose ttl has passed', async () => {
    // Prepare
    const connectionId = id('c');
    const workflowId = id('wf');
    const then = new Date(Date.now() - 3 * 3600 * 1000);
    await connections.connect({ connectionId, role: 'viewer', sub: 's' }, then);
    await connections.subscribe(connectionId, workflowId, then);

    // Act
    const found = await connections.subscribers(workflowId);

    // Assess: other tests' `*` subscribers share the table, so only this connection is looked for.
    expect(found.map((s) => s.connectionId)).not.toContain(connectionId);
    expect(await connections.get(connectionId)).toBeUndefined();
  });

  it('rejects a subscription for a connection it does not know, and beyond the per-connection limit', async () => {
    // Prepare
    const connectionId = id('c');
    await connections.connect({ connectionId, role: 'viewer', sub: 's' });
    for (let i = 0; i < MAX_SUBSCRIPTIONS_PER_CONNECTION; i += 1)
      expect(await connections.subscribe(connectionId, `wf-limit-${i}`)).toBe('subscribed');

    // Act
    const unknown = await connections.subscribe(id('nobody'), id('wf'));
    const again = await connections.subscribe(connectionId, 'wf-limit-0');
    const tooMany = await connections.subscribe(connectionId, id('wf'));

    // Assess
    expect({ unknown, again, tooMany }).toEqual({
      unknown: 'no_connection',
      again: 'subscribed',
      tooMany: 'too_many',
    });
  });

  it('unsubscribes, also when the connection is already gone', async () => {
    // Prepare
    const connectionId = id('c');
    const workflowId = id('wf');
    await connections.connect({ connectionId, role: 'viewer', sub: 's' });
    await connections.subscribe(connectionId, workflowId);

    // Act
    await connections.unsubscribe(connectionId, workflowId);
    await connections.unsubscribe(id('nobody'), workflowId);

    // Assess
    expect((await connections.subscribers(workflowId)).map((s) => s.connectionId)).not.toContain(
      connectionId,
    );
    expect((await connections.get(connectionId))?.subscriptions).toEqual([]);
  });

  it('deletes a connection with every subscription it lists, and ones only the caller knows of', async () => {
    // Prepare
    const connectionId = id('c');
    const [a, b] = [id('wf'), id('wf')];
    const orphan = id('wf');
    await connections.connect({ connectionId, role: 'viewer', sub: 's' });
    await connections.subscribe(connectionId, a);
    await connections.subscribe(connectionId, b);
    await documents.send(
      new PutCommand({
        TableName: TABLE,
        Item: { ...keys.subscription(orphan, connectionId), connection_id: connectionId, ttl: 4102444800 },
      }),
    );

    // Act
    const removed = await connections.disconnect(connectionId, [orphan]);

    // Assess
    expect(removed).toBe(3);
    for (const workflowId of [a, b, orphan])
      expect((await connections.subscribers(workflowId)).map((s) => s.connectionId)).not.toContain(
        connectionId,
      );
    expect(await connections.get(connectionId)).toBeUndefined();
  });
});

describe('socket routes', () => {
  it('records the caller on $connect and forgets it on $disconnect', async () => {
    // Prepare
    const connectionId = id('c');
    const { send } = recorder();
    const route = createSocketRoutes({ connections, runs, send });

    // Act
    const connected = await route(request('$connect', connectionId, undefined, 'operator'));
    const stored = await connections.get(connectionId);
    const disconnected = await route(request('$disconnect', connectionId));

    // Assess
    expect(connected.statusCode).toBe(200);
    expect(stored).toMatchObject({ role: 'operator', sub: 'operator-1' });
    expect(disconnected.statusCode).toBe(200);
    expect(await connections.get(connectionId)).toBeUndefined();
  });

  it('refuses $connect without the authorizer context', async () => {
    const route = createSocketRoutes({ connections, runs, send: recorder().send });
    const response = await route({ requestContext: { routeKey: '$connect', connectionId: id('c') } });
    expect(response.statusCode).toBe(403);
  });

  it('replays the stored events after since_seq in order, before answering', async () => {
    // Prepare
    const workflowId = await storedWorkflow(7);
    const connectionId = id('c');
    const { sent, send } = recorder();
    const route = createSocketRoutes({ connections, runs, send });
    await route(request('$connect', connectionId));

    // Act
    const response = await route(
      request('subscribe', connectionId, { action: 'subscribe', workflow_id: workflowId, since_seq: 3 }),
    );

    // Assess
    expect(replyOf(response)).toEqual({ type: 'subscribed', workflow_id: workflowId, replayed: 4 });
    expect(sent.map((s) => (s.frame as DomainEvent).seq)).toEqual([4, 5, 6, 7]);
    expect(sent.every((s) => s.connectionId === connectionId)).toBe(true);
    expect((await connections.subscribers(workflowId)).map((s) => s.connectionId)).toContain(connectionId);
  });

  it('subscribes without replay when since_seq is left out', async () => {
    const workflowId = await storedWorkflow(2);
    const connectionId = id('c');
    const { sent, send } = recorder();
    const route = createSocketRoutes({ connections, runs, send });
    await route(request('$connect', connectionId));
    const response = await route(
      request('subscribe', connectionId, { action: 'subscribe', workflow_id: workflowId }),
    );
    expect(replyOf(response)).toEqual({ type: 'subscribed', workflow_id: workflowId, replayed: 0 });
    expect(sent).toEqual([]);
  });

  it('stops a replay and forgets the connection when it is gone', async () => {
    const workflowId = await storedWorkflow(3);
    const connectionId = id('c');
    const route = createSocketRoutes({ connections, runs, send: recorder(new Set([connectionId])).send });
    await route(request('$connect', connectionId));
    const response = await route(
      request('subscribe', connectionId, { action: 'subscribe', workflow_id: workflowId, since_seq: 0 }),
    );
    expect(response.statusCode).toBe(410);
    expect(await connections.get(connectionId)).toBeUndefined();
  });

  it.each([
    [
      'an unknown workflow',
      () => ({ action: 'subscribe', workflow_id: 'wf-never-stored' }),
      'NOT_FOUND',
      404,
    ],
    [
      'since_seq on *',
      () => ({ action: 'subscribe', workflow_id: '*', since_seq: 0 }),
      'VALIDATION_FAILED',
      400,
    ],
    ['a missing workflow_id', () => ({ action: 'subscribe' }), 'VALIDATION_FAILED', 400],
    ['an unknown field', () => ({ action: 'ping', extra: 1 }), 'VALIDATION_FAILED', 400],
    ['an unknown action', () => ({ action: 'cancel', workflow_id: 'wf-1' }), 'UNKNOWN_ACTION', 400],
    ['a message that is not JSON', () => 'hello', 'VALIDATION_FAILED', 400],
  ])('rejects %s with an error frame', async (_name, body, code, status) => {
    const connectionId = id('c');
    const route = createSocketRoutes({ connections, runs, send: recorder().send });
    await route(request('$connect', connectionId));
    const routeKey = typeof body() === 'string' ? '$default' : String((body() as { action?: string }).action);
    const response = await route(
      request(['subscribe', 'ping'].includes(routeKey) ? routeKey : '$default', connectionId, body()),
    );
    expect({ status: response.statusCode, reply: replyOf(response) }).toMatchObject({
      status,
      reply: { type: 'error', code },
    });
  });

  it('answers a subscribe on a connection it no longer knows with GONE', async () => {
    const route = createSocketRoutes({ connections, runs, send: recorder().send });
    const response = await route(request('subscribe', id('c'), { action: 'subscribe', workflow_id: '*' }));
    expect(replyOf(response)).toMatchObject({ type: 'error', code: 'GONE' });
  });

  it('answers ping with pong and unsubscribe with unsubscribed', async () => {
    const connectionId = id('c');
    const route = createSocketRoutes({ connections, runs, send: recorder().send });
    await route(request('$connect', connectionId));
    await route(request('subscribe', connectionId, { action: 'subscribe', workflow_id: '*' }));
    expect(replyOf(await route(request('ping', connectionId, { action: 'ping' })))).toEqual({ type: 'pong' });
    expect(
      replyOf(await route(request('unsubscribe', connectionId, { action: 'unsubscribe', workflow_id: '*' }))),
    ).toEqual({ type: 'unsubscribed', workflow_id: '*' });
    expect((await connections.subscribers('*')).map((s) => s.connectionId)).not.toContain(connectionId);
  });
});

describe('broadcaster', () => {
  it('sends an event to the workflow subscribers and *, and deletes those that are gone', async () => {
    // Prepare
    const workflowId = id('wf');
    const [live, star, stale] = [id('c'), id('c'), id('c')];
    for (const c of [live, star, stale])
      await connections.connect({ connectionId: c, role: 'viewer', sub: 's' });
    await connections.subscribe(live, workflowId);
    await connections.subscribe(star, '*');
    await connections.subscribe(stale, workflowId);
    const { sent, send } = recorder(new Set([stale]));
    const errors: string[] = [];
    const broadcast = createBroadcaster({ connections, send, onSendError: (c) => errors.push(c) });

    // Act
    const result = await broadcast(event(workflowId, 5));

    // Assess
    expect(
      sent
        .filter((s) => [live, star].includes(s.connectionId))
        .map((s) => s.connectionId)
        .sort(),
    ).toEqual([live, star].sort());
    expect(sent.find((s) => s.connectionId === live)?.frame).toEqual(event(workflowId, 5));
    expect(result.gone).toBe(1);
    expect(errors).toEqual([]);
    expect(await connections.get(stale)).toBeUndefined();
    expect((await connections.subscribers(workflowId)).map((s) => s.connectionId)).not.toContain(stale);
  });

  it('keeps sending to the others when one send fails', async () => {
    const workflowId = id('wf');
    const [bad, good] = [id('c'), id('c')];
    for (const c of [bad, good]) {
      await connections.connect({ connectionId: c, role: 'viewer', sub: 's' });
      await connections.subscribe(c, workflowId);
    }
    const delivered: string[] = [];
    const errors: string[] = [];
    const broadcast = createBroadcaster({
      connections,
      send: async (connectionId) => {
        if (connectionId === bad) throw new Error('throttled');
        delivered.push(connectionId);
        return 'sent';
      },
      onSendError: (connectionId) => errors.push(connectionId),
    });
    const result = await broadcast(event(workflowId, 2));
    // Other tests' `*` subscribers share the table: only these two are looked at.
    expect({
      delivered: delivered.filter((c) => c === bad || c === good),
      errors,
      failed: result.failed,
    }).toEqual({
      delivered: [good],
      errors: [bad],
      failed: 1,
    });
  });
});
