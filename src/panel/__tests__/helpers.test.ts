import type { ExperimentDraft } from '../../notebook/types';
import type { RunSummary } from '../../red';
import { applyStoredExperiment, readStoredExperiment, toStoredExperiment } from '../draft-metadata';
import { applyBuildLine, buildFailureSummary, startBuild } from '../image-build';
import { splitNdjson } from '../ndjson';
import { baseOf, dirOf, joinPath, looksLikeRedFile, redPathFor, relativePath } from '../paths';
import { gpuLabel, latestRunning, runDurationMs, runsOfNotebook } from '../run-history';
import { SessionVariables } from '../session-variables';

describe('paths', () => {
  it('finds the RED file and folders of a notebook', () => {
    expect(redPathFor('demo/analysis.ipynb')).toBe('demo/analysis.red.yml');
    expect(redPathFor('top.ipynb')).toBe('top.red.yml');
    expect(dirOf('a/b/c.ipynb')).toBe('a/b');
    expect(dirOf('c.ipynb')).toBe('');
    expect(baseOf('a/b/c.ipynb')).toBe('c.ipynb');
    expect(joinPath('a/b', '../c/./d')).toBe('a/c/d');
  });

  it('makes a selected file relative to the notebook folder', () => {
    expect(relativePath('demo', 'demo/data/in.txt')).toBe('data/in.txt');
    expect(relativePath('demo/sub', 'shared/x.csv')).toBe('../../shared/x.csv');
    expect(relativePath('', 'data/x.csv')).toBe('data/x.csv');
  });

  it('knows RED file names', () => {
    expect(looksLikeRedFile('x/exp.red.yml')).toBe(true);
    expect(looksLikeRedFile('exp.red')).toBe(true);
    expect(looksLikeRedFile('exp.json')).toBe(true);
    expect(looksLikeRedFile('notebook.ipynb')).toBe(false);
  });
});

describe('image build progress', () => {
  it('splits NDJSON chunks at line ends', () => {
    let r = splitNdjson('', '{"type":"build-progress","line":"Step 1/2 : FROM x","step":"Step 1/2 : FROM x","stepIndex":1,"stepCount":2}\n{"type":"build-pro');
    expect(r.values).toHaveLength(1);
    r = splitNdjson(r.rest, 'gress","line":"ok"}\n');
    expect(r.values).toEqual([{ type: 'build-progress', line: 'ok' }]);
    expect(r.rest).toBe('');
  });

  it('folds progress, result and error lines', () => {
    let s = startBuild();
    s = applyBuildLine(s, { type: 'build-progress', line: 'Step 1/2 : FROM x', step: 'Step 1/2 : FROM x', stepIndex: 1, stepCount: 2 });
    s = applyBuildLine(s, { type: 'build-progress', line: 'Collecting numpy' });
    expect(s).toMatchObject({ status: 'running', stepIndex: 1, stepCount: 2, lines: ['Step 1/2 : FROM x', 'Collecting numpy'] });
    expect(applyBuildLine(s, { type: 'result', tag: 'redlab-build:abc', id: 'sha256:1', cached: true })).toMatchObject({ status: 'succeeded', tag: 'redlab-build:abc', cached: true });
    expect(applyBuildLine(s, { type: 'error', message: 'image build failed at Step 2/2', output: ['E: no such package'] })).toMatchObject({
      status: 'failed',
      error: 'image build failed at Step 2/2',
      lines: ['Step 1/2 : FROM x', 'Collecting numpy', 'E: no such package']
    });
  });

  it("sums a failure up with the builder's advice when there is one", () => {
    const failed = applyBuildLine(startBuild(), { type: 'error', message: 'image build failed at Step 3/4 : RUN if … (very long)', output: ['redlab: requirements.txt needs pip in the base image', 'Removing intermediate container 3a3'] });
    expect(buildFailureSummary(failed)).toBe('requirements.txt needs pip in the base image');
    expect(buildFailureSummary({ status: 'failed', lines: [], error: 'x'.repeat(300) })).toHaveLength(241);
  });
});

describe('run history', () => {
  const run = (id: string, notebookPath: string, createdAt: string, state: RunSummary['state'], finishedAt?: string): RunSummary => ({
    id,
    createdAt,
    updatedAt: finishedAt ?? createdAt,
    ...(finishedAt ? { finishedAt } : {}),
    state,
    options: { notebookPath },
    batchCount: 1,
    lastSeq: 3
  });
  const runs = [
    run('a', 'x.ipynb', '2026-01-01T00:00:00.000Z', 'succeeded', '2026-01-01T00:00:05.000Z'),
    run('b', 'y.ipynb', '2026-01-01T00:01:00.000Z', 'running'),
    run('c', 'x.ipynb', '2026-01-01T00:02:00.000Z', 'running'),
    run('d', 'x.ipynb', '2026-01-01T00:03:00.000Z', 'failed', '2026-01-01T00:03:01.000Z')
  ];

  it("lists this notebook's runs, newest first", () => {
    expect(runsOfNotebook(runs, 'x.ipynb').map(r => r.id)).toEqual(['d', 'c', 'a']);
    expect(latestRunning(runs, 'x.ipynb')?.id).toBe('c');
    expect(latestRunning(runs, 'z.ipynb')).toBeUndefined();
  });

  it('measures durations, running ones up to now', () => {
    expect(runDurationMs(runs[0])).toBe(5000);
    expect(runDurationMs(runs[2], Date.parse('2026-01-01T00:02:30.000Z'))).toBe(30000);
  });

  it('labels GPU requests', () => {
    expect(gpuLabel({ vendor: 'nvidia', count: 2 })).toBe('2 GPU');
    expect(gpuLabel({ vendor: 'nvidia', devices: [{ vramMin: 8000 }] })).toBe('1 GPU ≥ 8000 MB');
    expect(gpuLabel(undefined)).toBeUndefined();
  });
});

describe('session variables', () => {
  it('asks only for what this session has no value for, and keeps values in memory', () => {
    const vars = new SessionVariables();
    const used = [
      { name: 'user', protected: false, paths: ['inputs.d.connector.access.auth.username'] },
      { name: 'pw', protected: true, paths: ['inputs.d.connector.access.auth.password'] }
    ];
    expect(vars.missing(used).map(v => v.name)).toEqual(['user', 'pw']);
    vars.set('pw', 'secret');
    expect(vars.missing(used).map(v => v.name)).toEqual(['user']);
    expect(vars.valuesFor(used)).toEqual({ pw: 'secret' });
    vars.forget();
    expect(vars.has('pw')).toBe(false);
  });
});

describe('the experiment kept in the notebook', () => {
  const inferred: ExperimentDraft = {
    notebookPath: 'walk.ipynb',
    runnerPath: '_redlab/redlab_nbrun.py',
    image: 'default:1',
    ramMb: 1024,
    parameters: [
      { name: 'samples', type: 'int', default: 200 },
      { name: 'title', type: 'string', default: 'x' }
    ],
    values: { samples: 200, title: 'x' },
    inputs: [],
    outputs: [],
    engine: 'docker'
  };

  it('comes back as the draft of a reopened notebook', () => {
    const ran: ExperimentDraft = { ...inferred, image: 'other:2', ramMb: 2048, gpus: { count: 1 }, values: { samples: 400, title: 7 as unknown as string, gone: 1 }, outputs: [{ name: 'walk', glob: 'walk.svg', kind: 'File', optional: false }] };
    const nb = JSON.parse(JSON.stringify({ metadata: { redlab: { experiment: toStoredExperiment(ran) } } }));
    const stored = readStoredExperiment(nb)!;
    const draft = applyStoredExperiment(inferred, stored);
    expect(draft.image).toBe('other:2');
    expect(draft.gpus).toEqual({ count: 1 });
    expect(draft.outputs.map(o => o.glob)).toEqual(['walk.svg']);
    // A value of the wrong type, and a parameter the notebook no longer has, are left out.
    expect(draft.values).toEqual({ samples: 400, title: 'x' });
    expect(readStoredExperiment({ metadata: {} })).toBeUndefined();
  });

  it('never holds a secret value: every connector secret is kept as its {{variable}}, in inputs and outputs', () => {
    const ran: ExperimentDraft = {
      ...inferred,
      inputs: [
        { name: 'tiles', kind: 'Directory', connector: 'red-connector-ssh', access: { host: 'lab', port: 22, auth: { username: 'ann', privateKey: '-----BEGIN OPENSSH PRIVATE KEY-----\nabc', passphrase: 'open sesame' }, dirPath: '/tiles' } },
        { name: 'web', kind: 'File', connector: 'red-connector-http', access: { url: 'https://x/y', auth: { username: 'ann', password: '{{web_pw}}' } } },
        { name: 'bucket', kind: 'File', connector: 'redlab-connector-s3', access: { bucket: 'b', key: 'k', auth: { accessKeyId: 'AKIA', secretAccessKey: 'wJalrXUtnFEMI' } } }
      ],
      outputs: [{ name: 'weights', glob: 'w.h5', kind: 'File', optional: false, send: { connector: 'red-connector-ftp', access: { url: 'ftp://lab/w.h5', auth: { username: 'ann', password: 'hunter2' } } } }]
    };
    const stored = toStoredExperiment(ran);
    const text = JSON.stringify(stored);
    for (const secret of ['BEGIN OPENSSH', 'open sesame', 'wJalrXUtnFEMI', 'hunter2']) expect(text).not.toContain(secret);
    expect(stored.inputs[0].access.auth).toEqual({ username: 'ann', privateKey: '{{tiles_private_key}}', passphrase: '{{tiles_passphrase}}' });
    // A {{variable}} the user named stays as it is; the rest of the access too.
    expect(stored.inputs[1].access).toEqual({ url: 'https://x/y', auth: { username: 'ann', password: '{{web_pw}}' } });
    expect(stored.inputs[2].access.auth).toEqual({ accessKeyId: 'AKIA', secretAccessKey: '{{bucket_secret_access_key}}' });
    expect(stored.outputs[0].send).toEqual({ connector: 'red-connector-ftp', access: { url: 'ftp://lab/w.h5', auth: { username: 'ann', password: '{{weights_password}}' } } });
    // Read back: where the output is sent comes back; a malformed one is dropped.
    const back = readStoredExperiment({ metadata: { redlab: { experiment: { ...JSON.parse(text), outputs: [...JSON.parse(text).outputs, { name: 'bad', glob: 'b', kind: 'File', optional: false, send: 'ftp://x' }] } } } })!;
    expect(back.outputs[0].send?.connector).toBe('red-connector-ftp');
    expect(back.outputs[1]).toEqual({ name: 'bad', glob: 'b', kind: 'File', optional: false });
  });
});
