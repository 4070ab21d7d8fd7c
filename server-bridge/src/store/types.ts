// Shapes the run store keeps and hands out. Everything here is JSON-safe, so the
// HTTP/WebSocket layer can send records and events as they are.
import type { Red } from '../../../src/red/types';
import type { FileRecord, PhaseTimings, RunEvent, RunResult, RunState } from '../../../src/red/run';
import type { SecretMasker } from '../../../src/red/mask';
import type { BuildProgressEvent } from '../images/types';

export type { RunState } from '../../../src/red/run';

export const FINAL_STATES: readonly RunState[] = ['succeeded', 'failed', 'cancelled'];
export const ALL_STATES: readonly RunState[] = ['queued', 'preparing', 'running', 'collecting', 'succeeded', 'failed', 'cancelled'];

export function isFinalState(s: RunState): boolean {
  return FINAL_STATES.includes(s);
}

declare const maskedBrand: unique symbol;
/**
 * A value that went through `SecretMasker.maskValue`. The store accepts a RED only in
 * this form, so that a filled-in secret cannot reach the database by accident: get
 * one with `maskForStore(masker, red)` (or cast deliberately when the RED holds no
 * variables at all).
 */
export type Masked<T> = T & { readonly [maskedBrand]: true };

/** Masks every string of `value` with the run's masker and brands it as safe to store. */
export function maskForStore<T>(masker: SecretMasker, value: T): Masked<T> {
  return masker.maskValue(value) as Masked<T>;
}

/** How the run was asked for: anything the UI or the recovery code needs to know later. */
export interface RunOptions {
  parallel?: number;
  /** Extra container labels. */
  labels?: Record<string, string>;
  /** Notebook the run was started from (JupyterLab path). */
  notebookPath?: string;
  /** Path of the RED file, when it came from one. */
  redPath?: string;
  leaveContainer?: boolean;
  [key: string]: unknown;
}

/** The image a run uses: the RED's image, or one built for it. */
export interface RunImage {
  url: string;
  id?: string;
  digest?: string;
  pulled?: boolean;
  /** Set when the bridge built the image (see src/images). */
  build?: { tag: string; cached: boolean };
}

export interface CreateRunInput {
  /** The RED, already masked: the store never sees secret values. */
  red: Masked<Red> | Masked<unknown>;
  options?: RunOptions;
  image?: RunImage;
  /** Wall-clock limit for the whole run in milliseconds (the bridge enforces it). */
  wallClockLimitMs?: number;
}

/** A run without its RED, batches and history: what lists show. */
export interface RunSummary {
  id: string;
  /** ISO 8601 (UTC, milliseconds). */
  createdAt: string;
  updatedAt: string;
  /** When a final state was reached. */
  finishedAt?: string;
  state: RunState;
  options: RunOptions;
  image?: RunImage;
  error?: string;
  wallClockLimitMs?: number;
  batchCount: number;
  /** Sequence number of the last event (0: none yet). */
  lastSeq: number;
}

export interface BatchRecord {
  index: number;
  state: RunState;
  containerId?: string;
  exitCode?: number;
  command?: string[];
  timings?: Partial<PhaseTimings>;
  outputs?: Record<string, FileRecord | null>;
  error?: string;
  updatedAt: string;
  /** Bytes of each log stream committed so far. */
  logBytes: { stdout: number; stderr: number };
}

/** Fields to change; the ones left out (or undefined) stay as they are. */
export type BatchPatch = Partial<Pick<BatchRecord, 'state' | 'containerId' | 'exitCode' | 'command' | 'timings' | 'outputs' | 'error'>>;

export interface StateChange {
  /** null: the run itself; a number: that batch. */
  batch: number | null;
  state: RunState;
  at: string;
  error?: string;
}

export interface RunRecord extends RunSummary {
  red: unknown;
  result?: RunResult;
  batches: BatchRecord[];
  history: StateChange[];
  /** `<dataDir>/runs/<id>`: log files, and a place for outputs. */
  dir: string;
}

export type LogStream = 'stdout' | 'stderr';

/**
 * A log chunk as stored: its bytes live in `<dir>/batch-<n>.<stream>.log` at
 * [offset, offset + length). `data` (UTF-8) is filled in for live notifications and
 * by `RunStore.logEventsData`; events read by `eventsSince` leave it out.
 */
export interface StoredLogEvent {
  type: 'log';
  batch: number;
  stream: LogStream;
  offset: number;
  length: number;
  data?: string;
}

/** Written by `setState` (run or batch). */
export interface StateEvent {
  type: 'state';
  state: RunState;
  batch?: number;
  error?: string;
}

/** Written by `setResult`: fetch the run to get it. */
export interface ResultEvent {
  type: 'result';
  state: RunState;
}

/** Anything else the bridge wants in a run's timeline. */
export interface CustomEvent {
  type: `x-${string}`;
  [key: string]: unknown;
}

export type StoreEvent = Exclude<RunEvent, { type: 'log' }> | BuildProgressEvent | StoredLogEvent | StateEvent | ResultEvent | CustomEvent;

/**
 * What `appendEvent` takes: an engine event (a `log`, which carries `data`, goes to
 * `appendLog`), an image build's progress, or a custom `x-…` event. `state` and
 * `result` events are written by `setState`/`setBatch`/`setResult` only.
 */
export type AppendableEvent = RunEvent | BuildProgressEvent | CustomEvent;

export interface StoredEvent {
  runId: string;
  /** 1, 2, 3 … per run, without gaps. */
  seq: number;
  /** ISO 8601. */
  at: string;
  event: StoreEvent;
}

export interface ListRunsQuery {
  state?: RunState | RunState[];
  /** Default 50, at most 1000. */
  limit?: number;
  /** `nextCursor` of the previous page. */
  cursor?: string;
}

export interface RunPage {
  runs: RunSummary[];
  /** Present when more runs follow. */
  nextCursor?: string;
}

export class RunNotFoundError extends Error {
  constructor(readonly runId: string) {
    super(`no run ${runId}`);
    this.name = 'RunNotFoundError';
  }
}

export class IllegalTransitionError extends Error {
  constructor(readonly from: RunState, readonly to: RunState, what: string) {
    super(`${what}: cannot go from ${from} to ${to}`);
    this.name = 'IllegalTransitionError';
  }
}
