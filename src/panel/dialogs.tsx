// The panel's dialogs: values of {{variables}} at launch (kept in memory only), a run
// record as JSON, the path of a RED file to import, an overwrite question.
import * as React from 'react';
import { Dialog, InputDialog, showDialog } from '@jupyterlab/apputils';
import { ReactWidget } from '@jupyterlab/ui-components';
import { isMultilineAccessUse, isSecretAccessUse, type RedVariable } from '../red';

class VariablesBody extends ReactWidget implements Dialog.IBodyWidget<Record<string, string>> {
  constructor(private readonly vars: readonly RedVariable[]) {
    super();
    this.addClass('jp-RedLab-variables');
  }

  getValue(): Record<string, string> {
    const out: Record<string, string> = {};
    this.node.querySelectorAll<HTMLInputElement | HTMLTextAreaElement>('[data-variable]').forEach(i => {
      out[i.dataset.variable!] = i.value;
    });
    return out;
  }

  render(): JSX.Element {
    return (
      <div data-testid="redlab-variables-dialog">
        <p>
          These values fill the experiment's <code>{'{{variables}}'}</code>. They stay in this browser tab's memory for this session only: never in
          the notebook, the RED file or the settings.
        </p>
        {this.vars.map(v => (
          <label key={v.name} className="jp-RedLab-field">
            <span className="jp-RedLab-label">{v.name}</span>
            {isMultilineAccessUse(v.paths) ? (
              // A private key keeps its line breaks (an <input> would drop them).
              <textarea className="jp-mod-styled jp-RedLab-secret-text" data-variable={v.name} data-testid={`redlab-variable-${v.name}`} autoComplete="off" spellCheck={false} title={`used at ${v.paths.join(', ')}`} />
            ) : (
              <input
                className="jp-mod-styled"
                data-variable={v.name}
                data-testid={`redlab-variable-${v.name}`}
                type={v.protected || isSecretAccessUse(v.paths) ? 'password' : 'text'}
                autoComplete="off"
                title={`used at ${v.paths.join(', ')}`}
              />
            )}
          </label>
        ))}
      </div>
    );
  }
}

/** Asks for the values of `vars`; undefined when the user cancels. */
export async function askVariables(vars: readonly RedVariable[]): Promise<Record<string, string> | undefined> {
  const result = await showDialog({
    title: 'Values for the experiment',
    body: new VariablesBody(vars),
    buttons: [Dialog.cancelButton(), Dialog.okButton({ label: 'Run' })],
    focusNodeSelector: 'input'
  });
  return result.button.accept ? (result.value ?? undefined) : undefined;
}

export async function showJson(title: string, value: unknown): Promise<void> {
  const body = ReactWidget.create(
    <pre className="jp-RedLab-json" data-testid="redlab-record">
      {JSON.stringify(value, null, 2)}
    </pre>
  );
  await showDialog({ title, body, buttons: [Dialog.okButton({ label: 'Close' })] });
}

/** The path of a RED file (relative to the Jupyter root); undefined when cancelled. */
export async function askRedPath(suggestion: string, title = 'Import RED…', okLabel = 'Import'): Promise<string | undefined> {
  const result = await InputDialog.getText({
    title,
    label: 'RED file (.red.yml, .red, .json), relative to the Jupyter root; or select it in the file browser first',
    text: suggestion,
    placeholder: 'folder/experiment.red.yml',
    okLabel
  });
  return result.button.accept && result.value ? result.value.trim() : undefined;
}

export async function confirm(title: string, message: string, okLabel: string): Promise<boolean> {
  const result = await showDialog({ title, body: message, buttons: [Dialog.cancelButton(), Dialog.warnButton({ label: okLabel })] });
  return result.button.accept;
}
