/**
 * Task callbacks for agents without AWS credentials: POST tasks/success, tasks/failure and
 * tasks/heartbeat answer a dispatched step on its task token, as SendTaskSuccess,
 * SendTaskFailure and SendTaskHeartbeat would. The token must be one the workflow sent (its
 * lookup item says to which agent), and an `agent` token may only answer its own tasks.
 */
import {
  SendTaskFailureCommand,
  SendTaskHeartbeatCommand,
  SendTaskSuccessCommand,
} from '@aws-sdk/client-sfn';
import * as z from 'zod';
import type {
  TaskCallbackAccepted,
  TaskFailureRequest,
  TaskHeartbeatRequest,
  TaskSuccessRequest,
} from '#core/wire';
import { documentClient } from '#shared/clients/dynamodb';
import { sfn } from '#shared/clients/sfn';
import { loadConfig, TableEnv } from '#shared/config';
import { ApiError, ForbiddenError } from '#shared/errors';
import { type HttpRequest, httpHandler, httpRouter, requirePrincipal, routeById } from '#shared/http';
import { errorName } from '#shared/repository/dynamo-errors';
import { WorkflowRunRepository } from '#shared/repository/workflow-run';

const { TABLE_NAME } = loadConfig(z.object(TableEnv));
const runs = new WorkflowRunRepository(documentClient, TABLE_NAME);

/** Step Functions caps a task's output at 256 KiB of JSON. */
export const MAX_TASK_OUTPUT_BYTES = 256 * 1024;

/** What Step Functions answers for a token whose task has ended, or never was: the callback is late or repeated. */
const GONE = new Set(['TaskTimedOut', 'TaskDoesNotExist', 'InvalidToken']);
const THROTTLED = new Set(['ThrottlingException', 'TooManyRequestsException']);

/**
 * Checks the token's owner, sends the callback, and answers what it was about.
 * @throws ApiError 404 TASK_NOT_FOUND, 403 FORBIDDEN, 410 TASK_GONE, 429 THROTTLED.
 */
async function answerTask(
  request: HttpRequest<{ task_token: string }>,
  callback: () => Promise<unknown>,
): Promise<{ body: TaskCallbackAccepted }> {
  const principal = requirePrincipal(request);
  const owner = await runs.tokenOwner(request.body.task_token);
  if (!owner)
    throw new ApiError(404, 'TASK_NOT_FOUND', 'no workflow sent this task token (or its lookup has expired)');
  if (principal.role === 'agent' && principal.sub !== owner.agent_id)
    throw new ForbiddenError(
      `this task was sent to agent ${owner.agent_id}; an agent may answer only its own tasks`,
    );
  try {
    await callback();
  } catch (error) {
    throw asCallbackError(error);
  }
  return {
    body: { workflow_id: owner.workflow_id, step_id: owner.step_id, action: owner.action, accepted: true },
  };
}

function asCallbackError(error: unknown): unknown {
  const name = errorName(error) ?? '';
  if (GONE.has(name))
    return new ApiError(
      410,
      'TASK_GONE',
      'the task has already ended (timed out, answered, or its workflow stopped); a late or repeated callback changes nothing',
      [{ reason: name }],
      { cause: error },
    );
  if (THROTTLED.has(name))
    return new ApiError(429, 'THROTTLED', 'Step Functions is busy; retry with backoff', undefined, {
      cause: error,
      headers: { 'retry-after': '1' },
    });
  if (name === 'InvalidOutput')
    return new ApiError(400, 'VALIDATION_FAILED', 'Step Functions refused the output', [{ path: 'output' }], {
      cause: error,
    });
  return error;
}

const sendTaskSuccess = httpHandler<TaskSuccessRequest>(routeById('sendTaskSuccess'), async (request) => {
  const output = JSON.stringify(request.body.output ?? {});
  const bytes = Buffer.byteLength(output);
  if (bytes > MAX_TASK_OUTPUT_BYTES)
    throw new ApiError(
      413,
      'OUTPUT_TOO_LARGE',
      `the output is ${bytes} bytes of JSON; Step Functions takes at most ${MAX_TASK_OUTPUT_BYTES}`,
      [{ path: 'output', limit_bytes: MAX_TASK_OUTPUT_BYTES, actual_bytes: bytes }],
    );
  return answerTask(request, () =>
    sfn.send(new SendTaskSuccessCommand({ taskToken: request.body.task_token, output })),
  );
});

const sendTaskFailure = httpHandler<TaskFailureRequest>(routeById('sendTaskFailure'), async (request) =>
  answerTask(request, () =>
    sfn.send(
      new SendTaskFailureCommand({
        taskToken: request.body.task_token,
        error: request.body.error.code,
        cause: request.body.error.message,
      }),
    ),
  ),
);

const sendTaskHeartbeat = httpHandler<TaskHeartbeatRequest>(routeById('sendTaskHeartbeat'), async (request) =>
  answerTask(request, () => sfn.send(new SendTaskHeartbeatCommand({ taskToken: request.body.task_token }))),
);

export const handler = httpRouter([sendTaskSuccess, sendTaskFailure, sendTaskHeartbeat]);
