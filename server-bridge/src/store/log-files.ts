// The run store's log files: `<dataDir>/runs/<id>/batch-<n>.<stream>.log`, one per batch
// and stream. Log bytes never go into SQLite (a 200 MB log costs 200 MB of files and a
// few hundred bytes of database per chunk). This holds the paths, a bounded set of open
// fds for positional writes, and reads by offset; which bytes are committed is the
// database's to say (table log_files), so every read and trim here is given that length.
import * as fs from 'fs';
import * as path from 'path';
import { isRunId } from './ids';
import { RunNotFoundError, type LogStream, type StoredEvent, type StoredLogEvent } from './types';

const MAX_OPEN_LOG_FILES = 64;

export interface ReadLogOptions {
  batch: number;
  stream: LogStream;
  /** Byte offset to start at (default 0). */
  since?: number;
  /** At most this many bytes (default 1 MiB). */
  maxBytes?: number;
}

export interface LogSlice {
  data: Buffer;
  /** Offset of `data[0]` in the log. */
  offset: number;
  /** offset + data.length: pass it as the next `since`. */
  end: number;
  /** Committed length of the log. */
  size: number;
}

export function checkBatch(batch: number): void {
  if (!Number.isSafeInteger(batch) || batch < 0) throw new TypeError(`batch must be a whole number >= 0, not ${batch}`);
}

export function checkStream(stream: string): asserts stream is LogStream {
  if (stream !== 'stdout' && stream !== 'stderr') throw new TypeError(`stream must be stdout or stderr, not ${stream}`);
}

export class LogFiles {
  /** Open log files for writing, by `<runId>/<batch>/<stream>`, least recently used first. */
  private readonly fds = new Map<string, number>();

  /** `runsDir`: `<dataDir>/runs`. */
  constructor(private readonly runsDir: string) {}

  /** `<dataDir>/runs/<id>`: the run's log files, and where the bridge may put its outputs. */
  runDir(runId: string): string {
    if (!isRunId(runId)) throw new RunNotFoundError(String(runId));
    return path.join(this.runsDir, runId);
  }

  logPath(runId: string, batch: number, stream: LogStream): string {
    checkBatch(batch);
    checkStream(stream);
    return path.join(this.runDir(runId), `batch-${batch}.${stream}.log`);
  }

  /** Writes `bytes` at `offset`, the log's committed length (bytes a crash left past it are cut first). */
  write(runId: string, batch: number, stream: LogStream, offset: number, bytes: Buffer): void {
    const fd = this.fd(runId, batch, stream, offset);
    let written = 0;
    while (written < bytes.length) written += fs.writeSync(fd, bytes, written, bytes.length - written, offset + written);
  }

  /** Up to `length` bytes from `offset` (fewer where the file ends; none where there is no file). */
  read(runId: string, batch: number, stream: LogStream, offset: number, length: number): Buffer {
    const buf = Buffer.alloc(length);
    let n = 0;
    try {
      const fd = fs.openSync(this.logPath(runId, batch, stream), 'r');
      try {
        n = readFully(fd, buf, offset);
      } finally {
        fs.closeSync(fd);
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    return buf.subarray(0, n);
  }

  /** Copies of `events` with the `data` (UTF-8) of each log event read from its file. */
  withData(runId: string, events: readonly StoredEvent[]): StoredEvent[] {
    const fds = new Map<string, number | null>();
    try {
      return events.map(e => {
        if (e.event.type !== 'log' || (e.event as StoredLogEvent).data !== undefined) return e;
        const le = e.event as StoredLogEvent;
        const file = this.logPath(runId, le.batch, le.stream);
        let fd = fds.get(file);
        if (fd === undefined) {
          try {
            fd = fs.openSync(file, 'r');
          } catch {
            fd = null;
          }
          fds.set(file, fd);
        }
        const buf = Buffer.alloc(le.length);
        const n = fd === null ? 0 : readFully(fd, buf, le.offset);
        return { ...e, event: { ...le, data: buf.subarray(0, n).toString('utf8') } };
      });
    } finally {
      for (const fd of fds.values()) if (fd !== null) fs.closeSync(fd);
    }
  }

  /** Cuts a log file back to its committed length (bytes a crash left behind); no file is fine. */
  trim(runId: string, batch: number, stream: LogStream, committed: number): void {
    const file = this.logPath(runId, batch, stream);
    try {
      if (fs.statSync(file).size > committed) fs.truncateSync(file, committed);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }

  /** Closes the run's open log files. */
  closeRun(runId: string): void {
    for (const [key, fd] of this.fds) {
      if (key.startsWith(runId + '/')) {
        fs.closeSync(fd);
        this.fds.delete(key);
      }
    }
  }

  closeAll(): void {
    for (const fd of this.fds.values()) fs.closeSync(fd);
    this.fds.clear();
  }

  /** An fd for positional writes; a newly opened file is cut to its committed length. */
  private fd(runId: string, batch: number, stream: LogStream, committed: number): number {
    const key = `${runId}/${batch}/${stream}`;
    let fd = this.fds.get(key);
    if (fd !== undefined) {
      this.fds.delete(key); // re-insert: most recently used last
      this.fds.set(key, fd);
      return fd;
    }
    const file = this.logPath(runId, batch, stream);
    fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    fd = fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_CREAT, 0o600);
    if (fs.fstatSync(fd).size > committed) fs.ftruncateSync(fd, committed);
    this.fds.set(key, fd);
    if (this.fds.size > MAX_OPEN_LOG_FILES) {
      const [oldKey, oldFd] = this.fds.entries().next().value as [string, number];
      this.fds.delete(oldKey);
      fs.closeSync(oldFd);
    }
    return fd;
  }
}

function readFully(fd: number, buf: Buffer, position: number): number {
  let n = 0;
  while (n < buf.length) {
    const r = fs.readSync(fd, buf, n, buf.length - n, position + n);
    if (r === 0) break;
    n += r;
  }
  return n;
}
