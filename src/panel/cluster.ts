// The cluster engines' settings as the panel edits them (the "Cluster" section): which
// fields each engine shows, how a field's text goes into the draft, and why a value cannot
// be used (in the validator's own words: timeLimitProblem). The RED's `execution` of a draft
// is draft-execution.ts's. Pure.
import { clusterSettingsOf } from '../notebook/draft-execution';
import type { ClusterEngine, DraftClusterSettings, ExperimentDraft } from '../notebook/types';
import { timeLimitProblem } from '../red';

/** A settings key the Cluster section edits. */
export type ClusterFieldKey = 'partition' | 'account' | 'timeLimit' | 'workDir' | 'namespace';

/** A text field of the Cluster section: its settings key, label, hint and an example. */
export interface ClusterField {
  key: ClusterFieldKey;
  label: string;
  hint: string;
  placeholder: string;
}

const TIME_LIMIT: ClusterField = {
  key: 'timeLimit',
  label: 'Time limit',
  hint: 'HH:MM:SS (or D-HH:MM:SS for a day or more); empty: the cluster\u2019s own limit',
  placeholder: '01:00:00'
};

/** The fields the Cluster section shows for each engine, in order. */
export const CLUSTER_FIELDS: Record<ClusterEngine, readonly ClusterField[]> = {
  slurm: [
    { key: 'partition', label: 'Partition', hint: 'The Slurm partition (sinfo lists them); empty: the cluster\u2019s default', placeholder: 'debug' },
    { key: 'account', label: 'Account', hint: 'The Slurm account the job is charged to; empty: your default account', placeholder: 'my-project' },
    TIME_LIMIT,
    { key: 'workDir', label: 'Shared folder', hint: 'Absolute path of a folder every node mounts: inputs are staged and outputs collected there', placeholder: '/shared/redlab' }
  ],
  kubernetes: [{ key: 'namespace', label: 'Namespace', hint: 'The namespace the Job runs in; empty: the kube context\u2019s', placeholder: 'default' }, TIME_LIMIT]
};

/** The label of a Cluster field (`timeLimit`: "Time limit"), the key itself for one the section does not show. */
export function clusterFieldLabel(key: string): string {
  return Object.values(CLUSTER_FIELDS).flat().find(f => f.key === key)?.label ?? key;
}

/** The draft's settings of `engine` with `key` set to `text` (trimmed; empty: the key goes, so the cluster's default applies). */
export function withClusterText(d: Pick<ExperimentDraft, 'cluster'>, engine: ClusterEngine, key: ClusterFieldKey, text: string): DraftClusterSettings {
  const settings = clusterSettingsOf(d, engine);
  const value = text.trim();
  if (value) settings[key] = value;
  else delete settings[key];
  return { ...d.cluster, [engine]: settings };
}

export interface ClusterProblem {
  key: ClusterFieldKey;
  message: string;
  fix: string;
}

/**
 * Why the time limit typed cannot be used, in parseTimeLimit's words with its fix (timeLimitProblem),
 * checked here so that it shows as typed even while the draft cannot become a RED. The rest (the
 * shared folder as an absolute path, Slurm and Kubernetes names) the RED's validator says, at the
 * same field (fieldForIssuePath).
 */
export function clusterProblems(settings: Record<string, unknown>): ClusterProblem[] {
  const time = settings.timeLimit;
  // A {{variable}} is the validator's to report (semantic-variables).
  if (typeof time !== 'string' || !time || time.includes('{{')) return [];
  const p = timeLimitProblem(time);
  return p ? [{ key: 'timeLimit', ...p }] : [];
}
