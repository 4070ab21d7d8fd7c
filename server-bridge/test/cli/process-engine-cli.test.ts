// `redlab run --engine process`: the RED's command runs on this machine without a container.
// The built binary as a user runs it (`npm run build -w server-bridge` first); the docker
// engine (real Docker, busybox) is the reference the outputs must match byte for byte.
import * as fs from 'fs';
import * as path from 'path';
import { runRedlab } from '../helpers/redlab-cli';
import { BUSYBOX, removeTempDirs, tempDir } from '../helpers/red';
import { withoutRunRecord } from '../helpers/run-record';

jest.setTimeout(120_000);

/** A RED whose command is `sh -c SCRIPT` with the File input `text_file` (data/in.txt) as $0. */
function shRed(script: string, outputs: string, extra = ''): string {
  return `redVersion: "9"
cli:
  cwlVersion: v1.0
  class: CommandLineTool
  baseCommand: [sh, -c, ${JSON.stringify(script)}]
  inputs:
    text_file: { type: File, inputBinding: { position: 0 } }
  outputs:
${outputs}
${extra}inputs:
  text_file:
    class: File
    basename: in.txt
    connector: { command: redlab-connector-local, access: { path: data/in.txt } }
outputs: {}
container:
  engine: docker
  settings: { image: { url: ${BUSYBOX} }, ram: 256 }
`;
}

let dir: string;
beforeEach(async () => {
  dir = await tempDir('redlab-process-cli-');
  fs.mkdirSync(path.join(dir, 'data'));
  fs.writeFileSync(path.join(dir, 'data', 'in.txt'), 'hello\nWorld ünïcode\n');
});
afterAll(() => removeTempDirs());

function write(name: string, text: string): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, text);
  return file;
}

const run = (red: string, engine: string, outdir: string, opts: Parameters<typeof runRedlab>[1] = {}) =>
  runRedlab(['run', red, '--engine', engine, '--outdir', path.join(dir, outdir), '--json', '--non-interactive'], {
    cwd: dir,
    ...opts,
    env: { REDLAB_WORK_ROOT: path.join(dir, 'work'), ...opts.env }
  });

/** Every file below `root`, relative, with its bytes. */
function tree(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out[path.relative(root, p)] = fs.readFileSync(p).toString('base64');
    }
  };
  walk(root);
  return out;
}

describe('redlab run --engine process', () => {
  it('gives the same outputs, byte for byte, as the docker engine for the same RED', async () => {
    const red = write(
      'upper.red.yml',
      shRed(
        'tr a-z A-Z < "$0" > up.txt; mkdir -p report/sub; printf "%s\\n" one two > report/sub/list.txt; wc -c < "$0" > report/size.txt; echo "read $(basename "$0")"',
        '    upper: { type: File, outputBinding: { glob: up.txt } }\n    report: { type: Directory, outputBinding: { glob: report } }\n    said: { type: stdout }',
        '  stdout: said.txt\n'
      )
    );
    const proc = await run(red, 'process', 'out-process');
    expect(proc.stderr).toContain(`image ${BUSYBOX} is not used: the command runs with this machine's programs`);
    expect(proc.code).toBe(0);
    const docker = await run(red, 'docker', 'out-docker');
    expect(docker.code).toBe(0);

    const p = JSON.parse(proc.stdout);
    const d = JSON.parse(docker.stdout);
    expect(p.state).toBe('succeeded');
    expect(p.engine).toEqual({ name: 'process', isolated: false, note: 'not isolated: runs the command on this machine without a container, image or limits' });
    expect(d.engine).toBeUndefined();
    const digest = (r: { outputs: Record<string, { size: number; sha256: string; class: string }> }) =>
      Object.fromEntries(Object.entries(r.outputs).map(([k, o]) => [k, [o.class, o.size, o.sha256]]));
    expect(digest(p)).toEqual(digest(d));
    expect(Object.keys(p.outputs).sort()).toEqual(['report', 'said', 'upper']);
    // The run records differ (engine, times); each is checked by the run record's own tests.
    expect(withoutRunRecord(tree(path.join(dir, 'out-process')))).toEqual(withoutRunRecord(tree(path.join(dir, 'out-docker'))));
    expect(fs.readFileSync(path.join(dir, 'out-process', 'up.txt'), 'utf8')).toBe('HELLO\nWORLD üNïCODE\n');
    expect(fs.readFileSync(path.join(dir, 'out-process', 'said.txt'), 'utf8')).toBe('read in.txt\n');
    // The input is hashed as staged, the same bytes in both.
    expect(p.inputs.text_file.sha256).toBe(d.inputs.text_file.sha256);
    // The command names the staged input on this machine, not /cc/inputs/...
    expect(d.command[3]).toBe('/cc/inputs/text_file/in.txt');
    expect(p.command[3]).toMatch(new RegExp(`^${dir}/work/[0-9a-f-]{36}/batch-0/inputs/text_file/in\\.txt$`));
    // The work folder is gone after a run that succeeded.
    expect(fs.readdirSync(path.join(dir, 'work'))).toEqual([]);
  });

  it('runs the command with a clean environment: PATH and LANG, HOME and TMPDIR of its own, no secrets of the caller', async () => {
    const red = write('env.red.yml', shRed('env | sort > env.txt; pwd > cwd.txt', '    env: { type: File, outputBinding: { glob: env.txt } }\n    cwd: { type: File, outputBinding: { glob: cwd.txt } }'));
    const r = await run(red, 'process', 'out', { env: { REDLAB_TOKEN: 'a-secret-token-of-the-bridge', DOCKER_HOST: 'unix:///run/docker.sock', LANG: 'C.UTF-8' } });
    expect(r.code).toBe(0);
    const env = Object.fromEntries(
      fs
        .readFileSync(path.join(dir, 'out', 'env.txt'), 'utf8')
        .trim()
        .split('\n')
        .map(l => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)])
    );
    // sh itself adds PWD (and may add SHLVL, _): nothing of the caller's beyond PATH and LANG.
    expect(Object.keys(env).filter(k => !['PWD', 'SHLVL', '_', 'OLDPWD'].includes(k)).sort()).toEqual(['HOME', 'LANG', 'PATH', 'TMPDIR']);
    expect(env.PATH).toBe(process.env.PATH);
    expect(env.LANG).toBe('C.UTF-8');
    const batch = fs.readFileSync(path.join(dir, 'out', 'cwd.txt'), 'utf8').trim();
    // The working folder is the batch's outputs folder (the container's /cc/outputs).
    expect(batch).toMatch(new RegExp(`^${dir}/work/[0-9a-f-]{36}/batch-0/outputs$`));
    expect(env.HOME).toBe(path.join(path.dirname(batch), 'home'));
    expect(env.TMPDIR).toBe(path.join(path.dirname(batch), 'tmp'));
  });

  it('fails clearly, before staging, when the program is not on this PATH (the image cannot stand in for it)', async () => {
    const red = write(
      'missing.red.yml',
      shRed('x', '    said: { type: stdout }', '  stdout: said.txt\n').replace('baseCommand: [sh, -c, "x"]', 'baseCommand: [redlab-no-such-program, -c, "x"]')
    );
    const r = await run(red, 'process', 'out');
    expect(r.code).toBe(1);
    const res = JSON.parse(r.stdout);
    expect(res.error).toBe(
      `redlab-no-such-program is not on this machine's PATH; the process engine runs without the image ${BUSYBOX}: install redlab-no-such-program here (PATH=${process.env.PATH}), or run the RED on the docker engine`
    );
    expect(res.batches[0].inputs).toEqual({});
    expect(fs.existsSync(path.join(dir, 'out'))).toBe(false);
  });

  it('never copies what a link the command planted leads to outside its outputs folder', async () => {
    const secret = write('secret.txt', 'the host secret\n');
    const red = write(
      'link.red.yml',
      shRed(
        `ln -s ${secret} leak.txt; ln -s ../../../.. up; mkdir d; ln -s ${secret} d/x.txt; echo ok > fine.txt`,
        '    leak: { type: File, outputBinding: { glob: leak.txt } }\n    tree: { type: Directory, outputBinding: { glob: up } }\n    dir: { type: Directory, outputBinding: { glob: d } }\n    fine: { type: File, outputBinding: { glob: fine.txt } }'
      )
    );
    const r = await run(red, 'process', 'out');
    expect(r.code).toBe(1);
    const res = JSON.parse(r.stdout);
    expect(res.state).toBe('failed');
    expect(res.error).toContain(`leak.txt is a symbolic link to ${secret}, outside the outputs folder`);
    expect(res.error).toMatch(/up is a symbolic link to \.\.\/\.\.\/\.\.\/\.\., outside the outputs folder/);
    expect(res.error).toContain(`d/x.txt is a symbolic link to ${secret}, outside the outputs folder`);
    // Nothing of the secret reached the outdir, under any name.
    const out = path.join(dir, 'out');
    const copied = fs.existsSync(out) ? Object.values(tree(out)).map(b => Buffer.from(b, 'base64').toString()) : [];
    expect(copied.filter(t => t.includes('the host secret'))).toEqual([]);
  });

  it('Ctrl-C stops the command and everything it started (its process group), exit 130', async () => {
    const red = write('sleep.red.yml', shRed('sleep 300 & echo "child $!"; sleep 301; echo never', '    said: { type: stdout }', '  stdout: said.txt\n'));
    let child = 0;
    const r = await run(red, 'process', 'out', {
      onStderr: (s, cli) => {
        const m = /child (\d+)/.exec(s);
        if (m && !child) {
          child = Number(m[1]);
          cli.kill('SIGINT');
        }
      }
    });
    expect(child).toBeGreaterThan(0);
    expect(r.code).toBe(130);
    const res = JSON.parse(r.stdout);
    expect([res.state, res.error]).toEqual(['cancelled', 'cancelled: the command was stopped']);
    // Both sleeps are gone (or at most a zombie waiting for its reaper).
    const alive = (pid: number) => {
      try {
        return !/^\d+ \(.*\) Z/.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
      } catch {
        return false;
      }
    };
    await new Promise(res => setTimeout(res, 300));
    expect(alive(child)).toBe(false);
    expect(r.stderr).toContain('redlab: cancelling (stopping the command;');
    expect(r.stderr.split('\n')).not.toContain('never');
    expect(fs.readFileSync(path.join(dir, 'out', 'said.txt'), 'utf8')).toBe(`child ${child}\n`);
  });
});
