/**
 * The dashboard page as served: the bundled HTML with the progress socket's URL filled in, and
 * the headers that lock it down. Pure; the handler calls it once per execution environment.
 */

/** Where the bundle leaves room for the socket's URL (an attribute value, so it is HTML-escaped). */
export const WEBSOCKET_URL_MARKER = '__WEBSOCKET_URL__';

export interface BundledPage {
  readonly html: string;
  readonly scriptHash: string;
  readonly styleHash: string;
}

export interface ServedPage {
  readonly body: string;
  readonly headers: Readonly<Record<string, string>>;
}

const escapeAttribute = (value: string): string =>
  value.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** `wss://abc.execute-api.eu-west-1.amazonaws.com/v1` -> `wss://abc.execute-api.eu-west-1.amazonaws.com`. */
function socketOrigin(websocketUrl: string): string | undefined {
  if (websocketUrl === '') return undefined;
  const url = new URL(websocketUrl);
  return `${url.protocol}//${url.host}`;
}

/**
 * The Content-Security-Policy: nothing by default; the one inline script and style sheet by
 * hash (no `'unsafe-inline'`); requests to this API (`'self'`) and to the progress socket only.
 * @example
 * contentSecurityPolicy(page, 'wss://abc.execute-api.eu-west-1.amazonaws.com/v1');
 * // "default-src 'none'; script-src 'sha256-…'; … connect-src 'self' wss://abc.execute-api.eu-west-1.amazonaws.com; …"
 */
export function contentSecurityPolicy(page: BundledPage, websocketUrl: string): string {
  const origin = socketOrigin(websocketUrl);
  return [
    "default-src 'none'",
    `script-src ${page.scriptHash}`,
    `style-src ${page.styleHash}`,
    `connect-src 'self'${origin ? ` ${origin}` : ''}`,
    "img-src 'self' data:",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}

/**
 * The page with `websocketUrl` in place (empty: the page polls), and its headers.
 * @example
 * const { body, headers } = servePage(DASHBOARD_PAGE, process.env.WEBSOCKET_URL ?? '');
 */
export function servePage(page: BundledPage, websocketUrl: string): ServedPage {
  if (!page.html.includes(WEBSOCKET_URL_MARKER))
    throw new Error(`the dashboard bundle has no ${WEBSOCKET_URL_MARKER} marker`);
  return {
    body: page.html.replace(WEBSOCKET_URL_MARKER, escapeAttribute(websocketUrl)),
    headers: {
      'content-type': 'text/html; charset=utf-8',
      'content-security-policy': contentSecurityPolicy(page, websocketUrl),
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
      'x-frame-options': 'DENY',
      'cross-origin-opener-policy': 'same-origin',
      'cross-origin-resource-policy': 'same-origin',
      'permissions-policy': 'camera=(), microphone=(), geolocation=(), payment=()',
      // The page holds no token, but nothing between the caller and the stage needs a copy.
      'cache-control': 'no-store',
    },
  };
}
