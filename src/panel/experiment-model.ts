// ExperimentModel: one notebook's experiment as the RED panel edits it. It owns the
// draft (ExperimentDraft), the text of fields being typed (so "abc" in an int field
// stays visible with its error while the draft keeps the last good value), and what
// follows from the draft: the RED (draftToRed), its YAML, its issues mapped to the
// fields that cause them, and its {{variables}}. Views subscribe to `changed`.
// Pure: no DOM, no JupyterLab.
import { Signal, type ISignal } from '@lumino/signaling';
import { checkDraft, draftToRed, draftToRedYaml, LOCAL_CONNECTOR, parameterKeys } from '../notebook/infer';
import { clusterSettingsOf, isClusterEngine } from '../notebook/draft-execution';
import type { ClusterEngine, DraftInput, DraftOutput, ExperimentDraft } from '../notebook/types';
import { clusterProblems, withClusterText, type ClusterFieldKey } from './cluster';
import {
  type SingleRed,
  RAM_MAX_MB,
  RAM_MIN_MB,
  validateRed,
  curiousContainersIssues,
  checkVariables,
  listVariables,
  type RedVariable,
  accessProblems,
  connectorFields,
  connectorSpec,
  CONNECTOR_SPECS,
  defaultAccess,
  accessValue,
  withAccessValue,
  secretVariableName,
  HTTP_CONNECTOR_COMMAND,
  type ConnectorClass,
  type ConnectorDirection
} from '../red';
import {
  clusterField,
  fieldForDraftProblem,
  fieldForIssuePath,
  inputField,
  outputField,
  paramField,
  parseIntField,
  parseParamText,
  uniqueName,
  type FieldKey
} from './fields';

export interface PanelIssue {
  /** The field it shows at; none: the experiment as a whole (listed under the YAML). */
  field?: FieldKey;
  /** Dotted RED path, when the issue comes from the RED. */
  path?: string;
  message: string;
  fix?: string;
  severity: 'error' | 'warning';
}

export type GpuMode = 'none' | 'count' | 'vram';

export { LOCAL_CONNECTOR };
export const HTTP_CONNECTOR = HTTP_CONNECTOR_COMMAND;

interface Derived {
  red?: SingleRed;
  yaml: string;
  issues: PanelIssue[];
  variables: RedVariable[];
}

export class ExperimentModel {
  private _draft: ExperimentDraft;
  private _warnings: string[];
  private readonly texts = new Map<FieldKey, string>();
  private readonly textErrors = new Map<FieldKey, string>();
  private derived: Derived | undefined;
  private readonly _changed = new Signal<this, void>(this);
  private readonly _edited = new Signal<this, void>(this);

  constructor(draft: ExperimentDraft, warnings: readonly string[] = []) {
    this._draft = draft;
    this._warnings = [...warnings];
  }

  get changed(): ISignal<this, void> {
    return this._changed;
  }

  /** The user changed the experiment (not: inferred again, imported, the notebook renamed). */
  get edited(): ISignal<this, void> {
    return this._edited;
  }

  get draft(): ExperimentDraft {
    return this._draft;
  }

  /** What inference or import noticed (shown above the form). */
  get warnings(): readonly string[] {
    return this._warnings;
  }

  /** Text typed into a field, when it differs from what the draft holds. */
  text(field: FieldKey): string | undefined {
    return this.texts.get(field);
  }

  /** A new draft (inferred again, imported): typed texts and their errors go. */
  replace(draft: ExperimentDraft, warnings: readonly string[] = []): void {
    this.texts.clear();
    this.textErrors.clear();
    this._warnings = [...warnings];
    this.commit(draft, false, false);
  }

  /** The notebook was renamed or moved. */
  setNotebookPath(notebookPath: string): void {
    if (notebookPath !== this._draft.notebookPath) this.commit({ ...this._draft, notebookPath }, false, false);
  }

  /** Where the runner is, relative to the notebook's folder (when its usual place cannot be written). */
  setRunnerPath(runnerPath: string): void {
    if (runnerPath !== this._draft.runnerPath) this.commit({ ...this._draft, runnerPath }, false, false);
  }

  // -- container ---------------------------------------------------------

  setImage(image: string): void {
    this.commit({ ...this._draft, image: image.trim() });
  }

  /** The bridge engine for this notebook's runs; undefined: the default. */
  setEngine(engine: string | undefined): void {
    if (engine === this._draft.engine) return;
    const { engine: old, ...rest } = this._draft;
    // docker, docker-ssh, process: this session's choice, not kept in the notebook (no metadata
    // edit). A cluster engine, to or from, changes the RED's `execution`: an edit of the experiment.
    const changesRed = isClusterEngine(old) || isClusterEngine(engine);
    this.commit(engine ? { ...rest, engine } : rest, false, changesRed);
  }

  /**
   * One field of a cluster engine's settings (Cluster section); empty text: left out (the cluster's
   * default). The engine becomes the draft's own (also where it was chosen only as the bridge's default):
   * settings for it make the RED one for it.
   */
  setClusterText(engine: ClusterEngine, key: ClusterFieldKey, text: string): void {
    this.commit({ ...this._draft, engine, cluster: withClusterText(this._draft, engine, key, text) });
  }

  setRamText(text: string): void {
    const r = parseIntField(text, 'RAM (MB)', RAM_MIN_MB, RAM_MAX_MB);
    this.commitText('ramMb', text, r.ok ? undefined : r.error, r.ok ? { ...this._draft, ramMb: r.value } : this._draft);
  }

  get gpuMode(): GpuMode {
    const g = this._draft.gpus;
    if (!g) return 'none';
    return g.vramMinMb !== undefined ? 'vram' : 'count';
  }

  setGpuMode(mode: GpuMode): void {
    this.texts.delete('gpus');
    this.textErrors.delete('gpus');
    const gpus = mode === 'none' ? undefined : mode === 'count' ? { count: this._draft.gpus?.count ?? 1 } : { vramMinMb: this._draft.gpus?.vramMinMb ?? 4096 };
    this.commit({ ...this._draft, gpus });
  }

  setGpuCountText(text: string): void {
    const r = parseIntField(text, 'GPU count', 1, 64);
    this.commitText('gpus', text, r.ok ? undefined : r.error, r.ok ? { ...this._draft, gpus: { count: r.value } } : this._draft);
  }

  setVramText(text: string): void {
    const r = parseIntField(text, 'GPU memory (MB)', 1);
    this.commitText('gpus', text, r.ok ? undefined : r.error, r.ok ? { ...this._draft, gpus: { vramMinMb: r.value } } : this._draft);
  }

  // -- parameters --------------------------------------------------------

  setParamText(name: string, text: string): void {
    const p = this._draft.parameters.find(x => x.name === name);
    if (!p) return;
    const r = parseParamText(p.type, text);
    let draft = this._draft;
    if (r.ok) {
      const values = { ...draft.values };
      if (r.value === undefined) values[name] = null; // an emptied optional field: None, not the notebook's default
      else values[name] = r.value;
      draft = { ...draft, values };
    }
    this.commitText(paramField(name), text, r.ok ? undefined : r.error, draft);
  }

  setParamValue(name: string, value: ExperimentDraft['values'][string]): void {
    if (!this._draft.parameters.some(x => x.name === name)) return;
    this.texts.delete(paramField(name));
    this.textErrors.delete(paramField(name));
    this.commit({ ...this._draft, values: { ...this._draft.values, [name]: value } });
  }

  /** Every parameter back to the value its notebook cell gives. */
  resetParameters(): void {
    for (const p of this._draft.parameters) {
      this.texts.delete(paramField(p.name));
      this.textErrors.delete(paramField(p.name));
    }
    this.commit({ ...this._draft, values: Object.fromEntries(this._draft.parameters.map(p => [p.name, p.default])) });
  }

  // -- inputs and outputs ------------------------------------------------

  addInput(connector: string = LOCAL_CONNECTOR): void {
    const name = uniqueName('data', this.takenNames());
    const input: DraftInput = { name, kind: 'File', connector, access: defaultAccess(connector, 'File', 'receive', name) };
    this.commit({ ...this._draft, inputs: [...this._draft.inputs, input] });
  }

  updateInput(index: number, patch: Partial<DraftInput>): void {
    const inputs = this._draft.inputs.slice();
    const was = inputs[index];
    if (!was) return;
    inputs[index] = { ...was, ...patch };
    // File <-> Folder: the fields of the other class (SFTP filePath / dirPath) follow.
    if (patch.kind && patch.kind !== was.kind && !patch.access) inputs[index].access = accessForClass(was.connector, patch.kind, 'receive', was.name, was.access);
    // Only a folder of a mountable connector is mounted: another class or connector copies.
    const now = inputs[index];
    if (now.mount && !(now.kind === 'Directory' && connectorSpec(now.connector)?.mountable)) inputs[index] = withoutMount(now);
    this.commit({ ...this._draft, inputs });
  }

  /** A connector change starts its access over: its defaults, its secrets as {{variables}} named after the input. */
  setInputConnector(index: number, connector: string): void {
    const input = this._draft.inputs[index];
    if (!input) return;
    this.updateInput(index, { connector, access: defaultAccess(connector, input.kind, 'receive', input.name) });
  }

  /** Mount the folder (FUSE on the bridge's machine) instead of copying it; unticked, its mount's fields (writable) go too. */
  setInputMount(index: number, on: boolean): void {
    const input = this._draft.inputs[index];
    if (!input) return;
    this.updateInput(index, on ? { mount: true } : { mount: undefined, access: withoutMount(input).access });
  }

  setInputAccess(index: number, key: string, value: unknown): void {
    const input = this._draft.inputs[index];
    if (!input) return;
    this.updateInput(index, { access: withAccessValue(input.access, key, value) });
  }

  /** HTTP login as {{variables}} named after the input; their values are asked at launch. */
  setInputAuth(index: number, on: boolean): void {
    const input = this._draft.inputs[index];
    if (!input) return;
    const v = input.name.replace(/[^A-Za-z0-9_]/g, '_');
    this.setInputAccess(index, 'auth', on ? { username: `{{${v}_username}}`, password: `{{${v}_password}}` } : undefined);
  }

  removeInput(index: number): void {
    this.commit({ ...this._draft, inputs: this._draft.inputs.filter((_, i) => i !== index) });
  }

  addOutput(): void {
    const name = uniqueName('result', this.takenNames());
    const output: DraftOutput = { name, glob: '', kind: 'File', optional: false };
    this.commit({ ...this._draft, outputs: [...this._draft.outputs, output] });
  }

  updateOutput(index: number, patch: Partial<DraftOutput>): void {
    const outputs = this._draft.outputs.slice();
    const was = outputs[index];
    if (!was) return;
    outputs[index] = { ...was, ...patch };
    // Another glob is the user's own output: kept when the code stops writing the inferred file.
    if (patch.glob !== undefined && patch.glob !== was.glob) delete outputs[index].inferred;
    this.commit({ ...this._draft, outputs });
  }

  /**
   * Where the output is sent besides the run folder (a connector that can send), or only the run
   * folder (undefined). Its access starts with the connector's defaults, secrets as {{variables}}.
   */
  setOutputConnector(index: number, connector: string | undefined): void {
    const o = this._draft.outputs[index];
    if (!o) return;
    if (!connector) {
      const { send: _gone, ...rest } = o;
      const outputs = this._draft.outputs.slice();
      outputs[index] = rest;
      return this.commit({ ...this._draft, outputs });
    }
    this.updateOutput(index, { send: { connector, access: defaultAccess(connector, o.kind, 'send', o.name) } });
  }

  /** One access field (dotted path, e.g. `auth.username`) of where the output is sent. */
  setOutputAccess(index: number, path: string, value: unknown): void {
    const o = this._draft.outputs[index];
    if (!o?.send) return;
    this.updateOutput(index, { send: { ...o.send, access: withAccessValue(o.send.access, path, value) } });
  }

  /** File or Folder; where it is sent keeps its fields that fit the new class. */
  setOutputKind(index: number, kind: DraftOutput['kind']): void {
    const o = this._draft.outputs[index];
    if (!o || o.kind === kind) return;
    this.updateOutput(index, { kind, ...(o.send ? { send: { ...o.send, access: accessForClass(o.send.connector, kind, 'send', o.name, o.send.access) } } : {}) });
  }

  /** Unticked: not collected, and kept out of the new-files folder too. */
  setOutputEnabled(index: number, enabled: boolean): void {
    this.updateOutput(index, { enabled });
  }

  removeOutput(index: number): void {
    this.commit({ ...this._draft, outputs: this._draft.outputs.filter((_, i) => i !== index) });
  }

  // -- what follows from the draft ----------------------------------------

  /** The RED of the draft; undefined when the draft cannot become one (see issues). */
  get red(): SingleRed | undefined {
    return this.derive().red;
  }

  /** The RED as `faice convert format` writes it. */
  get yaml(): string {
    return this.derive().yaml;
  }

  get issues(): readonly PanelIssue[] {
    return this.derive().issues;
  }

  issuesFor(field: FieldKey): PanelIssue[] {
    return this.derive().issues.filter(i => i.field === field);
  }

  /** Issues that belong to no field. */
  get generalIssues(): PanelIssue[] {
    return this.derive().issues.filter(i => !i.field);
  }

  get errorCount(): number {
    return this.derive().issues.filter(i => i.severity === 'error').length;
  }

  /** Ready to export and run: a RED without errors. */
  get isValid(): boolean {
    return this.red !== undefined && this.errorCount === 0;
  }

  /** The {{variables}} the RED uses: asked for at launch, never stored. */
  get variables(): readonly RedVariable[] {
    return this.derive().variables;
  }

  // -- internals ---------------------------------------------------------

  private takenNames(): string[] {
    return [...this._draft.parameters.map(p => p.name), ...this._draft.inputs.map(i => i.name), ...this._draft.outputs.map(o => o.name)];
  }

  private commitText(field: FieldKey, text: string, error: string | undefined, draft: ExperimentDraft): void {
    this.texts.set(field, text);
    if (error) this.textErrors.set(field, error);
    else this.textErrors.delete(field);
    this.commit(draft, true);
  }

  private commit(draft: ExperimentDraft, force = false, edit = true): void {
    if (draft === this._draft && !force) return;
    const changedDraft = draft !== this._draft;
    this._draft = draft;
    this.derived = undefined;
    this._changed.emit();
    if (edit && changedDraft) this._edited.emit();
  }

  private derive(): Derived {
    if (this.derived) return this.derived;
    const draft = this._draft;
    const issues: PanelIssue[] = [];
    for (const [field, message] of this.textErrors) issues.push({ field, message, severity: 'error' });
    issues.push(...draftChecks(draft));
    for (const problem of checkDraft(draft)) {
      const field = fieldForDraftProblem(problem);
      // A value typed wrong is already told at its field, in the field's words.
      if (field && this.textErrors.has(field)) continue;
      issues.push({ ...(field ? { field } : {}), message: problem, severity: 'error' });
    }
    let red: SingleRed | undefined;
    let yaml = '';
    let variables: RedVariable[] = [];
    try {
      red = draftToRed(draft);
      yaml = draftToRedYaml(draft);
    } catch (err) {
      issues.push({ message: `the experiment cannot be written as a RED: ${(err as Error).message}`, severity: 'error' });
    }
    if (red) {
      const seen = new Set(issues.map(i => `${i.field}|${i.message}`));
      const keys = parameterKeys(draft);
      // A cluster engine's RED is a RED Lab extension: said at the engine (a warning), as an export for Curious Containers would.
      for (const issue of [...validateRed(red), ...curiousContainersIssues(red)]) {
        const field = fieldForIssuePath(issue.path, draft, keys);
        const key = `${field}|${issue.message}`;
        if (seen.has(key)) continue;
        seen.add(key);
        issues.push({ ...(field ? { field } : {}), path: issue.path, message: issue.message, ...(issue.fix ? { fix: issue.fix } : {}), severity: issue.severity });
      }
      variables = checkVariables(red).length ? [] : listVariables(red);
    }
    this.derived = { red, yaml, issues, variables };
    return this.derived;
  }
}

/** `SFTP (SSH) or HTTP URL`: the connectors whose folders can be mounted. */
const mountableLabels = (): string =>
  CONNECTOR_SPECS.filter(s => s.mountable)
    .map(s => s.label)
    .join(' or ');

/** What the panel checks besides checkDraft (names, values) and validateRed: fields left empty, credentials, the cluster's time limit. */
export function draftChecks(d: ExperimentDraft): PanelIssue[] {
  const issues: PanelIssue[] = [];
  const err = (field: FieldKey, message: string, fix?: string) => issues.push({ field, message, ...(fix ? { fix } : {}), severity: 'error' });
  if (!d.image.trim()) err('image', 'an image is needed (it must contain python3)', 'pick a local image, type one, or build one from requirements.txt');
  d.inputs.forEach(input => {
    const f = inputField(input.name);
    for (const p of connectorChecks(input.connector, input.kind, 'receive', input.access, input.name, input.mount === true)) err(f, p.message, p.fix);
    if (input.mount === true && !(input.kind === 'Directory' && connectorSpec(input.connector)?.mountable)) {
      err(f, `only a folder from ${mountableLabels()} can be mounted`, 'untick "mount" to copy it instead');
    }
  });
  d.outputs.forEach(o => {
    const f = outputField(o.name);
    if (!o.glob.trim()) err(f, 'a file name or glob pattern is needed (e.g. results.csv, *.png)');
    if (o.send && o.enabled !== false) for (const p of connectorChecks(o.send.connector, o.kind, 'send', o.send.access, o.name)) err(f, p.message, p.fix);
  });
  if (isClusterEngine(d.engine)) for (const p of clusterProblems(clusterSettingsOf(d, d.engine))) err(clusterField(p.key), p.message, p.fix);
  return issues;
}

/** The table's checks of a connector's access (connector-fields), and whether it handles the class that way. */
function connectorChecks(command: string, cls: ConnectorClass, direction: ConnectorDirection, access: Record<string, unknown>, owner: string, mounted = false): { message: string; fix?: string }[] {
  const problems: { message: string; fix?: string }[] = accessProblems(command, cls, direction, access, owner, mounted);
  const spec = connectorSpec(command);
  if (spec && !(direction === 'receive' ? spec.receives : spec.sends).includes(cls)) {
    problems.push({ message: `${spec.label} cannot ${direction} a ${cls === 'Directory' ? 'folder' : 'file'}`, fix: 'choose another connector' });
  }
  return problems;
}

/** `input` copied, not mounted: without `mount` and the mount's fields (writable). */
function withoutMount(input: DraftInput): DraftInput {
  const { mount: _mount, ...rest } = input;
  let access = input.access;
  for (const f of connectorSpec(input.connector)?.fields.filter(x => x.mountedOnly) ?? []) access = withAccessValue(access, f.path, undefined);
  return { ...rest, access };
}

/** `access` for another class: the connector's fields for it, with the values `access` has for them (secrets as {{variables}}). */
function accessForClass(command: string, cls: ConnectorClass, direction: ConnectorDirection, owner: string, access: Record<string, unknown>): Record<string, unknown> {
  if (!connectorSpec(command)) return access;
  let out = defaultAccess(command, cls, direction, owner);
  for (const f of connectorFields(command, cls, direction)) {
    const v = accessValue(access, f.path);
    if (v !== undefined) out = withAccessValue(out, f.path, v);
  }
  return out;
}

/** The {{variable}} the panel writes for a secret field of an input or output. */
export function secretReference(owner: string, path: string): string {
  return `{{${secretVariableName(owner, path)}}}`;
}

/** Where the notebook's code writes an inferred output: `code cell 3, line 12: df.to_csv('results.csv')`. */
export function outputOrigin(o: DraftOutput): string | undefined {
  return o.inferred ? `code cell ${o.inferred.codeCell}, line ${o.inferred.line}: ${o.inferred.code}` : undefined;
}
