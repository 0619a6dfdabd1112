import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { EXIT, UsageError } from '../../../cli/errors';
import { detectRequestRoute } from '../../../cli/request-shape';

const sample = (name: string): unknown =>
  JSON.parse(readFileSync(join(__dirname, '..', '..', '..', 'events', 'samples', name), 'utf8'));

describe('detectRequestRoute', () => {
  it('sends the issue samples to POST issues and the plan sample to POST workflows', () => {
    expect(detectRequestRoute(sample('issue-triage-request.json'))).toBe('issues');
    expect(detectRequestRoute(sample('issue-triage-request-rollback.json'))).toBe('issues');
    expect(detectRequestRoute(sample('recovery-workflow-request.json'))).toBe('workflows');
  });

  it.each([
    ['an array', []],
    ['null', null],
    ['an unrelated object', { name: 'package' }],
    ['both requests at once', { detected_issues: [], recovery_plan: {} }],
  ])('rejects %s as a usage error', (_what, document) => {
    let thrown: unknown;
    try {
      detectRequestRoute(document, 'x.json');
    } catch (error) {
      thrown = error;
    }

    expect(thrown).toBeInstanceOf(UsageError);
    expect((thrown as UsageError).exitCode).toBe(EXIT.USAGE);
    expect((thrown as UsageError).message).toMatch(/x\.json/);
  });
});
