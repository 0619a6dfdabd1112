/**
 * Step Functions and SQS for the API harness: the offline runtime's own providers behind one
 * edge on a free loopback port, in this process, with
 *
 * - one agent queue (and its dead-letter queue, 5 receives) per reference agent, as the stack
 *   has them, plus the compensation dead-letter queue;
 * - the real recovery state machine (statemachines/recovery.asl.json), whose Tasks invoke the
 *   real `workflow` handler in process, against the same DynamoDB Local as the API handlers.
 *
 * `environment` holds what the API and workflow functions read (the same names the stack sets)
 * plus `AWS_ENDPOINT_URL_SFN` / `AWS_ENDPOINT_URL_SQS`; the harness sets it before any handler
 * loads and restores the previous values on close. Tests play the agents: they receive the
 * AgentTaskMessage from the agent's queue and answer through POST tasks/*.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SFNClient } from '@aws-sdk/client-sfn';
import { CreateQueueCommand, GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { Context } from 'aws-lambda';
import { REFERENCE_AGENT_CATALOG } from '#agents/reference/catalog';
import { type Edge, startEdge } from '#local/runtime/edge';
import { createSqsProvider } from '#local/runtime/providers/sqs';
import {
  createStepFunctionsProvider,
  type StepFunctionsProvider,
} from '#local/runtime/providers/stepfunctions';
import {
  DEFAULT_REGION,
  type LambdaInvoker,
  type LambdaResult,
  LOCAL_ACCOUNT_ID,
  LOCAL_CREDENTIALS,
  type Provider,
} from '#local/runtime/types';

/**
 * An agent registered with this `agent_type` gets its tasks on one shared queue (the workflow
 * engine finds a queue by agent id, else by type), so a test can register an agent under any id.
 */
export const SHARED_AGENT_TYPE = 'it-shared';

const ASL_PATH = join(__dirname, '..', '..', '..', 'statemachines', 'recovery.asl.json');
const WORKFLOW_FUNCTION = 'master-orchestrator-workflow';
const WORKFLOW_FUNCTION_ARN = `arn:aws:lambda:${DEFAULT_REGION}:${LOCAL_ACCOUNT_ID}:function:${WORKFLOW_FUNCTION}`;

export type WorkflowTaskHandler = (event: unknown, context: Context) => Promise<unknown>;

export interface QueueRef {
  readonly url: string;
  readonly arn: string;
}

export interface AgentQueueRefs {
  readonly agent_id: string;
  readonly category: string;
  readonly queue: QueueRef;
  readonly dlq: QueueRef;
}

export interface WorkflowRuntime {
  readonly edge: Edge;
  readonly states: StepFunctionsProvider;
  readonly stateMachineArn: string;
  /** By category. */
  readonly agentQueues: ReadonlyMap<string, AgentQueueRefs>;
  /** The queue of every agent registered with {@link SHARED_AGENT_TYPE}. */
  readonly sharedAgentQueue: QueueRef;
  readonly compensationDlq: QueueRef;
  /** Clients for the tests, bound to the edge. */
  readonly sqs: SQSClient;
  readonly sfn: SFNClient;
  /** What the functions read from the environment. */
  readonly environment: Readonly<Record<string, string>>;
  /** Where the state machine's Tasks go; set once the handlers have loaded. */
  useWorkflowHandler(handler: WorkflowTaskHandler): void;
  /**
   * Holds every Task at its start until `resumeWorkflowTasks`: executions start but change
   * nothing in the table, for tests that compare what a request stored.
   */
  pauseWorkflowTasks(): void;
  resumeWorkflowTasks(): void;
  stop(): Promise<void>;
}

/** Runs the workflow function in process, the way Lambda reports its result or error. */
class InProcessLambda implements LambdaInvoker {
  handler: WorkflowTaskHandler | undefined;
  gate: { promise: Promise<void>; open: () => void } | undefined;
  /** Set on stop: held and later invocations fail instead of running. */
  stopped = false;
  readonly inFlight = new Set<Promise<unknown>>();

  constructor(private readonly context: (name: string) => Context) {}

  async invoke(functionNameOrArn: string, event: unknown): Promise<LambdaResult> {
    if (this.gate) await this.gate.promise;
    const started = performance.now();
    if (!this.handler || !functionNameOrArn.endsWith(WORKFLOW_FUNCTION))
      throw Object.assign(new Error(`Function not found: ${functionNameOrArn}`), {
        name: 'ResourceNotFoundException',
      });
    if (this.stopped)
      return { ok: false, errorType: 'Local.RuntimeStopped', errorMessage: 'stopped', durationMs: 0 };
    const running = this.handler(event, this.context(WORKFLOW_FUNCTION));
    this.inFlight.add(running);
    try {
      const payload = await running;
      return { ok: true, payload, durationMs: performance.now() - started, coldStart: false };
    } catch (error) {
      const failure = error as Error;
      return {
        ok: false,
        errorType: failure.name,
        errorMessage: failure.message,
        durationMs: performance.now() - started,
      };
    } finally {
      this.inFlight.delete(running);
    }
  }
}

export async function startWorkflowRuntime(
  lambdaContext: (name: string) => Context,
): Promise<WorkflowRuntime> {
  const logs: string[] = [];
  const log = (line: string): void => {
    logs.push(line);
  };
  const queues = createSqsProvider();
  const states = createStepFunctionsProvider();
  const lambda = new InProcessLambda(lambdaContext);
  const providers: Provider[] = [queues, states];
  const services = { lambda, get: (service: string) => providers.find((p) => p.service === service) };
  const edge = await startEdge({ port: 0, providers, log });
  const context = {
    region: DEFAULT_REGION,
    accountId: LOCAL_ACCOUNT_ID,
    endpoint: edge.endpoint,
    assemblyDir: '',
    services,
    log,
  };
  await queues.start?.(context);
  await states.start?.(context);

  const clientConfig = { endpoint: edge.endpoint, region: DEFAULT_REGION, credentials: LOCAL_CREDENTIALS };
  const sqs = new SQSClient(clientConfig);
  const sfn = new SFNClient(clientConfig);

  const createQueue = async (name: string, attributes: Record<string, string> = {}): Promise<QueueRef> => {
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: name, Attributes: attributes }));
    if (!QueueUrl) throw new Error(`CreateQueue ${name} returned no URL`);
    const { Attributes } = await sqs.send(
      new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['QueueArn'] }),
    );
    return { url: QueueUrl, arn: String(Attributes?.QueueArn) };
  };

  const agentQueues = new Map<string, AgentQueueRefs>();
  for (const { agent_id, category } of REFERENCE_AGENT_CATALOG) {
    const dlq = await createQueue(`it-${category}-dlq`);
    const queue = await createQueue(`it-${category}`, {
      RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlq.arn, maxReceiveCount: 5 }),
    });
    agentQueues.set(category, { agent_id, category, queue, dlq });
  }
  const compensationDlq = await createQueue('it-compensation-dlq');
  const sharedAgentQueue = await createQueue(`${SHARED_AGENT_TYPE}-tasks`);

  const { ref: stateMachineArn } = await (states.deploy as NonNullable<Provider['deploy']>)(
    {
      logicalId: 'RecoveryStateMachine',
      type: 'AWS::StepFunctions::StateMachine',
      properties: {
        StateMachineName: 'it-recovery',
        DefinitionString: readFileSync(ASL_PATH, 'utf8'),
        DefinitionSubstitutions: { WorkflowFunctionArn: WORKFLOW_FUNCTION_ARN },
      },
      metadata: {},
    },
    { ...context, stackName: 'ApiIt' },
  );

  const environment: Record<string, string> = {
    AWS_ENDPOINT_URL_SFN: edge.endpoint,
    AWS_ENDPOINT_URL_SQS: edge.endpoint,
    STATE_MACHINE_ARN: stateMachineArn,
    AGENT_QUEUE_URLS: JSON.stringify(
      Object.fromEntries([
        ...[...agentQueues.values()].map((a) => [a.agent_id, a.queue.url]),
        [SHARED_AGENT_TYPE, sharedAgentQueue.url],
      ]),
    ),
    AGENT_DLQS: JSON.stringify(
      Object.fromEntries(
        [...agentQueues.values()].map((a) => [a.category, { url: a.dlq.url, arn: a.dlq.arn }]),
      ),
    ),
    COMPENSATION_DLQ_URL: compensationDlq.url,
    COMPENSATION_DLQ_ARN: compensationDlq.arn,
    // No EventBridge runs here: publishing the domain events fails and is only logged (best
    // effort by design); the events themselves are in the table.
    EVENT_BUS_NAME: 'it-domain-events',
    AWS_ENDPOINT_URL_EVENTBRIDGE: edge.endpoint,
  };

  return {
    edge,
    states,
    stateMachineArn,
    agentQueues,
    sharedAgentQueue,
    compensationDlq,
    sqs,
    sfn,
    environment,
    useWorkflowHandler(handler) {
      lambda.handler = handler;
    },
    pauseWorkflowTasks() {
      if (lambda.gate) return;
      let open = (): void => {};
      const promise = new Promise<void>((resolve) => {
        open = resolve;
      });
      lambda.gate = { promise, open };
    },
    resumeWorkflowTasks() {
      lambda.gate?.open();
      lambda.gate = undefined;
    },
    async stop() {
      // Executions still waiting on an agent end ABORTED; no Task runs after this, and the
      // ones running finish before the queues and the edge go away.
      lambda.stopped = true;
      lambda.gate?.open();
      await states.stop?.();
      await Promise.allSettled([...lambda.inFlight]);
      await queues.stop?.();
      sqs.destroy();
      sfn.destroy();
      await edge.close();
    },
  };
}
