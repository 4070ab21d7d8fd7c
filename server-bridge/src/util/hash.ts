// Streaming hashes of files and folders for FileRecords and checksum checks.
import { createHash, type Hash } from 'crypto';
import { createReadStream } from 'fs';
import { lstat, readdir } from 'fs/promises';
import * as path from 'path';

export type HashAlgo = 'sha1' | 'sha256';

/** Hashes a file's bytes with several algorithms in one read. */
export async function hashFile<A extends HashAlgo>(file: string, algos: readonly A[]): Promise<{ size: number } & Record<A, string>> {
  const hashes = algos.map(a => [a, createHash(a)] as [A, Hash]);
  let size = 0;
  for await (const chunk of createReadStream(file)) {
    size += (chunk as Buffer).length;
    for (const [, h] of hashes) h.update(chunk as Buffer);
  }
  const out = { size } as { size: number } & Record<A, string>;
  for (const [a, h] of hashes) (out as Record<string, unknown>)[a] = h.digest('hex');
  return out;
}

export async function sha256File(file: string): Promise<string> {
  return (await hashFile(file, ['sha256'])).sha256;
}

/** Files below a folder, relative paths with `/`, sorted by code point. Symlinks are an error (callers copy/resolve first). */
export async function listTree(root: string): Promise<{ rel: string; abs: string }[]> {
  const out: { rel: string; abs: string }[] = [];
  async function walk(dir: string, rel: string): Promise<void> {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const abs = path.join(dir, entry.name);
      const r = rel ? `${rel}/${entry.name}` : entry.name;
      if (entry.isDirectory()) await walk(abs, r);
      else if (entry.isFile()) out.push({ rel: r, abs });
      else if (entry.isSymbolicLink()) throw new Error(`${abs} is a symbolic link`);
      // sockets, fifos, devices: not data, skipped
    }
  }
  await walk(root, '');
  return out.sort((a, b) => (a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0));
}

/**
 * Size and sha256 of a file, or of a folder: the sha256 of its sorted
 * `relative-path\0sha256\n` lines (one per regular file), size the sum of its files.
 */
export async function hashPath(p: string): Promise<{ class: 'File' | 'Directory'; size: number; sha256: string }> {
  const st = await lstat(p);
  if (st.isFile()) {
    const h = await hashFile(p, ['sha256']);
    return { class: 'File', size: h.size, sha256: h.sha256 };
  }
  if (!st.isDirectory()) throw new Error(`${p} is neither a file nor a folder`);
  const tree = createHash('sha256');
  let size = 0;
  for (const f of await listTree(p)) {
    const h = await hashFile(f.abs, ['sha256']);
    size += h.size;
    tree.update(`${f.rel}\0${h.sha256}\n`);
  }
  return { class: 'Directory', size, sha256: tree.digest('hex') };
}
