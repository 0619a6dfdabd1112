/**
 * The agent as a long-running process: long-polls its queue, runs tasks with bounded
 * concurrency, keeps each message invisible while its task runs, and deletes it once the
 * callback is done with. A poison message is made visible again at once, so the queue's
 * RedrivePolicy moves it to the DLQ without a visibility timeout between receives.
 */
import {
  ChangeMessageVisibilityCommand,
  DeleteMessageCommand,
  type Message,
  ReceiveMessageCommand,
} from '@aws-sdk/client-sqs';
import { type AgentCore, releasePoisonMessage } from './agent';

export interface PollOptions {
  readonly queueUrl: string;
  /** Aborting stops receiving; `poll` resolves once the running tasks are answered. */
  readonly signal: AbortSignal;
  /** ReceiveMessage WaitTimeSeconds (0–20). @default 20 */
  readonly waitSeconds?: number;
  /** Visibility for received messages, renewed while their task runs. @default 30 */
  readonly visibilityTimeoutSeconds?: number;
  /** Tasks running at once. @default 4 */
  readonly concurrency?: number;
}

export function createPoller(core: AgentCore): (options: PollOptions) => Promise<void> {
  return async (options) => {
    const sqs = core.sqs;
    const { queueUrl, signal } = options;
    const waitSeconds = options.waitSeconds ?? 20;
    const visibilityTimeoutSeconds = options.visibilityTimeoutSeconds ?? 30;
    const concurrency = Math.max(1, options.concurrency ?? 4);
    const running = new Set<Promise<void>>();

    const process = async (message: Message): Promise<void> => {
      const receiptHandle = message.ReceiptHandle ?? '';
      // Renew at half the timeout so a slow renewal still lands before the message reappears.
      const renew = setInterval(
        () => {
          sqs
            .send(
              new ChangeMessageVisibilityCommand({
                QueueUrl: queueUrl,
                ReceiptHandle: receiptHandle,
                VisibilityTimeout: visibilityTimeoutSeconds,
              }),
            )
            .catch((error: unknown) =>
              core.logger.warn('visibility renewal failed', { detail: String(error) }),
            );
        },
        Math.max(100, (visibilityTimeoutSeconds * 1000) / 2),
      );
      try {
        const result = await core.handleMessage(message.Body ?? '');
        // Stopped before the message is deleted or released, so no renewal lands after either.
        clearInterval(renew);
        if (result.ack) {
          await sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: receiptHandle }));
        } else if (result.outcome === 'POISON') {
          await releasePoisonMessage(core, queueUrl, receiptHandle, message.MessageId);
        }
      } catch (error) {
        core.logger.error('message handling failed; it will be redelivered', {
          message_id: message.MessageId,
          detail: error instanceof Error ? error.message : String(error),
        });
      } finally {
        clearInterval(renew);
      }
    };

    while (!signal.aborted) {
      if (running.size >= concurrency) {
        await Promise.race(running);
        continue;
      }
      let messages: Message[];
      try {
        const received = await sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: queueUrl,
            MaxNumberOfMessages: Math.min(10, concurrency - running.size),
            WaitTimeSeconds: waitSeconds,
            VisibilityTimeout: visibilityTimeoutSeconds,
          }),
          { abortSignal: signal },
        );
        messages = received.Messages ?? [];
      } catch (error) {
        if (signal.aborted) break;
        core.logger.error('ReceiveMessage failed', { detail: String(error) });
        await pause(1_000, signal);
        continue;
      }
      for (const message of messages) {
        const task = process(message).finally(() => running.delete(task));
        running.add(task);
      }
    }
    await Promise.all(running);
  };
}

function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
  });
}
