// Folders RED Lab keeps its work in (run work folders, the bridge's data folder) must
// be ours alone: one that another account owns or may write, or that sits below a
// folder it may write, lets that account swap a run's folder and forge its outputs.
// The rule is OpenSSH's StrictModes: the folder is owned by us and not writable by
// group or others; every folder above it (symlinks included, and those of its real
// path) is owned by us or root and not writable by group or others unless sticky
// (in /tmp, others cannot rename what we own).
import { lstat, mkdir, realpath } from 'fs/promises';
import type { Stats } from 'fs';
import * as path from 'path';

export class PrivateDirError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PrivateDirError';
  }
}

const STICKY = 0o1000;

/** The folders from `/` down to `p` (absolute), `/` first. */
function chain(p: string): string[] {
  const out: string[] = [];
  for (let d = p; ; d = path.dirname(d)) {
    out.unshift(d);
    if (path.dirname(d) === d) return out;
  }
}

async function lstatOrUndefined(p: string): Promise<Stats | undefined> {
  try {
    return await lstat(p);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/**
 * Makes `dir` (0700, and 0700 for each missing folder above it; no link is created
 * or replaced) unless it exists, then checks it is private. Returns its absolute
 * path. Throws PrivateDirError naming the folder at fault and the fix; `what` names
 * the folder in it ("work folder", "data folder") and `fix` says how to choose another.
 */
export async function ensurePrivateDir(dir: string, what: string, fix: string): Promise<string> {
  const abs = path.resolve(dir);
  const uid = process.getuid?.();
  if (uid === undefined) {
    // No POSIX owners (Windows): the user's profile folders are private already.
    await mkdir(abs, { recursive: true });
    return abs;
  }
  for (const d of chain(abs)) {
    if (await lstatOrUndefined(d)) continue;
    try {
      await mkdir(d, { mode: 0o700 });
    } catch (err) {
      // Made meanwhile (by us or another): it is checked below like any other.
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
  const refuse = (d: string, why: string) =>
    new PrivateDirError(`the ${what} ${abs} is not private: ${d} ${why}, so another account could swap what RED Lab reads and writes there; ${fix}`);
  const checkAbove = (d: string, st: Stats) => {
    if (st.uid !== uid && st.uid !== 0) throw refuse(d, `is owned by uid ${st.uid}, not by you (uid ${uid}) or root`);
    if (st.isDirectory() && st.mode & 0o022 && !(st.mode & STICKY)) throw refuse(d, `is writable by ${st.mode & 0o002 ? 'others' : 'its group'} (mode ${(st.mode & 0o7777).toString(8)})`);
  };
  // The path as given (its symlinks), then the real path they lead to.
  const given = chain(abs);
  for (const d of given.slice(0, -1)) checkAbove(d, await lstat(d));
  const last = await lstat(abs);
  if (last.isSymbolicLink()) checkAbove(abs, last);
  const real = await realpath(abs);
  const realChain = chain(real);
  for (const d of realChain.slice(0, -1)) checkAbove(d, await lstat(d));
  const st = await lstat(real);
  if (!st.isDirectory()) throw refuse(real, 'is not a folder');
  if (st.uid !== uid) throw refuse(real, `is owned by uid ${st.uid}, not by you (uid ${uid})`);
  if (st.mode & 0o022) throw refuse(real, `is writable by ${st.mode & 0o002 ? 'others' : 'its group'} (mode ${(st.mode & 0o7777).toString(8)}; chmod 700 ${real} if it is yours)`);
  return abs;
}
