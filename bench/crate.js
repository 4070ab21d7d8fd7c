#!/usr/bin/env node
// Benchmark: what the run record (Process Run Crate) costs. `redlab run` of a RED whose
// container writes one big output (1 GB by default: REDLAB_BENCH_CRATE_MB), with the
// record and with --no-record, alternating in one run so both see the same machine.
// The record reuses the hashes the collection made (nothing is hashed twice), so the
// target is at most 5% on the run's time. Needs redlab/busybox:1 (bash .ci/base-images.sh).
'use strict';
const { spawnSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { median, root } = require('./lib');

const mb = Number(process.env.REDLAB_BENCH_CRATE_MB || 1024);
const rounds = Number(process.env.BENCH_ROUNDS || 5);
const warmup = 1;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'redlab-bench-crate-'));
const red = path.join(dir, 'big-output.red.yml');
fs.writeFileSync(
  red,
  `redVersion: "9"
cli:
  cwlVersion: v1.0
  class: CommandLineTool
  baseCommand: [dd, if=/dev/zero, of=big.bin, bs=1048576]
  inputs:
    count: {type: string, inputBinding: {position: 0, prefix: "count=", separate: false}}
  outputs:
    big: {type: File, outputBinding: {glob: big.bin}}
inputs: {count: "${mb}"}
outputs: {}
container:
  engine: docker
  settings:
    image: {url: "redlab/busybox:1"}
    ram: 256
`
);

function time(args) {
  const outdir = path.join(dir, 'out');
  fs.rmSync(outdir, { recursive: true, force: true });
  const t0 = process.hrtime.bigint();
  const r = spawnSync(process.execPath, [path.join(root, 'server-bridge/bin/redlab.js'), 'run', red, '--outdir', outdir, '--non-interactive', ...args], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`redlab run ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  const hasCrate = fs.existsSync(path.join(outdir, 'ro-crate-metadata.json'));
  if (hasCrate !== !args.includes('--no-record')) throw new Error(`redlab run ${args.join(' ')}: the record is ${hasCrate ? 'there' : 'missing'}`);
  return ms;
}

const cases = { 'run --no-record': () => time(['--no-record']), 'run (with record)': () => time([]) };
const samples = Object.fromEntries(Object.keys(cases).map(k => [k, []]));
try {
  for (let i = 0; i < warmup + rounds; i++) {
    for (const [name, fn] of Object.entries(cases)) {
      const ms = fn();
      if (i >= warmup) samples[name].push(ms);
    }
  }
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
const base = median(samples['run --no-record']);
const ours = median(samples['run (with record)']);
console.log(`output: ${mb} MB; rounds: ${rounds} (after ${warmup} warm-up), alternating`);
for (const [name, xs] of Object.entries(samples)) {
  console.log(`${name.padEnd(18)} median ${median(xs).toFixed(0)} ms  (min ${Math.min(...xs).toFixed(0)}, max ${Math.max(...xs).toFixed(0)})`);
}
const overhead = (ours - base) / base;
console.log(`record overhead: ${(overhead * 100).toFixed(1)}% (target: at most 5%)`);
process.exitCode = overhead <= 0.05 ? 0 : 1;
