/**
 * Workflow execution decisions, the spec's `orchestrate_workflow`: how long the recovery
 * state machine waits for each step, how a plan's waves become the segments its Map runs,
 * which status changes a step may make, and how many steps one execution can hold.
 *
 * The state machine (statemachines/recovery.asl.json) runs segments one after the other
 * and the steps of a segment in parallel, each step as Dispatch (`lambda:invoke
 * .waitForTaskToken`) then Record. These functions decide everything that can be decided
 * without I/O; the `workflow` Lambda applies them to DynamoDB.
 */
import { parseDuration } from './duration';
import type { StepStatus, WorkflowStatus } from './wire';

/** The statuses a workflow ends in; nothing changes it after one of these but a new rollback. */
export const TERMINAL_WORKFLOW_STATUSES: readonly WorkflowStatus[] = [
  'SUCCEEDED',
  'FAILED',
  'ROLLED_BACK',
  'ROLLBACK_FAILED',
  'CANCELLED',
];

// ---------------------------------------------------------------- timers

/** The shortest Task timeout we set: an agent needs time to receive, run and answer. */
export const MIN_TIMEOUT_SECONDS = 1;
/** Seven days: a recovery step that takes longer is a project, not a step. */
export const MAX_TIMEOUT_SECONDS = 7 * 24 * 3600;
/** The default timeout is this many times the step's planned duration... */
export const TIMEOUT_FACTOR = 3;
/** ...and never less than this, so quick steps survive a cold start and a retry of the callback. */
export const MIN_DEFAULT_TIMEOUT_SECONDS = 60;
/**
 * Default HeartbeatSeconds: six of the agent SDK's default 10-second heartbeat intervals,
 * so one lost heartbeat never fails a step, while a crashed agent is noticed within a minute.
 */
export const DEFAULT_HEARTBEAT_SECONDS = 60;

export interface StepTimers {
  /** The dispatch Task's TimeoutSeconds: the step fails with States.Timeout after it. */
  readonly timeout_seconds: number;
  /** The dispatch Task's HeartbeatSeconds: States.HeartbeatTimeout when no heartbeat comes within it. */
  readonly heartbeat_seconds: number;
}

/**
 * Timers for one step. An explicit `timeout` or `heartbeat` (ISO-8601) wins; otherwise the
 * timeout is 3x the planned duration (at least a minute) and the heartbeat a minute, never
 * more than the timeout. Whole seconds, because ASL takes whole seconds.
 * @throws RangeError when an explicit value is outside 1 s..7 d, or heartbeat > timeout.
 * @example
 * stepTimers({ duration_ms: 120_000 }) // { timeout_seconds: 360, heartbeat_seconds: 60 }
 * stepTimers({ duration_ms: 1000, timeout: 'PT4S', heartbeat: 'PT2S' }) // { 4, 2 }
 */
export function stepTimers(step: {
  readonly duration_ms: number;
  readonly timeout?: string | undefined;
  readonly heartbeat?: string | undefined;
}): StepTimers {
  const explicitTimeout = step.timeout === undefined ? undefined : checkedSeconds(step.timeout, 'timeout');
  const explicitHeartbeat =
    step.heartbeat === undefined ? undefined : checkedSeconds(step.heartbeat, 'heartbeat');
  const timeout_seconds =
    explicitTimeout ??
    clamp(
      Math.ceil((TIMEOUT_FACTOR * step.duration_ms) / 1000),
      MIN_DEFAULT_TIMEOUT_SECONDS,
      MAX_TIMEOUT_SECONDS,
    );
  if (explicitHeartbeat !== undefined && explicitHeartbeat > timeout_seconds)
    throw new RangeError(
      `heartbeat (${explicitHeartbeat} s) must not be longer than the step's timeout (${timeout_seconds} s)`,
    );
  return {
    timeout_seconds,
    heartbeat_seconds: explicitHeartbeat ?? Math.min(DEFAULT_HEARTBEAT_SECONDS, timeout_seconds),
  };
}

function checkedSeconds(iso: string, field: string): number {
  const seconds = Math.ceil(parseDuration(iso) / 1000);
  if (seconds < MIN_TIMEOUT_SECONDS || seconds > MAX_TIMEOUT_SECONDS)
    throw new RangeError(
      `${field} must be between ${MIN_TIMEOUT_SECONDS} s and ${MAX_TIMEOUT_SECONDS} s, got ${iso}`,
    );
  return seconds;
}

const clamp = (value: number, low: number, high: number) => Math.min(high, Math.max(low, value));

// ---------------------------------------------------------------- segments

/** Step Functions runs at most 40 iterations of an inline Map at once. */
export const MAX_MAP_CONCURRENCY = 40;

export interface SegmentInput {
  readonly step_id: string;
  readonly agent_id: string;
  readonly issue_id: string;
  readonly wave: number;
  readonly status: StepStatus;
  readonly timeout_seconds: number;
  readonly heartbeat_seconds: number;
}

/** One item of the state machine's outer Map: steps that may all run at once. */
export interface Segment {
  readonly wave: number;
  readonly max_concurrency: number;
  readonly steps: readonly {
    readonly step_id: string;
    /** The agent and issue the plan gave the step: Dispatch reads them beside the step. */
    readonly agent_id: string;
    readonly issue_id: string;
    readonly timeout_seconds: number;
    readonly heartbeat_seconds: number;
  }[];
}

/**
 * The outer Map's items: one segment per wave, in wave order, with the wave's planned
 * concurrency (at most {@link MAX_MAP_CONCURRENCY}). Steps that already SUCCEEDED are left
 * out (a resumed workflow's checkpoint), and so is a wave left empty by that. Steps keep
 * their record order within a wave.
 * @example
 * buildSegments(
 *   [{ step_id: 'a', agent_id: 'net-1', issue_id: 'i-1', wave: 0, status: 'PENDING', timeout_seconds: 60, heartbeat_seconds: 60 }],
 *   [2],
 * )
 * // [{ wave: 0, max_concurrency: 1, steps: [{ step_id: 'a', ... }] }]
 */
export function buildSegments(steps: readonly SegmentInput[], waveConcurrency: readonly number[]): Segment[] {
  const byWave = new Map<number, SegmentInput[]>();
  for (const step of steps) {
    if (step.status === 'SUCCEEDED' || step.status === 'SKIPPED') continue;
    const list = byWave.get(step.wave);
    if (list) list.push(step);
    else byWave.set(step.wave, [step]);
  }
  return [...byWave.entries()]
    .sort(([a], [b]) => a - b)
    .map(([wave, members]) => ({
      wave,
      max_concurrency: clamp(
        Math.min(waveConcurrency[wave] ?? members.length, members.length),
        1,
        MAX_MAP_CONCURRENCY,
      ),
      steps: members.map(({ step_id, agent_id, issue_id, timeout_seconds, heartbeat_seconds }) => ({
        step_id,
        agent_id,
        issue_id,
        timeout_seconds,
        heartbeat_seconds,
      })),
    }));
}

// ---------------------------------------------------------------- step status changes

/** What the state machine does to a step; each is one conditional write. */
export type StepTransition =
  | 'dispatch'
  | 'succeed'
  | 'fail'
  | 'time_out'
  | 'compensate'
  | 'compensated'
  | 'compensation_failed';

/**
 * From which statuses each transition may start. A transition found already applied (the
 * step is in its target status) is a replay and changes nothing, which is what makes every
 * write idempotent under Step Functions' at-least-once Task retries.
 */
export const STEP_TRANSITIONS: Readonly<
  Record<StepTransition, { readonly from: readonly StepStatus[]; readonly to: StepStatus }>
> = {
  // A retry re-dispatches a DISPATCHED, FAILED or TIMED_OUT step.
  dispatch: { from: ['PENDING', 'DISPATCHED', 'RUNNING', 'FAILED', 'TIMED_OUT'], to: 'DISPATCHED' },
  succeed: { from: ['DISPATCHED', 'RUNNING'], to: 'SUCCEEDED' },
  fail: { from: ['DISPATCHED', 'RUNNING'], to: 'FAILED' },
  time_out: { from: ['DISPATCHED', 'RUNNING'], to: 'TIMED_OUT' },
  compensate: {
    from: [
      'SUCCEEDED',
      'FAILED',
      'TIMED_OUT',
      'DISPATCHED',
      'RUNNING',
      'COMPENSATING',
      'COMPENSATION_FAILED',
    ],
    to: 'COMPENSATING',
  },
  compensated: { from: ['COMPENSATING'], to: 'COMPENSATED' },
  // Also from a change still in place: the compensation could not even be sent (no queue).
  compensation_failed: {
    from: ['COMPENSATING', 'SUCCEEDED', 'FAILED', 'TIMED_OUT', 'DISPATCHED', 'RUNNING'],
    to: 'COMPENSATION_FAILED',
  },
};

/**
 * Whether a step in `status` may take `transition`: 'apply', 'replay' (already there,
 * change nothing), or 'refuse'. `dispatch` is never a replay: each dispatch is a new attempt.
 * @example
 * decideTransition('succeed', 'DISPATCHED') // 'apply'
 * decideTransition('succeed', 'SUCCEEDED') // 'replay'
 */
export function decideTransition(
  transition: StepTransition,
  status: StepStatus,
): 'apply' | 'replay' | 'refuse' {
  const rule = STEP_TRANSITIONS[transition];
  if (rule.from.includes(status)) return 'apply';
  if (status === rule.to && transition !== 'dispatch') return 'replay';
  return 'refuse';
}

/** How a failed execute attempt's error name maps onto a step status. */
export function failureStatus(error: string): 'FAILED' | 'TIMED_OUT' {
  return error === 'States.Timeout' || error === 'States.HeartbeatTimeout' ? 'TIMED_OUT' : 'FAILED';
}

// ---------------------------------------------------------------- history budget

/**
 * Step Functions keeps at most 25,000 events in one execution's history; an execution that
 * would write more fails. A workflow runs in one execution, so its size is capped so that
 * even the worst case fits: every step using every retry of its execute dispatch and of its
 * compensation.
 *
 * Events, per the history of a Standard execution:
 * - a Map iteration: MapIterationStarted + MapIterationSucceeded/Failed = 2
 * - a Task state: TaskStateEntered + TaskStateExited = 2, plus per attempt TaskScheduled,
 *   TaskStarted, (TaskSubmitted,) and TaskSucceeded/Failed/TimedOut = 4 at most
 */
export const HISTORY_LIMIT = 25_000;
/**
 * The most attempts one execute Dispatch can make, by its Retry (statemachines/recovery.asl.json):
 * the first, 3 more on Agent.Transient or a timeout, 2 after a re-route (Agent.Rerouted) and 3
 * while the agent's circuit is open (Agent.CircuitOpen). The ASL test holds the two in step.
 */
export const EXECUTE_ATTEMPTS = 1 + 3 + 2 + 3;
export const HISTORY_EVENTS = {
  /** Iteration, Dispatch (every attempt) and Record (1 attempt). */
  perStepExecute: 2 + (2 + EXECUTE_ATTEMPTS * 4) + (2 + 4),
  /** Iteration, compensation Dispatch (3 attempts) and its Record. */
  perStepRollback: 2 + (2 + 3 * 4) + (2 + 4),
  /** Execution start/end, Plan, Maps, rollback planning, the final Lambda and Fail/Succeed, with room to spare. */
  fixed: 200,
} as const;

/**
 * The most steps one workflow may hold: 350. The worst case (every step using every retry,
 * then compensated with every retry) writes 46 + 22 = 68 events a step, so 350 steps write
 * 24,000 events with the fixed overhead; the happy path writes about 15 a step.
 * Larger plans are refused with 422 PLAN_TOO_LARGE; split them into several workflows.
 * Not counted: retries of the Lambda service itself (Lambda.ServiceException and kin),
 * which the 1,000 spare events absorb unless hundreds of them strike one execution.
 */
export const MAX_WORKFLOW_STEPS = 350;
