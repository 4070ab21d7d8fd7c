// One container's life: create, attach (before start, so no output is lost),
// start, stream stdout/stderr live and into files, wait, inspect (exit code,
// OOM), stop on cancel, remove. A container a previous (crashed) process started
// is taken up again by resumeContainer: its whole log is read back from Docker,
// then the same wait/inspect/remove as for a new one. The capture files are the
// caller's private files, never in a folder the container can write (it could
// plant a link there): see DockerEngine, which puts them in place afterwards.
import type Docker from 'dockerode';
import { constants as fsc, createWriteStream, openSync, type WriteStream } from 'fs';
import { rename, rm, stat } from 'fs/promises';
import * as path from 'path';
import { Readable } from 'stream';
import { StringDecoder } from 'string_decoder';
import { dockerMessage } from './image';
import { sampleStats, type StatsOptions } from './stats';
import { CONTAINER_OUTPUTS_DIR } from '../../../src/red';

export type StreamName = 'stdout' | 'stderr';

/** Milliseconds a partial line waits before it is let out. */
export const LINE_FLUSH_MS = 200;
/** A partial line this long (UTF-16 units, ~64 KiB of ASCII) is let out at once. */
export const LINE_MAX_CHARS = 64 * 1024;

/**
 * Cuts a byte stream into text at line ends (so a secret is masked whole), with a
 * partial line let out at the latest `flushMs` after its first byte arrived (a
 * slow progress bar that never ends its line still shows), or at once when it
 * grows past `maxChars`. A multi-byte character split across chunks stays whole,
 * also across such a flush.
 */
export class LineBuffer {
  private readonly decoder = new StringDecoder('utf8');
  private pending = '';
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly emit: (text: string) => void,
    private readonly flushMs = LINE_FLUSH_MS,
    private readonly maxChars = LINE_MAX_CHARS
  ) {}

  push(chunk: Buffer): void {
    const text = this.decoder.write(chunk);
    if (!text) return;
    const nl = text.lastIndexOf('\n');
    if (nl >= 0) {
      const out = this.pending + (nl === text.length - 1 ? text : text.slice(0, nl + 1));
      this.pending = nl === text.length - 1 ? '' : text.slice(nl + 1);
      this.clearTimer();
      this.emit(out);
    } else {
      this.pending += text;
    }
    if (this.pending.length >= this.maxChars) this.letOut();
    else if (this.pending && !this.timer) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.letOut();
      }, this.flushMs);
      this.timer.unref?.();
    }
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Lets the partial line out (an incomplete character stays in the decoder). */
  private letOut(): void {
    this.clearTimer();
    if (!this.pending) return;
    const out = this.pending;
    this.pending = '';
    this.emit(out);
  }

  /** The end: everything out, an incomplete character as U+FFFD. */
  flush(): void {
    this.pending += this.decoder.end();
    this.letOut();
  }
}

/** Keeps the last `max` bytes of a stream (for error messages). */
export class TailBuffer {
  private chunks: Buffer[] = [];
  private size = 0;
  constructor(private readonly max = 4096) {}
  push(b: Buffer): void {
    if (!b.length) return;
    if (b.length >= this.max) {
      this.chunks = [Buffer.from(b.subarray(b.length - this.max))];
      this.size = this.max;
      return;
    }
    this.chunks.push(Buffer.from(b));
    this.size += b.length;
    while (this.size - this.chunks[0].length >= this.max) this.size -= (this.chunks.shift() as Buffer).length;
  }
  text(): string {
    const all = Buffer.concat(this.chunks);
    return all.subarray(Math.max(0, all.length - this.max)).toString('utf8');
  }
}

/**
 * Docker's multiplexed stdout/stderr stream (8-byte frame headers: stream type, 3
 * zero bytes, big-endian length) into per-stream chunks, iteratively. Payloads are
 * held until flush() (or `maxBuffered` bytes) and consecutive ones of one stream are
 * handed on together: `docker logs` sends a frame per line, in an HTTP chunk of its
 * own, and 2 million one-line events would swamp whoever listens (dockerode's
 * demuxStream also copies the rest of its buffer at every frame).
 */
export class DockerDemuxer {
  private readonly header = Buffer.alloc(8);
  private headerLen = 0;
  private remaining = 0;
  private stream: StreamName = 'stdout';
  private raw = false;
  private pieces: Buffer[] = [];
  private piecesOf: StreamName = 'stdout';
  /** Bytes held for the next flush. */
  buffered = 0;

  constructor(
    private readonly onData: (stream: StreamName, chunk: Buffer) => void,
    private readonly maxBuffered = 256 * 1024
  ) {}

  private add(stream: StreamName, piece: Buffer): void {
    if (!piece.length) return;
    if (this.pieces.length && stream !== this.piecesOf) this.flush();
    this.piecesOf = stream;
    this.pieces.push(piece);
    this.buffered += piece.length;
    if (this.buffered >= this.maxBuffered) this.flush();
  }

  /** Hands on what is held. */
  flush(): void {
    if (!this.pieces.length) return;
    const data = this.pieces.length === 1 ? this.pieces[0] : Buffer.concat(this.pieces, this.buffered);
    this.pieces = [];
    this.buffered = 0;
    this.onData(this.piecesOf, data);
  }

  push(chunk: Buffer): void {
    let off = 0;
    while (off < chunk.length) {
      if (this.raw) {
        this.add('stdout', off ? chunk.subarray(off) : chunk);
        break;
      }
      if (this.remaining > 0) {
        const n = Math.min(this.remaining, chunk.length - off);
        this.add(this.stream, chunk.subarray(off, off + n));
        this.remaining -= n;
        off += n;
        continue;
      }
      const n = Math.min(8 - this.headerLen, chunk.length - off);
      chunk.copy(this.header, this.headerLen, off, off + n);
      this.headerLen += n;
      off += n;
      if (this.headerLen < 8) break;
      this.headerLen = 0;
      const type = this.header[0];
      if (type > 2 || this.header[1] || this.header[2] || this.header[3]) {
        // Not multiplexed after all (a TTY container): pass everything through as stdout.
        this.raw = true;
        this.add('stdout', Buffer.from(this.header));
        continue;
      }
      this.stream = type === 2 ? 'stderr' : 'stdout';
      this.remaining = this.header.readUInt32BE(4);
    }
  }
}

/** What a container's output goes to: files (raw bytes), live text at line ends, the stderr tail. */
class LogPipe {
  readonly bytes: Record<StreamName, number> = { stdout: 0, stderr: 0 };
  readonly fileErrors: string[] = [];
  private readonly tail = new TailBuffer();
  private readonly files: Partial<Record<StreamName, WriteStream>> = {};
  private readonly lines: Record<StreamName, LineBuffer>;

  constructor(files: Partial<Record<StreamName, string>> | undefined, onLog: ((stream: StreamName, text: string) => void) | undefined, flushMs?: number) {
    for (const s of ['stdout', 'stderr'] as const) {
      const f = files?.[s];
      if (!f) continue;
      let fd: number;
      try {
        fd = openSync(f, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_TRUNC | fsc.O_NOFOLLOW, 0o600);
      } catch (err) {
        this.fileErrors.push(`cannot write ${s} to ${f}: ${(err as Error).message}`);
        continue;
      }
      const ws = createWriteStream('', { fd });
      ws.on('error', err => this.fileErrors.push(`cannot write ${s} to ${f}: ${err.message}`));
      this.files[s] = ws;
    }
    this.lines = {
      stdout: new LineBuffer(t => onLog?.('stdout', t), flushMs),
      stderr: new LineBuffer(t => onLog?.('stderr', t), flushMs)
    };
  }

  write(stream: StreamName, chunk: Buffer): void {
    this.bytes[stream] += chunk.length;
    this.files[stream]?.write(chunk);
    if (stream === 'stderr') this.tail.push(chunk);
    this.lines[stream].push(chunk);
  }

  /** A file is behind (wait for its 'drain' before reading more). */
  congested(): WriteStream | undefined {
    return Object.values(this.files).find(ws => ws?.writableNeedDrain);
  }

  get stderrTail(): string {
    return this.tail.text();
  }

  async close(): Promise<void> {
    this.lines.stdout.flush();
    this.lines.stderr.flush();
    await Promise.all(Object.values(this.files).map(ws => endStream(ws as WriteStream)));
  }
}

function endStream(ws: WriteStream): Promise<void> {
  return new Promise(resolve => {
    if (ws.closed || ws.destroyed) return resolve();
    ws.end(() => resolve());
    ws.once('error', () => resolve());
  });
}

/**
 * Feeds a Docker stream through the demuxer into the pipe, with backpressure from
 * the capture files. Output read within one turn of the event loop (`gatherMs`
 * undefined: live output, already in big frames) or within `gatherMs` (a log read
 * back from Docker, a frame per line) goes on together, at most 256 KiB at a time.
 * `drained(idleMs)` resolves when the stream has ended, or no data came for `idleMs`
 * (the container is gone, the stream should have ended).
 */
function pump(stream: NodeJS.ReadableStream, pipe: LogPipe, gatherMs?: number): { drained: (idleMs: number) => Promise<void>; destroy: () => void } {
  let ended = false;
  let last = Date.now();
  const waiters: (() => void)[] = [];
  const demux = new DockerDemuxer((s, b) => pipe.write(s, b));
  let scheduled = false;
  const flush = () => {
    scheduled = false;
    demux.flush();
    const busy = pipe.congested();
    if (busy && !ended) {
      stream.pause();
      const go = () => stream.resume();
      busy.once('drain', go);
      busy.once('close', go);
    }
  };
  const end = () => {
    if (ended) return;
    demux.flush();
    ended = true;
    waiters.splice(0).forEach(w => w());
  };
  stream.on('data', (chunk: Buffer) => {
    last = Date.now();
    demux.push(chunk);
    if (!scheduled) {
      scheduled = true;
      if (gatherMs === undefined) setImmediate(flush);
      else setTimeout(flush, gatherMs);
    }
  });
  stream.once('end', end);
  stream.once('close', end);
  stream.once('error', end);
  return {
    drained: idleMs =>
      new Promise<void>(resolve => {
        if (ended) return resolve();
        let timer: NodeJS.Timeout | undefined;
        const done = () => {
          clearTimeout(timer);
          demux.flush();
          resolve();
        };
        waiters.push(done);
        const check = () => {
          const quiet = Date.now() - last;
          if (quiet >= idleMs) done();
          else timer = setTimeout(check, idleMs - quiet);
        };
        check();
      }),
    destroy: () => (stream as unknown as { destroy?: () => void }).destroy?.()
  };
}

export interface ContainerCommonOptions {
  docker: Docker;
  /** Aborting stops the container (SIGTERM, SIGKILL after stopTimeoutSec); the outcome says cancelled. */
  signal?: AbortSignal;
  /** Seconds between SIGTERM and SIGKILL when cancelled. */
  stopTimeoutSec?: number;
  /** Leave the container when it has ended (the caller removes it once it has what it needs: removeContainer). */
  leaveContainer?: boolean;
  /** Files that get the raw bytes of stdout/stderr, in a folder no container can reach. */
  files?: Partial<Record<StreamName, string>>;
  /** Live output, cut at line ends (partial lines after LINE_FLUSH_MS). */
  onLog?: (stream: StreamName, text: string) => void;
  /** Milliseconds a partial line waits (default LINE_FLUSH_MS). */
  lineFlushMs?: number;
  /** CPU/memory samples while the container runs. */
  stats?: StatsOptions;
}

export interface ContainerRunOptions extends ContainerCommonOptions {
  create: Docker.ContainerCreateOptions;
  /** Called once the container exists, before it starts (so it can be recorded first). */
  onCreated?: (id: string, name: string) => void;
  /** Runs on the created container before it starts (copying inputs in where nothing can be bound); a throw is a start error. */
  beforeStart?: (container: Docker.Container) => Promise<void>;
  onStarted?: () => void;
}

export interface ContainerRunOutcome {
  containerId?: string;
  /** Docker's name for it (without the leading '/'). */
  name?: string;
  exitCode?: number;
  oomKilled: boolean;
  /** It was stopped because the signal was aborted (or never started for that reason). */
  cancelled: boolean;
  /** Set when Docker refused to create/start it; the container's own failure is exitCode. */
  startError?: string;
  stderrTail: string;
  removed: boolean;
  /** Bytes of each stream read from Docker. */
  logBytes: Record<StreamName, number>;
  /** From Docker's State (ISO 8601), when known. */
  startedAt?: string;
  finishedAt?: string;
}

function newOutcome(): ContainerRunOutcome {
  return { oomKilled: false, cancelled: false, stderrTail: '', removed: false, logBytes: { stdout: 0, stderr: 0 } };
}

/** Docker's "never" (0001-01-01T00:00:00Z) as undefined. */
export function dockerTime(t: string | undefined): string | undefined {
  return t && !t.startsWith('0001-') ? t : undefined;
}

/**
 * Waits for a started container, stopping it on abort, sampling stats meanwhile;
 * then waits for its output to be read and inspects it.
 */
async function superviseStarted(
  o: ContainerCommonOptions,
  container: Docker.Container,
  out: ContainerRunOutcome,
  logs: { drained: (idleMs: number) => Promise<void> },
  opts: { running: boolean; idleMs: number }
): Promise<void> {
  let stopping: Promise<unknown> | undefined;
  const stop = () => {
    out.cancelled = true;
    if (!stopping) stopping = container.stop({ t: o.stopTimeoutSec ?? 2 }).catch(() => undefined);
  };
  let stopStats: (() => void) | undefined;
  try {
    if (opts.running) {
      o.signal?.addEventListener('abort', stop, { once: true });
      if (o.signal?.aborted) stop();
      if (o.stats) stopStats = sampleStats(container, o.stats);
    }
    const waited = (await container.wait()) as { StatusCode?: number };
    stopStats?.();
    // The log stream can end a moment after the exit; give it that moment (more while data still flows).
    await logs.drained(opts.idleMs);
    if (stopping) await stopping;
    const info = await container.inspect();
    out.exitCode = info.State?.ExitCode ?? waited.StatusCode;
    out.oomKilled = info.State?.OOMKilled === true;
    out.startedAt = dockerTime(info.State?.StartedAt);
    out.finishedAt = dockerTime(info.State?.FinishedAt);
  } finally {
    stopStats?.();
    o.signal?.removeEventListener('abort', stop);
  }
}

/** Removes a container and its anonymous volumes; true when it is gone (also when it already was). */
export async function removeContainer(container: Docker.Container): Promise<boolean> {
  try {
    await container.remove({ force: true, v: true });
    return true;
  } catch (err) {
    // Already gone (removed by someone else) counts as removed.
    return (err as { statusCode?: number }).statusCode === 404;
  }
}

export async function runContainer(o: ContainerRunOptions): Promise<ContainerRunOutcome> {
  const out = newOutcome();
  if (o.signal?.aborted) return { ...out, cancelled: true };
  const pipe = new LogPipe(o.files, o.onLog, o.lineFlushMs);
  let container: Docker.Container | undefined;
  try {
    try {
      container = await o.docker.createContainer(o.create);
    } catch (err) {
      out.startError = `Docker could not create the container: ${dockerMessage(err)}`;
      return out;
    }
    out.containerId = container.id;
    out.name = o.create.name;
    o.onCreated?.(container.id, o.create.name ?? container.id.slice(0, 12));
    if (o.signal?.aborted) {
      out.cancelled = true;
      return out;
    }
    if (o.beforeStart) {
      try {
        await o.beforeStart(container);
      } catch (err) {
        out.startError = (err as Error).message;
        return out;
      }
    }
    // Attach before start: output written at once is not lost.
    const stream = (await container.attach({ stream: true, stdout: true, stderr: true })) as NodeJS.ReadableStream;
    const logs = pump(stream, pipe);
    try {
      await container.start();
    } catch (err) {
      out.startError = dockerMessage(err);
      logs.destroy();
      return out;
    }
    o.onStarted?.();
    await superviseStarted(o, container, out, logs, { running: true, idleMs: 2000 });
    return out;
  } finally {
    await finishOutcome(o, container, out, pipe);
  }
}

async function finishOutcome(o: ContainerCommonOptions, container: Docker.Container | undefined, out: ContainerRunOutcome, pipe: LogPipe): Promise<void> {
  await pipe.close();
  out.stderrTail = pipe.stderrTail;
  out.logBytes = { ...pipe.bytes };
  if (pipe.fileErrors.length) out.startError = out.startError ?? pipe.fileErrors.join('; ');
  if (container && !o.leaveContainer) out.removed = await removeContainer(container);
}

export interface ContainerResumeOptions extends ContainerCommonOptions {
  containerId: string;
  /** Where the capture files are rebuilt before they replace `files` (default: next to them); private, as `files`. */
  captureTempDir?: string;
}

export interface ContainerResumeOutcome extends ContainerRunOutcome {
  /**
   * What Docker said when it was taken up: 'missing' (no such container), 'created'
   * (never started: it is removed, not started), 'running' (followed to its end),
   * 'exited' (ended while nobody watched), or another Docker state.
   */
  found: 'missing' | 'created' | 'running' | 'exited' | 'paused' | 'restarting' | 'removing' | 'dead' | string;
  /** The host folder Docker binds at /cc/outputs, from the container's mounts. */
  outputsHostDir?: string;
  /** Notes for people (capture files that could not be rebuilt …). */
  notes: string[];
}

/**
 * Takes up a container another process created: reads its whole log back from
 * Docker (following it while it runs) into the live callback and into fresh
 * capture files, waits for it (stopping it on abort), inspects it and removes it,
 * as runContainer does for a container it started itself.
 */
export async function resumeContainer(o: ContainerResumeOptions): Promise<ContainerResumeOutcome> {
  const out: ContainerResumeOutcome = { ...newOutcome(), containerId: o.containerId, found: 'missing', notes: [] };
  const container = o.docker.getContainer(o.containerId);
  let info: Docker.ContainerInspectInfo;
  try {
    info = await container.inspect();
  } catch (err) {
    if ((err as { statusCode?: number }).statusCode === 404) return out;
    throw err;
  }
  out.name = info.Name?.replace(/^\//, '');
  out.found = info.State?.Status ?? 'exited';
  out.outputsHostDir = info.Mounts?.find(m => m.Destination === CONTAINER_OUTPUTS_DIR)?.Source;
  out.startedAt = dockerTime(info.State?.StartedAt);
  out.finishedAt = dockerTime(info.State?.FinishedAt);
  if (out.found === 'created') {
    if (!o.leaveContainer) out.removed = await removeContainer(container);
    return out;
  }
  // Capture files are rebuilt from Docker's full log in temporary files first.
  const temps: Partial<Record<StreamName, string>> = {};
  for (const s of ['stdout', 'stderr'] as const) {
    const f = o.files?.[s];
    if (f) temps[s] = path.join(o.captureTempDir ?? path.dirname(f), `.redlab-resume-${s}-${path.basename(f)}`);
  }
  const pipe = new LogPipe(temps, o.onLog, o.lineFlushMs);
  try {
    const running = info.State?.Running === true || out.found === 'running' || out.found === 'paused' || out.found === 'restarting';
    let stream: NodeJS.ReadableStream;
    try {
      // follow: true also for a container that is not running: Docker follows only a
      // running container's log and otherwise sends it whole and ends; dockerode
      // would buffer a not-followed log in memory instead of streaming it.
      stream = (await container.logs({ follow: true, stdout: true, stderr: true })) as unknown as NodeJS.ReadableStream;
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode === 404) {
        out.found = 'missing';
        return out;
      }
      throw err;
    }
    // Should dockerode ever hand over the whole body as one Buffer.
    if (Buffer.isBuffer(stream)) stream = Readable.from([stream as unknown as Buffer]);
    const logs = pump(stream, pipe, 10);
    try {
      await superviseStarted(o, container, out, logs, { running, idleMs: 15_000 });
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode === 404) {
        // Removed by someone else meanwhile.
        out.found = 'missing';
        return out;
      }
      throw err;
    }
    return out;
  } finally {
    await finishOutcome(o, out.found === 'missing' ? undefined : container, out, pipe);
    await settleCaptureFiles(o.files, temps, pipe.bytes, out.notes);
  }
}

/**
 * Moves rebuilt capture files over the old ones, unless Docker had less than the old one
 * holds. Plain path calls: both are in the caller's private folder.
 */
async function settleCaptureFiles(
  files: Partial<Record<StreamName, string>> | undefined,
  temps: Partial<Record<StreamName, string>>,
  bytes: Record<StreamName, number>,
  notes: string[]
): Promise<void> {
  for (const s of ['stdout', 'stderr'] as const) {
    const f = files?.[s];
    const t = temps[s];
    if (!f || !t) continue;
    const old = await stat(f).then(
      st => st.size,
      () => -1
    );
    if (old > bytes[s]) {
      notes.push(`Docker kept only ${bytes[s]} bytes of ${s}, fewer than the ${old} bytes already in ${path.basename(f)} (its log was rotated?): that file was kept as it was, and its end may be missing`);
      await rm(t, { force: true }).catch(() => undefined);
      continue;
    }
    await rename(t, f).catch(async err => {
      notes.push(`cannot rebuild ${path.basename(f)} from Docker's log: ${(err as Error).message}`);
      await rm(t, { force: true }).catch(() => undefined);
    });
  }
}
