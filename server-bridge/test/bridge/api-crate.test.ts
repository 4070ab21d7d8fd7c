// GET /api/v1/runs/{id}/crate: a finished run's shareable bundle, streamed as a zip, on the
// real RunManager (which writes each run's crate as it ends) with the process engine (no
// container: quick) and one run on real Docker; the zips are read back with yauzl, their
// bytes checked against the crate's sha256. The frontend's BridgeApi.crateZip against the
// same bridge.
import * as fs from 'fs';
import * as path from 'path';
import { parse as parseYaml } from 'yaml';
import { BridgeApi } from '../../../src/api';
import { BridgeClient, BridgeError } from '../../../src/handler';
import { isFinalState, parseRunCrate, type RunCrateSummary } from '../../../src/red';
import { createDockerClient } from '../../src/engine/docker-client';
import { ProcessEngine } from '../../src/engine/process';
import { sha256, zipEntriesOfBuffer, type ZipEntries } from '../helpers/zip-entries';
import { BUSYBOX } from '../helpers/red';
import { TOKEN, call, startRunManagerApp, type Res, type RunManagerApp } from './helpers/api';
import { localInput, shRed as shRedOf } from '../helpers/sh-red';

jest.setTimeout(120_000);

let app: RunManagerApp;
let inputFile: string;
beforeAll(async () => {
  app = await startRunManagerApp('redlab-api-crate-', createDockerClient({}), { moreEngines: dir => [new ProcessEngine({ workRoot: path.join(dir, 'data', 'work-process') })] });
  fs.mkdirSync(path.join(app.dir, 'data-in'));
  inputFile = path.join(app.dir, 'data-in', 'in.txt');
  fs.writeFileSync(inputFile, 'hello\nworld\n');
});
afterAll(() => app.close());

/** `sh -c SCRIPT` with the File input `text_file` (this test's input file) as $0; outputs out.txt and report/. */
const shRed = (script: string, jobs?: string) => shRedOf(script, inputFile, jobs);
const SCRIPT = 'tr a-z A-Z < "$0" > out.txt; mkdir -p report; echo one > report/a.txt; echo said';

async function runToEnd(red: string, engine = 'process'): Promise<string> {
  const sub = await call(app.url, 'POST', '/api/v1/runs', { body: JSON.stringify({ red, options: { engine } }), headers: { 'content-type': 'application/json' } });
  expect(sub.status).toBe(201);
  const id = sub.json.id as string;
  // Waits for the run's end (the crate is written before its final state is published).
  for (let i = 0; i < 1200 && !isFinalState(app.store.getSummary(id)!.state); i++) await new Promise(r => setTimeout(r, 100));
  expect(app.store.getSummary(id)!.state).toBe('succeeded');
  return id;
}

const getCrate = (id: string, query = '', headers: Record<string, string> = {}) => call(app.url, 'GET', `/api/v1/runs/${id}/crate${query}`, { headers });
const crateOf = (entries: ZipEntries): RunCrateSummary => parseRunCrate(JSON.parse(entries.get('ro-crate-metadata.json')!.toString('utf8')));
const outputsDir = (id: string, batch?: number) => path.join(app.store.runDir(id), batch === undefined ? 'outputs' : `outputs_${batch}`);

async function zipOf(r: Res): Promise<ZipEntries> {
  expect([r.status, r.status === 200 ? '' : r.text]).toEqual([200, '']);
  return zipEntriesOfBuffer(r.bytes);
}

describe('GET /runs/{id}/crate', () => {
  let id: string;
  beforeAll(async () => {
    id = await runToEnd(shRed(SCRIPT));
  });

  it('streams the crate folder, the local input (as the crate hashed it) and the citation stubs as a zip attachment', async () => {
    const r = await getCrate(id, '?author=Ada%20Lovelace&orcid=0000-0002-1825-0097&title=Shouting');
    expect(r.headers.get('content-type')).toBe('application/zip');
    expect(r.headers.get('content-disposition')).toMatch(new RegExp(`^attachment; filename="redlab-run-${id}\\.zip"`));
    const entries = await zipOf(r);
    const crate = crateOf(entries);
    expect(crate.state).toBe('succeeded');
    expect(entries.get('out.txt')!.toString()).toBe('HELLO\nWORLD\n');
    for (const o of crate.outputs) {
      for (const f of o.files ?? [{ path: o.path, sha256: o.sha256 }]) expect([f.path, sha256(entries.get(f.path)!)]).toEqual([f.path, f.sha256]);
    }
    for (const f of ['run-record/red.yml', 'run-record/cli.cwl', 'run-record/stdout.txt']) expect(entries.has(f)).toBe(true);
    expect(entries.get('run-record/stdout.txt')!.toString()).toBe('said\n');
    // The input travels with it, named inside the crate, with the sha256 the run measured.
    const input = crate.inputs.find(i => i.key === 'text_file')!;
    expect(input.id).toBe('inputs/text_file/in.txt');
    expect(sha256(entries.get('inputs/text_file/in.txt')!)).toBe(input.sha256);
    const cff = parseYaml(entries.get('CITATION.cff')!.toString()) as Record<string, unknown>;
    expect(cff).toMatchObject({ title: 'Shouting', authors: [{ 'given-names': 'Ada', 'family-names': 'Lovelace', orcid: 'https://orcid.org/0000-0002-1825-0097' }] });
    expect(JSON.parse(entries.get('codemeta.json')!.toString())).toMatchObject({ '@context': 'https://w3id.org/codemeta/3.0', name: 'Shouting' });
    // The same as the folder holds, byte for byte (the metadata aside: it names the bundled input).
    const folder = fs.readdirSync(outputsDir(id), { recursive: true, withFileTypes: true }).filter(e => e.isFile());
    for (const e of folder) {
      const rel = path.relative(outputsDir(id), path.join(e.parentPath, e.name));
      if (rel !== 'ro-crate-metadata.json') expect([rel, entries.get(rel)?.equals(fs.readFileSync(path.join(e.parentPath, e.name)))]).toEqual([rel, true]);
    }
  });

  it('?maxInputMb=0 leaves the inputs out: the metadata is the folder’s own', async () => {
    const entries = await zipOf(await getCrate(id, '?maxInputMb=0'));
    expect([...entries.keys()].filter(k => k.startsWith('inputs/'))).toEqual([]);
    expect(entries.get('ro-crate-metadata.json')!.equals(fs.readFileSync(path.join(outputsDir(id), 'ro-crate-metadata.json')))).toBe(true);
  });

  it('does not follow a link planted in the outputs folder', async () => {
    const secret = path.join(app.dir, 'secret.txt');
    fs.writeFileSync(secret, 'TOP-SECRET-CANARY\n');
    fs.symlinkSync(secret, path.join(outputsDir(id), 'leak.txt'));
    fs.symlinkSync('/etc', path.join(outputsDir(id), 'report', 'etc'));
    try {
      const entries = await zipOf(await getCrate(id));
      expect([...entries.keys()].filter(k => k.includes('leak') || k.startsWith('report/etc'))).toEqual([]);
      for (const [name, bytes] of entries) expect([name, bytes.includes('TOP-SECRET-CANARY')]).toEqual([name, false]);
    } finally {
      fs.unlinkSync(path.join(outputsDir(id), 'leak.txt'));
      fs.unlinkSync(path.join(outputsDir(id), 'report', 'etc'));
    }
  });

  it('a crate that names another host file as the input (forged in the outputs folder) bundles no input', async () => {
    const other = await runToEnd(shRed(SCRIPT));
    const secret = path.join(app.dir, 'forged-secret.txt');
    fs.writeFileSync(secret, 'FORGED-CANARY\n');
    const meta = path.join(outputsDir(other), 'ro-crate-metadata.json');
    const text = fs.readFileSync(meta, 'utf8');
    const realSha = crateOf(new Map([['ro-crate-metadata.json', Buffer.from(text)]])).inputs[0].sha256!;
    // The crate now says the input was the secret file, with the secret's own sha256.
    fs.writeFileSync(meta, text.split(`file://${inputFile}`).join(`file://${secret}`).split(realSha).join(sha256(fs.readFileSync(secret))));
    const r = await getCrate(other);
    const entries = await zipOf(r);
    expect([...entries.keys()].filter(k => k.startsWith('inputs/'))).toEqual([]);
    for (const [name, bytes] of entries) expect([name, bytes.includes('FORGED-CANARY')]).toEqual([name, false]);
  });

  it('an input changed since the run: 409 naming it and how to leave inputs out', async () => {
    const changedInput = path.join(app.dir, 'data-in', 'changing.txt');
    fs.writeFileSync(changedInput, 'before\n');
    const other = await runToEnd(shRed(SCRIPT, `inputs:\n  text_file: ${localInput(changedInput)}\noutputs: {}\n`));
    fs.writeFileSync(changedInput, 'after!\n');
    const r = await getCrate(other);
    expect(r.status).toBe(409);
    expect(r.json.error).toContain(`run ${other}: input text_file (${changedInput}) changed since the run`);
    expect(r.json.error).toContain('leave inputs out (?maxInputMb=0)');
    expect((await getCrate(other, '?maxInputMb=0')).status).toBe(200);
  });

  it('404 for a run that has not ended (no crate yet) and for an unknown run; 400 for bad parameters', async () => {
    const queued = app.store.createRun({ red: { redVersion: '9' } as never }).id;
    const notYet = await getCrate(queued);
    expect(notYet.status).toBe(404);
    expect(notYet.json.error).toBe(`run ${queued} has no crate yet: it is queued, and its crate is written when it ends; ask again then`);
    const unknown = await getCrate('01JDQ0000000000000000000EF');
    expect(unknown.status).toBe(404);
    expect(unknown.json.error).toMatch(/^no run 01JDQ0000000000000000000EF/);
    const typo = await getCrate(id, '?maxInputMB=1');
    expect(typo.status).toBe(400);
    expect(typo.json.error).toContain('unknown query parameter "maxInputMB"');
    const orcid = await getCrate(id, '?orcid=1234');
    expect(orcid.status).toBe(400);
    expect(orcid.json.error).toContain('query parameter orcid: "1234" is not an ORCID iD');
    // A finished run whose crate is gone.
    const gone = await runToEnd(shRed(SCRIPT));
    fs.unlinkSync(path.join(outputsDir(gone), 'ro-crate-metadata.json'));
    const none = await getCrate(gone);
    expect(none.status).toBe(404);
    expect(none.json.error).toMatch(new RegExp(`^run ${gone} \\(succeeded\\) has no crate`));
  });

  it('the token and Origin gates apply', async () => {
    expect((await call(app.url, 'GET', `/api/v1/runs/${id}/crate`, { noAuth: true })).status).toBe(401);
    expect((await getCrate(id, '', { origin: 'http://evil.example' })).status).toBe(403);
  });

  it('a run of several batches: each batch its own crate (?batch=N), named so; without it, 400', async () => {
    // Two batches of the same command.
    const batch = `  - inputs:\n      text_file: ${localInput(inputFile)}\n    outputs: {}\n`;
    const red = shRed(SCRIPT, `batches:\n${batch}${batch}`);
    const batched = await runToEnd(red);
    const noBatch = await getCrate(batched);
    expect(noBatch.status).toBe(400);
    expect(noBatch.json.error).toBe(`run ${batched} has 2 batches, each with its own crate: add ?batch=N (0 to 1)`);
    const r = await getCrate(batched, '?batch=1');
    expect(r.headers.get('content-disposition')).toMatch(new RegExp(`^attachment; filename="redlab-run-${batched}-batch-1\\.zip"`));
    const crate = crateOf(await zipOf(r));
    expect(crate.batch).toEqual({ index: 1, count: 2 });
    expect((await getCrate(batched, '?batch=2')).status).toBe(404);
  });

  it("the frontend's BridgeApi.crateZip downloads it as a Blob named by the bridge, and says why when there is none", async () => {
    const api = new BridgeApi(new BridgeClient({ url: app.url, token: TOKEN }));
    const { blob, fileName } = await api.crateZip(id, { maxInputMb: 0, title: 'From the panel' });
    expect(fileName).toBe(`redlab-run-${id}.zip`);
    const entries = await zipEntriesOfBuffer(Buffer.from(await blob.arrayBuffer()));
    expect((parseYaml(entries.get('CITATION.cff')!.toString()) as { title: string }).title).toBe('From the panel');
    expect(api.crateUrl(id, { batch: 1, author: 'A B' })).toBe(`${app.url}/api/v1/runs/${id}/crate?batch=1&author=A+B`);
    const queued = app.store.createRun({ red: { redVersion: '9' } as never }).id;
    const err = await api.crateZip(queued).catch(e => e);
    expect(err).toBeInstanceOf(BridgeError);
    expect([err.status, err.message]).toEqual([404, `run ${queued} has no crate yet: it is queued, and its crate is written when it ends; ask again then`]);
  });
});

describe('GET /runs/{id}/crate of a run on real Docker', () => {
  it('bundles what the container wrote and names the image by its local image ID', async () => {
    const id = await runToEnd(shRed(SCRIPT), 'docker');
    const entries = await zipOf(await getCrate(id));
    const crate = crateOf(entries);
    expect(crate.engine.name).toBe('docker');
    expect(entries.get('out.txt')!.toString()).toBe('HELLO\nWORLD\n');
    expect(sha256(entries.get('inputs/text_file/in.txt')!)).toBe(crate.inputs[0].sha256);
    const meta = JSON.parse(entries.get('codemeta.json')!.toString());
    // A locally built image: pinned by its image ID, not pullable.
    expect(meta.softwareRequirements[0]).toMatchObject({ name: BUSYBOX, identifier: expect.stringMatching(/^sha256:[0-9a-f]{64}$/) });
    expect(meta.runtimePlatform).toMatch(/^Docker \d/);
  });
});
