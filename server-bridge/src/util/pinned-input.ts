// Local inputs are bound from a private, pinned copy, never from the user's path.
//
// Checking a host path and then letting Docker bind that path is a race: between the
// check and the container's creation, a file (or any folder above it) can be swapped
// for a symlink to a host file outside the allowed roots, and dockerd (root) follows
// it. So the check is made on an open file descriptor, not on a path:
//   1. open the real path with O_NOFOLLOW (and O_NONBLOCK: a FIFO does not hang us);
//   2. ask the kernel where that descriptor really is (/proc/self/fd/N) and check
//      that path lies under an allowed root (elsewhere than Linux: the path resolved
//      again must still be that inode, a narrower but not closed window);
//   3. pin it into the run's private inputs folder (0700, only we can write there):
//      a File is copied from the descriptor (a reflink where the filesystem can), or,
//      from `linkMinBytes` bytes up, hard-linked when on the same filesystem and
//      allowed, the link's dev/ino checked against the descriptor (a hard link pins
//      the inode; a link that came out as another file is removed and the file
//      copied). A Directory is rebuilt there: folders made, files pinned as above,
//      each entry opened relative to its opened parent without following links (a
//      SafeDir, safe-fs.ts); a symlink inside it is refused (hashes refuse them too,
//      and a copy that followed it could read outside the roots).
// The container sees the pinned path and the FileRecord hashes it, so the hash is of
// what the container sees. Hard-linked files still share their bytes with the
// original: their owner can change them in place during the run (only the owner of
// the data can, and copies of small files avoid even that); swapping paths can no
// longer change what is bound.
import { constants, createReadStream } from 'fs';
import { copyFile, link, lstat, mkdir, open, readlink, realpath, unlink, chmod, type FileHandle } from 'fs/promises';
import { pipeline } from 'stream/promises';
import * as path from 'path';
import type { Stats } from 'fs';
import { isWithin, PathNotAllowedError, realRoots } from './fs-safety';
import { procFdPath, SafeDir, UnsafePathError, withDir } from './safe-fs';

/** Tests: run the path-based way used where /proc is missing (not Linux); returns the previous setting. */
export { useProcFdForTests } from './safe-fs';

/** Files of at least this many bytes are hard-linked when they can be; smaller ones are copied. */
export const DEFAULT_LINK_MIN_BYTES = 8 * 1024 * 1024;

export interface PinOptions {
  /** See DEFAULT_LINK_MIN_BYTES; Infinity: always copy. */
  linkMinBytes?: number;
  /** Notes for people (a large copy, say). */
  onInfo?: (message: string) => void;
  signal?: AbortSignal;
}

export interface PinnedInput {
  /** The pinned copy (`dest`): bind this. */
  path: string;
  /** Where the data was, as the kernel saw the opened descriptor. */
  source: string;
  /** Files hard-linked and copied. */
  linked: number;
  copied: number;
}

/** A local input that cannot be pinned: the message names the input and the fix. */
export class PinError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PinError';
  }
}

const O_NOFOLLOW = constants.O_NOFOLLOW ?? 0;
const O_NONBLOCK = constants.O_NONBLOCK ?? 0;
const O_DIRECTORY = constants.O_DIRECTORY ?? 0;

const sameInode = (a: Stats, b: Stats) => a.dev === b.dev && a.ino === b.ino;
const mb = (n: number) => `${(n / (1024 * 1024)).toFixed(0)} MB`;

/** The kernel's name for an open descriptor (Linux), or undefined. */
async function descriptorPath(fd: number): Promise<string | undefined> {
  const at = procFdPath(fd);
  if (at === undefined) return undefined;
  return (await readlink(at)).replace(/ \(deleted\)$/, '');
}

const linkNow = (where: string, shown: string) =>
  new PinError(`${where}: ${shown} is a symbolic link now: it changed while it was being staged; run again once it stays put`);
const notFolderNow = (where: string, shown: string) => new PinError(`${where}: ${shown} is not a folder any more: it changed while it was being staged`);
const changed = (where: string, shown: string) => new PinError(`${where}: ${shown} changed while it was being staged; run again once it stays put`);

/** Opens `p` without following a link at its end; ELOOP (it is a link) becomes a PinError. */
async function openNoFollow(p: string, flags: number, where: string, shown: string): Promise<FileHandle> {
  try {
    return await open(p, constants.O_RDONLY | O_NOFOLLOW | O_NONBLOCK | flags);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ELOOP' || code === 'EMLINK') throw linkNow(where, shown);
    if (code === 'ENOTDIR' && flags & O_DIRECTORY) throw notFolderNow(where, shown);
    throw err;
  }
}

/**
 * `step` with a SafeDir refusal worded as a PinError: the entry `shown` changed after
 * it was listed (a link now, or no longer the `kind` it was listed as).
 */
async function inTree<T>(step: () => Promise<T>, where: string, shown: string, kind?: 'folder'): Promise<T> {
  try {
    return await step();
  } catch (err) {
    if (!(err instanceof UnsafePathError)) throw err;
    throw err.reason === 'link' ? linkNow(where, shown) : err.reason === 'kind' && kind === 'folder' ? notFolderNow(where, shown) : changed(where, shown);
  }
}

/**
 * Opens the already resolved `real` path and checks, on the open descriptor, that it
 * lies under one of `roots`. Returns the handle, its stat and its true path.
 */
async function openUnderRoots(real: string, roots: readonly string[], directory: boolean, where: string): Promise<{ fh: FileHandle; st: Stats; source: string }> {
  const fh = await openNoFollow(real, directory ? O_DIRECTORY : 0, where, real);
  try {
    const st = await fh.stat();
    let source = await descriptorPath(fh.fd);
    if (source === undefined) {
      // No /proc: the path, resolved again now, must still lead to this very inode.
      source = await realpath(real);
      if (!sameInode(await lstat(source), st)) throw changed(where, real);
    }
    const allowed = await realRoots(roots);
    if (!allowed.some(r => isWithin(source as string, r))) {
      throw new PathNotAllowedError(`${where}: ${real} now resolves to ${source}, outside the folders local inputs may come from (${allowed.join(', ') || 'none'}); it changed while it was being staged`);
    }
    return { fh, st, source };
  } catch (err) {
    await fh.close();
    throw err;
  }
}

/** Copies the open file `fh` to `dest` (which must not exist), through the descriptor. */
async function copyFromDescriptor(fh: FileHandle, st: Stats, dest: string): Promise<void> {
  const again = procFdPath(fh.fd);
  if (again !== undefined) {
    // Opening /proc/self/fd/N opens the same inode again (no path lookup), and lets
    // copyFile use reflinks / copy_file_range. EXCL: never through a link at dest.
    await copyFile(again, dest, constants.COPYFILE_EXCL | constants.COPYFILE_FICLONE);
    // copyFile keeps set-uid/set-gid bits; the copy is ours (root's, for the bridge): drop them.
    if (st.mode & 0o7000) await chmod(dest, st.mode & 0o777);
    return;
  }
  const out = await open(dest, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | O_NOFOLLOW, st.mode & 0o777);
  await pipeline(createReadStream('', { fd: fh.fd, autoClose: false, start: 0 }), out.createWriteStream());
}

/**
 * Pins the open regular file `fh` (found at `linkSource`) at `dest`: a hard link
 * when big enough and possible (and checked to be this inode), else a copy.
 */
async function pinFile(fh: FileHandle, st: Stats, linkSource: string, shown: string, dest: string, o: PinOptions, count: { linked: number; copied: number }): Promise<void> {
  const linkMin = o.linkMinBytes ?? DEFAULT_LINK_MIN_BYTES;
  if (st.size >= linkMin) {
    let linked = false;
    try {
      await link(linkSource, dest); // link() does not follow a symlink at linkSource
      const got = await lstat(dest);
      linked = got.isFile() && sameInode(got, st) && got.nlink >= 2;
      if (!linked) await unlink(dest); // the path was swapped under us: copy what we checked
    } catch (err) {
      // EXDEV (another filesystem), EPERM (protected_hardlinks), EMLINK …: copy instead.
      const code = (err as NodeJS.ErrnoException).code;
      if (!['EXDEV', 'EPERM', 'EACCES', 'EMLINK', 'ENOENT', 'ENOTSUP', 'EOPNOTSUPP'].includes(code ?? '')) throw err;
    }
    if (linked) {
      count.linked++;
      return;
    }
    o.onInfo?.(`copying ${shown} (${mb(st.size)}) into the run's work folder: it cannot be hard-linked there (another filesystem, or it changed meanwhile); a work folder on the data's filesystem avoids copying large files`);
  }
  await copyFromDescriptor(fh, st, dest);
  count.copied++;
}

/**
 * Rebuilds the open folder `dir` (`rel` below the input's folder `top`) at `dest`:
 * entries are opened relative to `dir`, and no link is followed.
 */
async function pinTree(dir: SafeDir, top: string, rel: string, dest: string, where: string, o: PinOptions, count: { linked: number; copied: number }): Promise<void> {
  await mkdir(dest, { mode: 0o700 });
  for (const entry of await inTree(() => dir.entries(), where, path.join(top, rel))) {
    if (o.signal?.aborted) throw new PinError(`${where}: cancelled`);
    const childRel = rel ? `${rel}/${entry.name}` : entry.name;
    const shown = path.join(top, childRel);
    const to = path.join(dest, entry.name);
    if (entry.isSymbolicLink()) {
      throw new PinError(`${where}: ${childRel} in ${top} is a symbolic link; a local Directory input is copied without following links: replace the link by the file or folder it points to`);
    }
    if (entry.isDirectory()) {
      await withDir(inTree(() => dir.openChildDir(entry.name, childRel), where, shown, 'folder'), sub => pinTree(sub, top, childRel, to, where, o, count));
    } else if (entry.isFile()) {
      const file = await inTree(() => dir.openFile(entry.name, childRel), where, shown);
      try {
        await pinFile(file.handle, file.stat, await inTree(async () => dir.at(entry.name), where, shown), shown, to, o, count);
      } finally {
        await file.handle.close();
      }
    } // sockets, FIFOs, devices: not data (as hashPath)
  }
  await chmod(dest, 0o755); // readable by the container's user (the folders above stay private)
}

/**
 * Pins the local input at `real` (already resolved and checked by resolveUnderRoots)
 * at `dest` in the run's private inputs folder, checking again on the opened
 * descriptor that it lies under `roots` and is a `cls`. `onChecked` runs once the
 * descriptor has passed the check, before anything is pinned (a test hook).
 */
export async function pinLocalInput(
  real: string,
  cls: 'File' | 'Directory',
  dest: string,
  roots: readonly string[],
  where: string,
  o: PinOptions & { onChecked?: (checked: string) => void | Promise<void> } = {}
): Promise<PinnedInput> {
  const { fh, st, source } = await openUnderRoots(real, roots, cls === 'Directory', where);
  try {
    if (cls === 'File' && !st.isFile()) throw new PinError(`${where}: ${real} is ${st.isDirectory() ? 'a folder' : 'not a regular file'}, but the input is a File`);
    if (cls === 'Directory' && !st.isDirectory()) throw new PinError(`${where}: ${real} is not a folder, but the input is a Directory`);
    await o.onChecked?.(real);
    const count = { linked: 0, copied: 0 };
    if (cls === 'File') await pinFile(fh, st, real, real, dest, o, count);
    else await pinTree(await SafeDir.adopt(fh, source, `${where} (${source})`, { anyName: true }), source, '', dest, where, o, count);
    return { path: dest, source, ...count };
  } finally {
    await fh.close();
  }
}
