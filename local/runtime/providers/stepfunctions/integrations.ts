/**
 * The service-integration layer: every Task state runs through `runTask`, installed as the
 * interpreter's per-state override and dispatched by the state's Resource ARN.
 *
 * | Resource                                          | does                                                  |
 * | ------------------------------------------------- | ----------------------------------------------------- |
 * | `arn:aws:states:::lambda:invoke`                  | `services.lambda`; result `{Payload, StatusCode, ...}` |
 * | `arn:aws:lambda:<region>:<account>:function:<fn>` | `services.lambda`; result is the function's payload    |
 * | `arn:aws:states:::sqs:sendMessage`                | `sendMessage` of the SQS provider (`services.get('sqs')`) |
 * | `arn:aws:states:::events:putEvents`               | recorded; forwarded to `services.get('events')` if it has `putEvents` |
 * | any of them + `.waitForTaskToken`                 | the above, then waits for SendTaskSuccess/Failure      |
 *
 * A task attempt enforces `TimeoutSeconds` (`States.Timeout`) and, for callbacks,
 * `HeartbeatSeconds` (`States.HeartbeatTimeout`, re-armed by each SendTaskHeartbeat), and
 * records AWS's task events in the execution's history.
 */
import { createHash, randomUUID } from 'node:crypto';
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { LambdaResult, ServiceRegistry } from '#local/runtime/types';
import {
  isObject,
  type JsonObject,
  type JsonValue,
  MAX_TIMER_SECONDS,
  readReferencePath,
  STATE_INPUT_KEY,
  type TaskSpec,
} from './definition';
import { currentRunScope, type RunScope } from './engine';
import { StatesRuntimeError, TaskCancelledError, TaskFailedError } from './errors';
import type { ExecutionHistory } from './history';
import type { TaskTokenRegistry } from './task-tokens';

/**
 * What the SQS provider (`local/runtime/providers/sqs.ts`) offers in-process, found through
 * `services.get('sqs')`.
 */
export interface SqsSender {
  sendMessage(
    queueUrlOrArn: string,
    body: string,
    attributes?: Readonly<Record<string, SqsMessageAttributeValue>>,
  ): Promise<SqsSendResult>;
}

/** A message attribute as SQS's SendMessage takes it. */
export interface SqsMessageAttributeValue {
  readonly DataType: string;
  readonly StringValue?: string;
  readonly BinaryValue?: string;
}

/** As the SQS provider's in-process `sendMessage` answers (camelCase, like its other in-process results). */
export interface SqsSendResult {
  readonly messageId: string;
  readonly md5OfMessageBody?: string;
}

/** An EventBridge PutEvents entry, `Detail` serialized as EventBridge takes it. */
export interface EventBridgeEntry {
  readonly Source?: string;
  readonly DetailType?: string;
  readonly Detail: string;
  readonly EventBusName?: string;
  readonly Resources?: readonly string[];
  readonly Time?: string;
}

export interface PutEventsResult {
  readonly Entries: readonly {
    readonly EventId?: string;
    readonly ErrorCode?: string;
    readonly ErrorMessage?: string;
  }[];
  readonly FailedEntryCount: number;
}

/** What an EventBridge provider offers in-process, found through `services.get('events')`. */
export interface EventsPublisher {
  putEvents(entries: readonly EventBridgeEntry[]): Promise<PutEventsResult>;
}

export function isSqsSender(value: unknown): value is SqsSender {
  return (
    typeof value === 'object' && value !== null && typeof Reflect.get(value, 'sendMessage') === 'function'
  );
}

export function isEventsPublisher(value: unknown): value is EventsPublisher {
  return typeof value === 'object' && value !== null && typeof Reflect.get(value, 'putEvents') === 'function';
}

/** What a task attempt needs from its execution and the provider. */
export interface TaskHost {
  readonly region: string;
  /** The string passed as `$$.Task.Token`, replaced by the minted token in the task's input. */
  readonly sentinel: string;
  readonly services: () => ServiceRegistry | undefined;
  readonly tokens: TaskTokenRegistry;
  readonly history: ExecutionHistory;
  /** A `States.Timeout` of the interpreter's own class (see engine.ts). */
  readonly timeoutError: () => Error;
  readonly onPutEvents: (entries: readonly EventBridgeEntry[]) => void;
  readonly onAttempt: () => void;
}

type Action = 'lambda:invoke' | 'lambda:function' | 'sqs:sendMessage' | 'events:putEvents';

export interface Integration {
  readonly action: Action;
  readonly callback: boolean;
  /** As history events name it: `lambda`, `sqs`, `events`. */
  readonly resourceType: string;
  /** As history events name it: `invoke`, `sendMessage.waitForTaskToken`, or a function ARN. */
  readonly resource: string;
}

const OPTIMIZED =
  /^arn:aws[a-z-]*:states:[a-z0-9-]*:\d*:([a-z]+):([A-Za-z]+)(\.waitForTaskToken|\.sync(?::2)?)?$/;
const LAMBDA_FUNCTION = /^arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:function:[^:]+(?::[^:]+)?$/;

/** The integration a Resource ARN names, or undefined when the local runtime has none. */
export function resolveIntegration(resource: string): Integration | undefined {
  if (LAMBDA_FUNCTION.test(resource)) {
    return { action: 'lambda:function', callback: false, resourceType: 'lambda', resource };
  }
  const match = OPTIMIZED.exec(resource);
  if (!match) return undefined;
  const [, service, operation, pattern] = match;
  if (pattern?.startsWith('.sync')) return undefined;
  const action = `${service}:${operation}`;
  if (action !== 'lambda:invoke' && action !== 'sqs:sendMessage' && action !== 'events:putEvents')
    return undefined;
  return {
    action,
    callback: pattern === '.waitForTaskToken',
    resourceType: service ?? '',
    resource: `${operation}${pattern ?? ''}`,
  };
}

export const SUPPORTED_RESOURCES =
  'arn:aws:states:::lambda:invoke, arn:aws:states:::sqs:sendMessage, arn:aws:states:::events:putEvents ' +
  '(each also with .waitForTaskToken) and Lambda function ARNs';

/**
 * Runs one attempt of a Task state; the interpreter calls it with the state's input after
 * InputPath and Parameters, and applies ResultSelector, ResultPath, Retry and Catch to the
 * outcome.
 */
export async function runTask(host: TaskHost, spec: TaskSpec, input: JsonValue): Promise<JsonValue> {
  const scope = currentRunScope<unknown>();
  if (!scope || scope.closed) throw new TaskCancelledError();
  // One turn of the event loop lets the interpreter's TaskStateEntered reach the history
  // before this task's TaskScheduled (see history.ts).
  await nextTurn();
  if (scope.closed) throw new TaskCancelledError();
  const integration = resolveIntegration(spec.resource);
  if (!integration) {
    throw new StatesRuntimeError(
      `The local Step Functions has no integration for the resource '${spec.resource}' of state '${spec.name}'; it supports ${SUPPORTED_RESOURCES}`,
    );
  }
  host.onAttempt();
  return new TaskAttempt(host, spec, integration, scope).run(input);
}

const isLambdaFunction = (integration: Integration): boolean => integration.action === 'lambda:function';

class TaskAttempt {
  private settled = false;
  private submitted = false;
  private pendingCallback: (() => void) | undefined;
  private timeoutTimer: NodeJS.Timeout | undefined;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private heartbeatMs: number | undefined;
  private token: string | undefined;
  private detachScope: () => void = () => {};
  private resolve: (output: JsonValue) => void = () => {};
  private reject: (error: Error) => void = () => {};

  constructor(
    private readonly host: TaskHost,
    private readonly spec: TaskSpec,
    private readonly integration: Integration,
    private readonly scope: RunScope<unknown>,
  ) {}

  run(input: JsonValue): Promise<JsonValue> {
    return new Promise<JsonValue>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
      this.start(input);
    });
  }

  private start(input: JsonValue): void {
    const { host, integration, spec } = this;
    // The timer paths read the state's input, which definition.ts passed along in the parameters.
    const { parameters: effective, stateInput } = splitStateInput(input);
    const timeoutSeconds = timerSeconds(spec.timeoutSeconds, spec.timeoutSecondsPath, stateInput);
    const heartbeatSeconds = integration.callback
      ? timerSeconds(spec.heartbeatSeconds, spec.heartbeatSecondsPath, stateInput)
      : undefined;
    let parameters = effective;
    if (integration.callback) {
      this.token = host.tokens.mint();
      parameters = replaceString(effective, host.sentinel, this.token);
    }

    this.recordScheduled(parameters, timeoutSeconds, heartbeatSeconds);
    this.record(
      isLambdaFunction(integration) ? 'LambdaFunctionStarted' : 'TaskStarted',
      isLambdaFunction(integration) ? undefined : this.resourceDetails(),
    );

    this.detachScope = this.scope.onClose(() => this.cancel());
    if (timeoutSeconds !== undefined) {
      this.timeoutTimer = setTimeout(() => this.timeOut('States.Timeout'), timeoutSeconds * 1000);
    }
    if (heartbeatSeconds !== undefined) {
      this.heartbeatMs = heartbeatSeconds * 1000;
      this.armHeartbeat();
    }
    if (this.token) {
      host.tokens.register(this.token, {
        succeed: (output, outputText) => this.afterSubmission(() => this.succeed(output, outputText)),
        fail: (error, cause) => this.afterSubmission(() => this.fail(error, cause)),
        heartbeat: () => this.armHeartbeat(),
      });
    }

    perform(integration, parameters, host).then(
      (output) => {
        if (this.settled) return;
        if (!integration.callback) {
          this.succeed(output, JSON.stringify(output));
          return;
        }
        this.record('TaskSubmitted', {
          ...this.resourceDetails(),
          output: JSON.stringify(output),
          outputDetails: { truncated: false },
        });
        this.submitted = true;
        const callback = this.pendingCallback;
        this.pendingCallback = undefined;
        callback?.();
      },
      (error: unknown) => {
        if (this.settled) return;
        if (error instanceof TaskFailedError) this.fail(error.name, error.message);
        else this.fail('States.TaskFailed', error instanceof Error ? error.message : String(error));
      },
    );
  }

  /** A callback can beat the SendMessage response; it then waits until TaskSubmitted is recorded. */
  private afterSubmission(apply: () => void): void {
    if (this.submitted) apply();
    else this.pendingCallback ??= apply;
  }

  private armHeartbeat(): void {
    if (this.settled || this.heartbeatMs === undefined) return;
    if (this.heartbeatTimer) clearTimeout(this.heartbeatTimer);
    this.heartbeatTimer = setTimeout(() => this.timeOut('States.HeartbeatTimeout'), this.heartbeatMs);
  }

  /** Ends the attempt exactly once: timers cleared, token closed, scope detached. */
  private settle(): boolean {
    if (this.settled) return false;
    this.settled = true;
    if (this.timeoutTimer) clearTimeout(this.timeoutTimer);
    if (this.heartbeatTimer) clearTimeout(this.heartbeatTimer);
    this.timeoutTimer = undefined;
    this.heartbeatTimer = undefined;
    this.pendingCallback = undefined;
    this.detachScope();
    if (this.token) this.host.tokens.close(this.token);
    return true;
  }

  private succeed(output: JsonValue, outputText: string): void {
    if (!this.settle()) return;
    this.record(isLambdaFunction(this.integration) ? 'LambdaFunctionSucceeded' : 'TaskSucceeded', {
      ...this.resourceDetails(),
      output: outputText,
      outputDetails: { truncated: false },
    });
    this.resolve(output);
  }

  private fail(error: string | undefined, cause: string | undefined): void {
    if (!this.settle()) return;
    this.record(isLambdaFunction(this.integration) ? 'LambdaFunctionFailed' : 'TaskFailed', {
      ...this.resourceDetails(),
      ...(error === undefined ? {} : { error }),
      ...(cause === undefined ? {} : { cause }),
    });
    this.reject(new TaskFailedError(error ?? '', cause ?? ''));
  }

  private timeOut(error: 'States.Timeout' | 'States.HeartbeatTimeout'): void {
    if (!this.settle()) return;
    this.record(isLambdaFunction(this.integration) ? 'LambdaFunctionTimedOut' : 'TaskTimedOut', {
      ...this.resourceDetails(),
      error,
    });
    this.reject(error === 'States.Timeout' ? this.host.timeoutError() : new TaskFailedError(error, ''));
  }

  private cancel(): void {
    if (!this.settle()) return;
    this.record('TaskStateAborted', undefined);
    this.reject(new TaskCancelledError());
  }

  private recordScheduled(
    parameters: JsonValue,
    timeoutSeconds: number | undefined,
    heartbeatSeconds: number | undefined,
  ): void {
    const timeout = timeoutSeconds === undefined ? {} : { timeoutInSeconds: timeoutSeconds };
    if (isLambdaFunction(this.integration)) {
      this.record('LambdaFunctionScheduled', {
        resource: this.integration.resource,
        input: JSON.stringify(parameters),
        inputDetails: { truncated: false },
        ...timeout,
      });
      return;
    }
    this.record('TaskScheduled', {
      ...this.resourceDetails(),
      region: this.host.region,
      parameters: JSON.stringify(parameters),
      ...timeout,
      ...(heartbeatSeconds === undefined ? {} : { heartbeatInSeconds: heartbeatSeconds }),
    });
  }

  private resourceDetails(): Record<string, string> {
    if (isLambdaFunction(this.integration)) return {};
    return { resourceType: this.integration.resourceType, resource: this.integration.resource };
  }

  private record(type: string, details: Record<string, unknown> | undefined): void {
    this.host.history.add({ type, ...(details ? { details } : {}), nested: this.scope.depth > 1 });
  }
}

/** `TimeoutSeconds`/`HeartbeatSeconds` or their `...Path`, when a Node timer can enforce them. */
function splitStateInput(input: JsonValue): { parameters: JsonValue; stateInput: JsonValue } {
  if (!isObject(input) || !(STATE_INPUT_KEY in input)) return { parameters: input, stateInput: input };
  const { [STATE_INPUT_KEY]: stateInput, ...parameters } = input;
  return { parameters, stateInput: stateInput ?? null };
}

function timerSeconds(
  seconds: number | undefined,
  path: string | undefined,
  input: JsonValue,
): number | undefined {
  const value = seconds ?? (path === undefined ? undefined : readReferencePath(input, path));
  if (
    seconds === undefined &&
    path !== undefined &&
    !(typeof value === 'number' && Number.isInteger(value) && value > 0)
  )
    // AWS fails the state rather than wait without a bound.
    throw new StatesRuntimeError(
      `The timer path '${path}' does not resolve to a positive integer in the state's input`,
    );
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0 || value > MAX_TIMER_SECONDS)
    return undefined;
  return value;
}

function replaceString(value: JsonValue, search: string, replacement: string): JsonValue {
  if (typeof value === 'string')
    return value.includes(search) ? value.split(search).join(replacement) : value;
  if (Array.isArray(value)) return value.map((item) => replaceString(item, search, replacement));
  if (isObject(value)) {
    return Object.fromEntries(
      Object.entries(value).map(([key, item]) => [key, replaceString(item, search, replacement)]),
    );
  }
  return value;
}

async function perform(integration: Integration, parameters: JsonValue, host: TaskHost): Promise<JsonValue> {
  switch (integration.action) {
    case 'lambda:function':
      return (await invokeLambda(host, integration.resource, parameters)).payload;
    case 'lambda:invoke':
      return invokeLambdaOptimized(host, parameters);
    case 'sqs:sendMessage':
      return sendSqsMessage(host, parameters);
    case 'events:putEvents':
      return putEvents(host, parameters);
  }
}

function sdkMetadata(contentType: string): JsonObject {
  const requestId = randomUUID();
  return {
    SdkHttpMetadata: {
      HttpHeaders: { 'Content-Type': contentType, 'x-amzn-RequestId': requestId },
      HttpStatusCode: 200,
    },
    SdkResponseMetadata: { RequestId: requestId },
  };
}

function requireParameters(parameters: JsonValue, integration: string): JsonObject {
  if (!isObject(parameters)) {
    throw new TaskFailedError('States.Runtime', `The parameters of ${integration} must be a JSON object`);
  }
  return parameters;
}

async function invokeLambda(
  host: TaskHost,
  functionName: string,
  payload: JsonValue,
): Promise<{ payload: JsonValue }> {
  const lambda = host.services()?.lambda;
  if (!lambda) {
    throw new TaskFailedError(
      'Lambda.ServiceException',
      'No Lambda service runs in this local runtime (services.lambda is not set)',
    );
  }
  let result: LambdaResult;
  try {
    result = await lambda.invoke(functionName, payload);
  } catch (error) {
    const name = error instanceof Error ? error.name : '';
    throw new TaskFailedError(
      name.endsWith('Exception') ? `Lambda.${name}` : 'Lambda.ServiceException',
      error instanceof Error ? error.message : String(error),
    );
  }
  if (!result.ok) {
    throw new TaskFailedError(
      result.errorType,
      JSON.stringify({ errorType: result.errorType, errorMessage: result.errorMessage }),
    );
  }
  return { payload: (result.payload ?? null) as JsonValue };
}

async function invokeLambdaOptimized(host: TaskHost, parameters: JsonValue): Promise<JsonValue> {
  const params = requireParameters(parameters, 'lambda:invoke');
  const { FunctionName: functionName, Qualifier: qualifier, InvocationType: invocationType } = params;
  if (typeof functionName !== 'string') {
    throw new TaskFailedError('Lambda.InvalidParameterValueException', 'FunctionName must be a string');
  }
  const payload = Object.hasOwn(params, 'Payload') ? (params.Payload ?? null) : {};
  const executedVersion = typeof qualifier === 'string' ? qualifier : '$LATEST';
  if (invocationType === 'Event') {
    const lambda = host.services()?.lambda;
    if (!lambda)
      throw new TaskFailedError('Lambda.ServiceException', 'No Lambda service runs in this local runtime');
    // An asynchronous invocation's outcome never reaches the caller.
    lambda.invoke(functionName, payload).catch(() => {});
    return {
      ExecutedVersion: executedVersion,
      Payload: '',
      ...sdkMetadata('application/json'),
      StatusCode: 202,
    };
  }
  const { payload: result } = await invokeLambda(host, functionName, payload);
  return {
    ExecutedVersion: executedVersion,
    Payload: result,
    ...sdkMetadata('application/json'),
    StatusCode: 200,
  };
}

async function sendSqsMessage(host: TaskHost, parameters: JsonValue): Promise<JsonValue> {
  const params = requireParameters(parameters, 'sqs:sendMessage');
  const sqs = host.services()?.get('sqs');
  if (!isSqsSender(sqs)) {
    throw new TaskFailedError(
      'SQS.SdkClientException',
      "No SQS provider with an in-process sendMessage is registered in this runtime (services.get('sqs')); " +
        'start the provider that local/runtime/providers/sqs.ts exports',
    );
  }
  const { QueueUrl: queueUrl, MessageBody: messageBody, MessageAttributes: attributes } = params;
  if (typeof queueUrl !== 'string' || messageBody === undefined) {
    throw new TaskFailedError('SQS.SdkClientException', 'sqs:sendMessage needs QueueUrl and MessageBody');
  }
  const body = typeof messageBody === 'string' ? messageBody : JSON.stringify(messageBody);
  let sent: SqsSendResult;
  try {
    sent = await sqs.sendMessage(
      queueUrl,
      body,
      isObject(attributes) ? (attributes as unknown as Record<string, SqsMessageAttributeValue>) : undefined,
    );
  } catch (error) {
    const name = error instanceof Error ? error.name : '';
    const exception = /QueueDoesNotExist|NonExistentQueue/.test(name)
      ? 'QueueDoesNotExistException'
      : name.endsWith('Exception')
        ? name
        : 'AmazonSQSException';
    throw new TaskFailedError(`SQS.${exception}`, error instanceof Error ? error.message : String(error));
  }
  return {
    MD5OfMessageBody: sent.md5OfMessageBody ?? createHash('md5').update(body).digest('hex'),
    MessageId: sent.messageId,
    ...sdkMetadata('application/x-amz-json-1.0'),
  };
}

async function putEvents(host: TaskHost, parameters: JsonValue): Promise<JsonValue> {
  const params = requireParameters(parameters, 'events:putEvents');
  if (!Array.isArray(params.Entries)) {
    throw new TaskFailedError('EventBridge.ValidationException', 'events:putEvents needs an Entries array');
  }
  const entries: EventBridgeEntry[] = params.Entries.filter(isObject).map((entry) => ({
    ...(entry as Omit<EventBridgeEntry, 'Detail'>),
    Detail: typeof entry.Detail === 'string' ? entry.Detail : JSON.stringify(entry.Detail ?? {}),
  }));
  host.onPutEvents(entries);
  const events = host.services()?.get('events');
  const result: PutEventsResult = isEventsPublisher(events)
    ? await events.putEvents(entries)
    : { Entries: entries.map(() => ({ EventId: randomUUID() })), FailedEntryCount: 0 };
  const output = {
    Entries: result.Entries,
    FailedEntryCount: result.FailedEntryCount,
  } as unknown as JsonObject;
  if (result.FailedEntryCount > 0)
    throw new TaskFailedError('EventBridge.FailedEntry', JSON.stringify(output));
  return output;
}
