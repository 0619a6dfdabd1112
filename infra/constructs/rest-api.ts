import { ArnFormat, Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as apigw from 'aws-cdk-lib/aws-apigateway';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import * as z from 'zod';
import { type CircuitBreakerConfig, DEFAULT_CIRCUIT_CONFIG } from '#core/circuit-breaker';
import { WIRE_SCHEMAS } from '#core/wire';
import { DEFAULT_BACKLOG_RETRY_AFTER_SECONDS, DEFAULT_MAX_BACKLOG_ISSUES } from '#shared/config';
import { API_BASE_PATH, type ApiFunction, ROUTES, type RouteSpec } from '#shared/routes';
import type { AgentQueue } from './agent-queue';
import { bundleDashboard, type DashboardBundle } from './dashboard-bundle';
import type { JwtSigningKey } from './jwt-signing-key';
import { type LogLevel, OrchestratorFunction } from './orchestrator-function';
import type { OrchestratorTable } from './orchestrator-table';
import { TASK_CALLBACK_ACTIONS, TASK_CALLBACK_WILDCARD_REASON } from './reference-agents';

/** How much of the table each API function may touch (least privilege). */
const TABLE_ACCESS: Readonly<Record<ApiFunction, 'none' | 'read' | 'readWrite'>> = {
  intake: 'readWrite',
  triage: 'read',
  agents: 'readWrite',
  resources: 'read',
  workflows: 'readWrite',
  tasks: 'read',
  dlq: 'none',
  openapi: 'none',
  health: 'none',
  dashboard: 'none',
};

const FUNCTION_DESCRIPTIONS: Readonly<Record<ApiFunction, string>> = {
  intake: 'POST issues: validate, triage, route and store a batch as a workflow, then start its run',
  triage: 'POST triage: dry-run assignment that stores nothing',
  agents: 'Agent registry: register, list, read, deregister, heartbeat',
  resources: 'POST resources/optimize: plan under resource constraints',
  workflows: 'Workflows: start a recovery plan, read one, roll it back or cancel it',
  tasks: 'POST tasks/*: task callbacks (success, failure, heartbeat) for agents without AWS credentials',
  dlq: 'Dead letters: peek at the agent and compensation DLQs, redrive agent DLQs',
  openapi: 'GET openapi.json: the OpenAPI 3.1 document',
  health: 'GET health: liveness',
  dashboard: 'GET dashboard: the live dashboard page (static HTML, script inlined)',
};

/** Why a function's role holds a `*` resource beyond X-Ray; listed in infra/README.md. */
const EXTRA_WILDCARD_REASONS: Readonly<Partial<Record<ApiFunction, string>>> = {
  tasks: TASK_CALLBACK_WILDCARD_REASON,
};

/** What the API needs of the recovery workflow and the queues (see {@link OrchestratorRestApi.connectRecovery}). */
export interface RecoveryConnection {
  /** The recovery state machine: intake and workflows start its executions. */
  readonly stateMachine: sfn.StateMachine;
  /** The agent queues by name (the category), whose DLQs GET dlq lists and POST dlq/redrive moves back. */
  readonly agentQueues: readonly { readonly name: string; readonly queue: AgentQueue }[];
  /** The compensation dead-letter queue: listed, never redriven. */
  readonly compensationDlq: sqs.IQueue;
}

/** SQS actions a DLQ redrive needs on the DLQ, besides the move task's own (AWS's redrive permissions). */
const REDRIVE_SOURCE_ACTIONS = ['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes'];

/** Backpressure defaults of POST issues and POST workflows (env `MAX_BACKLOG_ISSUES`, `BACKLOG_RETRY_AFTER_SECONDS`). */
export const BACKPRESSURE_DEFAULTS = {
  maxBacklogIssues: DEFAULT_MAX_BACKLOG_ISSUES,
  backlogRetryAfterSeconds: DEFAULT_BACKLOG_RETRY_AFTER_SECONDS,
} as const;

/** The header that makes POST issues idempotent (contract C3). */
export const IDEMPOTENCY_HEADER = 'Idempotency-Key';

/**
 * API Gateway's own rejections, rendered in the C3 error shape. The templates are
 * plain substitutions (no VTL); `messageString` is already a quoted JSON string.
 */
const GATEWAY_RESPONSES: ReadonlyArray<{
  readonly type: apigw.ResponseType;
  readonly id: string;
  readonly statusCode?: string;
  readonly code: string;
  readonly message?: string;
  readonly details?: string;
}> = [
  { id: 'Default4xx', type: apigw.ResponseType.DEFAULT_4XX, code: 'BAD_REQUEST' },
  { id: 'Default5xx', type: apigw.ResponseType.DEFAULT_5XX, code: 'INTERNAL_ERROR' },
  { id: 'Unauthorized', type: apigw.ResponseType.UNAUTHORIZED, statusCode: '401', code: 'UNAUTHORIZED' },
  { id: 'AccessDenied', type: apigw.ResponseType.ACCESS_DENIED, statusCode: '403', code: 'FORBIDDEN' },
  {
    id: 'RequestTooLarge',
    type: apigw.ResponseType.REQUEST_TOO_LARGE,
    statusCode: '413',
    code: 'PAYLOAD_TOO_LARGE',
  },
  { id: 'Throttled', type: apigw.ResponseType.THROTTLED, statusCode: '429', code: 'THROTTLED' },
  { id: 'QuotaExceeded', type: apigw.ResponseType.QUOTA_EXCEEDED, statusCode: '429', code: 'THROTTLED' },
  {
    id: 'BadRequestBody',
    type: apigw.ResponseType.BAD_REQUEST_BODY,
    statusCode: '400',
    code: 'VALIDATION_FAILED',
    details: '["$context.error.validationErrorString"]',
  },
  {
    id: 'BadRequestParameters',
    type: apigw.ResponseType.BAD_REQUEST_PARAMETERS,
    statusCode: '400',
    code: 'VALIDATION_FAILED',
    details: '["$context.error.validationErrorString"]',
  },
  // API Gateway answers an unknown route or method with 403 "Missing
  // Authentication Token"; no method here uses IAM auth, so it always means 404.
  {
    id: 'MissingAuthenticationToken',
    type: apigw.ResponseType.MISSING_AUTHENTICATION_TOKEN,
    statusCode: '404',
    code: 'NOT_FOUND',
    message: '"no such route"',
  },
];

export interface OrchestratorRestApiProps {
  /** The single table; each function gets only the access it needs. Required. */
  readonly table: OrchestratorTable;

  /** The JWT signing key the authorizer reads. Required. */
  readonly signingKey: JwtSigningKey;

  /**
   * The routes to build, all under `api/orchestrator/`.
   * @default ROUTES from functions/shared/routes.ts
   */
  readonly routes?: readonly RouteSpec[];

  /**
   * The deployment stage; `RestApiUrl` ends with it.
   * @default 'v1'
   */
  readonly stageName?: string;

  /**
   * Steady-state requests per second across the stage.
   * @default 50
   */
  readonly throttlingRateLimit?: number;

  /**
   * Burst bucket size across the stage.
   * @default 100
   */
  readonly throttlingBurstLimit?: number;

  /**
   * Browser origins allowed to call the API (a future dashboard). Empty: no CORS
   * preflight and no CORS headers.
   * @default []
   */
  readonly corsAllowOrigins?: string[];

  /**
   * How long API Gateway caches an authorizer decision per Authorization header.
   * @default Duration.seconds(300)
   */
  readonly authorizerCacheTtl?: Duration;

  /**
   * API Gateway execution logging. Anything but OFF needs the region's API Gateway
   * CloudWatch role (AWS::ApiGateway::Account), an account-wide singleton this
   * stack does not own.
   * @default apigw.MethodLoggingLevel.OFF
   */
  readonly executionLoggingLevel?: apigw.MethodLoggingLevel;

  /**
   * Retention of the access log group and the functions' log groups.
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;

  /**
   * Powertools log level of every function.
   * @default 'INFO'
   */
  readonly logLevel?: LogLevel;

  /**
   * What happens to the log groups when they leave the stack.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;

  /**
   * Unresolved issues in the backlog at which POST issues and POST workflows answer 429
   * (env `MAX_BACKLOG_ISSUES` of `intake` and `workflows`).
   * @default 5000
   */
  readonly maxBacklogIssues?: number;

  /**
   * The `Retry-After` those 429 answers carry, in seconds (env `BACKLOG_RETRY_AFTER_SECONDS`).
   * @default 30
   */
  readonly backlogRetryAfterSeconds?: number;

  /**
   * The circuit breaker tuning of the agent registry (env `CIRCUIT_BREAKER` of `agents`, JSON).
   * @default DEFAULT_CIRCUIT_CONFIG from functions/core/circuit-breaker.ts
   */
  readonly circuitBreaker?: CircuitBreakerConfig;
}

/**
 * The REST API of contract C3, built from the route table in
 * functions/shared/routes.ts: one Lambda per `ApiFunction`, a JWT request
 * authorizer on every route that has roles, body and header validation at the
 * edge from the zod schemas, JSON access logs, stage throttling, X-Ray, and
 * gateway errors in the C3 error shape.
 *
 * @example
 * const api = new OrchestratorRestApi(this, 'RestApi', { table, signingKey });
 * new CfnOutput(this, 'RestApiUrl', { value: api.url });
 */
export class OrchestratorRestApi extends Construct {
  readonly api: apigw.RestApi;
  readonly functions: Readonly<Record<ApiFunction, OrchestratorFunction>>;
  readonly authorizerFunction: OrchestratorFunction;
  readonly authorizer: apigw.RequestAuthorizer;
  readonly accessLogGroup: logs.LogGroup;
  /** Methods by `<METHOD> <path>`, e.g. `POST issues`. */
  readonly methods: ReadonlyMap<string, apigw.Method>;
  /** The dashboard page esbuild built for the `dashboard` function, with its sizes. */
  readonly dashboardBundle: DashboardBundle;

  constructor(scope: Construct, id: string, props: OrchestratorRestApiProps) {
    super(scope, id);
    const routes = props.routes ?? ROUTES;
    const corsAllowOrigins = props.corsAllowOrigins ?? [];
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    const logRetention = props.logRetention ?? logs.RetentionDays.ONE_MONTH;
    const executionLoggingLevel = props.executionLoggingLevel ?? apigw.MethodLoggingLevel.OFF;
    const functionDefaults = { logLevel: props.logLevel, logRetention, removalPolicy };

    this.accessLogGroup = new logs.LogGroup(this, 'AccessLogs', { retention: logRetention, removalPolicy });

    this.api = new apigw.RestApi(this, 'Api', {
      restApiName: 'master-orchestrator',
      description: 'Master Orchestrator REST API (contract C3)',
      endpointConfiguration: { types: [apigw.EndpointType.REGIONAL] },
      // The account-level CloudWatch role is shared by every API in the region.
      cloudWatchRole: false,
      deployOptions: {
        stageName: props.stageName ?? 'v1',
        accessLogDestination: new apigw.LogGroupLogDestination(this.accessLogGroup),
        accessLogFormat: apigw.AccessLogFormat.custom(
          JSON.stringify({
            requestId: apigw.AccessLogField.contextRequestId(),
            ip: apigw.AccessLogField.contextIdentitySourceIp(),
            caller: apigw.AccessLogField.contextIdentityCaller(),
            user: apigw.AccessLogField.contextIdentityUser(),
            principalId: apigw.AccessLogField.contextAuthorizerPrincipalId(),
            requestTime: apigw.AccessLogField.contextRequestTime(),
            httpMethod: apigw.AccessLogField.contextHttpMethod(),
            resourcePath: apigw.AccessLogField.contextResourcePath(),
            status: apigw.AccessLogField.contextStatus(),
            protocol: apigw.AccessLogField.contextProtocol(),
            responseLength: apigw.AccessLogField.contextResponseLength(),
            integrationLatency: apigw.AccessLogField.contextIntegrationLatency(),
          }),
        ),
        throttlingRateLimit: props.throttlingRateLimit ?? 50,
        throttlingBurstLimit: props.throttlingBurstLimit ?? 100,
        metricsEnabled: true,
        tracingEnabled: true,
        dataTraceEnabled: false,
        ...(executionLoggingLevel === apigw.MethodLoggingLevel.OFF
          ? {}
          : { loggingLevel: executionLoggingLevel }),
      },
      defaultCorsPreflightOptions:
        corsAllowOrigins.length === 0
          ? undefined
          : {
              allowOrigins: corsAllowOrigins,
              allowMethods: ['GET', 'POST', 'DELETE', 'OPTIONS'],
              allowHeaders: ['Authorization', 'Content-Type', IDEMPOTENCY_HEADER],
              maxAge: Duration.hours(1),
            },
    });

    // ------------------------------------------------------------ functions
    // Before the functions: the dashboard function's bundle imports the page this writes.
    this.dashboardBundle = bundleDashboard();
    const corsEnvironment = { CORS_ALLOWED_ORIGINS: corsAllowOrigins.join(',') };
    const functions = {} as Record<ApiFunction, OrchestratorFunction>;
    for (const name of Object.keys(TABLE_ACCESS) as ApiFunction[]) {
      const access = TABLE_ACCESS[name];
      const fn = new OrchestratorFunction(this, functionId(name), {
        ...functionDefaults,
        name,
        description: `Master Orchestrator ${FUNCTION_DESCRIPTIONS[name]}`,
        environment: {
          ...corsEnvironment,
          ...(access === 'none' ? {} : { TABLE_NAME: props.table.tableName }),
        },
        extraWildcardResourceReason: EXTRA_WILDCARD_REASONS[name],
      });
      if (access === 'read') props.table.grantReadData(fn);
      if (access === 'readWrite') props.table.grantReadWriteData(fn);
      functions[name] = fn;
    }
    this.functions = functions;
    const backpressureEnvironment = {
      MAX_BACKLOG_ISSUES: String(props.maxBacklogIssues ?? BACKPRESSURE_DEFAULTS.maxBacklogIssues),
      BACKLOG_RETRY_AFTER_SECONDS: String(
        props.backlogRetryAfterSeconds ?? BACKPRESSURE_DEFAULTS.backlogRetryAfterSeconds,
      ),
    };
    for (const fn of [functions.intake, functions.workflows])
      for (const [key, value] of Object.entries(backpressureEnvironment)) fn.addEnvironment(key, value);
    // Empty until connectProgressSocket: the page then polls.
    functions.dashboard.addEnvironment('WEBSOCKET_URL', '');
    functions.agents.addEnvironment(
      'CIRCUIT_BREAKER',
      JSON.stringify(props.circuitBreaker ?? DEFAULT_CIRCUIT_CONFIG),
    );
    // The task token names the task; Step Functions has no resource-level permission for it.
    functions.tasks.role.addToPrincipalPolicy(
      new iam.PolicyStatement({ actions: TASK_CALLBACK_ACTIONS, resources: ['*'] }),
    );

    this.authorizerFunction = new OrchestratorFunction(this, 'AuthorizerFunction', {
      ...functionDefaults,
      name: 'authorizer',
      description: 'Master Orchestrator JWT request authorizer',
      environment: { JWT_SECRET_ARN: props.signingKey.secretArn },
    });
    props.signingKey.grantRead(this.authorizerFunction);

    this.authorizer = new apigw.RequestAuthorizer(this, 'Authorizer', {
      authorizerName: 'jwt',
      handler: this.authorizerFunction.function,
      identitySources: [apigw.IdentitySource.header('Authorization')],
      resultsCacheTtl: props.authorizerCacheTtl ?? Duration.seconds(300),
    });

    // ------------------------------------------------------------ validation
    // One validator for body and parameters: API Gateway checks a body only where
    // the method has a model, and parameters only where they are marked required.
    const validator = this.api.addRequestValidator('RequestValidator', {
      requestValidatorName: 'body-and-parameters',
      validateRequestBody: true,
      validateRequestParameters: true,
    });
    const models = new Map<z.ZodType, apigw.Model>();
    const modelFor = (route: RouteSpec): apigw.Model | undefined => {
      if (!route.request) return undefined;
      let model = models.get(route.request);
      if (!model) {
        const name = schemaName(route.request) ?? route.operationId;
        model = this.api.addModel(`${name}Model`, {
          modelName: name,
          contentType: 'application/json',
          description: `${name}, generated from the zod schema in functions/core/wire.ts`,
          schema: toModelSchema(route.request),
        });
        models.set(route.request, model);
      }
      return model;
    };

    // ------------------------------------------------------------ routes
    const integrations = new Map<ApiFunction, apigw.LambdaIntegration>();
    const methods = new Map<string, apigw.Method>();
    for (const route of routes) {
      let integration = integrations.get(route.function);
      if (!integration) {
        integration = new apigw.LambdaIntegration(this.functions[route.function].function, {
          proxy: true,
          allowTestInvoke: false,
        });
        integrations.set(route.function, integration);
      }
      const isPublic = route.roles.length === 0;
      const model = modelFor(route);
      const resource = this.api.root.resourceForPath(`${API_BASE_PATH}/${route.path}`);
      const method = resource.addMethod(route.method, integration, {
        operationName: route.operationId,
        authorizationType: isPublic ? apigw.AuthorizationType.NONE : apigw.AuthorizationType.CUSTOM,
        authorizer: isPublic ? undefined : this.authorizer,
        requestValidator: validator,
        requestModels: model ? { 'application/json': model } : undefined,
        requestParameters: requestParameters(route),
      });
      acknowledgeAuthorization(method, route, isPublic);
      methods.set(`${route.method} ${route.path}`, method);
    }
    this.methods = methods;

    // ------------------------------------------------------------ gateway errors
    const corsHeaders =
      corsAllowOrigins.length === 1
        ? { 'Access-Control-Allow-Origin': `'${corsAllowOrigins[0]}'` }
        : undefined;
    for (const response of GATEWAY_RESPONSES) {
      const message = response.message ?? '$context.error.messageString';
      const details = response.details ? `,"details":${response.details}` : '';
      this.api.addGatewayResponse(response.id, {
        type: response.type,
        statusCode: response.statusCode,
        responseHeaders: corsHeaders,
        templates: {
          'application/json': `{"error":{"code":"${response.code}","message":${message}${details},"request_id":"$context.requestId"}}`,
        },
      });
    }

    // ------------------------------------------------------------ acknowledgements
    Validations.of(this.api.deploymentStage).acknowledge({
      id: 'AwsSolutions-APIG3',
      reason:
        'A WAFv2 web ACL is out of scope for this release: the stage is throttled, every route but health, openapi.json and dashboard needs a JWT, and bodies are validated at the edge. Associate a web ACL with the stage where the account runs one.',
    });
    if (executionLoggingLevel === apigw.MethodLoggingLevel.OFF) {
      Validations.of(this.api.deploymentStage).acknowledge({
        id: 'AwsSolutions-APIG6',
        reason:
          'Execution logging needs the region-wide API Gateway CloudWatch role (AWS::ApiGateway::Account), an account singleton this stack must not overwrite. JSON access logs and X-Ray tracing are on; set executionLoggingLevel where the account has the role.',
      });
    }
  }

  /**
   * Gives the API functions what the recovery workflow and the queues offer them, once both
   * exist: `intake` and `workflows` start executions of the state machine (`STATE_MACHINE_ARN`),
   * `workflows` also describes and stops them (cancel), and `dlq` reads the dead-letter queues
   * (`AGENT_DLQS`, `COMPENSATION_DLQ_URL`, `COMPENSATION_DLQ_ARN`) and redrives the agent ones.
   * @example
   * api.connectRecovery({ stateMachine: recovery.stateMachine, agentQueues, compensationDlq: recovery.compensationDlq });
   */
  connectRecovery(recovery: RecoveryConnection): void {
    const { intake, workflows, dlq } = this.functions;
    const { stateMachine } = recovery;
    for (const fn of [intake, workflows]) {
      fn.addEnvironment('STATE_MACHINE_ARN', stateMachine.stateMachineArn);
      stateMachine.grantStartExecution(fn);
    }

    // Cancel: DescribeExecution and StopExecution on this state machine's executions only.
    const stack = Stack.of(this);
    const executions = stateMachineExecutionsArn(this, stateMachine);
    workflows.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['states:DescribeExecution', 'states:StopExecution'],
        resources: [executions],
      }),
    );
    Validations.of(workflows.role).acknowledge({
      id: `AwsSolutions-IAM5[Resource::${nagRendering(stack.resolve(executions))}]`,
      reason:
        'Cancel describes and stops the executions of the recovery state machine, whose names (workflow ids) are not known at deploy time: every execution of that one state machine, and nothing else.',
    });

    dlq.addEnvironment(
      'AGENT_DLQS',
      stack.toJsonString(
        Object.fromEntries(
          recovery.agentQueues.map(({ name, queue }) => [
            name,
            { url: queue.deadLetterQueue.queueUrl, arn: queue.deadLetterQueue.queueArn },
          ]),
        ),
      ),
    );
    dlq.addEnvironment('COMPENSATION_DLQ_URL', recovery.compensationDlq.queueUrl);
    dlq.addEnvironment('COMPENSATION_DLQ_ARN', recovery.compensationDlq.queueArn);
    const deadLetterQueueArns = recovery.agentQueues.map(({ queue }) => queue.deadLetterQueue.queueArn);
    dlq.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['sqs:GetQueueAttributes', 'sqs:ReceiveMessage'],
        resources: [...deadLetterQueueArns, recovery.compensationDlq.queueArn],
      }),
    );
    dlq.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['sqs:StartMessageMoveTask', 'sqs:ListMessageMoveTasks', ...REDRIVE_SOURCE_ACTIONS],
        resources: deadLetterQueueArns,
      }),
    );
    // A move without DestinationArn sends each message back to the queue it came from.
    dlq.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['sqs:SendMessage', 'sqs:GetQueueAttributes'],
        resources: recovery.agentQueues.map(({ queue }) => queue.queue.queueArn),
      }),
    );
  }

  /**
   * Tells the dashboard page where the progress stream is (env `WEBSOCKET_URL` of `dashboard`).
   * Without it the page polls. No cycle: the socket needs only the authorizer function, never
   * the REST API, and the page's URL is an environment variable of a function the API calls.
   * @example
   * api.connectProgressSocket(socket.url);
   */
  connectProgressSocket(websocketUrl: string): void {
    this.functions.dashboard.addEnvironment('WEBSOCKET_URL', websocketUrl);
  }

  /** The stage URL: `https://<id>.execute-api.<region>.amazonaws.com/<stage>/`. Routes are appended. */
  get url(): string {
    return this.api.url;
  }
}

/** Records why a method has no Cognito authorizer, or none at all. */
function acknowledgeAuthorization(method: apigw.Method, route: RouteSpec, isPublic: boolean): void {
  const where = `${route.method} ${API_BASE_PATH}/${route.path}`;
  if (isPublic) {
    const reason =
      route.function === 'dashboard'
        ? `${where} is public so a browser can load the page before the operator enters a token: it is static, holds no data and no secret, and every call it makes carries that token.`
        : `${where} is public by contract C3: liveness probes and API clients read it without a token, and it returns no stored data.`;
    Validations.of(method).acknowledge({ id: 'AwsSolutions-APIG4', reason });
    Validations.of(method).acknowledge({ id: 'AwsSolutions-COG4', reason });
    return;
  }
  Validations.of(method).acknowledge({
    id: 'AwsSolutions-COG4',
    reason: `${where} is guarded by the JWT Lambda REQUEST authorizer: bearer tokens are HS256 JWTs signed with the key in Secrets Manager (DESIGN §5), with no Cognito user pool by design.`,
  });
}

/**
 * `arn:…:states:<region>:<account>:execution:<state machine name>:*`: every execution of one
 * state machine, whose names (workflow ids) exist only at run time.
 * @example
 * role.addToPrincipalPolicy(new iam.PolicyStatement({
 *   actions: ['states:DescribeExecution'], resources: [stateMachineExecutionsArn(this, machine)],
 * }));
 */
export function stateMachineExecutionsArn(scope: Construct, stateMachine: sfn.StateMachine): string {
  return Stack.of(scope).formatArn({
    service: 'states',
    resource: 'execution',
    resourceName: `${stateMachine.stateMachineName}:*`,
    arnFormat: ArnFormat.COLON_RESOURCE_NAME,
  });
}

/**
 * A resolved CloudFormation value as cdk-nag names it in a finding: `Ref`s as `<Id>`,
 * `Fn::GetAtt`s as `<Id.Attribute>`, joins joined. Partition, region and account stay tokens
 * in an environment-agnostic stack and become strings in a pinned one, so the id is computed.
 */
export function nagRendering(value: unknown): string {
  if (typeof value === 'string') return value;
  const node = value as { Ref?: string; 'Fn::GetAtt'?: string[]; 'Fn::Join'?: [string, unknown[]] };
  if (node.Ref) return `<${node.Ref}>`;
  if (node['Fn::GetAtt']) return `<${node['Fn::GetAtt'].join('.')}>`;
  if (node['Fn::Join']) return node['Fn::Join'][1].map(nagRendering).join(node['Fn::Join'][0]);
  return JSON.stringify(value);
}

/** The method's request parameters: the Idempotency-Key header where required, and the query string's names. */
function requestParameters(route: RouteSpec): Record<string, boolean> | undefined {
  const parameters: Record<string, boolean> = {};
  if (route.idempotent) parameters[`method.request.header.${IDEMPOTENCY_HEADER}`] = true;
  for (const [name, schema] of Object.entries(route.query?.shape ?? {}))
    parameters[`method.request.querystring.${name}`] = !(schema as z.ZodType).safeParse(undefined).success;
  return Object.keys(parameters).length > 0 ? parameters : undefined;
}

/** `resources` → `ResourcesFunction`: a stable construct id per function. */
function functionId(name: ApiFunction): string {
  return `${name.charAt(0).toUpperCase()}${name.slice(1)}Function`;
}

/** The schema's name in the wire model, when it has one. */
function schemaName(schema: z.ZodType): string | undefined {
  return Object.entries(WIRE_SCHEMAS).find(([, candidate]) => candidate === schema)?.[0];
}

/**
 * Renders a zod schema as the JSON Schema draft 4 that API Gateway models speak,
 * describing what a client may send (`io: 'input'`: fields with defaults are optional).
 */
export function toModelSchema(schema: z.ZodType): apigw.JsonSchema {
  // API Gateway sets `$schema` itself (the CDK adds draft-04); drop zod's copy.
  const { $schema: _ignored, ...rest } = z.toJSONSchema(schema, { target: 'draft-04', io: 'input' });
  // Same keyword names as the CDK's JsonSchema type, which only spells `$schema`/`$ref` differently.
  return rest as apigw.JsonSchema;
}
