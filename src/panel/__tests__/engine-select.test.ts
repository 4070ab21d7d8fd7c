// The RED panel as it renders (RedPanel, react-dom/server) with the real panel and bridge
// models over a fake bridge answer (GET /health): the engine select offers the available
// engines, labels the one that does not isolate runs, shows no choice for one engine, and
// the chosen engine's capabilities hide what it cannot do (GPUs, image builds, the HTTP
// connector). Markup only: the choice itself is the models' (engines.test.ts).
import * as React from 'react';
import { BridgeApi } from '../../api';
import type { BridgeClient } from '../../handler';
import { RedLabModel } from '../../model';
import type { ExperimentDraft } from '../../notebook/types';
import { draftToRed, inferDraft } from '../../notebook/infer';
import type { EngineInfo, HealthInfo, Red } from '../../red';
import { docker, kubernetes, processEngine, slurm } from './engine-fixtures';
import type { RedLabActions } from '../actions';
import { RedPanelModel } from '../panel-model';
import { RedFileModel } from '../red-file-model';
import { RedPanel } from '../views/RedPanel';

// react-dom ships no types here (no @types/react-dom): the one function used, typed.
// eslint-disable-next-line @typescript-eslint/no-var-requires
const { renderToStaticMarkup } = require('react-dom/server') as { renderToStaticMarkup(element: React.ReactElement): string };


const NOTEBOOK = {
  nbformat: 4,
  nbformat_minor: 5,
  metadata: { kernelspec: { name: 'python3', display_name: 'Python 3', language: 'python' } },
  cells: [
    { cell_type: 'code', id: 'p', metadata: { tags: ['parameters'] }, source: 'samples = 200\n', outputs: [], execution_count: null },
    { cell_type: 'code', id: 'w', metadata: {}, source: 'print(samples)', outputs: [], execution_count: null }
  ]
};

/** The panel for a notebook, after the bridge's health said `engines` (default: the first). */
async function renderPanel(engines: EngineInfo[], opts: { defaultEngine?: string; chosen?: string; cluster?: ExperimentDraft['cluster']; redFile?: Red } = {}): Promise<string> {
  const health: HealthInfo = {
    status: 'ok',
    version: '1',
    docker: { reachable: true, version: '26.1.5' },
    gpus: [],
    engines,
    defaultEngine: opts.defaultEngine ?? engines[0].name,
    runs: { queued: 0, running: 0, parallel: 1 }
  };
  const client = {
    request: async (endpoint: string) => {
      if (endpoint === 'health') return health;
      if (endpoint.startsWith('runs')) return { runs: [] };
      throw new Error(`unexpected ${endpoint}`);
    },
    wsUrl: (endpoint: string) => `ws://bridge/${endpoint}`
  } as unknown as BridgeClient;
  const redlab = new RedLabModel(client);
  expect((await redlab.refreshHealth()).kind).toBe('connected');
  const panel = new RedPanelModel(new BridgeApi(client), () => ({ image: 'redlab/debian-python:12', ramMb: 1024 }));
  panel.setNotebook({ path: 'demo/walk.ipynb', toJSON: () => NOTEBOOK });
  if (opts.chosen) panel.experiment!.setEngine(opts.chosen);
  if (opts.cluster) panel.experiment!.replace({ ...panel.experiment!.draft, cluster: opts.cluster });
  if (opts.redFile) panel.openRedFile('demo/walk.ipynb', new RedFileModel('demo/job.red.yml', opts.redFile));
  // The actions run on clicks only: a render calls none.
  const html = renderToStaticMarkup(React.createElement(RedPanel, { panel, redlab, actions: {} as RedLabActions }));
  redlab.dispose();
  return html;
}

/** The element with data-testid `id` (its opening tag and what it holds, for elements that close). */
function byTestId(html: string, id: string): string | undefined {
  const m = new RegExp(`<(\\w+)[^>]*data-testid="${id}"[^>]*>`).exec(html);
  if (!m) return undefined;
  const end = html.indexOf(`</${m[1]}>`, m.index);
  return end < 0 ? m[0] : html.slice(m.index, end + m[1].length + 3);
}

/** The options of a select: value, text, selected. */
const options = (select: string) => [...select.matchAll(/<option value="([^"]*)"( selected="")?>([^<]*)<\/option>/g)].map(m => ({ value: m[1], label: m[3], selected: !!m[2] }));

test('docker and process available: both offered in a select, process labelled not isolated, the chosen one selected', async () => {
  const html = await renderPanel([docker, processEngine]);
  const select = byTestId(html, 'redlab-engine')!;
  expect(select).toMatch(/^<select/);
  expect(options(select)).toEqual([
    { value: 'docker', label: 'docker 26.1.5', selected: true },
    { value: 'process', label: 'process (not isolated)', selected: false }
  ]);
  // Docker chosen: its sections are all there, and no note.
  expect(byTestId(html, 'redlab-gpu-mode')).toBeDefined();
  expect(byTestId(html, 'redlab-build-image')).toBeDefined();
  expect(byTestId(html, 'redlab-add-http-input')).not.toMatch(/disabled/);
  expect(byTestId(html, 'redlab-engine-note')).toBeUndefined();
});

test('process chosen: no GPU controls, no image build, no HTTP inputs, and its note said plainly as a warning', async () => {
  for (const html of [await renderPanel([docker, processEngine], { chosen: 'process' }), await renderPanel([docker, processEngine], { defaultEngine: 'process' })]) {
    expect(options(byTestId(html, 'redlab-engine')!).find(o => o.selected)?.value).toBe('process');
    expect(byTestId(html, 'redlab-gpu-mode')).toBeUndefined();
    expect(byTestId(html, 'redlab-gpu-inventory')).toBeUndefined();
    expect(byTestId(html, 'redlab-build-image')).toBeUndefined();
    expect(byTestId(html, 'redlab-add-http-input')).toMatch(/disabled=""/);
    const note = byTestId(html, 'redlab-engine-note')!;
    expect(note).toContain('not isolated: runs on this machine without a container (no image, no limits)');
    expect(note).toMatch(/class="jp-RedLab-engine-note jp-RedLab-field-error"/);
  }
});

test('one engine: no choice, its name said; an engine that cannot run now is listed with why, not offered', async () => {
  const only = await renderPanel([docker]);
  expect(byTestId(only, 'redlab-engine')).toBe('<span class="jp-RedLab-muted" data-testid="redlab-engine">docker 26.1.5</span>');
  expect(only).not.toContain('<select class="jp-mod-styled jp-RedLab-select" data-testid="redlab-engine"');

  const down: EngineInfo = { ...docker, available: false, error: 'cannot reach /var/run/docker.sock' };
  const html = await renderPanel([down, processEngine], { defaultEngine: 'docker' });
  expect(byTestId(html, 'redlab-engine')).toBe('<span class="jp-RedLab-muted" data-testid="redlab-engine">process (not isolated)</span>');
  expect(byTestId(html, 'redlab-engine-unavailable')).toBe('<div class="jp-RedLab-muted" data-testid="redlab-engine-unavailable">docker: not available (cannot reach /var/run/docker.sock)</div>');
  expect(byTestId(html, 'redlab-gpu-mode')).toBeUndefined();
});

test("a cluster engine: its room in the select, the cluster's GPUs under GPUs, and the Cluster section with the draft's settings", async () => {
  const html = await renderPanel([docker, slurm, kubernetes], { chosen: 'slurm', cluster: { slurm: { partition: 'debug', timeLimit: '90' } } });
  expect(options(byTestId(html, 'redlab-engine')!)).toEqual([
    { value: 'docker', label: 'docker 26.1.5', selected: false },
    { value: 'slurm', label: 'slurm 22.05.8 \u2014 1 node, 2 of 2 GPUs free', selected: true },
    { value: 'kubernetes', label: 'kubernetes v1.31.14 \u2014 2 of 3 nodes up, no GPUs', selected: false }
  ]);
  expect(byTestId(html, 'redlab-gpu-inventory')).toContain('The cluster now: 1 node, 2 of 2 GPUs free');
  const section = byTestId(html, 'redlab-cluster-section')!;
  expect(section).toContain('Cluster (Slurm)');
  expect(byTestId(html, 'redlab-cluster-partition')).toMatch(/value="debug"/);
  expect(byTestId(html, 'redlab-cluster-account')).toMatch(/value=""/);
  expect(byTestId(html, 'redlab-cluster-workDir')).toBeDefined();
  expect(byTestId(html, 'redlab-cluster-namespace')).toBeUndefined();
  // The time limit's problem under it, with the fix; Run says it too.
  expect(section).toContain('time limit &quot;90&quot; has no unit');
  expect(section).toContain('&quot;01:30:00&quot; for 90 minutes');
  expect(byTestId(html, 'redlab-run-blocked')).toContain('Fix Cluster: Time limit first');

  const k8s = await renderPanel([docker, slurm, kubernetes], { chosen: 'kubernetes' });
  expect(byTestId(k8s, 'redlab-cluster-section')).toContain('Cluster (Kubernetes)');
  expect(byTestId(k8s, 'redlab-cluster-namespace')).toBeDefined();
  expect(byTestId(k8s, 'redlab-cluster-partition')).toBeUndefined();
  // docker: no Cluster section.
  expect(byTestId(await renderPanel([docker, slurm]), 'redlab-cluster-section')).toBeUndefined();
});

test('the RED asks for slurm and the bridge has none: said plainly with how to start it, the select shows it unavailable, Run waits', async () => {
  const html = await renderPanel([docker, processEngine], { chosen: 'slurm', cluster: { slurm: { partition: 'debug' } } });
  const select = byTestId(html, 'redlab-engine')!;
  expect(select).toMatch(/^<select[^>]*><option value="slurm" disabled="" selected="">slurm \(not available here\)<\/option>/);
  // The engines there are stay choosable (neither selected).
  expect(options(select)).toEqual([
    { value: 'docker', label: 'docker 26.1.5', selected: false },
    { value: 'process', label: 'process (not isolated)', selected: false }
  ]);
  const said = 'this RED asks for the slurm engine, which this bridge does not have: start it with REDLAB_ENGINES=docker,process,slurm';
  expect(byTestId(html, 'redlab-engine-missing')).toContain(said);
  expect(byTestId(html, 'redlab-run-blocked')).toContain(`Not here: ${said}`);
  expect(byTestId(html, 'redlab-run-button')).toMatch(/disabled=""/);
  // Its settings stay shown (and in the RED).
  expect(byTestId(html, 'redlab-cluster-partition')).toMatch(/value="debug"/);
});

test('an imported RED file asking for kubernetes: said plainly when the bridge lacks it, Run waits; nothing said when it has it', async () => {
  const draft = inferDraft(NOTEBOOK, { notebookPath: 'demo/walk.ipynb', defaults: { image: 'redlab/debian-python:12', ramMb: 1024 } }).draft;
  const red: Red = { ...draftToRed(draft), execution: { engine: 'kubernetes', settings: { namespace: 'ml' } } };
  const html = await renderPanel([docker], { redFile: red });
  expect(byTestId(html, 'redlab-red-file')).toBeDefined();
  expect(byTestId(html, 'redlab-engine-missing')).toContain('this RED asks for the kubernetes engine, which this bridge does not have: start it with REDLAB_ENGINES=docker,kubernetes');
  expect(byTestId(html, 'redlab-run-button')).toMatch(/disabled=""/);
  const there = await renderPanel([docker, kubernetes], { redFile: red });
  expect(byTestId(there, 'redlab-engine-missing')).toBeUndefined();
  expect(byTestId(there, 'redlab-run-blocked')).toBeUndefined();
});
