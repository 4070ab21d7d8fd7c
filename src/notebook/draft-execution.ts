// Where a draft runs, as its RED says it: a cluster engine (slurm, kubernetes) chosen in the
// panel goes into the RED's `execution` with its settings, because a cluster needs them
// (partition, namespace, time limit, shared folder) and the same RED must run there again.
// docker, docker-ssh and process stay out of the RED (a choice of this session; the RED says
// ccfaice, which Curious Containers runs). Pure.
import type { ExecutionSpec, KubernetesSettings, SlurmSettings } from '../red';
import type { ClusterEngine, ExperimentDraft } from './types';

export const CLUSTER_ENGINES: readonly ClusterEngine[] = ['slurm', 'kubernetes'];

export function isClusterEngine(name: unknown): name is ClusterEngine {
  return typeof name === 'string' && (CLUSTER_ENGINES as readonly string[]).includes(name);
}

/** The settings of `engine` the draft holds (a copy; empty when none). */
export function clusterSettingsOf(d: Pick<ExperimentDraft, 'cluster'>, engine: ClusterEngine): Record<string, unknown> {
  return JSON.parse(JSON.stringify(d.cluster?.[engine] ?? {})) as Record<string, unknown>;
}

/** The RED's `execution` for the draft: the cluster engine chosen, with only the settings given; undefined for any other engine. */
export function draftExecution(d: Pick<ExperimentDraft, 'engine' | 'cluster'>): ExecutionSpec | undefined {
  if (!isClusterEngine(d.engine)) return undefined;
  const settings = clusterSettingsOf(d, d.engine);
  for (const [k, v] of Object.entries(settings)) if (v === '' || v === null || v === undefined) delete settings[k];
  return d.engine === 'slurm' ? { engine: 'slurm', settings: settings as SlurmSettings } : { engine: 'kubernetes', settings: settings as KubernetesSettings };
}

/** The engine and cluster settings a RED's `execution` gives a draft (a cluster engine's only: nothing for any other). */
export function executionToDraft(execution: unknown): Pick<ExperimentDraft, 'engine' | 'cluster'> {
  const e = execution as { engine?: unknown; settings?: unknown } | undefined;
  if (!e || typeof e !== 'object' || !isClusterEngine(e.engine)) return {};
  const settings = e.settings && typeof e.settings === 'object' && !Array.isArray(e.settings) ? (JSON.parse(JSON.stringify(e.settings)) as Record<string, unknown>) : {};
  return { engine: e.engine, cluster: { [e.engine]: settings } };
}
