/**
 * Resource optimization (the spec's `optimize_resources`): turns routed steps into a
 * schedule, waves, a critical path, an ETA and a ResourceAllocation.
 *
 * Heuristic: critical-path-first list scheduling (HLFET). Steps are ranked by bottom
 * level, the longest path from the step to the end of the plan, its own duration
 * included; ties by priority, then step_id. Time advances from one finish to the
 * next; at each instant every agent with a free slot starts its best-ranked ready
 * step, best ranks first across agents, while the global parallelism cap and the
 * CPU and memory pools allow. A step that does not fit a pool lets a lower-ranked
 * step on another agent go first (backfill).
 *
 * Without limits this is exact: each step starts when its last dependency ends, so
 * the makespan equals the critical path. With limits it is the classic 2-approximation
 * of Graham's list scheduling, and ranking by bottom level keeps the long chains
 * moving, which is what empirically matters most (see README for the numbers).
 */

import { formatDuration } from './duration';
import { InfeasiblePlanError } from './errors';
import { buildDependencyGraph } from './graph';
import { MinHeap } from './heap';
import { compareIds } from './priority';
import type { ResourceAllocation, ResourceRequirements, ScheduledStep, Wave } from './wire';

export interface PlannerStep {
  readonly step_id: string;
  readonly issue_id: string;
  readonly agent_id: string;
  readonly depends_on?: readonly string[] | undefined;
  readonly duration_ms: number;
  readonly cpu_units?: number | undefined;
  readonly memory_mb?: number | undefined;
  /** Higher first among equal bottom levels. */
  readonly priority?: number | undefined;
}

export interface PlannerLimits {
  /** agent_id -> concurrent steps; an agent missing here is not limited. */
  readonly agent_slots?: Readonly<Record<string, number>> | undefined;
  readonly max_parallel_steps?: number | undefined;
  readonly cpu_units?: number | undefined;
  readonly memory_mb?: number | undefined;
}

interface Problem {
  readonly n: number;
  readonly dur: Float64Array;
  readonly agent: Int32Array;
  readonly agentSlots: readonly number[];
  readonly cpu: Float64Array;
  readonly mem: Float64Array;
  readonly dependents: readonly (readonly number[])[];
  readonly depCount: Int32Array;
  /** Lower is more urgent. */
  readonly rank: Int32Array;
  readonly maxParallel: number;
  readonly cpuPool: number;
  readonly memPool: number;
}

interface Schedule {
  readonly start: Float64Array;
  readonly finish: Float64Array;
  readonly makespan: number;
  readonly peakParallel: number;
  readonly peakCpu: number;
  readonly peakMem: number;
  readonly peakAgent: readonly number[];
}

/**
 * Plans steps under limits.
 * @throws DependencyCycleError / UnknownDependencyError / DuplicateIdError from the graph.
 * @throws InfeasiblePlanError when a step needs more CPU or memory than its pool holds.
 * @example
 * const plan = planSchedule(
 *   [{ step_id: 'a', issue_id: 'a', agent_id: 'x', duration_ms: 60_000 },
 *    { step_id: 'b', issue_id: 'b', agent_id: 'x', duration_ms: 60_000, depends_on: ['a'] }],
 *   { agent_slots: { x: 1 } }, Date.parse('2026-01-01T00:00:00Z'));
 * plan.makespan // 'PT2M'
 */
export function planSchedule(
  steps: readonly PlannerStep[],
  limits: PlannerLimits = {},
  start_ms = 0,
): ResourceAllocation {
  const graph = buildDependencyGraph(steps.map((s) => ({ id: s.step_id, depends_on: s.depends_on })));
  const n = steps.length;
  const agentIds = [...new Set(steps.map((s) => s.agent_id))].sort(compareIds);
  const agentIndex = new Map(agentIds.map((a, i) => [a, i]));
  const agentSlots = agentIds.map((a) => limits.agent_slots?.[a] ?? Number.POSITIVE_INFINITY);
  const maxParallel = limits.max_parallel_steps ?? Number.POSITIVE_INFINITY;
  const cpuPool = limits.cpu_units ?? Number.POSITIVE_INFINITY;
  const memPool = limits.memory_mb ?? Number.POSITIVE_INFINITY;

  const dur = Float64Array.from(steps, (s) => checkedAmount(s.duration_ms, 'duration_ms', s.step_id));
  const cpu = Float64Array.from(steps, (s) => checkedAmount(s.cpu_units ?? 0, 'cpu_units', s.step_id));
  const mem = Float64Array.from(steps, (s) => checkedAmount(s.memory_mb ?? 0, 'memory_mb', s.step_id));
  const agent = Int32Array.from(steps, (s) => agentIndex.get(s.agent_id) as number);
  for (const [i, s] of steps.entries()) {
    if ((cpu[i] as number) > cpuPool)
      throw new InfeasiblePlanError(
        `step ${s.step_id} needs ${cpu[i]} cpu_units; the pool holds ${cpuPool}`,
        [{ step_id: s.step_id, cpu_units: cpu[i], pool: cpuPool }],
      );
    if ((mem[i] as number) > memPool)
      throw new InfeasiblePlanError(
        `step ${s.step_id} needs ${mem[i]} memory_mb; the pool holds ${memPool}`,
        [{ step_id: s.step_id, memory_mb: mem[i], pool: memPool }],
      );
  }

  // Bottom levels, in reverse topological order.
  const bottom = new Float64Array(n);
  for (let k = n - 1; k >= 0; k--) {
    const i = graph.topological[k] as number;
    let tail = 0;
    for (const d of graph.dependents[i] ?? []) tail = Math.max(tail, bottom[d] as number);
    bottom[i] = (dur[i] as number) + tail;
  }
  const order = Array.from({ length: n }, (_, i) => i).sort(
    (a, b) =>
      (bottom[b] as number) - (bottom[a] as number) ||
      (steps[b]?.priority ?? 0) - (steps[a]?.priority ?? 0) ||
      compareIds(steps[a]?.step_id as string, steps[b]?.step_id as string),
  );
  const rank = new Int32Array(n);
  order.forEach((i, r) => {
    rank[i] = r;
  });

  const problem: Problem = {
    n,
    dur,
    agent,
    agentSlots,
    cpu,
    mem,
    dependents: graph.dependents,
    depCount: Int32Array.from(graph.dependencies, (d) => d.length),
    rank,
    maxParallel,
    cpuPool,
    memPool,
  };
  const schedule = listSchedule(problem);

  // Waves: a step's wave is one past the latest wave among its dependencies.
  const wave = new Int32Array(n);
  for (const i of graph.topological) {
    let w = 0;
    for (const d of graph.dependencies[i] ?? []) w = Math.max(w, (wave[d] as number) + 1);
    wave[i] = w;
  }
  const waves = buildWaves(problem, wave, steps);

  const criticalPath = traceCriticalPath(graph.dependents, bottom, dur, rank, graph.dependencies);
  const onCritical = new Set(criticalPath);
  const cpLength = criticalPath.length > 0 ? (bottom[criticalPath[0] as number] as number) : 0;

  // Lower bound: nothing beats the critical path, nor work spread over capacity.
  let totalWork = 0;
  let cpuWork = 0;
  let memWork = 0;
  const agentWork = new Array<number>(agentIds.length).fill(0);
  const agentSteps = new Array<number>(agentIds.length).fill(0);
  for (let i = 0; i < n; i++) {
    const d = dur[i] as number;
    totalWork += d;
    cpuWork += d * (cpu[i] as number);
    memWork += d * (mem[i] as number);
    agentWork[agent[i] as number] = (agentWork[agent[i] as number] as number) + d;
    agentSteps[agent[i] as number] = (agentSteps[agent[i] as number] as number) + 1;
  }
  // No work spreads over any capacity in no time, even a capacity of zero (0 / 0 is NaN).
  const spread = (work: number, capacity: number) => (work === 0 ? 0 : work / capacity);
  const lowerBound = Math.max(
    cpLength,
    spread(totalWork, maxParallel),
    spread(cpuWork, cpuPool),
    spread(memWork, memPool),
    ...agentWork.map((w, a) => spread(w, agentSlots[a] as number)),
  );

  const makespan = schedule.makespan;
  // Usable slots: each agent's own (what it used at its peak, when unlimited), within the global cap.
  const agentCapacity = agentIds.reduce(
    (sum, _, k) =>
      sum + (Number.isFinite(agentSlots[k]) ? (agentSlots[k] as number) : (schedule.peakAgent[k] as number)),
    0,
  );
  const usableSlots = Math.min(maxParallel, agentCapacity);
  const resourceRequirements: ResourceRequirements = {
    total_steps: n,
    peak_parallel_steps: schedule.peakParallel,
    peak_cpu_units: schedule.peakCpu,
    peak_memory_mb: schedule.peakMem,
    agent_slots: Object.fromEntries(agentIds.map((a, k) => [a, schedule.peakAgent[k] as number])),
    total_work: formatDuration(totalWork),
  };

  const scheduled: ScheduledStep[] = Array.from({ length: n }, (_, i) => i)
    .sort(
      (a, b) =>
        (schedule.start[a] as number) - (schedule.start[b] as number) ||
        (rank[a] as number) - (rank[b] as number),
    )
    .map((i) => {
      const s = steps[i] as PlannerStep;
      return {
        step_id: s.step_id,
        issue_id: s.issue_id,
        agent_id: s.agent_id,
        depends_on: (graph.dependencies[i] ?? []).map((d) => steps[d]?.step_id as string),
        wave: wave[i] as number,
        duration_ms: dur[i] as number,
        start_offset_ms: schedule.start[i] as number,
        finish_offset_ms: schedule.finish[i] as number,
        bottom_level_ms: bottom[i] as number,
        on_critical_path: onCritical.has(i),
        cpu_units: cpu[i] as number,
        memory_mb: mem[i] as number,
      };
    });

  return {
    steps: scheduled,
    waves,
    critical_path: criticalPath.map((i) => steps[i]?.step_id as string),
    critical_path_duration: formatDuration(cpLength),
    makespan: formatDuration(makespan),
    wave_makespan: formatDuration(waves.reduce((s, w) => s + w.span_ms, 0)),
    lower_bound: formatDuration(lowerBound),
    eta_completion: new Date(start_ms + makespan).toISOString(),
    utilization: {
      agent_slots: makespan > 0 && usableSlots > 0 ? clamp01(totalWork / (usableSlots * makespan)) : 1,
      efficiency: makespan > 0 ? clamp01(lowerBound / makespan) : 1,
      cpu:
        Number.isFinite(cpuPool) && cpuPool > 0 && makespan > 0
          ? clamp01(cpuWork / (cpuPool * makespan))
          : null,
      memory:
        Number.isFinite(memPool) && memPool > 0 && makespan > 0
          ? clamp01(memWork / (memPool * makespan))
          : null,
    },
    agent_allocations: Object.fromEntries(
      agentIds.map((a, k) => [
        a,
        {
          slots: Number.isFinite(agentSlots[k])
            ? (agentSlots[k] as number)
            : Math.max(1, schedule.peakAgent[k] as number),
          steps: agentSteps[k] as number,
          busy_ms: agentWork[k] as number,
        },
      ]),
    ),
    resource_requirements: resourceRequirements,
  };
}

/** The event-driven list scheduler shared by the whole plan and by each wave on its own. */
function listSchedule(p: Problem): Schedule {
  const start = new Float64Array(p.n);
  const finish = new Float64Array(p.n);
  const remaining = Int32Array.from(p.depCount);
  const byRank = (a: number, b: number) => (p.rank[a] as number) < (p.rank[b] as number);
  const ready = p.agentSlots.map(() => new MinHeap(byRank));
  const running = new MinHeap(
    (a, b) =>
      (finish[a] as number) < (finish[b] as number) ||
      (finish[a] === finish[b] && (p.rank[a] as number) < (p.rank[b] as number)),
  );
  const inUse = p.agentSlots.map(() => 0);
  const peakAgent = p.agentSlots.map(() => 0);
  let cpuUsed = 0;
  let memUsed = 0;
  let peakParallel = 0;
  let peakCpu = 0;
  let peakMem = 0;
  let started = 0;
  let now = 0;
  let makespan = 0;

  for (let i = 0; i < p.n; i++) if (remaining[i] === 0) ready[p.agent[i] as number]?.push(i);

  const hasSlot = (a: number) => (inUse[a] as number) < (p.agentSlots[a] as number);
  const headRank = (a: number) => p.rank[ready[a]?.peek() as number] as number;
  const dispatch = () => {
    const candidates = new MinHeap((a, b) => headRank(a) < headRank(b));
    for (let a = 0; a < ready.length; a++) {
      if (hasSlot(a) && (ready[a]?.size ?? 0) > 0) candidates.push(a);
    }
    while (candidates.size > 0 && running.size < p.maxParallel) {
      const a = candidates.pop() as number;
      const queue = ready[a] as MinHeap;
      const i = queue.peek() as number;
      // Blocked by a pool: this agent sits out until something finishes, and others backfill.
      if (
        exceeds(cpuUsed + (p.cpu[i] as number), p.cpuPool) ||
        exceeds(memUsed + (p.mem[i] as number), p.memPool)
      )
        continue;
      queue.pop();
      start[i] = now;
      finish[i] = now + (p.dur[i] as number);
      running.push(i);
      started++;
      inUse[a] = (inUse[a] as number) + 1;
      peakAgent[a] = Math.max(peakAgent[a] as number, inUse[a] as number);
      cpuUsed += p.cpu[i] as number;
      memUsed += p.mem[i] as number;
      if (hasSlot(a) && queue.size > 0) candidates.push(a);
    }
    peakParallel = Math.max(peakParallel, running.size);
    peakCpu = Math.max(peakCpu, cpuUsed);
    peakMem = Math.max(peakMem, memUsed);
  };

  while (started < p.n) {
    dispatch();
    // Pools are checked per step up front, so something always runs while work remains.
    if (running.size === 0) throw new InfeasiblePlanError('the plan cannot make progress under its limits');
    const t = finish[running.peek() as number] as number;
    now = t;
    makespan = t;
    while (running.size > 0 && finish[running.peek() as number] === t) {
      const i = running.pop() as number;
      const a = p.agent[i] as number;
      inUse[a] = (inUse[a] as number) - 1;
      cpuUsed -= p.cpu[i] as number;
      memUsed -= p.mem[i] as number;
      for (const d of p.dependents[i] ?? []) {
        remaining[d] = (remaining[d] as number) - 1;
        if (remaining[d] === 0) ready[p.agent[d] as number]?.push(d);
      }
    }
    // Fractional amounts drift when added and taken away (0.1 + 0.3 - 0.1 - 0.3 != 0).
    if (running.size === 0) {
      cpuUsed = 0;
      memUsed = 0;
    }
  }
  // Steps still running when the last one starts end later; the latest finish is the makespan.
  while (running.size > 0) makespan = Math.max(makespan, finish[running.pop() as number] as number);
  return { start, finish, makespan, peakParallel, peakCpu, peakMem, peakAgent };
}

function buildWaves(p: Problem, wave: Int32Array, steps: readonly PlannerStep[]): Wave[] {
  const members: number[][] = [];
  for (let i = 0; i < p.n; i++) {
    const w = wave[i] as number;
    const list = members[w];
    if (list) list.push(i);
    else members[w] = [i];
  }
  return members.map((ids, index) => {
    const sorted = [...ids].sort((a, b) => (p.rank[a] as number) - (p.rank[b] as number));
    const local = new Map(sorted.map((i, k) => [i, k]));
    const sub: Problem = {
      ...p,
      n: sorted.length,
      dur: Float64Array.from(sorted, (i) => p.dur[i] as number),
      agent: Int32Array.from(sorted, (i) => p.agent[i] as number),
      cpu: Float64Array.from(sorted, (i) => p.cpu[i] as number),
      mem: Float64Array.from(sorted, (i) => p.mem[i] as number),
      dependents: sorted.map(() => []),
      depCount: new Int32Array(sorted.length),
      rank: Int32Array.from(sorted, (i) => local.get(i) as number),
    };
    const perAgent = new Map<number, number>();
    for (const i of sorted) perAgent.set(p.agent[i] as number, (perAgent.get(p.agent[i] as number) ?? 0) + 1);
    let agentCap = 0;
    for (const [a, count] of perAgent) agentCap += Math.min(count, p.agentSlots[a] as number);
    return {
      index,
      step_ids: sorted.map((i) => steps[i]?.step_id as string),
      max_concurrency: Math.max(1, Math.min(sorted.length, p.maxParallel, agentCap)),
      span_ms: listSchedule(sub).makespan,
    };
  });
}

/** From the source with the longest bottom level, follow the dependent that carries it on. */
function traceCriticalPath(
  dependents: readonly (readonly number[])[],
  bottom: Float64Array,
  dur: Float64Array,
  rank: Int32Array,
  dependencies: readonly (readonly number[])[],
): number[] {
  let best = -1;
  for (let i = 0; i < bottom.length; i++) {
    if ((dependencies[i]?.length ?? 0) > 0) continue;
    if (
      best < 0 ||
      (bottom[i] as number) > (bottom[best] as number) ||
      (bottom[i] === bottom[best] && (rank[i] as number) < (rank[best] as number))
    )
      best = i;
  }
  const path: number[] = [];
  let cur = best;
  while (cur >= 0) {
    path.push(cur);
    const want = (bottom[cur] as number) - (dur[cur] as number);
    let next = -1;
    for (const d of dependents[cur] ?? []) {
      if (bottom[d] === want && (next < 0 || (rank[d] as number) < (rank[next] as number))) next = d;
    }
    cur = next;
  }
  return path;
}

function checkedAmount(value: number, field: string, stepId: string): number {
  if (!Number.isFinite(value) || value < 0)
    throw new InfeasiblePlanError(`step ${stepId} has an invalid ${field}: ${value}`, [
      { step_id: stepId, field, value },
    ]);
  return value;
}

/** Pool check with a relative tolerance, so float rounding never refuses a step that fits. */
function exceeds(amount: number, pool: number): boolean {
  return amount > pool + 1e-9 * Math.max(1, pool);
}

function clamp01(x: number): number {
  return Math.min(1, Math.max(0, x));
}
