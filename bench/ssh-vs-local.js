#!/usr/bin/env node
// The SSH engine (issue 9): `redlab run --engine docker-ssh` of the trivial RED (busybox
// `true`) on a second Docker engine reached over ssh vs `docker -H ssh://... run --rm` of
// the same command (target ratio <= 1.3), and the same pair on the local engine
// (`redlab run` vs `docker run --rm`, which must not get worse), alternating in one run. The second engine is the tests' fixture (server-bridge/test/helpers/remote-docker.ts):
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
const red = path.join(__dirname, 'trivial.red.yml');
const redlab = path.join(root, 'server-bridge/bin/redlab.js');

const median = xs => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

function time(args, env, cmd = 'docker') {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { env, cwd: root, stdio: ['ignore', 'ignore', 'pipe'] });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
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
  const outdir = path.join(config, 'outputs');
  const run = ['run', red, '--outdir', outdir, '--non-interactive', '--work-root', path.join(config, 'work')];
  // No agent and an empty HOME: the fixture's key and known_hosts only.
  const env = { ...process.env, HOME: config, SSH_AUTH_SOCK: '' };
  try {
    console.log(`remote engine ${rd.dockerHost} (namespace ${rd.namespace}) ready in ${Date.now() - t0} ms`);
    const ssh = ['--docker-host', rd.dockerHost, '--ssh-identity', rd.identityFile, '--ssh-known-hosts', rd.knownHostsFile];
    const cases = {
      'docker run --rm (local)': () => time(['run', '--rm', '--memory', '256m', image, 'true']),
      'redlab run (local)': () => time([redlab, ...run], env, process.execPath),
      'docker -H ssh:// run --rm': () => time(['-H', rd.dockerHost, '--config', config, 'run', '--rm', '--memory', '256m', image, 'true'], rd.cliEnv),
      'redlab run --engine docker-ssh': () => time([redlab, ...run, ...ssh], env, process.execPath),
      'docker -H unix://<remote> run --rm': () => time(['-H', `unix://${rd.socketPath}`, '--config', config, 'run', '--rm', '--memory', '256m', image, 'true'])
    };
    const samples = Object.fromEntries(Object.keys(cases).map(k => [k, []]));
    for (let i = 0; i < warmup + rounds; i++) {
      for (const [name, fn] of Object.entries(cases)) {
        const ms = fn();
        if (i >= warmup) samples[name].push(ms);
      }
    }
    const logins = (fs.readFileSync(rd.sshdLog, 'utf8').match(/Accepted publickey/g) || []).length;
    // Both ssh cases log in: the docker CLI once per API call, redlab once per run.
    console.log(`rounds: ${rounds} (after ${warmup} warm-up), alternating`);
    for (const [name, xs] of Object.entries(samples)) {
      console.log(`${name.padEnd(36)} median ${median(xs).toFixed(0)} ms  (min ${Math.min(...xs).toFixed(0)}, max ${Math.max(...xs).toFixed(0)})`);
    }
    const local = median(samples['docker run --rm (local)']);
    const sshCli = median(samples['docker -H ssh:// run --rm']);
    const remoteUnix = median(samples['docker -H unix://<remote> run --rm']);
    const redlabLocal = median(samples['redlab run (local)']);
    const redlabSsh = median(samples['redlab run --engine docker-ssh']);
    console.log(`ssh logins per round (docker -H ssh:// run + redlab run --engine docker-ssh): ${(logins / (warmup + rounds)).toFixed(1)}`);
    console.log(`ratio redlab docker-ssh / docker -H ssh://: ${(redlabSsh / sshCli).toFixed(2)} (target <= 1.3)`);
    console.log(`ratio redlab local / docker run --rm: ${(redlabLocal / local).toFixed(2)} (must not get worse than ~1.35-1.5)`);
    console.log(`ratio docker -H ssh:// / local: ${(sshCli / local).toFixed(2)} (issue 9 measured ~1.18 s vs 0.44 s = 2.7)`);
    console.log(`ratio docker -H ssh:// / remote socket: ${(sshCli / remoteUnix).toFixed(2)} (the cost of ssh alone)`);
  } finally {
    fs.rmSync(config, { recursive: true, force: true });
    await rd.stop();
  }
}

main().catch(e => {
  console.error(e);
  process.exit(1);
});
