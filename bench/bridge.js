#!/usr/bin/env node
// Bridge benchmarks, each against a baseline measured in the same run:
//  (a) submit-to-finished of a trivial RED through the API (POST, then the
//      WebSocket until the final state) vs `docker run --rm` (target <= 1.15);
//  (b) log throughput: a container writing LOG_MB of stdout, received complete
//      over the WebSocket, vs `docker logs` of the same container (target >= 0.8
//      of its speed, zero bytes lost); live (while the container writes) and replay;
//  (c) cached rebuild of an unchanged environment (target < 1 s) vs its first build.
// Needs `npm run build` and the local base images (bash .ci/base-images.sh).
'use strict';
const { execFile, spawnSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { median, now, request, startBridge: startBridgeWith } = require('./lib');
const WebSocket = require(require.resolve('ws', { paths: [path.join(__dirname, '..', 'server-bridge')] }));

const ROUNDS = Number(process.env.BENCH_ROUNDS || 15);
const LOG_MB = Number(process.env.BENCH_LOG_MB || 200);
const token = 'bench-token-' + Math.random().toString(36).slice(2) + 'abcdefgh';
const root = path.join(__dirname, '..');
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'redlab-bench-bridge-'));

async function startBridge() {
  return startBridgeWith({ dataDir, token, args: ['--parallel', '4'] });
}

function api(url, method, route, body, headers = {}) {
  return request(url, token, method, route, body, headers);
}

/** Opens the run's event socket and resolves when it closes (after the final state), counting log bytes. */
function follow(url, id, since = 0) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${url.replace('http', 'ws')}/api/v1/runs/${id}/events?since=${since}&token=${encodeURIComponent(token)}`);
    let logBytes = 0;
    let first;
    let last;
    ws.on('message', raw => {
      const msg = JSON.parse(raw);
      if (msg.event.type === 'log' && msg.event.stream === 'stdout') {
        first ??= now();
        last = now();
        logBytes += Buffer.byteLength(msg.event.data);
      }
    });
    ws.on('close', () => resolve({ logBytes, first, last }));
    ws.on('error', reject);
  });
}

function red(script, extra = {}) {
  return {
    redVersion: '9',
    cli: { cwlVersion: 'v1.0', class: 'CommandLineTool', baseCommand: ['sh', '-c'], inputs: { script: { type: 'string', inputBinding: { position: 0 } } }, outputs: {} },
    inputs: { script },
    outputs: {},
    container: { engine: 'docker', settings: { image: { url: 'redlab/busybox:1' }, ram: 512 } },
    ...extra
  };
}

async function submitAndWait(url, body) {
  const res = await api(url, 'POST', '/runs', body);
  if (res.status !== 201) throw new Error(`submit: ${res.status} ${await res.text()}`);
  const { id } = await res.json();
  const seen = await follow(url, id);
  const run = await (await api(url, 'GET', `/runs/${id}`)).json();
  if (run.state !== 'succeeded') throw new Error(`run ${id} ${run.state}: ${run.error}`);
  return { id, run, seen };
}

async function benchSubmit(url) {
  const ours = [];
  const base = [];
  for (let i = 0; i < ROUNDS + 2; i++) {
    let t = now();
    await submitAndWait(url, { red: red('true') });
    const a = now() - t;
    t = now();
    const r = spawnSync('docker', ['run', '--rm', '--memory', '512m', 'redlab/busybox:1', 'sh', '-c', 'true']);
    if (r.status !== 0) throw new Error(`docker run: ${r.stderr}`);
    const b = now() - t;
    if (i >= 2) {
      ours.push(a);
      base.push(b);
    }
  }
  const ratio = median(ours) / median(base);
  console.log(`(a) submit-to-finished: API median ${median(ours).toFixed(0)} ms, docker run --rm median ${median(base).toFixed(0)} ms, ratio ${ratio.toFixed(2)} (target <= 1.15), ${ROUNDS} rounds alternating`);
}

async function benchLogs(url) {
  const lines = (LOG_MB * 1_000_000) / 100;
  // 100-byte lines: 99 x's and a newline.
  const script = `yes xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx | head -n ${lines}`;
  const t0 = now();
  const { id, run, seen } = await submitAndWait(url, { red: red(script), options: { leaveContainer: true } });
  const total = now() - t0;
  const expected = LOG_MB * 1_000_000;
  const containerId = run.batches[0].containerId;
  // Replay: a client that connects after the run, reading the whole log from the store.
  const t1 = now();
  const replay = await follow(url, id, 0);
  const replayMs = now() - t1;
  // Baseline: docker logs of the same container.
  const t2 = now();
  // Asynchronous, not spawnSync: a blocked event loop would miss the bridge closing the
  // idle kept-alive connection (after 5 s), and the next request would be sent on it.
  const dl = await new Promise((resolve, reject) =>
    execFile('sh', ['-c', `docker logs ${containerId} | wc -c`], { maxBuffer: 1 << 20 }, (err, stdout) => (err ? reject(err) : resolve(stdout)))
  );
  const dockerMs = now() - t2;
  const dockerBytes = Number(String(dl).trim());
  spawnSync('docker', ['rm', '-f', containerId]);
  const mbps = (bytes, ms) => bytes / 1e6 / (ms / 1000);
  console.log(
    `(b) ${LOG_MB} MB of stdout: live over WebSocket ${seen.logBytes === expected ? 'complete' : `LOST ${expected - seen.logBytes} bytes`} in ${(total / 1000).toFixed(1)} s submit-to-finished (${mbps(seen.logBytes, total).toFixed(0)} MB/s);` +
      ` replay over WebSocket ${replay.logBytes === expected ? 'complete' : `LOST ${expected - replay.logBytes} bytes`} ${mbps(replay.logBytes, replayMs).toFixed(0)} MB/s;` +
      ` docker logs ${dockerBytes === expected ? 'complete' : `${dockerBytes} bytes`} ${mbps(dockerBytes, dockerMs).toFixed(0)} MB/s;` +
      ` ratio replay/docker logs ${(mbps(replay.logBytes, replayMs) / mbps(dockerBytes, dockerMs)).toFixed(2)} (target >= 0.8)`
  );
}

async function benchBuild(url) {
  const nonce = `${Date.now()}-${Math.random()}`;
  const spec = { dockerfile: `FROM redlab/busybox:1\nCOPY env.txt /env.txt\nRUN cat /env.txt > /copied.txt\n`, files: [{ path: 'env.txt', content: `bench ${nonce}\n` }] };
  const build = async () => {
    const t = now();
    const res = await api(url, 'POST', '/images/build', spec);
    const lines = (await res.text()).trim().split('\n').map(l => JSON.parse(l));
    const result = lines.find(l => l.type === 'result');
    if (!result) throw new Error(`build failed: ${JSON.stringify(lines.slice(-3))}`);
    return { ms: now() - t, result };
  };
  const first = await build();
  const again = [];
  for (let i = 0; i < 5; i++) again.push(await build());
  const cachedMs = median(again.map(a => a.ms));
  console.log(`(c) image build: first ${first.ms.toFixed(0)} ms (cached: ${first.result.cached}), unchanged rebuild median ${cachedMs.toFixed(1)} ms (cached: ${again.every(a => a.result.cached)}; target < 1000 ms)`);
  spawnSync('docker', ['rmi', '-f', first.result.tag]);
}

(async () => {
  const { child, url } = await startBridge();
  try {
    const which = process.argv.slice(2);
    if (!which.length || which.includes('submit')) await benchSubmit(url);
    if (!which.length || which.includes('logs')) await benchLogs(url);
    if (!which.length || which.includes('build')) await benchBuild(url);
  } finally {
    child.kill('SIGTERM');
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
})().catch(err => {
  console.error(err);
  process.exit(1);
});
