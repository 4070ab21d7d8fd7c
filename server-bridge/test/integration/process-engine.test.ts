// The process engine (no container) where no Docker is reachable, as on mybinder.org: the demo
// notebook runs through it with the built `redlab` CLI and this machine's python3 (the project's
// .venv: `. .ci/venv.sh`); the engine's batch life (states, phases, wall-clock limit) and how a
// bridge picks its engines (createEngines) with Docker unreachable and with the real one.
import { spawn } from 'child_process';
import { createHash } from 'crypto';
import Docker from 'dockerode';
import * as fs from 'fs';
import * as path from 'path';
import { executedNotebookName, inferDraft } from '../../../src/notebook/infer';
import { createEngines } from '../../src/bridge/engines';
import { defaultConnectors } from '../../src/connectors/registry';
import { wallClockMessage } from '../../src/engine/batch';
import { PROCESS_ENGINE_NOTE, ProcessEngine } from '../../src/engine/process';
import type { Engine } from '../../src/engine/types';
import { collectEvents, PYTHON, removeTempDirs, request, runDirs, tempDir } from '../helpers/red';
import { prepare } from '../helpers/notebook';

jest.setTimeout(120_000);

const repo = path.resolve(__dirname, '../../..');
const bin = path.join(repo, 'server-bridge/bin/redlab.js');
const NO_DOCKER = 'unix:///nonexistent/redlab-test/docker.sock';

function redlab(args: string[], cwd: string, env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', d => (stdout += d));
    child.stderr.on('data', d => (stderr += d));
    child.on('error', reject);
    child.on('close', code => resolve({ code, stdout, stderr }));
  });
}

afterAll(() => removeTempDirs());

describe('the demo notebook with no Docker reachable', () => {
  it('runs through the process engine: the executed notebook and its files come back', async () => {
    const dir = await tempDir('redlab-process-nb-');
    const notebook = JSON.parse(fs.readFileSync(path.join(repo, 'binder/demo/demo.ipynb'), 'utf8'));
    const { draft } = inferDraft(notebook, { notebookPath: 'demo.ipynb', defaults: { image: PYTHON, ramMb: 512 } });
    Object.assign(draft.values, { samples: 40, noise: 0 });
    const red = prepare(dir, draft, notebook);
    const env = { DOCKER_HOST: NO_DOCKER, REDLAB_WORK_ROOT: path.join(dir, 'work') };
    const outdir = path.join(dir, 'out');

    // No Docker here indeed: the docker engine cannot run it.
    const docker = await redlab(['run', red, '--outdir', path.join(dir, 'out-docker'), '--json', '--non-interactive'], dir, env);
    expect(docker.code).toBe(1);
    expect(JSON.parse(docker.stdout).error).toMatch(/Docker/);

    const r = await redlab(['run', red, '--engine', 'process', '--outdir', outdir, '--json', '--non-interactive'], dir, env);
    expect(r.stderr).not.toMatch(/Traceback/);
    expect(r.code).toBe(0);
    const result = JSON.parse(r.stdout);
    expect(result.state).toBe('succeeded');
    expect(result.engine).toEqual({ name: 'process', isolated: false, note: PROCESS_ENGINE_NOTE });
    expect(r.stderr).toContain(`image ${PYTHON} is not used: the command runs with this machine's programs`);
    expect(result.command[0]).toBe('python3');
    expect(result.command[1]).toMatch(/\/batch-0\/inputs\/runner\/redlab_nbrun\.py$/);
    // Streamed live, as from a container.
    expect(r.stderr).toMatch(/walking 40 steps with noise 0\.0 \(seed 42\)/);
    expect(r.stderr).toMatch(/redlab_nbrun: done in [\d.]+ s: 6 cells ran; wrote demo\.executed\.ipynb/);

    expect(Object.keys(result.outputs).sort()).toEqual(['executed_notebook', 'metrics_json', 'new_files', 'results_csv', 'walk_svg']);
    const executed = JSON.parse(fs.readFileSync(path.join(outdir, executedNotebookName(draft.notebookPath)), 'utf8'));
    expect(executed.metadata.papermill).toMatchObject({ parameters: { samples: 40, noise: 0 }, exception: null });
    const code = executed.cells.filter((c: { cell_type: string }) => c.cell_type === 'code');
    expect(code.map((c: { metadata: { papermill?: { status?: string } } }) => c.metadata.papermill?.status)).toEqual(Array(code.length).fill('completed'));
    expect(JSON.parse(fs.readFileSync(path.join(outdir, 'metrics.json'), 'utf8'))).toMatchObject({ samples: 40, noise: 0, final: 0 });
    expect(fs.readFileSync(path.join(outdir, 'results.csv'), 'utf8').trim().split(/\r?\n/)).toHaveLength(41);
    // What the kernel kept in its HOME stayed out of the outputs and went with the work folder.
    expect(result.outputs.new_files).toBeNull();
    expect(fs.readdirSync(path.join(dir, 'work'))).toEqual([]);
  });
});

describe('ProcessEngine', () => {
  const yaml = (cmd: string[], outputs = '{}') => `redVersion: "9"
cli:
  cwlVersion: v1.0
  class: CommandLineTool
  baseCommand: ${JSON.stringify(cmd)}
  inputs: {}
  outputs: ${outputs}
inputs: {}
outputs: {}
container:
  engine: docker
  settings: { image: { url: ${PYTHON} } }
`;

  it('says what it is: not isolated, no GPUs, images or reattach', async () => {
    const e: Engine = new ProcessEngine();
    expect(await e.status()).toEqual({ available: true, note: 'not isolated: runs the command on this machine without a container, image or limits' });
    expect(e.capabilities).toMatchObject({ isolated: false, gpus: false, gpusByMemory: false, batches: true, cancel: true, imagePull: false, imageBuilds: false, bindMounts: true, reattach: false, stats: false, sessions: false });
    expect(e.recovery).toBeUndefined();
    expect(e.images).toBeUndefined();
  });

  it('emits the batch states and phases as the docker engine does', async () => {
    const { dir, workRoot } = await runDirs('redlab-process-states-');
    const ev = collectEvents();
    const res = await new ProcessEngine({ workRoot }).run(request(yaml(['sh', '-c', 'echo out; echo err >&2; echo x > a.txt'], '{ a: { type: File, outputBinding: { glob: a.txt } } }'), dir), { onEvent: ev.onEvent });
    expect(res.state).toBe('succeeded');
    expect(ev.events.filter(e => e.type === 'batch-state').map(e => (e as { state: string }).state)).toEqual(['preparing', 'running', 'collecting', 'succeeded']);
    expect(ev.events.filter(e => e.type === 'phase').map(e => `${(e as { phase: string }).phase}:${(e as { status: string }).status}`)).toEqual([
      'staging:start',
      'staging:end',
      'running:start',
      'running:end',
      'collecting:start',
      'collecting:end'
    ]);
    expect([ev.logs('stdout'), ev.logs('stderr')]).toEqual(['out\n', 'err\n']);
    expect(res.outputs?.a).toMatchObject({ size: 2, sha256: createHash('sha256').update('x\n').digest('hex') });
    expect(fs.readFileSync(path.join(dir, 'outputs', 'a.txt'), 'utf8')).toBe('x\n');
  });

  it('stops the command at the wall-clock limit (SIGTERM to its group) and fails saying so', async () => {
    const { dir, workRoot } = await runDirs('redlab-process-limit-');
    const t = Date.now();
    const res = await new ProcessEngine({ workRoot }).run(request(yaml(['sleep', '30']), dir, { wallClockLimitMs: 700 }), {});
    expect(Date.now() - t).toBeLessThan(5000);
    expect([res.state, res.error]).toEqual(['failed', wallClockMessage(700)]);
  });

  it('names literal /cc/outputs and /cc/inputs arguments by their places in the work folder', async () => {
    const { dir, workRoot } = await runDirs('redlab-process-literal-');
    const res = await new ProcessEngine({ workRoot }).run(
      request(yaml(['sh', '-c', 'echo hi > "$0/x.txt"; echo "$1" > in.txt', '/cc/outputs', '/cc/inputs/k/f'], '{ x: { type: File, outputBinding: { glob: x.txt } }, i: { type: File, outputBinding: { glob: in.txt } } }'), dir, { runId: 'lit' }),
      {}
    );
    expect(res.state).toBe('succeeded');
    expect(res.command?.slice(3)).toEqual([path.join(workRoot, 'lit/batch-0/outputs'), path.join(workRoot, 'lit/batch-0/inputs/k/f')]);
    expect(fs.readFileSync(path.join(dir, 'outputs', 'x.txt'), 'utf8')).toBe('hi\n');
  });

  it('fails a command that cannot be started, saying why', async () => {
    const { dir, workRoot } = await runDirs('redlab-process-nostart-');
    const res = await new ProcessEngine({ workRoot }).run(request(yaml(['./no-such-tool']), dir), {});
    expect([res.state, res.error]).toEqual(['failed', 'the command ./no-such-tool could not be started on this machine: spawn ./no-such-tool ENOENT']);
  });

  it('refuses GPUs before the run is queued and when run', async () => {
    const { dir, workRoot } = await runDirs('redlab-process-gpu-');
    const req = request(yaml(['true']).replace('settings: {', 'settings: { gpus: { vendor: nvidia, count: 1 },'), dir);
    const e = new ProcessEngine({ workRoot });
    expect(await e.precheck(req.loaded.red)).toEqual({
      path: 'container.settings.gpus',
      message: 'the process engine cannot give a command GPUs (it runs without a container)',
      fix: 'remove container.settings.gpus, or run the RED on the docker engine'
    });
    const res = await e.run(req, {});
    expect([res.state, res.error]).toEqual([
      'failed',
      'container.settings.gpus: the process engine cannot give a command GPUs (it runs without a container); remove container.settings.gpus, or run the RED on the docker engine'
    ]);
  });
});

describe('createEngines', () => {
  const deps = async () => ({ workRoot: path.join(await tempDir('redlab-engines-'), 'work'), connectors: defaultConnectors() });

  it('makes the process engine the default when Docker is unreachable and no engines are named, and says so', async () => {
    const logged: string[] = [];
    const reg = await createEngines({}, { ...(await deps()), docker: new Docker({ socketPath: '/nonexistent/redlab-test/docker.sock' }), log: m => logged.push(m) });
    expect(reg.names).toEqual(['docker', 'process']);
    expect(reg.defaultName).toBe('process');
    expect(logged).toHaveLength(1);
    expect(logged[0]).toMatch(/^Docker is not reachable \(.+\): runs go to the "process" engine, which runs each command directly on this machine, without a container, image or limits \(not isolated\)/);
    const infos = await reg.infos();
    expect(infos.map(i => [i.name, i.available])).toEqual([
      ['process', true],
      ['docker', false]
    ]);
  });

  it('has docker only, as the default, when Docker answers', async () => {
    const logged: string[] = [];
    const reg = await createEngines({}, { ...(await deps()), log: m => logged.push(m) });
    expect([reg.names, reg.defaultName, logged]).toEqual([['docker'], 'docker', []]);
  });

  it('takes the engines and the default named, and never adds process on its own then', async () => {
    const unreachable = new Docker({ socketPath: '/nonexistent/redlab-test/docker.sock' });
    const both = await createEngines({ engines: ['docker', 'process'] }, await deps());
    expect([both.names, both.defaultName]).toEqual([['docker', 'process'], 'docker']);
    const chosen = await createEngines({ engines: ['docker', 'process'], defaultEngine: 'process' }, await deps());
    expect(chosen.defaultName).toBe('process');
    const dockerOnly = await createEngines({ engines: ['docker'] }, { ...(await deps()), docker: unreachable });
    expect([dockerOnly.names, dockerOnly.defaultName]).toEqual([['docker'], 'docker']);
    await expect(createEngines({ engines: ['podman'] }, await deps())).rejects.toThrow('there is no engine "podman"; the engines are docker, docker-ssh, process, slurm, kubernetes');
  });
});
