// RunStream with a fake socket and a fake bridge client: the record read at start may
// answer "final" before the socket replays the run's events; the stream still takes every
// event up to the run's final state (logs included), without retries. The result event's
// result spares the record read after the final state (read once when the event lacks it).
// A socket closed after the final state with every event in ends the stream; one dropped
// mid-run is opened again after the last event.
import type { BridgeClient } from '../../handler';
import type { RunRecord, StoredEvent } from '../../red';
import { initialRunState } from '../reducer';
import { RunStream } from '../run-stream';
import { FakeSocket } from './fake-socket';

const RUN = '01RUNSTREAMTEST00000000000';
const at = '2026-11-30T19:00:00.000Z';
const ev = (seq: number, event: StoredEvent['event']): StoredEvent => ({ runId: RUN, seq, at, event });
const events: StoredEvent[] = [
  ev(1, { type: 'state', state: 'queued' }),
  ev(2, { type: 'state', state: 'preparing' }),
  ev(3, { type: 'state', state: 'running' }),
  ev(4, { type: 'log', batch: 0, stream: 'stdout', offset: 0, length: 22, data: 'hello from the bridge\n' }),
  ev(5, { type: 'state', state: 'collecting' }),
  ev(6, { type: 'result', state: 'succeeded' }),
  ev(7, { type: 'state', state: 'succeeded' })
];
const record = {
  id: RUN,
  createdAt: at,
  updatedAt: at,
  finishedAt: at,
  state: 'succeeded',
  options: {},
  batchCount: 1,
  lastSeq: 7,
  red: {},
  result: { state: 'succeeded', image: { url: 'redlab/busybox:1', pulled: false }, exitCode: 0, batches: [], timings: {} },
  batches: [],
  history: [],
  dir: '/x'
} as unknown as RunRecord;

/** The record while the run is on its way (what the read at start finds). */
const runningRecord = { ...record, state: 'running', finishedAt: undefined, result: undefined, lastSeq: 3 } as unknown as RunRecord;

/** A run stream whose record reads answer `answers` in turn (the last repeats). */
function stream(reads: string[], since = 0, answers: RunRecord[] = [record]) {
  const client = {
    request: async (endpoint: string) => {
      const answer = answers[Math.min(reads.length, answers.length - 1)];
      reads.push(endpoint);
      return answer;
    },
    wsUrl: (endpoint: string) => `ws://bridge/${endpoint}`
  } as unknown as BridgeClient;
  return new RunStream({
    client,
    initial: initialRunState(RUN, since),
    reducerOptions: () => ({ logLineLimit: 100 }),
    previewTypes: () => [],
    socket: FakeSocket.factory
  });
}

beforeEach(() => {
  FakeSocket.all = [];
});

test('a record that is final before the replay: the stream still takes the logs, and ends at the final state event', async () => {
  const reads: string[] = [];
  const s = stream(reads);
  let finished = 0;
  s.finished.connect(() => finished++);
  s.start();
  // The record read at start answers first (the run is long over).
  await new Promise(r => setTimeout(r, 0));
  expect(s.state.state).toBe('succeeded');
  const socket = FakeSocket.all[0];
  expect(socket.url).toBe(`ws://bridge/runs/${RUN}/events?since=0`);
  socket.open();
  socket.receive(...events.slice(0, 3));
  expect(finished).toBe(0);
  socket.receive(...events.slice(3));
  await new Promise(r => setTimeout(r, 0));
  expect(s.state.logs.segments.map(g => g.text).join('')).toBe('hello from the bridge\n');
  expect(s.state.since).toBe(7);
  expect(finished).toBe(1);
  // The record read at start was final already: not read again, and no retries.
  expect(reads).toEqual([`runs/${RUN}`]);
  s.dispose();
});

test('a cell that has every event (since = lastSeq) but not the final state: the socket closes, the record ends the stream, no reconnect loop', async () => {
  const reads: string[] = [];
  const s = stream(reads, 7);
  let finished = 0;
  s.finished.connect(() => finished++);
  s.start();
  const socket = FakeSocket.all[0];
  expect(socket.url).toBe(`ws://bridge/runs/${RUN}/events?since=7`);
  socket.open();
  // The bridge replays nothing after 7 and closes: the run is over.
  socket.onclose?.({});
  await new Promise(r => setTimeout(r, 20));
  expect(finished).toBe(1);
  expect(s.state.state).toBe('succeeded');
  expect(FakeSocket.all).toHaveLength(1);
  s.dispose();
});

test('a socket dropped mid-run: the stream says it reconnects, opens again after the last event it has (no gap, no duplicate), and ends at the final state', async () => {
  const reads: string[] = [];
  const s = stream(reads);
  let finished = 0;
  s.finished.connect(() => finished++);
  s.start();
  FakeSocket.all[0].open();
  FakeSocket.all[0].receive(...events.slice(0, 4));
  FakeSocket.all[0].drop();
  // The record says the run has events after 4: reconnect at once, after seq 4.
  await new Promise(r => setTimeout(r, 0));
  expect(s.state.connection).toBe('retrying');
  expect(s.state.connectionMessage).toBe('the event stream closed; reconnecting');
  await new Promise(r => setTimeout(r, 5));
  expect(FakeSocket.all.map(x => x.url)).toEqual([`ws://bridge/runs/${RUN}/events?since=0`, `ws://bridge/runs/${RUN}/events?since=4`]);
  FakeSocket.all[1].open();
  expect(s.state.connection).toBe('live');
  // Replayed twice by a bridge would change nothing; the log line stays one.
  FakeSocket.all[1].receive(...events.slice(3));
  await new Promise(r => setTimeout(r, 0));
  expect(s.state.logs.segments.map(g => g.text).join('')).toBe('hello from the bridge\n');
  expect(finished).toBe(1);
  expect(FakeSocket.all[1].closedWith).toBe(1000);
  s.dispose();
});

test('the result event brings the result: after the final state no record is read; a result event without it falls back to one read', async () => {
  const withResult = events.map(e => (e.event.type === 'result' ? { ...e, event: { ...e.event, result: record.result } } : e));
  for (const [sent, expectedReads] of [
    [withResult, 1],
    [events, 2]
  ] as const) {
    FakeSocket.all = [];
    const reads: string[] = [];
    const s = stream(reads, 0, [runningRecord, record]);
    let finished = 0;
    s.finished.connect(() => finished++);
    s.start();
    await new Promise(r => setTimeout(r, 0));
    expect(s.state.state).toBe('queued');
    FakeSocket.all[0].open();
    FakeSocket.all[0].receive(...sent);
    await new Promise(r => setTimeout(r, 0));
    expect(finished).toBe(1);
    // The start read, and only without the result the read after the final state.
    expect(reads).toEqual(Array(expectedReads).fill(`runs/${RUN}`));
    expect(s.state).toMatchObject({ state: 'succeeded', recordLoaded: true, connection: 'closed', final: { state: 'succeeded', exitCode: 0 } });
    s.dispose();
  }
});
