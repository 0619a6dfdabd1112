/**
 * The agent core: one SQS message in, one task callback out (Step Functions, or the REST API).
 *
 * `handleMessage` parses the message, checks the dedupe store, runs `execute` or `rollback`
 * while heartbeating, and answers on the task token. It says whether the message may be
 * deleted (`ack`); the Lambda consumer and the poller only map that onto their event source.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { SFNClient } from '@aws-sdk/client-sfn';
import { ChangeMessageVisibilityCommand, SQSClient } from '@aws-sdk/client-sqs';
import { type AgentAction, AgentTaskMessage, type Category } from '#core/wire';
import { stepFunctionsCallbacks, type TaskCallbacks } from './callbacks';
import { isCallbackGone, toTaskFailure } from './errors';
import { type DedupeRecord, type DedupeStore, dedupeKey, MemoryDedupeStore, mayClaim } from './idempotency';

export const DEFAULT_HEARTBEAT_INTERVAL_MS = 10_000;

/** What `execute` and `rollback` get besides the task. */
export interface TaskContext {
  readonly agent_id: string;
  /** Aborted when Step Functions says the task is over (a heartbeat answered TaskTimedOut). */
  readonly signal: AbortSignal;
}

/**
 * Returned by a handler that will answer later, out of band (SendTaskSuccess/Failure or POST
 * tasks/* with the task token, from another process): the SDK stops heartbeating, acknowledges
 * the message and sends nothing. Whoever answers later owns the heartbeats too; a task nobody
 * answers ends with States.HeartbeatTimeout or States.Timeout.
 */
export const ANSWER_LATER: unique symbol = Symbol.for('master-orchestrator.agent.answer-later');

/** Runs one step; the resolved value (JSON-serializable) becomes the task's output, unless it is {@link ANSWER_LATER}. */
export type TaskHandler = (task: AgentTaskMessage, context: TaskContext) => Promise<unknown>;

export interface AgentLogger {
  info(message: string, extra?: Record<string, unknown>): void;
  warn(message: string, extra?: Record<string, unknown>): void;
  error(message: string, extra?: Record<string, unknown>): void;
}

export interface AgentOptions {
  readonly agent_id: string;
  readonly categories: readonly Category[];
  readonly execute: TaskHandler;
  readonly rollback: TaskHandler;
  /** @default a client from the environment (AWS_ENDPOINT_URL_SFN, AWS_REGION, ...) */
  readonly sfn?: SFNClient;
  /**
   * How answers are sent. `restCallbacks(...)` answers through the orchestrator's REST API
   * with an agent token instead of AWS credentials.
   * @default stepFunctionsCallbacks(sfn)
   */
  readonly callbacks?: TaskCallbacks;
  /** Used by `poll`. @default a client from the environment */
  readonly sqs?: SQSClient;
  /**
   * The longest interval between SendTaskHeartbeat calls while a handler runs. A message
   * that carries `heartbeat_seconds` (the dispatching Task's HeartbeatSeconds) is
   * heartbeated at a third of that when it is shorter.
   * @default 10000
   */
  readonly heartbeatIntervalMs?: number;
  /** @default a MemoryDedupeStore holding 10,000 records */
  readonly dedupe?: DedupeStore;
  /** @default a Powertools Logger named after the agent */
  readonly logger?: AgentLogger;
}

/**
 * - `ANSWERED`: the handler ran (or a stored answer was replayed) and Step Functions took the callback.
 * - `DUPLICATE`: a redelivery of a message this agent is running or has answered; nothing was sent.
 * - `GONE`: Step Functions answered TaskTimedOut, TaskDoesNotExist or InvalidToken: a late callback.
 * - `POISON`: the body is not an AgentTaskMessage.
 * - `RETRY`: the callback itself failed (network, throttling); the message must come back.
 * - `DEFERRED`: the handler returned {@link ANSWER_LATER}; nothing was sent.
 */
export type MessageOutcome = 'ANSWERED' | 'DUPLICATE' | 'GONE' | 'POISON' | 'RETRY' | 'DEFERRED';

export interface MessageResult {
  readonly outcome: MessageOutcome;
  /** True when the message may be deleted from the queue. */
  readonly ack: boolean;
  readonly task?: AgentTaskMessage;
}

export interface AgentCore {
  readonly agent_id: string;
  readonly categories: readonly Category[];
  readonly logger: AgentLogger;
  readonly sqs: SQSClient;
  handleMessage(body: string): Promise<MessageResult>;
}

type Callback =
  | { readonly kind: 'deferred' }
  | { readonly kind: 'success'; readonly output: string }
  | ({ readonly kind: 'failure' } & Failure);
interface Failure {
  readonly error: string;
  readonly cause: string;
}

/**
 * The clients the SDK builds retry throttled and transient calls 5 times with the SDK's
 * standard strategy (exponential backoff, full jitter): a throttled SendTaskSuccess is
 * retried rather than lost to a heartbeat timeout.
 */
export const AGENT_SDK_RETRY = { maxAttempts: 5, retryMode: 'standard' } as const;

/** Builds the message handler shared by the Lambda consumer and the poller. */
export function createAgentCore(options: AgentOptions): AgentCore {
  const { agent_id, categories } = options;
  // Created once per agent, never per message.
  const callbacks =
    options.callbacks ?? stepFunctionsCallbacks(options.sfn ?? new SFNClient(AGENT_SDK_RETRY));
  const sqs = options.sqs ?? new SQSClient(AGENT_SDK_RETRY);
  const dedupe = options.dedupe ?? new MemoryDedupeStore();
  const heartbeatIntervalMs = options.heartbeatIntervalMs ?? DEFAULT_HEARTBEAT_INTERVAL_MS;
  const logger = options.logger ?? powertoolsLogger(agent_id);
  const handlers: Record<AgentAction, TaskHandler> = { execute: options.execute, rollback: options.rollback };

  /** Sends the callback; maps the SDK's answer onto an outcome. */
  async function answer(task: AgentTaskMessage, callback: Callback): Promise<MessageResult> {
    if (callback.kind === 'deferred') {
      logger.info('task handed off; its answer comes later', describeTask(task));
      return { outcome: 'DEFERRED', ack: true, task };
    }
    try {
      if (callback.kind === 'success') await callbacks.success(task.task_token, callback.output);
      else await callbacks.failure(task.task_token, callback.error, callback.cause);
      return { outcome: 'ANSWERED', ack: true, task };
    } catch (error) {
      if (isCallbackGone(error)) {
        logger.warn('late or duplicate callback ignored', { ...describeTask(task), reason: nameOf(error) });
        return { outcome: 'GONE', ack: true, task };
      }
      logger.error('callback failed; the message will be redelivered', {
        ...describeTask(task),
        reason: nameOf(error),
        detail: error instanceof Error ? error.message : String(error),
      });
      return { outcome: 'RETRY', ack: false, task };
    }
  }

  /** Runs the handler (the key is claimed) with heartbeats, storing the answer before it is sent. */
  async function run(task: AgentTaskMessage, key: string): Promise<Callback> {
    const controller = new AbortController();
    const timer = setInterval(
      () => {
        callbacks.heartbeat(task.task_token).catch((error: unknown) => {
          if (isCallbackGone(error)) controller.abort(error);
          logger.warn('heartbeat failed', { ...describeTask(task), reason: nameOf(error) });
        });
      },
      heartbeatEvery(task, heartbeatIntervalMs),
    );
    let callback: Callback;
    try {
      const output = await handlers[task.action](task, { agent_id, signal: controller.signal });
      callback =
        output === ANSWER_LATER
          ? { kind: 'deferred' }
          : { kind: 'success', output: JSON.stringify(output ?? {}) };
    } catch (thrown) {
      callback = { kind: 'failure', ...toTaskFailure(thrown) };
      logger.warn('task failed', { ...describeTask(task), error: callback.error, cause: callback.cause });
    } finally {
      clearInterval(timer);
    }
    // A deferred task keeps its IN_PROGRESS claim: a redelivery is a duplicate.
    if (callback.kind === 'deferred') return callback;
    const record: DedupeRecord =
      callback.kind === 'success'
        ? { status: 'SUCCEEDED', task_token: task.task_token, output: callback.output }
        : { status: 'FAILED', task_token: task.task_token, error: callback.error, cause: callback.cause };
    try {
      await dedupe.put(key, record);
    } catch (error) {
      // The handler has run: its answer matters more than the record. A redelivery on this
      // token finds IN_PROGRESS and is dropped; were the callback lost as well, the task's
      // HeartbeatSeconds would end the wait and the workflow's Retry would dispatch it anew.
      logger.error('dedupe record not stored; answering anyway', {
        ...describeTask(task),
        reason: nameOf(error),
        detail: error instanceof Error ? error.message : String(error),
      });
    }
    return callback;
  }

  /** Takes the key for this delivery; false when another delivery holds it. */
  async function claim(key: string, task_token: string): Promise<boolean> {
    if (dedupe.claim) return dedupe.claim(key, task_token);
    await dedupe.put(key, { status: 'IN_PROGRESS', task_token });
    return true;
  }

  /** The answer a stored record dictates, or undefined when the handler has to run. */
  function settleFromRecord(
    task: AgentTaskMessage,
    seen: DedupeRecord | undefined,
  ): Promise<MessageResult> | undefined {
    if (mayClaim(seen, task.task_token)) return undefined;
    const sameToken = seen?.task_token === task.task_token;
    if (seen?.status === 'SUCCEEDED') {
      // Same token: a redelivery whose callback may have been lost. New token: a re-dispatch
      // of a step already done. Either way the stored output is the answer.
      logger.info('replaying a stored success', { ...describeTask(task), same_token: sameToken });
      return answer(task, { kind: 'success', output: seen.output });
    }
    if (seen?.status === 'FAILED') {
      return answer(task, { kind: 'failure', error: seen.error, cause: seen.cause });
    }
    return Promise.resolve(duplicate(task));
  }

  function duplicate(task: AgentTaskMessage): MessageResult {
    logger.info('duplicate delivery of a running task dropped', describeTask(task));
    return { outcome: 'DUPLICATE', ack: true, task };
  }

  async function handleMessage(body: string): Promise<MessageResult> {
    const task = parseTask(body);
    if (!task) {
      logger.error('poison message left for the dead-letter queue', { body: body.slice(0, 1024) });
      return { outcome: 'POISON', ack: false };
    }
    const key = dedupeKey(task);
    const settled = settleFromRecord(task, await dedupe.get(key));
    if (settled) return settled;
    if (!(await claim(key, task.task_token))) {
      // Another delivery claimed the key between the read and the claim: what it stored now
      // decides. Were the key claimable again already, the key changed hands twice; this
      // delivery leaves the step to the latest claimant rather than race it.
      return settleFromRecord(task, await dedupe.get(key)) ?? duplicate(task);
    }
    logger.info('task started', describeTask(task));
    return answer(task, await run(task, key));
  }

  return { agent_id, categories, logger, sqs, handleMessage };
}

/**
 * Makes a poison message visible again at once. It can never succeed, so waiting out the
 * visibility timeout before each receive that precedes the DLQ is wasted time; the receive
 * still counts, and SQS moves it to the DLQ after the queue's `maxReceiveCount`. A failure is
 * only logged: the message then comes back after its visibility timeout, as it would anyway.
 *
 * @example
 * if (result.outcome === 'POISON') await releasePoisonMessage(core, queueUrl, message.ReceiptHandle ?? '');
 */
export async function releasePoisonMessage(
  core: Pick<AgentCore, 'sqs' | 'logger'>,
  queueUrl: string,
  receiptHandle: string,
  messageId?: string,
): Promise<void> {
  try {
    await core.sqs.send(
      new ChangeMessageVisibilityCommand({
        QueueUrl: queueUrl,
        ReceiptHandle: receiptHandle,
        VisibilityTimeout: 0,
      }),
    );
  } catch (error) {
    core.logger.warn('could not release the poison message early; it returns after its visibility timeout', {
      message_id: messageId,
      reason: nameOf(error),
      detail: error instanceof Error ? error.message : String(error),
    });
  }
}

/** A third of the Task's HeartbeatSeconds when the message says it, capped at the configured interval; at least 200 ms. */
export function heartbeatEvery(
  task: Pick<AgentTaskMessage, 'heartbeat_seconds'>,
  configuredMs: number,
): number {
  const fromTask = task.heartbeat_seconds === undefined ? configuredMs : (task.heartbeat_seconds * 1000) / 3;
  return Math.max(200, Math.floor(Math.min(configuredMs, fromTask)));
}

function powertoolsLogger(serviceName: string): AgentLogger {
  const logger = new Logger({ serviceName });
  return {
    info: (message, extra = {}) => logger.info(message, extra),
    warn: (message, extra = {}) => logger.warn(message, extra),
    error: (message, extra = {}) => logger.error(message, extra),
  };
}

function parseTask(body: string): AgentTaskMessage | undefined {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    return undefined;
  }
  const parsed = AgentTaskMessage.safeParse(json);
  return parsed.success ? parsed.data : undefined;
}

function describeTask(task: AgentTaskMessage): Record<string, unknown> {
  const { workflow_id, step_id, action, attempt } = task;
  return { workflow_id, step_id, action, attempt };
}

function nameOf(error: unknown): string {
  return error instanceof Error ? error.name : typeof error;
}
