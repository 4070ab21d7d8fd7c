// GPUs in a real bridge process: a stand-in nvidia-smi (first on the child's PATH)
// lists ONE GPU; the Docker engine here has no NVIDIA runtime, so every GPU
// container is refused by Docker for real. The bridge must refuse what can never
// fit at once, hand the one GPU to one run at a time, and release it afterwards.
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { SecretMasker } from '../../../src/red/mask';
import { RunStore, maskForStore } from '../../src/store';
import { fakeNvidiaSmi, type FakeNvidiaSmi } from '../helpers/fake-nvidia-smi';
import { shRed, startBridgeProcess, waitFor, type BridgeProcess } from './helpers/bridge-process';

const token = 'gpu-test-token-0123456789abcdef';
const GPU_CSV = '0, GPU-5a1e7c2d-0000-4e4e-9f9f-123456789abc, NVIDIA A100-SXM4-40GB, 40960, 12';
const INVENTORY = 'this machine has 1 GPU: #0 NVIDIA A100-SXM4-40GB (40960 MB)';
const FINAL = ['succeeded', 'failed', 'cancelled'];

interface StateChange {
  batch: number | null;
  state: string;
  at: string;
  error?: string;
}
interface RunRecord {
  id: string;
  state: string;
  error?: string;
  history: StateChange[];
  batches: { state: string; containerId?: string }[];
}

let dataDir: string;
let smi: FakeNvidiaSmi;
let bridge: BridgeProcess | undefined;
const runIds: string[] = [];
const containerIds: string[] = [];

/** A RED that would print a line (or run `script`), asking for `gpus`. */
const gpuRed = (gpus: Record<string, unknown>, tag: string, script = `echo ${tag}`) => shRed(script, { gpus, stdoutOutput: false });

async function submit(red: Record<string, unknown>): Promise<{ id: string; state: string }> {
  const r = await bridge!.api<{ id: string; state: string }>('POST', '/runs', { red });
  expect({ status: r.status, body: r.status === 201 ? undefined : r.body }).toEqual({ status: 201, body: undefined });
  runIds.push(r.body.id);
  return r.body;
}

const getRun = async (id: string) => (await bridge!.api<RunRecord>('GET', `/runs/${id}`)).body;

const finished = (id: string) =>
  waitFor(`run ${id} to finish`, async () => {
    const run = await getRun(id);
    return FINAL.includes(run.state) ? run : undefined;
  });

/** The run's own (batch null) state changes, in order. */
const runHistory = (run: RunRecord) => run.history.filter(h => h.batch === null);
const at = (run: RunRecord, state: string): number => {
  const h = runHistory(run).find(x => x.state === state);
  if (!h) throw new Error(`run ${run.id} never was ${state}: ${JSON.stringify(run.history)}`);
  return Date.parse(h.at);
};

/** The engine's clear message for Docker's real refusal of a GPU container. */
function expectNvidiaRefusal(error: string | undefined): void {
  expect(error).toContain('the RED asks for GPU #0 (assigned by the bridge) (container.settings.gpus)');
  expect(error).toContain('this Docker engine cannot give containers NVIDIA GPUs');
  expect(error).toContain('install the NVIDIA Container Toolkit');
  expect(error).toContain('or remove container.settings.gpus');
  expect(error).toContain('Docker said:');
  expect(error).toContain('could not select device driver "nvidia"');
}

beforeAll(async () => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'redlab-gpu-'));
  smi = await fakeNvidiaSmi(GPU_CSV);
  // parallel 4: only the GPU pool can make the GPU runs wait for each other.
  bridge = await startBridgeProcess({ dataDir, token, parallel: 4, env: smi.env });
}, 60_000);

afterAll(async () => {
  await bridge?.kill('SIGTERM');
  for (const c of containerIds) execFileSync('docker', ['rm', '-f', c], { stdio: 'ignore' });
  for (const id of runIds) {
    const left = execFileSync('docker', ['ps', '-aq', '--filter', `label=org.redlab.run=${id}`]).toString().trim();
    if (left) execFileSync('docker', ['rm', '-f', ...left.split('\n')]);
  }
  fs.rmSync(dataDir, { recursive: true, force: true });
  await smi?.cleanup();
});

test('/health lists the one GPU nvidia-smi reports (asked with the query the bridge documents)', async () => {
  const r = await bridge!.api<{ gpus: unknown[]; runs: { parallel: number } }>('GET', '/health');
  expect(r.status).toBe(200);
  expect(r.body.gpus).toEqual([{ index: 0, uuid: 'GPU-5a1e7c2d-0000-4e4e-9f9f-123456789abc', name: 'NVIDIA A100-SXM4-40GB', memoryTotalMb: 40960, memoryUsedMb: 12 }]);
  expect(r.body.runs.parallel).toBe(4);
  expect(fs.readFileSync(smi.argsFile, 'utf8')).toBe('--query-gpu=index,uuid,name,memory.total,memory.used\n--format=csv,noheader,nounits\n');
});

test('a RED asking for 2 GPUs on a 1-GPU host is failed at once, naming what it asked for and what exists', async () => {
  const r = await submit(gpuRed({ count: 2 }, 'two'));
  expect(r.state).toBe('failed');
  const run = await getRun(r.id);
  expect(run.state).toBe('failed');
  expect(run.error).toBe(`the RED asks for 2 GPUs, but ${INVENTORY}`);
  // It never left the queue: no container, no preparing.
  expect(runHistory(run).map(h => h.state)).toEqual(['queued', 'failed']);
  expect(run.batches.every(b => !b.containerId)).toBe(true);

  const tooBig = await submit(gpuRed({ devices: [{ vramMin: 81920 }] }, 'big'));
  expect(tooBig.state).toBe('failed');
  expect((await getRun(tooBig.id)).error).toBe(`the RED asks for GPUs with vramMin 81920 MB, but no free GPU has 81920 MB: ${INVENTORY}`);
});

test('two 1-GPU runs submitted together take turns on the GPU, fail with the clear NVIDIA message, and release it', async () => {
  const [a, b] = await Promise.all([submit(gpuRed({ count: 1 }, 'first')), submit(gpuRed({ count: 1 }, 'second'))]);
  const [ra, rb] = await Promise.all([finished(a.id), finished(b.id)]);
  for (const run of [ra, rb]) {
    expect(run.state).toBe('failed');
    expectNvidiaRefusal(run.error);
    // The engine reports the batch running from just before Docker's start call, so the
    // run passes through running/collecting although its container never started.
    expect(runHistory(run).map(h => h.state)).toEqual(['queued', 'preparing', 'running', 'collecting', 'failed']);
    expect(run.batches.map(bt => bt.state)).toEqual(['failed']);
  }
  // Whichever got the GPU first: the other left the queue only after the first ended.
  const [first, second] = at(ra, 'preparing') <= at(rb, 'preparing') ? [ra, rb] : [rb, ra];
  expect(at(second, 'preparing')).toBeGreaterThanOrEqual(at(first, 'failed'));
  // ...and both really were in the queue together (the second waited for the GPU).
  expect(at(second, 'queued')).toBeLessThan(at(first, 'failed'));

  // No container of these runs is left behind (a refused container is removed).
  const left = execFileSync('docker', ['ps', '-aq', '--filter', `label=org.redlab.run=${a.id}`, '--filter', `label=org.redlab.run=${b.id}`]).toString().trim();
  expect(left).toBe('');

  // The GPU is free again: a third run gets it (and Docker refuses it the same way).
  const c = await submit(gpuRed({ devices: [{ vramMin: 20000 }] }, 'third'));
  const rc = await finished(c.id);
  expect(runHistory(rc).map(h => h.state)).toEqual(['queued', 'preparing', 'running', 'collecting', 'failed']);
  expect(at(rc, 'preparing')).toBeGreaterThanOrEqual(at(second, 'failed'));
  expectNvidiaRefusal(rc.error);

  const health = await bridge!.api<{ runs: { queued: number; running: number } }>('GET', '/health');
  expect(health.body.runs).toMatchObject({ queued: 0, running: 0 });
}, 120_000);

test('after a restart, a reattached GPU run keeps its GPU: a new GPU run waits for it', async () => {
  // A GPU run the previous bridge left running. Docker here cannot give a container a
  // GPU, so its container is a plain one carrying the bridge's labels, as the old
  // bridge would have left it (running, its run recorded as running on the GPU).
  expect(await bridge!.kill('SIGTERM')).toBe(0);
  bridge = undefined;
  const store = RunStore.open(dataDir);
  let heldId: string;
  try {
    const script = 'i=1; while [ $i -le 25 ]; do echo "held $i"; i=$((i+1)); sleep 0.1; done';
    heldId = store.createRun({ red: maskForStore(new SecretMasker(), gpuRed({ count: 1 }, 'held', script)) }).id;
    runIds.push(heldId);
    store.setState(heldId, 'preparing');
    store.setState(heldId, 'running');
    const labels = { 'org.redlab.managed': 'true', 'org.redlab.run': heldId, 'org.redlab.batch': '0', 'org.redlab.bridge': 'true' };
    const cid = execFileSync('docker', ['run', '-d', ...Object.entries(labels).flatMap(([k, v]) => ['--label', `${k}=${v}`]), 'redlab/busybox:1', 'sh', '-c', script]).toString().trim();
    containerIds.push(cid);
    store.setBatch(heldId, 0, { state: 'running', containerId: cid });
  } finally {
    store.close();
  }

  bridge = await startBridgeProcess({ dataDir, token, parallel: 4, env: smi.env });
  const next = await submit(gpuRed({ count: 1 }, 'next'));
  const [held, rn] = await Promise.all([finished(heldId), finished(next.id)]);
  expect({ state: held.state, error: held.error }).toEqual({ state: 'succeeded', error: undefined });
  const log = await fetch(`${bridge.url}/api/v1/runs/${heldId}/logs?stream=stdout&batch=0`, { headers: { Authorization: `Bearer ${token}` } });
  expect(await log.text()).toBe(Array.from({ length: 25 }, (_, i) => `held ${i + 1}\n`).join(''));
  // The new run got the GPU only once the reattached run had ended with it.
  expect(at(rn, 'preparing')).toBeGreaterThanOrEqual(at(held, 'succeeded'));
  expectNvidiaRefusal(rn.error);
}, 120_000);
