// Issue 7, in Chromium on the real bridge and Docker engine: the files the demo notebook
// writes are listed in the RED panel's Outputs as found in its code (with where), each with a
// checkbox, plus the folder for other new files; unticking walk.svg leaves it out of the run:
// the run's outputs table lists results.csv and metrics.json, and no walk.svg anywhere.
import { DEMO_DIR, expect, test, waitForBridge } from './fixtures';

const NOTEBOOK = 'demo.ipynb';

test.setTimeout(5 * 60_000);

test('the files the notebook writes come back by default; an unticked one does not', async ({ page, tmpPath }) => {
  page.on('dialog', d => void (d.type() === 'beforeunload' ? d.accept() : d.dismiss()));
  expect(await page.contents.uploadDirectory(DEMO_DIR, tmpPath)).toBe(true);
  await waitForBridge(page);
  const path = `${tmpPath}/${NOTEBOOK}`;
  expect(await page.notebook.openByPath(path)).toBe(true);
  await page.notebook.activate(NOTEBOOK);
  await page.evaluate(() => window.jupyterapp.commands.execute('redlab:open-panel'));
  await expect(page.getByTestId('redlab-notebook')).toHaveText(path);

  // Found in the code, each with where it is written, ticked; the other new files as a folder.
  const section = page.getByTestId('redlab-outputs-section');
  const found = {
    results_csv: 'code cell 4, line 1: with open("results.csv", "w", newline="") as f:',
    metrics_json: 'code cell 4, line 5: with open("metrics.json", "w") as f:',
    walk_svg: 'code cell 5, line 21: with open("walk.svg", "w") as f:'
  };
  for (const [name, origin] of Object.entries(found)) {
    const item = section.getByTestId(`redlab-output-${name}`);
    await expect(item).toHaveAttribute('data-inferred', 'true');
    await expect(item.getByTestId('redlab-output-origin')).toHaveText(origin);
    await expect(item.getByTestId('redlab-output-enabled')).toBeChecked();
  }
  await expect(section.getByTestId('redlab-output-new-files')).toHaveText(/other new files → demo_files\//);
  await expect(section.getByTestId('redlab-output-new-files').getByTestId('redlab-output-enabled')).toBeChecked();

  // Unticked: out of the run, and out of the new-files folder (the YAML skips it there).
  await section.getByTestId('redlab-output-walk_svg').getByTestId('redlab-output-enabled').uncheck();
  await expect(section.getByTestId('redlab-output-walk_svg')).toHaveAttribute('data-enabled', 'false');
  await expect(page.getByTestId('redlab-outputs-section').locator('summary')).toHaveText(/^Outputs \(4\)/);

  const button = page.getByTestId('redlab-run-button');
  await expect(button).toBeEnabled();
  await button.click();
  const table = page.locator('.jp-RedLab-artifacts > table');
  await expect(table, 'the run cell lists its outputs').toBeVisible({ timeout: 180_000 });
  const rows = await table.locator('tbody tr td:first-child').allInnerTexts();
  expect(rows).toEqual(expect.arrayContaining(['results_csv · results.csv', 'metrics_json · metrics.json', `executed_notebook · demo.executed.ipynb`]));
  expect(rows.join('\n')).not.toMatch(/walk/);

  // The bridge's record agrees: no walk.svg collected, none gathered into the folder.
  const runId = await page.getByTestId('redlab-run-row').first().getAttribute('data-run-id');
  const record = await page.evaluate(async id => (await fetch(`${window.location.origin}/redlab-bridge/api/v1/runs/${id}`)).json(), runId);
  expect(record.state).toBe('succeeded');
  const outputs = record.result.outputs ?? record.result.batches[0].outputs;
  expect(Object.keys(outputs).sort()).toEqual(expect.arrayContaining(['executed_notebook', 'metrics_json', 'results_csv']));
  expect(outputs.walk_svg ?? null).toBeNull();
  expect(JSON.stringify(outputs)).not.toContain('walk.svg');
});
