// The engine parts a long-running bridge relies on, without Docker: assigned GPUs,
// log cutting and demuxing, skipping what a store already holds, stats arithmetic,
// deterministic work folders, durations for messages.
import * as path from 'path';
import { DockerDemuxer, LineBuffer } from '../../src/engine/container';
import { formatDuration, LogSkipper, wallClockMessage } from '../../src/engine/docker';
import { gpusForDeviceIds, GpuSelectionError } from '../../src/engine/gpu';
import { buildCreateOptions } from '../../src/engine/host-config';
import { computeStats } from '../../src/engine/stats';
import { batchWorkDir, captureFileName } from '../../src/engine/workdir';

const frame = (type: number, text: string | Buffer): Buffer => {
  const body = Buffer.isBuffer(text) ? text : Buffer.from(text);
  const h = Buffer.alloc(8);
  h[0] = type;
  h.writeUInt32BE(body.length, 4);
  return Buffer.concat([h, body]);
};

describe('GPUs assigned by the bridge', () => {
  it('become DeviceRequests with those DeviceIDs', () => {
    const gpus = gpusForDeviceIds(['1', 'GPU-22222222-aaaa-bbbb-cccc-000000000000'], { vendor: 'nvidia', count: 2 });
    const o = buildCreateOptions({ image: 'sha256:abc', cmd: ['nvidia-smi'], inputBinds: [], outputsHostDir: '/tmp/w/batch-0/outputs', runId: 'r', batch: 0, gpus });
    expect(o.HostConfig!.DeviceRequests).toEqual([{ Driver: 'nvidia', DeviceIDs: ['1', 'GPU-22222222-aaaa-bbbb-cccc-000000000000'], Capabilities: [['gpu']] }]);
    expect(gpus!.summary).toBe('GPUs #1, #GPU-22222222-aaaa-bbbb-cccc-000000000000 (assigned by the bridge)');
  });

  it('are named from the inventory when it knows them', () => {
    const inv = [{ index: 0, uuid: 'GPU-a', name: 'Tesla T4', memoryTotalMb: 15360, memoryUsedMb: 0 }];
    const gpus = gpusForDeviceIds(['GPU-a'], { vendor: 'nvidia', devices: [{ vramMin: 8000 }] }, inv);
    expect(gpus!.selected).toEqual(inv);
    expect(gpus!.summary).toBe('GPU #0 Tesla T4 (15360 MB) (assigned by the bridge)');
  });

  it('must be enough for what the RED asks, and look like ids', () => {
    expect(() => gpusForDeviceIds(['0'], { vendor: 'nvidia', count: 2 })).toThrow(new GpuSelectionError('the RED asks for 2 GPUs, but only 1 was assigned (0)'));
    expect(() => gpusForDeviceIds(['0'], { vendor: 'nvidia', devices: [{ vramMin: 1 }, { vramMin: 1 }] })).toThrow('the RED asks for 2 GPUs');
    expect(() => gpusForDeviceIds(['0,1'])).toThrow('GPU device id "0,1" is neither an index nor a UUID');
    expect(() => gpusForDeviceIds(['0', '0'])).toThrow('name a GPU twice');
    expect(gpusForDeviceIds([])).toBeNull();
  });
});

describe('LineBuffer', () => {
  const sleep = (ms: number) => new Promise(r => setTimeout(r, ms));

  it('lets a partial line out after flushMs even while more of it keeps coming', async () => {
    const out: { t: number; text: string }[] = [];
    const t0 = Date.now();
    const lb = new LineBuffer(text => out.push({ t: Date.now() - t0, text }), 100);
    for (let i = 0; i < 12; i++) {
      lb.push(Buffer.from('.'));
      await sleep(25);
    }
    lb.flush();
    // A dot every 25 ms for 300 ms: out in pieces about every 100 ms, not all at the end.
    expect(out.map(o => o.text).join('')).toBe('.'.repeat(12));
    expect(out.length).toBeGreaterThanOrEqual(3);
    expect(out[0].t).toBeLessThan(200);
  });

  it('lets a long partial line out at once, and keeps a character split across that cut whole', () => {
    const out: string[] = [];
    const lb = new LineBuffer(t => out.push(t), 10_000, 8);
    const euro = Buffer.from('€');
    lb.push(Buffer.concat([Buffer.from('abcdefgh'), euro.subarray(0, 2)]));
    expect(out).toEqual(['abcdefgh']);
    lb.push(Buffer.concat([euro.subarray(2), Buffer.from('x\ny')]));
    lb.flush();
    expect(out).toEqual(['abcdefgh', '€x\n', 'y']);
  });

  it('emits whole lines together and keeps the rest', () => {
    const out: string[] = [];
    const lb = new LineBuffer(t => out.push(t), 10_000);
    lb.push(Buffer.from('a\nb'));
    lb.push(Buffer.from('c\nd\n'));
    lb.flush();
    expect(out).toEqual(['a\n', 'bc\nd\n']);
  });
});

describe('DockerDemuxer', () => {
  it('splits frames whatever the chunking, and hands on consecutive frames of a stream together', () => {
    const wire = Buffer.concat([frame(1, 'one\n'), frame(1, 'two\n'), frame(2, 'err\n'), frame(1, ''), frame(1, 'three\n')]);
    for (const size of [1, 3, 7, 8, 9, wire.length]) {
      const got: [string, string][] = [];
      const d = new DockerDemuxer((s, b) => got.push([s, b.toString()]));
      for (let i = 0; i < wire.length; i += size) {
        d.push(wire.subarray(i, i + size));
        d.flush();
      }
      const joined = (s: string) =>
        got
          .filter(g => g[0] === s)
          .map(g => g[1])
          .join('');
      expect(joined('stdout')).toBe('one\ntwo\nthree\n');
      expect(joined('stderr')).toBe('err\n');
    }
    const got: [string, string][] = [];
    const d = new DockerDemuxer((s, b) => got.push([s, b.toString()]));
    d.push(wire);
    d.flush();
    expect(got).toEqual([
      ['stdout', 'one\ntwo\n'],
      ['stderr', 'err\n'],
      ['stdout', 'three\n']
    ]);
  });

  it('demuxes a million one-line frames quickly', () => {
    const line = frame(1, 'x'.repeat(99) + '\n');
    const chunk = Buffer.concat(Array.from({ length: 1000 }, () => line));
    let bytes = 0;
    const d = new DockerDemuxer((_s, b) => (bytes += b.length));
    const t0 = Date.now();
    for (let i = 0; i < 1000; i++) d.push(chunk);
    d.flush();
    expect(bytes).toBe(100 * 1000 * 1000);
    expect(Date.now() - t0).toBeLessThan(5000);
  });

  it('passes a stream that is not multiplexed through as stdout', () => {
    const got: string[] = [];
    const d = new DockerDemuxer((_s, b) => got.push(b.toString()));
    d.push(Buffer.from('plain text from a tty\n'));
    d.flush();
    expect(got.join('')).toBe('plain text from a tty\n');
  });
});

describe('LogSkipper', () => {
  it('drops exactly the bytes already stored, per stream, even inside a line or a character', () => {
    const s = new LogSkipper({ stdout: 9, stderr: 0 });
    expect(s.take('stdout', 'line 1\n')).toBe('');
    expect(s.take('stdout', 'line 2\nline 3\n')).toBe('ne 2\nline 3\n');
    expect(s.take('stdout', 'line 4\n')).toBe('line 4\n');
    expect(s.take('stderr', 'e\n')).toBe('e\n');
    const u = new LogSkipper({ stdout: 2, stderr: 0 });
    expect(u.take('stdout', 'a€b')).toBe('b');
    expect(new LogSkipper({ stdout: 1, stderr: 0 }).take('stdout', 'a€b')).toBe('€b');
    expect(s.shortfalls()).toEqual([]);
  });

  it('says when Docker had less than was stored', () => {
    const s = new LogSkipper({ stdout: 100, stderr: 0 });
    expect(s.take('stdout', 'short\n')).toBe('');
    expect(s.shortfalls()).toEqual([expect.stringMatching(/^Docker returned only 6 bytes of stdout, but 100 were stored before the restart: its log was rotated or cut/)]);
  });
});

describe('computeStats', () => {
  const sample = {
    read: '2024-01-01T00:00:01Z',
    cpu_stats: { cpu_usage: { total_usage: 3_000_000_000 }, system_cpu_usage: 20_000_000_000, online_cpus: 2 },
    precpu_stats: { cpu_usage: { total_usage: 2_000_000_000 }, system_cpu_usage: 18_000_000_000 },
    memory_stats: { usage: 50_000_000, limit: 268_435_456, stats: { total_inactive_file: 10_000_000 } },
    pids_stats: { current: 3 }
  };

  it('computes CPU % and memory as docker stats does (cgroup v1)', () => {
    // 1 s of CPU in 2 s of system time on 2 CPUs: one CPU busy = 100 %.
    expect(computeStats(sample)).toEqual({ cpuPercent: 100, memoryBytes: 40_000_000, memoryLimitBytes: 268_435_456, pids: 3 });
  });

  it('reads cgroup v2 inactive_file, and has no sample without a previous reading or for a stopped container', () => {
    expect(computeStats({ ...sample, memory_stats: { usage: 50, limit: 100, stats: { inactive_file: 20 } } })?.memoryBytes).toBe(30);
    expect(computeStats({ ...sample, precpu_stats: { cpu_usage: { total_usage: 0 } } })).toBeNull();
    expect(computeStats({ ...sample, read: '0001-01-01T00:00:00Z' })).toBeNull();
  });
});

describe('work folders', () => {
  it('follow from work root, run id and batch alone', () => {
    expect(batchWorkDir('/data/work', 'run-1', 2)).toEqual({
      dir: path.join('/data/work', 'run-1', 'batch-2'),
      inputs: path.join('/data/work', 'run-1', 'batch-2', 'inputs'),
      outputs: path.join('/data/work', 'run-1', 'batch-2', 'outputs')
    });
    expect(() => batchWorkDir('/data/work', '../x', 0)).toThrow('cannot name a work folder');
    expect(() => batchWorkDir('/data/work', 'r', -1)).toThrow('batch index');
  });

  it('give generated stdout/stderr files a stable UUID-shaped name', () => {
    const a = captureFileName('run-1', 0, 'stdout');
    expect(a).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(captureFileName('run-1', 0, 'stdout')).toBe(a);
    expect(new Set([a, captureFileName('run-1', 0, 'stderr'), captureFileName('run-1', 1, 'stdout'), captureFileName('run-2', 0, 'stdout')]).size).toBe(4);
  });
});

describe('formatDuration', () => {
  it('reads well in the wall-clock message', () => {
    expect(formatDuration(1500)).toBe('1.5 s');
    expect(formatDuration(90_000)).toBe('1 min 30 s');
    expect(formatDuration(7_200_000)).toBe('2 h');
    expect(wallClockMessage(3_600_000)).toBe('stopped: wall-clock limit of 1 h exceeded; raise it in the bridge settings');
  });
});
