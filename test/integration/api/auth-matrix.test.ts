/**
 * Auth: every route in ROUTES against every role, no token and bad tokens, through the
 * real chain (authorizer decision -> request context -> handler) over DynamoDB Local.
 * Valid tokens get a minimal valid request, so an allowed role must get the route's
 * success status, and a role outside `route.roles` exactly 403 FORBIDDEN.
 */
import { randomUUID } from 'node:crypto';
import { AgentRecord } from '#core/wire';
import { ROLES, ROUTES, type Role, type RouteSpec } from '#shared/routes';
import {
  type Api,
  type ApiRequest,
  errorCode,
  expiredToken,
  loadApi,
  registerAgents,
  tokenFor,
  tokenWithWrongKey,
  uniqueId,
} from './harness';
import { planOf, startPlan, takeTask, waitForStatus } from './workflow-helpers';
import { SHARED_AGENT_TYPE } from './workflow-runtime';

type BadToken = 'no token' | 'wrong key' | 'expired' | 'malformed';
const BAD_TOKENS: readonly BadToken[] = ['no token', 'wrong key', 'expired', 'malformed'];

let api: Api;
/** Registered once; the target of GET agents/{id} and of the plans resources/optimize and workflows get. */
const fixtureAgentId = uniqueId('auth-fixture');
/** Registered once; its tasks wait on the shared queue, so its workflows stay running. */
const waitingAgentId = uniqueId('auth-waiting');
/** The target of GET workflows/{id}. */
let fixtureWorkflowId: string;

beforeAll(async () => {
  api = await loadApi();
  await registerAgents(api, [
    { agent_id: fixtureAgentId, categories: ['coordination'] },
    { agent_id: waitingAgentId, agent_type: SHARED_AGENT_TYPE, categories: ['coordination'] },
  ]);
  fixtureWorkflowId = (await startPlan(api, planOf([{ step_id: 'fixture', agent_id: waitingAgentId }])))
    .workflow_id;
});

afterAll(async () => {
  await api.close();
});

function isRole(caller: Role | BadToken): caller is Role {
  return (ROLES as readonly string[]).includes(caller);
}

async function badToken(kind: BadToken, role: Role): Promise<string | undefined> {
  switch (kind) {
    case 'no token':
      return undefined;
    case 'wrong key':
      return tokenWithWrongKey(role);
    case 'expired':
      return expiredToken(role);
    case 'malformed':
      return 'not.a-jwt';
  }
}

/** A workflow whose step is dispatched to the agent `agentId` (registered on the shared queue); its task token. */
async function openTaskFor(agentId: string): Promise<string> {
  await registerAgents(api, [{ agent_id: agentId, agent_type: SHARED_AGENT_TYPE, categories: ['network'] }]);
  const { workflow_id } = await startPlan(api, planOf([{ step_id: 'task', agent_id: agentId }]));
  return (await takeTask(api, api.runtime.sharedAgentQueue.url, { workflow_id })).task_token;
}

/**
 * The smallest request the route accepts, for a caller whose token says `sub`. Agents
 * the request names are registered first, with the caller's own id where the route is
 * `agentSelfOnly` or answers that agent's task, and workflows are in a state the route
 * accepts, so an allowed caller cannot get a 404 or 409 instead of a success.
 */
async function minimalRequest(route: RouteSpec, sub: string): Promise<Omit<ApiRequest, 'token'>> {
  const { operationId } = route;
  const issues = {
    detected_issues: [
      {
        issue_id: uniqueId('auth-issue'),
        title: 'Disk full on db host',
        severity: 'low',
        category: 'capacity',
      },
    ],
  };
  switch (operationId) {
    case 'submitIssues':
      return { operationId, body: issues, headers: { 'Idempotency-Key': randomUUID() } };
    case 'triageIssues':
      return { operationId, body: issues };
    case 'registerAgent':
      return { operationId, body: { agent_id: sub, categories: ['network'] } };
    case 'getAgent':
      return { operationId, pathParameters: { id: fixtureAgentId } };
    case 'deregisterAgent':
    case 'heartbeat':
      await registerAgents(api, [{ agent_id: sub, categories: ['network'] }]);
      return { operationId, pathParameters: { id: sub }, body: operationId === 'heartbeat' ? {} : undefined };
    case 'optimizeResources':
      return {
        operationId,
        body: {
          recovery_plan: {
            steps: [{ step_id: 's1', issue_id: 'i1', agent_id: fixtureAgentId, estimated_duration: 'PT1M' }],
          },
        },
      };
    case 'startWorkflow':
      return {
        operationId,
        body: planOf([{ step_id: 's1', agent_id: fixtureAgentId }]),
        headers: { 'Idempotency-Key': randomUUID() },
      };
    case 'getWorkflow':
    case 'getWorkflowProgress':
      return { operationId, pathParameters: { id: fixtureWorkflowId } };
    case 'rollbackWorkflow': {
      // Every step done by an earlier run: the workflow succeeds at once and can be rolled back.
      const { workflow_id } = await startPlan(
        api,
        planOf([{ step_id: 'done', agent_id: fixtureAgentId }], {
          progress_state: { succeeded_steps: ['done'] },
        }),
      );
      await waitForStatus(api, workflow_id, ['SUCCEEDED']);
      return { operationId, pathParameters: { id: workflow_id }, body: { reason: 'auth matrix' } };
    }
    case 'cancelWorkflow': {
      const { workflow_id } = await startPlan(api, planOf([{ step_id: 'wait', agent_id: waitingAgentId }]));
      return { operationId, pathParameters: { id: workflow_id }, body: {} };
    }
    case 'sendTaskSuccess':
      return { operationId, body: { task_token: await openTaskFor(sub) } };
    case 'sendTaskFailure':
      return {
        operationId,
        body: { task_token: await openTaskFor(sub), error: { code: 'Agent.Permanent' } },
      };
    case 'sendTaskHeartbeat':
      return { operationId, body: { task_token: await openTaskFor(sub) } };
    case 'redriveDeadLetters':
      return { operationId, body: {} };
    default:
      return { operationId };
  }
}

const label = (route: RouteSpec) => `${route.method} ${route.path}`;
const protectedRoutes = ROUTES.filter((route) => route.roles.length > 0);
const publicRoutes = ROUTES.filter((route) => route.roles.length === 0);

const roleCases = protectedRoutes.flatMap((route) =>
  ROLES.map((role) => ({ route, role, allowed: route.roles.includes(role), name: label(route) })),
);

describe('the matrix', () => {
  it('covers every route in ROUTES, split into protected and public ones', () => {
    // Assess
    expect(protectedRoutes.length + publicRoutes.length).toBe(ROUTES.length);
    expect(publicRoutes.map(label).sort()).toEqual(['GET dashboard', 'GET health', 'GET openapi.json']);
    expect(roleCases).toHaveLength(protectedRoutes.length * ROLES.length);
  });

  it('pins the roles of every route (DESIGN §5), so a change to ROUTES is deliberate', () => {
    // Assess
    expect(
      Object.fromEntries(ROUTES.map((route) => [label(route), route.roles.join(' ') || 'public'])),
    ).toEqual({
      'POST issues': 'operator admin',
      'POST triage': 'operator admin',
      'GET agents': 'viewer operator agent admin',
      'POST agents': 'agent admin',
      'GET agents/{id}': 'viewer operator agent admin',
      'DELETE agents/{id}': 'admin',
      'POST agents/{id}/heartbeat': 'agent admin',
      'POST resources/optimize': 'operator admin',
      'POST workflows': 'operator admin',
      'GET workflows': 'viewer operator agent admin',
      'GET workflows/{id}': 'viewer operator agent admin',
      'GET workflows/{id}/progress': 'viewer operator agent admin',
      'GET progress': 'viewer operator agent admin',
      'POST workflows/{id}/rollback': 'operator admin',
      'POST workflows/{id}/cancel': 'operator admin',
      'POST tasks/success': 'agent admin',
      'POST tasks/failure': 'agent admin',
      'POST tasks/heartbeat': 'agent admin',
      'GET dlq': 'operator admin',
      'POST dlq/redrive': 'admin',
      'GET health': 'public',
      'GET openapi.json': 'public',
      'GET dashboard': 'public',
    });
    expect(ROUTES.filter((route) => route.agentSelfOnly).map(label)).toEqual([
      'POST agents',
      'POST agents/{id}/heartbeat',
    ]);
  });
});

describe.each(roleCases.filter((c) => c.allowed))('$name as an allowed role', ({ route, role }) => {
  it(`answers ${role} with ${route.success.status} after the authorizer allows the whole stage`, async () => {
    // Prepare
    const { token, sub } = await tokenFor(role);
    const request = { ...(await minimalRequest(route, sub)), token };

    // Act
    const decision = await api.authorize(request);
    const answer = await api.call(request);

    // Assess
    expect(decision.context).toEqual({ sub, role });
    expect(decision.policyDocument.Statement).toEqual([
      expect.objectContaining({ Effect: 'Allow', Resource: expect.stringMatching(/\/it\/\*\/\*$/) }),
    ]);
    expect({ status: answer.status, body: answer.body }).toEqual({
      status: route.success.status,
      body: route.success.status === 204 ? undefined : expect.anything(),
    });
  });
});

describe.each(roleCases.filter((c) => !c.allowed))(
  '$name as a role outside route.roles',
  ({ route, role }) => {
    it(`rejects ${role} with 403 FORBIDDEN`, async () => {
      // Prepare
      const { token, sub } = await tokenFor(role);
      const request = { ...(await minimalRequest(route, sub)), token };

      // Act
      const answer = await api.call(request);

      // Assess
      expect(answer.status).toBe(403);
      expect(errorCode(answer)).toBe('FORBIDDEN');
    });
  },
);

describe.each(protectedRoutes.map((route) => ({ route, name: label(route) })))(
  '$name without a valid token',
  ({ route }) => {
    it.each(BAD_TOKENS)('rejects a request with %s in the authorizer (401 Unauthorized)', async (kind) => {
      // Prepare
      const token = await badToken(kind, route.roles[0] ?? 'admin');
      const request: ApiRequest = {
        operationId: route.operationId,
        token,
        pathParameters: route.path.includes('{id}') ? { id: uniqueId('nobody') } : undefined,
        body: route.request ? {} : undefined,
      };

      // Act
      const outcome = api.call(request);

      // Assess
      await expect(outcome).rejects.toThrow(/^Unauthorized$/);
    });

    it('fails closed with 401 when the request reaches the function without an authorizer context', async () => {
      // Prepare
      const { token } = await tokenFor('admin');

      // Act
      const answer = await api.call({
        operationId: route.operationId,
        token,
        bypassAuthorizer: true,
        pathParameters: route.path.includes('{id}') ? { id: uniqueId('nobody') } : undefined,
      });

      // Assess
      expect(answer.status).toBe(401);
      expect(errorCode(answer)).toBe('UNAUTHORIZED');
    });
  },
);

describe.each(publicRoutes.map((route) => ({ route, name: label(route) })))('public $name', ({ route }) => {
  it.each([...ROLES, ...BAD_TOKENS])(
    'answers 200 to a caller with %s, without the authorizer',
    async (caller) => {
      // Prepare
      const token = isRole(caller) ? (await tokenFor(caller)).token : await badToken(caller, 'viewer');

      // Act
      const answer = await api.call({ operationId: route.operationId, token });

      // Assess
      expect(answer.status).toBe(200);
      expect(answer.body).toEqual(
        route.success.contentType === 'text/html' ? expect.stringContaining('</html>') : expect.any(Object),
      );
    },
  );
});

describe('agentSelfOnly routes', () => {
  it('lets an agent token register and heartbeat its own id', async () => {
    // Prepare
    const { token, sub } = await tokenFor('agent');

    // Act
    const registered = await api.call({
      operationId: 'registerAgent',
      token,
      body: { agent_id: sub, categories: ['data'] },
    });
    const heartbeat = await api.call({
      operationId: 'heartbeat',
      token,
      pathParameters: { id: sub },
      body: { current_load: 1 },
    });

    // Assess
    expect(registered.status).toBe(201);
    expect(heartbeat.status).toBe(200);
    expect(AgentRecord.parse(heartbeat.body)).toMatchObject({ agent_id: sub, current_load: 1, version: 2 });
  });

  it("rejects an agent token that registers or heartbeats another agent's id, and leaves that agent as it was", async () => {
    // Prepare
    const { token } = await tokenFor('agent');
    const other = uniqueId('other-agent');
    await registerAgents(api, [{ agent_id: other, categories: ['data'] }]);
    const { token: viewer } = await tokenFor('viewer');
    const before = await api.call({ operationId: 'getAgent', token: viewer, pathParameters: { id: other } });

    // Act
    const register = await api.call({
      operationId: 'registerAgent',
      token,
      body: { agent_id: other, categories: ['security'] },
    });
    const heartbeat = await api.call({
      operationId: 'heartbeat',
      token,
      pathParameters: { id: other },
      body: { status: 'OFFLINE' },
    });

    // Assess
    expect([register.status, heartbeat.status]).toEqual([403, 403]);
    expect(errorCode(register)).toBe('FORBIDDEN');
    expect(errorCode(heartbeat)).toBe('FORBIDDEN');
    const after = await api.call({ operationId: 'getAgent', token: viewer, pathParameters: { id: other } });
    expect(after.body).toEqual(before.body);
    expect(AgentRecord.parse(after.body)).toMatchObject({
      version: 1,
      status: 'HEALTHY',
      categories: ['data'],
    });
  });
});
