// Local inputs are pinned (copied or hard-linked) into the private inputs folder, the
// root check made on the opened file: a path swapped for a symlink after the check
// (onChecked: the window a container's creation used to leave) changes nothing, and a
// path that is a symlink out of the roots by the time it is opened is refused.
import { createHash } from 'crypto';
import { chmod, lstat, mkdir, mkdtemp, readdir, readFile, realpath, rename, rm, stat, symlink, writeFile } from 'fs/promises';
import * as os from 'os';
import * as path from 'path';
import type { FileOrDirectory } from '../../../src/red/types';
import { createLocalInputConnector } from '../../src/connectors/local';
import type { ConnectorContext } from '../../src/connectors/types';
import { ConnectorRegistry } from '../../src/connectors/registry';
import { stageInputs, type InputItem } from '../../src/engine/staging';
import { PathNotAllowedError } from '../../src/util/fs-safety';
import { PinError, pinLocalInput, useProcFdForTests } from '../../src/util/pinned-input';

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

let tmp: string;
let root: string;
let outside: string;
let dest: string;
beforeEach(async () => {
  tmp = await realpath(await mkdtemp(path.join(os.tmpdir(), 'redlab-pin-')));
  root = path.join(tmp, 'project');
  outside = path.join(tmp, 'outside');
  await mkdir(path.join(root, 'data', 'sub'), { recursive: true });
  await mkdir(outside);
  await writeFile(path.join(root, 'data', 'in.txt'), 'inside');
  await writeFile(path.join(root, 'data', 'sub', 'deep.txt'), 'deep');
  await writeFile(path.join(outside, 'in.txt'), 'outside secret');
  await mkdir(path.join(tmp, 'staging'), { mode: 0o700 });
  dest = path.join(tmp, 'staging', 'pinned');
});
afterEach(() => rm(tmp, { recursive: true, force: true }));

const value = (p: string, cls: 'File' | 'Directory' = 'File'): FileOrDirectory => ({ class: cls, connector: { command: 'redlab-connector-local', access: { path: p } } });
const context = (onChecked?: ConnectorContext['onChecked']): ConnectorContext => ({ baseDir: root, allowedRoots: [root], onChecked });
/** Replaces `p` by a symlink to `target` (the original moved aside, as an attacker would). */
const swapForLink = async (p: string, target: string) => {
  await rename(p, p + '.moved');
  await symlink(target, p);
};

describe('local inputs are pinned, not bound in place', () => {
  it('copies a small file (its own inode) and hard-links a large one (the same inode)', async () => {
    const src = path.join(root, 'data', 'in.txt');
    const small = await createLocalInputConnector().stage({ key: 'f', label: 'f', value: value('data/in.txt'), dest }, context());
    expect(small).toEqual({ hostPath: dest, copied: true });
    expect(await readFile(dest, 'utf8')).toBe('inside');
    expect((await stat(dest)).ino).not.toBe((await stat(src)).ino);

    const dest2 = dest + '2';
    await createLocalInputConnector({ linkMinBytes: 1 }).stage({ key: 'f', label: 'f', value: value('data/in.txt'), dest: dest2 }, context());
    const [a, b] = [await stat(dest2), await stat(src)];
    expect([a.ino, a.dev, a.nlink]).toEqual([b.ino, b.dev, 2]);
  });

  it('a copy keeps the permission bits but not set-uid/set-gid (the copy belongs to the bridge, often root)', async () => {
    const src = path.join(root, 'data', 'in.txt');
    await chmod(src, 0o6755);
    await createLocalInputConnector().stage({ key: 'f', label: 'f', value: value('data/in.txt'), dest }, context());
    expect((await stat(dest)).mode & 0o7777).toBe(0o755);
  });

  it.each([
    ['copied', Infinity],
    ['hard-linked', 1]
  ])('a file swapped for a symlink out of the roots after the check: the checked content is pinned (%s)', async (_how, linkMinBytes) => {
    const src = path.join(root, 'data', 'in.txt');
    const staged = await createLocalInputConnector({ linkMinBytes }).stage(
      { key: 'f', label: 'f', value: value('data/in.txt'), dest },
      context(checked => swapForLink(checked, path.join(outside, 'in.txt')))
    );
    expect((await lstat(src)).isSymbolicLink()).toBe(true); // the swap happened
    expect((await lstat(staged.hostPath)).isFile()).toBe(true);
    expect(await readFile(staged.hostPath, 'utf8')).toBe('inside');
  });

  it('a folder above the file swapped for a symlink after the check: the checked content is pinned', async () => {
    const staged = await createLocalInputConnector({ linkMinBytes: 1 }).stage(
      { key: 'f', label: 'f', value: value('data/in.txt'), dest },
      context(() => swapForLink(path.join(root, 'data'), outside))
    );
    expect(await readFile(path.join(root, 'data', 'in.txt'), 'utf8')).toBe('outside secret'); // the swap happened
    expect(await readFile(staged.hostPath, 'utf8')).toBe('inside');
  });

  it('a Directory swapped for a symlink after the check: the checked tree is pinned, entries included', async () => {
    const staged = await createLocalInputConnector().stage(
      { key: 'd', label: 'd', value: value('data', 'Directory'), dest },
      context(checked => swapForLink(checked, outside))
    );
    expect((await lstat(staged.hostPath)).isDirectory()).toBe(true);
    expect((await readdir(staged.hostPath)).sort()).toEqual(['in.txt', 'sub']);
    expect(await readFile(path.join(staged.hostPath, 'in.txt'), 'utf8')).toBe('inside');
    expect(await readFile(path.join(staged.hostPath, 'sub', 'deep.txt'), 'utf8')).toBe('deep');
    expect((await stat(staged.hostPath)).mode & 0o777).toBe(0o755);
  });

  it('a Directory entry may have any name the filesystem allows (a backslash in it, say): it is pinned as it is', async () => {
    await writeFile(path.join(root, 'data', 'sub', 'a\\b.txt'), 'odd name');
    const staged = await createLocalInputConnector().stage({ key: 'd', label: 'd', value: value('data', 'Directory'), dest }, context());
    expect(await readFile(path.join(staged.hostPath, 'sub', 'a\\b.txt'), 'utf8')).toBe('odd name');
  });

  it('refuses what is a symlink out of the roots by the time it is opened (the check is on the opened file)', async () => {
    // resolveUnderRoots passed for <root>/data/in.txt; then <root>/data became a link out.
    const checked = path.join(root, 'data', 'in.txt');
    await swapForLink(path.join(root, 'data'), outside);
    const err = await pinLocalInput(checked, 'File', dest, [root], 'input f').catch(e => e);
    expect(err).toBeInstanceOf(PathNotAllowedError);
    expect(err.message).toBe(
      `input f: ${checked} now resolves to ${path.join(outside, 'in.txt')}, outside the folders local inputs may come from (${root}); it changed while it was being staged`
    );
    // The file itself a link by then: O_NOFOLLOW.
    await rm(path.join(root, 'data'));
    await rename(path.join(root, 'data.moved'), path.join(root, 'data'));
    await swapForLink(checked, path.join(outside, 'in.txt'));
    await expect(pinLocalInput(checked, 'File', dest, [root], 'input f')).rejects.toThrow(
      new PinError(`input f: ${checked} is a symbolic link now: it changed while it was being staged; run again once it stays put`)
    );
    await expect(readdir(path.join(tmp, 'staging'))).resolves.toEqual([]);
  });

  it('refuses a symlink inside a Directory input, naming it (a copy that followed it could read outside the roots)', async () => {
    await symlink(path.join(outside, 'in.txt'), path.join(root, 'data', 'sub', 'escape'));
    await expect(createLocalInputConnector().stage({ key: 'd', label: 'd', value: value('data', 'Directory'), dest }, context())).rejects.toThrow(
      `input d: sub/escape in ${path.join(root, 'data')} is a symbolic link; a local Directory input is copied without following links: replace the link by the file or folder it points to`
    );
  });

  it('stageInputs binds and hashes the pinned file: what the container sees, not what the path shows later', async () => {
    const registry = new ConnectorRegistry().registerInput(createLocalInputConnector({ linkMinBytes: Infinity }));
    const inputsDir = path.join(tmp, 'staging', 'inputs');
    await mkdir(inputsDir);
    const item: InputItem = { key: 'f', label: 'f', value: value('data/in.txt'), containerPath: '/cc/inputs/f/in.txt', mountPath: '/cc/inputs/f/in.txt' };
    const staged = await stageInputs({ items: [item], inputsDir, registry, ctx: context(checked => swapForLink(checked, path.join(outside, 'in.txt'))) });
    const bound = staged.binds[0].hostPath;
    expect(bound).toBe(path.join(inputsDir, 'f', 'in.txt'));
    expect(await readFile(bound, 'utf8')).toBe('inside');
    expect(staged.records.f).toMatchObject({ path: bound, sha256: sha256('inside'), size: 6 });
  });

  it('stageInputs refuses an input name that is not a single folder name', async () => {
    const registry = new ConnectorRegistry().registerInput(createLocalInputConnector());
    const item: InputItem = { key: '../x', label: '../x', value: value('data/in.txt'), containerPath: '/cc/inputs/x/in.txt', mountPath: '/cc/inputs/x/in.txt' };
    await expect(stageInputs({ items: [item], inputsDir: path.join(tmp, 'staging'), registry, ctx: context() })).rejects.toThrow(
      `input name "../x" cannot name a folder: use letters, digits, '-' or '_'`
    );
  });

  describe('without /proc (the path-based way, as on macOS)', () => {
    let was: boolean;
    beforeEach(() => (was = useProcFdForTests(false)));
    afterEach(() => useProcFdForTests(was));

    it('pins a File (copied and hard-linked) and a Directory tree', async () => {
      await createLocalInputConnector().stage({ key: 'f', label: 'f', value: value('data/in.txt'), dest }, context());
      expect(await readFile(dest, 'utf8')).toBe('inside');
      await createLocalInputConnector({ linkMinBytes: 1 }).stage({ key: 'f', label: 'f', value: value('data/in.txt'), dest: dest + '2' }, context());
      expect((await stat(dest + '2')).ino).toBe((await stat(path.join(root, 'data', 'in.txt'))).ino);
      await createLocalInputConnector().stage({ key: 'd', label: 'd', value: value('data', 'Directory'), dest: dest + '3' }, context());
      expect(await readFile(path.join(dest + '3', 'sub', 'deep.txt'), 'utf8')).toBe('deep');
    });

    it('a file swapped after the check: the checked content; a folder above swapped before the open: refused', async () => {
      await createLocalInputConnector().stage({ key: 'f', label: 'f', value: value('data/in.txt'), dest }, context(checked => swapForLink(checked, path.join(outside, 'in.txt'))));
      expect(await readFile(dest, 'utf8')).toBe('inside');
      // <root>/up became a link out after <root>/up/in.txt was checked.
      await symlink(outside, path.join(root, 'up'));
      await expect(pinLocalInput(path.join(root, 'up', 'in.txt'), 'File', dest + '2', [root], 'input f')).rejects.toThrow(
        `input f: ${path.join(root, 'up', 'in.txt')} now resolves to ${path.join(outside, 'in.txt')}, outside the folders`
      );
    });
  });
});
