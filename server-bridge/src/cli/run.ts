// `redlab run FILE`: load, fill variables, run on the local Docker engine (or, with
// --engine process, directly on this machine) with live progress on stderr, and (with
// --json) the result object on stdout.
import * as path from 'path';
import { realpathSync } from 'fs';
import { executionChoice, fillVariables, registerSecrets, type SecretMasker, formatIssues, type LoadedRed, type RunResult, type RunEvent } from '../../../src/red';
import type { Engine } from '../engine/types';
import { defaultWorkRoot } from '../engine/workdir';
import { collectVariables, terminalPrompt } from './variables';
import { ProgressPrinter } from './progress';
import { CliError, readRedFile } from './red-file';
import { RunLogCapture } from '../record/log-capture';
import { writeRunCrates } from '../record/run-crate-file';
import { crateAgent, crateLicense, machineInfo } from '../record/crate-context';

export interface RunOptions {
  variables?: string;
  outdir?: string;
  nonInteractive?: boolean;
  leaveContainer?: boolean;
  parallel?: number;
  json?: boolean;
  allowRoot?: string[];
  /** Where batches stage inputs and outputs (default: REDLAB_WORK_ROOT, else ~/.cache/redlab/runs); it must be private to this user. */
  workRoot?: string;
  /** The engine that runs it (--engine): else the one the RED's execution.engine names, else `defaultEngine`. */
  engine?: string;
  /** The engine of a RED that names none (docker, or docker-ssh when the Docker host is ssh://). */
  defaultEngine?: string;
  /** Leave a run record (Process Run Crate) in the outdir (default true; --no-record). */
  record?: boolean;
}

export interface RunIO {
  stdin: NodeJS.ReadStream;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  env: NodeJS.ProcessEnv;
  cwd: string;
  /** The engine named `name` (RunOptions.engine, default docker); throws CliError for one there is not. */
  createEngine: (opts: { workRoot: string; name: string }) => Engine;
  /**
   * The masker of the CLI's one output sink: `stdout` and `stderr` are MaskedOutputs
   * filled by it, and the run's secrets are registered into it here. The engine does
   * not mask (RunRequest): nothing else does.
   */
  masker: SecretMasker;
  /** Registers a Ctrl-C handler; returns a function that removes it. */
  onInterrupt: (handler: () => void) => () => void;
}

export const EXIT = { succeeded: 0, failed: 1, usage: 2, cancelled: 130 } as const;

/** Allowed roots for local inputs: the RED file's folder, the working folder (the Jupyter root when run from it), and any --allow-root / REDLAB_ALLOWED_ROOTS. */
export function allowedRoots(redFile: string, io: Pick<RunIO, 'cwd' | 'env'>, extra: string[] = []): string[] {
  const fromEnv = (io.env.REDLAB_ALLOWED_ROOTS ?? '').split(path.delimiter).filter(Boolean);
  const roots = [path.dirname(path.resolve(io.cwd, redFile)), io.cwd, ...fromEnv, ...extra].map(r => {
    try {
      return realpathSync(path.resolve(io.cwd, r));
    } catch {
      throw new CliError(`allowed root ${r} does not exist`);
    }
  });
  return [...new Set(roots)];
}

export async function runFile(file: string, opts: RunOptions, io: RunIO): Promise<number> {
  const result = await runLoadedRed(await readRedFile(file), file, opts, io);
  if (opts.json) io.stdout.write(JSON.stringify(result, null, 2) + '\n');
  return EXIT[result.state];
}

/**
 * Runs a RED already read (`redlab rerun`: a crate's RED) as if it were the file `file`:
 * its folder resolves relative local inputs and is an allowed root. Fills its variables,
 * shows progress (on stderr with --json) and returns the result.
 */
export async function runLoadedRed(loaded: LoadedRed, file: string, opts: RunOptions, io: RunIO): Promise<RunResult> {
  if (loaded.warnings.length) io.stderr.write(formatIssues(loaded.warnings, file) + '\n');

  const interactive = !opts.nonInteractive && io.stdin.isTTY === true;
  const values = await collectVariables(loaded.red, {
    file: opts.variables,
    env: io.env,
    interactive,
    prompt: terminalPrompt(io.stdin, io.stderr)
  });
  const masker = io.masker;
  const red = fillVariables(loaded.red, values);
  registerSecrets(loaded.red, values, masker);

  if (opts.parallel !== undefined && (!Number.isInteger(opts.parallel) || opts.parallel < 1)) throw new CliError(`--parallel must be a whole number of at least 1, got ${opts.parallel}`);
  const batchCount = 'batches' in red ? red.batches.length : 1;
  const progress = new ProgressPrinter({ stdout: opts.json ? io.stderr : io.stdout, stderr: io.stderr, batchCount, masker: io.masker });

  // --engine wins over the RED's execution.engine (the same file runs anywhere by a flag).
  const choice = executionChoice(loaded.red);
  if (choice.note && !opts.engine) io.stderr.write(`redlab: ${choice.note}\n`);
  const engineName = opts.engine ?? choice.engine ?? opts.defaultEngine ?? 'docker';
  const controller = new AbortController();
  const removeHandler = io.onInterrupt(() => {
    if (controller.signal.aborted) return;
    io.stderr.write(`\nredlab: cancelling (stopping the ${engineName === 'process' ? 'command' : engineName === 'slurm' || engineName === 'kubernetes' ? 'job' : 'container'}; press Ctrl-C again to quit at once) …\n`);
    controller.abort();
  });

  let result: RunResult;
  const started = Date.now();
  let engine: Engine | undefined;
  let machine: ReturnType<typeof machineInfo> | undefined;
  const outdir = path.resolve(io.cwd, opts.outdir ?? 'outputs');
  const logs = new RunLogCapture(masker);
  const onEvent = (e: RunEvent) => {
    logs.handle(e);
    progress.handle(e);
  };
  try {
    engine = io.createEngine({ workRoot: path.resolve(io.cwd, opts.workRoot ?? (io.env.REDLAB_WORK_ROOT || defaultWorkRoot(io.env))), name: engineName });
    // Asked while the run runs, not after it (the engine's version, GPUs): the record adds no wait.
    if (opts.record !== false) machine = machineInfo(engine);
    result = await engine.run(
      {
        loaded: { ...loaded, red },
        baseDir: path.dirname(path.resolve(io.cwd, file)),
        outdir,
        allowedRoots: allowedRoots(file, io, opts.allowRoot),
        // A cluster's scheduler queues the batches: all at once unless --parallel (or execution.settings.concurrency) says otherwise.
        parallel: opts.parallel ?? (engine.capabilities.queuesBatches ? batchCount : 1),
        leaveContainer: opts.leaveContainer === true
      },
      { signal: controller.signal, onEvent }
    );
  } catch (err) {
    // The engine reports run failures in its result; what it throws (no Docker
    // engine reachable, say) still becomes a result, so --json always answers.
    result = {
      state: 'failed',
      image: { url: red.container.settings.image.url, pulled: false },
      batches: [],
      timings: { total: Date.now() - started },
      error: (err as Error).message
    };
  }
  try {
    if (opts.record !== false) await writeRecord(loaded, result, { file, outdir, started, machine: machine ?? machineInfo(undefined), logs }, io);
  } finally {
    removeHandler();
    // An ssh connection (docker-ssh) would keep the process alive.
    await engine?.close?.().catch(() => undefined);
  }
  progress.summary(result);
  return result;
}

/** The run's Process Run Crate in its outdir (each batch's); what could not be written is said, and the run's state stands. */
async function writeRecord(
  loaded: LoadedRed,
  result: RunResult,
  run: { file: string; outdir: string; started: number; machine: ReturnType<typeof machineInfo>; logs: RunLogCapture },
  io: RunIO
): Promise<void> {
  const { machine, engineVersion } = await run.machine;
  const redSource = path.resolve(io.cwd, run.file);
  const written = await writeRunCrates({
    red: loaded.red,
    result,
    outdir: run.outdir,
    startedAt: run.started,
    endedAt: Date.now(),
    redSource,
    engineVersion,
    machine,
    agent: crateAgent(io.env),
    license: crateLicense(io.env),
    logs: run.logs.logs(result.batches.length ? result.batches.map(b => b.index) : [0]),
    masker: io.masker,
    name: path.basename(redSource)
  });
  for (const c of written) {
    for (const p of c.problems) io.stderr.write(`redlab: run record of ${c.dir}: ${p}\n`);
  }
}
