// Cluster: where a run on a cluster engine goes there. Slurm: partition, account, time
// limit and the folder the nodes share; Kubernetes: namespace and time limit. What is
// filled goes into the RED's execution.settings; an empty field leaves the cluster's own
// default. A field's problem shows under it, with its fix.
import * as React from 'react';
import type { ClusterEngine } from '../../notebook/types';
import { CLUSTER_FIELDS } from '../cluster';
import type { ExperimentModel } from '../experiment-model';
import { clusterField } from '../fields';
import { Field, FieldIssues, hasError, Section } from './common';

export function ClusterSection({ model, engine }: { model: ExperimentModel; engine: ClusterEngine }): JSX.Element {
  const settings = (model.draft.cluster?.[engine] ?? {}) as Record<string, unknown>;
  return (
    <Section title={engine === 'slurm' ? 'Cluster (Slurm)' : 'Cluster (Kubernetes)'} testId="redlab-cluster-section">
      {CLUSTER_FIELDS[engine].map(f => {
        const value = settings[f.key];
        return (
          <React.Fragment key={f.key}>
            <Field label={f.label} hint={f.hint} invalid={hasError(model, clusterField(f.key))}>
              <input
                className="jp-mod-styled jp-RedLab-input"
                data-testid={`redlab-cluster-${f.key}`}
                value={typeof value === 'string' ? value : value === undefined ? '' : String(value)}
                placeholder={f.placeholder}
                title={f.hint}
                spellCheck={false}
                onChange={e => model.setClusterText(engine, f.key, e.target.value)}
              />
            </Field>
            <FieldIssues model={model} field={clusterField(f.key)} />
          </React.Fragment>
        );
      })}
    </Section>
  );
}
