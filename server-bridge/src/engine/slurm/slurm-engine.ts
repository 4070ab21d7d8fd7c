// The `slurm` engine: each batch of a RED becomes one Slurm job (sbatch) that starts the
// RED's command in its image with Charliecloud's ch-run, which needs no daemon and no root,
// as HPC centres run containers. Everything around the command is the engine-neutral batch
// of batch.ts, as for Docker: the same plan and command line, inputs staged by the same
// connectors (into the batch's folder in the shared work folder, which the nodes see),
// outputs collected from there with the same glob and link safety and hashes. Only how the
// command runs differs: a job script (job-script.ts), the job's output files followed for
// live logs, its state polled (job-watcher.ts), scancel on cancel.
import type Docker from 'dockerode';
import { mkdir, open, readFile, rmdir, writeFile } from 'fs/promises';
import * as path from 'path';
import { type Red, type BatchResult, type FinalState, type RunEvent, type RunResult, MASK, toBatches } from '../../../../src/red';
import type { ConnectorContext } from '../../connectors/types';
import { defaultConnectors, type ConnectorRegistry } from '../../connectors/registry';
import { transferEvents } from '../../connectors/transfer-progress';
import { removeTree } from '../../util/safe-fs';
import { createDockerClient } from '../docker-client';
import { stageInputs } from '../staging';
import type { DiscardRequest, Engine, EngineCapabilities, EngineRecovery, EngineRefusal, EngineRunOptions, EngineStatus, KeepWorkDir, ManagedContainer, ResumeRequest, RunRequest } from '../types';
import { batchWorkDir, defaultWorkRoot, ensureWorkRoot, runWorkDir, type BatchWorkDir } from '../workdir';
import {
  BatchTracker,
  planResumedBatch,
  resumeRefused,
  RunFrame,
  captureFiles,
  cleanupWorkDir,
  concludeRun,
  concludeWithOutputs,
  errorMessage,
  exitMessage,
  formatDuration,
  keepMode,
  makeEmitter,
  placeCaptureFiles,
  planBatch,
  runBatchesInParallel,
  Stopper,
  type BatchPlan,
  type Emitter
} from '../batch';
import { charliecloudVersion, prepareCharliecloudImage } from './charliecloud';
import { buildJobScript } from './job-script';
import { JobWatcher } from './job-watcher';
import { FileFollower } from './log-follower';
import { redSlurmSettings, resolveSlurmSettings, SlurmSettingsError, type SlurmSettings } from './settings';
import { isFinalJobState, SlurmCli, type SlurmJobInfo } from './slurm-cli';

export const SLURM_ENGINE = 'slurm';
const NOTE = 'runs each batch as a Slurm job, in its image with Charliecloud (ch-run)';
/** A job's comment names its run and batch: `org.redlab.run=<id>,org.redlab.batch=<n>`. */
const COMMENT_RUN = 'org.redlab.run';
const COMMENT_BATCH = 'org.redlab.batch';

export interface SlurmEngineOptions {
  /** The shared work folder when neither the RED nor `settings` names one (default: as the other engines'). */
  workRoot?: string;
  /** The site's defaults (bridge flags, REDLAB_SLURM_*); a RED's execution.settings go over them. */
  settings?: SlurmSettings;
  connectors?: ConnectorRegistry;
  keepWorkDir?: KeepWorkDir;
  hashInputs?: boolean;
  logFlushMs?: number;
  /** Where Slurm's commands find PATH and SLURM_CONF (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** Docker on the submit host, whose images are converted for Charliecloud. */
  docker?: Docker;
  dockerHost?: string;
  pull?: 'missing' | 'never';
  /** How often job states and output files are read (ms; default 250 and 200). */
  pollMs?: number;
  logPollMs?: number;
  /** Pause before a transient sbatch failure is tried again (ms, doubling; default 500). */
  retryPauseMs?: number;
}

/** How a job ended, in the words of a batch result. */
export function jobOutcome(info: SlurmJobInfo, settings: SlurmSettings, stderrTail: string): { state: FinalState; error?: string } {
  const state = info.state.split(/[ +]/)[0];
  if (state === 'COMPLETED' && (info.exitCode ?? 0) === 0) return { state: 'succeeded' };
  if (state === 'TIMEOUT') return { state: 'failed', error: `Slurm stopped job ${info.id} at its time limit${settings.timeLimit ? ` (${settings.timeLimit})` : ''}; raise execution.settings.timeLimit` };
  if (state === 'OUT_OF_MEMORY') return { state: 'failed', error: `job ${info.id} ran out of memory; raise container.settings.ram` };
  if (state === 'CANCELLED') return { state: 'failed', error: `job ${info.id} was cancelled outside RED Lab (scancel, or by an administrator)${info.reason ? `: ${info.reason}` : ''}` };
  if (state === 'NODE_FAIL' || state === 'BOOT_FAIL') return { state: 'failed', error: `the node of job ${info.id}${info.nodes ? ` (${info.nodes})` : ''} failed (${state}); run the RED again` };
  if (state === 'PREEMPTED') return { state: 'failed', error: `job ${info.id} was preempted by a job of higher priority; run the RED again, or ask for a partition without preemption` };
  if (info.exitCode !== undefined && info.exitCode !== 0) return { state: 'failed', error: exitMessage(info.exitCode, stderrTail) };
  if (info.signal) return { state: 'failed', error: `the command was killed by signal ${info.signal}` };
  return { state: 'failed', error: `job ${info.id} ended ${state}${info.reason ? ` (${info.reason})` : ''}` };
}

/** Where a batch's job writes: its stdout and stderr (the capture files when the RED keeps them), and its exit code. */
interface JobFiles {
  stdout: string;
  stderr: string;
  exit: string;
}

function jobFiles(wd: BatchWorkDir, captured: { stdout?: string; stderr?: string }): JobFiles {
  const jobDir = path.join(wd.dir, 'job');
  return { stdout: captured.stdout ?? path.join(jobDir, 'stdout'), stderr: captured.stderr ?? path.join(jobDir, 'stderr'), exit: path.join(jobDir, 'exit-code') };
}

async function tailOf(file: string, bytes = 4096): Promise<string> {
  try {
    const h = await open(file, 'r');
    try {
      const { size } = await h.stat();
      const buf = Buffer.alloc(Math.min(bytes, size));
      await h.read(buf, 0, buf.length, size - buf.length);
      return buf.toString('utf8');
    } finally {
      await h.close();
    }
  } catch {
    return '';
  }
}

export class SlurmEngine implements Engine {
  readonly name = SLURM_ENGINE;
  readonly capabilities: EngineCapabilities;
  private readonly connectors: ConnectorRegistry;
  private readonly cli: SlurmCli;
  private readonly watcher: JobWatcher;
  private dockerClient: Docker | undefined;

  constructor(private readonly opts: SlurmEngineOptions = {}) {
    this.connectors = opts.connectors ?? defaultConnectors();
    this.cli = new SlurmCli({ env: opts.env, retryPauseMs: opts.retryPauseMs });
    this.watcher = new JobWatcher(this.cli, opts.pollMs ?? 250);
    this.capabilities = {
      isolated: true,
      gpus: true,
      // Slurm schedules GPUs by count (gres); by memory only through gres types a site defines.
      gpusByMemory: false,
      batches: true,
      cancel: true,
      inputConnectors: this.connectors.inputCommands,
      outputConnectors: this.connectors.outputCommands,
      imagePull: true,
      imageBuilds: false,
      bindMounts: false,
      reattach: true,
      stats: false,
      sessions: false,
      schedulesGpus: true,
      queuesBatches: true
    };
    this.recovery = {
      listManaged: filter => this.listJobs(filter),
      resumeBatch: (req, o) => this.resumeBatch(req, o),
      discardBatch: req => this.discardBatch(req),
      // Jobs submitted but never started (PENDING) when the bridge died: the bridge runs them again.
      remove: async ids => {
        for (const id of ids) await this.cli.cancel(id).catch(() => undefined);
      },
      // Slurm holds the GPUs a job got; the bridge keeps no pool for it.
      gpuDeviceIds: async () => []
    };
  }

  readonly recovery: EngineRecovery;

  /** This engine's jobs Slurm still knows (by their comment), as the bridge's recovery lists containers. */
  private async listJobs(filter: { runId?: string } = {}): Promise<ManagedContainer[]> {
    const jobs = await this.cli.jobsWithComment(`${COMMENT_RUN}=`);
    const out: ManagedContainer[] = [];
    for (const j of jobs) {
      const m = new RegExp(`^${COMMENT_RUN}=([A-Za-z0-9_-]+),${COMMENT_BATCH}=(\\d+)$`).exec(j.comment);
      if (!m || (filter.runId && m[1] !== filter.runId)) continue;
      const state = j.state.split(/[ +]/)[0];
      out.push({
        containerId: j.id,
        name: `redlab-${m[1]}-${m[2]}`,
        runId: m[1],
        batch: Number(m[2]),
        state: state === 'PENDING' ? 'created' : isFinalJobState(state) ? 'exited' : 'running',
        labels: { [COMMENT_RUN]: m[1], [COMMENT_BATCH]: m[2] }
      });
    }
    return out;
  }

  /** A batch whose job a previous bridge submitted: followed to its end and collected, as run() would have. */
  async resumeBatch(req: ResumeRequest, opts: EngineRunOptions = {}): Promise<BatchResult> {
    const emit = makeEmitter(opts.onEvent);
    const i = req.batch;
    const red = req.loaded.red;
    let plan: BatchPlan;
    let wd: BatchWorkDir;
    let settings: SlurmSettings;
    try {
      settings = resolveSlurmSettings(this.opts.settings ?? {}, redSlurmSettings(red));
      wd = batchWorkDir(settings.workDir ?? this.workRoot, req.runId, i);
      plan = planResumedBatch(req, this.connectors);
    } catch (err) {
      return resumeRefused(req, emit, err);
    }
    const track = new BatchTracker(i, plan.command, plan.outdir, emit);
    const limit = req.wallClockLimitMs;
    const stopper = new Stopper(opts.signal, limit !== undefined && limit > 0 ? (req.startedAt ?? Date.now()) + limit : undefined, limit);
    const ctx: ConnectorContext = { privateCopies: true, baseDir: req.baseDir ?? path.dirname(path.resolve(req.outdir)), allowedRoots: req.allowedRoots ?? [], onInfo: m => track.info(m), onProgress: transferEvents(emit, i) };
    // Connector settings masked in the stored RED cannot be used: those outputs stay in the outdir.
    const keepLocal = Object.entries(plan.batch.outputs ?? {})
      .filter(([, t]) => JSON.stringify(t?.connector?.access ?? {}).includes(MASK))
      .map(([k]) => k);
    const result = await (async (): Promise<BatchResult> => {
      try {
        let id = req.containerId;
        if (!id) {
          const mine = (await this.listJobs({ runId: req.runId })).filter(j => j.batch === i);
          id = (mine.find(j => j.state !== 'exited') ?? mine[mine.length - 1])?.containerId;
          if (id) emit({ type: 'container', batch: i, containerId: id, name: `redlab-${req.runId}-${i}` });
        }
        if (!id) {
          return track.done('failed', req.lastState === 'queued' || req.lastState === 'preparing' ? `the bridge stopped before this batch's Slurm job was submitted: run it again` : 'the Slurm job of this batch cannot be found (squeue knows no job of it): run it again');
        }
        track.info(`the bridge restarted: following Slurm job ${id} again`);
        const files = jobFiles(wd, await captureFiles(plan, wd.outputs, false));
        const outcome = await track.phase('running', () => this.followJob(track, id as string, files, settings, stopper, emit, req.alreadyStored));
        const captureErrors = await placeCaptureFiles(plan, wd.outputs);
        return await concludeWithOutputs({ track, plan, outputsDir: wd.outputs, ctx, sendOutputs: req.sendOutputs !== false, connectors: this.connectors, captureErrors, keepLocal }, outcome.state, outcome.error);
      } catch (err) {
        return track.done(...(stopper.reason ? stopper.stopped(errorMessage(err)) : (['failed', errorMessage(err)] as [FinalState, string])));
      } finally {
        stopper.dispose();
      }
    })();
    return this.releaseBatch(result, wd, track, req);
  }

  /** What a batch whose result is recorded left: its work folder (the job itself has ended). */
  private async discardBatch(req: DiscardRequest): Promise<void> {
    const settings = resolveSlurmSettings(this.opts.settings ?? {}, {});
    const wd = batchWorkDir(settings.workDir ?? this.workRoot, req.runId, req.batch);
    const keep = keepMode(req.keepWorkDir, req.leaveContainer, this.opts.keepWorkDir);
    if (keep === 'never' || (keep === 'on-failure' && req.state === 'succeeded')) await removeTree(wd.dir).catch(() => undefined);
  }

  get workRoot(): string {
    return this.opts.settings?.workDir ?? this.opts.workRoot ?? defaultWorkRoot();
  }

  private docker(): Docker {
    this.dockerClient ??= this.opts.docker ?? createDockerClient({ dockerHost: this.opts.dockerHost });
    return this.dockerClient;
  }

  async status(): Promise<EngineStatus> {
    try {
      await this.cli.ping();
      const [version, nodes, runtime] = await Promise.all([this.cli.version(), this.cli.nodes(), charliecloudVersion()]);
      const up = nodes.filter(n => !/DOWN|DRAIN|FAIL|NOT_RESPONDING|FUTURE/.test(n.state));
      const gpus = up.reduce((a, n) => a + n.gpus, 0);
      const gpusFree = up.reduce((a, n) => a + Math.max(0, n.gpus - n.gpusAllocated), 0);
      return {
        available: up.length > 0,
        version: `Slurm ${version}`,
        note: `${NOTE}; runtime charliecloud ${runtime}`,
        capacity: { nodes: nodes.length, nodesUp: up.length, cpus: up.reduce((a, n) => a + n.cpus, 0), gpus, gpusFree },
        ...(up.length ? {} : { error: `Slurm has no node up (${nodes.map(n => `${n.name} ${n.state}`).join(', ') || 'none at all'}): ask the cluster's administrators, or see sinfo` })
      };
    } catch (err) {
      return { available: false, error: errorMessage(err), note: NOTE };
    }
  }

  async precheck(red: Red): Promise<EngineRefusal | undefined> {
    try {
      resolveSlurmSettings(this.opts.settings ?? {}, redSlurmSettings(red));
    } catch (err) {
      if (err instanceof SlurmSettingsError) return { path: err.field, message: err.message, fix: err.fix };
      throw err;
    }
    if (red.container.settings.gpus?.devices?.length) {
      return {
        path: 'container.settings.gpus.devices',
        message: 'Slurm schedules GPUs by count, not by their memory',
        fix: 'give container.settings.gpus.count instead, and a partition whose GPUs have the memory you need (execution.settings.partition)'
      };
    }
    return undefined;
  }

  async run(req: RunRequest, opts: { signal?: AbortSignal; onEvent?: (e: RunEvent) => void } = {}): Promise<RunResult> {
    const frame = new RunFrame(req, opts, { name: this.name, isolated: true, note: NOTE });
    const { emit, runId, result, stopper } = frame;
    const red = req.loaded.red;
    const url = red.container?.settings?.image?.url;
    const finish = () => frame.finish();

    let plans: BatchPlan[];
    let settings: SlurmSettings;
    let workRoot: string;
    try {
      frame.check();
      settings = resolveSlurmSettings(this.opts.settings ?? {}, redSlurmSettings(red));
      const refusal = await this.precheck(red);
      if (refusal) throw new Error(`${refusal.path}: ${refusal.message}; ${refusal.fix}`);
      workRoot = settings.workDir ?? this.workRoot;
      const batches = toBatches(red);
      const isBatchRed = 'batches' in red;
      plans = batches.map((batch, index) => planBatch(req, batch, index, batches.length, isBatchRed, runId, this.connectors));
    } catch (err) {
      result.error = errorMessage(err);
      return finish();
    }
    const failAll = (state: FinalState, error: string) => frame.failAll(plans, state, error);
    if (stopper.reason) return failAll(...stopper.stopped('cancelled before the run started'));
    try {
      await this.cli.ping();
      await ensureWorkRoot(workRoot);
    } catch (err) {
      return failAll('failed', errorMessage(err));
    }

    emit({ type: 'phase', phase: 'pull', status: 'start', detail: url });
    const tPull = Date.now();
    let imageDir: string;
    try {
      const prepared = await prepareCharliecloudImage({
        docker: this.docker(),
        url,
        auth: red.container.settings.image.auth,
        imagesRoot: path.join(workRoot, 'charliecloud-images'),
        signal: stopper.signal,
        pull: this.opts.pull,
        onProgress: e => emit(e),
        onInfo: message => emit({ type: 'info', message })
      });
      imageDir = prepared.dir;
      result.image = { url, id: prepared.image.id, digest: prepared.image.digest, pulled: prepared.image.pulled };
    } catch (err) {
      return failAll(...(stopper.reason ? stopper.stopped('cancelled while preparing the image') : (['failed', errorMessage(err)] as [FinalState, string])));
    } finally {
      result.timings.pull = Date.now() - tPull;
      emit({ type: 'phase', phase: 'pull', status: 'end', ms: result.timings.pull });
    }

    // The RED's concurrency caps what the run asks for (redlab run and the bridge ask for every batch by default: queuesBatches).
    const parallel = Math.min(settings.concurrency ?? Infinity, req.parallel);
    const results = await runBatchesInParallel(plans, parallel, plan => this.runBatch(req, plan, runId, workRoot, imageDir, settings, stopper, emit));
    await rmdir(runWorkDir(workRoot, runId)).catch(() => undefined);
    concludeRun(result, red, results, stopper);
    return finish();
  }

  // ch-run binds read-write (Charliecloud 0.31 has no read-only bind): inputs are private copies (ctx.privateCopies).
  private async runBatch(req: RunRequest, plan: BatchPlan, runId: string, workRoot: string, imageDir: string, settings: SlurmSettings, stopper: Stopper, emit: Emitter): Promise<BatchResult> {
    const i = plan.index;
    const track = new BatchTracker(i, plan.command, plan.outdir, emit);
    if (stopper.reason) return track.done(...stopper.stopped('cancelled before this batch started'));
    const wd = batchWorkDir(workRoot, runId, i);
    const ctx: ConnectorContext = { privateCopies: true, baseDir: req.baseDir, allowedRoots: req.allowedRoots, signal: stopper.signal, onInfo: m => track.info(m), onProgress: transferEvents(emit, i) };
    const result = await (async (): Promise<BatchResult> => {
      try {
        track.setState('preparing');
        await mkdir(runWorkDir(workRoot, runId), { recursive: true, mode: 0o700 });
        await removeTree(wd.dir);
        const jobDir = path.join(wd.dir, 'job');
        const tmpDir = path.join(wd.dir, 'tmp');
        for (const d of [wd.inputs, wd.outputs, jobDir, tmpDir]) await mkdir(d, { recursive: true, mode: 0o700 });
        try {
          track.b.inputs = (await track.phase('staging', () => stageInputs({ items: plan.items, inputsDir: wd.inputs, registry: this.connectors, ctx, hashInputs: this.opts.hashInputs }))).records;
        } catch (err) {
          return track.done(...(stopper.reason ? stopper.stopped('cancelled while staging inputs') : (['failed', errorMessage(err)] as [FinalState, string])));
        }
        if (stopper.reason) return track.done(...stopper.stopped('cancelled while staging inputs'));

        const files = jobFiles(wd, await captureFiles(plan, wd.outputs, true));
        const scriptFile = path.join(jobDir, 'job.sh');
        const jobName = `redlab-${runId}-${i}`;
        const script = buildJobScript({
          jobName,
          comment: `${COMMENT_RUN}=${runId},${COMMENT_BATCH}=${i}`,
          command: plan.command,
          imageDir,
          inputsDir: wd.inputs,
          outputsDir: wd.outputs,
          tmpDir,
          stdoutFile: files.stdout,
          stderrFile: files.stderr,
          exitFile: files.exit,
          workDir: wd.dir,
          ramMb: req.loaded.red.container.settings.ram,
          gpus: req.loaded.red.container.settings.gpus?.count,
          settings,
          wallClockLimitMs: req.wallClockLimitMs
        });
        await writeFile(scriptFile, script, { mode: 0o700 });

        const outcome = await track.phase(
          'running',
          async () => this.followJob(track, await this.submitJob(track, scriptFile, jobName, emit), files, settings, stopper, emit),
          `sbatch ${scriptFile}`
        );
        const captureErrors = await placeCaptureFiles(plan, wd.outputs);
        return await concludeWithOutputs({ track, plan, outputsDir: wd.outputs, ctx, sendOutputs: req.sendOutputs !== false, connectors: this.connectors, captureErrors }, outcome.state, outcome.error);
      } catch (err) {
        return track.done(...(stopper.reason ? stopper.stopped(errorMessage(err)) : (['failed', errorMessage(err)] as [FinalState, string])));
      }
    })();
    return this.releaseBatch(result, wd, track, req);
  }

  /** As DockerEngine's: the work folder goes only once the batch's result is kept. */
  private async releaseBatch(result: BatchResult, wd: BatchWorkDir, track: BatchTracker, req: Pick<RunRequest, 'recordBatch' | 'keepWorkDir'>): Promise<BatchResult> {
    let kept = true;
    try {
      if (req.recordBatch) kept = req.recordBatch(result) !== false;
    } catch {
      kept = false;
    }
    if (kept) await cleanupWorkDir(wd, keepMode(req.keepWorkDir, false, this.opts.keepWorkDir), track);
    return result;
  }

  /** Submits the job; its id goes out as the batch's `container` (a restarted bridge finds it by that, or by its comment). */
  private async submitJob(track: BatchTracker, scriptFile: string, jobName: string, emit: Emitter): Promise<string> {
    const id = await this.cli.submit(scriptFile, (err, attempt) => track.info(`sbatch was refused for a passing reason (${err.stderr.trim()}); trying again (${attempt + 1})`));
    track.b.job = { scheduler: 'slurm', id };
    emit({ type: 'container', batch: track.b.index, containerId: id, name: jobName });
    track.info(`Slurm job ${id} submitted`);
    return id;
  }

  /**
   * Follows job `id` to its end: its output files as live logs (from `skip` bytes on, for a
   * resumed batch), its state; scancel on a stop. How it ended, in a batch's words.
   */
  private async followJob(
    track: BatchTracker,
    id: string,
    files: JobFiles,
    settings: SlurmSettings,
    stopper: Stopper,
    emit: Emitter,
    skip: { stdout: number; stderr: number } = { stdout: 0, stderr: 0 }
  ): Promise<{ state: FinalState; error?: string }> {
    const i = track.b.index;
    track.b.job = { scheduler: 'slurm', id };
    const followers = (['stdout', 'stderr'] as const).map(stream =>
      new FileFollower(files[stream], data => emit({ type: 'log', batch: i, stream, data }), this.opts.logPollMs ?? 200, this.opts.logFlushMs, skip[stream]).start()
    );
    let cancelling: Promise<void> | undefined;
    const cancel = () => {
      cancelling ??= this.cli.cancel(id).catch(err => track.info(`scancel ${id} failed: ${errorMessage(err)}`));
    };
    if (stopper.signal.aborted) cancel();
    else stopper.signal.addEventListener('abort', cancel, { once: true });
    let info: SlurmJobInfo;
    try {
      info = await this.watcher.wait(id, state => {
        if (state === 'RUNNING') track.setState('running');
        else if (state === 'PENDING') track.info(`Slurm job ${id} is waiting for resources`);
      });
    } finally {
      stopper.signal.removeEventListener('abort', cancel);
      await cancelling;
      for (const f of followers) await f.stop();
    }
    if (info.state === 'UNKNOWN') {
      // Slurm forgot the job (MinJobAge passed): the exit code the job script wrote says how it ended.
      const code = await readFile(files.exit, 'utf8').then(
        t => (/^\d+\s*$/.test(t) ? Number(t) : NaN),
        () => NaN
      );
      info = Number.isFinite(code)
        ? { ...info, state: code === 0 ? 'COMPLETED' : 'FAILED', exitCode: code }
        : { ...info, state: 'VANISHED', reason: 'Slurm no longer knows it and it left no exit code' };
    }
    track.b.job = { scheduler: 'slurm', id, state: info.state, ...(info.nodes ? { node: info.nodes } : {}) };
    if (info.exitCode !== undefined) track.b.exitCode = info.exitCode;
    if (stopper.reason) {
      const [state, error] = stopper.stopped(`cancelled: Slurm job ${id} was cancelled (scancel)`);
      return { state, error: state === 'failed' ? `${error} (Slurm job ${id} cancelled after ${formatDuration(Date.now() - (track.b.startedAt ?? Date.now()))})` : error };
    }
    return jobOutcome(info, settings, await tailOf(files.stderr));
  }
}
