/**
 * The REST API as the page calls it: same origin, under the path the page itself was served
 * from (`<stage>/api/orchestrator/dashboard` -> `<stage>/api/orchestrator/`), with the token as
 * a bearer header. Reads only: the dashboard changes nothing.
 */

/** An answer other than 2xx, with the C3 error code when the body has one. */
export class ApiCallError extends Error {
  override readonly name = 'ApiCallError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** `https://h/v1/api/orchestrator/dashboard` -> `https://h/v1/api/orchestrator/`. */
export function apiBase(pageUrl: string): URL {
  return new URL('./', pageUrl);
}

export interface Api {
  get<T>(path: string): Promise<T>;
}

/**
 * @example
 * const api = createApi(apiBase(location.href), () => token);
 * const { agents } = await api.get<AgentList>('agents');
 */
export function createApi(base: URL, token: () => string): Api {
  return {
    async get<T>(path: string): Promise<T> {
      const response = await fetch(new URL(path, base), {
        headers: { Authorization: `Bearer ${token()}`, Accept: 'application/json' },
        cache: 'no-store',
        credentials: 'omit',
        referrerPolicy: 'no-referrer',
      });
      const text = await response.text();
      const body: unknown = text === '' ? undefined : safeJson(text);
      if (!response.ok) {
        const error = (body as { error?: { code?: string; message?: string } } | undefined)?.error;
        throw new ApiCallError(
          response.status,
          error?.code ?? `HTTP_${response.status}`,
          error?.message ?? response.statusText,
        );
      }
      return body as T;
    },
  };
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
