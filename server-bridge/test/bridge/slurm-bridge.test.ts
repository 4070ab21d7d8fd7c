// The bridge with the slurm engine (REDLAB_ENGINES=docker,slurm) on a real one-node Slurm:
// /health's capacity, a RED whose execution.engine names slurm going there without the
// panel naming an engine, GPUs left to Slurm's gres, and a bridge SIGKILLed while the job
// runs: the restarted bridge follows the job to its end (complete log, the output). The
// built `redlab bridge` (npm run build -w server-bridge) in a child process.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { describeWithSlurm, startSlurmCluster, type SlurmCluster } from '../helpers/slurm-cluster';
import { countingRed, expectedLines, postRun, shRed, startBridgeProcess, waitFor, waitForRunEnd, type BridgeProcess } from './helpers/bridge-process';

jest.setTimeout(180_000);

const TOKEN = 'slurm-bridge-token-0123456789abcd';
let cluster: SlurmCluster;
let dataDir: string;
let bridge: BridgeProcess | undefined;

type Run = { state: string; error?: string; result: { engine?: { name: string }; batches: { job?: { scheduler: string; id: string; node?: string } }[] } };

const onSlurm = (red: Record<string, unknown>) => ({ ...red, execution: { engine: 'slurm', settings: {} } });

describeWithSlurm()('a bridge with the slurm engine', () => {
  beforeAll(async () => {
    cluster = await startSlurmCluster();
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'redlab-slurm-bridge-'));
  });
  afterEach(async () => {
    await bridge?.kill('SIGTERM');
    bridge = undefined;
  });
  afterAll(async () => {
    await cluster?.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  const start = (engines = 'docker,slurm') => startBridgeProcess({ dataDir, token: TOKEN, env: { ...process.env, ...cluster.env, REDLAB_ENGINES: engines, REDLAB_DEFAULT_ENGINE: '' } });

  it("lists Slurm's capacity in /health and runs a RED that names slurm there, GPUs given by gres", async () => {
    bridge = await start();
    const health = (await bridge.api<{ engines: { name: string; available: boolean; version?: string; capacity?: unknown; capabilities: { reattach: boolean; schedulesGpus?: boolean } }[]; defaultEngine: string }>('GET', '/health')).body;
    expect(health.defaultEngine).toBe('docker');
    const slurm = health.engines.find(e => e.name === 'slurm');
    expect(slurm).toMatchObject({ available: true, version: expect.stringMatching(/^Slurm 22\./), capacity: { nodes: 1, nodesUp: 1, gpus: 2, gpusFree: 2 }, capabilities: { reattach: true, schedulesGpus: true } });

    // No options.engine: the RED's execution.engine says where; this machine has no GPU, the cluster's gres has two.
    const id = await postRun(bridge, { red: onSlurm(shRed('echo "gpus $CUDA_VISIBLE_DEVICES"', { gpus: { count: 1 } })) });
    const run = await waitForRunEnd<Run>(bridge, id);
    expect(run.error).toBeUndefined();
    expect(run.state).toBe('succeeded');
    expect(run.result.engine?.name).toBe('slurm');
    expect(run.result.batches[0].job).toMatchObject({ scheduler: 'slurm', id: expect.stringMatching(/^\d+$/), node: 'redlabnode' });
    const out = await fetch(`${bridge.url}/api/v1/runs/${id}/outputs/out`, { headers: { Authorization: `Bearer ${TOKEN}` } });
    expect(await out.text()).toBe('gpus 0\n');
  });

  it('SIGKILLed while the job runs: the restarted bridge follows the job to its end, log complete, output collected', async () => {
    bridge = await start();
    const id = await postRun(bridge, { red: onSlurm(countingRed(30, 0.1, 'sl')) });
    await waitFor('some of the log', async () => {
      const log = await fetch(`${bridge!.url}/api/v1/runs/${id}/logs?stream=stdout&batch=0`, { headers: { Authorization: `Bearer ${TOKEN}` } });
      return (await log.text()).split('\n').length > 5 ? true : undefined;
    });
    await bridge.kill('SIGKILL');
    bridge = await start();
    const run = await waitForRunEnd<Run>(bridge, id);
    expect(run.error).toBeUndefined();
    expect(run.state).toBe('succeeded');
    const log = await fetch(`${bridge.url}/api/v1/runs/${id}/logs?stream=stdout&batch=0`, { headers: { Authorization: `Bearer ${TOKEN}` } });
    expect(await log.text()).toBe(expectedLines(30, 'sl'));
    const out = await fetch(`${bridge.url}/api/v1/runs/${id}/outputs/result`, { headers: { Authorization: `Bearer ${TOKEN}` } });
    expect(await out.text()).toBe('sl done\n');
  });

  it('a bridge without the slurm engine refuses such a RED, saying how to start one', async () => {
    bridge = await start('docker');
    const r = await bridge.api<{ error: string; fix: string }>('POST', '/runs', { red: onSlurm(shRed('true')) });
    expect(r.status).toBe(422);
    expect(r.body.error).toBe('execution.engine: there is no engine "slurm" in this bridge; it has "docker"');
    expect(r.body.fix).toBe('start the bridge with it (REDLAB_ENGINES=docker,slurm), or choose another engine for this run (options.engine)');
  });
});
