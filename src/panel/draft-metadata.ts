// The experiment's choices kept in the notebook (metadata `redlab.experiment`), written
// when it runs or is exported, so that a reopened notebook proposes what ran last time:
// image, resources, values, inputs, outputs, and a cluster engine with its settings (part of
// the RED's `execution`; docker or process is a choice of the session, not kept). Only {{variable}} names of credentials ever
// get there (a literal password makes the draft invalid, and invalid drafts neither run
// nor export). Pure.
import { EXECUTED_NOTEBOOK_OUTPUT } from '../notebook/infer';
import { isClusterEngine } from '../notebook/draft-execution';
import type { ClusterEngine, DraftClusterSettings, DraftInput, DraftOutput, ExperimentDraft } from '../notebook/types';
import { ramRangeProblem, withSecretsAsVariables } from '../red';

export const NOTEBOOK_METADATA_KEY = 'redlab';

export interface StoredExperiment {
  image: string;
  ramMb: number;
  gpus?: { count?: number; vramMinMb?: number };
  values: ExperimentDraft['values'];
  inputs: DraftInput[];
  outputs: DraftOutput[];
  /** The cluster engine chosen (slurm, kubernetes); absent for any other. */
  engine?: ClusterEngine;
  /** Each cluster engine's settings (no secrets: an SSH key stays in the file identityFile names). */
  cluster?: DraftClusterSettings;
}

/**
 * What is kept in the notebook. Every secret field of a connector's access (connector-fields) is a
 * {{variable}} there, whatever the draft holds: the metadata is written at each edit, also while
 * a typed or imported password makes the draft invalid.
 */
export function toStoredExperiment(d: ExperimentDraft): StoredExperiment {
  const inputs = d.inputs.map(i => ({ ...i, access: withSecretsAsVariables(i.connector, i.access, i.name) }));
  const outputs = d.outputs.map(o => (o.send ? { ...o, send: { ...o.send, access: withSecretsAsVariables(o.send.connector, o.send.access, o.name) } } : o));
  const engine = isClusterEngine(d.engine) ? d.engine : undefined;
  return JSON.parse(JSON.stringify({ image: d.image, ramMb: d.ramMb, gpus: d.gpus, values: d.values, inputs, outputs, engine, cluster: d.cluster }));
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
    outputs: Array.isArray(e.outputs) ? e.outputs.filter(o => o && typeof o.name === 'string' && typeof o.glob === 'string').map(withUsableSend) : [],
    ...(isClusterEngine(e.engine) ? { engine: e.engine } : {}),
    ...usableCluster(e.cluster)
  };
}

/** The cluster settings of a notebook's metadata: each engine's an object (a notebook edited by hand may hold anything). */
function usableCluster(cluster: unknown): { cluster?: DraftClusterSettings } {
  if (!cluster || typeof cluster !== 'object') return {};
  const out: DraftClusterSettings = {};
  for (const [engine, settings] of Object.entries(cluster)) {
    if (isClusterEngine(engine) && settings && typeof settings === 'object' && !Array.isArray(settings)) out[engine] = settings;
  }
  return Object.keys(out).length ? { cluster: out } : {};
}

/** An output without a `send` that is not {connector, access} (a notebook edited by hand). */
function withUsableSend(o: DraftOutput): DraftOutput {
  if (o.send === undefined) return o;
  const ok = typeof o.send === 'object' && o.send !== null && typeof o.send.connector === 'string' && !!o.send.access && typeof o.send.access === 'object';
  if (ok) return o;
  const { send: _bad, ...rest } = o;
  return rest;
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
  const draft: ExperimentDraft = { ...inferred, image: stored.image, ramMb, values, inputs: stored.inputs, outputs: mergeOutputs(inferred.outputs, stored.outputs) };
  if (stored.gpus) draft.gpus = stored.gpus;
  else delete draft.gpus;
  // The cluster engine the experiment ran or was exported for, and its settings.
  if (stored.engine) draft.engine = stored.engine;
  if (stored.cluster) draft.cluster = stored.cluster;
  return draft;
}

/**
 * The outputs the user chose before (stored in the notebook, or the panel's before the notebook
 * was read again) with those inferred from the notebook's code now, so that a file the code has
 * started writing since (and the new-files folder, for notebooks stored before it existed) comes
 * back too. Kept: the user's outputs as they are (added by hand, or edited), and the inferred
 * ones whose file the code still writes, with the user's choices (enabled, name, optional) and
 * where the code writes it now. Dropped: inferred outputs whose code is gone. Added: what is
 * newly inferred (a name of its own), then the new-files folder, with its enabled flag as kept.
 */
export function mergeOutputs(inferred: readonly DraftOutput[], kept: readonly DraftOutput[]): DraftOutput[] {
  const inferredByGlob = new Map(inferred.filter(o => !o.newFiles).map(o => [o.glob, o]));
  const merged: DraftOutput[] = [];
  for (const o of kept) {
    if (o.newFiles) continue;
    if (!o.inferred) merged.push(o);
    else {
      const now = inferredByGlob.get(o.glob);
      if (now) merged.push({ ...o, inferred: now.inferred });
    }
  }
  const keptGlobs = new Set(merged.map(o => o.glob));
  const taken = new Set([EXECUTED_NOTEBOOK_OUTPUT, ...[...kept, ...inferred].filter(o => o.newFiles).map(o => o.name), ...merged.map(o => o.name)]);
  for (const o of inferred) {
    if (o.newFiles || keptGlobs.has(o.glob)) continue;
    let name = o.name;
    for (let n = 2; taken.has(name); n++) name = `${o.name}_${n}`;
    taken.add(name);
    merged.push({ ...o, name });
  }
  const folder = inferred.find(o => o.newFiles);
  if (folder) {
    const keptFolder = kept.find(o => o.newFiles);
    // Its glob follows the notebook's name (a renamed notebook gathers into <new name>_files).
    merged.push(keptFolder?.enabled === false ? { ...folder, enabled: false } : folder);
  }
  return merged;
}
