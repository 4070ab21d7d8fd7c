// Outputs: files the notebook writes in its working folder, found by name or glob
// after the run (the executed notebook is always one). Optional ones may be missing.
import * as React from 'react';
import { executedNotebookName } from '../../notebook/infer';
import type { DraftOutput } from '../../notebook/types';
import type { ExperimentModel } from '../experiment-model';
import { outputField } from '../fields';
import { FieldIssues, hasError, Section } from './common';

export function OutputsSection({ model }: { model: ExperimentModel }): JSX.Element {
  const outputs = model.draft.outputs;
  return (
    <Section title={`Outputs (${outputs.length + 1})`} testId="redlab-outputs-section">
      <div className="jp-RedLab-muted">
        always: <code>{executedNotebookName(model.draft.notebookPath)}</code> (the notebook with this run's outputs)
      </div>
      {outputs.map((o, i) => (
        <OutputEditor key={i} model={model} index={i} output={o} />
      ))}
      <button className="jp-mod-styled jp-RedLab-button" data-testid="redlab-add-output" onClick={() => model.addOutput()}>
        + output file
      </button>
    </Section>
  );
}

function OutputEditor({ model, index, output }: { model: ExperimentModel; index: number; output: DraftOutput }): JSX.Element {
  const field = outputField(output.name);
  return (
    <div className={`jp-RedLab-item${hasError(model, field) ? ' jp-RedLab-invalid' : ''}`} data-testid={`redlab-output-${output.name}`}>
      <div className="jp-RedLab-row">
        <input className="jp-mod-styled jp-RedLab-input jp-RedLab-name" data-testid="redlab-output-name" value={output.name} title="Name" onChange={e => model.updateOutput(index, { name: e.target.value })} />
        <input
          className="jp-mod-styled jp-RedLab-input jp-RedLab-grow"
          data-testid="redlab-output-glob"
          value={output.glob}
          placeholder="results.csv or *.png"
          title="File name or glob, in the notebook's working folder"
          spellCheck={false}
          onChange={e => model.updateOutput(index, { glob: e.target.value })}
        />
        <button className="jp-RedLab-link" title="Remove this output" onClick={() => model.removeOutput(index)}>
          ✕
        </button>
      </div>
      <div className="jp-RedLab-row">
        <select className="jp-mod-styled jp-RedLab-select" value={output.kind} onChange={e => model.updateOutput(index, { kind: e.target.value as DraftOutput['kind'] })}>
          <option value="File">File</option>
          <option value="Directory">Folder</option>
        </select>
        <label className="jp-RedLab-check">
          <input type="checkbox" data-testid="redlab-output-optional" checked={output.optional} onChange={e => model.updateOutput(index, { optional: e.target.checked })} /> optional
        </label>
      </div>
      <FieldIssues model={model} field={field} />
    </div>
  );
}
