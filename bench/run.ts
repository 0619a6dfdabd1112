/**
 * `npm run bench`: times the orchestrator's decisions (triage, classification,
 * planning) on seeded synthetic data and prints one JSON object per line on stdout
 * (contract C1): `{"bench": "...", "n": <size>, "median_ms": <n>, ...}`. Progress
 * goes to stderr, so stdout can be piped straight into `jq` or a file.
 *
 *   npm run bench                      # everything, sizes up to 100,000
 *   BENCH_QUICK=1 npm run bench        # sizes capped at 10,000, fewer runs
 *   npm run bench -- --only plan       # one family: decisions | overhead | scaling | cost | allocation | functions | triage | classify | plan
 *
 * See bench/README.md for what each field means and the measured figures.
 */
import { performance } from 'node:perf_hooks';
import { classifyIssue } from '#core/classifier';
import { parseDuration } from '#core/duration';
import { planSchedule } from '#core/planner';
import { triageIssues } from '#core/triage';
import { benchDecisions } from './decisions';
import {
  BUNDLE_TARGET_BYTES,
  bundleFunction,
  COLD_INIT_TARGET_MS,
  coldInit,
  functionEntries,
  median,
} from './functions';
import {
  BENCH_NOW_MS,
  constrainedLimits,
  generateAgents,
  generateDag,
  generateIssues,
  generateTriageRequest,
} from './generate';
import { benchOverhead } from './overhead';
import { benchAllocation, benchCost, benchScaling } from './workflows';

/** One C1 line: the three contract keys first, then whatever the bench adds. */
export interface BenchLine {
  readonly bench: string;
  readonly n: number;
  readonly median_ms: number;
  readonly [field: string]: unknown;
}

export interface Timing {
  readonly median_ms: number;
  readonly p95_ms: number;
  readonly min_ms: number;
  readonly runs: number;
}

/** Seeds are fixed so every run measures the same data; smaller batches are prefixes of larger ones. */
const ISSUE_SEED = 1;
const AGENT_SEED = 2;
const DAG_SEED = 3;
const CLASSIFY_SEED = 4;
const PLAN_AGENTS = 20;

export type PlanMode = 'unconstrained' | 'constrained';

/**
 * Runs `fn` once to warm up (JIT, inline caches, lazy module state), then `runs`
 * timed times; returns the timing and the last result.
 */
export function timeRuns<T>(runs: number, fn: () => T): { timing: Timing; result: T } {
  let result = fn();
  const samples: number[] = [];
  for (let r = 0; r < runs; r++) {
    const t0 = performance.now();
    result = fn();
    samples.push(performance.now() - t0);
  }
  samples.sort((a, b) => a - b);
  const mid = samples.length >> 1;
  const median =
    samples.length % 2 === 1
      ? (samples[mid] as number)
      : ((samples[mid - 1] as number) + (samples[mid] as number)) / 2;
  // Nearest rank: with three runs the p95 is the slowest of them.
  const p95 = samples[Math.max(0, Math.ceil(0.95 * samples.length) - 1)] as number;
  return {
    timing: {
      median_ms: round(median, 3),
      p95_ms: round(p95, 3),
      min_ms: round(samples[0] as number, 3),
      runs,
    },
    result,
  };
}

/** Fewer runs for larger sizes: the median of 3 at 100k is as steady as the median of 15 at 1k. */
export function runsFor(n: number, quick: boolean): number {
  if (quick) return n <= 1_000 ? 5 : 2;
  if (n <= 1_000) return 15;
  if (n <= 10_000) return 5;
  return 3;
}

/**
 * triageIssues on `n` issues against `agentCount` agents: classify, prioritise, route, plan.
 * @example benchTriage(1_000, 20, 15).median_ms
 */
export function benchTriage(n: number, agentCount: number, runs: number): BenchLine {
  const request = generateTriageRequest(n, ISSUE_SEED);
  const agents = generateAgents(agentCount, AGENT_SEED);
  const { timing, result } = timeRuns(runs, () => triageIssues(request, agents, { now_ms: BENCH_NOW_MS }));
  const unassigned = result.assignment.unassigned;
  const reasons: Record<string, number> = {};
  for (const u of unassigned) reasons[u.reason] = (reasons[u.reason] ?? 0) + 1;
  return {
    bench: 'triage',
    n,
    ...timing,
    agents: agentCount,
    issues_per_ms: round(n / timing.median_ms, 1),
    assigned: n - unassigned.length,
    unassigned: unassigned.length,
    unassigned_reasons: reasons,
  };
}

/** classifyIssue alone, over `n` issues (their explicit categories are ignored by the classifier). */
export function benchClassify(n: number, runs: number): BenchLine {
  const issues = generateIssues(n, CLASSIFY_SEED);
  const { timing, result } = timeRuns(runs, () => issues.map((issue) => classifyIssue(issue)));
  return {
    bench: 'classify',
    n,
    ...timing,
    issues_per_ms: round(n / timing.median_ms, 1),
    categorised: result.filter((c) => c.category !== null).length,
    confident: result.filter((c) => c.confidence >= 0.65).length,
  };
}

/**
 * planSchedule on a layered random DAG of `n` steps over 20 agents, with no limits
 * or with 2 slots per agent and at most 30 steps at once.
 */
export function benchPlan(n: number, mode: PlanMode, runs: number): BenchLine {
  const { steps, layers } = generateDag(n, DAG_SEED, PLAN_AGENTS);
  const limits = mode === 'constrained' ? constrainedLimits(PLAN_AGENTS) : {};
  const { timing, result } = timeRuns(runs, () => planSchedule(steps, limits, BENCH_NOW_MS));
  const makespan = parseDuration(result.makespan);
  const waveMakespan = parseDuration(result.wave_makespan);
  const criticalPath = parseDuration(result.critical_path_duration);
  const lowerBound = parseDuration(result.lower_bound);
  const totalWork = parseDuration(result.resource_requirements.total_work);
  const capacity =
    mode === 'constrained'
      ? Math.min(
          limits.max_parallel_steps ?? Number.POSITIVE_INFINITY,
          Object.values(result.agent_allocations).reduce((s, a) => s + a.slots, 0),
        )
      : null;
  return {
    bench: 'plan',
    n,
    ...timing,
    mode,
    agents: PLAN_AGENTS,
    layers,
    waves: result.waves.length,
    makespan_over_critical_path: round(makespan / criticalPath, 4),
    wave_makespan_over_critical_path: round(waveMakespan / criticalPath, 4),
    makespan_over_lower_bound: round(makespan / lowerBound, 4),
    efficiency: round(result.utilization.efficiency, 4),
    agent_slot_utilization: round(result.utilization.agent_slots, 4),
    // Busy time over what the binding cap (min of the parallel cap and all slots) could hold.
    capacity_utilization: capacity === null ? null : round(totalWork / (capacity * makespan), 4),
    peak_parallel_steps: result.resource_requirements.peak_parallel_steps,
  };
}

/**
 * Growth between the smallest and the largest size, relative to linear: 1.0 is
 * linear, 2.0 means twice as slow per item at the largest size. `growth_steps` gives
 * the same ratio between consecutive sizes, to show where any bend starts.
 */
export function scalingLine(bench: string, lines: readonly BenchLine[], extra: object = {}): BenchLine {
  const sorted = [...lines].sort((a, b) => a.n - b.n);
  const first = sorted[0] as BenchLine;
  const last = sorted[sorted.length - 1] as BenchLine;
  const growth = (a: BenchLine, b: BenchLine) => round(b.median_ms / a.median_ms / (b.n / a.n), 3);
  return {
    bench,
    n: last.n,
    median_ms: last.median_ms,
    ...extra,
    from_n: first.n,
    from_median_ms: first.median_ms,
    growth_vs_linear: growth(first, last),
    growth_steps: sorted.slice(1).map((line, k) => growth(sorted[k] as BenchLine, line)),
  };
}

type Emit = (line: BenchLine) => void;

interface Family {
  readonly run: (quick: boolean, emit: Emit) => void | Promise<void>;
}

const cap = (sizes: readonly number[], quick: boolean) => sizes.filter((n) => !quick || n <= 10_000);

const FAMILIES: Readonly<Record<string, Family>> = {
  decisions: {
    run: (quick, emit) => benchDecisions(quick, emit, info),
  },
  overhead: {
    run: (quick, emit) => benchOverhead(quick, emit, info),
  },
  scaling: {
    run: (quick, emit) => benchScaling(quick, emit, info),
  },
  cost: {
    run: (quick, emit) => benchCost(quick, emit, info),
  },
  allocation: {
    run: (quick, emit) => benchAllocation(quick, emit, info),
  },
  functions: {
    async run(quick, emit) {
      const runs = quick ? 3 : 7;
      for (const fn of functionEntries()) {
        info(`function ${fn.name}: bundle, then ${runs} cold loads`);
        const bundle = await bundleFunction(fn);
        const init = coldInit(bundle.file, runs);
        emit({
          bench: 'function',
          n: bundle.bytes,
          median_ms: round(median(init.samples), 1),
          function: fn.name,
          bytes: bundle.bytes,
          gzip_bytes: bundle.gzip_bytes,
          within_bundle_target: bundle.bytes <= BUNDLE_TARGET_BYTES,
          cold_init_runs: init.samples.length,
          cold_init_max_ms: round(Math.max(...init.samples, 0), 1),
          within_init_target: init.error === undefined && median(init.samples) <= COLD_INIT_TARGET_MS,
          top: bundle.top,
          aws_sdk: bundle.aws_sdk,
          ...(init.error ? { error: init.error } : {}),
        });
      }
    },
  },
  triage: {
    run(quick, emit) {
      for (const agents of [20, 200]) {
        const lines = cap([1_000, 10_000, 100_000], quick).map((n) => {
          info(`triage n=${n} agents=${agents}`);
          const line = benchTriage(n, agents, runsFor(n, quick));
          emit(line);
          return line;
        });
        emit(scalingLine('triage_scaling', lines, { agents }));
      }
    },
  },
  classify: {
    run(quick, emit) {
      const lines = cap([10_000, 100_000], quick).map((n) => {
        info(`classify n=${n}`);
        const line = benchClassify(n, runsFor(n, quick));
        emit(line);
        return line;
      });
      if (lines.length > 1) emit(scalingLine('classify_scaling', lines));
    },
  },
  plan: {
    run(quick, emit) {
      for (const mode of ['unconstrained', 'constrained'] as const) {
        const lines = cap([100, 1_000, 10_000], quick).map((n) => {
          info(`plan n=${n} mode=${mode}`);
          const line = benchPlan(n, mode, runsFor(n, quick));
          emit(line);
          return line;
        });
        emit(scalingLine('plan_scaling', lines, { mode }));
      }
    },
  },
};

function info(message: string): void {
  process.stderr.write(`[bench] ${message}\n`);
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** `--only <name>` or `--only=<name>`; undefined runs every family. */
export function parseOnly(argv: readonly string[]): string | undefined {
  for (let k = 0; k < argv.length; k++) {
    const arg = argv[k] as string;
    if (arg === '--only') return argv[k + 1];
    if (arg.startsWith('--only=')) return arg.slice('--only='.length);
  }
  return undefined;
}

async function main(argv: readonly string[], quick: boolean): Promise<number> {
  const only = parseOnly(argv);
  if (only !== undefined && !(only in FAMILIES)) {
    process.stderr.write(`unknown bench "${only}"; expected one of: ${Object.keys(FAMILIES).join(', ')}\n`);
    return 2;
  }
  info(`node ${process.version}, ${quick ? 'quick (sizes <= 10,000)' : 'full'} run`);
  const emit: Emit = (line) => {
    process.stdout.write(`${JSON.stringify(line)}\n`);
  };
  for (const [name, family] of Object.entries(FAMILIES)) {
    if (only === undefined || only === name) await family.run(quick, emit);
  }
  return 0;
}

// Run only as a script, so the smoke test can import the benches without running them.
if (require.main === module)
  main(process.argv.slice(2), process.env.BENCH_QUICK === '1').then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      process.exitCode = 1;
    },
  );
