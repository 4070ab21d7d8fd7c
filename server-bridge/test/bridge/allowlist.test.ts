// Administrator limits of a real bridge process: --allow-image (only matching images
// run; others are refused with 403 before anything is stored) and --max-run-minutes
// (a wall-clock limit that stops a run's container). Real Docker, real SQLite.
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { shRed, startBridgeProcess, waitFor, type BridgeProcess } from './helpers/bridge-process';

const token = 'allowlist-test-token-0123456789abcdef';
const FINAL = ['succeeded', 'failed', 'cancelled'];

interface RunRecord {
  id: string;
  state: string;
  error?: string;
  wallClockLimitMs?: number;
  batches: { state: string; containerId?: string; exitCode?: number; error?: string }[];
  history: { batch: number | null; state: string; at: string }[];
}

const dirs: string[] = [];
const bridges: BridgeProcess[] = [];
const runIds: string[] = [];

const shRedOn = (image: string, script: string) => shRed(script, { image });

async function bridgeWith(extraArgs: string[]): Promise<BridgeProcess> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'redlab-allow-'));
  dirs.push(dataDir);
  const b = await startBridgeProcess({ dataDir, token, parallel: 2, extraArgs });
  bridges.push(b);
  return b;
}

async function submit(b: BridgeProcess, red: Record<string, unknown>): Promise<string> {
  const r = await b.api<{ id: string; state: string }>('POST', '/runs', { red });
  expect(r.status).toBe(201);
  runIds.push(r.body.id);
  return r.body.id;
}

const finished = (b: BridgeProcess, id: string) =>
  waitFor(`run ${id} to finish`, async () => {
    const r = (await b.api<RunRecord>('GET', `/runs/${id}`)).body;
    return FINAL.includes(r.state) ? r : undefined;
  });

const containersOf = (id: string) => execFileSync('docker', ['ps', '-aq', '--filter', `label=org.redlab.run=${id}`]).toString().trim();

afterAll(async () => {
  for (const b of bridges) await b.kill('SIGTERM');
  for (const id of runIds) {
    const left = containersOf(id);
    if (left) execFileSync('docker', ['rm', '-f', ...left.split('\n')]);
  }
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

test("--allow-image 'redlab/*' runs redlab/busybox:1 and refuses python:3.12 with 403 naming the allowlist", async () => {
  const b = await bridgeWith(['--allow-image', 'redlab/*']);
  const id = await submit(b, shRedOn('redlab/busybox:1', 'echo allowed'));
  const run = await finished(b, id);
  expect({ state: run.state, error: run.error }).toEqual({ state: 'succeeded', error: undefined });
  const log = await fetch(`${b.url}/api/v1/runs/${id}/logs?stream=stdout&batch=0`, { headers: { Authorization: `Bearer ${token}` } });
  expect(await log.text()).toBe('allowed\n');
  expect(run.wallClockLimitMs).toBeUndefined();

  for (const image of ['python:3.12', 'docker.io/redlab/busybox:1', 'evil/redlab/busybox:1', 'redlab']) {
    const r = await b.api<{ error: string; fix: string }>('POST', '/runs', { red: shRedOn(image, 'echo refused') });
    expect({ image, status: r.status }).toEqual({ image, status: 403 });
    expect(r.body.error).toBe(`image ${image} is not in this bridge's image allowlist (redlab/*)`);
    expect(r.body.fix).toBe('use an allowed image, or ask the bridge administrator to allow it');
  }
  // A refused RED is not stored: the one allowed run is all there is.
  expect((await b.api<{ runs: { id: string }[] }>('GET', '/runs')).body.runs.map(r => r.id)).toEqual([id]);
}, 60_000);

test('a re-run pinned to what its run used passes the allowlist: name@sha256 of an allowed name, or the ID of a local image with an allowed name', async () => {
  const b = await bridgeWith(['--allow-image', 'redlab/*']);
  const first = await finished(b, await submit(b, shRedOn('redlab/busybox:1', 'echo first')));
  const id = (first as RunRecord & { image?: { id?: string } }).image?.id as string;
  expect(id).toMatch(/^sha256:[a-f0-9]{64}$/);
  // Pinned by ID, as the panel's re-run pins an image built or loaded here.
  const rerun = await finished(b, await submit(b, shRedOn(id, 'echo again')));
  expect({ state: rerun.state, error: rerun.error }).toEqual({ state: 'succeeded', error: undefined });
  // Pinned by digest: the name decides (the pull then fails here, offline: past the allowlist).
  const digest = `sha256:${'a'.repeat(64)}`;
  expect((await b.api('POST', '/runs', { red: shRedOn(`redlab/busybox@${digest}`, 'true') })).status).toBe(201);
  expect((await b.api('POST', '/runs', { red: shRedOn(`python@${digest}`, 'true') })).status).toBe(403);
  // The ID of an image no allowed name carries is refused.
  const other = 'notallowed/redlab-allowlist-test:1';
  execFileSync('docker', ['build', '-q', '-t', other, '-'], { input: 'FROM redlab/busybox:1\nLABEL org.redlab.test=allowlist-id\n' });
  try {
    const otherId = execFileSync('docker', ['image', 'inspect', '-f', '{{.Id}}', other]).toString().trim();
    expect(otherId).not.toBe(id);
    const r = await b.api<{ error: string }>('POST', '/runs', { red: shRedOn(otherId, 'true') });
    expect(r.status).toBe(403);
    expect(r.body.error).toBe(`image ${otherId} is not in this bridge's image allowlist (redlab/*)`);
  } finally {
    execFileSync('docker', ['rmi', '-f', other]);
  }
}, 90_000);

test('--max-run-minutes 0.02 (1.2 s) stops a `sleep 30` run: failed with the wall-clock message', async () => {
  const b = await bridgeWith(['--max-run-minutes', '0.02', '--allow-image', 'redlab/*']);
  const t0 = Date.now();
  const id = await submit(b, shRedOn('redlab/busybox:1', 'echo started; sleep 30; echo never'));
  const run = await finished(b, id);
  const elapsed = Date.now() - t0;
  expect(run.state).toBe('failed');
  expect(run.error).toBe('stopped: wall-clock limit of 1.2 s exceeded; raise it in the bridge settings');
  expect(run.wallClockLimitMs).toBe(1200);
  expect(run.batches.map(x => ({ state: x.state, error: x.error }))).toEqual([{ state: 'failed', error: 'stopped: wall-clock limit of 1.2 s exceeded; raise it in the bridge settings' }]);
  // Stopped about when the limit says, not after the 30 s sleep.
  const hist = run.history.filter(h => h.batch === null);
  const ranMs = Date.parse(hist[hist.length - 1].at) - Date.parse(hist.find(h => h.state === 'preparing')!.at);
  expect(ranMs).toBeGreaterThanOrEqual(1200);
  expect(ranMs).toBeLessThan(8000);
  expect(elapsed).toBeLessThan(15_000);
  process.stdout.write(`wall-clock: limit 1200 ms, preparing → failed ${ranMs} ms, submit → final seen ${elapsed} ms\n`);
  const log = await fetch(`${b.url}/api/v1/runs/${id}/logs?stream=stdout&batch=0`, { headers: { Authorization: `Bearer ${token}` } });
  expect(await log.text()).toBe('started\n');
  // The stopped container is gone.
  await waitFor('the container to be removed', async () => (containersOf(id) === '' ? true : undefined), 10_000);
}, 60_000);

test('a run queued when the bridge stopped is checked against the allowlist of the next start', async () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'redlab-allow-'));
  dirs.push(dataDir);
  const first = await startBridgeProcess({ dataDir, token, parallel: 1 });
  bridges.push(first);
  const running = await submit(first, shRedOn('redlab/busybox:1', 'echo started; sleep 2; echo done'));
  const queued = await submit(first, shRedOn('redlab/debian-python:12', 'echo later'));
  await waitFor('the first run to be running', async () => ((await first.api<RunRecord>('GET', `/runs/${running}`)).body.state === 'running' ? true : undefined));
  expect((await first.api<RunRecord>('GET', `/runs/${queued}`)).body.state).toBe('queued');
  await first.kill('SIGKILL');

  const second = await startBridgeProcess({ dataDir, token, parallel: 1, extraArgs: ['--allow-image', 'redlab/busybox:*'] });
  bridges.push(second);
  const refused = await finished(second, queued);
  expect({ state: refused.state, error: refused.error }).toEqual({ state: 'failed', error: "image redlab/debian-python:12 is not in this bridge's image allowlist any more" });
  expect(containersOf(queued)).toBe('');
  // The run that was already running is reattached and finishes.
  expect((await finished(second, running)).state).toBe('succeeded');
}, 60_000);
