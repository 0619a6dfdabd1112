/**
 * The REST API (contract C3) in one table. The CDK stack builds API Gateway
 * resources and methods from it, the role middleware enforces `roles` from it, the
 * OpenAPI document is generated from it, and the auth tests walk it. Adding a route
 * here is the only way to add one.
 */
import type * as z from 'zod';
import {
  AgentAssignmentResult,
  AgentList,
  AgentRecord,
  AgentRegistration,
  HealthReport,
  HeartbeatRequest,
  IntakeAccepted,
  IssueTriageRequest,
  OptimizeRequest,
  ResourceAllocation,
} from '#core/wire';

export const ROLES = ['viewer', 'operator', 'agent', 'admin'] as const;
export type Role = (typeof ROLES)[number];

/** The Lambda functions behind the REST API; each is `functions/<name>/handler.ts`. */
export type ApiFunction = 'intake' | 'triage' | 'agents' | 'resources' | 'openapi' | 'health';

export interface RouteSpec {
  readonly method: 'GET' | 'POST' | 'DELETE';
  /** Under `api/orchestrator/`, API Gateway style: `agents/{id}`. */
  readonly path: string;
  readonly function: ApiFunction;
  readonly operationId: string;
  readonly summary: string;
  /** Empty: public (no Authorization needed). */
  readonly roles: readonly Role[];
  /** The `agent` role may act only on its own agent id (`{id}` or the body's agent_id). */
  readonly agentSelfOnly?: boolean;
  readonly request?: z.ZodType;
  /** Status code of the success answer, and its body schema (none for 204). */
  readonly success: { readonly status: 200 | 201 | 202 | 204; readonly body?: z.ZodType };
  /** Requires the `Idempotency-Key` header. */
  readonly idempotent?: boolean;
}

const READERS: readonly Role[] = ['viewer', 'operator', 'agent', 'admin'];
const OPERATORS: readonly Role[] = ['operator', 'admin'];

export const API_BASE_PATH = 'api/orchestrator';

export const ROUTES: readonly RouteSpec[] = [
  {
    method: 'POST',
    path: 'issues',
    function: 'intake',
    operationId: 'submitIssues',
    summary: 'Triage, route and store a batch of detected issues as a new recovery workflow.',
    roles: OPERATORS,
    request: IssueTriageRequest,
    success: { status: 202, body: IntakeAccepted },
    idempotent: true,
  },
  {
    method: 'POST',
    path: 'triage',
    function: 'triage',
    operationId: 'triageIssues',
    summary: 'Dry run: the assignment POST issues would make, storing nothing.',
    roles: OPERATORS,
    request: IssueTriageRequest,
    success: { status: 200, body: AgentAssignmentResult },
  },
  {
    method: 'GET',
    path: 'agents',
    function: 'agents',
    operationId: 'listAgents',
    summary: 'List registered agents with their health, circuit state and load.',
    roles: READERS,
    success: { status: 200, body: AgentList },
  },
  {
    method: 'POST',
    path: 'agents',
    function: 'agents',
    operationId: 'registerAgent',
    summary: 'Register an agent, or update the registration of an existing one.',
    roles: ['agent', 'admin'],
    agentSelfOnly: true,
    request: AgentRegistration,
    success: { status: 201, body: AgentRecord },
  },
  {
    method: 'GET',
    path: 'agents/{id}',
    function: 'agents',
    operationId: 'getAgent',
    summary: 'Read one agent.',
    roles: READERS,
    success: { status: 200, body: AgentRecord },
  },
  {
    method: 'DELETE',
    path: 'agents/{id}',
    function: 'agents',
    operationId: 'deregisterAgent',
    summary: 'Deregister an agent.',
    roles: ['admin'],
    success: { status: 204 },
  },
  {
    method: 'POST',
    path: 'agents/{id}/heartbeat',
    function: 'agents',
    operationId: 'heartbeat',
    summary: "Report an agent's liveness, load and health.",
    roles: ['agent', 'admin'],
    agentSelfOnly: true,
    request: HeartbeatRequest,
    success: { status: 200, body: AgentRecord },
  },
  {
    method: 'POST',
    path: 'resources/optimize',
    function: 'resources',
    operationId: 'optimizeResources',
    summary: 'Plan a recovery plan, or the pending backlog, under resource constraints.',
    roles: OPERATORS,
    request: OptimizeRequest,
    success: { status: 200, body: ResourceAllocation },
  },
  {
    method: 'GET',
    path: 'health',
    function: 'health',
    operationId: 'health',
    summary: 'Liveness of the API.',
    roles: [],
    success: { status: 200, body: HealthReport },
  },
  {
    method: 'GET',
    path: 'openapi.json',
    function: 'openapi',
    operationId: 'openapi',
    summary: 'This API as an OpenAPI 3.1 document.',
    roles: [],
    success: { status: 200 },
  },
];

/** Finds the route API Gateway matched, by its resource path (`/api/orchestrator/agents/{id}`). */
export function findRoute(method: string, resource: string): RouteSpec | undefined {
  const path = resource.replace(/^\/+/, '').replace(`${API_BASE_PATH}/`, '');
  return ROUTES.find((r) => r.method === method && r.path === path);
}
