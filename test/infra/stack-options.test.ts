import { Match, Template } from 'aws-cdk-lib/assertions';
import * as apigw from 'aws-cdk-lib/aws-apigateway';
import { type BuildAppProps, buildApp } from '../../infra/app';
import { type CfnTemplate, resourcesOfType } from './template-helpers';

/** Skips esbuild: these tests look at configuration, which bundles do not affect. */
const NO_BUNDLING = { 'aws:cdk:bundling-stacks': [] };

function synth(props: BuildAppProps = {}): { template: Template; json: CfnTemplate } {
  const { app, stack } = buildApp({ env: {}, ...props, context: { ...NO_BUNDLING, ...props.context } });
  app.synth(); // runs the cdk-nag plugin: each variant must be clean too
  const template = Template.fromStack(stack);
  return { template, json: template.toJSON() as CfnTemplate };
}

describe('context removalPolicy', () => {
  it('retains the table, keys, secret and log groups by default', () => {
    const { json } = synth();
    const retained = [
      'AWS::DynamoDB::Table',
      'AWS::KMS::Key',
      'AWS::SecretsManager::Secret',
      'AWS::Logs::LogGroup',
    ];
    for (const type of retained) {
      for (const [, resource] of resourcesOfType(json, type)) expect(resource.DeletionPolicy).toBe('Retain');
    }
  });

  it('destroys everything and drops deletion protection with removalPolicy=destroy', () => {
    const { template, json } = synth({ context: { removalPolicy: 'destroy' } });
    template.hasResourceProperties('AWS::DynamoDB::Table', { DeletionProtectionEnabled: false });
    const destroyed = [
      'AWS::DynamoDB::Table',
      'AWS::KMS::Key',
      'AWS::SecretsManager::Secret',
      'AWS::Logs::LogGroup',
    ];
    for (const type of destroyed) {
      for (const [, resource] of resourcesOfType(json, type)) expect(resource.DeletionPolicy).toBe('Delete');
    }
  });

  it('rejects an unknown removalPolicy', () => {
    expect(() => buildApp({ env: {}, context: { ...NO_BUNDLING, removalPolicy: 'snapshot' } })).toThrow(
      /removalPolicy must be "retain" or "destroy"/,
    );
  });
});

describe('context websocket', () => {
  it.each([
    ['false', false],
    [false, false],
    ['true', true],
  ])('accepts websocket=%p', (value, expected) => {
    const { stack } = buildApp({ env: {}, context: { ...NO_BUNDLING, websocket: value } });
    expect(stack.websocketEnabled).toBe(expected);
  });

  it('rejects a websocket value that is not a boolean', () => {
    expect(() => buildApp({ env: {}, context: { ...NO_BUNDLING, websocket: 'maybe' } })).toThrow(
      /websocket must be true or false/,
    );
  });
});

describe('CORS', () => {
  it('adds preflight methods and tells the functions the origins when origins are given', () => {
    const origins = ['https://dashboard.example.com', 'https://ops.example.com'];
    const { template, json } = synth({ context: { corsAllowOrigins: origins.join(',') } });
    const options = resourcesOfType(json, 'AWS::ApiGateway::Method').filter(
      ([, method]) => method.Properties?.HttpMethod === 'OPTIONS',
    );
    expect(options.length).toBeGreaterThan(0);
    for (const [, method] of options) expect(method.Properties?.AuthorizationType).toBe('NONE');
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ CORS_ALLOWED_ORIGINS: origins.join(',') }) },
    });
  });
});

describe('stage settings', () => {
  it('takes throttling limits from props', () => {
    const { template } = synth({ stackProps: { throttlingRateLimit: 5, throttlingBurstLimit: 10 } });
    template.hasResourceProperties('AWS::ApiGateway::Stage', {
      MethodSettings: [Match.objectLike({ ThrottlingRateLimit: 5, ThrottlingBurstLimit: 10 })],
    });
  });

  it('turns execution logging on when asked, and then needs no APIG6 acknowledgement', () => {
    const { template, json } = synth({
      stackProps: { executionLoggingLevel: apigw.MethodLoggingLevel.ERROR },
    });
    template.hasResourceProperties('AWS::ApiGateway::Stage', {
      MethodSettings: [Match.objectLike({ LoggingLevel: 'ERROR' })],
    });
    const acknowledged = JSON.stringify(
      Object.values(json.Resources).map((r) => r.Metadata?.cdk_nag ?? null),
    );
    expect(acknowledged).not.toContain('AwsSolutions-APIG6');
  });
});

describe('context workflowMemorySize', () => {
  /** The MemorySize of the workflow Lambda, found by the description RecoveryWorkflow gives it. */
  function workflowMemory(json: CfnTemplate): unknown {
    const workflows = resourcesOfType(json, 'AWS::Lambda::Function').filter(([, resource]) =>
      String(resource.Properties?.Description).startsWith('Master Orchestrator recovery workflow Tasks'),
    );
    expect(workflows).toHaveLength(1);
    return workflows[0]?.[1].Properties?.MemorySize;
  }

  it('keeps 512 MB by default and takes the size asked for', () => {
    // Act
    const byDefault = synth();
    const larger = synth({ context: { workflowMemorySize: '1769' } });

    // Assess
    expect(workflowMemory(byDefault.json)).toBe(512);
    expect(workflowMemory(larger.json)).toBe(1769);
  });

  it.each(['64', '10241', '1024.5', 'lots'])('rejects workflowMemorySize=%s', (value) => {
    expect(() => buildApp({ env: {}, context: { ...NO_BUNDLING, workflowMemorySize: value } })).toThrow(
      /workflowMemorySize must be/,
    );
  });
});
