// `redlab run` (the built binary, real Docker) with secrets that a URL parser encodes:
// nothing the CLI prints (progress and container output on stderr, the --json result on
// stdout, errors) may hold any form of them. And red-connector-http on the host refuses
// loopback unless allowed with --allow-connector-host or REDLAB_ALLOW_CONNECTOR_HOSTS.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { startTestServer, type TestServer } from '../helpers/http-server';
import { runRedlab } from '../helpers/redlab-cli';
import { encodedForms, leakedForms } from '../helpers/secret-forms';

const PW = 'Pä ss-wörd "7" \\x';
const TOK = 'tok en Ünï-42';
const HOST = 'Tenant-Sëcret';
const PAYLOAD_FORMS = [encodedForms(PW, 'alice'), encodedForms(TOK)];
const FORMS = [...PAYLOAD_FORMS, encodedForms(HOST)];

/** `redlab ...args` in the test's folder, `env` on top of this process's. */
const redlab = (args: string[], env: NodeJS.ProcessEnv = {}) => runRedlab(args, { cwd: tmp, env });

function writeRed(name: string, url: string, auth = false): string {
  const file = path.join(tmp, name);
  const access = JSON.stringify({ url, ...(auth ? { auth: { username: 'alice', password: '{{pw}}', method: 'basic' } } : {}) });
  fs.writeFileSync(
    file,
    `redVersion: "9"
cli:
  cwlVersion: v1.0
  class: CommandLineTool
  baseCommand: [sh, -c]
  inputs:
    script: { type: string, inputBinding: { position: 0 } }
    payload: { type: File, inputBinding: { position: 1 } }
  outputs:
    log: { type: stdout }
  stdout: log.txt
inputs:
  script: 'cat "$0"; cat "$0" >&2'
  payload:
    class: File
    connector: { command: red-connector-http, access: ${access} }
outputs: {}
container:
  engine: docker
  settings: { image: { url: redlab/busybox:1 }, ram: 256 }
`
  );
  return file;
}

let tmp: string;
let server: TestServer;
/** Without auth, for the loopback checks. */
let open: TestServer;
beforeAll(async () => {
  open = await startTestServer({ files: { '/plain.txt': 'plain\n' } });
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'redlab-cli-secrets-'));
  server = await startTestServer({ files: { '/secret.txt': PAYLOAD_FORMS.flat().join('\n') + '\n' }, auth: { username: 'alice', password: PW, method: 'basic' } });
});
afterAll(async () => {
  await server.close();
  await open.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('redlab run masks every form of a secret', () => {
  it('in the container output, progress and --json of a run that succeeds', async () => {
    const file = writeRed('ok.red.yml', `${server.url}/secret.txt?token={{tok}}`, true);
    const outdir = path.join(tmp, 'ok');
    const r = await redlab(['run', file, '--non-interactive', '--json', '--outdir', outdir, '--allow-connector-host', '127.0.0.1'], {
      REDLAB_VAR_pw: PW,
      REDLAB_VAR_tok: TOK
    });
    expect(leakedForms(r.stdout, FORMS)).toEqual([]);
    expect(leakedForms(r.stderr, FORMS)).toEqual([]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).state).toBe('succeeded');
    // The container printed each form on a line of its own, on stdout and stderr (both on stderr with --json): each is ******** now.
    const masked = r.stderr.split('\n').filter(l => l === '********').length;
    expect(masked).toBe(2 * PAYLOAD_FORMS.flat().length);
    // The output file keeps what the container wrote (the scan finds the forms there).
    expect(leakedForms(fs.readFileSync(path.join(outdir, 'log.txt')), PAYLOAD_FORMS).length).toBe(PAYLOAD_FORMS.flat().length);
  }, 60_000);

  it('in the error of a connector that fails (lowercased punycode host, percent-encoded query)', async () => {
    const file = writeRed('bad.red.yml', 'http://{{h}}.invalid/f.txt?token={{tok}}');
    const r = await redlab(['run', file, '--non-interactive', '--json', '--outdir', path.join(tmp, 'bad')], { REDLAB_VAR_h: HOST, REDLAB_VAR_tok: TOK });
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout).error).toMatch(/^input payload: GET http:\/\/\*{8}\.invalid\/f\.txt\?token=\*{8}: host not found/);
    expect(leakedForms(r.stdout, FORMS)).toEqual([]);
    expect(leakedForms(r.stderr, FORMS)).toEqual([]);
  }, 60_000);

  // The engine hands values on unmasked: the output sink is what masks the command, the live logs and the error.
  it('in the command, the live logs and the error of a command that fails, but not in its output file', async () => {
    const file = path.join(tmp, 'fail.red.yml');
    // {{variables}} live in access objects; the same values pasted as arguments are masked as theirs.
    const access = JSON.stringify({ url: `${server.url}/secret.txt?token={{tok}}`, auth: { username: 'alice', password: '{{pw}}', method: 'basic' } });
    fs.writeFileSync(
      file,
      `redVersion: "9"
cli:
  cwlVersion: v1.0
  class: CommandLineTool
  baseCommand: [sh, -c]
  inputs:
    script: {type: string, inputBinding: {position: 0}}
    payload: {type: File, inputBinding: {position: 1}}
    token: {type: string, inputBinding: {position: 2}}
    pw: {type: string, inputBinding: {position: 3}}
  outputs:
    out: {type: stdout}
  stdout: out.txt
inputs:
  script: 'echo "token=$1"; echo "bad $1 $2" >&2; exit 1'
  payload: { class: File, connector: { command: red-connector-http, access: ${access} } }
  token: ${JSON.stringify(TOK)}
  pw: ${JSON.stringify(PW)}
container:
  engine: docker
  settings: { image: { url: redlab/busybox:1 }, ram: 256 }
`
    );
    const outdir = path.join(tmp, 'fail');
    const r = await redlab(['run', file, '--non-interactive', '--json', '--outdir', outdir, '--allow-connector-host', '127.0.0.1'], { REDLAB_VAR_tok: TOK, REDLAB_VAR_pw: PW });
    expect(leakedForms(r.stdout, FORMS)).toEqual([]);
    expect(leakedForms(r.stderr, FORMS)).toEqual([]);
    expect(r.code).toBe(1);
    const result = JSON.parse(r.stdout);
    expect(result.command).toEqual(['sh', '-c', 'echo "token=$1"; echo "bad $1 $2" >&2; exit 1', '/cc/inputs/payload/payload', '********', '********']);
    expect(result.error).toBe('the command exited with code 1; its stderr ends with:\nbad ******** ********');
    // The container's stdout (on stderr with --json) and stderr, live, and the summary.
    expect(r.stderr).toContain('\ntoken=********\n');
    expect(r.stderr).toContain('\nbad ******** ********\n');
    expect(r.stderr).toContain('redlab: error: the command exited with code 1; its stderr ends with:\nbad ******** ********');
    expect(fs.readFileSync(path.join(outdir, 'out.txt'), 'utf8')).toBe(`token=${TOK}\n`);
  }, 60_000);
});

describe('redlab run: connectors and loopback', () => {
  it('refuses a loopback URL by default, naming the input, the host and the opt-in', async () => {
    const file = writeRed('loop.red.yml', `${open.url}/plain.txt`);
    const r = await redlab(['run', file, '--non-interactive', '--outdir', path.join(tmp, 'loop')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/input payload: GET http:\/\/127\.0\.0\.1:\d+\/plain\.txt: refused to connect to 127\.0\.0\.1: it is a loopback address/);
    expect(r.stderr).toContain('--allow-connector-host 127.0.0.1');
    expect(open.requests).toEqual([]);
  }, 60_000);

  it.each([
    ['--allow-connector-host', ['--allow-connector-host', '127.0.0.1'], {}],
    ['REDLAB_ALLOW_CONNECTOR_HOSTS', [], { REDLAB_ALLOW_CONNECTOR_HOSTS: 'lab.example,127.0.0.1' }]
  ])('allows it with %s', async (_name, args, env) => {
    const file = writeRed('loop.red.yml', `${open.url}/plain.txt`);
    const r = await redlab(['run', file, '--non-interactive', '--json', '--outdir', path.join(tmp, `allowed-${args.length}`), ...args], env);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('plain');
  }, 60_000);

  it('a bad --allow-connector-host is a usage error naming it', async () => {
    const r = await redlab(['run', writeRed('x.red.yml', `${open.url}/plain.txt`), '--allow-connector-host', 'http://nope/']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--allow-connector-host http://nope/: not a host name, IP address or CIDR range');
  });
});
