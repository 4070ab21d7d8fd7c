// The bridge process takes its limits against slow clients from REDLAB_* variables
// (HTTP_LIMIT_VARIABLES): a set headers timeout closes a trickling socket, and a value
// that is not a whole number stops the start naming the variable.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { startBridgeProcess, type BridgeProcess } from './helpers/bridge-process';

const token = 'http-timeouts-env-token-0123456789abcdef';
const bin = path.resolve(__dirname, '../../bin/redlab.js');
const dirs: string[] = [];
let bridge: BridgeProcess | undefined;
const dataDir = () => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'redlab-httpenv-'));
  dirs.push(d);
  return d;
};
afterAll(async () => {
  await bridge?.kill('SIGTERM');
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

test('REDLAB_HEADERS_TIMEOUT_MS=1500 closes a socket that trickles its headers; the API answers', async () => {
  bridge = await startBridgeProcess({ dataDir: dataDir(), token, env: { ...process.env, REDLAB_HEADERS_TIMEOUT_MS: '1500' } });
  const { hostname, port } = new URL(bridge.url);
  const t0 = Date.now();
  const socket = net.connect({ host: hostname, port: Number(port), allowHalfOpen: true });
  let received = '';
  socket.on('data', d => (received += d));
  socket.on('error', () => undefined);
  const closed = new Promise<number>(resolve => socket.on('close', () => resolve(Date.now() - t0)));
  socket.write('GET /api/v1/health HTTP/1.1\r\nHost: x\r\nX-Slow: ');
  const trickle = setInterval(() => !socket.destroyed && socket.write('a'), 300);
  expect((await bridge.api('GET', '/health')).status).toBe(200);
  const after = await Promise.race([closed, new Promise<number>(r => setTimeout(() => r(-1), 15_000))]);
  clearInterval(trickle);
  socket.destroy();
  expect(after).toBeGreaterThan(1000);
  expect(after).toBeLessThan(10_000);
  expect(received).toMatch(/^HTTP\/1\.1 408 /);
}, 40_000);

test('a bad value stops the start and names the variable', () => {
  const r = spawnSync(process.execPath, [bin, 'bridge', '--port', '0', '--data-dir', dataDir()], {
    env: { ...process.env, REDLAB_TOKEN: token, REDLAB_MAX_UNAUTHENTICATED_CONNECTIONS: 'lots' },
    encoding: 'utf8',
    timeout: 20_000
  });
  expect(r.status).not.toBe(0);
  expect(r.stderr).toContain('REDLAB_MAX_UNAUTHENTICATED_CONNECTIONS must be a whole number from 1 to 2147483647, not lots');
}, 30_000);
