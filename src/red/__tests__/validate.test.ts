import * as fs from 'fs';
import * as path from 'path';
import { parseRedText } from '../parse';
import { RedError, RedIssue } from '../types';
import { RAM_RANGE_FIX } from '../limits';
import { didYouMean, loadRed, validateRed } from '../validate';

const fixture = (name: string) => fs.readFileSync(path.join(__dirname, 'fixtures', name), 'utf8');
const data = (name: string): any => JSON.parse(JSON.stringify(parseRedText(fixture(name)).data));

const RED9_FIXTURES = ['hello-echo.red.yml', 'wordcount-http.red.yml', 'training-batches.red.json', 'gpu-devices.red.yml'];

/** validateRed on a fixture after a change. */
function check(base: string, change: (d: any) => void): RedIssue[] {
  const d = data(base);
  change(d);
  return validateRed(d);
}

/** The issues of the RedError thrown by loadRed. */
function loadIssues(text: string): RedIssue[] {
  try {
    loadRed(text);
  } catch (e) {
    expect(e).toBeInstanceOf(RedError);
    return (e as RedError).issues;
  }
  throw new Error('expected loadRed to throw');
}

/** The one issue at `path` (fails when there is none or several). */
function at(issues: RedIssue[], p: string): RedIssue {
  const found = issues.filter(i => i.path === p);
  if (found.length !== 1) throw new Error(`expected one issue at ${p}, got ${found.length}: ${JSON.stringify(issues, null, 1)}`);
  return found[0];
}

/** Replace a line of a fixture (exact text). */
function edit(name: string, from: string, to: string): string {
  const text = fixture(name);
  expect(text).toContain(from);
  return text.replace(from, to);
}

describe('valid files', () => {
  test.each(RED9_FIXTURES)('%s has no issues', name => {
    expect(validateRed(data(name))).toEqual([]);
    const loaded = loadRed(fixture(name), { source: name });
    expect(loaded.warnings).toEqual([]);
    expect(loaded.red.redVersion).toBe('9');
    expect(loaded.format).toBe(name.endsWith('.json') ? 'json' : 'yaml');
  });

  test('loadRed keeps floatPaths and lineOf', () => {
    const loaded = loadRed(fixture('training-batches.red.json'));
    expect(loaded.floatPaths.has('batches.0.inputs.learning_rate')).toBe(true);
    expect(loaded.lineOf('batches.0.inputs.epochs')).toBe(fixture('training-batches.red.json').split('\n').findIndex(l => l.includes('"epochs": 5')) + 1);
  });

  test('stdout output without cli.stdout is fine (a file name is generated)', () => {
    expect(check('hello-echo.red.yml', d => delete d.cli.stdout)).toEqual([]);
  });

  test('outputs may be left out, also per output', () => {
    expect(check('wordcount-http.red.yml', d => delete d.outputs)).toEqual([]);
    expect(check('training-batches.red.json', d => delete d.batches[0].outputs.weights)).toEqual([]);
  });

  test('inputBinding may be empty and baseCommand may be a list or null', () => {
    expect(
      check('hello-echo.red.yml', d => {
        d.cli.inputs.greeting.inputBinding = {};
        d.cli.baseCommand = ['python3', '-c'];
      })
    ).toEqual([]);
    expect(check('hello-echo.red.yml', d => (d.cli.baseCommand = null))).toEqual([]);
  });

  test('a document that is not a mapping', () => {
    const issues = validateRed(['a']);
    expect(issues).toHaveLength(1);
    expect(issues[0].message).toBe('the document must be a mapping (key: value pairs), found a list');
  });
});

describe('schema/red.schema.json on its own', () => {
  // The frontend uses the schema file directly (top level oneOf of the two shapes).
  const Ajv = require('ajv').default;
  const schema = require('../../../schema/red.schema.json');
  const validate = new Ajv({ allErrors: true, strict: true, strictRequired: false, allowUnionTypes: true }).compile(schema);

  test.each(RED9_FIXTURES)('accepts %s', name => {
    expect(validate(data(name))).toBe(true);
  });

  test('rejects a document with both inputs and batches, and redVersion 8', () => {
    const d = data('training-batches.red.json');
    expect(validate({ ...d, inputs: {} })).toBe(false);
    expect(validate({ ...d, redVersion: '8' })).toBe(false);
  });

  test('the main parts are documented for the frontend', () => {
    for (const k of ['singleRed', 'batchRed', 'cli', 'cliInput', 'cliOutput', 'jobInputs', 'connector', 'container', 'gpus', 'execution']) {
      expect(typeof schema.definitions[k].description).toBe('string');
    }
  });
});

describe('shape (schema)', () => {
  test('unknown top-level key: named, with did-you-mean', () => {
    const issues = check('hello-echo.red.yml', d => {
      d.containr = d.container;
      delete d.container;
    });
    const unknown = at(issues, 'containr');
    expect(unknown.message).toBe('unknown key "containr" at the top level');
    expect(unknown.fix).toBe('remove it; did you mean "container"?');
    expect(at(issues, 'container').message).toBe('missing required key "container"');
  });

  test('unknown nested key names the key and suggests the closest', () => {
    const issues = check('hello-echo.red.yml', d => {
      d.container.settings.imagee = d.container.settings.image;
      delete d.container.settings.image;
    });
    const i = at(issues, 'container.settings.imagee');
    expect(i.message).toBe('unknown key "imagee" in container.settings');
    expect(i.fix).toBe('remove it; did you mean "image"?');
    expect(at(issues, 'container.settings.image').message).toMatch(/missing required key "image"/);
  });

  test('unknown key without a close match lists what is allowed', () => {
    const i = at(check('hello-echo.red.yml', d => (d.container.settings.image.registry = 'x')), 'container.settings.image.registry');
    expect(i.fix).toBe('remove it (allowed here: url, auth)');
  });

  test('inputs together with batches', () => {
    const issues = check('training-batches.red.json', d => (d.inputs = {}));
    const i = at(issues, 'inputs');
    expect(i.message).toBe('"inputs" cannot be used together with "batches"');
    expect(i.fix).toMatch(/batches\[i\]\.inputs/);
    expect(issues).toHaveLength(1); // no oneOf noise
  });

  test('neither inputs nor batches', () => {
    const i = at(check('hello-echo.red.yml', d => delete d.inputs), 'inputs');
    expect(i.message).toBe('missing required key "inputs"');
    expect(i.fix).toMatch(/or batches/);
  });

  test('empty batches', () => {
    expect(at(check('training-batches.red.json', d => (d.batches = [])), 'batches').message).toBe('must list at least 1 item');
  });

  test('missing cli.inputs', () => {
    const issues = check('hello-echo.red.yml', d => delete d.cli.inputs);
    const i = at(issues, 'cli.inputs');
    expect(i.message).toBe('missing required key "inputs" in cli');
    // with cli.inputs missing the job inputs cannot be checked against it: no more noise
    expect(issues).toHaveLength(1);
  });

  test('bad type string, with did-you-mean', () => {
    const i = at(check('hello-echo.red.yml', d => (d.cli.inputs.greeting.type = 'strng')), 'cli.inputs.greeting.type');
    expect(i.message).toBe('unknown input type "strng"');
    expect(i.fix).toMatch(/^did you mean "string"\?/);
    const j = at(check('hello-echo.red.yml', d => (d.cli.inputs.greeting.type = 'string?[]')), 'cli.inputs.greeting.type');
    expect(j.fix).toMatch(/did you mean "string\[\]\?"/);
    const k = at(check('hello-echo.red.yml', d => (d.cli.inputs.greeting.type = 'bool')), 'cli.inputs.greeting.type');
    expect(k.fix).toMatch(/did you mean "boolean"/);
  });

  test('position -1', () => {
    const i = at(check('hello-echo.red.yml', d => (d.cli.inputs.greeting.inputBinding.position = -1)), 'cli.inputs.greeting.inputBinding.position');
    expect(i.message).toBe('must be at least 0, found -1');
    expect(i.fix).toBe('positions start at 0');
  });

  test('inputBinding extra key', () => {
    const i = at(check('hello-echo.red.yml', d => (d.cli.inputs.greeting.inputBinding.separator = ',')), 'cli.inputs.greeting.inputBinding.separator');
    expect(i.message).toBe('unknown key "separator" in cli.inputs.greeting.inputBinding');
    expect(i.fix).toBe('remove it; did you mean "separate"?');
  });

  test('missing inputBinding', () => {
    const i = at(check('hello-echo.red.yml', d => delete d.cli.inputs.greeting.inputBinding), 'cli.inputs.greeting.inputBinding');
    expect(i.message).toBe('missing required key "inputBinding" in cli.inputs.greeting');
    expect(i.fix).toMatch(/inputBinding: \{\}/);
  });

  test('invalid identifiers in cli.inputs', () => {
    const issues = check('hello-echo.red.yml', d => (d.cli.inputs['my file'] = { type: 'File?', inputBinding: {} }));
    expect(at(issues, 'cli.inputs.my file').message).toBe('"my file" is not a valid identifier: use only letters, digits, _ and -');
  });

  test('cwlVersion and class are fixed', () => {
    const issues = check('hello-echo.red.yml', d => {
      d.cli.cwlVersion = 'v1.2';
      d.cli.class = 'Workflow';
    });
    expect(at(issues, 'cli.cwlVersion').message).toBe('cwlVersion must be "v1.0", found the string "v1.2"');
    expect(at(issues, 'cli.class').message).toBe('must be "CommandLineTool", found the string "Workflow"');
  });

  test('stdout outputs take no outputBinding, File outputs need one', () => {
    const issues = check('hello-echo.red.yml', d => {
      d.cli.outputs.printed.outputBinding = { glob: 'x' };
      d.cli.outputs.other = { type: 'File' };
    });
    expect(at(issues, 'cli.outputs.printed.outputBinding').message).toBe('"outputBinding" is not allowed for a stdout output');
    expect(at(issues, 'cli.outputs.other.outputBinding').message).toBe('missing required key "outputBinding" in cli.outputs.other');
    expect(issues).toHaveLength(2); // no "must match then schema" noise
  });

  test('null job value', () => {
    const issues = check('wordcount-http.red.yml', d => (d.inputs.context_lines = null));
    const i = at(issues, 'inputs.context_lines');
    expect(i.message).toBe('null is not allowed here');
    expect(i.fix).toBe('leave the key out for an optional input, or give a value');
  });

  test('bad checksum', () => {
    const i = at(check('wordcount-http.red.yml', d => (d.inputs.text_file.checksum = 'md5$abc')), 'inputs.text_file.checksum');
    expect(i.message).toBe('checksum must be "sha1$" followed by 40 hexadecimal digits, found "md5$abc"');
    expect(i.fix).toMatch(/sha1\$<40 hex digits>/);
  });

  test('File keys on a Directory and listing on a File', () => {
    const issues = check('training-batches.red.json', d => {
      d.batches[0].inputs.data_dir.dirname = '/data';
    });
    expect(at(issues, 'batches.0.inputs.data_dir.dirname').message).toBe('"dirname" is only allowed for File inputs, not for a Directory');
    const j = at(check('wordcount-http.red.yml', d => (d.inputs.text_file.listing = [])), 'inputs.text_file.listing');
    expect(j.message).toBe('"listing" is only allowed for Directory inputs, not for a File');
  });

  test('File object without connector, connector without command', () => {
    const issues = check('wordcount-http.red.yml', d => {
      delete d.inputs.text_file.connector.command;
      delete d.outputs.counts.connector;
    });
    expect(at(issues, 'inputs.text_file.connector.command').message).toBe('missing required key "command" in inputs.text_file.connector');
    expect(at(issues, 'outputs.counts.connector').message).toBe('missing required key "connector" in outputs.counts');
  });

  test('listing entries are checked', () => {
    const issues = check('training-batches.red.json', d => {
      d.batches[0].inputs.data_dir.listing[1].listing.push({ class: 'File' });
      d.batches[0].inputs.data_dir.listing.push({ class: 'File', basename: '../escape' });
    });
    expect(at(issues, 'batches.0.inputs.data_dir.listing.1.listing.1.basename').message).toMatch(/missing required key "basename"/);
    expect(at(issues, 'batches.0.inputs.data_dir.listing.2.basename').message).toBe('basename must be a plain file or directory name, found "../escape"');
  });

  test('basename must be a plain name', () => {
    const i = at(check('wordcount-http.red.yml', d => (d.inputs.text_file.basename = 'sub/dir.txt')), 'inputs.text_file.basename');
    expect(i.message).toBe('basename must be a plain file or directory name, found "sub/dir.txt"');
  });
});

describe('container and execution', () => {
  test('nvidia-docker is rejected with the gpus hint', () => {
    const i = at(check('hello-echo.red.yml', d => (d.container.engine = 'nvidia-docker')), 'container.engine');
    expect(i.message).toBe('container engine "nvidia-docker" is no longer supported');
    expect(i.fix).toBe('use engine: docker with settings.gpus, e.g. gpus: {vendor: nvidia, count: 1}');
  });

  test('other engines', () => {
    const i = at(check('hello-echo.red.yml', d => (d.container.engine = 'dockr')), 'container.engine');
    expect(i.message).toBe('must be "docker", found the string "dockr"');
    expect(i.fix).toBe('did you mean "docker"?');
  });

  test('ram 100', () => {
    const i = at(check('hello-echo.red.yml', d => (d.container.settings.ram = 100)), 'container.settings.ram');
    expect(i.message).toBe('must be at least 256, found 100');
    expect(i.fix).toMatch(/in MB/);
    expect(at(check('hello-echo.red.yml', d => (d.container.settings.ram = 512.5)), 'container.settings.ram').message).toBe('must be a whole number, found the number 512.5');
  });

  test('gpus: count form and devices form are valid', () => {
    expect(check('hello-echo.red.yml', d => (d.container.settings.gpus = { vendor: 'nvidia', count: 2 }))).toEqual([]);
    expect(check('hello-echo.red.yml', d => (d.container.settings.gpus = { vendor: 'nvidia', devices: [{ vramMin: 1024 }, {}] }))).toEqual([]);
  });

  test('gpus: both forms at once, neither, bad values', () => {
    const both = at(check('gpu-devices.red.yml', d => (d.container.settings.gpus.count = 2)), 'container.settings.gpus');
    expect(both.message).toBe('give only one of count or devices, not both');
    const neither = at(check('gpu-devices.red.yml', d => delete d.container.settings.gpus.devices), 'container.settings.gpus.count');
    expect(neither.message).toBe('missing required key: count or devices in container.settings.gpus');
    const issues = check('gpu-devices.red.yml', d => {
      d.container.settings.gpus.vendor = 'amd';
      d.container.settings.gpus.devices[1].vramMin = 100;
    });
    expect(at(issues, 'container.settings.gpus.vendor').message).toBe('must be "nvidia", found the string "amd"');
    expect(at(issues, 'container.settings.gpus.devices.1.vramMin').message).toBe('must be at least 256, found 100');
    expect(at(check('hello-echo.red.yml', d => (d.container.settings.gpus = { vendor: 'nvidia', count: 0 })), 'container.settings.gpus.count').message).toBe('must be at least 1, found 0');
  });

  test('image auth needs username and password', () => {
    const i = at(check('wordcount-http.red.yml', d => delete d.container.settings.image.auth.password), 'container.settings.image.auth.password');
    expect(i.message).toBe('missing required key: password or _password in container.settings.image.auth');
    const j = at(check('wordcount-http.red.yml', d => (d.container.settings.image.auth._password = 'x')), 'container.settings.image.auth');
    expect(j.message).toBe('give only one of password or _password, not both');
  });

  test('ccagency settings: batchConcurrencyLimit alone, access with url and auth', () => {
    expect(check('hello-echo.red.yml', d => (d.execution = { engine: 'ccagency', settings: { batchConcurrencyLimit: 8 } }))).toEqual([]);
    expect(check('hello-echo.red.yml', d => (d.execution = { engine: 'ccagency', settings: { access: { url: 'https://a.example/cc' } } }))).toEqual([]);
    const issues = check('training-batches.red.json', d => {
      delete d.execution.settings.access.url;
      d.execution.settings.batchConcurrencyLimit = 0;
      d.execution.settings.disablePull = true;
    });
    expect(at(issues, 'execution.settings.access.url').message).toBe('missing required key "url" in execution.settings.access');
    expect(at(issues, 'execution.settings.batchConcurrencyLimit').message).toBe('must be at least 1, found 0');
    expect(at(issues, 'execution.settings.disablePull').message).toBe('unknown key "disablePull" in execution.settings');
    expect(issues).toHaveLength(3);
  });

  test('ccfaice takes no settings; unknown execution engines', () => {
    expect(at(check('hello-echo.red.yml', d => (d.execution.settings = { access: {} })), 'execution.settings.access').message).toBe('unknown key "access" in execution.settings');
    const i = at(check('hello-echo.red.yml', d => (d.execution.engine = 'ccagnecy')), 'execution.engine');
    expect(i.message).toBe('"ccagnecy" is not allowed here: must be one of "ccfaice", "ccagency", "slurm", "kubernetes", "docker", "docker-ssh", "process"');
    expect(i.fix).toBe('did you mean "ccagency"?');
  });
});

describe('job values against cli.inputs', () => {
  test('undeclared job key names it and lists the declared ones', () => {
    const i = at(check('wordcount-http.red.yml', d => (d.inputs.wrod = 'x')), 'inputs.wrod');
    expect(i.message).toBe('input "wrod" is not declared in cli.inputs (declared: word, text_file, context_lines, ignore_case)');
    expect(i.fix).toBe('rename it to "word", or declare it under cli.inputs');
  });

  test('int given 1.5', () => {
    const i = at(check('wordcount-http.red.yml', d => (d.inputs.context_lines = 1.5)), 'inputs.context_lines');
    expect(i.message).toBe('input "context_lines" is declared as int? but given the non-integer 1.5');
  });

  test('int given 1.0 (a float literal) is not an int', () => {
    const issues = loadIssues(edit('wordcount-http.red.yml', 'context_lines: 2', 'context_lines: 2.0'));
    const i = at(issues, 'inputs.context_lines');
    expect(i.message).toBe('input "context_lines" is declared as int? but given the float 2.0 (written with a decimal point or exponent)');
    expect(i.fix).toBe('write 2 without the decimal point/exponent, or declare the input as float');
    expect(i.line).toBe(fixture('wordcount-http.red.yml').split('\n').findIndex(l => l.includes('context_lines: 2')) + 1);
  });

  test('int given a quoted number, or a huge number', () => {
    expect(at(check('wordcount-http.red.yml', d => (d.inputs.context_lines = '3')), 'inputs.context_lines').fix).toBe('remove the quotes: 3');
    expect(at(check('wordcount-http.red.yml', d => (d.inputs.context_lines = 2 ** 60)), 'inputs.context_lines').message).toMatch(/too large to be represented exactly/);
  });

  test('float given 1 is fine, float given a string is not', () => {
    expect(check('training-batches.red.json', d => (d.batches[1].inputs.learning_rate = 1))).toEqual([]);
    const i = at(check('training-batches.red.json', d => (d.batches[1].inputs.learning_rate = '0.1')), 'batches.1.inputs.learning_rate');
    expect(i.message).toBe('input "learning_rate" is declared as float? but given the string "0.1"');
    expect(i.fix).toBe('remove the quotes: 0.1');
  });

  test('boolean given "true"', () => {
    const i = at(check('wordcount-http.red.yml', d => (d.inputs.ignore_case = 'true')), 'inputs.ignore_case');
    expect(i.message).toBe('input "ignore_case" is declared as boolean? but given the string "true"');
    expect(i.fix).toBe('write true without quotes');
    expect(at(check('wordcount-http.red.yml', d => (d.inputs.ignore_case = 1)), 'inputs.ignore_case').message).toBe('input "ignore_case" is declared as boolean? but given the number 1');
  });

  test('string given a number', () => {
    const i = at(check('hello-echo.red.yml', d => (d.inputs.greeting = 42)), 'inputs.greeting');
    expect(i.message).toBe('input "greeting" is declared as string but given the number 42');
    expect(i.fix).toBe('quote it: "42"');
  });

  test('missing required input; optional missing is fine', () => {
    const i = at(check('wordcount-http.red.yml', d => delete d.inputs.word), 'inputs.word');
    expect(i.message).toBe('missing required input "word" (cli.inputs.word has type string)');
    expect(i.fix).toMatch(/make it optional with type "string\?"/);
    expect(check('wordcount-http.red.yml', d => delete d.inputs.context_lines)).toEqual([]);
  });

  test('missing required input in one batch', () => {
    const issues = check('training-batches.red.json', d => delete d.batches[1].inputs.data_dir);
    expect(at(issues, 'batches.1.inputs.data_dir').message).toBe('missing required input "data_dir" (cli.inputs.data_dir has type Directory) in batch 1');
  });

  test('array types', () => {
    expect(check('training-batches.red.json', d => (d.batches[1].inputs.layers = []))).toEqual([]);
    const notList = at(check('training-batches.red.json', d => (d.batches[1].inputs.layers = 3)), 'batches.1.inputs.layers');
    expect(notList.message).toBe('input "layers" is declared as int[]? (a list) but given the number 3');
    expect(notList.fix).toBe('write a list: [3]');
    const item = at(check('training-batches.red.json', d => (d.batches[0].inputs.layers = [64, 'x', 2.5])), 'batches.0.inputs.layers.1');
    expect(item.message).toBe('input "layers" is declared as int[]? but given the string "x"');
    expect(at(check('training-batches.red.json', d => (d.batches[0].inputs.layers = [64, 'x', 2.5])), 'batches.0.inputs.layers.2').message).toMatch(/non-integer 2\.5/);
    const list = at(check('hello-echo.red.yml', d => (d.inputs.greeting = ['a', 'b'])), 'inputs.greeting');
    expect(list.message).toBe('input "greeting" is declared as string (a single value) but given a list');
    expect(list.fix).toBe('give one value, or declare the type as "string[]"');
  });

  test('double[] accepts ints and floats, File[] items are checked', () => {
    expect(check('gpu-devices.red.yml', d => (d.inputs.sizes = [1, 2, 3.5]))).toEqual([]);
    const issues = check('gpu-devices.red.yml', d => {
      d.cli.inputs.script.type = 'File[]';
      d.inputs.script = [d.inputs.script, { ...d.inputs.script, class: 'Directory' }];
    });
    expect(at(issues, 'inputs.script.1.class').message).toBe('input "script" is declared as File[] but given class Directory');
    expect(issues).toHaveLength(1);
  });

  test('File object with the wrong class, File given a string', () => {
    const wrong = at(check('wordcount-http.red.yml', d => (d.inputs.text_file = { class: 'Directory', connector: d.inputs.text_file.connector })), 'inputs.text_file.class');
    expect(wrong.message).toBe('input "text_file" is declared as File but given class Directory');
    expect(wrong.fix).toBe('write class: File, or declare the input as Directory');
    const str = at(check('wordcount-http.red.yml', d => (d.inputs.text_file = '/tmp/haystack.txt')), 'inputs.text_file');
    expect(str.message).toBe('input "text_file" is declared as File but given the string "/tmp/haystack.txt"');
    expect(str.fix).toMatch(/\{class: File, connector: /);
  });

  test('a primitive declared input given a File object', () => {
    const i = at(check('hello-echo.red.yml', d => (d.inputs.greeting = { class: 'File', connector: { command: 'c', access: {} } })), 'inputs.greeting');
    expect(i.message).toBe('input "greeting" is declared as string but given a mapping');
  });
});

describe('job outputs against cli.outputs', () => {
  test('undeclared output key', () => {
    const i = at(check('wordcount-http.red.yml', d => (d.outputs.count = d.outputs.counts)), 'outputs.count');
    expect(i.message).toBe('output "count" is not declared in cli.outputs (declared: counts, log)');
    expect(i.fix).toBe('rename it to "counts", or declare it under cli.outputs');
  });

  test('output class must match the cli output type', () => {
    const i = at(check('gpu-devices.red.yml', d => (d.outputs.report.class = 'File')), 'outputs.report.class');
    expect(i.message).toBe('output "report" is declared in cli.outputs as Directory but given class File');
    expect(check('gpu-devices.red.yml', d => (d.outputs.errors = { class: 'stderr', connector: d.outputs.report.connector }))).toEqual([]);
  });
});

describe('globs', () => {
  const globPath = 'cli.outputs.counts.outputBinding.glob';
  const withGlob = (glob: string) => check('wordcount-http.red.yml', d => (d.cli.outputs.counts.outputBinding.glob = glob));

  test('absolute glob', () => {
    const i = at(withGlob('/srv/out.txt'), globPath);
    expect(i.message).toBe('glob of output "counts" must be relative to the output directory, found the absolute "/srv/out.txt"');
    expect(i.fix).toBe('remove the leading "/": "srv/out.txt"');
  });

  test('".." glob', () => {
    const i = at(withGlob('results/../../etc/passwd'), globPath);
    expect(i.message).toBe('glob of output "counts" must stay inside the output directory (no ".." segments), found "results/../../etc/passwd"');
    expect(withGlob('results/..hidden*.txt')).toEqual([]); // ".." inside a name is fine
  });

  test('allowed expressions', () => {
    expect(withGlob('$(inputs.word).txt')).toEqual([]);
    expect(withGlob('out/$(inputs.text_file.basename)')).toEqual([]);
    expect(withGlob('$(inputs.text_file.nameroot)$(inputs.text_file.nameext)')).toEqual([]);
    expect(withGlob('x$(inputs.text_file.dirname)')).toEqual([]);
  });

  test('bad expressions', () => {
    expect(at(withGlob('$(inputs.word.length).txt'), globPath).message).toBe('$(inputs.word.length): .length only applies to File and Directory inputs, "word" is string');
    expect(at(withGlob('$(runtime.outdir)/x'), globPath).message).toBe('unsupported expression $(runtime.outdir) in glob of output "counts"');
    expect(at(withGlob('$(inputs.text_file.basename'), globPath).message).toBe('unclosed expression in glob of output "counts": "$(inputs.text_file.basename"');
    const undeclared = at(withGlob('$(inputs.textfile.basename)'), globPath);
    expect(undeclared.message).toBe('$(inputs.textfile.basename) refers to "textfile", which is not declared in cli.inputs (declared: word, text_file, context_lines, ignore_case)');
    expect(undeclared.fix).toBe('did you mean $(inputs.text_file.basename)?');
    expect(at(withGlob('$(inputs.text_file)'), globPath).message).toBe('$(inputs.text_file) refers to a whole File object');
    expect(at(withGlob('$(inputs.text_file.size)'), globPath).message).toBe('$(inputs.text_file.size): File inputs have no attribute .size (available: .basename, .nameroot, .nameext, .path, .dirname)');
    expect(at(withGlob('$(inputs.text_file[0].basename)'), globPath).message).toBe('$(inputs.text_file[0].basename): input "text_file" is not a list (type File), it cannot be indexed');
    expect(at(withGlob('$(inputs.text_file.path)'), globPath).message).toMatch(/at the start of the glob of output "counts" gives an absolute path/);
  });

  test('Directory attributes and list indexes', () => {
    const base = 'training-batches.red.json';
    const g = (glob: string) => check(base, d => (d.cli.outputs.weights.outputBinding.glob = glob));
    const p = 'cli.outputs.weights.outputBinding.glob';
    expect(g('$(inputs.data_dir.basename).h5')).toEqual([]);
    expect(at(g('$(inputs.data_dir.nameroot).h5'), p).message).toBe('$(inputs.data_dir.nameroot): Directory inputs have no attribute .nameroot (available: .basename, .path)');
    expect(at(g('w$(inputs.layers).h5'), p).message).toBe('$(inputs.layers): input "layers" is a list (type int[]?); pick one item');
    // layers[1] exists in batch 0 but batch 1 does not give layers at all
    const issues = g('w$(inputs.layers[1]).h5');
    expect(issues.map(i => i.message)).toEqual(['$(inputs.layers[1]) in the glob of output "weights" refers to the optional input "layers", which batch 1 does not give']);
    expect(at(check(base, d => {
      d.cli.outputs.weights.outputBinding.glob = 'w$(inputs.layers[2]).h5';
      d.batches[1].inputs.layers = [1, 2, 3];
    }), p).message).toBe('$(inputs.layers[2]): batch 0 gives only 2 items for "layers"');
  });

  test('cli.stdout must be a relative file name', () => {
    const i = at(check('hello-echo.red.yml', d => (d.cli.stdout = '/tmp/out.txt')), 'cli.stdout');
    expect(i.message).toBe('stdout file name must be relative to the output directory, found "/tmp/out.txt"');
  });
});

describe('{{variables}}', () => {
  test('allowed inside access and auth objects', () => {
    // the fixtures use them in connector access, auth, image auth and execution access
    expect(validateRed(data('wordcount-http.red.yml'))).toEqual([]);
    expect(validateRed(data('training-batches.red.json'))).toEqual([]);
  });

  test('template in image.url', () => {
    const i = at(check('hello-echo.red.yml', d => (d.container.settings.image.url = 'registry/{{image}}:latest')), 'container.settings.image.url');
    expect(i.message).toBe('{{variables}} are only allowed inside access or auth objects (connector access, image auth, execution access), found "registry/{{image}}:latest" in container.settings.image.url');
  });

  test('templates in job values and cli are refused', () => {
    const issues = check('hello-echo.red.yml', d => {
      d.inputs.greeting = 'hello {{name}}';
      d.cli.baseCommand = '{{cmd}}';
    });
    expect(at(issues, 'inputs.greeting').message).toMatch(/only allowed inside access or auth objects/);
    expect(at(issues, 'cli.baseCommand').message).toMatch(/only allowed inside access or auth objects/);
  });

  test('variable names and braces', () => {
    const issues = check('wordcount-http.red.yml', d => {
      const access = d.inputs.text_file.connector.access;
      access.url = 'https://{{ host }}/x';
      access.user = '{{}}';
      access.path = '{{a}} and }}';
      access.single = '{{a}}}'; // a lone brace after a variable is text, as in Curious Containers
      access.token = '{{to.ken}}';
      access.ok = '{{a}}-{{b_c-1}}';
    });
    const base = 'inputs.text_file.connector.access';
    expect(at(issues, `${base}.url`).message).toBe('invalid variable name " host " in "https://{{ host }}/x": use only letters, digits, _ and -');
    expect(at(issues, `${base}.url`).fix).toBe('write {{host}} without spaces');
    expect(at(issues, `${base}.user`).message).toBe('empty variable {{}} in "{{}}"');
    expect(at(issues, `${base}.path`).message).toBe('unbalanced braces in "{{a}} and }}"');
    expect(at(issues, `${base}.token`).message).toMatch(/invalid variable name "to.ken"/);
    expect(issues).toHaveLength(4);
  });
});

describe('reporting', () => {
  test('several errors are reported at once, sorted by line, with lines', () => {
    let text = fixture('wordcount-http.red.yml');
    text = text.replace('position: 0', 'position: -1');
    text = text.replace('type: "boolean?"', 'type: "bool?"');
    text = text.replace('url: "registry.example.org/lab/wordcount:1.2"', 'url: "registry.example.org/{{repo}}"');
    text = text.replace('context_lines: 2', 'context_lines: 1.5');
    text = text.replace('  word: "needle"\n', '  word: "needle"\n  extra: 1\n');
    const lines = text.split('\n');
    const lineOf = (needle: string) => lines.findIndex(l => l.includes(needle)) + 1;
    const issues = loadIssues(text);
    expect(issues.map(i => [i.path, i.line])).toEqual([
      ['cli.inputs.word.inputBinding.position', lineOf('position: -1')],
      ['cli.inputs.ignore_case.type', lineOf('type: "bool?"')],
      ['container.settings.image.url', lineOf('{{repo}}')],
      ['inputs.extra', lineOf('extra: 1')],
      ['inputs.context_lines', lineOf('context_lines: 1.5')]
    ]);
    expect(issues.every(i => i.severity === 'error')).toBe(true);
  });

  test('the RedError message is formatted with the source name', () => {
    try {
      loadRed(edit('hello-echo.red.yml', 'ram: 512', 'ram: 100'), { source: 'hello.red.yml' });
      throw new Error('expected an error');
    } catch (e) {
      expect((e as Error).message).toBe(
        `error: hello.red.yml:${fixture('hello-echo.red.yml').split('\n').findIndex(l => l.includes('ram: 512')) + 1}: container.settings.ram: must be at least 256, found 100\n    fix: ${RAM_RANGE_FIX}`
      );
    }
  });

  test('issues of keys that are not in the text get the line of their parent', () => {
    const issues = loadIssues(edit('hello-echo.red.yml', '      url: "docker.io/library/python:3.12-slim"\n', '      tag: x\n'));
    const missing = at(issues, 'container.settings.image.url');
    expect(missing.line).toBe(fixture('hello-echo.red.yml').split('\n').findIndex(l => l.includes('image:')) + 1);
  });

  test('didYouMean only suggests close words', () => {
    expect(didYouMean('imagee', ['image', 'ram', 'gpus'])).toBe('image');
    expect(didYouMean('gpu', ['image', 'ram', 'gpus'])).toBe('gpus');
    expect(didYouMean('completely', ['image', 'ram', 'gpus'])).toBeUndefined();
  });
});
