/**
 * The live dashboard end to end in headless Chromium (Debian's `chromium`, driven by
 * playwright-core): the page the stack serves at GET dashboard signs in with a token, shows a
 * workflow submitted through POST issues, and follows it to SUCCEEDED over the progress stream,
 * or by polling on a stack without one. It saves a screenshot to test-artifacts/dashboard.png.
 * Waits are bounded; nothing asserts on timing.
 */
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { IntakeAccepted } from '#core/wire';
import { BOOT_TIMEOUT_MS, resolveTarget, type Target } from './target';

const CHROMIUM = '/usr/bin/chromium';
/** The flags DEVELOPERS.md gives for a headless, quiet Chromium in CI. */
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const REPO_ROOT = resolve(__dirname, '..', '..');
const SCREENSHOT = join(REPO_ROOT, 'test-artifacts', 'dashboard.png');
const SAMPLE = join(REPO_ROOT, 'events', 'samples', 'issue-triage-request.json');
/** Longest any one wait on the page may take; each test's own timeout is above it. */
const SETTLE_MS = 90_000;
const TOKEN_KEY = 'master-orchestrator.token';

let target: Target;
let browser: Browser;
let viewer: string;
let operator: string;
const contexts: BrowserContext[] = [];

beforeAll(async () => {
  if (!existsSync(CHROMIUM))
    throw new Error(
      `Chromium is not installed at ${CHROMIUM}: install Debian's "chromium" package (apt-get install -y chromium); .ci/run does this`,
    );
  target = await resolveTarget(process.env, { referenceAgents: true });
  viewer = await target.tokenFor('viewer', `dashboard-e2e-viewer-${randomUUID().slice(0, 8)}`);
  operator = await target.tokenFor('operator', `dashboard-e2e-operator-${randomUUID().slice(0, 8)}`);
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
}, BOOT_TIMEOUT_MS);

afterAll(async () => {
  for (const context of contexts) await context.close();
  await browser?.close();
  await target?.stop();
});

/** A fresh browser context (its own sessionStorage), with every CSP violation and page error recorded. */
async function openPage(): Promise<{ page: Page; problems: string[] }> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 1000 } });
  contexts.push(context);
  const page = await context.newPage();
  page.setDefaultTimeout(SETTLE_MS);
  const problems: string[] = [];
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error' && /Content Security Policy|Refused to/i.test(message.text()))
      problems.push(message.text());
  });
  return { page, problems };
}

/** POST issues with the sample batch, as an operator. */
async function submitSample(): Promise<IntakeAccepted> {
  const response = await fetch(target.url('issues'), {
    method: 'POST',
    headers: {
      Authorization: `Bearer ${operator}`,
      'Content-Type': 'application/json',
      'Idempotency-Key': randomUUID(),
    },
    body: readFileSync(SAMPLE, 'utf8'),
  });
  const body: unknown = await response.json();
  expect({ status: response.status }).toEqual({ status: 202 });
  return IntakeAccepted.parse(body);
}

async function signIn(page: Page, token: string): Promise<void> {
  await page.fill('#token', token);
  await page.press('#token', 'Enter');
  await page.waitForSelector('#board', { state: 'visible' });
}

const row = (workflowId: string) => `#workflows tr[data-workflow-id="${workflowId}"]`;

describe('the dashboard', () => {
  it(
    'follows a workflow submitted through the API to SUCCEEDED, and saves a screenshot',
    async () => {
      // Prepare
      const { page, problems } = await openPage();
      const response = await page.goto(target.url('dashboard'));
      expect(response?.status()).toBe(200);
      await signIn(page, viewer);
      if (target.outputs.WebSocketUrl) await page.locator('#connection', { hasText: /^Live/ }).waitFor();

      // Act
      const accepted = await submitSample();
      await page.click(`${row(accepted.workflow_id)} button`);

      // Assess
      await page.locator('#detail-status', { hasText: /^SUCCEEDED$/ }).waitFor();
      await page.locator(`${row(accepted.workflow_id)} .badge`, { hasText: /^SUCCEEDED$/ }).waitFor();
      const steps = await page.$$eval('#steps tbody tr', (rows) => rows.length);
      expect(steps).toBe(accepted.assignment.execution_order.length);
      expect(await page.$$eval('#graph svg g rect', (nodes) => nodes.length)).toBe(steps);
      expect(await page.textContent('#detail-percent')).toBe('100% complete');
      expect(await page.$$eval('#legend li', (items) => items.map((item) => item.textContent))).toContain(
        'SUCCEEDED',
      );
      expect(await page.$$eval('#agents tbody tr', (rows) => rows.length)).toBeGreaterThan(0);
      expect(await page.textContent('#dlq-note')).toMatch(/operator or admin/);
      if (target.outputs.WebSocketUrl)
        await page.waitForSelector(`#events tbody tr:has-text("${accepted.workflow_id}")`);
      // A string: this file is type-checked without the DOM library.
      const storage = await page.evaluate(
        `({ session: sessionStorage.getItem(${JSON.stringify(TOKEN_KEY)}), local: localStorage.length, cookie: document.cookie })`,
      );
      expect(storage).toEqual({ session: viewer, local: 0, cookie: '' });
      expect(problems).toEqual([]);
      mkdirSync(join(REPO_ROOT, 'test-artifacts'), { recursive: true });
      await page.screenshot({ path: SCREENSHOT, fullPage: true });
      expect(existsSync(SCREENSHOT)).toBe(true);
    },
    SETTLE_MS * 2,
  );

  it(
    'is usable from the keyboard: Tab reaches the token field and the workflow list, Enter opens a workflow',
    async () => {
      // Prepare
      const accepted = await submitSample();
      const { page, problems } = await openPage();
      await page.goto(target.url('dashboard'));
      /** Presses Tab until the focused element matches `selector` (evaluated as a string: no DOM types here). */
      const tabUntil = async (selector: string, limit = 60): Promise<void> => {
        for (let presses = 0; presses < limit; presses += 1) {
          if (await page.evaluate(`document.activeElement?.matches(${JSON.stringify(selector)}) === true`))
            return;
          await page.keyboard.press('Tab');
        }
        throw new Error(`Tab never reached ${selector} (${limit} presses)`);
      };

      // Act
      await tabUntil('#token');
      await page.keyboard.type(viewer);
      await page.keyboard.press('Enter');
      await page.waitForSelector(row(accepted.workflow_id));
      await tabUntil('#workflows tbody button');
      const focused = await page.evaluate('document.activeElement?.getAttribute("data-workflow-id") ?? null');
      await page.keyboard.press('Enter');

      // Assess
      expect(focused).toEqual(expect.any(String));
      await page.locator('#detail-title', { hasText: `Workflow ${String(focused)}` }).waitFor();
      expect(await page.getAttribute(`button[data-workflow-id="${focused}"]`, 'aria-current')).toBe('true');
      await page.waitForSelector('#detail-body', { state: 'visible' });
      expect(problems).toEqual([]);
    },
    SETTLE_MS * 2,
  );

  it(
    'polls when the stack has no progress stream, and still sees the workflow reach SUCCEEDED',
    async () => {
      // Prepare: the page as a stack synthesized with -c websocket=false serves it
      const { page, problems } = await openPage();
      await page.route('**/api/orchestrator/dashboard', async (route) => {
        const served = await route.fetch();
        const html = (await served.text()).replace(
          /(<meta name="orchestrator-websocket-url" content=")[^"]*(")/,
          '$1$2',
        );
        await route.fulfill({ response: served, body: html });
      });
      await page.goto(target.url('dashboard'));
      await signIn(page, viewer);

      // Act
      const accepted = await submitSample();
      await page.click(`${row(accepted.workflow_id)} button`);

      // Assess
      expect(await page.textContent('#connection')).toMatch(/^Polling every/);
      await page.locator('#detail-status', { hasText: /^SUCCEEDED$/ }).waitFor();
      expect(problems).toEqual([]);
    },
    SETTLE_MS * 2,
  );
});
