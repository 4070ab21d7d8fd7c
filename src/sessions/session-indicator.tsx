// The session indicator in each notebook's toolbar (SessionIndicatorView): it follows the
// SessionsModel and the notebook's path (a rename); Widget.dispose disconnects it.
import * as React from 'react';
import { Notification } from '@jupyterlab/apputils';
import { ReactWidget } from '@jupyterlab/ui-components';
import type { NotebookPanel } from '@jupyterlab/notebook';
import { SessionIndicatorView } from './session-indicator-view';
import type { SessionsModel } from './sessions-model';

export class SessionIndicator extends ReactWidget {
  constructor(
    private readonly sessions: SessionsModel,
    private readonly panel: NotebookPanel
  ) {
    super();
    this.addClass('jp-RedLab-sessionIndicator');
    this.node.dataset.testid = 'redlab-session-indicator';
    sessions.changed.connect(() => this.update(), this);
    panel.context.pathChanged.connect(() => this.update(), this);
  }

  render(): JSX.Element | null {
    const chips = this.sessions.forNotebook(this.panel.context.path).map(info => ({ info, connected: this.sessions.isConnected(info.id) }));
    return (
      <SessionIndicatorView
        sessions={chips}
        onStop={id =>
          void this.sessions.stop(id).catch(err => Notification.error(`RED Lab: the container session was not stopped: ${(err as Error).message}`, { autoClose: 8000 }))
        }
      />
    );
  }
}
