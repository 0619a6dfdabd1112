/**
 * Seeded generators for the benchmarks: issue batches, agent fleets and layered
 * step DAGs. The same seed always gives the same data, so two bench runs measure
 * the same work and the smoke test can check the data against the wire schema.
 */
import type { PlannerLimits, PlannerStep } from '#core/planner';
import {
  type AgentSnapshotInput,
  CATEGORIES,
  type Category,
  type Issue,
  type IssueTriageRequest,
  type Severity,
} from '#core/wire';

/** A pseudo-random source in [0, 1). */
export type Rng = () => number;

/**
 * mulberry32: a 32-bit state PRNG, small and fast, good enough to shape test data.
 * @example
 * const rng = mulberry32(42);
 * rng(); // the same number on every run
 */
export function mulberry32(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** An integer in [min, max], both included. */
export function randomInt(rng: Rng, min: number, max: number): number {
  return min + Math.floor(rng() * (max - min + 1));
}

function pick<T>(rng: Rng, items: readonly T[]): T {
  return items[Math.floor(rng() * items.length)] as T;
}

/** `count` distinct items, in the order drawn. */
function pickDistinct<T>(rng: Rng, items: readonly T[], count: number): T[] {
  const chosen = new Set<T>();
  while (chosen.size < Math.min(count, items.length)) chosen.add(pick(rng, items));
  return [...chosen];
}

/** The instant every generated batch is decided at, so ages and SLAs are reproducible. */
export const BENCH_NOW_MS = Date.parse('2026-11-24T12:00:00.000Z');

const MINUTE_MS = 60_000;
const HOUR_MS = 60 * MINUTE_MS;

/**
 * Phrases an operator or a detector would write for each category. They are not the
 * lexicon's own entries: inflections, phrases and words the classifier only half
 * knows keep its tokenizer, stemmer and n-gram lookups doing realistic work.
 */
const PHRASES: Readonly<Record<Category, readonly string[]>> = {
  configuration: [
    'feature flag flipped',
    'config drift on',
    'misconfigured settings for',
    'wrong value in configmap',
    'environment variable missing in',
    'yaml typo breaks',
    'toggle left on for',
  ],
  deployment: [
    'bad release of',
    'regression after deploy of',
    'canary failing for',
    'rollout stalled on',
    'new version crashes',
    'build artifact broken for',
    'hotfix pipeline blocked on',
  ],
  capacity: [
    'throttled requests on',
    'connection pool exhausted in',
    'traffic surge overloads',
    'out of memory kills in',
    'queue depth rising on',
    'rate limited by',
    'cpu saturation on',
    'too many requests to',
  ],
  network: [
    'dns resolution failing for',
    'packet loss between',
    'connection refused by',
    'load balancer dropping',
    'tcp resets on',
    'subnet unreachable from',
    'bgp route flapping near',
  ],
  infrastructure: [
    'disk full on',
    'hardware failure under',
    'ec2 instance retired for',
    'kernel panic on host of',
    'hypervisor reboot took down',
    'availability zone outage hits',
    'inode exhaustion on volume of',
  ],
  dependency: [
    'upstream timeout from',
    'third party api errors in',
    'payment provider outage affects',
    'incompatible sdk version in',
    'vendor webhook failing for',
    'external service degraded for',
  ],
  data: [
    'replica lag growing on',
    'data corruption found in',
    'inconsistent reads from',
    'checksum mismatch in backup of',
    'split brain on database of',
    'failed migration of schema for',
  ],
  security: [
    'certificate expired for',
    'leaked credentials used against',
    'unauthorized access to',
    'ddos attack on',
    'cve patch overdue for',
    'brute force login attempts on',
  ],
  coordination: [
    'agent registration failing for',
    'deadlock between workers of',
    'service discovery stale for',
    'leader election stuck in',
    'heartbeat missed by agents of',
    'resource contention on locks in',
  ],
  recovery_process: [
    'rollback stuck for',
    'progress tracking lost for',
    'status reporting delayed for',
    'checkpoint missing in recovery of',
    'timeline inaccurate for',
    'stuck workflow blocks runbook for',
  ],
};

/** Words no category owns; they make titles realistic without helping the classifier. */
const FILLER = [
  'intermittent',
  'since',
  'morning',
  'customers',
  'report',
  'errors',
  'prod',
  'eu-west-1',
  'us-east-1',
  'increasing',
  'again',
  'after',
  'midnight',
  'ticket',
  'severe',
];

const COMPONENTS = [
  'checkout',
  'payments-api',
  'search',
  'catalog',
  'orders-db',
  'edge-proxy',
  'notifications',
  'billing',
  'identity',
  'inventory',
  'media-store',
  'ledger',
];

/** Detector tags, written as monitoring tools write them (underscores split into words). */
const SIGNALS: Readonly<Record<Category, readonly string[]>> = {
  configuration: ['config_drift', 'flag_changed'],
  deployment: ['deploy_started', 'release_regression'],
  capacity: ['cpu_high', 'throttling_rate', '429_rate', 'queue_depth'],
  network: ['packet_loss', 'dns_errors', 'tcp_resets'],
  infrastructure: ['disk_full', 'host_down'],
  dependency: ['upstream_errors', 'vendor_status'],
  data: ['replica_lag', 'checksum_errors'],
  security: ['waf_blocks', 'unauthorized_calls'],
  coordination: ['heartbeat_missed', 'lock_wait'],
  recovery_process: ['rollback_stalled', 'progress_stale'],
};

export const CAPABILITIES = ['restart', 'scale', 'failover', 'snapshot'] as const;

const SEVERITIES: readonly [Severity, number][] = [
  ['critical', 0.1],
  ['high', 0.25],
  ['medium', 0.4],
  ['low', 0.25],
];

function pickSeverity(rng: Rng): Severity {
  let x = rng();
  for (const [severity, share] of SEVERITIES) {
    if (x < share) return severity;
    x -= share;
  }
  return 'low';
}

function isoAt(ms: number): string {
  return new Date(ms).toISOString();
}

/** Issue ids sort in generation order, which keeps "earlier" meaningful in the data. */
export function issueId(k: number): string {
  return `iss-${String(k).padStart(6, '0')}`;
}

function generateTitle(rng: Rng, main: Category, component: string): string {
  const roll = rng();
  // ~5% say nothing the lexicon knows: they must end LOW_CONFIDENCE, not silently routed.
  if (roll < 0.05) return `${pick(rng, FILLER)} ${pick(rng, FILLER)} on ${component}`;
  const words = [pick(rng, PHRASES[main]), component];
  // ~15% mention a second category, as real titles do ("deploy caused throttling").
  if (roll < 0.2) words.push('and', pick(rng, PHRASES[pick(rng, CATEGORIES)]), pick(rng, COMPONENTS));
  if (rng() < 0.5) words.push(pick(rng, FILLER));
  return words.join(' ');
}

/**
 * One realistic issue. About 30% carry an explicit category; 20% depend on one to
 * three earlier issues (a local window of 200, as incidents cluster), so the batch
 * is acyclic by construction.
 */
function generateIssue(rng: Rng, k: number, nowMs: number): Issue {
  const main = pick(rng, CATEGORIES);
  const component = pick(rng, COMPONENTS);
  const issue: Issue = {
    issue_id: issueId(k),
    title: generateTitle(rng, main, component),
    severity: pickSeverity(rng),
  };
  if (rng() < 0.3) issue.category = main;
  if (rng() < 0.4) issue.description = `${pick(rng, PHRASES[main])} ${component}, ${pick(rng, FILLER)}`;
  if (rng() < 0.5) issue.component = component;
  if (rng() < 0.3) issue.signals = pickDistinct(rng, SIGNALS[main], randomInt(rng, 1, 2));
  if (rng() < 0.6) {
    issue.impact = {
      users_affected: Math.floor(10 ** (rng() * 6)),
      services_affected: randomInt(rng, 0, 30),
      revenue_per_hour: Math.round(10 ** (rng() * 5)),
      ...(rng() < 0.2 ? { sla_deadline: isoAt(nowMs + randomInt(rng, -60, 480) * MINUTE_MS) } : {}),
    };
  }
  if (rng() < 0.7) issue.detected_at = isoAt(nowMs - Math.floor(rng() * 48 * HOUR_MS));
  if (k > 0 && rng() < 0.2) {
    const window = Math.min(k, 200);
    const deps = new Set<string>();
    const want = randomInt(rng, 1, 3);
    while (deps.size < Math.min(want, window)) deps.add(issueId(k - 1 - Math.floor(rng() * window)));
    issue.depends_on = [...deps];
  }
  if (rng() < 0.4) issue.estimated_duration = `PT${randomInt(rng, 1, 60)}M`;
  if (rng() < 0.03) issue.required_capabilities = [pick(rng, CAPABILITIES)];
  if (rng() < 0.5) issue.idempotent = true;
  return issue;
}

/**
 * A batch of `n` issues. It is valid IssueTriageRequest data for n <= 1000 (the
 * schema's cap); above that it is built without the schema, as the core takes any size.
 * @example
 * const request = generateTriageRequest(1_000, 7);
 * request.detected_issues.length; // 1000
 */
export function generateTriageRequest(n: number, seed: number, nowMs = BENCH_NOW_MS): IssueTriageRequest {
  const rng = mulberry32(seed);
  const detected_issues = Array.from({ length: n }, (_, k) => generateIssue(rng, k, nowMs));
  return { detected_issues, system_context: { environment: 'bench', region: 'eu-west-1' } };
}

/** Issues for the classifier alone: titles, descriptions, components and signals. */
export function generateIssues(n: number, seed: number): Issue[] {
  return generateTriageRequest(n, seed).detected_issues;
}

/**
 * A fleet of `count` agents. Agent k always serves category k mod 10, so every
 * category has an agent once count >= 10, plus up to two more at random.
 * Concurrency is 1–8; about 10% are DEGRADED, 5% UNHEALTHY, 10% have an OPEN
 * circuit and 5% a HALF_OPEN one.
 */
export function generateAgents(count: number, seed: number): AgentSnapshotInput[] {
  const rng = mulberry32(seed);
  return Array.from({ length: count }, (_, k) => {
    const categories = new Set<Category>([CATEGORIES[k % CATEGORIES.length] as Category]);
    for (const extra of pickDistinct(rng, CATEGORIES, randomInt(rng, 0, 2))) {
      if (categories.size < 3) categories.add(extra);
    }
    const maxConcurrency = randomInt(rng, 1, 8);
    const health = rng();
    const circuit = rng();
    return {
      agent_id: `agent-${String(k).padStart(3, '0')}`,
      agent_type: `bench-${CATEGORIES[k % CATEGORIES.length]}`,
      categories: [...categories],
      capabilities: pickDistinct(rng, CAPABILITIES, randomInt(rng, 1, 3)),
      max_concurrency: maxConcurrency,
      ...(rng() < 0.5 ? { avg_step_duration: `PT${randomInt(rng, 5, 30)}M` } : {}),
      status: health < 0.1 ? 'DEGRADED' : health < 0.15 ? 'UNHEALTHY' : 'HEALTHY',
      circuit_state: circuit < 0.1 ? 'OPEN' : circuit < 0.15 ? 'HALF_OPEN' : 'CLOSED',
      current_load: randomInt(rng, 0, maxConcurrency - 1),
      success_rate: Math.round((0.85 + rng() * 0.15) * 100) / 100,
    };
  });
}

export interface GeneratedDag {
  readonly steps: PlannerStep[];
  /** How many layers the generator drew; the critical path spans at most this many steps. */
  readonly layers: number;
}

/**
 * A layered random DAG of `n` steps. Layers are 1–64 steps wide (32 on average, so a
 * 30-step parallelism cap binds). Each step past the first layer has 0–3
 * dependencies, mostly on the previous layer and otherwise on the two before it.
 * Durations are whole minutes from 1 to 30; agents are drawn uniformly from `agents`.
 * @example
 * const { steps } = generateDag(1_000, 11, 20);
 * planSchedule(steps, {}, 0);
 */
export function generateDag(n: number, seed: number, agents: number): GeneratedDag {
  const rng = mulberry32(seed);
  const steps: PlannerStep[] = [];
  const layerStarts: number[] = [];
  while (steps.length < n) {
    const start = steps.length;
    const width = Math.min(randomInt(rng, 1, 64), n - start);
    const prev = layerStarts.length;
    layerStarts.push(start);
    for (let k = start; k < start + width; k++) {
      const deps = new Set<string>();
      if (prev > 0) {
        const want = randomInt(rng, 0, 3);
        for (let d = 0; d < want; d++) {
          // 80% from the previous layer, else from up to two layers further back.
          const back = rng() < 0.8 ? 1 : randomInt(rng, 1, Math.min(3, prev));
          const from = layerStarts[prev - back] as number;
          const to = (layerStarts[prev - back + 1] as number) - 1;
          deps.add(stepId(randomInt(rng, from, to)));
        }
      }
      steps.push({
        step_id: stepId(k),
        issue_id: stepId(k),
        agent_id: `agent-${String(randomInt(rng, 0, agents - 1)).padStart(3, '0')}`,
        depends_on: [...deps],
        duration_ms: randomInt(rng, 1, 30) * MINUTE_MS,
      });
    }
  }
  return { steps, layers: layerStarts.length };
}

function stepId(k: number): string {
  return `step-${String(k).padStart(6, '0')}`;
}

/** The bench's constrained mode: `agents` agents with 2 slots each, at most 30 steps at once. */
export function constrainedLimits(agents: number): PlannerLimits {
  const agent_slots: Record<string, number> = {};
  for (let k = 0; k < agents; k++) agent_slots[`agent-${String(k).padStart(3, '0')}`] = 2;
  return { agent_slots, max_parallel_steps: 30 };
}
