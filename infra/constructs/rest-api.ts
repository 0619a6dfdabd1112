import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as apigw from 'aws-cdk-lib/aws-apigateway';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import * as z from 'zod';
import { WIRE_SCHEMAS } from '#core/wire';
import { API_BASE_PATH, type ApiFunction, ROUTES, type RouteSpec } from '#shared/routes';
import type { JwtSigningKey } from './jwt-signing-key';
import { type LogLevel, OrchestratorFunction } from './orchestrator-function';
import type { OrchestratorTable } from './orchestrator-table';

/** How much of the table each API function may touch (least privilege). */
const TABLE_ACCESS: Readonly<Record<ApiFunction, 'none' | 'read' | 'readWrite'>> = {
  intake: 'readWrite',
  triage: 'read',
  agents: 'readWrite',
  resources: 'read',
  openapi: 'none',
  health: 'none',
};

const FUNCTION_DESCRIPTIONS: Readonly<Record<ApiFunction, string>> = {
  intake: 'POST issues: validate, triage, route and store a batch as a workflow',
  triage: 'POST triage: dry-run assignment that stores nothing',
  agents: 'Agent registry: register, list, read, deregister, heartbeat',
  resources: 'POST resources/optimize: plan under resource constraints',
  openapi: 'GET openapi.json: the OpenAPI 3.1 document',
  health: 'GET health: liveness',
};

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
      });
      if (access === 'read') props.table.grantReadData(fn);
      if (access === 'readWrite') props.table.grantReadWriteData(fn);
      functions[name] = fn;
    }
    this.functions = functions;

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
        requestParameters: route.idempotent
          ? { [`method.request.header.${IDEMPOTENCY_HEADER}`]: true }
          : undefined,
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
        'A WAFv2 web ACL is out of scope for this release: the stage is throttled, every route but health and openapi.json needs a JWT, and bodies are validated at the edge. Associate a web ACL with the stage where the account runs one.',
    });
    if (executionLoggingLevel === apigw.MethodLoggingLevel.OFF) {
      Validations.of(this.api.deploymentStage).acknowledge({
        id: 'AwsSolutions-APIG6',
        reason:
          'Execution logging needs the region-wide API Gateway CloudWatch role (AWS::ApiGateway::Account), an account singleton this stack must not overwrite. JSON access logs and X-Ray tracing are on; set executionLoggingLevel where the account has the role.',
      });
    }
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
    const reason = `${where} is public by contract C3: liveness probes and API clients read it without a token, and it returns no stored data.`;
    Validations.of(method).acknowledge({ id: 'AwsSolutions-APIG4', reason });
    Validations.of(method).acknowledge({ id: 'AwsSolutions-COG4', reason });
    return;
  }
  Validations.of(method).acknowledge({
    id: 'AwsSolutions-COG4',
    reason: `${where} is guarded by the JWT Lambda REQUEST authorizer: bearer tokens are HS256 JWTs signed with the key in Secrets Manager (DESIGN §5), with no Cognito user pool by design.`,
  });
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
