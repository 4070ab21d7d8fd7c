// The status bar follows a run's state events as they arrive over the run's WebSocket,
// not a poll: with the poll set to 10 minutes (settings) and every run list the page asks
// the bridge for held back 4 s, the status bar shows the run going (1 running) and ending
// (0 running) within about a second of its state events, and no health poll happens
// meanwhile. (A list asked for after the run starts or ends could not be in time.)
import { expect, galata, statusItem, waitForBridge, testInFolder } from './fixtures';

const FOLDER = 'run-cells-status';
const NOTEBOOK = 'status.ipynb';
/** Far more than the margin below: a poll cannot explain an update in time. */
const POLL_SECONDS = 600;
/** Event to status bar, on a busy 2-core machine; a poll would take POLL_SECONDS. */
const MARGIN_MS = 1500;
/** How long each run list answer is held back: longer than the margin. */
const LIST_DELAY_MS = 4000;

// A folder of its own, deleted afterwards unless the test failed.
const test = testInFolder(FOLDER);

test.use({ mockSettings: { ...galata.DEFAULT_SETTINGS, 'jupyterlab-redlab:plugin': { statusPollSeconds: POLL_SECONDS } } });

const notebook = {
  nbformat: 4,
  nbformat_minor: 5,
  metadata: { kernelspec: { name: 'python3', display_name: 'Python 3', language: 'python' } },
  cells: [
    { cell_type: 'code', source: 'nap = 4', metadata: { tags: ['parameters'] }, outputs: [], execution_count: null },
    { cell_type: 'code', source: 'import time\ntime.sleep(nap)\nprint("slept")', metadata: {}, outputs: [], execution_count: null }
  ]
};

test.describe('RED Lab status bar', () => {
  test.setTimeout(5 * 60_000);

  test('shows a run’s state changes as their events arrive, with the poll at 10 minutes', async ({ page, tmpPath }) => {
    // Run-level state events, with the time they reached the page.
    const events: { at: number; state: string }[] = [];
    page.on('websocket', ws => {
      if (!/\/runs\/[^/]+\/events/.test(ws.url())) return;
      ws.on('framereceived', f => {
        try {
          const m = JSON.parse(String(f.payload));
          if (m.event?.type === 'state' && m.event.batch === undefined) events.push({ at: Date.now(), state: m.event.state });
        } catch {
          /* not an event */
        }
      });
    });
    const healthAt: number[] = [];
    page.on('request', r => {
      if (/\/redlab-bridge\/api\/v1\/health/.test(r.url())) healthAt.push(Date.now());
    });

    await page.route(/\/redlab-bridge\/api\/v1\/runs\?limit=/, async route => {
      await new Promise(r => setTimeout(r, LIST_DELAY_MS));
      await route.continue();
    });

    const nbPath = `${tmpPath}/${NOTEBOOK}`;
    expect(await page.contents.uploadContent(JSON.stringify(notebook, null, 1), 'text', nbPath)).toBe(true);
    await waitForBridge(page);
    expect(await page.notebook.openByPath(nbPath)).toBe(true);
    await page.notebook.activate(NOTEBOOK);
    await page.evaluate(() => window.jupyterapp.commands.execute('redlab:open-panel'));
    await expect(statusItem(page)).toHaveText(/0 running/);

    // Every text the status bar shows, with the time it showed it.
    await page.evaluate(() => {
      const w = window as unknown as { statusTexts: { at: number; text: string }[] };
      w.statusTexts = [];
      const host = document.querySelector('[data-redlab-status]')!.parentElement!;
      const note = () => w.statusTexts.push({ at: Date.now(), text: host.textContent ?? '' });
      new MutationObserver(note).observe(host, { subtree: true, childList: true, characterData: true });
    });

    await page.getByTestId('redlab-run-button').click();
    await expect.poll(() => events.find(e => ['succeeded', 'failed', 'cancelled'].includes(e.state))?.state, { message: 'the run ends', timeout: 180_000 }).toBe('succeeded');
    await expect(statusItem(page)).toHaveText(/0 running, 0 queued/);
    const texts: { at: number; text: string }[] = await page.evaluate(() => (window as unknown as { statusTexts: { at: number; text: string }[] }).statusTexts);

    const going = events.find(e => ['preparing', 'running', 'collecting'].includes(e.state))!;
    const ended = events.find(e => e.state === 'succeeded')!;
    const shownGoing = texts.find(t => /RED Lab: 1 running/.test(t.text));
    const shownEnded = texts.find(t => t.at >= (shownGoing?.at ?? 0) && /RED Lab: 0 running, 0 queued/.test(t.text));
    const timeline = `events ${JSON.stringify(events)}, status bar ${JSON.stringify(texts)}`;
    expect(shownGoing, `the status bar showed the run going: ${timeline}`).toBeDefined();
    expect(shownEnded, `the status bar showed the run ended: ${timeline}`).toBeDefined();
    expect(shownGoing!.at - going.at, timeline).toBeLessThan(MARGIN_MS);
    expect(shownEnded!.at - ended.at, timeline).toBeLessThan(MARGIN_MS);
    expect(shownEnded!.at, timeline).toBeGreaterThanOrEqual(ended.at - 50);
    test.info().annotations.push({ type: 'latency', description: `running shown ${shownGoing!.at - going.at} ms after its event, end shown ${shownEnded!.at - ended.at} ms after its event` });
    // No poll of the bridge's health between the run's start and its end (only the check before it starts).
    expect(healthAt.filter(t => t > going.at && t <= shownEnded!.at), 'health polls during the run').toEqual([]);
  });
});
