import { createHash } from 'crypto';
import { mkdir, readFile, readdir, rm, symlink, writeFile } from 'fs/promises';
import * as path from 'path';
import type { CommandLineTool } from '../../../src/red/types';
import { defaultConnectors } from '../../src/connectors/registry';
import { checkPattern, collectOutputs, matchGlob, planOutputs, type OutputSpec } from '../../src/engine/outputs';
import { inputContainerPath } from '../../../src/red/paths';
import { LineBuffer, TailBuffer } from '../../src/engine/container';
import { hashPath } from '../../src/util/hash';
import { tempDir } from '../helpers/red';

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
let tmp: string;
let outputsDir: string;
beforeEach(async () => {
  tmp = await tempDir('redlab-out-');
  outputsDir = path.join(tmp, 'work');
  await mkdir(path.join(outputsDir, 'res', 'deep'), { recursive: true });
  await writeFile(path.join(outputsDir, 'a.txt'), 'A');
  await writeFile(path.join(outputsDir, 'b.txt'), 'BB');
  await writeFile(path.join(outputsDir, '.hidden.txt'), 'H');
  await writeFile(path.join(outputsDir, 'res', 'r1.csv'), 'x,y\n');
  await writeFile(path.join(outputsDir, 'res', 'deep', 'r2.csv'), '1,2\n');
  await writeFile(path.join(tmp, 'secret.txt'), 'outside');
});
afterEach(() => rm(tmp, { recursive: true, force: true }));

const spec = (pattern: string, kind: OutputSpec['kind'] = 'File', optional = false): OutputSpec => ({ key: 'out', kind, optional, pattern });
const collect = (specs: OutputSpec[], partial = false) =>
  collectOutputs({ specs, outputsDir, outdir: path.join(tmp, 'outdir'), registry: defaultConnectors(), ctx: { baseDir: tmp, allowedRoots: [] }, sendOutputs: true, partial });

describe('output globs', () => {
  it('match like Python glob: one segment per *, no hidden names, files only for File', async () => {
    expect((await matchGlob(outputsDir, spec('*.txt'))).map(m => m.rel)).toEqual(['a.txt', 'b.txt']);
    expect((await matchGlob(outputsDir, spec('.*.txt'))).map(m => m.rel)).toEqual(['.hidden.txt']);
    expect((await matchGlob(outputsDir, spec('*/*.csv'))).map(m => m.rel)).toEqual(['res/r1.csv']);
    expect((await matchGlob(outputsDir, spec('*'))).map(m => m.rel)).toEqual(['a.txt', 'b.txt']);
    expect((await matchGlob(outputsDir, spec('*', 'Directory'))).map(m => m.rel)).toEqual(['res']);
  });

  it('refuse patterns that leave the outputs folder', () => {
    expect(() => checkPattern('../../etc/passwd', 'cli.outputs.out.outputBinding.glob')).toThrow(/has a "\.\." segment/);
    expect(() => checkPattern('/etc/passwd', 'cli.outputs.out.outputBinding.glob')).toThrow(/is absolute/);
    expect(checkPattern('./res/*.csv', 'x')).toBe('res/*.csv');
  });

  it('resolve $(inputs...) references before the check, so a value cannot smuggle in ..', () => {
    const cli: CommandLineTool = {
      cwlVersion: 'v1.0',
      class: 'CommandLineTool',
      baseCommand: 'true',
      inputs: { name: { type: 'string', inputBinding: { position: 0 } } },
      outputs: { out: { type: 'File', outputBinding: { glob: '$(inputs.name)' } } }
    };
    expect(planOutputs(cli, { name: 'x/r.txt' }, inputContainerPath, {})).toEqual([{ key: 'out', kind: 'File', optional: false, pattern: 'x/r.txt' }]);
    expect(() => planOutputs(cli, { name: '../../../etc/passwd' }, inputContainerPath, {})).toThrow(/cli.outputs.out.outputBinding.glob: the glob "..\/..\/..\/etc\/passwd" has a ".." segment/);
  });

  it('refuse a symlink that points outside, naming the output', async () => {
    await symlink(path.join(tmp, 'secret.txt'), path.join(outputsDir, 'leak.txt'));
    await expect(matchGlob(outputsDir, spec('leak.txt'))).rejects.toThrow(`output out: leak.txt is a symbolic link to ${path.join(tmp, 'secret.txt')}, outside the outputs folder`);
    await symlink('/etc', path.join(outputsDir, 'etcdir'));
    const r = await collect([{ ...spec('etcdir', 'Directory'), key: 'dir' }]);
    expect(r.errors).toEqual(['output dir: etcdir is a symbolic link to /etc, outside the outputs folder; outputs must be files written under /cc/outputs']);
    expect(r.records).toEqual({ dir: null });
  });

  it('refuse a Directory output holding a link that points outside', async () => {
    await symlink('../../secret.txt', path.join(outputsDir, 'res', 'sneaky'));
    const r = await collect([spec('res', 'Directory')]);
    expect(r.errors).toEqual(['output out: res/sneaky is a symbolic link to ../../secret.txt, outside the outputs folder']);
    await expect(readdir(path.join(tmp, 'outdir'))).rejects.toThrow();
  });
});

describe('collectOutputs', () => {
  it('moves one match per output to the outdir with size and sha256', async () => {
    const r = await collect([{ ...spec('a.txt'), key: 'a' }, { ...spec('res', 'Directory'), key: 'res' }]);
    expect(r.errors).toEqual([]);
    expect(r.records.a).toEqual({ path: path.join(tmp, 'outdir', 'a.txt'), containerPath: '/cc/outputs/a.txt', class: 'File', size: 1, sha256: sha256('A') });
    const dirHash = sha256(`deep/r2.csv\0${sha256('1,2\n')}\nr1.csv\0${sha256('x,y\n')}\n`);
    // A folder's record lists its files as they were hashed on the way (the run record uses them: nothing is hashed twice).
    expect(r.records.res).toEqual({
      path: path.join(tmp, 'outdir', 'res'),
      containerPath: '/cc/outputs/res',
      class: 'Directory',
      size: 8,
      sha256: dirHash,
      files: [
        { path: 'deep/r2.csv', sha256: sha256('1,2\n'), size: 4 },
        { path: 'r1.csv', sha256: sha256('x,y\n'), size: 4 }
      ]
    });
    expect(await readFile(path.join(tmp, 'outdir', 'res', 'deep', 'r2.csv'), 'utf8')).toBe('1,2\n');
    expect(await hashPath(path.join(tmp, 'outdir', 'res'))).toEqual({ class: 'Directory', size: 8, sha256: dirHash });
  });

  it('needs exactly one match unless optional', async () => {
    const r = await collect([{ ...spec('*.txt'), key: 'many' }, { ...spec('none.txt'), key: 'none' }, { ...spec('nope.txt', 'File', true), key: 'opt' }]);
    expect(r.records).toEqual({ many: null, none: null, opt: null });
    expect(r.errors).toEqual([
      'output many: glob *.txt matches 2 files (a.txt, b.txt); it must match one, so make the glob more specific',
      'output none: no file matches glob none.txt in /cc/outputs (the outputs folder has .hidden.txt, a.txt, b.txt, res); check cli.outputs.none and that the command writes it in its working directory'
    ]);
  });

  it('takes what is there, marked partial, when the batch did not succeed', async () => {
    const r = await collect([{ ...spec('a.txt'), key: 'a' }, { ...spec('none.txt'), key: 'none' }], true);
    expect(r.errors).toEqual([]);
    expect(r.records.a).toMatchObject({ path: path.join(tmp, 'outdir', 'a.txt'), partial: true, size: 1 });
    expect(r.records.none).toBeNull();
  });
});

describe('LineBuffer and TailBuffer', () => {
  it('emits whole lines, and a partial line when flushed', () => {
    const out: string[] = [];
    const lb = new LineBuffer(t => out.push(t), 10_000);
    lb.push(Buffer.from('hel'));
    lb.push(Buffer.from('lo\nwor'));
    expect(out).toEqual(['hello\n']);
    // A multi-byte character split across chunks stays whole.
    const euro = Buffer.from('€');
    lb.push(euro.subarray(0, 1));
    lb.push(Buffer.concat([euro.subarray(1), Buffer.from('ld')]));
    lb.flush();
    expect(out).toEqual(['hello\n', 'wor€ld']);
  });

  it('keeps the last bytes', () => {
    const t = new TailBuffer(5);
    t.push(Buffer.from('abc'));
    t.push(Buffer.from('defg'));
    expect(t.text()).toBe('cdefg');
  });
});
