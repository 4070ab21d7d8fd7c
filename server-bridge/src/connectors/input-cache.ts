// A content-addressed cache of received inputs, so a rerun does not download 10 GB again.
//
//   <dir>/objects/<sha256>   the bytes, read-only (0444), one file per distinct content
//   <dir>/index/<h>.json     h = sha256(connector command, source): {command, validator, sha256, size}
//                            (the source only as that hash: a URL's query may hold a token)
//   <dir>/tmp/               writes in progress (then renamed: readers never see half a file)
//
// An entry is used only while the source still says the same validator (its ETag /
// Last-Modified / length, or size + mtime): every use asks the source first (identify,
// a HEAD or stat), and a changed source is downloaded again. The key never holds a
// secret (connectors' identify leave passwords out). Objects are shared by runs: linked
// (same file system) or copied into a run's inputs, never written in place; the staging
// checks (checksum, size, and the object's own sha256) run on what a run gets, so a
// damaged object is dropped and downloaded again. Least recently used objects go first
// when the cache grows past its bound. Several runs (processes) may use one cache at
// once: every write is a rename, a hit holds its object by a link or an open file, and
// an index naming a removed object is a miss.
import { createHash, randomBytes } from 'crypto';
import { constants as fsConstants } from 'fs';
import { chmod, copyFile, link, mkdir, readFile, readdir, rename, rm, stat, unlink, utimes, writeFile } from 'fs/promises';
import * as os from 'os';
import * as path from 'path';
import { ensurePrivateDir } from '../util/private-dir';
import type { SourceIdentity } from './types';

export const DEFAULT_INPUT_CACHE_MAX_BYTES = 10 * 1024 ** 3;

/** ~/.cache/redlab/inputs (XDG_CACHE_HOME when absolute), the CLI's default. */
export function defaultInputCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env.XDG_CACHE_HOME;
  return path.join(xdg && path.isAbsolute(xdg) ? xdg : path.join(env.HOME || os.homedir(), '.cache'), 'redlab', 'inputs');
}

/** A byte count from a setting: digits with an optional K/M/G/T (powers of 1024), e.g. 500M, 20G. */
export function parseByteSize(value: string, setting: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]i?b?|b)?\s*$/i.exec(value);
  if (!m) throw new Error(`${setting} must be a size in bytes, optionally with K, M, G or T (e.g. 20G), not ${JSON.stringify(value)}`);
  const unit = (m[2] ?? '').toLowerCase()[0];
  const factor = unit === 'k' ? 1024 : unit === 'm' ? 1024 ** 2 : unit === 'g' ? 1024 ** 3 : unit === 't' ? 1024 ** 4 : 1;
  return Math.floor(Number(m[1]) * factor);
}

export interface InputCacheOptions {
  dir: string;
  /** The objects' total size is kept at or below this (least recently used removed first). */
  maxBytes?: number;
}

export interface CacheEntry {
  sha256: string;
  size: number;
  /** The object's path. */
  file: string;
}

interface IndexRecord {
  command: string;
  validator: string;
  sha256: string;
  size: number;
}

const HEX64 = /^[0-9a-f]{64}$/;
const STALE_TMP_MS = 24 * 3600_000;

export class InputCache {
  readonly dir: string;
  readonly maxBytes: number;
  private ready?: Promise<void>;

  constructor(opts: InputCacheOptions) {
    this.dir = path.resolve(opts.dir);
    this.maxBytes = opts.maxBytes ?? DEFAULT_INPUT_CACHE_MAX_BYTES;
    if (!Number.isSafeInteger(this.maxBytes) || this.maxBytes < 0) throw new Error(`the input cache's size bound must be a whole number of bytes, not ${opts.maxBytes}`);
  }

  private get objects(): string {
    return path.join(this.dir, 'objects');
  }

  private get index(): string {
    return path.join(this.dir, 'index');
  }

  private get tmp(): string {
    return path.join(this.dir, 'tmp');
  }

  /** Creates the folders; the cache must be ours alone (another account writing there could hand runs its bytes). */
  private init(): Promise<void> {
    this.ready ??= (async () => {
      await mkdir(this.dir, { recursive: true, mode: 0o700 });
      await ensurePrivateDir(this.dir, 'input cache', 'choose a folder only you can write (--input-cache DIR), or turn the cache off (--no-input-cache)');
      for (const d of [this.objects, this.index, this.tmp]) await mkdir(d, { recursive: true, mode: 0o700 });
    })().catch(err => {
      this.ready = undefined;
      throw err;
    });
    return this.ready;
  }

  private indexFile(command: string, source: string): string {
    return path.join(this.index, createHash('sha256').update(`${command}\0${source}`).digest('hex') + '.json');
  }

  private objectFile(sha256: string): string {
    return path.join(this.objects, sha256);
  }

  private tmpName(): string {
    return path.join(this.tmp, `${process.pid}-${randomBytes(8).toString('hex')}`);
  }

  /** The cached bytes of this version of the source, or undefined (never seen, changed, or evicted). */
  async lookup(command: string, id: SourceIdentity): Promise<CacheEntry | undefined> {
    await this.init();
    let rec: IndexRecord;
    try {
      rec = JSON.parse(await readFile(this.indexFile(command, id.source), 'utf8')) as IndexRecord;
    } catch {
      return undefined;
    }
    if (rec.command !== command || rec.validator !== id.validator || !HEX64.test(rec.sha256)) return undefined;
    const file = this.objectFile(rec.sha256);
    const st = await stat(file).catch(() => undefined);
    if (!st?.isFile() || st.size !== rec.size) return undefined;
    await this.touch(file);
    return { sha256: rec.sha256, size: rec.size, file };
  }

  /**
   * Puts the entry's bytes at `dest` (which must not exist): a hard link when on the same
   * file system (the object is read-only, so the run cannot change it through its link),
   * else a copy. False when the object is gone (evicted meanwhile): a miss.
   */
  async place(entry: CacheEntry, dest: string): Promise<'linked' | 'copied' | false> {
    try {
      await link(entry.file, dest);
      return 'linked';
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return false;
      if (code !== 'EXDEV' && code !== 'EPERM' && code !== 'EMLINK') throw err;
    }
    try {
      await copyFile(entry.file, dest, fsConstants.COPYFILE_EXCL | fsConstants.COPYFILE_FICLONE);
      await chmod(dest, 0o444);
      return 'copied';
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw err;
    }
  }

  /**
   * Adds `file` (its bytes: `sha256`, `size`, as staging measured them) as this version of
   * the source. Links it in when it can (it becomes read-only: it is an input, bound
   * read-only anyway), else copies. Then evicts down to the bound. False when it is larger
   * than the whole cache may be.
   */
  async store(command: string, id: SourceIdentity, file: string, sha256: string, size: number): Promise<boolean> {
    if (!HEX64.test(sha256)) throw new Error(`input cache: ${sha256} is not a sha256`);
    if (size > this.maxBytes) return false;
    await this.init();
    const object = this.objectFile(sha256);
    if (!(await stat(object).catch(() => undefined))) {
      const tmp = this.tmpName();
      try {
        try {
          await link(file, tmp);
        } catch {
          await copyFile(file, tmp, fsConstants.COPYFILE_FICLONE);
        }
        await chmod(tmp, 0o444);
        await rename(tmp, object); // the same bytes from another run: either one wins
      } finally {
        await rm(tmp, { force: true });
      }
    }
    await this.touch(object);
    const rec: IndexRecord = { command, validator: id.validator, sha256, size };
    const tmpIndex = this.tmpName();
    try {
      await writeFile(tmpIndex, JSON.stringify(rec), { mode: 0o600 });
      await rename(tmpIndex, this.indexFile(command, id.source));
    } finally {
      await rm(tmpIndex, { force: true });
    }
    await this.evict();
    return true;
  }

  /** Drops the source's entry and its object (found damaged: its bytes are not its name's). */
  async forget(command: string, id: SourceIdentity, sha256: string): Promise<void> {
    await rm(this.indexFile(command, id.source), { force: true });
    if (HEX64.test(sha256)) await rm(this.objectFile(sha256), { force: true });
  }

  /** Removes least recently used objects until the rest fit the bound, index entries of removed objects, and old leftovers in tmp. */
  async evict(): Promise<void> {
    await this.init();
    const objects: { file: string; size: number; used: number }[] = [];
    for (const name of await readdir(this.objects)) {
      const file = path.join(this.objects, name);
      const st = await stat(file).catch(() => undefined);
      if (st?.isFile()) objects.push({ file, size: st.size, used: st.mtimeMs });
    }
    let total = objects.reduce((n, o) => n + o.size, 0);
    objects.sort((a, b) => a.used - b.used);
    const removed = new Set<string>();
    for (const o of objects) {
      if (total <= this.maxBytes) break;
      // A run that holds it by a link keeps its bytes; an open copy keeps reading.
      await unlink(o.file).catch(() => undefined);
      removed.add(path.basename(o.file));
      total -= o.size;
    }
    if (removed.size) {
      for (const name of await readdir(this.index)) {
        const f = path.join(this.index, name);
        try {
          const rec = JSON.parse(await readFile(f, 'utf8')) as IndexRecord;
          if (removed.has(rec.sha256)) await rm(f, { force: true });
        } catch {
          // being written by another run (renamed in whole) or gone: leave it
        }
      }
    }
    const now = Date.now();
    for (const name of await readdir(this.tmp)) {
      const f = path.join(this.tmp, name);
      const st = await stat(f).catch(() => undefined);
      if (st && now - st.mtimeMs > STALE_TMP_MS) await rm(f, { force: true });
    }
  }

  /** The objects' total size in bytes. */
  async usedBytes(): Promise<number> {
    await this.init();
    let total = 0;
    for (const name of await readdir(this.objects)) total += (await stat(path.join(this.objects, name)).catch(() => undefined))?.size ?? 0;
    return total;
  }

  /** Marks an object used now (the mtime is its last use: atime is often not kept). */
  private async touch(file: string): Promise<void> {
    const now = new Date();
    await utimes(file, now, now).catch(() => undefined);
  }
}

export interface InputCacheFlags {
  /** --input-cache DIR; false: --no-input-cache. */
  inputCache?: string | boolean;
  /** --input-cache-max-bytes (a size: 20G, 500M, bytes). */
  inputCacheMaxBytes?: string;
}

/**
 * The input cache's folder (undefined: off) and bound, from flags, then REDLAB_INPUT_CACHE
 * (a folder, or `off`) and REDLAB_INPUT_CACHE_MAX_BYTES, then `defaultDir` and 10 GiB.
 */
export function resolveInputCache(flags: InputCacheFlags, env: NodeJS.ProcessEnv, defaultDir: string, cwd: string): { dir?: string; maxBytes: number } {
  const sizeSetting = flags.inputCacheMaxBytes !== undefined ? '--input-cache-max-bytes' : 'REDLAB_INPUT_CACHE_MAX_BYTES';
  const size = flags.inputCacheMaxBytes ?? (env.REDLAB_INPUT_CACHE_MAX_BYTES || undefined);
  const maxBytes = size === undefined ? DEFAULT_INPUT_CACHE_MAX_BYTES : parseByteSize(size, sizeSetting);
  if (flags.inputCache === false) return { maxBytes };
  if (typeof flags.inputCache === 'string') {
    if (!flags.inputCache) throw new Error('--input-cache needs a folder (or use --no-input-cache)');
    return { dir: path.resolve(cwd, flags.inputCache), maxBytes };
  }
  const fromEnv = env.REDLAB_INPUT_CACHE?.trim();
  if (fromEnv && /^(off|none|no|false|0)$/i.test(fromEnv)) return { maxBytes };
  return { dir: fromEnv ? path.resolve(cwd, fromEnv) : defaultDir, maxBytes };
}

/** Inputs received at once: REDLAB_PARALLEL_TRANSFERS, a whole number of at least 1, when the flag is not given. */
export function parallelTransfersFrom(flag: number | undefined, env: NodeJS.ProcessEnv): number | undefined {
  if (flag !== undefined) return flag;
  const v = env.REDLAB_PARALLEL_TRANSFERS;
  if (!v) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`REDLAB_PARALLEL_TRANSFERS must be a whole number of at least 1, not ${JSON.stringify(v)}`);
  return n;
}
