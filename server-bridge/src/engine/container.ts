// One container's life: create, attach (before start, so no output is lost),
// start, stream stdout/stderr live and into files, wait, inspect (exit code,
// OOM), stop on cancel, remove.
import type Docker from 'dockerode';
import { createWriteStream, type WriteStream } from 'fs';
import { Writable } from 'stream';
import { StringDecoder } from 'string_decoder';
import { dockerMessage } from './image';

export type StreamName = 'stdout' | 'stderr';

/**
 * Cuts a byte stream into text at line ends (so a secret is masked whole), with
 * a partial line let out after `flushMs` of quiet or when it grows past `maxChars`.
 */
export class LineBuffer {
  private readonly decoder = new StringDecoder('utf8');
  private pending = '';
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly emit: (text: string) => void,
    private readonly flushMs = 250,
    private readonly maxChars = 64 * 1024
  ) {}

  push(chunk: Buffer): void {
    this.pending += this.decoder.write(chunk);
    const nl = this.pending.lastIndexOf('\n');
    if (nl >= 0) {
      const out = this.pending.slice(0, nl + 1);
      this.pending = this.pending.slice(nl + 1);
      this.emit(out);
    }
    if (this.pending.length >= this.maxChars) this.flush();
    else this.arm();
  }

  private arm(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = this.pending ? setTimeout(() => this.flush(), this.flushMs) : undefined;
  }

  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.pending += this.decoder.end();
    if (this.pending) {
      const out = this.pending;
      this.pending = '';
      this.emit(out);
    }
  }
}

/** Keeps the last `max` bytes of a stream (for error messages). */
export class TailBuffer {
  private chunks: Buffer[] = [];
  private size = 0;
  constructor(private readonly max = 4096) {}
  push(b: Buffer): void {
    this.chunks.push(b);
    this.size += b.length;
    while (this.size - this.chunks[0].length >= this.max) this.size -= (this.chunks.shift() as Buffer).length;
  }
  text(): string {
    const all = Buffer.concat(this.chunks);
    return all.subarray(Math.max(0, all.length - this.max)).toString('utf8');
  }
}

export interface ContainerRunOptions {
  docker: Docker;
  create: Docker.ContainerCreateOptions;
  signal?: AbortSignal;
  /** Seconds between SIGTERM and SIGKILL when cancelled. */
  stopTimeoutSec?: number;
  leaveContainer?: boolean;
  /** Files that get the raw bytes of stdout/stderr (cli.stdout / cli.stderr). */
  files?: Partial<Record<StreamName, string>>;
  /** Live output, cut at line ends. */
  onLog?: (stream: StreamName, text: string) => void;
  /** Called once the container exists (for cleanup bookkeeping). */
  onCreated?: (id: string) => void;
  onStarted?: () => void;
}

export interface ContainerRunOutcome {
  containerId?: string;
  exitCode?: number;
  oomKilled: boolean;
  cancelled: boolean;
  /** Set when Docker refused to create/start it; the container's own failure is exitCode. */
  startError?: string;
  stderrTail: string;
  removed: boolean;
}

class Sink extends Writable {
  constructor(private readonly onChunk: (b: Buffer) => void) {
    super();
  }
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.onChunk(chunk);
    cb();
  }
}

function endStream(ws: WriteStream): Promise<void> {
  return new Promise(resolve => {
    if (ws.closed || ws.destroyed) return resolve();
    ws.end(() => resolve());
    ws.once('error', () => resolve());
  });
}

export async function runContainer(o: ContainerRunOptions): Promise<ContainerRunOutcome> {
  const out: ContainerRunOutcome = { oomKilled: false, cancelled: false, stderrTail: '', removed: false };
  if (o.signal?.aborted) return { ...out, cancelled: true };
  const tail = new TailBuffer();
  const files: Partial<Record<StreamName, WriteStream>> = {};
  const fileErrors: string[] = [];
  for (const s of ['stdout', 'stderr'] as const) {
    const f = o.files?.[s];
    if (f) {
      const ws = createWriteStream(f);
      ws.on('error', err => fileErrors.push(`cannot write ${s} to ${f}: ${err.message}`));
      files[s] = ws;
    }
  }
  const lines: Record<StreamName, LineBuffer> = {
    stdout: new LineBuffer(t => o.onLog?.('stdout', t)),
    stderr: new LineBuffer(t => o.onLog?.('stderr', t))
  };
  const sinks: Record<StreamName, Sink> = {
    stdout: new Sink(b => {
      files.stdout?.write(b);
      lines.stdout.push(b);
    }),
    stderr: new Sink(b => {
      files.stderr?.write(b);
      tail.push(b);
      lines.stderr.push(b);
    })
  };

  let container: Docker.Container | undefined;
  let started = false;
  let stopping: Promise<unknown> | undefined;
  const stop = () => {
    out.cancelled = true;
    if (container && started && !stopping) stopping = container.stop({ t: o.stopTimeoutSec ?? 2 }).catch(() => undefined);
  };
  o.signal?.addEventListener('abort', stop, { once: true });
  try {
    try {
      container = await o.docker.createContainer(o.create);
    } catch (err) {
      out.startError = `Docker could not create the container: ${dockerMessage(err)}`;
      return out;
    }
    out.containerId = container.id;
    o.onCreated?.(container.id);
    if (o.signal?.aborted) {
      out.cancelled = true;
      return out;
    }
    // Attach before start: output written at once is not lost.
    const stream = (await container.attach({ stream: true, stdout: true, stderr: true })) as NodeJS.ReadableStream;
    const streamEnded = new Promise<void>(resolve => {
      stream.once('end', resolve);
      stream.once('close', resolve);
      stream.once('error', () => resolve());
    });
    o.docker.modem.demuxStream(stream, sinks.stdout, sinks.stderr);
    try {
      await container.start();
      started = true;
    } catch (err) {
      out.startError = dockerMessage(err);
      (stream as unknown as { destroy?: () => void }).destroy?.();
      return out;
    }
    o.onStarted?.();
    if (o.signal?.aborted) stop();
    const waited = (await container.wait()) as { StatusCode?: number };
    // The attach stream can end a moment after the exit; give it that moment.
    let grace: NodeJS.Timeout | undefined;
    await Promise.race([streamEnded, new Promise(r => (grace = setTimeout(r, 2000)))]);
    clearTimeout(grace);
    if (stopping) await stopping;
    const info = await container.inspect();
    out.exitCode = info.State?.ExitCode ?? waited.StatusCode;
    out.oomKilled = info.State?.OOMKilled === true;
    return out;
  } finally {
    o.signal?.removeEventListener('abort', stop);
    lines.stdout.flush();
    lines.stderr.flush();
    out.stderrTail = tail.text();
    await Promise.all(Object.values(files).map(ws => endStream(ws as WriteStream)));
    if (fileErrors.length) out.startError = out.startError ?? fileErrors.join('; ');
    if (container && !o.leaveContainer) {
      try {
        await container.remove({ force: true, v: true });
        out.removed = true;
      } catch (err) {
        // Already gone (removed by someone else) counts as removed.
        if ((err as { statusCode?: number }).statusCode === 404) out.removed = true;
      }
    }
  }
}
