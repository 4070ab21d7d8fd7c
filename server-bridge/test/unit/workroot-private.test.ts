// The work root is per user and private: the default is under XDG_CACHE_HOME (not the
// shared temp folder), made 0700, and one owned by another account, writable by group
// or others, or below a folder others may write is refused, naming it and the fix.
// (Tests run as root, so chown to 65534 stands for "another account".)
import { chmod, chown, lchown, lstat, mkdir, mkdtemp, realpath, rm, stat, symlink, writeFile } from 'fs/promises';
import { readFileSync } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { defaultWorkRoot, ensureWorkRoot } from '../../src/engine/workdir';
import { ensurePrivateDir, PrivateDirError } from '../../src/util/private-dir';

const NOBODY = 65534;
const uid = process.getuid!();
const FIX = 'choose a folder only you can write (redlab run --work-root DIR or REDLAB_WORK_ROOT; the bridge keeps its work folder under --data-dir), or remove this one';
const asRoot = uid === 0 ? it : it.skip;

let tmp: string;
beforeEach(async () => {
  tmp = await realpath(await mkdtemp(path.join(os.tmpdir(), 'redlab-workroot-')));
});
afterEach(() => rm(tmp, { recursive: true, force: true }));

describe('the default work root', () => {
  it('is per user, under XDG_CACHE_HOME or ~/.cache, never the shared temp folder', () => {
    expect(defaultWorkRoot({ XDG_CACHE_HOME: '/home/ada/.xdg-cache' })).toBe('/home/ada/.xdg-cache/redlab/runs');
    // A relative XDG_CACHE_HOME is ignored, as the XDG spec says.
    expect(defaultWorkRoot({ XDG_CACHE_HOME: 'cache' })).toBe(path.join(os.homedir(), '.cache', 'redlab', 'runs'));
    expect(defaultWorkRoot({})).toBe(path.join(os.homedir(), '.cache', 'redlab', 'runs'));
    expect(defaultWorkRoot({}).startsWith(os.tmpdir() + path.sep)).toBe(false);
  });

  it('is made 0700, with each missing folder above it', async () => {
    const root = defaultWorkRoot({ XDG_CACHE_HOME: path.join(tmp, 'cache') });
    expect(await ensureWorkRoot(root)).toBe(root);
    for (const d of [root, path.dirname(root), path.join(tmp, 'cache')]) {
      const st = await stat(d);
      expect([st.isDirectory(), st.mode & 0o777, st.uid]).toEqual([true, 0o700, uid]);
    }
    // Again: it is there and fine.
    await expect(ensureWorkRoot(root)).resolves.toBe(root);
  });
});

describe('a work root others could change is refused', () => {
  asRoot('one owned by another account', async () => {
    const root = path.join(tmp, 'redlab-runs');
    await mkdir(root, { mode: 0o700 });
    await chown(root, NOBODY, NOBODY);
    await expect(ensureWorkRoot(root)).rejects.toThrow(
      new PrivateDirError(
        `the work folder ${root} is not private: ${root} is owned by uid ${NOBODY}, not by you (uid ${uid}), so another account could swap what RED Lab reads and writes there; ${FIX}`
      )
    );
  });

  it.each([
    ['777', 'others'],
    ['770', 'its group']
  ])('one writable by group or others (mode %s; a group others are in)', async (shown, who) => {
    const root = path.join(tmp, 'redlab-runs');
    await mkdir(root);
    await chmod(root, parseInt(shown, 8));
    if (uid === 0) await chown(root, uid, NOBODY); // nogroup: not a group of ours alone
    await expect(ensureWorkRoot(root)).rejects.toThrow(
      `the work folder ${root} is not private: ${root} is writable by ${who} (mode ${shown}; chmod 700 ${root} if it is yours), so another account could swap`
    );
  });

  // Debian/Ubuntu: a group of the user's name with no other members, umask 002 (0775 folders).
  const ownPrivateGroup = /^root:[^:]*:0:$/m.test(readFileSync('/etc/group', 'utf8'));
  (uid === 0 && ownPrivateGroup ? it : it.skip)('but one writable by our own private group is fine, above it too', async () => {
    const parent = path.join(tmp, 'home');
    const root = path.join(parent, 'runs');
    await mkdir(root, { recursive: true });
    await chmod(parent, 0o775);
    await chmod(root, 0o770);
    await expect(ensureWorkRoot(root)).resolves.toBe(root);
  });

  asRoot('a symlink another account owns, even to a folder of ours', async () => {
    const mine = path.join(tmp, 'mine');
    await mkdir(mine, { mode: 0o700 });
    const root = path.join(tmp, 'redlab-runs');
    await symlink(mine, root);
    await lchown(root, NOBODY, NOBODY);
    await expect(ensureWorkRoot(root)).rejects.toThrow(`${root} is owned by uid ${NOBODY}, not by you (uid ${uid}) or root`);
    // The same link, ours: fine (it leads to a private folder).
    await lchown(root, uid, uid);
    await expect(ensureWorkRoot(root)).resolves.toBe(root);
  });

  asRoot('one below a folder another account owns, or that group/others may write (unless sticky, as /tmp)', async () => {
    const shared = path.join(tmp, 'shared');
    const root = path.join(shared, 'runs');
    await mkdir(root, { recursive: true, mode: 0o700 });
    await chown(shared, NOBODY, NOBODY);
    await expect(ensureWorkRoot(root)).rejects.toThrow(`${shared} is owned by uid ${NOBODY}, not by you (uid ${uid}) or root`);
    await chown(shared, uid, uid);
    await chmod(shared, 0o777);
    await expect(ensureWorkRoot(root)).rejects.toThrow(`${shared} is writable by others (mode 777)`);
    await chmod(shared, 0o1777);
    await expect(ensureWorkRoot(root)).resolves.toBe(root);
  });

  it('a file where the folder should be', async () => {
    await writeFile(path.join(tmp, 'f'), '');
    await expect(ensurePrivateDir(path.join(tmp, 'f'), 'data folder', 'use --data-dir')).rejects.toThrow(
      `the data folder ${path.join(tmp, 'f')} is not private: ${path.join(tmp, 'f')} is not a folder, so another account could swap what RED Lab reads and writes there; use --data-dir`
    );
    expect((await lstat(path.join(tmp, 'f'))).isFile()).toBe(true);
  });
});
