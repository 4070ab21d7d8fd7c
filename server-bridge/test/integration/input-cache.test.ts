// The input cache against real servers (HTTP on loopback, OpenSSH's sshd, vsftpd), through
// the normal staging path: a rerun asks the source (HEAD / stat / SIZE+MDTM) and does not
// download again; a changed source is downloaded again; the bound evicts the least
// recently used; runs at once (two caches on one folder, as two processes) share it; a
// damaged object is found and replaced. And staging's parallel transfers: order kept,
// the first failure named and the others cancelled.
import { createHash, randomBytes } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { CommandLineTool, FileOrDirectory, FileRecord } from '../../../src/red';
import { HostPolicy } from '../../src/connectors/host-policy';
import { InputCache } from '../../src/connectors/input-cache';
import { defaultConnectors, type ConnectorRegistry } from '../../src/connectors/registry';
import type { ConnectorContext } from '../../src/connectors/types';
import { listInputItems, stageInputs } from '../../src/engine/staging';
import { startTestServer, type TestServer } from '../helpers/http-server';
import { sftpServerUnavailable, startSftpServer, type SftpServer } from '../helpers/sftp-server';
import { startVsftpd, type FtpTestServer } from '../helpers/vsftpd';

const MiB = 1024 * 1024;
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

let tmp: string;
let run = 0;
beforeEach(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'redlab-input-cache-'));
});
afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

function registryWith(cache: InputCache | undefined, opts: { transferLimit?: number; sshKnownHostsFile?: string } = {}): ConnectorRegistry {
  const reg = defaultConnectors({ hostPolicy: new HostPolicy({ allow: ['127.0.0.1'] }), sshKnownHostsFile: opts.sshKnownHostsFile });
  reg.inputCache = cache;
  reg.transferLimit = opts.transferLimit;
  return reg;
}

const cli = (inputs: Record<string, string>): CommandLineTool =>
  ({ cwlVersion: 'v1.0', class: 'CommandLineTool', baseCommand: 'true', inputs: Object.fromEntries(Object.entries(inputs).map(([k, t]) => [k, { type: t }])), outputs: {} }) as CommandLineTool;

/** One staging run (a batch's inputs), in its own inputs folder; `notes` gets its onInfo lines. */
async function stage(registry: ConnectorRegistry, values: Record<string, FileOrDirectory>, notes: string[] = [], ctxExtra: Partial<ConnectorContext> = {}) {
  const types = Object.fromEntries(Object.entries(values).map(([k, v]) => [k, v.class]));
  const ctx: ConnectorContext = { baseDir: tmp, allowedRoots: [tmp], onInfo: m => notes.push(m), retry: { attempts: 2, baseDelayMs: 10, maxDelayMs: 20 }, ...ctxExtra };
  return stageInputs({ items: listInputItems(cli(types), values), inputsDir: path.join(tmp, `run-${++run}`), registry, ctx });
}

const httpFile = (url: string, extra: Partial<FileOrDirectory> = {}): FileOrDirectory => ({ class: 'File', connector: { command: 'red-connector-http', access: { url } }, ...extra }) as FileOrDirectory;
const gets = (s: TestServer, p: string) => s.requests.filter(r => r.method === 'GET' && r.url === p).length;
const heads = (s: TestServer, p: string) => s.requests.filter(r => r.method === 'HEAD' && r.url === p).length;
const rec = (staged: { records: Record<string, FileRecord | FileRecord[]> }, key: string) => staged.records[key] as FileRecord;

describe('input cache with red-connector-http', () => {
  let server: TestServer;
  const files: Record<string, Buffer> = {};
  beforeAll(async () => {
    files['/a.bin'] = randomBytes(MiB);
    files['/b.bin'] = randomBytes(MiB);
    files['/c.bin'] = randomBytes(MiB);
    files['/plain.bin'] = randomBytes(1000);
    server = await startTestServer({ files, validators: true });
  });
  afterAll(() => server.close());

  it('a rerun asks the source (HEAD) and takes the input from the cache, without a download', async () => {
    const cache = new InputCache({ dir: path.join(tmp, 'cache') });
    const reg = registryWith(cache);
    const first = await stage(reg, { x: httpFile(`${server.url}/a.bin`) });
    expect(gets(server, '/a.bin')).toBe(1);
    const notes: string[] = [];
    const second = await stage(reg, { x: httpFile(`${server.url}/a.bin`, { checksum: `sha256$${sha256(files['/a.bin'])}`, size: MiB }) }, notes);
    expect(gets(server, '/a.bin')).toBe(1); // no second download
    expect(heads(server, '/a.bin')).toBe(2); // but the source was asked both times
    expect(notes.join('\n')).toMatch(/^input x: from the input cache \(1048576 bytes, sha256 [0-9a-f]{12}…; http:\/\/127\.0\.0\.1:\d+\/a\.bin is unchanged\)$/m);
    expect(rec(second, 'x').sha256).toBe(sha256(files['/a.bin']));
    expect(rec(second, 'x').sha256).toBe(rec(first, 'x').sha256);
    expect(fs.readFileSync(rec(second, 'x').path).equals(files['/a.bin'])).toBe(true);
    // Shared bytes are read-only: a run cannot change what the next one gets.
    expect(fs.statSync(rec(second, 'x').path).mode & 0o222).toBe(0);
    // The cache holds the bytes once, named by their sha256, and no secret or URL in its index.
    expect(fs.readdirSync(path.join(tmp, 'cache', 'objects'))).toEqual([sha256(files['/a.bin'])]);
    const index = fs.readdirSync(path.join(tmp, 'cache', 'index')).map(f => fs.readFileSync(path.join(tmp, 'cache', 'index', f), 'utf8'));
    expect(index.join('')).not.toContain('a.bin');
  });

  it('a changed source (new ETag) is downloaded again', async () => {
    const reg = registryWith(new InputCache({ dir: path.join(tmp, 'cache') }));
    const before = gets(server, '/b.bin');
    await stage(reg, { x: httpFile(`${server.url}/b.bin`) });
    const old = files['/b.bin'];
    files['/b.bin'] = randomBytes(MiB); // same length, other bytes: the ETag tells
    try {
      const again = await stage(reg, { x: httpFile(`${server.url}/b.bin`) });
      expect(gets(server, '/b.bin')).toBe(before + 2);
      expect(fs.readFileSync(rec(again, 'x').path).equals(files['/b.bin'])).toBe(true);
      // and that new version is what the next run gets from the cache
      await stage(reg, { x: httpFile(`${server.url}/b.bin`) });
      expect(gets(server, '/b.bin')).toBe(before + 2);
    } finally {
      files['/b.bin'] = old;
    }
  });

  it('a source without ETag or Last-Modified is not cached (a length alone cannot tell an edit)', async () => {
    const plain = await startTestServer({ files: { '/p.bin': files['/plain.bin'] } });
    try {
      const cache = new InputCache({ dir: path.join(tmp, 'cache') });
      const reg = registryWith(cache);
      await stage(reg, { x: httpFile(`${plain.url}/p.bin`) });
      await stage(reg, { x: httpFile(`${plain.url}/p.bin`) });
      expect(gets(plain, '/p.bin')).toBe(2);
      expect(await cache.usedBytes()).toBe(0);
    } finally {
      await plain.close();
    }
  });

  it('a source that refuses HEAD (405, or 403 for a URL signed for GET only) is downloaded, not cached', async () => {
    for (const headStatus of [403, 405]) {
      const noHead = await startTestServer({ files: { '/p.bin': files['/plain.bin'] }, validators: true, headStatus });
      try {
        const cache = new InputCache({ dir: path.join(tmp, `cache-${headStatus}`) });
        const reg = registryWith(cache);
        const first = await stage(reg, { x: httpFile(`${noHead.url}/p.bin`) });
        await stage(reg, { x: httpFile(`${noHead.url}/p.bin`) });
        expect(gets(noHead, '/p.bin')).toBe(2);
        expect(fs.readFileSync(rec(first, 'x').path).equals(files['/plain.bin'])).toBe(true);
        expect(await cache.usedBytes()).toBe(0);
      } finally {
        await noHead.close();
      }
    }
  });

  it('keeps within its bound: the least recently used input goes first', async () => {
    const cache = new InputCache({ dir: path.join(tmp, 'cache'), maxBytes: 2.5 * MiB });
    const reg = registryWith(cache);
    const g0 = { a: gets(server, '/a.bin'), b: gets(server, '/b.bin'), c: gets(server, '/c.bin') };
    await stage(reg, { x: httpFile(`${server.url}/a.bin`) });
    await new Promise(r => setTimeout(r, 20));
    await stage(reg, { x: httpFile(`${server.url}/b.bin`) });
    await new Promise(r => setTimeout(r, 20));
    await stage(reg, { x: httpFile(`${server.url}/a.bin`) }); // a used again: b is now the oldest
    await new Promise(r => setTimeout(r, 20));
    await stage(reg, { x: httpFile(`${server.url}/c.bin`) }); // 3 MiB > 2.5 MiB: one goes
    expect(await cache.usedBytes()).toBeLessThanOrEqual(2.5 * MiB);
    expect(fs.readdirSync(path.join(tmp, 'cache', 'objects')).sort()).toEqual([sha256(files['/a.bin']), sha256(files['/c.bin'])].sort());
    await stage(reg, { x: httpFile(`${server.url}/a.bin`) });
    await stage(reg, { x: httpFile(`${server.url}/b.bin`) }); // evicted: downloaded again
    expect(gets(server, '/a.bin') - g0.a).toBe(1);
    expect(gets(server, '/b.bin') - g0.b).toBe(2);
    expect(gets(server, '/c.bin') - g0.c).toBe(1);
  });

  it('an input larger than the whole bound is used but not kept', async () => {
    const cache = new InputCache({ dir: path.join(tmp, 'cache'), maxBytes: MiB / 2 });
    const notes: string[] = [];
    await stage(registryWith(cache), { x: httpFile(`${server.url}/a.bin`) }, notes);
    expect(notes).toContain(`input x: not kept in the input cache (${MiB} bytes, more than its bound of ${MiB / 2})`);
    expect(await cache.usedBytes()).toBe(0);
  });

  it('runs at once (two caches on one folder, as two processes) share it: every run gets the right bytes, each content is kept once', async () => {
    const dir = path.join(tmp, 'cache');
    const values = () => ({ a: httpFile(`${server.url}/a.bin`), b: httpFile(`${server.url}/b.bin`), c: httpFile(`${server.url}/c.bin`) });
    const runs = await Promise.all([0, 1, 2, 3].map(i => stage(registryWith(new InputCache({ dir, maxBytes: 100 * MiB }), { transferLimit: 1 + (i % 3) }), values())));
    for (const r of runs) for (const k of ['a', 'b', 'c']) expect(fs.readFileSync(rec(r, k).path).equals(files[`/${k}.bin`])).toBe(true);
    expect(fs.readdirSync(path.join(dir, 'objects')).sort()).toEqual(['a', 'b', 'c'].map(k => sha256(files[`/${k}.bin`])).sort());
    expect(fs.readdirSync(path.join(dir, 'tmp'))).toEqual([]);
    const g = gets(server, '/a.bin');
    await stage(registryWith(new InputCache({ dir })), values());
    expect(gets(server, '/a.bin')).toBe(g);
  });

  it('a damaged object (bytes not its sha256) is dropped and the input downloaded again', async () => {
    const cache = new InputCache({ dir: path.join(tmp, 'cache') });
    const reg = registryWith(cache);
    await stage(reg, { x: httpFile(`${server.url}/c.bin`) });
    const object = path.join(tmp, 'cache', 'objects', sha256(files['/c.bin']));
    fs.chmodSync(object, 0o644);
    fs.writeFileSync(object, Buffer.alloc(MiB, 1)); // same size, other bytes
    const g = gets(server, '/c.bin');
    const notes: string[] = [];
    const again = await stage(reg, { x: httpFile(`${server.url}/c.bin`) }, notes);
    expect(gets(server, '/c.bin')).toBe(g + 1);
    expect(notes.join('\n')).toContain("input x: the input cache's copy was damaged");
    expect(fs.readFileSync(rec(again, 'x').path).equals(files['/c.bin'])).toBe(true);
  });

  it('a checksum mismatch is reported from a cached input too (the check runs on every use)', async () => {
    const reg = registryWith(new InputCache({ dir: path.join(tmp, 'cache') }));
    await stage(reg, { x: httpFile(`${server.url}/a.bin`) });
    await expect(stage(reg, { x: httpFile(`${server.url}/a.bin`, { checksum: `sha256$${'0'.repeat(64)}` }) })).rejects.toThrow(/^input x: checksum mismatch: the RED says sha256\$0{64}/);
  });

  it('refuses a cache folder others may write (they could hand runs their bytes)', async () => {
    const open = path.join(tmp, 'open');
    fs.mkdirSync(open, { mode: 0o777 });
    fs.chmodSync(open, 0o777);
    const reg = registryWith(new InputCache({ dir: open }));
    await expect(stage(reg, { x: httpFile(`${server.url}/a.bin`) })).rejects.toThrow(/input cache.*writable by/);
  });
});

describe('parallel staging', () => {
  let server: TestServer;
  beforeAll(async () => {
    const files: Record<string, Buffer> = {};
    for (let i = 0; i < 6; i++) files[`/f${i}`] = Buffer.from(`file ${i}\n`.repeat(1000 * (6 - i)));
    server = await startTestServer({ files, hang: ['/hang'], status: { '/gone': 404 } });
  });
  afterAll(() => server.close());

  it('receives several inputs at once, with binds and records in the inputs\' order', async () => {
    const values: Record<string, FileOrDirectory> = {};
    for (let i = 0; i < 6; i++) values[`in${i}`] = httpFile(`${server.url}/f${i}`);
    const staged = await stage(registryWith(undefined, { transferLimit: 3 }), values);
    expect(staged.binds.map(b => path.basename(path.dirname(b.hostPath)))).toEqual(['in0', 'in1', 'in2', 'in3', 'in4', 'in5']);
    expect(Object.keys(staged.records)).toEqual(['in0', 'in1', 'in2', 'in3', 'in4', 'in5']);
    for (let i = 0; i < 6; i++) expect(fs.readFileSync(rec(staged, `in${i}`).path, 'utf8')).toBe(`file ${i}\n`.repeat(1000 * (6 - i)));
  });

  it('the first failure is thrown naming its input, and cancels the transfers still running', async () => {
    const t0 = Date.now();
    const err = await stage(registryWith(undefined, { transferLimit: 4 }), { slow: httpFile(`${server.url}/hang`), missing: httpFile(`${server.url}/gone`), ok: httpFile(`${server.url}/f0`) }).catch(e => e as Error);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toMatch(/^input missing: GET http:\/\/127\.0\.0\.1:\d+\/gone answered HTTP 404/);
    expect(Date.now() - t0).toBeLessThan(10_000); // the hanging one was cancelled, not waited for
  });

  it('with a limit of 1, one at a time: a failure stops the inputs after it', async () => {
    const before = server.requests.length;
    await expect(stage(registryWith(undefined, { transferLimit: 1 }), { missing: httpFile(`${server.url}/gone`), later: httpFile(`${server.url}/f1`) })).rejects.toThrow(/^input missing: /);
    const asked = server.requests.slice(before).map(r => r.url);
    expect(asked).toContain('/gone');
    expect(asked).not.toContain('/f1');
  });
});

const sftpSkip = sftpServerUnavailable();
(sftpSkip ? describe.skip : describe)('input cache with red-connector-ssh (size + mtime)', () => {
  let srv: SftpServer;
  const data = randomBytes(2 * MiB);
  beforeAll(async () => {
    srv = await startSftpServer();
    fs.writeFileSync(path.join(srv.home, 'big.bin'), data);
  }, 30_000);
  afterAll(() => srv?.stop());
  const sshFile = (): FileOrDirectory =>
    ({ class: 'File', connector: { command: 'red-connector-ssh', access: { host: srv.host, port: srv.port, auth: { username: srv.user, password: srv.password }, filePath: 'big.bin' } } }) as FileOrDirectory;

  it('a rerun is served from the cache; a file changed on the server (size or mtime) is received again', async () => {
    const reg = registryWith(new InputCache({ dir: path.join(tmp, 'cache') }), { sshKnownHostsFile: srv.knownHostsFile });
    const n1: string[] = [];
    await stage(reg, { x: sshFile() }, n1);
    expect(n1.join('\n')).toMatch(/input x: received sftp:\/\//);
    const n2: string[] = [];
    const second = await stage(reg, { x: sshFile() }, n2);
    expect(n2.join('\n')).toMatch(/input x: from the input cache \(2097152 bytes/);
    expect(n2.join('\n')).not.toMatch(/received sftp/);
    expect(fs.readFileSync(rec(second, 'x').path).equals(data)).toBe(true);
    const changed = randomBytes(2 * MiB);
    fs.writeFileSync(path.join(srv.home, 'big.bin'), changed);
    const future = new Date(Date.now() + 5000);
    fs.utimesSync(path.join(srv.home, 'big.bin'), future, future);
    const n3: string[] = [];
    const third = await stage(reg, { x: sshFile() }, n3);
    expect(n3.join('\n')).toMatch(/input x: received sftp:\/\//);
    expect(fs.readFileSync(rec(third, 'x').path).equals(changed)).toBe(true);
  }, 60_000);
});

const ftpSkip = process.getuid?.() !== 0 || !fs.existsSync('/usr/sbin/vsftpd') ? 'needs root and vsftpd' : undefined;
(ftpSkip ? describe.skip : describe)('input cache with red-connector-ftp (SIZE + MDTM)', () => {
  let server: FtpTestServer;
  const data = randomBytes(MiB);
  beforeAll(async () => {
    server = await startVsftpd({ 'data/f.bin': data });
  }, 30_000);
  afterAll(() => server?.stop());
  const ftpFile = (): FileOrDirectory =>
    ({ class: 'File', connector: { command: 'red-connector-ftp', access: { url: server.url('data/f.bin'), auth: { username: server.username, password: server.password } } } }) as FileOrDirectory;

  it('a rerun is served from the cache; a changed file is received again', async () => {
    const reg = registryWith(new InputCache({ dir: path.join(tmp, 'cache') }));
    await stage(reg, { x: ftpFile() });
    const n2: string[] = [];
    await stage(reg, { x: ftpFile() }, n2);
    expect(n2.join('\n')).toMatch(/input x: from the input cache \(1048576 bytes/);
    const changed = randomBytes(MiB);
    const remote = path.join(server.root, 'data/f.bin');
    fs.writeFileSync(remote, changed);
    const future = new Date(Date.now() + 5000);
    fs.utimesSync(remote, future, future);
    const n3: string[] = [];
    const third = await stage(reg, { x: ftpFile() }, n3);
    expect(n3.join('\n')).not.toMatch(/from the input cache/);
    expect(fs.readFileSync(rec(third, 'x').path).equals(changed)).toBe(true);
  }, 60_000);
});
