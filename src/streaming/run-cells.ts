// Run cells in open notebooks: a run started from a notebook gets a new code cell
// below the active one (tag `redlab-run`, metadata `redlab: {runId, since}`), whose
// outputs follow the run live. When a notebook opens (or the page reloads), its run
// cells whose run is not over pick their stream up again after `since`.
import type { ICellModel, ICodeCellModel } from '@jupyterlab/cells';
import type { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import type { BridgeClient } from '../handler';
import { CellWriter } from './cell-writer';
import { initialRunState } from './reducer';
import { renderOutputs, type RenderLinks } from './render';
import { needsResume, readRunMetadata, restoreRunState, RUN_CELL_TAG, type RunCellMetadata } from './restore';
import { RunStream } from './run-stream';
import type { RunCellState } from './types';

export interface RunCellsOptions {
  client: BridgeClient;
  tracker: INotebookTracker;
  settings: () => { logLineLimit: number; previewTypes: readonly string[] };
  onBridgeDown: (message: string) => void;
  /** A run reached its final state (to refresh the run list, tell the user). */
  onFinished?: (state: RunCellState, notebookPath: string) => void;
}

/** Least time between two writes into a cell. */
const FLUSH_MS = 250;

/** One run cell and the stream that fills it. */
class RunCellBinding {
  readonly stream: RunStream;
  private readonly writer: CellWriter;
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    /** The notebook's context: its streams end when it closes. */
    readonly notebook: object,
    readonly cell: ICodeCellModel,
    initial: RunCellState,
    private readonly opts: RunCellsOptions,
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
    this.stream.stateChanged.connect(() => this.schedule());
    this.stream.finished.connect((_, s) => {
      this.flush();
      onFinished(s);
    });
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
    const id = encodeURIComponent(s.runId);
    const client = this.opts.client;
    const links: RenderLinks = {
      log: stream => client.url(`runs/${id}/logs?stream=${stream}`),
      output: (name, batch) => client.url(`runs/${id}/outputs/${encodeURIComponent(name)}${batch !== undefined ? `?batch=${batch}` : ''}`),
      record: client.url(`runs/${id}`)
    };
    const meta: RunCellMetadata = { runId: s.runId, since: s.since, state: s.state };
    this.writer.write(renderOutputs(s, links), meta);
  }

  dispose(): void {
    if (this.timer) clearTimeout(this.timer);
    this.stream.dispose();
  }
}

export class RunCellManager {
  private readonly bindings = new Map<ICodeCellModel, RunCellBinding>();
  private readonly watched = new WeakSet<object>();

  constructor(private readonly opts: RunCellsOptions) {
    opts.tracker.widgetAdded.connect((_, panel) => this.watch(panel));
    opts.tracker.forEach(panel => this.watch(panel));
  }

  /** Inserts a run cell below the active cell of `panel` and streams run `runId` into it. */
  startInNotebook(panel: NotebookPanel, runId: string): ICodeCellModel | undefined {
    const notebook = panel.content;
    const model = notebook.model;
    if (!model) return undefined;
    const index = notebook.activeCell ? notebook.activeCellIndex + 1 : model.cells.length;
    const meta: RunCellMetadata = { runId, since: 0, state: 'queued' };
    model.sharedModel.insertCell(index, {
      cell_type: 'code',
      source: `# RED Lab run ${runId} — outputs stream here`,
      // Created by RED Lab in this session, like a cell the user adds: trusted. Read-only: its
      // source is a label, its outputs come from the run.
      metadata: { trusted: true, editable: false, tags: [RUN_CELL_TAG], redlab: { ...meta } }
    });
    const cell = model.cells.get(index) as ICodeCellModel;
    this.bind(panel, cell, initialRunState(runId));
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

  dispose(): void {
    for (const b of this.bindings.values()) b.dispose();
    this.bindings.clear();
  }

  private watch(panel: NotebookPanel): void {
    if (this.watched.has(panel)) return;
    this.watched.add(panel);
    void panel.context.ready.then(() => {
      if (panel.isDisposed) return;
      this.resume(panel);
      panel.content.model?.cells.changed.connect((_, change) => {
        if (change.type === 'remove') for (const cell of change.oldValues) this.unbind(cell);
      });
    });
    // The last view of a notebook closes with its context: its streams stop there.
    panel.context.disposed.connect(() => {
      for (const cell of [...this.bindings.keys()]) {
        if (cell.isDisposed || this.bindings.get(cell)?.notebook === panel.context) this.unbind(cell);
      }
    });
  }

  /** Resumes the notebook's run cells whose run may still be going. */
  private resume(panel: NotebookPanel): void {
    const cells = panel.content.model?.cells;
    if (!cells) return;
    for (const cell of cells) {
      if (!isRunCell(cell) || this.bindings.has(cell as ICodeCellModel)) continue;
      const meta = readRunMetadata(cell.getMetadata('redlab'));
      if (!meta) continue;
      const outputs = (cell as ICodeCellModel).outputs.toJSON();
      if (!needsResume(meta, outputs)) continue;
      this.bind(panel, cell as ICodeCellModel, restoreRunState(meta, outputs));
    }
  }

  private bind(panel: NotebookPanel, cell: ICodeCellModel, initial: RunCellState): void {
    this.unbind(cell);
    const binding = new RunCellBinding(panel.context, cell, initial, this.opts, s => {
      if (this.bindings.get(cell) === binding) this.bindings.delete(cell);
      // Not while the stream is still emitting `finished`.
      setTimeout(() => binding.dispose(), 0);
      this.opts.onFinished?.(s, panel.context.path);
    });
    this.bindings.set(cell, binding);
    binding.start();
  }

  private unbind(cell: ICellModel): void {
    const b = this.bindings.get(cell as ICodeCellModel);
    if (!b) return;
    b.dispose();
    this.bindings.delete(cell as ICodeCellModel);
  }
}

export function isRunCell(cell: ICellModel): boolean {
  if (cell.type !== 'code') return false;
  const tags = cell.getMetadata('tags');
  return Array.isArray(tags) && tags.includes(RUN_CELL_TAG);
}
