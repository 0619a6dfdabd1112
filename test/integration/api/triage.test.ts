/**
 * POST api/orchestrator/triage: the dry run answers what POST issues would assign and
 * stores nothing, over the real chain and DynamoDB Local.
 */
import { AgentAssignmentResult, IssueTriageRequest } from '#core/wire';
import { type Api, countItemsMentioning, errorCode, loadApi, sample, tokenFor, uniqueId } from './harness';

let api: Api;

beforeAll(async () => {
  api = await loadApi();
});

afterAll(async () => {
  await api.close();
});

/** The sample batch with every issue id (and dependency) under `prefix`, so its items could be found. */
function prefixedSample(prefix: string): IssueTriageRequest {
  const request = IssueTriageRequest.parse(sample('issue-triage-request.json').json);
  return {
    ...request,
    detected_issues: request.detected_issues.map((issue) => ({
      ...issue,
      issue_id: `${prefix}-${issue.issue_id}`,
      ...(issue.depends_on ? { depends_on: issue.depends_on.map((id) => `${prefix}-${id}`) } : {}),
    })),
  };
}

describe('POST triage', () => {
  it('answers 200 with an AgentAssignmentResult for every issue and writes nothing', async () => {
    // Prepare
    const prefix = uniqueId('dry');
    const request = prefixedSample(prefix);
    const { token } = await tokenFor('operator');
    const before = await countItemsMentioning(prefix);

    // Act
    const answer = await api.call({ operationId: 'triageIssues', token, body: request });

    // Assess
    expect(answer.status).toBe(200);
    const assignment = AgentAssignmentResult.parse(answer.body);
    expect(assignment.decisions.map((d) => d.issue_id)).toEqual(
      request.detected_issues.map((i) => i.issue_id),
    );
    const placed = [
      ...Object.values(assignment.assigned_agents).flat(),
      ...assignment.unassigned.map((u) => u.issue_id),
    ];
    expect(placed.sort()).toEqual(request.detected_issues.map((i) => i.issue_id).sort());
    expect(before).toBe(0);
    expect(await countItemsMentioning(prefix)).toBe(0);
  });

  it('rejects a batch with an unknown dependency with 422 UNKNOWN_DEPENDENCY and writes nothing', async () => {
    // Prepare
    const prefix = uniqueId('dry-unknown');
    const { token } = await tokenFor('admin');
    const body = {
      detected_issues: [
        {
          issue_id: `${prefix}-a`,
          title: 'Cache cluster down',
          severity: 'high',
          depends_on: [`${prefix}-zz`],
        },
      ],
    };

    // Act
    const answer = await api.call({ operationId: 'triageIssues', token, body });

    // Assess
    expect(answer.status).toBe(422);
    expect(errorCode(answer)).toBe('UNKNOWN_DEPENDENCY');
    expect(await countItemsMentioning(prefix)).toBe(0);
  });
});
