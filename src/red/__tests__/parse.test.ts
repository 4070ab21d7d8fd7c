import * as fs from 'fs';
import * as path from 'path';
import { MAX_DEPTH, parseRedText } from '../parse';
import { RedError, RedIssue } from '../types';

const fixture = (name: string) => fs.readFileSync(path.join(__dirname, 'fixtures', name), 'utf8');

/** The issues of the RedError thrown by parseRedText. */
function parseIssues(text: string, source?: string): { issues: RedIssue[]; message: string } {
  try {
    parseRedText(text, { source });
  } catch (e) {
    expect(e).toBeInstanceOf(RedError);
    return { issues: (e as RedError).issues, message: (e as RedError).message };
  }
  throw new Error('expected parseRedText to throw');
}

describe('parseRedText: formats', () => {
  test('YAML is parsed to plain data and reported as yaml', () => {
    const p = parseRedText(fixture('hello-echo.red.yml'));
    expect(p.format).toBe('yaml');
    expect(p.data).toMatchObject({ redVersion: '9', inputs: { greeting: 'hello RED Lab' }, outputs: {} });
    expect((p.data as any).cli.inputs.greeting.inputBinding.position).toBe(0);
  });

  test('JSON (first non-blank character { or [) is reported as json', () => {
    const p = parseRedText('\n  \n' + fixture('training-batches.red.json'));
    expect(p.format).toBe('json');
    expect((p.data as any).batches).toHaveLength(2);
    expect((p.data as any).batches[0].inputs.layers).toEqual([64, 32]);
  });

  test('a byte order mark is ignored', () => {
    const p = parseRedText('\ufeff{"a": 1}');
    expect(p.format).toBe('json');
    expect(p.data).toEqual({ a: 1 });
  });
});

describe('parseRedText: floatPaths', () => {
  test('integral floats (1.0, 2e3, -3.0) are recorded with dotted paths, ints and strings are not', () => {
    const p = parseRedText(
      [
        'inputs:',
        '  a: 1.0',
        '  b: 2e3',
        '  c: -3.0',
        '  d: 7',
        '  e: 1.5',
        '  f: "1.0"',
        '  g: 0x10',
        '  list: [1, 2.0, 3]',
        'batches:',
        '  - inputs:',
        '      x: 10.0',
        '      y: 10'
      ].join('\n')
    );
    expect([...p.floatPaths].sort()).toEqual(['batches.0.inputs.x', 'inputs.a', 'inputs.b', 'inputs.c', 'inputs.list.1']);
    expect((p.data as any).inputs).toMatchObject({ a: 1, b: 2000, c: -3, d: 7, e: 1.5, f: '1.0', g: 16, list: [1, 2, 3] });
  });

  test('JSON float literals are recorded too', () => {
    const p = parseRedText(fixture('training-batches.red.json'));
    expect(p.floatPaths.has('batches.0.inputs.learning_rate')).toBe(true);
    expect(p.floatPaths.has('batches.0.inputs.epochs')).toBe(false);
    expect(p.floatPaths.has('batches.1.inputs.learning_rate')).toBe(false); // 0.0005 is not integral
  });

  test('numbers inside a list of doubles', () => {
    const p = parseRedText(fixture('gpu-devices.red.yml'));
    expect(p.floatPaths.has('inputs.sizes.2')).toBe(true); // 1e3
    expect(p.floatPaths.has('inputs.sizes.0')).toBe(false); // 1
  });
});

describe('parseRedText: lineOf', () => {
  test('gives the 1-based line of keys and list items in YAML', () => {
    const text = fixture('wordcount-http.red.yml');
    const p = parseRedText(text);
    const lines = text.split('\n');
    const lineOfText = (needle: string) => lines.findIndex(l => l.includes(needle)) + 1;
    expect(p.lineOf('redVersion')).toBe(1);
    expect(p.lineOf('cli')).toBe(2);
    expect(p.lineOf('cli.inputs.text_file.type')).toBe(13);
    expect(p.lineOf('inputs.text_file.connector.access.url')).toBe(lineOfText('url: "https://data.example.org'));
    expect(p.lineOf('outputs.counts.connector.access.auth.password')).toBe(lineOfText('password: "{{ssh_password}}"'));
    expect(p.lineOf('cli.baseCommand.1')).toBe(5);
    expect(p.lineOf('inputs.nope')).toBeUndefined();
  });

  test('works for JSON with array indexes as numbers', () => {
    const text = fixture('training-batches.red.json');
    const p = parseRedText(text);
    const lines = text.split('\n');
    expect(p.lineOf('batches')).toBe(lines.findIndex(l => l.includes('"batches"')) + 1);
    expect(p.lineOf('batches.1.inputs.learning_rate')).toBe(lines.findIndex(l => l.includes('"learning_rate": 0.0005')) + 1);
    expect(p.lineOf('batches.0.inputs.data_dir.listing.1.basename')).toBe(lines.findIndex(l => l.includes('"basename": "meta"')) + 1);
  });

  test('block sequence items point at their own line', () => {
    const p = parseRedText('a:\n  - x\n  - y\n  -\n    k: 1\n');
    expect(p.lineOf('a.0')).toBe(2);
    expect(p.lineOf('a.1')).toBe(3);
    expect(p.lineOf('a.2.k')).toBe(5);
  });
});

describe('parseRedText: errors', () => {
  test('invalid YAML reports the line', () => {
    const { issues } = parseIssues('redVersion: "9"\ncli:\n  inputs: [1, 2\ninputs: {}\n');
    expect(issues.length).toBeGreaterThan(0);
    expect(issues[0]).toMatchObject({ path: '', severity: 'error' });
    expect(issues[0].message).toMatch(/^invalid YAML/);
    expect(issues[0].line).toBe(4);
  });

  test('tabs as indentation are explained', () => {
    const { issues } = parseIssues('a:\n\tb: 1\n');
    expect(issues[0].line).toBe(2);
    expect(issues[0].message).toMatch(/invalid YAML/);
    expect(issues[0].fix).toMatch(/spaces, not tabs/);
  });

  test('invalid JSON reports the line and says JSON', () => {
    const { issues } = parseIssues('{\n  "a": 1,\n  "b": [1, 2,\n  "c": }\n');
    expect(issues[0].message).toMatch(/^invalid JSON/);
    expect(issues[0].line).toBeGreaterThanOrEqual(3);
  });

  test('duplicate keys are rejected with their name and both lines', () => {
    const { issues } = parseIssues('inputs:\n  word: a\n  other: b\n  word: c\n');
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatchObject({ path: 'inputs.word', line: 4, severity: 'error' });
    expect(issues[0].message).toBe('duplicate key "word" (first defined on line 2)');
  });

  test('duplicate keys in JSON too, all of them at once', () => {
    const { issues } = parseIssues('{\n "a": 1,\n "a": 2,\n "b": {"x": 1, "x": 2}\n}');
    expect(issues.map(i => i.path)).toEqual(['a', 'b.x']);
    expect(issues[0].message).toMatch(/duplicate key "a"/);
    expect(issues[1].line).toBe(4);
  });

  test('a billion laughs alias bomb is refused', () => {
    const bomb = [
      'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]',
      'b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]',
      'c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]',
      'd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]',
      'e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]',
      'f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]',
      'g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]',
      'h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]',
      'i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]'
    ].join('\n');
    const { issues } = parseIssues(bomb);
    expect(issues).toHaveLength(1);
    expect(issues[0].message).toMatch(/aliases expand too much/);
  });

  test('a few aliases and merge keys are fine', () => {
    const p = parseRedText('auth: &creds {username: u, password: p}\nx:\n  auth: *creds\ny:\n  <<: *creds\n  password: q\n');
    expect(p.data).toEqual({
      auth: { username: 'u', password: 'p' },
      x: { auth: { username: 'u', password: 'p' } },
      y: { username: 'u', password: 'q' }
    });
    expect(p.lineOf('y.password')).toBe(6);
  });

  test('non-core tags are refused with their line, core tags are accepted', () => {
    const { issues } = parseIssues('a: 1\nb: !python/object foo\nc: !!binary aGVsbG8=\n');
    expect(issues.map(i => i.line)).toEqual([2, 3]);
    expect(issues[0].message).toMatch(/unsupported tag !python\/object/);
    expect(issues[1].message).toMatch(/unsupported tag tag:yaml.org,2002:binary/);
    expect(parseRedText('a: !!str 5\n').data).toEqual({ a: '5' });
    const misfit = parseIssues('a: 1\nb: !!int abc\n');
    expect(misfit.issues[0]).toMatchObject({ line: 2, message: 'the value does not fit its tag tag:yaml.org,2002:int' });
  });

  test('nesting deeper than the limit is refused (block and flow)', () => {
    let block = '';
    for (let i = 0; i <= MAX_DEPTH + 2; i++) block += ' '.repeat(i) + `k${i}:\n`;
    block += ' '.repeat(MAX_DEPTH + 3) + 'v: 1\n';
    const b = parseIssues(block);
    expect(b.issues[0].message).toBe(`nesting is deeper than ${MAX_DEPTH} levels`);
    expect(b.issues[0].line).toBe(MAX_DEPTH + 1);

    const flow = parseIssues('a: ' + '['.repeat(MAX_DEPTH + 5) + ']'.repeat(MAX_DEPTH + 5));
    expect(flow.issues[0].message).toMatch(/nesting is deeper than 64 levels/);
  });

  test('absurdly deep input is refused before the YAML parser recurses into it', () => {
    const started = Date.now();
    const { issues } = parseIssues('a: ' + '['.repeat(100000) + ']'.repeat(100000));
    expect(issues[0].message).toMatch(/nesting is deeper than 64 levels/);
    expect(issues[0].line).toBe(1);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(parseIssues('- '.repeat(50000) + 'x').issues[0].message).toMatch(/nesting/);
  });

  test('brackets inside quoted strings and comments do not count as nesting', () => {
    const p = parseRedText(`a: "${'['.repeat(500)}"\nb: '${'{'.repeat(500)}' # ${'['.repeat(500)}\n`);
    expect((p.data as any).a).toHaveLength(500);
  });

  test('the top level must be a mapping', () => {
    const list = parseIssues('- a\n- b\n');
    expect(list.issues[0].message).toBe('the top level must be a mapping (key: value pairs), found a list');
    const scalar = parseIssues('"just text"\n');
    expect(scalar.issues[0].message).toMatch(/found a single value \("just text"\)/);
    const json = parseIssues('[1, 2]');
    expect(json.issues[0].message).toMatch(/found a list/);
    const empty = parseIssues('# nothing here\n');
    expect(empty.issues[0].message).toBe('the file is empty');
  });

  test('keys must be text', () => {
    const { issues } = parseIssues('inputs:\n  1: a\n  true: b\n');
    expect(issues.map(i => [i.path, i.line])).toEqual([
      ['inputs', 2],
      ['inputs', 3]
    ]);
    expect(issues[0].message).toBe('key 1 is not text; keys must be strings');
    expect(issues[0].fix).toBe('quote it: "1"');
  });

  test('more than one document is refused', () => {
    const { issues } = parseIssues('a: 1\n---\nb: 2\n');
    expect(issues[0].message).toMatch(/more than one YAML document/);
    expect(issues[0].line).toBe(2);
  });

  test('the source name prefixes the error message', () => {
    const { message } = parseIssues('a: 1\na: 2\n', 'exp.red.yml');
    expect(message).toBe('error: exp.red.yml:2: a: duplicate key "a" (first defined on line 1)\n    fix: keep only one of them; YAML and JSON do not allow a key twice in the same mapping');
  });
});
