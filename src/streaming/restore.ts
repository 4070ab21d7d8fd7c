// A run cell read back from the notebook (reopened, or the page reloaded): its
// metadata says which run, its outputs hold what was shown so far. The header's
// RUN_MIME carries the state, including `since`, written together with the log
// outputs, so resuming after `since` neither repeats nor loses a line. Pure.
import { isFinalState } from '../red/bridge-api';
import type { RunState } from '../red/run';
import { countNewlines } from './logs';
import { initialRunState } from './reducer';
import { RUN_MIME } from './render';
import type { LogSegment, RunCellState } from './types';

/** The cell tag of run cells. */
export const RUN_CELL_TAG = 'redlab-run';

/** Cell metadata `redlab`. */
export interface RunCellMetadata {
  runId: string;
  /** seq of the last event shown in the cell. */
  since: number;
  /** The run's state when the cell was last written. */
  state?: RunState;
}

export function readRunMetadata(value: unknown): RunCellMetadata | undefined {
  if (!value || typeof value !== 'object') return undefined;
  const v = value as Record<string, unknown>;
  if (typeof v.runId !== 'string' || !v.runId) return undefined;
  const since = typeof v.since === 'number' && Number.isInteger(v.since) && v.since >= 0 ? v.since : 0;
  return { runId: v.runId, since, ...(typeof v.state === 'string' ? { state: v.state as RunState } : {}) };
}

/** Whether the cell's run may still produce events (not known to be final). */
export function needsResume(meta: RunCellMetadata, outputs: readonly unknown[]): boolean {
  const restored = restoreRunState(meta, outputs);
  return !(isFinalState(restored.state) && restored.recordLoaded);
}

/**
 * The state a cell's outputs show. Without a readable header (outputs cleared or
 * edited), the stream starts over from 0 and the outputs are rewritten whole.
 */
export function restoreRunState(meta: RunCellMetadata, outputs: readonly unknown[]): RunCellState {
  const headerOutput = outputs.find(o => dataOf(o)?.[RUN_MIME]) as { data: Record<string, unknown> } | undefined;
  const snap = headerOutput?.data[RUN_MIME] as Partial<RunCellState> | undefined;
  if (!snap || snap.runId !== meta.runId || typeof snap.since !== 'number') return initialRunState(meta.runId, 0);
  const segments: LogSegment[] = [];
  for (const o of outputs) {
    const out = o as { output_type?: string; name?: string; text?: string | string[] };
    if (out.output_type !== 'stream' || (out.name !== 'stdout' && out.name !== 'stderr')) continue;
    const text = Array.isArray(out.text) ? out.text.join('') : String(out.text ?? '');
    const last = segments[segments.length - 1];
    if (last && last.stream === out.name) last.text += text;
    else segments.push({ stream: out.name, text });
  }
  const snapLogs = (snap.logs ?? {}) as Partial<RunCellState['logs']>;
  const base = initialRunState(meta.runId, snap.since);
  return {
    ...base,
    ...snap,
    since: snap.since,
    phases: snap.phases ?? [],
    info: snap.info ?? [],
    artifacts: (snap.artifacts ?? []).map(a => ({ ...a })),
    logs: {
      segments,
      lines: segments.reduce((n, s) => n + countNewlines(s.text), 0),
      dropped: { stdout: snapLogs.dropped?.stdout ?? 0, stderr: snapLogs.dropped?.stderr ?? 0 }
    },
    recordLoaded: snap.recordLoaded ?? false,
    connection: 'connecting'
  };
}

function dataOf(o: unknown): Record<string, unknown> | undefined {
  const out = o as { output_type?: string; data?: Record<string, unknown> };
  return out && out.output_type === 'display_data' && out.data && typeof out.data === 'object' ? out.data : undefined;
}
