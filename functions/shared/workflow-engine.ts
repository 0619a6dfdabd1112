/**
 * What the recovery state machine's Tasks do (statemachines/recovery.asl.json), one
 * operation each, all behind the `workflow` Lambda:
 *
 * | op              | Task                                    | does                                                          |
 * | --------------- | --------------------------------------- | ------------------------------------------------------------- |
 * | `plan`          | Plan                                    | PENDING -> RUNNING; the waves left to run as segments          |
 * | `dispatch`      | Dispatch, CompensateStep (.waitForTaskToken) | marks the step, sends the AgentTaskMessage to the agent's queue |
 * | `record`        | Record, RecordCompensation              | SUCCEEDED / COMPENSATED with the agent's output               |
 * | `fail`          | RecordFailure, RecordCompensationFailure | FAILED / TIMED_OUT / COMPENSATION_FAILED (+ manual-intervention message) |
 * | `plan_rollback` | PlanRollback                            | -> ROLLING_BACK; the steps to compensate, latest change first  |
 * | `finish`        | Complete, FinishRolledBack, FinishRollbackFailed | the final status and `workflow.completed`             |
 *
 * Every write is a conditional step or workflow change (repository/workflow-run.ts), so a
 * Task that Step Functions runs twice changes nothing the second time.
 */
import { SendTaskSuccessCommand, type SFNClient } from '@aws-sdk/client-sfn';
import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import * as z from 'zod';
import {
  type CircuitBreakerConfig,
  DEFAULT_CIRCUIT_CONFIG,
  effectiveCircuitState,
  recordFailure,
  recordSuccess,
} from '#core/circuit-breaker';
import { type DispatchAgent, type DispatchDecision, decideDispatch, orderWave, SERVING } from '#core/health';
import { planRollback } from '#core/rollback';
import {
  type AgentAction,
  type AgentTaskMessage,
  type Category,
  type DomainEvent,
  Identifier,
  type Issue,
  type ManualInterventionMessage,
  type WorkflowStatus,
} from '#core/wire';
import { buildSegments, failureStatus, type Segment, STEP_TRANSITIONS } from '#core/workflow';
import { logger } from '#shared/powertools';
import type { AgentRepository } from '#shared/repository/agents';
import { MAX_STORED_OUTPUT_BYTES, type RunStep } from '#shared/repository/workflow-run';
import type { WorkflowTransitions } from '#shared/repository/workflow-transitions';
import { rollbackSteps } from '#shared/workflow-views';

// ---------------------------------------------------------------- the Tasks' payloads

const StateError = z.object({ Error: z.string().default('States.Unknown'), Cause: z.string().default('') });

const ExecutionInput = z.object({
  workflow_id: Identifier,
  mode: z.enum(['rollback', 'cancel']).optional(),
  reason: z.string().optional(),
  failure_point: Identifier.optional(),
});

const Action = z.enum(['execute', 'rollback']);

export const WorkflowOp = z.discriminatedUnion('op', [
  z.object({ op: z.literal('plan'), workflow_id: Identifier, execution_arn: z.string() }),
  z.object({
    op: z.literal('dispatch'),
    action: Action,
    workflow_id: Identifier,
    step_id: Identifier,
    /**
     * The agent and issue the plan gave the step (the segment's step), read beside the step. The
     * step's own record decides: a hint it contradicts (a step re-routed on an earlier attempt)
     * is read again.
     */
    agent_id: Identifier.optional(),
    issue_id: Identifier.optional(),
    task_token: z.string().min(1),
  }),
  z.object({
    op: z.literal('record'),
    action: Action,
    workflow_id: Identifier,
    step_id: Identifier,
    output: z.unknown(),
  }),
  z.object({
    op: z.literal('fail'),
    action: Action,
    workflow_id: Identifier,
    step_id: Identifier,
    error: StateError,
  }),
  z.object({
    op: z.literal('plan_rollback'),
    workflow_id: Identifier,
    state: z.object({ failure: StateError.optional() }).loose(),
    execution_input: ExecutionInput,
  }),
  z.object({
    op: z.literal('order'),
    workflow_id: Identifier,
    steps: z.array(z.object({ step_id: Identifier }).loose()).max(10_000),
    /** The wave's Map concurrency: a wave that fits in it starts all at once, in no order. */
    max_concurrency: z.number().int().min(1).optional(),
  }),
  z.object({
    op: z.literal('finish'),
    outcome: z.enum(['succeeded', 'rolled_back', 'rollback_failed']),
    workflow_id: Identifier,
    execution_input: ExecutionInput,
  }),
]);
export type WorkflowOp = z.infer<typeof WorkflowOp>;

export type WorkflowOpResult =
  | { readonly segments: readonly Segment[] }
  | { readonly steps: readonly unknown[] }
  | { readonly dispatched: boolean; readonly attempt: number }
  | { readonly status: string }
  | {
      readonly compensations: readonly {
        step_id: string;
        timeout_seconds: number;
        heartbeat_seconds: number;
      }[];
    };

// ---------------------------------------------------------------- errors the ASL sees

/** A workflow error the state machine must not retry; its `name` is the ASL error name. */
export class WorkflowStateError extends Error {
  constructor(
    override readonly name:
      | 'Workflow.NotRunnable'
      | 'Workflow.Busy'
      | 'Dispatch.NoQueue'
      | 'Dispatch.Refused'
      | 'Agent.Unavailable'
      | 'Agent.CircuitOpen',
    message: string,
  ) {
    super(message);
  }
}

/** Errors of a final attempt that say the agent did not answer: they count against its circuit. */
const SILENT_AGENT_ERRORS: ReadonlySet<string> = new Set(['States.Timeout', 'States.HeartbeatTimeout']);

// ---------------------------------------------------------------- the engine

/** Where applied domain events go once committed (an EventBridge bus; see domain-events.ts). */
export interface EventPublisher {
  publish(events: readonly DomainEvent[]): Promise<void>;
}

export interface WorkflowEngineDeps {
  readonly runs: WorkflowTransitions;
  readonly agents: Pick<
    AgentRepository,
    'get' | 'dispatchView' | 'dispatchViews' | 'saveCircuit' | 'updateCircuit'
  >;
  /** The agents' circuit breakers. @default DEFAULT_CIRCUIT_CONFIG */
  readonly circuit?: CircuitBreakerConfig;
  readonly sfn: Pick<SFNClient, 'send'>;
  readonly sqs: Pick<SQSClient, 'send'>;
  /** agent_id or agent_type -> agent queue URL (the agent catalog). */
  readonly agentQueues: Readonly<Record<string, string>>;
  /** Where a compensation that cannot succeed is reported for a person. */
  readonly compensationDlqUrl: string;
  /**
   * Live delivery of the events each change stored. Best effort: the stored events, with
   * their gap-free `seq`, are the record a client replays from.
   */
  readonly events: EventPublisher;
  readonly now: () => Date;
}

export function createWorkflowEngine(deps: WorkflowEngineDeps) {
  const { runs } = deps;
  const nowIso = () => deps.now().toISOString();
  const circuitConfig = deps.circuit ?? DEFAULT_CIRCUIT_CONFIG;

  /**
   * Feeds one outcome to an agent's circuit. Bookkeeping, not the step's result: a failure
   * here is logged, never thrown, so it cannot fail or repeat the Task that reported it.
   */
  async function feedCircuit(agentId: string, outcome: 'success' | 'failure'): Promise<void> {
    const now_ms = deps.now().getTime();
    await deps.agents
      .updateCircuit(agentId, (circuit) =>
        outcome === 'success'
          ? recordSuccess(circuit, now_ms, circuitConfig)
          : recordFailure(circuit, now_ms, circuitConfig),
      )
      .catch((error: unknown) => logger.warn('circuit not updated', { agent_id: agentId, outcome, error }));
  }

  /**
   * Where this dispatch goes, by the re-routing rule (core/health.ts), with the circuit's
   * probe slot taken when it needs one. Other agents are read only when the step's own agent
   * cannot take it and the step may move. `prefetched` is the step's agent as just read; the
   * first try decides on it unless this dispatch first changed its circuit.
   * @throws WorkflowStateError `Agent.Unavailable` / `Agent.CircuitOpen` when it cannot go
   * anywhere, `Workflow.Busy` when concurrent dispatches kept winning the circuit.
   */
  async function chooseAgent(
    step: RunStep,
    now_ms: number,
    prefetched?: { readonly agent: DispatchAgent | undefined },
  ): Promise<Extract<DispatchDecision, { kind: 'send' }>> {
    let fresh = prefetched;
    // The attempt before this one ran out its TimeoutSeconds: that agent did not answer.
    const previous = step.dispatched_at ? Date.parse(step.dispatched_at) : Number.NaN;
    if (
      (step.status === 'DISPATCHED' || step.status === 'RUNNING') &&
      now_ms - previous >= step.timeout_seconds * 1000
    ) {
      await feedCircuit(step.agent_id, 'failure');
      fresh = undefined;
    }
    for (let attempt = 0; attempt < 3; attempt++) {
      const assigned = fresh ? fresh.agent : await deps.agents.dispatchView(step.agent_id);
      fresh = undefined;
      const judged = { ...step, category: step.category as Category | null };
      let decision = decideDispatch(judged, assigned, [], now_ms, circuitConfig);
      if (decision.kind === 'refuse' && step.idempotent) {
        // Only agents the catalog has a queue for can be sent anything.
        const reachable = (await deps.agents.dispatchViews()).filter(
          (a) => deps.agentQueues[a.agent_id] ?? (a.agent_type ? deps.agentQueues[a.agent_type] : undefined),
        );
        decision = decideDispatch(judged, assigned, reachable, now_ms, circuitConfig);
      }
      if (decision.kind === 'refuse') throw new WorkflowStateError(decision.error, decision.reason);
      const { read, circuit: next } = decision;
      if (!read || !next || next.version === read.version) return decision;
      if (await deps.agents.saveCircuit(decision.agent_id, read, next)) return decision;
    }
    throw new WorkflowStateError(
      'Workflow.Busy',
      `the circuit of agent ${step.agent_id} kept changing; try again`,
    );
  }

  /**
   * Hands an applied change's event to `deps.events` once it has committed. Never rejects: a
   * publish failure is logged, since the change has happened and its event is stored for replay.
   * So it can run beside whatever else the Task does after the commit.
   */
  async function publish(result: { outcome: string; event?: DomainEvent }): Promise<void> {
    const { event } = result;
    if (result.outcome !== 'APPLIED' || !event) return;
    await deps.events.publish([event]).catch((error: unknown) => {
      logger.warn('domain event not published; subscribers catch up by seq', {
        workflow_id: event.workflow_id,
        seq: event.seq,
        error,
      });
    });
  }

  async function plan(op: Extract<WorkflowOp, { op: 'plan' }>) {
    const now = nowIso();
    const started = await runs.changeWorkflow({
      workflow_id: op.workflow_id,
      from: ['PENDING'],
      to: 'RUNNING',
      now,
      set: { started_at: now },
      event: { type: 'workflow.started' },
    });
    if (started.outcome === 'REFUSED')
      throw new WorkflowStateError(
        'Workflow.NotRunnable',
        `workflow ${op.workflow_id} is ${started.meta.status}; only a PENDING or RUNNING workflow runs`,
      );
    // The plan (steps, wave limits) is written once at intake: reading it need not wait for
    // the execution to be recorded.
    const [, , { meta, steps }] = await Promise.all([
      publish(started),
      runs.addExecution(op.workflow_id, op.execution_arn, now),
      runs.load(op.workflow_id),
    ]);
    return { segments: buildSegments(steps, meta.wave_concurrency) };
  }

  // A step's time in Dispatch is orchestration overhead (docs/performance.md), so what does not
  // depend on anything else goes out together: META, the step, its agent and its issue (as the
  // state machine names them); then the one transaction; then the event and the agent's message.
  async function dispatch(op: Extract<WorkflowOp, { op: 'dispatch' }>) {
    const execute = op.action === 'execute';
    const now = deps.now();
    const [read, hintedAgent, hintedIssue] = await Promise.all([
      runs.readStep(op.workflow_id, op.step_id),
      execute && op.agent_id ? deps.agents.dispatchView(op.agent_id).then((agent) => ({ agent })) : undefined,
      op.issue_id ? runs.issue(op.workflow_id, op.issue_id).then((issue) => ({ issue })) : undefined,
    ]);
    const current = read.step;
    // The checkpoint: a step already done answers at once, with what it answered before.
    const done = execute ? current.status === 'SUCCEEDED' : current.status === 'COMPENSATED';
    if (done) {
      const output = execute ? current.output : {};
      await deps.sfn.send(
        new SendTaskSuccessCommand({ taskToken: op.task_token, output: JSON.stringify(output ?? {}) }),
      );
      return { dispatched: false, attempt: execute ? current.attempts : current.compensation_attempts };
    }
    if (!execute) await refuseAfterFailedRollback(op.workflow_id, op.step_id);
    const [target, issue] = await Promise.all([
      execute
        ? chooseAgent(current, now.getTime(), op.agent_id === current.agent_id ? hintedAgent : undefined)
        : { agent_id: current.agent_id, rerouted_from: null },
      issueFor(current, op.issue_id === current.issue_id ? hintedIssue : undefined),
    ]);
    // A compensation goes where the change went, even if the agent has since left the catalog.
    const queueUrl = await queueFor({ ...current, agent_id: target.agent_id }).catch((error: unknown) => {
      if (!execute && current.queue_url) return current.queue_url;
      throw error;
    });
    const rerouted = target.rerouted_from !== null;
    if (rerouted)
      logger.info('step re-routed', { from: target.rerouted_from, to: target.agent_id, step_id: op.step_id });
    const changed = await runs.changeStep({
      read,
      workflow_id: op.workflow_id,
      step_id: op.step_id,
      transition: execute ? 'dispatch' : 'compensate',
      now: now.toISOString(),
      set: (step) =>
        execute
          ? {
              attempts: step.attempts + 1,
              dispatched_at: now.toISOString(),
              started_at: step.started_at ?? now.toISOString(),
              task_token: op.task_token,
              queue_url: queueUrl,
              ...(rerouted
                ? { agent_id: target.agent_id, rerouted_from: [...step.rerouted_from, step.agent_id] }
                : {}),
            }
          : {
              compensation_attempts: step.compensation_attempts + 1,
              compensation_dispatched_at: now.toISOString(),
            },
      event: (step) => {
        const attempt = execute ? step.attempts + 1 : step.compensation_attempts + 1;
        if (!execute) return { type: 'step.compensating', attempt };
        return {
          type: attempt > 1 ? 'step.retrying' : 'step.dispatched',
          attempt,
          agent_id: target.agent_id,
        };
      },
      token: { task_token: op.task_token, action: op.action },
      whileWorkflow: execute ? ['RUNNING'] : ['ROLLING_BACK'],
    });
    if (changed.outcome === 'WORKFLOW_MOVED_ON')
      throw new WorkflowStateError(
        'Dispatch.Refused',
        `workflow ${op.workflow_id} is ${changed.workflow_status}; step ${op.step_id} is not dispatched to ${op.action}`,
      );
    if (changed.outcome !== 'APPLIED')
      throw new WorkflowStateError(
        'Dispatch.Refused',
        `step ${op.step_id} is ${changed.step.status}; it cannot be dispatched to ${op.action}`,
      );
    const step = changed.step;
    const attempt = execute ? step.attempts : step.compensation_attempts;
    const message: AgentTaskMessage = {
      task_token: op.task_token,
      workflow_id: op.workflow_id,
      step_id: op.step_id,
      issue,
      action: op.action,
      attempt,
      deadline: new Date(now.getTime() + step.timeout_seconds * 1000).toISOString(),
      heartbeat_seconds: step.heartbeat_seconds,
    };
    await Promise.all([
      publish(changed),
      deps.sqs.send(
        new SendMessageCommand({
          QueueUrl: queueUrl,
          MessageBody: JSON.stringify(message),
          MessageAttributes: {
            workflow_id: { DataType: 'String', StringValue: op.workflow_id },
            step_id: { DataType: 'String', StringValue: op.step_id },
            action: { DataType: 'String', StringValue: op.action },
          },
        }),
      ),
    ]);
    return { dispatched: true, attempt };
  }

  async function record(op: Extract<WorkflowOp, { op: 'record' }>) {
    const now = nowIso();
    const execute = op.action === 'execute';
    const result = await runs.changeStep({
      workflow_id: op.workflow_id,
      step_id: op.step_id,
      transition: execute ? 'succeed' : 'compensated',
      now,
      set: () =>
        execute
          ? { completed_at: now, output: storableOutput(op.output) }
          : { compensated_at: now, compensation_output: storableOutput(op.output) },
      event: () => ({ type: execute ? 'step.succeeded' : 'step.compensated' }),
    });
    // Neither rejects, and neither decides the Task's result: they go out together.
    await Promise.all([
      publish(result),
      execute && result.outcome === 'APPLIED' ? feedCircuit(result.step.agent_id, 'success') : undefined,
    ]);
    return { status: result.step.status };
  }

  async function fail(op: Extract<WorkflowOp, { op: 'fail' }>) {
    const now = nowIso();
    const execute = op.action === 'execute';
    // A compensation refused before it was sent (the rollback had already failed) changed nothing.
    if (!execute && op.error.Error === 'Dispatch.Refused')
      return { status: (await runs.step(op.workflow_id, op.step_id)).status };
    const error = { code: op.error.Error, message: op.error.Cause.slice(0, 4096) };
    const status = failureStatus(op.error.Error);
    const result = await runs.changeStep({
      workflow_id: op.workflow_id,
      step_id: op.step_id,
      transition: execute ? (status === 'TIMED_OUT' ? 'time_out' : 'fail') : 'compensation_failed',
      now,
      set: () => (execute ? { completed_at: now, error } : { compensation_error: error }),
      event: () => ({ type: 'step.failed', error: op.error.Error }),
    });
    await publish(result);
    if (!execute && result.outcome !== 'REFUSED') await reportCompensationFailure(op, result.step, now);
    else if (result.outcome === 'APPLIED' && SILENT_AGENT_ERRORS.has(op.error.Error))
      await feedCircuit(result.step.agent_id, 'failure');
    return { status: result.step.status };
  }

  async function planRollbackOp(op: Extract<WorkflowOp, { op: 'plan_rollback' }>) {
    const now = nowIso();
    const input = op.execution_input;
    const failure = op.state.failure;
    const reason =
      input.reason ?? (failure ? `${failure.Error}: ${failure.Cause}`.slice(0, 1024) : 'rollback requested');
    const changed = await runs.changeWorkflow({
      workflow_id: op.workflow_id,
      from: ['PENDING', 'RUNNING', 'SUCCEEDED', 'FAILED', 'ROLLBACK_FAILED', 'ROLLED_BACK', 'CANCELLED'],
      to: 'ROLLING_BACK',
      now,
      set: {
        rollback: {
          mode: input.mode ?? 'failure',
          reason,
          failure_point: input.failure_point ?? null,
          error: failure ?? null,
          started_at: now,
        },
      },
      event: { type: 'rollback.started' },
    });
    if (changed.outcome === 'REFUSED')
      throw new WorkflowStateError('Workflow.NotRunnable', `workflow ${op.workflow_id} cannot roll back`);
    const [, { steps }] = await Promise.all([publish(changed), runs.load(op.workflow_id)]);
    const planned = planRollback(op.workflow_id, rollbackSteps(steps), {
      failure_point: input.failure_point,
    });
    const byId = new Map(steps.map((s) => [s.step_id, s]));
    return {
      compensations: planned.compensations.map((c) => {
        const step = byId.get(c.step_id) as RunStep;
        return {
          step_id: c.step_id,
          timeout_seconds: step.timeout_seconds,
          heartbeat_seconds: step.heartbeat_seconds,
        };
      }),
    };
  }

  /**
   * Dynamic re-prioritization: the wave's steps in the order they should start, scored now
   * (core/health.ts `orderWave`): open fan-out, SLA urgency and agent health as they are when
   * the wave begins, not as they were when the plan was made.
   */
  async function order(op: Extract<WorkflowOp, { op: 'order' }>) {
    // Every step of a wave that fits in its concurrency starts at once: order cannot matter,
    // so nothing is read (the common case; it saves the reads on every such wave).
    if (op.max_concurrency !== undefined && op.steps.length <= op.max_concurrency) return { steps: op.steps };
    const now_ms = deps.now().getTime();
    const [{ steps }, agents] = await Promise.all([runs.load(op.workflow_id), deps.agents.dispatchViews()]);
    const wave = op.steps.map((s) => s.step_id);
    const issues = (await runs.issues(op.workflow_id)) as Map<string, Issue>;
    const failing = agents.filter(
      (a) =>
        !SERVING.has(a.status) ||
        (a.circuit !== undefined && effectiveCircuitState(a.circuit, now_ms, circuitConfig) === 'OPEN'),
    );
    const { order: ordered } = orderWave(wave, steps, {
      now_ms,
      issues,
      failing_agents: new Set(failing.map((a) => a.agent_id)),
    });
    const byId = new Map(op.steps.map((s) => [s.step_id, s]));
    return { steps: ordered.map((id) => byId.get(id)) };
  }

  async function finish(op: Extract<WorkflowOp, { op: 'finish' }>) {
    const now = nowIso();
    const { meta, steps } = await runs.load(op.workflow_id);
    let to: WorkflowStatus;
    if (op.outcome === 'succeeded') to = 'SUCCEEDED';
    else if (op.outcome === 'rollback_failed') to = 'ROLLBACK_FAILED';
    else if (op.execution_input.mode === 'cancel') to = 'CANCELLED';
    else if (op.execution_input.mode === undefined && !steps.some((s) => s.status === 'COMPENSATED'))
      to = 'FAILED';
    else to = 'ROLLED_BACK';
    const from: WorkflowStatus[] =
      op.outcome === 'succeeded' ? ['RUNNING'] : ['ROLLING_BACK', 'RUNNING', 'PENDING'];
    const changed = await runs.changeWorkflow({
      workflow_id: op.workflow_id,
      from,
      to,
      now,
      set: {
        completed_at: now,
        ...(meta.rollback ? { rollback: { ...meta.rollback, completed_at: now } } : {}),
      },
      event: { type: 'workflow.completed' },
    });
    if (changed.outcome === 'REFUSED')
      throw new WorkflowStateError(
        'Workflow.NotRunnable',
        `workflow ${op.workflow_id} is ${changed.meta.status}; it cannot end ${to}`,
      );
    await Promise.all([publish(changed), runs.clearBacklog(op.workflow_id)]);
    return { status: changed.meta.status };
  }

  /**
   * A rollback stops at its first compensation that fails for good: the steps before it stay
   * changed, for a person to handle (statemachines/README.md). Step Functions starts no further
   * Map iteration after one fails; this holds the rule even where a runtime does.
   */
  async function refuseAfterFailedRollback(workflowId: string, stepId: string): Promise<void> {
    const { steps } = await runs.load(workflowId);
    const failed = steps.find((s) => s.status === 'COMPENSATION_FAILED' && s.step_id !== stepId);
    if (failed)
      throw new WorkflowStateError(
        'Dispatch.Refused',
        `the rollback of workflow ${workflowId} already failed at step ${failed.step_id}; step ${stepId} is left for manual intervention`,
      );
  }

  async function queueFor(step: RunStep): Promise<string> {
    const byId = deps.agentQueues[step.agent_id];
    if (byId) return byId;
    const agent = await deps.agents.get(step.agent_id).catch(() => undefined);
    const byType = agent?.agent_type ? deps.agentQueues[agent.agent_type] : undefined;
    if (byType) return byType;
    throw new WorkflowStateError(
      'Dispatch.NoQueue',
      `no agent queue for agent ${step.agent_id}${agent?.agent_type ? ` (type ${agent.agent_type})` : ''}; the catalog has ${Object.keys(deps.agentQueues).join(', ')}`,
    );
  }

  /** The step's issue as the agent gets it; `prefetched` is the stored issue as just read. */
  async function issueFor(step: RunStep, prefetched?: { readonly issue: unknown }): Promise<Issue> {
    const stored = (prefetched ? prefetched.issue : await runs.issue(step.workflow_id, step.issue_id)) as
      | Issue
      | undefined;
    const issue: Issue = stored ?? {
      issue_id: step.issue_id,
      title: `${step.action} ${step.issue_id}`,
      severity: 'medium',
    };
    if (!step.parameters) return issue;
    return { ...issue, parameters: { ...issue.parameters, ...step.parameters } };
  }

  async function reportCompensationFailure(
    op: Extract<WorkflowOp, { op: 'fail' }>,
    step: RunStep,
    now: string,
  ): Promise<void> {
    const { steps } = await runs.load(op.workflow_id);
    // Every status a compensation may start from is a change still in place.
    const stillChanged = new Set<string>(STEP_TRANSITIONS.compensate.from);
    const message: ManualInterventionMessage = {
      kind: 'compensation_failed',
      workflow_id: op.workflow_id,
      step_id: step.step_id,
      issue_id: step.issue_id,
      agent_id: step.agent_id,
      error: op.error.Error,
      cause: op.error.Cause.slice(0, 4096),
      not_compensated: steps
        .filter((s) => s.step_id !== step.step_id && stillChanged.has(s.status))
        .map((s) => s.step_id),
      at: now,
    };
    await deps.sqs.send(
      new SendMessageCommand({
        QueueUrl: deps.compensationDlqUrl,
        MessageBody: JSON.stringify(message),
        MessageAttributes: {
          workflow_id: { DataType: 'String', StringValue: op.workflow_id },
          step_id: { DataType: 'String', StringValue: step.step_id },
        },
      }),
    );
  }

  return async function run(op: WorkflowOp): Promise<WorkflowOpResult> {
    switch (op.op) {
      case 'plan':
        return plan(op);
      case 'dispatch':
        return dispatch(op);
      case 'record':
        return record(op);
      case 'fail':
        return fail(op);
      case 'plan_rollback':
        return planRollbackOp(op);
      case 'order':
        return order(op);
      case 'finish':
        return finish(op);
    }
  };
}

/** The agent's output as stored: as is up to 64 KB, else a marker (Step Functions keeps the full output). */
function storableOutput(output: unknown): unknown {
  const text = JSON.stringify(output ?? null);
  if (Buffer.byteLength(text) <= MAX_STORED_OUTPUT_BYTES) return output ?? null;
  return { truncated: true, bytes: Buffer.byteLength(text) };
}

export type { AgentAction };
