// The SessionManager's ordering rules with the engine faked at its seam (EngineSessions),
// where a real container cannot make a race happen on purpose: cells go to the runner one
// at a time in order; an interrupt that comes before the runner said busy is sent once it
// does (SIGINT to an idle runner is ignored); a session stopped while it starts removes
// the container it then gets; and the records and events follow (real SQLite store).
import { mkdir } from 'fs/promises';
import * as path from 'path';
import pino from 'pino';
import { DockerEngine } from '../../src/engine/docker';
import { EngineRegistry } from '../../src/engine/registry';
import type { EngineSession, EngineSessions } from '../../src/engine/types';
import type { SessionListeners, SessionMessage, SessionSpec } from '../../src/engine/docker-session';
import { GpuPool } from '../../src/bridge/gpu-pool';
import { SessionManager } from '../../src/bridge/session-manager';
import { RunStore } from '../../src/store';
import { removeTempDirs, tempDir } from '../helpers/red';

afterAll(removeTempDirs);

/** A session "container" that records what the manager asks and lets the test answer as the runner would. */
class FakeSession implements EngineSession {
  readonly containerId = `fake-${Math.random().toString(16).slice(2)}`;
  readonly sent: { id: string; code: string }[] = [];
  interrupts = 0;
  stopped = false;
  end = undefined;
  constructor(readonly listeners: SessionListeners) {}
  execute(id: string, code: string): void {
    this.sent.push({ id, code });
  }
  async interrupt(): Promise<void> {
    this.interrupts++;
  }
  async stop(): Promise<void> {
    this.stopped = true;
  }
  say(m: SessionMessage): void {
    this.listeners.onMessage(m);
  }
}

async function setUp() {
  const root = await tempDir('redlab-unit-sm-');
  await mkdir(path.join(root, 'nb'));
  const store = RunStore.open(await tempDir('redlab-unit-sm-data-'));
  const started: FakeSession[] = [];
  let release: (() => void) | undefined;
  const gate = { hold: false };
  const sessions: EngineSessions = {
    start: async (_spec: SessionSpec, listeners: SessionListeners) => {
      if (gate.hold) await new Promise<void>(r => (release = r));
      const s = new FakeSession(listeners);
      started.push(s);
      return s;
    },
    listLive: async () => [],
    reattach: async () => {
      throw new Error('not used');
    }
  };
  // A real engine's name and capabilities, its sessions replaced by the fake.
  const engine = Object.assign(new DockerEngine({ workRoot: path.join(root, 'work') }), { sessions });
  const pools = new Map<string, GpuPool>();
  const sm = new SessionManager(
    store,
    new EngineRegistry([engine]),
    { gpus: name => pools.get(name) ?? pools.set(name, new GpuPool([])).get(name)!, imageAllowed: async () => true },
    { allowedRoots: [root], baseDir: root, idleTimeoutMs: 0 },
    pino({ level: 'silent' })
  );
  const idle = async (id: string) => {
    while (sm.get(id)?.state !== 'idle') await new Promise(r => setTimeout(r, 5));
  };
  return { sm, store, started, gate, release: () => release?.(), idle };
}

test('cells go to the runner one at a time, in order; each waits for the done of the one before', async () => {
  const { sm, store, started } = await setUp();
  const { session } = await sm.create({ image: 'img', notebookPath: 'nb/a.ipynb' });
  const a = sm.execute(session.id, { code: 'a' }); // queued while starting
  while (!started[0]?.sent.length) await new Promise(r => setTimeout(r, 5));
  const fake = started[0];
  expect(sm.get(session.id)).toMatchObject({ state: 'busy', runningExecutionId: a.executionId });
  const b = sm.execute(session.id, { code: 'b' });
  expect(fake.sent.map(x => x.code)).toEqual(['a']);
  fake.say({ type: 'status', id: a.executionId, state: 'busy' });
  fake.say({ type: 'output', id: a.executionId, output: { output_type: 'stream', name: 'stdout', text: 'A' } });
  expect(fake.sent.map(x => x.code)).toEqual(['a']);
  fake.say({ type: 'done', id: a.executionId, status: 'ok', executionCount: 1 });
  expect(fake.sent.map(x => x.code)).toEqual(['a', 'b']);
  expect(sm.get(session.id)).toMatchObject({ state: 'busy', runningExecutionId: b.executionId });
  fake.say({ type: 'status', id: b.executionId, state: 'busy' });
  fake.say({ type: 'done', id: b.executionId, status: 'ok', executionCount: 2 });
  expect(sm.get(session.id)).toMatchObject({ state: 'idle', executionCount: 2 });
  expect(await sm.execution(session.id, a.executionId)).toMatchObject({ state: 'ok', executionCount: 1, outputs: [{ output_type: 'stream', name: 'stdout', text: 'A' }] });
  await sm.close();
  store.close();
});

test('as a kernel stops on error: cells queued behind one that raised or was interrupted are not run, and say why; later ones run', async () => {
  const { sm, store, started } = await setUp();
  const { session } = await sm.create({ image: 'img', notebookPath: 'nb/a.ipynb' });
  const a = sm.execute(session.id, { code: 'a' });
  while (!started[0]?.sent.length) await new Promise(r => setTimeout(r, 5));
  const fake = started[0];
  const b = sm.execute(session.id, { code: 'b' });
  const c = sm.execute(session.id, { code: 'c' });
  fake.say({ type: 'status', id: a.executionId, state: 'busy' });
  fake.say({ type: 'done', id: a.executionId, status: 'error', executionCount: 1 });
  expect(fake.sent.map(x => x.code)).toEqual(['a']);
  for (const x of [b, c]) {
    expect(await sm.execution(session.id, x.executionId)).toMatchObject({ state: 'aborted', error: 'not run: the cell before it (In [1]) raised an error' });
  }
  expect(sm.get(session.id)).toMatchObject({ state: 'idle', executionCount: 1 });
  // A cell sent after that runs; one queued behind an interrupted cell is not run either.
  const d = sm.execute(session.id, { code: 'd' });
  const e = sm.execute(session.id, { code: 'e' });
  expect(fake.sent.map(x => x.code)).toEqual(['a', 'd']);
  fake.say({ type: 'status', id: d.executionId, state: 'busy' });
  fake.say({ type: 'done', id: d.executionId, status: 'aborted', executionCount: 2 });
  expect(await sm.execution(session.id, e.executionId)).toMatchObject({ state: 'aborted', error: 'not run: the cell before it (In [2]) was interrupted' });
  const f = sm.execute(session.id, { code: 'f' });
  fake.say({ type: 'status', id: f.executionId, state: 'busy' });
  fake.say({ type: 'done', id: f.executionId, status: 'ok', executionCount: 3 });
  expect(fake.sent.map(x => x.code)).toEqual(['a', 'd', 'f']);
  expect(await sm.execution(session.id, f.executionId)).toMatchObject({ state: 'ok', executionCount: 3 });
  await sm.close();
  store.close();
});

test('an interrupt before the runner said busy is sent once it does; one while idle sends nothing', async () => {
  const { sm, store, started, idle } = await setUp();
  const { session } = await sm.create({ image: 'img', notebookPath: 'nb/b.ipynb' });
  await idle(session.id);
  const fake = started[0];
  await sm.interrupt(session.id);
  expect(fake.interrupts).toBe(0);
  const loop = sm.execute(session.id, { code: 'while True: pass' });
  await sm.interrupt(session.id);
  expect(fake.interrupts).toBe(0); // the runner may not have read it yet: a SIGINT now could be ignored
  fake.say({ type: 'status', id: loop.executionId, state: 'busy' });
  expect(fake.interrupts).toBe(1);
  await sm.interrupt(session.id); // now running: at once
  expect(fake.interrupts).toBe(2);
  fake.say({ type: 'done', id: loop.executionId, status: 'aborted', executionCount: 1 });
  expect((await sm.execution(session.id, loop.executionId))?.state).toBe('aborted');
  await sm.close();
  store.close();
});

test('a session stopped while it starts removes the container it then gets; its queued cell is lost', async () => {
  const { sm, store, started, gate, release } = await setUp();
  gate.hold = true;
  const { session } = await sm.create({ image: 'img', notebookPath: 'nb/c.ipynb' });
  const queued = sm.execute(session.id, { code: 'x' });
  expect((await sm.stop(session.id))?.state).toBe('stopped');
  expect(await sm.execution(session.id, queued.executionId)).toMatchObject({ state: 'lost', error: 'the session was stopped before it finished' });
  release();
  while (!started.length) await new Promise(r => setTimeout(r, 5));
  await new Promise(r => setTimeout(r, 20));
  expect([started[0].stopped, started[0].sent]).toEqual([true, []]);
  expect(sm.get(session.id)?.state).toBe('stopped');
  await sm.close();
  store.close();
});

test('a bridge that stops during a restart starts no new container and writes nothing more', async () => {
  const { sm, store, started, idle } = await setUp();
  const { session } = await sm.create({ image: 'img', notebookPath: 'nb/d.ipynb' });
  await idle(session.id);
  const restarting = sm.restart(session.id);
  await sm.close();
  await restarting;
  await new Promise(r => setTimeout(r, 50));
  expect(started.length).toBe(1);
  expect(started[0].stopped).toBe(true);
  store.close();
});
