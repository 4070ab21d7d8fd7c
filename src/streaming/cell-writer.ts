// The thin adapter from a rendered run record to its Markdown cell: the source (the
// rendering) and the `redlab` metadata ({runId, since, state, record}) are written in
// one transaction, so the two never disagree about what the cell shows, and outside
// the undo history (Ctrl+Z in the notebook must not take a run's lines back).
import type { ICellModel } from '@jupyterlab/cells';
import type { RunCellMetadata } from './restore';

export class CellWriter {
  private lastSource: string;
  private lastMeta = '';

  constructor(private readonly cell: ICellModel) {
    this.lastSource = cell.sharedModel.getSource();
  }

  /** Whether anything changed (the caller then re-renders the cell's widget at once). */
  write(source: string, meta: RunCellMetadata): boolean {
    if (this.cell.isDisposed) return false;
    const metaJson = JSON.stringify(meta);
    // Compared with the cell, not only with the last write: someone may have changed it.
    const sourceChanged = source !== this.lastSource || this.cell.sharedModel.getSource() !== source;
    const metaChanged = metaJson !== this.lastMeta;
    if (!sourceChanged && !metaChanged) return false;
    this.cell.sharedModel.transact(() => {
      if (sourceChanged) this.cell.sharedModel.setSource(source);
      if (metaChanged) this.cell.setMetadata('redlab', JSON.parse(metaJson));
    }, false);
    this.lastSource = source;
    this.lastMeta = metaJson;
    return true;
  }
}
