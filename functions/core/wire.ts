/**
 * Wire model: contract C4 (spec field names, snake_case), C5 (status words) and
 * C7 (issue categories). These zod schemas are the single source: TypeScript types
 * come from `z.infer`, the JSON Schemas in `events/schemas/` are generated from
 * them (`npm run schemas`), and every edge validates with them.
 *
 * Durations on the wire are ISO-8601 (`PT5M`); times are RFC 3339.
 */
import * as z from 'zod';

// ---------------------------------------------------------------- primitives

/** Identifiers travel in URLs, DynamoDB keys and SFN execution names (80 chars max there). */
export const Identifier = z
  .string()
  .min(1)
  .max(80)
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9._:-]*$/,
    'letters, digits and . _ : - only, starting with a letter or digit',
  );

/**
 * ISO-8601 duration restricted to exact units (weeks, days, hours, minutes, seconds).
 * Years and months are refused: their length depends on the calendar.
 */
export const IsoDuration = z
  .string()
  .max(64)
  .regex(
    /^P(?!$)(\d+W)?(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+(\.\d+)?S)?)?$/,
    'an ISO-8601 duration in weeks, days, hours, minutes or seconds, such as PT5M',
  );

/** Deepest nesting accepted in free-form `parameters`; DynamoDB stores at most 32 levels. */
export const MAX_PARAMETER_DEPTH = 16;

function nestingDepth(value: unknown, depth = 0): number {
  if (depth > MAX_PARAMETER_DEPTH || value === null || typeof value !== 'object') return depth;
  let deepest = depth + 1;
  for (const child of Object.values(value)) deepest = Math.max(deepest, nestingDepth(child, depth + 1));
  return deepest;
}

/** Free-form JSON object for agents, bounded in depth so it can be stored as is. */
export const Parameters = z
  .record(z.string(), z.unknown())
  .refine((value) => nestingDepth(value) <= MAX_PARAMETER_DEPTH, {
    message: `nested more than ${MAX_PARAMETER_DEPTH} levels deep`,
  });

/** RFC 3339 timestamp with `Z` or an explicit offset. */
export const Timestamp = z.iso.datetime({ offset: true });

// ---------------------------------------------------------------- C5 status words

export const WorkflowStatus = z.enum([
  'PENDING',
  'RUNNING',
  'SUCCEEDED',
  'FAILED',
  'ROLLING_BACK',
  'ROLLED_BACK',
  'ROLLBACK_FAILED',
  'CANCELLED',
]);
export type WorkflowStatus = z.infer<typeof WorkflowStatus>;

export const StepStatus = z.enum([
  'PENDING',
  'DISPATCHED',
  'RUNNING',
  'SUCCEEDED',
  'FAILED',
  'TIMED_OUT',
  'COMPENSATING',
  'COMPENSATED',
  'COMPENSATION_FAILED',
  'SKIPPED',
]);
export type StepStatus = z.infer<typeof StepStatus>;

// ---------------------------------------------------------------- C7 categories

export const Category = z.enum([
  'configuration',
  'deployment',
  'capacity',
  'network',
  'infrastructure',
  'dependency',
  'data',
  'security',
  'coordination',
  'recovery_process',
]);
export type Category = z.infer<typeof Category>;
export const CATEGORIES: readonly Category[] = Category.options;

export const Severity = z.enum(['critical', 'high', 'medium', 'low']);
export type Severity = z.infer<typeof Severity>;

// ---------------------------------------------------------------- issues

export const Impact = z
  .object({
    users_affected: z.number().int().min(0).optional(),
    services_affected: z.number().int().min(0).optional(),
    revenue_per_hour: z.number().min(0).optional(),
    /** When the SLA for this issue is breached; urgency rises as it nears. */
    sla_deadline: Timestamp.optional(),
  })
  .strict();
export type Impact = z.infer<typeof Impact>;

export const ResourceDemand = z
  .object({
    cpu_units: z.number().min(0).max(1_000_000).optional(),
    memory_mb: z.number().min(0).max(100_000_000).optional(),
  })
  .strict();
export type ResourceDemand = z.infer<typeof ResourceDemand>;

export const Issue = z
  .object({
    issue_id: Identifier,
    title: z.string().min(1).max(256),
    description: z.string().max(4096).optional(),
    /** C7 category; triage infers it, with a reason and a confidence, when missing. */
    category: Category.optional(),
    severity: Severity,
    component: z.string().max(128).optional(),
    depends_on: z.array(Identifier).max(100).optional(),
    impact: Impact.optional(),
    /** Detector tags and metric names, e.g. `5xx_spike`, `cpu_high`; the classifier reads them. */
    signals: z.array(z.string().max(64)).max(50).optional(),
    detected_at: Timestamp.optional(),
    estimated_duration: IsoDuration.optional(),
    required_capabilities: z.array(z.string().max(64)).max(20).optional(),
    /** Safe to run twice; only idempotent steps are re-dispatched to another agent. */
    idempotent: z.boolean().optional(),
    resources: ResourceDemand.optional(),
    /** Free-form input for the agent. Only reference agents read `parameters.simulate` (C8). */
    parameters: Parameters.optional(),
  })
  .strict();
export type Issue = z.infer<typeof Issue>;

export const SystemContext = z
  .object({
    environment: z.string().max(64).optional(),
    region: z.string().max(32).optional(),
    deployment_id: z.string().max(128).optional(),
    /** The instant decisions are made for (issue age, SLA proximity); defaults to the server clock. */
    now: Timestamp.optional(),
    tags: z.record(z.string(), z.string().max(256)).optional(),
  })
  .strict();
export type SystemContext = z.infer<typeof SystemContext>;

export const ResourceConstraints = z
  .object({
    /** Most steps running at once across all agents. */
    max_parallel_steps: z.number().int().min(1).max(10_000).optional(),
    /** Shared CPU pool, in the same units as `Issue.resources.cpu_units`. */
    cpu_units: z.number().min(0).optional(),
    memory_mb: z.number().min(0).optional(),
    /** Per-agent concurrency caps that override the agents' registered `max_concurrency`. */
    agent_concurrency: z.record(Identifier, z.number().int().min(1).max(10_000)).optional(),
    /** Routing refuses issues whose category confidence is below this (default 0.65). */
    min_confidence: z.number().min(0).max(1).optional(),
  })
  .strict();
export type ResourceConstraints = z.infer<typeof ResourceConstraints>;

export const MAX_ISSUES_PER_REQUEST = 1000;

export const IssueTriageRequest = z
  .object({
    detected_issues: z.array(Issue).min(1).max(MAX_ISSUES_PER_REQUEST),
    system_context: SystemContext.optional(),
    resource_constraints: ResourceConstraints.optional(),
  })
  .strict();
export type IssueTriageRequest = z.infer<typeof IssueTriageRequest>;

// ---------------------------------------------------------------- agents

export const AgentHealth = z.enum(['HEALTHY', 'DEGRADED', 'UNHEALTHY', 'OFFLINE']);
export type AgentHealth = z.infer<typeof AgentHealth>;

export const CircuitState = z.enum(['CLOSED', 'OPEN', 'HALF_OPEN']);
export type CircuitState = z.infer<typeof CircuitState>;

export const AgentRegistration = z
  .object({
    agent_id: Identifier,
    /** Free-form kind, e.g. `reference-network`. */
    agent_type: z.string().max(64).optional(),
    categories: z.array(Category).min(1),
    capabilities: z.array(z.string().max(64)).max(50).optional(),
    max_concurrency: z.number().int().min(1).max(10_000).default(1),
    /** Mean duration of this agent's steps, used before any are observed. */
    avg_step_duration: IsoDuration.optional(),
    version: z.string().max(64).optional(),
  })
  .strict();
export type AgentRegistration = z.infer<typeof AgentRegistration>;

/** The router's view of one agent: registration plus live state. */
export const AgentSnapshot = AgentRegistration.extend({
  status: AgentHealth.default('HEALTHY'),
  circuit_state: CircuitState.default('CLOSED'),
  current_load: z.number().int().min(0).default(0),
  /** Share of recent steps that succeeded, 0..1; unknown agents count as 1. */
  success_rate: z.number().min(0).max(1).optional(),
});
export type AgentSnapshot = z.infer<typeof AgentSnapshot>;
export type AgentSnapshotInput = z.input<typeof AgentSnapshot>;

export const AgentStatusEntry = z
  .object({
    status: AgentHealth,
    circuit_state: CircuitState.optional(),
    current_load: z.number().int().min(0).optional(),
  })
  .strict();

/** agent_id -> live status, as given to a workflow (spec: `AgentStatusMatrix`). */
export const AgentStatusMatrix = z.record(Identifier, AgentStatusEntry);
export type AgentStatusMatrix = z.infer<typeof AgentStatusMatrix>;

// ---------------------------------------------------------------- triage output

export const UnassignedReason = z.enum([
  'LOW_CONFIDENCE',
  'NO_CAPABLE_AGENT',
  'NO_HEALTHY_AGENT',
  'ALL_CIRCUITS_OPEN',
  'BLOCKED_BY_UNASSIGNED',
]);
export type UnassignedReason = z.infer<typeof UnassignedReason>;

export const TriageDecision = z.object({
  issue_id: Identifier,
  /** Null when nothing in the issue points to any category. */
  category: Category.nullable(),
  category_source: z.enum(['provided', 'inferred']),
  confidence: z.number().min(0).max(1),
  /** Human-readable evidence for the category, e.g. `title: "throttled" (+3), signal: "cpu_high" (+2)`. */
  category_reason: z.string(),
  priority: z.number(),
  status: z.enum(['ASSIGNED', 'UNASSIGNED']),
  agent_id: Identifier.nullable(),
  /** Why this agent, or why none. */
  reason: z.string(),
  unassigned_reason: UnassignedReason.optional(),
});
export type TriageDecision = z.infer<typeof TriageDecision>;

export const ResourceRequirements = z.object({
  total_steps: z.number().int().min(0),
  peak_parallel_steps: z.number().int().min(0),
  peak_cpu_units: z.number().min(0),
  peak_memory_mb: z.number().min(0),
  /** agent_id -> slots the plan uses at its peak. */
  agent_slots: z.record(Identifier, z.number().int().min(0)),
  /** Sum of all step durations. */
  total_work: IsoDuration,
});
export type ResourceRequirements = z.infer<typeof ResourceRequirements>;

export const AgentAssignmentResult = z.object({
  /** agent_id -> issue_ids, each list in execution order. */
  assigned_agents: z.record(Identifier, z.array(Identifier)),
  /** Agent ids in the order their first step starts. */
  execution_order: z.array(Identifier),
  estimated_duration: IsoDuration,
  resource_requirements: ResourceRequirements,
  /** Issues routed to manual triage (C5), each with a reason. */
  unassigned: z.array(z.object({ issue_id: Identifier, reason: UnassignedReason, detail: z.string() })),
  /** One decision per issue, in input order. */
  decisions: z.array(TriageDecision),
});
export type AgentAssignmentResult = z.infer<typeof AgentAssignmentResult>;

// ---------------------------------------------------------------- recovery plans

export const PlanStep = z
  .object({
    step_id: Identifier,
    issue_id: Identifier,
    /** Omitted: the router picks one for the step's category. */
    agent_id: Identifier.optional(),
    category: Category.optional(),
    action: z.string().max(64).default('remediate'),
    depends_on: z.array(Identifier).max(100).default([]),
    estimated_duration: IsoDuration.optional(),
    /** How long the workflow waits for the agent's answer; default 3x the planned duration, at least PT1M. */
    timeout: IsoDuration.optional(),
    /** Longest silence allowed between the agent's heartbeats; default PT1M, never above `timeout`. */
    heartbeat: IsoDuration.optional(),
    idempotent: z.boolean().default(false),
    resources: ResourceDemand.optional(),
    /** Merged over the issue's `parameters` in the agent's task message. */
    parameters: Parameters.optional(),
  })
  .strict();
export type PlanStep = z.infer<typeof PlanStep>;

export const RecoveryPlan = z
  .object({
    plan_id: Identifier.optional(),
    steps: z.array(PlanStep).min(1).max(10_000),
    /** Issue details the steps refer to, passed on to agents. */
    issues: z.array(Issue).max(10_000).optional(),
    constraints: ResourceConstraints.optional(),
  })
  .strict();
export type RecoveryPlan = z.infer<typeof RecoveryPlan>;

export const ProgressState = z
  .object({
    /** Steps already done in an earlier run; a resumed workflow skips them. */
    succeeded_steps: z.array(Identifier).default([]),
  })
  .strict();
export type ProgressState = z.infer<typeof ProgressState>;

export const RecoveryWorkflowRequest = z
  .object({
    recovery_plan: RecoveryPlan,
    agent_status: AgentStatusMatrix.optional(),
    progress_state: ProgressState.optional(),
  })
  .strict();
export type RecoveryWorkflowRequest = z.infer<typeof RecoveryWorkflowRequest>;

// ---------------------------------------------------------------- planning output

export const ScheduledStep = z.object({
  step_id: Identifier,
  issue_id: Identifier,
  agent_id: Identifier,
  depends_on: z.array(Identifier),
  wave: z.number().int().min(0),
  duration_ms: z.number().min(0),
  /** Planned start and finish, in ms from the plan's start. */
  start_offset_ms: z.number().min(0),
  finish_offset_ms: z.number().min(0),
  /** Longest path from this step to the end of the plan, itself included. */
  bottom_level_ms: z.number().min(0),
  on_critical_path: z.boolean(),
  cpu_units: z.number().min(0),
  memory_mb: z.number().min(0),
});
export type ScheduledStep = z.infer<typeof ScheduledStep>;

export const Wave = z.object({
  index: z.number().int().min(0),
  step_ids: z.array(Identifier),
  max_concurrency: z.number().int().min(1),
  /** How long this wave takes when run on its own under the same limits. */
  span_ms: z.number().min(0),
});
export type Wave = z.infer<typeof Wave>;

export const ResourceAllocation = z.object({
  steps: z.array(ScheduledStep),
  waves: z.array(Wave),
  critical_path: z.array(Identifier),
  critical_path_duration: IsoDuration,
  /** Planned duration with dependency-gated dispatch (each step starts when its inputs and a slot are ready). */
  makespan: IsoDuration,
  /** Planned duration if every wave waits for the previous one to finish. */
  wave_makespan: IsoDuration,
  /** The larger of the critical path and total work over capacity: no schedule can beat it. */
  lower_bound: IsoDuration,
  eta_completion: Timestamp,
  utilization: z.object({
    /** Busy slot time over (usable slots x makespan); usable = min(max_parallel_steps, sum of agent slots). */
    agent_slots: z.number().min(0).max(1),
    /** lower_bound / makespan: 1 means no schedule could be shorter. */
    efficiency: z.number().min(0).max(1),
    cpu: z.number().min(0).max(1).nullable(),
    memory: z.number().min(0).max(1).nullable(),
  }),
  agent_allocations: z.record(
    Identifier,
    z.object({ slots: z.number().int().min(1), steps: z.number().int().min(0), busy_ms: z.number().min(0) }),
  ),
  resource_requirements: ResourceRequirements,
});
export type ResourceAllocation = z.infer<typeof ResourceAllocation>;

// ---------------------------------------------------------------- progress, results

export const ProgressReport = z.object({
  completion_percentage: z.number().min(0).max(100),
  active_agents: z.array(Identifier),
  resolved_issues: z.array(Identifier),
  blocking_issues: z.array(Identifier),
  /** Null while nothing is left to estimate from, e.g. a workflow that has ended. */
  eta_completion: Timestamp.nullable(),
});
export type ProgressReport = z.infer<typeof ProgressReport>;

export const StepResult = z.object({
  step_id: Identifier,
  issue_id: Identifier,
  agent_id: Identifier,
  status: StepStatus,
  /** Execute dispatches so far (the first one and its retries). */
  attempts: z.number().int().min(0),
  started_at: Timestamp.nullable(),
  completed_at: Timestamp.nullable(),
  output: z.unknown().optional(),
  error: z.object({ code: z.string(), message: z.string() }).optional(),
});
export type StepResult = z.infer<typeof StepResult>;

export const ExecutionResult = z.object({
  workflow_id: Identifier,
  status: WorkflowStatus,
  started_at: Timestamp,
  completed_at: Timestamp.nullable(),
  duration: IsoDuration.nullable(),
  steps: z.array(StepResult),
  resolved_issues: z.array(Identifier),
  failed_issues: z.array(Identifier),
  rollback: z.lazy(() => RollbackResult).optional(),
});
export type ExecutionResult = z.infer<typeof ExecutionResult>;

export const Compensation = z.object({
  step_id: Identifier,
  issue_id: Identifier,
  agent_id: Identifier,
  /** Same key on every retry, so an agent can drop duplicates. */
  idempotency_key: z.string(),
  /** Position in the rollback, 0 first (the step that completed last). */
  order: z.number().int().min(0),
});
export type Compensation = z.infer<typeof Compensation>;

export const RollbackResult = z.object({
  workflow_id: Identifier,
  failure_point: z.string().nullable(),
  reason: z.string(),
  status: z.enum(['ROLLED_BACK', 'ROLLBACK_FAILED', 'NOTHING_TO_ROLL_BACK']),
  compensated_steps: z.array(Identifier),
  failed_compensations: z.array(Identifier),
  skipped_steps: z.array(Identifier),
});
export type RollbackResult = z.infer<typeof RollbackResult>;

// ---------------------------------------------------------------- REST API (C3)

/** 202 answer to POST issues. */
export const IntakeAccepted = z.object({
  workflow_id: Identifier,
  /** The Step Functions execution, or null when none was started (e.g. nothing could be assigned). */
  execution_arn: z.string().nullable(),
  status: WorkflowStatus,
  assignment: AgentAssignmentResult,
});
export type IntakeAccepted = z.infer<typeof IntakeAccepted>;

/** An agent as the registry stores and returns it. */
export const AgentRecord = AgentSnapshot.extend({
  registered_at: Timestamp,
  updated_at: Timestamp,
  last_heartbeat_at: Timestamp.nullable(),
  /** Optimistic-locking counter; every change adds one. */
  version: z.number().int().min(1),
});
export type AgentRecord = z.infer<typeof AgentRecord>;

export const AgentList = z.object({ agents: z.array(AgentRecord) });
export type AgentList = z.infer<typeof AgentList>;

export const HeartbeatRequest = z
  .object({
    status: AgentHealth.optional(),
    current_load: z.number().int().min(0).max(10_000).optional(),
    /** Set when the caller read the agent first and wants the update only if nothing changed since. */
    expected_version: z.number().int().min(1).optional(),
  })
  .strict();
export type HeartbeatRequest = z.infer<typeof HeartbeatRequest>;

/** POST resources/optimize: plan the given plan, or the pending backlog when none is given. */
export const OptimizeRequest = z
  .object({
    recovery_plan: RecoveryPlan.optional(),
    constraints: ResourceConstraints.optional(),
  })
  .strict();
export type OptimizeRequest = z.infer<typeof OptimizeRequest>;

export const ErrorBody = z.object({
  error: z.object({
    /** Stable, machine-readable, e.g. VALIDATION_FAILED, DEPENDENCY_CYCLE. */
    code: z.string(),
    message: z.string(),
    details: z.array(z.unknown()).optional(),
    /** Present on 5xx: quote it to support; the detail is in the logs under this id. */
    request_id: z.string().optional(),
  }),
});
export type ErrorBody = z.infer<typeof ErrorBody>;

export const HealthReport = z.object({
  status: z.literal('ok'),
  service: z.string(),
  version: z.string(),
  time: Timestamp,
});
export type HealthReport = z.infer<typeof HealthReport>;

// ---------------------------------------------------------------- workflows (C3)

/** 202 answer to POST workflows, workflows/{id}/rollback and workflows/{id}/cancel. */
export const WorkflowAccepted = z.object({
  workflow_id: Identifier,
  /** The Step Functions execution doing the work. */
  execution_arn: z.string(),
  status: WorkflowStatus,
});
export type WorkflowAccepted = z.infer<typeof WorkflowAccepted>;

/** One step as GET workflows/{id} shows it. */
export const WorkflowStep = StepResult.extend({
  action: z.string(),
  depends_on: z.array(Identifier),
  wave: z.number().int().min(0),
  idempotent: z.boolean(),
  timeout_seconds: z.number().int().min(1),
  heartbeat_seconds: z.number().int().min(1),
  /** Rollback dispatches so far. */
  compensation_attempts: z.number().int().min(0),
  compensated_at: Timestamp.nullable(),
});
export type WorkflowStep = z.infer<typeof WorkflowStep>;

/** What GET workflows and GET workflows/{id} both say of a workflow first. */
const WorkflowHeading = z.object({
  workflow_id: Identifier,
  status: WorkflowStatus,
  /** `issues`: POST issues; `plan`: POST workflows. */
  source: z.enum(['issues', 'plan']),
  created_at: Timestamp,
  updated_at: Timestamp,
});

/** GET workflows/{id}. */
export const WorkflowDetail = WorkflowHeading.extend({
  /** The execution that runs the steps; rollback and cancel executions follow in `executions`. */
  execution_arn: z.string().nullable(),
  executions: z.array(z.string()),
  completion_percentage: z.number().min(0).max(100),
  steps: z.array(WorkflowStep),
  /** Set once the workflow has ended. */
  result: ExecutionResult.nullable(),
});
export type WorkflowDetail = z.infer<typeof WorkflowDetail>;

/** One workflow in GET workflows: what a list or a dashboard shows without loading its steps. */
export const WorkflowSummary = WorkflowHeading.extend({
  completed_at: Timestamp.nullable(),
  step_count: z.number().int().min(0),
  steps_succeeded: z.number().int().min(0),
  completion_percentage: z.number().min(0).max(100),
});
export type WorkflowSummary = z.infer<typeof WorkflowSummary>;

/** GET workflows: the newest workflows first, at most `limit`. */
export const WorkflowList = z.object({ workflows: z.array(WorkflowSummary) });
export type WorkflowList = z.infer<typeof WorkflowList>;

/** POST workflows/{id}/rollback. */
export const RollbackRequest = z
  .object({
    /** Undo back to and including this step (latest change first); omitted: every step that ran. */
    failure_point: Identifier.optional(),
    reason: z.string().min(1).max(1024),
  })
  .strict();
export type RollbackRequest = z.infer<typeof RollbackRequest>;

/** POST workflows/{id}/cancel. */
export const CancelRequest = z
  .object({ reason: z.string().min(1).max(1024).default('cancelled by an operator') })
  .strict();
export type CancelRequest = z.infer<typeof CancelRequest>;

// ---------------------------------------------------------------- task callbacks (C3)

/** POST tasks/success: for agents without AWS credentials, same as SendTaskSuccess. */
export const TaskSuccessRequest = z
  .object({
    task_token: z.string().min(1).max(1024),
    /** The step's result; Step Functions caps it at 256 KB of JSON. */
    output: z.unknown().optional(),
  })
  .strict();
export type TaskSuccessRequest = z.infer<typeof TaskSuccessRequest>;

/** POST tasks/failure: same as SendTaskFailure. */
export const TaskFailureRequest = z
  .object({
    task_token: z.string().min(1).max(1024),
    error: z
      .object({
        /** `Agent.Transient` is retried with backoff; `Agent.Permanent` (or anything else) rolls back. */
        code: z.string().min(1).max(256),
        message: z.string().max(32_768).default(''),
      })
      .strict(),
  })
  .strict();
export type TaskFailureRequest = z.infer<typeof TaskFailureRequest>;

/** POST tasks/heartbeat: same as SendTaskHeartbeat. */
export const TaskHeartbeatRequest = z.object({ task_token: z.string().min(1).max(1024) }).strict();
export type TaskHeartbeatRequest = z.infer<typeof TaskHeartbeatRequest>;

/** 200 answer to tasks/*: what the callback was about. */
export const TaskCallbackAccepted = z.object({
  workflow_id: Identifier,
  step_id: Identifier,
  action: z.enum(['execute', 'rollback']),
  accepted: z.literal(true),
});
export type TaskCallbackAccepted = z.infer<typeof TaskCallbackAccepted>;

// ---------------------------------------------------------------- dead letters (C3)

export const DeadLetter = z.object({
  message_id: z.string(),
  /** The message as it was sent, usually an AgentTaskMessage or a ManualInterventionMessage. */
  body: z.string(),
  sent_at: Timestamp.nullable(),
  /** Deliveries so far, the ones on the source queue included. */
  receive_count: z.number().int().min(0),
});
export type DeadLetter = z.infer<typeof DeadLetter>;

export const DeadLetterQueue = z.object({
  /** The agent queue's name in the catalog (its category), or `compensation` for manual intervention. */
  queue: z.string(),
  dlq_url: z.string(),
  /** SQS's approximate count of visible messages. */
  approximate_count: z.number().int().min(0),
  /** Up to `limit` messages, peeked: they stay in the queue. */
  messages: z.array(DeadLetter),
  /** False for the compensation queue: its messages need a person, not a retry. */
  redrivable: z.boolean(),
});
export type DeadLetterQueue = z.infer<typeof DeadLetterQueue>;

/** GET dlq. */
export const DeadLetterList = z.object({ queues: z.array(DeadLetterQueue) });
export type DeadLetterList = z.infer<typeof DeadLetterList>;

/** POST dlq/redrive. */
export const RedriveRequest = z
  .object({
    /** One queue (as GET dlq names it); omitted: every redrivable queue with messages. */
    queue: z.string().max(80).optional(),
  })
  .strict();
export type RedriveRequest = z.infer<typeof RedriveRequest>;

export const RedriveResult = z.object({
  moves: z.array(
    z.object({
      queue: z.string(),
      /** SQS's message-move task; ListMessageMoveTasks on the DLQ shows its progress. */
      task_handle: z.string(),
      approximate_count: z.number().int().min(0),
    }),
  ),
});
export type RedriveResult = z.infer<typeof RedriveResult>;

/**
 * What the workflow sends to the compensation dead-letter queue when a step cannot be
 * undone: a person has to finish the rollback by hand.
 */
export const ManualInterventionMessage = z.object({
  kind: z.literal('compensation_failed'),
  workflow_id: Identifier,
  step_id: Identifier,
  issue_id: Identifier,
  agent_id: Identifier,
  error: z.string(),
  cause: z.string(),
  /** Steps still changed after this one failed to compensate, latest change first. */
  not_compensated: z.array(Identifier),
  at: Timestamp,
});
export type ManualInterventionMessage = z.infer<typeof ManualInterventionMessage>;

// ---------------------------------------------------------------- domain events (C9)

export const DomainEventType = z.enum([
  'workflow.started',
  'step.dispatched',
  'step.heartbeat',
  'step.retrying',
  'step.succeeded',
  'step.failed',
  'rollback.started',
  'step.compensating',
  'step.compensated',
  'workflow.completed',
]);
export type DomainEventType = z.infer<typeof DomainEventType>;

/**
 * A workflow's state change, stored with a per-workflow `seq` (from 1, no gaps) in the same
 * transaction as the change itself; the progress stream sends these.
 */
export const DomainEvent = z.object({
  type: DomainEventType,
  workflow_id: Identifier,
  step_id: Identifier.optional(),
  issue_id: Identifier.optional(),
  agent_id: Identifier.optional(),
  /** The step's status for step events, the workflow's otherwise. */
  status: z.union([WorkflowStatus, StepStatus]),
  completion_percentage: z.number().min(0).max(100),
  eta_completion: Timestamp.nullable(),
  seq: z.number().int().min(1),
  at: Timestamp,
  /** step.dispatched and step.retrying: the dispatch attempt; step.failed: the error name. */
  attempt: z.number().int().min(1).optional(),
  error: z.string().optional(),
});
export type DomainEvent = z.infer<typeof DomainEvent>;

/**
 * An agent's health changed (EventBridge detail-type `agent.unhealthy`, source
 * `master-orchestrator`): the sweep found its heartbeat stale, marked it UNHEALTHY and opened
 * its circuit. Not a workflow event: it has no `seq`, and the progress stream does not carry it.
 */
export const AgentHealthEvent = z.object({
  type: z.literal('agent.unhealthy'),
  agent_id: Identifier,
  status: AgentHealth,
  circuit_state: CircuitState,
  last_heartbeat_at: Timestamp.nullable(),
  /** In-flight steps the sweep handed back: re-routed (idempotent) or failed into rollback. */
  steps_released: z.number().int().min(0),
  reason: z.string(),
  at: Timestamp,
});
export type AgentHealthEvent = z.infer<typeof AgentHealthEvent>;

// ---------------------------------------------------------------- progress socket (C9)

/** A workflow id, or `*` for every workflow the caller may read. */
export const SubscriptionTarget = z.union([Identifier, z.literal('*')]);
export type SubscriptionTarget = z.infer<typeof SubscriptionTarget>;

/**
 * `subscribe`: live events of one workflow (or `*`); with `since_seq`, first the stored events
 * with a greater `seq` (a workflow only: `*` has no single sequence).
 */
export const SocketSubscribe = z
  .object({
    action: z.literal('subscribe'),
    workflow_id: SubscriptionTarget,
    since_seq: z.number().int().min(0).optional(),
  })
  .strict();
export type SocketSubscribe = z.infer<typeof SocketSubscribe>;

export const SocketUnsubscribe = z
  .object({ action: z.literal('unsubscribe'), workflow_id: SubscriptionTarget })
  .strict();
export type SocketUnsubscribe = z.infer<typeof SocketUnsubscribe>;

export const SocketPing = z.object({ action: z.literal('ping') }).strict();

/** What a client may send on the progress socket; nothing on it changes a workflow. */
export const SocketClientMessage = z.discriminatedUnion('action', [
  SocketSubscribe,
  SocketUnsubscribe,
  SocketPing,
]);
export type SocketClientMessage = z.infer<typeof SocketClientMessage>;

/** The socket's answers to a client message; domain events (DomainEvent) come unasked. */
export const SocketReply = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('subscribed'),
    workflow_id: SubscriptionTarget,
    /** How many stored events were sent before this answer (0 without `since_seq`). */
    replayed: z.number().int().min(0),
  }),
  z.object({ type: z.literal('unsubscribed'), workflow_id: SubscriptionTarget }),
  z.object({ type: z.literal('pong') }),
  z.object({
    type: z.literal('error'),
    code: z.enum(['VALIDATION_FAILED', 'NOT_FOUND', 'UNKNOWN_ACTION', 'TOO_MANY_SUBSCRIPTIONS', 'GONE']),
    message: z.string(),
    details: z.array(z.string()).optional(),
  }),
]);
export type SocketReply = z.infer<typeof SocketReply>;

// ---------------------------------------------------------------- agent dispatch

/** What a recovery workflow asks of an agent: run the step, or undo it. */
export const AgentAction = z.enum(['execute', 'rollback']);
export type AgentAction = z.infer<typeof AgentAction>;

/**
 * The SQS message a `.waitForTaskToken` dispatch sends to an agent's queue. The agent answers
 * with SendTaskSuccess or SendTaskFailure (`Agent.Transient` or `Agent.Permanent`) on
 * `task_token`, and is idempotent on (workflow_id, step_id, action). Unknown fields are
 * dropped rather than refused, so a newer dispatcher does not turn older agents' messages
 * into poison.
 */
export const AgentTaskMessage = z.object({
  /** Step Functions' `$$.Task.Token`; AWS caps it at 1024 characters. */
  task_token: z.string().min(1).max(1024),
  workflow_id: Identifier,
  step_id: Identifier,
  issue: Issue,
  action: AgentAction,
  /** 1 on the first dispatch of this (workflow_id, step_id, action), one more on each retry. */
  attempt: z.number().int().min(1),
  /** When the workflow stops waiting (the Task's TimeoutSeconds from dispatch). */
  deadline: Timestamp,
  /**
   * The Task's HeartbeatSeconds: the longest silence the workflow allows before it fails the
   * attempt with States.HeartbeatTimeout. The agent SDK heartbeats at a third of it.
   */
  heartbeat_seconds: z.number().int().min(1).optional(),
});
export type AgentTaskMessage = z.infer<typeof AgentTaskMessage>;

/** Every schema that gets a JSON Schema file in `events/schemas/`, by file name. */
export const WIRE_SCHEMAS = {
  Issue,
  IssueTriageRequest,
  AgentRegistration,
  AgentAssignmentResult,
  RecoveryWorkflowRequest,
  RecoveryPlan,
  ResourceConstraints,
  ResourceAllocation,
  ProgressReport,
  ExecutionResult,
  RollbackResult,
  IntakeAccepted,
  AgentRecord,
  AgentList,
  HeartbeatRequest,
  OptimizeRequest,
  ErrorBody,
  HealthReport,
  AgentTaskMessage,
  WorkflowAccepted,
  WorkflowDetail,
  WorkflowList,
  RollbackRequest,
  CancelRequest,
  TaskSuccessRequest,
  TaskFailureRequest,
  TaskHeartbeatRequest,
  TaskCallbackAccepted,
  DeadLetterList,
  RedriveRequest,
  RedriveResult,
  ManualInterventionMessage,
  DomainEvent,
  AgentHealthEvent,
  SocketClientMessage,
  SocketReply,
} as const;
