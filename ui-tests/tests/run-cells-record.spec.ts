// Run records outlive the kernel and are no part of the experiment, on the real bridge,
// Docker engine and JupyterLab: run a notebook from the RED panel, then Run All Cells,
// Restart Kernel and Run All Cells, Clear All Outputs, save and reload: the record (state,
// log, outputs table) is still there, on the page and in the saved file. A second run,
// with the first record in the notebook, has its runner count 3 code cells and report
// the failing third code cell as code cell 3, In [4] (the injected parameters cell counts, as in
// papermill; the record cell does not).
import type { Locator } from '@playwright/test';
import { expect, IJupyterLabPageFixture, waitForBridge, testInFolder } from './fixtures';

const FOLDER = 'run-cells-record';
const NOTEBOOK = 'records.ipynb';

// A folder of its own, deleted afterwards unless the test failed.
const test = testInFolder(FOLDER);

const code = (source: string, tags: string[] = []) => ({ cell_type: 'code', source, metadata: { tags }, outputs: [], execution_count: null });
/** Three code cells; the third raises when `fail` is set. */
const notebook = {
  nbformat: 4,
  nbformat_minor: 5,
  metadata: { kernelspec: { name: 'python3', display_name: 'Python 3', language: 'python' }, language_info: { name: 'python' } },
  cells: [
    { cell_type: 'markdown', source: '# Run records', metadata: {} },
    code('fail = 0\nnap = 1.0', ['parameters']),
    code('import time\nprint("cell A ran")\ntime.sleep(nap)'),
    code('if fail:\n    1 / 0\nprint("cell B ran")')
  ]
};

interface RecordInfo {
  index: number;
  type: string;
  runId: string;
  state?: string;
}

/** The run records of the open notebook, from its model. */
async function records(page: IJupyterLabPageFixture): Promise<RecordInfo[]> {
  return page.evaluate(name => {
    const panel = (window.jupyterapp.shell.currentWidget ?? null) as any;
    if (!panel?.context?.path?.endsWith(name)) return [];
    const out: RecordInfo[] = [];
    (panel.content.widgets as any[]).forEach((c, index) => {
      const tags = (c.model.getMetadata('tags') ?? []) as string[];
      const meta = c.model.getMetadata('redlab');
      if (tags.includes('redlab-run') && meta?.runId) out.push({ index, type: c.model.type, runId: meta.runId, state: meta.state });
    });
    return out;
  }, NOTEBOOK);
}

async function recordCell(page: IJupyterLabPageFixture, runId: string): Promise<Locator> {
  let index = -1;
  await expect.poll(async () => (index = (await records(page)).find(r => r.runId === runId)?.index ?? -1), { message: `the record of ${runId}` }).toBeGreaterThanOrEqual(0);
  const cell = (await page.notebook.getCellLocator(index))!;
  await cell.scrollIntoViewIfNeeded();
  return cell.locator('.jp-RedLab-run');
}

/** Runs the notebook from the RED panel; the id of the new run. */
async function runFromPanel(page: IJupyterLabPageFixture): Promise<string> {
  const before = new Set((await records(page)).map(r => r.runId));
  await expect(page.getByTestId('redlab-run-button')).toBeEnabled();
  await page.getByTestId('redlab-run-button').click();
  let id = '';
  await expect
    .poll(async () => (id = (await records(page)).find(r => !before.has(r.runId))?.runId ?? ''), { message: 'a new run record', timeout: 60_000 })
    .not.toBe('');
  return id;
}

/** What a record shows: its state badge, the log's text, the outputs table's first column. */
async function shown(record: Locator): Promise<{ state: string; log: string; outputs: string[] }> {
  return {
    state: (await record.locator('.jp-RedLab-badge').first().innerText()).trim(),
    log: await record.locator('pre.jp-RedLab-log').first().innerText(),
    outputs: await record.locator('.jp-RedLab-artifacts tbody tr td:first-child').allInnerTexts()
  };
}

/**
 * Runs a notebook command that runs code cells (accepting its restart dialog, if it asks), and
 * waits until every code cell ran again.
 */
async function runKernelCommand(page: IJupyterLabPageFixture, command: string, confirm = false): Promise<void> {
  await page.evaluate(() => {
    const panel = window.jupyterapp.shell.currentWidget as any;
    for (const cell of panel.content.model.cells) if (cell.type === 'code') cell.executionCount = null;
  });
  // Not awaited: a command that asks resolves only once its dialog is answered.
  await page.evaluate(cmd => void window.jupyterapp.commands.execute(cmd), command);
  if (confirm) await page.locator('.jp-Dialog .jp-mod-accept').click();
  await expect
    .poll(
      () =>
        page.evaluate(() => {
          const panel = window.jupyterapp.shell.currentWidget as any;
          const cells = [...panel.content.model.cells];
          return cells.filter((c: any) => c.type === 'code').every((c: any) => c.executionCount !== null) && panel.sessionContext.session?.kernel?.status === 'idle';
        }),
      { message: `${command}: every code cell ran`, timeout: 60_000 }
    )
    .toBe(true);
}

async function reloadWithNotebook(page: IJupyterLabPageFixture, nbPath: string): Promise<void> {
  await page.reload({ waitForIsReady: false } as Parameters<IJupyterLabPageFixture['reload']>[0]);
  await page.locator('#jupyterlab-splash').waitFor({ state: 'detached' });
  const restored = await page
    .getByRole('main')
    .getByRole('tab', { name: new RegExp(`^${NOTEBOOK.replace('.', '\\.')}`) })
    .first()
    .waitFor({ state: 'visible', timeout: 20_000 })
    .then(() => true)
    .catch(() => false);
  if (!restored) expect(await page.notebook.openByPath(nbPath)).toBe(true);
  await page.notebook.activate(NOTEBOOK);
}

test.describe('RED Lab run records', () => {
  test.setTimeout(8 * 60_000);

  test('survive Run All, Restart & Run All, Clear All Outputs, save and reload; never reach the runner', async ({ page, tmpPath }) => {
    page.on('dialog', d => void (d.type() === 'beforeunload' ? d.accept() : d.dismiss()));
    const nbPath = `${tmpPath}/${NOTEBOOK}`;
    expect(await page.contents.uploadContent(JSON.stringify(notebook, null, 1), 'text', nbPath)).toBe(true);
    await waitForBridge(page);
    expect(await page.notebook.openByPath(nbPath)).toBe(true);
    await page.notebook.activate(NOTEBOOK);
    await page.evaluate(() => window.jupyterapp.commands.execute('redlab:open-panel'));
    await expect(page.getByTestId('redlab-param-fail')).toBeVisible();

    // 1. A run from the panel, to its end: state, log, outputs table.
    const first = await runFromPanel(page);
    let record = await recordCell(page, first);
    await expect(record.locator('.jp-RedLab-badge').first()).toHaveText('succeeded', { timeout: 180_000 });
    await expect(record.locator('.jp-RedLab-artifacts')).toBeVisible({ timeout: 30_000 });
    const done = await shown(record);
    expect(done.log).toContain('cell A ran');
    expect(done.log).toContain('cell B ran');
    expect(done.log).toMatch(/\(3 code cells\)/);
    expect(done.outputs.length).toBeGreaterThan(0);
    const runCells = await records(page);
    expect(runCells.map(r => r.type)).toEqual(['markdown']);

    // 2. The kernel's actions leave it as it was.
    await runKernelCommand(page, 'notebook:run-all-cells');
    expect(await shown(await recordCell(page, first))).toEqual(done);
    await runKernelCommand(page, 'notebook:restart-run-all', true);
    // A fresh kernel: the code cells are numbered from 1 again.
    expect(await page.evaluate(() => [...(window.jupyterapp.shell.currentWidget as any).content.model.cells].filter((c: any) => c.type === 'code').map((c: any) => c.executionCount))).toEqual([1, 2, 3]);
    expect(await shown(await recordCell(page, first))).toEqual(done);
    await page.evaluate(() => window.jupyterapp.commands.execute('notebook:clear-all-cell-outputs'));
    expect(await shown(await recordCell(page, first))).toEqual(done);
    // The kernel really ran the notebook (and its outputs were cleared last).
    await expect(page.locator('.jp-Notebook .jp-OutputArea-output')).toHaveCount(0);

    // 3. Saved and reloaded: the same record, on the page and in the file.
    expect(await page.notebook.save()).toBe(true);
    await reloadWithNotebook(page, nbPath);
    expect(await shown(await recordCell(page, first))).toEqual(done);
    const saved = await page.evaluate(async p => {
      const res = await fetch(`${window.location.origin}/api/contents/${p}?content=1`);
      return (await res.json()).content;
    }, nbPath);
    const savedRecord = saved.cells.find((c: any) => c.metadata?.redlab?.runId === first);
    expect(savedRecord.cell_type).toBe('markdown');
    expect(savedRecord.metadata.redlab.record).toMatchObject({ state: 'succeeded', recordLoaded: true });
    expect(String(Array.isArray(savedRecord.source) ? savedRecord.source.join('') : savedRecord.source)).toContain('cell B ran');

    // 4. A second run, with the first record in the notebook: the runner sees 3 code cells,
    //    and the failing third one is code cell 3, In [4] (after the injected parameters cell).
    await page.evaluate(() => window.jupyterapp.commands.execute('redlab:open-panel'));
    const failField = page.getByTestId('redlab-param-fail');
    const input = (await failField.evaluate(e => ['input', 'textarea', 'select'].includes(e.tagName.toLowerCase()))) ? failField : failField.locator('input').first();
    await input.fill('1');
    await input.press('Tab');
    await expect(page.getByTestId('redlab-yaml')).toContainText(/fail:\s*1\b/);
    const second = await runFromPanel(page);
    record = await recordCell(page, second);
    await expect(record.locator('.jp-RedLab-badge').first()).toHaveText('failed', { timeout: 180_000 });
    const failed = await shown(record);
    expect(failed.log).toMatch(/\(3 code cells\)/);
    expect(failed.log).toMatch(/code cell 3 \(In \[4\]\) raised ZeroDivisionError/);
    expect(failed.log).not.toContain('cell B ran');
    const failure = record.locator('.jp-RedLab-failure');
    await expect(failure).toContainText(/code cell 3 \(In \[4\]\) raised ZeroDivisionError: division by zero/);
    // The traceback once: in the log, not again in the failure section.
    expect((await record.innerText()).split('Traceback (most recent call last)').length - 1).toBe(1);
    await expect(failure).not.toContainText('Traceback');
    // The runner's status lines are not styled as errors; the phase the run failed in shows ✗.
    await expect(record.locator('.jp-RedLab-log-status').first()).toContainText('redlab_nbrun: ');
    await expect(record.locator('.jp-RedLab-log-stderr', { hasText: 'redlab_nbrun: ' })).toHaveCount(0);
    await expect(record.locator('.jp-RedLab-phase-failed')).toContainText(/running ✗/);
    // Both records are still there.
    expect((await records(page)).map(r => r.runId).sort()).toEqual([first, second].sort());
  });
});
