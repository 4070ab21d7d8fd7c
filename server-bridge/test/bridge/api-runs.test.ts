// The HTTP API over real HTTP on 127.0.0.1 (node fetch), on the real RunStore:
// auth and origins, submitting REDs (JSON wrapper, bare JSON, YAML), 4xx answers,
// listing, reading, cancelling/deleting runs, logs and output downloads.
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as http from 'http';
import * as path from 'path';
import pino from 'pino';
import { createLogger } from '../../src/bridge/http';
import {
  HELLO_RED,
  HELLO_YAML,
  ORIGIN,
  TOKEN,
  advance,
  call,
  createStoredRun,
  finishWithOutputs,
  postJson,
  startHarness,
  type Harness
} from './helpers/api';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h.close();
});

describe('auth and origins', () => {
  test('401 without a token, with a wrong one, with a wrong scheme; on unknown routes too', async () => {
    for (const headers of [{} as Record<string, string>, { authorization: 'Bearer nope' }, { authorization: `Bearer ${TOKEN}x` }, { authorization: `Basic ${TOKEN}` }, { authorization: TOKEN }]) {
      const r = await call(h.url, 'GET', '/api/v1/health', { noAuth: true, headers });
      expect(r.status).toBe(401);
      expect(r.json.error).toMatch(/^missing or wrong token: send Authorization: Bearer <token>/);
      expect(r.headers.get('www-authenticate')).toBe('Bearer');
    }
    const unknown = await call(h.url, 'GET', '/api/v1/nothing-here', { noAuth: true });
    expect(unknown.status).toBe(401);
    // ?token= is for WebSockets only.
    const q = await call(h.url, 'GET', `/api/v1/health?token=${TOKEN}`, { noAuth: true });
    expect(q.status).toBe(401);
    expect(q.json.error).toMatch(/WebSocket URLs only/);
    // The token never reaches the log.
    expect(h.logs.join('\n')).not.toContain(TOKEN);
    expect(h.logs.join('\n')).toContain('token=[redacted]');
  });

  test('a POST without token is refused before its body is read', async () => {
    const r = await call(h.url, 'POST', '/api/v1/runs', { noAuth: true, body: JSON.stringify(HELLO_RED), headers: { 'content-type': 'application/json' } });
    expect(r.status).toBe(401);
    expect(h.store.listRuns().runs).toHaveLength(0);
  });

  test('200 with the token; Origin: none or configured ok, others 403; CORS only for configured origins', async () => {
    const ok = await call(h.url, 'GET', '/api/v1/health');
    expect(ok.status).toBe(200);
    expect(ok.json).toMatchObject({ status: 'ok', version: 'test' });
    expect(ok.headers.get('access-control-allow-origin')).toBeNull();

    const allowed = await call(h.url, 'GET', '/api/v1/health', { headers: { origin: ORIGIN } });
    expect(allowed.status).toBe(200);
    expect(allowed.headers.get('access-control-allow-origin')).toBe(ORIGIN);

    for (const origin of ['http://evil.example', 'http://localhost:8889', 'http://127.0.0.1:8888', 'null', `${ORIGIN}/`, 'HTTP://LOCALHOST:8888']) {
      const r = await call(h.url, 'GET', '/api/v1/health', { headers: { origin } });
      expect(r.status).toBe(403);
      expect(r.json.error).toMatch(/not allowed: add it to the bridge's allowed origins/);
    }
    // Even without a token, a foreign origin learns nothing more than 403.
    expect((await call(h.url, 'GET', '/api/v1/health', { noAuth: true, headers: { origin: 'http://evil.example' } })).status).toBe(403);

    // Preflight: answered for a configured origin without the token.
    const pre = await call(h.url, 'OPTIONS', '/api/v1/runs', { noAuth: true, headers: { origin: ORIGIN, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type' } });
    expect(pre.status).toBe(204);
    expect(pre.headers.get('access-control-allow-headers')).toMatch(/Authorization/);
    const badPre = await call(h.url, 'OPTIONS', '/api/v1/runs', { noAuth: true, headers: { origin: 'http://evil.example', 'access-control-request-method': 'POST' } });
    expect(badPre.status).toBe(403);
  });
});

describe('submitting', () => {
  test('201 for a JSON wrapper, a bare JSON RED and YAML text; the run is stored queued', async () => {
    const wrapper = await postJson(h.url, '/api/v1/runs', { red: HELLO_RED, variables: { x: 'secret-value' }, options: { parallel: 2, notebookPath: 'a.ipynb' } });
    expect(wrapper.status).toBe(201);
    expect(wrapper.json).toEqual({ id: expect.stringMatching(/^[0-9A-Z]{26}$/), state: 'queued' });
    expect(wrapper.headers.get('location')).toBe(`/api/v1/runs/${wrapper.json.id}`);
    expect(h.service.submitted.at(-1)).toEqual({ red: HELLO_RED, variables: { x: 'secret-value' }, options: { parallel: 2, notebookPath: 'a.ipynb' } });

    const bare = await postJson(h.url, '/api/v1/runs', HELLO_RED);
    expect(bare.status).toBe(201);
    expect(typeof h.service.submitted.at(-1)!.red).toBe('string'); // passed on as text: lines kept

    const yamlWrapped = await postJson(h.url, '/api/v1/runs', { red: HELLO_YAML });
    expect(yamlWrapped.status).toBe(201);

    for (const ct of ['application/yaml', 'text/yaml', 'application/x-yaml; charset=utf-8']) {
      const yaml = await call(h.url, 'POST', '/api/v1/runs', { body: HELLO_YAML, headers: { 'content-type': ct } });
      expect(yaml.status).toBe(201);
      expect(h.store.getRun(yaml.json.id)!.red).toMatchObject({ redVersion: '9', inputs: { some_string: 'hello world' } });
    }
    // Variables never reach the log.
    expect(h.logs.join('\n')).not.toContain('secret-value');
  });

  test('422 with issues (path, line, message, fix) for an invalid RED, in YAML and bare JSON', async () => {
    const bad = HELLO_YAML.replace('    ram: 256\n', '    ram: 256\n    privileged: true\n');
    const line = bad.split('\n').indexOf('    privileged: true') + 1;
    const r = await call(h.url, 'POST', '/api/v1/runs', { body: bad, headers: { 'content-type': 'application/yaml' } });
    expect(r.status).toBe(422);
    expect(line).toBe(24);
    expect(r.json.error).toMatch(/^the RED is not valid: line 24: container\.settings\.privileged: unknown key "privileged"/);
    expect(r.json.issues).toContainEqual(
      expect.objectContaining({ path: 'container.settings.privileged', line, message: expect.stringContaining('unknown key "privileged"'), fix: expect.any(String) })
    );

    const json = JSON.stringify({ ...HELLO_RED, inputs: { some_string: 5 } }, null, 2);
    const j = await postJson(h.url, '/api/v1/runs', json);
    expect(j.status).toBe(422);
    const issue = j.json.issues.find((i: { path: string }) => i.path === 'inputs.some_string');
    expect(issue).toMatchObject({ line: expect.any(Number), message: expect.any(String) });
    expect(json.split('\n')[issue.line - 1]).toContain('"some_string": 5');
  });

  test('400s for bodies that are not a RED request; 413 over the limit; 415 for other types', async () => {
    const cases: [unknown, number, RegExp][] = [
      [[HELLO_RED], 400, /is a list: send an object/],
      [{ red: 5 }, 400, /"red" must be the RED as an object or as YAML\/JSON text, not a number/],
      [{ variables: {} }, 400, /has no "red"/],
      [{ red: HELLO_RED, extra: 1 }, 400, /unknown key "extra"/],
      [{ red: HELLO_RED, variables: { a: 1 } }, 400, /variables\.a must be text, not a number: write it as "1"/],
      [{ red: HELLO_RED, options: { parallel: 0 } }, 400, /options\.parallel must be a whole number >= 1/],
      [{ red: HELLO_RED, options: { privileged: true } }, 400, /unknown option "privileged"/]
    ];
    for (const [body, status, msg] of cases) {
      const r = await postJson(h.url, '/api/v1/runs', body);
      expect([r.status, r.json.error]).toEqual([status, expect.stringMatching(msg)]);
    }
    const big = await postJson(h.url, '/api/v1/runs', { red: HELLO_RED, pad: 'x'.repeat(11 * 1024 * 1024) });
    expect(big.status).toBe(413);
    expect(big.json.error).toMatch(/larger than the limit of 10 MiB/);
    const plain = await call(h.url, 'POST', '/api/v1/runs', { body: HELLO_YAML, headers: { 'content-type': 'text/plain' } });
    expect(plain.status).toBe(415);
    expect(plain.json.error).toMatch(/Content-Type "text\/plain" is not accepted here: send application\/json or application\/yaml/);
    const none = await call(h.url, 'POST', '/api/v1/runs', {});
    expect(none.status).toBe(400);
    expect(none.json.error).toMatch(/has no body/);
  });
});

describe('reading runs', () => {
  test('list: newest first, paged with cursor, filtered by state', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push(createStoredRun(h.store));
    advance(h.store, ids[1], 'running');
    advance(h.store, ids[3], 'running');
    const running = await call(h.url, 'GET', '/api/v1/runs?state=running');
    expect(running.status).toBe(200);
    expect(running.json.runs.map((r: { id: string }) => r.id)).toEqual([ids[3], ids[1]]);

    const all: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const r = await call(h.url, 'GET', `/api/v1/runs?limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      expect(r.status).toBe(200);
      expect(r.json.runs.length).toBeLessThanOrEqual(2);
      all.push(...r.json.runs.map((x: { id: string }) => x.id));
      cursor = r.json.nextCursor;
      pages++;
    } while (cursor);
    expect(all).toEqual([...all].sort().reverse());
    expect(all.slice(0, 5)).toEqual([...ids].reverse());
    expect(pages).toBeGreaterThan(2);
    const two = await call(h.url, 'GET', '/api/v1/runs?state=running,queued&limit=1000');
    expect(two.json.runs.every((r: { state: string }) => r.state === 'running' || r.state === 'queued')).toBe(true);
  });

  test('get: the full record, masked RED; 404 for unknown and malformed ids', async () => {
    const r = await postJson(h.url, '/api/v1/runs', { red: HELLO_RED });
    const got = await call(h.url, 'GET', `/api/v1/runs/${r.json.id}`);
    expect(got.status).toBe(200);
    expect(got.json).toMatchObject({ id: r.json.id, state: 'queued', red: { redVersion: '9' }, batches: [], history: [{ state: 'queued' }] });
    const unknown = await call(h.url, 'GET', '/api/v1/runs/01ARZ3NDEKTSV4RRFFQ69G5FAV');
    expect(unknown.status).toBe(404);
    expect(unknown.json.error).toMatch(/no run 01ARZ3NDEKTSV4RRFFQ69G5FAV/);
    const bad = await call(h.url, 'GET', '/api/v1/runs/..%2F..%2Fetc%2Fpasswd');
    expect(bad.status).toBe(404);
    expect(bad.json.error).toMatch(/run ids are 26 characters/);
  });

  test('delete: cancels an unfinished run (202), keeps a finished one (200), purges with ?purge=true (204)', async () => {
    const id = createStoredRun(h.store);
    advance(h.store, id, 'running');
    const c = await call(h.url, 'DELETE', `/api/v1/runs/${id}`);
    expect(c.status).toBe(202);
    expect(c.json).toMatchObject({ id, state: 'cancelled' });
    // As JupyterLab's request helper sends it through the proxy: a JSON type on an empty body.
    const kept = await call(h.url, 'DELETE', `/api/v1/runs/${id}`, { headers: { 'content-type': 'application/json', 'content-length': '0' } });
    expect(kept.status).toBe(200);
    expect(kept.json.message).toMatch(/kept: DELETE with \?purge=true/);
    expect(fs.existsSync(h.store.runDir(id))).toBe(true);
    const purged = await call(h.url, 'DELETE', `/api/v1/runs/${id}?purge=true`);
    expect(purged.status).toBe(204);
    expect(h.store.getRun(id)).toBeUndefined();
    expect(fs.existsSync(h.store.runDir(id))).toBe(false);
    expect((await call(h.url, 'DELETE', `/api/v1/runs/${id}`)).status).toBe(404);
    expect((await call(h.url, 'DELETE', `/api/v1/runs/${id}?purge=maybe`)).status).toBe(400);
  });
});

describe('logs', () => {
  test('bytes from an offset with X-Log-Offset/X-Log-End; continuing with since=end reads the rest', async () => {
    const id = createStoredRun(h.store);
    advance(h.store, id, 'running');
    h.store.setBatch(id, 0, { state: 'running' });
    h.store.appendLog(id, 0, 'stdout', 'hello\n');
    h.store.appendLog(id, 0, 'stdout', 'wörld\n');
    h.store.appendLog(id, 0, 'stderr', 'oops\n');
    const all = await call(h.url, 'GET', `/api/v1/runs/${id}/logs`);
    expect(all.status).toBe(200);
    expect(all.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    expect(all.text).toBe('hello\nwörld\n');
    expect([all.headers.get('x-log-offset'), all.headers.get('x-log-end'), all.headers.get('x-log-size')]).toEqual(['0', '13', '13']);

    const part = await call(h.url, 'GET', `/api/v1/runs/${id}/logs?since=3&maxBytes=4`);
    expect(part.text).toBe('lo\nw');
    expect(part.headers.get('x-log-end')).toBe('7');
    const rest = await call(h.url, 'GET', `/api/v1/runs/${id}/logs?since=${part.headers.get('x-log-end')}`);
    expect(Buffer.concat([Buffer.from('hel'), part.bytes, rest.bytes]).toString()).toBe('hello\nwörld\n');
    h.store.appendLog(id, 0, 'stdout', 'more\n');
    const more = await call(h.url, 'GET', `/api/v1/runs/${id}/logs?since=13`);
    expect(more.text).toBe('more\n');
    expect((await call(h.url, 'GET', `/api/v1/runs/${id}/logs?stream=stderr&batch=0`)).text).toBe('oops\n');
    const past = await call(h.url, 'GET', `/api/v1/runs/${id}/logs?since=1000`);
    expect([past.status, past.text, past.headers.get('x-log-offset')]).toEqual([200, '', '18']);
    expect((await call(h.url, 'GET', `/api/v1/runs/${id}/logs?stream=stdin`)).status).toBe(400);
    expect((await call(h.url, 'GET', '/api/v1/runs/01ARZ3NDEKTSV4RRFFQ69G5FAV/logs')).status).toBe(404);
  });
});

describe('outputs', () => {
  let id: string;
  let png: Buffer;
  beforeAll(() => {
    id = createStoredRun(h.store);
    png = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47]), Buffer.alloc(5000, 7)]);
    finishWithOutputs(h.store, id, { 'plot.png': png, 'table.csv': 'a,b\n1,2\n', 'data.bin': Buffer.from([1, 2, 3]), 'empty.txt': '', missing: null }, { dirs: ['folder'] });
  });

  test('download: Content-Length, Accept-Ranges, ETag, type from the extension, attachment unless inline', async () => {
    const r = await call(h.url, 'GET', `/api/v1/runs/${id}/outputs/plot.png`);
    expect(r.status).toBe(200);
    expect(r.bytes.equals(png)).toBe(true);
    expect(r.headers.get('content-length')).toBe(String(png.length));
    expect(r.headers.get('accept-ranges')).toBe('bytes');
    expect(r.headers.get('content-type')).toBe('image/png');
    expect(r.headers.get('etag')).toBe(`"${createHash('sha256').update(png).digest('hex')}"`);
    expect(r.headers.get('content-disposition')).toMatch(/^attachment; filename="plot\.png"/);
    const inline = await call(h.url, 'GET', `/api/v1/runs/${id}/outputs/plot.png?inline=1`);
    expect(inline.headers.get('content-disposition')).toMatch(/^inline;/);
    expect((await call(h.url, 'GET', `/api/v1/runs/${id}/outputs/table.csv`)).headers.get('content-type')).toBe('text/csv; charset=utf-8');
    expect((await call(h.url, 'GET', `/api/v1/runs/${id}/outputs/data.bin`)).headers.get('content-type')).toBe('application/octet-stream');
    const empty = await call(h.url, 'GET', `/api/v1/runs/${id}/outputs/empty.txt`);
    expect([empty.status, empty.bytes.length]).toEqual([200, 0]);
    const batch0 = await call(h.url, 'GET', `/api/v1/runs/${id}/outputs/table.csv?batch=0`);
    expect(batch0.text).toBe('a,b\n1,2\n');
  });

  test('Range: 206 with the slice, suffix and open ranges; 416 past the end', async () => {
    const r = await call(h.url, 'GET', `/api/v1/runs/${id}/outputs/plot.png`, { headers: { range: 'bytes=1-3' } });
    expect(r.status).toBe(206);
    expect(r.text).toBe('PNG');
    expect(r.headers.get('content-range')).toBe(`bytes 1-3/${png.length}`);
    expect(r.headers.get('content-length')).toBe('3');
    const suffix = await call(h.url, 'GET', `/api/v1/runs/${id}/outputs/plot.png`, { headers: { range: 'bytes=-10' } });
    expect([suffix.status, suffix.bytes.equals(png.subarray(-10))]).toEqual([206, true]);
    const open = await call(h.url, 'GET', `/api/v1/runs/${id}/outputs/plot.png`, { headers: { range: 'bytes=4990-' } });
    expect([open.status, open.bytes.equals(png.subarray(4990))]).toEqual([206, true]);
    const past = await call(h.url, 'GET', `/api/v1/runs/${id}/outputs/plot.png`, { headers: { range: 'bytes=999999-' } });
    expect(past.status).toBe(416);
    expect(past.headers.get('content-range')).toBe(`bytes */${png.length}`);
    expect(past.json.error).toMatch(/starts past the end/);
    // If-Range with another ETag: the whole file.
    const stale = await call(h.url, 'GET', `/api/v1/runs/${id}/outputs/plot.png`, { headers: { range: 'bytes=1-3', 'if-range': '"other"' } });
    expect([stale.status, stale.bytes.length]).toEqual([200, png.length]);
  });

  test('ETag: If-None-Match answers 304 without a body', async () => {
    const r = await call(h.url, 'GET', `/api/v1/runs/${id}/outputs/plot.png`);
    const etag = r.headers.get('etag')!;
    const again = await call(h.url, 'GET', `/api/v1/runs/${id}/outputs/plot.png`, { headers: { 'if-none-match': etag } });
    expect(again.status).toBe(304);
    expect(again.bytes.length).toBe(0);
    const other = await call(h.url, 'GET', `/api/v1/runs/${id}/outputs/plot.png`, { headers: { 'if-none-match': '"abc"' } });
    expect(other.status).toBe(200);
  });

  test('404 naming the outputs that exist; 409 for a directory; only recorded files are served', async () => {
    const r = await call(h.url, 'GET', `/api/v1/runs/${id}/outputs/nope.txt`);
    expect(r.status).toBe(404);
    expect(r.json.error).toMatch(/has no output "nope\.txt"; outputs that exist: .*plot\.png/);
    expect(r.json.outputs).toEqual(expect.arrayContaining(['plot.png', 'table.csv']));
    const missing = await call(h.url, 'GET', `/api/v1/runs/${id}/outputs/missing`);
    expect(missing.status).toBe(404);
    expect(missing.json.error).toMatch(/was not produced/);
    const dir = await call(h.url, 'GET', `/api/v1/runs/${id}/outputs/folder`);
    expect(dir.status).toBe(409);
    expect(dir.json.error).toMatch(/is a directory/);
    for (const name of ['..%2F..%2Fredlab.sqlite', '%2Fetc%2Fpasswd', '__proto__', 'constructor', 'toString']) {
      const t = await call(h.url, 'GET', `/api/v1/runs/${id}/outputs/${name}`);
      expect(t.status).toBe(404);
    }
    expect((await call(h.url, 'GET', `/api/v1/runs/${id}/outputs/plot.png?batch=5`)).status).toBe(404);
  });

  test('a recorded file replaced by a symlink or changed in size is not served', async () => {
    const other = createStoredRun(h.store);
    const res = finishWithOutputs(h.store, other, { 'a.txt': 'abc', 'b.txt': 'def' });
    const a = res.outputs!['a.txt']!.path;
    fs.rmSync(a);
    fs.symlinkSync(path.join(h.dir, 'redlab.sqlite'), a);
    const link = await call(h.url, 'GET', `/api/v1/runs/${other}/outputs/a.txt`);
    expect(link.status).toBe(409);
    expect(link.json.error).toMatch(/symbolic link/);
    fs.appendFileSync(res.outputs!['b.txt']!.path, 'more');
    const changed = await call(h.url, 'GET', `/api/v1/runs/${other}/outputs/b.txt`);
    expect(changed.status).toBe(409);
    expect(changed.json.error).toMatch(/changed since the run recorded it/);
  });

  test('HEAD gives the headers without the body', async () => {
    const status = await new Promise<{ status: number; length: string | undefined; body: number }>((resolve, reject) => {
      const u = new URL(`${h.url}/api/v1/runs/${id}/outputs/plot.png`);
      const req = http.request({ method: 'HEAD', hostname: u.hostname, port: u.port, path: u.pathname, headers: { authorization: `Bearer ${TOKEN}` } }, res => {
        let n = 0;
        res.on('data', (c: Buffer) => (n += c.length));
        res.on('end', () => resolve({ status: res.statusCode!, length: res.headers['content-length'], body: n }));
      });
      req.on('error', reject);
      req.end();
    });
    expect(status).toEqual({ status: 200, length: String(png.length), body: 0 });
  });
});

describe('logging', () => {
  test('JSON lines by default: requests with status, never the token or the body', async () => {
    expect((await postJson(h.url, '/api/v1/runs', { red: HELLO_RED })).status).toBe(201);
    const entries = h.logs.map(l => JSON.parse(l));
    expect(entries.some(e => e.msg === 'request completed' && e.res?.statusCode === 201 && e.req === undefined)).toBe(true);
    expect(entries.some(e => e.msg === 'incoming request' && e.req?.method === 'POST' && e.req?.url === '/api/v1/runs')).toBe(true);
    const all = h.logs.join('\n');
    expect(all).not.toContain(TOKEN);
    expect(all).not.toMatch(/"authorization"\s*:/i); // no headers
    expect(all).not.toMatch(/Bearer (?!scheme)[A-Za-z0-9]/); // no credentials
    expect(all).not.toContain('hello world'); // no request bodies
  });

  test('pretty: one readable line per entry; secrets redacted there too', async () => {
    const lines: string[] = [];
    const p = await startHarness({ logger: { pretty: true, destination: { write: (l: string) => void lines.push(l) } } });
    await call(p.url, 'GET', `/api/v1/health?token=${TOKEN}&x=1`, { noAuth: true });
    await postJson(p.url, '/api/v1/runs', { red: HELLO_RED, variables: { pw: 'hunter2-secret' } });
    await p.close();
    const text = lines.join('');
    expect(text).toMatch(/^\d\d:\d\d:\d\d\.\d{3} INFO  \[[0-9a-f]{6}-\w+\] GET \/api\/v1\/health\?token=\[redacted\]&x=1$/m);
    expect(text).toMatch(/^\d\d:\d\d:\d\d\.\d{3} INFO  \[[0-9a-f]{6}-\w+\] → 401 \(\d+\.\d ms\)$/m);
    expect(text).toMatch(/ → 201 \(/);
    expect(text).not.toContain(TOKEN);
    expect(text).not.toContain('hunter2-secret');
    expect(lines.every(l => l.endsWith('\n') && !l.startsWith('{'))).toBe(true);
  });

  test('a caller\'s pino logger gets the redaction too', async () => {
    const lines: string[] = [];
    const own = pino({ level: 'info' }, { write: (l: string) => void lines.push(l) });
    const p = await startHarness({ logger: own });
    await call(p.url, 'GET', `/api/v1/health?token=${TOKEN}`, { noAuth: true });
    await p.close();
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.join('')).not.toContain(TOKEN);
    const l = createLogger(own);
    l.info({ token: 'abc-secret', variables: { a: 'b-secret' }, req: { headers: { authorization: 'Bearer z' } } }, 'x');
    expect(lines.at(-1)).not.toMatch(/abc-secret|b-secret|Bearer z/);
  });
});

test('unknown routes: 404 JSON', async () => {
  const r = await call(h.url, 'GET', '/api/v1/nothing');
  expect(r.status).toBe(404);
  expect(r.json.error).toMatch(/no route GET \/api\/v1\/nothing/);
  expect((await call(h.url, 'PUT', '/api/v1/runs')).status).toBe(404);
});
