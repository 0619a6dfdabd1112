/**
 * The agent core: one SQS message in, one Step Functions callback out.
 *
 * `handleMessage` parses the message, checks the dedupe store, runs `execute` or `rollback`
 * while heartbeating, and answers on the task token. It says whether the message may be
 * deleted (`ack`); the Lambda consumer and the poller only map that onto their event source.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import {
  SendTaskFailureCommand,
  SendTaskHeartbeatCommand,
  SendTaskSuccessCommand,
  SFNClient,
} from '@aws-sdk/client-sfn';
import { SQSClient } from '@aws-sdk/client-sqs';
import { type AgentAction, AgentTaskMessage, type Category } from '#core/wire';
import { isCallbackGone, toTaskFailure } from './errors';
import { type DedupeRecord, type DedupeStore, dedupeKey, MemoryDedupeStore } from './idempotency';

export const DEFAULT_HEARTBEAT_INTERVAL_MS = 10_000;

/** What `execute` and `rollback` get besides the task. */
export interface TaskContext {
  readonly agent_id: string;
  /** Aborted when Step Functions says the task is over (a heartbeat answered TaskTimedOut). */
  readonly signal: AbortSignal;
}

/** Runs one step; the resolved value (JSON-serializable) becomes the task's output. */
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
  /** Used by `poll`. @default a client from the environment */
  readonly sqs?: SQSClient;
  /**
   * How often to send SendTaskHeartbeat while a handler runs. Keep it well under the
   * dispatching Task's HeartbeatSeconds (a third is a good rule), which the agent cannot see.
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
 */
export type MessageOutcome = 'ANSWERED' | 'DUPLICATE' | 'GONE' | 'POISON' | 'RETRY';

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
  | { readonly kind: 'success'; readonly output: string }
  | ({ readonly kind: 'failure' } & Failure);
interface Failure {
  readonly error: string;
  readonly cause: string;
}

/** Builds the message handler shared by the Lambda consumer and the poller. */
export function createAgentCore(options: AgentOptions): AgentCore {
  const { agent_id, categories } = options;
  // Created once per agent, never per message.
  const sfn = options.sfn ?? new SFNClient({});
  const sqs = options.sqs ?? new SQSClient({});
  const dedupe = options.dedupe ?? new MemoryDedupeStore();
  const heartbeatIntervalMs = options.heartbeatIntervalMs ?? DEFAULT_HEARTBEAT_INTERVAL_MS;
  const logger = options.logger ?? powertoolsLogger(agent_id);
  const handlers: Record<AgentAction, TaskHandler> = { execute: options.execute, rollback: options.rollback };

  /** Sends the callback; maps the SDK's answer onto an outcome. */
  async function answer(task: AgentTaskMessage, callback: Callback): Promise<MessageResult> {
    try {
      if (callback.kind === 'success') {
        await sfn.send(new SendTaskSuccessCommand({ taskToken: task.task_token, output: callback.output }));
      } else {
        await sfn.send(
          new SendTaskFailureCommand({
            taskToken: task.task_token,
            error: callback.error,
            cause: callback.cause,
          }),
        );
      }
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

  /** Runs the handler with heartbeats, storing the answer before it is sent. */
  async function run(task: AgentTaskMessage, key: string): Promise<Callback> {
    await dedupe.put(key, { status: 'IN_PROGRESS', task_token: task.task_token });
    const controller = new AbortController();
    const timer = setInterval(() => {
      sfn.send(new SendTaskHeartbeatCommand({ taskToken: task.task_token })).catch((error: unknown) => {
        if (isCallbackGone(error)) controller.abort(error);
        logger.warn('heartbeat failed', { ...describeTask(task), reason: nameOf(error) });
      });
    }, heartbeatIntervalMs);
    let callback: Callback;
    try {
      const output = await handlers[task.action](task, { agent_id, signal: controller.signal });
      callback = { kind: 'success', output: JSON.stringify(output ?? {}) };
    } catch (thrown) {
      callback = { kind: 'failure', ...toTaskFailure(thrown) };
      logger.warn('task failed', { ...describeTask(task), error: callback.error, cause: callback.cause });
    } finally {
      clearInterval(timer);
    }
    const record: DedupeRecord =
      callback.kind === 'success'
        ? { status: 'SUCCEEDED', task_token: task.task_token, output: callback.output }
        : { status: 'FAILED', task_token: task.task_token, error: callback.error, cause: callback.cause };
    await dedupe.put(key, record);
    return callback;
  }

  async function handleMessage(body: string): Promise<MessageResult> {
    const task = parseTask(body);
    if (!task) {
      logger.error('poison message left for the dead-letter queue', { body: body.slice(0, 1024) });
      return { outcome: 'POISON', ack: false };
    }
    const key = dedupeKey(task);
    const seen = await dedupe.get(key);
    const sameToken = seen?.task_token === task.task_token;
    if (seen?.status === 'SUCCEEDED') {
      // Same token: a redelivery whose callback may have been lost. New token: a re-dispatch
      // of a step already done. Either way the stored output is the answer.
      logger.info('replaying a stored success', { ...describeTask(task), same_token: sameToken });
      return answer(task, { kind: 'success', output: seen.output });
    }
    if (sameToken && seen?.status === 'FAILED') {
      return answer(task, { kind: 'failure', error: seen.error, cause: seen.cause });
    }
    if (sameToken && seen?.status === 'IN_PROGRESS') {
      logger.info('duplicate delivery of a running task dropped', describeTask(task));
      return { outcome: 'DUPLICATE', ack: true, task };
    }
    logger.info('task started', describeTask(task));
    return answer(task, await run(task, key));
  }

  return { agent_id, categories, logger, sqs, handleMessage };
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
