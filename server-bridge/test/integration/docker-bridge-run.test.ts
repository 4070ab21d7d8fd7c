// What the bridge asks of DockerEngine.run on a real Docker engine: the container
// event before anything runs, CPU/memory samples, GPUs its scheduler assigned, a
// wall-clock limit, partial lines and large outputs as log events, finding its
// containers again by label.
import { randomUUID } from 'crypto';
import * as path from 'path';
import type { RunEvent } from '../../../src/red/run';
import { DockerEngine } from '../../src/engine/docker';
import { BUSYBOX, TEST_LABEL, collectEvents, dockerTestFile, request, tempDir } from '../helpers/red';

// Real containers: seconds each, and much longer on a loaded machine than jest's default 5 s.
jest.setTimeout(60_000);

const { docker, testId, labels } = dockerTestFile();
let dir: string;
let workRoot: string;
beforeEach(async () => {
  dir = await tempDir('redlab-it-bridge-');
  workRoot = path.join(dir, 'work');
});

const shRed = (script: string, extra = '') => `redVersion: "9"
cli:
  cwlVersion: v1.0
  class: CommandLineTool
  baseCommand: [sh, -c]
  inputs:
    script: {type: string, inputBinding: {position: 0}}
  outputs: {}
inputs:
  script: '${script}'
container:
  engine: docker
  settings:
    image: {url: "${BUSYBOX}"}
    ram: 256
${extra}`;

type StatsEvent = Extract<RunEvent, { type: 'stats' }>;

describe('DockerEngine for the bridge', () => {
  it('reports the container before it starts, and samples CPU and memory while it runs', async () => {
    const ev = collectEvents();
    const res = await new DockerEngine({ workRoot }).run(request(shRed('timeout 3 yes > /dev/null; echo done'), dir, { labels, stats: true }), { onEvent: ev.onEvent });
    expect(res.error).toBeUndefined();
    expect(res.state).toBe('succeeded');

    const created = ev.events.findIndex(e => e.type === 'container');
    expect(ev.events[created]).toEqual({ type: 'container', batch: 0, containerId: res.batches[0].containerId, name: expect.stringMatching(/^redlab-/) });
    expect(created).toBeLessThan(ev.events.findIndex(e => e.type === 'log'));

    const stats = ev.events.filter((e): e is StatsEvent => e.type === 'stats');
    expect(stats.length).toBeGreaterThanOrEqual(2);
    expect(stats.length).toBeLessThanOrEqual(5);
    for (const s of stats) {
      expect(s.batch).toBe(0);
      expect(s.cpuPercent).toBeGreaterThanOrEqual(0);
      expect(s.cpuPercent).toBeLessThanOrEqual(100 * 64);
      expect(s.memoryBytes).toBeGreaterThan(0);
      expect(s.memoryBytes).toBeLessThan(256 * 1024 * 1024);
      expect(s.memoryLimitBytes).toBe(256 * 1024 * 1024);
      expect(s.pids).toBeGreaterThanOrEqual(1);
    }
    // `yes` keeps a CPU busy: the samples show it working. How much of a CPU it gets depends on
    // what else the machine runs (other tests, other jobs), so only use above zero is asserted.
    expect(Math.max(...stats.map(s => s.cpuPercent))).toBeGreaterThan(0);
    // No samples once the container has ended.
    const runningEnd = ev.events.findIndex(e => e.type === 'phase' && e.phase === 'running' && e.status === 'end');
    const lastStats = ev.events.map(e => e.type).lastIndexOf('stats');
    expect(lastStats).toBeLessThan(runningEnd);

    // The CLI does not ask for them.
    const quiet = collectEvents();
    await new DockerEngine({ workRoot }).run(request(shRed('sleep 1.5'), dir, { labels }), { onEvent: quiet.onEvent });
    expect(quiet.events.some(e => e.type === 'stats')).toBe(false);
  }, 30_000);

  it('uses the GPUs the bridge assigned; Docker without the NVIDIA runtime refuses, and the error says what to do', async () => {
    const ev = collectEvents();
    const engine = new DockerEngine({
      workRoot,
      gpuInventory: () => Promise.reject(new Error('the inventory must not be read when GPUs are assigned'))
    });
    const res = await engine.run(request(shRed('nvidia-smi', '    gpus: {vendor: nvidia, count: 1}\n'), dir, { labels, gpuDeviceIds: ['0'] }), { onEvent: ev.onEvent });
    expect(res.state).toBe('failed');
    expect(ev.events).toContainEqual({ type: 'info', message: 'GPUs: GPU #0 (assigned by the bridge)' });
    expect(res.error).toMatch(/^the RED asks for GPU #0 \(assigned by the bridge\) \(container.settings.gpus\), but this Docker engine cannot give containers NVIDIA GPUs: install the NVIDIA Container Toolkit/);
    expect(res.error).toContain('Docker said: could not select device driver "nvidia" with capabilities: [[gpu]]');
    // The request Docker got named the device.
    const id = res.batches[0].containerId;
    expect(id).toBeDefined();
    await expect(docker.getContainer(id!).inspect()).rejects.toMatchObject({ statusCode: 404 });

    const few = await engine.run(request(shRed('true', '    gpus: {vendor: nvidia, count: 2}\n'), dir, { labels, gpuDeviceIds: ['0'] }), {});
    expect(few.error).toBe('the RED asks for 2 GPUs, but only 1 was assigned (0)');
  });

  it('stops a run at its wall-clock limit and says which setting to raise', async () => {
    const ev = collectEvents();
    const t0 = Date.now();
    const res = await new DockerEngine({ workRoot, stopTimeoutSec: 1 }).run(request(shRed('echo started; sleep 60'), dir, { labels, wallClockLimitMs: 1500 }), {
      onEvent: ev.onEvent
    });
    const took = Date.now() - t0;
    expect(res.state).toBe('failed');
    expect(res.error).toBe('stopped: wall-clock limit of 1.5 s exceeded; raise it in the bridge settings');
    expect(res.batches[0].error).toBe(res.error);
    expect(took).toBeGreaterThanOrEqual(1400);
    expect(took).toBeLessThan(8000);
    expect(ev.logs('stdout')).toBe('started\n');
    await expect(docker.getContainer(res.batches[0].containerId!).inspect()).rejects.toMatchObject({ statusCode: 404 });
    expect(ev.events.filter(e => e.type === 'batch-state').pop()).toMatchObject({ state: 'failed' });

    // Batches that had not started by then do not start.
    const red = `redVersion: "9"
cli:
  cwlVersion: v1.0
  class: CommandLineTool
  baseCommand: [sh, -c]
  inputs:
    script: {type: string, inputBinding: {position: 0}}
  outputs: {}
batches:
  - inputs: {script: 'sleep 60'}
  - inputs: {script: 'echo never'}
container:
  engine: docker
  settings:
    image: {url: "${BUSYBOX}"}
`;
    const two = await new DockerEngine({ workRoot, stopTimeoutSec: 1 }).run(request(red, dir, { labels, wallClockLimitMs: 1000 }), {});
    expect(two.batches.map(b => [b.state, b.error])).toEqual([
      ['failed', 'stopped: wall-clock limit of 1 s exceeded; raise it in the bridge settings'],
      ['failed', 'stopped: wall-clock limit of 1 s exceeded; raise it in the bridge settings']
    ]);
    expect(two.batches[1].containerId).toBeUndefined();
  }, 30_000);

  it('lets a partial line out within a moment instead of at the end', async () => {
    const t0 = Date.now();
    const seen: { t: number; data: string }[] = [];
    const res = await new DockerEngine({ workRoot }).run(request(shRed('printf "working..."; sleep 2; echo " done"'), dir, { labels }), {
      onEvent: e => e.type === 'log' && seen.push({ t: Date.now() - t0, data: e.data })
    });
    expect(res.state).toBe('succeeded');
    expect(seen.map(s => s.data).join('')).toBe('working... done\n');
    expect(seen[0].data).toBe('working...');
    // Out long before the line ended (2 s later).
    expect(seen[1].t - seen[0].t).toBeGreaterThan(1200);
  }, 20_000);

  it('passes 20 MB of output through as log events, whole and fast', async () => {
    const bytes = 20_000_000;
    let got = 0;
    let events = 0;
    const t0 = Date.now();
    const res = await new DockerEngine({ workRoot }).run(request(shRed(`head -c ${bytes} /dev/zero | tr "\\\\0" x | fold -w 100`), dir, { labels }), {
      onEvent: e => {
        if (e.type !== 'log') return;
        got += Buffer.byteLength(e.data);
        events++;
      }
    });
    const ms = Date.now() - t0;
    expect(res.error).toBeUndefined();
    // 200,000 lines of 100 x's; fold leaves the last one without a newline.
    expect(got).toBe(bytes + bytes / 100 - 1);
    expect(events).toBeLessThan(20_000);
    // eslint-disable-next-line no-console
    console.log(`20 MB of output: ${ms} ms, ${(got / 1e6 / (ms / 1000)).toFixed(1)} MB/s, ${events} log events`);
    expect(ms).toBeLessThan(15_000);
  }, 30_000);

  it('finds its containers by label', async () => {
    const runId = `it-${randomUUID()}`;
    const engine = new DockerEngine({ workRoot });
    const res = await engine.run(request(shRed('exit 3'), dir, { labels, runId, leaveContainer: true }), {});
    const id = res.batches[0].containerId!;
    const mine = await engine.listManagedContainers({ runId });
    expect(mine).toEqual([
      {
        containerId: id,
        name: expect.stringMatching(/^redlab-/),
        runId,
        batch: 0,
        state: 'exited',
        exitCode: 3,
        oomKilled: false,
        startedAt: expect.stringMatching(/^\d{4}-/),
        finishedAt: expect.stringMatching(/^\d{4}-/),
        labels: expect.objectContaining({ 'org.redlab.managed': 'true', 'org.redlab.run': runId, 'org.redlab.batch': '0', [TEST_LABEL]: testId })
      }
    ]);
    expect((await engine.listManagedContainers()).some(c => c.containerId === id)).toBe(true);
    expect(await engine.listManagedContainers({ runId: 'no-such-run' })).toEqual([]);
  });
});

const bigIt = process.env.REDLAB_LOG_BENCH ? it : it.skip;
describe('log throughput (REDLAB_LOG_BENCH=1)', () => {
  bigIt('passes 200 MB of output through as log events', async () => {
    const bytes = 200_000_000;
    let got = 0;
    const t0 = Date.now();
    const res = await new DockerEngine({ workRoot }).run(request(shRed(`head -c ${bytes} /dev/zero | tr "\\\\0" x | fold -w 100`), dir, { labels }), {
      onEvent: e => e.type === 'log' && (got += Buffer.byteLength(e.data))
    });
    const ms = Date.now() - t0;
    expect(res.state).toBe('succeeded');
    expect(got).toBe(bytes + bytes / 100 - 1);
    // eslint-disable-next-line no-console
    console.log(`200 MB of output: ${ms} ms, ${(got / 1e6 / (ms / 1000)).toFixed(1)} MB/s`);
  }, 120_000);
});
