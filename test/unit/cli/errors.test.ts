import { apiErrorFrom, apiUrl } from '../../../cli/api';
import { parseCount, parseTtl } from '../../../cli/commands';
import {
  ApiError,
  connectionErrorCode,
  EXIT,
  exitCodeForWorkflow,
  reportFor,
  TargetError,
  UsageError,
  WatchTimeoutError,
} from '../../../cli/errors';

describe('exit codes', () => {
  it('gives 0 only to a SUCCEEDED workflow and 1 to every other ending', () => {
    expect(exitCodeForWorkflow('SUCCEEDED')).toBe(EXIT.OK);
    for (const status of ['FAILED', 'ROLLED_BACK', 'ROLLBACK_FAILED', 'CANCELLED'])
      expect(exitCodeForWorkflow(status)).toBe(EXIT.WORKFLOW_FAILED);
  });

  it('maps each kind of failure to its documented code', () => {
    expect(reportFor(new UsageError('bad')).exitCode).toBe(2);
    expect(reportFor(new TargetError('down', 'start it')).exitCode).toBe(3);
    expect(reportFor(new WatchTimeoutError('late')).exitCode).toBe(4);
    expect(reportFor(new ApiError(409, 'WORKFLOW_STATE_CONFLICT', 'ended')).exitCode).toBe(5);
    expect(reportFor(new ApiError(429, 'BACKLOG_FULL', 'full', [], 30)).exitCode).toBe(6);
    const refused = Object.assign(new TypeError('fetch failed'), { cause: { code: 'ECONNREFUSED' } });
    expect(reportFor(refused)).toEqual({
      exitCode: 3,
      lines: ['cannot reach the target (ECONNREFUSED): fetch failed'],
    });
  });

  it('adds the hint as a second line', () => {
    expect(reportFor(new TargetError('down', 'npm start')).lines).toEqual(['down', 'hint: npm start']);
  });

  it('finds a connection error code however deep the SDK or fetch nest it', () => {
    expect(connectionErrorCode({ cause: { errors: [{ code: 'ECONNREFUSED' }] } })).toBe('ECONNREFUSED');
    expect(connectionErrorCode(new Error('other'))).toBeUndefined();
  });
});

describe('apiErrorFrom', () => {
  it('keeps the C3 error code, the details and the Retry-After of a 429', () => {
    // Prepare
    const body = JSON.stringify({
      error: {
        code: 'BACKLOG_FULL',
        message: 'the backlog holds 5000 issues',
        details: [{ path: ['detected_issues', 0], message: 'x' }],
      },
    });

    // Act
    const error = apiErrorFrom(429, '30', body);

    // Assess
    expect(error).toMatchObject({
      status: 429,
      code: 'BACKLOG_FULL',
      retryAfterSeconds: 30,
      exitCode: EXIT.THROTTLED,
    });
    expect(error.message).toBe(
      'BACKLOG_FULL (429): the backlog holds 5000 issues [detected_issues.0: x]; retry after 30 s',
    );
  });

  it('falls back to HTTP_<status> and the text for a body that is not the error model', () => {
    const error = apiErrorFrom(502, null, '<html>Bad Gateway</html>');

    expect(error).toMatchObject({
      code: 'HTTP_502',
      apiMessage: '<html>Bad Gateway</html>',
      exitCode: EXIT.API,
    });
  });

  it('shows at most three details and counts the rest', () => {
    const details = ['a', 'b', 'c', 'd', 'e'];
    const error = apiErrorFrom(
      400,
      null,
      JSON.stringify({ error: { code: 'VALIDATION_FAILED', message: 'm', details } }),
    );

    expect(error.message).toBe('VALIDATION_FAILED (400): m [a; b; c; +2 more]');
  });
});

describe('option parsing', () => {
  it('reads lifetimes in seconds or with a unit', () => {
    expect(parseTtl('900')).toBe(900);
    expect(parseTtl('15m')).toBe(900);
    expect(parseTtl('2h')).toBe(7200);
    expect(parseTtl('7d')).toBe(604_800);
  });

  it('rejects a lifetime it cannot read, and counts out of range, as usage errors', () => {
    expect(() => parseTtl('soon')).toThrow(UsageError);
    expect(() => parseCount('--max', '0', 10)).toThrow(UsageError);
    expect(() => parseCount('--max', '11', 10)).toThrow(/from 1 to 10/);
    expect(parseCount('--max', '10', 10)).toBe(10);
  });

  it('builds API URLs under api/orchestrator and drops undefined query values', () => {
    expect(apiUrl('http://h/v1/', 'dlq', { queue: 'network', limit: undefined })).toBe(
      'http://h/v1/api/orchestrator/dlq?queue=network',
    );
    expect(apiUrl('http://h/v1', 'progress')).toBe('http://h/v1/api/orchestrator/progress');
  });
});
