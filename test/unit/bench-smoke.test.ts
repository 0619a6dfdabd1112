import { buildDependencyGraph } from '#core/graph';
import { AgentSnapshot, IssueTriageRequest } from '#core/wire';
import { generateAgents, generateDag, generateTriageRequest } from '../../bench/generate';
import { benchPlan, benchTriage } from '../../bench/run';

// Smoke only: the generators make valid data and a bench emits a C1 line.
// No timing is asserted; figures live in bench/README.md.
describe('bench smoke', () => {
  it('generates a 500-issue batch the wire schema accepts, acyclic, with dependencies on earlier issues only', () => {
    // Prepare
    const request = generateTriageRequest(500, 1);
    const agents = generateAgents(20, 2);

    // Act
    const parsed = IssueTriageRequest.safeParse(request);
    const graph = buildDependencyGraph(
      request.detected_issues.map((i) => ({ id: i.issue_id, depends_on: i.depends_on })),
    );

    // Assess
    expect(parsed.error?.issues).toBeUndefined();
    expect(parsed.success).toBe(true);
    expect(graph.topological).toHaveLength(500);
    const withDeps = request.detected_issues.filter((i) => (i.depends_on ?? []).length > 0);
    expect(withDeps.length).toBeGreaterThan(50);
    for (const issue of withDeps) {
      for (const dep of issue.depends_on ?? []) expect(dep < issue.issue_id).toBe(true);
    }
    expect(agents.every((a) => AgentSnapshot.safeParse(a).success)).toBe(true);
    expect(new Set(agents.flatMap((a) => a.categories)).size).toBe(10);
  });

  it('generates layered DAGs that are acyclic at every bench size', () => {
    for (const n of [100, 1_000, 10_000]) {
      // Act
      const { steps, layers } = generateDag(n, 3, 20);
      const graph = buildDependencyGraph(steps.map((s) => ({ id: s.step_id, depends_on: s.depends_on })));

      // Assess
      expect(steps).toHaveLength(n);
      expect(graph.topological).toHaveLength(n);
      expect(layers).toBeGreaterThan(1);
      expect(steps.every((s) => (s.depends_on ?? []).length <= 3)).toBe(true);
    }
  });

  it('emits one JSON line with the C1 keys from a small iteration of each kind', () => {
    // Act
    const lines = [benchTriage(50, 5, 1), benchPlan(100, 'unconstrained', 1)];

    // Assess
    for (const line of lines) {
      const text = JSON.stringify(line);
      expect(text).not.toContain('\n');
      const round = JSON.parse(text) as Record<string, unknown>;
      expect(typeof round.bench).toBe('string');
      expect(Number.isInteger(round.n)).toBe(true);
      expect(typeof round.median_ms).toBe('number');
    }
    expect(lines[0]).toMatchObject({ bench: 'triage', n: 50, agents: 5, runs: 1 });
    expect((lines[0]?.assigned as number) + (lines[0]?.unassigned as number)).toBe(50);
    expect(lines[1]).toMatchObject({ bench: 'plan', n: 100, mode: 'unconstrained', efficiency: 1 });
    expect(lines[1]?.makespan_over_critical_path).toBe(1);
  });
});
