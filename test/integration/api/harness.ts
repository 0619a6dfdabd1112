/**
 * Drives the REST handlers the way API Gateway (v1, Lambda proxy) does, against the
 * DynamoDB Local and Secrets Manager that global-setup.ts booted:
 *
 * 1. Protected routes first go through the real Lambda authorizer
 *    (functions/authorizer/handler.ts) with the bearer token and a methodArn; a denial
 *    propagates as API Gateway's `Error('Unauthorized')`.
 * 2. The authorizer's context becomes `requestContext.authorizer`, as API Gateway
 *    passes it on (principalId, the context values as strings, integrationLatency).
 * 3. The function behind the route (`functions/<route.function>/handler.ts`) answers
 *    the proxy event; public routes skip step 1, as API Gateway does.
 *
 * Step Functions and SQS are the offline runtime's providers, in process
 * (workflow-runtime.ts): the real recovery state machine runs the real `workflow` handler, so
 * POST issues and POST workflows start executions that dispatch to agent queues, and a test
 * plays the agent through POST tasks/*.
 *
 * Tokens are signed with the key read from the local Secrets Manager over the real SDK.
 * Handlers read their configuration when they load, so they are imported lazily by
 * `loadApi()`; a test file must import nothing that loads `#shared/powertools` before it.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { DynamoDBDocumentClient, QueryCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import type {
  APIGatewayAuthorizerResult,
  APIGatewayEventIdentity,
  APIGatewayProxyEvent,
  APIGatewayProxyResult,
  APIGatewayRequestAuthorizerEvent,
  Context,
} from 'aws-lambda';
import { SignJWT } from 'jose';
import * as z from 'zod';
import { AgentRegistration, ErrorBody } from '#core/wire';
import { keyFromSecret, signToken } from '#shared/auth/jwt';
import { DEFAULT_JWT_AUDIENCE, DEFAULT_JWT_ISSUER } from '#shared/config';
import { API_BASE_PATH, type ApiFunction, ROUTES, type Role, type RouteSpec } from '#shared/routes';
import { startWorkflowRuntime, type WorkflowRuntime, type WorkflowTaskHandler } from './workflow-runtime';

// EMF metrics would go straight to stdout, one JSON document per request. The metrics
// code paths still run; only publishing is off. Set before any handler loads.
process.env.POWERTOOLS_METRICS_DISABLED = 'true';

const REGION = requireEnv('AWS_REGION');
const API_ID = 'itapi00001';
const STAGE = 'it';
const ACCOUNT_ID = '000000000000';

export const TABLE_NAME = requireEnv('TABLE_NAME');

/** The table as the tests see it: the real SDK, endpoint and credentials from the environment. */
export const documents = DynamoDBDocumentClient.from(new DynamoDBClient({}), {
  marshallOptions: { removeUndefinedValues: true },
});
const secrets = new SecretsManagerClient({});

export type Item = Record<string, unknown>;

export function requireEnv(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set; run this through the integration Jest project`);
  return value;
}

/** A short id no other test uses, valid as an Identifier. */
export function uniqueId(label: string): string {
  return `${label}-${randomUUID().slice(0, 13)}`;
}

// ---------------------------------------------------------------- tokens

let signingKey: Promise<Uint8Array> | undefined;

/** The AWSCURRENT signing key, read once from the local Secrets Manager. */
export function currentSigningKey(): Promise<Uint8Array> {
  signingKey ??= secrets
    .send(new GetSecretValueCommand({ SecretId: requireEnv('JWT_SECRET_ARN') }))
    .then(({ SecretString }) => {
      if (!SecretString) throw new Error('the JWT secret has no string value');
      return keyFromSecret(SecretString);
    });
  return signingKey;
}

/** A valid token for `role`; `sub` defaults to a fresh id. */
export async function tokenFor(role: Role, sub = uniqueId(role)): Promise<{ token: string; sub: string }> {
  return { token: await signToken({ sub, role, ttlSeconds: 600 }, await currentSigningKey()), sub };
}

/** Well-formed and unexpired, but signed with a key the secret never held. */
export function tokenWithWrongKey(role: Role): Promise<string> {
  return signToken({ sub: uniqueId(role), role, ttlSeconds: 600 }, randomBytes(32));
}

/** Signed with the right key, but expired well beyond the verifier's clock tolerance. */
export async function expiredToken(role: Role): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ role })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(uniqueId(role))
    .setIssuer(DEFAULT_JWT_ISSUER)
    .setAudience(DEFAULT_JWT_AUDIENCE)
    .setIssuedAt(now - 3600)
    .setExpirationTime(now - 600)
    .sign(await currentSigningKey());
}

// ---------------------------------------------------------------- routes and events

export function routeFor(operationId: string): RouteSpec {
  const route = ROUTES.find((r) => r.operationId === operationId);
  if (!route) throw new Error(`no route has operationId ${operationId}`);
  return route;
}

/** `agents/{id}` with `{ id: 'a-1' }` -> `/api/orchestrator/agents/a-1`. */
function concretePath(route: RouteSpec, pathParameters: Readonly<Record<string, string>>): string {
  const path = route.path.replace(/\{(\w+)\}/g, (_, name: string) => {
    const value = pathParameters[name];
    if (value === undefined) throw new Error(`route ${route.operationId} needs path parameter ${name}`);
    return encodeURIComponent(value);
  });
  return `/${API_BASE_PATH}/${path}`;
}

const IDENTITY: APIGatewayEventIdentity = {
  accessKey: null,
  accountId: null,
  apiKey: null,
  apiKeyId: null,
  caller: null,
  clientCert: null,
  cognitoAuthenticationProvider: null,
  cognitoAuthenticationType: null,
  cognitoIdentityId: null,
  cognitoIdentityPoolId: null,
  principalOrgId: null,
  sourceIp: '127.0.0.1',
  user: null,
  userAgent: 'integration-test',
  userArn: null,
};

function requestContext<T>(route: RouteSpec, path: string, authorizer: T) {
  return {
    accountId: ACCOUNT_ID,
    apiId: API_ID,
    authorizer,
    protocol: 'HTTP/1.1',
    httpMethod: route.method,
    identity: IDENTITY,
    path: `/${STAGE}${path}`,
    stage: STAGE,
    requestId: randomUUID(),
    requestTimeEpoch: Date.now(),
    resourceId: 'res001',
    resourcePath: `/${API_BASE_PATH}/${route.path}`,
  };
}

export function lambdaContext(functionName: string): Context {
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:${REGION}:${ACCOUNT_ID}:function:${functionName}`,
    memoryLimitInMB: '512',
    awsRequestId: randomUUID(),
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: 'integration',
    getRemainingTimeInMillis: () => 30_000,
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

// ---------------------------------------------------------------- the API

/** Every SDK client the handlers share, from their modules in functions/shared/clients/. */
async function loadSharedClients() {
  return {
    ...(await import('#shared/clients/dynamodb')),
    ...(await import('#shared/clients/eventbridge')),
    ...(await import('#shared/clients/secrets-manager')),
    ...(await import('#shared/clients/sfn')),
    ...(await import('#shared/clients/sqs')),
  };
}
export type SharedClients = Awaited<ReturnType<typeof loadSharedClients>>;

export interface ApiRequest {
  readonly operationId: string;
  /** Sent as `Authorization: Bearer <token>`; omitted: no Authorization header. */
  readonly token?: string;
  readonly pathParameters?: Readonly<Record<string, string>>;
  /** The query string, as API Gateway hands it on. */
  readonly query?: Readonly<Record<string, string>>;
  /** A string is sent as is; anything else as JSON; omitted: no body. */
  readonly body?: unknown;
  readonly headers?: Readonly<Record<string, string>>;
  /**
   * Deliver the request to the function without running the authorizer, as a
   * misconfigured method (no authorizer attached) would.
   */
  readonly bypassAuthorizer?: boolean;
}

export interface ApiAnswer {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | number | boolean>>;
  /** The parsed JSON body; undefined for an empty one; the text itself for any other content type. */
  readonly body: unknown;
}

type ProxyHandler = (event: APIGatewayProxyEvent, context: Context) => Promise<APIGatewayProxyResult>;
type AuthorizerHandler = (
  event: APIGatewayRequestAuthorizerEvent,
  context: Context,
) => Promise<APIGatewayAuthorizerResult>;

export interface Api {
  /** The authorizer's decision for `token` on a route; throws `Error('Unauthorized')` on a denial. */
  authorize(request: ApiRequest): Promise<APIGatewayAuthorizerResult>;
  /** Authorizer (for protected routes), then the route's function. */
  call(request: ApiRequest): Promise<ApiAnswer>;
  /** The SDK clients the handlers share (module scope), e.g. to observe their calls. */
  readonly clients: SharedClients;
  readonly workflows: typeof import('#shared/repository/workflows');
  /** Step Functions and SQS, with the recovery state machine and the agent queues. */
  readonly runtime: WorkflowRuntime;
  /** One run of the scheduled sweep (functions/sweep/handler.ts), as its schedule would start it. */
  sweep(): Promise<import('#shared/health-sweep').SweepReport>;
  /** Destroys every SDK client the harness and the handlers opened, and stops the runtime. */
  close(): Promise<void>;
}

const FUNCTIONS: Readonly<Record<ApiFunction, () => Promise<{ handler: ProxyHandler }>>> = {
  intake: () => import('../../../functions/intake/handler'),
  triage: () => import('../../../functions/triage/handler'),
  agents: () => import('../../../functions/agents/handler'),
  resources: () => import('../../../functions/resources/handler'),
  workflows: () => import('../../../functions/workflows/handler'),
  tasks: () => import('../../../functions/tasks/handler'),
  dlq: () => import('../../../functions/dlq/handler'),
  openapi: () => import('../../../functions/openapi/handler'),
  health: () => import('../../../functions/health/handler'),
  // The page it serves is generated at synth (infra/constructs/dashboard-bundle.ts); build it first.
  dashboard: async () => {
    (await import('../../../infra/constructs/dashboard-bundle')).bundleDashboard();
    process.env.WEBSOCKET_URL ??= DASHBOARD_WEBSOCKET_URL;
    return import('../../../functions/dashboard/handler');
  },
};

/** What the dashboard function is told the progress socket's URL is (env `WEBSOCKET_URL`). */
export const DASHBOARD_WEBSOCKET_URL = `wss://itsocket01.execute-api.${REGION}.amazonaws.com/${STAGE}`;

let api: Promise<Api> | undefined;

/** Loads the authorizer and every API function once per test file. */
export function loadApi(): Promise<Api> {
  api ??= buildApi();
  return api;
}

async function buildApi(): Promise<Api> {
  const runtime = await startWorkflowRuntime(lambdaContext);
  const previous = Object.fromEntries(
    Object.keys(runtime.environment).map((name) => [name, process.env[name]]),
  );
  Object.assign(process.env, runtime.environment);
  const workflowTask = (await import('../../../functions/workflow/handler')).handler as WorkflowTaskHandler;
  runtime.useWorkflowHandler(workflowTask);
  const authorizer: AuthorizerHandler = (await import('../../../functions/authorizer/handler')).handler;
  const sweep = (await import('../../../functions/sweep/handler')).handler;
  const entries = await Promise.all(
    Object.entries(FUNCTIONS).map(async ([name, load]) => [name, (await load()).handler] as const),
  );
  const handlers = new Map<string, ProxyHandler>(entries);
  const clients = await loadSharedClients();
  const workflows = await import('#shared/repository/workflows');

  const authorize = (request: ApiRequest): Promise<APIGatewayAuthorizerResult> => {
    const route = routeFor(request.operationId);
    const path = concretePath(route, request.pathParameters ?? {});
    const headers = request.token ? { Authorization: `Bearer ${request.token}` } : {};
    const event: APIGatewayRequestAuthorizerEvent = {
      type: 'REQUEST',
      methodArn: `arn:aws:execute-api:${REGION}:${ACCOUNT_ID}:${API_ID}/${STAGE}/${route.method}${path}`,
      resource: `/${API_BASE_PATH}/${route.path}`,
      path,
      httpMethod: route.method,
      headers,
      multiValueHeaders: null,
      pathParameters: request.pathParameters ?? null,
      queryStringParameters: null,
      multiValueQueryStringParameters: null,
      stageVariables: null,
      requestContext: requestContext(route, path, undefined),
    };
    return authorizer(event, lambdaContext('master-orchestrator-authorizer'));
  };

  const call = async (request: ApiRequest): Promise<ApiAnswer> => {
    const route = routeFor(request.operationId);
    const path = concretePath(route, request.pathParameters ?? {});
    let authorizerContext: Record<string, string | number> | undefined;
    if (route.roles.length > 0 && !request.bypassAuthorizer) {
      const decision = await authorize(request);
      // API Gateway hands the context on with every value as a string.
      authorizerContext = {
        principalId: decision.principalId,
        ...Object.fromEntries(Object.entries(decision.context ?? {}).map(([k, v]) => [k, String(v)])),
        integrationLatency: 1,
      };
    }
    const headers: Record<string, string> = { 'Content-Type': 'application/json', ...request.headers };
    if (request.token) headers.Authorization = `Bearer ${request.token}`;
    const body =
      request.body === undefined
        ? null
        : typeof request.body === 'string'
          ? request.body
          : JSON.stringify(request.body);
    const event: APIGatewayProxyEvent = {
      httpMethod: route.method,
      resource: `/${API_BASE_PATH}/${route.path}`,
      path,
      pathParameters: request.pathParameters ?? null,
      headers,
      multiValueHeaders: Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, [v]])),
      queryStringParameters: request.query ? { ...request.query } : null,
      multiValueQueryStringParameters: request.query
        ? Object.fromEntries(Object.entries(request.query).map(([k, v]) => [k, [v]]))
        : null,
      stageVariables: null,
      body,
      isBase64Encoded: false,
      requestContext: requestContext(route, path, authorizerContext),
    };
    const handler = handlers.get(route.function);
    if (!handler) throw new Error(`no handler loaded for function ${route.function}`);
    const result = await handler(event, lambdaContext(`master-orchestrator-${route.function}`));
    return {
      status: result.statusCode,
      headers: result.headers ?? {},
      body:
        result.body === ''
          ? undefined
          : /^text\//.test(String(result.headers?.['content-type'] ?? ''))
            ? result.body
            : JSON.parse(result.body),
    };
  };

  return {
    authorize,
    call,
    clients,
    workflows,
    runtime,
    sweep,
    close: async () => {
      await runtime.stop();
      for (const [name, value] of Object.entries(previous)) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
      clients.sfn.destroy();
      clients.sqs.destroy();
      clients.dynamodb.destroy();
      clients.secretsManager.destroy();
      documents.destroy();
      secrets.destroy();
    },
  };
}

/**
 * Makes an SDK client's `send` fail like the service would, with an error of this `name`:
 * the next call only, or every call (`always`) until `jest.restoreAllMocks()`.
 */
export function failSend(client: object, name: string, always = false): void {
  const spy = jest.spyOn(client as { send: (...args: unknown[]) => Promise<unknown> }, 'send');
  const error = Object.assign(new Error(`${name} (injected by the test)`), { name });
  if (always) spy.mockRejectedValue(error);
  else spy.mockRejectedValueOnce(error);
}

/** The `error.code` of an error answer (and a check that the body has the C3 error shape). */
export function errorCode(answer: ApiAnswer): string {
  return ErrorBody.parse(answer.body).error.code;
}

// ---------------------------------------------------------------- the table

/** Every item of one partition, all pages, strongly consistent. */
export async function queryPartition(pk: string): Promise<Item[]> {
  const items: Item[] = [];
  let cursor: Record<string, unknown> | undefined;
  do {
    const page = await documents.send(
      new QueryCommand({
        TableName: TABLE_NAME,
        KeyConditionExpression: 'PK = :pk',
        ExpressionAttributeValues: { ':pk': pk },
        ConsistentRead: true,
        ExclusiveStartKey: cursor,
      }),
    );
    items.push(...(page.Items ?? []));
    cursor = page.LastEvaluatedKey;
  } while (cursor);
  return items;
}

/** How many items anywhere in the table mention `text` in any attribute (a full Scan). */
export async function countItemsMentioning(text: string): Promise<number> {
  let count = 0;
  let cursor: Record<string, unknown> | undefined;
  do {
    const page = await documents.send(
      new ScanCommand({ TableName: TABLE_NAME, ConsistentRead: true, ExclusiveStartKey: cursor }),
    );
    count += (page.Items ?? []).filter((item) => JSON.stringify(item).includes(text)).length;
    cursor = page.LastEvaluatedKey;
  } while (cursor);
  return count;
}

// ---------------------------------------------------------------- samples

/** A file of events/samples: its exact text and its parsed JSON. */
export function sample(name: string): { text: string; json: unknown } {
  const text = readFileSync(join(__dirname, '../../../events/samples', name), 'utf8');
  return { text, json: JSON.parse(text) };
}

// ---------------------------------------------------------------- fixtures

/** The reference agents (events/samples/agents.json): one per category, so any categorised step routes. */
export function referenceAgents(): AgentRegistration[] {
  return z.array(AgentRegistration).parse(sample('agents.json').json);
}

/**
 * Registers (or re-registers) agents through POST agents as an admin.
 * @returns the status of each answer, in order.
 */
export async function registerAgents(api: Api, registrations: readonly unknown[]): Promise<number[]> {
  const { token } = await tokenFor('admin');
  const statuses: number[] = [];
  for (const body of registrations) {
    const answer = await api.call({ operationId: 'registerAgent', token, body });
    if (answer.status !== 200 && answer.status !== 201)
      throw new Error(
        `registering ${JSON.stringify(body)} answered ${answer.status}: ${JSON.stringify(answer.body)}`,
      );
    statuses.push(answer.status);
  }
  return statuses;
}
