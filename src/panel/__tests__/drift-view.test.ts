// The drift view as the panel renders it (server-side React, no browser), from DriftReport
// objects as the bridge's GET /runs/{id}/drift answers them; and the run history entry of a
// re-run, which names the run it reproduces and shows its report once loaded.
import * as React from 'react';
import { BridgeApi } from '../../api';
import type { BridgeClient } from '../../handler';
import type { RunSummary } from '../../red';
import type { DriftReport } from '../../red';
import { RedPanelModel } from '../panel-model';
import { REPRODUCES_LABEL } from '../rerun';
import { DriftView, driftSummary } from '../views/DriftView';
import { RunHistory } from '../views/RunHistory';

// Required with its one function typed (no @types/react-dom), as the panel's other view tests do.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { renderToStaticMarkup } = require('react-dom/server') as { renderToStaticMarkup(element: React.ReactElement): string };

const SHA_A = 'a'.repeat(64);
const SHA_B = 'b'.repeat(64);
const IMAGE = 'sha256:' + 'c'.repeat(64);

const identical: DriftReport = {
  identical: true,
  inputs: [{ key: 'data', kind: 'identical', sha256: { before: SHA_A, after: SHA_A } }],
  image: { before: `${IMAGE} (python:3.12)`, after: `${IMAGE} (${IMAGE})`, same: true },
  engine: { before: 'docker 27.1.1', after: 'docker 27.1.1', same: true },
  exitCode: { before: 0, after: 0 },
  outputs: [
    { path: 'out/table.csv', output: 'out', kind: 'identical', sha256: { before: SHA_A, after: SHA_A }, size: { before: 20, after: 20 } },
    { path: 'out/fit.json', output: 'out', kind: 'within-tolerance', detail: 'every value within the tolerance (largest difference 1.00e-9)' },
    { path: 'out/stamp.txt', output: 'out', kind: 'ignored' }
  ],
  logs: [{ stream: 'stdout', same: true }],
  options: { atol: 1e-6, rtol: 0, ignore: ['stamp.txt'] }
};

const drifted: DriftReport = {
  identical: false,
  inputs: [
    { key: 'data', kind: 'changed', sha256: { before: SHA_A, after: SHA_B }, detail: 'the re-run read other data: /home/ann/data.csv' },
    { key: 'remote', kind: 'unchecked', detail: 'https://example.org/x: the record has no sha256' }
  ],
  image: { before: `${IMAGE} (python:3.12)`, after: 'sha256:' + 'd'.repeat(64) + ' (python:3.12)', same: false, detail: 'the image the run used is not on this machine any more' },
  engine: { before: 'docker 27.1.1', after: 'docker 27.1.1', same: true },
  exitCode: { before: 0, after: 1 },
  outputs: [
    {
      path: 'out/table.csv',
      output: 'out',
      kind: 'changed',
      values: { compared: 4, differing: 1, maxAbs: 0.5, examples: [{ where: 'row 2, column "y"', before: '2.5', after: '3' }] },
      detail: '1 of 4 cells differ beyond the tolerance; largest difference 0.500'
    },
    { path: 'out/plot.png', output: 'out', kind: 'changed', pixels: { differing: 12, total: 10000 }, detail: '12 of 10000 pixels differ' },
    { path: 'out/old.txt', output: 'out', kind: 'missing', detail: 'the re-run did not write it' },
    { path: 'out/new.txt', output: 'out', kind: 'extra', detail: 'only the re-run wrote it' }
  ],
  logs: [
    { stream: 'stdout', same: false, diff: '--- stdout before\n+++ stdout after\n@@ -1 +1 @@\n-fit ok\n+fit <failed>' },
    { stream: 'stderr', same: true }
  ],
  options: { atol: 0, rtol: 0, ignore: [] }
};

const render = (report: DriftReport) => renderToStaticMarkup(React.createElement(DriftView, { report }));
const rowKinds = (html: string) => [...html.matchAll(/data-testid="redlab-drift-output" data-kind="([^"]+)"/g)].map(m => m[1]);

describe('DriftView', () => {
  it('an identical report: one summary line that says so, counting what was within tolerance or not compared; details closed', () => {
    expect(driftSummary(identical)).toBe('Reproduced: identical to the original run (2 output files; 1 file within tolerance, 1 file not compared).');
    const html = render(identical);
    expect(html).toContain('data-identical="true"');
    expect(html).toContain('Reproduced: identical to the original run');
    expect(rowKinds(html)).toEqual(['identical', 'within-tolerance', 'ignored']);
    expect(html).toContain('the same within tolerance');
    expect(html).toContain('not compared');
    expect(html).toContain('all 1 the same');
    expect(html).toMatch(/data-testid="redlab-drift-image" data-same="true">.*the same \(/);
    expect(html).toContain('Numbers count as the same within 0.000001 + 0 × |before|. Not compared: stamp.txt.');
    expect(html).not.toContain('<details class="jp-RedLab-drift-more" open');
  });

  it('a drifted report: what differs counted in the summary; image before and after; changed inputs; values, pixels; the log diff', () => {
    expect(driftSummary(drifted)).toBe('Not identical: 2 outputs changed, 1 output missing, 1 new output, 1 input changed, another image, exit code 0 → 1, stdout differs.');
    const html = render(drifted);
    expect(html).toContain('data-identical="false"');
    expect(html).toContain('<details class="jp-RedLab-drift-more" open');
    expect(rowKinds(html)).toEqual(['changed', 'changed', 'missing', 'extra']);
    expect(html).toContain('missing in the re-run');
    expect(html).toContain('new in the re-run');
    // The image, before and after, and why.
    // Image IDs shortened as docker shows them; whole in the title.
    expect(html).toContain(`sha256:${'c'.repeat(12)}… (python:3.12) before, sha256:${'d'.repeat(12)}… (python:3.12) now`);
    expect(html).toContain(`title="before: ${IMAGE} (python:3.12)`);
    expect(html).toContain('the image the run used is not on this machine any more');
    expect(html).toContain('Exit code: 0 before, 1 now');
    // The changed input by its key and why; the unchecked one muted.
    expect(html).toContain('data: changed (the re-run read other data: /home/ann/data.csv)');
    expect(html).toMatch(/data-kind="unchecked" class="jp-RedLab-muted">remote: not checked/);
    // A differing value: where, before, after.
    expect(html).toContain('<td>row 2, column &quot;y&quot;</td><td>2.5</td><td>3</td>');
    expect(html).toContain('12 of 10000 pixels differ (0.12%)');
    expect(html).toContain('data-testid="redlab-drift-log-stdout"');
    expect(html).toContain('+fit &lt;failed&gt;');
    expect(html).not.toContain('redlab-drift-log-stderr');
  });
});

describe('the run history entry of a re-run', () => {
  const summary = (id: string, createdAt: string, labels?: Record<string, string>): RunSummary => ({
    id,
    createdAt,
    updatedAt: createdAt,
    finishedAt: createdAt,
    state: 'succeeded',
    options: { notebookPath: 'nb.ipynb', ...(labels ? { labels } : {}) },
    batchCount: 1,
    lastSeq: 3
  });
  const ORIGINAL = '01JDQ00000000000000000000A';
  const RERUN = '01JDQ00000000000000000000B';
  const runs = [summary(RERUN, '2026-12-01T10:05:00.000Z', { [REPRODUCES_LABEL]: ORIGINAL }), summary(ORIGINAL, '2026-12-01T10:00:00.000Z')];
  const history = (panel: RedPanelModel) =>
    renderToStaticMarkup(React.createElement(RunHistory, { runs, panel, canRun: true, onCancel: () => undefined, onRerun: () => undefined, onOpen: () => undefined }));

  it('names the run it reproduces and shows its drift report once loaded; every finished run can be reproduced and exported', async () => {
    const asked: string[] = [];
    const client = {
      request: async (endpoint: string) => {
        asked.push(endpoint);
        return identical;
      }
    } as unknown as BridgeClient;
    const panel = new RedPanelModel(new BridgeApi(client), () => ({ image: 'python:3.12', ramMb: 1024 }));
    const before = history(panel);
    expect(before).toContain(`Reproduces the run of ${new Date(runs[1].createdAt).toLocaleString()}`);
    expect(before).toContain('Comparing with the original run…');
    await panel.loadDrift(RERUN, ORIGINAL);
    expect(asked).toEqual([`runs/${RERUN}/drift?against=${ORIGINAL}`]);
    const after = history(panel);
    const rows = after.split('data-testid="redlab-run-row"');
    // The re-run's row (first) holds the report; the original's does not.
    expect(rows[1]).toContain('data-testid="redlab-drift-summary">Reproduced: identical to the original run');
    expect(rows[2]).not.toContain('redlab-run-drift');
    // A batch re-run: batch by batch, counted.
    const batched = { ...runs[0], id: '01JDQ00000000000000000000C', batchCount: 2 };
    const batchPanel = new RedPanelModel(new BridgeApi({ request: async (e: string) => (e.endsWith('batch=1') ? drifted : identical) } as unknown as BridgeClient), () => ({ image: 'python:3.12', ramMb: 1024 }));
    await batchPanel.loadDrift(batched.id, ORIGINAL, { batches: 2 });
    const batchHtml = renderToStaticMarkup(React.createElement(RunHistory, { runs: [batched, runs[1]], panel: batchPanel, canRun: true, onCancel: () => undefined, onRerun: () => undefined, onOpen: () => undefined }));
    expect(batchHtml).toContain('1 of 2 batches differ from the original run.');
    expect(batchHtml).toContain('Batch 2 of 2');
    expect([...batchHtml.matchAll(/data-testid="redlab-drift" data-identical="(\w+)"/g)].map(m => m[1])).toEqual(['true', 'false']);
    for (const row of rows.slice(1)) {
      expect(row).toMatch(/data-testid="redlab-run-rerun"[^>]*>reproduce</);
      expect(row).toMatch(/data-testid="redlab-run-export"[^>]*>export record…</);
    }
  });
});
