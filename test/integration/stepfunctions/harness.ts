/**
 * The Step Functions provider behind the runtime's edge on a free loopback port, with:
 * - `TestLambdas`: a LambdaInvoker that runs plain async functions;
 * - `AgentQueues`: an in-process SqsSender that captures messages so a test can play the
 *   agent, answering through the real SDK (SendTaskSuccess/Failure/Heartbeat).
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { GetExecutionHistoryCommand, type HistoryEvent, SFNClient } from '@aws-sdk/client-sfn';
import { type Edge, startEdge } from '#local/runtime/edge';
import {
  createStepFunctionsProvider,
  type SqsSender,
  type SqsSendResult,
  type StepFunctionsProvider,
} from '#local/runtime/providers/stepfunctions';
import {
  type AwsResponse,
  awsJsonError,
  DEFAULT_REGION,
  type DeployContext,
  type LambdaInvoker,
  type LambdaResult,
  LOCAL_ACCOUNT_ID,
  type Provider,
  type ServiceRegistry,
} from '#local/runtime/types';

export const REGION = DEFAULT_REGION;
export const ACCOUNT = LOCAL_ACCOUNT_ID;
export const AGENT_QUEUE_URL = `http://127.0.0.1:4566/${ACCOUNT}/agent-tasks`;
const FIXTURES = join(__dirname, '..', '..', 'fixtures', 'asl');

export const functionArn = (name: string): string => `arn:aws:lambda:${REGION}:${ACCOUNT}:function:${name}`;

/** The text of `test/fixtures/asl/<fixture>`. */
export const readFixture = (fixture: string): string => readFileSync(join(FIXTURES, fixture), 'utf8');

export type TestFunction = (event: unknown) => unknown;

/** Runs registered functions in-process; a thrown error becomes a function error named after it. */
export class TestLambdas implements LambdaInvoker {
  private readonly functions = new Map<string, TestFunction>();
  readonly invocations: { readonly name: string; readonly event: unknown; readonly at: number }[] = [];

  register(name: string, handler: TestFunction): void {
    this.functions.set(name, handler);
  }

  async invoke(functionNameOrArn: string, event: unknown): Promise<LambdaResult> {
    const name = functionNameOrArn.startsWith('arn:')
      ? (functionNameOrArn.split(':')[6] ?? '')
      : functionNameOrArn;
    const handler = this.functions.get(name);
    if (!handler) {
      throw Object.assign(new Error(`Function not found: ${functionNameOrArn}`), {
        name: 'ResourceNotFoundException',
      });
    }
    this.invocations.push({ name, event, at: Date.now() });
    const startedAt = performance.now();
    try {
      const payload = await handler(event);
      return { ok: true, payload, durationMs: performance.now() - startedAt, coldStart: false };
    } catch (error) {
      const failure = error as Error;
      return {
        ok: false,
        errorType: failure.name,
        errorMessage: failure.message,
        durationMs: performance.now() - startedAt,
      };
    }
  }
}

export interface AgentMessage {
  readonly queueUrl: string;
  readonly body: string;
  readonly messageId: string;
  readonly at: number;
}

/** Captures SendMessage calls; `next()` hands them to the test one by one, in order. */
export class AgentQueues implements SqsSender, Provider {
  readonly service = 'sqs';
  readonly resourceTypes: readonly string[] = [];
  readonly sent: AgentMessage[] = [];
  private taken = 0;
  private waiter: (() => void) | undefined;

  matches(): boolean {
    return false;
  }

  async handle(): Promise<AwsResponse> {
    return awsJsonError(400, 'UnknownOperationException', 'the test SQS serves no HTTP');
  }

  async sendMessage(queueUrl: string, body: string): Promise<SqsSendResult> {
    const message = { queueUrl, body, messageId: randomUUID(), at: Date.now() };
    this.sent.push(message);
    this.waiter?.();
    return { messageId: message.messageId };
  }

  /** Messages sent but not yet taken. */
  get waiting(): number {
    return this.sent.length - this.taken;
  }

  /** The next message not yet taken, waiting up to `timeoutMs` for it. */
  async next(timeoutMs = 5_000): Promise<AgentMessage> {
    const deadline = Date.now() + timeoutMs;
    while (this.taken >= this.sent.length) {
      const remaining = deadline - Date.now();
      if (remaining <= 0) throw new Error(`no agent message within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, remaining);
        this.waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.waiter = undefined;
    }
    const message = this.sent[this.taken];
    this.taken += 1;
    if (!message) throw new Error('unreachable: message index out of range');
    return message;
  }
}

export interface DeployOptions {
  readonly logicalId?: string;
  readonly name?: string;
  readonly substitutions?: Readonly<Record<string, string>>;
}

export interface Harness {
  readonly provider: StepFunctionsProvider;
  readonly edge: Edge;
  readonly client: SFNClient;
  readonly lambdas: TestLambdas;
  readonly queues: AgentQueues;
  readonly logs: string[];
  /** Deploys `test/fixtures/asl/<fixture>` as an AWS::StepFunctions::StateMachine; returns its ARN. */
  deploy(fixture: string, options?: DeployOptions): Promise<string>;
  stop(): Promise<void>;
}

export async function startHarness(): Promise<Harness> {
  const lambdas = new TestLambdas();
  const queues = new AgentQueues();
  const logs: string[] = [];
  const log = (message: string): void => {
    logs.push(message);
  };
  const services: ServiceRegistry = {
    lambda: lambdas,
    get: (service) => (service === 'sqs' ? queues : undefined),
  };
  const provider = createStepFunctionsProvider();
  const context: DeployContext = {
    region: REGION,
    accountId: ACCOUNT,
    endpoint: 'http://127.0.0.1:4566',
    assemblyDir: '',
    stackName: 'StepFunctionsIt',
    services,
    log,
  };
  await provider.start?.(context);
  const edge = await startEdge({ port: 0, providers: [provider], log });
  const client = new SFNClient({
    endpoint: edge.endpoint,
    region: REGION,
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  });

  return {
    provider,
    edge,
    client,
    lambdas,
    queues,
    logs,
    async deploy(fixture, options = {}) {
      const deploy = provider.deploy;
      if (!deploy) throw new Error('the Step Functions provider cannot deploy');
      const { ref } = await deploy(
        {
          logicalId: options.logicalId ?? 'StateMachine',
          type: 'AWS::StepFunctions::StateMachine',
          properties: {
            DefinitionString: readFixture(fixture),
            DefinitionSubstitutions: { AgentQueueUrl: AGENT_QUEUE_URL, ...options.substitutions },
            ...(options.name ? { StateMachineName: options.name } : {}),
          },
          metadata: {},
        },
        context,
      );
      return ref;
    },
    async stop() {
      client.destroy();
      await provider.stop?.();
      await edge.close();
    },
  };
}

/** The full history over the SDK, following nextToken. */
export async function historyOf(client: SFNClient, executionArn: string): Promise<HistoryEvent[]> {
  const events: HistoryEvent[] = [];
  let nextToken: string | undefined;
  do {
    const page = await client.send(
      new GetExecutionHistoryCommand({ executionArn, nextToken, maxResults: 50 }),
    );
    events.push(...(page.events ?? []));
    nextToken = page.nextToken;
  } while (nextToken);
  return events;
}

/** The event types in order, optionally only those matching `filter`. */
export function typesOf(events: readonly HistoryEvent[], filter?: RegExp): string[] {
  return events.map((event) => event.type ?? '').filter((type) => !filter || filter.test(type));
}

/** Parses an agent message body of the fixtures (a JSON object with `task_token`). */
export function taskOf(message: AgentMessage): { task_token: string; [field: string]: unknown } {
  return JSON.parse(message.body) as { task_token: string };
}
