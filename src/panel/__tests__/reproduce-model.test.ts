// The panel model's side of "Reproduce" and "Export record…": the re-run names the run it
// reproduces (a label the bridge keeps), its drift report is asked for once and kept, and
// refusals of the bridge become plain messages; an export refused for a changed input
// offers to leave inputs out.
import { BridgeApi } from '../../api';
import { BridgeError, type BridgeClient } from '../../handler';
import type { Red } from '../../red';
import type { DriftReport } from '../../red';
import { RedPanelModel } from '../panel-model';
import { planRerun, reproducedRunOf, REPRODUCES_LABEL } from '../rerun';

const REPORT: DriftReport = {
  identical: true,
  inputs: [],
  image: { before: 'busybox', after: 'busybox', same: true },
  engine: { before: 'process', after: 'process', same: true },
  outputs: [],
  logs: [],
  options: { atol: 0, rtol: 0, ignore: [] }
};

const panelWith = (client: Partial<Record<'request' | 'fetch', (endpoint: string) => Promise<unknown>>>) =>
  new RedPanelModel(new BridgeApi(client as unknown as BridgeClient), () => ({ image: 'python:3.12', ramMb: 1024 }));

const jsonResponse = (status: number, body: unknown) => new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } });

describe('the re-run names the run it reproduces', () => {
  it('planRerun gives the label; reproducedRunOf reads it back from a run summary', () => {
    const plan = planRerun({ id: 'R1', red: { container: { settings: { image: { url: 'python:3.12' } } } } as unknown as Red, image: undefined });
    expect(plan.labels).toEqual({ [REPRODUCES_LABEL]: 'R1' });
    expect(reproducedRunOf({ options: { labels: plan.labels } })).toBe('R1');
    expect(reproducedRunOf({ options: {} })).toBeUndefined();
    expect(reproducedRunOf({ options: { labels: { other: 'x' } } })).toBeUndefined();
  });
});

describe('RedPanelModel.loadDrift', () => {
  it('asks once per re-run, goes loading → ready and tells the views each time', async () => {
    const asked: string[] = [];
    let answer: (r: DriftReport) => void = () => undefined;
    const panel = panelWith({ request: endpoint => (asked.push(endpoint), new Promise(r => (answer = r))) });
    let changes = 0;
    panel.changed.connect(() => changes++);
    const loading = panel.loadDrift('R2', 'R1');
    expect(panel.drift('R2')).toEqual({ status: 'loading', against: 'R1' });
    void panel.loadDrift('R2', 'R1');
    answer(REPORT);
    await loading;
    expect(panel.drift('R2')).toEqual({ status: 'ready', against: 'R1', reports: [{ report: REPORT }] });
    await panel.loadDrift('R2', 'R1', { retry: true });
    expect(asked).toEqual(['runs/R2/drift?against=R1']);
    expect(changes).toBe(2);
  });

  it('an original that was deleted, and any other refusal, in words; "try again" asks again', async () => {
    const errors = [new BridgeError(404, 'no run R1 (the original): it does not exist or was deleted; GET /api/v1/runs lists runs'), new BridgeError(409, 'run R2 (the re-run) is running: its drift can be reported once it has ended and left its crate; ask again then')];
    let n = 0;
    const panel = panelWith({ request: async () => (n < errors.length ? Promise.reject(errors[n++]) : REPORT) });
    await panel.loadDrift('R2', 'R1');
    expect(panel.drift('R2')).toEqual({ status: 'error', against: 'R1', message: 'The original run R1 is gone (deleted), so there is nothing to compare with.' });
    await panel.loadDrift('R2', 'R1');
    expect(n).toBe(1);
    await panel.loadDrift('R2', 'R1', { retry: true });
    expect(panel.drift('R2')).toMatchObject({ status: 'error', message: `No drift report: ${errors[1].message}` });
    await panel.loadDrift('R2', 'R1', { retry: true });
    expect(panel.drift('R2')).toMatchObject({ status: 'ready', reports: [{ report: REPORT }] });
  });

  it('a run of several batches: one report per batch (?batch=N), in order', async () => {
    const asked: string[] = [];
    const drifted = { ...REPORT, identical: false };
    const panel = panelWith({ request: async endpoint => (asked.push(endpoint), endpoint.endsWith('batch=1') ? drifted : REPORT) });
    await panel.loadDrift('R2', 'R1', { batches: 3 });
    expect(asked).toEqual(['runs/R2/drift?against=R1&batch=0', 'runs/R2/drift?against=R1&batch=1', 'runs/R2/drift?against=R1&batch=2']);
    expect(panel.drift('R2')).toEqual({ status: 'ready', against: 'R1', reports: [{ batch: 0, report: REPORT }, { batch: 1, report: drifted }, { batch: 2, report: REPORT }] });
  });
});

describe('RedPanelModel.exportRecord', () => {
  const CHANGED = 'run R1: input data (/home/ann/a.csv) changed since the run: its sha256 is 1234 now, the crate recorded 5678: the bundle would not hold the data the run read; restore it as it was, or leave inputs out (?maxInputMb=0)';

  it('a 409 for a changed input offers to export without inputs, which asks with maxInputMb=0 and gives the zip named by the bridge', async () => {
    const asked: string[] = [];
    const panel = panelWith({
      fetch: async endpoint => {
        asked.push(endpoint);
        if (!endpoint.includes('maxInputMb=0')) return jsonResponse(409, { error: CHANGED });
        return new Response(new Blob(['PK']), { status: 200, headers: { 'Content-Disposition': 'attachment; filename="redlab-run-R1.zip"' } });
      }
    });
    expect(await panel.exportRecord('R1')).toBeUndefined();
    expect(panel.recordExport('R1')).toEqual({
      status: 'error',
      withoutInputs: true,
      message: 'The record cannot include the input files: run R1: input data (/home/ann/a.csv) changed since the run: its sha256 is 1234 now, the crate recorded 5678: the bundle would not hold the data the run read. Export it without them, or put the input back as it was.'
    });
    const zip = await panel.exportRecord('R1', true);
    expect(zip?.fileName).toBe('redlab-run-R1.zip');
    expect(await zip!.blob.text()).toBe('PK');
    expect(panel.recordExport('R1')).toBeUndefined();
    expect(asked).toEqual(['runs/R1/crate', 'runs/R1/crate?maxInputMb=0']);
  });

  it('a 404 (no record: the run has not ended, or left none) says so and offers nothing else; close forgets it', async () => {
    const panel = panelWith({ fetch: async () => jsonResponse(404, { error: 'run R1 has no crate yet: it is running, and its crate is written when it ends; ask again then' }) });
    expect(await panel.exportRecord('R1')).toBeUndefined();
    expect(panel.recordExport('R1')).toEqual({ status: 'error', withoutInputs: false, message: 'There is no record to export: run R1 has no crate yet: it is running, and its crate is written when it ends; ask again then' });
    panel.clearRecordExport('R1');
    expect(panel.recordExport('R1')).toBeUndefined();
  });
});
