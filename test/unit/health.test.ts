import fc from 'fast-check';
import {
  type CircuitBreakerState,
  closedCircuit,
  DEFAULT_CIRCUIT_CONFIG,
  tripCircuit,
} from '#core/circuit-breaker';
import {
  type DispatchAgent,
  type DispatchStep,
  decideDispatch,
  heartbeatVerdict,
  orderWave,
  rankAlternatives,
  type WaveStep,
} from '#core/health';

const NOW = Date.parse('2026-11-24T10:00:00Z');
const iso = (ms: number) => new Date(ms).toISOString();

const agent = (agent_id: string, extra: Partial<DispatchAgent> = {}): DispatchAgent => ({
  agent_id,
  categories: ['network'],
  status: 'HEALTHY',
  circuit: closedCircuit(),
  current_load: 0,
  max_concurrency: 4,
  ...extra,
});
const step = (extra: Partial<DispatchStep> = {}): DispatchStep => ({
  agent_id: 'a1',
  category: 'network',
  idempotent: false,
  ...extra,
});
const open = (): CircuitBreakerState => tripCircuit(closedCircuit(), NOW);

describe('heartbeatVerdict', () => {
  it('finds a serving agent STALE once its last heartbeat is exactly the threshold old', () => {
    // Prepare
    const beat = { status: 'HEALTHY' as const, last_heartbeat_at: iso(NOW - 90_000) };

    // Act / Assess
    expect(heartbeatVerdict(beat, NOW, 90_000)).toBe('STALE');
    expect(heartbeatVerdict(beat, NOW - 1, 90_000)).toBe('FRESH');
    expect(heartbeatVerdict({ ...beat, status: 'DEGRADED' }, NOW, 90_000)).toBe('STALE');
  });

  it('leaves agents that never heartbeat UNMONITORED, and agents already down alone', () => {
    // Act / Assess
    expect(heartbeatVerdict({ status: 'HEALTHY', last_heartbeat_at: null }, NOW, 1)).toBe('UNMONITORED');
    expect(heartbeatVerdict({ status: 'UNHEALTHY', last_heartbeat_at: iso(0) }, NOW, 1)).toBe('FRESH');
    expect(heartbeatVerdict({ status: 'OFFLINE', last_heartbeat_at: iso(0) }, NOW, 1)).toBe('FRESH');
  });
});

describe('decideDispatch', () => {
  it('sends to the assigned agent while it serves and its circuit is closed, with nothing to write', () => {
    // Prepare
    const own = agent('a1');

    // Act
    const decision = decideDispatch(step(), own, [agent('a2')], NOW);

    // Assess
    expect(decision).toEqual({
      kind: 'send',
      agent_id: 'a1',
      read: own.circuit,
      circuit: own.circuit,
      rerouted_from: null,
    });
  });

  it('sends to an agent with no registry record without judging it', () => {
    // Act / Assess
    expect(decideDispatch(step(), undefined, [], NOW)).toEqual({
      kind: 'send',
      agent_id: 'a1',
      circuit: undefined,
      rerouted_from: null,
    });
  });

  it('takes a HALF_OPEN probe slot on the assigned agent once the cooldown is over', () => {
    // Prepare
    const own = agent('a1', { circuit: open() });

    // Act
    const decision = decideDispatch(step(), own, [], NOW + DEFAULT_CIRCUIT_CONFIG.cooldown_ms);

    // Assess
    expect(decision).toMatchObject({
      kind: 'send',
      agent_id: 'a1',
      circuit: { state: 'HALF_OPEN', half_open_in_flight: 1 },
    });
  });

  it('moves an idempotent step off an agent that is down to the least loaded capable agent', () => {
    // Prepare
    const own = agent('a1', { status: 'UNHEALTHY' });
    const others = [
      agent('busy', { current_load: 3 }),
      agent('idle', { current_load: 0 }),
      agent('wrong-category', { categories: ['capacity'] }),
      agent('down', { status: 'OFFLINE' }),
    ];

    // Act
    const decision = decideDispatch(step({ idempotent: true }), own, others, NOW);

    // Assess
    expect(decision).toMatchObject({ kind: 'send', agent_id: 'idle', rerouted_from: 'a1' });
  });

  it('refuses a non-idempotent step on an agent that is down with Agent.Unavailable, even with spares', () => {
    // Act
    const decision = decideDispatch(step(), agent('a1', { status: 'UNHEALTHY' }), [agent('a2')], NOW);

    // Assess
    expect(decision).toMatchObject({ kind: 'refuse', error: 'Agent.Unavailable' });
  });

  it('refuses with Agent.CircuitOpen when the agent is up but its circuit is open and nobody else can take it', () => {
    // Act
    const nonIdempotent = decideDispatch(step(), agent('a1', { circuit: open() }), [agent('a2')], NOW);
    const noSpare = decideDispatch(step({ idempotent: true }), agent('a1', { circuit: open() }), [], NOW);

    // Assess
    expect(nonIdempotent).toMatchObject({ kind: 'refuse', error: 'Agent.CircuitOpen' });
    expect(noSpare).toMatchObject({ kind: 'refuse', error: 'Agent.CircuitOpen' });
  });

  it('never sends to an agent that is down or whose circuit refuses, whatever the fleet (property)', () => {
    const agentArb = fc.record({
      agent_id: fc.constantFrom('a1', 'a2', 'a3', 'a4'),
      status: fc.constantFrom('HEALTHY', 'DEGRADED', 'UNHEALTHY', 'OFFLINE' as const),
      opened: fc.boolean(),
      load: fc.integer({ min: 0, max: 4 }),
    });
    fc.assert(
      fc.property(
        fc.uniqueArray(agentArb, { selector: (a) => a.agent_id, maxLength: 4 }),
        fc.boolean(),
        (fleet, idempotent) => {
          // Prepare
          const agents = fleet.map((a) =>
            agent(a.agent_id, {
              status: a.status as DispatchAgent['status'],
              circuit: a.opened ? open() : closedCircuit(),
              current_load: a.load,
            }),
          );
          const [own, ...others] = agents;

          // Act
          const decision = decideDispatch(
            step({ idempotent, agent_id: own?.agent_id ?? 'a1' }),
            own,
            others,
            NOW,
          );

          // Assess
          if (decision.kind === 'refuse' || !own) return;
          const target = agents.find((a) => a.agent_id === decision.agent_id);
          expect(['HEALTHY', 'DEGRADED']).toContain(target?.status);
          expect(decision.circuit?.state).not.toBe('OPEN');
          if (decision.rerouted_from !== null) expect(idempotent).toBe(true);
        },
      ),
    );
  });
});

describe('rankAlternatives', () => {
  it('puts CLOSED circuits before HALF_OPEN ones, then lower load, then agent_id, and honours capabilities', () => {
    // Prepare
    const halfOpen = { ...open(), state: 'HALF_OPEN' as const };
    const agents = [
      agent('b', { current_load: 1 }),
      agent('a', { current_load: 1 }),
      agent('probe', { circuit: halfOpen }),
      agent('lazy', { current_load: 0, capabilities: ['dns'] }),
    ];

    // Act
    const all = rankAlternatives(step({ agent_id: 'x' }), agents, NOW).map((a) => a.agent_id);
    const dns = rankAlternatives(step({ agent_id: 'x', required_capabilities: ['dns'] }), agents, NOW).map(
      (a) => a.agent_id,
    );

    // Assess
    expect(all).toEqual(['lazy', 'a', 'b', 'probe']);
    expect(dns).toEqual(['lazy']);
  });
});

describe('orderWave', () => {
  const waveStep = (step_id: string, extra: Partial<WaveStep> = {}): WaveStep => ({
    step_id,
    issue_id: `${step_id}-issue`,
    agent_id: 'a1',
    depends_on: [],
    status: 'PENDING',
    ...extra,
  });

  it('starts the step that unblocks the most open work first, and forgets blockers already resolved', () => {
    // Prepare: b blocks c and d; a blocks nothing open.
    const steps = [
      waveStep('a'),
      waveStep('b'),
      waveStep('c', { depends_on: ['b'] }),
      waveStep('d', { depends_on: ['c'] }),
    ];
    const context = { now_ms: NOW, issues: new Map(), failing_agents: new Set<string>() };

    // Act
    const open = orderWave(['a', 'b'], steps, context).order;
    const resolved = orderWave(
      ['a', 'b'],
      steps.map((s) => (s.step_id === 'c' || s.step_id === 'd' ? { ...s, status: 'SUCCEEDED' } : s)),
      context,
    ).order;

    // Assess
    expect(open).toEqual(['b', 'a']);
    expect(resolved).toEqual(['a', 'b']);
  });

  it('returns a permutation of the wave that keeps the planned order among equal scores (property)', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.integer({ min: 0, max: 99 }), { minLength: 1, maxLength: 30 }), (ids) => {
        // Prepare
        const wave = ids.map((n) => `s${n}`);
        const steps = wave.map((id) => waveStep(id));

        // Act
        const { order } = orderWave(wave, steps, {
          now_ms: NOW,
          issues: new Map(),
          failing_agents: new Set(),
        });

        // Assess
        expect(order).toEqual(wave);
      }),
    );
  });
});
