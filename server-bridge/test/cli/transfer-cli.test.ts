// `redlab run` (the built binary) with an HTTP input from a real server on loopback:
// progress lines (bytes, total, rate, time left) while a big input arrives; the input
// cache across runs (--input-cache DIR: the second run asks the server and does not
// download; --no-input-cache downloads); a bad setting named with its fix.
// The process engine runs the command, so no container is needed for what is tested here.
import { randomBytes } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { startTestServer, type TestServer } from '../helpers/http-server';
import { removeTempDirs, tempDir } from '../helpers/red';
import { runRedlab } from '../helpers/redlab-cli';

jest.setTimeout(120_000);

const SIZE = 4 * 1024 * 1024;
let server: TestServer;
let dir: string;
beforeAll(async () => {
  // 64 KiB every 40 ms: about 2.6 s for the file, long enough for progress lines.
  server = await startTestServer({ files: { '/big.bin': randomBytes(SIZE) }, validators: true, slowChunkMs: { '/big.bin': 40 } });
});
afterAll(async () => {
  await server.close();
  await removeTempDirs();
});
beforeEach(async () => {
  dir = await tempDir('redlab-transfer-cli-');
});

const red = () => `redVersion: "9"
cli:
  cwlVersion: v1.0
  class: CommandLineTool
  baseCommand: [sh, -c, 'wc -c < "$0"']
  inputs:
    data: { type: File, inputBinding: { position: 0 } }
  outputs: {}
inputs:
  data:
    class: File
    connector: { command: red-connector-http, access: { url: "${server.url}/big.bin" } }
outputs: {}
container:
  engine: docker
  settings: { image: { url: redlab/busybox:1 }, ram: 256 }
`;

function run(...flags: string[]) {
  const file = path.join(dir, 'exp.red.yml');
  fs.writeFileSync(file, red());
  return runRedlab(['run', file, '--engine', 'process', '--non-interactive', '--allow-connector-host', '127.0.0.1', '--outdir', path.join(dir, 'out'), ...flags], {
    cwd: dir,
    env: { REDLAB_WORK_ROOT: path.join(dir, 'work'), REDLAB_INPUT_CACHE: '', REDLAB_INPUT_CACHE_MAX_BYTES: '' }
  });
}
const gets = () => server.requests.filter(r => r.method === 'GET').length;

it('shows the progress of a big input (bytes of the total, rate, time left), then the input cache serves the rerun', async () => {
  const cache = path.join(dir, 'cache');
  const g0 = gets();
  const first = await run('--input-cache', cache);
  expect(first.stderr).toMatch(/^redlab: input data: [\d.]+ (KiB|MiB) of 4\.0 MiB \(\d+%\), [\d.]+ (KiB|MiB)\/s, [\d.]+ (ms|s) left$/m);
  expect(first.stderr).toMatch(/^redlab: input data: 4\.0 MiB received \([\d.]+ (KiB|MiB)\/s\)$/m);
  expect(first.stdout).toContain(String(SIZE));
  expect(first.code).toBe(0);
  expect(gets()).toBe(g0 + 1);

  const second = await run('--input-cache', cache);
  expect(second.code).toBe(0);
  expect(second.stderr).toMatch(/^redlab: input data: from the input cache \(4194304 bytes, sha256 [0-9a-f]{12}…; http:\/\/127\.0\.0\.1:\d+\/big\.bin is unchanged\)$/m);
  expect(second.stderr).not.toMatch(/input data: .* received/);
  expect(second.stdout).toContain(String(SIZE));
  expect(gets()).toBe(g0 + 1);

  const third = await run('--input-cache', cache, '--no-input-cache');
  expect(third.code).toBe(0);
  expect(third.stderr).not.toContain('from the input cache');
  expect(gets()).toBe(g0 + 2);
});

it('names a bad setting with its fix', async () => {
  const bad = await run('--input-cache-max-bytes', 'lots');
  expect(bad.code).toBe(2);
  expect(bad.stderr).toContain('redlab: --input-cache-max-bytes must be a size in bytes, optionally with K, M, G or T (e.g. 20G), not "lots"');
  const zero = await run('--parallel-transfers', '0');
  expect(zero.code).toBe(2);
  expect(zero.stderr).toContain('--parallel-transfers');
});
