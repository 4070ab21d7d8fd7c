// Which engines the panel offers and what the chosen one lets it show: only engines the
// bridge has and can run on now; the GPU controls, the input connectors and image builds
// only where the chosen engine has them (its capabilities, from GET /health); a cluster
// engine's room (nodes, GPUs free) in its label. An engine the RED itself asks for
// (execution.engine) is not swapped for another silently: the view says it is missing. Pure.
import { isClusterEngine } from '../notebook/draft-execution';
import type { ExperimentDraft } from '../notebook/types';
import { executionEngine, type EngineCapacity, type EngineInfo, type HealthInfo, type Red } from '../red';
import type { BridgeStatus } from '../tokens';

/** Input connectors offered while the bridge has not said which its engine has. */
export const DEFAULT_INPUT_CONNECTORS: readonly string[] = ['redlab-connector-local', 'red-connector-http'];
/** Output connectors offered while the bridge has not said which its engine has. */
export const DEFAULT_OUTPUT_CONNECTORS: readonly string[] = ['red-connector-http'];

export interface EngineView {
  /** Engines a run can go to now (they exist and are available), in the bridge's order. */
  offered: readonly EngineInfo[];
  /** Engines the bridge has that cannot run now, with why (`error`). */
  unavailable: readonly EngineInfo[];
  /** Where a run goes; undefined: the bridge has not answered, or no engine is available. */
  chosen?: EngineInfo;
  /** The GPU section (capability `gpus`). */
  gpus: boolean;
  /** Input connectors the chosen engine has. */
  inputConnectors: readonly string[];
  /** Output connectors the chosen engine has (where an output can be sent besides the run folder). */
  outputConnectors: readonly string[];
  /** Connectors whose folders the chosen engine can mount instead of copying (capability mountConnectors). */
  mountConnectors: readonly string[];
  /** Image builds (capability `imageBuilds`). */
  imageBuilds: boolean;
  /** The engine the RED asks for, which the bridge does not have or cannot run now: nothing is chosen, the run waits. */
  missing?: MissingEngine;
}

/** The engine a RED asks for that the bridge cannot run it on, and what to do. */
export interface MissingEngine {
  name: string;
  /** Plain words: which engine, why not, how to get it (or to choose another). */
  message: string;
}

/**
 * The engines of `health` and the one a run goes to: the first of `wanted` (the user's choice,
 * then the defaultEngine setting) that is offered, else the bridge's default, else the first offered.
 */
export function engineView(health: HealthInfo | undefined, wanted: readonly (string | undefined)[], required?: string): EngineView {
  const unknown = { gpus: true, inputConnectors: DEFAULT_INPUT_CONNECTORS, outputConnectors: DEFAULT_OUTPUT_CONNECTORS, mountConnectors: [], imageBuilds: true };
  if (!health) return { offered: [], unavailable: [], ...unknown };
  const engines = health.engines ?? [];
  const offered = engines.filter(e => e.available);
  const unavailable = engines.filter(e => !e.available);
  const find = (name: string | undefined) => (name ? offered.find(e => e.name === name) : undefined);
  // The RED's own engine, or none: its sections as before the bridge answered (what that engine has is not known here).
  if (required && !find(required)) return { offered, unavailable, ...unknown, missing: { name: required, message: missingEngineMessage(health, required) } };
  const chosen = find(required) ?? wanted.map(find).find(e => e) ?? find(health.defaultEngine) ?? offered[0];
  const caps = chosen?.capabilities;
  return {
    offered,
    unavailable,
    chosen,
    gpus: caps?.gpus ?? false,
    inputConnectors: caps?.inputConnectors ?? [],
    outputConnectors: caps?.outputConnectors ?? [],
    mountConnectors: caps?.mountConnectors ?? [],
    imageBuilds: caps?.imageBuilds ?? false
  };
}

/**
 * The engine the shown experiment itself asks for, which a run must not be moved off silently:
 * an imported RED file's execution.engine (any RED Lab engine), a notebook draft's cluster engine
 * (its settings are in the RED). Undefined: any engine will do (the user's choice, the default).
 */
export function requiredEngine(shown: { redFile: Red } | { draft: Pick<ExperimentDraft, 'engine'> }): string | undefined {
  if ('draft' in shown) return isClusterEngine(shown.draft.engine) ? shown.draft.engine : undefined;
  try {
    return executionEngine(shown.redFile);
  } catch {
    return undefined; // an engine no one knows: the validator says so at execution.engine
  }
}

/** The bridge's health when it answered (also without a usable engine). */
export function healthOf(status: BridgeStatus): HealthInfo | undefined {
  return status.kind === 'connected' || status.kind === 'no-engine' ? status.health : undefined;
}

/**
 * Why the RED cannot run on the engine it asks for, and what to do: start the bridge with it (the
 * engines it has, plus this one), or, when it has it but it cannot run now, the engine's own error.
 */
export function missingEngineMessage(health: HealthInfo, name: string): string {
  const there = (health.engines ?? []).find(e => e.name === name);
  const elsewhere = 'or choose another engine to run it there without these settings';
  if (there) return `this RED asks for the ${name} engine, which cannot run now${there.error ? ` (${there.error})` : ''}: run it when the engine is back, ${elsewhere}`;
  const names = [...(health.engines ?? []).map(e => e.name), name];
  return `this RED asks for the ${name} engine, which this bridge does not have: start it with REDLAB_ENGINES=${names.join(',')}, ${elsewhere}`;
}

/** How the select names an engine: its name, version, whether it isolates runs, and a cluster's room now. */
export function engineLabel(e: EngineInfo): string {
  // "Slurm 22.05.8" as the slurm engine says it: its name once.
  const version = e.version && e.version.toLowerCase().startsWith(`${e.name.toLowerCase()} `) ? e.version.slice(e.name.length + 1) : e.version;
  const label = `${e.name}${version ? ` ${version}` : ''}${e.capabilities.isolated ? '' : ' (not isolated)'}`;
  return e.capacity ? `${label} \u2014 ${capacityText(e.capacity)}` : label;
}

/** A cluster's room in words, short enough for the select: "1 node, 2 of 2 GPUs free", "3 of 4 nodes up, no GPUs". */
export function capacityText(c: EngineCapacity): string {
  const plural = (n: number, word: string) => `${word}${n === 1 ? '' : 's'}`;
  const nodes = c.nodesUp === c.nodes ? `${c.nodes} ${plural(c.nodes, 'node')}` : `${c.nodesUp} of ${c.nodes} ${plural(c.nodes, 'node')} up`;
  const gpus = c.gpus > 0 ? `${c.gpusFree} of ${c.gpus} ${plural(c.gpus, 'GPU')} free` : 'no GPUs';
  return `${nodes}, ${gpus}`;
}
