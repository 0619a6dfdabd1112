import './test-env';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { createBacklogGate } from '#shared/backpressure';
import { BacklogFullError, toApiError } from '#shared/errors';
import { metrics } from '#shared/powertools';

afterEach(() => jest.restoreAllMocks());

/** A backlog whose size the test sets, recording every count it is asked for. */
function fakeBacklog(size: number) {
  const backlog = {
    size,
    requests: [] as number[],
    count: async (atLeast: number) => {
      backlog.requests.push(atLeast);
      return Math.min(backlog.size, atLeast);
    },
  };
  return backlog;
}

/** A clock the test moves by hand. */
function manualClock() {
  const clock = { ms: 1_000, now: () => clock.ms };
  return clock;
}

const OPTIONS = { maxBacklog: 10, retryAfterSeconds: 30, cacheMs: 5_000 } as const;

describe('createBacklogGate', () => {
  it('admits new work while the backlog is below the bound, counting only up to the bound', async () => {
    // Prepare
    const backlog = fakeBacklog(9);
    const gate = createBacklogGate({ ...OPTIONS, countBacklog: backlog.count, now: manualClock().now });

    // Act
    const admitted = gate.admit();

    // Assess
    await expect(admitted).resolves.toBeUndefined();
    expect(backlog.requests).toEqual([10]);
  });

  it('rejects at the bound with 429 BACKLOG_FULL, a Retry-After header and a message naming the bound', async () => {
    // Prepare
    const backlog = fakeBacklog(10);
    const gate = createBacklogGate({ ...OPTIONS, countBacklog: backlog.count, now: manualClock().now });
    const addMetric = jest.spyOn(metrics, 'addMetric');

    // Act
    const error = await gate.admit().catch((e: unknown) => e);

    // Assess
    expect(error).toBeInstanceOf(BacklogFullError);
    const api = toApiError(error);
    expect(api).toMatchObject({ status: 429, code: 'BACKLOG_FULL', headers: { 'retry-after': '30' } });
    expect(api.message).toContain('10');
    expect(api.message).toContain('MAX_BACKLOG_ISSUES');
    expect(addMetric).toHaveBeenCalledWith('BacklogRejected', MetricUnit.Count, 1);
  });

  it('reuses a count inside the cache window and counts again once it has passed', async () => {
    // Prepare
    const backlog = fakeBacklog(10);
    const clock = manualClock();
    const gate = createBacklogGate({ ...OPTIONS, countBacklog: backlog.count, now: clock.now });
    await expect(gate.admit()).rejects.toBeInstanceOf(BacklogFullError);
    backlog.size = 0;

    // Act
    clock.ms += 4_999;
    const insideWindow = await gate.admit().catch((e: unknown) => e);
    clock.ms += 1;
    const afterWindow = await gate.admit().catch((e: unknown) => e);

    // Assess
    expect(insideWindow).toBeInstanceOf(BacklogFullError);
    expect(afterWindow).toBeUndefined();
    expect(backlog.requests).toHaveLength(2);
  });

  it('counts on every request when the window is 0', async () => {
    // Prepare
    const backlog = fakeBacklog(3);
    const gate = createBacklogGate({
      ...OPTIONS,
      cacheMs: 0,
      countBacklog: backlog.count,
      now: manualClock().now,
    });

    // Act
    await gate.admit();
    await gate.admit();

    // Assess
    expect(backlog.requests).toEqual([10, 10]);
  });

  it('shares one count among concurrent requests of a burst', async () => {
    // Prepare
    const backlog = fakeBacklog(2);
    const gate = createBacklogGate({ ...OPTIONS, countBacklog: backlog.count, now: manualClock().now });

    // Act
    await Promise.all(Array.from({ length: 20 }, () => gate.admit()));

    // Assess
    expect(backlog.requests).toHaveLength(1);
  });

  it('counts again after a failed count instead of caching the failure', async () => {
    // Prepare
    const backlog = fakeBacklog(0);
    let fail = true;
    const gate = createBacklogGate({
      ...OPTIONS,
      countBacklog: async (atLeast) => {
        if (fail) throw new Error('count failed');
        return backlog.count(atLeast);
      },
      now: manualClock().now,
    });
    await expect(gate.admit()).rejects.toThrow('count failed');
    fail = false;

    // Act
    const admitted = gate.admit();

    // Assess
    await expect(admitted).resolves.toBeUndefined();
    expect(backlog.requests).toEqual([10]);
  });

  it('lets a request whose work was already accepted through a full backlog, and asks only when full', async () => {
    // Prepare
    const full = createBacklogGate({
      ...OPTIONS,
      countBacklog: fakeBacklog(10).count,
      now: manualClock().now,
    });
    const roomy = createBacklogGate({
      ...OPTIONS,
      countBacklog: fakeBacklog(1).count,
      now: manualClock().now,
    });
    const asked: string[] = [];
    const accepted = (answer: boolean, gate: string) => async () => {
      asked.push(gate);
      return answer;
    };

    // Act
    const retried = full.admit(accepted(true, 'full'));
    const fresh = full.admit(accepted(false, 'full'));
    const notFull = roomy.admit(accepted(false, 'roomy'));

    // Assess
    await expect(retried).resolves.toBeUndefined();
    await expect(fresh).rejects.toBeInstanceOf(BacklogFullError);
    await expect(notFull).resolves.toBeUndefined();
    expect(asked).toEqual(['full', 'full']);
  });
});
