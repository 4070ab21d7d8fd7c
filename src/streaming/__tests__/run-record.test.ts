// Run records as Markdown cells: what the rendering shows of a failure (once, with the
// runner's own words, the failed phase), how the runner's status lines look, that the
// rendering stays one HTML block Markdown and LaTeX leave alone, that run cells never
// reach the runner, and the run list the status bar counts.
import type { RunSummary, StoredEvent, StoreEvent } from '../../red';
import { applyEvents, applyRecord, initialRunState, markFailedPhases } from '../reducer';
import { phaseText, renderRecord, type RenderLinks } from '../render';
import { isRunCellJson, stripRunCells } from '../run-cell-filter';
import { countRuns, mergeListed, withRunState } from '../run-list';
import { decode, logLines, section } from './record-html';

const RUN = '01M80C1VY94NYKTEG8ASTXDSH4';
const OPTS = { logLineLimit: 500 };
const links: RenderLinks = { log: s => `/b/runs/${RUN}/logs?stream=${s}`, output: n => `/b/runs/${RUN}/outputs/${n}`, record: `/b/runs/${RUN}` };

function events(list: StoreEvent[]): StoredEvent[] {
  return list.map((event, i) => ({ runId: RUN, seq: i + 1, at: new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString(), event }));
}
const stderr = (data: string): StoreEvent => ({ type: 'log', batch: 0, stream: 'stderr', offset: 0, length: data.length, data });
const stdout = (data: string): StoreEvent => ({ type: 'log', batch: 0, stream: 'stdout', offset: 0, length: data.length, data });

// What redlab_nbrun writes to stderr when the third code cell raises.
const TRACEBACK = ['Traceback (most recent call last):', '  File "<cell 5>", line 1, in <module>', '    1 / 0', 'ZeroDivisionError: division by zero'];
const RUNNER_FAILURE = 'redlab_nbrun: cell 5 (In [3]) raised ZeroDivisionError: division by zero; the remaining cells were not run; the executed notebook is out/nb.executed.ipynb';
const BRIDGE_ERROR = `the command exited with code 1; its stderr ends with:\n${TRACEBACK.join('\n')}\n${RUNNER_FAILURE}`;

function failedNotebookRun() {
  return applyEvents(
    initialRunState(RUN),
    events([
      { type: 'state', state: 'preparing' },
      { type: 'phase', phase: 'pull', status: 'start', detail: 'redlab/debian-python:12' },
      { type: 'phase', phase: 'pull', status: 'end', ms: 3, detail: 'local image sha256:abc' },
      { type: 'state', state: 'running' },
      { type: 'phase', batch: 0, phase: 'running', status: 'start' },
      stderr('redlab_nbrun: running nb.ipynb (3 code cells)\n'),
      stdout('hello\n'),
      stderr(`${TRACEBACK.join('\n')}\n${RUNNER_FAILURE}\n`),
      { type: 'phase', batch: 0, phase: 'running', status: 'end', ms: 900 },
      { type: 'batch-state', batch: 0, state: 'failed', exitCode: 1 },
      { type: 'phase', batch: 0, phase: 'collecting', status: 'start' },
      { type: 'phase', batch: 0, phase: 'collecting', status: 'end', ms: 5 },
      { type: 'state', state: 'failed', error: BRIDGE_ERROR }
    ]),
    OPTS
  );
}

describe('a failed notebook in its run record', () => {
  it('shows the traceback once (in the log), and the runner’s account as the reason', () => {
    const html = renderRecord(failedNotebookRun(), links);
    const text = decode(html);
    expect(text.split('Traceback (most recent call last)').length - 1).toBe(1);
    expect(text.split('1 / 0').length - 1).toBe(1);
    const failure = decode(section(html, 'jp-RedLab-failure'));
    expect(failure).toContain('NotebookFailed');
    expect(failure).toContain('cell 5 (In [3]) raised ZeroDivisionError: division by zero');
    expect(failure).not.toContain('the remaining cells were not run');
  });

  it('styles the runner’s status lines as status, the traceback as an error', () => {
    const lines = logLines(renderRecord(failedNotebookRun(), links));
    expect(lines.find(l => l.text.startsWith('redlab_nbrun: running'))?.kind).toBe('status');
    expect(lines.find(l => l.text.startsWith('redlab_nbrun: cell 5'))?.kind).toBe('status');
    expect(lines.filter(l => TRACEBACK.includes(l.text)).map(l => l.kind)).toEqual(['stderr', 'stderr', 'stderr', 'stderr']);
    expect(lines.find(l => l.text === 'hello')?.kind).toBe('stdout');
  });

  it('marks the running phase failed, not the collecting that came after it', () => {
    const s = failedNotebookRun();
    const shown = markFailedPhases(s.phases, s.final!);
    expect(shown.map(p => [p.phase, p.status])).toEqual([
      ['pull', 'done'],
      ['running', 'failed'],
      ['collecting', 'done']
    ]);
    expect(phaseText(shown[1])).toBe('running ✗ 900 ms: cell 5 (In [3]) raised ZeroDivisionError: division by zero');
    expect(decode(section(renderRecord(s, links), 'jp-RedLab-run-phases'))).toContain('running ✗');
  });

  it('knows the exit code from the bridge’s error before the run record comes (the bridge stores no batch-state events)', () => {
    const events_ = events([
      { type: 'phase', batch: 0, phase: 'running', status: 'start' },
      stderr(`${RUNNER_FAILURE}\n`),
      { type: 'phase', batch: 0, phase: 'running', status: 'end', ms: 900 },
      { type: 'phase', batch: 0, phase: 'collecting', status: 'start' },
      { type: 'phase', batch: 0, phase: 'collecting', status: 'end', ms: 9 },
      { type: 'state', state: 'failed', error: 'the command exited with code 1' }
    ]);
    const s = applyEvents(initialRunState(RUN), events_, OPTS);
    expect(s.final?.failure).toMatchObject({ kind: 'exit-code', reason: 'cell 5 (In [3]) raised ZeroDivisionError: division by zero' });
    expect(markFailedPhases(s.phases, s.final!).map(p => p.status)).toEqual(['failed', 'done']);
  });
});

describe('failed phases', () => {
  const pullFailed = (error: string) =>
    applyEvents(
      initialRunState(RUN),
      events([
        { type: 'state', state: 'preparing' },
        { type: 'phase', phase: 'pull', status: 'start', detail: 'nope:1' },
        { type: 'phase', phase: 'pull', status: 'end', ms: 40, detail: 'failed' },
        { type: 'state', state: 'failed', error }
      ]),
      OPTS
    );

  it('shows a failed pull as ✗ with the reason, never ✓', () => {
    const s = pullFailed('image nope:1 is not available: No such image: nope:1');
    expect(markFailedPhases(s.phases, s.final!)).toEqual([{ phase: 'pull', status: 'failed', ms: 40, detail: 'nope:1', reason: 'image nope:1 is not available: No such image: nope:1' }]);
    const phases = decode(section(renderRecord(s, links), 'jp-RedLab-run-phases'));
    expect(phases).toContain('pull ✗ 40 ms: image nope:1 is not available');
    expect(phases).not.toContain('✓');
    expect(section(renderRecord(s, links), 'jp-RedLab-phase jp-RedLab-phase-failed')).not.toBe('');
  });

  it('keeps ✗ when the run record is read after the final state', () => {
    const s = applyRecord(pullFailed('No such image: nope:1'), {
      id: RUN,
      createdAt: '2026-01-01T00:00:00.000Z',
      updatedAt: '2026-01-01T00:00:01.000Z',
      finishedAt: '2026-01-01T00:00:01.000Z',
      state: 'failed',
      error: 'No such image: nope:1',
      options: {},
      batchCount: 1,
      lastSeq: 4,
      red: { container: { engine: 'docker', settings: { image: { url: 'nope:1' }, ram: 256 } } },
      batches: [],
      history: [],
      dir: '/tmp/x'
    });
    expect(markFailedPhases(s.phases, s.final!)[0]).toMatchObject({ phase: 'pull', status: 'failed', reason: 'No such image: nope:1' });
  });

  it('marks a phase that never ended failed', () => {
    const s = applyEvents(
      initialRunState(RUN),
      events([
        { type: 'phase', batch: 0, phase: 'staging', status: 'start' },
        { type: 'state', state: 'failed', error: 'input text_file: cannot read data/in.txt' }
      ]),
      OPTS
    );
    expect(phaseText(markFailedPhases(s.phases, s.final!)[0])).toBe('staging ✗: input text_file: cannot read data/in.txt');
  });

  it('leaves the phases of a succeeded run done', () => {
    const s = applyEvents(
      initialRunState(RUN),
      events([
        { type: 'phase', phase: 'pull', status: 'start' },
        { type: 'phase', phase: 'pull', status: 'end', ms: 2 },
        { type: 'state', state: 'succeeded' }
      ]),
      OPTS
    );
    expect(markFailedPhases(s.phases, s.final!).map(phaseText)).toEqual(['pull ✓ 2 ms']);
  });
});

describe('the rendering as a Markdown cell source', () => {
  it('is one HTML block: no newline, no `$` or backslash for LaTeX, MathJax off', () => {
    const s = applyEvents(
      initialRunState(RUN),
      events([stdout('cost: $5 and $6\n\nC:\\temp \\(x\\)\n'), stderr('\x1b[31mred\x1b[0m\n')]),
      OPTS
    );
    const html = renderRecord(s, links);
    expect(html).not.toMatch(/[\n\r$\\]/);
    expect(html).toMatch(/^<div class="jp-RedLab-run mathjax_ignore tex2jax_ignore">/);
    expect(logLines(html).map(l => l.text)).toEqual(['cost: $5 and $6', '', 'C:\\temp \\(x\\)', 'red']);
  });
});

describe('run cells never reach the runner', () => {
  const code = (source: string, tags?: string[]) => ({ cell_type: 'code', source, metadata: tags ? { tags } : {}, outputs: [], execution_count: null });
  const nb = {
    nbformat: 4,
    nbformat_minor: 5,
    metadata: { kernelspec: { name: 'python3' } },
    cells: [
      code('x = 1', ['parameters']),
      code('y = 2'),
      { cell_type: 'markdown', source: '<div class="jp-RedLab-run">…</div>', metadata: { tags: ['redlab-run'], redlab: { runId: RUN, since: 9 } } },
      // An old record: a code cell.
      code('# RED Lab run …', ['redlab-run']),
      { cell_type: 'markdown', source: '# notes', metadata: {} },
      code('1 / 0')
    ]
  };

  it('drops every cell tagged redlab-run, of any type, and nothing else', () => {
    const stripped = stripRunCells(nb);
    expect(stripped.cells.map(c => c.source)).toEqual(['x = 1', 'y = 2', '# notes', '1 / 0']);
    expect(stripped.cells.filter(c => c.cell_type === 'code')).toHaveLength(3);
    expect(stripped.metadata).toBe(nb.metadata);
    expect(nb.cells).toHaveLength(6); // the notebook itself is left as it is
  });

  it('gives back a notebook without run cells, or anything else, as it is', () => {
    const plain = { ...nb, cells: nb.cells.filter(c => !isRunCellJson(c)) };
    expect(stripRunCells(plain)).toBe(plain);
    expect(stripRunCells(null)).toBeNull();
    expect(stripRunCells({ cells: 'no' })).toEqual({ cells: 'no' });
  });
});

describe('the run list the status bar counts', () => {
  const run = (id: string, state: RunSummary['state']): RunSummary => ({ id, state, createdAt: '', updatedAt: '', options: {}, batchCount: 1, lastSeq: 0 });

  it('moves a run forward at its state event, never back', () => {
    const runs = [run('a', 'queued'), run('b', 'succeeded')];
    expect(countRuns(runs)).toEqual({ queued: 1, running: 0 });
    const preparing = withRunState(runs, 'a', 'preparing');
    expect(countRuns(preparing)).toEqual({ queued: 0, running: 1 });
    expect(withRunState(preparing, 'a', 'queued')).toBe(preparing);
    // A run the list does not have yet counts at once.
    const unlisted = withRunState(preparing, 'new', 'running', '2026-01-01T00:00:00.000Z');
    expect(unlisted[0]).toMatchObject({ id: 'new', state: 'running' });
    expect(countRuns(unlisted)).toEqual({ queued: 0, running: 2 });
    expect(countRuns(withRunState(preparing, 'a', 'failed'))).toEqual({ queued: 0, running: 0 });
  });

  it('keeps a state an event told when a page asked for earlier comes later', () => {
    const seen = new Map([['a', 'running' as const]]);
    expect(mergeListed([run('a', 'queued'), run('c', 'queued')], seen).map(r => r.state)).toEqual(['running', 'queued']);
    expect(mergeListed([run('a', 'succeeded')], seen)[0].state).toBe('succeeded');
  });
});
