/**
 * The commands themselves: each reads its input, calls the target, and writes either one JSON
 * document (`--json`) or the human view. They return the exit code; failures throw (errors.ts).
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { ExecutionStatus } from '@aws-sdk/client-sfn';
import {
  AgentList,
  DeadLetterList,
  IntakeAccepted,
  ProgressReport,
  RedriveResult,
  WorkflowAccepted,
  type WorkflowDetail,
} from '#core/wire';
import type { Role } from '#shared/routes';
import { CLI_SUBJECT, type Context } from './context';
import { EXIT, type ExitCode, exitCodeForWorkflow, UsageError } from './errors';
import { describeExecution, executionHistory, isNotableHistoryEvent, listExecutions } from './executions';
import {
  colorStatus,
  renderAgents,
  renderDeadLetters,
  renderExecutions,
  renderHistory,
  renderProgress,
  renderRedrive,
} from './format';
import { detectRequestRoute } from './request-shape';
import { DEFAULT_TOKEN_TTL_SECONDS, mintToken } from './target';
import { followWorkflow } from './watch';
import { createWatchView } from './watch-view';

/**
 * A token lifetime: seconds (`900`) or a number with a unit (`15m`, `12h`, `7d`).
 * @example
 * parseTtl('15m'); // 900
 */
export function parseTtl(value: string): number {
  const match = /^(\d+)([smhd]?)$/.exec(value.trim());
  if (!match)
    throw new UsageError(`bad --ttl "${value}": use seconds or a number with s, m, h or d (e.g. 12h)`);
  const unit = { '': 1, s: 1, m: 60, h: 3600, d: 86_400 }[match[2] as '' | 's' | 'm' | 'h' | 'd'];
  return Number(match[1]) * unit;
}

/** A positive whole number option, e.g. `--max 20`. */
export function parseCount(name: string, value: string, max: number): number {
  if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > max)
    throw new UsageError(`bad ${name} "${value}": a whole number from 1 to ${max}`);
  return Number(value);
}

function decodeExpiry(token: string): string | null {
  try {
    const payload = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as {
      exp?: number;
    };
    return typeof payload.exp === 'number' ? new Date(payload.exp * 1000).toISOString() : null;
  } catch {
    return null;
  }
}

export async function tokenCommand(
  ctx: Context,
  options: { role: Role; sub?: string; ttl?: string },
): Promise<ExitCode> {
  const sub = options.sub ?? CLI_SUBJECT;
  const ttlSeconds = options.ttl === undefined ? DEFAULT_TOKEN_TTL_SECONDS : parseTtl(options.ttl);
  let token: string;
  try {
    token = await mintToken(ctx.aws, { sub, role: options.role, ttlSeconds });
  } catch (error) {
    if (error instanceof RangeError) throw new UsageError(`bad --ttl: ${error.message}`, { cause: error });
    throw error;
  }
  if (ctx.output.json)
    ctx.output.document({ token, role: options.role, sub, expires_at: decodeExpiry(token) });
  else ctx.output.out(token);
  return EXIT.OK;
}

function readRequestFile(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new UsageError(
      `cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
      {
        cause: error,
      },
    );
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new UsageError(`${file} is not JSON: ${(error as Error).message}`, { cause: error });
  }
}

export interface WatchOptions {
  readonly timeout?: string;
}

/** `--timeout` in seconds (or with a unit), as milliseconds. */
const timeoutMs = (options: WatchOptions) =>
  options.timeout === undefined ? undefined : parseTtl(options.timeout) * 1000;

export async function watchCommand(
  ctx: Context,
  workflowId: string,
  options: WatchOptions,
): Promise<ExitCode> {
  const limit = timeoutMs(options);
  const view = createWatchView(ctx.output);
  let final: WorkflowDetail | undefined;
  try {
    final = await followWorkflow({
      api: ctx.api,
      workflowId,
      webSocketUrl: ctx.outputs.WebSocketUrl,
      token: ctx.token,
      sink: view,
      timeoutMs: limit,
    });
    return exitCodeForWorkflow(final.status);
  } finally {
    view.end(final);
  }
}

export async function submitCommand(
  ctx: Context,
  file: string,
  options: WatchOptions & { idempotencyKey?: string; watch?: boolean },
): Promise<ExitCode> {
  const body = readRequestFile(file);
  const route = detectRequestRoute(body, file);
  const key = options.idempotencyKey ?? randomUUID();
  const answer = await ctx.api.call(route, { method: 'POST', body, headers: { 'idempotency-key': key } });
  const accepted = route === 'issues' ? IntakeAccepted.parse(answer) : WorkflowAccepted.parse(answer);
  const { output } = ctx;
  if (output.json) output.document(accepted);
  else {
    output.out(`workflow ${accepted.workflow_id} ${colorStatus(accepted.status, output.colors)}`);
    output.out(`execution ${accepted.execution_arn ?? output.colors.dim('none started')}`);
    if ('assignment' in accepted) {
      const { assigned_agents, unassigned, estimated_duration } = accepted.assignment;
      const issues = Object.values(assigned_agents).reduce((sum, ids) => sum + ids.length, 0);
      output.out(
        `assigned ${issues} issue${issues === 1 ? '' : 's'} to ${Object.keys(assigned_agents).length} agents, estimated ${estimated_duration}`,
      );
      for (const entry of unassigned)
        output.out(output.colors.yellow(`unassigned ${entry.issue_id}: ${entry.reason} (${entry.detail})`));
    }
    if (!options.watch)
      output.out(output.colors.dim(`follow it: npx orchestrator watch ${accepted.workflow_id}`));
  }
  if (!options.watch) return EXIT.OK;
  return watchCommand(ctx, accepted.workflow_id, options);
}

export async function statusCommand(ctx: Context, workflowId: string | undefined): Promise<ExitCode> {
  const path = workflowId === undefined ? 'progress' : `workflows/${encodeURIComponent(workflowId)}/progress`;
  const report = ProgressReport.parse(await ctx.api.call(path));
  if (ctx.output.json) ctx.output.document(report);
  else {
    ctx.output.out(workflowId === undefined ? 'all workflows at work' : `workflow ${workflowId}`);
    ctx.output.out(renderProgress(report, ctx.output.colors, new Date()));
  }
  return EXIT.OK;
}

export async function agentsCommand(ctx: Context): Promise<ExitCode> {
  const list = AgentList.parse(await ctx.api.call('agents'));
  if (ctx.output.json) ctx.output.document(list);
  else ctx.output.out(renderAgents(list.agents, ctx.output.colors, new Date()));
  return EXIT.OK;
}

export async function executionsListCommand(
  ctx: Context,
  options: { status?: ExecutionStatus; max: string },
): Promise<ExitCode> {
  const rows = await listExecutions(ctx.aws, {
    status: options.status,
    max: parseCount('--max', options.max, 1000),
  });
  if (ctx.output.json) ctx.output.document({ executions: rows });
  else ctx.output.out(renderExecutions(rows, ctx.output.colors));
  return EXIT.OK;
}

export async function executionsDescribeCommand(ctx: Context, ref: string): Promise<ExitCode> {
  const execution = await describeExecution(ctx.aws, ref);
  const { output } = ctx;
  if (output.json) output.document(execution);
  else {
    output.out(`execution ${execution.executionArn}`);
    output.out(`status    ${colorStatus(execution.status, output.colors)}`);
    output.out(`started   ${execution.startDate ?? '-'}`);
    output.out(`stopped   ${execution.stopDate ?? '-'}`);
    if (execution.error)
      output.out(output.colors.red(`error     ${execution.error}: ${execution.cause ?? ''}`));
    if (execution.output !== null) output.out(`output    ${JSON.stringify(execution.output).slice(0, 500)}`);
  }
  return EXIT.OK;
}

export async function executionsHistoryCommand(
  ctx: Context,
  ref: string,
  options: { all?: boolean },
): Promise<ExitCode> {
  const rows = await executionHistory(ctx.aws, ref);
  const shown = options.all ? rows : rows.filter(isNotableHistoryEvent);
  if (ctx.output.json) ctx.output.document({ events: shown });
  else ctx.output.out(renderHistory(shown, ctx.output.colors));
  return EXIT.OK;
}

async function controlCommand(
  ctx: Context,
  action: 'rollback' | 'cancel',
  workflowId: string,
  body: Record<string, string | undefined>,
  options: WatchOptions & { watch?: boolean },
): Promise<ExitCode> {
  const accepted = WorkflowAccepted.parse(
    await ctx.api.call(`workflows/${encodeURIComponent(workflowId)}/${action}`, { method: 'POST', body }),
  );
  if (ctx.output.json) ctx.output.document(accepted);
  else
    ctx.output.out(
      `${action} of ${accepted.workflow_id} accepted: ${colorStatus(accepted.status, ctx.output.colors)}, execution ${accepted.execution_arn}`,
    );
  if (!options.watch) return EXIT.OK;
  return watchCommand(ctx, workflowId, options);
}

export const rollbackCommand = (
  ctx: Context,
  workflowId: string,
  options: WatchOptions & { reason: string; failurePoint?: string; watch?: boolean },
) =>
  controlCommand(
    ctx,
    'rollback',
    workflowId,
    { reason: options.reason, failure_point: options.failurePoint },
    options,
  );

export const cancelCommand = (
  ctx: Context,
  workflowId: string,
  options: WatchOptions & { reason?: string; watch?: boolean },
) => controlCommand(ctx, 'cancel', workflowId, { reason: options.reason }, options);

export async function dlqListCommand(
  ctx: Context,
  options: { queue?: string; limit?: string },
): Promise<ExitCode> {
  const limit = options.limit === undefined ? undefined : parseCount('--limit', options.limit, 10);
  const list = DeadLetterList.parse(await ctx.api.call('dlq', { query: { queue: options.queue, limit } }));
  if (ctx.output.json) ctx.output.document(list);
  else ctx.output.out(renderDeadLetters(list, ctx.output.colors));
  return EXIT.OK;
}

export async function dlqRedriveCommand(ctx: Context, options: { queue?: string }): Promise<ExitCode> {
  const result = RedriveResult.parse(
    await ctx.api.call('dlq/redrive', {
      method: 'POST',
      body: options.queue ? { queue: options.queue } : {},
    }),
  );
  if (ctx.output.json) ctx.output.document(result);
  else ctx.output.out(renderRedrive(result, ctx.output.colors));
  return EXIT.OK;
}
