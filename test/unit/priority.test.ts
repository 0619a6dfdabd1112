import fc from 'fast-check';
import {
  compareIds,
  type PendingIssue,
  type RescoreEvent,
  type RescoreState,
  rescoreIssues,
  SEVERITY_POINTS,
  SLA_RAMP_MS,
  scorePriority,
} from '#core/priority';
import type { Severity } from '#core/wire';

const NOW = Date.parse('2026-11-24T02:00:00Z');
const HOUR = 60 * 60 * 1000;

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

const empty = { now_ms: NOW, blocked_count: 0 };

describe('scorePriority', () => {
  it('orders severities critical > high > medium > low with the documented points', () => {
    // Act
    const totals = (['critical', 'high', 'medium', 'low'] as const).map(
      (severity) => scorePriority({ severity }, empty).total,
    );

    // Assess
    expect(totals).toEqual([40, 28, 16, 6]);
    expect(SEVERITY_POINTS).toEqual({ critical: 40, high: 28, medium: 16, low: 6 });
  });

  it('breaks the total down into parts that add up to it', () => {
    // Act
    const { total, parts } = scorePriority(
      {
        severity: 'high',
        impact: { users_affected: 4_000, services_affected: 5, revenue_per_hour: 12_000 },
        detected_at: iso(NOW - 3 * HOUR),
      },
      { now_ms: NOW, blocked_count: 2, ready: true },
    );

    // Assess
    const sum = Object.values(parts).reduce((s, x) => s + x, 0);
    expect(total).toBeCloseTo(sum, 6);
    expect(Object.keys(parts).sort()).toEqual(
      ['age', 'fan_out', 'ready', 'reroute', 'revenue', 'services', 'severity', 'sla', 'users'].sort(),
    );
  });

  it.each([
    ['users', 15, { users_affected: 999_999 }, { users_affected: 1_000_000_000 }, { users_affected: 99_999 }],
    ['services', 10, { services_affected: 31 }, { services_affected: 10_000 }, { services_affected: 15 }],
    ['revenue', 5, { revenue_per_hour: 999_999 }, { revenue_per_hour: 1e12 }, { revenue_per_hour: 999 }],
  ] as const)('saturates %s at %d points at its documented bound', (part, max, atBound, beyond, below) => {
    // Act
    const at = scorePriority({ severity: 'low', impact: atBound }, empty).parts[part];
    const far = scorePriority({ severity: 'low', impact: beyond }, empty).parts[part];
    const under = scorePriority({ severity: 'low', impact: below }, empty).parts[part];

    // Assess
    expect(at).toBe(max);
    expect(far).toBe(max);
    expect(under).toBeLessThan(max);
    expect(under).toBeGreaterThan(0);
  });

  it('saturates fan-out at 15 points from 63 blocked issues, log2 below that', () => {
    // Act
    const fanOut = (blocked_count: number) =>
      scorePriority({ severity: 'low' }, { now_ms: NOW, blocked_count }).parts.fan_out;

    // Assess
    expect(fanOut(0)).toBe(0);
    expect(fanOut(1)).toBe(2.5);
    expect(fanOut(7)).toBe(7.5);
    expect(fanOut(63)).toBe(15);
    expect(fanOut(10_000)).toBe(15);
  });

  it('saturates age at 5 points after 24 h, linearly, and never counts a future detection', () => {
    // Act
    const age = (detectedMs: number) =>
      scorePriority({ severity: 'low', detected_at: iso(detectedMs) }, empty).parts.age;

    // Assess
    expect(age(NOW)).toBe(0);
    expect(age(NOW - 12 * HOUR)).toBe(2.5);
    expect(age(NOW - 24 * HOUR)).toBe(5);
    expect(age(NOW - 240 * HOUR)).toBe(5);
    expect(age(NOW + HOUR)).toBe(0);
  });

  it('ramps the SLA part over the last 4 h before the deadline and holds it at 15 once breached', () => {
    // Act
    const sla = (deadlineMs: number) =>
      scorePriority({ severity: 'low', impact: { sla_deadline: iso(deadlineMs) } }, empty).parts.sla;

    // Assess
    expect(SLA_RAMP_MS).toBe(4 * HOUR);
    expect(sla(NOW + 10 * HOUR)).toBe(0);
    expect(sla(NOW + 4 * HOUR)).toBe(0);
    expect(sla(NOW + 3 * HOUR)).toBe(3.75);
    expect(sla(NOW + 2 * HOUR)).toBe(7.5);
    expect(sla(NOW + HOUR)).toBe(11.25);
    expect(sla(NOW)).toBe(15);
    expect(sla(NOW - HOUR)).toBe(15);
    expect(sla(NOW - 100 * HOUR)).toBe(15);
  });

  it('never lowers the SLA part as time passes', () => {
    // Prepare
    const issue = { severity: 'medium' as const, impact: { sla_deadline: iso(NOW + 3 * HOUR) } };
    const quarters = Array.from({ length: 32 }, (_, k) => NOW + k * 15 * 60 * 1000);

    // Act
    const parts = quarters.map((now_ms) => scorePriority(issue, { now_ms, blocked_count: 0 }).parts.sla);

    // Assess
    for (let k = 1; k < parts.length; k++) expect(parts[k]).toBeGreaterThanOrEqual(parts[k - 1] as number);
    expect(parts[0]).toBe(3.75);
    expect(parts.at(-1)).toBe(15);
  });

  it('adds 5 points when ready and 5 when it needs re-routing', () => {
    // Act
    const plain = scorePriority({ severity: 'medium' }, empty);
    const ready = scorePriority({ severity: 'medium' }, { ...empty, ready: true });
    const reroute = scorePriority({ severity: 'medium' }, { ...empty, needs_reroute: true });
    const both = scorePriority({ severity: 'medium' }, { ...empty, ready: true, needs_reroute: true });

    // Assess
    expect([plain.total, ready.total, reroute.total, both.total]).toEqual([16, 21, 21, 26]);
  });

  it('ranks a low issue with maximum impact below an otherwise empty critical one', () => {
    // Prepare
    const maxImpact = { users_affected: 50_000_000, services_affected: 500, revenue_per_hour: 1e9 };

    // Act
    const low = scorePriority({ severity: 'low', impact: maxImpact }, empty);
    const critical = scorePriority({ severity: 'critical' }, empty);

    // Assess
    expect(low.total).toBe(36);
    expect(critical.total).toBe(40);
    expect(low.total).toBeLessThan(critical.total);
  });

  it('lets a breached SLA lift a low issue with full impact above an empty critical one', () => {
    // Act
    const low = scorePriority(
      {
        severity: 'low',
        impact: {
          users_affected: 50_000_000,
          services_affected: 500,
          revenue_per_hour: 1e9,
          sla_deadline: iso(NOW - HOUR),
        },
      },
      empty,
    );

    // Assess
    expect(low.total).toBe(51);
    expect(low.total).toBeGreaterThan(SEVERITY_POINTS.critical);
  });

  it('raises priority with fan-out, never lowering it as more issues are blocked', () => {
    // Prepare
    const counts = Array.from({ length: 101 }, (_, k) => k);

    // Act
    const totals = counts.map(
      (blocked_count) => scorePriority({ severity: 'medium' }, { now_ms: NOW, blocked_count }).total,
    );

    // Assess
    expect(totals[1]).toBeGreaterThan(totals[0] as number);
    for (let k = 1; k < totals.length; k++) expect(totals[k]).toBeGreaterThanOrEqual(totals[k - 1] as number);
  });
});

describe('rescoreIssues', () => {
  const pending: readonly PendingIssue[] = [
    { issue_id: 'db-fix', severity: 'critical', agent_id: 'data-1' },
    { issue_id: 'app-fix', severity: 'high', depends_on: ['db-fix'], agent_id: 'app-1' },
    { issue_id: 'cache-warm', severity: 'medium', depends_on: ['app-fix'], agent_id: 'app-1' },
    {
      issue_id: 'cert',
      severity: 'high',
      agent_id: 'sec-1',
      impact: { sla_deadline: iso(NOW + 2 * HOUR) },
    },
    { issue_id: 'dns', severity: 'medium', agent_id: null, impact: { sla_deadline: iso(NOW + 3 * HOUR) } },
  ];
  const start: RescoreState = { now_ms: NOW, resolved: new Set(), failed_agents: new Set() };

  /** Scores before any event: a no-op sla_near at the same instant. */
  function baseline(state: RescoreState = start): ReadonlyMap<string, number> {
    return rescoreIssues(pending, state, { type: 'sla_near', now_ms: state.now_ms }).priorities;
  }

  function movedIds(before: ReadonlyMap<string, number>, after: ReadonlyMap<string, number>): string[] {
    return [...after].filter(([id, p]) => before.get(id) !== p).map(([id]) => id);
  }

  it('scores every open issue and orders them highest first, fan-out included', () => {
    // Act
    const result = baseline();

    // Assess
    expect(Object.fromEntries(result)).toEqual({
      'db-fix': 43.96,
      'app-fix': 30.5,
      'cache-warm': 16,
      cert: 35.5,
      dns: 19.75,
    });
    const order = rescoreIssues(pending, start, { type: 'sla_near', now_ms: NOW }).order;
    expect(order).toEqual(['db-fix', 'cert', 'app-fix', 'dns', 'cache-warm']);
  });

  it('marks dependents ready (+5) and drops the resolved issue on blocker_resolved', () => {
    // Prepare
    const before = baseline();

    // Act
    const result = rescoreIssues(pending, start, { type: 'blocker_resolved', issue_id: 'db-fix' });

    // Assess
    expect(result.order).not.toContain('db-fix');
    expect(result.order).toHaveLength(pending.length - 1);
    expect(result.priorities.has('db-fix')).toBe(false);
    expect(result.priorities.get('app-fix')).toBe((before.get('app-fix') as number) + 5);
    expect(result.changed).toEqual([
      { issue_id: 'app-fix', before: before.get('app-fix'), after: (before.get('app-fix') as number) + 5 },
    ]);
    expect([...result.state.resolved]).toEqual(['db-fix']);
    expect(start.resolved.size).toBe(0);
  });

  it('keeps a dependent waiting until every one of its blockers is resolved', () => {
    // Prepare
    const afterFirst = rescoreIssues(pending, start, { type: 'blocker_resolved', issue_id: 'db-fix' });

    // Act
    const afterSecond = rescoreIssues(pending, afterFirst.state, {
      type: 'blocker_resolved',
      issue_id: 'app-fix',
    });

    // Assess
    expect(afterFirst.priorities.get('cache-warm')).toBe(16);
    expect(afterSecond.priorities.get('cache-warm')).toBe(21);
    expect(afterSecond.changed.map((c) => c.issue_id)).toEqual(['cache-warm']);
    expect(afterSecond.order).toEqual(['cert', 'cache-warm', 'dns']);
  });

  it("raises that agent's issues by 5 for re-routing on agent_failed, and only those", () => {
    // Prepare
    const before = baseline();

    // Act
    const result = rescoreIssues(pending, start, { type: 'agent_failed', agent_id: 'app-1' });

    // Assess
    expect(result.changed).toEqual([
      { issue_id: 'app-fix', before: before.get('app-fix'), after: (before.get('app-fix') as number) + 5 },
      {
        issue_id: 'cache-warm',
        before: before.get('cache-warm'),
        after: (before.get('cache-warm') as number) + 5,
      },
    ]);
    expect([...result.state.failed_agents]).toEqual(['app-1']);
    expect(result.priorities.get('dns')).toBe(before.get('dns'));
  });

  it('raises SLA parts on sla_near with a later now, listing exactly the issues that moved', () => {
    // Prepare
    const before = baseline();

    // Act
    const result = rescoreIssues(pending, start, { type: 'sla_near', now_ms: NOW + HOUR });

    // Assess
    expect(result.state.now_ms).toBe(NOW + HOUR);
    expect(result.changed).toEqual([
      { issue_id: 'cert', before: 35.5, after: 39.25 },
      { issue_id: 'dns', before: 19.75, after: 23.5 },
    ]);
    expect(result.changed.map((c) => c.issue_id)).toEqual(movedIds(before, result.priorities));
  });

  it('never moves time backwards when sla_near carries an earlier now', () => {
    // Prepare
    const before = baseline();

    // Act
    const result = rescoreIssues(pending, start, { type: 'sla_near', now_ms: NOW - 5 * HOUR });

    // Assess
    expect(result.state.now_ms).toBe(NOW);
    expect(result.changed).toEqual([]);
    expect(Object.fromEntries(result.priorities)).toEqual(Object.fromEntries(before));
  });

  it('breaks priority ties by issue_id in code-unit order', () => {
    // Prepare
    const twins: PendingIssue[] = [
      { issue_id: 'b', severity: 'high' },
      { issue_id: 'B', severity: 'high' },
      { issue_id: 'a', severity: 'high' },
    ];

    // Act
    const result = rescoreIssues(twins, start, { type: 'sla_near', now_ms: NOW });

    // Assess
    expect(result.order).toEqual(['B', 'a', 'b']);
    expect(compareIds('B', 'a')).toBeLessThan(0);
  });

  it('keeps changed equal to the moved issues and time monotone for any event sequence', () => {
    // Prepare
    const severity = fc.constantFrom<Severity>('critical', 'high', 'medium', 'low');
    const ids = Array.from({ length: 8 }, (_, k) => `i${k}`);
    const rows = fc.array(
      fc.record({
        severity,
        deps: fc.subarray(ids),
        agent: fc.constantFrom('a1', 'a2', null),
        sla: fc.option(fc.integer({ min: -5, max: 8 }), { nil: undefined }),
        age: fc.option(fc.integer({ min: 0, max: 30 }), { nil: undefined }),
      }),
      { minLength: 1, maxLength: ids.length },
    );
    const event: fc.Arbitrary<RescoreEvent> = fc.oneof(
      fc.record({ type: fc.constant('blocker_resolved' as const), issue_id: fc.constantFrom(...ids) }),
      fc.record({ type: fc.constant('agent_failed' as const), agent_id: fc.constantFrom('a1', 'a2') }),
      fc.record({
        type: fc.constant('sla_near' as const),
        now_ms: fc.integer({ min: NOW - 3 * HOUR, max: NOW + 6 * HOUR }),
      }),
    );

    // Act + Assess
    fc.assert(
      fc.property(rows, fc.array(event, { minLength: 1, maxLength: 6 }), (generated, events) => {
        const issues: PendingIssue[] = generated.map((r, k) => ({
          issue_id: `i${k}`,
          severity: r.severity,
          // Only earlier ids, so the batch stays acyclic.
          depends_on: r.deps.filter((d) => Number(d.slice(1)) < k),
          agent_id: r.agent,
          impact: r.sla === undefined ? undefined : { sla_deadline: iso(NOW + r.sla * HOUR) },
          detected_at: r.age === undefined ? undefined : iso(NOW - r.age * HOUR),
        }));
        let state: RescoreState = start;
        for (const e of events) {
          const prior = rescoreIssues(issues, state, { type: 'sla_near', now_ms: state.now_ms }).priorities;
          const result = rescoreIssues(issues, state, e);
          const open = issues.filter((i) => !result.state.resolved.has(i.issue_id)).map((i) => i.issue_id);
          expect([...result.order].sort(compareIds)).toEqual([...open].sort(compareIds));
          expect(result.state.now_ms).toBeGreaterThanOrEqual(state.now_ms);
          expect(result.changed.map((c) => c.issue_id)).toEqual(movedIds(prior, result.priorities));
          for (const c of result.changed) expect(c.before).toBe(prior.get(c.issue_id));
          state = result.state;
        }
      }),
      { numRuns: 150 },
    );
  });
});
