// Status bar item: bridge connected or not, runs queued and running.
import * as React from 'react';
import { ReactWidget, UseSignal } from '@jupyterlab/ui-components';
import type { BridgeStatus, IRedLab } from './tokens';

export function statusText(s: BridgeStatus): { text: string; title: string; ok: boolean } {
  switch (s.kind) {
    case 'connected':
      return {
        text: `RED Lab: ${s.health.runs.running} running, ${s.health.runs.queued} queued`,
        title: `Bridge ${s.health.version}, Docker ${s.health.docker.version ?? ''}${s.health.gpus.length ? `, ${s.health.gpus.length} GPU(s)` : ''}`,
        ok: true
      };
    case 'no-engine':
      return { text: 'RED Lab: no Docker engine', title: s.message, ok: false };
    case 'unreachable':
      return { text: 'RED Lab: bridge offline', title: s.message, ok: false };
    default:
      return { text: 'RED Lab: connecting…', title: 'Looking for the RED Lab bridge', ok: false };
  }
}

export class BridgeStatusItem extends ReactWidget {
  constructor(private readonly model: IRedLab) {
    super();
    this.addClass('jp-RedLab-status');
  }

  render(): JSX.Element {
    return (
      <UseSignal signal={this.model.statusChanged} initialArgs={this.model.status}>
        {(_, status) => {
          const s = statusText(status ?? this.model.status);
          return (
            <span className={s.ok ? 'jp-RedLab-status-ok' : 'jp-RedLab-status-bad'} title={s.title} data-redlab-status={(status ?? this.model.status).kind}>
              {s.text}
            </span>
          );
        }}
      </UseSignal>
    );
  }
}
