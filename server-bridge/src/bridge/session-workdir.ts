// The notebook's folder, which a session binds read-write as its working directory,
// checked on an open descriptor (as util/pinned-input.ts checks inputs): the real path is
// opened with O_DIRECTORY|O_NOFOLLOW, the kernel says where that descriptor is
// (/proc/self/fd/N) and that must lie under an allowed root. The descriptor stays open
// until the container runs, and the container's working directory must then be that very
// folder (same device and inode, DockerSession's workDirIdentity): a folder swapped for a
// link between the check and the bind (dockerd follows links as root) is caught there.
// (Binding /proc/<pid>/fd/N itself is refused by runc: the descriptor's mount is not in
// the container's mount namespace.)
import { constants } from 'fs';
import { lstat, open, readlink, realpath, type FileHandle } from 'fs/promises';
import * as path from 'path';
import { isWithin, realRoots } from '../util/fs-safety';
import { procFdPath } from '../util/safe-fs';
import { fieldError } from './session-request';

export interface CheckedFolder {
  /** Where the kernel says the opened folder is (bind this). */
  real: string;
  dev: number;
  ino: number;
  /** Its owner. */
  uid: number;
  gid: number;
  /** Closes the descriptor (once the container runs). */
  close(): Promise<void>;
}

/**
 * Opens `folder` (relative to `base`, '' for base itself) and checks it is a folder under
 * one of `roots`; 403/422 RequestErrors naming notebookPath otherwise.
 */
export async function openNotebookFolder(base: string, folder: string, roots: readonly string[]): Promise<CheckedFolder> {
  const abs = path.resolve(base, folder);
  const allowed = await realRoots(roots);
  const outside = (where: string) =>
    fieldError(
      'notebookPath',
      `the notebook's folder ${abs} resolves to ${where}, outside the folders sessions may use (${allowed.join(', ') || 'none'})`,
      'open the notebook from inside the Jupyter root, or allow its folder (redlab bridge --allow-root DIR)',
      403
    );
  let real: string;
  try {
    real = await realpath(abs);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') throw fieldError('notebookPath', `the notebook's folder ${abs} does not exist`, 'save the notebook first, or check its path');
    throw err;
  }
  if (!allowed.some(r => isWithin(real, r))) throw outside(real);
  let fh: FileHandle;
  try {
    fh = await open(real, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOTDIR') throw fieldError('notebookPath', `${abs} is not a folder`, 'check the notebook\'s path');
    if (code === 'ELOOP') throw fieldError('notebookPath', `the notebook's folder ${abs} changed while it was checked (a link now)`, 'try again once it stays put', 409);
    throw err;
  }
  try {
    const st = await fh.stat();
    const at = procFdPath(fh.fd);
    let source: string;
    if (at !== undefined) source = (await readlink(at)).replace(/ \(deleted\)$/, '');
    else {
      // No /proc: the path, resolved again now, must still be this folder.
      source = await realpath(real);
      const again = await lstat(source);
      if (again.dev !== st.dev || again.ino !== st.ino) throw fieldError('notebookPath', `the notebook's folder ${abs} changed while it was checked`, 'try again once it stays put', 409);
    }
    if (!allowed.some(r => isWithin(source, r))) throw outside(source);
    return { real: source, dev: st.dev, ino: st.ino, uid: st.uid, gid: st.gid, close: () => fh.close().catch(() => undefined) };
  } catch (err) {
    await fh.close().catch(() => undefined);
    throw err;
  }
}
