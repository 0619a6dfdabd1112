/**
 * The public routes, GET health and GET openapi.json, with no token and no authorizer,
 * as API Gateway serves them.
 */
import * as z from 'zod';
import { HealthReport } from '#core/wire';
import { API_BASE_PATH, ROUTES } from '#shared/routes';
import { type Api, loadApi } from './harness';

let api: Api;

beforeAll(async () => {
  api = await loadApi();
});

afterAll(async () => {
  await api.close();
});

const Operation = z.object({
  operationId: z.string(),
  summary: z.string().min(1),
  security: z.array(z.record(z.string(), z.array(z.string()))),
  'x-roles': z.array(z.string()),
  responses: z.record(z.string().regex(/^[1-5]\d\d$/), z.object({}).loose()),
});

const OpenApiDocument = z.object({
  openapi: z.string().regex(/^3\.1\.\d+$/),
  info: z.object({ title: z.string().min(1), version: z.string().min(1) }),
  paths: z.record(z.string().startsWith('/'), z.partialRecord(z.enum(['get', 'post', 'delete']), Operation)),
  components: z.object({
    schemas: z.record(z.string(), z.object({}).loose()),
    securitySchemes: z.object({
      bearerAuth: z.object({ type: z.literal('http'), scheme: z.literal('bearer') }),
    }),
  }),
});

/** Every `$ref` anywhere in `value`. */
function refsIn(value: unknown): string[] {
  if (Array.isArray(value)) return value.flatMap(refsIn);
  if (value === null || typeof value !== 'object') return [];
  return Object.entries(value).flatMap(([key, inner]) =>
    key === '$ref' && typeof inner === 'string' ? [inner] : refsIn(inner),
  );
}

/** Follows a local JSON pointer (`#/components/schemas/Issue`). */
function resolvePointer(document: unknown, pointer: string): unknown {
  return pointer
    .replace(/^#\//, '')
    .split('/')
    .map((part) => part.replaceAll('~1', '/').replaceAll('~0', '~'))
    .reduce<unknown>(
      (node, part) =>
        node !== null && typeof node === 'object' ? (node as Record<string, unknown>)[part] : undefined,
      document,
    );
}

describe('GET openapi.json', () => {
  it('answers 200 with an OpenAPI 3.1 document that lists every route with its roles', async () => {
    // Act
    const answer = await api.call({ operationId: 'openapi' });

    // Assess
    expect(answer.status).toBe(200);
    expect(answer.headers['content-type']).toMatch(/^application\/json/);
    const document = OpenApiDocument.parse(answer.body);
    const listed = Object.entries(document.paths).flatMap(([path, operations]) =>
      Object.entries(operations).map(([method, operation]) => ({
        method: method.toUpperCase(),
        path,
        operationId: operation.operationId,
        roles: operation['x-roles'],
        secured: operation.security.length > 0,
      })),
    );
    expect(listed).toHaveLength(ROUTES.length);
    expect(listed).toEqual(
      expect.arrayContaining(
        ROUTES.map((route) => ({
          method: route.method,
          path: `/${API_BASE_PATH}/${route.path}`,
          operationId: route.operationId,
          roles: [...route.roles],
          secured: route.roles.length > 0,
        })),
      ),
    );
  });

  it('resolves every $ref in the document', async () => {
    // Act
    const answer = await api.call({ operationId: 'openapi' });

    // Assess
    const refs = [...new Set(refsIn(answer.body))];
    expect(refs.length).toBeGreaterThan(10);
    const dangling = refs.filter(
      (ref) => !ref.startsWith('#/') || resolvePointer(answer.body, ref) === undefined,
    );
    expect(dangling).toEqual([]);
  });
});

describe('GET health', () => {
  it('answers 200 with a HealthReport naming the service and the API version', async () => {
    // Prepare
    const openapi = OpenApiDocument.parse((await api.call({ operationId: 'openapi' })).body);

    // Act
    const answer = await api.call({ operationId: 'health' });

    // Assess
    expect(answer.status).toBe(200);
    expect(answer.headers).toMatchObject({
      'x-content-type-options': 'nosniff',
      'cache-control': 'no-store',
    });
    expect(HealthReport.parse(answer.body)).toMatchObject({
      status: 'ok',
      service: process.env.POWERTOOLS_SERVICE_NAME,
      version: openapi.info.version,
    });
  });
});
