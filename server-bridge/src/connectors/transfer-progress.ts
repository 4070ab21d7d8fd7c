// Transfer progress: connectors count bytes per input/output (TransferCounter), engines
// turn those counts into `transfer-progress` run events, at most one a second per
// transfer (the run's event stream is stored: a 10 GB download must not write a row per
// 32 KiB chunk), with the mean rate and, when the total is known, the time left.
import type { RunEvent } from '../../../src/red';
import type { ConnectorContext, TransferProgress } from './types';

/** Counts one input's or output's bytes (all its files) into ctx.onProgress. */
export class TransferCounter {
  private bytes = 0;

  constructor(
    private readonly ctx: ConnectorContext,
    private readonly direction: TransferProgress['direction'],
    private readonly name: string,
    private total?: number
  ) {}

  add(n: number): void {
    if (!this.ctx.onProgress || n <= 0) return;
    this.bytes += n;
    this.report();
  }

  /** Bytes of a try that failed (they are moved again): not counted twice. */
  takeBack(n: number): void {
    this.bytes = Math.max(0, this.bytes - n);
  }

  setTotal(total: number | undefined): void {
    this.total = total;
  }

  done(): void {
    this.ctx.onProgress?.({ direction: this.direction, name: this.name, bytes: this.bytes, ...(this.total !== undefined ? { total: this.total } : {}), done: true });
  }

  private report(): void {
    this.ctx.onProgress?.({ direction: this.direction, name: this.name, bytes: this.bytes, ...(this.total !== undefined ? { total: this.total } : {}) });
  }
}

type TransferEvent = Extract<RunEvent, { type: 'transfer-progress' }>;

export const TRANSFER_EVENT_INTERVAL_MS = 1000;

/**
 * An onProgress that emits `transfer-progress` events for batch `batch`: the first once a
 * transfer has run for `intervalMs`, then one per `intervalMs`, and a last one (done) for
 * a transfer that had any (a small file that was quick makes no events at all).
 */
export function transferEvents(emit: (e: TransferEvent) => void, batch?: number, opts: { intervalMs?: number; now?: () => number } = {}): (p: TransferProgress) => void {
  const interval = opts.intervalMs ?? TRANSFER_EVENT_INTERVAL_MS;
  const now = opts.now ?? Date.now;
  const seen = new Map<string, { start: number; last: number; emitted: boolean }>();
  return p => {
    const key = `${p.direction}:${p.name}`;
    const t = now();
    let s = seen.get(key);
    if (!s) seen.set(key, (s = { start: t, last: t, emitted: false }));
    if (p.done) seen.delete(key);
    if (p.done ? !s.emitted : t - s.last < interval) return;
    s.last = t;
    s.emitted = true;
    const elapsed = Math.max(1, t - s.start);
    const bytesPerSecond = Math.round((p.bytes * 1000) / elapsed);
    const left = p.total !== undefined ? Math.max(0, p.total - p.bytes) : undefined;
    emit({
      type: 'transfer-progress',
      ...(batch !== undefined ? { batch } : {}),
      direction: p.direction,
      name: p.name,
      bytes: p.bytes,
      ...(p.total !== undefined ? { total: p.total } : {}),
      bytesPerSecond,
      ...(left !== undefined && !p.done && bytesPerSecond > 0 ? { etaMs: Math.round((left * 1000) / bytesPerSecond) } : {}),
      ...(p.done ? { done: true } : {})
    });
  };
}
