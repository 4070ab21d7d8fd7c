// What a notebook shows of its cells' container bindings, drawn from the cells' metadata
// (binding.ts) each time it matters: the badge in a bound cell ("container · image"), and
// the class BOUND_NOTEBOOK_CLASS on the notebook while its active cell is bound, on which
// the keyboard shortcuts of Run (Shift+Enter, Ctrl+Enter, Alt+Enter) send the cell to its
// container (schema/plugin/plugin.json). JupyterLab 4's windowed notebook creates a cell's
// DOM late (placeholders) and detaches cells out of view, so the badge is (re)drawn when a
// cell is ready, enters the viewport, or its metadata changes; the metadata is the truth.
import type { Cell } from '@jupyterlab/cells';
import type { Notebook, NotebookPanel } from '@jupyterlab/notebook';
import { badgeText, CELL_METADATA_KEY, readBinding, type CellBinding } from './binding';

export const BOUND_NOTEBOOK_CLASS = 'jp-mod-redlabBound';
export const BOUND_CELL_CLASS = 'jp-RedLab-boundCell';
export const BADGE_CLASS = 'jp-RedLab-cellBadge';

/** A code cell's binding (undefined: unbound, or not a code cell). */
export function cellBinding(cell: Cell | null | undefined): CellBinding | undefined {
  if (!cell || cell.isDisposed || cell.model.type !== 'code') return undefined;
  return readBinding(cell.model.getMetadata(CELL_METADATA_KEY));
}

/** Draws the cell's badge from its metadata (nothing yet while it is a placeholder). */
export function drawBadge(cell: Cell): void {
  if (cell.isDisposed) return;
  const binding = cellBinding(cell);
  cell.toggleClass(BOUND_CELL_CLASS, Boolean(binding));
  const host = cell.inputArea?.node;
  if (!host) return;
  let badge = host.querySelector<HTMLElement>(`:scope > .${BADGE_CLASS}`);
  if (!binding) {
    badge?.remove();
    return;
  }
  if (!badge) {
    badge = document.createElement('span');
    badge.className = BADGE_CLASS;
    badge.dataset.testid = 'redlab-cell-badge';
    host.appendChild(badge);
  }
  const { text, title } = badgeText(binding);
  if (badge.textContent !== text) badge.textContent = text;
  badge.title = title;
  badge.classList.toggle(`${BADGE_CLASS}-gpu`, Boolean(binding.gpu));
  badge.dataset.profile = binding.profile;
}

/** Keeps a notebook's badges and its bound-active-cell class current; stops with the panel. */
export function showBindings(panel: NotebookPanel): void {
  const notebook: Notebook = panel.content;
  const watched = new WeakSet<Cell>();
  const syncActive = () => notebook.node.classList.toggle(BOUND_NOTEBOOK_CLASS, Boolean(cellBinding(notebook.activeCell)));
  const watch = (cell: Cell) => {
    if (watched.has(cell)) return;
    watched.add(cell);
    const onMetadata = () => {
      drawBadge(cell);
      if (cell === notebook.activeCell) syncActive();
    };
    // A disposed cell has no model any more: the one it had is let go.
    const model = cell.model;
    model.metadataChanged.connect(onMetadata);
    cell.disposed.connect(() => model.metadataChanged.disconnect(onMetadata));
    void cell.ready.then(() => drawBadge(cell));
    drawBadge(cell);
  };
  const watchAll = () => {
    notebook.widgets.forEach(watch);
    syncActive();
  };
  notebook.activeCellChanged.connect(syncActive);
  notebook.cellInViewportChanged.connect((_, cell) => drawBadge(cell));
  const onModel = () => {
    notebook.model?.cells.changed.connect(watchAll);
    watchAll();
  };
  notebook.modelChanged.connect(onModel);
  onModel();
}
