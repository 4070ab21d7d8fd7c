// The one small interface every engine (local Docker now; remote and cluster
// engines later) implements. Capabilities let the UI hide what an engine cannot do.
import type { LoadedRed } from '../../../src/red/types';
import type { RunEvent, RunResult } from '../../../src/red/run';
import type { SecretMasker } from '../../../src/red/mask';

export interface EngineCapabilities {
  gpus: boolean;
  batches: boolean;
  cancel: boolean;
  inputConnectors: string[];
  outputConnectors: string[];
  imagePull: boolean;
}

export interface RunRequest {
  /** The RED after its {{variables}} were filled (values only in memory). */
  loaded: LoadedRed;
  /** Folder of the RED file: relative local paths resolve against it. */
  baseDir: string;
  /** Where outputs go: single RED writes to `outdir`, batch N to `${outdir}_N`. */
  outdir: string;
  /** Host folders that local connectors and mounts may read from (real paths). */
  allowedRoots: string[];
  parallel: number;
  leaveContainer: boolean;
  masker: SecretMasker;
  /** Extra labels for containers (the bridge adds its run id). */
  labels?: Record<string, string>;
  /** Id for container labels (org.redlab.run) and the work folder; a random UUID when absent. */
  runId?: string;
  /**
   * Outputs that have a connector in the RED's `outputs` are sent through it (default true,
   * as `faice agent red --outputs`); false copies every output to `outdir` instead.
   */
  sendOutputs?: boolean;
}

export interface Engine {
  readonly name: string;
  readonly capabilities: EngineCapabilities;
  run(req: RunRequest, opts: { signal?: AbortSignal; onEvent?: (e: RunEvent) => void }): Promise<RunResult>;
}
