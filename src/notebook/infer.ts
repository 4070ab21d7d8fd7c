// From a notebook to an ExperimentDraft, and from a draft to a RED 9 file that runs the
// notebook with RED Lab's runner (redlab_nbrun.py), and back (import, best effort).
//
// The command line of the RED (see jupyterlab_redlab/runner/redlab_nbrun.py):
//
//   python3 /cc/inputs/runner/redlab_nbrun.py /cc/inputs/notebook/<notebook>.ipynb
//           --<param> <value> ...            one per parameter, typed as in the parameters cell;
//                                            lists are ONE word, items joined by "," (itemSeparator)
//           --<flag>                         booleans: the bare flag when true, nothing when false
//           --redlab-types a=int,b=float[],c=json,d=int?
//                                            every parameter's type as the panel read it, so that the
//                                            runner converts values exactly so (never guessing), and
//                                            sets absent ones: false booleans, empty lists, None
//           --input-<name> /cc/inputs/<name>/<basename>
//                                            each further input; the notebook reads its path from
//                                            the environment variable REDLAB_INPUT_<NAME>
//           --redlab-collect <nameroot>_files --redlab-collect-skip results.csv,...
//                                            gather every other file the notebook writes (below)
//
// The executed notebook is always an output (`executed_notebook`, glob `<nameroot>.executed.ipynb`,
// written by the runner in the working directory /cc/outputs); the user's outputs are globs there.
// By default the draft's outputs are the files the code writes to literal names (outputs.ts), each
// its own File? output, and the folder `<nameroot>_files` (Directory?, `new_files`), into which the
// runner gathers every other file the notebook wrote in /cc/outputs: so everything the notebook
// writes comes back, and unticking (enabled: false) an output keeps its file out of the folder too.
// Host paths of local inputs (runner, notebook, data) are relative to the notebook's folder:
// the RED file belongs there too (see draftRedPath).
//
// Pure TypeScript: no DOM, no Node APIs.

import { toSortedYaml, compareCodePoints, pySplitext, posixBasename, posixDirname, posixJoin, splitCwlType, type CwlInput, type CwlOutput, type FileOrDirectory, type GpuRequirement, type JobInputs, type JobOutputs, type Red, type SingleRed } from '../red';
import { draftExecution, executionToDraft } from './draft-execution';
import { findWrittenFiles } from './outputs';
import { cellSource, cellTags, codeCellNumber, parametersSyntaxMessage, parseNotebookParameters } from './parameters';
import { RUNNER_FILENAME } from './runner-source';
import { NotebookNotRunnableError, type DraftInput, type DraftOutput, type ExperimentDraft, type NotebookParameter, type ParameterValue } from './types';

/** Where the panel writes the runner, relative to the notebook's folder. */
// A visible folder: Jupyter's contents API refuses to create hidden ones by default.
export const DEFAULT_RUNNER_PATH = `_redlab/${RUNNER_FILENAME}`;
export const LOCAL_CONNECTOR = 'redlab-connector-local';
/** cli input keys the RED uses for itself (a parameter of that name gets the key `param_<name>`). */
export const RUNNER_INPUT = 'runner';
export const NOTEBOOK_INPUT = 'notebook';
export const BOOLEANS_INPUT = 'redlab_booleans';
export const TYPES_INPUT = 'redlab_types';
export const COLLECT_INPUT = 'redlab_collect';
export const COLLECT_SKIP_INPUT = 'redlab_collect_skip';
/** The output key of the new-files folder. */
export const NEW_FILES_OUTPUT = 'new_files';
/** The cli output holding the executed notebook. */
export const EXECUTED_NOTEBOOK_OUTPUT = 'executed_notebook';
/** The separator of list parameters on the command line (one word: `--xs 1,2,3`). */
export const LIST_SEPARATOR = ',';
/** Prefix of further inputs on the runner's command line (`--input-data PATH`). */
export const INPUT_PREFIX = '--input-';
export const BOOLEANS_PREFIX = '--redlab-booleans';
export const TYPES_PREFIX = '--redlab-types';
export const COLLECT_PREFIX = '--redlab-collect';
export const COLLECT_SKIP_PREFIX = '--redlab-collect-skip';
/** The separator of the globs in --redlab-collect-skip. */
export const GLOB_SEPARATOR = ',';

const RESERVED_INPUT_KEYS = [RUNNER_INPUT, NOTEBOOK_INPUT, BOOLEANS_INPUT, TYPES_INPUT, COLLECT_INPUT, COLLECT_SKIP_INPUT];
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

/** The folder the runner gathers the notebook's other new files in: `<nameroot>_files` (as nbconvert names its). */
export function newFilesFolder(notebookPath: string): string {
  return `${notebookNameroot(notebookPath).replace(/[^A-Za-z0-9_.-]/g, '_').replace(/^[.]+/, '')}_files`;
}

/** The output that brings back every other file the notebook writes (see the header). */
export function newFilesOutput(notebookPath: string, name = NEW_FILES_OUTPUT): DraftOutput {
  return { name, glob: newFilesFolder(notebookPath), kind: 'Directory', optional: true, newFiles: true };
}

/** An output key for a file: its name with other characters than A-Z, a-z, 0-9, _ and - as `_`. */
export function outputNameFor(path: string): string {
  return posixBasename(path).replace(/[^A-Za-z0-9_-]/g, '_') || 'output';
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

/** The magics redlab_nbrun runs without IPython (its _KNOWN_LINE_MAGICS / _KNOWN_CELL_MAGICS); `!cmd` always. */
export const RUNNER_LINE_MAGICS = ['matplotlib', 'time', 'timeit', 'cd', 'pwd', 'env', 'pip', 'conda', 'load_ext', 'reload_ext', 'autoreload', 'aimport', 'config'];
export const RUNNER_CELL_MAGICS = ['bash', 'sh', 'writefile', 'capture', 'time', 'timeit'];
const MAGIC_LINE = /^\s*(%%?)(\w+)(.*)$/;

/** A magic line the container runner cannot run: a cell magic below a cell's first line, an unknown name, an extension other than autoreload. */
function unknownMagic(line: string, first: boolean): boolean {
  const m = MAGIC_LINE.exec(line);
  if (!m) return false;
  if (m[1] === '%%') return !first || !RUNNER_CELL_MAGICS.includes(m[2]);
  if (m[2] === 'load_ext' || m[2] === 'reload_ext') return m[3].trim() !== 'autoreload';
  return !RUNNER_LINE_MAGICS.includes(m[2]);
}

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
  let parametersError: string | undefined;
  if (parsed.cell < 0) {
    if (code.length > 0) {
      warnings.push(
        'no cell is tagged "parameters", so the run has no values to change: put the values in one code cell ' +
          '(samples = 200, noise = 0.3, ...) and tag it "parameters" (select the cell, open the property inspector ' +
          '(gear icon, right sidebar), Common Tools > Cell Tags > Add Tag)'
      );
    }
  } else {
    const paramsCell = codeCellNumber(cells, parsed.cell);
    const more = cells.filter((c, i) => i > parsed.cell && isObj(c) && c.cell_type === 'code' && cellTags(c).includes('parameters')).length;
    if (more) warnings.push(`${more + 1} cells are tagged "parameters"; only the first one (code cell ${paramsCell}) is used`);
    if (parsed.syntaxError) {
      parametersError = parametersSyntaxMessage(paramsCell, parsed.syntaxError.line, parsed.syntaxError.reason);
      warnings.push(parametersError);
    }
    for (const w of parsed.warnings) {
      warnings.push(`parameters cell (code cell ${paramsCell}), line ${w.line}: ${w.text}: ${w.reason}`);
    }
  }

  cells.forEach((c, i) => {
    if (!isObj(c) || c.cell_type !== 'code' || i === parsed.cell) return;
    const lines = cellSource(c).split('\n');
    const firstCode = lines.findIndex(l => l.trim() !== '');
    const magics = lines.filter((l, n) => unknownMagic(l, n === firstCode)).map(l => l.trim());
    if (magics.length) {
      warnings.push(
        `code cell ${codeCellNumber(cells, i)} uses IPython magics the container runner does not know (${magics.slice(0, 2).join(', ')}${magics.length > 2 ? ', …' : ''}): ` +
          'that cell would fail; write it in Python (it runs !cmd, %%bash, %%writefile, %%capture, %time, %timeit, %cd, %env, %pip, %conda, %matplotlib, %autoreload)'
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
    outputs: inferOutputs(cells, path)
  };
  if (parametersError) draft.parametersError = parametersError;
  if (opts.defaults.gpus !== undefined && opts.defaults.gpus > 0) draft.gpus = { count: opts.defaults.gpus };
  return { draft, warnings };
}

/** The files the code writes (optional File outputs, in the order found), then the new-files folder. */
function inferOutputs(cells: readonly unknown[], notebookPath: string): DraftOutput[] {
  const executed = executedNotebookName(notebookPath);
  const taken = new Set<string>([EXECUTED_NOTEBOOK_OUTPUT, NEW_FILES_OUTPUT]);
  const outputs: DraftOutput[] = [];
  for (const f of findWrittenFiles(cells)) {
    if (f.path === executed) continue;
    let name = outputNameFor(f.path);
    for (let n = 2; taken.has(name); n++) name = `${outputNameFor(f.path)}_${n}`;
    taken.add(name);
    outputs.push({ name, glob: escapeGlob(f.path), kind: 'File', optional: true, inferred: { codeCell: f.codeCell, line: f.line, code: f.code } });
  }
  outputs.push(newFilesOutput(notebookPath));
  return outputs;
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


/** The value a parameter runs with: the draft's, else the notebook's default (null: None). */
function valueOf(d: Pick<ExperimentDraft, 'values'>, p: NotebookParameter): ParameterValue {
  const v = p.name in d.values ? d.values[p.name] : p.default;
  return v === undefined ? null : v;
}

/** The parameters' types for the runner (--redlab-types): the CWL type, or json. */
export function runnerTypes(d: Pick<ExperimentDraft, 'parameters'>): string {
  // Sorted, so that a RED read back (its keys sorted) gives the same text.
  return d.parameters
    .map(p => `${p.name}=${p.json ? 'json' : p.type}`)
    .sort(compareCodePoints)
    .join(',');
}

/** Folder names the runner can create (no wildcards, no '/', not hidden). */
const FOLDER_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;

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
  if (d.parametersError) problems.push(d.parametersError);
  for (const p of d.parameters) {
    if (!RED_KEY.test(p.name)) problems.push(`parameter "${p.name}": a RED input name may only have A-Z, a-z, 0-9, _ and -`);
    const { base: item, array: list, optional } = splitCwlType(p.type);
    if (!PRIMITIVE_TYPES.includes(item) || (p.json && (item !== 'string' || list))) {
      problems.push(`parameter "${p.name}" has the type ${p.type}; parameters are int, float, string or boolean, or lists of them`);
      continue;
    }
    const v = valueOf(d, p);
    if (v === null) {
      if (!optional) problems.push(`parameter "${p.name}" has no value; give ${item === 'int' ? 'an' : 'a'} ${p.json ? 'JSON value' : p.type}`);
      continue;
    }
    if (p.json) {
      const error = typeof v === 'string' ? jsonError(v) : 'it is not text';
      if (error) problems.push(`parameter "${p.name}" takes a JSON value (a number, "text" in double quotes, true, false, null, [...] or {...}): ${error}`);
      continue;
    }
    if (list) {
      if (!Array.isArray(v)) problems.push(`parameter "${p.name}" is a list (${p.type}) but its value is not`);
      else if (v.some(x => !valueFits(item, x))) problems.push(`parameter "${p.name}": every item must be a ${item}`);
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
  const collecting = d.outputs.some(o => o.newFiles && o.enabled !== false);
  const globs = new Map<string, string>();
  for (const o of d.outputs) {
    if (!RED_KEY.test(o.name)) problems.push(`output "${o.name}": a RED output name may only have A-Z, a-z, 0-9, _ and -`);
    if (o.glob === executed) problems.push(`output "${o.name}": ${executed} is the executed notebook, already an output`);
    if (o.newFiles && !FOLDER_NAME.test(o.glob)) problems.push(`output "${o.name}": the folder for the new files must be a plain folder name (letters, digits, _ . -), not ${JSON.stringify(o.glob)}`);
    if (collecting && !o.newFiles && o.glob.includes(GLOB_SEPARATOR)) {
      problems.push(`output "${o.name}": its glob is passed to the runner in a list joined by "${GLOB_SEPARATOR}", so it cannot contain "${GLOB_SEPARATOR}"`);
    }
    if (o.enabled === false) continue;
    const other = globs.get(o.glob);
    if (other) problems.push(`outputs "${other}" and "${o.name}" both collect ${o.glob}; untick or remove one`);
    else globs.set(o.glob, o.name);
  }
  return problems;
}

function jsonError(text: string): string | undefined {
  try {
    JSON.parse(text);
    return undefined;
  } catch (e) {
    return (e as Error).message;
  }
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

/** The basename an input gets in the container when the draft gives none: the file name of its path, URL or remote path, else its name. */
export function defaultInputBasename(input: Pick<DraftInput, 'name' | 'access'>): string {
  // The connector's path field: local path, HTTP/FTP url, SFTP filePath/dirPath, S3 key/prefix.
  const raw = ['path', 'url', 'filePath', 'dirPath', 'key', 'prefix'].map(k => input.access[k]).find((v): v is string => typeof v === 'string' && v !== '') ?? '';
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
  for (const p of d.parameters) {
    const key = keys.get(p.name)!;
    const { base: item, array: list, optional } = splitCwlType(p.type);
    const binding: CwlInput['inputBinding'] = { prefix: `--${p.name}` };
    if (list) binding.itemSeparator = LIST_SEPARATOR;
    const input: CwlInput = { type: `${item}${list ? '[]' : ''}${optional ? '?' : ''}`, inputBinding: binding };
    if (p.doc) input.doc = p.doc;
    cliInputs[key] = input;
    const v = valueOf(d, p);
    if (v !== null) inputs[key] = Array.isArray(v) ? [...v] : v;
  }
  if (d.parameters.length) {
    cliInputs[TYPES_INPUT] = {
      type: 'string',
      inputBinding: { prefix: TYPES_PREFIX },
      doc: "The parameters' types, so that the runner reads the values as the panel does; those without their option are False, [] or None"
    };
    inputs[TYPES_INPUT] = runnerTypes(d);
  }
  const folder = d.outputs.find(o => o.newFiles && o.enabled !== false);
  if (folder) {
    cliInputs[COLLECT_INPUT] = { type: 'string', inputBinding: { prefix: COLLECT_PREFIX }, doc: 'The folder the runner gathers the other files the notebook writes in' };
    inputs[COLLECT_INPUT] = folder.glob;
    // Collected ones first, then the unticked ones (the order redToDraft gives them back in).
    const others = d.outputs.filter(o => !o.newFiles);
    const globs = (list: DraftOutput[]) => list.map(o => o.glob).sort(compareCodePoints);
    const skip = [...new Set([...globs(others.filter(o => o.enabled !== false)), ...globs(others.filter(o => o.enabled === false))])];
    if (skip.length) {
      cliInputs[COLLECT_SKIP_INPUT] = {
        type: 'string',
        inputBinding: { prefix: COLLECT_SKIP_PREFIX },
        doc: 'Globs of the files not to gather: collected as outputs of their own, or left out in the panel'
      };
      inputs[COLLECT_SKIP_INPUT] = skip.join(GLOB_SEPARATOR);
    }
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
    if (o.enabled === false) continue;
    cliOutputs[o.name] = { type: `${o.kind}${o.optional ? '?' : ''}` as 'File', outputBinding: { glob: o.glob } };
    if (o.newFiles) cliOutputs[o.name].doc = 'Every other file the notebook wrote in its working folder';
  }

  const sent: JobOutputs = {};
  for (const o of d.outputs) {
    if (o.enabled !== false && o.send) sent[o.name] = { class: o.kind, connector: { command: o.send.connector, access: { ...o.send.access } } };
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
    outputs: sent,
    container: { engine: 'docker', settings },
    // A cluster engine's settings where one is chosen; else ccfaice, which Curious Containers runs.
    execution: draftExecution(d) ?? { engine: 'ccfaice', settings: {} }
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
    const { base: item, array: list } = splitCwlType(p.type);
    if (item !== 'float' && item !== 'double') continue;
    const key = keys.get(p.name)!;
    const v = valueOf(d, p);
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
  }
  // Where outputs are sent (batches: the first one's), kept with each output below.
  const sentTo = (('batches' in red && Array.isArray(red.batches) ? red.batches[0]?.outputs : (red as SingleRed).outputs) ?? {}) as JobOutputs;
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
    outputs: []
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
  // A cluster engine and its settings are the draft's too; another engine is this session's choice (the panel's select).
  Object.assign(draft, executionToDraft(red.execution));
  if (red.execution && red.execution.engine !== 'ccfaice' && !draft.engine) warnings.push(`the RED runs on ${red.execution.engine}; the draft runs on the engine chosen in the panel`);

  const nbBase = posixBasename(notebookPath);
  const ownString = (key: string, prefix: string): string | undefined => {
    const def = cli.inputs?.[key];
    return def?.inputBinding?.prefix === prefix && typeof inputs[key] === 'string' ? (inputs[key] as string) : undefined;
  };
  const declared = new Map(
    (ownString(TYPES_INPUT, TYPES_PREFIX) ?? '')
      .split(',')
      .filter(Boolean)
      .map(part => part.split('=') as [string, string])
  );
  const collect = ownString(COLLECT_INPUT, COLLECT_PREFIX);
  const skip = (ownString(COLLECT_SKIP_INPUT, COLLECT_SKIP_PREFIX) ?? '').split(GLOB_SEPARATOR).filter(Boolean);
  for (const [key, def] of Object.entries(cli.inputs ?? {})) {
    const binding = def?.inputBinding ?? {};
    const prefix = typeof binding.prefix === 'string' ? binding.prefix : undefined;
    const value = inputs[key];
    const type = String(def?.type ?? '');
    const { base: item, array: list } = splitCwlType(type);
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
    if ((key === BOOLEANS_INPUT && prefix === BOOLEANS_PREFIX) || (key === TYPES_INPUT && prefix === TYPES_PREFIX)) continue;
    if ((key === COLLECT_INPUT && prefix === COLLECT_PREFIX) || (key === COLLECT_SKIP_INPUT && prefix === COLLECT_SKIP_PREFIX)) continue;
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
      const optional = type.endsWith('?');
      if ((value === undefined || value === null) && !optional && !(list || item === 'boolean')) {
        warnings.push(`parameter "${name}" has no value in the RED; left out`);
        continue;
      }
      // What the runner makes of an absent option (see --redlab-types): None, [] or False.
      const given: ParameterValue = value !== undefined && value !== null ? (value as ParameterValue) : optional ? null : list ? [] : false;
      const p: NotebookParameter = { name, type: `${cwlItem}${list ? '[]' : ''}${optional ? '?' : ''}`, default: Array.isArray(given) ? [...given] : given };
      if (declared.get(name) === 'json' && cwlItem === 'string' && !list) p.json = true;
      if (def.doc) p.doc = def.doc;
      if (list && binding.itemSeparator !== LIST_SEPARATOR) warnings.push(`parameter "${name}": its items are joined by ${JSON.stringify(binding.itemSeparator ?? ' ')}; the runner reads them joined by "${LIST_SEPARATOR}"`);
      draft.parameters.push(p);
      draft.values[name] = Array.isArray(given) ? [...given] : given;
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
    if (collect !== undefined && glob === collect && out.kind === 'Directory') out.newFiles = true;
    const target = sentTo[key];
    if (isObj(target) && isObj(target.connector) && typeof target.connector.command === 'string') {
      out.send = { connector: target.connector.command, access: { ...(isObj(target.connector.access) ? target.connector.access : {}) } };
    }
    draft.outputs.push(out);
  }
  const notSent = Object.keys(sentTo).filter(k => !draft.outputs.some(o => o.name === k && o.send));
  if (notSent.length) warnings.push(`the RED sends outputs the draft does not keep (${notSent.join(', ')}); they are not sent`);
  // Globs kept out of the new-files folder without an output of their own: outputs unticked in the panel.
  const taken = new Set(draft.outputs.map(o => o.name).concat(EXECUTED_NOTEBOOK_OUTPUT));
  for (const glob of skip) {
    if (draft.outputs.some(o => o.glob === glob)) continue;
    let name = outputNameFor(glob);
    for (let n = 2; taken.has(name); n++) name = `${outputNameFor(glob)}_${n}`;
    taken.add(name);
    draft.outputs.push({ name, glob, kind: 'File', optional: true, enabled: false });
  }
  return { draft, warnings };
}
