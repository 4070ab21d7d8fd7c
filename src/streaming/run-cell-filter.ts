// Run records are never part of an experiment: the notebook a run executes is the
// notebook without its run cells (the Markdown records, and the code cells older RED
// Lab versions wrote), so they neither run nor shift cell numbers. Pure, on nbformat JSON.
import { RUN_CELL_TAG } from './restore';

interface CellJson {
  cell_type?: unknown;
  metadata?: { tags?: unknown; redlab?: unknown } & Record<string, unknown>;
}

/** Whether an nbformat cell is a RED Lab run record (tag `redlab-run`, of any cell type). */
export function isRunCellJson(cell: unknown): boolean {
  const tags = (cell as CellJson | null)?.metadata?.tags;
  return Array.isArray(tags) && tags.includes(RUN_CELL_TAG);
}

/**
 * The notebook without its run cells (a new object; the rest is shared, not copied).
 * Anything that is not a notebook with a `cells` list comes back as it is.
 */
export function stripRunCells<T>(nb: T): T {
  const cells = (nb as { cells?: unknown } | null)?.cells;
  if (!Array.isArray(cells) || !cells.some(isRunCellJson)) return nb;
  return { ...nb, cells: cells.filter(c => !isRunCellJson(c)) };
}
