// Parameters of the notebook's `parameters` cell, each with an editor for its type:
// a checkbox for booleans, text for the rest (numbers checked as typed, lists comma
// separated). A value that does not fit shows its error at the field.
import * as React from 'react';
import type { NotebookParameter } from '../../notebook/types';
import type { ExperimentModel } from '../experiment-model';
import { splitCwlType } from '../../red';
import { formatParamValue, paramField } from '../fields';
import { FieldIssues, hasError, Section } from './common';

export function ParametersSection({ model, onReinfer }: { model: ExperimentModel; onReinfer: () => void }): JSX.Element {
  const params = model.draft.parameters;
  return (
    <Section
      title={`Parameters (${params.length})`}
      testId="redlab-parameters-section"
      extra={
        <>
          <button className="jp-RedLab-link" title="Every value back to the notebook's" onClick={e => (e.preventDefault(), model.resetParameters())}>
            reset
          </button>
          <button className="jp-RedLab-link" title="Read the notebook's parameters cell again" data-testid="redlab-reinfer" onClick={e => (e.preventDefault(), onReinfer())}>
            re-read notebook
          </button>
        </>
      }
    >
      {params.length === 0 ? <div className="jp-RedLab-muted">No parameters: tag a code cell that sets them (samples = 200 …) "parameters".</div> : null}
      {params.map(p => (
        <ParameterField key={p.name} model={model} param={p} />
      ))}
    </Section>
  );
}

function ParameterField({ model, param }: { model: ExperimentModel; param: NotebookParameter }): JSX.Element {
  const field = paramField(param.name);
  const { base, array: list } = splitCwlType(param.type);
  const value = model.draft.values[param.name];
  const changed = JSON.stringify(value) !== JSON.stringify(param.default);
  const label = (
    <span className="jp-RedLab-label" title={param.doc}>
      {param.name} <span className="jp-RedLab-type">{param.type}</span>
      {param.json ? (
        <span className="jp-RedLab-type" data-testid={`redlab-param-json-${param.name}`} title="The value is JSON text (a dict, None, a mixed list …), read with json.loads in the run">
          {' '}
          JSON
        </span>
      ) : null}
      {changed ? <span className="jp-RedLab-changed" title={`notebook: ${formatParamValue(param.type, param.default)}`}> •</span> : null}
    </span>
  );
  if (base === 'boolean' && !list) {
    return (
      <div className="jp-RedLab-param">
        <label className="jp-RedLab-field jp-RedLab-check">
          <input type="checkbox" data-testid={`redlab-param-${param.name}`} checked={value === true} onChange={e => model.setParamValue(param.name, e.target.checked)} />
          {label}
        </label>
        {param.doc ? <div className="jp-RedLab-doc">{param.doc}</div> : null}
        <FieldIssues model={model} field={field} />
      </div>
    );
  }
  const numeric = base === 'int' || base === 'long' || base === 'float' || base === 'double';
  const text = model.text(field) ?? formatParamValue(param.type, value);
  return (
    <div className="jp-RedLab-param">
      <label className={`jp-RedLab-field${hasError(model, field) ? ' jp-RedLab-invalid' : ''}`}>
        {label}
        <input
          className="jp-mod-styled jp-RedLab-input"
          data-testid={`redlab-param-${param.name}`}
          // Text, not type=number: what was typed stays, so its error can say what is wrong.
          type="text"
          inputMode={numeric && !list ? 'decimal' : undefined}
          spellCheck={false}
          value={text}
          placeholder={list ? 'comma separated' : param.json ? 'JSON, e.g. {"a": 1} or null' : undefined}
          aria-invalid={hasError(model, field)}
          onChange={e => model.setParamText(param.name, e.target.value)}
        />
      </label>
      {param.doc ? <div className="jp-RedLab-doc">{param.doc}</div> : null}
      <FieldIssues model={model} field={field} />
    </div>
  );
}
