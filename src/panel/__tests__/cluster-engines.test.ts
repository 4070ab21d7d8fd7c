// The panel and the cluster engines (issue 13): a cluster's room in the engine's label, the
// Cluster section's settings going into the draft and the RED's execution (only what is
// filled; none for docker/process), time limits refused in the validator's words with the
// fix, a RED's own engine chosen when the bridge offers it and said plainly when it does not,
// and the settings kept in the notebook and through an import. Pure parts, real models.
import { draftExecution, executionToDraft } from '../../notebook/draft-execution';
import { draftToRed, inferDraft, redToDraft } from '../../notebook/infer';
import type { ExperimentDraft } from '../../notebook/types';
import { timeLimitProblem, validateRed, type EngineInfo, type HealthInfo, type Red } from '../../red';
import { clusterProblems, withClusterText } from '../cluster';
import { applyStoredExperiment, readStoredExperiment, toStoredExperiment } from '../draft-metadata';
import { capacityText, engineLabel, engineView, missingEngineMessage, requiredEngine } from '../engines';
import { ExperimentModel } from '../experiment-model';
import { clusterField, fieldForIssuePath } from '../fields';
import { runBlocker } from '../run-blocker';
import { docker, kubernetes, processEngine, slurm } from './engine-fixtures';

const health = (engines: EngineInfo[], defaultEngine = engines[0]?.name ?? ''): HealthInfo => ({
  status: 'ok',
  version: '1',
  docker: { reachable: true },
  gpus: [],
  engines,
  defaultEngine,
  runs: { queued: 0, running: 0, parallel: 1 }
});

const NOTEBOOK = {
  nbformat: 4,
  nbformat_minor: 5,
  metadata: { kernelspec: { name: 'python3', display_name: 'Python 3', language: 'python' } },
  cells: [
    { cell_type: 'code', id: 'p', metadata: { tags: ['parameters'] }, source: 'samples = 200\n', outputs: [], execution_count: null },
    { cell_type: 'code', id: 'w', metadata: {}, source: 'print(samples)', outputs: [], execution_count: null }
  ]
};

const draft = (): ExperimentDraft => inferDraft(NOTEBOOK, { notebookPath: 'demo/walk.ipynb', defaults: { image: 'redlab/debian-python:12', ramMb: 1024 } }).draft;

describe('a cluster engine in the select', () => {
  it("says the cluster's room: nodes (up), GPUs free; its name once", () => {
    expect(engineLabel(slurm)).toBe('slurm 22.05.8 \u2014 1 node, 2 of 2 GPUs free');
    expect(engineLabel(kubernetes)).toBe('kubernetes v1.31.14 \u2014 2 of 3 nodes up, no GPUs');
    expect(capacityText({ nodes: 4, nodesUp: 4, gpus: 1, gpusFree: 0 })).toBe('4 nodes, 0 of 1 GPU free');
  });

  it('an engine without capacity shows as before', () => {
    expect(engineLabel(docker)).toBe('docker 26.1.5');
    expect(engineLabel(processEngine)).toBe('process (not isolated)');
  });
});

describe('the Cluster settings into the draft and the RED', () => {
  it('slurm: only the filled fields go into execution.settings, trimmed; emptied ones go', () => {
    const m = new ExperimentModel(draft());
    m.setEngine('slurm');
    m.setClusterText('slurm', 'partition', ' debug ');
    m.setClusterText('slurm', 'account', 'lab');
    m.setClusterText('slurm', 'timeLimit', '01:30:00');
    m.setClusterText('slurm', 'workDir', '/shared/redlab');
    m.setClusterText('slurm', 'account', '');
    expect(m.red?.execution).toEqual({ engine: 'slurm', settings: { partition: 'debug', timeLimit: '01:30:00', workDir: '/shared/redlab' } });
    expect(m.yaml).toMatch(/execution:\n {2}engine: slurm\n {2}settings:\n {4}partition: debug\n/);
    expect(m.errorCount).toBe(0);
    expect(m.isValid).toBe(true);
    // A RED Lab extension, said at the engine as a warning (an export for Curious Containers would refuse it).
    expect(m.issuesFor('engine')).toEqual([expect.objectContaining({ severity: 'warning', message: expect.stringContaining('slurm is a RED Lab extension') })]);
  });

  it('kubernetes: namespace and time limit; no settings at all is an empty object', () => {
    const d = { ...draft(), engine: 'kubernetes' };
    expect(draftToRed(d).execution).toEqual({ engine: 'kubernetes', settings: {} });
    const m = new ExperimentModel(d);
    m.setClusterText('kubernetes', 'namespace', 'ml');
    m.setClusterText('kubernetes', 'timeLimit', '00:30:00');
    expect(m.red?.execution).toEqual({ engine: 'kubernetes', settings: { namespace: 'ml', timeLimit: '00:30:00' } });
    expect(validateRed(m.red!).filter(i => i.severity === 'error')).toEqual([]);
  });

  it('docker, process or no choice: the RED says ccfaice as before; the cluster settings are kept for a return', () => {
    const m = new ExperimentModel(draft());
    expect(m.red?.execution).toEqual({ engine: 'ccfaice', settings: {} });
    m.setClusterText('slurm', 'partition', 'gpu');
    expect(m.draft.engine).toBe('slurm');
    for (const engine of ['docker', 'process', undefined]) {
      m.setEngine(engine);
      expect(m.red?.execution).toEqual({ engine: 'ccfaice', settings: {} });
      expect(m.issuesFor('engine')).toEqual([]);
    }
    m.setEngine('slurm');
    expect(m.red?.execution).toEqual({ engine: 'slurm', settings: { partition: 'gpu' } });
  });

  it('choosing a cluster engine, or leaving one, is an edit (kept in the notebook); docker <-> process is not', () => {
    const m = new ExperimentModel(draft());
    let edits = 0;
    m.edited.connect(() => edits++);
    m.setEngine('process');
    m.setEngine('docker');
    expect(edits).toBe(0);
    m.setEngine('slurm');
    m.setEngine('docker');
    expect(edits).toBe(2);
  });

  it('the settings of the draft, not a copy shared with the RED', () => {
    const d = { ...draft(), engine: 'slurm', cluster: { slurm: { partition: 'a' } } };
    const exec = draftExecution(d)!;
    (exec.settings as { partition?: string }).partition = 'changed';
    expect(d.cluster.slurm.partition).toBe('a');
  });
});

describe('the time limit and other settings checked at their field, with the fix', () => {
  it('a time limit is refused in parseTimeLimit\u2019s words (timeLimitProblem), naming the fix, and blocks Run', () => {
    const m = new ExperimentModel({ ...draft(), engine: 'slurm' });
    m.setClusterText('slurm', 'timeLimit', '90');
    const want = timeLimitProblem('90')!;
    expect(want.fix).toContain('"01:30:00" for 90 minutes');
    // Once: the panel's check and the validator's say the same, at the same field.
    expect(m.issuesFor(clusterField('timeLimit'))).toEqual([{ field: 'cluster:timeLimit', message: want.message, fix: want.fix, severity: 'error' }]);
    expect(m.isValid).toBe(false);
    expect(runBlocker({ launching: null, connected: true, issues: m.issues })).toBe(`Fix Cluster: Time limit first: ${want.message} (${want.fix})`);
    m.setClusterText('slurm', 'timeLimit', '02:00');
    expect(m.issuesFor(clusterField('timeLimit'))[0].message).toMatch(/is ambiguous/);
    m.setClusterText('slurm', 'timeLimit', '1-12:00:00');
    expect(m.issuesFor(clusterField('timeLimit'))).toEqual([]);
    expect(m.isValid).toBe(true);
  });

  it('clusterProblems: the time limit only, a {{variable}} left to the validator', () => {
    expect(clusterProblems({ timeLimit: '00:00:00' })).toEqual([{ key: 'timeLimit', ...timeLimitProblem('00:00:00')! }]);
    expect(clusterProblems({ timeLimit: '{{limit}}' })).toEqual([]);
    expect(clusterProblems({ partition: 'x y' })).toEqual([]);
  });

  it("the validator's problems of the other fields show at their own field: a relative shared folder, a namespace", () => {
    const m = new ExperimentModel({ ...draft(), engine: 'slurm' });
    m.setClusterText('slurm', 'workDir', 'shared/redlab');
    expect(m.issuesFor(clusterField('workDir'))).toEqual([expect.objectContaining({ severity: 'error', message: expect.stringContaining('workDir must be an absolute path'), fix: expect.stringContaining('/shared/redlab') })]);
    m.setClusterText('slurm', 'partition', 'debug; rm');
    expect(m.issuesFor(clusterField('partition'))[0].message).toBe('partition "debug; rm" is not a Slurm name');
    const k = new ExperimentModel({ ...draft(), engine: 'kubernetes' });
    k.setClusterText('kubernetes', 'namespace', 'My_NS');
    expect(k.issuesFor(clusterField('namespace'))[0].message).toMatch(/^namespace "My_NS" is not a Kubernetes name/);
    // A setting the section does not show is the engine's.
    expect(fieldForIssuePath('execution.settings.submit.host', { ...draft(), engine: 'slurm' })).toBe('engine');
  });

  it('withClusterText keeps the other engine\u2019s settings', () => {
    const d = { cluster: { kubernetes: { namespace: 'ml' } } };
    expect(withClusterText(d, 'slurm', 'partition', 'debug')).toEqual({ kubernetes: { namespace: 'ml' }, slurm: { partition: 'debug' } });
  });
});

describe("the RED's own engine", () => {
  const slurmRed = (): Red => ({ ...draftToRed(draft()), execution: { engine: 'slurm', settings: { partition: 'debug', runtime: 'charliecloud', submit: { host: 'login', user: 'ann' } } } });

  it('is chosen when the bridge offers it, over the user\u2019s choice and the default', () => {
    const h = health([docker, slurm, kubernetes], 'docker');
    expect(engineView(h, ['docker'], 'slurm').chosen?.name).toBe('slurm');
    expect(engineView(h, [], requiredEngine({ redFile: slurmRed() })).chosen?.name).toBe('slurm');
    expect(engineView(h, ['kubernetes'], requiredEngine({ draft: { engine: 'kubernetes' } })).chosen?.name).toBe('kubernetes');
    // docker or process chosen in the panel: no engine is required, the choice goes.
    expect(requiredEngine({ draft: { engine: 'process' } })).toBeUndefined();
    expect(requiredEngine({ redFile: draftToRed(draft()) })).toBeUndefined();
  });

  it('is said plainly when the bridge lacks it, with how to start it; nothing is chosen and Run waits', () => {
    const h = health([docker, processEngine]);
    const v = engineView(h, ['docker'], 'slurm');
    const message = 'this RED asks for the slurm engine, which this bridge does not have: start it with REDLAB_ENGINES=docker,process,slurm, or choose another engine to run it there without these settings';
    expect(v.missing).toEqual({ name: 'slurm', message });
    expect(v.chosen).toBeUndefined();
    expect(v.offered.map(e => e.name)).toEqual(['docker', 'process']);
    expect(runBlocker({ launching: null, connected: true, issues: [], engineMissing: v.missing?.message })).toBe(`Not here: ${message}`);
  });

  it('when the bridge has it but it cannot run now, its own error is said', () => {
    const down = { ...slurm, available: false, error: 'Slurm has no node up (n1 DOWN)' };
    expect(missingEngineMessage(health([docker, down]), 'slurm')).toBe('this RED asks for the slurm engine, which cannot run now (Slurm has no node up (n1 DOWN)): run it when the engine is back, or choose another engine to run it there without these settings');
  });

  it('an imported RED keeps its engine and all its settings (also those the section does not show)', () => {
    const { draft: d, warnings } = redToDraft(slurmRed(), 'demo/walk.ipynb');
    expect(d.engine).toBe('slurm');
    expect(d.cluster).toEqual({ slurm: { partition: 'debug', runtime: 'charliecloud', submit: { host: 'login', user: 'ann' } } });
    expect(warnings.filter(w => /runs on/.test(w))).toEqual([]);
    expect(draftToRed(d).execution).toEqual(slurmRed().execution);
    expect(executionToDraft({ engine: 'ccagency', settings: {} })).toEqual({});
    expect(redToDraft({ ...slurmRed(), execution: { engine: 'process', settings: {} } }, 'demo/walk.ipynb').warnings).toContain('the RED runs on process; the draft runs on the engine chosen in the panel');
  });

  it('the notebook keeps a cluster engine and its settings; docker or process is not kept', () => {
    const d = { ...draft(), engine: 'kubernetes', cluster: { kubernetes: { namespace: 'ml', timeLimit: '00:10:00' } } };
    const nb = { ...NOTEBOOK, metadata: { ...NOTEBOOK.metadata, redlab: { experiment: toStoredExperiment(d) } } };
    const reopened = applyStoredExperiment(draft(), readStoredExperiment(JSON.parse(JSON.stringify(nb)))!);
    expect(reopened.engine).toBe('kubernetes');
    expect(draftToRed(reopened).execution).toEqual({ engine: 'kubernetes', settings: { namespace: 'ml', timeLimit: '00:10:00' } });
    expect(toStoredExperiment({ ...draft(), engine: 'process' }).engine).toBeUndefined();
    // A notebook edited by hand: an engine that is not a cluster's, settings that are not objects.
    const odd = readStoredExperiment({ metadata: { redlab: { experiment: { ...toStoredExperiment(draft()), engine: 'docker', cluster: { slurm: 'x', kubernetes: { namespace: 'ml' } } } } } })!;
    expect(odd.engine).toBeUndefined();
    expect(odd.cluster).toEqual({ kubernetes: { namespace: 'ml' } });
  });
});
