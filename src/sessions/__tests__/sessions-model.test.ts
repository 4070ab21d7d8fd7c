// SessionsModel over a faked /sessions API and faked events sockets: sessions by notebook
// and profile, events routed to executions (also those before the POST answered), seq
// replay and gaps, a session's end, reconnects with since=, adoption after a reload.
import { BridgeError } from '../../handler';
import type { ExecutionState, NotebookOutput } from '../../red';
import { FakeSocket } from '../../streaming/__tests__/fake-socket';
import { SessionEndedError, SessionsModel, type ExecutionListener } from '../sessions-model';
import { FakeSessionApi, flush, sessionInfo } from './fake-session-api';

const REQ = { image: 'redlab/debian-python:12', notebookPath: 'nb/a.ipynb', profile: 'default' };

class Recorder implements ExecutionListener {
  events: string[] = [];
  id = '';
  started(id: string) {
    this.id = id;
    this.events.push(`started ${id}`);
  }
  output(o: NotebookOutput) {
    this.events.push(`output ${String(o.text ?? o.output_type)}`);
  }
  state(s: ExecutionState, d: { executionCount?: number; error?: string }) {
    this.events.push(`state ${s}${d.executionCount !== undefined ? ` ${d.executionCount}` : ''}${d.error ? ` ${d.error}` : ''}`);
  }
  resync() {
    this.events.push('resync');
  }
}

const out = (seq: number, executionId: string | null, text: string) => ({ seq, type: 'output', executionId, output: { output_type: 'stream', name: 'stdout', text } });
const exec = (seq: number, executionId: string, state: ExecutionState, executionCount?: number) => ({ seq, type: 'execution', executionId, state, executionCount });

let api: FakeSessionApi;
let model: SessionsModel;
beforeEach(() => {
  FakeSocket.all = [];
  api = new FakeSessionApi();
  model = new SessionsModel({ api: api.asApi(), socket: FakeSocket.factory, retryMs: [0] });
});
afterEach(() => model.dispose());

test('open: one POST per notebook and profile (also when asked twice at once), events from the seq it answered with', async () => {
  api.createAnswers = [sessionInfo({ lastSeq: 7 })];
  const [a, b] = await Promise.all([model.open(REQ), model.open(REQ)]);
  expect(a.id).toBe('S1');
  expect(b.id).toBe('S1');
  expect(await model.open(REQ)).toMatchObject({ id: 'S1' });
  expect(api.calls).toEqual(['create default redlab/debian-python:12']);
  expect(FakeSocket.all.map(s => s.url)).toEqual(['ws://bridge/api/v1/sessions/S1/events?since=7']);
  expect(model.forNotebook('nb/a.ipynb').map(s => s.profile)).toEqual(['default']);
  expect(model.find('nb/a.ipynb', 'gpu')).toBeUndefined();
});

test('events that arrive before the execute POST answers reach the execution, in order, after it starts', async () => {
  await model.open(REQ);
  const sock = FakeSocket.all[0];
  sock.open();
  // The bridge runs the cell at once: its events overtake the POST's answer.
  let release!: () => void;
  const gate = new Promise<void>(r => (release = r));
  const realExecute = api.execute.bind(api);
  api.execute = async (...a) => {
    await gate;
    return realExecute(...a);
  };
  const r = new Recorder();
  const p = model.execute('S1', 'print(1)', 'c1', r);
  sock.receive(exec(1, 'E1', 'running'), out(2, 'E1', 'a'));
  release();
  await p;
  sock.receive(out(3, 'E1', 'b'), exec(4, 'E1', 'ok', 1), out(5, 'E1', 'late'));
  expect(r.events).toEqual(['started E1', 'state running', 'output a', 'output b', 'state ok 1']);
});

test('replayed events (seq already seen) are dropped; a gap in seq makes the waiting executions read their records', async () => {
  await model.open(REQ);
  const sock = FakeSocket.all[0];
  sock.open();
  const r = new Recorder();
  await model.execute('S1', 'x', 'c1', r);
  sock.receive(out(1, 'E1', 'a'), out(1, 'E1', 'a'), out(2, 'E1', 'b'), out(5, 'E1', 'after a gap'));
  expect(r.events).toEqual(['started E1', 'output a', 'output b', 'resync', 'output after a gap']);
});

test('a dropped socket reconnects with since= the last seq seen', async () => {
  await model.open(REQ);
  FakeSocket.all[0].open();
  FakeSocket.all[0].receive(out(1, null, 'x'), out(2, null, 'y'));
  expect(model.isConnected('S1')).toBe(true);
  FakeSocket.all[0].drop();
  expect(model.isConnected('S1')).toBe(false);
  await new Promise(r => setTimeout(r, 5));
  expect(FakeSocket.all.map(s => s.url)).toEqual(['ws://bridge/api/v1/sessions/S1/events?since=0', 'ws://bridge/api/v1/sessions/S1/events?since=2']);
});

test('a session that dies: waiting executions are lost with its reason, the next execute says why, a new open starts anew', async () => {
  await model.open(REQ);
  const sock = FakeSocket.all[0];
  sock.open();
  const r = new Recorder();
  await model.execute('S1', 'x', 'c1', r);
  sock.receive({ seq: 1, type: 'session', session: sessionInfo({ state: 'dead', error: 'out of memory (OOM): raise the profile RAM', lastSeq: 1 }) });
  expect(r.events).toEqual(['started E1', 'state lost out of memory (OOM): raise the profile RAM']);
  expect(sock.closedWith).toBe(1000);
  await expect(model.execute('S1', 'y', 'c2', new Recorder())).rejects.toThrow(SessionEndedError);
  await expect(model.execute('S1', 'y', 'c2', new Recorder())).rejects.toThrow(/died: out of memory/);
  api.createAnswers = [sessionInfo({ id: 'S2', state: 'idle' })];
  expect((await model.open(REQ)).id).toBe('S2');
  expect(model.get('S1')).toBeUndefined();
});

test('a live session of another image is stopped before the profile’s image starts', async () => {
  await model.open(REQ);
  api.createAnswers = [sessionInfo({ id: 'S2', image: 'redlab/debian-scipy:12' })];
  const s = await model.open({ ...REQ, image: 'redlab/debian-scipy:12' });
  expect(s.id).toBe('S2');
  expect(api.calls).toEqual(['create default redlab/debian-python:12', 'stop S1', 'create default redlab/debian-scipy:12']);
  expect(model.forNotebook('nb/a.ipynb').map(x => x.id)).toEqual(['S2']);
});

test('output of no execution (a thread after its cell) goes to the last execution’s cell', async () => {
  await model.open(REQ);
  const sock = FakeSocket.all[0];
  sock.open();
  const r = new Recorder();
  await model.execute('S1', 'x', 'c1', r);
  sock.receive(exec(1, 'E1', 'ok', 1), out(2, null, 'from a thread'));
  expect(r.events).toEqual(['started E1', 'state ok 1', 'output from a thread']);
});

test('execute 404 (the bridge lost the session) drops it from the model', async () => {
  await model.open(REQ);
  api.executeAnswers = [new BridgeError(404, 'no session S1')];
  await expect(model.execute('S1', 'x', 'c1', new Recorder())).rejects.toThrow('no session S1');
  expect(model.get('S1')).toBeUndefined();
});

test('refresh adopts the bridge’s live sessions and marks those it no longer has as stopped', async () => {
  await model.open(REQ);
  const r = new Recorder();
  await model.execute('S1', 'x', 'c1', r);
  api.listAnswer = [sessionInfo({ id: 'S9', profile: 'gpu', state: 'idle', lastSeq: 4 }), sessionInfo({ id: 'S8', state: 'stopped' })];
  await model.refresh();
  expect(model.get('S9')?.state).toBe('idle');
  expect(model.get('S8')).toBeUndefined();
  expect(model.get('S1')).toMatchObject({ state: 'stopped' });
  expect(r.events).toEqual(['started E1', 'state lost the session was stopped']);
  expect(FakeSocket.all.map(s => s.url)).toContain('ws://bridge/api/v1/sessions/S9/events?since=4');
});

test('a reconnect to a bridge that numbers anew follows its numbering and resyncs', async () => {
  await model.open(REQ);
  FakeSocket.all[0].open();
  const r = new Recorder();
  await model.execute('S1', 'x', 'c1', r);
  FakeSocket.all[0].receive(out(1, 'E1', 'a'), out(2, 'E1', 'b'), out(3, 'E1', 'c'));
  api.getAnswer = id => sessionInfo({ id, state: 'busy', lastSeq: 1 });
  FakeSocket.all[0].drop();
  await new Promise(res => setTimeout(res, 5));
  FakeSocket.all[1].open();
  await flush();
  expect(r.events).toEqual(['started E1', 'output a', 'output b', 'output c', 'resync']);
  expect(FakeSocket.all[FakeSocket.all.length - 1].url).toBe('ws://bridge/api/v1/sessions/S1/events?since=1');
  expect(model.get('S1')?.state).toBe('busy');
});

test('interrupt, restart and stop go to the bridge; a stopped session leaves the model', async () => {
  await model.open(REQ);
  await model.interrupt('S1');
  await model.restart('S1');
  expect(model.get('S1')?.state).toBe('starting');
  await model.stop('S1');
  expect(api.calls.slice(1)).toEqual(['interrupt S1', 'restart S1', 'stop S1']);
  expect(model.get('S1')).toBeUndefined();
});

test('a REST answer older than the events seen (interrupt’s busy after the idle event) does not take the state back', async () => {
  await model.open(REQ);
  const sock = FakeSocket.all[0];
  sock.open();
  let answer!: (info: ReturnType<typeof sessionInfo>) => void;
  api.interrupt = id => {
    api.calls.push(`interrupt ${id}`);
    return new Promise(resolve => (answer = resolve));
  };
  sock.receive({ seq: 1, type: 'session', session: sessionInfo({ state: 'busy', lastSeq: 1 }) });
  const interrupted = model.interrupt('S1');
  sock.receive({ seq: 2, type: 'execution', executionId: 'E1', state: 'aborted' }, { seq: 3, type: 'session', session: sessionInfo({ state: 'idle', lastSeq: 3 }) });
  answer(sessionInfo({ state: 'busy', lastSeq: 1 }));
  await interrupted;
  expect(model.get('S1')?.state).toBe('idle');
  // One newer than the events (the bridge answered with what the socket has not brought yet) is taken.
  api.restart = async () => sessionInfo({ state: 'starting', lastSeq: 4 });
  await model.restart('S1');
  expect(model.get('S1')?.state).toBe('starting');
});

test('a session opened while a list is on its way is not taken for gone when the list lacks it', async () => {
  let answer!: (l: ReturnType<typeof sessionInfo>[]) => void;
  api.list = () => new Promise(resolve => (answer = resolve));
  const refreshed = model.refresh();
  await model.open(REQ);
  answer([]);
  await refreshed;
  expect(model.get('S1')?.state).toBe('starting');
});
