// The reported attack on a real bridge: the container replaces the folder
// `cli.stdout: sub/pwn.txt` names with a link to a host folder, then the bridge is
// SIGKILLed or drained (SIGTERM) and restarted. The restarted bridge (root) must not
// create pwn.txt in the host folder; the run fails naming the link.
// Real bridge processes, real Docker, real SQLite file.
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { postRun, shRed, startBridgeProcess, waitFor, waitForRunEnd, type BridgeProcess } from './helpers/bridge-process';

const token = 'hostile-resume-token-0123456789abcd';

let dataDir: string;
let host: string;
let bridge: BridgeProcess | undefined;
const containers: string[] = [];

beforeEach(() => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'redlab-hostile-bridge-'));
  host = fs.mkdtempSync(path.join(os.tmpdir(), 'redlab-host-'));
  fs.writeFileSync(path.join(host, 'keep.txt'), 'host file');
});
afterEach(async () => {
  await bridge?.kill('SIGKILL');
  bridge = undefined;
  for (const id of containers.splice(0)) execFileSync('docker', ['rm', '-f', id], { stdio: 'ignore' });
  fs.rmSync(dataDir, { recursive: true, force: true });
  fs.rmSync(host, { recursive: true, force: true });
});

/** Its stdout goes to sub/pwn.txt; it plants the link `sub` -> `hostDir` first. */
const pwnRed = (hostDir: string) => shRed(`rm -rf sub && ln -s ${hostDir} sub && echo armed && sleep 2 && echo pwned`, { stdout: 'sub/pwn.txt' });

interface RunRecord {
  state: string;
  error?: string;
  batches: { containerId?: string; logBytes: { stdout: number } }[];
}

for (const signal of ['SIGKILL', 'SIGTERM'] as const) {
  test(`${signal}, restart: the host folder a planted link names is not written, the run fails naming the link`, async () => {
    bridge = await startBridgeProcess({ dataDir, token, parallel: 1 });
    const id = await postRun(bridge, { red: pwnRed(host) });
    const armed = await waitFor('the link to be planted', async () => {
      const r = (await bridge!.api<RunRecord>('GET', `/runs/${id}`)).body;
      return r.batches[0]?.containerId && r.batches[0].logBytes.stdout > 0 ? r : undefined;
    });
    containers.push(armed.batches[0].containerId!);
    await bridge.kill(signal);

    bridge = await startBridgeProcess({ dataDir, token, parallel: 1 });
    const done = await waitForRunEnd<RunRecord>(bridge!, id, 'the run to finish after the restart');
    expect(done.state).toBe('failed');
    expect(done.error).toContain(`cli.stdout: the command's stdout could not be written to sub/pwn.txt in the outputs folder: sub is a symbolic link (to ${host})`);
    expect(fs.readdirSync(host)).toEqual(['keep.txt']);
    expect(fs.readFileSync(path.join(host, 'keep.txt'), 'utf8')).toBe('host file');
  }, 120_000);
}
