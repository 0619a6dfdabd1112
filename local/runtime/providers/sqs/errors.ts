/**
 * SQS errors as the AWS JSON 1.0 protocol carries them: the Smithy shape name goes into
 * `__type` (`com.amazonaws.sqs#QueueDoesNotExist`), the legacy query code into the
 * `x-amzn-query-error: <code>;Sender` header, which SDKs in query-compatible mode and the
 * AWS CLI show as the error code. Shapes, codes and statuses follow the SQS service model
 * (`@aws-sdk/client-sqs` schemas); shapes the model lacks (InvalidParameterValue,
 * MissingParameter) use their query code as the shape name.
 */

export type SqsFault = 'Sender' | 'Receiver';

/** One SQS error; `shape` and `queryCode` say how it travels, `status` is the HTTP status. */
export class SqsApiError extends Error {
  override readonly name = 'SqsApiError';
  readonly fault: SqsFault;
  /** `com.amazonaws.sqs`, or `com.amazon.coral.service` for protocol-level errors. */
  readonly namespace: string;

  constructor(
    readonly shape: string,
    readonly queryCode: string,
    readonly status: number,
    message: string,
    options?: { cause?: unknown; fault?: SqsFault; namespace?: string },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.fault = options?.fault ?? 'Sender';
    this.namespace = options?.namespace ?? 'com.amazonaws.sqs';
  }
}

const error = (shape: string, queryCode: string, status: number, message: string): SqsApiError =>
  new SqsApiError(shape, queryCode, status, message);

export const queueDoesNotExist = (): SqsApiError =>
  error(
    'QueueDoesNotExist',
    'AWS.SimpleQueueService.NonExistentQueue',
    400,
    'The specified queue does not exist.',
  );

export const queueNameExists = (attribute: string): SqsApiError =>
  error(
    'QueueNameExists',
    'QueueAlreadyExists',
    400,
    `A queue already exists with the same name and a different value for attribute ${attribute}`,
  );

export const invalidParameterValue = (message: string): SqsApiError =>
  error('InvalidParameterValue', 'InvalidParameterValue', 400, message);

/** AWS's wording for a value outside its range: `Value <v> for parameter <p> is invalid. Reason: <r>`. */
export const invalidValueFor = (parameter: string, value: unknown, reason: string): SqsApiError =>
  invalidParameterValue(`Value ${String(value)} for parameter ${parameter} is invalid. Reason: ${reason}`);

export const missingParameter = (parameter: string): SqsApiError =>
  error('MissingParameter', 'MissingParameter', 400, `The request must contain the parameter ${parameter}.`);

export const invalidAttributeName = (attribute: string): SqsApiError =>
  error('InvalidAttributeName', 'InvalidAttributeName', 400, `Unknown Attribute ${attribute}.`);

export const invalidAttributeValue = (attribute: string, reason?: string): SqsApiError =>
  error(
    'InvalidAttributeValue',
    'InvalidAttributeValue',
    400,
    `Invalid value for the parameter ${attribute}.${reason ? ` Reason: ${reason}` : ''}`,
  );

export const invalidMessageContents = (): SqsApiError =>
  error(
    'InvalidMessageContents',
    'InvalidMessageContents',
    400,
    'Invalid characters found. Valid unicode characters are #x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF',
  );

export const receiptHandleIsInvalid = (handle: string): SqsApiError =>
  error(
    'ReceiptHandleIsInvalid',
    'ReceiptHandleIsInvalid',
    404,
    `The input receipt handle "${handle}" is not a valid receipt handle.`,
  );

export const messageNotInflight = (): SqsApiError =>
  error(
    'MessageNotInflight',
    'AWS.SimpleQueueService.MessageNotInflight',
    400,
    'The message is not in flight.',
  );

export const purgeQueueInProgress = (queueName: string): SqsApiError =>
  error(
    'PurgeQueueInProgress',
    'AWS.SimpleQueueService.PurgeQueueInProgress',
    403,
    `Only one PurgeQueue operation on ${queueName} is allowed every 60 seconds.`,
  );

export const emptyBatchRequest = (entryShape: string): SqsApiError =>
  error(
    'EmptyBatchRequest',
    'AWS.SimpleQueueService.EmptyBatchRequest',
    400,
    `There should be at least one ${entryShape} in the request.`,
  );

export const tooManyEntriesInBatchRequest = (count: number): SqsApiError =>
  error(
    'TooManyEntriesInBatchRequest',
    'AWS.SimpleQueueService.TooManyEntriesInBatchRequest',
    400,
    `Maximum number of entries per request are 10. You have sent ${count}.`,
  );

export const batchEntryIdsNotDistinct = (id: string): SqsApiError =>
  error(
    'BatchEntryIdsNotDistinct',
    'AWS.SimpleQueueService.BatchEntryIdsNotDistinct',
    400,
    `Id ${id} repeated.`,
  );

export const invalidBatchEntryId = (): SqsApiError =>
  error(
    'InvalidBatchEntryId',
    'AWS.SimpleQueueService.InvalidBatchEntryId',
    400,
    'A batch entry id can only contain alphanumeric characters, hyphens and underscores. It can be at most 80 letters long.',
  );

export const batchRequestTooLong = (limit: number, size: number): SqsApiError =>
  error(
    'BatchRequestTooLong',
    'AWS.SimpleQueueService.BatchRequestTooLong',
    400,
    `Batch requests cannot be longer than ${limit} bytes. You have sent ${size} bytes.`,
  );

export const resourceNotFound = (message: string): SqsApiError =>
  error('ResourceNotFoundException', 'ResourceNotFoundException', 404, message);

export const unsupportedOperation = (message: string): SqsApiError =>
  error('UnsupportedOperation', 'AWS.SimpleQueueService.UnsupportedOperation', 400, message);

export const unknownOperation = (operation: string): SqsApiError =>
  new SqsApiError(
    'UnknownOperationException',
    'InvalidAction',
    400,
    `The operation ${operation} is not supported by the local SQS.`,
    { namespace: 'com.amazon.coral.service' },
  );

export const serializationError = (reason: string): SqsApiError =>
  new SqsApiError('SerializationException', 'MalformedQueryString', 400, reason, {
    namespace: 'com.amazon.coral.service',
  });
