// Folders RED Lab keeps its work in (run work folders, the bridge's data folder) must
// be ours alone: one that another account owns or may write, or that sits below a
// folder it may write, lets that account swap a run's folder and forge its outputs.
// The rule is OpenSSH's StrictModes: the folder is owned by us and not writable by
// group or others; every folder above it (symlinks included, and those of its real
// path) is owned by us or root and not writable by group or others unless sticky
// (in /tmp, others cannot rename what we own). Group-writable counts as private only
// for our own user-private group (Debian/Ubuntu give each user a group of their name
// and umask 002, so ~/.local and ~/.cache are often 0775).
import { lstat, mkdir, readFile, realpath } from 'fs/promises';
import type { Stats } from 'fs';
import * as os from 'os';
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

/**
 * The gid of this user's private group (named as the user, no other members, in
 * /etc/group, and this process's group), or undefined when there is none we can tell.
 */
async function userPrivateGid(groupFile = '/etc/group'): Promise<number | undefined> {
  const gid = process.getgid?.();
  let name: string;
  try {
    name = os.userInfo().username;
  } catch {
    return undefined;
  }
  const text = await readFile(groupFile, 'utf8').catch(() => '');
  for (const line of text.split('\n')) {
    const [gname, , g, members] = line.split(':');
    if (Number(g) !== gid) continue;
    const others = (members ?? '').split(',').filter(m => m.trim() && m.trim() !== name);
    return gname === name && !others.length ? gid : undefined;
  }
  return undefined;
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
  const privateGid = await userPrivateGid();
  const othersMayWrite = (st: Stats) => (st.mode & 0o002 ? 'others' : st.mode & 0o020 && st.gid !== privateGid ? 'its group' : undefined);
  const refuse = (d: string, why: string) =>
    new PrivateDirError(`the ${what} ${abs} is not private: ${d} ${why}, so another account could swap what RED Lab reads and writes there; ${fix}`);
  const checkAbove = (d: string, st: Stats) => {
    if (st.uid !== uid && st.uid !== 0) throw refuse(d, `is owned by uid ${st.uid}, not by you (uid ${uid}) or root`);
    const who = st.isDirectory() && !(st.mode & STICKY) ? othersMayWrite(st) : undefined;
    if (who) throw refuse(d, `is writable by ${who} (mode ${(st.mode & 0o7777).toString(8)})`);
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
  const who = othersMayWrite(st);
  if (who) throw refuse(real, `is writable by ${who} (mode ${(st.mode & 0o7777).toString(8)}; chmod 700 ${real} if it is yours)`);
  return abs;
}
