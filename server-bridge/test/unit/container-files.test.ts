// Archives in and out of a container (container-files.ts), without Docker: the inputs
// archive holds each staged input at its container path and a writable /cc/outputs; an
// outputs archive is written without ever following a link, whatever the container put in it.
import { lstat, mkdir, mkdtemp, readFile, readdir, readlink, rm, symlink, writeFile } from 'fs/promises';
import * as os from 'os';
import * as path from 'path';
import { Readable } from 'stream';
import * as tar from 'tar-stream';
import { extractOutputs, inputsArchive } from '../../src/engine/container-files';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'redlab-cfiles-'));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

type Entry = { name: string; type?: tar.Header['type']; mode?: number; linkname?: string; content?: string };

/** A tar archive of `entries`, in order, as a container's GET /archive could send it. */
async function archive(entries: Entry[]): Promise<Readable> {
  const pack = tar.pack();
  for (const e of entries) {
    if (e.content !== undefined) pack.entry({ name: e.name, mode: e.mode ?? 0o644 }, e.content);
    else pack.entry({ name: e.name, type: e.type ?? 'directory', mode: e.mode ?? 0o755, linkname: e.linkname });
  }
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const c of pack as unknown as AsyncIterable<Buffer>) chunks.push(Buffer.from(c));
  return Readable.from([Buffer.concat(chunks)]);
}

/** The entries of a tar stream: name → header and content. */
async function readArchive(stream: NodeJS.ReadableStream): Promise<Map<string, { header: tar.Header; content: string }>> {
  const out = new Map<string, { header: tar.Header; content: string }>();
  const extract = tar.extract();
  const done = new Promise<void>((resolve, reject) => {
    extract.on('entry', (header, body, next) => {
      const chunks: Buffer[] = [];
      body.on('data', (c: unknown) => chunks.push(c as Buffer));
      body.on('end', () => {
        out.set(header.name, { header, content: Buffer.concat(chunks).toString() });
        next();
      });
    });
    extract.on('finish', resolve);
    extract.on('error', reject);
    stream.on('error', reject);
  });
  (stream as Readable).pipe(extract as unknown as NodeJS.WritableStream);
  await done;
  return out;
}

describe('inputsArchive', () => {
  it('holds each staged input at its container path, folders whole, and an empty /cc/outputs any user may write', async () => {
    await mkdir(path.join(dir, 'staged/photos/sub'), { recursive: true });
    await writeFile(path.join(dir, 'staged/table.csv'), 'a,b\n');
    await writeFile(path.join(dir, 'staged/photos/sub/x.txt'), 'x');
    await symlink('sub/x.txt', path.join(dir, 'staged/photos/ln'));
    // The staged input itself may be a link (a pinned copy): it is followed, as a bind mount's source is.
    await symlink(path.join(dir, 'staged/table.csv'), path.join(dir, 'table-link'));
    const entries = await readArchive(
      inputsArchive([
        { hostPath: path.join(dir, 'table-link'), containerPath: '/cc/inputs/table/table.csv', readOnly: true },
        { hostPath: path.join(dir, 'staged/photos'), containerPath: '/cc/inputs/photos/photos', readOnly: true }
      ]) as unknown as NodeJS.ReadableStream
    );
    expect([...entries.keys()]).toEqual([
      'cc/outputs',
      'cc/inputs/table/table.csv',
      'cc/inputs/photos/photos',
      'cc/inputs/photos/photos/ln',
      'cc/inputs/photos/photos/sub',
      'cc/inputs/photos/photos/sub/x.txt'
    ]);
    expect(entries.get('cc/outputs')?.header).toMatchObject({ type: 'directory', mode: 0o777, uid: 0, gid: 0 });
    expect(entries.get('cc/inputs/table/table.csv')).toMatchObject({ header: { type: 'file', size: 4 }, content: 'a,b\n' });
    expect(entries.get('cc/inputs/photos/photos/ln')?.header).toMatchObject({ type: 'symlink', linkname: 'sub/x.txt' });
    expect(entries.get('cc/inputs/photos/photos/sub/x.txt')?.content).toBe('x');
  });

  it('a staged input that is gone fails the archive (the copy into the container fails with why)', async () => {
    const stream = inputsArchive([{ hostPath: path.join(dir, 'missing'), containerPath: '/cc/inputs/a/a', readOnly: true }]);
    await expect(readArchive(stream as unknown as NodeJS.ReadableStream)).rejects.toThrow(/ENOENT/);
  });
});

describe('extractOutputs', () => {
  it('writes files, folders, modes, links (as links) and hard links of what /cc/outputs held', async () => {
    const dest = path.join(dir, 'out');
    await mkdir(dest);
    const got = await extractOutputs(
      await archive([
        { name: 'outputs/' },
        { name: 'outputs/a.txt', content: 'hello', mode: 0o600 },
        { name: 'outputs/deep/er/b.bin', content: 'bb' },
        { name: 'outputs/ln', type: 'symlink', linkname: '/etc/passwd' },
        { name: 'outputs/hard', type: 'link', linkname: 'outputs/a.txt' }
      ]),
      dest
    );
    expect(got).toEqual({ files: 2, bytes: 7, skipped: [] });
    expect(await readFile(path.join(dest, 'a.txt'), 'utf8')).toBe('hello');
    expect((await lstat(path.join(dest, 'a.txt'))).mode & 0o777).toBe(0o600);
    expect(await readFile(path.join(dest, 'deep/er/b.bin'), 'utf8')).toBe('bb');
    expect(await readlink(path.join(dest, 'ln'))).toBe('/etc/passwd');
    expect((await lstat(path.join(dest, 'hard'))).ino).toBe((await lstat(path.join(dest, 'a.txt'))).ino);
  });

  it('never writes through a link the archive planted (a folder entry below a link to a host folder)', async () => {
    const victim = path.join(dir, 'victim');
    await mkdir(victim);
    const dest = path.join(dir, 'out');
    await mkdir(dest);
    const stream = await archive([
      { name: 'outputs/evil', type: 'symlink', linkname: victim },
      { name: 'outputs/evil/pwned.txt', content: 'owned' }
    ]);
    await expect(extractOutputs(stream, dest)).rejects.toThrow(/symbolic link/);
    expect(await readdir(victim)).toEqual([]);
  });

  it('refuses a file over a link (O_EXCL|O_NOFOLLOW), a hard link to outside, and entries outside outputs/', async () => {
    const victim = path.join(dir, 'victim.txt');
    await writeFile(victim, 'keep');
    const dest = path.join(dir, 'out');
    await mkdir(dest);
    await expect(extractOutputs(await archive([{ name: 'outputs/x', type: 'symlink', linkname: victim }, { name: 'outputs/x', content: 'overwrite' }]), dest)).rejects.toThrow(/EEXIST/);
    expect(await readFile(victim, 'utf8')).toBe('keep');

    await rm(dest, { recursive: true });
    await mkdir(dest);
    await expect(extractOutputs(await archive([{ name: 'outputs/h', type: 'link', linkname: victim }]), dest)).rejects.toThrow(/points outside outputs/);
    await expect(extractOutputs(await archive([{ name: 'etc/passwd', content: 'x' }]), dest)).rejects.toThrow(/outside outputs/);
    expect(await readFile(victim, 'utf8')).toBe('keep');
  });

  it("skips names that are no plain path ('..') and what is no file, folder or link, and says which", async () => {
    const dest = path.join(dir, 'out');
    await mkdir(dest);
    const got = await extractOutputs(
      await archive([
        { name: 'outputs/ok.txt', content: 'ok' },
        { name: 'outputs/a/../../escaped.txt', content: 'no' },
        { name: 'outputs/fifo', type: 'fifo' }
      ]),
      dest
    );
    expect(got.skipped).toEqual(['a/../../escaped.txt: not a plain path', 'fifo: a fifo, not a file, folder or link']);
    expect(await readdir(dir)).toEqual(['out']);
    expect(await readdir(dest)).toEqual(['ok.txt']);
  });
});
