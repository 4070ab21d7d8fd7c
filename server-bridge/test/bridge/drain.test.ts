// SIGTERM drains: the bridge stops taking runs and exits 0 quickly, the running
// container goes on without it, the SQLite file is left consistent, and the next
// bridge on the same data dir reattaches and finishes the run with its complete log.
// Real bridge process, real Docker, real SQLite file.
import Database from 'better-sqlite3';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { openWs } from './helpers/api';
import { countingRed, expectedLines, postRun, startBridgeProcess, waitFor, waitForRunEnd, type BridgeProcess } from './helpers/bridge-process';

const token = 'drain-test-token-0123456789abcdef';
const LINES = 60; // one line every 0.1 s: about 6 s
const TAG = 'drain';

interface RunRecord {
  id: string;
  state: string;
  error?: string;
  batches: { state: string; containerId?: string; logBytes: { stdout: number; stderr: number } }[];
  history: { batch: number | null; state: string; at: string }[];
}

let dataDir: string;
let bridge: BridgeProcess | undefined;
let containerId: string | undefined;

beforeAll(() => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'redlab-drain-'));
});

afterAll(async () => {
  await bridge?.kill('SIGTERM');
  if (containerId) execFileSync('docker', ['rm', '-f', containerId], { stdio: 'ignore' });
  fs.rmSync(dataDir, { recursive: true, force: true });
});

const inspect = (id: string, format: string) => execFileSync('docker', ['inspect', '-f', format, id]).toString().trim();

test('SIGTERM: the bridge exits 0 at once, the run goes on in Docker, and a restart finishes it with its whole log', async () => {
  bridge = await startBridgeProcess({ dataDir, token, parallel: 2 });
  const id = await postRun(bridge, { red: countingRed(LINES, 0.1, TAG) });

  // Running, with part of its log stored.
  const running = await waitFor('the run to be running with some log stored', async () => {
    const r = (await bridge!.api<RunRecord>('GET', `/runs/${id}`)).body;
    return r.state === 'running' && r.batches[0]?.containerId && r.batches[0].logBytes.stdout > 0 ? r : undefined;
  });
  containerId = running.batches[0].containerId!;
  const ws = await openWs(`${bridge.url.replace(/^http/, 'ws')}/api/v1/runs/${id}/events?token=${token}`);

  // Probe submissions right through the shutdown. A body without a RED is refused with
  // 400 while the bridge takes runs, 503 while it drains, and the connection is refused
  // once it is gone: none of these creates a run.
  const probes: (number | string)[] = [];
  let probing = true;
  const probe = (async () => {
    while (probing) {
      try {
        const r = await bridge!.api<{ error: string }>('POST', '/runs', { red: null });
        probes.push(r.status);
        if (r.status === 503) expect(r.body.error).toBe('the bridge is shutting down; submit again once it is back');
        else expect(r.status).toBe(400);
      } catch {
        probes.push('refused');
        await new Promise(r => setTimeout(r, 5));
      }
    }
  })();
  await new Promise(r => setTimeout(r, 100));

  const t0 = Date.now();
  const code = await bridge.kill('SIGTERM');
  const exitMs = Date.now() - t0;
  probing = false;
  await probe;
  expect(code).toBe(0);
  expect(exitMs).toBeLessThan(3000);
  expect(bridge.output()).toContain('draining: no new runs; running containers keep running and are reattached on the next start');
  // The event socket was told the bridge is stopping.
  expect(await ws.closed).toEqual({ code: 1001, reason: 'the bridge is stopping' });
  // The probes saw the bridge up (400), possibly draining (503), then gone; never accepting a run.
  expect(probes[0]).toBe(400);
  expect(probes[probes.length - 1]).toBe('refused');
  expect(probes.every(p => p === 400 || p === 503 || p === 'refused')).toBe(true);
  const drained503 = probes.filter(p => p === 503).length;
  process.stdout.write(`drain: exit after SIGTERM ${exitMs} ms; probes: ${probes.filter(p => p === 400).length}×400, ${drained503}×503, ${probes.filter(p => p === 'refused').length}×refused\n`);

  // The container goes on without the bridge.
  expect(inspect(containerId, '{{.State.Running}}')).toBe('true');

  // The SQLite file is consistent and says the run is still running.
  const db = new Database(path.join(dataDir, 'redlab.sqlite'));
  try {
    expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
    expect(db.pragma('foreign_key_check')).toEqual([]);
    expect(db.prepare('SELECT state FROM runs').all()).toEqual([{ state: 'running' }]);
  } finally {
    db.close();
  }
  // The closing bridge checkpointed and removed its write-ahead log.
  expect(fs.existsSync(path.join(dataDir, 'redlab.sqlite-wal'))).toBe(false);
  await new Promise(r => setTimeout(r, 500)); // a few more lines while no bridge is up
  expect(inspect(containerId, '{{.State.Running}}')).toBe('true');

  // A new bridge on the same data dir reattaches and finishes the run.
  bridge = await startBridgeProcess({ dataDir, token, parallel: 2 });
  const done = await waitForRunEnd<RunRecord>(bridge!, id, 'the run to finish after the restart');
  expect({ state: done.state, error: done.error }).toEqual({ state: 'succeeded', error: undefined });
  expect(done.batches[0].containerId).toBe(containerId);
  expect(done.batches[0].logBytes).toEqual({ stdout: expectedLines(LINES, TAG).length, stderr: 0 });
  // No state is repeated or skipped across the restart.
  expect(done.history.filter(h => h.batch === null).map(h => h.state)).toEqual(['queued', 'preparing', 'running', 'collecting', 'succeeded']);

  const log = await fetch(`${bridge.url}/api/v1/runs/${id}/logs?stream=stdout&batch=0`, { headers: { Authorization: `Bearer ${token}` } });
  expect(log.status).toBe(200);
  expect(await log.text()).toBe(expectedLines(LINES, TAG)); // no gap, no duplicate
  const out = await fetch(`${bridge.url}/api/v1/runs/${id}/outputs/result`, { headers: { Authorization: `Bearer ${token}` } });
  expect(out.status).toBe(200);
  expect(await out.text()).toBe(`${TAG} done\n`);

  // Only the one run exists: nothing was accepted while draining.
  const list = await bridge.api<{ runs: { id: string }[] }>('GET', '/runs?limit=100');
  expect(list.body.runs.map(r => r.id)).toEqual([id]);
  // The finished container was removed by the reattached bridge.
  await waitFor('the container to be removed', async () => (execFileSync('docker', ['ps', '-aq', '--filter', `id=${containerId}`]).toString().trim() === '' ? true : undefined), 10_000);
  containerId = undefined;
}, 120_000);
