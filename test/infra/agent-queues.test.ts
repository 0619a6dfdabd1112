import { App, type CfnElement, Duration, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import { CATEGORIES } from '#core/wire';
import { buildApp, STACK_NAME } from '../../infra/app';
import { AgentQueue } from '../../infra/constructs/agent-queue';
import { TASK_CALLBACK_ACTIONS } from '../../infra/constructs/reference-agents';
import { AGENT_CATALOG, type OrchestratorStack } from '../../infra/stacks/orchestrator-stack';
import {
  allPolicyStatements,
  asArray,
  type CfnResource,
  type CfnTemplate,
  cdkPath,
  getAttOf,
  type LocatedStatement,
  refOf,
  resourcesOfType,
} from './template-helpers';

/** Skips esbuild (these tests are about the template; stack.test.ts bundles); path metadata on. */
const CONTEXT = { 'aws:cdk:bundling-stacks': [], 'aws:cdk:enable-path-metadata': true };
const X_RAY_ACTIONS = ['xray:PutTelemetryRecords', 'xray:PutTraceSegments'];

let stack: OrchestratorStack;
let json: CfnTemplate;
let statements: LocatedStatement[];

beforeAll(() => {
  ({ stack } = buildApp({ env: {}, context: CONTEXT }));
  json = Template.fromStack(stack).toJSON() as CfnTemplate;
  statements = allPolicyStatements(json);
});

const underAgents = (type: string): Array<[string, CfnResource]> =>
  resourcesOfType(json, type).filter(([, r]) => cdkPath(r).startsWith(`${STACK_NAME}/ReferenceAgents/`));
const mainQueues = (): Array<[string, CfnResource]> =>
  underAgents('AWS::SQS::Queue').filter(([, r]) => cdkPath(r).endsWith('/Queue/Resource'));
const deadLetterQueues = (): Array<[string, CfnResource]> =>
  underAgents('AWS::SQS::Queue').filter(([, r]) => cdkPath(r).endsWith('/DeadLetterQueue/Resource'));
const agentFunctions = (): Array<[string, CfnResource]> => underAgents('AWS::Lambda::Function');

describe('the agent catalog', () => {
  it('is one reference agent per C7 category', () => {
    expect(AGENT_CATALOG.map((entry) => entry.category)).toEqual([...CATEGORIES]);
    expect(AGENT_CATALOG.map((entry) => entry.agent_id)).toEqual(CATEGORIES.map((c) => `reference-${c}`));
  });
});

describe('agent queues', () => {
  it('are 10 queues and 10 DLQs, all SSE-SQS encrypted and TLS-only', () => {
    expect(mainQueues()).toHaveLength(CATEGORIES.length);
    expect(deadLetterQueues()).toHaveLength(CATEGORIES.length);
    const policies = resourcesOfType(json, 'AWS::SQS::QueuePolicy');
    for (const [id, queue] of [...mainQueues(), ...deadLetterQueues()]) {
      expect(queue.Properties?.SqsManagedSseEnabled).toBe(true);
      const policy = policies.find(([, p]) =>
        ((p.Properties?.Queues ?? []) as unknown[]).some((q) => refOf(q) === id),
      );
      const statement = ((policy?.[1].Properties?.PolicyDocument ?? {}) as { Statement: unknown[] })
        .Statement;
      expect(statement).toContainEqual({
        Action: 'sqs:*',
        Condition: { Bool: { 'aws:SecureTransport': 'false' } },
        Effect: 'Deny',
        Principal: { AWS: '*' },
        Resource: { 'Fn::GetAtt': [id, 'Arn'] },
      });
    }
  });

  it('redrive to their own DLQ after 5 receives; DLQs keep messages 14 days', () => {
    for (const [, queue] of mainQueues()) {
      const redrive = queue.Properties?.RedrivePolicy as {
        deadLetterTargetArn: unknown;
        maxReceiveCount: number;
      };
      expect(redrive.maxReceiveCount).toBe(5);
      const dlqId = getAttOf(redrive.deadLetterTargetArn);
      expect(cdkPath(json.Resources[dlqId ?? ''] as CfnResource)).toBe(
        cdkPath(queue).replace('/Queue/Resource', '/DeadLetterQueue/Resource'),
      );
    }
    for (const [, dlq] of deadLetterQueues()) {
      expect(dlq.Properties?.MessageRetentionPeriod).toBe(14 * 24 * 3600);
    }
  });

  it('have a visibility timeout of at least 6 × their consumer timeout', () => {
    const mappings = resourcesOfType(json, 'AWS::Lambda::EventSourceMapping');
    for (const [id, queue] of mainQueues()) {
      const mapping = mappings.find(([, m]) => getAttOf(m.Properties?.EventSourceArn) === id);
      const fn = json.Resources[refOf(mapping?.[1].Properties?.FunctionName) ?? ''] as CfnResource;
      const timeout = fn.Properties?.Timeout as number;
      expect(timeout).toBe(90);
      expect(queue.Properties?.VisibilityTimeout as number).toBeGreaterThanOrEqual(6 * timeout);
    }
  });

  it('alarm on DLQ depth > 0 over one 1-minute datapoint', () => {
    const alarms = underAgents('AWS::CloudWatch::Alarm');
    expect(alarms).toHaveLength(CATEGORIES.length);
    const dlqIds = new Set(deadLetterQueues().map(([id]) => id));
    const watched = alarms.map(([, alarm]) => {
      expect(alarm.Properties).toMatchObject({
        Namespace: 'AWS/SQS',
        MetricName: 'ApproximateNumberOfMessagesVisible',
        ComparisonOperator: 'GreaterThanThreshold',
        Threshold: 0,
        EvaluationPeriods: 1,
        DatapointsToAlarm: 1,
        Period: 60,
      });
      const dimensions = alarm.Properties?.Dimensions as Array<{ Name: string; Value: unknown }>;
      return getAttOf(dimensions.find((d) => d.Name === 'QueueName')?.Value);
    });
    expect(new Set(watched)).toEqual(dlqIds);
  });
});

describe('reference agents', () => {
  it('are 10 Lambdas, each with its AGENT_ID and AGENT_CATEGORY', () => {
    const functions = agentFunctions();
    expect(functions).toHaveLength(CATEGORIES.length);
    const environments = functions.map(
      ([, fn]) => ((fn.Properties?.Environment ?? {}) as { Variables: Record<string, string> }).Variables,
    );
    expect(environments.map((env) => env.AGENT_CATEGORY).sort()).toEqual([...CATEGORIES].sort());
    for (const env of environments) expect(env.AGENT_ID).toBe(`reference-${env.AGENT_CATEGORY}`);
    for (const [, fn] of functions) expect(fn.Properties?.Handler).toBe('index.handler');
  });

  it('consume their queue in batches of 10 with ReportBatchItemFailures', () => {
    const mappings = resourcesOfType(json, 'AWS::Lambda::EventSourceMapping');
    expect(mappings).toHaveLength(CATEGORIES.length);
    const queueIds = new Set(mainQueues().map(([id]) => id));
    for (const [, mapping] of mappings) {
      expect(mapping.Properties?.BatchSize).toBe(10);
      expect(mapping.Properties?.FunctionResponseTypes).toEqual(['ReportBatchItemFailures']);
      expect(queueIds.has(getAttOf(mapping.Properties?.EventSourceArn) ?? '')).toBe(true);
    }
  });

  it('may only answer task tokens on "*" besides X-Ray, and consume their own queue', () => {
    const roleIds = underAgents('AWS::IAM::Role').map(([id]) => id);
    expect(roleIds).toHaveLength(CATEGORIES.length);
    for (const roleId of roleIds) {
      const own = statements.filter((entry) => entry.roles.includes(roleId));
      const wildcard = own.filter((entry) => asArray(entry.statement.Resource).includes('*'));
      expect(wildcard.flatMap((entry) => asArray(entry.statement.Action)).sort()).toEqual(
        [...TASK_CALLBACK_ACTIONS, ...X_RAY_ACTIONS].sort(),
      );
      const scoped = own.filter((entry) => !asArray(entry.statement.Resource).includes('*'));
      const actions = scoped.flatMap((entry) => asArray(entry.statement.Action));
      expect(actions.filter((a) => !a.startsWith('logs:') && !a.startsWith('sqs:'))).toEqual([]);
      const sqsStatement = scoped.find((entry) =>
        asArray(entry.statement.Action).includes('sqs:ReceiveMessage'),
      );
      const queueId = getAttOf(sqsStatement?.statement.Resource);
      expect(cdkPath(json.Resources[queueId ?? ''] as CfnResource)).toMatch(/\/Queue\/Resource$/);
    }
  });
});

describe('outputs (C2)', () => {
  it.each(['AgentQueueUrls', 'AgentDlqUrls'])('%s is a JSON object of every category', (key) => {
    const value = json.Outputs?.[key]?.Value as { 'Fn::Join': [string, unknown[]] };
    const parts = value['Fn::Join'][1];
    // Replace each queue Ref with its logical id to read the JSON shape.
    const text = parts.map((part) => (typeof part === 'string' ? part : (refOf(part) ?? '?'))).join('');
    const parsed = JSON.parse(text) as Record<string, string>;
    expect(Object.keys(parsed)).toEqual([...CATEGORIES]);
    const expected = key === 'AgentDlqUrls' ? deadLetterQueues() : mainQueues();
    expect(new Set(Object.values(parsed))).toEqual(new Set(expected.map(([id]) => id)));
  });
});

describe('AgentQueue', () => {
  it('refuses a visibility timeout under 6 × the consumer timeout', () => {
    const stack = new Stack(new App(), 'Probe');
    expect(
      () =>
        new AgentQueue(stack, 'Queue', {
          consumerTimeout: Duration.seconds(30),
          visibilityTimeout: Duration.seconds(179),
        }),
    ).toThrow(/under 6 × consumerTimeout \(180 s\)/);
  });

  it('takes maxReceiveCount and grants sending to the main queue only', () => {
    const stack = new Stack(new App(), 'Probe');
    const queue = new AgentQueue(stack, 'Queue', {
      consumerTimeout: Duration.seconds(10),
      maxReceiveCount: 3,
    });
    const role = new iam.Role(stack, 'R', { assumedBy: new iam.ServicePrincipal('states.amazonaws.com') });
    queue.grantSendMessages(role);
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::SQS::Queue', {
      VisibilityTimeout: 60,
      RedrivePolicy: { maxReceiveCount: 3 },
    });
    const policy = resourcesOfType(template.toJSON() as CfnTemplate, 'AWS::IAM::Policy')[0]?.[1];
    const statement = (
      (policy?.Properties?.PolicyDocument ?? {}) as { Statement: Array<{ Resource: unknown }> }
    ).Statement[0];
    expect(getAttOf(statement?.Resource)).toBe(
      stack.getLogicalId(queue.queue.node.defaultChild as CfnElement),
    );
  });
});
