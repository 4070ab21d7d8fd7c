// The RED as it would be written (live), and every issue of the experiment below it:
// those of a field are also shown at that field.
import * as React from 'react';
import type { PanelIssue } from '../experiment-model';
import { Section } from './common';

export function YamlSection({ model }: { model: { yaml: string; issues: readonly PanelIssue[] } }): JSX.Element {
  const issues = model.issues;
  const errors = issues.filter(i => i.severity === 'error').length;
  return (
    <Section title="RED (YAML)" testId="redlab-yaml-section" extra={<span className={errors ? 'jp-RedLab-bad' : 'jp-RedLab-good'}>{errors ? `${errors} error${errors === 1 ? '' : 's'}` : 'valid RED 9'}</span>}>
      <pre className="jp-RedLab-yaml" data-testid="redlab-yaml">
        {model.yaml || '# the experiment cannot be written as a RED yet: see below'}
      </pre>
      {issues.length ? (
        <ul className="jp-RedLab-issues" data-testid="redlab-issues">
          {issues.map((i, n) => (
            <li key={n} className={i.severity === 'error' ? 'jp-RedLab-bad' : 'jp-RedLab-warn'} data-testid="redlab-issue">
              {i.path ? <code>{i.path}</code> : i.field ? <code>{i.field.replace(':', ' ')}</code> : null} {i.message}
              {i.fix ? <span className="jp-RedLab-fix"> — {i.fix}</span> : null}
            </li>
          ))}
        </ul>
      ) : null}
    </Section>
  );
}
