// red-connector-http send-file (PUT and POST) against a real HTTP server on loopback with basic and
// digest auth: a digest challenge makes the client send the body twice (the first is answered 401),
// so the upload is checked whole; a wrong password names the output.
import { mkdtemp, rm, writeFile } from 'fs/promises';
import * as os from 'os';
import * as path from 'path';
import type { ConnectorContext } from '../../src/connectors/types';
import { loopbackConnectors, startTestServer, type TestServer } from '../helpers/http-server';

const httpOut = loopbackConnectors().output('red-connector-http', 'test', 'File');
const AUTH = { username: 'up', password: 'upl0ad-pw' };
const BODY = Buffer.alloc(200_000, 'result line\n');

let tmp: string;
let ctx: ConnectorContext;
let server: TestServer;
let file: string;
beforeEach(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'redlab-send-'));
  ctx = { baseDir: tmp, allowedRoots: [tmp] };
  file = path.join(tmp, 'result.txt');
  await writeFile(file, BODY);
});
afterEach(async () => {
  await server?.close();
  await rm(tmp, { recursive: true, force: true });
});

describe.each(['basic', 'digest'] as const)('red-connector-http send with %s auth', method => {
  it.each(['PUT', 'POST'] as const)('%s: the whole file arrives, as application/octet-stream', async verb => {
    server = await startTestServer({ auth: { ...AUTH, method } });
    const access = { url: `${server.url}/up/r.txt`, method: verb, auth: { ...AUTH, method } };
    expect(await httpOut.send({ key: 'result', class: 'File', hostPath: file, access }, ctx)).toEqual({ target: `${server.url}/up/r.txt` });
    expect(server.uploads.get('/up/r.txt')).toEqual({ method: verb, body: BODY });
    const authorized = server.requests.filter(r => r.headers.authorization);
    expect(authorized.map(r => [r.method, r.headers['content-type'], r.body.length])).toEqual([[verb, 'application/octet-stream', BODY.length]]);
    if (method === 'digest') expect(authorized[0].headers.authorization).toMatch(/^Digest username="up", realm="redlab-test", nonce="[0-9a-f]+", uri="\/up\/r.txt", response="[0-9a-f]{32}"/);
  });

  it('a wrong password names the output and what to check; nothing is stored', async () => {
    server = await startTestServer({ auth: { ...AUTH, method } });
    const access = { url: `${server.url}/up/r.txt`, method: 'PUT', auth: { ...AUTH, password: 'wrong', method } };
    await expect(httpOut.send({ key: 'result', class: 'File', hostPath: file, access }, ctx)).rejects.toThrow(
      `output result: PUT ${server.url}/up/r.txt answered HTTP 401 Unauthorized; check username and password (and auth.method basic/digest) in connector.access.auth of output result`
    );
    expect(server.uploads.size).toBe(0);
  });
});
