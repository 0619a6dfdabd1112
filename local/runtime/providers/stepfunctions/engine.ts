/**
 * The ASL interpreter: aws-local-stepfunctions, loaded after the Node 20 polyfill, plus the
 * two hooks our service-integration layer needs and the library does not expose.
 *
 * 1. **Run scopes.** A Task override receives only its input, and the library aborts the
 *    sibling iterations of a failed Map without telling the override. Left alone, an aborted
 *    iteration's callback task would keep its token and timers, and a Retry on it would
 *    dispatch the agent again (the library's retry pause returns at once on an aborted
 *    signal). So every `StateMachine.run` (the root run, and each Map iteration or Parallel
 *    branch the library starts internally) gets a `RunScope` through AsyncLocalStorage; the
 *    scope closes when that run's `result` settles, including on abort, and closing it
 *    cancels the tasks registered in it.
 * 2. **`States.Timeout`.** In `Retry`/`Catch`, `States.TaskFailed` matches every error except
 *    `States.Timeout`; the library decides that with `instanceof` on a private class. A short
 *    probe run captures that class once, so the timeouts we raise behave like its own.
 */
import './promise-with-resolvers';
import { AsyncLocalStorage } from 'node:async_hooks';
import {
  ExecutionAbortedError,
  ExecutionError,
  ExecutionTimeoutError,
  StateMachine,
  type StateMachineDefinition,
} from 'aws-local-stepfunctions';

export {
  ExecutionAbortedError,
  ExecutionError,
  ExecutionTimeoutError,
  StateMachine,
  type StateMachineDefinition,
};

export type LibraryRun = ReturnType<StateMachine['run']>;
export type LibraryRunOptions = NonNullable<Parameters<StateMachine['run']>[1]>;
/** A JSON value as the library types it. */
export type LibraryJson = Parameters<StateMachine['run']>[0];
/** One entry of a run's `eventLogs`. */
export type LibraryEvent = LibraryRun['eventLogs'] extends AsyncGenerator<infer Event> ? Event : never;

/**
 * The lifetime of one library run (the root run, a Map iteration or a Parallel branch).
 * Closing a scope closes its children and runs the registered cleanups.
 */
export class RunScope<TOwner> {
  private readonly children = new Set<RunScope<TOwner>>();
  private readonly cleanups = new Set<() => void>();
  private isClosed = false;

  constructor(
    readonly owner: TOwner,
    /** 0 for the execution, 1 for its root run, 2+ inside Map iterations and branches. */
    readonly depth = 0,
    private readonly parent?: RunScope<TOwner>,
  ) {}

  get closed(): boolean {
    return this.isClosed;
  }

  child(): RunScope<TOwner> {
    const scope = new RunScope(this.owner, this.depth + 1, this);
    if (this.isClosed) scope.close();
    else this.children.add(scope);
    return scope;
  }

  /** Runs `cleanup` when the scope closes (at once if it already has); returns an unsubscribe. */
  onClose(cleanup: () => void): () => void {
    if (this.isClosed) {
      cleanup();
      return () => {};
    }
    this.cleanups.add(cleanup);
    return () => this.cleanups.delete(cleanup);
  }

  close(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.parent?.children.delete(this);
    for (const child of [...this.children]) child.close();
    const cleanups = [...this.cleanups];
    this.cleanups.clear();
    for (const cleanup of cleanups) cleanup();
  }
}

const scopes = new AsyncLocalStorage<RunScope<unknown>>();
const PATCHED = Symbol.for('master-orchestrator.local.sfn.run-scopes');

type PatchableRun = { run: StateMachine['run']; [PATCHED]?: true };

function installRunScopes(): void {
  const prototype = StateMachine.prototype as unknown as PatchableRun;
  if (prototype[PATCHED]) return;
  const originalRun = prototype.run;
  prototype.run = function runInScope(this: StateMachine, input, options) {
    const parent = scopes.getStore();
    if (!parent) return originalRun.call(this, input, options);
    const scope = parent.child();
    const run = scopes.run(scope, () => originalRun.call(this, input, options));
    run.result.then(
      () => scope.close(),
      () => scope.close(),
    );
    return run;
  };
  prototype[PATCHED] = true;
}

installRunScopes();

/** Calls `start` (which starts a library run) with `scope` as the parent of that run's scope. */
export function runInScope<TOwner, TResult>(scope: RunScope<TOwner>, start: () => TResult): TResult {
  return scopes.run(scope as RunScope<unknown>, start);
}

/** The scope of the library run the caller is part of, if any. */
export function currentRunScope<TOwner>(): RunScope<TOwner> | undefined {
  return scopes.getStore() as RunScope<TOwner> | undefined;
}

let timeoutErrorFactory: Promise<() => Error> | undefined;

/**
 * A factory for `States.Timeout` errors of the library's own class (see the module comment).
 * The first call runs a one-task probe that times out after about a millisecond.
 */
export function statesTimeoutErrorFactory(): Promise<() => Error> {
  timeoutErrorFactory ??= scopes.exit(probeTimeoutErrorClass);
  return timeoutErrorFactory;
}

async function probeTimeoutErrorClass(): Promise<() => Error> {
  const fallback = (): Error => Object.assign(new Error(''), { name: 'States.Timeout' });
  const probe = new StateMachine(
    {
      StartAt: 'Probe',
      States: {
        Probe: {
          Type: 'Task',
          Resource: 'arn:aws:lambda:us-east-1:000000000000:function:probe',
          TimeoutSeconds: 1e-9,
          End: true,
        },
      },
    },
    { validationOptions: { noValidate: true } },
  );
  const run = probe.run(null, {
    overrides: { taskResourceLocalHandlers: { Probe: () => new Promise<never>(() => {}) } },
  });
  void drainEvents(run.eventLogs);
  try {
    await run.result;
  } catch (error) {
    const cause = error instanceof ExecutionError ? error.cause : undefined;
    if (cause instanceof Error && cause.name === 'States.Timeout') {
      const TimeoutError = cause.constructor as new () => Error;
      return () => {
        const timeout = new TimeoutError();
        timeout.message = '';
        return timeout;
      };
    }
  }
  return fallback;
}

async function drainEvents(events: AsyncGenerator<unknown>): Promise<void> {
  for await (const _ of events) {
    // The probe's events are not recorded anywhere.
  }
}
