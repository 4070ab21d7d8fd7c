// What a run cell shows, as plain data: the reducer (reducer.ts) turns the bridge's
// events into this, render.ts turns it into notebook outputs. Pure types.
import type { FinalState, Phase, RunState, LogStream, TransferProgress } from '../red';

/** Consecutive log chunks of one stream, kept as one notebook `stream` output. */
export interface LogSegment {
  stream: LogStream;
  text: string;
}

export interface LogView {
  segments: LogSegment[];
  /** Newlines in the kept text (the cap counts these). */
  lines: number;
  /** Lines dropped from the front to stay under the cap, per stream. */
  dropped: Record<LogStream, number>;
}

export interface PhaseView {
  phase: Phase;
  batch?: number;
  /** `failed`: the run failed in this phase (the bridge ends a phase the same way either way). */
  status: 'running' | 'done' | 'failed';
  ms?: number;
  detail?: string;
  /** Why the phase failed (status `failed`). */
  reason?: string;
}

/** Image pull progress, summed over layers. */
export interface PullView {
  layers: Record<string, { status: string; current?: number; total?: number }>;
}

/** Image build progress (the bridge builds images it is asked to). */
export interface BuildView {
  step?: string;
  stepIndex?: number;
  stepCount?: number;
  line?: string;
}

export interface StatsSample {
  /** ms since the epoch, from the event's `at`. */
  t: number;
  cpu: number;
  mem: number;
}

export interface StatsView {
  samples: StatsSample[];
  memLimit: number;
  pids?: number;
}

export type Preview =
  | { kind: 'image'; dataUri: string }
  | { kind: 'csv'; rows: string[][]; more: boolean }
  | { kind: 'json'; text: string }
  | { kind: 'none'; reason: string };

export interface ArtifactView {
  name: string;
  /** Set for runs with several batches. */
  batch?: number;
  /** The file's name as the run wrote it (`walk.svg`). */
  file?: string;
  class: 'File' | 'Directory';
  size: number;
  sha256: string;
  preview?: Preview;
}

/** Why a run failed, in words a user acts on. */
export interface FailureView {
  kind: 'out-of-memory' | 'image-missing' | 'no-gpu' | 'exit-code' | 'cancelled' | 'other';
  /** One line: what happened. */
  reason: string;
  /** One line: what to do. */
  fix?: string;
}

export interface FinalView {
  state: FinalState;
  exitCode?: number;
  durationMs?: number;
  error?: string;
  /** The kernel killed a container for using more than its RAM (the run's result says). */
  oomKilled?: boolean;
  failure?: FailureView;
}

export type ConnectionView = 'connecting' | 'live' | 'retrying' | 'closed';

export interface RunCellState {
  runId: string;
  /** seq of the last event applied: a resumed stream asks for events after it. */
  since: number;
  state: RunState;
  image?: string;
  gpus?: string;
  /** The RED's RAM limit in MB (the out-of-memory advice names it). */
  ramMb?: number;
  /** What ran a notebook's cells, as the notebook runner said (an IPython kernel, or its stdlib execution). */
  execution?: string;
  /** `at` of the first event seen. */
  startedAt?: string;
  finishedAt?: string;
  phases: PhaseView[];
  pull?: PullView;
  build?: BuildView;
  /** Inputs being received and outputs being sent, by `direction name` (and batch): their latest progress, until done. */
  transfers?: Record<string, TransferProgress>;
  /** The latest `info` messages (a few). */
  info: string[];
  logs: LogView;
  stats?: StatsView;
  final?: FinalView;
  artifacts: ArtifactView[];
  /** The run's result is in (exit code, outputs): from its `result` event, else the record read after the final state. */
  recordLoaded: boolean;
  connection: ConnectionView;
  connectionMessage?: string;
}

export interface ReducerOptions {
  /** Log lines kept in the cell (settings: logLineLimit). */
  logLineLimit: number;
  /** Least time between two kept resource samples. */
  statsIntervalMs?: number;
  /** Resource samples kept for the chart. */
  statsSamples?: number;
}
