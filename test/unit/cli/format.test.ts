import type { DomainEvent, WorkflowDetail } from '#core/wire';
import {
  colorEnabled,
  colorStatus,
  formatAgo,
  formatEta,
  formatEvent,
  palette,
  renderAgents,
  renderBar,
  renderOutcome,
  renderTable,
  stripAnsi,
  visibleLength,
} from '../../../cli/format';

const plain = palette(false);
const colored = palette(true);
const NOW = new Date('2026-11-24T10:00:00Z');

describe('colorEnabled', () => {
  it('turns colours off with NO_COLOR even on a TTY, and off when stdout is not a TTY', () => {
    expect(colorEnabled({ NO_COLOR: '1' }, true)).toBe(false);
    expect(colorEnabled({}, false)).toBe(false);
    expect(colorEnabled({ TERM: 'dumb' }, true)).toBe(false);
  });

  it('turns colours on for a TTY, or with FORCE_COLOR', () => {
    expect(colorEnabled({}, true)).toBe(true);
    expect(colorEnabled({ FORCE_COLOR: '1' }, false)).toBe(true);
    expect(colorEnabled({ FORCE_COLOR: '0' }, false)).toBe(false);
  });
});

describe('renderTable', () => {
  it('aligns columns by visible width, with no escape codes when colours are off', () => {
    // Act
    const table = renderTable(
      ['A', 'STATUS', 'N'],
      [
        ['x', colorStatus('SUCCEEDED', plain), '1'],
        ['long', 'FAILED', '22'],
      ],
      plain,
    );

    // Assess
    expect(table).toBe(['A     STATUS     N', 'x     SUCCEEDED  1', 'long  FAILED     22'].join('\n'));
    expect(table).not.toContain('\u001b[');
  });

  it('keeps the alignment when cells are coloured', () => {
    const table = renderTable(
      ['S', 'N'],
      [
        [colorStatus('FAILED', colored), '1'],
        ['RUNNING', '2'],
      ],
      colored,
    );

    const lines = table.split('\n').map((line) => stripAnsi(line));
    expect(lines).toEqual(['S        N', 'FAILED   1', 'RUNNING  2']);
    expect(table).toContain('\u001b[31mFAILED\u001b[39m');
    expect(visibleLength(colorStatus('FAILED', colored))).toBe(6);
  });
});

describe('progress formatting', () => {
  it.each([
    [0, '[--------------------]   0%'],
    [50, '[##########----------]  50%'],
    [100, '[####################] 100%'],
    [140, '[####################] 100%'],
  ])('draws %d%% as a bar', (percentage, bar) => {
    expect(renderBar(percentage)).toBe(bar);
  });

  it('says how long is left, and - when unknown or past', () => {
    expect(formatEta('2026-11-24T10:02:05Z', NOW)).toBe('2m05s');
    expect(formatEta('2026-11-24T10:00:09Z', NOW)).toBe('9s');
    expect(formatEta('2026-11-24T12:30:00Z', NOW)).toBe('2h30m');
    expect(formatEta(null, NOW)).toBe('-');
    expect(formatEta('2026-11-24T09:00:00Z', NOW)).toBe('-');
  });

  it('says how long ago a heartbeat was', () => {
    expect(formatAgo(null, NOW)).toBe('never');
    expect(formatAgo('2026-11-24T09:59:48Z', NOW)).toBe('12s ago');
    expect(formatAgo('2026-11-24T09:55:00Z', NOW)).toBe('5m ago');
  });

  it('writes one plain line per event', () => {
    // Prepare
    const event: DomainEvent = {
      type: 'step.failed',
      workflow_id: 'wf-1',
      step_id: 's1',
      agent_id: 'reference-network',
      status: 'FAILED',
      completion_percentage: 33.4,
      eta_completion: null,
      seq: 7,
      at: '2026-11-24T10:00:00Z',
      error: 'Agent.Permanent',
    };

    // Act
    const line = formatEvent(event, plain);

    // Assess
    expect(line).toBe('#  7 step.failed        s1 FAILED 33% agent=reference-network error=Agent.Permanent');
  });

  it('closes a watch with the status, the bar and the steps that succeeded', () => {
    const detail = {
      workflow_id: 'wf-1',
      status: 'ROLLED_BACK',
      completion_percentage: 50,
      steps: [{ status: 'SUCCEEDED' }, { status: 'COMPENSATED' }],
    } as unknown as WorkflowDetail;

    expect(renderOutcome(detail, plain)).toBe(
      'workflow wf-1 ROLLED_BACK [##########----------]  50% 1/2 steps succeeded',
    );
  });
});

describe('renderAgents', () => {
  it('shows status, circuit, load over capacity and the last heartbeat', () => {
    const table = renderAgents(
      [
        {
          agent_id: 'reference-network',
          categories: ['network'],
          max_concurrency: 4,
          status: 'UNHEALTHY',
          circuit_state: 'OPEN',
          current_load: 1,
          registered_at: '2026-11-24T09:00:00Z',
          updated_at: '2026-11-24T09:00:00Z',
          last_heartbeat_at: '2026-11-24T09:58:00Z',
          version: 3,
        },
      ],
      plain,
      NOW,
    );

    expect(table.split('\n')).toEqual([
      'AGENT              STATUS     CIRCUIT  LOAD  CATEGORIES  LAST HEARTBEAT',
      'reference-network  UNHEALTHY  OPEN     1/4   network     2m ago',
    ]);
  });

  it('says so when no agent is registered', () => {
    expect(renderAgents([], plain, NOW)).toBe('no agents registered');
  });
});
