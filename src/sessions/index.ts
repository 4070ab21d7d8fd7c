// "Run cell in container" in JupyterLab: the sessions model, the cell executor, the
// commands, the cells' badges and the bound-cell Run, and the session indicator in each
// notebook's toolbar. index.ts calls activateSessions when there is a notebook tracker.
import type { JupyterFrontEnd } from '@jupyterlab/application';
import type { ICommandPalette } from '@jupyterlab/apputils';
import type { DocumentRegistry } from '@jupyterlab/docregistry';
import type { INotebookModel, INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import type { CodeCell } from '@jupyterlab/cells';
import { PromiseDelegate } from '@lumino/coreutils';
import type { IDisposable } from '@lumino/disposable';
import type { BridgeClient } from '../handler';
import { isFinalSessionState } from '../red';
import type { IRedLab } from '../tokens';
import { cellBinding, showBindings } from './cell-binding';
import { CellExecutor } from './cell-executor';
import { codeCellTarget, registerSessionCommands } from './commands';
import type { ProfileDefaults } from './profiles';
import { SessionApi } from './session-handler';
import { SessionIndicator } from './session-indicator';
import { SessionsModel } from './sessions-model';

export interface SessionsOptions {
  app: JupyterFrontEnd;
  client: BridgeClient;
  tracker: INotebookTracker;
  palette: ICommandPalette | null;
  /** The RED panel's defaults (settings), read at each run. */
  defaults: () => ProfileDefaults;
  /** The bridge's status: once it answers, its live sessions are adopted (a reload, a bridge back). */
  redlab: IRedLab;
}

export function activateSessions(o: SessionsOptions): SessionsModel {
  const sessions = new SessionsModel({ api: new SessionApi(o.client) });
  const executor = new CellExecutor(sessions);
  registerSessionCommands({ app: o.app, tracker: o.tracker, palette: o.palette, sessions, executor, defaults: o.defaults });

  o.tracker.forEach(showBindings);
  o.tracker.widgetAdded.connect((_, panel) => showBindings(panel));
  o.app.docRegistry.addWidgetExtension('Notebook', new SessionIndicatorExtension(sessions));

  // Cells still running in a live session that this page does not follow (it was reloaded
  // while they ran): followed to their end, from their records.
  const resume = (panel: NotebookPanel) => {
    for (const cell of panel.content.widgets) {
      const b = cellBinding(cell);
      const session = b?.sessionId ? sessions.get(b.sessionId) : undefined;
      if (!b?.executionId || !session || isFinalSessionState(session.state) || executor.isRunning(cell.model.id)) continue;
      void executor.follow(codeCellTarget(cell as CodeCell), session.id, b.executionId);
    }
  };
  const adopted = new PromiseDelegate<void>();
  o.tracker.widgetAdded.connect((_, panel) => void Promise.all([panel.context.ready, adopted.promise]).then(() => resume(panel)));

  // When the bridge comes to answer (at start, or back after it was away); not at each poll.
  let wasConnected = false;
  const adopt = () => {
    const connected = o.redlab.status.kind === 'connected';
    if (connected && !wasConnected) {
      void sessions
        .refresh()
        .catch(() => undefined)
        .then(() => {
          adopted.resolve();
          o.tracker.forEach(panel => void panel.context.ready.then(() => resume(panel)));
        });
    }
    wasConnected = connected;
  };
  o.redlab.statusChanged.connect(adopt);
  adopt();
  return sessions;
}

class SessionIndicatorExtension implements DocumentRegistry.IWidgetExtension<NotebookPanel, INotebookModel> {
  constructor(private readonly sessions: SessionsModel) {}

  createNew(panel: NotebookPanel): IDisposable {
    const indicator = new SessionIndicator(this.sessions, panel);
    if (!panel.toolbar.insertAfter('redlab-run', 'redlab-sessions', indicator)) panel.toolbar.addItem('redlab-sessions', indicator);
    return indicator;
  }
}
