// RED Lab's public face: the plugin token, shared types and command ids.
import { Token } from '@lumino/coreutils';
import type { ISignal } from '@lumino/signaling';
import type { HealthInfo, RunSummary } from './red';

export namespace CommandIDs {
  export const openPanel = 'redlab:open-panel';
  export const runNotebook = 'redlab:run-notebook';
  export const exportRed = 'redlab:export-red';
  export const importRed = 'redlab:import-red';
  export const cancelRun = 'redlab:cancel-run';
  export const rebuildRunCell = 'redlab:rebuild-run-cell';
  // Registered by the container-sessions plugin; menus leave room for them.
  export const runCell = 'redlab:run-cell';
  export const runCellGpu = 'redlab:run-cell-gpu';
  export const runCellsAbove = 'redlab:run-cells-above';
  export const interruptSession = 'redlab:interrupt-session';
  export const restartSession = 'redlab:restart-session';
  export const stopSession = 'redlab:stop-session';
  /** Run (Shift+Enter, Ctrl+Enter, Alt+Enter) of a notebook whose active cell is bound: bound cells go to their container. */
  export const runBoundCells = 'redlab:run-bound-cells';
  export const toggleCellBinding = 'redlab:toggle-cell-binding';
  export const setSessionImage = 'redlab:set-session-image';
}

export const PLUGIN_ID = 'jupyterlab-redlab:plugin';

/** Where the bridge is and whether it answers. */
export type BridgeStatus =
  | { kind: 'unknown' }
  | { kind: 'connected'; health: HealthInfo }
  | { kind: 'no-engine'; health: HealthInfo; message: string }
  | { kind: 'unreachable'; message: string };

/** User settings (schema/plugin.json). */
export interface IRedLabSettings {
  bridgeUrl: string;
  bridgeToken: string;
  defaultImage: string;
  defaultEngine: string;
  defaultRamMb: number;
  defaultGpus: number;
  previewTypes: string[];
  logLineLimit: number;
  /** Seconds between polls of the bridge (the status bar follows run events; this is the fallback). */
  statusPollSeconds: number;
}

/** The extension's shared state, for other plugins (container sessions). */
export interface IRedLab {
  readonly status: BridgeStatus;
  readonly statusChanged: ISignal<IRedLab, BridgeStatus>;
  readonly runs: readonly RunSummary[];
  readonly runsChanged: ISignal<IRedLab, readonly RunSummary[]>;
}

export const IRedLab = new Token<IRedLab>('jupyterlab-redlab:IRedLab', 'RED Lab: the bridge connection and runs.');
