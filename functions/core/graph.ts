/**
 * Dependency graph over issues or steps, built from `depends_on`.
 * Nodes are addressed by dense indexes internally so large plans stay linear.
 */
import { DependencyCycleError, DuplicateIdError, UnknownDependencyError } from './errors';

export interface GraphNode {
  readonly id: string;
  readonly depends_on?: readonly string[] | undefined;
}

export interface DependencyGraph {
  /** Node ids in input order. */
  readonly ids: readonly string[];
  readonly indexOf: ReadonlyMap<string, number>;
  /** For each node, the indexes it depends on (deduplicated). */
  readonly dependencies: readonly (readonly number[])[];
  /** For each node, the indexes that depend on it. */
  readonly dependents: readonly (readonly number[])[];
  /** A topological order: every node after all of its dependencies. */
  readonly topological: readonly number[];
}

/**
 * Builds the graph and checks it.
 * @throws DuplicateIdError when two nodes share an id.
 * @throws UnknownDependencyError when `depends_on` names an id not in `nodes`.
 * @throws DependencyCycleError naming one cycle, when there is any (a self-dependency included).
 * @example
 * const g = buildDependencyGraph([{ id: 'a' }, { id: 'b', depends_on: ['a'] }]);
 * g.topological.map((i) => g.ids[i]); // ['a', 'b']
 */
export function buildDependencyGraph(nodes: readonly GraphNode[]): DependencyGraph {
  const ids = nodes.map((n) => n.id);
  const indexOf = new Map<string, number>();
  ids.forEach((id, i) => {
    if (indexOf.has(id)) throw new DuplicateIdError(id);
    indexOf.set(id, i);
  });

  const dependencies: number[][] = [];
  const dependents: number[][] = ids.map(() => []);
  nodes.forEach((node, i) => {
    const deps = new Set<number>();
    for (const dep of node.depends_on ?? []) {
      const j = indexOf.get(dep);
      if (j === undefined) throw new UnknownDependencyError(node.id, dep);
      if (!deps.has(j)) {
        deps.add(j);
        dependents[j]?.push(i);
      }
    }
    dependencies.push([...deps]);
  });

  const topological = topologicalOrder(dependencies, dependents);
  if (topological.length < ids.length)
    throw new DependencyCycleError(findCycle(ids, dependencies, topological));
  return { ids, indexOf, dependencies, dependents, topological };
}

/** Kahn's algorithm; returns fewer nodes than exist when there is a cycle. */
function topologicalOrder(
  dependencies: readonly (readonly number[])[],
  dependents: readonly (readonly number[])[],
) {
  const indegree = dependencies.map((d) => d.length);
  const order: number[] = [];
  indegree.forEach((d, i) => {
    if (d === 0) order.push(i);
  });
  for (let head = 0; head < order.length; head++) {
    for (const next of dependents[order[head] as number] ?? []) {
      indegree[next] = (indegree[next] as number) - 1;
      if (indegree[next] === 0) order.push(next);
    }
  }
  return order;
}

/**
 * Walks dependency edges among the nodes Kahn could not order until a node repeats.
 * Every such node has a dependency that is also unordered, so the walk must loop.
 */
function findCycle(
  ids: readonly string[],
  dependencies: readonly (readonly number[])[],
  ordered: readonly number[],
): string[] {
  const done = new Set(ordered);
  const start = ids.findIndex((_, i) => !done.has(i));
  const seenAt = new Map<number, number>();
  const path: number[] = [];
  let node = start;
  while (!seenAt.has(node)) {
    seenAt.set(node, path.length);
    path.push(node);
    node = (dependencies[node] ?? []).find((d) => !done.has(d)) as number;
  }
  // The cycle is written in "depends on" direction: a -> b means a depends on b.
  const cycle = path.slice(seenAt.get(node)).map((i) => ids[i] as string);
  return [...cycle, cycle[0] as string];
}

/**
 * Counts, for each node, how many nodes depend on it directly or transitively,
 * exactly up to `cap` (a count of `cap` means "cap or more").
 *
 * Priority saturates at 63 blocked issues, so nothing above the cap matters, and
 * capping keeps both time and memory linear in the batch (at most `cap` ids kept
 * per node) whatever the shape of the graph.
 */
export function transitiveDependentCounts(graph: DependencyGraph, cap = 64): number[] {
  const n = graph.ids.length;
  const counts = new Array<number>(n).fill(0);
  const reach: Int32Array[] = new Array(n);
  const empty = new Int32Array(0);
  // stamp[x] === i means x is already in node i's set; saves allocating a Set per node.
  const stamp = new Int32Array(n).fill(-1);
  for (let k = n - 1; k >= 0; k--) {
    const i = graph.topological[k] as number;
    const direct = graph.dependents[i] ?? [];
    if (direct.length === 0) {
      reach[i] = empty;
      continue;
    }
    const found: number[] = [];
    const add = (x: number) => {
      if (stamp[x] === i) return false;
      stamp[x] = i;
      found.push(x);
      return found.length >= cap;
    };
    outer: for (const d of direct) {
      if (add(d)) break;
      for (const x of reach[d] as Int32Array) if (add(x)) break outer;
    }
    reach[i] = Int32Array.from(found);
    counts[i] = found.length;
  }
  return counts;
}
