/**
 * The SQS AWS JSON 1.0 protocol: `POST /` with `X-Amz-Target: AmazonSQS.<Operation>`
 * and a JSON body, answered with `application/x-amz-json-1.0`. The SDK v3 and the AWS
 * CLI v1 (botocore, which adds `x-amzn-query-mode: true`) both speak it.
 *
 * Errors: `{"__type": "com.amazonaws.sqs#<Shape>", "message": "..."}` plus the
 * `x-amzn-query-error: <LegacyCode>;Sender` header, as AWS documents for SQS.
 */
import { randomUUID } from 'node:crypto';
import type { AwsRequest, AwsResponse } from '../../types';
import {
  batchEntryIdsNotDistinct,
  batchRequestTooLong,
  emptyBatchRequest,
  invalidAttributeName,
  invalidBatchEntryId,
  invalidParameterValue,
  missingParameter,
  SqsApiError,
  serializationError,
  tooManyEntriesInBatchRequest,
  unknownOperation,
} from './errors';
import { type MessageAttribute, md5OfMessageAttributes } from './md5';
import type { MessageAttributeInput } from './messages';
import { type ReceivedMessage, type SqsService, SYSTEM_ATTRIBUTE_NAMES } from './service';

export const TARGET_PREFIX = 'AmazonSQS.';
const CONTENT_TYPE = 'application/x-amz-json-1.0';
const BATCH_ENTRY_ID = /^[A-Za-z0-9_-]{1,80}$/;
const MAX_BATCH_BYTES = 1_048_576;

type Input = Readonly<Record<string, unknown>>;
type Operation = (input: Input, context: { senderId: string }) => Promise<object> | object;

/** Serves one JSON-protocol request against `service`. Unexpected failures go to `log`. */
export async function handleJsonRequest(
  service: SqsService,
  request: AwsRequest,
  log: (message: string) => void = () => {},
): Promise<AwsResponse> {
  const requestId = randomUUID();
  try {
    const target = request.target ?? '';
    if (!target.startsWith(TARGET_PREFIX)) {
      throw serializationError(
        'The local SQS speaks only the AWS JSON 1.0 protocol: send X-Amz-Target: AmazonSQS.<Operation>.',
      );
    }
    const name = target.slice(TARGET_PREFIX.length);
    const operations = operationsOf(service);
    const operation = Object.hasOwn(operations, name) ? operations[name] : undefined;
    if (!operation) throw unknownOperation(name);
    const output = await operation(parseBody(request.body), { senderId: senderIdOf(request) });
    return {
      status: 200,
      headers: { 'content-type': CONTENT_TYPE, 'x-amzn-requestid': requestId },
      body: JSON.stringify(output),
    };
  } catch (error) {
    if (error instanceof SqsApiError) return errorResponse(error, requestId);
    log(
      `sqs: request ${requestId} failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
    );
    return errorResponse(
      new SqsApiError(
        'InternalFailure',
        'InternalFailure',
        500,
        `Internal failure. Request id: ${requestId}`,
        {
          fault: 'Receiver',
          cause: error,
        },
      ),
      requestId,
    );
  }
}

function errorResponse(error: SqsApiError, requestId: string): AwsResponse {
  return {
    status: error.status,
    headers: {
      'content-type': CONTENT_TYPE,
      'x-amzn-requestid': requestId,
      'x-amzn-query-error': `${error.queryCode};${error.fault}`,
    },
    body: JSON.stringify({ __type: `${error.namespace}#${error.shape}`, message: error.message }),
  };
}

function parseBody(body: Buffer): Input {
  if (body.length === 0) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch (cause) {
    throw Object.assign(serializationError('The request body is not valid JSON.'), { cause });
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw serializationError('The request body must be a JSON object.');
  }
  return parsed as Input;
}

/** SenderId: the access key id of the SigV4 credential, like an IAM user's id in AWS. */
function senderIdOf(request: AwsRequest): string {
  const authorization = request.headers.authorization;
  const match = /Credential=([^/,\s]+)\//.exec(typeof authorization === 'string' ? authorization : '');
  return match?.[1] ?? '000000000000';
}

// ── Operations ───────────────────────────────────────────────────────────────

function operationsOf(service: SqsService): Readonly<Record<string, Operation>> {
  const queueOf = (input: Input) => service.resolve(requiredString(input, 'QueueUrl'));
  return {
    CreateQueue: (input) => {
      const queue = service.createQueue(
        requiredString(input, 'QueueName'),
        optionalMap(input, 'Attributes'),
        optionalStringMap(input, 'tags'),
      );
      return { QueueUrl: queue.url };
    },
    GetQueueUrl: (input) => {
      const queue = service.resolve(requiredString(input, 'QueueName'));
      return { QueueUrl: queue.url };
    },
    ListQueues: (input) => {
      const page = service.listQueues(
        optionalString(input, 'QueueNamePrefix'),
        optionalInteger(input, 'MaxResults'),
        optionalString(input, 'NextToken'),
      );
      return {
        ...(page.items.length > 0 && { QueueUrls: page.items }),
        ...(page.nextToken && { NextToken: page.nextToken }),
      };
    },
    DeleteQueue: (input) => {
      service.deleteQueue(queueOf(input));
      return {};
    },
    PurgeQueue: (input) => {
      service.purgeQueue(queueOf(input));
      return {};
    },
    GetQueueAttributes: (input) => {
      const attributes = service.getAttributes(
        queueOf(input),
        optionalStringList(input, 'AttributeNames') ?? [],
      );
      return Object.keys(attributes).length > 0 ? { Attributes: attributes } : {};
    },
    SetQueueAttributes: (input) => {
      const attributes = optionalMap(input, 'Attributes');
      if (!attributes) throw missingParameter('Attributes');
      service.setAttributes(queueOf(input), attributes);
      return {};
    },
    TagQueue: (input) => {
      service.tagQueue(queueOf(input), optionalStringMap(input, 'Tags') ?? {});
      return {};
    },
    UntagQueue: (input) => {
      service.untagQueue(queueOf(input), optionalStringList(input, 'TagKeys') ?? []);
      return {};
    },
    ListQueueTags: (input) => {
      const tags = Object.fromEntries(queueOf(input).tags);
      return Object.keys(tags).length > 0 ? { Tags: tags } : {};
    },
    ListDeadLetterSourceQueues: (input) => {
      const page = service.listDeadLetterSourceQueues(
        queueOf(input),
        optionalInteger(input, 'MaxResults'),
        optionalString(input, 'NextToken'),
      );
      return { queueUrls: page.items, ...(page.nextToken && { NextToken: page.nextToken }) };
    },
    SendMessage: (input, { senderId }) => {
      const result = service.sendMessage(queueOf(input), { ...sendInputOf(input), senderId });
      return {
        MessageId: result.messageId,
        MD5OfMessageBody: result.md5OfMessageBody,
        ...(result.md5OfMessageAttributes && { MD5OfMessageAttributes: result.md5OfMessageAttributes }),
        ...(result.md5OfMessageSystemAttributes && {
          MD5OfMessageSystemAttributes: result.md5OfMessageSystemAttributes,
        }),
        ...(result.sequenceNumber && { SequenceNumber: result.sequenceNumber }),
      };
    },
    SendMessageBatch: (input, { senderId }) => {
      const queue = queueOf(input);
      const entries = batchEntries(input, 'SendMessageBatchRequestEntry');
      const size = entries.reduce((total, entry) => total + batchEntrySize(entry), 0);
      if (size > MAX_BATCH_BYTES) throw batchRequestTooLong(MAX_BATCH_BYTES, size);
      return runBatch(entries, (entry) => {
        const result = service.sendMessage(queue, { ...sendInputOf(entry), senderId });
        return {
          MessageId: result.messageId,
          MD5OfMessageBody: result.md5OfMessageBody,
          ...(result.md5OfMessageAttributes && { MD5OfMessageAttributes: result.md5OfMessageAttributes }),
          ...(result.md5OfMessageSystemAttributes && {
            MD5OfMessageSystemAttributes: result.md5OfMessageSystemAttributes,
          }),
          ...(result.sequenceNumber && { SequenceNumber: result.sequenceNumber }),
        };
      });
    },
    ReceiveMessage: async (input) => {
      const systemNames = [
        ...(optionalStringList(input, 'AttributeNames') ?? []),
        ...(optionalStringList(input, 'MessageSystemAttributeNames') ?? []),
      ];
      for (const name of systemNames) if (!SYSTEM_ATTRIBUTE_NAMES.has(name)) throw invalidAttributeName(name);
      const messageNames = optionalStringList(input, 'MessageAttributeNames') ?? [];
      const messages = await service.receiveMessages(queueOf(input), {
        max: optionalInteger(input, 'MaxNumberOfMessages'),
        visibilityTimeoutSeconds: optionalInteger(input, 'VisibilityTimeout'),
        waitSeconds: optionalInteger(input, 'WaitTimeSeconds'),
      });
      if (messages.length === 0) return {};
      return { Messages: messages.map((message) => toWireMessage(message, systemNames, messageNames)) };
    },
    DeleteMessage: (input) => {
      service.deleteMessage(queueOf(input), requiredString(input, 'ReceiptHandle'));
      return {};
    },
    DeleteMessageBatch: (input) => {
      const queue = queueOf(input);
      return runBatch(batchEntries(input, 'DeleteMessageBatchRequestEntry'), (entry) => {
        service.deleteMessage(queue, requiredString(entry, 'ReceiptHandle'));
        return {};
      });
    },
    ChangeMessageVisibility: (input) => {
      service.changeVisibility(
        queueOf(input),
        requiredString(input, 'ReceiptHandle'),
        optionalInteger(input, 'VisibilityTimeout'),
      );
      return {};
    },
    ChangeMessageVisibilityBatch: (input) => {
      const queue = queueOf(input);
      return runBatch(batchEntries(input, 'ChangeMessageVisibilityBatchRequestEntry'), (entry) => {
        service.changeVisibility(
          queue,
          requiredString(entry, 'ReceiptHandle'),
          optionalInteger(entry, 'VisibilityTimeout'),
        );
        return {};
      });
    },
    StartMessageMoveTask: (input) => ({
      TaskHandle: service.startMessageMoveTask({
        sourceArn: requiredString(input, 'SourceArn'),
        destinationArn: optionalString(input, 'DestinationArn'),
        maxNumberOfMessagesPerSecond: optionalInteger(input, 'MaxNumberOfMessagesPerSecond'),
      }),
    }),
    ListMessageMoveTasks: (input) => ({
      Results: service.listMessageMoveTasks(
        requiredString(input, 'SourceArn'),
        optionalInteger(input, 'MaxResults'),
      ),
    }),
    CancelMessageMoveTask: (input) => ({
      ApproximateNumberOfMessagesMoved: service.cancelMessageMoveTask(requiredString(input, 'TaskHandle')),
    }),
  };
}

// ── Messages on the wire ─────────────────────────────────────────────────────

function sendInputOf(input: Input) {
  return {
    body: requiredString(input, 'MessageBody'),
    messageAttributes: wireAttributesOf(input, 'MessageAttributes'),
    systemAttributes: wireAttributesOf(input, 'MessageSystemAttributes'),
    delaySeconds: optionalInteger(input, 'DelaySeconds'),
    messageGroupId: optionalString(input, 'MessageGroupId'),
    messageDeduplicationId: optionalString(input, 'MessageDeduplicationId'),
  };
}

/** Message attributes as JSON carries them: BinaryValue in base64. */
function wireAttributesOf(input: Input, key: string): Record<string, MessageAttributeInput> | undefined {
  const raw = optionalMap(input, key);
  if (!raw) return undefined;
  const attributes: Record<string, MessageAttributeInput> = {};
  for (const [name, value] of Object.entries(raw)) {
    if (typeof value !== 'object' || value === null)
      throw invalidParameterValue(`${key}.${name} must be an object.`);
    const attribute = value as Input;
    const binary = optionalString(attribute, 'BinaryValue');
    attributes[name] = {
      DataType: optionalString(attribute, 'DataType'),
      StringValue: optionalString(attribute, 'StringValue'),
      BinaryValue: binary === undefined ? undefined : Buffer.from(binary, 'base64'),
      StringListValues: optionalStringList(attribute, 'StringListValues'),
    };
  }
  return attributes;
}

function toWireMessage(
  message: ReceivedMessage,
  systemNames: readonly string[],
  messageNames: readonly string[],
): Record<string, unknown> {
  const everySystem = systemNames.includes('All');
  const attributes = Object.fromEntries(
    Object.entries(message.attributes).filter(([name]) => everySystem || systemNames.includes(name)),
  );
  const selected: Record<string, MessageAttribute> = {};
  for (const [name, attribute] of Object.entries(message.messageAttributes)) {
    if (messageNames.some((pattern) => matchesAttributeName(pattern, name))) selected[name] = attribute;
  }
  const md5 = md5OfMessageAttributes(selected);
  return {
    MessageId: message.messageId,
    ReceiptHandle: message.receiptHandle,
    MD5OfBody: message.md5OfBody,
    Body: message.body,
    ...(Object.keys(attributes).length > 0 && { Attributes: attributes }),
    ...(md5 && {
      MD5OfMessageAttributes: md5,
      MessageAttributes: Object.fromEntries(
        Object.entries(selected).map(([name, attribute]) => [
          name,
          {
            DataType: attribute.DataType,
            ...(attribute.StringValue !== undefined && { StringValue: attribute.StringValue }),
            ...(attribute.BinaryValue !== undefined && {
              BinaryValue: attribute.BinaryValue.toString('base64'),
            }),
          },
        ]),
      ),
    }),
  };
}

/** `All` and `.*` select every attribute; `prefix.*` the ones starting with `prefix`. */
function matchesAttributeName(pattern: string, name: string): boolean {
  if (pattern === 'All' || pattern === '.*') return true;
  if (pattern.endsWith('.*')) return name.startsWith(pattern.slice(0, -2));
  return pattern === name;
}

// ── Batches ──────────────────────────────────────────────────────────────────

function batchEntries(input: Input, entryShape: string): Input[] {
  const entries = input.Entries;
  if (entries === undefined) throw missingParameter('Entries');
  if (!Array.isArray(entries)) throw invalidParameterValue('Entries must be a list.');
  if (entries.length === 0) throw emptyBatchRequest(entryShape);
  if (entries.length > 10) throw tooManyEntriesInBatchRequest(entries.length);
  const seen = new Set<string>();
  for (const entry of entries) {
    if (typeof entry !== 'object' || entry === null)
      throw invalidParameterValue('Each entry must be an object.');
    const id = (entry as Input).Id;
    if (typeof id !== 'string' || !BATCH_ENTRY_ID.test(id)) throw invalidBatchEntryId();
    if (seen.has(id)) throw batchEntryIdsNotDistinct(id);
    seen.add(id);
  }
  return entries as Input[];
}

/** Bytes an entry counts toward the batch limit: its body plus its attributes' names, types and values. */
function batchEntrySize(entry: Input): number {
  let size = typeof entry.MessageBody === 'string' ? Buffer.byteLength(entry.MessageBody) : 0;
  const attributes = entry.MessageAttributes;
  if (typeof attributes === 'object' && attributes !== null) {
    for (const [name, value] of Object.entries(attributes)) {
      const attribute = (typeof value === 'object' && value !== null ? value : {}) as Input;
      size += Buffer.byteLength(name);
      for (const key of ['DataType', 'StringValue'] as const) {
        if (typeof attribute[key] === 'string') size += Buffer.byteLength(attribute[key]);
      }
      if (typeof attribute.BinaryValue === 'string')
        size += Buffer.from(attribute.BinaryValue, 'base64').length;
    }
  }
  return size;
}

/** Runs each entry; SQS errors become `Failed` entries, anything else fails the request. */
function runBatch(entries: readonly Input[], run: (entry: Input) => object) {
  const successful: object[] = [];
  const failed: object[] = [];
  for (const entry of entries) {
    const id = entry.Id as string;
    try {
      successful.push({ Id: id, ...run(entry) });
    } catch (error) {
      if (!(error instanceof SqsApiError)) throw error;
      failed.push({
        Id: id,
        SenderFault: error.fault === 'Sender',
        Code: error.queryCode,
        Message: error.message,
      });
    }
  }
  return { Successful: successful, Failed: failed };
}

// ── Input readers ────────────────────────────────────────────────────────────

function requiredString(input: Input, key: string): string {
  const value = optionalString(input, key);
  if (value === undefined || value === '') throw missingParameter(key);
  return value;
}

function optionalString(input: Input, key: string): string | undefined {
  const value = input[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw invalidParameterValue(`${key} must be a string.`);
  return value;
}

function optionalInteger(input: Input, key: string): number | undefined {
  const value = input[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    throw invalidParameterValue(
      `Value ${String(value)} for parameter ${key} is invalid. Reason: must be an integer.`,
    );
  }
  return value;
}

function optionalStringList(input: Input, key: string): string[] | undefined {
  const value = input[key];
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value) || !value.every((item) => typeof item === 'string')) {
    throw invalidParameterValue(`${key} must be a list of strings.`);
  }
  return value;
}

function optionalMap(input: Input, key: string): Record<string, unknown> | undefined {
  const value = input[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'object' || Array.isArray(value)) throw invalidParameterValue(`${key} must be a map.`);
  return value as Record<string, unknown>;
}

function optionalStringMap(input: Input, key: string): Record<string, string> | undefined {
  const value = optionalMap(input, key);
  if (value && !Object.values(value).every((item) => typeof item === 'string')) {
    throw invalidParameterValue(`${key} must map strings to strings.`);
  }
  return value as Record<string, string> | undefined;
}
