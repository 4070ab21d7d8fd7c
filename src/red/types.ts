// The RED 9 data model (Curious Containers' Reproducible Experiment Description).
// Pure types: shared by the frontend, the bridge and the CLI.

export type CwlPrimitive = 'File' | 'Directory' | 'string' | 'int' | 'long' | 'float' | 'double' | 'boolean';

/** A CWL input type as written: a primitive, optionally with `[]`, `?` or `[]?`. */
export type CwlTypeString = string;

export interface CwlInputBinding {
  prefix?: string;
  separate?: boolean;
  position?: number;
  itemSeparator?: string;
}

export interface CwlInput {
  type: CwlTypeString;
  inputBinding: CwlInputBinding;
  doc?: string;
}

export interface CwlFileOutput {
  type: 'File' | 'Directory' | 'File?' | 'Directory?';
  outputBinding: { glob: string };
  doc?: string;
}

export interface CwlStreamOutput {
  type: 'stdout' | 'stderr';
  doc?: string;
}

export type CwlOutput = CwlFileOutput | CwlStreamOutput;

export interface CommandLineTool {
  cwlVersion: 'v1.0';
  class: 'CommandLineTool';
  baseCommand?: string | string[] | null;
  inputs: Record<string, CwlInput>;
  outputs: Record<string, CwlOutput>;
  stdout?: string;
  stderr?: string;
  doc?: string;
}

export interface Connector {
  command: string;
  access: Record<string, unknown>;
  mount?: boolean;
  doc?: string;
}

export interface FileOrDirectory {
  class: 'File' | 'Directory';
  connector: Connector;
  basename?: string;
  dirname?: string;
  checksum?: string;
  size?: number;
  listing?: ListingEntry[];
  doc?: string;
}

export interface ListingEntry {
  class: 'File' | 'Directory';
  basename: string;
  checksum?: string;
  size?: number;
  listing?: ListingEntry[];
}

export type JobPrimitive = string | number | boolean;
export type JobValue = JobPrimitive | JobPrimitive[] | FileOrDirectory | FileOrDirectory[];
export type JobInputs = Record<string, JobValue>;

export interface OutputTarget {
  class: 'File' | 'Directory' | 'stdout' | 'stderr';
  connector: Connector;
  doc?: string;
}
export type JobOutputs = Record<string, OutputTarget>;

export interface Batch {
  inputs: JobInputs;
  outputs?: JobOutputs;
  cloud?: unknown;
  doc?: string;
}

export interface GpuRequirement {
  vendor: 'nvidia';
  count?: number;
  devices?: { vramMin: number }[];
}

export interface ContainerSpec {
  engine: 'docker';
  settings: {
    image: { url: string; auth?: Record<string, unknown> };
    ram?: number;
    gpus?: GpuRequirement;
  };
}

/** Sbatch over SSH on a login node (Slurm). No secret: the key stays in the file identityFile names. */
export interface SlurmSubmitSettings {
  host?: string;
  port?: number;
  user?: string;
  identityFile?: string;
  knownHosts?: string;
}

/** `execution.settings` of the RED Lab extension `engine: slurm`. */
export interface SlurmSettings {
  partition?: string;
  account?: string;
  qos?: string;
  /** "HH:MM:SS" or "D-HH:MM:SS" (parseTimeLimit). */
  timeLimit?: string;
  runtime?: 'charliecloud' | 'enroot' | 'apptainer' | 'podman' | 'docker';
  /** Absolute path of a folder every node sees. */
  workDir?: string;
  submit?: SlurmSubmitSettings;
  /** slurmrestd's base URL. */
  restUrl?: string;
  concurrency?: number;
  /** GRES name of GPUs, optionally with a type: "gpu" (the default), "gpu:a100"; the count is added (--gres=gpu:a100:2). */
  gpuGres?: string;
}

/** `execution.settings` of the RED Lab extension `engine: kubernetes`. */
export interface KubernetesSettings {
  namespace?: string;
  context?: string;
  kubeconfig?: string;
  serviceAccount?: string;
  /** "HH:MM:SS" or "D-HH:MM:SS" (parseTimeLimit): the Job's activeDeadlineSeconds. */
  timeLimit?: string;
  ttlSecondsAfterFinished?: number;
  runAsUser?: number;
  inputsClaim?: string;
  imagePullSecrets?: string[];
  concurrency?: number;
}

/** Curious Containers' engines (ccfaice, ccagency) and RED Lab's extensions (see execution.ts). */
export type ExecutionSpec =
  | { engine: 'ccfaice'; settings: Record<string, never> }
  | { engine: 'ccagency'; settings: { access?: { url: string; auth: Record<string, unknown> }; batchConcurrencyLimit?: number } }
  | { engine: 'slurm'; settings: SlurmSettings }
  | { engine: 'kubernetes'; settings: KubernetesSettings }
  | { engine: 'docker' | 'docker-ssh' | 'process'; settings: Record<string, never> };

interface RedBase {
  redVersion: '9';
  cli: CommandLineTool;
  container: ContainerSpec;
  execution?: ExecutionSpec;
  doc?: string;
}

export interface SingleRed extends RedBase {
  inputs: JobInputs;
  outputs?: JobOutputs;
  cloud?: unknown;
}

export interface BatchRed extends RedBase {
  batches: Batch[];
}

export type Red = SingleRed | BatchRed;

/** One problem found in a RED document. `path` is dotted (`inputs.text_file.connector.access.url`). */
export interface RedIssue {
  path: string;
  line?: number;
  message: string;
  fix?: string;
  severity: 'error' | 'warning';
}

/** Paths (dotted, as in RedIssue) of numbers written as floats (`1.0`, `2e3`), so that command lines render them as Python would. */
export type FloatPaths = ReadonlySet<string>;

/** A parsed and validated RED. */
export interface LoadedRed {
  red: Red;
  format: 'yaml' | 'json';
  floatPaths: FloatPaths;
  /** Line (1-based) of a dotted path in the source text, when known. */
  lineOf(path: string): number | undefined;
  /** Non-fatal notes, e.g. "upgraded from redVersion 8". */
  warnings: RedIssue[];
}

export class RedError extends Error {
  constructor(readonly issues: RedIssue[], summary?: string) {
    super(summary ?? formatIssues(issues));
    this.name = 'RedError';
  }
}

export function formatIssues(issues: RedIssue[], source?: string): string {
  return issues
    .map(i => {
      const where = `${source ? source + ':' : ''}${i.line !== undefined ? i.line + ': ' : ''}${i.path || '(document)'}`;
      return `${i.severity === 'warning' ? 'warning' : 'error'}: ${where}: ${i.message}${i.fix ? `\n    fix: ${i.fix}` : ''}`;
    })
    .join('\n');
}
