// How sizes, durations and transfer progress read for people, the same in the CLI and in
// the run cell. Sizes in binary units (KiB, MiB, …: what `ls -h` and `du -h` print). Pure.
import type { RunEvent } from './run';

export function formatBytes(n: number): string {
  if (!Number.isFinite(n)) return '?';
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[i]}`;
}

export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '?';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s < 10 ? s.toFixed(1) : Math.round(s)} s`;
  const m = Math.floor(s / 60);
  const rest = Math.round(s - m * 60);
  if (m < 60) return `${m} min ${rest} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

export type TransferProgress = Extract<RunEvent, { type: 'transfer-progress' }>;

/** `input data: 12 MiB of 100 MiB (12%), 5.1 MiB/s, 17 s left`, or when done `input data: 100 MiB received (5.1 MiB/s)`. */
export function transferText(e: TransferProgress): string {
  const rate = `${formatBytes(e.bytesPerSecond)}/s`;
  if (e.done) return `${e.direction} ${e.name}: ${formatBytes(e.bytes)} ${e.direction === 'input' ? 'received' : 'sent'} (${rate})`;
  const of = e.total ? ` of ${formatBytes(e.total)} (${Math.floor((e.bytes * 100) / e.total)}%)` : '';
  const left = e.etaMs !== undefined ? `, ${formatDuration(e.etaMs)} left` : '';
  return `${e.direction} ${e.name}: ${formatBytes(e.bytes)}${of}, ${rate}${left}`;
}
