import * as fs from 'node:fs';
import * as path from 'node:path';
import type { App } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { ErrorBody, WIRE_SCHEMAS } from '#core/wire';
import { API_BASE_PATH, ROUTES } from '#shared/routes';
import { GSI1, TABLE_KEYS, TTL_ATTRIBUTE } from '#shared/table-design';
import { buildApp, STACK_NAME } from '../../infra/app';
import { toModelSchema } from '../../infra/constructs/rest-api';
import { AGENT_CATALOG, type OrchestratorStack } from '../../infra/stacks/orchestrator-stack';
import {
  actionsOf,
  allPolicyStatements,
  asArray,
  type CfnResource,
  type CfnTemplate,
  cdkPath,
  getAttOf,
  type LocatedStatement,
  normalizeTemplate,
  refOf,
  resourcesOfType,
} from './template-helpers';

/** Construct path (under the stack) of each function's construct. */
const FUNCTION_PATHS = {
  intake: 'RestApi/IntakeFunction',
  triage: 'RestApi/TriageFunction',
  agents: 'RestApi/AgentsFunction',
  resources: 'RestApi/ResourcesFunction',
  workflows: 'RestApi/WorkflowsFunction',
  tasks: 'RestApi/TasksFunction',
  dlq: 'RestApi/DlqFunction',
  openapi: 'RestApi/OpenapiFunction',
  health: 'RestApi/HealthFunction',
  dashboard: 'RestApi/DashboardFunction',
  authorizer: 'RestApi/AuthorizerFunction',
  'rotate-signing-key': 'JwtSigningKey/RotationFunction',
  workflow: 'Recovery/WorkflowFunction',
  'progress-socket': 'ProgressSocket/SocketFunction',
  broadcast: 'ProgressSocket/BroadcastFunction',
  sweep: 'HealthSweep/SweepFunction',
} as const;
type FunctionName = keyof typeof FUNCTION_PATHS;
const TIMEOUT_SECONDS: Partial<Record<FunctionName, number>> = {
  'rotate-signing-key': 30,
  workflow: 30,
  broadcast: 30,
  sweep: 60,
};
const FUNCTION_NAMES = Object.keys(FUNCTION_PATHS) as FunctionName[];

/** The reference agents' functions (test/infra/agent-queues.test.ts covers them). */
const REFERENCE_AGENT = 'reference-agent';
/** The recovery state machine's own role (test/infra/recovery-asl.test.ts covers the machine). */
const STATE_MACHINE = 'state-machine';

/** Vended log delivery and X-Ray of a state machine that logs and traces. */
const STATE_MACHINE_WILDCARD_ACTIONS = [
  'logs:CreateLogDelivery',
  'logs:DeleteLogDelivery',
  'logs:DescribeLogGroups',
  'logs:DescribeResourcePolicies',
  'logs:GetLogDelivery',
  'logs:ListLogDeliveries',
  'logs:PutResourcePolicy',
  'logs:UpdateLogDelivery',
  'xray:GetSamplingRules',
  'xray:GetSamplingTargets',
];

/** The only actions AWS requires on Resource "*" here, and which roles may hold them. */
const WILDCARD_ACTIONS: Readonly<Record<string, readonly string[]>> = {
  'xray:PutTraceSegments': [...FUNCTION_NAMES, REFERENCE_AGENT, STATE_MACHINE],
  'xray:PutTelemetryRecords': [...FUNCTION_NAMES, REFERENCE_AGENT, STATE_MACHINE],
  'secretsmanager:GetRandomPassword': ['rotate-signing-key'],
  'states:SendTaskSuccess': [REFERENCE_AGENT, 'tasks', 'workflow'],
  'states:SendTaskFailure': [REFERENCE_AGENT, 'tasks'],
  'states:SendTaskHeartbeat': [REFERENCE_AGENT, 'tasks'],
  ...Object.fromEntries(STATE_MACHINE_WILDCARD_ACTIONS.map((action) => [action, [STATE_MACHINE]])),
};

let app: App;
let stack: OrchestratorStack;
let template: Template;
let json: CfnTemplate;
let statements: LocatedStatement[];
let assemblyDir: string;

beforeAll(() => {
  // Environment-agnostic, so the test does not depend on the machine's AWS settings;
  // path and asset metadata on, as the CLI turns them on.
  ({ app, stack } = buildApp({
    env: {},
    context: { 'aws:cdk:enable-path-metadata': true, 'aws:cdk:enable-asset-metadata': true },
  }));
  // Runs bundling's output through synthesis and the cdk-nag plugin; throws on any finding.
  assemblyDir = app.synth().directory;
  template = Template.fromStack(stack);
  json = template.toJSON() as CfnTemplate;
  statements = allPolicyStatements(json);
}, 120_000); // esbuild bundles every handler

function logicalIdAt(constructPath: string): string {
  const found = Object.entries(json.Resources).find(
    ([, r]) => cdkPath(r) === `${STACK_NAME}/${constructPath}`,
  );
  if (!found) throw new Error(`no resource at ${constructPath}`);
  return found[0];
}

const functionOf = (name: FunctionName): CfnResource => {
  const id = logicalIdAt(`${FUNCTION_PATHS[name]}/Function/Resource`);
  return json.Resources[id] as CfnResource;
};
const roleIdOf = (name: FunctionName): string => logicalIdAt(`${FUNCTION_PATHS[name]}/Role/Resource`);
const envOf = (name: FunctionName): Record<string, unknown> =>
  ((functionOf(name).Properties?.Environment as { Variables: Record<string, unknown> }) ?? { Variables: {} })
    .Variables;

function methodFor(method: string, routePath: string): CfnResource {
  const id = logicalIdAt(`RestApi/Api/Default/${API_BASE_PATH}/${routePath}/${method}/Resource`);
  return json.Resources[id] as CfnResource;
}

describe('the stack', () => {
  it('is named MasterOrchestrator', () => {
    expect(stack.stackName).toBe('MasterOrchestrator');
  });

  it('exposes the contract C2 outputs', () => {
    template.hasOutput('TableName', { Value: { Ref: Match.stringLikeRegexp('^Table') } });
    template.hasOutput('JwtSecretArn', { Value: { Ref: Match.stringLikeRegexp('^JwtSigningKeySecret') } });
    const url = json.Outputs?.RestApiUrl?.Value as { 'Fn::Join': [string, unknown[]] };
    const parts = url['Fn::Join'][1];
    // https://<api>.execute-api.<region>.<suffix>/<stage>/
    expect(parts.at(-1)).toBe('/');
    expect(refOf(parts.at(-2))).toBe(logicalIdAt('RestApi/Api/DeploymentStage.v1/Resource'));
  });

  it('has no CDK annotation errors or warnings', () => {
    expect(Annotations.fromStack(stack).findError('*', Match.anyValue())).toEqual([]);
    expect(Annotations.fromStack(stack).findWarning('*', Match.anyValue())).toEqual([]);
  });
});

describe('cdk-nag AwsSolutions', () => {
  it('reports no unacknowledged finding, errors or warnings, on the whole app', () => {
    // The same check synth ran in beforeAll (which would have thrown), invoked directly.
    const report = new AwsSolutionsChecks().validateScope(app);
    expect(report.violations.map((v) => `${v.ruleName} ${v.violatingResources[0]?.constructPath}`)).toEqual(
      [],
    );
    expect(report.success).toBe(true);
  });

  it('leaves no violation in the validation report synth wrote', () => {
    const report = JSON.parse(fs.readFileSync(path.join(assemblyDir, 'validation-report.json'), 'utf8')) as {
      pluginReports: Array<{ summary?: { pluginName?: string }; violations?: unknown[] }>;
    };
    const violations = report.pluginReports.flatMap((plugin) => plugin.violations ?? []);
    expect(violations).toEqual([]);
  });

  it('records every acknowledgement with a reason in the template metadata', () => {
    const acknowledged = Object.values(json.Resources).flatMap(
      (resource) =>
        (
          resource.Metadata?.cdk_nag as
            | { rules_to_suppress: Array<{ id: string; reason: string }> }
            | undefined
        )?.rules_to_suppress ?? [],
    );
    expect(new Set(acknowledged.map((rule) => rule.id))).toEqual(
      new Set([
        'AwsSolutions-IAM5[Resource::*]',
        'AwsSolutions-COG4',
        'AwsSolutions-APIG4',
        'AwsSolutions-APIG3',
        'AwsSolutions-APIG6',
        'AwsSolutions-SQS3',
        `AwsSolutions-IAM5[Resource::<${logicalIdAt('Recovery/WorkflowFunction/Function/Resource')}.Arn>:*]`,
        `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:<${logicalIdAt('Recovery/StateMachine/Resource')}.Name>:*]`,
        `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:execute-api:<AWS::Region>:<AWS::AccountId>:<${logicalIdAt('ProgressSocket/Api/Resource')}>/v1/*/@connections/*]`,
      ]),
    );
    for (const rule of acknowledged) expect(rule.reason.length).toBeGreaterThan(40);
  });

  it('acknowledges APIG4 (no authorization) on the three public methods only', () => {
    const apig4 = Object.values(json.Resources)
      .filter((resource) => resource.Type === 'AWS::ApiGateway::Method')
      .filter((resource) =>
        (
          (resource.Metadata?.cdk_nag as { rules_to_suppress: Array<{ id: string }> } | undefined)
            ?.rules_to_suppress ?? []
        )
          .map((rule) => rule.id)
          .includes('AwsSolutions-APIG4'),
      )
      .map((resource) => cdkPath(resource).split('/').slice(-3, -1).join(' '));
    expect(apig4.sort()).toEqual(['dashboard GET', 'health GET', 'openapi.json GET']);
  });
});

describe('the table', () => {
  it('uses the single-table keys, GSI1 with all attributes, TTL, PITR and on-demand billing', () => {
    template.resourceCountIs('AWS::DynamoDB::Table', 1);
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      KeySchema: [
        { AttributeName: TABLE_KEYS.partitionKey, KeyType: 'HASH' },
        { AttributeName: TABLE_KEYS.sortKey, KeyType: 'RANGE' },
      ],
      BillingMode: 'PAY_PER_REQUEST',
      GlobalSecondaryIndexes: [
        {
          IndexName: GSI1.indexName,
          KeySchema: [
            { AttributeName: GSI1.partitionKey, KeyType: 'HASH' },
            { AttributeName: GSI1.sortKey, KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'ALL' },
        },
      ],
      TimeToLiveSpecification: { AttributeName: TTL_ATTRIBUTE, Enabled: true },
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      DeletionProtectionEnabled: true,
    });
  });

  it('is encrypted with a customer-managed key that rotates, and both are retained', () => {
    const tableId = logicalIdAt('Table/Table/Resource');
    const keyId = logicalIdAt('Table/Key/Resource');
    const table = json.Resources[tableId] as CfnResource;
    expect(table.Properties?.SSESpecification).toEqual({
      SSEEnabled: true,
      SSEType: 'KMS',
      KMSMasterKeyId: { 'Fn::GetAtt': [keyId, 'Arn'] },
    });
    expect(json.Resources[keyId]?.Properties?.EnableKeyRotation).toBe(true);
    expect(table.DeletionPolicy).toBe('Retain');
    expect(json.Resources[keyId]?.DeletionPolicy).toBe('Retain');
  });
});

describe('the functions', () => {
  it('are the nine API functions, the authorizer, the rotation function, the workflow, socket, broadcast and sweep functions and the reference agents', () => {
    template.resourceCountIs('AWS::Lambda::Function', FUNCTION_NAMES.length + AGENT_CATALOG.length);
    for (const name of FUNCTION_NAMES) expect(functionOf(name).Type).toBe('AWS::Lambda::Function');
  });

  it.each(FUNCTION_NAMES)('%s runs arm64 on nodejs24.x with X-Ray and the Powertools environment', (name) => {
    const props = functionOf(name).Properties ?? {};
    expect(props.Runtime).toBe('nodejs24.x');
    expect(props.Architectures).toEqual(['arm64']);
    expect(props.TracingConfig).toEqual({ Mode: 'Active' });
    expect(props.MemorySize).toBe(512);
    expect(props.Timeout).toBe(TIMEOUT_SECONDS[name] ?? 10);
    expect(envOf(name)).toMatchObject({
      POWERTOOLS_SERVICE_NAME: 'master-orchestrator',
      POWERTOOLS_METRICS_NAMESPACE: 'MasterOrchestrator',
      LOG_LEVEL: 'INFO',
      NODE_OPTIONS: '--enable-source-maps',
    });
  });

  it.each(FUNCTION_NAMES)('%s logs to its own log group with one-month retention', (name) => {
    const logGroupId = logicalIdAt(`${FUNCTION_PATHS[name]}/LogGroup/Resource`);
    expect(functionOf(name).Properties?.LoggingConfig).toEqual({ LogGroup: { Ref: logGroupId } });
    expect(json.Resources[logGroupId]?.Properties?.RetentionInDays).toBe(30);
  });

  it.each(FUNCTION_NAMES)(
    '%s has a hand-made role: lambda only, no managed policy, logs on its group only',
    (name) => {
      const roleId = roleIdOf(name);
      const role = json.Resources[roleId] as CfnResource;
      expect(role.Properties?.ManagedPolicyArns).toBeUndefined();
      expect(role.Properties?.AssumeRolePolicyDocument).toEqual({
        Version: '2012-10-17',
        Statement: [
          { Action: 'sts:AssumeRole', Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' } },
        ],
      });
      const logStatements = statements
        .filter((entry) => entry.roles.includes(roleId))
        .filter((entry) => asArray(entry.statement.Action).some((action) => action.startsWith('logs:')));
      expect(logStatements).toHaveLength(1);
      expect(asArray(logStatements[0]?.statement.Action).sort()).toEqual([
        'logs:CreateLogStream',
        'logs:PutLogEvents',
      ]);
      expect(getAttOf(logStatements[0]?.statement.Resource)).toBe(
        logicalIdAt(`${FUNCTION_PATHS[name]}/LogGroup/Resource`),
      );
    },
  );

  it('bundles each handler with esbuild (an asset per function)', () => {
    for (const name of FUNCTION_NAMES) {
      const assetPath = String(functionOf(name).Metadata?.['aws:asset:path']);
      expect(fs.existsSync(path.join(assemblyDir, assetPath, 'index.js'))).toBe(true);
      expect(fs.existsSync(path.join(assemblyDir, assetPath, 'index.js.map'))).toBe(true);
    }
  });
});

describe('IAM', () => {
  it('attaches no managed policy anywhere', () => {
    for (const [, resource] of Object.entries(json.Resources)) {
      expect(resource.Properties?.ManagedPolicyArns).toBeUndefined();
    }
    template.resourceCountIs('AWS::IAM::ManagedPolicy', 0);
  });

  it('uses Resource "*" only for the actions AWS requires it for, on the roles that need them', () => {
    const roleNames = new Map<string, string>(FUNCTION_NAMES.map((name) => [roleIdOf(name), name]));
    for (const [roleId, role] of resourcesOfType(json, 'AWS::IAM::Role')) {
      if (cdkPath(role).startsWith(`${STACK_NAME}/ReferenceAgents/`)) roleNames.set(roleId, REFERENCE_AGENT);
      if (cdkPath(role) === `${STACK_NAME}/Recovery/StateMachine/Role/Resource`)
        roleNames.set(roleId, STATE_MACHINE);
    }
    const wildcards = statements.filter((entry) => asArray(entry.statement.Resource).includes('*'));
    expect(wildcards.length).toBeGreaterThan(0);
    for (const entry of wildcards) {
      expect(entry.statement.Effect).toBe('Allow');
      for (const action of asArray(entry.statement.Action)) {
        const allowed = WILDCARD_ACTIONS[action];
        expect({ action, allowed: allowed !== undefined }).toEqual({ action, allowed: true });
        for (const role of entry.roles) expect(allowed).toContain(roleNames.get(role));
      }
    }
  });

  it('never uses a wildcard action or a wildcard inside a resource, but for the three acknowledged ones', () => {
    const machineId = logicalIdAt('Recovery/StateMachine/Resource');
    const workflowFunctionId = logicalIdAt('Recovery/WorkflowFunction/Function/Resource');
    const partial: string[] = [];
    for (const { statement } of statements) {
      for (const action of asArray(statement.Action)) expect(action).not.toContain('*');
      for (const resource of asArray(statement.Resource)) {
        if (typeof resource === 'string' && resource !== '*') expect(resource).not.toContain('*');
        if (typeof resource !== 'string' && JSON.stringify(resource).includes('*'))
          partial.push(JSON.stringify(resource));
      }
      expect(JSON.stringify(statement.Resource)).not.toMatch(/index\/\*/);
    }
    // Every execution of the recovery state machine (cancel), and versions of the workflow function (its invoke).
    expect(new Set(partial)).toEqual(
      new Set([
        JSON.stringify({
          'Fn::Join': [
            '',
            [
              'arn:',
              { Ref: 'AWS::Partition' },
              ':states:',
              { Ref: 'AWS::Region' },
              ':',
              { Ref: 'AWS::AccountId' },
              ':execution:',
              { 'Fn::GetAtt': [machineId, 'Name'] },
              ':*',
            ],
          ],
        }),
        JSON.stringify({ 'Fn::Join': ['', [{ 'Fn::GetAtt': [workflowFunctionId, 'Arn'] }, ':*']] }),
        // PostToConnection and kin on the progress socket's stage (grantManagementApiAccess).
        JSON.stringify({
          'Fn::Join': [
            '',
            [
              'arn:',
              { Ref: 'AWS::Partition' },
              ':execute-api:',
              { Ref: 'AWS::Region' },
              ':',
              { Ref: 'AWS::AccountId' },
              ':',
              { Ref: logicalIdAt('ProgressSocket/Api/Resource') },
              '/v1/*/@connections/*',
            ],
          ],
        }),
      ]),
    );
  });

  it('gives table access by least privilege: writers, readers, and functions without any', () => {
    const writes = [
      'dynamodb:PutItem',
      'dynamodb:UpdateItem',
      'dynamodb:DeleteItem',
      'dynamodb:BatchWriteItem',
    ];
    const reads = ['dynamodb:GetItem', 'dynamodb:Query'];
    for (const name of ['intake', 'agents', 'workflows', 'workflow', 'sweep'] as const) {
      expect(actionsOf(statements, roleIdOf(name))).toEqual(expect.arrayContaining([...reads, ...writes]));
      expect(envOf(name).TABLE_NAME).toEqual({ Ref: logicalIdAt('Table/Table/Resource') });
    }
    for (const name of ['triage', 'resources', 'tasks'] as const) {
      const actions = actionsOf(statements, roleIdOf(name));
      expect(actions).toEqual(expect.arrayContaining(reads));
      for (const write of writes) expect(actions).not.toContain(write);
      expect(envOf(name).TABLE_NAME).toEqual({ Ref: logicalIdAt('Table/Table/Resource') });
    }
    for (const name of [
      'health',
      'openapi',
      'dashboard',
      'dlq',
      'authorizer',
      'rotate-signing-key',
    ] as const) {
      expect(
        actionsOf(statements, roleIdOf(name)).filter((action) => action.startsWith('dynamodb:')),
      ).toEqual([]);
      expect(envOf(name).TABLE_NAME).toBeUndefined();
    }
    expect(statements.flatMap((entry) => asArray(entry.statement.Action))).not.toContain('dynamodb:Scan');
  });

  it('scopes table grants to the table and GSI1, and the key to use through DynamoDB', () => {
    const tableId = logicalIdAt('Table/Table/Resource');
    const keyId = logicalIdAt('Table/Key/Resource');
    const tableStatements = statements.filter((entry) =>
      asArray(entry.statement.Action).some((action) => action.startsWith('dynamodb:')),
    );
    // intake, triage, agents, resources, workflows, tasks, workflow, progress-socket, broadcast, sweep
    expect(tableStatements).toHaveLength(10);
    for (const { statement } of tableStatements) {
      expect(statement.Resource).toEqual([
        { 'Fn::GetAtt': [tableId, 'Arn'] },
        { 'Fn::Join': ['', [{ 'Fn::GetAtt': [tableId, 'Arn'] }, `/index/${GSI1.indexName}`]] },
      ]);
    }
    const keyStatements = statements.filter((entry) => getAttOf(entry.statement.Resource) === keyId);
    expect(keyStatements).toHaveLength(10);
    for (const { statement } of keyStatements) {
      expect(statement.Condition).toEqual({
        StringEquals: {
          'kms:ViaService': { 'Fn::Join': ['', ['dynamodb.', { Ref: 'AWS::Region' }, '.amazonaws.com']] },
        },
      });
    }
  });

  it('lets only the authorizer read the signing key, and only the rotation function write it', () => {
    const secretId = logicalIdAt('JwtSigningKey/Secret/Resource');
    const onSecret = statements.filter((entry) => refOf(entry.statement.Resource) === secretId);
    const byRole = Object.fromEntries(
      onSecret.map((entry) => [entry.roles[0], asArray(entry.statement.Action).sort()]),
    );
    expect(byRole).toEqual({
      [roleIdOf('authorizer')]: ['secretsmanager:DescribeSecret', 'secretsmanager:GetSecretValue'],
      [roleIdOf('rotate-signing-key')]: [
        'secretsmanager:DescribeSecret',
        'secretsmanager:GetSecretValue',
        'secretsmanager:PutSecretValue',
        'secretsmanager:UpdateSecretVersionStage',
      ],
    });
    expect(envOf('authorizer').JWT_SECRET_ARN).toEqual({ Ref: secretId });
  });
});

describe('the JWT signing key', () => {
  it('is generated at deploy, 64 characters without punctuation, under its own rotating KMS key', () => {
    const keyId = logicalIdAt('JwtSigningKey/Key/Resource');
    template.hasResourceProperties('AWS::SecretsManager::Secret', {
      GenerateSecretString: { PasswordLength: 64, ExcludePunctuation: true },
      KmsKeyId: { 'Fn::GetAtt': [keyId, 'Arn'] },
    });
    expect(json.Resources[keyId]?.Properties?.EnableKeyRotation).toBe(true);
  });

  it('rotates every 30 days through the rotation function, which Secrets Manager may invoke', () => {
    const rotationFunctionId = logicalIdAt('JwtSigningKey/RotationFunction/Function/Resource');
    template.hasResourceProperties('AWS::SecretsManager::RotationSchedule', {
      SecretId: { Ref: logicalIdAt('JwtSigningKey/Secret/Resource') },
      RotationLambdaARN: { 'Fn::GetAtt': [rotationFunctionId, 'Arn'] },
      RotationRules: { ScheduleExpression: 'rate(30 days)' },
    });
    template.hasResourceProperties('AWS::Lambda::Permission', {
      Action: 'lambda:InvokeFunction',
      FunctionName: { 'Fn::GetAtt': [rotationFunctionId, 'Arn'] },
      Principal: 'secretsmanager.amazonaws.com',
    });
  });
});

describe('the API functions and the recovery workflow', () => {
  const machineRef = () => ({ Ref: logicalIdAt('Recovery/StateMachine/Resource') });
  const onRole = (name: FunctionName) => statements.filter((entry) => entry.roles.includes(roleIdOf(name)));
  const actionsOn = (name: FunctionName, prefix: string) =>
    onRole(name).filter((entry) =>
      asArray(entry.statement.Action).some((action) => action.startsWith(prefix)),
    );

  it('lets intake and workflows start executions of the recovery state machine, and nothing else does', () => {
    for (const name of ['intake', 'workflows'] as const) {
      expect(envOf(name).STATE_MACHINE_ARN).toEqual(machineRef());
      expect(actionsOn(name, 'states:StartExecution').map((entry) => entry.statement)).toEqual([
        { Action: 'states:StartExecution', Effect: 'Allow', Resource: machineRef() },
      ]);
    }
    const starters = statements
      .filter((entry) => asArray(entry.statement.Action).includes('states:StartExecution'))
      .flatMap((entry) => entry.roles);
    expect(starters.sort()).toEqual([roleIdOf('intake'), roleIdOf('workflows')].sort());
  });

  it('lets workflows describe and stop the executions of that state machine only (cancel)', () => {
    const stop = statements.filter((entry) =>
      asArray(entry.statement.Action).includes('states:StopExecution'),
    );
    expect(stop.flatMap((entry) => entry.roles)).toEqual([roleIdOf('workflows')]);
    expect(asArray(stop[0]?.statement.Action).sort()).toEqual([
      'states:DescribeExecution',
      'states:StopExecution',
    ]);
    expect(JSON.stringify(stop[0]?.statement.Resource)).toContain(
      JSON.stringify({ 'Fn::GetAtt': [logicalIdAt('Recovery/StateMachine/Resource'), 'Name'] }),
    );
  });

  it('lets tasks send the three task callbacks, and read the table to find who owns a token', () => {
    const callbacks = actionsOn('tasks', 'states:');
    expect(
      callbacks.map((entry) => [
        asArray(entry.statement.Action)
          .filter((a) => a.startsWith('states:'))
          .sort(),
        entry.statement.Resource,
      ]),
    ).toEqual([[['states:SendTaskFailure', 'states:SendTaskHeartbeat', 'states:SendTaskSuccess'], '*']]);
    expect(envOf('tasks').STATE_MACHINE_ARN).toBeUndefined();
  });

  it('tells dlq every agent DLQ by category and the compensation queue, and grants peek and redrive on them only', () => {
    const env = envOf('dlq');
    expect(env.COMPENSATION_DLQ_URL).toEqual({
      Ref: logicalIdAt('Recovery/CompensationDeadLetterQueue/Resource'),
    });
    expect(env.COMPENSATION_DLQ_ARN).toEqual({
      'Fn::GetAtt': [logicalIdAt('Recovery/CompensationDeadLetterQueue/Resource'), 'Arn'],
    });
    const agentDlqs = JSON.stringify(env.AGENT_DLQS);
    for (const { category } of AGENT_CATALOG) expect(agentDlqs).toContain(`\\"${category}\\"`);

    const sqsStatements = actionsOn('dlq', 'sqs:').map((entry) => entry.statement);
    const dlqIds = resourcesOfType(json, 'AWS::SQS::Queue')
      .filter(([, queue]) => cdkPath(queue).includes('/DeadLetterQueue/'))
      .map(([id]) => id);
    const mainIds = resourcesOfType(json, 'AWS::SQS::Queue')
      .filter(
        ([, queue]) =>
          cdkPath(queue).startsWith(`${STACK_NAME}/ReferenceAgents/`) &&
          cdkPath(queue).endsWith('/Queue/Resource'),
      )
      .map(([id]) => id);
    const compensationId = logicalIdAt('Recovery/CompensationDeadLetterQueue/Resource');
    const grants = new Map<string, Set<string>>();
    for (const statement of sqsStatements)
      for (const resource of asArray(statement.Resource)) {
        const id = getAttOf(resource) ?? '';
        for (const action of asArray(statement.Action))
          grants.set(id, (grants.get(id) ?? new Set()).add(action));
      }
    const sorted = (id: string) => [...(grants.get(id) ?? [])].sort();
    expect(dlqIds).toHaveLength(AGENT_CATALOG.length);
    for (const id of dlqIds)
      expect(sorted(id)).toEqual([
        'sqs:DeleteMessage',
        'sqs:GetQueueAttributes',
        'sqs:ListMessageMoveTasks',
        'sqs:ReceiveMessage',
        'sqs:StartMessageMoveTask',
      ]);
    for (const id of mainIds) expect(sorted(id)).toEqual(['sqs:GetQueueAttributes', 'sqs:SendMessage']);
    expect(sorted(compensationId)).toEqual(['sqs:GetQueueAttributes', 'sqs:ReceiveMessage']);
    expect(grants.size).toBe(dlqIds.length + mainIds.length + 1);
  });
});

describe('the REST API', () => {
  it('builds one method per route under api/orchestrator/, each on its function', () => {
    const methods = resourcesOfType(json, 'AWS::ApiGateway::Method');
    expect(methods).toHaveLength(ROUTES.length);
    for (const route of ROUTES) {
      const method = methodFor(route.method, route.path);
      const integration = method.Properties?.Integration as {
        Type: string;
        Uri: { 'Fn::Join': [string, unknown[]] };
      };
      expect(integration.Type).toBe('AWS_PROXY');
      expect(integration.Uri['Fn::Join'][1].map(getAttOf)).toContain(
        logicalIdAt(`${FUNCTION_PATHS[route.function]}/Function/Resource`),
      );
      expect(method.Properties?.OperationName).toBe(route.operationId);
    }
  });

  it('puts the JWT authorizer on every method except health, openapi.json and dashboard', () => {
    const authorizerId = logicalIdAt('RestApi/Authorizer/Resource');
    for (const route of ROUTES) {
      const props = methodFor(route.method, route.path).Properties ?? {};
      if (route.path === 'health' || route.path === 'openapi.json' || route.path === 'dashboard') {
        expect(route.roles).toEqual([]);
        expect(props.AuthorizationType).toBe('NONE');
        expect(props.AuthorizerId).toBeUndefined();
      } else {
        expect(props.AuthorizationType).toBe('CUSTOM');
        expect(props.AuthorizerId).toEqual({ Ref: authorizerId });
      }
    }
  });

  it('authorizes on the Authorization header with results cached for 300 s', () => {
    template.hasResourceProperties('AWS::ApiGateway::Authorizer', {
      Type: 'REQUEST',
      IdentitySource: 'method.request.header.Authorization',
      AuthorizerResultTtlInSeconds: 300,
      AuthorizerUri: Match.objectLike({
        'Fn::Join': Match.arrayWith([
          Match.arrayWith([
            { 'Fn::GetAtt': [logicalIdAt('RestApi/AuthorizerFunction/Function/Resource'), 'Arn'] },
          ]),
        ]),
      }),
    });
  });

  it('validates bodies against models generated from the zod schemas', () => {
    template.resourceCountIs('AWS::ApiGateway::RequestValidator', 1);
    template.hasResourceProperties('AWS::ApiGateway::RequestValidator', {
      ValidateRequestBody: true,
      ValidateRequestParameters: true,
    });
    const validatorId = logicalIdAt('RestApi/Api/RequestValidator/Resource');
    const models = new Map(
      resourcesOfType(json, 'AWS::ApiGateway::Model').map(([id, model]) => [id, model.Properties ?? {}]),
    );
    for (const route of ROUTES.filter((r) => r.request)) {
      const props = methodFor(route.method, route.path).Properties ?? {};
      expect(props.RequestValidatorId).toEqual({ Ref: validatorId });
      const modelId = refOf((props.RequestModels as Record<string, unknown>)['application/json']) ?? '';
      const model = models.get(modelId);
      const schemaName = Object.entries(WIRE_SCHEMAS).find(([, schema]) => schema === route.request)?.[0];
      expect(model?.Name).toBe(schemaName);
      expect(model?.Schema).toEqual({
        ...toModelSchema(route.request as NonNullable<typeof route.request>),
        $schema: 'http://json-schema.org/draft-04/schema#',
      });
    }
    expect(models.size).toBe(new Set(ROUTES.map((r) => r.request).filter(Boolean)).size);
  });

  it('requires the Idempotency-Key header on idempotent routes only, and lists the query parameters of GET dlq and GET workflows', () => {
    const queryParameters: Record<string, Record<string, boolean>> = {
      'GET dlq': { 'method.request.querystring.queue': false, 'method.request.querystring.limit': false },
      'GET workflows': {
        'method.request.querystring.limit': false,
        'method.request.querystring.status': false,
      },
    };
    for (const route of ROUTES) {
      const params = methodFor(route.method, route.path).Properties?.RequestParameters;
      if (route.idempotent) expect(params).toEqual({ 'method.request.header.Idempotency-Key': true });
      else if (route.query) expect(params).toEqual(queryParameters[`${route.method} ${route.path}`]);
      else expect(params).toBeUndefined();
    }
    expect(ROUTES.filter((r) => r.idempotent).map((r) => r.path)).toEqual(['issues', 'workflows']);
    expect(ROUTES.filter((r) => r.query).map((r) => `${r.method} ${r.path}`)).toEqual([
      'GET workflows',
      'GET dlq',
    ]);
  });

  it('serves stage v1 with throttling, metrics, tracing and JSON access logs', () => {
    template.hasResourceProperties('AWS::ApiGateway::Stage', {
      StageName: 'v1',
      TracingEnabled: true,
      MethodSettings: [
        Match.objectLike({
          HttpMethod: '*',
          ResourcePath: '/*',
          MetricsEnabled: true,
          DataTraceEnabled: false,
          ThrottlingRateLimit: 50,
          ThrottlingBurstLimit: 100,
        }),
      ],
    });
    const stage = json.Resources[logicalIdAt('RestApi/Api/DeploymentStage.v1/Resource')] as CfnResource;
    const accessLog = stage.Properties?.AccessLogSetting as { Format: string; DestinationArn: unknown };
    expect(Object.keys(JSON.parse(accessLog.Format))).toEqual(
      expect.arrayContaining([
        'requestId',
        'ip',
        'caller',
        'user',
        'requestTime',
        'httpMethod',
        'resourcePath',
        'status',
        'protocol',
        'responseLength',
        'integrationLatency',
      ]),
    );
    expect(JSON.stringify(accessLog.DestinationArn)).toContain(logicalIdAt('RestApi/AccessLogs/Resource'));
  });

  it('has no CORS preflight when no origin is configured', () => {
    expect(
      resourcesOfType(json, 'AWS::ApiGateway::Method').map(([, m]) => m.Properties?.HttpMethod),
    ).not.toContain('OPTIONS');
    for (const name of ['intake', 'triage', 'agents', 'resources', 'openapi', 'health'] as const) {
      expect(envOf(name).CORS_ALLOWED_ORIGINS).toBe('');
    }
  });

  it.each([
    ['DEFAULT_4XX', undefined, 'BAD_REQUEST'],
    ['DEFAULT_5XX', undefined, 'INTERNAL_ERROR'],
    ['UNAUTHORIZED', '401', 'UNAUTHORIZED'],
    ['ACCESS_DENIED', '403', 'FORBIDDEN'],
    ['MISSING_AUTHENTICATION_TOKEN', '404', 'NOT_FOUND'],
    ['REQUEST_TOO_LARGE', '413', 'PAYLOAD_TOO_LARGE'],
    ['THROTTLED', '429', 'THROTTLED'],
    ['QUOTA_EXCEEDED', '429', 'THROTTLED'],
    ['BAD_REQUEST_BODY', '400', 'VALIDATION_FAILED'],
    ['BAD_REQUEST_PARAMETERS', '400', 'VALIDATION_FAILED'],
  ])('answers %s with status %s and the C3 error body (%s)', (type, statusCode, code) => {
    const [, response] =
      resourcesOfType(json, 'AWS::ApiGateway::GatewayResponse').find(
        ([, r]) => r.Properties?.ResponseType === type,
      ) ?? [];
    expect(response?.Properties?.StatusCode).toBe(statusCode);
    const body =
      (response?.Properties?.ResponseTemplates as Record<string, string> | undefined)?.['application/json'] ??
      '';
    // What API Gateway substitutes: messageString is a quoted JSON string.
    const rendered = body
      .replaceAll('$context.error.messageString', '"Unauthorized"')
      .replaceAll('$context.error.validationErrorString', 'instance failed to match')
      .replaceAll('$context.requestId', 'req-1');
    const parsed = ErrorBody.parse(JSON.parse(rendered));
    expect(parsed.error.code).toBe(code);
    expect(parsed.error.request_id).toBe('req-1');
  });
});

describe('the template snapshot', () => {
  it('matches, with asset hashes normalized', () => {
    expect(normalizeTemplate(json)).toMatchSnapshot();
  });
});
