// Build contexts: checked, normalised entries (from a list of files or a tar archive),
// the content hash that names a build, and the tar archive sent to Docker.
import { createHash } from 'crypto';
import * as zlib from 'zlib';
import * as tar from 'tar-stream';
import { BuildSpecError, type ContextFile } from './types';

export const DEFAULT_MAX_CONTEXT_BYTES = 200 * 1024 * 1024;
export const MAX_DOCKERFILE_BYTES = 1024 * 1024;
/** Where the bridge puts the Dockerfile in the context it sends (a context may not use this path). */
export const DOCKERFILE_NAME = '.redlab.Dockerfile';
/** Every file of a sent context gets this mtime, so equal contexts make equal archives. */
const FIXED_MTIME = new Date(Date.UTC(2000, 0, 1));

export interface ContextEntry {
  path: string;
  type: 'file' | 'directory';
  /** Permission bits. */
  mode: number;
  /** Empty for a directory. */
  content: Buffer;
}

const mb = (n: number) => (n < 1024 * 1024 ? `${n} bytes` : `${(n / (1024 * 1024)).toFixed(1)} MB`);

/**
 * A context path as given (`./src/a.py`, `src//a.py`, `src/`) in normal form
 * (`src/a.py`), or a BuildSpecError: absolute paths, `..` segments, backslashes, NUL,
 * empty paths and the bridge's own Dockerfile name are refused.
 */
export function normalizeContextPath(p: unknown): string {
  if (typeof p !== 'string' || !p.length) throw new BuildSpecError('a build context path is empty');
  const shown = JSON.stringify(p);
  if (p.includes('\0')) throw new BuildSpecError(`build context path ${shown} contains a NUL character`);
  if (p.includes('\\')) throw new BuildSpecError(`build context path ${shown} contains a backslash: use / between folders`);
  if (p.startsWith('/') || /^[A-Za-z]:/.test(p)) throw new BuildSpecError(`build context path ${shown} is absolute: paths are relative to the context root`);
  const parts = p.split('/').filter(s => s !== '' && s !== '.');
  if (parts.includes('..')) throw new BuildSpecError(`build context path ${shown} contains '..': paths must stay inside the context`);
  if (!parts.length) throw new BuildSpecError(`build context path ${shown} names the context root, not a file`);
  const norm = parts.join('/');
  if (norm.length > 4096) throw new BuildSpecError(`build context path ${shown.slice(0, 60)}… is longer than 4096 characters`);
  if (norm === DOCKERFILE_NAME) throw new BuildSpecError(`build context path ${DOCKERFILE_NAME} is reserved for the Dockerfile the bridge sends`);
  return norm;
}

function checkMode(mode: unknown, p: string): number {
  if (mode === undefined) return 0o644;
  if (typeof mode !== 'number' || !Number.isInteger(mode) || mode < 0 || mode > 0o7777) {
    throw new BuildSpecError(`build context file ${p}: mode must be permission bits (0 to 0o7777)`);
  }
  return mode;
}

/** Sorts (by path, code point order), refuses duplicates and file/folder clashes, and checks the total size. */
function finish(entries: ContextEntry[], maxBytes: number): ContextEntry[] {
  const total = entries.reduce((n, e) => n + e.content.length, 0);
  if (total > maxBytes) throw new BuildSpecError(`the build context is ${mb(total)}, more than the limit of ${mb(maxBytes)}`);
  entries.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const byPath = new Map<string, ContextEntry>();
  for (const e of entries) {
    const prev = byPath.get(e.path);
    if (prev && !(prev.type === 'directory' && e.type === 'directory')) throw new BuildSpecError(`build context path ${e.path} appears twice`);
    byPath.set(e.path, e);
  }
  for (const e of byPath.values()) {
    const parts = e.path.split('/');
    for (let i = 1; i < parts.length; i++) {
      const parent = byPath.get(parts.slice(0, i).join('/'));
      if (parent && parent.type !== 'directory') throw new BuildSpecError(`build context path ${parent.path} is a file and also a folder (of ${e.path})`);
    }
  }
  return [...byPath.values()];
}

/** Entries of a context given as a list of files. */
export function entriesFromFiles(files: readonly ContextFile[], maxBytes = DEFAULT_MAX_CONTEXT_BYTES): ContextEntry[] {
  if (!Array.isArray(files)) throw new BuildSpecError('a build context is a tar archive (Buffer) or a list of { path, content } files');
  const entries = files.map((f): ContextEntry => {
    const p = normalizeContextPath(f?.path);
    if (typeof f.content !== 'string' && !Buffer.isBuffer(f.content)) throw new BuildSpecError(`build context file ${p}: content must be a string or a Buffer`);
    return { path: p, type: 'file', mode: checkMode(f.mode, p), content: typeof f.content === 'string' ? Buffer.from(f.content, 'utf8') : f.content };
  });
  return finish(entries, maxBytes);
}

/**
 * Entries of a context given as a tar archive (gzipped or not). Regular files and
 * folders only: links, devices and fifos are refused, as are the paths
 * normalizeContextPath refuses. A gzipped archive may not unpack to more than the limit.
 */
export async function entriesFromTar(archive: Buffer, maxBytes = DEFAULT_MAX_CONTEXT_BYTES): Promise<ContextEntry[]> {
  if (archive.length > maxBytes) throw new BuildSpecError(`the build context archive is ${mb(archive.length)}, more than the limit of ${mb(maxBytes)}`);
  let raw = archive;
  if (archive.length >= 2 && archive[0] === 0x1f && archive[1] === 0x8b) {
    try {
      raw = zlib.gunzipSync(archive, { maxOutputLength: maxBytes + 1024 * 1024 });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') throw new BuildSpecError(`the build context unpacks to more than the limit of ${mb(maxBytes)}`);
      throw new BuildSpecError(`the build context is not a valid gzip archive: ${(err as Error).message}`);
    }
  }
  const entries: ContextEntry[] = [];
  let total = 0;
  await new Promise<void>((resolve, reject) => {
    const extract = tar.extract();
    let failed = false;
    const fail = (err: unknown) => {
      if (failed) return;
      failed = true;
      extract.destroy();
      reject(err instanceof BuildSpecError ? err : new BuildSpecError(`the build context is not a valid tar archive: ${(err as Error)?.message ?? err}`));
    };
    extract.on('entry', (header, stream, next) => {
      try {
        const type = header.type ?? 'file';
        const name = header.name;
        if (type !== 'file' && type !== 'contiguous-file' && type !== 'directory') {
          const what = type === 'symlink' || type === 'link' ? `a ${type === 'link' ? 'hard link' : 'symbolic link'} (to ${header.linkname})` : `a ${type}`;
          throw new BuildSpecError(`build context entry ${JSON.stringify(name)} is ${what}: only regular files and folders are supported`);
        }
        if (type === 'directory' && name.split('/').filter(s => s && s !== '.').length === 0) {
          // `./`: the root itself
          stream.resume();
          stream.on('end', () => next());
          return;
        }
        const p = normalizeContextPath(name);
        const chunks: Buffer[] = [];
        stream.on('data', (chunk: unknown) => {
          const c = chunk as Buffer;
          total += c.length;
          if (total > maxBytes) fail(new BuildSpecError(`the build context is more than the limit of ${mb(maxBytes)}`));
          else chunks.push(c);
        });
        stream.on('end', () => {
          entries.push({ path: p, type: type === 'directory' ? 'directory' : 'file', mode: (header.mode ?? 0o644) & 0o7777, content: type === 'directory' ? Buffer.alloc(0) : Buffer.concat(chunks) });
          next();
        });
        stream.on('error', fail);
      } catch (err) {
        fail(err);
      }
    });
    extract.on('finish', () => {
      if (!failed) resolve();
    });
    extract.on('error', fail);
    extract.end(raw);
  });
  return finish(entries, maxBytes);
}

/**
 * The build's content hash (hex sha256): over the Dockerfile's bytes and every entry's
 * type, path, mode and bytes, in path order, each length-prefixed so that no two
 * different contexts hash alike.
 */
export function contextHash(dockerfile: string, entries: readonly ContextEntry[]): string {
  const h = createHash('sha256');
  const df = Buffer.from(dockerfile, 'utf8');
  h.update(`redlab-build 1\0dockerfile\0${df.length}\0`);
  h.update(df);
  for (const e of entries) {
    const p = Buffer.from(e.path, 'utf8');
    h.update(`\0${e.type}\0${p.length}\0`);
    h.update(p);
    h.update(`\0${e.mode.toString(8)}\0${e.content.length}\0`);
    h.update(e.content);
  }
  return h.digest('hex');
}

/** The tar archive Docker gets: the context entries plus the Dockerfile as DOCKERFILE_NAME. */
export async function packContext(dockerfile: string, entries: readonly ContextEntry[]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  const collected = new Promise<Buffer>((resolve, reject) => {
    pack.on('data', (c: unknown) => void chunks.push(c as Buffer));
    pack.on('end', () => resolve(Buffer.concat(chunks)));
    pack.on('error', reject);
  });
  const common = { uid: 0, gid: 0, mtime: FIXED_MTIME };
  pack.entry({ ...common, name: DOCKERFILE_NAME, mode: 0o644, type: 'file' }, Buffer.from(dockerfile, 'utf8'));
  for (const e of entries) {
    if (e.type === 'directory') pack.entry({ ...common, name: e.path + '/', mode: e.mode, type: 'directory' });
    else pack.entry({ ...common, name: e.path, mode: e.mode, type: 'file' }, e.content);
  }
  pack.finalize();
  return collected;
}
