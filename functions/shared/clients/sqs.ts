/** The SQS client (see retry.ts for why each client has its own module). */
import { SQSClient } from '@aws-sdk/client-sqs';
import { SDK_RETRY_OPTIONS } from '#shared/clients/retry';

export const sqs: SQSClient = new SQSClient({ ...SDK_RETRY_OPTIONS });
