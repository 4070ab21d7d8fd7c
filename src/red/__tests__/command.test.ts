import * as fs from 'fs';
import * as path from 'path';
import { buildCommand, formatCommandLine, normalizeBaseCommand, parseInputType } from '../command';
import { inputContainerPath } from '../paths';
import { compareCodePoints, pyFloatRepr, pyIntStr, pySplitext, pyStr, pyStrip, pyTruthy, shlexQuote } from '../pyformat';
import { RedError, type CommandLineTool, type CwlInput, type FileOrDirectory, type JobInputs, type SingleRed } from '../types';

const FIXTURES = path.join(__dirname, 'fixtures', 'exec');

function cli(inputs: Record<string, CwlInput>, baseCommand: CommandLineTool['baseCommand'] = 'cmd'): CommandLineTool {
  const tool: CommandLineTool = { cwlVersion: 'v1.0', class: 'CommandLineTool', inputs, outputs: {} };
  if (baseCommand !== undefined) tool.baseCommand = baseCommand;
  return tool;
}

function input(type: string, inputBinding: CwlInput['inputBinding'] = {}): CwlInput {
  return { type, inputBinding };
}

const file = (extra: Partial<FileOrDirectory> = {}): FileOrDirectory => ({ class: 'File', connector: { command: 'red-connector-http', access: { url: 'https://x/y' } }, ...extra });
const dir = (extra: Partial<FileOrDirectory> = {}): FileOrDirectory => ({ class: 'Directory', connector: { command: 'red-connector-ssh', access: {} }, ...extra });

const opts = { containerPathOf: inputContainerPath };
const build = (tool: CommandLineTool, inputs: JobInputs, extra: Partial<Parameters<typeof buildCommand>[2]> = {}) =>
  buildCommand(tool, inputs, { ...opts, ...extra });

describe('pyFloatRepr: Python repr(float)', () => {
  const cases: Array<[number, string]> = [
    [0.1, '0.1'],
    [1 / 3, '0.3333333333333333'],
    [2 / 3, '0.6666666666666666'],
    [1e22, '1e+22'],
    [5e-324, '5e-324'],
    [-0.0, '-0.0'],
    [0, '0.0'],
    [100.0, '100.0'],
    [1.0, '1.0'],
    [-1.5, '-1.5'],
    [1e16, '1e+16'],
    [1e15, '1000000000000000.0'],
    [9999999999999998.0, '9999999999999998.0'],
    [123456789012345680.0, '1.2345678901234568e+17'],
    [123456789.123, '123456789.123'],
    [1e-5, '1e-05'],
    [1.5e-5, '1.5e-05'],
    [0.0001, '0.0001'],
    [0.00011, '0.00011'],
    [1e-4, '0.0001'],
    [2.5e-7, '2.5e-07'],
    [1e100, '1e+100'],
    [1.7976931348623157e308, '1.7976931348623157e+308'],
    [2.2250738585072014e-308, '2.2250738585072014e-308'],
    [0.1 + 0.2, '0.30000000000000004'],
    [1e21, '1e+21'],
    [12345.678, '12345.678'],
    [-1e-7, '-1e-07'],
    [NaN, 'nan'],
    [Infinity, 'inf'],
    [-Infinity, '-inf']
  ];
  test.each(cases)('%p -> %s', (x, expected) => {
    expect(pyFloatRepr(x)).toBe(expected);
  });
});

describe('Python helpers', () => {
  test('pyIntStr gives all digits, no exponent, no -0', () => {
    expect(pyIntStr(0)).toBe('0');
    expect(pyIntStr(-0)).toBe('0');
    expect(pyIntStr(-42)).toBe('-42');
    expect(pyIntStr(2 ** 60)).toBe('1152921504606846976');
    expect(pyIntStr(1e21)).toBe('1000000000000000000000');
    expect(() => pyIntStr(1.5)).toThrow('not an integer');
  });

  test('pyStr renders as Python str()', () => {
    expect(pyStr(true)).toBe('True');
    expect(pyStr(false)).toBe('False');
    expect(pyStr('x y')).toBe('x y');
    expect(pyStr(3)).toBe('3');
    expect(pyStr(3, true)).toBe('3.0');
    expect(pyStr(0.5)).toBe('0.5');
    expect(pyStr(null)).toBe('None');
    expect(() => pyStr([1])).toThrow('a list');
  });

  test('pyTruthy follows Python truthiness', () => {
    expect([false, 0, '', [], {}, null, undefined].map(pyTruthy)).toEqual([false, false, false, false, false, false, false]);
    expect([true, 1, 'x', [false], { a: 1 }, -0.5].map(pyTruthy)).toEqual([true, true, true, true, true, true]);
  });

  test('pyStrip strips Python whitespace only', () => {
    expect(pyStrip(' \t\n echo \r\x0b\x0c')).toBe('echo');
    expect(pyStrip('\u00a0\u3000x\u2028')).toBe('x');
    expect(pyStrip('\ufeffx')).toBe('\ufeffx');
    expect(pyStrip('a b')).toBe('a b');
  });

  test('pySplitext is posixpath.splitext', () => {
    expect(pySplitext('a.tar.gz')).toEqual(['a.tar', '.gz']);
    expect(pySplitext('.bashrc')).toEqual(['.bashrc', '']);
    expect(pySplitext('..a')).toEqual(['..a', '']);
    expect(pySplitext('...a.b')).toEqual(['...a', '.b']);
    expect(pySplitext('noext')).toEqual(['noext', '']);
    expect(pySplitext('dir.d/file')).toEqual(['dir.d/file', '']);
    expect(pySplitext('x.')).toEqual(['x', '.']);
  });

  test('shlexQuote is shlex.quote', () => {
    expect(shlexQuote('')).toBe("''");
    expect(shlexQuote('abc-_./@%+=:,9')).toBe('abc-_./@%+=:,9');
    expect(shlexQuote('a b')).toBe("'a b'");
    expect(shlexQuote("it's")).toBe(`'it'"'"'s'`);
    expect(shlexQuote('$HOME')).toBe("'$HOME'");
    expect(shlexQuote('é')).toBe("'é'");
  });

  test('compareCodePoints sorts like Python', () => {
    expect(['b', 'B', '_a', 'a', '😀', '\uffff', 'é'].sort(compareCodePoints)).toEqual(['B', '_a', 'a', 'b', 'é', '\uffff', '😀']);
  });
});

describe('parseInputType', () => {
  test('primitive, array, optional, optional array', () => {
    expect(parseInputType('int')).toEqual({ category: 'int', array: false, optional: false });
    expect(parseInputType('File[]')).toEqual({ category: 'File', array: true, optional: false });
    expect(parseInputType('string?')).toEqual({ category: 'string', array: false, optional: true });
    expect(parseInputType('Directory[]?')).toEqual({ category: 'Directory', array: true, optional: true });
  });
  test('unknown types are rejected with the type named', () => {
    expect(() => parseInputType('str')).toThrow('the input type "str" is not valid');
    expect(() => parseInputType('int?[]')).toThrow('"int?[]"');
  });
});

describe('baseCommand', () => {
  test('a string is one stripped word', () => {
    expect(build(cli({}, '  python3 '), {})).toEqual(['python3']);
    expect(normalizeBaseCommand('echo hello')).toEqual(['echo hello']);
  });
  test('a list gives its words, each stripped', () => {
    expect(build(cli({}, ['python3', ' -u ', 'run.py']), {})).toEqual(['python3', '-u', 'run.py']);
  });
  test('null or absent gives no word', () => {
    expect(build(cli({ a: input('string', { position: 0 }) }, null), { a: 'x' })).toEqual(['x']);
    const absent: CommandLineTool = { cwlVersion: 'v1.0', class: 'CommandLineTool', inputs: { a: input('string', { position: 0 }) }, outputs: {} };
    expect(build(absent, { a: 'x' })).toEqual(['x']);
    expect(normalizeBaseCommand([])).toEqual([]);
  });
});

describe('argument order', () => {
  test('positional arguments sorted by position, then prefixed ones in declaration order', () => {
    const tool = cli({
      named_b: input('string', { prefix: '-b' }),
      third: input('string', { position: 3 }),
      named_a: input('string', { prefix: '-a' }),
      first: input('string', { position: 1 }),
      second: input('string', { position: 2 })
    });
    expect(build(tool, { named_b: 'B', third: '3', named_a: 'A', first: '1', second: '2' })).toEqual(['cmd', '1', '2', '3', '-b', 'B', '-a', 'A']);
  });

  test('ties keep declaration order', () => {
    const tool = cli({ z: input('string', { position: 1 }), a: input('string', { position: 1 }), m: input('string', { position: 0 }) });
    expect(build(tool, { z: 'z', a: 'a', m: 'm' })).toEqual(['cmd', 'm', 'z', 'a']);
  });

  test('an input with neither prefix nor position is positional at position 0', () => {
    const tool = cli({ one: input('string', { position: 1 }), bare: input('string'), minus: input('string', { position: -1 }) });
    expect(build(tool, { one: '1', bare: 'bare', minus: 'm' })).toEqual(['cmd', 'm', 'bare', '1']);
  });

  test('a prefixed argument ignores its position and comes after all positional ones', () => {
    const tool = cli({ flag: input('string', { prefix: '--first', position: -10 }), pos: input('string', { position: 5 }) });
    expect(build(tool, { flag: 'F', pos: 'P' })).toEqual(['cmd', 'P', '--first', 'F']);
  });

  test('fractional positions sort numerically', () => {
    const tool = cli({ b: input('string', { position: 1.5 }), a: input('string', { position: 1 }), c: input('string', { position: 2 }) });
    expect(build(tool, { a: 'a', b: 'b', c: 'c' })).toEqual(['cmd', 'a', 'b', 'c']);
  });

  test('an empty prefix counts as no prefix', () => {
    const tool = cli({ n: input('string', { prefix: '' }), p: input('string', { position: 1 }) });
    expect(build(tool, { n: 'N', p: 'P' })).toEqual(['cmd', 'N', 'P']);
  });
});

describe('scalars', () => {
  test('prefix and value are separate words by default', () => {
    expect(build(cli({ n: input('int', { prefix: '-n' }) }), { n: 5 })).toEqual(['cmd', '-n', '5']);
  });
  test('separate: false glues prefix and value', () => {
    expect(build(cli({ n: input('int', { prefix: '--n=', separate: false }) }), { n: 5 })).toEqual(['cmd', '--n=5']);
  });
  test('separate: true is the default', () => {
    expect(build(cli({ n: input('string', { prefix: '-s', separate: true }) }), { n: 'v' })).toEqual(['cmd', '-s', 'v']);
  });
  test('strings are passed as is, including spaces and empty strings', () => {
    expect(build(cli({ s: input('string', { position: 0 }) }), { s: 'hello world' })).toEqual(['cmd', 'hello world']);
    expect(build(cli({ s: input('string', { position: 0 }) }), { s: '' })).toEqual(['cmd', '']);
  });
  test('ints and longs render as Python ints', () => {
    const tool = cli({ i: input('int', { position: 0 }), l: input('long', { position: 1 }) });
    expect(build(tool, { i: -3, l: 2 ** 60 })).toEqual(['cmd', '-3', '1152921504606846976']);
  });
  test('an integral float renders as an int unless its path is in floatPaths', () => {
    const tool = cli({ alpha: input('float', { prefix: '--alpha' }) });
    expect(build(tool, { alpha: 1 })).toEqual(['cmd', '--alpha', '1']);
    expect(build(tool, { alpha: 1 }, { floatPaths: new Set(['inputs.alpha']) })).toEqual(['cmd', '--alpha', '1.0']);
  });
  test('floatPathPrefix selects the batch the inputs come from', () => {
    const tool = cli({ alpha: input('double', { position: 0 }) });
    const floatPaths = new Set(['batches.1.inputs.alpha']);
    expect(build(tool, { alpha: 1 }, { floatPaths, floatPathPrefix: 'batches.0.inputs' })).toEqual(['cmd', '1']);
    expect(build(tool, { alpha: 1 }, { floatPaths, floatPathPrefix: 'batches.1.inputs' })).toEqual(['cmd', '1.0']);
  });
  test('floats render as Python repr', () => {
    const tool = cli({ a: input('float', { position: 0 }), b: input('float', { position: 1 }), c: input('double', { position: 2 }), d: input('float', { position: 3 }) });
    const floatPaths = new Set(['inputs.a', 'inputs.b', 'inputs.c', 'inputs.d']);
    expect(build(tool, { a: 1e-5, b: 1e16, c: 0.0001, d: 100 }, { floatPaths })).toEqual(['cmd', '1e-05', '1e+16', '0.0001', '100.0']);
    expect(build(tool, { a: 0.5, b: 2.5e-7, c: 123456789.123, d: -0 }, { floatPaths })).toEqual(['cmd', '0.5', '2.5e-07', '123456789.123', '-0.0']);
  });
  test('a non-integral number is a float even without floatPaths', () => {
    expect(build(cli({ a: input('float', { position: 0 }) }), { a: 0.1 })).toEqual(['cmd', '0.1']);
  });
});

describe('booleans', () => {
  const tool = cli({ verbose: input('boolean', { prefix: '-v' }) });
  test('true gives the bare prefix', () => {
    expect(build(tool, { verbose: true })).toEqual(['cmd', '-v']);
  });
  test('false gives nothing', () => {
    expect(build(tool, { verbose: false })).toEqual(['cmd']);
  });
  test('separate: false changes nothing for a boolean', () => {
    expect(build(cli({ v: input('boolean', { prefix: '--verbose', separate: false }) }), { v: true })).toEqual(['cmd', '--verbose']);
  });
  test('a boolean without a prefix gives nothing, true or false', () => {
    expect(build(cli({ v: input('boolean', { position: 0 }) }), { v: true })).toEqual(['cmd']);
    expect(build(cli({ v: input('boolean', { position: 0 }) }), { v: false })).toEqual(['cmd']);
  });
});

describe('arrays', () => {
  test('with a prefix: the prefix once, then the items', () => {
    expect(build(cli({ xs: input('int[]', { prefix: '-x' }) }), { xs: [1, 2, 3] })).toEqual(['cmd', '-x', '1', '2', '3']);
  });
  test('with a prefix and no itemSeparator, separate: false is ignored', () => {
    expect(build(cli({ xs: input('string[]', { prefix: '-x', separate: false }) }), { xs: ['a', 'b'] })).toEqual(['cmd', '-x', 'a', 'b']);
  });
  test('without a prefix: the items', () => {
    expect(build(cli({ xs: input('string[]', { position: 0 }) }), { xs: ['a', 'b c'] })).toEqual(['cmd', 'a', 'b c']);
  });
  test('itemSeparator joins the items into one word', () => {
    expect(build(cli({ xs: input('int[]', { position: 0, itemSeparator: ',' }) }), { xs: [1, 2] })).toEqual(['cmd', '1,2']);
    expect(build(cli({ xs: input('string[]', { prefix: '--list', itemSeparator: ';' }) }), { xs: ['a', 'b'] })).toEqual(['cmd', '--list', 'a;b']);
  });
  test('itemSeparator with separate: false glues prefix and joined items', () => {
    expect(build(cli({ xs: input('string[]', { prefix: '-X', separate: false, itemSeparator: ',' }) }), { xs: ['a', 'b'] })).toEqual(['cmd', '-Xa,b']);
  });
  test('an empty itemSeparator does not join', () => {
    expect(build(cli({ xs: input('string[]', { prefix: '-x', itemSeparator: '' }) }), { xs: ['a', 'b'] })).toEqual(['cmd', '-x', 'a', 'b']);
  });
  test('an empty array gives nothing, not even the prefix', () => {
    expect(build(cli({ xs: input('int[]', { prefix: '-x' }) }), { xs: [] })).toEqual(['cmd']);
    expect(build(cli({ xs: input('int[]', { prefix: '-x', itemSeparator: ',' }) }), { xs: [] })).toEqual(['cmd']);
    expect(build(cli({ xs: input('int[]', { position: 0 }) }), { xs: [] })).toEqual(['cmd']);
  });
  test('float items use per-item floatPaths', () => {
    const tool = cli({ xs: input('float[]', { position: 0 }) });
    expect(build(tool, { xs: [1, 1, 0.5] }, { floatPaths: new Set(['inputs.xs.1']) })).toEqual(['cmd', '1', '1.0', '0.5']);
  });
  test('boolean items render as True/False only with an itemSeparator', () => {
    expect(build(cli({ bs: input('boolean[]', { prefix: '-b', itemSeparator: ',' }) }), { bs: [true, false] })).toEqual(['cmd', '-b', 'True,False']);
    expect(build(cli({ bs: input('boolean[]', { position: 0, itemSeparator: ' ' }) }), { bs: [false, true] })).toEqual(['cmd', 'False True']);
    expect(build(cli({ bs: input('boolean[]', { prefix: '-b', separate: false, itemSeparator: ',' }) }), { bs: [true] })).toEqual(['cmd', '-bTrue']);
  });
  test('a non-empty boolean list with a prefix and no itemSeparator gives the bare prefix, whatever its items', () => {
    expect(build(cli({ bs: input('boolean[]', { prefix: '-b' }) }), { bs: [false, false] })).toEqual(['cmd', '-b']);
    expect(build(cli({ bs: input('boolean[]', { prefix: '-b' }) }), { bs: [] })).toEqual(['cmd']);
    expect(build(cli({ bs: input('boolean[]', { position: 0 }) }), { bs: [true] })).toEqual(['cmd']);
  });
  test('booleans inside a string array render as True/False', () => {
    expect(build(cli({ xs: input('string[]', { position: 0 }) }), { xs: ['a', true as unknown as string] })).toEqual(['cmd', 'a', 'True']);
  });
  test('an array type with a non-list value is an error', () => {
    expect(() => build(cli({ xs: input('int[]', { position: 0 }) }), { xs: 3 })).toThrow('declared as an array (int[]) but its value is not a list');
  });
  test('a scalar type with a list value is an error', () => {
    expect(() => build(cli({ x: input('int', { position: 0 }) }), { x: [3] })).toThrow('declared as int but its value is a list');
  });
});

describe('files and directories', () => {
  test('render as their path in the container', () => {
    const tool = cli({ script: input('File', { position: 0 }), data: input('Directory', { prefix: '--data' }) });
    expect(build(tool, { script: file({ basename: 'count.py' }), data: dir() })).toEqual(['cmd', '/cc/inputs/script/count.py', '--data', '/cc/inputs/data/data']);
  });
  test('use containerPathOf with key, value and index', () => {
    const calls: Array<[string, string, number | undefined]> = [];
    const containerPathOf = (key: string, value: FileOrDirectory, index?: number) => {
      calls.push([key, value.class, index]);
      return `/mnt/${key}${index === undefined ? '' : `-${index}`}`;
    };
    const tool = cli({ one: input('File', { position: 0 }), many: input('File[]', { prefix: '-f', itemSeparator: ':' }) });
    expect(buildCommand(tool, { one: file(), many: [file(), file()] }, { containerPathOf })).toEqual(['cmd', '/mnt/one', '-f', '/mnt/many-0:/mnt/many-1']);
    expect(calls).toEqual([
      ['one', 'File', undefined],
      ['many', 'File', 0],
      ['many', 'File', 1]
    ]);
  });
  test('a File input whose value is not an object is an error naming the input', () => {
    expect(() => build(cli({ f: input('File', { position: 0 }) }), { f: 'data.txt' })).toThrow('input "f" is declared as File but its value is not a File object');
  });
});

describe('optional and missing inputs', () => {
  test('an absent or null optional input is dropped', () => {
    const tool = cli({ a: input('int?', { prefix: '-a' }), b: input('string?', { position: 0 }), c: input('File[]?', { position: 1 }) });
    expect(build(tool, {})).toEqual(['cmd']);
    expect(build(tool, { a: null as unknown as number, b: 'x' })).toEqual(['cmd', 'x']);
  });
  test('a missing required input is a RedError naming it', () => {
    const tool = cli({ need: input('string', { position: 0 }) });
    let err: unknown;
    try {
      build(tool, {}, { floatPathPrefix: 'batches.2.inputs' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(RedError);
    expect((err as RedError).issues).toEqual([
      {
        path: 'batches.2.inputs.need',
        message: 'required input "need" is missing',
        fix: 'give a value for "need", or make its type optional ("string?")',
        severity: 'error'
      }
    ]);
  });
});

describe('fixture RED', () => {
  test('wordcount: full command line', () => {
    const red = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'wordcount.red.json'), 'utf8')) as SingleRed;
    const argv = build(red.cli, red.inputs);
    expect(argv).toEqual(['python3', '-m', 'wordcount', '/cc/inputs/text/moby.txt', '--top', '25', '--threshold=0.5', '--stop', 'the,a,yes,no', '--lower']);
    expect(formatCommandLine(argv)).toBe('python3 -m wordcount /cc/inputs/text/moby.txt --top 25 --threshold=0.5 --stop the,a,yes,no --lower');
  });
});

describe('formatCommandLine', () => {
  test('quotes words as shlex.quote does', () => {
    expect(formatCommandLine(['echo', 'hello world', "it's", '', '--x=1', '*.txt'])).toBe(`echo 'hello world' 'it'"'"'s' '' --x=1 '*.txt'`);
  });
  test('an empty argv is an empty string', () => {
    expect(formatCommandLine([])).toBe('');
  });
});
