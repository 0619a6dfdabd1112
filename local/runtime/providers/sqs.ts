/**
 * The offline runtime's SQS provider: an in-memory SQS behind the edge, speaking the
 * AWS JSON 1.0 protocol that the SDK v3 and the AWS CLI v1 use, deploying
 * `AWS::SQS::Queue` and `AWS::SQS::QueuePolicy`, and offering an in-process API to the
 * other providers (Lambda event source mappings, Step Functions `sqs:sendMessage`).
 *
 * The npm package `local-aws-sqs` was judged by the conformance suite in
 * test/integration/sqs/ and not adopted; ./sqs/README.md says why and lists the
 * known differences from AWS.
 *
 * @example
 * const sqs = createSqsProvider();
 * await sqs.start?.({ region, accountId, endpoint: 'http://127.0.0.1:4566', assemblyDir, services, log });
 * const { ref: queueUrl, attributes } = await sqs.deploy?.(resource, context);
 * await sqs.sendMessage(queueUrl, JSON.stringify({ hello: 'world' }));
 * const [message] = await sqs.receiveMessages(attributes.Arn, { max: 10, waitSeconds: 20 });
 */

import type { SQSRecord } from 'aws-lambda';
import { generatedName } from '../template';
import type {
  AwsRequest,
  AwsResponse,
  DeployContext,
  DeployedResource,
  Provider,
  ResolvedResource,
} from '../types';
import { handleJsonRequest, TARGET_PREFIX } from './sqs/json-protocol';
import type { MessageAttributeInput } from './sqs/messages';
import { type ReceivedMessage, type ReceiveOptions, type SendMessageResult, SqsService } from './sqs/service';

export { SqsApiError } from './sqs/errors';
export type { MessageAttribute } from './sqs/md5';
export type { MessageAttributeInput } from './sqs/messages';
export { SqsStoppedError } from './sqs/service';
export type { ReceivedMessage, ReceiveOptions, SendMessageResult };

const QUEUE_TYPE = 'AWS::SQS::Queue';
const QUEUE_POLICY_TYPE = 'AWS::SQS::QueuePolicy';

/** SendMessage parameters besides the body and the message attributes. */
export interface SendOptions {
  /** 0–900 seconds; standard queues only. */
  readonly delaySeconds?: number;
  /** Required on FIFO queues. */
  readonly messageGroupId?: string;
  /** FIFO queues without ContentBasedDeduplication need one. */
  readonly messageDeduplicationId?: string;
  /** Only `AWSTraceHeader` exists. */
  readonly systemAttributes?: Readonly<Record<string, MessageAttributeInput>>;
}

/** What other providers need to know about a queue. */
export interface QueueInfo {
  readonly name: string;
  readonly url: string;
  readonly arn: string;
  readonly fifo: boolean;
  readonly visibilityTimeoutSeconds: number;
}

/**
 * In-process calls for other providers. Queues are named by URL or ARN; failures are
 * {@link SqsApiError}s with the same shape and message the HTTP API returns (a missing
 * queue is `QueueDoesNotExist`).
 */
export interface SqsInProcessApi {
  /**
   * SendMessage.
   *
   * @example
   * await sqs.sendMessage(queueArn, '{"task":"triage"}', { kind: { DataType: 'String', StringValue: 'triage' } });
   */
  sendMessage(
    queueUrlOrArn: string,
    body: string,
    attributes?: Readonly<Record<string, MessageAttributeInput>>,
    options?: SendOptions,
  ): Promise<SendMessageResult>;
  /**
   * ReceiveMessage with every system and message attribute. Long-polls up to
   * `waitSeconds` (default: the queue's ReceiveMessageWaitTimeSeconds) and answers as
   * soon as a message is visible. `stop()` or `signal` end the wait with no messages;
   * after `stop()` it rejects with {@link SqsStoppedError}.
   *
   * @example
   * const messages = await sqs.receiveMessages(queueArn, { max: 10, visibilityTimeoutSeconds: 30, waitSeconds: 20 });
   */
  receiveMessages(queueUrlOrArn: string, options?: ReceiveOptions): Promise<ReceivedMessage[]>;
  /** DeleteMessage; deleting an already deleted message succeeds, as in SQS. */
  deleteMessage(queueUrlOrArn: string, receiptHandle: string): Promise<void>;
  /** ChangeMessageVisibility; 0 makes the message visible again at once. */
  changeVisibility(
    queueUrlOrArn: string,
    receiptHandle: string,
    visibilityTimeoutSeconds: number,
  ): Promise<void>;
  /** The queue's name, URL, ARN and visibility timeout; rejects with QueueDoesNotExist. */
  describeQueue(queueUrlOrArn: string): Promise<QueueInfo>;
}

export interface SqsProvider extends Provider, SqsInProcessApi {
  readonly service: 'sqs';
}

/** Narrows a provider from `context.services.get('sqs')` to the SQS provider. */
export function isSqsProvider(provider: Provider | undefined): provider is SqsProvider {
  return (
    provider?.service === 'sqs' &&
    typeof (provider as Partial<SqsProvider>).receiveMessages === 'function' &&
    typeof (provider as Partial<SqsProvider>).sendMessage === 'function'
  );
}

/**
 * Builds the event record Lambda gives a function for an SQS message.
 *
 * @example
 * const event = { Records: messages.map((m) => toLambdaSqsRecord(m, 'us-east-1')) };
 */
export function toLambdaSqsRecord(message: ReceivedMessage, region: string): SQSRecord {
  const attributes = message.attributes;
  return {
    messageId: message.messageId,
    receiptHandle: message.receiptHandle,
    body: message.body,
    attributes: {
      ...attributes,
      ApproximateReceiveCount: attributes.ApproximateReceiveCount ?? '1',
      SentTimestamp: attributes.SentTimestamp ?? '0',
      SenderId: attributes.SenderId ?? '',
      ApproximateFirstReceiveTimestamp: attributes.ApproximateFirstReceiveTimestamp ?? '0',
    },
    messageAttributes: Object.fromEntries(
      Object.entries(message.messageAttributes).map(([name, attribute]) => [
        name,
        {
          ...(attribute.StringValue !== undefined && { stringValue: attribute.StringValue }),
          ...(attribute.BinaryValue !== undefined && {
            binaryValue: attribute.BinaryValue.toString('base64'),
          }),
          stringListValues: [],
          binaryListValues: [],
          dataType: attribute.DataType,
        },
      ]),
    ),
    md5OfBody: message.md5OfBody,
    ...(message.md5OfMessageAttributes && { md5OfMessageAttributes: message.md5OfMessageAttributes }),
    eventSource: 'aws:sqs',
    eventSourceARN: message.queueArn,
    awsRegion: region,
  };
}

/**
 * Creates the SQS provider. Queue URLs use the endpoint from `start` (or the first
 * `deploy`); until then `http://127.0.0.1:4566`.
 */
export function createSqsProvider(): SqsProvider {
  const sqs = new SqsService();
  let log: (message: string) => void = () => {};

  return {
    service: 'sqs',
    resourceTypes: [QUEUE_TYPE, QUEUE_POLICY_TYPE],

    matches(request: AwsRequest): boolean {
      return request.target?.startsWith(TARGET_PREFIX) === true || request.signingService === 'sqs';
    },

    handle(request: AwsRequest): Promise<AwsResponse> {
      return handleJsonRequest(sqs, request, log);
    },

    async start(context) {
      log = context.log;
      sqs.configure({ region: context.region, accountId: context.accountId, endpoint: context.endpoint });
    },

    async stop() {
      sqs.stop();
    },

    async deploy(resource: ResolvedResource, context: DeployContext): Promise<DeployedResource> {
      sqs.configure({ region: context.region, accountId: context.accountId, endpoint: context.endpoint });
      if (resource.type === QUEUE_TYPE) return deployQueue(sqs, resource, context);
      if (resource.type === QUEUE_POLICY_TYPE) return deployQueuePolicy(sqs, resource, context);
      throw new Error(`the SQS provider does not deploy ${resource.type} (${resource.logicalId})`);
    },

    async sendMessage(queueUrlOrArn, body, attributes, options) {
      return sqs.sendMessage(sqs.resolve(queueUrlOrArn), {
        body,
        messageAttributes: attributes,
        systemAttributes: options?.systemAttributes,
        delaySeconds: options?.delaySeconds,
        messageGroupId: options?.messageGroupId,
        messageDeduplicationId: options?.messageDeduplicationId,
      });
    },

    receiveMessages(queueUrlOrArn, options) {
      return sqs.receiveMessages(sqs.resolve(queueUrlOrArn), options);
    },

    async deleteMessage(queueUrlOrArn, receiptHandle) {
      sqs.deleteMessage(sqs.resolve(queueUrlOrArn), receiptHandle);
    },

    async changeVisibility(queueUrlOrArn, receiptHandle, visibilityTimeoutSeconds) {
      sqs.changeVisibility(sqs.resolve(queueUrlOrArn), receiptHandle, visibilityTimeoutSeconds);
    },

    async describeQueue(queueUrlOrArn) {
      const queue = sqs.resolve(queueUrlOrArn);
      return {
        name: queue.name,
        url: queue.url,
        arn: queue.arn,
        fifo: queue.fifo,
        visibilityTimeoutSeconds: queue.integer('VisibilityTimeout'),
      };
    },
  };
}

// ── Deploy ───────────────────────────────────────────────────────────────────

/** CloudFormation properties that map one to one onto queue attributes. */
const QUEUE_ATTRIBUTE_PROPERTIES = [
  'ContentBasedDeduplication',
  'DeduplicationScope',
  'DelaySeconds',
  'FifoQueue',
  'FifoThroughputLimit',
  'KmsDataKeyReusePeriodSeconds',
  'KmsMasterKeyId',
  'MaximumMessageSize',
  'MessageRetentionPeriod',
  'ReceiveMessageWaitTimeSeconds',
  'RedriveAllowPolicy',
  'RedrivePolicy',
  'SqsManagedSseEnabled',
  'VisibilityTimeout',
] as const;

function deployQueue(sqs: SqsService, resource: ResolvedResource, context: DeployContext): DeployedResource {
  const properties = resource.properties;
  const attributes: Record<string, string> = {};
  for (const key of QUEUE_ATTRIBUTE_PROPERTIES) {
    const value = properties[key];
    if (value === undefined || value === null) continue;
    attributes[key] = typeof value === 'object' ? JSON.stringify(value) : String(value);
  }
  const fifo = attributes.FifoQueue === 'true';
  if (!fifo) delete attributes.FifoQueue;
  const name =
    typeof properties.QueueName === 'string' && properties.QueueName !== ''
      ? properties.QueueName
      : generatedName(context.stackName, resource.logicalId, {
          maxLength: 80,
          suffix: fifo ? '.fifo' : '',
          sanitize: true,
        });
  const tags = Array.isArray(properties.Tags)
    ? Object.fromEntries(
        (properties.Tags as { Key?: unknown; Value?: unknown }[]).map((tag) => [
          String(tag.Key),
          String(tag.Value),
        ]),
      )
    : {};

  let queue = sqs.findByArn(sqs.arnOf(name));
  if (queue) {
    // A redeploy updates the queue in place, as a CloudFormation update would.
    const { FifoQueue: _fifo, ...settable } = attributes;
    sqs.setAttributes(queue, settable);
    sqs.tagQueue(queue, tags);
  } else {
    queue = sqs.createQueue(name, attributes, tags);
  }
  context.log(`sqs: queue ${queue.name} at ${queue.url}`);
  return { ref: queue.url, attributes: { Arn: queue.arn, QueueName: queue.name, QueueUrl: queue.url } };
}

function deployQueuePolicy(
  sqs: SqsService,
  resource: ResolvedResource,
  context: DeployContext,
): DeployedResource {
  const { Queues, PolicyDocument } = resource.properties;
  if (!Array.isArray(Queues)) throw new Error(`${resource.logicalId}: Queues must be a list of queue URLs`);
  const policy = typeof PolicyDocument === 'string' ? PolicyDocument : JSON.stringify(PolicyDocument ?? {});
  for (const queueUrl of Queues) sqs.setAttributes(sqs.resolve(String(queueUrl)), { Policy: policy });
  return { ref: generatedName(context.stackName, resource.logicalId, { maxLength: 80, sanitize: true }) };
}
