// compareOutputs and compareLogs on real files: CSV, JSON and PNG written here, read back
// from two output folders as `redlab rerun` reads a run's and its re-run's.
import { createHash } from 'crypto';
import { mkdir, rm, symlink, writeFile } from 'fs/promises';
import * as path from 'path';
import { PNG } from 'pngjs';
import type { RunCrateOutput } from '../../../src/red/run-crate-types';
import { compareLogs, compareOutputs, LOG_DIFF_MAX_LINES, type RecordedOutputs } from '../../src/drift/compare-outputs';
import { tempDir } from '../helpers/red';

const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');
const tol = { atol: 0, rtol: 0, ignore: [] as string[] };

let tmp: string;
beforeEach(async () => {
  tmp = await tempDir('redlab-drift-');
});
afterEach(() => rm(tmp, { recursive: true, force: true }));

/** Writes files into a new output folder and records them as a crate does (one File output per file). */
async function run(name: string, files: Record<string, Buffer | string>, records: Partial<Record<string, Partial<RunCrateOutput>>> = {}): Promise<RecordedOutputs> {
  const dir = path.join(tmp, name);
  const outputs: RunCrateOutput[] = [];
  for (const [rel, content] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(dir, rel)), { recursive: true });
    await writeFile(path.join(dir, rel), content);
    outputs.push({ key: rel.replace(/\W/g, '_'), path: rel, class: 'File', sha256: sha256(content), size: Buffer.byteLength(content), ...records[rel] });
  }
  await mkdir(dir, { recursive: true });
  return { dir, outputs };
}

/** A PNG of `w`×`h` RGBA pixels, grey, with `marked` pixels (indices) red. */
function png(w: number, h: number, marked: number[] = [], opts: { compression?: number } = {}): Buffer {
  const img = new PNG({ width: w, height: h });
  for (let i = 0; i < w * h; i++) img.data.set(marked.includes(i) ? [255, 0, 0, 255] : [128, 128, 128, 255], i * 4);
  return PNG.sync.write(img, { deflateLevel: opts.compression ?? 6 });
}

describe('compareOutputs', () => {
  it('says identical by the recorded sha256, without reading the files', async () => {
    const before = await run('before', { 'a.txt': 'same' });
    // The record says the same hash, whatever the file holds now: a record's hash is not computed again.
    const after = await run('after', { 'a.txt': 'not the same bytes' }, { 'a.txt': { sha256: sha256('same') } });
    const [drift] = await compareOutputs(before, after, tol);
    expect(drift).toEqual({ path: 'a.txt', output: 'a_txt', kind: 'identical', sha256: { before: sha256('same'), after: sha256('same') }, size: { before: 4, after: 18 } });
  });

  it('reports missing, extra and ignored files, in the order of the run before', async () => {
    const before = await run('before', { 'gone.txt': 'x', 'stamp.txt': '1', 'kept.txt': 'k' });
    const after = await run('after', { 'new.txt': 'n', 'stamp.txt': '2', 'kept.txt': 'k' });
    const drift = await compareOutputs(before, after, { ...tol, ignore: ['stamp.txt'] });
    expect(drift.map(d => [d.path, d.kind])).toEqual([
      ['gone.txt', 'missing'],
      ['stamp.txt', 'ignored'],
      ['kept.txt', 'identical'],
      ['new.txt', 'extra']
    ]);
    expect(drift[0].sha256).toEqual({ before: sha256('x') });
    expect(drift[3].sha256).toEqual({ after: sha256('n') });
  });

  it('compares the files of a folder output one by one', async () => {
    const dir = (name: string, files: Record<string, string>) =>
      run(name, files).then(r => ({
        dir: r.dir,
        outputs: [{ key: 'results', path: 'results', class: 'Directory' as const, sha256: 'tree', size: 0, files: r.outputs.map(o => ({ path: o.path, sha256: o.sha256, size: o.size })) }]
      }));
    const before = await dir('before', { 'results/a.txt': 'a', 'results/b.txt': 'b' });
    const after = await dir('after', { 'results/a.txt': 'a', 'results/b.txt': 'B' });
    const drift = await compareOutputs(before, after, tol);
    expect(drift.map(d => [d.path, d.output, d.kind])).toEqual([
      ['results/a.txt', 'results', 'identical'],
      ['results/b.txt', 'results', 'changed']
    ]);
    expect(drift[1].detail).toBe('other bytes (1 byte before, 1 after)');
  });

  it('compares CSV cell by cell: noise within the tolerance, and beyond it', async () => {
    const before = await run('before', { 'r.csv': 'x,y\n1,0.5\n2,0.25\n' });
    const after = await run('after', { 'r.csv': 'x,y\n1,0.5000000001\n2,0.25\n' });
    const [within] = await compareOutputs(before, after, { atol: 1e-9, rtol: 0, ignore: [] });
    expect(within.kind).toBe('within-tolerance');
    expect(within.values).toMatchObject({ compared: 4, differing: 0 });
    expect(within.detail).toMatch(/^every value within the tolerance \(largest difference 1\.00e-10\)$/);

    const [beyond] = await compareOutputs(before, after, tol);
    expect(beyond.kind).toBe('changed');
    expect(beyond.values?.examples).toEqual([{ where: 'row 2, column "y"', before: '0.5', after: '0.5000000001' }]);
    expect(beyond.detail).toMatch(/^1 of 4 cells differ beyond the tolerance; largest difference 1\.00e-10/);
  });

  it('compares TSV with tabs, and a CSV whose columns changed as changed', async () => {
    const before = await run('before', { 't.tsv': 'a\tb\n1\t2\n', 'c.csv': 'a,b\n1,2\n' });
    const after = await run('after', { 't.tsv': 'a\tb\n1\t2.0\n', 'c.csv': 'a,c\n1,2\n' });
    const [tsv, csv] = await compareOutputs(before, after, tol);
    expect(tsv.kind).toBe('within-tolerance');
    expect(tsv.values?.compared).toBe(2);
    expect(csv.kind).toBe('changed');
    expect(csv.values?.structure).toEqual(['column "b" only before', 'column "c" only after']);
  });

  it('compares JSON leaf by leaf with JSON paths; the same values in other bytes are within tolerance', async () => {
    const before = await run('before', { 'm.json': JSON.stringify({ loss: 0.1, epochs: [1, 2] }), 'n.json': '{"a": 1}' });
    const after = await run('after', { 'm.json': JSON.stringify({ loss: 0.2, epochs: [1, 2] }), 'n.json': '{\n  "a": 1.0\n}\n' });
    const [m, n] = await compareOutputs(before, after, tol);
    expect(m.kind).toBe('changed');
    expect(m.values?.examples).toEqual([{ where: '$.loss', before: '0.1', after: '0.2' }]);
    expect(n.kind).toBe('within-tolerance');
  });

  it('says a CSV or JSON that does not parse is changed, and why', async () => {
    const before = await run('before', { 'bad.json': '{"a": 1}', 'bad.csv': 'a\n1\n' });
    const after = await run('after', { 'bad.json': '{"a": ', 'bad.csv': 'a\n"1\n' });
    const [json, csv] = await compareOutputs(before, after, tol);
    expect(json.kind).toBe('changed');
    expect(json.detail).toMatch(/^other bytes \(8 bytes before, 6 after\); not comparable as JSON: /);
    expect(csv.detail).toMatch(/not comparable as CSV: line 2: a quoted field is not closed/);
  });

  it('compares an executed notebook without its run times: only times differ → within tolerance; another output → changed', async () => {
    const nb = (t: string, out: string) =>
      JSON.stringify({
        nbformat: 4,
        metadata: { papermill: { start_time: t, end_time: t, duration: 1.5, parameters: { n: 3 } } },
        cells: [{ cell_type: 'code', source: 'print(n)', metadata: { papermill: { start_time: t, end_time: t, duration: 0.1, status: 'completed' }, execution: { 'iopub.execute_input': t } }, outputs: [{ output_type: 'stream', name: 'stdout', text: out }] }]
      });
    const before = await run('before', { 'a.executed.ipynb': nb('2026-12-01T10:00:00Z', '3\n') });
    const later = await run('later', { 'a.executed.ipynb': nb('2026-12-01T11:00:00Z', '3\n') });
    const other = await run('other', { 'a.executed.ipynb': nb('2026-12-01T11:00:00Z', '4\n') });
    const [same] = await compareOutputs(before, later, tol);
    expect([same.kind, same.detail]).toEqual(['within-tolerance', 'the same cells and outputs (within the tolerance); only the run times differ']);
    const [changed] = await compareOutputs(before, other, tol);
    expect(changed.kind).toBe('changed');
    expect(changed.values?.examples[0]).toMatchObject({ before: expect.stringContaining('3'), after: expect.stringContaining('4') });
  });

  it('counts differing PNG pixels; the same pixels compressed otherwise are within tolerance; another size is changed', async () => {
    const before = await run('before', { 'plot.png': png(4, 3), 'same.png': png(4, 3, [], { compression: 9 }), 'size.png': png(4, 3) });
    const after = await run('after', { 'plot.png': png(4, 3, [0, 5]), 'same.png': png(4, 3, [], { compression: 0 }), 'size.png': png(3, 4) });
    const [plot, same, size] = await compareOutputs(before, after, tol);
    expect(plot).toMatchObject({ kind: 'changed', pixels: { differing: 2, total: 12 }, detail: '2 of 12 pixels differ' });
    expect(same).toMatchObject({ kind: 'within-tolerance', pixels: { differing: 0, total: 12 } });
    expect(size).toMatchObject({ kind: 'changed', pixels: { sizeBefore: [4, 3], sizeAfter: [3, 4] }, detail: 'image size 4×3 before, 3×4 after' });
  });

  it('compares what a connector sent by its recorded hash only', async () => {
    const before = await run('before', { 'up.csv': 'a\n1\n' }, { 'up.csv': { connector: 'red-connector-http', url: 'https://example.org/up.csv' } });
    const after = await run('after', { 'up.csv': 'a\n2\n' }, { 'up.csv': { connector: 'red-connector-http', url: 'https://example.org/up.csv' } });
    const [d] = await compareOutputs(before, after, tol);
    expect(d).toMatchObject({ kind: 'changed', detail: 'sent to https://example.org/up.csv: compared by the recorded sha256 only (4 bytes before, 4 after)' });
    expect(d.values).toBeUndefined();
  });

  it('keeps outputs a connector sent apart by their key when their records have no path', async () => {
    const sent = (key: string, sha: string): RunCrateOutput => ({ key, path: '', class: 'File', sha256: sha, size: 1, connector: 'red-connector-ssh', url: `#output-${key}` });
    const before = { dir: tmp, outputs: [sent('a', '1'), sent('b', '2')] };
    const after = { dir: tmp, outputs: [sent('a', '1'), sent('b', '3')] };
    const drift = await compareOutputs(before, after, tol);
    expect(drift.map(d => [d.path, d.output, d.kind, d.detail])).toEqual([
      ['a (sent by red-connector-ssh)', 'a', 'identical', undefined],
      ['b (sent by red-connector-ssh)', 'b', 'changed', 'sent to red-connector-ssh: compared by the recorded sha256 only (1 byte before, 1 after)']
    ]);
  });

  it('does not follow a symbolic link the re-run left in place of an output', async () => {
    const before = await run('before', { 'r.csv': 'a\n1\n' });
    const after = await run('after', {});
    await writeFile(path.join(tmp, 'outside.csv'), 'a\n2\n');
    await symlink(path.join(tmp, 'outside.csv'), path.join(after.dir, 'r.csv'));
    after.outputs = [{ key: 'r', path: 'r.csv', class: 'File', sha256: sha256('a\n2\n'), size: 4 }];
    const [d] = await compareOutputs(before, after, tol);
    expect(d.kind).toBe('changed');
    expect(d.detail).toMatch(/cannot read it to compare values: r\.csv is a symbolic link/);
    expect(d.values).toBeUndefined();
  });
});

describe('compareLogs', () => {
  it('says the same logs are the same', () => {
    expect(compareLogs('a\nb\n', 'a\nb\n')).toEqual({ same: true });
  });

  it('gives a unified diff with two lines of context', () => {
    const before = ['one', 'two', 'three', 'four', 'five', 'six', 'seven'].join('\n') + '\n';
    const after = before.replace('four', 'FOUR');
    const { same, diff } = compareLogs(before, after, 'stdout');
    expect(same).toBe(false);
    expect(diff).toBe(['--- stdout before', '+++ stdout after', '@@ -2,5 +2,5 @@', ' two', ' three', '-four', '+FOUR', ' five', ' six'].join('\n'));
  });

  it('cuts a long diff to LOG_DIFF_MAX_LINES lines and says how many more there are', () => {
    const before = Array.from({ length: 100 }, (_, i) => `line ${i}`).join('\n');
    const after = Array.from({ length: 100 }, (_, i) => (i % 2 ? `line ${i}` : `LINE ${i}`)).join('\n');
    const diff = compareLogs(before, after).diff!.split('\n');
    expect(diff).toHaveLength(LOG_DIFF_MAX_LINES + 1);
    expect(diff[LOG_DIFF_MAX_LINES]).toMatch(/^… \(\d+ more lines\)$/);
  });
});
