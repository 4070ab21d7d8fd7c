// The panel's outputs: the files the notebook's code writes (inferred, each with a checkbox and
// where it is written), merged with the choices stored in the notebook or kept by the panel.
import { draftToRed, inferDraft, NEW_FILES_OUTPUT } from '../../notebook/infer';
import type { DraftOutput } from '../../notebook/types';
import { applyStoredExperiment, mergeOutputs, readStoredExperiment, toStoredExperiment } from '../draft-metadata';
import { ExperimentModel, outputOrigin } from '../experiment-model';
import { RedPanelModel } from '../panel-model';
import { BridgeApi } from '../../api';
import type { BridgeClient } from '../../handler';

function notebook(...code: string[]): unknown {
  return {
    nbformat: 4,
    nbformat_minor: 5,
    metadata: { kernelspec: { name: 'python3', display_name: 'Python 3', language: 'python' } },
    cells: [
      { cell_type: 'code', id: 'p', metadata: { tags: ['parameters'] }, source: 'samples = 10\n', outputs: [], execution_count: null },
      ...code.map((source, i) => ({ cell_type: 'code', id: `c${i}`, metadata: {}, source, outputs: [], execution_count: null }))
    ]
  };
}

const WRITES_CSV = 'import pandas as pd\ndf = pd.DataFrame()\ndf.to_csv("results.csv")\n';
const WRITES_FIG = 'import matplotlib.pyplot as plt\nplt.savefig("fig.png")\n';

function infer(nb: unknown) {
  return inferDraft(nb, { notebookPath: 'demo/walk.ipynb', defaults: { image: 'redlab/debian-python:12', ramMb: 1024 } }).draft;
}

const brief = (outs: DraftOutput[]) => outs.map(o => `${o.name}=${o.glob}${o.enabled === false ? ' (off)' : ''}${o.inferred ? ` @${o.inferred.codeCell}:${o.inferred.line}` : ''}`);

describe('mergeOutputs / applyStoredExperiment', () => {
  it('adds what the code writes since the settings were stored, and the new-files folder to settings stored before it existed', () => {
    const before = infer(notebook(WRITES_CSV));
    // Settings stored by an older panel: results.csv unticked, no new-files folder.
    const stored = toStoredExperiment({ ...before, outputs: [{ ...before.outputs[0], enabled: false }] });
    const now = infer(notebook(WRITES_CSV, WRITES_FIG));
    const draft = applyStoredExperiment(now, stored);
    expect(brief(draft.outputs)).toEqual(['results_csv=results.csv (off) @2:3', 'fig_png=fig.png @3:2', `${NEW_FILES_OUTPUT}=walk_files`]);
    // The run leaves results.csv out, collects fig.png, gathers the rest but results.csv.
    const red = draftToRed(draft);
    expect(Object.keys(red.cli.outputs).sort()).toEqual(['executed_notebook', 'fig_png', NEW_FILES_OUTPUT]);
    expect(red.inputs.redlab_collect_skip).toBe('fig.png,results.csv');
  });

  it("keeps the user's outputs and choices; drops inferred ones whose code is gone; follows the code's new place", () => {
    const first = infer(notebook(WRITES_CSV, WRITES_FIG));
    const kept: DraftOutput[] = [
      { ...first.outputs[0], name: 'table' }, // renamed by the user
      { ...first.outputs[1], enabled: false }, // fig.png unticked
      { name: 'logs', glob: 'logs/*.txt', kind: 'File', optional: false }, // added by hand
      { ...first.outputs[2], enabled: false } // the new-files folder unticked
    ];
    // fig.png's code is gone, results.csv moved to another line, a new file is written.
    const now = infer(notebook('x = 1\n' + WRITES_CSV + 'open("notes.txt", "w").write("hi")\n'));
    expect(brief(mergeOutputs(now.outputs, kept))).toEqual(['table=results.csv @2:4', 'logs=logs/*.txt', 'notes_txt=notes.txt @2:5', `${NEW_FILES_OUTPUT}=walk_files (off)`]);
  });

  it('a hand-added output whose code is gone stays; one with the glob of an inferred file stands in for it', () => {
    const now = infer(notebook(WRITES_CSV));
    const kept: DraftOutput[] = [
      { name: 'results_csv', glob: 'results.csv', kind: 'File', optional: false },
      { name: 'old', glob: 'old.png', kind: 'File', optional: true, enabled: false }
    ];
    expect(brief(mergeOutputs(now.outputs, kept))).toEqual(['results_csv=results.csv', 'old=old.png (off)', `${NEW_FILES_OUTPUT}=walk_files`]);
  });

  it('a newly inferred output gets a name of its own', () => {
    const now = infer(notebook(WRITES_FIG));
    const kept: DraftOutput[] = [{ name: 'fig_png', glob: 'other.png', kind: 'File', optional: false }];
    expect(brief(mergeOutputs(now.outputs, kept))).toEqual(['fig_png=other.png', 'fig_png_2=fig.png @2:2', `${NEW_FILES_OUTPUT}=walk_files`]);
    expect(draftToRed({ ...now, outputs: mergeOutputs(now.outputs, kept) }).cli.outputs.fig_png_2).toMatchObject({ outputBinding: { glob: 'fig.png' } });
  });

  it('a stored notebook round-trips: its enabled flags and where the code writes come back as they were', () => {
    const draft = infer(notebook(WRITES_CSV, WRITES_FIG));
    draft.outputs[1].enabled = false;
    const nb = { ...(notebook(WRITES_CSV, WRITES_FIG) as object), metadata: { redlab: { experiment: toStoredExperiment(draft) } } };
    const again = applyStoredExperiment(infer(nb), readStoredExperiment(nb)!);
    expect(again.outputs).toEqual(draft.outputs);
  });
});

describe('ExperimentModel outputs', () => {
  it('says where the code writes an inferred output', () => {
    const m = new ExperimentModel(infer(notebook(WRITES_CSV)));
    expect(outputOrigin(m.draft.outputs[0])).toBe('code cell 2, line 3: df.to_csv("results.csv")');
    expect(outputOrigin(m.draft.outputs[1])).toBeUndefined();
  });

  it('unticking an output leaves it out of the run and out of the new-files folder; ticking brings it back', () => {
    const m = new ExperimentModel(infer(notebook(WRITES_CSV, WRITES_FIG)));
    let edits = 0;
    m.edited.connect(() => edits++);
    m.setOutputEnabled(1, false);
    expect(edits).toBe(1);
    expect(m.isValid).toBe(true);
    expect(Object.keys(m.red!.cli.outputs)).not.toContain('fig_png');
    expect(m.red!.inputs.redlab_collect_skip).toBe('results.csv,fig.png');
    expect(m.yaml).toContain('fig.png');
    m.setOutputEnabled(1, true);
    expect(Object.keys(m.red!.cli.outputs)).toContain('fig_png');
  });

  it('unticking the new-files folder gathers nothing', () => {
    const m = new ExperimentModel(infer(notebook(WRITES_CSV)));
    m.setOutputEnabled(1, false);
    expect(Object.keys(m.red!.cli.outputs).sort()).toEqual(['executed_notebook', 'results_csv']);
    expect(m.red!.inputs.redlab_collect).toBeUndefined();
  });

  it("another glob makes an inferred output the user's own (kept when the code stops writing the file); a new name does not", () => {
    const m = new ExperimentModel(infer(notebook(WRITES_CSV)));
    m.updateOutput(0, { name: 'table' });
    expect(m.draft.outputs[0].inferred).toBeDefined();
    m.updateOutput(0, { glob: 'results*.csv' });
    expect(m.draft.outputs[0].inferred).toBeUndefined();
    expect(brief(mergeOutputs(infer(notebook('pass\n')).outputs, m.draft.outputs))).toEqual(['table=results*.csv', `${NEW_FILES_OUTPUT}=walk_files`]);
  });
});

describe('RedPanelModel.reinfer', () => {
  it('reading the notebook again adds the files its code now writes and keeps the unticked ones unticked', () => {
    const client = { request: () => Promise.reject(new Error('no bridge in this test')) } as unknown as BridgeClient;
    const panel = new RedPanelModel(new BridgeApi(client), () => ({ image: 'redlab/debian-python:12', ramMb: 1024 }));
    let nb = notebook(WRITES_CSV);
    const source = { path: 'demo/walk.ipynb', toJSON: () => nb };
    panel.setNotebook(source);
    const m = panel.experiment!;
    m.setOutputEnabled(0, false);
    nb = notebook(WRITES_CSV, WRITES_FIG);
    panel.reinfer(source);
    expect(brief(m.draft.outputs as DraftOutput[])).toEqual(['results_csv=results.csv (off) @2:3', 'fig_png=fig.png @3:2', `${NEW_FILES_OUTPUT}=walk_files`]);
  });
});
