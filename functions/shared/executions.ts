/**
 * Starting recovery executions. Each is named so that starting it twice is harmless: the
 * run of a workflow is named by its `workflow_id`, its rollbacks `<workflow_id>.rollback-<n>`.
 * Step Functions answers a repeated StartExecution with the same name and input with the
 * same ARN while the execution runs, and with ExecutionAlreadyExists once it has ended or
 * when the input differs; both mean the execution exists, and its ARN follows from the name.
 */
import { type SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { ApiError } from '#shared/errors';
import { errorName } from '#shared/repository/dynamo-errors';

/** What a workflow execution is asked to do. */
export type ExecutionInput =
  | { readonly workflow_id: string }
  | {
      readonly workflow_id: string;
      readonly mode: 'rollback' | 'cancel';
      readonly reason: string;
      readonly failure_point?: string;
    };

const THROTTLED = new Set(['ThrottlingException', 'TooManyRequestsException', 'ExecutionLimitExceeded']);

/**
 * Starts (or finds) the named execution and returns its ARN.
 * @throws ApiError 429 THROTTLED when Step Functions throttles; anything else unchanged.
 * @example
 * const arn = await startNamedExecution(sfn, stateMachineArn, 'wf-abc', { workflow_id: 'wf-abc' });
 */
export async function startNamedExecution(
  client: Pick<SFNClient, 'send'>,
  stateMachineArn: string,
  name: string,
  input: ExecutionInput,
): Promise<string> {
  try {
    const started = await client.send(
      new StartExecutionCommand({ stateMachineArn, name, input: JSON.stringify(input) }),
    );
    return started.executionArn ?? executionArn(stateMachineArn, name);
  } catch (error) {
    if (errorName(error) === 'ExecutionAlreadyExists') return executionArn(stateMachineArn, name);
    if (THROTTLED.has(errorName(error) ?? ''))
      throw new ApiError(429, 'THROTTLED', 'Step Functions is busy; retry with backoff', undefined, {
        cause: error,
        headers: { 'retry-after': '1' },
      });
    throw error;
  }
}

/** The ARN of the execution `name` of a state machine. */
export function executionArn(stateMachineArn: string, name: string): string {
  return `${stateMachineArn.replace(':stateMachine:', ':execution:')}:${name}`;
}

/** The name of a workflow's n-th rollback execution (n from 1). */
export function rollbackExecutionName(workflowId: string, n: number): string {
  return `${workflowId}.rollback-${n}`;
}
