import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { RunCrateSummary } from '../../../src/red';
import { buildDriftReport } from '../../src/drift/report';

const summary = (engine: RunCrateSummary['engine']): RunCrateSummary => ({
  state: 'succeeded',
  exitCode: 0,
  startTime: '2026-12-01T10:00:00.000+00:00',
  endTime: '2026-12-01T10:00:01.000+00:00',
  redFile: 'run-record/red.yml',
  cliFile: 'run-record/cli.cwl',
  image: { url: 'redlab/busybox:1', id: 'sha256:' + '1'.repeat(64), pullable: false },
  engine,
  inputs: [],
  outputs: [],
  parameters: [],
  logs: {}
});

describe('buildDriftReport: the engine', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'redlab-drift-report-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  const parts = { beforeDir: dir, afterDir: dir, atol: 0, rtol: 0, ignore: [] };

  it('another version of the same engine is said but is not drift', async () => {
    const r = await buildDriftReport(summary({ name: 'docker', version: '27.1.1' }), summary({ name: 'docker', version: '28.2.2' }), parts);
    expect(r.engine).toEqual({ before: 'docker 27.1.1', after: 'docker 28.2.2', same: true, detail: 'same engine, another version (27.1.1 → 28.2.2): not counted as drift' });
    expect(r.identical).toBe(true);
  });

  it('another engine is drift', async () => {
    const r = await buildDriftReport(summary({ name: 'docker', version: '28.2.2' }), summary({ name: 'process' }), parts);
    expect(r.engine.same).toBe(false);
    expect(r.identical).toBe(false);
  });
});
