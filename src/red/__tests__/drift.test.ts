import { CsvParseError, compareCsv, compareJson, isIdentical, isIgnored, parseCsv, parseNumberCell, valueDriftKind, withinTolerance, type DriftReport } from '../drift';

const exact = { atol: 0, rtol: 0 };

describe('withinTolerance', () => {
  it('is |after - before| <= atol + rtol * |before|', () => {
    expect(withinTolerance(1, 1, exact)).toBe(true);
    expect(withinTolerance(1, 1.0000001, exact)).toBe(false);
    expect(withinTolerance(1, 1.0000001, { atol: 1e-6, rtol: 0 })).toBe(true);
    expect(withinTolerance(100, 101, { atol: 0, rtol: 0.01 })).toBe(true);
    expect(withinTolerance(100, 101.5, { atol: 0, rtol: 0.01 })).toBe(false);
    // rtol is of the value before: 0.995% of 101 is above 1, of 100 below.
    expect(withinTolerance(101, 100, { atol: 0, rtol: 0.00995 })).toBe(true);
    expect(withinTolerance(100, 101, { atol: 0, rtol: 0.00995 })).toBe(false);
    expect(withinTolerance(0, 0.5, { atol: 0.5, rtol: 0.1 })).toBe(true);
  });

  it('takes NaN as equal to NaN only, infinities only as themselves', () => {
    expect(withinTolerance(NaN, NaN, exact)).toBe(true);
    expect(withinTolerance(NaN, 1, { atol: 10, rtol: 10 })).toBe(false);
    expect(withinTolerance(Infinity, Infinity, exact)).toBe(true);
    expect(withinTolerance(Infinity, -Infinity, { atol: 10, rtol: 10 })).toBe(false);
    expect(withinTolerance(Infinity, 1e308, { atol: 10, rtol: 10 })).toBe(false);
  });
});

describe('parseNumberCell', () => {
  it('reads decimal and exponent numbers, NaN and Inf, nothing else', () => {
    expect(parseNumberCell('1.5')).toBe(1.5);
    expect(parseNumberCell(' -2e-3 ')).toBe(-0.002);
    expect(parseNumberCell('.5')).toBe(0.5);
    expect(parseNumberCell('5.')).toBe(5);
    expect(parseNumberCell('nan')).toBeNaN();
    expect(parseNumberCell('-Inf')).toBe(-Infinity);
    expect(parseNumberCell('infinity')).toBe(Infinity);
    for (const text of ['', ' ', '0x10', '1 2', '1,5', 'e5', '1e', 'abc', '--1']) expect(parseNumberCell(text)).toBeUndefined();
  });
});

describe('parseCsv', () => {
  it('splits records and fields, with quoted delimiters, quotes and line breaks', () => {
    const text = 'a,b,c\r\n1,"x, y","say ""hi"""\n2,"two\nlines",\r3,,""\n';
    expect(parseCsv(text)).toEqual([
      ['a', 'b', 'c'],
      ['1', 'x, y', 'say "hi"'],
      ['2', 'two\nlines', ''],
      ['3', '', '']
    ]);
  });

  it('drops a byte order mark, skips blank lines, keeps a last record without a line break', () => {
    expect(parseCsv('\ufeffa,b\n\n1,2\n\r\n3,4')).toEqual([
      ['a', 'b'],
      ['1', '2'],
      ['3', '4']
    ]);
    expect(parseCsv('')).toEqual([]);
    // A quoted empty field is a record, not a blank line.
    expect(parseCsv('""\n')).toEqual([['']]);
  });

  it('keeps a quote inside an unquoted field as a character', () => {
    expect(parseCsv('5",x\n')).toEqual([['5"', 'x']]);
  });

  it('takes another delimiter (TSV)', () => {
    expect(parseCsv('a\tb,c\n1\t"2\t3"\n', '\t')).toEqual([
      ['a', 'b,c'],
      ['1', '2\t3']
    ]);
  });

  it('refuses an unclosed quote and text after a closing quote, naming the line', () => {
    expect(() => parseCsv('a\n1,"open\nstill open')).toThrow(new CsvParseError(2, 'a quoted field is not closed by a quote'));
    expect(() => parseCsv('a,b\n"x"y,2\n')).toThrow(/^line 2: text after the closing quote/);
    expect(() => parseCsv('a', '"')).toThrow(/delimiter/);
  });
});

describe('compareCsv', () => {
  const before = 'id,name,value\n1,alpha,0.5\n2,beta,1.25\n3,gamma,100\n';

  it('finds nothing between equal files, counting the cells compared', () => {
    const d = compareCsv(before, before, exact);
    expect(d).toEqual({ compared: 9, differing: 0, maxAbs: 0, maxRel: 0, examples: [] });
    expect(valueDriftKind(d)).toBe('within-tolerance');
  });

  it('compares numbers within the tolerance, and reports the largest differences', () => {
    const after = 'id,name,value\n1,alpha,0.5000001\n2,beta,1.25\n3,gamma,100.00002\n';
    const loose = compareCsv(before, after, { atol: 1e-6, rtol: 1e-6 });
    expect(loose.differing).toBe(0);
    expect(loose.maxAbs).toBeCloseTo(2e-5, 10);
    expect(loose.maxRel).toBeCloseTo(2e-7, 12);
    expect(valueDriftKind(loose)).toBe('within-tolerance');

    const strict = compareCsv(before, after, exact);
    expect(strict.differing).toBe(2);
    expect(strict.examples).toEqual([
      { where: 'row 2, column "value"', before: '0.5', after: '0.5000001' },
      { where: 'row 4, column "value"', before: '100', after: '100.00002' }
    ]);
    expect(valueDriftKind(strict)).toBe('changed');
  });

  it('takes 1.0 and 1 as the same number, text cells exactly', () => {
    const d = compareCsv('x,y\n1.0,a\n', 'x,y\n1,A\n', exact);
    expect(d.differing).toBe(1);
    expect(d.examples).toEqual([{ where: 'row 2, column "y"', before: 'a', after: 'A' }]);
  });

  it('matches columns by header name and reports columns and rows only one side has', () => {
    const after = 'value,id,extra\n0.5,1,x\n1.25,2,y\n';
    const d = compareCsv(before, after, exact);
    expect(d.differing).toBe(0);
    expect(d.compared).toBe(4);
    expect(d.structure).toEqual(['column "name" only before', 'column "extra" only after', '3 rows before, 2 after (not counting the header)']);
    expect(valueDriftKind(d)).toBe('changed');
  });

  it('says when the same columns come in another order', () => {
    const d = compareCsv('a,b\n1,2\n', 'b,a\n2,1\n', exact);
    expect(d.differing).toBe(0);
    expect(d.structure).toEqual(['columns in another order: "b", "a" (before: "a", "b")']);
  });

  it('compares by position when there is no header, naming columns by number', () => {
    const d = compareCsv('1,2,3\n4,5,6\n', '1,2,3\n4,9\n', exact);
    expect(d.structure).toEqual(['row 2: 3 cells before, 2 after']);
    expect(d.examples).toEqual([{ where: 'row 2, column 2', before: '5', after: '9' }]);
  });

  it('reads quoted cells as their values', () => {
    const d = compareCsv('label,v\n"a, b","1.5"\n', 'label,v\na\\, b,1.5\n', exact);
    expect(d.examples).toEqual([
      { where: 'row 2, column "label"', before: 'a, b', after: 'a\\' },
      { where: 'row 2, column "v"', before: '1.5', after: ' b' }
    ]);
    expect(d.structure).toEqual(['row 2: 2 cells before (header 2), 3 after (header 2)']);
  });

  it('keeps at most ten examples but counts every difference', () => {
    const rows = (f: (i: number) => number) => 'v\n' + Array.from({ length: 25 }, (_, i) => f(i)).join('\n') + '\n';
    const d = compareCsv(rows(i => i), rows(i => i + 1), exact);
    expect(d.differing).toBe(25);
    expect(d.examples).toHaveLength(10);
    expect(d.maxAbs).toBe(1);
  });

  it('throws CsvParseError for a file that is not CSV', () => {
    expect(() => compareCsv('a\n"x', 'a\nx', exact)).toThrow(CsvParseError);
  });
});

describe('compareJson', () => {
  const before = { model: { loss: 0.25, layers: [64, 32], name: 'cnn' }, 'odd key': true, empty: {}, none: null };

  it('finds nothing between equal values', () => {
    const d = compareJson(before, JSON.parse(JSON.stringify(before)), exact);
    expect(d.differing).toBe(0);
    expect(d.compared).toBe(7);
    expect(d.structure).toBeUndefined();
  });

  it('compares numbers within the tolerance and names differences by JSON path', () => {
    const after = { model: { loss: 0.2500001, layers: [64, 33], name: 'CNN' }, 'odd key': true, empty: {}, none: null };
    const d = compareJson(before, after, { atol: 1e-6, rtol: 0 });
    expect(d.differing).toBe(2);
    expect(d.examples).toEqual([
      { where: '$.model.layers[1]', before: '32', after: '33' },
      { where: '$.model.name', before: '"cnn"', after: '"CNN"' }
    ]);
    expect(d.maxAbs).toBe(1);
  });

  it('reports keys only one side has, arrays of other lengths and changed types', () => {
    const after = { model: { loss: '0.25', layers: [64, 32, 16] }, 'odd key': true, empty: [], none: null, added: 1 };
    const d = compareJson(before, after, exact);
    expect(d.structure).toEqual(['$.model.layers: 2 items before, 3 after', '$.model.name only before', '$.empty: an object before, an array after', '$.added only after']);
    expect(d.examples).toEqual([{ where: '$.model.loss', before: '0.25', after: '"0.25"' }]);
    expect(compareJson({ a: [1] }, { a: 1 }, exact).examples).toEqual([{ where: '$.a', before: 'an array', after: '1' }]);
    expect(compareJson({ 'odd key': 1 }, { 'odd key': 2 }, exact).examples[0].where).toBe('$["odd key"]');
  });
});

describe('isIgnored', () => {
  it('matches a glob without a slash against the file name in any folder', () => {
    expect(isIgnored('stamp.txt', ['stamp.txt'])).toBe(true);
    expect(isIgnored('logs/run.log', ['*.log'])).toBe(true);
    expect(isIgnored('logs/run.log', ['*.txt'])).toBe(false);
    expect(isIgnored('.hidden', ['*'])).toBe(false);
    // A name glob that matches a folder covers the folder's files.
    expect(isIgnored('a/.hidden', ['*'])).toBe(true);
    expect(isIgnored('a/.hidden', ['.h*'])).toBe(true);
  });

  it('matches a glob with a slash against the whole path, and a folder covers what is in it', () => {
    expect(isIgnored('results/plot.png', ['results/*.png'])).toBe(true);
    expect(isIgnored('other/results/plot.png', ['results/*.png'])).toBe(false);
    expect(isIgnored('a/b/c.csv', ['**/*.csv'])).toBe(true);
    expect(isIgnored('logs/2024/run.txt', ['logs/'])).toBe(true);
    expect(isIgnored('logs/2024/run.txt', ['logs'])).toBe(true);
    expect(isIgnored('run-record/stdout.txt', ['run-record/stdout.txt'])).toBe(true);
    expect(isIgnored('./x/y', ['./x/*'])).toBe(true);
    expect(isIgnored('x', [])).toBe(false);
    expect(isIgnored('x', [''])).toBe(false);
  });
});

describe('isIdentical', () => {
  const same: Omit<DriftReport, 'identical'> = {
    inputs: [
      { key: 'data', kind: 'identical' },
      { key: 'remote', kind: 'unchecked' }
    ],
    image: { before: 'sha256:a', after: 'sha256:a', same: true },
    engine: { before: 'docker', after: 'docker', same: true },
    exitCode: { before: 0, after: 0 },
    outputs: [
      { path: 'a.csv', kind: 'identical' },
      { path: 'b.csv', kind: 'within-tolerance' },
      { path: 'stamp.txt', kind: 'ignored' }
    ],
    logs: [{ stream: 'stdout', same: true }],
    options: { atol: 0, rtol: 0, ignore: ['stamp.txt'] }
  };

  it('is true when nothing differs beyond tolerance', () => {
    expect(isIdentical(same)).toBe(true);
  });

  it('is false for any drift: an input, the image, the engine, the exit code, an output, a log', () => {
    expect(isIdentical({ ...same, inputs: [{ key: 'data', kind: 'changed' }] })).toBe(false);
    expect(isIdentical({ ...same, inputs: [{ key: 'data', kind: 'missing' }] })).toBe(false);
    expect(isIdentical({ ...same, image: { ...same.image, same: false } })).toBe(false);
    expect(isIdentical({ ...same, engine: { ...same.engine, same: false } })).toBe(false);
    expect(isIdentical({ ...same, exitCode: { before: 0, after: 1 } })).toBe(false);
    for (const kind of ['changed', 'missing', 'extra'] as const) expect(isIdentical({ ...same, outputs: [{ path: 'x', kind }] })).toBe(false);
    expect(isIdentical({ ...same, logs: [{ stream: 'stderr', same: false, diff: '-a\n+b' }] })).toBe(false);
  });
});
