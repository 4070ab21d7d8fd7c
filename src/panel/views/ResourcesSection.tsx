// Resources and engine: RAM, GPUs (none / a count / one with at least some memory)
// with the bridge's GPU inventory; GPU controls only where the engine can give GPUs;
// the engines the bridge can run on now (a select when there are several; a cluster's
// room in its label), the chosen one's note (e.g. that it does not isolate runs), and,
// plainly, when the engine the RED asks for is not there.
import * as React from 'react';
import { formatParamValue } from '../fields';
import type { ExperimentModel, GpuMode } from '../experiment-model';
import type { Gpu } from '../../red';
import { capacityText, engineLabel, type EngineView } from '../engines';
import { Field, FieldIssues, hasError, Section } from './common';

export interface ResourcesSectionProps {
  model: ExperimentModel;
  /** The engine can give containers GPUs (capability `gpus`). */
  gpusSupported: boolean;
  /** The chosen engine's GPUs (empty when it has none, or is not connected); a cluster's room is its capacity instead. */
  gpus: readonly Gpu[];
  /** The engines offered and the chosen one. */
  engines: EngineView;
}

export function ResourcesSection({ model, gpusSupported, gpus, engines }: ResourcesSectionProps): JSX.Element {
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
            {engines.chosen?.capacity ? (
              <div className="jp-RedLab-muted">The cluster now: {capacityText(engines.chosen.capacity)}</div>
            ) : gpus.length ? (
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
      <EngineField engines={engines} onChoose={name => model.setEngine(name)} />
      <FieldIssues model={model} field="engine" />
    </Section>
  );
}

/** The engine a run goes to: a select when the bridge can run on several (or the RED's engine is missing), its note said plainly. */
function EngineField({ engines, onChoose }: { engines: EngineView; onChoose: (name: string) => void }): JSX.Element {
  const { chosen, missing } = engines;
  return (
    <>
      <Field label="Engine" hint="Where the run goes: the engines the bridge can run on now">
        {engines.offered.length > 1 || (missing && engines.offered.length) ? (
          <select className="jp-mod-styled jp-RedLab-select" data-testid="redlab-engine" value={chosen?.name ?? missing?.name ?? ''} onChange={e => onChoose(e.target.value)}>
            {missing ? (
              <option value={missing.name} disabled>
                {missing.name} (not available here)
              </option>
            ) : null}
            {engines.offered.map(e => (
              <option key={e.name} value={e.name}>
                {engineLabel(e)}
              </option>
            ))}
          </select>
        ) : (
          <span className="jp-RedLab-muted" data-testid="redlab-engine">
            {chosen ? engineLabel(chosen) : missing ? `${missing.name} (not available here)` : engines.unavailable.length ? 'none available' : 'the bridge has not said yet'}
          </span>
        )}
      </Field>
      {missing ? (
        <div className="jp-RedLab-engine-note jp-RedLab-field-error" data-testid="redlab-engine-missing" role="alert">
          {missing.message}
        </div>
      ) : null}
      {chosen?.note ? (
        <div className={`jp-RedLab-engine-note${chosen.capabilities.isolated ? '' : ' jp-RedLab-field-error'}`} data-testid="redlab-engine-note" role="note">
          {chosen.note}
        </div>
      ) : null}
      {engines.unavailable.map(e => (
        <div key={e.name} className="jp-RedLab-muted" data-testid="redlab-engine-unavailable">
          {e.name}: not available{e.error ? ` (${e.error})` : ''}
        </div>
      ))}
    </>
  );
}
