/**
 * The workflow benches of issue 10 that need real runs, each on the target `openChaosTarget`
 * resolves (the offline runtime booted from cdk.out, or `E2E_OUTPUTS`):
 *
 * - `scaling` (part 3): one workflow of 10, 100 and 350 steps (the most one execution holds) with
 *   instant agents, and a 1,000-step plan, which POST workflows refuses with 422 PLAN_TOO_LARGE
 *   and the bench then runs as consecutive workflows of at most 350 steps, cut at layer
 *   boundaries, as the limit's documentation tells users to. Wall time, waves, state transitions
 *   and history events, from the executions' histories.
 * - `cost` (part 5): the billable work of a 10-step and a 100-step workflow and of 1,000 issues
 *   POSTed as ten batches of 100 and run to the end, counted by the runtime (`GET /_aws/usage`:
 *   Lambda invocations and billed GB-seconds, DynamoDB capacity units, SQS, API Gateway and
 *   WebSocket messages, EventBridge entries, log bytes) and by the execution histories (state
 *   transitions), then priced at us-east-1 list prices ({@link PRICES}).
 * - `allocation` (part 6): a 100-step plan whose steps take 0.2–1.5 s of agent work, planned in
 *   process by the same planner and then run; planned against real makespan, critical path and
 *   agent-slot utilization.
 *
 * One workflow runs at a time, with a `*` WebSocket subscriber attached as a dashboard would be,
 * so the usage counted between two snapshots is that workflow's (plus the reference agents' idle
 * SQS polls, reported apart).
 */
import { randomUUID } from 'node:crypto';
import {
  DescribeExecutionCommand,
  type HistoryEvent,
  paginateGetExecutionHistory,
  SFNClient,
} from '@aws-sdk/client-sfn';
import WebSocket from 'ws';
import { REFERENCE_AGENT_MAX_CONCURRENCY, referenceAgentId } from '#agents/reference/catalog';
import { parseDuration } from '#core/duration';
import { planSchedule } from '#core/planner';
import { CATEGORIES, type Category } from '#core/wire';
import { MAX_WORKFLOW_STEPS, TERMINAL_WORKFLOW_STATUSES } from '#core/workflow';
import type { UsageCounters } from '#local/runtime/edge';
import type { UsageReport } from '#local/runtime/types';
import { benchOperatorHeaders, type ChaosTarget, openChaosTarget } from './chaos/target';
import type { DecisionLine } from './decisions';
import { generateTriageRequest, mulberry32, randomInt } from './generate';

type Emit = (line: DecisionLine) => void;
type Info = (message: string) => void;

/**
 * us-east-1 list prices, read from each service's pricing page on 2026-11-24 (first tier, no free
 * tier). Lambda: arm64, as the stack deploys every function.
 */
export const PRICES = {
  date: '2026-11-24',
  region: 'us-east-1',
  state_transition: { usd: 0.025 / 1_000, source: 'https://aws.amazon.com/step-functions/pricing/' },
  lambda_request: { usd: 0.2 / 1e6, source: 'https://aws.amazon.com/lambda/pricing/' },
  lambda_gb_second_arm64: { usd: 0.0000133334, source: 'https://aws.amazon.com/lambda/pricing/' },
  dynamodb_write_unit: { usd: 0.625 / 1e6, source: 'https://aws.amazon.com/dynamodb/pricing/on-demand/' },
  dynamodb_read_unit: { usd: 0.125 / 1e6, source: 'https://aws.amazon.com/dynamodb/pricing/on-demand/' },
  sqs_request: { usd: 0.4 / 1e6, source: 'https://aws.amazon.com/sqs/pricing/' },
  rest_api_request: { usd: 3.5 / 1e6, source: 'https://aws.amazon.com/api-gateway/pricing/' },
  websocket_message: { usd: 1 / 1e6, source: 'https://aws.amazon.com/api-gateway/pricing/' },
  websocket_connection_minute: { usd: 0.25 / 1e6, source: 'https://aws.amazon.com/api-gateway/pricing/' },
  eventbridge_event: { usd: 1 / 1e6, source: 'https://aws.amazon.com/eventbridge/pricing/' },
  log_ingest_gb: { usd: 0.5, source: 'https://aws.amazon.com/cloudwatch/pricing/' },
} as const;

const TERMINAL: ReadonlySet<string> = new Set(TERMINAL_WORKFLOW_STATUSES);
const round = (x: number, digits = 1) => Math.round(x * 10 ** digits) / 10 ** digits;

// ---------------------------------------------------------------- plans

export interface BenchStep {
  readonly step_id: string;
  readonly issue_id: string;
  readonly category: Category;
  readonly depends_on: string[];
  readonly delay_ms: number;
}

/**
 * A layered DAG of `steps` steps, `width` to a layer; every step past the first layer depends on
 * one or two steps of the layer before. Categories go round the ten reference agents; each
 * step's agent work is drawn from `delayMs` ([min, max], ms).
 */
export function layeredSteps(
  steps: number,
  width: number,
  seed: number,
  delayMs: readonly [number, number] = [0, 0],
  categories: readonly Category[] = CATEGORIES,
): BenchStep[] {
  const rng = mulberry32(seed);
  const out: BenchStep[] = [];
  for (let k = 0; k < steps; k++) {
    const layer = Math.floor(k / width);
    const previous = Array.from({ length: width }, (_, j) => (layer - 1) * width + j).filter((j) => j >= 0);
    const deps = new Set<string>();
    if (layer > 0) {
      deps.add(`s${previous[randomInt(rng, 0, previous.length - 1)]}`);
      if (rng() < 0.5) deps.add(`s${previous[randomInt(rng, 0, previous.length - 1)]}`);
    }
    out.push({
      step_id: `s${k}`,
      issue_id: `i${k}`,
      category: categories[k % categories.length] as Category,
      depends_on: [...deps],
      delay_ms: randomInt(rng, delayMs[0], delayMs[1]),
    });
  }
  return out;
}

/** The POST workflows body for `steps`; ids get `prefix` so every run is unique. */
export function planBody(prefix: string, steps: readonly BenchStep[]) {
  const ids = new Set(steps.map((s) => s.step_id));
  return {
    recovery_plan: {
      plan_id: prefix,
      steps: steps.map((s) => ({
        step_id: s.step_id,
        issue_id: `${prefix}-${s.issue_id}`,
        category: s.category,
        // A dependency on a step of an earlier workflow is met: that workflow has ended.
        depends_on: s.depends_on.filter((d) => ids.has(d)),
        estimated_duration: `PT${Math.max(1, s.delay_ms) / 1000}S`,
        parameters: { simulate: { outcome: 'succeed', delay_ms: s.delay_ms } },
      })),
    },
  };
}

/** Cuts a layered plan into consecutive workflows of at most `limit` steps, at layer boundaries. */
export function splitAtLayers(steps: readonly BenchStep[], width: number, limit: number): BenchStep[][] {
  const perPart = Math.max(1, Math.floor(limit / width)) * width;
  const parts: BenchStep[][] = [];
  for (let k = 0; k < steps.length; k += perPart) parts.push(steps.slice(k, k + perPart));
  return parts;
}

// ---------------------------------------------------------------- usage

/** A flat view of what happened between two `GET /_aws/usage` snapshots. */
export interface UsageDelta {
  readonly lambda_invocations: number;
  readonly lambda_gb_seconds: number;
  readonly log_bytes: number;
  readonly invocations_by_function: Record<string, number>;
  readonly dynamodb_read_units: number;
  readonly dynamodb_write_units: number;
  readonly dynamodb_requests: number;
  /** Capacity units (read + write) by operation: where the DynamoDB bill comes from. */
  readonly dynamodb_units_by_operation: Record<string, number>;
  readonly dynamodb_requests_by_operation: Record<string, number>;
  /**
   * Transactions cancelled (a condition failed, or a concurrent change won) and single writes
   * refused by their condition. DynamoDB bills them, DynamoDB Local reports no units for them,
   * so they are counted here and not priced.
   */
  readonly dynamodb_transactions_cancelled: number;
  readonly dynamodb_conditional_failures: number;
  /** SQS requests through the API (the orchestrator's sends, an agent's own calls). */
  readonly sqs_api_requests: number;
  /** The agents' event source mappings: receives (including empty long polls) and delete batches. */
  readonly sqs_poller_requests: number;
  readonly rest_api_requests: number;
  readonly websocket_message_units: number;
  readonly websocket_connection_minutes: number;
  readonly eventbridge_events: number;
}

const num = (report: UsageReport | undefined, key: string): number => {
  const value = report?.[key];
  return typeof value === 'number' ? value : 0;
};
const group = (report: UsageReport | undefined, key: string): UsageReport | undefined => {
  const value = report?.[key];
  return typeof value === 'object' ? value : undefined;
};
const sum = (byOperation: Readonly<Record<string, number>> | undefined) =>
  Object.values(byOperation ?? {}).reduce((a, b) => a + b, 0);

/**
 * A deployed function's role from its physical name: `MasterOrchestrator-RecoveryWorkflowFunction987CCC5A-J2JO…`
 * is `RecoveryWorkflow`; the ten reference agents are `ReferenceAgents`.
 */
export function functionRole(physicalName: string): string {
  const base = physicalName.replace(/^[^-]+-/, '').replace(/-[A-Z0-9]+$/, '');
  if (base.startsWith('ReferenceAgents')) return 'ReferenceAgents';
  return base.replace(/Function.*$/, '');
}

/** `after − before`, flattened. */
export function usageDelta(before: UsageCounters, after: UsageCounters): UsageDelta {
  const d = (pick: (u: UsageCounters) => number) => pick(after) - pick(before);
  const lambda = (u: UsageCounters) => u.services.lambda;
  const esm = (u: UsageCounters) => group(lambda(u), 'event_source_mappings');
  const functions = group(lambda(after), 'functions') ?? {};
  const invocations: Record<string, number> = {};
  for (const name of Object.keys(functions)) {
    const count = d((u) => num(group(group(lambda(u), 'functions'), name), 'invocations'));
    if (count > 0) invocations[functionRole(name)] = (invocations[functionRole(name)] ?? 0) + count;
  }
  const operations = (u: UsageCounters) => group(u.services.dynamodb, 'operations');
  const unitsByOperation: Record<string, number> = {};
  for (const name of Object.keys(operations(after) ?? {})) {
    const units = (u: UsageCounters) =>
      num(group(operations(u), name), 'read_units') + num(group(operations(u), name), 'write_units');
    const delta = d(units);
    if (delta > 0) unitsByOperation[name] = delta;
  }
  const requestsByOperation: Record<string, number> = {};
  for (const name of Object.keys(after.requests.dynamodb ?? {})) {
    const delta = d((u) => u.requests.dynamodb?.[name] ?? 0);
    if (delta > 0) requestsByOperation[name] = delta;
  }
  return {
    lambda_invocations: d((u) => num(lambda(u), 'invocations')),
    lambda_gb_seconds: d((u) => num(lambda(u), 'gb_seconds')),
    log_bytes: d((u) => num(lambda(u), 'log_bytes')),
    invocations_by_function: invocations,
    dynamodb_read_units: d((u) => num(u.services.dynamodb, 'read_units')),
    dynamodb_write_units: d((u) => num(u.services.dynamodb, 'write_units')),
    dynamodb_requests: d((u) => sum(u.requests.dynamodb)),
    dynamodb_units_by_operation: unitsByOperation,
    dynamodb_requests_by_operation: requestsByOperation,
    dynamodb_transactions_cancelled: d((u) => num(u.services.dynamodb, 'transactions_cancelled')),
    dynamodb_conditional_failures: d((u) => num(u.services.dynamodb, 'conditional_failures')),
    sqs_api_requests: d((u) => sum(u.requests.sqs)),
    sqs_poller_requests: d((u) => num(esm(u), 'receive_requests') + num(esm(u), 'delete_batch_requests')),
    rest_api_requests: d((u) => u.requests['execute-api']?.Invoke ?? 0),
    websocket_message_units: d((u) => num(u.services['execute-api'], 'message_units')),
    websocket_connection_minutes: d((u) => num(u.services['execute-api'], 'connection_ms')) / 60_000,
    eventbridge_events: d((u) => num(u.services.events, 'event_units')),
  };
}

/** Dollars by line item for `transitions` and a usage delta, at {@link PRICES}. */
export function priceOf(transitions: number, usage: UsageDelta): Record<string, number> {
  const p = PRICES;
  const lines: Record<string, number> = {
    step_functions: transitions * p.state_transition.usd,
    lambda:
      usage.lambda_invocations * p.lambda_request.usd +
      usage.lambda_gb_seconds * p.lambda_gb_second_arm64.usd,
    dynamodb:
      usage.dynamodb_write_units * p.dynamodb_write_unit.usd +
      usage.dynamodb_read_units * p.dynamodb_read_unit.usd,
    sqs: (usage.sqs_api_requests + usage.sqs_poller_requests) * p.sqs_request.usd,
    api_gateway:
      usage.rest_api_requests * p.rest_api_request.usd +
      usage.websocket_message_units * p.websocket_message.usd +
      usage.websocket_connection_minutes * p.websocket_connection_minute.usd,
    eventbridge: usage.eventbridge_events * p.eventbridge_event.usd,
    cloudwatch_logs: (usage.log_bytes / 1024 ** 3) * p.log_ingest_gb.usd,
  };
  lines.total = Object.values(lines).reduce((a, b) => a + b, 0);
  return Object.fromEntries(Object.entries(lines).map(([k, v]) => [k, Number(v.toPrecision(4))]));
}

// ---------------------------------------------------------------- histories

export interface HistoryCounts {
  /** Entered states, Map iterations' included: what Standard workflows bill. */
  readonly transitions: number;
  readonly events: number;
  readonly by_state: Record<string, number>;
}

/** Every event of one execution's history, oldest first (GetExecutionHistory, paged). */
export async function executionHistory(sfn: SFNClient, executionArn: string): Promise<HistoryEvent[]> {
  const events: HistoryEvent[] = [];
  for await (const page of paginateGetExecutionHistory({ client: sfn, pageSize: 1000 }, { executionArn }))
    events.push(...(page.events ?? []));
  return events;
}

/** State transitions and history events of the given executions. */
export async function historyCounts(
  sfn: SFNClient,
  executionArns: readonly string[],
): Promise<HistoryCounts> {
  let transitions = 0;
  let events = 0;
  const byState: Record<string, number> = {};
  for (const executionArn of executionArns) {
    for (const event of await executionHistory(sfn, executionArn)) {
      events += 1;
      const name = enteredState(event);
      if (name === undefined) continue;
      transitions += 1;
      byState[name] = (byState[name] ?? 0) + 1;
    }
  }
  return { transitions, events, by_state: byState };
}

function enteredState(event: HistoryEvent): string | undefined {
  if (!event.type?.endsWith('StateEntered')) return undefined;
  return event.stateEnteredEventDetails?.name ?? event.type;
}

// ---------------------------------------------------------------- running

interface Started {
  readonly id: string;
  readonly arn: string;
}

interface Detail {
  readonly workflow_id: string;
  readonly status: string;
  readonly created_at: string;
  readonly updated_at: string;
  readonly executions: readonly string[];
  readonly steps: readonly {
    readonly step_id: string;
    readonly agent_id: string;
    readonly wave: number;
    readonly depends_on: readonly string[];
    readonly started_at: string | null;
    readonly completed_at: string | null;
  }[];
}

class Session {
  private socket: WebSocket | undefined;
  private constructor(
    readonly target: ChaosTarget,
    readonly sfn: SFNClient,
    private readonly headers: Record<string, string>,
  ) {}

  static async open(info: Info): Promise<Session> {
    const target = await openChaosTarget(process.env, { referenceAgents: true, steadyState: true });
    const session = new Session(target, new SFNClient({ ...target.aws }), await benchOperatorHeaders(target));
    await session.subscribe(info);
    return session;
  }

  /** A `*` subscriber, as an open dashboard; its messages are counted like any client's. */
  private async subscribe(info: Info): Promise<void> {
    const base = this.target.outputs.WebSocketUrl;
    if (!base) {
      info('workflows: the target has no WebSocketUrl; running without a subscriber');
      return;
    }
    const token = await this.target.tokenFor('viewer', 'bench-dashboard');
    const socket = new WebSocket(`${base}?token=${encodeURIComponent(token)}`);
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('error', reject);
    });
    socket.on('message', () => {});
    socket.send(JSON.stringify({ action: 'subscribe', workflow_id: '*' }));
    this.socket = socket;
  }

  async usage(): Promise<UsageCounters | undefined> {
    const endpoint = this.target.aws.endpoint;
    if (!endpoint) return undefined;
    const response = await fetch(`${endpoint}/_aws/usage`).catch(() => undefined);
    return response?.ok ? ((await response.json()) as UsageCounters) : undefined;
  }

  async post(path: string, body: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
    const response = await fetch(this.target.url(path), {
      method: 'POST',
      headers: { ...this.headers, 'idempotency-key': randomUUID() },
      body: JSON.stringify(body),
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  }

  async start(body: unknown): Promise<Started> {
    const answer = await this.post('workflows', body);
    const id = answer.body.workflow_id;
    const arn = answer.body.execution_arn;
    if (answer.status !== 202 || typeof id !== 'string' || typeof arn !== 'string')
      throw new Error(
        `POST workflows answered ${answer.status}: ${JSON.stringify(answer.body).slice(0, 300)}`,
      );
    return { id, arn };
  }

  /**
   * Waits for the execution to end with DescribeExecution, which nothing bills and no usage
   * counter prices, so the wait adds nothing to the workload measured (polling GET
   * workflows/{id} would add a REST request, a Lambda invocation and DynamoDB reads each time).
   */
  async ended({ id, arn }: Started, limitMs: number): Promise<void> {
    const deadline = Date.now() + limitMs;
    for (;;) {
      const { status } = await this.sfn.send(new DescribeExecutionCommand({ executionArn: arn }));
      if (status !== 'RUNNING') return;
      if (Date.now() > deadline)
        throw new Error(`workflow ${id}: its execution still runs after ${limitMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  async detail(id: string): Promise<Detail> {
    const response = await fetch(this.target.url(`workflows/${id}`), { headers: this.headers });
    const detail = (await response.json()) as Detail;
    if (!TERMINAL.has(detail.status))
      throw new Error(`workflow ${id} is ${detail.status} after its execution ended`);
    return detail;
  }

  async finished(started: Started, limitMs: number): Promise<Detail> {
    await this.ended(started, limitMs);
    return this.detail(started.id);
  }
  async close(): Promise<void> {
    this.socket?.close();
    this.sfn.destroy();
    await this.target.stop();
  }
}

const wallOf = (d: Detail) => Date.parse(d.updated_at) - Date.parse(d.created_at);
const wavesOf = (d: Detail) => new Set(d.steps.map((s) => s.wave)).size;

// ---------------------------------------------------------------- scaling

export async function benchScaling(quick: boolean, emit: Emit, info: Info): Promise<void> {
  const session = await Session.open(info);
  try {
    await warmUp(session, info);
    const sizes: [number, number][] = quick
      ? [
          [10, 5],
          [100, 20],
        ]
      : [
          [10, 5],
          [100, 20],
          [MAX_WORKFLOW_STEPS, 35],
        ];
    for (const [n, width] of sizes) {
      info(`scaling: one workflow of ${n} steps, ${width} a layer, instant agents`);
      const steps = layeredSteps(n, width, n);
      const id = await session.start(planBody(`bench-scale-${n}-${randomUUID().slice(0, 8)}`, steps));
      const detail = await session.finished(id, 120_000 + n * 2_000);
      const history = await historyCounts(session.sfn, detail.executions);
      const wall = wallOf(detail);
      emit({
        bench: 'scaling',
        n,
        median_ms: wall,
        runs: 1,
        workflows: 1,
        status: detail.status,
        waves: wavesOf(detail),
        per_step_ms: round(wall / n),
        transitions: history.transitions,
        transitions_per_step: round(history.transitions / n, 2),
        history_events: history.events,
        history_events_per_step: round(history.events / n, 2),
        history_share_of_limit: round(history.events / 25_000, 3),
      });
    }
    if (quick) return;
    const n = 1_000;
    const width = 35;
    const steps = layeredSteps(n, width, n);
    info(`scaling: ${n} steps in one plan, then split at layer boundaries`);
    const refused = await session.post(
      'workflows',
      planBody(`bench-scale-${n}-${randomUUID().slice(0, 8)}`, steps),
    );
    const code = (refused.body.error as { code?: string } | undefined)?.code;
    const parts = splitAtLayers(steps, width, MAX_WORKFLOW_STEPS);
    const started = Date.now();
    const details: Detail[] = [];
    for (const [k, part] of parts.entries()) {
      const id = await session.start(planBody(`bench-scale-${n}-p${k}-${randomUUID().slice(0, 8)}`, part));
      details.push(await session.finished(id, 120_000 + part.length * 2_000));
    }
    const wall = Date.now() - started;
    const history = await historyCounts(
      session.sfn,
      details.flatMap((d) => d.executions),
    );
    emit({
      bench: 'scaling',
      n,
      median_ms: wall,
      runs: 1,
      refused_status: refused.status,
      refused_code: code ?? null,
      workflows: parts.length,
      workflow_sizes: parts.map((p) => p.length),
      status: details.every((d) => d.status === 'SUCCEEDED')
        ? 'SUCCEEDED'
        : details.map((d) => d.status).join(','),
      waves: details.reduce((a, d) => a + wavesOf(d), 0),
      per_step_ms: round(wall / n),
      transitions: history.transitions,
      transitions_per_step: round(history.transitions / n, 2),
      history_events: history.events,
      history_events_per_step: round(history.events / n, 2),
    });
  } finally {
    await session.close();
  }
}

async function warmUp(session: Session, info: Info): Promise<void> {
  info('workflows: warm-up workflow (cold starts of every function on the path)');
  const id = await session.start(planBody(`bench-warm-${randomUUID().slice(0, 8)}`, layeredSteps(20, 10, 1)));
  await session.finished(id, 120_000);
}

// ---------------------------------------------------------------- cost

export async function benchCost(quick: boolean, emit: Emit, info: Info): Promise<void> {
  const session = await Session.open(info);
  try {
    if (!(await session.usage())) {
      info('cost: the target has no /_aws/usage (not the offline runtime); nothing to count');
      return;
    }
    await warmUp(session, info);
    const shapes: [string, number, number][] = [
      ['workflow_10_steps', 10, 4],
      ['workflow_100_steps', 100, 20],
    ];
    for (const [name, n, width] of shapes) {
      info(`cost: one workflow of ${n} steps (${width} a layer)`);
      const before = (await session.usage()) as UsageCounters;
      const started = await session.start(
        planBody(`bench-cost-${n}-${randomUUID().slice(0, 8)}`, layeredSteps(n, width, 7)),
      );
      await session.ended(started, 120_000 + n * 2_000);
      const after = (await session.usage()) as UsageCounters;
      const detail = await session.detail(started.id);
      const history = await historyCounts(session.sfn, detail.executions);
      const usage = usageDelta(before, after);
      emit(
        costLine(name, n, wallOf(detail), history, usage, { waves: wavesOf(detail), status: detail.status }),
      );
    }

    const batches = quick ? 2 : 10;
    const perBatch = 100;
    info(`cost: ${batches * perBatch} issues as ${batches} POST issues of ${perBatch}, run to the end`);
    const before = (await session.usage()) as UsageCounters;
    const t0 = Date.now();
    const runs: Started[] = [];
    let assigned = 0;
    for (let b = 0; b < batches; b++) {
      const request = prefixIssues(
        generateTriageRequest(perBatch, 100 + b),
        `bench-cost-b${b}-${randomUUID().slice(0, 6)}`,
      );
      const answer = await session.post('issues', request);
      if (answer.status !== 202)
        throw new Error(
          `POST issues answered ${answer.status}: ${JSON.stringify(answer.body).slice(0, 300)}`,
        );
      const decisions =
        (answer.body.assignment as { decisions?: { status: string }[] } | undefined)?.decisions ?? [];
      assigned += decisions.filter((d) => d.status === 'ASSIGNED').length;
      const { workflow_id: id, execution_arn: arn } = answer.body;
      if (typeof id === 'string' && typeof arn === 'string') runs.push({ id, arn });
    }
    for (const run of runs) await session.ended(run, 300_000);
    const wall = Date.now() - t0;
    const after = (await session.usage()) as UsageCounters;
    const details: Detail[] = [];
    for (const run of runs) details.push(await session.detail(run.id));
    const history = await historyCounts(
      session.sfn,
      details.flatMap((d) => d.executions),
    );
    const usage = usageDelta(before, after);
    emit(
      costLine('issues_1000', batches * perBatch, wall, history, usage, {
        workflows: details.length,
        assigned,
        statuses: countBy(details.map((d) => d.status)),
      }),
    );
  } finally {
    await session.close();
  }
}

function costLine(
  name: string,
  n: number,
  wallMs: number,
  history: HistoryCounts,
  usage: UsageDelta,
  extra: Record<string, unknown>,
): DecisionLine {
  const usd = priceOf(history.transitions, usage);
  const shares = Object.fromEntries(
    Object.entries(usd)
      .filter(([k]) => k !== 'total')
      .map(([k, v]) => [k, round((v / (usd.total ?? 1)) * 100, 1)]),
  );
  return {
    bench: 'cost',
    n,
    median_ms: wallMs,
    workload: name,
    ...extra,
    transitions: history.transitions,
    transitions_by_state: history.by_state,
    ...usage,
    usd,
    usd_share_percent: shares,
    prices: { date: PRICES.date, region: PRICES.region },
  };
}

function countBy(values: readonly string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const v of values) counts[v] = (counts[v] ?? 0) + 1;
  return counts;
}

/** Makes a generated batch's issue ids unique to this run (the generator numbers them from 0). */
function prefixIssues<T extends { detected_issues: { issue_id: string; depends_on?: string[] }[] }>(
  request: T,
  prefix: string,
): T {
  return {
    ...request,
    detected_issues: request.detected_issues.map((issue) => ({
      ...issue,
      issue_id: `${prefix}-${issue.issue_id}`,
      ...(issue.depends_on ? { depends_on: issue.depends_on.map((d) => `${prefix}-${d}`) } : {}),
    })),
  };
}

// ---------------------------------------------------------------- allocation

export interface RealSchedule {
  readonly makespan_ms: number;
  readonly critical_path_ms: number;
  readonly busy_ms: number;
}

/**
 * Makespan (first start to last end), critical path (the longest dependency chain with each
 * step's measured start-to-end time) and busy time of a finished workflow.
 */
export function realSchedule(steps: Detail['steps']): RealSchedule {
  const span = new Map<string, number>();
  let first = Number.POSITIVE_INFINITY;
  let last = 0;
  let busy = 0;
  for (const s of steps) {
    const start = Date.parse(s.started_at ?? '');
    const end = Date.parse(s.completed_at ?? '');
    if (!Number.isFinite(start) || !Number.isFinite(end)) continue;
    span.set(s.step_id, end - start);
    first = Math.min(first, start);
    last = Math.max(last, end);
    busy += end - start;
  }
  const byId = new Map(steps.map((s) => [s.step_id, s]));
  const memo = new Map<string, number>();
  const longest = (id: string): number => {
    const known = memo.get(id);
    if (known !== undefined) return known;
    const step = byId.get(id);
    const before = Math.max(0, ...(step?.depends_on ?? []).map(longest));
    const value = before + (span.get(id) ?? 0);
    memo.set(id, value);
    return value;
  };
  const critical = Math.max(0, ...steps.map((s) => longest(s.step_id)));
  return { makespan_ms: Math.max(0, last - first), critical_path_ms: critical, busy_ms: busy };
}

export async function benchAllocation(quick: boolean, emit: Emit, info: Info): Promise<void> {
  const session = await Session.open(info);
  try {
    await warmUp(session, info);
    // Wide: ten agents, 40 slots, more than the plan can fill; slot-bound: two agents, 8 slots,
    // layers four times as wide, so the slots and not the dependencies set the makespan.
    const twoAgents: readonly Category[] = ['network', 'capacity'];
    type Shape = [name: string, steps: number, width: number, categories: readonly Category[]];
    const wide100: Shape[] = quick ? [] : [['wide', 100, 20, CATEGORIES]];
    const shapes: Shape[] = [['wide', 40, 10, CATEGORIES], ...wide100, ['slot_bound', 64, 32, twoAgents]];
    for (const [shape, n, width, categories] of shapes) {
      const steps = layeredSteps(n, width, 11, [200, 1_500], categories);
      info(`allocation: ${shape}, ${n} steps, ${width} a layer, 0.2–1.5 s of agent work each`);
      // The planner's view, with the limits the Plan task applies: each reference agent's slots.
      const agentSlots = Object.fromEntries(
        CATEGORIES.map((c) => [referenceAgentId(c), REFERENCE_AGENT_MAX_CONCURRENCY]),
      );
      const planned = planSchedule(
        steps.map((s) => ({
          step_id: s.step_id,
          issue_id: s.issue_id,
          agent_id: referenceAgentId(s.category),
          depends_on: s.depends_on,
          duration_ms: s.delay_ms,
        })),
        { agent_slots: agentSlots },
        0,
      );
      const id = await session.start(planBody(`bench-alloc-${n}-${randomUUID().slice(0, 8)}`, steps));
      const detail = await session.finished(id, 180_000);
      const real = realSchedule(detail.steps);
      const work = steps.reduce((a, s) => a + s.delay_ms, 0);
      const agents = new Set(steps.map((s) => s.category)).size;
      const lowerBound = parseDuration(planned.lower_bound);
      const slots = agents * REFERENCE_AGENT_MAX_CONCURRENCY;
      const plannedMakespan = parseDuration(planned.makespan);
      const plannedCritical = parseDuration(planned.critical_path_duration);
      emit({
        bench: 'allocation',
        n,
        median_ms: real.makespan_ms,
        shape,
        status: detail.status,
        agents,
        slots,
        agent_work_ms: work,
        planned_makespan_ms: plannedMakespan,
        planned_critical_path_ms: plannedCritical,
        // The state machine runs wave by wave, so this is the plan's figure to hold the run to.
        planned_wave_makespan_ms: parseDuration(planned.wave_makespan),
        planned_makespan_over_critical_path: round(plannedMakespan / plannedCritical, 3),
        planned_agent_slot_utilization: round(planned.utilization.agent_slots, 3),
        planned_efficiency: round(planned.utilization.efficiency, 3),
        real_makespan_ms: real.makespan_ms,
        real_critical_path_ms: real.critical_path_ms,
        real_makespan_over_critical_path: round(real.makespan_ms / real.critical_path_ms, 3),
        real_makespan_over_planned: round(real.makespan_ms / plannedMakespan, 3),
        real_makespan_over_planned_waves: round(real.makespan_ms / parseDuration(planned.wave_makespan), 3),
        planned_lower_bound_ms: lowerBound,
        // Lower bound (critical path, or agent work over its slots) over makespan, with each
        // step's real dispatch-to-callback time in place of its planned duration.
        real_efficiency: round(Math.max(real.critical_path_ms, real.busy_ms / slots) / real.makespan_ms, 3),
        // Slot-time holding a step (dispatch to callback) and doing agent work, over all slots.
        real_slot_occupancy: round(real.busy_ms / (slots * real.makespan_ms), 3),
        real_agent_work_utilization: round(work / (slots * real.makespan_ms), 3),
        planned_work_utilization_at_real_makespan: round(work / (slots * plannedMakespan), 3),
      });
    }
  } finally {
    await session.close();
  }
}
