// `redlab run` (the built bundle) of a RED whose inputs come from, and whose outputs go to,
// a real S3 server (S3Proxy on 127.0.0.1, allowed with --allow-connector-host); the secret
// access key is a {{variable}} and never shows in what the command prints.
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { runRedlab } from '../helpers/redlab-cli';
import { startS3Server, type S3TestServer } from '../helpers/s3-server';

jest.setTimeout(120_000);

const sha1 = (s: string) => createHash('sha1').update(s).digest('hex');

let server: S3TestServer;
let tmp: string;
beforeAll(async () => {
  server = await startS3Server({ lab: { 'in/words.txt': 'alpha\nbeta\n', 'in/set/one.txt': '1\n', 'in/set/nested/two.txt': '2\n' }, results: {} });
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'redlab-s3-cli-'));
});
afterAll(async () => {
  await server?.stop();
  fs.rmSync(tmp, { recursive: true, force: true });
});

const red = (access: (bucket: string, where: string) => string) => `redVersion: "9"
cli:
  cwlVersion: v1.0
  class: CommandLineTool
  baseCommand: [sh, -c]
  inputs:
    script: {type: string, inputBinding: {position: 0}}
    words: {type: File, inputBinding: {position: 1}}
    set: {type: Directory, inputBinding: {position: 2}}
  outputs:
    counted: {type: File, outputBinding: {glob: counted.txt}}
    report: {type: Directory, outputBinding: {glob: report}}
inputs:
  script: 'wc -l < "$0" > counted.txt && mkdir -p report/parts && cat "$1/one.txt" "$1/nested/two.txt" > report/parts/sum.txt && echo ok > report/status.txt'
  words:
    class: File
    checksum: "sha1$${sha1('alpha\nbeta\n')}"
    connector: {command: redlab-connector-s3, access: ${access('lab', 'key: in/words.txt')}}
  set:
    class: Directory
    connector: {command: redlab-connector-s3, access: ${access('lab', 'prefix: in/set/')}}
outputs:
  counted:
    class: File
    connector: {command: redlab-connector-s3, access: ${access('results', 'key: run/counted.txt')}}
  report:
    class: Directory
    connector: {command: redlab-connector-s3, access: ${access('results', 'prefix: run/report/')}}
container:
  engine: docker
  settings:
    image: {url: redlab/busybox:1}
    ram: 256
`;

it('runs a RED with S3 inputs and outputs on busybox; the secret key stays a {{variable}}', async () => {
  const access = (bucket: string, where: string) =>
    `{endpoint: "${server.endpoint}", bucket: ${bucket}, ${where}, auth: {accessKeyId: ${server.accessKeyId}, secretAccessKey: "{{s3_secret}}"}}`;
  const file = path.join(tmp, 's3.red.yml');
  fs.writeFileSync(file, red(access));
  const args = ['run', file, '--non-interactive', '--outdir', path.join(tmp, 'out'), '--json', '--allow-connector-host', '127.0.0.1'];
  const r = await runRedlab(args, { env: { REDLAB_VAR_s3_secret: server.secretAccessKey } });
  expect(r.stderr + r.stdout).not.toContain(server.secretAccessKey);
  // No SDK warning (its Node version notice, a body of unknown length) in what people read.
  expect(r.stderr).not.toMatch(/warn/i);
  expect(r.stderr).toContain('redlab: input set: received 2 objects under ');
  expect(r.code).toBe(0);
  const result = JSON.parse(r.stdout);
  expect(result.state).toBe('succeeded');
  expect(fs.readFileSync(server.objectPath('results', 'run/counted.txt'), 'utf8').trim()).toBe('2');
  expect(fs.readFileSync(server.objectPath('results', 'run/report/parts/sum.txt'), 'utf8')).toBe('1\n2\n');
  expect(fs.readFileSync(server.objectPath('results', 'run/report/status.txt'), 'utf8')).toBe('ok\n');
  expect(result.outputs.counted).toMatchObject({ path: `${server.endpoint}/results/run/counted.txt`, connector: 'redlab-connector-s3' });
  expect(result.outputs.report).toMatchObject({ path: `${server.endpoint}/results/run/report/`, connector: 'redlab-connector-s3' });

  // A wrong secret fails the run, naming the input and the field, without the secret.
  const wrong = await runRedlab(args, { env: { REDLAB_VAR_s3_secret: 'wrong-' + server.secretAccessKey } });
  expect(wrong.code).not.toBe(0);
  // Both inputs fail; they are received at once, and whichever fails first is named.
  expect(wrong.stderr + wrong.stdout).toMatch(/input (words|set) \(redlab-connector-s3\): (download|listing) of .*check access\.auth\.secretAccessKey of input \1/);
  expect(wrong.stderr + wrong.stdout).not.toContain(server.secretAccessKey);
});
