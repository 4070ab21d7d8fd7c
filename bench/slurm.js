#!/usr/bin/env node
// Benchmark: what the Slurm engine adds per job. On one real one-node Slurm started here
// (server-bridge/test/helpers/slurm-cluster.sh, stopped at the end, on failure and on Ctrl-C),
// with redlab/busybox:1 converted for Charliecloud once up front (untimed), 20 trivial jobs
// (`sh -c 'echo x > out.txt'`) one after another:
//   (a)  the job script's ch-run line run directly (sh job.sh, no Slurm)
//   (b)  the same script through `sbatch --wait`
//   (b') the same script through `sbatch` + squeue every 50 ms: when Slurm has the job
//        COMPLETED, as soon as a client can see it (sbatch --wait first sleeps 2 s, so (b)
//        is never under 2 s a job and would hide up to a second of ours)
//   (c)  `redlab run --engine slurm --parallel 1` of a 20-batch RED (staging, collection,
//        hashing and the run record included, Node's start-up too)
// and the fan-out: (d) the same RED with --parallel 20 vs 20 sbatch at once, waited for.
// The scripts of (a) and (b) are made by the engine's own builder (server-bridge/lib, from
// `npm run build -w server-bridge`). Target: (c)-(b') ≤ 1 s a job, the stricter of the two
// baselines; the exit code says whether it held. Needs root, slurm-wlm, munge, charliecloud
// (bash .ci/setup) and the image redlab/busybox:1 (bash .ci/base-images.sh).
'use strict';
const { spawn, spawnSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { median, now, root } = require('./lib');

const JOBS = 20;
// One round takes about 2 minutes (sbatch --wait alone: 2 s a job).
const rounds = Number(process.env.BENCH_ROUNDS || 1);
const POLL_MS = 50;
const TARGET_MS = 1000;
const IMAGE = 'redlab/busybox:1';
const REDLAB = path.join(root, 'server-bridge/bin/redlab.js');
const CLUSTER_SH = path.join(root, 'server-bridge/test/helpers/slurm-cluster.sh');
const BUILT = path.join(root, 'server-bridge/lib/server-bridge/src/engine/slurm');

for (const f of ['job-script.js', 'slurm-cli.js']) {
  if (!fs.existsSync(path.join(BUILT, f))) {
    console.error(`bench/slurm.js needs the built engine (${path.join(BUILT, f)}): run npm run build -w server-bridge`);
    process.exit(2);
  }
}
const { buildJobScript } = require(path.join(BUILT, 'job-script.js'));
const { SlurmCli, isFinalJobState } = require(path.join(BUILT, 'slurm-cli.js'));

// Short: munge's socket path must fit in a sockaddr_un.
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rl-bench-slurm-'));
const clusterDir = path.join(tmp, 'c');
const workRoot = path.join(tmp, 'w');
const jobsDir = path.join(tmp, 'jobs');
const runsDir = path.join(tmp, 'runs');
for (const d of [workRoot, jobsDir, runsDir]) fs.mkdirSync(d, { mode: 0o700 });

let clusterStarted = false;
function cleanUp() {
  if (clusterStarted) {
    clusterStarted = false;
    const r = spawnSync('bash', [CLUSTER_SH, 'stop', clusterDir], { stdio: ['ignore', 'ignore', 'inherit'], timeout: 60_000 });
    if (r.status !== 0) console.error(`bench/slurm.js: stopping the cluster failed; stop it with: bash ${CLUSTER_SH} stop ${clusterDir}`);
  }
  fs.rmSync(tmp, { recursive: true, force: true });
}
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => {
    console.error(`bench/slurm.js: ${sig}, stopping the cluster`);
    cleanUp();
    process.exit(130);
  });
}

/** Runs a command; resolves with its stdout, rejects with the end of its stderr. */
function exec(cmd, args, opts = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
    let out = '';
    let err = '';
    child.stdout.on('data', d => (out += d));
    child.stderr.on('data', d => (err += d));
    child.on('error', reject);
    child.on('close', code =>
      code === 0 ? resolve(out) : reject(new Error(`${cmd} ${args.join(' ')} exited ${code}: ${(err || out).trim().split('\n').slice(-8).join('\n')}`))
    );
  });
}

const sleep = ms => new Promise(r => setTimeout(r, ms));

let env;
let slurmEnv;

/** The RED: `sh -c 'echo x > out.txt' N`, one batch per N, out.txt collected. */
function writeRed(file, batches) {
  const list = Array.from({ length: batches }, (_, n) => `  - inputs: {n: "${n}"}\n    outputs: {}`).join('\n');
  fs.writeFileSync(
    file,
    `redVersion: "9"
cli:
  cwlVersion: v1.0
  class: CommandLineTool
  baseCommand: [sh, -c, 'echo x > out.txt']
  inputs:
    n: {type: string, inputBinding: {position: 0}}
  outputs:
    out: {type: File, outputBinding: {glob: out.txt}}
batches:
${list}
container:
  engine: docker
  settings:
    image: {url: "${IMAGE}"}
    ram: 256
`
  );
  return file;
}

/** 20 job folders and scripts as the engine makes them for a batch (not timed). */
function prepareJobs(name, imageDir) {
  return Array.from({ length: JOBS }, (_, i) => {
    const dir = path.join(jobsDir, `${name}-${i}`);
    const d = { inputs: path.join(dir, 'inputs'), outputs: path.join(dir, 'outputs'), tmp: path.join(dir, 'tmp'), job: path.join(dir, 'job') };
    for (const p of Object.values(d)) fs.mkdirSync(p, { recursive: true, mode: 0o700 });
    const script = path.join(d.job, 'job.sh');
    fs.writeFileSync(
      script,
      buildJobScript({
        jobName: `redlab-bench-${name}-${i}`,
        comment: `org.redlab.run=bench-${name},org.redlab.batch=${i}`,
        command: ['sh', '-c', 'echo x > out.txt', String(i)],
        imageDir,
        inputsDir: d.inputs,
        outputsDir: d.outputs,
        tmpDir: d.tmp,
        stdoutFile: path.join(d.job, 'stdout'),
        stderrFile: path.join(d.job, 'stderr'),
        exitFile: path.join(d.job, 'exit-code'),
        workDir: dir,
        ramMb: 256,
        settings: {}
      }),
      { mode: 0o700 }
    );
    return { dir, script, out: path.join(d.outputs, 'out.txt') };
  });
}

function checkOut(file, what) {
  const text = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : undefined;
  if (text !== 'x\n') throw new Error(`${what}: ${file} is ${text === undefined ? 'missing' : JSON.stringify(text)}, not "x\\n"`);
}

async function submit(script) {
  const id = (await exec('sbatch', ['--parsable', script], { env: slurmEnv })).trim().split(';')[0];
  if (!/^\d+$/.test(id)) throw new Error(`sbatch answered ${JSON.stringify(id)}, not a job id`);
  return id;
}

/** Polls squeue every POLL_MS until every job is in a final state; fails unless all COMPLETED. */
async function waitAll(ids) {
  const left = new Set(ids);
  for (;;) {
    const text = await exec('squeue', ['--noheader', '--states=all', '--format=%i|%T', `--jobs=${[...left].join(',')}`], { env: slurmEnv });
    for (const line of text.split('\n')) {
      const [id, state] = line.trim().split('|');
      if (!left.has(id) || !state || !isFinalJobState(state)) continue;
      if (state !== 'COMPLETED') throw new Error(`job ${id} ended ${state}`);
      left.delete(id);
    }
    if (!left.size) return;
    await sleep(POLL_MS);
  }
}

async function redlabRun(name, parallel) {
  const red = writeRed(path.join(runsDir, `${name}.red.yml`), JOBS);
  const outdir = path.join(runsDir, name, 'o');
  const t0 = now();
  const json = await exec(process.execPath, [REDLAB, 'run', red, '--engine', 'slurm', '--parallel', String(parallel), '--non-interactive', '--json', '--outdir', outdir], { cwd: runsDir, env });
  const ms = now() - t0;
  const result = JSON.parse(json);
  if (result.state !== 'succeeded') throw new Error(`redlab run ${name}: ${result.state}: ${result.error}`);
  for (let i = 0; i < JOBS; i++) checkOut(`${outdir}_${i}/out.txt`, `redlab run ${name}`);
  return { ms, result };
}

// One round: every case once, in the same order, on the same cluster.
const cases = {
  '(a)  ch-run direct (sh job.sh)': async (r, imageDir) => {
    const jobs = prepareJobs(`a${r}`, imageDir);
    const t0 = now();
    for (const j of jobs) await exec('sh', [j.script], { cwd: j.dir, env: slurmEnv });
    const ms = now() - t0;
    jobs.forEach(j => checkOut(j.out, 'ch-run'));
    return { ms };
  },
  '(b)  sbatch --wait': async (r, imageDir) => {
    const jobs = prepareJobs(`b${r}`, imageDir);
    const t0 = now();
    for (const j of jobs) await exec('sbatch', ['--wait', '--quiet', j.script], { env: slurmEnv });
    const ms = now() - t0;
    jobs.forEach(j => checkOut(j.out, 'sbatch --wait'));
    return { ms };
  },
  [`(b') sbatch + squeue/${POLL_MS}ms`]: async (r, imageDir) => {
    const jobs = prepareJobs(`p${r}`, imageDir);
    const t0 = now();
    for (const j of jobs) await waitAll([await submit(j.script)]);
    const ms = now() - t0;
    jobs.forEach(j => checkOut(j.out, 'sbatch + squeue'));
    return { ms };
  },
  '(c)  redlab run --parallel 1': r => redlabRun(`c${r}`, 1),
  [`(d)  redlab run --parallel ${JOBS}`]: r => redlabRun(`d${r}`, JOBS),
  [`     ${JOBS} x sbatch --wait at once`]: async (r, imageDir) => {
    const jobs = prepareJobs(`e${r}`, imageDir);
    const t0 = now();
    await Promise.all(jobs.map(j => exec('sbatch', ['--wait', '--quiet', j.script], { env: slurmEnv })));
    const ms = now() - t0;
    jobs.forEach(j => checkOut(j.out, 'sbatch --wait at once'));
    return { ms };
  },
  [`     ${JOBS} x sbatch at once + squeue`]: async (r, imageDir) => {
    const jobs = prepareJobs(`f${r}`, imageDir);
    const t0 = now();
    await waitAll(await Promise.all(jobs.map(j => submit(j.script))));
    const ms = now() - t0;
    jobs.forEach(j => checkOut(j.out, 'sbatch at once + squeue'));
    return { ms };
  }
};

async function main() {
  if (process.getuid?.() !== 0) throw new Error('bench/slurm.js must run as root (slurmd, mknod in slurm-cluster.sh)');
  const started = await exec('bash', [CLUSTER_SH, 'start', clusterDir]).finally(() => (clusterStarted = true));
  const conf = /SLURM_CONF=(\S+)/.exec(started)?.[1];
  if (!conf) throw new Error(`slurm-cluster.sh start said: ${started}`);
  env = { ...process.env, SLURM_CONF: conf, REDLAB_WORK_ROOT: workRoot };
  slurmEnv = new SlurmCli({ env }).env;
  const version = (await exec('sinfo', ['--version'], { env: slurmEnv })).trim();

  // Untimed: converts the image into the work root (as every run after it finds it) and warms everything up.
  const warm = writeRed(path.join(runsDir, 'warm-up.red.yml'), 1);
  await exec(process.execPath, [REDLAB, 'run', warm, '--engine', 'slurm', '--non-interactive', '--outdir', path.join(runsDir, 'warm-up', 'o')], { cwd: runsDir, env });
  const images = fs.readdirSync(path.join(workRoot, 'charliecloud-images'));
  if (images.length !== 1) throw new Error(`expected one converted image in ${workRoot}/charliecloud-images, found: ${images.join(', ')}`);
  const imageDir = path.join(workRoot, 'charliecloud-images', images[0]);

  const samples = Object.fromEntries(Object.keys(cases).map(k => [k, []]));
  const batchPhases = { running: [], total: [] };
  const betweenBatches = [];
  const outsideEngine = [];
  for (let r = 0; r < rounds; r++) {
    for (const [name, fn] of Object.entries(cases)) {
      const { ms, result } = await fn(r, imageDir);
      samples[name].push(ms);
      if (name.startsWith('(c)')) {
        for (const b of result.batches) {
          batchPhases.running.push(b.timings.running);
          batchPhases.total.push(b.timings.total);
        }
        betweenBatches.push(result.timings.total - result.batches.reduce((a, b) => a + b.timings.total, 0));
        outsideEngine.push(ms - result.timings.total);
      }
    }
  }

  const perJob = name => median(samples[name]) / JOBS;
  const key = p => Object.keys(cases).find(k => k.startsWith(p));
  const [a, b, bp, c, d, e, f] = ['(a)', '(b)', "(b')", '(c)', '(d)', `     ${JOBS} x sbatch --wait`, `     ${JOBS} x sbatch at`].map(key);
  const ms = x => `${x.toFixed(0)} ms`;
  console.log(`${version}, one node (${os.cpus().length} CPUs) on loopback; ${JOBS} jobs a case; rounds: ${rounds}, median`);
  console.log('one job after another (per job):');
  for (const k of [a, b, bp, c]) console.log(`  ${k.padEnd(36)} ${ms(perJob(k)).padStart(8)}  (rounds: ${samples[k].map(x => ms(x / JOBS)).join(', ')})`);
  console.log(`Slurm's own scheduling + completion (b)-(a): ${ms(perJob(b) - perJob(a))}/job; (b')-(a): ${ms(perJob(bp) - perJob(a))}/job`);
  const added = perJob(c) - perJob(bp);
  console.log(`RED Lab adds (c)-(b'): ${ms(added)}/job (target: at most ${ms(TARGET_MS)}); against sbatch --wait (c)-(b): ${ms(perJob(c) - perJob(b))}/job`);
  console.log(
    `  where (c) goes: a batch's job from sbatch to seen ended ${ms(median(batchPhases.running))}, the whole batch (folders, staging, the job, collection with hashing) ${ms(median(batchPhases.total))}; ` +
      `between the batches (image check, each batch's run record) ${ms(median(betweenBatches))} a run; ` +
      `outside the engine (Node start-up, loading the RED, the run's end) ${ms(median(outsideEngine))} a run`
  );
  console.log(`fan-out, ${JOBS} at once (whole batch; 2 jobs fit the node at a time when it has 2 CPUs):`);
  for (const k of [d, e, f]) console.log(`  ${k.padEnd(36)} ${ms(median(samples[k])).padStart(8)}  (${ms(perJob(k))}/job)`);
  console.log(`  RED Lab adds (d)-(sbatch at once + squeue): ${ms(perJob(d) - perJob(f))}/job`);
  return added <= TARGET_MS ? 0 : 1;
}

main()
  .then(code => (process.exitCode = code))
  .catch(err => {
    console.error(`bench/slurm.js: ${err.message}`);
    process.exitCode = 2;
  })
  .finally(cleanUp);
