// An imported RED file whose inputs and outputs use connectors of the connector table
// (here the SFTP connector, as in Curious Containers' CNN training example): their access
// fields are shown and editable, checked at their field, secrets only as {{variables}}.
import { loadRed, type SingleRed } from '../../red';
import { RedFileModel } from '../red-file-model';
import { inputField, outputField } from '../fields';

const YAML = `
redVersion: "9"
cli:
  cwlVersion: v1.0
  class: CommandLineTool
  baseCommand: python3
  inputs:
    training_data: {type: Directory, inputBinding: {prefix: --data}}
  outputs:
    weights: {type: File, outputBinding: {glob: weights.h5}}
inputs:
  training_data:
    class: Directory
    connector:
      command: red-connector-ssh
      mount: true
      access: {host: lab.example.org, port: 22, auth: {username: ann, password: "{{ssh_password}}"}, dirPath: /data/tiles}
outputs:
  weights:
    class: File
    connector:
      command: red-connector-ssh
      access: {host: lab.example.org, auth: {username: ann, privateKey: "{{ssh_key}}"}, filePath: /results/weights.h5}
container: {engine: docker, settings: {image: {url: redlab/debian-python:12}, ram: 1024}}
execution: {engine: ccfaice, settings: {}}
`;

function model(): RedFileModel {
  return new RedFileModel('cnn.red.yml', loadRed(YAML).red);
}

describe('an imported RED with SFTP connectors', () => {
  it('shows the SFTP input and the output sent over SFTP with their fields', () => {
    const m = model();
    const [input] = m.inputs;
    expect(input).toMatchObject({ key: 'training_data', kind: 'connector', connector: { command: 'red-connector-ssh', cls: 'Directory' } });
    expect(input.connector!.access).toMatchObject({ host: 'lab.example.org', dirPath: '/data/tiles' });
    expect(m.outputs[0].send).toEqual({ command: 'red-connector-ssh', cls: 'File', access: { host: 'lab.example.org', auth: { username: 'ann', privateKey: '{{ssh_key}}' }, filePath: '/results/weights.h5' } });
    expect(m.isValid).toBe(true);
    expect(m.variables.map(v => v.name).sort()).toEqual(['ssh_key', 'ssh_password']);
  });

  it('edits a field in place, and checks it at its input or output', () => {
    const m = model();
    m.setAccess('inputs', 'training_data', 'dirPath', '');
    expect(m.issuesFor(inputField('training_data')).map(i => i.message)).toContain('SFTP (SSH): remote folder (access.dirPath) is needed');
    m.setAccess('inputs', 'training_data', 'dirPath', '/data/other');
    expect((m.red as SingleRed).inputs.training_data).toMatchObject({ connector: { mount: true, access: { dirPath: '/data/other', port: 22 } } });
    expect(m.issuesFor(inputField('training_data'))).toEqual([]);
    m.setAccess('outputs', 'weights', 'auth.privateKey', '-----BEGIN OPENSSH PRIVATE KEY-----');
    expect(m.issuesFor(outputField('weights'))).toContainEqual(expect.objectContaining({ message: expect.stringContaining('private key (access.auth.privateKey) must be a {{variable}}'), fix: 'write {{weights_private_key}}' }));
    expect(m.isValid).toBe(false);
  });
});
