// "Run cell in container" (issue 10) in the browser, on the real bridge and Docker engine:
// a cell sent to the notebook's container shows its output live in its own output area,
// with the container's In [n] and the badge; the next cell sees the first one's variables;
// Shift+Enter on a bound cell goes to the container while an unbound cell stays on the
// local kernel (the container works in /work, the notebook's folder bound there; the local
// kernel in the folder itself); a cell that plots in the notebook's profile image
// redlab/debian-scipy:12 shows the PNG; a GPU cell on a host without GPUs says so in the
// cell. Each test stops its sessions with the toolbar's stop button.
import type { Locator } from '@playwright/test';
import { expect, galata, hasCommand, IJupyterLabPageFixture, reloadWithNotebook, saveScreenshot, testInFolder, waitForBridge } from './fixtures';

const FOLDER = 'container-cells';
const test = testInFolder(FOLDER);
const PYTHON_IMAGE = 'redlab/debian-python:12';
const SCIPY_IMAGE = 'redlab/debian-scipy:12';

/** A Python notebook of code cells; `cellMetadata(i)` gives a cell its metadata (e.g. a binding). */
function notebook(cells: string[], cellMetadata: (i: number) => Record<string, unknown> = () => ({})): string {
  return JSON.stringify({
    nbformat: 4,
    nbformat_minor: 5,
    metadata: { kernelspec: { name: 'python3', display_name: 'Python 3', language: 'python' }, language_info: { name: 'python' } },
    cells: cells.map((source, i) => ({ cell_type: 'code', id: `cell-${i}`, source, metadata: cellMetadata(i), outputs: [], execution_count: null }))
  });
}

const cell = (page: IJupyterLabPageFixture, i: number): Locator => page.locator('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-Cell').nth(i);
const output = (page: IJupyterLabPageFixture, i: number): Locator => cell(page, i).locator('.jp-OutputArea-output');
const prompt = (page: IJupyterLabPageFixture, i: number): Locator => cell(page, i).locator('.jp-InputPrompt');
const indicator = (page: IJupyterLabPageFixture): Locator => page.locator('.jp-NotebookPanel:not(.lm-mod-hidden) [data-testid="redlab-session-indicator"]');

async function openNotebook(page: IJupyterLabPageFixture, nbPath: string, content: string): Promise<void> {
  expect(await page.contents.uploadContent(content, 'text', nbPath)).toBe(true);
  expect(await page.notebook.openByPath(nbPath)).toBe(true);
  await page.notebook.activate(nbPath.split('/').pop()!);
  await waitForBridge(page);
  expect(await hasCommand(page, 'redlab:run-cell')).toBe(true);
}

/** Makes cell `i` the active one, in command mode (the notebook keeps the focus). */
async function activate(page: IJupyterLabPageFixture, i: number): Promise<void> {
  await page.evaluate(index => {
    const nb = (window.jupyterapp.shell.currentWidget as any).content;
    nb.activeCellIndex = index;
    nb.deselectAll();
    nb.mode = 'command';
    nb.activate();
  }, i);
  // The active cell has the keyboard focus (command mode), so the shortcuts reach the notebook.
  await expect(cell(page, i)).toBeFocused();
}

/** Stops every session of the open notebook with the toolbar's stop buttons. */
async function stopSessions(page: IJupyterLabPageFixture): Promise<void> {
  const stops = indicator(page).getByTestId('redlab-session-stop');
  for (let n = await stops.count(); n > 0; n = await stops.count()) {
    await stops.first().click();
    await expect(stops).toHaveCount(n - 1, { timeout: 30_000 });
  }
}

test.describe('Run cell in container', () => {
  test('a cell runs in the container, live in its own output area; the next one keeps the state; Shift+Enter sends a bound cell there and leaves a local one local', async ({ page, tmpPath, consoleErrors }) => {
    const nbPath = `${tmpPath}/cells.ipynb`;
    await openNotebook(
      page,
      nbPath,
      notebook([
        'import os, time\nx = 41\nprint("step 1 in", os.getcwd(), flush=True)\ntime.sleep(3)\nprint("step 2")',
        'print("x + 1 =", x + 1)',
        'import os\nprint("local in", os.getcwd(), "x" in globals())',
        'print("bound in", os.getcwd(), x)'
      ])
    );

    // From the cell's context menu.
    await activate(page, 0);
    await cell(page, 0).locator('.jp-InputArea-editor').click({ button: 'right' });
    await page.getByRole('menuitem', { name: 'Run cell in container' }).click();
    // Live: the first line shows while the cell still sleeps, with the prompt's [*].
    await expect(output(page, 0)).toContainText('step 1 in /work', { timeout: 90_000 });
    await expect(output(page, 0)).not.toContainText('step 2');
    await expect(prompt(page, 0)).toHaveText('[*]:');
    await expect(output(page, 0)).toContainText('step 2', { timeout: 30_000 });
    await expect(prompt(page, 0)).toHaveText('[1]:');
    // The two prints, sent apart, are one stdout output, as a kernel's would be.
    await expect(output(page, 0)).toHaveCount(1);
    await expect(output(page, 0)).toHaveText('step 1 in /work\nstep 2');
    const badge = cell(page, 0).getByTestId('redlab-cell-badge');
    await expect(badge).toHaveText(`container · ${PYTHON_IMAGE}`);
    await expect(indicator(page).locator('[data-redlab-session-state="idle"]')).toContainText('default · idle');

    // The next cell, by its shortcut: the container still has x.
    await activate(page, 1);
    await page.keyboard.press('Control+Alt+Enter');
    await expect(output(page, 1)).toHaveText('x + 1 = 42', { timeout: 30_000 });
    await expect(prompt(page, 1)).toHaveText('[2]:');

    // The cell's metadata records the binding and the execution record.
    const meta = await page.evaluate(() => (window.jupyterapp.shell.currentWidget as any).content.model.cells.get(1).getMetadata('redlab'));
    expect(meta).toMatchObject({ profile: 'default', image: PYTHON_IMAGE });
    expect(typeof meta.sessionId).toBe('string');
    expect(typeof meta.executionId).toBe('string');

    // An unbound cell: Shift+Enter runs it on the local kernel, which has no x and works in the folder itself.
    await page.notebook.enterCellEditingMode(2);
    await page.keyboard.press('Shift+Enter');
    await expect(output(page, 2)).toContainText(`local in`, { timeout: 60_000 });
    await expect(output(page, 2)).toContainText(`${FOLDER} False`);
    await expect(cell(page, 2).getByTestId('redlab-cell-badge')).toHaveCount(0);

    // Bind cell 3 (Accel Alt B), then the ordinary Shift+Enter sends it to the container.
    await activate(page, 3);
    await page.keyboard.press('Control+Alt+b');
    await expect(cell(page, 3).getByTestId('redlab-cell-badge')).toHaveText(`container · ${PYTHON_IMAGE}`);
    await page.notebook.enterCellEditingMode(3);
    await page.keyboard.type('  # edited');
    await page.keyboard.press('Shift+Enter');
    await expect(output(page, 3)).toHaveText('bound in /work 41', { timeout: 30_000 });
    await expect(prompt(page, 3)).toHaveText('[3]:');
    // Shift+Enter on the last cell added a new one below, unbound.
    await expect(page.locator('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-Cell')).toHaveCount(5);
    await expect(cell(page, 4).getByTestId('redlab-cell-badge')).toHaveCount(0);
    await saveScreenshot(page, page.locator('.jp-NotebookPanel:not(.lm-mod-hidden)'), 'container-cells.png');

    // Ctrl+Enter in command mode on the bound cell: the container again (In [4]).
    await activate(page, 3);
    await page.keyboard.press('Control+Enter');
    await expect(prompt(page, 3)).toHaveText('[4]:', { timeout: 30_000 });
    // Shift+Enter in command mode: the container again, and the next cell becomes the active one.
    await activate(page, 3);
    await page.keyboard.press('Shift+Enter');
    await expect(prompt(page, 3)).toHaveText('[5]:', { timeout: 30_000 });
    expect(await page.evaluate(() => (window.jupyterapp.shell.currentWidget as any).content.activeCellIndex)).toBe(4);
    await stopSessions(page);
    expect(consoleErrors, consoleErrors.join('\n')).toEqual([]);
  });

  test('a cell that plots in the notebook’s profile image (redlab/debian-scipy:12) shows the figure', async ({ page, tmpPath }) => {
    const nbPath = `${tmpPath}/plot.ipynb`;
    await openNotebook(page, nbPath, notebook(['import matplotlib.pyplot as plt\nplt.plot([1, 2, 3], [1, 4, 9])\nplt.title("squares")\nprint("plotted")']));
    await page.evaluate(image => window.jupyterapp.commands.execute('redlab:set-session-image', { profile: 'default', image }), SCIPY_IMAGE);
    await activate(page, 0);
    await page.evaluate(() => window.jupyterapp.commands.execute('redlab:run-cell'));
    await expect(output(page, 0).locator('img[src^="data:image/png"]')).toBeVisible({ timeout: 120_000 });
    await expect(output(page, 0).first()).toContainText('plotted');
    await expect(cell(page, 0).getByTestId('redlab-cell-badge')).toHaveText(`container · ${SCIPY_IMAGE}`);
    await stopSessions(page);
  });

  test('a GPU cell on an engine without GPUs: the bridge’s 409 in the cell, saying what to do; nothing runs locally', async ({ page, tmpPath, request }) => {
    const health = await (await request.get('/redlab-bridge/api/v1/health')).json();
    test.skip((health.gpus ?? []).length > 0, 'this host has GPUs');
    const nbPath = `${tmpPath}/gpu.ipynb`;
    await openNotebook(page, nbPath, notebook(['print("ran")']));
    await activate(page, 0);
    await page.evaluate(() => window.jupyterapp.commands.execute('redlab:run-cell-gpu'));
    const error = output(page, 0);
    await expect(error).toContainText('RED Lab: no GPU container', { timeout: 30_000 });
    await expect(error).toContainText('Run cell in container');
    // Only RED Lab's error: the cell ran nowhere.
    await expect(error).toHaveCount(1);
    await expect(cell(page, 0).getByTestId('redlab-cell-badge')).toHaveText(`GPU container · ${PYTHON_IMAGE}`);
    await expect(prompt(page, 0)).toHaveText('[ ]:');
  });
});

test.describe('Run cell in container: interrupt and restart', () => {
  test('Interrupt stops a looping container cell (KeyboardInterrupt); Restart gives a fresh namespace', async ({ page, tmpPath }) => {
    const nbPath = `${tmpPath}/loop.ipynb`;
    await openNotebook(page, nbPath, notebook(['y = 1\nimport time\nprint("looping", flush=True)\nwhile True:\n    time.sleep(0.05)', 'print("y" in globals())']));
    await activate(page, 0);
    await page.evaluate(() => void window.jupyterapp.commands.execute('redlab:run-cell'));
    await expect(output(page, 0)).toContainText('looping', { timeout: 90_000 });
    await expect(indicator(page).locator('[data-redlab-session-state="busy"]')).toBeVisible();
    await page.keyboard.press('Control+Alt+i');
    await expect(output(page, 0).last()).toContainText('KeyboardInterrupt', { timeout: 30_000 });
    await expect(prompt(page, 0)).toHaveText('[1]:');
    await expect(indicator(page).locator('[data-redlab-session-state="idle"]')).toBeVisible();

    await page.evaluate(() => window.jupyterapp.commands.execute('redlab:restart-session'));
    await activate(page, 1);
    await page.evaluate(() => window.jupyterapp.commands.execute('redlab:run-cell'));
    await expect(output(page, 1)).toHaveText('False', { timeout: 60_000 });
    await stopSessions(page);
  });
});

test.describe('Run cell in container: cells above, and an image without python3', () => {
  test('Run cells above (Accel Alt A) runs every code cell above the active one, in order, in one container', async ({ page, tmpPath }) => {
    const nbPath = `${tmpPath}/above.ipynb`;
    await openNotebook(page, nbPath, notebook(['a = 2', 'b = a * 21\nprint("b =", b)', 'print("not run")']));
    await activate(page, 2);
    await page.keyboard.press('Control+Alt+a');
    await expect(output(page, 1)).toHaveText('b = 42', { timeout: 90_000 });
    await expect(prompt(page, 0)).toHaveText('[1]:');
    await expect(prompt(page, 1)).toHaveText('[2]:');
    await expect(output(page, 2)).toHaveCount(0);
    await stopSessions(page);
  });

  test('a profile image without python3: the cell says so and what to do', async ({ page, tmpPath }) => {
    const nbPath = `${tmpPath}/busybox.ipynb`;
    await openNotebook(page, nbPath, notebook(['print("never")']));
    await page.evaluate(() => window.jupyterapp.commands.execute('redlab:set-session-image', { profile: 'default', image: 'redlab/busybox:1' }));
    await activate(page, 0);
    await page.evaluate(() => window.jupyterapp.commands.execute('redlab:run-cell'));
    await expect(output(page, 0)).toContainText('RED Lab:', { timeout: 60_000 });
    await expect(output(page, 0)).toContainText('python3');
    await expect(output(page, 0)).toHaveCount(1);
    await expect(prompt(page, 0)).toHaveText('[ ]:');
    await stopSessions(page);
  });
});

test.describe('Run cell in container: reload', () => {
  test('a page reloaded while a container cell runs follows it to its end: all its output and In [n]', async ({ page, tmpPath }) => {
    const nbPath = `${tmpPath}/reload.ipynb`;
    await openNotebook(page, nbPath, notebook(['import time\nfor i in range(15):\n    print("line", i, flush=True)\n    time.sleep(1)']));
    await activate(page, 0);
    await page.evaluate(() => void window.jupyterapp.commands.execute('redlab:run-cell'));
    await expect(output(page, 0)).toContainText('line 1', { timeout: 90_000 });
    // The binding with the execution id is in the saved notebook.
    await page.evaluate(() => (window.jupyterapp.shell.currentWidget as any).context.save());
    await reloadWithNotebook(page, nbPath);
    await expect(prompt(page, 0)).toHaveText('[*]:', { timeout: 30_000 });
    await expect(prompt(page, 0)).toHaveText('[1]:', { timeout: 30_000 });
    await expect(output(page, 0)).toHaveText(Array.from({ length: 15 }, (_, i) => `line ${i}`).join('\n'));
    await stopSessions(page);
  });
});

test.describe('Run cell in container: windowed notebook', () => {
  // Only the cells in view are in the DOM: the badges come back from the cells' metadata.
  test.use({ mockSettings: { ...galata.DEFAULT_SETTINGS, '@jupyterlab/notebook-extension:tracker': { windowingMode: 'full' } } });

  test('badges of bound cells (from the saved metadata) survive scrolling them out and back in', async ({ page, tmpPath, consoleErrors }) => {
    const nbPath = `${tmpPath}/long.ipynb`;
    const n = 80;
    const bound = (i: number) => i === 1 || i === n - 2;
    // The notebook factory takes the setting once the tracker's settings load: a notebook opened
    // before that (a loaded machine) is not windowed at all.
    await page.waitForFunction(() => (window.jupyterapp.docRegistry.getWidgetFactory('Notebook') as any)?.notebookConfig?.windowingMode === 'full');
    await openNotebook(
      page,
      nbPath,
      notebook(
        Array.from({ length: n }, (_, i) => `# cell ${i}\nprint(${i})`),
        i => (bound(i) ? { redlab: { profile: 'default', image: PYTHON_IMAGE } } : {})
      )
    );
    const byText = (i: number) => page.locator('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Cell', { hasText: `# cell ${i}\n` });
    const scrollTo = (i: number) => page.evaluate(index => (window.jupyterapp.shell.currentWidget as any).content.scrollToItem(index, 'center'), i);
    await expect(byText(1).getByTestId('redlab-cell-badge')).toHaveText(`container · ${PYTHON_IMAGE}`);
    await expect(page.locator('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Cell')).not.toHaveCount(n);
    await scrollTo(n - 2);
    await expect(byText(n - 2).getByTestId('redlab-cell-badge')).toHaveText(`container · ${PYTHON_IMAGE}`);
    await expect(byText(n - 3).getByTestId('redlab-cell-badge')).toHaveCount(0);
    await expect(byText(1)).toHaveCount(0);
    await scrollTo(1);
    await expect(byText(1).getByTestId('redlab-cell-badge')).toHaveText(`container · ${PYTHON_IMAGE}`);
    // The active cell's binding decides where Run goes: the notebook's class follows it.
    await activate(page, 1);
    await expect(page.locator('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook')).toHaveClass(/jp-mod-redlabBound/);
    await activate(page, 2);
    await expect(page.locator('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook')).not.toHaveClass(/jp-mod-redlabBound/);
    expect(consoleErrors, consoleErrors.join('\n')).toEqual([]);
  });
});
