/**
 * Queue attributes: which names exist, their ranges and defaults, and the canonical
 * string each value is stored as (so CreateQueue can compare attributes for
 * idempotency and GetQueueAttributes echoes what AWS would).
 */
import {
  invalidAttributeName,
  invalidAttributeValue,
  invalidParameterValue,
  invalidValueFor,
  type SqsApiError,
} from './errors';

/** The settable attributes, as canonical strings. */
export type QueueAttributeMap = Record<string, string>;

export interface RedrivePolicy {
  readonly deadLetterTargetArn: string;
  readonly maxReceiveCount: number;
}

export interface RedriveAllowPolicy {
  readonly redrivePermission: 'allowAll' | 'denyAll' | 'byQueue';
  readonly sourceQueueArns?: readonly string[];
}

interface IntegerRange {
  readonly min: number;
  readonly max: number;
}

const INTEGER_ATTRIBUTES: Readonly<Record<string, IntegerRange>> = {
  DelaySeconds: { min: 0, max: 900 },
  MaximumMessageSize: { min: 1024, max: 1_048_576 },
  MessageRetentionPeriod: { min: 60, max: 1_209_600 },
  ReceiveMessageWaitTimeSeconds: { min: 0, max: 20 },
  VisibilityTimeout: { min: 0, max: 43_200 },
  KmsDataKeyReusePeriodSeconds: { min: 60, max: 86_400 },
};

const COMMON_SETTABLE = new Set([
  ...Object.keys(INTEGER_ATTRIBUTES),
  'Policy',
  'RedrivePolicy',
  'RedriveAllowPolicy',
  'KmsMasterKeyId',
  'SqsManagedSseEnabled',
]);
const FIFO_SETTABLE = new Set(['ContentBasedDeduplication', 'DeduplicationScope', 'FifoThroughputLimit']);

/** Attributes only GetQueueAttributes knows. */
export const READ_ONLY_ATTRIBUTES = [
  'ApproximateNumberOfMessages',
  'ApproximateNumberOfMessagesNotVisible',
  'ApproximateNumberOfMessagesDelayed',
  'CreatedTimestamp',
  'LastModifiedTimestamp',
  'QueueArn',
] as const;

/** Every name GetQueueAttributes accepts, besides `All`. */
export const GETTABLE_ATTRIBUTES: ReadonlySet<string> = new Set([
  ...COMMON_SETTABLE,
  ...FIFO_SETTABLE,
  'FifoQueue',
  ...READ_ONLY_ATTRIBUTES,
]);

/** AWS's defaults for a new queue. */
export function defaultAttributes(fifo: boolean): QueueAttributeMap {
  const defaults: QueueAttributeMap = {
    DelaySeconds: '0',
    MaximumMessageSize: '1048576',
    MessageRetentionPeriod: '345600',
    ReceiveMessageWaitTimeSeconds: '0',
    VisibilityTimeout: '30',
    SqsManagedSseEnabled: 'true',
  };
  if (fifo) {
    Object.assign(defaults, {
      FifoQueue: 'true',
      ContentBasedDeduplication: 'false',
      DeduplicationScope: 'queue',
      FifoThroughputLimit: 'perQueue',
    });
  }
  return defaults;
}

/**
 * Validates attributes from CreateQueue or SetQueueAttributes and returns them as
 * canonical strings. An empty string for RedrivePolicy, RedriveAllowPolicy, Policy or
 * KmsMasterKeyId means "remove". Cross-queue checks (does the dead-letter queue exist)
 * are the caller's.
 */
export function normalizeAttributes(
  input: Readonly<Record<string, unknown>>,
  queue: { readonly fifo: boolean; readonly creating: boolean },
): QueueAttributeMap {
  const normalized: QueueAttributeMap = {};
  for (const [name, raw] of Object.entries(input)) {
    if (typeof raw !== 'string') throw invalidAttributeValue(name);
    if (name === 'FifoQueue') {
      const value = normalizeBoolean(name, raw);
      if (value !== String(queue.fifo)) {
        throw queue.creating
          ? invalidParameterValue(
              'The name of a FIFO queue can only include alphanumeric characters, hyphens, or underscores, must end with .fifo suffix and be 1 to 80 in length.',
            )
          : invalidAttributeValue(name, 'FifoQueue can only be set on queue creation.');
      }
      if (queue.fifo) normalized[name] = value;
      continue;
    }
    if (FIFO_SETTABLE.has(name) && !queue.fifo) throw invalidAttributeName(name);
    if (!COMMON_SETTABLE.has(name) && !FIFO_SETTABLE.has(name)) throw invalidAttributeName(name);
    normalized[name] = normalizeValue(name, raw);
  }
  if (normalized.KmsMasterKeyId && normalized.SqsManagedSseEnabled === 'true') {
    throw invalidAttributeValue(
      'SqsManagedSseEnabled',
      'You can use one type of server-side encryption (SSE) at one time. You can either enable KMS SSE or SQS SSE.',
    );
  }
  return normalized;
}

function normalizeValue(name: string, raw: string): string {
  const range = INTEGER_ATTRIBUTES[name];
  if (range) return normalizeInteger(name, raw, range);
  switch (name) {
    case 'SqsManagedSseEnabled':
    case 'ContentBasedDeduplication':
      return normalizeBoolean(name, raw);
    case 'DeduplicationScope':
      return oneOf(name, raw, ['messageGroup', 'queue']);
    case 'FifoThroughputLimit':
      return oneOf(name, raw, ['perQueue', 'perMessageGroupId']);
    case 'RedrivePolicy':
      return raw === '' ? '' : JSON.stringify(parseRedrivePolicy(raw));
    case 'RedriveAllowPolicy':
      return raw === '' ? '' : JSON.stringify(parseRedriveAllowPolicy(raw));
    case 'Policy':
      return raw === '' ? '' : normalizePolicy(raw);
    default:
      // KmsMasterKeyId: any key id, alias or ARN; KMS is not emulated.
      return raw;
  }
}

function normalizeInteger(name: string, raw: string, range: IntegerRange): string {
  const value = Number(raw.trim());
  if (!/^\s*-?\d+\s*$/.test(raw) || value < range.min || value > range.max) throw invalidAttributeValue(name);
  return String(value);
}

function normalizeBoolean(name: string, raw: string): string {
  const value = raw.toLowerCase();
  if (value !== 'true' && value !== 'false') throw invalidAttributeValue(name);
  return value;
}

function oneOf(name: string, raw: string, allowed: readonly string[]): string {
  if (!allowed.includes(raw)) throw invalidAttributeValue(name);
  return raw;
}

function normalizePolicy(raw: string): string {
  try {
    return JSON.stringify(JSON.parse(raw));
  } catch (cause) {
    throw Object.assign(invalidAttributeValue('Policy', 'Invalid JSON.'), { cause });
  }
}

function parseJsonObject(raw: string, notAMap: () => SqsApiError): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw notAMap();
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw notAMap();
  return parsed as Record<string, unknown>;
}

/** Parses a stored or requested RedrivePolicy; `maxReceiveCount` may be a number or a numeric string. */
export function parseRedrivePolicy(raw: string): RedrivePolicy {
  const invalid = (reason: string) => invalidValueFor('RedrivePolicy', raw, reason);
  const policy = parseJsonObject(raw, () => invalid('Redrive policy is not a valid JSON map.'));
  for (const key of Object.keys(policy)) {
    if (key !== 'deadLetterTargetArn' && key !== 'maxReceiveCount') {
      throw invalid(`Only following attributes are supported: [deadLetterTargetArn, maxReceiveCount].`);
    }
  }
  const { deadLetterTargetArn, maxReceiveCount } = policy;
  if (
    typeof deadLetterTargetArn !== 'string' ||
    !/^arn:[^:]+:sqs:[^:]*:[^:]*:[^:]+$/.test(deadLetterTargetArn)
  ) {
    throw invalid('Invalid value for deadLetterTargetArn.');
  }
  const count =
    typeof maxReceiveCount === 'string' && /^\d+$/.test(maxReceiveCount)
      ? Number(maxReceiveCount)
      : maxReceiveCount;
  if (typeof count !== 'number' || !Number.isInteger(count) || count < 1 || count > 1000) {
    throw invalid(
      `Invalid value for maxReceiveCount: ${String(maxReceiveCount)}, valid values are from 1 to 1000 both inclusive.`,
    );
  }
  return { deadLetterTargetArn, maxReceiveCount: count };
}

/** Parses a stored or requested RedriveAllowPolicy. */
export function parseRedriveAllowPolicy(raw: string): RedriveAllowPolicy {
  const invalid = (reason: string) => invalidValueFor('RedriveAllowPolicy', raw, reason);
  const policy = parseJsonObject(raw, () => invalid('Redrive allow policy is not a valid JSON map.'));
  const { redrivePermission, sourceQueueArns } = policy;
  if (
    redrivePermission !== 'allowAll' &&
    redrivePermission !== 'denyAll' &&
    redrivePermission !== 'byQueue'
  ) {
    throw invalid('Invalid value for redrivePermission.');
  }
  if (sourceQueueArns === undefined) {
    if (redrivePermission === 'byQueue')
      throw invalid('sourceQueueArns is required when redrivePermission is byQueue.');
    return { redrivePermission };
  }
  if (redrivePermission !== 'byQueue') {
    throw invalid('sourceQueueArns can be specified only when redrivePermission is byQueue.');
  }
  if (
    !Array.isArray(sourceQueueArns) ||
    sourceQueueArns.length === 0 ||
    sourceQueueArns.length > 10 ||
    !sourceQueueArns.every((arn) => typeof arn === 'string')
  ) {
    throw invalid('sourceQueueArns must list between 1 and 10 queue ARNs.');
  }
  return { redrivePermission, sourceQueueArns: sourceQueueArns as string[] };
}
