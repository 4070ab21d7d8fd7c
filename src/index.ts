// The JupyterLab plugin: the bridge model and the status bar item; with a notebook
// tracker, the RED panel (left sidebar), the run commands and the run cells that
// streams fill.
import { ILayoutRestorer, type JupyterFrontEnd, type JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import { IDefaultFileBrowser, type FileBrowser } from '@jupyterlab/filebrowser';
import { INotebookTracker, type NotebookPanel } from '@jupyterlab/notebook';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { IStatusBar } from '@jupyterlab/statusbar';
import { registerCommands } from './commands';
import { BridgeClient } from './handler';
import { RedLabModel } from './model';
import { RedLabActions } from './panel/actions';
import { RedPanelModel } from './panel/panel-model';
import { keepExperimentsInNotebooks } from './panel/notebook-experiments';
import { watchParameters } from './panel/parameters-watch';
import { SessionVariables } from './panel/session-variables';
import { RedPanelWidget } from './panel/widget';
import { Workspace } from './panel/workspace';
import { BridgeStatusItem } from './status';
import { RunCellManager } from './streaming/run-cells';
import { activateSessions } from './sessions';
import { IRedLab, PLUGIN_ID, type IRedLabSettings } from './tokens';

/** The schema's defaults (schema/plugin/plugin.json), until the settings are read. */
const DEFAULT_SETTINGS: IRedLabSettings = {
  bridgeUrl: '',
  bridgeToken: '',
  defaultImage: 'redlab/debian-python:12',
  defaultEngine: '',
  defaultRamMb: 1024,
  defaultGpus: 0,
  previewTypes: ['png', 'svg', 'csv', 'json'],
  logLineLimit: 500,
  statusPollSeconds: 30
};

function readSettings(settings: ISettingRegistry.ISettings): IRedLabSettings {
  const get = <K extends keyof IRedLabSettings>(key: K): IRedLabSettings[K] => (settings.get(key).composite ?? DEFAULT_SETTINGS[key]) as IRedLabSettings[K];
  return {
    bridgeUrl: String(get('bridgeUrl')),
    bridgeToken: String(get('bridgeToken')),
    defaultImage: String(get('defaultImage')),
    defaultEngine: String(get('defaultEngine')),
    defaultRamMb: Number(get('defaultRamMb')),
    defaultGpus: Number(get('defaultGpus')),
    previewTypes: [...get('previewTypes')],
    logLineLimit: Number(get('logLineLimit')),
    statusPollSeconds: Number(get('statusPollSeconds'))
  };
}

const plugin: JupyterFrontEndPlugin<IRedLab> = {
  id: PLUGIN_ID,
  description: 'Run notebooks as containerized experiments (RED files).',
  autoStart: true,
  provides: IRedLab,
  optional: [ISettingRegistry, IStatusBar, INotebookTracker, ICommandPalette, IDefaultFileBrowser, ILayoutRestorer],
  activate: (
    app: JupyterFrontEnd,
    settingRegistry: ISettingRegistry | null,
    statusBar: IStatusBar | null,
    tracker: INotebookTracker | null,
    palette: ICommandPalette | null,
    fileBrowser: FileBrowser | null,
    restorer: ILayoutRestorer | null
  ): IRedLab => {
    const client = new BridgeClient();
    const model = new RedLabModel(client);
    const settings: IRedLabSettings = { ...DEFAULT_SETTINGS };
    if (settingRegistry) {
      void settingRegistry.load(PLUGIN_ID).then(loaded => {
        const apply = () => {
          Object.assign(settings, readSettings(loaded));
          client.configure({ url: settings.bridgeUrl, token: settings.bridgeToken });
          // Refreshes now, then polls at the set interval (the fallback: streams drive the status).
          model.start(settings.statusPollSeconds * 1000);
        };
        apply();
        loaded.changed.connect(apply);
      });
    }
    if (statusBar) {
      statusBar.registerStatusItem('jupyterlab-redlab:status', { item: new BridgeStatusItem(model), align: 'left', rank: 50 });
    }
    if (tracker) activateNotebookSupport({ app, client, model, settings, tracker, palette, fileBrowser, restorer });
    model.start(settings.statusPollSeconds * 1000);
    return model;
  }
};

interface NotebookSupportOptions {
  app: JupyterFrontEnd;
  client: BridgeClient;
  model: RedLabModel;
  /** Kept current by the settings registry. */
  settings: IRedLabSettings;
  tracker: INotebookTracker;
  palette: ICommandPalette | null;
  fileBrowser: FileBrowser | null;
  restorer: ILayoutRestorer | null;
}

/** The RED panel, the commands and the run cells. */
function activateNotebookSupport(o: NotebookSupportOptions): void {
  const { app, client, model, settings, tracker } = o;
  const defaults = () => ({ image: settings.defaultImage, ramMb: settings.defaultRamMb, gpus: settings.defaultGpus, engine: settings.defaultEngine });
  const panelModel = new RedPanelModel(model.api, defaults);
  const runCells = new RunCellManager({
    client,
    tracker,
    settings: () => ({ logLineLimit: settings.logLineLimit, previewTypes: settings.previewTypes }),
    // Called only once streams run, after `actions` exists.
    onBridgeDown: message => actions.notifyBridgeDown(message),
    onFinished: () => void model.refreshRuns(),
    onRunState: (runId, state) => model.noteRunState(runId, state)
  });
  const openPanel = () => app.shell.activateById(widget.id);
  const experimentMetadata = keepExperimentsInNotebooks(panelModel, tracker);
  const actions = new RedLabActions({
    app,
    tracker,
    api: model.api,
    redlab: model,
    panelModel,
    workspace: new Workspace(app.serviceManager.contents),
    variables: new SessionVariables(),
    runCells,
    fileBrowser: o.fileBrowser,
    defaults,
    revealPanel: openPanel,
    flushExperiment: path => experimentMetadata.flush(path)
  });
  const widget = new RedPanelWidget({ panel: panelModel, redlab: model, actions });

  // The panel follows the active notebook (and its renames).
  const follow = () => {
    const panel = tracker.currentWidget;
    if (!panel) return panelModel.setNotebook(null);
    void panel.context.ready.then(() => {
      if (tracker.currentWidget === panel) panelModel.setNotebook({ path: panel.context.path, toJSON: () => panel.content.model?.toJSON() });
    });
  };
  tracker.currentChanged.connect(follow);
  const watchNotebook = (panel: NotebookPanel) => {
    let path = panel.context.path;
    panel.context.pathChanged.connect((_, next) => {
      panelModel.rename(path, next);
      experimentMetadata.rename(path, next);
      path = next;
    });
    // Edits of the parameters cell reach the panel (the user's own choices stay).
    void panel.context.ready.then(() => {
      const stop = watchParameters(panel, () => panelModel.reinfer({ path: panel.context.path, toJSON: () => panel.content.model?.toJSON() }));
      panel.disposed.connect(stop);
    });
  };
  tracker.widgetAdded.connect((_, panel) => watchNotebook(panel));
  tracker.forEach(watchNotebook);
  follow();

  app.shell.add(widget, 'left', { rank: 700 });
  o.restorer?.add(widget, widget.id);
  registerCommands({ app, tracker, actions, runCells, palette: o.palette, openPanel });
  activateSessions({ app, client, tracker, palette: o.palette, defaults, redlab: model });
}

export default plugin;
export * from './tokens';
