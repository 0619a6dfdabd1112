import { buildOpenApiDocument, OPENAPI_VERSION } from '#shared/openapi';
import { API_BASE_PATH, ROUTES } from '#shared/routes';

type Operation = {
  operationId: string;
  security: unknown[];
  'x-roles': string[];
  description: string;
  parameters?: { name: string; in: string; required: boolean; schema: Record<string, unknown> }[];
  requestBody?: { required: boolean; content: Record<string, { schema: { $ref: string } }> };
  responses: Record<string, unknown>;
};

const doc = buildOpenApiDocument() as {
  openapi: string;
  paths: Record<string, Record<string, Operation>>;
  components: {
    schemas: Record<string, Record<string, unknown>>;
    responses: Record<string, Record<string, unknown>>;
    securitySchemes: Record<string, unknown>;
  };
};
const operationOf = (route: (typeof ROUTES)[number]) =>
  doc.paths[`/${API_BASE_PATH}/${route.path}`]?.[route.method.toLowerCase()];

describe('buildOpenApiDocument', () => {
  it('is OpenAPI 3.1 with a bearer JWT scheme', () => {
    expect(doc.openapi).toBe(OPENAPI_VERSION);
    expect(OPENAPI_VERSION).toMatch(/^3\.1\./);
    expect(doc.components.securitySchemes).toEqual({
      bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' },
    });
  });

  it.each(ROUTES.map((r) => [`${r.method} ${r.path}`, r] as const))('documents %s', (_name, route) => {
    // Act
    const operation = operationOf(route);

    // Assess
    expect(operation?.operationId).toBe(route.operationId);
    expect(operation?.['x-roles']).toEqual([...route.roles]);
    expect(operation?.security).toEqual(route.roles.length > 0 ? [{ bearerAuth: [] }] : []);
    for (const role of route.roles) expect(operation?.description).toContain(role);
    expect(operation?.responses).toHaveProperty(String(route.success.status));
    expect(operation?.responses).toHaveProperty('500');
    if (route.roles.length > 0) expect(operation?.responses).toHaveProperty('403');
    if (route.request)
      expect(operation?.requestBody?.content['application/json']?.schema.$ref).toMatch(
        /^#\/components\/schemas\//,
      );
  });

  it('has exactly one operation per route', () => {
    const operations = Object.values(doc.paths).flatMap((methods) => Object.values(methods));
    expect(operations.map((o) => o.operationId).sort()).toEqual(ROUTES.map((r) => r.operationId).sort());
  });

  it('requires the Idempotency-Key header exactly on idempotent routes, and path ids where the path has them', () => {
    for (const route of ROUTES) {
      const params = operationOf(route)?.parameters ?? [];
      const header = params.find((p) => p.in === 'header' && p.name === 'Idempotency-Key');
      expect({ route: route.operationId, header: header?.required ?? false }).toEqual({
        route: route.operationId,
        header: route.idempotent === true,
      });
      expect(params.some((p) => p.in === 'path' && p.name === 'id')).toBe(route.path.includes('{id}'));
    }
  });

  it('resolves every $ref inside the document', () => {
    // Prepare
    const refs: string[] = [];
    const walk = (node: unknown): void => {
      if (Array.isArray(node)) node.forEach(walk);
      else if (node && typeof node === 'object')
        for (const [key, value] of Object.entries(node)) {
          if (key === '$ref' && typeof value === 'string') refs.push(value);
          else walk(value);
        }
    };

    // Act
    walk(doc);

    // Assess
    expect(refs.length).toBeGreaterThan(0);
    for (const ref of refs) {
      const target = ref
        .replace(/^#\//, '')
        .split('/')
        .reduce<unknown>((node, part) => (node as Record<string, unknown> | undefined)?.[part], doc);
      expect({ ref, found: target !== undefined }).toEqual({ ref, found: true });
    }
  });

  it('documents query parameters, optional bodies and the extra error statuses a route declares', () => {
    // Prepare
    const byId = (id: string) => {
      const route = ROUTES.find((r) => r.operationId === id);
      if (!route) throw new Error(`no route ${id}`);
      return operationOf(route);
    };

    // Act
    const listDeadLetters = byId('listDeadLetters');
    const cancel = byId('cancelWorkflow');
    const taskSuccess = byId('sendTaskSuccess');

    // Assess
    expect(listDeadLetters?.parameters).toEqual([
      expect.objectContaining({ name: 'queue', in: 'query', required: false }),
      expect.objectContaining({ name: 'limit', in: 'query', required: false }),
    ]);
    expect(listDeadLetters?.parameters?.[1]?.schema).toMatchObject({ minimum: 1, maximum: 10, default: 10 });
    expect(Object.keys(listDeadLetters?.responses ?? {})).toEqual([
      '200',
      '400',
      '401',
      '403',
      '404',
      '429',
      '500',
    ]);
    expect(cancel?.requestBody?.required).toBe(false);
    expect(byId('rollbackWorkflow')?.requestBody?.required).toBe(true);
    expect(taskSuccess?.responses).toHaveProperty('410');
    expect(taskSuccess?.responses).toHaveProperty('404');
    expect(doc.components).toHaveProperty('responses.Gone');
  });

  it('describes request bodies as sent (defaults optional) and answers as returned', () => {
    const registration = doc.components.schemas.AgentRegistration as { required: string[] };
    const record = doc.components.schemas.AgentRecord as { required: string[] };
    expect(registration.required).not.toContain('max_concurrency');
    expect(record.required).toContain('max_concurrency');
    expect(doc.components.schemas).toHaveProperty('ErrorBody');
  });

  it('is valid JSON, without JSON Schema meta keywords in components, and deterministic', () => {
    // Act
    const first = JSON.stringify(buildOpenApiDocument());
    const second = JSON.stringify(buildOpenApiDocument());

    // Assess
    expect(first).toBe(second);
    expect(JSON.parse(first)).toEqual(doc);
    for (const schema of Object.values(doc.components.schemas)) {
      expect(schema).not.toHaveProperty('$schema');
      expect(schema).not.toHaveProperty('$id');
    }
  });

  it('documents 429 BACKLOG_FULL with Retry-After exactly on the routes that add to the backlog', () => {
    // Act
    const backlogFull = doc.components.responses.BacklogFull;
    const routes429 = ROUTES.map((route) => ({
      route: route.operationId,
      response: operationOf(route)?.responses['429'],
    }));

    // Assess
    expect(ROUTES.filter((r) => r.backpressure).map((r) => r.operationId)).toEqual([
      'submitIssues',
      'startWorkflow',
    ]);
    for (const { route, response } of routes429)
      expect({ route, response }).toEqual({
        route,
        response: {
          $ref: ['submitIssues', 'startWorkflow'].includes(route)
            ? '#/components/responses/BacklogFull'
            : '#/components/responses/Throttled',
        },
      });
    expect(backlogFull?.description).toContain('BACKLOG_FULL');
    expect(backlogFull?.headers).toEqual({
      'Retry-After': expect.objectContaining({ required: true, schema: { type: 'integer', minimum: 1 } }),
    });
    expect(backlogFull?.content).toMatchObject({
      'application/json': {
        schema: { $ref: '#/components/schemas/ErrorBody' },
        example: { error: { code: 'BACKLOG_FULL' } },
      },
    });
  });
});
