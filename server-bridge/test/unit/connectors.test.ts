import { createHash } from 'crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'fs/promises';
import * as http from 'http';
import * as os from 'os';
import * as path from 'path';
import type { FileOrDirectory } from '../../../src/red/types';
import { defaultConnectors } from '../../src/connectors/registry';
import { joinUrl, parseHttpAccess } from '../../src/connectors/http';
import { ConnectorError, type ConnectorContext } from '../../src/connectors/types';
import { stageInputs, listInputItems } from '../../src/engine/staging';
import { freePort, loopbackConnectors, startTestServer, type TestServer } from '../helpers/http-server';

// The test servers listen on 127.0.0.1: allowed explicitly, as an operator would.
const httpInputConnector = loopbackConnectors().input('red-connector-http', 'test', 'File');
const httpOutputConnector = loopbackConnectors().output('red-connector-http', 'test', 'File');

const sha1 = (s: string) => createHash('sha1').update(s).digest('hex');
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
const TEXT = 'hello world\nsecond line\nhello again\n';

let tmp: string;
let ctx: ConnectorContext;
beforeEach(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'redlab-conn-'));
  // One try: these tests are about each failure's words (retries: connector-retry.test.ts).
  ctx = { baseDir: tmp, allowedRoots: [tmp], retry: { attempts: 1 } };
});
afterEach(() => rm(tmp, { recursive: true, force: true }));

const fileValue = (access: Record<string, unknown>, extra: Partial<FileOrDirectory> = {}): FileOrDirectory => ({
  class: 'File',
  connector: { command: 'red-connector-http', access },
  ...extra
});

describe('red-connector-http input', () => {
  let server: TestServer;
  afterEach(() => server?.close());

  it('downloads a file with GET', async () => {
    server = await startTestServer({ files: { '/data/text.txt': TEXT } });
    const dest = path.join(tmp, 'text.txt');
    const staged = await httpInputConnector.stage({ key: 'file', label: 'file', value: fileValue({ url: `${server.url}/data/text.txt` }), dest }, ctx);
    expect(staged).toEqual({ hostPath: dest, copied: true });
    expect(await readFile(dest, 'utf8')).toBe(TEXT);
    expect(server.requests.map(r => `${r.method} ${r.url}`)).toEqual(['GET /data/text.txt']);
  });

  // Throughput (bench/connectors.js): a file stream's default 16 KiB buffer made every network chunk
  // (~64 KiB) stop the response until its write was done: 0.5 of curl's speed. The response may pause
  // only when a whole MiB waits to be written.
  it('writes a large download in batches, not pausing the response at every network chunk', async () => {
    const size = 16 << 20;
    server = await startTestServer({ files: { '/big.bin': Buffer.alloc(size, 7) } });
    const pause = jest.spyOn(http.IncomingMessage.prototype, 'pause');
    try {
      const dest = path.join(tmp, 'big.bin');
      await httpInputConnector.stage({ key: 'f', label: 'f', value: fileValue({ url: `${server.url}/big.bin` }), dest }, ctx);
      expect((await stat(dest)).size).toBe(size);
      const responsePauses = pause.mock.contexts.filter(res => (res as http.IncomingMessage).statusCode === 200).length;
      expect(responsePauses).toBeLessThanOrEqual(size >> 20);
    } finally {
      pause.mockRestore();
    }
  });

  it('sends basic auth, and says what to check when it is refused', async () => {
    server = await startTestServer({ files: { '/t.txt': TEXT }, auth: { username: 'alice', password: 's3cret-pw', method: 'basic' } });
    const dest = path.join(tmp, 't.txt');
    await httpInputConnector.stage({ key: 'f', label: 'f', value: fileValue({ url: `${server.url}/t.txt`, auth: { username: 'alice', password: 's3cret-pw' } }), dest }, ctx);
    expect(await readFile(dest, 'utf8')).toBe(TEXT);
    expect(server.requests[0].headers.authorization).toBe('Basic ' + Buffer.from('alice:s3cret-pw').toString('base64'));
    await expect(
      httpInputConnector.stage({ key: 'f', label: 'f', value: fileValue({ url: `${server.url}/t.txt`, auth: { username: 'alice', password: 'wrong' } }), dest: dest + '2' }, ctx)
    ).rejects.toThrow(`input f: GET ${server.url}/t.txt answered HTTP 401 Unauthorized; check username and password (and auth.method basic/digest) in connector.access.auth of input f`);
  });

  it('answers a digest challenge', async () => {
    server = await startTestServer({ files: { '/d.txt': TEXT }, auth: { username: 'bob', password: 'pa55word', method: 'digest' } });
    const dest = path.join(tmp, 'd.txt');
    await httpInputConnector.stage(
      { key: 'f', label: 'f', value: fileValue({ url: `${server.url}/d.txt`, auth: { username: 'bob', password: 'pa55word', method: 'digest' } }), dest },
      ctx
    );
    expect(await readFile(dest, 'utf8')).toBe(TEXT);
    expect(server.requests).toHaveLength(2);
    expect(server.requests[0].headers.authorization).toBeUndefined();
    expect(server.requests[1].headers.authorization).toMatch(/^Digest username="bob", realm="redlab-test", nonce="[0-9a-f]+", uri="\/d.txt", response="[0-9a-f]{32}", algorithm=MD5, qop=auth, nc=00000001, cnonce="[0-9a-f]+"$/);
  });

  // Secrets in it are masked where the message leaves the process (the bridge's store, the CLI's output): see secrets-cli and secrets-encoded.
  it('names the input and URL on a 404', async () => {
    server = await startTestServer({ files: {} });
    await expect(
      httpInputConnector.stage({ key: 'genome', label: 'genome', value: fileValue({ url: `${server.url}/missing.txt?token=tok-123456` }), dest: path.join(tmp, 'x') }, ctx)
    ).rejects.toThrow(`input genome: GET ${server.url}/missing.txt?token=tok-123456 answered HTTP 404 Not Found; check the URL in connector.access.url of input genome`);
  });

  it('explains a refused connection', async () => {
    const port = await freePort();
    const err = await httpInputConnector
      .stage({ key: 'data', label: 'data', value: fileValue({ url: `http://127.0.0.1:${port}/a.csv` }), dest: path.join(tmp, 'a') }, ctx)
      .catch(e => e);
    expect(err).toBeInstanceOf(ConnectorError);
    expect(err.message).toBe(
      `input data: GET http://127.0.0.1:${port}/a.csv: connection refused (nothing listens at that host and port); check that the server runs and the host and port in connector.access.url of input data`
    );
  });

  it('fails a download that breaks off, leaving no file', async () => {
    server = await startTestServer({ files: { '/big.bin': 'x'.repeat(1000) }, truncate: ['/big.bin'] });
    const dest = path.join(tmp, 'big.bin');
    await expect(httpInputConnector.stage({ key: 'b', label: 'b', value: fileValue({ url: `${server.url}/big.bin` }), dest }, ctx)).rejects.toThrow(/^input b: download of .* broke off/);
    await expect(stat(dest)).rejects.toThrow();
    await expect(stat(dest + '.part')).rejects.toThrow();
  });

  it('fetches a Directory from its listing as CC does (url + / + relative path)', async () => {
    server = await startTestServer({ files: { '/ds/a.txt': 'A', '/ds/sub/b c.txt': 'BC' } });
    const dest = path.join(tmp, 'ds');
    const value: FileOrDirectory = {
      class: 'Directory',
      connector: { command: 'red-connector-http', access: { url: `${server.url}/ds` } },
      listing: [
        { class: 'File', basename: 'a.txt' },
        { class: 'Directory', basename: 'sub', listing: [{ class: 'File', basename: 'b c.txt' }] },
        { class: 'Directory', basename: 'empty' }
      ]
    };
    await httpInputConnector.stage({ key: 'ds', label: 'ds', value, dest }, ctx);
    expect(await readFile(path.join(dest, 'a.txt'), 'utf8')).toBe('A');
    expect(await readFile(path.join(dest, 'sub', 'b c.txt'), 'utf8')).toBe('BC');
    expect((await stat(path.join(dest, 'empty'))).isDirectory()).toBe(true);
    expect(server.requests.map(r => r.url)).toEqual(['/ds/a.txt', '/ds/sub/b%20c.txt']);
  });

  it('refuses listing names that would leave the folder, and a Directory with no listing', async () => {
    server = await startTestServer({ files: {} });
    const bad: FileOrDirectory = { class: 'Directory', connector: { command: 'red-connector-http', access: { url: `${server.url}/ds` } }, listing: [{ class: 'File', basename: '../../evil' }] };
    await expect(httpInputConnector.stage({ key: 'ds', label: 'ds', value: bad, dest: path.join(tmp, 'ds') }, ctx)).rejects.toThrow(
      `input ds: listing entry "../../evil" at (top) is not a plain file or folder name (no '/', '.', '..')`
    );
    const none: FileOrDirectory = { class: 'Directory', connector: { command: 'red-connector-http', access: { url: `${server.url}/ds` } } };
    await expect(httpInputConnector.stage({ key: 'ds', label: 'ds', value: none, dest: path.join(tmp, 'ds2') }, ctx)).rejects.toThrow(/a Directory needs a listing/);
    expect(server.requests).toHaveLength(0);
  });

  it('checks access as red-connector-http does', () => {
    expect(parseHttpAccess({ url: 'http://h/x', method: 'post', auth: { username: 'u', password: 'p', method: 'Digest' }, disableSSLVerification: true }, 'input x')).toEqual({
      url: 'http://h/x',
      method: 'POST',
      auth: { username: 'u', password: 'p', method: 'digest' },
      disableSSLVerification: true
    });
    expect(() => parseHttpAccess({ url: 'ftp://h/x' }, 'input x')).toThrow('input x (red-connector-http): access.url must start with http:// or https://, not ftp://');
    expect(() => parseHttpAccess({ url: 'http://h/x', user: 'u' }, 'input x')).toThrow('unknown access key user; allowed: url, method, auth, disableSSLVerification');
    expect(() => parseHttpAccess({ url: 'http://h/x', method: 'DELETE' }, 'input x')).toThrow('access.method must be GET, PUT or POST, not DELETE');
    expect(joinUrl('http://h/base/', ['a b', 'c#d'])).toBe('http://h/base/a%20b/c%23d');
  });
});

describe('red-connector-http output', () => {
  let server: TestServer;
  afterEach(() => server?.close());

  it('POSTs by default and PUTs when access.method says, with auth', async () => {
    server = await startTestServer({ auth: { username: 'u', password: 'pw-1234', method: 'basic' } });
    const file = path.join(tmp, 'result.txt');
    await writeFile(file, 'result data');
    const access = { url: `${server.url}/up/result.txt`, auth: { username: 'u', password: 'pw-1234' } };
    expect(await httpOutputConnector.send({ key: 'out', class: 'File', hostPath: file, access }, ctx)).toEqual({ target: `${server.url}/up/result.txt` });
    expect(server.uploads.get('/up/result.txt')).toEqual({ method: 'POST', body: Buffer.from('result data') });
    await httpOutputConnector.send({ key: 'out', class: 'File', hostPath: file, access: { ...access, url: `${server.url}/up/put.txt`, method: 'PUT' } }, ctx);
    expect(server.uploads.get('/up/put.txt')?.method).toBe('PUT');
  });

  it('names the output when the server refuses', async () => {
    server = await startTestServer({ status: { '/up/x': 500 } });
    const file = path.join(tmp, 'x');
    await writeFile(file, 'x');
    await expect(httpOutputConnector.send({ key: 'report', class: 'File', hostPath: file, access: { url: `${server.url}/up/x`, method: 'PUT' } }, ctx)).rejects.toThrow(
      `output report: PUT ${server.url}/up/x answered HTTP 500 Internal Server Error; the server failed; try again later or ask its owner`
    );
  });
});

describe('connector registry and staging checks', () => {
  let server: TestServer;
  afterEach(() => server?.close());
  const cli = (type = 'File') => ({
    cwlVersion: 'v1.0' as const,
    class: 'CommandLineTool' as const,
    baseCommand: 'cat',
    inputs: { file: { type, inputBinding: { position: 0 } } },
    outputs: {}
  });

  it('refuses unsupported connectors, listing the supported ones', async () => {
    const reg = defaultConnectors();
    expect(reg.inputCommands).toEqual(['red-connector-http', 'redlab-connector-local', 'red-connector-ftp', 'red-connector-ssh', 'red-connector-http-archive', 'red-connector-http-json', 'redlab-connector-s3']);
    expect(() => reg.input('red-connector-xnat', 'genome', 'File')).toThrow(
      'connector red-connector-xnat is not supported yet (input genome); supported: red-connector-http, redlab-connector-local, red-connector-ftp, red-connector-ssh, red-connector-http-archive, red-connector-http-json, redlab-connector-s3'
    );
    expect(() => reg.output('red-connector-sftp', 'result', 'File')).toThrow(
      'connector red-connector-sftp is not supported yet (output result); supported: red-connector-http, red-connector-ftp, red-connector-ssh, red-connector-http-json, redlab-connector-s3'
    );
  });

  it('verifies sha1 checksum and size, naming the input', async () => {
    server = await startTestServer({ files: { '/t.txt': TEXT } });
    const registry = loopbackConnectors();
    const stageWith = (extra: Partial<FileOrDirectory>, dir: string) =>
      stageInputs({ items: listInputItems(cli(), { file: fileValue({ url: `${server.url}/t.txt` }, extra) }), inputsDir: path.join(tmp, dir), registry, ctx });
    const ok = await stageWith({ checksum: `sha1$${sha1(TEXT)}`, size: TEXT.length }, 'ok');
    expect(ok.records.file).toEqual({
      path: path.join(tmp, 'ok', 'file', 'file'),
      containerPath: '/cc/inputs/file/file',
      class: 'File',
      size: TEXT.length,
      sha256: sha256(TEXT)
    });
    expect(ok.binds).toEqual([{ hostPath: path.join(tmp, 'ok', 'file', 'file'), containerPath: '/cc/inputs/file/file', readOnly: true }]);
    await expect(stageWith({ checksum: `sha1$${'0'.repeat(40)}` }, 'bad')).rejects.toThrow(
      `input file: checksum mismatch: the RED says sha1$${'0'.repeat(40)}, the data has sha1$${sha1(TEXT)}`
    );
    await expect(stageWith({ size: 3 }, 'size')).rejects.toThrow(`input file: size mismatch: the RED says 3 bytes, the data has ${TEXT.length} bytes`);
  });

  it('honours basename and dirname for the container path', async () => {
    server = await startTestServer({ files: { '/t.txt': TEXT } });
    const items = listInputItems(cli('File[]'), {
      file: [fileValue({ url: `${server.url}/t.txt` }, { basename: 'a.txt' }), fileValue({ url: `${server.url}/t.txt` }, { basename: 'b.txt', dirname: '/data' })]
    });
    expect(items.map(i => [i.label, i.mountPath])).toEqual([
      ['file[0]', '/cc/inputs/file/0/a.txt'],
      ['file[1]', '/data/b.txt']
    ]);
    const staged = await stageInputs({ items, inputsDir: path.join(tmp, 'in'), registry: loopbackConnectors(), ctx });
    expect((staged.records.file as { path: string }[]).map(r => r.path)).toEqual([path.join(tmp, 'in', 'file', '0', 'a.txt'), path.join(tmp, 'in', 'file', '1', 'b.txt')]);
  });
});
