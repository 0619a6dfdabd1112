/**
 * The user journeys, over HTTP only, against the target `target.ts` resolves: a
 * deployed stack (E2E_OUTPUTS) or the offline runtime booted once for this file.
 * Safe on a shared account: every id is unique to this run, and the suite deletes
 * only the agents it registered itself.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AgentList, Category, IntakeAccepted } from '#core/wire';
import { API_BASE_PATH, ROLES, ROUTES, type Role, type RouteSpec } from '#shared/routes';
import { BOOT_TIMEOUT_MS, resolveTarget, type Target } from './target';

const RUN = `e2e-${randomUUID()}`;
const SAMPLES = join(__dirname, '..', '..', 'events', 'samples');

let target: Target;
/** Agents this run registered; afterAll deregisters exactly these. */
const created = new Set<string>();
const tokens = new Map<Role, string>();

function sample(name: string): string {
  return readFileSync(join(SAMPLES, name), 'utf8');
}

function token(role: Role): string {
  const value = tokens.get(role);
  if (value === undefined) throw new Error(`no token minted for ${role}`);
  return value;
}

function headers(role: Role | undefined, extra: Record<string, string> = {}): Record<string, string> {
  return {
    'content-type': 'application/json',
    ...(role ? { authorization: `Bearer ${token(role)}` } : {}),
    ...extra,
  };
}

/**
 * API Gateway validates `application/json` bodies against the route's model before the
 * handler runs; a body of another content type has no model and reaches the handler's
 * own checks (role, JSON parsing) as is.
 */
const UNMODELLED = { 'content-type': 'text/plain' };

function submit(
  body: string,
  key: string = randomUUID(),
  extra: Record<string, string> = {},
): Promise<Response> {
  return fetch(target.url('issues'), {
    method: 'POST',
    headers: headers('operator', { 'idempotency-key': key, ...extra }),
    body,
  });
}

/**
 * Registers an agent whose type is a reference agent's id, so the workflow sends its steps
 * to that reference agent's queue (the catalog matches agent_id, then agent_type).
 */
async function register(agentId: string, role: Role, categories: readonly string[]): Promise<Response> {
  const response = await fetch(target.url('agents'), {
    method: 'POST',
    headers: headers(role),
    body: JSON.stringify({
      agent_id: agentId,
      agent_type: `reference-${categories[0]}`,
      categories,
      max_concurrency: 2,
    }),
  });
  if (response.status === 201) created.add(agentId);
  return response;
}

async function deregister(agentId: string): Promise<Response> {
  const response = await fetch(target.url(`agents/${agentId}`), {
    method: 'DELETE',
    headers: headers('admin'),
  });
  if (response.status === 204 || response.status === 404) created.delete(agentId);
  return response;
}

async function listAgents(): Promise<AgentList> {
  const response = await fetch(target.url('agents'), { headers: headers('viewer') });
  expect(response.status).toBe(200);
  return AgentList.parse(await response.json());
}

/** The agent token's own id: agent-self-only routes name it, so only the role decides. */
const AGENT_SUB = `${RUN}-agent`;

function pathFor(route: RouteSpec): string {
  return route.path.replace('{id}', AGENT_SUB);
}

describe('user journeys', () => {
  beforeAll(async () => {
    target = await resolveTarget();
    for (const role of ROLES) {
      tokens.set(role, await target.tokenFor(role, role === 'agent' ? AGENT_SUB : `${RUN}-${role}`));
    }
    // A runtime booted here starts empty: give triage one agent per category to route to.
    if (target.booted) {
      for (const category of Category.options) {
        const response = await register(`${RUN}-${category}`, 'admin', [category]);
        expect(response.status).toBe(201);
      }
    }
  }, BOOT_TIMEOUT_MS);

  afterAll(async () => {
    if (target === undefined) return;
    try {
      for (const agentId of [...created]) await deregister(agentId);
    } finally {
      await target.stop();
    }
  }, 60_000);

  describe('submit', () => {
    it('accepts a sample batch with a fresh Idempotency-Key: 202 with a workflow id and assignment', async () => {
      // Prepare
      const body = sample('issue-triage-request.json');

      // Act
      const response = await submit(body);

      // Assess
      expect(response.status).toBe(202);
      const accepted = IntakeAccepted.parse(await response.json());
      expect(accepted.workflow_id).toMatch(/\S/);
      expect(accepted.assignment.execution_order.length).toBeGreaterThan(0);
    });

    it('replays the same Idempotency-Key with the same workflow id', async () => {
      // Prepare
      const key = randomUUID();
      const body = sample('issue-triage-request.json');
      const first = IntakeAccepted.parse(await (await submit(body, key)).json());

      // Act
      const again = await submit(body, key);

      // Assess
      expect(again.status).toBe(202);
      expect(IntakeAccepted.parse(await again.json()).workflow_id).toBe(first.workflow_id);
    });
  });

  describe('bad input', () => {
    const issue = (issueId: string, dependsOn: string[]) => ({
      issue_id: issueId,
      title: `e2e ${issueId}`,
      severity: 'low',
      depends_on: dependsOn,
    });

    it('rejects malformed JSON with 400 MALFORMED_JSON', async () => {
      const response = await submit('{"detected_issues": [', randomUUID(), UNMODELLED);
      expect(response.status).toBe(400);
      expect(await response.json()).toMatchObject({ error: { code: 'MALFORMED_JSON' } });
    });

    it('rejects a schema violation with 400 VALIDATION_FAILED and its details', async () => {
      // Act
      const response = await submit(JSON.stringify({ detected_issues: [{ issue_id: `${RUN}-x` }] }));

      // Assess
      expect(response.status).toBe(400);
      const body = (await response.json()) as { error: { code: string; details: unknown[] } };
      expect(body.error.code).toBe('VALIDATION_FAILED');
      expect(body.error.details.length).toBeGreaterThan(0);
    });

    it('rejects a dependency cycle with 422 DEPENDENCY_CYCLE', async () => {
      // Prepare
      const a = `${RUN}-a`;
      const b = `${RUN}-b`;

      // Act
      const response = await submit(JSON.stringify({ detected_issues: [issue(a, [b]), issue(b, [a])] }));

      // Assess
      expect(response.status).toBe(422);
      expect(await response.json()).toMatchObject({ error: { code: 'DEPENDENCY_CYCLE' } });
    });

    it('rejects a body over 1 MiB with 413', async () => {
      // Prepare: schema-valid issues with 4 KiB descriptions, 1.1 MiB in all.
      const description = 'x'.repeat(4096);
      const detected_issues = Array.from({ length: 280 }, (_, index) => ({
        ...issue(`${RUN}-big-${index}`, []),
        description,
      }));
      const body = JSON.stringify({ detected_issues });

      // Act
      const response = await submit(body);

      // Assess
      expect(Buffer.byteLength(body)).toBeGreaterThan(1024 * 1024);
      expect(response.status).toBe(413);
    });
  });

  describe('authorization', () => {
    const guarded = ROUTES.filter((route) => route.roles.length > 0);
    const cases = guarded.flatMap((route) =>
      ROLES.map((role) => ({ route, role, allowed: route.roles.includes(role) })),
    );

    it.each(cases)(
      'answers $route.method $route.path for $role: allowed=$allowed',
      async ({ route, role, allowed }) => {
        // Act: a body that is not JSON, so an allowed call stops at parsing and writes nothing.
        const response = await fetch(target.url(pathFor(route)), {
          method: route.method,
          headers: headers(role, { 'idempotency-key': randomUUID(), ...UNMODELLED }),
          body: route.method === 'POST' ? 'not json' : undefined,
        });

        // Assess: only the auth outcome.
        if (allowed) expect([401, 403]).not.toContain(response.status);
        else expect(response.status).toBe(403);
      },
    );

    it.each(guarded)('rejects $method $path without a token with 401', async (route) => {
      const response = await fetch(target.url(pathFor(route)), {
        method: route.method,
        headers: headers(undefined),
      });
      expect(response.status).toBe(401);
    });

    it.each(ROUTES.filter((route) => route.roles.length === 0))(
      'serves public $method $path without a token: 200',
      async (route) => {
        const response = await fetch(target.url(route.path), { method: route.method });
        expect(response.status).toBe(200);
      },
    );
  });

  describe('agents', () => {
    it('registers with an agent token for its own id, heartbeats, and is deregistered by an admin', async () => {
      // Prepare
      const agentId = AGENT_SUB;

      // Act
      const registered = await register(agentId, 'agent', ['network']);
      const heartbeat = await fetch(target.url(`agents/${agentId}/heartbeat`), {
        method: 'POST',
        headers: headers('agent'),
        body: JSON.stringify({ status: 'HEALTHY', current_load: 1 }),
      });
      const removed = await deregister(agentId);

      // Assess
      expect(registered.status).toBe(201);
      expect(heartbeat.status).toBe(200);
      expect(await heartbeat.json()).toMatchObject({ agent_id: agentId, current_load: 1 });
      expect(removed.status).toBe(204);
    });

    it("rejects an agent token registering another agent's id with 403", async () => {
      const response = await register(`${RUN}-someone-else`, 'agent', ['network']);
      expect(response.status).toBe(403);
    });
  });

  describe('dry-run triage', () => {
    it('answers 200 with an assignment and leaves the agents unchanged', async () => {
      // Prepare
      const before = await listAgents();

      // Act
      const response = await fetch(target.url('triage'), {
        method: 'POST',
        headers: headers('operator'),
        body: sample('issue-triage-request.json'),
      });

      // Assess
      expect(response.status).toBe(200);
      expect(await response.json()).toMatchObject({ execution_order: expect.any(Array) });
      expect(await listAgents()).toEqual(before);
    });
  });

  describe('openapi', () => {
    it('lists every ROUTES path and method', async () => {
      // Act
      const response = await fetch(target.url('openapi.json'));

      // Assess
      expect(response.status).toBe(200);
      const doc = (await response.json()) as { paths: Record<string, Record<string, unknown>> };
      for (const route of ROUTES) {
        expect(doc.paths[`/${API_BASE_PATH}/${route.path}`]).toHaveProperty(route.method.toLowerCase());
      }
    });
  });
});
