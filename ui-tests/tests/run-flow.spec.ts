// The flow of the issue, end to end, on the real bridge and Docker engine: open the demo
// notebook, open the RED panel, change the image and a parameter and see the YAML follow,
// type a bad value and see the inline error, fix it, run the notebook as an experiment in
// the local image redlab/debian-python:12, reload the page mid-run and see the stream
// resume (the log keeps growing, no line twice), and see the final state and an artifact
// with its preview in the inserted `redlab-run` cell. Saves ui-tests/screenshots/panel.png
// and ui-tests/screenshots/run-cell.png on the way.
import * as fs from 'fs';
import * as path from 'path';
import type { Locator } from '@playwright/test';
import { DEMO_DIR, expect, hasCommand, IJupyterLabPageFixture, saveScreenshot, waitForBridge, testInFolder } from './fixtures';

const NOTEBOOK = 'demo.ipynb';
// The test's folder on the server, with a plain name (the panel and the screenshots show it); not
// `demo`: Galata finds files by the prefix of their name, and demo.ipynb is at the root too.
const FOLDER = 'random-walk';

const RUN_IMAGE = 'redlab/debian-python:12';
// Also built by .ci/base-images.sh: a second local image to switch to and back from.
const OTHER_IMAGE = 'redlab/debian-python:test';
// The demo sleeps 0.4 s at each of its 8 progress lines; the test's own copy sleeps longer
// so that the reload surely lands while the run is going.
const STEP_SLEEP_S = Number(process.env.REDLAB_UI_STEP_SLEEP ?? 2.5);
const SAMPLES = 400;
const SEED = 7;

// A folder of its own, deleted afterwards unless the test failed.
const test = testInFolder(FOLDER);

/** The demo notebook with a longer pause per progress line (the test's copy only). */
function slowedDemo(): Record<string, unknown> {
  const nb = JSON.parse(fs.readFileSync(path.join(DEMO_DIR, NOTEBOOK), 'utf8'));
  let patched = 0;
  for (const cell of nb.cells) {
    const src = Array.isArray(cell.source) ? cell.source.join('') : String(cell.source);
    const next = src.replace(/time\.sleep\(\s*[\d.]+\s*\)/g, () => {
      patched++;
      return `time.sleep(${STEP_SLEEP_S})`;
    });
    cell.source = next;
  }
  expect(patched, 'demo.ipynb has no time.sleep(...) to slow down: update run-flow.spec.ts').toBeGreaterThan(0);
  return nb;
}

/** The input behind a data-testid: the element itself or the first field inside it. */
async function field(page: IJupyterLabPageFixture, testId: string): Promise<Locator> {
  const el = page.getByTestId(testId);
  await expect(el).toBeVisible();
  const tag = await el.evaluate(e => e.tagName.toLowerCase());
  return ['input', 'textarea', 'select'].includes(tag) ? el : el.locator('input, textarea, select').first();
}

async function setField(page: IJupyterLabPageFixture, testId: string, value: string): Promise<void> {
  const input = await field(page, testId);
  await input.fill(value);
  // Let a field that validates or commits on blur/enter see the value.
  await input.press('Tab');
}

/** The YAML preview's text (a <pre>, a textarea or a CodeMirror editor). */
async function yamlText(page: IJupyterLabPageFixture): Promise<string> {
  return page.getByTestId('redlab-yaml').evaluate(el => {
    const ta = el.matches('textarea') ? (el as HTMLTextAreaElement) : el.querySelector('textarea');
    if (ta) return ta.value;
    const lines = el.querySelectorAll('.cm-line');
    if (lines.length) return Array.from(lines, l => l.textContent ?? '').join('\n');
    return (el as HTMLElement).innerText ?? el.textContent ?? '';
  });
}

/** Index of the cell tagged `redlab-run` in the open notebook, or -1. */
async function runCellIndex(page: IJupyterLabPageFixture): Promise<number> {
  return page.evaluate(name => {
    for (const w of window.jupyterapp.shell.widgets('main')) {
      const panel = w as any;
      if (!panel.context?.path?.endsWith(name) || !panel.content?.widgets) continue;
      return (panel.content.widgets as any[]).findIndex(c => ((c.model.getMetadata?.('tags') ?? c.model.metadata?.tags ?? []) as string[]).includes('redlab-run'));
    }
    return -1;
  }, NOTEBOOK);
}

async function runCell(page: IJupyterLabPageFixture): Promise<Locator> {
  let index = -1;
  await expect
    .poll(async () => (index = await runCellIndex(page)), { message: 'a cell tagged redlab-run is inserted', timeout: 60_000 })
    .toBeGreaterThanOrEqual(0);
  const cell = await page.notebook.getCellLocator(index);
  expect(cell, `cell ${index} is rendered`).not.toBeNull();
  await cell!.scrollIntoViewIfNeeded();
  return cell!;
}

/** The progress lines the demo prints ("step 50/400: position +1.234"), in order. */
async function stepLines(cell: Locator): Promise<string[]> {
  // The run record's log (a Markdown cell's rendering, src/streaming/render.ts).
  const text = await cell.locator('pre.jp-RedLab-log').first().innerText().catch(() => '');
  return text.split('\n').map(l => l.trim()).filter(l => /^step \d+\/\d+: position /.test(l));
}

/**
 * Reloads the page and comes back to the notebook: JupyterLab restores its tab from the
 * workspace (Galata's in-memory one), so there is no Launcher to wait for; the notebook
 * is opened again only if it was not restored.
 */
async function reloadWithNotebook(page: IJupyterLabPageFixture, nbPath: string): Promise<void> {
  // Galata's reload takes waitForIsReady (not in its typings): no waiting for a Launcher tab.
  await page.reload({ waitForIsReady: false } as Parameters<IJupyterLabPageFixture['reload']>[0]);
  await page.locator('#jupyterlab-splash').waitFor({ state: 'detached' });
  const tab = page.getByRole('main').getByRole('tab', { name: new RegExp(`^${NOTEBOOK.replace('.', '\\.')}`) });
  const restored = await tab
    .first()
    .waitFor({ state: 'visible', timeout: 20_000 })
    .then(() => true)
    .catch(() => false);
  if (!restored) expect(await page.notebook.openByPath(nbPath)).toBe(true);
  await page.notebook.activate(NOTEBOOK);
}

/** The run's state badge once it is final (an element whose whole text is the state). */
const finalBadge = (cell: Locator) => cell.getByText(/^\s*(succeeded|failed|cancelled)\s*$/);

/**
 * Declares output files in the panel (+ output file), unless the panel already lists them
 * (were it to infer them from the notebook). The demo writes walk.svg and metrics.json.
 */
async function declareOutputs(page: IJupyterLabPageFixture, files: Record<string, string>): Promise<void> {
  for (const [name, glob] of Object.entries(files)) {
    const globs = await page.getByTestId('redlab-output-glob').evaluateAll(els => els.map(e => (e as HTMLInputElement).value));
    if (globs.includes(glob)) continue;
    await page.getByTestId('redlab-add-output').click();
    await page.getByTestId('redlab-output-name').last().fill(name);
    await page.getByTestId('redlab-output-glob').last().fill(glob);
    await expect.poll(() => yamlText(page), { message: `the YAML collects ${glob}` }).toMatch(new RegExp(`glob:\\s*['"]?${glob.replace('.', '\\.')}`));
  }
}

test.describe('RED Lab: notebook to experiment', () => {
  test.setTimeout(8 * 60_000);

  test('panel, inline validation, run with live logs, reload mid-run, artifacts', async ({ page, tmpPath }) => {
    // The commands of the RED panel are there (no skipping: the panel has landed).
    expect(await hasCommand(page, 'redlab:open-panel')).toBe(true);
    expect(await hasCommand(page, 'redlab:run-notebook')).toBe(true);
    page.on('dialog', d => void (d.type() === 'beforeunload' ? d.accept() : d.dismiss()));

    // The demo folder, as the repo has it (data/, grep.red.yml), with a slower notebook.
    expect(await page.contents.uploadDirectory(DEMO_DIR, tmpPath)).toBe(true);
    // (Galata's uploadContent only reports a created file as a success: replace = delete + create.)
    expect(await page.contents.deleteFile(`${tmpPath}/${NOTEBOOK}`)).toBe(true);
    expect(await page.contents.uploadContent(JSON.stringify(slowedDemo(), null, 1), 'text', `${tmpPath}/${NOTEBOOK}`)).toBe(true);
    await waitForBridge(page);

    // 1. The notebook, then the panel for it.
    expect(await page.notebook.openByPath(`${tmpPath}/${NOTEBOOK}`)).toBe(true);
    await page.notebook.activate(NOTEBOOK);
    await page.evaluate(() => window.jupyterapp.commands.execute('redlab:open-panel'));
    const panel = page.getByTestId('redlab-panel');
    await expect(panel).toBeVisible();
    await expect(page.getByTestId('redlab-param-samples')).toBeVisible();
    await expect(page.getByTestId('redlab-yaml')).toBeVisible();

    // 2. Image and a parameter: the YAML follows.
    await setField(page, 'redlab-image-input', OTHER_IMAGE);
    await expect.poll(() => yamlText(page), { message: 'the YAML shows the new image' }).toContain(OTHER_IMAGE);
    await setField(page, 'redlab-param-samples', String(SAMPLES));
    await expect.poll(() => yamlText(page), { message: 'the YAML shows samples: 400' }).toMatch(new RegExp(`\\bsamples:\\s*${SAMPLES}\\b`));

    // 3. Text in an int parameter: an inline error, and the YAML keeps no such value.
    const seed = await field(page, 'redlab-param-seed');
    const bad = (await seed.getAttribute('type')) === 'number' ? '4.5' : 'abc';
    await setField(page, 'redlab-param-seed', bad);
    await expect(panel.getByTestId('redlab-field-error').first()).toBeVisible();
    await expect(panel.getByTestId('redlab-field-error').first()).toContainText(/int|whole|number/i);
    expect(await yamlText(page)).not.toMatch(new RegExp(`\\bseed:\\s*['"]?${bad}\\b`));

    // 4. Fixed: the error goes, the YAML has the value; the image for the run.
    await setField(page, 'redlab-param-seed', String(SEED));
    await expect(panel.getByTestId('redlab-field-error')).toHaveCount(0);
    await setField(page, 'redlab-image-input', RUN_IMAGE);
    await expect.poll(() => yamlText(page)).toContain(RUN_IMAGE);
    await expect.poll(() => yamlText(page)).toMatch(new RegExp(`\\bseed:\\s*${SEED}\\b`));
    // The files the demo writes, as outputs of the experiment (the executed notebook always is one).
    await declareOutputs(page, { walk_svg: 'walk.svg', metrics: 'metrics.json' });
    await expect(panel.getByTestId('redlab-field-error')).toHaveCount(0);
    // A wider sidebar for the picture (the YAML lines are long).
    await page.sidebar.setWidth(440, 'left');
    await saveScreenshot(page, panel, 'panel.png');

    // 5. Run: a `redlab-run` cell appears and the container's output streams into it.
    await expect(page.getByTestId('redlab-run-button')).toBeEnabled();
    await page.getByTestId('redlab-run-button').click();
    let cell = await runCell(page);
    const message = page.getByTestId('redlab-bridge-message');
    await expect(cell, (await message.count()) ? `bridge says: ${await message.first().innerText()}` : 'first log lines')
      .toContainText(`walking ${SAMPLES} steps with noise 0.3 (seed ${SEED})`, { timeout: 180_000 });
    await expect.poll(async () => (await stepLines(cell)).length, { message: 'a progress line', timeout: 60_000 }).toBeGreaterThan(0);
    await expect(finalBadge(cell)).toHaveCount(0);
    const beforeReload = await stepLines(cell);

    // 6. Reload mid-run: the cell picks the stream up again. Saved first: the extension saves the
    //    notebook before the run, not after inserting the run cell, so an unsaved reload loses
    //    the cell (and with it what to resume).
    expect(await page.notebook.save()).toBe(true);
    await reloadWithNotebook(page, `${tmpPath}/${NOTEBOOK}`);
    cell = await runCell(page);
    const afterReload = await stepLines(cell);
    expect(afterReload.slice(0, beforeReload.length), 'the lines seen before the reload are kept, in order').toEqual(beforeReload);
    await expect(finalBadge(cell), 'still running after the reload (raise REDLAB_UI_STEP_SLEEP if not)').toHaveCount(0);
    await expect.poll(async () => (await stepLines(cell)).length, { message: 'the log keeps growing after the reload', timeout: 60_000 }).toBeGreaterThan(afterReload.length);

    // 7. The end: succeeded, the whole log once, and an artifact with its preview.
    await expect(finalBadge(cell).first()).toBeVisible({ timeout: 180_000 });
    await expect(finalBadge(cell).first()).toHaveText(/succeeded/);
    const lines = await stepLines(cell);
    const every = Math.max(1, Math.floor(SAMPLES / 8));
    const expected = Array.from({ length: Math.ceil(SAMPLES / every) }, (_, i) => Math.min(SAMPLES, (i + 1) * every));
    expect(lines.map(l => Number(/^step (\d+)\//.exec(l)![1])), 'every progress line exactly once, in order').toEqual(expected);
    test.info().annotations.push({
      type: 'reload',
      description: `${beforeReload.length} progress lines before the reload, ${afterReload.length} right after it, ${lines.length} at the end`
    });
    const text = await cell.innerText();
    expect(text.split(`walking ${SAMPLES} steps`).length - 1, 'the first line once').toBe(1);
    // The files the demo writes are listed (found in its code by the panel), the plot and the metrics with their previews.
    // (In the outputs table: the run record's command line names the files too, folded away.)
    const table = cell.locator('.jp-RedLab-artifacts');
    await expect(table.getByText(/walk\.svg/).first()).toBeVisible();
    await expect(table.getByText(/metrics\.json/).first()).toBeVisible();
    await expect(table.getByText(/results\.csv/).first()).toBeVisible();
    await expect(cell.locator('img[src^="data:image/svg+xml"]').last()).toBeVisible();
    await expect(cell.getByText(new RegExp(`"samples": ${SAMPLES}`)).first()).toBeVisible();
    await saveScreenshot(page, cell, 'run-cell.png');
  });
});
