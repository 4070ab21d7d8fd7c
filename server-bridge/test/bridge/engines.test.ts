// The bridge knows engines only through the Engine seam: the real RunManager, RunStore and
// HTTP API with two engines, the real Docker one and a small fake (test/helpers/fake-engine.ts).
// A run goes to the engine its options name; /health lists both with their capabilities; an
// unknown engine, or a RED asking what the engine cannot do, is refused before it is queued;
// after a restart, runs of an engine that cannot reattach are requeued (never started) or failed.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import pino from 'pino';
import { createDockerClient } from '../../src/engine/docker-client';
import { DockerEngine } from '../../src/engine/docker';
import { EngineRegistry } from '../../src/engine/registry';
import type { EngineRecovery, ManagedContainer, ResumeRequest } from '../../src/engine/types';
import { RunManager } from '../../src/bridge/run-manager';
import { RunStore } from '../../src/store';
import { FAKE_CAPABILITIES, FakeEngine } from '../helpers/fake-engine';
import { HELLO_RED, call, postJson, startHarness, startRunManagerApp, TestRunService, type RunManagerApp } from './helpers/api';

const docker = createDockerClient({});
let app: RunManagerApp;
let fake: FakeEngine;
let nobatch: FakeEngine;

beforeAll(async () => {
  app = await startRunManagerApp('redlab-engines-', docker, {
    moreEngines: () => [
      (fake = new FakeEngine()),
      (nobatch = new FakeEngine({ name: 'nobatch', capabilities: { batches: false }, refusal: { path: 'container.settings.ram', message: 'nobatch has 1 MB', fix: 'ask for less RAM' } }))
    ]
  });
});
afterAll(() => app.close());

async function waitFinal(id: string): Promise<string> {
  for (let i = 0; i < 600; i++) {
    const s = app.store.getSummary(id)!.state;
    if (['succeeded', 'failed', 'cancelled'].includes(s)) return s;
    await new Promise(r => setTimeout(r, 50));
  }
  throw new Error(`run ${id} did not end`);
}

const runCount = () => app.store.listRuns({ limit: 1000 }).runs.length;

test('a run submitted with options.engine "fake" goes to the fake engine; the record keeps the engine', async () => {
  const sub = await postJson(app.url, '/api/v1/runs', { red: HELLO_RED, options: { engine: 'fake' } });
  expect(sub.status).toBe(201);
  const id = sub.json.id as string;
  expect(await waitFinal(id)).toBe('succeeded');
  expect(fake.requests.map(r => r.runId)).toEqual([id]);
  const run = await call(app.url, 'GET', `/api/v1/runs/${id}`);
  expect(run.json.options.engine).toBe('fake');
  expect(run.json.batches).toMatchObject([{ index: 0, state: 'succeeded' }]);
  expect((await call(app.url, 'GET', `/api/v1/runs/${id}/logs`)).text).toBe('fake fake batch 0\n');
  expect((await call(app.url, 'GET', `/api/v1/runs/${id}/outputs/out`)).text).toBe('fake fake batch 0\n');
}, 60_000);

test('a run that names no engine goes to the default (docker), and its record says so', async () => {
  const before = fake.requests.length;
  const sub = await postJson(app.url, '/api/v1/runs', { red: HELLO_RED });
  expect(sub.status).toBe(201);
  expect(await waitFinal(sub.json.id)).toBe('succeeded');
  expect(fake.requests.length).toBe(before);
  const run = await call(app.url, 'GET', `/api/v1/runs/${sub.json.id}`);
  expect(run.json.options.engine).toBe('docker');
  expect((await call(app.url, 'GET', `/api/v1/runs/${sub.json.id}/logs`)).text).toBe('hello world\n');
}, 120_000);

test('/health lists every engine with its capabilities, the default first', async () => {
  const h = await call(app.url, 'GET', '/api/v1/health');
  expect(h.status).toBe(200);
  expect(h.json.defaultEngine).toBe('docker');
  expect(h.json.status).toBe('ok');
  expect(h.json.engines.map((e: { name: string }) => e.name)).toEqual(['docker', 'fake', 'nobatch']);
  expect(h.json.engines[0]).toMatchObject({ name: 'docker', available: true, capabilities: new DockerEngine().capabilities });
  expect(h.json.engines[0].version).toBe(h.json.docker.version);
  expect(h.json.engines[1]).toEqual({ name: 'fake', available: true, version: 'fake-1', note: 'a test engine: runs nothing', capabilities: FAKE_CAPABILITIES });
  expect(h.json.engines[2].capabilities.batches).toBe(false);
  expect(h.json.docker).toMatchObject({ reachable: true });
});

test('an unknown engine is refused (422) with the field, the value and the engines there are; a non-text one is a 400', async () => {
  const before = runCount();
  const res = await postJson(app.url, '/api/v1/runs', { red: HELLO_RED, options: { engine: 'nope' } });
  expect(res.status).toBe(422);
  expect(res.json.error).toBe('options.engine: there is no engine "nope" in this bridge; it has "docker", "fake", "nobatch"');
  expect(res.json.issues).toEqual([expect.objectContaining({ path: 'options.engine', fix: 'set options.engine to one of "docker", "fake", "nobatch", or leave it out for the default (docker)' })]);
  const bad = await postJson(app.url, '/api/v1/runs', { red: HELLO_RED, options: { engine: 3 } });
  expect(bad.status).toBe(400);
  expect(bad.json.error).toMatch(/^options\.engine must be an engine's name as text/);
  expect(runCount()).toBe(before);
});

test('GPUs on an engine without GPUs are refused before the run is queued, naming the field and the engine that has them', async () => {
  const before = runCount();
  const red = { ...HELLO_RED, container: { engine: 'docker', settings: { image: { url: 'redlab/busybox:1' }, gpus: { vendor: 'nvidia', count: 1 } } } };
  const res = await postJson(app.url, '/api/v1/runs', { red, options: { engine: 'fake' } });
  expect(res.status).toBe(422);
  expect(res.json.error).toBe('the fake engine cannot give a run GPUs, and container.settings.gpus asks for them');
  expect(res.json.fix).toBe('remove container.settings.gpus, or set options.engine to "docker"');
  expect(res.json.issues).toEqual([expect.objectContaining({ path: 'container.settings.gpus' })]);
  expect(runCount()).toBe(before);
  expect(fake.requests.some(r => r.loaded.red.container.settings.gpus)).toBe(false);
});

test('batches on an engine without batches, and a connector the engine lacks, are refused with the field and the fix', async () => {
  const { inputs: _inputs, outputs: _outputs, ...rest } = HELLO_RED;
  const batchRed = { ...rest, batches: [{ inputs: { some_string: 'a' } }, { inputs: { some_string: 'b' } }] };
  const b = await postJson(app.url, '/api/v1/runs', { red: batchRed, options: { engine: 'nobatch' } });
  expect(b.status).toBe(422);
  expect(b.json.error).toBe('the nobatch engine cannot run a RED with batches');
  expect(b.json.issues).toEqual([expect.objectContaining({ path: 'batches', fix: 'run each batch as a RED of its own, or set options.engine to "docker" or "fake"' })]);

  const fileRed = {
    ...HELLO_RED,
    cli: { ...HELLO_RED.cli, inputs: { f: { type: 'File', inputBinding: { position: 0 } } } },
    inputs: { f: { class: 'File', connector: { command: 'red-connector-http', access: { url: 'https://example.org/x.txt' } } } }
  };
  const c = await postJson(app.url, '/api/v1/runs', { red: fileRed, options: { engine: 'fake' } });
  expect(c.status).toBe(422);
  expect(c.json.error).toBe('the fake engine has no connector red-connector-http; it has redlab-connector-local');
  expect(c.json.issues).toEqual([expect.objectContaining({ path: 'inputs.f.connector.command', fix: 'use one of redlab-connector-local, or set options.engine to "docker"' })]);

  // The batch RED runs on an engine that has batches; each batch is the engine's.
  const ok = await postJson(app.url, '/api/v1/runs', { red: batchRed, options: { engine: 'fake' } });
  expect(ok.status).toBe(201);
  expect(await waitFinal(ok.json.id)).toBe('succeeded');
  expect(app.store.getRun(ok.json.id)!.batches.map(x => x.state)).toEqual(['succeeded', 'succeeded']);
}, 60_000);

test("the engine's own precheck refuses a RED (422) as the RAM check does", async () => {
  const res = await postJson(app.url, '/api/v1/runs', { red: HELLO_RED, options: { engine: 'nobatch' } });
  expect(res.status).toBe(422);
  expect(res.json).toMatchObject({ error: 'nobatch has 1 MB', fix: 'ask for less RAM', issues: [{ path: 'container.settings.ram', message: 'nobatch has 1 MB', fix: 'ask for less RAM', severity: 'error' }] });
  expect(nobatch.prechecked).toHaveLength(1);
  expect(nobatch.requests).toEqual([]);
});

// ---------------------------------------------------------------------------------------
// /health without docker, or with an unavailable default; recovery per engine

function tempStore(): { dir: string; store: RunStore } {
  const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'redlab-engines-rec-')));
  return { dir, store: RunStore.open(path.join(dir, 'data')) };
}

function manager(store: RunStore, dir: string, registry: EngineRegistry): RunManager {
  return new RunManager(store, registry, { parallel: 2, allowedRoots: [dir], baseDir: dir, version: 'test', stats: false }, pino({ level: 'silent' }));
}

test('/health: degraded when the default engine is unavailable; docker says when there is no docker engine', async () => {
  const { dir, store } = tempStore();
  try {
    const down = new FakeEngine({ name: 'down', status: { available: false, error: 'down is down: start it' } });
    const h = await manager(store, dir, new EngineRegistry([new FakeEngine(), down], 'down')).health();
    expect(h.status).toBe('degraded');
    expect(h.defaultEngine).toBe('down');
    expect(h.engines.map(e => [e.name, e.available, e.error])).toEqual([
      ['down', false, 'down is down: start it'],
      ['fake', true, undefined]
    ]);
    expect(h.docker).toEqual({ reachable: false, error: 'no docker engine configured' });
    const ok = await manager(store, dir, new EngineRegistry([new FakeEngine()])).health();
    expect(ok.status).toBe('ok');
  } finally {
    store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('recovery: runs of an engine without recovery are failed (running) or requeued (queued); an engine gone fails its runs', async () => {
  const { dir, store } = tempStore();
  try {
    const running = store.createRun({ red: HELLO_RED, options: { engine: 'fake' } }).id;
    store.setState(running, 'preparing');
    store.setBatch(running, 0, {});
    store.setState(running, 'running');
    const queued = store.createRun({ red: HELLO_RED, options: { engine: 'fake' } }).id;
    const gone = store.createRun({ red: HELLO_RED, options: { engine: 'gone' } }).id;
    const fresh = new FakeEngine();
    const m = manager(store, dir, new EngineRegistry([fresh]));
    await m.start();
    await m.idle();
    expect(store.getSummary(running)!.state).toBe('failed');
    expect(store.getRun(running)!.error).toBe('the bridge restarted while this run ran on the fake engine, which cannot reattach to it: run it again');
    expect(store.getSummary(queued)!.state).toBe('succeeded');
    expect(fresh.requests.map(r => r.runId)).toEqual([queued]);
    expect(store.getSummary(gone)!.state).toBe('failed');
    expect(store.getRun(gone)!.error).toBe('the bridge restarted without the gone engine this run was for (it has "fake"): run it again on one of those');
    await m.drain();
  } finally {
    store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("recovery through an engine's recovery: containers that never started are removed and the run requeued; a started one is resumed, its GPUs asked for", async () => {
  const { dir, store } = tempStore();
  const calls: string[] = [];
  const resumed: ResumeRequest[] = [];
  const containers: ManagedContainer[] = [];
  const recovery: EngineRecovery = {
    listManaged: async () => (calls.push('listManaged'), containers),
    resumeBatch: async req => {
      resumed.push(req);
      return { index: req.batch, state: 'succeeded', command: ['resumed'], exitCode: 0, inputs: {}, outputs: {}, timings: { total: 1 }, outdir: req.outdir };
    },
    discardBatch: async () => undefined,
    remove: async ids => void calls.push(`remove ${ids.join(',')}`),
    gpuDeviceIds: async id => (calls.push(`gpus ${id}`), [])
  };
  try {
    const notStarted = store.createRun({ red: HELLO_RED, options: { engine: 'reattach' } }).id;
    store.setState(notStarted, 'preparing');
    store.setBatch(notStarted, 0, { containerId: 'c-created' });
    const gpuRed = { ...HELLO_RED, container: { engine: 'docker', settings: { image: { url: 'redlab/busybox:1' }, gpus: { vendor: 'nvidia', count: 1 } } } };
    const started = store.createRun({ red: gpuRed, options: { engine: 'reattach' } }).id;
    store.setState(started, 'preparing');
    store.setBatch(started, 0, { containerId: 'c-running' });
    store.setState(started, 'running');
    store.setBatch(started, 0, { state: 'running' });
    const base = { name: 'x', batch: 0, labels: {} };
    containers.push({ ...base, containerId: 'c-created', runId: notStarted, state: 'created' }, { ...base, containerId: 'c-running', runId: started, state: 'running' });
    const engine = new FakeEngine({ name: 'reattach', recovery, capabilities: { gpus: true } });
    const m = manager(store, dir, new EngineRegistry([new FakeEngine(), engine]));
    await m.start();
    await m.idle();
    expect(calls).toEqual(['listManaged', 'remove c-created', 'gpus c-running']);
    expect(store.getSummary(notStarted)!.state).toBe('succeeded');
    expect(engine.requests.map(r => r.runId)).toEqual([notStarted]);
    expect(resumed.map(r => [r.runId, r.batch, r.containerId])).toEqual([[started, 0, 'c-running']]);
    expect(store.getSummary(started)!.state).toBe('succeeded');
    await m.drain();
  } finally {
    store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

// ---------------------------------------------------------------------------------------
// image routes

test("image routes go to the named engine's images: unknown engine 422, an engine without images 409", async () => {
  class TwoEngines extends TestRunService {
    override readonly engines = new EngineRegistry([new DockerEngine({ docker }), new FakeEngine()]);
  }
  const h = await startHarness({}, st => new TwoEngines(st));
  try {
    const list = await call(h.url, 'GET', '/api/v1/images?engine=docker');
    expect(list.status).toBe(200);
    expect(Array.isArray(list.json.images)).toBe(true);
    const none = await call(h.url, 'GET', '/api/v1/images?engine=fake');
    expect(none.status).toBe(409);
    expect(none.json.error).toBe('the fake engine cannot list images: use engine=docker');
    const build = await postJson(h.url, '/api/v1/images/build', { dockerfile: 'FROM redlab/busybox:1\n', engine: 'fake' });
    expect(build.status).toBe(409);
    expect(build.json.error).toBe('the fake engine cannot build images: use engine=docker');
    const unknown = await call(h.url, 'GET', '/api/v1/images?engine=nope');
    expect(unknown.status).toBe(422);
    expect(unknown.json.error).toBe('engine: there is no engine "nope" in this bridge; it has "docker", "fake": give one of them, or leave engine out for the default (docker)');
    const both = await postJson(h.url, '/api/v1/images/build?engine=docker', { dockerfile: 'FROM redlab/busybox:1\n', engine: 'fake' });
    expect(both.status).toBe(400);
  } finally {
    await h.close();
  }
});
