// From a notebook to an ExperimentDraft, and from a draft to a RED 9 file that runs the
// notebook with RED Lab's runner (redlab_nbrun.py), and back (import, best effort).
//
// The command line of the RED (see jupyterlab_redlab/runner/redlab_nbrun.py):
//
//   python3 /cc/inputs/runner/redlab_nbrun.py /cc/inputs/notebook/<notebook>.ipynb
//           --<param> <value> ...            one per parameter, typed as in the parameters cell;
//                                            lists are ONE word, items joined by "," (itemSeparator)
//           --<flag>                         booleans: the bare flag when true, nothing when false,
//           --redlab-booleans a,b            ... which is why the boolean parameters are named here:
//                                            the runner sets those whose flag is absent to False
//           --input-<name> /cc/inputs/<name>/<basename>
//                                            each further input; the notebook reads its path from
//                                            the environment variable REDLAB_INPUT_<NAME>
//
// The executed notebook is always an output (`executed_notebook`, glob `<nameroot>.executed.ipynb`,
// written by the runner in the working directory /cc/outputs); the user's outputs are globs there.
// Host paths of local inputs (runner, notebook, data) are relative to the notebook's folder:
// the RED file belongs there too (see draftRedPath).
//
// Pure TypeScript: no DOM, no Node APIs.

import { toSortedYaml } from '../red/convert';
import { pySplitext } from '../red/pyformat';
import { posixBasename, posixDirname, posixJoin } from '../red/paths';
import type { CwlInput, CwlOutput, FileOrDirectory, GpuRequirement, JobInputs, JobPrimitive, Red, SingleRed } from '../red/types';
import { cellSource, cellTags, parseNotebookParameters } from './parameters';
import { RUNNER_FILENAME } from './runner-source';
import { NotebookNotRunnableError, type DraftInput, type DraftOutput, type ExperimentDraft, type NotebookParameter } from './types';

/** Where the panel writes the runner, relative to the notebook's folder. */
// A visible folder: Jupyter's contents API refuses to create hidden ones by default.
export const DEFAULT_RUNNER_PATH = `_redlab/${RUNNER_FILENAME}`;
export const LOCAL_CONNECTOR = 'redlab-connector-local';
/** cli input keys the RED uses for itself (a parameter of that name gets the key `param_<name>`). */
export const RUNNER_INPUT = 'runner';
export const NOTEBOOK_INPUT = 'notebook';
export const BOOLEANS_INPUT = 'redlab_booleans';
/** The cli output holding the executed notebook. */
export const EXECUTED_NOTEBOOK_OUTPUT = 'executed_notebook';
/** The separator of list parameters on the command line (one word: `--xs 1,2,3`). */
export const LIST_SEPARATOR = ',';
/** Prefix of further inputs on the runner's command line (`--input-data PATH`). */
export const INPUT_PREFIX = '--input-';
export const BOOLEANS_PREFIX = '--redlab-booleans';

const RESERVED_INPUT_KEYS = [RUNNER_INPUT, NOTEBOOK_INPUT, BOOLEANS_INPUT];
const RED_KEY = /^[A-Za-z0-9_-]+$/;

export interface InferOptions {
  /** The notebook's path relative to the Jupyter root (`demo/analysis.ipynb`). */
  notebookPath: string;
  defaults: { image: string; ramMb: number; gpus?: number };
}

export interface InferResult {
  draft: ExperimentDraft;
  /** Things the user should know: no parameters cell, statements skipped there, magics, ... */
  warnings: string[];
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => !!v && typeof v === 'object' && !Array.isArray(v);

/** The notebook's file name without `.ipynb` (the executed notebook is `<this>.executed.ipynb`). */
export function notebookNameroot(notebookPath: string): string {
  const base = posixBasename(notebookPath);
  return base.toLowerCase().endsWith('.ipynb') ? base.slice(0, -'.ipynb'.length) : pySplitext(base)[0] || base;
}

/** The executed notebook's file name, as the runner writes it by default. */
export function executedNotebookName(notebookPath: string): string {
  return `${notebookNameroot(notebookPath)}.executed.ipynb`;
}

/** Where the RED file of a notebook goes (next to it, so that relative paths work): `demo/analysis.red.yml`. */
export function draftRedPath(notebookPath: string): string {
  const dir = posixDirname(notebookPath);
  const name = `${notebookNameroot(notebookPath)}.red.yml`;
  return dir ? posixJoin(dir, name) : name;
}

/** Where the runner file goes, relative to the Jupyter root (the panel writes RUNNER_SOURCE there). */
export function draftRunnerFile(d: Pick<ExperimentDraft, 'notebookPath' | 'runnerPath'>): string {
  const dir = posixDirname(d.notebookPath);
  return dir ? posixJoin(dir, d.runnerPath) : posixJoin(d.runnerPath);
}

/** The environment variable under which the runner gives the notebook an input's path. */
export function inputEnvVar(name: string): string {
  return 'REDLAB_INPUT_' + name.replace(/[^A-Za-z0-9]/g, '_').toUpperCase();
}

// ---------------------------------------------------------------------------------------------
// notebook -> draft

function parseNotebook(nb: unknown, path: string): Obj {
  let doc = nb;
  if (typeof nb === 'string') {
    try {
      doc = JSON.parse(nb);
    } catch (e) {
      throw new NotebookNotRunnableError(`${path} is not a valid notebook: its JSON does not parse (${(e as Error).message})`, 'open it in JupyterLab and save it again, or restore it from a backup');
    }
  }
  if (!isObj(doc) || !Array.isArray(doc.cells)) {
    throw new NotebookNotRunnableError(`${path} is not a valid notebook: it has no list of cells`, 'open it in JupyterLab and save it again');
  }
  if (doc.nbformat !== 4) {
    throw new NotebookNotRunnableError(
      `${path} is in notebook format ${JSON.stringify(doc.nbformat ?? null)}; the container runner reads format 4`,
      'open the notebook in JupyterLab and save it: JupyterLab converts it to format 4'
    );
  }
  return doc;
}

/** The notebook's kernel language, and its name for messages. */
function kernelOf(doc: Obj): { language?: string; name?: string } {
  const md = isObj(doc.metadata) ? doc.metadata : {};
  const spec = isObj(md.kernelspec) ? md.kernelspec : {};
  const info = isObj(md.language_info) ? md.language_info : {};
  const language = typeof spec.language === 'string' ? spec.language : typeof info.name === 'string' ? info.name : undefined;
  const name = typeof spec.display_name === 'string' ? spec.display_name : typeof spec.name === 'string' ? spec.name : undefined;
  return { language, name };
}

const MAGIC_LINE = /^\s*(%%?|!)/;
const MPL_MAGIC = /^\s*%matplotlib(\s.*)?$/;

/**
 * A draft for running the notebook: its parameters cell, the default image/RAM/GPUs, no further
 * inputs, no outputs but the executed notebook. Throws NotebookNotRunnableError for invalid
 * notebooks and non-Python kernels; everything else becomes a warning.
 */
export function inferDraft(nb: unknown, opts: InferOptions): InferResult {
  const path = opts.notebookPath;
  const doc = parseNotebook(nb, path);
  const warnings: string[] = [];
  const kernel = kernelOf(doc);
  if (kernel.language !== undefined && kernel.language.trim().toLowerCase() !== 'python') {
    const shown = kernel.name ? `${kernel.name} (${kernel.language})` : kernel.language;
    throw new NotebookNotRunnableError(
      `${path} uses the ${shown} kernel; RED Lab runs Python notebooks only`,
      'switch the notebook to a Python kernel (Kernel > Change Kernel… > Python 3), or write a RED file for your program by hand'
    );
  }
  if (kernel.language === undefined) warnings.push(`${path} does not say which language its kernel runs; assuming Python`);

  const cells = doc.cells as unknown[];
  const code = cells.filter(c => isObj(c) && c.cell_type === 'code');
  if (code.every(c => cellSource(c).trim() === '')) {
    warnings.push(`${path} has no code to run yet: the container would only copy the notebook`);
  }

  const parsed = parseNotebookParameters(cells);
  if (parsed.cell < 0) {
    if (code.length > 0) {
      warnings.push(
        'no cell is tagged "parameters", so the run has no values to change: put the values in one code cell ' +
          '(samples = 200, noise = 0.3, ...) and tag it "parameters" (select the cell, open the property inspector ' +
          '(gear icon, right sidebar), Common Tools > Cell Tags > Add Tag)'
      );
    }
  } else {
    const more = cells.filter((c, i) => i > parsed.cell && isObj(c) && c.cell_type === 'code' && cellTags(c).includes('parameters')).length;
    if (more) warnings.push(`${more + 1} cells are tagged "parameters"; only the first one (cell ${parsed.cell + 1}) is used`);
    for (const w of parsed.warnings) {
      warnings.push(`parameters cell (cell ${parsed.cell + 1}), line ${w.line}: ${w.text}: ${w.reason}`);
    }
  }

  cells.forEach((c, i) => {
    if (!isObj(c) || c.cell_type !== 'code') return;
    const magics = cellSource(c)
      .split('\n')
      .filter(l => MAGIC_LINE.test(l) && !MPL_MAGIC.test(l))
      .map(l => l.trim());
    if (magics.length) {
      warnings.push(
        `cell ${i + 1} uses IPython syntax (${magics.slice(0, 2).join(', ')}${magics.length > 2 ? ', …' : ''}), which needs the IPython kernel: ` +
          'in the container the notebook runs as plain Python and that cell would fail; write it in Python (subprocess.run for shell commands, packages in the image instead of %pip)'
      );
    }
  });

  const parameters = parsed.parameters;
  const values: ExperimentDraft['values'] = {};
  for (const p of parameters) values[p.name] = Array.isArray(p.default) ? [...p.default] : p.default;
  const draft: ExperimentDraft = {
    notebookPath: path,
    runnerPath: DEFAULT_RUNNER_PATH,
    image: opts.defaults.image,
    ramMb: opts.defaults.ramMb,
    parameters,
    values,
    inputs: [],
    outputs: [],
    engine: 'docker'
  };
  if (opts.defaults.gpus !== undefined && opts.defaults.gpus > 0) draft.gpus = { count: opts.defaults.gpus };
  return { draft, warnings };
}

// ---------------------------------------------------------------------------------------------
// draft -> RED

/** The cli input key of each parameter: its name, or `param_<name>` where that is one of the RED's own keys. */
export function parameterKeys(d: Pick<ExperimentDraft, 'parameters'>): Map<string, string> {
  const keys = new Map<string, string>();
  for (const p of d.parameters) keys.set(p.name, RESERVED_INPUT_KEYS.includes(p.name) ? `param_${p.name}` : p.name);
  return keys;
}

const PRIMITIVE_TYPES = ['int', 'float', 'string', 'boolean'];

function baseType(type: string): { item: string; list: boolean } {
  const t = type.replace(/\?$/, '');
  return t.endsWith('[]') ? { item: t.slice(0, -2), list: true } : { item: t, list: false };
}

function valueFits(item: string, v: unknown): boolean {
  switch (item) {
    case 'int':
    case 'long':
      return typeof v === 'number' && Number.isInteger(v);
    case 'float':
    case 'double':
      return typeof v === 'number' && Number.isFinite(v);
    case 'string':
      return typeof v === 'string';
    case 'boolean':
      return typeof v === 'boolean';
  }
  return false;
}

/**
 * What keeps a draft from becoming a RED that runs as the user means it (empty when none):
 * names that collide or cannot be RED keys, values that do not fit their parameter's type,
 * list values the runner cannot receive. The RED's own validation (validateRed) covers the rest.
 */
export function checkDraft(d: ExperimentDraft): string[] {
  const problems = nameCollisions(d);
  for (const p of d.parameters) {
    if (!RED_KEY.test(p.name)) problems.push(`parameter "${p.name}": a RED input name may only have A-Z, a-z, 0-9, _ and -`);
    const { item, list } = baseType(p.type);
    if (!PRIMITIVE_TYPES.includes(item)) {
      problems.push(`parameter "${p.name}" has the type ${p.type}; parameters are int, float, string or boolean, or lists of them`);
      continue;
    }
    const v = p.name in d.values ? d.values[p.name] : p.default;
    if (list) {
      if (!Array.isArray(v)) problems.push(`parameter "${p.name}" is a list (${p.type}) but its value is not`);
      else if (v.some(x => !valueFits(item, x))) problems.push(`parameter "${p.name}": every item must be a ${item}`);
      else if (v.length === 0) problems.push(`parameter "${p.name}": an empty list cannot be passed on the command line; the notebook's own default would be used`);
      else if (item === 'string' && v.some(x => String(x).includes(LIST_SEPARATOR))) {
        problems.push(`parameter "${p.name}": list items are passed joined by "${LIST_SEPARATOR}", so an item cannot contain "${LIST_SEPARATOR}"`);
      }
    } else if (!valueFits(item, v)) {
      problems.push(`parameter "${p.name}" is ${item === 'int' ? 'an' : 'a'} ${item} but its value is ${JSON.stringify(v)}`);
    }
  }
  for (const i of d.inputs) {
    if (!RED_KEY.test(i.name)) problems.push(`input "${i.name}": a RED input name may only have A-Z, a-z, 0-9, _ and -`);
  }
  const executed = executedNotebookName(d.notebookPath);
  for (const o of d.outputs) {
    if (!RED_KEY.test(o.name)) problems.push(`output "${o.name}": a RED output name may only have A-Z, a-z, 0-9, _ and -`);
    if (o.glob === executed) problems.push(`output "${o.name}": ${executed} is the executed notebook, already an output`);
  }
  return problems;
}

/** Names that would be the same RED input or output key (draftToRed refuses these). */
function nameCollisions(d: ExperimentDraft): string[] {
  const problems: string[] = [];
  const keys = parameterKeys(d);
  const used = new Map<string, string>();
  const claim = (key: string, what: string) => {
    const prev = used.get(key);
    if (prev) problems.push(`${what} and ${prev} would both be the RED input "${key}"; rename one of them`);
    else used.set(key, what);
  };
  RESERVED_INPUT_KEYS.forEach(k => used.set(k, `RED Lab's own input "${k}"`));
  for (const p of d.parameters) claim(keys.get(p.name)!, `parameter "${p.name}"`);
  for (const i of d.inputs) claim(i.name, `input "${i.name}"`);
  const outs = new Set<string>([EXECUTED_NOTEBOOK_OUTPUT]);
  for (const o of d.outputs) {
    if (outs.has(o.name)) problems.push(o.name === EXECUTED_NOTEBOOK_OUTPUT ? `output "${o.name}" is RED Lab's own (the executed notebook); rename yours` : `two outputs are named "${o.name}"`);
    outs.add(o.name);
  }
  return problems;
}

function escapeGlob(name: string): string {
  return name.replace(/[*?[]/g, c => `[${c}]`);
}

function localFile(path: string, basename: string): FileOrDirectory {
  return { class: 'File', basename, connector: { command: LOCAL_CONNECTOR, access: { path } } };
}

/** The basename an input gets in the container when the draft gives none: the file name of its path or URL, else its name. */
export function defaultInputBasename(input: Pick<DraftInput, 'name' | 'access'>): string {
  const raw = typeof input.access.path === 'string' ? input.access.path : typeof input.access.url === 'string' ? input.access.url : '';
  let p = raw.replace(/[?#].*$/, '').replace(/\/+$/, '');
  if (/^[a-z][a-z0-9+.-]*:\/\/[^/]*$/i.test(p)) p = '';
  const base = posixBasename(p);
  return base && base !== '.' && base !== '..' && !base.includes('{{') ? base : input.name;
}

function gpuRequirement(g: ExperimentDraft['gpus']): GpuRequirement | undefined {
  if (!g) return undefined;
  const count = g.count !== undefined && g.count > 0 ? g.count : undefined;
  if (g.vramMinMb !== undefined && g.vramMinMb > 0) {
    return { vendor: 'nvidia', devices: Array.from({ length: count ?? 1 }, () => ({ vramMin: g.vramMinMb! })) };
  }
  return count ? { vendor: 'nvidia', count } : undefined;
}

/** The RED of a draft (values as given; run checkDraft and validateRed to find problems). Throws when names collide. */
export function draftToRed(d: ExperimentDraft): SingleRed {
  const collisions = nameCollisions(d);
  if (collisions.length) throw new Error(collisions.join('; '));
  const notebookFile = posixBasename(d.notebookPath);
  const keys = parameterKeys(d);

  const cliInputs: Record<string, CwlInput> = {
    [RUNNER_INPUT]: { type: 'File', inputBinding: { position: 0 }, doc: "RED Lab's notebook runner (redlab_nbrun.py)" },
    [NOTEBOOK_INPUT]: { type: 'File', inputBinding: { position: 1 }, doc: 'The notebook to run' }
  };
  const inputs: JobInputs = {
    [RUNNER_INPUT]: localFile(d.runnerPath, RUNNER_FILENAME),
    [NOTEBOOK_INPUT]: localFile(notebookFile, notebookFile)
  };
  const booleans: string[] = [];
  for (const p of d.parameters) {
    const key = keys.get(p.name)!;
    const { item, list } = baseType(p.type);
    const binding: CwlInput['inputBinding'] = { prefix: `--${p.name}` };
    if (list) binding.itemSeparator = LIST_SEPARATOR;
    const input: CwlInput = { type: `${item}${list ? '[]' : ''}`, inputBinding: binding };
    if (p.doc) input.doc = p.doc;
    cliInputs[key] = input;
    const v = p.name in d.values ? d.values[p.name] : p.default;
    inputs[key] = Array.isArray(v) ? [...v] : v;
    if (item === 'boolean' && !list) booleans.push(p.name);
  }
  if (booleans.length) {
    cliInputs[BOOLEANS_INPUT] = {
      type: 'string',
      inputBinding: { prefix: BOOLEANS_PREFIX },
      doc: 'The boolean parameters this command line sets: the runner makes those without their flag False'
    };
    inputs[BOOLEANS_INPUT] = booleans.join(',');
  }
  for (const i of d.inputs) {
    cliInputs[i.name] = {
      type: i.kind,
      inputBinding: { prefix: `${INPUT_PREFIX}${i.name}` },
      doc: `In the notebook: os.environ["${inputEnvVar(i.name)}"]`
    };
    const value: FileOrDirectory = {
      class: i.kind,
      basename: i.basename || defaultInputBasename(i),
      connector: { command: i.connector, access: { ...i.access } }
    };
    if (i.mount !== undefined) value.connector.mount = i.mount;
    inputs[i.name] = value;
  }

  const executed = executedNotebookName(d.notebookPath);
  const cliOutputs: Record<string, CwlOutput> = {
    [EXECUTED_NOTEBOOK_OUTPUT]: { type: 'File', outputBinding: { glob: escapeGlob(executed) }, doc: 'The notebook with the outputs of this run' }
  };
  for (const o of d.outputs) {
    cliOutputs[o.name] = { type: `${o.kind}${o.optional ? '?' : ''}` as 'File', outputBinding: { glob: o.glob } };
  }

  const settings: SingleRed['container']['settings'] = { image: { url: d.image }, ram: d.ramMb };
  const gpus = gpuRequirement(d.gpus);
  if (gpus) settings.gpus = gpus;

  return {
    redVersion: '9',
    doc: `Runs the notebook ${d.notebookPath} with RED Lab's notebook runner`,
    cli: {
      cwlVersion: 'v1.0',
      class: 'CommandLineTool',
      baseCommand: 'python3',
      doc:
        `python3 ${RUNNER_FILENAME} NOTEBOOK [--PARAM VALUE ...]: runs the notebook's code cells in order, with the ` +
        'values injected after its "parameters" cell, and writes the executed notebook',
      inputs: cliInputs,
      outputs: cliOutputs
    },
    inputs,
    outputs: {},
    container: { engine: 'docker', settings },
    execution: { engine: 'ccfaice', settings: {} }
  };
}

/**
 * Dotted paths of the RED's numbers that are floats (float parameters, also when integral: 0.0),
 * for toSortedYaml/toSortedJson and buildCommand, so that `0.0` stays `0.0` as Python writes it.
 */
export function draftFloatPaths(d: ExperimentDraft): Set<string> {
  const out = new Set<string>();
  const keys = parameterKeys(d);
  for (const p of d.parameters) {
    const { item, list } = baseType(p.type);
    if (item !== 'float' && item !== 'double') continue;
    const key = keys.get(p.name)!;
    const v = p.name in d.values ? d.values[p.name] : p.default;
    if (list && Array.isArray(v)) v.forEach((x, i) => typeof x === 'number' && out.add(`inputs.${key}.${i}`));
    else if (typeof v === 'number') out.add(`inputs.${key}`);
  }
  return out;
}

/** The RED file's text (YAML, keys sorted as `faice convert format` writes them), floats kept. */
export function draftToRedYaml(d: ExperimentDraft): string {
  return toSortedYaml(draftToRed(d), { floatPaths: draftFloatPaths(d) });
}

// ---------------------------------------------------------------------------------------------
// RED -> draft (import)

/**
 * A draft from a RED written by draftToRed (or by hand in the same shape), for the notebook at
 * notebookPath. Best effort: what does not fit the runner's conventions is left out with a warning.
 * Parameters get the RED's values as their defaults; merge with inferDraft's parameters to get the
 * notebook's own defaults and docs.
 */
export function redToDraft(red: Red, notebookPath: string): InferResult {
  const warnings: string[] = [];
  let inputs: JobInputs;
  if ('batches' in red && Array.isArray(red.batches)) {
    if (red.batches.length > 1) warnings.push(`the RED has ${red.batches.length} batches; only the first one's values are used`);
    inputs = (red.batches[0]?.inputs ?? {}) as JobInputs;
  } else {
    inputs = ((red as SingleRed).inputs ?? {}) as JobInputs;
    const outs = (red as SingleRed).outputs;
    if (outs && Object.keys(outs).length) warnings.push(`the RED sends outputs to connectors (${Object.keys(outs).join(', ')}); the draft collects them in the run folder instead`);
  }
  const cli = red.cli ?? ({ inputs: {}, outputs: {} } as unknown as Red['cli']);
  const base = Array.isArray(cli.baseCommand) ? cli.baseCommand.join(' ') : cli.baseCommand ?? '';
  if (!/^python3?$/.test(String(base).trim())) warnings.push(`the RED runs "${base}", not python3 with RED Lab's notebook runner; only what fits the runner was imported`);

  const settings = red.container?.settings;
  const draft: ExperimentDraft = {
    notebookPath,
    runnerPath: DEFAULT_RUNNER_PATH,
    image: settings?.image?.url ?? '',
    ramMb: typeof settings?.ram === 'number' ? settings.ram : 0,
    parameters: [],
    values: {},
    inputs: [],
    outputs: [],
    engine: 'docker'
  };
  if (settings?.image?.auth) warnings.push('the image registry credentials (container.settings.image.auth) are not part of the draft');
  if (!settings?.ram) warnings.push('the RED gives no RAM limit (container.settings.ram)');
  const gpus = settings?.gpus;
  if (gpus) {
    if (Array.isArray(gpus.devices) && gpus.devices.length) {
      const vram = Math.max(...gpus.devices.map(x => x.vramMin ?? 0));
      draft.gpus = { vramMinMb: vram };
      if (gpus.devices.length > 1) draft.gpus.count = gpus.devices.length;
      if (new Set(gpus.devices.map(x => x.vramMin)).size > 1) warnings.push(`the GPUs ask for different memory sizes; the draft asks ${vram} MB for each`);
    } else if (typeof gpus.count === 'number') draft.gpus = { count: gpus.count };
  }
  if (red.execution && red.execution.engine !== 'ccfaice') warnings.push(`the RED runs on ${red.execution.engine}; the draft runs on the local Docker engine`);

  const nbBase = posixBasename(notebookPath);
  for (const [key, def] of Object.entries(cli.inputs ?? {})) {
    const binding = def?.inputBinding ?? {};
    const prefix = typeof binding.prefix === 'string' ? binding.prefix : undefined;
    const value = inputs[key];
    const type = String(def?.type ?? '');
    const { item, list } = baseType(type);
    if (key === RUNNER_INPUT && prefix === undefined) {
      const path = isObj(value) && isObj((value as FileOrDirectory).connector) ? (value as FileOrDirectory).connector.access?.path : undefined;
      if ((value as FileOrDirectory)?.connector?.command === LOCAL_CONNECTOR && typeof path === 'string') draft.runnerPath = path;
      else warnings.push(`the runner input is not a local file; the draft uses ${DEFAULT_RUNNER_PATH}`);
      continue;
    }
    if (key === NOTEBOOK_INPUT && prefix === undefined) {
      const path = (value as FileOrDirectory)?.connector?.access?.path;
      if (typeof path !== 'string' || posixBasename(path) !== nbBase) {
        warnings.push(`the RED runs the notebook ${typeof path === 'string' ? path : '(not a local file)'}, not ${nbBase}`);
      }
      continue;
    }
    if (key === BOOLEANS_INPUT && prefix === BOOLEANS_PREFIX) continue;
    if (prefix && prefix.startsWith(INPUT_PREFIX) && (item === 'File' || item === 'Directory') && !list) {
      const name = prefix.slice(INPUT_PREFIX.length);
      if (name !== key) warnings.push(`input "${key}" is passed as ${prefix}; imported as "${key}"`);
      if (!isObj(value) || !isObj((value as FileOrDirectory).connector)) {
        warnings.push(`input "${key}" has no value in the RED; left out`);
        continue;
      }
      const v = value as FileOrDirectory;
      const input: DraftInput = { name: key, kind: item, connector: v.connector.command, access: { ...(v.connector.access ?? {}) } };
      if (typeof v.basename === 'string' && v.basename !== defaultInputBasename(input)) input.basename = v.basename;
      if (v.connector.mount !== undefined) input.mount = v.connector.mount;
      if (v.dirname !== undefined) warnings.push(`input "${key}": its dirname (${v.dirname}) is not kept; it goes to /cc/inputs/${key}/`);
      draft.inputs.push(input);
      continue;
    }
    if (prefix && /^--[A-Za-z_][A-Za-z0-9_]*$/.test(prefix) && PRIMITIVE_TYPES.concat(['long', 'double']).includes(item)) {
      const name = prefix.slice(2);
      const cwlItem = item === 'long' ? 'int' : item === 'double' ? 'float' : item;
      const p: NotebookParameter = { name, type: `${cwlItem}${list ? '[]' : ''}`, default: (value ?? null) as JobPrimitive };
      if (def.doc) p.doc = def.doc;
      if (value === undefined || value === null) {
        warnings.push(`parameter "${name}" has no value in the RED; left out`);
        continue;
      }
      if (list && binding.itemSeparator !== LIST_SEPARATOR) warnings.push(`parameter "${name}": its items are joined by ${JSON.stringify(binding.itemSeparator ?? ' ')}; the runner reads them joined by "${LIST_SEPARATOR}"`);
      if (type.endsWith('?')) warnings.push(`parameter "${name}" is optional in the RED; the draft always passes it`);
      p.default = Array.isArray(value) ? [...(value as JobPrimitive[])] : (value as JobPrimitive);
      draft.parameters.push(p);
      draft.values[name] = Array.isArray(value) ? [...(value as JobPrimitive[])] : (value as JobPrimitive);
      continue;
    }
    warnings.push(`input "${key}" (${type}${prefix ? `, ${prefix}` : ', positional'}) is not one the notebook runner takes; left out`);
  }

  const executed = executedNotebookName(notebookPath);
  for (const [key, def] of Object.entries(cli.outputs ?? {})) {
    if (def.type === 'stdout' || def.type === 'stderr') {
      warnings.push(`output "${key}" captures ${def.type}; the run log has it, so it is left out`);
      continue;
    }
    const glob = (def as { outputBinding?: { glob?: unknown } }).outputBinding?.glob;
    if (key === EXECUTED_NOTEBOOK_OUTPUT) {
      if (glob !== escapeGlob(executed)) warnings.push(`the executed notebook is collected as ${String(glob)}; the runner writes ${executed}`);
      continue;
    }
    if (typeof glob !== 'string') {
      warnings.push(`output "${key}" has no glob; left out`);
      continue;
    }
    const t = String(def.type);
    const out: DraftOutput = { name: key, glob, kind: t.startsWith('Directory') ? 'Directory' : 'File', optional: t.endsWith('?') };
    draft.outputs.push(out);
  }
  return { draft, warnings };
}
