// A bridge killed (SIGKILL) or drained (SIGTERM) while a run whose command finished
// collects its outputs: the container stays until the batch's result is recorded, so
// the next bridge on the same data dir collects the batch again, and the run ends
// succeeded with its outputs and whole log (not "the container vanished"). The pause
// in the collecting state comes from the test-only REDLAB_TEST_PAUSE_COLLECT_MS.
// Real bridge processes, real Docker, real SQLite file.
import { execFileSync } from 'child_process';
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { countingRed, expectedLines, postRun, startBridgeProcess, waitFor, waitForRunEnd, type BridgeProcess } from './helpers/bridge-process';

const token = 'recovery-collect-token-0123456789ab';
const LINES = 5;

interface RunRecord {
  id: string;
  state: string;
  error?: string;
  batches: { state: string; containerId?: string; outputs?: Record<string, { sha256: string; size: number } | null> }[];
  history: { batch: number | null; state: string }[];
}

let dataDir: string;
let bridge: BridgeProcess | undefined;
const containers: string[] = [];

beforeEach(() => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'redlab-recollect-'));
});
afterEach(async () => {
  await bridge?.kill('SIGKILL');
  bridge = undefined;
  for (const id of containers.splice(0)) execFileSync('docker', ['rm', '-f', id], { stdio: 'ignore' });
  fs.rmSync(dataDir, { recursive: true, force: true });
});

const containerExists = (id: string) => execFileSync('docker', ['ps', '-aq', '--no-trunc', '--filter', `id=${id}`]).toString().trim() === id;

for (const signal of ['SIGKILL', 'SIGTERM'] as const) {
  test(`${signal} while outputs are collected: after a restart the run ends succeeded with its outputs`, async () => {
    const tag = `col-${signal}`;
    bridge = await startBridgeProcess({ dataDir, token, parallel: 1, env: { ...process.env, REDLAB_TEST_PAUSE_COLLECT_MS: '60000' } });
    const id = await postRun(bridge, { red: countingRed(LINES, 0.01, tag) });
    const collecting = await waitFor('the batch to be collecting', async () => {
      const r = (await bridge!.api<RunRecord>('GET', `/runs/${id}`)).body;
      return r.batches[0]?.state === 'collecting' ? r : undefined;
    });
    const containerId = collecting.batches[0].containerId!;
    containers.push(containerId);
    await bridge.kill(signal);
    bridge = undefined;
    // The command finished, but its container stays until the result is recorded.
    expect(containerExists(containerId)).toBe(true);

    bridge = await startBridgeProcess({ dataDir, token, parallel: 1 });
    const done = await waitForRunEnd<RunRecord>(bridge!, id, 'the run to finish after the restart');
    expect({ state: done.state, error: done.error }).toEqual({ state: 'succeeded', error: undefined });
    const out = await fetch(`${bridge.url}/api/v1/runs/${id}/outputs/result`, { headers: { Authorization: `Bearer ${token}` } });
    expect(out.status).toBe(200);
    const body = Buffer.from(await out.arrayBuffer());
    expect(body.toString()).toBe(`${tag} done\n`);
    expect(out.headers.get('etag')).toBe(`"${createHash('sha256').update(body).digest('hex')}"`);
    const log = await fetch(`${bridge.url}/api/v1/runs/${id}/logs?stream=stdout&batch=0`, { headers: { Authorization: `Bearer ${token}` } });
    expect(await log.text()).toBe(expectedLines(LINES, tag));
    // Recorded, then the container and the work folder went.
    await waitFor('the container to be removed', async () => (containerExists(containerId) ? undefined : true), 10_000);
    expect(fs.existsSync(path.join(dataDir, 'work', id))).toBe(false);
  }, 120_000);
}

test('a batch recorded just before a SIGKILL keeps its result; the container and work folder it left are removed on the restart', async () => {
  bridge = await startBridgeProcess({ dataDir, token, parallel: 1 });
  const red = {
    redVersion: '9',
    cli: {
      cwlVersion: 'v1.0',
      class: 'CommandLineTool',
      baseCommand: ['sh', '-c'],
      inputs: { script: { type: 'string', inputBinding: { position: 0 } } },
      outputs: { word: { type: 'File', outputBinding: { glob: 'word.txt' } } }
    },
    batches: [{ inputs: { script: 'echo zero > word.txt' } }, { inputs: { script: 'sleep 3; echo one > word.txt' } }],
    container: { engine: 'docker', settings: { image: { url: 'redlab/busybox:1' }, ram: 256 } }
  };
  const id = await postRun(bridge, { red });
  // Batch 0's result is stored as soon as it has it, while batch 1 still runs.
  const mid = await waitFor('batch 0 recorded while batch 1 runs', async () => {
    const r = (await bridge!.api<RunRecord>('GET', `/runs/${id}`)).body;
    return r.batches[0]?.state === 'succeeded' && r.batches[1]?.containerId && !['succeeded', 'failed'].includes(r.batches[1].state) ? r : undefined;
  });
  expect(mid.batches[0].outputs?.word).toMatchObject({ size: 5 });
  containers.push(mid.batches[1].containerId!);
  // As if it had died between recording batch 0 and removing what batch 0 left.
  const labels = ['org.redlab.managed=true', `org.redlab.run=${id}`, 'org.redlab.batch=0', 'org.redlab.bridge=true'].flatMap(l => ['--label', l]);
  const leftover = execFileSync('docker', ['create', ...labels, 'redlab/busybox:1', 'true']).toString().trim();
  containers.push(leftover);
  const leftWork = path.join(dataDir, 'work', id, 'batch-0', 'outputs');
  fs.mkdirSync(leftWork, { recursive: true });
  fs.writeFileSync(path.join(leftWork, 'word.txt'), 'zero\n');
  await bridge.kill('SIGKILL');

  bridge = await startBridgeProcess({ dataDir, token, parallel: 1 });
  const done = await waitForRunEnd<RunRecord>(bridge!, id, 'the run to finish after the restart');
  expect({ state: done.state, error: done.error }).toEqual({ state: 'succeeded', error: undefined });
  for (const [batch, word] of [[0, 'zero'], [1, 'one']] as const) {
    const out = await fetch(`${bridge.url}/api/v1/runs/${id}/outputs/word?batch=${batch}`, { headers: { Authorization: `Bearer ${token}` } });
    expect(await out.text()).toBe(`${word}\n`);
  }
  expect(containerExists(leftover)).toBe(false);
  expect(fs.existsSync(path.join(dataDir, 'work', id))).toBe(false);
}, 120_000);
