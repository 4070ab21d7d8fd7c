// The JupyterLab plugin: the bridge model, the status bar item, and (from the
// panel and streaming modules) the RED panel and the run commands.
import type { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { IStatusBar } from '@jupyterlab/statusbar';
import { BridgeClient } from './handler';
import { RedLabModel } from './model';
import { BridgeStatusItem } from './status';
import { IRedLab, PLUGIN_ID } from './tokens';

const plugin: JupyterFrontEndPlugin<IRedLab> = {
  id: PLUGIN_ID,
  description: 'Run notebooks as containerized experiments (RED files).',
  autoStart: true,
  provides: IRedLab,
  optional: [ISettingRegistry, IStatusBar],
  activate: (app: JupyterFrontEnd, settingRegistry: ISettingRegistry | null, statusBar: IStatusBar | null): IRedLab => {
    const client = new BridgeClient();
    const model = new RedLabModel(client);
    if (settingRegistry) {
      void settingRegistry.load(PLUGIN_ID).then(settings => {
        const apply = () => {
          client.configure({ url: String(settings.get('bridgeUrl').composite ?? ''), token: String(settings.get('bridgeToken').composite ?? '') });
          void model.refresh();
        };
        apply();
        settings.changed.connect(apply);
      });
    }
    if (statusBar) {
      statusBar.registerStatusItem('jupyterlab-redlab:status', { item: new BridgeStatusItem(model), align: 'left', rank: 50 });
    }
    model.start();
    return model;
  }
};

export default plugin;
export * from './tokens';
