// biome-ignore-all lint/suspicious/noTemplateCurlyInString: the strings are CloudFormation Fn::Sub text, not JavaScript templates.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type CfnTemplate,
  type DeployedEntry,
  deployTemplate,
  generatedName,
  loadTemplate,
  NO_VALUE,
  orderResources,
  type ResolveScope,
  resolveValue,
  TemplateError,
} from '#local/runtime/template';
import type { DeployContext, DeployedResource, Provider, ResolvedResource } from '#local/runtime/types';

const REGION = 'eu-west-1';
const ACCOUNT = '000000000000';

function scopeFor(
  template: Partial<CfnTemplate>,
  deployed: Record<string, DeployedResource | DeployedEntry> = {},
  parameters: Record<string, string | string[]> = {},
): ResolveScope {
  return {
    region: REGION,
    accountId: ACCOUNT,
    stackName: 'Demo',
    stackId: `arn:aws:cloudformation:${REGION}:${ACCOUNT}:stack/Demo/1234`,
    template: { Resources: {}, ...template },
    parameters: new Map(Object.entries(parameters)),
    resource: (id) => deployed[id],
    conditions: new Map(),
  };
}

const bucket: DeployedResource = { ref: 'my-bucket', attributes: { Arn: 'arn:aws:s3:::my-bucket' } };
const withBucket = { Resources: { Bucket: { Type: 'AWS::S3::Bucket' } } };

describe('resolveValue', () => {
  it('resolves the pseudo parameters', () => {
    // Prepare
    const scope = scopeFor({});
    const refs = [
      'Region',
      'AccountId',
      'Partition',
      'URLSuffix',
      'StackName',
      'StackId',
      'NotificationARNs',
    ];

    // Act
    const values = refs.map((name) => resolveValue({ Ref: `AWS::${name}` }, scope));

    // Assess
    expect(values).toEqual([REGION, ACCOUNT, 'aws', 'amazonaws.com', 'Demo', scope.stackId, []]);
  });

  it('gives the partition and URL suffix of China regions', () => {
    const scope = { ...scopeFor({}), region: 'cn-north-1' };
    expect(resolveValue({ 'Fn::Sub': '${AWS::Partition} ${AWS::URLSuffix}' }, scope)).toBe(
      'aws-cn amazonaws.com.cn',
    );
  });

  it('drops properties and list items that resolve to AWS::NoValue', () => {
    const scope = scopeFor({});
    const value = { Keep: 1, Drop: { Ref: 'AWS::NoValue' }, List: ['a', { Ref: 'AWS::NoValue' }, 'b'] };
    expect(resolveValue(value, scope)).toEqual({ Keep: 1, List: ['a', 'b'] });
    expect(resolveValue({ Ref: 'AWS::NoValue' }, scope)).toBe(NO_VALUE);
  });

  it('resolves Ref to resources and parameters, list parameters to lists', () => {
    const scope = scopeFor(
      { ...withBucket, Parameters: { Env: { Type: 'String' }, Zones: { Type: 'CommaDelimitedList' } } },
      { Bucket: bucket },
      { Env: 'dev', Zones: ['a', 'b'] },
    );
    expect(resolveValue({ Ref: 'Bucket' }, scope)).toBe('my-bucket');
    expect(resolveValue({ Ref: 'Env' }, scope)).toBe('dev');
    expect(resolveValue({ Ref: 'Zones' }, scope)).toEqual(['a', 'b']);
  });

  it('rejects a Ref to nothing, to a parameter without a value, and to a resource not yet deployed', () => {
    const scope = scopeFor({ ...withBucket, Parameters: { Missing: { Type: 'String' } } });
    expect(() => resolveValue({ Ref: 'Nope' }, scope)).toThrow(/Nope is neither a parameter nor a resource/);
    expect(() => resolveValue({ Ref: 'Missing' }, scope)).toThrow(/parameter Missing has no value/);
    expect(() => resolveValue({ Ref: 'Bucket' }, scope)).toThrow(/Bucket is not deployed/);
  });

  it('resolves Fn::GetAtt in both its list and its dotted form', () => {
    const scope = scopeFor(withBucket, { Bucket: bucket });
    expect(resolveValue({ 'Fn::GetAtt': ['Bucket', 'Arn'] }, scope)).toBe('arn:aws:s3:::my-bucket');
    expect(resolveValue({ 'Fn::GetAtt': 'Bucket.Arn' }, scope)).toBe('arn:aws:s3:::my-bucket');
    expect(() => resolveValue({ 'Fn::GetAtt': ['Bucket', 'DomainName'] }, scope)).toThrow(
      /Bucket \(AWS::S3::Bucket\) has no attribute DomainName offline \(it has: Arn\)/,
    );
  });

  it('gives placeholders for the attributes of resources no provider emulates', () => {
    const unknown: DeployedEntry = {
      logicalId: 'Bucket',
      type: 'AWS::S3::Bucket',
      mode: 'unknown',
      ref: 'b-1',
    };
    const scope = scopeFor(withBucket, { Bucket: unknown });
    expect(resolveValue({ 'Fn::GetAtt': ['Bucket', 'RegionalDomainName'] }, scope)).toBe(
      'b-1.RegionalDomainName',
    );
  });

  it('resolves Fn::Join, Fn::Select and Fn::Split, nested as CDK writes them', () => {
    // Prepare: the authorizer URI pattern from the real template.
    const fn: DeployedResource = {
      ref: 'fn',
      attributes: { Arn: 'arn:aws:lambda:eu-west-1:000000000000:function:fn' },
    };
    const scope = scopeFor({ Resources: { Fn: { Type: 'AWS::Lambda::Function' } } }, { Fn: fn });
    const arn = { 'Fn::GetAtt': ['Fn', 'Arn'] };
    const uri = {
      'Fn::Join': [
        '',
        [
          'arn:',
          { 'Fn::Select': [1, { 'Fn::Split': [':', arn] }] },
          ':apigateway:',
          { 'Fn::Select': ['3', { 'Fn::Split': [':', arn] }] },
          ':lambda:path/2015-03-31/functions/',
          arn,
          '/invocations',
        ],
      ],
    };

    // Act
    const resolved = resolveValue(uri, scope);

    // Assess
    expect(resolved).toBe(
      'arn:aws:apigateway:eu-west-1:lambda:path/2015-03-31/functions/arn:aws:lambda:eu-west-1:000000000000:function:fn/invocations',
    );
  });

  it('rejects Fn::Select outside the list', () => {
    expect(() => resolveValue({ 'Fn::Select': [2, ['a', 'b']] }, scopeFor({}))).toThrow(
      /index 2 is outside the list of 2/,
    );
  });

  it('resolves Fn::Sub in its string form: refs, attributes, pseudo parameters and ${!literals}', () => {
    const scope = scopeFor(withBucket, { Bucket: bucket });
    const text = 'arn:${AWS::Partition}:s3:::${Bucket}/* ${Bucket.Arn} ${!NotAVariable} ${AWS::Region}';
    expect(resolveValue({ 'Fn::Sub': text }, scope)).toBe(
      'arn:aws:s3:::my-bucket/* arn:aws:s3:::my-bucket ${NotAVariable} eu-west-1',
    );
  });

  it('resolves Fn::Sub in its list form, variables shadowing resources', () => {
    const scope = scopeFor(withBucket, { Bucket: bucket });
    const value = {
      'Fn::Sub': ['${Bucket}-${Suffix}', { Bucket: 'shadowed', Suffix: { Ref: 'AWS::AccountId' } }],
    };
    expect(resolveValue(value, scope)).toBe(`shadowed-${ACCOUNT}`);
  });

  it('evaluates conditions: Fn::Equals, Fn::Not, Fn::And, Fn::Or and Condition references', () => {
    // Prepare
    const template: Partial<CfnTemplate> = {
      Parameters: { Env: { Type: 'String' } },
      Conditions: {
        IsProd: { 'Fn::Equals': [{ Ref: 'Env' }, 'prod'] },
        IsNotProd: { 'Fn::Not': [{ Condition: 'IsProd' }] },
        InEurope: { 'Fn::Equals': [{ Ref: 'AWS::Region' }, 'eu-west-1'] },
        ProdInEurope: { 'Fn::And': [{ Condition: 'IsProd' }, { Condition: 'InEurope' }] },
        ProdOrEurope: { 'Fn::Or': [{ Condition: 'IsProd' }, { Condition: 'InEurope' }] },
      },
    };
    const scope = scopeFor(template, {}, { Env: 'dev' });
    const pick = (condition: string): unknown => resolveValue({ 'Fn::If': [condition, 'yes', 'no'] }, scope);

    // Act
    const results = ['IsProd', 'IsNotProd', 'InEurope', 'ProdInEurope', 'ProdOrEurope'].map(pick);

    // Assess
    expect(results).toEqual(['no', 'yes', 'yes', 'no', 'yes']);
  });

  it('drops a property whose Fn::If branch is AWS::NoValue', () => {
    const scope = scopeFor({ Conditions: { Off: { 'Fn::Equals': ['a', 'b'] } } });
    const value = { Name: { 'Fn::If': ['Off', 'named', { Ref: 'AWS::NoValue' }] } };
    expect(resolveValue(value, scope)).toEqual({});
  });

  it('rejects a cycle between conditions, and an unknown condition', () => {
    const scope = scopeFor({
      Conditions: { A: { 'Fn::Not': [{ Condition: 'B' }] }, B: { 'Fn::Not': [{ Condition: 'A' }] } },
    });
    expect(() => resolveValue({ 'Fn::If': ['A', 1, 2] }, scope)).toThrow(/condition cycle: A -> B -> A/);
    expect(() => resolveValue({ 'Fn::If': ['Nope', 1, 2] }, scope)).toThrow(
      /condition Nope is not in the Conditions/,
    );
  });

  it('resolves Fn::GetAZs, Fn::FindInMap, Fn::Base64, Fn::ToJsonString and Fn::Length', () => {
    const scope = scopeFor({ Mappings: { Sizes: { dev: { memory: 256 } } } });
    expect(resolveValue({ 'Fn::GetAZs': '' }, scope)).toEqual(['eu-west-1a', 'eu-west-1b', 'eu-west-1c']);
    expect(resolveValue({ 'Fn::GetAZs': { Ref: 'AWS::Region' } }, scope)).toHaveLength(3);
    expect(resolveValue({ 'Fn::FindInMap': ['Sizes', 'dev', 'memory'] }, scope)).toBe(256);
    expect(resolveValue({ 'Fn::Base64': 'hi' }, scope)).toBe('aGk=');
    expect(resolveValue({ 'Fn::ToJsonString': { a: { Ref: 'AWS::Region' } } }, scope)).toBe(
      '{"a":"eu-west-1"}',
    );
    expect(resolveValue({ 'Fn::Length': [1, 2, 3] }, scope)).toBe(3);
  });

  it('rejects Fn::ImportValue and functions it does not know, naming where', () => {
    const scope = scopeFor({});
    expect(() => resolveValue({ Env: { 'Fn::ImportValue': 'SharedVpc' } }, scope, 'Fn.Properties')).toThrow(
      /Fn\.Properties\.Env: Fn::ImportValue: imports "SharedVpc" from another stack/,
    );
    expect(() => resolveValue({ 'Fn::Cidr': ['10.0.0.0/16', 2, 8] }, scope)).toThrow(TemplateError);
  });
});

describe('orderResources', () => {
  it('puts each resource after what it references, keeping template order otherwise', () => {
    // Prepare
    const template: CfnTemplate = {
      Resources: {
        Api: { Type: 'X', Properties: { Uri: { 'Fn::Sub': '${Fn.Arn}/${!Literal}' } } },
        Fn: { Type: 'X', Properties: { Role: { 'Fn::GetAtt': 'Role.Arn' } } },
        Alarm: { Type: 'X', DependsOn: ['Api'] },
        Role: { Type: 'X', Properties: { Name: { 'Fn::Sub': ['${X}', { X: { Ref: 'Table' } }] } } },
        Table: { Type: 'X', Properties: { Region: { Ref: 'AWS::Region' } } },
        Free: { Type: 'X' },
      },
    };

    // Act
    const order = orderResources(template);

    // Assess
    expect(order).toEqual(['Table', 'Free', 'Role', 'Fn', 'Api', 'Alarm']);
  });

  it('fails with the cycle spelled out', () => {
    const template: CfnTemplate = {
      Resources: {
        A: { Type: 'X', Properties: { B: { Ref: 'B' } } },
        B: { Type: 'X', Properties: { C: { 'Fn::GetAtt': ['C', 'Arn'] } } },
        C: { Type: 'X', DependsOn: 'A' },
        D: { Type: 'X' },
      },
    };
    expect(() => orderResources(template)).toThrow('dependency cycle between resources: A -> B -> C -> A');
  });

  it('rejects a DependsOn on a resource that does not exist', () => {
    const template: CfnTemplate = { Resources: { A: { Type: 'X', DependsOn: 'Ghost' } } };
    expect(() => orderResources(template)).toThrow(/A depends on Ghost, which is not in the template/);
  });
});

describe('deployTemplate', () => {
  function fakeProvider(calls: ResolvedResource[], fail?: string): Provider {
    return {
      service: 'fake',
      resourceTypes: ['Fake::Thing'],
      matches: () => false,
      handle: async () => ({ status: 200 }),
      deploy: async (resource) => {
        calls.push(resource);
        if (resource.logicalId === fail) throw new Error('boom');
        return { ref: `ref-${resource.logicalId}`, attributes: { Arn: `arn:fake:${resource.logicalId}` } };
      },
    };
  }

  function contextWith(lines: string[]): DeployContext {
    return {
      region: REGION,
      accountId: ACCOUNT,
      endpoint: 'http://127.0.0.1:1',
      assemblyDir: '/nowhere',
      stackName: 'Demo',
      services: { get: () => undefined },
      log: (line) => lines.push(line),
    };
  }

  const template: CfnTemplate = {
    Parameters: {
      Env: { Type: 'String', Default: 'dev' },
      BootstrapVersion: {
        Type: 'AWS::SSM::Parameter::Value<String>',
        Default: '/cdk-bootstrap/hnb659fds/version',
      },
    },
    Conditions: { IsProd: { 'Fn::Equals': [{ Ref: 'Env' }, 'prod'] } },
    Resources: {
      Second: {
        Type: 'Fake::Thing',
        Properties: { Key: { 'Fn::GetAtt': ['Key', 'Arn'] }, First: { Ref: 'First' } },
        Metadata: { 'aws:asset:path': 'asset.123' },
      },
      First: { Type: 'Fake::Thing', Properties: { Role: { 'Fn::GetAtt': ['Role', 'Arn'] } } },
      Role: { Type: 'AWS::IAM::Role', Properties: { RoleName: 'demo-role' } },
      Key: { Type: 'AWS::KMS::Key' },
      Logs: { Type: 'AWS::Logs::LogGroup' },
      Bucket: { Type: 'AWS::S3::Bucket' },
      ProdOnly: { Type: 'Fake::Thing', Condition: 'IsProd' },
    },
    Outputs: {
      SecondArn: { Value: { 'Fn::GetAtt': ['Second', 'Arn'] } },
      Zones: { Value: { 'Fn::GetAZs': '' } },
      ProdOutput: { Value: { Ref: 'ProdOnly' }, Condition: 'IsProd' },
    },
  };

  it('deploys provider types in dependency order with resolved properties, and resolves outputs', async () => {
    // Prepare
    const calls: ResolvedResource[] = [];
    const lines: string[] = [];

    // Act
    const result = await deployTemplate({
      template,
      context: contextWith(lines),
      providers: [fakeProvider(calls)],
    });

    // Assess
    expect(calls.map((call) => call.logicalId)).toEqual(['First', 'Second']);
    const [first, second] = calls;
    expect(first?.properties.Role).toBe(`arn:aws:iam::${ACCOUNT}:role/demo-role`);
    expect(second?.properties.Key).toMatch(/^arn:aws:kms:eu-west-1:000000000000:key\/[0-9a-f-]{36}$/);
    expect(second?.properties.First).toBe('ref-First');
    expect(second?.metadata).toEqual({ 'aws:asset:path': 'asset.123' });
    expect(result.outputs).toEqual({
      SecondArn: 'arn:fake:Second',
      Zones: 'eu-west-1a,eu-west-1b,eu-west-1c',
    });
    expect(result.resources.get('ProdOnly')?.mode).toBe('skipped');
    expect(result.resources.get('Logs')?.attributes?.Arn).toMatch(
      /^arn:aws:logs:eu-west-1:000000000000:log-group:Demo-Logs-[A-Z0-9]{12}:\*$/,
    );
  });

  it('logs one line of no-op types and one of unknown types', async () => {
    const lines: string[] = [];
    const result = await deployTemplate({
      template,
      context: contextWith(lines),
      providers: [fakeProvider([])],
    });
    expect(lines).toEqual([
      'no-op types (fake names and ARNs, no behaviour): AWS::IAM::Role, AWS::KMS::Key, AWS::Logs::LogGroup',
      'UNKNOWN types (skipped, placeholder values): AWS::S3::Bucket',
    ]);
    expect(result.resources.get('Bucket')?.mode).toBe('unknown');
  });

  it('fails naming the resource when its provider fails', async () => {
    const failing = deployTemplate({
      template,
      context: contextWith([]),
      providers: [fakeProvider([], 'First')],
    });
    await expect(failing).rejects.toThrow(
      'deploying First (Fake::Thing) with the fake provider failed: boom',
    );
  });

  it('generates CloudFormation-style names within the length limit', () => {
    const name = generatedName('MasterOrchestrator', 'A'.repeat(80), { maxLength: 64 });
    expect(name).toHaveLength(64);
    expect(name).toMatch(/^MasterOrchestrator-A+-[A-Z0-9]{12}$/);
  });

  it('generates stable, stack-less, suffixed and sanitised names when the service needs them', () => {
    // Act
    const stable = [1, 2].map(() => generatedName('Stack', 'Machine', { stable: true, withoutStack: true }));
    const random = [1, 2].map(() => generatedName('Stack', 'Rule'));
    const fifo = generatedName('My.Stack', 'Jobs:Queue', { maxLength: 80, suffix: '.fifo', sanitize: true });

    // Assess
    expect(stable[0]).toBe(stable[1]);
    expect(stable[0]).toMatch(/^Machine-[0-9A-F]{12}$/);
    expect(random[0]).not.toBe(random[1]);
    expect(fifo).toMatch(/^MyStack-JobsQueue-[A-Z0-9]{12}\.fifo$/);
  });
});

describe('loadTemplate', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'template-test-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const minimal = { Resources: { A: { Type: 'X' } } };

  it('finds the stack through the manifest, with its region', () => {
    // Prepare
    writeFileSync(join(dir, 'Stack.template.json'), JSON.stringify(minimal));
    writeFileSync(
      join(dir, 'manifest.json'),
      JSON.stringify({
        artifacts: {
          Stack: {
            type: 'aws:cloudformation:stack',
            environment: 'aws://unknown-account/ap-south-1',
            properties: { templateFile: 'Stack.template.json', stackName: 'Stack' },
          },
          Other: { type: 'cdk:tree' },
        },
      }),
    );

    // Act
    const loaded = loadTemplate(dir);

    // Assess
    expect(loaded).toMatchObject({ stackName: 'Stack', region: 'ap-south-1', template: minimal });
    expect(() => loadTemplate(dir, 'Missing')).toThrow(
      /stack Missing is not in .*manifest\.json \(stacks: Stack\)/,
    );
  });

  it('falls back to <stack>.template.json without a manifest, and fails clearly when nothing is there', () => {
    mkdirSync(join(dir, 'sub'));
    writeFileSync(join(dir, 'sub', 'Stack.template.json'), JSON.stringify(minimal));
    expect(loadTemplate(join(dir, 'sub'), 'Stack').region).toBeUndefined();
    expect(() => loadTemplate(dir)).toThrow(/manifest\.json is missing: synthesize first/);
  });
});
