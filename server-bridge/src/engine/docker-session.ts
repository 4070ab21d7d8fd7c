// A container session (issue 10): one long-lived, hardened container per notebook and
// profile in which the session runner (jupyterlab_redlab/runner/redlab_session.py, copied
// in before the start, so any image with python3 works) executes cells one at a time in
// one namespace. The bridge speaks the runner's JSON-lines protocol over the container's
// attached stdin and stdout; the notebook's folder is the working directory, bound
// read-write, so files flow both ways. Interrupt is SIGINT to the runner (tini passes
// it on); a container that ends (OOM, crash, stop) says why, and an execute after that
// is refused with the reason instead of waiting for ever.
import type Docker from 'dockerode';
import { randomUUID } from 'crypto';
import type { Duplex } from 'stream';
import * as tar from 'tar-stream';
import { DockerDemuxer, removeContainer } from './container';
import { buildCreateOptions, DEFAULT_PIDS_LIMIT, type ContainerPlan } from './host-config';
import { SESSION_RUNNER_FILENAME, SESSION_RUNNER_SOURCE } from './session-runner-source';

/** Where the notebook's folder is in a session's container (its working directory). */
export const SESSION_WORK_DIR = '/work';
/** Where the runner is copied. */
export const SESSION_RUNNER_PATH = `/opt/redlab/${SESSION_RUNNER_FILENAME}`;

/** A message of the runner (see the protocol in redlab_session.py). */
export type SessionMessage =
  | { type: 'ready'; runner: string; python: string; pid: number }
  | { type: 'status'; id: string; state: 'busy' }
  | { type: 'output'; id: string | null; output: Record<string, unknown> }
  | { type: 'done'; id: string; status: 'ok' | 'error' | 'aborted'; executionCount: number }
  | { type: 'protocol-error'; message: string };

export interface SessionSpec {
  /** The bridge's id of the session (label org.redlab.session). */
  sessionId: string;
  /** Image ID or reference, present on the engine (the caller ensures it). */
  image: string;
  /** Host folder (real path, inside the allowed roots: the caller checks) bound read-write at SESSION_WORK_DIR. */
  workDir: string;
  ramMb?: number | null;
  /** DeviceRequests, as for a run's batch. */
  gpus?: ContainerPlan['gpus'];
  env?: Record<string, string>;
  labels?: Record<string, string>;
  /** `uid:gid` to run as (files written in the notebook's folder belong to them). */
  user?: string;
  /** How long the runner may take to say it is ready (default 30 s). */
  readyTimeoutMs?: number;
}

/** How a session's container ended. */
export interface SessionEnd {
  exitCode?: number;
  oomKilled: boolean;
  /** In words, with what to do. */
  message: string;
}

export class SessionEndedError extends Error {
  constructor(readonly end: SessionEnd) {
    super(`the session has ended: ${end.message}; start a new one`);
    this.name = 'SessionEndedError';
  }
}

export interface SessionListeners {
  /** Every message of the runner after `ready`, in order. */
  onMessage(m: SessionMessage): void;
  /** Once, when the container has ended. */
  onEnd?(end: SessionEnd): void;
  /** What the runner itself writes on stderr (its own failures; a cell's output never comes here). */
  onRunnerLog?(text: string): void;
}

/** The runner copied into the created container. */
function runnerArchive(): tar.Pack {
  const pack = tar.pack();
  pack.entry({ name: SESSION_RUNNER_PATH.slice(1), mode: 0o644, uid: 0, gid: 0 }, SESSION_RUNNER_SOURCE);
  pack.finalize();
  return pack;
}

function endOf(info: Docker.ContainerInspectInfo | undefined, stderr: string, ramMb: number | null | undefined): SessionEnd {
  const st = info?.State;
  const exitCode = st?.ExitCode;
  if (st?.OOMKilled) return { exitCode, oomKilled: true, message: `killed: out of memory (ram: ${ramMb ? `${ramMb} MB` : 'the default limit'}); start the session with more RAM` };
  if (/python3.*(not found|no such file)|exec python3 failed/i.test(stderr) || exitCode === 127) {
    return { exitCode, oomKilled: false, message: `the image has no python3, which runs the cells (${stderr.trim().split('\n').pop() ?? `exit code ${exitCode}`}): use an image with python3` };
  }
  const tail = stderr.trim().split('\n').slice(-5).join('\n');
  if (exitCode === 143 || exitCode === 137) return { exitCode, oomKilled: false, message: `stopped (exit code ${exitCode})` };
  return { exitCode, oomKilled: false, message: `the session's runner ended with exit code ${exitCode ?? 'unknown'}${tail ? `: ${tail}` : ''}` };
}

export class DockerSession {
  private ended?: SessionEnd;
  private readyInfo?: Extract<SessionMessage, { type: 'ready' }>;

  private constructor(
    private readonly docker: Docker,
    readonly containerId: string,
    private readonly stdin: Duplex,
    private readonly spec: SessionSpec
  ) {}

  /** The runner's `ready` message (its version, Python's). */
  get ready(): Extract<SessionMessage, { type: 'ready' }> {
    return this.readyInfo as Extract<SessionMessage, { type: 'ready' }>;
  }

  /** Why it ended, once it has. */
  get end(): SessionEnd | undefined {
    return this.ended;
  }

  /**
   * Creates and starts the container, copies the runner in, and resolves once the runner
   * said it is ready; a container that ends first (no python3, say) rejects with why.
   */
  static async start(docker: Docker, spec: SessionSpec, listeners: SessionListeners): Promise<DockerSession> {
    const create = buildCreateOptions({
      image: spec.image,
      cmd: ['python3', '-u', SESSION_RUNNER_PATH],
      name: `redlab-session-${spec.sessionId.slice(0, 12)}-${randomUUID().slice(0, 8)}`,
      ramMb: spec.ramMb,
      gpus: spec.gpus,
      inputBinds: [],
      workDir: { hostPath: spec.workDir, containerPath: SESSION_WORK_DIR },
      stdin: true,
      session: spec.sessionId,
      runId: spec.sessionId,
      batch: 0,
      labels: spec.labels,
      user: spec.user,
      pidsLimit: DEFAULT_PIDS_LIMIT
    });
    create.Env = Object.entries(spec.env ?? {}).map(([k, v]) => `${k}=${v}`);
    const container = await docker.createContainer(create);
    try {
      await container.putArchive(runnerArchive() as unknown as NodeJS.ReadableStream, { path: '/' });
      const stream = (await container.attach({ stream: true, stdin: true, stdout: true, stderr: true, hijack: true })) as unknown as Duplex;
      const session = new DockerSession(docker, container.id, stream, spec);
      await session.listen(container, stream, listeners);
      return session;
    } catch (err) {
      await removeContainer(container);
      throw err;
    }
  }

  /** Reads the runner's messages; resolves at `ready`, rejects when the container ends before. */
  private async listen(container: Docker.Container, stream: Duplex, listeners: SessionListeners): Promise<void> {
    let line = '';
    let stderr = '';
    let onReady: (() => void) | undefined;
    let onEarlyEnd: ((e: Error) => void) | undefined;
    const ready = new Promise<void>((resolve, reject) => {
      onReady = resolve;
      onEarlyEnd = reject;
    });
    const demux = new DockerDemuxer((name, chunk) => {
      if (name === 'stderr') {
        const text = chunk.toString('utf8');
        if (stderr.length < 8192) stderr += text;
        listeners.onRunnerLog?.(text);
        return;
      }
      line += chunk.toString('utf8');
      let nl: number;
      while ((nl = line.indexOf('\n')) >= 0) {
        const one = line.slice(0, nl);
        line = line.slice(nl + 1);
        if (!one.trim()) continue;
        let m: SessionMessage;
        try {
          m = JSON.parse(one) as SessionMessage;
        } catch {
          listeners.onRunnerLog?.(`not a protocol line: ${one.slice(0, 200)}\n`);
          continue;
        }
        if (m.type === 'ready' && !this.readyInfo) {
          this.readyInfo = m;
          onReady?.();
        } else listeners.onMessage(m);
      }
    }, 0);
    stream.on('data', (chunk: Buffer) => {
      demux.push(chunk);
      demux.flush();
    });
    stream.on('error', () => undefined); // the end is told by wait() below
    // 'next-exit': the default ('not-running') is met at once by a container not started yet.
    void container
      .wait({ condition: 'next-exit' })
      .catch(() => undefined)
      .then(async () => {
        const info = await container.inspect().catch(() => undefined);
        this.ended = endOf(info, stderr, this.spec.ramMb);
        onEarlyEnd?.(new SessionEndedError(this.ended));
        listeners.onEnd?.(this.ended);
      });
    await container.start();
    const timeoutMs = this.spec.readyTimeoutMs ?? 30_000;
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        ready,
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error(`the session's runner did not start within ${timeoutMs / 1000} s${stderr ? `: ${stderr.trim().slice(-500)}` : ''}`)), timeoutMs);
        })
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  private send(request: Record<string, unknown>): void {
    if (this.ended) throw new SessionEndedError(this.ended);
    this.stdin.write(JSON.stringify(request) + '\n');
  }

  /** Runs `code` as one cell; its status, outputs and done come as messages with `id`. */
  execute(id: string, code: string, cellId?: string): void {
    this.send({ type: 'execute', id, code, ...(cellId ? { cellId } : {}) });
  }

  /** Interrupts the running cell (as a kernel's stop button): SIGINT to the runner. */
  async interrupt(): Promise<void> {
    if (this.ended) throw new SessionEndedError(this.ended);
    await this.docker.getContainer(this.containerId).kill({ signal: 'SIGINT' });
  }

  /** Ends the session: the runner is asked to stop, the container is stopped and removed. */
  async stop(): Promise<void> {
    if (!this.ended) {
      try {
        this.send({ type: 'shutdown' });
      } catch {
        // ended meanwhile
      }
    }
    const c = this.docker.getContainer(this.containerId);
    await c.stop({ t: 2 }).catch(() => undefined);
    this.stdin.destroy();
    await removeContainer(c);
  }
}
