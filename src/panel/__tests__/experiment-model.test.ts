import { inferDraft } from '../../notebook/infer';
import type { ExperimentDraft } from '../../notebook/types';
import type { FileOrDirectory } from '../../red';
import { ExperimentModel, HTTP_CONNECTOR } from '../experiment-model';
import { fieldForIssuePath, formatParamValue, paramField, parseParamText } from '../fields';

/** A notebook with a parameters cell, as JupyterLab's model.toJSON() gives it. */
function notebook(params: string): unknown {
  return {
    nbformat: 4,
    nbformat_minor: 5,
    metadata: { kernelspec: { name: 'python3', display_name: 'Python 3', language: 'python' } },
    cells: [
      { cell_type: 'code', id: 'a', metadata: { tags: ['parameters'] }, source: params, outputs: [], execution_count: null },
      { cell_type: 'code', id: 'b', metadata: {}, source: 'print(samples)', outputs: [], execution_count: null }
    ]
  };
}

function model(params = 'samples = 200  # steps\nnoise = 0.3\ntitle = "Random walk"\nverbose = False\nrates = [0.1, 0.2]\nseed = 42\n'): ExperimentModel {
  const { draft, warnings } = inferDraft(notebook(params), { notebookPath: 'demo/walk.ipynb', defaults: { image: 'redlab/debian-python:12', ramMb: 1024 } });
  return new ExperimentModel(draft, warnings);
}

describe('parameter values from text', () => {
  it('reads ints, floats, booleans, strings and comma lists', () => {
    expect(parseParamText('int', ' 42 ')).toEqual({ ok: true, value: 42 });
    expect(parseParamText('float', '1e-3')).toEqual({ ok: true, value: 0.001 });
    expect(parseParamText('boolean', 'True')).toEqual({ ok: true, value: true });
    expect(parseParamText('string', ' keep spaces ')).toEqual({ ok: true, value: ' keep spaces ' });
    expect(parseParamText('float[]', '0.1, 0.2,3')).toEqual({ ok: true, value: [0.1, 0.2, 3] });
    expect(parseParamText('string[]', 'a, b')).toEqual({ ok: true, value: ['a', 'b'] });
    expect(parseParamText('int?', '')).toEqual({ ok: true, value: undefined });
  });

  it('says why a text is not a value of the type', () => {
    const r = parseParamText('int', 'abc');
    expect(r.ok).toBe(false);
    expect(!r.ok && r.error).toMatch(/whole number \(int\)/);
    expect(parseParamText('int', '4.5').ok).toBe(false);
    expect(parseParamText('float', '').ok).toBe(false);
    const list = parseParamText('int[]', '1, x, 3');
    expect(!list.ok && list.error).toMatch(/^item 2: "x" is not a whole number/);
  });

  it('shows values as they were typed in Python', () => {
    expect(formatParamValue('float', 1)).toBe('1.0');
    expect(formatParamValue('float[]', [0.5, 2])).toBe('0.5, 2.0');
    expect(formatParamValue('int', 3)).toBe('3');
    expect(formatParamValue('boolean', false)).toBe('false');
  });
});

describe('ExperimentModel', () => {
  it('proposes the RED of the notebook', () => {
    const m = model();
    expect(m.isValid).toBe(true);
    expect(m.issues.filter(i => i.severity === 'error')).toEqual([]);
    expect(m.yaml).toContain('url: redlab/debian-python:12');
    expect(m.yaml).toMatch(/\bsamples: 200\b/);
    expect(m.red?.container.settings.ram).toBe(1024);
  });

  it('follows edits of image, RAM, GPUs and parameters into the RED', () => {
    const m = model();
    let emitted = 0;
    m.changed.connect(() => emitted++);
    m.setImage('redlab/debian-python:test ');
    m.setRamText('2048');
    m.setGpuMode('count');
    m.setGpuCountText('2');
    m.setParamText('samples', '400');
    m.setParamText('rates', '0.5, 1');
    m.setParamValue('verbose', true);
    expect(emitted).toBe(7);
    const red = m.red!;
    expect(red.container.settings).toEqual({ image: { url: 'redlab/debian-python:test' }, ram: 2048, gpus: { vendor: 'nvidia', count: 2 } });
    expect(red.inputs.samples).toBe(400);
    expect(red.inputs.rates).toEqual([0.5, 1]);
    expect(red.inputs.verbose).toBe(true);
    expect(m.yaml).toMatch(/\bsamples: 400\b/);
    m.setGpuMode('vram');
    m.setVramText('8000');
    expect(m.red!.container.settings.gpus).toEqual({ vendor: 'nvidia', devices: [{ vramMin: 8000 }] });
    m.setGpuMode('none');
    expect(m.red!.container.settings.gpus).toBeUndefined();
  });

  it('keeps a bad value at its field with an error, and the last good value in the RED', () => {
    const m = model();
    m.setParamText('seed', 'abc');
    expect(m.text(paramField('seed'))).toBe('abc');
    const errors = m.issuesFor(paramField('seed'));
    expect(errors).toHaveLength(1);
    expect(errors[0].message).toMatch(/whole number/);
    expect(m.isValid).toBe(false);
    expect(m.red!.inputs.seed).toBe(42);
    expect(m.yaml).not.toMatch(/seed: abc/);
    m.setParamText('seed', '7');
    expect(m.issuesFor(paramField('seed'))).toEqual([]);
    expect(m.isValid).toBe(true);
    expect(m.red!.inputs.seed).toBe(7);
  });

  it('rejects a bad RAM value at the RAM field', () => {
    const m = model();
    m.setRamText('lots');
    expect(m.issuesFor('ramMb')[0].message).toMatch(/RAM \(MB\) must be a whole number/);
    expect(m.red!.container.settings.ram).toBe(1024);
  });

  it('maps RED validation issues to the field that causes them', () => {
    const m = model();
    const keys = new Map([['seed', 'seed']]);
    expect(fieldForIssuePath('inputs.seed', m.draft, keys)).toBe('param:seed');
    expect(fieldForIssuePath('cli.inputs.samples.type', m.draft)).toBe('param:samples');
    expect(fieldForIssuePath('container.settings.image.url', m.draft)).toBe('image');
    expect(fieldForIssuePath('container.settings.gpus.count', m.draft)).toBe('gpus');
    expect(fieldForIssuePath('inputs.notebook.connector', m.draft)).toBeUndefined();
    // A parameter named like RED Lab's own input gets another key; its issues still find it.
    expect(fieldForIssuePath('inputs.param_runner', { ...m.draft, parameters: [{ name: 'runner', type: 'int', default: 1 }] }, new Map([['runner', 'param_runner']]))).toBe('param:runner');
  });

  it('shows validateRed issues at fields (a value that does not fit its type)', () => {
    const m = model();
    // Only an import or a bug could bring a string into an int parameter: the RED's own check catches it.
    const draft: ExperimentDraft = { ...m.draft, values: { ...m.draft.values, samples: 'many' } };
    m.replace(draft);
    const at = m.issuesFor(paramField('samples'));
    expect(at.length).toBeGreaterThan(0);
    expect(m.generalIssues.filter(i => i.severity === 'error')).toEqual([]);
  });

  it('checks inputs and outputs where they are edited', () => {
    const m = model();
    m.addInput();
    expect(m.draft.inputs[0]).toMatchObject({ name: 'data', connector: 'redlab-connector-local', access: { path: '' } });
    expect(m.issuesFor('input:data')[0].message).toMatch(/path \(access.path\) is needed/);
    m.setInputAccess(0, 'path', 'data/in.csv');
    expect(m.issuesFor('input:data')).toEqual([]);
    expect(m.red!.inputs.data).toMatchObject({ class: 'File', basename: 'in.csv', connector: { access: { path: 'data/in.csv' } } });
    m.addOutput();
    expect(m.issuesFor('output:result')[0].message).toMatch(/glob/);
    m.updateOutput(m.draft.outputs.findIndex(o => o.name === 'result'), { glob: 'walk.svg' });
    expect(m.isValid).toBe(true);
    m.updateInput(0, { name: 'samples' });
    expect(m.issuesFor('input:samples').length + m.issuesFor('param:samples').length).toBeGreaterThan(0);
    expect(m.isValid).toBe(false);
  });

  it('extracts {{variables}} from HTTP credentials, and refuses a literal password', () => {
    const m = model();
    m.addInput(HTTP_CONNECTOR);
    m.setInputAccess(0, 'url', 'https://example.org/data.csv');
    m.setInputAuth(0, true);
    expect(m.variables.map(v => [v.name, v.protected])).toEqual([
      ['data_username', false],
      ['data_password', true]
    ]);
    expect(m.isValid).toBe(true);
    expect(m.yaml).toContain('{{data_password}}');
    m.setInputAccess(0, 'auth', { username: 'me', password: 'hunter2' });
    expect(m.issuesFor('input:data')[0].message).toMatch(/password \(access.auth.password\) must be a \{\{variable\}\}/);
    m.setInputAuth(0, false);
    expect(m.variables).toEqual([]);
  });

  it('makes an SFTP input of the connector table: its fields, its password a {{variable}}, filePath or dirPath by class', () => {
    const m = model();
    m.addInput();
    m.updateInput(0, { name: 'sftp' });
    m.setInputConnector(0, 'red-connector-ssh');
    expect(m.draft.inputs[0].access).toEqual({ host: '', port: 22, auth: { username: '', password: '{{sftp_password}}' }, filePath: '' });
    expect(m.issuesFor('input:sftp').map(i => i.message)).toEqual([
      'SFTP (SSH): host (access.host) is needed',
      'SFTP (SSH): user (access.auth.username) is needed',
      'SFTP (SSH): remote file (access.filePath) is needed'
    ]);
    m.setInputAccess(0, 'host', 'lab.example.org');
    m.setInputAccess(0, 'auth.username', 'ann');
    m.setInputAccess(0, 'filePath', '/data/tiles.csv');
    expect(m.issuesFor('input:sftp')).toEqual([]);
    expect(m.red!.inputs.sftp).toEqual({
      class: 'File',
      basename: 'tiles.csv',
      connector: { command: 'red-connector-ssh', access: { host: 'lab.example.org', port: 22, auth: { username: 'ann', password: '{{sftp_password}}' }, filePath: '/data/tiles.csv' } }
    });
    expect(m.variables).toEqual([{ name: 'sftp_password', protected: true, paths: ['inputs.sftp.connector.access.auth.password'] }]);
    expect(m.isValid).toBe(true);
    // A folder: dirPath instead of filePath, the rest kept.
    m.updateInput(0, { kind: 'Directory' });
    expect(m.draft.inputs[0].access).toEqual({ host: 'lab.example.org', port: 22, auth: { username: 'ann', password: '{{sftp_password}}' }, dirPath: '' });
    expect(m.issuesFor('input:sftp').map(i => i.message)).toEqual(['SFTP (SSH): remote folder (access.dirPath) is needed']);
    // A literal password (typed into the YAML, or imported) is refused, naming the field and the fix.
    m.setInputAccess(0, 'auth.password', 'hunter2');
    expect(m.issuesFor('input:sftp')).toContainEqual(expect.objectContaining({ message: expect.stringContaining('password (access.auth.password) must be a {{variable}}'), fix: 'write {{sftp_password}}' }));
    m.setInputAccess(0, 'port', 'ssh');
    expect(m.issuesFor('input:sftp').map(i => i.message)).toContain('SFTP (SSH): port (access.port) must be a positive number, not "ssh"');
  });

  it('mounts an SFTP folder on request, with its writable flag; copies again when unticked or no longer a folder', () => {
    const m = model();
    m.addInput();
    m.updateInput(0, { name: 'tiles', kind: 'Directory' });
    m.setInputConnector(0, 'red-connector-ssh');
    m.setInputAccess(0, 'host', 'lab');
    m.setInputAccess(0, 'auth.username', 'ann');
    m.setInputAccess(0, 'dirPath', '/data/tiles');
    m.setInputMount(0, true);
    m.setInputAccess(0, 'writable', true);
    expect(m.red!.inputs.tiles).toMatchObject({ class: 'Directory', connector: { command: 'red-connector-ssh', mount: true, access: { dirPath: '/data/tiles', writable: true } } });
    expect(m.issuesFor('input:tiles')).toEqual([]);
    m.setInputMount(0, false);
    expect(m.draft.inputs[0].mount).toBeUndefined();
    expect(m.draft.inputs[0].access.writable).toBeUndefined();
    expect((m.red!.inputs.tiles as FileOrDirectory).connector.mount).toBeUndefined();
    // A file is copied: mount goes with the change of class.
    m.setInputMount(0, true);
    m.updateInput(0, { kind: 'File' });
    expect(m.draft.inputs[0].mount).toBeUndefined();
    // An imported draft that mounts what cannot be mounted says so at the input.
    m.updateInput(0, { kind: 'Directory' });
    m.setInputConnector(0, 'red-connector-ftp');
    m.setInputAccess(0, 'url', 'ftp://lab/d');
    m.replace({ ...m.draft, inputs: [{ ...m.draft.inputs[0], mount: true }] }, []);
    expect(m.issuesFor('input:tiles')).toContainEqual(expect.objectContaining({ message: 'only a folder from HTTP URL or SFTP (SSH) can be mounted' }));
  });

  it('checks the URL scheme of HTTP and FTP inputs, naming the field', () => {
    const m = model();
    m.addInput(HTTP_CONNECTOR);
    m.setInputAccess(0, 'url', 'ftp://x/y');
    expect(m.issuesFor('input:data').map(i => i.message)).toContain('HTTP URL: URL (access.url) must start with http:// or https://');
    m.setInputConnector(0, 'red-connector-ftp');
    m.setInputAccess(0, 'url', 'https://x/y');
    expect(m.issuesFor('input:data').map(i => i.message)).toContain('FTP: URL (access.url) must start with ftp:// or ftps://');
    m.setInputAccess(0, 'url', 'ftp://lab/pub/data.csv');
    expect(m.issuesFor('input:data')).toEqual([]);
    expect(m.red!.inputs.data).toMatchObject({ basename: 'data.csv', connector: { command: 'red-connector-ftp', access: { url: 'ftp://lab/pub/data.csv' } } });
  });

  it('sends an output with a connector the table describes, and checks its fields', () => {
    const m = model();
    m.addOutput();
    const i = m.draft.outputs.findIndex(o => o.name === 'result');
    m.updateOutput(i, { glob: 'weights.h5' });
    m.setOutputConnector(i, 'red-connector-ssh');
    expect(m.issuesFor('output:result').map(x => x.message)).toEqual(['SFTP (SSH): host (access.host) is needed', 'SFTP (SSH): user (access.auth.username) is needed', 'SFTP (SSH): remote file (access.filePath) is needed']);
    m.setOutputAccess(i, 'host', 'lab');
    m.setOutputAccess(i, 'auth.username', 'ann');
    m.setOutputAccess(i, 'filePath', '/results/weights.h5');
    expect(m.red!.outputs).toEqual({ result: { class: 'File', connector: { command: 'red-connector-ssh', access: { host: 'lab', port: 22, auth: { username: 'ann', password: '{{result_password}}' }, filePath: '/results/weights.h5' } } } });
    expect(m.isValid).toBe(true);
    m.setOutputKind(i, 'Directory');
    expect(m.draft.outputs[i].send!.access).toMatchObject({ dirPath: '' });
    expect(m.draft.outputs[i].send!.access.filePath).toBeUndefined();
    // HTTP sends files only.
    m.setOutputConnector(i, HTTP_CONNECTOR);
    expect(m.issuesFor('output:result').map(x => x.message)).toContain('HTTP URL cannot send a folder');
    m.setOutputConnector(i, undefined);
    expect(m.draft.outputs[i].send).toBeUndefined();
    expect(m.red!.outputs).toEqual({});
  });

  it('starts over from an imported draft', () => {
    const m = model();
    m.setParamText('seed', 'x');
    m.replace({ ...m.draft, image: 'other:1' }, ['imported']);
    expect(m.text(paramField('seed'))).toBeUndefined();
    expect(m.warnings).toEqual(['imported']);
    expect(m.isValid).toBe(true);
  });
});
