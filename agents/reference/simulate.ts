/**
 * What a reference agent does with a task: it follows `issue.parameters.simulate` (contract C8).
 * Only the reference agents read `simulate`; the orchestrator passes `parameters` through.
 *
 * - `succeed` (also when `simulate` is absent): waits `delay_ms`, then answers
 *   `{ agent_id, action, simulated: true }`, for `execute` and `rollback` alike.
 * - `fail`: `execute` waits `delay_ms`, then fails with `Agent.Permanent`.
 * - `timeout`: `execute` does not answer before the task's `deadline`. The SDK always answers
 *   once the handler settles, so the handler waits until the deadline has passed (or until a
 *   heartbeat learns the task is over), then throws `Agent.Transient`; Step Functions has timed
 *   the task out by then and refuses the late answer (`TaskTimedOut`), which the SDK drops. The
 *   wait is capped at {@link MAX_SIMULATED_WAIT_MS}: a deadline further away gets the transient
 *   failure at the cap instead (a retry, not a timeout).
 * - `fail_rollback`: `execute` succeeds, `rollback` fails with `Agent.Permanent`.
 * - `crash`: `execute` takes the message and dies: after `delay_ms` it stops heartbeating and
 *   never answers (the SDK's `ANSWER_LATER`), so the workflow sees States.HeartbeatTimeout.
 * - `transient_failures: n` (with any outcome): the first `n` dispatches of `execute`
 *   (`attempt` <= n) fail with `Agent.Transient` after `delay_ms`, so the workflow retries;
 *   later attempts follow `outcome`.
 * - `duplicate_callback: true` (with any outcome): every success the agent answers is sent
 *   twice. The agent sends it once itself (through the `answerEarly` callback it is given),
 *   then returns it and the SDK sends it again; Step Functions refuses the second answer
 *   (`TaskTimedOut`: the token is closed) and the SDK drops it as a late callback (`GONE`).
 *   Failures, timeouts and crashes are not duplicated.
 *
 * A `rollback` of a step whose `execute` was `fail` or `timeout` succeeds (there is nothing to undo).
 */
import * as z from 'zod';
import { AgentPermanentError, AgentTransientError, ANSWER_LATER, type TaskContext } from '#agents/sdk/index';
import type { AgentTaskMessage } from '#core/wire';

/** Longest any simulated wait lasts; well under the reference agents' 90 s function timeout. */
export const MAX_SIMULATED_WAIT_MS = 60_000;

/** How long past the deadline a simulated timeout keeps waiting, so the timeout has surely fired. */
export const TIMEOUT_GRACE_MS = 1_000;

export const SimulateOutcome = z.enum(['succeed', 'fail', 'timeout', 'fail_rollback', 'crash']);
export type SimulateOutcome = z.infer<typeof SimulateOutcome>;

export const Simulate = z
  .object({
    outcome: SimulateOutcome,
    /** Capped at {@link MAX_SIMULATED_WAIT_MS}. */
    delay_ms: z.number().int().min(0).optional(),
    /** The first n execute attempts fail with Agent.Transient. */
    transient_failures: z.number().int().min(0).max(10).optional(),
    /** Every success is answered twice: once by the agent itself, once by the SDK. */
    duplicate_callback: z.boolean().optional(),
  })
  .strict();
export type Simulate = z.infer<typeof Simulate>;

/** What the agent will do: wait `wait_ms` (or until the task is over), then do `kind`. */
export type SimulationPlan =
  | { readonly kind: 'succeed'; readonly wait_ms: number; readonly duplicate_callback?: true }
  | { readonly kind: 'fail'; readonly wait_ms: number; readonly message: string }
  | { readonly kind: 'transient'; readonly wait_ms: number; readonly message: string }
  | { readonly kind: 'crash'; readonly wait_ms: number }
  | { readonly kind: 'timeout'; readonly wait_ms: number; readonly message: string };

const DEFAULT_SIMULATE: Simulate = { outcome: 'succeed' };

/**
 * Reads `parameters.simulate`; absent means `succeed` with no delay.
 * @throws AgentPermanentError when `simulate` is present but not a valid simulation.
 */
export function parseSimulate(parameters: Record<string, unknown> | undefined): Simulate {
  const raw = parameters?.simulate;
  if (raw === undefined) return DEFAULT_SIMULATE;
  const parsed = Simulate.safeParse(raw);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues
    .map((issue) => `${['simulate', ...issue.path.map(String)].join('.')}: ${issue.message}`)
    .join('; ');
  throw new AgentPermanentError(
    `invalid parameters.simulate (expected {outcome: "succeed"|"fail"|"timeout"|"fail_rollback"|"crash", delay_ms?: integer >= 0, transient_failures?: 0..10, duplicate_callback?: boolean}): ${problems}`,
  );
}

const capWait = (ms: number): number => Math.min(Math.max(0, Math.round(ms)), MAX_SIMULATED_WAIT_MS);

/** Pure: what to do for this task at time `now` (epoch ms). */
export function planSimulation(task: AgentTaskMessage, now: number): SimulationPlan {
  const simulate = parseSimulate(task.issue.parameters);
  const delay = capWait(simulate.delay_ms ?? 0);
  const { action } = task;
  if (action === 'execute' && task.attempt <= (simulate.transient_failures ?? 0)) {
    return {
      kind: 'transient',
      wait_ms: delay,
      message: `simulated transient failure ${task.attempt} of ${simulate.transient_failures} (simulate.transient_failures)`,
    };
  }
  if (action === 'execute' && simulate.outcome === 'crash') return { kind: 'crash', wait_ms: delay };
  if (action === 'execute' && simulate.outcome === 'fail') {
    return { kind: 'fail', wait_ms: delay, message: 'simulated permanent failure (simulate.outcome "fail")' };
  }
  if (action === 'execute' && simulate.outcome === 'timeout') {
    const untilDeadline = Date.parse(task.deadline) - now + TIMEOUT_GRACE_MS;
    return {
      kind: 'timeout',
      wait_ms: capWait(Math.max(delay, untilDeadline)),
      message: 'simulated timeout (simulate.outcome "timeout"): no answer before the deadline',
    };
  }
  if (action === 'rollback' && simulate.outcome === 'fail_rollback') {
    return {
      kind: 'fail',
      wait_ms: delay,
      message: 'simulated rollback failure (simulate.outcome "fail_rollback")',
    };
  }
  return simulate.duplicate_callback
    ? { kind: 'succeed', wait_ms: delay, duplicate_callback: true }
    : { kind: 'succeed', wait_ms: delay };
}

/** Resolves after `ms`, or as soon as `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (ms <= 0 || signal?.aborted) {
      resolve();
      return;
    }
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

export interface SimulationClock {
  readonly now: () => number;
  readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
}

const REAL_CLOCK: SimulationClock = { now: Date.now, sleep };

/**
 * Sends a success on `taskToken` ahead of the SDK, for `simulate.duplicate_callback`: the
 * reference agents pass their own `TaskCallbacks.success`.
 */
export type AnswerEarly = (taskToken: string, output: string) => Promise<void>;

export interface SimulatedAnswer {
  readonly agent_id: string;
  readonly action: AgentTaskMessage['action'];
  readonly simulated: true;
}

/**
 * Runs one task as `simulate` says: the reference agents' `execute` and `rollback`.
 * `answerEarly` is required only for `duplicate_callback`; without it that simulation is an
 * `Agent.Permanent` error naming the gap, rather than a single answer that looks like a pass.
 *
 * @example
 * const callbacks = stepFunctionsCallbacks(new SFNClient({}));
 * createAgent({ ..., callbacks, execute: (task, context) => simulateTask(task, context, undefined, callbacks.success) });
 */
export async function simulateTask(
  task: AgentTaskMessage,
  context: TaskContext,
  clock: SimulationClock = REAL_CLOCK,
  answerEarly?: AnswerEarly,
): Promise<SimulatedAnswer | typeof ANSWER_LATER> {
  const plan = planSimulation(task, clock.now());
  await clock.sleep(plan.wait_ms, context.signal);
  if (plan.kind === 'crash') return ANSWER_LATER;
  if (plan.kind === 'fail') throw new AgentPermanentError(plan.message);
  if (plan.kind === 'timeout' || plan.kind === 'transient') throw new AgentTransientError(plan.message);
  const answer: SimulatedAnswer = { agent_id: context.agent_id, action: task.action, simulated: true };
  if (plan.duplicate_callback) {
    if (!answerEarly)
      throw new AgentPermanentError('simulate.duplicate_callback needs an agent that can answer early');
    // The first of the two answers; the SDK sends the second when this handler returns.
    await answerEarly(task.task_token, JSON.stringify(answer));
  }
  return answer;
}
