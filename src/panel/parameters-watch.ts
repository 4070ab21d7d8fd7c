// Re-reads a notebook's parameters when its `parameters` cell (or its kernel) changes,
// so the panel follows edits there. Outputs streaming into run cells change the notebook
// too, many times a second: only the parameters cells' text and the kernel language
// count, and they are checked at most every DEBOUNCE_MS.
//
// A tag added in the property inspector (Cell Tags > Add Tag) sends no signal at all:
// JupyterLab's tags field pushes the tag into the array the cell's metadata holds and
// sets that same array again, so the shared model sees no change. While the notebook is
// visible, its parameters are therefore also compared every POLL_MS (a cheap walk over
// the cells' tags).
import type { NotebookPanel } from '@jupyterlab/notebook';

const DEBOUNCE_MS = 600;
export const POLL_MS = 1000;

/** What the inferred parameters depend on. */
export function parametersSignature(panel: NotebookPanel): string {
  const model = panel.content.model;
  if (!model) return '';
  const parts: string[] = [];
  for (const cell of model.cells) {
    const tags = cell.getMetadata('tags');
    if (cell.type === 'code' && Array.isArray(tags) && tags.includes('parameters')) parts.push(cell.sharedModel.getSource());
  }
  const spec = model.getMetadata('kernelspec') as { language?: string } | undefined;
  return `${spec?.language ?? ''}\u0000${parts.join('\u0000')}`;
}

/** Calls `onChange` when the parameters of `panel` may have changed; returns a stop function. */
export function watchParameters(panel: NotebookPanel, onChange: () => void): () => void {
  const model = panel.content.model;
  if (!model) return () => undefined;
  let last = parametersSignature(panel);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const check = () => {
    timer = undefined;
    if (panel.isDisposed) return;
    const now = parametersSignature(panel);
    if (now === last) return;
    last = now;
    onChange();
  };
  const onContent = () => {
    if (!timer) timer = setTimeout(check, DEBOUNCE_MS);
  };
  model.contentChanged.connect(onContent);
  model.metadataChanged.connect(onContent);
  const poll = setInterval(() => {
    if (!timer && panel.isVisible) check();
  }, POLL_MS);
  return () => {
    clearInterval(poll);
    if (timer) clearTimeout(timer);
    model.contentChanged.disconnect(onContent);
    model.metadataChanged.disconnect(onContent);
  };
}
