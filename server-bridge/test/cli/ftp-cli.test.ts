// `redlab run` (the built bundle) of a RED whose inputs come from, and whose outputs go
// to, a real FTP server (vsftpd on 127.0.0.1, allowed with --allow-connector-host); the
// password is a {{variable}} and never shows in what the command prints.
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { runRedlab } from '../helpers/redlab-cli';
import { startVsftpd, type FtpTestServer } from '../helpers/vsftpd';

jest.setTimeout(120_000);

const sha1 = (s: string) => createHash('sha1').update(s).digest('hex');

let server: FtpTestServer;
let tmp: string;
beforeAll(async () => {
  server = await startVsftpd({ 'in/words.txt': 'alpha\nbeta\n', 'in/set/one.txt': '1\n', 'in/set/nested/two.txt': '2\n' });
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'redlab-ftp-cli-'));
});
afterAll(async () => {
  await server?.stop();
  fs.rmSync(tmp, { recursive: true, force: true });
});

it('runs a RED with FTP inputs and outputs on busybox', async () => {
  const access = (remote: string) => `{url: "ftp://127.0.0.1:${server.port}/${remote}", auth: {username: ${server.username}, password: "{{ftp_password}}"}}`;
  const red = `redVersion: "9"
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
    connector: {command: red-connector-ftp, access: ${access('in/words.txt')}}
  set:
    class: Directory
    connector: {command: red-connector-ftp, access: ${access('in/set')}}
outputs:
  counted:
    class: File
    connector: {command: red-connector-ftp, access: ${access('out/counted.txt')}}
  report:
    class: Directory
    connector: {command: red-connector-ftp, access: ${access('out/report')}}
container:
  engine: docker
  settings:
    image: {url: redlab/busybox:1}
    ram: 256
`;
  const file = path.join(tmp, 'ftp.red.yml');
  fs.writeFileSync(file, red);
  const r = await runRedlab(['run', file, '--non-interactive', '--outdir', path.join(tmp, 'out'), '--json', '--allow-connector-host', '127.0.0.1'], {
    env: { REDLAB_VAR_ftp_password: server.password }
  });
  expect(r.stderr + r.stdout).not.toContain(server.password);
  expect(r.code).toBe(0);
  const result = JSON.parse(r.stdout);
  expect(result.state).toBe('succeeded');
  expect(fs.readFileSync(path.join(server.root, 'out/counted.txt'), 'utf8').trim()).toBe('2');
  expect(fs.readFileSync(path.join(server.root, 'out/report/parts/sum.txt'), 'utf8')).toBe('1\n2\n');
  expect(fs.readFileSync(path.join(server.root, 'out/report/status.txt'), 'utf8')).toBe('ok\n');
  expect(result.outputs.counted).toMatchObject({ path: `ftp://127.0.0.1:${server.port}/out/counted.txt`, connector: 'red-connector-ftp' });
});

it('uses FTPS (explicit TLS) for ftps:// URLs, trusting the certificate only when told to', async () => {
  const secure = await startVsftpd({ 'in/words.txt': 'gamma\n' }, { tls: true });
  try {
    const access = (remote: string) => `{url: "${secure.url(remote)}", auth: {username: ${secure.username}, password: "{{ftp_password}}"}}`;
    const red = `redVersion: "9"
cli:
  cwlVersion: v1.0
  class: CommandLineTool
  baseCommand: [sh, -c]
  inputs:
    script: {type: string, inputBinding: {position: 0}}
    words: {type: File, inputBinding: {position: 1}}
  outputs:
    copy: {type: File, outputBinding: {glob: copy.txt}}
inputs:
  script: 'cp "$0" copy.txt'
  words:
    class: File
    connector: {command: red-connector-ftp, access: ${access('in/words.txt')}}
outputs:
  copy:
    class: File
    connector: {command: red-connector-ftp, access: ${access('out/copy.txt')}}
container:
  engine: docker
  settings:
    image: {url: redlab/busybox:1}
`;
    const file = path.join(tmp, 'ftps.red.yml');
    fs.writeFileSync(file, red);
    const args = ['run', file, '--non-interactive', '--outdir', path.join(tmp, 'out-tls'), '--json', '--allow-connector-host', '127.0.0.1'];
    const untrusted = await runRedlab(args, { env: { REDLAB_VAR_ftp_password: secure.password } });
    expect(untrusted.code).toBe(1);
    expect(untrusted.stderr + untrusted.stdout).toContain("login: the server's TLS certificate is not trusted");
    const r = await runRedlab(args, { env: { REDLAB_VAR_ftp_password: secure.password, NODE_EXTRA_CA_CERTS: secure.caFile } });
    expect(r.stderr + r.stdout).not.toContain(secure.password);
    expect(r.code).toBe(0);
    expect(fs.readFileSync(path.join(secure.root, 'out/copy.txt'), 'utf8')).toBe('gamma\n');
  } finally {
    await secure.stop();
  }
});
