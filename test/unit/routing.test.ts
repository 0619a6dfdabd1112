import fc from 'fast-check';
import { type RoutableIssue, type RouteDecision, routeIssues } from '#core/routing';
import {
  AgentHealth,
  AgentSnapshot,
  type AgentSnapshotInput,
  CATEGORIES,
  type Category,
  CircuitState,
} from '#core/wire';

function agent(input: Partial<AgentSnapshotInput> & Pick<AgentSnapshotInput, 'agent_id'>): AgentSnapshot {
  return AgentSnapshot.parse({ categories: ['network'], max_concurrency: 4, ...input });
}

function issue(input: Partial<RoutableIssue> & Pick<RoutableIssue, 'issue_id'>): RoutableIssue {
  return { category: 'network', priority: 50, ...input };
}

function agentOf(decisions: readonly RouteDecision[], issueId: string): string | null {
  return decisions.find((d) => d.issue_id === issueId)?.agent_id ?? null;
}

describe('routeIssues refusals', () => {
  it('refuses with NO_CAPABLE_AGENT when no agent serves the category', () => {
    // Prepare
    const agents = [agent({ agent_id: 'db-1', categories: ['data'] })];

    // Act
    const [decision] = routeIssues([issue({ issue_id: 'i1', category: 'network' })], agents);

    // Assess
    expect(decision).toEqual({
      issue_id: 'i1',
      status: 'UNASSIGNED',
      agent_id: null,
      reason: 'NO_CAPABLE_AGENT',
      detail: 'no registered agent serves network',
    });
  });

  it('refuses with NO_CAPABLE_AGENT when agents serve the category but lack a required capability', () => {
    // Prepare
    const agents = [agent({ agent_id: 'net-1', capabilities: ['dns'] })];

    // Act
    const [decision] = routeIssues(
      [issue({ issue_id: 'i1', required_capabilities: ['dns', 'bgp'] })],
      agents,
    );

    // Assess
    expect(decision).toMatchObject({
      status: 'UNASSIGNED',
      reason: 'NO_CAPABLE_AGENT',
      detail: 'no registered agent serves network with dns, bgp',
    });
  });

  it.each(['UNHEALTHY', 'OFFLINE'] as const)(
    'refuses with NO_HEALTHY_AGENT when every capable agent is %s, even with a closed circuit',
    (status) => {
      // Prepare
      const agents = [agent({ agent_id: 'net-1', status }), agent({ agent_id: 'net-2', status })];

      // Act
      const [decision] = routeIssues([issue({ issue_id: 'i1' })], agents);

      // Assess
      expect(decision).toMatchObject({
        status: 'UNASSIGNED',
        agent_id: null,
        reason: 'NO_HEALTHY_AGENT',
        detail: '2 agent(s) serve network, none healthy',
      });
    },
  );

  it('refuses with ALL_CIRCUITS_OPEN when healthy capable agents all have open circuits', () => {
    // Prepare
    const agents = [
      agent({ agent_id: 'net-1', circuit_state: 'OPEN' }),
      agent({ agent_id: 'net-2', status: 'DEGRADED', circuit_state: 'OPEN' }),
      agent({ agent_id: 'net-3', status: 'OFFLINE' }),
    ];

    // Act
    const [decision] = routeIssues([issue({ issue_id: 'i1' })], agents);

    // Assess
    expect(decision).toMatchObject({
      status: 'UNASSIGNED',
      reason: 'ALL_CIRCUITS_OPEN',
      detail: '2 healthy agent(s) serve network, all circuits open',
    });
  });

  it('refuses with LOW_CONFIDENCE when the category is null, whatever agents exist', () => {
    // Prepare
    const agents = CATEGORIES.map((c) => agent({ agent_id: `agent-${c}`, categories: [c] }));

    // Act
    const [decision] = routeIssues([issue({ issue_id: 'i1', category: null })], agents);

    // Assess
    expect(decision).toMatchObject({
      status: 'UNASSIGNED',
      reason: 'LOW_CONFIDENCE',
      detail: 'no category could be inferred',
    });
  });

  it('passes on a refusal triage already made, although an agent could take the issue', () => {
    // Prepare
    const refused = { reason: 'LOW_CONFIDENCE' as const, detail: 'category confidence 0.5 is below 0.65' };

    // Act
    const [decision] = routeIssues([issue({ issue_id: 'i1', refused })], [agent({ agent_id: 'net-1' })]);

    // Assess
    expect(decision).toEqual({ issue_id: 'i1', status: 'UNASSIGNED', agent_id: null, ...refused });
  });

  it('gives the most specific reason first: no category, then no capable, healthy or closed agent', () => {
    // Prepare
    const agents = [
      agent({ agent_id: 'net-down', categories: ['network'], status: 'OFFLINE', circuit_state: 'OPEN' }),
      agent({ agent_id: 'db-open', categories: ['data'], circuit_state: 'OPEN' }),
      agent({ agent_id: 'db-down', categories: ['data'], status: 'UNHEALTHY' }),
    ];
    const issues = [
      issue({ issue_id: 'none', category: null }),
      issue({ issue_id: 'sec', category: 'security' }),
      issue({ issue_id: 'net', category: 'network' }),
      issue({ issue_id: 'data', category: 'data' }),
    ];

    // Act
    const decisions = routeIssues(issues, agents);

    // Assess
    expect(decisions.map((d) => [d.issue_id, d.status === 'UNASSIGNED' ? d.reason : d.agent_id])).toEqual([
      ['none', 'LOW_CONFIDENCE'],
      ['sec', 'NO_CAPABLE_AGENT'],
      ['net', 'NO_HEALTHY_AGENT'],
      ['data', 'ALL_CIRCUITS_OPEN'],
    ]);
  });

  it('blocks dependents of an unassigned issue transitively, naming the direct blocker', () => {
    // Prepare
    const agents = [agent({ agent_id: 'net-1', categories: ['network'] })];
    const issues = [
      issue({ issue_id: 'leaf', category: 'network', depends_on: ['middle'] }),
      issue({ issue_id: 'root', category: 'security' }),
      issue({ issue_id: 'middle', category: 'network', depends_on: ['root'] }),
      issue({ issue_id: 'free', category: 'network' }),
      issue({ issue_id: 'own-reason', category: null, depends_on: ['root'] }),
    ];

    // Act
    const decisions = routeIssues(issues, agents);

    // Assess
    expect(decisions).toEqual([
      {
        issue_id: 'leaf',
        status: 'UNASSIGNED',
        agent_id: null,
        reason: 'BLOCKED_BY_UNASSIGNED',
        detail: 'depends on middle, which is unassigned',
      },
      expect.objectContaining({ issue_id: 'root', reason: 'NO_CAPABLE_AGENT' }),
      {
        issue_id: 'middle',
        status: 'UNASSIGNED',
        agent_id: null,
        reason: 'BLOCKED_BY_UNASSIGNED',
        detail: 'depends on root, which is unassigned',
      },
      expect.objectContaining({ issue_id: 'free', status: 'ASSIGNED', agent_id: 'net-1' }),
      expect.objectContaining({ issue_id: 'own-reason', reason: 'LOW_CONFIDENCE' }),
    ]);
  });

  it('does not block dependents of an assigned issue', () => {
    // Prepare
    const agents = [agent({ agent_id: 'net-1' })];
    const issues = [issue({ issue_id: 'a' }), issue({ issue_id: 'b', depends_on: ['a'] })];

    // Act
    const decisions = routeIssues(issues, agents);

    // Assess
    expect(decisions.map((d) => d.status)).toEqual(['ASSIGNED', 'ASSIGNED']);
  });
});

describe('routeIssues agent choice', () => {
  it('balances load across two equal agents', () => {
    // Prepare
    const agents = [agent({ agent_id: 'net-b' }), agent({ agent_id: 'net-a' })];
    const issues = ['i1', 'i2', 'i3', 'i4', 'i5', 'i6'].map((id) => issue({ issue_id: id }));

    // Act
    const decisions = routeIssues(issues, agents);

    // Assess
    expect(decisions.map((d) => d.agent_id)).toEqual(['net-a', 'net-b', 'net-a', 'net-b', 'net-a', 'net-b']);
  });

  it('counts current_load against max_concurrency, preferring the emptier agent', () => {
    // Prepare
    const agents = [
      agent({ agent_id: 'net-a', max_concurrency: 4, current_load: 2 }),
      agent({ agent_id: 'net-b', max_concurrency: 10, current_load: 2 }),
    ];

    // Act
    const [decision] = routeIssues([issue({ issue_id: 'i1' })], agents);

    // Assess
    expect(decision).toMatchObject({ agent_id: 'net-b', reason: expect.stringContaining('load 0.2') });
  });

  it('penalises DEGRADED by 20: it loses to a healthy agent half full, beats one completely full', () => {
    // Prepare
    const degraded = agent({ agent_id: 'net-a', status: 'DEGRADED' });
    const halfFull = agent({ agent_id: 'net-b', max_concurrency: 4, current_load: 2 });
    const full = agent({ agent_id: 'net-c', max_concurrency: 4, current_load: 4 });

    // Act
    const vsHalf = routeIssues([issue({ issue_id: 'i1' })], [degraded, halfFull]);
    const vsFull = routeIssues([issue({ issue_id: 'i1' })], [degraded, full]);

    // Assess
    expect(agentOf(vsHalf, 'i1')).toBe('net-b');
    expect(agentOf(vsFull, 'i1')).toBe('net-a');
    expect(vsFull[0]?.reason).toBe('best of 2 eligible for network: score 80, load 0');
  });

  it('penalises HALF_OPEN by 25: it loses to DEGRADED (20) and to a closed circuit', () => {
    // Prepare
    const halfOpen = agent({ agent_id: 'net-a', circuit_state: 'HALF_OPEN' });
    const degraded = agent({ agent_id: 'net-b', status: 'DEGRADED' });
    const closed = agent({ agent_id: 'net-c', max_concurrency: 2, current_load: 1 });

    // Act
    const vsDegraded = routeIssues([issue({ issue_id: 'i1' })], [halfOpen, degraded]);
    const vsClosed = routeIssues([issue({ issue_id: 'i1' })], [halfOpen, closed]);
    const alone = routeIssues([issue({ issue_id: 'i1' })], [halfOpen]);

    // Assess
    expect(agentOf(vsDegraded, 'i1')).toBe('net-b');
    expect(agentOf(vsClosed, 'i1')).toBe('net-c');
    expect(alone[0]).toMatchObject({
      status: 'ASSIGNED',
      agent_id: 'net-a',
      reason: 'best of 1 eligible for network: score 75, load 0',
    });
  });

  it('prefers the higher success_rate, and counts an unknown rate as 1', () => {
    // Prepare
    const shaky = agent({ agent_id: 'net-a', success_rate: 0.9 });
    const solid = agent({ agent_id: 'net-b', success_rate: 0.99 });
    const unknown = agent({ agent_id: 'net-c' });

    // Act
    const known = routeIssues([issue({ issue_id: 'i1' })], [shaky, solid]);
    const withUnknown = routeIssues([issue({ issue_id: 'i1' })], [shaky, solid, unknown]);

    // Assess
    expect(agentOf(known, 'i1')).toBe('net-b');
    expect(agentOf(withUnknown, 'i1')).toBe('net-c');
  });

  it('routes only to agents holding every required capability, even over a better one', () => {
    // Prepare
    const agents = [
      agent({ agent_id: 'net-a', capabilities: ['dns'] }),
      agent({ agent_id: 'net-b', capabilities: ['dns', 'bgp'], status: 'DEGRADED', success_rate: 0.6 }),
      agent({ agent_id: 'net-c' }),
    ];

    // Act
    const decisions = routeIssues(
      [
        issue({ issue_id: 'both', required_capabilities: ['bgp', 'dns'] }),
        issue({ issue_id: 'dns-only', required_capabilities: ['dns'] }),
      ],
      agents,
    );

    // Assess
    expect(agentOf(decisions, 'both')).toBe('net-b');
    expect(agentOf(decisions, 'dns-only')).toBe('net-a');
  });

  it('breaks an exact tie by agent_id in code-unit order, whatever the input order', () => {
    // Prepare
    const agents = [agent({ agent_id: 'net-b' }), agent({ agent_id: 'net-B' }), agent({ agent_id: 'net-a' })];

    // Act
    const forwards = routeIssues([issue({ issue_id: 'i1' })], agents);
    const backwards = routeIssues([issue({ issue_id: 'i1' })], [...agents].reverse());

    // Assess
    expect(agentOf(forwards, 'i1')).toBe('net-B');
    expect(agentOf(backwards, 'i1')).toBe('net-B');
  });

  it('breaks an equal score by the lower load before agent_id', () => {
    // Prepare: 100 - 30 x 0.5 = 85 = 100 x 0.85 - 30 x 0
    const agents = [
      agent({ agent_id: 'net-a', max_concurrency: 2, current_load: 1 }),
      agent({ agent_id: 'net-b', success_rate: 0.85 }),
    ];

    // Act
    const [decision] = routeIssues([issue({ issue_id: 'i1' })], agents);

    // Assess
    expect(decision).toMatchObject({
      agent_id: 'net-b',
      reason: 'best of 2 eligible for network: score 85, load 0',
    });
  });

  it('routes higher-priority issues first, so they get the less loaded agent', () => {
    // Prepare
    const agents = [
      agent({ agent_id: 'net-a', max_concurrency: 4, current_load: 1 }),
      agent({ agent_id: 'net-b', max_concurrency: 4, current_load: 0 }),
    ];
    const issues = [
      issue({ issue_id: 'a-minor', priority: 10 }),
      issue({ issue_id: 'z-urgent', priority: 90 }),
    ];

    // Act
    const decisions = routeIssues(issues, agents);

    // Assess
    expect(decisions.map((d) => d.issue_id)).toEqual(['a-minor', 'z-urgent']);
    expect(agentOf(decisions, 'z-urgent')).toBe('net-b');
    expect(agentOf(decisions, 'a-minor')).toBe('net-a');
  });
});

describe('routeIssues properties', () => {
  const agentIds = ['ag-1', 'ag-2', 'ag-3', 'ag-4', 'ag-5', 'Ag-6'];
  const capabilities = ['dns', 'k8s', 'db'];

  const agentsArb = fc
    .uniqueArray(fc.constantFrom(...agentIds), { maxLength: agentIds.length })
    .chain((ids) =>
      fc.tuple(
        ...ids.map((agent_id) =>
          fc.record({
            agent_id: fc.constant(agent_id),
            categories: fc.subarray([...CATEGORIES], { minLength: 1, maxLength: 3 }),
            capabilities: fc.subarray(capabilities),
            max_concurrency: fc.integer({ min: 1, max: 4 }),
            current_load: fc.integer({ min: 0, max: 5 }),
            status: fc.constantFrom(...AgentHealth.options),
            circuit_state: fc.constantFrom(...CircuitState.options),
            success_rate: fc.option(fc.double({ min: 0, max: 1, noNaN: true }), { nil: undefined }),
          }),
        ),
      ),
    )
    .map((inputs) => inputs.map((a) => AgentSnapshot.parse(a)));

  const issuesArb = fc
    .array(
      fc.record({
        category: fc.option(fc.constantFrom<Category>(...CATEGORIES), { nil: null }),
        priority: fc.integer({ min: 0, max: 5 }),
        deps: fc.subarray([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]),
        required_capabilities: fc.option(fc.subarray(capabilities, { maxLength: 1 }), { nil: undefined }),
      }),
      { maxLength: 12 },
    )
    .map((rows) =>
      rows.map(
        (r, k): RoutableIssue => ({
          issue_id: `iss-${k}`,
          category: r.category,
          priority: r.priority,
          depends_on: r.deps.filter((d) => d < k).map((d) => `iss-${d}`),
          required_capabilities: r.required_capabilities,
        }),
      ),
    );

  it('gives every issue exactly one decision, in input order, and only to agents that may take it', () => {
    fc.assert(
      fc.property(issuesArb, agentsArb, (issues, agents) => {
        // Act
        const decisions = routeIssues(issues, agents);

        // Assess
        expect(decisions.map((d) => d.issue_id)).toEqual(issues.map((i) => i.issue_id));
        decisions.forEach((d, k) => {
          const routed = issues[k] as RoutableIssue;
          if (d.status === 'UNASSIGNED') {
            expect(d.agent_id).toBeNull();
            return;
          }
          const chosen = agents.find((a) => a.agent_id === d.agent_id);
          expect(chosen).toBeDefined();
          expect(chosen?.categories).toContain(routed.category);
          expect(['HEALTHY', 'DEGRADED']).toContain(chosen?.status);
          expect(chosen?.circuit_state).not.toBe('OPEN');
          for (const c of routed.required_capabilities ?? []) expect(chosen?.capabilities).toContain(c);
          for (const dep of routed.depends_on ?? [])
            expect(decisions.find((x) => x.issue_id === dep)?.status).toBe('ASSIGNED');
        });
      }),
      { numRuns: 300 },
    );
  });

  it('is deterministic and ignores the order of the agent list', () => {
    fc.assert(
      fc.property(issuesArb, agentsArb, (issues, agents) => {
        // Act
        const first = routeIssues(issues, agents);
        const again = routeIssues(issues, agents);
        const reversed = routeIssues(issues, [...agents].reverse());

        // Assess
        expect(again).toEqual(first);
        expect(reversed).toEqual(first);
      }),
      { numRuns: 300 },
    );
  });
});
