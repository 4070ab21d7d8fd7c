// The notebook toolbar's view of its container sessions: one chip per session with its
// profile, state (starting, idle, busy, dead, stopped), image, GPUs, and a stop button
// (on an ended session: dismiss). Pure React, so tests render it without JupyterLab.
import * as React from 'react';
import type { SessionInfo } from '../red';

export interface SessionChip {
  info: SessionInfo;
  /** The events stream is open (false: reconnecting; the state may be behind). */
  connected: boolean;
}

export interface SessionIndicatorProps {
  sessions: readonly SessionChip[];
  onStop: (sessionId: string) => void;
}

/** One line about a session for its chip's tooltip. */
export function sessionTitle({ info, connected }: SessionChip): string {
  const lines = [`Container session "${info.profile}" (${info.id}): ${info.state}`, `Image: ${info.image}${info.imageId ? ` (${info.imageId.slice(0, 19)})` : ''}`];
  if (info.gpus.length) lines.push(`GPU: ${info.gpus.map(g => `${g.name} (${g.memoryTotalMb} MiB)`).join(', ')}`);
  if (info.python) lines.push(`Python ${info.python}`);
  lines.push(`Executions: ${info.executionCount}`);
  if (info.error) lines.push(`Why it ended: ${info.error}`);
  if (!connected && (info.state === 'starting' || info.state === 'idle' || info.state === 'busy')) lines.push('Reconnecting to the bridge…');
  return lines.join('\n');
}

export function SessionIndicatorView({ sessions, onStop }: SessionIndicatorProps): JSX.Element | null {
  if (!sessions.length) return null;
  return (
    <span className="jp-RedLab-sessions">
      {sessions.map(chip => {
        const { info } = chip;
        const ended = info.state === 'dead' || info.state === 'stopped';
        const gpu = info.gpus.length ? ` · GPU ${info.gpus.map(g => g.index).join(',')}` : '';
        return (
          <span
            key={info.id}
            className={`jp-RedLab-session jp-RedLab-session-${info.state}${chip.connected || ended ? '' : ' jp-RedLab-session-reconnecting'}`}
            data-redlab-session-state={info.state}
            data-redlab-session-profile={info.profile}
            title={sessionTitle(chip)}
          >
            <span className="jp-RedLab-session-dot" />
            <span className="jp-RedLab-session-label">
              {info.profile} · {info.state}
              {gpu}
            </span>
            <button
              type="button"
              className="jp-RedLab-session-stop"
              data-testid="redlab-session-stop"
              title={ended ? 'Dismiss' : 'Stop this container session (its variables are gone)'}
              aria-label={ended ? `Dismiss session ${info.profile}` : `Stop session ${info.profile}`}
              onClick={() => onStop(info.id)}
            >
              {ended ? '×' : '■'}
            </button>
          </span>
        );
      })}
    </span>
  );
}
