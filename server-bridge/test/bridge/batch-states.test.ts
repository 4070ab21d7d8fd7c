// A batch's states as the store records them, on the real RunManager and DockerEngine:
// GET /runs/{id} shows each batch from the start (queued), a batch whose container runs
// as `running`, and each batch's history goes queued → preparing → running →
// collecting → succeeded. (The engine says `preparing` and `running` before the
// container exists: the store used to drop both and show batches `queued` while they ran.)
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import pino from 'pino';
import { createApp, type BridgeApp } from '../../src/bridge/http';
import { RunManager } from '../../src/bridge/run-manager';
import { DockerEngine } from '../../src/engine/docker';
import { createDockerClient } from '../../src/engine/docker-client';
import { RunStore, type RunRecord } from '../../src/store';
import { BUSYBOX, removeContainersWithLabel } from '../helpers/red';
import { TOKEN, call } from './helpers/api';

jest.setTimeout(60_000);

let dir: string;
let store: RunStore;
let manager: RunManager;
let bridge: BridgeApp;
let url: string;
const docker = createDockerClient({});

beforeAll(async () => {
  dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'redlab-batch-states-')));
  store = RunStore.open(path.join(dir, 'data'));
  const engine = new DockerEngine({ docker, workRoot: path.join(dir, 'data', 'work') });
  manager = new RunManager(store, docker, engine, { parallel: 2, allowedRoots: [dir], baseDir: dir, version: 'test', stats: false }, pino({ level: 'silent' }));
  await manager.start();
  bridge = createApp(manager, { token: TOKEN, logger: false });
  ({ url } = await bridge.listen());
});
afterAll(async () => {
  await manager.drain();
  await bridge.close();
  store.close();
  await removeContainersWithLabel(docker, 'org.redlab.bridge', 'true');
  fs.rmSync(dir, { recursive: true, force: true });
});

// Batch 0 prints, then waits until /cc/outputs/go exists (the test makes it with docker exec); batch 1 runs after it (parallel 1).
const RED = {
  redVersion: '9',
  cli: {
    cwlVersion: 'v1.0',
    class: 'CommandLineTool',
    baseCommand: ['sh', '-c'],
    inputs: { script: { type: 'string', inputBinding: { position: 0 } } },
    outputs: {}
  },
  batches: [
    { inputs: { script: 'echo started; for i in $(seq 300); do [ -e /cc/outputs/go ] && exit 0; sleep 0.1; done; exit 9' }, outputs: {} },
    { inputs: { script: 'echo second' }, outputs: {} }
  ],
  container: { engine: 'docker', settings: { image: { url: BUSYBOX }, ram: 256 } }
};

async function getRun(id: string): Promise<RunRecord> {
  const r = await call(url, 'GET', `/api/v1/runs/${id}`);
  expect(r.status).toBe(200);
  return r.json as RunRecord;
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, ms = 30_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise(r => setTimeout(r, 50));
  }
}

test('GET /runs/{id} shows a running batch as running, the next one queued, and each batch moves through every state', async () => {
  const sub = await call(url, 'POST', '/api/v1/runs', { body: JSON.stringify({ red: RED, options: { parallel: 1 } }), headers: { 'content-type': 'application/json' } });
  expect(sub.status).toBe(201);
  const id = sub.json.id as string;

  // Once batch 0's container has printed, its `running` state must be in the record.
  const seen = await until('batch 0 to print', async () => {
    const run = await getRun(id);
    return run.batches.find(b => b.index === 0)?.logBytes.stdout ? run : undefined;
  });
  expect(seen.state).toBe('running');
  expect(seen.batches.map(b => [b.index, b.state])).toEqual([
    [0, 'running'],
    [1, 'queued']
  ]);
  // Batch 0 may end now.
  const containerId = seen.batches[0].containerId!;
  const exec = await docker.getContainer(containerId).exec({ Cmd: ['touch', '/cc/outputs/go'] });
  await exec.start({ Detach: true });

  const done = await until('the run to end', async () => {
    const run = await getRun(id);
    return ['succeeded', 'failed', 'cancelled'].includes(run.state) ? run : undefined;
  });
  expect({ state: done.state, error: done.error }).toEqual({ state: 'succeeded', error: undefined });
  for (const index of [0, 1]) {
    expect(done.history.filter(h => h.batch === index).map(h => h.state)).toEqual(['preparing', 'running', 'collecting', 'succeeded']);
  }
});

test('batches a run never got to (its image could not be pulled) are listed from the start and end failed with the run', async () => {
  // Nothing listens on port 1: the pull fails at once, before any batch starts.
  const red = { ...RED, container: { engine: 'docker', settings: { image: { url: 'localhost:1/redlab/none:1' }, ram: 256 } } };
  const sub = await call(url, 'POST', '/api/v1/runs', { body: JSON.stringify({ red }), headers: { 'content-type': 'application/json' } });
  expect(sub.status).toBe(201);
  const id = sub.json.id as string;
  const done = await until('the run to end', async () => {
    const run = await getRun(id);
    return ['succeeded', 'failed', 'cancelled'].includes(run.state) ? run : undefined;
  });
  expect(done.state).toBe('failed');
  expect(done.error).toMatch(/localhost:1\/redlab\/none:1/);
  expect(done.batches.map(b => ({ index: b.index, state: b.state, error: b.error }))).toEqual([
    { index: 0, state: 'failed', error: done.error },
    { index: 1, state: 'failed', error: done.error }
  ]);
});
