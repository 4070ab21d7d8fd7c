// How the runner types the values on its command line (redlab_nbrun.py):
// - without --redlab-types (a command line written by hand), as papermill's `-p NAME VALUE`: the
//   reference is papermill's own _resolve_type (papermill/cli.py, in .venv), word for word;
//   a word starting with [ or { that is JSON is that list or dict (papermill's -y);
// - with --redlab-types (the panel's RED), converted to the declared type, lists as JSON too
//   (commas in strings kept), a refusal naming the parameter, the value and the type.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const root = path.join(__dirname, '../../..');
const runner = path.join(root, 'jupyterlab_redlab/runner/redlab_nbrun.py');
const venvPython = path.join(root, '.venv/bin/python3');
const python = fs.existsSync(venvPython) ? venvPython : 'python3';
let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'redlab-values-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const WORDS = ['42', '-7', '2.5', '-1.5', '1e3', '1e100', '0x10', '1_000', 'True', 'False', 'true', 'None', 'none', 'nan', 'inf', '-inf', 'hello', '', ' 3 ', '1,2', '[1, 2]', '{"a": 1}', '[broken', 'ünïcode'];

test('without declared types, every word is typed as papermill -p types it', () => {
  const script = String.raw`
import json, sys
sys.path.insert(0, sys.argv[1])
import redlab_nbrun
from papermill.cli import _resolve_type
out = []
for w in json.loads(sys.argv[2]):
    ours = redlab_nbrun.papermill_value(w)
    ref = _resolve_type(w)
    out.append([w, repr(ours), repr(ref)])
print(json.dumps(out))
`;
  const r = spawnSync(python, ['-c', script, path.dirname(runner), JSON.stringify(WORDS)], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(r.stderr);
  const rows = JSON.parse(r.stdout) as Array<[string, string, string]>;
  // papermill's -p leaves JSON text a string; its -y reads it as YAML: the runner takes both forms.
  const jsonWords: Record<string, string> = { '[1, 2]': '[1, 2]', '{"a": 1}': "{'a': 1}" };
  for (const [word, ours, papermill] of rows) {
    expect({ word, value: ours }).toEqual({ word, value: jsonWords[word] ?? papermill });
  }
  expect(rows).toHaveLength(WORDS.length);
});

function notebook(parametersCell: string, names: string[]) {
  const code = (source: string, tags?: string[]) => ({ cell_type: 'code', execution_count: null, metadata: tags ? { tags } : {}, outputs: [], source });
  const dump = `import json\njson.dump({k: [type(globals()[k]).__name__, repr(globals()[k])] for k in ${JSON.stringify(names)}}, open('values.json', 'w'))`;
  return { nbformat: 4, nbformat_minor: 4, metadata: { kernelspec: { name: 'python3', language: 'python' } }, cells: [code(parametersCell, ['parameters']), code(dump)] };
}

let counter = 0;
function run(parametersCell: string, names: string[], args: string[]) {
  const work = path.join(dir, `run${++counter}`);
  fs.mkdirSync(work);
  fs.writeFileSync(path.join(work, 'nb.ipynb'), JSON.stringify(notebook(parametersCell, names)));
  const r = spawnSync(python, [runner, 'nb.ipynb', '--redlab-kernel', 'stdlib', ...args], { cwd: work, encoding: 'utf8' });
  const file = path.join(work, 'values.json');
  return { code: r.status, stderr: r.stderr, values: fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, [string, string]>) : undefined };
}

const CELL = 'n = 1\nx = 0.5\nflag = False\nmsg = None\nxs = [1, 2]\nnames = ["a"]\ncfg = {"k": 1}';
const NAMES = ['n', 'x', 'flag', 'msg', 'xs', 'names', 'cfg'];

test('without declared types, a value of another type than the default is injected as given (papermill does)', () => {
  const r = run(CELL, NAMES, ['--n', '2.5', '--x', '0x10', '--flag', '1', '--msg', 'hello', '--xs', '[3, 4.5]', '--names', '["a,b", "c"]', '--cfg', '{"k": [1, null]}']);
  expect(r.stderr).not.toMatch(/not a valid/);
  expect(r.code).toBe(0);
  expect(r.values).toEqual({
    n: ['float', '2.5'],
    x: ['str', "'0x10'"],
    flag: ['int', '1'],
    msg: ['str', "'hello'"],
    xs: ['list', '[3, 4.5]'],
    names: ['list', "['a,b', 'c']"],
    cfg: ['dict', "{'k': [1, None]}"]
  });
  // A bare flag is True, a word after it that is another option is not its value.
  const flags = run(CELL, NAMES, ['--flag', '--n', '-3']);
  expect(flags.values).toMatchObject({ flag: ['bool', 'True'], n: ['int', '-3'] });
});

const TYPES = '--redlab-types=n=int,x=float,flag=boolean,msg=string?,xs=float[],names=string[],cfg=json';

test('with declared types, values convert to them; lists come as JSON (commas kept) or joined by commas', () => {
  const r = run(CELL, NAMES, [TYPES, '--n', '1e3', '--x', '2', '--flag', '--xs', '[3, 4.5]', '--names', '["a,b", "c"]', '--cfg', '{"k": 2}']);
  expect(r.code).toBe(0);
  expect(r.values).toEqual({
    n: ['int', '1000'],
    x: ['float', '2.0'],
    flag: ['bool', 'True'],
    msg: ['NoneType', 'None'],
    xs: ['list', '[3.0, 4.5]'],
    names: ['list', "['a,b', 'c']"],
    cfg: ['dict', "{'k': 2}"]
  });
  const joined = run(CELL, NAMES, [TYPES, '--n', '3', '--x', '1', '--xs', '0.5,1.5', '--names', 'p,q']);
  expect(joined.values).toMatchObject({ xs: ['list', '[0.5, 1.5]'], names: ['list', "['p', 'q']"], flag: ['bool', 'False'] });
});

test.each([
  [['--n', '1e100'], '--n: \'1e100\' is not a valid int: out of the range of a 64-bit whole number'],
  [['--n', '2.5'], "--n: '2.5' is not a valid int: not a whole number"],
  [['--xs', '[1, "a"]'], '--xs: \'[1, "a"]\' is not a valid list of float: item "a" is not a valid float'],
  [['--xs', '[1, 2'], "--xs: '[1, 2' is not a valid list of float: it starts with [ but is not a JSON list"],
  [['--names', '[1]'], "--names: '[1]' is not a valid list of str: item 1 is not a valid str"]
])('with declared types, %j is refused naming the parameter, the value and the type (exit 2)', (args, message) => {
  const r = run(CELL, NAMES, [TYPES, '--n', '1', '--x', '1', ...args]);
  expect(r.code).toBe(2);
  expect(r.stderr).toContain(`redlab_nbrun: ${message}`);
  expect(r.values).toBeUndefined();
});

test('--redlab-kernel takes auto, ipython or stdlib and refuses anything else', () => {
  const r = run(CELL, NAMES, ['--redlab-kernel', 'jupyter']);
  expect(r.code).toBe(2);
  expect(r.stderr).toContain("redlab_nbrun: --redlab-kernel: 'jupyter' is not one of auto, ipython, stdlib");
});
