// The local Docker engine: runs each batch of a RED in its own container, as
// Curious Containers' `faice agent red` does, with inputs staged on the host by
// built-in connectors and bind-mounted read-only, /cc/outputs bound to a host
// folder, live logs, OOM/exit/cancel handling and outputs copied to the outdir
// (or sent through connectors) with sizes and sha256.
//
// A bridge that was killed finds its containers again (listManagedContainers:
// label org.redlab.managed=true) and takes each batch up with resumeBatch: the
// container's log is read back from Docker (only the part the store lacks becomes
// events), a running container is followed to its end, and the batch ends exactly
// as a batch of run() does (concludeBatch: outcome → state, outputs collected from
// the deterministic work folder <workRoot>/<runId>/batch-<n>/outputs). A batch's
// container and work folder are removed only once its result is recorded
// (RunRequest.recordBatch): until then a restarted bridge can collect it again.
// Everything in the outputs folder is read and written through util/safe-fs.ts:
// the container may have planted links there.
import type Docker from 'dockerode';
import { randomUUID } from 'crypto';
import { chmod, mkdir, rmdir } from 'fs/promises';
import * as path from 'path';
import { type LoadedRed, type Red, type BatchResult, type FinalState, type RunEvent, type RunResult, MASK, CONTAINER_OUTPUTS_DIR, formatCommandLine, toBatches } from '../../../src/red';
import type { ConnectorContext } from '../connectors/types';
import { defaultConnectors, type ConnectorRegistry } from '../connectors/registry';
import { BatchMounts, cleanupStaleMounts, mountableConnectors, mountRefusal } from '../connectors/mounts';
import type { DiscardRequest, Engine, EngineCapabilities, EngineImages, EngineRecovery, EngineRefusal, EngineSessions, EngineStatus, KeepWorkDir, ManagedContainer, ResumeRequest, RunRequest } from './types';
import { DockerSession, type SessionListeners, type SessionSpec } from './docker-session';
import { listImages } from '../images/list';
import { buildImage } from '../images/build';
import { connectDocker, type DockerClientOptions } from './docker-client';
import { ensureImage } from './image';
import { describeInventory, gpusForDeviceIds, readGpuInventory, selectGpus, type Gpu, type GpuSelection } from './gpu';
import { buildCreateOptions, checkRamFitsEngine, ramOverEngine, DEFAULT_RAM_MB, DEFAULT_PIDS_LIMIT, LABEL_SESSION } from './host-config';
import { dockerTime, removeContainer, resumeContainer, runContainer, type ContainerRunOutcome } from './container';
import { removeTree, SafeDir, withDir } from '../util/safe-fs';
import { getOutputs, putInputs } from './container-files';
import { explainExecFailure, explainStartError } from './docker-diagnosis';
import { listManagedContainers, LogSkipper, NEVER_CREATED_MESSAGE, NEVER_STARTED_MESSAGE, VANISHED_MESSAGE } from './docker-recovery';
import type { StatsOptions } from './stats';
import { stageInputs } from './staging';
import { transferEvents } from '../connectors/transfer-progress';
import { ccConnectorFallback, removeEndedConnectorHelpers, validateConnectors, type ExperimentImage } from './cc-connectors';
import { batchWorkDir, defaultWorkRoot, ensureWorkRoot, runWorkDir, type BatchWorkDir } from './workdir';
import {
  BatchTracker,
  planResumedBatch,
  resumeRefused,
  RunFrame,
  captureFiles,
  cleanupWorkDir,
  concludeWithOutputs,
  errorMessage,
  exitMessage,
  keepMode,
  makeEmitter,
  placeCaptureFiles,
  planBatch,
  Stopper,
  streamsDir,
  type BatchPlan,
  type Emitter,
  runBatchesInParallel,
  concludeRun
} from './batch';

export { DockerUnavailableError } from './docker-client';

/** Where a Docker engine's client comes from when it is not DOCKER_HOST / the local socket (a remote engine over SSH). */
export interface DockerConnection {
  /** A client that answers now; rejects with a message that says what to do. */
  client(): Promise<Docker>;
  close?(): Promise<void>;
}

export interface DockerEngineOptions extends DockerClientOptions {
  /** The engine's name (GET /health, RunOptions.engine). Default 'docker'; another name is also said in each result (RunResult.engine). */
  name?: string;
  /** Said with the name in each result, e.g. where the engine is. */
  note?: string;
  /** Engine.location: where the containers run, when not on this machine. */
  location?: string;
  /** The client, instead of one from DOCKER_HOST / the socket; its errors are shown as they are. */
  connection?: DockerConnection;
  /**
   * How inputs reach the container and outputs come back: 'bind' (default; the engine runs on
   * this host) or 'copy': through the Docker API as archives (container-files.ts), for an
   * engine on another host, which cannot see this host's folders.
   */
  files?: 'bind' | 'copy';
  /** A ready dockerode client (tests); otherwise one is made from DOCKER_HOST / the socket. */
  docker?: Docker;
  /**
   * Where batches stage inputs and bind /cc/outputs: <workRoot>/<runId>/batch-N (see
   * batchWorkDir). Default ~/.cache/redlab/runs (defaultWorkRoot); it must be private
   * (ensureWorkRoot); the bridge uses a folder under its
   * data dir, so that a restarted bridge finds the outputs of containers that ran on.
   */
  workRoot?: string;
  /** RAM (MB) when the RED gives none; null: no limit (as CC). Default DEFAULT_RAM_MB (4096). */
  defaultRamMb?: number | null;
  pidsLimit?: number;
  /** Seconds a cancelled container gets between SIGTERM and SIGKILL. Default 2. */
  stopTimeoutSec?: number;
  /** 'clear' (default, as CC runs the command: not through the image's ENTRYPOINT) or 'image'. */
  entrypoint?: 'clear' | 'image';
  /** `uid:gid` for the container; default: this process's uid:gid when it is not root, else the image's user. null: always the image's user. */
  user?: string | null;
  /** Keep <workRoot>/<runId>/batch-N after the batch: 'on-failure' (default), 'always', 'never'. RunRequest.keepWorkDir overrides it. */
  keepWorkDir?: KeepWorkDir;
  /** sha256 of inputs for the result (default true). */
  hashInputs?: boolean;
  /** GPU inventory source (default: nvidia-smi on PATH). */
  gpuInventory?: () => Promise<Gpu[]>;
  connectors?: ConnectorRegistry;
  /** 'missing' (default): pull images that are not local; 'never'. */
  pull?: 'missing' | 'never';
  /**
   * Send `stats` events for every run, at most one per this many ms (Docker's stats
   * stream gives about one a second, so less than 1000 still means about one a second).
   * Unset: only runs with RunRequest.stats get them, one a second.
   */
  statsIntervalMs?: number;
  /** Milliseconds a partial line (no newline yet) waits before it goes out as a log event. Default 200. */
  logFlushMs?: number;
}

export { formatDuration, wallClockMessage } from './batch';

export { LogSkipper, NEVER_CREATED_MESSAGE, NEVER_STARTED_MESSAGE, VANISHED_MESSAGE } from './docker-recovery';

/** What the shared end of a batch needs (run() and resumeBatch alike). */
interface Conclusion {
  track: BatchTracker;
  plan: BatchPlan;
  outcome: ContainerRunOutcome;
  outputsDir: string;
  ctx: ConnectorContext;
  stopper: Stopper;
  sendOutputs: boolean;
  ramMb: number | null;
  /** The image the container ran (ID or reference) and the RED's image.url, for messages. */
  image: string;
  imageUrl: string;
  gpus: GpuSelection | null;
  leaveContainer?: boolean;
  /** Why the batch failed when the outcome cannot tell (resume: the container vanished …). */
  failure?: string;
  /** cli.stdout/cli.stderr files that could not be put in the outputs folder (placeCaptureFiles). */
  captureErrors?: string[];
  /** Outputs whose connectors cannot run (their settings were masked): kept in the outdir. */
  keepLocal?: string[];
}

export class DockerEngine implements Engine {
  readonly name: string;
  readonly location?: string;
  readonly capabilities: EngineCapabilities;
  private readonly connectors: ConnectorRegistry;
  /** Inputs and outputs travel as archives (DockerEngineOptions.files). */
  private readonly copyFiles: boolean;

  constructor(private readonly opts: DockerEngineOptions = {}) {
    this.name = opts.name ?? 'docker';
    this.location = opts.location;
    this.copyFiles = opts.files === 'copy';
    // Commands that are not built in run in the experiment's image (Curious Containers connector images).
    this.connectors = (opts.connectors ?? defaultConnectors()).withFallback(ccConnectorFallback);
    this.capabilities = {
      isolated: true,
      gpus: true,
      gpusByMemory: true,
      batches: true,
      cancel: true,
      inputConnectors: this.connectors.inputCommands,
      outputConnectors: this.connectors.outputCommands,
      // mount: true needs FUSE on this host and an engine that sees its mounts.
      mountConnectors: this.copyFiles ? [] : mountableConnectors(this.connectors),
      imagePull: opts.pull !== 'never',
      imageBuilds: true,
      bindMounts: !this.copyFiles,
      reattach: true,
      stats: true,
      // A session binds the notebook's folder: only where the engine sees this host's folders.
      sessions: !this.copyFiles
    };
    if (!this.copyFiles) {
      this.sessions = {
        start: (spec, listeners) => this.startSession(spec, listeners),
        reattach: async (containerId, spec, listeners) => DockerSession.reattach(await this.client(), containerId, this.sessionSpec(spec), listeners),
        listLive: async () => {
          const list = await (await this.client()).listContainers({ all: true, filters: { label: [LABEL_SESSION] } });
          return list.map(c => ({ containerId: c.Id, sessionId: c.Labels?.[LABEL_SESSION] ?? '', labels: c.Labels ?? {}, running: c.State === 'running' }));
        },
        remove: async containerId => {
          await removeContainer((await this.client()).getContainer(containerId));
        }
      };
    }
    this.recovery = {
      listManaged: filter => this.listManagedContainers(filter),
      resumeBatch: (req, o) => this.resumeBatch(req, o),
      discardBatch: req => this.discardBatch(req),
      remove: async ids => {
        const docker = await this.client();
        await Promise.all(ids.map(id => removeContainer(docker.getContainer(id))));
      },
      gpuDeviceIds: async id => {
        const info = await (await this.client()).getContainer(id).inspect();
        return (info.HostConfig?.DeviceRequests ?? []).flatMap(d => d.DeviceIDs ?? []);
      }
    };
    this.images = {
      list: async o => listImages(await this.client(), o),
      build: async (spec, o) => buildImage(await this.client(), spec, o)
    };
  }

  readonly recovery: EngineRecovery;
  readonly images: EngineImages;
  /** Container sessions (issue 10); absent where files are copied (the notebook folder cannot be bound). */
  readonly sessions?: EngineSessions;

  /** The engine's defaults in a session's spec: RAM limit, the container's user, GPUs as a DeviceRequest. */
  private sessionSpec(spec: SessionSpec): SessionSpec {
    return {
      ...spec,
      ramMb: spec.ramMb === undefined ? (this.opts.defaultRamMb === undefined ? DEFAULT_RAM_MB : this.opts.defaultRamMb) : spec.ramMb,
      user: spec.user ?? this.containerUser() ?? (this.opts.user !== null && spec.workDirOwner && spec.workDirOwner.uid !== 0 ? `${spec.workDirOwner.uid}:${spec.workDirOwner.gid}` : undefined),
      gpus: spec.gpus ?? (spec.gpuDeviceIds?.length ? gpusForDeviceIds(spec.gpuDeviceIds) : undefined)
    };
  }

  /** The image (pulled when missing and allowed), then the session's container, its runner ready. */
  private async startSession(spec: SessionSpec, listeners: SessionListeners): Promise<DockerSession> {
    const docker = await this.client();
    const full = this.sessionSpec(spec);
    await checkRamFitsEngine(docker, full.ramMb);
    const img = await ensureImage(docker, spec.image, { pull: this.opts.pull });
    const session = await DockerSession.start(docker, { ...full, image: img.id }, listeners);
    session.image = { ref: spec.image, id: img.id, ...(img.digest ? { digest: img.digest } : {}) };
    return session;
  }

  /** The dockerode client: the connection's, the one given, else one connected from DOCKER_HOST / the socket (clear error when unreachable). */
  private client(): Promise<Docker> {
    return this.opts.connection ? this.opts.connection.client() : connectDocker(this.opts);
  }

  async status(): Promise<EngineStatus> {
    try {
      const v = await (await this.client()).version();
      return { available: true, version: v.Version, ...(this.opts.note ? { note: this.opts.note } : {}) };
    } catch (err) {
      if (this.opts.connection) return { available: false, error: errorMessage(err), ...(this.opts.note ? { note: this.opts.note } : {}) };
      return { available: false, error: `cannot reach the Docker engine: ${errorMessage(err)}. Start Docker (sudo dockerd &) or set DOCKER_HOST.` };
    }
  }

  async close(): Promise<void> {
    await this.opts.connection?.close?.();
  }

  async gpuInventory(): Promise<Gpu[]> {
    return (this.opts.gpuInventory ?? (() => readGpuInventory()))().catch(() => []);
  }

  async precheck(red: Red): Promise<EngineRefusal | undefined> {
    // An engine that cannot be asked fails the run later with its own message.
    const over = await this.client()
      .then(docker => ramOverEngine(docker, red.container.settings.ram))
      .catch(() => undefined);
    return over ? { path: 'container.settings.ram', ...over } : undefined;
  }

  get workRoot(): string {
    return this.opts.workRoot ?? defaultWorkRoot();
  }

  /** `<workRoot>/<runId>/batch-<n>` and its inputs/outputs folders (see workdir.ts). */
  batchWorkDir(runId: string, batch: number): BatchWorkDir {
    return batchWorkDir(this.workRoot, runId, batch);
  }

  /** Removes `<workRoot>/<runId>` (a bridge that keeps work folders calls it when it is done with a run). */
  async removeWorkDir(runId: string): Promise<void> {
    await removeTree(runWorkDir(this.workRoot, runId));
  }

  private staleMountsCleaned?: Promise<void>;

  /**
   * Once per engine, before any work folder is touched: unmounts the FUSE mounts a process that
   * died left under the work root, and removes the connector helper containers it left (ended ones).
   */
  private cleanStaleMounts(info: (m: string) => void = () => undefined): Promise<void> {
    this.staleMountsCleaned ??= cleanupStaleMounts(this.workRoot).then(async r => {
      if (r.unmounted.length) info(`unmounted ${r.unmounted.length} mount(s) left by a process that ended: ${r.unmounted.join(', ')}`);
      for (const e of r.errors) info(e);
      const helpers = await this.client()
        .then(removeEndedConnectorHelpers)
        .catch(() => []);
      if (helpers.length) info(`removed ${helpers.length} connector helper container(s) left by a process that ended: ${helpers.join(', ')}`);
    });
    return this.staleMountsCleaned;
  }

  /** Why this engine cannot mount (mount: true): it runs elsewhere and cannot see this host's mounts. */
  private get mountsElsewhere(): string | undefined {
    return this.copyFiles ? `${this.name}${this.location ? ` (${this.location})` : ''}` : undefined;
  }

  private containerUser(): string | undefined {
    if (this.opts.user === null) return undefined;
    if (this.opts.user) return this.opts.user;
    const uid = process.getuid?.();
    const gid = process.getgid?.();
    return uid !== undefined && uid !== 0 && gid !== undefined ? `${uid}:${gid}` : undefined;
  }

  /** What connectors that are not built in run in: the batch's image, user and limits; none where the engine is on another host (nothing can be bound). */
  private experimentImage(docker: Docker, image: string, req: Pick<RunRequest, 'loaded' | 'labels'>, wd: BatchWorkDir): ExperimentImage | undefined {
    if (this.copyFiles) return undefined;
    const imageUrl = req.loaded.red.container.settings.image.url;
    return { docker, image, imageUrl, user: this.containerUser(), ramMb: this.ramMb(req.loaded), pidsLimit: this.opts.pidsLimit ?? DEFAULT_PIDS_LIMIT, labels: req.labels, privateDir: wd.dir };
  }

  private ramMb(loaded: LoadedRed): number | null {
    return loaded.red.container.settings.ram ?? (this.opts.defaultRamMb === undefined ? DEFAULT_RAM_MB : this.opts.defaultRamMb);
  }

  private statsOptions(wanted: boolean | undefined, emit: Emitter, batch: number): StatsOptions | undefined {
    if (!wanted && !this.opts.statsIntervalMs) return undefined;
    return { intervalMs: this.opts.statsIntervalMs ?? 1000, onSample: s => emit({ type: 'stats', batch, ...s }) };
  }

  async run(req: RunRequest, opts: { signal?: AbortSignal; onEvent?: (e: RunEvent) => void } = {}): Promise<RunResult> {
    const frame = new RunFrame(req, opts, this.opts.name ? { name: this.name, isolated: true, ...(this.opts.note ? { note: this.opts.note } : {}) } : undefined);
    const { emit, runId, result, stopper } = frame;
    const info = (message: string, batch?: number) => emit(batch === undefined ? { type: 'info', message } : { type: 'info', batch, message });
    const red = req.loaded.red;
    const finish = () => frame.finish();

    // Plan every batch before touching Docker: bad connectors, inputs or globs fail fast.
    let plans: BatchPlan[];
    let gpus: GpuSelection | null = null;
    try {
      frame.check();
      const batches = toBatches(red);
      const isBatchRed = 'batches' in red;
      plans = batches.map((batch, index) => planBatch(req, batch, index, batches.length, isBatchRed, runId, this.connectors));
      // mount: true that cannot work here fails now, not after a pull.
      const noMount = mountRefusal(plans.flatMap(p => p.items), this.mountsElsewhere);
      if (noMount) throw new Error(noMount);
      const gpuReq = red.container.settings.gpus;
      if (req.gpuDeviceIds?.length) {
        gpus = gpusForDeviceIds(req.gpuDeviceIds, gpuReq);
        info(`GPUs: ${gpus?.summary}`);
      } else if (gpuReq) {
        const inventory = await this.gpuInventory();
        gpus = selectGpus(gpuReq, inventory, this.location);
        info(`GPUs: ${gpus?.summary}; ${describeInventory(inventory, this.location)}`);
      }
    } catch (err) {
      result.error = errorMessage(err);
      return finish();
    }
    if (red.container.settings.ram === undefined) {
      const dflt = this.opts.defaultRamMb === undefined ? DEFAULT_RAM_MB : this.opts.defaultRamMb;
      info(dflt === null ? 'container.settings.ram is not set: no memory limit' : `container.settings.ram is not set: limiting memory to ${dflt} MB`);
    }
    const failAll = (state: FinalState, error: string) => frame.failAll(plans, state, error);

    // Docker and the image.
    let docker: Docker;
    try {
      docker = await this.client();
      // Before any pull or container: Docker would take a limit above the host's memory as no limit.
      await checkRamFitsEngine(docker, red.container.settings.ram);
    } catch (err) {
      return failAll('failed', errorMessage(err));
    }
    if (stopper.reason) return failAll(...stopper.stopped('cancelled before the run started'));
    // Made (0700) and checked for a run that goes ahead, before any pull or container.
    try {
      await ensureWorkRoot(this.workRoot);
      await this.cleanStaleMounts(m => info(m));
    } catch (err) {
      return failAll('failed', errorMessage(err));
    }
    const url = red.container.settings.image.url;
    emit({ type: 'phase', phase: 'pull', status: 'start', detail: url });
    const tPull = Date.now();
    try {
      const img = await ensureImage(docker, url, {
        auth: red.container.settings.image.auth,
        signal: stopper.signal,
        pull: this.opts.pull,
        onProgress: e => emit(e)
      });
      result.image = { url, id: img.id, digest: img.digest, pulled: img.pulled };
      result.timings.pull = Date.now() - tPull;
      emit({ type: 'phase', phase: 'pull', status: 'end', ms: result.timings.pull, detail: img.pulled ? `pulled ${img.id.slice(0, 19)}` : `local image ${img.id.slice(0, 19)}` });
    } catch (err) {
      result.timings.pull = Date.now() - tPull;
      emit({ type: 'phase', phase: 'pull', status: 'end', ms: result.timings.pull, detail: 'failed' });
      return failAll(...(stopper.reason ? stopper.stopped('cancelled while pulling the image') : (['failed', errorMessage(err)] as [FinalState, string])));
    }

    // Batches, at most `parallel` at once.
    const results = await runBatchesInParallel(plans, req.parallel, plan => this.runBatch(docker, req, plan, runId, result.image.id ?? url, gpus, stopper, emit));
    await rmdir(runWorkDir(this.workRoot, runId)).catch(() => undefined);

    concludeRun(result, red, results, stopper);
    return finish();
  }

  /**
   * Hands the batch's result to `recordBatch` (the bridge's store); once it is
   * kept, removes the container and the work folder. Until then a bridge that dies can
   * take the batch up again and collect its outputs; a result that could not be kept (a
   * bridge that is stopping) leaves both for the next start.
   */
  private async releaseBatch(
    docker: Docker,
    result: BatchResult,
    containerId: string | undefined,
    req: { recordBatch?: RunRequest['recordBatch']; leaveContainer?: boolean; keepWorkDir?: KeepWorkDir | boolean },
    wd: BatchWorkDir,
    track: BatchTracker
  ): Promise<BatchResult> {
    let kept = true;
    try {
      if (req.recordBatch) kept = req.recordBatch(result) !== false;
    } catch {
      kept = false;
    }
    if (!kept) return result;
    if (containerId && !req.leaveContainer) await removeContainer(docker.getContainer(containerId));
    await cleanupWorkDir(wd, keepMode(req.keepWorkDir, req.leaveContainer, this.opts.keepWorkDir), track);
    return result;
  }

  private async runBatch(
    docker: Docker,
    req: RunRequest,
    plan: BatchPlan,
    runId: string,
    image: string,
    gpus: GpuSelection | null,
    stopper: Stopper,
    emit: Emitter
  ): Promise<BatchResult> {
    const i = plan.index;
    const track = new BatchTracker(i, plan.command, plan.outdir, emit);
    if (stopper.reason) return track.done(...stopper.stopped('cancelled before this batch started'));

    const wd = this.batchWorkDir(runId, i);
    const ctx: ConnectorContext = {
      baseDir: req.baseDir,
      allowedRoots: req.allowedRoots,
      signal: stopper.signal,
      onInfo: m => track.info(m),
      onProgress: transferEvents(emit, i),
      experimentImage: this.experimentImage(docker, image, req, wd)
    };
    let containerId: string | undefined;
    const mounts = new BatchMounts(this.mountsElsewhere);
    // However the batch ends, its result goes to releaseBatch before anything is removed.
    const result = await (async (): Promise<BatchResult> => {
      try {
        track.setState('preparing');
        await mkdir(runWorkDir(this.workRoot, runId), { recursive: true, mode: 0o700 });
        // A run started again under its id (a bridge that restarted before its container
        // existed) starts from an empty folder, not from what the first attempt left.
        await removeTree(wd.dir);
        await mkdir(wd.inputs, { recursive: true });
        await mkdir(wd.outputs, { recursive: true });
        // Any container user may write its outputs; the run folder above stays private (0700).
        await chmod(wd.outputs, 0o777);

        let staged;
        try {
          staged = await track.phase('staging', async () => {
            await validateConnectors(plan, req.sendOutputs !== false, this.connectors, ctx);
            return stageInputs({ items: plan.items, inputsDir: wd.inputs, registry: this.connectors, ctx, hashInputs: this.opts.hashInputs, mounts });
          });
        } catch (err) {
          return track.done(...(stopper.reason ? stopper.stopped('cancelled while staging inputs') : (['failed', errorMessage(err)] as [FinalState, string])));
        }
        track.b.inputs = staged.records;
        if (stopper.reason) return track.done(...stopper.stopped('cancelled while staging inputs'));

        const ramMb = this.ramMb(req.loaded);
        const create = buildCreateOptions({
          image,
          cmd: plan.command,
          name: `redlab-${runId.slice(0, 12)}-${i}-${randomUUID().slice(0, 8)}`,
          ramMb,
          gpus,
          inputBinds: this.copyFiles ? [] : staged.binds.filter(b => b.readOnly),
          writableInputBinds: this.copyFiles ? [] : staged.binds.filter(b => !b.readOnly),
          outputsHostDir: this.copyFiles ? undefined : wd.outputs,
          runId,
          batch: i,
          labels: req.labels,
          user: this.containerUser(),
          entrypoint: this.opts.entrypoint,
          pidsLimit: this.opts.pidsLimit ?? DEFAULT_PIDS_LIMIT
        });
        const files = await captureFiles(plan, wd.outputs, true);

        track.setState('running');
        const outcome = await track.phase(
          'running',
          () =>
            runContainer({
              docker,
              create,
              signal: stopper.signal,
              stopTimeoutSec: this.opts.stopTimeoutSec ?? 2,
              // Removed by releaseBatch, once the batch's result is recorded.
              leaveContainer: true,
              files,
              lineFlushMs: this.opts.logFlushMs,
              onCreated: (id, name) => {
                containerId = id;
                emit({ type: 'container', batch: i, containerId: id, name });
              },
              beforeStart: this.copyFiles ? c => putInputs(c, staged.binds) : undefined,
              onLog: (stream, data) => emit({ type: 'log', batch: i, stream, data }),
              stats: this.statsOptions(req.stats, emit, i)
            }),
          formatCommandLine(plan.command)
        );
        let failure = await this.copyOutputsBack(docker, outcome, wd.outputs, track);
        // A mount that broke explains a failed command better than its exit code.
        const brokenMounts = mounts.count ? await mounts.broken() : [];
        if (brokenMounts.length && !outcome.cancelled && (outcome.exitCode !== 0 || failure)) {
          failure = `${brokenMounts.join('; ')}${outcome.exitCode !== undefined && outcome.exitCode !== 0 ? ` (the command then exited with ${outcome.exitCode})` : ''}`;
        } else brokenMounts.forEach(m => track.info(m));
        return await this.concludeBatch({
          track,
          plan,
          outcome,
          outputsDir: wd.outputs,
          ctx,
          stopper,
          sendOutputs: req.sendOutputs !== false,
          ramMb,
          image,
          imageUrl: req.loaded.red.container.settings.image.url,
          gpus,
          leaveContainer: req.leaveContainer,
          failure,
          captureErrors: await placeCaptureFiles(plan, wd.outputs)
        });
      } catch (err) {
        return track.done(...(stopper.reason ? stopper.stopped(errorMessage(err)) : (['failed', errorMessage(err)] as [FinalState, string])));
      }
    })();
    // Mounts go on every exit path, before the work folder (their mount points are in it) is removed.
    for (const e of await mounts.unmountAll()) track.info(e);
    return this.releaseBatch(docker, result, containerId, req, wd, track);
  }

  /**
   * With files 'copy': brings the ended container's /cc/outputs into the (emptied) local
   * outputs folder. Returns why the batch fails when the command succeeded but its outputs
   * could not be brought back; when it had failed anyway, that is only said.
   */
  private async copyOutputsBack(docker: Docker, outcome: ContainerRunOutcome, outputsDir: string, track: BatchTracker): Promise<string | undefined> {
    if (!this.copyFiles || !outcome.containerId || outcome.startError) return undefined;
    try {
      // A bridge that restarted may have brought part of them back already.
      await withDir(SafeDir.open(outputsDir, 'the outputs folder'), async dir => {
        for (const e of await dir.entries()) await dir.remove(e.name);
      });
      const got = await getOutputs(docker.getContainer(outcome.containerId), outputsDir);
      for (const s of got.skipped) track.info(`outputs: skipped ${s}`);
      return undefined;
    } catch (err) {
      const message = errorMessage(err);
      if (outcome.exitCode === 0 && !outcome.cancelled && !outcome.oomKilled) return message;
      track.info(message);
      return undefined;
    }
  }

  /**
   * The end of a batch once its container has ended (or is known never to run): the
   * state and error from what happened, then outputs collected from the outputs
   * folder (all of them on success, what is there, marked partial, otherwise).
   */
  private async concludeBatch(c: Conclusion): Promise<BatchResult> {
    const { track, plan, outcome, stopper } = c;
    const b = track.b;
    b.containerId = outcome.containerId ?? b.containerId;
    b.exitCode = outcome.exitCode;
    b.oomKilled = outcome.oomKilled;
    if (c.leaveContainer && outcome.containerId && !outcome.removed) {
      const id = outcome.containerId.slice(0, 12);
      track.info(`container ${id} left in place (docker rm ${id} removes it)`);
    }

    let state: FinalState = 'failed';
    let error: string | undefined;
    if (c.failure) {
      error = c.failure;
    } else if (outcome.cancelled) {
      [state, error] = stopper.stopped('cancelled: the container was stopped');
    } else if (outcome.startError) {
      error = explainStartError(outcome.startError, plan, c.gpus, c.image);
    } else if (outcome.oomKilled) {
      error = `killed: out of memory (ram: ${c.ramMb === null ? 'unlimited' : `${c.ramMb} MB`}); raise container.settings.ram`;
    } else if (outcome.exitCode === 127 || outcome.exitCode === 126) {
      error = explainExecFailure(outcome.exitCode, outcome.stderrTail, plan, c.imageUrl);
    } else if (outcome.exitCode !== 0) {
      error = exitMessage(outcome.exitCode as number, outcome.stderrTail);
    } else state = 'succeeded';
    return concludeWithOutputs({ ...c, connectors: this.connectors }, state, error);
  }

  /**
   * The containers this engine created (label org.redlab.managed=true), in every state,
   * with what Docker says of each now; `runId` narrows it to one run's.
   */
  async listManagedContainers(filter: { runId?: string } = {}): Promise<ManagedContainer[]> {
    // A restarted bridge asks this first: the mounts its predecessor left go now.
    await this.cleanStaleMounts();
    return listManagedContainers(await this.client(), filter);
  }

  /**
   * Takes up a batch whose container a previous process started: sends the part of its
   * log the store does not have yet, follows it to its end if it still runs (abort
   * `signal` to stop it), and collects it as run() would have (same states, errors
   * and outputs, from <workRoot>/<runId>/batch-<n>/outputs), rewriting the stdout/stderr
   * capture files whole from Docker's log. A container that is gone, or that was
   * created but never started, fails the batch with a message that says so.
   * Throws only when Docker cannot be reached (DockerUnavailableError) or fails while
   * the container is looked for: nothing was decided then, try again later.
   */
  async resumeBatch(req: ResumeRequest, opts: { signal?: AbortSignal; onEvent?: (e: RunEvent) => void } = {}): Promise<BatchResult> {
    const emit = makeEmitter(opts.onEvent);
    const i = req.batch;
    const red = req.loaded.red;
    let plan: BatchPlan;
    let wd: BatchWorkDir;
    try {
      wd = this.batchWorkDir(req.runId, i);
      await ensureWorkRoot(this.workRoot);
      await this.cleanStaleMounts(m => emit({ type: 'info', batch: i, message: m }));
      plan = planResumedBatch(req, this.connectors);
    } catch (err) {
      return resumeRefused(req, emit, err);
    }
    const track = new BatchTracker(i, plan.command, plan.outdir, emit);
    const docker = await this.client();

    let containerId = req.containerId;
    if (!containerId) {
      // One that still runs first, should there be several.
      const mine = (await this.listManagedContainers({ runId: req.runId })).filter(c => c.batch === i);
      const found = mine.find(c => c.state === 'running') ?? mine[mine.length - 1];
      if (found) {
        containerId = found.containerId;
        emit({ type: 'container', batch: i, containerId, name: found.name });
      }
    }
    let inspected: Docker.ContainerInspectInfo | undefined;
    if (containerId) {
      try {
        inspected = await docker.getContainer(containerId).inspect();
      } catch (err) {
        if ((err as { statusCode?: number }).statusCode !== 404) throw err;
      }
    }
    const startedAt = req.startedAt ?? (dockerTime(inspected?.State?.StartedAt) ? Date.parse(inspected?.State?.StartedAt as string) : Date.now());
    const limit = req.wallClockLimitMs;
    const stopper = new Stopper(opts.signal, limit !== undefined && limit > 0 ? startedAt + limit : undefined, limit);
    // Where the container really writes (a restarted bridge may have another work root).
    const mounted = inspected?.Mounts?.find(m => m.Destination === CONTAINER_OUTPUTS_DIR)?.Source;
    const outputsDir = mounted ?? wd.outputs;
    const ctx: ConnectorContext = {
      baseDir: req.baseDir ?? path.dirname(path.resolve(req.outdir)),
      allowedRoots: req.allowedRoots ?? [],
      onInfo: m => track.info(m),
      onProgress: transferEvents(emit, i)
    };
    // Connector settings masked in the stored RED cannot be used.
    const keepLocal = Object.entries(plan.batch.outputs ?? {})
      .filter(([, t]) => JSON.stringify(t?.connector?.access ?? {}).includes(MASK))
      .map(([k]) => k);
    const ramMb = this.ramMb(req.loaded);
    const image = inspected?.Config?.Image ?? red.container.settings.image.url;
    ctx.experimentImage = this.experimentImage(docker, image, req, wd);
    // However the batch ends, its result goes to releaseBatch before anything is removed.
    const result = await (async (): Promise<BatchResult> => {
      try {
        let outcome: ContainerRunOutcome = { containerId, oomKilled: false, cancelled: false, stderrTail: '', removed: false, logBytes: { stdout: 0, stderr: 0 } };
        let failure: string | undefined;
        if (!inspected || !containerId) {
          failure = !containerId && (req.lastState === 'queued' || req.lastState === 'preparing') ? NEVER_CREATED_MESSAGE : VANISHED_MESSAGE;
        } else {
          if (mounted && mounted !== wd.outputs) track.info(`the container writes its outputs to ${mounted} (not ${wd.outputs}): collecting them from there`);
          const running = inspected.State.Running === true;
          const short = containerId.slice(0, 12);
          if (inspected.State.Status !== 'created') {
            track.info(
              running
                ? `the bridge restarted: reattached to container ${short}, still running`
                : `the bridge restarted: container ${short} ended while it was down (exit code ${inspected.State.ExitCode})`
            );
          }
          if (running) track.setState('running');
          const skip = new LogSkipper(req.alreadyStored ?? { stdout: 0, stderr: 0 });
          const files = await captureFiles(plan, outputsDir, false);
          const resumed = await track.phase(
            'running',
            () =>
              resumeContainer({
                docker,
                containerId: containerId as string,
                signal: stopper.signal,
                stopTimeoutSec: this.opts.stopTimeoutSec ?? 2,
                // Removed by releaseBatch, once the batch's result is recorded.
                leaveContainer: true,
                files,
                captureTempDir: streamsDir(outputsDir),
                lineFlushMs: this.opts.logFlushMs,
                onLog: (stream, text) => {
                  const rest = skip.take(stream, text);
                  if (rest) emit({ type: 'log', batch: i, stream, data: rest });
                },
                stats: running ? this.statsOptions(req.stats, emit, i) : undefined
              }),
            `reattached to container ${short}`
          );
          outcome = resumed;
          for (const note of [...resumed.notes, ...skip.shortfalls()]) track.info(note);
          if (resumed.startedAt && resumed.finishedAt) track.b.timings.running = Math.max(0, Date.parse(resumed.finishedAt) - Date.parse(resumed.startedAt));
          if (resumed.found === 'missing') failure = VANISHED_MESSAGE;
          else if (resumed.found === 'created') failure = NEVER_STARTED_MESSAGE;
          else failure = await this.copyOutputsBack(docker, outcome, outputsDir, track);
        }
        // What was captured, also before a container vanished (a partial output then).
        const captureErrors = await placeCaptureFiles(plan, outputsDir);
        return await this.concludeBatch({
          track,
          plan,
          outcome,
          outputsDir,
          ctx,
          stopper,
          sendOutputs: req.sendOutputs !== false,
          ramMb,
          image,
          imageUrl: red.container.settings.image.url,
          gpus: null,
          leaveContainer: req.leaveContainer,
          failure,
          keepLocal,
          captureErrors
        });
      } catch (err) {
        return track.done(...(stopper.reason ? stopper.stopped(errorMessage(err)) : (['failed', errorMessage(err)] as [FinalState, string])));
      } finally {
        stopper.dispose();
      }
    })();
    await this.releaseBatch(docker, result, containerId, req, wd, track);
    await rmdir(runWorkDir(this.workRoot, req.runId)).catch(() => undefined);
    return result;
  }

  /**
   * A batch the store already holds a final result of, whose container and work folder
   * a bridge that died right after recording it left behind: removes them as the end of
   * the batch would have (the container unless leaveContainer, the work folder as
   * keepWorkDir says for a batch in `state`).
   */
  async discardBatch(req: DiscardRequest): Promise<void> {
    await this.cleanStaleMounts();
    if (req.containerId && !req.leaveContainer) {
      const docker = await this.client();
      await removeContainer(docker.getContainer(req.containerId));
    }
    const keep = keepMode(req.keepWorkDir, req.leaveContainer, this.opts.keepWorkDir);
    if (keep === 'never' || (keep === 'on-failure' && req.state === 'succeeded')) {
      await removeTree(this.batchWorkDir(req.runId, req.batch).dir).catch(() => undefined);
      await rmdir(runWorkDir(this.workRoot, req.runId)).catch(() => undefined);
    }
  }
}
