import * as fs from 'node:fs';
import * as path from 'node:path';
import { Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { type CircuitBreakerConfig, DEFAULT_CIRCUIT_CONFIG } from '#core/circuit-breaker';
import type { AgentQueue } from './agent-queue';
import { type LogLevel, OrchestratorFunction } from './orchestrator-function';
import type { OrchestratorTable } from './orchestrator-table';
import { TASK_CALLBACK_WILDCARD_REASON } from './reference-agents';

/** The ASL file; it holds only `${Placeholders}` (see {@link RECOVERY_PLACEHOLDERS}). */
export const RECOVERY_ASL_PATH = path.resolve(__dirname, '..', '..', 'statemachines', 'recovery.asl.json');

/** Every `${Name}` the ASL may hold, and nothing else. */
export const RECOVERY_PLACEHOLDERS = ['WorkflowFunctionArn'] as const;

export interface RecoveryWorkflowProps {
  /** The single table: workflows, steps, events, task-token lookups. Required. */
  readonly table: OrchestratorTable;

  /**
   * The agent catalog: key (an agent_id or agent_type) -> its queue. The workflow sends a
   * step to the queue of its agent's id, else of its agent's type. Required.
   */
  readonly agentQueues: readonly { readonly key: string; readonly queue: AgentQueue }[];

  /**
   * The circuit breaker tuning the workflow dispatches by (env `CIRCUIT_BREAKER`, JSON).
   * @default DEFAULT_CIRCUIT_CONFIG from functions/core/circuit-breaker.ts
   */
  readonly circuitBreaker?: CircuitBreakerConfig;

  /**
   * Powertools log level of the workflow function.
   * @default 'INFO'
   */
  readonly logLevel?: LogLevel;

  /**
   * Memory of the workflow function, in MB (128 to 10,240). Lambda gives CPU in proportion
   * (1,769 MB is one vCPU), and this function is on every step's path twice, so more memory
   * shortens each step's orchestration time (docs/performance.md, "What to expect on AWS").
   * @default 512
   */
  readonly memorySize?: number;

  /**
   * What happens to the logs and the compensation queue when the stack is deleted.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * The recovery workflow: the Standard state machine of `statemachines/recovery.asl.json`,
 * the `workflow` Lambda behind its Tasks, the event bus its domain events go to, and the
 * compensation dead-letter queue where a step that cannot be undone waits for a person, with
 * an alarm as soon as one arrives.
 *
 * @example
 * const recovery = new RecoveryWorkflow(this, 'Recovery', { table, agentQueues });
 * recovery.stateMachine.grantStartExecution(intakeFunction);
 */
export class RecoveryWorkflow extends Construct {
  readonly stateMachine: sfn.StateMachine;
  readonly function: OrchestratorFunction;
  readonly compensationDlq: sqs.Queue;
  /**
   * The domain events (C9): `source` `master-orchestrator`, `detail-type` the event type,
   * `detail` the DomainEvent. Add rules here to react to workflows.
   */
  readonly eventBus: events.EventBus;
  /** `ApproximateNumberOfMessagesVisible > 0` on the compensation queue. */
  readonly compensationAlarm: cloudwatch.Alarm;

  constructor(scope: Construct, id: string, props: RecoveryWorkflowProps) {
    super(scope, id);
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;

    this.compensationDlq = new sqs.Queue(this, 'CompensationDeadLetterQueue', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
      removalPolicy,
    });
    Validations.of(this.compensationDlq).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason:
        'This queue is itself a dead-letter queue: it holds compensations that failed for good, for a person to handle (GET dlq).',
    });
    this.compensationAlarm = new cloudwatch.Alarm(this, 'CompensationFailedAlarm', {
      alarmDescription:
        'A rollback could not compensate a step (workflow ROLLBACK_FAILED): the system may be half-changed. The compensation dead-letter queue says which workflow and step (GET dlq).',
      metric: this.compensationDlq.metricApproximateNumberOfMessagesVisible({
        period: Duration.minutes(1),
        statistic: cloudwatch.Stats.MAXIMUM,
      }),
      threshold: 0,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
      datapointsToAlarm: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });

    this.eventBus = new events.EventBus(this, 'EventBus', {
      description: 'Master Orchestrator domain events (workflow and step state changes)',
    });

    this.function = new OrchestratorFunction(this, 'WorkflowFunction', {
      name: 'workflow',
      description: 'Master Orchestrator recovery workflow Tasks (plan, dispatch, record, rollback)',
      environment: {
        TABLE_NAME: props.table.tableName,
        AGENT_QUEUE_URLS: Stack.of(this).toJsonString(
          Object.fromEntries(props.agentQueues.map(({ key, queue }) => [key, queue.queueUrl])),
        ),
        COMPENSATION_DLQ_URL: this.compensationDlq.queueUrl,
        EVENT_BUS_NAME: this.eventBus.eventBusName,
        CIRCUIT_BREAKER: JSON.stringify(props.circuitBreaker ?? DEFAULT_CIRCUIT_CONFIG),
      },
      timeout: Duration.seconds(30),
      memorySize: props.memorySize,
      logLevel: props.logLevel,
      removalPolicy,
      extraWildcardResourceReason: TASK_CALLBACK_WILDCARD_REASON,
    });
    props.table.grantReadWriteData(this.function);
    for (const { queue } of props.agentQueues) queue.grantSendMessages(this.function);
    this.compensationDlq.grantSendMessages(this.function);
    this.eventBus.grantPutEventsTo(this.function);
    // A step already done (a resumed workflow's checkpoint) is answered at once.
    this.function.role.addToPrincipalPolicy(
      new iam.PolicyStatement({ actions: ['states:SendTaskSuccess'], resources: ['*'] }),
    );

    const logGroup = new logs.LogGroup(this, 'ExecutionLogs', {
      retention: logs.RetentionDays.ONE_MONTH,
      removalPolicy,
    });
    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      stateMachineType: sfn.StateMachineType.STANDARD,
      comment: 'Master Orchestrator recovery workflow',
      definitionBody: sfn.DefinitionBody.fromString(fs.readFileSync(RECOVERY_ASL_PATH, 'utf8')),
      definitionSubstitutions: { WorkflowFunctionArn: this.function.function.functionArn },
      tracingEnabled: true,
      logs: { destination: logGroup, level: sfn.LogLevel.ALL, includeExecutionData: false },
    });
    this.function.function.grantInvoke(this.stateMachine);
    Validations.of(this.stateMachine).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'CloudWatch Logs vended delivery (logs:CreateLogDelivery and kin) and X-Ray tracing (xray:PutTraceSegments and kin) take no resource-level permissions: AWS requires Resource "*" for a state machine that logs and traces.',
    });
    const stack = Stack.of(this);
    const functionLogicalId = stack.resolve(
      stack.getLogicalId(this.function.function.node.defaultChild as lambda.CfnFunction),
    );
    Validations.of(this.stateMachine).acknowledge({
      id: `AwsSolutions-IAM5[Resource::<${functionLogicalId}.Arn>:*]`,
      reason:
        'Invoking a version or alias of the workflow function (its ARN with a qualifier); only that function.',
    });
  }

  get stateMachineArn(): string {
    return this.stateMachine.stateMachineArn;
  }
}
