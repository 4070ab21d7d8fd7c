// A bridge killed (SIGKILL) or drained (SIGTERM) while a run whose command finished
// collects its outputs: the container stays until the batch's result is recorded, so
// the next bridge on the same data dir collects the batch again, and the run ends
// succeeded with its outputs and whole log (not "the container vanished"). The pause
// in the collecting state comes from the test-only REDLAB_TEST_PAUSE_COLLECT_MS.
// Real bridge processes, real Docker, real SQLite file.
import { execFileSync } from 'child_process';
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { countingRed, expectedLines, startBridgeProcess, waitFor, type BridgeProcess } from './helpers/bridge-process';

const token = 'recovery-collect-token-0123456789ab';
const LINES = 5;

interface RunRecord {
  id: string;
  state: string;
  error?: string;
  batches: { state: string; containerId?: string; outputs?: Record<string, { sha256: string; size: number } | null> }[];
  history: { batch: number | null; state: string }[];
}

let dataDir: string;
let bridge: BridgeProcess | undefined;
const containers: string[] = [];

beforeEach(() => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'redlab-recollect-'));
});
afterEach(async () => {
  await bridge?.kill('SIGKILL');
  bridge = undefined;
  for (const id of containers.splice(0)) execFileSync('docker', ['rm', '-f', id], { stdio: 'ignore' });
  fs.rmSync(dataDir, { recursive: true, force: true });
});

const containerExists = (id: string) => execFileSync('docker', ['ps', '-aq', '--no-trunc', '--filter', `id=${id}`]).toString().trim() === id;

for (const signal of ['SIGKILL', 'SIGTERM'] as const) {
  test(`${signal} while outputs are collected: after a restart the run ends succeeded with its outputs`, async () => {
    const tag = `col-${signal}`;
    bridge = await startBridgeProcess({ dataDir, token, parallel: 1, env: { ...process.env, REDLAB_TEST_PAUSE_COLLECT_MS: '60000' } });
    const posted = await bridge.api<{ id: string }>('POST', '/runs', { red: countingRed(LINES, 0.01, tag) });
    expect(posted.status).toBe(201);
    const id = posted.body.id;
    const collecting = await waitFor('the batch to be collecting', async () => {
      const r = (await bridge!.api<RunRecord>('GET', `/runs/${id}`)).body;
      return r.batches[0]?.state === 'collecting' ? r : undefined;
    });
    const containerId = collecting.batches[0].containerId!;
    containers.push(containerId);
    await bridge.kill(signal);
    bridge = undefined;
    // The command finished, but its container stays until the result is recorded.
    expect(containerExists(containerId)).toBe(true);

    bridge = await startBridgeProcess({ dataDir, token, parallel: 1 });
    const done = await waitFor(
      'the run to finish after the restart',
      async () => {
        const r = (await bridge!.api<RunRecord>('GET', `/runs/${id}`)).body;
        return ['succeeded', 'failed', 'cancelled'].includes(r.state) ? r : undefined;
      },
      60_000
    );
    expect({ state: done.state, error: done.error }).toEqual({ state: 'succeeded', error: undefined });
    const out = await fetch(`${bridge.url}/api/v1/runs/${id}/outputs/result`, { headers: { Authorization: `Bearer ${token}` } });
    expect(out.status).toBe(200);
    const body = Buffer.from(await out.arrayBuffer());
    expect(body.toString()).toBe(`${tag} done\n`);
    expect(out.headers.get('etag')).toBe(`"${createHash('sha256').update(body).digest('hex')}"`);
    const log = await fetch(`${bridge.url}/api/v1/runs/${id}/logs?stream=stdout&batch=0`, { headers: { Authorization: `Bearer ${token}` } });
    expect(await log.text()).toBe(expectedLines(LINES, tag));
    // Recorded, then the container and the work folder went.
    await waitFor('the container to be removed', async () => (containerExists(containerId) ? undefined : true), 10_000);
    expect(fs.existsSync(path.join(dataDir, 'work', id))).toBe(false);
  }, 120_000);
}
