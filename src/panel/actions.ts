// What the panel's buttons and the commands do: run the notebook as an experiment,
// export and import RED files, cancel, re-run and open runs, build an image. Each
// action reports where the user looks: a Notification, the panel's notice, the cell.
import type { JupyterFrontEnd } from '@jupyterlab/application';
import { Notification, showErrorMessage } from '@jupyterlab/apputils';
import type { FileBrowser } from '@jupyterlab/filebrowser';
import type { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import { BridgeError, type BridgeClient } from '../handler';
import type { RedLabModel } from '../model';
import { draftRunnerFile, inferDraft, redToDraft } from '../notebook/infer';
import type { RunRecord } from '../red/bridge-api';
import { formatIssues, RedError, type Red } from '../red/types';
import { loadRed } from '../red/validate';
import { listVariables, type RedVariable } from '../red/variables';
import type { RunCellManager } from '../streaming/run-cells';
import { askRedPath, askVariables, confirm, showJson } from './dialogs';
import type { ExperimentModel } from './experiment-model';
import { buildFailureSummary, buildImage } from './image-build';
import type { DraftDefaults, RedPanelModel } from './panel-model';
import { NOTEBOOK_METADATA_KEY, toStoredExperiment } from './draft-metadata';
import { mergeImported } from './import-merge';
import { dirOf, looksLikeRedFile, redPathFor, relativePath } from './paths';
import { gpuLabel, latestRunning } from './run-history';
import type { SessionVariables } from './session-variables';
import type { Workspace } from './workspace';

export interface ActionsOptions {
  app: JupyterFrontEnd;
  tracker: INotebookTracker;
  client: BridgeClient;
  redlab: RedLabModel;
  panelModel: RedPanelModel;
  workspace: Workspace;
  variables: SessionVariables;
  runCells: RunCellManager;
  fileBrowser: FileBrowser | null;
  defaults: () => DraftDefaults;
  /** Shows the RED panel (where the problems are). */
  revealPanel: () => void;
}

const BRIDGE_NOTICE_EVERY_MS = 60_000;

export class RedLabActions {
  private lastBridgeNotice = 0;

  constructor(private readonly o: ActionsOptions) {}

  get notebook(): NotebookPanel | null {
    return this.o.tracker.currentWidget;
  }

  /** Save, write the runner, ask for variables, POST the run, stream it into a new cell. Returns the run id. */
  async runNotebook(panel: NotebookPanel | null = this.notebook): Promise<string | undefined> {
    const experiment = await this.experimentOf(panel);
    if (!panel || !experiment) return undefined;
    if (!this.checkValid(experiment, 'run')) return undefined;
    if (!(await this.bridgeReady())) return undefined;
    const path = panel.context.path;
    try {
      storeExperiment(panel, experiment);
      await panel.context.save();
      await this.writeRunner(experiment);
      const variables = await this.variableValues(experiment.variables);
      if (!variables) return undefined;
      const { id } = await this.postRun(experiment.yaml, variables, { notebookPath: path, redPath: path });
      this.o.panelModel.rememberRun(id, { image: experiment.draft.image, gpus: gpuLabel(experiment.red?.container.settings.gpus) });
      this.o.runCells.startInNotebook(panel, id);
      this.o.panelModel.setNotice(null);
      void this.o.redlab.refreshRuns();
      return id;
    } catch (err) {
      this.reportError('The run could not start', err);
      return undefined;
    }
  }

  /** Writes `<notebook>.red.yml` (and the runner it uses) next to the notebook. */
  async exportRed(panel: NotebookPanel | null = this.notebook): Promise<string | undefined> {
    const experiment = await this.experimentOf(panel);
    if (!panel || !experiment) return undefined;
    if (!this.checkValid(experiment, 'export')) return undefined;
    const redPath = redPathFor(panel.context.path);
    try {
      if ((await this.o.workspace.exists(redPath)) && !(await confirm('Export RED…', `${redPath} exists. Replace it?`, 'Replace'))) return undefined;
      await this.writeRunner(experiment);
      await this.o.workspace.writeText(redPath, experiment.yaml);
      storeExperiment(panel, experiment);
      const runner = draftRunnerFile(experiment.draft);
      this.o.panelModel.setNotice({
        kind: 'info',
        title: `Exported ${redPath}`,
        lines: [`with the runner ${runner}`, `run it from a terminal: npx redlab run ${redPath}`]
      });
      Notification.success(`Exported ${redPath} (and ${runner})`, { autoClose: 5000 });
      return redPath;
    } catch (err) {
      this.reportError('The RED file could not be written', err);
      return undefined;
    }
  }

  /** Reads a RED file into the notebook's experiment (its values, image, resources, inputs, outputs). */
  async importRed(panel: NotebookPanel | null = this.notebook, path?: string): Promise<boolean> {
    const experiment = await this.experimentOf(panel);
    if (!panel || !experiment) return false;
    const nbPath = panel.context.path;
    const selected = this.selectedPath();
    const redPath = path ?? (await askRedPath(selected && looksLikeRedFile(selected) ? selected : redPathFor(nbPath)));
    if (!redPath) return false;
    try {
      const text = await this.o.workspace.readText(redPath);
      const loaded = loadRed(text, { source: redPath });
      const { draft, warnings } = redToDraft(loaded.red, nbPath);
      const inferred = inferDraft(panel.content.model?.toJSON(), { notebookPath: nbPath, defaults: this.o.defaults() }).draft;
      const merged = mergeImported(draft, inferred, dirOf(redPath), dirOf(nbPath));
      const notes = [...loaded.warnings.map(w => `${w.path}: ${w.message}`), ...warnings, ...merged.notes];
      experiment.replace(merged.draft, notes);
      this.o.panelModel.setNotice({ kind: notes.length ? 'warning' : 'info', title: `Imported ${redPath}`, lines: notes });
      this.o.revealPanel();
      return true;
    } catch (err) {
      if (err instanceof RedError) {
        this.o.panelModel.setNotice({ kind: 'error', title: `${redPath} is not a valid RED`, lines: formatIssues(err.issues, redPath).split('\n') });
        this.o.revealPanel();
        void showErrorMessage(`${redPath} is not a valid RED`, formatIssues(err.issues, redPath));
      } else this.reportError(`${redPath} could not be imported`, err);
      return false;
    }
  }

  /** Cancels `runId`, or the run of the active run cell, or the notebook's latest running run. */
  async cancelRun(runId?: string): Promise<void> {
    const panel = this.notebook;
    const id = runId ?? (panel ? (this.o.runCells.activeRunId(panel) ?? latestRunning(this.o.redlab.runs, panel.context.path)?.id) : undefined);
    if (!id) {
      Notification.info('No run of this notebook is going: nothing to cancel.', { autoClose: 4000 });
      return;
    }
    try {
      const r = await this.o.client.request<{ message?: string }>(`runs/${encodeURIComponent(id)}`, { method: 'DELETE' });
      Notification.info(r?.message ?? `Run ${id} is being cancelled`, { autoClose: 4000 });
      void this.o.redlab.refreshRuns();
    } catch (err) {
      this.reportError(`Run ${id} could not be cancelled`, err);
    }
  }

  /** Starts a run's RED again (its variables asked for where this session has no value yet). */
  async rerun(runId: string): Promise<string | undefined> {
    if (!(await this.bridgeReady())) return undefined;
    try {
      const record = await this.o.client.request<RunRecord>(`runs/${encodeURIComponent(runId)}`);
      const red = record.red as Red;
      const variables = await this.variableValues(listVariables(red));
      if (!variables) return undefined;
      const options = { notebookPath: record.options.notebookPath, redPath: record.options.redPath };
      const { id } = await this.postRun(red, variables, options);
      const panel = this.notebook;
      if (panel && panel.context.path === options.notebookPath) this.o.runCells.startInNotebook(panel, id);
      else Notification.info(`Run ${id} started`, { autoClose: 4000 });
      void this.o.redlab.refreshRuns();
      return id;
    } catch (err) {
      this.reportError(`Run ${runId} could not be started again`, err);
      return undefined;
    }
  }

  async openRecord(runId: string): Promise<void> {
    try {
      await showJson(`Run ${runId}`, await this.o.client.request<RunRecord>(`runs/${encodeURIComponent(runId)}`));
    } catch (err) {
      this.reportError(`Run ${runId} could not be read`, err);
    }
  }

  /** Builds an image from the notebook folder's environment files; the draft gets its tag. */
  async buildImage(): Promise<void> {
    const experiment = this.o.panelModel.experiment;
    const nbPath = this.o.panelModel.current?.path;
    if (!experiment || !nbPath || this.o.panelModel.build?.status === 'running') return;
    const env = await this.o.workspace.readEnvironment(nbPath);
    if (!env.requirementsTxt && !env.environmentYml) {
      this.o.panelModel.setNotice({ kind: 'error', title: `No requirements.txt or environment.yml in ${dirOf(nbPath) || 'the root folder'}`, lines: ['put the packages the notebook needs there, then build again'] });
      return;
    }
    // Built images are built on the default image, not on an earlier build.
    const image = experiment.draft.image;
    const base = !image || image.startsWith('redlab-build:') ? this.o.defaults().image : image;
    const result = await buildImage(this.o.client, env, base, s => this.o.panelModel.setBuild(s));
    if (result.status === 'succeeded' && result.tag) {
      experiment.setImage(result.tag);
      Notification.success(`Image ${result.tag} ${result.cached ? 'was built before: reused' : 'built'}`, { autoClose: 5000 });
      void this.o.panelModel.refreshImages();
    } else {
      Notification.error(`The image build failed: ${buildFailureSummary(result)}`, { autoClose: 10000 });
    }
  }

  /** The file browser's selection, as a path relative to the notebook's folder. */
  selectedFileForNotebook(): { path: string; kind: 'File' | 'Directory' } | undefined {
    const nbPath = this.o.panelModel.current?.path;
    const item = this.o.fileBrowser?.selectedItems().next();
    if (!nbPath || !item || item.done) return undefined;
    return { path: relativePath(dirOf(nbPath), item.value.path), kind: item.value.type === 'directory' ? 'Directory' : 'File' };
  }

  /** Tells the user once a minute that the bridge is down, with what to do. */
  notifyBridgeDown(message: string): void {
    const now = Date.now();
    if (now - this.lastBridgeNotice < BRIDGE_NOTICE_EVERY_MS) return;
    this.lastBridgeNotice = now;
    const status = this.o.redlab.status;
    const advice = status.kind === 'unreachable' || status.kind === 'no-engine' ? status.message : message;
    Notification.error(`RED Lab: ${advice}`, {
      autoClose: false,
      actions: [{ label: 'Settings', callback: () => void this.o.app.commands.execute('settingeditor:open', { query: 'RED Lab' }) }]
    });
  }

  // -- helpers -------------------------------------------------------------

  private selectedPath(): string | undefined {
    const item = this.o.fileBrowser?.selectedItems().next();
    return item && !item.done ? item.value.path : undefined;
  }

  private async experimentOf(panel: NotebookPanel | null): Promise<ExperimentModel | undefined> {
    if (!panel) {
      Notification.warning('Open a notebook first: RED Lab runs the active notebook.', { autoClose: 4000 });
      return undefined;
    }
    await panel.context.ready;
    try {
      return this.o.panelModel.experimentFor({ path: panel.context.path, toJSON: () => panel.content.model?.toJSON() });
    } catch (err) {
      const fix = (err as { fix?: string }).fix;
      void showErrorMessage('This notebook cannot run as a container experiment', `${(err as Error).message}${fix ? `\n\nWhat to do: ${fix}` : ''}`);
      return undefined;
    }
  }

  private checkValid(experiment: ExperimentModel, what: 'run' | 'export'): boolean {
    if (experiment.isValid) return true;
    const errors = experiment.issues.filter(i => i.severity === 'error');
    this.o.revealPanel();
    Notification.error(`Cannot ${what}: the experiment has ${errors.length} problem${errors.length === 1 ? '' : 's'} (${errors[0]?.message ?? 'see the RED panel'}). Fix ${errors.length === 1 ? 'it' : 'them'} in the RED panel.`, {
      autoClose: 8000
    });
    return false;
  }

  private async bridgeReady(): Promise<boolean> {
    const status = await this.o.redlab.refreshHealth();
    if (status.kind === 'connected') return true;
    const message = status.kind === 'unknown' ? 'the RED Lab bridge has not answered yet' : status.message;
    // What to do is in the bridge message above the notice; the notice says what happened.
    this.o.panelModel.setNotice({ kind: 'error', title: 'The run did not start: no bridge with a Docker engine', lines: ['You can still edit, validate and export the RED file.'] });
    this.o.revealPanel();
    this.lastBridgeNotice = 0;
    this.notifyBridgeDown(message);
    return false;
  }

  /** Writes the runner; when its hidden folder is refused, the draft moves it to a visible one. */
  private async writeRunner(experiment: ExperimentModel): Promise<void> {
    const used = await this.o.workspace.writeRunner(experiment.draft);
    if (used !== experiment.draft.runnerPath) {
      experiment.setRunnerPath(used);
      Notification.info(`The Jupyter server does not create hidden folders, so the runner went to ${used} (set ContentsManager.allow_hidden = True to keep it in .redlab/).`, { autoClose: 8000 });
    }
  }

  private async variableValues(vars: readonly RedVariable[]): Promise<Record<string, string> | undefined> {
    const missing = this.o.variables.missing(vars);
    if (missing.length) {
      const given = await askVariables(missing);
      if (!given) return undefined;
      for (const [name, value] of Object.entries(given)) this.o.variables.set(name, value);
    }
    return this.o.variables.valuesFor(vars);
  }

  private async postRun(red: unknown, variables: Record<string, string>, options: { notebookPath?: string; redPath?: string }): Promise<{ id: string; state: string }> {
    return this.o.client.request<{ id: string; state: string }>('runs', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ red, variables, options })
    });
  }

  private reportError(title: string, err: unknown): void {
    const e = err as Error;
    let lines = [e.message];
    if (err instanceof BridgeError && err.body?.issues?.length) {
      lines = [e.message, ...err.body.issues.map(i => `${i.path || '(document)'}: ${i.message}${i.fix ? ` (fix: ${i.fix})` : ''}`)];
    }
    if (err instanceof BridgeError && err.status === 0) {
      void this.o.redlab.refreshHealth();
      this.notifyBridgeDown(e.message);
    }
    this.o.panelModel.setNotice({ kind: 'error', title, lines });
    void showErrorMessage(title, lines.join('\n'));
  }
}

/** Keeps the experiment's choices in the notebook, for the next time it opens. */
function storeExperiment(panel: NotebookPanel, experiment: ExperimentModel): void {
  const model = panel.content.model;
  if (!model) return;
  const prev = model.getMetadata(NOTEBOOK_METADATA_KEY);
  const stored = toStoredExperiment(experiment.draft);
  const next = { ...(prev && typeof prev === 'object' ? prev : {}), experiment: stored };
  if (JSON.stringify(prev) !== JSON.stringify(next)) model.setMetadata(NOTEBOOK_METADATA_KEY, next);
}
