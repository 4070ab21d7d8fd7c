// A drift report: how a re-run of a recorded run differs from it (inputs, image, engine,
// outputs, logs). The wire shape shared by `redlab rerun --json`, the bridge's drift
// route and the panel's drift view. Pure types (and pure comparisons as they are added).

export type OutputDriftKind = 'identical' | 'within-tolerance' | 'changed' | 'missing' | 'extra' | 'ignored';

/** Value-level comparison of a CSV or JSON output. */
export interface ValueDrift {
  /** Cells (CSV) or leaves (JSON) compared. */
  compared: number;
  /** Of those, how many differ beyond atol/rtol. */
  differing: number;
  /** Largest absolute and relative difference among numbers. */
  maxAbs?: number;
  maxRel?: number;
  /** A few differences, in words: where (row/column or JSON path), before, after. */
  examples: { where: string; before: string; after: string }[];
  /** Structure that differs (columns, row count, keys), in words. */
  structure?: string[];
}

/** Pixel comparison of an image output (PNG). */
export interface PixelDrift {
  differing: number;
  total: number;
  /** [width, height] when the sizes differ. */
  sizeBefore?: [number, number];
  sizeAfter?: [number, number];
}

export interface OutputDrift {
  /** The file's path relative to the run's output folder (a folder's files are listed one by one). */
  path: string;
  /** The RED output key it belongs to, when known. */
  output?: string;
  kind: OutputDriftKind;
  sha256?: { before?: string; after?: string };
  size?: { before?: number; after?: number };
  values?: ValueDrift;
  pixels?: PixelDrift;
  /** What differs, in words. */
  detail?: string;
}

export interface InputDrift {
  /** The RED input key. */
  key: string;
  kind: 'identical' | 'changed' | 'missing' | 'unchecked';
  sha256?: { before?: string; after?: string };
  detail?: string;
}

export interface DriftReport {
  /** True when nothing differs beyond tolerance (ignored files do not count): `redlab rerun` exits 0 only then. */
  identical: boolean;
  inputs: InputDrift[];
  image: { before: string; after: string; same: boolean; detail?: string };
  engine: { before: string; after: string; same: boolean; detail?: string };
  exitCode?: { before?: number; after?: number };
  outputs: OutputDrift[];
  /** stdout/stderr of the run (batch) compared; `diff` is a short unified diff when they differ. */
  logs: { stream: 'stdout' | 'stderr'; same: boolean; diff?: string }[];
  options: { atol: number; rtol: number; ignore: string[] };
}
