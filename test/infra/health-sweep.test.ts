import { Template } from 'aws-cdk-lib/assertions';
import { DEFAULT_CIRCUIT_CONFIG } from '#core/circuit-breaker';
import { type BuildAppProps, buildApp, STACK_NAME } from '../../infra/app';
import {
  allPolicyStatements,
  asArray,
  type CfnResource,
  type CfnTemplate,
  cdkPath,
  type LocatedStatement,
  refOf,
  resourcesOfType,
} from './template-helpers';

/** Skips esbuild (these tests are about the template; stack.test.ts bundles); path metadata on. */
const CONTEXT = { 'aws:cdk:bundling-stacks': [], 'aws:cdk:enable-path-metadata': true };

function synth(props: BuildAppProps = {}): CfnTemplate {
  const { app, stack } = buildApp({ env: {}, ...props, context: { ...CONTEXT, ...props.context } });
  app.synth(); // runs the cdk-nag plugin: each variant must be clean too
  return Template.fromStack(stack).toJSON() as CfnTemplate;
}

const idAt = (json: CfnTemplate, constructPath: string): string => {
  const found = Object.entries(json.Resources).find(
    ([, r]) => cdkPath(r) === `${STACK_NAME}/${constructPath}`,
  );
  if (!found) throw new Error(`no resource at ${constructPath}`);
  return found[0];
};

/** Each function's environment by its construct path under the stack. */
const envAt = (json: CfnTemplate, functionPath: string): Record<string, unknown> =>
  (
    ((json.Resources[idAt(json, `${functionPath}/Function/Resource`)] as CfnResource).Properties
      ?.Environment ?? {}) as { Variables?: Record<string, unknown> }
  ).Variables ?? {};

const SWEEP = 'HealthSweep/SweepFunction';
const CIRCUIT_FUNCTIONS = [SWEEP, 'Recovery/WorkflowFunction', 'RestApi/AgentsFunction'];
const BACKPRESSURE_FUNCTIONS = ['RestApi/IntakeFunction', 'RestApi/WorkflowsFunction'];

describe('the health sweep (defaults)', () => {
  let json: CfnTemplate;
  let statements: LocatedStatement[];
  let sweepId: string;
  let roleId: string;
  beforeAll(() => {
    json = synth();
    statements = allPolicyStatements(json);
    sweepId = idAt(json, `${SWEEP}/Function/Resource`);
    roleId = idAt(json, `${SWEEP}/Role/Resource`);
  });
  const sweepStatements = () => statements.filter((entry) => entry.roles.includes(roleId));

  it('runs every minute from the default bus, with 2 retries for at most 2 minutes', () => {
    const rule = json.Resources[idAt(json, 'HealthSweep/Schedule/Resource')] as CfnResource;
    expect(rule.Properties).toMatchObject({ ScheduleExpression: 'rate(1 minute)', State: 'ENABLED' });
    expect(rule.Properties?.EventBusName).toBeUndefined();
    expect(rule.Properties?.Targets).toEqual([
      {
        Arn: { 'Fn::GetAtt': [sweepId, 'Arn'] },
        Id: 'Target0',
        RetryPolicy: { MaximumRetryAttempts: 2, MaximumEventAgeInSeconds: 120 },
      },
    ]);
    const permission = resourcesOfType(json, 'AWS::Lambda::Permission').find(
      ([, p]) =>
        JSON.stringify(p.Properties?.FunctionName) === JSON.stringify({ 'Fn::GetAtt': [sweepId, 'Arn'] }),
    );
    expect(permission?.[1].Properties).toMatchObject({
      Action: 'lambda:InvokeFunction',
      Principal: 'events.amazonaws.com',
      SourceArn: { 'Fn::GetAtt': [idAt(json, 'HealthSweep/Schedule/Resource'), 'Arn'] },
    });
  });

  it('runs functions/sweep/handler.ts for at most 60 s', () => {
    expect((json.Resources[sweepId] as CfnResource).Properties?.Timeout).toBe(60);
  });

  it('gets the SweepEnv contract: table, state machine, bus, the two thresholds, and the circuit tuning', () => {
    expect(envAt(json, SWEEP)).toMatchObject({
      TABLE_NAME: { Ref: idAt(json, 'Table/Table/Resource') },
      STATE_MACHINE_ARN: { Ref: idAt(json, 'Recovery/StateMachine/Resource') },
      EVENT_BUS_NAME: { Ref: idAt(json, 'Recovery/EventBus/Resource') },
      AGENT_HEARTBEAT_STALE_SECONDS: '90',
      STALLED_AFTER_SECONDS: '900',
      CIRCUIT_BREAKER: JSON.stringify(DEFAULT_CIRCUIT_CONFIG),
    });
  });

  it('may read and write the table, put events on the domain bus, answer tokens and read executions of the recovery state machine only', () => {
    const machine = idAt(json, 'Recovery/StateMachine/Resource');
    const byAction = new Map<string, string[]>();
    for (const { statement } of sweepStatements()) {
      expect(statement.Effect).toBe('Allow');
      for (const action of asArray(statement.Action))
        for (const resource of asArray(statement.Resource))
          byAction.set(action, [...(byAction.get(action) ?? []), JSON.stringify(resource)]);
    }
    const states = [...byAction.keys()].filter((action) => action.startsWith('states:')).sort();
    expect(states).toEqual([
      'states:DescribeExecution',
      'states:ListExecutions',
      'states:SendTaskFailure',
      'states:SendTaskHeartbeat',
      'states:SendTaskSuccess',
    ]);
    for (const action of ['states:ListExecutions', 'states:SendTaskFailure'])
      expect(byAction.get(action)).toEqual([JSON.stringify({ Ref: machine })]);
    expect(byAction.get('states:DescribeExecution')?.[0]).toContain(
      JSON.stringify({ 'Fn::GetAtt': [machine, 'Name'] }),
    );
    expect(byAction.get('states:DescribeExecution')?.[0]).toContain(':execution:');
    expect(byAction.get('events:PutEvents')).toEqual([
      JSON.stringify({ 'Fn::GetAtt': [idAt(json, 'Recovery/EventBus/Resource'), 'Arn'] }),
    ]);
    for (const action of ['dynamodb:GetItem', 'dynamodb:Query', 'dynamodb:UpdateItem', 'dynamodb:PutItem'])
      expect(byAction.has(action)).toBe(true);
    expect(byAction.has('dynamodb:Scan')).toBe(false);
  });

  it('holds Resource "*" for X-Ray only, the one thing AWS requires it for', () => {
    const wildcard = sweepStatements()
      .filter(({ statement }) => asArray(statement.Resource).includes('*'))
      .flatMap(({ statement }) => asArray(statement.Action))
      .sort();
    expect(wildcard).toEqual(['xray:PutTelemetryRecords', 'xray:PutTraceSegments']);
  });

  it('is output as SweepFunctionName', () => {
    expect(refOf(json.Outputs?.SweepFunctionName?.Value)).toBe(sweepId);
  });

  it('passes the same circuit tuning to the workflow, agents and sweep functions, and backpressure to intake and workflows', () => {
    for (const path of CIRCUIT_FUNCTIONS)
      expect(envAt(json, path).CIRCUIT_BREAKER).toBe(JSON.stringify(DEFAULT_CIRCUIT_CONFIG));
    for (const path of BACKPRESSURE_FUNCTIONS)
      expect(envAt(json, path)).toMatchObject({
        MAX_BACKLOG_ISSUES: '5000',
        BACKLOG_RETRY_AFTER_SECONDS: '30',
      });
    for (const path of ['RestApi/TriageFunction', 'RestApi/TasksFunction', SWEEP])
      expect(envAt(json, path).MAX_BACKLOG_ISSUES).toBeUndefined();
  });
});

describe('resilience settings from context and props', () => {
  it('takes the sweep thresholds, backpressure and circuit tuning from -c context', () => {
    const json = synth({
      context: {
        agentHeartbeatStaleSeconds: '45',
        stalledAfterSeconds: '600',
        maxBacklogIssues: '100',
        backlogRetryAfterSeconds: '5',
        circuitCooldownSeconds: '120',
        circuitFailureThreshold: '3',
      },
    });
    expect(envAt(json, SWEEP)).toMatchObject({
      AGENT_HEARTBEAT_STALE_SECONDS: '45',
      STALLED_AFTER_SECONDS: '600',
    });
    for (const path of BACKPRESSURE_FUNCTIONS)
      expect(envAt(json, path)).toMatchObject({
        MAX_BACKLOG_ISSUES: '100',
        BACKLOG_RETRY_AFTER_SECONDS: '5',
      });
    const expected = { ...DEFAULT_CIRCUIT_CONFIG, failure_threshold: 3, cooldown_ms: 120_000 };
    for (const path of CIRCUIT_FUNCTIONS)
      expect(JSON.parse(String(envAt(json, path).CIRCUIT_BREAKER))).toEqual(expected);
  });

  it('lets stack props win over context', () => {
    const json = synth({
      context: { maxBacklogIssues: '100' },
      stackProps: { maxBacklogIssues: 7, circuitBreaker: { half_open_max_probes: 2 } },
    });
    expect(envAt(json, 'RestApi/IntakeFunction').MAX_BACKLOG_ISSUES).toBe('7');
    expect(JSON.parse(String(envAt(json, 'Recovery/WorkflowFunction').CIRCUIT_BREAKER))).toEqual({
      ...DEFAULT_CIRCUIT_CONFIG,
      half_open_max_probes: 2,
    });
  });

  it.each([
    [{ circuitFailureThreshold: '0' }, /failure_threshold must be an integer >= 1/],
    [{ circuitCooldownSeconds: '-1' }, /cooldown_ms must be a finite number >= 0/],
    [{ circuitCooldownSeconds: 'soon' }, /context circuitCooldownSeconds must be a number/],
    [{ agentHeartbeatStaleSeconds: '5' }, /agentHeartbeatStaleSeconds must be an integer >= 10/],
    [{ stalledAfterSeconds: '30' }, /stalledAfterSeconds must be an integer >= 60/],
    [{ maxBacklogIssues: '0' }, /maxBacklogIssues must be an integer >= 1/],
    [{ backlogRetryAfterSeconds: '1.5' }, /backlogRetryAfterSeconds must be an integer >= 1/],
  ])('rejects %p at synth', (context, message) => {
    expect(() => buildApp({ env: {}, context: { ...CONTEXT, ...context } })).toThrow(message);
  });
});
