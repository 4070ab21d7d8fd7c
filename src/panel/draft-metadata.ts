// The experiment's choices kept in the notebook (metadata `redlab.experiment`), written
// when it runs or is exported, so that a reopened notebook proposes what ran last time:
// image, resources, values, inputs, outputs. Only {{variable}} names of credentials ever
// get there (a literal password makes the draft invalid, and invalid drafts neither run
// nor export). Pure.
import type { DraftInput, DraftOutput, ExperimentDraft } from '../notebook/types';
import { ramRangeProblem } from '../red/limits';

export const NOTEBOOK_METADATA_KEY = 'redlab';

export interface StoredExperiment {
  image: string;
  ramMb: number;
  gpus?: { count?: number; vramMinMb?: number };
  values: ExperimentDraft['values'];
  inputs: DraftInput[];
  outputs: DraftOutput[];
}

export function toStoredExperiment(d: ExperimentDraft): StoredExperiment {
  return JSON.parse(JSON.stringify({ image: d.image, ramMb: d.ramMb, gpus: d.gpus, values: d.values, inputs: d.inputs, outputs: d.outputs }));
}

/** The stored experiment of a notebook's JSON, if it has a usable one. */
export function readStoredExperiment(nb: unknown): StoredExperiment | undefined {
  const meta = (nb as { metadata?: Record<string, unknown> } | undefined)?.metadata?.[NOTEBOOK_METADATA_KEY] as { experiment?: unknown } | undefined;
  const e = meta?.experiment as Partial<StoredExperiment> | undefined;
  if (!e || typeof e !== 'object' || typeof e.image !== 'string' || typeof e.ramMb !== 'number') return undefined;
  return {
    image: e.image,
    ramMb: e.ramMb,
    ...(e.gpus && typeof e.gpus === 'object' ? { gpus: e.gpus } : {}),
    values: e.values && typeof e.values === 'object' ? e.values : {},
    inputs: Array.isArray(e.inputs) ? e.inputs.filter(i => i && typeof i.name === 'string' && i.access && typeof i.access === 'object') : [],
    outputs: Array.isArray(e.outputs) ? e.outputs.filter(o => o && typeof o.name === 'string' && typeof o.glob === 'string') : []
  };
}

/**
 * The inferred draft with the stored choices; values only for parameters that still exist with a
 * value of their type; a RAM no RED may ask for (0, left by an older import) gives way to the default.
 */
export function applyStoredExperiment(inferred: ExperimentDraft, stored: StoredExperiment): ExperimentDraft {
  const values = { ...inferred.values };
  for (const p of inferred.parameters) {
    if (!(p.name in stored.values)) continue;
    const v = stored.values[p.name];
    const sameShape = Array.isArray(v) === Array.isArray(p.default) && (Array.isArray(v) || typeof v === typeof p.default);
    if (sameShape) values[p.name] = v;
  }
  const ramMb = ramRangeProblem(stored.ramMb) ? inferred.ramMb : stored.ramMb;
  const draft: ExperimentDraft = { ...inferred, image: stored.image, ramMb, values, inputs: stored.inputs, outputs: stored.outputs };
  if (stored.gpus) draft.gpus = stored.gpus;
  else delete draft.gpus;
  return draft;
}
