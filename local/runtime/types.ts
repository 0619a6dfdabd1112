/**
 * Contracts between the offline runtime's parts: the edge server, the template
 * loader and the service providers. Each provider is a module behind `Provider`, so
 * adding one touches no other.
 *
 * Request flow: edge (one port, 127.0.0.1:4566) → `routeOf(request)` picks a provider
 * by the SigV4 credential scope's service name, the `X-Amz-Target` prefix, or the
 * path (`/_aws/execute-api/...`) → `provider.handle(request)`.
 *
 * Deploy flow: template loader → for each resource in dependency order, the provider
 * that lists its type in `resourceTypes` gets `deploy(resource, context)` and returns
 * the values `Ref` and `Fn::GetAtt` resolve to.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { Duplex } from 'node:stream';

export const LOCAL_ACCOUNT_ID = '000000000000';
export const DEFAULT_REGION = 'us-east-1';

/** Dummy credentials for every client inside the runtime; no provider checks a signature. */
export const LOCAL_CREDENTIALS = { accessKeyId: 'test', secretAccessKey: 'test' } as const;

/**
 * The AWS variables a process inside the runtime (a Lambda worker) needs so the SDK v3
 * reaches the edge with no "if local" code: `AWS_ENDPOINT_URL`, the region and the dummy
 * credentials. Merge it over the function's own environment. Pass it as the worker's
 * whole AWS environment: a service-specific variable inherited from the parent (for
 * example `AWS_ENDPOINT_URL_DYNAMODB`) would win over `AWS_ENDPOINT_URL`.
 *
 * @example
 * new Worker(file, { env: { ...templateVariables, ...localAwsEnvironment(context) } });
 */
export function localAwsEnvironment(
  context: Pick<DeployContext, 'endpoint' | 'region'>,
): Record<string, string> {
  return {
    AWS_ENDPOINT_URL: context.endpoint,
    AWS_REGION: context.region,
    AWS_DEFAULT_REGION: context.region,
    AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
    AWS_SESSION_TOKEN: 'test',
  };
}

/** A request as the edge received it; the body is fully read. */
export interface AwsRequest {
  readonly method: string;
  /** Path without the query string, e.g. `/` or `/_aws/execute-api/abc123/v1/api/orchestrator/health`. */
  readonly path: string;
  readonly query: URLSearchParams;
  /** Lower-case names, as node:http gives them. */
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
  /** From the SigV4 `Authorization` credential scope (`.../<region>/<service>/aws4_request`), if signed. */
  readonly signingService?: string;
  readonly region: string;
  /** `X-Amz-Target`, e.g. `DynamoDB_20120810.PutItem`, `AmazonSQS.SendMessage`, `AWSStepFunctions.StartExecution`. */
  readonly target?: string;
}

export interface AwsResponse {
  readonly status: number;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string | Buffer;
}

/** A template resource with every intrinsic already resolved. */
export interface ResolvedResource {
  readonly logicalId: string;
  readonly type: string;
  readonly properties: Readonly<Record<string, unknown>>;
  /** Raw `Metadata` (e.g. `aws:asset:path` for Lambda code in cdk.out). */
  readonly metadata: Readonly<Record<string, unknown>>;
}

/** What `Ref` and `Fn::GetAtt` resolve to once a resource is deployed. */
export interface DeployedResource {
  readonly ref: string;
  readonly attributes?: Readonly<Record<string, string>>;
}

export interface DeployContext {
  readonly region: string;
  readonly accountId: string;
  /** `http://127.0.0.1:<port>`: what clients inside the runtime (Lambda workers) use. */
  readonly endpoint: string;
  /** The cloud assembly folder (`cdk.out`), where `aws:asset:path` is relative to. */
  readonly assemblyDir: string;
  readonly stackName: string;
  /** Other providers, by service name, for cross-service calls (e.g. API Gateway invoking Lambda). */
  readonly services: ServiceRegistry;
  readonly log: (message: string) => void;
}

export interface Provider {
  /** Signing name: `dynamodb`, `sqs`, `states`, `secretsmanager`, `lambda`, `apigateway`, `execute-api`, `events`, `sts`. */
  readonly service: string;
  /** CloudFormation types this provider deploys, e.g. `AWS::DynamoDB::Table`. */
  readonly resourceTypes: readonly string[];
  /** True when this provider serves the request (the edge asks providers in order). */
  matches(request: AwsRequest): boolean;
  handle(request: AwsRequest): Promise<AwsResponse>;
  /**
   * Takes over an HTTP `Upgrade` request (WebSocket) that `matches` claimed; `request.body`
   * is empty. The provider owns `socket` from here: it answers (101 or an HTTP error) and
   * closes it, also on `stop()`. Providers without it never see upgrade requests.
   */
  upgrade?(request: AwsRequest, socket: Duplex, head: Buffer): void | Promise<void>;
  deploy?(resource: ResolvedResource, context: DeployContext): Promise<DeployedResource>;
  start?(context: Omit<DeployContext, 'stackName'>): Promise<void>;
  stop?(): Promise<void>;
  /**
   * What this provider has billed-for work to report since it started: the counters behind
   * `GET /_aws/usage` (invocations and GB-seconds, capacity units, WebSocket messages, ...).
   * Cumulative and never reset, so a caller takes two snapshots and subtracts.
   */
  usage?(): UsageReport;
}

/** A provider's cumulative counters: numbers, or nested groups of them (by function, table, ...). */
export interface UsageReport {
  readonly [counter: string]: number | UsageReport;
}

/** Cross-service calls inside the runtime, without going through HTTP. */
export interface LambdaInvoker {
  /** Invokes a deployed function by name or ARN with a JSON event; resolves with its JSON result. */
  invoke(functionNameOrArn: string, event: unknown): Promise<LambdaResult>;
}

export type LambdaResult =
  | { readonly ok: true; readonly payload: unknown; readonly durationMs: number; readonly coldStart: boolean }
  | {
      readonly ok: false;
      /** `errorType` as Lambda reports it, e.g. `Error`, `Sandbox.Timedout`. */
      readonly errorType: string;
      readonly errorMessage: string;
      readonly durationMs: number;
    };

export interface ServiceRegistry {
  readonly lambda?: LambdaInvoker;
  get(service: string): Provider | undefined;
}

/** Builds the error body AWS's JSON protocols use: `{"__type": "...", "message": "..."}`. */
export function awsJsonError(status: number, type: string, message: string): AwsResponse {
  return {
    status,
    headers: { 'content-type': 'application/x-amz-json-1.0' },
    body: JSON.stringify({ __type: type, message }),
  };
}
