// Status bar item: bridge connected or not, runs queued and running. It re-renders on
// every change of the bridge status and of the run list, which the runs' event streams
// update as each state event arrives (model.ts): no waiting for a poll.
import * as React from 'react';
import { ReactWidget } from '@jupyterlab/ui-components';
import type { RedLabModel } from './model';
import type { HealthInfo } from './red';
import type { BridgeStatus } from './tokens';

export interface RunCounts {
  queued: number;
  running: number;
}

export function statusText(s: BridgeStatus, counts?: RunCounts): { text: string; title: string; ok: boolean } {
  switch (s.kind) {
    case 'connected': {
      const { running, queued } = counts ?? s.health.runs;
      return {
        text: `RED Lab: ${running} running, ${queued} queued`,
        title: `Bridge ${s.health.version}, ${engineSummary(s.health)}${s.health.gpus.length ? `, ${s.health.gpus.length} GPU(s)` : ''}`,
        ok: true
      };
    }
    case 'no-engine':
      return { text: 'RED Lab: no engine', title: s.message, ok: false };
    case 'unreachable':
      return { text: 'RED Lab: bridge offline', title: s.message, ok: false };
    default:
      return { text: 'RED Lab: connecting…', title: 'Looking for the RED Lab bridge', ok: false };
  }
}

/** The engines that can run (`Docker 26.1.5`, `process`), or Docker's version from a bridge that lists none. */
function engineSummary(h: HealthInfo): string {
  const available = (h.engines ?? []).filter(e => e.available);
  if (!h.engines) return `Docker ${h.docker.version ?? ''}`;
  return available.map(e => (e.name === 'docker' ? `Docker ${e.version ?? h.docker.version ?? ''}` : `${e.name}${e.version ? ` ${e.version}` : ''}`)).join(', ');
}

export class BridgeStatusItem extends ReactWidget {
  constructor(private readonly model: Pick<RedLabModel, 'status' | 'statusChanged' | 'runsChanged' | 'counts'>) {
    super();
    this.addClass('jp-RedLab-status');
    model.statusChanged.connect(() => this.update(), this);
    model.runsChanged.connect(() => this.update(), this);
  }

  render(): JSX.Element {
    const status = this.model.status;
    const s = statusText(status, this.model.counts);
    return (
      <span className={s.ok ? 'jp-RedLab-status-ok' : 'jp-RedLab-status-bad'} title={s.title} data-redlab-status={status.kind}>
        {s.text}
      </span>
    );
  }
}
