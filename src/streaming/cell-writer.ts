// The thin adapter from rendered outputs to a code cell: only outputs that changed are
// replaced, so a growing log rewrites one stream output, not the cell. The cell's
// `redlab` metadata ({runId, since, state}) is written in the same step as the
// outputs, so the two never disagree about what the cell shows.
import type * as nbformat from '@jupyterlab/nbformat';
import type { ICodeCellModel } from '@jupyterlab/cells';
import type { CellOutput } from './render';
import type { RunCellMetadata } from './restore';

const PLACEHOLDER: nbformat.IDisplayData = { output_type: 'display_data', data: {}, metadata: {} };

export class CellWriter {
  /** JSON of each output as last written. */
  private written: string[] = [];
  private lastMeta = '';

  constructor(private readonly cell: ICodeCellModel) {}

  write(outputs: readonly CellOutput[], meta: RunCellMetadata): void {
    if (this.cell.isDisposed) return;
    const list = this.cell.outputs;
    // Cleared or changed by someone else (e.g. the cell was executed): write it whole.
    if (list.length !== this.written.length) {
      list.clear();
      this.written = [];
    }
    outputs.forEach((out, i) => {
      const json = JSON.stringify(out);
      if (i < this.written.length) {
        if (this.written[i] !== json) list.set(i, out as nbformat.IOutput);
      } else {
        // `add` would merge a stream into the previous stream output of the same name (it
        // remembers the last *added* one, not what `set` put there): add a placeholder, then set.
        list.add(PLACEHOLDER);
        list.set(i, out as nbformat.IOutput);
      }
      this.written[i] = json;
    });
    for (let i = this.written.length - 1; i >= outputs.length; i--) list.remove(i);
    this.written.length = outputs.length;
    const metaJson = JSON.stringify(meta);
    if (metaJson !== this.lastMeta) {
      this.cell.setMetadata('redlab', { ...meta });
      this.lastMeta = metaJson;
    }
  }
}
