// Inputs into a container and outputs out of it by archive (Docker's PUT/GET
// /containers/{id}/archive), for an engine that cannot bind-mount this host's folders:
// Docker on another host. A remote engine makes an empty folder for every bind source it
// lacks, so a bind would "work" and the command would see nothing.
//
// Inputs are staged on this host as for a local run; the archive holds each one at the
// container path it would have been bound to, plus /cc/outputs (writable by any user, as
// the local outputs folder is). Outputs come back into the batch's local outputs folder,
// from where they are collected exactly as after a local run (globs, sizes, sha256).
// The archive is the container's: its entries are written without ever following a link
// (util/safe-fs.ts), links in it are made as links (never followed, as after a local
// run), and a name that is no plain path is skipped and reported.
import type Docker from 'dockerode';
import { createReadStream } from 'fs';
import { link, lstat, readdir, readlink, stat, symlink } from 'fs/promises';
import * as path from 'path';
import { pipeline } from 'stream/promises';
import * as tar from 'tar-stream';
import { SafeDir, segments, UnsafePathError, withDir } from '../util/safe-fs';
import type { BindMount } from './host-config';
import { CONTAINER_OUTPUTS_DIR } from '../../../src/red';

/** One entry of the inputs archive: a host path (trusted: the batch's staged inputs) at a path in the container. */
async function packTree(pack: tar.Pack, hostPath: string, name: string, top = false): Promise<void> {
  // The staged input itself is followed, as a bind mount follows its source; what is inside is copied as it is.
  const st = top ? await stat(hostPath) : await lstat(hostPath);
  const header = { name, mode: st.mode & 0o7777, mtime: st.mtime, uid: 0, gid: 0 };
  if (st.isSymbolicLink()) {
    pack.entry({ ...header, type: 'symlink', linkname: await readlink(hostPath) });
    return;
  }
  if (st.isDirectory()) {
    pack.entry({ ...header, type: 'directory' });
    for (const child of (await readdir(hostPath)).sort()) await packTree(pack, path.join(hostPath, child), `${name}/${child}`);
    return;
  }
  if (!st.isFile()) throw new Error(`${hostPath} is neither a file, a folder nor a link and cannot be copied into the container`);
  const entry = pack.entry({ ...header, type: 'file', size: st.size });
  await pipeline(createReadStream(hostPath), entry);
}

/** The archive of a batch's inputs (at their container paths) and an empty /cc/outputs, for putArchive at `/`. */
export function inputsArchive(binds: readonly BindMount[]): tar.Pack {
  const pack = tar.pack();
  (async () => {
    pack.entry({ name: CONTAINER_OUTPUTS_DIR.slice(1), type: 'directory', mode: 0o777, uid: 0, gid: 0 });
    for (const b of binds) await packTree(pack, b.hostPath, b.containerPath.slice(1), true);
    pack.finalize();
  })().catch(err => pack.destroy(err));
  return pack;
}

/** Copies the staged inputs into a created (not yet started) container, and makes its /cc/outputs. */
export async function putInputs(container: Docker.Container, binds: readonly BindMount[]): Promise<void> {
  try {
    await container.putArchive(inputsArchive(binds) as unknown as NodeJS.ReadableStream, { path: '/' });
  } catch (err) {
    throw new Error(`could not copy the inputs into the container: ${(err as Error).message}`);
  }
}

/** What getOutputs wrote: files (with bytes), folders, links, and entries it skipped (with why). */
export interface FetchedOutputs {
  files: number;
  bytes: number;
  skipped: string[];
}

/**
 * Writes a tar archive of /cc/outputs (entries `outputs/...`, as GET /archive gives it)
 * into `destDir`, which must be empty. Nothing is written through a link: every folder
 * is opened one name at a time without following links, files are created new
 * (O_EXCL|O_NOFOLLOW), links are made as links, hard links only to files already written.
 */
export async function extractOutputs(archive: NodeJS.ReadableStream, destDir: string): Promise<FetchedOutputs> {
  const done: FetchedOutputs = { files: 0, bytes: 0, skipped: [] };
  const top = path.posix.basename(CONTAINER_OUTPUTS_DIR);
  const extract = tar.extract();
  await withDir(SafeDir.open(destDir, 'the outputs folder'), async root => {
    const write = async (header: tar.Header, body: NodeJS.ReadableStream): Promise<void> => {
      const parts = header.name.split('/').filter((p: string) => p !== '' && p !== '.');
      if (parts[0] !== top) throw new Error(`the container's archive holds ${header.name}, outside ${top}/`);
      const rel = parts.slice(1).join('/');
      if (!rel) return; // the folder itself
      let names: string[];
      try {
        names = segments(rel);
      } catch {
        done.skipped.push(`${rel}: not a plain path`);
        return;
      }
      const name = names[names.length - 1];
      const mode = (header.mode ?? 0o644) & 0o777;
      await withDir(root.openDir(names.slice(0, -1).join('/'), { create: true, mode: 0o755 }), async dir => {
        switch (header.type) {
          case 'directory':
            await dir.openChildDir(name, rel, { create: true, mode: mode | 0o700 }).then(d => d.close());
            return;
          case 'file':
          case 'contiguous-file': {
            const handle = await dir.createFile(name, mode | 0o600);
            try {
              const out = handle.createWriteStream();
              await pipeline(body, out);
            } finally {
              await handle.close().catch(() => undefined);
            }
            done.files++;
            done.bytes += header.size ?? 0;
            return;
          }
          case 'symlink':
            await symlink(header.linkname ?? '', dir.at(name));
            return;
          case 'link': {
            const target = (header.linkname ?? '').split('/').filter((p: string) => p !== '' && p !== '.');
            if (target[0] !== top || target.length < 2) throw new UnsafePathError(`hard link ${rel} points outside ${top}/`, rel);
            const to = segments(target.slice(1).join('/'));
            // link(2) does not follow a link at the old name: the new name is that entry itself.
            await withDir(root.openDir(to.slice(0, -1).join('/')), from => link(from.at(to[to.length - 1]), dir.at(name)));
            return;
          }
          default:
            done.skipped.push(`${rel}: a ${header.type}, not a file, folder or link`);
        }
      });
    };
    extract.on('entry', (header, stream, next) => {
      write(header, stream as unknown as NodeJS.ReadableStream).then(
        () => {
          stream.resume(); // what was not read (a skipped entry)
          next();
        },
        err => extract.destroy(err)
      );
    });
    await pipeline(archive, extract);
  });
  return done;
}

/** Brings /cc/outputs of an ended container into `destDir` (empty). */
export async function getOutputs(container: Docker.Container, destDir: string): Promise<FetchedOutputs> {
  try {
    const archive = (await container.getArchive({ path: CONTAINER_OUTPUTS_DIR })) as NodeJS.ReadableStream;
    return await extractOutputs(archive, destDir);
  } catch (err) {
    const e = err as Error & { statusCode?: number };
    if (e.statusCode === 404) throw new Error(`the container has no ${CONTAINER_OUTPUTS_DIR} (it was removed or its image replaced the folder)`);
    throw new Error(`could not copy the outputs back from the container: ${e.message}`);
  }
}
