// An experiment as the RED panel edits it, before it becomes a RED file.
// Contract between the notebook inference (infer.ts), the panel and the run commands.
import type { CwlTypeString, JobPrimitive } from '../red/types';

/** A value from the notebook's `parameters` cell (papermill convention). */
export interface NotebookParameter {
  name: string;
  /** CWL type: int, float, string, boolean, or a list of one of them (`float[]`). */
  type: CwlTypeString;
  /** The value written in the parameters cell. */
  default: JobPrimitive | JobPrimitive[];
  /** A trailing comment on its line, if any. */
  doc?: string;
}

/** A further input the user adds in the panel. */
export interface DraftInput {
  name: string;
  kind: 'File' | 'Directory';
  connector: 'redlab-connector-local' | 'red-connector-http' | string;
  /** Connector access, e.g. {path} or {url, auth}; secrets as {{variables}}. */
  access: Record<string, unknown>;
  basename?: string;
  mount?: boolean;
}

/** An output file the notebook writes, found by glob after the run. */
export interface DraftOutput {
  name: string;
  glob: string;
  kind: 'File' | 'Directory';
  optional: boolean;
}

export interface ExperimentDraft {
  /** Notebook path relative to the Jupyter root (`demo/analysis.ipynb`). */
  notebookPath: string;
  /** The runner script, relative to the notebook's folder (written there by the panel). */
  runnerPath: string;
  /** Image reference; must contain python3. */
  image: string;
  ramMb: number;
  /** GPUs: none, a count, or one device with at least this much memory. */
  gpus?: { count?: number; vramMinMb?: number };
  parameters: NotebookParameter[];
  /** Values for this run (defaults unless the user changed them). */
  values: Record<string, JobPrimitive | JobPrimitive[]>;
  inputs: DraftInput[];
  outputs: DraftOutput[];
  /** The engine the run goes to. */
  engine: 'docker';
}

/** The notebook cannot run as a container experiment (e.g. its kernel is not Python). */
export class NotebookNotRunnableError extends Error {
  constructor(message: string, readonly fix?: string) {
    super(message);
    this.name = 'NotebookNotRunnableError';
  }
}
