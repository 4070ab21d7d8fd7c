// A bridge with a Docker host over SSH (REDLAB_DOCKER_HOST=ssh://…): /health lists the
// docker-ssh engine beside docker, a run that names it runs on the remote host (its
// outputs come back here), and a bridge SIGKILLed mid-run takes the remote container
// up again after a restart and ends the run with a complete log and its outputs.
// Real parts: the built `redlab bridge`, a second dockerd behind a real sshd
// (test/helpers/remote-docker), both stopped at the end.
import Docker from 'dockerode';
import { mkdtemp, realpath, rm } from 'fs/promises';
import * as os from 'os';
import * as path from 'path';
import { remoteDockerUnavailable, startRemoteDocker, type RemoteDocker } from '../helpers/remote-docker';
import { countingRed, expectedLines, postRun, startBridgeProcess, waitFor, waitForRunEnd, type BridgeProcess } from './helpers/bridge-process';

jest.setTimeout(180_000);

const unavailable = remoteDockerUnavailable();
if (unavailable) console.warn(`\n*** SKIPPING the docker-ssh bridge tests: ${unavailable} ***\n`);
const describeIfPossible = unavailable ? describe.skip : describe;

const TOKEN = 'docker-ssh-bridge-token-0123456789';

type Health = { engines: Array<{ name: string; available: boolean; version?: string; capabilities: { bindMounts: boolean; reattach: boolean } }>; defaultEngine: string };
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
    expect(run.result?.engine).toEqual({ name: 'docker-ssh', isolated: true, note: `Docker on ${rd.dockerHost} over SSH` });
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
});
