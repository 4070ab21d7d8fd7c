// The /api/v1/sessions routes and WebSocket sessions/{id}/events on a SessionService held in
// memory (test/bridge/helpers/fake-sessions.ts): every route's answers and status codes, the
// body checks naming the field, id shapes checked before the service is called, the wait of
// an execution ended by the client going away and by the longest wait, auth (401) and
// Origin (403) on REST and WebSocket, since= replay, close codes, a slow client.
import * as http from 'http';
import { RequestError } from '../../src/bridge/service';
import { FakeSessionService } from './helpers/fake-sessions';
import { ORIGIN, TestRunService, TOKEN, call, openWs, postJson, startHarness, wsRefusal, type Harness } from './helpers/api';

const MAX_WAIT_MS = 1500;
let h: Harness;
let fake: FakeSessionService;
beforeAll(async () => {
  h = await startHarness({ requestTimeoutMs: MAX_WAIT_MS, headersTimeoutMs: 1000, events: { pingIntervalMs: 200, maxQueuedBytes: 256 * 1024 } }, store =>
    Object.assign(new TestRunService(store), { sessions: (fake = new FakeSessionService()) })
  );
});
afterAll(async () => {
  await h.close();
});

const NOTEBOOK = { image: 'redlab/debian-python:12', notebookPath: 'work/analysis.ipynb' };
let notebookCounter = 0;
/** A new session (its own notebook), idle. */
async function newSession(extra: Record<string, unknown> = {}): Promise<string> {
  const r = await postJson(h.url, '/api/v1/sessions', { ...NOTEBOOK, notebookPath: `nb/${++notebookCounter}.ipynb`, ...extra });
  expect(r.status).toBe(201);
  return r.json.id;
}
const eventsUrl = (id: string, q = '') => `${h.wsUrl}/api/v1/sessions/${id}/events?token=${TOKEN}${q}`;
const UNKNOWN_ID = '01ARZ3NDEKTSV4RRFFQ69G5FAV';

describe('POST /sessions', () => {
  test('201 with the SessionInfo and its Location; the same notebook and profile again: 200 with the live one', async () => {
    const r = await postJson(h.url, '/api/v1/sessions', { ...NOTEBOOK, profile: 'gpu', ram: 2048, cpus: 1.5, gpus: { vramMin: 8000 }, env: { SEED: '1' }, engine: 'docker' });
    expect(r.status).toBe(201);
    expect(r.json).toMatchObject({ id: expect.stringMatching(/^[0-9A-Z]{26}$/), state: 'idle', profile: 'gpu', notebookPath: NOTEBOOK.notebookPath, image: NOTEBOOK.image, ram: 2048, cpus: 1.5 });
    expect(r.headers.get('location')).toBe(`/api/v1/sessions/${r.json.id}`);
    expect(fake.calls.at(-1)).toEqual({ method: 'create', args: [{ ...NOTEBOOK, profile: 'gpu', ram: 2048, cpus: 1.5, gpus: { vramMin: 8000 }, env: { SEED: '1' }, engine: 'docker' }] });
    const again = await postJson(h.url, '/api/v1/sessions', { ...NOTEBOOK, profile: 'gpu' });
    expect(again.status).toBe(200);
    expect(again.json.id).toBe(r.json.id);
    expect(again.headers.get('location')).toBe(`/api/v1/sessions/${r.json.id}`);
  });

  test.each([
    [{ ...NOTEBOOK, imgae: 'y' }, /unknown key "imgae" in the session request: it takes image, notebookPath, profile, ram, cpus, gpus, env, engine/],
    [[NOTEBOOK], /the JSON body is a list: send an object, \{"image": /],
    ['"redlab/debian-python:12"', /the JSON body is a string: send an object/],
    [null, /the JSON body is null: send an object/]
  ])('%j → 400 before the service is asked', async (body, message) => {
    const before = fake.calls.length;
    const r = await postJson(h.url, '/api/v1/sessions', body === null ? 'null' : body);
    expect(r.status).toBe(400);
    expect(r.json.error).toMatch(message);
    expect(fake.calls.length).toBe(before);
  });

  test("the fields go to the service as they came (it checks them: session-request.ts)", async () => {
    const body = { notebookPath: 'x.ipynb', ram: '512', gpus: { count: 2, vramMin: 1000 } };
    await postJson(h.url, '/api/v1/sessions', body);
    expect(fake.calls.at(-1)).toEqual({ method: 'create', args: [body] });
  });

  test('no JSON body: 415 or 400 saying what to send', async () => {
    const yaml = await call(h.url, 'POST', '/api/v1/sessions', { body: 'image: x', headers: { 'content-type': 'application/yaml' } });
    expect(yaml.status).toBe(415);
    expect(yaml.json.error).toMatch(/send application\/json/);
    const none = await call(h.url, 'POST', '/api/v1/sessions');
    expect([400, 415]).toContain(none.status);
    const bad = await call(h.url, 'POST', '/api/v1/sessions', { body: '{"image": ', headers: { 'content-type': 'application/json' } });
    expect(bad.status).toBe(400);
    expect(bad.json.error).toMatch(/not valid JSON/);
  });

  test("the service's refusal (RequestError) is answered with its status, message and fix", async () => {
    fake.refuseCreate = new RequestError(409, 'the docker engine has no GPU: asked for one GPU with at least 8000 MB', { fix: 'leave gpus out, or use an engine with GPUs' });
    const r = await postJson(h.url, '/api/v1/sessions', { ...NOTEBOOK, gpus: { vramMin: 8000 } });
    expect(r.status).toBe(409);
    expect(r.json).toEqual({ error: 'the docker engine has no GPU: asked for one GPU with at least 8000 MB', fix: 'leave gpus out, or use an engine with GPUs' });
  });

  test('unknown query parameters are refused', async () => {
    const r = await postJson(h.url, '/api/v1/sessions?wait=1', NOTEBOOK);
    expect(r.status).toBe(400);
    expect(r.json.error).toMatch(/unknown query parameter "wait": this route takes none/);
  });
});

describe('GET, DELETE /sessions/{id}', () => {
  test('list, read, stop; 404 names the id', async () => {
    const id = await newSession();
    const list = await call(h.url, 'GET', '/api/v1/sessions');
    expect(list.status).toBe(200);
    expect(list.json.sessions.map((s: { id: string }) => s.id)).toContain(id);
    const one = await call(h.url, 'GET', `/api/v1/sessions/${id}`);
    expect(one.status).toBe(200);
    expect(one.json).toMatchObject({ id, state: 'idle', lastSeq: expect.any(Number) });
    const del = await call(h.url, 'DELETE', `/api/v1/sessions/${id}`);
    expect(del.status).toBe(200);
    expect(del.json).toMatchObject({ id, state: 'stopped' });
    const missing = await call(h.url, 'GET', `/api/v1/sessions/${UNKNOWN_ID}`);
    expect(missing.status).toBe(404);
    expect(missing.json.error).toMatch(new RegExp(`no session ${UNKNOWN_ID}: .*GET /api/v1/sessions lists`));
    const delMissing = await call(h.url, 'DELETE', `/api/v1/sessions/${UNKNOWN_ID}`);
    expect(delMissing.status).toBe(404);
    expect(delMissing.json.error).toContain(UNKNOWN_ID);
  });

  test('an id of the wrong shape: 404 before the service is called', async () => {
    for (const [method, path] of [
      ['GET', '/api/v1/sessions/..%2F..%2Fetc'],
      ['DELETE', '/api/v1/sessions/abc'],
      ['POST', '/api/v1/sessions/abc/interrupt'],
      ['GET', `/api/v1/sessions/${UNKNOWN_ID.toLowerCase()}/executions/${UNKNOWN_ID}`]
    ]) {
      const before = fake.calls.length;
      const r = await call(h.url, method, path);
      expect(r.status).toBe(404);
      expect(r.json.error).toMatch(/^no session ".*": session ids are 26 characters/);
      expect(fake.calls.length).toBe(before);
    }
  });
});

describe('execute and executions', () => {
  test('202 with the execution id and its Location; the record as it is, and with wait=true once final', async () => {
    const id = await newSession();
    const r = await postJson(h.url, `/api/v1/sessions/${id}/execute`, { code: 'x = 41', cellId: 'cell-1' });
    expect(r.status).toBe(202);
    expect(r.json).toEqual({ executionId: expect.stringMatching(/^[0-9A-Z]{26}$/), state: 'queued' });
    const location = r.headers.get('location');
    expect(location).toBe(`/api/v1/sessions/${id}/executions/${r.json.executionId}`);
    expect(fake.calls.at(-1)).toEqual({ method: 'execute', args: [id, { code: 'x = 41', cellId: 'cell-1' }] });

    const now = await call(h.url, 'GET', location!);
    expect(now.status).toBe(200);
    expect(now.json).toMatchObject({ id: r.json.executionId, sessionId: id, state: 'queued', code: 'x = 41', cellId: 'cell-1' });

    const waiting = call(h.url, 'GET', `${location}?wait=true`);
    await new Promise(res => setTimeout(res, 100));
    fake.start(id, r.json.executionId);
    fake.output(id, { output_type: 'stream', name: 'stdout', text: '42\n' });
    fake.finish(id, r.json.executionId);
    const done = await waiting;
    expect(done.status).toBe(200);
    expect(done.json).toMatchObject({ state: 'ok', executionCount: 1, outputs: [{ output_type: 'stream', name: 'stdout', text: '42\n' }] });
  });

  test.each([
    [{}, 400, /no code/],
    [{ code: 1 }, 400, /code must be the cell's source as text, not a number/],
    [{ code: 'x', cell: 'a' }, 400, /unknown key "cell" in the execute request: it takes code, cellId/],
    [{ code: 'x', cellId: '' }, 422, /cellId is empty/],
    ['"print(1)"', 400, /the JSON body is a string: send an object/]
  ])('execute %j → %i', async (body, status, message) => {
    const id = await newSession();
    const r = await postJson(h.url, `/api/v1/sessions/${id}/execute`, body);
    expect(r.status).toBe(status);
    expect(r.json.error).toMatch(message);
    expect(fake.calls.filter(c => c.method === 'execute' && c.args[0] === id)).toEqual([]);
  });

  test('an empty cell is an execute; an unknown session 404; a stopped one the service refuses (409)', async () => {
    const id = await newSession();
    expect((await postJson(h.url, `/api/v1/sessions/${id}/execute`, { code: '' })).status).toBe(202);
    const unknown = await postJson(h.url, `/api/v1/sessions/${UNKNOWN_ID}/execute`, { code: 'x' });
    expect(unknown.status).toBe(404);
    expect(unknown.json.error).toContain(`no session ${UNKNOWN_ID}`);
    await call(h.url, 'DELETE', `/api/v1/sessions/${id}`);
    const stopped = await postJson(h.url, `/api/v1/sessions/${id}/execute`, { code: 'x' });
    expect(stopped.status).toBe(409);
    expect(stopped.json.error).toMatch(/is stopped/);
  });

  test('an unknown or misshapen execution id: 404 naming it; wait takes a flag only', async () => {
    const id = await newSession();
    const unknown = await call(h.url, 'GET', `/api/v1/sessions/${id}/executions/${UNKNOWN_ID}`);
    expect(unknown.status).toBe(404);
    expect(unknown.json.error).toBe(`no execution ${UNKNOWN_ID} in session ${id}: it does not exist or was lost with a restart`);
    const before = fake.calls.length;
    const bad = await call(h.url, 'GET', `/api/v1/sessions/${id}/executions/nope`);
    expect(bad.status).toBe(404);
    expect(bad.json.error).toMatch(/^no execution "nope" in session .*: execution ids are 26 characters/);
    expect(fake.calls.slice(before).filter(c => c.method === 'execution')).toEqual([]);
    const flag = await call(h.url, 'GET', `/api/v1/sessions/${id}/executions/${UNKNOWN_ID}?wait=maybe`);
    expect(flag.status).toBe(400);
    expect(flag.json.error).toMatch(/wait=true or wait=false/);
    const other = await call(h.url, 'GET', `/api/v1/sessions/${id}/executions/${UNKNOWN_ID}?timeout=5`);
    expect(other.status).toBe(400);
    expect(other.json.error).toMatch(/unknown query parameter "timeout": this route takes wait/);
  });

  test('wait=true: a client that goes away aborts the wait', async () => {
    const id = await newSession();
    const { executionId } = (await postJson(h.url, `/api/v1/sessions/${id}/execute`, { code: 'while True: pass' })).json;
    const signals = fake.waitSignals.length;
    const req = http.get(`${h.url}/api/v1/sessions/${id}/executions/${executionId}?wait=true`, { headers: { authorization: `Bearer ${TOKEN}` } });
    req.on('error', () => undefined);
    while (fake.waitSignals.length === signals) await new Promise(res => setTimeout(res, 10));
    const signal = fake.waitSignals.at(-1)!;
    expect(signal.aborted).toBe(false);
    req.destroy();
    const t0 = Date.now();
    // Well before the longest wait (MAX_WAIT_MS) would end it.
    while (!signal.aborted && Date.now() - t0 < MAX_WAIT_MS / 3) await new Promise(res => setTimeout(res, 10));
    expect(signal.aborted).toBe(true);
  });

  test('wait=true is bounded by the request timeout: the record as it is then', async () => {
    const id = await newSession();
    const { executionId } = (await postJson(h.url, `/api/v1/sessions/${id}/execute`, { code: 'while True: pass' })).json;
    fake.start(id, executionId);
    const t0 = Date.now();
    const r = await call(h.url, 'GET', `/api/v1/sessions/${id}/executions/${executionId}?wait=true`);
    const took = Date.now() - t0;
    expect(r.status).toBe(200);
    expect(r.json.state).toBe('running');
    expect(took).toBeGreaterThanOrEqual(MAX_WAIT_MS - 50);
    expect(took).toBeLessThan(MAX_WAIT_MS + 1500);
  });
});

describe('interrupt and restart', () => {
  test('200 with the SessionInfo, with a JSON body, none, or an empty one that says JSON', async () => {
    const id = await newSession();
    const { executionId } = (await postJson(h.url, `/api/v1/sessions/${id}/execute`, { code: 'while True: pass' })).json;
    fake.start(id, executionId);
    const i = await call(h.url, 'POST', `/api/v1/sessions/${id}/interrupt`, { headers: { 'content-type': 'application/json', 'content-length': '0' } });
    expect(i.status).toBe(200);
    expect(i.json).toMatchObject({ id, state: 'idle' });
    expect((await call(h.url, 'GET', `/api/v1/sessions/${id}/executions/${executionId}`)).json.state).toBe('aborted');
    const noBody = await call(h.url, 'POST', `/api/v1/sessions/${id}/interrupt`);
    expect(noBody.status).toBe(200);
    const r = await postJson(h.url, `/api/v1/sessions/${id}/restart`, {});
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ id, state: 'idle', executionCount: 0 });
    expect(fake.calls.filter(c => c.args[0] === id).map(c => c.method)).toEqual(expect.arrayContaining(['interrupt', 'restart']));
    const unknown = await call(h.url, 'POST', `/api/v1/sessions/${UNKNOWN_ID}/restart`);
    expect(unknown.status).toBe(404);
    expect(unknown.json.error).toContain(UNKNOWN_ID);
  });
});

describe('gates', () => {
  test('401 without the token and 403 from a foreign Origin on every route, before the service is asked', async () => {
    const id = await newSession();
    const routes: [string, string][] = [
      ['GET', '/api/v1/sessions'],
      ['POST', '/api/v1/sessions'],
      ['GET', `/api/v1/sessions/${id}`],
      ['DELETE', `/api/v1/sessions/${id}`],
      ['POST', `/api/v1/sessions/${id}/execute`],
      ['GET', `/api/v1/sessions/${id}/executions/${UNKNOWN_ID}?wait=true`],
      ['POST', `/api/v1/sessions/${id}/interrupt`],
      ['POST', `/api/v1/sessions/${id}/restart`]
    ];
    const before = fake.calls.length;
    for (const [method, path] of routes) {
      const body = method === 'POST' ? JSON.stringify({ code: 'x' }) : undefined;
      const noToken = await call(h.url, method, path, { noAuth: true, body, headers: body ? { 'content-type': 'application/json' } : {} });
      expect([method, path, noToken.status]).toEqual([method, path, 401]);
      const wrong = await call(h.url, method, path, { body, headers: { authorization: 'Bearer wrong-token-123', ...(body ? { 'content-type': 'application/json' } : {}) } });
      expect(wrong.status).toBe(401);
      const foreign = await call(h.url, method, path, { body, headers: { origin: 'https://evil.example', ...(body ? { 'content-type': 'application/json' } : {}) } });
      expect([method, path, foreign.status]).toEqual([method, path, 403]);
    }
    expect(fake.calls.length).toBe(before);
    // The configured origin gets CORS headers and Location exposed.
    const ok = await call(h.url, 'GET', `/api/v1/sessions/${id}`, { headers: { origin: ORIGIN } });
    expect(ok.status).toBe(200);
    expect(ok.headers.get('access-control-allow-origin')).toBe(ORIGIN);
  });

  test('the events WebSocket: 401 without or with a wrong token, 403 from a foreign Origin', async () => {
    const id = await newSession();
    const url = `${h.wsUrl}/api/v1/sessions/${id}/events`;
    expect((await wsRefusal(url)).status).toBe(401);
    expect((await wsRefusal(`${url}?token=wrong-token-123`)).status).toBe(401);
    const foreign = await wsRefusal(eventsUrl(id), { origin: 'https://evil.example' });
    expect(foreign.status).toBe(403);
    expect(foreign.body.error).toMatch(/origin "https:\/\/evil.example" are not allowed/);
    expect(fake.subscriberCount(id)).toBe(0);
    // Bearer header and the configured origin: accepted.
    const c = await openWs(url, { headers: { authorization: `Bearer ${TOKEN}` }, origin: ORIGIN });
    await c.waitFor(1);
    c.ws.close();
  });
});

describe('WebSocket /sessions/{id}/events', () => {
  type Msg = { seq: number; type: string; [k: string]: unknown };
  const msgs = (c: { messages: unknown[] }) => c.messages as Msg[];

  test('since=0: the held events in order, then live ones; since=K: only those after K; unsubscribed on close', async () => {
    const id = await newSession();
    const held = fake.sessions.get(id)!.events.length;
    const c = await openWs(eventsUrl(id));
    await c.waitFor(held);
    expect(msgs(c).map(m => m.seq)).toEqual(Array.from({ length: held }, (_, i) => i + 1));
    expect(msgs(c)[0]).toMatchObject({ seq: 1, type: 'session', session: { id, state: 'starting' } });

    const { executionId } = (await postJson(h.url, `/api/v1/sessions/${id}/execute`, { code: 'print(42)' })).json;
    fake.start(id, executionId);
    fake.output(id, { output_type: 'stream', name: 'stdout', text: '42\n' });
    fake.finish(id, executionId);
    const total = fake.sessions.get(id)!.info.lastSeq;
    await c.waitFor(total);
    expect(msgs(c).map(m => m.seq)).toEqual(Array.from({ length: total }, (_, i) => i + 1));
    expect(msgs(c).filter(m => m.type === 'output')).toEqual([{ seq: expect.any(Number), type: 'output', executionId, output: { output_type: 'stream', name: 'stdout', text: '42\n' } }]);
    expect(msgs(c).filter(m => m.type === 'execution').map(m => m.state)).toEqual(['queued', 'running', 'ok']);

    const late = await openWs(eventsUrl(id, `&since=${total - 2}`));
    await late.waitFor(2);
    await new Promise(res => setTimeout(res, 50));
    expect(msgs(late).map(m => m.seq)).toEqual([total - 1, total]);
    expect(fake.calls.filter(x => x.method === 'subscribe').at(-1)).toEqual({ method: 'subscribe', args: [id, total - 2] });

    expect(fake.subscriberCount(id)).toBe(2);
    c.ws.close();
    late.ws.terminate();
    await Promise.all([c.closed, late.closed]);
    const t0 = Date.now();
    while (fake.subscriberCount(id) && Date.now() - t0 < 2000) await new Promise(res => setTimeout(res, 10));
    expect(fake.subscriberCount(id)).toBe(0);
  });

  test('closes 1000 once the final state is sent (after the lost executions); a session that ended before closes after its replay', async () => {
    const id = await newSession();
    const c = await openWs(eventsUrl(id));
    const { executionId } = (await postJson(h.url, `/api/v1/sessions/${id}/execute`, { code: 'while True: pass' })).json;
    fake.start(id, executionId);
    expect((await call(h.url, 'DELETE', `/api/v1/sessions/${id}`)).status).toBe(200);
    expect(await c.closed).toEqual({ code: 1000, reason: 'session stopped' });
    const got = msgs(c);
    expect(got.at(-1)).toMatchObject({ type: 'session', session: { id, state: 'stopped' } });
    expect(got.filter(m => m.type === 'execution' && m.executionId === executionId).map(m => m.state)).toEqual(['queued', 'running', 'lost']);
    expect(fake.subscriberCount(id)).toBe(0);
    const lastSeq = fake.sessions.get(id)!.info.lastSeq;
    // Reconnecting with the last seq: nothing more will come, closed at once.
    const late = await openWs(eventsUrl(id, `&since=${lastSeq}`));
    expect(await late.closed).toEqual({ code: 1000, reason: 'session stopped' });
    expect(late.messages).toEqual([]);
    // From the start: the replay, then the close.
    const all = await openWs(eventsUrl(id));
    expect((await all.closed).code).toBe(1000);
    expect(msgs(all).map(m => m.seq)).toEqual(Array.from({ length: lastSeq }, (_, i) => i + 1));
    expect(fake.subscriberCount(id)).toBe(0);
  });

  test('an unknown session closes 4404 naming it; a misshapen id without asking the service', async () => {
    const c = await openWs(eventsUrl(UNKNOWN_ID));
    expect(await c.closed).toEqual({ code: 4404, reason: `no session ${UNKNOWN_ID}` });
    const before = fake.calls.length;
    const bad = await openWs(eventsUrl('not-a-session'));
    expect(await bad.closed).toEqual({ code: 4404, reason: 'no session not-a-session' });
    expect(fake.calls.length).toBe(before);
  });

  test('query checks before the upgrade: since must be a whole number, given once; nothing else but token', async () => {
    const id = await newSession();
    for (const q of ['&since=abc', '&since=-1', '&since=1&since=2']) {
      const r = await wsRefusal(eventsUrl(id, q));
      expect(r.status).toBe(400);
      expect(r.body.error).toMatch(/since must be a whole number >= 0/);
    }
    const r = await wsRefusal(eventsUrl(id, '&from=3'));
    expect(r.status).toBe(400);
    expect(r.body.error).toBe('unknown query parameter "from": this WebSocket takes since and token');
    const nowhere = await wsRefusal(`${h.wsUrl}/api/v1/sessions/${id}/event?token=${TOKEN}`);
    expect(nowhere.status).toBe(404);
    expect(nowhere.body.error).toMatch(/a session's events at \/api\/v1\/sessions\/\{id\}\/events\?since=SEQ/);
  });

  test('a client too far behind is closed 4008 after what was queued, and resumes with since= without a gap', async () => {
    const id = await newSession();
    const c = await openWs(eventsUrl(id));
    await c.waitFor(fake.sessions.get(id)!.info.lastSeq);
    // The client stops reading; 64 KiB outputs pile up past maxQueuedBytes (256 KiB here) once the kernel's buffers are full.
    const socket = (c.ws as unknown as { _socket: import('net').Socket })._socket;
    socket.pause();
    const chunk = 'y'.repeat(64 * 1024 - 1) + '\n';
    for (let i = 0; i < 400 && fake.subscriberCount(id) > 0; i++) fake.output(id, { output_type: 'stream', name: 'stdout', text: chunk }, null);
    expect(fake.subscriberCount(id)).toBe(0);
    const last = fake.sessions.get(id)!.info.lastSeq;
    socket.resume();
    const { code, reason } = await c.closed;
    expect(code).toBe(4008);
    const m = /reconnect with since=(\d+)$/.exec(reason);
    expect(m).not.toBeNull();
    const got = msgs(c);
    // Everything queued before the close arrived, in order, up to the seq the reason names.
    expect(got.map(x => x.seq)).toEqual(Array.from({ length: got.length }, (_, i) => i + 1));
    expect(got.at(-1)!.seq).toBe(Number(m![1]));
    const again = await openWs(eventsUrl(id, `&since=${m![1]}`));
    await again.waitFor(last - Number(m![1]));
    expect(msgs(again).map(x => x.seq)).toEqual(Array.from({ length: last - Number(m![1]) }, (_, i) => Number(m![1]) + 1 + i));
    again.ws.close();
  });
});

test('a bridge without sessions: 404 on the routes, 4404 on the events socket', async () => {
  const bare = await startHarness();
  try {
    for (const [method, path] of [
      ['GET', '/api/v1/sessions'],
      ['GET', `/api/v1/sessions/${UNKNOWN_ID}`],
      ['POST', `/api/v1/sessions/${UNKNOWN_ID}/interrupt`]
    ]) {
      const r = await call(bare.url, method, path);
      expect(r.status).toBe(404);
      expect(r.json.error).toMatch(/this bridge has no container sessions/);
    }
    const c = await openWs(`${bare.wsUrl}/api/v1/sessions/${UNKNOWN_ID}/events?token=${TOKEN}`);
    expect(await c.closed).toEqual({ code: 4404, reason: 'this bridge has no container sessions' });
  } finally {
    await bare.close();
  }
});
