// redlab-connector-s3 against a real S3 server (S3Proxy with its filesystem backend,
// helpers/s3-server.ts) on 127.0.0.1: receive a file and folders (through the normal staging
// path, with checksum and listing checks), send a file, a folder and a multipart upload (read
// back from the server's folder), and the failures people meet: wrong secret or key id,
// missing bucket or key, nothing listening, a server that never answers, loopback not allowed.
import { createHash, randomBytes } from 'crypto';
import { mkdir, mkdtemp, readFile, readdir, rm, stat, symlink, writeFile } from 'fs/promises';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { connectorFields, type CommandLineTool, type FileOrDirectory } from '../../../src/red';
import { HostPolicy } from '../../src/connectors/host-policy';
import { defaultConnectors } from '../../src/connectors/registry';
import { createS3Connectors, parseS3Access } from '../../src/connectors/s3';
import type { ConnectorContext, TransferProgress } from '../../src/connectors/types';
import { listInputItems, stageInputs } from '../../src/engine/staging';
import { freePort } from '../helpers/http-server';
import { startS3Server, type S3TestServer } from '../helpers/s3-server';

jest.setTimeout(60_000);

// The server listens on 127.0.0.1: allowed explicitly, as an operator would.
const loopback = new HostPolicy({ allow: ['127.0.0.1'] });
const registry = defaultConnectors({ hostPolicy: loopback });
const s3In = registry.input('redlab-connector-s3', 'test', 'Directory');
const s3Out = registry.output('redlab-connector-s3', 'test', 'Directory');

const TEXT = 'tile 1\n'.repeat(1000);
const sha1 = (s: string | Buffer) => createHash('sha1').update(s).digest('hex');
const sha256 = (s: string | Buffer) => createHash('sha256').update(s).digest('hex');

let server: S3TestServer;
let tmp: string;
let ctx: ConnectorContext;
let notes: string[];
beforeAll(async () => {
  server = await startS3Server({
    lab: {
      'data/tiles.txt': TEXT,
      'data/set/a.txt': 'a\n',
      'data/set/sub dir/b.txt': 'b\n',
      'data/set/sub dir/deeper/c.txt': 'c\n'
    },
    results: {}
  });
});
afterAll(() => server?.stop());
beforeEach(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'redlab-s3-'));
  notes = [];
  ctx = { baseDir: tmp, allowedRoots: [tmp], onInfo: m => notes.push(m) };
});
afterEach(() => rm(tmp, { recursive: true, force: true }));

const auth = () => ({ accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey });
const access = (where: Record<string, unknown>, a: Record<string, unknown> = auth()) => ({ endpoint: server.endpoint, bucket: 'lab', auth: a, ...where });
const s3Value = (cls: 'File' | 'Directory', where: Record<string, unknown>, extra: Partial<FileOrDirectory> = {}, a?: Record<string, unknown>): FileOrDirectory => ({
  class: cls,
  connector: { command: 'redlab-connector-s3', access: access(where, a) },
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

describe('redlab-connector-s3 input', () => {
  it('receives an object through staging, checked against its sha1 and sha256 checksums and size', async () => {
    const staged = await stage({
      tiles: s3Value('File', { key: 'data/tiles.txt' }, { checksum: `sha1$${sha1(TEXT)}`, size: TEXT.length }),
      again: s3Value('File', { key: 'data/tiles.txt' }, { checksum: `sha256$${sha256(TEXT)}` })
    });
    const rec = staged.records.tiles as { path: string; size: number };
    expect(await readFile(rec.path, 'utf8')).toBe(TEXT);
    expect(rec.size).toBe(TEXT.length);
    expect(notes).toContain(`input tiles: received ${server.endpoint}/lab/data/tiles.txt (${TEXT.length} bytes)`);
  });

  it('fails staging on a checksum mismatch, naming the input and both sums', async () => {
    const wrong = 'sha1$' + '0'.repeat(40);
    await expect(stage({ tiles: s3Value('File', { key: 'data/tiles.txt' }, { checksum: wrong }) })).rejects.toThrow(
      `input tiles: checksum mismatch: the RED says ${wrong}, the data has sha1$${sha1(TEXT)}`
    );
  });

  it('receives every object under a prefix (names with spaces, nested), and only what a listing names', async () => {
    const whole = path.join(tmp, 'whole');
    // Without the trailing slash: a prefix names a folder, never data/settings/… beside it.
    await s3In.stage({ key: 'set', label: 'set', value: s3Value('Directory', { prefix: 'data/set' }), dest: whole }, ctx);
    expect((await readdir(whole)).sort()).toEqual(['a.txt', 'sub dir']);
    expect(await readFile(path.join(whole, 'a.txt'), 'utf8')).toBe('a\n');
    expect(await readFile(path.join(whole, 'sub dir/b.txt'), 'utf8')).toBe('b\n');
    expect(await readFile(path.join(whole, 'sub dir/deeper/c.txt'), 'utf8')).toBe('c\n');
    expect(notes).toContain(`input set: received 3 objects under ${server.endpoint}/lab/data/set/`);

    const listing = [{ class: 'Directory' as const, basename: 'sub dir', listing: [{ class: 'File' as const, basename: 'b.txt', checksum: `sha1$${sha1('b\n')}` }] }];
    const staged = await stage({ set: s3Value('Directory', { prefix: 'data/set/' }, { listing }) });
    const dir = (staged.records.set as { path: string }).path;
    expect(await readdir(dir)).toEqual(['sub dir']);
    expect(await readdir(path.join(dir, 'sub dir'))).toEqual(['b.txt']);
  });

  it('says when no object has the prefix, and a listed file that is missing names the input', async () => {
    const err = await failure(s3In.stage({ key: 'set', label: 'set', value: s3Value('Directory', { prefix: 'data/nothing/' }), dest: path.join(tmp, 'd') }, ctx));
    expect(err.message).toBe('input set (redlab-connector-s3): no object has the prefix data/nothing/ in bucket lab; check access.prefix of input set');
    const listing = [{ class: 'File' as const, basename: 'gone.txt' }];
    const missing = await failure(s3In.stage({ key: 'set', label: 'set', value: s3Value('Directory', { prefix: 'data/set/' }, { listing }), dest: path.join(tmp, 'e') }, ctx));
    expect(missing.message).toContain(`input set (redlab-connector-s3): download of ${server.endpoint}/lab/data/set/gone.txt: no such object in bucket lab`);
    await expect(stat(path.join(tmp, 'e'))).rejects.toMatchObject({ code: 'ENOENT' }); // nothing half-received is left
  });

  it('says the secret does not match on a wrong secret key, and an unknown key id, never quoting the secret', async () => {
    const wrongSecret = 'not-the-secret-' + randomBytes(4).toString('hex');
    const value = s3Value('File', { key: 'data/tiles.txt' }, {}, { accessKeyId: server.accessKeyId, secretAccessKey: wrongSecret });
    const err = await failure(s3In.stage({ key: 'f', label: 'f', value, dest: path.join(tmp, 'f') }, ctx));
    expect(err.message).toBe(
      `input f (redlab-connector-s3): download of ${server.endpoint}/lab/data/tiles.txt: ${server.endpoint} refused the request's signature: ` +
        'the secret access key does not belong to the access key id; check access.auth.secretAccessKey of input f'
    );
    expect(err.message).not.toContain(wrongSecret);

    const unknownId = s3Value('File', { key: 'data/tiles.txt' }, {}, { accessKeyId: 'nobody', secretAccessKey: server.secretAccessKey });
    const idErr = await failure(s3In.stage({ key: 'f', label: 'f', value: unknownId, dest: path.join(tmp, 'f') }, ctx));
    expect(idErr.message).toBe(`input f (redlab-connector-s3): download of ${server.endpoint}/lab/data/tiles.txt: ${server.endpoint} does not know the access key id; check access.auth.accessKeyId of input f`);
    expect(idErr.message).not.toContain(server.secretAccessKey);
  });

  it('says a missing key or bucket was not found, naming the field to check', async () => {
    const noKey = await failure(s3In.stage({ key: 'f', label: 'f', value: s3Value('File', { key: 'data/nope.txt' }), dest: path.join(tmp, 'f') }, ctx));
    expect(noKey.message).toBe(
      `input f (redlab-connector-s3): download of ${server.endpoint}/lab/data/nope.txt: no such object in bucket lab; check access.key of input f (for a folder use class Directory and access.prefix)`
    );
    const noBucket = await failure(s3In.stage({ key: 'f', label: 'f', value: s3Value('File', { key: 'x', bucket: 'no-such-bucket' }), dest: path.join(tmp, 'f') }, ctx));
    expect(noBucket.message).toBe(
      `input f (redlab-connector-s3): download of ${server.endpoint}/no-such-bucket/x: there is no bucket no-such-bucket on ${server.endpoint}; check access.bucket and access.endpoint of input f`
    );
    await expect(stat(path.join(tmp, 'f'))).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(stat(path.join(tmp, 'f.part'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('says when nothing listens, and refuses loopback unless allowed', async () => {
    const port = await freePort();
    const value = s3Value('File', { key: 'x', endpoint: `http://127.0.0.1:${port}` });
    await expect(s3In.stage({ key: 'f', label: 'f', value, dest: path.join(tmp, 'f') }, ctx)).rejects.toThrow(
      `input f (redlab-connector-s3): download of http://127.0.0.1:${port}/lab/x: cannot reach http://127.0.0.1:${port}: connection refused (nothing listens at that host and port); check that the server runs and access.endpoint of input f`
    );
    const strict = createS3Connectors().input;
    for (const host of ['127.0.0.1', 'localhost']) {
      const local = s3Value('File', { key: 'data/tiles.txt', endpoint: `http://${host}:${server.port}` });
      await expect(strict.stage({ key: 'f', label: 'f', value: local, dest: path.join(tmp, 'g') }, ctx)).rejects.toThrow(
        new RegExp(`^input f \\(redlab-connector-s3\\): refused to connect to ${host}.*it is a loopback address.*--allow-connector-host ${host}`)
      );
    }
  });

  it('gives up on a server that never answers after access.timeout, saying what to check', async () => {
    const silent = net.createServer(() => undefined); // accepts, never answers
    await new Promise<void>(r => silent.listen(0, '127.0.0.1', r));
    const port = (silent.address() as net.AddressInfo).port;
    try {
      const value = s3Value('File', { key: 'x', endpoint: `http://127.0.0.1:${port}`, timeout: 1 });
      const started = Date.now();
      const err = await failure(s3In.stage({ key: 'f', label: 'f', value, dest: path.join(tmp, 'f') }, ctx));
      expect(err.message).toBe(
        `input f (redlab-connector-s3): download of http://127.0.0.1:${port}/lab/x: no answer from http://127.0.0.1:${port} within 1 s; check access.endpoint and that the server runs (access.timeout sets how long to wait)`
      );
      expect(Date.now() - started).toBeLessThan(20_000);
    } finally {
      silent.close();
    }
  });

  it('reports progress up to the object\'s size, and tells the input cache the object\'s version (no secret in it)', async () => {
    const events: TransferProgress[] = [];
    const req = { key: 'tiles', label: 'tiles', value: s3Value('File', { key: 'data/tiles.txt' }), dest: path.join(tmp, 'tiles') };
    await s3In.stage(req, { ...ctx, onProgress: p => events.push(p) });
    expect(events.at(-1)).toEqual({ direction: 'input', name: 'tiles', bytes: TEXT.length, total: TEXT.length, done: true });

    const first = await s3In.identify!(req, ctx);
    expect(first?.source).toBe(`${server.endpoint}/lab/data/tiles.txt as ${server.accessKeyId}`);
    expect(JSON.parse(first!.validator)).toMatchObject({ size: TEXT.length });
    expect(JSON.stringify(first)).not.toContain(server.secretAccessKey);
    expect(await s3In.identify!(req, ctx)).toEqual(first);
    await writeFile(server.objectPath('lab', 'data/tiles.txt'), TEXT + 'one more\n');
    try {
      expect((await s3In.identify!(req, ctx))?.validator).not.toBe(first?.validator);
    } finally {
      await writeFile(server.objectPath('lab', 'data/tiles.txt'), TEXT);
    }
    expect(await s3In.identify!({ ...req, value: s3Value('Directory', { prefix: 'data/set/' }) }, ctx)).toBeUndefined();
    // A refused HEAD tells no reason (no body): not cached, and the download names the problem.
    expect(await s3In.identify!({ ...req, value: s3Value('File', { key: 'data/nope.txt' }) }, ctx)).toBeUndefined();
    expect(await s3In.identify!({ ...req, value: s3Value('File', { key: 'data/tiles.txt' }, {}, { ...auth(), secretAccessKey: 'wrong' }) }, ctx)).toBeUndefined();
    const port = await freePort();
    await expect(s3In.identify!({ ...req, value: s3Value('File', { key: 'x', endpoint: `http://127.0.0.1:${port}` }) }, ctx)).rejects.toThrow(
      `input tiles (redlab-connector-s3): looking up http://127.0.0.1:${port}/lab/x: cannot reach http://127.0.0.1:${port}: connection refused`
    );
  });

  it('tries a download cut off mid-body again, and it arrives whole', async () => {
    const big = randomBytes(2 * 1000 * 1000);
    await writeFile(server.objectPath('lab', 'data/cut.bin'), big);
    // A TCP relay to the server that cuts its first connection's answer after 100 kB.
    let connections = 0;
    const relay = net.createServer(client => {
      const first = ++connections === 1;
      const upstream = net.connect(server.port, '127.0.0.1');
      let down = 0;
      client.pipe(upstream);
      upstream.on('data', (d: Buffer) => {
        down += d.length;
        if (first && down > 100_000) {
          client.destroy();
          upstream.destroy();
        } else client.write(d);
      });
      upstream.on('end', () => client.end());
      client.on('error', () => upstream.destroy());
      upstream.on('error', () => client.destroy());
    });
    await new Promise<void>(r => relay.listen(0, '127.0.0.1', r));
    try {
      const endpoint = `http://127.0.0.1:${(relay.address() as net.AddressInfo).port}`;
      const dest = path.join(tmp, 'cut');
      await s3In.stage({ key: 'cut', label: 'cut', value: s3Value('File', { key: 'data/cut.bin', endpoint }), dest }, { ...ctx, retry: { baseDelayMs: 10 } });
      expect(sha256(await readFile(dest))).toBe(sha256(big));
      expect(connections).toBe(2);
      expect(notes.find(n => n.includes('trying again'))).toMatch(/^input cut \(redlab-connector-s3\): download of .*\/lab\/data\/cut\.bin broke off after \d+ bytes: .*; trying again in/);
    } finally {
      relay.close();
    }
  });

  it('stops a download and a multipart upload when cancelled, leaving no partial file and no upload behind', async () => {
    const big = randomBytes(12 * 1000 * 1000);
    await writeFile(server.objectPath('lab', 'data/cancel.bin'), big);
    const dest = path.join(tmp, 'cancel');
    const down = new AbortController();
    const downCtx: ConnectorContext = { ...ctx, signal: down.signal, onProgress: p => p.bytes > 1_000_000 && down.abort() };
    await expect(s3In.stage({ key: 'c', label: 'c', value: s3Value('File', { key: 'data/cancel.bin' }), dest }, downCtx)).rejects.toThrow(/^input c: cancelled$/);
    expect(await readdir(tmp)).toEqual([]);

    const file = path.join(tmp, 'up.bin');
    await writeFile(file, big);
    const up = new AbortController();
    const upCtx: ConnectorContext = { ...ctx, signal: up.signal, onProgress: p => p.bytes > 0 && up.abort() };
    const multipart = createS3Connectors({ policy: loopback, partSize: 5 * 1024 * 1024 }).output;
    await expect(multipart.send({ key: 'c', class: 'File', hostPath: file, access: { ...access({ key: 'cancelled.bin' }), bucket: 'results' } }, upCtx)).rejects.toThrow(/^output c: cancelled$/);
    await expect(stat(server.objectPath('results', 'cancelled.bin'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('checks the access fields, naming the bad one, never quoting a secret', () => {
    const a = { bucket: 'b', auth: { accessKeyId: 'id', secretAccessKey: 'SECRET-VALUE' } };
    expect(() => parseS3Access({ ...a, key: 'k', user: 'u' }, 'input x', 'File')).toThrow(
      'input x (redlab-connector-s3): unknown access key user; allowed: endpoint, bucket, key, prefix, region, auth, forcePathStyle, timeout'
    );
    expect(() => parseS3Access({ ...a, prefix: 'p/' }, 'input x', 'File')).toThrow("a File needs access.key (the object's key, e.g. data/train.csv); access.prefix is for a Directory");
    expect(() => parseS3Access({ ...a, key: 'k' }, 'input x', 'Directory')).toThrow("a Directory needs access.prefix (the folder's key prefix, e.g. data/tiles/ ('' for the whole bucket)); access.key is for a File");
    expect(() => parseS3Access({ ...a, key: '/data/x.csv' }, 'input x', 'File')).toThrow(`access.key starts with '/': S3 keys have no leading slash (write "data/x.csv")`);
    expect(() => parseS3Access({ ...a, key: 'data/' }, 'input x', 'File')).toThrow("access.key \"data/\" ends with '/', which names a folder");
    expect(() => parseS3Access({ ...a, key: 'k', bucket: 'b/k' }, 'input x', 'File')).toThrow('access.bucket "b/k" is not a bucket name');
    expect(() => parseS3Access({ ...a, key: 'k', endpoint: 'ftp://h' }, 'input x', 'File')).toThrow('access.endpoint must start with https:// or http://, not ftp://');
    expect(() => parseS3Access({ ...a, key: 'k', endpoint: 'https://id:pw@h' }, 'input x', 'File')).toThrow('access.endpoint must not hold a user or password');
    expect(() => parseS3Access({ ...a, key: 'k', forcePathStyle: 'yes' }, 'input x', 'File')).toThrow('access.forcePathStyle must be true');
    expect(() => parseS3Access({ ...a, key: 'k', timeout: 0 }, 'input x', 'File')).toThrow('access.timeout must be a number of seconds (> 0), not 0');
    expect(() => parseS3Access({ bucket: 'b', key: 'k', auth: { accessKeyId: 'id' } }, 'input x', 'File')).toThrow('access.auth.secretAccessKey must be the secret access key');
    expect(() => parseS3Access({ bucket: 'b', key: 'k', auth: { accessKeyId: 'id', secretAccessKey: 'SECRET-VALUE', token: 't' } }, 'input x', 'File')).toThrow(
      'unknown access.auth key token; allowed: accessKeyId, secretAccessKey'
    );
    for (const bad of [{ ...a, key: 5 }, { ...a, prefix: 'p', key: 'k' }, { ...a, key: 'k', region: 'eu central' }]) {
      expect(() => parseS3Access(bad, 'input x', 'File')).toThrow(/^input x \(redlab-connector-s3\): (?!.*SECRET-VALUE)/);
    }
    // Path-style for a server of one's own, bucket host names for AWS; the prefix names a folder.
    expect(parseS3Access({ ...a, endpoint: 'http://10.0.0.5:9000/', prefix: 'data' }, 'input x', 'Directory')).toMatchObject({
      endpoint: 'http://10.0.0.5:9000',
      prefix: 'data/',
      forcePathStyle: true,
      region: 'us-east-1',
      timeoutS: 30
    });
    expect(parseS3Access({ ...a, key: 'k', region: 'eu-central-1' }, 'input x', 'File')).toMatchObject({ endpoint: undefined, forcePathStyle: false, region: 'eu-central-1' });
 
    // Every field the panel offers (src/red/connector-fields.ts) is one this connector takes.
    const sample: Record<string, unknown> = { endpoint: 'https://s3.example.org', bucket: 'b', key: 'k', prefix: 'p/', region: 'eu-central-1' };
    for (const cls of ['File', 'Directory'] as const) {
      for (const direction of ['receive', 'send'] as const) {
        const fields = connectorFields('redlab-connector-s3', cls, direction);
        const filled: Record<string, unknown> = {};
        for (const f of fields) {
          const [head, sub] = f.path.split('.');
          const v = f.type === 'boolean' ? true : f.type === 'number' ? 5 : (sample[f.path] ?? 'v');
          if (sub) filled[head] = { ...(filled[head] as object), [sub]: v };
          else filled[head] = v;
        }
        expect(() => parseS3Access(filled, 'input x', cls)).not.toThrow();
      }
    }
  });
});

describe('redlab-connector-s3 output', () => {
  const outAccess = (where: Record<string, unknown>) => ({ ...access(where), bucket: 'results' });

  it('sends a file, and a folder tree (an empty folder as its marker, a link skipped with a note)', async () => {
    const file = path.join(tmp, 'weights.bin');
    await writeFile(file, 'weights\n');
    expect(await s3Out.send({ key: 'weights', class: 'File', hostPath: file, access: outAccess({ key: 'run 1/weights.bin' }) }, ctx)).toEqual({
      target: `${server.endpoint}/results/run%201/weights.bin`
    });
    expect(await readFile(server.objectPath('results', 'run 1/weights.bin'), 'utf8')).toBe('weights\n');

    const dir = path.join(tmp, 'logs');
    await mkdir(path.join(dir, 'epoch 1'), { recursive: true });
    await mkdir(path.join(dir, 'empty'));
    await writeFile(path.join(dir, 'summary.txt'), 'done\n');
    await writeFile(path.join(dir, 'epoch 1', 'loss.csv'), '0.5\n');
    await symlink('/etc/passwd', path.join(dir, 'leak'));
    const sent = await s3Out.send({ key: 'logs', class: 'Directory', hostPath: dir, access: outAccess({ prefix: 'run 1/logs' }) }, ctx);
    expect(sent.target).toBe(`${server.endpoint}/results/run%201/logs/`);
    expect(await readFile(server.objectPath('results', 'run 1/logs/summary.txt'), 'utf8')).toBe('done\n');
    expect(await readFile(server.objectPath('results', 'run 1/logs/epoch 1/loss.csv'), 'utf8')).toBe('0.5\n');
    expect((await stat(server.objectPath('results', 'run 1/logs/empty'))).isDirectory()).toBe(true);
    await expect(stat(server.objectPath('results', 'run 1/logs/leak'))).rejects.toMatchObject({ code: 'ENOENT' });
    expect(notes).toContain(`output logs: skipped ${path.join(dir, 'leak')} (a link or special file; links are not followed)`);
    expect(notes).toContain(`output logs: sent 2 files to ${server.endpoint}/results/run%201/logs/`);

    // What was sent comes back as it was, through the input connector.
    const back = path.join(tmp, 'back');
    await s3In.stage({ key: 'logs', label: 'logs', value: { class: 'Directory', connector: { command: 'redlab-connector-s3', access: outAccess({ prefix: 'run 1/logs/' }) } }, dest: back }, ctx);
    expect((await readdir(back)).sort()).toEqual(['empty', 'epoch 1', 'summary.txt']);
    expect(await readFile(path.join(back, 'epoch 1', 'loss.csv'), 'utf8')).toBe('0.5\n');
  });

  it('sends a file larger than a part as a multipart upload (12 MB in 5 MiB parts)', async () => {
    const big = randomBytes(12 * 1000 * 1000);
    const file = path.join(tmp, 'big.bin');
    await writeFile(file, big);
    const multipart = createS3Connectors({ policy: loopback, partSize: 5 * 1024 * 1024 }).output;
    const events: TransferProgress[] = [];
    await multipart.send({ key: 'big', class: 'File', hostPath: file, access: outAccess({ key: 'big/model.bin' }) }, { ...ctx, onProgress: p => events.push(p) });
    expect(events.map(e => e.bytes)).toEqual([...events.map(e => e.bytes)].sort((x, y) => x - y)); // only grows
    expect(events.length).toBeGreaterThanOrEqual(4); // one per part at least, and done
    expect(events.at(-1)).toEqual({ direction: 'output', name: 'big', bytes: big.length, total: big.length, done: true });
    expect(sha256(await readFile(server.objectPath('results', 'big/model.bin')))).toBe(sha256(big));
    // S3 gives a multipart object the ETag <md5 of the parts' md5s>-<parts>.
    const client = new S3Client({ endpoint: server.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: auth() });
    try {
      const head = await client.send(new HeadObjectCommand({ Bucket: 'results', Key: 'big/model.bin' }));
      expect(head.ETag).toMatch(/-3"$/);
      expect(head.ContentLength).toBe(big.length);
    } finally {
      client.destroy();
    }
  });

  it('names the output and the field on a wrong secret, a missing bucket and an output that is not there', async () => {
    const file = path.join(tmp, 'w.txt');
    await writeFile(file, 'w\n');
    const wrong = { ...outAccess({ key: 'w.txt' }), auth: { accessKeyId: server.accessKeyId, secretAccessKey: 'wrong-secret' } };
    const err = await failure(s3Out.send({ key: 'w', class: 'File', hostPath: file, access: wrong }, ctx));
    expect(err.message).toContain(`output w (redlab-connector-s3): upload to ${server.endpoint}/results/w.txt: ${server.endpoint} refused the request's signature`);
    expect(err.message).toContain('check access.auth.secretAccessKey of output w');
    expect(err.message).not.toContain('wrong-secret');
    const noBucket = await failure(s3Out.send({ key: 'w', class: 'File', hostPath: file, access: { ...outAccess({ key: 'w.txt' }), bucket: 'absent' } }, ctx));
    expect(noBucket.message).toContain(`output w (redlab-connector-s3): upload to ${server.endpoint}/absent/w.txt: there is no bucket absent on ${server.endpoint}; check access.bucket`);
    await expect(s3Out.send({ key: 'w', class: 'File', hostPath: tmp, access: outAccess({ key: 'w.txt' }) }, ctx)).rejects.toThrow(
      `output w (redlab-connector-s3): ${tmp} is not a plain file; nothing sent`
    );
  });
});
