import { mkdir, mkdtemp, readdir, readFile, realpath, rm, symlink, writeFile } from 'fs/promises';
import * as os from 'os';
import * as path from 'path';
import type { FileOrDirectory } from '../../../src/red/types';
import { localInputConnector } from '../../src/connectors/local';
import type { ConnectorContext } from '../../src/connectors/types';
import { isWithin } from '../../src/util/fs-safety';

let tmp: string;
let root: string;
let ctx: ConnectorContext;
beforeEach(async () => {
  tmp = await realpath(await mkdtemp(path.join(os.tmpdir(), 'redlab-local-')));
  root = path.join(tmp, 'project');
  await mkdir(path.join(root, 'data'), { recursive: true });
  await writeFile(path.join(root, 'data', 'in.txt'), 'inside');
  await writeFile(path.join(tmp, 'secret.txt'), 'outside');
  ctx = { baseDir: root, allowedRoots: [root] };
});
afterEach(() => rm(tmp, { recursive: true, force: true }));

const value = (p: unknown, cls: 'File' | 'Directory' = 'File'): FileOrDirectory => ({ class: cls, connector: { command: 'redlab-connector-local', access: { path: p } } });
const stage = (v: FileOrDirectory) => localInputConnector.stage({ key: 'f', label: 'f', value: v, dest: path.join(tmp, 'dest') }, ctx);

describe('redlab-connector-local', () => {
  it('pins a file or folder under an allowed root into dest (relative to the RED folder)', async () => {
    expect(await stage(value('data/in.txt'))).toEqual({ hostPath: path.join(tmp, 'dest'), copied: true });
    expect(await readFile(path.join(tmp, 'dest'), 'utf8')).toBe('inside');
    await rm(path.join(tmp, 'dest'));
    expect(await stage(value(path.join(root, 'data'), 'Directory'))).toEqual({ hostPath: path.join(tmp, 'dest'), copied: true });
    expect(await readdir(path.join(tmp, 'dest'))).toEqual(['in.txt']);
  });

  it('refuses path traversal out of the roots', async () => {
    await expect(stage(value('../secret.txt'))).rejects.toThrow(
      `input f: ${path.join(tmp, 'secret.txt')} is outside the folders local inputs may come from (${root}); move the data under one of them or allow its folder (redlab run --allow-root DIR)`
    );
    await expect(stage(value('../../../../../../etc/passwd'))).rejects.toThrow('input f: /etc/passwd is outside the folders local inputs may come from');
    await expect(stage(value('/etc/passwd'))).rejects.toThrow('is outside the folders');
  });

  it('follows symlinks and refuses one that escapes the root', async () => {
    await symlink(path.join(tmp, 'secret.txt'), path.join(root, 'data', 'link.txt'));
    await expect(stage(value('data/link.txt'))).rejects.toThrow(
      `input f: ${path.join(root, 'data', 'link.txt')} (it resolves to ${path.join(tmp, 'secret.txt')}) is outside the folders local inputs may come from`
    );
    await symlink(tmp, path.join(root, 'up'));
    await expect(stage(value('up/secret.txt'))).rejects.toThrow('(it resolves to ' + path.join(tmp, 'secret.txt') + ')');
    // A symlink that stays inside is fine: what it leads to is pinned.
    await symlink(path.join(root, 'data', 'in.txt'), path.join(root, 'alias.txt'));
    expect((await stage(value('alias.txt'))).hostPath).toBe(path.join(tmp, 'dest'));
    expect(await readFile(path.join(tmp, 'dest'), 'utf8')).toBe('inside');
  });

  it('says what is wrong with a missing path, a wrong class or bad access', async () => {
    await expect(stage(value('data/nope.txt'))).rejects.toThrow(`input f: data/nope.txt does not exist (relative paths start at ${root}); check connector.access.path`);
    await expect(stage(value('data'))).rejects.toThrow(`input f: ${path.join(root, 'data')} is a folder, but the input is a File`);
    await expect(stage(value('data/in.txt', 'Directory'))).rejects.toThrow('is not a folder, but the input is a Directory');
    await expect(stage(value(42))).rejects.toThrow('access.path must be a host path');
    await expect(
      localInputConnector.stage({ key: 'f', label: 'f', value: { class: 'File', connector: { command: 'redlab-connector-local', access: { path: 'x', url: 'y' } } }, dest: '' }, ctx)
    ).rejects.toThrow('unknown access key url');
  });

  it('isWithin does not mistake a sibling with a common prefix for a child', () => {
    expect(isWithin('/a/b', '/a/b')).toBe(true);
    expect(isWithin('/a/b/c', '/a/b')).toBe(true);
    expect(isWithin('/a/bc', '/a/b')).toBe(false);
    expect(isWithin('/a/..b', '/a')).toBe(true);
    expect(isWithin('/a', '/a/b')).toBe(false);
  });
});
