// Notebooks saved by older RED Lab versions keep their run records: code cells tagged
// `redlab-run` become Markdown run records when the notebook opens, with what their
// outputs showed; a record whose outputs were cleared (Run All did that to code cells)
// is rebuilt from the bridge by its run id. Real JupyterLab, bridge and Docker.
import { expect, waitForBridge, testInFolder } from './fixtures';

const FOLDER = 'run-cells-migrate';
const NOTEBOOK = 'legacy.ipynb';
const RUN_MIME = 'application/vnd.redlab.run+json';
const KEPT_RUN = '01LEGACYKEPTRECORD000000000';

// A folder of its own, deleted afterwards unless the test failed.
const test = testInFolder(FOLDER);

/** A run on the bridge that prints a line, in the local busybox image. */
const ECHO_RED = {
  redVersion: '9',
  cli: { cwlVersion: 'v1.0', class: 'CommandLineTool', baseCommand: ['echo', 'hello from the bridge'], inputs: {}, outputs: {} },
  inputs: {},
  outputs: {},
  container: { engine: 'docker', settings: { image: { url: 'redlab/busybox:1' }, ram: 256 } }
};

const code = (source: string) => ({ cell_type: 'code', source, metadata: {}, outputs: [], execution_count: null });
/** A run record as older versions wrote it: a code cell, its state in the header output. */
function legacyRecord(runId: string, outputs: unknown[]) {
  return {
    cell_type: 'code',
    source: `# RED Lab run ${runId} — outputs stream here`,
    metadata: { trusted: true, editable: false, tags: ['redlab-run'], redlab: { runId, since: 5, state: 'succeeded' } },
    outputs,
    execution_count: null
  };
}

test('old code-cell run records become Markdown records on open, cleared ones are rebuilt from the bridge', async ({ page, tmpPath }) => {
  test.setTimeout(4 * 60_000);
  page.on('dialog', d => void (d.type() === 'beforeunload' ? d.accept() : d.dismiss()));
  await waitForBridge(page);
  // A finished run on the bridge, for the record whose outputs were cleared.
  const cleared: string = await page.evaluate(async red => {
    const api = `${window.location.origin}/redlab-bridge/api/v1`;
    const res = await fetch(`${api}/runs`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(red) });
    const { id } = await res.json();
    for (let i = 0; i < 120; i++) {
      const run = await (await fetch(`${api}/runs/${id}`)).json();
      if (['succeeded', 'failed', 'cancelled'].includes(run.state)) return `${id}:${run.state}`;
      await new Promise(r => setTimeout(r, 500));
    }
    return `${id}:not finished`;
  }, ECHO_RED);
  const [clearedRun, clearedState] = cleared.split(':');
  expect(clearedState).toBe('succeeded');

  const snapshot = { runId: KEPT_RUN, since: 5, state: 'succeeded', phases: [], info: [], logs: { lines: 2, dropped: { stdout: 0, stderr: 0 } }, artifacts: [], recordLoaded: true, final: { state: 'succeeded', exitCode: 0 } };
  const nb = {
    nbformat: 4,
    nbformat_minor: 5,
    metadata: { kernelspec: { name: 'python3', display_name: 'Python 3', language: 'python' } },
    cells: [
      code('x = 1'),
      legacyRecord(KEPT_RUN, [
        { output_type: 'display_data', data: { 'text/html': '<div>old header</div>', 'text/plain': 'old header', [RUN_MIME]: snapshot }, metadata: {} },
        { output_type: 'stream', name: 'stdout', text: ['legacy line one\n', 'legacy line two\n'] }
      ]),
      legacyRecord(clearedRun, []),
      code('y = 2')
    ]
  };
  const nbPath = `${tmpPath}/${NOTEBOOK}`;
  expect(await page.contents.uploadContent(JSON.stringify(nb, null, 1), 'text', nbPath)).toBe(true);
  expect(await page.notebook.openByPath(nbPath)).toBe(true);
  await page.notebook.activate(NOTEBOOK);

  const cells = () =>
    page.evaluate(() => {
      const panel = window.jupyterapp.shell.currentWidget as any;
      return (panel.content.widgets as any[]).map(c => ({ type: c.model.type as string, runId: (c.model.getMetadata('redlab')?.runId ?? '') as string }));
    });
  await expect.poll(cells, { message: 'the old records are Markdown cells, in place' }).toEqual([
    { type: 'code', runId: '' },
    { type: 'markdown', runId: KEPT_RUN },
    { type: 'markdown', runId: clearedRun },
    { type: 'code', runId: '' }
  ]);
  // What the old outputs showed, now the record.
  const kept = (await page.notebook.getCellLocator(1))!.locator('.jp-RedLab-run');
  await expect(kept.locator('.jp-RedLab-badge').first()).toHaveText('succeeded');
  await expect(kept.locator('pre.jp-RedLab-log')).toHaveText(/legacy line one\s+legacy line two/);
  // The cleared one, rebuilt from the bridge.
  const rebuilt = (await page.notebook.getCellLocator(2))!.locator('.jp-RedLab-run');
  await expect(rebuilt.locator('.jp-RedLab-badge').first()).toHaveText('succeeded', { timeout: 60_000 });
  await expect(rebuilt.locator('pre.jp-RedLab-log')).toContainText('hello from the bridge');
  // The converted notebook waits to be saved.
  expect(await page.evaluate(() => (window.jupyterapp.shell.currentWidget as any).context.model.dirty)).toBe(true);

  // On demand, a record is written again from the bridge: the rebuilt one, emptied first, comes back whole…
  const selectAndRebuild = (index: number) =>
    page.evaluate(async i => {
      const panel = window.jupyterapp.shell.currentWidget as any;
      panel.content.activeCellIndex = i;
      await window.jupyterapp.commands.execute('redlab:rebuild-run-cell');
    }, index);
  await page.evaluate(() => {
    const cell = (window.jupyterapp.shell.currentWidget as any).content.widgets[2].model;
    cell.sharedModel.setSource('');
  });
  await expect(rebuilt).toHaveCount(0);
  await selectAndRebuild(2);
  await expect(rebuilt.locator('pre.jp-RedLab-log')).toContainText('hello from the bridge', { timeout: 30_000 });
  await expect(rebuilt.locator('.jp-RedLab-badge').first()).toHaveText('succeeded');
  // …and a run the bridge does not know leaves its record as it is, and says why.
  await selectAndRebuild(1);
  await expect(page.locator('.jp-toast-message, .Toastify__toast').filter({ hasText: 'was not rebuilt' }).first()).toBeVisible();
  await expect(kept.locator('pre.jp-RedLab-log')).toHaveText(/legacy line one\s+legacy line two/);
});
