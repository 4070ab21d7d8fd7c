import * as fs from 'fs';
import * as path from 'path';
import { cliToCwl, plainReadsAsNonString, splitBatches, toBatchRed, toSortedJson, toSortedYaml } from '../convert';
import type { BatchRed, Red, SingleRed } from '../types';

const FIXTURES = path.join(__dirname, 'fixtures', 'exec');
const read = (name: string) => fs.readFileSync(path.join(FIXTURES, name), 'utf8');
const load = <T extends Red>(name: string): T => JSON.parse(read(name)) as T;

// Expected outputs were produced by ruamel.yaml 0.17.21 with its C extension, YAML(typ='safe'),
// default_flow_style=False: what `faice convert format` writes.

describe('toSortedYaml: fixtures byte for byte', () => {
  test('wordcount (single RED)', () => {
    expect(toSortedYaml(load('wordcount.red.json'))).toBe(read('wordcount.red.yml'));
  });
  test('sweep (batch RED, float 1.0 kept via floatPaths)', () => {
    expect(toSortedYaml(load('sweep.red.json'), { floatPaths: new Set(['batches.0.inputs.rate']) })).toBe(read('sweep.red.yml'));
  });
  test('without floatPaths an integral float is written as an int', () => {
    expect(toSortedYaml(load('sweep.red.json'))).toBe(read('sweep.red.yml').replace('rate: 1.0\n', 'rate: 1\n'));
  });
});

describe('toSortedYaml: scalar quoting (YAML 1.2 typing, libyaml styles)', () => {
  const cases: Array<[string, string]> = [
    ["yes", "k: yes\n"],
    ["no", "k: no\n"],
    ["on", "k: on\n"],
    ["off", "k: off\n"],
    ["Yes", "k: Yes\n"],
    ["NO", "k: NO\n"],
    ["y", "k: y\n"],
    ["n", "k: n\n"],
    ["true", "k: 'true'\n"],
    ["True", "k: 'True'\n"],
    ["FALSE", "k: 'FALSE'\n"],
    ["null", "k: 'null'\n"],
    ["Null", "k: 'Null'\n"],
    ["NULL", "k: 'NULL'\n"],
    ["~", "k: '~'\n"],
    ["", "k: ''\n"],
    ["1e3", "k: '1e3'\n"],
    ["1E3", "k: '1E3'\n"],
    ["12e3", "k: '12e3'\n"],
    ["1.5", "k: '1.5'\n"],
    ["1.", "k: '1.'\n"],
    ["+.5", "k: '+.5'\n"],
    [".5", "k: '.5'\n"],
    ["1e-5", "k: '1e-5'\n"],
    ["0x1F", "k: '0x1F'\n"],
    ["0o17", "k: '0o17'\n"],
    ["017", "k: '017'\n"],
    ["08", "k: '08'\n"],
    ["0b101", "k: '0b101'\n"],
    ["1_000", "k: '1_000'\n"],
    ["-1", "k: '-1'\n"],
    ["+1", "k: '+1'\n"],
    ["0", "k: '0'\n"],
    ["12:30", "k: 12:30\n"],
    ["2001-12-14", "k: '2001-12-14'\n"],
    ["2001-12-14 21:59:43.10 -5", "k: '2001-12-14 21:59:43.10 -5'\n"],
    [".inf", "k: '.inf'\n"],
    ["-.inf", "k: '-.inf'\n"],
    [".NaN", "k: '.NaN'\n"],
    ["=", "k: '='\n"],
    ["<<", "k: '<<'\n"],
    [" leading", "k: ' leading'\n"],
    ["trailing ", "k: 'trailing '\n"],
    ["a: b", "k: 'a: b'\n"],
    ["a:b", "k: a:b\n"],
    ["x:", "k: 'x:'\n"],
    ["a #b", "k: 'a #b'\n"],
    ["a#b", "k: a#b\n"],
    ["#x", "k: '#x'\n"],
    ["@x", "k: '@x'\n"],
    ["`x", "k: '`x'\n"],
    ["!x", "k: '!x'\n"],
    ["&x", "k: '&x'\n"],
    ["*x", "k: '*x'\n"],
    ["|x", "k: '|x'\n"],
    [">x", "k: '>x'\n"],
    ["%x", "k: '%x'\n"],
    ["'x", "k: '''x'\n"],
    ["\"x", "k: '\"x'\n"],
    ["{x", "k: '{x'\n"],
    ["}x", "k: '}x'\n"],
    ["[x", "k: '[x'\n"],
    ["]x", "k: ']x'\n"],
    [",x", "k: ',x'\n"],
    ["x,y", "k: x,y\n"],
    ["-x", "k: -x\n"],
    ["- x", "k: '- x'\n"],
    ["-", "k: '-'\n"],
    ["--", "k: --\n"],
    ["---", "k: '---'\n"],
    ["--- x", "k: '--- x'\n"],
    ["...", "k: '...'\n"],
    ["?x", "k: ?x\n"],
    ["? x", "k: '? x'\n"],
    [":x", "k: :x\n"],
    [": x", "k: ': x'\n"],
    ["v1.0", "k: v1.0\n"],
    ["python:3.12", "k: python:3.12\n"],
    ["{{agency_password}}", "k: '{{agency_password}}'\n"],
    ["https://{{host}}/x", "k: https://{{host}}/x\n"],
    ["http://a.b/c?d=e#f", "k: http://a.b/c?d=e#f\n"],
    ["a\nb", "k: 'a\n\n  b'\n"],
    ["a\n", "k: 'a\n\n  '\n"],
    ["\n", "k: '\n\n  '\n"],
    ["multi\nline\nstring\n", "k: 'multi\n\n  line\n\n  string\n\n  '\n"],
    ["tab\there", "k: \"tab\\there\"\n"],
    ["\u00e9", "k: \u00e9\n"],
    ["\u65e5\u672c", "k: \u65e5\u672c\n"],
    ["\u00a0x", "k: \u00a0x\n"],
    ["\u0085", "k: \"\\N\"\n"],
    ["x\u2028y", "k: 'x\u2028  y'\n"],
    ["\ufeffbom", "k: \"\\uFEFFbom\"\n"],
    ["\ud83d\ude00", "k: \"\\U0001F600\"\n"],
    ["\u0007bell", "k: \"\\abell\"\n"],
    ["\u0000", "k: \"\\0\"\n"],
    ["a\\b", "k: a\\b\n"],
    ["it's", "k: it's\n"],
    ["say \"hi\"", "k: say \"hi\"\n"],
    ["a  b", "k: a  b\n"],
    [" ", "k: ' '\n"],
    ["x\r\ny", "k: \"x\\r\\ny\"\n"],
  ];
  test.each(cases)('%j', (value, expected) => {
    expect(toSortedYaml({ k: value })).toBe(expected);
  });

  test('the same rules apply to keys', () => {
    expect(toSortedYaml({ '9': 1, yes: 2, '': 3, 'a: b': 4, '#c': 5 })).toBe("'': 3\n'#c': 5\n'9': 1\n'a: b': 4\nyes: 2\n");
  });
});

describe('plainReadsAsNonString', () => {
  test('YAML 1.2 non-strings', () => {
    for (const s of ['', '~', 'null', 'true', 'False', '1', '-1', '0x1F', '0o17', '0b1', '1_000', '1.5', '1e3', '.inf', '.NaN', '2001-12-14', '<<', '=']) {
      expect([s, plainReadsAsNonString(s)]).toEqual([s, true]);
    }
  });
  test('strings', () => {
    for (const s of ['yes', 'no', 'on', 'off', 'y', '12:30', 'v1.0', '1.2.3', '0xZ', '3e', 'nul', 'abc', '_1', 'e3']) {
      expect([s, plainReadsAsNonString(s)]).toEqual([s, false]);
    }
  });
});

describe('toSortedYaml: structure', () => {
  test('keys sorted by code point, recursively', () => {
    expect(toSortedYaml({ b: { z: 1, a: 2 }, a: 0, B: 1, _x: 2, é: 3 })).toBe('B: 1\n_x: 2\na: 0\nb:\n  a: 2\n  z: 1\né: 3\n');
  });

  test('sequences inside mappings are not indented; nested sequences are', () => {
    expect(toSortedYaml({ a: [1, [2, 3], { b: 'c', d: [4] }] })).toBe('a:\n- 1\n- - 2\n  - 3\n- b: c\n  d:\n  - 4\n');
  });

  test('empty collections are flow style', () => {
    expect(toSortedYaml({ a: {}, b: [], c: [[], {}] })).toBe('a: {}\nb: []\nc:\n- []\n- {}\n');
    expect(toSortedYaml({})).toBe('{}\n');
    expect(toSortedYaml([])).toBe('[]\n');
  });

  test('a top-level sequence', () => {
    expect(toSortedYaml(['a', { b: 1 }])).toBe('- a\n- b: 1\n');
  });

  test('a top-level plain scalar ends the document with "..."', () => {
    expect(toSortedYaml('abc')).toBe('abc\n...\n');
    expect(toSortedYaml(5)).toBe('5\n...\n');
    expect(toSortedYaml('')).toBe("''\n");
  });

  test('numbers, booleans and null', () => {
    expect(toSortedYaml({ i: 42, n: -7, big: 2 ** 70, f: 0.5, b: true, c: false, z: null })).toBe(
      'b: true\nbig: 1180591620717411303424\nc: false\nf: 0.5\ni: 42\nn: -7\nz: null\n'
    );
  });

  test('floats as ruamel writes them (Python repr, YAML 1.2: no ".0" added to exponents)', () => {
    const doc = { xs: [1, 1e16, 1e15, 1e-5, 1e22, 5e-324, -0, 100, 123456789012345680, 1 / 3, NaN, Infinity, -Infinity] };
    const floatPaths = new Set(doc.xs.map((_, i) => `xs.${i}`));
    expect(toSortedYaml(doc, { floatPaths })).toBe(
      'xs:\n- 1.0\n- 1e+16\n- 1000000000000000.0\n- 1e-05\n- 1e+22\n- 5e-324\n- -0.0\n- 100.0\n- 1.2345678901234568e+17\n- 0.3333333333333333\n- .nan\n- .inf\n- -.inf\n'
    );
  });

  test('undefined values are left out', () => {
    expect(toSortedYaml({ a: undefined, b: 1 })).toBe('b: 1\n');
  });
});

describe('toSortedYaml: folding at width 80', () => {
  test('long plain strings fold at a space past column 80, continuation indented', () => {
    const words = Array(30).fill('word').join(' ');
    expect(toSortedYaml({ k: words })).toBe(
      'k: word word word word word word word word word word word word word word word word\n  word word word word word word word word word word word word word word\n'
    );
  });

  test('a string without spaces is never folded', () => {
    const long = 'x'.repeat(100);
    expect(toSortedYaml({ k: long })).toBe(`k: ${long}\n`);
  });

  test('folded continuation lines follow the nesting', () => {
    expect(toSortedYaml({ nested: { deeper: { deepest: 'word '.repeat(25) + 'end' } } })).toBe(
      'nested:\n  deeper:\n    deepest: word word word word word word word word word word word word word word\n      word word word word word word word word word word word end\n'
    );
  });

  test('long single-quoted strings fold too', () => {
    expect(toSortedYaml({ k: 'a '.repeat(45) })).toBe("k: 'a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a\n  a a a a a a '\n");
  });

  test('long double-quoted strings fold at a space, escaping a following space', () => {
    expect(toSortedYaml({ k: '\t' + 'ab '.repeat(30) })).toBe(
      'k: "\\tab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab\n  ab ab ab ab "\n'
    );
    expect(toSortedYaml({ k: '\t' + 'x'.repeat(78) + '  y' })).toBe(`k: "\\t${'x'.repeat(78)}\n  \\ y"\n`);
  });

  test('a space after a line break forces double quotes', () => {
    expect(toSortedYaml({ k: 'a\n b' })).toBe('k: "a\\n b"\n');
  });

  test('sequence items fold with the item indentation', () => {
    expect(toSortedYaml({ list: ['w '.repeat(50)] })).toBe(
      "list:\n- 'w w w w w w w w w w w w w w w w w w w w w w w w w w w w w w w w w w w w w w w w\n  w w w w w w w w w w '\n"
    );
  });
});

describe('toSortedYaml: keys', () => {
  test('a key of up to 128 bytes is a simple key', () => {
    const key = 'k'.repeat(128);
    expect(toSortedYaml({ [key]: 1 })).toBe(`${key}: 1\n`);
  });

  test('a longer key uses the explicit "? key" form', () => {
    const key = 'k'.repeat(129);
    expect(toSortedYaml({ [key]: [1, 2] })).toBe(`? ${key}\n: - 1\n  - 2\n`);
  });

  test('key length counts UTF-8 bytes', () => {
    const key = 'é'.repeat(65);
    expect(toSortedYaml({ [key]: 1 })).toBe(`? ${key}\n: 1\n`);
  });

  test('a multi-line key uses the explicit form, single-quoted', () => {
    expect(toSortedYaml({ 'multi\nkey': 2 })).toBe("? 'multi\n\n  key'\n: 2\n");
  });
});

describe('toSortedJson', () => {
  test('fixtures: json.dumps(indent=4, sort_keys=True) plus a newline', () => {
    expect(toSortedJson(load('wordcount.red.json'))).toBe(read('wordcount.sorted.json'));
    expect(toSortedJson(load('sweep.red.json'), { floatPaths: new Set(['batches.0.inputs.rate']) })).toBe(read('sweep.sorted.json'));
  });

  test('sortKeys: false keeps the key order, as faice itself prints JSON', () => {
    expect(toSortedJson({ b: 1, a: { d: 1, c: 2 } }, { sortKeys: false })).toBe('{\n    "b": 1,\n    "a": {\n        "d": 1,\n        "c": 2\n    }\n}\n');
  });

  test('ensure_ascii escapes and Python floats', () => {
    expect(toSortedJson({ s: 'é\u2028😀"\\\n\t\x01\x7f/', f: 1, g: 1e-5, n: NaN, i: Infinity, m: -Infinity, z: null, b: false }, { floatPaths: new Set(['f']) })).toBe(
      '{\n    "b": false,\n    "f": 1.0,\n    "g": 1e-05,\n    "i": Infinity,\n    "m": -Infinity,\n    "n": NaN,\n    "s": "\\u00e9\\u2028\\ud83d\\ude00\\"\\\\\\n\\t\\u0001\\u007f/",\n    "z": null\n}\n'
    );
  });

  test('empty collections', () => {
    expect(toSortedJson({ a: [], b: {}, c: [[]] })).toBe('{\n    "a": [],\n    "b": {},\n    "c": [\n        []\n    ]\n}\n');
    expect(toSortedJson([])).toBe('[]\n');
  });
});

describe('cliToCwl', () => {
  test('writes the cli section as faice convert cwl does', () => {
    expect(cliToCwl(load('wordcount.red.json'))).toBe(read('wordcount.cwl'));
    expect(cliToCwl(load('sweep.red.json'))).toBe(read('sweep.cwl'));
  });

  test('floatPaths under cli apply', () => {
    const red = load<SingleRed>('wordcount.red.json');
    (red.cli.inputs.text.inputBinding as { position: number }).position = 1;
    expect(cliToCwl(red, { floatPaths: new Set(['cli.inputs.text.inputBinding.position', 'inputs.top']) })).toContain('      position: 1.0\n');
  });

  test('a RED without cli is an error', () => {
    expect(() => cliToCwl({} as Red)).toThrow('the RED has no "cli" section');
  });
});

describe('toBatchRed', () => {
  test('a single RED becomes a batch RED with one batch', () => {
    const red = { ...load<SingleRed>('wordcount.red.json'), cloud: { enable: false } };
    const batchRed = toBatchRed(red);
    expect(Object.keys(batchRed)).toEqual(['redVersion', 'cli', 'batches', 'container', 'execution']);
    expect(batchRed.batches).toEqual([{ inputs: red.inputs, outputs: red.outputs, cloud: { enable: false } }]);
    expect(batchRed.batches[0].inputs).not.toBe(red.inputs);
  });

  test('a single RED without outputs gives a batch without outputs', () => {
    const red = load<SingleRed>('wordcount.red.json');
    delete red.outputs;
    expect(toBatchRed(red).batches).toEqual([{ inputs: red.inputs }]);
  });

  test('a batch RED comes back as an equal copy', () => {
    const red = load<BatchRed>('sweep.red.json');
    const copy = toBatchRed(red);
    expect(copy).toEqual(red);
    expect(copy).not.toBe(red);
  });
});

describe('splitBatches (faice convert batches)', () => {
  test('one single RED per batch; outputs only when the batch has some', () => {
    const red = load<BatchRed>('sweep.red.json');
    const singles = splitBatches(red);
    expect(singles).toHaveLength(2);
    expect(Object.keys(singles[0])).toEqual(['redVersion', 'cli', 'container', 'inputs', 'outputs']);
    expect(singles[0].inputs).toEqual(red.batches[0].inputs);
    expect(singles[0].outputs).toEqual(red.batches[0].outputs);
    expect(Object.keys(singles[1])).toEqual(['redVersion', 'cli', 'container', 'inputs']);
    expect(singles[1].inputs.rate).toBe(1e-5);
  });

  test('empty batch outputs are left out', () => {
    const red = load<BatchRed>('sweep.red.json');
    red.batches[0].outputs = {};
    expect('outputs' in splitBatches(red)[0]).toBe(false);
  });

  test('a RED without batches is an error', () => {
    expect(() => splitBatches(load('wordcount.red.json'))).toThrow('the RED does not contain batches');
  });
});
