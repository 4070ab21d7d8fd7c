// A run record read back from the notebook (reopened, or the page reloaded). A run cell
// is a Markdown cell tagged `redlab-run`: its source is the rendering (render.ts), its
// metadata `redlab` says which run and holds the state without the log text
// (snapshot). A finished run whose record was read stays as it is; a run that may go
// on is streamed again from the start (the bridge replays every event), so the cell
// never shows a line twice or misses one. Pure.
//
// Older RED Lab versions wrote run records as code cells (outputs: a header with the
// state in RUN_MIME, then stream outputs); `legacyRunState` reads those for the
// migration to Markdown cells (run-cells.ts).
import { isFinalState, streamText, type RunState } from '../red';
import { countNewlines } from './logs';
import { initialRunState } from './reducer';
import type { LogSegment, RunCellState } from './types';

/** The cell tag of run cells. */
export const RUN_CELL_TAG = 'redlab-run';
/** The cell type of run records: no kernel action runs or clears a Markdown cell. */
export const RUN_CELL_TYPE = 'markdown';
/** The header output of the old code-cell run records (state as JSON). */
export const RUN_MIME = 'application/vnd.redlab.run+json';

/** Cell metadata `redlab`. */
export interface RunCellMetadata {
  runId: string;
  /** seq of the last event shown in the cell. */
  since: number;
  /** The run's state when the cell was last written. */
  state?: RunState;
  /** What the cell shows, without log text and previews (render.ts `snapshot`). */
  record?: Partial<RunCellState>;
}

export function readRunMetadata(value: unknown): RunCellMetadata | undefined {
  if (!value || typeof value !== 'object') return undefined;
  const v = value as Record<string, unknown>;
  if (typeof v.runId !== 'string' || !v.runId) return undefined;
  const since = typeof v.since === 'number' && Number.isInteger(v.since) && v.since >= 0 ? v.since : 0;
  const record = v.record && typeof v.record === 'object' && (v.record as { runId?: unknown }).runId === v.runId ? (v.record as Partial<RunCellState>) : undefined;
  return { runId: v.runId, since, ...(typeof v.state === 'string' ? { state: v.state as RunState } : {}), ...(record ? { record } : {}) };
}

/** Whether the run may still produce events, or the cell lacks what it ended with. */
export function needsResume(meta: RunCellMetadata): boolean {
  const r = meta.record;
  return !(r && typeof r.state === 'string' && isFinalState(r.state) && r.recordLoaded === true);
}

/**
 * The state an old code-cell run record shows: the header output's state and the stream
 * outputs' text. Without a readable header (outputs cleared), undefined: only the bridge
 * can tell what the run did.
 */
export function legacyRunState(meta: RunCellMetadata, outputs: readonly unknown[]): RunCellState | undefined {
  const headerOutput = outputs.find(o => dataOf(o)?.[RUN_MIME]) as { data: Record<string, unknown> } | undefined;
  const snap = headerOutput?.data[RUN_MIME] as Partial<RunCellState> | undefined;
  if (!snap || snap.runId !== meta.runId || typeof snap.since !== 'number') return undefined;
  const segments: LogSegment[] = [];
  for (const o of outputs) {
    const out = o as { output_type?: string; name?: string; text?: string | string[] };
    if (out.output_type !== 'stream' || (out.name !== 'stdout' && out.name !== 'stderr')) continue;
    const text = streamText(out);
    const last = segments[segments.length - 1];
    if (last && last.stream === out.name) last.text += text;
    else segments.push({ stream: out.name, text });
  }
  return fromSnapshot(meta, snap, segments);
}

function fromSnapshot(meta: RunCellMetadata, snap: Partial<RunCellState> | undefined, segments: LogSegment[]): RunCellState {
  if (!snap || snap.runId !== meta.runId || typeof snap.since !== 'number') return initialRunState(meta.runId, 0);
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
