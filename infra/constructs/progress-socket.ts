import { Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as apigw from 'aws-cdk-lib/aws-apigateway';
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import { WebSocketLambdaAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { WebSocketLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { DomainEventType } from '#core/wire';
import { DOMAIN_EVENT_SOURCE } from '#shared/domain-events';
import { type LogLevel, OrchestratorFunction } from './orchestrator-function';
import type { OrchestratorTable } from './orchestrator-table';

/** The client messages with a route of their own (C9); anything else goes to `$default`. */
export const SOCKET_ROUTES = ['subscribe', 'unsubscribe', 'ping'] as const;

/** Why the management grant ends in `*`; listed in infra/README.md. */
export const MANAGEMENT_WILDCARD_REASON =
  'execute-api:ManageConnections is authorised per connection (<api>/<stage>/<method>/@connections/<connectionId>) and connection ids exist only at run time; grantManagementApiAccess scopes it to this API and this stage, with wildcards only for the connection id and the management method (POST to send, GET, DELETE).';

export interface ProgressSocketProps {
  /** The single table: connections and subscriptions live there, events are replayed from it. Required. */
  readonly table: OrchestratorTable;

  /** The bus the workflow publishes domain events to. Required. */
  readonly eventBus: events.IEventBus;

  /** The JWT REQUEST authorizer function (the REST API's), used for `$connect`. Required. */
  readonly authorizerFunction: lambda.IFunction;

  /**
   * The stage; `WebSocketUrl` ends with it.
   * @default 'v1'
   */
  readonly stageName?: string;

  /**
   * Stage steady-state messages per second.
   * @default 100
   */
  readonly throttlingRateLimit?: number;

  /**
   * Stage burst.
   * @default 200
   */
  readonly throttlingBurstLimit?: number;

  /**
   * Powertools log level of the socket and broadcast functions.
   * @default 'INFO'
   */
  readonly logLevel?: LogLevel;

  /**
   * Retention of the access log and the functions' logs.
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;

  /**
   * What happens to the log groups when they leave the stack.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * The progress stream (contract C9): an API Gateway WebSocket API whose `$connect` is guarded
 * by the JWT authorizer (`?token=`), one `progress-socket` function behind every route, and a
 * `broadcast` function that an EventBridge rule feeds with the domain events and that pushes
 * them to the subscribers with PostToConnection. Both functions may manage connections of
 * this stage only.
 *
 * @example
 * const socket = new ProgressSocket(this, 'ProgressSocket', {
 *   table, eventBus: recovery.eventBus, authorizerFunction: restApi.authorizerFunction.function,
 * });
 * new CfnOutput(this, 'WebSocketUrl', { value: socket.url });
 */
export class ProgressSocket extends Construct {
  readonly api: apigwv2.WebSocketApi;
  readonly stage: apigwv2.WebSocketStage;
  readonly accessLogGroup: logs.LogGroup;
  readonly socketFunction: OrchestratorFunction;
  readonly broadcastFunction: OrchestratorFunction;
  readonly rule: events.Rule;

  constructor(scope: Construct, id: string, props: ProgressSocketProps) {
    super(scope, id);
    const stageName = props.stageName ?? 'v1';
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    const logRetention = props.logRetention ?? logs.RetentionDays.ONE_MONTH;
    const functionDefaults = { logLevel: props.logLevel, logRetention, removalPolicy };

    this.socketFunction = new OrchestratorFunction(this, 'SocketFunction', {
      ...functionDefaults,
      name: 'progress-socket',
      description: 'Progress socket: connect, disconnect, subscribe (with replay), unsubscribe, ping',
      environment: { TABLE_NAME: props.table.tableName },
    });
    this.broadcastFunction = new OrchestratorFunction(this, 'BroadcastFunction', {
      ...functionDefaults,
      name: 'broadcast',
      description: 'Progress stream: sends each domain event to its subscribers (PostToConnection)',
      environment: { TABLE_NAME: props.table.tableName },
      timeout: Duration.seconds(30),
    });

    const integration = new WebSocketLambdaIntegration('SocketIntegration', this.socketFunction.function);
    this.api = new apigwv2.WebSocketApi(this, 'Api', {
      apiName: 'master-orchestrator-progress',
      description: 'Master Orchestrator progress stream (contract C9)',
      routeSelectionExpression: '$request.body.action',
      connectRouteOptions: {
        integration,
        authorizer: new WebSocketLambdaAuthorizer('Authorizer', props.authorizerFunction, {
          authorizerName: 'jwt',
          identitySource: ['route.request.querystring.token'],
        }),
      },
      disconnectRouteOptions: { integration },
      defaultRouteOptions: { integration, returnResponse: true },
    });
    for (const key of SOCKET_ROUTES) this.api.addRoute(key, { integration, returnResponse: true });

    this.accessLogGroup = new logs.LogGroup(this, 'AccessLogs', { retention: logRetention, removalPolicy });
    this.stage = new apigwv2.WebSocketStage(this, 'Stage', {
      webSocketApi: this.api,
      stageName,
      autoDeploy: true,
      description: 'Progress stream stage',
      throttle: {
        rateLimit: props.throttlingRateLimit ?? 100,
        burstLimit: props.throttlingBurstLimit ?? 200,
      },
      accessLogSettings: {
        destination: new apigwv2.LogGroupLogDestination(this.accessLogGroup),
        format: apigw.AccessLogFormat.custom(
          JSON.stringify({
            requestId: '$context.requestId',
            connectionId: '$context.connectionId',
            routeKey: '$context.routeKey',
            eventType: '$context.eventType',
            status: '$context.status',
            principalId: '$context.authorizer.principalId',
            ip: '$context.identity.sourceIp',
            requestTime: '$context.requestTime',
            integrationLatency: '$context.integrationLatency',
            error: '$context.error.message',
          }),
        ),
      },
    });

    const endpoint = `https://${this.api.apiId}.execute-api.${Stack.of(this).region}.${Stack.of(this).urlSuffix}/${stageName}`;
    // The same ARN grantManagementApiAccess writes, rendered as cdk-nag names the finding.
    const connectionsArn = Stack.of(this).formatArn({
      service: 'execute-api',
      resource: this.api.apiId,
      resourceName: `${stageName}/*/@connections/*`,
    });
    for (const fn of [this.socketFunction, this.broadcastFunction]) {
      fn.addEnvironment('WEBSOCKET_MANAGEMENT_ENDPOINT', endpoint);
      this.stage.grantManagementApiAccess(fn);
      Validations.of(fn.role).acknowledge({
        id: `AwsSolutions-IAM5[Resource::${nagRendering(Stack.of(this).resolve(connectionsArn))}]`,
        reason: MANAGEMENT_WILDCARD_REASON,
      });
    }
    props.table.grantReadWriteData(this.socketFunction);
    props.table.grantReadWriteData(this.broadcastFunction);

    this.rule = new events.Rule(this, 'DomainEventsRule', {
      description: 'Every workflow domain event (C9) to the progress-stream broadcaster',
      eventBus: props.eventBus,
      // The C9 types only: agent health events (agent.unhealthy) share the
      // source and the bus, but are no workflow's progress.
      eventPattern: { source: [DOMAIN_EVENT_SOURCE], detailType: [...DomainEventType.options] },
      targets: [new targets.LambdaFunction(this.broadcastFunction.function, { retryAttempts: 2 })],
    });

    Validations.of(this.api).acknowledge({
      id: 'AwsSolutions-APIG4',
      reason:
        '$connect is guarded by the JWT Lambda authorizer; API Gateway accepts an authorizer on $connect only, and the other routes run on the connection it allowed.',
    });
  }

  /** `wss://<apiId>.execute-api.<region>.amazonaws.com/<stage>`: connect with `?token=<jwt>`. */
  get url(): string {
    return this.stage.url;
  }
}

/** A resolved CloudFormation value as cdk-nag prints it in a finding's id (`<Logical.Attr>`). */
function nagRendering(value: unknown): string {
  if (typeof value === 'string') return value;
  const node = value as { Ref?: string; 'Fn::GetAtt'?: string[]; 'Fn::Join'?: [string, unknown[]] };
  if (node.Ref) return `<${node.Ref}>`;
  if (node['Fn::GetAtt']) return `<${node['Fn::GetAtt'].join('.')}>`;
  if (node['Fn::Join']) return node['Fn::Join'][1].map(nagRendering).join(node['Fn::Join'][0]);
  return JSON.stringify(value);
}
