import { GlobReferenceError, assertSafeGlob, globToRegExp, resolveGlobPattern } from '../glob';
import { inputContainerPath } from '../paths';
import { RedError, type FileOrDirectory, type JobInputs } from '../types';

const connector = { command: 'red-connector-http', access: { url: 'https://example.org/x' } };
const file = (extra: Partial<FileOrDirectory> = {}): FileOrDirectory => ({ class: 'File', connector, ...extra });
const dir = (extra: Partial<FileOrDirectory> = {}): FileOrDirectory => ({ class: 'Directory', connector, ...extra });

const inputs: JobInputs = {
  text: file({ basename: 'moby.dick.txt', size: 1234 }),
  plain: file(),
  hidden: file({ basename: '.bashrc' }),
  data: dir({ basename: 'images' }),
  many: [file({ basename: 'a.csv' }), file({ basename: 'b.tsv' })],
  name: 'run-1',
  n: 3,
  alpha: 1,
  beta: 0.5,
  flag: true,
  xs: [1, 2]
};

const resolve = (glob: string, opts = {}) => resolveGlobPattern(glob, inputs, inputContainerPath, opts);

describe('resolveGlobPattern', () => {
  test('a glob without references is returned unchanged', () => {
    expect(resolve('out/*.txt')).toBe('out/*.txt');
    expect(resolve('a)b$c(d')).toBe('a)b$c(d');
  });

  test('File attributes: basename, nameroot, nameext, path, dirname', () => {
    expect(resolve('$(inputs.text.basename)')).toBe('moby.dick.txt');
    expect(resolve('$(inputs.text.nameroot).hist.csv')).toBe('moby.dick.hist.csv');
    expect(resolve('x$(inputs.text.nameext)')).toBe('x.txt');
    expect(resolve('$(inputs.text.path)')).toBe('/cc/inputs/text/moby.dick.txt');
    expect(resolve('$(inputs.text.dirname)')).toBe('/cc/inputs/text');
  });

  test('a File without basename uses the container basename (the input key)', () => {
    expect(resolve('$(inputs.plain.basename)')).toBe('plain');
    expect(resolve('$(inputs.plain.nameroot)|$(inputs.plain.nameext)')).toBe('plain|');
  });

  test('nameroot/nameext ignore leading dots, as os.path.splitext', () => {
    expect(resolve('$(inputs.hidden.nameroot)|$(inputs.hidden.nameext)')).toBe('.bashrc|');
  });

  test('fields written in the RED are readable', () => {
    expect(resolve('$(inputs.text.size)')).toBe('1234');
    expect(resolve('$(inputs.text.class)-$(inputs.text.connector.command)')).toBe('File-red-connector-http');
  });

  test('Directory attributes', () => {
    expect(resolve('$(inputs.data.basename)/*.png')).toBe('images/*.png');
    expect(resolve('$(inputs.data.path)')).toBe('/cc/inputs/data/images');
  });

  test('array elements by index, including negative indices', () => {
    expect(resolve('$(inputs.many[0].basename)')).toBe('a.csv');
    expect(resolve('$(inputs.many[1].nameroot)')).toBe('b');
    expect(resolve('$(inputs.many[-1].nameext)')).toBe('.tsv');
    expect(resolve('$(inputs.many[1].path)')).toBe('/cc/inputs/many/1/b.tsv');
    expect(resolve('$(inputs.xs[1])')).toBe('2');
  });

  test('bracket attribute syntax', () => {
    expect(resolve('$(inputs.text["nameroot"])')).toBe('moby.dick');
    expect(resolve("$(inputs['text']['basename'])")).toBe('moby.dick.txt');
    expect(resolve('$(inputs.many[0]["basename"])')).toBe('a.csv');
  });

  test('primitives render as Python str()', () => {
    expect(resolve('$(inputs.name).log')).toBe('run-1.log');
    expect(resolve('out_$(inputs.n).txt')).toBe('out_3.txt');
    expect(resolve('$(inputs.flag)')).toBe('True');
    expect(resolve('$(inputs.beta)')).toBe('0.5');
    expect(resolve('$(inputs.alpha)')).toBe('1');
    expect(resolve('$(inputs.alpha)', { floatPaths: new Set(['inputs.alpha']) })).toBe('1.0');
    expect(resolve('$(inputs.alpha)', { floatPaths: new Set(['batches.3.inputs.alpha']), floatPathPrefix: 'batches.3.inputs' })).toBe('1.0');
    expect(resolve('$(inputs.xs[0])', { floatPaths: new Set(['inputs.xs.0']) })).toBe('1.0');
  });

  test('several references in one glob', () => {
    expect(resolve('$(inputs.name)/$(inputs.text.nameroot)_$(inputs.n).*')).toBe('run-1/moby.dick_3.*');
  });

  test('containerPathOf decides path, dirname and default basename', () => {
    const custom = (key: string, _v: FileOrDirectory, index?: number) => `/work/${key}${index === undefined ? '' : index}/data.bin`;
    expect(resolveGlobPattern('$(inputs.plain.basename)|$(inputs.plain.dirname)|$(inputs.many[1].path)', inputs, custom)).toBe('data.bin|/work/plain|/work/many1/data.bin');
  });

  describe('errors name the expression', () => {
    const cases: Array<[string, string]> = [
      ['$(inputs.nope.basename)', 'cannot resolve $(inputs.nope.basename) in glob "$(inputs.nope.basename)": there is no input "nope" in this job'],
      ['$(inputs.text.bogus)', 'cannot resolve $(inputs.text.bogus) in glob "$(inputs.text.bogus)": "inputs.text" has no "bogus" (it has: class, connector, basename, size, path, dirname, nameroot, nameext)'],
      ['$(inputs.text)', 'cannot resolve $(inputs.text) in glob "$(inputs.text)": "inputs.text" is a File: pick an attribute, e.g. inputs.text.basename'],
      ['$(inputs.data.nameroot)', 'cannot resolve $(inputs.data.nameroot) in glob "$(inputs.data.nameroot)": "inputs.data" has no "nameroot"'],
      ['$(inputs.many)', '"inputs.many" is a list: pick an item, e.g. inputs.many[0]'],
      ['$(inputs.many[2].basename)', 'index 2 is out of range: "inputs.many" has 2 items'],
      ['$(inputs.many.basename)', '"inputs.many" is a list: index it with a number, e.g. inputs.many[0]'],
      ['$(inputs.name.length)', '"inputs.name" is a string, it has no "length"'],
      ['$(inputs.text[0])', '"inputs.text" is not a list, so [0] cannot index it'],
      ['$(outputs.x)', 'a reference reads an input: write $(inputs.NAME) or $(inputs.NAME.basename)'],
      ['$(inputs)', 'a reference reads an input'],
      ['$(inputs.text.basename', 'cannot resolve a "$(...)" reference in glob "$(inputs.text.basename": "$(" at column 1 is not closed by ")"'],
      ['$(inputs.$(inputs.n))', '"$(" at column 10 starts inside another "$(...)"']
    ];
    test.each(cases)('%s', (glob, message) => {
      expect(() => resolve(glob)).toThrow(message);
      expect(() => resolve(glob)).toThrow(GlobReferenceError);
    });

    test('the error carries expression and glob', () => {
      try {
        resolve('x/$(inputs.nope)/y');
        throw new Error('no error');
      } catch (e) {
        expect(e).toBeInstanceOf(GlobReferenceError);
        expect((e as GlobReferenceError).expression).toBe('$(inputs.nope)');
        expect((e as GlobReferenceError).glob).toBe('x/$(inputs.nope)/y');
      }
    });
  });
});

describe('assertSafeGlob', () => {
  test('relative globs pass', () => {
    for (const g of ['out.txt', 'results/*.csv', '**/*.h5', './x', 'a..b', '..x/y', 'x/...']) {
      expect(() => assertSafeGlob(g, 'cli.outputs.o.outputBinding.glob')).not.toThrow();
    }
  });

  test('absolute globs are rejected, naming the field', () => {
    let err: unknown;
    try {
      assertSafeGlob('/etc/passwd', 'cli.outputs.secret.outputBinding.glob');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(RedError);
    expect((err as RedError).issues).toEqual([
      {
        path: 'cli.outputs.secret.outputBinding.glob',
        message: 'the glob "/etc/passwd" is absolute: outputs are searched for inside the working directory only',
        fix: 'write the glob relative to the working directory, e.g. "out.txt" or "results/*.csv"',
        severity: 'error'
      }
    ]);
    expect((err as Error).message).toContain('cli.outputs.secret.outputBinding.glob');
  });

  test('".." segments are rejected', () => {
    for (const g of ['..', '../x', 'a/../../b', 'a/..']) {
      expect(() => assertSafeGlob(g, 'f')).toThrow(`the glob "${g}" has a ".." segment`);
    }
  });

  test('an empty glob is rejected', () => {
    expect(() => assertSafeGlob('', 'cli.stdout')).toThrow('cli.stdout: the glob is empty');
  });
});

describe('globToRegExp', () => {
  const files = [
    'out.txt',
    'notes.md',
    '.hidden.txt',
    'ab',
    'ac',
    'a-',
    'a]',
    'a/g.txt',
    'a/b/h.csv',
    'a/b/c/i.txt',
    '.cache/x.txt',
    'sp ace.txt',
    '[x]',
    'é.txt',
    'a+b(1).txt'
  ];
  const match = (pattern: string) => files.filter(f => globToRegExp(pattern).test(f));

  test('literal names', () => {
    expect(match('out.txt')).toEqual(['out.txt']);
    expect(match('sp ace.txt')).toEqual(['sp ace.txt']);
    expect(match('a+b(1).txt')).toEqual(['a+b(1).txt']);
    expect(match('a/b/h.csv')).toEqual(['a/b/h.csv']);
  });

  test('* stays within one segment and skips hidden names', () => {
    expect(match('*.txt')).toEqual(['out.txt', 'sp ace.txt', 'é.txt', 'a+b(1).txt']);
    expect(match('a/*')).toEqual(['a/g.txt']);
    expect(match('*/*.txt')).toEqual(['a/g.txt']);
  });

  test('a pattern starting with "." matches hidden names', () => {
    expect(match('.*')).toEqual(['.hidden.txt']);
    expect(match('.cache/*')).toEqual(['.cache/x.txt']);
  });

  test('? matches one character (one code point)', () => {
    expect(match('a?')).toEqual(['ab', 'ac', 'a-', 'a]']);
    expect(match('?.txt')).toEqual(['é.txt']);
  });

  test('character classes, ranges and negation', () => {
    expect(match('a[bc]')).toEqual(['ab', 'ac']);
    expect(match('a[!b]')).toEqual(['ac', 'a-', 'a]']);
    expect(match('a[]]')).toEqual(['a]']);
    expect(match('a[-]')).toEqual(['a-']);
    expect(match('a[a-b]')).toEqual(['ab']);
    expect(match('[[]x]')).toEqual(['[x]']);
    expect(match('a[b')).toEqual([]);
  });

  test('** matches zero or more directories', () => {
    expect(match('**/*.txt')).toEqual(['out.txt', 'a/g.txt', 'a/b/c/i.txt', 'sp ace.txt', 'é.txt', 'a+b(1).txt']);
    expect(match('a/**/*.txt')).toEqual(['a/g.txt', 'a/b/c/i.txt']);
    expect(match('a/**/h.csv')).toEqual(['a/b/h.csv']);
    expect(match('a/**')).toEqual(['a/g.txt', 'a/b/h.csv', 'a/b/c/i.txt']);
    expect(match('**/**/i.txt')).toEqual(['a/b/c/i.txt']);
  });

  test('a/** also matches the directory a itself', () => {
    expect(globToRegExp('a/**').test('a')).toBe(true);
    expect(globToRegExp('a/**').test('ab')).toBe(false);
  });

  test('regular expression characters are literal', () => {
    expect(globToRegExp('a.b').test('axb')).toBe(false);
    expect(globToRegExp('x{1}').test('x{1}')).toBe(true);
    expect(globToRegExp('^$|').test('^$|')).toBe(true);
    expect(globToRegExp('a\\b').test('a\\b')).toBe(true);
  });
});
