// The panel reads the parameters cell in TypeScript; the runner reads it with Python's ast in
// the container. Both must see the same names, types and values.
import { execFileSync } from 'child_process';
import { parseParametersSource } from '../parameters';

const cell = [
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
  'ann: float = 2',
  'annl: list[float] = [1, 2]',
  'spread = [',
  '    1,  # one',
  '    2,',
  ']  # doc',
  'paren = (0.25)',
  'emoji = "\u{1F600} é"'
].join('\n');

// Python's view: name -> [type, value] for every literal assignment (annotated float turns ints into floats, as the runner does).
const PY = `
import ast, json, sys
src = sys.stdin.read()
out = {}
for node in ast.parse(src).body:
    if isinstance(node, ast.Assign):
        name, value, ann = node.targets[0].id, node.value, None
    else:
        name, value, ann = node.target.id, node.value, ast.get_source_segment(src, node.annotation)
    v = ast.literal_eval(value)
    def conv(x):
        if ann in ('float', 'list[float]') and isinstance(x, int) and not isinstance(x, bool):
            return float(x)
        return x
    v = [conv(i) for i in v] if isinstance(v, list) else conv(v)
    def kind(x):
        return {bool: 'boolean', int: 'int', float: 'float', str: 'string'}[type(x)]
    t = kind(v[0]) + '[]' if isinstance(v, list) else kind(v)
    if isinstance(v, list) and t == 'int[]' and any(isinstance(i, float) for i in v):
        t = 'float[]'
    out[name] = [t, v]
print(json.dumps(out))
`;

test('the TypeScript reading of a parameters cell matches Python ast.literal_eval', () => {
  const python = JSON.parse(execFileSync('python3', ['-c', PY], { input: cell, encoding: 'utf8' })) as Record<string, [string, unknown]>;
  const ts = parseParametersSource(cell);
  expect(ts.warnings).toEqual([]);
  const mine = Object.fromEntries(ts.parameters.map(p => [p.name, [p.type, p.default]]));
  expect(mine).toEqual(python);
  expect(Object.keys(mine)).toHaveLength(26);
});
