// GET /api/v1/runs/{id}/drift?against=: a finished re-run compared with the run it
// reproduces, on the real RunManager (which writes each run's crate as it ends) with the
// process engine (no container: quick). Runs of the same RED are identical; a timestamp
// output drifts and ?ignore silences it; CSV noise within ?atol; a changed input file;
// refusals for unknown, unfinished and crate-less runs. The frontend's BridgeApi.runDrift
// against the same bridge.
import * as fs from 'fs';
import * as path from 'path';
import { BridgeApi } from '../../../src/api';
import { BridgeClient, BridgeError } from '../../../src/handler';
import { isFinalState } from '../../../src/red';
import type { DriftReport } from '../../../src/red/drift';
import { createDockerClient } from '../../src/engine/docker-client';
import { ProcessEngine } from '../../src/engine/process';
import { TOKEN, call, startRunManagerApp, type RunManagerApp } from './helpers/api';
import { localInput, shRed as shRedOf } from '../helpers/sh-red';

jest.setTimeout(120_000);

let app: RunManagerApp;
let inputFile: string;
beforeAll(async () => {
  app = await startRunManagerApp('redlab-api-drift-', createDockerClient({}), {
    moreEngines: dir => [new ProcessEngine({ workRoot: path.join(dir, 'data', 'work-process') })],
    defaultEngine: 'process'
  });
  fs.mkdirSync(path.join(app.dir, 'data-in'));
  inputFile = path.join(app.dir, 'data-in', 'in.txt');
  fs.writeFileSync(inputFile, 'hello\nworld\n');
});
afterAll(() => app.close());

/** `sh -c SCRIPT` with the File input `text_file` (this test's input file) as $0; outputs out.txt and report/. */
const shRed = (script: string, jobs?: string) => shRedOf(script, inputFile, jobs);
const SCRIPT = 'tr a-z A-Z < "$0" > out.txt; mkdir -p report; echo one > report/a.txt; printf "x,y\\n1,2.5\\n" > report/table.csv; echo said';

async function submit(red: string): Promise<string> {
  const sub = await call(app.url, 'POST', '/api/v1/runs', { body: JSON.stringify({ red, options: { engine: 'process' } }), headers: { 'content-type': 'application/json' } });
  expect(sub.status).toBe(201);
  return sub.json.id as string;
}

async function runToEnd(red: string): Promise<string> {
  const id = await submit(red);
  // Waits for the run's end (the crate is written before its final state is published).
  for (let i = 0; i < 1200 && !isFinalState(app.store.getSummary(id)!.state); i++) await new Promise(r => setTimeout(r, 100));
  expect(app.store.getSummary(id)!.state).toBe('succeeded');
  return id;
}

const getDrift = (id: string, query: string, headers: Record<string, string> = {}) => call(app.url, 'GET', `/api/v1/runs/${id}/drift${query}`, { headers });
async function driftOf(id: string, query: string): Promise<DriftReport> {
  const r = await getDrift(id, query);
  expect([r.status, r.status === 200 ? '' : r.text]).toEqual([200, '']);
  return r.json as DriftReport;
}
const outputsDir = (id: string) => path.join(app.store.runDir(id), 'outputs');
const kinds = (report: DriftReport) => Object.fromEntries(report.outputs.map(o => [o.path, o.kind]));

describe('GET /runs/{id}/drift', () => {
  let original: string;
  let rerun: string;
  beforeAll(async () => {
    original = await runToEnd(shRed(SCRIPT));
    rerun = await runToEnd(shRed(SCRIPT));
  });

  it('a re-run of the same RED with the same input is identical: every input, output and log', async () => {
    const report = await driftOf(rerun, `?against=${original}`);
    expect(report.identical).toBe(true);
    expect(report.inputs).toEqual([{ key: 'text_file', kind: 'identical', sha256: { before: expect.stringMatching(/^[0-9a-f]{64}$/), after: expect.stringMatching(/^[0-9a-f]{64}$/) } }]);
    expect(kinds(report)).toEqual({ 'out.txt': 'identical', 'report/a.txt': 'identical', 'report/table.csv': 'identical' });
    expect(report.engine).toMatchObject({ same: true, before: expect.stringMatching(/^process/) });
    expect(report.image.same).toBe(true);
    expect(report.exitCode).toEqual({ before: 0, after: 0 });
    expect(report.logs.find(l => l.stream === 'stdout')).toEqual({ stream: 'stdout', same: true });
    expect(report.options).toEqual({ atol: 0, rtol: 0, ignore: [] });
  });

  it('a timestamp output drifts (changed, with sizes); ?ignore=GLOB silences it', async () => {
    const stamped = `${SCRIPT}; date +%s%N > report/stamp.txt`;
    const a = await runToEnd(shRed(stamped));
    const b = await runToEnd(shRed(stamped));
    const report = await driftOf(b, `?against=${a}`);
    expect(report.identical).toBe(false);
    const stamp = report.outputs.find(o => o.path === 'report/stamp.txt')!;
    expect(stamp).toMatchObject({ kind: 'changed', output: 'report', detail: expect.stringMatching(/^other bytes \(\d+ bytes before, \d+ after\)$/) });
    const ignored = await driftOf(b, `?against=${a}&ignore=stamp.txt&ignore=*.log`);
    expect(ignored.identical).toBe(true);
    expect(kinds(ignored)['report/stamp.txt']).toBe('ignored');
    expect(ignored.options.ignore).toEqual(['stamp.txt', '*.log']);
  });

  it('CSV numbers that differ a little: changed with the cell named, within ?atol identical; an output only one run wrote', async () => {
    const a = await runToEnd(shRed('printf "x,y\\n1,2.5000001\\n" > out.txt; mkdir -p report'));
    const b = await runToEnd(shRed('printf "x,y\\n1,2.5000002\\n" > out.txt; mkdir -p report; echo new > report/extra.txt'));
    // out.txt is named .txt: compared as bytes. The CSV comparison needs a CSV output.
    const c = await runToEnd(shRed('printf "x,y\\n1,2.5000001\\n" > out.txt; mkdir -p report; printf "x,y\\n1,2.5000001\\n" > report/t.csv'));
    const d = await runToEnd(shRed('printf "x,y\\n1,2.5000001\\n" > out.txt; mkdir -p report; printf "x,y\\n1,2.5000002\\n" > report/t.csv'));
    const bytes = await driftOf(b, `?against=${a}`);
    expect(kinds(bytes)).toEqual({ 'out.txt': 'changed', 'report/extra.txt': 'extra' });
    const exact = await driftOf(d, `?against=${c}`);
    const csv = exact.outputs.find(o => o.path === 'report/t.csv')!;
    expect(csv.kind).toBe('changed');
    expect(csv.values).toMatchObject({ compared: 2, differing: 1, examples: [{ where: 'row 2, column "y"', before: '2.5000001', after: '2.5000002' }] });
    const loose = await driftOf(d, `?against=${c}&atol=1e-6`);
    expect(loose.identical).toBe(true);
    expect(loose.outputs.find(o => o.path === 'report/t.csv')!.kind).toBe('within-tolerance');
    expect(loose.options.atol).toBe(1e-6);
  });

  it('an input file changed between the run and its re-run: the input drifts, and the output with it', async () => {
    const changing = path.join(app.dir, 'data-in', 'changing.txt');
    fs.writeFileSync(changing, 'before\n');
    const red = shRed(SCRIPT, `inputs:\n  text_file: ${localInput(changing)}\noutputs: {}\n`);
    const a = await runToEnd(red);
    fs.writeFileSync(changing, 'after!\n');
    const b = await runToEnd(red);
    const report = await driftOf(b, `?against=${a}`);
    expect(report.identical).toBe(false);
    expect(report.inputs).toEqual([{ key: 'text_file', kind: 'changed', sha256: { before: expect.any(String), after: expect.any(String) }, detail: `the re-run read other data: ${changing}` }]);
    expect(kinds(report)['out.txt']).toBe('changed');
  });

  it('refuses: 404 unknown run, 409 a run not finished, 404 a run without a crate, 400 bad parameters', async () => {
    const unknown = '01JDQ0000000000000000000EF';
    const r1 = await getDrift(unknown, `?against=${original}`);
    expect([r1.status, r1.json.error]).toEqual([404, `no run ${unknown} (the re-run): it does not exist or was deleted; GET /api/v1/runs lists runs`]);
    const r2 = await getDrift(rerun, `?against=${unknown}`);
    expect([r2.status, r2.json.error]).toEqual([404, `no run ${unknown} (the original): it does not exist or was deleted; GET /api/v1/runs lists runs`]);

    const queued = app.store.createRun({ red: { redVersion: '9' } as never }).id;
    const r3 = await getDrift(queued, `?against=${original}`);
    expect([r3.status, r3.json]).toEqual([409, { error: `run ${queued} (the re-run) is queued: its drift can be reported once it has ended and left its crate; ask again then`, state: 'queued' }]);

    const gone = await runToEnd(shRed(SCRIPT));
    fs.unlinkSync(path.join(outputsDir(gone), 'ro-crate-metadata.json'));
    const r4 = await getDrift(gone, `?against=${original}`);
    expect(r4.status).toBe(404);
    expect(r4.json.error).toMatch(new RegExp(`^run ${gone} \\(the re-run, succeeded\\) has no crate: none was written in its outputs folder`));

    fs.writeFileSync(path.join(outputsDir(gone), 'ro-crate-metadata.json'), '{"@graph": []}');
    const r5 = await getDrift(gone, `?against=${original}`);
    expect(r5.status).toBe(409);
    expect(r5.json.error).toMatch(new RegExp(`^run ${gone} \\(the re-run\\): its crate cannot be read: `));

    const bad: [string, string][] = [
      ['', 'query parameter against is missing: give the id of the run this one reproduces (?against=<run id>)'],
      ['?against=nope', 'query parameter against="nope" is not a run id: run ids are 26 characters (0-9, A-Z)'],
      [`?against=${rerun}`, `against is run ${rerun} itself: give the id of the run it reproduces`],
      [`?against=${original}&atol=-1`, 'query parameter atol="-1" is not a tolerance: give a number of at least 0, e.g. atol=1e-6, or leave it out (0)'],
      [`?against=${original}&rtol=lots`, 'query parameter rtol="lots" is not a tolerance: give a number of at least 0, e.g. rtol=1e-6, or leave it out (0)'],
      [`?against=${original}&ignore=`, 'query parameter ignore must be a glob of output paths (e.g. ignore=*.log) of 1 to 500 characters'],
      [`?against=${original}&tolerance=1`, 'unknown query parameter "tolerance": this route takes against, batch, atol, rtol, ignore']
    ];
    for (const [query, error] of bad) {
      const r = await getDrift(rerun, query);
      expect([query, r.status, r.json.error]).toEqual([query, 400, error]);
    }
  });

  it('a run of several batches: compared batch by batch (?batch=N); without it, 400', async () => {
    const batch = `  - inputs:\n      text_file: ${localInput(inputFile)}\n    outputs: {}\n`;
    const red = shRed(SCRIPT, `batches:\n${batch}${batch}`);
    const a = await runToEnd(red);
    const b = await runToEnd(red);
    const none = await getDrift(b, `?against=${a}`);
    expect([none.status, none.json.error]).toEqual([400, `run ${a} has 2 batches, each with its own crate: add ?batch=N (0 to 1)`]);
    expect((await driftOf(b, `?against=${a}&batch=1`)).identical).toBe(true);
  });

  it('the token and Origin gates apply', async () => {
    expect((await call(app.url, 'GET', `/api/v1/runs/${rerun}/drift?against=${original}`, { noAuth: true })).status).toBe(401);
    expect((await getDrift(rerun, `?against=${original}`, { origin: 'http://evil.example' })).status).toBe(403);
  });

  it("the frontend's BridgeApi.runDrift reads the report, and says why when there is none", async () => {
    const api = new BridgeApi(new BridgeClient({ url: app.url, token: TOKEN }));
    const report = await api.runDrift(rerun, original, { atol: 0.5, ignore: ['*.log', 'a b.txt'] });
    expect(report.identical).toBe(true);
    expect(report.options).toEqual({ atol: 0.5, rtol: 0, ignore: ['*.log', 'a b.txt'] });
    const queued = app.store.createRun({ red: { redVersion: '9' } as never }).id;
    const err = await api.runDrift(queued, original).catch(e => e);
    expect(err).toBeInstanceOf(BridgeError);
    expect([err.status, err.message]).toEqual([409, `run ${queued} (the re-run) is queued: its drift can be reported once it has ended and left its crate; ask again then`]);
  });
});
