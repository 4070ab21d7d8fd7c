// The access fields of a connector (from the RED core's connector table): one field per
// entry, for an input's source or an output's destination. A secret field edits only the
// name of its {{variable}}: its value is asked for at launch and never saved, so no
// password can be typed into the experiment.
import * as React from 'react';
import { accessValue, connectorFields, isVariableReference, withSecretsAsVariables, type ConnectorClass, type ConnectorDirection, type ConnectorField } from '../../red';
import { Field } from './common';

export interface ConnectorFieldsProps {
  command: string;
  cls: ConnectorClass;
  direction: ConnectorDirection;
  /** An input with `mount: true`: its mount's fields (writable) are shown too. */
  mounted?: boolean;
  access: Record<string, unknown>;
  /** The input's or output's name (the default {{variable}} names start with it). */
  owner: string;
  onChange: (path: string, value: unknown) => void;
}

export function ConnectorFields({ command, cls, direction, mounted, access, owner, onChange }: ConnectorFieldsProps): JSX.Element | null {
  const fields = connectorFields(command, cls, direction, mounted);
  if (!fields.length) {
    // A connector image's access, as it is; a secret value it holds is not shown (its error says what to write).
    return <div className="jp-RedLab-muted">access: {JSON.stringify(withSecretsAsVariables(command, access, owner))}</div>;
  }
  return (
    <div className="jp-RedLab-indent" data-testid="redlab-connector-fields">
      {fields.map(f => (
        <AccessField key={f.path} field={f} value={accessValue(access, f.path)} onChange={v => onChange(f.path, v)} />
      ))}
    </div>
  );
}

const testId = (f: ConnectorField) => `redlab-access-${f.path}`;

function AccessField({ field: f, value, onChange }: { field: ConnectorField; value: unknown; onChange: (v: unknown) => void }): JSX.Element {
  const label = `${f.label}${f.required ? ' *' : ''}`;
  if (f.secret) {
    // Only the variable's name: a value written here would end up in the notebook.
    const name = isVariableReference(value) ? String(value).trim().slice(2, -2) : '';
    return (
      <Field label={label} hint={`${f.help}. Its value is asked for at launch, kept in memory for this session, never saved.`}>
        <span className="jp-RedLab-row" title="The name of a {{variable}}: its value is asked for at launch">
          <code>{'{{'}</code>
          <input
            className="jp-mod-styled jp-RedLab-input jp-RedLab-grow"
            data-testid={testId(f)}
            value={name}
            placeholder="variable name"
            spellCheck={false}
            autoComplete="off"
            onChange={e => {
              const v = e.target.value.replace(/[{}]/g, '').trim();
              onChange(v ? `{{${v}}}` : undefined);
            }}
          />
          <code>{'}}'}</code>
        </span>
      </Field>
    );
  }
  if (f.type === 'boolean') {
    return (
      <label className="jp-RedLab-check" title={f.help}>
        <input type="checkbox" data-testid={testId(f)} checked={value === true} onChange={e => onChange(e.target.checked ? true : undefined)} /> {f.label}
      </label>
    );
  }
  if (f.choices) {
    return (
      <Field label={label} hint={f.help}>
        <select className="jp-mod-styled jp-RedLab-select" data-testid={testId(f)} value={value === undefined ? '' : String(value)} onChange={e => onChange(e.target.value || undefined)}>
          <option value="">(default)</option>
          {f.choices.map(c => (
            <option key={c} value={c}>
              {c}
            </option>
          ))}
        </select>
      </Field>
    );
  }
  const text = value === undefined || value === null ? '' : String(value);
  const set = (t: string) => {
    if (f.type !== 'number') return onChange(t === '' && !f.required ? undefined : t);
    const n = Number(t.trim());
    // Text that is not a number stays text, so that the field's check names it.
    onChange(t.trim() === '' ? undefined : /^\d+(\.\d+)?$/.test(t.trim()) && Number.isFinite(n) ? n : t);
  };
  return (
    <Field label={label} hint={f.help}>
      {f.type === 'multiline' ? (
        <textarea className="jp-mod-styled jp-RedLab-input" data-testid={testId(f)} value={text} title={f.help} spellCheck={false} onChange={e => set(e.target.value)} />
      ) : (
        <input
          className="jp-mod-styled jp-RedLab-input"
          data-testid={testId(f)}
          value={text}
          title={f.help}
          placeholder={f.default !== undefined ? String(f.default) : undefined}
          spellCheck={false}
          onChange={e => set(e.target.value)}
        />
      )}
    </Field>
  );
}
