// Shapes the run store keeps and hands out. The wire types (what the API sends)
// live in src/red/bridge-api.ts, shared with the frontend; this adds the store's own.
import type { Red, RunEvent, SecretMasker, RunState, BatchRecord, BuildProgressEvent, RunImage, RunOptions } from '../../../src/red';

export type { RunState };
export * from '../../../src/red';

declare const maskedBrand: unique symbol;

/**
 * A value that went through `SecretMasker.maskValue`. The store masks every write itself
 * (with the secrets handed over in CreateRunInput.secrets); a value masked beforehand
 * with `maskForStore(masker, red)` is marked so.
 */

export type Masked<T> = T & { readonly [maskedBrand]: true };

/** Masks every string of `value` with the run's masker and brands it as safe to store. */

export function maskForStore<T>(masker: SecretMasker, value: T): Masked<T> {
  return masker.maskValue(value) as Masked<T>;
}

/** How the run was asked for: anything the UI or the recovery code needs to know later. */

/** The image a run uses: the RED's image, or one built for it. */

export interface CreateRunInput {
  /** The RED (masked by the store with `secrets` and the other runs' secrets before it is written). */
  red: Masked<Red> | Masked<unknown> | Red | unknown;
  /** The run's secrets: the store masks everything of every run with them until releaseSecrets. */
  secrets?: SecretMasker;
  options?: RunOptions;
  image?: RunImage;
  /** Wall-clock limit for the whole run in milliseconds (the bridge enforces it). */
  wallClockLimitMs?: number;
}

/** A run without its RED, batches and history: what lists show. */

/** Fields to change; the ones left out (or undefined) stay as they are. */

export type BatchPatch = Partial<Pick<BatchRecord, 'state' | 'containerId' | 'exitCode' | 'command' | 'timings' | 'outputs' | 'error'>>;

/**
 * A log chunk as stored: its bytes live in `<dir>/batch-<n>.<stream>.log` at
 * [offset, offset + length). `data` (UTF-8) is filled in for live notifications and
 * by `RunStore.logEventsData`; events read by `eventsSince` leave it out.
 */

/** Written by `setState` (run or batch). */

/** Written by `setResult`: fetch the run to get it. */

/** Anything else the bridge wants in a run's timeline. */

/**
 * What `appendEvent` takes: an engine event (a `log`, which carries `data`, goes to
 * `appendLog`), an image build's progress, or a custom `x-…` event. `state` and
 * `result` events are written by `setState`/`setBatch`/`setResult` only.
 */

export type AppendableEvent = RunEvent | BuildProgressEvent | CustomEvent;

export interface ListRunsQuery {
  state?: RunState | RunState[];
  /** Default 50, at most 1000. */
  limit?: number;
  /** `nextCursor` of the previous page. */
  cursor?: string;
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
