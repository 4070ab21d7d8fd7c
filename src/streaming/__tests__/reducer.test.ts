import type { RunRecord, StoredEvent, StoreEvent } from '../../red';
import { appendLog, applyCarriageReturns, emptyLogs, lastLines } from '../logs';
import { applyEvent, applyEvents, applyLost, applyPreview, applyRecord, initialRunState } from '../reducer';
import { renderRecord, snapshot, type RenderLinks } from '../render';
import { legacyRunState, needsResume, readRunMetadata, RUN_MIME } from '../restore';
import { logLines, section } from './record-html';

const RUN = '01M80C1VY94NYKTEG8ASTXDSH4';
const OPTS = { logLineLimit: 5 };
const T0 = Date.parse('2026-01-01T00:00:00.000Z');
const links: RenderLinks = {
  log: s => `/bridge/runs/${RUN}/logs?stream=${s}`,
  output: (n, b) => `/bridge/runs/${RUN}/outputs/${n}${b !== undefined ? `?batch=${b}` : ''}`,
  record: `/bridge/runs/${RUN}`
};

let seq = 0;
function ev(event: StoreEvent, atMs?: number): StoredEvent {
  seq++;
  return { runId: RUN, seq, at: new Date(atMs ?? T0 + seq).toISOString(), event };
}
const log = (stream: 'stdout' | 'stderr', data: string): StoreEvent => ({ type: 'log', batch: 0, stream, offset: 0, length: data.length, data });
const stats = (cpu: number, mem: number): StoreEvent => ({ type: 'stats', batch: 0, cpuPercent: cpu, memoryBytes: mem, memoryLimitBytes: 1024 ** 3 });

beforeEach(() => {
  seq = 0;
});


function record(over: Partial<RunRecord> = {}): RunRecord {
  return {
    id: RUN,
    createdAt: '2026-01-01T00:00:00.000Z',
    updatedAt: '2026-01-01T00:00:02.000Z',
    finishedAt: '2026-01-01T00:00:02.000Z',
    state: 'succeeded',
    options: { notebookPath: 'demo/a.ipynb' },
    image: { url: 'redlab/debian-python:12' },
    batchCount: 1,
    lastSeq: 20,
    red: { container: { engine: 'docker', settings: { image: { url: 'redlab/debian-python:12' }, ram: 512, gpus: { vendor: 'nvidia', count: 1 } } } },
    batches: [],
    history: [],
    dir: '/tmp/x',
    result: {
      state: 'succeeded',
      image: { url: 'redlab/debian-python:12', pulled: false },
      exitCode: 0,
      outputs: {
        plot: { path: '/o/plot.png', class: 'File', size: 2048, sha256: 'a'.repeat(64) },
        metrics: { path: '/o/metrics.json', class: 'File', size: 20, sha256: 'b'.repeat(64) },
        optional_missing: null
      },
      batches: [{ index: 0, state: 'succeeded', command: [], inputs: {}, outputs: {}, timings: { total: 1500 }, outdir: '/o', exitCode: 0 }],
      timings: { total: 1500 }
    },
    ...over
  };
}

describe('log coalescing and the line cap', () => {
  it('coalesces consecutive chunks of one stream into one segment, and splits on a stream change', () => {
    const s = applyEvents(initialRunState(RUN), [ev(log('stdout', 'a\n')), ev(log('stdout', 'b\n')), ev(log('stderr', 'warn\n')), ev(log('stdout', 'c\n'))], { logLineLimit: 100 });
    expect(s.logs.segments).toEqual([
      { stream: 'stdout', text: 'a\nb\n' },
      { stream: 'stderr', text: 'warn\n' },
      { stream: 'stdout', text: 'c\n' }
    ]);
    expect(logLines(renderRecord(s, links))).toEqual([
      { kind: 'stdout', text: 'a' },
      { kind: 'stdout', text: 'b' },
      { kind: 'stderr', text: 'warn' },
      { kind: 'stdout', text: 'c' }
    ]);
  });

  it('joins a line split over two chunks', () => {
    const s = applyEvents(initialRunState(RUN), [ev(log('stdout', 'hel')), ev(log('stdout', 'lo\n'))], OPTS);
    expect(s.logs.segments).toEqual([{ stream: 'stdout', text: 'hello\n' }]);
    expect(s.logs.lines).toBe(1);
  });

  it('keeps the last logLineLimit lines and links the full log', () => {
    const events = Array.from({ length: 8 }, (_, i) => ev(log('stdout', `line ${i}\n`)));
    const s = applyEvents(initialRunState(RUN), events, OPTS);
    expect(s.logs.lines).toBe(5);
    expect(s.logs.dropped).toEqual({ stdout: 3, stderr: 0 });
    const html = renderRecord(s, links);
    expect(logLines(html).map(l => l.text)).toEqual(['line 3', 'line 4', 'line 5', 'line 6', 'line 7']);
    const note = section(html, 'jp-RedLab-run-truncated');
    expect(note).toContain('show full log (stdout)');
    expect(note).toContain(`href="/bridge/runs/${RUN}/logs?stream=stdout"`);
  });

  it('drops whole segments of the other stream when they are the oldest lines', () => {
    let v = emptyLogs();
    v = appendLog(v, 'stderr', 'e1\ne2\n', 3);
    v = appendLog(v, 'stdout', 'o1\no2\no3\n', 3);
    expect(v.segments).toEqual([{ stream: 'stdout', text: 'o1\no2\no3\n' }]);
    expect(v.dropped).toEqual({ stdout: 0, stderr: 2 });
  });

  it('applies carriage returns like a terminal (progress bars)', () => {
    expect(applyCarriageReturns('10%\r50%\r100%\n')).toBe('100%\n');
    let v = emptyLogs();
    v = appendLog(v, 'stderr', 'done 1/3\r', 10);
    v = appendLog(v, 'stderr', 'done 2/3\r', 10);
    v = appendLog(v, 'stderr', 'done 3/3\nnext\n', 10);
    expect(v.segments[0].text).toBe('done 3/3\nnext\n');
    expect(v.lines).toBe(2);
  });

  it('gives the last stderr lines', () => {
    let v = emptyLogs();
    v = appendLog(v, 'stderr', 'a\nb\n', 10);
    v = appendLog(v, 'stdout', 'x\n', 10);
    v = appendLog(v, 'stderr', 'c', 10);
    expect(lastLines(v, 'stderr', 2)).toEqual(['b', 'c']);
  });
});

describe('resource samples', () => {
  it('keeps at most one sample a second', () => {
    const s = applyEvents(
      initialRunState(RUN),
      [ev(stats(10, 100), T0), ev(stats(20, 200), T0 + 300), ev(stats(30, 300), T0 + 999), ev(stats(40, 400), T0 + 1000), ev(stats(50, 500), T0 + 2500)],
      OPTS
    );
    expect(s.stats?.samples.map(x => x.cpu)).toEqual([10, 40, 50]);
    expect(s.since).toBe(5); // skipped samples still count as applied
  });

  it('draws the chart as an <img> (SVG data URI) in the header', () => {
    const s = applyEvents(initialRunState(RUN), [ev(stats(10, 100), T0), ev(stats(40, 400), T0 + 1000)], OPTS);
    const html = renderRecord(s, links);
    expect(html).toMatch(/<img class="jp-RedLab-spark" alt="CPU" src="data:image\/svg\+xml/);
    expect(html).toContain('40 %');
    expect(html).not.toContain('<svg'); // the sanitizer would drop inline SVG
  });
});

describe('states, phases, final', () => {
  it('follows run states and phases, ignoring batch states', () => {
    const s = applyEvents(
      initialRunState(RUN),
      [
        ev({ type: 'state', state: 'preparing' }),
        ev({ type: 'phase', phase: 'pull', status: 'start', detail: 'img' }),
        ev({ type: 'pull-progress', layer: 'l1', status: 'Downloading', current: 50, total: 100 }),
        ev({ type: 'phase', phase: 'pull', status: 'end', ms: 4 }),
        ev({ type: 'state', state: 'running' }),
        ev({ type: 'state', state: 'collecting', batch: 0 }),
        ev({ type: 'phase', batch: 0, phase: 'running', status: 'start' })
      ],
      OPTS
    );
    expect(s.state).toBe('running');
    expect(s.pull).toBeUndefined();
    expect(s.phases).toEqual([
      { phase: 'pull', status: 'done', ms: 4, detail: 'img' },
      { phase: 'running', batch: 0, status: 'running' }
    ]);
  });

  it('shows pull progress while pulling', () => {
    const s = applyEvents(initialRunState(RUN), [ev({ type: 'phase', phase: 'pull', status: 'start' }), ev({ type: 'pull-progress', layer: 'l1', status: 'Downloading', current: 50, total: 100 })], OPTS);
    expect(renderRecord(s, links)).toContain('<progress max="100" value="50">');
  });

  it('shows each input being received with its progress, until it is done or the run ends', () => {
    const MiB = 1024 * 1024;
    const t = (name: string, bytes: number, extra: object = {}) => ev({ type: 'transfer-progress', direction: 'input', name, bytes, total: 100 * MiB, bytesPerSecond: 5 * MiB, etaMs: 17_000, ...extra });
    let s = applyEvents(initialRunState(RUN), [t('tiles', 12 * MiB), t('labels', 50 * MiB), t('tiles', 30 * MiB)], OPTS);
    const progress = (html: string) => [...html.matchAll(/data-testid="redlab-transfer-progress">([^<]*)<progress max="(\d+)" value="(\d+)"><\/progress> ([^<]*)<\/div>/g)].map(m => [m[1].trim(), m[3], m[4]]);
    expect(progress(renderRecord(s, links))).toEqual([
      ['receiving', String(30 * MiB), 'input tiles: 30 MiB of 100 MiB (30%), 5.0 MiB/s, 17 s left'],
      ['receiving', String(50 * MiB), 'input labels: 50 MiB of 100 MiB (50%), 5.0 MiB/s, 17 s left']
    ]);
    s = applyEvent(s, t('tiles', 100 * MiB, { done: true }), OPTS);
    expect(progress(renderRecord(s, links)).map(p => p[2])).toEqual(['input labels: 50 MiB of 100 MiB (50%), 5.0 MiB/s, 17 s left']);
    s = applyEvent(s, ev({ type: 'state', state: 'failed', error: 'input labels: connection reset' }), OPTS);
    expect(s.transfers).toBeUndefined();
    expect(renderRecord(s, links)).not.toContain('redlab-transfer-progress');
  });

  it('turns a failed run into a failure section with the reason; the traceback stays in the log', () => {
    const s = applyEvents(
      initialRunState(RUN),
      [ev(log('stderr', 'Traceback\nZeroDivisionError: division by zero\n')), ev({ type: 'batch-state', batch: 0, state: 'failed', exitCode: 1 }), ev({ type: 'state', state: 'failed', error: 'batch 0 exited with code 1' })],
      OPTS
    );
    expect(s.final).toMatchObject({ state: 'failed', exitCode: 1, failure: { kind: 'exit-code' } });
    const html = renderRecord(s, links);
    expect(section(html, 'jp-RedLab-failure')).toContain('NotebookFailed');
    expect(logLines(html).map(l => l.text)).toContain('ZeroDivisionError: division by zero');
  });

  it('shows the stderr tail of the bridge error only when the cell has no stderr lines', () => {
    const error = 'the command exited with code 1; its stderr ends with:\nZeroDivisionError: division by zero';
    const seen = applyEvents(initialRunState(RUN), [ev(log('stderr', 'ZeroDivisionError: division by zero\n')), ev({ type: 'state', state: 'failed', error })], OPTS);
    expect(seen.final?.failure?.reason).toBe('the command exited with code 1');
    expect(renderRecord(seen, links).split('ZeroDivisionError').length - 1).toBe(1);
    seq = 0;
    const late = applyEvents(initialRunState(RUN), [ev({ type: 'state', state: 'failed', error })], OPTS);
    expect(section(renderRecord(late, links), 'jp-RedLab-failure')).toContain('ZeroDivisionError: division by zero');
  });

  it('names out-of-memory, missing image and missing GPU failures', () => {
    const oom = applyRecord(initialRunState(RUN), record({ state: 'failed', result: { ...record().result!, state: 'failed', exitCode: 137, batches: [{ ...record().result!.batches[0], oomKilled: true, state: 'failed' }] } }));
    expect(oom.final?.failure).toMatchObject({ kind: 'out-of-memory' });
    expect(oom.final?.failure?.reason).toContain('512 MB');
    const img = applyRecord(initialRunState(RUN), record({ state: 'failed', error: 'image nope:1 is not available: No such image: nope:1', result: undefined }));
    expect(img.final?.failure?.kind).toBe('image-missing');
    const gpu = applyRecord(initialRunState(RUN), record({ state: 'failed', error: 'the run asks for 2 GPUs, the bridge has 0', result: undefined }));
    expect(gpu.final?.failure?.kind).toBe('no-gpu');
    expect(section(renderRecord(gpu, links), 'jp-RedLab-failure')).toContain('NoGpuAvailable');
  });

  it('reads exit code, duration, GPUs and output files from the record, and shows the artifact table', () => {
    let s = applyEvents(initialRunState(RUN), [ev({ type: 'state', state: 'succeeded' })], OPTS);
    s = applyRecord(s, record());
    expect(s.final).toEqual({ state: 'succeeded', exitCode: 0, durationMs: 1500 });
    expect(s.gpus).toBe('1 GPU');
    expect(s.artifacts.map(a => a.name)).toEqual(['plot', 'metrics']);
    s = applyPreview(s, 'metrics', undefined, { kind: 'json', text: '{\n  "acc": 0.9\n}' });
    s = applyPreview(s, 'plot', undefined, { kind: 'image', dataUri: 'data:image/png;base64,AAAA' });
    const rendered = renderRecord(s, links);
    expect(rendered).not.toContain('jp-RedLab-failure');
    const html = section(rendered, 'jp-RedLab-artifacts');
    expect(html).toContain(`href="/bridge/runs/${RUN}/outputs/plot"`);
    expect(html).toContain('aaaaaaaaaaaa</code>');
    expect(html).toContain('2.0 KiB');
    expect(html).toContain('src="data:image/png;base64,AAAA"');
    expect(html).toContain('&quot;acc&quot;: 0.9');
    expect(section(rendered, 'jp-RedLab-run-header')).toContain('succeeded · exit code 0 · took 1.5 s');
  });

  it('keeps a final run final: a state event behind it (replayed after the record) changes nothing', () => {
    let s = applyRecord(initialRunState(RUN), record());
    expect(s.state).toBe('succeeded');
    s = applyEvents(s, [ev({ type: 'state', state: 'running' }), ev({ type: 'state', state: 'failed', error: 'late' })], OPTS);
    expect(s.state).toBe('succeeded');
    expect(s.final).toEqual({ state: 'succeeded', exitCode: 0, durationMs: 1500 });
    // Forward, states may be skipped (a stream resumed mid-run), and the final one is applied.
    s = applyEvents(initialRunState(RUN), [ev({ type: 'state', state: 'running' }), ev({ type: 'state', state: 'preparing' })], OPTS);
    expect(s.state).toBe('running');
  });

  it('ends a run the bridge lost', () => {
    const s = applyLost(initialRunState(RUN), 'the bridge has no run ' + RUN);
    expect(s.state).toBe('failed');
    expect(section(renderRecord(s, links), 'jp-RedLab-failure')).toContain('the bridge has no run');
  });
});

describe('resume with since', () => {
  const events = () => {
    seq = 0;
    return [
      ev({ type: 'state', state: 'running' }),
      ev(log('stdout', 'one\n')),
      ev(log('stdout', 'two\n')),
      ev(log('stderr', 'warn\n')),
      ev(log('stdout', 'three\n')),
      ev({ type: 'state', state: 'succeeded' })
    ];
  };

  it('ignores events at or below since (same object back)', () => {
    const all = events();
    const s = applyEvents(initialRunState(RUN), all.slice(0, 3), OPTS);
    expect(applyEvent(s, all[1], OPTS)).toBe(s);
    expect(applyEvents(s, all, OPTS).logs.segments).toEqual(applyEvents(initialRunState(RUN), all, OPTS).logs.segments);
  });

  it('reads an old code-cell record (header and stream outputs) and replays without duplicates', () => {
    const all = events();
    const before = applyEvents(initialRunState(RUN), all.slice(0, 4), { logLineLimit: 100 });
    // What an old notebook kept: a header output with the state, then stream outputs (saved JSON).
    const legacyOutputs = [
      { output_type: 'display_data', data: { 'text/html': '<div>…</div>', [RUN_MIME]: snapshot(before) }, metadata: {} },
      { output_type: 'stream', name: 'stdout', text: ['one\n', 'two\n'] },
      { output_type: 'stream', name: 'stderr', text: 'warn\n' }
    ];
    const meta = readRunMetadata({ runId: RUN, since: before.since, state: before.state })!;
    const restored = legacyRunState(meta, legacyOutputs)!;
    expect(restored.since).toBe(4);
    // The bridge replays from an older seq (e.g. metadata written late): nothing doubles.
    const resumed = applyEvents(restored, all, { logLineLimit: 100 });
    const straight = applyEvents(initialRunState(RUN), all, { logLineLimit: 100 });
    expect(resumed.logs.segments).toEqual(straight.logs.segments);
    expect(resumed.logs.segments).toEqual([
      { stream: 'stdout', text: 'one\ntwo\n' },
      { stream: 'stderr', text: 'warn\n' },
      { stream: 'stdout', text: 'three\n' }
    ]);
    expect(resumed.state).toBe('succeeded');
  });

  it('has nothing to read from an old record whose outputs were cleared', () => {
    expect(legacyRunState({ runId: RUN, since: 17 }, [])).toBeUndefined();
  });

  it('resumes a record until its run is final and its run record was read', () => {
    let s = applyEvents(initialRunState(RUN), events(), OPTS);
    // What the cell's metadata keeps, through JSON (a saved file).
    const meta = (x: typeof s) => readRunMetadata(JSON.parse(JSON.stringify({ runId: RUN, since: x.since, state: x.state, record: snapshot(x) }))!)!;
    expect(needsResume(meta(s))).toBe(true);
    s = applyRecord(s, record());
    expect(needsResume(meta(s))).toBe(false);
    expect(needsResume({ runId: RUN, since: 40 })).toBe(true);
    // The state without log text or previews: the rendering has those.
    expect(meta(s).record).not.toHaveProperty('logs.segments');
  });

  it('rejects metadata without a run id, and a record of another run', () => {
    expect(readRunMetadata({ since: 3 })).toBeUndefined();
    expect(readRunMetadata({ runId: RUN, since: -1 })).toEqual({ runId: RUN, since: 0 });
    expect(readRunMetadata({ runId: RUN, since: 2, record: { runId: 'other' } })).toEqual({ runId: RUN, since: 2 });
  });
});

describe('which execution ran the notebook', () => {
  const line = (how: string) => `redlab_nbrun: running nb.ipynb (3 code cells)\nredlab_nbrun: cells run by: ${how}\n`;

  it('takes the runner line from stderr into the state, its snapshot and the record header', () => {
    const how = 'IPython kernel (ipykernel 6.29.3, nbclient 0.7.2)';
    const s = applyEvents(initialRunState(RUN), [ev(log('stderr', line(how))), ev(log('stderr', line('something else later')))], OPTS);
    expect(s.execution).toBe(how);
    expect(snapshot(s).execution).toBe(how);
    expect(renderRecord(s, links)).toContain(`cells run by ${how}</div>`);
  });

  it('ignores the same words on stdout (the notebook printing them) and states no execution without the line', () => {
    const s = applyEvents(initialRunState(RUN), [ev(log('stdout', line('IPython kernel'))), ev(log('stderr', 'redlab_nbrun: running nb.ipynb\n'))], OPTS);
    expect(s.execution).toBeUndefined();
    expect(renderRecord(s, links)).not.toContain('jp-RedLab-run-execution');
  });

  it('escapes what the line says', () => {
    const s = applyEvents(initialRunState(RUN), [ev(log('stderr', line('<img src=x onerror=alert(1)>')))], OPTS);
    expect(renderRecord(s, links)).toContain('cells run by &lt;img src=x onerror=alert(1)&gt;</div>');
  });
});

describe('the result event with the run\'s result', () => {
  const running = (): StoreEvent[] => [
    { type: 'state', state: 'queued' },
    { type: 'state', state: 'preparing' },
    { type: 'state', state: 'running' },
    log('stderr', 'Traceback (most recent call last)\n'),
    { type: 'state', state: 'collecting' }
  ];
  const at = (iso: string) => Date.parse(iso);
  /** The cell after the record read at start (image, GPUs, RAM), before any event. */
  const started = () => applyRecord(initialRunState(RUN), record({ state: 'running', finishedAt: undefined, result: undefined }));

  it('gives the cell what the record read after the final state gave: exit code, duration, outputs, image', () => {
    const r = record();
    const finalAt = at(r.finishedAt!);
    const byEvent = applyEvents(started(), [...running().map(e => ev(e)), ev({ type: 'result', state: 'succeeded', result: r.result }), ev({ type: 'state', state: 'succeeded' }, finalAt)], OPTS);
    seq = 0;
    const stream = applyEvents(started(), [...running().map(e => ev(e)), ev({ type: 'result', state: 'succeeded' }), ev({ type: 'state', state: 'succeeded' }, finalAt)], OPTS);
    expect(stream.recordLoaded).toBe(false);
    const byRecord = applyRecord(stream, r);
    expect(byEvent.recordLoaded).toBe(true);
    expect(byEvent.final).toEqual(byRecord.final);
    expect(byEvent.final).toEqual({ state: 'succeeded', exitCode: 0, durationMs: 1500 });
    expect(byEvent.artifacts).toEqual(byRecord.artifacts);
    expect(byEvent.artifacts.map(a => a.name)).toEqual(['plot', 'metrics']);
    expect(byEvent.image).toBe('redlab/debian-python:12');
    expect(renderRecord(byEvent, links)).toBe(renderRecord(byRecord, links));
  });

  it('a container killed for memory: the failure says so with the RAM limit the record read at start told', () => {
    const base = record();
    expect(started().ramMb).toBe(512);
    const result = { ...base.result!, state: 'failed' as const, exitCode: 137, batches: [{ ...base.result!.batches[0], state: 'failed' as const, exitCode: 137, oomKilled: true }] };
    const s = applyEvents(started(), [...running().map(e => ev(e)), ev({ type: 'result', state: 'failed', result }), ev({ type: 'state', state: 'failed', error: 'exit code 137' })], OPTS);
    expect(s.recordLoaded).toBe(true);
    expect(s.final).toMatchObject({ state: 'failed', exitCode: 137, oomKilled: true, failure: { kind: 'out-of-memory', reason: 'the container ran out of memory (RAM limit 512 MB) and was killed' } });
    // The same as the record would say (the run's error is the final state event's).
    expect(applyRecord(s, record({ state: 'failed', error: 'exit code 137', result })).final).toEqual(s.final);
  });

  it('a result event without the result (another bridge) leaves the record to be read', () => {
    const s = applyEvents(initialRunState(RUN), [...running().map(e => ev(e)), ev({ type: 'result', state: 'succeeded' }), ev({ type: 'state', state: 'succeeded' })], OPTS);
    expect(s.recordLoaded).toBe(false);
    expect(s.artifacts).toEqual([]);
  });
});
