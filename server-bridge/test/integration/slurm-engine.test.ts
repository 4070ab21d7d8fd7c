// The slurm engine against a real one-node Slurm (slurm-wlm + munge, started by the test on
// loopback) with Charliecloud's ch-run from Debian: the same RED as on Docker gives the same
// output bytes; batches fan out as jobs; GPUs through gres; live logs; cancel → scancel; a
// failing command; nothing of the bridge's environment reaches a job; /health's capacity.
import { execFileSync } from 'child_process';
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import YAML from 'yaml';
import { DockerEngine } from '../../src/engine/docker';
import { SlurmEngine } from '../../src/engine/slurm/slurm-engine';
import type { RunRequest } from '../../src/engine/types';
import { executedNotebookName, inferDraft } from '../../../src/notebook/infer';
import { parseRunCrate } from '../../../src/red';
import { prepare } from '../helpers/notebook';
import { runRedlab } from '../helpers/redlab-cli';
import { validateCrate } from '../helpers/rocrate-validator';
import { localInput, shRed } from '../helpers/sh-red';
import { loadRed } from '../../../src/red/validate';
import { BUSYBOX, collectEvents, crashRun, PYTHON, removeTempDirs, request, runDirs } from '../helpers/red';
import { describeWithSlurm, startSlurmCluster, type SlurmCluster } from '../helpers/slurm-cluster';

jest.setTimeout(240_000);

const REPO = path.resolve(__dirname, '../../..');

let cluster: SlurmCluster;
let engine: SlurmEngine;
let workRoot: string;

const SECRET = 'redlab-bridge-secret-7f3a9c';

describeWithSlurm()('the slurm engine on a real Slurm cluster', () => {
  beforeAll(async () => {
    cluster = await startSlurmCluster();
    workRoot = (await runDirs('redlab-slurm-work-')).workRoot;
    // Something only the engine's own process has: it must never reach a job.
    engine = new SlurmEngine({ workRoot, env: { ...cluster.env, REDLAB_TOKEN: SECRET }, pollMs: 150, logPollMs: 100 });
  });
  afterAll(async () => {
    await cluster?.stop();
    await removeTempDirs();
  });

  const red = (script: string, more = '') => `redVersion: "9"
cli:
  cwlVersion: v1.0
  class: CommandLineTool
  baseCommand: [sh, -c, ${JSON.stringify(script)}]
  inputs:
    text_file: { type: File, inputBinding: { position: 0 } }
  outputs:
    out: { type: File, outputBinding: { glob: out.txt } }
    report: { type: Directory, outputBinding: { glob: report } }
    log: { type: stdout }
  stdout: log.txt
inputs:
  text_file: { class: File, connector: { command: redlab-connector-local, access: { path: INPUT } } }
outputs: {}
container:
  engine: docker
  settings: { image: { url: ${BUSYBOX} }, ram: 256${more} }
`;

  async function setup(prefix: string, yaml: string, over: Partial<RunRequest> = {}) {
    const d = await runDirs(prefix);
    fs.writeFileSync(path.join(d.dir, 'in.txt'), 'alpha\nbeta\ngamma\n');
    return { ...d, req: request(yaml.replaceAll('INPUT', JSON.stringify(path.join(d.dir, 'in.txt'))), d.dir, { outdir: d.outdir, ...over }) };
  }

  const SCRIPT = 'set -e; wc -l < "$0" > out.txt; mkdir -p report; sort -r "$0" > report/sorted.txt; echo "counted $(cat out.txt) lines"; echo "env: $(env | sort | tr "\\n" " ")"';

  it('runs a RED as a Slurm job with ch-run: the outputs are byte for byte those of the docker engine', async () => {
    const s = await setup('redlab-slurm-same-', red(SCRIPT));
    const ev = collectEvents();
    const r = await engine.run(s.req, { onEvent: ev.onEvent });
    expect(r.error).toBeUndefined();
    expect(r.state).toBe('succeeded');
    expect(r.engine).toMatchObject({ name: 'slurm', isolated: true });
    expect(r.batches[0].job).toMatchObject({ scheduler: 'slurm', id: expect.stringMatching(/^\d+$/), state: 'COMPLETED', node: 'redlabnode' });
    expect(r.exitCode).toBe(0);
    expect(r.image.id).toMatch(/^sha256:/);
    // Live logs from the job's output file.
    expect(ev.logs('stdout')).toContain('counted 3 lines');
    expect(ev.events.some(e => e.type === 'info' && /Slurm job \d+ submitted/.test(e.message))).toBe(true);
    // Only the image's environment and HOME: none of the engine process's.
    expect(ev.logs('stdout')).not.toContain(SECRET);
    expect(ev.logs('stdout')).not.toContain('SLURM_');
    expect(fs.readFileSync(path.join(s.outdir, 'report/sorted.txt'), 'utf8')).toBe('gamma\nbeta\nalpha\n');

    const d = await setup('redlab-slurm-docker-', red(SCRIPT.replace(/; echo "env.*$/, '')));
    const viaDocker = await new DockerEngine({ workRoot: d.workRoot }).run(d.req);
    expect(viaDocker.state).toBe('succeeded');
    for (const key of ['out', 'report']) expect(r.outputs?.[key]?.sha256).toBe(viaDocker.outputs?.[key]?.sha256);
    // The work folder went with the batch; the converted image stays for the next run.
    expect(fs.readdirSync(workRoot)).toEqual(['charliecloud-images']);
  });

  it('fans a batch RED out as parallel jobs, at most `concurrency` at once', async () => {
    const batches = [0, 1, 2, 3]
      .map(n => `  - inputs: { text_file: { class: File, connector: { command: redlab-connector-local, access: { path: INPUT } } }, n: "${n}" }\n    outputs: {}`)
      .join('\n');
    const yaml = red('sleep 1; echo "$1" > out.txt; mkdir -p report; date +%s.%N > report/t', '')
      .replace('    text_file: { type: File, inputBinding: { position: 0 } }', '    text_file: { type: File, inputBinding: { position: 0 } }\n    n: { type: string, inputBinding: { position: 1 } }')
      .replace(/inputs:\n  text_file: .*\noutputs: \{\}\n/, `batches:\n${batches}\n`)
      .concat('execution:\n  engine: slurm\n  settings: { concurrency: 2 }\n');
    const s = await setup('redlab-slurm-batches-', yaml, { parallel: 4 });
    const r = await engine.run(s.req);
    expect(r.error).toBeUndefined();
    expect(r.state).toBe('succeeded');
    const ids = r.batches.map(b => b.job?.id);
    expect(new Set(ids).size).toBe(4);
    r.batches.forEach((b, i) => expect(fs.readFileSync(path.join(`${s.outdir}_${i}`, 'out.txt'), 'utf8')).toBe(`${i}\n`));
    // Two at once: batch 2 starts only after one of 0 and 1 has ended.
    const start = (i: number) => r.batches[i].startedAt as number;
    expect(Math.abs(start(0) - start(1))).toBeLessThan(1000);
    expect(start(2)).toBeGreaterThanOrEqual(Math.min(r.batches[0].endedAt as number, r.batches[1].endedAt as number) - 50);
  });

  it('gives GPUs through gres: Slurm sets CUDA_VISIBLE_DEVICES, which reaches the container', async () => {
    const s = await setup('redlab-slurm-gpu-', red('echo "gpus=$CUDA_VISIBLE_DEVICES" > out.txt; mkdir -p report', ', gpus: { vendor: nvidia, count: 2 }'));
    const r = await engine.run(s.req);
    expect(r.state).toBe('succeeded');
    expect(fs.readFileSync(path.join(s.outdir, 'out.txt'), 'utf8')).toBe('gpus=0,1\n');
    const script = execFileSync('scontrol', ['show', 'job', '-o', r.batches[0].job!.id], { env: cluster.env, encoding: 'utf8' });
    expect(script).toMatch(/TresPerNode=gres[:/]gpu:2\b/);
  });

  it('a failing command fails the batch with its exit code and the end of its stderr', async () => {
    const s = await setup('redlab-slurm-fail-', red('echo "no such thing here" >&2; exit 3'));
    const r = await engine.run(s.req);
    expect(r.state).toBe('failed');
    expect(r.exitCode).toBe(3);
    expect(r.error).toMatch(/exited with code 3; its stderr ends with:\nno such thing here/);
    expect(r.batches[0].job?.state).toBe('FAILED');
  });

  it('cancel → scancel: the job ends CANCELLED, the run cancelled, its partial outputs kept', async () => {
    const s = await setup('redlab-slurm-cancel-', red('echo started > out.txt; echo started; sleep 120'));
    const ac = new AbortController();
    const ev = collectEvents();
    const running = engine.run(s.req, {
      signal: ac.signal,
      onEvent: e => {
        ev.onEvent(e);
        if (e.type === 'log' && e.data.includes('started')) ac.abort();
      }
    });
    const r = await running;
    expect(r.state).toBe('cancelled');
    expect(r.batches[0].job?.state).toBe('CANCELLED');
    expect(r.error).toMatch(/Slurm job \d+ was cancelled \(scancel\)/);
    expect(fs.readFileSync(path.join(s.outdir, 'out.txt'), 'utf8')).toBe('started\n');
    const state = execFileSync('squeue', ['--noheader', '--states=all', '--format=%T', `--jobs=${r.batches[0].job!.id}`], { env: cluster.env, encoding: 'utf8' }).trim();
    expect(state).toBe('CANCELLED');
  });

  it('a bridge killed while its job runs: the next finds the job, follows its log on without gap or duplicate, and collects it', async () => {
    const script = 'for i in 1 2 3 4 5 6 7 8 9 10 11 12; do echo "line $i"; sleep 0.3; done; wc -l < "$0" > out.txt; mkdir -p report';
    const s = await setup('redlab-slurm-crash-', red(script));
    const yaml = red(script).replaceAll('INPUT', JSON.stringify(path.join(s.dir, 'in.txt')));
    const runId = `crash-${Date.now()}`;
    const crash = await crashRun({ red: yaml, dir: s.dir, outdir: s.outdir, workRoot, runId, labels: {}, engine: 'slurm', env: cluster.env }, c => c.stored.stdout.includes('line 3\n'));
    expect(crash.containerId).toMatch(/^\d+$/);
    // The job runs on without its bridge; a new engine (process) finds it by its comment.
    const again = new SlurmEngine({ workRoot, env: cluster.env, pollMs: 150, logPollMs: 100 });
    expect(await again.recovery.listManaged({ runId })).toEqual([expect.objectContaining({ containerId: crash.containerId, runId, batch: 0, state: 'running' })]);
    const ev = collectEvents();
    const res = await again.recovery.resumeBatch({ runId, batch: 0, loaded: loadRed(yaml), outdir: s.outdir, alreadyStored: crash.bytes, baseDir: s.dir, allowedRoots: [s.dir] }, { onEvent: ev.onEvent });
    expect(res.error).toBeUndefined();
    expect(res.state).toBe('succeeded');
    expect(res.job).toMatchObject({ id: crash.containerId, state: 'COMPLETED' });
    expect(crash.stored.stdout + ev.logs('stdout')).toBe(Array.from({ length: 12 }, (_, i) => `line ${i + 1}\n`).join(''));
    expect(fs.readFileSync(path.join(s.outdir, 'out.txt'), 'utf8')).toBe('3\n');
    expect(fs.existsSync(path.join(workRoot, runId, 'batch-0'))).toBe(false);
  });

  it('a job Slurm has forgotten by the time the bridge is back: its exit code file says how it ended', async () => {
    const s = await setup('redlab-slurm-forgot-', red('sleep 1; echo done > out.txt; mkdir -p report'));
    const yaml = red('sleep 1; echo done > out.txt; mkdir -p report').replaceAll('INPUT', JSON.stringify(path.join(s.dir, 'in.txt')));
    const runId = `forgot-${Date.now()}`;
    const crash = await crashRun({ red: yaml, dir: s.dir, outdir: s.outdir, workRoot, runId, labels: {}, engine: 'slurm', env: cluster.env }, c => !!c.containerId);
    const exitFile = path.join(workRoot, runId, 'batch-0', 'job', 'exit-code');
    for (let t = 0; t < 100 && !fs.existsSync(exitFile); t++) await new Promise(r => setTimeout(r, 100));
    // A job id Slurm does not know stands for one it forgot (MinJobAge passed while the bridge was down).
    const res = await new SlurmEngine({ workRoot, env: cluster.env, pollMs: 150 }).recovery.resumeBatch(
      { runId, batch: 0, containerId: '99999999', loaded: loadRed(yaml), outdir: s.outdir, alreadyStored: crash.bytes, baseDir: s.dir, allowedRoots: [s.dir] },
      {}
    );
    expect(res.state).toBe('succeeded');
    expect(res.job).toMatchObject({ id: '99999999', state: 'COMPLETED' });
    expect(fs.readFileSync(path.join(s.outdir, 'out.txt'), 'utf8')).toBe('done\n');
  });

  it("ch-run binds inputs writable: the container changes only its own copy, never the user's file (large files too, which are otherwise hard-linked)", async () => {
    const s = await setup('redlab-slurm-inputs-', red('echo tampered >> "$0"; echo ok > out.txt; mkdir -p report'));
    const big = path.join(s.dir, 'in.txt');
    fs.writeFileSync(big, Buffer.alloc(9 * 1024 * 1024, 7));
    const before = createHash('sha256').update(fs.readFileSync(big)).digest('hex');
    const r = await engine.run(s.req);
    expect(r.state).toBe('succeeded');
    expect((r.inputs?.text_file as { sha256: string }).sha256).toBe(before);
    expect(createHash('sha256').update(fs.readFileSync(big)).digest('hex')).toBe(before);
  });

  it('an image with a link where ch-run binds the run (/cc) is refused; nothing is written through the link on the host', async () => {
    const d = await runDirs('redlab-slurm-hostile-image-');
    const canary = path.join(d.dir, 'canary');
    fs.mkdirSync(canary);
    const tag = `redlab-test/cc-link:${Date.now()}`;
    fs.writeFileSync(path.join(d.dir, 'Dockerfile'), `FROM ${BUSYBOX}\nRUN ln -s ${canary} /cc\n`);
    execFileSync('docker', ['build', '-q', '-t', tag, d.dir]);
    try {
      const s = await setup('redlab-slurm-hostile-run-', red('true').replace(`url: ${BUSYBOX}`, `url: ${tag}`));
      const r = await engine.run(s.req);
      expect(r.state).toBe('failed');
      expect(r.error).toMatch(new RegExp(`^image ${tag}: /cc/inputs is a link \\(or not a folder\\) in the image; Charliecloud binds the run's folders there`));
      expect(fs.readdirSync(canary)).toEqual([]);
      // Nothing half-made is left for a later run to take as converted.
      expect(fs.readdirSync(path.join(workRoot, 'charliecloud-images')).filter(n => !/^[0-9a-f]{64}$/.test(n))).toEqual([]);
    } finally {
      execFileSync('docker', ['rmi', '-f', tag]);
    }
  });

  it('says what Slurm has in /health: version, nodes and free GPUs', async () => {
    const st = await engine.status();
    expect(st).toMatchObject({ available: true, version: expect.stringMatching(/^Slurm 2\d\.\d+/), capacity: { nodes: 1, nodesUp: 1, gpus: 2, gpusFree: 2 } });
    expect(st.note).toMatch(/runtime charliecloud 0\.\d+/);
  });

  it('refuses what it cannot do before anything runs, naming the field and the fix', async () => {
    const apptainer = await setup('redlab-slurm-refuse-', red('true').concat('execution:\n  engine: slurm\n  settings: { runtime: apptainer }\n'));
    const r = await engine.run(apptainer.req);
    expect(r.state).toBe('failed');
    expect(r.error).toMatch(/^execution\.settings\.runtime: RED Lab cannot start containers with apptainer on Slurm yet; use runtime: charliecloud/);
    const byMemory = await setup('redlab-slurm-refuse2-', red('true', ', gpus: { vendor: nvidia, devices: [{ vramMin: 8000 }] }'));
    expect(await engine.precheck(byMemory.req.loaded.red)).toMatchObject({ path: 'container.settings.gpus.devices' });
  });
});

describeWithSlurm()('redlab run on Slurm (the built CLI)', () => {
  let c: SlurmCluster;
  beforeAll(async () => {
    c = await startSlurmCluster();
  });
  afterAll(async () => {
    await c?.stop();
    await removeTempDirs();
  });

  it("runs the demo notebook as a Slurm job, unchanged but for execution.engine: same files as on Docker, the job id in --json and in the run record", async () => {
    const d = await runDirs('redlab-slurm-nb-');
    const notebook = JSON.parse(fs.readFileSync(path.join(REPO, 'binder/demo/demo.ipynb'), 'utf8'));
    const { draft } = inferDraft(notebook, { notebookPath: 'demo.ipynb', defaults: { image: PYTHON, ramMb: 512 } });
    Object.assign(draft.values, { samples: 40, noise: 0 });
    const redFile = prepare(d.dir, draft, notebook);
    const onDocker = await runRedlab(['run', redFile, '--outdir', path.join(d.dir, 'out-docker'), '--json', '--non-interactive', '--work-root', d.workRoot], { cwd: d.dir });
    expect(onDocker.code).toBe(0);
    // The same RED, changed only in `execution`.
    const doc = YAML.parse(fs.readFileSync(redFile, 'utf8'));
    doc.execution = { engine: 'slurm', settings: { timeLimit: '00:10:00' } };
    fs.writeFileSync(redFile, YAML.stringify(doc));
    const r = await runRedlab(['run', redFile, '--outdir', d.outdir, '--json', '--non-interactive', '--work-root', d.workRoot], { cwd: d.dir, env: c.env });
    expect(r.stderr).not.toMatch(/Traceback/);
    expect(r.code).toBe(0);
    const result = JSON.parse(r.stdout);
    expect(result.engine).toMatchObject({ name: 'slurm', isolated: true });
    const job = result.batches[0].job;
    expect(job).toMatchObject({ scheduler: 'slurm', id: expect.stringMatching(/^\d+$/), state: 'COMPLETED' });
    expect(r.stderr).toMatch(/redlab_nbrun: done in [\d.]+ s: 6 cells ran/);
    const docker = JSON.parse(onDocker.stdout);
    for (const key of ['metrics_json', 'results_csv', 'walk_svg']) expect(result.outputs[key].sha256).toBe(docker.outputs[key].sha256);
    const executed = JSON.parse(fs.readFileSync(path.join(d.outdir, executedNotebookName(draft.notebookPath)), 'utf8'));
    expect(executed.metadata.papermill).toMatchObject({ parameters: { samples: 40, noise: 0 }, exception: null });

    const crate = parseRunCrate(JSON.parse(fs.readFileSync(path.join(d.outdir, 'ro-crate-metadata.json'), 'utf8')));
    expect(crate.engine.name).toBe('slurm');
    expect(crate.job).toEqual({ scheduler: 'slurm', id: job.id, node: 'redlabnode' });
    const verdict = await validateCrate(d.outdir);
    expect(verdict.issues).toEqual([]);
  });

  it('redlab rerun of a Slurm run: on Slurm again, the image pinned by its ID, identical', async () => {
    const d = await runDirs('redlab-slurm-rerun-');
    fs.writeFileSync(path.join(d.dir, 'in.txt'), 'a\nb\n');
    const redFile = path.join(d.dir, 'r.red.yml');
    fs.writeFileSync(redFile, shRed('sort -r "$0" > out.txt; mkdir -p report; echo ok > report/r.txt', path.join(d.dir, 'in.txt')) + 'execution:\n  engine: slurm\n  settings: {}\n');
    const env = { ...c.env, REDLAB_WORK_ROOT: d.workRoot };
    const first = await runRedlab(['run', redFile, '--outdir', d.outdir, '--non-interactive'], { cwd: d.dir, env });
    expect(first.code).toBe(0);
    const again = await runRedlab(['rerun', d.outdir, '--json'], { cwd: d.dir, env });
    expect(again.code).toBe(0);
    const report = JSON.parse(again.stdout);
    expect(report.identical).toBe(true);
    expect(report.engine).toMatchObject({ before: expect.stringMatching(/^slurm Slurm 22\./), same: true });
    expect(report.image).toMatchObject({ after: expect.stringMatching(/^sha256:[0-9a-f]{64}/), same: true });
  });

  it('redlab run fans a batch RED out on Slurm by default: every batch submitted at once', async () => {
    const d = await runDirs('redlab-slurm-fanout-');
    fs.writeFileSync(path.join(d.dir, 'in.txt'), 'x\n');
    const one = `{ inputs: { text_file: ${localInput(path.join(d.dir, 'in.txt'))} }, outputs: {} }`;
    const redFile = path.join(d.dir, 'b.red.yml');
    fs.writeFileSync(redFile, shRed('sleep 1; cp "$0" out.txt; mkdir -p report', '', `batches:\n  - ${one}\n  - ${one}\n  - ${one}\n`) + 'execution:\n  engine: slurm\n  settings: {}\n');
    const r = await runRedlab(['run', redFile, '--outdir', d.outdir, '--json', '--non-interactive'], { cwd: d.dir, env: { ...c.env, REDLAB_WORK_ROOT: d.workRoot } });
    expect(r.code).toBe(0);
    const batches = JSON.parse(r.stdout).batches as { startedAt: number; endedAt: number; job: { id: string } }[];
    expect(new Set(batches.map(b => b.job.id)).size).toBe(3);
    // Two CPUs: two jobs run at once, the third waits in Slurm's queue (not in RED Lab's).
    const latestStart = Math.max(...batches.map(b => b.startedAt));
    const firstEnd = Math.min(...batches.map(b => b.endedAt));
    expect(latestStart).toBeLessThan(firstEnd);
  });

  it('a RED naming engine slurm where Slurm cannot be reached says what to do, at once', async () => {
    const d = await runDirs('redlab-slurm-none-');
    fs.writeFileSync(path.join(d.dir, 'in.txt'), 'x\n');
    const redFile = path.join(d.dir, 'r.red.yml');
    fs.writeFileSync(redFile, shRed('cat "$0" > out.txt; mkdir -p report', path.join(d.dir, 'in.txt')) + 'execution:\n  engine: slurm\n  settings: {}\n');
    const r = await runRedlab(['run', redFile, '--outdir', d.outdir, '--json', '--non-interactive', '--work-root', d.workRoot], { cwd: d.dir, env: { PATH: '/usr/local/bin:/bin', SLURM_CONF: '/nonexistent/slurm.conf' } });
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout).error).toBe('SLURM_CONF names /nonexistent/slurm.conf, which does not exist: point it at the cluster\'s slurm.conf, or unset it to use the default (/etc/slurm/slurm.conf)');
    const noSlurm = await runRedlab(['run', redFile, '--outdir', d.outdir, '--json', '--non-interactive', '--work-root', d.workRoot], { cwd: d.dir, env: { PATH: '/nonexistent' } });
    expect(JSON.parse(noSlurm.stdout).error).toMatch(/^Slurm's commands \(scontrol, sbatch\) are not on this host's PATH: run on a login node/);
  });
});
