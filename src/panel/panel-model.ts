// RedPanelModel: what the RED panel shows besides the bridge (RedLabModel): the
// active notebook and its ExperimentModel (one per notebook, kept while the session
// lasts), the bridge's local images, an image build in progress, a notice (import
// warnings, export done, errors), and facts about past runs for the history list.
// Views subscribe to `changed`; every change goes through this model.
import { Signal, type ISignal } from '@lumino/signaling';
import type { BridgeApi } from '../api';
import { BridgeError } from '../handler';
import { inferDraft } from '../notebook/infer';
import { NotebookNotRunnableError, type ExperimentDraft } from '../notebook/types';
import type { LocalImage, ContainerSpec, DriftReport } from '../red';
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

/** The drift report of a re-run against the run it reproduces, as the history shows it. */
export type DriftState = { status: 'loading'; against: string } | { status: 'ready'; against: string; reports: BatchDrift[] } | { status: 'error'; against: string; message: string };

/** The report of one batch (`batch` absent: the run's only one). */
export interface BatchDrift {
  batch?: number;
  report: DriftReport;
}

/** Batches of a batch run compared at most (one request each). */
export const MAX_DRIFT_BATCHES = 50;

/** "Export record…" of a run: going, or why it failed (`withoutInputs`: it can be exported without its input files). */
export type RecordExportState = { status: 'exporting' } | { status: 'error'; message: string; withoutInputs: boolean };

/** The run's record as a zip, for the browser to save. */
export interface RecordZip {
  blob: Blob;
  fileName: string;
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
  private readonly drifts = new Map<string, DriftState>();
  private readonly exports = new Map<string, RecordExportState>();
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
   * Reads the notebook's parameters cell again. Image, resources, the engine and its cluster settings, and inputs stay; values the
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
    const where = { ...(before.engine ? { engine: before.engine } : {}), ...(before.cluster ? { cluster: before.cluster } : {}) };
    old.replace({ ...result.draft, image: before.image, ramMb: before.ramMb, gpus: before.gpus, inputs: before.inputs, outputs: mergeOutputs(result.draft.outputs, before.outputs), runnerPath: before.runnerPath, values, ...where }, result.warnings);
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

  /** The drift report of the re-run `runId` (loaded by loadDrift), if asked for. */
  drift(runId: string): DriftState | undefined {
    return this.drifts.get(runId);
  }

  /**
   * Asks the bridge how the finished re-run `runId` differs from the run `against` it
   * reproduces (batch by batch for a run of several: `batches`, its batchCount); once per
   * re-run (a report of two finished runs does not change), again only with `retry` after an error.
   */
  async loadDrift(runId: string, against: string, opts: { batches?: number; retry?: boolean } = {}): Promise<void> {
    const known = this.drifts.get(runId);
    if (known && known.against === against && !(opts.retry && known.status === 'error')) return;
    this.drifts.set(runId, { status: 'loading', against });
    this._changed.emit();
    try {
      const batches = opts.batches ?? 1;
      const reports: BatchDrift[] = [];
      if (batches <= 1) reports.push({ report: await this.api.runDrift(runId, against) });
      // One after the other: each reads two crates' outputs on the bridge.
      for (let batch = 0; batches > 1 && batch < Math.min(batches, MAX_DRIFT_BATCHES); batch++) reports.push({ batch, report: await this.api.runDrift(runId, against, { batch }) });
      this.drifts.set(runId, { status: 'ready', against, reports });
    } catch (err) {
      this.drifts.set(runId, { status: 'error', against, message: driftErrorMessage(err, against) });
    }
    this._changed.emit();
  }

  /** "Export record…" of `runId`, while it goes or when it failed. */
  recordExport(runId: string): RecordExportState | undefined {
    return this.exports.get(runId);
  }

  /**
   * The finished run's record (its crate with outputs, small inputs unless `withoutInputs`,
   * CITATION.cff and codemeta.json stubs) as a zip; undefined when the bridge refuses, with
   * the reason in recordExport(runId).
   */
  async exportRecord(runId: string, withoutInputs = false): Promise<RecordZip | undefined> {
    if (this.exports.get(runId)?.status === 'exporting') return undefined;
    this.exports.set(runId, { status: 'exporting' });
    this._changed.emit();
    try {
      const zip = await this.api.crateZip(runId, withoutInputs ? { maxInputMb: 0 } : {});
      this.exports.delete(runId);
      return zip;
    } catch (err) {
      this.exports.set(runId, exportError(err, withoutInputs));
      return undefined;
    } finally {
      this._changed.emit();
    }
  }

  /** Forgets a failed export's message (the user closed it). */
  clearRecordExport(runId: string): void {
    if (this.exports.delete(runId)) this._changed.emit();
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

/** Why the drift report could not be had, in words for the history. */
function driftErrorMessage(err: unknown, against: string): string {
  const message = (err as Error).message;
  if (err instanceof BridgeError && err.status === 404 && message.startsWith(`no run ${against}`)) return `The original run ${against} is gone (deleted), so there is nothing to compare with.`;
  if (err instanceof BridgeError && err.status === 0) return `No drift report: ${message}.`;
  return `No drift report: ${message}`;
}

/** Why "Export record…" failed, and whether leaving the input files out helps (409: an input changed since the run). */
function exportError(err: unknown, withoutInputs: boolean): RecordExportState {
  const message = (err as Error).message;
  // The bridge's refusal of an input names how to leave inputs out (?maxInputMb=0): here a button does that.
  if (err instanceof BridgeError && err.status === 409 && !withoutInputs && message.includes('leave inputs out')) {
    return { status: 'error', message: `The record cannot include the input files: ${message.replace(/; restore it as it was, or leave inputs out.*$/, '')}. Export it without them, or put the input back as it was.`, withoutInputs: true };
  }
  if (err instanceof BridgeError && err.status === 404) return { status: 'error', message: `There is no record to export: ${message}`, withoutInputs: false };
  return { status: 'error', message: `The record could not be exported: ${message}`, withoutInputs: false };
}
