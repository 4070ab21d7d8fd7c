// A bridge started where Docker cannot be reached (mybinder.org): it takes the process engine
// as its default, says so in its log and in /health, and runs a RED there; REDLAB_ENGINES=docker
// keeps it off. The built `redlab bridge` in a child process (`npm run build -w server-bridge`).
import { mkdtemp, realpath, rm } from 'fs/promises';
import * as os from 'os';
import * as path from 'path';
import { postRun, shRed, startBridgeProcess, waitForRunEnd, type BridgeProcess } from './helpers/bridge-process';

jest.setTimeout(90_000);

const TOKEN = 'process-engine-token-0123456789';
const NO_DOCKER = { DOCKER_HOST: 'unix:///nonexistent/redlab-test/docker.sock' };

let dataDir: string;
let bridge: BridgeProcess | undefined;
beforeEach(async () => {
  dataDir = await realpath(await mkdtemp(path.join(os.tmpdir(), 'redlab-process-bridge-')));
});
afterEach(async () => {
  await bridge?.kill('SIGTERM');
  bridge = undefined;
  await rm(dataDir, { recursive: true, force: true });
});

type Health = { engines: Array<{ name: string; available: boolean; note?: string; capabilities: { isolated: boolean } }>; defaultEngine: string };

describe('a bridge with no Docker reachable', () => {
  it('runs on the process engine by default, and says so in its log, /health and the run record', async () => {
    bridge = await startBridgeProcess({ dataDir, token: TOKEN, env: { ...process.env, ...NO_DOCKER, REDLAB_ENGINES: '', REDLAB_DEFAULT_ENGINE: '' } });
    expect(bridge.output()).toContain('Docker is not reachable');
    expect(bridge.output()).toContain('runs go to the \\"process\\" engine');
    const health = (await bridge.api<Health>('GET', '/health')).body;
    expect(health.defaultEngine).toBe('process');
    expect(health.engines.map(e => [e.name, e.available, e.capabilities.isolated])).toEqual([
      ['process', true, false],
      ['docker', false, true]
    ]);
    expect(health.engines[0].note).toBe('not isolated: runs the command on this machine without a container, image or limits');

    const id = await postRun(bridge, { red: shRed('echo "hello from $(basename "$PWD")"') });
    const run = await waitForRunEnd<{ state: string; result: { engine?: { name: string; isolated: boolean }; outputs: Record<string, { size: number }> } }>(bridge, id);
    expect(run.state).toBe('succeeded');
    expect(run.result.engine).toMatchObject({ name: 'process', isolated: false });
    expect(run.result.outputs.out.size).toBe('hello from outputs\n'.length);
  });

  it('keeps the process engine off when REDLAB_ENGINES names docker only', async () => {
    bridge = await startBridgeProcess({ dataDir, token: TOKEN, env: { ...process.env, ...NO_DOCKER, REDLAB_ENGINES: 'docker', REDLAB_DEFAULT_ENGINE: '' } });
    expect(bridge.output()).not.toContain('Docker is not reachable');
    const health = (await bridge.api<Health>('GET', '/health')).body;
    expect([health.defaultEngine, health.engines.map(e => e.name)]).toEqual(['docker', ['docker']]);
  });
});
