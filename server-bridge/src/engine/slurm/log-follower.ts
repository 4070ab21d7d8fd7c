// Live logs of a Slurm job: the files Slurm writes its stdout and stderr to, read as they
// grow (a job's output reaches the submit host only through the shared folder), and sent
// as log lines. The files are in the batch's private folder, which no container can reach.
import { open, type FileHandle } from 'fs/promises';
import { LineBuffer } from '../container';

export class FileFollower {
  private offset = 0;
  private handle: FileHandle | undefined;
  private timer: NodeJS.Timeout | undefined;
  private reading: Promise<void> = Promise.resolve();
  private readonly lines: LineBuffer;

  constructor(
    private readonly file: string,
    emit: (text: string) => void,
    private readonly pollMs = 200,
    flushMs?: number,
    /** Bytes already sent by an earlier follower (a bridge that stopped): not sent again. */
    skipBytes = 0
  ) {
    this.lines = new LineBuffer(emit, flushMs);
    this.offset = skipBytes;
  }

  start(): this {
    const tick = () => {
      this.reading = this.reading.then(() => this.readMore());
      this.timer = setTimeout(tick, this.pollMs);
      this.timer.unref?.();
    };
    tick();
    return this;
  }

  private async readMore(): Promise<void> {
    if (!this.handle) {
      try {
        this.handle = await open(this.file, 'r');
      } catch {
        return; // Slurm makes it when the job starts
      }
    }
    const buf = Buffer.alloc(256 * 1024);
    for (;;) {
      const { bytesRead } = await this.handle.read(buf, 0, buf.length, this.offset);
      if (!bytesRead) return;
      this.offset += bytesRead;
      this.lines.push(buf.subarray(0, bytesRead));
    }
  }

  /** Reads what is left, sends the last partial line, and stops. */
  async stop(): Promise<void> {
    clearTimeout(this.timer);
    await this.reading;
    await this.readMore().catch(() => undefined);
    this.lines.flush();
    await this.handle?.close().catch(() => undefined);
    this.handle = undefined;
  }
}
