// The bridge behind jupyter-server-proxy, as JupyterLab (and Binder) reach it:
// a real `jupyter server` starts the bridge through the Python package's entry
// point on first use and serves it at <base_url>/redlab-bridge/, behind Jupyter's
// own token. Needs `pip install -e .` (done by .ci/setup).
import { spawn, spawnSync, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import WebSocket from 'ws';
import { waitFor } from './helpers/bridge-process';

const jupyterToken = 'jupyter-test-token-0123456789';
let jupyter: ChildProcess | undefined;
let base: string;
let root: string;
let log = '';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

const hasJupyter = spawnSync('jupyter', ['server', '--version'], { stdio: 'ignore' }).status === 0;

beforeAll(async () => {
  if (!hasJupyter) throw new Error('jupyter server is not installed: run bash .ci/setup (pip install -e .)');
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'redlab-proxy-'));
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  jupyter = spawn('jupyter', ['server', '--no-browser', `--port=${port}`, '--ip=127.0.0.1', `--ServerApp.token=${jupyterToken}`, `--ServerApp.root_dir=${root}`, '--allow-root'], {
    // The bridge keeps its store under the test's folder, not the user's data dir.
    env: { ...process.env, XDG_DATA_HOME: path.join(root, '.data'), REDLAB_TOKEN: '' },
    stdio: ['ignore', 'pipe', 'pipe']
  });
  jupyter.stdout!.on('data', d => (log += d));
  jupyter.stderr!.on('data', d => (log += d));
  await waitFor('jupyter server', async () => ((await fetch(`${base}/api/status`, { headers: { Authorization: `token ${jupyterToken}` } }).catch(() => undefined))?.ok ? true : undefined), 60_000, 250);
}, 90_000);

afterAll(async () => {
  if (jupyter && jupyter.exitCode === null) {
    jupyter.kill('SIGTERM');
    await new Promise(r => jupyter!.once('exit', r));
  }
  if (root) fs.rmSync(root, { recursive: true, force: true });
});

const auth = { Authorization: `token ${jupyterToken}` };

test('Jupyter starts the bridge on first use and proxies the API behind its own auth', async () => {
  const health = await fetch(`${base}/redlab-bridge/api/v1/health`, { headers: auth });
  if (health.status !== 200) throw new Error(`status ${health.status}: ${await health.text()}\n${log}`);
  const body = (await health.json()) as { status: string; docker: { reachable: boolean } };
  expect(body.status).toBe('ok');
  expect(body.docker.reachable).toBe(true);

  // Without Jupyter's token the proxy itself refuses; the bridge token never reached the browser.
  // (Jupyter answers an anonymous browser with a redirect to its login page.)
  const anonymous = await fetch(`${base}/redlab-bridge/api/v1/health`, { redirect: 'manual' });
  expect([302, 401, 403]).toContain(anonymous.status);
  if (anonymous.status === 302) expect(anonymous.headers.get('location')).toMatch(/\/login/);
}, 90_000);

test('runs and their event WebSocket work through the proxy', async () => {
  const red = {
    redVersion: '9',
    cli: { cwlVersion: 'v1.0', class: 'CommandLineTool', baseCommand: 'echo', inputs: { w: { type: 'string', inputBinding: { position: 0 } } }, outputs: {} },
    inputs: { w: 'through the proxy' },
    outputs: {},
    container: { engine: 'docker', settings: { image: { url: 'redlab/busybox:1' }, ram: 256 } }
  };
  const res = await fetch(`${base}/redlab-bridge/api/v1/runs`, { method: 'POST', headers: { ...auth, 'Content-Type': 'application/json' }, body: JSON.stringify({ red }) });
  expect(res.status).toBe(201);
  const { id } = (await res.json()) as { id: string };
  const events: { event: { type: string; data?: string; state?: string } }[] = [];
  await new Promise<void>((resolve, reject) => {
    const ws = new WebSocket(`${base.replace('http', 'ws')}/redlab-bridge/api/v1/runs/${id}/events?since=0`, { headers: auth });
    ws.on('message', m => events.push(JSON.parse(String(m))));
    ws.on('close', () => resolve());
    ws.on('error', reject);
  });
  expect(events.filter(e => e.event.type === 'log').map(e => e.event.data).join('')).toBe('through the proxy\n');
  expect(events.some(e => e.event.type === 'state' && e.event.state === 'succeeded')).toBe(true);
}, 90_000);
