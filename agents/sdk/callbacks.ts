/**
 * How an agent answers a task: Step Functions' SendTask* with AWS credentials (the default),
 * or the orchestrator's REST API (POST tasks/success|failure|heartbeat) with an `agent` token,
 * for agents that run outside AWS. Both report a late or duplicate answer the same way, as an
 * error whose `name` is TaskTimedOut, so the agent treats it as gone.
 */
import {
  SendTaskFailureCommand,
  SendTaskHeartbeatCommand,
  SendTaskSuccessCommand,
  type SFNClient,
} from '@aws-sdk/client-sfn';

export interface TaskCallbacks {
  success(taskToken: string, output: string): Promise<void>;
  failure(taskToken: string, error: string, cause: string): Promise<void>;
  heartbeat(taskToken: string): Promise<void>;
}

/** SendTaskSuccess, SendTaskFailure and SendTaskHeartbeat on `sfn`. */
export function stepFunctionsCallbacks(sfn: Pick<SFNClient, 'send'>): TaskCallbacks {
  return {
    success: async (taskToken, output) => {
      await sfn.send(new SendTaskSuccessCommand({ taskToken, output }));
    },
    failure: async (taskToken, error, cause) => {
      await sfn.send(new SendTaskFailureCommand({ taskToken, error, cause }));
    },
    heartbeat: async (taskToken) => {
      await sfn.send(new SendTaskHeartbeatCommand({ taskToken }));
    },
  };
}

export interface RestCallbacksOptions {
  /** The stack's RestApiUrl output (ends in `/`). */
  readonly restApiUrl: string;
  /** An `agent` token for this agent's id; a function is asked again on every call (rotation). */
  readonly token: string | (() => string | Promise<string>);
  /** @default globalThis.fetch */
  readonly fetch?: typeof fetch;
  /** Per request. @default 10000 */
  readonly timeoutMs?: number;
}

/** A callback the API refused; `name` follows Step Functions' error names where one applies. */
export class CallbackError extends Error {
  constructor(
    override readonly name: string,
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

/**
 * POST api/orchestrator/tasks/* with an agent token. 410 TASK_GONE becomes a TaskTimedOut
 * error (late or duplicate: the agent drops it); 429 and 5xx become retryable errors.
 * @example
 * createAgent({ ...options, callbacks: restCallbacks({ restApiUrl, token: process.env.AGENT_TOKEN }) })
 */
export function restCallbacks(options: RestCallbacksOptions): TaskCallbacks {
  const base = options.restApiUrl.endsWith('/') ? options.restApiUrl : `${options.restApiUrl}/`;
  const call = options.fetch ?? globalThis.fetch;
  const post = async (path: string, body: Record<string, unknown>): Promise<void> => {
    const token = typeof options.token === 'function' ? await options.token() : options.token;
    const response = await call(`${base}api/orchestrator/tasks/${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(options.timeoutMs ?? 10_000),
    });
    if (response.ok) return;
    const text = await response.text();
    let code = '';
    try {
      code = String((JSON.parse(text) as { error?: { code?: unknown } }).error?.code ?? '');
    } catch {
      // Not our error body (a gateway page): the status says enough.
    }
    if (response.status === 410) throw new CallbackError('TaskTimedOut', `task is gone (${code})`, 410);
    if (response.status === 404) throw new CallbackError('TaskDoesNotExist', `task not found (${code})`, 404);
    throw new CallbackError(
      response.status === 429 ? 'ThrottlingException' : `Http${response.status}`,
      `tasks/${path} answered ${response.status} ${code}: ${text.slice(0, 200)}`,
      response.status,
    );
  };
  return {
    success: (task_token, output) => post('success', { task_token, output: JSON.parse(output) as unknown }),
    failure: (task_token, code, message) => post('failure', { task_token, error: { code, message } }),
    heartbeat: (task_token) => post('heartbeat', { task_token }),
  };
}
