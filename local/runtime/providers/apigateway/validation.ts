/**
 * Request validators: a method's RequestValidatorId turns on checks of its required
 * RequestParameters (400 BAD_REQUEST_PARAMETERS) and of its body against the
 * RequestModels entry for the request's content type (400 BAD_REQUEST_BODY).
 *
 * Models are JSON Schema draft-04, validated with ajv-draft-04 (allErrors). AWS uses the
 * Java json-schema-validator, so `$context.error.validationErrorString` is rendered in
 * its words: `[object has missing required properties (["detected_issues"])]`, one
 * message per failing keyword, joined with `, `. Keywords without a known wording fall
 * back to ajv's message. An empty body is validated as `{}`, as AWS does.
 */
import type { ErrorObject, ValidateFunction } from 'ajv-draft-04';
import Ajv from 'ajv-draft-04';
import { GatewayError } from './gateway-responses';
import type { MethodState, RestApiState } from './model';

export interface ValidatedRequest {
  readonly header: (name: string) => string | undefined;
  readonly querystring: (name: string) => string | undefined;
  readonly pathParameters: Readonly<Record<string, string>> | null;
  /** Lower-case media type without parameters; `application/json` when the request has none. */
  readonly contentType: string;
  readonly body: string | null;
}

/** `https://apigateway.amazonaws.com/restapis/<apiId>/models/<name>`: how one model `$ref`s another. */
export function modelUrl(apiId: string, name: string): string {
  return `https://apigateway.amazonaws.com/restapis/${apiId}/models/${name}`;
}

interface SchemaCache {
  readonly version: number;
  readonly ajv: Ajv;
  readonly compiled: Map<string, ValidateFunction>;
}

const schemaCaches = new WeakMap<RestApiState, SchemaCache>();

/**
 * Throws a GatewayError when the method has a validator and the request fails it.
 * @example
 * validateRequest(api, route.method, { header, querystring, pathParameters, contentType, body });
 */
export function validateRequest(api: RestApiState, method: MethodState, request: ValidatedRequest): void {
  const validator = method.requestValidatorId ? api.validators.get(method.requestValidatorId) : undefined;
  if (!validator) return;
  if (validator.validateRequestParameters) {
    const missing = missingParameters(method, request);
    if (missing.length > 0) {
      const message = `Missing required request parameters: [${missing.join(', ')}]`;
      throw new GatewayError('BAD_REQUEST_PARAMETERS', message, { validationErrorString: message });
    }
  }
  if (validator.validateRequestBody) {
    const modelName = method.requestModels[request.contentType] ?? method.requestModels.$default;
    if (!modelName) return;
    const errors = validateBody(api, modelName, request.body);
    if (errors.length > 0)
      throw new GatewayError('BAD_REQUEST_BODY', 'Invalid request body', {
        validationErrorString: `[${errors.join(', ')}]`,
      });
  }
}

function missingParameters(method: MethodState, request: ValidatedRequest): string[] {
  const missing: string[] = [];
  for (const [parameter, required] of Object.entries(method.requestParameters).sort(([a], [b]) =>
    a.localeCompare(b),
  )) {
    if (!required) continue;
    const match = /^method\.request\.(header|querystring|path)\.(.+)$/.exec(parameter);
    if (!match) continue;
    const [, location, name = ''] = match;
    const value =
      location === 'header'
        ? request.header(name)
        : location === 'querystring'
          ? request.querystring(name)
          : request.pathParameters?.[name];
    if (value === undefined || value.trim() === '') missing.push(name);
  }
  return missing;
}

/** fge-style messages for the body against the named model; empty when it passes. */
function validateBody(api: RestApiState, modelName: string, body: string | null): string[] {
  const validate = compiledModel(api, modelName);
  let instance: unknown;
  try {
    instance = body === null || body.trim() === '' ? {} : JSON.parse(body);
  } catch (cause) {
    return [`Invalid JSON in request body: ${cause instanceof Error ? cause.message : String(cause)}`];
  }
  if (validate(instance)) return [];
  return describeErrors(validate.errors ?? []);
}

function compiledModel(api: RestApiState, modelName: string): ValidateFunction {
  let cache = schemaCaches.get(api);
  if (!cache || cache.version !== api.version) {
    const ajv = new Ajv({ allErrors: true, verbose: true, strict: false, logger: false });
    ajv.addFormat('date-time', { type: 'string', validate: isDateTime });
    for (const model of api.models.values())
      ajv.addSchema(stripIds(model.schema), modelUrl(api.id, model.name));
    cache = { version: api.version, ajv, compiled: new Map() };
    schemaCaches.set(api, cache);
  }
  const known = cache.compiled.get(modelName);
  if (known) return known;
  const validate = cache.ajv.getSchema(modelUrl(api.id, modelName));
  if (!validate)
    throw new GatewayError('API_CONFIGURATION_ERROR', 'Internal server error', {
      cause: new Error(`model ${modelName} is not defined on API ${api.id}`),
    });
  cache.compiled.set(modelName, validate);
  return validate;
}

/** Models are keyed by their URL; a top-level `id` would compete with it. */
function stripIds(schema: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const { id: _id, ...rest } = schema;
  return rest;
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

function isDateTime(value: string): boolean {
  return RFC3339.test(value) && !Number.isNaN(Date.parse(value));
}

/** The Java json-schema-validator's wording, which AWS puts in validationErrorString. */
function describeErrors(errors: readonly ErrorObject[]): string[] {
  const messages: string[] = [];
  const grouped = new Map<string, { missing: string[]; extra: string[] }>();
  for (const error of errors) {
    if (error.keyword === 'required' || error.keyword === 'additionalProperties') {
      const group = grouped.get(error.instancePath) ?? { missing: [], extra: [] };
      if (!grouped.has(error.instancePath)) {
        grouped.set(error.instancePath, group);
        messages.push(`\u0000${error.instancePath}`);
      }
      if (error.keyword === 'required') group.missing.push(String(error.params.missingProperty));
      else group.extra.push(String(error.params.additionalProperty));
      continue;
    }
    messages.push(describe(error));
  }
  return messages.flatMap((message) => {
    if (!message.startsWith('\u0000')) return [message];
    const group = grouped.get(message.slice(1));
    if (!group) return [];
    const out: string[] = [];
    if (group.missing.length > 0)
      out.push(`object has missing required properties (${JSON.stringify([...group.missing].sort())})`);
    if (group.extra.length > 0)
      out.push(
        `object instance has properties which are not allowed by the schema: ${JSON.stringify([...group.extra].sort())}`,
      );
    return out;
  });
}

function describe(error: ErrorObject): string {
  const data: unknown = error.data;
  const params = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case 'type':
      return `instance type (${jsonType(data)}) does not match any allowed primitive type (allowed: ${JSON.stringify(
        [params.type].flat().map(String),
      )})`;
    case 'enum':
      return `instance value (${JSON.stringify(data)}) not found in enum (possible values: ${JSON.stringify(params.allowedValues)})`;
    case 'minLength':
      return `string ${JSON.stringify(data)} is too short (length: ${String(data).length}, required minimum: ${params.limit})`;
    case 'maxLength':
      return `string ${JSON.stringify(data)} is too long (length: ${String(data).length}, maximum allowed: ${params.limit})`;
    case 'pattern':
      return `ECMA 262 regex ${JSON.stringify(params.pattern)} does not match input string ${JSON.stringify(data)}`;
    case 'minItems':
      return `array is too short: must have at least ${params.limit} elements but instance has ${arrayLength(data)} elements`;
    case 'maxItems':
      return `array is too long: must have at most ${params.limit} elements but instance has ${arrayLength(data)} elements`;
    case 'minimum':
      return params.comparison === '>'
        ? `numeric instance is not strictly greater than the required minimum ${params.limit}`
        : `numeric instance is lower than the required minimum (minimum: ${params.limit}, found: ${String(data)})`;
    case 'maximum':
      return params.comparison === '<'
        ? `numeric instance is not strictly lower than the required maximum ${params.limit}`
        : `numeric instance is greater than the required maximum (maximum: ${params.limit}, found: ${String(data)})`;
    case 'format':
      return params.format === 'date-time'
        ? `string ${JSON.stringify(data)} is invalid against requested date format(s) [yyyy-MM-dd'T'HH:mm:ssZ, yyyy-MM-dd'T'HH:mm:ss.[0-9]{1,12}Z]`
        : `string ${JSON.stringify(data)} is not a valid ${String(params.format)}`;
    case 'uniqueItems':
      return 'array must not contain duplicate elements';
    case 'multipleOf':
      return `numeric instance is not a multiple of ${params.multipleOf}`;
    default:
      return `${error.instancePath || 'instance'} ${error.message ?? `fails ${error.keyword}`}`;
  }
}

function jsonType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
}

function arrayLength(value: unknown): number {
  return Array.isArray(value) ? value.length : 0;
}
