// Outputs: files the notebook writes in its working folder, found by name or glob after
// the run (the executed notebook is always one). By default these are the files its code
// writes to literal names (each with where the code writes it) and a folder gathering every
// other new file; unticking one leaves its file out of the run and out of that folder.
import * as React from 'react';
import { executedNotebookName } from '../../notebook/infer';
import type { DraftOutput } from '../../notebook/types';
import { outputOrigin, type ExperimentModel } from '../experiment-model';
import { outputField } from '../fields';
import { Field, FieldIssues, hasError, Section } from './common';
import { connectorChoices } from './connector-choices';
import { ConnectorFields } from './ConnectorFields';

export function OutputsSection({ model, connectors = [] }: { model: ExperimentModel; connectors?: readonly string[] }): JSX.Element {
  const outputs = model.draft.outputs;
  const collected = outputs.filter(o => o.enabled !== false).length;
  return (
    <Section title={`Outputs (${collected + 1})`} testId="redlab-outputs-section">
      <div className="jp-RedLab-muted">
        always: <code>{executedNotebookName(model.draft.notebookPath)}</code> (the notebook with this run's outputs)
      </div>
      {outputs.map((o, i) =>
        o.newFiles ? <NewFilesOutput key={i} model={model} index={i} output={o} /> : <OutputEditor key={i} model={model} index={i} output={o} connectors={connectors} />
      )}
      <button className="jp-mod-styled jp-RedLab-button" data-testid="redlab-add-output" onClick={() => model.addOutput()}>
        + output file
      </button>
    </Section>
  );
}

function EnabledBox({ model, index, output, label }: { model: ExperimentModel; index: number; output: DraftOutput; label: string }): JSX.Element {
  return (
    <input
      type="checkbox"
      data-testid="redlab-output-enabled"
      checked={output.enabled !== false}
      title={output.enabled !== false ? `${label}: untick to leave it out of the run` : `${label}: left out of the run; tick to collect it`}
      aria-label={`collect ${label}`}
      onChange={e => model.setOutputEnabled(index, e.target.checked)}
    />
  );
}

/** The folder that gathers every other file the notebook writes. */
function NewFilesOutput({ model, index, output }: { model: ExperimentModel; index: number; output: DraftOutput }): JSX.Element {
  return (
    <div className="jp-RedLab-item" data-testid="redlab-output-new-files">
      <label className="jp-RedLab-check" title="Every file the notebook writes in its working folder that no output above collects or leaves out">
        <EnabledBox model={model} index={index} output={output} label="other new files" />
        other new files → <code data-testid="redlab-output-folder">{output.glob}/</code>
      </label>
      <FieldIssues model={model} field={outputField(output.name)} />
    </div>
  );
}

function OutputEditor({ model, index, output, connectors }: { model: ExperimentModel; index: number; output: DraftOutput; connectors: readonly string[] }): JSX.Element {
  const field = outputField(output.name);
  const origin = outputOrigin(output);
  const off = output.enabled === false;
  return (
    <div
      className={`jp-RedLab-item${hasError(model, field) ? ' jp-RedLab-invalid' : ''}`}
      data-testid={`redlab-output-${output.name}`}
      data-inferred={origin ? 'true' : undefined}
      data-enabled={off ? 'false' : 'true'}
    >
      <div className="jp-RedLab-row">
        <EnabledBox model={model} index={index} output={output} label={output.glob || output.name} />
        <input className="jp-mod-styled jp-RedLab-input jp-RedLab-name" data-testid="redlab-output-name" value={output.name} title="Name" disabled={off} onChange={e => model.updateOutput(index, { name: e.target.value })} />
        <input
          className="jp-mod-styled jp-RedLab-input jp-RedLab-grow"
          data-testid="redlab-output-glob"
          value={output.glob}
          placeholder="results.csv or *.png"
          title="File name or glob, in the notebook's working folder"
          spellCheck={false}
          disabled={off}
          onChange={e => model.updateOutput(index, { glob: e.target.value })}
        />
        {origin ? null : (
          // An inferred output comes back while the code writes its file: untick it instead.
          <button className="jp-RedLab-link" title="Remove this output" onClick={() => model.removeOutput(index)}>
            ✕
          </button>
        )}
      </div>
      {origin ? (
        <div className="jp-RedLab-doc" data-testid="redlab-output-origin" title="Found in the notebook's code">
          {origin}
        </div>
      ) : null}
      {off ? null : (
        <div className="jp-RedLab-row">
          <select className="jp-mod-styled jp-RedLab-select" value={output.kind} onChange={e => model.setOutputKind(index, e.target.value as DraftOutput['kind'])}>
            <option value="File">File</option>
            <option value="Directory">Folder</option>
          </select>
          <label className="jp-RedLab-check">
            <input type="checkbox" data-testid="redlab-output-optional" checked={output.optional} onChange={e => model.updateOutput(index, { optional: e.target.checked })} /> optional
          </label>
        </div>
      )}
      {off ? null : <SendTo model={model} index={index} output={output} connectors={connectors} />}
      <FieldIssues model={model} field={field} />
    </div>
  );
}

/** Where the output goes besides the run folder: a connector the engine can send with, and its access fields. */
function SendTo({ model, index, output, connectors }: { model: ExperimentModel; index: number; output: DraftOutput; connectors: readonly string[] }): JSX.Element | null {
  const choices = connectorChoices(connectors, output.kind, 'send', output.send?.connector);
  if (!choices.length) return null;
  return (
    <>
      <Field label="Also send to" hint="After the run succeeds, the output is uploaded there too (it is always kept in the run folder)">
        <select className="jp-mod-styled jp-RedLab-select" data-testid="redlab-output-connector" value={output.send?.connector ?? ''} onChange={e => model.setOutputConnector(index, e.target.value || undefined)}>
          <option value="">nowhere else</option>
          {choices.map(c => (
            <option key={c.command} value={c.command}>
              {c.label}
            </option>
          ))}
        </select>
      </Field>
      {output.send ? (
        <ConnectorFields command={output.send.connector} cls={output.kind} direction="send" access={output.send.access} owner={output.name} onChange={(path, v) => model.setOutputAccess(index, path, v)} />
      ) : null}
    </>
  );
}
