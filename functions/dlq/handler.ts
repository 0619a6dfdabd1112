/**
 * Dead letters: GET dlq counts and peeks at the messages of every agent queue's dead-letter
 * queue and of the compensation queue (manual intervention); POST dlq/redrive moves an agent
 * DLQ's messages back to its queue with an SQS message-move task. The compensation queue is
 * never redriven: its messages need a person, not another try.
 *
 * Peeking is a ReceiveMessage with VisibilityTimeout 0: the messages stay visible and in
 * place (each peek adds one to their receive count, which a DLQ has no limit on).
 */
import {
  GetQueueAttributesCommand,
  ListMessageMoveTasksCommand,
  ReceiveMessageCommand,
  StartMessageMoveTaskCommand,
} from '@aws-sdk/client-sqs';
import * as z from 'zod';
import type { DeadLetter, DeadLetterList, DeadLetterQueue, RedriveRequest, RedriveResult } from '#core/wire';
import { sqs } from '#shared/clients/sqs';
import { DeadLetterEnv, loadConfig } from '#shared/config';
import { ApiError, ConflictError, NotFoundError } from '#shared/errors';
import { httpHandler, httpRouter, routeById } from '#shared/http';
import { errorName } from '#shared/repository/dynamo-errors';
import type { DeadLetterQuery } from '#shared/routes';

const config = loadConfig(z.object(DeadLetterEnv));

/** The compensation dead-letter queue's name in GET dlq. */
export const COMPENSATION_QUEUE = 'compensation';

/**
 * Message bodies one answer carries at most, as JSON text: 11 queues of 10 messages of up to
 * 256 KiB would outgrow Lambda's 6 MB response. Messages past it are left out (they stay in the
 * queue; `approximate_count` still counts them).
 */
export const MAX_PEEKED_BODY_BYTES = 4 * 1024 * 1024;

interface DeadLetterSource {
  readonly queue: string;
  readonly url: string;
  readonly arn: string;
  readonly redrivable: boolean;
}

const SOURCES: readonly DeadLetterSource[] = [
  ...Object.entries(config.AGENT_DLQS)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([queue, { url, arn }]) => ({ queue, url, arn, redrivable: true })),
  {
    queue: COMPENSATION_QUEUE,
    url: config.COMPENSATION_DLQ_URL,
    arn: config.COMPENSATION_DLQ_ARN,
    redrivable: false,
  },
];

const THROTTLED = new Set(['RequestThrottled', 'ThrottlingException', 'OverLimit']);

/** 429 for SQS throttling, anything else unchanged. */
async function sqsCall<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (!THROTTLED.has(errorName(error) ?? '')) throw error;
    throw new ApiError(429, 'THROTTLED', 'SQS is busy; retry with backoff', undefined, {
      cause: error,
      headers: { 'retry-after': '1' },
    });
  }
}

/** The named queue, or every one; 404 for a name GET dlq does not list. */
function sourcesNamed(queue: string | undefined): readonly DeadLetterSource[] {
  if (queue === undefined) return SOURCES;
  const found = SOURCES.find((s) => s.queue === queue);
  if (!found)
    throw new NotFoundError(
      `no dead-letter queue ${queue}; the queues are ${SOURCES.map((s) => s.queue).join(', ')}`,
    );
  return [found];
}

async function visibleCount(source: DeadLetterSource): Promise<number> {
  const { Attributes } = await sqsCall(() =>
    sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: source.url,
        AttributeNames: ['ApproximateNumberOfMessages'],
      }),
    ),
  );
  return Number(Attributes?.ApproximateNumberOfMessages ?? 0);
}

async function peek(source: DeadLetterSource, limit: number): Promise<DeadLetterQueue> {
  const [count, received] = await Promise.all([
    visibleCount(source),
    sqsCall(() =>
      sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: source.url,
          MaxNumberOfMessages: limit,
          VisibilityTimeout: 0,
          WaitTimeSeconds: 0,
          MessageSystemAttributeNames: ['SentTimestamp', 'ApproximateReceiveCount'],
        }),
      ),
    ),
  ]);
  const messages: DeadLetter[] = (received.Messages ?? []).map((m) => ({
    message_id: m.MessageId ?? '',
    body: m.Body ?? '',
    sent_at: m.Attributes?.SentTimestamp ? new Date(Number(m.Attributes.SentTimestamp)).toISOString() : null,
    receive_count: Number(m.Attributes?.ApproximateReceiveCount ?? 0),
  }));
  return {
    queue: source.queue,
    dlq_url: source.url,
    approximate_count: count,
    messages,
    redrivable: source.redrivable,
  };
}

/** Leaves out the messages past MAX_PEEKED_BODY_BYTES, in queue order. */
function withinBudget(queues: readonly DeadLetterQueue[]): DeadLetterQueue[] {
  let budget = MAX_PEEKED_BODY_BYTES;
  return queues.map((queue) => {
    const kept = queue.messages.filter((message) => {
      budget -= Buffer.byteLength(JSON.stringify(message.body));
      return budget >= 0;
    });
    return { ...queue, messages: kept };
  });
}

/** Starts the move of one DLQ's messages back to its source queue, or reports the move already running. */
async function redrive(source: DeadLetterSource): Promise<RedriveResult['moves'][number] | undefined> {
  const { Results } = await sqsCall(() =>
    sqs.send(new ListMessageMoveTasksCommand({ SourceArn: source.arn, MaxResults: 1 })),
  );
  const running = Results?.[0];
  if (running?.Status === 'RUNNING' && running.TaskHandle)
    return {
      queue: source.queue,
      task_handle: running.TaskHandle,
      approximate_count: Number(running.ApproximateNumberOfMessagesToMove ?? 0),
    };
  const count = await visibleCount(source);
  if (count === 0) return undefined;
  // No DestinationArn: SQS moves each message back to the queue it came from.
  const { TaskHandle } = await sqsCall(() =>
    sqs.send(new StartMessageMoveTaskCommand({ SourceArn: source.arn })),
  );
  return { queue: source.queue, task_handle: TaskHandle ?? '', approximate_count: count };
}

const listDeadLetters = httpHandler<undefined, DeadLetterQuery>(
  routeById('listDeadLetters'),
  async ({ query }) => {
    const queues = await Promise.all(sourcesNamed(query.queue).map((source) => peek(source, query.limit)));
    const list: DeadLetterList = { queues: withinBudget(queues) };
    return { body: list };
  },
);

const redriveDeadLetters = httpHandler<RedriveRequest>(routeById('redriveDeadLetters'), async ({ body }) => {
  const chosen = sourcesNamed(body.queue);
  const refused = chosen.find((source) => body.queue !== undefined && !source.redrivable);
  if (refused)
    throw new ConflictError(
      'NOT_REDRIVABLE',
      `the ${refused.queue} queue holds compensations that failed for good; a person has to finish them, and a retry would not`,
      [{ queue: refused.queue }],
    );
  const moves = await Promise.all(chosen.filter((source) => source.redrivable).map(redrive));
  const result: RedriveResult = { moves: moves.filter((move) => move !== undefined) };
  return { body: result };
});

export const handler = httpRouter([listDeadLetters, redriveDeadLetters]);
