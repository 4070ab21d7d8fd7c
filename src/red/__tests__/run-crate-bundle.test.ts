// withBundledInputs: a crate whose local inputs travel in its bundle describes them as
// files of the crate, and RED Lab reads it back as it does any crate.
import { buildRunCrate, parseRunCrate, runCrateProblems, type RunCrateBuildInput } from '../run-crate';
import { bundledInputPath, withBundledInputs } from '../run-crate-bundle';
import type { Red } from '../types';

const red = {
  redVersion: '9',
  cli: {
    cwlVersion: 'v1.0',
    class: 'CommandLineTool',
    baseCommand: ['sh', '-c', 'cat "$0" > out.txt'],
    inputs: { text: { type: 'File', inputBinding: { position: 0 } }, folder: { type: 'Directory' }, page: { type: 'File' }, n: { type: 'int' } },
    outputs: { out: { type: 'File', outputBinding: { glob: 'out.txt' } } }
  },
  inputs: {
    text: { class: 'File', connector: { command: 'redlab-connector-local', access: { path: '/data/in put.txt' } } },
    folder: { class: 'Directory', connector: { command: 'redlab-connector-local', access: { path: 'rel/dir' } } },
    page: { class: 'File', connector: { command: 'red-connector-http', access: { url: 'https://example.org/page.html' } } },
    n: 3
  },
  outputs: {},
  container: { engine: 'docker', settings: { image: { url: 'busybox:1' }, ram: 256 } }
} as unknown as Red;

const build: RunCrateBuildInput = {
  red,
  run: {
    state: 'succeeded',
    command: ['sh', '-c', 'cat "$0" > out.txt', '/cc/inputs/text/in put.txt'],
    exitCode: 0,
    inputs: {
      text: { path: '/work/pinned/in put.txt', class: 'File', size: 5, sha256: 'a'.repeat(64) },
      folder: { path: '/work/pinned/dir', class: 'Directory', size: 7, sha256: 'b'.repeat(64) },
      page: { path: '/work/page.html', class: 'File', size: 9, sha256: 'c'.repeat(64) }
    },
    outputs: { out: { path: '/out/out.txt', class: 'File', size: 5, sha256: 'a'.repeat(64) } }
  },
  image: { url: 'busybox:1', id: 'sha256:' + 'd'.repeat(64) },
  engine: { name: 'docker', version: '27.5.1', isolated: true },
  outdir: '/out',
  startedAt: Date.UTC(2026, 11, 1, 10, 0, 0),
  endedAt: Date.UTC(2026, 11, 1, 10, 0, 5),
  redSource: '/home/ada/exp/run.red.yml',
  agent: { name: 'Ada Lovelace' }
};

describe('withBundledInputs', () => {
  const crate = buildRunCrate(build);
  const before = parseRunCrate(crate);
  const local = before.inputs.filter(i => i.path);
  const mapping = Object.fromEntries(local.map(i => [i.id, bundledInputPath(i)]));
  const bundled = withBundledInputs(crate, mapping);
  const after = parseRunCrate(bundled);

  test('the local inputs are the crate files inputs/<key>/<name>; the remote one stays as it was', () => {
    expect(Object.values(mapping)).toEqual(['inputs/text/in put.txt', 'inputs/folder/dir']);
    expect(after.inputs.map(i => [i.key, i.id, i.class, i.sha256])).toEqual([
      ['text', 'inputs/text/in%20put.txt', 'File', 'a'.repeat(64)],
      ['folder', 'inputs/folder/dir/', 'Directory', 'b'.repeat(64)],
      ['page', before.inputs[2].id, 'File', 'c'.repeat(64)]
    ]);
    expect(after.inputs[2]).toEqual(before.inputs[2]);
  });

  test('every reference follows, the root lists them, the crate stays whole and reads back as before', () => {
    const graph = (bundled as { '@graph': Record<string, unknown>[] })['@graph'];
    const text = JSON.stringify(bundled);
    for (const old of Object.keys(mapping)) {
      // Gone, but for the isBasedOn that keeps a file:// id (where the input was when it ran).
      const refs = text.split(JSON.stringify({ '@id': old })).length - 1;
      expect([old, refs]).toEqual([old, old.startsWith('file://') ? 1 : 0]);
      expect(graph.some(e => e['@id'] === old)).toBe(false);
    }
    const root = graph.find(e => e['@id'] === './')!;
    expect(root.hasPart).toEqual(expect.arrayContaining([{ '@id': 'inputs/text/in%20put.txt' }, { '@id': 'inputs/folder/dir/' }]));
    const action = graph.find(e => e['@id'] === '#run')!;
    expect(action.object).toEqual(expect.arrayContaining([{ '@id': 'inputs/text/in%20put.txt' }, { '@id': 'inputs/folder/dir/' }]));
    expect(graph.find(e => e['@id'] === 'inputs/folder/dir/')!['@type']).toBe('Dataset');
    expect(runCrateProblems(bundled, ['out.txt'])).toEqual([]);
    // The rest of what a reader needs is as before.
    expect({ ...after, inputs: [] }).toEqual({ ...before, inputs: [] });
  });

  test('the crate given is not changed', () => {
    expect(parseRunCrate(crate)).toEqual(before);
  });

  test('an @id the crate does not describe is refused, naming it', () => {
    expect(() => withBundledInputs(crate, { 'file:///nowhere': 'inputs/x/nowhere' })).toThrow('the crate describes no input file:///nowhere');
    expect(() => withBundledInputs({}, {})).toThrow(/no @graph/);
  });
});
