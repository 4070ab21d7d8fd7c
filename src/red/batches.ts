// One list of jobs for single and batch REDs, as Curious Containers' extract_batches
// (cc_core/commons/red_to_restricted_red.py) builds it: every batch has `inputs` and
// `outputs` (default {}), and inputs/outputs whose value is null are dropped.

import type { Batch, JobInputs, JobOutputs, Red } from './types';

function withoutNulls<T extends object>(map: T | undefined | null): T {
  const out: Record<string, unknown> = {};
  if (map && typeof map === 'object') {
    for (const [k, v] of Object.entries(map)) {
      if (v !== null && v !== undefined) out[k] = v;
    }
  }
  return out as T;
}

/** The jobs of a RED: a single RED is one batch, a batch RED gives its batches (in order). */
export function toBatches(red: Red): Batch[] {
  if ('batches' in red && red.batches !== undefined) {
    if (!Array.isArray(red.batches) || red.batches.length === 0) {
      throw new Error('RED has a "batches" list with no batch in it: give at least one batch, or use top-level "inputs" instead');
    }
    return red.batches.map((b, i) => {
      if (!b || typeof b !== 'object' || !b.inputs || typeof b.inputs !== 'object') {
        throw new Error(`batches.${i} has no "inputs" mapping`);
      }
      const batch: Batch = { inputs: withoutNulls<JobInputs>(b.inputs), outputs: withoutNulls<JobOutputs>(b.outputs) };
      if (b.cloud !== undefined) batch.cloud = b.cloud;
      if (b.doc !== undefined) batch.doc = b.doc;
      return batch;
    });
  }
  if (!('inputs' in red) || !red.inputs || typeof red.inputs !== 'object') {
    throw new Error('RED has neither "inputs" nor "batches"');
  }
  const batch: Batch = { inputs: withoutNulls<JobInputs>(red.inputs), outputs: withoutNulls<JobOutputs>(red.outputs) };
  if (red.cloud !== undefined) batch.cloud = red.cloud;
  return [batch];
}
