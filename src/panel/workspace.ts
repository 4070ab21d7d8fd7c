// Files next to the notebook, through Jupyter's contents API: the runner the RED
// runs, the exported RED file, a RED to import, the environment files an image is
// built from.
import type { Contents } from '@jupyterlab/services';
import { draftRunnerFile } from '../notebook/infer';
import { RUNNER_FILENAME, RUNNER_SOURCE } from '../notebook/runner-source';
import type { ExperimentDraft } from '../notebook/types';
import type { EnvironmentFiles } from './image-build';
import { dirOf, joinPath } from './paths';

/**
 * Jupyter refuses to create hidden files (`.redlab/`) unless ContentsManager.allow_hidden is
 * set; the runner then goes to this visible folder instead.
 */
export const VISIBLE_RUNNER_PATH = `_redlab/${RUNNER_FILENAME}`;

function statusOf(err: unknown): number | undefined {
  return (err as { response?: { status?: number } })?.response?.status;
}

export class Workspace {
  constructor(private readonly contents: Contents.IManager) {}

  async exists(path: string): Promise<boolean> {
    try {
      await this.contents.get(path, { content: false });
      return true;
    } catch {
      return false;
    }
  }

  async readText(path: string): Promise<string> {
    const model = await this.contents.get(path, { content: true, format: 'text', type: 'file' });
    return String(model.content ?? '');
  }

  async writeText(path: string, text: string): Promise<void> {
    await this.contents.save(path, { type: 'file', format: 'text', content: text });
  }

  /** Creates `dir` and its parents (saving a folder that exists changes nothing). */
  async ensureDir(dir: string): Promise<void> {
    let at = '';
    for (const part of dir.split('/').filter(Boolean)) {
      at = at ? `${at}/${part}` : part;
      await this.contents.save(at, { type: 'directory' });
    }
  }

  /**
   * Writes the runner where the draft says (`<notebook dir>/.redlab/redlab_nbrun.py`). When the
   * server refuses hidden files, writes it to VISIBLE_RUNNER_PATH and returns that runner path
   * (relative to the notebook's folder), for the draft to use.
   */
  async writeRunner(draft: Pick<ExperimentDraft, 'notebookPath' | 'runnerPath'>): Promise<string> {
    const write = async (runnerPath: string) => {
      const file = draftRunnerFile({ notebookPath: draft.notebookPath, runnerPath });
      await this.ensureDir(dirOf(file));
      // Always written: a runner left from an older RED Lab must not run this notebook.
      await this.writeText(file, RUNNER_SOURCE);
    };
    try {
      await write(draft.runnerPath);
      return draft.runnerPath;
    } catch (err) {
      const hidden = draft.runnerPath.split('/').some(p => p.startsWith('.'));
      if (!hidden || statusOf(err) !== 400) throw err;
      await write(VISIBLE_RUNNER_PATH);
      return VISIBLE_RUNNER_PATH;
    }
  }

  /** requirements.txt, environment.yml (or .yaml) and apt.txt of the notebook's folder. */
  async readEnvironment(notebookPath: string): Promise<EnvironmentFiles> {
    const dir = dirOf(notebookPath);
    const read = (name: string) => this.readText(joinPath(dir, name)).catch(() => undefined);
    const [requirementsTxt, environmentYml, environmentYaml, aptTxt] = await Promise.all([
      read('requirements.txt'),
      read('environment.yml'),
      read('environment.yaml'),
      read('apt.txt')
    ]);
    const env: EnvironmentFiles = {};
    if (requirementsTxt !== undefined) env.requirementsTxt = requirementsTxt;
    if (environmentYml !== undefined || environmentYaml !== undefined) env.environmentYml = environmentYml ?? environmentYaml;
    if (aptTxt !== undefined) env.aptTxt = aptTxt;
    return env;
  }
}
