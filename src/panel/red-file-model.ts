// RedFileModel: a RED file opened in the panel ("Import RED…") as the experiment it is:
// its own command (grep, echo, any tool), inputs, outputs and container, not a notebook
// draft. What is sensible to change can be changed (the image, RAM, the values of plain
// inputs, local input paths); the rest is shown as the file has it. It runs and exports
// as it is. Pure: no DOM, no JupyterLab.
import { Signal, type ISignal } from '@lumino/signaling';
import { buildCommand, formatCommandLine, toSortedYaml, inputContainerPath, type CwlInput, type FileOrDirectory, type JobInputs, type JobPrimitive, type Red, type SingleRed, parseCwlType, validateRed, checkVariables, listVariables, type RedVariable, RAM_MAX_MB, RAM_MIN_MB, accessProblems, connectorSpec, withAccessValue, LOCAL_CONNECTOR_COMMAND, type ConnectorClass } from '../red';
import type { PanelIssue } from './experiment-model';
import { formatParamValue, inputField, outputField, parseIntField, parseParamText, type FieldKey } from './fields';

export type RedInputKind = 'value' | 'local-path' | 'connector' | 'fixed';

/** A File or Directory received or sent by a connector the connector table describes: its fields are shown. */
export interface RedConnectorValue {
  command: string;
  cls: ConnectorClass;
  access: Record<string, unknown>;
  /** An input with `mount: true` (mounted, not copied). */
  mount?: boolean;
}

export interface RedFileInput {
  key: string;
  /** The cli type, e.g. `int?`, `File`. */
  type: string;
  /** value: a plain value (text field); local-path: a local file or folder (its path); fixed: shown as it is. */
  kind: RedInputKind;
  /** What the field shows (the value, the path, or the JSON of the value). */
  text: string;
  /** The command-line binding, for the user (`-B`, `position 1`). */
  binding: string;
  /** kind `connector`: its command, class and access. */
  connector?: RedConnectorValue;
}

export interface RedFileOutput {
  key: string;
  type: string;
  /** The glob or the stdout/stderr file name. */
  what: string;
  /** Where the RED sends it (its `outputs.<key>`), when a connector the table describes does. */
  send?: RedConnectorValue;
}

const PLAIN = ['string', 'int', 'long', 'float', 'double', 'boolean'];

function bindingOf(def: CwlInput | undefined): string {
  const b = def?.inputBinding;
  if (!b) return '';
  if (typeof b.prefix === 'string') return b.prefix;
  return typeof b.position === 'number' ? `position ${b.position}` : '';
}

export class RedFileModel {
  private _red: Red;
  private readonly floatPaths: Set<string>;
  private readonly texts = new Map<FieldKey, string>();
  private readonly textErrors = new Map<FieldKey, string>();
  private readonly _changed = new Signal<this, void>(this);

  /** `path`: the RED file, relative to the Jupyter root. */
  constructor(
    readonly path: string,
    red: Red,
    floatPaths: ReadonlySet<string> = new Set(),
    readonly warnings: readonly string[] = []
  ) {
    this._red = JSON.parse(JSON.stringify(red));
    this.floatPaths = new Set(floatPaths);
  }

  get changed(): ISignal<this, void> {
    return this._changed;
  }

  get red(): Red {
    return this._red;
  }

  get isBatch(): boolean {
    return 'batches' in this._red;
  }

  private get single(): SingleRed | undefined {
    return this.isBatch ? undefined : (this._red as SingleRed);
  }

  text(field: FieldKey): string | undefined {
    return this.texts.get(field);
  }

  // -- container ---------------------------------------------------------

  get image(): string {
    return this._red.container?.settings?.image?.url ?? '';
  }

  setImage(url: string): void {
    const settings = this._red.container.settings;
    settings.image = { ...settings.image, url: url.trim() };
    this.commit();
  }

  /** The RAM limit (MB) the file asks for; undefined: none (the engine's default). */
  get ramMb(): number | undefined {
    const ram = this._red.container?.settings?.ram;
    return typeof ram === 'number' ? ram : undefined;
  }

  /** Empty text: no limit of its own (the key goes). */
  setRamText(text: string): void {
    const settings = this._red.container.settings;
    if (text.trim() === '') {
      delete settings.ram;
      this.setText('ramMb', text, undefined);
    } else {
      const r = parseIntField(text, 'RAM (MB)', RAM_MIN_MB, RAM_MAX_MB);
      if (r.ok) settings.ram = r.value;
      this.setText('ramMb', text, r.ok ? undefined : r.error);
    }
    this.commit();
  }

  // -- command, inputs, outputs ------------------------------------------

  get baseCommand(): string {
    const b = this._red.cli.baseCommand;
    return Array.isArray(b) ? b.join(' ') : (b ?? '');
  }

  /** The command line the container runs (as Curious Containers builds it), or why it cannot be built yet. */
  get commandLine(): string {
    const red = this.single;
    if (!red) return `${this.baseCommand} … (${(this._red as { batches: unknown[] }).batches.length} batches)`;
    try {
      return formatCommandLine(buildCommand(red.cli, red.inputs, { containerPathOf: inputContainerPath, floatPaths: this.floatPaths }));
    } catch (err) {
      return `${this.baseCommand} … (${(err as Error).message})`;
    }
  }

  get inputs(): RedFileInput[] {
    const values: JobInputs = this.single?.inputs ?? {};
    return Object.entries(this._red.cli.inputs ?? {}).map(([key, def]) => {
      const type = String(def?.type ?? '');
      const t = parseCwlType(type);
      const value = values[key];
      const binding = bindingOf(def);
      if (this.single && t && !t.array && PLAIN.includes(t.base)) {
        return { key, type, kind: 'value', binding, text: this.texts.get(inputField(key)) ?? formatParamValue(type, value as JobPrimitive | undefined) };
      }
      const fd = value as FileOrDirectory | undefined;
      if (this.single && fd && typeof fd === 'object' && !Array.isArray(fd) && typeof fd.connector?.access?.path === 'string') {
        return { key, type, kind: 'local-path', binding, text: String(fd.connector.access.path) };
      }
      const connector = this.single ? knownConnector(fd) : undefined;
      if (connector) return { key, type, kind: 'connector', binding, text: JSON.stringify(fd!.connector.access), connector };
      return { key, type, kind: 'fixed', binding, text: value === undefined ? (this.isBatch ? '(per batch)' : '(none)') : JSON.stringify(value) };
    });
  }

  setInputText(key: string, text: string): void {
    const red = this.single;
    const def = this._red.cli.inputs?.[key];
    if (!red || !def) return;
    const type = String(def.type);
    const r = parseParamText(type, text);
    const floatPath = `inputs.${key}`;
    if (r.ok) {
      if (r.value === undefined) delete red.inputs[key];
      else red.inputs[key] = r.value as JobPrimitive;
      const base = parseCwlType(type)?.base;
      if ((base === 'float' || base === 'double') && typeof r.value === 'number') this.floatPaths.add(floatPath);
      else this.floatPaths.delete(floatPath);
    }
    this.setText(inputField(key), text, r.ok ? undefined : r.error);
    this.commit();
  }

  setInputPath(key: string, path: string): void {
    const red = this.single;
    const value = red?.inputs[key] as FileOrDirectory | undefined;
    if (!red || !value?.connector?.access) return;
    red.inputs[key] = { ...value, connector: { ...value.connector, access: { ...value.connector.access, path } } };
    this.commit();
  }

  /** One access field (dotted path) of a connector input (`inputs.<key>`) or of where an output is sent (`outputs.<key>`). */
  setAccess(where: 'inputs' | 'outputs', key: string, path: string, value: unknown): void {
    const red = this.single;
    const target = red?.[where]?.[key] as FileOrDirectory | undefined;
    if (!red || !target?.connector) return;
    (red[where] as Record<string, unknown>)[key] = { ...target, connector: { ...target.connector, access: withAccessValue(target.connector.access ?? {}, path, value) } };
    this.commit();
  }

  get outputs(): RedFileOutput[] {
    return Object.entries(this._red.cli.outputs ?? {}).map(([key, def]) => {
      const type = String(def.type);
      const stream = type === 'stdout' || type === 'stderr' ? this._red.cli[type] : undefined;
      const glob = (def as { outputBinding?: { glob?: unknown } }).outputBinding?.glob;
      const send = knownConnector(this.single?.outputs?.[key] as FileOrDirectory | undefined);
      return { key, type, what: type === 'stdout' || type === 'stderr' ? `${type} → ${stream ?? '(a generated file name)'}` : String(glob ?? ''), ...(send ? { send } : {}) };
    });
  }

  // -- what follows ---------------------------------------------------------

  get yaml(): string {
    return toSortedYaml(this._red, { floatPaths: this.floatPaths });
  }

  get issues(): PanelIssue[] {
    const issues: PanelIssue[] = [];
    for (const [field, message] of this.textErrors) issues.push({ field, message, severity: 'error' });
    const seen = new Set(issues.map(i => i.field));
    // The connector table's checks (required fields, secrets as {{variables}}), at the field.
    for (const input of this.inputs) {
      const c = input.connector;
      if (c) for (const p of accessProblems(c.command, c.cls, 'receive', c.access, input.key, c.mount)) issues.push({ field: inputField(input.key), path: `inputs.${input.key}.connector.access.${p.path}`, message: p.message, ...(p.fix ? { fix: p.fix } : {}), severity: 'error' });
    }
    for (const output of this.outputs) {
      const c = output.send;
      if (c) for (const p of accessProblems(c.command, c.cls, 'send', c.access, output.key)) issues.push({ field: outputField(output.key), path: `outputs.${output.key}.connector.access.${p.path}`, message: p.message, ...(p.fix ? { fix: p.fix } : {}), severity: 'error' });
    }
    for (const i of [...validateRed(this._red, { floatPaths: this.floatPaths }), ...checkVariables(this._red)]) {
      const field = fieldOfPath(i.path);
      if (field && seen.has(field) && i.severity === 'error' && this.textErrors.has(field)) continue;
      issues.push({ ...(field ? { field } : {}), path: i.path, message: i.message, ...(i.fix ? { fix: i.fix } : {}), severity: i.severity });
    }
    return issues;
  }

  issuesFor(field: FieldKey): PanelIssue[] {
    return this.issues.filter(i => i.field === field);
  }

  get generalIssues(): PanelIssue[] {
    return this.issues.filter(i => !i.field);
  }

  get isValid(): boolean {
    return !this.issues.some(i => i.severity === 'error');
  }

  get variables(): RedVariable[] {
    return checkVariables(this._red).length ? [] : listVariables(this._red);
  }

  // -- internals -------------------------------------------------------------

  private setText(field: FieldKey, text: string, error: string | undefined): void {
    this.texts.set(field, text);
    if (error) this.textErrors.set(field, error);
    else this.textErrors.delete(field);
  }

  private commit(): void {
    this._changed.emit();
  }
}

/** The field of the RED file view an issue belongs to. */
export function fieldOfPath(path: string): FieldKey | undefined {
  if (path.startsWith('container.settings.image')) return 'image';
  if (path.startsWith('container.settings.ram')) return 'ramMb';
  const parts = path.split('.');
  if (parts[0] === 'inputs' && parts[1]) return inputField(parts[1]);
  if (parts[0] === 'cli' && parts[1] === 'inputs' && parts[2]) return inputField(parts[2]);
  if (parts[0] === 'outputs' && parts[1]) return outputField(parts[1]);
  return undefined;
}

/** A File or Directory value whose connector the connector table describes (not the local one: its path is a field of its own). */
function knownConnector(v: FileOrDirectory | undefined): RedConnectorValue | undefined {
  if (!v || typeof v !== 'object' || Array.isArray(v) || !v.connector || typeof v.connector.command !== 'string') return undefined;
  if (v.connector.command === LOCAL_CONNECTOR_COMMAND || !connectorSpec(v.connector.command)) return undefined;
  if (v.class !== 'File' && v.class !== 'Directory') return undefined;
  const access = v.connector.access && typeof v.connector.access === 'object' ? v.connector.access : {};
  return { command: v.connector.command, cls: v.class, access, ...(v.connector.mount === true ? { mount: true } : {}) };
}
