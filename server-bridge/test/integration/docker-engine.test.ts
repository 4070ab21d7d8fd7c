// The Docker engine against the real local Docker engine: inputs over HTTP and
// from local folders, stdout/stderr outputs, optional inputs/outputs, output
// connectors, labels, cleanup.
import { createHash, randomUUID } from 'crypto';
import { mkdir, readFile, readdir, writeFile } from 'fs/promises';
import * as path from 'path';
import { DockerEngine } from '../../src/engine/docker';
import { BUSYBOX, PYTHON, TEST_LABEL, collectEvents, containersWithLabel, dockerTestFile, request, tempDir } from '../helpers/red';
import { loopbackConnectors, startTestServer, type TestServer } from '../helpers/http-server';
import { mountUnavailable } from '../../src/connectors/mounts';

// Real containers: seconds each, and much longer on a loaded machine than jest's default 5 s.
jest.setTimeout(60_000);

const sha256 = (s: string | Buffer) => createHash('sha256').update(s).digest('hex');
const sha1 = (s: string | Buffer) => createHash('sha1').update(s).digest('hex');
const { docker, testId, labels } = dockerTestFile();
const TEXT = 'alpha hello\nbeta\nhello gamma\ndelta\n';

let server: TestServer;
let dir: string;
let workRoot: string;
beforeAll(async () => {
  server = await startTestServer({ files: { '/data/text.txt': TEXT, '/ds/one.txt': 'one\n', '/ds/sub/two.txt': 'two\n' } });
});
beforeEach(async () => {
  dir = await tempDir('redlab-it-');
  workRoot = path.join(dir, 'work');
});
afterAll(() => server.close());

const grepRed = (extraInputs = '', url = `${server.url}/data/text.txt`) => `redVersion: "9"
cli:
  cwlVersion: v1.0
  class: CommandLineTool
  baseCommand: grep
  inputs:
    pattern: {type: string, inputBinding: {position: 0}}
    file: {type: File, inputBinding: {position: 1}}
  outputs:
    matches: {type: stdout}
    errors: {type: stderr}
  stdout: matches.txt
  stderr: errors.txt
inputs:
  pattern: hello
  file:
    class: File
    checksum: sha1$${sha1(TEXT)}
    size: ${TEXT.length}
    connector:
      command: red-connector-http
      access: {url: "${url}"}
${extraInputs}container:
  engine: docker
  settings:
    image: {url: "${BUSYBOX}"}
    ram: 256
`;

describe('DockerEngine on a real Docker engine', () => {
  it('runs grep on an HTTP input and records stdout/stderr outputs', async () => {
    const ev = collectEvents();
    const engine = new DockerEngine({ connectors: loopbackConnectors(), workRoot });
    expect(engine.name).toBe('docker');
    expect(engine.capabilities).toEqual({
      isolated: true,
      gpus: true,
      gpusByMemory: true,
      batches: true,
      cancel: true,
      inputConnectors: ['red-connector-http', 'redlab-connector-local', 'red-connector-ftp', 'red-connector-ssh', 'red-connector-http-archive', 'red-connector-http-json', 'redlab-connector-s3'],
      outputConnectors: ['red-connector-http', 'red-connector-ftp', 'red-connector-ssh', 'red-connector-http-json', 'redlab-connector-s3'],
      // Where this host has FUSE and sshfs/httpdirfs (.ci/setup installs them).
      mountConnectors: mountUnavailable('sshfs') || mountUnavailable('httpdirfs') ? expect.any(Array) : ['red-connector-http', 'red-connector-ssh'],
      imagePull: true,
      imageBuilds: true,
      bindMounts: true,
      reattach: true,
      stats: true,
      sessions: true
    });
    // What it declares it has, it has: recovery for reattach, images for image builds, sessions.
    expect(typeof engine.recovery.resumeBatch).toBe('function');
    expect(typeof engine.images.build).toBe('function');
    expect(typeof engine.sessions?.start).toBe('function');
    expect(await engine.status()).toMatchObject({ available: true, version: expect.any(String) });
    const res = await engine.run(request(grepRed(), dir, { labels }), { onEvent: ev.onEvent });
    expect(res.error).toBeUndefined();
    expect(res.state).toBe('succeeded');
    expect(res.exitCode).toBe(0);
    expect(res.command).toEqual(['grep', 'hello', '/cc/inputs/file/file']);
    const local = await docker.getImage(BUSYBOX).inspect();
    expect(res.image).toEqual({ url: BUSYBOX, id: local.Id, pulled: false });

    const expected = 'alpha hello\nhello gamma\n';
    const outdir = path.join(dir, 'outputs');
    expect(await readFile(path.join(outdir, 'matches.txt'), 'utf8')).toBe(expected);
    expect(res.outputs!.matches).toEqual({ path: path.join(outdir, 'matches.txt'), containerPath: '/cc/outputs/matches.txt', class: 'File', size: expected.length, sha256: sha256(expected) });
    expect(res.outputs!.errors).toEqual({ path: path.join(outdir, 'errors.txt'), containerPath: '/cc/outputs/errors.txt', class: 'File', size: 0, sha256: sha256('') });
    expect((await readdir(outdir)).sort()).toEqual(['errors.txt', 'matches.txt']);
    expect(res.inputs!.file).toMatchObject({ containerPath: '/cc/inputs/file/file', class: 'File', size: TEXT.length, sha256: sha256(TEXT) });

    // Live logs, phases in order, batch states.
    expect(ev.logs('stdout', 0)).toBe(expected);
    const seq = ev.events.filter(e => e.type === 'phase').map(e => (e.type === 'phase' ? `${e.phase}:${e.status}` : ''));
    expect(seq).toEqual(['pull:start', 'pull:end', 'staging:start', 'staging:end', 'running:start', 'running:end', 'collecting:start', 'collecting:end']);
    expect(ev.events.filter(e => e.type === 'batch-state').map(e => (e.type === 'batch-state' ? e.state : ''))).toEqual(['preparing', 'running', 'collecting', 'succeeded']);
    for (const p of ['pull', 'staging', 'running', 'collecting'] as const) expect(res.timings[p]).toBeGreaterThanOrEqual(0);
    expect(res.timings.total).toBeGreaterThanOrEqual(res.timings.running!);

    // The container is gone, and the work folder with it (success).
    expect(await containersWithLabel(docker, TEST_LABEL, testId)).toEqual([]);
    expect(await readdir(workRoot)).toEqual([]);
  });

  it('creates the container locked down, labelled, with read-only inputs (leaveContainer keeps it)', async () => {
    const runId = `it-${randomUUID()}`;
    const res = await new DockerEngine({ connectors: loopbackConnectors(), workRoot }).run(request(grepRed(), dir, { labels, leaveContainer: true, runId }), {});
    expect(res.state).toBe('succeeded');
    const id = res.batches[0].containerId!;
    const info = await docker.getContainer(id).inspect();
    try {
      expect(info.Config.Labels).toMatchObject({ 'org.redlab.managed': 'true', 'org.redlab.run': runId, 'org.redlab.batch': '0', [TEST_LABEL]: testId });
      expect(info.Config.WorkingDir).toBe('/cc/outputs');
      expect(info.Config.Cmd).toEqual(['grep', 'hello', '/cc/inputs/file/file']);
      expect(info.HostConfig.CapDrop).toEqual(['ALL']);
      expect(info.HostConfig.SecurityOpt).toEqual(['no-new-privileges']);
      expect(info.HostConfig.Memory).toBe(256 * 1024 * 1024);
      expect(info.HostConfig.MemorySwap).toBe(256 * 1024 * 1024);
      expect(info.HostConfig.PidsLimit).toBe(4096);
      expect(info.HostConfig.Privileged).toBe(false);
      expect(info.HostConfig.Init).toBe(true);
      const mounts = info.Mounts.map(m => `${m.Destination}:${m.RW ? 'rw' : 'ro'}`).sort();
      expect(mounts).toEqual(['/cc/inputs/file/file:ro', '/cc/outputs:rw']);
    } finally {
      await docker.getContainer(id).remove({ force: true });
    }
  });

  it('pins a local folder (a read-only copy in the batch\'s work folder) and fetches an HTTP Directory from its listing', async () => {
    const data = path.join(dir, 'data');
    await mkdir(data);
    await writeFile(path.join(data, 'local.txt'), 'local one\nlocal two\n');
    const red = `redVersion: "9"
cli:
  cwlVersion: v1.0
  class: CommandLineTool
  baseCommand: [sh, -c]
  inputs:
    script: {type: string, inputBinding: {position: 0}}
    localdir: {type: Directory, inputBinding: {position: 1}}
    remote: {type: Directory, inputBinding: {position: 2}}
  outputs:
    listing: {type: File, outputBinding: {glob: report.txt}}
inputs:
  script: 'ls "$0" > report.txt; cat "$1"/one.txt "$1"/sub/two.txt >> report.txt; touch "$0"/x 2>> report.txt || echo readonly >> report.txt'
  localdir:
    class: Directory
    connector: {command: redlab-connector-local, access: {path: data}}
  remote:
    class: Directory
    basename: ds
    connector: {command: red-connector-http, access: {url: "${server.url}/ds"}}
    listing:
      - {class: File, basename: one.txt}
      - {class: Directory, basename: sub, listing: [{class: File, basename: two.txt}]}
container:
  engine: docker
  settings:
    image: {url: "${BUSYBOX}"}
`;
    const ev = collectEvents();
    const runId = `it-${randomUUID()}`;
    const res = await new DockerEngine({ connectors: loopbackConnectors(), workRoot }).run(request(red, dir, { labels, runId }), { onEvent: ev.onEvent });
    expect(res.error).toBeUndefined();
    expect(res.command).toEqual(['sh', '-c', expect.stringContaining('ls "$0"'), '/cc/inputs/localdir/localdir', '/cc/inputs/remote/ds']);
    const report = await readFile(path.join(dir, 'outputs', 'report.txt'), 'utf8');
    expect(report.split('\n').slice(0, 3)).toEqual(['local.txt', 'one', 'two']);
    expect(report).toMatch(/Read-only file system\nreadonly\n$/);
    // Pinned, not bound in place (a path checked and then bound could be swapped for a link): the record
    // names the copy the container saw and hashed, in the batch's work folder.
    expect(res.inputs!.localdir).toEqual({
      path: path.join(workRoot, runId, 'batch-0', 'inputs', 'localdir', 'localdir'),
      containerPath: '/cc/inputs/localdir/localdir',
      class: 'Directory',
      size: 20,
      sha256: sha256(`local.txt\0${sha256('local one\nlocal two\n')}\n`)
    });
    expect(res.inputs!.remote).toMatchObject({ class: 'Directory', size: 8, containerPath: '/cc/inputs/remote/ds' });
    // The host folder itself is as it was.
    expect(await readdir(data)).toEqual(['local.txt']);
  });

  it('handles optional inputs and outputs (absent input, missing optional output → null)', async () => {
    const red = `redVersion: "9"
cli:
  cwlVersion: v1.0
  class: CommandLineTool
  baseCommand: [python3, -c]
  inputs:
    script: {type: string, inputBinding: {position: 0}}
    extra: {type: File?, inputBinding: {prefix: --extra}}
    n: {type: int, inputBinding: {prefix: -n}}
  outputs:
    result: {type: File, outputBinding: {glob: result.json}}
    plot: {type: File?, outputBinding: {glob: plot.png}}
    logs: {type: Directory?, outputBinding: {glob: logs}}
inputs:
  script: "import json, sys; json.dump({'argv': sys.argv[1:]}, open('result.json', 'w'))"
  n: 3
container:
  engine: docker
  settings:
    image: {url: "${PYTHON}"}
    ram: 256
`;
    const res = await new DockerEngine({ connectors: loopbackConnectors(), workRoot }).run(request(red, dir, { labels }), {});
    expect(res.error).toBeUndefined();
    expect(res.state).toBe('succeeded');
    expect(res.command).toEqual(['python3', '-c', expect.any(String), '-n', '3']);
    const json = '{"argv": ["-n", "3"]}';
    expect(await readFile(path.join(dir, 'outputs', 'result.json'), 'utf8')).toBe(json);
    expect(res.outputs).toEqual({
      result: { path: path.join(dir, 'outputs', 'result.json'), containerPath: '/cc/outputs/result.json', class: 'File', size: json.length, sha256: sha256(json) },
      plot: null,
      logs: null
    });
    expect(res.inputs).toEqual({});
  });

  it('sends an output through red-connector-http (PUT with basic auth), masking the secret', async () => {
    const up = await startTestServer({ auth: { username: 'uploader', password: 'up-secret-99', method: 'basic' } });
    try {
      const red = `redVersion: "9"
cli:
  cwlVersion: v1.0
  class: CommandLineTool
  baseCommand: [sh, -c]
  inputs:
    script: {type: string, inputBinding: {position: 0}}
  outputs:
    result: {type: File, outputBinding: {glob: result.txt}}
inputs:
  script: 'echo sent > result.txt'
outputs:
  result:
    class: File
    connector:
      command: red-connector-http
      access:
        url: "${up.url}/store/result.txt"
        method: PUT
        auth: {username: uploader, password: up-secret-99}
container:
  engine: docker
  settings:
    image: {url: "${BUSYBOX}"}
`;
      const req = request(red, dir, { labels });
      const res = await new DockerEngine({ connectors: loopbackConnectors(), workRoot }).run(req, {});
      expect(res.error).toBeUndefined();
      expect(up.uploads.get('/store/result.txt')).toEqual({ method: 'PUT', body: Buffer.from('sent\n') });
      expect(res.outputs!.result).toEqual({
        path: `${up.url}/store/result.txt`,
        containerPath: '/cc/outputs/result.txt',
        class: 'File',
        size: 5,
        sha256: sha256('sent\n'),
        connector: 'red-connector-http'
      });
      // Not copied locally when sent.
      await expect(readdir(path.join(dir, 'outputs'))).rejects.toThrow();

      // sendOutputs: false keeps it local instead.
      const local = await new DockerEngine({ connectors: loopbackConnectors(), workRoot }).run(request(red, dir, { labels, sendOutputs: false }), {});
      expect(local.outputs!.result).toMatchObject({ path: path.join(dir, 'outputs', 'result.txt'), size: 5 });
      expect(up.uploads.size).toBe(1);
    } finally {
      await up.close();
    }
  });

  // The engine does not mask: the sinks do (bridge: secrets*.test.ts; CLI: secrets-cli.test.ts).
  it('hands secrets to its caller as they are: in live logs, the command, errors and output data', async () => {
    const red = `redVersion: "9"
cli:
  cwlVersion: v1.0
  class: CommandLineTool
  baseCommand: [sh, -c]
  inputs:
    script: {type: string, inputBinding: {position: 0}}
    token: {type: string, inputBinding: {position: 1}}
  outputs:
    out: {type: stdout}
  stdout: out.txt
inputs:
  script: 'echo "token=$0"; echo "bad $0" >&2; exit 1'
  token: tok-secret-4242
container:
  engine: docker
  settings:
    image: {url: "${BUSYBOX}"}
`;
    const ev = collectEvents();
    const req = request(red, dir, { labels });
    const res = await new DockerEngine({ connectors: loopbackConnectors(), workRoot }).run(req, { onEvent: ev.onEvent });
    expect(res.state).toBe('failed');
    expect(res.command).toEqual(['sh', '-c', 'echo "token=$0"; echo "bad $0" >&2; exit 1', 'tok-secret-4242']);
    expect(ev.logs('stdout')).toBe('token=tok-secret-4242\n');
    expect(ev.logs('stderr')).toBe('bad tok-secret-4242\n');
    expect(res.error).toBe('the command exited with code 1; its stderr ends with:\nbad tok-secret-4242');
    expect(await readFile(path.join(dir, 'outputs', 'out.txt'), 'utf8')).toBe('token=tok-secret-4242\n');
  });

  it('names a generated stdout file as CC does when cli.stdout is absent', async () => {
    const red = `redVersion: "9"
cli:
  cwlVersion: v1.0
  class: CommandLineTool
  baseCommand: [echo, hi]
  inputs: {}
  outputs:
    out: {type: stdout}
inputs: {}
container:
  engine: docker
  settings:
    image: {url: "${BUSYBOX}"}
`;
    const res = await new DockerEngine({ connectors: loopbackConnectors(), workRoot }).run(request(red, dir, { labels }), {});
    expect(res.error).toBeUndefined();
    const rec = res.outputs!.out!;
    expect(path.basename(rec.path)).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(await readFile(rec.path, 'utf8')).toBe('hi\n');
  });
});
