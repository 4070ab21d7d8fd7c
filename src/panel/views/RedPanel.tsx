// The RED panel: the active notebook's experiment, section by section, its RED, and
// its runs. It only shows the models and calls the actions.
import * as React from 'react';
import type { IRedLab } from '../../tokens';
import type { RedLabActions } from '../actions';
import { isClusterEngine } from '../../notebook/draft-execution';
import { engineView, healthOf, requiredEngine } from '../engines';
import type { RedPanelModel } from '../panel-model';
import { runBlocker } from '../run-blocker';
import { runsOfNotebook } from '../run-history';
import { BridgeMessage } from './BridgeMessage';
import { ClusterSection } from './ClusterSection';
import { useSignals } from './hooks';
import { ImageSection } from './ImageSection';
import { InputsSection } from './InputsSection';
import { NoticeView } from './NoticeView';
import { OutputsSection } from './OutputsSection';
import { ParametersSection } from './ParametersSection';
import { RedFileView } from './RedFileView';
import { ResourcesSection } from './ResourcesSection';
import { RunHistory } from './RunHistory';
import { YamlSection } from './YamlSection';

export interface RedPanelProps {
  panel: RedPanelModel;
  redlab: IRedLab;
  actions: RedLabActions;
}

export function RedPanel({ panel, redlab, actions }: RedPanelProps): JSX.Element {
  useSignals(panel.changed, redlab.statusChanged, redlab.runsChanged);
  const status = redlab.status;
  const health = healthOf(status);
  const connected = status.kind === 'connected';
  const current = panel.current;
  const experiment = panel.experiment;
  const redFile = panel.redFile;
  // What Run runs: the imported RED file when one is open, else the notebook's experiment.
  const shown = redFile ?? experiment;
  // Only engines that can run now; sections the chosen one cannot use are not shown. The engine
  // the RED itself asks for (a cluster's, an imported file's) is not swapped for another silently.
  const required = redFile ? requiredEngine({ redFile: redFile.red }) : experiment ? requiredEngine({ draft: experiment.draft }) : undefined;
  const engines = engineView(health, redFile ? [panel.defaultEngine] : [experiment?.draft.engine, panel.defaultEngine], required);
  const clusterEngine = engines.missing?.name ?? engines.chosen?.name;
  const blocker = shown
    ? runBlocker({ launching: panel.launches.busy, connected, bridgeMessage: 'message' in status ? status.message : undefined, issues: shown.issues, engineMissing: engines.missing?.message })
    : undefined;

  return (
    <div className="jp-RedLab-panel" data-testid="redlab-panel">
      <header className="jp-RedLab-header">
        <div className="jp-RedLab-title">RED experiment</div>
        <div className="jp-RedLab-muted jp-RedLab-ellipsis" data-testid="redlab-notebook" title={current?.path}>
          {current ? current.path : 'Open a notebook: the panel proposes an experiment for it.'}
        </div>
        {shown ? (
          <div className="jp-RedLab-row jp-RedLab-toolbar">
            <button
              className="jp-mod-styled jp-mod-accept jp-RedLab-button"
              data-testid="redlab-run-button"
              disabled={blocker !== undefined}
              title={blocker ?? (redFile ? `Run ${redFile.path} in a container` : 'Run the notebook as it is now in a container')}
              onClick={() => void actions.runShown()}
            >
              ▶ Run
            </button>
            <button
              className="jp-mod-styled jp-RedLab-button"
              data-testid="redlab-export-button"
              disabled={!shown.isValid}
              onClick={() => void actions.exportRed()}
              title={
                runBlocker({ launching: null, connected: true, issues: shown.issues }) ??
                (redFile ? 'Write this RED (with your changes) to a file' : 'Write <notebook>.red.yml and the runner next to the notebook')
              }
            >
              Export RED…
            </button>
            <button className="jp-mod-styled jp-RedLab-button" data-testid="redlab-import-button" onClick={() => void actions.importRed()} title="Open a .red.yml / .red / .json file here as the experiment it is">
              Import RED…
            </button>
          </div>
        ) : null}
        {shown && blocker ? (
          <div className="jp-RedLab-run-blocked" data-testid="redlab-run-blocked" role="status">
            {blocker}
          </div>
        ) : null}
      </header>
      <BridgeMessage status={status} />
      {panel.notice ? <NoticeView notice={panel.notice} onClose={() => panel.setNotice(null)} /> : null}
      {current && 'error' in current ? (
        <div className="jp-RedLab-notice jp-RedLab-notice-error" data-testid="redlab-not-runnable">
          <strong>{current.error.message}</strong>
          {current.error.fix ? <div>What to do: {current.error.fix}</div> : null}
        </div>
      ) : null}
      {redFile && engines.missing ? (
        <div className="jp-RedLab-notice jp-RedLab-notice-error" data-testid="redlab-engine-missing" role="alert">
          {engines.missing.message}
        </div>
      ) : null}
      {redFile ? <RedFileView model={redFile} onClose={() => panel.closeRedFile()} /> : null}
      {redFile && current ? (
        <RunHistory
          runs={runsOfNotebook(redlab.runs, current.path)}
          panel={panel}
          canRun={connected && !panel.launches.busy}
          onCancel={id => void actions.cancelRun(id)}
          onRerun={id => void actions.rerun(id)}
          onOpen={id => void actions.openRecord(id)}
        />
      ) : null}
      {experiment && !redFile ? (
        <div className="jp-RedLab-body">
          {experiment.warnings.length ? (
            <ul className="jp-RedLab-warnings" data-testid="redlab-warnings">
              {experiment.warnings.map((w, i) => (
                <li key={i}>{w}</li>
              ))}
            </ul>
          ) : null}
          <ImageSection model={experiment} panel={panel} engine={engines.chosen?.name} imageBuilds={engines.imageBuilds} canBuild={connected} onBuild={() => void actions.buildImage()} />
          <ResourcesSection model={experiment} gpusSupported={engines.gpus} gpus={engines.chosen?.gpus ?? health?.gpus ?? []} engines={engines} />
          {isClusterEngine(clusterEngine) ? <ClusterSection model={experiment} engine={clusterEngine} /> : null}
          <ParametersSection model={experiment} onReinfer={() => panel.reinfer()} />
          <InputsSection
            model={experiment}
            connectors={engines.inputConnectors}
            mountConnectors={engines.mountConnectors}
            selectedFile={() => actions.selectedFileForNotebook()}
          />
          <OutputsSection model={experiment} connectors={engines.outputConnectors} />
          <YamlSection model={experiment} />
          <RunHistory
            runs={current ? runsOfNotebook(redlab.runs, current.path) : []}
            panel={panel}
            canRun={connected && !panel.launches.busy}
            onCancel={id => void actions.cancelRun(id)}
            onRerun={id => void actions.rerun(id)}
            onOpen={id => void actions.openRecord(id)}
          />
        </div>
      ) : null}
    </div>
  );
}
