// The demo notebook run on a real Slurm cluster from the RED panel (issue 13): the one-node
// Slurm that start-jupyter.sh starts (server-bridge/test/helpers/slurm-cluster.sh: 1 node, 2
// fake GPUs) and the bridge's slurm engine (REDLAB_ENGINES=docker,slurm), through the panel
// as a scientist meets it: the engine select offers slurm with the cluster's room, choosing it
// shows the Cluster section, a bad time limit is refused at its field with the fix and blocks
// Run, the fixed one runs the notebook as a Slurm job (Charliecloud on the node) to
// `succeeded`, the run cell and the run record name the job, and the notebook and the
// exported RED keep `execution: {engine: slurm, settings: {timeLimit}}`.
// Where no Slurm can run (no slurm-wlm/munge/charliecloud, not root) the bridge has no slurm
// engine and the test skips, saying so; under CI it must not.
import type { Locator } from '@playwright/test';
import { DEMO_DIR, expect, IJupyterLabPageFixture, test, waitForBridge, type BridgeResponse } from './fixtures';

const NOTEBOOK = 'demo.ipynb';
const TIME_LIMIT = '00:10:00';

// The first run converts the image for Charliecloud (ch-convert) before the job starts.
test.setTimeout(6 * 60_000);

async function bridgeGet(page: IJupyterLabPageFixture, apiPath: string): Promise<any> {
  return page.evaluate(async p => {
    const res = await fetch(`${window.location.origin}/redlab-bridge/api/v1/${p}`);
    if (!res.ok) throw new Error(`GET ${p}: ${res.status} ${await res.text()}`);
    return res.json();
  }, apiPath);
}

const runPosts = (responses: BridgeResponse[]) => responses.filter(r => r.method === 'POST' && /\/api\/v1\/runs$/.test(new URL(r.url, 'http://x').pathname));

/** Index of the cell tagged `redlab-run` in the open notebook, or -1. */
function runCellIndex(page: IJupyterLabPageFixture, path: string): Promise<number> {
  return page.evaluate(p => {
    for (const w of window.jupyterapp.shell.widgets('main')) {
      const panel = w as any;
      if (panel.context?.path !== p || !panel.content?.widgets) continue;
      return (panel.content.widgets as any[]).findIndex(c => ((c.model.getMetadata?.('tags') ?? []) as string[]).includes('redlab-run'));
    }
    return -1;
  }, path);
}

async function runCell(page: IJupyterLabPageFixture, path: string): Promise<Locator> {
  let index = -1;
  await expect.poll(async () => (index = await runCellIndex(page, path)), { message: 'a cell tagged redlab-run is inserted', timeout: 60_000 }).toBeGreaterThanOrEqual(0);
  const cell = await page.notebook.getCellLocator(index);
  expect(cell, `cell ${index} is rendered`).not.toBeNull();
  await cell!.scrollIntoViewIfNeeded();
  return cell!;
}

async function setTimeLimit(page: IJupyterLabPageFixture, value: string): Promise<void> {
  const input = page.getByTestId('redlab-cluster-timeLimit');
  await input.fill(value);
  await input.press('Tab');
}

test.describe('a cluster engine', () => {
  test('the demo notebook on Slurm from the panel: capacity, Cluster section, time limit checked, run as a Slurm job, kept in notebook and RED', async ({ page, tmpPath, bridgeResponses }) => {
    page.on('dialog', d => void (d.type() === 'beforeunload' ? d.accept() : d.dismiss()));
    expect(await page.contents.uploadDirectory(DEMO_DIR, tmpPath)).toBe(true);
    const path = `${tmpPath}/${NOTEBOOK}`;
    await waitForBridge(page);

    // The bridge's engines: slurm there (start-jupyter.sh started a cluster), or a reason to skip.
    const health = await bridgeGet(page, 'health');
    const slurm = (health.engines ?? []).find((e: { name: string }) => e.name === 'slurm');
    if (!process.env.CI) test.skip(!slurm?.available, `no usable slurm engine in the bridge (${slurm ? `slurm: ${slurm.error ?? 'not available'}` : 'Slurm could not run here: see start-jupyter.sh'})`);
    expect(slurm, 'CI: the bridge has the slurm engine (start-jupyter.sh starts a Slurm cluster)').toBeDefined();
    expect(slurm.available, `slurm is available (${slurm.error ?? ''})`).toBe(true);
    expect(health.defaultEngine, 'docker stays the default').toBe('docker');
    expect(slurm.capacity).toMatchObject({ nodes: 1, nodesUp: 1, gpus: 2, gpusFree: 2 });

    expect(await page.notebook.openByPath(path)).toBe(true);
    await page.notebook.activate(NOTEBOOK);
    await page.evaluate(() => window.jupyterapp.commands.execute('redlab:open-panel'));
    const panel = page.getByTestId('redlab-panel');
    await expect(panel).toBeVisible();
    await expect(page.getByTestId('redlab-notebook')).toHaveText(path);

    // 1. The select offers slurm with the cluster's room; docker is chosen, no Cluster section.
    const select = page.getByTestId('redlab-engine');
    await expect(select.locator('option[value="slurm"]')).toHaveText(/^slurm [\d.]+ \u2014 1 node, 2 of 2 GPUs free$/);
    await expect(select).toHaveValue('docker');
    await expect(page.getByTestId('redlab-cluster-section')).toHaveCount(0);

    // 2. Slurm chosen: the Cluster section, execution in the YAML, the extension said at the engine.
    await select.selectOption('slurm');
    await expect(select).toHaveValue('slurm');
    const section = page.getByTestId('redlab-cluster-section');
    await expect(section).toBeVisible();
    await expect(section).toContainText('Cluster (Slurm)');
    for (const key of ['partition', 'account', 'timeLimit', 'workDir']) await expect(page.getByTestId(`redlab-cluster-${key}`)).toBeVisible();
    const yaml = page.getByTestId('redlab-yaml');
    await expect(yaml).toContainText('engine: slurm');
    await expect(panel.getByTestId('redlab-field-warning').filter({ hasText: 'slurm is a RED Lab extension' })).toBeVisible();

    // 3. A time limit in minutes ("90") is refused at its field with the fix, and Run says why it is disabled.
    await setTimeLimit(page, '90');
    const limitError = section.getByTestId('redlab-field-error');
    await expect(limitError).toHaveCount(1);
    await expect(limitError).toContainText('"01:30:00" for 90 minutes');
    const button = page.getByTestId('redlab-run-button');
    await expect(button).toBeDisabled();
    await expect(page.getByTestId('redlab-run-blocked')).toContainText(/^Fix Cluster: Time limit first: /);
    // The command (toolbar, palette) refuses too, before the bridge hears of it.
    await page.evaluate(() => window.jupyterapp.commands.execute('redlab:run-notebook'));
    await page.waitForTimeout(1000);
    expect(runPosts(bridgeResponses), 'no run with a bad time limit').toEqual([]);

    // 4. Fixed: no error, Run enabled, the limit in the YAML.
    await setTimeLimit(page, TIME_LIMIT);
    await expect(section.getByTestId('redlab-field-error')).toHaveCount(0);
    await expect(page.getByTestId('redlab-run-blocked')).toHaveCount(0);
    await expect(yaml).toContainText(/timeLimit: ['"]?00:10:00/);
    await expect(button).toBeEnabled();

    // 5. Run: one run posted, a run cell naming its Slurm job, succeeded.
    await button.click();
    await expect.poll(() => runPosts(bridgeResponses).length, { message: 'a run was posted' }).toBe(1);
    const row = page.getByTestId('redlab-run-row').first();
    await expect(row).toBeVisible({ timeout: 30_000 });
    const runId = (await row.getAttribute('data-run-id'))!;
    const message = page.getByTestId('redlab-bridge-message');
    await expect(row, (await message.count()) ? `bridge says: ${await message.first().innerText()}` : 'the run ends').toHaveAttribute('data-state', /succeeded|failed|cancelled/, { timeout: 240_000 });
    const record = await bridgeGet(page, `runs/${runId}`);
    expect(await row.getAttribute('data-state'), `run ${runId}: ${JSON.stringify(record.batches?.[0]?.failure ?? record.error ?? record.state)}`).toBe('succeeded');
    await expect(row.getByTestId('redlab-run-values')).toContainText('samples=200');

    // The run record (GET /runs/{id}): the RED ran on slurm with the limit, its batch as a Slurm
    // job that completed on the test cluster's node, exit 0.
    expect(record.state).toBe('succeeded');
    expect(record.options.engine).toBe('slurm');
    expect(record.red.execution).toMatchObject({ engine: 'slurm', settings: { timeLimit: TIME_LIMIT } });
    const job = record.result.batches[0].job;
    expect(job).toMatchObject({ scheduler: 'slurm', id: expect.stringMatching(/^\d+$/), state: 'COMPLETED', node: 'redlabnode' });
    expect(record.result.batches[0].exitCode).toBe(0);

    // The run cell: the demo's log, succeeded, and the job submitted to Slurm.
    const cell = await runCell(page, path);
    await expect(cell.getByText(/^\s*succeeded\s*$/).first()).toBeVisible({ timeout: 60_000 });
    await expect(cell).toContainText('walking 200 steps');
    await expect(cell).toContainText(`Slurm job ${job.id} submitted`);

    // 6. The notebook keeps the engine and its settings; the exported RED says slurm with the limit.
    expect(await page.notebook.save()).toBe(true);
    const saved = await page.evaluate(async p => (await fetch(`${window.location.origin}/api/contents/${p}?content=1`)).json(), path);
    const experiment = saved.content.metadata.redlab.experiment;
    expect(experiment.engine).toBe('slurm');
    expect(experiment.cluster.slurm).toEqual({ timeLimit: TIME_LIMIT });

    const redPath = `${tmpPath}/demo.red.yml`;
    await page.evaluate(() => window.jupyterapp.commands.execute('redlab:export-red'));
    await expect(page.getByTestId('redlab-notice')).toContainText(`Exported ${redPath}`);
    const red = await page.evaluate(async p => (await fetch(`${window.location.origin}/api/contents/${p}?content=1&type=file&format=text`)).json(), redPath);
    expect(red.content).toMatch(/\nexecution:\n {2}engine: slurm\n {2}settings:\n( {4}.*\n)* {4}timeLimit: ['"]?00:10:00['"]?\n/);
  });
});
