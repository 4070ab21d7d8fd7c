import { buildRunCrate, crateTime, encodingFormatOf, parseRunCrate, runCrateProblems, CRATE_FILES, type RunCrate, type RunCrateBuildInput } from '../run-crate';
import { templateSecrets } from '../variables';
import type { SingleRed } from '../types';

const RED: SingleRed = {
  redVersion: '9',
  cli: {
    cwlVersion: 'v1.0',
    class: 'CommandLineTool',
    baseCommand: 'analyse',
    inputs: { data: { type: 'File', inputBinding: { position: 0 } }, remote: { type: 'File', inputBinding: { position: 1 } }, alpha: { type: 'float', inputBinding: { prefix: '--alpha' } } },
    outputs: { table: { type: 'File', outputBinding: { glob: 'table.csv' } }, plots: { type: 'Directory', outputBinding: { glob: 'plots' } } }
  },
  inputs: {
    data: { class: 'File', connector: { command: 'redlab-connector-local', access: { path: 'data/in.csv' } } },
    remote: { class: 'File', connector: { command: 'red-connector-http', access: { url: 'https://alice:hunter2secret@example.org/x.json?sig=abc', auth: { username: 'alice', password: 'literal-pass-123' } } } },
    alpha: 0.5
  },
  outputs: {},
  container: { engine: 'docker', settings: { image: { url: 'registry.example.org/lab/analyse:1.2' }, ram: 1024 } }
} as unknown as SingleRed;

function input(over: Partial<RunCrateBuildInput> = {}): RunCrateBuildInput {
  return {
    red: templateSecrets(RED),
    run: {
      state: 'succeeded',
      command: ['analyse', '/cc/inputs/data/in.csv'],
      exitCode: 0,
      inputs: {
        data: { path: '/work/runs/x/inputs/data/in.csv', class: 'File', size: 10, sha256: 'a'.repeat(64) },
        remote: { path: '/work/runs/x/inputs/remote/x.json', class: 'File', size: 20, sha256: 'b'.repeat(64) }
      },
      outputs: {
        table: { path: '/out/table.csv', class: 'File', size: 5, sha256: 'c'.repeat(64) },
        plots: { path: '/out/plots', class: 'Directory', size: 7, sha256: 'd'.repeat(64), files: [{ path: 'a.png', sha256: 'e'.repeat(64), size: 7 }] }
      }
    },
    image: { url: 'registry.example.org/lab/analyse:1.2', id: 'sha256:' + '1'.repeat(64), digest: 'registry.example.org/lab/analyse@sha256:' + '2'.repeat(64), pulled: true },
    engine: { name: 'docker', version: '28.2.2', isolated: true },
    outdir: '/out',
    startedAt: Date.UTC(2026, 11, 1, 10, 0, 0, 5),
    endedAt: Date.UTC(2026, 11, 1, 10, 0, 7, 250),
    redSource: '/home/alice/exp/analyse.red.yml',
    agent: { name: 'Alice', orcid: 'https://orcid.org/0000-0002-1825-0097', affiliation: { name: 'Lab', url: 'https://ror.org/01abcde' } },
    machine: { hostname: 'box', cpuCount: 2, memoryBytes: 1 << 30 },
    license: 'CC-BY-4.0',
    logs: { stdout: true, stderr: true },
    name: 'analyse.red.yml',
    ...over
  };
}

const entity = (crate: RunCrate, id: string) => crate['@graph'].find(e => e['@id'] === id) as Record<string, unknown>;

describe('buildRunCrate', () => {
  it('writes times as the validator wants them: milliseconds and +00:00, never Z', () => {
    expect(crateTime(Date.UTC(2026, 0, 2, 3, 4, 5, 6))).toBe('2026-01-02T03:04:05.006+00:00');
    const run = entity(buildRunCrate(input()), '#run');
    expect(run.startTime).toBe('2026-12-01T10:00:00.005+00:00');
    expect(run.endTime).toBe('2026-12-01T10:00:07.250+00:00');
  });

  it('lists every output file with its hash, a folder as a Dataset holding its files', () => {
    const crate = buildRunCrate(input());
    const run = entity(crate, '#run');
    expect(run.result).toEqual([{ '@id': 'table.csv' }, { '@id': 'plots/' }, { '@id': '#exit-code' }]);
    expect(entity(crate, '#exit-code')).toMatchObject({ '@type': 'PropertyValue', name: 'exitCode', value: 0 });
    expect(entity(crate, './').hasPart).toEqual(expect.arrayContaining([{ '@id': 'table.csv' }, { '@id': 'plots/' }, { '@id': 'plots/a.png' }]));
    expect(entity(crate, 'table.csv')).toMatchObject({ '@type': 'File', sha256: 'c'.repeat(64), contentSize: '5', encodingFormat: 'text/csv' });
    expect(entity(crate, 'plots/')).toMatchObject({ '@type': 'Dataset', hasPart: { '@id': 'plots/a.png' } });
    expect(entity(crate, 'plots/a.png')).toMatchObject({ sha256: 'e'.repeat(64), encodingFormat: 'image/png' });
    expect(runCrateProblems(crate, ['table.csv', 'plots'])).toEqual([]);
  });

  it('gives a single result as a value, not a one-item list', () => {
    const one = input();
    one.run = { ...one.run, exitCode: undefined, outputs: { table: one.run.outputs.table } };
    expect(entity(buildRunCrate(one), '#run').result).toEqual({ '@id': 'table.csv' });
  });

  it('has a result even when the run wrote no file: its exit code, else its logs', () => {
    const none = input();
    none.run = { ...none.run, outputs: {} };
    const crate = buildRunCrate(none);
    expect(entity(crate, '#run').result).toEqual({ '@id': '#exit-code' });
    expect(parseRunCrate(crate).outputs).toEqual([]);
    expect(runCrateProblems(crate)).toEqual([]);
    none.run = { ...none.run, state: 'failed', exitCode: undefined, error: 'no image' };
    expect(entity(buildRunCrate(none), '#run').result).toEqual([{ '@id': CRATE_FILES.stdout }, { '@id': CRATE_FILES.stderr }]);
    expect(parseRunCrate(buildRunCrate(none)).outputs).toEqual([]);
  });

  it('gives every file a media type, application/octet-stream when its name says none', () => {
    const b = input();
    ((b.red as SingleRed).inputs as unknown as Record<string, { connector: { access: { path: string } } }>).data.connector.access.path = 'data/reads.fastq';
    expect(entity(buildRunCrate(b), '#input-data').encodingFormat).toBe('application/octet-stream');
  });

  it('describes inputs by # ids (they are not in the crate): a local one with its file:// URL, a remote one by its URL without user info; parameters as PropertyValues', () => {
    const crate = buildRunCrate(input());
    const object = entity(crate, '#run').object as { '@id': string }[];
    expect(object.map(o => o['@id'])).toEqual(['#input-data', '#input-remote', '#param-alpha']);
    expect(entity(crate, '#input-data')).toMatchObject({ '@type': 'File', url: 'file:///home/alice/exp/data/in.csv', sha256: 'a'.repeat(64), contentSize: '10', encodingFormat: 'text/csv' });
    expect(entity(crate, '#input-remote')).toMatchObject({ url: 'https://example.org/x.json?sig=abc', description: 'input remote, received by red-connector-http' });
    expect(entity(crate, '#param-alpha')).toMatchObject({ '@type': 'PropertyValue', value: '0.5' });
    const text = JSON.stringify(crate);
    expect(text).not.toContain('hunter2secret');
    expect(text).not.toContain('alice:');
  });

  it('names the tool by an absolute URI from its CWL text and image, with a version and a url', () => {
    const a = entity(buildRunCrate(input(), 'cwl: one'), '#run').instrument as { '@id': string };
    const b = entity(buildRunCrate(input(), 'cwl: two'), '#run').instrument as { '@id': string };
    expect(a['@id']).toMatch(/^https:\/\/w3id\.org\/redlab\/tools\/sha256-[0-9a-f]{64}$/);
    expect(b['@id']).not.toBe(a['@id']);
    expect(entity(buildRunCrate(input(), 'cwl: one'), a['@id'])).toMatchObject({ '@type': 'SoftwareApplication', softwareVersion: '1.2', url: 'https://registry.example.org/lab/analyse', subjectOf: { '@id': CRATE_FILES.cli } });
  });

  it('keeps the RED it records free of secrets written in it: they become {{variables}}', () => {
    const red = templateSecrets(RED) as unknown as { inputs: { remote: { connector: { access: { auth: { password: string; username: string } } } } } };
    expect(red.inputs.remote.connector.access.auth.password).toBe('{{remote_password}}');
    expect(red.inputs.remote.connector.access.auth.username).toBe('alice');
  });

  it('pins the image by its registry digest; a local image by ID, said to be not pullable', () => {
    const pulled = buildRunCrate(input());
    expect(entity(pulled, '#run').containerImage).toEqual({ '@id': 'docker://registry.example.org/lab/analyse@sha256:' + '2'.repeat(64) });
    const local = buildRunCrate(input({ image: { url: 'mine:dev', id: 'sha256:' + '3'.repeat(64), pulled: false } }));
    const img = entity(local, '#image-' + '3'.repeat(64));
    expect(img).toMatchObject({ '@type': 'ContainerImage', name: 'mine', tag: 'dev', sha256: '3'.repeat(64) });
    expect(String(img.description)).toMatch(/not pullable/);
  });

  it('records a failure with its error and FailedActionStatus; a cancelled run too', () => {
    for (const state of ['failed', 'cancelled'] as const) {
      const b = input();
      b.run = { ...b.run, state, exitCode: state === 'failed' ? 3 : undefined, error: state === 'failed' ? 'exit code 3' : undefined };
      const run = entity(buildRunCrate(b), '#run');
      expect(run.actionStatus).toBe('http://schema.org/FailedActionStatus');
      expect(run.error).toBe(state === 'failed' ? 'exit code 3' : 'cancelled');
    }
  });

  it('knows common media types', () => {
    expect(encodingFormatOf('a/b/Notebook.IPYNB')).toBe('application/x-ipynb+json');
    expect(encodingFormatOf('noext')).toBeUndefined();
  });
});

describe('parseRunCrate', () => {
  it('reads back what buildRunCrate wrote', () => {
    const s = parseRunCrate(JSON.parse(JSON.stringify(buildRunCrate(input()))));
    expect(s).toMatchObject({
      state: 'succeeded',
      exitCode: 0,
      redFile: CRATE_FILES.red,
      cliFile: CRATE_FILES.cli,
      redSource: '/home/alice/exp/analyse.red.yml',
      image: { url: 'registry.example.org/lab/analyse:1.2', id: 'sha256:' + '1'.repeat(64), digest: 'registry.example.org/lab/analyse@sha256:' + '2'.repeat(64), pullable: true },
      engine: { name: 'docker', version: '28.2.2', isolated: true },
      parameters: [{ name: 'alpha', value: '0.5' }],
      logs: { stdout: CRATE_FILES.stdout, stderr: CRATE_FILES.stderr },
      license: 'https://spdx.org/licenses/CC-BY-4.0',
      author: { name: 'Alice', orcid: 'https://orcid.org/0000-0002-1825-0097' }
    });
    expect(s.inputs).toEqual([
      { key: 'data', id: '#input-data', class: 'File', path: '/home/alice/exp/data/in.csv', sha256: 'a'.repeat(64), size: 10 },
      { key: 'remote', id: '#input-remote', class: 'File', url: 'https://example.org/x.json?sig=abc', connector: 'red-connector-http', sha256: 'b'.repeat(64), size: 20 }
    ]);
    expect(s.outputs).toEqual([
      { key: 'table', path: 'table.csv', class: 'File', sha256: 'c'.repeat(64), size: 5, encodingFormat: 'text/csv', files: undefined },
      { key: 'plots', path: 'plots', class: 'Directory', sha256: 'd'.repeat(64), size: 7, encodingFormat: undefined, files: [{ path: 'plots/a.png', sha256: 'e'.repeat(64), size: 7 }] }
    ]);
  });

  it('refuses what is not a RED Lab run crate, saying why', () => {
    expect(() => parseRunCrate({})).toThrow(/no @graph/);
    expect(() => parseRunCrate({ '@graph': [{ '@id': './', '@type': 'Dataset' }] })).toThrow(/no CreateAction/);
  });
});

describe('runCrateProblems (what the official validator does not catch)', () => {
  const fresh = () => JSON.parse(JSON.stringify(buildRunCrate(input()))) as RunCrate;

  it('no result at all, a file without a media type', () => {
    const c = fresh();
    delete entity(c, '#run').result;
    delete entity(c, 'table.csv').encodingFormat;
    expect(runCrateProblems(c)).toEqual(['CreateAction #run has no result (the profile wants one: an output, the exit code or the logs)', 'the file table.csv has no media type (encodingFormat)']);
  });

  it('a missing instrument', () => {
    const c = fresh();
    delete entity(c, '#run').instrument;
    expect(runCrateProblems(c)).toEqual(['CreateAction #run has no instrument']);
  });

  it('an output missing from result while another is listed', () => {
    const c = fresh();
    entity(c, '#run').result = { '@id': 'table.csv' };
    expect(runCrateProblems(c, ['table.csv', 'plots'])).toEqual(['CreateAction #run: output plots is missing from result']);
  });

  it('a bad date, and one with Z', () => {
    const c = fresh();
    entity(c, '#run').startTime = '2026-13-45';
    entity(c, '#run').endTime = '2026-12-01T10:00:07Z';
    const problems = runCrateProblems(c);
    expect(problems).toHaveLength(2);
    expect(problems[0]).toMatch(/startTime 2026-13-45/);
    expect(problems[1]).toMatch(/endTime 2026-12-01T10:00:07Z/);
  });

  it('a failure without an error, an output outside hasPart, a status as an object', () => {
    const c = fresh();
    const run = entity(c, '#run');
    run.actionStatus = 'http://schema.org/FailedActionStatus';
    const root = entity(c, './');
    root.hasPart = (root.hasPart as { '@id': string }[]).filter(p => p['@id'] !== 'table.csv');
    expect(runCrateProblems(c)).toEqual(['CreateAction #run failed but has no error', "CreateAction #run: table.csv is not in the root's hasPart"]);
    run.actionStatus = { '@id': 'http://schema.org/FailedActionStatus' };
    expect(runCrateProblems(c)[0]).toMatch(/is not schema.org's Completed\/FailedActionStatus as a string/);
  });
});
