/**
 * POST api/orchestrator/resources/optimize over the real chain and DynamoDB Local: a
 * given recovery plan, and the pending backlog of committed workflows.
 */
import { randomUUID } from 'node:crypto';
import { BatchWriteCommand } from '@aws-sdk/lib-dynamodb';
import * as z from 'zod';
import {
  Identifier,
  IntakeAccepted,
  RecoveryWorkflowRequest,
  ResourceAllocation,
  type ScheduledStep,
} from '#core/wire';
import { keys } from '#shared/table-design';
import {
  type Api,
  documents,
  loadApi,
  queryPartition,
  referenceAgents,
  registerAgents,
  sample,
  TABLE_NAME,
  tokenFor,
  uniqueId,
} from './harness';

let api: Api;

beforeAll(async () => {
  api = await loadApi();
  // One agent per category, so every categorised step and backlog issue can be routed.
  await registerAgents(api, referenceAgents());
});

afterAll(async () => {
  await api.close();
});

const workflowSample = RecoveryWorkflowRequest.parse(sample('recovery-workflow-request.json').json);

function byStepId(steps: readonly ScheduledStep[]): Map<string, ScheduledStep> {
  return new Map(steps.map((step) => [step.step_id, step]));
}

async function optimize(body: unknown) {
  const { token } = await tokenFor('operator');
  return api.call({ operationId: 'optimizeResources', token, body });
}

describe('POST resources/optimize with a recovery plan', () => {
  it("answers 200 with a ResourceAllocation that keeps the plan's agents, dependencies and parallelism limit", async () => {
    // Prepare
    const plan = workflowSample.recovery_plan;

    // Act
    const answer = await optimize({ recovery_plan: plan });

    // Assess
    expect(answer.status).toBe(200);
    const allocation = ResourceAllocation.parse(answer.body);
    const steps = byStepId(allocation.steps);
    expect([...steps.keys()].sort()).toEqual(plan.steps.map((s) => s.step_id).sort());
    for (const step of plan.steps) {
      const scheduled = steps.get(step.step_id);
      if (step.agent_id) expect(scheduled?.agent_id).toBe(step.agent_id);
      for (const dependency of step.depends_on)
        expect(scheduled?.start_offset_ms).toBeGreaterThanOrEqual(
          steps.get(dependency)?.finish_offset_ms ?? Infinity,
        );
    }
    expect(steps.get('scale-orders')?.agent_id).toEqual(expect.any(String));
    expect(allocation.resource_requirements.peak_parallel_steps).toBeLessThanOrEqual(
      plan.constraints?.max_parallel_steps ?? 0,
    );
  });

  it("applies the request's constraints instead of the plan's", async () => {
    // Prepare
    const plan = workflowSample.recovery_plan;

    // Act
    const answer = await optimize({ recovery_plan: plan, constraints: { max_parallel_steps: 1 } });

    // Assess
    expect(answer.status).toBe(200);
    const allocation = ResourceAllocation.parse(answer.body);
    expect(allocation.resource_requirements.peak_parallel_steps).toBe(1);
    // One step at a time: 5 + 8 + 3 + 2 minutes.
    expect(allocation.makespan).toBe('PT18M');
  });

  it('rejects a plan naming an unregistered agent with 422 UNROUTABLE_PLAN', async () => {
    // Prepare
    const body = {
      recovery_plan: { steps: [{ step_id: 's1', issue_id: 'i1', agent_id: uniqueId('ghost') }] },
    };

    // Act
    const answer = await optimize(body);

    // Assess
    expect(answer.status).toBe(422);
    expect(answer.body).toMatchObject({ error: { code: 'UNROUTABLE_PLAN' } });
  });
});

describe('POST resources/optimize without a plan', () => {
  /** Intake of three categorised issues, b depending on a; returns the workflow id and issue ids. */
  async function submitBacklog(issueId: (suffix: string) => string) {
    const { token } = await tokenFor('operator');
    const answer = await api.call({
      operationId: 'submitIssues',
      token,
      headers: { 'Idempotency-Key': randomUUID() },
      body: {
        detected_issues: [
          { issue_id: issueId('a'), title: 'Bad config pushed', severity: 'high', category: 'configuration' },
          {
            issue_id: issueId('b'),
            title: 'Rollback needed',
            severity: 'medium',
            category: 'deployment',
            depends_on: [issueId('a')],
          },
          { issue_id: issueId('c'), title: 'Queue backlog growing', severity: 'low', category: 'capacity' },
        ],
      },
    });
    expect(answer.status).toBe(202);
    const accepted = IntakeAccepted.parse(answer.body);
    expect(accepted.assignment.unassigned).toEqual([]);
    return { workflowId: accepted.workflow_id, issueIds: ['a', 'b', 'c'].map(issueId) };
  }

  it('plans the pending backlog, including the issues of a workflow just submitted', async () => {
    // Prepare
    const prefix = uniqueId('backlog');
    const { workflowId, issueIds } = await submitBacklog((suffix) => `${prefix}-${suffix}`);
    const stepId = (issueId: string) => `${workflowId}:${issueId}`;

    // Act
    const answer = await optimize({});

    // Assess
    expect(answer.status).toBe(200);
    const allocation = ResourceAllocation.parse(answer.body);
    const steps = byStepId(allocation.steps);
    for (const issueId of issueIds) expect(steps.get(stepId(issueId))).toMatchObject({ issue_id: issueId });
    const [a, b] = issueIds.map((id) => steps.get(stepId(id)));
    expect(b?.depends_on).toEqual([stepId(issueIds[0] ?? '')]);
    expect(b?.start_offset_ms).toBeGreaterThanOrEqual(a?.finish_offset_ms ?? Infinity);
  });

  it('plans a backlog holding an issue id of the maximum length with step ids the schema accepts', async () => {
    // Prepare: an Identifier may be 80 characters long
    const prefix = uniqueId('long');
    const { workflowId } = await submitBacklog((suffix) => `${prefix}-${suffix}-`.padEnd(80, 'x'));

    try {
      // Act
      const answer = await optimize({});

      // Assess: backlog step ids are `<workflow_id>:<issue_id>`, up to 30 + 80 characters
      expect(answer.status).toBe(200);
      const { steps } = z.object({ steps: z.array(z.object({ step_id: z.string() })) }).parse(answer.body);
      const ours = steps.map((step) => step.step_id).filter((id) => id.startsWith(`${workflowId}:`));
      expect(ours).toHaveLength(3);
      expect(ours.filter((id) => !Identifier.safeParse(id).success)).toEqual([]);
      expect(ResourceAllocation.safeParse(answer.body).success).toBe(true);
    } finally {
      // This workflow's issues would make every later backlog answer invalid too.
      const items = await queryPartition(keys.workflow(workflowId).PK);
      await documents.send(
        new BatchWriteCommand({
          RequestItems: {
            [TABLE_NAME]: items.map((item) => ({ DeleteRequest: { Key: { PK: item.PK, SK: item.SK } } })),
          },
        }),
      );
    }
  });
});
