// Renders a run's events for a person at a terminal: phases with times, pull
// progress with sizes (throttled), and the container's own output, live. And the
// CLI's one output sink: everything `redlab` writes passes a MaskedOutput.
import { Writable } from 'stream';
// Sizes, durations and transfer lines read as in the run cell (formatBytes, formatDuration, transferText).
import { type Masking, type MaskingStream, formatBytes, formatDuration as formatMs, isFinalState, type RunEvent, type RunResult, transferText as transferLine } from '../../../src/red';

/**
 * The CLI's one masking choke point: wraps stdout or stderr so that every byte written
 * (progress, the container's output, errors, the --json result) is masked with the
 * secrets registered so far, a secret split across writes included.
 */
export class MaskedOutput extends Writable {
  private readonly masking: MaskingStream;

  constructor(
    private readonly target: NodeJS.WritableStream,
    masker: Masking
  ) {
    super({ decodeStrings: false });
    this.masking = masker.stream();
  }

  override _write(chunk: string | Buffer, _enc: BufferEncoding, done: (err?: Error | null) => void): void {
    const text = this.masking.write(typeof chunk === 'string' ? chunk : chunk.toString('utf8'));
    if (text) this.target.write(text);
    done();
  }

  /** Writes what is held back (the end of a write that might have begun a secret). */
  flushMasked(): void {
    const rest = this.masking.end();
    if (rest) this.target.write(rest);
  }
}


export interface ProgressOptions {
  /** Where the container's stdout goes (the terminal's stdout, or stderr when --json owns stdout). */
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  batchCount: number;
  now?: () => number;
  /**
   * The run's secrets: with several batches, the container's text is masked before `[N] `
   * goes in front of its lines, since a prefix inside a secret that spans lines would hide
   * it from the sink's masking (which masks everything again).
   */
  masker?: Masking;
}

/**
 * One batch's stream of container text on a terminal shared by several batches: masked
 * first (see ProgressOptions.masker), then `[N] ` in front of each line, once, also when
 * a line arrives in several events (a partial line is flushed after a moment).
 */
class BatchLines {
  private readonly masking?: MaskingStream;
  private atLineStart = true;

  constructor(
    private readonly prefix: string,
    masker?: Masking
  ) {
    this.masking = masker?.stream();
  }

  write(text: string): string {
    return this.prefixed(this.masking ? this.masking.write(text) : text);
  }

  /** What the masking held back (a possible start of a secret), at the batch's end. */
  end(): string {
    return this.masking ? this.prefixed(this.masking.end()) : '';
  }

  private prefixed(text: string): string {
    let out = '';
    for (const part of text.split(/(?<=\n)/)) {
      if (!part) continue;
      out += (this.atLineStart ? this.prefix : '') + part;
      this.atLineStart = part.endsWith('\n');
    }
    return out;
  }
}

export class ProgressPrinter {
  private layers = new Map<string, { current: number; total: number }>();
  private lastPullLine = 0;
  private readonly now: () => number;
  private readonly batchLines = new Map<string, BatchLines>();

  constructor(private readonly opts: ProgressOptions) {
    this.now = opts.now ?? Date.now;
  }

  private note(text: string, batch?: number): void {
    const tag = batch !== undefined && this.opts.batchCount > 1 ? `redlab[${batch}]` : 'redlab';
    this.opts.stderr.write(`${tag}: ${text}\n`);
  }

  handle = (e: RunEvent): void => {
    switch (e.type) {
      case 'phase':
        if (e.status === 'start') this.note(`${e.phase}${e.detail ? ` ${e.detail}` : ''} …`, e.batch);
        else this.note(`${e.phase} done${e.ms !== undefined ? ` in ${formatMs(e.ms)}` : ''}${e.detail ? ` (${e.detail})` : ''}`, e.batch);
        if (e.phase === 'pull' && e.status === 'end') this.layers.clear();
        break;
      case 'pull-progress':
        this.pullProgress(e);
        break;
      case 'transfer-progress':
        this.note(transferLine(e), e.batch);
        break;
      case 'log':
        this.out(e.stream).write(this.opts.batchCount > 1 ? this.lines(e.batch, e.stream).write(e.data) : e.data);
        break;
      case 'info':
        this.note(e.message, e.batch);
        break;
      case 'batch-state':
        if (this.opts.batchCount > 1 && isFinalState(e.state)) {
          this.endLines(e.batch);
          this.note(`${e.state}${e.exitCode !== undefined ? ` (exit code ${e.exitCode})` : ''}`, e.batch);
        }
        break;
    }
  };

  private pullProgress(e: Extract<RunEvent, { type: 'pull-progress' }>): void {
    if (e.layer && e.total) this.layers.set(e.layer, { current: e.current ?? 0, total: e.total });
    const t = this.now();
    if (t - this.lastPullLine < 1000) return;
    this.lastPullLine = t;
    let cur = 0;
    let tot = 0;
    for (const l of this.layers.values()) {
      cur += l.current;
      tot += l.total;
    }
    this.note(tot ? `pulling: ${this.layers.size} layers, ${formatBytes(cur)} of ${formatBytes(tot)}` : `pull: ${e.status}`);
  }

  private out(stream: 'stdout' | 'stderr'): NodeJS.WritableStream {
    return stream === 'stdout' ? this.opts.stdout : this.opts.stderr;
  }

  private lines(batch: number, stream: 'stdout' | 'stderr'): BatchLines {
    const key = `${batch}:${stream}`;
    let l = this.batchLines.get(key);
    if (!l) this.batchLines.set(key, (l = new BatchLines(`[${batch}] `, this.opts.masker)));
    return l;
  }

  /** Writes what a batch's lines held back; `undefined`: every batch's. */
  private endLines(batch?: number): void {
    for (const [key, l] of [...this.batchLines]) {
      const [b, stream] = key.split(':') as [string, 'stdout' | 'stderr'];
      if (batch !== undefined && Number(b) !== batch) continue;
      const rest = l.end();
      if (rest) this.out(stream).write(rest);
      this.batchLines.delete(key);
    }
  }

  summary(result: RunResult): void {
    this.endLines();
    const t = result.timings;
    const phases = (['pull', 'staging', 'running', 'collecting'] as const)
      .filter(p => t[p] !== undefined)
      .map(p => `${p} ${formatMs(t[p] as number)}`)
      .join(', ');
    for (const b of result.batches) {
      for (const [name, rec] of Object.entries(b.outputs)) {
        this.note(rec ? `output ${name}: ${rec.path} (${formatBytes(rec.size)}, sha256 ${rec.sha256.slice(0, 12)}…)${rec.partial ? ' [partial]' : ''}` : `output ${name}: none (optional)`, b.index);
      }
    }
    const exit = result.exitCode !== undefined ? `, exit code ${result.exitCode}` : '';
    this.note(`${result.state}${exit} in ${formatMs(t.total)}${phases ? ` (${phases})` : ''}`);
    if (result.error) this.note(`error: ${result.error}`);
  }
}

