// File operations inside a folder tree a container could write (its /cc/outputs),
// done so that no symbolic link the container planted is ever followed on the host:
// the bridge often runs as root, and a `sub -> /etc` link must not make it write,
// read or delete host files.
//
// A SafeDir is a folder held open by a file descriptor. Names are looked up in it
// through /proc/self/fd/<fd>/<name> (what openat() does: the folder is the one the
// descriptor holds, whatever happened to the path since), every folder below is
// opened with O_NOFOLLOW|O_DIRECTORY one component at a time, and files with
// O_NOFOLLOW|O_NONBLOCK and checked with fstat to be regular files (a FIFO or a
// device node the container made is never read). Where /proc is missing (not Linux)
// names are looked up by path, after checking that the path still leads to the
// folder the descriptor holds (same device and inode).
import { createHash } from 'crypto';
import * as fs from 'fs';
import { link, lstat, mkdir, open, readdir, readlink, rename, rmdir, unlink, type FileHandle } from 'fs/promises';
import * as path from 'path';
import { isSafeSegment } from './fs-safety';

const C = fs.constants;
const DIR_FLAGS = C.O_RDONLY | C.O_DIRECTORY | C.O_NOFOLLOW;
const READ_FLAGS = C.O_RDONLY | C.O_NOFOLLOW | C.O_NONBLOCK;
let PROC_FD = process.platform === 'linux' && fs.existsSync('/proc/self/fd');

/** `/proc/self/fd/<fd>`, the path that opens what descriptor `fd` holds, or undefined where /proc is missing. */
export function procFdPath(fd: number): string | undefined {
  return PROC_FD ? `/proc/self/fd/${fd}` : undefined;
}

/** Tests only: look names up by path (as where /proc is missing) when `on` is false; returns the previous setting. */
export function useProcFdForTests(on: boolean): boolean {
  const was = PROC_FD;
  PROC_FD = on && fs.existsSync('/proc/self/fd');
  return was;
}

/** A path inside a tree that is a symbolic link, or not the kind of entry the operation needs. */
export class UnsafePathError extends Error {
  constructor(
    message: string,
    /** The relative path that was refused. */
    readonly rel: string,
    /** Why, for callers that word their own message: a link, not the kind wanted, changed meanwhile, or not a plain name. */
    readonly reason: 'link' | 'kind' | 'changed' | 'name' = 'name'
  ) {
    super(message);
    this.name = 'UnsafePathError';
  }
}

/** `rel` split into names, each a plain segment (no '', '.', '..'). */
export function segments(rel: string): string[] {
  const parts = rel.split('/').filter(p => p !== '' && p !== '.');
  for (const p of parts) if (!isSafeSegment(p)) throw new UnsafePathError(`${rel} is not a plain relative path`, rel);
  return parts;
}

/** Says what an entry that could not be opened as `want` is. */
async function refuse(dir: SafeDir, name: string, rel: string, want: 'folder' | 'file'): Promise<UnsafePathError> {
  const st = await lstat(dir.at(name)).catch(() => undefined);
  if (st?.isSymbolicLink()) {
    const to = await readlink(dir.at(name)).catch(() => '?');
    return new UnsafePathError(`${rel} is a symbolic link (to ${to}); the bridge does not follow links in ${dir.label}`, rel, 'link');
  }
  return new UnsafePathError(`${rel} is not a ${want}`, rel, 'kind');
}

export class SafeDir {
  private constructor(
    private readonly handle: FileHandle,
    /** The path it was opened at (messages; lookups where /proc is missing). */
    readonly path: string,
    /** What the tree is, for messages ("the outputs folder"). */
    readonly label: string,
    private readonly dev: number,
    private readonly ino: number,
    /** Whether any name the filesystem allows is looked up (see adopt), not only plain ones. */
    private readonly anyName = false
  ) {}

  /**
   * Opens a folder the caller trusts (links in `dir` itself are followed: the caller
   * chose it); `label` names the tree below it in messages.
   */
  static async open(dir: string, label = 'this folder'): Promise<SafeDir> {
    return SafeDir.fromHandle(await open(dir, C.O_RDONLY | C.O_DIRECTORY), dir, label);
  }

  /**
   * A SafeDir of a folder the caller opened itself (and checked); closing either closes
   * both. With `anyName`, this tree's own entry names are looked up whatever they are
   * (a backslash, say: a user's data, not a container's), never '..' or a path.
   */
  static async adopt(handle: FileHandle, dir: string, label: string, opts: { anyName?: boolean } = {}): Promise<SafeDir> {
    return SafeDir.fromHandle(handle, dir, label, opts.anyName);
  }

  private static async fromHandle(h: FileHandle, p: string, label: string, anyName = false): Promise<SafeDir> {
    const st = await h.stat();
    return new SafeDir(h, p, label, st.dev, st.ino, anyName);
  }

  /** The path that names `name` in this folder, for calls that take a path (they must not follow a link at `name`). */
  at(name: string): string {
    const oneName = this.anyName ? name !== '' && name !== '.' && name !== '..' && !/[/\0]/.test(name) : isSafeSegment(name);
    if (!oneName) throw new UnsafePathError(`${name} is not a plain name`, name);
    return `${this.self()}/${name}`;
  }

  /** The path of this folder itself. */
  private self(): string {
    if (PROC_FD) return `/proc/self/fd/${this.handle.fd}`;
    const st = fs.lstatSync(this.path);
    if (st.dev !== this.dev || st.ino !== this.ino) throw new UnsafePathError(`${this.path} was replaced while the bridge worked in it`, this.path, 'changed');
    return this.path;
  }

  /** This folder's own entries. */
  async entries(): Promise<fs.Dirent[]> {
    return readdir(this.self(), { withFileTypes: true });
  }

  async lstat(name: string): Promise<fs.Stats> {
    return lstat(this.at(name));
  }

  async readlink(name: string): Promise<string> {
    return readlink(this.at(name));
  }

  /**
   * Opens the folder at `rel` below this one, one component at a time, never through a
   * link. With `create`, missing folders are made (mkdir -p) with `mode`.
   */
  async openDir(rel: string, opts: { create?: boolean; mode?: number } = {}): Promise<SafeDir> {
    let dir: SafeDir = this;
    const done: string[] = [];
    try {
      for (const name of segments(rel)) {
        done.push(name);
        const next = await dir.openChildDir(name, done.join('/'), opts);
        if (dir !== this) await dir.close();
        dir = next;
      }
    } catch (err) {
      if (dir !== this) await dir.close();
      throw err;
    }
    // No component: a second descriptor of this folder (the caller closes what it gets).
    return dir === this ? SafeDir.fromHandle(await open(this.self(), C.O_RDONLY | C.O_DIRECTORY), this.path, this.label, this.anyName) : dir;
  }

  /** Opens the folder `name` in this folder, not through a link (`rel`: how messages name it); see openDir. */
  async openChildDir(name: string, rel = name, opts: { create?: boolean; mode?: number } = {}): Promise<SafeDir> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await SafeDir.fromHandle(await open(this.at(name), DIR_FLAGS), path.join(this.path, name), this.label, this.anyName);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ENOENT' && opts.create && attempt === 0) {
          await mkdir(this.at(name), opts.mode ?? 0o755).catch(e => {
            if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
          });
          continue;
        }
        if (code === 'ENOTDIR' || code === 'ELOOP') throw await refuse(this, name, rel, 'folder');
        throw err;
      }
    }
  }

  /**
   * Opens the regular file `name` in this folder for reading: not through a link, and
   * only after lstat said it is a regular file (a FIFO or device is never opened).
   */
  async openFile(name: string, rel = name): Promise<{ handle: FileHandle; stat: fs.Stats }> {
    const before = await this.lstat(name);
    if (!before.isFile()) throw await refuse(this, name, rel, 'file');
    let handle: FileHandle;
    try {
      handle = await open(this.at(name), READ_FLAGS);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ELOOP') throw await refuse(this, name, rel, 'file');
      throw err;
    }
    const st = await handle.stat();
    if (!st.isFile() || st.ino !== before.ino || st.dev !== before.dev) {
      await handle.close();
      throw new UnsafePathError(`${rel} changed while the bridge opened it`, rel, 'changed');
    }
    return { handle, stat: st };
  }

  /** Creates `name` (which must not exist) for writing, not through a link. */
  async createFile(name: string, mode = 0o644): Promise<FileHandle> {
    return open(this.at(name), C.O_WRONLY | C.O_CREAT | C.O_EXCL | C.O_NOFOLLOW, mode);
  }

  /** Renames `name` to `toName` in `to` (a link at either name is moved or replaced, never followed). */
  async rename(name: string, to: SafeDir, toName: string): Promise<void> {
    await rename(this.at(name), to.at(toName));
  }

  /**
   * Removes `name` and, for a folder, everything below it (rm -rf), never following a
   * link: a link is removed itself. Folders are made writable through their descriptor
   * first (a container may leave read-only ones). Missing: nothing to do.
   */
  async remove(name: string): Promise<void> {
    const st = await this.lstat(name).catch(err => {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    });
    if (!st) return;
    if (!st.isDirectory()) return unlink(this.at(name));
    // Another file system mounted there (a mount: true input still mounted): rm -rf would delete the server's data.
    if (st.dev !== this.dev) throw new UnsafePathError(`${path.join(this.path, name)} is a mount point (another file system); not removed: unmount it first`, name, 'kind');
    const child = await this.openChildDir(name, name, {});
    try {
      await child.handle.chmod(0o700).catch(() => undefined);
      for (const e of await child.entries()) await child.remove(e.name);
    } finally {
      await child.close();
    }
    await rmdir(this.at(name));
  }

  async close(): Promise<void> {
    await this.handle.close().catch(() => undefined);
  }
}

/** Runs `fn` with `dir` open and closes it after. */
export async function withDir<T>(dir: SafeDir | Promise<SafeDir>, fn: (d: SafeDir) => Promise<T>): Promise<T> {
  const d = await dir;
  try {
    return await fn(d);
  } finally {
    await d.close();
  }
}

/** rm -rf of `target` that never follows a link below it (`target`'s own folder is trusted). */
export async function removeTree(target: string): Promise<void> {
  const parent = await SafeDir.open(path.dirname(path.resolve(target))).catch(err => {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  });
  if (parent) await withDir(parent, d => d.remove(path.basename(path.resolve(target))));
}

/** Reads an open file from its start in 1 MiB chunks; returns its size and sha256. */
async function readAll(handle: FileHandle, onChunk?: (chunk: Buffer) => Promise<void>): Promise<{ size: number; sha256: string }> {
  const hash = createHash('sha256');
  const buf = Buffer.allocUnsafe(1 << 20);
  let size = 0;
  for (;;) {
    const { bytesRead } = await handle.read(buf, 0, buf.length, size);
    if (!bytesRead) break;
    const chunk = buf.subarray(0, bytesRead);
    hash.update(chunk);
    await onChunk?.(chunk);
    size += bytesRead;
  }
  return { size, sha256: hash.digest('hex') };
}

/**
 * Copies the open file `src` to a new file `name` in `to` (created, never through a
 * link), hashing what it copies. The copy belongs to this process, with mode 0755 when
 * the source is executable by its owner, else 0644: no set-uid bit or foreign owner
 * comes along from a container.
 */
export async function copyOpenFile(src: { handle: FileHandle; stat: fs.Stats }, to: SafeDir, name: string): Promise<{ size: number; sha256: string }> {
  const out = await to.createFile(name, src.stat.mode & 0o100 ? 0o755 : 0o644);
  try {
    return await readAll(src.handle, async chunk => {
      for (let off = 0; off < chunk.length; ) off += (await out.write(chunk, off, chunk.length - off)).bytesWritten;
    });
  } finally {
    await out.close();
  }
}

/** Files this big or bigger are hard-linked instead of copied where nothing would change (placeFile). */
export const LINK_MIN_BYTES = 8 * 1024 * 1024;

/**
 * Puts the regular file `name` of `from` into `to` as `toName` (which must not exist)
 * and hashes it from its descriptor. A big file that is ours, on the same filesystem,
 * with no set-uid/set-gid/sticky bit and no write permission for group or others (what
 * a copy would drop) is hard-linked, in no time; anything else is copied (copyOpenFile).
 */
export async function placeFile(from: SafeDir, name: string, rel: string, to: SafeDir, toName: string): Promise<{ size: number; sha256: string }> {
  const src = await from.openFile(name, rel);
  try {
    const st = src.stat;
    if (st.size >= LINK_MIN_BYTES && st.uid === process.geteuid?.() && !(st.mode & 0o7022)) {
      const linked = await link(from.at(name), to.at(toName)).then(
        () => to.lstat(toName),
        () => undefined
      );
      if (linked && linked.ino === st.ino && linked.dev === st.dev) return await readAll(src.handle);
      if (linked) await unlink(to.at(toName)); // not the file that was checked: copy that one instead
    }
    return await copyOpenFile(src, to, toName);
  } finally {
    await src.handle.close();
  }
}
