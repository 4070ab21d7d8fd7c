// RED Lab's commands, their place in the palette ("RED Lab"), the notebook toolbar
// and the cell context menu. The context menu has a `redlab` group (rank
// CONTEXT_MENU_RANK) where the container-sessions plugin's commands (run cell, run
// cell on a GPU, run cells above) appear once a plugin registers them.
import type { JupyterFrontEnd } from '@jupyterlab/application';
import type { ICommandPalette } from '@jupyterlab/apputils';
import type { DocumentRegistry } from '@jupyterlab/docregistry';
import type { INotebookModel, INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import { CommandToolbarButton } from '@jupyterlab/ui-components';
import { Notification } from '@jupyterlab/apputils';
import type { IDisposable } from '@lumino/disposable';
import { redlabIcon } from './icons';
import type { RedLabActions } from './panel/actions';
import type { RunCellManager } from './streaming/run-cells';
import { CommandIDs } from './tokens';

export const PALETTE_CATEGORY = 'RED Lab';
/** Rank of the `redlab` group in the cell context menu. */
export const CONTEXT_MENU_RANK = 60;
const CELL_SELECTOR = '.jp-Notebook .jp-Cell';

export interface CommandsOptions {
  app: JupyterFrontEnd;
  tracker: INotebookTracker;
  actions: RedLabActions;
  /** The run cells (for rebuilding a run record from the bridge). */
  runCells: RunCellManager;
  palette: ICommandPalette | null;
  /** Opens the RED panel in the left sidebar. */
  openPanel: () => void;
}

export function registerCommands({ app, tracker, actions, runCells, palette, openPanel }: CommandsOptions): void {
  const { commands } = app;
  const hasNotebook = () => tracker.currentWidget !== null;

  commands.addCommand(CommandIDs.openPanel, {
    label: 'Open the RED panel',
    caption: 'The experiment RED Lab proposes for the active notebook',
    icon: redlabIcon,
    execute: () => openPanel()
  });
  commands.addCommand(CommandIDs.runNotebook, {
    label: 'Run notebook as container experiment',
    caption: 'Save the notebook, run it in a container with the RED panel’s settings, and stream the run into a new cell',
    icon: args => (args.toolbar ? redlabIcon : undefined),
    isEnabled: hasNotebook,
    execute: () => actions.runNotebook()
  });
  commands.addCommand(CommandIDs.exportRed, {
    label: 'Export RED…',
    caption: 'Write <notebook>.red.yml and the runner next to the notebook',
    isEnabled: hasNotebook,
    execute: () => actions.exportRed()
  });
  commands.addCommand(CommandIDs.importRed, {
    label: 'Import RED…',
    caption: 'Read a RED file into the experiment of the active notebook',
    isEnabled: hasNotebook,
    execute: args => actions.importRed(undefined, typeof args.path === 'string' ? args.path : undefined)
  });
  commands.addCommand(CommandIDs.cancelRun, {
    label: 'Cancel the RED Lab run',
    caption: 'The run of the selected run cell, or the latest running one of this notebook',
    execute: args => actions.cancelRun(typeof args.runId === 'string' ? args.runId : undefined)
  });

  commands.addCommand(CommandIDs.rebuildRunCell, {
    label: 'Rebuild the run record from the bridge',
    caption: 'Write the selected run cell again from its run on the bridge: state, log, outputs and previews',
    isEnabled: () => Boolean(tracker.currentWidget && runCells.activeRunId(tracker.currentWidget)),
    execute: async () => {
      const panel = tracker.currentWidget;
      if (!panel) return;
      try {
        const runId = await runCells.rebuild(panel);
        Notification.info(`Run record ${runId}: rebuilding from the bridge`, { autoClose: 3000 });
      } catch (err) {
        Notification.error(`The run record was not rebuilt (it stays as it is): ${(err as Error).message}`, { autoClose: 8000 });
      }
    }
  });

  if (palette) {
    for (const command of [CommandIDs.openPanel, CommandIDs.runNotebook, CommandIDs.exportRed, CommandIDs.importRed, CommandIDs.cancelRun, CommandIDs.rebuildRunCell]) {
      palette.addItem({ command, category: PALETTE_CATEGORY });
    }
  }

  // Notebook toolbar: the run button.
  app.docRegistry.addWidgetExtension('Notebook', new RunToolbarExtension(app));

  // Cell context menu, group `redlab`.
  app.contextMenu.addItem({ type: 'separator', selector: CELL_SELECTOR, rank: CONTEXT_MENU_RANK });
  app.contextMenu.addItem({ command: CommandIDs.runNotebook, selector: CELL_SELECTOR, rank: CONTEXT_MENU_RANK });
  app.contextMenu.addItem({ command: CommandIDs.cancelRun, selector: CELL_SELECTOR, rank: CONTEXT_MENU_RANK });
  app.contextMenu.addItem({ command: CommandIDs.rebuildRunCell, selector: CELL_SELECTOR, rank: CONTEXT_MENU_RANK });
  addSessionCommandsWhenRegistered(app);
}

/** The container-sessions commands join the group when (and if) a plugin registers them. */
function addSessionCommandsWhenRegistered(app: JupyterFrontEnd): void {
  const sessionCommands = [CommandIDs.runCell, CommandIDs.runCellGpu, CommandIDs.runCellsAbove, CommandIDs.toggleCellBinding];
  const added = new Set<string>();
  const add = (id: string) => {
    if (added.has(id) || !app.commands.hasCommand(id)) return;
    added.add(id);
    app.contextMenu.addItem({ command: id, selector: CELL_SELECTOR, rank: CONTEXT_MENU_RANK });
  };
  sessionCommands.forEach(add);
  app.commands.commandChanged.connect((_, change) => {
    if (change.type === 'added' && change.id && sessionCommands.includes(change.id)) add(change.id);
  });
}

class RunToolbarExtension implements DocumentRegistry.IWidgetExtension<NotebookPanel, INotebookModel> {
  constructor(private readonly app: JupyterFrontEnd) {}

  createNew(panel: NotebookPanel): IDisposable {
    const button = new CommandToolbarButton({
      commands: this.app.commands,
      id: CommandIDs.runNotebook,
      args: { toolbar: true },
      icon: redlabIcon,
      label: ''
    });
    button.addClass('jp-RedLab-toolbarButton');
    button.node.dataset.testid = 'redlab-toolbar-run';
    if (!panel.toolbar.insertAfter('cellType', 'redlab-run', button)) panel.toolbar.addItem('redlab-run', button);
    return button;
  }
}
