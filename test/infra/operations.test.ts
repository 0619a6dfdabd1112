import { Template } from 'aws-cdk-lib/assertions';
import { buildApp, STACK_NAME } from '../../infra/app';
import { CUSTOM_METRICS, MAX_METRICS_PER_ALARM } from '../../infra/constructs/operations';
import { AGENT_CATALOG, type OrchestratorStack } from '../../infra/stacks/orchestrator-stack';
import {
  type CfnResource,
  type CfnTemplate,
  cdkPath,
  getAttOf,
  refOf,
  resourcesOfType,
} from './template-helpers';

/** Skips esbuild (these tests are about the template; stack.test.ts bundles); path metadata on. */
const CONTEXT = { 'aws:cdk:bundling-stacks': [], 'aws:cdk:enable-path-metadata': true };

let stack: OrchestratorStack;
let json: CfnTemplate;

beforeAll(() => {
  const built = buildApp({ env: {}, context: CONTEXT });
  stack = built.stack;
  built.app.synth(); // runs the cdk-nag plugin: throws on any unacknowledged finding
  json = Template.fromStack(stack).toJSON() as CfnTemplate;
});

function logicalIdAt(constructPath: string): string {
  const found = Object.entries(json.Resources).find(
    ([, r]) => cdkPath(r) === `${STACK_NAME}/${constructPath}`,
  );
  if (!found) throw new Error(`no resource at ${constructPath}`);
  return found[0];
}
const resourceAt = (constructPath: string): CfnResource =>
  json.Resources[logicalIdAt(constructPath)] as CfnResource;
const topicRef = () => ({ Ref: logicalIdAt('Operations/AlarmTopic/Resource') });
const alarmAt = (id: string) => resourceAt(`Operations/${id}/Resource`).Properties ?? {};

interface MetricQuery {
  readonly Id: string;
  readonly Expression?: string;
  readonly ReturnData?: boolean;
  readonly MetricStat?: {
    Metric: { Namespace: string; MetricName: string; Dimensions: Array<{ Name: string; Value: unknown }> };
    Period: number;
    Stat: string;
  };
}

/** Every alarm built here: one datapoint of one period, >= 1, missing data not breaching, the topic. */
const ALARM_SHAPE = {
  ComparisonOperator: 'GreaterThanOrEqualToThreshold',
  Threshold: 1,
  EvaluationPeriods: 1,
  DatapointsToAlarm: 1,
  TreatMissingData: 'notBreaching',
};

describe('the alarm topic', () => {
  it('is encrypted with its own rotating customer-managed key, which CloudWatch may use', () => {
    const keyId = logicalIdAt('Operations/AlarmTopicKey/Resource');
    const topic = resourceAt('Operations/AlarmTopic/Resource');
    expect(topic.Type).toBe('AWS::SNS::Topic');
    expect(topic.Properties?.KmsMasterKeyId).toEqual({ 'Fn::GetAtt': [keyId, 'Arn'] });
    const key = json.Resources[keyId] as CfnResource;
    expect(key.Properties?.EnableKeyRotation).toBe(true);
    expect(key.DeletionPolicy).toBe('Retain');
    const statements =
      (key.Properties?.KeyPolicy as { Statement?: Array<Record<string, unknown>> } | undefined)?.Statement ??
      [];
    const forCloudWatch = statements.filter(
      (s) => JSON.stringify(s.Principal) === JSON.stringify({ Service: 'cloudwatch.amazonaws.com' }),
    );
    expect(forCloudWatch).toEqual([
      expect.objectContaining({
        Effect: 'Allow',
        Action: ['kms:Decrypt', 'kms:GenerateDataKey'],
        Resource: '*', // in a key policy: this key
      }),
    ]);
  });

  it('refuses publishing without TLS, and lets CloudWatch alarms of this account publish', () => {
    const [, policy] =
      resourcesOfType(json, 'AWS::SNS::TopicPolicy').find(([, p]) =>
        ((p.Properties?.Topics ?? []) as unknown[]).some((t) => refOf(t) === topicRef().Ref),
      ) ?? [];
    const statements =
      (policy?.Properties?.PolicyDocument as { Statement?: Array<Record<string, unknown>> } | undefined)
        ?.Statement ?? [];
    expect(statements).toContainEqual(
      expect.objectContaining({
        Effect: 'Deny',
        Action: 'sns:Publish',
        Principal: '*',
        Condition: { Bool: { 'aws:SecureTransport': 'false' } },
      }),
    );
    const allow = statements.filter((s) => s.Effect === 'Allow');
    expect(allow).toHaveLength(1);
    expect(allow[0]).toMatchObject({
      Action: 'sns:Publish',
      Principal: { Service: 'cloudwatch.amazonaws.com' },
      Resource: topicRef(),
      Condition: { StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } },
    });
    expect(JSON.stringify(allow[0]?.Condition)).toContain(':alarm:*');
  });

  it('is output as AlarmTopicArn', () => {
    expect(json.Outputs?.AlarmTopicArn?.Value).toEqual(topicRef());
  });
});

describe('the alarms', () => {
  const machine = () => ({ Ref: logicalIdAt('Recovery/StateMachine/Resource') });

  it.each([
    ['ExecutionsFailedAlarm', 'ExecutionsFailed'],
    ['ExecutionsTimedOutAlarm', 'ExecutionsTimedOut'],
    ['ExecutionsThrottledAlarm', 'ExecutionThrottled'],
  ])('%s watches the recovery state machine %s (Sum of 5 minutes)', (id, metricName) => {
    expect(alarmAt(id)).toMatchObject({
      ...ALARM_SHAPE,
      Namespace: 'AWS/States',
      MetricName: metricName,
      Dimensions: [{ Name: 'StateMachineArn', Value: machine() }],
      Statistic: 'Sum',
      Period: 300,
      AlarmActions: [topicRef()],
    });
  });

  it('StalledWorkflowsAlarm watches the sweep metric (Maximum) under the Powertools service dimension', () => {
    expect(alarmAt('StalledWorkflowsAlarm')).toMatchObject({
      ...ALARM_SHAPE,
      Namespace: 'MasterOrchestrator',
      MetricName: CUSTOM_METRICS.stalledWorkflows,
      Dimensions: [{ Name: 'service', Value: 'master-orchestrator' }],
      Statistic: 'Maximum',
      Period: 300,
      AlarmActions: [topicRef()],
    });
  });

  it('Api5xxAlarm watches the REST API 5XXError (Sum)', () => {
    expect(alarmAt('Api5xxAlarm')).toMatchObject({
      ...ALARM_SHAPE,
      Namespace: 'AWS/ApiGateway',
      MetricName: '5XXError',
      Dimensions: [{ Name: 'ApiName', Value: 'master-orchestrator' }],
      Statistic: 'Sum',
      Period: 300,
      AlarmActions: [topicRef()],
    });
  });

  it('the Lambda throttle alarms sum Throttles of every function of the stack, at most 10 per alarm', () => {
    const functionIds = resourcesOfType(json, 'AWS::Lambda::Function').map(([id]) => id);
    const throttleAlarms = resourcesOfType(json, 'AWS::CloudWatch::Alarm').filter(([, a]) =>
      cdkPath(a).startsWith(`${STACK_NAME}/Operations/LambdaThrottlesAlarm`),
    );
    expect(throttleAlarms).toHaveLength(Math.ceil(functionIds.length / MAX_METRICS_PER_ALARM));
    const watched: string[] = [];
    for (const [, alarm] of throttleAlarms) {
      expect(alarm.Properties).toMatchObject({ ...ALARM_SHAPE, AlarmActions: [topicRef()] });
      const queries = alarm.Properties?.Metrics as MetricQuery[];
      const stats = queries.filter((q) => q.MetricStat);
      expect(stats.length).toBeLessThanOrEqual(MAX_METRICS_PER_ALARM);
      const [expression, ...others] = queries.filter((q) => q.Expression);
      expect(others).toEqual([]);
      expect(expression?.ReturnData).toBe(true);
      expect(expression?.Expression).toBe(`SUM([${stats.map((q) => `FILL(${q.Id}, 0)`).join(', ')}])`);
      for (const { MetricStat } of stats) {
        expect(MetricStat).toMatchObject({
          Metric: { Namespace: 'AWS/Lambda', MetricName: 'Throttles' },
          Period: 300,
          Stat: 'Sum',
        });
        watched.push(refOf(MetricStat?.Metric.Dimensions[0]?.Value) ?? '');
      }
    }
    expect(watched.sort()).toEqual(functionIds.sort());
  });

  it('TableThrottlesAlarm sums ThrottledRequests of the operations the functions use on the table', () => {
    const alarm = alarmAt('TableThrottlesAlarm');
    expect(alarm).toMatchObject({ ...ALARM_SHAPE, AlarmActions: [topicRef()] });
    const queries = alarm.Metrics as MetricQuery[];
    const stats = queries.filter((q) => q.MetricStat);
    expect(stats.length).toBeLessThanOrEqual(MAX_METRICS_PER_ALARM);
    const operations = stats.map(({ MetricStat }) => {
      expect(MetricStat).toMatchObject({
        Metric: { Namespace: 'AWS/DynamoDB', MetricName: 'ThrottledRequests' },
        Period: 300,
        Stat: 'Sum',
      });
      const dimensions = MetricStat?.Metric.Dimensions ?? [];
      expect(dimensions.find((d) => d.Name === 'TableName')?.Value).toEqual({
        Ref: logicalIdAt('Table/Table/Resource'),
      });
      return dimensions.find((d) => d.Name === 'Operation')?.Value;
    });
    expect(operations).toEqual(
      expect.arrayContaining(['GetItem', 'Query', 'PutItem', 'UpdateItem', 'TransactWriteItems']),
    );
    expect(queries.find((q) => q.Expression)?.Expression).toMatch(/^SUM\(\[FILL\(/);
  });

  it('every alarm of the stack notifies the topic: the DLQ alarms and the compensation alarm too', () => {
    const alarms = resourcesOfType(json, 'AWS::CloudWatch::Alarm');
    // Operations: 6 plus one Lambda throttle alarm per 10 functions; one per agent DLQ; the compensation DLQ.
    const functions = resourcesOfType(json, 'AWS::Lambda::Function').length;
    expect(alarms.length).toBe(6 + Math.ceil(functions / MAX_METRICS_PER_ALARM) + AGENT_CATALOG.length + 1);
    for (const [, alarm] of alarms) expect(alarm.Properties?.AlarmActions).toEqual([topicRef()]);
    expect(resourceAt('Recovery/CompensationFailedAlarm/Resource').Properties?.AlarmActions).toEqual([
      topicRef(),
    ]);
  });
});

describe('the dashboard', () => {
  /** The dashboard body with each CloudFormation reference written as `<LogicalId>`. */
  function dashboardBody(): { widgets: Array<{ type: string; properties: Record<string, unknown> }> } {
    const [, dashboard] = resourcesOfType(json, 'AWS::CloudWatch::Dashboard')[0] ?? [];
    const body = dashboard?.Properties?.DashboardBody as { 'Fn::Join': [string, unknown[]] };
    const text = body['Fn::Join'][1]
      .map((part) => (typeof part === 'string' ? part : `<${refOf(part) ?? getAttOf(part)}>`))
      .join('');
    return JSON.parse(text);
  }
  const graph = (title: RegExp) => {
    const widget = dashboardBody().widgets.find((w) => title.test(String(w.properties.title)));
    if (!widget) throw new Error(`no widget ${title}`);
    return JSON.stringify(widget.properties.metrics);
  };
  /** Whether the widget's metrics hold the custom metric `name` with statistic `stat`. */
  const customMetric = (name: string, stat: string) =>
    expect.stringMatching(
      new RegExp(
        `\\["MasterOrchestrator","${name}","service","master-orchestrator",\\{[^}]*"stat":"${stat}"[^}]*\\}\\]`,
      ),
    );

  it('exists once and is output as DashboardName', () => {
    const dashboards = resourcesOfType(json, 'AWS::CloudWatch::Dashboard');
    expect(dashboards).toHaveLength(1);
    expect(json.Outputs?.DashboardName?.Value).toEqual({ Ref: dashboards[0]?.[0] });
  });

  it('graphs decision latency and orchestration overhead at p50 and p99', () => {
    for (const stat of ['p50', 'p99']) {
      expect(graph(/^Decision latency/)).toEqual(customMetric(CUSTOM_METRICS.decisionLatency, stat));
      expect(graph(/^Orchestration overhead/)).toEqual(
        customMetric(CUSTOM_METRICS.orchestrationOverhead, stat),
      );
    }
  });

  it('graphs the depth of every agent queue, every DLQ and the compensation DLQ, and the oldest message age', () => {
    const queues = resourcesOfType(json, 'AWS::SQS::Queue');
    const agentQueues = queues.filter(([, q]) => /ReferenceAgents\/\w+Queue\/Queue\//.test(cdkPath(q)));
    const deadLetters = queues.filter(([, q]) => cdkPath(q).includes('DeadLetterQueue'));
    expect(agentQueues).toHaveLength(AGENT_CATALOG.length);
    expect(deadLetters).toHaveLength(AGENT_CATALOG.length + 1);
    for (const [id] of agentQueues) {
      expect(graph(/^Agent queues: visible/)).toContain(`<${id}>`);
      expect(graph(/^Agent queues: age/)).toContain(`<${id}>`);
    }
    for (const [id] of deadLetters) expect(graph(/^Dead-letter queues/)).toContain(`<${id}>`);
    expect(graph(/^Agent queues: visible/)).toContain('ApproximateNumberOfMessagesVisible');
    expect(graph(/^Dead-letter queues/)).toContain('ApproximateNumberOfMessagesVisible');
    expect(graph(/^Agent queues: age/)).toContain('ApproximateAgeOfOldestMessage');
  });

  it('graphs workflow outcomes: the state machine executions and the orchestrator counts', () => {
    const outcomes = graph(/^Workflow outcomes/);
    for (const name of ['ExecutionsSucceeded', 'ExecutionsFailed', 'ExecutionsTimedOut', 'ExecutionsAborted'])
      expect(outcomes).toContain(`"AWS/States","${name}"`);
    for (const name of [
      CUSTOM_METRICS.workflowsSucceeded,
      CUSTOM_METRICS.workflowsRolledBack,
      CUSTOM_METRICS.workflowsRollbackFailed,
      CUSTOM_METRICS.workflowsFailed,
      CUSTOM_METRICS.workflowsCancelled,
    ])
      expect(outcomes).toEqual(customMetric(name, 'Sum'));
  });

  it('graphs agent health, the API and backpressure', () => {
    for (const name of [
      CUSTOM_METRICS.unhealthyAgents,
      CUSTOM_METRICS.openCircuits,
      CUSTOM_METRICS.stalledWorkflows,
    ])
      expect(graph(/^Agent health/)).toEqual(customMetric(name, 'Maximum'));
    const api = graph(/^REST API/);
    for (const name of ['Count', '4XXError', '5XXError', 'Latency'])
      expect(api).toContain(`"AWS/ApiGateway","${name}","ApiName","master-orchestrator"`);
    expect(api).toContain('"stat":"p99"');
    expect(graph(/^Backpressure/)).toEqual(customMetric(CUSTOM_METRICS.backlogRejected, 'Sum'));
  });

  it('shows the state of every alarm', () => {
    const widget = dashboardBody().widgets.find((w) => w.type === 'alarm');
    const shown = JSON.stringify(widget?.properties.alarms);
    for (const [id] of resourcesOfType(json, 'AWS::CloudWatch::Alarm')) expect(shown).toContain(`<${id}>`);
  });
});
