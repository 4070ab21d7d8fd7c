// GpuPool (unit, no Docker): which run holds which GPU. A GPU is never given to two
// runs at once, a request that does not fit now waits (undefined), and a request no
// GPU of this host can ever satisfy is named up front.
import { GpuPool } from '../../src/bridge/gpu-pool';
import type { Gpu } from '../../src/engine/gpu';
import type { GpuRequirement } from '../../../src/red/types';

const small: Gpu = { index: 0, uuid: 'GPU-aaaa-0000', name: 'Tesla T4', memoryTotalMb: 8192, memoryUsedMb: 0 };
const big: Gpu = { index: 1, uuid: 'GPU-bbbb-1111', name: 'Tesla V100', memoryTotalMb: 16384, memoryUsedMb: 0 };
const INVENTORY = 'this machine has 2 GPUs: #0 Tesla T4 (8192 MB), #1 Tesla V100 (16384 MB)';

const pool = () => new GpuPool([small, big]);
/** container.settings.gpus asking for `n` GPUs, or for one GPU per vramMin. */
const count = (n: number): GpuRequirement => ({ vendor: 'nvidia', count: n });
const vram = (...mins: number[]): GpuRequirement => ({ vendor: 'nvidia', devices: mins.map(vramMin => ({ vramMin })) });

describe('allocation by count', () => {
  it('hands out free GPUs one run at a time and never the same GPU twice', () => {
    const p = pool();
    expect(p.allocate('run-a', count(1))).toEqual([small]);
    expect(p.holder(0)).toBe('run-a');
    expect(p.holder(1)).toBeUndefined();
    expect(p.allocate('run-b', count(1))).toEqual([big]);
    expect(p.holder(1)).toBe('run-b');
    // Both taken: the third run waits.
    expect(p.allocate('run-c', count(1))).toBeUndefined();
    expect(p.allocate('run-c', count(2))).toBeUndefined();
    expect([p.holder(0), p.holder(1)]).toEqual(['run-a', 'run-b']);
  });

  it('a count of 2 takes both GPUs, and a count of 1 then waits until they are released', () => {
    const p = pool();
    expect(p.allocate('both', count(2))).toEqual([small, big]);
    expect(p.allocate('other', count(1))).toBeUndefined();
    p.release('both');
    expect([p.holder(0), p.holder(1)]).toEqual([undefined, undefined]);
    expect(p.allocate('other', count(1))).toEqual([small]);
  });

  it('prefers the GPU with the least memory in use', () => {
    const p = new GpuPool([{ ...small, memoryUsedMb: 5000 }, { ...big, memoryUsedMb: 10 }]);
    expect(p.allocate('run-a', count(1))?.map(g => g.index)).toEqual([1]);
  });

  it('release frees only the GPUs of that run; releasing an unknown run changes nothing', () => {
    const p = pool();
    p.allocate('run-a', count(1));
    p.allocate('run-b', count(1));
    p.release('nobody');
    expect([p.holder(0), p.holder(1)]).toEqual(['run-a', 'run-b']);
    p.release('run-a');
    expect([p.holder(0), p.holder(1)]).toEqual([undefined, 'run-b']);
    expect(p.allocate('run-c', count(1))).toEqual([small]);
    expect(p.holder(0)).toBe('run-c');
  });

  it('a run without a GPU requirement gets no GPUs and takes none', () => {
    const p = pool();
    expect(p.allocate('cpu-only', undefined)).toEqual([]);
    expect([p.holder(0), p.holder(1)]).toEqual([undefined, undefined]);
  });
});

describe('allocation by vramMin', () => {
  it('picks the smallest GPU that fits', () => {
    const p = pool();
    expect(p.allocate('needs-4g', vram(4000))).toEqual([small]);
    expect(p.allocate('needs-12g', vram(12000))).toEqual([big]);
  });

  it('a request only the big GPU fits waits while the big GPU is taken, even though the small one is free', () => {
    const p = pool();
    expect(p.allocate('needs-12g', vram(12000))).toEqual([big]);
    expect(p.allocate('also-12g', vram(12000))).toBeUndefined();
    expect(p.holder(0)).toBeUndefined(); // the failed attempt took nothing
    // A small request still fits on the free small GPU.
    expect(p.allocate('needs-2g', vram(2000))).toEqual([small]);
    p.release('needs-12g');
    expect(p.allocate('also-12g', vram(12000))).toEqual([big]);
    expect([p.holder(0), p.holder(1)]).toEqual(['needs-2g', 'also-12g']);
  });

  it('two devices take two different GPUs, the largest need on the GPU that fits it', () => {
    const p = pool();
    expect(p.allocate('two', vram(1000, 12000))).toEqual([small, big]);
    expect(p.allocate('late', vram(1000))).toBeUndefined();
  });
});

describe('claim()', () => {
  it("takes the GPUs a reattached run's container names (by index or UUID) so nobody else gets them", () => {
    const p = pool();
    expect(p.claim('reattached', ['GPU-bbbb-1111'])).toEqual([big]);
    expect(p.holder(1)).toBe('reattached');
    expect(p.allocate('new', vram(12000))).toBeUndefined();
    expect(p.allocate('new', count(1))).toEqual([small]);
    expect(p.claim('other', ['7', 'GPU-unknown'])).toEqual([]); // not in the inventory: skipped
    p.release('reattached');
    expect(p.allocate('later', vram(12000))).toEqual([big]);
  });
});

describe('impossible()', () => {
  it('is undefined for what this host can satisfy, even while every GPU is taken', () => {
    const p = pool();
    p.allocate('a', count(2));
    expect(p.impossible(undefined)).toBeUndefined();
    expect(p.impossible(count(1))).toBeUndefined();
    expect(p.impossible(count(2))).toBeUndefined();
    expect(p.impossible(vram(16000))).toBeUndefined();
  });

  it('names the count asked for and the GPUs that exist', () => {
    expect(pool().impossible(count(3))).toBe(`the RED asks for 3 GPUs, but ${INVENTORY}`);
  });

  it('names the vramMin asked for and the GPUs that exist', () => {
    expect(pool().impossible(vram(40000))).toBe(
      `the RED asks for GPUs with vramMin 40000 MB, but no free GPU has 40000 MB: ${INVENTORY}`
    );
  });

  it('with no GPUs at all says so and what to do', () => {
    const none = new GpuPool([]);
    expect(none.impossible(count(1))).toBe(
      'the RED asks for 1 GPU, but nvidia-smi lists no GPUs on this machine: run it on a machine with NVIDIA GPUs (nvidia-smi on PATH), or remove container.settings.gpus'
    );
    expect(none.impossible(count(2))).toMatch(/^the RED asks for 2 GPUs, but nvidia-smi lists no GPUs on this machine/);
    expect(none.impossible(vram(4000))).toMatch(/^the RED asks for a GPU with at least 4000 MB, but nvidia-smi lists no GPUs on this machine/);
    expect(none.allocate('x', count(1))).toBeUndefined();
  });
});

describe('update()', () => {
  it('drops the assignments of GPUs that vanished and keeps the others', () => {
    const p = pool();
    p.allocate('run-a', count(1));
    p.allocate('run-b', count(1));
    p.update([big]);
    expect(p.gpus).toEqual([big]);
    expect(p.holder(0)).toBeUndefined();
    expect(p.holder(1)).toBe('run-b');
    // The vanished GPU is not handed out again; the remaining one is still taken.
    expect(p.allocate('run-c', count(1))).toBeUndefined();
    expect(p.impossible(count(2))).toBe('the RED asks for 2 GPUs, but this machine has 1 GPU: #1 Tesla V100 (16384 MB)');
    p.release('run-b');
    expect(p.allocate('run-c', count(1))).toEqual([big]);
  });

  it('the same inventory again keeps every assignment', () => {
    const p = pool();
    p.allocate('run-a', count(2));
    p.update([{ ...small }, { ...big, memoryUsedMb: 900 }]);
    expect([p.holder(0), p.holder(1)]).toEqual(['run-a', 'run-a']);
    expect(p.allocate('run-b', count(1))).toBeUndefined();
  });
});
