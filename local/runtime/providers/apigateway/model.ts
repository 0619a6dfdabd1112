/**
 * The in-memory REST API model the template deploys into: one `RestApiState` per
 * `AWS::ApiGateway::RestApi`, holding its resource tree, methods, stages, authorizers,
 * request validators, models and gateway responses.
 *
 * Ids are derived from the stack name and logical id (a hash), so an API keeps its id,
 * and its URL, across restarts of the runtime. AWS draws them at random: 10 lower-case
 * alphanumerics for an API and a root resource, 6 for the rest.
 */
import { createHash } from 'node:crypto';
import type { DeployedResource, ResolvedResource } from '../../types';
import {
  type GatewayResponseConfig,
  type GatewayResponseType,
  isGatewayResponseType,
} from './gateway-responses';

export const REST_API_TYPE = 'AWS::ApiGateway::RestApi';

/** Types this model deploys; the last group are accepted and ignored. */
export const API_GATEWAY_REST_RESOURCE_TYPES = [
  REST_API_TYPE,
  'AWS::ApiGateway::Resource',
  'AWS::ApiGateway::Method',
  'AWS::ApiGateway::Deployment',
  'AWS::ApiGateway::Stage',
  'AWS::ApiGateway::Authorizer',
  'AWS::ApiGateway::RequestValidator',
  'AWS::ApiGateway::Model',
  'AWS::ApiGateway::GatewayResponse',
  'AWS::ApiGateway::Account',
  'AWS::ApiGateway::UsagePlan',
  'AWS::ApiGateway::UsagePlanKey',
  'AWS::ApiGateway::ApiKey',
] as const;

const NO_OP_TYPES: ReadonlySet<string> = new Set([
  'AWS::ApiGateway::Account',
  'AWS::ApiGateway::UsagePlan',
  'AWS::ApiGateway::UsagePlanKey',
  'AWS::ApiGateway::ApiKey',
]);

export interface IntegrationResponseState {
  readonly statusCode: string;
  readonly selectionPattern?: string;
  readonly responseParameters: Readonly<Record<string, string>>;
  readonly responseTemplates: Readonly<Record<string, string>>;
}

export interface IntegrationState {
  /** AWS_PROXY, MOCK, AWS, HTTP, HTTP_PROXY. */
  readonly type: string;
  readonly uri?: string;
  readonly httpMethod?: string;
  readonly requestTemplates: Readonly<Record<string, string>>;
  readonly integrationResponses: readonly IntegrationResponseState[];
  readonly timeoutMs?: number;
}

export interface MethodState {
  readonly id: string;
  readonly httpMethod: string;
  /** NONE, CUSTOM, AWS_IAM, COGNITO_USER_POOLS. */
  readonly authorizationType: string;
  readonly authorizerId?: string;
  readonly apiKeyRequired: boolean;
  readonly requestValidatorId?: string;
  /** Content type → model name. */
  readonly requestModels: Readonly<Record<string, string>>;
  /** `method.request.header.<name>` etc. → required. */
  readonly requestParameters: Readonly<Record<string, boolean>>;
  readonly integration?: IntegrationState;
  readonly operationName?: string;
}

export interface ResourceState {
  readonly id: string;
  /** Undefined for the root resource. */
  readonly parentId?: string;
  /** '' for the root resource. */
  readonly pathPart: string;
  readonly methods: Map<string, MethodState>;
}

export interface MethodSettingState {
  /** Decoded: `/*` for every resource, or a resource path such as `/api/orchestrator/health`. */
  readonly resourcePath: string;
  /** `*` or a method. */
  readonly httpMethod: string;
  readonly throttlingRateLimit?: number;
  readonly throttlingBurstLimit?: number;
}

export interface StageState {
  readonly name: string;
  readonly deploymentId?: string;
  readonly variables: Readonly<Record<string, string>> | null;
  readonly methodSettings: readonly MethodSettingState[];
}

export interface AuthorizerState {
  readonly id: string;
  readonly name: string;
  /** TOKEN, REQUEST or COGNITO_USER_POOLS. */
  readonly type: string;
  /** The Lambda function ARN taken from AuthorizerUri. */
  readonly functionArn?: string;
  /** e.g. ['method.request.header.Authorization']. */
  readonly identitySources: readonly string[];
  readonly ttlSeconds: number;
  readonly identityValidationExpression?: string;
}

export interface ValidatorState {
  readonly id: string;
  readonly name: string;
  readonly validateRequestBody: boolean;
  readonly validateRequestParameters: boolean;
}

export interface ModelState {
  readonly name: string;
  readonly contentType: string;
  readonly schema: Readonly<Record<string, unknown>>;
}

export interface RestApiState {
  readonly id: string;
  readonly name: string;
  readonly rootResourceId: string;
  readonly binaryMediaTypes: readonly string[];
  readonly disableExecuteApiEndpoint: boolean;
  readonly resources: Map<string, ResourceState>;
  readonly stages: Map<string, StageState>;
  readonly authorizers: Map<string, AuthorizerState>;
  readonly validators: Map<string, ValidatorState>;
  /** By name, the way RequestModels refer to them. */
  readonly models: Map<string, ModelState>;
  readonly gatewayResponses: Map<GatewayResponseType, GatewayResponseConfig>;
  /** Bumped on every change, so caches built from the model (router, schemas) know to rebuild. */
  version: number;
}

export class ApiGatewayDeployError extends Error {
  override readonly name = 'ApiGatewayDeployError';
}

/** Built-in models every REST API has. */
const BUILT_IN_MODELS: readonly ModelState[] = [
  { name: 'Empty', contentType: 'application/json', schema: { type: 'object', title: 'Empty Schema' } },
  {
    name: 'Error',
    contentType: 'application/json',
    schema: { type: 'object', title: 'Error Schema', properties: { message: { type: 'string' } } },
  },
];

/**
 * Every REST API the runtime has deployed, by id.
 * @example
 * const registry = new RestApiRegistry();
 * const { ref: apiId } = registry.deploy(restApiResource, 'MyStack');
 */
export class RestApiRegistry {
  private readonly apis = new Map<string, RestApiState>();

  get(apiId: string): RestApiState | undefined {
    return this.apis.get(apiId);
  }

  list(): readonly RestApiState[] {
    return [...this.apis.values()];
  }

  /** Applies one resource to the model and returns what Ref and Fn::GetAtt resolve to. */
  deploy(resource: ResolvedResource, stackName: string): DeployedResource {
    const id = (length: number, salt = '') =>
      deterministicId(`${stackName}/${resource.logicalId}${salt}`, length);
    const props = new Props(resource);
    if (NO_OP_TYPES.has(resource.type)) return { ref: id(10) };
    if (resource.type === REST_API_TYPE) return this.deployRestApi(props, id(10), id(10, '/root'));

    const api = this.apiOf(props);
    api.version += 1;
    switch (resource.type) {
      case 'AWS::ApiGateway::Resource': {
        const resourceId = id(6);
        const parentId = props.string('ParentId');
        if (!api.resources.has(parentId))
          throw new ApiGatewayDeployError(
            `${resource.logicalId}: ParentId ${parentId} is not a resource of ${api.id}`,
          );
        api.resources.set(resourceId, {
          id: resourceId,
          parentId,
          pathPart: props.string('PathPart'),
          methods: api.resources.get(resourceId)?.methods ?? new Map(),
        });
        return { ref: resourceId };
      }
      case 'AWS::ApiGateway::Method':
        return { ref: this.deployMethod(api, props, id(6)) };
      case 'AWS::ApiGateway::Deployment': {
        const deploymentId = id(6);
        const stageName = props.optionalString('StageName');
        if (stageName) {
          const description = props.record('StageDescription');
          api.stages.set(stageName, {
            name: stageName,
            deploymentId,
            variables: stringRecordOrNull(description.Variables),
            methodSettings: [
              ...methodSettingsOf(description.MethodSettings),
              ...methodSettingsOf([{ ...description, ResourcePath: '/*', HttpMethod: '*' }]),
            ],
          });
        }
        return { ref: deploymentId };
      }
      case 'AWS::ApiGateway::Stage': {
        const name = props.string('StageName');
        api.stages.set(name, {
          name,
          deploymentId: props.optionalString('DeploymentId'),
          variables: stringRecordOrNull(props.raw('Variables')),
          methodSettings: methodSettingsOf(props.raw('MethodSettings')),
        });
        return { ref: name };
      }
      case 'AWS::ApiGateway::Authorizer': {
        const authorizerId = id(6);
        const uri = props.optionalString('AuthorizerUri');
        const identitySource = props.optionalString('IdentitySource') ?? '';
        const type = props.string('Type');
        api.authorizers.set(authorizerId, {
          id: authorizerId,
          name: props.optionalString('Name') ?? resource.logicalId,
          type,
          functionArn: uri ? lambdaArnFromUri(uri) : undefined,
          identitySources: identitySource
            .split(',')
            .map((source) => source.trim())
            .filter(Boolean),
          ttlSeconds: props.optionalNumber('AuthorizerResultTtlInSeconds') ?? 300,
          identityValidationExpression: props.optionalString('IdentityValidationExpression'),
        });
        return { ref: authorizerId };
      }
      case 'AWS::ApiGateway::RequestValidator': {
        const validatorId = id(6);
        api.validators.set(validatorId, {
          id: validatorId,
          name: props.optionalString('Name') ?? resource.logicalId,
          validateRequestBody: props.optionalBoolean('ValidateRequestBody') ?? false,
          validateRequestParameters: props.optionalBoolean('ValidateRequestParameters') ?? false,
        });
        return { ref: validatorId };
      }
      case 'AWS::ApiGateway::Model': {
        const name = props.optionalString('Name') ?? `${resource.logicalId}${id(6)}`;
        const raw = props.raw('Schema');
        const schema = typeof raw === 'string' ? (JSON.parse(raw) as unknown) : raw;
        if (typeof schema !== 'object' || schema === null || Array.isArray(schema))
          throw new ApiGatewayDeployError(`${resource.logicalId}: Schema is not a JSON object`);
        api.models.set(name, {
          name,
          contentType: props.optionalString('ContentType') ?? 'application/json',
          schema: schema as Record<string, unknown>,
        });
        return { ref: name };
      }
      case 'AWS::ApiGateway::GatewayResponse': {
        const type = props.string('ResponseType');
        if (!isGatewayResponseType(type))
          throw new ApiGatewayDeployError(`${resource.logicalId}: unknown ResponseType ${type}`);
        const statusCode = props.optionalString('StatusCode');
        api.gatewayResponses.set(type, {
          statusCode: statusCode ? Number(statusCode) : undefined,
          responseParameters: stringRecordOrNull(props.raw('ResponseParameters')) ?? {},
          responseTemplates: stringRecordOrNull(props.raw('ResponseTemplates')) ?? {},
        });
        return { ref: id(6) };
      }
      default:
        throw new ApiGatewayDeployError(
          `${resource.logicalId}: ${resource.type} is not an API Gateway REST type`,
        );
    }
  }

  private deployRestApi(props: Props, apiId: string, rootResourceId: string): DeployedResource {
    if (props.raw('Body') !== undefined || props.raw('BodyS3Location') !== undefined)
      throw new ApiGatewayDeployError(
        `${props.logicalId}: an OpenAPI Body is not supported offline; define the API with Resource/Method resources`,
      );
    const previous = this.apis.get(apiId);
    const api: RestApiState = {
      id: apiId,
      name: props.optionalString('Name') ?? props.logicalId,
      rootResourceId,
      binaryMediaTypes: stringArray(props.raw('BinaryMediaTypes')).map((type) => type.replace(/~1/g, '/')),
      disableExecuteApiEndpoint: props.optionalBoolean('DisableExecuteApiEndpoint') ?? false,
      resources:
        previous?.resources ??
        new Map([[rootResourceId, { id: rootResourceId, pathPart: '', methods: new Map() }]]),
      stages: previous?.stages ?? new Map(),
      authorizers: previous?.authorizers ?? new Map(),
      validators: previous?.validators ?? new Map(),
      models: previous?.models ?? new Map(BUILT_IN_MODELS.map((model) => [model.name, model])),
      gatewayResponses: previous?.gatewayResponses ?? new Map(),
      version: (previous?.version ?? 0) + 1,
    };
    this.apis.set(apiId, api);
    return { ref: apiId, attributes: { RootResourceId: rootResourceId } };
  }

  private deployMethod(api: RestApiState, props: Props, methodId: string): string {
    const resourceId = props.string('ResourceId');
    const target = api.resources.get(resourceId);
    if (!target)
      throw new ApiGatewayDeployError(
        `${props.logicalId}: ResourceId ${resourceId} is not a resource of ${api.id}`,
      );
    const httpMethod = props.string('HttpMethod').toUpperCase();
    const integration = props.record('Integration');
    target.methods.set(httpMethod, {
      id: methodId,
      httpMethod,
      authorizationType: props.optionalString('AuthorizationType') ?? 'NONE',
      authorizerId: props.optionalString('AuthorizerId'),
      apiKeyRequired: props.optionalBoolean('ApiKeyRequired') ?? false,
      requestValidatorId: props.optionalString('RequestValidatorId'),
      requestModels: stringRecordOrNull(props.raw('RequestModels')) ?? {},
      requestParameters: booleanRecord(props.raw('RequestParameters')),
      operationName: props.optionalString('OperationName'),
      integration:
        Object.keys(integration).length === 0
          ? undefined
          : {
              type: String(integration.Type ?? ''),
              uri: typeof integration.Uri === 'string' ? integration.Uri : undefined,
              httpMethod:
                typeof integration.IntegrationHttpMethod === 'string'
                  ? integration.IntegrationHttpMethod
                  : undefined,
              requestTemplates: stringRecordOrNull(integration.RequestTemplates) ?? {},
              integrationResponses: (Array.isArray(integration.IntegrationResponses)
                ? integration.IntegrationResponses
                : []
              ).map((response: Record<string, unknown>) => ({
                statusCode: String(response.StatusCode ?? '200'),
                selectionPattern:
                  typeof response.SelectionPattern === 'string' ? response.SelectionPattern : undefined,
                responseParameters: stringRecordOrNull(response.ResponseParameters) ?? {},
                responseTemplates: stringRecordOrNull(response.ResponseTemplates) ?? {},
              })),
              timeoutMs: toNumber(integration.TimeoutInMillis),
            },
    });
    return methodId;
  }

  private apiOf(props: Props): RestApiState {
    const apiId = props.string('RestApiId');
    const api = this.apis.get(apiId);
    if (!api)
      throw new ApiGatewayDeployError(`${props.logicalId}: RestApiId ${apiId} is not a deployed REST API`);
    return api;
  }
}

/** The resource's path from the root, e.g. `/api/orchestrator/agents/{id}`. */
export function resourcePathOf(api: RestApiState, resourceId: string): string {
  const parts: string[] = [];
  let current = api.resources.get(resourceId);
  while (current?.parentId !== undefined) {
    parts.unshift(current.pathPart);
    current = api.resources.get(current.parentId);
  }
  return `/${parts.join('/')}`;
}

/** `arn:aws:apigateway:<region>:lambda:path/2015-03-31/functions/<fnArn>/invocations` → `<fnArn>`. */
export function lambdaArnFromUri(uri: string): string | undefined {
  return /:lambda:path\/[^/]+\/functions\/(.+)\/invocations$/.exec(uri)?.[1];
}

/** `length` lower-case alphanumerics from a hash of `seed`. */
export function deterministicId(seed: string, length: number): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
  const digest = createHash('sha256').update(seed).digest();
  let id = '';
  for (let i = 0; i < length; i += 1) id += alphabet[(digest[i] ?? 0) % alphabet.length];
  return id;
}

// ---------------------------------------------------------------- property helpers

class Props {
  readonly logicalId: string;
  private readonly props: Readonly<Record<string, unknown>>;

  constructor(resource: ResolvedResource) {
    this.logicalId = resource.logicalId;
    this.props = resource.properties;
  }

  raw(name: string): unknown {
    return this.props[name];
  }

  string(name: string): string {
    const value = this.optionalString(name);
    if (value === undefined) throw new ApiGatewayDeployError(`${this.logicalId}: ${name} is required`);
    return value;
  }

  optionalString(name: string): string | undefined {
    const value = this.props[name];
    if (value === undefined || value === null) return undefined;
    if (typeof value === 'string' || typeof value === 'number') return String(value);
    throw new ApiGatewayDeployError(`${this.logicalId}: ${name} is not a string`);
  }

  optionalNumber(name: string): number | undefined {
    return toNumber(this.props[name]);
  }

  optionalBoolean(name: string): boolean | undefined {
    const value = this.props[name];
    if (value === undefined || value === null) return undefined;
    return value === true || value === 'true';
  }

  record(name: string): Record<string, unknown> {
    const value = this.props[name];
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : {};
  }
}

function toNumber(value: unknown): number | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  const number = Number(value);
  return Number.isFinite(number) ? number : undefined;
}

function stringRecordOrNull(value: unknown): Record<string, string> | null {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return null;
  return Object.fromEntries(Object.entries(value).map(([key, entry]) => [key, String(entry)]));
}

function booleanRecord(value: unknown): Record<string, boolean> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return {};
  return Object.fromEntries(
    Object.entries(value).map(([key, entry]) => [key, entry === true || entry === 'true']),
  );
}

function stringArray(value: unknown): string[] {
  return Array.isArray(value) ? value.map(String) : [];
}

function methodSettingsOf(value: unknown): MethodSettingState[] {
  if (!Array.isArray(value)) return [];
  return value.flatMap((entry: Record<string, unknown>) => {
    const rate = toNumber(entry.ThrottlingRateLimit);
    const burst = toNumber(entry.ThrottlingBurstLimit);
    if (rate === undefined && burst === undefined) return [];
    return [
      {
        resourcePath: decodeSettingPath(String(entry.ResourcePath ?? '/*')),
        httpMethod: String(entry.HttpMethod ?? '*').toUpperCase(),
        throttlingRateLimit: rate,
        throttlingBurstLimit: burst,
      },
    ];
  });
}

/** Method settings write a resource path as `/` + the path with each `/` escaped as `~1`. */
function decodeSettingPath(path: string): string {
  if (path === '/*') return path;
  const decoded = path.slice(1).replace(/~1/g, '/');
  return decoded.startsWith('/') ? decoded : `/${decoded}`;
}
