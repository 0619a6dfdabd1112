/**
 * The SFN API on the wire: AWS JSON 1.0, `POST /` with `X-Amz-Target: AWSStepFunctions.<Op>`.
 * Timestamps go out as epoch seconds, errors as `{"__type": ..., "message": ...}`.
 */
import { randomUUID } from 'node:crypto';
import { type AwsRequest, type AwsResponse, awsJsonError } from '#local/runtime/types';
import { isObject, type JsonObject } from './definition';
import { SfnApiError } from './errors';
import type { Execution, StateMachineRecord } from './execution';
import type { StepFunctionsService } from './service';

export const TARGET_PREFIX = 'AWSStepFunctions.';
const CONTENT_TYPE = 'application/x-amz-json-1.0';

type Operation = (body: JsonObject) => unknown;

function operations(service: StepFunctionsService): Record<string, Operation> {
  const machineSummary = (machine: StateMachineRecord) => ({
    stateMachineArn: machine.arn,
    name: machine.name,
    type: machine.type,
    creationDate: machine.creationDate,
  });
  const executionSummary = (execution: Execution) => ({
    executionArn: execution.arn,
    stateMachineArn: execution.stateMachine.arn,
    name: execution.name,
    status: execution.status,
    startDate: execution.startDate,
    ...(execution.stopDate ? { stopDate: execution.stopDate } : {}),
  });

  return {
    ListStateMachines: (body) => {
      const page = service.listStateMachines(
        optionalNumber(body, 'maxResults'),
        optionalString(body, 'nextToken'),
      );
      return { stateMachines: page.items.map(machineSummary), ...nextTokenOf(page) };
    },
    DescribeStateMachine: (body) => {
      const machine = service.describeStateMachine(body.stateMachineArn);
      return {
        ...machineSummary(machine),
        status: 'ACTIVE',
        definition: machine.definition.text,
        roleArn: machine.roleArn,
        loggingConfiguration: { level: 'OFF', includeExecutionData: false },
        tracingConfiguration: { enabled: false },
        revisionId: machine.revisionId,
      };
    },
    StartExecution: (body) =>
      service.startExecution({
        stateMachineArn: requiredString(body, 'stateMachineArn'),
        name: optionalString(body, 'name'),
        input: optionalString(body, 'input'),
      }),
    DescribeExecution: (body) => service.describeExecution(body.executionArn),
    ListExecutions: (body) => {
      const page = service.listExecutions(
        body.stateMachineArn,
        optionalString(body, 'statusFilter'),
        optionalNumber(body, 'maxResults'),
        optionalString(body, 'nextToken'),
      );
      return { executions: page.items.map(executionSummary), ...nextTokenOf(page) };
    },
    StopExecution: (body) =>
      service.stopExecution(body.executionArn, optionalString(body, 'error'), optionalString(body, 'cause')),
    GetExecutionHistory: (body) => {
      const page = service.getExecutionHistory({
        executionArn: requiredString(body, 'executionArn'),
        maxResults: optionalNumber(body, 'maxResults'),
        reverseOrder: body.reverseOrder === true,
        nextToken: optionalString(body, 'nextToken'),
        includeExecutionData:
          typeof body.includeExecutionData === 'boolean' ? body.includeExecutionData : undefined,
      });
      return { events: page.items, ...nextTokenOf(page) };
    },
    SendTaskSuccess: (body) => {
      service.sendTaskSuccess(body.taskToken, body.output);
      return {};
    },
    SendTaskFailure: (body) => {
      service.sendTaskFailure(body.taskToken, body.error, body.cause);
      return {};
    },
    SendTaskHeartbeat: (body) => {
      service.sendTaskHeartbeat(body.taskToken);
      return {};
    },
  };
}

/**
 * Builds the request handler for the SFN API.
 *
 * @example
 * const handle = createSfnApiHandler(service, console.error);
 * const response = await handle(request); // request.target === 'AWSStepFunctions.ListStateMachines'
 */
export function createSfnApiHandler(
  service: StepFunctionsService,
  log: (message: string) => void,
): (request: AwsRequest) => Promise<AwsResponse> {
  const table = operations(service);
  return async (request) => {
    const operation = request.target?.startsWith(TARGET_PREFIX)
      ? request.target.slice(TARGET_PREFIX.length)
      : '';
    const run = Object.hasOwn(table, operation) ? table[operation] : undefined;
    if (!run) {
      return awsJsonError(
        400,
        'UnknownOperationException',
        `${operation || request.target || '(no X-Amz-Target)'} is not supported by the local Step Functions`,
      );
    }
    let body: unknown;
    try {
      body = request.body.length === 0 ? {} : JSON.parse(request.body.toString('utf8'));
    } catch {
      return awsJsonError(400, 'SerializationException', 'The request body is not valid JSON');
    }
    if (!isObject(body))
      return awsJsonError(400, 'SerializationException', 'The request body is not a JSON object');
    try {
      const result = await run(body);
      return {
        status: 200,
        headers: { 'content-type': CONTENT_TYPE, 'x-amzn-requestid': randomUUID() },
        body: JSON.stringify(result, epochSeconds),
      };
    } catch (error) {
      if (error instanceof SfnApiError) return awsJsonError(error.status, error.type, error.message);
      const requestId = randomUUID();
      log(`states: ${operation} failed (request ${requestId}): ${(error as Error).stack ?? String(error)}`);
      return awsJsonError(500, 'InternalFailure', `An internal error occurred (request id ${requestId})`);
    }
  };
}

/** JSON.stringify replacer: AWS JSON 1.0 sends timestamps as epoch seconds. */
function epochSeconds(this: unknown, key: string, value: unknown): unknown {
  const raw = isRecord(this) ? this[key] : undefined;
  return raw instanceof Date ? raw.getTime() / 1000 : value;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

function nextTokenOf(page: { readonly nextToken?: string }): { nextToken?: string } {
  return page.nextToken ? { nextToken: page.nextToken } : {};
}

function requiredString(body: JsonObject, field: string): string {
  const value = body[field];
  if (typeof value !== 'string') {
    throw new SfnApiError(
      'ValidationException',
      `1 validation error detected: Value null at '${field}' failed to satisfy constraint: Member must not be null`,
    );
  }
  return value;
}

function optionalString(body: JsonObject, field: string): string | undefined {
  const value = body[field];
  return typeof value === 'string' ? value : undefined;
}

function optionalNumber(body: JsonObject, field: string): number | undefined {
  const value = body[field];
  return typeof value === 'number' ? value : undefined;
}
