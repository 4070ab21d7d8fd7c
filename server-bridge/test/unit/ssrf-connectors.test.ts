// red-connector-http runs on the host: by default it must not reach this machine's
// loopback services, link-local (cloud metadata) addresses or the bridge itself, by IP,
// by a name that resolves there, or through a redirect. Real HTTP servers on 127.0.0.1.
import * as http from 'http';
import type { AddressInfo } from 'net';
import { mkdtemp, readFile, rm, writeFile } from 'fs/promises';
import * as os from 'os';
import * as path from 'path';
import type { FileOrDirectory } from '../../../src/red/types';
import { createHttpConnectors, httpInputConnector, httpOutputConnector } from '../../src/connectors/http';
import { allowedConnectorHosts, HostPolicy, HostRefusedError, listeningAddresses, refusedReason } from '../../src/connectors/host-policy';
import { resolveBridgeOptions } from '../../src/bridge/config';
import type { ConnectorContext } from '../../src/connectors/types';
import { startTestServer, type TestServer } from '../helpers/http-server';

let tmp: string;
let ctx: ConnectorContext;
let server: TestServer;
beforeEach(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'redlab-ssrf-'));
  ctx = { baseDir: tmp, allowedRoots: [tmp] };
  server = await startTestServer({ files: { '/internal.txt': 'internal only\n' } });
});
afterEach(async () => {
  await server.close();
  await rm(tmp, { recursive: true, force: true });
});

const fileValue = (url: string): FileOrDirectory => ({ class: 'File', connector: { command: 'red-connector-http', access: { url } } });
const stageWith = (input: typeof httpInputConnector, url: string, dest = path.join(tmp, 'got.txt')) =>
  input.stage({ key: 'data', label: 'data', value: fileValue(url), dest }, ctx);
/** The error staging fails with (a test failure when it succeeds). */
const refusal = (input: typeof httpInputConnector, url: string): Promise<Error> =>
  stageWith(input, url).then(
    () => {
      throw new Error(`${url} was fetched`);
    },
    (e: Error) => e
  );

describe('refused by default', () => {
  it('an IP literal on loopback: the message names the input, the host and the opt-in; nothing is sent', async () => {
    const err = await refusal(httpInputConnector, `${server.url}/internal.txt`);
    expect(err).toBeInstanceOf(Error);
    expect(err.message).toMatch(/^input data: GET http:\/\/127\.0\.0\.1:\d+\/internal\.txt: refused to connect to 127\.0\.0\.1: it is a loopback address/);
    expect(err.message).toContain('--allow-connector-host 127.0.0.1');
    expect(err.message).toContain('REDLAB_ALLOW_CONNECTOR_HOSTS=127.0.0.1');
    expect(server.requests).toEqual([]);
  });

  it('a name that resolves to loopback (localhost)', async () => {
    const err = await refusal(httpInputConnector, `http://localhost:${server.port}/internal.txt`);
    expect(err.message).toMatch(/refused to connect to localhost \((127\.0\.0\.1|::1)\): it is a loopback address/);
    expect(server.requests).toEqual([]);
  });

  it('a name whose resolver answers 127.0.0.1 (rebinding): checked on the address it resolves to', async () => {
    const calls: string[] = [];
    const policy = new HostPolicy({
      resolve: async host => {
        calls.push(host);
        return [{ address: '127.0.0.1', family: 4 }];
      }
    });
    const { input } = createHttpConnectors(policy);
    const err = await refusal(input, `http://innocent.example:${server.port}/internal.txt`);
    expect(err.message).toContain('refused to connect to innocent.example (127.0.0.1): it is a loopback address');
    expect(calls).toEqual(['innocent.example']);
    expect(server.requests).toEqual([]);
    // One public and one loopback address: refused too (the socket could take either).
    const mixed = new HostPolicy({ resolve: async () => [{ address: '93.184.216.34', family: 4 }, { address: '::ffff:127.0.0.1', family: 6 }] });
    await expect(mixed.vet('mixed.example')).rejects.toThrow(HostRefusedError);
  });

  it('the output connector (PUT) too', async () => {
    const file = path.join(tmp, 'r.txt');
    await writeFile(file, 'result');
    await expect(httpOutputConnector.send({ key: 'report', class: 'File', hostPath: file, access: { url: `${server.url}/up/r.txt`, method: 'PUT' } }, ctx)).rejects.toThrow(
      /^output report: PUT http:\/\/127\.0\.0\.1:\d+\/up\/r\.txt: refused to connect to 127\.0\.0\.1/
    );
    expect(server.uploads.size).toBe(0);
  });

  it('a redirect from an allowed host to loopback', async () => {
    const redirector = http.createServer((req, res) => {
      res.writeHead(302, { location: `${server.url}/internal.txt` });
      res.end();
    });
    await new Promise<void>(r => redirector.listen(0, '127.0.0.1', r));
    try {
      const port = (redirector.address() as AddressInfo).port;
      // lab.example is allowed (and resolves to the redirector); 127.0.0.1 itself is not.
      const policy = new HostPolicy({ allow: ['lab.example'], resolve: async () => [{ address: '127.0.0.1', family: 4 }] });
      const err = await refusal(createHttpConnectors(policy).input, `http://lab.example:${port}/start`);
      expect(err.message).toContain(`the server redirected to ${server.url}/internal.txt; refused to connect to 127.0.0.1: it is a loopback address`);
      expect(server.requests).toEqual([]);
    } finally {
      redirector.closeAllConnections();
      await new Promise(r => redirector.close(r));
    }
  });

  it('classifies addresses: loopback, unspecified, link-local, metadata, IPv4 inside IPv6; private lab ranges pass', () => {
    for (const a of ['127.0.0.1', '127.255.0.9', '0.0.0.0', '::1', '::', '::ffff:127.0.0.1', '::ffff:7f00:1', '::127.0.0.1', '64:ff9b::7f00:1', '169.254.169.254', 'fe80::1', 'febf::1', 'fd00:ec2::254', '100.100.100.200']) {
      expect({ a, refused: refusedReason(a) !== undefined }).toEqual({ a, refused: true });
    }
    for (const a of ['10.1.2.3', '172.16.0.1', '172.31.255.1', '192.168.1.10', '93.184.216.34', 'fd12::1', '2001:db8::1', '::ffff:10.0.0.1']) {
      expect({ a, refused: refusedReason(a) }).toEqual({ a, refused: undefined });
    }
  });

  it("the bridge's own listening address, though private", () => {
    const policy = new HostPolicy({ deny: [{ address: '192.168.7.7', reason: 'it is an address the bridge itself listens on' }] });
    expect(() => policy.check('192.168.7.7', '192.168.7.7')).toThrow('refused to connect to 192.168.7.7: it is an address the bridge itself listens on');
    expect(() => policy.check('192.168.7.8', '192.168.7.8')).not.toThrow();
  });
});

describe('allowed with an explicit opt-in', () => {
  it.each([['127.0.0.1'], ['127.0.0.0/8'], ['LOCALHOST']])('--allow-connector-host %s', async entry => {
    const { input } = createHttpConnectors(new HostPolicy({ allow: [entry] }));
    const host = entry === 'LOCALHOST' ? `http://localhost:${server.port}` : server.url;
    const dest = path.join(tmp, 'ok.txt');
    // localhost resolves to 127.0.0.1 and ::1: both vetted, Node tries them in turn.
    await stageWith(input, `${host}/internal.txt`, dest);
    expect(await readFile(dest, 'utf8')).toBe('internal only\n');
  });

  it('REDLAB_ALLOW_CONNECTOR_HOSTS (comma-separated) and flags together; a bad entry is named', async () => {
    const hosts = allowedConnectorHosts(['10.0.0.0/8'], { REDLAB_ALLOW_CONNECTOR_HOSTS: ' 127.0.0.1 , metadata.internal' });
    expect(hosts).toEqual(['10.0.0.0/8', '127.0.0.1', 'metadata.internal']);
    const { input } = createHttpConnectors(new HostPolicy({ allow: hosts }));
    await stageWith(input, `${server.url}/internal.txt`);
    expect(server.requests.map(r => r.url)).toEqual(['/internal.txt']);
    expect(() => allowedConnectorHosts(['http://x/'], {})).toThrow('--allow-connector-host http://x/: not a host name, IP address or CIDR range');
  });

  it('the bridge settings take both, and refuse a bad entry at start-up', () => {
    const opts = resolveBridgeOptions({ allowConnectorHost: ['127.0.0.1'] }, { REDLAB_ALLOW_CONNECTOR_HOSTS: 'lab.local' }, tmp);
    expect(opts.allowConnectorHosts).toEqual(['127.0.0.1', 'lab.local']);
    expect(resolveBridgeOptions({}, {}, tmp).allowConnectorHosts).toEqual([]);
    expect(() => resolveBridgeOptions({ allowConnectorHost: ['10.0.0.0/99'] }, {}, tmp)).toThrow(/not a host name, IP address or CIDR range/);
  });

  it('a wildcard listening address stands for every address of this machine', async () => {
    const all = await listeningAddresses('0.0.0.0');
    expect(all).toEqual(expect.arrayContaining(['127.0.0.1']));
    expect(await listeningAddresses('192.168.3.4')).toEqual(['192.168.3.4']);
  });
});
