/**
 * One queue's state: its attributes, its messages with their visibility, and the
 * listeners that long polls register to hear that something may have become visible.
 * Cross-queue behaviour (dead-letter moves, move tasks) lives in the service.
 */
import {
  defaultAttributes,
  parseRedriveAllowPolicy,
  parseRedrivePolicy,
  type QueueAttributeMap,
  type RedriveAllowPolicy,
  type RedrivePolicy,
} from './attributes';
import type { MessageAttribute } from './md5';

/** A message as the queue keeps it. Mutable fields change as it is received and released. */
export interface StoredMessage {
  readonly messageId: string;
  readonly body: string;
  readonly md5OfBody: string;
  readonly messageAttributes: Readonly<Record<string, MessageAttribute>>;
  readonly systemAttributes: Readonly<Record<string, MessageAttribute>>;
  readonly senderId: string;
  /** Epoch ms; retention counts from here. */
  sentTimestamp: number;
  /** Epoch ms from which the message can be received (delay or visibility timeout). */
  visibleAt: number;
  receiveCount: number;
  firstReceiveTimestamp?: number;
  /** The token in the newest receipt handle; older handles still delete. */
  receiptToken?: string;
  /** Set when a redrive moved the message here from its source queue. */
  deadLetterSourceArn?: string;
  readonly messageGroupId?: string;
  readonly messageDeduplicationId?: string;
  readonly sequenceNumber?: string;
}

export interface QueueCounts {
  readonly visible: number;
  readonly notVisible: number;
  readonly delayed: number;
}

export class SqsQueue {
  readonly messages = new Map<string, StoredMessage>();
  readonly tags = new Map<string, string>();
  /** FIFO deduplication: key → what the first send answered, until `expiresAt`. */
  readonly deduplication = new Map<
    string,
    { readonly messageId: string; readonly sequenceNumber: string; readonly expiresAt: number }
  >();
  attributes: QueueAttributeMap;
  lastModifiedAt: number;
  lastPurgeAt?: number;
  deleted = false;
  private readonly listeners = new Set<() => void>();

  constructor(
    readonly name: string,
    readonly arn: string,
    readonly url: string,
    readonly fifo: boolean,
    readonly createdAt: number,
    attributes: QueueAttributeMap,
  ) {
    this.attributes = { ...defaultAttributes(fifo), ...attributes };
    this.lastModifiedAt = createdAt;
  }

  integer(name: string): number {
    return Number(this.attributes[name] ?? '0');
  }

  get redrivePolicy(): RedrivePolicy | undefined {
    const raw = this.attributes.RedrivePolicy;
    return raw ? parseRedrivePolicy(raw) : undefined;
  }

  get redriveAllowPolicy(): RedriveAllowPolicy | undefined {
    const raw = this.attributes.RedriveAllowPolicy;
    return raw ? parseRedriveAllowPolicy(raw) : undefined;
  }

  /** The attributes as GetQueueAttributes reports the settable ones. */
  effectiveAttributes(): QueueAttributeMap {
    const effective = { ...this.attributes };
    if (effective.KmsMasterKeyId) effective.KmsDataKeyReusePeriodSeconds ??= '300';
    else delete effective.KmsDataKeyReusePeriodSeconds;
    return effective;
  }

  /** Drops the messages older than MessageRetentionPeriod. */
  dropExpired(now: number): void {
    const retentionMs = this.integer('MessageRetentionPeriod') * 1000;
    for (const [id, message] of this.messages) {
      if (message.sentTimestamp + retentionMs <= now) this.messages.delete(id);
    }
    for (const [key, entry] of this.deduplication) {
      if (entry.expiresAt <= now) this.deduplication.delete(key);
    }
  }

  counts(now: number): QueueCounts {
    this.dropExpired(now);
    let visible = 0;
    let notVisible = 0;
    let delayed = 0;
    for (const message of this.messages.values()) {
      if (message.visibleAt <= now) visible += 1;
      else if (message.receiveCount > 0) notVisible += 1;
      else delayed += 1;
    }
    return { visible, notVisible, delayed };
  }

  /** The next moment a hidden message becomes visible, if any is hidden. */
  nextVisibleAt(now: number): number | undefined {
    let next: number | undefined;
    for (const message of this.messages.values()) {
      if (message.visibleAt > now && (next === undefined || message.visibleAt < next))
        next = message.visibleAt;
    }
    return next;
  }

  /** Registers a listener for "a message may have become visible"; returns its removal. */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  notify(): void {
    for (const listener of [...this.listeners]) listener();
  }
}
