// Which engines the panel offers and what the chosen one lets it show: only engines the
// bridge has and can run on now; the GPU controls, the input connectors and image builds
// only where the chosen engine has them (its capabilities, from GET /health). Pure.
import type { EngineInfo, HealthInfo } from '../red';
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
}

/**
 * The engines of `health` and the one a run goes to: the first of `wanted` (the user's choice,
 * then the defaultEngine setting) that is offered, else the bridge's default, else the first offered.
 */
export function engineView(health: HealthInfo | undefined, wanted: readonly (string | undefined)[]): EngineView {
  if (!health) return { offered: [], unavailable: [], gpus: true, inputConnectors: DEFAULT_INPUT_CONNECTORS, outputConnectors: DEFAULT_OUTPUT_CONNECTORS, mountConnectors: [], imageBuilds: true };
  const engines = health.engines ?? [];
  const offered = engines.filter(e => e.available);
  const unavailable = engines.filter(e => !e.available);
  const find = (name: string | undefined) => (name ? offered.find(e => e.name === name) : undefined);
  const chosen = wanted.map(find).find(e => e) ?? find(health.defaultEngine) ?? offered[0];
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

/** The bridge's health when it answered (also without a usable engine). */
export function healthOf(status: BridgeStatus): HealthInfo | undefined {
  return status.kind === 'connected' || status.kind === 'no-engine' ? status.health : undefined;
}

/** How the select names an engine: its name, version and whether it isolates runs. */
export function engineLabel(e: EngineInfo): string {
  return `${e.name}${e.version ? ` ${e.version}` : ''}${e.capabilities.isolated ? '' : ' (not isolated)'}`;
}
