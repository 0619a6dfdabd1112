/**
 * The OpenAPI 3.1 document, generated from ROUTES and their zod schemas, never
 * written by hand. Request bodies are described as clients may send them (`io:
 * 'input'`: fields with defaults are optional); answers as the API returns them
 * (`io: 'output'`). Routes with roles carry bearer-JWT security, their roles in the
 * description and in `x-roles`. Pure and deterministic: the same ROUTES give the same
 * document, byte for byte.
 */
import * as z from 'zod';
import { ErrorBody, Identifier, WIRE_SCHEMAS } from '#core/wire';
import { IDEMPOTENCY_TTL_SECONDS, IdempotencyKey, MAX_BODY_BYTES } from '#shared/request-rules';
import { API_BASE_PATH, ROUTES, type RouteSpec } from '#shared/routes';

export const OPENAPI_VERSION = '3.1.0';
/** Version of the REST contract (C3), not of the package. */
export const API_VERSION = '1.0.0';

type JsonObject = { [key: string]: unknown };

const ERROR_RESPONSES = {
  400: [
    'BadRequest',
    'Malformed JSON, a body or query string that fails validation, or a missing Idempotency-Key.',
  ],
  401: ['Unauthorized', 'No bearer token, or one that is invalid or expired.'],
  403: ['Forbidden', "The token's role may not call this route, or an agent named another agent's id."],
  404: ['NotFound', 'No such resource.'],
  409: [
    'Conflict',
    'A duplicate id, a concurrent update, a state that does not allow the request, or an Idempotency-Key reused or still in progress.',
  ],
  410: ['Gone', 'The task token has ended: a late or duplicate callback.'],
  413: ['PayloadTooLarge', `The body exceeds ${MAX_BODY_BYTES} bytes, or one issue is too large to store.`],
  422: [
    'Unprocessable',
    'A dependency cycle, an unknown dependency, or a plan that cannot be routed, run, or held in one workflow.',
  ],
  429: ['Throttled', 'Too many requests; retry with backoff.'],
  500: ['InternalError', 'Unexpected failure; quote `request_id` to support.'],
} as const satisfies Record<number, readonly [string, string]>;

type ErrorStatus = keyof typeof ERROR_RESPONSES;

/** The 429 of a `backpressure` route: the backlog is full (backpressure.ts). */
const BACKLOG_FULL_RESPONSE = {
  description:
    'BACKLOG_FULL: the backlog has reached its bound (MAX_BACKLOG_ISSUES unresolved issues), so no new work is accepted; ' +
    'nothing was stored. Retry after the `Retry-After` seconds. An idempotent replay of an accepted request still gets its 202. ' +
    'Other codes (THROTTLED, when a service throttles) may also answer 429.',
  headers: {
    'Retry-After': {
      description: 'Seconds to wait before retrying (BACKLOG_RETRY_AFTER_SECONDS).',
      required: true,
      schema: { type: 'integer', minimum: 1 },
    },
  },
  content: {
    'application/json': {
      schema: { $ref: '#/components/schemas/ErrorBody' },
      example: {
        error: {
          code: 'BACKLOG_FULL',
          message:
            'the backlog has reached its bound of 5000 unresolved issues (MAX_BACKLOG_ISSUES); retry after 30 s',
          details: [{ max_backlog_issues: 5000, retry_after_seconds: 30 }],
        },
      },
    },
  },
} as const;

/**
 * Builds the document for `routes`.
 * @example
 * const doc = buildOpenApiDocument();
 * doc.paths['/api/orchestrator/issues'].post.operationId // 'submitIssues'
 */
export function buildOpenApiDocument(routes: readonly RouteSpec[] = ROUTES): JsonObject {
  const names = schemaNames(routes);
  const paths: Record<string, Record<string, JsonObject>> = {};
  for (const route of routes) {
    const path = `/${API_BASE_PATH}/${route.path}`;
    paths[path] ??= {};
    (paths[path] as Record<string, JsonObject>)[route.method.toLowerCase()] = operation(route, names);
  }
  return {
    openapi: OPENAPI_VERSION,
    info: {
      title: 'Master Orchestrator API',
      version: API_VERSION,
      description:
        'Triage detected issues, route them to recovery agents and run recoveries as workflows. ' +
        'Every route but health, openapi.json and dashboard needs `Authorization: Bearer <jwt>`.',
    },
    // Relative to where this document is served (<stage>/api/orchestrator/openapi.json): the stage root.
    servers: [{ url: '../..', description: 'the API stage this document is served from' }],
    paths,
    components: {
      schemas: componentSchemas(names),
      responses: {
        ...Object.fromEntries(
          Object.values(ERROR_RESPONSES).map(([name, description]) => [
            name,
            { description, content: { 'application/json': { schema: ref('ErrorBody') } } },
          ]),
        ),
        BacklogFull: BACKLOG_FULL_RESPONSE,
      },
      securitySchemes: {
        bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' },
      },
    },
  };
}

function operation(route: RouteSpec, names: SchemaNames): JsonObject {
  const isProtected = route.roles.length > 0;
  const pathParams = [...route.path.matchAll(/\{(\w+)\}/g)].map((m) => m[1] as string);
  const statuses = new Set<ErrorStatus>(route.errors ?? []);
  if (route.request || route.idempotent || route.query) statuses.add(400);
  if (isProtected) statuses.add(401).add(403);
  if (pathParams.length > 0) statuses.add(404);
  if (route.request || route.idempotent) statuses.add(409);
  if (route.request) statuses.add(413).add(422);
  statuses.add(429).add(500);
  const errors = [...statuses].sort((a, b) => a - b);

  const parameters: JsonObject[] = pathParams.map((name) => ({
    name,
    in: 'path',
    required: true,
    schema: jsonSchema(Identifier, 'input'),
  }));
  for (const [name, schema] of Object.entries(route.query?.shape ?? {}))
    parameters.push({
      name,
      in: 'query',
      required: !(schema as z.ZodType).safeParse(undefined).success,
      schema: jsonSchema(schema as z.ZodType, 'input'),
    });
  if (route.idempotent)
    parameters.push({
      name: 'Idempotency-Key',
      in: 'header',
      required: true,
      description: `Retries with the same key within ${IDEMPOTENCY_TTL_SECONDS / 3600} h get the first answer; the same key with another body is a 409.`,
      schema: jsonSchema(IdempotencyKey, 'input'),
    });

  const successBody = route.success.body ? names.output.get(route.success.body) : undefined;
  return {
    operationId: route.operationId,
    summary: route.summary,
    description: isProtected
      ? `Roles: ${route.roles.join(', ')}.${route.agentSelfOnly ? ' An agent token may act only on its own agent id.' : ''}`
      : 'Public: no token needed.',
    tags: [route.path.split('/')[0]],
    'x-roles': [...route.roles],
    security: isProtected ? [{ bearerAuth: [] }] : [],
    ...(parameters.length > 0 ? { parameters } : {}),
    ...(route.request
      ? {
          requestBody: {
            required: route.requestOptional !== true,
            content: { 'application/json': { schema: ref(names.input.get(route.request) as string) } },
          },
        }
      : {}),
    responses: {
      [route.success.status]: {
        description: route.summary,
        ...(route.success.status === 204
          ? {}
          : {
              content:
                route.success.contentType === 'text/html'
                  ? { 'text/html': { schema: { type: 'string' } } }
                  : { 'application/json': { schema: successBody ? ref(successBody) : { type: 'object' } } },
            }),
      },
      ...Object.fromEntries(
        errors.map((status) => [
          status,
          {
            $ref: `#/components/responses/${status === 429 && route.backpressure ? 'BacklogFull' : ERROR_RESPONSES[status][0]}`,
          },
        ]),
      ),
    },
  };
}

interface SchemaNames {
  readonly input: Map<z.ZodType, string>;
  readonly output: Map<z.ZodType, string>;
}

/** Wire names where the schema is one of WIRE_SCHEMAS; a schema used both ways gets an `Input` twin. */
function schemaNames(routes: readonly RouteSpec[]): SchemaNames {
  const wireName = new Map<z.ZodType, string>(Object.entries(WIRE_SCHEMAS).map(([name, s]) => [s, name]));
  const output = new Map<z.ZodType, string>([[ErrorBody, 'ErrorBody']]);
  for (const r of routes)
    if (r.success.body)
      output.set(r.success.body, wireName.get(r.success.body) ?? `${cap(r.operationId)}Response`);
  const input = new Map<z.ZodType, string>();
  for (const r of routes)
    if (r.request) {
      const name = wireName.get(r.request) ?? `${cap(r.operationId)}Request`;
      input.set(r.request, output.has(r.request) ? `${name}Input` : name);
    }
  return { input, output };
}

function componentSchemas(names: SchemaNames): JsonObject {
  const generate = (schemas: Map<z.ZodType, string>, io: 'input' | 'output') => {
    const registry = z.registry<{ id: string }>();
    for (const [schema, id] of schemas) registry.add(schema, { id });
    const { schemas: out } = z.toJSONSchema(registry, { io, uri: (id) => `#/components/schemas/${id}` }) as {
      schemas: Record<string, JsonObject>;
    };
    return Object.fromEntries(Object.entries(out).map(([id, s]) => [id, withoutMeta(s)]));
  };
  const all = { ...generate(names.output, 'output'), ...generate(names.input, 'input') };
  return Object.fromEntries(
    Object.keys(all)
      .sort()
      .map((id) => [id, all[id]]),
  );
}

function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): JsonObject {
  return withoutMeta(z.toJSONSchema(schema, { io }) as JsonObject);
}

/** `$schema` is implied by OpenAPI 3.1; an `$id` with a fragment is not valid JSON Schema. */
function withoutMeta({ $schema: _schema, $id: _id, ...rest }: JsonObject): JsonObject {
  return rest;
}

function ref(name: string): JsonObject {
  return { $ref: `#/components/schemas/${name}` };
}

function cap(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
