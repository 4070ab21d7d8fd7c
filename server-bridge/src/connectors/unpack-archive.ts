// Unpacks an archive (the formats of Python's shutil.unpack_archive, as Curious Containers'
// red-connector-http-archive takes them: zip, tar, gztar, bztar, xztar) into a new folder, refusing
// whatever could reach outside it or hurt the host that runs the bridge (as root, with the Docker socket):
// - names: no absolute paths, no `..` segments, no NUL; a name may appear once;
// - files are created with O_CREAT|O_EXCL|O_NOFOLLOW, modes without setuid/setgid/sticky bits or
//   group/other write, always readable (the container may run as another user);
// - hard links only to a regular file unpacked earlier from the same archive (a second name of it);
// - no symbolic links at all: the bridge follows no links in inputs (staging's hash and the local
//   connector refuse them too), so none is made, and no file can be written through one;
// - no devices, FIFOs or other special files;
// - at most `maxEntries` entries and `maxBytes` unpacked bytes (counted as they are written, not
//   taken from headers), against archive bombs.
// Libraries: tar-stream (tar), zlib (gzip), unbzip2-stream (bzip2), xz-decompress (xz, WebAssembly),
// yauzl (zip; it refuses absolute and `..` names itself and checks each entry's size against its header).
import { constants, createReadStream } from 'fs';
import { link, lstat, mkdir, open } from 'fs/promises';
import * as path from 'path';
import { Readable, Transform, type Writable } from 'stream';
import { pipeline } from 'stream/promises';
import type { ReadableStream as WebReadableStream } from 'stream/web';
import * as zlib from 'zlib';
import * as tarStream from 'tar-stream';
import unbzip2Stream from 'unbzip2-stream';
import { XzReadableStream } from 'xz-decompress';
import * as yauzl from 'yauzl';

export const ARCHIVE_FORMATS = ['zip', 'tar', 'gztar', 'bztar', 'xztar'] as const;
export type ArchiveFormat = (typeof ARCHIVE_FORMATS)[number];

export interface UnpackLimits {
  /** Most bytes all files together may unpack to. */
  maxBytes: number;
  /** Most entries (files, folders, links) an archive may hold. */
  maxEntries: number;
}

export const ARCHIVE_MAX_BYTES_ENV = 'REDLAB_ARCHIVE_MAX_BYTES';
export const ARCHIVE_MAX_ENTRIES_ENV = 'REDLAB_ARCHIVE_MAX_ENTRIES';
export const DEFAULT_UNPACK_LIMITS: UnpackLimits = { maxBytes: 64 * 1024 ** 3, maxEntries: 1_000_000 };

/** The limits from REDLAB_ARCHIVE_MAX_BYTES / REDLAB_ARCHIVE_MAX_ENTRIES (positive integers), else the defaults. */
export function unpackLimitsFromEnv(env: NodeJS.ProcessEnv = process.env): UnpackLimits {
  const read = (name: string, fallback: number): number => {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    const n = Number(raw);
    if (!Number.isSafeInteger(n) || n <= 0) throw new Error(`${name}=${raw} is not a positive whole number`);
    return n;
  };
  return { maxBytes: read(ARCHIVE_MAX_BYTES_ENV, DEFAULT_UNPACK_LIMITS.maxBytes), maxEntries: read(ARCHIVE_MAX_ENTRIES_ENV, DEFAULT_UNPACK_LIMITS.maxEntries) };
}

/** The archive holds something refused (the message names the entry and why), or it exceeds a limit. */
export class ArchiveRefusedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ArchiveRefusedError';
  }
}

const refuse = (raw: string, why: string) => new ArchiveRefusedError(`archive entry ${JSON.stringify(raw)} ${why}`);
const LINK_RULE = 'a hard link must name a file earlier in the archive';
const TYPE_RULE = 'an archive input may hold only files and folders';

/** Readable for people: 1.5 GiB, 12 MiB, 300 bytes. */
function bytesText(n: number): string {
  for (const [unit, size] of [['GiB', 1024 ** 3], ['MiB', 1024 ** 2], ['KiB', 1024]] as const) if (n >= size) return `${+(n / size).toFixed(1)} ${unit}`;
  return `${n} bytes`;
}

class Unpacker {
  private entries = 0;
  private bytes = 0;
  /** Regular files written so far (relative name → size), the only targets a hard link may have. */
  private readonly files = new Map<string, number>();

  constructor(private readonly dest: string, private readonly limits: UnpackLimits, private readonly signal?: AbortSignal) {}

  /** The entry's name relative to the folder ('' for the folder itself), or a refusal. */
  private name(raw: string, what = 'name'): string {
    if (raw.includes('\0')) throw refuse(raw, `has a NUL character in its ${what}`);
    if (raw.startsWith('/')) throw refuse(raw, `is an absolute path${what === 'name' ? '' : ` in its ${what}`}; an archive may only hold relative names`);
    const parts = raw.split('/').filter(s => s !== '' && s !== '.');
    if (parts.includes('..')) throw refuse(raw, `has a '..' segment in its ${what}; an archive may not reach outside its folder`);
    return parts.join('/');
  }

  private count(): void {
    if (this.signal?.aborted) throw new ArchiveRefusedError('cancelled');
    if (++this.entries > this.limits.maxEntries) {
      throw new ArchiveRefusedError(
        `the archive has more than ${this.limits.maxEntries} entries, the limit against archive bombs; if you trust it, raise ${ARCHIVE_MAX_ENTRIES_ENV} for the bridge`
      );
    }
  }

  private add(bytes: number): void {
    this.bytes += bytes;
    if (this.bytes > this.limits.maxBytes) {
      throw new ArchiveRefusedError(
        `the archive unpacks to more than ${bytesText(this.limits.maxBytes)}, the limit against archive bombs; if you trust it, raise ${ARCHIVE_MAX_BYTES_ENV} (bytes) for the bridge`
      );
    }
  }

  private target(rel: string): string {
    return path.join(this.dest, ...rel.split('/'));
  }

  async directory(raw: string): Promise<void> {
    const rel = this.name(raw);
    this.count();
    if (rel) await mkdir(this.target(rel), { recursive: true, mode: 0o755 }).catch(err => this.fsRefusal(raw, err));
  }

  async file(raw: string, mode: number | undefined, data: Readable): Promise<void> {
    const rel = this.name(raw);
    if (!rel) throw refuse(raw, 'is a file where the archive\'s top folder is');
    this.count();
    const p = this.target(rel);
    await mkdir(path.dirname(p), { recursive: true, mode: 0o755 }).catch(err => this.fsRefusal(raw, err));
    const fh = await open(p, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600).catch(err => this.fsRefusal(raw, err));
    let size = 0;
    const counter = new Transform({
      transform: (chunk: Buffer, _enc, done) => {
        size += chunk.length;
        try {
          this.add(chunk.length);
        } catch (err) {
          return done(err as Error);
        }
        done(null, chunk);
      }
    });
    try {
      await fh.chmod(fileMode(mode));
      await pipeline(data, counter, fh.createWriteStream() as unknown as Writable, { signal: this.signal });
    } finally {
      await fh.close().catch(() => undefined);
    }
    this.files.set(rel, size);
  }

  async hardLink(raw: string, linkname: string): Promise<void> {
    const rel = this.name(raw);
    let targetRel: string;
    try {
      targetRel = this.name(linkname, 'link target');
    } catch {
      throw refuse(raw, `is a hard link to ${JSON.stringify(linkname)}, outside the archive's folder; ${LINK_RULE}`);
    }
    this.count();
    const size = this.files.get(targetRel);
    if (size === undefined) throw refuse(raw, `is a hard link to ${JSON.stringify(linkname)}, which is not a file earlier in the archive; ${LINK_RULE}`);
    this.add(size);
    const p = this.target(rel);
    await mkdir(path.dirname(p), { recursive: true, mode: 0o755 }).catch(err => this.fsRefusal(raw, err));
    await link(this.target(targetRel), p).catch(err => this.fsRefusal(raw, err));
    this.files.set(rel, size);
  }

  /** Symbolic links are refused, whatever they point to (see the top of this file). */
  linkRefusal(raw: string, target: string): ArchiveRefusedError {
    return refuse(raw, `is a symbolic link (to ${target}); the bridge follows no links in inputs: replace it in the archive by the file or folder it points to`);
  }

  done(): { entries: number; bytes: number } {
    return { entries: this.entries, bytes: this.bytes };
  }

  /** An entry that collides with an earlier one (same name twice, a file where a folder is) is named. */
  private async fsRefusal(raw: string, err: NodeJS.ErrnoException): Promise<never> {
    if (err.code === 'EEXIST' || err.code === 'ENOTDIR' || err.code === 'EISDIR' || err.code === 'ELOOP') {
      const what = await lstat(this.target(this.name(raw))).then(s => (s.isDirectory() ? 'a folder' : 'a file'), () => 'a file');
      throw refuse(raw, `collides with ${what} of the same name earlier in the archive (or with a file where it needs a folder)`);
    }
    throw err;
  }
}

/** setuid/setgid/sticky and group/other write dropped; owner read/write and everyone's read kept or added; execute bits kept. */
function fileMode(mode: number | undefined): number {
  return ((mode ?? 0o644) & 0o755) | 0o644;
}

/**
 * Unpacks `archive` (a local file in `format`) into `dest` (created; its parent must exist). Throws
 * ArchiveRefusedError for what the rules above refuse, or the library's error for a damaged archive;
 * the caller removes `dest` on failure.
 */
export async function unpackArchive(archive: string, format: ArchiveFormat, dest: string, limits: UnpackLimits, signal?: AbortSignal): Promise<{ entries: number; bytes: number }> {
  await mkdir(dest, { mode: 0o755 });
  const u = new Unpacker(dest, limits, signal);
  if (format === 'zip') await readZip(archive, u);
  else await readTar(tarSource(archive, format, signal), u);
  return u.done();
}

/** The tar stream of `archive`: the file, then its decompressor (named, for messages), if any. */
function tarSource(archive: string, format: Exclude<ArchiveFormat, 'zip'>, signal?: AbortSignal): { chain: Readable[]; compression?: string } {
  const file = createReadStream(archive, { signal });
  switch (format) {
    case 'tar':
      return { chain: [file] };
    case 'gztar':
      return { chain: [file, zlib.createGunzip()], compression: 'gzip' };
    case 'bztar':
      return { chain: [file, unbzip2Stream() as unknown as Readable], compression: 'bzip2' };
    case 'xztar': {
      const web = new XzReadableStream(Readable.toWeb(file) as unknown as ReadableStream<Uint8Array>);
      return { chain: [file, Readable.fromWeb(web as unknown as WebReadableStream<Uint8Array>)], compression: 'xz' };
    }
  }
}

async function readTar({ chain, compression }: { chain: Readable[]; compression?: string }, u: Unpacker): Promise<void> {
  const extract = tarStream.extract();
  // Any stream's failure (a damaged file, a truncated gzip) ends the entry loop with that error; the
  // decompressors' own words (bzip2: a TypeError, xz: an error code) say little, so they are named.
  chain.forEach((s, i) =>
    s.on('error', err => extract.destroy(i === 0 || !compression ? err : new Error(`the ${compression} data is damaged or cut short (${err.message})`)))
  );
  // The xz stream reads the file itself (a web stream): only the last of the chain feeds the tar reader.
  const last = compression === 'xz' ? chain[1] : chain.slice(1).reduce<Readable>((from, to) => from.pipe(to as unknown as Writable) as unknown as Readable, chain[0]);
  last.pipe(extract);
  try {
    for await (const entry of extract) {
      const h = entry.header;
      switch (h.type) {
        case 'file':
        case 'contiguous-file':
          await u.file(h.name, h.mode, entry as unknown as Readable);
          continue;
        case 'directory':
          await u.directory(h.name);
          break;
        case 'symlink':
          throw u.linkRefusal(h.name, h.linkname ?? '');
        case 'link':
          await u.hardLink(h.name, h.linkname ?? '');
          break;
        case 'character-device':
        case 'block-device':
        case 'fifo':
          throw refuse(h.name, `is a ${h.type.replace('-', ' ')}; ${TYPE_RULE}`);
        default:
          throw refuse(h.name, `has a tar entry type this unpacker does not take (${String(h.type)}); ${TYPE_RULE}`);
      }
      entry.resume();
    }
  } finally {
    for (const s of chain) s.destroy();
    extract.destroy();
  }
}

const S_IFMT = 0o170000;
const UNIX_TYPES: Record<number, string> = { 0o010000: 'FIFO', 0o020000: 'character device', 0o060000: 'block device', 0o140000: 'socket' };

async function readZip(archive: string, u: Unpacker): Promise<void> {
  const zip = await new Promise<yauzl.ZipFile>((resolve, reject) =>
    yauzl.open(archive, { lazyEntries: true, autoClose: true, validateEntrySizes: true, strictFileNames: false, decodeStrings: true }, (err, z) => (err ? reject(err) : resolve(z)))
  );
  const openEntry = (e: yauzl.Entry) => new Promise<Readable>((resolve, reject) => zip.openReadStream(e, (err: Error | null, s: Readable) => (err ? reject(err) : resolve(s))));
  try {
    await new Promise<void>((resolve, reject) => {
      zip.on('error', reject);
      zip.on('end', () => resolve());
      zip.on('entry', (e: yauzl.Entry) => {
        handleZipEntry(e).then(() => zip.readEntry(), reject);
      });
      zip.readEntry();
    });
  } finally {
    zip.close();
  }

  async function handleZipEntry(e: yauzl.Entry): Promise<void> {
    // Unix modes are in the high half of the external attributes when the archive was made on Unix (3).
    const unixMode = e.versionMadeBy >> 8 === 3 ? (e.externalFileAttributes >>> 16) & 0xffff : 0;
    const type = unixMode & S_IFMT;
    if (UNIX_TYPES[type]) throw refuse(e.fileName, `is a ${UNIX_TYPES[type]}; ${TYPE_RULE}`);
    if (e.fileName.endsWith('/') || type === 0o040000) return u.directory(e.fileName);
    if (type === 0o120000) {
      // A link's target is its content: read only its start, for the message.
      let target = '';
      for await (const chunk of await openEntry(e)) {
        target += chunk.toString('utf8');
        if (target.length > 200) break;
      }
      throw u.linkRefusal(e.fileName, target.slice(0, 200));
    }
    return u.file(e.fileName, unixMode ? unixMode & 0o7777 : undefined, await openEntry(e));
  }
}
