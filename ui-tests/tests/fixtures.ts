// Shared fixtures for the RED Lab ui-tests, on top of Galata's `test`.
import { expect, galata, IJupyterLabPageFixture, test as base } from '@jupyterlab/galata';
import * as fs from 'fs';
import * as path from 'path';
import type { Locator } from '@playwright/test';
import { ContentsHelper } from '@jupyterlab/galata/lib/contents';

export { expect, galata };
export type { IJupyterLabPageFixture };

/** Where start-jupyter.sh put the server's files (set by playwright.config.js). */
export const UI_BASE = process.env.REDLAB_UI_BASE ?? '';
export const JUPYTER_LOG = path.join(UI_BASE, 'jupyter.log');
export const REPO = path.resolve(__dirname, '..', '..');
export const DEMO_DIR = path.join(REPO, 'binder', 'demo');
export const SCREENSHOTS = path.resolve(__dirname, '..', 'screenshots');

const errorsOf = new WeakMap<object, string[]>();
const offsiteOf = new WeakMap<object, string[]>();
const bridgeOf = new WeakMap<object, BridgeResponse[]>();

/** A response of the bridge (through jupyter-server-proxy) the page received. */
export interface BridgeResponse {
  status: number;
  method: string;
  /** Path and query, e.g. /redlab-bridge/api/v1/runs?limit=100 */
  url: string;
}

/** POST /api/kernels/<id>/restart or …/interrupt: JupyterLab's kernel actions. */
const isKernelAction = (url: URL) => /\/api\/kernels\/[^/]+\/(restart|interrupt)$/.test(url.pathname);

export const test = base.extend<{ consoleErrors: string[]; offsiteRequests: string[]; bridgeResponses: BridgeResponse[] }>({
  // Galata's default settings (no news, no update check) are kept; tests add to them.
  mockSettings: galata.DEFAULT_SETTINGS,
  // Keep a failed test's server folder (under $REDLAB_UI_BASE/root) for a look.
  serverFiles: 'only-on-failure',
  // Browser console errors, collected on the context so that the page's load is included.
  // Requests to anywhere but the test server too: JupyterLab must stay offline.
  context: async ({ context, baseURL }, use) => {
    const errors: string[] = [];
    const offsite: string[] = [];
    const bridge: BridgeResponse[] = [];
    errorsOf.set(context, errors);
    offsiteOf.set(context, offsite);
    bridgeOf.set(context, bridge);
    context.on('response', res => {
      const url = new URL(res.url());
      if (url.pathname.includes('/redlab-bridge/')) bridge.push({ status: res.status(), method: res.request().method(), url: url.pathname + url.search });
    });
    const origin = new URL(baseURL ?? 'http://127.0.0.1').origin;
    context.on('request', req => {
      const url = req.url();
      if (!/^(data|blob|about):/.test(url) && new URL(url).origin !== origin) offsite.push(`${req.method()} ${url}`);
    });
    context.on('console', msg => {
      if (msg.type() === 'error') errors.push(msg.text());
    });
    context.on('weberror', err => errors.push(`pageerror: ${err.error().message}`));
    await use(context);
  },
  consoleErrors: async ({ context }, use) => {
    await use(errorsOf.get(context) ?? []);
  },
  offsiteRequests: async ({ context }, use) => {
    await use(offsiteOf.get(context) ?? []);
  },
  bridgeResponses: async ({ context }, use) => {
    await use(bridgeOf.get(context) ?? []);
  },
  // On failure: the browser console and the end of the JupyterLab + bridge log.
  page: async ({ page, consoleErrors }, use, testInfo) => {
    // Galata's kernel tracking (its `kernels` fixture, galata.Mock.mockRunners in 5.6) proxies every
    // POST under /api/kernels and answers it "201 Created": right for a new kernel, wrong for
    // …/restart (the server says 200) and …/interrupt (204), so JupyterLab's Restart Kernel and
    // Restart & Run All failed ("Invalid response: 201 Created", kernel left "starting"). These go
    // straight to the server: a route added later runs before Galata's.
    await page.route(isKernelAction, route => (route.request().method() === 'POST' ? route.continue() : route.fallback()));
    await use(page);
    if (testInfo.status !== testInfo.expectedStatus) {
      if (consoleErrors.length) await testInfo.attach('browser-console-errors.txt', { body: consoleErrors.join('\n'), contentType: 'text/plain' });
      try {
        const log = fs.readFileSync(JUPYTER_LOG, 'utf8');
        await testInfo.attach('jupyter.log (tail)', { body: log.slice(-20_000), contentType: 'text/plain' });
      } catch {
        /* no log */
      }
    }
  }
});

/** The RED Lab status bar item. */
export const statusItem = (page: IJupyterLabPageFixture) => page.locator('[data-redlab-status]');

/** Waits for the bridge (started by jupyter-server-proxy on first use) to report a reachable Docker engine. */
export async function waitForBridge(page: IJupyterLabPageFixture, timeout = 90_000): Promise<void> {
  await expect(page.locator('[data-redlab-status="connected"]')).toBeVisible({ timeout });
}

/** Whether a command is registered in the running JupyterLab. */
export async function hasCommand(page: IJupyterLabPageFixture, id: string): Promise<boolean> {
  return page.evaluate(cmd => window.jupyterapp.commands.hasCommand(cmd), id);
}


export function screenshotPath(name: string): string {
  fs.mkdirSync(SCREENSHOTS, { recursive: true });
  return path.join(SCREENSHOTS, name);
}

/**
 * A PNG of the whole element (ui-tests/screenshots/<name>), for the README: the viewport
 * grows for the shot (a tall panel or cell is not cut by its scrolling parent), then goes back.
 * A plain screenshot, not a snapshot comparison: fonts differ from machine to machine.
 */
export async function saveScreenshot(page: IJupyterLabPageFixture, target: Locator, name: string): Promise<string> {
  const file = screenshotPath(name);
  const viewport = page.viewportSize() ?? { width: 1366, height: 850 };
  const height = await target.evaluate(el => el.scrollHeight);
  await page.setViewportSize({ width: viewport.width, height: Math.min(3000, Math.max(viewport.height, height + 250)) });
  try {
    // No focus ring or caret on the picture.
    await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
    await target.evaluate(el => el.scrollIntoView({ block: 'start' }));
    await page.waitForTimeout(500);
    await target.screenshot({ path: file, animations: 'disabled', caret: 'hide' });
  } finally {
    await page.setViewportSize(viewport);
  }
  return file;
}

/**
 * The shared `test` whose Galata tmpPath is `folder` (a fixed name, so the test can name its
 * files): made empty before the test, deleted afterwards unless the test failed (serverFiles).
 */
export function testInFolder(folder: string) {
  return test.extend({
    tmpPath: async ({ request, serverFiles }, use, testInfo) => {
      const contents = new ContentsHelper(request);
      if (await contents.directoryExists(folder)) await contents.deleteDirectory(folder);
      await contents.createDirectory(folder);
      await use(folder);
      if (serverFiles === 'off' || (serverFiles === 'only-on-failure' && (testInfo.status === 'passed' || testInfo.status === 'skipped'))) {
        await contents.deleteDirectory(folder);
      }
    }
  });
}

/**
 * Reloads the page and comes back to the notebook at `nbPath`: JupyterLab restores its tab
 * from the workspace (Galata's in-memory one), so there is no Launcher to wait for; the
 * notebook is opened again only if it was not restored. (run-flow and run-cells-record
 * still have their own copies of this.)
 */
export async function reloadWithNotebook(page: IJupyterLabPageFixture, nbPath: string): Promise<void> {
  const name = path.basename(nbPath);
  // Galata's reload takes waitForIsReady (not in its typings): no waiting for a Launcher tab.
  await page.reload({ waitForIsReady: false } as Parameters<IJupyterLabPageFixture['reload']>[0]);
  await page.locator('#jupyterlab-splash').waitFor({ state: 'detached' });
  const tab = page.getByRole('main').getByRole('tab', { name: new RegExp(`^${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`) });
  const restored = await tab
    .first()
    .waitFor({ state: 'visible', timeout: 20_000 })
    .then(() => true)
    .catch(() => false);
  if (!restored) expect(await page.notebook.openByPath(nbPath)).toBe(true);
  await page.notebook.activate(name);
}
