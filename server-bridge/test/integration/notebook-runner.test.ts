// A notebook run as RED Lab runs it: the draft inferred from the notebook, its RED written
// as a file, the built `redlab` CLI on a real Docker engine with the stdlib-only Python image,
// and redlab_nbrun.py (the text embedded in the frontend) executing the notebook in there.
// Needs `npm run build:core && npm run build -w server-bridge` and the local base images.
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { inferDraft, executedNotebookName } from '../../../src/notebook/infer';
import { IPYKERNEL, PYTHON, removeTempDirs, tempDir } from '../helpers/red';
import { prepare } from '../helpers/notebook';

const repo = path.resolve(__dirname, '../../..');
const bin = path.join(repo, 'server-bridge/bin/redlab.js');
const demoNotebook = path.join(repo, 'binder/demo/demo.ipynb');

/** A code cell as nbformat 4 writes it, with optional tags. */
function cell(source: string, tags?: string[]) {
  return { cell_type: 'code', execution_count: null, metadata: tags ? { tags } : {}, outputs: [], source };
}

/** An nbformat 4 notebook with a Python 3 kernel. */
function pythonNotebook<C extends object>(cells: C[]) {
  return { nbformat: 4, nbformat_minor: 4, metadata: { kernelspec: { name: 'python3', language: 'python', display_name: 'Python 3' } }, cells };
}

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  /** ms from the start until `marker` first showed on stderr, and until the CLI exited. */
  firstMarkerAt?: number;
  exitedAt: number;
}

function redlab(args: string[], cwd: string, marker?: RegExp): Promise<Run> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const child = spawn(process.execPath, [bin, ...args], { cwd, env: process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let firstMarkerAt: number | undefined;
    child.stdout.on('data', d => (stdout += d));
    child.stderr.on('data', d => {
      stderr += d;
      if (marker && firstMarkerAt === undefined && marker.test(stderr)) firstMarkerAt = Date.now() - started;
    });
    child.on('error', reject);
    child.on('close', code => resolve({ code, stdout, stderr, firstMarkerAt, exitedAt: Date.now() - started }));
  });
}

type Cell = { cell_type: string; id?: string; metadata: { tags?: string[]; papermill?: Record<string, unknown> }; source: string | string[]; outputs?: Array<Record<string, any>>; execution_count?: number | null };
const text = (v: string | string[]) => (Array.isArray(v) ? v.join('') : v);
const readNotebook = (file: string) => JSON.parse(fs.readFileSync(file, 'utf8')) as { cells: Cell[]; metadata: Record<string, any> };

let dir: string;
beforeEach(async () => {
  dir = await tempDir('redlab-nbrun-');
});
afterAll(() => removeTempDirs());

describe('notebooks run in a container with redlab_nbrun.py', () => {
  it('runs the demo notebook with changed values, streaming its progress; the files it writes come back by default', async () => {
    const notebook = JSON.parse(fs.readFileSync(demoNotebook, 'utf8'));
    const { draft, warnings } = inferDraft(notebook, { notebookPath: 'demo.ipynb', defaults: { image: PYTHON, ramMb: 512 } });
    expect(warnings).toEqual([]);
    Object.assign(draft.values, { samples: 120, noise: 0, title: 'Walk "quoted"' });
    // No outputs added by hand: the draft's own (found in the code, and the new-files folder).
    const red = prepare(dir, draft, notebook);
    expect(fs.readFileSync(red, 'utf8')).toContain('  noise: 0.0\n');
    const outdir = path.join(dir, 'out');

    const r = await redlab(['run', red, '--outdir', outdir, '--json'], dir, /step \d+\/120: position/);
    expect(r.stderr).not.toMatch(/Traceback/);
    expect(r.code).toBe(0);
    const result = JSON.parse(r.stdout);
    expect(result.state).toBe('succeeded');
    expect(result.command).toEqual([
      'python3',
      '/cc/inputs/runner/redlab_nbrun.py',
      '/cc/inputs/notebook/demo.ipynb',
      '--noise',
      '0.0',
      '--redlab-collect',
      'demo_files',
      '--redlab-collect-skip',
      'metrics.json,results.csv,walk.svg',
      '--redlab-types',
      'noise=float,samples=int,seed=int,title=string',
      '--samples',
      '120',
      '--seed',
      '42',
      '--title',
      'Walk "quoted"'
    ]);
    expect(Object.keys(result.outputs).sort()).toEqual(['executed_notebook', 'metrics_json', 'new_files', 'results_csv', 'walk_svg']);
    // Nothing else was written, so the folder of other new files is not there.
    expect(result.outputs.new_files).toBeNull();
    expect(r.stderr).toContain('redlab_nbrun: no other new files to gather in demo_files/');

    // The container's stdout came through live (on stderr with --json): the first progress line
    // arrived while the notebook still had seconds of work (7 more steps of 0.4 s) ahead.
    const progress = r.stderr.split('\n').filter(l => /^step \d+\/120: position [-+]\d+\.\d{3}$/.test(l));
    expect(progress).toHaveLength(8);
    expect(progress[0]).toMatch(/^step 15\/120/);
    expect(r.stderr).toContain('walking 120 steps with noise 0.0 (seed 42)');
    expect(r.stderr).toMatch(/redlab_nbrun: running \/cc\/inputs\/notebook\/demo\.ipynb \(5 code cells\) with /);
    expect(r.stderr).toMatch(/redlab_nbrun: done in [\d.]+ s: 6 cells ran; wrote demo\.executed\.ipynb/);
    expect(r.firstMarkerAt).toBeDefined();
    expect(r.exitedAt - r.firstMarkerAt!).toBeGreaterThan(1500);

    // The executed notebook: the injected values right after the parameters cell, outputs in every code cell.
    const executed = readNotebook(path.join(outdir, executedNotebookName(draft.notebookPath)));
    const p = executed.cells.findIndex(c => c.metadata.tags?.includes('parameters'));
    expect(p).toBe(1);
    const injected = executed.cells[p + 1];
    expect(injected.metadata.tags).toEqual(['injected-parameters']);
    expect(text(injected.source)).toBe(`# Parameters\nnoise = 0.0\nsamples = 120\nseed = 42\ntitle = 'Walk "quoted"'\n`);
    expect(typeof injected.id).toBe('string');
    expect(executed.cells.length).toBe(notebook.cells.length + 1);
    const code = executed.cells.filter(c => c.cell_type === 'code');
    // In [n] as papermill numbers them: the injected cell runs as In [2].
    expect(code.map(c => c.execution_count)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(code.map(c => c.metadata.papermill?.status)).toEqual(Array(6).fill('completed'));
    const byId = (id: string) => executed.cells.find(c => c.id === id)!;
    const walk = byId('walk').outputs!;
    expect(walk).toHaveLength(1);
    expect(walk[0]).toMatchObject({ output_type: 'stream', name: 'stdout' });
    expect(text(walk[0].text)).toMatch(/^walking 120 steps with noise 0\.0 \(seed 42\)\nstep 15\/120: position /);
    const stats = byId('stats').outputs!;
    expect(stats).toEqual([{ output_type: 'execute_result', execution_count: 4, data: { 'text/plain': expect.stringMatching(/^\{'samples': 120,\n 'noise': 0\.0,\n 'seed': 42,\n/) }, metadata: {} }]);
    expect(text(byId('files').outputs![0].text)).toBe('wrote results.csv and metrics.json\n');
    const plot = byId('plot').outputs!;
    expect(plot[0]).toMatchObject({ output_type: 'display_data', data: { 'image/svg+xml': expect.stringContaining('<polyline') } });
    expect(plot[1]).toMatchObject({ output_type: 'stream', name: 'stdout' });
    // papermill 2.x: exception null when every cell ran.
    expect(executed.metadata.papermill).toMatchObject({ parameters: { samples: 120, noise: 0, title: 'Walk "quoted"', seed: 42 }, exception: null });

    // The files the notebook wrote, collected as outputs.
    const metrics = JSON.parse(fs.readFileSync(path.join(outdir, 'metrics.json'), 'utf8'));
    expect(metrics).toMatchObject({ samples: 120, noise: 0, seed: 42, final: 0, mean: 0, stdev: 0 });
    const csv = fs.readFileSync(path.join(outdir, 'results.csv'), 'utf8').trim().split(/\r?\n/);
    expect(csv).toHaveLength(121);
    expect(csv[0]).toBe('step,position');
    expect(csv[120]).toBe('120,0.000000');
    const svg = fs.readFileSync(path.join(outdir, 'walk.svg'), 'utf8');
    expect(svg).toMatch(/^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    expect(svg).toContain('Walk "quoted" (120 steps, noise 0.0)');
    expect(result.outputs.walk_svg.size).toBe(Buffer.byteLength(svg));
    expect(result.outputs.results_csv.path).toBe(path.join(outdir, 'results.csv'));
    expect(result.outputs.metrics_json.path).toBe(path.join(outdir, 'metrics.json'));
  }, 120_000);

  it('stops at the first error: exit 1, the executed notebook written with the error, later cells not run', async () => {
    const notebook = pythonNotebook([
      cell('verbose = True  # say more\nscales = [1.0, 2.0]\nlabel = "x"', ['parameters']),
      cell('import os\nprint(f"verbose={verbose!r} scales={scales!r} label={label!r}")\nprint(open(os.environ["REDLAB_INPUT_WORDS"]).read().strip())'),
      cell('def check(n):\n    raise RuntimeError(f"cell three failed on purpose ({n})")\ncheck(len(scales))'),
      { cell_type: 'markdown', metadata: {}, source: 'kept as it is' },
      cell('print("never runs")\nopen("after.txt", "w").write("no")')
    ]);
    // A file written under a name the code computes: not found in the code, gathered in the folder.
    notebook.cells[1].source += '\nname = "partial-" + label + ".txt"\nwritten = open(name, "w").write("written before the error")';
    const { draft } = inferDraft(notebook, { notebookPath: 'fails.ipynb', defaults: { image: PYTHON, ramMb: 256 } });
    Object.assign(draft.values, { verbose: false, scales: [0.5, 3] });
    fs.writeFileSync(path.join(dir, 'words.txt'), 'alpha beta gamma\n');
    draft.inputs.push({ name: 'words', kind: 'File', connector: 'redlab-connector-local', access: { path: 'words.txt' } });
    expect(draft.outputs.map(o => [o.name, o.glob])).toEqual([
      ['after_txt', 'after.txt'],
      ['new_files', 'fails_files']
    ]);
    const red = prepare(dir, draft, notebook);
    const outdir = path.join(dir, 'out');

    const r = await redlab(['run', red, '--outdir', outdir, '--json'], dir);
    expect(r.code).toBe(1);
    const result = JSON.parse(r.stdout);
    expect(result.state).toBe('failed');
    expect(result.exitCode).toBe(1);
    // The cell's two stdout lines in order (Docker delivers stdout and stderr on their own, so a
    // traceback on stderr may come between them in the merged terminal output).
    const first = r.stderr.indexOf("verbose=False scales=[0.5, 3.0] label='x'\n");
    expect(first).toBeGreaterThanOrEqual(0);
    expect(r.stderr.indexOf('alpha beta gamma\n', first)).toBeGreaterThan(first);
    // The third code cell, as the notebook shows it (markdown and the injected cell not counted), In [4] as papermill numbers it.
    expect(r.stderr).toMatch(/redlab_nbrun: code cell 3 \(In \[4\]\) raised RuntimeError: cell three failed on purpose \(2\); the remaining cells were not run/);
    expect(r.stderr).not.toContain('never runs');
    // The traceback once (not again from another echo), naming the cell as the message does.
    expect(r.stderr.split('Traceback (most recent call last)').length - 1).toBe(1);
    expect(r.stderr).toContain('File "<code cell 3>", line 3, in <module>');
    // What the notebook wrote before the error came back in the folder (as a partial output).
    expect(r.stderr).toContain('redlab_nbrun: gathered 1 new file in fails_files/: partial-x.txt');
    expect(result.outputs.after_txt).toBeNull();
    expect(fs.readFileSync(path.join(outdir, 'fails_files', 'partial-x.txt'), 'utf8')).toBe('written before the error');

    const executed = readNotebook(path.join(outdir, 'fails.executed.ipynb'));
    // papermill's error marker: a message on top, an anchor right before the cell that raised.
    const marker = 'papermill-error-cell-tag';
    expect(executed.cells.map(c => c.metadata.tags?.[0] ?? c.cell_type)).toEqual([marker, 'parameters', 'injected-parameters', 'code', marker, 'code', 'markdown', 'code']);
    expect(text(executed.cells[0].source)).toContain(`An Exception was encountered at '<a href="#papermill-error-cell">In [4]</a>'.`);
    expect(text(executed.cells[4].source)).toContain('<span id="papermill-error-cell"');
    executed.cells = executed.cells.filter(c => !c.metadata.tags?.includes(marker));
    expect(text(executed.cells[1].source)).toBe("# Parameters\nlabel = 'x'\nscales = [0.5, 3.0]\nverbose = False\n");
    expect(executed.cells[2].outputs).toEqual([{ output_type: 'stream', name: 'stdout', text: ["verbose=False scales=[0.5, 3.0] label='x'\n", 'alpha beta gamma\n'] }]);
    const failed = executed.cells[3];
    expect(failed.execution_count).toBe(4);
    expect(failed.metadata.papermill).toMatchObject({ status: 'failed', exception: true });
    expect(failed.outputs).toHaveLength(1);
    const err = failed.outputs![0];
    expect(err).toMatchObject({ output_type: 'error', ename: 'RuntimeError', evalue: 'cell three failed on purpose (2)' });
    expect(err.traceback.join('\n')).toMatch(/line 3, in <module>[\s\S]*line 2, in check[\s\S]*RuntimeError: cell three failed on purpose \(2\)$/);
    expect(err.traceback.join('\n')).not.toContain('redlab_nbrun.py');
    expect(executed.cells[4]).toMatchObject({ ...notebook.cells[3], metadata: { papermill: { status: 'pending' } } });
    expect(executed.cells[5]).toMatchObject({ execution_count: null, outputs: [], metadata: { papermill: { status: 'pending' } } });
    expect(fs.existsSync(path.join(outdir, 'after.txt'))).toBe(false);
    expect(executed.metadata.papermill.exception).toBe(true);
  }, 120_000);

  it('runs a notebook with annotated, optional and JSON parameters as the panel read them', async () => {
    const notebook = pythonNotebook([
      cell('from typing import Optional'),
      cell('annl: list[float] = [1, 2]\nlimit: Optional[int] = None\ncfg: dict[str, int] = {"a": 1}\nflag = False', ['parameters']),
      cell('import json\nprint(json.dumps({k: repr(v) for k, v in dict(annl=annl, limit=limit, cfg=cfg, flag=flag).items()}, sort_keys=True))')
    ]);
    const { draft } = inferDraft(notebook, { notebookPath: 'typed.ipynb', defaults: { image: PYTHON, ramMb: 256 } });
    expect(draft.parameters.map(p => [p.name, p.type, p.json ?? false])).toEqual([
      ['annl', 'float[]', false],
      ['limit', 'int?', false],
      ['cfg', 'string', true],
      ['flag', 'boolean', false]
    ]);
    // The defaults as they are: "not a valid list of int" before the runner honoured annotations.
    let r = await redlab(['run', prepare(dir, draft, notebook), '--outdir', path.join(dir, 'out1'), '--json'], dir);
    expect(r.stderr).not.toMatch(/not a valid/);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(`{"annl": "[1.0, 2.0]", "cfg": "{'a': 1}", "flag": "False", "limit": "None"}`);
    Object.assign(draft.values, { annl: [0.5, 3], limit: 7, cfg: '{"b": [1.5, null]}', flag: true });
    r = await redlab(['run', prepare(dir, draft, notebook), '--outdir', path.join(dir, 'out2'), '--json'], dir);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(`{"annl": "[0.5, 3.0]", "cfg": "{'b': [1.5, None]}", "flag": "True", "limit": "7"}`);
  }, 120_000);

  it('adds no injected cell when there are no parameters; a parameters cell with a syntax error runs and raises, as in papermill', async () => {
    const plain = pythonNotebook([{ cell_type: 'markdown', metadata: {}, source: 'title' }, cell('x = 1'), cell('print(x + 1)')]);
    const { draft } = inferDraft(plain, { notebookPath: 'plain.ipynb', defaults: { image: PYTHON, ramMb: 256 } });
    let r = await redlab(['run', prepare(dir, draft, plain), '--outdir', path.join(dir, 'out'), '--json'], dir);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/redlab_nbrun: running \/cc\/inputs\/notebook\/plain\.ipynb \(2 code cells\)\n/);
    const executed = readNotebook(path.join(dir, 'out', 'plain.executed.ipynb'));
    expect(executed.cells.map(c => c.cell_type)).toEqual(['markdown', 'code', 'code']);
    expect(executed.cells.map(c => c.execution_count ?? null)).toEqual([null, 1, 2]);

    const broken = { ...plain, cells: [...plain.cells, cell('a = 1\nb = [1,\n', ['parameters'])] };
    const inferred = inferDraft(broken, { notebookPath: 'broken.ipynb', defaults: { image: PYTHON, ramMb: 256 } });
    expect(inferred.draft.parametersError).toBe('the parameters cell (code cell 3) has a syntax error on line 2: "[" is never closed; fix it in the notebook');
    r = await redlab(['run', prepare(dir, inferred.draft, broken), '--outdir', path.join(dir, 'out-broken'), '--json'], dir);
    expect(JSON.parse(r.stdout).exitCode).toBe(1);
    expect(r.stderr).toContain("redlab_nbrun: the parameters cell (code cell 3) has a syntax error on line 2: '[' was never closed; fix it in the notebook");
    expect(r.stderr).toMatch(/redlab_nbrun: code cell 3 \(In \[3\]\) raised SyntaxError: /);
    // Nothing lost: the cells before it ran, and the executed notebook says where it stopped.
    const stopped = readNotebook(path.join(dir, 'out-broken', 'broken.executed.ipynb'));
    const failed = stopped.cells.find(c => c.metadata.papermill?.status === 'failed')!;
    expect(failed.outputs).toEqual([expect.objectContaining({ output_type: 'error', ename: 'SyntaxError' })]);
    expect(stopped.cells.filter(c => c.cell_type === 'code' && c.metadata.papermill?.status === 'completed')).toHaveLength(2);
  }, 120_000);

  it('refuses a notebook whose kernel is not Python, with exit code 2 and the reason', async () => {
    const notebook = { nbformat: 4, nbformat_minor: 5, metadata: { kernelspec: { name: 'ir', language: 'R', display_name: 'R' } }, cells: [] };
    // inferDraft refuses it too; write the RED from a Python twin to see what the runner says.
    const { draft } = inferDraft({ ...notebook, metadata: {} }, { notebookPath: 'r.ipynb', defaults: { image: PYTHON, ramMb: 256 } });
    const red = prepare(dir, draft, notebook);
    const r = await redlab(['run', red, '--outdir', path.join(dir, 'out'), '--json'], dir);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout).exitCode).toBe(2);
    expect(r.stderr).toContain('redlab_nbrun: /cc/inputs/notebook/r.ipynb uses the R kernel (R); this runner executes Python notebooks only: switch the notebook to a Python 3 kernel');
  }, 60_000);
  it('runs IPython syntax in a plain python3 image: !cmd, %%bash, %%writefile, %time', async () => {
    const notebook = pythonNotebook([
      cell('n = 2\nfor i in range(n):\n    !echo shell {i} of $n\nlines = !ls /cc/inputs/runner\nlines'),
      cell('%%bash\necho "from bash $((6 * 7))"\necho oops >&2'),
      cell('%%writefile notes.txt\nwritten by a cell magic'),
      cell('%time total = sum(range(1000))\nprint(open("notes.txt").read().strip(), total)')
    ]);
    const { draft } = inferDraft(notebook, { notebookPath: 'magics.ipynb', defaults: { image: PYTHON, ramMb: 256 } });
    const outdir = path.join(dir, 'out');
    const r = await redlab(['run', prepare(dir, draft, notebook), '--outdir', outdir, '--json'], dir);
    expect(r.stderr).not.toMatch(/Traceback|MagicUsageError/);
    expect(r.code).toBe(0);
    const code = readNotebook(path.join(outdir, 'magics.executed.ipynb')).cells.filter(c => c.cell_type === 'code');
    const outputs = code.map(c => c.outputs!.map(o => (o.output_type === 'stream' ? `${o.name}:${text(o.text)}` : `${o.output_type}:${text(o.data['text/plain'])}`)));
    expect(outputs[0]).toEqual(['stdout:shell 0 of 2\nshell 1 of 2\n', "execute_result:['redlab_nbrun.py']"]);
    expect(outputs[1]).toEqual(['stdout:from bash 42\n', 'stderr:oops\n']);
    expect(outputs[2]).toEqual(['stdout:Writing notes.txt\n']);
    expect(outputs[3]).toHaveLength(1);
    // IPython's format: 3 significant digits (1e+03 ns too), the Greek mu where stdout can encode it.
    const time = '[\\d.e+]+ (s|ms|μs|us|ns)';
    expect(outputs[3][0]).toMatch(new RegExp(`^stdout:CPU times: user ${time}, sys: ${time}, total: ${time}\\nWall time: ${time}\\nwritten by a cell magic 499500\\n$`));
  }, 120_000);

  it('runs the notebook in a real IPython kernel when the image has ipykernel and nbclient, and says so', async () => {
    const notebook = pythonNotebook([
      cell('n = 1', ['parameters']),
      cell('import sys\nprint("ipykernel" in sys.modules, n)'),
      cell('%%capture captured\nprint("kept aside")'),
      cell('from IPython.display import display, Markdown\ndisplay(Markdown("**bold**"))\n!echo from the shell\ncaptured.stdout.strip()'),
      cell('1 / 0'),
      cell('print("never")')
    ]);
    const outputs = (file: string) =>
      readNotebook(file)
        .cells.filter(c => c.cell_type === 'code')
        .map(c => [c.execution_count ?? null, ...c.outputs!.map(o => (o.output_type === 'stream' ? `${o.name}:${text(o.text).replace(/\r\n/g, '\n')}` : o.output_type === 'error' ? `error:${o.ename}` : `${o.output_type}:${text(o.data['text/plain'])}`))]);
    for (const [image, execution] of [[IPYKERNEL, 'ipython'], [PYTHON, 'stdlib']] as const) {
      const { draft } = inferDraft(notebook, { notebookPath: 'kernel.ipynb', defaults: { image, ramMb: 512 } });
      draft.values.n = 3;
      const outdir = path.join(dir, `out-${execution}`);
      const r = await redlab(['run', prepare(dir, draft, notebook), '--outdir', outdir, '--json'], dir);
      expect(JSON.parse(r.stdout).exitCode).toBe(1);
      expect(r.stderr).toMatch(execution === 'ipython' ? /redlab_nbrun: cells run by: IPython kernel \(ipykernel [\d.]+, nbclient [\d.]+\)\n/ : /redlab_nbrun: cells run by: redlab_nbrun's stdlib execution \(Python 3[\d.]+; no IPython kernel in the image\)\n/);
      expect(r.stderr).toContain('redlab_nbrun: code cell 5 (In [6]) raised ZeroDivisionError: division by zero; the remaining cells were not run');
      const file = path.join(outdir, 'kernel.executed.ipynb');
      expect(readNotebook(file).metadata.redlab.execution).toBe(execution);
      // The injected cell takes In [2], as papermill numbers it; the same outputs either way.
      expect(outputs(file)).toEqual([
        [1],
        [2],
        [3, `stdout:${execution === 'ipython' ? 'True' : 'False'} 3\n`],
        [4],
        [5, 'display_data:<IPython.core.display.Markdown object>', 'stdout:from the shell\n', "execute_result:'kept aside'"],
        [6, 'error:ZeroDivisionError'],
        [null]
      ]);
    }
  }, 240_000);
});
