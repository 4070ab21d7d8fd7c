// Crash safety: 20 runs accepted, the bridge SIGKILLed while some run and others
// wait, then restarted on the same data dir. Every run must end succeeded with
// its complete log (no gap, no duplicate) and its output. Real bridge process,
// real Docker, real SQLite file.
import { createHash } from 'crypto';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { countingRed, expectedLines, startBridgeProcess, waitFor, type BridgeProcess } from './helpers/bridge-process';

const RUNS = 20;
const LINES = 30;
const token = 'crash-test-token-0123456789abcdef';

interface Summary {
  id: string;
  state: string;
}

let dataDir: string;
let bridge: BridgeProcess | undefined;

beforeAll(() => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'redlab-crash-'));
});

afterAll(async () => {
  await bridge?.kill('SIGTERM');
  fs.rmSync(dataDir, { recursive: true, force: true });
});

test('SIGKILL mid-way: after a restart all 20 runs end succeeded with complete logs and outputs', async () => {
  bridge = await startBridgeProcess({ dataDir, token, parallel: 4 });
  const ids: string[] = [];
  for (let i = 0; i < RUNS; i++) {
    const r = await bridge.api<{ id: string; state: string }>('POST', '/runs', { red: countingRed(LINES, 0.05, `run${i}`) });
    expect(r.status).toBe(201);
    ids.push(r.body.id);
  }
  // Kill once some runs are running (with part of their logs stored) and others still queue.
  await waitFor('runs to be running', async () => {
    const r = await bridge!.api<{ runs: Summary[] }>('GET', '/runs?state=running&limit=100');
    return r.body.runs.length >= 2 ? true : undefined;
  });
  await new Promise(r => setTimeout(r, 700));
  const before = await bridge.api<{ runs: Summary[] }>('GET', '/runs?limit=100');
  const unfinishedAtKill = before.body.runs.filter(r => !['succeeded', 'failed', 'cancelled'].includes(r.state)).length;
  expect(unfinishedAtKill).toBeGreaterThan(4); // the kill really interrupts work
  await bridge.kill('SIGKILL');

  bridge = await startBridgeProcess({ dataDir, token, parallel: 4 });
  const finals = await waitFor(
    'all runs to finish after the restart',
    async () => {
      const r = await bridge!.api<{ runs: Summary[] }>('GET', '/runs?limit=100');
      const done = r.body.runs.filter(x => ['succeeded', 'failed', 'cancelled'].includes(x.state));
      return done.length === RUNS ? r.body.runs : undefined;
    },
    120_000,
    500
  );
  const notSucceeded = await Promise.all(
    finals.filter(r => r.state !== 'succeeded').map(async r => (await bridge!.api<{ id: string; state: string; error?: string; history: unknown }>('GET', `/runs/${r.id}`)).body)
  );
  expect(notSucceeded).toEqual([]);

  for (const [i, id] of ids.entries()) {
    const log = await fetch(`${bridge.url}/api/v1/runs/${id}/logs?stream=stdout&batch=0`, { headers: { Authorization: `Bearer ${token}` } });
    expect(log.status).toBe(200);
    expect(await log.text()).toBe(expectedLines(LINES, `run${i}`));
    const out = await fetch(`${bridge.url}/api/v1/runs/${id}/outputs/result`, { headers: { Authorization: `Bearer ${token}` } });
    expect(out.status).toBe(200);
    const body = Buffer.from(await out.arrayBuffer());
    expect(body.toString()).toBe(`run${i} done\n`);
    expect(out.headers.get('etag')).toBe(`"${createHash('sha256').update(body).digest('hex')}"`);
  }
  // No container of these runs is left behind.
  const left = execFileSync('docker', ['ps', '-aq', ...ids.flatMap(id => ['--filter', `label=org.redlab.run=${id}`])]).toString().trim();
  expect(left).toBe('');
}, 240_000);

test('a run whose container vanished while the bridge was down fails with the reason', async () => {
  await bridge?.kill('SIGTERM');
  bridge = await startBridgeProcess({ dataDir, token, parallel: 2 });
  const r = await bridge.api<{ id: string }>('POST', '/runs', { red: countingRed(200, 0.1, 'gone') });
  expect(r.status).toBe(201);
  const containerId = await waitFor('the container', async () => {
    const run = await bridge!.api<{ state: string; batches: { containerId?: string }[] }>('GET', `/runs/${r.body.id}`);
    return run.body.state === 'running' && run.body.batches?.[0]?.containerId ? run.body.batches[0].containerId : undefined;
  });
  await bridge.kill('SIGKILL');
  execFileSync('docker', ['rm', '-f', containerId]);
  bridge = await startBridgeProcess({ dataDir, token, parallel: 2 });
  const run = await waitFor('the run to fail', async () => {
    const x = await bridge!.api<{ state: string; error?: string }>('GET', `/runs/${r.body.id}`);
    return x.body.state === 'failed' ? x.body : undefined;
  });
  expect(run.error).toMatch(/vanished/);
}, 120_000);
