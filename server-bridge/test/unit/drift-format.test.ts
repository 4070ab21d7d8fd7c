import type { DriftReport } from '../../../src/red/drift';
import { driftExitStatus, formatDriftReport, summaryLine } from '../../src/drift/format';

const sameParts = {
  image: { before: 'sha256:1111', after: 'sha256:1111', same: true },
  engine: { before: 'docker 27.1.1', after: 'docker 27.1.1', same: true },
  exitCode: { before: 0, after: 0 },
  options: { atol: 1e-6, rtol: 0, ignore: ['stamp.txt'] }
};

const identical: DriftReport = {
  identical: true,
  inputs: [{ key: 'table', kind: 'identical' }],
  ...sameParts,
  outputs: [
    { path: 'result.txt', output: 'result', kind: 'identical' },
    { path: 'table.csv', output: 'table', kind: 'within-tolerance', detail: 'every value within the tolerance (largest difference 1.00e-9)' },
    { path: 'stamp.txt', output: 'stamp', kind: 'ignored' }
  ],
  logs: [
    { stream: 'stdout', same: true },
    { stream: 'stderr', same: true }
  ]
};

const drift: DriftReport = {
  identical: false,
  inputs: [
    { key: 'table', kind: 'changed', sha256: { before: 'aaaaaaaaaaaaaaaa', after: 'bbbbbbbbbbbbbbbb' } },
    { key: 'remote', kind: 'unchecked', detail: 'a remote input (red-connector-http): received again, not compared' }
  ],
  ...sameParts,
  image: { before: 'sha256:1111', after: 'sha256:2222', same: false, detail: 'the recorded image is gone; ran busybox:latest' },
  exitCode: { before: 0, after: 1 },
  outputs: [
    {
      path: 'table.csv',
      output: 'table',
      kind: 'changed',
      detail: '5 of 8 cells differ beyond the tolerance',
      values: {
        compared: 8,
        differing: 5,
        examples: [
          { where: 'row 2, column "y"', before: '1', after: '2' },
          { where: 'row 3, column "y"', before: '3', after: '4' },
          { where: 'row 4, column "y"', before: '5', after: '6' },
          { where: 'row 5, column "y"', before: '7', after: '8' }
        ]
      }
    },
    { path: 'gone.txt', kind: 'missing', detail: 'the re-run did not write it' },
    { path: 'new.txt', kind: 'extra', detail: 'only the re-run wrote it' }
  ],
  logs: [
    { stream: 'stdout', same: false, diff: '--- stdout before\n+++ stdout after\n@@ -1 +1 @@\n-a\n+b' },
    { stream: 'stderr', same: true }
  ]
};

describe('formatDriftReport', () => {
  it('says an identical re-run in one line per output and a summary that gives exit status 0', () => {
    expect(formatDriftReport(identical)).toBe(
      [
        'Drift report (atol 0.000001, rtol 0, ignoring stamp.txt)',
        'inputs:',
        '  table: identical',
        'image: same (sha256:1111)',
        'engine: same (docker 27.1.1)',
        'outputs:',
        '  identical         result.txt',
        '  within tolerance  table.csv: every value within the tolerance (largest difference 1.00e-9)',
        '  ignored           stamp.txt',
        'logs:',
        '  stdout: same',
        '  stderr: same',
        'IDENTICAL within tolerance: 3 output files (1 identical, 1 within tolerance, 1 ignored); exit status 0',
        ''
      ].join('\n')
    );
    expect(driftExitStatus(identical)).toBe(0);
  });

  it('names every drift: inputs, image, exit code, outputs with a few examples, the log diff', () => {
    expect(formatDriftReport(drift)).toBe(
      [
        'Drift report (atol 0.000001, rtol 0, ignoring stamp.txt)',
        'inputs:',
        '  table: CHANGED (sha256 aaaaaaaaaaaa… before, bbbbbbbbbbbb… now)',
        '  remote: not checked: a remote input (red-connector-http): received again, not compared',
        'image: DIFFERS: sha256:1111 before, sha256:2222 now; the recorded image is gone; ran busybox:latest',
        'engine: same (docker 27.1.1)',
        'exit code: DIFFERS: 0 before, 1 now',
        'outputs:',
        '  CHANGED           table.csv: 5 of 8 cells differ beyond the tolerance',
        '                      row 2, column "y": 1 → 2',
        '                      row 3, column "y": 3 → 4',
        '                      row 4, column "y": 5 → 6',
        '                      … 2 more',
        '  MISSING           gone.txt: the re-run did not write it',
        '  EXTRA             new.txt: only the re-run wrote it',
        'logs:',
        '  stdout: DIFFERS',
        '    --- stdout before',
        '    +++ stdout after',
        '    @@ -1 +1 @@',
        '    -a',
        '    +b',
        '  stderr: same',
        'DRIFT: 1 input changed or missing, another image, another exit code, 1 output file changed, 1 output file missing, 1 output file extra, stdout differs; exit status 1',
        ''
      ].join('\n')
    );
    expect(driftExitStatus(drift)).toBe(1);
  });

  it('says (none) for a run without inputs or outputs, and another engine as drift', () => {
    const r: DriftReport = { ...identical, identical: false, inputs: [], outputs: [], logs: [], engine: { before: 'docker', after: 'process', same: false } };
    const text = formatDriftReport(r);
    expect(text).toContain('inputs:\n  (none)\n');
    expect(text).toContain('outputs:\n  (none)\n');
    expect(text).toContain('engine: DIFFERS: docker before, process now\n');
    expect(summaryLine(r)).toBe('DRIFT: another engine; exit status 1');
  });
});
