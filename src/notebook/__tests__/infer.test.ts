import * as fs from 'fs';
import * as path from 'path';
import { buildCommand, formatCommandLine, inputContainerPath, loadRed, toSortedYaml, validateRed, type SingleRed } from '../../red';
import {
  checkDraft,
  DEFAULT_RUNNER_PATH,
  draftFloatPaths,
  draftRedPath,
  draftRunnerFile,
  draftToRed,
  draftToRedYaml,
  executedNotebookName,
  inferDraft,
  inputEnvVar,
  redToDraft
} from '../infer';
import { NotebookNotRunnableError, type ExperimentDraft } from '../types';

const demoPath = path.join(__dirname, '../../../binder/demo/demo.ipynb');
const demo = JSON.parse(fs.readFileSync(demoPath, 'utf8'));
const defaults = { image: 'redlab/debian-python:12', ramMb: 1024 };

function notebook(cells: Array<{ type?: string; source: string; tags?: string[] }>, metadata: Record<string, unknown> = { kernelspec: { name: 'python3', language: 'python', display_name: 'Python 3' } }) {
  return {
    nbformat: 4,
    nbformat_minor: 5,
    metadata,
    cells: cells.map(c => ({ cell_type: c.type ?? 'code', metadata: c.tags ? { tags: c.tags } : {}, source: c.source, outputs: [], execution_count: null }))
  };
}

/** The RED as a RED file: written with its floats, read back and validated by the real core. */
function roundTrip(d: ExperimentDraft) {
  const text = draftToRedYaml(d);
  const loaded = loadRed(text, { source: 'draft.red.yml' });
  expect(loaded.warnings).toEqual([]);
  return { text, loaded, argv: buildCommand(loaded.red.cli, (loaded.red as SingleRed).inputs, { containerPathOf: inputContainerPath, floatPaths: loaded.floatPaths }) };
}

describe('inferDraft', () => {
  it('reads the demo notebook: its parameters, the defaults, the runner, the files it writes and the new-files folder', () => {
    const { draft, warnings } = inferDraft(demo, { notebookPath: 'demo/demo.ipynb', defaults });
    expect(warnings).toEqual([]);
    expect(draft).toEqual({
      notebookPath: 'demo/demo.ipynb',
      runnerPath: '_redlab/redlab_nbrun.py',
      image: 'redlab/debian-python:12',
      ramMb: 1024,
      parameters: [
        { name: 'samples', type: 'int', default: 200, doc: 'number of steps of the walk' },
        { name: 'noise', type: 'float', default: 0.3, doc: 'standard deviation of one step' },
        { name: 'title', type: 'string', default: 'Random walk', doc: 'title of the plot' },
        { name: 'seed', type: 'int', default: 42, doc: 'random seed: the same seed gives the same walk' }
      ],
      values: { samples: 200, noise: 0.3, title: 'Random walk', seed: 42 },
      inputs: [],
      outputs: [
        { name: 'results_csv', glob: 'results.csv', kind: 'File', optional: true, inferred: { codeCell: 4, line: 1, code: 'with open("results.csv", "w", newline="") as f:' } },
        { name: 'metrics_json', glob: 'metrics.json', kind: 'File', optional: true, inferred: { codeCell: 4, line: 5, code: 'with open("metrics.json", "w") as f:' } },
        { name: 'walk_svg', glob: 'walk.svg', kind: 'File', optional: true, inferred: { codeCell: 5, line: 21, code: 'with open("walk.svg", "w") as f:' } },
        { name: 'new_files', glob: 'demo_files', kind: 'Directory', optional: true, newFiles: true }
      ]
    });
    expect(DEFAULT_RUNNER_PATH).toBe('_redlab/redlab_nbrun.py');
  });

  it('accepts the notebook as JSON text, and asks for GPUs when the defaults do', () => {
    const { draft } = inferDraft(JSON.stringify(demo), { notebookPath: 'demo.ipynb', defaults: { ...defaults, gpus: 2 } });
    expect(draft.gpus).toEqual({ count: 2 });
    expect(draft.parameters).toHaveLength(4);
  });

  it('refuses a non-Python kernel, naming it and how to fix it', () => {
    const r = notebook([{ source: 'x <- 1' }], { kernelspec: { name: 'ir', language: 'R', display_name: 'R 4.3' } });
    let err: unknown;
    try {
      inferDraft(r, { notebookPath: 'analysis.ipynb', defaults });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(NotebookNotRunnableError);
    expect((err as Error).message).toBe('analysis.ipynb uses the R 4.3 (R) kernel; RED Lab runs Python notebooks only');
    expect((err as NotebookNotRunnableError).fix).toMatch(/switch the notebook to a Python kernel/);
    // language_info alone counts too
    expect(() => inferDraft(notebook([{ source: '1' }], { language_info: { name: 'julia' } }), { notebookPath: 'j.ipynb', defaults })).toThrow(/julia/);
  });

  it('refuses invalid notebooks', () => {
    expect(() => inferDraft('{"cells": [', { notebookPath: 'broken.ipynb', defaults })).toThrow(NotebookNotRunnableError);
    expect(() => inferDraft('{"cells": [', { notebookPath: 'broken.ipynb', defaults })).toThrow(/broken\.ipynb is not a valid notebook: its JSON does not parse/);
    expect(() => inferDraft({ hello: 1 }, { notebookPath: 'x.ipynb', defaults })).toThrow(/no list of cells/);
    expect(() => inferDraft(null, { notebookPath: 'x.ipynb', defaults })).toThrow(NotebookNotRunnableError);
    expect(() => inferDraft({ nbformat: 3, cells: [] }, { notebookPath: 'old.ipynb', defaults })).toThrow(/format 3/);
  });

  it('says how to add a parameters cell when there is none', () => {
    const { draft, warnings } = inferDraft(notebook([{ source: 'x = 1\nprint(x)' }]), { notebookPath: 'a.ipynb', defaults });
    expect(draft.parameters).toEqual([]);
    expect(draft.values).toEqual({});
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/no cell is tagged "parameters"/);
    expect(warnings[0]).toMatch(/tag it "parameters"/);
  });

  it('gives a draft with a warning for an empty notebook', () => {
    const { draft, warnings } = inferDraft(notebook([]), { notebookPath: 'empty.ipynb', defaults });
    expect(draft.parameters).toEqual([]);
    expect(warnings).toEqual(['empty.ipynb has no code to run yet: the container would only copy the notebook']);
    const blank = inferDraft(notebook([{ type: 'markdown', source: '# Title' }, { source: '  \n' }]), { notebookPath: 'blank.ipynb', defaults });
    expect(blank.warnings[0]).toMatch(/no code to run/);
  });

  it('passes on the parameters cell warnings with the cell and line, and warns about magics and a missing kernel language', () => {
    const nb = notebook(
      [
        { type: 'markdown', source: 'intro' },
        { source: 'import os\nalpha = 0.5\nbeta = None\ngamma = (1, 2)', tags: ['parameters'] },
        { source: '%pip install numpy\n!ls data\n%matplotlib inline\n%load_ext tensorboard\n%who\n%%bash\nprint(alpha)' },
        { source: 'x = 2', tags: ['parameters'] }
      ],
      {}
    );
    const { draft, warnings } = inferDraft(nb, { notebookPath: 'p.ipynb', defaults });
    expect(draft.parameters.map(p => [p.name, p.type, p.default, p.json])).toEqual([
      ['alpha', 'float', 0.5, undefined],
      ['beta', 'string', 'null', true]
    ]);
    expect(draft.parametersError).toBeUndefined();
    // Cells are named by their place among the code cells, as the runner names them.
    expect(warnings).toEqual([
      'p.ipynb does not say which language its kernel runs; assuming Python',
      '2 cells are tagged "parameters"; only the first one (code cell 1) is used',
      expect.stringMatching(/^parameters cell \(code cell 1\), line 1: import os: an import is not a parameter/),
      expect.stringMatching(/^parameters cell \(code cell 1\), line 4: gamma = \(1, 2\): a tuple is not supported/),
      // The magics the runner runs (%pip, !ls, %matplotlib) are fine; the others are named.
      expect.stringMatching(/^code cell 2 uses IPython magics the container runner does not know \(%load_ext tensorboard, %who, …\): that cell would fail/)
    ]);
  });

  it('refuses to run a parameters cell with a syntax error, naming the code cell and line as the runner does', () => {
    const nb = notebook([{ type: 'markdown', source: 'intro' }, { source: 'import os' }, { source: 'a = 1\nb = [1,\n', tags: ['parameters'] }]);
    const { draft, warnings } = inferDraft(nb, { notebookPath: 'p.ipynb', defaults });
    const message = 'the parameters cell (code cell 2) has a syntax error on line 2: "[" is never closed; fix it in the notebook';
    expect(draft.parametersError).toBe(message);
    expect(warnings).toEqual([message]);
    expect(draft.parameters).toEqual([]);
    expect(checkDraft(draft)).toEqual([message]);
  });
});

describe('draftToRed', () => {
  const base = () => inferDraft(demo, { notebookPath: 'demo/demo.ipynb', defaults }).draft;

  it('writes a valid RED 9 whose command runs the runner on the notebook with every parameter', () => {
    const d = base();
    const red = draftToRed(d);
    expect(validateRed(red, { floatPaths: draftFloatPaths(d) })).toEqual([]);
    // In the draft's order (the notebook's) when built from the object ...
    const argv = buildCommand(red.cli, red.inputs, { containerPathOf: inputContainerPath, floatPaths: draftFloatPaths(d) });
    expect(argv).toEqual([
      'python3',
      '/cc/inputs/runner/redlab_nbrun.py',
      '/cc/inputs/notebook/demo.ipynb',
      '--samples',
      '200',
      '--noise',
      '0.3',
      '--title',
      'Random walk',
      '--seed',
      '42',
      '--redlab-types',
      'noise=float,samples=int,seed=int,title=string',
      '--redlab-collect',
      'demo_files',
      '--redlab-collect-skip',
      'metrics.json,results.csv,walk.svg'
    ]);
    // ... and in key order from the RED file (faice's format sorts keys; the runner takes flags in any order).
    expect(formatCommandLine(roundTrip(d).argv)).toBe(
      'python3 /cc/inputs/runner/redlab_nbrun.py /cc/inputs/notebook/demo.ipynb --noise 0.3 --redlab-collect demo_files ' +
        "--redlab-collect-skip metrics.json,results.csv,walk.svg --redlab-types noise=float,samples=int,seed=int,title=string --samples 200 --seed 42 --title 'Random walk'"
    );
    expect(red.inputs.runner).toEqual({ class: 'File', basename: 'redlab_nbrun.py', connector: { command: 'redlab-connector-local', access: { path: '_redlab/redlab_nbrun.py' } } });
    // relative to the notebook's folder, where the RED file goes
    expect(red.inputs.notebook).toEqual({ class: 'File', basename: 'demo.ipynb', connector: { command: 'redlab-connector-local', access: { path: 'demo.ipynb' } } });
    expect(red.cli.outputs).toEqual({
      executed_notebook: { type: 'File', outputBinding: { glob: 'demo.executed.ipynb' }, doc: expect.any(String) },
      results_csv: { type: 'File?', outputBinding: { glob: 'results.csv' } },
      metrics_json: { type: 'File?', outputBinding: { glob: 'metrics.json' } },
      walk_svg: { type: 'File?', outputBinding: { glob: 'walk.svg' } },
      new_files: { type: 'Directory?', outputBinding: { glob: 'demo_files' }, doc: expect.any(String) }
    });
    expect(red.container).toEqual({ engine: 'docker', settings: { image: { url: 'redlab/debian-python:12' }, ram: 1024 } });
    expect(red.execution).toEqual({ engine: 'ccfaice', settings: {} });
    expect(red.cli.inputs.noise).toEqual({ type: 'float', inputBinding: { prefix: '--noise' }, doc: 'standard deviation of one step' });
    expect(draftRedPath(d.notebookPath)).toBe('demo/demo.red.yml');
    expect(draftRunnerFile(d)).toBe('demo/_redlab/redlab_nbrun.py');
    expect(executedNotebookName('a/b.c.ipynb')).toBe('b.c.executed.ipynb');
  });

  it('keeps float values floats: 0.0 and 2.0 render as Python writes them, in YAML and on the command line', () => {
    const d = base();
    d.values.noise = 0;
    d.parameters.push({ name: 'weights', type: 'float[]', default: [1, 0.5] });
    d.values.weights = [2, 0.25, 3];
    const { text, argv } = roundTrip(d);
    expect(text).toContain('  noise: 0.0\n');
    expect(text).toMatch(/weights:\n {2}- 2\.0\n {2}- 0\.25\n {2}- 3\.0\n/);
    expect(argv.slice(3, 5)).toEqual(['--noise', '0.0']);
    expect(argv.slice(-2)).toEqual(['--weights', '2.0,0.25,3.0']);
    expect([...draftFloatPaths(d)].sort()).toEqual(['inputs.noise', 'inputs.weights.0', 'inputs.weights.1', 'inputs.weights.2']);
  });

  it('passes booleans as bare flags and every type for the runner; lists as one comma-joined word', () => {
    const d = base();
    d.outputs = [];
    d.parameters.push({ name: 'verbose', type: 'boolean', default: true }, { name: 'dry_run', type: 'boolean', default: false }, { name: 'ks', type: 'int[]', default: [1, 2] }, { name: 'tags', type: 'string[]', default: ['a'] });
    Object.assign(d.values, { verbose: false, dry_run: true, ks: [3, 4, 5], tags: ['x', 'y z'] });
    const { argv, loaded } = roundTrip(d);
    expect(formatCommandLine(argv.slice(3))).toBe(
      "--dry_run --ks 3,4,5 --noise 0.3 --redlab-types 'dry_run=boolean,ks=int[],noise=float,samples=int,seed=int,tags=string[],title=string,verbose=boolean' --samples 200 --seed 42 --tags 'x,y z' --title 'Random walk'"
    );
    expect(loaded.red.cli.inputs.ks.inputBinding).toEqual({ prefix: '--ks', itemSeparator: ',' });
    expect(checkDraft(d)).toEqual([]);
  });

  it('adds further inputs as --input-NAME files/folders, and outputs as globs', () => {
    const d = base();
    d.inputs.push(
      { name: 'data', kind: 'File', connector: 'redlab-connector-local', access: { path: 'data/in.txt' } },
      { name: 'images', kind: 'Directory', connector: 'redlab-connector-local', access: { path: '../shared/images' }, basename: 'imgs', mount: true },
      { name: 'remote', kind: 'File', connector: 'red-connector-http', access: { url: 'https://example.org/files/table.csv?raw=1', auth: { username: '{{user}}', password: '{{pw}}' } } }
    );
    d.outputs = [{ name: 'metrics', glob: 'metrics.json', kind: 'File', optional: false }, { name: 'plots', glob: 'plots', kind: 'Directory', optional: true }];
    const red = draftToRed(d);
    expect(red.inputs.data).toEqual({ class: 'File', basename: 'in.txt', connector: { command: 'redlab-connector-local', access: { path: 'data/in.txt' } } });
    expect(red.inputs.images).toEqual({ class: 'Directory', basename: 'imgs', connector: { command: 'redlab-connector-local', access: { path: '../shared/images' }, mount: true } });
    expect((red.inputs.remote as { basename: string }).basename).toBe('table.csv');
    expect(red.cli.inputs.data).toEqual({ type: 'File', inputBinding: { prefix: '--input-data' }, doc: 'In the notebook: os.environ["REDLAB_INPUT_DATA"]' });
    expect(red.cli.outputs.metrics).toEqual({ type: 'File', outputBinding: { glob: 'metrics.json' } });
    expect(red.cli.outputs.plots).toEqual({ type: 'Directory?', outputBinding: { glob: 'plots' } });
    expect(loadRed(toSortedYaml(red, { floatPaths: draftFloatPaths(d) })).warnings).toEqual([]);
    const argv = buildCommand(red.cli, red.inputs, { containerPathOf: inputContainerPath, floatPaths: draftFloatPaths(d) });
    expect(argv.slice(13)).toEqual(['--input-data', '/cc/inputs/data/in.txt', '--input-images', '/cc/inputs/images/imgs', '--input-remote', '/cc/inputs/remote/table.csv']);
    expect(inputEnvVar('my-data.v2')).toBe('REDLAB_INPUT_MY_DATA_V2');
  });

  it('maps GPUs to a count or to devices with memory', () => {
    const d = base();
    d.gpus = { count: 2 };
    expect(draftToRed(d).container.settings.gpus).toEqual({ vendor: 'nvidia', count: 2 });
    d.gpus = { vramMinMb: 8000 };
    expect(draftToRed(d).container.settings.gpus).toEqual({ vendor: 'nvidia', devices: [{ vramMin: 8000 }] });
    d.gpus = { count: 2, vramMinMb: 4096 };
    expect(draftToRed(d).container.settings.gpus).toEqual({ vendor: 'nvidia', devices: [{ vramMin: 4096 }, { vramMin: 4096 }] });
    expect(validateRed(draftToRed(d))).toEqual([]);
    d.gpus = {};
    expect(draftToRed(d).container.settings.gpus).toBeUndefined();
  });

  it('gives a parameter named like a RED Lab input its own key, and refuses colliding names', () => {
    const d = base();
    d.parameters.push({ name: 'notebook', type: 'string', default: 'x' });
    d.values.notebook = 'x';
    const red = draftToRed(d);
    expect(red.cli.inputs.param_notebook).toEqual({ type: 'string', inputBinding: { prefix: '--notebook' } });
    expect(red.inputs.param_notebook).toBe('x');
    d.inputs.push({ name: 'seed', kind: 'File', connector: 'redlab-connector-local', access: { path: 's.txt' } });
    expect(() => draftToRed(d)).toThrow('input "seed" and parameter "seed" would both be the RED input "seed"; rename one of them');
    const e = base();
    e.outputs.push({ name: 'executed_notebook', glob: 'x', kind: 'File', optional: false });
    expect(() => draftToRed(e)).toThrow(/RED Lab's own/);
  });

  it('checkDraft reports values that do not fit, and lists the runner cannot receive', () => {
    const d = base();
    d.values.samples = 2.5;
    d.values.title = 3 as unknown as string;
    d.parameters.push({ name: 'names', type: 'string[]', default: ['a'] }, { name: 'none', type: 'int[]', default: [1] });
    d.values.names = ['a,b'];
    d.values.none = [];
    d.parameters.push({ name: 'cfg', type: 'string', default: '{}', json: true }, { name: 'maybe', type: 'int?', default: null }, { name: 'must', type: 'int', default: 1 });
    d.values.cfg = "{'a': 1}";
    d.values.must = null;
    d.outputs.push({ name: 'nb', glob: 'demo.executed.ipynb', kind: 'File', optional: false }, { name: 'again', glob: 'results.csv', kind: 'File', optional: true }, { name: 'comma', glob: 'a,b.txt', kind: 'File', optional: true });
    d.outputs.push({ name: 'off', glob: 'a,b.txt', kind: 'File', optional: true, enabled: false }, { name: 'folder', glob: '../up', kind: 'Directory', optional: true, newFiles: true, enabled: false });
    expect(checkDraft(d)).toEqual([
      'parameter "samples" is an int but its value is 2.5',
      'parameter "title" is a string but its value is 3',
      'parameter "names": list items are passed joined by ",", so an item cannot contain ","',
      expect.stringMatching(/^parameter "cfg" takes a JSON value \(a number, "text" in double quotes, true, false, null, \[...\] or \{...\}\): /),
      'parameter "must" has no value; give an int',
      'output "nb": demo.executed.ipynb is the executed notebook, already an output',
      'outputs "results_csv" and "again" both collect results.csv; untick or remove one',
      'output "comma": its glob is passed to the runner in a list joined by ",", so it cannot contain ","',
      'output "off": its glob is passed to the runner in a list joined by ",", so it cannot contain ","',
      'output "folder": the folder for the new files must be a plain folder name (letters, digits, _ . -), not "../up"'
    ]);
  });
});

describe('redToDraft', () => {
  it('round-trips a draft through its RED', () => {
    const { draft } = inferDraft(demo, { notebookPath: 'demo/demo.ipynb', defaults });
    draft.values.noise = 0.6;
    draft.gpus = { count: 1 };
    draft.parameters.push({ name: 'flag', type: 'boolean', default: true }, { name: 'xs', type: 'float[]', default: [1.5] });
    draft.values.flag = false;
    draft.values.xs = [1, 2.5];
    draft.inputs.push({ name: 'data', kind: 'File', connector: 'redlab-connector-local', access: { path: 'data/in.txt' } });
    draft.parameters.push({ name: 'cfg', type: 'string', default: '{"a": 1}', json: true }, { name: 'maybe', type: 'int?', default: null }, { name: 'ks', type: 'int[]', default: [1] });
    Object.assign(draft.values, { cfg: '{"a": 2}', maybe: null, ks: [] });
    // the inferred walk.svg unticked: not collected, and kept out of the new-files folder
    draft.outputs = draft.outputs.filter(o => o.glob !== 'walk.svg').map(o => ({ ...o, inferred: undefined }));
    draft.outputs.push({ name: 'walk_svg', glob: 'walk.svg', kind: 'File', optional: true, enabled: false });
    draft.outputs.push({ name: 'metrics', glob: 'metrics.json', kind: 'File', optional: false }, { name: 'svg', glob: '*.svg', kind: 'File', optional: true });
    for (const o of draft.outputs) if (o.inferred === undefined) delete o.inferred;
    const red = draftToRed(draft);
    expect(red.inputs.redlab_collect_skip).toBe('*.svg,metrics.json,results.csv,walk.svg');
    expect(red.cli.outputs.walk_svg).toBeUndefined();
    const back = redToDraft(red, 'demo/demo.ipynb');
    expect(back.warnings).toEqual([]);
    expect(back.draft.values).toEqual(draft.values);
    expect(back.draft.parameters.map(p => [p.name, p.type, p.doc, p.json])).toEqual(draft.parameters.map(p => [p.name, p.type, p.doc, p.json]));
    expect(back.draft.inputs).toEqual(draft.inputs);
    expect(back.draft.outputs).toEqual([...draft.outputs.filter(o => o.enabled !== false), ...draft.outputs.filter(o => o.enabled === false)]);
    expect(back.draft.gpus).toEqual({ count: 1 });
    // the defaults become the RED's values: the same RED again
    expect(draftToRed(back.draft)).toEqual(red);
    // and through the YAML text, float-ness included
    const loaded = loadRed(draftToRedYaml(draft));
    expect(draftToRedYaml(redToDraft(loaded.red, 'demo/demo.ipynb').draft)).toBe(draftToRedYaml(draft));
  });

  it('round-trips SFTP inputs and outputs sent with a connector, in Curious Containers\' access fields', () => {
    const { draft } = inferDraft(demo, { notebookPath: 'demo/demo.ipynb', defaults });
    const ssh = { host: 'lab', port: 22, auth: { username: 'ann', password: '{{sftp_password}}' } };
    draft.inputs.push({ name: 'sftp', kind: 'File', connector: 'red-connector-ssh', access: { ...ssh, filePath: '/data/tiles.csv' } });
    draft.outputs = draft.outputs.map(o => ({ ...o, inferred: undefined }));
    for (const o of draft.outputs) delete o.inferred;
    draft.outputs.push({ name: 'weights', glob: 'weights.h5', kind: 'File', optional: false, send: { connector: 'red-connector-ssh', access: { ...ssh, filePath: '/results/weights.h5' } } });
    const red = draftToRed(draft);
    expect(red.inputs.sftp).toEqual({ class: 'File', basename: 'tiles.csv', connector: { command: 'red-connector-ssh', access: { ...ssh, filePath: '/data/tiles.csv' } } });
    expect(red.outputs).toEqual({ weights: { class: 'File', connector: { command: 'red-connector-ssh', access: { ...ssh, filePath: '/results/weights.h5' } } } });
    const loaded = loadRed(draftToRedYaml(draft));
    const back = redToDraft(loaded.red, 'demo/demo.ipynb');
    expect(back.warnings).toEqual([]);
    expect(back.draft.inputs).toEqual(draft.inputs);
    expect(back.draft.outputs.find(o => o.name === 'weights')?.send).toEqual(draft.outputs.find(o => o.name === 'weights')!.send);
    expect(draftToRed(back.draft)).toEqual(red);
  });

  it('reads a RED from a runner elsewhere, and warns about what it cannot map', () => {
    const red = loadRed(fs.readFileSync(path.join(__dirname, '../../../binder/demo/grep.red.yml'), 'utf8')).red;
    const { draft, warnings } = redToDraft(red, 'demo/grep.ipynb');
    expect(draft.image).toBe('redlab/busybox:1');
    expect(draft.ramMb).toBe(256);
    expect(draft.runnerPath).toBe(DEFAULT_RUNNER_PATH);
    expect(draft.parameters).toEqual([]);
    expect(warnings).toEqual([
      'the RED runs "grep", not python3 with RED Lab\'s notebook runner; only what fits the runner was imported',
      'input "query_term" (string, positional) is not one the notebook runner takes; left out',
      'input "text_file" (File, positional) is not one the notebook runner takes; left out',
      // -B is not a --name prefix
      'input "before_context" (int?, -B) is not one the notebook runner takes; left out',
      'output "matches" captures stdout; the run log has it, so it is left out'
    ]);
  });

  it('uses the first batch of a batch RED, and reads GPU devices', () => {
    const { draft } = inferDraft(demo, { notebookPath: 'demo.ipynb', defaults });
    draft.gpus = { vramMinMb: 2048 };
    const red = draftToRed(draft);
    const { inputs, outputs, ...rest } = red;
    void outputs;
    const batch = { ...rest, batches: [{ inputs }, { inputs: { ...inputs, samples: 7 } }] };
    const back = redToDraft(batch, 'demo.ipynb');
    expect(back.warnings).toEqual(['the RED has 2 batches; only the first one\'s values are used']);
    expect(back.draft.values.samples).toBe(200);
    expect(back.draft.gpus).toEqual({ vramMinMb: 2048 });
  });
});
