// Curious Containers connector images (engine/cc-connectors.ts) on the real Docker engine:
// a connector of our own written to the RED Connector CLI 1 protocol
// (fixtures/cc-connector/my-connector) baked into an image built here FROM the local
// Debian python image, reaching an HTTP server on Docker's bridge gateway. Receive and
// send of files and folders, validation before any transfer, the protocol version, a
// command the image lacks, mount: true, a planted link, and the access file's secret
// gone from the disk; then a whole run through the Docker engine.
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as http from 'http';
import type { AddressInfo } from 'net';
import * as path from 'path';
import type { FileOrDirectory } from '../../../src/red/types';
import { defaultConnectors } from '../../src/connectors/registry';
import type { ConnectorContext } from '../../src/connectors/types';
import { ccConnectorFallback, LABEL_CONNECTOR, removeEndedConnectorHelpers, validateConnectors, type ExperimentImage } from '../../src/engine/cc-connectors';
import { DockerEngine } from '../../src/engine/docker';
import { listInputItems, stageInputs } from '../../src/engine/staging';
import { PYTHON, TEST_LABEL, containersWithLabel, dockerTestFile, request, tempDir } from '../helpers/red';

const { docker, testId, labels } = dockerTestFile();
const IMAGE = `redlab-test/cc-connector:${testId.slice(0, 8)}`;
const FIXTURE = path.join(__dirname, 'fixtures/cc-connector');
const USER = 'lab';
const PASSWORD = 'cc-secret-9f3a7e';

/** A server on Docker's bridge gateway: GET serves `files`, PUT stores into `put`; basic auth USER/PASSWORD. */
interface Server {
  url: string;
  files: Record<string, string>;
  put: Record<string, string>;
  log: string[];
  close(): Promise<void>;
}

async function startServer(host: string): Promise<Server> {
  const s = { files: {} as Record<string, string>, put: {} as Record<string, string>, log: [] as string[] };
  const server = http.createServer((req, res) => {
    const url = req.url ?? '/';
    s.log.push(`${req.method} ${url}`);
    if (req.headers.authorization !== `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`) {
      res.writeHead(401).end('who are you?');
      return;
    }
    if (req.method === 'PUT') {
      const chunks: Buffer[] = [];
      req.on('data', c => chunks.push(c));
      req.on('end', () => {
        s.put[url] = Buffer.concat(chunks).toString();
        res.writeHead(201).end();
      });
      return;
    }
    const body = s.files[url];
    if (body === undefined) res.writeHead(404).end('not here');
    else res.writeHead(200).end(body);
  });
  await new Promise<void>(resolve => server.listen(0, host, resolve));
  const { port } = server.address() as AddressInfo;
  return { ...s, url: `http://${host}:${port}`, close: () => new Promise(r => server.close(() => r())) };
}

let srv: Server;
let dir: string;
let privateDir: string;
let img: ExperimentImage;

beforeAll(async () => {
  execFileSync('docker', ['build', '-q', '--build-arg', `BASE=${PYTHON}`, '-t', IMAGE, FIXTURE], { stdio: 'pipe' });
  const bridge = await docker.getNetwork('bridge').inspect();
  srv = await startServer(bridge.IPAM?.Config?.[0]?.Gateway ?? '172.17.0.1');
  srv.files['/data.txt'] = 'over http\n';
  srv.files['/tree/a.txt'] = 'alpha\n';
  srv.files['/tree/sub/b.txt'] = 'beta\n';
}, 180_000);
afterAll(async () => {
  await srv?.close();
  await docker.getImage(IMAGE).remove({ force: true }).catch(() => undefined);
});
beforeEach(async () => {
  dir = await tempDir('redlab-cc-conn-');
  privateDir = path.join(dir, 'private');
  fs.mkdirSync(privateDir, { mode: 0o700 });
  img = { docker, image: IMAGE, imageUrl: IMAGE, labels, privateDir };
  srv.log.length = 0;
  for (const k of Object.keys(srv.put)) delete srv.put[k];
});

const registry = () => defaultConnectors().withFallback(ccConnectorFallback);
const ctx = (over: Partial<ConnectorContext> = {}): ConnectorContext => ({ baseDir: dir, allowedRoots: [dir], experimentImage: img, ...over });
const auth = () => ({ username: USER, password: PASSWORD });
const cli = (inputs: Record<string, string>) => ({
  cwlVersion: 'v1.0' as const,
  class: 'CommandLineTool' as const,
  baseCommand: 'true',
  inputs: Object.fromEntries(Object.entries(inputs).map(([k, type], i) => [k, { type, inputBinding: { position: i } }])),
  outputs: {}
});
const input = (cls: 'File' | 'Directory', access: Record<string, unknown>, more: Partial<FileOrDirectory> = {}, command = 'my-connector'): FileOrDirectory =>
  ({ class: cls, connector: { command, access }, ...more }) as FileOrDirectory;
let n = 0;
const stage = (values: Record<string, FileOrDirectory>, c = ctx()) =>
  stageInputs({
    items: listInputItems(cli(Object.fromEntries(Object.entries(values).map(([k, v]) => [k, v.class]))), values),
    inputsDir: path.join(privateDir, `in-${++n}`),
    registry: registry(),
    ctx: c
  });
const validate = (values: Record<string, FileOrDirectory>, c = ctx()) =>
  validateConnectors({ items: listInputItems(cli(Object.fromEntries(Object.entries(values).map(([k, v]) => [k, v.class]))), values), outputs: [], batch: { inputs: values } }, true, registry(), c);

/** Every file below `root` (relative paths). */
function walk(root: string, rel = ''): string[] {
  return fs.readdirSync(path.join(root, rel), { withFileTypes: true }).flatMap(e => (e.isDirectory() ? walk(root, path.join(rel, e.name)) : [path.join(rel, e.name)]));
}

/** No access file left, and the secret in no file below the private folder. */
function expectNoSecretLeft(): void {
  expect(fs.readdirSync(privateDir).filter(n => n.startsWith('.redlab-connector-'))).toEqual([]);
  for (const f of walk(privateDir)) expect(fs.readFileSync(path.join(privateDir, f), 'utf8')).not.toContain(PASSWORD);
}

describe('helpers left by a process that died', () => {
  it('ended ones are removed once their run can no longer want them; running ones stay', async () => {
    const make = async (cmd: string[]) => {
      const c = await docker.createContainer({ Image: IMAGE, Cmd: cmd, Entrypoint: [], Labels: { ...labels, [LABEL_CONNECTOR]: 'receive-file' }, HostConfig: { AutoRemove: false } });
      await c.start();
      return c;
    };
    const ended = await make(['true']);
    await ended.wait();
    const running = await make(['sleep', '60']);
    const name = async (c: typeof ended) => (await c.inspect()).Name.replace(/^\//, '');
    const endedName = await name(ended);
    const runningName = await name(running);
    try {
      // Just ended: its own run may still be reading its output.
      expect(await removeEndedConnectorHelpers(docker)).not.toContain(endedName);
      expect((await ended.inspect()).State.Status).toBe('exited');
      const removed = await removeEndedConnectorHelpers(docker, 0);
      expect(removed).toContain(endedName);
      expect(removed).not.toContain(runningName);
      await expect(ended.inspect()).rejects.toThrow(/no such container/i);
      expect((await running.inspect()).State.Status).toBe('running');
    } finally {
      await ended.remove({ force: true }).catch(() => undefined);
      await running.remove({ force: true }).catch(() => undefined);
    }
  }, 60_000);
});

describe('the registry fallback', () => {
  it('only the view made by withFallback runs unknown commands; the shared registry still refuses them, and the view sees later registrations', () => {
    const shared = defaultConnectors();
    const view = shared.withFallback(ccConnectorFallback);
    expect(view.input('red-connector-xnat', 'genome', 'File').command).toBe('red-connector-xnat');
    expect(view.output('red-connector-xnat', 'result', 'Directory').command).toBe('red-connector-xnat');
    expect(() => shared.input('red-connector-xnat', 'genome', 'File')).toThrow('connector red-connector-xnat is not supported yet (input genome)');
    expect(view.input('red-connector-http', 'genome', 'File')).toBe(shared.input('red-connector-http', 'genome', 'File'));
    const late = { command: 'late-connector', classes: ['File' as const], stage: async () => ({ hostPath: '/x', copied: true }) };
    shared.registerInput(late);
    expect(view.input('late-connector', 'genome', 'File')).toBe(late);
    expect(view.inputCommands).toEqual(shared.inputCommands);
  });
});

describe('Curious Containers connector images (a connector of RED Connector CLI 1 inside the experiment image)', () => {
  it('receive-file over HTTP with the access (and its password) from the ACCESS file; the file is gone afterwards', async () => {
    const staged = await stage({ data: input('File', { url: `${srv.url}/data.txt`, auth: auth() }) });
    const rec = staged.records.data as { path: string; size: number };
    expect(fs.readFileSync(rec.path, 'utf8')).toBe('over http\n');
    expect(rec.size).toBe(10);
    expect(srv.log).toEqual(['GET /data.txt']);
    expectNoSecretLeft();
    // The helper containers are gone too.
    expect(await containersWithLabel(docker, TEST_LABEL, testId)).toEqual([]);
  }, 60_000);

  it('receive-file from a path inside the image, and receive-dir with a listing (passed as --listing=FILE) over HTTP', async () => {
    const listing = [
      { class: 'File' as const, basename: 'a.txt' },
      { class: 'Directory' as const, basename: 'sub', listing: [{ class: 'File' as const, basename: 'b.txt', size: 5 }] }
    ];
    const staged = await stage({
      local: input('File', { path: '/srv/data/one.txt' }),
      tree: input('Directory', { url: `${srv.url}/tree`, auth: auth() }, { listing })
    });
    expect(fs.readFileSync((staged.records.local as { path: string }).path, 'utf8')).toBe('inside the image\n');
    const tree = (staged.records.tree as { path: string }).path;
    expect(walk(tree).sort()).toEqual(['a.txt', 'sub/b.txt']);
    expect(fs.readFileSync(path.join(tree, 'sub/b.txt'), 'utf8')).toBe('beta\n');
    expect(srv.log.sort()).toEqual(['GET /tree/a.txt', 'GET /tree/sub/b.txt']);
    // The connector's receive-dir-validate refuses a folder over HTTP without --listing.
    await expect(validate({ tree: input('Directory', { url: `${srv.url}/tree`, auth: auth() }) })).rejects.toThrow(
      'input tree: connector my-connector receive-dir-validate failed (exit code 2): receiving a folder over HTTP needs a listing (--listing)'
    );
    expectNoSecretLeft();
  }, 90_000);

  it('send-file and send-dir with the output bound read-only', async () => {
    const out = fs.mkdtempSync(path.join(privateDir, 'send-'));
    fs.writeFileSync(path.join(out, 'result.txt'), 'the result\n');
    const connector = registry().output('my-connector', 'result', 'File');
    const sent = await connector.send({ key: 'result', class: 'File', hostPath: path.join(out, 'result.txt'), access: { url: `${srv.url}/up/result.txt`, auth: auth() } }, ctx());
    expect(sent.target).toContain('my-connector');
    expect(srv.put).toEqual({ '/up/result.txt': 'the result\n' });

    const outDir = fs.mkdtempSync(path.join(privateDir, 'send-'));
    fs.mkdirSync(path.join(outDir, 'weights/deep'), { recursive: true });
    fs.writeFileSync(path.join(outDir, 'weights/w1.bin'), 'w1');
    fs.writeFileSync(path.join(outDir, 'weights/deep/w2.bin'), 'w2');
    await registry()
      .output('my-connector', 'weights', 'Directory')
      .send({ key: 'weights', class: 'Directory', hostPath: path.join(outDir, 'weights'), access: { url: `${srv.url}/up/weights`, auth: auth() } }, ctx());
    expect(srv.put).toMatchObject({ '/up/weights/w1.bin': 'w1', '/up/weights/deep/w2.bin': 'w2' });
    // What was sent is as it was: the helper had it read-only.
    expect(fs.readFileSync(path.join(outDir, 'weights/w1.bin'), 'utf8')).toBe('w1');
    expectNoSecretLeft();
  }, 90_000);

  it("validation fails before any transfer, with the connector's stderr (else its stdout) as the message", async () => {
    const values = {
      first: input('File', { url: `${srv.url}/data.txt`, auth: auth() }),
      second: input('File', { fail: 'the xnat server refused the session: check access.auth' })
    };
    await expect(validate(values)).rejects.toThrow('input second: connector my-connector receive-file-validate failed (exit code 3): the xnat server refused the session: check access.auth');
    expect(srv.log).toEqual([]);
    await expect(validate({ q: input('File', { failQuiet: 'only on stdout' }) })).rejects.toThrow(
      'input q: connector my-connector receive-file-validate failed (exit code 4): its stderr was empty; its stdout: only on stdout'
    );
    expectNoSecretLeft();
  }, 60_000);

  it('a connector whose cli-version is not 1, a command the image lacks, mount: true, and no image to run it in: each a clear error', async () => {
    await expect(stage({ d: input('File', { path: '/x' }, {}, 'old-connector') })).rejects.toThrow(
      `input d: image ${IMAGE}'s connector old-connector does not speak the CC connector protocol version 1 (\`old-connector cli-version\` must print 1; it printed "0.1")`
    );
    await expect(stage({ d: input('File', { path: '/x' }, {}, 'red-connector-xnat') })).rejects.toThrow(
      `input d: image ${IMAGE} has no connector command red-connector-xnat (it is not on the image's PATH, or not executable): it is not a built-in connector either; check connector.command, or install the connector in the image`
    );
    await expect(validate({ d: input('Directory', { path: '/srv/data/tree' }, {}) }).then(() => stage({ d: input('Directory', { path: '/srv/data/tree' }, {}) }))).resolves.toBeDefined();
    await expect(validate({ d: { ...input('Directory', { url: srv.url }), connector: { command: 'my-connector', access: { url: srv.url }, mount: true } } })).rejects.toThrow(
      /^input d: connector my-connector has mount: true; its mount-dir would need SYS_ADMIN and \/dev\/fuse inside the container, which RED Lab never gives a container\. Set mount: false to receive the folder \(receive-dir\) before the run$/
    );
    await expect(stage({ d: input('File', { path: '/x' }) }, ctx({ experimentImage: undefined }))).rejects.toThrow(
      /^input d: connector my-connector is not built in \(built in: red-connector-http, .*\); RED Lab runs other connectors \(Curious Containers connector images\) inside the experiment's image only on a Docker engine on this host/
    );
    expect(() => registry().input('my connector\n', 'd', 'File')).toThrow('input d: connector.command "my connector\\n" is not a program name');
  }, 90_000);

  it("the helper runs as the batch's user: a non-root user writes the input holder and reads the access file", async () => {
    const asUser = { ...img, user: '4321:4321' };
    const staged = await stage({ data: input('File', { url: `${srv.url}/data.txt`, auth: auth() }), tree: input('Directory', { path: '/srv/data/tree' }) }, ctx({ experimentImage: asUser }));
    const rec = staged.records.data as { path: string };
    expect(fs.readFileSync(rec.path, 'utf8')).toBe('over http\n');
    expect(fs.statSync(rec.path).uid).toBe(4321);
    // The holder is closed again once the connector is done.
    expect(fs.statSync(path.dirname(rec.path)).mode & 0o777).toBe(0o755);
    expectNoSecretLeft();
  }, 60_000);

  it('access files are refused where others could read them', async () => {
    const open = path.join(dir, 'open');
    fs.mkdirSync(open, { mode: 0o755 });
    fs.chmodSync(dir, 0o755);
    await expect(stage({ data: input('File', { path: '/srv/data/one.txt' }) }, ctx({ experimentImage: { ...img, privateDir: open } }))).rejects.toThrow(
      `the folder for connector access files ${open} is not below a private (0700) folder: others could read the secrets`
    );
  }, 60_000);

  it('a link the connector leaves instead of the data is refused (it would lead to the host)', async () => {
    await expect(stage({ d: input('File', { path: '/x', plantLink: '/etc/shadow' }) })).rejects.toThrow(
      'input d: connector my-connector left a symbolic link at /cc/inputs/…/d; it must write the data itself'
    );
  }, 60_000);

  it('a whole run on the Docker engine: input received and output sent by the image\'s connector, secrets nowhere in the work folder', async () => {
    const workRoot = path.join(dir, 'work');
    const red = `redVersion: "9"
cli:
  cwlVersion: v1.0
  class: CommandLineTool
  baseCommand: [sh, -c]
  inputs:
    script: {type: string, inputBinding: {position: 0}}
    data: {type: File, inputBinding: {position: 1}}
  outputs:
    out: {type: File, outputBinding: {glob: out.txt}}
inputs:
  script: 'tr a-z A-Z < "$0" > out.txt'
  data:
    class: File
    connector: {command: my-connector, access: {url: "${srv.url}/data.txt", auth: {username: ${USER}, password: "{{pw}}"}}}
outputs:
  out:
    class: File
    connector: {command: my-connector, access: {url: "${srv.url}/up/out.txt", auth: {username: ${USER}, password: "{{pw}}"}}}
container:
  engine: docker
  settings:
    image: {url: "${IMAGE}"}
`;
    const engine = new DockerEngine({ workRoot, keepWorkDir: 'always', pull: 'never' });
    const loaded = request(red.replace(/\{\{pw\}\}/g, PASSWORD), dir, { labels });
    const res = await engine.run(loaded, {});
    expect(res.error).toBeUndefined();
    expect(res.state).toBe('succeeded');
    expect(srv.put).toEqual({ '/up/out.txt': 'OVER HTTP\n' });
    expect(res.outputs!.out).toMatchObject({ connector: 'my-connector', size: 10 });
    expect(srv.log).toEqual(['GET /data.txt', 'PUT /up/out.txt']);
    // The kept work folder holds the input and output, never an access file.
    const kept = walk(workRoot);
    expect(kept.some(f => f.includes('.redlab-connector-'))).toBe(false);
    for (const f of kept) expect(fs.readFileSync(path.join(workRoot, f), 'utf8')).not.toContain(PASSWORD);
    expect(await containersWithLabel(docker, TEST_LABEL, testId)).toEqual([]);

    // A validation failure of the output stops the batch before the input moves.
    srv.log.length = 0;
    const bad = await engine.run(request(red.replace(/\{\{pw\}\}/g, PASSWORD).replace(`"${srv.url}/up/out.txt"`, `"${srv.url}/up/out.txt", fail: "no write access to /up"`), dir, { labels }), {});
    expect(bad.state).toBe('failed');
    expect(bad.error).toBe('output out: connector my-connector send-file-validate failed (exit code 3): no write access to /up');
    expect(srv.log).toEqual([]);
  }, 120_000);
});
