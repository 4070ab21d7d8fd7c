// POST /api/v1/images/build (NDJSON progress, result or error line) and GET /images on
// the real Docker engine, from the local redlab/busybox:1 base image. Images built
// here are removed in afterAll.
import { randomBytes } from 'crypto';
import Docker from 'dockerode';
import * as tar from 'tar-stream';
import * as zlib from 'zlib';
import { BUSYBOX } from '../helpers/red';
import { TOKEN, call, postJson, startHarness, type Harness, type Res } from './helpers/api';

let h: Harness;
/** The test's own view of Docker (cleanup, containers of a build); the bridge reaches it through its engine. */
const docker = new Docker();
const tags = new Set<string>();
const layers = new Set<string>();
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  for (const t of tags) await docker.getImage(t).remove({ force: true }).catch(() => undefined);
  for (const id of [...layers].reverse()) {
    const info = await docker.getImage(id).inspect().catch(() => undefined);
    if (info && !(info.RepoTags ?? []).some(t => !t.startsWith('<none>'))) await docker.getImage(id).remove().catch(() => undefined);
  }
  await h.close();
});

type Line = { type: string; [k: string]: unknown };

/** The NDJSON lines of a build answer, noting tags and layers for cleanup. */
function lines(r: Res): Line[] {
  expect(r.headers.get('content-type')).toBe('application/x-ndjson; charset=utf-8');
  expect(r.text.endsWith('\n')).toBe(true);
  const out = r.text.trimEnd().split('\n').map(l => JSON.parse(l) as Line);
  for (const l of out) {
    const m = /^ ---> ([0-9a-f]{12})$/.exec(String(l.line ?? ''));
    if (m) layers.add(m[1]);
    if (l.type === 'result') tags.add(String(l.tag));
  }
  return out;
}

async function tarOf(files: Record<string, string>, gzip = false): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  const done = new Promise<Buffer>(resolve => {
    pack.on('data', (c: unknown) => void chunks.push(c as Buffer));
    pack.on('end', () => resolve(Buffer.concat(chunks)));
  });
  for (const [name, content] of Object.entries(files)) pack.entry({ name, mode: name.endsWith('.sh') ? 0o755 : 0o644 }, content);
  pack.finalize();
  const t = await done;
  return gzip ? zlib.gzipSync(t) : t;
}

test('JSON spec: progress lines, then the result; the same spec again is cached', async () => {
  const nonce = randomBytes(8).toString('hex');
  const spec = {
    dockerfile: `FROM ${BUSYBOX}\nCOPY hello.txt /hello.txt\nCOPY bin.dat /bin.dat\nRUN cat /hello.txt\n`,
    files: [
      { path: 'hello.txt', content: `hello ${nonce}\n` },
      { path: 'bin.dat', contentBase64: Buffer.from([0, 1, 2, 255]).toString('base64') }
    ]
  };
  const r = await postJson(h.url, '/api/v1/images/build', spec);
  expect(r.status).toBe(200);
  const ls = lines(r);
  const progress = ls.filter(l => l.type === 'build-progress');
  expect(progress.length).toBeGreaterThan(3);
  expect(progress.some(l => l.line === `hello ${nonce}` && /^Step 4\/\d+ : RUN cat \/hello.txt$/.test(String(l.step)))).toBe(true);
  const result = ls.at(-1)!;
  expect(result).toEqual({ type: 'result', tag: expect.stringMatching(/^redlab-build:[0-9a-f]{16}$/), id: expect.stringMatching(/^sha256:/), cached: false, dockerfile: spec.dockerfile });
  expect(ls.filter(l => l.type === 'result')).toHaveLength(1);

  const again = await postJson(h.url, '/api/v1/images/build', spec);
  expect(again.status).toBe(200);
  expect(lines(again)).toEqual([{ ...result, cached: true }]);

  const list = await call(h.url, 'GET', '/api/v1/images');
  expect(list.status).toBe(200);
  expect(list.json.images.find((i: { tags: string[] }) => i.tags.includes(String(result.tag)))).toMatchObject({ id: result.id, labels: { 'redlab.build': '1' } });
  const built = await call(h.url, 'GET', '/api/v1/images?builtOnly=1');
  expect(built.json.images.every((i: { labels: Record<string, string> }) => i.labels['redlab.build'] === '1')).toBe(true);
  expect(built.json.images.some((i: { tags: string[] }) => i.tags.includes(String(result.tag)))).toBe(true);
}, 120_000);

test('a failing build: 200, progress, then an error line with the step and its output', async () => {
  const nonce = randomBytes(8).toString('hex');
  const r = await postJson(h.url, '/api/v1/images/build', { dockerfile: `FROM ${BUSYBOX}\nRUN echo ${nonce}\nRUN echo "about to fail ${nonce}" && exit 3\n` });
  expect(r.status).toBe(200);
  const ls = lines(r);
  const last = ls.at(-1)!;
  expect(last).toMatchObject({
    type: 'error',
    step: expect.stringMatching(new RegExp(`^Step 3/\\d+ : RUN echo "about to fail ${nonce}" && exit 3$`)),
    message: expect.stringMatching(/^image build failed at Step 3\/\d+ : RUN echo .* returned a non-zero code: 3/),
    output: expect.arrayContaining([`about to fail ${nonce}`])
  });
  expect(ls.filter(l => l.type === 'result')).toHaveLength(0);
}, 120_000);

test('a tar archive body (plain and gzipped) with a Dockerfile inside', async () => {
  const nonce = randomBytes(8).toString('hex');
  const files = { Dockerfile: `FROM ${BUSYBOX}\nCOPY app/run.sh /run.sh\nRUN /run.sh\n`, 'app/run.sh': `#!/bin/sh\necho tar-${nonce}\n` };
  const r = await call(h.url, 'POST', '/api/v1/images/build', { body: await tarOf(files), headers: { 'content-type': 'application/x-tar' } });
  expect(r.status).toBe(200);
  const ls = lines(r);
  expect(ls.some(l => l.line === `tar-${nonce}`)).toBe(true);
  expect(ls.at(-1)).toMatchObject({ type: 'result', cached: false });
  const gz = await call(h.url, 'POST', '/api/v1/images/build', { body: await tarOf(files, true), headers: { 'content-type': 'application/gzip' } });
  expect(lines(gz).at(-1)).toMatchObject({ type: 'result', tag: ls.at(-1)!.tag, cached: true });

  const other = await call(h.url, 'POST', '/api/v1/images/build?dockerfile=build/Dockerfile.alt', {
    body: await tarOf({ 'build/Dockerfile.alt': `FROM ${BUSYBOX}\nRUN echo alt-${nonce}\n` }),
    headers: { 'content-type': 'application/x-tar' }
  });
  expect(lines(other).at(-1)).toMatchObject({ type: 'result' });
  const none = await call(h.url, 'POST', '/api/v1/images/build', { body: await tarOf({ 'README.md': 'x' }), headers: { 'content-type': 'application/x-tar' } });
  expect(none.status).toBe(400);
  expect(none.json.error).toMatch(/the archive has no file Dockerfile at its root \(it has: README\.md\)/);
}, 120_000);

test('a client that disconnects cancels its build', async () => {
  const nonce = 3000 + Math.floor(Math.random() * 1000);
  const ac = new AbortController();
  const r = await fetch(`${h.url}/api/v1/images/build`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ dockerfile: `FROM ${BUSYBOX}\nRUN echo started && sleep ${nonce}\n` }),
    signal: ac.signal
  });
  expect(r.status).toBe(200);
  // Read until the step runs, then hang up.
  const reader = r.body!.getReader();
  let text = '';
  while (!text.includes('"line":"started"')) {
    const { value, done } = await reader.read();
    if (done) break;
    text += Buffer.from(value).toString();
  }
  const sleeping = async () => (await docker.listContainers()).filter(c => c.Command.includes(`sleep ${nonce}`));
  // (Docker lists the step's container a moment after its output starts.)
  for (let i = 0; i < 50 && !(await sleeping()).length; i++) await new Promise(res => setTimeout(res, 100));
  expect(await sleeping()).toHaveLength(1);
  ac.abort();
  // Docker stops the build: its container (running `sleep <nonce>`) goes away.
  const t0 = Date.now();
  while ((await sleeping()).length && Date.now() - t0 < 20_000) await new Promise(res => setTimeout(res, 250));
  expect(await sleeping()).toEqual([]);
  for (const m of text.matchAll(/ ---> ([0-9a-f]{12})/g)) layers.add(m[1]);
  // The build slot is free again.
  const after = await call(h.url, 'GET', '/api/v1/health');
  expect(after.status).toBe(200);
}, 60_000);

test('specs refused before Docker is asked: 400 JSON, nothing streamed', async () => {
  const cases: [unknown, RegExp][] = [
    [{ dockerfile: 'FROM x\n', files: [{ path: '../etc/passwd', content: 'x' }] }, /contains '\.\.': paths must stay inside the context/],
    [{ dockerfile: 'FROM x\n', files: [{ path: '/abs', content: 'x' }] }, /is absolute/],
    [{ dockerfile: 'FROM x\n', files: [{ path: 'a', content: 'x', contentBase64: 'eA==' }] }, /exactly one of "content"/],
    [{ dockerfile: 'FROM x\n', files: [{ path: 'a', contentBase64: 'not base64!' }] }, /is not base64/],
    [{ dockerfile: 5 }, /needs "dockerfile"/],
    [{ environment: { aptTxt: 'curl; rm -rf /' }, baseImage: BUSYBOX }, /is not a Debian package name/],
    [{ environment: {}, baseImage: BUSYBOX }, /needs at least one of/],
    [{ environment: { aptTxt: 'curl' }, baseImage: 'x; rm -rf /' }, /is not an image reference/],
    [{ dockerfile: 'FROM x\n', environment: {} }, /not both/],
    [{ dockerfile: 'FROM x\n', privileged: true }, /unknown key "privileged"/]
  ];
  for (const [body, msg] of cases) {
    const r = await postJson(h.url, '/api/v1/images/build', body);
    expect([r.status, r.headers.get('content-type'), r.json?.error]).toEqual([400, 'application/json; charset=utf-8', expect.stringMatching(msg)]);
  }
  const yaml = await call(h.url, 'POST', '/api/v1/images/build', { body: 'dockerfile: x', headers: { 'content-type': 'application/yaml' } });
  expect(yaml.status).toBe(415);
  expect(yaml.json.error).toMatch(/send application\/json or application\/x-tar/);
});

test('a context over the limit: 413 / 400 before Docker is asked', async () => {
  const small = await startHarness({ maxBuildContextBytes: 64 * 1024 });
  try {
    const big = await call(small.url, 'POST', '/api/v1/images/build', { body: Buffer.alloc(200 * 1024), headers: { 'content-type': 'application/x-tar' } });
    expect(big.status).toBe(413);
    const files = await postJson(small.url, '/api/v1/images/build', { dockerfile: 'FROM x\n', files: [{ path: 'a', content: 'x'.repeat(70 * 1024) }] });
    expect(files.status).toBe(400);
    expect(files.json.error).toMatch(/the build context is 71680 bytes, more than the limit of 65536 bytes/);
  } finally {
    await small.close();
  }
});
