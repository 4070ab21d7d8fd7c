// The history's facts of a run started here: the runs stream lists the run before its
// launch remembers what it asked for; a record read that answers after that does not
// replace what was remembered (the values in the order the experiment gives them).
import type { BridgeApi } from '../../api';
import type { RunRecord } from '../../red';
import { RedPanelModel } from '../panel-model';
import { runValues } from '../run-history';

test('a record read that answers after rememberRun leaves the remembered facts', async () => {
  let answer: (r: RunRecord) => void = () => undefined;
  const api = { get: () => new Promise<RunRecord>(r => (answer = r)) } as unknown as BridgeApi;
  const panel = new RedPanelModel(api, () => ({ image: 'redlab/debian-python:12', ramMb: 1024 }));
  let changes = 0;
  panel.changed.connect(() => changes++);
  const loading = panel.loadRunFacts(['R1']);
  panel.rememberRun('R1', { image: 'redlab/busybox:1', values: 'query_term=QU · before_context=1' });
  expect(changes).toBe(1);
  answer({ id: 'R1', red: { inputs: { before_context: 1, query_term: 'QU' }, container: { settings: { image: { url: 'redlab/busybox:1' } } } } } as unknown as RunRecord);
  await loading;
  expect(panel.runFacts('R1')).toEqual({ image: 'redlab/busybox:1', values: 'query_term=QU · before_context=1' });
});

test('a run not remembered gets its facts from the record', async () => {
  const red = { inputs: { n: 2 }, container: { settings: { image: { url: 'img:1' }, gpus: { vendor: 'nvidia', count: 2 } } } };
  const api = { get: async () => ({ id: 'R2', image: { url: 'img:1' }, red }) } as unknown as BridgeApi;
  const panel = new RedPanelModel(api, () => ({ image: 'redlab/debian-python:12', ramMb: 1024 }));
  await panel.loadRunFacts(['R2']);
  expect(panel.runFacts('R2')).toEqual({ image: 'img:1', gpus: '2 GPU', values: runValues(red) });
});
