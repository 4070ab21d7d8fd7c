// One parameters contract: the panel reads the `parameters` cell in TypeScript (parameters.ts),
// the runner (redlab_nbrun.py) reads it again with Python's ast in the container. On one table
// of cells this checks, against the runner's own code run with python3:
//   1. the types: the TS parse equals what the runner reads itself (`--redlab-describe`);
//   2. the values: the command line the TS side builds (draftToRedYaml -> the RED core's
//      buildCommand) makes the runner inject exactly the values the cell itself sets when run
//      as plain Python, except where the table says otherwise (a changed value, an annotation
//      that makes an int a float);
//   3. syntax errors: both name the same code cell and line, in the same words.
import { execFileSync, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { buildCommand, inputContainerPath, loadRed, type SingleRed } from '../../red';
import { draftToRedYaml, inferDraft } from '../infer';
import { parametersSyntaxMessage, parseParametersSource } from '../parameters';
import type { ParameterValue } from '../types';

const runner = path.join(__dirname, '../../../jupyterlab_redlab/runner/redlab_nbrun.py');
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'redlab-params-'));
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

/** Python's view of a value: [type name, repr]. */
type PyValue = [string, string];

interface Case {
  title: string;
  cell: string;
  /** The TS reading: name -> type (`json` for JSON parameters). */
  types: Record<string, string>;
  /** Values changed in the panel. */
  values?: Record<string, ParameterValue>;
  /** Where the injected value differs from the cell's own (name -> [type, repr]). */
  expect?: Record<string, PyValue>;
}

const LITERALS = [
  'n = 3',
  'neg = -3',
  'big = 1_000_000',
  'hexa = 0x1F',
  'x = 1.0',
  'zero = 0.0',
  'small = 1e-3',
  'half = .5',
  'dot = 1.',
  'under = 1_000.5',
  "s1 = 'single'",
  's2 = "double \\"quoted\\" \\t tab \\n newline \\\\ \\x41 \\u00e9 \\U0001F600 \\101 \\q"',
  "raw = r'C:\\dir\\n'",
  's3 = "a" \'b\'',
  'tq = """two',
  "lines 'here'\"\"\"",
  'flag = True',
  'off = False',
  'ints = [1, 2, 3]',
  'mixed = [1, 2.5, -3]',
  "words = ['a', \"b c\"]",
  'bools = [True, False]',
  'spread = [',
  '    1,  # one',
  '    2,',
  ']  # doc',
  'paren = (0.25)',
  'emoji = "\u{1F600} é"'
].join('\n');

const CASES: Case[] = [
  {
    title: 'the literals the panel reads, unchanged',
    cell: LITERALS,
    types: {
      n: 'int', neg: 'int', big: 'int', hexa: 'int', x: 'float', zero: 'float', small: 'float', half: 'float', dot: 'float', under: 'float',
      s1: 'string', s2: 'string', raw: 'string', s3: 'string', tq: 'string', flag: 'boolean', off: 'boolean', ints: 'int[]', mixed: 'float[]',
      words: 'string[]', bools: 'boolean[]', spread: 'int[]', paren: 'float', emoji: 'string'
    },
    expect: { mixed: ['list', '[1.0, 2.5, -3.0]'] }
  },
  {
    title: 'the demo, changed',
    cell: 'samples = 200  # steps\nnoise = 0.3\ntitle = "Random walk"\nseed = 42',
    types: { samples: 'int', noise: 'float', title: 'string', seed: 'int' },
    values: { samples: 120, noise: 0, title: 'Walk "quoted" --seed 7' },
    expect: { samples: ['int', '120'], noise: ['float', '0.0'], title: ['str', `'Walk "quoted" --seed 7'`] }
  },
  {
    title: 'annotations: float makes ints floats, list[float] and List[float] too',
    cell: 'ann: float = 2\nannl: list[float] = [1, 2]\nAnnL: List[float] = [3]\nlr: float = -1\nk: int = 4\ns: str = "x"\nmismatch: str = 3\nunknown: Path = "a"',
    types: { ann: 'float', annl: 'float[]', AnnL: 'float[]', lr: 'float', k: 'int', s: 'string', mismatch: 'int', unknown: 'string' },
    expect: { ann: ['float', '2.0'], annl: ['list', '[1.0, 2.0]'], AnnL: ['list', '[3.0]'], lr: ['float', '-1.0'] }
  },
  {
    title: 'annotations, changed',
    cell: 'annl: list[float] = [1, 2]\nempty: list[int] = []',
    types: { annl: 'float[]', empty: 'int[]' },
    values: { annl: [0.5, 3], empty: [4, 5] },
    expect: { annl: ['list', '[0.5, 3.0]'], empty: ['list', '[4, 5]'] }
  },
  {
    title: 'Optional, X | None, and an annotated None',
    cell: 'a: Optional[int] = None\nb: int | None = 3\nc: typing.Optional[List[float]] = None\nd: Optional[str] = "x"\ne: float = None\nf: Union[None, bool] = True\ng: Optional[list[int]] = []',
    types: { a: 'int?', b: 'int?', c: 'json', d: 'string?', e: 'float?', f: 'json', g: 'json' }
  },
  {
    title: 'Optional, changed to values and to None',
    cell: 'a: Optional[int] = None\nb: int | None = 3\nc: Optional[List[float]] = None\nd: Optional[str] = "x"\ne: float = None',
    types: { a: 'int?', b: 'int?', c: 'json', d: 'string?', e: 'float?' },
    values: { a: 5, b: null, c: '[1, 2]', d: null, e: 7 },
    expect: { a: ['int', '5'], b: ['NoneType', 'None'], c: ['list', '[1, 2]'], d: ['NoneType', 'None'], e: ['float', '7.0'] }
  },
  {
    title: 'None, dicts, empty, mixed and nested lists, dict and Any annotations travel as JSON',
    cell: 'cfg: dict[str, int] = {"a": 1}\nn = None\nmixed = [1, "a", None]\nnested = [[1.0], [2]]\nempty = []\nraw = {"lr": 1.0, "s": "é\\n", "on": True}\nany_: Any = 3',
    types: { cfg: 'json', n: 'json', mixed: 'json', nested: 'json', empty: 'json', raw: 'json', any_: 'json' }
  },
  {
    title: 'JSON values, changed',
    cell: 'cfg: dict[str, int] = {"a": 1}\nn = None\nempty = []',
    types: { cfg: 'json', n: 'json', empty: 'json' },
    values: { cfg: '{"a": 2, "b": [1.5, null]}', n: '0.5', empty: '["x, y"]' },
    expect: { cfg: ['dict', "{'a': 2, 'b': [1.5, None]}"], n: ['float', '0.5'], empty: ['list', "['x, y']"] }
  },
  {
    title: 'booleans and lists, changed (false and [] are absent options)',
    cell: 'verbose = True\ndry = False\nflags = [True, False]\nints = [1, 2, 3]\nwords = ["a", "b c"]\nfl = [0.5, 1.5]\nu = "true"',
    types: { verbose: 'boolean', dry: 'boolean', flags: 'boolean[]', ints: 'int[]', words: 'string[]', fl: 'float[]', u: 'string' },
    values: { verbose: false, dry: true, flags: [false], ints: [], words: ['x y'], fl: [2] },
    expect: {
      verbose: ['bool', 'False'],
      dry: ['bool', 'True'],
      flags: ['list', '[False]'],
      ints: ['list', '[]'],
      words: ['list', "['x y']"],
      fl: ['list', '[2.0]']
    }
  },
  {
    title: 'what is no parameter: skipped by both; magics blanked; the last assignment wins',
    cell: '%load_ext autoreload\nimport os\nt = (1, 2)\nc = 2 * 3\na = 1\nb = 2\na = 3.5\nif a:\n    z = 1',
    types: { b: 'int', a: 'float' }
  }
];

function notebook(cell: string, names: string[]) {
  const dump = [
    'import json as _json',
    '_values = {}',
    `for _name in ${JSON.stringify(names)}:`,
    "    _v = globals().get(_name, '<undefined>')",
    '    _values[_name] = [type(_v).__name__, repr(_v)]',
    "with open('values.json', 'w') as _f:",
    '    _json.dump(_values, _f)'
  ].join('\n');
  const code = (source: string, tags?: string[]) => ({ cell_type: 'code', execution_count: null, metadata: tags ? { tags } : {}, outputs: [], source });
  return {
    nbformat: 4,
    nbformat_minor: 4,
    metadata: { kernelspec: { name: 'python3', language: 'python', display_name: 'Python 3' } },
    cells: [{ cell_type: 'markdown', metadata: {}, source: '# Title' }, code('import typing\nfrom pathlib import Path\nfrom typing import Any, List, Optional, Union'), code(cell, ['parameters']), code(dump)]
  };
}

let counter = 0;
/** Runs the runner in a fresh folder; returns the values the dump cell saw. */
function runNotebook(nb: unknown, args: string[]): { values: Record<string, PyValue>; stderr: string } {
  const dir = path.join(work, `run${++counter}`);
  fs.mkdirSync(dir);
  fs.writeFileSync(path.join(dir, 'nb.ipynb'), JSON.stringify(nb));
  const r = spawnSync('python3', [runner, 'nb.ipynb', '--redlab-kernel', 'stdlib', ...args], { cwd: dir, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`the runner exited with ${r.status}:\n${r.stderr}`);
  return { values: JSON.parse(fs.readFileSync(path.join(dir, 'values.json'), 'utf8')), stderr: r.stderr };
}

function describeByRunner(nb: unknown): Array<{ name: string; type: string | null; default: unknown }> {
  const file = path.join(work, `describe${++counter}.ipynb`);
  fs.writeFileSync(file, JSON.stringify(nb));
  return JSON.parse(execFileSync('python3', [runner, file, '--redlab-describe'], { encoding: 'utf8' }));
}

/** The runner's arguments from the RED the panel would write, as the RED core renders them. */
function commandLine(nb: unknown, values: Record<string, ParameterValue>): string[] {
  const { draft } = inferDraft(nb, { notebookPath: 'nb.ipynb', defaults: { image: 'redlab/debian-python:12', ramMb: 256 } });
  Object.assign(draft.values, values);
  const loaded = loadRed(draftToRedYaml(draft), { source: 'nb.red.yml' });
  const argv = buildCommand(loaded.red.cli, (loaded.red as SingleRed).inputs, { containerPathOf: inputContainerPath, floatPaths: loaded.floatPaths });
  expect(argv.slice(0, 3)).toEqual(['python3', '/cc/inputs/runner/redlab_nbrun.py', '/cc/inputs/notebook/nb.ipynb']);
  return argv.slice(3);
}

describe.each(CASES)('$title', c => {
  const ts = parseParametersSource(c.cell);
  const names = Object.keys(c.types);

  it('the TypeScript reading and the runner\'s own reading give the same parameters and types', () => {
    expect(ts.syntaxError).toBeUndefined();
    expect(Object.fromEntries(ts.parameters.map(p => [p.name, p.json ? 'json' : p.type]))).toEqual(c.types);
    const py = describeByRunner(notebook(c.cell, names));
    // The runner also lists assignments of values the panel does not pass on (type null).
    expect(Object.fromEntries(py.filter(p => p.type !== null).map(p => [p.name, p.type]))).toEqual(c.types);
  });

  it('the command line built by the TypeScript side makes the runner inject the values meant', () => {
    const nb = notebook(c.cell, names);
    const own = runNotebook(nb, []).values;
    const args = commandLine(nb, c.values ?? {});
    expect(args).toContain('--redlab-types');
    const injected = runNotebook(nb, args);
    expect(injected.values).toEqual({ ...own, ...(c.expect ?? {}) });
    expect(injected.stderr).not.toMatch(/injecting anyway/);
  });
});

describe('a syntax error in the parameters cell', () => {
  const cells: Array<[string, number]> = [
    ['a = 1\nb = [1,\n  2', 2],
    ['x = [1, (2,\n3', 1],
    ['x = (1]', 1],
    ['x = 1)', 1],
    ['a = 1\n  b = 2', 2],
    ['if a:\nb = 1', 2],
    ['def f():', 1],
    ['x = 007', 1],
    ['class = 1', 1],
    ['x =', 1],
    ['= 1', 1],
    ['x = 1 +', 1],
    ['x = [1,, 2]', 1],
    ['a = 1\nx = "abc\ny = 2', 2],
    ['x = """abc\ny = 2', 1],
    ['x = [1 2]', 1],
    ['x: = 1', 1],
    ['x = 1 $', 1],
    ['%time y = 1\nx = (', 2]
  ];
  it.each(cells)('%j is reported on line %d of code cell 2 by both sides', (cell, line) => {
    const nb = notebook(cell, []);
    const { draft, warnings } = inferDraft(nb, { notebookPath: 'nb.ipynb', defaults: { image: 'redlab/debian-python:12', ramMb: 256 } });
    const ts = parseParametersSource(cell).syntaxError!;
    expect(ts.line).toBe(line);
    expect(draft.parametersError).toBe(parametersSyntaxMessage(2, line, ts.reason));
    expect(warnings).toContain(draft.parametersError);
    expect(draft.parameters).toEqual([]);

    const file = path.join(work, `syntax${++counter}.ipynb`);
    fs.writeFileSync(file, JSON.stringify(nb));
    // What the runner reads of the cell (--redlab-describe): the same message, exit 2.
    const r = spawnSync('python3', [runner, file, '--redlab-describe'], { cwd: work, encoding: 'utf8' });
    expect(r.status).toBe(2);
    const sameWords = new RegExp(`^redlab_nbrun: the parameters cell \\(code cell 2\\) has a syntax error on line ${line}: .+; fix it in the notebook\n$`);
    expect(r.stderr).toMatch(sameWords);
    expect(`redlab_nbrun: ${draft.parametersError}\n`).toMatch(sameWords);
  });
});
