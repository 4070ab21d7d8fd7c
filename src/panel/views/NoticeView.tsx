// The panel's latest notice: import warnings, an export done, why a run did not start.
import * as React from 'react';
import type { Notice } from '../panel-model';

export function NoticeView({ notice, onClose }: { notice: Notice; onClose: () => void }): JSX.Element {
  return (
    <div className={`jp-RedLab-notice jp-RedLab-notice-${notice.kind}`} data-testid="redlab-notice" role={notice.kind === 'error' ? 'alert' : 'status'}>
      <div className="jp-RedLab-row">
        <strong className="jp-RedLab-grow">{notice.title}</strong>
        <button className="jp-RedLab-link" title="Dismiss" onClick={onClose}>
          ✕
        </button>
      </div>
      {notice.lines?.length ? (
        <ul>
          {notice.lines.map((l, i) => (
            <li key={i}>{l}</li>
          ))}
        </ul>
      ) : null}
    </div>
  );
}
