/**
 * The chaos suite's core (issue 7): submits seeded plans with one fault class each to a live
 * target, waits a bounded time for each, checks what the orchestrator promised for that class,
 * then sweeps the agent DLQs for the run's poison and task messages and asks Step Functions
 * about every execution. {@link runChaos} returns the report; bench/chaos/run.ts prints it and
 * test/e2e/chaos.test.ts asserts its targets. See bench/README.md, "Chaos".
 */
import { randomUUID } from 'node:crypto';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { DescribeExecutionCommand, GetExecutionHistoryCommand, SFNClient } from '@aws-sdk/client-sfn';
import {
  ChangeMessageVisibilityCommand,
  DeleteMessageCommand,
  type Message,
  ReceiveMessageCommand,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { IntakeAccepted, WorkflowAccepted, WorkflowDetail, type WorkflowStatus } from '#core/wire';
import { TERMINAL_WORKFLOW_STATUSES } from '#core/workflow';
import { assignFaults, buildPlan, type ChaosPlan, FAULT_CLASSES, type FaultClass } from './plans';
import { type ChaosTarget, openChaosTarget } from './target';

export interface ChaosOptions {
  readonly seed: number;
  readonly plans: number;
  /** Plans in flight at once. */
  readonly concurrency: number;
  readonly minSteps: number;
  readonly maxSteps: number;
  /** No plan is started after this much time; the ones in flight get {@link drainMs} more. */
  readonly timeLimitMs: number;
  /** @default 120000 */
  readonly drainMs?: number;
  /** Longest one plan may take from submission to a terminal status. @default 180000 */
  readonly planTimeoutMs?: number;
  /** The classes to rotate through. @default every class */
  readonly classes?: readonly FaultClass[];
  /** A progress line on `log` every this many plans. @default 10 */
  readonly progressEvery?: number;
  /** Progress lines. @default nothing */
  readonly log?: (line: string) => void;
  /** Where to find E2E_OUTPUTS. @default process.env */
  readonly env?: NodeJS.ProcessEnv;
  /** An already open target, with its agents registered (the caller stops it); otherwise one is opened, with the reference agents, and stopped here. */
  readonly target?: ChaosTarget;
}

const TERMINAL: ReadonlySet<WorkflowStatus> = new Set(TERMINAL_WORKFLOW_STATUSES);
/** A step left in one of these in a terminal workflow: a task message nobody accounted for. */
const IN_FLIGHT = new Set(['DISPATCHED', 'RUNNING', 'COMPENSATING']);
/** Steps a rollback leaves alone: they never started. */
const NEVER_STARTED = new Set(['PENDING', 'SKIPPED']);
/** Classes whose plans must end SUCCEEDED: the completion-rate denominator. */
const COMPLETION_CLASSES: ReadonlySet<FaultClass> = new Set(['none', 'transient', 'duplicate_callback']);
/** Classes whose plans must end ROLLED_BACK: the rollback-rate denominator (plus agent_unhealthy without re-dispatch). */
const ROLLBACK_CLASSES: ReadonlySet<FaultClass> = new Set(['fail', 'timeout', 'crash', 'late_callback']);
const POLL_MS = 500;
const MARKER_ATTRIBUTE = 'chaos_marker';

export interface PlanOutcome {
  readonly index: number;
  readonly id: string;
  readonly fault: FaultClass;
  readonly steps: number;
  /** Set when the plan was not run, and why (not started before the time limit, or a missing output). */
  readonly not_run?: string;
  readonly workflow_id?: string;
  readonly executions: readonly string[];
  readonly status?: WorkflowStatus;
  readonly terminal: boolean;
  /** agent_unhealthy: whether the pinned steps were idempotent (re-dispatch) or not (rollback). */
  readonly variant?: 're-dispatch' | 'rollback';
  /** The runner could not drive the plan (an API call failed outright); see `problems`. */
  readonly errored?: boolean;
  /** Everything this plan's class promised held. */
  readonly as_expected: boolean;
  readonly problems: readonly string[];
  readonly duration_ms: number;
  /** Steps left DISPATCHED, RUNNING or COMPENSATING in a terminal workflow. */
  readonly in_flight_steps: readonly string[];
  /** Which headline rate the plan counts in. */
  readonly counts_in?: 'completion' | 'rollback' | 'rollback_failed';
  readonly issues?: {
    readonly total: number;
    readonly assigned: number;
    readonly unassigned: number;
    readonly unrouted: number;
  };
  readonly api?: {
    readonly won: number;
    readonly conflicts: number;
    readonly other: number;
    readonly duplicates_consistent: boolean;
  };
}

export interface Rate {
  readonly ok: number;
  readonly total: number;
  /** ok / total, or null when no plan counted. */
  readonly rate: number | null;
}

export interface TargetCheck {
  readonly name: string;
  readonly value: string;
  readonly target: string;
  readonly met: boolean;
}

export interface ChaosReport {
  readonly seed: number;
  readonly plans: number;
  readonly run: number;
  readonly wall_ms: number;
  readonly median_plan_ms: number;
  readonly classes: Readonly<
    Record<FaultClass, { planned: number; run: number; as_expected: number; not_run?: string; note?: string }>
  >;
  readonly completion: Rate;
  readonly rollback: Rate;
  readonly rollback_failed: Rate;
  readonly lost: {
    readonly total: number;
    readonly in_flight_steps: number;
    readonly dead_lettered_task_messages: number;
    readonly poison_sent: number;
    readonly poison_found: number;
  };
  readonly non_terminal: { readonly workflows: number; readonly executions: number };
  readonly issues: { readonly total: number; readonly unrouted: number };
  /** Plans the runner could not drive (an API call failed outright). */
  readonly errored: number;
  readonly manual_interventions_cleaned: number;
  readonly problems: readonly string[];
  readonly targets: readonly TargetCheck[];
  readonly met: boolean;
  readonly outcomes: readonly PlanOutcome[];
}

interface Context {
  readonly target: ChaosTarget;
  readonly operator: string;
  readonly admin: string;
  readonly sqs: SQSClient;
  readonly lambda: LambdaClient;
  readonly sfn: SFNClient;
  readonly queues: Readonly<Record<string, string>>;
  readonly sweepFunction?: string;
  /** Agents this run registered; deregistered once every plan has ended. */
  readonly registeredAgents: string[];
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));

interface Answer {
  readonly status: number;
  readonly body: unknown;
}

/** Tries per request: a 429 (the API sheds load) is waited out, as any client would. */
const THROTTLE_TRIES = 6;

async function call(
  ctx: Context,
  method: 'GET' | 'POST' | 'DELETE',
  path: string,
  token: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<Answer> {
  for (let attempt = 1; ; attempt++) {
    const answer = await callOnce(ctx, method, path, token, body, headers);
    if (answer.status !== 429 || attempt >= THROTTLE_TRIES) return answer;
    await sleep(Math.min(8_000, 250 * 2 ** attempt) * (0.5 + Math.random() / 2));
  }
}

async function callOnce(
  ctx: Context,
  method: 'GET' | 'POST' | 'DELETE',
  path: string,
  token: string,
  body: unknown,
  headers: Record<string, string>,
): Promise<Answer> {
  const response = await fetch(ctx.target.url(path), {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...headers,
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    signal: AbortSignal.timeout(30_000),
  });
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = text === '' ? undefined : JSON.parse(text);
  } catch {
    // Not JSON: keep the text for the problem report.
  }
  return { status: response.status, body: parsed };
}

async function detail(ctx: Context, workflowId: string): Promise<WorkflowDetail> {
  const answer = await call(ctx, 'GET', `workflows/${workflowId}`, ctx.operator);
  if (answer.status !== 200) throw new Error(`GET workflows/${workflowId} answered ${answer.status}`);
  return WorkflowDetail.parse(answer.body);
}

/** Polls until the workflow is terminal or `until` passes; returns the last detail read. */
async function settle(ctx: Context, workflowId: string, until: number): Promise<WorkflowDetail> {
  for (;;) {
    const current = await detail(ctx, workflowId);
    if (TERMINAL.has(current.status) || Date.now() >= until) return current;
    await sleep(POLL_MS);
  }
}

/** Polls until `ready` holds for the workflow (true) or `until` passes (false). */
async function waitFor(
  ctx: Context,
  workflowId: string,
  until: number,
  ready: (workflow: WorkflowDetail) => boolean,
): Promise<boolean> {
  for (;;) {
    const current = await detail(ctx, workflowId);
    if (ready(current)) return true;
    if (TERMINAL.has(current.status) || Date.now() >= until) return false;
    await sleep(200);
  }
}

/** What a terminal status says about the steps; a problem per mismatch. */
function stepConsistency(workflow: WorkflowDetail): string[] {
  const problems: string[] = [];
  const bad = (allowed: (status: string) => boolean, what: string): void => {
    const off = workflow.steps.filter((s) => !allowed(s.status));
    if (off.length > 0)
      problems.push(
        `${workflow.status} but ${off.map((s) => `${s.step_id}=${s.status}`).join(', ')} (${what}); steps: ${describeSteps(workflow)}`,
      );
  };
  if (workflow.status === 'SUCCEEDED') bad((s) => s === 'SUCCEEDED' || s === 'SKIPPED', 'expected SUCCEEDED');
  else if (workflow.status === 'ROLLED_BACK')
    bad((s) => s === 'COMPENSATED' || NEVER_STARTED.has(s), 'expected COMPENSATED or never started');
  else if (TERMINAL.has(workflow.status)) bad((s) => !IN_FLIGHT.has(s), 'expected no step in flight');
  if (
    workflow.status === 'ROLLBACK_FAILED' &&
    !workflow.steps.some((s) => s.status === 'COMPENSATION_FAILED')
  )
    problems.push('ROLLBACK_FAILED without a COMPENSATION_FAILED step');
  return problems;
}

/** Each step's status, attempts and error: what a report needs to explain an unexpected end. */
function describeSteps(workflow: WorkflowDetail): string {
  return workflow.steps
    .map(
      (s) =>
        `${s.step_id}=${s.status}/${s.attempts}${s.compensation_attempts > 0 ? `+${s.compensation_attempts}c` : ''}${s.error ? ` [${s.error.code}: ${s.error.message.slice(0, 120)}]` : ''}`,
    )
    .join(', ');
}

function expectStatus(workflow: WorkflowDetail, expected: WorkflowStatus, problems: string[]): void {
  if (workflow.status !== expected)
    problems.push(`ended ${workflow.status}, expected ${expected}; steps: ${describeSteps(workflow)}`);
}

/** POST workflows with `key`; for concurrent_api, `copies` identical requests at once. */
async function submit(
  ctx: Context,
  plan: ChaosPlan,
  copies: number,
): Promise<{ answers: Answer[]; key: string }> {
  const key = randomUUID();
  const body = { recovery_plan: { plan_id: plan.id, steps: plan.steps } };
  const answers = await Promise.all(
    Array.from({ length: copies }, () =>
      call(ctx, 'POST', 'workflows', ctx.operator, body, { 'idempotency-key': key }),
    ),
  );
  return { answers, key };
}

/** Sends the plan's poison messages, each with its marker as a message attribute and in its body. */
async function sendPoison(ctx: Context, plan: ChaosPlan): Promise<void> {
  for (const poison of plan.poison) {
    const queueUrl = ctx.queues[poison.category];
    if (!queueUrl) throw new Error(`AgentQueueUrls has no ${poison.category} queue`);
    await ctx.sqs.send(
      new SendMessageCommand({
        QueueUrl: queueUrl,
        MessageBody: poison.body,
        MessageAttributes: { [MARKER_ATTRIBUTE]: { DataType: 'String', StringValue: poison.marker } },
      }),
    );
  }
}

async function invokeSweep(ctx: Context, functionName: string): Promise<string | undefined> {
  const result = await ctx.lambda.send(
    new InvokeCommand({
      FunctionName: functionName,
      Payload: new TextEncoder().encode(
        JSON.stringify({ source: 'aws.events', 'detail-type': 'Scheduled Event', detail: {} }),
      ),
    }),
  );
  return result.FunctionError ? `sweep answered ${result.FunctionError}` : undefined;
}

interface PlanRun {
  readonly ctx: Context;
  readonly plan: ChaosPlan;
  /** When this plan stops waiting (epoch ms). */
  readonly until: number;
}

async function runTriagePlan({ ctx, plan, until }: PlanRun, startedAt: number): Promise<PlanOutcome> {
  const problems: string[] = [];
  const answer = await call(
    ctx,
    'POST',
    'issues',
    ctx.operator,
    { detected_issues: plan.issues },
    { 'idempotency-key': randomUUID() },
  );
  if (answer.status !== 202)
    throw new Error(`POST issues answered ${answer.status}: ${JSON.stringify(answer.body)}`);
  const accepted = IntakeAccepted.parse(answer.body);
  let assigned = 0;
  let unassigned = 0;
  let unrouted = 0;
  for (const issue of plan.issues) {
    const decision = accepted.assignment.decisions.find((d) => d.issue_id === issue.issue_id);
    if (decision?.status === 'ASSIGNED' && decision.agent_id) assigned++;
    else if (decision?.status === 'UNASSIGNED' && decision.reason !== '' && decision.unassigned_reason)
      unassigned++;
    else {
      unrouted++;
      problems.push(`issue ${issue.issue_id} is neither assigned nor UNASSIGNED with a reason`);
    }
  }
  const issues = { total: plan.issues.length, assigned, unassigned, unrouted };
  if (accepted.execution_arn === null) {
    if (assigned > 0) problems.push(`${assigned} issues assigned but no execution started`);
    return {
      ...base(plan, startedAt),
      workflow_id: accepted.workflow_id,
      executions: [],
      status: accepted.status,
      terminal: true,
      as_expected: problems.length === 0,
      problems,
      in_flight_steps: [],
      issues,
    };
  }
  const workflow = await settle(ctx, accepted.workflow_id, until);
  return finish(plan, startedAt, workflow, problems, 'SUCCEEDED', { issues });
}

function base(plan: ChaosPlan, startedAt: number) {
  return {
    index: plan.index,
    id: plan.id,
    fault: plan.fault,
    steps: plan.fault === 'triage' ? plan.issues.length : plan.steps.length,
    duration_ms: Date.now() - startedAt,
  };
}

function finish(
  plan: ChaosPlan,
  startedAt: number,
  workflow: WorkflowDetail,
  problems: string[],
  expected: WorkflowStatus | undefined,
  extra: Partial<PlanOutcome> = {},
): PlanOutcome {
  const terminal = TERMINAL.has(workflow.status);
  if (!terminal) problems.push(`still ${workflow.status} when the plan's wait ran out`);
  else {
    problems.push(...stepConsistency(workflow));
    if (expected) expectStatus(workflow, expected, problems);
  }
  return {
    ...base(plan, startedAt),
    workflow_id: workflow.workflow_id,
    executions: workflow.executions,
    status: workflow.status,
    terminal,
    as_expected: problems.length === 0,
    problems,
    in_flight_steps: terminal
      ? workflow.steps.filter((s) => IN_FLIGHT.has(s.status)).map((s) => s.step_id)
      : [],
    ...extra,
  };
}

/** The distinct errors in an execution's history (first 1,000 events): why it went another way. */
async function historyErrors(ctx: Context, executionArn: string): Promise<string> {
  const { events = [] } = await ctx.sfn.send(
    new GetExecutionHistoryCommand({ executionArn, maxResults: 1000 }),
  );
  const errors = new Set<string>();
  for (const event of events) {
    const details =
      event.taskFailedEventDetails ??
      event.lambdaFunctionFailedEventDetails ??
      event.executionFailedEventDetails ??
      event.taskTimedOutEventDetails;
    if (details?.error) errors.add(`${event.type} ${details.error}: ${(details.cause ?? '').slice(0, 160)}`);
  }
  return [...errors].join(' | ');
}

/** Adds the execution's errors to the problems of a plan that did not go as expected. */
async function explain(ctx: Context, outcome: PlanOutcome): Promise<PlanOutcome> {
  const arn = outcome.executions[0];
  if (outcome.as_expected || arn === undefined) return outcome;
  const errors = await historyErrors(ctx, arn).catch(
    (error: unknown) => `history unavailable: ${String(error)}`,
  );
  return errors === '' ? outcome : { ...outcome, problems: [...outcome.problems, `history: ${errors}`] };
}

async function runWorkflowPlan({ ctx, plan, until }: PlanRun, startedAt: number): Promise<PlanOutcome> {
  const problems: string[] = [];
  const agentId = `${plan.id}-agent`;
  if (plan.fault === 'agent_unhealthy') {
    const registered = await call(ctx, 'POST', 'agents', ctx.admin, {
      agent_id: agentId,
      agent_type: `reference-${plan.pinnedCategory}`,
      categories: [plan.pinnedCategory],
      max_concurrency: 4,
    });
    if (registered.status >= 300) throw new Error(`POST agents answered ${registered.status}`);
    ctx.registeredAgents.push(agentId);
    await call(ctx, 'POST', `agents/${agentId}/heartbeat`, ctx.admin, { status: 'HEALTHY', current_load: 0 });
  }
  if (plan.fault === 'poison') await sendPoison(ctx, plan);
  const copies = plan.fault === 'concurrent_api' ? 3 : 1;
  const { answers } = await submit(ctx, plan, copies);
  const accepted = answers.filter((a) => a.status === 202).map((a) => WorkflowAccepted.parse(a.body));
  const first = accepted[0];
  if (first === undefined)
    throw new Error(
      `POST workflows answered ${answers.map((a) => `${a.status} ${JSON.stringify(a.body)}`).join('; ')}`,
    );
  let api: PlanOutcome['api'];
  let expected: WorkflowStatus | undefined = COMPLETION_CLASSES.has(plan.fault)
    ? 'SUCCEEDED'
    : ROLLBACK_CLASSES.has(plan.fault)
      ? 'ROLLED_BACK'
      : plan.fault === 'fail_rollback'
        ? 'ROLLBACK_FAILED'
        : 'SUCCEEDED';
  let countsIn: PlanOutcome['counts_in'] = COMPLETION_CLASSES.has(plan.fault)
    ? 'completion'
    : ROLLBACK_CLASSES.has(plan.fault)
      ? 'rollback'
      : plan.fault === 'fail_rollback'
        ? 'rollback_failed'
        : undefined;

  if (plan.fault === 'concurrent_api') {
    const duplicatesConsistent =
      answers.every((a) => a.status === 202 || a.status === 409) &&
      accepted.every((a) => a.workflow_id === first.workflow_id && a.execution_arn === first.execution_arn);
    if (!duplicatesConsistent)
      problems.push(
        `duplicate POSTs: ${answers.map((a) => `${a.status} ${JSON.stringify(a.body)}`).join('; ')}`,
      );
    await waitFor(ctx, first.workflow_id, Math.min(until, Date.now() + 30_000), (w) =>
      w.steps.some((s) => s.status !== 'PENDING'),
    );
    const calls = [
      ['cancel', { reason: `${plan.id} cancel A` }],
      ['cancel', { reason: `${plan.id} cancel B` }],
      ['rollback', { reason: `${plan.id} rollback` }],
    ] as const;
    const results = await Promise.all(
      calls.map(([what, body]) =>
        call(ctx, 'POST', `workflows/${first.workflow_id}/${what}`, ctx.operator, body),
      ),
    );
    const won = results.filter((r) => r.status === 202).length;
    const conflicts = results.filter((r) => r.status === 409).length;
    api = {
      won,
      conflicts,
      other: results.length - won - conflicts,
      duplicates_consistent: duplicatesConsistent,
    };
    if (won !== 1 || conflicts !== results.length - 1)
      problems.push(
        `cancel/rollback race: ${results.map((r, k) => `${calls[k]?.[0]} ${r.status}`).join(', ')}`,
      );
    const winner = results.findIndex((r) => r.status === 202);
    expected = winner < 0 ? undefined : calls[winner]?.[0] === 'cancel' ? 'CANCELLED' : 'ROLLED_BACK';
  }

  if (plan.fault === 'agent_unhealthy' && ctx.sweepFunction) {
    const inFlight = await waitFor(ctx, first.workflow_id, Math.min(until, Date.now() + 30_000), (w) =>
      w.steps.some((s) => plan.pinned.includes(s.step_id) && IN_FLIGHT.has(s.status)),
    );
    if (!inFlight) problems.push('no pinned step was ever in flight');
    const beat = await call(ctx, 'POST', `agents/${agentId}/heartbeat`, ctx.admin, { status: 'UNHEALTHY' });
    if (beat.status !== 200) problems.push(`UNHEALTHY heartbeat answered ${beat.status}`);
    const sweepError = await invokeSweep(ctx, ctx.sweepFunction);
    if (sweepError) problems.push(sweepError);
    expected = plan.pinnedIdempotent ? 'SUCCEEDED' : 'ROLLED_BACK';
    if (!plan.pinnedIdempotent) countsIn = 'rollback';
  }

  let workflow = await settle(ctx, first.workflow_id, until);

  if (plan.fault === 'concurrent_api') {
    // Compensating executions are named `<workflow_id>.rollback-<n>`; the duplicates started no other run.
    const runs = workflow.executions.filter((arn) => !arn.includes('.rollback-'));
    if (runs.length !== 1 || runs[0] !== first.execution_arn)
      problems.push(`duplicate POSTs started ${runs.length} runs: ${runs.join(', ')}`);
  }
  if (plan.fault === 'agent_unhealthy' && plan.pinnedIdempotent && workflow.status === 'SUCCEEDED') {
    const stayed = workflow.steps.filter((s) => plan.pinned.includes(s.step_id) && s.agent_id === agentId);
    if (stayed.length > 0)
      problems.push(
        `idempotent steps ${stayed.map((s) => s.step_id).join(', ')} still answered by the unhealthy agent`,
      );
  }
  if (plan.fault === 'late_callback' && TERMINAL.has(workflow.status)) {
    // Every late answer has been sent (and refused) by now; none may have changed anything.
    await sleep(plan.lateAnswerMs);
    const after = await detail(ctx, workflow.workflow_id);
    const shape = (w: WorkflowDetail) =>
      JSON.stringify([w.status, w.updated_at, w.steps.map((s) => [s.step_id, s.status, s.attempts])]);
    if (shape(after) !== shape(workflow))
      problems.push('the workflow changed after it ended (a late answer got in)');
    const late = after.steps.find((s) => s.step_id === plan.faulty[0]);
    if (late?.status === 'SUCCEEDED') problems.push(`late step ${late.step_id} recorded SUCCEEDED`);
    workflow = after;
  }
  if (plan.fault === 'fail_rollback' && TERMINAL.has(workflow.status)) {
    const undo = workflow.steps.find((s) => s.step_id === plan.faulty[1]);
    if (undo && undo.status !== 'COMPENSATION_FAILED')
      problems.push(
        `step ${undo.step_id} (fail_rollback) ended ${undo.status}, expected COMPENSATION_FAILED`,
      );
  }
  return finish(plan, startedAt, workflow, problems, expected, {
    ...(api ? { api } : {}),
    ...(countsIn ? { counts_in: countsIn } : {}),
    ...(plan.fault === 'agent_unhealthy'
      ? { variant: plan.pinnedIdempotent ? 're-dispatch' : 'rollback' }
      : {}),
  });
}

async function runPlan(run: PlanRun): Promise<PlanOutcome> {
  const startedAt = Date.now();
  const { plan, ctx } = run;
  if (plan.fault === 'agent_unhealthy' && !ctx.sweepFunction) {
    return {
      ...base(plan, startedAt),
      not_run: 'no SweepFunctionName output',
      executions: [],
      terminal: true,
      as_expected: true,
      problems: [],
      in_flight_steps: [],
    };
  }
  try {
    const outcome =
      plan.fault === 'triage' ? await runTriagePlan(run, startedAt) : await runWorkflowPlan(run, startedAt);
    return await explain(ctx, outcome);
  } catch (error) {
    return {
      ...base(plan, startedAt),
      executions: [],
      // Not a hung workflow: the plan could not be driven at all; `errored` counts it.
      terminal: true,
      errored: true,
      as_expected: false,
      problems: [`error: ${error instanceof Error ? error.message : String(error)}`],
      in_flight_steps: [],
      ...(COMPLETION_CLASSES.has(plan.fault) ? { counts_in: 'completion' as const } : {}),
      ...(ROLLBACK_CLASSES.has(plan.fault) ? { counts_in: 'rollback' as const } : {}),
    };
  }
}

interface DlqSweep {
  readonly poisonFound: number;
  /** `workflow_id/step_id` of this run's task messages found dead-lettered. */
  readonly deadTasks: ReadonlySet<string>;
  readonly manualInterventions: number;
}

/**
 * Receives from every DLQ until each poison marker has been seen (or `until` passes), deleting
 * this run's messages (poison, and task or manual-intervention messages of its workflows) and
 * leaving every other message where it was.
 */
async function sweepDeadLetters(
  ctx: Context,
  dlqs: readonly string[],
  markers: ReadonlySet<string>,
  workflowIds: ReadonlySet<string>,
  until: number,
): Promise<DlqSweep> {
  const found = new Set<string>();
  const deadTasks = new Set<string>();
  let manualInterventions = 0;
  const foreign: { queue: string; message: Message }[] = [];
  const ours = (message: Message): { marker?: string; task?: string; manual?: boolean } | undefined => {
    const attribute = message.MessageAttributes?.[MARKER_ATTRIBUTE]?.StringValue;
    const body = message.Body ?? '';
    const marker = attribute ?? [...markers].find((m) => body.includes(`"${m}"`));
    if (marker && markers.has(marker)) return { marker };
    try {
      const parsed = JSON.parse(body) as { workflow_id?: unknown; step_id?: unknown; kind?: unknown };
      if (typeof parsed.workflow_id === 'string' && workflowIds.has(parsed.workflow_id))
        return parsed.kind === 'compensation_failed'
          ? { manual: true }
          : { task: `${parsed.workflow_id}/${String(parsed.step_id)}` };
    } catch {
      // Not JSON and not ours.
    }
    return undefined;
  };
  let rounds = 0;
  for (;;) {
    rounds++;
    let received = 0;
    for (const queue of dlqs) {
      for (let page = 0; page < 10; page++) {
        const { Messages = [] } = await ctx.sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: queue,
            MaxNumberOfMessages: 10,
            WaitTimeSeconds: 0,
            VisibilityTimeout: 60,
            MessageAttributeNames: ['All'],
          }),
        );
        received += Messages.length;
        for (const message of Messages) {
          const mine = ours(message);
          if (mine === undefined) {
            foreign.push({ queue, message });
            continue;
          }
          if (mine.marker) found.add(mine.marker);
          if (mine.task) deadTasks.add(mine.task);
          if (mine.manual) manualInterventions++;
          await ctx.sqs.send(
            new DeleteMessageCommand({ QueueUrl: queue, ReceiptHandle: message.ReceiptHandle }),
          );
        }
        if (Messages.length < 10) break;
      }
    }
    const done = found.size >= markers.size && (rounds >= 2 || received === 0);
    if (done || Date.now() >= until) break;
    await sleep(1_000);
  }
  await Promise.all(
    foreign.map(({ queue, message }) =>
      ctx.sqs
        .send(
          new ChangeMessageVisibilityCommand({
            QueueUrl: queue,
            ReceiptHandle: message.ReceiptHandle,
            VisibilityTimeout: 0,
          }),
        )
        .catch(() => undefined),
    ),
  );
  return { poisonFound: found.size, deadTasks, manualInterventions };
}

/** Executions still RUNNING after a short wait (the record turns terminal one Task before the execution ends). */
async function runningExecutions(sfn: SFNClient, arns: readonly string[], until: number): Promise<string[]> {
  const running: string[] = [];
  for (const executionArn of arns) {
    for (;;) {
      const { status } = await sfn.send(new DescribeExecutionCommand({ executionArn }));
      if (status !== 'RUNNING') break;
      if (Date.now() >= until) {
        running.push(executionArn);
        break;
      }
      await sleep(250);
    }
  }
  return running;
}

const rate = (outcomes: readonly PlanOutcome[], bucket: PlanOutcome['counts_in']): Rate => {
  const counted = outcomes.filter((o) => o.counts_in === bucket && o.not_run === undefined);
  const ok = counted.filter((o) => o.as_expected).length;
  return { ok, total: counted.length, rate: counted.length === 0 ? null : ok / counted.length };
};

const percent = (r: Rate): string =>
  r.rate === null ? 'n/a' : `${(r.rate * 100).toFixed(1)}% (${r.ok}/${r.total})`;

function median(values: readonly number[]): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/**
 * Runs the chaos suite and returns its report; never throws for a fault the orchestrator
 * mishandles (that is a missed target), only when the target cannot be reached at all.
 *
 * @example
 * const report = await runChaos({ seed: 7, plans: 12, concurrency: 12, minSteps: 3, maxSteps: 6, timeLimitMs: 120_000 });
 * report.met; // every issue-7 target held
 */
export async function runChaos(options: ChaosOptions): Promise<ChaosReport> {
  const started = Date.now();
  const log = options.log ?? (() => {});
  const classes = options.classes ?? FAULT_CLASSES;
  const drainMs = options.drainMs ?? 120_000;
  const planTimeoutMs = options.planTimeoutMs ?? 180_000;
  const target = options.target ?? (await openChaosTarget(options.env, { referenceAgents: true }));
  const client = {
    endpoint: target.aws.endpoint,
    region: target.aws.region,
    credentials: target.aws.credentials,
  };
  const sqs = new SQSClient(client);
  const sfn = new SFNClient(client);
  const lambda = new LambdaClient(client);
  const registeredAgents: string[] = [];
  let admin = '';
  try {
    const nonce = randomUUID().slice(0, 6);
    const operator = await target.tokenFor('operator', `chaos-${options.seed}-${nonce}-operator`);
    admin = await target.tokenFor('admin', `chaos-${options.seed}-${nonce}-admin`);
    const sweepFunction = target.outputs.SweepFunctionName;
    const ctx: Context = {
      target,
      operator,
      admin,
      sqs,
      lambda,
      sfn,
      queues: JSON.parse(target.outputs.AgentQueueUrls ?? '{}') as Record<string, string>,
      ...(sweepFunction ? { sweepFunction } : {}),
      registeredAgents,
    };
    const faults = assignFaults(options.seed, options.plans, classes);
    const shape = { seed: options.seed, minSteps: options.minSteps, maxSteps: options.maxSteps, nonce };
    // The limit counts from the first plan, not from the boot (synth and the JVM vary).
    const stopStartingAt = Date.now() + options.timeLimitMs;
    const hardStop = stopStartingAt + drainMs;
    const outcomes: PlanOutcome[] = [];
    let next = 0;
    let done = 0;
    const every = Math.max(1, options.progressEvery ?? 10);
    const worker = async (): Promise<void> => {
      for (;;) {
        const index = next++;
        if (index >= faults.length) return;
        const plan = buildPlan(shape, index, faults[index] as FaultClass);
        if (Date.now() >= stopStartingAt) {
          outcomes.push({
            ...base(plan, Date.now()),
            not_run: 'time limit reached before it started',
            executions: [],
            terminal: true,
            as_expected: true,
            problems: [],
            in_flight_steps: [],
          });
          continue;
        }
        const outcome = await runPlan({ ctx, plan, until: Math.min(Date.now() + planTimeoutMs, hardStop) });
        outcomes.push(outcome);
        done++;
        if (!outcome.as_expected)
          log(
            `chaos: plan ${plan.index} (${plan.fault}) ${outcome.status ?? 'no status'}: ${outcome.problems.join('; ')}`,
          );
        if (done % every === 0 || done === faults.length) {
          const ok = outcomes.filter((o) => o.as_expected && o.not_run === undefined).length;
          log(
            `chaos: ${done}/${faults.length} plans done, ${ok} as expected, ${((Date.now() - started) / 1000).toFixed(1)} s`,
          );
        }
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, options.concurrency) }, worker));
    outcomes.sort((a, b) => a.index - b.index);

    log('chaos: sweeping the dead-letter queues');
    const markers = new Set(
      outcomes
        .filter((o) => o.not_run === undefined && o.fault === 'poison')
        .flatMap((o) => buildPlan(shape, o.index, o.fault).poison.map((p) => p.marker)),
    );
    const workflowIds = new Set(outcomes.flatMap((o) => (o.workflow_id ? [o.workflow_id] : [])));
    const dlqs = [
      ...Object.values(JSON.parse(target.outputs.AgentDlqUrls ?? '{}') as Record<string, string>),
      ...(target.outputs.CompensationDlqUrl ? [target.outputs.CompensationDlqUrl] : []),
    ];
    const dead = await sweepDeadLetters(ctx, dlqs, markers, workflowIds, Date.now() + 90_000);

    log('chaos: asking Step Functions about every execution');
    const arns = outcomes.flatMap((o) => o.executions);
    const running = await runningExecutions(sfn, arns, Date.now() + 15_000);

    const ran = outcomes.filter((o) => o.not_run === undefined);
    const inFlight = ran.flatMap((o) => o.in_flight_steps.map((s) => `${o.workflow_id}/${s}`));
    const unexplained = inFlight.filter((key) => !dead.deadTasks.has(key));
    const lostPoison = markers.size - dead.poisonFound;
    const nonTerminalWorkflows = ran.filter((o) => !o.terminal).length;
    const issuesTotal = ran.reduce((n, o) => n + (o.issues?.total ?? 0), 0);
    const unrouted = ran.reduce((n, o) => n + (o.issues?.unrouted ?? 0), 0);
    const completion = rate(ran, 'completion');
    const rollback = rate(ran, 'rollback');
    const rollbackFailed = rate(ran, 'rollback_failed');
    const lostTotal = unexplained.length + lostPoison;
    const nonTerminal = { workflows: nonTerminalWorkflows, executions: running.length };

    const classReport = Object.fromEntries(
      FAULT_CLASSES.map((fault) => {
        const planned = outcomes.filter((o) => o.fault === fault);
        const run = planned.filter((o) => o.not_run === undefined);
        const notRun = planned.find((o) => o.not_run !== undefined)?.not_run;
        return [
          fault,
          {
            planned: planned.length,
            run: run.length,
            as_expected: run.filter((o) => o.as_expected).length,
            ...(notRun && run.length === 0 && planned.length > 0 ? { not_run: notRun } : {}),
            ...(fault === 'agent_unhealthy' && run.length > 0
              ? {
                  note: `re-dispatch ${run.filter((o) => o.variant === 're-dispatch').length}, rollback ${run.filter((o) => o.variant === 'rollback').length}`,
                }
              : {}),
          },
        ];
      }),
    ) as ChaosReport['classes'];

    const errored = ran.filter((o) => o.errored).length;
    const targets: TargetCheck[] = [
      {
        name: 'workflow completion (none/transient/duplicate_callback)',
        value: percent(completion),
        target: '100%',
        met: completion.total > 0 && completion.ok === completion.total,
      },
      {
        name: 'rollback success (fail/timeout/crash/late_callback/agent_unhealthy)',
        value: percent(rollback),
        target: '100%',
        met: rollback.total > 0 && rollback.ok === rollback.total,
      },
      { name: 'messages lost', value: String(lostTotal), target: '0', met: lostTotal === 0 },
      {
        name: 'non-terminal (workflows / executions)',
        value: `${nonTerminal.workflows} / ${nonTerminal.executions}`,
        target: '0',
        met: nonTerminal.workflows === 0 && nonTerminal.executions === 0,
      },
      {
        name: 'issues neither assigned nor UNASSIGNED',
        value: `${unrouted} of ${issuesTotal}`,
        target: '0',
        met: unrouted === 0,
      },
      // Not one of issue 7's targets, but a plan the runner could not drive measured nothing.
      { name: 'plans the runner could not drive', value: String(errored), target: '0', met: errored === 0 },
    ];
    const problems = ran
      .filter((o) => !o.as_expected)
      .map((o) => `plan ${o.index} ${o.fault} (${o.workflow_id ?? 'no workflow'}): ${o.problems.join('; ')}`);
    for (const key of unexplained) problems.push(`lost: step ${key} left in flight and not in a DLQ`);
    if (lostPoison > 0)
      problems.push(`lost: ${lostPoison} of ${markers.size} poison messages not found in a DLQ`);
    for (const arn of running) problems.push(`execution still RUNNING: ${arn}`);

    return {
      seed: options.seed,
      plans: options.plans,
      run: ran.length,
      wall_ms: Date.now() - started,
      median_plan_ms: median(ran.map((o) => o.duration_ms)),
      classes: classReport,
      completion,
      rollback,
      rollback_failed: rollbackFailed,
      lost: {
        total: lostTotal,
        in_flight_steps: unexplained.length,
        dead_lettered_task_messages: dead.deadTasks.size,
        poison_sent: markers.size,
        poison_found: dead.poisonFound,
      },
      non_terminal: nonTerminal,
      issues: { total: issuesTotal, unrouted },
      errored,
      manual_interventions_cleaned: dead.manualInterventions,
      problems,
      targets,
      met: targets.every((t) => t.met),
      outcomes,
    };
  } finally {
    // Only now: a step routed to one of these agents may still need compensating until its plan ends.
    for (const agentId of registeredAgents) {
      await fetch(target.url(`agents/${agentId}`), {
        method: 'DELETE',
        headers: { authorization: `Bearer ${admin}` },
        signal: AbortSignal.timeout(30_000),
      }).catch(() => undefined);
    }
    sqs.destroy();
    sfn.destroy();
    lambda.destroy();
    if (options.target === undefined) await target.stop();
  }
}
