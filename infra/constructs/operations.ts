import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import type * as apigw from 'aws-cdk-lib/aws-apigateway';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cloudwatchActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sns from 'aws-cdk-lib/aws-sns';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import type { AgentQueue } from './agent-queue';
import { POWERTOOLS_METRICS_NAMESPACE, POWERTOOLS_SERVICE_NAME } from './orchestrator-function';
import type { OrchestratorTable } from './orchestrator-table';

/**
 * The custom metrics the functions emit through Powertools (EMF), in namespace
 * `MasterOrchestrator` with the default dimension `service` = `master-orchestrator`.
 * The alarms, the dashboard, the tests and infra/README.md name them from here.
 */
export const CUSTOM_METRICS = {
  /** ms from request to assignment; intake and triage. */
  decisionLatency: 'DecisionLatency',
  /** ms the workflow Lambda spends per Task on its own bookkeeping. */
  orchestrationOverhead: 'OrchestrationOverhead',
  /** Workflows at work with no event for `stalledAfterSeconds`; the sweep, each run. */
  stalledWorkflows: 'StalledWorkflows',
  /** Agents marked UNHEALTHY; the sweep, each run. */
  unhealthyAgents: 'UnhealthyAgents',
  /** Agent circuits OPEN (past-cooldown circuits read HALF_OPEN and are not counted); the sweep, each run. */
  openCircuits: 'OpenCircuits',
  /** Requests refused 429 because the backlog is full; intake and workflows. */
  backlogRejected: 'BacklogRejected',
  /** Workflows that ended in each final status; the workflow Lambda. */
  workflowsSucceeded: 'WorkflowsSucceeded',
  workflowsRolledBack: 'WorkflowsRolledBack',
  workflowsRollbackFailed: 'WorkflowsRollbackFailed',
  workflowsFailed: 'WorkflowsFailed',
  workflowsCancelled: 'WorkflowsCancelled',
} as const;
export type CustomMetricName = (typeof CUSTOM_METRICS)[keyof typeof CUSTOM_METRICS];

/** Alarms on metric math may read at most 10 metrics (a hard CloudWatch limit). */
export const MAX_METRICS_PER_ALARM = 10;

/** The table operations the functions use; the DynamoDB throttle alarm sums these (at most 10). */
const TABLE_OPERATIONS = [
  dynamodb.Operation.GET_ITEM,
  dynamodb.Operation.BATCH_GET_ITEM,
  dynamodb.Operation.QUERY,
  dynamodb.Operation.PUT_ITEM,
  dynamodb.Operation.UPDATE_ITEM,
  dynamodb.Operation.DELETE_ITEM,
  dynamodb.Operation.BATCH_WRITE_ITEM,
  dynamodb.Operation.TRANSACT_WRITE_ITEMS,
];

export interface OperationsProps {
  /** The single table: its throttled requests are alarmed on. Required. */
  readonly table: OrchestratorTable;

  /** The recovery state machine: failed, timed-out and throttled executions. Required. */
  readonly stateMachine: sfn.StateMachine;

  /** The REST API: 5XX errors are alarmed on, traffic is graphed. Required. */
  readonly restApi: apigw.RestApi;

  /** Every function of the stack: their `Throttles` are alarmed on. Required. */
  readonly functions: readonly lambda.IFunction[];

  /** The agent queues by name (the category), graphed with their DLQs. Required. */
  readonly agentQueues: readonly { readonly name: string; readonly queue: AgentQueue }[];

  /** The compensation dead-letter queue, graphed. Required. */
  readonly compensationDlq: sqs.IQueue;

  /**
   * Alarms made elsewhere that should notify the alarm topic too (the DLQ alarms).
   * @default []
   */
  readonly alarmsToNotify?: readonly cloudwatch.Alarm[];

  /**
   * Period of the alarms made here.
   * @default Duration.minutes(5)
   */
  readonly alarmPeriod?: Duration;

  /**
   * The dashboard's name.
   * @default - one CloudFormation generates
   */
  readonly dashboardName?: string;

  /**
   * What happens to the alarm topic's KMS key when it leaves the stack.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * Operations: an SNS alarm topic under its own KMS key, the stack's alarms (each notifies the
 * topic), and a CloudWatch dashboard of latency, overhead, queues, workflow outcomes, agent
 * health, the API and backpressure.
 *
 * @example
 * const ops = new Operations(this, 'Operations', {
 *   table, stateMachine, restApi: api.api, functions, agentQueues, compensationDlq,
 *   alarmsToNotify: [recovery.compensationAlarm],
 * });
 * new CfnOutput(this, 'AlarmTopicArn', { value: ops.alarmTopic.topicArn });
 */
export class Operations extends Construct {
  readonly alarmTopic: sns.Topic;
  readonly alarmTopicKey: kms.Key;
  /** The alarms made here, by construct id. */
  readonly alarms: ReadonlyMap<string, cloudwatch.Alarm>;
  readonly dashboard: cloudwatch.Dashboard;

  constructor(scope: Construct, id: string, props: OperationsProps) {
    super(scope, id);
    const period = props.alarmPeriod ?? Duration.minutes(5);
    const stack = Stack.of(this);

    // ------------------------------------------------------------ topic
    // A customer-managed key: CloudWatch may not use the AWS-managed alias/aws/sns key, so
    // alarms could not publish to a topic encrypted with it.
    this.alarmTopicKey = new kms.Key(this, 'AlarmTopicKey', {
      description: 'Master Orchestrator alarm topic encryption',
      enableKeyRotation: true,
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    });
    const cloudWatch = new iam.ServicePrincipal('cloudwatch.amazonaws.com');
    this.alarmTopicKey.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'CloudWatchAlarmsPublishToTheTopic',
        principals: [cloudWatch],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
        resources: ['*'],
      }),
    );
    this.alarmTopic = new sns.Topic(this, 'AlarmTopic', {
      displayName: 'Master Orchestrator alarms',
      masterKey: this.alarmTopicKey,
      enforceSSL: true,
    });
    this.alarmTopic.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'CloudWatchAlarmsOfThisAccount',
        principals: [cloudWatch],
        actions: ['sns:Publish'],
        resources: [this.alarmTopic.topicArn],
        conditions: {
          ArnLike: { 'aws:SourceArn': stack.formatArn({ service: 'cloudwatch', resource: 'alarm:*' }) },
          StringEquals: { 'aws:SourceAccount': stack.account },
        },
      }),
    );
    const notify = new cloudwatchActions.SnsAction(this.alarmTopic);

    // ------------------------------------------------------------ alarms
    const alarms = new Map<string, cloudwatch.Alarm>();
    const alarm = (alarmId: string, description: string, metric: cloudwatch.IMetric): void => {
      const created = new cloudwatch.Alarm(this, alarmId, {
        alarmDescription: description,
        metric,
        threshold: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluationPeriods: 1,
        datapointsToAlarm: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
      created.addAlarmAction(notify);
      alarms.set(alarmId, created);
    };
    const { stateMachine } = props;
    const sum = { period, statistic: cloudwatch.Stats.SUM };

    alarm(
      'ExecutionsFailedAlarm',
      'A recovery workflow execution failed (ExecutionsFailed >= 1): read its history (npx orchestrator executions), then GET workflows/{id}.',
      stateMachine.metricFailed(sum),
    );
    alarm(
      'ExecutionsTimedOutAlarm',
      'A recovery workflow execution timed out (ExecutionsTimedOut >= 1): a step outlived its TimeoutSeconds; check the agent it waited on.',
      stateMachine.metricTimedOut(sum),
    );
    alarm(
      'ExecutionsThrottledAlarm',
      'Step Functions throttled the recovery state machine (ExecutionThrottled >= 1): StartExecution or state transitions hit the account quota.',
      stateMachine.metricThrottled(sum),
    );
    alarm(
      'StalledWorkflowsAlarm',
      'The health sweep found a workflow at work with no event for stalledAfterSeconds (StalledWorkflows >= 1): GET workflows/{id}/progress, then cancel or roll it back.',
      this.customMetric(CUSTOM_METRICS.stalledWorkflows, { period, statistic: cloudwatch.Stats.MAXIMUM }),
    );
    alarm(
      'Api5xxAlarm',
      'The REST API answered 5XX (5XXError >= 1): find the request id in the access log and the function logs.',
      props.restApi.metricServerError(sum),
    );
    const functionChunks = chunk(props.functions, MAX_METRICS_PER_ALARM);
    functionChunks.forEach((functions, index) => {
      alarm(
        `LambdaThrottlesAlarm${index + 1}`,
        `Lambda throttled invocations of the stack's functions (Throttles >= 1; functions ${index * MAX_METRICS_PER_ALARM + 1}-${index * MAX_METRICS_PER_ALARM + functions.length} of ${props.functions.length}): raise the account's concurrency quota or reserve concurrency.`,
        sumOf(
          Object.fromEntries(functions.map((fn, i) => [`t${i}`, fn.metricThrottles(sum)])),
          'Throttles',
          period,
        ),
      );
    });
    alarm(
      'TableThrottlesAlarm',
      'DynamoDB throttled requests on the table (ThrottledRequests >= 1): on-demand capacity hit a partition or account limit; look for a hot key.',
      sumOf(
        Object.fromEntries(
          TABLE_OPERATIONS.map((operation) => [
            operation.toLowerCase(),
            props.table.table.metricThrottledRequestsForOperation(operation, sum),
          ]),
        ),
        'ThrottledRequests',
        period,
      ),
    );
    this.alarms = alarms;
    for (const existing of props.alarmsToNotify ?? []) existing.addAlarmAction(notify);

    // ------------------------------------------------------------ dashboard
    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      dashboardName: props.dashboardName,
      defaultInterval: Duration.hours(3),
    });
    const width = 12;
    const percentiles = (metricName: CustomMetricName): cloudwatch.IMetric[] =>
      ['p50', 'p99'].map((statistic) => this.customMetric(metricName, { statistic, label: statistic }));
    const custom = (metricName: CustomMetricName, statistic: string): cloudwatch.IMetric =>
      this.customMetric(metricName, { statistic, label: metricName });
    const queues = props.agentQueues;
    const minute = { period: Duration.minutes(1), statistic: cloudwatch.Stats.MAXIMUM };

    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Decision latency (ms, intake and triage)',
        left: percentiles(CUSTOM_METRICS.decisionLatency),
        width,
      }),
      new cloudwatch.GraphWidget({
        title: 'Orchestration overhead (ms per Task, workflow Lambda)',
        left: percentiles(CUSTOM_METRICS.orchestrationOverhead),
        width,
      }),
    );
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Agent queues: visible messages',
        left: queues.map(({ name, queue }) =>
          queue.queue.metricApproximateNumberOfMessagesVisible({ ...minute, label: name }),
        ),
        width: 8,
      }),
      new cloudwatch.GraphWidget({
        title: 'Dead-letter queues: visible messages',
        left: [
          ...queues.map(({ name, queue }) =>
            queue.deadLetterQueue.metricApproximateNumberOfMessagesVisible({
              ...minute,
              label: `${name} DLQ`,
            }),
          ),
          props.compensationDlq.metricApproximateNumberOfMessagesVisible({
            ...minute,
            label: 'compensation',
          }),
        ],
        width: 8,
      }),
      new cloudwatch.GraphWidget({
        title: 'Agent queues: age of oldest message (s)',
        left: queues.map(({ name, queue }) =>
          queue.queue.metricApproximateAgeOfOldestMessage({ ...minute, label: name }),
        ),
        width: 8,
      }),
    );
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Workflow outcomes',
        left: [
          stateMachine.metricSucceeded({ ...sum, label: 'ExecutionsSucceeded' }),
          stateMachine.metricFailed({ ...sum, label: 'ExecutionsFailed' }),
          stateMachine.metricTimedOut({ ...sum, label: 'ExecutionsTimedOut' }),
          stateMachine.metricAborted({ ...sum, label: 'ExecutionsAborted' }),
        ],
        right: [
          CUSTOM_METRICS.workflowsSucceeded,
          CUSTOM_METRICS.workflowsRolledBack,
          CUSTOM_METRICS.workflowsRollbackFailed,
          CUSTOM_METRICS.workflowsFailed,
          CUSTOM_METRICS.workflowsCancelled,
        ].map((metricName) => custom(metricName, cloudwatch.Stats.SUM)),
        leftYAxis: { label: 'executions', showUnits: false, min: 0 },
        rightYAxis: { label: 'workflows', showUnits: false, min: 0 },
        width,
      }),
      new cloudwatch.GraphWidget({
        title: 'Agent health',
        left: [
          CUSTOM_METRICS.unhealthyAgents,
          CUSTOM_METRICS.openCircuits,
          CUSTOM_METRICS.stalledWorkflows,
        ].map((metricName) => custom(metricName, cloudwatch.Stats.MAXIMUM)),
        leftYAxis: { min: 0, showUnits: false },
        width,
      }),
    );
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'REST API',
        left: [
          props.restApi.metricCount({ ...sum, label: 'Count' }),
          props.restApi.metricClientError({ ...sum, label: '4XXError' }),
          props.restApi.metricServerError({ ...sum, label: '5XXError' }),
        ],
        right: [props.restApi.metricLatency({ period, statistic: 'p99', label: 'Latency p99 (ms)' })],
        width,
      }),
      new cloudwatch.GraphWidget({
        title: 'Backpressure (requests refused 429)',
        left: [custom(CUSTOM_METRICS.backlogRejected, cloudwatch.Stats.SUM)],
        leftYAxis: { min: 0, showUnits: false },
        width,
      }),
    );
    this.dashboard.addWidgets(
      new cloudwatch.AlarmStatusWidget({
        title: 'Alarms',
        alarms: [...alarms.values(), ...(props.alarmsToNotify ?? [])],
        width: 24,
      }),
    );
  }

  /** A custom metric of the functions (Powertools EMF): namespace and `service` dimension as they emit them. */
  customMetric(metricName: CustomMetricName, options: cloudwatch.MetricOptions = {}): cloudwatch.Metric {
    return new cloudwatch.Metric({
      namespace: POWERTOOLS_METRICS_NAMESPACE,
      metricName,
      dimensionsMap: { service: POWERTOOLS_SERVICE_NAME },
      period: Duration.minutes(5),
      ...options,
    });
  }
}

/**
 * `SUM([FILL(a, 0), FILL(b, 0), ...])`: one series, the sum of all at each period. The FILLs
 * matter: ThrottledRequests and Throttles have no datapoint where nothing happened, and plain
 * `a + b` has none where any term has none, so a throttle on one operation alone would vanish.
 */
function sumOf(
  metrics: Record<string, cloudwatch.IMetric>,
  label: string,
  period: Duration,
): cloudwatch.MathExpression {
  const ids = Object.keys(metrics);
  if (ids.length > MAX_METRICS_PER_ALARM)
    throw new Error(`an alarm reads at most ${MAX_METRICS_PER_ALARM} metrics`);
  return new cloudwatch.MathExpression({
    expression: `SUM([${ids.map((id) => `FILL(${id}, 0)`).join(', ')}])`,
    usingMetrics: metrics,
    label,
    period,
  });
}

function chunk<T>(items: readonly T[], size: number): T[][] {
  const chunks: T[][] = [];
  for (let start = 0; start < items.length; start += size) chunks.push(items.slice(start, start + size));
  return chunks;
}
