// The run cell's state machine: bridge events (StoredEvent, as the WebSocket sends
// them) and a few local facts (the run record, previews, the connection) in, a new
// immutable RunCellState out. Events at or below `since` were applied already (a
// resumed stream replays nothing twice). Pure: no DOM, no network.
import { type RunRecord, type StoredEvent, isFinalState, isForwardTransition, type FileRecord, type FinalState, type RunResult, type ContainerSpec } from '../red';
import { describeFailure } from './failure';
import { appendLog, emptyLogs, lastLines, runnerExecution } from './logs';
import type { ArtifactView, ConnectionView, FinalView, PhaseView, Preview, ReducerOptions, RunCellState } from './types';

export const DEFAULT_STATS_INTERVAL_MS = 1000;
export const DEFAULT_STATS_SAMPLES = 60;
const INFO_KEPT = 4;
/** stderr lines searched for the runner's own account of a failure. */
const STATUS_LINES_SCANNED = 40;

export function initialRunState(runId: string, since = 0): RunCellState {
  return {
    runId,
    since,
    state: 'queued',
    phases: [],
    info: [],
    logs: emptyLogs(),
    artifacts: [],
    recordLoaded: false,
    connection: 'connecting'
  };
}

export function isFinished(s: RunCellState): boolean {
  return isFinalState(s.state);
}

/** Applies one event; events with seq ≤ since come back unchanged (same object). */
export function applyEvent(s: RunCellState, msg: StoredEvent, opts: ReducerOptions): RunCellState {
  if (msg.seq <= s.since) return s;
  const next: RunCellState = { ...s, since: msg.seq, startedAt: s.startedAt ?? msg.at };
  const e = msg.event;
  switch (e.type) {
    case 'state':
      if (e.batch !== undefined) return next;
      // Runs only move forward (src/red/run.ts): a state behind the one shown (an event
      // replayed after the final record was applied) changes nothing.
      if (e.state !== s.state && !isForwardTransition(s.state, e.state)) return next;
      next.state = e.state;
      if (isFinalState(e.state)) {
        const state = e.state;
        next.finishedAt = msg.at;
        const error = e.error ?? s.final?.error;
        next.final = { ...s.final, state, ...(error ? { error } : {}) };
        next.final.failure = describeFailure({ state, error, exitCode: next.final.exitCode, oomKilled: next.final.oomKilled, ramMb: s.ramMb, stderrTail: lastLines(s.logs, 'stderr', STATUS_LINES_SCANNED) });
        if (!next.final.failure) delete next.final.failure;
        next.build = undefined;
        next.pull = undefined;
        next.transfers = undefined;
      }
      return next;
    case 'result': {
      // The bridge's events socket adds the run's result: exit code, outputs, no record read
      // after the final state. Without it (a bridge that does not add it) the record tells them.
      const result = e.result;
      if (!result || !isFinalState(result.state)) return next;
      const facts = resultFacts(result);
      next.image = result.image?.url ?? s.image;
      next.final = {
        ...s.final,
        state: result.state,
        ...(facts.exitCode !== undefined ? { exitCode: facts.exitCode } : {}),
        ...(facts.durationMs !== undefined ? { durationMs: facts.durationMs } : {}),
        ...(facts.error ? { error: facts.error } : {}),
        ...(facts.oomKilled ? { oomKilled: true } : {})
      };
      next.artifacts = artifactsOf(result);
      next.recordLoaded = true;
      return next;
    }
    case 'phase':
      // The bridge ends a phase that threw like any other, with the detail `failed`.
      next.phases = updatePhases(s.phases, { phase: e.phase, batch: e.batch, status: e.status === 'start' ? 'running' : e.detail === 'failed' ? 'failed' : 'done', ms: e.ms, detail: e.detail });
      if (e.phase === 'pull' && e.status === 'end') next.pull = undefined;
      return next;
    case 'pull-progress': {
      const layer = e.layer ?? '';
      const layers = { ...(s.pull?.layers ?? {}), [layer]: { status: e.status, current: e.current, total: e.total } };
      next.pull = { layers };
      return next;
    }
    case 'transfer-progress': {
      // One line per transfer while it runs; a finished one leaves (the phase line says staging is done).
      const key = `${e.batch ?? 0} ${e.direction} ${e.name}`;
      const transfers = { ...(s.transfers ?? {}) };
      if (e.done) delete transfers[key];
      else transfers[key] = e;
      next.transfers = Object.keys(transfers).length ? transfers : undefined;
      return next;
    }
    case 'build-progress':
      next.build = { step: e.step ?? s.build?.step, stepIndex: e.stepIndex ?? s.build?.stepIndex, stepCount: e.stepCount ?? s.build?.stepCount, line: e.line };
      return next;
    case 'log':
      if ('data' in e && typeof e.data === 'string') {
        next.logs = appendLog(s.logs, e.stream, e.data, opts.logLineLimit);
        const execution = e.stream === 'stderr' && s.execution === undefined ? runnerExecution(e.data) : undefined;
        if (execution) next.execution = execution;
      }
      return next;
    case 'stats': {
      const t = Date.parse(msg.at);
      const prev = s.stats?.samples ?? [];
      const last = prev[prev.length - 1];
      // At most one sample a second (by the bridge's clock): the chart, and the cell, stay calm.
      if (last && t - last.t < (opts.statsIntervalMs ?? DEFAULT_STATS_INTERVAL_MS)) return next;
      const samples = [...prev, { t, cpu: e.cpuPercent, mem: e.memoryBytes }].slice(-(opts.statsSamples ?? DEFAULT_STATS_SAMPLES));
      next.stats = { samples, memLimit: e.memoryLimitBytes, ...(e.pids !== undefined ? { pids: e.pids } : {}) };
      return next;
    }
    case 'info':
      next.info = [...s.info, e.message].slice(-INFO_KEPT);
      return next;
    case 'batch-state':
      if (e.exitCode !== undefined) next.final = { ...(s.final ?? { state: s.state as FinalState }), exitCode: e.exitCode };
      return next;
    default:
      // container, custom x-… events: nothing to show.
      return next;
  }
}

export function applyEvents(s: RunCellState, msgs: readonly StoredEvent[], opts: ReducerOptions): RunCellState {
  return msgs.reduce((acc, m) => applyEvent(acc, m, opts), s);
}

function updatePhases(phases: PhaseView[], p: PhaseView): PhaseView[] {
  const i = phases.findIndex(x => x.phase === p.phase && x.batch === p.batch);
  const clean: PhaseView = { phase: p.phase, status: p.status };
  if (p.batch !== undefined) clean.batch = p.batch;
  // `failed` is a status, not a detail worth showing; the phase's earlier detail (the image) stays.
  const detail = (p.detail !== 'failed' ? p.detail : undefined) ?? (i >= 0 ? phases[i].detail : undefined);
  if (detail) clean.detail = detail;
  if (p.ms !== undefined) clean.ms = p.ms;
  if (i < 0) return [...phases, clean];
  const out = phases.slice();
  out[i] = clean;
  return out;
}

/**
 * The phases as shown: for a failed run, the one it failed in marked `failed` with the reason:
 * a phase that never ended, one the bridge ended as failed, else the phase the kind of failure
 * points at (a missing image: pull; the notebook's exit code: running), else the last one begun.
 * Derived when shown, not kept: the run record may tell the kind of failure later than the event.
 */
export function markFailedPhases(phases: PhaseView[], final: FinalView): PhaseView[] {
  if (final.state !== 'failed' || !phases.length) return phases;
  const reason = final.failure?.reason ?? final.error?.split('\n')[0] ?? 'failed';
  let out = phases.map(p => (p.status === 'running' || p.status === 'failed' ? { ...p, status: 'failed' as const, reason: p.reason ?? reason } : p));
  if (out.some(p => p.status === 'failed')) return out;
  const kind = final.failure?.kind;
  const wanted = kind === 'image-missing' ? 'pull' : kind === 'exit-code' ? 'running' : undefined;
  let i = -1;
  out.forEach((p, j) => {
    if (!wanted || p.phase === wanted) i = j;
  });
  if (i < 0) i = out.length - 1;
  out = out.slice();
  out[i] = { ...out[i], status: 'failed', reason };
  return out;
}

/** Facts only the run record has: image, GPUs, exit code, duration, why it failed, output files. */
export function applyRecord(s: RunCellState, r: RunRecord): RunCellState {
  const next: RunCellState = { ...s };
  const settings = (r.red as { container?: ContainerSpec } | undefined)?.container?.settings;
  next.image = r.image?.url ?? settings?.image?.url ?? s.image;
  const gpus = settings?.gpus;
  if (gpus) next.gpus = gpus.devices?.length ? `${gpus.devices.length} GPU (≥ ${gpus.devices[0].vramMin} MB)` : `${gpus.count ?? 1} GPU`;
  if (settings?.ram !== undefined) next.ramMb = settings.ram;
  if (!isFinalState(r.state)) return next;
  const state = r.state;
  const facts = resultFacts(r.result);
  const exitCode = facts.exitCode ?? r.batches?.[0]?.exitCode;
  const error = r.error ?? facts.error ?? r.batches?.find(b => b.error)?.error;
  const started = Date.parse(r.createdAt);
  const ended = Date.parse(r.finishedAt ?? r.updatedAt);
  const durationMs = facts.durationMs ?? (Number.isFinite(started) && Number.isFinite(ended) ? ended - started : undefined);
  next.state = state;
  next.finishedAt = r.finishedAt ?? s.finishedAt;
  next.final = {
    state,
    ...(exitCode !== undefined ? { exitCode } : {}),
    ...(durationMs !== undefined ? { durationMs } : {}),
    ...(error ? { error } : {}),
    ...(facts.oomKilled ? { oomKilled: true } : {}),
    failure: describeFailure({ state, error, exitCode, oomKilled: facts.oomKilled, ramMb: next.ramMb, stderrTail: lastLines(s.logs, 'stderr', STATUS_LINES_SCANNED) })
  };
  if (!next.final.failure) delete next.final.failure;
  next.artifacts = artifactsOf(r.result);
  next.recordLoaded = true;
  next.pull = undefined;
  next.build = undefined;
  return next;
}

/** What a run's result tells a cell beyond its outputs (the record and the result event alike). */
function resultFacts(result: RunResult | undefined): { exitCode?: number; durationMs?: number; error?: string; oomKilled: boolean } {
  const batch0 = result?.batches?.[0];
  return {
    exitCode: result?.exitCode ?? batch0?.exitCode,
    durationMs: result?.timings?.total,
    error: result?.error ?? batch0?.error,
    oomKilled: result?.batches?.some(b => b.oomKilled) ?? false
  };
}

function artifactsOf(result: RunResult | undefined): ArtifactView[] {
  const batches = result?.batches ?? [];
  const several = batches.length > 1;
  const out: ArtifactView[] = [];
  const add = (outputs: Record<string, FileRecord | null> | undefined, batch?: number) => {
    for (const [name, f] of Object.entries(outputs ?? {})) {
      if (!f || f.connector) continue; // not produced (optional), or sent elsewhere by a connector
      const file = (f.containerPath ?? f.path ?? '').split('/').pop();
      out.push({ name, ...(batch !== undefined ? { batch } : {}), ...(file ? { file } : {}), class: f.class, size: f.size, sha256: f.sha256 });
    }
  };
  if (several) batches.forEach(b => add(b.outputs, b.index));
  else add(result?.outputs ?? batches[0]?.outputs);
  return out;
}

export function applyPreview(s: RunCellState, name: string, batch: number | undefined, preview: Preview): RunCellState {
  const i = s.artifacts.findIndex(a => a.name === name && a.batch === batch);
  if (i < 0) return s;
  const artifacts = s.artifacts.slice();
  artifacts[i] = { ...artifacts[i], preview };
  return { ...s, artifacts };
}

export function applyConnection(s: RunCellState, connection: ConnectionView, message?: string): RunCellState {
  if (s.connection === connection && s.connectionMessage === message) return s;
  const next: RunCellState = { ...s, connection };
  if (message) next.connectionMessage = message;
  else delete next.connectionMessage;
  return next;
}

/** A run the bridge no longer knows (deleted, or another bridge's): final, with the reason. */
export function applyLost(s: RunCellState, reason: string): RunCellState {
  return {
    ...s,
    state: isFinalState(s.state) ? s.state : 'failed',
    final: { state: isFinalState(s.state) ? s.state : 'failed', error: reason, failure: { kind: 'other', reason, fix: 'start the run again' } },
    recordLoaded: true,
    connection: 'closed'
  };
}
