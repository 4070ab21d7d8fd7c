// The one small interface every engine (local Docker now; remote and cluster
// engines later) implements. Capabilities let the UI hide what an engine cannot do.
import type { LoadedRed, Red, BatchResult, FinalState, RunEvent, RunResult, RunState, EngineCapabilities, EngineInfo, Gpu } from '../../../src/red';
import type { BuildOptions, BuildResult, BuildSpec, LocalImage } from '../images/types';
import type { ListImagesOptions } from '../images/list';
import type { SessionEnd, SessionListeners, SessionSpec } from './docker-session';

export type { EngineCapabilities, EngineInfo } from '../../../src/red';
/** A session's spec, listeners and messages: the bridge reaches them through the seam. */
export type { SessionEnd, SessionListeners, SessionMessage, SessionSpec } from './docker-session';

/**
 * What DockerEngine.run is asked to do. The engine does not mask secrets: its events,
 * errors, commands and results carry the filled {{variables}} as they are. Every way
 * out of a process masks them at one sink (src/red/mask.ts): the bridge's RunStore
 * (every write; HTTP answers and WebSocket events are read from it) and its logger, and
 * the CLI's MaskedOutput around stdout and stderr. A programmatic user of the engine
 * (tests, scripts) gets the values unmasked and must put what it shows through such a
 * sink itself (SecretMasker.maskValue, or .stream() for logs).
 */
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
  /** Extra labels for containers (the bridge adds its run id). */
  labels?: Record<string, string>;
  /** Id for container labels (org.redlab.run) and the work folder; a random UUID when absent. */
  runId?: string;
  /**
   * Outputs that have a connector in the RED's `outputs` are sent through it (default true,
   * as `faice agent red --outputs`); false copies every output to `outdir` instead.
   */
  sendOutputs?: boolean;
  /**
   * GPUs the bridge's scheduler assigned to this run (nvidia-smi indexes or UUIDs):
   * they become the DeviceRequest's DeviceIDs and the inventory is not consulted. There
   * must be at least as many as container.settings.gpus asks for. Absent or empty: the
   * engine picks GPUs itself from the inventory (the CLI).
   */
  gpuDeviceIds?: string[];
  /**
   * Wall-clock limit of the whole run in milliseconds, counted from the call to run():
   * when it passes, running containers are stopped (SIGTERM, SIGKILL after
   * stopTimeoutSec) and batches not started yet do not start; those batches fail with
   * "stopped: wall-clock limit of N exceeded; raise it in the bridge settings".
   */
  wallClockLimitMs?: number;
  /**
   * Keep `<workRoot>/<runId>/batch-N` (staged inputs, what was left in /cc/outputs) after
   * the batch: true = 'always', false = 'never'. Default: the engine's option ('on-failure').
   * A bridge that keeps them removes them with DockerEngine.removeWorkDir(runId).
   */
  keepWorkDir?: KeepWorkDir | boolean;
  /** Send `stats` events (CPU, memory) about once a second while containers run (the bridge; not the CLI). */
  stats?: boolean;
  /**
   * Called with each batch's result (unmasked, as every engine output) once its outputs are collected, before its
   * container and work folder are removed: false (or a throw) when it could not be kept
   * (a bridge that is stopping), and both then stay for the next start to collect the
   * batch again (resumeBatch).
   */
  recordBatch?: (result: BatchResult) => boolean;
}

export type KeepWorkDir = 'on-failure' | 'always' | 'never';

/**
 * A batch whose container a previous bridge process started (and maybe saw end) before
 * it died: DockerEngine.resumeBatch follows it to its end and collects it as run()
 * would have.
 */
export interface ResumeRequest {
  /** The run id the batch ran under (its work folder and org.redlab.run label). */
  runId: string;
  /** Batch index (0 for a RED without batches). */
  batch: number;
  /**
   * The container, as the `container` event reported it. Undefined when the store never
   * heard of one: the engine then looks for a container labelled with runId and batch,
   * and fails the batch ("the container vanished while the bridge was down") when
   * there is none.
   */
  containerId?: string;
  /**
   * The RED as stored: usually masked (secret values are ******** after a crash). The
   * command in the result is rebuilt from it; output connectors whose settings hold a
   * masked value cannot run: those outputs stay in the outdir, and the batch says so.
   */
  loaded: LoadedRed;
  /** As RunRequest.outdir: the run's outdir (batch N of a batch RED writes to `${outdir}_N`). */
  outdir: string;
  /**
   * Bytes of each log stream the store already holds (UTF-8 of the `data` it stored).
   * The engine reads the container's whole log back from Docker, cut as run() does,
   * skips that many bytes of each stream and sends only the rest as log events
   * (unmasked, as RunRequest says): the stored log ends complete, without a gap or a
   * duplicate (exact when no secret or invalid UTF-8 was in the skipped part: the store
   * counted the masked text, and invalid UTF-8 changes the byte count).
   */
  alreadyStored: { stdout: number; stderr: number };
  /** The state the store last had for the batch, for clearer messages (e.g. 'queued': never started). */
  lastState?: RunState;
  /** Base folder for connectors (default: the outdir's parent). */
  baseDir?: string;
  allowedRoots?: string[];
  leaveContainer?: boolean;
  sendOutputs?: boolean;
  keepWorkDir?: KeepWorkDir | boolean;
  stats?: boolean;
  /**
   * The run's wall-clock limit (ms), counted from `startedAt` (epoch ms, e.g. when the
   * store saw the run start; default: when the container started). Past it the
   * container is stopped and the batch fails as in run().
   */
  wallClockLimitMs?: number;
  startedAt?: number;
  /** As RunRequest.recordBatch. */
  recordBatch?: RunRequest['recordBatch'];
}

/** A container the engine created (label org.redlab.managed=true), as Docker reports it now. */
export interface ManagedContainer {
  containerId: string;
  /** Without the leading '/'. */
  name: string;
  /** org.redlab.run */
  runId: string;
  /** org.redlab.batch */
  batch: number;
  /** Docker's State.Status. */
  state: 'created' | 'running' | 'paused' | 'restarting' | 'removing' | 'exited' | 'dead';
  /** When it has ended (exited/dead). */
  exitCode?: number;
  oomKilled?: boolean;
  /** ISO 8601; absent when it never started / has not finished. */
  startedAt?: string;
  finishedAt?: string;
  labels: Record<string, string>;
}

export type EngineRunOptions = { signal?: AbortSignal; onEvent?: (e: RunEvent) => void };

/** What an engine says of itself now (GET /health). */
export type EngineStatus = Omit<EngineInfo, 'name' | 'capabilities'>;

/** A RED this engine cannot run as asked, found before the run is queued: the field, the reason, the fix. */
export interface EngineRefusal {
  path: string;
  message: string;
  fix: string;
}

/**
 * Crash recovery (capabilities.reattach): what a restarted bridge asks of the engine to find the
 * batches a previous process started and follow them to their end.
 */
export interface EngineRecovery {
  /** The engine's own containers (label org.redlab.managed=true), optionally of one run. */
  listManaged(filter?: { runId?: string }): Promise<ManagedContainer[]>;
  resumeBatch(req: ResumeRequest, opts: EngineRunOptions): Promise<BatchResult>;
  /** Removes what a batch whose result is recorded left behind (container, work folder). */
  discardBatch(req: DiscardRequest): Promise<void>;
  /** Removes containers (e.g. created but never started before a crash); missing ones are no error. */
  remove(containerIds: string[]): Promise<void>;
  /** The GPU device ids a container was given, so that a restarted bridge holds them. */
  gpuDeviceIds(containerId: string): Promise<string[]>;
}

export interface DiscardRequest {
  runId: string;
  batch: number;
  containerId?: string;
  state: FinalState;
  leaveContainer?: boolean;
  keepWorkDir?: KeepWorkDir | boolean;
}

/** Image listing and builds (capabilities.imageBuilds). */
export interface EngineImages {
  list(opts: ListImagesOptions): Promise<LocalImage[]>;
  build(spec: BuildSpec, opts: BuildOptions): Promise<BuildResult>;
}

/**
 * One engine backend. The run manager, the HTTP routes and the CLI use engines only through
 * this: a new engine is a new file implementing it plus a line in registry.ts.
 */
export interface Engine {
  /** Unique, lower case: `docker`, `process`, ... (RunOptions.engine, GET /health). */
  readonly name: string;
  readonly capabilities: EngineCapabilities;
  /** Where its containers run, in words, when not on this machine (messages: "ssh://alice@gpu-box has 2 GPUs"). */
  readonly location?: string;
  /** Whether it can run now, and its version; never throws. */
  status(): Promise<EngineStatus>;
  /**
   * The GPUs this engine's containers can be given (capabilities.gpus): nvidia-smi where the
   * engine runs. Never throws: none when it cannot tell. The bridge keeps one pool per engine.
   */
  gpuInventory?(): Promise<Gpu[]>;
  /** Checks a RED against what the engine can give (e.g. RAM above the host's), before it is queued. */
  precheck?(red: Red): Promise<EngineRefusal | undefined>;
  run(req: RunRequest, opts: EngineRunOptions): Promise<RunResult>;
  /** Present exactly when capabilities.reattach. */
  readonly recovery?: EngineRecovery;
  /** Present exactly when capabilities.imageBuilds. */
  readonly images?: EngineImages;
  /** Present exactly when capabilities.sessions ("Run cell in container"). */
  readonly sessions?: EngineSessions;
  /** Releases connections (e.g. an ssh session); the bridge calls it when it stops. */
  close?(): Promise<void>;
}

/**
 * Container sessions (capabilities.sessions): long-lived containers running the session
 * runner (engine/docker-session.ts has the protocol). The bridge's SessionManager owns
 * their state; the engine only starts, finds and reattaches containers.
 */
export interface EngineSessions {
  /** Creates and starts a session's container; resolves when its runner is ready, rejects with why it could not start. */
  start(spec: SessionSpec, listeners: SessionListeners): Promise<EngineSession>;
  /** The engine's live session containers (label org.redlab.session), for a restarted bridge; `running: false`: one that has ended (to remove). */
  listLive(): Promise<{ containerId: string; sessionId: string; labels: Record<string, string>; running?: boolean }[]>;
  /** Attaches again to a live session's container (its runner keeps its namespace); rejects when it has ended. */
  reattach(containerId: string, spec: SessionSpec, listeners: SessionListeners): Promise<EngineSession>;
  /** Removes a session container no session record owns (forced, whatever its state). */
  remove?(containerId: string): Promise<void>;
}

/** One live session's container, as the engine drives it. */
export interface EngineSession {
  readonly containerId: string;
  /** Why it ended, once it has. */
  readonly end: SessionEnd | undefined;
  /** Sends one cell; status, outputs and done come to the listeners with `id`. Throws SessionEndedError once ended. */
  execute(id: string, code: string, cellId?: string): void;
  /** SIGINT to the runner: the running cell ends "aborted". */
  interrupt(): Promise<void>;
  /** Stops and removes the container. */
  stop(): Promise<void>;
  /** Python's version in the container, when the runner said it (a reattached one did so before). */
  readonly python?: string;
  /** The image it runs: as asked, its ID and registry digest. */
  readonly image?: { ref: string; id: string; digest?: string };
  /** The container's environment (a reattached session's: what a restart needs again). */
  readonly env?: Record<string, string>;
  /** Lets go of the container and leaves it running (the bridge drains; the next one reattaches). */
  detach?(): void;
}
