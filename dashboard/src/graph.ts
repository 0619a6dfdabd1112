/**
 * A workflow's steps as a dependency graph: one column per wave (the plan's order of work),
 * steps stacked in plan order inside it, an arrow from each dependency to its dependant. Each
 * node is coloured by status and also says the status in words.
 */
import type { StepStatus, WorkflowStep } from '#core/wire';
import { h, s } from './dom';

const NODE_WIDTH = 176;
const NODE_HEIGHT = 48;
const COLUMN_GAP = 56;
const ROW_GAP = 16;
const MARGIN = 16;
const HEADER = 24;
const MAX_LABEL = 22;

/**
 * Every step status, in the order the legend lists them. Spelled out, because the browser
 * bundle takes only types from wire.ts (its value, the zod enum, would bring zod along); a
 * record keyed by the type makes the compiler refuse a status missing or unknown here (string
 * keys keep their order).
 */
const LISTED: Record<StepStatus, true> = {
  PENDING: true,
  DISPATCHED: true,
  RUNNING: true,
  SUCCEEDED: true,
  FAILED: true,
  TIMED_OUT: true,
  COMPENSATING: true,
  COMPENSATED: true,
  COMPENSATION_FAILED: true,
  SKIPPED: true,
};
export const STEP_STATUSES = Object.keys(LISTED) as readonly StepStatus[];

const shorten = (text: string): string =>
  text.length > MAX_LABEL ? `${text.slice(0, MAX_LABEL - 1)}…` : text;

interface Placed {
  readonly step: WorkflowStep;
  readonly x: number;
  readonly y: number;
}

/** Where each step goes: column by wave, row by plan order within the wave. */
export function layout(steps: readonly WorkflowStep[]): {
  placed: Map<string, Placed>;
  width: number;
  height: number;
} {
  const waves = [...new Set(steps.map((step) => step.wave))].sort((a, b) => a - b);
  const column = new Map(waves.map((wave, index) => [wave, index]));
  const rows = new Map<number, number>();
  const placed = new Map<string, Placed>();
  for (const step of steps) {
    const index = column.get(step.wave) ?? 0;
    const rowIndex = rows.get(step.wave) ?? 0;
    rows.set(step.wave, rowIndex + 1);
    placed.set(step.step_id, {
      step,
      x: MARGIN + index * (NODE_WIDTH + COLUMN_GAP),
      y: MARGIN + HEADER + rowIndex * (NODE_HEIGHT + ROW_GAP),
    });
  }
  const tallest = Math.max(1, ...rows.values());
  return {
    placed,
    width: MARGIN * 2 + Math.max(1, waves.length) * (NODE_WIDTH + COLUMN_GAP) - COLUMN_GAP,
    height: MARGIN * 2 + HEADER + tallest * (NODE_HEIGHT + ROW_GAP) - ROW_GAP,
  };
}

/** The graph as an SVG image whose title sums it up for screen readers (the steps table has the detail). */
export function renderGraph(steps: readonly WorkflowStep[]): SVGSVGElement {
  const { placed, width, height } = layout(steps);
  const counts = new Map<string, number>();
  for (const step of steps) counts.set(step.status, (counts.get(step.status) ?? 0) + 1);
  const summary = `Dependency graph of ${steps.length} step(s): ${[...counts].map(([status, n]) => `${n} ${status}`).join(', ')}.`;
  const svg = s('svg', {
    width,
    height,
    viewBox: `0 0 ${width} ${height}`,
    role: 'img',
    'aria-label': summary,
  });
  svg.append(
    s('title', {}, summary),
    s(
      'defs',
      {},
      s(
        'marker',
        {
          id: 'arrow',
          viewBox: '0 0 10 10',
          refX: 10,
          refY: 5,
          markerWidth: 7,
          markerHeight: 7,
          orient: 'auto',
        },
        s('path', { d: 'M0,0 L10,5 L0,10 z', fill: '#4b5563' }),
      ),
    ),
  );
  const waves = [...new Set(steps.map((step) => step.wave))].sort((a, b) => a - b);
  waves.forEach((wave, index) => {
    svg.append(
      s(
        'text',
        { class: 'wave', x: MARGIN + index * (NODE_WIDTH + COLUMN_GAP), y: MARGIN + 12 },
        `Wave ${wave + 1}`,
      ),
    );
  });
  for (const { step, x, y } of placed.values())
    for (const dependency of step.depends_on) {
      const from = placed.get(dependency);
      if (!from) continue;
      const x1 = from.x + NODE_WIDTH;
      const y1 = from.y + NODE_HEIGHT / 2;
      const y2 = y + NODE_HEIGHT / 2;
      const bend = Math.max(16, (x - x1) / 2);
      svg.append(
        s('path', {
          class: 'edge',
          d: `M${x1},${y1} C${x1 + bend},${y1} ${x - bend},${y2} ${x},${y2}`,
          'marker-end': 'url(#arrow)',
        }),
      );
    }
  for (const { step, x, y } of placed.values())
    svg.append(
      s(
        'g',
        { transform: `translate(${x},${y})` },
        s('title', {}, `${step.step_id}: ${step.status} (${step.agent_id})`),
        s('rect', {
          class: `s-${step.status}`,
          width: NODE_WIDTH,
          height: NODE_HEIGHT,
          rx: 6,
          'stroke-dasharray': step.status === 'SKIPPED' || step.status === 'PENDING' ? '5 3' : undefined,
        }),
        s('text', { x: 10, y: 19 }, shorten(step.step_id)),
        s('text', { x: 10, y: 37, 'font-weight': 700 }, step.status),
      ),
    );
  return svg;
}

/** The legend: every status with its colour and its word. */
export function renderLegend(): HTMLLIElement[] {
  return STEP_STATUSES.map((status) =>
    h(
      'li',
      {},
      h('span', {
        class: `swatch s-${status}${status === 'SKIPPED' || status === 'PENDING' ? ' dashed' : ''}`,
        'aria-hidden': 'true',
      }),
      status,
    ),
  );
}
