import * as fs from 'fs';
import * as path from 'path';
import { inferDraft } from '../../notebook/infer';
import { type RunRecord, type SingleRed, loadRed } from '../../red';
import { applyStoredExperiment, NOTEBOOK_METADATA_KEY, readStoredExperiment } from '../draft-metadata';
import { ExperimentModel } from '../experiment-model';
import { LaunchGuard } from '../launch-guard';
import { ExperimentMetadataWriter, WRITE_DELAY_MS, type MetadataTarget } from '../metadata-writer';
import { RedFileModel } from '../red-file-model';
import { pinnedImageOf, planRerun } from '../rerun';
import { runBlocker } from '../run-blocker';
import { runValues } from '../run-history';
import { sha256Hex } from '../../red';
import { stripRunCells } from '../../streaming/run-cell-filter';
import { notebookSnapshot, redOfSnapshot, runnerSnapshot } from '../snapshot';

const REPO = path.resolve(__dirname, '..', '..', '..');

function notebook(params = 'samples = 200\nnoise = 0.5\n'): Record<string, unknown> {
  return {
    nbformat: 4,
    nbformat_minor: 5,
    metadata: { kernelspec: { name: 'python3', display_name: 'Python 3', language: 'python' } },
    cells: [
      { cell_type: 'code', id: 'p', metadata: { tags: ['parameters'] }, source: params, outputs: [], execution_count: null },
      { cell_type: 'code', id: 'w', metadata: {}, source: 'print(samples)', outputs: [], execution_count: null },
      { cell_type: 'code', id: 'r', metadata: { tags: ['redlab-run'], redlab: { runId: 'x' } }, source: '# RED Lab run x', outputs: [], execution_count: null }
    ]
  };
}

const experiment = (nb = notebook()) => new ExperimentModel(inferDraft(nb, { notebookPath: 'demo/walk.ipynb', defaults: { image: 'redlab/debian-python:12', ramMb: 1024 } }).draft);

/** A notebook model's metadata, as the writer reaches it. */
class FakeNotebook implements MetadataTarget {
  readonly metadata: Record<string, unknown> = {};
  writes = 0;
  getMetadata(key: string): unknown {
    return this.metadata[key];
  }
  setMetadata(key: string, value: unknown): void {
    this.writes++;
    this.metadata[key] = JSON.parse(JSON.stringify(value));
  }
}

describe('the experiment is kept in the notebook on edit, not on open', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  function wired() {
    const nb = new FakeNotebook();
    const writer = new ExperimentMetadataWriter(p => (p === 'demo/walk.ipynb' ? nb : undefined));
    const model = experiment();
    model.edited.connect(() => writer.edited('demo/walk.ipynb', () => model.draft));
    return { nb, writer, model };
  }

  it('writes image, RAM and values a moment after the last edit, once', () => {
    const { nb, model } = wired();
    model.setImage('redlab/debian-python:test');
    model.setRamText('2048');
    model.setParamText('samples', '400');
    expect(nb.writes).toBe(0);
    jest.advanceTimersByTime(WRITE_DELAY_MS);
    expect(nb.writes).toBe(1);
    const stored = readStoredExperiment({ metadata: nb.metadata })!;
    expect(stored).toMatchObject({ image: 'redlab/debian-python:test', ramMb: 2048, values: { samples: 400, noise: 0.5 } });
  });

  it('does not write when nothing was edited: opening, inferring again, a rename, typing a bad value', () => {
    const { nb, model } = wired();
    model.replace(inferDraft(notebook('samples = 300\n'), { notebookPath: 'demo/walk.ipynb', defaults: { image: 'x', ramMb: 512 } }).draft);
    model.setNotebookPath('demo/moved.ipynb');
    model.setRamText('abc');
    jest.advanceTimersByTime(10 * WRITE_DELAY_MS);
    expect(nb.writes).toBe(0);
    expect(nb.metadata[NOTEBOOK_METADATA_KEY]).toBeUndefined();
  });

  it('reopens with the stored choices, never with a RAM of 0', () => {
    const nb = notebook();
    const { draft } = inferDraft(nb, { notebookPath: 'demo/walk.ipynb', defaults: { image: 'redlab/debian-python:12', ramMb: 1024 } });
    const stored = { image: 'x:1', ramMb: 0, values: { samples: 5 }, inputs: [], outputs: [] };
    const reopened = applyStoredExperiment(draft, readStoredExperiment({ metadata: { [NOTEBOOK_METADATA_KEY]: { experiment: stored } } })!);
    expect(reopened).toMatchObject({ image: 'x:1', ramMb: 1024, values: { samples: 5 } });
    const kept = applyStoredExperiment(draft, { ...stored, ramMb: 2048 });
    expect(kept.ramMb).toBe(2048);
  });

  it('writes a pending edit at once on flush (a save or a run), and nothing when it is already there', () => {
    const { nb, writer, model } = wired();
    model.setImage('busybox:1');
    writer.flush('demo/walk.ipynb');
    expect(nb.writes).toBe(1);
    model.setImage('busybox:2');
    model.setImage('busybox:1');
    jest.advanceTimersByTime(WRITE_DELAY_MS);
    expect(nb.writes).toBe(1);
  });
});

describe('a run launches a snapshot of the notebook', () => {
  it('hashes as sha256 does', () => {
    expect(sha256Hex('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(sha256Hex('')).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    expect(sha256Hex('x'.repeat(1000) + 'é')).toBe(require('crypto').createHash('sha256').update('x'.repeat(1000) + 'é').digest('hex'));
  });

  it('leaves the run cells out, and is addressed by its content', () => {
    const nb = notebook();
    expect((stripRunCells(nb).cells as unknown[]).length).toBe(2);
    const a = notebookSnapshot(nb, 'demo/walk.ipynb');
    expect(a.path).toBe(`demo/_redlab/snapshots/${a.sha256}.ipynb`);
    expect(a.relPath).toBe(`_redlab/snapshots/${a.sha256}.ipynb`);
    expect(a.sha256).toBe(sha256Hex(a.text));
    expect(JSON.parse(a.text).cells.map((c: { id: string }) => c.id)).toEqual(['p', 'w']);
    // A new run cell does not change it; an edit does.
    const withMoreRuns = { ...nb, cells: [...(nb.cells as unknown[]), { cell_type: 'code', metadata: { tags: ['redlab-run'] }, source: '', outputs: [] }] };
    expect(notebookSnapshot(withMoreRuns, 'demo/walk.ipynb').path).toBe(a.path);
    expect(notebookSnapshot(notebook('samples = 201\n'), 'demo/walk.ipynb').path).not.toBe(a.path);
  });

  it("runs the snapshot under the notebook's own name, with the draft's values", () => {
    const model = experiment();
    model.setParamText('noise', '1.0');
    const snap = notebookSnapshot(notebook(), 'demo/walk.ipynb');
    const runner = runnerSnapshot('demo/walk.ipynb', 'print("runner v1")\n');
    expect(runner.path).toBe(`demo/_redlab/snapshots/redlab_nbrun-${sha256Hex('print("runner v1")\n')}.py`);
    expect(runnerSnapshot('demo/walk.ipynb', 'print("runner v2")\n').path).not.toBe(runner.path);
    const { red, yaml } = redOfSnapshot(model.draft, snap.relPath, runner.relPath);
    expect(red.inputs.notebook).toMatchObject({ basename: 'walk.ipynb', connector: { access: { path: snap.relPath } } });
    expect(red.inputs.runner).toMatchObject({ basename: 'redlab_nbrun.py', connector: { access: { path: runner.relPath } } });
    expect(yaml).toContain(`path: ${snap.relPath}`);
    expect(yaml).toMatch(/noise: 1\.0\b/);
    expect((loadRed(yaml).red as SingleRed).inputs).toMatchObject({ samples: 200 });
  });
});

describe('a re-run reproduces the run', () => {
  const red = { redVersion: '9', container: { engine: 'docker', settings: { image: { url: 'redlab/debian-python:12' }, ram: 1024 } }, inputs: { samples: 400 } };
  const id = `sha256:${'ab'.repeat(32)}`;

  it('pins the image by its repo digest, else by its image ID, and says so', () => {
    const byDigest = planRerun({ id: 'r1', red, image: { url: 'python:3.12', id, digest: `python@sha256:${'cd'.repeat(32)}` } } as Pick<RunRecord, 'id' | 'red' | 'image'>);
    expect(byDigest.red.container.settings.image.url).toBe(`python@sha256:${'cd'.repeat(32)}`);
    expect(byDigest.note).toMatch(/pinned by digest/);
    const byId = planRerun({ id: 'r1', red, image: { url: 'redlab/debian-python:12', id } });
    expect(byId.red.container.settings.image.url).toBe(id);
    expect(byId.note).toMatch(/redlab\/debian-python:12 pinned by image ID/);
    expect((byId.red as unknown as typeof red).inputs).toEqual({ samples: 400 });
    // The record itself is left as it was.
    expect(red.container.settings.image.url).toBe('redlab/debian-python:12');
  });

  it('says when the run recorded no image to pin', () => {
    expect(pinnedImageOf(undefined)).toBeUndefined();
    expect(pinnedImageOf({ url: 'x', id: 'not-an-id' })).toBeUndefined();
    const plan = planRerun({ id: 'r2', red, image: undefined });
    expect(plan.pinnedImage).toBeUndefined();
    expect(plan.note).toMatch(/no image digest/);
  });
});

describe('one launch at a time', () => {
  it('ignores a second click while a launch is going', async () => {
    const guard = new LaunchGuard();
    let launches = 0;
    let release!: () => void;
    const launch = () =>
      new Promise<string>(resolve => {
        launches++;
        release = () => resolve(`run-${launches}`);
      });
    const first = guard.run('Starting the run…', launch);
    const second = guard.run('Starting the run…', launch);
    expect(guard.busy).toBe('Starting the run…');
    await expect(second).resolves.toBeUndefined();
    release();
    await expect(first).resolves.toBe('run-1');
    expect(guard.busy).toBeNull();
    expect(launches).toBe(1);
    // Afterwards a click launches again, also after a failed launch.
    await expect(guard.run('x', () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(guard.busy).toBeNull();
  });
});

describe('an imported RED file is the experiment it is', () => {
  const text = fs.readFileSync(path.join(REPO, 'binder', 'demo', 'grep.red.yml'), 'utf8');
  const open = (t = text) => {
    const loaded = loadRed(t);
    return new RedFileModel('binder/demo/grep.red.yml', loaded.red, loaded.floatPaths);
  };

  it('shows its command, inputs, outputs and RAM as the file has them', () => {
    const m = open();
    expect(m.baseCommand).toBe('grep');
    expect(m.commandLine).toMatch(/^grep .*QU .*\/cc\/inputs\/text_file\/in\.txt/);
    expect(m.commandLine).toContain('-B 1');
    expect(m.inputs.map(i => [i.key, i.kind, i.text])).toEqual([
      ['query_term', 'value', 'QU'],
      ['text_file', 'local-path', 'data/in.txt'],
      ['before_context', 'value', '1']
    ]);
    expect(m.outputs).toEqual([{ key: 'matches', type: 'stdout', what: 'stdout → matches.txt' }]);
    expect(m.ramMb).toBe(256);
    expect(m.image).toBe('redlab/busybox:1');
    expect(m.isValid).toBe(true);
    expect(m.yaml).toMatch(/baseCommand: grep/);
    expect(m.yaml).toMatch(/ram: 256/);
  });

  it('changes values, paths, image and RAM where sensible, and says what is wrong', () => {
    const m = open();
    m.setInputText('query_term', 'fox');
    m.setInputText('before_context', '');
    m.setInputPath('text_file', 'data/other.txt');
    expect(m.commandLine).toMatch(/^grep fox \/cc\/inputs\/text_file\/in\.txt$/);
    expect(m.yaml).toContain('path: data/other.txt');
    m.setInputText('before_context', 'two');
    expect(m.issuesFor('input:before_context')[0].message).toMatch(/whole number/);
    expect(m.isValid).toBe(false);
    m.setInputText('before_context', '2');
    expect(m.isValid).toBe(true);
    m.setImage('Not A Valid Image!!');
    expect(m.issuesFor('image')[0]).toMatchObject({ severity: 'error', message: expect.stringMatching(/contains spaces/) });
    m.setImage('redlab/busybox:1');
    m.setRamText('0');
    expect(m.issuesFor('ramMb')[0].message).toMatch(/at least/);
    expect(m.yaml).toMatch(/ram: 256/);
    m.setRamText('');
    expect(m.ramMb).toBeUndefined();
    expect(m.yaml).not.toMatch(/ram:/);
    expect(m.isValid).toBe(true);
  });

  it('never shows a RAM of 0 for a file without one', () => {
    const m = open(text.replace(/, ram: 256|\n {4}ram: 256/, ''));
    expect(m.ramMb).toBeUndefined();
    expect(m.yaml).not.toMatch(/ram: 0/);
  });
});

describe('why Run is off', () => {
  it('names the first blocking problem and its field', () => {
    const model = experiment();
    model.setImage('Not A Valid Image!!');
    const why = runBlocker({ launching: null, connected: true, issues: model.issues });
    expect(why).toMatch(/^Fix Image first: image "Not A Valid Image!!" contains spaces/);
    model.setImage('redlab/debian-python:12');
    expect(runBlocker({ launching: null, connected: true, issues: model.issues })).toBeUndefined();
    expect(runBlocker({ launching: null, connected: false, bridgeMessage: 'The RED Lab bridge is not running.', issues: [] })).toMatch(/bridge is not running/);
    expect(runBlocker({ launching: 'Starting the run…', connected: true, issues: [] })).toBe('Starting the run…');
  });
});

describe('history rows', () => {
  it('show the values a run used', () => {
    const model = experiment();
    model.setParamText('samples', '400');
    expect(runValues(model.red)).toBe('samples=400 · noise=0.5');
    expect(runValues(loadRed(fs.readFileSync(path.join(REPO, 'binder', 'demo', 'grep.red.yml'), 'utf8')).red)).toBe('query_term=QU · text_file=in.txt · before_context=1');
    expect(runValues(undefined)).toBeUndefined();
  });
});
