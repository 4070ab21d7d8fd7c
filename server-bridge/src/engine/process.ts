// The `process` engine: runs a RED's command directly on this machine, without a
// container, as `cwltool --no-container` does, for places that have no container engine
// (mybinder.org above all). Not isolated: no image, no memory or pid limits, the host's
// programs and files. Everything around the command is the engine-neutral batch of
// batch.ts, as for Docker: the same plan (command line, output globs), inputs staged
// through the same connectors into the private work folder, the same capture of
// stdout/stderr, the same output collection (globs, links read as the command left them,
// never followed out of the outputs folder, sizes and sha256). Only the paths differ: the
// command line names the staged inputs by their host paths instead of /cc/inputs/..., and
// runs with the batch's outputs folder (the container's /cc/outputs) as working folder.
import { spawn } from 'child_process';
import { accessSync, constants as fsc, createWriteStream, statSync, type WriteStream } from 'fs';
import { mkdir, rmdir } from 'fs/promises';
import { constants as osc } from 'os';
import * as path from 'path';
import { type Red, type BatchResult, type FinalState, type RunEvent, type RunResult, CONTAINER_INPUTS_DIR, CONTAINER_OUTPUTS_DIR, formatCommandLine, inputContainerPath, toAbsoluteContainerPath, toBatches, type ContainerPathOf } from '../../../src/red';
import type { ConnectorContext } from '../connectors/types';
import { defaultConnectors, type ConnectorRegistry } from '../connectors/registry';
import type { Engine, EngineCapabilities, EngineRefusal, EngineStatus, KeepWorkDir, RunRequest } from './types';
import { LineBuffer, TailBuffer, type StreamName } from './container';
import { removeTree } from '../util/safe-fs';
import { stageInputs } from './staging';
import { transferEvents } from '../connectors/transfer-progress';
import { batchWorkDir, defaultWorkRoot, ensureWorkRoot, runWorkDir, type BatchWorkDir } from './workdir';
import {
  BatchTracker,
  RunFrame,
  captureFiles,
  cleanupWorkDir,
  concludeWithOutputs,
  errorMessage,
  exitMessage,
  keepMode,
  placeCaptureFiles,
  planBatch,
  Stopper,
  type BatchPlan,
  type Emitter,
  runBatchesInParallel,
  concludeRun
} from './batch';

export const PROCESS_ENGINE_NOTE = 'not isolated: runs the command on this machine without a container, image or limits';

/** The variables the command gets from this process's environment; nothing else (no tokens, no DOCKER_HOST). */
const PASSED_ENV = ['PATH', 'LANG', 'LC_ALL'] as const;

export interface ProcessEngineOptions {
  /** As DockerEngineOptions.workRoot: <workRoot>/<runId>/batch-N, private. */
  workRoot?: string;
  connectors?: ConnectorRegistry;
  /** Milliseconds between SIGTERM to the command's process group and SIGKILL. Default 2000. */
  killAfterMs?: number;
  /** Keep <workRoot>/<runId>/batch-N after the batch: 'on-failure' (default), 'always', 'never'. */
  keepWorkDir?: KeepWorkDir;
  hashInputs?: boolean;
  logFlushMs?: number;
  /** Where PATH, LANG and LC_ALL come from (default process.env). */
  env?: NodeJS.ProcessEnv;
}

/** How the command's process ended. */
interface ProcessOutcome {
  exitCode?: number;
  signal?: NodeJS.Signals;
  cancelled: boolean;
  startError?: string;
  stderrTail: string;
}

/**
 * Where the command finds an input: the host path stageInputs puts it at
 * (<inputs>/<key>[/<index>]/<basename of its container path>), always absolute (a
 * relative `dirname` would name a place in the outputs folder, where nothing is bound here).
 */
export function hostPathOf(inputsDir: string): ContainerPathOf {
  return (key, value, index) => {
    const base = path.posix.basename(toAbsoluteContainerPath(inputContainerPath(key, value, index)));
    return path.join(inputsDir, key, ...(index !== undefined ? [String(index)] : []), base);
  };
}

/**
 * A literal argument that names a place in the container's layout (/cc/outputs, /cc/inputs/...,
 * as REDs written for Curious Containers do) as the same place in the batch's work folder.
 */
export function hostArgument(arg: string, wd: BatchWorkDir): string {
  for (const [from, to] of [
    [CONTAINER_OUTPUTS_DIR, wd.outputs],
    [CONTAINER_INPUTS_DIR, wd.inputs]
  ]) {
    if (arg === from) return to;
    if (arg.startsWith(from + '/')) return to + arg.slice(from.length);
  }
  return arg;
}

/** The file `program` (a name, or an absolute path) runs as, looked up as execvp does; undefined when there is none. */
export function findProgram(program: string, pathVar: string | undefined): string | undefined {
  const candidates = program.includes('/') ? [program] : (pathVar ?? '').split(path.delimiter).filter(Boolean).map(d => path.join(d, program));
  return candidates.find(c => {
    try {
      accessSync(c, fsc.X_OK);
      return statSync(c).isFile();
    } catch {
      return false;
    }
  });
}

export class ProcessEngine implements Engine {
  readonly name = 'process';
  readonly capabilities: EngineCapabilities;
  private readonly connectors: ConnectorRegistry;

  constructor(private readonly opts: ProcessEngineOptions = {}) {
    this.connectors = opts.connectors ?? defaultConnectors();
    this.capabilities = {
      isolated: false,
      gpus: false,
      gpusByMemory: false,
      batches: true,
      cancel: true,
      inputConnectors: this.connectors.inputCommands,
      outputConnectors: this.connectors.outputCommands,
      imagePull: false,
      imageBuilds: false,
      bindMounts: true,
      reattach: false,
      stats: false,
      sessions: false
    };
  }

  get workRoot(): string {
    return this.opts.workRoot ?? defaultWorkRoot();
  }

  async status(): Promise<EngineStatus> {
    return { available: true, note: PROCESS_ENGINE_NOTE };
  }

  async precheck(red: Red): Promise<EngineRefusal | undefined> {
    return red.container.settings.gpus ? gpuRefusal() : undefined;
  }

  /** The command's environment: PATH, LANG, LC_ALL from this process; HOME and TMPDIR private to the batch. */
  private commandEnv(wd: BatchWorkDir): NodeJS.ProcessEnv {
    const from = this.opts.env ?? process.env;
    const env: NodeJS.ProcessEnv = {};
    for (const k of PASSED_ENV) if (from[k] !== undefined) env[k] = from[k];
    // As cwltool: HOME and TMPDIR of the job's own, so that what a program keeps there (caches,
    // ~/.ipython) neither lands in the outputs folder nor in this user's home; removed with the work folder.
    env.HOME = path.join(wd.dir, 'home');
    env.TMPDIR = path.join(wd.dir, 'tmp');
    return env;
  }

  async run(req: RunRequest, opts: { signal?: AbortSignal; onEvent?: (e: RunEvent) => void } = {}): Promise<RunResult> {
    const frame = new RunFrame(req, opts, { name: this.name, isolated: false, note: PROCESS_ENGINE_NOTE });
    const { emit, runId, result, stopper } = frame;
    const red = req.loaded.red;
    const url = red.container?.settings?.image?.url;
    const finish = () => frame.finish();

    let plans: BatchPlan[];
    try {
      frame.check();
      if (red.container.settings.gpus) throw new Error(`container.settings.gpus: ${gpuRefusal().message}; ${gpuRefusal().fix}`);
      const batches = toBatches(red);
      const isBatchRed = 'batches' in red;
      plans = batches.map((batch, index) => {
        const wd = batchWorkDir(this.workRoot, runId, index);
        const plan = planBatch(req, batch, index, batches.length, isBatchRed, runId, this.connectors, hostPathOf(wd.inputs));
        return { ...plan, command: plan.command.map(arg => hostArgument(arg, wd)) };
      });
    } catch (err) {
      result.error = errorMessage(err);
      return finish();
    }
    const failAll = (state: FinalState, error: string) => frame.failAll(plans, state, error);

    emit({ type: 'info', message: `image ${url} is not used: the command runs with this machine's programs (the process engine: ${PROCESS_ENGINE_NOTE})` });
    if (red.container.settings.ram !== undefined) emit({ type: 'info', message: `container.settings.ram (${red.container.settings.ram} MB) is not enforced: the process engine sets no memory limit` });
    // The image cannot stand in for a missing program here: say so before anything is staged.
    const pathVar = (this.opts.env ?? process.env).PATH;
    for (const program of new Set(plans.map(p => p.command[0]))) {
      // A relative path with a '/' names a file in the outputs folder, which is made later: spawn says what is wrong then.
      if (program.includes('/') && !path.isAbsolute(program)) continue;
      if (!findProgram(program, pathVar)) {
        return failAll(
          'failed',
          program.includes('/')
            ? `${program} is not an executable file on this machine; the process engine runs without the image ${url}: install it here, or run the RED on the docker engine`
            : `${program} is not on this machine's PATH; the process engine runs without the image ${url}: install ${program} here (PATH=${pathVar ?? ''}), or run the RED on the docker engine`
        );
      }
    }
    if (stopper.reason) return failAll(...stopper.stopped('cancelled before the run started'));
    try {
      await ensureWorkRoot(this.workRoot);
    } catch (err) {
      return failAll('failed', errorMessage(err));
    }

    const results = await runBatchesInParallel(plans, req.parallel, plan => this.runBatch(req, plan, runId, stopper, emit));
    await rmdir(runWorkDir(this.workRoot, runId)).catch(() => undefined);

    concludeRun(result, red, results, stopper);
    return finish();
  }

  private async runBatch(req: RunRequest, plan: BatchPlan, runId: string, stopper: Stopper, emit: Emitter): Promise<BatchResult> {
    const i = plan.index;
    const track = new BatchTracker(i, plan.command, plan.outdir, emit);
    if (stopper.reason) return track.done(...stopper.stopped('cancelled before this batch started'));
    const wd = batchWorkDir(this.workRoot, runId, i);
    const ctx: ConnectorContext = { baseDir: req.baseDir, allowedRoots: req.allowedRoots, signal: stopper.signal, onInfo: m => track.info(m), onProgress: transferEvents(emit, i) };
    const result = await (async (): Promise<BatchResult> => {
      try {
        track.setState('preparing');
        await mkdir(runWorkDir(this.workRoot, runId), { recursive: true, mode: 0o700 });
        await removeTree(wd.dir);
        const env = this.commandEnv(wd);
        for (const d of [wd.inputs, wd.outputs, env.HOME as string, env.TMPDIR as string]) await mkdir(d, { recursive: true, mode: 0o700 });
        let staged;
        try {
          staged = await track.phase('staging', () => stageInputs({ items: plan.items, inputsDir: wd.inputs, registry: this.connectors, ctx, hashInputs: this.opts.hashInputs }));
        } catch (err) {
          return track.done(...(stopper.reason ? stopper.stopped('cancelled while staging inputs') : (['failed', errorMessage(err)] as [FinalState, string])));
        }
        track.b.inputs = staged.records;
        if (stopper.reason) return track.done(...stopper.stopped('cancelled while staging inputs'));

        const files = await captureFiles(plan, wd.outputs, true);
        track.setState('running');
        const outcome = await track.phase('running', () => this.spawnCommand(plan, wd.outputs, env, files, stopper.signal, emit), formatCommandLine(plan.command));
        track.b.exitCode = outcome.exitCode;
        let state: FinalState = 'failed';
        let error: string | undefined;
        if (outcome.cancelled) [state, error] = stopper.stopped('cancelled: the command was stopped');
        else if (outcome.startError) error = `the command ${plan.command[0]} could not be started on this machine: ${outcome.startError}`;
        else if (outcome.signal) error = `the command was killed by ${outcome.signal} (exit code ${outcome.exitCode})`;
        else if (outcome.exitCode !== 0) error = exitMessage(outcome.exitCode ?? -1, outcome.stderrTail);
        else state = 'succeeded';
        const captureErrors = await placeCaptureFiles(plan, wd.outputs);
        return await concludeWithOutputs({ track, plan, outputsDir: wd.outputs, ctx, sendOutputs: req.sendOutputs !== false, connectors: this.connectors, captureErrors }, state, error);
      } catch (err) {
        return track.done(...(stopper.reason ? stopper.stopped(errorMessage(err)) : (['failed', errorMessage(err)] as [FinalState, string])));
      }
    })();
    // As DockerEngine.releaseBatch: the work folder goes only once the result is kept.
    let kept = true;
    try {
      if (req.recordBatch) kept = req.recordBatch(result) !== false;
    } catch {
      kept = false;
    }
    if (kept) await cleanupWorkDir(wd, keepMode(req.keepWorkDir, false, this.opts.keepWorkDir), track);
    return result;
  }

  /**
   * Runs the command (argv, no shell) in its own process group with `cwd` as working folder:
   * stdout/stderr into the private capture files and out as log lines. On abort, or when the
   * command itself ends, its whole group is stopped (SIGTERM, SIGKILL after killAfterMs): as
   * when a container ends, nothing it started runs on.
   */
  private spawnCommand(
    plan: BatchPlan,
    cwd: string,
    env: NodeJS.ProcessEnv,
    files: Partial<Record<StreamName, string>>,
    signal: AbortSignal,
    emit: Emitter
  ): Promise<ProcessOutcome> {
    return new Promise(settle => {
      let settled = false;
      const resolve = (o: ProcessOutcome) => {
        if (!settled) settle(o);
        settled = true;
      };
      const [program, ...args] = plan.command;
      const tail = new TailBuffer();
      const sinks: WriteStream[] = [];
      let cancelled = false;
      let killTimer: NodeJS.Timeout | undefined;
      const child = spawn(program, args, { cwd, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
      const killGroup = (sig: NodeJS.Signals) => {
        try {
          if (child.pid) process.kill(-child.pid, sig);
        } catch {
          /* the group is gone */
        }
      };
      const stop = () => {
        if (cancelled) return;
        cancelled = true;
        killGroup('SIGTERM');
        killTimer = setTimeout(() => killGroup('SIGKILL'), this.opts.killAfterMs ?? 2000);
      };
      for (const stream of ['stdout', 'stderr'] as const) {
        const lines = new LineBuffer(data => emit({ type: 'log', batch: plan.index, stream, data }), this.opts.logFlushMs);
        const file = files[stream] ? createWriteStream(files[stream] as string, { mode: 0o600 }) : undefined;
        if (file) sinks.push(file);
        child[stream].on('data', (chunk: Buffer) => {
          lines.push(chunk);
          file?.write(chunk);
          if (stream === 'stderr') tail.push(chunk);
        });
        child[stream].on('end', () => lines.flush());
      }
      let startError: string | undefined;
      child.on('error', err => {
        startError = err.message;
        // Never started (no pid): no 'exit' will come.
        if (child.pid === undefined) {
          signal.removeEventListener('abort', stop);
          Promise.all(sinks.map(s => new Promise(r => s.end(r)))).then(() => resolve({ cancelled, startError, stderrTail: '' }));
        }
      });
      // What the command left running in its group ends with it, as in a container.
      child.on('exit', () => killGroup('SIGKILL'));
      if (signal.aborted) stop();
      else signal.addEventListener('abort', stop, { once: true });
      child.on('close', async (code, sig) => {
        clearTimeout(killTimer);
        signal.removeEventListener('abort', stop);
        await Promise.all(sinks.map(s => new Promise(r => s.end(r))));
        const signo = sig ? osc.signals[sig] : undefined;
        resolve({
          exitCode: code ?? (signo !== undefined ? 128 + signo : undefined),
          signal: sig ?? undefined,
          cancelled,
          startError,
          stderrTail: tail.text()
        });
      });
    });
  }
}

function gpuRefusal(): EngineRefusal {
  return {
    path: 'container.settings.gpus',
    message: 'the process engine cannot give a command GPUs (it runs without a container)',
    fix: 'remove container.settings.gpus, or run the RED on the docker engine'
  };
}
