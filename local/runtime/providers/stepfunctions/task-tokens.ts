/**
 * Task tokens for `.waitForTaskToken` tasks: minted per task attempt, opaque and unguessable
 * (512 random bits), and answered through SendTaskSuccess, SendTaskFailure and
 * SendTaskHeartbeat with AWS's errors.
 */
import { randomBytes } from 'node:crypto';
import type { JsonValue } from './definition';
import { SfnApiError } from './errors';

/** What a waiting task does with its callbacks. */
export interface TaskCallbacks {
  succeed(output: JsonValue, outputText: string): void;
  fail(error: string | undefined, cause: string | undefined): void;
  heartbeat(): void;
}

const TOKEN_PATTERN = /^[A-Za-z0-9_-]{86}$/;
/** AWS's limit on SendTaskSuccess `output`: 256 KiB of UTF-8. */
const MAX_OUTPUT_BYTES = 262_144;
/** Closed tokens remembered so late or duplicate callbacks get TaskTimedOut, not TaskDoesNotExist. */
const MAX_CLOSED_TOKENS = 50_000;

export class TaskTokenRegistry {
  private readonly open = new Map<string, TaskCallbacks>();
  private readonly closed = new Set<string>();

  /** A new token; nothing answers to it until `register`. */
  mint(): string {
    return randomBytes(64).toString('base64url');
  }

  register(token: string, callbacks: TaskCallbacks): void {
    this.open.set(token, callbacks);
  }

  /** The task ended (or its first callback arrived): later callbacks get TaskTimedOut. */
  close(token: string): void {
    if (!this.open.delete(token) && this.closed.has(token)) return;
    this.closed.add(token);
    if (this.closed.size > MAX_CLOSED_TOKENS) {
      const oldest = this.closed.values().next();
      if (!oldest.done) this.closed.delete(oldest.value);
    }
  }

  get openCount(): number {
    return this.open.size;
  }

  sendSuccess(token: unknown, output: unknown): void {
    const callbacks = this.take(token);
    if (typeof output !== 'string') {
      throw new SfnApiError(
        'ValidationException',
        "1 validation error detected: Value null at 'output' failed to satisfy constraint: Member must not be null",
      );
    }
    if (Buffer.byteLength(output) > MAX_OUTPUT_BYTES) {
      throw new SfnApiError('InvalidOutput', 'Invalid Output: the output exceeds the 262144-byte limit');
    }
    let parsed: JsonValue;
    try {
      parsed = JSON.parse(output) as JsonValue;
    } catch (error) {
      throw new SfnApiError('InvalidOutput', `Invalid Output: '${(error as Error).message}'`, 400, {
        cause: error,
      });
    }
    this.close(token as string);
    callbacks.succeed(parsed, output);
  }

  sendFailure(token: unknown, error: unknown, cause: unknown): void {
    const callbacks = this.take(token);
    this.close(token as string);
    callbacks.fail(
      typeof error === 'string' ? error : undefined,
      typeof cause === 'string' ? cause : undefined,
    );
  }

  sendHeartbeat(token: unknown): void {
    this.take(token).heartbeat();
  }

  /** Forgets every token; the runtime is stopping. */
  clear(): void {
    this.open.clear();
    this.closed.clear();
  }

  private take(token: unknown): TaskCallbacks {
    if (typeof token !== 'string' || token.length === 0) {
      throw new SfnApiError(
        'ValidationException',
        "1 validation error detected: Value null at 'taskToken' failed to satisfy constraint: Member must not be null",
      );
    }
    if (!TOKEN_PATTERN.test(token)) throw new SfnApiError('InvalidToken', "Invalid Token: 'Invalid token'");
    const callbacks = this.open.get(token);
    if (callbacks) return callbacks;
    if (this.closed.has(token)) {
      throw new SfnApiError('TaskTimedOut', "Task Timed Out: 'Provided task does not exist anymore'");
    }
    throw new SfnApiError('TaskDoesNotExist', "Task Does Not Exist: 'Provided task does not exist'");
  }
}
