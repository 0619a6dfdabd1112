/**
 * GET dashboard (public): the live dashboard's page, built from dashboard/ by esbuild, served
 * with a strict Content-Security-Policy whose hashes match the inline script and style, and
 * told where the progress socket is.
 */
import { createHash } from 'node:crypto';
import { servePage } from '../../../functions/dashboard/page';
import { type Api, DASHBOARD_WEBSOCKET_URL, loadApi } from './harness';

let api: Api;

beforeAll(async () => {
  api = await loadApi();
});

afterAll(async () => {
  await api.close();
});

const sha256 = (text: string) => `'sha256-${createHash('sha256').update(text).digest('base64')}'`;

/** The text of the one `<tag>` element of the page. */
function inline(html: string, tag: 'script' | 'style'): string {
  const found = [...html.matchAll(new RegExp(`<${tag}>([\\s\\S]*?)</${tag}>`, 'g'))];
  expect(found).toHaveLength(1);
  return found[0]?.[1] ?? '';
}

/** The CSP as directive -> sources. */
function directives(csp: string): Map<string, string[]> {
  return new Map(
    csp.split(';').map((part) => {
      const [name = '', ...sources] = part.trim().split(/\s+/);
      return [name, sources];
    }),
  );
}

describe('GET dashboard', () => {
  it('answers 200 with the HTML page, without a token', async () => {
    // Act
    const answer = await api.call({ operationId: 'dashboard' });

    // Assess
    expect(answer.status).toBe(200);
    expect(answer.headers['content-type']).toBe('text/html; charset=utf-8');
    const html = String(answer.body);
    expect(html).toMatch(/^<!doctype html>/i);
    expect(html).toContain('<html lang="en">');
    expect(html).toContain('id="token-form"');
    expect(html).toContain(`<meta name="orchestrator-websocket-url" content="${DASHBOARD_WEBSOCKET_URL}">`);
    expect(html).not.toContain('__WEBSOCKET_URL__');
  });

  it('locks the page down: CSP by hash, only this API and the socket to connect to, no caching or referrer', async () => {
    // Act
    const answer = await api.call({ operationId: 'dashboard' });

    // Assess
    const html = String(answer.body);
    const csp = directives(String(answer.headers['content-security-policy']));
    expect(csp.get('default-src')).toEqual(["'none'"]);
    expect(csp.get('script-src')).toEqual([sha256(inline(html, 'script'))]);
    expect(csp.get('style-src')).toEqual([sha256(inline(html, 'style'))]);
    expect(csp.get('connect-src')).toEqual(["'self'", new URL(DASHBOARD_WEBSOCKET_URL).origin]);
    expect(csp.get('frame-ancestors')).toEqual(["'none'"]);
    expect(csp.get('base-uri')).toEqual(["'none'"]);
    expect(String(answer.headers['content-security-policy'])).not.toContain('unsafe');
    expect(answer.headers).toMatchObject({
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
      'cache-control': 'no-store',
      'x-frame-options': 'DENY',
    });
  });

  it('is listed in the OpenAPI document as a public text/html route', async () => {
    // Act
    const answer = await api.call({ operationId: 'openapi' });

    // Assess
    const operation = (
      answer.body as {
        paths: Record<string, { get?: { security: unknown[]; responses: Record<string, unknown> } }>;
      }
    ).paths['/api/orchestrator/dashboard']?.get;
    expect(operation?.security).toEqual([]);
    expect(operation?.responses['200']).toMatchObject({
      content: { 'text/html': { schema: { type: 'string' } } },
    });
  });
});

describe('servePage', () => {
  const page = {
    html: '<meta content="__WEBSOCKET_URL__">',
    scriptHash: "'sha256-a'",
    styleHash: "'sha256-b'",
  };

  it('leaves the socket out of connect-src on a stack without one', () => {
    // Act
    const served = servePage(page, '');

    // Assess
    expect(served.body).toBe('<meta content="">');
    expect(served.headers['content-security-policy']).toContain("connect-src 'self';");
  });

  it('escapes the URL it puts into the attribute', () => {
    // Act
    const served = servePage(page, 'wss://x.example/v1?a="b"&c=<d>');

    // Assess
    expect(served.body).toBe('<meta content="wss://x.example/v1?a=&quot;b&quot;&amp;c=&lt;d&gt;">');
  });

  it('fails when the bundle has no place for the URL', () => {
    // Act
    const serve = () => servePage({ ...page, html: '<p>no marker</p>' }, '');

    // Assess
    expect(serve).toThrow(/__WEBSOCKET_URL__/);
  });
});
