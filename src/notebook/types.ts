// An experiment as the RED panel edits it, before it becomes a RED file.
// Contract between the notebook inference (infer.ts), the panel and the run commands.
import type { CwlTypeString, JobPrimitive, KubernetesSettings, SlurmSettings } from '../red';

/** A parameter's value: null is Python's None (only for optional types, `int?`). */
export type ParameterValue = JobPrimitive | JobPrimitive[] | null;

/** A value from the notebook's `parameters` cell (papermill convention). */
export interface NotebookParameter {
  name: string;
  /**
   * CWL type: int, float, string, boolean, or a list of one of them (`float[]`); `?` when it may
   * be None (annotated Optional[int], int | None, or int with a None value).
   */
  type: CwlTypeString;
  /** The value written in the parameters cell (JSON text when `json`; null: None). */
  default: ParameterValue;
  /**
   * The value is JSON text (type `string`) that the runner decodes with json.loads: a dict, a None
   * without annotation, an empty, mixed or nested list, or an annotation dict / Any.
   */
  json?: boolean;
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
  /**
   * false: unticked in the panel: not collected, and kept out of the new-files folder too.
   * Absent or true: collected.
   */
  enabled?: boolean;
  /** Found in the notebook's code (open(..., 'w'), .to_csv('x'), savefig('x'), ...): where, for the panel to show. */
  inferred?: { codeCell: number; line: number; code: string };
  /**
   * The folder (glob: its name in /cc/outputs, kind Directory) into which the runner gathers every
   * other file the notebook writes in its working folder (--redlab-collect): the files not matched by
   * the globs of the other outputs, enabled or not.
   */
  newFiles?: boolean;
  /**
   * Where the run sends it besides the run folder: a connector that can send (red-connector-ssh,
   * …) and its access, secrets as {{variables}}. Becomes the RED's `outputs.<name>`.
   */
  send?: { connector: string; access: Record<string, unknown> };
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
  /** Values for this run (defaults unless the user changed them); null or absent: None (optional types). */
  values: Record<string, ParameterValue>;
  inputs: DraftInput[];
  outputs: DraftOutput[];
  /**
   * The notebook's parameters cell is not valid Python (the runner refuses it with the same
   * message): checkDraft reports it, so no run starts.
   */
  parametersError?: string;
  /**
   * The bridge engine the user chose for this notebook (a name GET /health lists). Absent: the
   * default (the defaultEngine setting, else the bridge's own). Not the RED's container.engine.
   * A cluster engine (slurm, kubernetes) is part of the RED (its `execution`, draft-execution.ts);
   * any other is this session's choice.
   */
  engine?: string;
  /** Each cluster engine's settings (`execution.settings`), kept when another engine is chosen for a while. */
  cluster?: DraftClusterSettings;
}

/** The engines whose settings go into the RED's `execution` (RED Lab extensions of the format). */
export type ClusterEngine = 'slurm' | 'kubernetes';

/** Each cluster engine's settings as the draft keeps them: all of them (an imported RED's too), the panel edits a few. */
export interface DraftClusterSettings {
  slurm?: SlurmSettings;
  kubernetes?: KubernetesSettings;
}

/** The notebook cannot run as a container experiment (e.g. its kernel is not Python). */
export class NotebookNotRunnableError extends Error {
  constructor(message: string, readonly fix?: string) {
    super(message);
    this.name = 'NotebookNotRunnableError';
  }
}
