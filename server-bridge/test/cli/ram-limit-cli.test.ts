// `redlab run` and `redlab validate` (the built binary, a real Docker engine) with RAM
// requests the engine cannot meet: more than `docker info` MemTotal fails before any
// container, absurd ones are bad input; each names the numbers and the fix.
import { execFile } from 'child_process';
import Docker from 'dockerode';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const repo = path.resolve(__dirname, '../../..');
const bin = path.join(repo, 'server-bridge/bin/redlab.js');
const hello = JSON.parse(fs.readFileSync(path.join(__dirname, 'fixtures', 'hello.red.json'), 'utf8'));

function redlab(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise(resolve => {
    execFile(process.execPath, [bin, ...args], { cwd: repo }, (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? null) : 0, stdout, stderr }));
  });
}

let tmp: string;
let memTotal: number;
beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'redlab-cli-ram-'));
  memTotal = (await new Docker().info()).MemTotal;
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** hello.red.json with this ram, written to a file. */
function redWithRam(ram: string): string {
  const file = path.join(tmp, `ram-${ram}.red.json`);
  fs.writeFileSync(file, JSON.stringify(hello, null, 2).replace('"ram": 256', `"ram": ${ram}`));
  return file;
}

describe('redlab run with more RAM than the engine has', () => {
  it('fails before any container, naming the request, the engine memory and the fix', async () => {
    const memMb = Math.floor(memTotal / (1024 * 1024));
    const r = await redlab(['run', redWithRam(String(memMb + 1)), '--outdir', path.join(tmp, 'over'), '--json']);
    expect(r.code).toBe(1);
    const result = JSON.parse(r.stdout);
    expect(result.state).toBe('failed');
    expect(result.error).toContain(`asks for ${memMb + 1} MB`);
    expect(result.error).toContain(`docker info MemTotal ${memTotal} bytes`);
    expect(result.error).toContain(`lower container.settings.ram to at most ${memMb} (MB)`);
    expect(result.batches.every((b: { containerId?: string }) => b.containerId === undefined)).toBe(true);
    expect(r.stderr).toContain(`at most ${memMb} (MB)`);
    expect(r.stderr).not.toMatch(/running|pull/i);
  }, 30_000);

  it('1e12 MB is bad input: validate and run both refuse it with the range', async () => {
    const file = redWithRam('1e12');
    const v = await redlab(['validate', file]);
    expect(v.code).toBe(1);
    expect(v.stderr).toMatch(/container\.settings\.ram: must be at most 67108864, found 1000000000000\n\s+fix: ram is in MB, a whole number from 256 to 67108864/);
    const r = await redlab(['run', file, '--outdir', path.join(tmp, 'absurd')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('container.settings.ram: must be at most 67108864, found 1000000000000');
  }, 30_000);
});
