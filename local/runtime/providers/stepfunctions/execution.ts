/**
 * One execution: runs the definition in the interpreter with our Task overrides, records its
 * history, counts its state transitions, and settles into AWS's statuses.
 */
import { randomBytes } from 'node:crypto';
import type { ServiceRegistry } from '#local/runtime/types';
import type { StateMachineType } from './arns';
import type { JsonValue, ParsedDefinition } from './definition';
import {
  ExecutionAbortedError,
  ExecutionError,
  ExecutionTimeoutError,
  type LibraryEvent,
  type LibraryJson,
  type LibraryRun,
  type LibraryRunOptions,
  RunScope,
  runInScope,
  type StateMachine,
  statesTimeoutErrorFactory,
} from './engine';
import { ExecutionHistory, LibraryEventTranslator, type PendingEvent } from './history';
import { type EventBridgeEntry, runTask, type TaskHost } from './integrations';
import type { TaskTokenRegistry } from './task-tokens';

export type ExecutionStatus = 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT' | 'ABORTED';

export interface StateMachineRecord {
  readonly arn: string;
  readonly name: string;
  readonly type: StateMachineType;
  readonly region: string;
  readonly definition: ParsedDefinition;
  readonly interpreter: StateMachine;
  readonly roleArn: string;
  readonly creationDate: Date;
  readonly revisionId: string;
}

/** Counts for the cost model; AWS bills Standard workflows per state transition. */
export interface ExecutionStats {
  readonly executionArn: string;
  readonly status: ExecutionStatus;
  /** States entered, nested ones (Map iterations, branches) and retries included. */
  readonly stateTransitions: number;
  /** States entered, by state name. */
  readonly stateEntries: Readonly<Record<string, number>>;
  readonly retries: number;
  /** Task attempts dispatched through the integration layer. */
  readonly taskAttempts: number;
  /** From start to stop, or to now while running. */
  readonly durationMs: number;
}

/** What an execution needs from the provider. */
export interface ExecutionDependencies {
  readonly maxHistoryEvents: number;
  readonly services: () => ServiceRegistry | undefined;
  readonly tokens: TaskTokenRegistry;
  readonly onPutEvents: (entries: readonly EventBridgeEntry[]) => void;
}

interface Outcome {
  readonly status: Exclude<ExecutionStatus, 'RUNNING'>;
  readonly output?: string;
  readonly error?: string;
  readonly cause?: string;
}

const TERMINAL_EVENT: Record<Outcome['status'], string> = {
  SUCCEEDED: 'ExecutionSucceeded',
  FAILED: 'ExecutionFailed',
  TIMED_OUT: 'ExecutionTimedOut',
  ABORTED: 'ExecutionAborted',
};

export class Execution {
  status: ExecutionStatus = 'RUNNING';
  stopDate: Date | undefined;
  output: string | undefined;
  error: string | undefined;
  cause: string | undefined;
  readonly history: ExecutionHistory;
  readonly done: Promise<void>;

  private readonly scope = new RunScope<Execution>(this);
  private readonly sentinel = `__local_sfn_task_token_${randomBytes(16).toString('hex')}__`;
  private readonly stateEntries: Record<string, number> = {};
  private transitions = 0;
  private retries = 0;
  private taskAttempts = 0;
  private run: LibraryRun | undefined;
  private stopRequest: { error?: string; cause?: string } | undefined;
  private historyFull = false;
  private markDone: () => void = () => {};

  constructor(
    readonly arn: string,
    readonly name: string,
    readonly stateMachine: StateMachineRecord,
    /** The input as StartExecution received it. */
    readonly input: string,
    readonly startDate: Date,
    private readonly dependencies: ExecutionDependencies,
  ) {
    this.done = new Promise<void>((resolve) => {
      this.markDone = resolve;
    });
    this.history = new ExecutionHistory(dependencies.maxHistoryEvents, () => {
      this.historyFull = true;
      this.run?.abort();
    });
  }

  start(): void {
    this.history.add({
      type: 'ExecutionStarted',
      details: { input: this.input, inputDetails: { truncated: false }, roleArn: this.stateMachine.roleArn },
      timestamp: this.startDate.getTime(),
    });
    void this.execute();
  }

  /** StopExecution: aborts the run and resolves once the execution is ABORTED. */
  async stop(error?: string, cause?: string): Promise<void> {
    if (this.status === 'RUNNING' && !this.stopRequest) {
      this.stopRequest = { error, cause };
      this.run?.abort();
    }
    await this.done;
  }

  stats(): ExecutionStats {
    return {
      executionArn: this.arn,
      status: this.status,
      stateTransitions: this.transitions,
      stateEntries: { ...this.stateEntries },
      retries: this.retries,
      taskAttempts: this.taskAttempts,
      durationMs: (this.stopDate ?? new Date()).getTime() - this.startDate.getTime(),
    };
  }

  private async execute(): Promise<void> {
    let outcome: Outcome;
    try {
      const timeoutError = await statesTimeoutErrorFactory();
      if (this.stopRequest) {
        outcome = { status: 'ABORTED', ...this.stopRequest };
      } else {
        const run = this.startRun(timeoutError);
        const recorded = this.recordEvents(run.eventLogs);
        outcome = await this.outcomeOf(run.result);
        await recorded;
      }
    } catch (error) {
      outcome = { status: 'FAILED', error: 'States.Runtime', cause: (error as Error).message };
    }
    this.finish(outcome);
  }

  private startRun(timeoutError: () => Error): LibraryRun {
    const { stateMachine } = this;
    const host: TaskHost = {
      region: stateMachine.region,
      sentinel: this.sentinel,
      services: this.dependencies.services,
      tokens: this.dependencies.tokens,
      history: this.history,
      timeoutError,
      onPutEvents: this.dependencies.onPutEvents,
      onAttempt: () => {
        this.taskAttempts += 1;
      },
    };
    const handlers: NonNullable<NonNullable<LibraryRunOptions['overrides']>['taskResourceLocalHandlers']> =
      {};
    for (const spec of stateMachine.definition.tasks.values()) {
      handlers[spec.name] = (input) => runTask(host, spec, input as JsonValue) as Promise<LibraryJson>;
    }
    const options: LibraryRunOptions = {
      overrides: { taskResourceLocalHandlers: handlers },
      context: {
        Execution: {
          Id: this.arn,
          Name: this.name,
          RoleArn: stateMachine.roleArn,
          StartTime: this.startDate.toISOString(),
        },
        StateMachine: { Id: stateMachine.arn, Name: stateMachine.name },
        Task: { Token: this.sentinel },
      },
    };
    const input = JSON.parse(this.input) as LibraryJson;
    const run = runInScope(this.scope, () => stateMachine.interpreter.run(input, options));
    this.run = run;
    return run;
  }

  private async recordEvents(events: AsyncGenerator<LibraryEvent>): Promise<void> {
    const translator = new LibraryEventTranslator(this.stateMachine.definition.states);
    for await (const event of events) {
      if (event.type === 'StateEntered') {
        this.transitions += 1;
        this.stateEntries[event.state.name] = (this.stateEntries[event.state.name] ?? 0) + 1;
      } else if (event.type === 'StateRetried') {
        this.transitions += 1;
        this.retries += 1;
      }
      for (const pending of translator.translate(event)) this.history.add(pending);
    }
  }

  private async outcomeOf(result: Promise<LibraryJson>): Promise<Outcome> {
    try {
      return { status: 'SUCCEEDED', output: JSON.stringify(await result) };
    } catch (error) {
      if (error instanceof ExecutionAbortedError && this.historyFull && !this.stopRequest) {
        return {
          status: 'FAILED',
          error: 'States.Runtime',
          cause: `The execution reached the maximum number of history events (${this.dependencies.maxHistoryEvents})`,
        };
      }
      if (error instanceof ExecutionAbortedError) return { status: 'ABORTED', ...this.stopRequest };
      if (error instanceof ExecutionTimeoutError) return { status: 'TIMED_OUT', error: 'States.Timeout' };
      const failure = error instanceof ExecutionError && error.cause instanceof Error ? error.cause : error;
      if (failure instanceof Error) {
        return {
          status: 'FAILED',
          error: failure.name,
          ...(failure.message ? { cause: failure.message } : {}),
        };
      }
      return { status: 'FAILED', error: 'States.Runtime', cause: String(failure) };
    }
  }

  private finish(outcome: Outcome): void {
    // Tasks still waiting (e.g. in Map iterations the interpreter abandoned) end here.
    this.scope.close();
    const details: Record<string, unknown> = {};
    if (outcome.status === 'SUCCEEDED') {
      details.output = outcome.output;
      details.outputDetails = { truncated: false };
    }
    if (outcome.error !== undefined) details.error = outcome.error;
    if (outcome.cause !== undefined) details.cause = outcome.cause;
    const terminal: PendingEvent = {
      type: TERMINAL_EVENT[outcome.status],
      ...(Object.keys(details).length > 0 ? { details } : {}),
    };
    this.history.seal(terminal);
    this.stopDate = new Date();
    this.output = outcome.output;
    this.error = outcome.error;
    this.cause = outcome.cause;
    this.status = outcome.status;
    this.markDone();
  }
}
