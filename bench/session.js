#!/usr/bin/env node
// Container sessions ("Run cell in container", issue 10) through the bridge's API, each
// against a baseline measured in the same run:
//  (a) `print(1)` round trip in a warm session, as the frontend does it: POST execute, then
//      the output and the execution's final state on the events WebSocket; vs the same code
//      on a local Jupyter kernel (jupyter_client: execute until the kernel is idle again).
//      Target: <= 2x the local kernel's median and under 30 ms.
//  (b) start of a new session until its first output (POST /sessions, POST execute
//      print(1), the output on the WebSocket) vs `docker run --rm IMAGE python3 -c
//      'print(1)'`, alternating. Target ratio <= 1.3.
//  (c) MB of stdout (BENCH_STDOUT_MB, default 50) from one cell: all of it arrives on the
//      WebSocket, in order (bytes and each line's counter checked), at >= 0.8x the rate of
//      `docker logs -f` of a container running the same code (live, as it writes); the rate of
//      `docker logs` of that container once it has ended (a plain read) is shown too.
// Needs `npm run build -w server-bridge`, the image redlab/debian-python:12
// (bash .ci/base-images.sh) and, for (a), the project's .venv (jupyter_client, ipykernel).
// `node bench/session.js [roundtrip|start|stdout …] [--check]`: --check exits 1 when a target is missed.
'use strict';
const { execFile, spawnSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { median, now, request, startBridge: startBridgeWith } = require('./lib');
const WebSocket = require(require.resolve('ws', { paths: [path.join(__dirname, '..', 'server-bridge')] }));

const root = path.join(__dirname, '..');
const IMAGE = process.env.BENCH_IMAGE || 'redlab/debian-python:12';
const ROUNDS = Number(process.env.BENCH_ROUNDS || 50);
const START_ROUNDS = Number(process.env.BENCH_START_ROUNDS || 8);
const STDOUT_MB = Number(process.env.BENCH_STDOUT_MB || 50);
const PYTHON = process.env.BENCH_PYTHON || (fs.existsSync(path.join(root, '.venv/bin/python3')) ? path.join(root, '.venv/bin/python3') : 'python3');
const token = 'bench-token-' + Math.random().toString(36).slice(2) + 'abcdefgh';
const workDir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'redlab-bench-session-')));
const dataDir = path.join(workDir, '.data');

const fmt = (ms, d = 1) => `${ms.toFixed(d)} ms`;
const stats = xs => `median ${fmt(median(xs))} (min ${fmt(Math.min(...xs))}, max ${fmt(Math.max(...xs))}, n=${xs.length})`;
const missed = [];
function target(ok, what) {
  console.log(`    ${ok ? 'met' : 'MISSED'}: ${what}`);
  if (!ok) missed.push(what);
}

function startBridge() {
  // The bridge's working directory is its first allowed root: the sessions' notebooks live there.
  return startBridgeWith({ dataDir, token, cwd: workDir });
}

async function api(url, method, route, body) {
  const res = await request(url, token, method, route, body);
  const text = await res.text();
  if (res.status >= 300) throw new Error(`${method} ${route}: ${res.status} ${text}`);
  return JSON.parse(text);
}

/**
 * A session's events socket: each execution's stdout text and final state, handed to whoever
 * waits for that execution (the frontend's way of reading outputs).
 */
function openEvents(url, id) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${url.replace('http', 'ws')}/api/v1/sessions/${id}/events?since=0&token=${encodeURIComponent(token)}`);
    const executions = new Map();
    let lastSeq = 0;
    let gap;
    const entry = eid => {
      let e = executions.get(eid);
      if (!e) executions.set(eid, (e = { chunks: [], bytes: 0, final: undefined, firstOutputAt: undefined, lastOutputAt: undefined, onOutput: undefined, onFinal: undefined }));
      return e;
    };
    ws.on('message', raw => {
      const m = JSON.parse(raw);
      if (m.seq !== lastSeq + 1) gap ??= `seq ${m.seq} after ${lastSeq}`;
      lastSeq = m.seq;
      if (m.type === 'output' && m.executionId) {
        const e = entry(m.executionId);
        e.firstOutputAt ??= now();
        e.lastOutputAt = now();
        if (m.output.output_type === 'stream' && m.output.name === 'stdout') {
          e.chunks.push(m.output.text);
          e.bytes += Buffer.byteLength(m.output.text);
        }
        e.onOutput?.();
      } else if (m.type === 'execution' && ['ok', 'error', 'aborted', 'lost'].includes(m.state)) {
        const e = entry(m.executionId);
        e.final = { state: m.state, at: now(), error: m.error };
        e.onFinal?.();
      }
    });
    ws.on('close', (code, reason) => {
      for (const e of executions.values()) e.onFinal?.(new Error(`events socket closed ${code} ${reason}`));
    });
    ws.on('error', reject);
    ws.on('open', () =>
      resolve({
        ws,
        get gap() {
          return gap;
        },
        /** Resolves with the execution's entry once its final state has arrived. */
        final(eid) {
          const e = entry(eid);
          return new Promise((res, rej) => {
            const check = err => (err ? rej(err) : e.final && res(e));
            e.onFinal = check;
            check();
          });
        },
        /** Resolves once the execution's first output has arrived. */
        firstOutput(eid) {
          const e = entry(eid);
          return new Promise(res => {
            const check = () => e.firstOutputAt !== undefined && res(e);
            e.onOutput = check;
            check();
          });
        },
        forget(eid) {
          executions.delete(eid);
        }
      })
    );
  });
}

let notebooks = 0;
async function newSession(url) {
  const { id } = await api(url, 'POST', '/sessions', { image: IMAGE, notebookPath: `bench-${++notebooks}.ipynb` });
  return id;
}

/** Runs `code` and resolves with its entry once final (state ok, else throws). */
async function run(url, events, id, code) {
  const { executionId } = await api(url, 'POST', `/sessions/${id}/execute`, { code });
  const e = await events.final(executionId);
  if (e.final.state !== 'ok') throw new Error(`execution ${executionId} ended ${e.final.state}: ${e.final.error ?? ''}`);
  events.forget(executionId);
  return e;
}

// The local Jupyter kernel: one kernel, `rounds` executes of `code`, each timed from the
// execute request to the kernel's idle status (its outputs have been sent by then).
const KERNEL_HELPER = String.raw`
import json, statistics, sys, time
from jupyter_client.manager import start_new_kernel
code, rounds, warmup = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
km, kc = start_new_kernel(kernel_name="python3")
try:
    samples = []
    for i in range(warmup + rounds):
        t0 = time.perf_counter()
        msg_id = kc.execute(code)
        text = ""
        while True:
            m = kc.get_iopub_msg(timeout=30)
            if m["parent_header"].get("msg_id") != msg_id:
                continue
            if m["msg_type"] == "stream":
                text += m["content"]["text"]
            if m["msg_type"] == "status" and m["content"]["execution_state"] == "idle":
                break
        ms = (time.perf_counter() - t0) * 1000
        if text != "1\n":
            raise SystemExit("kernel printed %r" % text)
        if i >= warmup:
            samples.append(ms)
    print(json.dumps({"samples": samples}))
finally:
    kc.stop_channels()
    km.shutdown_kernel(now=True)
`;

async function benchRoundTrip(url) {
  console.log(`(a) print(1) round trip in a warm session (POST execute, output + final state on the WebSocket) vs a local Jupyter kernel`);
  const id = await newSession(url);
  const events = await openEvents(url, id);
  try {
    for (let i = 0; i < 5; i++) await run(url, events, id, 'print(1)');
    const ours = [];
    const toOutput = [];
    for (let i = 0; i < ROUNDS; i++) {
      const t = now();
      const e = await run(url, events, id, 'print(1)');
      ours.push(now() - t);
      toOutput.push(e.firstOutputAt - t);
      if (e.chunks.join('') !== '1\n') throw new Error(`the session printed ${JSON.stringify(e.chunks.join(''))}`);
    }
    const k = spawnSync(PYTHON, ['-c', KERNEL_HELPER, 'print(1)', String(ROUNDS), '5'], { encoding: 'utf8', timeout: 120_000 });
    if (k.status !== 0) throw new Error(`local kernel helper (${PYTHON}) exited ${k.status}: ${k.stderr}`);
    const kernel = JSON.parse(k.stdout.trim().split('\n').pop()).samples;
    console.log(`    session: ${stats(ours)}; its output arrived after ${fmt(median(toOutput))} (median)`);
    console.log(`    local kernel (jupyter_client, execute → idle): ${stats(kernel)}`);
    const ratio = median(ours) / median(kernel);
    console.log(`    ratio session / local kernel: ${ratio.toFixed(2)}`);
    target(ratio <= 2, `round trip <= 2x the local kernel (${ratio.toFixed(2)})`);
    target(median(ours) < 30, `round trip under 30 ms (${fmt(median(ours))})`);
  } finally {
    events.ws.close();
    await api(url, 'DELETE', `/sessions/${id}`);
  }
}

async function benchStart(url) {
  console.log(`(b) a new session until its first output vs docker run --rm ${IMAGE} python3 -c 'print(1)', ${START_ROUNDS} rounds alternating (after 1 warm-up)`);
  const ours = [];
  const base = [];
  for (let i = 0; i < START_ROUNDS + 1; i++) {
    const t = now();
    const id = await newSession(url);
    const events = await openEvents(url, id);
    const { executionId } = await api(url, 'POST', `/sessions/${id}/execute`, { code: 'print(1)' });
    const e = await events.firstOutput(executionId);
    const a = e.firstOutputAt - t;
    const text = e.chunks.join('');
    events.ws.close();
    await api(url, 'DELETE', `/sessions/${id}`);
    if (text !== '1\n') throw new Error(`the new session printed ${JSON.stringify(text)}`);
    const t2 = now();
    const r = spawnSync('docker', ['run', '--rm', IMAGE, 'python3', '-c', 'print(1)'], { encoding: 'utf8' });
    const b = now() - t2;
    if (r.status !== 0 || r.stdout !== '1\n') throw new Error(`docker run: ${r.status} ${r.stderr}`);
    if (i >= 1) {
      ours.push(a);
      base.push(b);
    }
  }
  const ratio = median(ours) / median(base);
  console.log(`    new session → first output: ${stats(ours)}`);
  console.log(`    docker run --rm: ${stats(base)}`);
  console.log(`    ratio: ${ratio.toFixed(2)}`);
  target(ratio <= 1.3, `session start <= 1.3x docker run --rm (${ratio.toFixed(2)})`);
}

/** Python writing `lines` lines of 100 bytes, each starting with its 9-digit number. */
const writerCode = lines => `import sys\nw = sys.stdout.write\npad = 'x' * 89\nfor i in range(${lines}):\n    w('%09d %s\\n' % (i, pad))\n`;

/** Checks the text: `lines` lines of 100 bytes numbered 0, 1, … in order. */
function checkLines(text, lines) {
  if (text.length !== lines * 100) return `${text.length} bytes, not ${lines * 100}`;
  for (let i = 0; i < lines; i++) {
    const at = i * 100;
    if (Number(text.slice(at, at + 9)) !== i || text.charCodeAt(at + 99) !== 10) return `line ${i} is ${JSON.stringify(text.slice(at, at + 20))}…`;
  }
  return undefined;
}

const sh = cmd => new Promise((resolve, reject) => execFile('sh', ['-c', cmd], { maxBuffer: 1 << 20 }, (err, stdout, stderr) => (err ? reject(new Error(`${cmd}: ${stderr || err.message}`)) : resolve(stdout))));

async function benchStdout(url) {
  const lines = Math.round((STDOUT_MB * 1e6) / 100);
  const bytes = lines * 100;
  console.log(`(c) ${STDOUT_MB} MB of stdout from one cell (${lines} numbered lines of 100 bytes)`);
  const id = await newSession(url);
  const events = await openEvents(url, id);
  let liveMs;
  let lastMs;
  let chunks;
  try {
    await run(url, events, id, 'print(1)');
    const t = now();
    const e = await run(url, events, id, writerCode(lines));
    liveMs = e.final.at - t;
    lastMs = e.lastOutputAt - t;
    chunks = e.chunks.length;
    const problem = checkLines(e.chunks.join(''), lines) ?? events.gap;
    if (problem) throw new Error(`the session's stdout is not complete and in order: ${problem}`);
  } finally {
    events.ws.close();
    await api(url, 'DELETE', `/sessions/${id}`);
  }
  // Baselines: the same code in a plain container; docker logs -f while it writes, then docker logs once it has ended.
  const code = writerCode(lines);
  const t1 = now();
  const plain = spawnSync('docker', ['run', '-d', IMAGE, 'python3', '-c', code], { encoding: 'utf8' });
  if (plain.status !== 0) throw new Error(`docker run -d: ${plain.stderr}`);
  const cid = plain.stdout.trim();
  let followed;
  let followMs;
  let logsMs;
  let logsBytes;
  try {
    followed = Number((await sh(`docker logs -f ${cid} | wc -c`)).trim());
    followMs = now() - t1;
    await sh(`docker wait ${cid}`);
    const t2 = now();
    logsBytes = Number((await sh(`docker logs ${cid} | wc -c`)).trim());
    logsMs = now() - t2;
  } finally {
    spawnSync('docker', ['rm', '-f', cid]);
  }
  const rate = (b, ms) => b / 1e6 / (ms / 1000);
  console.log(`    session, over the WebSocket (POST execute → final state): complete and in order, ${(liveMs / 1000).toFixed(2)} s, ${rate(bytes, liveMs).toFixed(1)} MB/s, in ${chunks} stream messages; the last byte came after ${(lastMs / 1000).toFixed(2)} s (${rate(bytes, lastMs).toFixed(1)} MB/s), the final state ${((liveMs - lastMs) / 1000).toFixed(2)} s later`);
  console.log(`    docker run -d + docker logs -f (live): ${followed === bytes ? 'complete' : `${followed} bytes`}, ${(followMs / 1000).toFixed(2)} s, ${rate(followed, followMs).toFixed(1)} MB/s`);
  console.log(`    docker logs of the ended container (a read): ${logsBytes === bytes ? 'complete' : `${logsBytes} bytes`}, ${(logsMs / 1000).toFixed(2)} s, ${rate(logsBytes, logsMs).toFixed(1)} MB/s`);
  const ratio = rate(bytes, liveMs) / rate(followed, followMs);
  console.log(`    ratio session / docker logs -f: ${ratio.toFixed(2)}; session / docker logs (read): ${(rate(bytes, liveMs) / rate(logsBytes, logsMs)).toFixed(2)}`);
  target(ratio >= 0.8, `stdout rate >= 0.8x docker logs -f (${ratio.toFixed(2)})`);
}

(async () => {
  const args = process.argv.slice(2);
  const check = args.includes('--check');
  const which = args.filter(a => a !== '--check');
  const { child, url } = await startBridge();
  console.log(`bridge ${url}; image ${IMAGE}; ${os.cpus().length} CPUs, load ${os.loadavg().map(x => x.toFixed(1)).join(' ')}`);
  try {
    if (!which.length || which.includes('roundtrip')) await benchRoundTrip(url);
    if (!which.length || which.includes('start')) await benchStart(url);
    if (!which.length || which.includes('stdout')) await benchStdout(url);
  } finally {
    child.kill('SIGTERM');
    await new Promise(r => child.once('exit', r));
    fs.rmSync(workDir, { recursive: true, force: true });
  }
  if (missed.length) {
    console.log(`targets missed: ${missed.join('; ')}`);
    if (check) process.exit(1);
  }
})().catch(err => {
  console.error(err);
  process.exit(1);
});
