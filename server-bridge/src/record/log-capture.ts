// Keeps each batch's container output, masked, for the run record (run-record/stdout.txt
// and stderr.txt). Bounded: past the cap a stream's record ends with a note saying so
// (the full log is the bridge's log file, or what the terminal showed).
import type { Masking, MaskingStream, RunEvent } from '../../../src/red';

export const DEFAULT_LOG_CAP_BYTES = 16 * 1024 * 1024;

export class RunLogCapture {
  private readonly kept = new Map<number, { stdout: Part; stderr: Part }>();

  constructor(
    private readonly masker: Masking,
    private readonly capBytes = DEFAULT_LOG_CAP_BYTES
  ) {}

  /** Give it every event of the run (others than logs are ignored). */
  readonly handle = (e: RunEvent): void => {
    if (e.type !== 'log') return;
    let b = this.kept.get(e.batch);
    if (!b) this.kept.set(e.batch, (b = { stdout: new Part(this.masker.stream()), stderr: new Part(this.masker.stream()) }));
    b[e.stream].add(e.data, this.capBytes);
  };

  /** Each batch's logs (batch index → masked text per stream); every batch in `batches` gets both streams, empty if silent. */
  logs(batches: number[]): Map<number, { stdout: string; stderr: string }> {
    const out = new Map<number, { stdout: string; stderr: string }>();
    for (const i of batches) {
      const b = this.kept.get(i);
      out.set(i, { stdout: b?.stdout.text() ?? '', stderr: b?.stderr.text() ?? '' });
    }
    return out;
  }
}

class Part {
  private readonly chunks: string[] = [];
  private bytes = 0;
  private cut = false;

  constructor(private readonly stream: MaskingStream) {}

  add(data: string, cap: number): void {
    if (this.cut) return;
    const masked = this.stream.write(data);
    this.bytes += Buffer.byteLength(masked);
    this.chunks.push(masked);
    if (this.bytes > cap) this.cut = true;
  }

  text(): string {
    const rest = this.cut ? '' : this.stream.end();
    const all = this.chunks.join('') + rest;
    return this.cut ? `${all}\n[redlab: the record keeps only the first ${this.bytes} bytes of this stream]\n` : all;
  }
}
