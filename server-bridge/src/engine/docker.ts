// The local Docker engine: runs each batch of a RED in its own container, as
// Curious Containers' `faice agent red` does, with inputs staged on the host by
// built-in connectors and bind-mounted read-only, /cc/outputs bound to a host
// folder, live logs, OOM/exit/cancel handling and outputs moved to the outdir
// (or sent through connectors) with sizes and sha256.
import type Docker from 'dockerode';
import { randomUUID } from 'crypto';
import { chmod, mkdir, readdir, rm, rmdir } from 'fs/promises';
import * as os from 'os';
import * as path from 'path';
import type { Batch, LoadedRed } from '../../../src/red/types';
import type { BatchResult, FinalState, Phase, PhaseTimings, RunEvent, RunResult, RunState } from '../../../src/red/run';
import type { SecretMasker } from '../../../src/red/mask';
import type { ConnectorContext } from '../connectors/types';
import { defaultConnectors, type ConnectorRegistry } from '../connectors/registry';
import type { Engine, EngineCapabilities, RunRequest } from './types';
import { connectDocker, type DockerClientOptions } from './docker-client';
import { ensureImage } from './image';
import { describeInventory, readGpuInventory, selectGpus, type Gpu, type GpuSelection } from './gpu';
import { buildCreateOptions, DEFAULT_RAM_MB, DEFAULT_PIDS_LIMIT } from './host-config';
import { runContainer } from './container';
import { listInputItems, stageInputs, type InputItem } from './staging';
import { collectOutputs, planOutputs, type OutputSpec } from './outputs';
import { buildCommand, formatCommandLine, inputContainerPath, toBatches, type ContainerPathOf } from './red-deps';

export { DockerUnavailableError } from './docker-client';

export interface DockerEngineOptions extends DockerClientOptions {
  /** A ready dockerode client (tests); otherwise one is made from DOCKER_HOST / the socket. */
  docker?: Docker;
  /** Where batches stage inputs and bind /cc/outputs: <workRoot>/<runId>/batch-N. Default os.tmpdir()/redlab-runs. */
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
  /** Keep <workRoot>/<runId>/batch-N after the batch: 'on-failure' (default), 'always', 'never'. */
  keepWorkDir?: 'on-failure' | 'always' | 'never';
  /** sha256 of inputs for the result (default true). */
  hashInputs?: boolean;
  /** GPU inventory source (default: nvidia-smi on PATH). */
  gpuInventory?: () => Promise<Gpu[]>;
  connectors?: ConnectorRegistry;
  /** 'missing' (default): pull images that are not local; 'never'. */
  pull?: 'missing' | 'never';
}

interface BatchPlan {
  index: number;
  batch: Batch;
  items: InputItem[];
  command: string[];
  outputs: OutputSpec[];
  streams: { stdout?: string; stderr?: string };
  outdir: string;
  floatPathPrefix: string;
}

const containerPathOf: ContainerPathOf = (key, value, index) => inputContainerPath(key, value, index);

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** The last few lines of a text, for error messages. */
function lastLines(text: string, lines = 5, chars = 800): string {
  const t = text.trimEnd().split('\n').slice(-lines).join('\n');
  return t.length > chars ? '…' + t.slice(-chars) : t;
}

export class DockerEngine implements Engine {
  readonly name = 'docker';
  readonly capabilities: EngineCapabilities;
  private readonly connectors: ConnectorRegistry;

  constructor(private readonly opts: DockerEngineOptions = {}) {
    this.connectors = opts.connectors ?? defaultConnectors();
    this.capabilities = {
      gpus: true,
      batches: true,
      cancel: true,
      inputConnectors: this.connectors.inputCommands,
      outputConnectors: this.connectors.outputCommands,
      imagePull: opts.pull !== 'never'
    };
  }

  get workRoot(): string {
    return this.opts.workRoot ?? path.join(os.tmpdir(), 'redlab-runs');
  }

  private containerUser(): string | undefined {
    if (this.opts.user === null) return undefined;
    if (this.opts.user) return this.opts.user;
    const uid = process.getuid?.();
    const gid = process.getgid?.();
    return uid !== undefined && uid !== 0 && gid !== undefined ? `${uid}:${gid}` : undefined;
  }

  async run(req: RunRequest, opts: { signal?: AbortSignal; onEvent?: (e: RunEvent) => void } = {}): Promise<RunResult> {
    const t0 = Date.now();
    const masker = req.masker;
    const signal = opts.signal;
    const emit = (e: RunEvent) => {
      try {
        opts.onEvent?.(e.type === 'log' || e.type === 'info' || e.type === 'phase' ? masker.maskValue(e) : e);
      } catch {
        /* a listener's failure is not the run's */
      }
    };
    const info = (message: string, batch?: number) => emit(batch === undefined ? { type: 'info', message } : { type: 'info', batch, message });
    const loaded: LoadedRed = req.loaded;
    const red = loaded.red;
    const runId = req.runId ?? randomUUID();
    const result: RunResult = { state: 'failed', image: { url: red.container?.settings?.image?.url, pulled: false }, batches: [], timings: { total: 0 } };
    // Everything that leaves the engine is masked: errors, commands, URLs in records.
    const finish = (): RunResult => {
      result.timings.total = Date.now() - t0;
      return masker.maskValue(result);
    };

    // Plan every batch before touching Docker: bad connectors, inputs or globs fail fast.
    let plans: BatchPlan[];
    let gpus: GpuSelection | null = null;
    try {
      const batches = toBatches(red);
      const isBatchRed = 'batches' in red;
      plans = batches.map((batch, index) => this.planBatch(req, batch, index, batches.length, isBatchRed));
      const gpuReq = red.container.settings.gpus;
      if (gpuReq) {
        const inventory = await (this.opts.gpuInventory ?? (() => readGpuInventory()))();
        gpus = selectGpus(gpuReq, inventory);
        info(`GPUs: ${gpus?.summary}; ${describeInventory(inventory)}`);
      }
    } catch (err) {
      result.error = errorMessage(err);
      return finish();
    }
    if (red.container.settings.ram === undefined) {
      const dflt = this.opts.defaultRamMb === undefined ? DEFAULT_RAM_MB : this.opts.defaultRamMb;
      info(dflt === null ? 'container.settings.ram is not set: no memory limit' : `container.settings.ram is not set: limiting memory to ${dflt} MB`);
    }
    const failAll = (state: FinalState, error: string) => {
      result.state = state;
      result.error = error;
      result.batches = plans.map(p => ({ index: p.index, state, command: p.command, inputs: {}, outputs: {}, timings: { total: 0 }, error, outdir: p.outdir }));
      return finish();
    };

    // Docker and the image.
    let docker: Docker;
    try {
      docker = await connectDocker({ ...this.opts, docker: this.opts.docker });
    } catch (err) {
      return failAll('failed', errorMessage(err));
    }
    if (signal?.aborted) return failAll('cancelled', 'cancelled before the run started');
    const url = red.container.settings.image.url;
    emit({ type: 'phase', phase: 'pull', status: 'start', detail: url });
    const tPull = Date.now();
    try {
      const img = await ensureImage(docker, url, {
        auth: red.container.settings.image.auth,
        signal,
        pull: this.opts.pull,
        onProgress: e => emit(e)
      });
      result.image = { url, id: img.id, digest: img.digest, pulled: img.pulled };
      result.timings.pull = Date.now() - tPull;
      emit({ type: 'phase', phase: 'pull', status: 'end', ms: result.timings.pull, detail: img.pulled ? `pulled ${img.id.slice(0, 19)}` : `local image ${img.id.slice(0, 19)}` });
    } catch (err) {
      result.timings.pull = Date.now() - tPull;
      emit({ type: 'phase', phase: 'pull', status: 'end', ms: result.timings.pull, detail: 'failed' });
      return failAll(signal?.aborted ? 'cancelled' : 'failed', signal?.aborted ? 'cancelled while pulling the image' : errorMessage(err));
    }

    // Batches, at most `parallel` at once.
    const results: BatchResult[] = new Array(plans.length);
    const parallel = Math.max(1, Math.min(Math.floor(req.parallel || 1), plans.length));
    let next = 0;
    await Promise.all(
      Array.from({ length: parallel }, async () => {
        while (next < plans.length) {
          const plan = plans[next++];
          results[plan.index] = await this.runBatch(docker, req, plan, runId, result.image.id ?? url, gpus, signal, emit);
        }
      })
    );
    await rmdir(path.join(this.workRoot, runId)).catch(() => undefined);

    result.batches = results;
    const timings: PhaseTimings = result.timings;
    for (const b of results) {
      for (const p of ['staging', 'running', 'collecting'] as const) {
        if (b.timings[p] !== undefined) timings[p] = (timings[p] ?? 0) + (b.timings[p] as number);
      }
    }
    const states = results.map(b => b.state);
    result.state = states.includes('cancelled') && signal?.aborted ? 'cancelled' : states.some(s => s !== 'succeeded') ? 'failed' : 'succeeded';
    if (!('batches' in red)) {
      const b = results[0];
      result.command = b.command;
      result.exitCode = b.exitCode;
      result.inputs = b.inputs;
      result.outputs = b.outputs;
      result.error = b.error;
    } else {
      const bad = results.filter(b => b.state !== 'succeeded');
      if (bad.length) result.error = bad.map(b => `batch ${b.index} ${b.state}${b.error ? `: ${b.error}` : ''}`).join('\n');
    }
    return finish();
  }

  private planBatch(req: RunRequest, batch: Batch, index: number, count: number, isBatchRed: boolean): BatchPlan {
    const red = req.loaded.red;
    const cli = red.cli;
    const where = (msg: string) => (count > 1 ? `batch ${index}: ${msg}` : msg);
    try {
      const floatPathPrefix = isBatchRed ? `batches.${index}.inputs` : 'inputs';
      const items = listInputItems(cli, batch.inputs);
      for (const item of items) this.connectors.input(item.value.connector.command, item.label, item.value.class);
      const command = buildCommand(cli, batch.inputs, { containerPathOf, floatPaths: req.loaded.floatPaths, floatPathPrefix });
      const outputTypes = Object.values(cli.outputs ?? {}).map(o => o.type);
      // As CC: a stdout/stderr output with no cli.stdout/stderr file name gets a random one.
      const streams = {
        stdout: cli.stdout ?? (outputTypes.includes('stdout') ? randomUUID() : undefined),
        stderr: cli.stderr ?? (outputTypes.includes('stderr') ? randomUUID() : undefined)
      };
      const outputs = planOutputs(cli, batch.inputs, containerPathOf, streams, { floatPaths: req.loaded.floatPaths, floatPathPrefix });
      if (req.sendOutputs !== false) {
        for (const [key, target] of Object.entries(batch.outputs ?? {})) {
          const spec = outputs.find(o => o.key === key);
          if (!spec) throw new Error(`outputs.${key} has no matching cli.outputs.${key}`);
          this.connectors.output(target.connector?.command, key, spec.kind === 'Directory' ? 'Directory' : 'File');
        }
      }
      const outdir = count === 1 ? req.outdir : `${req.outdir}_${index}`;
      return { index, batch, items, command, outputs, streams, outdir, floatPathPrefix };
    } catch (err) {
      throw new Error(where(errorMessage(err)));
    }
  }

  private async runBatch(
    docker: Docker,
    req: RunRequest,
    plan: BatchPlan,
    runId: string,
    image: string,
    gpus: GpuSelection | null,
    signal: AbortSignal | undefined,
    emit: (e: RunEvent) => void
  ): Promise<BatchResult> {
    const i = plan.index;
    const t0 = Date.now();
    const masker: SecretMasker = req.masker;
    const b: BatchResult = { index: i, state: 'failed', command: plan.command, inputs: {}, outputs: {}, timings: { total: 0 }, outdir: plan.outdir };
    const setState = (state: RunState, exitCode?: number) => emit(exitCode === undefined ? { type: 'batch-state', batch: i, state } : { type: 'batch-state', batch: i, state, exitCode });
    const phase = async <T>(name: Phase, fn: () => Promise<T>, detail?: string): Promise<T> => {
      emit({ type: 'phase', batch: i, phase: name, status: 'start', ...(detail ? { detail } : {}) });
      const t = Date.now();
      try {
        return await fn();
      } finally {
        b.timings[name] = Date.now() - t;
        emit({ type: 'phase', batch: i, phase: name, status: 'end', ms: b.timings[name] });
      }
    };
    const done = (state: FinalState, error?: string): BatchResult => {
      b.state = state;
      if (error) b.error = masker.mask(error);
      b.timings.total = Date.now() - t0;
      setState(state, b.exitCode);
      return b;
    };
    if (signal?.aborted) return done('cancelled', 'cancelled before this batch started');

    const batchDir = path.join(this.workRoot, runId, `batch-${i}`);
    const inputsDir = path.join(batchDir, 'inputs');
    const outputsDir = path.join(batchDir, 'outputs');
    const ctx: ConnectorContext = {
      baseDir: req.baseDir,
      allowedRoots: req.allowedRoots,
      masker,
      signal,
      onInfo: m => emit({ type: 'info', batch: i, message: m })
    };
    let outcomeState: FinalState = 'failed';
    let outcomeError: string | undefined;
    try {
      setState('preparing');
      await mkdir(path.join(this.workRoot, runId), { recursive: true, mode: 0o700 });
      await mkdir(inputsDir, { recursive: true });
      await mkdir(outputsDir, { recursive: true });
      // Any container user may write its outputs; the run folder above stays private (0700).
      await chmod(outputsDir, 0o777);

      let staged;
      try {
        staged = await phase('staging', () => stageInputs({ items: plan.items, inputsDir, registry: this.connectors, ctx, hashInputs: this.opts.hashInputs }));
      } catch (err) {
        return done(signal?.aborted ? 'cancelled' : 'failed', signal?.aborted ? 'cancelled while staging inputs' : errorMessage(err));
      }
      b.inputs = staged.records;
      if (signal?.aborted) return done('cancelled', 'cancelled while staging inputs');

      const ramMb = req.loaded.red.container.settings.ram ?? (this.opts.defaultRamMb === undefined ? DEFAULT_RAM_MB : this.opts.defaultRamMb);
      const create = buildCreateOptions({
        image,
        cmd: plan.command,
        name: `redlab-${runId.slice(0, 12)}-${i}-${randomUUID().slice(0, 8)}`,
        ramMb,
        gpus,
        inputBinds: staged.binds,
        outputsHostDir: outputsDir,
        runId,
        batch: i,
        labels: req.labels,
        user: this.containerUser(),
        entrypoint: this.opts.entrypoint,
        pidsLimit: this.opts.pidsLimit ?? DEFAULT_PIDS_LIMIT
      });
      const files: { stdout?: string; stderr?: string } = {};
      for (const s of ['stdout', 'stderr'] as const) {
        const name = plan.streams[s];
        if (!name) continue;
        const file = path.join(outputsDir, ...name.split('/'));
        await mkdir(path.dirname(file), { recursive: true });
        files[s] = file;
      }

      setState('running');
      const outcome = await phase(
        'running',
        () =>
          runContainer({
            docker,
            create,
            signal,
            stopTimeoutSec: this.opts.stopTimeoutSec ?? 2,
            leaveContainer: req.leaveContainer,
            files,
            onLog: (stream, data) => emit({ type: 'log', batch: i, stream, data })
          }),
        formatCommandLine(plan.command)
      );
      b.containerId = outcome.containerId;
      b.exitCode = outcome.exitCode;
      b.oomKilled = outcome.oomKilled;
      if (req.leaveContainer && outcome.containerId) emit({ type: 'info', batch: i, message: `container ${outcome.containerId.slice(0, 12)} left in place (docker rm ${outcome.containerId.slice(0, 12)} removes it)` });

      if (outcome.cancelled) {
        outcomeState = 'cancelled';
        outcomeError = 'cancelled: the container was stopped';
      } else if (outcome.startError) {
        outcomeError = this.explainStartError(outcome.startError, plan, gpus, image);
      } else if (outcome.oomKilled) {
        outcomeError = `killed: out of memory (ram: ${ramMb === null ? 'unlimited' : `${ramMb} MB`}); raise container.settings.ram`;
      } else if (outcome.exitCode === 127 || outcome.exitCode === 126) {
        outcomeError = this.explainExecFailure(outcome.exitCode, outcome.stderrTail, plan, req.loaded.red.container.settings.image.url);
      } else if (outcome.exitCode !== 0) {
        const tail = lastLines(outcome.stderrTail);
        outcomeError = `the command exited with code ${outcome.exitCode}${outcome.exitCode === 137 ? ' (killed)' : ''}${tail ? `; its stderr ends with:\n${tail}` : ''}`;
      } else outcomeState = 'succeeded';

      // Outputs: all of them on success; what is there (partial) otherwise.
      setState('collecting');
      const partial = outcomeState !== 'succeeded';
      const collected = await phase('collecting', () =>
        collectOutputs({
          specs: plan.outputs,
          outputsDir,
          outdir: plan.outdir,
          jobOutputs: plan.batch.outputs,
          registry: this.connectors,
          ctx: { ...ctx, signal: undefined },
          sendOutputs: req.sendOutputs !== false,
          partial
        })
      );
      b.outputs = collected.records;
      if (!partial && collected.errors.length) {
        outcomeState = 'failed';
        outcomeError = collected.errors.join('\n');
      }
      return done(outcomeState, outcomeError);
    } catch (err) {
      return done(signal?.aborted ? 'cancelled' : 'failed', errorMessage(err));
    } finally {
      // A container left in place for debugging keeps its bind sources too.
      const keep = req.leaveContainer ? 'always' : (this.opts.keepWorkDir ?? 'on-failure');
      if (keep === 'never' || (keep === 'on-failure' && b.state === 'succeeded')) {
        await rm(batchDir, { recursive: true, force: true }).catch(() => undefined);
      } else if (await readdir(batchDir).catch(() => null)) {
        emit({ type: 'info', batch: i, message: `work folder kept: ${batchDir}` });
      }
    }
  }

  /** Exit 127/126: with --init, tini reports a command it cannot exec ("[FATAL tini (7)] exec X failed: …"). */
  private explainExecFailure(code: number, stderr: string, plan: BatchPlan, imageUrl: string): string {
    const exe = plan.command[0];
    const tini = /\[FATAL tini \(\d+\)\] exec (.+?) failed: (.+)/.exec(stderr);
    if (tini && /no such file/i.test(tini[2])) {
      return `the command ${exe} was not found in image ${imageUrl}: check cli.baseCommand and that the image has it (on its PATH). The container said: ${tini[0].trim()}`;
    }
    if (tini && /permission denied/i.test(tini[2])) {
      return `the command ${exe} is not executable in image ${imageUrl}: check cli.baseCommand. The container said: ${tini[0].trim()}`;
    }
    const tail = lastLines(stderr);
    return `the command exited with code ${code}${code === 127 ? ' (command not found?)' : ' (not executable?)'}${tail ? `; its stderr ends with:\n${tail}` : ''}`;
  }

  /** Docker's refusal to start a container, in words, with what to do. */
  private explainStartError(msg: string, plan: BatchPlan, gpus: GpuSelection | null, image: string): string {
    if (/could not select device driver "nvidia"/i.test(msg) || (gpus && /nvidia/i.test(msg))) {
      return (
        `the RED asks for ${gpus?.summary ?? 'GPUs'} (container.settings.gpus), but this Docker engine cannot give containers NVIDIA GPUs: ` +
        'install the NVIDIA Container Toolkit and restart Docker (`sudo nvidia-ctk runtime configure --runtime=docker && sudo systemctl restart docker`), ' +
        `or remove container.settings.gpus to run without GPUs. Docker said: ${msg}`
      );
    }
    const exe = plan.command[0];
    if (/executable file not found|no such file or directory/i.test(msg) && /exec/i.test(msg)) {
      return `the command ${exe} was not found in image ${image}: check cli.baseCommand and that the image has it (on its PATH). Docker said: ${msg}`;
    }
    if (/permission denied/i.test(msg) && /exec/i.test(msg)) {
      return `the command ${exe} is not executable in the image: check cli.baseCommand. Docker said: ${msg}`;
    }
    return `Docker could not start the container: ${msg}`;
  }
}
