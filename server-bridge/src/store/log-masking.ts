// Log text masked as a stream, one masking stream per run, batch and log stream: a
// secret split across two chunks is masked too, because the end of a chunk that may
// start a secret is held back until the next chunk (or until `end`, at the batch's or
// run's final state). Runs without secrets of their own need no stream: each chunk is
// masked alone with the other runs' secrets.
import type { MaskingStream, SecretRegistry } from '../../../src/red';
import type { LogStream } from './types';

/** What a masking stream held back, to be written to its log. */
export interface HeldBackLog {
  batch: number;
  stream: LogStream;
  rest: string;
}

interface Masking {
  runId: string;
  batch: number;
  stream: LogStream;
  masking: MaskingStream;
}

export class LogMasking {
  /** By `<runId>/<batch>/<stream>`. */
  private readonly streams = new Map<string, Masking>();

  constructor(private readonly secrets: SecretRegistry) {}

  /** The chunk as it may be stored (a run with secrets of its own may hold back its end). */
  mask(runId: string, batch: number, stream: LogStream, data: string | Buffer): string | Buffer {
    const key = `${runId}/${batch}/${stream}`;
    let masking = this.streams.get(key)?.masking;
    if (!masking && this.secrets.has(runId)) this.streams.set(key, { runId, batch, stream, masking: (masking = this.secrets.stream()) });
    if (masking) return masking.write(typeof data === 'string' ? data : data.toString('utf8'));
    return typeof data === 'string' ? this.secrets.mask(data) : data;
  }

  /** Ends the run's (or one batch's) streams and returns what they held back, in order (empty ends left out). */
  end(runId: string, batch?: number): HeldBackLog[] {
    const held: HeldBackLog[] = [];
    for (const [key, m] of this.streams) {
      if (m.runId !== runId || (batch !== undefined && m.batch !== batch)) continue;
      this.streams.delete(key);
      const rest = m.masking.end();
      if (rest) held.push({ batch: m.batch, stream: m.stream, rest });
    }
    return held;
  }

  /** Drops the run's streams without ending them (the run is deleted). */
  forget(runId: string): void {
    for (const [key, m] of this.streams) if (m.runId === runId) this.streams.delete(key);
  }

  /** The runs with streams open. */
  runIds(): string[] {
    return [...new Set([...this.streams.values()].map(m => m.runId))];
  }
}
