// A real bridge process on the real Docker engine, asked for more RAM than the engine
// has (`docker info` MemTotal): refused at submission with 422, naming both numbers
// and the fix, and nothing is stored or started. Absurd RAM is an invalid RED (422).
import Docker from 'dockerode';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { shRed, startBridgeProcess, type BridgeProcess } from './helpers/bridge-process';

const token = 'ram-limit-test-token-0123456789abcdef';
let bridge: BridgeProcess;
let dataDir: string;
let memTotal: number;

beforeAll(async () => {
  memTotal = (await new Docker().info()).MemTotal;
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'redlab-ram-'));
  bridge = await startBridgeProcess({ dataDir, token, parallel: 1 });
}, 60_000);
afterAll(async () => {
  await bridge?.kill('SIGTERM');
  fs.rmSync(dataDir, { recursive: true, force: true });
});

const withRam = (ram: number) => {
  const red = shRed('echo never') as { container: { settings: Record<string, unknown> } };
  red.container.settings.ram = ram;
  return red;
};

interface Refusal {
  error: string;
  fix?: string;
  issues?: { path: string; message: string; fix?: string }[];
}

test('more RAM than the engine has: 422 at submission naming the request, MemTotal and the fix; nothing stored', async () => {
  const memMb = Math.floor(memTotal / (1024 * 1024));
  const r = await bridge.api<Refusal>('POST', '/runs', { red: withRam(memMb + 1) });
  expect(r.status).toBe(422);
  expect(r.body.error).toContain(`container.settings.ram asks for ${memMb + 1} MB`);
  expect(r.body.error).toContain(`the Docker engine's memory of ${memMb} MB`);
  expect(r.body.error).toContain(`docker info MemTotal ${memTotal} bytes`);
  expect(r.body.fix).toBe(`lower container.settings.ram to at most ${memMb} (MB), or run it on an engine with more memory`);
  expect(r.body.issues).toEqual([{ path: 'container.settings.ram', message: r.body.error, fix: r.body.fix, severity: 'error' }]);
  expect((await bridge.api<{ runs: unknown[] }>('GET', '/runs')).body.runs).toEqual([]);
}, 30_000);

test('ram: 1e12 is an invalid RED (422) with the range', async () => {
  const r = await bridge.api<Refusal>('POST', '/runs', { red: withRam(1e12) });
  expect(r.status).toBe(422);
  expect(r.body.issues).toEqual([
    expect.objectContaining({ path: 'container.settings.ram', message: 'must be at most 67108864, found 1000000000000', fix: expect.stringContaining('from 256 to 67108864') })
  ]);
  expect((await bridge.api<{ runs: unknown[] }>('GET', '/runs')).body.runs).toEqual([]);
}, 30_000);

test('the engine memory itself is accepted', async () => {
  const memMb = Math.floor(memTotal / (1024 * 1024));
  const r = await bridge.api<{ id: string }>('POST', '/runs', { red: withRam(memMb) });
  expect(r.status).toBe(201);
  await bridge.api('DELETE', `/runs/${r.body.id}`);
}, 30_000);
