/**
 * Pure formatting: colours, tables, progress lines and the human views of API answers. Nothing
 * here writes; commands pass the text to the output.
 */
import pc from 'picocolors';
import type {
  AgentRecord,
  DeadLetterList,
  DomainEvent,
  ProgressReport,
  RedriveResult,
  WorkflowDetail,
} from '#core/wire';

export type Palette = ReturnType<typeof pc.createColors>;

/**
 * Colours on a terminal only: NO_COLOR (any value) turns them off, FORCE_COLOR (not `0`) on,
 * and otherwise they follow whether stdout is a TTY (and TERM is not `dumb`).
 */
export function colorEnabled(env: Record<string, string | undefined>, isTTY: boolean): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== '0' && env.FORCE_COLOR !== 'false') return true;
  return isTTY && env.TERM !== 'dumb';
}

export function palette(enabled: boolean): Palette {
  return pc.createColors(enabled);
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: ANSI escape sequences are what this strips.
const ANSI = /\u001b\[[0-9;]*m/g;

export function stripAnsi(text: string): string {
  return text.replace(ANSI, '');
}

export function visibleLength(text: string): number {
  return stripAnsi(text).length;
}

function pad(text: string, width: number): string {
  return text + ' '.repeat(Math.max(0, width - visibleLength(text)));
}

/** Left-aligned columns, two spaces apart, the header bold; no trailing spaces. */
export function renderTable(
  headers: readonly string[],
  rows: readonly (readonly string[])[],
  colors: Palette,
): string {
  const widths = headers.map((header, i) =>
    Math.max(header.length, ...rows.map((row) => visibleLength(row[i] ?? ''))),
  );
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, i) => (i === cells.length - 1 ? cell : pad(cell, widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [colors.bold(line(headers)), ...rows.map(line)].join('\n');
}

const GOOD = new Set(['SUCCEEDED', 'HEALTHY', 'CLOSED', 'COMPENSATED']);
const BAD = new Set([
  'FAILED',
  'TIMED_OUT',
  'ROLLBACK_FAILED',
  'COMPENSATION_FAILED',
  'UNHEALTHY',
  'OFFLINE',
  'OPEN',
  'ABORTED',
]);
const BUSY = new Set(['RUNNING', 'DISPATCHED', 'ROLLING_BACK', 'COMPENSATING', 'HALF_OPEN', 'DEGRADED']);

/** A C5 status word (or an agent or SFN status), coloured by what it means. */
export function colorStatus(status: string, colors: Palette): string {
  if (GOOD.has(status)) return colors.green(status);
  if (BAD.has(status)) return colors.red(status);
  if (BUSY.has(status)) return colors.cyan(status);
  if (status === 'ROLLED_BACK' || status === 'CANCELLED') return colors.yellow(status);
  return colors.dim(status);
}

/** `[##########----------]  50%`, for logs and the final line (the live bar is cli-progress). */
export function renderBar(percentage: number, width = 20): string {
  const clamped = Math.max(0, Math.min(100, percentage));
  const filled = Math.round((clamped / 100) * width);
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${String(Math.round(clamped)).padStart(3)}%`;
}

/** Time left until `eta` from `now`, as `2m05s`, or `-` when unknown or past. */
export function formatEta(eta: string | null | undefined, now: Date): string {
  if (!eta) return '-';
  const ms = Date.parse(eta) - now.getTime();
  if (!Number.isFinite(ms) || ms <= 0) return '-';
  const seconds = Math.round(ms / 1000);
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m${String(seconds % 60).padStart(2, '0')}s`;
  return `${Math.floor(minutes / 60)}h${String(minutes % 60).padStart(2, '0')}m`;
}

/** How long ago `at` was, as `12s ago`, or `never`. */
export function formatAgo(at: string | null | undefined, now: Date): string {
  if (!at) return 'never';
  const seconds = Math.max(0, Math.round((now.getTime() - Date.parse(at)) / 1000));
  if (seconds < 60) return `${seconds}s ago`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m ago`;
  if (seconds < 86_400) return `${Math.floor(seconds / 3600)}h ago`;
  return `${Math.floor(seconds / 86_400)}d ago`;
}

/** One line per domain event, for a log or a non-TTY stdout. */
export function formatEvent(event: DomainEvent, colors: Palette): string {
  const subject = event.step_id ?? event.workflow_id;
  const extra = [
    event.agent_id ? `agent=${event.agent_id}` : '',
    event.attempt !== undefined ? `attempt=${event.attempt}` : '',
    event.error ? `error=${event.error}` : '',
  ].filter((part) => part !== '');
  return [
    colors.dim(`#${String(event.seq).padStart(3)}`),
    event.type.padEnd(18),
    subject,
    colorStatus(event.status, colors),
    `${Math.round(event.completion_percentage)}%`,
    ...extra,
  ].join(' ');
}

export function renderSteps(detail: WorkflowDetail, colors: Palette): string {
  return renderTable(
    ['STEP', 'WAVE', 'AGENT', 'STATUS', 'ATTEMPTS', 'ERROR'],
    detail.steps.map((step) => [
      step.step_id,
      String(step.wave),
      step.agent_id,
      colorStatus(step.status, colors),
      String(step.attempts),
      step.error ? `${step.error.code}` : '',
    ]),
    colors,
  );
}

/** The closing line of `watch`: status, bar and counts. */
export function renderOutcome(detail: WorkflowDetail, colors: Palette): string {
  const done = detail.steps.filter((step) => step.status === 'SUCCEEDED').length;
  return `workflow ${detail.workflow_id} ${colorStatus(detail.status, colors)} ${renderBar(detail.completion_percentage)} ${done}/${detail.steps.length} steps succeeded`;
}

export function renderProgress(report: ProgressReport, colors: Palette, now: Date): string {
  const list = (ids: readonly string[]) => (ids.length === 0 ? colors.dim('none') : ids.join(', '));
  return [
    `completion       ${renderBar(report.completion_percentage)}`,
    `active agents    ${report.active_agents.length}: ${list(report.active_agents)}`,
    `resolved issues  ${report.resolved_issues.length}: ${list(report.resolved_issues)}`,
    `blocking issues  ${report.blocking_issues.length}: ${report.blocking_issues.length > 0 ? colors.red(report.blocking_issues.join(', ')) : colors.dim('none')}`,
    `ETA              ${report.eta_completion ? `${report.eta_completion} (in ${formatEta(report.eta_completion, now)})` : colors.dim('-')}`,
  ].join('\n');
}

export function renderAgents(agents: readonly AgentRecord[], colors: Palette, now: Date): string {
  if (agents.length === 0) return colors.dim('no agents registered');
  return renderTable(
    ['AGENT', 'STATUS', 'CIRCUIT', 'LOAD', 'CATEGORIES', 'LAST HEARTBEAT'],
    agents.map((agent) => [
      agent.agent_id,
      colorStatus(agent.status, colors),
      colorStatus(agent.circuit_state, colors),
      `${agent.current_load}/${agent.max_concurrency}`,
      agent.categories.join(','),
      formatAgo(agent.last_heartbeat_at, now),
    ]),
    colors,
  );
}

export function renderDeadLetters(list: DeadLetterList, colors: Palette): string {
  if (list.queues.length === 0) return colors.dim('no dead-letter queues');
  const table = renderTable(
    ['QUEUE', 'MESSAGES', 'REDRIVABLE', 'PEEKED'],
    list.queues.map((queue) => [
      queue.queue,
      queue.approximate_count > 0 ? colors.yellow(String(queue.approximate_count)) : '0',
      queue.redrivable ? 'yes' : 'no',
      queue.messages.map((message) => message.message_id).join(', '),
    ]),
    colors,
  );
  const total = list.queues.reduce((sum, queue) => sum + queue.approximate_count, 0);
  return `${table}\n${total} dead letter${total === 1 ? '' : 's'} in ${list.queues.length} queue${list.queues.length === 1 ? '' : 's'}`;
}

export function renderRedrive(result: RedriveResult, colors: Palette): string {
  if (result.moves.length === 0) return colors.dim('nothing to redrive');
  return renderTable(
    ['QUEUE', 'MESSAGES', 'TASK'],
    result.moves.map((move) => [move.queue, String(move.approximate_count), move.task_handle]),
    colors,
  );
}

/** A Step Functions execution as `executions` lists it (dates as RFC 3339). */
export interface ExecutionRow {
  readonly executionArn: string;
  readonly name: string;
  readonly status: string;
  readonly startDate: string | null;
  readonly stopDate: string | null;
}

export function renderExecutions(rows: readonly ExecutionRow[], colors: Palette): string {
  if (rows.length === 0) return colors.dim('no executions');
  return renderTable(
    ['NAME', 'STATUS', 'STARTED', 'STOPPED'],
    rows.map((row) => [row.name, colorStatus(row.status, colors), row.startDate ?? '-', row.stopDate ?? '-']),
    colors,
  );
}

/** One history event, summarized: what state, and why it failed if it did. */
export interface HistoryRow {
  readonly id: number;
  readonly timestamp: string | null;
  readonly type: string;
  readonly state?: string;
  readonly error?: string;
  readonly cause?: string;
}

export function renderHistory(rows: readonly HistoryRow[], colors: Palette): string {
  return renderTable(
    ['ID', 'TIME', 'EVENT', 'STATE', 'ERROR'],
    rows.map((row) => [
      String(row.id),
      row.timestamp ?? '-',
      /Failed|TimedOut|Aborted/.test(row.type) ? colors.red(row.type) : row.type,
      row.state ?? '',
      row.error ? `${row.error}${row.cause ? `: ${row.cause.slice(0, 80)}` : ''}` : '',
    ]),
    colors,
  );
}
