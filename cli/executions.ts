/**
 * `executions`: the recovery state machine's executions through the Step Functions API, and
 * the pure summaries of what it answers.
 */
import {
  DescribeExecutionCommand,
  type ExecutionStatus,
  type HistoryEvent,
  paginateGetExecutionHistory,
  paginateListExecutions,
} from '@aws-sdk/client-sfn';
import { CliError, EXIT, TargetError } from './errors';
import type { ExecutionRow, HistoryRow } from './format';
import { type AwsClients, asAwsTargetError } from './target';

export const EXECUTION_STATUSES = [
  'RUNNING',
  'SUCCEEDED',
  'FAILED',
  'TIMED_OUT',
  'ABORTED',
  'PENDING_REDRIVE',
] as const;

/**
 * An execution ARN as given, or the ARN of the execution named after a workflow id
 * (intake and POST workflows name the execution after the workflow).
 * @example
 * executionArnFor('wf-1', 'arn:aws:states:us-east-1:1:stateMachine:Recovery'); // 'arn:aws:states:us-east-1:1:execution:Recovery:wf-1'
 */
export function executionArnFor(ref: string, stateMachineArn: string | undefined): string {
  if (ref.startsWith('arn:')) return ref;
  if (!stateMachineArn)
    throw new TargetError('the outputs have no RecoveryStateMachineArn: pass the execution ARN instead');
  return `${stateMachineArn.replace(':stateMachine:', ':execution:')}:${ref}`;
}

const iso = (date: Date | undefined): string | null => (date ? date.toISOString() : null);

/** The state, error and cause a history event carries, whichever `*EventDetails` holds them. */
export function summarizeHistoryEvent(event: HistoryEvent): HistoryRow {
  let state: string | undefined;
  let error: string | undefined;
  let cause: string | undefined;
  for (const [key, value] of Object.entries(event)) {
    if (!key.endsWith('EventDetails') || value === null || typeof value !== 'object') continue;
    const details = value as { name?: unknown; error?: unknown; cause?: unknown };
    if (typeof details.name === 'string') state ??= details.name;
    if (typeof details.error === 'string') error ??= details.error;
    if (typeof details.cause === 'string') cause ??= details.cause;
  }
  return {
    id: event.id ?? 0,
    timestamp: iso(event.timestamp),
    type: event.type ?? 'Unknown',
    ...(state !== undefined ? { state } : {}),
    ...(error !== undefined ? { error } : {}),
    ...(cause !== undefined ? { cause } : {}),
  };
}

/** What `executions history` shows without `--all`: states entered and exited, and every failure. */
export function isNotableHistoryEvent(row: HistoryRow): boolean {
  return (
    row.type.startsWith('Execution') ||
    row.type === 'TaskStateEntered' ||
    /StateEntered$|StateExited$/.test(row.type) ||
    /Failed$|TimedOut$|Aborted$/.test(row.type) ||
    row.error !== undefined
  );
}

async function sfnCall<T>(aws: AwsClients, what: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    const mapped = asAwsTargetError(error, what, aws.outputs, aws.env);
    if (mapped instanceof CliError) throw mapped;
    const { name, message } = error as Error;
    throw new CliError(`${name}: ${message}`, EXIT.API, undefined, { cause: error });
  }
}

function stateMachineArn(aws: AwsClients): string {
  const arn = aws.outputs.RecoveryStateMachineArn;
  if (!arn) throw new TargetError(`the ${aws.outputs.stack} outputs have no RecoveryStateMachineArn`);
  return arn;
}

export async function listExecutions(
  aws: AwsClients,
  options: { status?: ExecutionStatus; max: number },
): Promise<ExecutionRow[]> {
  return sfnCall(aws, 'ListExecutions (Step Functions)', async () => {
    const rows: ExecutionRow[] = [];
    const pages = paginateListExecutions(
      { client: aws.sfn, pageSize: Math.min(1000, options.max) },
      { stateMachineArn: stateMachineArn(aws), statusFilter: options.status },
    );
    for await (const page of pages) {
      for (const execution of page.executions ?? [])
        rows.push({
          executionArn: execution.executionArn ?? '',
          name: execution.name ?? '',
          status: execution.status ?? 'UNKNOWN',
          startDate: iso(execution.startDate),
          stopDate: iso(execution.stopDate),
        });
      if (rows.length >= options.max) break;
    }
    return rows.slice(0, options.max);
  });
}

export interface ExecutionDescription extends ExecutionRow {
  readonly input: unknown;
  readonly output: unknown;
  readonly error: string | null;
  readonly cause: string | null;
}

const parseJson = (text: string | undefined): unknown => {
  if (text === undefined) return null;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
};

export async function describeExecution(aws: AwsClients, ref: string): Promise<ExecutionDescription> {
  const executionArn = executionArnFor(ref, aws.outputs.RecoveryStateMachineArn);
  const answer = await sfnCall(aws, 'DescribeExecution (Step Functions)', () =>
    aws.sfn.send(new DescribeExecutionCommand({ executionArn })),
  );
  return {
    executionArn,
    name: answer.name ?? '',
    status: answer.status ?? 'UNKNOWN',
    startDate: iso(answer.startDate),
    stopDate: iso(answer.stopDate),
    input: parseJson(answer.input),
    output: parseJson(answer.output),
    error: answer.error ?? null,
    cause: answer.cause ?? null,
  };
}

export async function executionHistory(aws: AwsClients, ref: string): Promise<HistoryRow[]> {
  const executionArn = executionArnFor(ref, aws.outputs.RecoveryStateMachineArn);
  return sfnCall(aws, 'GetExecutionHistory (Step Functions)', async () => {
    const rows: HistoryRow[] = [];
    const pages = paginateGetExecutionHistory(
      { client: aws.sfn, pageSize: 1000 },
      { executionArn, includeExecutionData: false },
    );
    for await (const page of pages) rows.push(...(page.events ?? []).map(summarizeHistoryEvent));
    return rows;
  });
}
