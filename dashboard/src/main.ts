/**
 * The live dashboard. Signs in with a token kept in sessionStorage only, then shows the newest
 * workflows, the chosen workflow's steps as a graph with completion and ETA, the agents, the
 * dead-letter queues and recent events. Events from the progress socket trigger refreshes; a
 * stack without a socket (`-c websocket=false`) is polled instead.
 */
import './styles.css';
import type {
  AgentList,
  DeadLetterList,
  DomainEvent,
  ProgressReport,
  WorkflowDetail,
  WorkflowList,
  WorkflowSummary,
} from '#core/wire';
import { ApiCallError, apiBase, createApi } from './api';
import { badge, byId, clock, fillRows, h, row } from './dom';
import { renderGraph, renderLegend } from './graph';
import { ProgressSocket, reachableSocketUrl } from './socket';

const TOKEN_KEY = 'master-orchestrator.token';
const LIST_LIMIT = 25;
const MAX_EVENTS = 50;
/** Polling periods: workflows without a socket, and the slow refresh of everything else. */
const FAST_POLL_MS = 2000;
const SLOW_POLL_MS = 15_000;

const configuredSocket =
  document.querySelector<HTMLMetaElement>('meta[name="orchestrator-websocket-url"]')?.content ?? '';
const socketUrl = reachableSocketUrl(configuredSocket, new URL(location.href));
let token = sessionStorage.getItem(TOKEN_KEY) ?? '';
const api = createApi(apiBase(location.href), () => token);

const ui = {
  connection: byId<HTMLParagraphElement>('connection'),
  signOut: byId<HTMLButtonElement>('sign-out'),
  signIn: byId<HTMLElement>('sign-in'),
  form: byId<HTMLFormElement>('token-form'),
  tokenInput: byId<HTMLInputElement>('token'),
  tokenError: byId<HTMLParagraphElement>('token-error'),
  board: byId<HTMLDivElement>('board'),
  workflows: byId<HTMLTableElement>('workflows'),
  workflowsEmpty: byId<HTMLParagraphElement>('workflows-empty'),
  detailTitle: byId<HTMLHeadingElement>('detail-title'),
  detailEmpty: byId<HTMLParagraphElement>('detail-empty'),
  detailBody: byId<HTMLDivElement>('detail-body'),
  detailStatus: byId<HTMLSpanElement>('detail-status'),
  detailProgress: byId<HTMLProgressElement>('detail-progress'),
  detailPercent: byId<HTMLSpanElement>('detail-percent'),
  detailEta: byId<HTMLElement>('detail-eta'),
  detailAgents: byId<HTMLElement>('detail-agents'),
  graph: byId<HTMLDivElement>('graph'),
  legend: byId<HTMLUListElement>('legend'),
  steps: byId<HTMLTableElement>('steps'),
  agents: byId<HTMLTableElement>('agents'),
  dlq: byId<HTMLTableElement>('dlq'),
  dlqNote: byId<HTMLParagraphElement>('dlq-note'),
  events: byId<HTMLTableElement>('events'),
  eventsNote: byId<HTMLParagraphElement>('events-note'),
  announcer: byId<HTMLParagraphElement>('announcer'),
};
const body = (table: HTMLTableElement): HTMLTableSectionElement => table.tBodies[0] ?? table.createTBody();

let selected: string | undefined;
let selectedStatus: string | undefined;
let socket: ProgressSocket | undefined;
let timers: ReturnType<typeof setInterval>[] = [];
const events: DomainEvent[] = [];
const eventKeys = new Set<string>();
const rows = new Map<string, { row: HTMLTableRowElement; button: HTMLButtonElement }>();

function announce(text: string): void {
  ui.announcer.textContent = text;
}

/** Runs `task` at most once per `ms`, the last call winning. */
function debounce(task: () => Promise<void>, ms: number): () => void {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return () => {
    clearTimeout(timer);
    timer = setTimeout(() => void task(), ms);
  };
}

/** A failed call: a bad token signs out; anything else shows where it happened. */
function failed(where: string, error: unknown): void {
  if (error instanceof ApiCallError && error.status === 401) {
    signOut(`The API refused the token (${error.code}). Enter a valid one.`);
    return;
  }
  ui.connection.textContent = `${where} failed: ${error instanceof Error ? error.message : String(error)}`;
}

// ---------------------------------------------------------------- workflows

function workflowRow(workflow: WorkflowSummary): { row: HTMLTableRowElement; button: HTMLButtonElement } {
  const existing = rows.get(workflow.workflow_id);
  const button =
    existing?.button ??
    h(
      'button',
      { type: 'button', class: 'link', 'data-workflow-id': workflow.workflow_id },
      workflow.workflow_id,
    );
  if (!existing) button.addEventListener('click', () => select(workflow.workflow_id));
  button.setAttribute('aria-current', String(workflow.workflow_id === selected));
  const cells: (Node | string)[] = [
    button,
    badge(workflow.status),
    `${workflow.completion_percentage}%`,
    `${workflow.steps_succeeded}/${workflow.step_count}`,
    clock(workflow.created_at),
  ];
  const tr = existing?.row ?? h('tr', { 'data-workflow-id': workflow.workflow_id });
  // Cells are updated in place: the row, and a focused button in it, stay where they are.
  cells.forEach((cell, index) => {
    const td = tr.cells[index] ?? tr.insertCell();
    if (index === 0) {
      if (td.firstChild !== button) td.replaceChildren(button);
    } else td.replaceChildren(cell);
  });
  return { row: tr, button };
}

async function refreshWorkflows(): Promise<void> {
  try {
    const { workflows } = await api.get<WorkflowList>(`workflows?limit=${LIST_LIMIT}`);
    const tbody = body(ui.workflows);
    const keep = new Set(workflows.map((w) => w.workflow_id));
    for (const [id, entry] of rows)
      if (!keep.has(id)) {
        entry.row.remove();
        rows.delete(id);
      }
    workflows.forEach((workflow, index) => {
      const entry = workflowRow(workflow);
      rows.set(workflow.workflow_id, entry);
      // Only rows out of place move (new ones go in at the top), so focus is not lost.
      if (tbody.rows[index] !== entry.row) tbody.insertBefore(entry.row, tbody.rows[index] ?? null);
    });
    ui.workflowsEmpty.hidden = workflows.length > 0;
  } catch (error) {
    failed('Listing workflows', error);
  }
}

// ---------------------------------------------------------------- one workflow

function select(workflowId: string): void {
  selected = workflowId;
  selectedStatus = undefined;
  for (const [id, entry] of rows) entry.button.setAttribute('aria-current', String(id === workflowId));
  ui.detailTitle.textContent = `Workflow ${workflowId}`;
  void refreshDetail().then(() => {
    const lastSeq = Math.max(0, ...events.filter((e) => e.workflow_id === workflowId).map((e) => e.seq));
    socket?.watch(workflowId, lastSeq);
  });
}

function eta(progress: ProgressReport): string {
  if (!progress.eta_completion) return '—';
  const seconds = Math.round((Date.parse(progress.eta_completion) - Date.now()) / 1000);
  return `${clock(progress.eta_completion)} (${seconds > 0 ? `in ${seconds} s` : 'any moment'})`;
}

async function refreshDetail(): Promise<void> {
  const workflowId = selected;
  if (!workflowId) return;
  try {
    const [detail, progress] = await Promise.all([
      api.get<WorkflowDetail>(`workflows/${encodeURIComponent(workflowId)}`),
      api.get<ProgressReport>(`workflows/${encodeURIComponent(workflowId)}/progress`),
    ]);
    if (workflowId !== selected) return;
    ui.detailEmpty.hidden = true;
    ui.detailBody.hidden = false;
    ui.detailStatus.textContent = detail.status;
    ui.detailStatus.className = `badge s-${detail.status}`;
    const percent = Math.max(detail.completion_percentage, progress.completion_percentage);
    ui.detailProgress.value = percent;
    ui.detailPercent.textContent = `${percent}% complete`;
    ui.detailEta.textContent = eta(progress);
    ui.detailAgents.textContent = progress.active_agents.join(', ') || 'none';
    ui.graph.replaceChildren(renderGraph(detail.steps));
    fillRows(
      body(ui.steps),
      detail.steps.map((step) =>
        row(
          step.step_id,
          String(step.wave + 1),
          step.depends_on.join(', ') || '—',
          step.agent_id,
          badge(step.status),
          String(step.attempts),
        ),
      ),
    );
    if (selectedStatus !== detail.status) {
      if (selectedStatus !== undefined) announce(`Workflow ${workflowId} is now ${detail.status}`);
      selectedStatus = detail.status;
    }
  } catch (error) {
    failed(`Reading workflow ${workflowId}`, error);
  }
}

// ---------------------------------------------------------------- agents, dead letters, events

async function refreshAgents(): Promise<void> {
  try {
    const { agents } = await api.get<AgentList>('agents');
    fillRows(
      body(ui.agents),
      agents.map((agent) =>
        row(
          agent.agent_id,
          badge(agent.status),
          badge(agent.circuit_state),
          `${agent.current_load}/${agent.max_concurrency}`,
          clock(agent.last_heartbeat_at),
        ),
      ),
    );
  } catch (error) {
    failed('Listing agents', error);
  }
}

async function refreshDeadLetters(): Promise<void> {
  try {
    const { queues } = await api.get<DeadLetterList>('dlq?limit=1');
    ui.dlq.hidden = false;
    ui.dlqNote.textContent = `${queues.reduce((sum, q) => sum + q.approximate_count, 0)} dead letter(s) in ${queues.length} queue(s).`;
    fillRows(
      body(ui.dlq),
      queues.map((q) =>
        row(q.queue, String(q.approximate_count), q.redrivable ? 'yes' : 'no (needs a person)'),
      ),
    );
  } catch (error) {
    if (error instanceof ApiCallError && error.status === 403) {
      ui.dlqNote.textContent =
        'Needs the operator or admin role: this token may not read the dead-letter queues.';
      ui.dlq.hidden = true;
      return;
    }
    failed('Reading dead letters', error);
  }
}

function renderEvents(): void {
  fillRows(
    body(ui.events),
    events.map((e) =>
      row(clock(e.at), e.type, e.workflow_id, e.step_id ?? '—', badge(e.status), String(e.seq)),
    ),
  );
}

const refreshWorkflowsSoon = debounce(refreshWorkflows, 300);
const refreshDetailSoon = debounce(refreshDetail, 150);

function onEvent(event: DomainEvent): void {
  const key = `${event.workflow_id}#${event.seq}`;
  if (eventKeys.has(key)) return;
  eventKeys.add(key);
  events.unshift(event);
  // Newest first; within one workflow the stream's order (seq) breaks ties of the same instant.
  events.sort((a, b) => b.at.localeCompare(a.at) || (a.workflow_id === b.workflow_id ? b.seq - a.seq : 0));
  for (const dropped of events.splice(MAX_EVENTS)) eventKeys.delete(`${dropped.workflow_id}#${dropped.seq}`);
  renderEvents();
  socket?.seen(event.workflow_id, event.seq);
  refreshWorkflowsSoon();
  if (event.workflow_id === selected) refreshDetailSoon();
}

// ---------------------------------------------------------------- session

function refreshAll(): void {
  void refreshWorkflows();
  void refreshDetail();
  void refreshAgents();
  void refreshDeadLetters();
}

function start(): void {
  ui.signIn.hidden = true;
  ui.board.hidden = false;
  ui.signOut.hidden = false;
  if (ui.legend.childElementCount === 0) ui.legend.append(...renderLegend());
  refreshAll();
  timers.push(setInterval(refreshAll, SLOW_POLL_MS));
  if (socketUrl) {
    ui.eventsNote.textContent = 'Live from the progress stream.';
    socket = new ProgressSocket(socketUrl, token, {
      onEvent,
      onState: (state) => {
        ui.connection.textContent =
          state === 'open' ? 'Live: following the progress stream' : `Progress stream ${state}…`;
        // After a reconnect, catch up on what the socket could not replay.
        if (state === 'open') refreshAll();
      },
    });
  } else {
    ui.connection.textContent = `Polling every ${FAST_POLL_MS / 1000} s (this stack has no progress stream)`;
    ui.eventsNote.textContent =
      'This stack has no progress stream, so no live events: the page polls instead.';
    timers.push(
      setInterval(() => {
        void refreshWorkflows();
        void refreshDetail();
      }, FAST_POLL_MS),
    );
  }
}

function signOut(message = ''): void {
  sessionStorage.removeItem(TOKEN_KEY);
  token = '';
  socket?.close();
  socket = undefined;
  for (const timer of timers) clearInterval(timer);
  timers = [];
  ui.board.hidden = true;
  ui.signIn.hidden = false;
  ui.signOut.hidden = true;
  ui.connection.textContent = 'Not signed in';
  ui.tokenError.textContent = message;
  ui.tokenInput.focus();
}

ui.form.addEventListener('submit', (submitted) => {
  submitted.preventDefault();
  const value = ui.tokenInput.value.trim();
  if (value === '') {
    ui.tokenError.textContent = 'Enter a token.';
    return;
  }
  token = value;
  sessionStorage.setItem(TOKEN_KEY, token);
  ui.tokenInput.value = '';
  ui.tokenError.textContent = '';
  start();
  byId<HTMLElement>('workflows-title').setAttribute('tabindex', '-1');
  byId<HTMLElement>('workflows-title').focus();
});
ui.signOut.addEventListener('click', () => signOut());

if (token) start();
