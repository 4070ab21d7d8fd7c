// JupyterLab's own kernel actions work in the ui-tests' set-up, on the demo notebook with
// RED Lab loaded: Kernel › Restart Kernel and Run All Cells (a fresh kernel runs every code
// cell) and Kernel › Interrupt Kernel (a running cell stops). Galata's kernel tracking once
// answered both requests "201 Created" (see tests/fixtures.ts), and the restart hung.
import * as path from 'path';
import { DEMO_DIR, expect, IJupyterLabPageFixture, test } from './fixtures';

/** The page's responses to POST /api/kernels/<id>/<action>, as "action status". */
function kernelActions(page: IJupyterLabPageFixture): string[] {
  const seen: string[] = [];
  page.on('response', res => {
    const action = /\/api\/kernels\/[^/]+\/(restart|interrupt)$/.exec(new URL(res.url()).pathname)?.[1];
    if (action && res.request().method() === 'POST') seen.push(`${action} ${res.status()}`);
  });
  return seen;
}

/** The open notebook's kernel status and the execution counts of its code cells. */
function kernelState(page: IJupyterLabPageFixture): Promise<{ status?: string; counts: (number | null)[] }> {
  return page.evaluate(() => {
    const panel = window.jupyterapp.shell.currentWidget as any;
    const counts = [...panel.content.model.cells].filter((c: any) => c.type === 'code').map((c: any) => c.executionCount);
    return { status: panel.sessionContext.session?.kernel?.status, counts };
  });
}

async function openWithIdleKernel(page: IJupyterLabPageFixture, nbPath: string): Promise<void> {
  expect(await page.notebook.openByPath(nbPath)).toBe(true);
  await page.notebook.activate(path.basename(nbPath));
  await expect.poll(async () => (await kernelState(page)).status, { message: 'the kernel is idle', timeout: 60_000 }).toBe('idle');
}

async function kernelMenu(page: IJupyterLabPageFixture, item: RegExp): Promise<void> {
  await page.getByRole('menuitem', { name: 'Kernel', exact: true }).click();
  await page.getByRole('menuitem', { name: item }).click();
}

test.describe('JupyterLab kernel actions', () => {
  test('Restart Kernel and Run All Cells runs the demo notebook in a fresh kernel', async ({ page, tmpPath }) => {
    const actions = kernelActions(page);
    const nbPath = `${tmpPath}/demo.ipynb`;
    expect(await page.contents.uploadFile(path.join(DEMO_DIR, 'demo.ipynb'), nbPath)).toBe(true);
    await openWithIdleKernel(page, nbPath);
    await page.evaluate(() => window.jupyterapp.commands.execute('notebook:run-all-cells'));
    await expect.poll(async () => (await kernelState(page)).counts.every(n => n !== null), { timeout: 60_000 }).toBe(true);
    const codeCells = (await kernelState(page)).counts.length;

    await kernelMenu(page, /^Restart Kernel and Run All Cells/);
    await page.locator('.jp-Dialog .jp-mod-accept').click();
    // A fresh kernel numbers the cells from 1 again.
    await expect
      .poll(() => kernelState(page), { message: 'every code cell ran in the restarted kernel', timeout: 90_000 })
      .toEqual({ status: 'idle', counts: Array.from({ length: codeCells }, (_, i) => i + 1) });
    expect(actions).toEqual(['restart 200']);
    await expect(page.locator('.jp-Notebook .jp-OutputArea-output', { hasText: 'walking' }).first()).toBeVisible();
  });

  test('Interrupt Kernel stops a running cell', async ({ page, tmpPath }) => {
    const actions = kernelActions(page);
    const nbPath = `${tmpPath}/sleep.ipynb`;
    const notebook = {
      nbformat: 4,
      nbformat_minor: 5,
      metadata: { kernelspec: { name: 'python3', display_name: 'Python 3', language: 'python' }, language_info: { name: 'python' } },
      cells: [{ cell_type: 'code', source: 'import time\nprint("sleeping", flush=True)\ntime.sleep(120)', metadata: {}, outputs: [], execution_count: null }]
    };
    expect(await page.contents.uploadContent(JSON.stringify(notebook), 'text', nbPath)).toBe(true);
    await openWithIdleKernel(page, nbPath);
    // Not awaited: the command resolves when the cell ends.
    await page.evaluate(() => void window.jupyterapp.commands.execute('notebook:run-all-cells'));
    await expect(page.locator('.jp-Notebook .jp-OutputArea-output', { hasText: 'sleeping' })).toBeVisible();

    await kernelMenu(page, /^Interrupt Kernel/);
    await expect(page.locator('.jp-Notebook .jp-OutputArea-output', { hasText: 'KeyboardInterrupt' })).toBeVisible();
    await expect.poll(async () => (await kernelState(page)).status).toBe('idle');
    expect(actions).toEqual(['interrupt 204']);
  });
});
