/**
 * The Lambda provider of the offline runtime (DESIGN §6.1).
 *
 * - **Deploy.** `AWS::Lambda::Function` runs from its esbuild asset in the cloud assembly
 *   (`<assemblyDir>/<Metadata aws:asset:path>`, else `asset.<S3Key hash>`).
 *   `AWS::Lambda::EventSourceMapping` is recorded, and polled when its source is SQS.
 * - **Execution.** Every function gets a small pool of `worker_threads` Workers, each one
 *   execution environment: its own `process.env` (the template's variables plus what the
 *   Lambda runtime sets, nothing of the parent's) and its own module cache. The first
 *   invocation on a worker is the cold start (module load, reported as init duration);
 *   later ones reuse an idle warm worker. Past `maxConcurrency` workers, invocations
 *   queue. On `Timeout` the worker is terminated and the invocation fails with
 *   `Sandbox.Timedout`, as on AWS.
 * - **API.** The Lambda REST API subset the SDK and the CLI need: Invoke
 *   (RequestResponse, Event, DryRun; LogType Tail), ListFunctions, GetFunction,
 *   GetFunctionConfiguration, ListEventSourceMappings, GetEventSourceMapping.
 * - **In process.** `invoke()` is the `LambdaInvoker` that API Gateway and Step
 *   Functions use, with no HTTP in between.
 *
 * SQS event source mappings: an enabled mapping whose source is a queue of the SQS
 * provider (`context.services.get('sqs')`, its in-process API) is polled from deploy to
 * `stop()`, as Lambda's pollers do. Each poller long-polls up to `BatchSize` messages
 * (within `MaximumBatchingWindowInSeconds`), invokes the function with the `aws:sqs`
 * event, deletes what succeeded and leaves the rest to the queue's visibility timeout,
 * so the SQS provider's redrive policy moves them to the DLQ. With
 * ReportBatchItemFailures only the reported `batchItemFailures` stay; an error or a
 * timeout keeps the whole batch. Pollers per mapping: `ScalingConfig.MaximumConcurrency`,
 * capped at `maxConcurrency`. `invokeSqsBatch()` runs one batch by hand.
 *
 * Differences from AWS:
 * - At most `maxConcurrency` (default 4) execution environments per function, and more
 *   invocations queue; AWS starts one per concurrent invocation up to the account's limit.
 * - The Node.js version is the host's; `Runtime` only names `AWS_EXECUTION_ENV`. Only
 *   `nodejs*` runtimes deploy.
 * - `MemorySize` is reported (context, env, REPORT) but not enforced. Workers share the
 *   host's process: `/tmp`, the working directory and the time zone.
 * - A promise or callback ends the invocation; `callbackWaitsForEmptyEventLoop` is not
 *   honoured, and timers left running stay with the warm worker.
 * - Event invocations are not retried and have no destinations. Versions, aliases,
 *   layers, function URLs, response streaming, provisioned or reserved concurrency are
 *   not emulated. The X-Ray trace header is never sampled, so no segments are sent.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Worker } from 'node:worker_threads';
import {
  isSqsProvider,
  type ReceivedMessage,
  type SqsInProcessApi,
  toLambdaSqsRecord,
} from '#local/runtime/providers/sqs';
import {
  type AwsRequest,
  type AwsResponse,
  DEFAULT_REGION,
  type DeployContext,
  type DeployedResource,
  type LambdaInvoker,
  type LambdaResult,
  LOCAL_ACCOUNT_ID,
  type Provider,
  type ResolvedResource,
  type UsageReport,
} from '#local/runtime/types';

const WORKER_FILE = join(__dirname, 'lambda-worker.cjs');
const API_VERSION_PREFIX = '/2015-03-31';
const FUNCTION_TYPE = 'AWS::Lambda::Function';
const MAPPING_TYPE = 'AWS::Lambda::EventSourceMapping';
/** Lambda's synchronous payload quota (request and response). */
const SYNC_PAYLOAD_LIMIT = 6 * 1024 * 1024;
/** Lambda's asynchronous (Event) payload quota. */
const ASYNC_PAYLOAD_LIMIT = 1024 * 1024;
/** ReceiveMessage's MaxNumberOfMessages limit. */
const SQS_RECEIVE_MAX = 10;
/** `X-Amz-Log-Result` carries the last 4 KB of the invocation's log. */
const LOG_TAIL_BYTES = 4096;

export interface LambdaProviderOptions {
  /** Workers (concurrent executions) per function; more invocations queue. @default 4 */
  readonly maxConcurrency?: number;
  /** Invocations that may wait for a worker, per function, before TooManyRequestsException. @default 1000 */
  readonly maxQueueLength?: number;
  /** How long an idle warm worker is kept before it is terminated. @default 300_000 */
  readonly idleTimeoutMs?: number;
  /** Limit on loading the handler module, as Lambda's 10 s init phase. @default 10_000 */
  readonly initTimeoutMs?: number;
  /** Where function output and REPORT lines go. @default the deploy context's `log` */
  readonly log?: (message: string) => void;
}

/** A deployed function as the provider runs it. */
export interface LambdaFunction {
  readonly logicalId: string;
  readonly name: string;
  readonly arn: string;
  /** Absolute folder of the bundled code (LAMBDA_TASK_ROOT). */
  readonly codeDir: string;
  readonly handler: string;
  readonly runtime: string;
  readonly timeoutSeconds: number;
  readonly memorySize: number;
  readonly description: string;
  /** The template's variables only, as GetFunction reports them. */
  readonly variables: Readonly<Record<string, string>>;
  /** What the worker's `process.env` starts from (minus the per-worker log stream name). */
  readonly environment: Readonly<Record<string, string>>;
  readonly logGroupName: string;
  readonly logFormat: 'Text' | 'JSON';
  readonly architectures: readonly string[];
  readonly tracingMode: string;
  readonly role: string;
  readonly lastModified: string;
  /** Bytes of the code folder, and its digest: what Lambda reports for the zip. */
  readonly codeSize: number;
  readonly codeSha256: string;
}

/** A recorded `AWS::Lambda::EventSourceMapping`. */
export interface EventSourceMapping {
  readonly uuid: string;
  readonly arn: string;
  readonly logicalId: string;
  readonly functionName: string;
  readonly functionArn: string;
  readonly eventSourceArn: string;
  readonly batchSize: number;
  readonly maximumBatchingWindowInSeconds: number;
  readonly functionResponseTypes: readonly string[];
  /** `FunctionResponseTypes` includes `ReportBatchItemFailures`. */
  readonly reportBatchItemFailures: boolean;
  readonly enabled: boolean;
  /** `ScalingConfig.MaximumConcurrency`, when set; the poller should not exceed it. */
  readonly maximumConcurrency?: number;
  /** Epoch seconds, as the API reports it. */
  readonly lastModified: number;
}

/** One invocation's result: the `LambdaResult` contract plus what Lambda reports about it. */
export type LambdaInvocation = LambdaResult & {
  readonly requestId: string;
  /** True when this invocation loaded the module on a new worker. */
  readonly coldStart: boolean;
  /** Module load time on a cold start (Lambda's "Init Duration"). */
  readonly initDurationMs?: number;
};

export interface InvokeOptions {
  /** The ARN to report as `context.invokedFunctionArn`. @default the function's ARN */
  readonly invokedFunctionArn?: string;
  /** Base64 JSON, as the `X-Amz-Client-Context` header carries it. */
  readonly clientContext?: string;
}

export interface SqsBatchOutcome {
  readonly invocation: LambdaInvocation;
  /** Messages to leave on the queue: all of them on an error, else the reported failures. */
  readonly failedMessageIds: readonly string[];
}

export interface LambdaProvider extends Provider, LambdaInvoker {
  invoke(functionNameOrArn: string, event: unknown, options?: InvokeOptions): Promise<LambdaInvocation>;
  /** The deployed functions, in deploy order. */
  functions(): readonly LambdaFunction[];
  /** The recorded event source mappings. */
  eventSourceMappings(): readonly EventSourceMapping[];
  /** Runs one SQS batch through a mapping and says which messages failed. */
  invokeSqsBatch(mappingUuid: string, messages: readonly ReceivedMessage[]): Promise<SqsBatchOutcome>;
  /** Mappings being polled right now, by UUID. */
  pollingMappings(): readonly string[];
  /** Workers alive (starting, busy or idle), over all functions. */
  workerCount(): number;
}

/** An error the Lambda API reports with an AWS error type and an HTTP status. */
export class LambdaServiceError extends Error {
  constructor(
    message: string,
    readonly awsErrorType: string,
    readonly statusCode: number,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'LambdaServiceError';
  }
}

export class LambdaFunctionNotFoundError extends LambdaServiceError {
  constructor(message: string) {
    super(message, 'ResourceNotFoundException', 404);
    this.name = 'LambdaFunctionNotFoundError';
  }
}

export class LambdaThrottledError extends LambdaServiceError {
  constructor(message: string) {
    super(message, 'TooManyRequestsException', 429);
    this.name = 'LambdaThrottledError';
  }
}

/** A template resource this provider cannot run, e.g. a missing asset folder. */
export class LambdaDeployError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'LambdaDeployError';
  }
}

// ---------------------------------------------------------------- worker protocol

interface SerializedError {
  readonly errorType: string;
  readonly errorMessage: string;
  readonly trace: readonly string[];
}

type WorkerMessage =
  | { readonly type: 'ready'; readonly initDurationMs: number }
  | { readonly type: 'init-error'; readonly error: SerializedError }
  | { readonly type: 'log'; readonly stream: 'stdout' | 'stderr'; readonly text: string }
  | {
      readonly type: 'result';
      readonly requestId: string;
      readonly heapUsedMb: number;
      readonly ok: true;
      readonly payloadJson: string;
    }
  | {
      readonly type: 'result';
      readonly requestId: string;
      readonly heapUsedMb: number;
      readonly ok: false;
      readonly error: SerializedError;
    };

/** What one invocation produced, before it is shaped for the caller. */
interface Outcome {
  readonly invocation: LambdaInvocation;
  /** The response body Invoke returns: the payload, or the error document. */
  readonly body: string;
  readonly traceId: string;
  readonly logLines: readonly string[];
}

interface Job {
  readonly requestId: string;
  readonly eventJson: string;
  readonly invokedFunctionArn: string;
  readonly clientContextJson?: string;
  readonly traceId: string;
  readonly resolve: (outcome: Outcome) => void;
  coldStart: boolean;
  initDurationMs?: number;
  startedAt: number;
  timer?: NodeJS.Timeout;
  readonly logLines: string[];
}

interface Slot {
  readonly worker: Worker;
  state: 'starting' | 'idle' | 'busy' | 'exited';
  job?: Job;
  idleTimer?: NodeJS.Timeout;
  readonly partial: { stdout: string; stderr: string };
}

// ---------------------------------------------------------------- provider

/**
 * Creates the Lambda provider.
 * @example
 * const lambda = createLambdaProvider({ maxConcurrency: 2 });
 * const { ref } = await lambda.deploy(resource, context); // the function name
 * const result = await lambda.invoke(ref, { hello: 'world' });
 * if (result.ok) console.log(result.payload, result.durationMs, result.coldStart);
 * await lambda.stop();
 */
export function createLambdaProvider(options: LambdaProviderOptions = {}): LambdaProvider {
  const maxConcurrency = Math.max(1, options.maxConcurrency ?? 4);
  const maxQueueLength = options.maxQueueLength ?? 1000;
  const idleTimeoutMs = options.idleTimeoutMs ?? 300_000;
  const initTimeoutMs = options.initTimeoutMs ?? 10_000;

  const functionsByName = new Map<string, FunctionRuntime>();
  const mappings = new Map<string, EventSourceMapping>();
  const background = new Set<Promise<unknown>>();
  const pollers = new Map<
    string,
    { readonly controller: AbortController; readonly loops: Promise<void>[] }
  >();
  let stopped = false;
  /** SQS requests the event source mappings make, as Lambda's pollers would (billed to the queue owner). */
  const esmUsage = { receive_requests: 0, delete_batch_requests: 0, messages: 0 };
  /** Region and account of ARNs in error messages: the runtime's, once it told us. */
  let home = { region: DEFAULT_REGION, accountId: LOCAL_ACCOUNT_ID };

  /** One function's pool of execution environments. */
  class FunctionRuntime {
    private readonly slots = new Set<Slot>();
    private readonly idle: Slot[] = [];
    private readonly queue: Job[] = [];
    /** Cumulative, for `usage()`: what Lambda would bill, and the log bytes CloudWatch would ingest. */
    readonly usage = {
      invocations: 0,
      errors: 0,
      cold_starts: 0,
      duration_ms: 0,
      billed_ms: 0,
      log_bytes: 0,
    };

    constructor(
      readonly config: LambdaFunction,
      readonly log: (message: string) => void,
    ) {}

    get workerCount(): number {
      return this.slots.size;
    }

    run(job: Job): void {
      if (this.queue.length >= maxQueueLength) {
        throw new LambdaThrottledError(`Rate Exceeded. ${this.queue.length} invocations already wait.`);
      }
      this.queue.push(job);
      this.pump();
    }

    async stop(): Promise<void> {
      const message = 'The offline runtime stopped before this invocation completed.';
      for (const job of this.queue.splice(0)) job.resolve(this.failure(job, 'Runtime.Stopped', message));
      for (const slot of this.slots) {
        const { job } = slot;
        if (!job) continue;
        slot.job = undefined;
        clearTimeout(job.timer);
        job.resolve(this.failure(job, 'Runtime.Stopped', message));
      }
      await Promise.all([...this.slots].map((slot) => this.retire(slot)));
    }

    private pump(): void {
      while (this.queue.length > 0 && !stopped) {
        const warm = this.idle.pop();
        if (warm) {
          clearTimeout(warm.idleTimer);
          this.dispatch(warm, this.queue.shift() as Job);
        } else if (this.slots.size < maxConcurrency) {
          this.spawn(this.queue.shift() as Job);
        } else {
          return;
        }
      }
    }

    private spawn(job: Job): void {
      const { config } = this;
      const logStreamName = newLogStreamName();
      const worker = new Worker(WORKER_FILE, {
        env: { ...config.environment, AWS_LAMBDA_LOG_STREAM_NAME: logStreamName },
        workerData: {
          taskRoot: config.codeDir,
          handler: config.handler,
          functionName: config.name,
          functionVersion: '$LATEST',
          memorySize: config.memorySize,
          logGroupName: config.logGroupName,
          logStreamName,
          logFormat: config.logFormat,
          enableSourceMaps: /--enable-source-maps\b/.test(config.variables.NODE_OPTIONS ?? ''),
        },
        // The function runs in a plain Node isolate, not under the host's loaders or flags.
        execArgv: [],
        // stdout and stderr come over the port (lambda-worker.cjs); reading the worker's own
        // streams here would keep the host process alive while the worker idles.
      });
      const slot: Slot = { worker, state: 'starting', partial: { stdout: '', stderr: '' } };
      this.slots.add(slot);
      job.coldStart = true;
      slot.job = job;
      job.startedAt = performance.now();
      job.timer = setTimeout(() => {
        this.abort(slot, 'Sandbox.Timedout', `INIT phase timed out after ${seconds(initTimeoutMs)} seconds`);
      }, initTimeoutMs);

      worker.on('message', (message: WorkerMessage) => this.onMessage(slot, message));
      worker.on('error', (error: Error) => {
        // An uncaught exception or unhandled rejection outside the handler's promise.
        this.abort(slot, error.name || 'Error', error.message);
      });
      worker.on('exit', (code) => {
        const wasExited = slot.state === 'exited';
        slot.state = 'exited';
        this.slots.delete(slot);
        this.removeIdle(slot);
        if (!wasExited && slot.job) {
          const { job: orphan } = slot;
          slot.job = undefined;
          clearTimeout(orphan.timer);
          orphan.resolve(
            this.failure(
              orphan,
              'Runtime.ExitError',
              `RequestId: ${orphan.requestId} Error: Runtime exited with error: exit status ${code}`,
            ),
          );
        }
        this.pump();
      });
    }

    private onMessage(slot: Slot, message: WorkerMessage): void {
      const { job } = slot;
      switch (message.type) {
        case 'log':
          this.onOutput(slot, message.stream, message.text);
          return;
        case 'ready':
          if (!job || slot.state !== 'starting') return;
          clearTimeout(job.timer);
          job.initDurationMs = message.initDurationMs;
          this.dispatch(slot, job);
          return;
        case 'init-error':
          this.abort(slot, message.error.errorType, message.error.errorMessage, message.error.trace);
          return;
        case 'result': {
          if (!job || job.requestId !== message.requestId) return;
          clearTimeout(job.timer);
          const durationMs = performance.now() - job.startedAt;
          this.flushOutput(slot);
          slot.job = undefined;
          this.logReport(job, durationMs, message.ok, message.heapUsedMb);
          const outcome: Outcome = message.ok
            ? {
                invocation: {
                  ok: true,
                  payload: JSON.parse(message.payloadJson),
                  durationMs,
                  coldStart: job.coldStart,
                  requestId: job.requestId,
                  initDurationMs: job.initDurationMs,
                },
                body: message.payloadJson,
                traceId: job.traceId,
                logLines: job.logLines,
              }
            : this.failure(job, message.error.errorType, message.error.errorMessage, message.error.trace);
          this.release(slot);
          job.resolve(outcome);
          return;
        }
      }
    }

    private dispatch(slot: Slot, job: Job): void {
      slot.state = 'busy';
      slot.job = job;
      slot.worker.ref();
      job.startedAt = performance.now();
      const timeoutMs = this.config.timeoutSeconds * 1000;
      job.timer = setTimeout(() => {
        this.abort(slot, 'Sandbox.Timedout', `Task timed out after ${seconds(timeoutMs)} seconds`);
      }, timeoutMs);
      this.record(job, `START RequestId: ${job.requestId} Version: $LATEST`);
      slot.worker.postMessage({
        type: 'invoke',
        requestId: job.requestId,
        eventJson: job.eventJson,
        invokedFunctionArn: job.invokedFunctionArn,
        timeoutMs,
        traceId: job.traceId,
        clientContextJson: job.clientContextJson,
      });
    }

    /** Back to the idle stack: warm, not keeping the host process alive, reaped when unused. */
    private release(slot: Slot): void {
      if (stopped || slot.state === 'exited') return;
      slot.state = 'idle';
      slot.worker.unref();
      slot.idleTimer = setTimeout(() => void this.retire(slot), idleTimeoutMs);
      slot.idleTimer.unref();
      this.idle.push(slot);
      this.pump();
    }

    /** Fails the slot's invocation with `errorType` and terminates the worker. */
    private abort(slot: Slot, errorType: string, errorMessage: string, trace: readonly string[] = []): void {
      const { job } = slot;
      if (job) {
        clearTimeout(job.timer);
        const durationMs = performance.now() - job.startedAt;
        this.flushOutput(slot);
        slot.job = undefined;
        if (errorType === 'Sandbox.Timedout') {
          this.emit(slot, `${new Date().toISOString()} ${job.requestId} ${errorMessage}`, job);
        }
        this.logReport(job, durationMs, false);
        job.resolve(this.failure(job, errorType, errorMessage, trace));
      }
      void this.retire(slot);
    }

    private async retire(slot: Slot): Promise<void> {
      clearTimeout(slot.idleTimer);
      this.removeIdle(slot);
      if (slot.state === 'exited') return;
      slot.state = 'exited';
      await slot.worker.terminate();
      this.slots.delete(slot);
    }

    private removeIdle(slot: Slot): void {
      const index = this.idle.indexOf(slot);
      if (index >= 0) this.idle.splice(index, 1);
    }

    private failure(
      job: Job,
      errorType: string,
      errorMessage: string,
      trace: readonly string[] = [],
    ): Outcome {
      const durationMs = job.startedAt ? performance.now() - job.startedAt : 0;
      return {
        invocation: {
          ok: false,
          errorType,
          errorMessage,
          durationMs,
          requestId: job.requestId,
          coldStart: job.coldStart,
          initDurationMs: job.initDurationMs,
        },
        body: JSON.stringify(
          trace.length > 0 ? { errorType, errorMessage, trace } : { errorType, errorMessage },
        ),
        traceId: job.traceId,
        logLines: job.logLines,
      };
    }

    private onOutput(slot: Slot, stream: 'stdout' | 'stderr', text: string): void {
      const lines = (slot.partial[stream] + text).split('\n');
      slot.partial[stream] = lines.pop() ?? '';
      for (const line of lines) this.emit(slot, line);
    }

    private flushOutput(slot: Slot): void {
      for (const stream of ['stdout', 'stderr'] as const) {
        if (slot.partial[stream]) this.emit(slot, slot.partial[stream]);
        slot.partial[stream] = '';
      }
    }

    private emit(slot: Slot, line: string, job = slot.job): void {
      job?.logLines.push(line);
      this.log(`[lambda:${this.config.name}] ${line}`);
    }

    private record(job: Job, line: string): void {
      job.logLines.push(line);
    }

    private logReport(job: Job, durationMs: number, ok: boolean, heapUsedMb?: number): void {
      // Since August 2025 Lambda bills the init phase of on-demand functions too.
      const billedMs = Math.ceil(durationMs + (job.initDurationMs ?? 0));
      const parts = [
        `REPORT RequestId: ${job.requestId}`,
        `Duration: ${durationMs.toFixed(2)} ms`,
        `Billed Duration: ${billedMs} ms`,
        `Memory Size: ${this.config.memorySize} MB`,
      ];
      if (heapUsedMb !== undefined) parts.push(`Max Memory Used: ${heapUsedMb} MB`);
      if (job.initDurationMs !== undefined) parts.push(`Init Duration: ${job.initDurationMs.toFixed(2)} ms`);
      this.record(job, `END RequestId: ${job.requestId}`);
      const report = parts.join('\t');
      this.record(job, report);
      this.usage.invocations += 1;
      if (!ok) this.usage.errors += 1;
      if (job.initDurationMs !== undefined) this.usage.cold_starts += 1;
      this.usage.duration_ms += durationMs;
      this.usage.billed_ms += billedMs;
      for (const line of job.logLines) this.usage.log_bytes += Buffer.byteLength(line) + 1;
      this.log(`[lambda:${this.config.name}] ${report}`);
    }
  }

  // ---------------------------------------------------------------- invocation

  function find(functionNameOrArn: string): FunctionRuntime {
    const { name, qualifier } = parseFunctionReference(functionNameOrArn);
    const runtime = functionsByName.get(name);
    if (!runtime || (qualifier !== undefined && qualifier !== '$LATEST')) {
      const arn = functionArn(home.region, home.accountId, name);
      throw new LambdaFunctionNotFoundError(`Function not found: ${qualifier ? `${arn}:${qualifier}` : arn}`);
    }
    return runtime;
  }

  function enqueue(
    runtime: FunctionRuntime,
    eventJson: string,
    invokeOptions: InvokeOptions,
    requestId: string = randomUUID(),
  ): Promise<Outcome> {
    if (stopped) {
      return Promise.reject(
        new LambdaServiceError('The offline runtime is stopped', 'ServiceException', 500),
      );
    }
    return new Promise<Outcome>((resolve) => {
      runtime.run({
        requestId,
        eventJson,
        invokedFunctionArn: invokeOptions.invokedFunctionArn ?? runtime.config.arn,
        clientContextJson: decodeClientContext(invokeOptions.clientContext),
        traceId: newTraceId(),
        resolve,
        coldStart: false,
        startedAt: 0,
        logLines: [],
      });
    });
  }

  async function invoke(
    functionNameOrArn: string,
    event: unknown,
    invokeOptions: InvokeOptions = {},
  ): Promise<LambdaInvocation> {
    const runtime = find(functionNameOrArn);
    const arn = functionNameOrArn.startsWith('arn:') ? functionNameOrArn : undefined;
    const outcome = await enqueue(runtime, JSON.stringify(event ?? {}), {
      invokedFunctionArn: arn,
      ...invokeOptions,
    });
    return outcome.invocation;
  }

  // ---------------------------------------------------------------- deploy

  function deployFunction(resource: ResolvedResource, context: DeployContext): DeployedResource {
    const props = resource.properties;
    const name = stringProp(props, 'FunctionName') ?? physicalName(context.stackName, resource.logicalId);
    if (functionsByName.has(name)) throw new LambdaDeployError(`Function ${name} is already deployed`);
    const arn = functionArn(context.region, context.accountId, name);
    const runtimeName = stringProp(props, 'Runtime') ?? 'nodejs20.x';
    if (!runtimeName.startsWith('nodejs')) {
      throw new LambdaDeployError(
        `${resource.logicalId}: runtime ${runtimeName} is not supported offline; only nodejs* functions run`,
      );
    }
    const codeDir = resolveCodeDir(resource, context.assemblyDir);
    const handler = stringProp(props, 'Handler') ?? 'index.handler';
    const memorySize = numberProp(props, 'MemorySize') ?? 128;
    const loggingConfig = recordProp(props, 'LoggingConfig');
    const logGroupName = stringProp(loggingConfig, 'LogGroup') ?? `/aws/lambda/${name}`;
    const variables = Object.fromEntries(
      Object.entries(recordProp(recordProp(props, 'Environment'), 'Variables')).map(([key, value]) => [
        key,
        String(value),
      ]),
    );
    const environment: Record<string, string> = {
      ...variables,
      // Lambda reserves these keys: the runtime's values win over the template's.
      AWS_REGION: context.region,
      AWS_DEFAULT_REGION: context.region,
      AWS_ACCESS_KEY_ID: 'test',
      AWS_SECRET_ACCESS_KEY: 'test',
      AWS_ENDPOINT_URL: context.endpoint,
      AWS_LAMBDA_FUNCTION_NAME: name,
      AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(memorySize),
      AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
      AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand',
      AWS_LAMBDA_LOG_GROUP_NAME: logGroupName,
      AWS_EXECUTION_ENV: `AWS_Lambda_${runtimeName}`,
      AWS_XRAY_CONTEXT_MISSING: 'LOG_ERROR',
      LAMBDA_TASK_ROOT: codeDir,
      _HANDLER: handler,
      // Handlers that spawn processes find binaries as on the host.
      PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
    };
    const config: LambdaFunction = {
      logicalId: resource.logicalId,
      name,
      arn,
      codeDir,
      handler,
      runtime: runtimeName,
      timeoutSeconds: numberProp(props, 'Timeout') ?? 3,
      memorySize,
      description: stringProp(props, 'Description') ?? '',
      variables,
      environment,
      logGroupName,
      logFormat: stringProp(loggingConfig, 'LogFormat') === 'JSON' ? 'JSON' : 'Text',
      architectures: arrayProp(props, 'Architectures').map(String),
      tracingMode: stringProp(recordProp(props, 'TracingConfig'), 'Mode') ?? 'PassThrough',
      role: stringProp(props, 'Role') ?? `arn:aws:iam::${context.accountId}:role/${name}-role`,
      lastModified: lambdaTimestamp(new Date()),
      ...digestCode(codeDir),
    };
    functionsByName.set(name, new FunctionRuntime(config, options.log ?? context.log));
    return { ref: name, attributes: { Arn: arn } };
  }

  function deployMapping(resource: ResolvedResource, context: DeployContext): DeployedResource {
    const props = resource.properties;
    const target = stringProp(props, 'FunctionName');
    if (!target) throw new LambdaDeployError(`${resource.logicalId}: FunctionName is required`);
    const fn = functionsByName.get(parseFunctionReference(target).name);
    if (!fn) {
      throw new LambdaDeployError(
        `${resource.logicalId}: function ${target} is not deployed (deploy it first)`,
      );
    }
    const eventSourceArn = stringProp(props, 'EventSourceArn');
    if (!eventSourceArn) throw new LambdaDeployError(`${resource.logicalId}: EventSourceArn is required`);
    const uuid = randomUUID();
    const functionResponseTypes = arrayProp(props, 'FunctionResponseTypes').map(String);
    const maximumConcurrency = numberProp(recordProp(props, 'ScalingConfig'), 'MaximumConcurrency');
    const mapping: EventSourceMapping = {
      uuid,
      arn: `arn:aws:lambda:${context.region}:${context.accountId}:event-source-mapping:${uuid}`,
      logicalId: resource.logicalId,
      functionName: fn.config.name,
      functionArn: fn.config.arn,
      eventSourceArn,
      batchSize: numberProp(props, 'BatchSize') ?? 10,
      maximumBatchingWindowInSeconds: numberProp(props, 'MaximumBatchingWindowInSeconds') ?? 0,
      functionResponseTypes,
      reportBatchItemFailures: functionResponseTypes.includes('ReportBatchItemFailures'),
      enabled: props.Enabled !== false && props.Enabled !== 'false',
      lastModified: Math.floor(Date.now() / 1000),
      ...(maximumConcurrency === undefined ? {} : { maximumConcurrency }),
    };
    mappings.set(uuid, mapping);
    if (!mapping.enabled) {
      fn.log(`[lambda:${fn.config.name}] event source mapping ${uuid} is disabled: not polled`);
    } else if (!eventSourceArn.startsWith('arn:aws:sqs:')) {
      fn.log(`[lambda:${fn.config.name}] event source ${eventSourceArn} is recorded but not polled offline`);
    } else {
      const sqs = context.services.get('sqs');
      if (isSqsProvider(sqs)) startSqsPollers(mapping, sqs, fn.log);
      else fn.log(`[lambda:${fn.config.name}] no SQS provider: ${eventSourceArn} is recorded but not polled`);
    }
    return { ref: uuid, attributes: { Id: uuid, EventSourceMappingArn: mapping.arn } };
  }

  // ---------------------------------------------------------------- SQS batches

  async function invokeSqsBatch(
    mappingUuid: string,
    messages: readonly ReceivedMessage[],
  ): Promise<SqsBatchOutcome> {
    const mapping = mappings.get(mappingUuid);
    if (!mapping)
      throw new LambdaServiceError(
        `Event source mapping ${mappingUuid} not found`,
        'ResourceNotFoundException',
        404,
      );
    const awsRegion = mapping.eventSourceArn.split(':')[3] ?? DEFAULT_REGION;
    const event = { Records: messages.map((message) => toLambdaSqsRecord(message, awsRegion)) };
    const invocation = await invoke(mapping.functionArn, event);
    const all = messages.map((message) => message.messageId);
    if (!invocation.ok) return { invocation, failedMessageIds: all };
    if (!mapping.reportBatchItemFailures) return { invocation, failedMessageIds: [] };
    return { invocation, failedMessageIds: batchItemFailures(invocation.payload, all) };
  }

  function startSqsPollers(
    mapping: EventSourceMapping,
    sqs: SqsInProcessApi,
    log: (message: string) => void,
  ) {
    const controller = new AbortController();
    const count = Math.min(mapping.maximumConcurrency ?? maxConcurrency, maxConcurrency);
    const loops = Array.from({ length: count }, () => pollSqs(mapping, sqs, log, controller.signal));
    pollers.set(mapping.uuid, { controller, loops });
  }

  /** One poller: receive a batch, invoke, delete what succeeded; until stop(). */
  async function pollSqs(
    mapping: EventSourceMapping,
    sqs: SqsInProcessApi,
    log: (message: string) => void,
    signal: AbortSignal,
  ): Promise<void> {
    while (!signal.aborted) {
      try {
        const messages = await receiveBatch(mapping, sqs, signal);
        if (messages.length === 0) continue;
        esmUsage.messages += messages.length;
        const { failedMessageIds } = await invokeSqsBatch(mapping.uuid, messages);
        const failed = new Set(failedMessageIds);
        // Lambda deletes a batch's successes with DeleteMessageBatch, ten entries a request.
        esmUsage.delete_batch_requests += Math.ceil((messages.length - failed.size) / SQS_RECEIVE_MAX);
        for (const message of messages) {
          if (!failed.has(message.messageId))
            await sqs.deleteMessage(mapping.eventSourceArn, message.receiptHandle);
        }
      } catch (error) {
        if (signal.aborted || stopped || (error as Error).name === 'SqsStoppedError') return;
        log(
          `[lambda:${mapping.functionName}] event source mapping ${mapping.uuid} on ${mapping.eventSourceArn}: ` +
            `${(error as Error).message}; polling again in 1 s`,
        );
        await sleep(1000, undefined, { signal }).catch(() => {});
      }
    }
  }

  /** Up to BatchSize messages: a 20 s long poll for the first, more within the batching window. */
  async function receiveBatch(
    mapping: EventSourceMapping,
    sqs: SqsInProcessApi,
    signal: AbortSignal,
  ): Promise<ReceivedMessage[]> {
    const max = (wanted: number) => Math.min(SQS_RECEIVE_MAX, wanted);
    esmUsage.receive_requests += 1;
    const batch = await sqs.receiveMessages(mapping.eventSourceArn, {
      max: max(mapping.batchSize),
      waitSeconds: 20,
      signal,
    });
    const windowEnds = Date.now() + mapping.maximumBatchingWindowInSeconds * 1000;
    while (batch.length > 0 && batch.length < mapping.batchSize && !signal.aborted) {
      const remainingSeconds = Math.floor((windowEnds - Date.now()) / 1000);
      const more = await sqs.receiveMessages(mapping.eventSourceArn, {
        max: max(mapping.batchSize - batch.length),
        waitSeconds: Math.min(20, Math.max(0, remainingSeconds)),
        signal,
      });
      esmUsage.receive_requests += 1;
      if (more.length === 0) break;
      batch.push(...more);
    }
    return batch;
  }

  // ---------------------------------------------------------------- HTTP API

  async function handle(request: AwsRequest): Promise<AwsResponse> {
    try {
      return await route(request);
    } catch (error) {
      if (error instanceof LambdaServiceError)
        return lambdaError(error.statusCode, error.awsErrorType, error.message);
      throw error;
    }
  }

  async function route(request: AwsRequest): Promise<AwsResponse> {
    const segments = request.path
      .split('/')
      .filter((segment) => segment !== '')
      .map((segment) => decodeURIComponent(segment));
    const [version, collection, id, action] = segments;
    if (version === API_VERSION_PREFIX.slice(1) && collection === 'functions') {
      if (segments.length === 2 && request.method === 'GET') return listFunctions(request);
      if (id !== undefined && segments.length === 3 && request.method === 'GET')
        return getFunction(request, id);
      if (
        id !== undefined &&
        action === 'configuration' &&
        segments.length === 4 &&
        request.method === 'GET'
      ) {
        return json(200, configurationOf(findForApi(request, id).config));
      }
      if (
        id !== undefined &&
        action === 'invocations' &&
        segments.length === 4 &&
        request.method === 'POST'
      ) {
        return invokeOverHttp(request, id);
      }
    }
    if (version === API_VERSION_PREFIX.slice(1) && collection === 'event-source-mappings') {
      if (segments.length === 2 && request.method === 'GET') return listMappings(request);
      if (id !== undefined && segments.length === 3 && request.method === 'GET') {
        const mapping = mappings.get(id);
        if (!mapping)
          throw new LambdaServiceError(
            `The resource you requested does not exist. (Service: Lambda, Status Code: 404)`,
            'ResourceNotFoundException',
            404,
          );
        return json(200, mappingConfigurationOf(mapping));
      }
    }
    const operation = operationName(request.method, segments);
    return lambdaError(
      501,
      'InternalFailure',
      `The offline runtime does not implement lambda ${operation} (${request.method} ${request.path})`,
    );
  }

  function findForApi(request: AwsRequest, functionNameOrArn: string): FunctionRuntime {
    const qualifier = request.query.get('Qualifier');
    return find(qualifier ? `${functionNameOrArn}:${qualifier}` : functionNameOrArn);
  }

  async function invokeOverHttp(request: AwsRequest, functionNameOrArn: string): Promise<AwsResponse> {
    const runtime = findForApi(request, functionNameOrArn);
    const invocationType = header(request, 'x-amz-invocation-type') ?? 'RequestResponse';
    const logType = header(request, 'x-amz-log-type') ?? 'None';
    const limit = invocationType === 'Event' ? ASYNC_PAYLOAD_LIMIT : SYNC_PAYLOAD_LIMIT;
    if (request.body.length > limit) {
      throw new LambdaServiceError(
        `Request must be smaller than ${limit} bytes for the ${invocationType} invocation type`,
        'RequestTooLargeException',
        413,
      );
    }
    const text = request.body.toString('utf8');
    let eventJson = '{}';
    if (text.trim() !== '') {
      try {
        eventJson = JSON.stringify(JSON.parse(text));
      } catch (error) {
        throw new LambdaServiceError(
          `Could not parse request body into json: ${(error as Error).message}`,
          'InvalidRequestContentException',
          400,
          { cause: error },
        );
      }
    }
    const invokeOptions: InvokeOptions = {
      invokedFunctionArn: functionNameOrArn.startsWith('arn:') ? functionNameOrArn : runtime.config.arn,
      clientContext: header(request, 'x-amz-client-context'),
    };
    switch (invocationType) {
      case 'DryRun':
        return { status: 204, headers: { 'x-amzn-requestid': randomUUID() } };
      case 'Event': {
        const requestId = randomUUID();
        // Lambda retries failed async invocations twice; offline, the failure is only logged.
        const pending = enqueue(runtime, eventJson, invokeOptions, requestId).then(
          ({ invocation }) => {
            if (invocation.ok) return;
            runtime.log(
              `[lambda:${runtime.config.name}] Event invocation ${requestId} failed: ` +
                `${invocation.errorType}: ${invocation.errorMessage}`,
            );
          },
          () => {},
        );
        background.add(pending);
        void pending.finally(() => background.delete(pending));
        return { status: 202, headers: { 'x-amzn-requestid': requestId } };
      }
      case 'RequestResponse': {
        const outcome = await enqueue(runtime, eventJson, invokeOptions);
        const headers: Record<string, string> = {
          'content-type': 'application/json',
          'x-amzn-requestid': outcome.invocation.requestId,
          'x-amz-executed-version': '$LATEST',
          'x-amzn-trace-id': outcome.traceId,
        };
        if (logType === 'Tail') headers['x-amz-log-result'] = logTail(outcome.logLines);
        if (!outcome.invocation.ok) {
          headers['x-amz-function-error'] = 'Unhandled';
          return { status: 200, headers, body: outcome.body };
        }
        if (Buffer.byteLength(outcome.body) > SYNC_PAYLOAD_LIMIT) {
          headers['x-amz-function-error'] = 'Unhandled';
          return {
            status: 200,
            headers,
            body: JSON.stringify({
              errorType: 'Function.ResponseSizeTooLarge',
              errorMessage: `Response payload size exceeded maximum allowed payload size (${SYNC_PAYLOAD_LIMIT} bytes).`,
            }),
          };
        }
        return { status: 200, headers, body: outcome.body };
      }
      default:
        throw new LambdaServiceError(
          `1 validation error detected: Value '${invocationType}' at 'invocationType' failed to satisfy constraint: Member must satisfy enum value set: [Event, RequestResponse, DryRun]`,
          'InvalidParameterValueException',
          400,
        );
    }
  }

  function listFunctions(request: AwsRequest): AwsResponse {
    const all = [...functionsByName.values()].map((runtime) => configurationOf(runtime.config));
    return json(200, paginate(all, request, 'Functions', 50));
  }

  function getFunction(request: AwsRequest, functionNameOrArn: string): AwsResponse {
    const { config } = findForApi(request, functionNameOrArn);
    return json(200, {
      Configuration: configurationOf(config),
      Code: { RepositoryType: 'S3', Location: `file://${config.codeDir}` },
      Tags: {},
    });
  }

  function listMappings(request: AwsRequest): AwsResponse {
    const functionFilter = request.query.get('FunctionName');
    const sourceFilter = request.query.get('EventSourceArn');
    const wanted = functionFilter ? parseFunctionReference(functionFilter).name : undefined;
    const all = [...mappings.values()]
      .filter((mapping) => wanted === undefined || mapping.functionName === wanted)
      .filter((mapping) => !sourceFilter || mapping.eventSourceArn === sourceFilter)
      .map(mappingConfigurationOf);
    return json(200, paginate(all, request, 'EventSourceMappings', 100));
  }

  return {
    service: 'lambda',
    resourceTypes: [FUNCTION_TYPE, MAPPING_TYPE],
    matches(request) {
      return (
        request.signingService === 'lambda' ||
        request.path.startsWith(`${API_VERSION_PREFIX}/functions`) ||
        request.path.startsWith(`${API_VERSION_PREFIX}/event-source-mappings`)
      );
    },
    handle,
    usage: () => lambdaUsage([...functionsByName.values()], esmUsage),
    async start(context) {
      home = { region: context.region, accountId: context.accountId };
    },
    async deploy(resource, context) {
      if (stopped) throw new LambdaDeployError('The Lambda provider is stopped');
      home = { region: context.region, accountId: context.accountId };
      if (resource.type === FUNCTION_TYPE) return deployFunction(resource, context);
      if (resource.type === MAPPING_TYPE) return deployMapping(resource, context);
      throw new LambdaDeployError(`The Lambda provider does not deploy ${resource.type}`);
    },
    async stop() {
      stopped = true;
      for (const poller of pollers.values()) poller.controller.abort();
      await Promise.all([...functionsByName.values()].map((runtime) => runtime.stop()));
      await Promise.allSettled([...pollers.values()].flatMap((poller) => poller.loops));
      pollers.clear();
      await Promise.allSettled([...background]);
    },
    invoke,
    functions: () => [...functionsByName.values()].map((runtime) => runtime.config),
    eventSourceMappings: () => [...mappings.values()],
    invokeSqsBatch,
    pollingMappings: () => [...pollers.keys()],
    workerCount: () => [...functionsByName.values()].reduce((sum, runtime) => sum + runtime.workerCount, 0),
  };
}

// ---------------------------------------------------------------- helpers

/**
 * `name`, `name:qualifier`, `123456789012:function:name[:qualifier]` or a full ARN.
 * @example
 * parseFunctionReference('arn:aws:lambda:us-east-1:000000000000:function:f:$LATEST'); // { name: 'f', qualifier: '$LATEST' }
 */
export function parseFunctionReference(reference: string): { name: string; qualifier?: string } {
  const parts = reference.split(':');
  if (parts[0] === 'arn') return { name: parts[6] ?? '', qualifier: parts[7] };
  if (parts[1] === 'function') return { name: parts[2] ?? '', qualifier: parts[3] };
  return { name: parts[0] ?? '', qualifier: parts[1] };
}

/**
 * The provider's counters for `GET /_aws/usage`: per function and in all, invocations, errors,
 * billed milliseconds and GB-seconds (billed ms × the function's MemorySize), log bytes; and the
 * event source mappings' SQS requests.
 */
function lambdaUsage(
  runtimes: readonly { readonly config: LambdaFunction; readonly usage: Readonly<Record<string, number>> }[],
  esm: Readonly<Record<string, number>>,
): UsageReport {
  const functions: Record<string, UsageReport> = {};
  const totals = { invocations: 0, errors: 0, billed_ms: 0, gb_seconds: 0, log_bytes: 0 };
  for (const { config, usage } of runtimes) {
    const gbSeconds = ((usage.billed_ms ?? 0) / 1000) * (config.memorySize / 1024);
    functions[config.name] = { ...usage, memory_mb: config.memorySize, gb_seconds: gbSeconds };
    totals.invocations += usage.invocations ?? 0;
    totals.errors += usage.errors ?? 0;
    totals.billed_ms += usage.billed_ms ?? 0;
    totals.gb_seconds += gbSeconds;
    totals.log_bytes += usage.log_bytes ?? 0;
  }
  return { ...totals, event_source_mappings: { ...esm }, functions };
}

export function functionArn(region: string, accountId: string, name: string): string {
  return `arn:aws:lambda:${region}:${accountId}:function:${name}`;
}

/**
 * CloudFormation's generated name, `<stack>-<logicalId>-<suffix>` within Lambda's 64
 * characters; the suffix is derived from both, so a name is stable across boots.
 */
export function physicalName(stackName: string, logicalId: string): string {
  const suffix = createHash('sha256')
    .update(`${stackName}/${logicalId}`)
    .digest('base64')
    .replace(/[^A-Za-z0-9]/g, '')
    .slice(0, 12)
    .toUpperCase();
  const prefix = `${stackName}-${logicalId}`.slice(0, 64 - suffix.length - 1);
  return `${prefix}-${suffix}`;
}

/**
 * Lambda's partial batch response: the ids to retry. A malformed or unknown
 * `itemIdentifier` fails the whole batch, as Lambda does.
 */
function batchItemFailures(payload: unknown, all: readonly string[]): string[] {
  if (payload === null || typeof payload !== 'object') return [];
  const failures = (payload as { batchItemFailures?: unknown }).batchItemFailures;
  if (failures === undefined || failures === null) return [];
  if (!Array.isArray(failures)) return [...all];
  const ids: string[] = [];
  for (const failure of failures) {
    const id = (failure as { itemIdentifier?: unknown } | null)?.itemIdentifier;
    if (typeof id !== 'string' || !all.includes(id)) return [...all];
    if (!ids.includes(id)) ids.push(id);
  }
  return ids;
}

function resolveCodeDir(resource: ResolvedResource, assemblyDir: string): string {
  const assetPath = resource.metadata['aws:asset:path'];
  const code = recordProp(resource.properties, 'Code');
  const s3Key = stringProp(code, 'S3Key');
  let dir: string | undefined;
  if (typeof assetPath === 'string' && assetPath !== '') {
    dir = isAbsolute(assetPath) ? assetPath : join(assemblyDir, assetPath);
  } else if (s3Key) {
    dir = join(assemblyDir, `asset.${s3Key.replace(/\.zip$/, '')}`);
  } else if (code.ZipFile !== undefined) {
    throw new LambdaDeployError(`${resource.logicalId}: inline Code.ZipFile is not supported offline`);
  }
  if (!dir)
    throw new LambdaDeployError(`${resource.logicalId}: no aws:asset:path metadata and no Code.S3Key`);
  const absolute = isAbsolute(dir) ? dir : join(process.cwd(), dir);
  if (!existsSync(absolute) || !statSync(absolute).isDirectory()) {
    throw new LambdaDeployError(
      `${resource.logicalId}: code folder ${absolute} is missing; run \`npx cdk synth\` to bundle the assets`,
    );
  }
  return absolute;
}

function configurationOf(config: LambdaFunction): Record<string, unknown> {
  return {
    FunctionName: config.name,
    FunctionArn: config.arn,
    Runtime: config.runtime,
    Role: config.role,
    Handler: config.handler,
    CodeSize: config.codeSize,
    Description: config.description,
    Timeout: config.timeoutSeconds,
    MemorySize: config.memorySize,
    LastModified: config.lastModified,
    CodeSha256: config.codeSha256,
    Version: '$LATEST',
    Environment: { Variables: config.variables },
    TracingConfig: { Mode: config.tracingMode },
    State: 'Active',
    LastUpdateStatus: 'Successful',
    PackageType: 'Zip',
    Architectures: config.architectures.length > 0 ? config.architectures : ['x86_64'],
    EphemeralStorage: { Size: 512 },
    LoggingConfig: { LogFormat: config.logFormat, LogGroup: config.logGroupName },
  };
}

function mappingConfigurationOf(mapping: EventSourceMapping): Record<string, unknown> {
  return {
    UUID: mapping.uuid,
    EventSourceMappingArn: mapping.arn,
    EventSourceArn: mapping.eventSourceArn,
    FunctionArn: mapping.functionArn,
    BatchSize: mapping.batchSize,
    MaximumBatchingWindowInSeconds: mapping.maximumBatchingWindowInSeconds,
    FunctionResponseTypes: mapping.functionResponseTypes,
    State: mapping.enabled ? 'Enabled' : 'Disabled',
    StateTransitionReason: 'USER_INITIATED',
    LastModified: mapping.lastModified,
    ...(mapping.maximumConcurrency === undefined
      ? {}
      : { ScalingConfig: { MaximumConcurrency: mapping.maximumConcurrency } }),
  };
}

/** Size and SHA-256 over the code folder's files, in name order. */
function digestCode(dir: string): { codeSize: number; codeSha256: string } {
  const hash = createHash('sha256');
  let codeSize = 0;
  const files = readdirSync(dir, { recursive: true, encoding: 'utf8' }).sort();
  for (const file of files) {
    const path = join(dir, file);
    if (!statSync(path).isFile()) continue;
    const content = readFileSync(path);
    codeSize += content.length;
    hash.update(file).update(content);
  }
  return { codeSize, codeSha256: hash.digest('base64') };
}

function paginate(
  items: readonly Record<string, unknown>[],
  request: AwsRequest,
  key: string,
  defaultMax: number,
): Record<string, unknown> {
  const start = Number(request.query.get('Marker') ?? 0) || 0;
  const max = Math.min(Number(request.query.get('MaxItems') ?? defaultMax) || defaultMax, 10_000);
  const page = items.slice(start, start + max);
  const next = start + max < items.length ? String(start + max) : undefined;
  return next === undefined ? { [key]: page } : { [key]: page, NextMarker: next };
}

/** The name the SDK would give the operation, for the "not implemented" message. */
function operationName(method: string, segments: readonly string[]): string {
  const [, collection, id, action] = segments;
  const table: Record<string, string> = {
    'POST functions': 'CreateFunction',
    'DELETE functions/{}': 'DeleteFunction',
    'PUT functions/{}/code': 'UpdateFunctionCode',
    'PUT functions/{}/configuration': 'UpdateFunctionConfiguration',
    'POST functions/{}/versions': 'PublishVersion',
    'GET functions/{}/versions': 'ListVersionsByFunction',
    'POST functions/{}/aliases': 'CreateAlias',
    'GET functions/{}/aliases': 'ListAliases',
    'POST functions/{}/policy': 'AddPermission',
    'GET functions/{}/policy': 'GetPolicy',
    'POST event-source-mappings': 'CreateEventSourceMapping',
    'PUT event-source-mappings/{}': 'UpdateEventSourceMapping',
    'DELETE event-source-mappings/{}': 'DeleteEventSourceMapping',
  };
  const shape = [collection, id === undefined ? undefined : '{}', action].filter(Boolean).join('/');
  return table[`${method} ${shape}`] ?? 'operation';
}

function header(request: AwsRequest, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function json(status: number, body: unknown): AwsResponse {
  return { status, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) };
}

/** Lambda's REST-JSON error: the type in `x-amzn-errortype`, `{Type, message}` in the body. */
function lambdaError(status: number, type: string, message: string): AwsResponse {
  return {
    status,
    headers: {
      'content-type': 'application/json',
      'x-amzn-errortype': type,
      'x-amzn-requestid': randomUUID(),
    },
    body: JSON.stringify({ Type: status >= 500 ? 'Service' : 'User', message }),
  };
}

function logTail(lines: readonly string[]): string {
  const buffer = Buffer.from(`${lines.join('\n')}\n`, 'utf8');
  return buffer.subarray(Math.max(0, buffer.length - LOG_TAIL_BYTES)).toString('base64');
}

function decodeClientContext(base64?: string): string | undefined {
  if (!base64) return undefined;
  const text = Buffer.from(base64, 'base64').toString('utf8');
  try {
    return JSON.stringify(JSON.parse(text));
  } catch (error) {
    throw new LambdaServiceError(
      'Client context must be a valid Base64-encoded JSON object.',
      'InvalidRequestContentException',
      400,
      {
        cause: error,
      },
    );
  }
}

/** An X-Ray trace header that is not sampled, so traced handlers send no segments offline. */
function newTraceId(): string {
  const epoch = Math.floor(Date.now() / 1000).toString(16);
  return `Root=1-${epoch}-${randomBytes(12).toString('hex')};Parent=${randomBytes(8).toString('hex')};Sampled=0`;
}

function newLogStreamName(): string {
  const day = new Date().toISOString().slice(0, 10).replaceAll('-', '/');
  return `${day}/[$LATEST]${randomBytes(16).toString('hex')}`;
}

/** Lambda's `LastModified` format: `2024-01-31T12:00:00.000+0000`. */
function lambdaTimestamp(date: Date): string {
  return date.toISOString().replace('Z', '+0000');
}

function seconds(ms: number): string {
  return (ms / 1000).toFixed(2);
}

function stringProp(record: Readonly<Record<string, unknown>>, key: string): string | undefined {
  const value = record[key];
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function numberProp(record: Readonly<Record<string, unknown>>, key: string): number | undefined {
  const value = record[key];
  const number = typeof value === 'string' ? Number(value) : value;
  return typeof number === 'number' && Number.isFinite(number) ? number : undefined;
}

function recordProp(
  record: Readonly<Record<string, unknown>>,
  key: string,
): Readonly<Record<string, unknown>> {
  const value = record[key];
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : {};
}

function arrayProp(record: Readonly<Record<string, unknown>>, key: string): readonly unknown[] {
  const value = record[key];
  return Array.isArray(value) ? value : [];
}
