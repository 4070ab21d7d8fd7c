// Further inputs: a local file or folder (path relative to the notebook's folder, or
// the file browser's selection) or an HTTP URL, with an optional login written as
// {{variables}} (their values are asked at launch, never stored). The notebook reads
// an input's path from the environment variable REDLAB_INPUT_<NAME>.
import * as React from 'react';
import { inputEnvVar } from '../../notebook/infer';
import type { DraftInput } from '../../notebook/types';
import { HTTP_CONNECTOR, LOCAL_CONNECTOR, type ExperimentModel } from '../experiment-model';
import { inputField } from '../fields';
import { Field, FieldIssues, hasError, Section } from './common';

export interface InputsSectionProps {
  model: ExperimentModel;
  connectors: readonly string[];
  /** The file browser's selection, relative to the notebook's folder. */
  selectedFile: () => { path: string; kind: 'File' | 'Directory' } | undefined;
}

export function InputsSection({ model, connectors, selectedFile }: InputsSectionProps): JSX.Element {
  const inputs = model.draft.inputs;
  return (
    <Section title={`Inputs (${inputs.length})`} testId="redlab-inputs-section">
      {inputs.map((input, i) => (
        <InputEditor key={i} model={model} index={i} input={input} connectors={connectors} selectedFile={selectedFile} />
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

function InputEditor({ model, index, input, connectors, selectedFile }: { model: ExperimentModel; index: number; input: DraftInput; connectors: readonly string[]; selectedFile: InputsSectionProps['selectedFile'] }): JSX.Element {
  const field = inputField(input.name);
  const auth = input.access.auth as { username?: string; password?: string } | undefined;
  const setAuth = (key: 'username' | 'password', value: string) => model.setInputAccess(index, 'auth', { ...auth, [key]: value });
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
          {[LOCAL_CONNECTOR, HTTP_CONNECTOR, ...connectors.filter(c => c !== LOCAL_CONNECTOR && c !== HTTP_CONNECTOR), ...(connectors.includes(input.connector) || [LOCAL_CONNECTOR, HTTP_CONNECTOR].includes(input.connector) ? [] : [input.connector])].map(c => (
            <option key={c} value={c}>
              {c === LOCAL_CONNECTOR ? 'local file path' : c === HTTP_CONNECTOR ? 'HTTP URL' : c}
            </option>
          ))}
        </select>
      </Field>
      {input.connector === HTTP_CONNECTOR ? (
        <>
          <Field label="URL">
            <input className="jp-mod-styled jp-RedLab-input" data-testid="redlab-input-url" value={String(input.access.url ?? '')} placeholder="https://example.org/data.csv" spellCheck={false} onChange={e => model.setInputAccess(index, 'url', e.target.value)} />
          </Field>
          <label className="jp-RedLab-check">
            <input type="checkbox" data-testid="redlab-input-auth" checked={!!auth} onChange={e => model.setInputAuth(index, e.target.checked)} /> needs a login (asked for at launch)
          </label>
          {auth ? (
            <div className="jp-RedLab-indent">
              <Field label="user" hint="A {{variable}} (asked for at launch) or a name">
                <input className="jp-mod-styled jp-RedLab-input" data-testid="redlab-input-username" value={String(auth.username ?? '')} onChange={e => setAuth('username', e.target.value)} />
              </Field>
              <Field label="password" hint="Always a {{variable}}: its value is asked for at launch, kept in memory for this session, never saved">
                <input className="jp-mod-styled jp-RedLab-input" data-testid="redlab-input-password" value={String(auth.password ?? '')} onChange={e => setAuth('password', e.target.value)} />
              </Field>
            </div>
          ) : null}
        </>
      ) : input.connector === LOCAL_CONNECTOR ? (
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
        <div className="jp-RedLab-muted">access: {JSON.stringify(input.access)}</div>
      )}
      <div className="jp-RedLab-doc">
        in the notebook: <code>os.environ["{inputEnvVar(input.name)}"]</code>
      </div>
      <FieldIssues model={model} field={field} />
    </div>
  );
}
