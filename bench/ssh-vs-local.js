#!/usr/bin/env node
// Baseline for the SSH engine (issue 9): `docker -H ssh://... run --rm` of busybox `true`
// on a second Docker engine reached over ssh vs the same on the local engine, alternating
// in one run. The second engine is the tests' fixture (server-bridge/test/helpers/remote-docker.ts):
// a dockerd and an sshd in a network namespace on this machine, so the ratio is the cost of
// ssh (one new ssh session per API call, `docker system dial-stdio`) plus the engine's
// own, which `docker -H unix://<remote socket>` measures apart. Prints the medians and the
// ratios. Needs root (network namespace), openssh-server (bash .ci/setup) and the image
// redlab/busybox:1 (bash .ci/base-images.sh).
'use strict';
const { spawnSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const root = path.join(__dirname, '..');
require(path.join(root, 'server-bridge/test/helpers/ts-register.js'));
const { startRemoteDocker, remoteDockerUnavailable } = require(path.join(root, 'server-bridge/test/helpers/remote-docker.ts'));

const rounds = Number(process.env.BENCH_ROUNDS || 15);
const warmup = 2;
const image = 'redlab/busybox:1';

const median = xs => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

function time(args, env) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync('docker', args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`docker ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return ms;
}

async function main() {
  const unavailable = remoteDockerUnavailable();
  if (unavailable) {
    console.error(`ssh-vs-local: cannot make the remote Docker host: ${unavailable}`);
    process.exit(1);
  }
  const t0 = Date.now();
  const rd = await startRemoteDocker({ images: [image] });
  const config = fs.mkdtempSync(path.join(os.tmpdir(), 'redlab-bench-ssh-'));
  try {
    console.log(`remote engine ${rd.dockerHost} (namespace ${rd.namespace}) ready in ${Date.now() - t0} ms`);
    const cases = {
      'docker run --rm (local)': () => time(['run', '--rm', image, 'true']),
      'docker -H ssh:// run --rm': () => time(['-H', rd.dockerHost, '--config', config, 'run', '--rm', image, 'true'], rd.cliEnv),
      'docker -H unix://<remote> run --rm': () => time(['-H', `unix://${rd.socketPath}`, '--config', config, 'run', '--rm', image, 'true'])
    };
    const samples = Object.fromEntries(Object.keys(cases).map(k => [k, []]));
    for (let i = 0; i < warmup + rounds; i++) {
      for (const [name, fn] of Object.entries(cases)) {
        const ms = fn();
        if (i >= warmup) samples[name].push(ms);
      }
    }
    const logins = (fs.readFileSync(rd.sshdLog, 'utf8').match(/Accepted publickey/g) || []).length;
    console.log(`rounds: ${rounds} (after ${warmup} warm-up), alternating`);
    for (const [name, xs] of Object.entries(samples)) {
      console.log(`${name.padEnd(36)} median ${median(xs).toFixed(0)} ms  (min ${Math.min(...xs).toFixed(0)}, max ${Math.max(...xs).toFixed(0)})`);
    }
    const local = median(samples['docker run --rm (local)']);
    const ssh = median(samples['docker -H ssh:// run --rm']);
    const remoteUnix = median(samples['docker -H unix://<remote> run --rm']);
    console.log(`ssh sessions per docker -H ssh:// run: ${(logins / (warmup + rounds)).toFixed(1)}`);
    console.log(`ratio ssh/local: ${(ssh / local).toFixed(2)} (issue 9 measured ~1.18 s vs 0.44 s = 2.7)`);
    console.log(`ratio ssh/remote socket: ${(ssh / remoteUnix).toFixed(2)} (the cost of ssh alone)`);
  } finally {
    fs.rmSync(config, { recursive: true, force: true });
    await rd.stop();
  }
}

main().catch(e => {
  console.error(e);
  process.exit(1);
});
