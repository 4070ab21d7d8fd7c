#!/usr/bin/env node
// Benchmark: `redlab run` of a trivial RED (busybox `true`) against the same
// command with bare `docker run --rm`, alternating in one run so both see the
// same machine state. Prints both medians and the ratio (target: <= 1.5, Node
// start-up included). Needs the image redlab/busybox:1 (bash .ci/base-images.sh).
'use strict';
const { spawnSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const rounds = Number(process.env.BENCH_ROUNDS || 15);
const warmup = 2;
const root = path.join(__dirname, '..');
const red = path.join(__dirname, 'trivial.red.yml');
const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'redlab-bench-'));
const image = 'redlab/busybox:1';

function time(cmd, args) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return ms;
}

const median = xs => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

const cases = {
  'docker run --rm': () => time('docker', ['run', '--rm', '--memory', '256m', image, 'true']),
  'redlab run': () => time(process.execPath, [path.join(root, 'server-bridge/bin/redlab.js'), 'run', red, '--outdir', outdir, '--non-interactive'])
};
const samples = Object.fromEntries(Object.keys(cases).map(k => [k, []]));
for (let i = 0; i < warmup + rounds; i++) {
  for (const [name, fn] of Object.entries(cases)) {
    const ms = fn();
    if (i >= warmup) samples[name].push(ms);
  }
}
fs.rmSync(outdir, { recursive: true, force: true });

const base = median(samples['docker run --rm']);
const ours = median(samples['redlab run']);
console.log(`rounds: ${rounds} (after ${warmup} warm-up), alternating`);
for (const [name, xs] of Object.entries(samples)) {
  console.log(`${name.padEnd(16)} median ${median(xs).toFixed(0)} ms  (min ${Math.min(...xs).toFixed(0)}, max ${Math.max(...xs).toFixed(0)})`);
}
console.log(`ratio redlab/docker: ${(ours / base).toFixed(2)} (target <= 1.5)`);
