// The files a notebook writes come back by default: the names found in its code become
// outputs of their own (the panel lists them, each can be unticked), and a folder gathers
// every other file it writes.
import { buildCommand, inputContainerPath, loadRed, validateRed, type SingleRed } from '../../red';
import { checkDraft, draftFloatPaths, draftToRed, draftToRedYaml, inferDraft, newFilesFolder, redToDraft } from '../infer';
import { findWrittenFiles } from '../outputs';

const code = (source: string) => ({ cell_type: 'code', metadata: {}, source, outputs: [], execution_count: null });
const md = (source: string) => ({ cell_type: 'markdown', metadata: {}, source });
const nb = (...cells: unknown[]) => ({ nbformat: 4, nbformat_minor: 5, metadata: { kernelspec: { name: 'python3', language: 'python' } }, cells });
const defaults = { image: 'redlab/debian-python:12', ramMb: 512 };

describe('findWrittenFiles', () => {
  it('finds files written to literal names by the usual calls, once each, with their code cell and line', () => {
    const cells = [
      md('open("not-code.txt", "w")'),
      code('with open("results.csv", "w", newline="") as f:\n    pass\ntext = open("input.txt").read()\nopen(\'log.txt\', mode="a")\nopen(r"raw.bin", "wb")'),
      code('df.to_csv("tables/out.csv", index=False)\nds.to_netcdf(\'grid.nc\')\nplt.savefig("fig.png", dpi=200)  # plt.savefig("commented.png")\n# open("c.txt", "w")'),
      code('np.save("arr.npy", a)\nnp.savetxt(fname="a.txt", X=a)\nPath("notes.md").write_text("x")\nimg.save("thumb.jpg")\nmodel.save(path)\ntorch.save(model.state_dict(), "model.pt")\njoblib.dump(clf, "clf.joblib")'),
      code('open(f"{name}.txt", "w")\nopen(name, "w")\nopen("/tmp/scratch", "w")\nopen("/cc/outputs/metrics.json", "w")\nopen("../up.txt", "w")\nopen("*.txt", "w")\nopen("results.csv", "w")\nopen(".hidden", "w")')
    ];
    expect(findWrittenFiles(cells).map(f => [f.path, f.codeCell, f.line])).toEqual([
      ['results.csv', 1, 1],
      ['log.txt', 1, 4],
      ['raw.bin', 1, 5],
      ['tables/out.csv', 2, 1],
      ['grid.nc', 2, 2],
      ['fig.png', 2, 3],
      ['arr.npy', 3, 1],
      ['a.txt', 3, 2],
      ['notes.md', 3, 3],
      ['thumb.jpg', 3, 4],
      ['model.pt', 3, 6],
      ['clf.joblib', 3, 7],
      ['metrics.json', 4, 4]
    ]);
    expect(findWrittenFiles(cells)[0].code).toBe('with open("results.csv", "w", newline="") as f:');
  });
});

describe('the default outputs of a draft', () => {
  const notebook = nb(code('x = 1'), code('open("a.csv", "w").write("1")\nopen("a-csv", "w")\nplt.savefig("figs/a.csv")'));

  it('are the files found (optional, named after them) and the new-files folder', () => {
    const { draft } = inferDraft(notebook, { notebookPath: 'dir/My Analysis.ipynb', defaults });
    expect(draft.outputs.map(o => [o.name, o.glob, o.kind, o.optional, !!o.newFiles])).toEqual([
      ['a_csv', 'a.csv', 'File', true, false],
      ['a-csv', 'a-csv', 'File', true, false],
      ['a_csv_2', 'figs/a.csv', 'File', true, false],
      ['new_files', 'My_Analysis_files', 'Directory', true, true]
    ]);
    expect(newFilesFolder('x/.hidden.ipynb')).toBe('hidden_files');
    expect(checkDraft(draft)).toEqual([]);
    const red = draftToRed(draft);
    expect(validateRed(red, { floatPaths: draftFloatPaths(draft) })).toEqual([]);
    expect(red.cli.outputs.new_files).toMatchObject({ type: 'Directory?', outputBinding: { glob: 'My_Analysis_files' } });
    const loaded = loadRed(draftToRedYaml(draft));
    const argv = buildCommand(loaded.red.cli, (loaded.red as SingleRed).inputs, { containerPathOf: inputContainerPath, floatPaths: loaded.floatPaths });
    expect(argv.slice(3)).toEqual(['--redlab-collect', 'My_Analysis_files', '--redlab-collect-skip', 'a-csv,a.csv,figs/a.csv']);
  });

  it('can be narrowed: an unticked file is neither collected nor gathered; an unticked folder gathers nothing', () => {
    const { draft } = inferDraft(notebook, { notebookPath: 'n.ipynb', defaults });
    draft.outputs[0].enabled = false;
    let red = draftToRed(draft);
    expect(Object.keys(red.cli.outputs)).toEqual(['executed_notebook', 'a-csv', 'a_csv_2', 'new_files']);
    expect(red.inputs.redlab_collect_skip).toBe('a-csv,figs/a.csv,a.csv');
    // read back, the unticked file is an unticked output again
    expect(redToDraft(red, 'n.ipynb').draft.outputs.find(o => o.glob === 'a.csv')).toEqual({ name: 'a_csv', glob: 'a.csv', kind: 'File', optional: true, enabled: false });
    draft.outputs[3].enabled = false;
    red = draftToRed(draft);
    expect(Object.keys(red.cli.outputs)).toEqual(['executed_notebook', 'a-csv', 'a_csv_2']);
    expect(red.cli.inputs.redlab_collect).toBeUndefined();
    expect(red.cli.inputs.redlab_collect_skip).toBeUndefined();
  });

  it('leave out the executed notebook', () => {
    const { draft } = inferDraft(nb(code('open("n.executed.ipynb", "w")')), { notebookPath: 'n.ipynb', defaults });
    expect(draft.outputs.map(o => o.glob)).toEqual(['n_files']);
  });
});
