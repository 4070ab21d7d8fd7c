// A bridge with a Docker host over SSH (REDLAB_DOCKER_HOST=ssh://…): /health lists the
// docker-ssh engine beside docker, a run that names it runs on the remote host (its
// outputs come back here), and a bridge SIGKILLed mid-run takes the remote container
// up again after a restart and ends the run with a complete log and its outputs. GPUs
// are per engine: the remote host's (a stand-in nvidia-smi there) go to docker-ssh runs only.
// Real parts: the built `redlab bridge`, a second dockerd behind a real sshd
// (test/helpers/remote-docker), both stopped at the end.
import Docker from 'dockerode';
import { mkdtemp, realpath, rm } from 'fs/promises';
import * as os from 'os';
import * as path from 'path';
import { remoteDockerUnavailable, startRemoteDocker, type RemoteDocker } from '../helpers/remote-docker';
import { countingRed, expectedLines, postRun, shRed, startBridgeProcess, waitFor, waitForRunEnd, type BridgeProcess } from './helpers/bridge-process';

jest.setTimeout(180_000);

const unavailable = remoteDockerUnavailable();
if (unavailable) console.warn(`\n*** SKIPPING the docker-ssh bridge tests: ${unavailable} ***\n`);
const describeIfPossible = unavailable ? describe.skip : describe;

const TOKEN = 'docker-ssh-bridge-token-0123456789';

type Health = { engines: Array<{ name: string; available: boolean; version?: string; gpus?: Array<{ name: string }>; capabilities: { bindMounts: boolean; reattach: boolean } }>; defaultEngine: string };
type Record = { state: string; result?: { engine?: { name: string; isolated: boolean; note?: string }; outputs: { [k: string]: { size: number; sha256: string } } }; batches?: Array<{ containerId?: string }> };

describeIfPossible('a bridge with a Docker host over SSH', () => {
  let rd: RemoteDocker;
  let remote: Docker;
  let dataDir: string;
  let env: NodeJS.ProcessEnv;
  let bridge: BridgeProcess | undefined;

  beforeAll(async () => {
    rd = await startRemoteDocker();
    remote = new Docker({ socketPath: rd.socketPath });
  });
  beforeEach(async () => {
    dataDir = await realpath(await mkdtemp(path.join(os.tmpdir(), 'redlab-dockerssh-bridge-')));
    // An empty HOME and no agent: only the fixture's key and known_hosts.
    env = {
      ...process.env,
      HOME: dataDir,
      SSH_AUTH_SOCK: '',
      REDLAB_ENGINES: '',
      REDLAB_DEFAULT_ENGINE: '',
      REDLAB_DOCKER_HOST: rd.dockerHost,
      REDLAB_SSH_IDENTITY: rd.identityFile,
      REDLAB_SSH_KNOWN_HOSTS: rd.knownHostsFile
    };
  });
  afterEach(async () => {
    await bridge?.kill('SIGTERM');
    bridge = undefined;
    await rm(dataDir, { recursive: true, force: true });
  });
  afterAll(async () => {
    await rd?.stop();
  });

  it('lists docker-ssh in /health and runs a RED that names it on the remote host', async () => {
    bridge = await startBridgeProcess({ dataDir, token: TOKEN, env });
    const health = (await bridge.api<Health>('GET', '/health')).body;
    expect(health.defaultEngine).toBe('docker');
    const ssh = health.engines.find(e => e.name === 'docker-ssh');
    expect(ssh).toMatchObject({ available: true, version: (await remote.version()).Version, capabilities: { bindMounts: false, reattach: true } });

    const id = await postRun(bridge, { red: countingRed(5, 0.01, 'ssh'), options: { engine: 'docker-ssh', labels: { 'org.redlab.test': 'docker-ssh-bridge' } } });
    const run = await waitForRunEnd<Record>(bridge, id);
    expect(run.state).toBe('succeeded');
    expect(run.result?.engine).toEqual({ name: 'docker-ssh', isolated: true, note: `Docker on ${rd.dockerHost} over SSH: inputs are copied there, outputs back` });
    expect(run.result?.outputs.result.size).toBe('ssh done\n'.length);
    // It ran there: the remote engine has seen the image run (its container is removed now).
    expect(await remote.listContainers({ all: true, filters: { label: ['org.redlab.test=docker-ssh-bridge'] } })).toEqual([]);
    expect(bridge.output()).not.toMatch(/BEGIN OPENSSH PRIVATE KEY/);
  });

  it('SIGKILLed mid-run, a restarted bridge takes the remote container up again: complete log, outputs back here', async () => {
    bridge = await startBridgeProcess({ dataDir, token: TOKEN, env });
    const lines = 60;
    const id = await postRun(bridge, { red: countingRed(lines, 0.05, 'crash'), options: { engine: 'docker-ssh' } });
    const logOf = async (b: BridgeProcess) =>
      (await fetch(`${b.url}/api/v1/runs/${id}/logs?stream=stdout&batch=0`, { headers: { Authorization: `Bearer ${TOKEN}` } })).text();
    await waitFor('some of the log', async () => ((await logOf(bridge!)).split('\n').length > 8 ? true : undefined), 60_000);
    await bridge.kill('SIGKILL');
    const running = await remote.listContainers({ filters: { label: [`org.redlab.run=${id}`] } });
    expect(running).toHaveLength(1); // it runs on without its bridge

    bridge = await startBridgeProcess({ dataDir, token: TOKEN, env });
    const run = await waitForRunEnd<Record>(bridge, id);
    expect(run.state).toBe('succeeded');
    expect(await logOf(bridge)).toBe(expectedLines(lines, 'crash'));
    expect(run.result?.outputs.result.size).toBe('crash done\n'.length);
    await waitFor('the remote container to be removed', async () =>
      (await remote.listContainers({ all: true, filters: { label: [`org.redlab.run=${id}`] } })).length === 0 ? true : undefined
    );
  });

  it('GPUs are per engine: the remote host\'s go to docker-ssh runs, a local run asking for one is refused at once', async () => {
    const csv = '0, GPU-0e0e0e0e-1111-4222-8333-444455556666, NVIDIA H100 80GB HBM3, 81559, 3';
    // A stand-in nvidia-smi there only: a tmpfs over /usr/local/bin in the remote host's private mount namespace.
    await rd.shell(
      `mountpoint -q /usr/local/bin || mount -t tmpfs -o size=1m,mode=755 redlab-nvsmi /usr/local/bin; printf '#!/bin/sh\\ncat <<EOF\\n${csv}\\nEOF\\n' > /usr/local/bin/nvidia-smi; chmod 755 /usr/local/bin/nvidia-smi`
    );
    bridge = await startBridgeProcess({ dataDir, token: TOKEN, env });
    const health = (await bridge.api<Health>('GET', '/health')).body;
    expect(health.engines.find(e => e.name === 'docker-ssh')?.gpus).toEqual([expect.objectContaining({ index: 0, name: 'NVIDIA H100 80GB HBM3', memoryTotalMb: 81559 })]);
    expect(health.engines.find(e => e.name === 'docker')?.gpus).toEqual([]);

    const gpuRed = shRed('nvidia-smi', { gpus: { count: 1 } });
    const local = await bridge.api<{ id: string; state: string }>('POST', '/runs', { red: gpuRed, options: { engine: 'docker' } });
    expect(local.body.state).toBe('failed');
    const localRun = (await bridge.api<{ error: string }>('GET', `/runs/${local.body.id}`)).body;
    expect(localRun.error).toMatch(/^the RED asks for 1 GPU, but nvidia-smi lists no GPUs on this machine/);
    // Two GPUs are more than the remote host has: refused at once, naming that host.
    const two = await bridge.api<{ id: string; state: string }>('POST', '/runs', { red: shRed('true', { gpus: { count: 2 } }), options: { engine: 'docker-ssh' } });
    expect(two.body.state).toBe('failed');
    expect((await bridge.api<{ error: string }>('GET', `/runs/${two.body.id}`)).body.error).toBe(
      `the RED asks for 2 GPUs, but ${rd.dockerHost} has 1 GPU: #0 NVIDIA H100 80GB HBM3 (81559 MB)`
    );

    // On docker-ssh the bridge gives it the remote GPU; the remote Docker (no NVIDIA toolkit) refuses, and says what to do.
    const id = await postRun(bridge, { red: gpuRed, options: { engine: 'docker-ssh' } });
    const run = await waitForRunEnd<Record & { error?: string }>(bridge, id);
    expect(run.state).toBe('failed');
    expect(run.error).toContain('this Docker engine cannot give containers NVIDIA GPUs');
    expect(run.error).toContain('could not select device driver "nvidia"');
  });
});
