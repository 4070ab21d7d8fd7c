// red-connector-http-archive against a real HTTP server on loopback: archives made here by Python's
// tarfile/zipfile (an implementation apart from the unpacker's libraries), every format round-tripped,
// and the hostile ones (path traversal, links out, devices, bombs, truncated) refused with the input named;
// then a real container reads an unpacked folder through the Docker engine.
import { execFileSync } from 'child_process';
import { randomBytes, randomUUID } from 'crypto';
import { lstat, mkdir, readFile, readdir, stat, writeFile } from 'fs/promises';
import * as path from 'path';
import type { FileOrDirectory, ListingEntry } from '../../../src/red';
import { createHttpArchiveConnector, parseHttpArchiveAccess } from '../../src/connectors/http-archive';
import { HostPolicy } from '../../src/connectors/host-policy';
import type { ConnectorContext, InputConnector } from '../../src/connectors/types';
import { ARCHIVE_FORMATS, unpackLimitsFromEnv, type ArchiveFormat, type UnpackLimits } from '../../src/connectors/unpack-archive';
import { DockerEngine } from '../../src/engine/docker';
import { listInputItems, stageInputs } from '../../src/engine/staging';
import { loopbackConnectors, startTestServer, type TestServer } from '../helpers/http-server';
import { BUSYBOX, dockerTestFile, removeTempDirs, request, tempDir } from '../helpers/red';

jest.setTimeout(60_000);

type Entry =
  | { name: string; type: 'file'; data?: string; zeros?: number; base64?: string; mode?: number }
  | { name: string; type: 'dir' | 'fifo' | 'chardev' }
  | { name: string; type: 'symlink' | 'hardlink'; target: string };

// Writes an archive with Python's tarfile/zipfile, entries exactly as given (names are not cleaned).
const MAKE_ARCHIVE = `
import base64, json, sys, tarfile, zipfile, io
fmt, out, entries = sys.argv[1], sys.argv[2], json.load(sys.stdin)
def data(e):
    if 'zeros' in e: return bytes(e['zeros'])
    if 'base64' in e: return base64.b64decode(e['base64'])
    return e.get('data', '').encode()
if fmt == 'zip':
    with zipfile.ZipFile(out, 'w', zipfile.ZIP_DEFLATED) as z:
        for e in entries:
            zi = zipfile.ZipInfo(e['name'])
            zi.create_system = 3
            zi.compress_type = zipfile.ZIP_DEFLATED
            t = e['type']
            kind = {'dir': 0o040755, 'symlink': 0o120777, 'fifo': 0o010644, 'chardev': 0o020644}.get(t, 0o100000 | e.get('mode', 0o644))
            zi.external_attr = kind << 16
            z.writestr(zi, e['target'] if t == 'symlink' else data(e) if t == 'file' else b'')
else:
    with tarfile.open(out, {'tar': 'w', 'gztar': 'w:gz', 'bztar': 'w:bz2', 'xztar': 'w:xz'}[fmt], format=tarfile.PAX_FORMAT) as tf:
        for e in entries:
            ti = tarfile.TarInfo(e['name'])
            t = e['type']
            ti.type = {'file': tarfile.REGTYPE, 'dir': tarfile.DIRTYPE, 'symlink': tarfile.SYMTYPE, 'hardlink': tarfile.LNKTYPE, 'fifo': tarfile.FIFOTYPE, 'chardev': tarfile.CHRTYPE}[t]
            ti.mode = e.get('mode', 0o755 if t == 'dir' else 0o644)
            if t in ('symlink', 'hardlink'): ti.linkname = e['target']
            body = data(e) if t == 'file' else b''
            ti.size = len(body)
            tf.addfile(ti, io.BytesIO(body) if t == 'file' else None)
`;

let dir: string;
function makeArchive(format: ArchiveFormat, entries: Entry[]): Buffer {
  const out = path.join(dir, `archive-${randomUUID()}`);
  execFileSync('python3', ['-c', MAKE_ARCHIVE, format, out], { input: JSON.stringify(entries) });
  return require('fs').readFileSync(out) as Buffer;
}

const BINARY = randomBytes(300_000);
const roundTripEntries = (format: ArchiveFormat): Entry[] => [
  { name: 'data/', type: 'dir' },
  { name: 'data/a.txt', type: 'file', data: 'alpha\n' },
  { name: 'data/sub/b.bin', type: 'file', base64: BINARY.toString('base64') },
  { name: 'data/run.sh', type: 'file', data: '#!/bin/sh\necho run\n', mode: 0o755 },
  { name: 'data/setuid', type: 'file', data: 'x', mode: 0o4777 },
  { name: 'empty/', type: 'dir' },
  ...(format === 'zip' ? [] : [{ name: 'data/hard-a', type: 'hardlink', target: 'data/a.txt' } as Entry])
];

const AUTH = { username: 'ann', password: 'arch1ve-pw' };
let server: TestServer;
let ctx: ConnectorContext;
const files: Record<string, Buffer> = {};
const policy = new HostPolicy({ allow: ['127.0.0.1'] });
const connector = createHttpArchiveConnector(policy);

beforeAll(async () => {
  // A folder of its own inside a private one: what a ../ name would reach is this test's, not /tmp's.
  dir = path.join(await tempDir('redlab-archive-'), 'work');
  await mkdir(dir);
  for (const f of ARCHIVE_FORMATS) files[`/ok/${f}`] = makeArchive(f, roundTripEntries(f));
  server = await startTestServer({ files });
});
afterAll(async () => {
  await server?.close();
  await removeTempDirs();
});
beforeEach(() => {
  ctx = { baseDir: dir, allowedRoots: [dir] };
});

const dirValue = (access: Record<string, unknown>, extra: Partial<FileOrDirectory> = {}): FileOrDirectory => ({
  class: 'Directory',
  connector: { command: 'red-connector-http-archive', access },
  ...extra
});

/** Serves `body` at a fresh path and stages it with `format`; resolves to the destination folder. */
async function stage(body: Buffer, format: ArchiveFormat, c: InputConnector = connector): Promise<string> {
  const p = `/a/${randomUUID()}`;
  files[p] = body;
  const dest = path.join(await tempDir('redlab-archive-dest-'), 'data');
  await c.stage({ key: 'data', label: 'data', value: dirValue({ url: `${server.url}${p}`, archiveFormat: format }), dest }, ctx);
  return dest;
}

/** Stages and expects a refusal; checks the destination and the download are gone. */
async function refused(body: Buffer, format: ArchiveFormat, c: InputConnector = connector): Promise<string> {
  const p = `/a/${randomUUID()}`;
  files[p] = body;
  const holder = await tempDir('redlab-archive-dest-');
  const dest = path.join(holder, 'data');
  const err = await c.stage({ key: 'data', label: 'data', value: dirValue({ url: `${server.url}${p}`, archiveFormat: format }), dest }, ctx).then(
    () => undefined,
    (e: Error) => e
  );
  expect(err).toBeInstanceOf(Error);
  expect(err!.message).toMatch(/^input data \(red-connector-http-archive\): /);
  expect(await readdir(holder)).toEqual([]);
  return err!.message;
}

describe('red-connector-http-archive: every format round-trips', () => {
  it.each(ARCHIVE_FORMATS)('%s', async format => {
    const dest = await stage(files[`/ok/${format}`], format);
    expect((await readdir(dest)).sort()).toEqual(['data', 'empty']);
    expect(await readFile(path.join(dest, 'data/a.txt'), 'utf8')).toBe('alpha\n');
    expect((await readFile(path.join(dest, 'data/sub/b.bin'))).equals(BINARY)).toBe(true);
    // Execute bits kept; setuid and group/other write dropped.
    expect((await stat(path.join(dest, 'data/run.sh'))).mode & 0o7777).toBe(0o755);
    expect((await stat(path.join(dest, 'data/setuid'))).mode & 0o7777).toBe(0o755);
    if (format !== 'zip') expect(await readFile(path.join(dest, 'data/hard-a'), 'utf8')).toBe('alpha\n');
    // The download beside it is removed.
    expect(await readdir(path.dirname(dest))).toEqual(['data']);
  });

  it('also unpacks what system tar and zip make', async () => {
    const src = await tempDir('redlab-archive-src-');
    await writeFile(path.join(src, 'one.txt'), 'one\n');
    execFileSync('tar', ['-cJf', path.join(dir, 'sys.tar.xz'), '-C', src, '.']);
    execFileSync('zip', ['-q', '-r', '-y', path.join(dir, 'sys.zip'), '.'], { cwd: src });
    for (const [file, format] of [['sys.tar.xz', 'xztar'], ['sys.zip', 'zip']] as const) {
      const dest = await stage(await readFile(path.join(dir, file)), format);
      expect(await readFile(path.join(dest, 'one.txt'), 'utf8')).toBe('one\n');
    }
  });
});

describe('red-connector-http-archive: hostile archives are refused, nothing left behind', () => {
  const tarFormats: ArchiveFormat[] = ['tar', 'gztar'];

  it.each([...tarFormats, 'zip'] as ArchiveFormat[])('%s: ../ and absolute names', async format => {
    for (const name of ['../x', 'a/../../x', '/etc/x']) {
      const msg = await refused(makeArchive(format, [{ name: 'ok.txt', type: 'file', data: 'ok' }, { name, type: 'file', data: 'evil' }]), format);
      expect(msg).toContain(name.startsWith('/') ? '/etc/x' : '../x');
    }
    await expect(lstat(path.join(path.dirname(dir), 'x'))).rejects.toThrow('ENOENT');
  });

  it.each([...tarFormats, 'zip'] as ArchiveFormat[])('%s: symbolic links, out of the folder or not', async format => {
    for (const [name, target] of [['passwd', '/etc/passwd'], ['sub/up', '../../../../etc/passwd'], ['inside', 'ok.txt']]) {
      const msg = await refused(makeArchive(format, [{ name: 'ok.txt', type: 'file', data: 'ok' }, { name, type: 'symlink', target }]), format);
      expect(msg).toContain(
        `archive entry ${JSON.stringify(name)} is a symbolic link (to ${target}); the bridge follows no links in inputs: replace it in the archive by the file or folder it points to`
      );
    }
  });

  it('tar: hard links out of the folder, or to what is not an earlier file', async () => {
    const cases: [Entry[], string][] = [
      [[{ name: 'h', type: 'hardlink', target: '/etc/passwd' }], '"h" is a hard link to "/etc/passwd", outside the archive\'s folder; a hard link must name a file earlier in the archive'],
      [[{ name: 'h', type: 'hardlink', target: '../../../../etc/passwd' }], '"h" is a hard link to "../../../../etc/passwd", outside the archive\'s folder'],
      [[{ name: 'h', type: 'hardlink', target: 'later.txt' }, { name: 'later.txt', type: 'file', data: 'x' }], 'is a hard link to "later.txt", which is not a file earlier in the archive'],
      [[{ name: 'd/', type: 'dir' }, { name: 'h', type: 'hardlink', target: 'd' }], 'is a hard link to "d", which is not a file earlier in the archive']
    ];
    for (const [entries, text] of cases) expect(await refused(makeArchive('tar', entries), 'tar')).toContain(text);
  });

  it('devices and FIFOs, a name twice, a file where a folder is', async () => {
    expect(await refused(makeArchive('tar', [{ name: 'null', type: 'chardev' }]), 'tar')).toContain(
      '"null" is a character device; an archive input may hold only files and folders'
    );
    expect(await refused(makeArchive('tar', [{ name: 'pipe', type: 'fifo' }]), 'tar')).toContain('"pipe" is a fifo');
    expect(await refused(makeArchive('zip', [{ name: 'pipe', type: 'fifo' }]), 'zip')).toContain('"pipe" is a FIFO');
    expect(await refused(makeArchive('tar', [{ name: 'a', type: 'file', data: '1' }, { name: 'a', type: 'file', data: '2' }]), 'tar')).toContain(
      '"a" collides with a file of the same name earlier in the archive'
    );
    expect(await refused(makeArchive('zip', [{ name: 'a', type: 'file', data: '1' }, { name: 'a/b', type: 'file', data: '2' }]), 'zip')).toContain(
      '"a/b" collides with a file of the same name earlier in the archive (or with a file where it needs a folder)'
    );
  });

  it('bounds what an archive unpacks to (bytes and entries) against archive bombs', async () => {
    const limits: UnpackLimits = { maxBytes: 1024 * 1024, maxEntries: 10 };
    const small = createHttpArchiveConnector(policy, limits);
    // 8 MiB of zeros: a few KiB compressed.
    for (const format of ['zip', 'gztar', 'bztar', 'xztar'] as const) {
      const bomb = makeArchive(format, [{ name: 'zeros', type: 'file', zeros: 8 * 1024 * 1024 }]);
      expect(bomb.length).toBeLessThan(64 * 1024);
      expect(await refused(bomb, format, small)).toContain(
        'the archive unpacks to more than 1 MiB, the limit against archive bombs; if you trust it, raise REDLAB_ARCHIVE_MAX_BYTES (bytes) for the bridge'
      );
    }
    // Hard links count their file's bytes again (a small tar of many links to one file).
    const links = makeArchive('tar', [{ name: 'f', type: 'file', zeros: 600 * 1024 }, { name: 'g', type: 'hardlink', target: 'f' }]);
    expect(await refused(links, 'tar', small)).toContain('the archive unpacks to more than 1 MiB');
    const many = makeArchive('zip', Array.from({ length: 11 }, (_, i) => ({ name: `f${i}`, type: 'file' as const, data: 'x' })));
    expect(await refused(many, 'zip', small)).toContain('the archive has more than 10 entries, the limit against archive bombs; if you trust it, raise REDLAB_ARCHIVE_MAX_ENTRIES');
    // At the bounds themselves: accepted.
    const exact = makeArchive('gztar', Array.from({ length: 10 }, (_, i) => ({ name: `f${i}`, type: 'file' as const, zeros: 100 * 1024 })));
    expect((await readdir(await stage(exact, 'gztar', small))).length).toBe(10);
  });

  it('the limits come from the environment, checked', () => {
    expect(unpackLimitsFromEnv({ REDLAB_ARCHIVE_MAX_BYTES: '2048', REDLAB_ARCHIVE_MAX_ENTRIES: '7' })).toEqual({ maxBytes: 2048, maxEntries: 7 });
    expect(unpackLimitsFromEnv({})).toEqual({ maxBytes: 64 * 1024 ** 3, maxEntries: 1_000_000 });
    expect(() => unpackLimitsFromEnv({ REDLAB_ARCHIVE_MAX_BYTES: '10GB' })).toThrow('REDLAB_ARCHIVE_MAX_BYTES=10GB is not a positive whole number');
  });

  it.each(ARCHIVE_FORMATS)('%s: a truncated archive, or not that format', async format => {
    const whole = files[`/ok/${format}`];
    const msg = await refused(whole.subarray(0, Math.floor(whole.length / 2)), format);
    expect(msg).toContain(`cannot unpack ${server.url}/a/`);
    expect(msg).toContain(`as ${format}: `);
    expect(msg).toMatch(/; check connector.access.archiveFormat and that the archive on the server is whole$/);
    const wrong = format === 'zip' ? files['/ok/gztar'] : files['/ok/zip'];
    expect(await refused(wrong, format)).toContain(`as ${format}: `);
  });
});

describe('red-connector-http-archive: access and the server', () => {
  it.each(['basic', 'digest'] as const)('%s auth: the right password unpacks, a wrong one names the input and what to check', async method => {
    const guarded = await startTestServer({ files: { '/x.tgz': files['/ok/gztar'] }, auth: { ...AUTH, method } });
    try {
      const dest = path.join(await tempDir('redlab-archive-dest-'), 'data');
      const value = (password: string) => dirValue({ url: `${guarded.url}/x.tgz`, archiveFormat: 'gztar', auth: { ...AUTH, password, method } });
      await connector.stage({ key: 'data', label: 'data', value: value(AUTH.password), dest }, ctx);
      expect(await readFile(path.join(dest, 'data/a.txt'), 'utf8')).toBe('alpha\n');
      const dest2 = path.join(await tempDir('redlab-archive-dest-'), 'data');
      await expect(connector.stage({ key: 'data', label: 'data', value: value('wrong'), dest: dest2 }, ctx)).rejects.toThrow(
        `input data: GET ${guarded.url}/x.tgz answered HTTP 401 Unauthorized; check username and password (and auth.method basic/digest) in connector.access.auth of input data`
      );
      await expect(lstat(dest2)).rejects.toThrow('ENOENT');
    } finally {
      await guarded.close();
    }
  });

  it('checks the access fields as CC does, naming each mistake', () => {
    const where = 'input data';
    expect(parseHttpArchiveAccess({ url: 'http://h/a.zip', archiveFormat: 'zip', method: 'get' }, where)).toEqual({ url: 'http://h/a.zip', method: 'GET', archiveFormat: 'zip' });
    expect(() => parseHttpArchiveAccess({ url: 'http://h/a.zip' }, where)).toThrow(
      'input data (red-connector-http-archive): access.archiveFormat is missing; say which archive the URL gives: zip, tar, gztar, bztar, xztar'
    );
    expect(() => parseHttpArchiveAccess({ url: 'http://h/a.zip', archiveFormat: 'tar.gz' }, where)).toThrow(
      'input data (red-connector-http-archive): access.archiveFormat must be one of zip, tar, gztar, bztar, xztar (e.g. gztar for .tar.gz), not "tar.gz"'
    );
    expect(() => parseHttpArchiveAccess({ url: 'http://h/a.zip', archiveFormat: 'zip', format: 'zip' }, where)).toThrow(
      'input data (red-connector-http-archive): unknown access key format; allowed: url, method, auth, disableSSLVerification, archiveFormat'
    );
    expect(() => parseHttpArchiveAccess({ url: 'ftp://h/a.zip', archiveFormat: 'zip' }, where)).toThrow(
      'input data (red-connector-http-archive): access.url must start with http:// or https://, not ftp://'
    );
    expect(() => loopbackConnectors().input('red-connector-http-archive', 'data', 'File')).toThrow(
      'connector red-connector-http-archive cannot receive a File (input data); it handles Directory'
    );
  });

  it('mount: true is refused, saying to download instead', async () => {
    const dest = path.join(await tempDir('redlab-archive-dest-'), 'data');
    const value: FileOrDirectory = { class: 'Directory', connector: { command: 'red-connector-http-archive', mount: true, access: { url: `${server.url}/ok/zip`, archiveFormat: 'zip' } } };
    await expect(connector.stage({ key: 'data', label: 'data', value, dest }, ctx)).rejects.toThrow(
      'input data (red-connector-http-archive): mount: true cannot mount an archive; remove it to download and unpack it'
    );
    expect(server.requests.filter(r => r.url === '/ok/zip')).toEqual([]);
  });

  it('the default policy refuses loopback, as every connector does', async () => {
    const dest = path.join(await tempDir('redlab-archive-dest-'), 'data');
    await expect(
      createHttpArchiveConnector().stage({ key: 'data', label: 'data', value: dirValue({ url: `${server.url}/ok/zip`, archiveFormat: 'zip' }), dest }, ctx)
    ).rejects.toThrow(/^input data: GET http:\/\/127\.0\.0\.1:\d+\/ok\/zip: .*127\.0\.0\.1/);
  });

  it('staging checks the unpacked folder against its listing', async () => {
    const cli = {
      cwlVersion: 'v1.0' as const,
      class: 'CommandLineTool' as const,
      baseCommand: 'ls',
      inputs: { data: { type: 'Directory', inputBinding: { position: 0 } } },
      outputs: {}
    };
    const listing = (name: string): ListingEntry[] => [{ class: 'Directory', basename: 'data', listing: [{ class: 'File', basename: name }] }];
    const stageWith = async (l: ListingEntry[]) =>
      stageInputs({
        items: listInputItems(cli, { data: dirValue({ url: `${server.url}/ok/xztar`, archiveFormat: 'xztar' }, { listing: l }) }),
        inputsDir: await tempDir('redlab-archive-inputs-'),
        registry: loopbackConnectors(),
        ctx
      });
    await expect(stageWith(listing('a.txt'))).resolves.toMatchObject({ records: { data: { class: 'Directory' } } });
    await expect(stageWith(listing('missing.txt'))).rejects.toThrow('input data: the listing names data/missing.txt, but it is not in');
  });
});

describe('red-connector-http-archive through the Docker engine', () => {
  const { labels } = dockerTestFile();

  it('a container reads the unpacked folder, read-only', async () => {
    const runDir = await tempDir('redlab-archive-run-');
    const red = `redVersion: "9"
cli:
  cwlVersion: v1.0
  class: CommandLineTool
  baseCommand: [sh, -c]
  inputs:
    script: {type: string, inputBinding: {position: 0}}
    data: {type: Directory, inputBinding: {position: 1}}
  outputs:
    report: {type: File, outputBinding: {glob: report.txt}}
inputs:
  script: 'cat "$0"/data/a.txt "$0"/data/hard-a > report.txt; sha256sum "$0"/data/sub/b.bin | cut -d" " -f1 >> report.txt; touch "$0"/x 2>/dev/null || echo readonly >> report.txt'
  data:
    class: Directory
    basename: unpacked
    connector:
      command: red-connector-http-archive
      access: {url: "${server.url}/ok/bztar", archiveFormat: bztar, method: GET}
    listing:
      - {class: Directory, basename: data, listing: [{class: File, basename: a.txt}, {class: Directory, basename: sub}]}
container:
  engine: docker
  settings:
    image: {url: "${BUSYBOX}"}
`;
    const res = await new DockerEngine({ connectors: loopbackConnectors(), workRoot: path.join(runDir, 'work') }).run(request(red, runDir, { labels }), {});
    expect(res.error).toBeUndefined();
    expect(res.command).toEqual(['sh', '-c', expect.stringContaining('cat'), '/cc/inputs/data/unpacked']);
    const sha = require('crypto').createHash('sha256').update(BINARY).digest('hex');
    expect(await readFile(path.join(runDir, 'outputs', 'report.txt'), 'utf8')).toBe(`alpha\nalpha\n${sha}\nreadonly\n`);
    expect(res.inputs!.data).toMatchObject({ class: 'Directory', containerPath: '/cc/inputs/data/unpacked' });
  });
});
