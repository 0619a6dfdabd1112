/**
 * The local SQS: every queue in one region and account, and every operation on them,
 * independent of any wire protocol. `json-protocol.ts` serves it over HTTP; other
 * providers (Lambda event source mappings, Step Functions) call it in process.
 *
 * Semantics follow SQS: visibility timeouts, delays, long polls that answer as soon as
 * a message is visible, ApproximateReceiveCount, redrive to the dead-letter queue on the
 * receive after `maxReceiveCount` receives, message move tasks, and FIFO groups with
 * deduplication. README.md in this folder lists the known differences.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { GETTABLE_ATTRIBUTES, normalizeAttributes, parseRedrivePolicy } from './attributes';
import {
  invalidAttributeName,
  invalidParameterValue,
  invalidValueFor,
  messageNotInflight,
  missingParameter,
  purgeQueueInProgress,
  queueDoesNotExist,
  queueNameExists,
  receiptHandleIsInvalid,
} from './errors';
import { type MessageAttribute, md5Hex, md5OfMessageAttributes } from './md5';
import {
  assertValidCharacters,
  attributeSize,
  type MessageAttributeInput,
  validateMessageAttributes,
  validateSystemAttributes,
} from './messages';
import { MoveTasks } from './move-tasks';
import { SqsQueue, type StoredMessage } from './queue';

export interface SqsServiceOptions {
  /** @default 'us-east-1' */
  readonly region?: string;
  /** @default '000000000000' */
  readonly accountId?: string;
  /** Base of queue URLs, e.g. `http://127.0.0.1:4566`. @default 'http://127.0.0.1:4566' */
  readonly endpoint?: string;
}

/** What SendMessage takes, in the service's own terms. */
export interface SendMessageInput {
  readonly body: string;
  readonly messageAttributes?: Readonly<Record<string, MessageAttributeInput>>;
  /** Only `AWSTraceHeader` exists. */
  readonly systemAttributes?: Readonly<Record<string, MessageAttributeInput>>;
  /** 0–900; standard queues only. Defaults to the queue's DelaySeconds. */
  readonly delaySeconds?: number;
  /** Required on FIFO queues; optional (fair queues) on standard ones. */
  readonly messageGroupId?: string;
  /** FIFO only; required unless the queue has ContentBasedDeduplication. */
  readonly messageDeduplicationId?: string;
  /** Reported as the SenderId system attribute. @default the account id */
  readonly senderId?: string;
}

export interface SendMessageResult {
  readonly messageId: string;
  readonly md5OfMessageBody: string;
  readonly md5OfMessageAttributes?: string;
  readonly md5OfMessageSystemAttributes?: string;
  /** FIFO queues only. */
  readonly sequenceNumber?: string;
}

export interface ReceiveOptions {
  /** MaxNumberOfMessages, 1–10. @default 1 */
  readonly max?: number;
  /** Hides the received messages this long instead of the queue's VisibilityTimeout. */
  readonly visibilityTimeoutSeconds?: number;
  /** Long poll up to this long (0–20) for a first message. @default the queue's ReceiveMessageWaitTimeSeconds */
  readonly waitSeconds?: number;
  /** Ends a long poll early, answering no messages. */
  readonly signal?: AbortSignal;
}

/** A received message with every system and message attribute. */
export interface ReceivedMessage {
  readonly messageId: string;
  readonly receiptHandle: string;
  readonly body: string;
  readonly md5OfBody: string;
  /** System attributes: SenderId, SentTimestamp, ApproximateReceiveCount, ApproximateFirstReceiveTimestamp, and the FIFO, trace and dead-letter ones when they apply. */
  readonly attributes: Readonly<Record<string, string>>;
  readonly messageAttributes: Readonly<Record<string, MessageAttribute>>;
  readonly md5OfMessageAttributes?: string;
  /** The ARN of the queue it was received from. */
  readonly queueArn: string;
}

export interface Page<T> {
  readonly items: readonly T[];
  readonly nextToken?: string;
}

const QUEUE_NAME = /^[A-Za-z0-9_-]{1,80}$/;
const FIFO_QUEUE_NAME = /^[A-Za-z0-9_-]{1,75}\.fifo$/;
const FIFO_ID = /^[\x21-\x7e]{1,128}$/;
const DEDUPLICATION_WINDOW_MS = 5 * 60 * 1000;
const PURGE_INTERVAL_MS = 60 * 1000;
/** A long poll re-checks at most this often per wake-up; bounds its loop. */
const MAX_POLL_ROUNDS = 10_000;
/** Names ReceiveMessage accepts in MessageSystemAttributeNames (and the legacy AttributeNames). */
export const SYSTEM_ATTRIBUTE_NAMES: ReadonlySet<string> = new Set([
  'All',
  'SenderId',
  'SentTimestamp',
  'ApproximateReceiveCount',
  'ApproximateFirstReceiveTimestamp',
  'SequenceNumber',
  'MessageDeduplicationId',
  'MessageGroupId',
  'AWSTraceHeader',
  'DeadLetterQueueSourceArn',
]);

/** Thrown to in-process callers once the provider has stopped. */
export class SqsStoppedError extends Error {
  override readonly name = 'SqsStoppedError';
  constructor() {
    super('The local SQS has stopped.');
  }
}

export class SqsService {
  region: string;
  accountId: string;
  private endpoint: string;
  private readonly queues = new Map<string, SqsQueue>();
  private readonly moveTasks: MoveTasks;
  private lifecycle = SqsService.lifecycleController();
  private sequence = 0n;

  constructor(options: SqsServiceOptions = {}) {
    this.region = options.region ?? 'us-east-1';
    this.accountId = options.accountId ?? '000000000000';
    this.endpoint = (options.endpoint ?? 'http://127.0.0.1:4566').replace(/\/$/, '');
    this.moveTasks = new MoveTasks({
      queueByArn: (arn) => this.findByArn(arn),
      isDeadLetterQueue: (queue) => this.sourcesOf(queue).length > 0,
      transfer: (message, from, to) => this.transfer(message, from, to),
    });
  }

  /** Sets where queue URLs point; existing queues keep theirs. */
  configure(options: SqsServiceOptions): void {
    if (options.region) this.region = options.region;
    if (options.accountId) this.accountId = options.accountId;
    if (options.endpoint) this.endpoint = options.endpoint.replace(/\/$/, '');
    if (this.lifecycle.signal.aborted) this.lifecycle = SqsService.lifecycleController();
  }

  /** Ends every long poll (they answer no messages) and every move task's timer. */
  stop(): void {
    this.lifecycle.abort();
    this.moveTasks.stop();
  }

  get stopped(): boolean {
    return this.lifecycle.signal.aborted;
  }

  // ── Queues ────────────────────────────────────────────────────────────────

  arnOf(name: string): string {
    return `arn:aws:sqs:${this.region}:${this.accountId}:${name}`;
  }

  /** Finds a queue by URL (any host: only `/<account>/<name>` counts), ARN or name. */
  resolve(queueUrlOrArnOrName: string): SqsQueue {
    const queue = queueUrlOrArnOrName.startsWith('arn:')
      ? this.findByArn(queueUrlOrArnOrName)
      : this.queues.get(nameFromUrl(queueUrlOrArnOrName));
    if (!queue) throw queueDoesNotExist();
    return queue;
  }

  findByArn(arn: string): SqsQueue | undefined {
    const parts = arn.split(':');
    if (parts.length !== 6 || parts[2] !== 'sqs') return undefined;
    const queue = this.queues.get(parts[5] ?? '');
    return queue && queue.arn === arn ? queue : undefined;
  }

  createQueue(
    name: string | undefined,
    attributes: Readonly<Record<string, unknown>> = {},
    tags: Readonly<Record<string, string>> = {},
  ): SqsQueue {
    if (!name) throw missingParameter('QueueName');
    const fifo = String(attributes.FifoQueue).toLowerCase() === 'true';
    if (fifo ? !FIFO_QUEUE_NAME.test(name) : !QUEUE_NAME.test(name)) {
      throw invalidParameterValue(
        fifo || name.endsWith('.fifo')
          ? 'The name of a FIFO queue can only include alphanumeric characters, hyphens, or underscores, must end with .fifo suffix and be 1 to 80 in length.'
          : 'Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length',
      );
    }
    const normalized = normalizeAttributes(attributes, { fifo, creating: true });
    const existing = this.queues.get(name);
    if (existing) {
      const effective = existing.effectiveAttributes();
      for (const [key, value] of Object.entries(normalized)) {
        if (value !== (effective[key] ?? '')) throw queueNameExists(key);
      }
      return existing;
    }
    const arn = this.arnOf(name);
    if (normalized.RedrivePolicy) this.assertRedriveAllowed(arn, fifo, normalized.RedrivePolicy);
    if (normalized.KmsMasterKeyId && normalized.SqsManagedSseEnabled === undefined) {
      normalized.SqsManagedSseEnabled = 'false';
    }
    for (const [key, value] of Object.entries(normalized)) if (value === '') delete normalized[key];
    const queue = new SqsQueue(
      name,
      arn,
      `${this.endpoint}/${this.accountId}/${name}`,
      fifo,
      Date.now(),
      normalized,
    );
    for (const [key, value] of Object.entries(tags)) queue.tags.set(key, value);
    this.queues.set(name, queue);
    return queue;
  }

  listQueues(prefix = '', maxResults?: number, nextToken?: string): Page<string> {
    const names = [...this.queues.keys()].filter((name) => name.startsWith(prefix)).sort();
    return paginate(names, maxResults, nextToken, 1000, (name) => this.queues.get(name)?.url ?? '');
  }

  /** GetQueueAttributes: `All`, or the named ones; unknown names fail with InvalidAttributeName. */
  getAttributes(queue: SqsQueue, names: readonly string[]): Record<string, string> {
    for (const name of names) {
      if (name !== 'All' && !GETTABLE_ATTRIBUTES.has(name)) throw invalidAttributeName(name);
    }
    if (names.length === 0) return {};
    const counts = queue.counts(Date.now());
    const all: Record<string, string> = {
      ...queue.effectiveAttributes(),
      QueueArn: queue.arn,
      ApproximateNumberOfMessages: String(counts.visible),
      ApproximateNumberOfMessagesNotVisible: String(counts.notVisible),
      ApproximateNumberOfMessagesDelayed: String(counts.delayed),
      CreatedTimestamp: String(Math.floor(queue.createdAt / 1000)),
      LastModifiedTimestamp: String(Math.floor(queue.lastModifiedAt / 1000)),
    };
    if (names.includes('All')) return all;
    const picked: Record<string, string> = {};
    for (const name of names) {
      const value = all[name];
      if (value !== undefined) picked[name] = value;
    }
    return picked;
  }

  setAttributes(queue: SqsQueue, attributes: Readonly<Record<string, unknown>>): void {
    const normalized = normalizeAttributes(attributes, { fifo: queue.fifo, creating: false });
    if (normalized.RedrivePolicy) this.assertRedriveAllowed(queue.arn, queue.fifo, normalized.RedrivePolicy);
    const next = { ...queue.attributes };
    for (const [key, value] of Object.entries(normalized)) {
      if (value === '') delete next[key];
      else next[key] = value;
    }
    if (normalized.KmsMasterKeyId && normalized.SqsManagedSseEnabled === undefined) {
      next.SqsManagedSseEnabled = 'false';
    }
    if (normalized.SqsManagedSseEnabled === 'true') {
      delete next.KmsMasterKeyId;
      delete next.KmsDataKeyReusePeriodSeconds;
    }
    queue.attributes = next;
    queue.lastModifiedAt = Date.now();
    queue.notify();
  }

  deleteQueue(queue: SqsQueue): void {
    this.queues.delete(queue.name);
    queue.deleted = true;
    queue.messages.clear();
    queue.notify();
  }

  purgeQueue(queue: SqsQueue): void {
    const now = Date.now();
    if (queue.lastPurgeAt !== undefined && now - queue.lastPurgeAt < PURGE_INTERVAL_MS) {
      throw purgeQueueInProgress(queue.name);
    }
    queue.messages.clear();
    queue.lastPurgeAt = now;
  }

  listDeadLetterSourceQueues(queue: SqsQueue, maxResults?: number, nextToken?: string): Page<string> {
    const names = this.sourcesOf(queue)
      .map((source) => source.name)
      .sort();
    return paginate(names, maxResults, nextToken, 1000, (name) => this.queues.get(name)?.url ?? '');
  }

  tagQueue(queue: SqsQueue, tags: Readonly<Record<string, string>>): void {
    for (const [key, value] of Object.entries(tags)) queue.tags.set(key, value);
  }

  untagQueue(queue: SqsQueue, keys: readonly string[]): void {
    for (const key of keys) queue.tags.delete(key);
  }

  // ── Messages ──────────────────────────────────────────────────────────────

  sendMessage(queue: SqsQueue, input: SendMessageInput): SendMessageResult {
    const { body } = input;
    if (body === undefined || body === '') throw missingParameter('MessageBody');
    assertValidCharacters(body);
    const messageAttributes = validateMessageAttributes(input.messageAttributes);
    const systemAttributes = validateSystemAttributes(input.systemAttributes);
    const maxSize = queue.integer('MaximumMessageSize');
    if (Buffer.byteLength(body) + attributeSize(messageAttributes) > maxSize) {
      throw invalidParameterValue(
        `One or more parameters are invalid. Reason: Message must be shorter than ${maxSize} bytes.`,
      );
    }
    const delaySeconds = this.delayOf(queue, input.delaySeconds);
    const now = Date.now();
    const md5OfMessageBody = md5Hex(body);
    const md5OfAttributes = md5OfMessageAttributes(messageAttributes);
    const md5OfSystemAttributes = md5OfMessageAttributes(systemAttributes);
    const digests = {
      md5OfMessageBody,
      ...(md5OfAttributes && { md5OfMessageAttributes: md5OfAttributes }),
      ...(md5OfSystemAttributes && { md5OfMessageSystemAttributes: md5OfSystemAttributes }),
    };

    let fifo: { groupId: string; deduplicationId: string; key: string; sequenceNumber: string } | undefined;
    if (queue.fifo) {
      const groupId = requireFifoId('MessageGroupId', input.messageGroupId);
      const deduplicationId = requireFifoId(
        'MessageDeduplicationId',
        input.messageDeduplicationId ?? this.contentDeduplicationId(queue, body),
      );
      const key =
        queue.attributes.DeduplicationScope === 'messageGroup'
          ? `${groupId}\n${deduplicationId}`
          : deduplicationId;
      queue.dropExpired(now);
      const earlier = queue.deduplication.get(key);
      if (earlier) {
        return { messageId: earlier.messageId, sequenceNumber: earlier.sequenceNumber, ...digests };
      }
      fifo = { groupId, deduplicationId, key, sequenceNumber: this.nextSequenceNumber() };
    } else {
      if (input.messageDeduplicationId !== undefined) {
        throw invalidValueFor(
          'MessageDeduplicationId',
          input.messageDeduplicationId,
          'The request include parameter that is not valid for this queue type',
        );
      }
      if (input.messageGroupId !== undefined) requireFifoId('MessageGroupId', input.messageGroupId);
    }

    const messageId = randomUUID();
    const message: StoredMessage = {
      messageId,
      body,
      md5OfBody: md5OfMessageBody,
      messageAttributes,
      systemAttributes,
      senderId: input.senderId ?? this.accountId,
      sentTimestamp: now,
      visibleAt: now + delaySeconds * 1000,
      receiveCount: 0,
      messageGroupId: fifo?.groupId ?? input.messageGroupId,
      messageDeduplicationId: fifo?.deduplicationId,
      sequenceNumber: fifo?.sequenceNumber,
    };
    if (fifo) {
      queue.deduplication.set(fifo.key, {
        messageId,
        sequenceNumber: fifo.sequenceNumber,
        expiresAt: now + DEDUPLICATION_WINDOW_MS,
      });
    }
    queue.messages.set(messageId, message);
    // Wake long polls even for a delayed message: they re-arm their timer for it.
    queue.notify();
    return { messageId, ...digests, ...(fifo && { sequenceNumber: fifo.sequenceNumber }) };
  }

  /**
   * ReceiveMessage: up to `max` visible messages, long-polling up to `waitSeconds` for
   * the first. A message received `maxReceiveCount` times moves to the dead-letter queue
   * when a receive finds it visible again, and is not returned.
   */
  async receiveMessages(queue: SqsQueue, options: ReceiveOptions = {}): Promise<ReceivedMessage[]> {
    if (this.stopped) throw new SqsStoppedError();
    const max = options.max ?? 1;
    if (!Number.isInteger(max) || max < 1 || max > 10) {
      throw invalidValueFor('MaxNumberOfMessages', max, 'Must be between 1 and 10, if provided.');
    }
    const visibility = options.visibilityTimeoutSeconds;
    if (
      visibility !== undefined &&
      (!Number.isInteger(visibility) || visibility < 0 || visibility > 43_200)
    ) {
      throw invalidValueFor('VisibilityTimeout', visibility, 'Must be >= 0 and <= 43200, if provided.');
    }
    const waitSeconds = options.waitSeconds ?? queue.integer('ReceiveMessageWaitTimeSeconds');
    if (!Number.isInteger(waitSeconds) || waitSeconds < 0 || waitSeconds > 20) {
      throw invalidValueFor('WaitTimeSeconds', waitSeconds, 'Must be >= 0 and <= 20, if provided.');
    }
    const deadline = Date.now() + waitSeconds * 1000;
    for (let round = 0; round < MAX_POLL_ROUNDS; round += 1) {
      if (queue.deleted) return [];
      const received = this.receiveOnce(queue, max, visibility ?? queue.integer('VisibilityTimeout'));
      const now = Date.now();
      if (received.length > 0 || now >= deadline || this.stopped || options.signal?.aborted) return received;
      const nextVisibleAt = queue.nextVisibleAt(now);
      const wakeAt = nextVisibleAt === undefined ? deadline : Math.min(deadline, nextVisibleAt);
      await this.waitForChange(queue, wakeAt - now, options.signal);
    }
    return [];
  }

  /** DeleteMessage: a handle of this queue deletes its message if it is still there. */
  deleteMessage(queue: SqsQueue, receiptHandle: string | undefined): void {
    if (!receiptHandle) throw missingParameter('ReceiptHandle');
    const handle = decodeReceiptHandle(receiptHandle);
    if (!handle || handle.queueArn !== queue.arn) throw receiptHandleIsInvalid(receiptHandle);
    queue.messages.delete(handle.messageId);
  }

  /** ChangeMessageVisibility: hides an in-flight message for `seconds` from now; 0 releases it. */
  changeVisibility(queue: SqsQueue, receiptHandle: string | undefined, seconds: number | undefined): void {
    if (!receiptHandle) throw missingParameter('ReceiptHandle');
    if (seconds === undefined) throw missingParameter('VisibilityTimeout');
    if (!Number.isInteger(seconds) || seconds < 0 || seconds > 43_200) {
      throw invalidValueFor('VisibilityTimeout', seconds, 'Must be >= 0 and <= 43200, if provided.');
    }
    const handle = decodeReceiptHandle(receiptHandle);
    if (!handle || handle.queueArn !== queue.arn) throw receiptHandleIsInvalid(receiptHandle);
    const message = queue.messages.get(handle.messageId);
    if (!message || message.receiptToken !== handle.token) {
      throw invalidValueFor(
        'ReceiptHandle',
        receiptHandle,
        'Message does not exist or is not available for visibility timeout change.',
      );
    }
    const now = Date.now();
    if (message.visibleAt <= now) throw messageNotInflight();
    message.visibleAt = now + seconds * 1000;
    queue.notify();
  }

  // ── Dead-letter queues and move tasks ─────────────────────────────────────

  startMessageMoveTask(input: {
    sourceArn?: string;
    destinationArn?: string;
    maxNumberOfMessagesPerSecond?: number;
  }): string {
    return this.moveTasks.start(input);
  }

  listMessageMoveTasks(sourceArn: string | undefined, maxResults?: number) {
    return this.moveTasks.list(sourceArn, maxResults);
  }

  cancelMessageMoveTask(taskHandle: string | undefined): number {
    return this.moveTasks.cancel(taskHandle);
  }

  // ── Internals ─────────────────────────────────────────────────────────────

  private receiveOnce(queue: SqsQueue, max: number, visibilitySeconds: number): ReceivedMessage[] {
    const now = Date.now();
    queue.dropExpired(now);
    const policy = queue.redrivePolicy;
    const deadLetterQueue = policy && this.findByArn(policy.deadLetterTargetArn);
    const blockedGroups = new Set<string>();
    const received: ReceivedMessage[] = [];
    for (const message of [...queue.messages.values()]) {
      if (received.length >= max) break;
      const group = message.messageGroupId ?? '';
      if (message.visibleAt > now) {
        if (queue.fifo) blockedGroups.add(group);
        continue;
      }
      if (queue.fifo && blockedGroups.has(group)) continue;
      if (policy && deadLetterQueue && message.receiveCount >= policy.maxReceiveCount) {
        this.moveToDeadLetterQueue(message, queue, deadLetterQueue, now);
        continue;
      }
      message.receiveCount += 1;
      message.firstReceiveTimestamp ??= now;
      message.receiptToken = randomBytes(12).toString('hex');
      message.visibleAt = now + visibilitySeconds * 1000;
      received.push(this.toReceived(queue, message));
    }
    return received;
  }

  private moveToDeadLetterQueue(message: StoredMessage, from: SqsQueue, to: SqsQueue, now: number): void {
    from.messages.delete(message.messageId);
    to.messages.set(message.messageId, {
      ...message,
      visibleAt: now,
      receiptToken: undefined,
      deadLetterSourceArn: from.arn,
    });
    to.notify();
  }

  /** A move task's step: the message starts over in `to`, as if sent now. */
  private transfer(message: StoredMessage, from: SqsQueue, to: SqsQueue): void {
    const now = Date.now();
    from.messages.delete(message.messageId);
    to.messages.set(message.messageId, {
      ...message,
      sentTimestamp: now,
      visibleAt: now,
      receiveCount: 0,
      firstReceiveTimestamp: undefined,
      receiptToken: undefined,
      deadLetterSourceArn: undefined,
    });
    to.notify();
  }

  private toReceived(queue: SqsQueue, message: StoredMessage): ReceivedMessage {
    const attributes: Record<string, string> = {
      SenderId: message.senderId,
      SentTimestamp: String(message.sentTimestamp),
      ApproximateReceiveCount: String(message.receiveCount),
      ApproximateFirstReceiveTimestamp: String(message.firstReceiveTimestamp ?? message.sentTimestamp),
    };
    const trace = message.systemAttributes.AWSTraceHeader?.StringValue;
    if (trace) attributes.AWSTraceHeader = trace;
    if (message.deadLetterSourceArn) attributes.DeadLetterQueueSourceArn = message.deadLetterSourceArn;
    if (message.messageGroupId) attributes.MessageGroupId = message.messageGroupId;
    if (message.sequenceNumber) attributes.SequenceNumber = message.sequenceNumber;
    if (message.messageDeduplicationId) attributes.MessageDeduplicationId = message.messageDeduplicationId;
    const md5 = md5OfMessageAttributes(message.messageAttributes);
    return {
      messageId: message.messageId,
      receiptHandle: encodeReceiptHandle(queue.arn, message.messageId, message.receiptToken ?? ''),
      body: message.body,
      md5OfBody: message.md5OfBody,
      attributes,
      messageAttributes: message.messageAttributes,
      ...(md5 && { md5OfMessageAttributes: md5 }),
      queueArn: queue.arn,
    };
  }

  /**
   * Every long poll in flight listens on this one signal (and removes its listener when
   * it settles), so many listeners are normal here: one per waiting receive.
   */
  private static lifecycleController(): AbortController {
    const controller = new AbortController();
    setMaxListeners(0, controller.signal);
    return controller;
  }

  private waitForChange(queue: SqsQueue, delayMs: number, signal: AbortSignal | undefined): Promise<void> {
    return new Promise((resolve) => {
      const signals = signal ? [this.lifecycle.signal, signal] : [this.lifecycle.signal];
      let settled = false;
      let timer: NodeJS.Timeout | undefined;
      let unsubscribe = (): void => {};
      const settle = (): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        unsubscribe();
        for (const s of signals) s.removeEventListener('abort', settle);
        resolve();
      };
      timer = setTimeout(settle, Math.max(1, delayMs));
      unsubscribe = queue.onChange(settle);
      for (const s of signals) {
        if (s.aborted) settle();
        else s.addEventListener('abort', settle, { once: true });
      }
    });
  }

  private delayOf(queue: SqsQueue, delaySeconds: number | undefined): number {
    if (delaySeconds === undefined) return queue.integer('DelaySeconds');
    if (queue.fifo) {
      throw invalidValueFor(
        'DelaySeconds',
        delaySeconds,
        'The request include parameter that is not valid for this queue type.',
      );
    }
    if (!Number.isInteger(delaySeconds) || delaySeconds < 0 || delaySeconds > 900) {
      throw invalidValueFor('DelaySeconds', delaySeconds, 'must be between 0 and 900, if provided.');
    }
    return delaySeconds;
  }

  private contentDeduplicationId(queue: SqsQueue, body: string): string {
    if (queue.attributes.ContentBasedDeduplication !== 'true') {
      throw invalidParameterValue(
        'The queue should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided explicitly',
      );
    }
    return createHash('sha256').update(body).digest('hex');
  }

  private nextSequenceNumber(): string {
    this.sequence += 1n;
    return String(10n ** 19n + BigInt(Date.now()) * 1000n + this.sequence);
  }

  private sourcesOf(deadLetterQueue: SqsQueue): SqsQueue[] {
    return [...this.queues.values()].filter(
      (queue) => queue.redrivePolicy?.deadLetterTargetArn === deadLetterQueue.arn,
    );
  }

  private assertRedriveAllowed(sourceArn: string, fifo: boolean, rawPolicy: string): void {
    const invalid = (reason: string) => invalidValueFor('RedrivePolicy', rawPolicy, reason);
    const target = this.findByArn(parseRedrivePolicy(rawPolicy).deadLetterTargetArn);
    if (!target) throw invalid('Dead letter target does not exist.');
    if (target.fifo !== fifo) throw invalid('Dead-letter queue must be same type of queue as the source.');
    const allow = target.redriveAllowPolicy;
    if (
      allow?.redrivePermission === 'denyAll' ||
      (allow?.redrivePermission === 'byQueue' && !allow.sourceQueueArns?.includes(sourceArn))
    ) {
      throw invalid(`Queue ${target.arn} does not allow this queue to use it as a dead-letter queue.`);
    }
  }
}

/** The queue name in `<scheme>://<host>/<account>/<name>` or `/<account>/<name>`. */
function nameFromUrl(queueUrl: string): string {
  let path = queueUrl;
  try {
    path = new URL(queueUrl).pathname;
  } catch {
    // Not absolute: treat it as a path or a bare name.
  }
  const segments = path.split('/').filter(Boolean);
  return decodeURIComponent(segments[segments.length - 1] ?? '');
}

function requireFifoId(parameter: string, value: string | undefined): string {
  if (value === undefined) throw missingParameter(parameter);
  if (!FIFO_ID.test(value)) {
    throw invalidValueFor(
      parameter,
      value,
      `${parameter} can only include alphanumeric and punctuation characters. 1 to 128 in length.`,
    );
  }
  return value;
}

function encodeReceiptHandle(queueArn: string, messageId: string, token: string): string {
  return Buffer.from(`${queueArn} ${messageId} ${token}`, 'utf8').toString('base64');
}

function decodeReceiptHandle(
  handle: string,
): { queueArn: string; messageId: string; token: string } | undefined {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(handle)) return undefined;
  const [queueArn, messageId, token, ...rest] = Buffer.from(handle, 'base64').toString('utf8').split(' ');
  if (!queueArn?.startsWith('arn:') || !messageId || !token || rest.length > 0) return undefined;
  return { queueArn, messageId, token };
}

function paginate<T>(
  keys: readonly string[],
  maxResults: number | undefined,
  nextToken: string | undefined,
  limit: number,
  toItem: (key: string) => T,
): Page<T> {
  if (maxResults !== undefined && (!Number.isInteger(maxResults) || maxResults < 1 || maxResults > limit)) {
    throw invalidValueFor('MaxResults', maxResults, `MaxResults must be an integer between 1 and ${limit}.`);
  }
  let start = 0;
  if (nextToken) {
    const after = Buffer.from(nextToken, 'base64url').toString('utf8');
    start = keys.findIndex((key) => key > after);
    if (start < 0) start = keys.length;
  }
  const size = maxResults ?? limit;
  const slice = keys.slice(start, start + size);
  const more = maxResults !== undefined && start + size < keys.length;
  const last = slice[slice.length - 1];
  return {
    items: slice.map(toItem),
    ...(more && last !== undefined && { nextToken: Buffer.from(last, 'utf8').toString('base64url') }),
  };
}
