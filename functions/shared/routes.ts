/**
 * The REST API (contract C3) in one table. The CDK stack builds API Gateway
 * resources and methods from it, the role middleware enforces `roles` from it, the
 * OpenAPI document is generated from it, and the auth tests walk it. Adding a route
 * here is the only way to add one.
 *
 * Each route is also exported by name, so a function can import its own routes without
 * bundling the whole table and every schema it names (intake and workflows do).
 */
import * as z from 'zod';
import {
  AgentAssignmentResult,
  AgentList,
  AgentRecord,
  AgentRegistration,
  CancelRequest,
  DeadLetterList,
  HealthReport,
  HeartbeatRequest,
  IntakeAccepted,
  IssueTriageRequest,
  OptimizeRequest,
  ProgressReport,
  RecoveryWorkflowRequest,
  RedriveRequest,
  RedriveResult,
  ResourceAllocation,
  RollbackRequest,
  TaskCallbackAccepted,
  TaskFailureRequest,
  TaskHeartbeatRequest,
  TaskSuccessRequest,
  WorkflowAccepted,
  WorkflowDetail,
  WorkflowList,
  WorkflowStatus,
} from '#core/wire';

export const ROLES = ['viewer', 'operator', 'agent', 'admin'] as const;
export type Role = (typeof ROLES)[number];

/** The Lambda functions behind the REST API; each is `functions/<name>/handler.ts`. */
export type ApiFunction =
  | 'intake'
  | 'triage'
  | 'agents'
  | 'resources'
  | 'workflows'
  | 'tasks'
  | 'dlq'
  | 'openapi'
  | 'health'
  | 'dashboard';

/** Error statuses a route may answer beyond those its shape implies (see openapi.ts). */
export type ExtraErrorStatus = 404 | 409 | 410;

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
  /** The body may be left out (it then counts as `{}`); API Gateway validates an empty body as `{}` too. */
  readonly requestOptional?: boolean;
  /**
   * Query string parameters, validated like the body (400 VALIDATION_FAILED, `details[].path`
   * `query.<name>`); their values arrive as strings, so numbers use `z.coerce`. Without one,
   * the query string is ignored.
   */
  readonly query?: z.ZodObject;
  /** Error statuses beyond those the route's shape implies, e.g. 410 for a late task callback. */
  readonly errors?: readonly ExtraErrorStatus[];
  /**
   * Status code of the success answer, and its body schema (none for 204). `contentType` is
   * `application/json` unless it says otherwise (the dashboard's page is `text/html`).
   */
  readonly success: {
    readonly status: 200 | 201 | 202 | 204;
    readonly body?: z.ZodType;
    readonly contentType?: 'application/json' | 'text/html';
  };
  /** Requires the `Idempotency-Key` header. */
  readonly idempotent?: boolean;
  /**
   * Adds to the backlog, so it is refused with 429 BACKLOG_FULL and `Retry-After` while the
   * backlog is full (see backpressure.ts); the OpenAPI document says so.
   */
  readonly backpressure?: boolean;
}

const READERS: readonly Role[] = ['viewer', 'operator', 'agent', 'admin'];
const OPERATORS: readonly Role[] = ['operator', 'admin'];
/** Task callbacks: agents without AWS credentials, and admins standing in for them. */
const CALLBACKS: readonly Role[] = ['agent', 'admin'];

/** GET dlq: which queue, and how many messages to peek at per queue. */
export const DeadLetterQuery = z
  .object({
    /** An agent queue's category, or `compensation`; omitted: every queue. */
    queue: z.string().min(1).max(80).optional(),
    limit: z.coerce.number().int().min(1).max(10).default(10),
  })
  .strict();
export type DeadLetterQuery = z.infer<typeof DeadLetterQuery>;

/** GET workflows: how many (newest first), and optionally only those in one status. */
export const WorkflowListQuery = z
  .object({
    limit: z.coerce.number().int().min(1).max(100).default(25),
    status: WorkflowStatus.optional(),
  })
  .strict();
export type WorkflowListQuery = z.infer<typeof WorkflowListQuery>;

export const API_BASE_PATH = 'api/orchestrator';

export const submitIssuesRoute: RouteSpec = {
  method: 'POST',
  path: 'issues',
  function: 'intake',
  operationId: 'submitIssues',
  summary: 'Triage, route and store a batch of detected issues as a new recovery workflow.',
  roles: OPERATORS,
  request: IssueTriageRequest,
  success: { status: 202, body: IntakeAccepted },
  idempotent: true,
  backpressure: true,
};

export const triageIssuesRoute: RouteSpec = {
  method: 'POST',
  path: 'triage',
  function: 'triage',
  operationId: 'triageIssues',
  summary: 'Dry run: the assignment POST issues would make, storing nothing.',
  roles: OPERATORS,
  request: IssueTriageRequest,
  success: { status: 200, body: AgentAssignmentResult },
};

export const listAgentsRoute: RouteSpec = {
  method: 'GET',
  path: 'agents',
  function: 'agents',
  operationId: 'listAgents',
  summary: 'List registered agents with their health, circuit state and load.',
  roles: READERS,
  success: { status: 200, body: AgentList },
};

export const registerAgentRoute: RouteSpec = {
  method: 'POST',
  path: 'agents',
  function: 'agents',
  operationId: 'registerAgent',
  summary: 'Register an agent, or update the registration of an existing one.',
  roles: ['agent', 'admin'],
  agentSelfOnly: true,
  request: AgentRegistration,
  success: { status: 201, body: AgentRecord },
};

export const getAgentRoute: RouteSpec = {
  method: 'GET',
  path: 'agents/{id}',
  function: 'agents',
  operationId: 'getAgent',
  summary: 'Read one agent.',
  roles: READERS,
  success: { status: 200, body: AgentRecord },
};

export const deregisterAgentRoute: RouteSpec = {
  method: 'DELETE',
  path: 'agents/{id}',
  function: 'agents',
  operationId: 'deregisterAgent',
  summary: 'Deregister an agent.',
  roles: ['admin'],
  success: { status: 204 },
};

export const heartbeatRoute: RouteSpec = {
  method: 'POST',
  path: 'agents/{id}/heartbeat',
  function: 'agents',
  operationId: 'heartbeat',
  summary: "Report an agent's liveness, load and health.",
  roles: ['agent', 'admin'],
  agentSelfOnly: true,
  request: HeartbeatRequest,
  success: { status: 200, body: AgentRecord },
};

export const optimizeResourcesRoute: RouteSpec = {
  method: 'POST',
  path: 'resources/optimize',
  function: 'resources',
  operationId: 'optimizeResources',
  summary: 'Plan a recovery plan, or the pending backlog, under resource constraints.',
  roles: OPERATORS,
  request: OptimizeRequest,
  success: { status: 200, body: ResourceAllocation },
};

export const startWorkflowRoute: RouteSpec = {
  method: 'POST',
  path: 'workflows',
  function: 'workflows',
  operationId: 'startWorkflow',
  summary: 'Plan a recovery plan and run it as a new workflow (steps already done are skipped).',
  roles: OPERATORS,
  request: RecoveryWorkflowRequest,
  success: { status: 202, body: WorkflowAccepted },
  idempotent: true,
  backpressure: true,
};

export const listWorkflowsRoute: RouteSpec = {
  method: 'GET',
  path: 'workflows',
  function: 'workflows',
  operationId: 'listWorkflows',
  summary:
    'The newest workflows first (at most `limit`, optionally one `status`): status and completion, without their steps.',
  roles: READERS,
  query: WorkflowListQuery,
  success: { status: 200, body: WorkflowList },
};

export const getWorkflowRoute: RouteSpec = {
  method: 'GET',
  path: 'workflows/{id}',
  function: 'workflows',
  operationId: 'getWorkflow',
  summary: 'Read a workflow: its status, steps, executions, and its ExecutionResult once it has ended.',
  roles: READERS,
  success: { status: 200, body: WorkflowDetail },
};

export const getWorkflowProgressRoute: RouteSpec = {
  method: 'GET',
  path: 'workflows/{id}/progress',
  function: 'workflows',
  operationId: 'getWorkflowProgress',
  summary:
    "One workflow's ProgressReport: completion, active agents, resolved and blocking issues, and the ETA from observed step durations.",
  roles: READERS,
  success: { status: 200, body: ProgressReport },
};

export const getProgressRoute: RouteSpec = {
  method: 'GET',
  path: 'progress',
  function: 'workflows',
  operationId: 'getProgress',
  summary: 'The system-wide ProgressReport over every workflow still at work (the newest 100).',
  roles: READERS,
  success: { status: 200, body: ProgressReport },
};

export const rollbackWorkflowRoute: RouteSpec = {
  method: 'POST',
  path: 'workflows/{id}/rollback',
  function: 'workflows',
  operationId: 'rollbackWorkflow',
  summary:
    'Undo the steps of an ended workflow, latest change first, back to failure_point if given; the RollbackResult follows on the workflow.',
  roles: OPERATORS,
  request: RollbackRequest,
  success: { status: 202, body: WorkflowAccepted },
};

export const cancelWorkflowRoute: RouteSpec = {
  method: 'POST',
  path: 'workflows/{id}/cancel',
  function: 'workflows',
  operationId: 'cancelWorkflow',
  summary: 'Stop a pending or running workflow and undo the steps it has run; it ends CANCELLED.',
  roles: OPERATORS,
  request: CancelRequest,
  requestOptional: true,
  success: { status: 202, body: WorkflowAccepted },
};

export const sendTaskSuccessRoute: RouteSpec = {
  method: 'POST',
  path: 'tasks/success',
  function: 'tasks',
  operationId: 'sendTaskSuccess',
  summary: "Report a dispatched step's result on its task token (Step Functions SendTaskSuccess).",
  roles: CALLBACKS,
  request: TaskSuccessRequest,
  errors: [404, 410],
  success: { status: 200, body: TaskCallbackAccepted },
};

export const sendTaskFailureRoute: RouteSpec = {
  method: 'POST',
  path: 'tasks/failure',
  function: 'tasks',
  operationId: 'sendTaskFailure',
  summary: "Report a dispatched step's failure on its task token (Step Functions SendTaskFailure).",
  roles: CALLBACKS,
  request: TaskFailureRequest,
  errors: [404, 410],
  success: { status: 200, body: TaskCallbackAccepted },
};

export const sendTaskHeartbeatRoute: RouteSpec = {
  method: 'POST',
  path: 'tasks/heartbeat',
  function: 'tasks',
  operationId: 'sendTaskHeartbeat',
  summary: 'Tell the workflow a dispatched step is still being worked on (Step Functions SendTaskHeartbeat).',
  roles: CALLBACKS,
  request: TaskHeartbeatRequest,
  errors: [404, 410],
  success: { status: 200, body: TaskCallbackAccepted },
};

export const listDeadLettersRoute: RouteSpec = {
  method: 'GET',
  path: 'dlq',
  function: 'dlq',
  operationId: 'listDeadLetters',
  summary:
    'Count and peek at the dead letters of every agent queue and of the compensation queue, without consuming them.',
  roles: OPERATORS,
  query: DeadLetterQuery,
  errors: [404],
  success: { status: 200, body: DeadLetterList },
};

export const redriveDeadLettersRoute: RouteSpec = {
  method: 'POST',
  path: 'dlq/redrive',
  function: 'dlq',
  operationId: 'redriveDeadLetters',
  summary: "Move an agent queue's dead letters back to that queue (an SQS message-move task per queue).",
  roles: ['admin'],
  request: RedriveRequest,
  requestOptional: true,
  errors: [404],
  success: { status: 200, body: RedriveResult },
};

export const healthRoute: RouteSpec = {
  method: 'GET',
  path: 'health',
  function: 'health',
  operationId: 'health',
  summary: 'Liveness of the API.',
  roles: [],
  success: { status: 200, body: HealthReport },
};

export const openapiRoute: RouteSpec = {
  method: 'GET',
  path: 'openapi.json',
  function: 'openapi',
  operationId: 'openapi',
  summary: 'This API as an OpenAPI 3.1 document.',
  roles: [],
  success: { status: 200 },
};

export const dashboardRoute: RouteSpec = {
  method: 'GET',
  path: 'dashboard',
  function: 'dashboard',
  operationId: 'dashboard',
  summary:
    'The live dashboard: one static HTML page with its script inlined. It holds no data; it asks for a token and calls this API.',
  roles: [],
  success: { status: 200, contentType: 'text/html' },
};

/** Every route, in the order the OpenAPI document lists them. */
export const ROUTES: readonly RouteSpec[] = [
  submitIssuesRoute,
  triageIssuesRoute,
  listAgentsRoute,
  registerAgentRoute,
  getAgentRoute,
  deregisterAgentRoute,
  heartbeatRoute,
  optimizeResourcesRoute,
  startWorkflowRoute,
  listWorkflowsRoute,
  getWorkflowRoute,
  getWorkflowProgressRoute,
  getProgressRoute,
  rollbackWorkflowRoute,
  cancelWorkflowRoute,
  sendTaskSuccessRoute,
  sendTaskFailureRoute,
  sendTaskHeartbeatRoute,
  listDeadLettersRoute,
  redriveDeadLettersRoute,
  healthRoute,
  openapiRoute,
  dashboardRoute,
];

/** Finds the route API Gateway matched, by its resource path (`/api/orchestrator/agents/{id}`). */
export function findRoute(method: string, resource: string): RouteSpec | undefined {
  return ROUTES.find((r) => routeMatches(r, method, resource));
}

/** Whether API Gateway matched `route`, given the method and resource path of its event. */
export function routeMatches(route: RouteSpec, method: string, resource: string): boolean {
  return (
    route.method === method && route.path === resource.replace(/^\/+/, '').replace(`${API_BASE_PATH}/`, '')
  );
}
