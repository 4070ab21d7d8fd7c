// An optional parameter (`limit: int | None = 3`) emptied in the panel is None in the run,
// not the notebook's default: the draft holds null, and the RED passes nothing, which the
// runner (told the type `int?` by --redlab-types) reads as None.
import { ExperimentModel } from '../../panel/experiment-model';
import { draftToRed, inferDraft } from '../infer';

test('an emptied optional parameter runs as None', () => {
  const nb = {
    nbformat: 4,
    nbformat_minor: 5,
    metadata: { kernelspec: { name: 'python3', language: 'python' } },
    cells: [{ cell_type: 'code', metadata: { tags: ['parameters'] }, source: 'limit: int | None = 3\nn = 1', outputs: [], execution_count: null }]
  };
  const { draft } = inferDraft(nb, { notebookPath: 'o.ipynb', defaults: { image: 'redlab/debian-python:12', ramMb: 256 } });
  const model = new ExperimentModel(draft);
  expect(draftToRed(model.draft).inputs.limit).toBe(3);
  model.setParamText('limit', '');
  expect(model.draft.values.limit).toBeNull();
  const red = draftToRed(model.draft);
  expect(red.inputs.limit).toBeUndefined();
  expect(red.cli.inputs.limit.type).toBe('int?');
  expect(red.inputs.redlab_types).toBe('limit=int?,n=int');
  model.setParamText('limit', '5');
  expect(draftToRed(model.draft).inputs.limit).toBe(5);
});
