// What a run launches: the notebook's content as it is now, frozen in a content-addressed
// file (`<notebook dir>/_redlab/snapshots/<sha256>.ipynb`, run cells left out), the runner
// likewise (`redlab_nbrun-<sha256>.py`: a newer RED Lab's runner does not change an old
// run), and the draft's RED pointing at those files, so that a re-run of the recorded RED
// runs the same code with the same values. Pure.
import { draftFloatPaths, draftToRed, NOTEBOOK_INPUT } from '../notebook/infer';
import { RUNNER_SOURCE } from '../notebook/runner-source';
import type { ExperimentDraft } from '../notebook/types';
import { sha256Hex, toSortedYaml, type FileOrDirectory, type SingleRed } from '../red';
import { stripRunCells } from '../streaming/run-cell-filter';
import { dirOf, joinPath } from './paths';

/** Snapshots, relative to the notebook's folder. */
export const SNAPSHOT_DIR = '_redlab/snapshots';

export interface FileSnapshot {
  /** Relative to the Jupyter root (for the contents API). */
  path: string;
  /** Relative to the notebook's folder (for the RED). */
  relPath: string;
  sha256: string;
  text: string;
}

/** The snapshot of a notebook's content (nbformat JSON, as the model's toJSON gives it), run records left out. */
export function notebookSnapshot(nb: unknown, notebookPath: string): FileSnapshot {
  return snapshotOf(`${JSON.stringify(stripRunCells(nb), null, 1)}\n`, notebookPath, sha => `${sha}.ipynb`);
}

/** The snapshot of the runner a notebook's run uses. */
export function runnerSnapshot(notebookPath: string, source: string = RUNNER_SOURCE): FileSnapshot {
  return snapshotOf(source, notebookPath, sha => `redlab_nbrun-${sha}.py`);
}

function snapshotOf(text: string, notebookPath: string, name: (sha256: string) => string): FileSnapshot {
  const sha256 = sha256Hex(text);
  const relPath = `${SNAPSHOT_DIR}/${name(sha256)}`;
  return { path: joinPath(dirOf(notebookPath), relPath), relPath, sha256, text };
}

/** The draft's RED, running the notebook snapshot (under the notebook's own file name) with the runner snapshot. */
export function redOfSnapshot(draft: ExperimentDraft, snapshotRelPath: string, runnerRelPath: string = draft.runnerPath): { red: SingleRed; yaml: string } {
  draft = { ...draft, runnerPath: runnerRelPath };
  const red = draftToRed(draft);
  const notebook = red.inputs[NOTEBOOK_INPUT] as FileOrDirectory;
  red.inputs[NOTEBOOK_INPUT] = { ...notebook, connector: { ...notebook.connector, access: { ...notebook.connector.access, path: snapshotRelPath } } };
  return { red, yaml: toSortedYaml(red, { floatPaths: draftFloatPaths(draft) }) };
}
