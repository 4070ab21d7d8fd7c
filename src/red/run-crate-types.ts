// The shape of RED Lab's Process Run Crates (https://w3id.org/ro/wfrun/process/0.5) as
// RED Lab reads them back (`redlab rerun`, `redlab export`, the bridge's crate route):
// the summary parseRunCrate() gives of an `ro-crate-metadata.json`. Pure types.
import type { FinalState } from './run';

/** Where RED Lab's own files lie in a run's output folder (the crate's root). */
export const RUN_RECORD_DIR = 'run-record';
export const CRATE_METADATA_FILE = 'ro-crate-metadata.json';
export const CRATE_FILES = {
  /** The RED as written (secrets as {{variables}}); for batch N of a batch RED, that batch as a single RED. */
  red: `${RUN_RECORD_DIR}/red.yml`,
  /** The RED's `cli` as a CWL CommandLineTool. */
  cli: `${RUN_RECORD_DIR}/cli.cwl`,
  /** The container's stdout and stderr (secrets masked). */
  stdout: `${RUN_RECORD_DIR}/stdout.txt`,
  stderr: `${RUN_RECORD_DIR}/stderr.txt`,
  /** A notebook run's notebook as it was run (its content-addressed snapshot, copied once its sha256 matched the run's). */
  notebook: `${RUN_RECORD_DIR}/notebook.ipynb`
} as const;

export interface RunCrateInput {
  /** The RED input key. */
  key: string;
  /** The crate entity's @id: `file:///abs/path` for a local input, the URL (no user info, no secret) for a remote one. */
  id: string;
  class: 'File' | 'Directory';
  /** Host path, for a local input. */
  path?: string;
  /** For a remote input. */
  url?: string;
  /** The connector command (`red-connector-http`), for a remote input. */
  connector?: string;
  sha256?: string;
  size?: number;
}

export interface RunCrateOutput {
  /** The RED output key. */
  key: string;
  /** Relative to the crate root (the run's output folder); for a folder output, each file is listed in `files`. */
  path: string;
  class: 'File' | 'Directory';
  sha256: string;
  size: number;
  encodingFormat?: string;
  /** A folder output's files: paths relative to the crate root. */
  files?: { path: string; sha256: string; size: number }[];
  /** Sent through a connector (not in the folder): where it went. */
  connector?: string;
  url?: string;
}

/** What parseRunCrate reads from a RED Lab crate. */
export interface RunCrateSummary {
  state: FinalState;
  exitCode?: number;
  error?: string;
  /** ISO 8601 with offset. */
  startTime: string;
  endTime: string;
  /** Relative path of the RED in the crate (CRATE_FILES.red). */
  redFile: string;
  /** Relative path of the CWL tool (CRATE_FILES.cli). */
  cliFile: string;
  /** Where the RED file was when it ran (absolute host path), so relative local inputs resolve as they did. */
  redSource?: string;
  /** For a batch of a batch RED: its index and the number of batches. */
  batch?: { index: number; count: number };
  image: { url: string; id?: string; digest?: string; pullable: boolean };
  engine: { name: string; version?: string; isolated?: boolean };
  /** The cluster job that ran it (Slurm job id, Kubernetes Job), when one did. */
  job?: { scheduler: string; id: string; node?: string };
  command?: string[];
  inputs: RunCrateInput[];
  outputs: RunCrateOutput[];
  /** Non-file input values (the CWL parameters), as text. */
  parameters: { name: string; value: string }[];
  /** Relative paths of the recorded logs, when present. */
  logs: { stdout?: string; stderr?: string };
  /**
   * For a notebook run: the notebook as run (CRATE_FILES.notebook when the crate carries it,
   * else the input's host path or URL) and the executed notebook (an output's path).
   */
  notebook?: { source?: string; executed?: string };
  license?: string;
  name?: string;
  description?: string;
  author?: { name: string; orcid?: string };
}
