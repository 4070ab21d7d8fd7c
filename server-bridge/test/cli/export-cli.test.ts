// `redlab export RUN_DIR|RUN_ID --zip`: a run's shareable bundle. The built binary as a
// user runs it (`npm run build -w server-bridge` first), on crates that `redlab run
// --engine process` wrote (the real record, no Docker needed); the zips are read back with
// yauzl, their bytes checked against the crate's sha256.
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { parse as parseYaml } from 'yaml';
import { parseRunCrate, type RunCrateSummary } from '../../../src/red';
import { runRedlab } from '../helpers/redlab-cli';
import { removeTempDirs, tempDir } from '../helpers/red';
import { readCrateWithRoCratePy, validateCrate } from '../helpers/rocrate-validator';
import { sha256, zipEntriesOfFile, type ZipEntries } from '../helpers/zip-entries';
import { filesBelow as tree } from '../helpers/file-tree';

jest.setTimeout(120_000);

const RED = `redVersion: "9"
cli:
  cwlVersion: v1.0
  class: CommandLineTool
  baseCommand: [sh, -c, 'tr a-z A-Z < "$0" > up.txt; mkdir -p report/sub; ls "$1" > report/sub/list.txt; echo done']
  inputs:
    text_file: { type: File, inputBinding: { position: 0 } }
    folder: { type: Directory, inputBinding: { position: 1 } }
  outputs:
    upper: { type: File, outputBinding: { glob: up.txt } }
    report: { type: Directory, outputBinding: { glob: report } }
inputs:
  text_file:
    class: File
    connector: { command: redlab-connector-local, access: { path: data/in.txt } }
  folder:
    class: Directory
    connector: { command: redlab-connector-local, access: { path: data/dir } }
outputs: {}
container:
  engine: docker
  settings: { image: { url: redlab/busybox:1 }, ram: 256 }
`;

let dir: string;
let outdir: string;
afterAll(() => removeTempDirs());

/** A fresh folder with inputs, a RED, and its run's crate in out/ (redlab run --engine process). */
async function freshRun(): Promise<void> {
  dir = await tempDir('redlab-export-cli-');
  fs.mkdirSync(path.join(dir, 'data', 'dir'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'data', 'in.txt'), 'hello\nworld\n');
  fs.writeFileSync(path.join(dir, 'data', 'dir', 'a.txt'), 'a\n');
  fs.writeFileSync(path.join(dir, 'data', 'dir', 'b.txt'), 'b\n');
  fs.writeFileSync(path.join(dir, 'run.red.yml'), RED);
  outdir = path.join(dir, 'out');
  const r = await runRedlab(['run', 'run.red.yml', '--engine', 'process', '--outdir', outdir, '--non-interactive'], { cwd: dir, env: { REDLAB_WORK_ROOT: path.join(dir, 'work') } });
  expect(r.stderr).toMatch(/succeeded/);
  expect(r.code).toBe(0);
  expect(fs.existsSync(path.join(outdir, 'ro-crate-metadata.json'))).toBe(true);
}

const exportRun = (args: string[], env: NodeJS.ProcessEnv = {}) => runRedlab(['export', ...args], { cwd: dir, env });
const crateOf = (entries: ZipEntries): RunCrateSummary => parseRunCrate(JSON.parse(entries.get('ro-crate-metadata.json')!.toString('utf8')));
const folderCrate = (): RunCrateSummary => parseRunCrate(JSON.parse(fs.readFileSync(path.join(outdir, 'ro-crate-metadata.json'), 'utf8')));


describe('redlab export RUN_DIR --zip', () => {
  beforeAll(freshRun);

  it('bundles the crate folder as it is, the inputs under inputs/ (as the crate hashed them), CITATION.cff and codemeta.json', async () => {
    const r = await exportRun(['out', '--zip', '-o', 'bundle.zip', '--author', 'Ada Lovelace', '--orcid', '0000-0002-1825-0097', '--title', 'Shouting']);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(path.join(dir, 'bundle.zip'));
    expect(r.stderr).toMatch(/2 inputs bundled/);
    const entries = await zipEntriesOfFile(path.join(dir, 'bundle.zip'));

    // The crate folder, byte for byte (its metadata aside: rewritten to name the bundled inputs).
    const folder = tree(outdir);
    for (const [rel, bytes] of folder) {
      if (rel === 'ro-crate-metadata.json') continue;
      expect([rel, entries.get(rel)?.equals(bytes)]).toEqual([rel, true]);
    }
    expect([...folder.keys()]).toEqual(expect.arrayContaining(['run-record/red.yml', 'run-record/cli.cwl', 'run-record/stdout.txt', 'up.txt', 'report/sub/list.txt']));

    // Outputs as the crate recorded them.
    const crate = crateOf(entries);
    const upper = crate.outputs.find(o => o.key === 'upper')!;
    expect(sha256(entries.get(upper.path)!)).toBe(upper.sha256);
    expect(entries.get('up.txt')!.toString()).toBe('HELLO\nWORLD\n');
    for (const f of crate.outputs.find(o => o.key === 'report')!.files!) expect(sha256(entries.get(f.path)!)).toBe(f.sha256);

    // Inputs: inside the crate now, with the sha256 the run measured.
    const before = folderCrate();
    expect(entries.get('inputs/text_file/in.txt')!.toString()).toBe('hello\nworld\n');
    expect(sha256(entries.get('inputs/text_file/in.txt')!)).toBe(before.inputs.find(i => i.key === 'text_file')!.sha256);
    expect(entries.get('inputs/folder/dir/a.txt')!.toString()).toBe('a\n');
    expect(crate.inputs.map(i => [i.key, i.id, i.sha256])).toEqual(before.inputs.map(i => [i.key, i.key === 'text_file' ? 'inputs/text_file/in.txt' : 'inputs/folder/dir/', i.sha256]));
    const graph = JSON.parse(entries.get('ro-crate-metadata.json')!.toString())['@graph'] as Record<string, unknown>[];
    const root = graph.find(e => e['@id'] === './')!;
    expect(root.hasPart).toEqual(expect.arrayContaining([{ '@id': 'inputs/text_file/in.txt' }, { '@id': 'inputs/folder/dir/' }]));
    expect(JSON.stringify(graph)).not.toMatch(/"object":[^\]]*file:\/\//);

    // The citation stubs.
    const cff = parseYaml(entries.get('CITATION.cff')!.toString()) as Record<string, unknown>;
    expect(cff).toMatchObject({ 'cff-version': '1.2.0', type: 'dataset', title: 'Shouting', authors: [{ 'given-names': 'Ada', 'family-names': 'Lovelace', orcid: 'https://orcid.org/0000-0002-1825-0097' }] });
    const meta = JSON.parse(entries.get('codemeta.json')!.toString());
    expect(meta).toMatchObject({ '@context': 'https://w3id.org/codemeta/3.0', name: 'Shouting', runtimePlatform: expect.stringContaining('process') });

    // Nothing else.
    const expected = new Set([...folder.keys(), 'inputs/text_file/in.txt', 'inputs/folder/dir/a.txt', 'inputs/folder/dir/b.txt', 'CITATION.cff', 'codemeta.json']);
    expect([...entries.keys()].sort()).toEqual([...expected].sort());
  });

  it("the bundle's crate, inputs bundled, passes the real validator (Process Run Crate 0.5, RECOMMENDED); ro-crate-py reads the inputs as its files", async () => {
    const r = await exportRun(['out', '-o', 'valid.zip']);
    expect(r.code).toBe(0);
    const unpacked = path.join(dir, 'valid');
    for (const [name, bytes] of await zipEntriesOfFile(path.join(dir, 'valid.zip'))) {
      fs.mkdirSync(path.dirname(path.join(unpacked, name)), { recursive: true });
      if (!name.endsWith('/')) fs.writeFileSync(path.join(unpacked, name), bytes);
    }
    const verdict = await validateCrate(unpacked);
    expect(verdict.issues).toEqual([]);
    expect(verdict.passed).toBe(true);
    const view = await readCrateWithRoCratePy(unpacked);
    expect(view.entities).toEqual(expect.arrayContaining([{ id: 'inputs/text_file/in.txt', type: ['File'] }, { id: 'inputs/folder/dir/', type: ['Dataset'] }]));
  });

  it('does not follow a symbolic link planted in the outdir: left out and reported', async () => {
    const secret = path.join(dir, 'secret.txt');
    fs.writeFileSync(secret, 'TOP-SECRET-CANARY\n');
    fs.symlinkSync(secret, path.join(outdir, 'leak.txt'));
    fs.symlinkSync(path.join(dir, 'data'), path.join(outdir, 'report', 'linked-dir'));
    // A name no path on the host should be made of: left out too, the rest still bundled.
    fs.writeFileSync(path.join(outdir, 'back\\slash.txt'), 'x');
    try {
      const r = await exportRun(['out', '-o', 'links.zip']);
      expect(r.code).toBe(0);
      expect(r.stderr).toContain('"back\\\\slash.txt" has a name RED Lab does not read');
      expect(r.stderr).toContain(`leak.txt is a symbolic link (to ${secret}): left out, not followed`);
      expect(r.stderr).toContain('report/linked-dir is a symbolic link');
      const entries = await zipEntriesOfFile(path.join(dir, 'links.zip'));
      expect([...entries.keys()].filter(k => k.includes('leak') || k.includes('linked-dir') || k.includes('slash'))).toEqual([]);
      expect(entries.get('up.txt')!.toString()).toBe('HELLO\nWORLD\n');
      for (const [name, bytes] of entries) expect([name, bytes.includes('TOP-SECRET-CANARY')]).toEqual([name, false]);
    } finally {
      fs.unlinkSync(path.join(outdir, 'leak.txt'));
      fs.unlinkSync(path.join(outdir, 'report', 'linked-dir'));
      fs.unlinkSync(path.join(outdir, 'back\\slash.txt'));
    }
  });

  it('inputs over --max-input-mb are left out (the crate keeps their paths), and said so', async () => {
    const r = await exportRun(['out', '--zip', '-o', 'small.zip', '--max-input-mb', '0.00001']);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/2 local inputs not bundled: together .* over the limit of/);
    const entries = await zipEntriesOfFile(path.join(dir, 'small.zip'));
    expect([...entries.keys()].filter(k => k.startsWith('inputs/'))).toEqual([]);
    // The metadata is the folder's own.
    expect(entries.get('ro-crate-metadata.json')!.equals(fs.readFileSync(path.join(outdir, 'ro-crate-metadata.json')))).toBe(true);
  });

  it('a bad --orcid, a zip inside the crate folder, and a folder that is no crate are refused naming the fix', async () => {
    const orcid = await exportRun(['out', '--orcid', '1234']);
    expect(orcid.code).toBe(2);
    expect(orcid.stderr).toContain('--orcid: "1234" is not an ORCID iD');
    const inside = await exportRun(['out', '-o', 'out/x.zip']);
    expect(inside.code).toBe(2);
    expect(inside.stderr).toContain("would be written inside the run's folder");
    fs.mkdirSync(path.join(dir, 'unfinished'), { recursive: true });
    const none = await exportRun(['unfinished']);
    expect(none.code).toBe(1);
    expect(none.stderr).toContain('has no ro-crate-metadata.json: the run has not finished');
    const neither = await exportRun(['no-such-thing']);
    expect(neither.code).toBe(2);
    expect(neither.stderr).toContain("no-such-thing: no such folder, and not a bridge run id");
    expect(fs.readdirSync(dir).filter(f => f.endsWith('.partial'))).toEqual([]);
  });

  it('an input path that is a FIFO now (a crate edited to name one) is refused, never read', async () => {
    const forged = path.join(dir, 'forged');
    fs.cpSync(outdir, forged, { recursive: true });
    const fifo = path.join(dir, 'data', 'pipe');
    execFileSync('mkfifo', [fifo]);
    const meta = path.join(forged, 'ro-crate-metadata.json');
    fs.writeFileSync(meta, fs.readFileSync(meta, 'utf8').split(path.join(dir, 'data', 'in.txt')).join(fifo));
    const r = await exportRun(['forged', '-o', 'fifo.zip']);
    expect(r.stderr).toContain(`input text_file (${fifo}) is not a regular file now`);
    expect(r.code).toBe(1);
  });

  it('a big bundle shows its progress on stderr', async () => {
    // Not an output: a file in the folder all the same (the folder goes as it is).
    fs.writeFileSync(path.join(outdir, 'big.bin'), Buffer.alloc(65 * 1024 * 1024));
    try {
      const r = await exportRun(['out', '-o', 'big.zip']);
      expect(r.code).toBe(0);
      const lines = r.stderr.split('\n').filter(l => l.startsWith('zipping: '));
      expect(lines.length).toBeGreaterThanOrEqual(5);
      expect(lines[lines.length - 1]).toMatch(/^zipping: 100% \(/);
    } finally {
      fs.unlinkSync(path.join(outdir, 'big.bin'));
    }
  });

  it('an input changed since the run is refused, naming it; --max-input-mb 0 exports without inputs', async () => {
    fs.writeFileSync(path.join(dir, 'data', 'in.txt'), 'HELLO\nworld\n'); // same size: the sha256 tells
    const r = await exportRun(['out', '-o', 'changed.zip']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`input text_file (${path.join(dir, 'data', 'in.txt')}) changed since the run: its sha256 is`);
    expect(r.stderr).toContain('leave inputs out (--max-input-mb 0)');
    expect(fs.existsSync(path.join(dir, 'changed.zip'))).toBe(false);
    const without = await exportRun(['out', '-o', 'changed.zip', '--max-input-mb', '0']);
    expect(without.code).toBe(0);
    expect(without.stderr).toContain('2 local inputs not bundled (inputs left out as asked)');
    const entries = await zipEntriesOfFile(path.join(dir, 'changed.zip'));
    expect([...entries.keys()].filter(k => k.startsWith('inputs/'))).toEqual([]);
  });
});

describe('redlab export RUN_ID (a bridge run in its data folder)', () => {
  const ID = '01JDQ0000000000000000000AB';
  let dataDir: string;
  beforeAll(async () => {
    await freshRun();
    dataDir = path.join(dir, 'bridge-data');
    // The bridge keeps a run's outputs in <data dir>/runs/<id>/outputs (batch N: outputs_N).
    fs.mkdirSync(path.join(dataDir, 'runs', ID), { recursive: true });
    fs.cpSync(outdir, path.join(dataDir, 'runs', ID, 'outputs'), { recursive: true });
  });

  it('finds the run by id under --data-dir (or REDLAB_DATA_DIR) and names the zip after it', async () => {
    const r = await exportRun([ID, '--data-dir', 'bridge-data']);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(path.join(dir, `redlab-run-${ID}.zip`));
    const entries = await zipEntriesOfFile(path.join(dir, `redlab-run-${ID}.zip`));
    expect(entries.get('up.txt')!.toString()).toBe('HELLO\nWORLD\n');
    const viaEnv = await exportRun([ID, '-o', 'env.zip'], { REDLAB_DATA_DIR: dataDir });
    expect(viaEnv.code).toBe(0);
  });

  it('a run of several batches needs --batch; an unknown id is named', async () => {
    const other = '01JDQ0000000000000000000CD';
    for (const n of [0, 1]) fs.cpSync(outdir, path.join(dataDir, 'runs', other, `outputs_${n}`), { recursive: true });
    fs.writeFileSync(path.join(dataDir, 'runs', other, 'outputs_1', 'up.txt'), 'batch one\n');
    const noBatch = await exportRun([other, '--data-dir', dataDir]);
    expect(noBatch.code).toBe(2);
    expect(noBatch.stderr).toContain(`run ${other} has 2 batches, each its own crate: add --batch N (0 to 1)`);
    const one = await exportRun([other, '--data-dir', dataDir, '--batch', '1']);
    expect(one.code).toBe(0);
    expect(one.stdout.trim()).toBe(path.join(dir, `redlab-run-${other}-batch-1.zip`));
    expect((await zipEntriesOfFile(path.join(dir, `redlab-run-${other}-batch-1.zip`))).get('up.txt')!.toString()).toBe('batch one\n');
    const unknown = await exportRun(['01JDQ0000000000000000000EF', '--data-dir', dataDir]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain(`no run 01JDQ0000000000000000000EF in the bridge's data folder ${dataDir}`);
  });
});
