// Smoke: JupyterLab starts with RED Lab enabled and no error, and the status bar item
// reaches "connected", i.e. jupyter-server-proxy started the bridge and the bridge
// reached the Docker engine.
import { expect, statusItem, test, waitForBridge } from './fixtures';

test.describe('RED Lab smoke', () => {
  test('the extension loads and the bridge connects to Docker', async ({ page, consoleErrors, offsiteRequests }) => {
    // The extension is known to the server and its plugin is active in the page.
    const extensions = await page.evaluate(() => {
      const raw = document.getElementById('jupyter-config-data')?.textContent ?? '{}';
      return (JSON.parse(raw).federated_extensions ?? []).map((e: { name: string }) => e.name);
    });
    expect(extensions).toContain('jupyterlab-redlab');
    expect(await page.evaluate(() => window.jupyterapp.isPluginActivated('jupyterlab-redlab:plugin'))).toBe(true);

    // The status bar item is there and gets to "connected" (bridge up, Docker reachable).
    await expect(statusItem(page)).toBeVisible();
    await waitForBridge(page);
    await expect(statusItem(page)).toHaveText(/^RED Lab: \d+ running, \d+ queued$/);
    await expect(statusItem(page)).toHaveAttribute('title', /Bridge .+, Docker \S+/);

    // The proxied health endpoint answers through Jupyter (same origin, Jupyter's auth).
    const health = await page.evaluate(async () => {
      const res = await fetch(`${window.location.origin}/redlab-bridge/api/v1/health`);
      return { status: res.status, body: await res.json() };
    });
    expect(health.status).toBe(200);
    expect(health.body.docker.reachable).toBe(true);

    // No error dialog, no failed plugin, no error logged by RED Lab.
    await expect(page.locator('.jp-Dialog')).toHaveCount(0);
    const ours = consoleErrors.filter(e => /redlab|red lab/i.test(e));
    expect(ours, ours.join('\n')).toEqual([]);
    // Offline: nothing but the test server was asked for anything (no news, no update check, no PyPI).
    expect(offsiteRequests).toEqual([]);
  });
});

test.describe('RED Lab bridge API through Jupyter', () => {
  test("the frontend's requests to the bridge succeed (health, the runs stream and the run list)", async ({ page, bridgeResponses }) => {
    // The model opens the bridge's stream of run changes (runs/events, through the proxy) and lists the runs once it is open.
    await waitForBridge(page);
    const streamLive = () =>
      page.evaluate(async () => {
        const model = (await window.galata.getPlugin('jupyterlab-redlab:plugin' as never)) as { runsModel?: { live: boolean } } | undefined;
        return model?.runsModel?.live ?? false;
      });
    await expect.poll(streamLive, { message: 'the runs stream is open', timeout: 20_000 }).toBe(true);
    const runLists = () => bridgeResponses.filter(r => new URL(r.url, 'http://x').pathname.endsWith('/api/v1/runs')).length;
    await expect.poll(runLists, { message: 'the run list was asked for once the stream was open', timeout: 20_000 }).toBeGreaterThanOrEqual(1);
    const failed = bridgeResponses.filter(r => r.status >= 400).map(r => `${r.status} ${r.method} ${r.url}`);
    expect(failed, `bridge requests that failed:\n${failed.join('\n')}`).toEqual([]);
  });
});
