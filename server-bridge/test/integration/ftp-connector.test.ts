// red-connector-ftp against a real FTP server (vsftpd, helpers/vsftpd.ts) on 127.0.0.1:
// receive a file and folders (through the normal staging path, with checksum and
// listing checks), send a file and a folder (read back from the server's folder), and
// the failures people meet: wrong password, missing file, nothing listening, loopback
// not allowed.
import { createHash } from 'crypto';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'fs/promises';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import type { CommandLineTool, FileOrDirectory } from '../../../src/red';
import { createFtpConnectors, parseFtpAccess } from '../../src/connectors/ftp';
import { HostPolicy } from '../../src/connectors/host-policy';
import { defaultConnectors } from '../../src/connectors/registry';
import type { ConnectorContext } from '../../src/connectors/types';
import { listInputItems, stageInputs } from '../../src/engine/staging';
import { freePort } from '../helpers/http-server';
import { startVsftpd, type FtpTestServer } from '../helpers/vsftpd';

// The server listens on 127.0.0.1: allowed explicitly, as an operator would.
const registry = defaultConnectors({ hostPolicy: new HostPolicy({ allow: ['127.0.0.1'] }) });
const ftpIn = registry.input('red-connector-ftp', 'test', 'Directory');
const ftpOut = registry.output('red-connector-ftp', 'test', 'Directory');

const TEXT = 'tile 1\n'.repeat(1000);
const sha1 = (s: string) => createHash('sha1').update(s).digest('hex');

let server: FtpTestServer;
let tmp: string;
let ctx: ConnectorContext;
beforeAll(async () => {
  server = await startVsftpd({
    'data/tiles.txt': TEXT,
    'data/set/a.txt': 'a\n',
    'data/set/sub dir/b.txt': 'b\n',
    'data/set/sub dir/deeper/c.txt': 'c\n'
  });
});
afterAll(() => server?.stop());
beforeEach(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'redlab-ftp-'));
  // One try: these tests are about each failure's words (retries: connector-retry.test.ts).
  ctx = { baseDir: tmp, allowedRoots: [tmp], retry: { attempts: 1 } };
});
afterEach(() => rm(tmp, { recursive: true, force: true }));

const auth = () => ({ username: server.username, password: server.password });
const ftpValue = (cls: 'File' | 'Directory', remote: string, extra: Partial<FileOrDirectory> = {}, a: Record<string, unknown> = auth()): FileOrDirectory => ({
  class: cls,
  connector: { command: 'red-connector-ftp', access: { url: server.url(remote), auth: a } },
  ...extra
});
const cli = (inputs: Record<string, string>): CommandLineTool =>
  ({ cwlVersion: 'v1.0', class: 'CommandLineTool', baseCommand: 'true', inputs: Object.fromEntries(Object.entries(inputs).map(([k, t]) => [k, { type: t }])), outputs: {} }) as CommandLineTool;

/** The error `p` rejects with (a test fails when it resolves). */
async function failure(p: Promise<unknown>): Promise<Error> {
  return p.then(
    () => {
      throw new Error('expected a failure');
    },
    (e: Error) => e
  );
}

async function stage(values: Record<string, FileOrDirectory>) {
  const types = Object.fromEntries(Object.entries(values).map(([k, v]) => [k, v.class]));
  return stageInputs({ items: listInputItems(cli(types), values), inputsDir: path.join(tmp, 'inputs'), registry, ctx });
}

describe('red-connector-ftp input', () => {
  it('receives a file through staging, checked against its sha1 checksum and size', async () => {
    const staged = await stage({ tiles: ftpValue('File', 'data/tiles.txt', { checksum: `sha1$${sha1(TEXT)}`, size: TEXT.length }) });
    const rec = staged.records.tiles as { path: string; size: number };
    expect(await readFile(rec.path, 'utf8')).toBe(TEXT);
    expect(rec.size).toBe(TEXT.length);
  });

  it('fails staging on a checksum mismatch, naming the input and both sums', async () => {
    const wrong = 'sha1$' + '0'.repeat(40);
    await expect(stage({ tiles: ftpValue('File', 'data/tiles.txt', { checksum: wrong }) })).rejects.toThrow(
      `input tiles: checksum mismatch: the RED says ${wrong}, the data has sha1$${sha1(TEXT)}`
    );
  });

  it('receives a folder recursively (names with spaces included), and only what a listing names', async () => {
    const whole = path.join(tmp, 'whole');
    await ftpIn.stage({ key: 'set', label: 'set', value: ftpValue('Directory', 'data/set'), dest: whole }, ctx);
    expect(await readFile(path.join(whole, 'a.txt'), 'utf8')).toBe('a\n');
    expect(await readFile(path.join(whole, 'sub dir/b.txt'), 'utf8')).toBe('b\n');
    expect(await readFile(path.join(whole, 'sub dir/deeper/c.txt'), 'utf8')).toBe('c\n');

    const listing = [{ class: 'Directory' as const, basename: 'sub dir', listing: [{ class: 'File' as const, basename: 'b.txt', checksum: `sha1$${sha1('b\n')}` }] }];
    const staged = await stage({ set: ftpValue('Directory', 'data/set', { listing }) });
    const dir = (staged.records.set as { path: string }).path;
    expect(await readdir(dir)).toEqual(['sub dir']);
    expect(await readdir(path.join(dir, 'sub dir'))).toEqual(['b.txt']);
  });

  it('says the login was refused (530) on a wrong password, without the password', async () => {
    const value = ftpValue('File', 'data/tiles.txt', {}, { username: server.username, password: 'not-the-password' });
    const err = await failure(ftpIn.stage({ key: 'f', label: 'f', value, dest: path.join(tmp, 'f') }, ctx));
    expect(err.message).toMatch(/^input f: red-connector-ftp ftp:\/\/127\.0\.0\.1:\d+\/data\/tiles\.txt: login: login refused \(the server answered 530 /);
    expect(err.message).toContain('check auth.username and auth.password in connector.access of input f');
    expect(err.message).not.toContain('not-the-password');
  });

  it('says a missing file was not found (550) and masks a password given in the URL', async () => {
    const url = `ftp://${server.username}:${encodeURIComponent(server.password)}@127.0.0.1:${server.port}/data/nope.txt`;
    const value: FileOrDirectory = { class: 'File', connector: { command: 'red-connector-ftp', access: { url } } };
    const err = await failure(ftpIn.stage({ key: 'f', label: 'f', value, dest: path.join(tmp, 'f') }, ctx));
    expect(err.message).toContain(`input f: red-connector-ftp ftp://${server.username}:********@127.0.0.1:${server.port}/data/nope.txt: download of data/nope.txt: no such file or folder, or no permission (the server answered 550 `);
    expect(err.message).toContain('check the path in connector.access.url of input f');
    expect(err.message).not.toContain(server.password);
  });

  it('says when nothing listens, and refuses loopback unless allowed', async () => {
    const port = await freePort();
    const value: FileOrDirectory = { class: 'File', connector: { command: 'red-connector-ftp', access: { url: `ftp://127.0.0.1:${port}/x` } } };
    await expect(ftpIn.stage({ key: 'f', label: 'f', value, dest: path.join(tmp, 'f') }, ctx)).rejects.toThrow(
      `input f: red-connector-ftp ftp://127.0.0.1:${port}/x: login: connection refused (nothing listens at that host and port); check that the server runs and the host and port in connector.access.url of input f`
    );
    const strict = createFtpConnectors().input;
    await expect(strict.stage({ key: 'f', label: 'f', value: ftpValue('File', 'data/tiles.txt'), dest: path.join(tmp, 'g') }, ctx)).rejects.toThrow(
      /refused to connect to 127\.0\.0\.1: it is a loopback address.*--allow-connector-host 127\.0\.0\.1/
    );
  });

  it('checks the access fields, naming the bad one', () => {
    expect(() => parseFtpAccess({ url: 'http://h/x' }, 'input x')).toThrow('input x (red-connector-ftp): access.url must start with ftp:// or ftps://, not http://');
    expect(() => parseFtpAccess({ url: 'ftp://h/x', user: 'u' }, 'input x')).toThrow('unknown access key user; allowed: url, port, auth');
    expect(() => parseFtpAccess({ url: 'ftp://h:2121/x', port: 21 }, 'input x')).toThrow('access.port 21 and the port in access.url (2121) differ; give one');
    expect(parseFtpAccess({ url: 'ftp://h/%2Fpub/x', port: 2121 }, 'input x')).toMatchObject({ host: 'h', port: 2121, remotePath: '/pub/x', username: 'anonymous', secure: false });
  });
});

describe('red-connector-ftp output', () => {
  it('sends a file into folders it makes, and a folder tree; the target has no password', async () => {
    const file = path.join(tmp, 'weights.bin');
    await writeFile(file, 'weights\n');
    const access = { url: server.url('results/run 1/weights.bin'), auth: auth() };
    expect(await ftpOut.send({ key: 'weights', class: 'File', hostPath: file, access }, ctx)).toEqual({ target: server.url('results/run%201/weights.bin') });
    expect(await readFile(path.join(server.root, 'results/run 1/weights.bin'), 'utf8')).toBe('weights\n');

    const dir = path.join(tmp, 'logs');
    await mkdir(path.join(dir, 'epoch 1'), { recursive: true });
    await writeFile(path.join(dir, 'summary.txt'), 'done\n');
    await writeFile(path.join(dir, 'epoch 1', 'loss.csv'), '0.5\n');
    const url = `ftp://${server.username}:${encodeURIComponent(server.password)}@127.0.0.1:${server.port}/results/logs`;
    const sent = await ftpOut.send({ key: 'logs', class: 'Directory', hostPath: dir, access: { url } }, ctx);
    expect(sent.target).toBe(`ftp://${server.username}@127.0.0.1:${server.port}/results/logs`);
    expect(await readFile(path.join(server.root, 'results/logs/summary.txt'), 'utf8')).toBe('done\n');
    expect(await readFile(path.join(server.root, 'results/logs/epoch 1/loss.csv'), 'utf8')).toBe('0.5\n');
  });
});

it('gives up on a server that never answers after the timeout, saying what to check', async () => {
  const silent = net.createServer(() => undefined); // accepts, never greets
  await new Promise<void>(r => silent.listen(0, '127.0.0.1', r));
  const port = (silent.address() as net.AddressInfo).port;
  try {
    const quick = createFtpConnectors(new HostPolicy({ allow: ['127.0.0.1'] }), { timeoutMs: 1000 }).input;
    const value: FileOrDirectory = { class: 'File', connector: { command: 'red-connector-ftp', access: { url: `ftp://127.0.0.1:${port}/x` } } };
    await expect(quick.stage({ key: 'f', label: 'f', value, dest: path.join(tmp, 'f') }, ctx)).rejects.toThrow(
      `input f: red-connector-ftp ftp://127.0.0.1:${port}/x: login: no answer within 1 s; check the host and port in connector.access.url of input f, and that a firewall lets passive data connections through`
    );
  } finally {
    silent.close();
  }
});
