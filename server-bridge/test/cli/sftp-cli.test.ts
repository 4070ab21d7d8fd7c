// `redlab run` (the built binary, real Docker, a real sshd on loopback) of a RED whose input
// comes and whose output goes over red-connector-ssh, its password a {{variable}}: the file
// arrives in the container, the result folder lands on the server, the password is never printed.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { PYTHON_PACKAGE_BRIDGE, runRedlab } from '../helpers/redlab-cli';
import { sftpServerUnavailable, startSftpServer, type SftpServer } from '../helpers/sftp-server';

const skip = sftpServerUnavailable();
const d = skip ? describe.skip : describe;

let srv: SftpServer;
let tmp: string;
beforeAll(async () => {
  if (skip) return;
  srv = await startSftpServer();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'redlab-sftp-cli-'));
  fs.mkdirSync(path.join(srv.home, 'in'));
  fs.writeFileSync(path.join(srv.home, 'in/words.txt'), 'hello sftp\n');
}, 30_000);
afterAll(async () => {
  await srv?.stop();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

/** A RED whose input comes and whose output folder goes over SFTP to `out/<outDir>`. */
function sftpRed(outDir: string): string {
  const access = (p: Record<string, string>) => JSON.stringify({ host: '127.0.0.1', port: srv.port, auth: { username: srv.user, password: '{{sftp_pw}}' }, ...p });
  const file = path.join(tmp, `${outDir}.red.yml`);
  fs.writeFileSync(
    file,
    `redVersion: "9"
cli:
  cwlVersion: v1.0
  class: CommandLineTool
  baseCommand: [sh, -c]
  inputs:
    script: {type: string, inputBinding: {position: 0}}
    words: {type: File, inputBinding: {position: 1}}
  outputs:
    result: {type: Directory, outputBinding: {glob: res}}
inputs:
  script: 'mkdir -p res/sub && tr a-z A-Z < "$0" > res/sub/upper.txt && cat res/sub/upper.txt'
  words: {class: File, connector: {command: red-connector-ssh, access: ${access({ filePath: 'in/words.txt' })}}}
outputs:
  result: {class: Directory, connector: {command: red-connector-ssh, access: ${access({ dirPath: `out/${outDir}` })}}}
container:
  engine: docker
  settings: {image: {url: redlab/busybox:1}, ram: 256}
`
  );
  return file;
}

async function runAndCheck(outDir: string, launcher?: string): Promise<void> {
  const file = sftpRed(outDir);
  const r = await runRedlab(
    ['run', file, '--non-interactive', '--json', '--outdir', path.join(tmp, `outputs-${outDir}`), '--allow-connector-host', '127.0.0.1', '--ssh-known-hosts', srv.knownHostsFile],
    { cwd: tmp, env: { REDLAB_VAR_sftp_pw: srv.password }, launcher }
  );
  expect(r.stdout + r.stderr).not.toContain(srv.password);
  expect({ code: r.code, stderr: r.code ? r.stderr : '' }).toEqual({ code: 0, stderr: '' });
  const result = JSON.parse(r.stdout);
  expect(result.state).toBe('succeeded');
  expect(r.stderr).toContain('HELLO SFTP');
  expect(result.outputs.result).toMatchObject({ path: `sftp://${srv.user}@127.0.0.1:${srv.port}/~/out/${outDir}`, class: 'Directory', connector: 'red-connector-ssh' });
  expect(fs.readFileSync(path.join(srv.home, `out/${outDir}/sub/upper.txt`), 'utf8')).toBe('HELLO SFTP\n');
}

d('redlab run with red-connector-ssh', () => {
  it('receives the input and sends the output folder over SFTP', () => runAndCheck('run1'), 90_000);

  // A pip-installed package has no repository around it: ssh2, which the bundles load from
  // node_modules on first use, must travel in the package (it did not: SFTP failed there).
  const packaged = fs.existsSync(path.join(PYTHON_PACKAGE_BRIDGE, 'launch.js')) ? it : it.skip;
  packaged('does the same from the Python package\'s copy of the bridge, away from the repository\'s node_modules', async () => {
    const away = fs.mkdtempSync(path.join(os.tmpdir(), 'redlab-pip-bridge-'));
    try {
      fs.cpSync(PYTHON_PACKAGE_BRIDGE, away, { recursive: true });
      await runAndCheck('run2', path.join(away, 'launch.js'));
    } finally {
      fs.rmSync(away, { recursive: true, force: true });
    }
  }, 90_000);
});
