#!/usr/bin/env node
// Data connectors (issue 11), each against a baseline measured in the same run, alternating:
//  (a) a file (REDLAB_BENCH_SFTP_MB, default 1024) received by red-connector-ssh (SFTP, the
//      bridge's connector from server-bridge/src) vs `scp` of the same file from the same sshd
//      (target >= 0.8 of scp's throughput);
//  (b) a file (REDLAB_BENCH_HTTP_MB, default 1024) received by red-connector-http vs `curl -o`
//      from the same HTTP server (bench/file-server.js, its own process) (target >= 0.9), and
//      Node's own http.get piped to a file (what any Node client gets on this machine);
//  (c) a training-like read (list the folder, read every file) of REDLAB_BENCH_SMALL_FILES
//      (default 10000) files of REDLAB_BENCH_SMALL_KB (default 10) KB through an sshfs mount
//      of the same sshd (red-connector-ssh's mount where it has one, else the sshfs binary) vs a
//      local copy, REDLAB_BENCH_READERS (default 1) files at a time.
//      Each round mounts afresh: "epoch 1" is the first read through the new mount, "epoch 2"
//      the next one (FUSE's caches warm). Both sides read from the page cache of this machine,
//      so the ratio is the cost of sshfs + ssh + sftp, not of a disk or a network.
// The sshd is the tests' fixture (server-bridge/test/helpers/sftp-server.ts); key login for
// every client. Prints a table, the ratios, and writes the figures as JSON to
// REDLAB_BENCH_JSON (default <tmp>/redlab-bench-connectors.json). BENCH_ROUNDS (default 3)
// rounds after one warm-up; medians. Needs root and openssh-server, sshfs and curl
// (bash .ci/setup). REDLAB_BENCH_ONLY=sftp,http,sshfs runs a part.
'use strict';
const { execFileSync, spawn, spawnSync } = require('child_process');
const crypto = require('crypto');
const fs = require('fs');
const nodeHttp = require('http');
const os = require('os');
const path = require('path');
const { pipeline } = require('stream/promises');
const { median, now, root } = require('./lib');

require(path.join(root, 'server-bridge/test/helpers/ts-register.js'));
const { startSftpServer, sftpServerUnavailable } = require(path.join(root, 'server-bridge/test/helpers/sftp-server.ts'));
const { createSshConnectors } = require(path.join(root, 'server-bridge/src/connectors/sftp.ts'));
const { createHttpConnectors } = require(path.join(root, 'server-bridge/src/connectors/http.ts'));
const { HostPolicy } = require(path.join(root, 'server-bridge/src/connectors/host-policy.ts'));

const num = (name, dflt) => {
  const v = process.env[name] === undefined ? dflt : Number(process.env[name]);
  if (!Number.isFinite(v) || v <= 0) throw new Error(`${name} must be a number > 0, not ${JSON.stringify(process.env[name])}`);
  return v;
};
const SFTP_MB = num('REDLAB_BENCH_SFTP_MB', 1024);
const HTTP_MB = num('REDLAB_BENCH_HTTP_MB', 1024);
const SMALL_FILES = Math.round(num('REDLAB_BENCH_SMALL_FILES', 10000));
const SMALL_KB = num('REDLAB_BENCH_SMALL_KB', 10);
const READERS = Math.round(num('REDLAB_BENCH_READERS', 1));
const ROUNDS = Math.round(num('BENCH_ROUNDS', 3));
const WARMUP = 1;
const ONLY = (process.env.REDLAB_BENCH_ONLY || 'sftp,http,sshfs').split(',').map(s => s.trim());
const JSON_OUT = process.env.REDLAB_BENCH_JSON || path.join(os.tmpdir(), 'redlab-bench-connectors.json');
const MB = 1 << 20;

/** Writes `mb` MiB of random bytes to `file`, 1 MiB at a time. */
function writeRandomFile(file, mb) {
  const fd = fs.openSync(file, 'w', 0o644);
  const block = Buffer.alloc(MB);
  try {
    for (let left = Math.round(mb * MB); left > 0; left -= MB) fs.writeSync(fd, crypto.randomFillSync(block), 0, Math.min(MB, left));
    fs.fsyncSync(fd); // on disk before any timing: no writeback of it competes with the transfers
  } finally {
    fs.closeSync(fd);
  }
}

const sha256 = file => {
  const h = crypto.createHash('sha256');
  const fd = fs.openSync(file, 'r');
  const buf = Buffer.alloc(4 * MB);
  try {
    for (let n; (n = fs.readSync(fd, buf, 0, buf.length, null)) > 0; ) h.update(buf.subarray(0, n));
  } finally {
    fs.closeSync(fd);
  }
  return h.digest('hex');
};

// The client's CPU time of the last timed transfer (ms): on a shared machine a client that needs
// more CPU per byte loses more to the load, so the wall-clock ratio moves with it; this does not.
let lastCpuMs;
const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK']).toString()) || 100;
/** CPU ms of this process's waited-for children (utime + stime of /proc/self/stat's cutime, cstime). */
const childrenCpuMs = () => {
  const f = fs.readFileSync('/proc/self/stat', 'utf8').split(') ')[1].split(' ');
  return ((Number(f[13]) + Number(f[14])) * 1000) / CLK_TCK;
};

/** Runs a command to completion; milliseconds (its CPU time in lastCpuMs). */
function timeCommand(cmd, args) {
  const cpu = childrenCpuMs();
  const t = now();
  const r = spawnSync(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  const ms = now() - t;
  lastCpuMs = childrenCpuMs() - cpu;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status ?? r.signal}: ${r.stderr}`);
  return ms;
}

/** Times `fn` (async, in this process) in milliseconds (this process's CPU time in lastCpuMs). */
async function timeAsync(fn) {
  const cpu = process.cpuUsage();
  const t = now();
  await fn();
  const ms = now() - t;
  const used = process.cpuUsage(cpu);
  lastCpuMs = (used.user + used.system) / 1000;
  return ms;
}

/**
 * Runs the cases (name -> {run: async () => ms}) WARMUP + ROUNDS times, alternating, and returns
 * the samples per case after the warm-up, and the client CPU ms of those that time it (lastCpuMs).
 */
async function alternate(cases) {
  const samples = Object.fromEntries(Object.keys(cases).map(k => [k, []]));
  const cpu = {};
  for (let i = 0; i < WARMUP + ROUNDS; i++) {
    for (const [name, c] of Object.entries(cases)) {
      lastCpuMs = undefined;
      const ms = await c.run(i);
      if (i < WARMUP) continue;
      samples[name].push(ms);
      if (lastCpuMs !== undefined) (cpu[name] ??= []).push(lastCpuMs);
    }
  }
  return Object.assign(samples, { [CPU]: cpu });
}
const CPU = Symbol('client CPU ms');
/** The median client CPU seconds of a case, for the table. */
const cpuS = (samples, name) => (samples[CPU][name] ? median(samples[CPU][name]) / 1000 : undefined);

/** Checks that `file` has `size` bytes (and, once per case, the source's digest), then removes it. */
function checkedOnce() {
  const verified = new Set();
  return (name, file, size, digest) => {
    const got = fs.statSync(file).size;
    if (got !== size) throw new Error(`${name}: received ${got} of ${size} bytes`);
    if (!verified.has(name)) {
      if (sha256(file) !== digest) throw new Error(`${name}: the received file differs from the source (sha256)`);
      verified.add(name);
    }
    fs.rmSync(file, { force: true });
  };
}

function startFileServer(dir) {
  const child = spawn(process.execPath, [path.join(__dirname, 'file-server.js'), dir], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', d => {
      out += d;
      const m = /"port":(\d+)/.exec(out);
      if (m) resolve({ child, port: Number(m[1]) });
    });
    child.once('exit', code => reject(new Error(`file server exited ${code}: ${out}`)));
  });
}

/** Reads every file of `dir` (listed first, as a data loader does), `READERS` at a time; resolves with the bytes read. */
async function readAll(dir) {
  const names = await fs.promises.readdir(dir);
  let next = 0;
  let bytes = 0;
  const worker = async () => {
    while (next < names.length) {
      const name = names[next++];
      const data = await fs.promises.readFile(path.join(dir, name)); // not `bytes += await`: it would add to a stale total
      bytes += data.length;
    }
  };
  await Promise.all(Array.from({ length: READERS }, worker));
  if (names.length !== SMALL_FILES) throw new Error(`${dir} lists ${names.length} files, not ${SMALL_FILES}`);
  return bytes;
}

const mbps = (bytes, ms) => bytes / MB / (ms / 1000);
const fmt = (x, d = 0) => x.toFixed(d);

async function main() {
  const unavailable = sftpServerUnavailable();
  if (unavailable) throw new Error(`connectors bench: cannot start the test sshd: ${unavailable}`);
  for (const [part, bin] of [['sftp', 'scp'], ['http', 'curl'], ['sshfs', 'sshfs']]) {
    if (ONLY.includes(part) && spawnSync('sh', ['-c', `command -v ${bin}`]).status !== 0) throw new Error(`connectors bench: ${bin} is missing (bash .ci/setup installs it)`);
  }
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'redlab-bench-connectors-'));
  const srv = await startSftpServer();
  const stops = [];
  const result = { date: new Date().toISOString(), cpus: os.cpus().length, rounds: ROUNDS, warmup: WARMUP };
  const table = [];
  try {
    const keyFile = path.join(work, 'id_ed25519');
    fs.writeFileSync(keyFile, srv.privateKey, { mode: 0o600 });
    const sshOpts = ['-F', '/dev/null', '-o', 'BatchMode=yes', '-o', `IdentityFile=${keyFile}`, '-o', `UserKnownHostsFile=${srv.knownHostsFile}`, '-o', 'StrictHostKeyChecking=yes'];
    const policy = new HostPolicy({ allow: ['127.0.0.1'] });
    const ctx = { baseDir: work, allowedRoots: [] };
    const check = checkedOnce();
    const recv = path.join(work, 'received');
    fs.mkdirSync(recv);

    if (ONLY.includes('sftp') || ONLY.includes('http')) {
      const mb = Math.max(ONLY.includes('sftp') ? SFTP_MB : 0, ONLY.includes('http') ? HTTP_MB : 0);
      const big = path.join(srv.home, 'big.bin');
      const t = now();
      writeRandomFile(big, mb);
      const digest = sha256(big);
      console.log(`source file ${mb} MiB written and hashed in ${fmt(now() - t)} ms`);
      const size = fs.statSync(big).size;

      if (ONLY.includes('sftp')) {
        const ssh = createSshConnectors({ policy, knownHostsFile: srv.knownHostsFile });
        const access = { host: srv.host, port: srv.port, auth: { username: srv.user, privateKey: srv.privateKey }, filePath: 'big.bin' };
        const samples = await alternate({
          scp: {
            run: () => {
              const dest = path.join(recv, 'scp.bin');
              const ms = timeCommand('scp', ['-q', '-P', String(srv.port), ...sshOpts, `${srv.user}@${srv.host}:big.bin`, dest]);
              check('scp', dest, size, digest);
              return ms;
            }
          },
          'red-connector-ssh': {
            run: async () => {
              const dest = path.join(recv, 'sftp.bin');
              const ms = await timeAsync(() =>
                ssh.input.stage({ key: 'data', label: 'data', dest, value: { class: 'File', connector: { command: 'red-connector-ssh', access } } }, ctx)
              );
              check('red-connector-ssh', dest, size, digest);
              return ms;
            }
          }
        });
        const base = median(samples.scp);
        const ours = median(samples['red-connector-ssh']);
        const cpu = { scp: cpuS(samples, 'scp'), connector: cpuS(samples, 'red-connector-ssh') };
        result.sftp = { mb, samplesMs: samples, medianMs: { scp: base, connector: ours }, throughputMBps: { scp: mbps(size, base), connector: mbps(size, ours) }, clientCpuS: cpu, ratio: base / ours, target: 0.8 };
        table.push([`scp ${mb} MiB`, base, mbps(size, base), cpu.scp], [`red-connector-ssh ${mb} MiB`, ours, mbps(size, ours), cpu.connector]);
      }

      if (ONLY.includes('http')) {
        const fsrv = await startFileServer(srv.home);
        stops.push(() => fsrv.child.kill());
        const url = `http://127.0.0.1:${fsrv.port}/big.bin`;
        const http = createHttpConnectors(policy);
        const samples = await alternate({
          'curl -o': {
            run: () => {
              const dest = path.join(recv, 'curl.bin');
              const ms = timeCommand('curl', ['-sSf', '-o', dest, url]);
              check('curl -o', dest, size, digest);
              return ms;
            }
          },
          // Node's own floor on this machine: http.get piped to a file, no connector around it.
          'node http.get | file': {
            run: async () => {
              const dest = path.join(recv, 'node.bin');
              const ms = await timeAsync(
                () =>
                  new Promise((resolve, reject) =>
                    nodeHttp.get(url, res => pipeline(res, fs.createWriteStream(dest, { highWaterMark: MB })).then(resolve, reject)).on('error', reject)
                  )
              );
              check('node http.get | file', dest, size, digest);
              return ms;
            }
          },
          'red-connector-http': {
            run: async () => {
              const dest = path.join(recv, 'http.bin');
              const ms = await timeAsync(() =>
                http.input.stage({ key: 'data', label: 'data', dest, value: { class: 'File', connector: { command: 'red-connector-http', access: { url } } } }, ctx)
              );
              check('red-connector-http', dest, size, digest);
              return ms;
            }
          }
        });
        const base = median(samples['curl -o']);
        const ours = median(samples['red-connector-http']);
        const node = median(samples['node http.get | file']);
        const cpu = { curl: cpuS(samples, 'curl -o'), node: cpuS(samples, 'node http.get | file'), connector: cpuS(samples, 'red-connector-http') };
        result.http = {
          mb,
          samplesMs: samples,
          medianMs: { curl: base, node, connector: ours },
          throughputMBps: { curl: mbps(size, base), node: mbps(size, node), connector: mbps(size, ours) },
          clientCpuS: cpu,
          ratio: base / ours,
          ratioToNode: node / ours,
          target: 0.9
        };
        table.push(
          [`curl -o ${mb} MiB`, base, mbps(size, base), cpu.curl],
          [`node http.get | file ${mb} MiB`, node, mbps(size, node), cpu.node],
          [`red-connector-http ${mb} MiB`, ours, mbps(size, ours), cpu.connector]
        );
      }
      fs.rmSync(big, { force: true });
    }

    if (ONLY.includes('sshfs')) {
      const remote = path.join(srv.home, 'small');
      const local = path.join(work, 'small-local');
      fs.mkdirSync(remote, { mode: 0o755 });
      const block = Buffer.alloc(Math.round(SMALL_KB * 1024));
      for (let i = 0; i < SMALL_FILES; i++) fs.writeFileSync(path.join(remote, `sample-${String(i).padStart(6, '0')}.bin`), crypto.randomFillSync(block));
      execFileSync('cp', ['-r', remote, local]);
      const total = SMALL_FILES * block.length;
      // Through the connector's mount (connectors/mounts.ts: what a `mount: true` input gets) where
      // this checkout has it, else the sshfs binary with the same ssh options as scp.
      const ssh = createSshConnectors({ policy, knownHostsFile: srv.knownHostsFile });
      const viaConnector = typeof ssh.input.mount === 'function';
      let mounts = 0;
      let mnt;
      let unmount = async () => undefined;
      const mount = async () => {
        mnt = path.join(work, `mnt-${++mounts}`);
        if (viaConnector) {
          const access = { host: srv.host, port: srv.port, auth: { username: srv.user, privateKey: srv.privateKey }, dirPath: remote };
          const m = await ssh.input.mount({ key: 'data', label: 'data', dest: mnt, value: { class: 'Directory', connector: { command: 'red-connector-ssh', access, mount: true } } }, ctx);
          unmount = async () => {
            const err = await m.unmount();
            if (err) throw new Error(`unmount: ${err}`);
          };
        } else {
          fs.mkdirSync(mnt);
          execFileSync('sshfs', [`${srv.user}@${srv.host}:small`, mnt, '-p', String(srv.port), ...sshOpts, '-o', 'ro'], { stdio: ['ignore', 'ignore', 'pipe'] });
          const at = mnt;
          unmount = async () => {
            if (spawnSync('fusermount3', ['-u', at]).status !== 0) spawnSync('umount', ['-l', at]);
          };
        }
      };
      stops.push(() => unmount());
      const read = async (dir, what) => {
        const t = now(); // wall clock only: most of the CPU is sshfs's, ssh's and the kernel's
        const bytes = await readAll(dir);
        const ms = now() - t;
        if (bytes !== total) throw new Error(`${what}: read ${bytes} of ${total} bytes`);
        return ms;
      };
      let epoch2;
      const samples = await alternate({
        local: { run: () => read(local, 'local copy') },
        'sshfs epoch 1': {
          run: async () => {
            await mount();
            const ms = await read(mnt, 'sshfs');
            epoch2 = await read(mnt, 'sshfs (again)');
            await unmount();
            unmount = async () => undefined;
            return ms;
          }
        },
        'sshfs epoch 2': { run: async () => epoch2 }
      });
      const base = median(samples.local);
      const first = median(samples['sshfs epoch 1']);
      const second = median(samples['sshfs epoch 2']);
      result.sshfs = {
        files: SMALL_FILES,
        kb: SMALL_KB,
        readers: READERS,
        via: viaConnector ? 'red-connector-ssh mount (connectors/mounts.ts)' : 'sshfs binary',
        samplesMs: samples,
        medianMs: { local: base, epoch1: first, epoch2: second },
        ratio: { epoch1: first / base, epoch2: second / base },
        reference: 'Curious Containers measured 1.8x over 2 x 10 Gbit'
      };
      const label = `${SMALL_FILES} x ${SMALL_KB} KiB`;
      table.push([`local copy, ${label}`, base, mbps(total, base)], [`sshfs epoch 1, ${label}`, first, mbps(total, first)], [`sshfs epoch 2, ${label}`, second, mbps(total, second)]);
    }

    console.log(`rounds: ${ROUNDS} (after ${WARMUP} warm-up), alternating; medians; ${os.cpus().length} CPUs`);
    console.log(`${'case'.padEnd(40)} ${'ms'.padStart(9)} ${'MiB/s'.padStart(9)} ${'client CPU s'.padStart(13)}`);
    for (const [name, ms, rate, cpu] of table) console.log(`${name.padEnd(40)} ${fmt(ms).padStart(9)} ${fmt(rate, 1).padStart(9)} ${(cpu === undefined ? '' : fmt(cpu, 2)).padStart(13)}`);
    console.log(`load average at the end: ${os.loadavg().map(x => x.toFixed(1)).join(' ')} (the ratios move with the machine's other load)`);
    if (result.sftp) console.log(`ratio red-connector-ssh / scp throughput: ${fmt(result.sftp.ratio, 2)} (target >= 0.8)`);
    if (result.http) console.log(`ratio red-connector-http / curl throughput: ${fmt(result.http.ratio, 2)} (target >= 0.9); / node http.get: ${fmt(result.http.ratioToNode, 2)}`);
    if (result.sshfs) {
      console.log(`ratio sshfs / local read time (${result.sshfs.via}): epoch 1 ${fmt(result.sshfs.ratio.epoch1, 2)}, epoch 2 ${fmt(result.sshfs.ratio.epoch2, 2)} (Curious Containers: 1.8 over 2 x 10 Gbit)`);
    }
    fs.writeFileSync(JSON_OUT, JSON.stringify(result, null, 2) + '\n');
    console.log(`figures: ${JSON_OUT}`);
  } finally {
    for (const stop of stops.reverse()) await stop();
    await srv.stop();
    fs.rmSync(work, { recursive: true, force: true });
  }
}

main().catch(e => {
  console.error(e);
  process.exit(1);
});
