// Shapes of a run's progress events and of its result: what the CLI prints with
// --json, what the bridge stores and streams, what the frontend shows.

export type RunState = 'queued' | 'preparing' | 'running' | 'collecting' | 'succeeded' | 'failed' | 'cancelled';
export type FinalState = 'succeeded' | 'failed' | 'cancelled';

// The one run lifecycle: the store enforces it, the bridge's run manager moves runs along it,
// the frontend's reducer follows it. Nothing else lists states or their order.

/** The way forward of a run (and of each batch) that succeeds; failed and cancelled may end any state before the last. */
const FORWARD: readonly RunState[] = ['queued', 'preparing', 'running', 'collecting', 'succeeded'];

/** The states that end a run or batch: nothing follows them. */
export const FINAL_STATES: readonly FinalState[] = ['succeeded', 'failed', 'cancelled'];

/** Every state, in the order a run goes through them. */
export const ALL_STATES: readonly RunState[] = [...FORWARD, 'failed', 'cancelled'];

export function isFinalState(s: RunState): s is FinalState {
  return (FINAL_STATES as readonly RunState[]).includes(s);
}

/** How far along a state is (the final states are all last). */
function rank(s: RunState): number {
  return isFinalState(s) ? FORWARD.length - 1 : FORWARD.indexOf(s);
}

/**
 * A run's states: queued → preparing → running → collecting → succeeded, and from any
 * state that is not final → failed or cancelled. Final states are final.
 */
export function isLegalRunTransition(from: RunState, to: RunState): boolean {
  if (isFinalState(from)) return false;
  if (to === 'failed' || to === 'cancelled') return true;
  return FORWARD[FORWARD.indexOf(from) + 1] === to;
}

/**
 * A batch's states follow the same order but may skip forward (an engine need not report
 * every phase of every batch), as may a follower of a run that missed some of its states:
 * queued → running is fine, running → preparing is not. Final states are final.
 */
export function isForwardTransition(from: RunState, to: RunState): boolean {
  if (isFinalState(from)) return false;
  if (to === 'failed' || to === 'cancelled') return true;
  return rank(to) > rank(from);
}

/** The run states from `from` (not included) up to `to`, one legal step at a time; none when `to` is not ahead. */
export function statesTowards(from: RunState, to: RunState): RunState[] {
  if (isFinalState(from) || !FORWARD.includes(to) || rank(to) <= rank(from)) return [];
  return FORWARD.slice(FORWARD.indexOf(from) + 1, FORWARD.indexOf(to) + 1);
}
export type Phase = 'pull' | 'staging' | 'running' | 'collecting';

export type RunEvent =
  | { type: 'phase'; batch?: number; phase: Phase; status: 'start' | 'end'; ms?: number; detail?: string }
  | { type: 'pull-progress'; layer?: string; status: string; current?: number; total?: number }
  | { type: 'log'; batch: number; stream: 'stdout' | 'stderr'; data: string }
  | { type: 'info'; batch?: number; message: string }
  | { type: 'batch-state'; batch: number; state: RunState; exitCode?: number }
  /** A batch's container exists (sent before it starts, so a crash after this point can find it). */
  | { type: 'container'; batch: number; containerId: string; name: string }
  /**
   * A resource sample of a batch's running container (about once a second, when asked
   * for): CPU as `docker stats` shows it (100 = one CPU busy), memory without page
   * cache, the memory limit, processes.
   */
  | { type: 'stats'; batch: number; cpuPercent: number; memoryBytes: number; memoryLimitBytes: number; pids?: number }
  /**
   * How far an input's download or an output's upload is (about once a second while it
   * moves, and once when it ends): bytes so far, the total when the source says, the mean
   * rate in bytes/s and, with a total, the estimated ms left.
   */
  | { type: 'transfer-progress'; batch?: number; direction: 'input' | 'output'; name: string; bytes: number; total?: number; bytesPerSecond: number; etaMs?: number; done?: boolean };

export interface FileRecord {
  /** Host path (inputs: where it was staged; outputs: where it was written), or the connector target. */
  path: string;
  /** Path inside the container. */
  containerPath?: string;
  class: 'File' | 'Directory';
  size: number;
  /** sha256 of a file's bytes; for a directory, of its sorted `relative-path\0sha256\n` lines. */
  sha256: string;
  /** Output sent through a connector (e.g. `red-connector-http`): where it went. */
  connector?: string;
  partial?: boolean;
  /** A folder output's files (paths relative to it, sorted), as they were hashed when collected. */
  files?: { path: string; sha256: string; size: number }[];
}

export interface PhaseTimings {
  pull?: number;
  staging?: number;
  running?: number;
  collecting?: number;
  total: number;
}

export interface BatchResult {
  index: number;
  state: FinalState;
  command: string[];
  exitCode?: number;
  oomKilled?: boolean;
  containerId?: string;
  /** The cluster job that ran the batch (a Slurm job id, a Kubernetes Job name): named in the result and the run record. */
  job?: BatchJob;
  inputs: Record<string, FileRecord | FileRecord[]>;
  outputs: Record<string, FileRecord | null>;
  timings: PhaseTimings;
  error?: string;
  outdir: string;
  /** When the batch began and ended (epoch ms): the run record's start and end times. */
  startedAt?: number;
  endedAt?: number;
}

export interface BatchJob {
  /** The scheduler: `slurm`, `kubernetes`. */
  scheduler: string;
  id: string;
  /** Where it ran (Slurm's node list, the pod's node), once known. */
  node?: string;
  /** The scheduler's last word on it (COMPLETED, TIMEOUT, …). */
  state?: string;
}

export interface RunResult {
  state: FinalState;
  image: { url: string; id?: string; digest?: string; pulled: boolean };
  /** For a RED without batches these mirror batches[0]. */
  command?: string[];
  exitCode?: number;
  inputs?: BatchResult['inputs'];
  outputs?: BatchResult['outputs'];
  batches: BatchResult[];
  timings: PhaseTimings;
  error?: string;
  /** The engine that ran it, when it is not the local docker engine (the process engine: not isolated; docker-ssh: where), said plainly in the record. */
  engine?: { name: string; isolated: boolean; note?: string };
}
