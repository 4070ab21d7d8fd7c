import { cellSource, findParametersCell, parseNotebookParameters, parseParametersSource } from '../parameters';

const one = (src: string) => {
  const r = parseParametersSource(src);
  expect(r.warnings).toEqual([]);
  expect(r.parameters).toHaveLength(1);
  return r.parameters[0];
};

describe('parseParametersSource: literals', () => {
  it.each([
    ['n = 3', 'int', 3],
    ['n = -3', 'int', -3],
    ['n = 1_000_000', 'int', 1000000],
    ['n = 0', 'int', 0],
    ['n = 0x1F', 'int', 31],
    ['n = 0o17', 'int', 15],
    ['n = 0b101', 'int', 5],
    ['n = + 7', 'int', 7],
    ['x = 1.0', 'float', 1],
    ['x = 0.0', 'float', 0],
    ['x = 1e-3', 'float', 0.001],
    ['x = 1E3', 'float', 1000],
    ['x = .5', 'float', 0.5],
    ['x = 1.', 'float', 1],
    ['x = -2.5', 'float', -2.5],
    ['x = 1_000.5', 'float', 1000.5],
    ['x = (0.25)', 'float', 0.25],
    ["s = 'single'", 'string', 'single'],
    ['s = "double"', 'string', 'double'],
    ['s = ""', 'string', ''],
    ['s = "tab\\there\\nnew \\"q\\" \\\\ \\x41\\u00e9\\U0001F600 \\101"', 'string', 'tab\there\nnew "q" \\ A\u00e9\u{1F600} A'],
    ["s = 'it\\'s'", 'string', "it's"],
    ["s = r'C:\\dir\\n'", 'string', 'C:\\dir\\n'],
    ["s = u'unicode é'", 'string', 'unicode é'],
    ['s = "a" "b" \'c\'', 'string', 'abc'],
    ['s = "# not a comment"', 'string', '# not a comment'],
    ['s = "unknown \\q escape"', 'string', 'unknown \\q escape'],
    ['b = True', 'boolean', true],
    ['b = False', 'boolean', false]
  ])('%s', (src, type, value) => {
    const p = one(src);
    expect(p.type).toBe(type);
    expect(p.default).toBe(value);
    expect(p.doc).toBeUndefined();
  });

  it('keeps negative zero a float', () => {
    const p = one('x = -0.0');
    expect(p.type).toBe('float');
    expect(Object.is(p.default, -0)).toBe(true);
  });

  it.each([
    ['xs = [1, 2, 3]', 'int[]', [1, 2, 3]],
    ['xs = [1, 2.5, -3]', 'float[]', [1, 2.5, -3]],
    ['xs = [0.5, 1.5,]', 'float[]', [0.5, 1.5]],
    ["xs = ['a', \"b\"]", 'string[]', ['a', 'b']],
    ['xs = [True, False]', 'boolean[]', [true, false]],
    ['xs = [-1]', 'int[]', [-1]]
  ])('list %s', (src, type, value) => {
    const p = one(src);
    expect(p.type).toBe(type);
    expect(p.default).toEqual(value);
  });

  it('reads multi-line lists, triple-quoted strings and backslash continuations', () => {
    const r = parseParametersSource(
      ['xs = [', '    1,  # first', '    2,', ']  # the xs', 'text = """line one', "line 'two'\"\"\"", 'total = 1 + \\', '    2', 'y = \\', '   4.0'].join('\n')
    );
    expect(r.parameters).toEqual([
      { name: 'xs', type: 'int[]', default: [1, 2], doc: 'the xs' },
      { name: 'text', type: 'string', default: "line one\nline 'two'" },
      { name: 'y', type: 'float', default: 4 }
    ]);
    expect(r.warnings).toEqual([{ line: 7, text: 'total = 1 + \\', reason: expect.stringMatching(/expression/) }]);
  });
});

describe('parseParametersSource: annotations, comments, layout', () => {
  it('takes annotated assignments, an int annotated float becoming a float', () => {
    const r = parseParametersSource('alpha: float = 1  # learning rate\nname: str = "x"\nxs: list[float] = [1, 2]\nk: int = 4');
    expect(r.warnings).toEqual([]);
    expect(r.parameters).toEqual([
      { name: 'alpha', type: 'float', default: 1, doc: 'learning rate' },
      { name: 'name', type: 'string', default: 'x' },
      { name: 'xs', type: 'float[]', default: [1, 2] },
      { name: 'k', type: 'int', default: 4 }
    ]);
  });

  it('honours Optional, unions with None, list annotations, dict and Any', () => {
    const r = parseParametersSource(
      [
        'a: Optional[int] = None',
        'b: int | None = 3',
        'c: typing.Optional[List[float]] = [1, 2]',
        'd: dict[str, int] = {"x": 1}',
        'e: Any = None',
        'f: int = None',
        'g: list[str] = []',
        'h: Union[None, str] = "s"'
      ].join('\n')
    );
    expect(r.warnings).toEqual([]);
    expect(r.parameters.map(p => [p.name, p.type, p.default, p.json ?? false])).toEqual([
      ['a', 'int?', null, false],
      ['b', 'int?', 3, false],
      ['c', 'string', '[1, 2]', true],
      ['d', 'string', '{"x": 1}', true],
      ['e', 'string', 'null', true],
      ['f', 'int?', null, false],
      ['g', 'string[]', [], false],
      ['h', 'string?', 's', false]
    ]);
  });

  it('passes None, dicts and lists without one item type as JSON text, floats kept floats', () => {
    const r = parseParametersSource('n = None\ncfg = {"lr": 1.0, "layers": [64, 32], "name": "a\\"b", "on": True, "off": None}\nempty = []\nnested = [[1], [2.5]]\nmixed = [1, "a"]');
    expect(r.warnings).toEqual([]);
    expect(r.parameters.map(p => [p.name, p.type, p.default, p.json])).toEqual([
      ['n', 'string', 'null', true],
      ['cfg', 'string', '{"lr": 1.0, "layers": [64, 32], "name": "a\\"b", "on": true, "off": null}', true],
      ['empty', 'string', '[]', true],
      ['nested', 'string', '[[1], [2.5]]', true],
      ['mixed', 'string', '[1, "a"]', true]
    ]);
  });

  it('warns when an annotation contradicts the value, keeping the value type', () => {
    const r = parseParametersSource('n: str = 3');
    expect(r.parameters).toEqual([{ name: 'n', type: 'int', default: 3 }]);
    expect(r.warnings[0]).toMatchObject({ line: 1, reason: expect.stringMatching(/annotation says str/) });
  });

  it('turns trailing comments into docs and skips comment and blank lines', () => {
    const r = parseParametersSource('# Parameters of the run\n\nsamples = 200  # number of steps\n   \nnoise = 0.3 #noise level  \n');
    expect(r.warnings).toEqual([]);
    expect(r.parameters).toEqual([
      { name: 'samples', type: 'int', default: 200, doc: 'number of steps' },
      { name: 'noise', type: 'float', default: 0.3, doc: 'noise level' }
    ]);
  });

  it('reads statements separated by semicolons and CRLF line ends', () => {
    const r = parseParametersSource('a = 1; b = 2.0\r\nc = "x"\r\n');
    expect(r.parameters.map(p => [p.name, p.type])).toEqual([
      ['a', 'int'],
      ['b', 'float'],
      ['c', 'string']
    ]);
  });

  it('uses the last of two assignments to a name, with a warning', () => {
    const r = parseParametersSource('a = 1\nb = 2\na = 3.5');
    expect(r.parameters).toEqual([
      { name: 'b', type: 'int', default: 2 },
      { name: 'a', type: 'float', default: 3.5 }
    ]);
    expect(r.warnings).toEqual([{ line: 3, text: 'a = 3.5', reason: '"a" is assigned again; the last value is used' }]);
  });
});

describe('parseParametersSource: what is not a parameter becomes a warning', () => {
  const cases: Array<[string, RegExp]> = [
    ['import numpy as np', /import/],
    ['from math import pi', /import/],
    ['x = (1, 2)', /tuple/],
    ['x = 1, 2', /tuple/],
    ['x = f"v{1}"', /f-string/],
    ['x = b"raw"', /bytes/],
    ['x = np.pi', /refers to "np.pi"/],
    ['x = float("inf")', /call to float\(\)/],
    ['x = 2 * 3', /expression/],
    ['x = 1 if True else 2', /expression/],
    ['x = [i for i in range(3)]', /comprehension/],
    ['x = 1j', /complex/],
    ['x = y = 1', /chained assignment/],
    ['x += 1', /augmented/],
    ['a, b = 1, 2', /unpacking/],
    ['print("hello")', /call is not a parameter/],
    ['x == 1', /comparison/],
    ['x: int', /annotation without a value/],
    ['%matplotlib inline', /magics/],
    ['x = 99999999999999999999', /too large/],
    ['größe = 1', /characters a RED input name cannot have/],
    ['x = {1, 2}', /set is not supported/],
    ['x = {1: "a"}', /keys must be strings/],
    ['def f(): pass', /definition/]
  ];
  it.each(cases)('%s', (src, reason) => {
    const r = parseParametersSource(src);
    expect(r.parameters).toEqual([]);
    expect(r.warnings).toHaveLength(1);
    expect(r.warnings[0].line).toBe(1);
    expect(r.warnings[0].reason).toMatch(reason);
  });

  it('keeps going after a bad statement, reporting its line and text', () => {
    const r = parseParametersSource('import os\nalpha = 0.5\nseed = os.getpid()\nif alpha:\n    beta = 2\ngamma = "g"');
    expect(r.parameters.map(p => p.name)).toEqual(['alpha', 'gamma']);
    expect(r.warnings.map(w => [w.line, w.text])).toEqual([
      [1, 'import os'],
      [3, 'seed = os.getpid()'],
      [4, 'if alpha:'],
      [5, 'beta = 2']
    ]);
    expect(r.warnings[3].reason).toMatch(/block/);
  });

  it('gives nothing for an empty cell', () => {
    expect(parseParametersSource('')).toEqual({ parameters: [], warnings: [] });
    expect(parseParametersSource('\n# only a comment\n')).toEqual({ parameters: [], warnings: [] });
  });
});

describe('parseParametersSource: a cell that is not valid Python', () => {
  it.each([
    ['a = 1\nb = [1,\n  2', 2, /"\[" is never closed/],
    ['x = [1, (2,\n3', 1, /"\(" is never closed/],
    ['x = (1]', 1, /does not match/],
    ['x = 1)', 1, /closes no bracket/],
    ['a = 1\n  b = 2', 2, /indented/],
    ['if a:\nb = 1', 2, /no indented body/],
    ['def f():', 1, /no indented body/],
    ['x = 007', 1, /leading zeros/],
    ['class = 1', 1, /keyword/],
    ['x =', 1, /missing/],
    ['= 1', 1, /name is missing/],
    ['x = 1 +', 1, /ends with "\+"/],
    ['x = [1,, 2]', 1, /","/],
    ['a = 1\nx = "abc\ny = 2', 2, /string is not closed/],
    ['x = """abc\ny = 2', 1, /triple-quoted/],
    ['x = [1 2]', 1, /comma is missing/],
    ['x: = 1', 1, /annotation/],
    ['x = 1 $', 1, /not valid Python/]
  ])('%j: line %d', (src, line, reason) => {
    const r = parseParametersSource(src);
    expect(r.parameters).toEqual([]);
    expect(r.syntaxError).toEqual({ line, reason: expect.stringMatching(reason) });
  });

  it('blanks IPython magics as the runner does, keeping line numbers', () => {
    const r = parseParametersSource("%load_ext autoreload\n!echo it's\nx = 1\n  y = 2");
    expect(r.syntaxError).toEqual({ line: 4, reason: expect.stringMatching(/indented/) });
    const ok = parseParametersSource("!echo it's\nx = 1");
    expect(ok.parameters).toEqual([{ name: 'x', type: 'int', default: 1 }]);
    expect(ok.warnings).toEqual([{ line: 1, text: "!echo it's", reason: expect.stringMatching(/magics/) }]);
  });
});

describe('notebook cells', () => {
  const cells = [
    { cell_type: 'markdown', metadata: { tags: ['parameters'] }, source: 'x = 1' },
    { cell_type: 'code', metadata: {}, source: 'y = 2' },
    { cell_type: 'code', metadata: { tags: ['other', 'parameters'] }, source: ['a = 1\n', 'b = "two"'] },
    { cell_type: 'code', metadata: { tags: ['parameters'] }, source: 'c = 3' }
  ];
  it('finds the first code cell tagged parameters, joining list sources', () => {
    expect(findParametersCell(cells)).toBe(2);
    expect(cellSource(cells[2])).toBe('a = 1\nb = "two"');
    const r = parseNotebookParameters(cells);
    expect(r.cell).toBe(2);
    expect(r.parameters.map(p => p.name)).toEqual(['a', 'b']);
  });
  it('reports no parameters cell as cell -1', () => {
    expect(parseNotebookParameters([cells[0], cells[1]])).toEqual({ parameters: [], warnings: [], cell: -1 });
    expect(parseNotebookParameters([])).toEqual({ parameters: [], warnings: [], cell: -1 });
  });
});
