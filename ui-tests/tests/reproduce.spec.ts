// "Reproduce" and "Export record…" in the RED panel's run history, on the real bridge and
// Docker engine: a small RED (binder/demo/grep.red.yml, grep in busybox) run from the
// panel, reproduced with one click; the re-run's entry names the run it reproduces and,
// once it ends, shows the drift report the bridge made from the two crates: identical.
// "Export record…" downloads the run's record as a zip. Then the input file changes: a
// second reproduction drifts (the input and the output it changed), and the export says
// the record cannot hold the input as it was and offers to export without inputs.
import type { Locator } from '@playwright/test';
import * as fs from 'fs';
import { DEMO_DIR, expect, IJupyterLabPageFixture, test, waitForBridge, type BridgeResponse } from './fixtures';

test.setTimeout(5 * 60_000);

const runPosts = (responses: BridgeResponse[]) => responses.filter(r => r.method === 'POST' && /\/api\/v1\/runs$/.test(new URL(r.url, 'http://x').pathname));

/** The history row of a run, once it is final. */
async function finishedRow(page: IJupyterLabPageFixture, runId: string): Promise<Locator> {
  const row = page.locator(`[data-testid="redlab-run-row"][data-run-id="${runId}"]`);
  await expect(row).toHaveAttribute('data-state', /succeeded|failed|cancelled/, { timeout: 180_000 });
  return row;
}

/** The id of the newest run in the history once the number of runs posted grew past `before`. */
async function newestRun(page: IJupyterLabPageFixture, responses: BridgeResponse[], before: number): Promise<string> {
  await expect.poll(() => runPosts(responses).length, { message: 'a run was posted' }).toBeGreaterThan(before);
  const rows = page.getByTestId('redlab-run-row');
  await expect(rows).toHaveCount(before + 1, { timeout: 30_000 });
  return (await rows.first().getAttribute('data-run-id'))!;
}

test('Reproduce runs a finished run again and shows its drift report: identical; Export record… downloads a zip', async ({ page, tmpPath, bridgeResponses }, testInfo) => {
  page.on('dialog', d => void (d.type() === 'beforeunload' ? d.accept() : d.dismiss()));
  expect(await page.contents.uploadDirectory(DEMO_DIR, tmpPath)).toBe(true);
  await waitForBridge(page);
  const nbPath = `${tmpPath}/demo.ipynb`;
  expect(await page.notebook.openByPath(nbPath)).toBe(true);
  await page.notebook.activate('demo.ipynb');
  await page.evaluate(() => window.jupyterapp.commands.execute('redlab:open-panel'));
  await expect(page.getByTestId('redlab-notebook')).toHaveText(nbPath);

  // The small RED, run from the panel.
  await page.evaluate(p => window.jupyterapp.commands.execute('redlab:import-red', { path: p }), `${tmpPath}/grep.red.yml`);
  await expect(page.getByTestId('redlab-red-file')).toBeVisible();
  await expect(page.getByTestId('redlab-run-button')).toBeEnabled();
  await page.getByTestId('redlab-run-button').click();
  const original = await newestRun(page, bridgeResponses, 0);
  const row = await finishedRow(page, original);
  await expect(row).toHaveAttribute('data-state', 'succeeded');
  await expect(row.getByTestId('redlab-run-drift')).toHaveCount(0);

  // Reproduce: a second run, which says which run it reproduces and then what differs.
  await row.getByTestId('redlab-run-rerun').click();
  const rerun = await newestRun(page, bridgeResponses, 1);
  expect(rerun).not.toBe(original);
  const rerunRow = await finishedRow(page, rerun);
  await expect(rerunRow).toHaveAttribute('data-state', 'succeeded');
  const drift = rerunRow.getByTestId('redlab-run-drift');
  await expect(drift).toContainText('Reproduces the run of');
  await expect(drift.getByTestId('redlab-drift-summary')).toHaveText(/^Reproduced: identical to the original run \(1 output file\)\.$/, { timeout: 30_000 });
  expect(bridgeResponses.filter(r => r.url.includes(`/runs/${rerun}/drift?against=${original}`)).map(r => r.status)).toEqual([200]);
  await drift.locator('summary', { hasText: 'Details' }).click();
  await expect(drift.getByTestId('redlab-drift-output')).toHaveAttribute('data-kind', 'identical');
  await expect(drift.getByTestId('redlab-drift-output')).toContainText('matches.txt');
  await expect(drift.getByTestId('redlab-drift-image')).toContainText('the same');
  await page.getByTestId('redlab-history').screenshot({ path: testInfo.outputPath('reproduce-history.png') });

  // Export record…: the browser saves the bridge's zip under the name the bridge gave it.
  const download = page.waitForEvent('download');
  await row.getByTestId('redlab-run-export').click();
  const zip = await download;
  expect(zip.suggestedFilename()).toBe(`redlab-run-${original}.zip`);
  const file = testInfo.outputPath(zip.suggestedFilename());
  await zip.saveAs(file);
  // A zip (local file header "PK\x03\x04") holding the crate's metadata.
  const bytes = fs.readFileSync(file);
  expect(bytes.subarray(0, 4).toString('latin1')).toBe('PK\x03\x04');
  expect(bytes.includes(Buffer.from('ro-crate-metadata.json'))).toBe(true);
  await expect(row.getByTestId('redlab-export-error')).toHaveCount(0);
  await expect(row.getByTestId('redlab-run-export')).toHaveText('export record…');

  // The input file changes: reproducing the original now drifts, and says why.
  const input = `${tmpPath}/data/in.txt`;
  expect(await page.contents.deleteFile(input)).toBe(true);
  expect(await page.contents.uploadContent('QUICK\nquiet\nQUITE different\n', 'text', input)).toBe(true);
  await row.getByTestId('redlab-run-rerun').click();
  const drifted = await newestRun(page, bridgeResponses, 2);
  const driftedRow = await finishedRow(page, drifted);
  const report = driftedRow.getByTestId('redlab-run-drift');
  await expect(report.getByTestId('redlab-drift-summary')).toHaveText(/^Not identical: 1 output changed, 1 input changed/, { timeout: 30_000 });
  // Details are open when something differs.
  await expect(report.getByTestId('redlab-drift-output')).toHaveAttribute('data-kind', 'changed');
  await expect(report.getByTestId('redlab-drift-inputs')).toContainText('text_file: changed (the re-run read other data:');
  await page.getByTestId('redlab-history').screenshot({ path: testInfo.outputPath('reproduce-drift.png') });

  // Its record cannot hold the input as it was any more: said, and exported without inputs.
  await row.getByTestId('redlab-run-export').click();
  const refusal = row.getByTestId('redlab-export-error');
  await expect(refusal).toContainText('The record cannot include the input files:');
  await expect(refusal).toContainText('input text_file');
  const withoutInputs = page.waitForEvent('download');
  await refusal.getByTestId('redlab-export-without-inputs').click();
  expect((await withoutInputs).suggestedFilename()).toMatch(/\.zip$/);
  await expect(row.getByTestId('redlab-export-error')).toHaveCount(0);
});
