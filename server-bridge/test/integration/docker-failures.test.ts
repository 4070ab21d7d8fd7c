// How runs fail on a real Docker engine: non-zero exit, OOM kill, missing image
// with no registry, GPUs Docker cannot give, unsafe outputs, bad inputs, no engine.
import { randomUUID } from 'crypto';
import { readFile, readdir } from 'fs/promises';
import * as path from 'path';
import { DockerEngine } from '../../src/engine/docker';
import { readGpuInventory } from '../../src/engine/gpu';
import { BUSYBOX, PYTHON, TEST_LABEL, collectEvents, containersWithLabel, dockerTestFile, request, tempDir } from '../helpers/red';
import { fakeNvidiaSmi } from '../helpers/fake-nvidia-smi';
import { loopbackConnectors, startTestServer } from '../helpers/http-server';

// Real containers: seconds each, and much longer on a loaded machine than jest's default 5 s.
jest.setTimeout(60_000);

const { docker, testId, labels } = dockerTestFile();
let dir: string;
let workRoot: string;
beforeEach(async () => {
  dir = await tempDir('redlab-it-fail-');
  workRoot = path.join(dir, 'work');
});

const shRed = (script: string, opts: { image?: string; ram?: number; outputs?: string; extra?: string; gpus?: string } = {}) => `redVersion: "9"
cli:
  cwlVersion: v1.0
  class: CommandLineTool
  baseCommand: [sh, -c]
  inputs:
    script: {type: string, inputBinding: {position: 0}}
  outputs:
${opts.outputs ?? '    log: {type: stderr}\n    out: {type: File, outputBinding: {glob: out.txt}}'}
  stderr: err.log
inputs:
  script: '${script}'
${opts.extra ?? ''}container:
  engine: docker
  settings:
    image: {url: "${opts.image ?? BUSYBOX}"}
${opts.ram ? `    ram: ${opts.ram}\n` : ''}${opts.gpus ?? ''}`;

describe('failures on a real Docker engine', () => {
  it('a failing command: exit code, state failed, stderr kept, partial outputs', async () => {
    const ev = collectEvents();
    const runId = `it-${randomUUID()}`;
    const res = await new DockerEngine({ connectors: loopbackConnectors(), workRoot }).run(request(shRed('echo half > out.txt; echo "boom: bad input" >&2; exit 3'), dir, { labels, runId }), { onEvent: ev.onEvent });
    expect(res.state).toBe('failed');
    expect(res.exitCode).toBe(3);
    expect(res.batches[0].oomKilled).toBe(false);
    expect(res.error).toBe('the command exited with code 3; its stderr ends with:\nboom: bad input');
    expect(ev.logs('stderr')).toBe('boom: bad input\n');
    expect(await readFile(path.join(dir, 'outputs', 'err.log'), 'utf8')).toBe('boom: bad input\n');
    expect(res.outputs!.log).toMatchObject({ path: path.join(dir, 'outputs', 'err.log'), size: 16, partial: true });
    expect(res.outputs!.out).toMatchObject({ path: path.join(dir, 'outputs', 'out.txt'), size: 5, partial: true });
    expect(ev.events.filter(e => e.type === 'batch-state').pop()).toEqual({ type: 'batch-state', batch: 0, state: 'failed', exitCode: 3 });
    // The work folder stays for a look, and says where.
    expect(ev.events).toContainEqual({ type: 'info', batch: 0, message: `work folder kept: ${path.join(workRoot, runId, 'batch-0')}` });
    expect((await readdir(path.join(workRoot, runId, 'batch-0'))).sort()).toEqual(['inputs', 'outputs']);
    expect(await containersWithLabel(docker, TEST_LABEL, testId)).toEqual([]);
  });

  it('an OOM kill says so and which setting to raise', async () => {
    const red = `redVersion: "9"
cli:
  cwlVersion: v1.0
  class: CommandLineTool
  baseCommand: [python3, -c]
  inputs:
    script: {type: string, inputBinding: {position: 0}}
  outputs: {}
inputs:
  script: "b = bytearray(400 * 1024 * 1024); print(len(b))"
container:
  engine: docker
  settings:
    image: {url: "${PYTHON}"}
    ram: 256
`;
    const res = await new DockerEngine({ connectors: loopbackConnectors(), workRoot, keepWorkDir: 'never' }).run(request(red, dir, { labels }), {});
    expect(res.state).toBe('failed');
    expect(res.batches[0].oomKilled).toBe(true);
    expect(res.exitCode).toBe(137);
    expect(res.error).toBe('killed: out of memory (ram: 256 MB); raise container.settings.ram');
  });

  it('a missing image with no registry reachable explains how to provide it', async () => {
    const ev = collectEvents();
    const image = `redlab/not-here-${testId.slice(0, 8)}:1`;
    const res = await new DockerEngine({ connectors: loopbackConnectors(), workRoot }).run(request(shRed('true', { image }), dir, { labels }), { onEvent: ev.onEvent });
    expect(res.state).toBe('failed');
    expect(res.image).toEqual({ url: image, pulled: false });
    expect(res.error).toContain(`image ${image} is not on this machine and could not be pulled: no registry is reachable from the Docker engine (offline, DNS or proxy problem). Docker said: `);
    expect(res.error).toContain('registry-1.docker.io');
    expect(res.error).toContain(`\`docker load -i image.tar\``);
    expect(res.error).toContain(`\`docker tag LOCAL_IMAGE ${image}\``);
    expect(res.batches).toEqual([{ index: 0, state: 'failed', command: ['sh', '-c', 'true'], inputs: {}, outputs: {}, timings: { total: 0 }, error: res.error, outdir: path.join(dir, 'outputs') }]);
    expect(ev.events.filter(e => e.type === 'phase').map(e => (e.type === 'phase' ? `${e.phase}:${e.status}:${e.detail}` : ''))).toEqual([`pull:start:${image}`, 'pull:end:failed']);
  });

  it('a GPU request on an engine without the NVIDIA runtime: Docker refuses, the error says why and what to do', async () => {
    const fake = await fakeNvidiaSmi('0, GPU-0000-test, NVIDIA Test GPU, 16384, 0');
    const savedPath = process.env.PATH;
    // The stand-in nvidia-smi first on PATH, where the engine's default inventory looks.
    process.env.PATH = fake.env.PATH;
    try {
      expect(await readGpuInventory()).toEqual([{ index: 0, uuid: 'GPU-0000-test', name: 'NVIDIA Test GPU', memoryTotalMb: 16384, memoryUsedMb: 0 }]);
      const ev = collectEvents();
      const engine = new DockerEngine({ connectors: loopbackConnectors(), workRoot });
      const res = await engine.run(request(shRed('nvidia-smi', { gpus: '    gpus: {vendor: nvidia, devices: [{vramMin: 8000}]}\n' }), dir, { labels }), { onEvent: ev.onEvent });
      expect(res.state).toBe('failed');
      expect(ev.events).toContainEqual({ type: 'info', message: 'GPUs: GPUs #0 NVIDIA Test GPU (16384 MB); this machine has 1 GPU: #0 NVIDIA Test GPU (16384 MB)' });
      expect(res.error).toMatch(/^the RED asks for GPUs #0 NVIDIA Test GPU \(16384 MB\) \(container.settings.gpus\), but this Docker engine cannot give containers NVIDIA GPUs: install the NVIDIA Container Toolkit/);
      expect(res.error).toContain('Docker said: could not select device driver "nvidia" with capabilities: [[gpu]]');
      expect(res.exitCode).toBeUndefined();
      expect(await containersWithLabel(docker, TEST_LABEL, testId)).toEqual([]);
      // More GPUs than the machine has: refused before Docker is asked.
      const many = await engine.run(request(shRed('true', { gpus: '    gpus: {vendor: nvidia, count: 2}\n' }), dir, { labels }), {});
      expect(many.error).toBe('the RED asks for 2 GPUs, but this machine has 1 GPU: #0 NVIDIA Test GPU (16384 MB)');
      expect(many.batches).toEqual([]);
    } finally {
      process.env.PATH = savedPath;
      await fake.cleanup();
    }
  });

  it('outputs cannot escape the outputs folder: a symlink out, or a glob built from an input', async () => {
    const res = await new DockerEngine({ connectors: loopbackConnectors(), workRoot }).run(request(shRed('ln -s /etc/passwd out.txt'), dir, { labels }), {});
    expect(res.state).toBe('failed');
    expect(res.exitCode).toBe(0);
    expect(res.error).toBe('output out: out.txt is a symbolic link to /etc/passwd, outside the outputs folder; outputs must be files written under /cc/outputs');
    expect(res.outputs!.out).toBeNull();
    await expect(readFile(path.join(dir, 'outputs', 'out.txt'))).rejects.toThrow();

    const red = `redVersion: "9"
cli:
  cwlVersion: v1.0
  class: CommandLineTool
  baseCommand: [cat]
  inputs:
    target: {type: string, inputBinding: {position: 0}}
  outputs:
    stolen: {type: File, outputBinding: {glob: "$(inputs.target)"}}
inputs:
  target: ../../../etc/passwd
container:
  engine: docker
  settings:
    image: {url: "${BUSYBOX}"}
`;
    const trav = await new DockerEngine({ connectors: loopbackConnectors(), workRoot }).run(request(red, dir, { labels }), {});
    expect(trav.state).toBe('failed');
    expect(trav.error).toMatch(/^error: cli.outputs.stolen.outputBinding.glob: the glob "..\/..\/..\/etc\/passwd" has a ".." segment/);
    expect(trav.batches).toEqual([]);
  });

  it('a required output that is not there names the glob and what is there', async () => {
    const res = await new DockerEngine({ connectors: loopbackConnectors(), workRoot }).run(request(shRed('echo x > other.txt'), dir, { labels }), {});
    expect(res.state).toBe('failed');
    expect(res.error).toBe(
      'output out: no file matches glob out.txt in /cc/outputs (the outputs folder has err.log, other.txt); check cli.outputs.out and that the command writes it in its working directory'
    );
    expect(res.outputs!.log).toMatchObject({ size: 0 });
  });

  it('a command that is not in the image', async () => {
    const red = shRed('x').replace('baseCommand: [sh, -c]', 'baseCommand: [no-such-tool]');
    const res = await new DockerEngine({ connectors: loopbackConnectors(), workRoot }).run(request(red, dir, { labels }), {});
    expect(res.state).toBe('failed');
    expect(res.exitCode).toBe(127);
    expect(res.error).toMatch(
      new RegExp(`^the command no-such-tool was not found in image ${BUSYBOX}: check cli\\.baseCommand and that the image has it \\(on its PATH\\)\\. The container said: \\[FATAL tini \\(\\d+\\)\\] exec no-such-tool failed: No such file or directory$`)
    );
    expect(await containersWithLabel(docker, TEST_LABEL, testId)).toEqual([]);
  });

  it('input problems fail before the command runs: a connector the image lacks, HTTP 404, checksum', async () => {
    const server = await startTestServer({ files: { '/ok.txt': 'ok' } });
    try {
      const withInput = (file: string) => shRed('cat "$0"', { outputs: '    {}' }).replace('    script: {type: string, inputBinding: {position: 0}}', '    script: {type: string, inputBinding: {position: 0}}\n    data: {type: File, inputBinding: {position: 1}}').replace("inputs:\n  script:", `inputs:\n  data:\n${file}\n  script:`);
      const xnat = await new DockerEngine({ connectors: loopbackConnectors(), workRoot }).run(request(withInput('    class: File\n    connector: {command: red-connector-xnat, access: {host: h, path: /x}}'), dir, { labels }), {});
      // Not built in: run as a Curious Containers connector of the image, which has none.
      expect(xnat.error).toBe(
        `input data: image ${BUSYBOX} has no connector command red-connector-xnat (it is not on the image's PATH, or not executable): it is not a built-in connector either; check connector.command, or install the connector in the image`
      );
      expect(xnat.batches[0].timings.running).toBeUndefined();

      const missing = await new DockerEngine({ connectors: loopbackConnectors(), workRoot }).run(request(withInput(`    class: File\n    connector: {command: red-connector-http, access: {url: "${server.url}/gone.txt"}}`), dir, { labels }), {});
      expect(missing.state).toBe('failed');
      expect(missing.error).toBe(`input data: GET ${server.url}/gone.txt answered HTTP 404 Not Found; check the URL in connector.access.url of input data`);
      expect(missing.batches[0].timings.staging).toBeGreaterThanOrEqual(0);
      expect(missing.batches[0].timings.running).toBeUndefined();

      const bad = await new DockerEngine({ connectors: loopbackConnectors(), workRoot }).run(
        request(withInput(`    class: File\n    checksum: sha1$0000000000000000000000000000000000000000\n    connector: {command: red-connector-http, access: {url: "${server.url}/ok.txt"}}`), dir, { labels }),
        {}
      );
      expect(bad.error).toMatch(/^input data: checksum mismatch: the RED says sha1\$0{40}, the data has sha1\$[0-9a-f]{40}/);
    } finally {
      await server.close();
    }
  });

  it('no Docker engine: the error names the socket and how to start one', async () => {
    const res = await new DockerEngine({ connectors: loopbackConnectors(), socketPath: path.join(dir, 'no-docker.sock'), workRoot }).run(request(shRed('true'), dir, { labels }), {});
    expect(res.state).toBe('failed');
    expect(res.error).toBe(
      `cannot reach the Docker engine at unix://${path.join(dir, 'no-docker.sock')}: no such socket (is Docker installed and running?). To fix: start Docker: \`sudo systemctl start docker\` or \`sudo dockerd &\`; or set DOCKER_HOST to a running engine.`
    );
  });
});
