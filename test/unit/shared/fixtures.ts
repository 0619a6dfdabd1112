/**
 * Events, contexts and environment for the shared-layer unit tests. Modules that read
 * configuration when they load (http, powertools) are imported after `setTestEnv()`:
 * a test file imports them statically after `import './test-env'`.
 */
import type { APIGatewayProxyEvent, Context } from 'aws-lambda';

export const TEST_ENV = {
  LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'SILENT',
  POWERTOOLS_SERVICE_NAME: 'orchestrator-test',
  POWERTOOLS_METRICS_NAMESPACE: 'OrchestratorTest',
  POWERTOOLS_METRICS_DISABLED: 'true',
  CORS_ALLOWED_ORIGINS: 'https://dashboard.example.com, https://other.example.com',
} as const;

export function setTestEnv(): void {
  Object.assign(process.env, TEST_ENV);
}

export const REQUEST_ID = 'req-0001';

export interface EventOptions {
  readonly method?: string;
  readonly resource?: string;
  readonly pathParameters?: Record<string, string>;
  readonly headers?: Record<string, string>;
  readonly queryStringParameters?: Record<string, string>;
  readonly body?: string | null;
  readonly isBase64Encoded?: boolean;
  /** The Lambda authorizer's context; omitted: no authorizer ran (a public route). */
  readonly principal?: { sub: string; role: string };
}

export function apiEvent(options: EventOptions = {}): APIGatewayProxyEvent {
  const resource = options.resource ?? '/api/orchestrator/test';
  return {
    httpMethod: options.method ?? 'POST',
    resource,
    path: resource,
    pathParameters: options.pathParameters ?? null,
    headers: options.headers ?? {},
    multiValueHeaders: {},
    queryStringParameters: options.queryStringParameters ?? null,
    multiValueQueryStringParameters: null,
    stageVariables: null,
    body: options.body ?? null,
    isBase64Encoded: options.isBase64Encoded ?? false,
    requestContext: {
      requestId: REQUEST_ID,
      authorizer: options.principal
        ? { principalId: options.principal.sub, ...options.principal }
        : undefined,
    } as APIGatewayProxyEvent['requestContext'],
  };
}

export function lambdaContext(): Context {
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: 'orchestrator-test',
    functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:eu-west-1:123456789012:function:orchestrator-test',
    memoryLimitInMB: '256',
    awsRequestId: 'aws-req-0001',
    logGroupName: '/aws/lambda/orchestrator-test',
    logStreamName: 'stream',
    getRemainingTimeInMillis: () => 10_000,
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

/** The parsed JSON body of a proxy result. */
export function jsonBody(result: { body: string }): Record<string, unknown> {
  return JSON.parse(result.body) as Record<string, unknown>;
}

/** The `error` object of an error answer. */
export function errorOf(result: { body: string }): {
  code: string;
  message: string;
  details?: unknown[];
  request_id?: string;
} {
  return (jsonBody(result) as { error: ReturnType<typeof errorOf> }).error;
}
