/**
 * Agent SDK: turn two functions, `execute` and `rollback`, into a recovery agent that
 * answers Step Functions `.waitForTaskToken` dispatches, as a Lambda SQS consumer or as a
 * long-running poller.
 *
 * @example
 * const agent = createAgent({
 *   agent_id: 'network-1',
 *   categories: ['network'],
 *   execute: async (task) => ({ flushed: task.issue.issue_id }),
 *   rollback: async () => ({ restored: true }),
 * });
 * export const handler = agent.lambdaHandler;        // Lambda mode
 * await agent.poll({ queueUrl, signal });            // process mode
 *
 * The DynamoDB-backed dedupe store has its own entry point, `#agents/sdk/dynamodb-dedupe-store`,
 * as Powertools' idempotency has `/dynamodb`: an agent that keeps the in-memory default then
 * bundles no DynamoDB client (about 130 KB minified).
 */
import { type AgentOptions, createAgentCore, type MessageResult } from './agent';
import { createLambdaHandler, type SqsBatchHandler } from './lambda-consumer';
import { createPoller, type PollOptions } from './poller';

export type {
  AgentLogger,
  AgentOptions,
  MessageOutcome,
  MessageResult,
  TaskContext,
  TaskHandler,
} from './agent';
export { AGENT_SDK_RETRY, ANSWER_LATER, DEFAULT_HEARTBEAT_INTERVAL_MS, heartbeatEvery } from './agent';
export {
  CallbackError,
  type RestCallbacksOptions,
  restCallbacks,
  stepFunctionsCallbacks,
  type TaskCallbacks,
} from './callbacks';
export {
  AgentPermanentError,
  AgentTransientError,
  isCallbackGone,
  MAX_CAUSE_LENGTH,
  MAX_ERROR_LENGTH,
  PERMANENT_ERROR,
  TRANSIENT_ERROR,
  toTaskFailure,
  truncate,
} from './errors';
export { DedupeRecord, type DedupeStore, dedupeKey, MemoryDedupeStore, mayClaim } from './idempotency';
export type { SqsBatchHandler } from './lambda-consumer';
export type { PollOptions } from './poller';

export interface Agent {
  readonly agent_id: string;
  /** The SQS batch handler for a Lambda with ReportBatchItemFailures. */
  readonly lambdaHandler: SqsBatchHandler;
  /** Long-polls `queueUrl` until `signal` aborts, then waits for running tasks. */
  poll(options: PollOptions): Promise<void>;
  /** Handles one message body; says whether the message may be deleted. */
  handleMessage(body: string): Promise<MessageResult>;
}

export function createAgent(options: AgentOptions): Agent {
  const core = createAgentCore(options);
  return {
    agent_id: core.agent_id,
    lambdaHandler: createLambdaHandler(core),
    poll: createPoller(core),
    handleMessage: core.handleMessage,
  };
}
