// What a run launches: the notebook's content as it is now, frozen in a content-addressed
// file (`<notebook dir>/_redlab/snapshots/<sha256>.ipynb`, run cells left out), and the
// draft's RED pointing at that file instead of the notebook, so that a re-run of the
// recorded RED runs the same content with the same values. Pure.
import { draftFloatPaths, draftToRed, NOTEBOOK_INPUT } from '../notebook/infer';
import type { ExperimentDraft } from '../notebook/types';
import { toSortedYaml } from '../red/convert';
import type { FileOrDirectory, SingleRed } from '../red/types';
import { stripRunCells } from '../streaming/run-cell-filter';
import { dirOf, joinPath } from './paths';
import { sha256Hex } from './sha256';

/** Snapshots, relative to the notebook's folder. */
export const SNAPSHOT_DIR = '_redlab/snapshots';

export interface NotebookSnapshot {
  /** Relative to the Jupyter root (for the contents API). */
  path: string;
  /** Relative to the notebook's folder (for the RED). */
  relPath: string;
  sha256: string;
  text: string;
}

/** The snapshot of a notebook's content (nbformat JSON, as the model's toJSON gives it), run records left out. */
export function notebookSnapshot(nb: unknown, notebookPath: string): NotebookSnapshot {
  const text = `${JSON.stringify(stripRunCells(nb), null, 1)}\n`;
  const sha256 = sha256Hex(text);
  const relPath = `${SNAPSHOT_DIR}/${sha256}.ipynb`;
  return { path: joinPath(dirOf(notebookPath), relPath), relPath, sha256, text };
}

/** The draft's RED, running the snapshot at `snapshotRelPath` (under the notebook's own file name). */
export function redOfSnapshot(draft: ExperimentDraft, snapshotRelPath: string): { red: SingleRed; yaml: string } {
  const red = draftToRed(draft);
  const notebook = red.inputs[NOTEBOOK_INPUT] as FileOrDirectory;
  red.inputs[NOTEBOOK_INPUT] = { ...notebook, connector: { ...notebook.connector, access: { ...notebook.connector.access, path: snapshotRelPath } } };
  return { red, yaml: toSortedYaml(red, { floatPaths: draftFloatPaths(draft) }) };
}
