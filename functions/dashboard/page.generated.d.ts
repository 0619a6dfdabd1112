/**
 * The dashboard's page, written next to this declaration as `page.generated.js` by
 * `bundleDashboard()` (infra/constructs/dashboard-bundle.ts) whenever the stack is synthesized,
 * and git-ignored: esbuild bundles it into this function's asset like any other import.
 */
export declare const DASHBOARD_PAGE: {
  /** The whole page, script and style inlined; `__WEBSOCKET_URL__` marks where the socket's URL goes. */
  readonly html: string;
  /** CSP source of the one inline script: `'sha256-<base64>'`. */
  readonly scriptHash: string;
  /** CSP source of the one inline style sheet. */
  readonly styleHash: string;
};
