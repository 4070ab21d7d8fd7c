// A RAM request above the engine's memory, on a real Docker engine: Docker itself
// would take it (as no limit at all), so the engine refuses it before it pulls or
// creates anything, naming the request, the engine's MemTotal and the fix.
import * as path from 'path';
import { DockerEngine } from '../../src/engine/docker';
import { BUSYBOX, TEST_LABEL, collectEvents, containersWithLabel, dockerTestFile, request, tempDir } from '../helpers/red';

const { docker, testId, labels } = dockerTestFile();
let memMb: number;
beforeAll(async () => {
  memMb = Math.floor((await docker.info()).MemTotal / (1024 * 1024));
});

const echoRed = (ram: number) => `redVersion: "9"
cli:
  cwlVersion: v1.0
  class: CommandLineTool
  baseCommand: [echo, hi]
  inputs: {}
  outputs: {}
inputs: {}
outputs: {}
container:
  engine: docker
  settings:
    image: {url: "${BUSYBOX}"}
    ram: ${ram}
`;

describe('RAM above the engine memory', () => {
  it('fails at once, before the image or any container, naming both numbers and the fix', async () => {
    const dir = await tempDir('redlab-it-ram-');
    const ev = collectEvents();
    const ram = memMb + 1;
    const res = await new DockerEngine({ workRoot: path.join(dir, 'work') }).run(request(echoRed(ram), dir, { labels }), { onEvent: ev.onEvent });
    expect(res.state).toBe('failed');
    expect(res.error).toContain(`container.settings.ram asks for ${ram} MB`);
    expect(res.error).toContain(`the Docker engine's memory of ${memMb} MB`);
    expect(res.error).toContain(`lower container.settings.ram to at most ${memMb} (MB)`);
    expect(res.batches.map(b => [b.state, b.containerId])).toEqual([['failed', undefined]]);
    expect(ev.events.filter(e => e.type === 'container' || e.type === 'phase')).toEqual([]);
    expect(await containersWithLabel(docker, TEST_LABEL, testId)).toEqual([]);
  }, 30_000);

  it('the engine memory itself is a limit Docker takes', async () => {
    const dir = await tempDir('redlab-it-ram-');
    const res = await new DockerEngine({ workRoot: path.join(dir, 'work') }).run(request(echoRed(memMb), dir, { labels }));
    expect(res.error).toBeUndefined();
    expect(res.state).toBe('succeeded');
  }, 60_000);
});
