// Log text as a run cell keeps it: consecutive chunks of one stream coalesce into one
// segment (one notebook `stream` output), carriage returns overwrite their line as a
// terminal would (progress bars), and only the last `limit` lines stay; the cell links
// to the full log for the rest. Pure.
import type { LogStream } from '../red';
import type { LogView } from './types';

/**
 * The prefix of the notebook runner's own stderr lines (start, done, which cell raised): they
 * are the runner's account of the run, not the notebook's errors.
 */
export const RUNNER_STATUS_PREFIX = 'redlab_nbrun: ';

export function isRunnerStatusLine(line: string): boolean {
  return line.startsWith(RUNNER_STATUS_PREFIX);
}

/** The runner's line naming what runs the cells: a real IPython kernel, or its own stdlib execution. */
const RUNNER_EXECUTION_LINE = /^redlab_nbrun: cells run by: (.+)$/m;

/** What ran the notebook's cells, when this stderr text holds the runner's line saying so. */
export function runnerExecution(stderrText: string): string | undefined {
  const m = RUNNER_EXECUTION_LINE.exec(stderrText);
  return m ? m[1].trim().slice(0, 200) : undefined;
}

/** Characters kept at most, whatever the line count (one endless line must not grow the notebook). */
export const MAX_LOG_CHARS = 512 * 1024;

export function emptyLogs(): LogView {
  return { segments: [], lines: 0, dropped: { stdout: 0, stderr: 0 } };
}

export function countNewlines(s: string): number {
  let n = 0;
  for (let i = s.indexOf('\n'); i >= 0; i = s.indexOf('\n', i + 1)) n++;
  return n;
}

/**
 * Applies `\r` within each line: the text after the last `\r` replaces the line. A line
 * that ends with `\r` keeps its text (and the `\r`) until the next chunk overwrites it.
 */
export function applyCarriageReturns(text: string): string {
  if (!text.includes('\r')) return text;
  return text
    .replace(/\r\n/g, '\n')
    .split('\n')
    .map(line => {
      const trailing = line.endsWith('\r');
      const body = trailing ? line.slice(0, -1) : line;
      const visible = body.slice(body.lastIndexOf('\r') + 1);
      return trailing ? visible + '\r' : visible;
    })
    .join('\n');
}

/** The log with `data` appended to `stream`, capped at `limit` lines. Returns a new object. */
export function appendLog(view: LogView, stream: LogStream, data: string, limit: number): LogView {
  if (!data) return view;
  const segments = view.segments.slice();
  const last = segments[segments.length - 1];
  let lines = view.lines;
  if (last && last.stream === stream) {
    // Only the last (unfinished) line can be touched by a `\r` in the new chunk.
    const cut = last.text.lastIndexOf('\n') + 1;
    const text = last.text.slice(0, cut) + applyCarriageReturns(last.text.slice(cut) + data);
    lines += countNewlines(text) - countNewlines(last.text);
    segments[segments.length - 1] = { stream, text };
  } else {
    const text = applyCarriageReturns(data);
    lines += countNewlines(text);
    segments.push({ stream, text });
  }
  return capLog({ segments, lines, dropped: view.dropped }, limit);
}

function capLog(view: LogView, limit: number): LogView {
  const max = Math.max(1, limit);
  const segments = view.segments;
  let { lines, dropped } = view;
  const drop = (stream: LogStream, n: number) => {
    dropped = { ...dropped, [stream]: dropped[stream] + n };
  };
  while (segments.length > 0 && (lines > max || totalChars(segments) > MAX_LOG_CHARS)) {
    const first = segments[0];
    if (lines > max) {
      // Whole lines go from the oldest segment.
      const excess = lines - max;
      let at = 0;
      let n = 0;
      while (n < excess) {
        const j = first.text.indexOf('\n', at);
        if (j < 0) break;
        at = j + 1;
        n++;
      }
      if (n === 0) {
        // An unfinished line older than everything else: it goes whole.
        segments.shift();
        drop(first.stream, 1);
        continue;
      }
      drop(first.stream, n);
      lines -= n;
      const rest = first.text.slice(at);
      if (rest) segments[0] = { ...first, text: rest };
      else segments.shift();
    } else if (segments.length > 1) {
      // Too many characters: the oldest segment goes.
      const n = countNewlines(first.text);
      segments.shift();
      lines -= n;
      drop(first.stream, Math.max(1, n));
    } else {
      // One huge segment (an endless line): keep its tail.
      const tail = first.text.slice(first.text.length - MAX_LOG_CHARS);
      const kept = countNewlines(tail);
      drop(first.stream, Math.max(1, lines - kept));
      segments[0] = { ...first, text: tail };
      lines = kept;
    }
  }
  return { segments, lines, dropped };
}

function totalChars(segments: { text: string }[]): number {
  let n = 0;
  for (const s of segments) n += s.text.length;
  return n;
}

/** The last `n` lines of a stream's kept text (for error messages). */
export function lastLines(view: LogView, stream: LogStream, n: number): string[] {
  const text = view.segments
    .filter(s => s.stream === stream)
    .map(s => (s.text.endsWith('\n') ? s.text : s.text + '\n'))
    .join('');
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  return lines.slice(-n);
}
