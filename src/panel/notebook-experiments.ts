// Keeps each notebook's experiment in the notebook: the panel's edits are written to the
// open notebook's metadata (see ExperimentMetadataWriter), so that a save keeps them and
// a reload proposes them again. Nothing is written when a notebook only opens.
import type { INotebookTracker } from '@jupyterlab/notebook';
import { ExperimentMetadataWriter, type MetadataTarget } from './metadata-writer';
import type { RedPanelModel } from './panel-model';

export function keepExperimentsInNotebooks(panelModel: RedPanelModel, tracker: INotebookTracker): ExperimentMetadataWriter {
  const find = (path: string): MetadataTarget | undefined => tracker.find(p => p.context.path === path)?.content.model ?? undefined;
  const writer = new ExperimentMetadataWriter(find);
  panelModel.edited.connect((_, { path, experiment }) => writer.edited(path, () => experiment.draft));
  // A save started right after an edit still keeps it.
  const watch = (panel: NonNullable<INotebookTracker['currentWidget']>) => {
    panel.context.saveState.connect((_, state) => {
      if (state === 'started') writer.flush(panel.context.path);
    });
  };
  tracker.forEach(watch);
  tracker.widgetAdded.connect((_, panel) => watch(panel));
  return writer;
}
