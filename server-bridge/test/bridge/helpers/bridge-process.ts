// A real bridge in a child process (the built `redlab bridge`), so tests can
// SIGKILL and restart it like a crash would.
import { spawn, type ChildProcess } from 'child_process';
import * as path from 'path';

const bin = path.resolve(__dirname, '../../../bin/redlab.js');

export interface BridgeProcess {
  child: ChildProcess;
  url: string;
  token: string;
  /** Everything the bridge wrote (JSON log lines). */
  output(): string;
  api<T = unknown>(method: string, route: string, body?: unknown): Promise<{ status: number; body: T }>;
  kill(signal?: NodeJS.Signals): Promise<number | null>;
  /** Resident memory of the bridge process in bytes (from /proc). */
  rss(): number;
}

export async function startBridgeProcess(opts: {
  dataDir: string;
  token: string;
  parallel?: number;
  extraArgs?: string[];
  cwd?: string;
  /** The child's environment (default: this process's); REDLAB_TOKEN is set on top. */
  env?: NodeJS.ProcessEnv;
}): Promise<BridgeProcess> {
  const args = [bin, 'bridge', '--port', '0', '--data-dir', opts.dataDir, '--parallel', String(opts.parallel ?? 4), ...(opts.extraArgs ?? [])];
  const child = spawn(process.execPath, args, {
    cwd: opts.cwd ?? opts.dataDir,
    env: { ...(opts.env ?? process.env), REDLAB_TOKEN: opts.token },
    stdio: ['ignore', 'pipe', 'pipe']
  });
  let out = '';
  child.stdout!.on('data', d => (out += d));
  child.stderr!.on('data', d => (out += d));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`bridge did not start in 30 s:\n${out}`)), 30_000);
    const check = () => {
      const m = /"url":"(http:\/\/[^"]+)".*RED Lab bridge ready/.exec(out) ?? /RED Lab bridge ready.*"url":"(http:\/\/[^"]+)"/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    };
    child.stdout!.on('data', check);
    child.on('exit', code => {
      clearTimeout(timer);
      reject(new Error(`bridge exited with ${code}:\n${out}`));
    });
  });
  const exited = new Promise<number | null>(r => child.on('exit', code => r(code)));
  return {
    child,
    url,
    token: opts.token,
    output: () => out,
    async api<T>(method: string, route: string, body?: unknown) {
      const res = await fetch(`${url}/api/v1${route}`, {
        method,
        headers: { Authorization: `Bearer ${opts.token}`, ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}) },
        body: body !== undefined ? JSON.stringify(body) : undefined
      });
      const text = await res.text();
      return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T };
    },
    kill(signal: NodeJS.Signals = 'SIGKILL') {
      child.kill(signal);
      return exited;
    },
    rss() {
      const status = require('fs').readFileSync(`/proc/${child.pid}/status`, 'utf8') as string;
      const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
      return kb * 1024;
    }
  };
}

/** A RED that runs `script` with busybox `sh -c`; its stdout is kept as the output `out` (in `stdout`, out.txt by default) unless `stdoutOutput` is false. */
export function shRed(
  script: string,
  opts: { image?: string; gpus?: Record<string, unknown>; stdoutOutput?: boolean; stdout?: string; fileOutput?: string } = {}
): Record<string, unknown> {
  const outputs: Record<string, unknown> = {};
  if (opts.stdoutOutput !== false) outputs.out = { type: 'stdout' };
  if (opts.fileOutput) outputs.result = { type: 'File', outputBinding: { glob: opts.fileOutput } };
  const settings: Record<string, unknown> = { image: { url: opts.image ?? 'redlab/busybox:1' }, ram: 256 };
  if (opts.gpus) settings.gpus = { vendor: 'nvidia', ...opts.gpus };
  return {
    redVersion: '9',
    cli: {
      cwlVersion: 'v1.0',
      class: 'CommandLineTool',
      baseCommand: ['sh', '-c'],
      inputs: { script: { type: 'string', inputBinding: { position: 0 } } },
      outputs,
      ...(opts.stdoutOutput !== false ? { stdout: opts.stdout ?? 'out.txt' } : {})
    },
    inputs: { script },
    outputs: {},
    container: { engine: 'docker', settings }
  };
}

/** A RED that prints numbered lines slowly and writes an output file: easy to check for gaps and duplicates. */
export function countingRed(lines: number, delay = 0.05, tag = 'r'): Record<string, unknown> {
  return shRed(`i=1; while [ $i -le ${lines} ]; do echo "${tag} line $i"; i=$((i+1)); sleep ${delay}; done; echo "${tag} done" > result.txt`, {
    stdoutOutput: false,
    fileOutput: 'result.txt'
  });
}

export function expectedLines(lines: number, tag = 'r'): string {
  return Array.from({ length: lines }, (_, i) => `${tag} line ${i + 1}\n`).join('');
}

export async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 60_000, everyMs = 200): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise(r => setTimeout(r, everyMs));
  }
}

/** POSTs `body` (`{ red, variables? }`) to /runs and expects it taken (201); returns the run's id. */
export async function postRun(bridge: BridgeProcess, body: Record<string, unknown>): Promise<string> {
  const posted = await bridge.api<{ id: string }>('POST', '/runs', body);
  expect(posted.status).toBe(201);
  return posted.body.id;
}

/** Polls GET /runs/{id} until the run has ended (succeeded, failed or cancelled); returns its record. */
export function waitForRunEnd<T extends { state: string }>(bridge: BridgeProcess, id: string, what = 'the run to finish', timeoutMs = 60_000): Promise<T> {
  return waitFor(
    what,
    async () => {
      const r = (await bridge.api<T>('GET', `/runs/${id}`)).body;
      return ['succeeded', 'failed', 'cancelled'].includes(r.state) ? r : undefined;
    },
    timeoutMs
  );
}
