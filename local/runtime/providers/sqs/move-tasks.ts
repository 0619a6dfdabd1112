/**
 * Message move tasks (dead-letter queue redrive): StartMessageMoveTask moves the visible
 * messages of a dead-letter queue back to their source queues, or to a DestinationArn,
 * at up to MaxNumberOfMessagesPerSecond, on a timer that `stop()` clears.
 */
import { randomUUID } from 'node:crypto';
import {
  invalidParameterValue,
  invalidValueFor,
  missingParameter,
  resourceNotFound,
  unsupportedOperation,
} from './errors';
import type { SqsQueue, StoredMessage } from './queue';

export type MoveTaskStatus = 'RUNNING' | 'COMPLETED' | 'CANCELLING' | 'CANCELLED' | 'FAILED';

/** One ListMessageMoveTasks result, in the wire's member names. */
export interface MoveTaskEntry {
  readonly TaskHandle?: string;
  readonly Status: MoveTaskStatus;
  readonly SourceArn: string;
  readonly DestinationArn?: string;
  readonly MaxNumberOfMessagesPerSecond?: number;
  readonly ApproximateNumberOfMessagesMoved: number;
  readonly ApproximateNumberOfMessagesToMove: number;
  readonly FailureReason?: string;
  readonly StartedTimestamp: number;
}

/** What the tasks need from the service. */
export interface MoveTaskHost {
  queueByArn(arn: string): SqsQueue | undefined;
  isDeadLetterQueue(queue: SqsQueue): boolean;
  transfer(message: StoredMessage, from: SqsQueue, to: SqsQueue): void;
}

interface MoveTask {
  readonly handle: string;
  readonly sourceArn: string;
  readonly destinationArn?: string;
  readonly maxPerSecond?: number;
  readonly startedAt: number;
  readonly toMove: number;
  status: MoveTaskStatus;
  moved: number;
  /** Messages the rate limit allows to move now. */
  credit: number;
  failureReason?: string;
  timer?: NodeJS.Timeout;
}

const TICK_MS = 100;
const MAX_TASKS_LISTED = 10;

export class MoveTasks {
  private readonly tasks: MoveTask[] = [];

  constructor(private readonly host: MoveTaskHost) {}

  start(input: {
    sourceArn?: string;
    destinationArn?: string;
    maxNumberOfMessagesPerSecond?: number;
  }): string {
    const { sourceArn, destinationArn, maxNumberOfMessagesPerSecond: rate } = input;
    if (!sourceArn) throw missingParameter('SourceArn');
    const source = this.host.queueByArn(sourceArn);
    if (!source)
      throw resourceNotFound("The resource that you specified for the SourceArn parameter doesn't exist.");
    if (!this.host.isDeadLetterQueue(source)) {
      throw invalidParameterValue('Source queue must be configured as a Dead Letter Queue.');
    }
    if (destinationArn !== undefined) {
      if (!this.host.queueByArn(destinationArn)) {
        throw resourceNotFound(
          "The resource that you specified for the DestinationArn parameter doesn't exist.",
        );
      }
      if (destinationArn === sourceArn) {
        throw invalidParameterValue('The source and destination queues of a message move task must differ.');
      }
    }
    if (rate !== undefined && (!Number.isInteger(rate) || rate < 1 || rate > 500)) {
      throw invalidValueFor('MaxNumberOfMessagesPerSecond', rate, 'Must be an integer between 1 and 500.');
    }
    if (this.tasks.some((task) => task.sourceArn === sourceArn && task.status === 'RUNNING')) {
      throw invalidParameterValue(
        'There is already a task running. Only one active task is allowed for a source queue arn at a given time.',
      );
    }
    const handle = Buffer.from(JSON.stringify({ taskId: randomUUID(), sourceArn }), 'utf8').toString(
      'base64',
    );
    const task: MoveTask = {
      handle,
      sourceArn,
      destinationArn,
      maxPerSecond: rate,
      startedAt: Date.now(),
      toMove: source.counts(Date.now()).visible,
      status: 'RUNNING',
      moved: 0,
      credit: 1,
    };
    this.tasks.unshift(task);
    task.timer = setInterval(() => this.step(task), TICK_MS);
    this.step(task);
    return handle;
  }

  list(sourceArn: string | undefined, maxResults = 1): MoveTaskEntry[] {
    if (!sourceArn) throw missingParameter('SourceArn');
    if (!this.host.queueByArn(sourceArn)) {
      throw resourceNotFound("The resource that you specified for the SourceArn parameter doesn't exist.");
    }
    if (!Number.isInteger(maxResults) || maxResults < 1 || maxResults > MAX_TASKS_LISTED) {
      throw invalidValueFor('MaxResults', maxResults, `Must be between 1 and ${MAX_TASKS_LISTED}.`);
    }
    return this.tasks
      .filter((task) => task.sourceArn === sourceArn)
      .slice(0, maxResults)
      .map((task) => ({
        ...(task.status === 'RUNNING' && { TaskHandle: task.handle }),
        Status: task.status,
        SourceArn: task.sourceArn,
        ...(task.destinationArn && { DestinationArn: task.destinationArn }),
        ...(task.maxPerSecond !== undefined && { MaxNumberOfMessagesPerSecond: task.maxPerSecond }),
        ApproximateNumberOfMessagesMoved: task.moved,
        ApproximateNumberOfMessagesToMove: task.toMove,
        ...(task.failureReason && { FailureReason: task.failureReason }),
        StartedTimestamp: task.startedAt,
      }));
  }

  /** Cancels a running task; returns how many messages it had moved. */
  cancel(taskHandle: string | undefined): number {
    if (!taskHandle) throw missingParameter('TaskHandle');
    const task = this.tasks.find((candidate) => candidate.handle === taskHandle);
    if (!task) throw resourceNotFound('Task does not exist.');
    if (task.status !== 'RUNNING') throw unsupportedOperation('Only active tasks can be cancelled.');
    this.finish(task, 'CANCELLED');
    return task.moved;
  }

  stop(): void {
    for (const task of this.tasks) {
      clearInterval(task.timer);
      task.timer = undefined;
    }
  }

  private step(task: MoveTask): void {
    if (task.status !== 'RUNNING') return;
    const source = this.host.queueByArn(task.sourceArn);
    if (!source) {
      this.finish(task, 'FAILED', 'AWS.SimpleQueueService.NonExistentQueue');
      return;
    }
    if (task.maxPerSecond !== undefined) {
      task.credit = Math.min(
        task.credit + (task.maxPerSecond * TICK_MS) / 1000,
        Math.max(task.maxPerSecond, 1),
      );
    }
    const budget = task.maxPerSecond === undefined ? Number.POSITIVE_INFINITY : Math.floor(task.credit);
    const now = Date.now();
    let movedNow = 0;
    let exhausted = true;
    for (const message of [...source.messages.values()]) {
      if (task.moved >= task.toMove) break;
      if (movedNow >= budget) {
        exhausted = false;
        break;
      }
      if (message.visibleAt > now) continue;
      const destinationArn = task.destinationArn ?? message.deadLetterSourceArn;
      const destination = destinationArn ? this.host.queueByArn(destinationArn) : undefined;
      if (!destination) {
        this.finish(task, 'FAILED', 'CouldNotDetermineMessageSource');
        return;
      }
      this.host.transfer(message, source, destination);
      task.moved += 1;
      movedNow += 1;
    }
    if (task.maxPerSecond !== undefined) task.credit -= movedNow;
    if (task.moved >= task.toMove || exhausted) this.finish(task, 'COMPLETED');
  }

  private finish(task: MoveTask, status: MoveTaskStatus, failureReason?: string): void {
    task.status = status;
    if (failureReason) task.failureReason = failureReason;
    clearInterval(task.timer);
    task.timer = undefined;
  }
}
