// The API on the real RunManager and DockerEngine: a RED submitted as YAML runs in
// Docker; its events stream over the WebSocket until the run is final (close 1000),
// its log and its stdout output are served; a long run is cancelled with DELETE.
import { createDockerClient } from '../../src/engine/docker-client';
import type { RunStore } from '../../src/store';
import { HELLO_YAML, TOKEN, call, openWs, startRunManagerApp, type RunManagerApp } from './helpers/api';

let app: RunManagerApp;
let store: RunStore;
let url: string;
const docker = createDockerClient({});

beforeAll(async () => {
  app = await startRunManagerApp('redlab-api-rm-', docker);
  ({ store, url } = app);
});
afterAll(() => app.close());

test('submit YAML, follow the events to the end, read the log and the output', async () => {
  const sub = await call(url, 'POST', '/api/v1/runs', { body: HELLO_YAML, headers: { 'content-type': 'application/yaml' } });
  expect(sub.status).toBe(201);
  const id = sub.json.id as string;
  const ws = await openWs(`${url.replace('http', 'ws')}/api/v1/runs/${id}/events?since=0&token=${TOKEN}`);
  const { code } = await ws.closed;
  expect(code).toBe(1000);
  const seqs = ws.messages.map(m => m.seq);
  expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => i + 1));
  expect(ws.messages.at(-1)!.event).toMatchObject({ type: 'state', state: 'succeeded' });
  expect(ws.messages.filter(m => m.event.type === 'log').map(m => m.event.data).join('')).toBe('hello world\n');

  const run = await call(url, 'GET', `/api/v1/runs/${id}`);
  expect(run.json).toMatchObject({ id, state: 'succeeded', result: { state: 'succeeded' } });
  const log = await call(url, 'GET', `/api/v1/runs/${id}/logs`);
  expect(log.text).toBe('hello world\n');
  const out = await call(url, 'GET', `/api/v1/runs/${id}/outputs/out`);
  expect(out.status).toBe(200);
  expect(out.text).toBe('hello world\n');
  expect(out.headers.get('content-disposition')).toMatch(/filename="out\.txt"/);
  expect(out.headers.get('content-type')).toBe('text/plain; charset=utf-8');
}, 120_000);

test('DELETE cancels a running run (202); the event socket closes with 1000 after "cancelled"', async () => {
  const red = HELLO_YAML.replace('baseCommand: echo', 'baseCommand: sleep').replace('some_string: hello world', 'some_string: "300"');
  const sub = await call(url, 'POST', '/api/v1/runs', { body: red, headers: { 'content-type': 'application/yaml' } });
  expect(sub.status).toBe(201);
  const id = sub.json.id as string;
  const ws = await openWs(`${url.replace('http', 'ws')}/api/v1/runs/${id}/events?token=${TOKEN}`);
  for (let i = 0; i < 300 && store.getSummary(id)!.state !== 'running'; i++) await new Promise(r => setTimeout(r, 100));
  expect(store.getSummary(id)!.state).toBe('running');
  const del = await call(url, 'DELETE', `/api/v1/runs/${id}`);
  expect(del.status).toBe(202);
  expect(del.json.state).toBe('cancelled');
  expect((await ws.closed).code).toBe(1000);
  expect(ws.messages.at(-1)!.event).toMatchObject({ type: 'state', state: 'cancelled' });
  const purge = await call(url, 'DELETE', `/api/v1/runs/${id}?purge=1`);
  expect(purge.status).toBe(204);
}, 120_000);
