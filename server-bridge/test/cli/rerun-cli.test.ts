// `redlab rerun` as a user runs it: the built binary, the real Docker engine, a run made
// by `redlab run` (its Process Run Crate), then re-run and compared. Needs
// `npm run build -w server-bridge` and the local base images (.ci/setup).
import { execFileSync } from 'child_process';
import { randomUUID } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ZipFile } from 'yazl';
import type { DriftReport } from '../../../src/red/drift';
import { startTestServer } from '../helpers/http-server';
import { BUSYBOX } from '../helpers/red';
import { runRedlab, type CliResult } from '../helpers/redlab-cli';

// Two real containers per test (the run and its re-run), seconds each on a loaded machine.
jest.setTimeout(120_000);

let tmp: string;
beforeAll(() => {
  tmp = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'redlab-rerun-cli-')));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** A fresh folder for one test with data.csv and a RED running `script` (sh -c) on it, writing the outputs it names. */
function experiment(name: string, script: string, opts: { image?: string; outputs?: string[]; data?: string; tablePath?: string; tableUrl?: string } = {}): { dir: string; red: string; data: string } {
  const dir = path.join(tmp, name);
  fs.mkdirSync(dir);
  const data = path.join(dir, 'data.csv');
  fs.writeFileSync(data, opts.data ?? 'x,y\n1,0.5\n2,0.25\n');
  const outputs = opts.outputs ?? ['result.csv'];
  const red = path.join(dir, 'exp.red.yml');
  fs.writeFileSync(
    red,
    [
      "redVersion: '9'",
      'cli:',
      '  cwlVersion: v1.0',
      '  class: CommandLineTool',
      '  baseCommand: [sh, -c]',
      '  inputs:',
      '    script: {type: string, inputBinding: {position: 0}}',
      '    table: {type: File, inputBinding: {position: 1}}',
      '  outputs:',
      ...outputs.map(o => `    ${o.replace(/\W/g, '_')}: {type: File, outputBinding: {glob: ${o}}}`),
      'inputs:',
      `  script: ${JSON.stringify(script)}`,
      // Relative: it resolves against the RED's folder, in the run and in the re-run.
      opts.tableUrl
        ? `  table: {class: File, connector: {command: red-connector-http, access: {url: ${JSON.stringify(opts.tableUrl)}}}}`
        : `  table: {class: File, connector: {command: redlab-connector-local, access: {path: ${JSON.stringify(opts.tablePath ?? 'data.csv')}}}}`,
      'outputs: {}',
      'container:',
      '  engine: docker',
      '  settings:',
      `    image: {url: ${JSON.stringify(opts.image ?? BUSYBOX)}}`,
      '    ram: 256',
      ''
    ].join('\n')
  );
  return { dir, red, data };
}

async function run(red: string, outdir: string): Promise<void> {
  const r = await runRedlab(['run', red, '--outdir', outdir, '--non-interactive']);
  if (r.code !== 0) throw new Error(`redlab run failed (${r.code}): ${r.stderr}`);
  expect(fs.existsSync(path.join(outdir, 'ro-crate-metadata.json'))).toBe(true);
}

function report(r: CliResult): DriftReport {
  try {
    return JSON.parse(r.stdout) as DriftReport;
  } catch {
    throw new Error(`rerun --json printed no report (exit ${r.code}):\n${r.stdout}\n${r.stderr}`);
  }
}

const kinds = (rep: DriftReport) => Object.fromEntries(rep.outputs.map(o => [o.path, o.kind]));

/** `folder` zipped as `zip` (the crate's files at the zip's root). */
async function zipFolder(folder: string, zip: string): Promise<void> {
  const z = new ZipFile();
  const add = (dir: string, rel: string) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) add(path.join(dir, e.name), r);
      else z.addFile(path.join(dir, e.name), r);
    }
  };
  add(folder, '');
  z.end();
  await new Promise<void>((resolve, reject) => z.outputStream.pipe(fs.createWriteStream(zip)).on('close', resolve).on('error', reject));
}

describe('redlab rerun', () => {
  it('re-runs an unchanged run as identical (exit 0), with its own record beside the run', async () => {
    const { dir, red } = experiment('unchanged', 'cp "$0" result.csv && echo copied');
    const outdir = path.join(dir, 'out');
    await run(red, outdir);

    const text = await runRedlab(['rerun', outdir]);
    expect(text.stderr).toMatch(/redlab: the image is pinned to the image ID the run used, sha256:[0-9a-f]{64} \(still on this machine\)\n/);
    expect(text.stdout).toContain('  table: identical\n');
    expect(text.stdout).toContain('  identical         result.csv\n');
    expect(text.stdout).toMatch(/\nIDENTICAL within tolerance: 1 output file \(1 identical\); exit status 0\n$/);
    expect(text.code).toBe(0);
    // The re-run's outputs and record: a new folder beside the run's (default name).
    const reruns = fs.readdirSync(dir).filter(n => /^out-rerun-\d{8}-\d{6}$/.test(n));
    expect(reruns).toHaveLength(1);
    expect(fs.readFileSync(path.join(dir, reruns[0], 'result.csv'), 'utf8')).toBe('x,y\n1,0.5\n2,0.25\n');
    expect(fs.existsSync(path.join(dir, reruns[0], 'ro-crate-metadata.json'))).toBe(true);

    const json = await runRedlab(['rerun', outdir, '--json', '--outdir', path.join(dir, 'again')]);
    expect(json.code).toBe(0);
    const rep = report(json);
    expect(rep).toMatchObject({
      identical: true,
      inputs: [{ key: 'table', kind: 'identical' }],
      image: { same: true },
      engine: { same: true },
      exitCode: { before: 0, after: 0 },
      logs: [
        { stream: 'stdout', same: true },
        { stream: 'stderr', same: true }
      ],
      options: { atol: 0, rtol: 0, ignore: [] }
    });
    expect(kinds(rep)).toEqual({ 'result.csv': 'identical' });
    // --json: the container's output went to stderr, stdout is the report alone.
    expect(json.stderr).toContain('copied\n');
  });

  it('reports a changed input before running, and the output it changed (exit 1)', async () => {
    const { dir, red, data } = experiment('input', 'cp "$0" result.csv');
    const outdir = path.join(dir, 'out');
    await run(red, outdir);
    fs.writeFileSync(data, 'x,y\n1,0.5\n2,0.75\n');

    const r = await runRedlab(['rerun', outdir, '--json', '--outdir', path.join(dir, 'rerun')]);
    expect(r.code).toBe(1);
    const said = r.stderr.indexOf(`redlab: input drift: table changed since the run: ${data}: 17 bytes when it ran, 17 now\n`);
    expect(said).toBeGreaterThanOrEqual(0);
    // Said before the run began (its first phase).
    expect(said).toBeLessThan(r.stderr.indexOf('redlab: pull '));
    const rep = report(r);
    expect(rep.identical).toBe(false);
    expect(rep.inputs).toEqual([{ key: 'table', kind: 'changed', sha256: { before: expect.any(String), after: expect.any(String) }, detail: `${data}: 17 bytes when it ran, 17 now` }]);
    const [out] = rep.outputs;
    expect(out).toMatchObject({ path: 'result.csv', kind: 'changed', values: { compared: 4, differing: 1, examples: [{ where: 'row 3, column "y"', before: '0.25', after: '0.75' }] } });
  });

  it('reports a missing input, and a re-run that fails because of it, as drift', async () => {
    const { dir, red, data } = experiment('missing-input', 'cp "$0" result.csv');
    const outdir = path.join(dir, 'out');
    await run(red, outdir);
    fs.rmSync(data);

    const r = await runRedlab(['rerun', outdir, '--outdir', path.join(dir, 'rerun')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`redlab: input drift: table is missing: ${data} is gone\n`);
    expect(r.stdout).toContain('  table: MISSING: ');
    expect(r.stdout).toContain('  MISSING           result.csv: the re-run did not write it\n');
    expect(r.stdout).toMatch(/\nDRIFT: 1 input changed or missing, .*1 output file missing.*; exit status 1\n$/);
  });

  it('compares a remote input by what the re-run received', async () => {
    const files: Record<string, string> = { '/table.csv': 'x,y\n1,0.5\n' };
    const server = await startTestServer({ files });
    try {
      const { dir, red } = experiment('remote', 'cp "$0" result.csv', { tableUrl: `${server.url}/table.csv` });
      const outdir = path.join(dir, 'out');
      const net = ['--allow-connector-host', '127.0.0.1', '--no-input-cache', '--non-interactive'];
      const r = await runRedlab(['run', red, '--outdir', outdir, ...net]);
      expect(r.code).toBe(0);

      const same = await runRedlab(['rerun', outdir, '--json', '--outdir', path.join(dir, 'same'), ...net]);
      expect(same.code).toBe(0);
      expect(report(same).inputs).toEqual([{ key: 'table', kind: 'identical', sha256: { before: expect.any(String), after: expect.any(String) } }]);

      files['/table.csv'] = 'x,y\n1,0.6\n';
      const other = await runRedlab(['rerun', outdir, '--json', '--outdir', path.join(dir, 'other'), ...net]);
      expect(other.code).toBe(1);
      const rep = report(other);
      expect(rep.inputs).toEqual([expect.objectContaining({ key: 'table', kind: 'changed', detail: `${server.url}/table.csv sends other data now` })]);
      expect(rep.outputs).toEqual([expect.objectContaining({ path: 'result.csv', kind: 'changed', values: expect.objectContaining({ differing: 1 }) })]);
    } finally {
      await server.close();
    }
  });

  it('fills the recorded RED\'s {{variables}} as run does (--variables, REDLAB_VAR_*), and names a missing one', async () => {
    const { dir, red } = experiment('variables', 'cp "$0" result.csv', { tablePath: '{{table_path}}' });
    fs.writeFileSync(path.join(dir, 'other.csv'), 'x,y\n1,0.5\n2,0.3\n');
    const outdir = path.join(dir, 'out');
    const r = await runRedlab(['run', red, '--outdir', outdir, '--non-interactive'], { env: { REDLAB_VAR_table_path: 'data.csv' } });
    expect(r.code).toBe(0);
    // The crate keeps the variable, not its value.
    expect(fs.readFileSync(path.join(outdir, 'run-record/red.yml'), 'utf8')).toContain('{{table_path}}');

    const missing = await runRedlab(['rerun', outdir, '--non-interactive', '--outdir', path.join(dir, 'missing')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('missing values for 1 variable: table_path');

    const vars = path.join(dir, 'vars.yml');
    fs.writeFileSync(vars, 'table_path: data.csv\n');
    const same = await runRedlab(['rerun', outdir, '--non-interactive', '--variables', vars, '--outdir', path.join(dir, 'same')]);
    expect(same.stdout).toMatch(/\nIDENTICAL within tolerance: 1 output file \(1 identical\); exit status 0\n$/);
    expect(same.code).toBe(0);

    // Another value: another file (a path that is a {{variable}} is not recorded; what was read is, by its sha256).
    const other = await runRedlab(['rerun', outdir, '--non-interactive', '--json', '--outdir', path.join(dir, 'other')], { env: { REDLAB_VAR_table_path: 'other.csv' } });
    expect(other.code).toBe(1);
    const rep = report(other);
    expect(rep.inputs).toEqual([expect.objectContaining({ key: 'table', kind: 'changed', detail: 'the re-run received other data than the run' })]);
    expect(kinds(rep)).toEqual({ 'result.csv': 'changed' });
  });

  describe('a tag that names another image since the run', () => {
    const id = randomUUID().slice(0, 8);
    const tag = `redlab-test/rerun-tag:${id}`;
    const images = { a: `redlab-test/rerun-a:${id}`, b: `redlab-test/rerun-b:${id}` };
    const docker = (...args: string[]) => execFileSync('docker', args, { stdio: 'pipe' }).toString().trim();
    const imageId = (ref: string) => docker('image', 'inspect', '--format', '{{.Id}}', ref);

    beforeAll(() => {
      for (const [name, ref] of Object.entries(images)) {
        const ctx = path.join(tmp, `image-${name}`);
        fs.mkdirSync(ctx);
        fs.writeFileSync(path.join(ctx, 'marker'), `image ${name}\n`);
        fs.writeFileSync(path.join(ctx, 'Dockerfile'), `FROM ${BUSYBOX}\nCOPY marker /marker\n`);
        docker('build', '-q', '-t', ref, ctx);
      }
      docker('tag', images.a, tag);
    });
    afterAll(() => {
      for (const ref of [tag, images.a, images.b]) {
        try {
          docker('rmi', '-f', ref);
        } catch {
          /* removed by the test */
        }
      }
    });

    it('keeps the recorded image while it is here (identical), and says the tag moved; once it is gone, runs the tag as image drift', async () => {
      const { dir, red } = experiment('retag', 'cat /marker > marker.txt', { image: tag, outputs: ['marker.txt'] });
      const outdir = path.join(dir, 'out');
      await run(red, outdir);
      const idA = imageId(images.a);
      const idB = imageId(images.b);
      expect(fs.readFileSync(path.join(outdir, 'marker.txt'), 'utf8')).toBe('image a\n');
      docker('tag', images.b, tag);

      // The pin (the recorded image ID) keeps image a: same image, same output, exit 0.
      const pinned = await runRedlab(['rerun', outdir, '--json', '--outdir', path.join(dir, 'pinned')]);
      expect(pinned.stderr).toContain(`redlab: the image is pinned to the image ID the run used, ${idA} (still on this machine); the tag ${tag} names another image now (${idB}), not used\n`);
      expect(pinned.code).toBe(0);
      const same = report(pinned);
      expect(same.image).toEqual({ before: `${idA} (${tag})`, after: idA, same: true });
      expect(kinds(same)).toEqual({ 'marker.txt': 'identical' });
      expect(fs.readFileSync(path.join(dir, 'pinned', 'marker.txt'), 'utf8')).toBe('image a\n');

      // Image a gone (no registry digest: built here): the tag, now image b, runs; said as image drift.
      docker('rmi', '-f', idA);
      const moved = await runRedlab(['rerun', outdir, '--json', '--outdir', path.join(dir, 'moved')]);
      expect(moved.stderr).toContain(`redlab: the image the run used (${idA}) is not on this machine any more and has no registry digest to pull it by: running the tag ${tag} instead, which may be another image\n`);
      expect(moved.code).toBe(1);
      const drift = report(moved);
      expect(drift.image).toEqual({
        before: `${idA} (${tag})`,
        after: `${idB} (${tag})`,
        same: false,
        detail: `the image the run used (${idA}) is not on this machine any more and has no registry digest to pull it by; the re-run used the tag ${tag}`
      });
      expect(drift.outputs).toEqual([expect.objectContaining({ path: 'marker.txt', kind: 'changed', detail: 'other bytes (8 bytes before, 8 after)' })]);
    });
  });

  it('finds a non-deterministic output (a timestamp) changed, and --ignore silences it', async () => {
    // busybox's date has no %N (it prints "%N"): the host's uptime (1/100 s) makes the time finer.
    const { dir, red } = experiment('stamp', 'cp "$0" result.csv && { date +%s%N; cat /proc/uptime; } > stamp.txt', { outputs: ['result.csv', 'stamp.txt'] });
    const outdir = path.join(dir, 'out');
    await run(red, outdir);

    const changed = await runRedlab(['rerun', outdir, '--outdir', path.join(dir, 'changed')]);
    expect(changed.stdout).toContain('  CHANGED           stamp.txt: other bytes (');
    expect(changed.stdout).toMatch(/\nDRIFT: 1 output file changed; exit status 1\n$/);
    expect(changed.code).toBe(1);

    const ignored = await runRedlab(['rerun', outdir, '--json', '--ignore', 'stamp.txt', '--outdir', path.join(dir, 'ignored')]);
    expect(ignored.code).toBe(0);
    const rep = report(ignored);
    expect(rep).toMatchObject({ identical: true, options: { ignore: ['stamp.txt'] } });
    expect(kinds(rep)).toEqual({ 'result.csv': 'identical', 'stamp.txt': 'ignored' });
  });

  it('takes float noise in a CSV within --atol as within tolerance (exit 0), and beyond it as changed', async () => {
    // 0.5 plus about 1e-11 times the host's uptime digits: another value each run.
    const script = 'n=$(cut -d" " -f1 /proc/uptime | tr -d .); printf "x,y\\n1,0.50000000000%s\\n2,0.25\\n" "$n" > noisy.csv';
    const { dir, red } = experiment('noise', script, { outputs: ['noisy.csv'] });
    const outdir = path.join(dir, 'out');
    await run(red, outdir);
    expect(fs.readFileSync(path.join(outdir, 'noisy.csv'), 'utf8')).toMatch(/^x,y\n1,0\.50000000000\d+\n2,0\.25\n$/);

    const within = await runRedlab(['rerun', outdir, '--json', '--atol', '1e-6', '--outdir', path.join(dir, 'within')]);
    expect(within.code).toBe(0);
    const rep = report(within);
    expect(rep.identical).toBe(true);
    expect(rep.outputs).toEqual([expect.objectContaining({ path: 'noisy.csv', kind: 'within-tolerance', values: expect.objectContaining({ compared: 4, differing: 0 }) })]);
    expect(rep.outputs[0].values!.maxAbs).toBeGreaterThan(0);
    expect(rep.outputs[0].values!.maxAbs).toBeLessThan(1e-6);

    const beyond = await runRedlab(['rerun', outdir, '--outdir', path.join(dir, 'beyond')]);
    expect(beyond.code).toBe(1);
    expect(beyond.stdout).toMatch(/  CHANGED           noisy\.csv: 1 of 4 cells differ beyond the tolerance; largest difference /);
    expect(beyond.stdout).toMatch(/ {22}row 2, column "y": 0\.50000000000\d+ → 0\.50000000000\d+\n/);
  });

  it('re-runs from a crate zip, unpacked privately, with the outputs beside the zip', async () => {
    const { dir, red } = experiment('zip', 'cp "$0" result.csv');
    const outdir = path.join(dir, 'out');
    await run(red, outdir);
    const zip = path.join(dir, 'run.zip');
    await zipFolder(outdir, zip);

    const r = await runRedlab(['rerun', zip]);
    expect(r.stdout).toMatch(/\nIDENTICAL within tolerance: 1 output file \(1 identical\); exit status 0\n$/);
    expect(r.code).toBe(0);
    expect(fs.readdirSync(dir).filter(n => /^run-rerun-\d{8}-\d{6}$/.test(n))).toHaveLength(1);
    // Nothing of the unpacked zip is left behind.
    expect(fs.readdirSync(os.tmpdir()).filter(n => n.startsWith('redlab-rerun-') && !n.startsWith('redlab-rerun-cli-'))).toEqual([]);
  });

  it('re-runs a bridge run by its id, from the bridge\'s data folder, its outputs in the working folder', async () => {
    const { dir, red } = experiment('by-id', 'cp "$0" result.csv');
    // A bridge keeps a run's outputs, with its crate, in <dataDir>/runs/<id>/outputs.
    const id = '01JDRXFT0000000000000000AB';
    const dataDir = path.join(dir, 'bridge-data');
    await run(red, path.join(dataDir, 'runs', id, 'outputs'));

    const r = await runRedlab(['rerun', id, '--data-dir', dataDir], { cwd: dir });
    expect(r.stdout).toMatch(/\nIDENTICAL within tolerance: 1 output file \(1 identical\); exit status 0\n$/);
    expect(r.code).toBe(0);
    expect(fs.readdirSync(dir).filter(n => new RegExp(`^redlab-run-${id}-rerun-\\d{8}-\\d{6}$`).test(n))).toHaveLength(1);
    expect(fs.readdirSync(path.join(dataDir, 'runs', id))).toEqual(['outputs']);

    const unknown = await runRedlab(['rerun', '01JDRXFT0000000000000000ZZ', '--data-dir', dataDir], { cwd: dir });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain(`no run 01JDRXFT0000000000000000ZZ in the bridge's data folder ${dataDir}`);
  });

  it('stops on Ctrl-C with exit status 130 and no report', async () => {
    // Slow only when its input says so: the run is quick, its re-run (input changed) waits.
    const { dir, red, data } = experiment('cancel', 'cp "$0" result.csv; if grep -q slow "$0"; then echo waiting; sleep 60; fi');
    const outdir = path.join(dir, 'out');
    await run(red, outdir);
    fs.writeFileSync(data, 'x,y\nslow,1\n');
    let sent = false;
    const r = await runRedlab(['rerun', outdir, '--json', '--outdir', path.join(dir, 'rerun')], {
      onStderr: (text, child) => {
        if (!sent && /^waiting$/m.test(text)) {
          sent = true;
          child.kill('SIGINT');
        }
      }
    });
    expect(sent).toBe(true);
    expect(r.code).toBe(130);
    expect(r.stdout).toBe('');
  });

  it('refuses what is not a run (usage, exit 2), naming it and what to give', async () => {
    const none = await runRedlab(['rerun', path.join(tmp, 'no-such-run')]);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain("no-such-run: no such folder or file: give a run's output folder");

    // The --outdir of a batch RED: each batch has its own folder and crate.
    fs.mkdirSync(path.join(tmp, 'batch-run_0'));
    const batch = await runRedlab(['rerun', path.join(tmp, 'batch-run')]);
    expect(batch.code).toBe(2);
    expect(batch.stderr).toContain(`a batch RED's runs are in ${path.join(tmp, 'batch-run')}_0, _1, …: give one batch's folder`);

    const empty = path.join(tmp, 'not-a-run');
    fs.mkdirSync(empty);
    const noCrate = await runRedlab(['rerun', empty]);
    expect(noCrate.code).toBe(2);
    expect(noCrate.stderr).toContain(`${empty} has no ro-crate-metadata.json: give a run's output folder as redlab run left it`);

    const badTolerance = await runRedlab(['rerun', empty, '--atol', '-1']);
    expect(badTolerance.code).toBe(2);
    expect(badTolerance.stderr).toContain('--atol must be a number of at least 0 (e.g. 1e-6), got -1');

    // --batch and --data-dir name a bridge run's batch; a folder is already one batch's.
    const batchOfFolder = await runRedlab(['rerun', empty, '--batch', '1']);
    expect(batchOfFolder.code).toBe(2);
    expect(batchOfFolder.stderr).toContain('--batch and --data-dir are for a bridge run id; a batch of `redlab run` has its own folder (<outdir>_N): give that folder');
    const negativeBatch = await runRedlab(['rerun', empty, '--batch', '-1']);
    expect(negativeBatch.code).toBe(2);
    expect(negativeBatch.stderr).toContain('expected a whole number of at least 0');
  });
});
