// On a real Docker engine: a work root another account owns, or that group/others may
// write, is refused before any container is made (it could swap a run's folder and
// forge its outputs); without one given, the engine works in a per-user 0700 folder.
import { randomUUID } from 'crypto';
import { chmod, chown, mkdir, readdir, stat, writeFile } from 'fs/promises';
import * as path from 'path';
import { DockerEngine } from '../../src/engine/docker';
import { BUSYBOX, TEST_LABEL, containersWithLabel, dockerTestFile, request, tempDir } from '../helpers/red';

// Real containers: seconds each, and much longer on a loaded machine than jest's default 5 s.
jest.setTimeout(60_000);

const { docker, testId, labels } = dockerTestFile();
const uid = process.getuid!();

let dir: string;
beforeEach(async () => {
  dir = await tempDir('redlab-workroot-it-');
  await writeFile(path.join(dir, 'in.txt'), 'hello\n');
});

const catRed = `redVersion: "9"
cli:
  cwlVersion: v1.0
  class: CommandLineTool
  baseCommand: cat
  inputs:
    x: {type: File, inputBinding: {position: 1}}
  outputs:
    seen: {type: stdout}
  stdout: seen.txt
inputs:
  x:
    class: File
    connector: {command: redlab-connector-local, access: {path: in.txt}}
container:
  engine: docker
  settings:
    image: {url: "${BUSYBOX}"}
    ram: 256
`;

describe('the work root (real Docker engine)', () => {
  (uid === 0 ? it : it.skip)('one another account owns is refused, naming it and the fix, before any container', async () => {
    const workRoot = path.join(dir, 'redlab-runs');
    await mkdir(workRoot, { mode: 0o700 });
    await chown(workRoot, 65534, 65534);
    const res = await new DockerEngine({ workRoot }).run(request(catRed, dir, { labels }), {});
    expect(res.state).toBe('failed');
    expect(res.error).toBe(
      `the work folder ${workRoot} is not private: ${workRoot} is owned by uid 65534, not by you (uid ${uid}), so another account could swap what RED Lab reads and writes there; ` +
        'choose a folder only you can write (redlab run --work-root DIR or REDLAB_WORK_ROOT; the bridge keeps its work folder under --data-dir), or remove this one'
    );
    expect(await readdir(workRoot)).toEqual([]);
    expect(await containersWithLabel(docker, TEST_LABEL, testId)).toEqual([]);
  });

  it('one writable by others is refused', async () => {
    const workRoot = path.join(dir, 'redlab-runs');
    await mkdir(workRoot);
    await chmod(workRoot, 0o777);
    const res = await new DockerEngine({ workRoot }).run(request(catRed, dir, { labels }), {});
    expect(res.state).toBe('failed');
    expect(res.error).toContain(`the work folder ${workRoot} is not private: ${workRoot} is writable by others (mode 777; chmod 700 ${workRoot} if it is yours)`);
    expect(await readdir(workRoot)).toEqual([]);
  });

  it('by default is per user (XDG_CACHE_HOME/redlab/runs), made 0700, and runs there', async () => {
    const saved = process.env.XDG_CACHE_HOME;
    process.env.XDG_CACHE_HOME = path.join(dir, 'cache');
    try {
      const engine = new DockerEngine({ keepWorkDir: 'always' });
      expect(engine.workRoot).toBe(path.join(dir, 'cache', 'redlab', 'runs'));
      const runId = randomUUID();
      const res = await engine.run(request(catRed, dir, { labels, runId }), {});
      expect(res.error).toBeUndefined();
      expect(res.state).toBe('succeeded');
      const st = await stat(engine.workRoot);
      expect([st.mode & 0o777, st.uid]).toEqual([0o700, uid]);
      // The batch worked there (kept: keepWorkDir 'always'), its run folder private too.
      expect(res.batches[0].inputs.x).toMatchObject({ path: path.join(engine.workRoot, runId, 'batch-0', 'inputs', 'x', 'x') });
      expect((await stat(path.join(engine.workRoot, runId))).mode & 0o777).toBe(0o700);
    } finally {
      if (saved === undefined) delete process.env.XDG_CACHE_HOME;
      else process.env.XDG_CACHE_HOME = saved;
    }
  });
});
