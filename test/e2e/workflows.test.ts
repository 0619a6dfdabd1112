/**
 * Recovery workflows end to end, against the target `target.ts` resolves: plans go in
 * through POST workflows, the state machine dispatches to the reference agents (contract
 * C8, driven by `parameters.simulate`), and the tests read the outcome through GET
 * workflows/{id}, the Step Functions API (real SDK) and the AWS CLI. Every id is unique
 * to this run, so the suite is safe on a shared account.
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  DescribeExecutionCommand,
  GetExecutionHistoryCommand,
  type HistoryEvent,
  SendTaskSuccessCommand,
  SFNClient,
} from '@aws-sdk/client-sfn';
import {
  GetQueueAttributesCommand,
  ListMessageMoveTasksCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { restCallbacks } from '#agents/sdk/index';
import {
  DeadLetterList,
  IntakeAccepted,
  ManualInterventionMessage,
  type RecoveryWorkflowRequest,
  RedriveResult,
  WorkflowDetail,
} from '#core/wire';
import { TERMINAL_WORKFLOW_STATUSES } from '#core/workflow';
import { type PlanStep, planStep, submitPlan } from './plans';
import { BOOT_TIMEOUT_MS, resolveTarget, type Target } from './target';

const run = promisify(execFile);
const RUN = `wf-e2e-${randomUUID().slice(0, 8)}`;
const SAMPLES = join(__dirname, '..', '..', 'events', 'samples');
const TERMINAL = TERMINAL_WORKFLOW_STATUSES;
/** Longest any one workflow here may take; each test's own timeout is above it. */
const SETTLE_MS = 90_000;

let target: Target;
let sfn: SFNClient;
let sqs: SQSClient;
let operator: string;

const step = planStep;

const submit = (steps: PlanStep[], key?: string) => submitPlan(target, operator, RUN, steps, key);

async function detail(workflowId: string): Promise<WorkflowDetail> {
  const response = await fetch(target.url(`workflows/${workflowId}`), {
    headers: { authorization: `Bearer ${operator}` },
  });
  expect(response.status).toBe(200);
  return WorkflowDetail.parse(await response.json());
}

/** Polls GET workflows/{id} until the workflow ends; bounded by SETTLE_MS. */
async function settle(workflowId: string): Promise<WorkflowDetail> {
  const until = Date.now() + SETTLE_MS;
  for (;;) {
    const current = await detail(workflowId);
    if (TERMINAL.includes(current.status)) return current;
    if (Date.now() > until)
      throw new Error(`workflow ${workflowId} is still ${current.status} after ${SETTLE_MS} ms`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/**
 * Polls DescribeExecution until the execution leaves RUNNING; bounded by SETTLE_MS. The workflow
 * record turns terminal in the last Task, a moment before the execution itself ends.
 */
async function ended(executionArn: string) {
  const until = Date.now() + SETTLE_MS;
  for (;;) {
    const described = await sfn.send(new DescribeExecutionCommand({ executionArn }));
    if (described.status !== 'RUNNING') return described;
    if (Date.now() > until)
      throw new Error(`execution ${executionArn} is still RUNNING after ${SETTLE_MS} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function history(executionArn: string): Promise<HistoryEvent[]> {
  const events: HistoryEvent[] = [];
  let nextToken: string | undefined;
  do {
    const page = await sfn.send(
      new GetExecutionHistoryCommand({ executionArn, nextToken, maxResults: 1000 }),
    );
    events.push(...(page.events ?? []));
    nextToken = page.nextToken;
  } while (nextToken);
  return events;
}

const stepOf = (workflow: WorkflowDetail, id: string) => {
  const found = workflow.steps.find((s) => s.step_id === id);
  if (!found) throw new Error(`no step ${id} in ${workflow.workflow_id}`);
  return found;
};
const ms = (iso: string | null) => Date.parse(iso ?? 'invalid');

describe('recovery workflows', () => {
  beforeAll(async () => {
    target = await resolveTarget(process.env, { referenceAgents: true });
    const client = {
      endpoint: target.aws.endpoint,
      region: target.aws.region,
      credentials: target.aws.credentials,
    };
    sfn = new SFNClient(client);
    sqs = new SQSClient(client);
    operator = await target.tokenFor('operator', `${RUN}-operator`);
  }, BOOT_TIMEOUT_MS);

  afterAll(async () => {
    sfn?.destroy();
    sqs?.destroy();
    await target?.stop();
  }, 60_000);

  it(
    'runs a DAG to SUCCEEDED: each step starts after its dependencies, independent steps overlap',
    async () => {
      // Prepare: a -> (b, c) -> d
      const slow = { outcome: 'succeed', delay_ms: 600 };
      const steps = [
        step('a', { simulate: slow }),
        step('b', { depends_on: ['a'], simulate: slow }),
        step('c', { depends_on: ['a'], category: 'capacity', simulate: slow }),
        step('d', { depends_on: ['b', 'c'], simulate: { outcome: 'succeed' } }),
      ];

      // Act
      const accepted = await submit(steps);
      const done = await settle(accepted.workflow_id);

      // Assess
      expect(done.status).toBe('SUCCEEDED');
      expect(done.completion_percentage).toBe(100);
      for (const s of done.steps) expect(s).toMatchObject({ status: 'SUCCEEDED', attempts: 1 });
      const [a, b, c, d] = ['a', 'b', 'c', 'd'].map((id) => stepOf(done, id));
      for (const later of [b, c])
        expect(ms(later?.started_at ?? null)).toBeGreaterThanOrEqual(ms(a?.completed_at ?? null));
      expect(ms(d?.started_at ?? null)).toBeGreaterThanOrEqual(
        Math.max(ms(b?.completed_at ?? null), ms(c?.completed_at ?? null)),
      );
      // b and c ran at the same time: each started before the other finished.
      expect(ms(b?.started_at ?? null)).toBeLessThan(ms(c?.completed_at ?? null));
      expect(ms(c?.started_at ?? null)).toBeLessThan(ms(b?.completed_at ?? null));
      expect(done.result).toMatchObject({
        status: 'SUCCEEDED',
        resolved_issues: expect.arrayContaining(['a-issue']),
      });
      const described = await ended(accepted.execution_arn);
      expect(described.status).toBe('SUCCEEDED');
    },
    SETTLE_MS + 10_000,
  );

  it(
    'retries a transient failure and then succeeds',
    async () => {
      // Act
      const accepted = await submit([
        step('flaky', { simulate: { outcome: 'succeed', transient_failures: 1 } }),
      ]);
      const done = await settle(accepted.workflow_id);

      // Assess
      expect(done.status).toBe('SUCCEEDED');
      expect(stepOf(done, 'flaky')).toMatchObject({ status: 'SUCCEEDED', attempts: 2 });
      const failed = (await history(accepted.execution_arn)).filter((e) => e.type === 'TaskFailed');
      expect(failed.map((e) => e.taskFailedEventDetails?.error)).toEqual(['Agent.Transient']);
    },
    SETTLE_MS + 10_000,
  );

  it(
    'rolls back a permanent failure: every SUCCEEDED step ends COMPENSATED, latest first',
    async () => {
      // Prepare: a -> b -> c, c fails for good
      const steps = [
        step('a', { simulate: { outcome: 'succeed', delay_ms: 50 } }),
        step('b', { depends_on: ['a'], simulate: { outcome: 'succeed', delay_ms: 50 } }),
        step('c', { depends_on: ['b'], simulate: { outcome: 'fail' } }),
      ];

      // Act
      const accepted = await submit(steps);
      const done = await settle(accepted.workflow_id);

      // Assess
      expect(done.status).toBe('ROLLED_BACK');
      for (const s of done.steps) expect(s.status).toBe('COMPENSATED');
      expect(stepOf(done, 'c').error?.code).toBe('Agent.Permanent');
      const undone = [...done.steps]
        .sort((x, y) => ms(x.compensated_at) - ms(y.compensated_at))
        .map((s) => s.step_id);
      expect(undone).toEqual(['c', 'b', 'a']);
      expect(done.result?.rollback).toMatchObject({
        status: 'ROLLED_BACK',
        compensated_steps: expect.any(Array),
      });
      const described = await ended(accepted.execution_arn);
      expect(described).toMatchObject({ status: 'FAILED', error: 'Workflow.RolledBack' });
    },
    SETTLE_MS + 10_000,
  );

  it(
    'times out an agent that heartbeats but never finishes, after its retries, and rolls back',
    async () => {
      // Prepare: the agent heartbeats (every 2/3 s) but answers only after the 3-second timeout.
      const steps = [
        step('ok', { simulate: { outcome: 'succeed' } }),
        step('slow', {
          depends_on: ['ok'],
          timeout: 'PT3S',
          heartbeat: 'PT2S',
          simulate: { outcome: 'timeout' },
        }),
      ];

      // Act
      const accepted = await submit(steps);
      const done = await settle(accepted.workflow_id);

      // Assess: heartbeats never stretch a step past its TimeoutSeconds.
      expect(done.status).toBe('ROLLED_BACK');
      expect(stepOf(done, 'slow')).toMatchObject({ attempts: 4, error: { code: 'States.Timeout' } });
      expect(stepOf(done, 'ok').status).toBe('COMPENSATED');
      const timedOut = (await history(accepted.execution_arn)).filter((e) => e.type === 'TaskTimedOut');
      expect(timedOut.map((e) => e.taskTimedOutEventDetails?.error)).toEqual(Array(4).fill('States.Timeout'));
    },
    SETTLE_MS + 10_000,
  );

  it(
    'keeps a long step alive with heartbeats well past HeartbeatSeconds',
    async () => {
      // Prepare: 5 s of work under a 2-second heartbeat window.
      const steps = [
        step('long', {
          timeout: 'PT30S',
          heartbeat: 'PT2S',
          simulate: { outcome: 'succeed', delay_ms: 5000 },
        }),
      ];

      // Act
      const accepted = await submit(steps);
      const done = await settle(accepted.workflow_id);

      // Assess
      expect(done.status).toBe('SUCCEEDED');
      const long = stepOf(done, 'long');
      expect(long.attempts).toBe(1);
      expect(ms(long.completed_at) - ms(long.started_at)).toBeGreaterThan(4000);
    },
    SETTLE_MS + 10_000,
  );

  it(
    'fails a step whose agent stops heartbeating with States.HeartbeatTimeout',
    async () => {
      // Prepare: the agent takes the message and dies (no heartbeat, no answer).
      const steps = [step('crash', { timeout: 'PT60S', heartbeat: 'PT2S', simulate: { outcome: 'crash' } })];

      // Act
      const accepted = await submit(steps);
      const done = await settle(accepted.workflow_id);

      // Assess
      expect(stepOf(done, 'crash')).toMatchObject({
        attempts: 4,
        error: { code: 'States.HeartbeatTimeout' },
      });
      expect(done.status).toBe('ROLLED_BACK');
      const timedOut = (await history(accepted.execution_arn)).filter((e) => e.type === 'TaskTimedOut');
      expect(timedOut.map((e) => e.taskTimedOutEventDetails?.error)).toEqual(
        Array(4).fill('States.HeartbeatTimeout'),
      );
    },
    SETTLE_MS + 10_000,
  );

  it(
    'ends ROLLBACK_FAILED when a compensation cannot succeed, with the step in the compensation DLQ',
    async () => {
      // Prepare: a's rollback fails; b fails, which starts the rollback.
      const steps = [
        step('a', { simulate: { outcome: 'fail_rollback' } }),
        step('b', { depends_on: ['a'], simulate: { outcome: 'fail' } }),
      ];

      // Act
      const accepted = await submit(steps);
      const done = await settle(accepted.workflow_id);

      // Assess
      expect(done.status).toBe('ROLLBACK_FAILED');
      expect(stepOf(done, 'b').status).toBe('COMPENSATED');
      expect(stepOf(done, 'a').status).toBe('COMPENSATION_FAILED');
      const queueUrl = target.outputs.CompensationDlqUrl as string;
      const found: ManualInterventionMessage[] = [];
      for (let tries = 0; tries < 20 && found.length === 0; tries++) {
        const { Messages = [] } = await sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: queueUrl,
            MaxNumberOfMessages: 10,
            VisibilityTimeout: 0,
            WaitTimeSeconds: 1,
          }),
        );
        found.push(
          ...Messages.map((m) => ManualInterventionMessage.parse(JSON.parse(m.Body ?? '{}'))).filter(
            (m) => m.workflow_id === accepted.workflow_id,
          ),
        );
      }
      expect(found[0]).toMatchObject({ kind: 'compensation_failed', step_id: 'a', error: 'Agent.Permanent' });
    },
    SETTLE_MS + 10_000,
  );

  it(
    'ignores a late callback: the token is closed and the workflow does not change',
    async () => {
      // Prepare
      const accepted = await submit([step('once', { simulate: { outcome: 'succeed' } })]);
      const done = await settle(accepted.workflow_id);
      const scheduled = (await history(accepted.execution_arn)).find(
        (e) =>
          e.type === 'TaskScheduled' &&
          String(e.taskScheduledEventDetails?.parameters).includes('"dispatch"'),
      );
      const token = JSON.parse(String(scheduled?.taskScheduledEventDetails?.parameters)).Payload
        .task_token as string;

      // Act
      const late = sfn.send(new SendTaskSuccessCommand({ taskToken: token, output: '{"late":true}' }));

      // Assess
      await expect(late).rejects.toMatchObject({
        name: expect.stringMatching(/TaskTimedOut|TaskDoesNotExist/),
      });
      const after = await detail(accepted.workflow_id);
      expect(after.status).toBe('SUCCEEDED');
      expect(stepOf(after, 'once').output).toEqual(stepOf(done, 'once').output);
    },
    SETTLE_MS + 10_000,
  );

  it(
    'moves a poison message to the DLQ, shows it in GET dlq, and redrives it',
    async () => {
      // Prepare
      const admin = await target.tokenFor('admin', `${RUN}-admin`);
      const queueUrl = (JSON.parse(target.outputs.AgentQueueUrls ?? '{}') as Record<string, string>)
        .network as string;
      const marker = `${RUN}-poison-${randomUUID()}`;
      await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: `not a task: ${marker}` }));
      const peek = async () => {
        const response = await fetch(target.url('dlq?queue=network&limit=10'), {
          headers: { authorization: `Bearer ${admin}` },
        });
        expect(response.status).toBe(200);
        const list = DeadLetterList.parse(await response.json());
        return list.queues.flatMap((q) => q.messages).filter((m) => m.body.includes(marker));
      };

      // Act: five failed receives, then the DLQ.
      let dead = await peek();
      for (let tries = 0; tries < 120 && dead.length === 0; tries++) {
        await new Promise((resolve) => setTimeout(resolve, 500));
        dead = await peek();
      }
      const redrive = await fetch(target.url('dlq/redrive'), {
        method: 'POST',
        headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
        body: JSON.stringify({ queue: 'network' }),
      });

      // Assess
      expect(dead).toHaveLength(1);
      expect(dead[0]?.receive_count).toBeGreaterThanOrEqual(5);
      expect(redrive.status).toBe(200);
      const moves = RedriveResult.parse(await redrive.json()).moves;
      expect(moves).toEqual([expect.objectContaining({ queue: 'network', task_handle: expect.any(String) })]);
      const dlqUrl = (JSON.parse(target.outputs.AgentDlqUrls ?? '{}') as Record<string, string>)
        .network as string;
      const { Attributes } = await sqs.send(
        new GetQueueAttributesCommand({ QueueUrl: dlqUrl, AttributeNames: ['QueueArn'] }),
      );
      let status = '';
      for (let tries = 0; tries < 60 && status !== 'COMPLETED'; tries++) {
        const { Results = [] } = await sqs.send(
          new ListMessageMoveTasksCommand({ SourceArn: Attributes?.QueueArn }),
        );
        status = Results[0]?.Status ?? '';
        if (status !== 'COMPLETED') await new Promise((resolve) => setTimeout(resolve, 500));
      }
      expect(status).toBe('COMPLETED');
    },
    SETTLE_MS + 10_000,
  );

  it(
    'takes an answer through POST tasks/success from the agent the step was sent to, and no other',
    async () => {
      // Prepare: the reference agent hands the task off (simulate crash) and never answers.
      const accepted = await submit([
        step('handoff', { timeout: 'PT60S', heartbeat: 'PT60S', simulate: { outcome: 'crash' } }),
      ]);
      let token = '';
      for (let tries = 0; tries < 100 && token === ''; tries++) {
        const scheduled = (await history(accepted.execution_arn)).find(
          (e) =>
            e.type === 'TaskScheduled' &&
            String(e.taskScheduledEventDetails?.parameters).includes('"dispatch"'),
        );
        if (scheduled)
          token = JSON.parse(String(scheduled.taskScheduledEventDetails?.parameters)).Payload
            .task_token as string;
        else await new Promise((resolve) => setTimeout(resolve, 200));
      }
      const owner = restCallbacks({
        restApiUrl: target.outputs.RestApiUrl,
        token: await target.tokenFor('agent', 'reference-network'),
      });
      const stranger = restCallbacks({
        restApiUrl: target.outputs.RestApiUrl,
        token: await target.tokenFor('agent', `${RUN}-stranger`),
      });

      // Act
      const refused = stranger.success(token, '{"from":"stranger"}');
      await expect(refused).rejects.toMatchObject({ status: 403 });
      await owner.heartbeat(token);
      await owner.success(token, '{"via":"rest"}');
      const done = await settle(accepted.workflow_id);

      // Assess
      expect(done.status).toBe('SUCCEEDED');
      expect(stepOf(done, 'handoff').output).toEqual({ via: 'rest' });
      await expect(owner.success(token, '{"again":true}')).rejects.toMatchObject({ name: 'TaskTimedOut' });
    },
    SETTLE_MS + 10_000,
  );

  it(
    'starts one execution for a duplicate POST with the same Idempotency-Key',
    async () => {
      // Prepare
      const key = randomUUID();
      const steps = [step('dup', { simulate: { outcome: 'succeed' } })];

      // Act: a client retrying after a lost answer sends the same request again.
      const first = await submit(steps, key);
      const second = await submit(steps, key);
      const done = await settle(first.workflow_id);

      // Assess
      expect(second.workflow_id).toBe(first.workflow_id);
      expect(second.execution_arn).toBe(first.execution_arn);
      expect(done.executions).toEqual([first.execution_arn]);
      expect(stepOf(done, 'dup').attempts).toBe(1);
    },
    SETTLE_MS + 10_000,
  );

  it(
    'shows the path a workflow took through GetExecutionHistory in the AWS CLI',
    async () => {
      // Prepare
      const accepted = await submit([step('cli', { simulate: { outcome: 'succeed' } })]);
      await settle(accepted.workflow_id);
      const endpoint = target.aws.endpoint ? ['--endpoint-url', target.aws.endpoint] : [];
      const env = target.aws.credentials
        ? {
            ...process.env,
            AWS_ACCESS_KEY_ID: target.aws.credentials.accessKeyId,
            AWS_SECRET_ACCESS_KEY: target.aws.credentials.secretAccessKey,
            AWS_DEFAULT_REGION: target.aws.region ?? 'us-east-1',
          }
        : process.env;

      // Act
      const { stdout } = await run(
        'aws',
        [
          ...endpoint,
          'stepfunctions',
          'get-execution-history',
          '--execution-arn',
          accepted.execution_arn,
          '--output',
          'json',
        ],
        { env, timeout: 60_000 },
      );

      // Assess
      const entered = (JSON.parse(stdout) as { events: HistoryEvent[] }).events
        .filter((e) => e.type?.endsWith('StateEntered'))
        .map((e) => e.stateEnteredEventDetails?.name);
      expect(entered).toEqual([
        'Route',
        'Plan',
        'RunSegments',
        'OrderWave',
        'RunSteps',
        'Dispatch',
        'Record',
        'Complete',
      ]);
    },
    SETTLE_MS + 10_000,
  );

  it.each([
    ['issue-triage-request.json', 'SUCCEEDED'],
    ['issue-triage-request-rollback.json', 'ROLLED_BACK'],
  ] as const)(
    'runs the sample batch %s through POST issues to %s',
    async (file, expected) => {
      // Act
      const response = await fetch(target.url('issues'), {
        method: 'POST',
        headers: {
          authorization: `Bearer ${operator}`,
          'content-type': 'application/json',
          'idempotency-key': randomUUID(),
        },
        body: readFileSync(join(SAMPLES, file), 'utf8'),
      });
      const accepted = IntakeAccepted.parse(await response.json());
      const done = await settle(accepted.workflow_id);

      // Assess
      expect(response.status).toBe(202);
      expect(accepted.execution_arn).toEqual(expect.any(String));
      expect(done.status).toBe(expected);
      const assigned = accepted.assignment.decisions.filter((d) => d.status === 'ASSIGNED');
      expect(done.steps.map((st) => st.issue_id).sort()).toEqual(assigned.map((d) => d.issue_id).sort());
      expect(assigned.length).toBeGreaterThanOrEqual(4);
    },
    SETTLE_MS + 10_000,
  );

  it(
    'runs the sample plan from events/samples to SUCCEEDED',
    async () => {
      // Prepare: the sample names its own steps; give them ids unique to this run.
      const sample = JSON.parse(
        readFileSync(join(SAMPLES, 'recovery-workflow-request.json'), 'utf8'),
      ) as RecoveryWorkflowRequest;

      // Act
      const accepted = await submit(
        sample.recovery_plan.steps.map((s) => ({ ...s, estimated_duration: 'PT1S' })),
      );
      const done = await settle(accepted.workflow_id);

      // Assess
      expect(done.status).toBe('SUCCEEDED');
      expect(done.steps).toHaveLength(sample.recovery_plan.steps.length);
    },
    SETTLE_MS + 10_000,
  );
});
