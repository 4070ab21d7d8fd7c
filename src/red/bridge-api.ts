// The bridge's wire types: what its REST API and WebSocket send, shared by the
// bridge (which stores them) and the frontend (which shows them). Pure types.
import type { FileRecord, PhaseTimings, RunEvent, RunResult, RunState } from './run';
import type { ExecutionState, SessionState } from './session';
export type { ExecutionState, SessionState } from './session';
export { SESSION_STATES, FINAL_EXECUTION_STATES, isFinalSessionState, isFinalExecutionState, canSessionTransition, isSecretEnvName } from './session';

// The run lifecycle is defined once, in run.ts; re-exported for the wire's users.
export { ALL_STATES, FINAL_STATES, isFinalState } from './run';

/** Progress of an image build (POST /images/build streams these). */
export interface BuildProgressEvent {
  type: 'build-progress';
  line: string;
  step?: string;
  /** 1-based, with `stepCount`, parsed from `step`. */
  stepIndex?: number;
  stepCount?: number;
}

/** A GPU as nvidia-smi lists it. */
export interface Gpu {
  index: number;
  uuid: string;
  name: string;
  /** MiB, as nvidia-smi reports with nounits. */
  memoryTotalMb: number;
  memoryUsedMb: number;
}

/** What an engine can do, so the UI hides what it cannot. */
/**
 * What an engine can do (jupyter-scheduler's supported_features): the panel offers only what
 * the chosen engine has, and the run manager asks only for that.
 */
export interface EngineCapabilities {
  /** Runs in a container (false: directly on the host, no isolation, no image, no limits). */
  isolated: boolean;
  gpus: boolean;
  /** GPUs chosen by their memory (container.settings.gpus.devices[].vramMin), not only by count. */
  gpusByMemory: boolean;
  batches: boolean;
  cancel: boolean;
  inputConnectors: string[];
  outputConnectors: string[];
  imagePull: boolean;
  /** Builds images from an environment or a Dockerfile (the images routes). */
  imageBuilds: boolean;
  /** Host folders can be bind-mounted (local inputs without a copy); false: inputs are uploaded. */
  bindMounts: boolean;
  /** A restarted bridge finds the engine's running batches again and follows them to their end. */
  reattach: boolean;
  /** CPU and memory samples while a batch runs. */
  stats: boolean;
  /** Stateful sessions for "Run cell in container". */
  sessions: boolean;
  /**
   * Connectors whose Directory inputs this engine can mount (`mount: true`: FUSE on the host,
   * bound into the container) instead of copying; absent or empty: none can.
   */
  mountConnectors?: string[];
  /**
   * The engine's own scheduler gives runs their GPUs (Slurm's gres, Kubernetes' nvidia.com/gpu):
   * the bridge keeps no GPU pool for it and queues nothing for GPUs.
   */
  schedulesGpus?: boolean;
  /**
   * The engine's scheduler queues work (Slurm, Kubernetes): a run's batches are all submitted at
   * once unless the run or the RED (execution.settings.concurrency) says how many.
   */
  queuesBatches?: boolean;
}

/** A cluster engine's size and what is free (GET /health). */
export interface EngineCapacity {
  nodes: number;
  /** Nodes that can take jobs (not down or drained). */
  nodesUp: number;
  cpus?: number;
  gpus: number;
  gpusFree: number;
}

/** One engine as GET /health lists it. */
export interface EngineInfo {
  name: string;
  /** Reachable and able to run now. */
  available: boolean;
  /** The engine's own version (Docker's), when it has one. */
  version?: string;
  /** Why it is not available, and what to do. */
  error?: string;
  /** Plain words the panel shows beside it (e.g. "not isolated: runs on this machine without a container"). */
  note?: string;
  capabilities: EngineCapabilities;
  /** What a cluster engine has room for now (nodes, GPUs), when it can tell. */
  capacity?: EngineCapacity;
  /** The GPUs its containers can get (engines with capabilities.gpus; a remote engine's are the remote host's). */
  gpus?: Gpu[];
}

/** GET /health */
export interface HealthInfo {
  status: 'ok' | 'degraded';
  version: string;
  docker: { reachable: boolean; version?: string; apiVersion?: string; error?: string };
  gpus: Gpu[];
  /** Every engine this bridge has, the default first. */
  engines: EngineInfo[];
  /** The engine a run goes to when it names none. */
  defaultEngine: string;
  runs: { queued: number; running: number; parallel: number };
}

export interface RunOptions {
  parallel?: number;
  /** Extra container labels. */
  labels?: Record<string, string>;
  /** Notebook the run was started from (JupyterLab path). */
  notebookPath?: string;
  /** Path of the RED file, when it came from one. */
  redPath?: string;
  leaveContainer?: boolean;
  /** The engine the run goes to (a name GET /health lists); absent: the bridge's defaultEngine. */
  engine?: string;
  [key: string]: unknown;
}

/** What POST /runs takes as JSON (a bare RED document, or RED YAML text, also works). */
export interface SubmitRequest {
  /** The RED as an object, or as YAML/JSON text. */
  red: unknown;
  /** Values for {{variables}}; kept in memory only while the run needs them. */
  variables?: Record<string, string>;
  /** What the submitter sets of a run's options (extra labels on the container too). */
  options?: Pick<RunOptions, 'parallel' | 'labels' | 'notebookPath' | 'redPath' | 'leaveContainer' | 'engine'>;
}

/** POST /runs answers 201 with this. */
export interface SubmitResponse {
  id: string;
  state: RunState;
}

/** DELETE /runs/{id} (cancel a run that is not final, delete one that is). */
export interface CancelResponse {
  id?: string;
  state?: RunState;
  message?: string;
}

/** A local image as GET /images lists it. */
export interface LocalImage {
  id: string;
  /** `repo:tag` names; never `<none>:<none>`. */
  tags: string[];
  /** Bytes. */
  size: number;
  /** ISO 8601. */
  created: string;
  /** First RepoDigest (`repo@sha256:…`) when the image came from a registry. */
  digest?: string;
  labels?: Record<string, string>;
}

/** POST /images/build with an environment (the files repo2docker knows) on top of a base image. */
export interface EnvironmentBuildRequest {
  environment: { requirementsTxt?: string; environmentYml?: string; aptTxt?: string };
  baseImage: string;
  /** The engine that builds (one with capability imageBuilds); absent: the bridge's default. */
  engine?: string;
}

/** One NDJSON line of POST /images/build: progress lines, then one result or error line. */
export type ImageBuildLine =
  | BuildProgressEvent
  | { type: 'result'; tag: string; id: string; cached: boolean; dockerfile?: string; droppedProgressLines?: number }
  | { type: 'error'; message: string; step?: string | null; output?: string[] };

/**
 * A message of WebSocket /api/v1/runs/events: a run's summary each time it changes (created,
 * a new run state, its result), for every run. Nothing is replayed: list the runs over REST
 * (GET /runs) once the socket is open, and again after every reconnect. Auth as a run's events
 * (token query parameter or Bearer header, allowed Origin).
 */
export interface RunChangedMessage {
  type: 'run';
  run: RunSummary;
}

/** On WebSocket /api/v1/runs/events: run `id` was deleted (its record, logs and outputs are gone). */
export interface RunDeletedMessage {
  type: 'run-deleted';
  id: string;
}

/** Every message of WebSocket /api/v1/runs/events. */
export type RunsStreamMessage = RunChangedMessage | RunDeletedMessage;

export interface RunImage {
  url: string;
  id?: string;
  digest?: string;
  pulled?: boolean;
  /** Set when the bridge built the image (see src/images). */
  build?: { tag: string; cached: boolean };
}

export interface RunSummary {
  id: string;
  /** ISO 8601 (UTC, milliseconds). */
  createdAt: string;
  updatedAt: string;
  /** When a final state was reached. */
  finishedAt?: string;
  state: RunState;
  options: RunOptions;
  image?: RunImage;
  error?: string;
  wallClockLimitMs?: number;
  batchCount: number;
  /** Sequence number of the last event (0: none yet). */
  lastSeq: number;
}

export interface BatchRecord {
  index: number;
  state: RunState;
  containerId?: string;
  exitCode?: number;
  command?: string[];
  timings?: Partial<PhaseTimings>;
  outputs?: Record<string, FileRecord | null>;
  error?: string;
  updatedAt: string;
  /** Bytes of each log stream committed so far. */
  logBytes: { stdout: number; stderr: number };
}

export interface StateChange {
  /** null: the run itself; a number: that batch. */
  batch: number | null;
  state: RunState;
  at: string;
  error?: string;
}

export interface RunRecord extends RunSummary {
  red: unknown;
  result?: RunResult;
  batches: BatchRecord[];
  history: StateChange[];
  /** `<dataDir>/runs/<id>`: log files, and a place for outputs. */
  dir: string;
}

export type LogStream = 'stdout' | 'stderr';

export interface StoredLogEvent {
  type: 'log';
  batch: number;
  stream: LogStream;
  offset: number;
  length: number;
  data?: string;
}

export interface StateEvent {
  type: 'state';
  state: RunState;
  batch?: number;
  error?: string;
}

export interface ResultEvent {
  type: 'result';
  state: RunState;
  /**
   * The run's result as GET /runs/{id} has it (secrets masked): added by WebSocket
   * runs/{id}/events, so a client needs no record read after the final state. The store
   * keeps the event without it; absent when the run is gone.
   */
  result?: RunResult;
}

export interface CustomEvent {
  type: `x-${string}`;
  [key: string]: unknown;
}

export type StoreEvent = Exclude<RunEvent, { type: 'log' }> | BuildProgressEvent | StoredLogEvent | StateEvent | ResultEvent | CustomEvent;

export interface StoredEvent {
  runId: string;
  /** 1, 2, 3 … per run, without gaps. */
  seq: number;
  /** ISO 8601. */
  at: string;
  event: StoreEvent;
}

export interface RunPage {
  runs: RunSummary[];
  /** Present when more runs follow. */
  nextCursor?: string;
}

// ---- Container sessions ("Run cell in container", issue 10) ----
// The lifecycle (SessionState, ExecutionState) is defined once, in session.ts.

/** An nbformat v4 output dict (stream, display_data, execute_result, error) as the session runner sends it. */
export type NotebookOutput = { output_type: 'stream' | 'display_data' | 'execute_result' | 'error' } & Record<string, unknown>;

/** GPUs a session asks for, as a RED's container.settings.gpus: a count, or one GPU with at least vramMin MB. */
export interface SessionGpuRequest {
  count?: number;
  /** MB of GPU memory the one GPU must have. */
  vramMin?: number;
}

/** POST /api/v1/sessions */
export interface SessionCreateRequest {
  /** Image reference or ID (the bridge's image allowlist applies; pulled when missing and the engine can). */
  image: string;
  /** The notebook (a Jupyter path relative to the bridge's first allowed root): its folder becomes the container's working directory, bound read-write. */
  notebookPath: string;
  /** The profile's name (default "default"); one live session per notebook and profile: asking again returns the live one. */
  profile?: string;
  /** MB of RAM (default: the engine's default limit). */
  ram?: number;
  cpus?: number;
  gpus?: SessionGpuRequest;
  /**
   * Extra environment variables of the session (names [A-Za-z_][A-Za-z0-9_]*). Only their names are
   * stored; values of names that mark a secret (isSecretEnvName: *TOKEN*, *PASSWORD*, *API_KEY*, …)
   * are masked in outputs, records and logs.
   */
  env?: Record<string, string>;
  /** An engine GET /health lists with capabilities.sessions (absent: the default engine). */
  engine?: string;
}

/** A session as GET /sessions and GET /sessions/{id} show it (POST /sessions answers 201 with it; 200 for a live one asked again). */
export interface SessionInfo {
  id: string;
  state: SessionState;
  profile: string;
  notebookPath: string;
  engine: string;
  /** As asked, and the image ID it resolved to. */
  image: string;
  imageId?: string;
  ram?: number;
  cpus?: number;
  /** The GPUs it holds (empty without). */
  gpus: Gpu[];
  /** ISO 8601. */
  createdAt: string;
  lastActivityAt: string;
  /** Executions finished so far (the last one's In [n]). */
  executionCount: number;
  /** The execution running now, when busy. */
  runningExecutionId?: string;
  /** Python's version in the container, once the runner is ready. */
  python?: string;
  /** dead: why, and what to do. */
  error?: string;
  /** Sequence number of the session's last event (WebSocket sessions/{id}/events?since=). */
  lastSeq: number;
}

/** POST /sessions/{id}/execute */
export interface ExecuteRequest {
  /** The cell's source. */
  code: string;
  /** The notebook cell's id (kept in the record). */
  cellId?: string;
}

/** POST /sessions/{id}/execute answers 202 with this. */
export interface ExecuteResponse {
  executionId: string;
  state: ExecutionState;
}

/** GET /sessions/{id}/executions/{executionId}[?wait=true]: the execution's record (also kept in the run store). */
export interface ExecutionRecord {
  id: string;
  sessionId: string;
  cellId?: string;
  notebookPath: string;
  code: string;
  state: ExecutionState;
  /** In [n], once done. */
  executionCount?: number;
  /** Every output, in order (consecutive stream text of one name merged, as Jupyter saves it). */
  outputs: NotebookOutput[];
  /** sha256 of each output's canonical JSON, in the order of `outputs`. */
  outputHashes: string[];
  /**
   * Characters of stream text the bridge's stored copy left out (cut from the middle of long
   * streams, a line in the text says where): set only on a record read back from the store
   * after a cell printed more than it keeps; `outputHashes` are of the whole outputs.
   */
  outputsLeftOut?: number;
  /** The image it ran in, pinned (ID, and the registry digest when it has one). */
  image: { ref: string; id?: string; digest?: string };
  /** The GPUs of its session (nvidia-smi UUIDs or indexes). */
  gpus: string[];
  /** ISO 8601. */
  queuedAt: string;
  startedAt?: string;
  finishedAt?: string;
  /** lost: why. */
  error?: string;
}

/**
 * A message of WebSocket /api/v1/sessions/{id}/events?since=SEQ (auth as a run's events).
 * Every message has the session's `seq` (1, 2, … without gaps); `since` replays those after it
 * that the bridge still holds (a `session` message comes first when some were dropped).
 */
export type SessionEventMessage =
  | { seq: number; type: 'session'; session: SessionInfo }
  | { seq: number; type: 'execution'; executionId: string; cellId?: string; state: ExecutionState; executionCount?: number; error?: string }
  | { seq: number; type: 'output'; executionId: string | null; output: NotebookOutput };
