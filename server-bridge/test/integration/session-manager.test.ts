// The bridge's SessionManager on the real Docker engine (issue 10), without HTTP: state
// kept across cells, live streaming, rich outputs (HTML, matplotlib PNGs), tracebacks,
// interrupt, restart, a session surviving a new manager (the bridge restarted), an image
// without python3, GPUs (none on the engine: 409; a stand-in nvidia-smi: the GPU that fits
// is held, and Docker's refusal is said), the idle timeout, and the SQLite records.
import Database from 'better-sqlite3';
import { createHash } from 'crypto';
import type Docker from 'dockerode';
import { chown, mkdir, stat, symlink } from 'fs/promises';
import * as path from 'path';
import pino from 'pino';
import { randomUUID } from 'crypto';
import type { ExecutionRecord, SessionEventMessage, SessionInfo, SessionState } from '../../../src/red';
import { RunStore } from '../../src/store';
import { DockerEngine } from '../../src/engine/docker';
import { DockerSession } from '../../src/engine/docker-session';
import { readGpuInventory } from '../../src/engine/gpu';
import { LABEL_SESSION } from '../../src/engine/host-config';
import { EngineRegistry } from '../../src/engine/registry';
import { RunManager } from '../../src/bridge/run-manager';
import { RequestError } from '../../src/bridge/service';
import { LABEL_SESSION_ENGINE, LABEL_SESSION_STORE, SessionManager } from '../../src/bridge/session-manager';
import { fakeNvidiaSmi, type FakeNvidiaSmi } from '../helpers/fake-nvidia-smi';
import { BUSYBOX, PYTHON, SCIPY, dockerTestFile, tempDir } from '../helpers/red';

jest.setTimeout(120_000);

const { docker } = dockerTestFile();
const log = pino({ level: 'silent' });
const FAKE_GPUS = ['0, GPU-aaaa, Stand-in Small, 8192, 100', '1, GPU-bbbb, Stand-in Large, 24576, 200'].join('\n');

interface Bridge {
  root: string;
  store: RunStore;
  engines: EngineRegistry;
  runs: RunManager;
  sessions: SessionManager;
}

const bridges: Bridge[] = [];
let nvsmi: FakeNvidiaSmi;

beforeAll(async () => {
  nvsmi = await fakeNvidiaSmi(FAKE_GPUS);
});

afterAll(async () => {
  for (const b of bridges) {
    const mine = await docker.listContainers({ all: true, filters: { label: [`${LABEL_SESSION_STORE}=${b.sessions.storeLabel}`] } });
    for (const c of mine) await docker.getContainer(c.Id).remove({ force: true }).catch(() => undefined);
    await b.sessions.close().catch(() => undefined);
    b.store.close();
  }
  await nvsmi.cleanup();
});

/** A bridge's store, engines (docker: no GPUs; fake-gpu: the stand-in nvidia-smi's two) and managers. */
async function bridge(opts: { idleTimeoutMs?: number; reuse?: Bridge; user?: string } = {}): Promise<Bridge> {
  const root = opts.reuse?.root ?? (await tempDir('redlab-it-sm-root-'));
  const store = opts.reuse?.store ?? RunStore.open(await tempDir('redlab-it-sm-data-'));
  const engines =
    opts.reuse?.engines ??
    new EngineRegistry([
      new DockerEngine({ docker, workRoot: path.join(store.dataDir, 'work'), gpuInventory: async () => [], ...(opts.user ? { user: opts.user } : {}) }),
      new DockerEngine({ docker, name: 'fake-gpu', workRoot: path.join(store.dataDir, 'work'), gpuInventory: () => readGpuInventory({ env: nvsmi.env }) })
    ]);
  const runs = opts.reuse?.runs ?? new RunManager(store, engines, { parallel: 1, allowedRoots: [root], baseDir: root, version: 'test', stats: false }, log);
  if (!opts.reuse) await runs.start();
  const sessions = new SessionManager(store, engines, runs, { allowedRoots: [root], baseDir: root, idleTimeoutMs: opts.idleTimeoutMs ?? 0 }, log);
  await sessions.start();
  const b = { root, store, engines, runs, sessions };
  bridges.push(b);
  return b;
}

async function until<T>(what: string, probe: () => T | undefined | Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise(r => setTimeout(r, 50));
  }
}

const inState = (sm: SessionManager, id: string, ...states: SessionState[]) =>
  until(`session ${id} in ${states.join('/')} (is ${sm.get(id)?.state}: ${sm.get(id)?.error ?? ''})`, () => {
    const s = sm.get(id);
    return s && states.includes(s.state) ? s : undefined;
  });

async function run(sm: SessionManager, id: string, code: string): Promise<ExecutionRecord> {
  const { executionId } = sm.execute(id, { code, cellId: `cell-${randomUUID().slice(0, 8)}` });
  return (await sm.execution(id, executionId, { wait: true })) as ExecutionRecord;
}

const stdout = (r: ExecutionRecord) =>
  r.outputs
    .filter(o => o.output_type === 'stream' && o.name === 'stdout')
    .map(o => o.text)
    .join('');

async function refusal(p: Promise<unknown> | (() => unknown)): Promise<RequestError> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (err) {
    if (err instanceof RequestError) return err;
    throw err;
  }
  throw new Error('expected a RequestError');
}

async function session(b: Bridge, over: Record<string, unknown> = {}): Promise<SessionInfo> {
  await mkdir(path.join(b.root, 'nb'), { recursive: true });
  const { session: s, created } = await b.sessions.create({ image: PYTHON, notebookPath: `nb/${randomUUID().slice(0, 8)}.ipynb`, ram: 512, ...over } as never);
  expect(created).toBe(true);
  return inState(b.sessions, s.id, 'idle', 'dead');
}

test('cells share one namespace, print live, show HTML and tracebacks, mask env values, and are recorded in SQLite', async () => {
  const b = await bridge();
  const sm = b.sessions;
  const s = await session(b, { notebookPath: 'nb/main.ipynb', env: { API_TOKEN: 'hunter2-secret-value', MODE: 'training' }, cpus: 1.5 });
  expect(s).toMatchObject({ state: 'idle', engine: 'docker', image: PYTHON, imageId: expect.stringMatching(/^sha256:/), python: expect.stringMatching(/^3\./), ram: 512, cpus: 1.5 });
  const container = await docker.getContainer((await docker.listContainers({ filters: { label: [`${LABEL_SESSION}=${s.id}`] } }))[0].Id).inspect();
  expect([container.HostConfig.Memory, container.HostConfig.NanoCpus, container.HostConfig.Binds]).toEqual([512 * 1024 * 1024, 1.5e9, [`${b.root}/nb:/work:rw`]]);
  // One live session per notebook and profile.
  expect(await sm.create({ image: PYTHON, notebookPath: 'nb/main.ipynb' })).toMatchObject({ created: false, session: { id: s.id } });

  expect((await run(sm, s.id, 'x = 41')).state).toBe('ok');
  const second = await run(sm, s.id, 'print(x + 1)');
  expect([stdout(second), second.state, second.executionCount]).toEqual(['42\n', 'ok', 2]);

  // Streaming: the prints arrive as separate events, spread over the loop, before the execution ends.
  const seen: { m: SessionEventMessage; at: number }[] = [];
  const unsubscribe = sm.subscribe(s.id, sm.get(s.id)!.lastSeq, m => seen.push({ m, at: Date.now() }))!;
  const loop = await run(sm, s.id, 'import time\nfor i in range(4):\n    print(i)\n    time.sleep(0.4)');
  unsubscribe();
  const mine = seen.filter(e => (e.m.type === 'output' || e.m.type === 'execution') && e.m.executionId === loop.id);
  const outputs = mine.filter(e => e.m.type === 'output');
  const done = mine.find(e => e.m.type === 'execution' && e.m.state === 'ok')!;
  expect(outputs.length).toBeGreaterThanOrEqual(3);
  expect(done.at - outputs[0].at).toBeGreaterThan(800);
  expect(mine.indexOf(done)).toBe(mine.length - 1);
  expect(seen.map(e => e.m.seq)).toEqual(seen.map((_, i) => seen[0].m.seq + i)); // no gaps
  // The record merges the stream, as Jupyter saves it.
  expect(loop.outputs).toEqual([{ output_type: 'stream', name: 'stdout', text: '0\n1\n2\n3\n' }]);

  const html = await run(sm, s.id, "class Table:\n    def _repr_html_(self):\n        return '<table><tr><td>1</td></tr></table>'\nTable()");
  expect(html.outputs).toEqual([expect.objectContaining({ output_type: 'execute_result', data: expect.objectContaining({ 'text/html': '<table><tr><td>1</td></tr></table>' }) })]);

  const failed = await run(sm, s.id, "def f():\n    raise ValueError('bad value')\n\nf()");
  expect(failed.state).toBe('error');
  const err = failed.outputs.find(o => o.output_type === 'error') as unknown as { ename: string; evalue: string; traceback: string[] };
  expect([err.ename, err.evalue]).toEqual(['ValueError', 'bad value']);
  expect(err.traceback.join('\n')).toContain("raise ValueError('bad value')");

  const secret = await run(sm, s.id, "import os\nprint(os.environ['API_TOKEN'])");
  expect(stdout(secret)).toBe('********\n');
  // A setting is not a secret: its value is shown (masking it would blank every "training" printed).
  expect(stdout(await run(sm, s.id, "print(os.environ['MODE'], 'training')"))).toBe('training training\n');
  const typed = await run(sm, s.id, "t = 'hunter2-secret-value'\nprint(t == os.environ['API_TOKEN'])");
  expect([typed.code, stdout(typed)]).toEqual(["t = '********'\nprint(t == os.environ['API_TOKEN'])", 'True\n']); // the runner got the value, the record never

  // The SQLite records: the executions with pinned image and hashes of each output's canonical JSON; env names only.
  const db = new Database(b.store.dbPath, { readonly: true });
  try {
    const row = db.prepare('SELECT * FROM session_executions WHERE id = ?').get(second.id) as Record<string, string | number>;
    expect(row).toMatchObject({ session_id: s.id, code: 'print(x + 1)', state: 'ok', execution_count: 2, cell_id: second.cellId });
    expect(JSON.parse(row.outputs as string)).toEqual([{ output_type: 'stream', name: 'stdout', text: '42\n' }]);
    const canonical = '{"name":"stdout","output_type":"stream","text":"42\\n"}';
    expect(JSON.parse(row.output_hashes as string)).toEqual([createHash('sha256').update(canonical).digest('hex')]);
    expect(JSON.parse(row.image as string)).toEqual({ ref: PYTHON, id: s.imageId });
    const sessionRow = db.prepare('SELECT * FROM sessions WHERE id = ?').get(s.id) as Record<string, string>;
    expect(JSON.parse(sessionRow.spec).envNames).toEqual(['API_TOKEN', 'MODE']);
    const everything = JSON.stringify(db.prepare('SELECT * FROM session_executions').all()) + JSON.stringify(db.prepare('SELECT * FROM sessions').all());
    expect(everything).not.toContain('hunter2-secret-value');
    expect(everything).toContain(s.id);
  } finally {
    db.close();
  }

  const stopped = await sm.stop(s.id);
  expect(stopped).toMatchObject({ state: 'stopped' });
  const late = await refusal(() => sm.execute(s.id, { code: 'print(1)' }));
  expect([late.status, late.message]).toEqual([409, 'the session is stopped']);
  expect(await docker.listContainers({ all: true, filters: { label: [`${LABEL_SESSION}=${s.id}`] } })).toEqual([]);
});

test('matplotlib figures come as PNGs: on plt.show() and those left open at the end', async () => {
  const b = bridges[0] ?? (await bridge());
  const s = await session(b, { image: SCIPY, ram: 1024 });
  const r = await run(b.sessions, s.id, 'import matplotlib.pyplot as plt\nplt.plot([1, 2, 3])\nplt.show()\nplt.figure()\nplt.plot([3, 1, 2])\nNone');
  expect(r.state).toBe('ok');
  const pngs = r.outputs.filter(o => o.output_type === 'display_data' && (o.data as Record<string, string>)['image/png']);
  expect(pngs).toHaveLength(2);
  for (const p of pngs) expect(Buffer.from((p.data as Record<string, string>)['image/png'], 'base64').subarray(1, 4).toString()).toBe('PNG');
  await b.sessions.stop(s.id);
});

test('interrupt aborts an endless loop and the session goes on; restart empties the namespace under the same id', async () => {
  const b = bridges[0] ?? (await bridge());
  const sm = b.sessions;
  const s = await session(b);
  await run(sm, s.id, 'x = 7');
  const { executionId } = sm.execute(s.id, { code: 'while True:\n    pass' });
  const queued = sm.execute(s.id, { code: 'print(x * 6)' }); // waits behind the loop
  await until('the loop to run', async () => (await sm.execution(s.id, executionId))?.state === 'running');
  expect(sm.get(s.id)).toMatchObject({ state: 'busy', runningExecutionId: executionId });
  expect((await sm.execution(s.id, queued.executionId))?.state).toBe('queued');
  await sm.interrupt(s.id);
  const aborted = (await sm.execution(s.id, executionId, { wait: true }))!;
  expect(aborted.state).toBe('aborted');
  expect(aborted.outputs.find(o => o.output_type === 'error')).toMatchObject({ ename: 'KeyboardInterrupt' });
  // As a kernel stops on error: the cell queued behind the interrupted one is not run.
  expect(await sm.execution(s.id, queued.executionId, { wait: true })).toMatchObject({ state: 'aborted', outputs: [], error: 'not run: the cell before it (In [2]) was interrupted' });
  expect((await inState(sm, s.id, 'idle')).executionCount).toBe(2);
  expect(stdout(await run(sm, s.id, 'print(x * 6)'))).toBe('42\n');
  // An interrupt that comes before the runner started the cell still stops it.
  const early = sm.execute(s.id, { code: 'while True:\n    pass' });
  await sm.interrupt(s.id);
  expect((await sm.execution(s.id, early.executionId, { wait: true, signal: AbortSignal.timeout(20_000) }))?.state).toBe('aborted');

  const before = (await docker.listContainers({ filters: { label: [`${LABEL_SESSION}=${s.id}`] } }))[0].Id;
  const restarted = await sm.restart(s.id);
  expect(restarted).toMatchObject({ id: s.id, state: 'starting', executionCount: 0 });
  await inState(sm, s.id, 'idle');
  const gone = await run(sm, s.id, 'print(x)');
  expect(gone.state).toBe('error');
  expect(gone.outputs.find(o => o.output_type === 'error')).toMatchObject({ ename: 'NameError' });
  expect(gone.executionCount).toBe(1);
  const after = await docker.listContainers({ all: true, filters: { label: [`${LABEL_SESSION}=${s.id}`] } });
  expect(after.map(c => c.Id)).not.toContain(before);
  expect(after).toHaveLength(1);
  await sm.stop(s.id);
});

test('a session survives a new manager (bridge restart): reattached with its namespace; the running cell is lost; orphans are cleaned up', async () => {
  const first = await bridge();
  const live = await session(first);
  const vanished = await session(first);
  await run(first.sessions, live.id, 'x = 5');
  const { executionId: sleeping } = first.sessions.execute(live.id, { code: 'import time\ntime.sleep(2)\nprint("slept")' });
  await until('the sleep to run', async () => (await first.sessions.execution(live.id, sleeping))?.state === 'running');
  const seenBefore = first.sessions.get(live.id)!.lastSeq;
  await first.sessions.close(); // drains: the containers keep running
  // While the bridge is down: one session's container vanishes, and a container of no session of ours appears.
  const vanishedContainer = (await docker.listContainers({ filters: { label: [`${LABEL_SESSION}=${vanished.id}`] } }))[0].Id;
  await docker.getContainer(vanishedContainer).remove({ force: true });
  const orphan = await DockerSession.start(docker, { sessionId: `orphan-${randomUUID()}`, image: PYTHON, workDir: first.root, ramMb: 256, labels: { [LABEL_SESSION_STORE]: first.sessions.storeLabel, [LABEL_SESSION_ENGINE]: 'docker' } }, { onMessage: () => undefined });

  const second = await bridge({ reuse: first });
  const back = second.sessions.get(live.id)!;
  expect(back).toMatchObject({ state: 'idle', executionCount: 1 });
  expect(back.error).toBeUndefined();
  expect(back.lastSeq).toBeGreaterThan(seenBefore); // numbered on above every event a client may have seen
  expect(await second.sessions.execution(live.id, sleeping)).toMatchObject({ state: 'lost', error: 'the bridge restarted while it ran' });
  const x = await run(second.sessions, live.id, 'print(x)');
  expect([x.state, stdout(x)]).toEqual(['ok', '5\n']);
  expect(x.executionCount).toBe(3); // the lost cell counted in the runner
  expect(second.sessions.get(vanished.id)).toMatchObject({ state: 'stopped', error: expect.stringMatching(/container was gone when the bridge restarted/) });
  expect(await refusal(() => second.sessions.execute(vanished.id, { code: '1' }))).toMatchObject({ status: 409 });
  await expect(docker.getContainer(orphan.containerId).inspect()).rejects.toMatchObject({ statusCode: 404 });
  await second.sessions.stop(live.id);
});

test('an image without python3: the session is dead with why, its queued cell lost, and later executes are refused with the reason', async () => {
  const b = bridges[0] ?? (await bridge());
  await mkdir(path.join(b.root, 'nb'), { recursive: true });
  const { session: s } = await b.sessions.create({ image: BUSYBOX, notebookPath: 'nb/busybox.ipynb' });
  const early = b.sessions.execute(s.id, { code: 'print(1)' });
  const dead = await inState(b.sessions, s.id, 'dead');
  expect(dead.error).toMatch(/the image has no python3, which runs the cells.*use an image with python3/);
  expect(await b.sessions.execution(s.id, early.executionId, { wait: true })).toMatchObject({ state: 'lost', error: dead.error });
  const refused = await refusal(() => b.sessions.execute(s.id, { code: 'print(1)' }));
  expect(refused.status).toBe(409);
  expect(refused.message).toContain('the image has no python3');
});

test('a session that dies (out of memory) says why: its running and queued cells are lost with the reason, later executes refused', async () => {
  const b = bridges[0] ?? (await bridge());
  const s = await session(b, { ram: 256 });
  const { executionId } = b.sessions.execute(s.id, { code: "hog = b'x' * (600 * 1024 * 1024)" });
  const behind = b.sessions.execute(s.id, { code: 'print(1)' });
  const dead = await inState(b.sessions, s.id, 'dead');
  expect(dead.error).toBe('killed: out of memory (ram: 256 MB); start the session with more RAM');
  expect(await b.sessions.execution(s.id, executionId, { wait: true })).toMatchObject({ state: 'lost', error: dead.error });
  expect(await b.sessions.execution(s.id, behind.executionId, { wait: true })).toMatchObject({ state: 'lost', error: dead.error });
  const refused = await refusal(() => b.sessions.execute(s.id, { code: 'print(2)' }));
  expect([refused.status, refused.message]).toEqual([409, `the session is dead: ${dead.error}`]);
  await until('the ended container to go', async () => (await docker.listContainers({ all: true, filters: { label: [`${LABEL_SESSION}=${s.id}`] } })).length === 0);
});

test('GPUs: none on the engine is a 409 naming ask and inventory; by memory the GPU that fits is held until Docker refuses, said clearly', async () => {
  const b = bridges[0] ?? (await bridge());
  await mkdir(path.join(b.root, 'nb'), { recursive: true });
  const none = await refusal(b.sessions.create({ image: PYTHON, notebookPath: 'nb/gpu.ipynb', gpus: { count: 1 } }));
  expect([none.status, none.message]).toEqual([409, 'the session asks for 1 GPU, but nvidia-smi lists no GPUs on this machine']);
  const tooBig = await refusal(b.sessions.create({ image: PYTHON, notebookPath: 'nb/gpu.ipynb', gpus: { vramMin: 40000 }, engine: 'fake-gpu' }));
  expect(tooBig.status).toBe(409);
  expect(tooBig.message).toMatch(/^the session asks for a GPU with at least 40000 MB, but .*this machine has 2 GPUs: #0 Stand-in Small \(8192 MB\), #1 Stand-in Large \(24576 MB\)/);

  const { session: s } = await b.sessions.create({ image: PYTHON, notebookPath: 'nb/gpu.ipynb', gpus: { vramMin: 16000 }, engine: 'fake-gpu' });
  expect(s.gpus.map(g => g.index)).toEqual([1]);
  expect(b.runs.gpus('fake-gpu').holder(1)).toBe(s.id); // no run gets it meanwhile
  expect(b.runs.gpus('fake-gpu').holder(0)).toBeUndefined();
  const dead = await inState(b.sessions, s.id, 'dead');
  expect(dead.error).toMatch(/the session asks for GPUs? .*but this Docker engine cannot give containers NVIDIA GPUs: install the NVIDIA Container Toolkit.*Docker said: .*nvidia/);
  expect(b.runs.gpus('fake-gpu').holder(1)).toBeUndefined(); // released
});

test('refused before anything starts: an image outside the allowlist, an engine without sessions, a folder outside the roots; a bound folder that is not the checked one', async () => {
  const b = bridges[0] ?? (await bridge());
  const strict = new RunManager(b.store, b.engines, { parallel: 1, allowedRoots: [b.root], baseDir: b.root, version: 'test', imageAllowlist: ['redlab/busybox:*'] }, log);
  const guardedStore = RunStore.open(await tempDir('redlab-it-sm-data-'));
  const guarded = new SessionManager(guardedStore, b.engines, strict, { allowedRoots: [b.root], baseDir: b.root, imageAllowlist: ['redlab/busybox:*'] }, log);
  expect(await refusal(guarded.create({ image: PYTHON, notebookPath: 'a.ipynb' }))).toMatchObject({
    status: 403,
    message: `image: ${PYTHON} is not in this bridge's image allowlist (redlab/busybox:*)`
  });
  await guarded.close();
  guardedStore.close();
  expect(await refusal(b.sessions.create({ image: PYTHON, notebookPath: 'a.ipynb', engine: 'podman' }))).toMatchObject({
    status: 422,
    message: 'engine: there is no engine "podman" in this bridge; engines that run sessions: "docker", "fake-gpu"'
  });

  expect(await refusal(b.sessions.create({ image: PYTHON, notebookPath: '../outside.ipynb' }))).toMatchObject({ status: 403, message: expect.stringMatching(/^notebookPath: /) });
  expect(await refusal(b.sessions.create({ image: PYTHON, notebookPath: '/etc/x.ipynb' }))).toMatchObject({ status: 403 });
  const elsewhere = await tempDir('redlab-it-sm-elsewhere-');
  await symlink(elsewhere, path.join(b.root, 'link'));
  const viaLink = await refusal(b.sessions.create({ image: PYTHON, notebookPath: 'link/x.ipynb' }));
  expect(viaLink).toMatchObject({ status: 403, message: expect.stringContaining(`resolves to ${elsewhere}, outside the folders sessions may use`) });

  // The check in the container: the folder Docker bound must be the one the descriptor held.
  const other = await stat(elsewhere);
  const sessionId = `swap-${randomUUID()}`;
  const swapped = DockerSession.start(docker, { sessionId, image: PYTHON, workDir: b.root, ramMb: 256, workDirIdentity: { dev: other.dev, ino: other.ino } }, { onMessage: () => undefined });
  await expect(swapped).rejects.toThrow(/the notebook folder .* changed while the session started/);
  expect(await docker.listContainers({ all: true, filters: { label: [`${LABEL_SESSION}=${sessionId}`] } })).toEqual([]);
});

test('an idle session is stopped after the timeout, with why and what to do', async () => {
  const b = await bridge({ idleTimeoutMs: 1500 });
  const s = await session(b);
  await run(b.sessions, s.id, 'x = 1');
  const stopped = await inState(b.sessions, s.id, 'stopped');
  expect(stopped.error).toBe('stopped after 2 seconds idle; run a cell to start a new one');
  expect(Date.parse(stopped.lastActivityAt)).toBeGreaterThan(Date.parse(s.createdAt));
  await until('the container to go', async () => (await docker.listContainers({ all: true, filters: { label: [`${LABEL_SESSION}=${s.id}`] } })).length === 0);
});

test("the container runs as the engine's user (the Jupyter user), so files it writes in the notebook folder are theirs", async () => {
  const b = await bridge({ user: '4321:4321' });
  await mkdir(path.join(b.root, 'nb'), { recursive: true });
  await chown(path.join(b.root, 'nb'), 4321, 4321);
  const s = await session(b);
  const r = await run(b.sessions, s.id, "import os\nopen('made-here.txt', 'w').write('x')\nprint(os.getuid(), os.getgid())");
  expect(stdout(r)).toBe('4321 4321\n');
  const made = await stat(path.join(b.root, 'nb', 'made-here.txt'));
  expect([made.uid, made.gid]).toEqual([4321, 4321]);
  await b.sessions.stop(s.id);
});

test("a bridge running as root runs a session as the notebook folder's owner (never root in someone's folder, no root-owned files planted there)", async () => {
  const b = await bridge();
  await mkdir(path.join(b.root, 'nb'), { recursive: true });
  await chown(path.join(b.root, 'nb'), 4322, 4323);
  const s = await session(b);
  const r = await run(b.sessions, s.id, "import os\nopen('owned.txt', 'w').write('x')\nprint(os.getuid(), os.getgid())");
  // As root: the folder's owner. Otherwise the engine's default, this process's own user.
  const expected = process.getuid?.() === 0 ? [4322, 4323] : [process.getuid!(), process.getgid!()];
  expect(stdout(r)).toBe(`${expected[0]} ${expected[1]}\n`);
  const made = await stat(path.join(b.root, 'nb', 'owned.txt'));
  expect([made.uid, made.gid]).toEqual(expected);
  await b.sessions.stop(s.id);
});
