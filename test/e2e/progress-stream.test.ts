/**
 * The progress stream (contract C9) end to end: WebSocket clients (the `ws` package) on the
 * target's `WebSocketUrl`, plans submitted through POST workflows and run by the reference
 * agents (C8), and the stored events read back from the table to compare. Every id is unique
 * to this run. Waits are bounded polls with a deadline; nothing asserts on timing.
 */
import { randomUUID } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import WebSocket from 'ws';
import { DomainEvent, SocketReply } from '#core/wire';
import { keys } from '#shared/table-design';
import { type PlanStep, planStep, submitPlan } from './plans';
import { BOOT_TIMEOUT_MS, readOutputsFile, resolveTarget, type Target } from './target';

/**
 * A target named by E2E_OUTPUTS whose outputs lack WebSocketUrl (synthesized with
 * `-c websocket=false`, as on a LocalStack plan without API Gateway v2) has no stream to
 * follow: the suite then runs one test saying so, in its title, instead of the journeys.
 * The offline runtime this suite boots otherwise always has one.
 */
const OUTPUTS_FILE = process.env.E2E_OUTPUTS;
const SOCKETLESS = OUTPUTS_FILE ? readOutputsFile(OUTPUTS_FILE).WebSocketUrl === undefined : false;

const RUN = `ps-e2e-${randomUUID().slice(0, 8)}`;
/** Longest any one wait here may take; each test's own timeout is above it. */
const SETTLE_MS = 90_000;
const POLL_MS = 100;

let target: Target;
let documents: DynamoDBDocumentClient;
let operator: string;
const sockets: SocketClient[] = [];

const step = planStep;

/** `count` steps, each depending on the one before. */
function chain(count: number, simulate: Record<string, unknown> = { outcome: 'succeed' }): PlanStep[] {
  return Array.from({ length: count }, (_, i) =>
    step(`s${i + 1}`, { depends_on: i === 0 ? [] : [`s${i}`], simulate }),
  );
}

const submit = (steps: PlanStep[]) => submitPlan(target, operator, RUN, steps);

async function until<T>(what: string, probe: () => Promise<T | undefined> | T | undefined): Promise<T> {
  const deadline = Date.now() + SETTLE_MS;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what} after ${SETTLE_MS} ms`);
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

/** A test client: every frame it got, parsed, in arrival order. */
class SocketClient {
  readonly frames: unknown[] = [];
  constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => this.frames.push(JSON.parse(String(data))));
  }

  /** Domain events of one workflow, ordered by seq with duplicates dropped (the C9 client rule). */
  events(workflowId: string): DomainEvent[] {
    const bySeq = new Map<number, DomainEvent>();
    for (const frame of this.frames) {
      const parsed = DomainEvent.safeParse(frame);
      if (parsed.success && parsed.data.workflow_id === workflowId) bySeq.set(parsed.data.seq, parsed.data);
    }
    return [...bySeq.values()].sort((a, b) => a.seq - b.seq);
  }

  replies(): SocketReply[] {
    return this.frames.flatMap((frame) => {
      const parsed = SocketReply.safeParse(frame);
      return parsed.success ? [parsed.data] : [];
    });
  }

  /** Sends a message and waits for the next reply (not a domain event) after it. */
  async ask(message: Record<string, unknown>): Promise<SocketReply> {
    const before = this.replies().length;
    this.ws.send(JSON.stringify(message));
    return until(`an answer to ${JSON.stringify(message)}`, () => this.replies()[before]);
  }

  async close(): Promise<void> {
    if (this.ws.readyState === WebSocket.CLOSED) return;
    await new Promise<void>((resolve) => {
      this.ws.once('close', () => resolve());
      this.ws.close();
    });
  }
}

function socketUrl(token?: string): string {
  const base = target.outputs.WebSocketUrl;
  if (!base) throw new Error('the target has no WebSocketUrl output (synthesized with -c websocket=false?)');
  return token === undefined ? base : `${base}?token=${encodeURIComponent(token)}`;
}

async function connect(role: 'viewer' | 'operator' | 'admin' = 'viewer'): Promise<SocketClient> {
  const ws = new WebSocket(socketUrl(await target.tokenFor(role, `${RUN}-${role}`)));
  const client = new SocketClient(ws);
  sockets.push(client);
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  return client;
}

/** The HTTP status a refused upgrade answered with. */
async function refusal(url: string): Promise<number> {
  const ws = new WebSocket(url);
  return new Promise<number>((resolve, reject) => {
    ws.once('unexpected-response', (_request, response) => {
      resolve(response.statusCode ?? 0);
      ws.terminate();
    });
    ws.once('open', () => {
      ws.close();
      reject(new Error('the connection was accepted'));
    });
    ws.once('error', () => {});
  });
}

/** The events the table holds for a workflow, oldest first. */
async function storedEvents(workflowId: string): Promise<DomainEvent[]> {
  const { Items = [] } = await documents.send(
    new QueryCommand({
      TableName: target.outputs.TableName,
      KeyConditionExpression: 'PK = :pk AND begins_with(SK, :evt)',
      ExpressionAttributeValues: { ':pk': keys.workflow(workflowId).PK, ':evt': 'EVT#' },
      ConsistentRead: true,
    }),
  );
  return Items.map((item) => DomainEvent.parse(item.event));
}

const completed = (client: SocketClient, workflowId: string) => () =>
  client.events(workflowId).some((event) => event.type === 'workflow.completed') ? true : undefined;

/** The suite proper, for a target with a WebSocket API. */
const streamSuite = (): void => {
  beforeAll(async () => {
    target = await resolveTarget(process.env, { referenceAgents: true });
    documents = DynamoDBDocumentClient.from(
      new DynamoDBClient({
        endpoint: target.aws.endpoint,
        region: target.aws.region,
        credentials: target.aws.credentials,
      }),
    );
    operator = await target.tokenFor('operator', `${RUN}-operator`);
  }, BOOT_TIMEOUT_MS);

  afterAll(async () => {
    await Promise.all(sockets.map((socket) => socket.close()));
    documents?.destroy();
    await target?.stop();
  }, 60_000);

  it(
    'streams every transition of a 10-step workflow live, with contiguous seq, ending in workflow.completed',
    async () => {
      // Prepare: a `*` subscription before the workflow exists, so nothing can be replayed.
      const client = await connect('operator');
      expect(await client.ask({ action: 'subscribe', workflow_id: '*' })).toEqual({
        type: 'subscribed',
        workflow_id: '*',
        replayed: 0,
      });

      // Act
      const accepted = await submit(chain(10));
      await until('workflow.completed on the socket', completed(client, accepted.workflow_id));

      // Assess
      const received = client.events(accepted.workflow_id);
      expect(received.map((event) => event.seq)).toEqual(received.map((_, i) => i + 1));
      expect(received).toEqual(await storedEvents(accepted.workflow_id));
      expect(received[0]?.type).toBe('workflow.started');
      expect(received.at(-1)).toMatchObject({
        type: 'workflow.completed',
        status: 'SUCCEEDED',
        completion_percentage: 100,
      });
      const succeeded = received.filter((event) => event.type === 'step.succeeded');
      expect(succeeded.map((event) => event.step_id)).toEqual(chain(10).map((s) => s.step_id));
    },
    SETTLE_MS + 10_000,
  );

  it(
    'gives a client that drops mid-run the complete sequence when it resubscribes with since_seq',
    async () => {
      // Prepare
      const first = await connect();
      const accepted = await submit(chain(6, { outcome: 'succeed', delay_ms: 300 }));
      await first.ask({ action: 'subscribe', workflow_id: accepted.workflow_id, since_seq: 0 });
      await until('a few events', () => (first.events(accepted.workflow_id).length >= 3 ? true : undefined));

      // Act: drop, let the run go on, come back with the last seq held.
      await first.close();
      const held = first.events(accepted.workflow_id);
      const lastSeq = held.at(-1)?.seq ?? 0;
      await until('more events while away', async () =>
        (await storedEvents(accepted.workflow_id)).length > lastSeq + 1 ? true : undefined,
      );
      const second = await connect();
      const answer = await second.ask({
        action: 'subscribe',
        workflow_id: accepted.workflow_id,
        since_seq: lastSeq,
      });
      await until('workflow.completed after reconnecting', completed(second, accepted.workflow_id));

      // Assess
      expect(answer).toMatchObject({ type: 'subscribed', workflow_id: accepted.workflow_id });
      expect(answer.type === 'subscribed' && answer.replayed).toBeGreaterThan(0);
      const merged = new Map<number, DomainEvent>();
      for (const event of [...held, ...second.events(accepted.workflow_id)]) merged.set(event.seq, event);
      const all = [...merged.values()].sort((a, b) => a.seq - b.seq);
      expect(all).toEqual(await storedEvents(accepted.workflow_id));
      expect(all.map((event) => event.seq)).toEqual(all.map((_, i) => i + 1));
      expect(all.at(-1)).toMatchObject({ type: 'workflow.completed', status: 'SUCCEEDED' });
      expect(second.events(accepted.workflow_id)[0]?.seq).toBe(lastSeq + 1);
    },
    SETTLE_MS + 10_000,
  );

  it('refuses a connection without a token or with a bad one', async () => {
    // Prepare
    const forged = `${await target.tokenFor('admin', `${RUN}-forger`)}x`;

    // Act
    const statuses = {
      none: await refusal(socketUrl()),
      empty: await refusal(socketUrl('')),
      garbage: await refusal(socketUrl('not-a-jwt')),
      forged: await refusal(socketUrl(forged)),
    };

    // Assess
    expect(statuses).toEqual({ none: 401, empty: 401, garbage: 401, forged: 401 });
  });

  it('lets a viewer subscribe, and answers anything but subscribe, unsubscribe and ping with an error frame', async () => {
    // Prepare
    const viewer = await connect('viewer');
    const accepted = await submit(chain(1));

    // Act
    const subscribed = await viewer.ask({
      action: 'subscribe',
      workflow_id: accepted.workflow_id,
      since_seq: 0,
    });
    const pong = await viewer.ask({ action: 'ping' });
    const cancel = await viewer.ask({ action: 'cancel', workflow_id: accepted.workflow_id });
    const notJson = await viewer.ask({ message: 'hello' });
    const malformed = await viewer.ask({ action: 'subscribe' });
    const missing = await viewer.ask({ action: 'subscribe', workflow_id: `${RUN}-no-such-workflow` });
    const unsubscribed = await viewer.ask({ action: 'unsubscribe', workflow_id: accepted.workflow_id });

    // Assess
    expect(subscribed).toMatchObject({ type: 'subscribed', workflow_id: accepted.workflow_id });
    expect(pong).toEqual({ type: 'pong' });
    expect(cancel).toMatchObject({ type: 'error', code: 'UNKNOWN_ACTION' });
    expect(notJson).toMatchObject({ type: 'error', code: 'UNKNOWN_ACTION' });
    expect(malformed).toMatchObject({ type: 'error', code: 'VALIDATION_FAILED' });
    expect(missing).toMatchObject({ type: 'error', code: 'NOT_FOUND' });
    expect(unsubscribed).toEqual({ type: 'unsubscribed', workflow_id: accepted.workflow_id });
  });

  it(
    'deletes a stale connection (its $disconnect lost) when the next broadcast gets 410 Gone',
    async () => {
      // Prepare: the items a connection leaves behind when API Gateway never calls $disconnect.
      const stale = `stale${randomUUID().slice(0, 8)}=`;
      const ttl = Math.floor(Date.now() / 1000) + 3600;
      const table = target.outputs.TableName;
      await documents.send(
        new PutCommand({
          TableName: table,
          Item: {
            ...keys.connection(stale),
            connection_id: stale,
            role: 'viewer',
            sub: `${RUN}-gone`,
            connected_at: new Date().toISOString(),
            subscriptions: new Set(['*']),
            ttl,
          },
        }),
      );
      await documents.send(
        new PutCommand({
          TableName: table,
          Item: { ...keys.subscription('*', stale), connection_id: stale, workflow_id: '*', ttl },
        }),
      );

      // Act
      await submit(chain(1));
      const gone = await until('the stale connection to be deleted', async () => {
        const [meta, subscription] = await Promise.all([
          documents.send(
            new GetCommand({ TableName: table, Key: keys.connection(stale), ConsistentRead: true }),
          ),
          documents.send(
            new GetCommand({ TableName: table, Key: keys.subscription('*', stale), ConsistentRead: true }),
          ),
        ]);
        return meta.Item === undefined && subscription.Item === undefined ? true : undefined;
      });

      // Assess
      expect(gone).toBe(true);
    },
    SETTLE_MS + 10_000,
  );

  it(
    'streams a rollback: rollback.started, then compensating and compensated for each step in reverse completion order',
    async () => {
      // Prepare
      const client = await connect('viewer');
      const steps = [
        step('a', { simulate: { outcome: 'succeed' } }),
        step('b', { depends_on: ['a'], simulate: { outcome: 'succeed' } }),
        step('c', { depends_on: ['b'], simulate: { outcome: 'succeed' } }),
        step('d', { depends_on: ['c'], simulate: { outcome: 'fail' } }),
      ];

      // Act
      const accepted = await submit(steps);
      await client.ask({ action: 'subscribe', workflow_id: accepted.workflow_id, since_seq: 0 });
      await until('workflow.completed after the rollback', completed(client, accepted.workflow_id));

      // Assess
      const received = client.events(accepted.workflow_id);
      expect(received.map((event) => event.seq)).toEqual(received.map((_, i) => i + 1));
      // Every step that started is undone, the failed one too (its agent may have changed something).
      const completionOrder = received
        .filter((event) => event.type === 'step.succeeded' || event.type === 'step.failed')
        .map((event) => event.step_id);
      expect(completionOrder).toEqual(['a', 'b', 'c', 'd']);
      const started = received.findIndex((event) => event.type === 'rollback.started');
      expect(started).toBeGreaterThan(received.findIndex((event) => event.type === 'step.failed'));
      const rollback = received
        .slice(started + 1)
        .filter((event) => event.type === 'step.compensating' || event.type === 'step.compensated')
        .map((event) => `${event.type}:${event.step_id}`);
      expect(rollback).toEqual(
        [...completionOrder].reverse().flatMap((id) => [`step.compensating:${id}`, `step.compensated:${id}`]),
      );
      expect(received.at(-1)).toMatchObject({ type: 'workflow.completed', status: 'ROLLED_BACK' });
    },
    SETTLE_MS + 10_000,
  );
};

/** What runs instead on a target without a WebSocket API: no hidden skip, the reason in the title. */
const socketlessSuite = (): void => {
  it('finds no WebSocketUrl in the outputs file, so progress is followed over REST only', () => {
    // Act
    const outputs = readOutputsFile(OUTPUTS_FILE ?? '');

    // Assess
    expect(outputs.WebSocketUrl).toBeUndefined();
    expect(outputs.RestApiUrl).toEqual(expect.any(String));
  });
};

if (SOCKETLESS)
  describe(
    `progress stream (skipped: target has no WebSocketUrl (-c websocket=false) in ${OUTPUTS_FILE})`,
    socketlessSuite,
  );
else describe('progress stream', streamSuite);
