// Streams into and out of a pod through the API server, where @kubernetes/client-node 0.22 does
// not do what a batch needs:
// - execInPod: its Exec sends stdin without back-pressure (a large inputs archive would sit in
//   memory) and closes the socket when stdin ends, before the command's status arrives; here stdin
//   is sent a chunk at a time as the socket drains, and the call ends with the command's exit code
//   from the status channel (v5.channel.k8s.io or v4.channel.k8s.io);
// - followLog: its Log has no sinceTime; here the log is read with timestamps, and a stream that
//   ends while the container still runs (API server restart, idle timeout) is opened again from
//   the last second seen, lines already sent skipped.
// Both use the KubeConfig's server, TLS and credentials (applyToHTTPSOptions).
import * as http from 'http';
import * as https from 'https';
import type { Readable, Writable } from 'stream';
import WebSocket from 'ws';
import type { KubeConfig } from '@kubernetes/client-node';

export const EXEC_PROTOCOLS = ['v5.channel.k8s.io', 'v4.channel.k8s.io'];
const STDIN = 0;
const STDOUT = 1;
const STDERR = 2;
const STATUS = 3;
const CLOSE = 255;

function serverOf(kc: KubeConfig): string {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error('the kubeconfig has no current cluster: set a context (settings.context) or current-context');
  return cluster.server.replace(/\/+$/, '');
}

export interface ExecRequest {
  namespace: string;
  pod: string;
  container: string;
  command: string[];
  stdin?: Readable;
  stdout?: Writable;
  signal?: AbortSignal;
}

export interface ExecResult {
  exitCode: number;
  /** What the command wrote on stderr (the first 64 KiB), for messages. */
  stderr: string;
}

/** The exit code a Status from the exec status channel says (metav1.Status: Success, or NonZeroExitCode with an ExitCode cause). */
export function exitCodeOfStatus(status: { status?: string; reason?: string; message?: string; details?: { causes?: { reason?: string; message?: string }[] } }): number {
  if (status.status === 'Success') return 0;
  const cause = status.details?.causes?.find(c => c.reason === 'ExitCode');
  if (status.reason === 'NonZeroExitCode' && cause?.message !== undefined && /^\d+$/.test(cause.message)) return Number(cause.message);
  throw new Error(`the command could not run in the pod: ${status.message ?? status.reason ?? 'unknown error'}`);
}

/** Runs `command` in a container of a pod and resolves with its exit code once it has ended and its stdout is written. */
export async function execInPod(kc: KubeConfig, req: ExecRequest): Promise<ExecResult> {
  const q = new URLSearchParams();
  for (const c of req.command) q.append('command', c);
  q.set('container', req.container);
  q.set('stdin', String(!!req.stdin));
  q.set('stdout', 'true');
  q.set('stderr', 'true');
  q.set('tty', 'false');
  const url = `${serverOf(kc).replace(/^http/, 'ws')}/api/v1/namespaces/${encodeURIComponent(req.namespace)}/pods/${encodeURIComponent(req.pod)}/exec?${q}`;
  const opts: WebSocket.ClientOptions = {};
  await kc.applyToHTTPSOptions(opts);
  const ws = new WebSocket(url, EXEC_PROTOCOLS, opts);
  let stderr = '';
  return new Promise<ExecResult>((resolve, reject) => {
    let status: Record<string, unknown> | undefined;
    let failed: Error | undefined;
    const fail = (err: Error) => {
      failed ??= err;
      ws.terminate();
    };
    const onAbort = () => fail(new Error('cancelled'));
    req.signal?.addEventListener('abort', onAbort, { once: true });
    if (req.signal?.aborted) onAbort();
    ws.on('unexpected-response', (_r, res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString('utf8').slice(0, 4096)));
      res.on('end', () => fail(new Error(`the API server refused the exec into ${req.pod}/${req.container} (HTTP ${res.statusCode}): ${messageOf(body)}`)));
    });
    ws.on('error', err => fail(err));
    ws.on('open', () => {
      if (req.stdin) sendStdin(ws, req.stdin).catch(err => fail(err));
    });
    ws.on('message', (data: Buffer, isBinary) => {
      const buf = isBinary ? data : Buffer.from(data.toString(), 'utf8');
      if (!buf.length) return;
      const channel = buf[0];
      const payload = buf.subarray(1);
      if (channel === STDOUT && req.stdout) {
        if (!req.stdout.write(payload)) {
          ws.pause();
          req.stdout.once('drain', () => ws.resume());
        }
      } else if (channel === STDERR) {
        if (stderr.length < 65536) stderr += payload.toString('utf8');
      } else if (channel === STATUS) {
        try {
          status = JSON.parse(payload.toString('utf8'));
        } catch {
          status = { status: 'Failure', message: payload.toString('utf8') };
        }
        ws.close();
      }
    });
    ws.on('close', () => {
      req.signal?.removeEventListener('abort', onAbort);
      if (failed) return reject(failed);
      if (!status) return reject(new Error(`the exec connection to ${req.pod}/${req.container} closed before the command ended`));
      let exitCode: number;
      try {
        exitCode = exitCodeOfStatus(status);
      } catch (err) {
        return reject(err);
      }
      const done = () => resolve({ exitCode, stderr });
      if (req.stdout && !req.stdout.writableFinished) req.stdout.end(done);
      else done();
    });
  });
}

/** stdin a chunk at a time, each after the socket took the last; then, on v5, the close of stdin. */
async function sendStdin(ws: WebSocket, stdin: Readable): Promise<void> {
  const send = (buf: Buffer) => new Promise<void>((ok, fail) => ws.send(buf, { binary: true }, err => (err ? fail(err) : ok())));
  for await (const chunk of stdin) {
    if (ws.readyState !== WebSocket.OPEN) return;
    const data = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk);
    // Frames of at most 1 MiB: API servers limit a frame's size.
    for (let i = 0; i < data.length; i += 1 << 20) await send(Buffer.concat([Buffer.from([STDIN]), data.subarray(i, i + (1 << 20))]));
  }
  if (ws.readyState === WebSocket.OPEN && ws.protocol === 'v5.channel.k8s.io') await send(Buffer.from([CLOSE, STDIN]));
}

/** The `message` of a JSON Status body, else the body's start. */
function messageOf(body: string): string {
  try {
    const j = JSON.parse(body) as { message?: string };
    if (j.message) return j.message;
  } catch {
    /* not JSON */
  }
  return body.slice(0, 300) || 'no message';
}

export interface FollowLogRequest {
  namespace: string;
  pod: string;
  container: string;
  /** Log text, without the timestamps, in order, each piece once. */
  onData: (text: string) => void;
  /** Whether the container may still write (false: the stream's end is the log's end). */
  stillRunning: () => boolean;
  signal: AbortSignal;
  /** Milliseconds before opening a stream again (default 1000). */
  retryMs?: number;
  /** Called when a stream is opened again, for a note in the run's events. */
  onReconnect?: (attempt: number) => void;
}

/** An RFC 3339 timestamp as a key that sorts as time does (seconds, then nanoseconds). */
export function timestampKey(ts: string): string | undefined {
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)$/.exec(ts);
  if (!m) return undefined;
  const secs = Date.parse(`${m[1]}${m[3]}`) / 1000;
  return `${String(secs).padStart(12, '0')}.${(m[2] ?? '').padEnd(9, '0')}`;
}

/**
 * Follows a container's log to its end (timestamps=true&follow=true), opening the stream again
 * when it ends while `stillRunning()`: from the last whole second seen (sinceTime), skipping
 * lines at or before the last one sent. Resolves when the log has ended or on abort.
 */
export async function followLog(kc: KubeConfig, req: FollowLogRequest): Promise<void> {
  let lastKey: string | undefined;
  let lastTime: string | undefined;
  let sameKeyCount = 0;
  for (let attempt = 0; !req.signal.aborted; attempt++) {
    if (attempt > 0) {
      // The stream may end a moment before the watch says the container has: look again after the pause.
      await new Promise(r => setTimeout(r, req.retryMs ?? 1000));
      if (!req.stillRunning() || req.signal.aborted) return;
      req.onReconnect?.(attempt);
    }
    let seenAtLast = 0;
    const q = new URLSearchParams({ container: req.container, follow: 'true', timestamps: 'true' });
    if (lastTime) q.set('sinceTime', lastTime.replace(/\.\d+/, ''));
    const onLine = (line: string) => {
      const sp = line.indexOf(' ');
      const ts = sp > 0 ? line.slice(0, sp) : line;
      const key = timestampKey(ts);
      const text = sp > 0 ? line.slice(sp + 1) : '';
      if (key === undefined) return req.onData(line);
      if (lastKey !== undefined && key < lastKey) return;
      if (key === lastKey) {
        // Lines with the very same timestamp: skip as many as were sent before.
        if (++seenAtLast <= sameKeyCount) return;
        sameKeyCount++;
      } else {
        lastKey = key;
        lastTime = ts;
        sameKeyCount = 1;
        seenAtLast = 1;
      }
      req.onData(text);
    };
    try {
      await streamLines(kc, `/api/v1/namespaces/${encodeURIComponent(req.namespace)}/pods/${encodeURIComponent(req.pod)}/log?${q}`, onLine, req.signal);
    } catch (err) {
      if (req.signal.aborted) return;
      if (!req.stillRunning()) throw err;
    }
    if (!req.stillRunning() || req.signal.aborted) return;
  }
}

/** GET `path` and hand each line (with its '\n') to onLine; a last line without one is handed over too. */
async function streamLines(kc: KubeConfig, path: string, onLine: (line: string) => void, signal: AbortSignal): Promise<void> {
  const base = serverOf(kc);
  const opts: https.RequestOptions = { method: 'GET', headers: {} };
  await kc.applyToHTTPSOptions(opts);
  const url = new URL(base + path);
  const mod = url.protocol === 'https:' ? https : http;
  await new Promise<void>((resolve, reject) => {
    const r = mod.request(url, { ...opts, signal }, res => {
      if ((res.statusCode ?? 0) >= 300) {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString('utf8').slice(0, 4096)));
        res.on('end', () => reject(new Error(`the API server refused the log (HTTP ${res.statusCode}): ${messageOf(body)}`)));
        return;
      }
      let pending = Buffer.alloc(0);
      res.on('data', (d: Buffer) => {
        pending = Buffer.concat([pending, d]);
        let nl: number;
        while ((nl = pending.indexOf(10)) >= 0) {
          onLine(pending.subarray(0, nl + 1).toString('utf8'));
          pending = pending.subarray(nl + 1);
        }
      });
      res.on('end', () => {
        if (pending.length) onLine(pending.toString('utf8'));
        resolve();
      });
      res.on('error', reject);
    });
    r.on('error', reject);
    r.end();
  });
}
