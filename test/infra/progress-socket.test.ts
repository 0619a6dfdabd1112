import { Match, Template } from 'aws-cdk-lib/assertions';
import { DomainEventType } from '#core/wire';
import { type BuildAppProps, buildApp } from '../../infra/app';
import { SOCKET_ROUTES } from '../../infra/constructs/progress-socket';
import {
  allPolicyStatements,
  asArray,
  type CfnTemplate,
  getAttOf,
  refOf,
  resourcesOfType,
} from './template-helpers';

/** Skips esbuild: these tests look at configuration, which bundles do not affect. */
const NO_BUNDLING = { 'aws:cdk:bundling-stacks': [] };

function synth(props: BuildAppProps = {}): { template: Template; json: CfnTemplate } {
  const { app, stack } = buildApp({ env: {}, ...props, context: { ...NO_BUNDLING, ...props.context } });
  app.synth(); // runs the cdk-nag plugin: both variants must be clean
  const template = Template.fromStack(stack);
  return { template, json: template.toJSON() as CfnTemplate };
}

const functionByName = (json: CfnTemplate, name: string): string => {
  const found = resourcesOfType(json, 'AWS::Lambda::Function').find(([id]) =>
    id.startsWith(`ProgressSocket${name}`),
  );
  if (!found) throw new Error(`no ${name}`);
  return found[0];
};

const roleOf = (json: CfnTemplate, functionId: string): string | undefined =>
  getAttOf(json.Resources[functionId]?.Properties?.Role);

describe('progress socket (websocket=true, the default)', () => {
  const { template, json } = synth();
  const [apiId] = resourcesOfType(json, 'AWS::ApiGatewayV2::Api')[0] ?? [];
  const socketFn = functionByName(json, 'SocketFunction');
  const broadcastFn = functionByName(json, 'BroadcastFunction');

  it('is a WebSocket API routed by the body action', () => {
    template.resourceCountIs('AWS::ApiGatewayV2::Api', 1);
    template.hasResourceProperties('AWS::ApiGatewayV2::Api', {
      ProtocolType: 'WEBSOCKET',
      RouteSelectionExpression: '$request.body.action',
    });
  });

  it('has $connect, $disconnect, $default and the client actions, all on the socket function', () => {
    const routes = resourcesOfType(json, 'AWS::ApiGatewayV2::Route').map(([, r]) =>
      String(r.Properties?.RouteKey),
    );
    expect(routes.sort()).toEqual(['$connect', '$default', '$disconnect', ...SOCKET_ROUTES].sort());
    const integrations = resourcesOfType(json, 'AWS::ApiGatewayV2::Integration');
    expect(integrations.length).toBeGreaterThan(0);
    for (const [, integration] of integrations) {
      expect(integration.Properties?.IntegrationType).toBe('AWS_PROXY');
      expect(JSON.stringify(integration.Properties?.IntegrationUri)).toContain(socketFn);
    }
  });

  it('answers the client actions and $default (two-way routes)', () => {
    const twoWay = new Set(
      resourcesOfType(json, 'AWS::ApiGatewayV2::RouteResponse').map(([, r]) => refOf(r.Properties?.RouteId)),
    );
    for (const [id, route] of resourcesOfType(json, 'AWS::ApiGatewayV2::Route')) {
      const key = String(route.Properties?.RouteKey);
      expect({ key, twoWay: twoWay.has(id) }).toEqual({
        key,
        twoWay: !key.startsWith('$') || key === '$default',
      });
    }
  });

  it('guards only $connect, with the JWT authorizer reading the token query parameter', () => {
    template.hasResourceProperties('AWS::ApiGatewayV2::Authorizer', {
      AuthorizerType: 'REQUEST',
      IdentitySource: ['route.request.querystring.token'],
      ApiId: { Ref: apiId },
    });
    const [authorizerId, authorizer] = resourcesOfType(json, 'AWS::ApiGatewayV2::Authorizer')[0] ?? [];
    expect(JSON.stringify(authorizer?.Properties?.AuthorizerUri)).toMatch(/RestApiAuthorizerFunction/);
    for (const [, route] of resourcesOfType(json, 'AWS::ApiGatewayV2::Route')) {
      const guarded = route.Properties?.RouteKey === '$connect';
      expect(route.Properties?.AuthorizationType).toBe(guarded ? 'CUSTOM' : 'NONE');
      if (guarded) expect(refOf(route.Properties?.AuthorizerId)).toBe(authorizerId);
    }
  });

  it('deploys stage v1 automatically, with JSON access logs to its own log group', () => {
    template.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      StageName: 'v1',
      AutoDeploy: true,
      AccessLogSettings: {
        DestinationArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('ProgressSocketAccessLogs'), 'Arn'] },
        Format: Match.stringLikeRegexp('\\$context\\.connectionId'),
      },
    });
  });

  it('grants ManageConnections on this API and stage only, to the socket and broadcast roles only', () => {
    const grants = allPolicyStatements(json).filter(({ statement }) =>
      asArray(statement.Action).includes('execute-api:ManageConnections'),
    );
    expect(grants.flatMap(({ roles }) => roles).sort()).toEqual(
      [roleOf(json, socketFn), roleOf(json, broadcastFn)].sort(),
    );
    for (const { statement } of grants) {
      expect(asArray(statement.Action)).toEqual(['execute-api:ManageConnections']);
      const resource = JSON.stringify(statement.Resource);
      expect(resource).toContain(`{"Ref":"${apiId}"}`);
      expect(resource).toContain('/v1/*/@connections/*');
    }
  });

  it('tells both functions the management endpoint of the stage', () => {
    for (const id of [socketFn, broadcastFn]) {
      const variables = json.Resources[id]?.Properties?.Environment as { Variables: Record<string, unknown> };
      const endpoint = JSON.stringify(variables.Variables.WEBSOCKET_MANAGEMENT_ENDPOINT);
      expect(endpoint).toContain(`{"Ref":"${apiId}"}`);
      expect(endpoint).toMatch(/^\{"Fn::Join".*https:\/\/.*\.execute-api\..*\/v1"\]\]\}$/);
    }
  });

  it('feeds the C9 domain events on the recovery bus to the broadcaster, and no agent health event', () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      EventBusName: { Ref: Match.stringLikeRegexp('RecoveryEventBus') },
      EventPattern: { source: ['master-orchestrator'], 'detail-type': [...DomainEventType.options] },
      Targets: [Match.objectLike({ Arn: { 'Fn::GetAtt': [broadcastFn, 'Arn'] } })],
    });
    const [, rule] =
      resourcesOfType(json, 'AWS::Events::Rule').find(([, r]) => r.Properties?.EventBusName !== undefined) ??
      [];
    const detailTypes =
      (rule?.Properties?.EventPattern as { 'detail-type'?: string[] } | undefined)?.['detail-type'] ?? [];
    expect(detailTypes).toContain('workflow.completed');
    expect(detailTypes).not.toContain('agent.unhealthy');
  });

  it('outputs WebSocketUrl (C2) as the stage URL', () => {
    const url = JSON.stringify(json.Outputs?.WebSocketUrl?.Value);
    expect(url).toMatch(/wss:\/\//);
    expect(url).toContain('/v1');
  });
});

describe('progress socket with websocket=false', () => {
  it('builds no WebSocket API, no broadcaster and no WebSocketUrl', () => {
    const { template, json } = synth({ context: { websocket: 'false' } });
    for (const type of [
      'AWS::ApiGatewayV2::Api',
      'AWS::ApiGatewayV2::Route',
      'AWS::ApiGatewayV2::Stage',
      'AWS::ApiGatewayV2::Authorizer',
    ])
      template.resourceCountIs(type, 0);
    // The health sweep's schedule (default bus) remains; nothing listens on the recovery bus.
    const rules = resourcesOfType(json, 'AWS::Events::Rule');
    expect(rules.map(([, rule]) => rule.Properties?.EventBusName)).toEqual([undefined]);
    expect(rules.map(([, rule]) => rule.Properties?.ScheduleExpression)).toEqual(['rate(1 minute)']);
    expect(json.Outputs?.WebSocketUrl).toBeUndefined();
    expect(json.Outputs?.RestApiUrl).toBeDefined();
  });
});
