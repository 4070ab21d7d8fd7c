// The RED panel as a scientist meets it, on the real bridge and Docker engine: edits kept
// in the notebook across a reload, a notebook not modified by opening it, a RED file
// opened as the experiment it is (grep) and run, one run per double-click without the
// "File Changed" dialog, a re-run that reproduces the original run after the notebook
// changed, an invalid image refused before any run with the reason beside Run, a new
// `parameters` tag followed, and the values of each run in the history.
import type { Locator } from '@playwright/test';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as nodePath from 'path';
import { DEMO_DIR, expect, IJupyterLabPageFixture, test, waitForBridge, type BridgeResponse } from './fixtures';

const NOTEBOOK = 'demo.ipynb';
const OTHER_IMAGE = 'redlab/debian-python:test';

test.setTimeout(6 * 60_000);

/**
 * The demo notebook as last saved with this machine's kernel: JupyterLab writes the kernel's
 * language_info (its Python version) into a notebook when the kernel starts, which modifies
 * one saved with another Python; that is JupyterLab's own doing, not the panel's.
 */
function demoForThisKernel(): string {
  const nb = JSON.parse(fs.readFileSync(nodePath.join(DEMO_DIR, NOTEBOOK), 'utf8'));
  nb.metadata.language_info.version = execFileSync('python3', ['-c', 'import platform; print(platform.python_version())'], { encoding: 'utf8' }).trim();
  return JSON.stringify(nb, null, 1);
}

/** Uploads binder/demo to the test's folder, opens its notebook and the RED panel. */
async function openDemo(page: IJupyterLabPageFixture, tmpPath: string): Promise<string> {
  page.on('dialog', d => void (d.type() === 'beforeunload' ? d.accept() : d.dismiss()));
  expect(await page.contents.uploadDirectory(DEMO_DIR, tmpPath)).toBe(true);
  const path = `${tmpPath}/${NOTEBOOK}`;
  // (Galata's uploadContent only reports a created file as a success: replace = delete + create.)
  expect(await page.contents.deleteFile(path)).toBe(true);
  expect(await page.contents.uploadContent(demoForThisKernel(), 'text', path)).toBe(true);
  await waitForBridge(page);
  await openNotebook(page, path);
  return path;
}

async function openNotebook(page: IJupyterLabPageFixture, path: string): Promise<void> {
  expect(await page.notebook.openByPath(path)).toBe(true);
  await page.notebook.activate(path.split('/').pop()!);
  await page.evaluate(() => window.jupyterapp.commands.execute('redlab:open-panel'));
  await expect(page.getByTestId('redlab-panel')).toBeVisible();
  await expect(page.getByTestId('redlab-notebook')).toHaveText(path);
}

async function setField(page: IJupyterLabPageFixture, testId: string, value: string): Promise<void> {
  const input = page.getByTestId(testId);
  await input.fill(value);
  await input.press('Tab');
}

async function waitForKernel(page: IJupyterLabPageFixture, path: string): Promise<void> {
  await expect
    .poll(
      () =>
        page.evaluate(p => {
          for (const w of window.jupyterapp.shell.widgets('main')) {
            const panel = w as any;
            if (panel.context?.path === p) return panel.sessionContext?.session?.kernel?.status ?? 'none';
          }
          return 'none';
        }, path),
      { message: 'the kernel is up', timeout: 60_000 }
    )
    .toBe('idle');
}

/** Whether the open notebook at `path` has unsaved changes. */
function isDirty(page: IJupyterLabPageFixture, path: string): Promise<boolean | undefined> {
  return page.evaluate(p => {
    for (const w of window.jupyterapp.shell.widgets('main')) {
      const panel = w as any;
      if (panel.context?.path === p) return panel.context.model.dirty as boolean;
    }
    return undefined;
  }, path);
}

/** Whether the first cell of the notebook is tagged `parameters`. */
function isTagged(page: IJupyterLabPageFixture, path: string): Promise<boolean> {
  return page.evaluate(p => {
    for (const w of window.jupyterapp.shell.widgets('main')) {
      const panel = w as any;
      if (panel.context?.path === p) return ((panel.content.model.cells.get(0).getMetadata('tags') ?? []) as string[]).includes('parameters');
    }
    return false;
  }, path);
}

/** Sets the source of the notebook's parameters cell (as typing there does). */
function setParametersCell(page: IJupyterLabPageFixture, path: string, source: string): Promise<void> {
  return page.evaluate(
    ([p, src]) => {
      for (const w of window.jupyterapp.shell.widgets('main')) {
        const panel = w as any;
        if (panel.context?.path !== p) continue;
        const cells = panel.content.model.cells;
        for (let i = 0; i < cells.length; i++) {
          const cell = cells.get(i);
          if ((cell.getMetadata('tags') ?? []).includes('parameters')) return void cell.sharedModel.setSource(src);
        }
      }
      throw new Error(`no parameters cell in ${p}`);
    },
    [path, source] as const
  );
}

/** Reloads the page and comes back to the notebook (restored from the workspace, or opened again). */
async function reload(page: IJupyterLabPageFixture, path: string): Promise<void> {
  await page.reload({ waitForIsReady: false } as Parameters<IJupyterLabPageFixture['reload']>[0]);
  await page.locator('#jupyterlab-splash').waitFor({ state: 'detached' });
  const tab = page.getByRole('main').getByRole('tab', { name: new RegExp(`^${path.split('/').pop()!.replace('.', '\\.')}`) });
  const restored = await tab
    .first()
    .waitFor({ state: 'visible', timeout: 20_000 })
    .then(() => true)
    .catch(() => false);
  if (!restored) expect(await page.notebook.openByPath(path)).toBe(true);
  await page.notebook.activate(path.split('/').pop()!);
  await page.evaluate(() => window.jupyterapp.commands.execute('redlab:open-panel'));
  await expect(page.getByTestId('redlab-notebook')).toHaveText(path);
}

const runPosts = (responses: BridgeResponse[]) => responses.filter(r => r.method === 'POST' && /\/api\/v1\/runs$/.test(new URL(r.url, 'http://x').pathname));

/** The history row of a run, once it is final. */
async function finishedRow(page: IJupyterLabPageFixture, runId: string): Promise<Locator> {
  const row = page.locator(`[data-testid="redlab-run-row"][data-run-id="${runId}"]`);
  await expect(row).toHaveAttribute('data-state', /succeeded|failed|cancelled/, { timeout: 180_000 });
  return row;
}

async function runRecord(page: IJupyterLabPageFixture, runId: string): Promise<any> {
  return page.evaluate(async id => (await fetch(`${window.location.origin}/redlab-bridge/api/v1/runs/${id}`)).json(), runId);
}

/** Clicks Run (once or twice) and returns the new run's id. */
async function run(page: IJupyterLabPageFixture, responses: BridgeResponse[], click: 'click' | 'dblclick' = 'click'): Promise<string> {
  const before = runPosts(responses).length;
  const button = page.getByTestId('redlab-run-button');
  await expect(button).toBeEnabled();
  await button[click]();
  await expect.poll(() => runPosts(responses).length, { message: 'a run was posted' }).toBeGreaterThan(before);
  const rows = page.getByTestId('redlab-run-row');
  await expect(rows.first()).toBeVisible({ timeout: 30_000 });
  return (await rows.first().getAttribute('data-run-id'))!;
}

test.describe('RED panel', () => {
  test('opening a notebook does not modify it; panel edits are kept in it across save and reload', async ({ page, tmpPath }) => {
    const path = await openDemo(page, tmpPath);
    await expect(page.getByTestId('redlab-param-samples')).toBeVisible();
    // Opening (the kernel starting, the panel reading it) leaves the notebook as it was on disk.
    await waitForKernel(page, path);
    await page.waitForTimeout(2000);
    expect(await isDirty(page, path)).toBe(false);

    await setField(page, 'redlab-image-input', OTHER_IMAGE);
    await setField(page, 'redlab-ram-input', '2048');
    await setField(page, 'redlab-param-samples', '321');
    await expect.poll(() => isDirty(page, path), { message: 'an edit modifies the notebook' }).toBe(true);
    expect(await page.notebook.save()).toBe(true);
    await reload(page, path);

    await expect(page.getByTestId('redlab-image-input')).toHaveValue(OTHER_IMAGE);
    await expect(page.getByTestId('redlab-ram-input')).toHaveValue('2048');
    await expect(page.getByTestId('redlab-param-samples')).toHaveValue('321');
    await page.waitForTimeout(1500);
    expect(await isDirty(page, path), 'reopened with its experiment, still unmodified').toBe(false);
  });

  test('an SFTP input and an output sent over SFTP: the engine\'s connectors, their fields, secrets only as {{variables}} in the notebook', async ({ page, tmpPath }) => {
    const path = await openDemo(page, tmpPath);
    await page.getByTestId('redlab-add-input').click();
    const input = page.getByTestId('redlab-input-data');
    await input.getByTestId('redlab-input-connector').selectOption('red-connector-ssh');
    await expect(input.getByTestId('redlab-access-auth.password')).toHaveValue('data_password');
    await input.getByTestId('redlab-access-host').fill('lab.example.org');
    await input.getByTestId('redlab-access-auth.username').fill('ann');
    await input.getByTestId('redlab-access-filePath').fill('/data/tiles.csv');
    // The secret field takes a variable's name: what is typed there never becomes a value.
    await input.getByTestId('redlab-access-auth.password').fill('lab_pw');
    await expect(input.getByTestId('redlab-field-error')).toHaveCount(0);

    await page.getByTestId('redlab-add-output').click();
    const output = page.getByTestId('redlab-output-result');
    await output.getByTestId('redlab-output-glob').fill('weights.h5');
    await output.getByTestId('redlab-output-connector').selectOption('red-connector-ssh');
    await output.getByTestId('redlab-access-host').fill('lab.example.org');
    await output.getByTestId('redlab-access-auth.username').fill('ann');
    await output.getByTestId('redlab-access-filePath').fill('/results/weights.h5');
    await expect(output.getByTestId('redlab-field-error')).toHaveCount(0);

    const yaml = page.getByTestId('redlab-yaml');
    await expect(yaml).toContainText('command: red-connector-ssh');
    await expect(yaml).toContainText(/password: ['"]?\{\{lab_pw\}\}/);
    await expect(yaml).toContainText(/password: ['"]?\{\{result_password\}\}/);
    await expect(page.getByTestId('redlab-yaml-section')).toContainText('valid RED 9');

    expect(await page.notebook.save()).toBe(true);
    const saved = await page.evaluate(async p => (await fetch(`${window.location.origin}/api/contents/${p}?content=1`)).json(), path);
    const experiment = saved.content.metadata.redlab.experiment;
    expect(experiment.inputs[0]).toMatchObject({ connector: 'red-connector-ssh', access: { host: 'lab.example.org', port: 22, auth: { username: 'ann', password: '{{lab_pw}}' }, filePath: '/data/tiles.csv' } });
    expect(experiment.outputs.find((o: { name: string }) => o.name === 'result').send).toEqual({
      connector: 'red-connector-ssh',
      access: { host: 'lab.example.org', port: 22, auth: { username: 'ann', password: '{{result_password}}' }, filePath: '/results/weights.h5' }
    });
  });

  test('an SFTP folder mounted instead of copied, writable: offered where the engine can mount, in the YAML', async ({ page, tmpPath }) => {
    await openDemo(page, tmpPath);
    await page.getByTestId('redlab-add-input').click();
    const input = page.getByTestId('redlab-input-data');
    await input.getByTestId('redlab-input-connector').selectOption('red-connector-ssh');
    // A file is copied: no mount offered, no writable flag.
    await expect(input.getByTestId('redlab-input-mount')).toHaveCount(0);
    await input.locator('select').first().selectOption('Directory');
    await input.getByTestId('redlab-access-host').fill('lab.example.org');
    await input.getByTestId('redlab-access-auth.username').fill('ann');
    await input.getByTestId('redlab-access-dirPath').fill('/data/tiles');
    await expect(input.getByTestId('redlab-access-writable')).toHaveCount(0);
    // The bridge's Docker engine mounts with sshfs on this machine (.ci/setup installs it).
    await input.getByTestId('redlab-input-mount').check();
    await input.getByTestId('redlab-access-writable').check();
    await expect(input.getByTestId('redlab-field-error')).toHaveCount(0);
    const yaml = page.getByTestId('redlab-yaml');
    await expect(yaml).toContainText('mount: true');
    await expect(yaml).toContainText('writable: true');
    await expect(page.getByTestId('redlab-yaml-section')).toContainText('valid RED 9');
    // Unticked: copied again, and the writable flag goes with the mount.
    await input.getByTestId('redlab-input-mount').uncheck();
    await expect(input.getByTestId('redlab-access-writable')).toHaveCount(0);
    await expect(yaml).not.toContainText('mount: true');
    await expect(yaml).not.toContainText('writable');
  });

  test('a new parameters tag reaches the panel', async ({ page, tmpPath }) => {
    const nb = {
      nbformat: 4,
      nbformat_minor: 5,
      metadata: { kernelspec: { name: 'python3', display_name: 'Python 3', language: 'python' } },
      cells: [
        { cell_type: 'code', id: 'a', metadata: {}, source: 'alpha = 3\n', outputs: [], execution_count: null },
        { cell_type: 'code', id: 'b', metadata: {}, source: 'print(alpha)\n', outputs: [], execution_count: null }
      ]
    };
    const path = `${tmpPath}/tagged.ipynb`;
    expect(await page.contents.uploadContent(JSON.stringify(nb), 'text', path)).toBe(true);
    await openNotebook(page, path);
    await expect(page.getByTestId('redlab-param-alpha')).toHaveCount(0);
    // As a user tags a cell: select it, then Property Inspector > Common Tools > Cell Tags > Add Tag.
    await page.notebook.selectCells(0);
    await page.sidebar.openTab('jp-property-inspector');
    const addTag = page.locator('#jp-property-inspector input[placeholder="Add Tag"]');
    if (!(await addTag.isVisible())) await page.locator('#jp-property-inspector').getByText('Common Tools').click();
    await addTag.click();
    await addTag.fill('parameters');
    await addTag.press('Enter');
    await expect.poll(() => isTagged(page, path), { message: 'the cell is tagged' }).toBe(true);
    await page.evaluate(() => window.jupyterapp.commands.execute('redlab:open-panel'));
    await expect(page.getByTestId('redlab-param-alpha')).toHaveValue('3', { timeout: 10_000 });
  });

  test('an invalid image is refused before any run, and the disabled Run says why', async ({ page, tmpPath, bridgeResponses }) => {
    await openDemo(page, tmpPath);
    await setField(page, 'redlab-image-input', 'Not A Valid Image!!');
    const panel = page.getByTestId('redlab-panel');
    await expect(panel.getByTestId('redlab-field-error').first()).toContainText('image "Not A Valid Image!!" contains spaces');
    const button = page.getByTestId('redlab-run-button');
    await expect(button).toBeDisabled();
    await expect(page.getByTestId('redlab-run-blocked')).toContainText(/^Fix Image first: image "Not A Valid Image!!" contains spaces/);
    await expect(button).toHaveAttribute('title', /^Fix Image first/);
    // The command (toolbar, palette) refuses too, before the bridge hears of it.
    await page.evaluate(() => window.jupyterapp.commands.execute('redlab:run-notebook'));
    await page.waitForTimeout(1000);
    expect(runPosts(bridgeResponses)).toEqual([]);
    await setField(page, 'redlab-image-input', 'redlab/debian-python:12');
    await expect(button).toBeEnabled();
    await expect(page.getByTestId('redlab-run-blocked')).toHaveCount(0);
  });

  test('Import RED opens grep.red.yml as it is, and Run runs grep', async ({ page, tmpPath, bridgeResponses }) => {
    const path = await openDemo(page, tmpPath);
    await page.evaluate(p => window.jupyterapp.commands.execute('redlab:import-red', { path: p }), `${tmpPath}/grep.red.yml`);
    await expect(page.getByTestId('redlab-red-file')).toBeVisible();
    await expect(page.getByTestId('redlab-command')).toHaveText('grep QU /cc/inputs/text_file/in.txt -B 1');
    await expect(page.getByTestId('redlab-red-input-query_term').getByTestId('redlab-red-input-value')).toHaveValue('QU');
    await expect(page.getByTestId('redlab-red-input-text_file').getByTestId('redlab-red-input-value')).toHaveValue('data/in.txt');
    await expect(page.getByTestId('redlab-ram-input')).toHaveValue('256');
    await expect(page.getByTestId('redlab-image-input')).toHaveValue('redlab/busybox:1');

    const id = await run(page, bridgeResponses);
    const row = await finishedRow(page, id);
    await expect(row).toHaveAttribute('data-state', 'succeeded');
    await expect(row.getByTestId('redlab-run-values')).toHaveText('query_term=QU · text_file=in.txt · before_context=1');
    const record = await runRecord(page, id);
    expect(record.red.cli.baseCommand).toBe('grep');
    expect(record.red.container.settings.ram).toBe(256);
    expect(record.batches[0].exitCode).toBe(0);

    // The notebook's own experiment is still there, unchanged.
    await page.getByTestId('redlab-close-red-file').click();
    await expect(page.getByTestId('redlab-param-samples')).toHaveValue('200');
    await expect(page.getByTestId('redlab-image-input')).toHaveValue('redlab/debian-python:12');
    await expect(page.getByTestId('redlab-ram-input')).not.toHaveValue('0');
    expect(await isDirty(page, path)).not.toBeUndefined();
  });

  test('a double-click starts one run without "File Changed"; a re-run reproduces it after the notebook changed', async ({ page, tmpPath, bridgeResponses }) => {
    const path = await openDemo(page, tmpPath);
    await setField(page, 'redlab-param-samples', '120');
    await page.waitForTimeout(600);

    const first = await run(page, bridgeResponses, 'dblclick');
    await page.waitForTimeout(4000);
    expect(runPosts(bridgeResponses), 'exactly one run').toHaveLength(1);
    await expect(page.locator('.jp-Dialog')).toHaveCount(0);
    const runCells = await page.evaluate(p => {
      for (const w of window.jupyterapp.shell.widgets('main')) {
        const panel = w as any;
        if (panel.context?.path === p) return (panel.content.widgets as any[]).filter(c => (c.model.getMetadata('tags') ?? []).includes('redlab-run')).length;
      }
      return -1;
    }, path);
    expect(runCells, 'one run cell').toBe(1);
    const row = await finishedRow(page, first);
    await expect(row).toHaveAttribute('data-state', 'succeeded');
    await expect(row.getByTestId('redlab-run-values')).toContainText('samples=120');
    const original = await runRecord(page, first);
    expect(original.red.inputs.notebook.connector.access.path).toMatch(/^_redlab\/snapshots\/[0-9a-f]{64}\.ipynb$/);

    // The notebook and the panel change; the re-run runs what the first run ran.
    await setParametersCell(page, path, 'samples = 999\nnoise = 0.3\ntitle = "changed"\nseed = 1\n');
    await setField(page, 'redlab-param-samples', '77');
    await row.getByTestId('redlab-run-rerun').click();
    await expect.poll(() => runPosts(bridgeResponses).length).toBe(2);
    await expect(page.getByTestId('redlab-notice')).toContainText(/pinned by (digest|image ID)/);
    const second = (await page.getByTestId('redlab-run-row').first().getAttribute('data-run-id'))!;
    expect(second).not.toBe(first);
    await expect(await finishedRow(page, second)).toHaveAttribute('data-state', 'succeeded');
    const rerun = await runRecord(page, second);
    expect(rerun.red.inputs.samples).toBe(120);
    expect(rerun.red.inputs.notebook).toEqual(original.red.inputs.notebook);
    expect(original.red.inputs.runner.connector.access.path).toMatch(/^_redlab\/snapshots\/redlab_nbrun-[0-9a-f]{64}\.py$/);
    expect(rerun.red.inputs.runner).toEqual(original.red.inputs.runner);
    const pinned = original.image.digest?.includes('@') ? original.image.digest : original.image.id;
    expect(rerun.red.container.settings.image.url).toBe(pinned);
    expect(rerun.image.id).toBe(original.image.id);
    await expect(page.locator('.jp-Dialog')).toHaveCount(0);
  });
});
