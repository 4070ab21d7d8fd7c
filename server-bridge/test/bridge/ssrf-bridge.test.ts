// A real bridge process and a real HTTP server: red-connector-http, run by the bridge on
// the host, refuses loopback unless the operator allows it (REDLAB_ALLOW_CONNECTOR_HOSTS
// here; --allow-connector-host in the secrets tests), and refuses the bridge's own
// addresses when it listens on all of them.
import * as fs from 'fs';
import * as http from 'http';
import type { AddressInfo } from 'net';
import * as os from 'os';
import * as path from 'path';
import { startBridgeProcess, waitForRunEnd, type BridgeProcess } from './helpers/bridge-process';

const token = 'ssrf-bridge-token-0123456789abcdef';
let dataDir: string;
let server: http.Server;
let port: number;
const served: string[] = [];

function fetchRed(url: string): Record<string, unknown> {
  return {
    redVersion: '9',
    cli: { cwlVersion: 'v1.0', class: 'CommandLineTool', baseCommand: 'cat', inputs: { f: { type: 'File', inputBinding: { position: 0 } } }, outputs: {} },
    inputs: { f: { class: 'File', connector: { command: 'red-connector-http', access: { url } } } },
    outputs: {},
    container: { engine: 'docker', settings: { image: { url: 'redlab/busybox:1' }, ram: 256 } }
  };
}

/** A fresh data folder (the bridge process also starts in it). */
function sub(name: string): string {
  const d = path.join(dataDir, name);
  fs.mkdirSync(d);
  return d;
}

async function runOn(bridge: BridgeProcess, url: string): Promise<{ state: string; error?: string }> {
  const posted = await bridge.api<{ id: string }>('POST', '/runs', { red: fetchRed(url) });
  expect({ status: posted.status, body: posted.body }).toEqual({ status: 201, body: expect.anything() });
  return waitForRunEnd<{ state: string; error?: string }>(bridge, posted.body.id);
}

/** An address of this machine that is not loopback (the bridge listening on 0.0.0.0 answers there too). */
const ownAddress = Object.values(os.networkInterfaces())
  .flat()
  .find(i => i && i.family === 'IPv4' && !i.internal)?.address;

beforeAll(async () => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'redlab-ssrf-bridge-'));
  server = http.createServer((req, res) => {
    served.push(`${req.method} ${req.url ?? ''}`);
    res.end('internal only\n');
  });
  await new Promise<void>(r => server.listen(0, '0.0.0.0', r));
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise(r => server.close(r));
  fs.rmSync(dataDir, { recursive: true, force: true });
});

test('loopback is refused by default and allowed with REDLAB_ALLOW_CONNECTOR_HOSTS', async () => {
  const strict = await startBridgeProcess({ dataDir: sub('a'), token, parallel: 2 });
  try {
    const run = await runOn(strict, `http://127.0.0.1:${port}/internal.txt`);
    expect(run.state).toBe('failed');
    expect(run.error).toContain(`input f: GET http://127.0.0.1:${port}/internal.txt: refused to connect to 127.0.0.1: it is a loopback address`);
    expect(run.error).toContain('--allow-connector-host 127.0.0.1');
    expect(served).toEqual([]);
  } finally {
    await strict.kill('SIGTERM');
  }
  const allowing = await startBridgeProcess({ dataDir: sub('b'), token, env: { ...process.env, REDLAB_ALLOW_CONNECTOR_HOSTS: '127.0.0.1' } });
  try {
    expect((await runOn(allowing, `http://127.0.0.1:${port}/internal.txt`)).state).toBe('succeeded');
    expect(served).toContain('GET /internal.txt');
  } finally {
    await allowing.kill('SIGTERM');
  }
}, 90_000);

(ownAddress ? test : test.skip)("a bridge listening on 0.0.0.0 refuses its own (private) addresses", async () => {
  const open = await startBridgeProcess({ dataDir: sub('c'), token, extraArgs: ['--host', '0.0.0.0'] });
  try {
    const run = await runOn(open, `http://${ownAddress}:${port}/own.txt`);
    expect(run.state).toBe('failed');
    expect(run.error).toContain(`refused to connect to ${ownAddress}: it is an address the bridge itself listens on`);
    expect(served.filter(r => r.endsWith(' /own.txt'))).toEqual([]);
  } finally {
    await open.kill('SIGTERM');
  }
}, 60_000);
