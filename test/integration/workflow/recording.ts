/**
 * SDK clients whose requests stop at a middleware that records them and answers success: the
 * workflow engine's Step Functions and SQS calls, pinned without a state machine or a queue.
 */
import { randomUUID } from 'node:crypto';
import type { SFNClient } from '@aws-sdk/client-sfn';
import type { SQSClient } from '@aws-sdk/client-sqs';

export interface Sent {
  readonly command: string;
  readonly input: Record<string, unknown>;
}

/** Adds the recording middleware to `client` and returns it; every request lands in `sent`. */
export function recording<T extends SFNClient | SQSClient>(client: T, sent: Sent[]): T {
  // Both clients share the middleware stack's shape; the cast picks one of the two signatures.
  (client.middlewareStack as SFNClient['middlewareStack']).add(
    (_next, context) => async (args) => {
      sent.push({ command: context.commandName ?? '', input: args.input as Record<string, unknown> });
      return { output: { $metadata: {}, MessageId: randomUUID() }, response: {} };
    },
    { step: 'initialize', name: 'record' },
  );
  return client;
}
