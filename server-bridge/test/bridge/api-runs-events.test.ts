// WebSocket /api/v1/runs/events with the real store and the `ws` client: every run's
// summary as it changes (created, state, result), nothing for batch states or logs,
// a run deleted over the API, several clients at once, refusals (token, Origin, query,
// too many), and the close when the bridge stops.
import { ORIGIN, TOKEN, advance, call, createStoredRun, openWs, startHarness, wsRefusal, type Harness } from './helpers/api';
import type { RunChangedMessage, RunsStreamMessage } from '../../src/store/types';
import type { RunResult } from '../../../src/red/run';

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ events: { pingIntervalMs: 200, maxClients: 4 } });
});
afterAll(async () => {
  await h.close();
});

const runsUrl = (q = `?token=${TOKEN}`) => `${h.wsUrl}/api/v1/runs/events${q}`;
const changes = (ms: unknown[]) => ms as unknown as RunChangedMessage[];

test('a run created, moved through its states and given a result: one summary per change, logs and batch states not sent', async () => {
  const c = await openWs(runsUrl());
  const id = createStoredRun(h.store);
  await c.waitFor(1);
  expect(changes(c.messages)[0]).toEqual({ type: 'run', run: h.store.getSummary(id) ?? expect.anything() });
  expect(changes(c.messages)[0].run).toMatchObject({ id, state: 'queued' });

  advance(h.store, id, 'running');
  h.store.setBatch(id, 0, { state: 'running' });
  h.store.appendLog(id, 0, 'stdout', 'a log line\n');
  await c.waitFor(3);
  advance(h.store, id, 'collecting');
  h.store.setResult(id, { state: 'succeeded', image: { url: 'redlab/busybox:1', pulled: false }, batches: [], timings: {} as RunResult['timings'] });
  advance(h.store, id, 'succeeded');
  await c.waitFor(6);
  // Give a stray batch/log message the time to arrive, if one were sent.
  await new Promise(r => setTimeout(r, 100));
  const ms = changes(c.messages);
  expect(ms.map(m => m.run.state)).toEqual(['queued', 'preparing', 'running', 'collecting', 'collecting', 'succeeded']);
  expect(ms.every(m => m.type === 'run' && m.run.id === id)).toBe(true);
  // Each summary is the store's as of that change (lastSeq grows; the final one has finishedAt).
  const last = ms.at(-1)!.run;
  expect(last).toEqual(h.store.getSummary(id));
  expect(last.finishedAt).toEqual(expect.any(String));
  expect(ms.map(m => m.run.lastSeq)).toEqual([...ms.map(m => m.run.lastSeq)].sort((a, b) => a - b));
  c.ws.close();
  await c.closed;
});

test('a run deleted with DELETE /runs/{id}?purge=true is announced to every client; a delete that keeps or cancels the run is not a deletion', async () => {
  const a = await openWs(runsUrl());
  const b = await openWs(runsUrl());
  const done = createStoredRun(h.store);
  const live = createStoredRun(h.store);
  advance(h.store, done, 'succeeded');
  advance(h.store, live, 'running');
  const before = (await Promise.all([a.waitFor(7), b.waitFor(7)]), a.messages.length);
  // Kept (no purge): not deleted, nothing sent. A run on its way is cancelled, not deleted.
  expect((await call(h.url, 'DELETE', `/api/v1/runs/${done}`)).status).toBe(200);
  expect((await call(h.url, 'DELETE', `/api/v1/runs/${live}?purge=true`)).status).toBe(202);
  expect((await call(h.url, 'DELETE', `/api/v1/runs/${done}?purge=true`)).status).toBe(204);
  await a.waitFor(before + 2);
  await b.waitFor(before + 2);
  await new Promise(r => setTimeout(r, 100));
  const after = (c: typeof a) => c.messages.slice(before) as unknown as RunsStreamMessage[];
  for (const c of [a, b]) {
    expect(after(c)).toEqual([
      { type: 'run', run: expect.objectContaining({ id: live, state: 'cancelled' }) },
      { type: 'run-deleted', id: done }
    ]);
  }
  expect(h.store.getSummary(done)).toBeUndefined();
  // Deleting it again: 404, and nothing more is announced.
  expect((await call(h.url, 'DELETE', `/api/v1/runs/${done}?purge=true`)).status).toBe(404);
  await new Promise(r => setTimeout(r, 100));
  expect(after(a)).toHaveLength(2);
  for (const c of [a, b]) {
    c.ws.close();
    await c.closed;
  }
  // No client left: a deletion goes nowhere, without error.
  expect(h.store.deleteRun(live, { purge: true })).toBe(true);
});

test('two clients both hear every run; a closed client no longer counts', async () => {
  const a = await openWs(runsUrl());
  const b = await openWs(runsUrl(), { headers: { authorization: `Bearer ${TOKEN}` }, origin: ORIGIN });
  const one = createStoredRun(h.store);
  const two = createStoredRun(h.store);
  await a.waitFor(2);
  await b.waitFor(2);
  expect(changes(a.messages).map(m => m.run.id)).toEqual([one, two]);
  expect(changes(b.messages).map(m => m.run.id)).toEqual([one, two]);
  b.ws.close();
  await b.closed;
  advance(h.store, one, 'cancelled');
  await a.waitFor(3);
  expect(changes(a.messages)[2].run).toMatchObject({ id: one, state: 'cancelled' });
  expect(b.messages).toHaveLength(2);
  a.ws.close();
  await a.closed;
  // With no client left the store is not followed: changes go nowhere, without error.
  advance(h.store, two, 'failed');
});

test('refusals before the upgrade: 401 without or with a wrong token, 403 for a foreign Origin (before the token), 400 for a query parameter', async () => {
  for (const q of ['', '?token=wrong', `?token=${TOKEN}&token=${TOKEN}`]) {
    const r = await wsRefusal(runsUrl(q));
    expect(r.status).toBe(401);
    expect(r.body.error).toMatch(/^missing or wrong token/);
  }
  expect((await wsRefusal(runsUrl(''), { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
  const foreign = await wsRefusal(runsUrl(), { origin: 'http://evil.example' });
  expect(foreign.status).toBe(403);
  expect(foreign.body.error).toMatch(/origin "http:\/\/evil\.example" are not allowed/);
  expect((await wsRefusal(runsUrl(''), { origin: 'http://evil.example' })).status).toBe(403);
  const since = await wsRefusal(runsUrl(`?token=${TOKEN}&since=0`));
  expect(since.status).toBe(400);
  expect(since.body.error).toMatch(/unknown query parameter "since": the runs' changes take only token/);
  // A refused client hears nothing.
  const ok = await openWs(runsUrl(), { origin: ORIGIN });
  ok.ws.close();
  await ok.closed;
});

test('more sockets than maxClients: 503; the open ones close with 1001 when the bridge stops', async () => {
  const own = await startHarness({ events: { maxClients: 2 } });
  const url = `${own.wsUrl}/api/v1/runs/events?token=${TOKEN}`;
  const a = await openWs(url);
  const b = await openWs(url);
  const r = await wsRefusal(url);
  expect(r.status).toBe(503);
  const closing = own.close();
  expect((await a.closed).code).toBe(1001);
  expect((await b.closed).code).toBe(1001);
  await closing;
});
