// The runner's side of "the files a notebook writes come back": --redlab-collect DIR links every
// file written (new or changed) in the working folder into DIR after the run, except what the
// --redlab-collect-skip globs match (outputs of their own, or unticked ones) and its own files.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const runner = path.join(__dirname, '../../../jupyterlab_redlab/runner/redlab_nbrun.py');
let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'redlab-collect-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

const WRITES = [
  'import os, time',
  'time.sleep(0.01)',
  'os.makedirs("figs/deep", exist_ok=True)',
  'os.makedirs("sub/skipped", exist_ok=True)',
  'os.makedirs("__pycache__", exist_ok=True)',
  'for name in ["new.txt", "figs/deep/a.png", "sub/skipped/x.bin", "skip.csv", "run.log", ".hidden", "__pycache__/m.pyc"]:',
  '    open(name, "w").write(name)',
  'open("changed.txt", "a").write(" and more")'
].join('\n');

function run(cells: string[], args: string[]) {
  const nb = {
    nbformat: 4,
    nbformat_minor: 4,
    metadata: { kernelspec: { name: 'python3', language: 'python' } },
    cells: cells.map(source => ({ cell_type: 'code', metadata: {}, source, outputs: [], execution_count: null }))
  };
  fs.writeFileSync(path.join(dir, 'nb.ipynb'), JSON.stringify(nb));
  fs.writeFileSync(path.join(dir, 'old.txt'), 'there before');
  fs.writeFileSync(path.join(dir, 'changed.txt'), 'there before');
  return spawnSync('python3', [runner, 'nb.ipynb', '--redlab-kernel', 'stdlib', ...args], { cwd: dir, encoding: 'utf8' });
}

const listed = (root: string): string[] =>
  fs.existsSync(root)
    ? fs.readdirSync(root, { recursive: true, withFileTypes: true }).filter(e => e.isFile()).map(e => path.relative(root, path.join(e.parentPath ?? (e as unknown as { path: string }).path, e.name))).sort()
    : [];

test('gathers what the notebook wrote, except skipped globs, hidden names, caches and its own files', () => {
  const r = run([WRITES], ['--redlab-collect', 'nb_files', '--redlab-collect-skip', 'skip.csv,sub/skipped,*.log']);
  expect(r.status).toBe(0);
  expect(listed(path.join(dir, 'nb_files'))).toEqual(['changed.txt', 'figs/deep/a.png', 'new.txt']);
  expect(fs.readFileSync(path.join(dir, 'nb_files/changed.txt'), 'utf8')).toBe('there before and more');
  // Linked, not moved: the outputs collected on their own are still where the notebook wrote them.
  expect(fs.statSync(path.join(dir, 'new.txt')).ino).toBe(fs.statSync(path.join(dir, 'nb_files/new.txt')).ino);
  expect(fs.existsSync(path.join(dir, 'skip.csv'))).toBe(true);
  expect(r.stderr).toContain('redlab_nbrun: gathered 3 new files in nb_files/: changed.txt, figs/deep/a.png, new.txt\n');
});

test('gathers after a failing cell too, and makes no folder when nothing new was written', () => {
  let r = run(['open("before-error.txt", "w").write("x")', 'raise ValueError("stop")', 'open("never.txt", "w")'], ['--redlab-collect', 'nb_files']);
  expect(r.status).toBe(1);
  expect(listed(path.join(dir, 'nb_files'))).toEqual(['before-error.txt']);
  fs.rmSync(path.join(dir, 'nb_files'), { recursive: true });
  r = run(['x = 1'], ['--redlab-collect', 'nb_files']);
  expect(r.status).toBe(0);
  expect(fs.existsSync(path.join(dir, 'nb_files'))).toBe(false);
  expect(r.stderr).toContain('redlab_nbrun: no other new files to gather in nb_files/\n');
});

test('without --redlab-collect nothing is gathered', () => {
  const r = run([WRITES], []);
  expect(r.status).toBe(0);
  expect(fs.readdirSync(dir).filter(n => n.endsWith('_files'))).toEqual([]);
  expect(r.stderr).not.toMatch(/gather/);
});
