// Output collection from an outputs folder a hostile container wrote: links are read
// as the container sees them and never followed on the host, nothing but regular
// files is read, copies belong to the bridge, the source stays for a re-collection.
// Real files and folders in a temp folder; the container is played by the test.
import { createHash } from 'crypto';
import { execFileSync } from 'child_process';
import { chmod, lstat, mkdir, readFile, readdir, stat, symlink, writeFile } from 'fs/promises';
import * as path from 'path';
import { ConnectorRegistry } from '../../src/connectors/registry';
import { collectOutputs, matchGlob, type OutputSpec } from '../../src/engine/outputs';
import { LINK_MIN_BYTES, removeTree, SafeDir, UnsafePathError, useProcFdForTests, withDir } from '../../src/util/safe-fs';
import { removeTempDirs, tempDir } from '../helpers/red';

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
let tmp: string;
let outputsDir: string;
let host: string;
let outdir: string;
beforeEach(async () => {
  tmp = await tempDir('redlab-hostile-');
  outputsDir = path.join(tmp, 'work', 'outputs');
  outdir = path.join(tmp, 'outdir');
  host = path.join(tmp, 'host');
  await mkdir(outputsDir, { recursive: true });
  await mkdir(host);
  await writeFile(path.join(host, 'secret.txt'), 'host secret');
  await writeFile(path.join(host, 'data.txt'), 'host data');
});
afterAll(removeTempDirs);

const spec = (key: string, pattern: string, kind: OutputSpec['kind'] = 'File'): OutputSpec => ({ key, kind, optional: false, pattern });
const collect = (specs: OutputSpec[], registry = new ConnectorRegistry(), jobOutputs?: Parameters<typeof collectOutputs>[0]['jobOutputs']) =>
  collectOutputs({ specs, outputsDir, outdir, jobOutputs, registry, ctx: { baseDir: tmp, allowedRoots: [] }, sendOutputs: true, partial: false });
const hostUntouched = async () => {
  expect((await readdir(host)).sort()).toEqual(['data.txt', 'secret.txt']);
  expect(await readFile(path.join(host, 'secret.txt'), 'utf8')).toBe('host secret');
};

// Each case both ways: names looked up through /proc/self/fd (Linux), and by checked paths (elsewhere).
describe.each([
  ['through /proc/self/fd', true],
  ['by checked paths', false]
])('%s', (_how, procFd) => {
  let saved: boolean;
  beforeAll(() => {
    saved = useProcFdForTests(procFd);
  });
  afterAll(() => {
    useProcFdForTests(saved);
  });

  describe('outputs a hostile container left', () => {
    it('a folder replaced by a link to a host folder: the glob does not go through it, the error names the link', async () => {
      await symlink(host, path.join(outputsDir, 'sub'));
      const r = await collect([spec('data', 'sub/data.txt')]);
      expect(r.records).toEqual({ data: null });
      expect(r.errors).toEqual([`output data: sub is a symbolic link to ${host}, outside the outputs folder; outputs must be files written under /cc/outputs`]);
      await expect(readdir(outdir)).rejects.toThrow();
      await hostUntouched();
    });

    it('a link to a host file is refused; the host file is never read into the outdir', async () => {
      await symlink(path.join(host, 'secret.txt'), path.join(outputsDir, 'out.txt'));
      const r = await collect([spec('out', 'out.txt')]);
      expect(r.errors).toEqual([`output out: out.txt is a symbolic link to ${path.join(host, 'secret.txt')}, outside the outputs folder; outputs must be files written under /cc/outputs`]);
      await expect(readdir(outdir)).rejects.toThrow();
      // A relative link that climbs out is outside too, however it is spelled.
      await symlink('res/../../../host/secret.txt', path.join(outputsDir, 'up.txt'));
      expect((await collect([spec('up', 'up.txt')])).errors).toEqual([
        'output up: up.txt is a symbolic link to res/../../../host/secret.txt, outside the outputs folder; outputs must be files written under /cc/outputs'
      ]);
      await hostUntouched();
    });

    it('links that stay inside are read as the container sees them: relative, /cc/outputs/…, and through a linked folder', async () => {
      await mkdir(path.join(outputsDir, 'real'));
      await writeFile(path.join(outputsDir, 'real', 'r.txt'), 'inside');
      await symlink('real/r.txt', path.join(outputsDir, 'rel.txt'));
      await symlink('/cc/outputs/real/r.txt', path.join(outputsDir, 'abs.txt'));
      await symlink('/cc/outputs/real', path.join(outputsDir, 'alias'));
      expect(await matchGlob(outputsDir, spec('a', 'alias/*.txt'))).toEqual([{ rel: 'alias/r.txt', target: 'real/r.txt' }]);
      const r = await collect([spec('rel', 'rel.txt'), spec('abs', 'abs.txt'), spec('via', 'alias/r.txt')]);
      expect(r.errors).toEqual([]);
      for (const [key, name] of [['rel', 'rel.txt'], ['abs', 'abs.txt'], ['via', 'r.txt']]) {
        expect(r.records[key]).toEqual({ path: path.join(outdir, name), containerPath: expect.any(String), class: 'File', size: 6, sha256: sha256('inside') });
        expect((await lstat(path.join(outdir, name))).isFile()).toBe(true);
      }
    });

    it('a Directory output: a link out inside it fails it, a loop fails it, FIFOs are left out', async () => {
      await mkdir(path.join(outputsDir, 'res', 'deep'), { recursive: true });
      await writeFile(path.join(outputsDir, 'res', 'a.txt'), 'A');
      await symlink(host, path.join(outputsDir, 'res', 'deep', 'hostdir'));
      expect((await collect([spec('res', 'res', 'Directory')])).errors).toEqual([`output res: res/deep/hostdir is a symbolic link to ${host}, outside the outputs folder`]);
      await expect(readdir(outdir)).rejects.toThrow();

      await removeTree(path.join(outputsDir, 'res', 'deep', 'hostdir'));
      await symlink('..', path.join(outputsDir, 'res', 'deep', 'up'));
      expect((await collect([spec('res', 'res', 'Directory')])).errors).toEqual(['output res: res/deep/up is a link to a folder that holds it (a loop)']);

      await removeTree(path.join(outputsDir, 'res', 'deep', 'up'));
      execFileSync('mkfifo', [path.join(outputsDir, 'res', 'deep', 'pipe')]);
      const r = await collect([spec('res', 'res', 'Directory')]);
      expect(r.errors).toEqual([]);
      expect(r.records.res).toMatchObject({ class: 'Directory', size: 1, sha256: sha256(`a.txt\0${sha256('A')}\n`) });
      expect((await readdir(path.join(outdir, 'res'))).sort()).toEqual(['a.txt', 'deep']);
      expect(await readdir(path.join(outdir, 'res', 'deep'))).toEqual([]);
      await hostUntouched();
    });

    it('a FIFO is no File output (never opened, so nothing hangs)', async () => {
      execFileSync('mkfifo', [path.join(outputsDir, 'out.txt')]);
      const r = await collect([spec('out', 'out.txt')]);
      expect(r.errors[0]).toMatch(/^output out: no file matches glob out.txt in \/cc\/outputs/);
    });

    it('copies belong to the bridge, without set-uid bits, and the outputs folder keeps its files for a re-collection', async () => {
      await writeFile(path.join(outputsDir, 'tool'), '#!/bin/sh\n');
      await chmod(path.join(outputsDir, 'tool'), 0o4777);
      const r = await collect([spec('tool', 'tool')]);
      expect(r.errors).toEqual([]);
      expect((await stat(path.join(outdir, 'tool'))).mode & 0o7777).toBe(0o755 & ~process.umask());
      expect(await readFile(path.join(outputsDir, 'tool'), 'utf8')).toBe('#!/bin/sh\n');
      // Collected again (a bridge that died before it recorded the result): the same record.
      expect((await collect([spec('tool', 'tool')])).records).toEqual(r.records);
    });

    it('a big file that is ours and plain is hard-linked; one others may write is copied', async () => {
      const big = Buffer.alloc(LINK_MIN_BYTES, 1);
      await writeFile(path.join(outputsDir, 'plain.bin'), big, { mode: 0o644 });
      await writeFile(path.join(outputsDir, 'shared.bin'), big);
      await chmod(path.join(outputsDir, 'shared.bin'), 0o666);
      const r = await collect([spec('plain', 'plain.bin'), spec('shared', 'shared.bin')]);
      expect(r.errors).toEqual([]);
      const digest = createHash('sha256').update(big).digest('hex');
      expect(r.records.plain).toMatchObject({ size: big.length, sha256: digest });
      expect(r.records.shared).toMatchObject({ size: big.length, sha256: digest });
      expect((await stat(path.join(outdir, 'plain.bin'))).ino).toBe((await stat(path.join(outputsDir, 'plain.bin'))).ino);
      const copy = await stat(path.join(outdir, 'shared.bin'));
      expect(copy.ino).not.toBe((await stat(path.join(outputsDir, 'shared.bin'))).ino);
      expect(copy.mode & 0o777).toBe(0o644 & ~process.umask());
    });

    it('a connector reads a copy in a private folder, not the outputs folder', async () => {
      await writeFile(path.join(outputsDir, 'out.txt'), 'payload');
      const seen: { hostPath: string; body: string }[] = [];
      const registry = new ConnectorRegistry().registerOutput({
        command: 'test-connector',
        classes: ['File'],
        async send(req) {
          seen.push({ hostPath: req.hostPath, body: await readFile(req.hostPath, 'utf8') });
          return { target: 'test://out' };
        }
      });
      const r = await collect([spec('out', 'out.txt')], registry, { out: { class: 'File', connector: { command: 'test-connector', access: {} } } } as never);
      expect(r.errors).toEqual([]);
      expect(r.records.out).toMatchObject({ path: 'test://out', size: 7, sha256: sha256('payload'), connector: 'test-connector' });
      expect(seen[0].body).toBe('payload');
      expect(path.dirname(path.dirname(seen[0].hostPath))).toBe(path.dirname(outputsDir));
      // The copy is gone once sent.
      await expect(stat(seen[0].hostPath)).rejects.toThrow();
    });
  });

  describe('SafeDir', () => {
    it('opens folders and files below a root without following a link in any component', async () => {
      await mkdir(path.join(outputsDir, 'a', 'b'), { recursive: true });
      await symlink(host, path.join(outputsDir, 'a', 'l'));
      await symlink(path.join(host, 'secret.txt'), path.join(outputsDir, 'a', 'b', 'f'));
      await withDir(SafeDir.open(outputsDir, 'the outputs folder'), async root => {
        await expect(root.openDir('a/l')).rejects.toThrow(new UnsafePathError(`a/l is a symbolic link (to ${host}); the bridge does not follow links in the outputs folder`, 'a/l'));
        await expect(root.openDir('a/l/x', { create: true })).rejects.toBeInstanceOf(UnsafePathError);
        await expect(withDir(root.openDir('a/b'), d => d.openFile('f', 'a/b/f'))).rejects.toBeInstanceOf(UnsafePathError);
        await expect(root.openDir('../host')).rejects.toThrow('../host is not a plain relative path');
        // mkdir -p makes what is missing.
        await withDir(root.openDir('a/b/c/d', { create: true }), async () => undefined);
      });
      expect((await stat(path.join(outputsDir, 'a', 'b', 'c', 'd'))).isDirectory()).toBe(true);
      await hostUntouched();
    });

    it('removeTree removes links, not what they point to, and read-only folders too', async () => {
      await mkdir(path.join(outputsDir, 'ro', 'x'), { recursive: true });
      await writeFile(path.join(outputsDir, 'ro', 'x', 'f'), 'f');
      await symlink(host, path.join(outputsDir, 'ro', 'hostdir'));
      await symlink(path.join(host, 'secret.txt'), path.join(outputsDir, 'ro', 'x', 'secret'));
      await chmod(path.join(outputsDir, 'ro', 'x'), 0o500);
      await removeTree(path.join(tmp, 'work'));
      await expect(lstat(path.join(tmp, 'work'))).rejects.toThrow();
      await hostUntouched();
    });
  });
});
