// Container sessions through the real bridge (startBridge: RunManager + SessionManager on the
// real Docker engine, the HTTP/WebSocket API): POST /sessions, `x = 41` then `print(x + 1)`,
// "42\n" read live and in order from the events WebSocket and from executions?wait=true,
// a field refused by the service through the route, DELETE stops the container.
import * as fs from 'fs';
import * as path from 'path';
import { WebSocket } from 'ws';
import type { SessionEventMessage } from '../../../src/red';
import { resolveBridgeOptions } from '../../src/bridge/config';
import { startBridge, type RunningBridge } from '../../src/bridge/start';
import { LABEL_SESSION } from '../../src/engine/host-config';
import { PYTHON, dockerTestFile, tempDir } from '../helpers/red';

jest.setTimeout(120_000);

const { docker } = dockerTestFile();
const TOKEN = 'session-api-test-token-0123456789';
let bridge: RunningBridge;
let root: string;

beforeAll(async () => {
  root = await tempDir('redlab-it-session-api-root-');
  fs.mkdirSync(path.join(root, 'nb'));
  const dataDir = await tempDir('redlab-it-session-api-data-');
  const opts = resolveBridgeOptions({ port: 0, dataDir, logLevel: 'silent', engines: 'docker', sessionIdleTimeout: 0 }, { REDLAB_TOKEN: TOKEN }, root);
  bridge = await startBridge(opts, { version: 'test', stderr: process.stderr });
});

afterAll(async () => {
  const ids = bridge?.sessions.list().map(s => s.id) ?? [];
  await bridge?.stop();
  // stop() leaves session containers running for the next start to reattach: this test's go.
  for (const id of ids) {
    for (const c of await docker.listContainers({ all: true, filters: { label: [`${LABEL_SESSION}=${id}`] } })) await docker.getContainer(c.Id).remove({ force: true }).catch(() => undefined);
  }
});

async function api(method: string, route: string, body?: unknown): Promise<{ status: number; headers: Headers; json: any }> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const res = await fetch(`${bridge.url}/api/v1${route}`, {
    method,
    headers: { authorization: `Bearer ${TOKEN}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body)
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, json: text ? JSON.parse(text) : undefined };
}

/** The session's events socket, its messages as they come, and a wait for one that matches. */
function events(id: string): Promise<{ ws: WebSocket; messages: SessionEventMessage[]; until(p: (m: SessionEventMessage) => boolean): Promise<SessionEventMessage> }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${bridge.url.replace(/^http/, 'ws')}/api/v1/sessions/${id}/events?since=0&token=${TOKEN}`);
    const messages: SessionEventMessage[] = [];
    const waiting = new Set<() => void>();
    ws.on('message', data => {
      messages.push(JSON.parse(String(data)));
      for (const w of [...waiting]) w();
    });
    ws.on('error', reject);
    ws.on('open', () =>
      resolve({
        ws,
        messages,
        until: p =>
          new Promise((res, rej) => {
            const timer = setTimeout(() => rej(new Error(`no such event in 60 s; got ${JSON.stringify(messages).slice(-2000)}`)), 60_000);
            const check = () => {
              const m = messages.find(p);
              if (!m) return;
              clearTimeout(timer);
              waiting.delete(check);
              res(m);
            };
            waiting.add(check);
            check();
          })
      })
    );
  });
}

test('a session through the bridge: state kept across cells, "42\\n" live on the WebSocket and from executions?wait=true; DELETE stops it', async () => {
  // The service checks the fields, through the route: 422 naming the field; the route refuses unknown keys (400).
  const badRam = await api('POST', '/sessions', { image: PYTHON, notebookPath: 'nb/a.ipynb', ram: '512' });
  expect(badRam.status).toBe(422);
  expect(badRam.json.error).toMatch(/^ram: /);
  const typo = await api('POST', '/sessions', { image: PYTHON, notebookPath: 'nb/a.ipynb', gpu: 1 });
  expect(typo.status).toBe(400);
  expect(typo.json.error).toMatch(/unknown key "gpu"/);

  const created = await api('POST', '/sessions', { image: PYTHON, notebookPath: 'nb/a.ipynb' });
  expect(created.status).toBe(201);
  const id: string = created.json.id;
  expect(created.headers.get('location')).toBe(`/api/v1/sessions/${id}`);
  const again = await api('POST', '/sessions', { image: PYTHON, notebookPath: 'nb/a.ipynb' });
  expect(again.status).toBe(200);
  expect(again.json.id).toBe(id);

  const ev = await events(id);
  const first = await api('POST', `/sessions/${id}/execute`, { code: 'x = 41', cellId: 'c1' });
  expect(first.status).toBe(202);
  expect(first.headers.get('location')).toBe(`/api/v1/sessions/${id}/executions/${first.json.executionId}`);
  const second = await api('POST', `/sessions/${id}/execute`, { code: 'print(x + 1)', cellId: 'c2' });
  expect(second.status).toBe(202);
  const e1: string = first.json.executionId;
  const e2: string = second.json.executionId;

  // Live, on the socket: the second cell's output, then its end.
  const done = await ev.until(m => m.type === 'execution' && m.executionId === e2 && m.state === 'ok');
  const seqs = ev.messages.map(m => m.seq);
  expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => i + 1));
  const at = (p: (m: SessionEventMessage) => boolean) => ev.messages.findIndex(p);
  const firstOk = at(m => m.type === 'execution' && m.executionId === e1 && m.state === 'ok');
  const secondRunning = at(m => m.type === 'execution' && m.executionId === e2 && m.state === 'running');
  const outputs = ev.messages.filter(m => m.type === 'output' && m.executionId === e2);
  const output = at(m => m.type === 'output' && m.executionId === e2);
  expect(firstOk).toBeGreaterThanOrEqual(0);
  expect(firstOk).toBeLessThan(secondRunning);
  expect(secondRunning).toBeLessThan(output);
  expect(output).toBeLessThan(ev.messages.indexOf(done));
  expect(outputs.map(m => m.type === 'output' && m.output)).toEqual([{ output_type: 'stream', name: 'stdout', text: '42\n' }]);
  expect(ev.messages.filter(m => m.type === 'output' && m.executionId === e1)).toEqual([]);
  expect(done).toMatchObject({ cellId: 'c2', executionCount: 2 });

  // The record, waited for (already final here) and as it is.
  const record = await api('GET', `/sessions/${id}/executions/${e2}?wait=true`);
  expect(record.status).toBe(200);
  expect(record.json).toMatchObject({ id: e2, sessionId: id, cellId: 'c2', code: 'print(x + 1)', state: 'ok', executionCount: 2, outputs: [{ output_type: 'stream', name: 'stdout', text: '42\n' }] });
  expect(record.json.outputHashes).toHaveLength(1);

  // A wait that has to wait: the record comes once the cell has ended.
  const slow = await api('POST', `/sessions/${id}/execute`, { code: 'import time; time.sleep(0.5); print(x)' });
  const waited = await api('GET', `/sessions/${id}/executions/${slow.json.executionId}?wait=true`);
  expect(waited.json).toMatchObject({ state: 'ok', outputs: [{ output_type: 'stream', name: 'stdout', text: '41\n' }] });

  const info = await api('GET', `/sessions/${id}`);
  expect(info.json).toMatchObject({ id, state: 'idle', executionCount: 3, notebookPath: 'nb/a.ipynb' });
  expect((await api('GET', '/sessions')).json.sessions.map((s: { id: string }) => s.id)).toContain(id);

  const containers = () => docker.listContainers({ all: true, filters: { label: [`${LABEL_SESSION}=${id}`] } });
  expect(await containers()).toHaveLength(1);
  const stopped = await api('DELETE', `/sessions/${id}`);
  expect(stopped.status).toBe(200);
  expect(stopped.json).toMatchObject({ id, state: 'stopped' });
  await ev.until(m => m.type === 'session' && m.session.state === 'stopped');
  expect(await containers()).toEqual([]);
  const refused = await api('POST', `/sessions/${id}/execute`, { code: 'print(1)' });
  expect(refused.status).toBe(409);
  ev.ws.close();
});
