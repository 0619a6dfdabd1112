/**
 * The `decisions` bench (issue 10, part 1): POST `triage` (the dry run) and POST `issues` on
 * the offline runtime, over HTTP as a client sees them, with 10, 100 and 1,000 issues. Each
 * answer's wall time is split into the handler's decision work, `triageIssues` timed
 * in-process on the same batch against the same agents, and the rest: HTTP, the authorizer,
 * the Lambda worker hop, validation, and for POST issues the DynamoDB writes and the
 * StartExecution. POST issues is capped at the largest batch one workflow takes
 * (`MAX_WORKFLOW_STEPS`), and every request gets its own Idempotency-Key so none is a replay.
 */
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { REFERENCE_AGENT_CATALOG } from '#agents/reference/catalog';
import { triageIssues } from '#core/triage';
import type { AgentSnapshotInput, IssueTriageRequest } from '#core/wire';
import { MAX_WORKFLOW_STEPS } from '#core/workflow';
import { registrationBody } from '#local/reference-agents';
import { benchOperatorHeaders, openChaosTarget } from './chaos/target';
import { BENCH_NOW_MS, generateTriageRequest } from './generate';

export interface DecisionLine {
  readonly bench: string;
  readonly n: number;
  readonly median_ms: number;
  readonly [field: string]: unknown;
}

/** Nearest-rank percentile of sorted samples. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))] as number;
}

const round1 = (x: number) => Math.round(x * 10) / 10;

/** The reference agents as the router sees them once registered (the same bodies). */
function referenceSnapshots(): AgentSnapshotInput[] {
  return REFERENCE_AGENT_CATALOG.map((entry) => registrationBody(entry) as AgentSnapshotInput);
}

/** Median in-process time of the core decision on `request`. */
function coreDecisionMs(request: IssueTriageRequest, runs: number): number {
  const agents = referenceSnapshots();
  triageIssues(request, agents, { now_ms: BENCH_NOW_MS });
  const samples: number[] = [];
  for (let k = 0; k < runs; k++) {
    const t0 = performance.now();
    triageIssues(request, agents, { now_ms: Date.now() });
    samples.push(performance.now() - t0);
  }
  samples.sort((a, b) => a - b);
  return percentile(samples, 0.5);
}

/**
 * Runs the bench against the offline runtime (or `E2E_OUTPUTS`), emitting one line per route
 * and size: `{"bench":"decision_triage"|"decision_issues","n","median_ms","p99_ms","core_ms",
 * "overhead_ms",...}`.
 */
export async function benchDecisions(
  quick: boolean,
  emit: (line: DecisionLine) => void,
  info: (message: string) => void,
): Promise<void> {
  const target = await openChaosTarget(process.env, { referenceAgents: true, steadyState: true });
  try {
    const headers = await benchOperatorHeaders(target);
    const routes = [
      { bench: 'decision_triage', path: 'triage', sizes: [10, 100, 1_000], runs: quick ? 5 : 20 },
      {
        bench: 'decision_issues',
        path: 'issues',
        sizes: [10, 100, MAX_WORKFLOW_STEPS],
        runs: quick ? 3 : 10,
      },
    ] as const;
    for (const route of routes) {
      for (const n of route.sizes) {
        info(`${route.bench} n=${n}: ${route.runs} requests`);
        const request = generateTriageRequest(n, 11);
        const body = JSON.stringify(request);
        const samples: number[] = [];
        let assigned = 0;
        for (let k = -1; k < route.runs; k++) {
          const t0 = performance.now();
          const response = await fetch(target.url(route.path), {
            method: 'POST',
            headers: { ...headers, 'idempotency-key': randomUUID() },
            body,
          });
          const answer = (await response.json()) as {
            assignment?: { assigned_agents?: unknown[]; decisions?: { status: string }[] };
            decisions?: { status: string }[];
          };
          const ms = performance.now() - t0;
          if (!response.ok)
            throw new Error(
              `POST ${route.path} (n=${n}) answered ${response.status}: ${JSON.stringify(answer).slice(0, 300)}`,
            );
          const decisions = answer.assignment?.decisions ?? answer.decisions ?? [];
          assigned = decisions.filter((d) => d.status === 'ASSIGNED').length;
          if (k >= 0) samples.push(ms); // the first request warms the function
        }
        samples.sort((a, b) => a - b);
        const median = percentile(samples, 0.5);
        const core = coreDecisionMs(request, route.runs);
        emit({
          bench: route.bench,
          n,
          median_ms: round1(median),
          p99_ms: round1(percentile(samples, 0.99)),
          min_ms: round1(samples[0] ?? Number.NaN),
          runs: samples.length,
          core_ms: round1(core),
          overhead_ms: round1(median - core),
          core_share: Math.round((core / median) * 1000) / 1000,
          assigned,
          under_2s: percentile(samples, 0.99) < 2_000,
          target: target.booted ? 'offline runtime' : 'E2E_OUTPUTS',
        });
      }
    }
  } finally {
    await target.stop();
  }
}
