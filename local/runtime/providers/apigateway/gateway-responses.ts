/**
 * API Gateway's own answers (gateway responses): every rejection the offline REST API
 * makes is a `GatewayError` of one response type, rendered here the way AWS does:
 *
 * 1. the API's GatewayResponse of that type, if the template defines one;
 * 2. else the API's DEFAULT_4XX or DEFAULT_5XX (by the type's default status), keeping
 *    the type's own status code unless that default sets one;
 * 3. else AWS's built-in response: `{"message":$context.error.messageString}`.
 *
 * Headers: `x-amzn-RequestId`, `x-amzn-ErrorType` (AWS's exception name) and the
 * response's `gatewayresponse.header.*` parameters.
 */
import type { AwsResponse } from '../../types';
import { type ParameterSources, resolveParameterValue } from './parameters';
import { renderVtl } from './vtl';

export const GATEWAY_RESPONSE_TYPES = [
  'ACCESS_DENIED',
  'API_CONFIGURATION_ERROR',
  'AUTHORIZER_CONFIGURATION_ERROR',
  'AUTHORIZER_FAILURE',
  'BAD_REQUEST_PARAMETERS',
  'BAD_REQUEST_BODY',
  'DEFAULT_4XX',
  'DEFAULT_5XX',
  'EXPIRED_TOKEN',
  'INTEGRATION_FAILURE',
  'INTEGRATION_TIMEOUT',
  'INVALID_API_KEY',
  'INVALID_SIGNATURE',
  'MISSING_AUTHENTICATION_TOKEN',
  'QUOTA_EXCEEDED',
  'REQUEST_TOO_LARGE',
  'RESOURCE_NOT_FOUND',
  'THROTTLED',
  'UNAUTHORIZED',
  'UNSUPPORTED_MEDIA_TYPE',
  'WAF_FILTERED',
] as const;

export type GatewayResponseType = (typeof GATEWAY_RESPONSE_TYPES)[number];

/** AWS's default status per type; the two DEFAULT_* types have none of their own. */
const DEFAULT_STATUS: Readonly<Record<GatewayResponseType, number | undefined>> = {
  ACCESS_DENIED: 403,
  API_CONFIGURATION_ERROR: 500,
  AUTHORIZER_CONFIGURATION_ERROR: 500,
  AUTHORIZER_FAILURE: 500,
  BAD_REQUEST_PARAMETERS: 400,
  BAD_REQUEST_BODY: 400,
  DEFAULT_4XX: undefined,
  DEFAULT_5XX: undefined,
  EXPIRED_TOKEN: 403,
  INTEGRATION_FAILURE: 504,
  INTEGRATION_TIMEOUT: 504,
  INVALID_API_KEY: 403,
  INVALID_SIGNATURE: 403,
  MISSING_AUTHENTICATION_TOKEN: 403,
  QUOTA_EXCEEDED: 429,
  REQUEST_TOO_LARGE: 413,
  RESOURCE_NOT_FOUND: 404,
  THROTTLED: 429,
  UNAUTHORIZED: 401,
  UNSUPPORTED_MEDIA_TYPE: 415,
  WAF_FILTERED: 403,
};

/** The `x-amzn-ErrorType` header AWS sends with each type. */
const ERROR_TYPE_HEADER: Readonly<Partial<Record<GatewayResponseType, string>>> = {
  ACCESS_DENIED: 'AccessDeniedException',
  API_CONFIGURATION_ERROR: 'InternalServerErrorException',
  AUTHORIZER_CONFIGURATION_ERROR: 'AuthorizerConfigurationException',
  AUTHORIZER_FAILURE: 'AuthorizerFailureException',
  BAD_REQUEST_BODY: 'BadRequestException',
  BAD_REQUEST_PARAMETERS: 'BadRequestException',
  DEFAULT_5XX: 'InternalServerErrorException',
  INTEGRATION_FAILURE: 'InternalServerErrorException',
  INTEGRATION_TIMEOUT: 'InternalServerErrorException',
  MISSING_AUTHENTICATION_TOKEN: 'MissingAuthenticationTokenException',
  QUOTA_EXCEEDED: 'LimitExceededException',
  REQUEST_TOO_LARGE: 'RequestTooLargeException',
  RESOURCE_NOT_FOUND: 'NotFoundException',
  THROTTLED: 'TooManyRequestsException',
  UNAUTHORIZED: 'UnauthorizedException',
  UNSUPPORTED_MEDIA_TYPE: 'UnsupportedMediaTypeException',
};

const BUILT_IN_TEMPLATE = '{"message":$context.error.messageString}';

export function isGatewayResponseType(value: string): value is GatewayResponseType {
  return (GATEWAY_RESPONSE_TYPES as readonly string[]).includes(value);
}

export interface GatewayErrorOptions {
  /** Overrides the type's default status (e.g. 502 for a DEFAULT_5XX from a broken integration). */
  readonly status?: number;
  /** `$context.error.validationErrorString`, for the BAD_REQUEST_* types. */
  readonly validationErrorString?: string;
  readonly cause?: unknown;
}

/** One of API Gateway's own rejections; `message` is `$context.error.message` (null renders `null`). */
export class GatewayError extends Error {
  override readonly name = 'GatewayError';
  readonly status: number;
  readonly validationErrorString: string | undefined;

  constructor(
    readonly responseType: GatewayResponseType,
    readonly errorMessage: string | null,
    options: GatewayErrorOptions = {},
  ) {
    super(errorMessage ?? responseType, { cause: options.cause });
    this.status =
      options.status ?? DEFAULT_STATUS[responseType] ?? (responseType === 'DEFAULT_5XX' ? 500 : 400);
    this.validationErrorString = options.validationErrorString;
  }
}

/** An `AWS::ApiGateway::GatewayResponse` as deployed. */
export interface GatewayResponseConfig {
  readonly statusCode?: number;
  /** `gatewayresponse.header.<Name>` → `'literal'` or `method.request.header.<name>` etc. */
  readonly responseParameters: Readonly<Record<string, string>>;
  /** Content type → template. */
  readonly responseTemplates: Readonly<Record<string, string>>;
}

export interface GatewayResponseContext {
  readonly requestId: string;
  /** `$context.*` variables beyond `error` (requestId, apiId, stage, resourcePath, ...). */
  readonly contextVariables: Readonly<Record<string, unknown>>;
  readonly stageVariables: Readonly<Record<string, string>> | null;
  readonly parameters: ParameterSources;
  /** The request's Accept header, to pick a template. */
  readonly accept?: string;
}

/**
 * The HTTP answer for `error` under the API's gateway responses.
 * @example
 * const response = renderGatewayResponse(api.gatewayResponses, new GatewayError('UNAUTHORIZED', 'Unauthorized'), ctx);
 */
export function renderGatewayResponse(
  configured: ReadonlyMap<GatewayResponseType, GatewayResponseConfig>,
  error: GatewayError,
  context: GatewayResponseContext,
): AwsResponse {
  const own = configured.get(error.responseType);
  const fallback = own ? undefined : configured.get(error.status >= 500 ? 'DEFAULT_5XX' : 'DEFAULT_4XX');
  const chosen = own ?? fallback;
  const status = chosen?.statusCode ?? error.status;
  const templates = chosen?.responseTemplates ?? {};
  const [contentType, template] = pickTemplate(templates, context.accept);

  const errorVariables = {
    message: error.errorMessage,
    messageString: error.errorMessage === null ? 'null' : JSON.stringify(error.errorMessage),
    responseType: error.responseType,
    // AWS substitutes it pre-escaped, so `"$context.error.validationErrorString"` stays valid JSON.
    validationErrorString: jsonEscape(error.validationErrorString ?? ''),
  };
  const body = renderVtl(template, {
    context: { ...context.contextVariables, requestId: context.requestId, error: errorVariables },
    stageVariables: context.stageVariables ?? {},
  });

  const headers: Record<string, string> = {
    'content-type': contentType,
    'x-amzn-RequestId': context.requestId,
  };
  const errorType =
    ERROR_TYPE_HEADER[error.responseType] ?? (status >= 500 ? 'InternalServerErrorException' : undefined);
  if (errorType) headers['x-amzn-ErrorType'] = errorType;
  for (const [key, expression] of Object.entries(chosen?.responseParameters ?? {})) {
    const name = /^gatewayresponse\.header\.(.+)$/.exec(key)?.[1];
    const value = name ? resolveParameterValue(expression, context.parameters) : undefined;
    if (name && value !== undefined) headers[name] = value;
  }
  return { status, headers, body };
}

function pickTemplate(
  templates: Readonly<Record<string, string>>,
  accept: string | undefined,
): [string, string] {
  const entries = Object.entries(templates);
  const accepted = accept?.split(',').map((part) => part.split(';')[0]?.trim().toLowerCase());
  const byAccept = entries.find(([type]) => accepted?.includes(type.toLowerCase()));
  const chosen = byAccept ?? entries.find(([type]) => type === 'application/json') ?? entries[0];
  return chosen ?? ['application/json', BUILT_IN_TEMPLATE];
}

function jsonEscape(text: string): string {
  return JSON.stringify(text).slice(1, -1);
}
