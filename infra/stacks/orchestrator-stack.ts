import { CfnOutput, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import type * as apigw from 'aws-cdk-lib/aws-apigateway';
import type { Construct } from 'constructs';
import { REFERENCE_AGENT_CATALOG, type ReferenceAgentEntry } from '#agents/reference/catalog';
import {
  type CircuitBreakerConfig,
  DEFAULT_CIRCUIT_CONFIG,
  validateCircuitConfig,
} from '#core/circuit-breaker';
import { HealthSweep } from '../constructs/health-sweep';
import { JwtSigningKey } from '../constructs/jwt-signing-key';
import { Operations } from '../constructs/operations';
import { type LogLevel, OrchestratorFunction } from '../constructs/orchestrator-function';
import { OrchestratorTable } from '../constructs/orchestrator-table';
import { ProgressSocket } from '../constructs/progress-socket';
import { RecoveryWorkflow } from '../constructs/recovery-workflow';
import { ReferenceAgents } from '../constructs/reference-agents';
import { OrchestratorRestApi } from '../constructs/rest-api';

/**
 * The agent catalog: one queue per agent type. For now these are the simulated reference
 * agents of contract C8, `reference-<category>` for each C7 category.
 */
export const AGENT_CATALOG: readonly ReferenceAgentEntry[] = REFERENCE_AGENT_CATALOG;

/** `retain` keeps data and logs when the stack is deleted; `destroy` is for throwaway dev stacks. */
export type RemovalPolicyName = 'retain' | 'destroy';

export interface OrchestratorStackProps extends StackProps {
  /**
   * `destroy` also turns table deletion protection off, so `cdk destroy` removes everything.
   * @default 'retain'
   */
  readonly removalPolicy?: RemovalPolicyName;

  /**
   * Builds the WebSocket progress API. Accepted now so `-c websocket=false` works
   * for LocalStack plans without API Gateway v2; the socket arrives with its issue.
   * @default true
   */
  readonly websocket?: boolean;

  /**
   * Browser origins allowed to call the REST API.
   * @default [] (no CORS)
   */
  readonly corsAllowOrigins?: string[];

  /**
   * Stage steady-state requests per second.
   * @default 50
   */
  readonly throttlingRateLimit?: number;

  /**
   * Stage burst.
   * @default 100
   */
  readonly throttlingBurstLimit?: number;

  /**
   * API Gateway execution logging (needs the account's API Gateway CloudWatch role).
   * @default apigw.MethodLoggingLevel.OFF
   */
  readonly executionLoggingLevel?: apigw.MethodLoggingLevel;

  /**
   * Powertools log level of every function.
   * @default 'INFO'
   */
  readonly logLevel?: LogLevel;

  /**
   * The health sweep marks an agent UNHEALTHY when its last heartbeat is older than this.
   * Integer >= 10.
   * @default 90
   */
  readonly agentHeartbeatStaleSeconds?: number;

  /**
   * The health sweep reports a workflow stalled when it has had no event for this long.
   * Integer >= 60.
   * @default 900
   */
  readonly stalledAfterSeconds?: number;

  /**
   * Unresolved issues in the backlog at which POST issues and POST workflows answer 429.
   * Integer >= 1.
   * @default 5000
   */
  readonly maxBacklogIssues?: number;

  /**
   * `Retry-After` of those 429 answers, in seconds. Integer >= 1.
   * @default 30
   */
  readonly backlogRetryAfterSeconds?: number;

  /**
   * Memory of the workflow function (the state machine's Tasks), in MB: an integer from 128
   * to 10,240. See `RecoveryWorkflowProps.memorySize` (constructs/recovery-workflow.ts).
   * @default 512
   */
  readonly workflowMemorySize?: number;

  /**
   * Per-agent circuit breaker tuning, merged over DEFAULT_CIRCUIT_CONFIG and checked with
   * validateCircuitConfig at synth; the workflow, agents and sweep functions get the result
   * as `CIRCUIT_BREAKER` (JSON).
   * @default {} (DEFAULT_CIRCUIT_CONFIG: 5 failures open a circuit for 30 s)
   */
  readonly circuitBreaker?: Partial<CircuitBreakerConfig>;
}

/**
 * The Master Orchestrator control plane: the single table, the JWT signing key,
 * the authenticated REST API, and the agent queues with their reference agents. Outputs follow contract C2.
 */
export class OrchestratorStack extends Stack {
  readonly table: OrchestratorTable;
  readonly signingKey: JwtSigningKey;
  readonly restApi: OrchestratorRestApi;
  readonly referenceAgents: ReferenceAgents;
  readonly recovery: RecoveryWorkflow;
  /** Whether the WebSocket API was asked for. */
  readonly websocketEnabled: boolean;
  /** The progress stream (C9); undefined with `websocket: false`. */
  readonly progressSocket?: ProgressSocket;
  readonly healthSweep: HealthSweep;
  readonly operations: Operations;
  /** The circuit breaker tuning the functions get (props.circuitBreaker over the defaults). */
  readonly circuitBreaker: CircuitBreakerConfig;

  constructor(scope: Construct, id: string, props: OrchestratorStackProps = {}) {
    super(scope, id, {
      description: 'Master Orchestrator: triage, routing and recovery control plane',
      ...props,
    });
    const destroy = props.removalPolicy === 'destroy';
    const removalPolicy = destroy ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN;
    this.websocketEnabled = props.websocket ?? true;
    this.circuitBreaker = validateCircuitConfig({ ...DEFAULT_CIRCUIT_CONFIG, ...props.circuitBreaker });

    this.table = new OrchestratorTable(this, 'Table', { removalPolicy, deletionProtection: !destroy });
    this.signingKey = new JwtSigningKey(this, 'JwtSigningKey', { removalPolicy });
    this.restApi = new OrchestratorRestApi(this, 'RestApi', {
      table: this.table,
      signingKey: this.signingKey,
      corsAllowOrigins: props.corsAllowOrigins,
      throttlingRateLimit: props.throttlingRateLimit,
      throttlingBurstLimit: props.throttlingBurstLimit,
      executionLoggingLevel: props.executionLoggingLevel,
      logLevel: props.logLevel,
      removalPolicy,
      maxBacklogIssues: positiveInteger('maxBacklogIssues', props.maxBacklogIssues),
      backlogRetryAfterSeconds: positiveInteger('backlogRetryAfterSeconds', props.backlogRetryAfterSeconds),
      circuitBreaker: this.circuitBreaker,
    });

    this.referenceAgents = new ReferenceAgents(this, 'ReferenceAgents', {
      catalog: AGENT_CATALOG,
      logLevel: props.logLevel,
      removalPolicy,
    });

    this.recovery = new RecoveryWorkflow(this, 'Recovery', {
      table: this.table,
      agentQueues: this.referenceAgents.agents.map((a) => ({ key: a.agent_id, queue: a.queue })),
      circuitBreaker: this.circuitBreaker,
      memorySize: lambdaMemory('workflowMemorySize', props.workflowMemorySize),
      logLevel: props.logLevel,
      removalPolicy,
    });
    this.restApi.connectRecovery({
      stateMachine: this.recovery.stateMachine,
      agentQueues: this.referenceAgents.agents.map((a) => ({ name: a.category, queue: a.queue })),
      compensationDlq: this.recovery.compensationDlq,
    });

    if (this.websocketEnabled) {
      this.progressSocket = new ProgressSocket(this, 'ProgressSocket', {
        table: this.table,
        eventBus: this.recovery.eventBus,
        authorizerFunction: this.restApi.authorizerFunction.function,
        logLevel: props.logLevel,
        removalPolicy,
      });
      this.restApi.connectProgressSocket(this.progressSocket.url);
      new CfnOutput(this, 'WebSocketUrl', {
        value: this.progressSocket.url,
        description: 'Progress stream (C9): connect with ?token=<jwt>, then send {"action":"subscribe",...}',
      });
    }

    this.healthSweep = new HealthSweep(this, 'HealthSweep', {
      table: this.table,
      eventBus: this.recovery.eventBus,
      stateMachine: this.recovery.stateMachine,
      agentHeartbeatStaleSeconds: props.agentHeartbeatStaleSeconds,
      stalledAfterSeconds: props.stalledAfterSeconds,
      circuitBreaker: this.circuitBreaker,
      logLevel: props.logLevel,
      removalPolicy,
    });

    // Last, so it sees every function of the stack.
    const agents = this.referenceAgents.agents;
    this.operations = new Operations(this, 'Operations', {
      table: this.table,
      stateMachine: this.recovery.stateMachine,
      restApi: this.restApi.api,
      functions: this.node
        .findAll()
        .filter((construct): construct is OrchestratorFunction => construct instanceof OrchestratorFunction)
        .map((fn) => fn.function),
      agentQueues: agents.map((a) => ({ name: a.category, queue: a.queue })),
      compensationDlq: this.recovery.compensationDlq,
      alarmsToNotify: [...agents.map((a) => a.queue.dlqAlarm), this.recovery.compensationAlarm],
      removalPolicy,
    });

    new CfnOutput(this, 'SweepFunctionName', {
      value: this.healthSweep.functionName,
      description: 'The health sweep (every minute): stale agents, their in-flight tokens, stalled workflows',
    });
    new CfnOutput(this, 'AlarmTopicArn', {
      value: this.operations.alarmTopic.topicArn,
      description: 'SNS topic (KMS-encrypted, TLS only) every alarm notifies; subscribe to it',
    });
    new CfnOutput(this, 'DashboardName', {
      value: this.operations.dashboard.dashboardName,
      description: 'CloudWatch dashboard: latency, overhead, queues, workflow outcomes, agent health, API',
    });
    new CfnOutput(this, 'RestApiUrl', {
      value: this.restApi.url,
      description: 'REST API stage URL, ending in "/"; routes are appended (api/orchestrator/...)',
    });
    new CfnOutput(this, 'DashboardUrl', {
      value: `${this.restApi.url}api/orchestrator/dashboard`,
      description:
        'The live dashboard (public page; it asks for a token): workflows, steps, agents, dead letters',
    });
    new CfnOutput(this, 'RecoveryStateMachineArn', {
      value: this.recovery.stateMachineArn,
      description: 'The recovery workflow (Standard); one execution per workflow, named by workflow_id',
    });
    new CfnOutput(this, 'EventBusName', {
      value: this.recovery.eventBus.eventBusName,
      description:
        'EventBridge bus of the domain events (source master-orchestrator, detail-type the C9 type)',
    });
    new CfnOutput(this, 'CompensationDlqUrl', {
      value: this.recovery.compensationDlq.queueUrl,
      description: 'Compensations that failed for good (ROLLBACK_FAILED), for a person to handle',
    });
    new CfnOutput(this, 'TableName', {
      value: this.table.tableName,
      description: 'The single DynamoDB table',
    });
    new CfnOutput(this, 'JwtSecretArn', {
      value: this.signingKey.secretArn,
      description: 'Secrets Manager secret holding the HS256 JWT signing key',
    });
    new CfnOutput(this, 'AgentQueueUrls', {
      value: this.toJsonString(Object.fromEntries(agents.map((a) => [a.category, a.queue.queueUrl]))),
      description: 'JSON object: agent category -> URL of its agent queue',
    });
    new CfnOutput(this, 'AgentDlqUrls', {
      value: this.toJsonString(
        Object.fromEntries(agents.map((a) => [a.category, a.queue.deadLetterQueueUrl])),
      ),
      description: 'JSON object: agent category -> URL of its dead-letter queue',
    });
  }
}

/** Lambda's memory range: 128 MB to 10,240 MB, in whole MB. */
function lambdaMemory(name: string, value: number | undefined): number | undefined {
  if (value === undefined || (Number.isInteger(value) && value >= 128 && value <= 10_240)) return value;
  throw new Error(`${name} must be an integer from 128 to 10240 (MB), got ${value}`);
}

function positiveInteger(name: string, value: number | undefined): number | undefined {
  if (value === undefined || (Number.isInteger(value) && value >= 1)) return value;
  throw new Error(`${name} must be an integer >= 1, got ${value}`);
}
