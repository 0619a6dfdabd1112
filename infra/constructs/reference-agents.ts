import * as path from 'node:path';
import { Duration, type RemovalPolicy } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambdaEventSources from 'aws-cdk-lib/aws-lambda-event-sources';
import { Construct } from 'constructs';
import type { ReferenceAgentEntry } from '#agents/reference/catalog';
import type { Category } from '#core/wire';
import { AgentQueue } from './agent-queue';
import { type LogLevel, OrchestratorFunction } from './orchestrator-function';

/** The `agents/` folder: the reference handler is `agents/reference/handler.ts`. */
const AGENTS_DIR = path.resolve(__dirname, '..', '..', 'agents');

/** The Step Functions callbacks an agent answers a `.waitForTaskToken` dispatch with. */
export const TASK_CALLBACK_ACTIONS = [
  'states:SendTaskSuccess',
  'states:SendTaskFailure',
  'states:SendTaskHeartbeat',
];

/** Why a reference agent's role holds `states:SendTask*` on `*`; listed in infra/README.md. */
export const TASK_CALLBACK_WILDCARD_REASON =
  'Step Functions SendTaskSuccess, SendTaskFailure and SendTaskHeartbeat support no resource-level permissions (the task token identifies the task): AWS requires Resource "*" for them.';

export interface ReferenceAgentsProps {
  /** One queue and one agent Lambda per entry. Required. */
  readonly catalog: readonly ReferenceAgentEntry[];

  /**
   * Timeout of each agent Lambda; the longest simulated wait (60 s) must fit in it with
   * room for the callback. Each queue's visibility timeout is 6 × this.
   * @default Duration.seconds(90)
   */
  readonly timeout?: Duration;

  /**
   * Messages per Lambda invocation.
   * @default 10
   */
  readonly batchSize?: number;

  /**
   * Powertools log level of the agents.
   * @default 'INFO'
   */
  readonly logLevel?: LogLevel;

  /**
   * What happens to the agents' log groups when they leave the stack.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
}

/** One deployed reference agent: its queue and its consumer. */
export interface ReferenceAgent {
  readonly agent_id: string;
  readonly category: Category;
  readonly queue: AgentQueue;
  readonly function: OrchestratorFunction;
}

/**
 * The simulated reference agents of contract C8: per catalog entry, an {@link AgentQueue} and
 * a Lambda (`agents/reference/handler.ts`) consuming it with partial batch responses. Each
 * agent may only answer task tokens (`states:SendTask*`) besides consuming its own queue.
 *
 * @example
 * const agents = new ReferenceAgents(this, 'ReferenceAgents', { catalog: REFERENCE_AGENT_CATALOG });
 * agents.byCategory.get('network')?.queue.grantSendMessages(stateMachine);
 */
export class ReferenceAgents extends Construct {
  readonly agents: readonly ReferenceAgent[];
  readonly byCategory: ReadonlyMap<Category, ReferenceAgent>;

  constructor(scope: Construct, id: string, props: ReferenceAgentsProps) {
    super(scope, id);
    const timeout = props.timeout ?? Duration.seconds(90);

    this.agents = props.catalog.map(({ agent_id, category }) => {
      const prefix = pascalCase(category);
      const queue = new AgentQueue(this, `${prefix}Queue`, { consumerTimeout: timeout });
      const fn = new OrchestratorFunction(this, `${prefix}Agent`, {
        name: 'reference',
        functionsDir: AGENTS_DIR,
        description: `Master Orchestrator reference agent ${agent_id} (simulated, contract C8)`,
        environment: { AGENT_ID: agent_id, AGENT_CATEGORY: category },
        timeout,
        logLevel: props.logLevel,
        removalPolicy: props.removalPolicy,
        extraWildcardResourceReason: TASK_CALLBACK_WILDCARD_REASON,
      });
      fn.role.addToPrincipalPolicy(
        new iam.PolicyStatement({ actions: TASK_CALLBACK_ACTIONS, resources: ['*'] }),
      );
      fn.function.addEventSource(
        new lambdaEventSources.SqsEventSource(queue.queue, {
          batchSize: props.batchSize ?? 10,
          reportBatchItemFailures: true,
        }),
      );
      return { agent_id, category, queue, function: fn };
    });
    this.byCategory = new Map(this.agents.map((agent) => [agent.category, agent]));
  }
}

/** `recovery_process` → `RecoveryProcess`. */
function pascalCase(value: string): string {
  return value
    .split(/[^a-zA-Z0-9]+/)
    .map((part) => part.charAt(0).toUpperCase() + part.slice(1))
    .join('');
}
