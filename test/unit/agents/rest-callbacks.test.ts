/**
 * restCallbacks: the agent's answers over POST tasks/*, with an injected fetch standing in for
 * the API (the e2e suite drives the real one). Checks the requests and the error mapping.
 */
import { CallbackError, isCallbackGone, restCallbacks } from '#agents/sdk/index';

interface Call {
  readonly url: string;
  readonly init: RequestInit;
}

function fakeFetch(status: number, body = '{}'): { fetch: typeof fetch; calls: Call[] } {
  const calls: Call[] = [];
  const fetch = (async (url: string | URL | Request, init?: RequestInit) => {
    calls.push({ url: String(url), init: init ?? {} });
    return new Response(body, { status });
  }) as typeof globalThis.fetch;
  return { fetch, calls };
}

describe('restCallbacks', () => {
  it('posts success, failure and heartbeat with the agent token', async () => {
    // Prepare
    const { fetch, calls } = fakeFetch(200);
    const callbacks = restCallbacks({ restApiUrl: 'https://api.example/v1', token: () => 'jwt-1', fetch });

    // Act
    await callbacks.success('tok', '{"ok":true}');
    await callbacks.failure('tok', 'Agent.Permanent', 'broken');
    await callbacks.heartbeat('tok');

    // Assess
    expect(calls.map((c) => c.url)).toEqual([
      'https://api.example/v1/api/orchestrator/tasks/success',
      'https://api.example/v1/api/orchestrator/tasks/failure',
      'https://api.example/v1/api/orchestrator/tasks/heartbeat',
    ]);
    expect(calls.map((c) => JSON.parse(String(c.init.body)))).toEqual([
      { task_token: 'tok', output: { ok: true } },
      { task_token: 'tok', error: { code: 'Agent.Permanent', message: 'broken' } },
      { task_token: 'tok' },
    ]);
    expect(new Headers(calls[0]?.init.headers).get('authorization')).toBe('Bearer jwt-1');
  });

  it('reports 410 TASK_GONE as a gone callback, which the agent drops', async () => {
    const { fetch } = fakeFetch(410, '{"error":{"code":"TASK_GONE","message":"late"}}');
    const failure = restCallbacks({ restApiUrl: 'https://api.example/v1/', token: 't', fetch }).heartbeat(
      'tok',
    );
    await expect(failure).rejects.toMatchObject({ name: 'TaskTimedOut', status: 410 });
    await failure.catch((error: unknown) => expect(isCallbackGone(error)).toBe(true));
  });

  it('reports throttling and server errors as retryable, not gone', async () => {
    for (const status of [429, 503]) {
      const { fetch } = fakeFetch(status, '<html>busy</html>');
      const failure = restCallbacks({ restApiUrl: 'https://api.example/v1/', token: 't', fetch }).success(
        'tok',
        '{}',
      );
      await expect(failure).rejects.toBeInstanceOf(CallbackError);
      await failure.catch((error: unknown) => expect(isCallbackGone(error)).toBe(false));
    }
  });
});
