// `redlab run` works in a per-user private folder (not the shared temp folder), takes
// another with --work-root / REDLAB_WORK_ROOT, and refuses one another account could
// change, naming it and the fix. The built binary and a real Docker engine, as a user
// runs it (needs `npm run build -w server-bridge`).
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

// Real containers: seconds each, and much longer on a loaded machine than jest's default 5 s.
jest.setTimeout(60_000);

const repo = path.resolve(__dirname, '../../..');
const bin = path.join(repo, 'server-bridge/bin/redlab.js');
const hello = path.join(__dirname, 'fixtures', 'hello.red.json');

const redlab = (args: string[], env: NodeJS.ProcessEnv = {}) => {
  const r = spawnSync(process.execPath, [bin, ...args], { cwd: tmp, env: { ...process.env, ...env }, encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
};

let tmp: string;
beforeEach(() => {
  tmp = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'redlab-workroot-cli-')));
});
afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('redlab run: the work folder', () => {
  it('is per user by default (XDG_CACHE_HOME/redlab/runs, 0700)', () => {
    const cache = path.join(tmp, 'cache');
    const r = redlab(['run', hello, '--non-interactive', '--outdir', path.join(tmp, 'out')], { XDG_CACHE_HOME: cache, REDLAB_WORK_ROOT: '' });
    expect(r.stderr).not.toContain('not private');
    expect(r.code).toBe(0);
    const st = fs.statSync(path.join(cache, 'redlab', 'runs'));
    expect([st.isDirectory(), st.mode & 0o777, st.uid]).toEqual([true, 0o700, process.getuid!()]);
    expect(fs.readFileSync(path.join(tmp, 'out', 'out.txt'), 'utf8')).toBe('hello world\n');
  });

  it('refuses a --work-root others may write, naming it and the fix (exit 1, nothing run)', () => {
    const shared = path.join(tmp, 'redlab-runs');
    fs.mkdirSync(shared);
    fs.chmodSync(shared, 0o777);
    const r = redlab(['run', hello, '--non-interactive', '--work-root', shared, '--outdir', path.join(tmp, 'out')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`the work folder ${shared} is not private: ${shared} is writable by others (mode 777; chmod 700 ${shared} if it is yours)`);
    expect(r.stderr).toContain('choose a folder only you can write (redlab run --work-root DIR or REDLAB_WORK_ROOT');
    expect(fs.existsSync(path.join(tmp, 'out'))).toBe(false);
  });

  (process.getuid?.() === 0 ? it : it.skip)('refuses a REDLAB_WORK_ROOT another account owns', () => {
    const theirs = path.join(tmp, 'theirs');
    fs.mkdirSync(theirs, { mode: 0o700 });
    fs.chownSync(theirs, 65534, 65534);
    const r = redlab(['run', hello, '--non-interactive', '--outdir', path.join(tmp, 'out')], { REDLAB_WORK_ROOT: theirs });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`the work folder ${theirs} is not private: ${theirs} is owned by uid 65534, not by you (uid 0)`);
    expect(fs.readdirSync(theirs)).toEqual([]);
  });
});

describe('redlab bridge: the data folder', () => {
  it('refuses one others may write before it opens the store or listens, naming it and the fix', () => {
    const shared = path.join(tmp, 'data');
    fs.mkdirSync(shared);
    fs.chmodSync(shared, 0o777);
    const r = redlab(['bridge', '--data-dir', shared, '--port', '0', '--token', 'a-token-of-sixteen-chars']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(
      `the data folder ${shared} is not private: ${shared} is writable by others (mode 777; chmod 700 ${shared} if it is yours), so another account could swap what RED Lab reads and writes there; ` +
        'choose a folder only you can write (redlab bridge --data-dir DIR or REDLAB_DATA_DIR), or remove this one'
    );
    expect(fs.readdirSync(shared)).toEqual([]);
  });
});
