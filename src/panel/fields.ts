// The panel's fields, as pure functions: how a field is named (so an issue of the
// RED, `inputs.alpha`, finds the field `param:alpha`), how a parameter's text becomes
// a typed value (and says why not), and how a value is shown again. Pure.
import { splitCwlType, pyFloatRepr, type JobPrimitive } from '../red';
import type { ExperimentDraft } from '../notebook/types';
import { isClusterEngine } from '../notebook/draft-execution';
import { CLUSTER_FIELDS } from './cluster';

/** `image`, `ramMb`, `gpus`, `engine`, `cluster:<settings key>`, `param:<name>`, `input:<name>`, `output:<name>`. */
export type FieldKey = string;

export const paramField = (name: string): FieldKey => `param:${name}`;
export const inputField = (name: string): FieldKey => `input:${name}`;
export const outputField = (name: string): FieldKey => `output:${name}`;
/** A field of the Cluster section (`cluster:timeLimit`): its key in `execution.settings`. */
export const clusterField = (key: string): FieldKey => `cluster:${key}`;

export type ParamValue = JobPrimitive | JobPrimitive[] | null; // null: None (optional parameters)
export type ParseResult = { ok: true; value: ParamValue | undefined } | { ok: false; error: string };


const INT = /^[+-]?\d+$/;
const TYPE_WORDS: Record<string, string> = {
  int: 'a whole number (int), e.g. 3',
  long: 'a whole number (int), e.g. 3',
  float: 'a number (float), e.g. 0.5',
  double: 'a number (float), e.g. 0.5',
  boolean: 'true or false',
  string: 'text'
};

function parseOne(base: string, text: string): { ok: true; value: JobPrimitive } | { ok: false; error: string } {
  const t = text.trim();
  switch (base) {
    case 'int':
    case 'long':
      if (!INT.test(t)) return { ok: false, error: `"${text}" is not ${TYPE_WORDS.int}` };
      if (!Number.isSafeInteger(Number(t))) return { ok: false, error: `${t} is too large for an int` };
      return { ok: true, value: Number(t) };
    case 'float':
    case 'double': {
      const n = t === '' ? NaN : Number(t);
      if (!Number.isFinite(n)) return { ok: false, error: `"${text}" is not ${TYPE_WORDS.float}` };
      return { ok: true, value: n };
    }
    case 'boolean': {
      const l = t.toLowerCase();
      if (l === 'true') return { ok: true, value: true };
      if (l === 'false') return { ok: true, value: false };
      return { ok: false, error: `"${text}" is not ${TYPE_WORDS.boolean}` };
    }
    default:
      return { ok: true, value: text };
  }
}

/**
 * A parameter value from the text of its field. Lists are comma separated (`1, 2, 3`).
 * Empty text: no value for an optional parameter, an empty list, an empty string; an error otherwise.
 */
export function parseParamText(type: string, text: string): ParseResult {
  const { base, array: list, optional } = splitCwlType(type);
  if (text.trim() === '' && optional) return { ok: true, value: undefined };
  if (list) {
    if (text.trim() === '') return { ok: true, value: [] };
    const items = text.split(',');
    const values: JobPrimitive[] = [];
    for (let i = 0; i < items.length; i++) {
      const r = parseOne(base, items[i].trim());
      if (!r.ok) return { ok: false, error: `item ${i + 1}: ${r.error} (separate the items with commas)` };
      values.push(r.value);
    }
    return { ok: true, value: values };
  }
  if (text.trim() === '' && base !== 'string') return { ok: false, error: `a value is needed: ${TYPE_WORDS[base] ?? base}` };
  return parseOne(base, text);
}

/** The text a field shows for a value. */
export function formatParamValue(type: string, value: ParamValue | undefined): string {
  if (value === undefined || value === null) return '';
  const { base } = splitCwlType(type);
  const one = (v: JobPrimitive) => (typeof v === 'number' && (base === 'float' || base === 'double') ? pyFloatRepr(v) : String(v));
  return Array.isArray(value) ? value.map(one).join(', ') : one(value);
}

/** A whole number within bounds, from a field's text. */
export function parseIntField(text: string, what: string, min: number, max = Number.MAX_SAFE_INTEGER): { ok: true; value: number } | { ok: false; error: string } {
  const t = text.trim();
  if (!INT.test(t)) return { ok: false, error: `${what} must be a whole number` };
  const n = Number(t);
  if (n < min) return { ok: false, error: `${what} must be at least ${min}` };
  if (n > max) return { ok: false, error: `${what} must be at most ${max}` };
  return { ok: true, value: n };
}

/**
 * The field a RED issue belongs to (its dotted path), or undefined for the document as a whole.
 * `paramKeys` maps a parameter's name to its RED input key when they differ (`param_runner`).
 */
export function fieldForIssuePath(path: string, draft: ExperimentDraft, paramKeys?: ReadonlyMap<string, string>): FieldKey | undefined {
  const parts = path.split('.');
  if (path === 'container.settings.image' || path.startsWith('container.settings.image.')) return 'image';
  if (path.startsWith('container.settings.ram')) return 'ramMb';
  if (path.startsWith('container.settings.gpus')) return 'gpus';
  if (parts[0] === 'execution' && parts[1] === 'settings' && isClusterEngine(draft.engine) && CLUSTER_FIELDS[draft.engine].some(f => f.key === parts[2])) return clusterField(parts[2]);
  if (path === 'container.engine' || path.startsWith('execution')) return 'engine';
  const name = parts[0] === 'inputs' ? parts[1] : parts[0] === 'cli' && parts[1] === 'inputs' ? parts[2] : undefined;
  if (name !== undefined) {
    const param = draft.parameters.find(p => (paramKeys?.get(p.name) ?? p.name) === name);
    if (param) return paramField(param.name);
    if (draft.inputs.some(i => i.name === name)) return inputField(name);
    return undefined;
  }
  const out = parts[0] === 'outputs' ? parts[1] : parts[0] === 'cli' && parts[1] === 'outputs' ? parts[2] : undefined;
  if (out !== undefined && draft.outputs.some(o => o.name === out)) return outputField(out);
  return undefined;
}

/** Whether a string is one `{{variable}}` reference (how credentials are written). */
export function isVariableRef(s: unknown): boolean {
  return typeof s === 'string' && /^\{\{[^{}]+\}\}$/.test(s.trim());
}

/** The field a problem of checkDraft names (`parameter "seed": …`, `input "data" …`, `output "plot" …`). */
export function fieldForDraftProblem(problem: string): FieldKey | undefined {
  const m = /^(parameter|input|output) "([^"]+)"/.exec(problem);
  if (!m) return undefined;
  return m[1] === 'parameter' ? paramField(m[2]) : m[1] === 'input' ? inputField(m[2]) : outputField(m[2]);
}

/** `base`, `base_2`, `base_3` … the first not in `taken`. */
export function uniqueName(base: string, taken: readonly string[]): string {
  if (!taken.includes(base)) return base;
  for (let i = 2; ; i++) if (!taken.includes(`${base}_${i}`)) return `${base}_${i}`;
}
