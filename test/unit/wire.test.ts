import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  AgentRegistration,
  AgentTaskMessage,
  CancelRequest,
  Identifier,
  IsoDuration,
  Issue,
  IssueTriageRequest,
  MAX_ISSUES_PER_REQUEST,
  MAX_PARAMETER_DEPTH,
  Parameters,
  RecoveryWorkflowRequest,
  RedriveRequest,
  RollbackRequest,
  TaskFailureRequest,
  TaskHeartbeatRequest,
  TaskSuccessRequest,
  WIRE_SCHEMAS,
} from '#core/wire';
import { renderSchemas } from '#events/render-schemas';

const root = join(__dirname, '..', '..');
const readJson = (path: string): unknown => JSON.parse(readFileSync(join(root, path), 'utf8'));

describe('generated JSON Schemas', () => {
  it('match the zod source (run `npm run schemas` when this fails)', () => {
    // Prepare
    const expected = renderSchemas();
    // Act
    const onDisk = new Map(
      readdirSync(join(root, 'events', 'schemas')).map((f) => [
        f,
        readFileSync(join(root, 'events', 'schemas', f), 'utf8'),
      ]),
    );
    // Assess
    expect([...onDisk.keys()].sort()).toEqual([...expected.keys()].sort());
    for (const [file, text] of expected) expect({ file, text: onDisk.get(file) }).toEqual({ file, text });
  });

  it('exist for every wire schema, each a draft 2020-12 document with a URN id', () => {
    // Act
    const rendered = renderSchemas();
    // Assess
    for (const name of Object.keys(WIRE_SCHEMAS)) {
      const doc = JSON.parse(rendered.get(`${name}.json`) ?? '{}') as Record<string, unknown>;
      expect(doc.$schema).toBe('https://json-schema.org/draft/2020-12/schema');
      expect(doc.$id).toBe(`urn:master-orchestrator:schema:${name}`);
    }
  });

  it('render request defaults as optional (what a caller may omit)', () => {
    // Act
    const doc = JSON.parse(renderSchemas().get('AgentRegistration.json') ?? '{}') as { required?: string[] };
    // Assess
    expect(doc.required).toEqual(expect.arrayContaining(['agent_id', 'categories']));
    expect(doc.required).not.toContain('max_concurrency');
  });
});

describe('sample payloads', () => {
  it.each([
    ['events/samples/issue-triage-request.json', IssueTriageRequest],
    ['events/samples/recovery-workflow-request.json', RecoveryWorkflowRequest],
    ['events/samples/agent-registration.json', AgentRegistration],
    ['events/samples/agent-task-message.json', AgentTaskMessage],
    ['events/samples/issue-triage-request-rollback.json', IssueTriageRequest],
    ['events/samples/rollback-request.json', RollbackRequest],
    ['events/samples/cancel-request.json', CancelRequest],
    ['events/samples/task-success-request.json', TaskSuccessRequest],
    ['events/samples/task-failure-request.json', TaskFailureRequest],
    ['events/samples/task-heartbeat-request.json', TaskHeartbeatRequest],
    ['events/samples/redrive-request.json', RedriveRequest],
  ] as const)('%s is valid', (path, schema) => {
    // Act
    const result = schema.safeParse(readJson(path));
    // Assess
    expect(result.error?.issues ?? []).toEqual([]);
  });

  it('agents.json holds a valid registration for each of the ten categories', () => {
    // Prepare
    const agents = readJson('events/samples/agents.json') as unknown[];
    // Act
    const parsed = agents.map((a) => AgentRegistration.parse(a));
    // Assess
    expect(new Set(parsed.flatMap((a) => a.categories)).size).toBe(10);
  });

  it('the triage sample holds a realistic batch: dependencies, an explicit category and one vague issue', () => {
    // Act
    const req = IssueTriageRequest.parse(readJson('events/samples/issue-triage-request.json'));
    // Assess
    expect(req.detected_issues.some((i) => (i.depends_on ?? []).length > 0)).toBe(true);
    expect(req.detected_issues.some((i) => i.category !== undefined)).toBe(true);
    expect(req.detected_issues.some((i) => i.category === undefined)).toBe(true);
  });
});

describe('validation at the edge', () => {
  const issue = { issue_id: 'i-1', title: 'DNS failing', severity: 'high' };

  it('rejects unknown fields, so typos in field names are not silently dropped', () => {
    // Act
    const result = Issue.safeParse({ ...issue, severty: 'low' });
    // Assess
    expect(result.success).toBe(false);
    expect(result.error?.issues[0]?.code).toBe('unrecognized_keys');
  });

  it('rejects a severity outside the four words', () => {
    expect(Issue.safeParse({ ...issue, severity: 'urgent' }).success).toBe(false);
  });

  it('rejects an unknown category', () => {
    expect(Issue.safeParse({ ...issue, category: 'misc' }).success).toBe(false);
  });

  it.each(['', '-leading-dash', 'has space', 'a/b', 'x'.repeat(81)])('rejects the identifier %j', (id) => {
    expect(Identifier.safeParse(id).success).toBe(false);
  });

  it.each(['PT5M', 'P1D', 'PT0.5S', 'P2W', 'P1DT2H3M4S'])('accepts the duration %s', (d) => {
    expect(IsoDuration.safeParse(d).success).toBe(true);
  });

  it.each(['P1Y', 'P1M', 'PT', 'P', '5m', 'PT-1S'])(
    'rejects the duration %s (calendar units or malformed)',
    (d) => {
      expect(IsoDuration.safeParse(d).success).toBe(false);
    },
  );

  it('rejects an empty batch and one over the limit', () => {
    // Prepare
    const many = Array.from({ length: MAX_ISSUES_PER_REQUEST + 1 }, (_, k) => ({
      ...issue,
      issue_id: `i-${k}`,
    }));
    // Assess
    expect(IssueTriageRequest.safeParse({ detected_issues: [] }).success).toBe(false);
    expect(IssueTriageRequest.safeParse({ detected_issues: many }).success).toBe(false);
  });

  it('rejects timestamps without a zone', () => {
    expect(Issue.safeParse({ ...issue, detected_at: '2026-11-24T02:00:00' }).success).toBe(false);
  });

  it('accepts parameters nested exactly to the depth limit and rejects one level more', () => {
    // Prepare
    const nest = (levels: number) => {
      let value: Record<string, unknown> = { leaf: 1 };
      for (let k = 1; k < levels; k++) value = { child: value };
      return value;
    };
    // Act
    const atLimit = Parameters.safeParse(nest(MAX_PARAMETER_DEPTH));
    const beyond = Parameters.safeParse(nest(MAX_PARAMETER_DEPTH + 1));
    // Assess
    expect(atLimit.success).toBe(true);
    expect(beyond.success).toBe(false);
    expect(beyond.error?.issues[0]?.message).toBe(`nested more than ${MAX_PARAMETER_DEPTH} levels deep`);
  });

  it('fills plan step defaults the workflow relies on', () => {
    // Act
    const req = RecoveryWorkflowRequest.parse({
      recovery_plan: { steps: [{ step_id: 's1', issue_id: 'i-1' }] },
    });
    // Assess
    expect(req.recovery_plan.steps[0]).toMatchObject({
      action: 'remediate',
      depends_on: [],
      idempotent: false,
    });
  });
});
