import * as fs from 'fs';
import * as path from 'path';
import { parseRedText } from '../parse';
import { RedError, RedIssue } from '../types';
import { upgradeLegacy } from '../upgrade';
import { loadRed } from '../validate';

const fixture = (name: string) => fs.readFileSync(path.join(__dirname, 'fixtures', name), 'utf8');
const data = (name: string): any => JSON.parse(JSON.stringify(parseRedText(fixture(name)).data));

function loadIssues(text: string): RedIssue[] {
  try {
    loadRed(text);
  } catch (e) {
    expect(e).toBeInstanceOf(RedError);
    return (e as RedError).issues;
  }
  throw new Error('expected loadRed to throw');
}

describe('upgradeLegacy', () => {
  test('redVersion "9" is left alone', () => {
    const doc = data('hello-echo.red.yml');
    const r = upgradeLegacy(doc);
    expect(r.doc).toBe(doc);
    expect(r.warnings).toEqual([]);
    expect(r.errors).toEqual([]);
  });

  test('a RED 8 file differing only in its version is upgraded with a warning, without touching the input', () => {
    const doc = data('legacy-red8.red.json');
    const r = upgradeLegacy(doc);
    expect(r.errors).toEqual([]);
    expect(r.warnings).toEqual([
      {
        path: 'redVersion',
        message: 'redVersion 8 upgraded in memory: set redVersion: "9"',
        fix: 'edit the file: redVersion: "9" (RED 9 reads the rest of this file unchanged)',
        severity: 'warning'
      }
    ]);
    expect(r.doc.redVersion).toBe('9');
    expect(doc.redVersion).toBe('8');
    const { redVersion: _a, ...before } = doc;
    const { redVersion: _b, ...after } = r.doc;
    expect(after).toEqual(before);
  });

  test('RED 7 nvidia-docker with a list of minVram becomes docker with gpus.devices', () => {
    const r = upgradeLegacy(data('legacy-red7-nvidia.red.yml'));
    expect(r.errors).toEqual([]);
    expect((r.doc.container as any).engine).toBe('docker');
    expect((r.doc.container as any).settings.gpus).toEqual({ vendor: 'nvidia', devices: [{ vramMin: 2048 }, { vramMin: 2048 }] });
    expect(r.warnings.map(w => w.path)).toEqual(['redVersion', 'container.engine']);
    expect(r.warnings[0].message).toBe('redVersion 7 upgraded in memory: set redVersion: "9"');
    expect(r.warnings[1].message).toBe('container engine "nvidia-docker" (RED 7) read as "docker" with settings.gpus: {"vendor":"nvidia","devices":[{"vramMin":2048},{"vramMin":2048}]}');
    expect(r.warnings[1].fix).toMatch(/^edit the file: engine: docker and gpus: /);
  });

  test('nvidia-docker with {count} or without gpus', () => {
    const withCount = upgradeLegacy({ redVersion: '7', container: { engine: 'nvidia-docker', settings: { image: { url: 'x' }, gpus: { count: 2 } } } });
    expect((withCount.doc.container as any).settings.gpus).toEqual({ vendor: 'nvidia', count: 2 });
    const without = upgradeLegacy({ redVersion: '8', container: { engine: 'nvidia-docker', settings: { image: { url: 'x' } } } });
    expect((without.doc.container as any).settings.gpus).toEqual({ vendor: 'nvidia', count: 1 });
    expect(without.warnings[1].path).toBe('container.engine');
  });

  test('gpus without vendor on the docker engine', () => {
    const r = upgradeLegacy({ redVersion: '8', container: { engine: 'docker', settings: { image: { url: 'x' }, gpus: { count: 1 } } } });
    expect((r.doc.container as any).settings.gpus).toEqual({ vendor: 'nvidia', count: 1 });
    expect(r.warnings[1]).toMatchObject({ path: 'container.settings.gpus', message: 'settings.gpus (RED 8) read as {"vendor":"nvidia","count":1}' });
  });

  test('redVersion as a number is an error naming the quoted fix', () => {
    const r = upgradeLegacy({ redVersion: 9 });
    expect(r.warnings).toEqual([]);
    expect(r.errors).toEqual([
      { path: 'redVersion', message: 'redVersion must be a quoted string, found the number 9', fix: 'write redVersion: "9" (with quotes)', severity: 'error' }
    ]);
    expect(upgradeLegacy({ redVersion: 8 }).errors[0].message).toBe('redVersion must be a quoted string, found the number 8');
  });

  test('unknown and too old versions', () => {
    const ten = upgradeLegacy({ redVersion: '10' });
    expect(ten.errors[0].message).toBe('redVersion "10" is not supported: RED Lab reads RED 9 (and upgrades 7 and 8)');
    expect(ten.errors[0].fix).toBe('write redVersion: "9" (a quoted string) if the file follows RED 9');
    const six = upgradeLegacy({ redVersion: '6' });
    expect(six.errors[0].message).toBe('redVersion "6" is too old to upgrade automatically: RED Lab reads RED 9 (and upgrades 7 and 8)');
    expect(upgradeLegacy({}).errors[0]).toMatchObject({ path: 'redVersion', message: 'redVersion is missing' });
    expect(upgradeLegacy({ redVersion: null }).errors[0].message).toBe('redVersion must be the string "9", found null');
  });
});

describe('loadRed with legacy files', () => {
  test('a RED 8 batch file loads as RED 9 with the warning and its line', () => {
    const loaded = loadRed(fixture('legacy-red8.red.json'));
    expect(loaded.red.redVersion).toBe('9');
    expect(loaded.warnings).toHaveLength(1);
    expect(loaded.warnings[0]).toMatchObject({ path: 'redVersion', line: 2, severity: 'warning', message: 'redVersion 8 upgraded in memory: set redVersion: "9"' });
    expect('batches' in loaded.red && loaded.red.batches[0].inputs.data_dir).toMatchObject({ connector: { mount: true, access: { writable: true } } });
  });

  test('a RED 7 nvidia-docker file loads as docker with gpus', () => {
    const loaded = loadRed(fixture('legacy-red7-nvidia.red.yml'));
    expect(loaded.red.container).toEqual({
      engine: 'docker',
      settings: { image: { url: 'docker.io/nvidia/cuda:12.2.0-base-ubuntu22.04' }, ram: 1024, gpus: { vendor: 'nvidia', devices: [{ vramMin: 2048 }, { vramMin: 2048 }] } }
    });
    expect(loaded.warnings.map(w => [w.path, w.line])).toEqual([
      ['redVersion', 1],
      ['container.engine', 10]
    ]);
  });

  test('a legacy file with other problems reports the errors and keeps the upgrade warning', () => {
    const text = fixture('legacy-red8.red.json').replace('"ram": 32000', '"ram": 100');
    const issues = loadIssues(text);
    expect(issues[0]).toMatchObject({ path: 'container.settings.ram', message: 'must be at least 256, found 100', severity: 'error' });
    expect(issues[1]).toMatchObject({ path: 'redVersion', severity: 'warning' });
  });

  test('redVersion 9 as a number: one clear error, the rest still validated', () => {
    const text = fixture('hello-echo.red.yml').replace('redVersion: "9"', 'redVersion: 9').replace('ram: 512', 'ram: 12');
    const issues = loadIssues(text);
    expect(issues.filter(i => i.path === 'redVersion')).toEqual([
      { path: 'redVersion', line: 2, message: 'redVersion must be a quoted string, found the number 9', fix: 'write redVersion: "9" (with quotes)', severity: 'error' }
    ]);
    expect(issues.map(i => i.path)).toContain('container.settings.ram');
  });

  test('redVersion "10"', () => {
    const issues = loadIssues(fixture('hello-echo.red.yml').replace('redVersion: "9"', 'redVersion: "10"'));
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatchObject({ path: 'redVersion', line: 2, message: 'redVersion "10" is not supported: RED Lab reads RED 9 (and upgrades 7 and 8)' });
    expect(issues[0].fix).toContain('redVersion: "9"');
  });
});
