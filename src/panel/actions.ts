// What the panel's buttons and the commands do: run the notebook as an experiment,
// export and import RED files, cancel, re-run and open runs, build an image. Each
// action reports where the user looks: a Notification, the panel's notice, the cell.
import type { JupyterFrontEnd } from '@jupyterlab/application';
import { Notification, showErrorMessage } from '@jupyterlab/apputils';
import type { FileBrowser } from '@jupyterlab/filebrowser';
import type { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import type { BridgeApi } from '../api';
import { BridgeError } from '../handler';
import type { RedLabModel } from '../model';
import { draftRunnerFile } from '../notebook/infer';
import { type SubmitRequest, type SubmitResponse, checkImageReference, formatIssues, RedError, loadRed, listVariables, type RedVariable } from '../red';
import type { RunCellManager } from '../streaming/run-cells';
import { askRedPath, askVariables, confirm, showJson } from './dialogs';
import type { ExperimentModel, PanelIssue } from './experiment-model';
import { engineView, healthOf, requiredEngine } from './engines';
import { buildFailureSummary, buildImage } from './image-build';
import type { DraftDefaults, RedPanelModel } from './panel-model';
import { dirOf, looksLikeRedFile, redPathFor, relativePath } from './paths';
import { RedFileModel } from './red-file-model';
import { planRerun } from './rerun';
import { gpuLabel, latestRunning, runValues } from './run-history';
import { notebookSnapshot, redOfSnapshot, runnerSnapshot } from './snapshot';
import type { SessionVariables } from './session-variables';
import type { Workspace } from './workspace';

export interface ActionsOptions {
  app: JupyterFrontEnd;
  tracker: INotebookTracker;
  api: BridgeApi;
  redlab: RedLabModel;
  panelModel: RedPanelModel;
  workspace: Workspace;
  variables: SessionVariables;
  runCells: RunCellManager;
  fileBrowser: FileBrowser | null;
  defaults: () => DraftDefaults;
  /** Shows the RED panel (where the problems are). */
  revealPanel: () => void;
  /** Writes a pending panel edit of the notebook at this path into its metadata now. */
  flushExperiment: (notebookPath: string) => void;
}

/** How long a launch waits for the notebook save it started (the run cell on disk) before the next may start. */
const SAVE_WAIT_MS = 20_000;

const BRIDGE_NOTICE_EVERY_MS = 60_000;

export class RedLabActions {
  private lastBridgeNotice = 0;

  constructor(private readonly o: ActionsOptions) {}

  get notebook(): NotebookPanel | null {
    return this.o.tracker.currentWidget;
  }

  /** Runs what the panel shows: the imported RED file, or the notebook's experiment. */
  async runShown(): Promise<string | undefined> {
    const panel = this.notebook;
    const redFile = this.o.panelModel.redFile;
    return redFile && panel && this.o.panelModel.current?.path === panel.context.path ? this.runRedFile(panel, redFile) : this.runNotebook(panel);
  }

  /**
   * Runs the notebook as it is now: its content frozen in a snapshot file (the RED refers to
   * it, so a re-run runs the same), the runner written, variables asked for, the run posted
   * and streamed into a new cell. One launch at a time. Returns the run id.
   */
  async runNotebook(panel: NotebookPanel | null = this.notebook): Promise<string | undefined> {
    return this.o.panelModel.launches.run('Starting the run…', async () => {
      const experiment = await this.experimentOf(panel);
      if (!panel || !experiment) return undefined;
      if (!this.checkValid(experiment, 'run')) return undefined;
      if (!(await this.bridgeReady())) return undefined;
      if (this.engineMissing(requiredEngine({ draft: experiment.draft }))) return undefined;
      const path = panel.context.path;
      try {
        // Files next to the notebook go through the contents API; the notebook itself is
        // saved once, through its context, when the run cell is in it.
        this.o.flushExperiment(path);
        const notebook = notebookSnapshot(panel.content.model?.toJSON(), path);
        const runner = runnerSnapshot(path);
        await this.o.workspace.ensureDir(dirOf(notebook.path));
        for (const file of [notebook, runner]) {
          if (!(await this.o.workspace.exists(file.path))) await this.o.workspace.writeText(file.path, file.text);
        }
        const { red, yaml } = redOfSnapshot(experiment.draft, notebook.relPath, runner.relPath);
        const variables = await this.variableValues(experiment.variables);
        if (!variables) return undefined;
        const { id } = await this.postRun(yaml, variables, { notebookPath: path, redPath: path, engine: this.chosenEngine(experiment.draft.engine, requiredEngine({ draft: experiment.draft })) });
        this.o.panelModel.rememberRun(id, { image: experiment.draft.image, gpus: gpuLabel(red.container.settings.gpus), values: runValues(red) });
        await this.streamIntoNotebook(panel, id);
        this.o.panelModel.setNotice(null);
        return id;
      } catch (err) {
        this.reportError('The run could not start', err);
        return undefined;
      }
    });
  }

  /** Runs an imported RED file as it is (its command, inputs, container), streamed into a new cell of the notebook. */
  async runRedFile(panel: NotebookPanel, redFile: RedFileModel): Promise<string | undefined> {
    return this.o.panelModel.launches.run('Starting the run…', async () => {
      if (!this.checkValid(redFile, 'run')) return undefined;
      if (!(await this.bridgeReady())) return undefined;
      if (this.engineMissing(requiredEngine({ redFile: redFile.red }))) return undefined;
      try {
        const variables = await this.variableValues(redFile.variables);
        if (!variables) return undefined;
        const { id } = await this.postRun(redFile.yaml, variables, { notebookPath: panel.context.path, redPath: redFile.path, engine: this.chosenEngine(undefined, requiredEngine({ redFile: redFile.red })) });
        this.o.panelModel.rememberRun(id, { image: redFile.image, gpus: gpuLabel(redFile.red.container.settings.gpus), values: runValues(redFile.red) });
        await this.streamIntoNotebook(panel, id);
        this.o.panelModel.setNotice(null);
        return id;
      } catch (err) {
        this.reportError(`${redFile.path} could not start`, err);
        return undefined;
      }
    });
  }

  /** Writes `<notebook>.red.yml` (and the runner it uses) next to the notebook; an imported RED file to a path asked for. */
  async exportRed(panel: NotebookPanel | null = this.notebook): Promise<string | undefined> {
    const redFile = this.o.panelModel.redFile;
    if (redFile && panel && this.o.panelModel.current?.path === panel.context.path) return this.exportRedFile(redFile);
    const experiment = await this.experimentOf(panel);
    if (!panel || !experiment) return undefined;
    if (!this.checkValid(experiment, 'export')) return undefined;
    const redPath = redPathFor(panel.context.path);
    try {
      if ((await this.o.workspace.exists(redPath)) && !(await confirm('Export RED…', `${redPath} exists. Replace it?`, 'Replace'))) return undefined;
      await this.writeRunner(experiment);
      await this.o.workspace.writeText(redPath, experiment.yaml);
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

  /** The imported RED file, with what was changed in the panel, to a file (its own by default). */
  private async exportRedFile(redFile: RedFileModel): Promise<string | undefined> {
    if (!this.checkValid(redFile, 'export')) return undefined;
    const target = await askRedPath(redFile.path, 'Export RED…', 'Export');
    if (!target) return undefined;
    try {
      if ((await this.o.workspace.exists(target)) && !(await confirm('Export RED…', `${target} exists. Replace it?`, 'Replace'))) return undefined;
      await this.o.workspace.writeText(target, redFile.yaml);
      this.o.panelModel.setNotice({ kind: 'info', title: `Exported ${target}`, lines: [`run it from a terminal: npx redlab run ${target}`] });
      return target;
    } catch (err) {
      this.reportError(`${target} could not be written`, err);
      return undefined;
    }
  }

  /**
   * Opens a RED file in the panel as the experiment it is (its own command, inputs, outputs
   * and container), beside the notebook's own experiment, which stays as it was.
   */
  async importRed(panel: NotebookPanel | null = this.notebook, path?: string): Promise<boolean> {
    if (!panel) {
      Notification.warning('Open a notebook first: the RED panel belongs to the active notebook.', { autoClose: 4000 });
      return false;
    }
    await panel.context.ready;
    const nbPath = panel.context.path;
    const selected = this.selectedPath();
    const redPath = path ?? (await askRedPath(selected && looksLikeRedFile(selected) ? selected : redPathFor(nbPath)));
    if (!redPath) return false;
    try {
      const text = await this.o.workspace.readText(redPath);
      const loaded = loadRed(text, { source: redPath });
      const notes = loaded.warnings.map(w => `${w.path}: ${w.message}`);
      const redFile = new RedFileModel(redPath, loaded.red, loaded.floatPaths, notes);
      this.o.panelModel.openRedFile(nbPath, redFile);
      this.o.panelModel.setNotice({
        kind: notes.length ? 'warning' : 'info',
        title: `Opened ${redPath}: it runs ${redFile.baseCommand || 'its command'} as the file says`,
        lines: [...notes, "The notebook's own experiment is unchanged: \u201cNotebook experiment\u201d goes back to it."]
      });
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
      const r = await this.o.api.cancel(id);
      Notification.info(r.message ?? `Run ${id} is being cancelled`, { autoClose: 4000 });
      void this.o.redlab.refreshRuns();
    } catch (err) {
      this.reportError(`Run ${id} could not be cancelled`, err);
    }
  }

  /**
   * Starts a run again as it ran: its recorded RED (the same notebook snapshot and values),
   * the image pinned by the digest or ID the run used. Says so.
   */
  async rerun(runId: string): Promise<string | undefined> {
    return this.o.panelModel.launches.run('Starting the re-run…', async () => {
      if (!(await this.bridgeReady())) return undefined;
      try {
        const record = await this.o.api.get(runId);
        const plan = planRerun(record);
        // A RED that names its engine (a cluster's) runs there again or not at all, said plainly.
        const required = requiredEngine({ redFile: plan.red });
        if (this.engineMissing(required)) return undefined;
        const variables = await this.variableValues(listVariables(plan.red));
        if (!variables) return undefined;
        // Where it ran before, unless that engine is gone (then the bridge's default).
        // The label names the run it reproduces: the history shows the drift report against it when the re-run ends.
        const options = { notebookPath: record.options.notebookPath, redPath: record.options.redPath, labels: plan.labels, engine: this.chosenEngine(record.options.engine, required) };
        const { id } = await this.postRun(plan.red, variables, options);
        this.o.panelModel.rememberRun(id, { image: plan.pinnedImage ?? record.image?.url, values: runValues(plan.red) });
        this.o.panelModel.setNotice({ kind: 'info', title: `Run ${id} started`, lines: [plan.note] });
        const panel = this.notebook;
        if (panel && panel.context.path === options.notebookPath) await this.streamIntoNotebook(panel, id);
        else {
          Notification.info(`Run ${id} started: ${plan.note}`, { autoClose: 6000 });
          void this.o.redlab.refreshRuns();
        }
        return id;
      } catch (err) {
        this.reportError(`Run ${runId} could not be started again`, err);
        return undefined;
      }
    });
  }

  async openRecord(runId: string): Promise<void> {
    try {
      await showJson(`Run ${runId}`, await this.o.api.get(runId));
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
    const ref = checkImageReference(base);
    if (!ref.ok) {
      this.o.panelModel.setNotice({ kind: 'error', title: 'No build: the base image is not a valid image name', lines: [ref.message, `fix: ${ref.fix}`] });
      return;
    }
    const result = await buildImage(this.o.api, env, base, s => this.o.panelModel.setBuild(s), undefined, this.chosenEngine(experiment.draft.engine));
    if (result.status === 'succeeded' && result.tag) {
      experiment.setImage(result.tag);
      Notification.success(`Image ${result.tag} ${result.cached ? 'was built before: reused' : 'built'}`, { autoClose: 5000 });
      void this.o.panelModel.refreshImages(this.chosenEngine(experiment.draft.engine));
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

  /** Inserts the run cell (which saves the notebook) and waits for that save, so that no second save overlaps it. */
  private async streamIntoNotebook(panel: NotebookPanel, runId: string): Promise<void> {
    const saved = saveEnd(panel, SAVE_WAIT_MS);
    this.o.runCells.startInNotebook(panel, runId);
    void this.o.redlab.refreshRuns();
    await saved;
  }

  private checkValid(experiment: { isValid: boolean; issues: readonly PanelIssue[] }, what: 'run' | 'export'): boolean {
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

  private async postRun(red: unknown, variables: Record<string, string>, options: NonNullable<SubmitRequest['options']>): Promise<SubmitResponse> {
    const { engine, ...rest } = options;
    return this.o.api.submit({ red, variables, options: engine ? { ...rest, engine } : rest });
  }

  /**
   * Where a run goes: the engine the RED asks for (`required`), else `wanted` (the panel's choice, a
   * re-run's engine) when available, else the setting's, else the bridge's default. The RED's engine
   * missing: none (the bridge then reads execution.engine and says how to get that engine), never another.
   */
  chosenEngine(wanted?: string, required?: string): string | undefined {
    const view = engineView(healthOf(this.o.redlab.status), [wanted, this.o.defaults().engine], required);
    return view.missing ? undefined : view.chosen?.name;
  }

  /** True, with the reason shown, when the engine the RED asks for is not one the bridge can run on now. */
  private engineMissing(required: string | undefined): boolean {
    const missing = engineView(healthOf(this.o.redlab.status), [], required).missing;
    if (missing) this.o.panelModel.setNotice({ kind: 'error', title: 'The run did not start', lines: [missing.message] });
    return missing !== undefined;
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

/** Resolves when the notebook's next save ends (or after `timeoutMs`). */
function saveEnd(panel: NotebookPanel, timeoutMs: number): Promise<void> {
  return new Promise(resolve => {
    const onState = (_: unknown, state: string) => {
      if (state === 'completed' || state === 'failed') finish();
    };
    const finish = () => {
      clearTimeout(timer);
      panel.context.saveState.disconnect(onState);
      resolve();
    };
    const timer = setTimeout(finish, timeoutMs);
    panel.context.saveState.connect(onState);
  });
}
