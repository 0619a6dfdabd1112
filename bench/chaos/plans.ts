/**
 * Seeded chaos plans: a random layered DAG of steps over several categories, with one fault
 * class applied per plan (recorded, so every metric has a clean denominator). Pure: the same
 * seed and index give the same plan on every run.
 */
import type { Category, Issue, PlanStep } from '#core/wire';
import { mulberry32, type Rng, randomInt } from '../generate';

export const FAULT_CLASSES = [
  'none',
  'transient',
  'duplicate_callback',
  'fail',
  'timeout',
  'crash',
  'fail_rollback',
  'late_callback',
  'concurrent_api',
  'agent_unhealthy',
  'poison',
  'triage',
] as const;
export type FaultClass = (typeof FAULT_CLASSES)[number];

/** Categories the plans spread over, so no one reference agent carries every step. */
export const CHAOS_CATEGORIES: readonly Category[] = [
  'network',
  'capacity',
  'configuration',
  'deployment',
  'data',
  'infrastructure',
  'dependency',
];

/**
 * Categories no other plan uses, for the agents `agent_unhealthy` registers: the router may
 * give such an agent any step of its category, and marking it UNHEALTHY must not fail other
 * plans' steps. Consecutive plans take different ones.
 */
export const RESERVED_CATEGORIES: readonly Category[] = ['security', 'coordination', 'recovery_process'];

/** Short timers, so faults resolve in seconds: a timeout is 4 tries of STEP_TIMEOUT plus backoff. */
export const STEP_TIMEOUT = 'PT4S';
export const STEP_HEARTBEAT = 'PT3S';
/** The faulty step's timers: a crash shows after one heartbeat, a timeout after its deadline. */
export const FAULT_TIMEOUT = 'PT3S';
export const FAULT_HEARTBEAT = 'PT2S';
export const FAULT_TIMEOUT_MS = 3_000;
/** A capability no agent serves: triage must answer UNASSIGNED NO_CAPABLE_AGENT, not drop it. */
export const UNSERVED_CAPABILITY = 'chaos-unserved-capability';

export interface PoisonMessage {
  readonly category: Category;
  readonly marker: string;
  readonly body: string;
}

export interface ChaosPlan {
  readonly index: number;
  /** Unique to the run: `chaos-<seed>-<index>-<nonce>`. */
  readonly id: string;
  readonly fault: FaultClass;
  /** For POST workflows (every class but `triage`). */
  readonly steps: readonly PlanStep[];
  /** For `triage`: the issues POSTed to `issues`. */
  readonly issues: readonly Issue[];
  /** For `poison`. */
  readonly poison: readonly PoisonMessage[];
  /** The step ids the fault was put on (failing step first for `fail_rollback`). */
  readonly faulty: readonly string[];
  /** For `agent_unhealthy`: the steps pinned to the chaos agent, and that agent's category. */
  readonly pinned: readonly string[];
  readonly pinnedCategory?: Category;
  /** For `agent_unhealthy`: whether every pinned step is idempotent (re-dispatch, not rollback). */
  readonly pinnedIdempotent: boolean;
  /** For `late_callback`: the longest a late answer may come after the workflow ends. */
  readonly lateAnswerMs: number;
}

export interface PlanShape {
  readonly seed: number;
  readonly minSteps: number;
  readonly maxSteps: number;
  /** Distinguishes runs with the same seed on a shared deployment. */
  readonly nonce: string;
}

const pick = <T>(rng: Rng, items: readonly T[]): T => items[Math.floor(rng() * items.length)] as T;

/** `count` distinct items, in the order drawn. */
function pickDistinct<T>(rng: Rng, items: readonly T[], count: number): T[] {
  const pool = [...items];
  const chosen: T[] = [];
  while (chosen.length < Math.min(count, items.length)) {
    chosen.push(pool.splice(Math.floor(rng() * pool.length), 1)[0] as T);
  }
  return chosen;
}

/**
 * The fault class of each of `plans` plans: every class in a seeded order, then again, so any
 * run of at least as many plans as classes covers every class.
 */
export function assignFaults(seed: number, plans: number, classes: readonly FaultClass[]): FaultClass[] {
  const rng = mulberry32(seed ^ 0x5eed);
  const out: FaultClass[] = [];
  while (out.length < plans) out.push(...pickDistinct(rng, classes, classes.length));
  return out.slice(0, plans);
}

interface Draft {
  step_id: string;
  layer: number;
  category: Category;
  depends_on: string[];
  idempotent: boolean;
  simulate: Record<string, unknown>;
  timeout: string;
  heartbeat: string;
  agent_id?: string;
}

/** A layered DAG: every step past the first layer depends on one or two steps of the layer before. */
function draftSteps(rng: Rng, count: number): Draft[] {
  const layers = randomInt(rng, 2, Math.min(6, count));
  const drafts: Draft[] = [];
  for (let k = 0; k < count; k++) {
    // The first `layers` steps open one layer each, so no layer is empty.
    const layer = k < layers ? k : randomInt(rng, 0, layers - 1);
    drafts.push({
      step_id: `s${String(k).padStart(2, '0')}`,
      layer,
      category: pick(rng, CHAOS_CATEGORIES),
      depends_on: [],
      idempotent: rng() < 0.3,
      simulate: { outcome: 'succeed', delay_ms: randomInt(rng, 0, 300) },
      timeout: STEP_TIMEOUT,
      heartbeat: STEP_HEARTBEAT,
    });
  }
  for (const draft of drafts) {
    if (draft.layer === 0) continue;
    const before = drafts.filter((d) => d.layer === draft.layer - 1).map((d) => d.step_id);
    draft.depends_on = pickDistinct(rng, before, randomInt(rng, 1, 2));
  }
  return drafts;
}

/** Every step `step_id` depends on, directly or not. */
function ancestors(drafts: readonly Draft[], stepId: string): string[] {
  const byId = new Map(drafts.map((d) => [d.step_id, d]));
  const seen = new Set<string>();
  const stack = [...(byId.get(stepId)?.depends_on ?? [])];
  while (stack.length > 0) {
    const id = stack.pop() as string;
    if (seen.has(id)) continue;
    seen.add(id);
    stack.push(...(byId.get(id)?.depends_on ?? []));
  }
  return [...seen];
}

/** A step with at least one dependency: something has surely succeeded before it fails. */
function nonRoot(rng: Rng, drafts: readonly Draft[]): Draft {
  return pick(
    rng,
    drafts.filter((d) => d.depends_on.length > 0),
  );
}

function faultOn(draft: Draft, outcome: string): void {
  draft.simulate = { outcome, delay_ms: draft.simulate.delay_ms };
  draft.timeout = FAULT_TIMEOUT;
  draft.heartbeat = FAULT_HEARTBEAT;
}

function triageIssues(rng: Rng, id: string, count: number): Issue[] {
  const issues: Issue[] = [];
  for (let k = 0; k < count; k++) {
    const issueId = `${id}-i${k}`;
    const roll = rng();
    const base = {
      issue_id: issueId,
      severity: pick(rng, ['critical', 'high', 'medium', 'low'] as const),
      estimated_duration: 'PT1S',
      parameters: { simulate: { outcome: 'succeed', delay_ms: randomInt(rng, 0, 300) } },
    };
    if (roll < 0.15) {
      // No category and nothing the classifier knows: low confidence, manual triage.
      issues.push({ ...base, title: `chaos zqxv ${k} wibble` });
    } else if (roll < 0.3) {
      issues.push({
        ...base,
        title: `chaos issue ${k}`,
        category: pick(rng, CHAOS_CATEGORIES),
        required_capabilities: [UNSERVED_CAPABILITY],
      });
    } else {
      const earlier = issues.slice(Math.max(0, issues.length - 4)).map((i) => i.issue_id);
      issues.push({
        ...base,
        title: `chaos issue ${k}`,
        category: pick(rng, CHAOS_CATEGORIES),
        ...(earlier.length > 0 && rng() < 0.3 ? { depends_on: [pick(rng, earlier)] } : {}),
      });
    }
  }
  return issues;
}

/** Builds plan `index` of a run; `fault` comes from {@link assignFaults}. */
export function buildPlan(shape: PlanShape, index: number, fault: FaultClass): ChaosPlan {
  const rng = mulberry32((shape.seed * 7919 + index * 104_729) >>> 0);
  const id = `chaos-${shape.seed}-${index}-${shape.nonce}`;
  const count = randomInt(rng, Math.max(2, shape.minSteps), Math.max(2, shape.minSteps, shape.maxSteps));
  const drafts = draftSteps(rng, count);
  const faulty: string[] = [];
  const pinned: string[] = [];
  let pinnedCategory: Category | undefined;
  let pinnedIdempotent = false;
  let lateAnswerMs = 0;
  let issues: Issue[] = [];
  const poison: PoisonMessage[] = [];

  switch (fault) {
    case 'transient':
    case 'duplicate_callback':
      for (const draft of pickDistinct(rng, drafts, randomInt(rng, 1, 3))) {
        faulty.push(draft.step_id);
        draft.simulate =
          fault === 'transient'
            ? { ...draft.simulate, transient_failures: randomInt(rng, 1, 2) }
            : { ...draft.simulate, duplicate_callback: true };
      }
      break;
    case 'fail':
    case 'timeout':
    case 'crash':
    case 'late_callback': {
      const draft = nonRoot(rng, drafts);
      faulty.push(draft.step_id);
      faultOn(draft, fault === 'late_callback' ? 'timeout' : fault);
      // Each of the four tries answers (too late) a grace second after its deadline.
      if (fault === 'late_callback') lateAnswerMs = FAULT_TIMEOUT_MS + 2_000;
      break;
    }
    case 'fail_rollback': {
      const failing = nonRoot(rng, drafts);
      const undoId = pick(rng, ancestors(drafts, failing.step_id));
      const undoFails = drafts.find((d) => d.step_id === undoId);
      faultOn(failing, 'fail');
      if (undoFails) undoFails.simulate = { ...undoFails.simulate, outcome: 'fail_rollback' };
      faulty.push(failing.step_id, ...(undoFails ? [undoFails.step_id] : []));
      break;
    }
    case 'concurrent_api':
      // Slow enough that the workflow is surely still running when the calls land.
      for (const draft of drafts)
        draft.simulate = { outcome: 'succeed', delay_ms: randomInt(rng, 800, 1500) };
      break;
    case 'agent_unhealthy': {
      const roots = drafts.filter((d) => d.layer === 0);
      pinnedCategory = RESERVED_CATEGORIES[index % RESERVED_CATEGORIES.length] as Category;
      pinnedIdempotent = rng() < 0.5;
      for (const draft of pickDistinct(rng, roots, randomInt(rng, 1, 2))) {
        draft.category = pinnedCategory;
        draft.agent_id = `${id}-agent`;
        draft.idempotent = pinnedIdempotent;
        // In flight long enough for the heartbeat and the sweep to land first.
        draft.simulate = { outcome: 'succeed', delay_ms: 4_000 };
        draft.timeout = 'PT20S';
        draft.heartbeat = 'PT10S';
        pinned.push(draft.step_id);
      }
      break;
    }
    case 'poison':
      for (let k = 0; k < randomInt(rng, 1, 3); k++) {
        const marker = `${id}-poison-${k}`;
        poison.push({
          category: pick(rng, CHAOS_CATEGORIES),
          marker,
          body: `{"not":"a task","marker":"${marker}"`,
        });
      }
      break;
    case 'triage':
      issues = triageIssues(rng, id, count);
      break;
    case 'none':
      break;
  }

  const steps: PlanStep[] = drafts.map((d) => ({
    step_id: d.step_id,
    issue_id: `${id}-${d.step_id}`,
    category: d.category,
    ...(d.agent_id ? { agent_id: d.agent_id } : {}),
    action: 'remediate',
    depends_on: d.depends_on,
    idempotent: d.idempotent,
    estimated_duration: 'PT1S',
    timeout: d.timeout,
    heartbeat: d.heartbeat,
    parameters: { simulate: d.simulate },
  }));
  return {
    index,
    id,
    fault,
    steps,
    issues,
    poison,
    faulty,
    pinned,
    ...(pinnedCategory ? { pinnedCategory } : {}),
    pinnedIdempotent,
    lateAnswerMs,
  };
}
