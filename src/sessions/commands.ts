// The container-cell commands: run the selected cells in the notebook's container (or GPU
// container), run the cells above, Run of bound cells (the Shift+Enter / Ctrl+Enter /
// Alt+Enter shortcuts on BOUND_NOTEBOOK_CLASS), bind/unbind, the session's interrupt,
// restart and stop, and the profile's image. Cells run one after another; a cell that
// fails stops those after it, as a kernel does. Unbound cells of a Run go to the local
// kernel exactly as JupyterLab runs them (NotebookActions), so they stay untouched.
import type { JupyterFrontEnd } from '@jupyterlab/application';
import { InputDialog, Notification, type ICommandPalette } from '@jupyterlab/apputils';
import type { Cell, CodeCell } from '@jupyterlab/cells';
import type * as nbformat from '@jupyterlab/nbformat';
import { NotebookActions, type INotebookTracker, type NotebookPanel } from '@jupyterlab/notebook';
import { PALETTE_CATEGORY } from '../commands';
import { isFinalSessionState, type SessionInfo } from '../red';
import { CommandIDs } from '../tokens';
import { CELL_METADATA_KEY } from './binding';
import { cellBinding } from './cell-binding';
import type { CellExecutor, CellTarget } from './cell-executor';
import { containerCellIcon, gpuCellIcon } from './icons';
import { DEFAULT_PROFILE, GPU_PROFILE, ProfileError, resolveProfile, wantsGpu, withProfileChange, type ProfileDefaults, type SessionProfile } from './profiles';
import type { SessionsModel } from './sessions-model';

export interface SessionCommandsOptions {
  app: JupyterFrontEnd;
  tracker: INotebookTracker;
  palette: ICommandPalette | null;
  sessions: SessionsModel;
  executor: CellExecutor;
  /** The RED panel's defaults (settings). */
  defaults: () => ProfileDefaults;
}

/** What a Run of bound cells does after sending them, as the stock command it stands for. */
export const RUN_THEN: Record<string, string> = {
  'select-next': 'notebook:run-cell-and-select-next',
  stay: 'notebook:run-cell',
  'insert-below': 'notebook:run-cell-and-insert-below'
};

/** A code cell as the executor writes it; its source is read now, as a kernel run reads it. */
export function codeCellTarget(cell: CodeCell): CellTarget {
  const model = cell.model;
  const code = model.sharedModel.getSource();
  return {
    id: model.id,
    code,
    get isDisposed() {
      return model.isDisposed;
    },
    clearOutputs: () => {
      model.outputs.clear();
      // Outputs of the user's own code, as a kernel run makes them.
      model.trusted = true;
    },
    addOutput: output => model.outputs.add(output as unknown as nbformat.IOutput),
    setExecutionCount: count => {
      model.executionCount = count;
    },
    setRunning: running => {
      model.executionState = running ? 'running' : 'idle';
    },
    setBinding: binding => model.setMetadata(CELL_METADATA_KEY, { ...binding })
  };
}

export function registerSessionCommands(o: SessionCommandsOptions): void {
  const { app, tracker, sessions, executor } = o;
  const { commands } = app;
  const notebook = () => tracker.currentWidget;
  const hasNotebook = () => tracker.currentWidget !== null;

  const profileOf = (panel: NotebookPanel, name: string): SessionProfile | ProfileError => {
    try {
      return resolveProfile(name, o.defaults(), panel.content.model?.getMetadata('redlab'));
    } catch (err) {
      if (err instanceof ProfileError) return err;
      throw err;
    }
  };

  /** Runs `cells` in order: `profile(cell)` names its container profile, null sends it to the local kernel. */
  const runCells = async (panel: NotebookPanel, cells: readonly Cell[], profile: (cell: Cell) => string | null): Promise<boolean> => {
    // Sources are read now (the user may type on while they run).
    const plan = cells.map(cell => {
      const name = cell.model.type === 'code' ? profile(cell) : null;
      return { cell, name, target: name !== null ? codeCellTarget(cell as CodeCell) : undefined };
    });
    for (const { cell, name, target } of plan) {
      if (cell.isDisposed) continue;
      if (name === null || !target) {
        if (!(await NotebookActions.runCells(panel.content, [cell], panel.sessionContext))) return false;
        continue;
      }
      const outcome = await executor.run(target, profileOf(panel, name), panel.context.path).done;
      if (outcome.state !== 'ok') return false;
    }
    return true;
  };

  const selectedCells = (panel: NotebookPanel): Cell[] => panel.content.widgets.filter(c => panel.content.isSelectedOrActive(c));
  const codeCells = (cells: readonly Cell[]) => cells.filter(c => c.model.type === 'code');

  // The profile "Run cell in container" uses: the cell's own, unless it is a GPU one.
  const cpuProfile = (cell: Cell) => {
    const b = cellBinding(cell);
    return b && !b.gpu ? b.profile : DEFAULT_PROFILE;
  };
  const gpuProfile = (cell: Cell) => {
    const b = cellBinding(cell);
    return b?.gpu ? b.profile : GPU_PROFILE;
  };
  const runSelected = (args: Record<string, unknown>, pick: (cell: Cell) => string) => {
    const panel = notebook();
    if (!panel) return;
    const cells = codeCells(selectedCells(panel));
    if (!cells.length) {
      Notification.warning('RED Lab: only code cells run in a container; select a code cell.', { autoClose: 5000 });
      return;
    }
    const named = typeof args.profile === 'string' && args.profile ? args.profile : undefined;
    return runCells(panel, cells, cell => named ?? pick(cell));
  };

  commands.addCommand(CommandIDs.runCell, {
    label: 'Run cell in container',
    caption: 'Run the selected cells in this notebook’s container session (started when needed; variables kept between cells); the cell stays bound to it',
    icon: containerCellIcon,
    isEnabled: hasNotebook,
    execute: args => runSelected(args, cpuProfile)
  });
  commands.addCommand(CommandIDs.runCellGpu, {
    label: 'Run cell on GPU container',
    caption: 'Run the selected cells in this notebook’s GPU container session (the RED panel’s GPUs, else one GPU)',
    icon: gpuCellIcon,
    isEnabled: hasNotebook,
    execute: args => runSelected(args, gpuProfile)
  });
  commands.addCommand(CommandIDs.runCellsAbove, {
    label: 'Run cells above in container',
    caption: 'Run every code cell above the active one in the active cell’s container (its profile, else the default)',
    isEnabled: hasNotebook,
    execute: args => {
      const panel = notebook();
      if (!panel) return;
      const nb = panel.content;
      const named = typeof args.profile === 'string' && args.profile ? args.profile : (cellBinding(nb.activeCell)?.profile ?? DEFAULT_PROFILE);
      const above = codeCells(nb.widgets.slice(0, nb.activeCellIndex));
      return runCells(panel, above, () => named);
    }
  });

  commands.addCommand(CommandIDs.runBoundCells, {
    label: args => `Run cell (bound cells in their container)${args.then === 'select-next' ? ' and select next' : args.then === 'insert-below' ? ' and insert below' : ''}`,
    caption: 'Run the selected cells: those bound to a container profile in its container, the others on the local kernel',
    execute: args => {
      const then = typeof args.then === 'string' && args.then in RUN_THEN ? args.then : 'stay';
      const panel = notebook();
      const cells = panel ? selectedCells(panel) : [];
      if (!panel || !cells.some(c => cellBinding(c))) return commands.execute(RUN_THEN[then]);
      const nb = panel.content;
      const last = Math.max(...cells.map(c => nb.widgets.indexOf(c)));
      const running = runCells(panel, cells, c => cellBinding(c)?.profile ?? null);
      // Where the stock commands leave the selection, at once (the cells run on).
      nb.deselectAll();
      nb.activeCellIndex = last;
      nb.mode = 'command';
      if (then === 'select-next') {
        if (last === nb.widgets.length - 1) {
          const defaultCell = nb.notebookConfig.defaultCell;
          nb.model?.sharedModel.insertCell(nb.widgets.length, { cell_type: defaultCell, metadata: defaultCell === 'code' ? { trusted: true } : {} });
          nb.activeCellIndex = last + 1;
          nb.mode = 'edit';
        } else nb.activeCellIndex = last + 1;
      } else if (then === 'insert-below') {
        NotebookActions.insertBelow(nb);
      }
      if (nb.activeCell) void nb.scrollToCell(nb.activeCell, 'smart');
      return running;
    }
  });

  commands.addCommand(CommandIDs.toggleCellBinding, {
    label: 'Bind cell to container profile',
    caption: 'Bound cells run in their container on the ordinary Run (Shift+Enter); unbound cells run on the local kernel',
    isEnabled: hasNotebook,
    isToggled: () => Boolean(cellBinding(tracker.activeCell)),
    execute: args => {
      const panel = notebook();
      if (!panel) return;
      const cells = codeCells(selectedCells(panel));
      const unbind = Boolean(cellBinding(panel.content.activeCell)) && typeof args.profile !== 'string';
      if (unbind) {
        for (const c of cells) c.model.deleteMetadata(CELL_METADATA_KEY);
        return;
      }
      const name = typeof args.profile === 'string' && args.profile ? args.profile : DEFAULT_PROFILE;
      const profile = profileOf(panel, name);
      if (profile instanceof ProfileError) {
        Notification.error(`RED Lab: ${profile.message}`, { autoClose: 8000 });
        return;
      }
      for (const c of cells) c.model.setMetadata(CELL_METADATA_KEY, { profile: name, image: profile.image, ...(wantsGpu(profile) ? { gpu: true } : {}) });
    }
  });

  /** The session a session command acts on: args.sessionId, else the active cell's, else the notebook's live one (a busy one first). */
  const targetSession = (args: Record<string, unknown>): SessionInfo | undefined => {
    if (typeof args.sessionId === 'string') return sessions.get(args.sessionId);
    const panel = notebook();
    if (!panel) return undefined;
    const live = sessions.forNotebook(panel.context.path).filter(s => !isFinalSessionState(s.state));
    const bound = cellBinding(panel.content.activeCell);
    return (bound && live.find(s => s.profile === bound.profile)) ?? live.find(s => s.state === 'busy') ?? live[0];
  };
  const hasSession = () => targetSession({}) !== undefined;
  const sessionCommand = (id: string, label: string, caption: string, act: (s: SessionInfo) => Promise<void>, done: string) =>
    commands.addCommand(id, {
      label,
      caption,
      isEnabled: hasSession,
      execute: async args => {
        const session = targetSession(args);
        if (!session) {
          Notification.warning('RED Lab: this notebook has no container session; run a cell in a container first.', { autoClose: 5000 });
          return;
        }
        try {
          await act(session);
          Notification.info(`RED Lab: ${done} (profile "${session.profile}").`, { autoClose: 3000 });
        } catch (err) {
          Notification.error(`RED Lab: ${label.toLowerCase()} failed: ${(err as Error).message}`, { autoClose: 8000 });
        }
      }
    });
  sessionCommand(CommandIDs.interruptSession, 'Interrupt the container session', 'Stop the cell running in this notebook’s container (KeyboardInterrupt), like the kernel’s stop button', s => sessions.interrupt(s.id), 'interrupted the running cell');
  sessionCommand(CommandIDs.restartSession, 'Restart the container session', 'A fresh container with the same profile: variables are gone, queued cells are lost', s => sessions.restart(s.id), 'the container session restarted');
  sessionCommand(CommandIDs.stopSession, 'Stop the container session', 'Stop and remove this notebook’s container (variables are gone)', s => sessions.stop(s.id), 'the container session stopped');

  commands.addCommand(CommandIDs.setSessionImage, {
    label: 'Set the image of the container profile…',
    caption: 'The image cells of this notebook run in (kept in the notebook’s metadata redlab.sessionProfiles)',
    isEnabled: hasNotebook,
    execute: async args => {
      const panel = notebook();
      const model = panel?.content.model;
      if (!panel || !model) return;
      const name = typeof args.profile === 'string' && args.profile ? args.profile : (cellBinding(panel.content.activeCell)?.profile ?? DEFAULT_PROFILE);
      const current = profileOf(panel, name);
      let image = typeof args.image === 'string' ? args.image.trim() : undefined;
      if (image === undefined) {
        const answer = await InputDialog.getText({ title: `Image of the container profile "${name}"`, text: current instanceof ProfileError ? '' : current.image, placeholder: 'redlab/debian-python:12' });
        if (!answer.button.accept || !answer.value?.trim()) return;
        image = answer.value.trim();
      }
      if (!image) return;
      model.setMetadata('redlab', withProfileChange(model.getMetadata('redlab'), name, { image }));
    }
  });

  if (o.palette) {
    for (const command of [
      CommandIDs.runCell,
      CommandIDs.runCellGpu,
      CommandIDs.runCellsAbove,
      CommandIDs.toggleCellBinding,
      CommandIDs.interruptSession,
      CommandIDs.restartSession,
      CommandIDs.stopSession,
      CommandIDs.setSessionImage
    ]) {
      o.palette.addItem({ command, category: PALETTE_CATEGORY });
    }
  }
}
