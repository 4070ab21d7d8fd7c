// A notebook's experiment as the panel prepares it: the notebook, the runner and the RED
// of the draft written into a folder (shared by the tests that run notebooks).
import * as fs from 'fs';
import * as path from 'path';
import { draftRedPath, draftRunnerFile, draftToRedYaml } from '../../../src/notebook/infer';
import { RUNNER_SOURCE } from '../../../src/notebook/runner-source';
import type { ExperimentDraft } from '../../../src/notebook/types';

/** Writes the notebook, the runner and the RED of the draft into dir, as the panel does; returns the RED's path. */
export function prepare(dir: string, draft: ExperimentDraft, notebook: unknown): string {
  fs.writeFileSync(path.join(dir, draft.notebookPath), JSON.stringify(notebook, null, 1));
  const runner = path.join(dir, draftRunnerFile(draft));
  fs.mkdirSync(path.dirname(runner), { recursive: true });
  fs.writeFileSync(runner, RUNNER_SOURCE);
  const red = path.join(dir, draftRedPath(draft.notebookPath));
  fs.writeFileSync(red, draftToRedYaml(draft));
  return red;
}
