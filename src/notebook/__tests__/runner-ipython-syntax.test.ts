// The container runner reads IPython's syntax itself (no IPython in the image): magics and shell
// escapes at the start of a logical line, values shown as IPython's pretty printer shows them.
// Each case runs a small notebook with the project's python3 and compares the cells' outputs.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { inferDraft, RUNNER_CELL_MAGICS, RUNNER_LINE_MAGICS } from '../infer';

const runner = path.join(__dirname, '../../../jupyterlab_redlab/runner/redlab_nbrun.py');
let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'redlab-ipython-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

interface Output {
  output_type: string;
  name?: string;
  text?: string[];
  data?: Record<string, string>;
  ename?: string;
  evalue?: string;
}

/** Each cell's outputs in short: `stdout:...`, `stderr:...`, `result:<text/plain>`, `error:Name: value`. */
function runCells(cells: string[]) {
  const nb = {
    nbformat: 4,
    nbformat_minor: 4,
    metadata: { kernelspec: { name: 'python3', language: 'python' } },
    cells: cells.map(source => ({ cell_type: 'code', metadata: {}, source, outputs: [], execution_count: null }))
  };
  fs.writeFileSync(path.join(dir, 'nb.ipynb'), JSON.stringify(nb));
  const r = spawnSync('python3', [runner, 'nb.ipynb', '--redlab-kernel', 'stdlib'], { cwd: dir, encoding: 'utf8', env: { ...process.env, PYTHONWARNINGS: '' } });
  const executed = JSON.parse(fs.readFileSync(path.join(dir, 'nb.executed.ipynb'), 'utf8'));
  // Code cells only: a failed run also has papermill's markdown error markers.
  const code = (executed.cells as { cell_type: string; outputs: Output[] }[]).filter(c => c.cell_type === 'code');
  const outputs = code.map(c =>
    c.outputs.map(o =>
      o.output_type === 'stream'
        ? `${o.name}:${(o.text ?? []).join('')}`
        : o.output_type === 'execute_result'
          ? `result:${o.data?.['text/plain']}`
          : o.output_type === 'error'
            ? `error:${o.ename}: ${o.evalue}`
            : o.output_type
    )
  );
  return { status: r.status, stderr: r.stderr, outputs };
}

const CASES: [string, string[], string[][]][] = [
  ['!cmd streams its output, with {expr} and $name from the cell', ['x = 3\n!echo hi $x {x+1}\n!echo err >&2; exit 4\n_exit_code'], [['stdout:hi 3 4\nerr\n', 'result:4']]],
  ['!cmd inside an indented block', ['for i in range(2):\n    if i:\n        !echo in-block {i}\n'], [['stdout:in-block 1\n']]],
  ['x = !cmd is the list of output lines', ['files = !printf "a\\nb\\n"\nfiles'], [["result:['a', 'b']"]]],
  [
    '% and ! inside strings, brackets and expressions are Python',
    ['s = "!not %magic"\nt = (1 %\n   2)\nu = """\n!echo no\n%time\n"""\nprint(s, t, u.split(), 5 % 3, not 1 != 2)'],
    [['stdout:!not %magic 1 [\'!echo\', \'no\', \'%time\'] 2 False\n']]
  ],
  ['%time prints CPU and wall time and gives the value', ['%time y = sum(range(10))\n%time y * 2'], [['stdout:CPU times: user T, sys: T, total: T\nWall time: T\nCPU times: user T, sys: T, total: T\nWall time: T\n', 'result:90']]],
  ['%%time runs the cell and gives its last value', ['%%time\nz = 2\nz * 3'], [['stdout:CPU times: user T, sys: T, total: T\nWall time: T\n', 'result:6']]],
  ['%timeit in IPython\'s format', ['%timeit -n 3 -r 2 sum(range(5))'], [['stdout:T ± T per loop (mean ± std. dev. of 2 runs, 3 loops each)\n']]],
  ['%%timeit: setup on the magic line, the body timed', ['%%timeit -n 2 -r 1 xs = list(range(5))\nsum(xs)'], [['stdout:T ± T per loop (mean ± std. dev. of 1 run, 2 loops each)\n']]],
  ['%%bash: stdout and stderr of the script', ['%%bash\necho "bash $BASH_VERSINFO" | cut -c1-4\necho err >&2'], [['stdout:bash\n', 'stderr:err\n']]],
  ['%%sh', ['%%sh\necho from sh'], [['stdout:from sh\n']]],
  ['%%bash failing is an error, as IPython', ['%%bash\nexit 3', 'print("never")'], [['error:CalledProcessError: Command \'bash\' returned non-zero exit status 3.'], []]],
  [
    '%%writefile writes, overwrites and appends',
    ['%%writefile f.txt\nline 1', '%%writefile f.txt\nline one', '%%writefile -a f.txt\nline two', 'print(open("f.txt").read())'],
    [['stdout:Writing f.txt\n'], ['stdout:Overwriting f.txt\n'], ['stdout:Appending to f.txt\n'], ['stdout:line one\nline two\n\n']]
  ],
  ['%%capture keeps the output in a variable', ['%%capture cap\nprint("captured")\nimport sys; print("e", file=sys.stderr)', 'cap.stdout, cap.stderr'], [[], ["result:('captured\\n', 'e\\n')"]]],
  ['%env sets and gets', ['%env FOO=bar\n%env FOO'], [['stdout:env: FOO=bar\n', "result:'bar'"]]],
  ['%env of a missing variable', ['%env REDLAB_NO_SUCH_VAR'], [['error:MagicUsageError: Environment does not have key: REDLAB_NO_SUCH_VAR']]],
  ['%cd moves the working folder (the executed notebook stays where it was asked)', ['import os; os.makedirs("sub")\n%cd sub\nimport os; os.path.basename(os.getcwd())'], [['stdout:PATH/sub\n', "result:'sub'"]]],
  ['%load_ext autoreload and %autoreload are accepted', ['%load_ext autoreload\n%autoreload 2\n1 + 1'], [['result:2']]],
  // .venv has no matplotlib (the set-up installs none): IPython's %matplotlib fails so, and so does the runner's.
  ['%matplotlib without matplotlib fails as in IPython', ['%matplotlib inline\n1 + 1'], [["error:ModuleNotFoundError: No module named 'matplotlib'"]]],
  [
    'an unknown magic fails naming it',
    ['%foo 1'],
    [["error:MagicUsageError: Line magic function `%foo` not found: the container runner runs plain Python and knows %matplotlib, %time, %timeit, %cd, %pwd, %env, %pip, %conda, %load_ext, %reload_ext, %autoreload, %aimport, %config; replace `%foo` with Python (or run the notebook in an image with IPython's kernel)"]]
  ],
  ['an unknown cell magic fails naming it', ['%%perl\nprint 1'], [[expect.stringMatching(/^error:MagicUsageError: Cell magic `%%perl` not found/) as unknown as string]]],
  ['%load_ext of another extension fails naming it', ['%load_ext tensorboard'], [[expect.stringMatching(/^error:MagicUsageError: %load_ext tensorboard: the container runner has no IPython extensions/) as unknown as string]]],
  [
    'pretty printing: long containers one item a line, classes by name, strings by repr',
    ['list(range(40))', '[int, str, {"b": 1, "a": 2}]', 'class Point: pass\nPoint', '"a\'b"', 'int'],
    [
      ['result:[' + Array.from({ length: 40 }, (_, i) => String(i)).join(',\n ') + ']'],
      ["result:[int, str, {'b': 1, 'a': 2}]"],
      ['result:__main__.Point'],
      ['result:"a\'b"'],
      ['result:int']
    ]
  ],
  [
    'warnings go to the cell\'s stderr, named like the tracebacks',
    ['import warnings\nwarnings.warn("careful")'],
    [['stderr:<code cell 1>:2: UserWarning: careful\n  warnings.warn("careful")\n']]
  ],
  [
    'input() fails with a clear message',
    ['name = input("name? ")'],
    [['error:StdinNotImplementedError: input() was called, but there is no input in a container run: pass the value as a parameter (a variable of the cell tagged `parameters`) instead']]
  ]
];

/** Timings and the temporary folder vary from run to run. */
const normalise = (text: string) =>
  text
    .replace(/\d+(\.\d+)?( ?(s|ms|μs|µs|us|ns|min|h))+/g, 'T')
    .replace(fs.realpathSync(dir), 'PATH')
    .replace(dir, 'PATH');

test.each(CASES)('%s', (_name, cells, expected) => {
  const r = runCells(cells);
  const outputs = r.outputs.map(cell => cell.map(normalise));
  expect(outputs).toEqual(expected);
  const failing = expected.some(cell => cell.some(o => typeof o !== 'string' || o.startsWith('error:')));
  expect(r.status).toBe(failing ? 1 : 0);
});

test('%pip runs pip of the runner\'s python3 in the cell', () => {
  const r = runCells(['%pip --version']);
  expect(r.status).toBe(0);
  expect(r.outputs[0].join('')).toMatch(/^stdout:pip \d+.* from .*\nNote: you may need to restart the kernel to use updated packages.\n$/);
});

test('%conda without conda says so', () => {
  const out = runCellsWithPath(['%conda install numpy'], '/usr/bin:/bin');
  expect(out.outputs[0]).toEqual(['error:MagicUsageError: %conda install numpy: conda is not installed in this image; install the package in the image instead']);
});

function runCellsWithPath(cells: string[], pathEnv: string) {
  const saved = { PATH: process.env.PATH, CONDA_EXE: process.env.CONDA_EXE };
  process.env.PATH = `${path.dirname(process.execPath)}:${pathEnv}`;
  delete process.env.CONDA_EXE;
  try {
    return runCells(cells);
  } finally {
    process.env.PATH = saved.PATH;
    if (saved.CONDA_EXE !== undefined) process.env.CONDA_EXE = saved.CONDA_EXE;
  }
}

// sys.exit(0) ends a run successfully (the remaining cells not run, as papermill); another status fails it.
const EXITS: [string, number, string[][], RegExp][] = [
  ['import sys; sys.exit(0)', 0, [['stdout:1\n'], [], []], /code cell 2 \(In \[2\]\) called sys.exit\(0\): the run ends there, successfully; the remaining cells were not run/],
  ['raise SystemExit', 0, [['stdout:1\n'], [], []], /called sys.exit\(0\)/],
  ['exit()', 0, [['stdout:1\n'], [], []], /called sys.exit\(0\)/],
  ['quit()', 0, [['stdout:1\n'], [], []], /called sys.exit\(0\)/],
  ['import sys; sys.exit(3)', 1, [['stdout:1\n'], ['error:SystemExit: 3'], []], /code cell 2 \(In \[2\]\) called sys.exit\(3\); the remaining cells were not run/],
  ['import sys; sys.exit("bad input")', 1, [['stdout:1\n'], ['error:SystemExit: bad input'], []], /called sys.exit\(bad input\)/]
];

test.each(EXITS)('%s: exit code %d', (source, status, expected, message) => {
  const r = runCells(['print(1)', source, 'print("after")']);
  expect(r.status).toBe(status);
  expect(r.outputs).toEqual(expected);
  expect(r.stderr).toMatch(message);
});

test('a long cell is read in linear time: the code before a shell line is tokenized only for lines that look like escapes', () => {
  // 3000 plain lines took ~45 s when every line re-tokenized all that came before it.
  const long = Array.from({ length: 3000 }, (_, i) => `x${i} = ${i}`).join('\n') + '\n!echo last {x2999}';
  const started = Date.now();
  const r = runCells([long]);
  expect(r.outputs).toEqual([['stdout:last 2999\n']]);
  expect(Date.now() - started).toBeLessThan(5000);
});

test("a magic's machinery is no part of a traceback: the cell's line, then the code the magic ran", () => {
  const r = runCells(['def f():\n    return 1 / 0\n%time f()']);
  expect(r.status).toBe(1);
  const traceback = r.stderr.slice(r.stderr.indexOf('Traceback'), r.stderr.indexOf('redlab_nbrun: code cell 1'));
  expect(traceback.split('\n').filter(l => l.startsWith('  File '))).toEqual([
    '  File "<code cell 1>", line 3, in <module>',
    '  File "<timed exec>", line 1, in <module>',
    '  File "<code cell 1>", line 2, in f'
  ]);
  expect(traceback).toContain('    %time f()\n');
  expect(traceback).toMatch(/ZeroDivisionError: division by zero\n$/);
});

test("the panel warns only about the magics the runner does not run, and its lists are the runner's", () => {
  const r = spawnSync('python3', ['-c', 'import sys, json; sys.path.insert(0, sys.argv[1]); import redlab_nbrun as r; print(json.dumps([list(r._KNOWN_LINE_MAGICS), list(r._KNOWN_CELL_MAGICS)]))', path.dirname(runner)], { encoding: 'utf8' });
  expect(JSON.parse(r.stdout)).toEqual([RUNNER_LINE_MAGICS, RUNNER_CELL_MAGICS]);
  const nb = (sources: string[]) => ({
    nbformat: 4,
    nbformat_minor: 4,
    metadata: { kernelspec: { name: 'python3', language: 'python' } },
    cells: sources.map(source => ({ cell_type: 'code', metadata: {}, source, outputs: [], execution_count: null }))
  });
  const warned = (sources: string[]) => inferDraft(nb(sources), { notebookPath: 'm.ipynb', defaults: { image: 'python:3', ramMb: 256 } }).warnings.filter(w => /magics/.test(w));
  expect(warned(['\n%%bash\necho hi', '%%writefile a.txt\nx', 'x = !ls\n%time 1\n%load_ext autoreload\n%autoreload 2'])).toEqual([]);
  expect(warned(['print(1)\n%%bash\necho hi', '%%perl\n1', '%load_ext tensorboard'])).toEqual([
    expect.stringMatching(/^code cell 1 uses IPython magics the container runner does not know \(%%bash\)/),
    expect.stringMatching(/^code cell 2 uses IPython magics the container runner does not know \(%%perl\)/),
    expect.stringMatching(/^code cell 3 uses IPython magics the container runner does not know \(%load_ext tensorboard\)/)
  ]);
});
