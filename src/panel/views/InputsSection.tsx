// Further inputs: a local file or folder (path relative to the notebook's folder, or
// the file browser's selection), or any connector the chosen engine has (HTTP, SFTP, FTP,
// S3, …) with its access fields; credentials are {{variables}} (their values are asked
// at launch, never stored). The notebook reads
// an input's path from the environment variable REDLAB_INPUT_<NAME>.
import * as React from 'react';
import { inputEnvVar } from '../../notebook/infer';
import { canMount } from '../../red';
import type { DraftInput } from '../../notebook/types';
import { HTTP_CONNECTOR, LOCAL_CONNECTOR, type ExperimentModel } from '../experiment-model';
import { inputField } from '../fields';
import { Field, FieldIssues, hasError, Section } from './common';
import { connectorChoices } from './connector-choices';
import { ConnectorFields } from './ConnectorFields';

export interface InputsSectionProps {
  model: ExperimentModel;
  connectors: readonly string[];
  /** Connectors whose folders the engine can mount (capability mountConnectors). */
  mountConnectors: readonly string[];
  /** The file browser's selection, relative to the notebook's folder. */
  selectedFile: () => { path: string; kind: 'File' | 'Directory' } | undefined;
}

export function InputsSection({ model, connectors, mountConnectors, selectedFile }: InputsSectionProps): JSX.Element {
  const inputs = model.draft.inputs;
  return (
    <Section title={`Inputs (${inputs.length})`} testId="redlab-inputs-section">
      {inputs.map((input, i) => (
        <InputEditor key={i} model={model} index={i} input={input} connectors={connectors} mountConnectors={mountConnectors} selectedFile={selectedFile} />
      ))}
      <div className="jp-RedLab-row">
        <button className="jp-mod-styled jp-RedLab-button" data-testid="redlab-add-input" onClick={() => model.addInput(LOCAL_CONNECTOR)}>
          + local file
        </button>
        <button className="jp-mod-styled jp-RedLab-button" data-testid="redlab-add-http-input" onClick={() => model.addInput(HTTP_CONNECTOR)} disabled={!connectors.includes(HTTP_CONNECTOR)}>
          + HTTP URL
        </button>
      </div>
    </Section>
  );
}

function InputEditor({
  model,
  index,
  input,
  connectors,
  mountConnectors,
  selectedFile
}: {
  model: ExperimentModel;
  index: number;
  input: DraftInput;
  connectors: readonly string[];
  mountConnectors: readonly string[];
  selectedFile: InputsSectionProps['selectedFile'];
}): JSX.Element {
  const field = inputField(input.name);
  return (
    <div className={`jp-RedLab-item${hasError(model, field) ? ' jp-RedLab-invalid' : ''}`} data-testid={`redlab-input-${input.name}`}>
      <div className="jp-RedLab-row">
        <input className="jp-mod-styled jp-RedLab-input jp-RedLab-grow" data-testid="redlab-input-name" value={input.name} title="Name (the notebook reads the path from the environment variable shown below)" onChange={e => model.updateInput(index, { name: e.target.value })} />
        <select className="jp-mod-styled jp-RedLab-select" value={input.kind} onChange={e => model.updateInput(index, { kind: e.target.value as DraftInput['kind'] })}>
          <option value="File">File</option>
          <option value="Directory">Folder</option>
        </select>
        <button className="jp-RedLab-link" title="Remove this input" onClick={() => model.removeInput(index)}>
          ✕
        </button>
      </div>
      <Field label="From">
        <select className="jp-mod-styled jp-RedLab-select" data-testid="redlab-input-connector" value={input.connector} onChange={e => model.setInputConnector(index, e.target.value)}>
          {connectorChoices(connectors, input.kind, 'receive', input.connector).map(c => (
            <option key={c.command} value={c.command}>
              {c.label}
            </option>
          ))}
        </select>
      </Field>
      {input.connector === LOCAL_CONNECTOR ? (
        <Field label="Path">
          <div className="jp-RedLab-row">
            <input className="jp-mod-styled jp-RedLab-input jp-RedLab-grow" data-testid="redlab-input-path" value={String(input.access.path ?? '')} placeholder="data/input.csv (from the notebook's folder)" spellCheck={false} onChange={e => model.setInputAccess(index, 'path', e.target.value)} />
            <button
              className="jp-mod-styled jp-RedLab-button"
              data-testid="redlab-input-use-selected"
              title="Use the file or folder selected in the file browser"
              onClick={() => {
                const sel = selectedFile();
                if (!sel) return;
                model.setInputAccess(index, 'path', sel.path);
                if (sel.kind !== input.kind) model.updateInput(index, { kind: sel.kind });
              }}
            >
              use selected file
            </button>
          </div>
        </Field>
      ) : (
        <>
          {input.mount || canMount(input.connector, input.kind, mountConnectors) ? (
            <label className="jp-RedLab-check" title="Read the folder in place over the network (FUSE on the bridge's machine) instead of copying it first: for data too big to copy">
              <input type="checkbox" data-testid="redlab-input-mount" checked={input.mount === true} onChange={e => model.setInputMount(index, e.target.checked)} /> mount instead of copying
            </label>
          ) : null}
          <ConnectorFields command={input.connector} cls={input.kind} direction="receive" mounted={input.mount === true} access={input.access} owner={input.name} onChange={(path, v) => model.setInputAccess(index, path, v)} />
        </>
      )}
      <div className="jp-RedLab-doc">
        in the notebook: <code>os.environ["{inputEnvVar(input.name)}"]</code>
      </div>
      <FieldIssues model={model} field={field} />
    </div>
  );
}
