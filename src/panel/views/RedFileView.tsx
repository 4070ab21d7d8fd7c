// An imported RED file, as the experiment it is: its command line, its inputs (plain
// values, local paths and the access fields of known connectors editable), its outputs, its container (image, RAM), the RED.
import * as React from 'react';
import { connectorSpec } from '../../red';
import { inputField, outputField } from '../fields';
import type { RedFileModel } from '../red-file-model';
import { Field, FieldIssues, hasError, Section } from './common';
import { ConnectorFields } from './ConnectorFields';
import { YamlSection } from './YamlSection';

export function RedFileView({ model, onClose }: { model: RedFileModel; onClose: () => void }): JSX.Element {
  const ram = model.text('ramMb') ?? (model.ramMb !== undefined ? String(model.ramMb) : '');
  return (
    <div className="jp-RedLab-body" data-testid="redlab-red-file">
      <div className="jp-RedLab-row jp-RedLab-redfile-head">
        <span className="jp-RedLab-grow jp-RedLab-ellipsis" title={model.path}>
          RED file <code data-testid="redlab-red-file-path">{model.path}</code>
        </span>
        <button className="jp-RedLab-link" data-testid="redlab-close-red-file" title="Back to the experiment RED Lab proposes for the notebook" onClick={onClose}>
          Notebook experiment
        </button>
      </div>
      {model.warnings.length ? (
        <ul className="jp-RedLab-warnings" data-testid="redlab-warnings">
          {model.warnings.map((w, i) => (
            <li key={i}>{w}</li>
          ))}
        </ul>
      ) : null}
      <Section title="Command" testId="redlab-command-section">
        <pre className="jp-RedLab-command" data-testid="redlab-command">
          {model.commandLine}
        </pre>
      </Section>
      <Section title={`Inputs (${model.inputs.length})`} testId="redlab-red-inputs">
        {model.inputs.map(input => (
          <div key={input.key} className={`jp-RedLab-item${hasError(model, inputField(input.key)) ? ' jp-RedLab-invalid' : ''}`} data-testid={`redlab-red-input-${input.key}`}>
            <Field label={`${input.key} (${input.type}${input.binding ? `, ${input.binding}` : ''})`}>
              {input.kind === 'connector' && input.connector ? (
                <span className="jp-RedLab-muted">{connectorSpec(input.connector.command)?.label ?? input.connector.command}</span>
              ) : input.kind === 'fixed' ? (
                <code className="jp-RedLab-ellipsis" title={input.text}>
                  {input.text}
                </code>
              ) : (
                <input
                  className="jp-mod-styled jp-RedLab-input"
                  data-testid="redlab-red-input-value"
                  value={input.text}
                  spellCheck={false}
                  title={input.kind === 'local-path' ? "A path relative to the RED file's folder" : undefined}
                  onChange={e => (input.kind === 'local-path' ? model.setInputPath(input.key, e.target.value) : model.setInputText(input.key, e.target.value))}
                />
              )}
            </Field>
            {input.connector ? (
              <ConnectorFields command={input.connector.command} cls={input.connector.cls} direction="receive" mounted={input.connector.mount} access={input.connector.access} owner={input.key} onChange={(path, v) => model.setAccess('inputs', input.key, path, v)} />
            ) : null}
            <FieldIssues model={model} field={inputField(input.key)} />
          </div>
        ))}
      </Section>
      <Section title={`Outputs (${model.outputs.length})`} testId="redlab-red-outputs">
        {model.outputs.length === 0 ? <div className="jp-RedLab-muted">none declared</div> : null}
        {model.outputs.map(o => (
          <div key={o.key} data-testid="redlab-red-output">
            <div className="jp-RedLab-muted">
              <code>{o.key}</code> ({o.type}): {o.what}
              {o.send ? ` → ${connectorSpec(o.send.command)?.label ?? o.send.command}` : ''}
            </div>
            {o.send ? <ConnectorFields command={o.send.command} cls={o.send.cls} direction="send" access={o.send.access} owner={o.key} onChange={(path, v) => model.setAccess('outputs', o.key, path, v)} /> : null}
            <FieldIssues model={model} field={outputField(o.key)} />
          </div>
        ))}
      </Section>
      <Section title="Container" testId="redlab-red-container">
        <Field label="Image" invalid={hasError(model, 'image')}>
          <input className="jp-mod-styled jp-RedLab-input" data-testid="redlab-image-input" value={model.image} spellCheck={false} onChange={e => model.setImage(e.target.value)} />
        </Field>
        <FieldIssues model={model} field="image" />
        <Field label="RAM (MB)" hint="Empty: the engine's default limit" invalid={hasError(model, 'ramMb')}>
          <input className="jp-mod-styled jp-RedLab-input" data-testid="redlab-ram-input" inputMode="numeric" value={ram} placeholder="the engine's default" onChange={e => model.setRamText(e.target.value)} />
        </Field>
        <FieldIssues model={model} field="ramMb" />
      </Section>
      <YamlSection model={model} />
    </div>
  );
}
