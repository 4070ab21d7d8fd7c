// RunsModel with a fake socket and a fake list (the bridge boundary): the list on open and
// after each reconnect, changes applied at once (status counts and history), states never
// taken back, reconnects with backoff, the health poll lists only while the stream is down.
import { BridgeApi } from '../api';
import type { BridgeClient } from '../handler';
import { RedLabModel } from '../model';
import type { RunPage, RunSummary, RunState } from '../red';
import { RunsModel } from '../runs-model';
import { FakeSocket } from '../streaming/__tests__/fake-socket';

/** The runs stream's socket, with its two kinds of message. */
class RunsSocket extends FakeSocket {
  send(run: RunSummary): void {
    this.receive({ type: 'run', run });
  }
  deleted(id: string): void {
    this.receive({ type: 'run-deleted', id });
  }
}
const sockets = () => FakeSocket.all as RunsSocket[];
const runsSocket = (url: string) => new RunsSocket(url) as unknown as WebSocket;

const summary = (id: string, state: RunState, lastSeq: number, notebookPath = 'nb.ipynb'): RunSummary => ({
  id,
  state,
  createdAt: '2026-11-30T19:00:00.000Z',
  updatedAt: '2026-11-30T19:00:00.000Z',
  options: { notebookPath },
  batchCount: 1,
  lastSeq
});

/** A bridge boundary: `pages` answer GET runs in turn (the last repeats); health says connected. */
function fakeBridge(pages: RunSummary[][]) {
  const requests: string[] = [];
  let n = 0;
  const pending: (() => void)[] = [];
  let hold = false;
  const client = {
    request: async (endpoint: string) => {
      requests.push(endpoint);
      if (endpoint.startsWith('runs')) {
        const page: RunPage = { runs: pages[Math.min(n++, pages.length - 1)] };
        if (hold) await new Promise<void>(r => pending.push(r));
        return page;
      }
      if (endpoint === 'health') return { status: 'ok', version: '1', docker: { reachable: true }, gpus: [], engines: [{ name: 'docker', available: true, capabilities: {} }], defaultEngine: 'docker', runs: { queued: 0, running: 0, parallel: 1 } };
      throw new Error(`unexpected ${endpoint}`);
    },
    wsUrl: (endpoint: string) => `ws://bridge/${endpoint}`
  } as unknown as BridgeClient;
  return {
    client,
    requests,
    lists: () => requests.filter(r => r.startsWith('runs')).length,
    holdLists: () => (hold = true),
    release: () => {
      hold = false;
      pending.splice(0).forEach(r => r());
    }
  };
}

const flush = () => new Promise(r => setTimeout(r, 0));
const wait = (ms: number) => new Promise(r => setTimeout(r, ms));

beforeEach(() => {
  FakeSocket.all = [];
});

function model(bridge: ReturnType<typeof fakeBridge>, retryMs = [5, 20]) {
  return new RunsModel({ api: new BridgeApi(bridge.client), socket: runsSocket, retryMs });
}

test('opens runs/events, lists once when open, then follows every change without listing again', async () => {
  const bridge = fakeBridge([[summary('R2', 'running', 5), summary('R1', 'succeeded', 9)]]);
  const m = model(bridge);
  const seen: (readonly RunSummary[])[] = [];
  m.runsChanged.connect((_, runs) => seen.push(runs));
  m.start();
  expect(FakeSocket.all.map(s => s.url)).toEqual(['ws://bridge/runs/events']);
  expect(bridge.lists()).toBe(0);
  sockets()[0].open();
  await flush();
  expect(m.live).toBe(true);
  expect(bridge.lists()).toBe(1);
  expect(m.runs.map(r => r.id)).toEqual(['R2', 'R1']);
  expect(m.counts).toEqual({ queued: 0, running: 1 });

  // A new run and a state change arrive as messages: applied at once, newest first, no list.
  sockets()[0].send(summary('R3', 'queued', 1));
  expect(m.runs.map(r => [r.id, r.state])).toEqual([['R3', 'queued'], ['R2', 'running'], ['R1', 'succeeded']]);
  expect(m.counts).toEqual({ queued: 1, running: 1 });
  sockets()[0].send(summary('R2', 'succeeded', 8));
  expect(m.runs.find(r => r.id === 'R2')!.state).toBe('succeeded');
  expect(m.counts).toEqual({ queued: 1, running: 0 });
  expect(bridge.lists()).toBe(1);
  expect(seen.length).toBe(3);

  // An older summary (lower lastSeq) changes nothing; junk is ignored.
  sockets()[0].send(summary('R2', 'running', 6));
  sockets()[0].onmessage?.({ data: 'not json' });
  sockets()[0].onmessage?.({ data: '{"type":"other"}' });
  expect(m.runs.find(r => r.id === 'R2')!.state).toBe('succeeded');
  expect(seen.length).toBe(3);
  m.dispose();
  expect(sockets()[0].closedWith).toBe(1000);
});

test('a dropped stream reconnects with backoff and lists again on each open; what the list missed in between comes back', async () => {
  const bridge = fakeBridge([[summary('R1', 'running', 3)], [summary('R2', 'queued', 1), summary('R1', 'failed', 7)]]);
  const m = model(bridge, [5, 40]);
  m.start();
  sockets()[0].open();
  await flush();
  expect(m.runs.map(r => r.state)).toEqual(['running']);

  sockets()[0].drop();
  expect(m.live).toBe(false);
  // Backoff: the first retry after 5 ms; it fails too, the next waits 40 ms.
  await wait(15);
  expect(FakeSocket.all).toHaveLength(2);
  sockets()[1].drop();
  await wait(15);
  expect(FakeSocket.all).toHaveLength(2);
  await wait(45);
  expect(FakeSocket.all).toHaveLength(3);
  sockets()[2].open();
  await flush();
  expect(m.live).toBe(true);
  expect(bridge.lists()).toBe(2);
  expect(m.runs.map(r => [r.id, r.state])).toEqual([['R2', 'queued'], ['R1', 'failed']]);
  // A good connection resets the backoff.
  sockets()[2].drop();
  await wait(15);
  expect(FakeSocket.all).toHaveLength(4);
  m.dispose();
});

test('a list that answers after a change does not take the change back, nor lose a run it did not have', async () => {
  const bridge = fakeBridge([[summary('R1', 'queued', 1)]]);
  const m = model(bridge);
  m.start();
  bridge.holdLists();
  sockets()[0].open();
  // While the list is on its way: R1 runs, R2 is created.
  sockets()[0].send(summary('R1', 'running', 3));
  sockets()[0].send(summary('R2', 'queued', 1));
  bridge.release();
  await flush();
  expect(m.runs.map(r => [r.id, r.state])).toEqual([['R2', 'queued'], ['R1', 'running']]);
  m.dispose();
});

test('a run the bridge deleted leaves the list at once (signal, counts); a list asked for before, a late summary or a cell\'s state bring none back', async () => {
  const bridge = fakeBridge([[summary('R3', 'queued', 1), summary('R2', 'succeeded', 9), summary('R1', 'failed', 4)]]);
  const m = model(bridge);
  const seen: string[][] = [];
  m.runsChanged.connect((_, runs) => seen.push(runs.map(r => r.id)));
  m.start();
  sockets()[0].open();
  await flush();
  expect(seen).toEqual([['R3', 'R2', 'R1']]);

  sockets()[0].deleted('R2');
  expect(seen.at(-1)).toEqual(['R3', 'R1']);
  expect(m.runs.map(r => r.id)).toEqual(['R3', 'R1']);
  // A queued run (the bridge cancels it first, then deletes it): the status bar's count drops.
  expect(m.counts).toEqual({ queued: 1, running: 0 });
  sockets()[0].send(summary('R3', 'cancelled', 2));
  sockets()[0].deleted('R3');
  expect(m.runs.map(r => r.id)).toEqual(['R1']);
  expect(m.counts).toEqual({ queued: 0, running: 0 });

  // A list asked for before the deletion (it still has R1) answers after it.
  bridge.holdLists();
  const listing = m.refresh();
  sockets()[0].deleted('R1');
  bridge.release();
  await listing;
  expect(m.runs).toEqual([]);
  // A summary sent before the deletion but handled after, and a run cell's late state: nothing.
  sockets()[0].send(summary('R1', 'failed', 5));
  m.noteRunState('R2', 'succeeded');
  expect(m.runs).toEqual([]);
  // Unknown ids and malformed deletions change nothing.
  const signals = seen.length;
  sockets()[0].deleted('R0');
  sockets()[0].onmessage?.({ data: '{"type":"run-deleted"}' });
  expect(seen.length).toBe(signals);
  m.dispose();
});

test('a run cell\'s state moves the list at once; the stream later fills in the rest of the run', async () => {
  const bridge = fakeBridge([[]]);
  const m = model(bridge);
  m.start();
  sockets()[0].open();
  await flush();
  m.noteRunState('R9', 'running');
  expect(m.runs.map(r => [r.id, r.state])).toEqual([['R9', 'running']]);
  expect(m.counts.running).toBe(1);
  // The stream is live: no list for the unknown run.
  expect(bridge.lists()).toBe(1);
  // The bridge's summary of an earlier state keeps the further state, and brings the notebook.
  sockets()[0].send(summary('R9', 'preparing', 2, 'x.ipynb'));
  expect(m.runs[0]).toMatchObject({ id: 'R9', state: 'running', options: { notebookPath: 'x.ipynb' } });
  m.dispose();
});

test('RedLabModel: the health poll lists runs only while the runs stream is down; its runsChanged follows the RunsModel', async () => {
  const bridge = fakeBridge([[summary('R1', 'running', 2)]]);
  const m = new RedLabModel(bridge.client, { socket: runsSocket, retryMs: [10_000] });
  const emitted: number[] = [];
  m.runsChanged.connect((_, runs) => emitted.push(runs.length));
  await m.refresh();
  expect(m.status.kind).toBe('connected');
  // Not started: no stream, so refresh lists.
  expect(bridge.lists()).toBe(1);
  m.start(60_000);
  await flush();
  const socket = sockets().at(-1)!;
  socket.open();
  await flush();
  const listed = bridge.lists();
  await m.refresh();
  expect(bridge.lists()).toBe(listed);
  socket.send(summary('R2', 'queued', 1));
  expect(m.runs.map(r => r.id)).toEqual(['R2', 'R1']);
  expect(m.counts).toEqual({ queued: 1, running: 1 });
  expect(emitted.at(-1)).toBe(2);
  socket.drop();
  await m.refresh();
  expect(bridge.lists()).toBe(listed + 1);
  m.dispose();
});

test('RedLabModel status: connected when any engine can run (the process engine without Docker), else why each cannot', async () => {
  const engine = (name: string, available: boolean, error?: string) => ({ name, available, ...(error ? { error } : {}), capabilities: {} });
  let engines = [engine('docker', false, 'cannot reach /var/run/docker.sock'), engine('process', true)];
  const client = {
    request: async (endpoint: string) => {
      if (endpoint !== 'health') return { runs: [] };
      return { status: 'degraded', version: '1', docker: { reachable: false, error: 'cannot reach /var/run/docker.sock' }, gpus: [], engines, defaultEngine: 'process', runs: { queued: 0, running: 0, parallel: 1 } };
    },
    wsUrl: (e: string) => e
  } as unknown as BridgeClient;
  const m = new RedLabModel(client);
  expect((await m.refreshHealth()).kind).toBe('connected');
  engines = [engine('docker', false, 'cannot reach /var/run/docker.sock'), engine('process', false, 'turned off: --engines docker')];
  const s = await m.refreshHealth();
  expect(s).toMatchObject({ kind: 'no-engine', message: 'no engine of the bridge can run now (docker: cannot reach /var/run/docker.sock; process: turned off: --engines docker)' });
  m.dispose();
});
