// Validate a RED 9 document: the JSON Schema (schema/red.schema.json, with ajv) for
// the shape, then the rules that relate several places of the document (job values
// against cli.inputs types, output keys, globs and their $(inputs.…) expressions,
// {{variables}} placement). Every issue is reported at once, with a dotted path,
// its line when known, and a suggested fix.
//
// Pure TypeScript: no DOM, no Node APIs.

import type { ErrorObject } from 'ajv';
import * as generatedValidators from './generated/red-validators';
import { checkImageReference } from './image-ref';
import { GPU_COUNT_MAX, RAM_RANGE_FIX, VRAM_MAX_MB, VRAM_MIN_MB } from './limits';
import { joinPath, parseRedText } from './parse';
import { upgradeLegacy } from './upgrade';
import { formatIssues, LoadedRed, Red, RedError, RedIssue } from './types';

export interface ValidateOptions {
  /** Line of a dotted path in the source text (from `parseRedText`). */
  lineOf?: (path: string) => number | undefined;
  /** Paths of integral numbers written as floats (`1.0`): they are not valid `int` values. */
  floatPaths?: ReadonlySet<string>;
}

type Obj = Record<string, unknown>;

const KEY_PATTERN = /^[a-zA-Z0-9_-]+$/;
const PRIMITIVES = ['File', 'Directory', 'string', 'int', 'long', 'float', 'double', 'boolean'] as const;
type Primitive = (typeof PRIMITIVES)[number];
const ALL_INPUT_TYPES = PRIMITIVES.flatMap(p => [p, `${p}[]`, `${p}?`, `${p}[]?`]);
const FILE_ATTRIBUTES = ['basename', 'nameroot', 'nameext', 'path', 'dirname'];
const DIRECTORY_ATTRIBUTES = ['basename', 'path'];
const VARIABLE_SCOPES = new Set(['access', 'auth']);

// ---------------------------------------------------------------------------
// ajv validators, precompiled from schema/red.schema.json at build time
// (schema/generate-validators.js): no schema compilation at start-up, and no
// `new Function` in the browser.

const validators = { single: generatedValidators.single, batch: generatedValidators.batch };

// ---------------------------------------------------------------------------
// public API

/** All issues of a RED 9 document (errors and warnings), empty when it is valid. */
export function validateRed(doc: unknown, opts: ValidateOptions = {}): RedIssue[] {
  const ctx = new Ctx(opts);
  if (!isObj(doc)) {
    ctx.error('', `the document must be a mapping (key: value pairs), found ${describeValue(doc)}`, 'start with redVersion: "9", cli:, inputs:, container:');
    return ctx.issues;
  }
  const isBatch = 'batches' in doc;
  const validate = isBatch ? validators.batch : validators.single;
  if (!validate(doc)) schemaIssues(validate.errors ?? [], doc, isBatch, ctx);
  semanticChecks(doc, isBatch, ctx);
  return ctx.sorted();
}

/**
 * Parse, upgrade (RED 7/8) and validate RED text. Throws `RedError` carrying every
 * error (and the warnings); returns the document with its warnings when valid.
 */
export function loadRed(text: string, opts: { source?: string } = {}): LoadedRed {
  const parsed = parseRedText(text, opts);
  const data = parsed.data as Obj;
  const up = upgradeLegacy(data);
  const lineNear = (p: string) => nearestLine(parsed.lineOf, p);
  const withLine = (i: RedIssue): RedIssue => (i.line === undefined && lineNear(i.path) !== undefined ? { ...i, line: lineNear(i.path) } : i);

  const upgradeErrors = up.errors.map(withLine);
  let issues = validateRed(up.doc, { lineOf: parsed.lineOf, floatPaths: parsed.floatPaths });
  // An unsupported version is already reported by the upgrade step.
  if (upgradeErrors.length) issues = issues.filter(i => i.path !== 'redVersion');
  const all = [...upgradeErrors, ...up.warnings.map(withLine), ...issues];
  const errors = all.filter(i => i.severity === 'error');
  if (errors.length) {
    const ordered = [...errors, ...all.filter(i => i.severity !== 'error')];
    throw new RedError(ordered, formatIssues(ordered, opts.source));
  }
  return {
    red: up.doc as unknown as Red,
    format: parsed.format,
    floatPaths: parsed.floatPaths,
    lineOf: parsed.lineOf,
    warnings: all.filter(i => i.severity === 'warning')
  };
}

// ---------------------------------------------------------------------------
// issue collection

class Ctx {
  readonly issues: RedIssue[] = [];
  private readonly seen = new Set<string>();
  constructor(readonly opts: ValidateOptions) {}

  line(path: string): number | undefined {
    return this.opts.lineOf ? nearestLine(this.opts.lineOf, path) : undefined;
  }
  isFloatLiteral(path: string): boolean {
    return this.opts.floatPaths?.has(path) ?? false;
  }
  add(severity: RedIssue['severity'], path: string, message: string, fix?: string): void {
    const key = `${severity}|${path}|${message}`;
    if (this.seen.has(key)) return;
    this.seen.add(key);
    const issue: RedIssue = { path, message, severity };
    const line = this.line(path);
    if (line !== undefined) issue.line = line;
    if (fix) issue.fix = fix;
    this.issues.push(issue);
  }
  error(path: string, message: string, fix?: string): void {
    this.add('error', path, message, fix);
  }
  warn(path: string, message: string, fix?: string): void {
    this.add('warning', path, message, fix);
  }
  sorted(): RedIssue[] {
    // By line (unknown lines last), stable otherwise.
    return this.issues
      .map((issue, i) => ({ issue, i }))
      .sort((a, b) => (a.issue.line ?? Infinity) - (b.issue.line ?? Infinity) || a.i - b.i)
      .map(x => x.issue);
  }
}

function nearestLine(lineOf: (p: string) => number | undefined, path: string): number | undefined {
  let p = path;
  for (;;) {
    const l = lineOf(p);
    if (l !== undefined) return l;
    if (p === '') return undefined;
    const dot = p.lastIndexOf('.');
    p = dot < 0 ? '' : p.slice(0, dot);
  }
}

// ---------------------------------------------------------------------------
// ajv errors → RedIssues

function pointerToPath(pointer: string): string {
  if (!pointer) return '';
  return pointer
    .slice(1)
    .split('/')
    .map(s => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .join('.');
}

function schemaIssues(errors: ErrorObject[], doc: Obj, isBatch: boolean, ctx: Ctx): void {
  // Branch errors of oneOf/anyOf are summarised by the oneOf/anyOf error itself.
  const combinators = errors.filter(e => e.keyword === 'oneOf' || e.keyword === 'anyOf');
  const isBranchError = (e: ErrorObject) =>
    combinators.some(c => c !== e && c.instancePath === e.instancePath && e.schemaPath.startsWith(c.schemaPath + '/'));

  for (const e of errors) {
    if (e.keyword === 'if') continue; // "must match then schema": the inner errors say why
    if (e.keyword === 'pattern' && e.schemaPath.startsWith('#/definitions/key/')) continue; // reported by propertyNames
    if (isBranchError(e)) continue;
    convertError(e, errors, doc, isBatch, ctx);
  }
}

function convertError(e: ErrorObject, all: ErrorObject[], doc: Obj, isBatch: boolean, ctx: Ctx): void {
  const base = pointerToPath(e.instancePath);
  const p = e.params as Record<string, unknown>;
  const data = e.data;
  switch (e.keyword) {
    case 'required': {
      const missing = String(p.missingProperty);
      const path = joinPath(base, missing);
      ctx.error(path, `missing required key "${missing}"${base ? ` in ${base}` : ''}`, requiredFix(base, missing, isBatch));
      return;
    }
    case 'additionalProperties': {
      const key = String(p.additionalProperty);
      const path = joinPath(base, key);
      if (base === '' && isBatch && (key === 'inputs' || key === 'outputs' || key === 'cloud')) {
        ctx.error(path, `"${key}" cannot be used together with "batches"`, `move it into each batch (batches[i].${key}), or remove "batches" for a single job`);
        return;
      }
      const allowed = Object.keys(((e.parentSchema as Obj | undefined)?.properties as Obj | undefined) ?? {});
      const where = base ? ` in ${base}` : ' at the top level';
      let message = `unknown key "${key}"${where}`;
      const cls = isObj(data) ? data.class : undefined;
      if (key === 'outputBinding' && isObj(data) && (data.type === 'stdout' || data.type === 'stderr')) {
        message = `"${key}" is not allowed for a ${String(data.type)} output`;
      } else if (cls === 'Directory' && ['dirname', 'checksum', 'size'].includes(key)) {
        message = `"${key}" is only allowed for File inputs, not for a Directory`;
      } else if (cls === 'File' && key === 'listing') {
        message = '"listing" is only allowed for Directory inputs, not for a File';
      }
      const suggestion = didYouMean(key, allowed);
      const fix = suggestion
        ? `remove it; did you mean "${suggestion}"?`
        : allowed.length
          ? `remove it (allowed here: ${allowed.join(', ')})`
          : 'remove it';
      ctx.error(path, message, fix);
      return;
    }
    case 'propertyNames': {
      const name = String(p.propertyName);
      ctx.error(joinPath(base, name), `"${name}" is not a valid identifier: use only letters, digits, _ and -`, `rename it, e.g. "${name.replace(/[^a-zA-Z0-9_-]+/g, '_') || 'name'}"`);
      return;
    }
    case 'type': {
      typeIssue(base, p.type, data, ctx);
      return;
    }
    case 'const': {
      constIssue(base, p.allowedValue, data, ctx);
      return;
    }
    case 'enum': {
      const allowed = (p.allowedValues as unknown[]).map(String);
      if (/^cli\.inputs\.[^.]+\.type$/.test(base)) {
        const s = suggestInputType(data);
        ctx.error(base, `unknown input type ${JSON.stringify(data)}`, `${s ? `did you mean "${s}"? ` : ''}use File, Directory, string, int, long, float, double or boolean, optionally followed by [] (list) and/or ? (optional)`);
        return;
      }
      const s = typeof data === 'string' ? didYouMean(data, allowed) : undefined;
      ctx.error(base, `${JSON.stringify(data)} is not allowed here: must be one of ${allowed.map(a => JSON.stringify(a)).join(', ')}`, s ? `did you mean "${s}"?` : undefined);
      return;
    }
    case 'minimum':
    case 'maximum': {
      const limit = Number(p.limit);
      const least = e.keyword === 'minimum';
      const last = base.split('.').pop();
      let fix: string | undefined;
      if (last === 'ram') fix = RAM_RANGE_FIX;
      else if (last === 'vramMin') fix = `vramMin is in MB, a whole number from ${VRAM_MIN_MB} to ${VRAM_MAX_MB} (1 TiB)`;
      else if (last === 'count' && base.endsWith('gpus.count')) fix = `ask for 1 to ${GPU_COUNT_MAX} GPUs`;
      else if (last === 'position') fix = 'positions start at 0';
      else fix = `use a value of at ${least ? 'least' : 'most'} ${limit}`;
      ctx.error(base, `must be at ${least ? 'least' : 'most'} ${limit}, found ${JSON.stringify(data)}`, fix);
      return;
    }
    case 'minLength':
      ctx.error(base, 'must not be empty', 'give a value or remove the key');
      return;
    case 'minItems':
      ctx.error(base, `must list at least ${String(p.limit)} item${p.limit === 1 ? '' : 's'}`, base === 'batches' ? 'add a batch with its inputs, or use top level inputs for a single job' : undefined);
      return;
    case 'maxItems':
      ctx.error(base, `must list at most ${String(p.limit)} items, found ${Array.isArray(data) ? data.length : '?'}`, base.endsWith('gpus.devices') ? `ask for 1 to ${GPU_COUNT_MAX} GPUs` : undefined);
      return;
    case 'pattern': {
      if (base.endsWith('checksum') || /(^|\.)checksum$/.test(base)) {
        ctx.error(base, `checksum must be "sha1$" followed by 40 hexadecimal digits, found ${JSON.stringify(data)}`, 'write it as sha1$<40 hex digits> (the output of sha1sum), or remove it');
      } else {
        ctx.error(base, `${JSON.stringify(data)} does not match the pattern ${String(p.pattern)}`);
      }
      return;
    }
    case 'oneOf':
    case 'anyOf': {
      const branches = all.filter(b => b !== e && b.instancePath === e.instancePath && b.schemaPath.startsWith(e.schemaPath + '/'));
      const names = branches.filter(b => b.keyword === 'required').map(b => String((b.params as Obj).missingProperty));
      const passing = p.passingSchemas;
      const options = names.length ? names : oneOfRequiredNames(e);
      const label = options.join(' or ');
      if (Array.isArray(passing) && passing.length > 1) {
        ctx.error(base, `give only one of ${label}, not both`, base.endsWith('gpus') ? 'use gpus: {vendor: nvidia, count: N} or gpus: {vendor: nvidia, devices: [{vramMin: MB}, ...]}' : `remove all but one of ${options.join(', ')}`);
      } else {
        const fix = base.endsWith('gpus')
          ? 'add count: N (number of GPUs) or devices: [{vramMin: MB}, ...]'
          : `add ${options[0] ?? 'the missing key'}`;
        ctx.error(joinPath(base, options[0] ?? ''), `missing required key: ${label}${base ? ` in ${base}` : ''}`, fix);
      }
      return;
    }
    default:
      ctx.error(base, e.message ?? `invalid (${e.keyword})`);
  }
}

const TYPE_ALIASES: Record<string, Primitive> = {
  str: 'string',
  text: 'string',
  integer: 'int',
  number: 'float',
  bool: 'boolean',
  file: 'File',
  dir: 'Directory',
  directory: 'Directory',
  folder: 'Directory'
};

/** A likely meant CWL input type for a wrong one: `strng` → `string`, `int?[]` → `int[]?`, `bool` → `boolean`. */
function suggestInputType(data: unknown): string | undefined {
  if (typeof data !== 'string') return undefined;
  const m = /^\s*([A-Za-z]+)\s*(.*)$/.exec(data);
  if (!m) return didYouMean(data, ALL_INPUT_TYPES);
  const word = m[1];
  const base =
    (PRIMITIVES as readonly string[]).find(p => p === word) ??
    TYPE_ALIASES[word.toLowerCase()] ??
    didYouMean(word, PRIMITIVES);
  if (!base) return didYouMean(data, ALL_INPUT_TYPES);
  const rest = m[2];
  const candidate = `${base}${rest.includes('[') ? '[]' : ''}${rest.includes('?') ? '?' : ''}`;
  return candidate !== data ? candidate : undefined;
}

function oneOfRequiredNames(e: ErrorObject): string[] {
  const schema = e.schema;
  if (!Array.isArray(schema)) return [];
  return schema.flatMap(s => (isObj(s) && Array.isArray(s.required) ? s.required.map(String) : []));
}

function requiredFix(base: string, missing: string, isBatch: boolean): string | undefined {
  switch (missing) {
    case 'redVersion':
      return 'add redVersion: "9" (a quoted string)';
    case 'cli':
      return 'add the cli section (a CWL CommandLineTool: cwlVersion, class, baseCommand, inputs, outputs)';
    case 'inputs':
      return base === '' && !isBatch ? 'add inputs: with the values of cli.inputs (or batches: for several jobs)' : 'add inputs: (may be {} when cli.inputs is empty)';
    case 'batches':
      return 'add batches: a list of {inputs: ...}';
    case 'container':
      return 'add container: {engine: docker, settings: {image: {url: IMAGE}}}';
    case 'cwlVersion':
      return 'add cwlVersion: "v1.0"';
    case 'class':
      return base === 'cli' ? 'add class: CommandLineTool' : 'add class: File or class: Directory';
    case 'outputs':
      return base === 'cli' ? 'add outputs: {} (or the files the program writes)' : undefined;
    case 'inputBinding':
      return 'add inputBinding: {} (or with position: N / prefix: "--flag")';
    case 'type':
      return 'add type: e.g. string, int, File or File?';
    case 'outputBinding':
      return 'add outputBinding: {glob: "file name or pattern"}';
    case 'glob':
      return 'add glob: "file name or pattern" (relative to the output directory)';
    case 'connector':
      return 'add connector: {command: red-connector-…, access: {...}}';
    case 'command':
      return 'add command: the connector program, e.g. red-connector-http';
    case 'access':
      return 'add access: {...} (connector specific, e.g. url:)';
    case 'engine':
      return base === 'container' ? 'add engine: docker' : 'add engine: ccfaice or ccagency';
    case 'settings':
      return base === 'execution' ? 'add settings: {}' : 'add settings: {image: {url: IMAGE}}';
    case 'image':
      return 'add image: {url: IMAGE}';
    case 'url':
      return 'add url:';
    case 'vendor':
      return 'add vendor: nvidia';
    case 'basename':
      return 'add basename: the file or directory name';
    default:
      return undefined;
  }
}

function typeIssue(path: string, expected: unknown, data: unknown, ctx: Ctx): void {
  const types = (Array.isArray(expected) ? expected : String(expected).split(',')).map(String);
  if (data === null) {
    const isJobValue = /(^|\.)inputs\.[^.]+(\.\d+)?$/.test(path) && !path.startsWith('cli.');
    ctx.error(
      path,
      'null is not allowed here',
      isJobValue ? 'leave the key out for an optional input, or give a value' : `give ${types.map(describeType).join(' or ')}, or remove the key`
    );
    return;
  }
  let fix: string | undefined;
  if (types.length === 1 && types[0] === 'string' && (typeof data === 'number' || typeof data === 'boolean')) fix = `quote it: "${String(data)}"`;
  else if (types.length === 1 && types[0] === 'integer' && typeof data === 'number') fix = 'use a whole number';
  else if (types.length === 1 && types[0] === 'integer' && typeof data === 'string' && /^\d+$/.test(data)) fix = `remove the quotes: ${data}`;
  else if (types.length === 1 && types[0] === 'boolean' && (data === 'true' || data === 'false')) fix = `remove the quotes: ${data}`;
  else if (types.includes('object') && !types.includes('string')) fix = 'write a mapping (key: value pairs)';
  ctx.error(path, `must be ${types.map(describeType).join(' or ')}, found ${describeValue(data)}`, fix);
}

function constIssue(path: string, allowed: unknown, data: unknown, ctx: Ctx): void {
  const want = JSON.stringify(allowed);
  if (path === 'redVersion') {
    ctx.error(path, `redVersion must be the string "9", found ${describeValue(data)}`, 'write redVersion: "9" (quoted)');
  } else if (path === 'container.engine' && data === 'nvidia-docker') {
    ctx.error(path, 'container engine "nvidia-docker" is no longer supported', 'use engine: docker with settings.gpus, e.g. gpus: {vendor: nvidia, count: 1}');
  } else if (path === 'cli.cwlVersion') {
    ctx.error(path, `cwlVersion must be "v1.0", found ${describeValue(data)}`, 'write cwlVersion: "v1.0"');
  } else {
    const s = typeof data === 'string' && typeof allowed === 'string' && didYouMean(data, [allowed]);
    ctx.error(path, `must be ${want}, found ${describeValue(data)}`, s ? `did you mean ${want}?` : `write ${want}`);
  }
}

function describeType(t: string): string {
  switch (t) {
    case 'string':
      return 'a string';
    case 'number':
      return 'a number';
    case 'integer':
      return 'a whole number';
    case 'boolean':
      return 'true/false';
    case 'array':
      return 'a list';
    case 'object':
      return 'a mapping';
    case 'null':
      return 'null';
    default:
      return t;
  }
}

function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (v === undefined) return 'nothing';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 60 ? v.slice(0, 57) + '...' : v)}`;
  if (typeof v === 'number') return `the number ${String(v)}`;
  return `${typeof v} ${String(v)}`;
}

/** Closest candidate by edit distance, if close enough to be a likely typo. */
export function didYouMean(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  const w = word.toLowerCase();
  for (const c of candidates) {
    const d = editDistance(w, c.toLowerCase());
    if (d < bestD) {
      bestD = d;
      best = c;
    }
  }
  if (best === undefined) return undefined;
  const limit = Math.max(1, Math.floor(Math.max(word.length, best.length) / 3));
  return bestD <= limit ? best : undefined;
}

/** Damerau-Levenshtein (optimal string alignment) distance. */
function editDistance(a: string, b: string): number {
  const m = a.length;
  const n = b.length;
  const d: number[][] = Array.from({ length: m + 1 }, (_, i) => Array.from({ length: n + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= m; i++) {
    for (let j = 1; j <= n; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[m][n];
}

// ---------------------------------------------------------------------------
// semantic checks

interface CwlType {
  base: Primitive;
  array: boolean;
  optional: boolean;
  text: string;
}

export function parseCwlType(s: unknown): CwlType | undefined {
  if (typeof s !== 'string') return undefined;
  const m = /^([A-Za-z]+)(\[\])?(\?)?$/.exec(s);
  if (!m || !(PRIMITIVES as readonly string[]).includes(m[1])) return undefined;
  return { base: m[1] as Primitive, array: !!m[2], optional: !!m[3], text: s };
}

interface Job {
  /** dotted path of the job's inputs / outputs mappings */
  inputsPath: string;
  outputsPath: string;
  inputs: unknown;
  outputs: unknown;
  label: string;
}

function jobsOf(doc: Obj, isBatch: boolean): Job[] {
  if (!isBatch) return [{ inputsPath: 'inputs', outputsPath: 'outputs', inputs: doc.inputs, outputs: doc.outputs, label: 'inputs' }];
  if (!Array.isArray(doc.batches)) return [];
  return doc.batches.map((b, i) => ({
    inputsPath: `batches.${i}.inputs`,
    outputsPath: `batches.${i}.outputs`,
    inputs: isObj(b) ? b.inputs : undefined,
    outputs: isObj(b) ? b.outputs : undefined,
    label: `batch ${i}`
  }));
}

function semanticChecks(doc: Obj, isBatch: boolean, ctx: Ctx): void {
  const cli = isObj(doc.cli) ? doc.cli : undefined;
  const cliInputs = cli && isObj(cli.inputs) ? cli.inputs : undefined;
  const cliOutputs = cli && isObj(cli.outputs) ? cli.outputs : undefined;
  const declaredTypes = new Map<string, CwlType | undefined>();
  if (cliInputs) for (const [k, v] of Object.entries(cliInputs)) declaredTypes.set(k, isObj(v) ? parseCwlType(v.type) : undefined);
  const jobs = jobsOf(doc, isBatch);

  // job inputs against cli.inputs
  if (cliInputs) {
    const declared = Object.keys(cliInputs);
    for (const job of jobs) {
      if (!isObj(job.inputs)) continue;
      for (const [key, value] of Object.entries(job.inputs)) {
        const path = joinPath(job.inputsPath, key);
        if (!declaredTypes.has(key)) {
          const s = didYouMean(key, declared);
          ctx.error(
            path,
            `input "${key}" is not declared in cli.inputs (declared: ${declared.length ? declared.join(', ') : 'none'})`,
            s ? `rename it to "${s}", or declare it under cli.inputs` : 'remove it, or declare it under cli.inputs'
          );
          continue;
        }
        const t = declaredTypes.get(key);
        if (t && value !== null && value !== undefined) checkJobValue(value, t, path, key, ctx);
      }
      for (const [key, t] of declaredTypes) {
        if (!t || t.optional || key in job.inputs) continue;
        ctx.error(joinPath(job.inputsPath, key), `missing required input "${key}" (cli.inputs.${key} has type ${t.text})${isBatch ? ` in ${job.label}` : ''}`, `add ${key}: <${t.text} value> under ${job.inputsPath}, or make it optional with type "${t.text}?"`);
      }
    }
  }

  // job outputs against cli.outputs
  if (cliOutputs) {
    const declared = Object.keys(cliOutputs);
    for (const job of jobs) {
      if (!isObj(job.outputs)) continue;
      for (const [key, target] of Object.entries(job.outputs)) {
        const path = joinPath(job.outputsPath, key);
        const decl = cliOutputs[key];
        if (decl === undefined) {
          const s = didYouMean(key, declared);
          ctx.error(
            path,
            `output "${key}" is not declared in cli.outputs (declared: ${declared.length ? declared.join(', ') : 'none'})`,
            s ? `rename it to "${s}", or declare it under cli.outputs` : 'remove it, or declare it under cli.outputs'
          );
          continue;
        }
        const type = isObj(decl) && typeof decl.type === 'string' ? decl.type.replace(/\?$/, '') : undefined;
        const cls = isObj(target) ? target.class : undefined;
        if (type && typeof cls === 'string' && ['File', 'Directory', 'stdout', 'stderr'].includes(cls) && cls !== type) {
          ctx.error(joinPath(path, 'class'), `output "${key}" is declared in cli.outputs as ${String((decl as Obj).type)} but given class ${cls}`, `write class: ${type}`);
        }
      }
    }
  }

  // globs and stdout/stderr file names
  if (cliOutputs) {
    for (const [key, decl] of Object.entries(cliOutputs)) {
      if (!isObj(decl) || !isObj(decl.outputBinding) || typeof decl.outputBinding.glob !== 'string') continue;
      checkGlob(decl.outputBinding.glob, `cli.outputs.${key}.outputBinding.glob`, key, declaredTypes, jobs, ctx);
    }
  }
  if (cli) {
    for (const stream of ['stdout', 'stderr'] as const) {
      const name = cli[stream];
      if (typeof name !== 'string') continue;
      const path = `cli.${stream}`;
      if (name === '') ctx.error(path, `${stream} file name must not be empty`, `remove cli.${stream} or give a file name`);
      else if (name.startsWith('/')) ctx.error(path, `${stream} file name must be relative to the output directory, found ${JSON.stringify(name)}`, `write a plain file name, e.g. ${stream}.txt`);
      else if (hasDotDot(name)) ctx.error(path, `${stream} file name must stay inside the output directory (no ".." segments), found ${JSON.stringify(name)}`, `write a plain file name, e.g. ${stream}.txt`);
    }
  }

  // basenames of inputs and listings
  for (const job of jobs) {
    if (!isObj(job.inputs)) continue;
    for (const [key, value] of Object.entries(job.inputs)) {
      const items = Array.isArray(value) ? value.map((v, i) => [v, joinPath(joinPath(job.inputsPath, key), i)] as const) : [[value, joinPath(job.inputsPath, key)] as const];
      for (const [v, p] of items) if (isObj(v)) checkBasenames(v, p, ctx);
    }
  }

  // the image reference, as the engine will parse it
  const image = isObj(doc.container) && isObj(doc.container.settings) && isObj(doc.container.settings.image) ? doc.container.settings.image.url : undefined;
  // ({{variables}} there are reported as such below)
  if (typeof image === 'string' && image !== '' && !image.includes('{{')) {
    const ref = checkImageReference(image);
    if (!ref.ok) ctx.error('container.settings.image.url', ref.message, ref.fix);
  }

  // {{variables}} and numbers, anywhere
  walkValues(doc, '', false, ctx);
}

function checkJobValue(value: unknown, t: CwlType, path: string, key: string, ctx: Ctx): void {
  if (t.array) {
    if (!Array.isArray(value)) {
      ctx.error(path, `input "${key}" is declared as ${t.text} (a list) but given ${describeValue(value)}`, `write a list: [${Array.isArray(value) ? '' : shortValue(value)}]`);
      return;
    }
    value.forEach((item, i) => {
      if (item !== null) checkItem(item, t, joinPath(path, i), key, ctx);
    });
    return;
  }
  if (Array.isArray(value)) {
    ctx.error(path, `input "${key}" is declared as ${t.text} (a single value) but given a list`, `give one value, or declare the type as "${t.base}[]${t.optional ? '?' : ''}"`);
    return;
  }
  checkItem(value, t, path, key, ctx);
}

function checkItem(v: unknown, t: CwlType, path: string, key: string, ctx: Ctx): void {
  const decl = `input "${key}" is declared as ${t.text}`;
  switch (t.base) {
    case 'File':
    case 'Directory': {
      if (!isObj(v)) {
        ctx.error(path, `${decl} but given ${describeValue(v)}`, `give a ${t.base} object: {class: ${t.base}, connector: {command: red-connector-…, access: {...}}}`);
        return;
      }
      if ((v.class === 'File' || v.class === 'Directory') && v.class !== t.base) {
        ctx.error(joinPath(path, 'class'), `${decl} but given class ${v.class}`, `write class: ${t.base}, or declare the input as ${v.class}`);
      }
      return;
    }
    case 'string':
      if (typeof v !== 'string') ctx.error(path, `${decl} but given ${describeValue(v)}`, typeof v === 'number' || typeof v === 'boolean' ? `quote it: "${String(v)}"` : 'give a string');
      return;
    case 'int':
    case 'long': {
      if (typeof v === 'number' && Number.isInteger(v) && !ctx.isFloatLiteral(path)) {
        if (!Number.isSafeInteger(v)) ctx.error(path, `${decl} but ${String(v)} is too large to be represented exactly`, `use a value between -${Number.MAX_SAFE_INTEGER} and ${Number.MAX_SAFE_INTEGER}, or pass it as a string`);
        return;
      }
      if (typeof v === 'number' && Number.isInteger(v)) {
        ctx.error(path, `${decl} but given the float ${v}.0 (written with a decimal point or exponent)`, `write ${v} without the decimal point/exponent, or declare the input as float`);
      } else if (typeof v === 'number') {
        ctx.error(path, `${decl} but given the non-integer ${String(v)}`, 'use a whole number, or declare the input as float');
      } else if (typeof v === 'string' && /^[-+]?\d+$/.test(v.trim())) {
        ctx.error(path, `${decl} but given the string ${JSON.stringify(v)}`, `remove the quotes: ${v.trim()}`);
      } else {
        ctx.error(path, `${decl} but given ${describeValue(v)}`, 'give a whole number');
      }
      return;
    }
    case 'float':
    case 'double':
      if (typeof v === 'number') return;
      if (typeof v === 'string' && v.trim() !== '' && !Number.isNaN(Number(v))) ctx.error(path, `${decl} but given the string ${JSON.stringify(v)}`, `remove the quotes: ${v.trim()}`);
      else ctx.error(path, `${decl} but given ${describeValue(v)}`, 'give a number');
      return;
    case 'boolean':
      if (typeof v === 'boolean') return;
      if (typeof v === 'string' && /^(true|false)$/i.test(v.trim())) ctx.error(path, `${decl} but given the string ${JSON.stringify(v)}`, `write ${v.trim().toLowerCase()} without quotes`);
      else ctx.error(path, `${decl} but given ${describeValue(v)}`, 'give true or false');
      return;
  }
}

function shortValue(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return '...';
}

function hasDotDot(p: string): boolean {
  return p.split('/').some(seg => seg === '..');
}

const EXPRESSION = /^inputs\.([a-zA-Z0-9_-]+)(?:\[(\d+)\])?(?:\.([a-zA-Z_]+))?$/;

function checkGlob(glob: string, path: string, outputKey: string, declared: Map<string, CwlType | undefined>, jobs: Job[], ctx: Ctx): void {
  if (glob.startsWith('/')) {
    ctx.error(path, `glob of output "${outputKey}" must be relative to the output directory, found the absolute ${JSON.stringify(glob)}`, `remove the leading "/": ${JSON.stringify(glob.replace(/^\/+/, ''))}`);
  }
  if (hasDotDot(glob)) {
    ctx.error(path, `glob of output "${outputKey}" must stay inside the output directory (no ".." segments), found ${JSON.stringify(glob)}`, 'remove the ".." segments');
  }
  const allowed = 'allowed: $(inputs.KEY), $(inputs.KEY[N]), $(inputs.KEY.basename|nameroot|nameext|path|dirname)';
  let i = 0;
  while (i < glob.length) {
    const start = glob.indexOf('$(', i);
    if (start < 0) break;
    const end = glob.indexOf(')', start + 2);
    if (end < 0) {
      ctx.error(path, `unclosed expression in glob of output "${outputKey}": ${JSON.stringify(glob.slice(start))}`, `close it with ")"; ${allowed}`);
      return;
    }
    const expr = glob.slice(start, end + 1);
    const inner = glob.slice(start + 2, end).trim();
    i = end + 1;
    const m = EXPRESSION.exec(inner);
    if (!m) {
      ctx.error(path, `unsupported expression ${expr} in glob of output "${outputKey}"`, allowed);
      continue;
    }
    const [, key, indexText, attr] = m;
    if (!declared.has(key)) {
      const s = didYouMean(key, [...declared.keys()]);
      ctx.error(path, `${expr} refers to "${key}", which is not declared in cli.inputs (declared: ${[...declared.keys()].join(', ') || 'none'})`, s ? `did you mean $(inputs.${s}${attr ? '.' + attr : ''})?` : 'refer to a declared input');
      continue;
    }
    const t = declared.get(key);
    if (!t) continue;
    const isFileLike = t.base === 'File' || t.base === 'Directory';
    if (indexText !== undefined && !t.array) {
      ctx.error(path, `${expr}: input "${key}" is not a list (type ${t.text}), it cannot be indexed`, `write $(inputs.${key}${attr ? '.' + attr : ''})`);
      continue;
    }
    if (indexText === undefined && t.array) {
      ctx.error(path, `${expr}: input "${key}" is a list (type ${t.text}); pick one item`, `write $(inputs.${key}[0]${attr ? '.' + attr : isFileLike ? '.basename' : ''})`);
      continue;
    }
    if (attr !== undefined) {
      if (!isFileLike) {
        ctx.error(path, `${expr}: .${attr} only applies to File and Directory inputs, "${key}" is ${t.text}`, `write $(inputs.${key}${indexText !== undefined ? `[${indexText}]` : ''})`);
        continue;
      }
      const attrs = t.base === 'File' ? FILE_ATTRIBUTES : DIRECTORY_ATTRIBUTES;
      if (!attrs.includes(attr)) {
        const s = didYouMean(attr, attrs);
        ctx.error(path, `${expr}: ${t.base} inputs have no attribute .${attr} (available: ${attrs.map(a => '.' + a).join(', ')})`, s ? `did you mean .${s}?` : `use one of ${attrs.map(a => '.' + a).join(', ')}`);
        continue;
      }
      if ((attr === 'path' || attr === 'dirname') && start === 0) {
        ctx.error(path, `${expr} at the start of the glob of output "${outputKey}" gives an absolute path (inputs live under /cc/inputs)`, `use $(inputs.${key}${indexText !== undefined ? `[${indexText}]` : ''}.basename) instead`);
        continue;
      }
    } else if (isFileLike) {
      ctx.error(path, `${expr} refers to a whole ${t.base} object`, `use an attribute: $(inputs.${key}${indexText !== undefined ? `[${indexText}]` : ''}.basename)`);
      continue;
    }
    // Each job must provide what the expression refers to.
    for (const job of jobs) {
      if (!isObj(job.inputs)) continue;
      const value = job.inputs[key];
      if (value === undefined) {
        if (t.optional) ctx.error(path, `${expr} in the glob of output "${outputKey}" refers to the optional input "${key}", which ${job.label} does not give`, `give ${key} in ${job.inputsPath}, or do not use it in the glob`);
        continue;
      }
      if (indexText !== undefined && Array.isArray(value) && Number(indexText) >= value.length) {
        ctx.error(path, `${expr}: ${job.label} gives only ${value.length} item${value.length === 1 ? '' : 's'} for "${key}"`, `use an index below ${value.length}`);
      }
    }
  }
}

function checkBasenames(v: Obj, path: string, ctx: Ctx): void {
  if (typeof v.basename === 'string') checkBasename(v.basename, joinPath(path, 'basename'), ctx);
  if (Array.isArray(v.listing)) {
    v.listing.forEach((entry, i) => {
      if (isObj(entry)) checkBasenames(entry, joinPath(joinPath(path, 'listing'), i), ctx);
    });
  }
}

function checkBasename(name: string, path: string, ctx: Ctx): void {
  if (name === '') return; // reported by the schema
  if (name.includes('/') || name === '.' || name === '..' || name.includes('\0')) {
    ctx.error(path, `basename must be a plain file or directory name, found ${JSON.stringify(name)}`, 'remove "/" and ".." from it (use dirname for the directory of a File)');
  }
}

/** {{variables}} only inside access/auth, with valid names; numbers must be finite. */
function walkValues(v: unknown, path: string, inScope: boolean, ctx: Ctx): void {
  if (Array.isArray(v)) {
    v.forEach((item, i) => walkValues(item, joinPath(path, i), inScope, ctx));
  } else if (isObj(v)) {
    for (const [k, child] of Object.entries(v)) walkValues(child, joinPath(path, k), inScope || VARIABLE_SCOPES.has(k), ctx);
  } else if (typeof v === 'string') {
    if (!v.includes('{{') && !v.includes('}}')) return;
    if (!inScope) {
      ctx.error(path, `{{variables}} are only allowed inside access or auth objects (connector access, image auth, execution access), found ${JSON.stringify(v)} in ${path}`, 'write the value itself here');
      return;
    }
    checkTemplate(v, path, ctx);
  } else if (typeof v === 'number' && !Number.isFinite(v)) {
    ctx.error(path, `${String(v)} is not a usable number`, 'give a finite number');
  }
}

function checkTemplate(s: string, path: string, ctx: Ctx): void {
  const re = /\{\{(.*?)\}\}/g;
  let last = 0;
  let m: RegExpExecArray | null;
  const outside: string[] = [];
  while ((m = re.exec(s)) !== null) {
    outside.push(s.slice(last, m.index));
    last = m.index + m[0].length;
    const name = m[1];
    if (name.includes('{{')) {
      ctx.error(path, `malformed variable in ${JSON.stringify(s)}: too many "{{"`, 'write each variable as {{name}}');
      return;
    }
    if (!KEY_PATTERN.test(name)) {
      const trimmed = name.trim();
      ctx.error(
        path,
        name === '' ? `empty variable {{}} in ${JSON.stringify(s)}` : `invalid variable name ${JSON.stringify(name)} in ${JSON.stringify(s)}: use only letters, digits, _ and -`,
        KEY_PATTERN.test(trimmed) ? `write {{${trimmed}}} without spaces` : 'write {{name}} with letters, digits, _ and - only'
      );
    }
  }
  outside.push(s.slice(last));
  if (outside.some(part => part.includes('{{') || part.includes('}}'))) {
    ctx.error(path, `unbalanced braces in ${JSON.stringify(s)}`, 'write each variable as {{name}}; "{{" and "}}" cannot appear otherwise');
  }
}

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
