// The runs of this notebook: state, duration, the values it ran with, image, GPUs, with cancel, reproduce
// (a re-run, then its drift report against the original in its entry), "Export record…" and the run record.
import * as React from 'react';
import type { RunSummary } from '../../red';
import { formatDuration } from '../../streaming/html';
import type { BatchDrift, RedPanelModel, RecordZip } from '../panel-model';
import { reproducedRunOf } from '../rerun';
import { isRunning, runDurationMs } from '../run-history';
import { Section } from './common';
import { DriftView } from './DriftView';

export interface RunHistoryProps {
  runs: readonly RunSummary[];
  panel: RedPanelModel;
  canRun: boolean;
  onCancel: (id: string) => void;
  onRerun: (id: string) => void;
  onOpen: (id: string) => void;
}

const SHOWN = 20;

export function RunHistory({ runs, panel, canRun, onCancel, onRerun, onOpen }: RunHistoryProps): JSX.Element {
  const shown = runs.slice(0, SHOWN);
  React.useEffect(() => {
    void panel.loadRunFacts(shown.map(r => r.id));
    // A finished re-run is compared with the run it reproduces (once: loadDrift remembers).
    for (const r of shown) {
      const original = reproducedRunOf(r);
      if (original && !isRunning(r)) void panel.loadDrift(r.id, original, { batches: r.batchCount });
    }
  });
  const startedAt = (id: string) => {
    const run = runs.find(x => x.id === id);
    return run ? new Date(run.createdAt).toLocaleString() : id;
  };
  const exportRecord = async (id: string, withoutInputs = false) => {
    const zip = await panel.exportRecord(id, withoutInputs);
    if (zip) saveZip(zip);
  };
  return (
    <Section title={`Runs of this notebook (${runs.length})`} testId="redlab-history">
      {shown.length === 0 ? <div className="jp-RedLab-muted">No runs yet.</div> : null}
      <ul className="jp-RedLab-runs">
        {shown.map(r => {
          const facts = panel.runFacts(r.id);
          const ms = runDurationMs(r);
          return (
            <li key={r.id} className="jp-RedLab-run-row" data-testid="redlab-run-row" data-run-id={r.id} data-state={r.state}>
              <div className="jp-RedLab-row">
                <span className={`jp-RedLab-badge jp-RedLab-badge-${r.state}`}>{r.state}</span>
                <span className="jp-RedLab-grow jp-RedLab-muted" title={r.id}>
                  {new Date(r.createdAt).toLocaleString()} · {ms !== undefined ? formatDuration(ms) : ''}
                </span>
              </div>
              {facts?.values ? (
                <div className="jp-RedLab-run-values jp-RedLab-ellipsis" data-testid="redlab-run-values" title={facts.values}>
                  {facts.values}
                </div>
              ) : null}
              <div className="jp-RedLab-muted jp-RedLab-ellipsis" title={r.error}>
                {r.image?.url ?? facts?.image ?? ''}
                {facts?.gpus ? ` · ${facts.gpus}` : ''}
                {r.error ? ` · ${r.error}` : ''}
              </div>
              <ReproducedFrom run={r} panel={panel} startedAt={startedAt} />
              <div className="jp-RedLab-row jp-RedLab-actions">
                {isRunning(r) ? (
                  <button className="jp-RedLab-link" data-testid="redlab-run-cancel" onClick={() => onCancel(r.id)}>
                    cancel
                  </button>
                ) : (
                  <>
                    <button
                      className="jp-RedLab-link"
                      data-testid="redlab-run-rerun"
                      disabled={!canRun}
                      title="Run it again as it ran (the same RED, inputs and image) and report what differs"
                      onClick={() => onRerun(r.id)}
                    >
                      reproduce
                    </button>
                    <button
                      className="jp-RedLab-link"
                      data-testid="redlab-run-export"
                      disabled={panel.recordExport(r.id)?.status === 'exporting'}
                      title="Download the run's record as a zip: its Process Run Crate with outputs, small inputs, CITATION.cff and codemeta.json"
                      onClick={() => void exportRecord(r.id)}
                    >
                      {panel.recordExport(r.id)?.status === 'exporting' ? 'exporting…' : 'export record…'}
                    </button>
                  </>
                )}
                <button className="jp-RedLab-link" data-testid="redlab-run-record" onClick={() => onOpen(r.id)}>
                  record
                </button>
              </div>
              <ExportError id={r.id} panel={panel} onRetry={() => void exportRecord(r.id, true)} />
            </li>
          );
        })}
      </ul>
    </Section>
  );
}

/** A re-run's line: which run it reproduces, and when it has ended its drift report against it. */
function ReproducedFrom({ run, panel, startedAt }: { run: RunSummary; panel: RedPanelModel; startedAt: (id: string) => string }): JSX.Element | null {
  const original = reproducedRunOf(run);
  if (!original) return null;
  const drift = panel.drift(run.id);
  return (
    <div className="jp-RedLab-drift-box" data-testid="redlab-run-drift">
      <div className="jp-RedLab-muted" title={original}>
        Reproduces the run of {startedAt(original)}
        {isRunning(run) ? ': what differs is shown when it ends.' : ''}
      </div>
      {isRunning(run) ? null : !drift || drift.status === 'loading' ? (
        <div className="jp-RedLab-muted" data-testid="redlab-drift-loading">
          Comparing with the original run…
        </div>
      ) : drift.status === 'error' ? (
        <div className="jp-RedLab-drift-error" role="alert" data-testid="redlab-drift-error">
          {drift.message}{' '}
          <button className="jp-RedLab-link" onClick={() => void panel.loadDrift(run.id, original, { batches: run.batchCount, retry: true })}>
            try again
          </button>
        </div>
      ) : drift.reports.length === 1 && drift.reports[0].batch === undefined ? (
        <DriftView report={drift.reports[0].report} />
      ) : (
        <BatchDrifts reports={drift.reports} batchCount={run.batchCount} />
      )}
    </div>
  );
}

/** A batch run's reports, batch by batch, under one line that counts the identical ones. */
function BatchDrifts({ reports, batchCount }: { reports: readonly BatchDrift[]; batchCount: number }): JSX.Element {
  const same = reports.filter(r => r.report.identical).length;
  const shown = reports.length < batchCount ? ` (the first ${reports.length} compared)` : '';
  return (
    <div data-testid="redlab-drift-batches">
      <div className="jp-RedLab-drift-summary">{same === reports.length ? `Reproduced: every batch identical to the original run${shown}.` : `${reports.length - same} of ${reports.length} batches differ from the original run${shown}.`}</div>
      {reports.map(({ batch, report }) => (
        <div key={batch ?? 0} data-batch={batch}>
          <div className="jp-RedLab-muted">
            Batch {(batch ?? 0) + 1} of {batchCount}
          </div>
          <DriftView report={report} />
        </div>
      ))}
    </div>
  );
}

/** Why "Export record…" failed, with "export without inputs" when that helps. */
function ExportError({ id, panel, onRetry }: { id: string; panel: RedPanelModel; onRetry: () => void }): JSX.Element | null {
  const state = panel.recordExport(id);
  if (state?.status !== 'error') return null;
  return (
    <div className="jp-RedLab-drift-error" role="alert" data-testid="redlab-export-error">
      {state.message}{' '}
      {state.withoutInputs ? (
        <button className="jp-RedLab-link" data-testid="redlab-export-without-inputs" onClick={onRetry}>
          export without inputs
        </button>
      ) : null}
      <button className="jp-RedLab-link" onClick={() => panel.clearRecordExport(id)}>
        close
      </button>
    </div>
  );
}

/** Hands the zip to the browser as a download named as the bridge named it. */
function saveZip({ blob, fileName }: RecordZip): void {
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = fileName;
  a.style.display = 'none';
  document.body.appendChild(a);
  a.click();
  a.remove();
  // The download has its own copy once it started.
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}
