/**
 * The `overhead` bench (issue 10, part 2): what the orchestration layer adds to a recovery.
 * N workflows at once, each a chain of M steps on the reference agents, whose every step
 * takes `delay_ms` of simulated agent work (0, 100 ms, 1 s, 3 s). A chain makes the agent work of a
 * workflow exactly M × delay, so everything else in its wall time is orchestration: the
 * dispatch Lambda, SQS and the agent's event source, the callback, the Record Task and the
 * state transitions. Wall time runs from the workflow's creation (POST workflows stored it) to
 * its final status (`created_at` → `updated_at` of GET workflows/{id} once it has ended), so it
 * also counts StartExecution, Plan, the wave ordering and the final Task.
 *
 *   overhead ratio = (wall − agent work) / wall        per-step cost = (wall − agent work) / M
 *
 * The execution history splits that wall time in two: the steps' span, from the first wave's
 * OrderWave to the last Record, holds what each step costs (dispatch, callback, Record and the
 * transitions between them: `step_cost_ms`); the rest is paid once per workflow (POST workflows,
 * StartExecution, Plan, Complete: `workflow_fixed_ms`), so it weighs less on longer workflows.
 */
import { randomUUID } from 'node:crypto';
import { type HistoryEvent, SFNClient } from '@aws-sdk/client-sfn';
import { TERMINAL_WORKFLOW_STATUSES } from '#core/workflow';
import { benchOperatorHeaders, openChaosTarget } from './chaos/target';
import type { DecisionLine } from './decisions';
import { percentile } from './decisions';
import { executionHistory } from './workflows';

interface Detail {
  readonly status: string;
  readonly created_at: string;
  readonly updated_at: string;
}

const TERMINAL: ReadonlySet<string> = new Set(TERMINAL_WORKFLOW_STATUSES);

/** A chain of `steps` steps on the network reference agent, each taking `delayMs`. */
export function chainPlan(id: string, steps: number, delayMs: number) {
  return {
    recovery_plan: {
      plan_id: id,
      steps: Array.from({ length: steps }, (_, k) => ({
        step_id: `s${k}`,
        issue_id: `${id}-i${k}`,
        category: 'network',
        depends_on: k === 0 ? [] : [`s${k - 1}`],
        estimated_duration: 'PT1S',
        parameters: { simulate: { outcome: 'succeed', delay_ms: delayMs } },
      })),
    },
  };
}

/**
 * The steps' span in an execution history: from the first OrderWave entered to the last Record
 * exited, in epoch ms; undefined when the history holds no such pair.
 */
export function stepSpanOf(events: readonly HistoryEvent[]): { from: number; to: number } | undefined {
  let from: number | undefined;
  let to: number | undefined;
  for (const event of events) {
    const at = event.timestamp?.getTime();
    if (at === undefined) continue;
    if (event.type === 'TaskStateEntered' && event.stateEnteredEventDetails?.name === 'OrderWave')
      from = Math.min(from ?? at, at);
    if (event.type === 'TaskStateExited' && event.stateExitedEventDetails?.name === 'Record')
      to = Math.max(to ?? at, at);
  }
  return from !== undefined && to !== undefined && to >= from ? { from, to } : undefined;
}

async function stepSpan(sfn: SFNClient, executionArn: string) {
  const span = stepSpanOf(await executionHistory(sfn, executionArn));
  if (!span) throw new Error(`the history of ${executionArn} has no OrderWave and Record states`);
  return span.to - span.from;
}

/** Overhead figures of one finished workflow. */
export function overheadOf(detail: Detail, steps: number, delayMs: number) {
  const wall = Date.parse(detail.updated_at) - Date.parse(detail.created_at);
  const work = steps * delayMs;
  return { wall_ms: wall, per_step_ms: (wall - work) / steps, ratio: wall > 0 ? (wall - work) / wall : 0 };
}

export async function benchOverhead(
  quick: boolean,
  emit: (line: DecisionLine) => void,
  info: (message: string) => void,
): Promise<void> {
  const target = await openChaosTarget(process.env, { referenceAgents: true, steadyState: true });
  const sfn = new SFNClient({ ...target.aws });
  try {
    const headers = await benchOperatorHeaders(target);
    const concurrent = quick ? 2 : 4;
    const steps = quick ? 5 : 10;
    // Warm-up rounds of instant steps, not reported: the functions' cold starts, then the JIT.
    // Each Lambda worker is its own V8 isolate, and an SDK call in a fresh one costs 3–5 times
    // what it costs once a few hundred calls have optimized it (15 ms, then about 3 ms, for a
    // GetItem), so one round left the first measured rounds half warm. A running orchestrator
    // is warm: the figures are its steady state. 3 s steps show where the per-step cost falls
    // under 3% (quick runs leave them out).
    const warmUps = quick ? [-1] : [-1, -1, -1];
    for (const delayMs of [...warmUps, 0, 100, 1_000, ...(quick ? [] : [3_000])]) {
      const warmUp = delayMs < 0;
      info(
        warmUp
          ? 'overhead: warm-up round'
          : `overhead: ${concurrent} workflows of ${steps} chained steps, agent work ${delayMs} ms a step`,
      );
      const ids = await Promise.all(
        Array.from({ length: concurrent }, async () => {
          const key = randomUUID();
          const response = await fetch(target.url('workflows'), {
            method: 'POST',
            headers: { ...headers, 'idempotency-key': key },
            body: JSON.stringify(chainPlan(`bench-${key.slice(0, 8)}`, steps, Math.max(0, delayMs))),
          });
          const body = (await response.json()) as { workflow_id?: string; execution_arn?: string };
          if (response.status !== 202 || !body.workflow_id || !body.execution_arn)
            throw new Error(
              `POST workflows answered ${response.status}: ${JSON.stringify(body).slice(0, 300)}`,
            );
          return { id: body.workflow_id, arn: body.execution_arn };
        }),
      );
      const deadline = Date.now() + 120_000 + steps * Math.max(0, delayMs) * 3;
      const details = await Promise.all(
        ids.map(async ({ id }) => {
          for (;;) {
            const response = await fetch(target.url(`workflows/${id}`), { headers });
            const detail = (await response.json()) as Detail;
            if (TERMINAL.has(detail.status)) return detail;
            if (Date.now() > deadline) throw new Error(`workflow ${id} is still ${detail.status}`);
            // The wall time comes from the record's own timestamps, so a slow poll loses no
            // accuracy; a 100 ms poll (40 authorized GETs a second) loaded the 2 cores the
            // measured workflows run on and added about 10 ms to every step.
            await new Promise((resolve) => setTimeout(resolve, 1000));
          }
        }),
      );
      if (warmUp) continue;
      const failed = details.filter((d) => d.status !== 'SUCCEEDED').length;
      const figures = details.map((d) => overheadOf(d, steps, delayMs));
      const perStep = figures.map((f) => f.per_step_ms).sort((a, b) => a - b);
      const ratios = figures.map((f) => f.ratio).sort((a, b) => a - b);
      const walls = figures.map((f) => f.wall_ms).sort((a, b) => a - b);
      const spans = await Promise.all(ids.map(({ arn }) => stepSpan(sfn, arn)));
      const work = steps * delayMs;
      const stepCosts = spans.map((span) => (span - work) / steps).sort((a, b) => a - b);
      const fixed = figures.map((f, k) => f.wall_ms - (spans[k] ?? 0)).sort((a, b) => a - b);
      const stepCost = percentile(stepCosts, 0.5);
      const stepRatio = stepCost / (stepCost + delayMs);
      emit({
        bench: 'orchestration_overhead',
        n: steps,
        median_ms: Math.round(percentile(walls, 0.5)),
        workflows: concurrent,
        agent_ms_per_step: delayMs,
        per_step_overhead_ms: Math.round(percentile(perStep, 0.5) * 10) / 10,
        per_step_overhead_max_ms: Math.round((perStep.at(-1) ?? Number.NaN) * 10) / 10,
        overhead_ratio: Math.round(percentile(ratios, 0.5) * 1000) / 1000,
        under_10_percent: delayMs === 0 ? null : percentile(ratios, 0.5) < 0.1,
        under_3_percent: delayMs === 0 ? null : percentile(ratios, 0.5) < 0.03,
        step_cost_ms: Math.round(stepCost * 10) / 10,
        step_cost_max_ms: Math.round((stepCosts.at(-1) ?? Number.NaN) * 10) / 10,
        step_overhead_ratio: Math.round(stepRatio * 1000) / 1000,
        step_under_3_percent: delayMs === 0 ? null : stepRatio < 0.03,
        workflow_fixed_ms: Math.round(percentile(fixed, 0.5)),
        failed,
      });
    }
  } finally {
    sfn.destroy();
    await target.stop();
  }
}
