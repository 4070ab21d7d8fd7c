// Image builds: spec and context checks (no Docker), then real builds on the local
// Docker engine from the redlab/busybox:1 and redlab/debian-python:12 base images
// (.ci/base-images.sh). Every image built here is removed in afterAll.
import { execFileSync } from 'child_process';
import { randomBytes } from 'crypto';
import Docker from 'dockerode';
import * as fs from 'fs';
import * as path from 'path';
import * as tar from 'tar-stream';
import * as zlib from 'zlib';
import {
  BuildError,
  BuildSpecError,
  DOCKERFILE_NAME,
  buildImage,
  environmentDockerfile,
  listImages,
  normalizeContextPath,
  parseAptTxt,
  prepareBuild,
  type BuildOptions,
  type BuildProgressEvent,
  type BuildResult,
  type BuildSpec,
  type ContextFile
} from '../../src/images';

const fixtures = path.join(__dirname, 'fixtures/images');
const docker = new Docker();
const noDocker = new Proxy({}, { get: () => { throw new Error('Docker must not be called'); } }) as Docker;
const built = new Set<string>();
/** Image IDs (short) of every layer our builds made, from ` ---> <id>` lines: failed builds leave some behind. */
const layers = new Set<string>();

/** buildImage on the real engine, noting the layers it makes for afterAll. */
function build(spec: BuildSpec, opts: BuildOptions = {}): Promise<BuildResult> {
  return buildImage(docker, spec, {
    ...opts,
    onProgress: e => {
      const m = /^ ---> ([0-9a-f]{12})$/.exec(e.line);
      if (m) layers.add(m[1]);
      opts.onProgress?.(e);
    }
  }).then(r => (built.add(r.tag), r));
}

/** The fixture folder as context files (scripts executable, whatever git kept). */
function fixtureContext(dir: string): { dockerfile: string; files: ContextFile[] } {
  const files: ContextFile[] = [];
  const walk = (rel: string) => {
    for (const e of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) walk(r);
      else if (r !== 'Dockerfile') files.push({ path: r, content: fs.readFileSync(path.join(dir, r)), mode: r.endsWith('.sh') ? 0o755 : 0o644 });
    }
  };
  walk('');
  return { dockerfile: fs.readFileSync(path.join(dir, 'Dockerfile'), 'utf8'), files };
}

async function tarOf(entries: { name: string; content?: string | Buffer; mode?: number; type?: 'file' | 'directory' | 'symlink'; linkname?: string }[]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  const done = new Promise<Buffer>(resolve => {
    pack.on('data', (c: unknown) => void chunks.push(c as Buffer));
    pack.on('end', () => resolve(Buffer.concat(chunks)));
  });
  for (const e of entries) pack.entry({ name: e.name, mode: e.mode ?? 0o644, type: e.type ?? 'file', linkname: e.linkname }, e.content ?? '');
  pack.finalize();
  return done;
}

async function specError(p: Promise<unknown>): Promise<string> {
  const err = await p.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(BuildSpecError);
  return (err as Error).message;
}

async function buildError(p: Promise<BuildResult>): Promise<BuildError> {
  const err = await p.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(BuildError);
  return err as BuildError;
}

function dockerRun(image: string, ...cmd: string[]): string {
  return execFileSync('docker', ['run', '--rm', image, ...cmd], { encoding: 'utf8', timeout: 60_000 });
}

async function tagExists(tag: string): Promise<boolean> {
  return docker.getImage(tag).inspect().then(() => true, (e: { statusCode?: number }) => (e.statusCode === 404 ? false : Promise.reject(e)));
}

afterAll(async () => {
  for (const tag of built) await docker.getImage(tag).remove({ force: true }).catch(() => undefined);
  // Layers left untagged (failed builds, images replaced by a rebuild), newest first;
  // tagged ones (the base images) and ones still in use stay.
  for (const id of [...layers].reverse()) {
    const info = await docker.getImage(id).inspect().catch(() => undefined);
    if (info && !(info.RepoTags ?? []).some(t => !t.startsWith('<none>'))) await docker.getImage(id).remove().catch(() => undefined);
  }
});

describe('specs and contexts (refused before Docker is asked)', () => {
  test('context paths are normalised; absolute, .., backslash, empty and reserved paths are refused with clear messages', async () => {
    expect(normalizeContextPath('./src//a.py')).toBe('src/a.py');
    expect(normalizeContextPath('data/')).toBe('data');
    const cases: [string, RegExp][] = [
      ['/etc/passwd', /"\/etc\/passwd" is absolute/],
      ['../secret', /"\.\.\/secret" contains '\.\.'/],
      ['a/../../b', /contains '\.\.': paths must stay inside the context/],
      ['C:/x', /is absolute/],
      ['a\\b', /backslash/],
      ['', /empty/],
      ['./', /names the context root/],
      [DOCKERFILE_NAME, /reserved/]
    ];
    for (const [p, msg] of cases) {
      expect(await specError(buildImage(noDocker, { dockerfile: 'FROM redlab/busybox:1\n', context: [{ path: p, content: 'x' }] }))).toMatch(msg);
    }
    expect(await specError(buildImage(noDocker, { dockerfile: 'FROM x\n', context: [{ path: 'a', content: '1' }, { path: './a', content: '2' }] }))).toBe('build context path a appears twice');
    expect(await specError(buildImage(noDocker, { dockerfile: 'FROM x\n', context: [{ path: 'a', content: '1' }, { path: 'a/b', content: '2' }] }))).toMatch('build context path a is a file and also a folder (of a/b)');
    expect(await specError(buildImage(noDocker, { dockerfile: 'FROM x\n', context: [{ path: 'run.sh', content: '1', mode: 0o100000 }] }))).toMatch(/mode must be permission bits/);
  });

  test('tar contexts: escaping paths, links and devices are refused', async () => {
    const evil = await tarOf([{ name: 'ok.txt', content: 'fine' }, { name: '../evil.txt', content: 'x' }]);
    expect(await specError(buildImage(noDocker, { dockerfile: 'FROM x\n', context: evil }))).toMatch(`"../evil.txt" contains '..'`);
    const abs = await tarOf([{ name: '/etc/cron.d/x', content: 'x' }]);
    expect(await specError(buildImage(noDocker, { dockerfile: 'FROM x\n', context: abs }))).toMatch('is absolute');
    const link = await tarOf([{ name: 'passwd', type: 'symlink', linkname: '/etc/passwd' }]);
    expect(await specError(buildImage(noDocker, { dockerfile: 'FROM x\n', context: link }))).toBe(
      'build context entry "passwd" is a symbolic link (to /etc/passwd): only regular files and folders are supported'
    );
    expect(await specError(buildImage(noDocker, { dockerfile: 'FROM x\n', context: Buffer.from('not a tar archive, clearly '.repeat(30)) }))).toMatch(/not a valid tar archive/);
  });

  test('size limits: Dockerfile over 1 MB, context over the limit, a gzip that unpacks past it', async () => {
    const big = 'FROM redlab/busybox:1\n' + `# ${'x'.repeat(1024 * 1024)}\n`;
    expect(await specError(buildImage(noDocker, { dockerfile: big }))).toMatch(/^the Dockerfile is 1048\d{3} bytes, more than the limit of 1048576 \(1 MB\)$/);
    const files = [{ path: 'a.bin', content: Buffer.alloc(700) }, { path: 'b.bin', content: Buffer.alloc(700) }];
    expect(await specError(buildImage(noDocker, { dockerfile: 'FROM x\n', context: files }, { maxContextBytes: 1000 }))).toBe(
      'the build context is 1400 bytes, more than the limit of 1000 bytes'
    );
    const bomb = zlib.gzipSync(await tarOf([{ name: 'zeros', content: Buffer.alloc(5 * 1024 * 1024) }]));
    expect(bomb.length).toBeLessThan(64 * 1024);
    expect(await specError(buildImage(noDocker, { dockerfile: 'FROM x\n', context: bomb }, { maxContextBytes: 1024 * 1024 }))).toMatch(/unpacks to more than the limit of 1\.0 MB/);
  });

  test('the tag hashes Dockerfile and context: same content in any form gives the same tag, any change another', async () => {
    const { dockerfile, files } = fixtureContext(path.join(fixtures, 'app'));
    const a = await prepareBuild({ dockerfile, context: files });
    expect(a.tag).toMatch(/^redlab-build:[0-9a-f]{16}$/);
    expect(a.tag).toBe(`redlab-build:${a.hash.slice(0, 16)}`);
    const entries = files.map(f => ({ name: './' + f.path, content: f.content as Buffer, mode: f.mode }));
    const asTar = await tarOf([{ name: './', type: 'directory', mode: 0o755 }, ...entries.reverse()]);
    expect((await prepareBuild({ dockerfile, context: asTar })).tag).toBe(a.tag);
    expect((await prepareBuild({ dockerfile, context: zlib.gzipSync(asTar) })).tag).toBe(a.tag);
    expect((await prepareBuild({ dockerfile, context: [...files].reverse() })).tag).toBe(a.tag);

    const changed = (i: number, f: Partial<ContextFile>) => files.map((x, j) => (j === i ? { ...x, ...f } : x));
    const tags = new Set([
      a.tag,
      (await prepareBuild({ dockerfile: dockerfile + '\n', context: files })).tag,
      (await prepareBuild({ dockerfile, context: changed(0, { content: Buffer.concat([files[0].content as Buffer, Buffer.from(' ')]) }) })).tag,
      (await prepareBuild({ dockerfile, context: changed(1, { mode: 0o644 }) })).tag,
      (await prepareBuild({ dockerfile, context: changed(0, { path: 'hello2.txt' }) })).tag,
      (await prepareBuild({ dockerfile })).tag
    ]);
    expect(tags.size).toBe(6);
  });

  test('environment specs become a Dockerfile: apt, then conda, then pip; apt names are checked', () => {
    const env = environmentDockerfile({ baseImage: 'redlab/debian-python:12', environment: { aptTxt: '# tools\njq  curl\n\ncurl   # again\nlibssl3:amd64 python3-pip=23.0.1+dfsg-1\n' } });
    expect(env.files).toEqual([]);
    expect(env.dockerfile).toBe(
      '# Generated by RED Lab from an environment spec.\n' +
        'FROM redlab/debian-python:12\n' +
        'RUN if ! command -v apt-get >/dev/null 2>&1; then echo "redlab: apt.txt needs a Debian or Ubuntu based image (with apt-get); redlab/debian-python:12 has none" >&2; exit 1; fi && ' +
        'apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends jq curl libssl3:amd64 python3-pip=23.0.1+dfsg-1 && rm -rf /var/lib/apt/lists/*\n'
    );

    const all = environmentDockerfile(
      { baseImage: 'mambaorg/micromamba:1.5', environment: { requirementsTxt: 'numpy==2.1\n', environmentYml: 'dependencies:\n  - python=3.12\n', aptTxt: 'git\n' } },
      { baseUser: 'mambauser' }
    );
    const lines = all.dockerfile.trimEnd().split('\n');
    expect(lines[1]).toBe('FROM mambaorg/micromamba:1.5');
    expect(lines[2]).toBe('USER root');
    expect(lines[3]).toMatch(/^RUN .*apt-get install -y --no-install-recommends git && /);
    expect(lines[4]).toBe('COPY .redlab-env/environment.yml /tmp/redlab-env/environment.yml');
    expect(lines[5]).toMatch(/^RUN if command -v micromamba .* then micromamba install -y -n base -f \/tmp\/redlab-env\/environment.yml .* elif command -v mamba .* mamba env update -n base -f .* elif command -v conda .* conda env update -n base -f .* else echo "redlab: environment.yml needs micromamba, mamba or conda/);
    expect(lines[6]).toBe('COPY .redlab-env/requirements.txt /tmp/redlab-env/requirements.txt');
    expect(lines[7]).toMatch(/PIP_BREAK_SYSTEM_PACKAGES=1 \$PIP install --no-cache-dir -r \/tmp\/redlab-env\/requirements.txt$/);
    expect(lines[8]).toBe('USER mambauser');
    expect(all.files).toEqual([
      { path: '.redlab-env/environment.yml', content: 'dependencies:\n  - python=3.12\n' },
      { path: '.redlab-env/requirements.txt', content: 'numpy==2.1\n' }
    ]);
    expect(environmentDockerfile({ baseImage: 'python:3.12', environment: { requirementsTxt: '' } }, { baseUser: 'root' }).dockerfile).not.toMatch(/USER/);

    expect(parseAptTxt('a\n\n  # c\nb c\n')).toEqual(['a', 'b', 'c']);
    expect(() => parseAptTxt('jq\ncurl; rm -rf /\n')).toThrow('apt.txt line 2: "curl;" is not a Debian package name');
    expect(() => parseAptTxt('$(reboot)')).toThrow(BuildSpecError);
    expect(() => environmentDockerfile({ baseImage: 'busybox\nRUN rm -rf /', environment: { aptTxt: 'jq' } })).toThrow(/is not an image reference/);
    expect(() => environmentDockerfile({ baseImage: 'busybox', environment: { aptTxt: '# nothing\n' } })).toThrow(/needs at least one of/);
  });
});

describe('builds on the local Docker engine', () => {
  jest.setTimeout(120_000);
  const nonce = randomBytes(6).toString('hex'); // a crashed earlier run cannot leave our tags behind

  test('Dockerfile + context: progress by step, the files are in the image, a rebuild is cached at once', async () => {
    const { dockerfile, files } = fixtureContext(path.join(fixtures, 'app'));
    const context = [...files, { path: 'nonce.txt', content: nonce }];
    const progress: BuildProgressEvent[] = [];
    // noCache: Docker's layer cache would otherwise skip the RUN an earlier test run made.
    const first = await build({ dockerfile, context }, { onProgress: e => progress.push(e), labels: { 'org.example.test': nonce }, noCache: true });
    expect(first).toMatchObject({ cached: false, dockerfile });
    expect(first.id).toMatch(/^sha256:[0-9a-f]{64}$/);

    const steps = [...new Set(progress.map(e => e.step))];
    expect(steps.slice(0, 4)).toEqual([
      'Step 1/6 : FROM redlab/busybox:1',
      'Step 2/6 : COPY hello.txt /data/hello.txt',
      'Step 3/6 : COPY scripts/ /opt/scripts/',
      'Step 4/6 : RUN /opt/scripts/make-copy.sh && echo "build step ran"'
    ]);
    const hello = fs.readFileSync(path.join(fixtures, 'app/hello.txt'));
    const runLines = progress.filter(e => e.stepIndex === 4).map(e => e.line);
    expect(runLines).toEqual(expect.arrayContaining([`copied ${hello.length} bytes`, 'build step ran']));
    expect(progress.find(e => e.line === 'build step ran')).toMatchObject({ type: 'build-progress', stepIndex: 4, stepCount: 6 });

    expect(dockerRun(first.tag, 'cat', '/data/copy.txt')).toBe(hello.toString('utf8'));
    expect(dockerRun(first.tag, 'stat', '-c', '%a', '/opt/scripts/make-copy.sh').trim()).toBe('755');
    const inspect = await docker.getImage(first.tag).inspect();
    expect(inspect.Id).toBe(first.id);
    expect(inspect.Config.Labels).toMatchObject({ 'redlab.build': '1', 'org.example.test': nonce });

    const calls: BuildProgressEvent[] = [];
    const t0 = Date.now();
    const again = await build({ dockerfile, context: [...context].reverse() }, { onProgress: e => calls.push(e) });
    const ms = Date.now() - t0;
    expect(again).toEqual({ tag: first.tag, id: first.id, cached: true, dockerfile });
    expect(ms).toBeLessThan(1000);
    expect(calls).toEqual([]); // no build ran
    expect((await docker.getImage(first.tag).inspect()).Created).toBe(inspect.Created);

    const forced = await build({ dockerfile, context }, { force: true });
    expect(forced).toMatchObject({ tag: first.tag, cached: false });

    const images = await listImages(docker, { builtOnly: true });
    expect(images.find(i => i.tags.includes(first.tag))).toMatchObject({ labels: expect.objectContaining({ 'redlab.build': '1' }) });
    expect(images.some(i => i.tags.includes('redlab/busybox:1'))).toBe(false);
  });

  test('a failing RUN step is a BuildError naming the step, with its output', async () => {
    const dockerfile = `FROM redlab/busybox:1\nRUN echo "compiling ${nonce}" && echo "error: libfoo not found" >&2 && exit 3\n`;
    const progress: string[] = [];
    const err = await buildError(build({ dockerfile }, { onProgress: e => progress.push(e.line) }));
    expect(err.step).toBe(`Step 2/3 : RUN echo "compiling ${nonce}" && echo "error: libfoo not found" >&2 && exit 3`);
    expect(err.dockerError).toMatch(/returned a non-zero code: 3/);
    expect([...err.output].sort()).toEqual([`compiling ${nonce}`, 'error: libfoo not found']); // stdout and stderr, no builder chatter
    expect(err.message).toContain(`image build failed at ${err.step}: `);
    expect(err.message).toContain('error: libfoo not found');
    expect(err.dockerfile).toBe(dockerfile);
    expect(progress).toContain('error: libfoo not found'); // streamed as plain text (Docker colours stderr)
    expect(await tagExists((await prepareBuild({ dockerfile })).tag)).toBe(false);

    const parse = await buildError(build({ dockerfile: `FROM redlab/busybox:1\nFROBNICATE ${nonce}\n` }));
    expect(parse.step).toBeUndefined();
    expect(parse.message).toMatch(/^image build failed: dockerfile parse error line 2: unknown instruction: FROBNICATE/i);

    const noBase = await buildError(build({ dockerfile: `FROM redlab/not-here-${nonce}:1\n` }));
    expect(noBase.step).toBe(`Step 1/2 : FROM redlab/not-here-${nonce}:1`);
  });

  test('environment specs say clearly what the base image lacks', async () => {
    const pip = await buildError(build({ baseImage: 'redlab/busybox:1', environment: { requirementsTxt: `# ${nonce}\nrequests\n` } }));
    expect(pip.step).toMatch(/^Step 3\/4 : RUN if command -v pip /);
    expect(pip.output).toContain('redlab: requirements.txt needs pip in the base image, and redlab/busybox:1 has none; add python3-pip to apt.txt or use a Python image such as python:3.12-slim');

    const conda = await buildError(build({ baseImage: 'redlab/debian-python:12', environment: { environmentYml: `name: x # ${nonce}\n` } }));
    expect(conda.output.join('\n')).toMatch(/redlab: environment\.yml needs micromamba, mamba or conda in the base image, and redlab\/debian-python:12 has none of them/);

    const apt = await buildError(build({ baseImage: 'redlab/busybox:1', environment: { aptTxt: `jq\n# ${nonce}\n` } }));
    expect(apt.output).toContain('redlab: apt.txt needs a Debian or Ubuntu based image (with apt-get); redlab/busybox:1 has none');
  });

  test('an apt.txt environment on redlab/debian-python:12 builds when a Debian mirror is reachable', async () => {
    const spec = { baseImage: 'redlab/debian-python:12', environment: { aptTxt: `jq\n# ${nonce}\n` } };
    const res: unknown = await build(spec, { noCache: true }).catch((e: unknown) => e);
    if (res instanceof BuildError) {
      // No mirror from inside containers: the error must point at the apt step and say why.
      expect(res.step).toMatch(/^Step 2\/3 : RUN .*apt-get update/);
      expect(res.output.join('\n')).toMatch(/Temporary failure resolving|Could not resolve|Failed to fetch|Unable to locate/);
      return;
    }
    expect(res).toMatchObject({ cached: false });
    expect(dockerRun((res as BuildResult).tag, 'jq', '-n', '1+1').trim()).toBe('2');
  }, 300_000);

  test('aborting stops the build: the promise rejects at once and no image is tagged', async () => {
    const dockerfile = `FROM redlab/busybox:1\nRUN echo started-${nonce} && sleep 60\n`;
    const ac = new AbortController();
    const t0 = Date.now();
    const p = build({ dockerfile }, { signal: ac.signal, onProgress: e => e.line === `started-${nonce}` && ac.abort() });
    const err = await p.then(() => undefined, (e: Error) => e);
    expect(err).toMatchObject({ name: 'AbortError' });
    expect(Date.now() - t0).toBeLessThan(15_000);
    expect(await tagExists((await prepareBuild({ dockerfile })).tag)).toBe(false);
    // Docker cancels the build when the connection goes: its container goes away.
    let left = 1;
    for (let i = 0; i < 40 && left; i++) {
      const cs = await docker.listContainers({ all: true });
      left = cs.filter(c => c.Command.includes(`started-${nonce}`)).length;
      if (left) await new Promise(r => setTimeout(r, 250));
    }
    expect(left).toBe(0);
    await expect(build({ dockerfile }, { signal: AbortSignal.abort() })).rejects.toMatchObject({ name: 'AbortError' });
  });

  test('listImages: local named images, no dangling ones', async () => {
    const images = await listImages(docker);
    const busybox = images.find(i => i.tags.includes('redlab/busybox:1'));
    expect(busybox).toBeDefined();
    expect(busybox!.id).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(busybox!.size).toBeGreaterThan(0);
    expect(busybox!.created).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(images.every(i => i.tags.length > 0 || i.digest)).toBe(true);
    expect(images.flatMap(i => i.tags).some(t => t.startsWith('<none>'))).toBe(false);
    const created = images.map(i => i.created);
    expect([...created].sort().reverse()).toEqual(created);
  });
});
