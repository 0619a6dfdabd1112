/**
 * GET dlq and POST dlq/redrive over the real chain, against the offline SQS: each agent
 * queue's dead-letter queue (filled the way SQS fills it, by receiving a message more than
 * maxReceiveCount times) and the compensation queue.
 */
import { GetQueueAttributesCommand, ReceiveMessageCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { CATEGORIES, DeadLetterList, RedriveResult } from '#core/wire';
import { type Api, errorCode, failSend, loadApi, sample, tokenFor } from './harness';

let api: Api;

beforeAll(async () => {
  api = await loadApi();
});

afterEach(() => {
  jest.restoreAllMocks();
});

afterAll(async () => {
  await api.close();
});

const refs = (category: string) => {
  const found = api.runtime.agentQueues.get(category);
  if (!found) throw new Error(`no agent queue ${category}`);
  return found;
};

async function visible(queueUrl: string): Promise<number> {
  const { Attributes } = await api.runtime.sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['ApproximateNumberOfMessages'] }),
  );
  return Number(Attributes?.ApproximateNumberOfMessages);
}

/** Sends `bodies` to the category's agent queue and receives each past maxReceiveCount (5): SQS dead-letters them. */
async function deadLetter(category: string, bodies: readonly string[]): Promise<void> {
  const { queue, dlq } = refs(category);
  for (const body of bodies)
    await api.runtime.sqs.send(new SendMessageCommand({ QueueUrl: queue.url, MessageBody: body }));
  const before = await visible(dlq.url);
  for (let receive = 0; receive < 10 && (await visible(dlq.url)) < before + bodies.length; receive++)
    await api.runtime.sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queue.url, MaxNumberOfMessages: 10, VisibilityTimeout: 0 }),
    );
}

async function list(query?: Record<string, string>, role: 'operator' | 'admin' = 'operator') {
  const { token } = await tokenFor(role);
  return api.call({ operationId: 'listDeadLetters', token, query });
}

async function redrive(body?: unknown) {
  const { token } = await tokenFor('admin');
  return api.call({ operationId: 'redriveDeadLetters', token, body });
}

describe('GET dlq', () => {
  it('lists every agent queue, by category, and the compensation queue, which alone is not redrivable', async () => {
    // Act
    const answer = await list();

    // Assess
    expect(answer.status).toBe(200);
    const { queues } = DeadLetterList.parse(answer.body);
    expect(queues.map((q) => q.queue)).toEqual([...[...CATEGORIES].sort(), 'compensation']);
    expect(queues.filter((q) => !q.redrivable).map((q) => q.queue)).toEqual(['compensation']);
    expect(queues.find((q) => q.queue === 'network')?.dlq_url).toBe(refs('network').dlq.url);
  });

  it('peeks at dead letters without consuming them: bodies, send times and receive counts', async () => {
    // Prepare
    const bodies = ['{"task":"one"}', '{"task":"two"}', '{"task":"three"}'];
    await deadLetter('deployment', bodies);

    // Act
    const first = await list({ queue: 'deployment' });
    const second = await list({ queue: 'deployment', limit: '2' });

    // Assess
    expect(first.status).toBe(200);
    const [queue] = DeadLetterList.parse(first.body).queues;
    expect(queue).toMatchObject({ queue: 'deployment', approximate_count: 3, redrivable: true });
    expect(queue?.messages.map((m) => m.body).sort()).toEqual([...bodies].sort());
    for (const message of queue?.messages ?? []) {
      expect(message.receive_count).toBeGreaterThanOrEqual(5);
      expect(Date.parse(message.sent_at ?? '')).toBeGreaterThan(Date.now() - 60_000);
    }
    const [again] = DeadLetterList.parse(second.body).queues;
    expect(again?.approximate_count).toBe(3);
    expect(again?.messages).toHaveLength(2);
    expect(await visible(refs('deployment').dlq.url)).toBe(3);
  });

  it('leaves out the messages past 4 MiB of bodies, and still counts them', async () => {
    // Prepare: 20 messages of 220 KiB in two queues, 4.3 MiB in all.
    const big = (k: number) => JSON.stringify({ k, pad: 'x'.repeat(220 * 1024) });
    await deadLetter(
      'configuration',
      Array.from({ length: 10 }, (_, k) => big(k)),
    );
    await deadLetter(
      'dependency',
      Array.from({ length: 10 }, (_, k) => big(10 + k)),
    );

    // Act
    const answer = await list();

    // Assess
    const { queues } = DeadLetterList.parse(answer.body);
    const peeked = queues.flatMap((q) => q.messages);
    const bytes = peeked.reduce((sum, m) => sum + Buffer.byteLength(JSON.stringify(m.body)), 0);
    expect(bytes).toBeLessThanOrEqual(4 * 1024 * 1024);
    expect(peeked.length).toBeGreaterThanOrEqual(18);
    expect(peeked.length).toBeLessThan(20);
    expect(queues.find((q) => q.queue === 'configuration')?.approximate_count).toBe(10);
    expect(queues.find((q) => q.queue === 'dependency')?.approximate_count).toBe(10);
  });

  it('rejects an unknown queue with 404 NOT_FOUND', async () => {
    // Act
    const answer = await list({ queue: 'no-such-queue' });

    // Assess
    expect(answer.status).toBe(404);
    expect(errorCode(answer)).toBe('NOT_FOUND');
  });

  it.each([['0'], ['11'], ['ten']])('rejects limit=%s with 400 VALIDATION_FAILED', async (limit) => {
    // Act
    const answer = await list({ limit });

    // Assess
    expect(answer.status).toBe(400);
    expect(answer.body).toMatchObject({
      error: { code: 'VALIDATION_FAILED', details: [{ path: 'query.limit' }] },
    });
  });
});

describe('POST dlq/redrive', () => {
  it("moves a queue's dead letters back to the agent queue they came from", async () => {
    // Prepare
    await deadLetter('deployment', ['{"task":"sample"}']);
    await deadLetter('capacity', ['{"task":"redrive-me"}']);
    const { queue, dlq } = refs('capacity');

    // Act
    const answer = await redrive(sample('redrive-request.json').json);
    const named = await redrive({ queue: 'capacity' });

    // Assess
    expect(answer.status).toBe(200);
    expect(RedriveResult.parse(answer.body).moves.map((m) => m.queue)).toEqual(['deployment']);
    expect(named.status).toBe(200);
    const [move] = RedriveResult.parse(named.body).moves;
    expect(move).toMatchObject({ queue: 'capacity', approximate_count: 1, task_handle: expect.any(String) });
    const deadline = Date.now() + 5_000;
    const emptied = async () => (await visible(dlq.url)) + (await visible(refs('deployment').dlq.url)) === 0;
    while (!(await emptied()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(await visible(dlq.url)).toBe(0);
    expect(await visible(refs('deployment').dlq.url)).toBe(0);
    expect(await visible(queue.url)).toBe(1);
  });

  it('redrives every agent queue that holds dead letters when no queue is named, and skips empty ones', async () => {
    // Prepare
    await deadLetter('security', ['{"task":"a"}']);
    await deadLetter('data', ['{"task":"b"}', '{"task":"c"}']);

    // Act
    const answer = await redrive();

    // Assess
    expect(answer.status).toBe(200);
    const moves = RedriveResult.parse(answer.body).moves;
    expect(moves.map((m) => [m.queue, m.approximate_count])).toEqual(
      expect.arrayContaining([
        ['data', 2],
        ['security', 1],
      ]),
    );
    expect(moves.every((m) => m.approximate_count > 0)).toBe(true);
    expect(moves.map((m) => m.queue)).not.toContain('network');
    expect(moves.map((m) => m.queue)).not.toContain('compensation');
  });

  it('reports the move already running on a queue instead of starting another', async () => {
    // Prepare: SQS runs one move per queue at a time; the local one finishes at once, so fake one in flight.
    jest.spyOn(api.clients.sqs, 'send').mockImplementationOnce(async () => ({
      Results: [{ Status: 'RUNNING', TaskHandle: 'handle-in-flight', ApproximateNumberOfMessagesToMove: 4 }],
    }));

    // Act
    const answer = await redrive({ queue: 'network' });

    // Assess
    expect(answer.status).toBe(200);
    expect(RedriveResult.parse(answer.body).moves).toEqual([
      { queue: 'network', task_handle: 'handle-in-flight', approximate_count: 4 },
    ]);
  });

  it('answers 429 THROTTLED when SQS throttles', async () => {
    // Prepare
    failSend(api.clients.sqs, 'RequestThrottled', true);

    // Act
    const listed = await list({ queue: 'network' });
    const redriven = await redrive({ queue: 'network' });

    // Assess
    expect([listed.status, redriven.status]).toEqual([429, 429]);
    expect(errorCode(listed)).toBe('THROTTLED');
  });

  it('refuses the compensation queue with 409 NOT_REDRIVABLE, and an unknown queue with 404', async () => {
    // Act
    const compensation = await redrive({ queue: 'compensation' });
    const unknown = await redrive({ queue: 'no-such-queue' });

    // Assess
    expect(compensation.status).toBe(409);
    expect(errorCode(compensation)).toBe('NOT_REDRIVABLE');
    expect(unknown.status).toBe(404);
  });

  it('is for admins only: an operator gets 403 FORBIDDEN', async () => {
    // Prepare
    const { token } = await tokenFor('operator');

    // Act
    const answer = await api.call({ operationId: 'redriveDeadLetters', token, body: {} });

    // Assess
    expect(answer.status).toBe(403);
  });
});
