// Run records in open notebooks. A run started from a notebook gets a new Markdown cell
// below the active one (tag `redlab-run`, metadata `redlab: {runId, since, state,
// record}`, read-only), whose rendering follows the run live. A Markdown cell because
// the record must outlive every kernel action: Run All, Restart & Run All and Clear All
// Outputs neither execute nor empty it, the kernel never sees it, and the runner gets
// the notebook without it (run-cell-filter.ts). Deleting the cell deletes the record;
// "Rebuild the run record" writes it again from the bridge by run id.
//
// When a notebook opens (or the page reloads): old code-cell run records become Markdown
// cells, and run cells whose run may still go on are streamed again from the bridge.
import type * as nbformat from '@jupyterlab/nbformat';
import type { Cell, ICellModel, ICodeCellModel, MarkdownCell } from '@jupyterlab/cells';
import type { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import type { RunState } from '../red';
import { BridgeApi } from '../api';
import type { BridgeClient } from '../handler';
import { CellWriter } from './cell-writer';
import { initialRunState, isFinished } from './reducer';
import { renderRecord, snapshot, type RenderLinks } from './render';
import { legacyRunState, needsResume, readRunMetadata, RUN_CELL_TAG, RUN_CELL_TYPE, type RunCellMetadata } from './restore';
import { RunStream } from './run-stream';
import type { RunCellState } from './types';

export interface RunCellsOptions {
  client: BridgeClient;
  tracker: INotebookTracker;
  settings: () => { logLineLimit: number; previewTypes: readonly string[] };
  onBridgeDown: (message: string) => void;
  /** A run reached its final state (to refresh the run list, tell the user). */
  onFinished?: (state: RunCellState, notebookPath: string) => void;
  /** A run's state as its event stream tells it, at once (the status bar follows it). */
  onRunState?: (runId: string, state: RunState) => void;
}

/** Least time between two writes into a cell. */
const FLUSH_MS = 250;

function linksFor(client: BridgeClient, runId: string): RenderLinks {
  const api = new BridgeApi(client);
  return {
    log: stream => api.logUrl(runId, stream),
    output: (name, batch) => api.outputUrl(runId, name, batch),
    record: api.recordUrl(runId)
  };
}

function metadataOf(s: RunCellState): RunCellMetadata {
  return { runId: s.runId, since: s.since, state: s.state, record: snapshot(s) as Partial<RunCellState> };
}

/** One run cell and the stream that fills it. */
class RunCellBinding {
  readonly stream: RunStream;
  private readonly writer: CellWriter;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private lastState: RunState | undefined;

  constructor(
    readonly panel: NotebookPanel,
    readonly cell: ICellModel,
    initial: RunCellState,
    private readonly opts: RunCellsOptions,
    /**
     * The seq the cell showed before a replay from 0: until the stream is back there, the
     * cell keeps what it shows (no flash of an empty record after a reload).
     */
    private readonly shownSince: number,
    onFinished: (s: RunCellState) => void
  ) {
    this.writer = new CellWriter(cell);
    this.stream = new RunStream({
      client: opts.client,
      initial,
      reducerOptions: () => ({ logLineLimit: opts.settings().logLineLimit }),
      previewTypes: () => opts.settings().previewTypes,
      onBridgeDown: opts.onBridgeDown
    });
    this.stream.stateChanged.connect((_, s) => {
      if (s.state !== this.lastState) {
        this.lastState = s.state;
        opts.onRunState?.(s.runId, s.state);
      }
      this.schedule();
    });
    this.stream.finished.connect((_, s) => {
      this.flush();
      onFinished(s);
    });
  }

  get context(): object {
    return this.panel.context;
  }

  start(): void {
    this.flush();
    this.stream.start();
  }

  private schedule(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.flush();
    }, FLUSH_MS);
  }

  flush(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    const s = this.stream.state;
    if (s.since < this.shownSince && !(isFinished(s) && s.since > 0)) return;
    if (this.writer.write(renderRecord(s, linksFor(this.opts.client, s.runId)), metadataOf(s))) rerender(this.opts.tracker, this.panel, this.cell);
  }

  dispose(): void {
    if (this.timer) clearTimeout(this.timer);
    this.stream.dispose();
  }
}

export class RunCellManager {
  private readonly bindings = new Map<ICellModel, RunCellBinding>();
  private readonly watched = new WeakSet<object>();

  constructor(private readonly opts: RunCellsOptions) {
    opts.tracker.widgetAdded.connect((_, panel) => this.watch(panel));
    opts.tracker.forEach(panel => this.watch(panel));
  }

  /** Inserts a run cell below the active cell of `panel` and streams run `runId` into it. */
  startInNotebook(panel: NotebookPanel, runId: string): ICellModel | undefined {
    const notebook = panel.content;
    const model = notebook.model;
    if (!model) return undefined;
    const index = notebook.activeCell ? notebook.activeCellIndex + 1 : model.cells.length;
    const initial = initialRunState(runId);
    model.sharedModel.insertCell(index, runCellJson(renderRecord(initial, linksFor(this.opts.client, runId)), metadataOf(initial)));
    const cell = model.cells.get(index);
    this.bind(panel, cell, initial, 0);
    keepRendered(panel, cell);
    // Saved at once, so the run id is on disk: a reload or a crashed tab finds the cell
    // and resumes the stream instead of losing it.
    void panel.context.save().catch(() => undefined);
    return cell;
  }

  /** The run of the active cell, when it is a run cell. */
  activeRunId(panel: NotebookPanel): string | undefined {
    const cell = panel.content.activeCell?.model;
    return cell && isRunCell(cell) ? readRunMetadata(cell.getMetadata('redlab'))?.runId : undefined;
  }

  /** Runs shown in this notebook's cells, newest cell last. */
  runIds(panel: NotebookPanel): string[] {
    const ids: string[] = [];
    const cells = panel.content.model?.cells;
    if (!cells) return ids;
    for (const cell of cells) {
      const meta = isRunCell(cell) ? readRunMetadata(cell.getMetadata('redlab')) : undefined;
      if (meta) ids.push(meta.runId);
    }
    return ids;
  }

  /**
   * Writes the active run cell's record again from the bridge (its events from the first
   * one, its record, its output previews). Throws with the reason when it cannot: the cell
   * is then left as it is.
   */
  async rebuild(panel: NotebookPanel): Promise<string> {
    const cell = panel.content.activeCell?.model;
    const meta = cell && isRunCell(cell) ? readRunMetadata(cell.getMetadata('redlab')) : undefined;
    if (!cell || !meta) throw new Error('select a run cell (a cell tagged redlab-run) first');
    // Asked first, so a run the bridge has forgotten does not wipe what the cell shows.
    await new BridgeApi(this.opts.client).get(meta.runId);
    this.bind(panel, cell, initialRunState(meta.runId, 0), 0);
    return meta.runId;
  }

  dispose(): void {
    for (const b of this.bindings.values()) b.dispose();
    this.bindings.clear();
  }

  private watch(panel: NotebookPanel): void {
    if (this.watched.has(panel)) return;
    this.watched.add(panel);
    void panel.context.ready.then(() => {
      if (panel.isDisposed) return;
      this.migrate(panel);
      this.resume(panel);
      const cells = panel.content.model?.cells;
      if (cells) for (const cell of cells) if (isRunCell(cell)) keepRendered(panel, cell);
      cells?.changed.connect((_, change) => {
        if (change.type === 'remove') for (const cell of change.oldValues) this.unbind(cell);
        // Pasted, moved or restored by undo: shown as a record, not as its HTML source.
        if (change.type === 'add') for (const cell of change.newValues) if (isRunCell(cell)) keepRendered(panel, cell);
      });
    });
    // The last view of a notebook closes with its context: its streams stop there.
    panel.context.disposed.connect(() => {
      for (const [cell, b] of [...this.bindings]) {
        if (cell.isDisposed || b.context === panel.context) this.unbind(cell);
      }
    });
  }

  /**
   * Old run records (code cells, which Run All executed and emptied) become Markdown run
   * cells in place, with what their outputs showed; the notebook is then unsaved. A record
   * whose outputs were cleared is rebuilt from the bridge by `resume`.
   */
  private migrate(panel: NotebookPanel): void {
    const model = panel.content.model;
    if (!model) return;
    const legacy: number[] = [];
    for (let i = 0; i < model.cells.length; i++) {
      const cell = model.cells.get(i);
      if (cell.type === 'code' && hasRunTag(cell) && readRunMetadata(cell.getMetadata('redlab'))) legacy.push(i);
    }
    for (const i of legacy) {
      const cell = model.cells.get(i) as ICodeCellModel;
      const meta = readRunMetadata(cell.getMetadata('redlab'))!;
      const state = legacyRunState(meta, cell.outputs.toJSON());
      const shown = state ?? initialRunState(meta.runId, 0);
      const { trusted: _t, redlab: _r, ...rest } = cell.metadata as Record<string, unknown>;
      // Without its outputs, the record says nothing yet: no `record`, so `resume` rebuilds it.
      const next: RunCellMetadata = state ? metadataOf(state) : { runId: meta.runId, since: 0 };
      model.sharedModel.deleteCell(i);
      model.sharedModel.insertCell(i, runCellJson(renderRecord(shown, linksFor(this.opts.client, meta.runId)), next, rest));
    }
  }

  /** Streams the notebook's run cells whose run may still go on, or whose record is incomplete. */
  private resume(panel: NotebookPanel): void {
    const cells = panel.content.model?.cells;
    if (!cells) return;
    for (const cell of cells) {
      if (!isRunCell(cell) || this.bindings.has(cell)) continue;
      const meta = readRunMetadata(cell.getMetadata('redlab'));
      if (!meta || !needsResume(meta)) continue;
      // From the first event: the log text is in the rendering only, the bridge has it all.
      this.bind(panel, cell, initialRunState(meta.runId, 0), meta.record ? meta.since : 0);
    }
  }

  private bind(panel: NotebookPanel, cell: ICellModel, initial: RunCellState, shownSince: number): void {
    this.unbind(cell);
    const binding = new RunCellBinding(panel, cell, initial, this.opts, shownSince, s => {
      if (this.bindings.get(cell) === binding) this.bindings.delete(cell);
      // Not while the stream is still emitting `finished`.
      setTimeout(() => binding.dispose(), 0);
      this.opts.onFinished?.(s, panel.context.path);
    });
    this.bindings.set(cell, binding);
    binding.start();
  }

  private unbind(cell: ICellModel): void {
    const b = this.bindings.get(cell);
    if (!b) return;
    b.dispose();
    this.bindings.delete(cell);
  }
}

/** The nbformat JSON of a run cell. */
function runCellJson(source: string, meta: RunCellMetadata, metadata: Record<string, unknown> = {}): nbformat.IMarkdownCell {
  const tags = Array.isArray(metadata.tags) ? (metadata.tags as unknown[]).filter((t): t is string => typeof t === 'string' && t !== RUN_CELL_TAG) : [];
  return {
    cell_type: RUN_CELL_TYPE,
    source,
    // Read-only: its source is the rendering of the run, written by RED Lab.
    metadata: { ...metadata, editable: false, tags: [...tags, RUN_CELL_TAG], redlab: JSON.parse(JSON.stringify(meta)) }
  };
}

function hasRunTag(cell: ICellModel): boolean {
  const tags = cell.getMetadata('tags');
  return Array.isArray(tags) && tags.includes(RUN_CELL_TAG);
}

export function isRunCell(cell: ICellModel): boolean {
  return cell.type === RUN_CELL_TYPE && hasRunTag(cell);
}

/** The cell's widgets in every view of the notebook. */
function widgetsOf(tracker: INotebookTracker, panel: NotebookPanel, cell: ICellModel): Cell[] {
  const out: Cell[] = [];
  const views = tracker.filter(p => p.context === panel.context);
  for (const view of views.length ? views : [panel]) {
    const w = view.content.widgets.find(c => c.model === cell);
    if (w) out.push(w);
  }
  return out;
}

/**
 * Markdown cells re-render only after a second without changes; a streaming run changes
 * its cell every FLUSH_MS, so it is re-rendered at once.
 */
function rerender(tracker: INotebookTracker, panel: NotebookPanel, cell: ICellModel): void {
  for (const w of widgetsOf(tracker, panel, cell)) if ((w as MarkdownCell).rendered) w.update();
}

/** A run cell stays rendered: a double click or Enter shows no HTML source. */
function keepRendered(panel: NotebookPanel, cell: ICellModel): void {
  const apply = () => {
    const w = panel.content.widgets.find(c => c.model === cell) as MarkdownCell | undefined;
    if (!w || !('showEditorForReadOnly' in w)) return false;
    w.showEditorForReadOnly = false;
    w.rendered = true;
    return true;
  };
  // The notebook makes the widget of a new cell right after the model's change.
  if (!apply()) setTimeout(apply, 0);
}
