/**
 * The spec's `triage_issues` and `optimize_resources`: classify, prioritise, route
 * and plan a batch, producing the AgentAssignmentResult (C4) and the RecoveryPlan a
 * workflow runs.
 */
import { classifyIssue } from './classifier';
import { formatDuration, parseDuration } from './duration';
import { UnroutablePlanError } from './errors';
import { buildDependencyGraph, transitiveDependentCounts } from './graph';
import { type PlannerLimits, type PlannerStep, planSchedule } from './planner';
import { compareIds, scorePriority } from './priority';
import { type RoutableIssue, routeIssues } from './routing';
import {
  type AgentAssignmentResult,
  AgentSnapshot,
  type AgentSnapshotInput,
  type Category,
  type IssueTriageRequest,
  type PlanStep,
  type RecoveryPlan,
  type ResourceAllocation,
  type ResourceConstraints,
  type TriageDecision,
} from './wire';

/** Routing refuses inferred categories below this confidence (C7: they go to manual triage). */
export const DEFAULT_MIN_CONFIDENCE = 0.65;

/** Used when neither the issue nor its agent says how long a step takes. */
export const DEFAULT_STEP_DURATION_MS: Readonly<Record<Category, number>> = {
  configuration: 5 * 60_000,
  deployment: 10 * 60_000,
  capacity: 10 * 60_000,
  network: 15 * 60_000,
  infrastructure: 30 * 60_000,
  dependency: 15 * 60_000,
  data: 30 * 60_000,
  security: 20 * 60_000,
  coordination: 5 * 60_000,
  recovery_process: 5 * 60_000,
};

export interface TriageOptions {
  /** Decision instant; `system_context.now` wins when given. */
  readonly now_ms: number;
}

export interface TriageOutcome {
  readonly assignment: AgentAssignmentResult;
  /** The schedule behind `estimated_duration` and `resource_requirements`. */
  readonly allocation: ResourceAllocation;
  /** What a workflow runs: one step per assigned issue, step_id = issue_id. */
  readonly recovery_plan: RecoveryPlan;
}

/**
 * Triages a batch against the agents the registry knows.
 * @throws DependencyCycleError, UnknownDependencyError, DuplicateIdError for a bad batch.
 * @throws InfeasiblePlanError when a step cannot fit the resource constraints.
 * @example
 * const { assignment } = triageIssues(
 *   { detected_issues: [{ issue_id: 'i1', title: 'DNS failing', severity: 'high' }] },
 *   [{ agent_id: 'net-1', categories: ['network'] }],
 *   { now_ms: Date.now() });
 * assignment.assigned_agents // { 'net-1': ['i1'] }
 */
export function triageIssues(
  request: IssueTriageRequest,
  agentInputs: readonly AgentSnapshotInput[],
  options: TriageOptions,
): TriageOutcome {
  const issues = request.detected_issues;
  const constraints = request.resource_constraints ?? {};
  const nowMs = request.system_context?.now ? Date.parse(request.system_context.now) : options.now_ms;
  const minConfidence = constraints.min_confidence ?? DEFAULT_MIN_CONFIDENCE;
  const agents = agentInputs.map((a) => AgentSnapshot.parse(a));
  const agentById = new Map(agents.map((a) => [a.agent_id, a]));

  const graph = buildDependencyGraph(issues.map((i) => ({ id: i.issue_id, depends_on: i.depends_on })));
  const blocked = transitiveDependentCounts(graph);

  const triaged = issues.map((issue, k) => {
    const inferred = issue.category ? null : classifyIssue(issue);
    const category = issue.category ?? inferred?.category ?? null;
    const confidence = inferred ? inferred.confidence : 1;
    const priority = scorePriority(issue, { now_ms: nowMs, blocked_count: blocked[k] as number }).total;
    const routable: RoutableIssue = {
      issue_id: issue.issue_id,
      category,
      priority,
      depends_on: issue.depends_on,
      required_capabilities: issue.required_capabilities,
      refused:
        inferred && confidence < minConfidence
          ? {
              reason: 'LOW_CONFIDENCE',
              detail: `category confidence ${confidence} is below ${minConfidence} (${inferred.reason})`,
            }
          : undefined,
    };
    return { issue, category, confidence, priority, inferred, routable };
  });

  const routes = routeIssues(
    triaged.map((t) => t.routable),
    agents,
  );

  const plannerSteps: PlannerStep[] = [];
  const planSteps: PlanStep[] = [];
  routes.forEach((route, k) => {
    if (route.status !== 'ASSIGNED') return;
    const t = triaged[k] as (typeof triaged)[number];
    const agent = agentById.get(route.agent_id) as AgentSnapshot;
    const durationMs = stepDurationMs(
      t.issue.estimated_duration,
      agent.avg_step_duration,
      t.category as Category,
    );
    plannerSteps.push({
      step_id: t.issue.issue_id,
      issue_id: t.issue.issue_id,
      agent_id: route.agent_id,
      depends_on: t.issue.depends_on,
      duration_ms: durationMs,
      cpu_units: t.issue.resources?.cpu_units,
      memory_mb: t.issue.resources?.memory_mb,
      priority: t.priority,
    });
    planSteps.push({
      step_id: t.issue.issue_id,
      issue_id: t.issue.issue_id,
      agent_id: route.agent_id,
      category: t.category as Category,
      action: 'remediate',
      depends_on: t.issue.depends_on ?? [],
      estimated_duration: formatDuration(durationMs),
      idempotent: t.issue.idempotent ?? false,
      ...(t.issue.resources ? { resources: t.issue.resources } : {}),
      ...(t.issue.parameters ? { parameters: t.issue.parameters } : {}),
    });
  });

  const allocation = planSchedule(plannerSteps, plannerLimits(constraints, agents), nowMs);

  const assigned: Record<string, string[]> = {};
  const executionOrder: string[] = [];
  for (const step of allocation.steps) {
    const list = assigned[step.agent_id];
    if (list) list.push(step.issue_id);
    else {
      assigned[step.agent_id] = [step.issue_id];
      executionOrder.push(step.agent_id);
    }
  }

  const decisions: TriageDecision[] = triaged.map((t, k) => {
    const route = routes[k] as (typeof routes)[number];
    return {
      issue_id: t.issue.issue_id,
      category: t.category,
      category_source: t.inferred ? 'inferred' : 'provided',
      confidence: t.confidence,
      category_reason: t.inferred ? t.inferred.reason : 'provided by the caller',
      priority: t.priority,
      status: route.status,
      agent_id: route.agent_id,
      reason: route.status === 'ASSIGNED' ? route.reason : route.detail,
      ...(route.status === 'UNASSIGNED' ? { unassigned_reason: route.reason } : {}),
    };
  });

  return {
    assignment: {
      assigned_agents: assigned,
      execution_order: executionOrder,
      estimated_duration: allocation.makespan,
      resource_requirements: allocation.resource_requirements,
      unassigned: routes.flatMap((r) =>
        r.status === 'UNASSIGNED' ? [{ issue_id: r.issue_id, reason: r.reason, detail: r.detail }] : [],
      ),
      decisions,
    },
    allocation,
    recovery_plan: {
      steps: planSteps,
      issues: issues.filter((_, k) => routes[k]?.status === 'ASSIGNED'),
      constraints,
    },
  };
}

/**
 * Plans a caller-supplied RecoveryPlan (POST resources/optimize, POST workflows).
 * Steps without an agent are routed by category, with the same rules as triage.
 * @throws UnroutablePlanError when a step names an unknown agent or none can take it.
 */
export function optimizeResources(
  plan: RecoveryPlan,
  agentInputs: readonly AgentSnapshotInput[],
  options: TriageOptions,
): ResourceAllocation {
  const agents = agentInputs.map((a) => AgentSnapshot.parse(a));
  const agentById = new Map(agents.map((a) => [a.agent_id, a]));
  const issueById = new Map((plan.issues ?? []).map((i) => [i.issue_id, i]));

  const unrouted = plan.steps.filter((s) => !s.agent_id);
  const routes = new Map(
    routeIssues(
      unrouted.map((s) => ({
        issue_id: s.step_id,
        category: s.category ?? issueById.get(s.issue_id)?.category ?? null,
        priority: 0,
        required_capabilities: issueById.get(s.issue_id)?.required_capabilities,
      })),
      agents,
    ).map((r) => [r.issue_id, r]),
  );

  const steps: PlannerStep[] = plan.steps.map((s) => {
    const route = routes.get(s.step_id);
    if (route?.status === 'UNASSIGNED')
      throw new UnroutablePlanError(`step ${s.step_id} cannot be routed: ${route.detail}`, [
        { step_id: s.step_id, reason: route.reason, detail: route.detail },
      ]);
    const agentId = s.agent_id ?? (route?.agent_id as string);
    const agent = agentById.get(agentId);
    if (!agent)
      throw new UnroutablePlanError(`step ${s.step_id} names agent ${agentId}, which is not registered`, [
        { step_id: s.step_id, agent_id: agentId, reason: 'UNKNOWN_AGENT' },
      ]);
    const issue = issueById.get(s.issue_id);
    const category = s.category ?? issue?.category ?? agent.categories[0];
    return {
      step_id: s.step_id,
      issue_id: s.issue_id,
      agent_id: agentId,
      depends_on: s.depends_on,
      duration_ms: stepDurationMs(
        s.estimated_duration ?? issue?.estimated_duration,
        agent.avg_step_duration,
        category as Category,
      ),
      cpu_units: s.resources?.cpu_units ?? issue?.resources?.cpu_units,
      memory_mb: s.resources?.memory_mb ?? issue?.resources?.memory_mb,
    };
  });
  return planSchedule(steps, plannerLimits(plan.constraints ?? {}, agents), options.now_ms);
}

function stepDurationMs(
  issueEstimate: string | undefined,
  agentAverage: string | undefined,
  category: Category,
) {
  if (issueEstimate) return parseDuration(issueEstimate);
  if (agentAverage) return parseDuration(agentAverage);
  return DEFAULT_STEP_DURATION_MS[category];
}

/** Agent slots are what is left of each agent's concurrency, never below one. */
function plannerLimits(constraints: ResourceConstraints, agents: readonly AgentSnapshot[]): PlannerLimits {
  const slots: Record<string, number> = {};
  for (const a of [...agents].sort((x, y) => compareIds(x.agent_id, y.agent_id))) {
    slots[a.agent_id] =
      constraints.agent_concurrency?.[a.agent_id] ?? Math.max(1, a.max_concurrency - a.current_load);
  }
  return {
    agent_slots: slots,
    max_parallel_steps: constraints.max_parallel_steps,
    cpu_units: constraints.cpu_units,
    memory_mb: constraints.memory_mb,
  };
}
