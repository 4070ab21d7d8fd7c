// WebSocket /api/v1/runs/{id}/events with the real store and the `ws` client: replay
// then live, since=K, reconnects without gap or duplicate while events are written,
// close codes, auth and origins on the upgrade, keepalive, the result event with the
// run's result.
import * as net from 'net';
import { WebSocket } from 'ws';
import { ORIGIN, TOKEN, advance, call, createStoredRun, finishWithOutputs, openWs, startHarness, wsRefusal, type Harness, type WsMessage } from './helpers/api';

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ events: { pingIntervalMs: 200 } });
});
afterAll(async () => {
  await h.close();
});

const seqs = (ms: WsMessage[]) => ms.map(m => m.seq);
const range = (a: number, b: number) => Array.from({ length: b - a + 1 }, (_, i) => a + i);
const eventsUrl = (id: string, q = '') => `${h.wsUrl}/api/v1/runs/${id}/events?token=${TOKEN}${q}`;

/** A run with a few events: queued, preparing, running, batch 0 running, two log lines. */
function runWithEvents(): string {
  const id = createStoredRun(h.store);
  advance(h.store, id, 'running');
  h.store.setBatch(id, 0, { state: 'running' });
  h.store.appendLog(id, 0, 'stdout', 'line 1\n');
  h.store.appendLog(id, 0, 'stderr', 'line 2 ünïcode\n');
  return id;
}

test('since=0: every stored event in order, then live ones; closes 1000 after the final state', async () => {
  const id = runWithEvents();
  const c = await openWs(eventsUrl(id));
  await c.waitFor(6);
  expect(seqs(c.messages)).toEqual(range(1, 6));
  expect(c.messages.map(m => m.event.type)).toEqual(['state', 'state', 'state', 'state', 'log', 'log']);
  expect(c.messages[0]).toEqual({ seq: 1, at: expect.any(String), event: { type: 'state', state: 'queued' } });
  expect(c.messages[4].event).toMatchObject({ type: 'log', batch: 0, stream: 'stdout', data: 'line 1\n' });
  expect(c.messages[5].event).toMatchObject({ stream: 'stderr', data: 'line 2 ünïcode\n' });

  h.store.appendLog(id, 0, 'stdout', 'live\n');
  await c.waitFor(7);
  expect(c.messages[6].event).toMatchObject({ type: 'log', data: 'live\n' });
  // Not final yet: the socket stays open.
  await new Promise(r => setTimeout(r, 100));
  expect(c.ws.readyState).toBe(WebSocket.OPEN);

  h.store.setBatch(id, 0, { state: 'succeeded' });
  advance(h.store, id, 'succeeded');
  const { code, reason } = await c.closed;
  expect(code).toBe(1000);
  expect(reason).toBe('run finished');
  expect(seqs(c.messages)).toEqual(range(1, h.store.getSummary(id)!.lastSeq));
  expect(c.messages.at(-1)!.event).toEqual({ type: 'state', state: 'succeeded' });

  // A finished run: replay and close at once.
  const late = await openWs(eventsUrl(id, '&since=3'));
  expect((await late.closed).code).toBe(1000);
  expect(seqs(late.messages)).toEqual(range(4, h.store.getSummary(id)!.lastSeq));
});

test('a second client with since=K gets only the events after K', async () => {
  const id = runWithEvents();
  const a = await openWs(eventsUrl(id, '&since=0'));
  const b = await openWs(eventsUrl(id, '&since=4'));
  await a.waitFor(6);
  await b.waitFor(2);
  expect(seqs(b.messages)).toEqual([5, 6]);
  h.store.appendLog(id, 0, 'stdout', 'x\n');
  await a.waitFor(7);
  await b.waitFor(3);
  expect(seqs(b.messages)).toEqual([5, 6, 7]);
  const far = await openWs(eventsUrl(id, '&since=1000'));
  h.store.appendLog(id, 0, 'stdout', 'y\n');
  await a.waitFor(8);
  await new Promise(r => setTimeout(r, 50));
  expect(far.messages).toEqual([]);
  for (const c of [a, b, far]) c.ws.close();
});

test('reconnecting mid-stream while events are appended: no gap, no duplicate', async () => {
  const id = createStoredRun(h.store);
  advance(h.store, id, 'running');
  const total = 3000;
  let written = 0;
  const writer = (async () => {
    while (written < total) {
      for (let i = 0; i < 25 && written < total; i++) h.store.appendLog(id, 0, 'stdout', `line ${written++}\n`);
      await new Promise(r => setImmediate(r));
    }
    advance(h.store, id, 'succeeded');
  })();

  const got: WsMessage[] = [];
  let since = 0;
  let connections = 0;
  for (;;) {
    connections++;
    const c = await openWs(eventsUrl(id, `&since=${since}`));
    // Take a few hundred events, then drop the connection (unless the run ends first).
    const stopAt = got.length + 200 + Math.floor(Math.random() * 200);
    const done = await new Promise<boolean>(resolve => {
      const t = setInterval(() => {
        if (c.messages.length + got.length >= stopAt) {
          clearInterval(t);
          c.ws.terminate();
          resolve(false);
        }
      }, 1);
      void c.closed.then(({ code }) => {
        clearInterval(t);
        resolve(code === 1000);
      });
    });
    // Only what arrived before the drop counts; the client resumes from its last seq.
    got.push(...c.messages);
    since = got.length ? got[got.length - 1].seq : 0;
    if (done) break;
    if (connections > 100) throw new Error('too many reconnections');
  }
  await writer;
  const last = h.store.getSummary(id)!.lastSeq;
  expect(seqs(got)).toEqual(range(1, last));
  expect(connections).toBeGreaterThan(2);
  const text = got.filter(m => m.event.type === 'log').map(m => m.event.data).join('');
  expect(text).toBe(Array.from({ length: total }, (_, i) => `line ${i}\n`).join(''));
});

test('unknown or malformed run id: accepted, then closed with 4404 and a reason', async () => {
  const c = await openWs(eventsUrl('01ARZ3NDEKTSV4RRFFQ69G5FAV'));
  expect(await c.closed).toEqual({ code: 4404, reason: 'no run 01ARZ3NDEKTSV4RRFFQ69G5FAV' });
  const d = await openWs(eventsUrl('..%2F..%2Fetc%2Fpasswd'));
  expect(await d.closed).toEqual({ code: 4404, reason: 'no run ../../etc/passwd' });
  const long = await openWs(eventsUrl('x'.repeat(200)));
  const r = await long.closed;
  expect(r.code).toBe(4404);
  expect(Buffer.byteLength(r.reason)).toBeLessThanOrEqual(123);
});

test('the result event carries the run\'s result as GET /runs/{id} has it, live and replayed; the stored event stays small', async () => {
  const id = runWithEvents();
  const live = await openWs(eventsUrl(id));
  await live.waitFor(6);
  finishWithOutputs(h.store, id, { 'out.txt': 'hello\n' });
  expect((await live.closed).code).toBe(1000);
  const rest = (await call(h.url, 'GET', `/api/v1/runs/${id}`)).json;
  const resultEvent = (ms: WsMessage[]) => ms.find(m => m.event.type === 'result')!;
  expect(resultEvent(live.messages).event).toEqual({ type: 'result', state: 'succeeded', result: rest.result });
  expect(rest.result.outputs['out.txt']).toMatchObject({ size: 6, sha256: expect.stringMatching(/^[0-9a-f]{64}$/) });
  // Replayed after since: the same.
  const seq = resultEvent(live.messages).seq;
  const replay = await openWs(eventsUrl(id, `&since=${seq - 1}`));
  await replay.closed;
  expect(replay.messages[0]).toEqual(resultEvent(live.messages));
  // The store keeps the event as it was written.
  expect(h.store.eventsSince(id, seq - 1, 1)[0].event).toEqual({ type: 'result', state: 'succeeded' });
});

test('a purged run: 4404', async () => {
  const id = runWithEvents();
  advance(h.store, id, 'failed');
  h.store.deleteRun(id, { purge: true });
  const c = await openWs(eventsUrl(id));
  expect(await c.closed).toEqual({ code: 4404, reason: `no run ${id}` });
  expect(c.messages).toEqual([]);
});

test('upgrade refusals: 401 (no/wrong token), 403 (origin), 400 (since), 404 (path); Authorization header works too', async () => {
  const id = runWithEvents();
  const base = `${h.wsUrl}/api/v1/runs/${id}/events`;
  for (const u of [base, `${base}?token=wrong`, `${base}?token=`, `${base}?token=${TOKEN}&token=${TOKEN}`, `${base}?token=${TOKEN.slice(0, -1)}`]) {
    const r = await wsRefusal(u);
    expect(r.status).toBe(401);
    expect(r.body.error).toMatch(/^missing or wrong token: send Authorization: Bearer <token>, or \?token=<token>/);
  }
  expect((await wsRefusal(base, { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
  const hdr = await openWs(base, { headers: { authorization: `Bearer ${TOKEN}` } });
  await hdr.waitFor(6);
  hdr.ws.close();

  const bad = await wsRefusal(`${base}?token=${TOKEN}`, { origin: 'http://evil.example' });
  expect(bad.status).toBe(403);
  expect(bad.body.error).toMatch(/origin "http:\/\/evil\.example" are not allowed/);
  // A foreign origin is refused before the token is even looked at.
  expect((await wsRefusal(base, { origin: 'http://evil.example' })).status).toBe(403);
  const good = await openWs(`${base}?token=${TOKEN}`, { origin: ORIGIN });
  await good.waitFor(6);
  good.ws.close();

  for (const since of ['abc', '-1', '1.5', '99999999999999999999']) {
    const r = await wsRefusal(`${base}?token=${TOKEN}&since=${since}`);
    expect(r.status).toBe(400);
    expect(r.body.error).toMatch(/since must be a whole number >= 0/);
  }
  expect((await wsRefusal(`${h.wsUrl}/api/v1/runs/${id}/nope?token=${TOKEN}`)).status).toBe(404);
  expect((await wsRefusal(`${h.wsUrl}/?token=${TOKEN}`)).status).toBe(404);
  expect((await wsRefusal(`${base}?token=${TOKEN}&foo=1`)).status).toBe(400);
  // Not a WebSocket handshake at all (other Upgrade, bad key): JSON 400s from a raw socket.
  const rawUpgrade = (headers: string) =>
    new Promise<string>((resolve, reject) => {
      const u = new URL(h.url);
      const sock = net.connect(Number(u.port), u.hostname, () => sock.write(`GET /api/v1/runs/${id}/events?token=${TOKEN} HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\n${headers}\r\n`));
      let got = '';
      sock.on('data', d => (got += d));
      sock.on('close', () => resolve(got));
      sock.on('error', reject);
    });
  const h2c = await rawUpgrade('Upgrade: h2c\r\n');
  expect(h2c).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
  expect(h2c).toContain('{"error":"the bridge upgrades connections to WebSocket only (Upgrade: websocket)"}');
  const badKey = await rawUpgrade('Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: nope\r\n');
  expect(badKey).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n[^]*Content-Type: application\/json[^]*"error":"not a valid WebSocket handshake: Missing or invalid Sec-WebSocket-Key header"/);
  expect(h.logs.join('\n')).not.toContain(TOKEN);
});

test('keepalive: the bridge pings; a client that stops answering is dropped', async () => {
  const id = runWithEvents();
  const c = await openWs(eventsUrl(id));
  let pings = 0;
  c.ws.on('ping', () => pings++);
  await new Promise(r => setTimeout(r, 700));
  expect(pings).toBeGreaterThanOrEqual(2);
  expect(c.ws.readyState).toBe(WebSocket.OPEN);
  c.ws.close();

  const mute = new WebSocket(eventsUrl(id), { autoPong: false });
  const closed = new Promise<number>(resolve => mute.on('close', code => resolve(code)));
  expect(await closed).toBe(1006); // terminated: no close frame
});

test('closing the app closes event sockets with 1001', async () => {
  const other = await startHarness();
  const id = createStoredRun(other.store);
  const c = await openWs(`${other.wsUrl}/api/v1/runs/${id}/events?token=${TOKEN}`);
  await c.waitFor(1);
  await other.close();
  expect((await c.closed).code).toBe(1001);
});
