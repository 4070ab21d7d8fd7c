// CITATION.cff and codemeta.json stubs of a run's bundle. The CFF text is validated
// against the Citation File Format 1.2.0 JSON schema (as the npm package cffjs ships it)
// with ajv, as cffconvert --validate does.
import * as fs from 'fs';
import * as path from 'path';
import Ajv from 'ajv';
import addFormats from 'ajv-formats';
import { parse } from 'yaml';
import { citationCff, codemeta, orcidUrl, pinnedImage, spdxId, splitPersonName, CODEMETA_CONTEXT } from '../citation';
import type { RunCrateSummary } from '../run-crate-types';

/** The CFF 1.2.0 schema: cffjs ships it as an ES module (`export const schema = {…};`), read here as its object literal. */
function cffSchema(): Record<string, unknown> {
  const file = path.join(path.dirname(require.resolve('cffjs')), 'schema.js');
  const text = fs.readFileSync(file, 'utf8');
  const m = /export const schema = ([\s\S]*);\s*$/.exec(text);
  if (!m) throw new Error(`${file} no longer has the shape "export const schema = {…};": read the schema from it another way`);
  const schema = new Function(`return (${m[1]});`)() as Record<string, unknown>;
  expect(schema.$id).toBe('https://citation-file-format.github.io/1.2.0/schema.json');
  return schema;
}

const ajv = new Ajv({ allErrors: true, strict: false });
addFormats(ajv);
const validateCff = ajv.compile(cffSchema());

/** Parses CFF text as CFF tools do and validates it; returns the document. */
function validCff(text: string): Record<string, unknown> {
  const doc = parse(text) as Record<string, unknown>;
  if (!validateCff(doc)) throw new Error(`not valid CFF 1.2.0:\n${JSON.stringify(validateCff.errors, null, 2)}\n${text}`);
  return doc;
}

const summary = (extra: Partial<RunCrateSummary> = {}): RunCrateSummary => ({
  state: 'succeeded',
  exitCode: 0,
  startTime: '2026-11-30T23:59:58.120+01:00',
  endTime: '2026-12-01T00:00:03.500+01:00',
  redFile: 'run-record/red.yml',
  cliFile: 'run-record/cli.cwl',
  image: { url: 'redlab/debian-python:12', digest: 'sha256:' + 'a'.repeat(64), pullable: true },
  engine: { name: 'docker', version: '27.5.1', isolated: true },
  command: ['python3', 'fit.py', '--n', '3'],
  inputs: [{ key: 'data', id: 'file:///home/ada/data.csv', class: 'File', path: '/home/ada/data.csv', sha256: 'b'.repeat(64), size: 12 }],
  outputs: [{ key: 'fit', path: 'fit.json', class: 'File', sha256: 'c'.repeat(64), size: 40 }],
  parameters: [{ name: 'n', value: '3' }],
  logs: { stdout: 'run-record/stdout.txt', stderr: 'run-record/stderr.txt' },
  ...extra
});

describe('citationCff', () => {
  test('a run with nothing known about its author: valid CFF 1.2.0 with TODO names and title', () => {
    const doc = validCff(citationCff(summary()));
    expect(doc['cff-version']).toBe('1.2.0');
    expect(doc.type).toBe('dataset');
    expect(doc.title).toBe('TODO: a title for this dataset');
    expect(doc.authors).toEqual([{ 'given-names': 'TODO: given names', 'family-names': 'TODO: family names' }]);
    // The run's end date, in the run's own offset (not UTC's 2026-11-30).
    expect(doc['date-released']).toBe('2026-12-01');
    expect(doc.abstract).toContain('redlab/debian-python@sha256:' + 'a'.repeat(64));
    expect(doc.abstract).toContain('`python3 fit.py --n 3`');
    expect(doc.abstract).toContain('Docker 27.5.1');
    expect(doc.keywords).toEqual(expect.arrayContaining(['RED Lab', 'Process Run Crate']));
    // No license known: none written (CFF takes only SPDX ids), and the comment says to add one.
    expect(doc).not.toHaveProperty('license');
    expect(citationCff(summary())).toMatch(/add a license/);
  });

  test('author, affiliation, ORCID and title given: written as CFF wants them', () => {
    const text = citationCff(summary({ license: 'MIT' }), { author: 'Ada King Lovelace', affiliation: 'Analytical Engines Ltd', orcid: '0000-0002-1825-0097', title: 'Fitting data' });
    const doc = validCff(text);
    expect(doc.title).toBe('Fitting data');
    expect(doc.authors).toEqual([{ 'given-names': 'Ada King', 'family-names': 'Lovelace', orcid: 'https://orcid.org/0000-0002-1825-0097', affiliation: 'Analytical Engines Ltd' }]);
    expect(doc.license).toBe('MIT');
    expect(text).not.toMatch(/add a license/);
  });

  test("the crate's own author, name, description and licence URL are used when no option overrides them", () => {
    const s = summary({
      author: { name: 'Hopper, Grace', orcid: 'https://orcid.org/0000-0001-5109-3700' },
      name: 'Compiler benchmarks',
      description: 'Timing of three compilers.',
      license: 'https://spdx.org/licenses/CC-BY-4.0.html'
    });
    const doc = validCff(citationCff(s));
    expect(doc.authors).toEqual([{ 'given-names': 'Grace', 'family-names': 'Hopper', orcid: 'https://orcid.org/0000-0001-5109-3700' }]);
    expect(doc.title).toBe('Compiler benchmarks');
    expect(doc.abstract).toBe('Timing of three compilers.');
    expect(doc.license).toBe('CC-BY-4.0');
  });

  test('a licence that is no SPDX id but a URL goes to license-url; any other text is left out', () => {
    const url = validCff(citationCff(summary({ license: 'https://example.org/our-licence' })));
    expect(url['license-url']).toBe('https://example.org/our-licence');
    expect(url).not.toHaveProperty('license');
    const words = validCff(citationCff(summary({ license: 'all rights reserved' })));
    expect(words).not.toHaveProperty('license');
    expect(words).not.toHaveProperty('license-url');
  });

  test('a one-word author (a login name) becomes an alias, with the real names to fill in', () => {
    const doc = validCff(citationCff(summary({ author: { name: 'ada' } })));
    expect(doc.authors).toEqual([{ 'given-names': 'TODO: given names', 'family-names': 'TODO: family names', alias: 'ada' }]);
  });

  test('a failed batch run: the abstract says so, and TODO values stay strings in YAML 1.1 readers too (quoted)', () => {
    const text = citationCff(summary({ state: 'failed', exitCode: 3, batch: { index: 1, count: 4 } }));
    validCff(text);
    expect(text).toContain('failed (exit code 3)');
    expect(text).toContain('batch 2 of 4');
    expect(text).toMatch(/^title: "TODO: a title for this dataset"$/m);
    expect(text).toMatch(/^date-released: "2026-12-01"$/m);
  });

  test('the schema check can fail: a CFF without authors or with a bad ORCID is refused', () => {
    const doc = parse(citationCff(summary())) as Record<string, unknown>;
    expect(validateCff({ ...doc, authors: [] })).toBe(false);
    expect(validateCff({ ...doc, authors: [{ orcid: '0000-0002-1825-0097' }] })).toBe(false);
  });

  test('a bad ORCID is refused naming the field and the fix', () => {
    expect(() => citationCff(summary(), { orcid: '0000-0002-1825-0098' })).toThrow(/^orcid: 0000-0002-1825-0098 is not a valid ORCID iD \(its last character, the check digit/);
    expect(() => citationCff(summary(), { orcid: 'ada' })).toThrow(/^orcid: "ada" is not an ORCID iD; write it as 0000-0002-1825-0097/);
  });
});

describe('codemeta', () => {
  test('CodeMeta 3.0: name, description, author, license as SPDX URL, dateCreated, the image by digest, the runtime', () => {
    const meta = codemeta(summary({ license: 'Apache-2.0' }), { author: 'Ada Lovelace', orcid: 'https://orcid.org/0000-0002-1825-0097', affiliation: 'AE Ltd', title: 'Fitting data' });
    expect(meta['@context']).toBe(CODEMETA_CONTEXT);
    expect(meta['@context']).toBe('https://w3id.org/codemeta/3.0');
    expect(meta['@type']).toBe('SoftwareSourceCode');
    expect(meta.name).toBe('Fitting data');
    expect(meta.description).toMatch(/^The inputs, outputs and run record of a run of `python3 fit.py --n 3`/);
    expect(meta.author).toEqual([
      { '@type': 'Person', '@id': 'https://orcid.org/0000-0002-1825-0097', givenName: 'Ada', familyName: 'Lovelace', affiliation: { '@type': 'Organization', name: 'AE Ltd' } }
    ]);
    expect(meta.license).toBe('https://spdx.org/licenses/Apache-2.0');
    // The start date, in the run's own offset.
    expect(meta.dateCreated).toBe('2026-11-30');
    expect(meta.softwareRequirements).toEqual([expect.objectContaining({ '@type': 'SoftwareApplication', name: 'redlab/debian-python:12', identifier: 'redlab/debian-python@sha256:' + 'a'.repeat(64) })]);
    expect(meta.runtimePlatform).toBe('Docker 27.5.1');
    // Plain JSON (written as codemeta.json).
    expect(JSON.parse(JSON.stringify(meta))).toEqual(meta);
  });

  test('a locally built image is named by its image ID, flagged as not pullable; no licence known: none written', () => {
    const meta = codemeta(summary({ image: { url: 'redlab/debian-python:12', id: 'sha256:' + 'd'.repeat(64), pullable: false } }));
    const [req] = meta.softwareRequirements as Record<string, string>[];
    expect(req.identifier).toBe('sha256:' + 'd'.repeat(64));
    expect(req.description).toMatch(/built locally.*not pullable/);
    expect(meta).not.toHaveProperty('license');
    expect(meta.author).toEqual([{ '@type': 'Person', givenName: 'TODO: given names', familyName: 'TODO: family names' }]);
    expect(meta.name).toBe('TODO: a title for this dataset');
  });

  test('the process engine (no container): named as not isolated, and the image the RED names (unused) is no requirement', () => {
    const meta = codemeta(summary({ engine: { name: 'process', isolated: false } }));
    expect(meta.runtimePlatform).toBe('process (not isolated: no container)');
    expect(meta).not.toHaveProperty('softwareRequirements');
    expect(meta.description).toContain('with the programs of the machine it ran on');
    expect(meta.description).not.toContain('container image');
  });

  test('an image with neither digest nor ID is named as not pinned', () => {
    const [req] = codemeta(summary({ image: { url: 'busybox:1', pullable: false } })).softwareRequirements as Record<string, string>[];
    expect(req.identifier).toBe('busybox:1');
    expect(req.description).toMatch(/by name only/);
  });

  test("the crate builder's default description gives way to the abstract that says what ran", () => {
    const meta = codemeta(summary({ description: 'Process Run Crate of a RED Lab run (succeeded): the RED, its CWL tool, …' }));
    expect(meta.description).toMatch(/^The inputs, outputs and run record of a run of `python3 fit.py --n 3`/);
  });
});

describe('helpers', () => {
  test('orcidUrl takes bare and URL forms, with or without dashes, X as check digit', () => {
    expect(orcidUrl('0000-0002-1825-0097')).toBe('https://orcid.org/0000-0002-1825-0097');
    expect(orcidUrl('http://orcid.org/0000-0002-1694-233x')).toBe('https://orcid.org/0000-0002-1694-233X');
    expect(orcidUrl('0000000218250097')).toBe('https://orcid.org/0000-0002-1825-0097');
  });

  test('splitPersonName', () => {
    expect(splitPersonName('Ada Lovelace')).toEqual({ given: 'Ada', family: 'Lovelace' });
    expect(splitPersonName(' Lovelace,  Ada ')).toEqual({ given: 'Ada', family: 'Lovelace' });
    expect(splitPersonName('')).toEqual({ given: 'TODO: given names', family: 'TODO: family names' });
  });

  test('spdxId: ids and spdx.org URLs; nothing else', () => {
    expect(spdxId('GPL-3.0-or-later')).toBe('GPL-3.0-or-later');
    expect(spdxId('https://spdx.org/licenses/MIT')).toBe('MIT');
    expect(spdxId('MIT OR Apache-2.0')).toBeUndefined();
    expect(spdxId(undefined)).toBeUndefined();
  });

  test('pinnedImage: a tag is replaced by the digest, a registry port kept', () => {
    const digest = 'sha256:' + 'e'.repeat(64);
    expect(pinnedImage({ url: 'localhost:5000/team/img:2.1', digest, pullable: true })).toBe(`localhost:5000/team/img@${digest}`);
    expect(pinnedImage({ url: 'localhost:5000/team/img', digest, pullable: true })).toBe(`localhost:5000/team/img@${digest}`);
    expect(pinnedImage({ url: 'img:1', digest: `img@${digest}`, pullable: true })).toBe(`img@${digest}`);
  });
});
