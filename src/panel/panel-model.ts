// RedPanelModel: what the RED panel shows besides the bridge (RedLabModel): the
// active notebook and its ExperimentModel (one per notebook, kept while the session
// lasts), the bridge's local images, an image build in progress, a notice (import
// warnings, export done, errors), and facts about past runs for the history list.
// Views subscribe to `changed`; every change goes through this model.
import { Signal, type ISignal } from '@lumino/signaling';
import type { BridgeApi } from '../api';
import { inferDraft } from '../notebook/infer';
import { NotebookNotRunnableError, type ExperimentDraft } from '../notebook/types';
import type { LocalImage, ContainerSpec } from '../red';
import { applyStoredExperiment, mergeOutputs, readStoredExperiment } from './draft-metadata';
import { ExperimentModel } from './experiment-model';
import type { BuildState } from './image-build';
import { LaunchGuard } from './launch-guard';
import type { RedFileModel } from './red-file-model';
import { gpuLabel, runValues } from './run-history';

/** The notebook the panel works on: its path and its content (nbformat JSON). */
export interface NotebookSource {
  path: string;
  toJSON(): unknown;
}

export interface DraftDefaults {
  image: string;
  ramMb: number;
  gpus?: number;
  /** The defaultEngine setting (empty: the bridge's default engine). */
  engine?: string;
}

export interface Notice {
  kind: 'info' | 'warning' | 'error';
  title: string;
  lines?: string[];
}

export interface RunFacts {
  image?: string;
  gpus?: string;
  /** The values of its inputs (`samples=400 · seed=7`). */
  values?: string;
}

export interface ExperimentEdit {
  path: string;
  experiment: ExperimentModel;
}

export type CurrentNotebook =
  | { path: string; experiment: ExperimentModel }
  | { path: string; error: { message: string; fix?: string } }
  | null;

export class RedPanelModel {
  private _current: CurrentNotebook = null;
  private source: NotebookSource | null = null;
  private readonly experiments = new Map<string, ExperimentModel>();
  private _images: LocalImage[] = [];
  private _imagesError: string | undefined;
  private _build: BuildState | null = null;
  private _notice: Notice | null = null;
  private readonly facts = new Map<string, RunFacts>();
  private readonly loadingFacts = new Set<string>();
  private readonly _changed = new Signal<this, void>(this);
  private readonly _edited = new Signal<this, ExperimentEdit>(this);
  /** RED files opened by "Import RED…", by the path of the notebook whose panel shows them. */
  private readonly redFiles = new Map<string, RedFileModel>();
  /** One launch (run, re-run) at a time. */
  readonly launches = new LaunchGuard();

  constructor(
    private readonly api: BridgeApi,
    private readonly defaults: () => DraftDefaults
  ) {
    this.launches.changed.connect(() => this._changed.emit());
  }

  /** The user changed a notebook's experiment (to be kept in the notebook). */
  get edited(): ISignal<this, ExperimentEdit> {
    return this._edited;
  }

  /** The RED file the panel shows for the current notebook instead of its own experiment, if any. */
  get redFile(): RedFileModel | null {
    return (this._current && this.redFiles.get(this._current.path)) ?? null;
  }

  /** Shows `model` (an imported RED file) in the panel of the notebook at `notebookPath`. */
  openRedFile(notebookPath: string, model: RedFileModel): void {
    this.redFiles.set(notebookPath, model);
    model.changed.connect(() => {
      if (this.redFile === model) this._changed.emit();
    });
    this._changed.emit();
  }

  /** Back to the notebook's own experiment. */
  closeRedFile(notebookPath: string | undefined = this._current?.path): void {
    if (notebookPath !== undefined && this.redFiles.delete(notebookPath)) this._changed.emit();
  }

  get changed(): ISignal<this, void> {
    return this._changed;
  }

  get current(): CurrentNotebook {
    return this._current;
  }

  get experiment(): ExperimentModel | null {
    return this._current && 'experiment' in this._current ? this._current.experiment : null;
  }

  get images(): readonly LocalImage[] {
    return this._images;
  }

  get imagesError(): string | undefined {
    return this._imagesError;
  }

  get build(): BuildState | null {
    return this._build;
  }

  get notice(): Notice | null {
    return this._notice;
  }

  /** The notebook the user works on now (null: none open). */
  setNotebook(source: NotebookSource | null): void {
    this.source = source;
    if (!source) return this.setCurrent(null);
    let experiment = this.experiments.get(source.path);
    if (!experiment) {
      try {
        const { draft, warnings } = this.infer(source);
        experiment = this.adopt(source.path, new ExperimentModel(draft, warnings));
      } catch (err) {
        const e = err as Error;
        const fix = err instanceof NotebookNotRunnableError ? err.fix : undefined;
        return this.setCurrent({ path: source.path, error: { message: e.message, ...(fix ? { fix } : {}) } });
      }
    }
    this.setCurrent({ path: source.path, experiment });
  }

  /** The experiment of a notebook (inferred now when the panel has not seen it yet). Throws NotebookNotRunnableError. */
  experimentFor(source: NotebookSource): ExperimentModel {
    const known = this.experiments.get(source.path);
    if (known) return known;
    const { draft, warnings } = this.infer(source);
    return this.adopt(source.path, new ExperimentModel(draft, warnings));
  }

  /** The notebook's draft: inferred, with the choices of its last run or export (notebook metadata). */
  private infer(source: NotebookSource): { draft: ExperimentDraft; warnings: string[] } {
    const nb = source.toJSON();
    const result = inferDraft(nb, { notebookPath: source.path, defaults: this.defaults() });
    const stored = readStoredExperiment(nb);
    return stored ? { draft: applyStoredExperiment(result.draft, stored), warnings: result.warnings } : result;
  }

  /**
   * Reads the notebook's parameters cell again. Image, resources and inputs stay; values the
   * user changed stay where the parameter still has the same type; outputs as mergeOutputs
   * gives them (the user's choices, plus the files the code writes now).
   */
  reinfer(source: NotebookSource | null = this.source): void {
    if (!source) return;
    const old = this.experiments.get(source.path);
    let result: { draft: ExperimentDraft; warnings: string[] };
    try {
      result = inferDraft(source.toJSON(), { notebookPath: source.path, defaults: this.defaults() });
    } catch {
      // Not runnable any more (e.g. its kernel changed): the panel says why.
      this.experiments.delete(source.path);
      if (this._current?.path === source.path) this.setNotebook(source);
      return;
    }
    if (!old) {
      if (this._current?.path === source.path) this.setNotebook(source);
      return;
    }
    const before = old.draft;
    const values = { ...result.draft.values };
    for (const p of result.draft.parameters) {
      const was = before.parameters.find(x => x.name === p.name);
      if (was && was.type === p.type && p.name in before.values && JSON.stringify(before.values[p.name]) !== JSON.stringify(was.default)) values[p.name] = before.values[p.name];
    }
    old.replace({ ...result.draft, image: before.image, ramMb: before.ramMb, gpus: before.gpus, inputs: before.inputs, outputs: mergeOutputs(result.draft.outputs, before.outputs), runnerPath: before.runnerPath, values }, result.warnings);
  }

  /** A notebook was renamed: its experiment follows it. */
  rename(oldPath: string, newPath: string): void {
    const e = this.experiments.get(oldPath);
    if (!e) return;
    this.experiments.delete(oldPath);
    this.experiments.set(newPath, e);
    const redFile = this.redFiles.get(oldPath);
    if (redFile) {
      this.redFiles.delete(oldPath);
      this.redFiles.set(newPath, redFile);
    }
    e.setNotebookPath(newPath);
    if (this._current?.path === oldPath) this.setCurrent({ path: newPath, experiment: e });
  }

  /** The defaultEngine setting; undefined when empty (the bridge's default). */
  get defaultEngine(): string | undefined {
    return this.defaults().engine || undefined;
  }

  /** The local images of `engine` (absent: the bridge's default engine). */
  async refreshImages(engine?: string): Promise<void> {
    try {
      const images = await this.api.images(engine);
      this._images = images.filter(i => i.tags.length).sort((a, b) => a.tags[0].localeCompare(b.tags[0]));
      this._imagesError = undefined;
    } catch (err) {
      this._imagesError = (err as Error).message;
    }
    this._changed.emit();
  }

  setBuild(build: BuildState | null): void {
    this._build = build;
    this._changed.emit();
  }

  setNotice(notice: Notice | null): void {
    this._notice = notice;
    this._changed.emit();
  }

  /** What the history shows of a run beyond its summary (image, GPUs); read once per run. */
  runFacts(runId: string): RunFacts | undefined {
    return this.facts.get(runId);
  }

  /** Remembers what a run asked for, without asking the bridge (runs started here). */
  rememberRun(runId: string, facts: RunFacts): void {
    this.facts.set(runId, facts);
    this._changed.emit();
  }

  async loadRunFacts(runIds: readonly string[]): Promise<void> {
    const missing = runIds.filter(id => !this.facts.has(id) && !this.loadingFacts.has(id));
    if (!missing.length) return;
    missing.forEach(id => this.loadingFacts.add(id));
    await Promise.all(
      missing.map(async id => {
        try {
          const r = await this.api.get(id);
          const settings = (r.red as { container?: ContainerSpec } | undefined)?.container?.settings;
          // A run started here shows (from the runs stream) before its launch remembers what it
          // asked for: what it remembered meanwhile stays.
          if (!this.facts.has(id)) this.facts.set(id, { image: r.image?.url ?? settings?.image?.url, gpus: gpuLabel(settings?.gpus), values: runValues(r.red) });
        } catch {
          if (!this.facts.has(id)) this.facts.set(id, {});
        } finally {
          this.loadingFacts.delete(id);
        }
      })
    );
    this._changed.emit();
  }

  private adopt(path: string, experiment: ExperimentModel): ExperimentModel {
    this.experiments.set(path, experiment);
    experiment.changed.connect(() => {
      if (this.experiment === experiment) this._changed.emit();
    });
    experiment.edited.connect(() => {
      for (const [at, e] of this.experiments) if (e === experiment) this._edited.emit({ path: at, experiment });
    });
    return experiment;
  }

  private setCurrent(current: CurrentNotebook): void {
    this._current = current;
    this._changed.emit();
  }

  dispose(): void {
    Signal.clearData(this);
  }
}
