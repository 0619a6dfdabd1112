import fc from 'fast-check';
import { DependencyCycleError, DuplicateIdError, UnknownDependencyError } from '#core/errors';
import { buildDependencyGraph, type GraphNode, transitiveDependentCounts } from '#core/graph';
import { MinHeap } from '#core/heap';

/** Node `n<i>` may depend only on lower indexes, so the graph is acyclic by construction. */
const dagArb = fc
  .array(fc.array(fc.nat(), { maxLength: 4 }), { minLength: 1, maxLength: 40 })
  .map((raw): GraphNode[] =>
    raw.map((deps, i) => ({ id: `n${i}`, depends_on: i === 0 ? [] : deps.map((d) => `n${d % i}`) })),
  );

function thrownBy(act: () => unknown): unknown {
  try {
    act();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}

function cycleOf(nodes: readonly GraphNode[]): readonly string[] {
  const error = thrownBy(() => buildDependencyGraph(nodes));
  if (!(error instanceof DependencyCycleError)) throw new Error(`expected a DependencyCycleError: ${error}`);
  return error.cycle;
}

/** A named cycle is real when it closes on itself, repeats nothing inside, and follows depends_on edges. */
function expectRealCycle(nodes: readonly GraphNode[], cycle: readonly string[]): void {
  const deps = new Map(nodes.map((n) => [n.id, new Set(n.depends_on ?? [])]));
  expect(cycle.length).toBeGreaterThanOrEqual(2);
  expect(cycle[cycle.length - 1]).toBe(cycle[0]);
  expect(new Set(cycle.slice(0, -1)).size).toBe(cycle.length - 1);
  for (let k = 0; k + 1 < cycle.length; k++) {
    expect(deps.get(cycle[k] as string)?.has(cycle[k + 1] as string)).toBe(true);
  }
}

/** Reference count by plain search over dependents, one search per node. */
function bruteDependentCounts(nodes: readonly GraphNode[]): number[] {
  const dependents = new Map<string, string[]>(nodes.map((n) => [n.id, []]));
  for (const n of nodes) for (const d of n.depends_on ?? []) dependents.get(d)?.push(n.id);
  return nodes.map((n) => {
    const seen = new Set<string>();
    const stack = [...(dependents.get(n.id) ?? [])];
    while (stack.length > 0) {
      const id = stack.pop() as string;
      if (seen.has(id)) continue;
      seen.add(id);
      stack.push(...(dependents.get(id) ?? []));
    }
    return seen.size;
  });
}

const diamond: GraphNode[] = [
  { id: 'a' },
  { id: 'b', depends_on: ['a'] },
  { id: 'c', depends_on: ['a'] },
  { id: 'd', depends_on: ['b', 'c'] },
];

describe('buildDependencyGraph', () => {
  it('indexes nodes in input order and links both directions', () => {
    // Act
    const graph = buildDependencyGraph(diamond);

    // Assess
    expect(graph.ids).toEqual(['a', 'b', 'c', 'd']);
    expect(graph.indexOf.get('c')).toBe(2);
    expect(graph.dependencies).toEqual([[], [0], [0], [1, 2]]);
    expect(graph.dependents).toEqual([[1, 2], [3], [3], []]);
    expect(graph.topological).toEqual([0, 1, 2, 3]);
  });

  it('orders a node listed before its dependency after it', () => {
    // Prepare
    const nodes: GraphNode[] = [{ id: 'late', depends_on: ['early'] }, { id: 'early' }];

    // Act
    const graph = buildDependencyGraph(nodes);

    // Assess
    expect(graph.topological.map((i) => graph.ids[i])).toEqual(['early', 'late']);
  });

  it('gives a topological order that respects every edge, whatever the input order', () => {
    fc.assert(
      fc.property(
        dagArb.chain((nodes) => fc.shuffledSubarray(nodes, { minLength: nodes.length })),
        (nodes) => {
          // Act
          const graph = buildDependencyGraph(nodes);

          // Assess
          expect([...graph.topological].sort((a, b) => a - b)).toEqual(nodes.map((_, i) => i));
          const position = new Map(graph.topological.map((node, k) => [graph.ids[node], k]));
          for (const n of nodes) {
            for (const d of n.depends_on ?? []) {
              expect(position.get(d)).toBeLessThan(position.get(n.id) as number);
            }
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  it('deduplicates repeated entries in depends_on', () => {
    // Prepare
    const nodes: GraphNode[] = [{ id: 'a' }, { id: 'b', depends_on: ['a', 'a', 'a'] }];

    // Act
    const graph = buildDependencyGraph(nodes);

    // Assess
    expect(graph.dependencies).toEqual([[], [0]]);
    expect(graph.dependents).toEqual([[1], []]);
    expect(transitiveDependentCounts(graph)).toEqual([1, 0]);
  });

  it('accepts an empty list', () => {
    // Act
    const graph = buildDependencyGraph([]);

    // Assess
    expect(graph.ids).toEqual([]);
    expect(graph.topological).toEqual([]);
  });

  it('rejects duplicate ids, naming the id', () => {
    // Prepare
    const nodes: GraphNode[] = [{ id: 'a' }, { id: 'b' }, { id: 'a' }];

    // Act
    const error = thrownBy(() => buildDependencyGraph(nodes));

    // Assess
    expect(error).toBeInstanceOf(DuplicateIdError);
    expect(error).toMatchObject({ id: 'a', code: 'DUPLICATE_ID' });
  });

  it('rejects a dependency on an unknown id, naming both ids', () => {
    // Prepare
    const nodes: GraphNode[] = [{ id: 'a' }, { id: 'b', depends_on: ['a', 'ghost'] }];

    // Act
    const error = thrownBy(() => buildDependencyGraph(nodes));

    // Assess
    expect(error).toBeInstanceOf(UnknownDependencyError);
    expect(error).toMatchObject({ id: 'b', dependency: 'ghost', code: 'UNKNOWN_DEPENDENCY' });
  });

  it('rejects a self-dependency as a cycle of one', () => {
    // Prepare
    const nodes: GraphNode[] = [{ id: 'a' }, { id: 'b', depends_on: ['a', 'b'] }];

    // Act
    const cycle = cycleOf(nodes);

    // Assess
    expect(cycle).toEqual(['b', 'b']);
  });

  it('rejects a two-node cycle, naming it in depends_on direction', () => {
    // Prepare
    const nodes: GraphNode[] = [
      { id: 'a', depends_on: ['b'] },
      { id: 'b', depends_on: ['a'] },
    ];

    // Act
    const cycle = cycleOf(nodes);

    // Assess
    expect(cycle).toEqual(['a', 'b', 'a']);
    expectRealCycle(nodes, cycle);
  });

  it('rejects a longer cycle reached through nodes that are not on it, naming only the cycle', () => {
    // Prepare: `entry` is unorderable only because it depends on the cycle x -> y -> z -> x.
    const nodes: GraphNode[] = [
      { id: 'root' },
      { id: 'entry', depends_on: ['root', 'x'] },
      { id: 'x', depends_on: ['y'] },
      { id: 'y', depends_on: ['root', 'z'] },
      { id: 'z', depends_on: ['x'] },
      { id: 'after', depends_on: ['z'] },
    ];

    // Act
    const cycle = cycleOf(nodes);

    // Assess
    expect(cycle).toEqual(['x', 'y', 'z', 'x']);
    expectRealCycle(nodes, cycle);
  });

  it('names a real cycle whenever one is planted in a random graph', () => {
    fc.assert(
      fc.property(dagArb, fc.array(fc.nat(), { minLength: 1, maxLength: 6 }), (dag, picks) => {
        // Prepare: close a ring over distinct nodes, on top of the acyclic edges.
        const ring = [...new Set(picks.map((p) => p % dag.length))];
        const nodes = dag.map((n, i) => {
          const at = ring.indexOf(i);
          if (at < 0) return n;
          const next = ring[(at + 1) % ring.length] as number;
          return { id: n.id, depends_on: [...(n.depends_on ?? []), `n${next}`] };
        });

        // Act
        const cycle = cycleOf(nodes);

        // Assess
        expectRealCycle(nodes, cycle);
      }),
      { numRuns: 200 },
    );
  });
});

describe('transitiveDependentCounts', () => {
  it('counts a diamond exactly, without counting the shared sink twice', () => {
    // Prepare
    const graph = buildDependencyGraph(diamond);

    // Act
    const counts = transitiveDependentCounts(graph);

    // Assess
    expect(counts).toEqual([3, 1, 1, 0]);
  });

  it('stays exact below the cap and saturates at it', () => {
    // Prepare
    const graph = buildDependencyGraph(diamond);

    // Act
    const roomy = transitiveDependentCounts(graph, 3);
    const tight = transitiveDependentCounts(graph, 2);

    // Assess: with a cap of 2, a reaches "2 or more".
    expect(roomy).toEqual([3, 1, 1, 0]);
    expect(tight).toEqual([2, 1, 1, 0]);
  });

  it('caps a long chain at the default 64 while the tail stays exact', () => {
    // Prepare
    const chain: GraphNode[] = Array.from({ length: 200 }, (_, k) => ({
      id: `n${k}`,
      depends_on: k > 0 ? [`n${k - 1}`] : [],
    }));

    // Act
    const counts = transitiveDependentCounts(buildDependencyGraph(chain));

    // Assess
    expect(counts[0]).toBe(64);
    expect(counts[199 - 10]).toBe(10);
    expect(counts[199]).toBe(0);
  });

  it('matches a brute-force count clipped at any cap', () => {
    fc.assert(
      fc.property(dagArb, fc.integer({ min: 1, max: 12 }), (nodes, cap) => {
        // Prepare
        const graph = buildDependencyGraph(nodes);

        // Act
        const unclipped = transitiveDependentCounts(graph);
        const clipped = transitiveDependentCounts(graph, cap);

        // Assess
        const brute = bruteDependentCounts(nodes);
        expect(unclipped).toEqual(brute);
        expect(clipped).toEqual(brute.map((c) => Math.min(c, cap)));
      }),
      { numRuns: 200 },
    );
  });
});

describe('MinHeap', () => {
  it('pops in ascending order, duplicates included', () => {
    // Prepare
    const heap = new MinHeap((a, b) => a < b);
    for (const x of [5, 1, 4, 1, 3, 9, 2, 6, 5, 3]) heap.push(x);

    // Act
    const popped: (number | undefined)[] = [];
    while (heap.size > 0) popped.push(heap.pop());

    // Assess
    expect(popped).toEqual([1, 1, 2, 3, 3, 4, 5, 5, 6, 9]);
  });

  it('returns undefined from pop and peek when empty, and stays usable', () => {
    // Prepare
    const heap = new MinHeap((a, b) => a < b);

    // Act
    const emptyPop = heap.pop();
    const emptyPeek = heap.peek();
    heap.push(7);

    // Assess
    expect(emptyPop).toBeUndefined();
    expect(emptyPeek).toBeUndefined();
    expect(heap.size).toBe(1);
    expect(heap.peek()).toBe(7);
    expect(heap.pop()).toBe(7);
    expect(heap.pop()).toBeUndefined();
    expect(heap.size).toBe(0);
  });

  it('orders indexes by a key held outside the heap, as the planner does', () => {
    // Prepare
    const rank = [30, 10, 20];
    const heap = new MinHeap((a, b) => (rank[a] as number) < (rank[b] as number));
    for (const i of [0, 1, 2]) heap.push(i);

    // Act
    const popped = [heap.pop(), heap.pop(), heap.pop()];

    // Assess
    expect(popped).toEqual([1, 2, 0]);
  });

  it('pops any sequence sorted, with pushes and pops interleaved', () => {
    fc.assert(
      fc.property(fc.array(fc.option(fc.integer({ min: -50, max: 50 }), { nil: undefined })), (ops) => {
        // Prepare: a number pushes it, undefined pops, checked against a sorted array.
        const heap = new MinHeap((a, b) => a < b);
        const model: number[] = [];

        for (const op of ops) {
          if (op === undefined) {
            // Act
            const popped = heap.pop();

            // Assess
            expect(popped).toBe(model.shift());
          } else {
            heap.push(op);
            model.push(op);
            model.sort((a, b) => a - b);
          }
          expect(heap.size).toBe(model.length);
          expect(heap.peek()).toBe(model[0]);
        }
      }),
      { numRuns: 300 },
    );
  });
});
