// The engine-neutral life of a batch, shared by every engine (docker.ts, process.ts):
// planning (inputs, command line, output globs, capture file names), the stop on cancel
// or wall-clock limit, states and phases as events, placing the captured stdout/stderr,
// collecting outputs with the glob and link safety of outputs.ts, and removing the work
// folder. An engine adds only how the command runs (a container, a process, ...).
import { randomUUID } from 'crypto';
import { mkdir, readdir, rmdir } from 'fs/promises';
import * as path from 'path';
import { type Batch, type Red, type BatchResult, type FinalState, type Phase, type PhaseTimings, type RunEvent, type RunResult, type RunState, buildCommand, inputContainerPath, toBatches, type ContainerPathOf } from '../../../src/red';
import type { ConnectorContext } from '../connectors/types';
import type { ConnectorRegistry } from '../connectors/registry';
import type { KeepWorkDir, ResumeRequest, RunRequest } from './types';
import type { StreamName } from './container';
import { removeTree, SafeDir, segments, UnsafePathError, withDir } from '../util/safe-fs';
import { listInputItems, type InputItem } from './staging';
import { collectOutputs, exists, OUTPUTS_FOLDER, planOutputs, type OutputSpec } from './outputs';
import { captureFileName, checkRunId, type BatchWorkDir } from './workdir';

/** Where each input is as the container sees it (/cc/inputs/...): output globs always resolve against these. */
export const containerPathOf: ContainerPathOf = (key, value, index) => inputContainerPath(key, value, index);

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** The last few lines of a text, for error messages. */
export function lastLines(text: string, lines = 5, chars = 800): string {
  const t = text.trimEnd().split('\n').slice(-lines).join('\n');
  return t.length > chars ? '…' + t.slice(-chars) : t;
}

/** The error of a command that exited with `code` (not 0), with the end of its stderr. */
export function exitMessage(code: number, stderrTail: string): string {
  const tail = lastLines(stderrTail);
  return `the command exited with code ${code}${code === 137 ? ' (killed)' : ''}${tail ? `; its stderr ends with:\n${tail}` : ''}`;
}

/** A duration for people: 1500 → "1.5 s", 90000 → "1 min 30 s", 7200000 → "2 h". */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${+(ms / 1000).toFixed(1)} s`;
  const parts: string[] = [];
  let rest = Math.round(ms / 1000);
  for (const [unit, size] of [
    ['d', 86_400],
    ['h', 3600],
    ['min', 60],
    ['s', 1]
  ] as const) {
    const n = Math.floor(rest / size);
    rest -= n * size;
    if (n) parts.push(`${n} ${unit}`);
  }
  return parts.join(' ');
}

/** The error of a batch the wall-clock limit stopped. */
export function wallClockMessage(limitMs: number): string {
  return `stopped: wall-clock limit of ${formatDuration(limitMs)} exceeded; raise it in the bridge settings`;
}

/** `<batch folder>/streams`: stdout/stderr are captured there, out of any container's reach (see placeCaptureFiles). */
export function streamsDir(outputsDir: string): string {
  return path.join(path.dirname(outputsDir), 'streams');
}

/**
 * Test hook, for tests only: REDLAB_TEST_PAUSE_COLLECT_MS=N makes each batch wait N ms
 * in the collecting state before it collects, so that a test can kill the bridge there.
 */
export function testPauseBeforeCollect(): Promise<void> {
  const ms = Number(process.env.REDLAB_TEST_PAUSE_COLLECT_MS);
  return ms > 0 ? new Promise(r => setTimeout(r, ms)) : Promise.resolve();
}

/** Aborts on the caller's signal or at a deadline (the wall-clock limit), and knows which came first. */
export class Stopper {
  private readonly ctl = new AbortController();
  private why: 'cancelled' | 'limit' | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly onUser = () => this.fire('cancelled');

  constructor(
    private readonly user: AbortSignal | undefined,
    private readonly deadline: number | undefined,
    readonly limitMs: number | undefined
  ) {
    if (user?.aborted) this.fire('cancelled');
    else user?.addEventListener('abort', this.onUser, { once: true });
    if (deadline !== undefined && !this.why) this.arm();
  }

  get signal(): AbortSignal {
    return this.ctl.signal;
  }

  get reason(): 'cancelled' | 'limit' | undefined {
    return this.why;
  }

  /** State and error for work the stop interrupted (`what`: the words for a cancel). */
  stopped(what: string): [FinalState, string] {
    return this.why === 'limit' ? ['failed', wallClockMessage(this.limitMs ?? 0)] : ['cancelled', what];
  }

  private arm(): void {
    const left = (this.deadline as number) - Date.now();
    if (left <= 0) return this.fire('limit');
    // setTimeout holds at most 2^31-1 ms: re-arm for longer limits.
    this.timer = setTimeout(() => this.arm(), Math.min(left, 2 ** 31 - 1));
    this.timer.unref?.();
  }

  private fire(why: 'cancelled' | 'limit'): void {
    if (this.why) return;
    this.why = why;
    clearTimeout(this.timer);
    this.ctl.abort();
  }

  dispose(): void {
    clearTimeout(this.timer);
    this.user?.removeEventListener('abort', this.onUser);
  }
}

/**
 * The frame of every engine's run(): the result (failed until the run says otherwise), the
 * stop on cancel or at the wall-clock limit, and how the run ends (finish, failAll).
 */
export class RunFrame {
  readonly t0 = Date.now();
  readonly emit: Emitter;
  readonly runId: string;
  readonly result: RunResult;
  readonly stopper: Stopper;

  constructor(
    private readonly req: RunRequest,
    opts: { signal?: AbortSignal; onEvent?: (e: RunEvent) => void },
    engine?: RunResult['engine']
  ) {
    this.emit = makeEmitter(opts.onEvent);
    this.runId = req.runId ?? randomUUID();
    this.result = { state: 'failed', image: { url: req.loaded.red.container?.settings?.image?.url, pulled: false }, batches: [], timings: { total: 0 }, ...(engine ? { engine } : {}) };
    const limit = req.wallClockLimitMs;
    this.stopper = new Stopper(opts.signal, limit !== undefined && limit > 0 ? this.t0 + limit : undefined, limit);
  }

  /** Throws unless the request's wall-clock limit and run id can be used. */
  check(): void {
    const limit = this.req.wallClockLimitMs;
    if (limit !== undefined && !(Number.isFinite(limit) && limit > 0)) throw new Error(`wallClockLimitMs must be a positive number of milliseconds, not ${limit}`);
    checkRunId(this.runId);
  }

  /** The result, with its total time (unmasked: the caller's sink masks, see RunRequest). */
  finish(): RunResult {
    this.stopper.dispose();
    this.result.timings.total = Date.now() - this.t0;
    return this.result;
  }

  /** Every planned batch ends `state` with `error`, before any of them ran. */
  failAll(plans: BatchPlan[], state: FinalState, error: string): RunResult {
    this.result.state = state;
    this.result.error = error;
    this.result.batches = plans.map(p => ({ index: p.index, state, command: p.command, inputs: {}, outputs: {}, timings: { total: 0 }, error, outdir: p.outdir }));
    return this.finish();
  }
}

/**
 * Sends events to the listener as they are (unmasked: the caller's sink masks, see
 * RunRequest); a listener's failure is not the run's.
 */
export type Emitter = (e: RunEvent) => void;

export function makeEmitter(onEvent: ((e: RunEvent) => void) | undefined): Emitter {
  return (e: RunEvent) => {
    try {
      onEvent?.(e);
    } catch {
      /* a listener's failure is not the run's */
    }
  };
}

/** A batch's result as it is being made: states, phases and the final event. */
export class BatchTracker {
  readonly b: BatchResult;
  private readonly t0 = Date.now();

  constructor(
    index: number,
    command: string[],
    outdir: string,
    private readonly emit: Emitter
  ) {
    this.b = { index, state: 'failed', command, inputs: {}, outputs: {}, timings: { total: 0 }, outdir, startedAt: this.t0 };
  }

  setState(state: RunState, exitCode?: number): void {
    this.emit(exitCode === undefined ? { type: 'batch-state', batch: this.b.index, state } : { type: 'batch-state', batch: this.b.index, state, exitCode });
  }

  info(message: string): void {
    this.emit({ type: 'info', batch: this.b.index, message });
  }

  async phase<T>(name: Phase, fn: () => Promise<T>, detail?: string): Promise<T> {
    const i = this.b.index;
    this.emit({ type: 'phase', batch: i, phase: name, status: 'start', ...(detail ? { detail } : {}) });
    const t = Date.now();
    try {
      return await fn();
    } finally {
      this.b.timings[name] = Date.now() - t;
      this.emit({ type: 'phase', batch: i, phase: name, status: 'end', ms: this.b.timings[name] });
    }
  }

  done(state: FinalState, error?: string): BatchResult {
    this.b.state = state;
    if (error) this.b.error = error;
    this.b.endedAt = Date.now();
    this.b.timings.total = this.b.endedAt - this.t0;
    this.setState(state, this.b.exitCode);
    return this.b;
  }
}

export function keepMode(req: KeepWorkDir | boolean | undefined, leaveContainer: boolean | undefined, dflt: KeepWorkDir | undefined): KeepWorkDir {
  // A container left in place for debugging keeps its bind sources too.
  if (leaveContainer) return 'always';
  if (req === true) return 'always';
  if (req === false) return 'never';
  return req ?? dflt ?? 'on-failure';
}

export interface BatchPlan {
  index: number;
  batch: Batch;
  items: InputItem[];
  command: string[];
  outputs: OutputSpec[];
  streams: { stdout?: string; stderr?: string };
  outdir: string;
  floatPathPrefix: string;
}

export function planBatch(
  req: Pick<RunRequest, 'loaded' | 'outdir' | 'sendOutputs'>,
  batch: Batch,
  index: number,
  count: number,
  isBatchRed: boolean,
  runId: string,
  connectors: ConnectorRegistry,
  commandPathOf: ContainerPathOf = containerPathOf
): BatchPlan {
  const red = req.loaded.red;
  const cli = red.cli;
  const where = (msg: string) => (count > 1 ? `batch ${index}: ${msg}` : msg);
  try {
    const floatPathPrefix = isBatchRed ? `batches.${index}.inputs` : 'inputs';
    const items = listInputItems(cli, batch.inputs);
    for (const item of items) connectors.input(item.value.connector.command, item.label, item.value.class);
    const command = buildCommand(cli, batch.inputs, { containerPathOf: commandPathOf, floatPaths: req.loaded.floatPaths, floatPathPrefix });
    const outputTypes = Object.values(cli.outputs ?? {}).map(o => o.type);
    // As CC: a stdout/stderr output with no cli.stdout/stderr file name gets a UUID as
    // its name; here one derived from the run id, so that a resumed batch knows it.
    const streams = {
      stdout: cli.stdout ?? (outputTypes.includes('stdout') ? captureFileName(runId, index, 'stdout') : undefined),
      stderr: cli.stderr ?? (outputTypes.includes('stderr') ? captureFileName(runId, index, 'stderr') : undefined)
    };
    const outputs = planOutputs(cli, batch.inputs, containerPathOf, streams, { floatPaths: req.loaded.floatPaths, floatPathPrefix });
    if (req.sendOutputs !== false) {
      for (const [key, target] of Object.entries(batch.outputs ?? {})) {
        const spec = outputs.find(o => o.key === key);
        if (!spec) throw new Error(`outputs.${key} has no matching cli.outputs.${key}`);
        connectors.output(target.connector?.command, key, spec.kind === 'Directory' ? 'Directory' : 'File');
      }
    }
    const outdir = count === 1 ? req.outdir : `${req.outdir}_${index}`;
    return { index, batch, items, command, outputs, streams, outdir, floatPathPrefix };
  } catch (err) {
    throw new Error(where(errorMessage(err)));
  }
}

/** A resumed batch's plan, as run() made it (ResumeRequest carries the RED and outdir); throws for a batch the RED has not. */
export function planResumedBatch(req: ResumeRequest, connectors: ConnectorRegistry): BatchPlan {
  const red = req.loaded.red;
  const batches = toBatches(red);
  const i = req.batch;
  if (i >= batches.length) throw new Error(`the RED has ${batches.length} batch${batches.length === 1 ? '' : 'es'}: there is no batch ${i}`);
  return planBatch(req, batches[i], i, batches.length, 'batches' in red, req.runId, connectors);
}

/** The result of a batch that cannot be taken up again (its plan or work folder failed). */
export function resumeRefused(req: ResumeRequest, emit: Emitter, err: unknown): BatchResult {
  const outdir = 'batches' in req.loaded.red ? `${req.outdir}_${req.batch}` : req.outdir;
  return new BatchTracker(req.batch, [], outdir, emit).done('failed', `cannot take this batch up again: ${errorMessage(err)}`);
}

/**
 * The files that get the raw stdout/stderr while the container runs: `<batch
 * folder>/streams/<stream>`, private (the container could plant a link in its outputs
 * folder; made when missing). With `create`, also the folders cli.stdout/cli.stderr name in the outputs
 * folder, so the command finds them as under CC.
 */
export async function captureFiles(plan: BatchPlan, outputsDir: string, create: boolean): Promise<Partial<Record<StreamName, string>>> {
  const files: Partial<Record<StreamName, string>> = {};
  for (const s of ['stdout', 'stderr'] as const) {
    const name = plan.streams[s];
    if (!name) continue;
    await mkdir(streamsDir(outputsDir), { recursive: true, mode: 0o700 });
    if (create) {
      const parent = segments(name).slice(0, -1).join('/');
      if (parent) await withDir(SafeDir.open(outputsDir, OUTPUTS_FOLDER), root => withDir(root.openDir(parent, { create: true, mode: 0o777 }), async () => undefined));
    }
    files[s] = path.join(streamsDir(outputsDir), s);
  }
  return files;
}

/**
 * Once the container has ended: moves the captured stdout/stderr to the names
 * cli.stdout/cli.stderr give in the outputs folder (outputs are collected from there),
 * never through a link the container left on the way; returns what could not be put
 * there, and why (the capture then stays in the streams folder).
 */
export async function placeCaptureFiles(plan: BatchPlan, outputsDir: string): Promise<string[]> {
  const errors: string[] = [];
  if (!(await exists(outputsDir))) return errors; // concludeBatch says the folder is gone
  for (const s of ['stdout', 'stderr'] as const) {
    const name = plan.streams[s];
    const captured = path.join(streamsDir(outputsDir), s);
    if (!name || !(await exists(captured))) continue;
    try {
      const parts = segments(name);
      await withDir(SafeDir.open(streamsDir(outputsDir)), src =>
        withDir(SafeDir.open(outputsDir, OUTPUTS_FOLDER), root =>
          withDir(root.openDir(parts.slice(0, -1).join('/'), { create: true, mode: 0o777 }), dir => src.rename(s, dir, parts[parts.length - 1]))
        )
      );
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      const why = err instanceof UnsafePathError ? err.message : code === 'EISDIR' || code === 'ENOTEMPTY' ? `${name} is a folder` : errorMessage(err);
      errors.push(`cli.${s}: the command's ${s} could not be written to ${name} in the outputs folder: ${why} (it is kept in ${captured})`);
    }
  }
  // Empty now unless a capture could not be placed.
  await rmdir(streamsDir(outputsDir)).catch(() => undefined);
  return errors;
}

/** Removes (or keeps, and says where) the batch's work folder. */
export async function cleanupWorkDir(wd: BatchWorkDir, keep: KeepWorkDir, track: BatchTracker): Promise<void> {
  if (keep === 'never' || (keep === 'on-failure' && track.b.state === 'succeeded')) {
    await removeTree(wd.dir).catch(() => undefined);
  } else if (await readdir(wd.dir).catch(() => null)) {
    track.info(`work folder kept: ${wd.dir}`);
  }
}

/** What the engine-neutral end of a batch needs: where its outputs are and where they go. */
export interface BatchOutputsContext {
  track: BatchTracker;
  plan: BatchPlan;
  outputsDir: string;
  ctx: ConnectorContext;
  sendOutputs: boolean;
  connectors: ConnectorRegistry;
  /** cli.stdout/cli.stderr files that could not be put in the outputs folder (placeCaptureFiles). */
  captureErrors?: string[];
  /** Outputs whose connectors cannot run (their settings were masked): kept in the outdir. */
  keepLocal?: string[];
}

/**
 * The end of every batch, once its command has ended and `state`/`error` say how: outputs
 * collected from the outputs folder (all of them on success, what is there, marked partial,
 * otherwise), the final state and its event.
 */
export async function concludeWithOutputs(c: BatchOutputsContext, state: FinalState, error: string | undefined): Promise<BatchResult> {
  const { track, plan } = c;
  const b = track.b;
  if (c.captureErrors?.length) {
    if (state === 'succeeded') state = 'failed';
    error = [error, ...c.captureErrors].filter(Boolean).join('\n');
  }

  // Outputs: all of them on success; what is there (partial) otherwise.
  track.setState('collecting');
  await testPauseBeforeCollect();
  const partial = state !== 'succeeded';
  const keepLocal = partial || !c.sendOutputs ? [] : (c.keepLocal ?? []);
  let jobOutputs = plan.batch.outputs;
  if (jobOutputs && keepLocal.length) jobOutputs = Object.fromEntries(Object.entries(jobOutputs).filter(([k]) => !keepLocal.includes(k)));
  const collected = await track.phase('collecting', async () => {
    if (!(await exists(c.outputsDir))) {
      return {
        records: Object.fromEntries(plan.outputs.map(o => [o.key, null])) as Record<string, null>,
        errors: partial || !plan.outputs.length ? [] : [`the outputs folder ${c.outputsDir} is gone: no output could be collected`]
      };
    }
    return collectOutputs({
      specs: plan.outputs,
      outputsDir: c.outputsDir,
      outdir: plan.outdir,
      jobOutputs,
      registry: c.connectors,
      ctx: { ...c.ctx, signal: undefined },
      sendOutputs: c.sendOutputs,
      partial
    });
  });
  b.outputs = collected.records;
  if (!partial && collected.errors.length) {
    state = 'failed';
    error = collected.errors.join('\n');
  }
  const unsent = keepLocal.filter(k => b.outputs[k]);
  if (unsent.length) {
    const note =
      `output${unsent.length === 1 ? '' : 's'} ${unsent.join(', ')} not sent through ${unsent.length === 1 ? 'its connector' : 'their connectors'}: ` +
      `the connector settings held secrets, which were lost when the bridge stopped; kept in ${plan.outdir} instead (send ${unsent.length === 1 ? 'it' : 'them'} yourself)`;
    track.info(note);
    error = error ? `${error}\n${note}` : note;
  }
  return track.done(state, error);
}

/** Runs the batches, at most `parallel` at once (the RunRequest's, at least 1), each by `runOne`; results by index. */
export async function runBatchesInParallel(plans: BatchPlan[], parallelWanted: number, runOne: (plan: BatchPlan) => Promise<BatchResult>): Promise<BatchResult[]> {
  const results: BatchResult[] = new Array(plans.length);
  const parallel = Math.max(1, Math.min(Math.floor(parallelWanted || 1), plans.length));
  let next = 0;
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (next < plans.length) {
        const plan = plans[next++];
        results[plan.index] = await runOne(plan);
      }
    })
  );
  return results;
}

/** The run's result from its batches': summed phase timings, the run's state, and a single RED's own fields. */
export function concludeRun(result: RunResult, red: Red, results: BatchResult[], stopper: Stopper): void {
  result.batches = results;
  const timings: PhaseTimings = result.timings;
  for (const b of results) {
    for (const p of ['staging', 'running', 'collecting'] as const) {
      if (b.timings[p] !== undefined) timings[p] = (timings[p] ?? 0) + (b.timings[p] as number);
    }
  }
  const states = results.map(b => b.state);
  result.state = states.includes('cancelled') && stopper.reason === 'cancelled' ? 'cancelled' : states.some(s => s !== 'succeeded') ? 'failed' : 'succeeded';
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
}
