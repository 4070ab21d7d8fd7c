// Every kind of run leaves a valid Process Run Crate, proven with the REAL validator
// (roc-validator, process-run-crate-0.5, RECOMMENDED level, offline) and ro-crate-py:
// runs of the built `redlab` CLI on the real Docker engine (succeeded with File and folder
// outputs, failed, cancelled with Ctrl-C, a batch RED, a notebook) and one through the
// bridge's RunManager. Each crate must also pass RED Lab's own checks (runCrateProblems)
// and read back (parseRunCrate) as the run's --json result said. A secrets canary scans the
// record for every form of the secrets, and broken copies of a crate show what the
// validator catches and what only runCrateProblems does.
// Needs `npm run build -w server-bridge`, the local images (.ci/base-images.sh) and the
// validator with its offline cache (.ci/rocrate-validator.sh); .ci/setup does all three.
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { parse as parseYaml } from 'yaml';
import { inferDraft, executedNotebookName } from '../../../src/notebook/infer';
import { CRATE_FILES, CRATE_METADATA_FILE, RUN_RECORD_DIR, isFinalState, parseRunCrate, runCrateProblems, type RunCrateSummary } from '../../../src/red';
import { createDockerClient } from '../../src/engine/docker-client';
import { call, startRunManagerApp, type RunManagerApp } from '../bridge/helpers/api';
import { startTestServer, type TestServer } from '../helpers/http-server';
import { prepare } from '../helpers/notebook';
import { BUSYBOX, IPYKERNEL, removeTempDirs, tempDir } from '../helpers/red';
import { runRedlab, type CliResult } from '../helpers/redlab-cli';
import { readCrateWithRoCratePy, validateCrate, type CrateVerdict } from '../helpers/rocrate-validator';
import { encodedForms, leakedForms } from '../helpers/secret-forms';
import { filesBelow } from '../helpers/file-tree';

// Real containers, a notebook kernel, and the validator (3-20 s a crate, one process each).
jest.setTimeout(300_000);

const sha256 = (bytes: Buffer | string) => createHash('sha256').update(bytes).digest('hex');

/** A crate made by one of the runs below, waiting for the validator (the last tests validate them together). */
interface MadeCrate {
  dir: string;
  /** The run's output paths (relative to the crate root) that must be in the action's result. */
  expectedOutputs: string[];
}
const made = new Map<string, MadeCrate>();

let dir: string;
beforeAll(async () => {
  dir = await tempDir('redlab-run-crates-');
});
afterAll(() => removeTempDirs());

/** `redlab ...args` in the test's folder, with its own work root. */
const redlab = (args: string[], opts: Parameters<typeof runRedlab>[1] = {}) =>
  runRedlab(args, { cwd: dir, ...opts, env: { REDLAB_WORK_ROOT: path.join(dir, 'work'), ...opts.env } });

function readJson(file: string): unknown {
  return JSON.parse(fs.readFileSync(file, 'utf8'));
}
const metadataOf = (crateDir: string) => readJson(path.join(crateDir, CRATE_METADATA_FILE));
const crateOf = (crateDir: string): RunCrateSummary => parseRunCrate(metadataOf(crateDir));

/** The CreateAction entity as written (for the few fields parseRunCrate does not hand back: actionStatus). */
function actionOf(doc: unknown): Record<string, unknown> {
  const graph = (doc as { '@graph': Record<string, unknown>[] })['@graph'];
  const actions = graph.filter(e => [e['@type']].flat().includes('CreateAction'));
  expect(actions).toHaveLength(1);
  return actions[0];
}


/** The --json result of a CLI run, with its exit code checked. */
function resultOf(r: CliResult, code: number): any { // eslint-disable-line @typescript-eslint/no-explicit-any
  expect({ code: r.code, stderr: r.code === code ? '' : r.stderr }).toEqual({ code, stderr: '' });
  return JSON.parse(r.stdout);
}

/** A crate's outputs keyed by RED output key, with what is checked of them. */
const outputsByKey = (c: RunCrateSummary) => Object.fromEntries(c.outputs.map(o => [o.key, o]));

const shRed = (script: string, body: string) => `redVersion: "9"
cli:
  cwlVersion: v1.0
  class: CommandLineTool
  baseCommand: [sh, -c, ${JSON.stringify(script)}]
${body}
container:
  engine: docker
  settings: { image: { url: ${BUSYBOX} }, ram: 256 }
`;

/** The validator's verdict on each crate folder (name → folder), two at a time (a process each, 3-20 s). */
async function validateAll(dirs: Map<string, string>): Promise<Map<string, CrateVerdict>> {
  const out = new Map<string, CrateVerdict>();
  const queue = [...dirs];
  const worker = async () => {
    for (let next = queue.shift(); next; next = queue.shift()) out.set(next[0], await validateCrate(next[1], { level: 'recommended' }));
  };
  await Promise.all([worker(), worker()]);
  return out;
}

// ---- 1 (and 7): a run that succeeds ----

const SUCCEEDED_SCRIPT = [
  'tr a-z A-Z < "$0" > up.txt',
  'mkdir -p report/sub/deeper report/other',
  'echo "$1" > report/a.txt',
  'seq "$2" > report/sub/b.csv',
  'printf "%s-" $(seq "$2") > report/sub/deeper/c.bin',
  'echo other > report/other/d.md',
  // Names a URL would encode: the crate's @ids are percent-encoded, parseRunCrate gives the names back.
  'mkdir -p "report/sub dir"',
  'echo odd > "report/sub dir/ü #1 100%.txt"',
  'ls "$3" > report/listing.txt',
  'echo "warning: nothing wrong" >&2',
  'echo ran'
].join('; ');
const SUCCEEDED_RED = shRed(
  SUCCEEDED_SCRIPT,
  `  inputs:
    text_file: { type: File, inputBinding: { position: 0 } }
    word: { type: string, inputBinding: { position: 1 } }
    repeat: { type: int, inputBinding: { position: 2 } }
    folder: { type: Directory, inputBinding: { position: 3 } }
  outputs:
    upper: { type: File, outputBinding: { glob: up.txt } }
    report: { type: Directory, outputBinding: { glob: report } }
inputs:
  text_file: { class: File, connector: { command: redlab-connector-local, access: { path: data/in.txt } } }
  folder: { class: Directory, connector: { command: redlab-connector-local, access: { path: data/dir } } }
  word: shout
  repeat: 3
outputs: {}`
);

describe('a run that succeeds: a File output, a folder output of several files in subfolders, a local input, parameters', () => {
  let outdir: string;
  let result: any; // eslint-disable-line @typescript-eslint/no-explicit-any

  beforeAll(async () => {
    fs.mkdirSync(path.join(dir, 'data'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'data', 'in.txt'), 'hello\nworld\n');
    fs.mkdirSync(path.join(dir, 'data', 'dir', 'sub'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'data', 'dir', 'x.txt'), 'x\n');
    fs.writeFileSync(path.join(dir, 'data', 'dir', 'sub', 'y.txt'), 'y\n');
    fs.writeFileSync(path.join(dir, 'succeeded.red.yml'), SUCCEEDED_RED);
    outdir = path.join(dir, 'succeeded');
    result = resultOf(await redlab(['run', 'succeeded.red.yml', '--outdir', outdir, '--json', '--non-interactive']), 0);
    made.set('succeeded', { dir: outdir, expectedOutputs: ['up.txt', 'report'] });
  });

  it('reads back as the --json result said: state, exit code, outputs and inputs with their sha256', () => {
    expect(result.state).toBe('succeeded');
    const crate = crateOf(outdir);
    expect(runCrateProblems(metadataOf(outdir), ['up.txt', 'report'])).toEqual([]);
    expect([crate.state, crate.exitCode, crate.error]).toEqual(['succeeded', 0, undefined]);
    expect(actionOf(metadataOf(outdir)).actionStatus).toBe('http://schema.org/CompletedActionStatus');
    expect(crate.command).toEqual(result.command);

    const outputs = outputsByKey(crate);
    expect(Object.keys(outputs).sort()).toEqual(['report', 'upper']);
    expect(outputs.upper).toMatchObject({ path: 'up.txt', class: 'File', sha256: result.outputs.upper.sha256, size: result.outputs.upper.size, encodingFormat: 'text/plain' });
    expect(fs.readFileSync(path.join(outdir, 'up.txt'), 'utf8')).toBe('HELLO\nWORLD\n');
    expect([outputs.upper.sha256, outputs.upper.size]).toEqual([sha256('HELLO\nWORLD\n'), 12]);

    // The folder: every file listed, each with the sha256 of its bytes on disk.
    expect(outputs.report).toMatchObject({ path: 'report', class: 'Directory', sha256: result.outputs.report.sha256 });
    const onDisk = filesBelow(path.join(outdir, 'report'));
    expect([...onDisk.keys()].sort()).toEqual(['a.txt', 'listing.txt', 'other/d.md', 'sub dir/ü #1 100%.txt', 'sub/b.csv', 'sub/deeper/c.bin']);
    const listed = [...outputs.report.files!].sort((a, b) => a.path.localeCompare(b.path));
    expect(listed).toEqual([...onDisk].sort(([a], [b]) => a.localeCompare(b)).map(([rel, bytes]) => ({ path: `report/${rel}`, sha256: sha256(bytes), size: bytes.length })));
    // …and as the run hashed them when it collected the folder.
    expect(listed.map(f => [f.path, f.sha256])).toEqual(
      [...result.outputs.report.files].sort((a: { path: string }, b: { path: string }) => a.path.localeCompare(b.path)).map((f: { path: string; sha256: string }) => [`report/${f.path}`, f.sha256])
    );

    // The local inputs, by their host paths and the sha256 the run measured (a file's: of its bytes); the parameters as text.
    expect([...crate.inputs].sort((a, b) => a.key.localeCompare(b.key))).toEqual([
      expect.objectContaining({ key: 'folder', class: 'Directory', path: path.join(dir, 'data', 'dir'), sha256: result.inputs.folder.sha256 }),
      expect.objectContaining({ key: 'text_file', class: 'File', path: path.join(dir, 'data', 'in.txt'), sha256: sha256('hello\nworld\n'), size: 12 })
    ]);
    expect(crate.inputs.find(i => i.key === 'text_file')!.sha256).toBe(result.inputs.text_file.sha256);
    expect(result.inputs.folder.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect([...crate.parameters].sort((a, b) => a.name.localeCompare(b.name))).toEqual([
      { name: 'repeat', value: '3' },
      { name: 'word', value: 'shout' }
    ]);

    // RED Lab's own files, there and named.
    expect(crate.logs).toEqual({ stdout: CRATE_FILES.stdout, stderr: CRATE_FILES.stderr });
    expect(fs.readFileSync(path.join(outdir, CRATE_FILES.stdout), 'utf8')).toBe('ran\n');
    expect(fs.readFileSync(path.join(outdir, CRATE_FILES.stderr), 'utf8')).toBe('warning: nothing wrong\n');
    expect(crate.redSource).toBe(path.join(dir, 'succeeded.red.yml'));
    expect(fs.readFileSync(path.join(outdir, CRATE_FILES.cli), 'utf8')).toContain('class: CommandLineTool');
    expect(parseYaml(fs.readFileSync(path.join(outdir, CRATE_FILES.red), 'utf8'))).toMatchObject({ inputs: { word: 'shout', repeat: 3 } });
    expect(crate.image).toMatchObject({ url: BUSYBOX, id: result.image.id });
    expect(crate.engine.name).toBe('docker');
  });

  it('ro-crate-py reads it back: the root, the CreateAction, every output file', async () => {
    const view = await readCrateWithRoCratePy(outdir);
    const types = new Map(view.entities.map(e => [e.id, e.type]));
    expect(types.get('./')).toEqual(['Dataset']);
    expect(types.get('#run')).toEqual(['CreateAction']);
    expect(view.root).toMatchObject({ conformsTo: { '@id': 'https://w3id.org/ro/wfrun/process/0.5' }, mentions: { '@id': '#run' } });
    const crate = crateOf(outdir);
    const files = crate.outputs.flatMap(o => (o.class === 'File' ? [o.path] : o.files!.map(f => f.path)));
    expect(files).toHaveLength(7);
    // ro-crate-py keeps the @ids as written: percent-encoded.
    const asId = (p: string) => p.split('/').map(encodeURIComponent).join('/');
    for (const f of files) expect([f, types.get(asId(f))]).toEqual([f, ['File']]);
    expect(types.get('report/')).toEqual(['Dataset']);
    for (const f of Object.values(CRATE_FILES).filter(f => fs.existsSync(path.join(outdir, f)))) expect([f, types.get(f)]).toEqual([f, ['File']]);
  });
});

// ---- 2: a run whose command fails ----

describe('a run whose command fails (exit 3)', () => {
  it('is FailedActionStatus with an error, exit code 3 read back, its partial output listed', async () => {
    fs.writeFileSync(path.join(dir, 'failed.red.yml'), shRed('echo partial > out.txt; echo going down >&2; exit 3', `  inputs: {}
  outputs:
    out: { type: File, outputBinding: { glob: out.txt } }
inputs: {}
outputs: {}`));
    const outdir = path.join(dir, 'failed');
    const result = resultOf(await redlab(['run', 'failed.red.yml', '--outdir', outdir, '--json', '--non-interactive']), 1);
    expect([result.state, result.exitCode]).toEqual(['failed', 3]);
    const doc = metadataOf(outdir);
    const crate = crateOf(outdir);
    expect([crate.state, crate.exitCode]).toEqual(['failed', 3]);
    expect(crate.error).toEqual(expect.any(String));
    expect(crate.error).toBe(result.error);
    const action = actionOf(doc);
    expect(action.actionStatus).toBe('http://schema.org/FailedActionStatus');
    expect(action.error).toBe(crate.error);
    // What it wrote before it failed is collected (partial) and listed with its sha256.
    expect(result.outputs.out).toMatchObject({ partial: true, sha256: sha256('partial\n') });
    const expectedOutputs = ['out.txt'];
    expect(runCrateProblems(doc, expectedOutputs)).toEqual([]);
    expect(outputsByKey(crate).out).toMatchObject({ path: 'out.txt', sha256: result.outputs.out.sha256 });
    expect(fs.readFileSync(path.join(outdir, CRATE_FILES.stderr), 'utf8')).toBe('going down\n');
    made.set('failed', { dir: outdir, expectedOutputs });
  });
});

// ---- 3: a run cancelled with Ctrl-C ----

describe('a run cancelled with Ctrl-C while its container runs', () => {
  it('exits 130 and leaves a crate whose state is cancelled', async () => {
    fs.writeFileSync(path.join(dir, 'cancel.red.yml'), shRed('echo started; sleep 60; echo never', `  inputs: {}
  outputs:
    log: { type: stdout }
  stdout: log.txt
inputs: {}
outputs: {}`));
    const outdir = path.join(dir, 'cancelled');
    let sent = false;
    const r = await redlab(['run', 'cancel.red.yml', '--outdir', outdir, '--json', '--non-interactive'], {
      onStderr: (text, child) => {
        // The container's own output says it runs (with --json, it shows on stderr).
        if (!sent && /^started$/m.test(text)) {
          sent = true;
          child.kill('SIGINT');
        }
      }
    });
    expect(sent).toBe(true);
    const result = resultOf(r, 130);
    expect(result.state).toBe('cancelled');
    const doc = metadataOf(outdir);
    const crate = crateOf(outdir);
    expect(crate.state).toBe('cancelled');
    expect(crate.error).toEqual(expect.any(String));
    // schema.org has no "cancelled": the profile's two statuses leave FailedActionStatus.
    expect(actionOf(doc).actionStatus).toBe('http://schema.org/FailedActionStatus');
    expect(result.outputs.log).toMatchObject({ partial: true, sha256: sha256('started\n') });
    const expectedOutputs = ['log.txt'];
    expect(runCrateProblems(doc, expectedOutputs)).toEqual([]);
    expect(outputsByKey(crate).log).toMatchObject({ path: 'log.txt', sha256: result.outputs.log.sha256 });
    expect(fs.readFileSync(path.join(outdir, CRATE_FILES.stdout), 'utf8')).toBe('started\n');
    made.set('cancelled', { dir: outdir, expectedOutputs });
  });
});

// ---- 4: a batch RED ----

describe('a batch RED of 2 batches, the second failing', () => {
  it('leaves one crate per outdir_N, each with its batch index and count and its own state', async () => {
    fs.writeFileSync(path.join(dir, 'batches.red.yml'), `redVersion: "9"
cli:
  cwlVersion: v1.0
  class: CommandLineTool
  baseCommand: [sh, -c, 'echo "$0"; exit "$1"']
  inputs:
    word: { type: string, inputBinding: { position: 0 } }
    code: { type: int, inputBinding: { position: 1 } }
  outputs:
    said: { type: stdout }
  stdout: said.txt
batches:
  - inputs: { word: first, code: 0 }
    outputs: {}
  - inputs: { word: second, code: 4 }
    outputs: {}
container:
  engine: docker
  settings: { image: { url: ${BUSYBOX} }, ram: 256 }
`);
    const outdir = path.join(dir, 'batch');
    const result = resultOf(await redlab(['run', 'batches.red.yml', '--outdir', outdir, '--json', '--non-interactive']), 1);
    expect(result.batches.map((b: { state: string; exitCode: number }) => [b.state, b.exitCode])).toEqual([['succeeded', 0], ['failed', 4]]);
    expect(fs.existsSync(path.join(outdir, CRATE_METADATA_FILE))).toBe(false);
    for (const [n, word, state, code] of [[0, 'first', 'succeeded', 0], [1, 'second', 'failed', 4]] as const) {
      const crateDir = `${outdir}_${n}`;
      const doc = metadataOf(crateDir);
      const crate = crateOf(crateDir);
      expect(runCrateProblems(doc, ['said.txt'])).toEqual([]);
      expect([crate.state, crate.exitCode, crate.batch]).toEqual([state, code, { index: n, count: 2 }]);
      expect(actionOf(doc).actionStatus).toBe(`http://schema.org/${state === 'failed' ? 'Failed' : 'Completed'}ActionStatus`);
      expect(fs.readFileSync(path.join(crateDir, 'said.txt'), 'utf8')).toBe(`${word}\n`);
      expect(outputsByKey(crate).said).toMatchObject({ path: 'said.txt', sha256: result.batches[n].outputs.said.sha256 });
      expect(crate.outputs[0].sha256).toBe(sha256(`${word}\n`));
      expect([...crate.parameters].sort((a, b) => a.name.localeCompare(b.name))).toEqual([{ name: 'code', value: String(code) }, { name: 'word', value: word }]);
      // The record's RED is that batch alone.
      const red = parseYaml(fs.readFileSync(path.join(crateDir, CRATE_FILES.red), 'utf8'));
      expect([red.batches, red.inputs]).toEqual([undefined, { word, code }]);
      made.set(`batch ${n}`, { dir: crateDir, expectedOutputs: ['said.txt'] });
    }
  });
});

// ---- 5: a notebook ----

describe('a notebook run (IPython kernel image)', () => {
  it('names the notebook as run and the executed notebook', async () => {
    const cell = (source: string, tags?: string[]) => ({ cell_type: 'code', execution_count: null, metadata: tags ? { tags } : {}, outputs: [], source });
    const notebook = {
      nbformat: 4,
      nbformat_minor: 4,
      metadata: { kernelspec: { name: 'python3', language: 'python', display_name: 'Python 3' } },
      cells: [cell('n = 2', ['parameters']), cell('with open("answer.txt", "w") as f:\n    f.write(str(n * 21))\nprint("answer", n * 21)')]
    };
    const nbDir = path.join(dir, 'nb');
    fs.mkdirSync(nbDir);
    const { draft } = inferDraft(notebook, { notebookPath: 'answer.ipynb', defaults: { image: IPYKERNEL, ramMb: 512 } });
    const red = prepare(nbDir, draft, notebook);
    const outdir = path.join(nbDir, 'out');
    const result = resultOf(await redlab(['run', red, '--outdir', outdir, '--json', '--non-interactive'], { cwd: nbDir }), 0);
    expect(fs.readFileSync(path.join(outdir, 'answer.txt'), 'utf8')).toBe('42');
    const executed = executedNotebookName(draft.notebookPath);
    const expectedOutputs = Object.values(result.outputs as Record<string, { path: string } | null>)
      .filter((o): o is { path: string } => !!o)
      .map(o => path.relative(outdir, o.path));
    expect(expectedOutputs).toEqual(expect.arrayContaining([executed, 'answer.txt']));
    const doc = metadataOf(outdir);
    expect(runCrateProblems(doc, expectedOutputs)).toEqual([]);
    const crate = crateOf(outdir);
    expect(crate.state).toBe('succeeded');
    // The notebook as run: the input (its sha256 that of the notebook file), or the crate's copy of it.
    const nbInput = crate.inputs.find(i => /\.ipynb$/.test(i.path ?? ''))!;
    expect(nbInput).toBeDefined();
    expect(nbInput.sha256).toBe(sha256(fs.readFileSync(nbInput.path!)));
    expect(crate.notebook?.executed).toBe(executed);
    expect(crate.notebook?.source).toMatch(/\.ipynb$/);
    if (crate.notebook!.source === CRATE_FILES.notebook) expect(sha256(fs.readFileSync(path.join(outdir, CRATE_FILES.notebook)))).toBe(nbInput.sha256);
    else expect(crate.notebook!.source).toBe(nbInput.path);
    const executedOut = crate.outputs.find(o => o.path === executed)!;
    expect(executedOut.sha256).toBe(sha256(fs.readFileSync(path.join(outdir, executed))));
    made.set('notebook', { dir: outdir, expectedOutputs });
  });
});

// ---- 6: a run through the bridge ----

describe('a run through the bridge (RunManager on real Docker)', () => {
  let app: RunManagerApp;
  beforeAll(async () => {
    app = await startRunManagerApp('redlab-run-crates-bridge-', createDockerClient({}));
  });
  afterAll(() => app?.close());

  it('leaves its crate in the run’s outputs folder', async () => {
    const input = path.join(app.dir, 'in.txt');
    fs.writeFileSync(input, 'bridge\ninput\n');
    const red = shRed('tr a-z A-Z < "$0" > out.txt; mkdir -p report/sub; echo one > report/sub/a.txt; echo said', `  inputs:
    text_file: { type: File, inputBinding: { position: 0 } }
  outputs:
    out: { type: File, outputBinding: { glob: out.txt } }
    report: { type: Directory, outputBinding: { glob: report } }
inputs:
  text_file: { class: File, connector: { command: redlab-connector-local, access: { path: ${JSON.stringify(input)} } } }
outputs: {}`);
    const sub = await call(app.url, 'POST', '/api/v1/runs', { body: JSON.stringify({ red, options: { engine: 'docker' } }), headers: { 'content-type': 'application/json' } });
    expect(sub.status).toBe(201);
    const id = sub.json.id as string;
    // The crate is written before the final state is published.
    for (let i = 0; i < 1200 && !isFinalState(app.store.getSummary(id)!.state); i++) await new Promise(r => setTimeout(r, 100));
    expect(app.store.getSummary(id)!.state).toBe('succeeded');
    const outdir = path.join(app.store.runDir(id), 'outputs');
    const doc = metadataOf(outdir);
    expect(runCrateProblems(doc, ['out.txt', 'report'])).toEqual([]);
    const crate = crateOf(outdir);
    expect([crate.state, crate.exitCode, crate.engine.name]).toEqual(['succeeded', 0, 'docker']);
    expect(outputsByKey(crate).out).toMatchObject({ path: 'out.txt', sha256: sha256('BRIDGE\nINPUT\n') });
    expect(outputsByKey(crate).report.files).toEqual([{ path: 'report/sub/a.txt', sha256: sha256('one\n'), size: 4 }]);
    expect(crate.inputs).toEqual([expect.objectContaining({ key: 'text_file', path: input, sha256: sha256('bridge\ninput\n') })]);
    expect(fs.readFileSync(path.join(outdir, CRATE_FILES.stdout), 'utf8')).toBe('said\n');
    // The folder goes with the app: a copy for the validator.
    const copy = path.join(dir, 'bridge-crate');
    fs.cpSync(outdir, copy, { recursive: true });
    made.set('bridge', { dir: copy, expectedOutputs: ['out.txt', 'report'] });
  });
});

// ---- 8: the secrets canary ----

describe('secrets never reach the record', () => {
  // Forms a URL parser, JSON or basic auth would make differ from the secret itself.
  const PW = 'Canary pw/ä+&"7"=';
  const LITERAL = 'Lit-er@l pw+ö/9';
  const FORMS = [encodedForms(PW, 'alice'), encodedForms(LITERAL, 'bob')];
  let withVariable: TestServer;
  let withLiteral: TestServer;
  beforeAll(async () => {
    // Each payload holds every form of its secret, one a line: the container prints them all.
    withVariable = await startTestServer({ files: { '/payload.txt': FORMS[0].join('\n') + '\n' }, auth: { username: 'alice', password: PW, method: 'basic' } });
    withLiteral = await startTestServer({ files: { '/other.txt': FORMS[1].join('\n') + '\n' }, auth: { username: 'bob', password: LITERAL, method: 'basic' } });
  });
  afterAll(async () => {
    await withVariable?.close();
    await withLiteral?.close();
  });

  it('neither a {{variable}} secret nor a literal protected one, in any form, is in ro-crate-metadata.json or run-record/', async () => {
    const access = (url: string, username: string, password: string) => JSON.stringify({ url, auth: { username, password, method: 'basic' } });
    fs.writeFileSync(path.join(dir, 'canary.red.yml'), shRed('cat "$0" "$1"; cat "$0" "$1" >&2; cat "$0" "$1" > leak.txt', `  inputs:
    payload: { type: File, inputBinding: { position: 0 } }
    other: { type: File, inputBinding: { position: 1 } }
  outputs:
    leak: { type: File, outputBinding: { glob: leak.txt } }
inputs:
  payload: { class: File, connector: { command: red-connector-http, access: ${access(`${withVariable.url}/payload.txt`, 'alice', '{{password}}')} } }
  other: { class: File, connector: { command: red-connector-http, access: ${access(`${withLiteral.url}/other.txt`, 'bob', LITERAL)} } }
outputs: {}`));
    fs.writeFileSync(path.join(dir, 'canary-vars.yml'), `password: ${JSON.stringify(PW)}\n`);
    const outdir = path.join(dir, 'canary');
    const r = await redlab(['run', 'canary.red.yml', '--variables', 'canary-vars.yml', '--non-interactive', '--outdir', outdir, '--json', '--allow-connector-host', '127.0.0.1']);
    expect(leakedForms(r.stdout, FORMS)).toEqual([]);
    expect(leakedForms(r.stderr, FORMS)).toEqual([]);
    const result = resultOf(r, 0);
    // The canary went through: the output file holds what the container wrote, every form.
    expect(leakedForms(fs.readFileSync(path.join(outdir, 'leak.txt')), FORMS).sort()).toEqual(FORMS.flat().sort());

    const record = [CRATE_METADATA_FILE, ...[...filesBelow(path.join(outdir, RUN_RECORD_DIR)).keys()].map(f => `${RUN_RECORD_DIR}/${f}`)];
    expect(record).toEqual(expect.arrayContaining([CRATE_METADATA_FILE, CRATE_FILES.red, CRATE_FILES.cli, CRATE_FILES.stdout, CRATE_FILES.stderr]));
    for (const f of record) expect([f, leakedForms(fs.readFileSync(path.join(outdir, f)), FORMS)]).toEqual([f, []]);
    // The logs were recorded, masked (not left empty).
    for (const f of [CRATE_FILES.stdout, CRATE_FILES.stderr]) {
      const lines = fs.readFileSync(path.join(outdir, f), 'utf8').split('\n');
      expect([f, lines.filter(l => l === '********').length]).toEqual([f, FORMS.flat().length]);
    }

    // red.yml: the variable stays a variable, the literal password becomes one.
    const red = parseYaml(fs.readFileSync(path.join(outdir, CRATE_FILES.red), 'utf8'));
    expect(red.inputs.payload.connector.access.auth.password).toBe('{{password}}');
    const literalNow = red.inputs.other.connector.access.auth.password as string;
    expect(literalNow).toMatch(/^\{\{\w+\}\}$/);
    expect(literalNow).not.toBe('{{password}}');
    expect(red.inputs.other.connector.access.auth.username).toBe('bob');

    const doc = metadataOf(outdir);
    expect(runCrateProblems(doc, ['leak.txt'])).toEqual([]);
    const crate = crateOf(outdir);
    expect(outputsByKey(crate).leak.sha256).toBe(result.outputs.leak.sha256);
    // The remote inputs by their URL (no user info), with the sha256 of what came.
    expect(crate.inputs.map(i => [i.key, i.url, i.connector, i.sha256])).toEqual([
      ['payload', `${withVariable.url}/payload.txt`, 'red-connector-http', sha256(FORMS[0].join('\n') + '\n')],
      ['other', `${withLiteral.url}/other.txt`, 'red-connector-http', sha256(FORMS[1].join('\n') + '\n')]
    ]);
    made.set('secrets canary', { dir: outdir, expectedOutputs: ['leak.txt'] });
  });
});

// ---- runs whose crates once failed the validator (fixed; kept as regression tests) ----

describe('runs without output files or with inputs of no known media type', () => {
  const verdicts = new Map<string, CrateVerdict>();
  const outdirs = new Map<string, string>();
  const results = new Map<string, any>(); // eslint-disable-line @typescript-eslint/no-explicit-any

  beforeAll(async () => {
    const runs: [name: string, red: string, code: number][] = [
      ['no output, succeeded', shRed('echo hello', '  inputs: {}\n  outputs: {}\ninputs: {}\noutputs: {}'), 0],
      ['no output, failed', shRed('echo going down >&2; exit 3', '  inputs: {}\n  outputs: {}\ninputs: {}\noutputs: {}'), 1],
      [
        'input of no known media type',
        shRed('cat "$0" > copy.txt', `  inputs:
    raw: { type: File, inputBinding: { position: 0 } }
  outputs:
    copy: { type: File, outputBinding: { glob: copy.txt } }
inputs:
  raw: { class: File, connector: { command: redlab-connector-local, access: { path: data/reads.fastq } } }
outputs: {}`),
        0
      ]
    ];
    fs.mkdirSync(path.join(dir, 'data'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'data', 'reads.fastq'), '@r1\nACGT\n+\nIIII\n');
    for (const [name, red, code] of runs) {
      const file = `${name.replace(/\W+/g, '-')}.red.yml`;
      fs.writeFileSync(path.join(dir, file), red);
      const outdir = path.join(dir, file.replace(/\.red\.yml$/, ''));
      results.set(name, resultOf(await redlab(['run', file, '--outdir', outdir, '--json', '--non-interactive']), code));
      outdirs.set(name, outdir);
    }
    for (const [k, v] of await validateAll(outdirs)) verdicts.set(k, v);
  });

  // A run that made no output file (`outputs: {}` such as `echo hello`, a command failing before it
  // writes) still needs a `result` (process-run-crate-0.5_11.1, no exception for FailedActionStatus):
  // its exit code is one. parseRunCrate still gives no outputs for such a run.
  it('a run that made no output file: a valid crate, succeeded and failed alike', () => {
    for (const name of ['no output, succeeded', 'no output, failed']) {
      const crate = crateOf(outdirs.get(name)!);
      expect([name, crate.state, crate.exitCode, crate.outputs]).toEqual([name, results.get(name).state, results.get(name).exitCode, []]);
      expect([name, runCrateProblems(metadataOf(outdirs.get(name)!), [])]).toEqual([name, []]);
    }
    expect({ succeeded: verdicts.get('no output, succeeded')!.issues, failed: verdicts.get('no output, failed')!.issues }).toEqual({ succeeded: [], failed: [] });
  });

  // An input File whose name says no media type (reads.fastq, an HTTP URL such as .../data) needs one
  // all the same (ro-crate-1.1_27.1): application/octet-stream, as for outputs.
  it('an input whose name says no media type: a valid crate', () => {
    const name = 'input of no known media type';
    const crate = crateOf(outdirs.get(name)!);
    expect(crate.inputs).toEqual([expect.objectContaining({ key: 'raw', path: path.join(dir, 'data', 'reads.fastq'), sha256: sha256('@r1\nACGT\n+\nIIII\n') })]);
    expect(runCrateProblems(metadataOf(outdirs.get(name)!), ['copy.txt'])).toEqual([]);
    expect(verdicts.get(name)!.issues).toEqual([]);
  });
});

// ---- the real validator on every crate above ----

describe('the real validator (process-run-crate-0.5, RECOMMENDED)', () => {
  it('passes every crate the runs left (and RED Lab’s own checks find nothing)', async () => {
    const kinds = ['succeeded', 'failed', 'cancelled', 'batch 0', 'batch 1', 'notebook', 'bridge', 'secrets canary'];
    // A run test that failed before its crate was made fails here as well, by name.
    expect([...made.keys()].sort()).toEqual([...kinds].sort());
    const verdicts = await validateAll(new Map([...made].map(([k, c]) => [k, c.dir])));
    const summary = (k: string) => ({ passed: verdicts.get(k)!.passed, issues: verdicts.get(k)!.issues, ownChecks: runCrateProblems(metadataOf(made.get(k)!.dir), made.get(k)!.expectedOutputs) });
    expect(Object.fromEntries(kinds.map(k => [k, summary(k)]))).toEqual(Object.fromEntries(kinds.map(k => [k, { passed: true, issues: [], ownChecks: [] }])));
  });

});

// ---- 9: what the validator catches on broken copies of crate 1, and what only runCrateProblems does ----

describe('broken copies of a crate: the real validator and runCrateProblems', () => {
  const verdicts = new Map<string, CrateVerdict>();
  const docs = new Map<string, unknown>();
  let expected: string[];
  /** The edits, each on its own copy of the succeeded run's crate folder. */
  const EDITS: Record<string, (action: Record<string, unknown>) => void> = {
    'no instrument': a => delete a.instrument,
    // up.txt leaves result; report/ and the exit code stay.
    'output dropped': a => {
      expect(a.result).toEqual([{ '@id': 'up.txt' }, { '@id': 'report/' }, { '@id': '#exit-code' }]);
      a.result = [{ '@id': 'report/' }, { '@id': '#exit-code' }];
    },
    // Month 13, day 45: the validator's pattern is digits only.
    'impossible date': a => {
      a.endTime = '2026-13-45T10:00:05.000+00:00';
    },
    // As Date.toISOString() writes it: the profile wants +HH:MM.
    'endTime with Z': a => {
      a.endTime = (a.endTime as string).replace(/\+00:00$/, 'Z');
    },
    'no result': a => delete a.result
  };

  beforeAll(async () => {
    const source = made.get('succeeded');
    if (!source) throw new Error('the succeeded run left no crate to break (see its test)');
    expected = source.expectedOutputs;
    const original = metadataOf(source.dir);
    const copies = new Map<string, string>();
    for (const [name, edit] of Object.entries(EDITS)) {
      const copy = path.join(dir, `broken-${name.replace(/ /g, '-')}`);
      fs.cpSync(source.dir, copy, { recursive: true });
      const doc = structuredClone(original);
      edit(actionOf(doc));
      fs.writeFileSync(path.join(copy, CRATE_METADATA_FILE), JSON.stringify(doc, null, 2));
      copies.set(name, copy);
      docs.set(name, doc);
    }
    for (const [k, v] of await validateAll(copies)) verdicts.set(k, v);
  });
  const checks = (name: string) => verdicts.get(name)!.issues.map(i => i.check);

  it('no instrument: the validator fails it (REQUIRED), and so does runCrateProblems', () => {
    expect(verdicts.get('no instrument')!.passed).toBe(false);
    expect(checks('no instrument')).toContain('process-run-crate-0.5_1.1');
    expect(runCrateProblems(docs.get('no instrument'), expected)).toEqual(['CreateAction #run has no instrument']);
  });

  it('an output dropped from result while another stays: the validator does NOT notice; runCrateProblems does (why it exists)', () => {
    expect(verdicts.get('output dropped')).toMatchObject({ passed: true, issues: [] });
    expect(runCrateProblems(docs.get('output dropped'), expected)).toEqual(['CreateAction #run: output up.txt is missing from result']);
  });

  it('an endTime with Z instead of +00:00: both catch it', () => {
    expect(verdicts.get('endTime with Z')!.passed).toBe(false);
    expect(checks('endTime with Z')).toEqual(['process-run-crate-0.5_8.4']);
    const endTime = actionOf(docs.get('endTime with Z')).endTime as string;
    expect(endTime).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
    expect(runCrateProblems(docs.get('endTime with Z'), expected)).toEqual([`CreateAction #run: endTime ${endTime} is not YYYY-MM-DDTHH:MM:SS.mmm+HH:MM`]);
  });

  it('an impossible endTime (2026-13-45): the validator does NOT notice (its pattern is digits only); runCrateProblems does', () => {
    expect(verdicts.get('impossible date')).toMatchObject({ passed: true, issues: [] });
    expect(runCrateProblems(docs.get('impossible date'), expected)).toEqual(['CreateAction #run: endTime 2026-13-45T10:00:05.000+00:00 is not YYYY-MM-DDTHH:MM:SS.mmm+HH:MM']);
  });

  // An action without `result` fails the validator (11.1, RECOMMENDED); RED Lab's own check says so too,
  // also when no output was expected.
  it('no result at all: the validator fails it (11.1); runCrateProblems should say so even when no output was expected', () => {
    expect(verdicts.get('no result')!.passed).toBe(false);
    expect(checks('no result')).toEqual(['process-run-crate-0.5_11.1']);
    expect(runCrateProblems(docs.get('no result'), expected)).toEqual(expect.arrayContaining(['CreateAction #run: output up.txt is missing from result']));
    expect(runCrateProblems(docs.get('no result'), [])).toEqual([expect.stringMatching(/result/)]);
  });
});
