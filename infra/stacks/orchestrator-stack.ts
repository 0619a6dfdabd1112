import { CfnOutput, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import type * as apigw from 'aws-cdk-lib/aws-apigateway';
import type { Construct } from 'constructs';
import { REFERENCE_AGENT_CATALOG, type ReferenceAgentEntry } from '#agents/reference/catalog';
import { JwtSigningKey } from '../constructs/jwt-signing-key';
import type { LogLevel } from '../constructs/orchestrator-function';
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

  constructor(scope: Construct, id: string, props: OrchestratorStackProps = {}) {
    super(scope, id, {
      description: 'Master Orchestrator: triage, routing and recovery control plane',
      ...props,
    });
    const destroy = props.removalPolicy === 'destroy';
    const removalPolicy = destroy ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN;
    this.websocketEnabled = props.websocket ?? true;

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
    });

    this.referenceAgents = new ReferenceAgents(this, 'ReferenceAgents', {
      catalog: AGENT_CATALOG,
      logLevel: props.logLevel,
      removalPolicy,
    });

    this.recovery = new RecoveryWorkflow(this, 'Recovery', {
      table: this.table,
      agentQueues: this.referenceAgents.agents.map((a) => ({ key: a.agent_id, queue: a.queue })),
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
      new CfnOutput(this, 'WebSocketUrl', {
        value: this.progressSocket.url,
        description: 'Progress stream (C9): connect with ?token=<jwt>, then send {"action":"subscribe",...}',
      });
    }

    new CfnOutput(this, 'RestApiUrl', {
      value: this.restApi.url,
      description: 'REST API stage URL, ending in "/"; routes are appended (api/orchestrator/...)',
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
    const agents = this.referenceAgents.agents;
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
