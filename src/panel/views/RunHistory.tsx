// The runs of this notebook: state, duration, the values it ran with, image, GPUs, with cancel, re-run and the
// run record.
import * as React from 'react';
import type { RunSummary } from '../../red';
import { formatDuration } from '../../streaming/html';
import type { RedPanelModel } from '../panel-model';
import { isRunning, runDurationMs } from '../run-history';
import { Section } from './common';

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
  });
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
              <div className="jp-RedLab-row jp-RedLab-actions">
                {isRunning(r) ? (
                  <button className="jp-RedLab-link" data-testid="redlab-run-cancel" onClick={() => onCancel(r.id)}>
                    cancel
                  </button>
                ) : (
                  <button className="jp-RedLab-link" data-testid="redlab-run-rerun" disabled={!canRun} onClick={() => onRerun(r.id)}>
                    re-run
                  </button>
                )}
                <button className="jp-RedLab-link" data-testid="redlab-run-record" onClick={() => onOpen(r.id)}>
                  record
                </button>
              </div>
            </li>
          );
        })}
      </ul>
    </Section>
  );
}
