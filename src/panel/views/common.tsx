// Small building blocks of the RED panel: a collapsible section, a labelled field, and
// the issues shown at a field (errors: data-testid redlab-field-error).
import * as React from 'react';
import type { PanelIssue } from '../experiment-model';
import type { FieldKey } from '../fields';

export function Section(props: { title: string; testId: string; open?: boolean; extra?: React.ReactNode; children: React.ReactNode }): JSX.Element {
  return (
    <details className="jp-RedLab-section" open={props.open ?? true} data-testid={props.testId}>
      <summary className="jp-RedLab-section-title">
        {props.title}
        {props.extra ? <span className="jp-RedLab-section-extra">{props.extra}</span> : null}
      </summary>
      <div className="jp-RedLab-section-body">{props.children}</div>
    </details>
  );
}

export function IssueList(props: { issues: readonly PanelIssue[] }): JSX.Element | null {
  if (!props.issues.length) return null;
  return (
    <div className="jp-RedLab-field-issues">
      {props.issues.map((i, n) => (
        <div
          key={n}
          className={i.severity === 'error' ? 'jp-RedLab-field-error' : 'jp-RedLab-field-warning'}
          data-testid={i.severity === 'error' ? 'redlab-field-error' : 'redlab-field-warning'}
          role={i.severity === 'error' ? 'alert' : undefined}
        >
          {i.message}
          {i.fix ? <span className="jp-RedLab-fix"> — {i.fix}</span> : null}
        </div>
      ))}
    </div>
  );
}

/** What has issues by field: a notebook's experiment, an imported RED file. */
export interface HasFieldIssues {
  issuesFor(field: FieldKey): PanelIssue[];
}

/** The issues of one field of the experiment. */
export function FieldIssues(props: { model: HasFieldIssues; field: FieldKey }): JSX.Element | null {
  return <IssueList issues={props.model.issuesFor(props.field)} />;
}

export function Field(props: { label: string; hint?: string; children: React.ReactNode; invalid?: boolean }): JSX.Element {
  return (
    <label className={`jp-RedLab-field${props.invalid ? ' jp-RedLab-invalid' : ''}`}>
      <span className="jp-RedLab-label" title={props.hint}>
        {props.label}
      </span>
      {props.children}
    </label>
  );
}

export function hasError(model: HasFieldIssues, field: FieldKey): boolean {
  return model.issuesFor(field).some(i => i.severity === 'error');
}
