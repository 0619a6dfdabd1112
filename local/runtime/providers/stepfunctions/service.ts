/**
 * The local Step Functions service: state machines, executions and task tokens, with the
 * SFN API's operations as typed methods (api.ts puts them on the wire). Errors are
 * `SfnApiError`s with AWS's types and messages.
 */
import { createHash, randomUUID } from 'node:crypto';
import type { ServiceRegistry } from '#local/runtime/types';
import {
  executionArn,
  type Partition,
  requireArn,
  requireName,
  type StateMachineType,
  stateMachineArn,
} from './arns';
import { interpreterDefinition, parseDefinition } from './definition';
import { StateMachine, type StateMachineDefinition } from './engine';
import { InvalidDefinitionError, SfnApiError } from './errors';
import { Execution, type ExecutionStats, type ExecutionStatus, type StateMachineRecord } from './execution';
import { detailsMemberOf, type HistoryEventRecord, MAX_HISTORY_EVENTS } from './history';
import { type EventBridgeEntry, resolveIntegration, SUPPORTED_RESOURCES } from './integrations';
import { TaskTokenRegistry } from './task-tokens';

export const DEFAULT_ROLE_ARN = 'arn:aws:iam::000000000000:role/local-stepfunctions';
const MAX_INPUT_BYTES = 262_144;

export interface DeployStateMachineInput {
  readonly partition: Partition;
  readonly name: string;
  readonly definition: string;
  readonly type?: StateMachineType;
  readonly roleArn?: string;
}

export interface StartExecutionInput {
  readonly stateMachineArn: string;
  readonly name?: string;
  readonly input?: string;
}

export interface ExecutionDescription {
  readonly executionArn: string;
  readonly stateMachineArn: string;
  readonly name: string;
  readonly status: ExecutionStatus;
  readonly startDate: Date;
  readonly stopDate?: Date;
  readonly input: string;
  readonly inputDetails: { readonly included: boolean };
  readonly output?: string;
  readonly outputDetails?: { readonly included: boolean };
  readonly error?: string;
  readonly cause?: string;
  readonly redriveCount: number;
  readonly redriveStatus: 'NOT_REDRIVABLE';
}

export interface HistoryQuery {
  readonly executionArn: string;
  readonly maxResults?: number;
  readonly reverseOrder?: boolean;
  readonly nextToken?: string;
  readonly includeExecutionData?: boolean;
}

export interface WireHistoryEvent {
  readonly timestamp: Date;
  readonly type: string;
  readonly id: number;
  readonly previousEventId: number;
  readonly [details: string]: unknown;
}

export interface Page<T> {
  readonly items: readonly T[];
  readonly nextToken?: string;
}

export class StepFunctionsService {
  private readonly machines = new Map<string, StateMachineRecord>();
  private readonly executions = new Map<string, Execution>();
  private readonly executionsByMachine = new Map<string, Execution[]>();
  private readonly events: EventBridgeEntry[] = [];
  private readonly tokens = new TaskTokenRegistry();

  constructor(
    private readonly services: () => ServiceRegistry | undefined,
    private readonly log: (message: string) => void = () => {},
    private readonly maxHistoryEvents = MAX_HISTORY_EVENTS,
  ) {}

  /** Creates or updates a state machine; the interpreter validates the definition here. */
  deployStateMachine(input: DeployStateMachineInput): StateMachineRecord {
    const name = requireName(input.name, 'state machine');
    const definition = parseDefinition(input.definition);
    let interpreter: StateMachine;
    try {
      interpreter = new StateMachine(
        interpreterDefinition(definition.document) as unknown as StateMachineDefinition,
        {
          validationOptions: { checkPaths: true, checkArn: true },
        },
      );
    } catch (error) {
      throw new InvalidDefinitionError(`Invalid State Machine Definition: '${(error as Error).message}'`, {
        cause: error,
      });
    }
    for (const task of definition.tasks.values()) {
      if (!resolveIntegration(task.resource)) {
        this.log(
          `states: state machine ${name}, state ${task.name}: no local integration for ${task.resource} ` +
            `(it will fail with States.Runtime); supported: ${SUPPORTED_RESOURCES}`,
        );
      }
    }
    const arn = stateMachineArn(input.partition, name);
    const existing = this.machines.get(arn);
    const record: StateMachineRecord = {
      arn,
      name,
      type: input.type ?? 'STANDARD',
      region: input.partition.region,
      definition,
      interpreter,
      roleArn: input.roleArn ?? DEFAULT_ROLE_ARN,
      creationDate: existing?.creationDate ?? new Date(),
      revisionId: createHash('sha256').update(definition.text).digest('hex').slice(0, 32),
    };
    this.machines.set(arn, record);
    return record;
  }

  listStateMachines(maxResults?: number, nextToken?: string): Page<StateMachineRecord> {
    return paginate([...this.machines.values()], maxResults, nextToken);
  }

  describeStateMachine(arn: unknown): StateMachineRecord {
    return this.machine(requireArn(arn, 'stateMachineArn', ['stateMachine']));
  }

  startExecution(request: StartExecutionInput): { executionArn: string; startDate: Date } {
    const machine = this.machine(requireArn(request.stateMachineArn, 'stateMachineArn', ['stateMachine']));
    const name = requireName(request.name ?? randomUUID(), 'execution');
    const input = request.input ?? '{}';
    if (Buffer.byteLength(input) > MAX_INPUT_BYTES) {
      throw new SfnApiError(
        'InvalidExecutionInput',
        'Invalid Execution Input: the input exceeds 262144 bytes',
      );
    }
    try {
      JSON.parse(input);
    } catch (error) {
      throw new SfnApiError(
        'InvalidExecutionInput',
        `Invalid Execution Input: '${(error as Error).message}'`,
        400,
        {
          cause: error,
        },
      );
    }
    const arn = executionArn(
      { region: machine.region, accountId: accountOf(machine.arn) },
      machine.type,
      machine.name,
      name,
    );
    const existing = this.executions.get(arn);
    if (existing) {
      // AWS: the same name and input while the execution runs answers as the first call did.
      if (existing.status === 'RUNNING' && existing.input === input) {
        return { executionArn: existing.arn, startDate: existing.startDate };
      }
      throw new SfnApiError('ExecutionAlreadyExists', `Execution Already Exists: '${arn}'`);
    }
    const execution = new Execution(arn, name, machine, input, new Date(), {
      maxHistoryEvents: this.maxHistoryEvents,
      services: this.services,
      tokens: this.tokens,
      onPutEvents: (entries) => this.events.push(...entries),
    });
    this.executions.set(arn, execution);
    const list = this.executionsByMachine.get(machine.arn) ?? [];
    list.push(execution);
    this.executionsByMachine.set(machine.arn, list);
    execution.start();
    return { executionArn: arn, startDate: execution.startDate };
  }

  describeExecution(arn: unknown): ExecutionDescription {
    const execution = this.execution(arn);
    const closed = execution.status !== 'RUNNING';
    return {
      executionArn: execution.arn,
      stateMachineArn: execution.stateMachine.arn,
      name: execution.name,
      status: execution.status,
      startDate: execution.startDate,
      ...(execution.stopDate ? { stopDate: execution.stopDate } : {}),
      input: execution.input,
      inputDetails: { included: true },
      ...(execution.output === undefined ? {} : { output: execution.output }),
      ...(closed && execution.status === 'SUCCEEDED' ? { outputDetails: { included: true } } : {}),
      ...(execution.error === undefined ? {} : { error: execution.error }),
      ...(execution.cause === undefined ? {} : { cause: execution.cause }),
      redriveCount: 0,
      redriveStatus: 'NOT_REDRIVABLE',
    };
  }

  /** Newest first, as AWS lists them. */
  listExecutions(
    stateMachineArnValue: unknown,
    statusFilter?: string,
    maxResults?: number,
    nextToken?: string,
  ): Page<Execution> {
    const machine = this.machine(requireArn(stateMachineArnValue, 'stateMachineArn', ['stateMachine']));
    const statuses = ['RUNNING', 'SUCCEEDED', 'FAILED', 'TIMED_OUT', 'ABORTED', 'PENDING_REDRIVE'];
    if (statusFilter !== undefined && !statuses.includes(statusFilter)) {
      throw new SfnApiError(
        'ValidationException',
        `1 validation error detected: Value '${statusFilter}' at 'statusFilter' failed to satisfy constraint: Member must satisfy enum value set: [${statuses.join(', ')}]`,
      );
    }
    const all = [...(this.executionsByMachine.get(machine.arn) ?? [])].reverse();
    const matching = statusFilter ? all.filter((execution) => execution.status === statusFilter) : all;
    return paginate(matching, maxResults, nextToken);
  }

  async stopExecution(arn: unknown, error?: string, cause?: string): Promise<{ stopDate: Date }> {
    const execution = this.execution(arn);
    await execution.stop(error, cause);
    return { stopDate: execution.stopDate ?? new Date() };
  }

  getExecutionHistory(query: HistoryQuery): Page<WireHistoryEvent> {
    const execution = this.execution(query.executionArn);
    const events = query.reverseOrder ? [...execution.history.events].reverse() : execution.history.events;
    const page = paginate(events, query.maxResults, query.nextToken);
    const includeData = query.includeExecutionData ?? true;
    return { ...page, items: page.items.map((event) => toWireEvent(event, includeData)) };
  }

  sendTaskSuccess(taskToken: unknown, output: unknown): void {
    this.tokens.sendSuccess(taskToken, output);
  }

  sendTaskFailure(taskToken: unknown, error: unknown, cause: unknown): void {
    this.tokens.sendFailure(taskToken, error, cause);
  }

  sendTaskHeartbeat(taskToken: unknown): void {
    this.tokens.sendHeartbeat(taskToken);
  }

  executionStats(arn: string): ExecutionStats {
    return this.execution(arn).stats();
  }

  /** Resolves with the description once the execution has closed, or rejects after `timeoutMs`. */
  async waitForExecution(arn: string, timeoutMs = 30_000): Promise<ExecutionDescription> {
    const execution = this.execution(arn);
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`execution ${arn} is still ${execution.status} after ${timeoutMs} ms`)),
        timeoutMs,
      );
    });
    try {
      await Promise.race([execution.done, timedOut]);
    } finally {
      clearTimeout(timer);
    }
    return this.describeExecution(arn);
  }

  /** The entries every `events:putEvents` task has sent, oldest first. */
  publishedEvents(): readonly EventBridgeEntry[] {
    return this.events;
  }

  /** Aborts every running execution (error `Local.RuntimeStopped`) and forgets task tokens. */
  async stop(): Promise<void> {
    const running = [...this.executions.values()].filter((execution) => execution.status === 'RUNNING');
    await Promise.all(
      running.map((execution) => execution.stop('Local.RuntimeStopped', 'The local runtime stopped')),
    );
    this.tokens.clear();
  }

  private machine(arn: string): StateMachineRecord {
    const machine = this.machines.get(arn);
    if (!machine) throw new SfnApiError('StateMachineDoesNotExist', `State Machine Does Not Exist: '${arn}'`);
    return machine;
  }

  private execution(arn: unknown): Execution {
    const valid = requireArn(arn, 'executionArn', ['execution', 'express']);
    const execution = this.executions.get(valid);
    if (!execution) throw new SfnApiError('ExecutionDoesNotExist', `Execution Does Not Exist: '${valid}'`);
    return execution;
  }
}

function accountOf(arn: string): string {
  return arn.split(':')[4] ?? '';
}

const EXECUTION_DATA = new Set(['input', 'output', 'parameters']);

function toWireEvent(event: HistoryEventRecord, includeData: boolean): WireHistoryEvent {
  const base = {
    timestamp: new Date(event.timestamp),
    type: event.type,
    id: event.id,
    previousEventId: event.previousEventId,
  };
  if (!event.details) return base;
  const details = includeData
    ? event.details
    : Object.fromEntries(Object.entries(event.details).filter(([key]) => !EXECUTION_DATA.has(key)));
  return { ...base, [detailsMemberOf(event.type)]: details };
}

function paginate<T>(items: readonly T[], maxResults?: number, nextToken?: string): Page<T> {
  if (maxResults !== undefined && (!Number.isInteger(maxResults) || maxResults < 0 || maxResults > 1000)) {
    throw new SfnApiError(
      'ValidationException',
      `1 validation error detected: Value '${maxResults}' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 1000`,
    );
  }
  const size = maxResults || 100;
  let offset = 0;
  if (nextToken !== undefined) {
    const decoded = Number(Buffer.from(nextToken, 'base64url').toString('utf8'));
    if (!Number.isInteger(decoded) || decoded < 0) {
      throw new SfnApiError('InvalidToken', "Invalid Token: 'Invalid pagination token'");
    }
    offset = decoded;
  }
  const page = items.slice(offset, offset + size);
  const next =
    offset + size < items.length ? Buffer.from(String(offset + size)).toString('base64url') : undefined;
  return { items: page, ...(next ? { nextToken: next } : {}) };
}
