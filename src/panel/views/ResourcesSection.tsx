// Resources and engine: RAM, GPUs (none / a count / one with at least some memory)
// with the bridge's GPU inventory; GPU controls only where the engine can give GPUs.
import * as React from 'react';
import { formatParamValue } from '../fields';
import type { ExperimentModel, GpuMode } from '../experiment-model';
import type { Gpu } from '../../red/bridge-api';
import { Field, FieldIssues, hasError, Section } from './common';

export interface ResourcesSectionProps {
  model: ExperimentModel;
  /** The engine can give containers GPUs (capability `gpus`). */
  gpusSupported: boolean;
  /** The bridge's GPUs (empty when it has none, or is not connected). */
  gpus: readonly Gpu[];
}

export function ResourcesSection({ model, gpusSupported, gpus }: ResourcesSectionProps): JSX.Element {
  const d = model.draft;
  const mode = model.gpuMode;
  const ramText = model.text('ramMb') ?? String(d.ramMb);
  const gpuText = model.text('gpus') ?? (mode === 'vram' ? String(d.gpus?.vramMinMb ?? '') : formatParamValue('int', d.gpus?.count ?? 1));
  return (
    <Section title="Resources" testId="redlab-resources-section">
      <Field label="RAM (MB)" hint="The container's memory limit; a notebook that needs more is stopped (out of memory)" invalid={hasError(model, 'ramMb')}>
        <input className="jp-mod-styled jp-RedLab-input" data-testid="redlab-ram-input" inputMode="numeric" value={ramText} onChange={e => model.setRamText(e.target.value)} />
      </Field>
      <FieldIssues model={model} field="ramMb" />
      {gpusSupported ? (
        <>
          <Field label="GPUs" invalid={hasError(model, 'gpus')}>
            <div className="jp-RedLab-row">
              <select className="jp-mod-styled jp-RedLab-select" data-testid="redlab-gpu-mode" value={mode} onChange={e => model.setGpuMode(e.target.value as GpuMode)}>
                <option value="none">none</option>
                <option value="count">count</option>
                <option value="vram">one with at least (MB)</option>
              </select>
              {mode !== 'none' ? (
                <input
                  className="jp-mod-styled jp-RedLab-input jp-RedLab-short"
                  data-testid="redlab-gpu-input"
                  inputMode="numeric"
                  value={gpuText}
                  onChange={e => (mode === 'count' ? model.setGpuCountText(e.target.value) : model.setVramText(e.target.value))}
                />
              ) : null}
            </div>
          </Field>
          <FieldIssues model={model} field="gpus" />
          <div className="jp-RedLab-gpus" data-testid="redlab-gpu-inventory">
            {gpus.length ? (
              gpus.map(g => (
                <div key={g.uuid} className="jp-RedLab-muted">
                  GPU {g.index}: {g.name}, {g.memoryTotalMb - g.memoryUsedMb} of {g.memoryTotalMb} MB free
                </div>
              ))
            ) : (
              <div className="jp-RedLab-muted">The bridge lists no GPUs: a run that asks for one will not start.</div>
            )}
          </div>
        </>
      ) : null}
      <Field label="Engine">
        <select className="jp-mod-styled jp-RedLab-select" data-testid="redlab-engine" value={d.engine} disabled>
          <option value="docker">docker (local)</option>
        </select>
      </Field>
      <FieldIssues model={model} field="engine" />
    </Section>
  );
}
