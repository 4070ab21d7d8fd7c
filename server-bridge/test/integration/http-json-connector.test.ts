// red-connector-http-json (receive and send a JSON File, as Curious Containers' connector) against a
// real HTTP server on loopback, with basic and digest auth.
import { lstat, mkdtemp, readFile, rm, writeFile } from 'fs/promises';
import * as os from 'os';
import * as path from 'path';
import type { FileOrDirectory } from '../../../src/red';
import type { ConnectorContext } from '../../src/connectors/types';
import { loopbackConnectors, startTestServer, type TestServer } from '../helpers/http-server';

const registry = loopbackConnectors();
const jsonIn = registry.input('red-connector-http-json', 'test', 'File');
const jsonOut = registry.output('red-connector-http-json', 'test', 'File');
const DOC = '{"weights": [0.25, -1e3], "name": "caf\u00e9"}\n';
const AUTH = { username: 'jo', password: 'js0n-pw' };

let tmp: string;
let ctx: ConnectorContext;
let server: TestServer;
beforeEach(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'redlab-json-'));
  ctx = { baseDir: tmp, allowedRoots: [tmp] };
});
afterEach(async () => {
  await server?.close();
  await rm(tmp, { recursive: true, force: true });
});

const fileValue = (access: Record<string, unknown>): FileOrDirectory => ({ class: 'File', connector: { command: 'red-connector-http-json', access } });

describe('red-connector-http-json receive-file', () => {
  it.each(['basic', 'digest'] as const)('%s auth: keeps the document as the server sent it', async method => {
    server = await startTestServer({ files: { '/doc.json': DOC }, auth: { ...AUTH, method } });
    const dest = path.join(tmp, 'doc.json');
    const staged = await jsonIn.stage({ key: 'doc', label: 'doc', value: fileValue({ url: `${server.url}/doc.json`, auth: { ...AUTH, method } }), dest }, ctx);
    expect(staged).toEqual({ hostPath: dest, copied: true });
    expect(await readFile(dest, 'utf8')).toBe(DOC);
    await expect(
      jsonIn.stage({ key: 'doc', label: 'doc', value: fileValue({ url: `${server.url}/doc.json`, auth: { ...AUTH, password: 'nope', method } }), dest: path.join(tmp, 'x') }, ctx)
    ).rejects.toThrow(`input doc: GET ${server.url}/doc.json answered HTTP 401 Unauthorized; check username and password (and auth.method basic/digest) in connector.access.auth of input doc`);
  });

  it('refuses an answer that is not JSON, and leaves no file', async () => {
    server = await startTestServer({ files: { '/page': '<html>login</html>' } });
    const dest = path.join(tmp, 'doc.json');
    await expect(jsonIn.stage({ key: 'doc', label: 'doc', value: fileValue({ url: `${server.url}/page` }), dest }, ctx)).rejects.toThrow(
      new RegExp(`^input doc \\(red-connector-http-json\\): the answer of ${server.url.replace(/\./g, '\\.')}/page is not valid JSON \\(.+\\); use red-connector-http for other files$`)
    );
    await expect(lstat(dest)).rejects.toThrow('ENOENT');
  });

  it('names itself in access mistakes, and takes only Files', async () => {
    await expect(jsonIn.stage({ key: 'doc', label: 'doc', value: fileValue({ url: 'http://h/x', format: 'json' }), dest: path.join(tmp, 'x') }, ctx)).rejects.toThrow(
      'input doc (red-connector-http-json): unknown access key format; allowed: url, method, auth, disableSSLVerification'
    );
    expect(() => registry.input('red-connector-http-json', 'doc', 'Directory')).toThrow('connector red-connector-http-json cannot receive a Directory (input doc); it handles File');
    expect(() => registry.output('red-connector-http-json', 'doc', 'Directory')).toThrow('connector red-connector-http-json cannot send a Directory (output doc); it handles File');
  });
});

describe('red-connector-http-json send-file', () => {
  it.each(['basic', 'digest'] as const)('%s auth: POSTs by default, PUTs when access.method says, as application/json', async method => {
    server = await startTestServer({ auth: { ...AUTH, method } });
    const file = path.join(tmp, 'result.json');
    await writeFile(file, DOC);
    const access = { url: `${server.url}/up/result.json`, auth: { ...AUTH, method } };
    expect(await jsonOut.send({ key: 'result', class: 'File', hostPath: file, access }, ctx)).toEqual({ target: `${server.url}/up/result.json` });
    expect(server.uploads.get('/up/result.json')).toEqual({ method: 'POST', body: Buffer.from(DOC) });
    await jsonOut.send({ key: 'result', class: 'File', hostPath: file, access: { ...access, url: `${server.url}/up/put.json`, method: 'PUT' } }, ctx);
    expect(server.uploads.get('/up/put.json')).toEqual({ method: 'PUT', body: Buffer.from(DOC) });
    const sent = server.requests.filter(r => r.method !== 'GET' && r.headers.authorization);
    expect(sent.map(r => r.headers['content-type'])).toEqual(sent.map(() => 'application/json'));
    await expect(jsonOut.send({ key: 'result', class: 'File', hostPath: file, access: { ...access, auth: { ...AUTH, password: 'nope', method } } }, ctx)).rejects.toThrow(
      `output result: POST ${server.url}/up/result.json answered HTTP 401 Unauthorized; check username and password (and auth.method basic/digest) in connector.access.auth of output result`
    );
  });

  it('refuses a file that is not JSON before sending anything', async () => {
    server = await startTestServer();
    const file = path.join(tmp, 'result.json');
    await writeFile(file, '{"unterminated": ');
    await expect(jsonOut.send({ key: 'result', class: 'File', hostPath: file, access: { url: `${server.url}/up/r.json` } }, ctx)).rejects.toThrow(
      /^output result \(red-connector-http-json\): the output file is not valid JSON \(.+\); use red-connector-http for other files$/
    );
    expect(server.requests).toEqual([]);
  });
});
