// BridgeApi over the real BridgeClient (a bridge given by URL, so with its token), the
// fetch boundary faked: method, path, query, headers and body of each call; answers and
// errors as BridgeClient turns them into values and BridgeErrors.
import { BridgeApi } from '../api';
import { BridgeClient, BridgeError } from '../handler';

interface Call {
  url: string;
  method: string;
  headers: Headers;
  body?: string;
}

let calls: Call[];
let answer: (call: Call) => Response;
const realFetch = globalThis.fetch;

beforeEach(() => {
  calls = [];
  answer = () => new Response('{}', { status: 200 });
  globalThis.fetch = (async (input: RequestInfo | URL, init: RequestInit = {}) => {
    const call: Call = { url: String(input), method: (init.method ?? 'GET').toUpperCase(), headers: new Headers(init.headers), body: init.body as string | undefined };
    calls.push(call);
    return answer(call);
  }) as typeof fetch;
});
afterAll(() => {
  globalThis.fetch = realFetch;
});

const api = () => new BridgeApi(new BridgeClient({ url: 'http://bridge.test:8765', token: 'tok en' }));
const json = (v: unknown, status = 200) => new Response(JSON.stringify(v), { status, headers: { 'content-type': 'application/json' } });

test('submit: POST runs with the JSON wrapper (red, variables, options with the engine) and the token', async () => {
  answer = () => json({ id: 'R1', state: 'queued' }, 201);
  const r = await api().submit({ red: 'redVersion: "9"', variables: { pw: 'x' }, options: { notebookPath: 'a.ipynb', engine: 'process' } });
  expect(r).toEqual({ id: 'R1', state: 'queued' });
  expect(calls).toHaveLength(1);
  const c = calls[0];
  expect([c.method, c.url]).toEqual(['POST', 'http://bridge.test:8765/api/v1/runs']);
  expect(c.headers.get('authorization')).toBe('Bearer tok en');
  expect(c.headers.get('content-type')).toBe('application/json');
  expect(JSON.parse(c.body!)).toEqual({ red: 'redVersion: "9"', variables: { pw: 'x' }, options: { notebookPath: 'a.ipynb', engine: 'process' } });
});

test('get, cancel, list, images, health: the paths and queries of the contract, ids encoded', async () => {
  answer = c => (c.url.includes('/images') ? json({ images: [{ id: 'sha256:1', tags: ['a:1'], size: 1, created: 'x' }] }) : json({ id: 'R/1', state: 'running', runs: [] }));
  const a = api();
  await a.get('R/1');
  const cancelled = await a.cancel('R/1');
  await a.list();
  await a.list({ limit: 100, state: ['queued', 'running'], cursor: 'R0' });
  expect(await a.images()).toEqual([{ id: 'sha256:1', tags: ['a:1'], size: 1, created: 'x' }]);
  await a.images('docker');
  await a.health();
  expect(calls.map(c => `${c.method} ${c.url.replace('http://bridge.test:8765/api/v1/', '')}`)).toEqual([
    'GET runs/R%2F1',
    'DELETE runs/R%2F1',
    'GET runs',
    'GET runs?limit=100&state=queued%2Crunning&cursor=R0',
    'GET images',
    'GET images?engine=docker',
    'GET health'
  ]);
  expect(cancelled).toMatchObject({ id: 'R/1', state: 'running' });
});

test('cancel answered 204 (a deleted run): an empty answer, not an error', async () => {
  answer = () => new Response(null, { status: 204 });
  expect(await api().cancel('R1')).toEqual({});
});

test('an error status becomes a BridgeError with the bridge message and issues; no bridge at all is status 0', async () => {
  answer = () => json({ error: 'options.engine: no engine "gpu-box"', issues: [{ path: 'options.engine', message: 'unknown' }] }, 422);
  const err = await api().submit({ red: {} }).catch(e => e);
  expect(err).toBeInstanceOf(BridgeError);
  expect(err).toMatchObject({ status: 422, message: 'options.engine: no engine "gpu-box"' });
  expect(err.body.issues[0].path).toBe('options.engine');
  globalThis.fetch = (() => Promise.reject(new TypeError('connection refused'))) as typeof fetch;
  const down = await api().health().catch(e => e);
  expect(down).toMatchObject({ status: 0, message: 'cannot reach the RED Lab bridge (connection refused)' });
});

test('buildImage: POST images/build with the environment, base image and engine, the raw streamed response back', async () => {
  answer = () => new Response('{"type":"build-progress","line":"Step 1/2"}\n{"type":"result","tag":"redlab-build:1","id":"i","cached":false}\n');
  const res = await api().buildImage({ environment: { requirementsTxt: 'numpy\n' }, baseImage: 'redlab/debian-python:12', engine: 'docker' });
  expect(res.ok).toBe(true);
  expect((await res.text()).split('\n')[1]).toContain('redlab-build:1');
  expect(calls[0].method).toBe('POST');
  expect(calls[0].url).toBe('http://bridge.test:8765/api/v1/images/build');
  expect(JSON.parse(calls[0].body!)).toEqual({ environment: { requirementsTxt: 'numpy\n' }, baseImage: 'redlab/debian-python:12', engine: 'docker' });
});

test('event URLs: ws(s) with the token, a run\'s events after since, every run\'s changes', () => {
  const a = api();
  expect(a.runEventsUrl('R 1', 7)).toBe('ws://bridge.test:8765/api/v1/runs/R%201/events?since=7&token=tok%20en');
  expect(a.runsEventsUrl()).toBe('ws://bridge.test:8765/api/v1/runs/events?token=tok%20en');
  const tls = new BridgeApi(new BridgeClient({ url: 'https://bridge.test', token: '' }));
  expect(tls.runsEventsUrl()).toBe('wss://bridge.test/api/v1/runs/events');
});

test('links and output downloads: the run id and output name encoded, the batch as a query', async () => {
  const a = api();
  expect(a.logUrl('R 1', 'stderr')).toBe('http://bridge.test:8765/api/v1/runs/R%201/logs?stream=stderr');
  expect(a.outputUrl('R1', 'a b.csv')).toBe('http://bridge.test:8765/api/v1/runs/R1/outputs/a%20b.csv');
  expect(a.outputUrl('R1', 'x/y', 2)).toBe('http://bridge.test:8765/api/v1/runs/R1/outputs/x%2Fy?batch=2');
  expect(a.recordUrl('R1')).toBe('http://bridge.test:8765/api/v1/runs/R1');
  answer = () => new Response('a,b\n1,2\n', { status: 206 });
  const res = await a.output('R1', 'table.csv', 0, { headers: { Range: 'bytes=0-65535' } });
  expect(await res.text()).toBe('a,b\n1,2\n');
  expect(calls[0].url).toBe('http://bridge.test:8765/api/v1/runs/R1/outputs/table.csv?batch=0');
  expect(calls[0].headers.get('range')).toBe('bytes=0-65535');
  expect(calls[0].headers.get('authorization')).toBe('Bearer tok en');
});
