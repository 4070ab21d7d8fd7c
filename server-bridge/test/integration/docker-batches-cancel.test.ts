// Batches in parallel, each in its own container and outdir; cancelling a run
// stops and removes its container and keeps what it had written.
import { readFile, readdir } from 'fs/promises';
import * as path from 'path';
import type { RunEvent } from '../../../src/red/run';
import { DockerEngine } from '../../src/engine/docker';
import { loopbackConnectors, startTestServer } from '../helpers/http-server';
import { BUSYBOX, TEST_LABEL, collectEvents, containersWithLabel, dockerTestFile, request, tempDir } from '../helpers/red';

// Real containers: seconds each, and much longer on a loaded machine than jest's default 5 s.
jest.setTimeout(60_000);

const { docker, testId, labels } = dockerTestFile();
let dir: string;
beforeEach(async () => {
  dir = await tempDir('redlab-it-batch-');
});

const batchRed = (words: string[], script = 'sleep 0.5; echo "$0" > word.txt') => `redVersion: "9"
cli:
  cwlVersion: v1.0
  class: CommandLineTool
  baseCommand: [sh, -c]
  inputs:
    script: {type: string, inputBinding: {position: 0}}
    word: {type: string, inputBinding: {position: 1}}
  outputs:
    word: {type: File, outputBinding: {glob: word.txt}}
batches:
${words.map(w => `  - inputs:\n      script: '${script}'\n      word: ${w}`).join('\n')}
container:
  engine: docker
  settings:
    image: {url: "${BUSYBOX}"}
`;

describe('batches', () => {
  it('run each batch in its own container, two at a time, into <outdir>_N', async () => {
    const ev = collectEvents();
    const res = await new DockerEngine({ connectors: loopbackConnectors(), workRoot: path.join(dir, 'work') }).run(request(batchRed(['zero', 'one', 'two']), dir, { labels, parallel: 2 }), { onEvent: ev.onEvent });
    expect(res.error).toBeUndefined();
    expect(res.state).toBe('succeeded');
    expect(res.command).toBeUndefined();
    expect(res.batches.map(b => [b.index, b.state, b.exitCode, b.outdir])).toEqual([
      [0, 'succeeded', 0, path.join(dir, 'outputs_0')],
      [1, 'succeeded', 0, path.join(dir, 'outputs_1')],
      [2, 'succeeded', 0, path.join(dir, 'outputs_2')]
    ]);
    for (const [i, w] of ['zero', 'one', 'two'].entries()) expect(await readFile(path.join(dir, `outputs_${i}`, 'word.txt'), 'utf8')).toBe(`${w}\n`);
    expect(new Set(res.batches.map(b => b.containerId)).size).toBe(3);

    // At most two containers at once, and the first two overlapped.
    let running = 0;
    let peak = 0;
    const order: string[] = [];
    for (const e of ev.events) {
      if (e.type !== 'phase' || e.phase !== 'running') continue;
      order.push(`${e.batch}:${e.status}`);
      running += e.status === 'start' ? 1 : -1;
      peak = Math.max(peak, running);
    }
    expect(peak).toBe(2);
    expect(order.slice(0, 2).sort()).toEqual(['0:start', '1:start']);
    expect(order.indexOf('2:start')).toBeGreaterThan(Math.min(order.indexOf('0:end'), order.indexOf('1:end')));
    expect(await containersWithLabel(docker, TEST_LABEL, testId)).toEqual([]);
  });

  it('a failing batch fails the run, the others still succeed', async () => {
    const res = await new DockerEngine({ connectors: loopbackConnectors(), workRoot: path.join(dir, 'work'), keepWorkDir: 'never' }).run(
      request(batchRed(['good', 'bad'], 'test "$0" = good || exit 4; echo "$0" > word.txt'), dir, { labels, parallel: 2 }),
      {}
    );
    expect(res.state).toBe('failed');
    expect(res.batches.map(b => b.state)).toEqual(['succeeded', 'failed']);
    expect(res.batches[1].exitCode).toBe(4);
    expect(res.error).toBe('batch 1 failed: the command exited with code 4');
    expect(res.batches[1].outputs).toEqual({ word: null });
  });
});

describe('cancel', () => {
  it('stops and removes the running container, keeps partial outputs, state cancelled', async () => {
    const red = `redVersion: "9"
cli:
  cwlVersion: v1.0
  class: CommandLineTool
  baseCommand: [sh, -c]
  inputs:
    script: {type: string, inputBinding: {position: 0}}
  outputs:
    progress: {type: File, outputBinding: {glob: progress.txt}}
    final: {type: File, outputBinding: {glob: final.txt}}
inputs:
  script: 'echo step1 > progress.txt; echo started; sleep 60; echo done > final.txt'
container:
  engine: docker
  settings:
    image: {url: "${BUSYBOX}"}
`;
    const controller = new AbortController();
    const events: RunEvent[] = [];
    const t0 = Date.now();
    const res = await new DockerEngine({ connectors: loopbackConnectors(), workRoot: path.join(dir, 'work'), stopTimeoutSec: 1 }).run(request(red, dir, { labels }), {
      signal: controller.signal,
      onEvent: e => {
        events.push(e);
        if (e.type === 'log' && e.data.includes('started')) controller.abort();
      }
    });
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(res.state).toBe('cancelled');
    expect(res.error).toBe('cancelled: the container was stopped');
    expect(res.outputs!.progress).toMatchObject({ path: path.join(dir, 'outputs', 'progress.txt'), size: 6, partial: true });
    expect(res.outputs!.final).toBeNull();
    expect(await readFile(path.join(dir, 'outputs', 'progress.txt'), 'utf8')).toBe('step1\n');
    expect(events.filter(e => e.type === 'batch-state').map(e => (e.type === 'batch-state' ? e.state : ''))).toEqual(['preparing', 'running', 'collecting', 'cancelled']);
    // The container is gone.
    const id = res.batches[0].containerId!;
    expect(id).toMatch(/^[0-9a-f]{64}$/);
    await expect(docker.getContainer(id).inspect()).rejects.toMatchObject({ statusCode: 404 });
    expect(await containersWithLabel(docker, TEST_LABEL, testId)).toEqual([]);
  });

  it('a command that ignores SIGTERM is killed after the stop timeout', async () => {
    const red = `redVersion: "9"
cli:
  cwlVersion: v1.0
  class: CommandLineTool
  baseCommand: [sh, -c]
  inputs:
    script: {type: string, inputBinding: {position: 0}}
  outputs: {}
inputs:
  script: 'trap "" TERM; echo started; while true; do sleep 1; done'
container:
  engine: docker
  settings:
    image: {url: "${BUSYBOX}"}
`;
    const controller = new AbortController();
    const t0 = Date.now();
    const res = await new DockerEngine({ connectors: loopbackConnectors(), workRoot: path.join(dir, 'work'), stopTimeoutSec: 1 }).run(request(red, dir, { labels }), {
      signal: controller.signal,
      onEvent: e => e.type === 'log' && e.data.includes('started') && controller.abort()
    });
    expect(res.state).toBe('cancelled');
    expect(res.exitCode).toBe(137);
    expect(Date.now() - t0).toBeLessThan(8000);
    await expect(docker.getContainer(res.batches[0].containerId!).inspect()).rejects.toMatchObject({ statusCode: 404 });
  });

  it('cancelling while an input downloads stops before any container exists', async () => {
    const server = await startTestServer({ hang: ['/slow.bin'] });
    try {
      const red = `redVersion: "9"
cli:
  cwlVersion: v1.0
  class: CommandLineTool
  baseCommand: [cat]
  inputs:
    data: {type: File, inputBinding: {position: 0}}
  outputs: {}
inputs:
  data:
    class: File
    connector: {command: red-connector-http, access: {url: "${server.url}/slow.bin"}}
container:
  engine: docker
  settings:
    image: {url: "${BUSYBOX}"}
`;
      const controller = new AbortController();
      const ev = collectEvents();
      const res = await new DockerEngine({ connectors: loopbackConnectors(), workRoot: path.join(dir, 'work') }).run(request(red, dir, { labels }), {
        signal: controller.signal,
        onEvent: e => {
          ev.onEvent(e);
          if (e.type === 'phase' && e.phase === 'staging' && e.status === 'start') setTimeout(() => controller.abort(), 100);
        }
      });
      expect(res.state).toBe('cancelled');
      expect(res.error).toBe('cancelled while staging inputs');
      expect(res.batches[0].containerId).toBeUndefined();
      expect(ev.events.some(e => e.type === 'phase' && e.phase === 'running')).toBe(false);
      expect(await containersWithLabel(docker, TEST_LABEL, testId)).toEqual([]);
    } finally {
      await server.close();
    }
  });

  it('a signal aborted before the run starts cancels every batch without a container', async () => {
    const controller = new AbortController();
    controller.abort();
    const res = await new DockerEngine({ connectors: loopbackConnectors(), workRoot: path.join(dir, 'work') }).run(request(batchRed(['a', 'b']), dir, { labels }), { signal: controller.signal });
    expect(res.state).toBe('cancelled');
    expect(res.batches.map(b => b.state)).toEqual(['cancelled', 'cancelled']);
    expect(res.batches.every(b => b.containerId === undefined)).toBe(true);
    await expect(readdir(path.join(dir, 'work'))).rejects.toThrow();
  });
});
