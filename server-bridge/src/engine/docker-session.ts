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
import { buildCreateOptions, DEFAULT_PIDS_LIMIT, LABEL_SESSION, type ContainerPlan } from './host-config';
import { isNvidiaRefusal, NVIDIA_RUNTIME_FIX } from './docker-diagnosis';
import { dockerMessage } from './image';
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
  /** CPUs (Docker's NanoCpus; fractions allowed); absent: no limit. */
  cpus?: number;
  /** DeviceRequests, as for a run's batch. */
  gpus?: ContainerPlan['gpus'];
  /** GPUs the bridge assigned (nvidia-smi indexes or UUIDs), when `gpus` is not given: the engine makes the DeviceRequest. */
  gpuDeviceIds?: string[];
  env?: Record<string, string>;
  labels?: Record<string, string>;
  /** `uid:gid` to run as (files written in the notebook's folder belong to them). */
  user?: string;
  /** How long the runner may take to say it is ready (default 30 s). */
  readyTimeoutMs?: number;
  /**
   * The device and inode of the folder the caller checked (on an open descriptor) for
   * `workDir`: once the container runs, its SESSION_WORK_DIR must be that very folder, or
   * the session is refused (the path was swapped for a link between the check and the
   * bind, which dockerd follows as root).
   */
  workDirIdentity?: { dev: number; ino: number };
  /**
   * The checked folder's owner: where the engine would run containers as root (a bridge
   * running as root), the session runs as them instead, so that what it writes in their
   * folder is theirs and a root container cannot plant root-owned (setuid) files there.
   */
  workDirOwner?: { uid: number; gid: number };
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

/** Why Docker refused to start a session's container, in words, with what to do. */
function explainSessionStartError(err: unknown, spec: SessionSpec): Error {
  const msg = dockerMessage(err);
  if (isNvidiaRefusal(msg, !!(spec.gpus || spec.gpuDeviceIds?.length))) {
    return new Error(`the session asks for ${spec.gpus?.summary ?? 'GPUs'}, but this Docker engine cannot give containers NVIDIA GPUs: ${NVIDIA_RUNTIME_FIX}, or start the session without GPUs. Docker said: ${msg}`);
  }
  return new Error(`Docker could not start the session's container: ${msg}`);
}

/** Python run in the container to say which folder its working directory is (device and inode). */
const WORK_DIR_IDENTITY = `import os; s = os.stat(${JSON.stringify(SESSION_WORK_DIR)}); print(s.st_dev, s.st_ino)`;

export class DockerSession {
  private ended?: SessionEnd;
  private readyInfo?: Extract<SessionMessage, { type: 'ready' }>;
  /** Set by detach(): the bridge lets go of a container that keeps running. */
  private detached = false;
  private readonly waitAbort = new AbortController();
  /** The image it runs (set by the engine that resolved it). */
  image?: { ref: string; id: string; digest?: string };
  /** The container's environment (reattach: the values a restart needs again). */
  env?: Record<string, string>;

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

  /** Python's version in the container (unknown after a reattach: the runner said it before). */
  get python(): string | undefined {
    return this.readyInfo?.python;
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
    if (spec.cpus !== undefined) (create.HostConfig as Docker.HostConfig).NanoCpus = Math.round(spec.cpus * 1e9);
    const container = await docker.createContainer(create);
    try {
      await container.putArchive(runnerArchive() as unknown as NodeJS.ReadableStream, { path: '/' });
      const stream = (await container.attach({ stream: true, stdin: true, stdout: true, stderr: true, hijack: true })) as unknown as Duplex;
      const session = new DockerSession(docker, container.id, stream, spec);
      const identity = spec.workDirIdentity;
      await session.listen(container, stream, listeners, true, identity ? () => session.checkWorkDir(container, identity) : undefined);
      return session;
    } catch (err) {
      await removeContainer(container);
      throw err;
    }
  }

  /**
   * Attaches again to the running container of a session a previous bridge started: its
   * runner kept its namespace (Docker keeps the stdin of a StdinOnce=false container open
   * when an attach ends). Rejects when the container is not running.
   */
  static async reattach(docker: Docker, containerId: string, spec: SessionSpec, listeners: SessionListeners): Promise<DockerSession> {
    const container = docker.getContainer(containerId);
    const info = await container.inspect();
    if (!info.State.Running) throw new SessionEndedError(endOf(info, '', spec.ramMb));
    if (info.Config.Labels?.[LABEL_SESSION] !== spec.sessionId) throw new Error(`container ${containerId} is not session ${spec.sessionId}'s`);
    const stream = (await container.attach({ stream: true, stdin: true, stdout: true, stderr: true, hijack: true })) as unknown as Duplex;
    const session = new DockerSession(docker, container.id, stream, spec);
    session.env = Object.fromEntries((info.Config.Env ?? []).map(e => [e.slice(0, Math.max(0, e.indexOf('='))), e.slice(e.indexOf('=') + 1)]).filter(([k]) => k));
    session.image = { ref: spec.image, id: info.Image };
    await session.listen(container, stream, listeners, false);
    return session;
  }

  /** Fails (and the caller removes the container) when SESSION_WORK_DIR is not the folder that was checked. */
  private async checkWorkDir(container: Docker.Container, want: { dev: number; ino: number }): Promise<void> {
    const exec = await container.exec({ Cmd: ['python3', '-S', '-c', WORK_DIR_IDENTITY], AttachStdout: true, AttachStderr: true, ...(this.spec.user ? { User: this.spec.user } : {}) });
    const stream = (await exec.start({ hijack: true, stdin: false })) as unknown as Duplex;
    let out = '';
    const demux = new DockerDemuxer((name, chunk) => {
      if (name === 'stdout') out += chunk.toString('utf8');
    }, 0);
    await new Promise<void>((resolve, reject) => {
      stream.on('data', (c: Buffer) => {
        demux.push(c);
        demux.flush();
      });
      stream.on('end', resolve);
      stream.on('close', resolve);
      stream.on('error', reject);
    });
    const [dev, ino] = out.trim().split(/\s+/).map(Number);
    if (dev !== want.dev || ino !== want.ino) {
      throw new Error(
        `the notebook folder ${this.spec.workDir} changed while the session started (the container got another folder: a link was put in its place): ` +
          'nothing ran; start the session again once the folder stays put'
      );
    }
  }

  /**
   * Reads the runner's messages; with `start`, starts the container and resolves at `ready`,
   * rejecting when it ends before. `check` runs once the container runs, beside the wait
   * for ready; its refusal counts only when the runner got ready (else the runner's end says why).
   */
  private async listen(container: Docker.Container, stream: Duplex, listeners: SessionListeners, start: boolean, check?: () => Promise<void>): Promise<void> {
    let line = '';
    let stderr = '';
    let onReady: (() => void) | undefined;
    let onEarlyEnd: ((e: Error) => void) | undefined;
    const ready = new Promise<void>((resolve, reject) => {
      onReady = resolve;
      onEarlyEnd = reject;
    });
    ready.catch(() => undefined); // a reattach never waits for it; a start may have given up on it
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
      .wait({ condition: 'next-exit', abortSignal: this.waitAbort.signal })
      .catch(() => undefined)
      .then(async () => {
        if (this.detached) return;
        const info = await container.inspect().catch(() => undefined);
        this.ended = endOf(info, stderr, this.spec.ramMb);
        onEarlyEnd?.(new SessionEndedError(this.ended));
        listeners.onEnd?.(this.ended);
      });
    if (!start) return;
    try {
      await container.start();
    } catch (err) {
      throw explainSessionStartError(err, this.spec);
    }
    const checked = check?.().then(
      () => undefined,
      (err: Error) => err
    );
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
    const refused = await checked;
    if (refused) throw refused;
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

  /** Lets go of the container without stopping it (a bridge that stops: the next one reattaches). */
  detach(): void {
    this.detached = true;
    this.waitAbort.abort();
    this.stdin.destroy();
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
