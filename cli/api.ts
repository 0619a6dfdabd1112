/**
 * The REST API (contract C3) as the CLI calls it: bearer token, JSON in and out, and errors
 * turned into ApiError (with the C3 error code and Retry-After) or TargetError (unreachable).
 */
import { API_BASE_PATH } from '#shared/routes';
import { ApiError, connectionErrorCode, TargetError } from './errors';

export interface ApiRequest {
  readonly method?: 'GET' | 'POST' | 'DELETE';
  readonly body?: unknown;
  readonly headers?: Record<string, string>;
  readonly query?: Record<string, string | number | undefined>;
}

/** `<RestApiUrl>api/orchestrator/<path>?<query>`, leaving out undefined query values. */
export function apiUrl(restApiUrl: string, path: string, query: ApiRequest['query'] = {}): string {
  const base = restApiUrl.endsWith('/') ? restApiUrl : `${restApiUrl}/`;
  const url = new URL(`${base}${API_BASE_PATH}/${path}`);
  for (const [name, value] of Object.entries(query))
    if (value !== undefined) url.searchParams.set(name, String(value));
  return url.toString();
}

/** The ApiError for a non-2xx answer, from its status, headers and (possibly non-JSON) body. */
export function apiErrorFrom(status: number, retryAfter: string | null, text: string): ApiError {
  let code = `HTTP_${status}`;
  let message = text.trim().slice(0, 200) || 'no body';
  let details: unknown[] = [];
  try {
    const body = JSON.parse(text) as { error?: { code?: unknown; message?: unknown; details?: unknown } };
    if (body.error && typeof body.error.code === 'string') {
      code = body.error.code;
      message = typeof body.error.message === 'string' ? body.error.message : message;
      details = Array.isArray(body.error.details) ? body.error.details : [];
    } else if (typeof (body as { message?: unknown }).message === 'string') {
      message = (body as { message: string }).message;
    }
  } catch {
    // Not JSON (a gateway's HTML page): the text itself is the message.
  }
  const seconds = retryAfter !== null && /^\d+$/.test(retryAfter.trim()) ? Number(retryAfter) : undefined;
  return new ApiError(status, code, message, details, seconds);
}

export class ApiClient {
  constructor(
    readonly restApiUrl: string,
    readonly token: () => Promise<string>,
  ) {}

  async call<T = unknown>(path: string, request: ApiRequest = {}): Promise<T> {
    const url = apiUrl(this.restApiUrl, path, request.query);
    const headers: Record<string, string> = {
      authorization: `Bearer ${await this.token()}`,
      accept: 'application/json',
      ...request.headers,
    };
    if (request.body !== undefined) headers['content-type'] = 'application/json';
    let response: Response;
    try {
      response = await fetch(url, {
        method: request.method ?? 'GET',
        headers,
        body: request.body === undefined ? undefined : JSON.stringify(request.body),
        signal: AbortSignal.timeout(60_000),
      });
    } catch (error) {
      const code = connectionErrorCode(error) ?? (error as Error).name;
      throw new TargetError(
        `cannot reach the API at ${new URL(url).origin} (${code})`,
        /127\.0\.0\.1|localhost/.test(url) ? 'is the offline runtime running? (npm start)' : undefined,
        { cause: error },
      );
    }
    const text = await response.text();
    if (!response.ok) throw apiErrorFrom(response.status, response.headers.get('retry-after'), text);
    return (text === '' ? undefined : JSON.parse(text)) as T;
  }
}
