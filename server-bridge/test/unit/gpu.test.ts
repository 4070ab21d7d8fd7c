import { readFile } from 'fs/promises';
import { describeInventory, GpuSelectionError, NVIDIA_SMI_ARGS, parseGpuCsv, readGpuInventory, selectGpus, type Gpu } from '../../src/engine/gpu';
import { fakeNvidiaSmi } from '../helpers/fake-nvidia-smi';

const CSV = [
  '0, GPU-11111111-aaaa-bbbb-cccc-000000000000, NVIDIA A100-SXM4-40GB, 40960, 1024',
  '1, GPU-22222222-aaaa-bbbb-cccc-000000000000, NVIDIA GeForce RTX 3090, 24576, 0',
  '2, GPU-33333333-aaaa-bbbb-cccc-000000000000, Tesla T4, 15360, 15000'
].join('\n');

describe('parseGpuCsv', () => {
  it('reads index, uuid, name and memory in MB', () => {
    const gpus = parseGpuCsv(CSV);
    expect(gpus).toHaveLength(3);
    expect(gpus[0]).toEqual({ index: 0, uuid: 'GPU-11111111-aaaa-bbbb-cccc-000000000000', name: 'NVIDIA A100-SXM4-40GB', memoryTotalMb: 40960, memoryUsedMb: 1024 });
    expect(gpus[2].memoryUsedMb).toBe(15000);
  });

  it('keeps a name that holds a comma and skips lines it cannot read', () => {
    const gpus = parseGpuCsv('0, GPU-x, Quadro RTX, 8000 (rev 2), 8192, 10\n\nNVIDIA-SMI has failed\nfoo, bar, baz, qux, quux\n');
    expect(gpus).toEqual([{ index: 0, uuid: 'GPU-x', name: 'Quadro RTX, 8000 (rev 2)', memoryTotalMb: 8192, memoryUsedMb: 10 }]);
  });
});

describe('readGpuInventory', () => {
  it('runs nvidia-smi from PATH with the query arguments', async () => {
    const fake = await fakeNvidiaSmi(CSV);
    try {
      const gpus = await readGpuInventory({ env: fake.env });
      expect(gpus.map(g => g.name)).toEqual(['NVIDIA A100-SXM4-40GB', 'NVIDIA GeForce RTX 3090', 'Tesla T4']);
      expect((await readFile(fake.argsFile, 'utf8')).trim().split('\n')).toEqual(NVIDIA_SMI_ARGS);
    } finally {
      await fake.cleanup();
    }
  });

  it('is empty when nvidia-smi is missing or fails', async () => {
    expect(await readGpuInventory({ env: { ...process.env, PATH: '/nonexistent' } })).toEqual([]);
    const failing = await fakeNvidiaSmi('NVIDIA-SMI has failed because it could not communicate with the NVIDIA driver.', 9);
    try {
      expect(await readGpuInventory({ env: failing.env })).toEqual([]);
    } finally {
      await failing.cleanup();
    }
  });
});

describe('selectGpus', () => {
  const inv: Gpu[] = parseGpuCsv(CSV);

  it('asks for nothing without a requirement', () => {
    expect(selectGpus(undefined, inv)).toBeNull();
  });

  it('turns a count into a Count device request', () => {
    const s = selectGpus({ vendor: 'nvidia', count: 2 }, inv)!;
    expect(s.deviceRequests).toEqual([{ Driver: 'nvidia', Count: 2, Capabilities: [['gpu']] }]);
    expect(s.summary).toBe('2 GPUs');
  });

  it('leaves a count to Docker when nvidia-smi lists nothing', () => {
    expect(selectGpus({ vendor: 'nvidia', count: 1 }, [])!.deviceRequests[0].Count).toBe(1);
  });

  it('refuses a count larger than the inventory, naming both', () => {
    expect(() => selectGpus({ vendor: 'nvidia', count: 4 }, inv)).toThrow(GpuSelectionError);
    expect(() => selectGpus({ vendor: 'nvidia', count: 4 }, inv)).toThrow(/asks for 4 GPUs, but this machine has 3 GPUs: #0 NVIDIA A100-SXM4-40GB \(40960 MB\)/);
  });

  it('picks the smallest sufficient GPU for each vramMin, largest demand first', () => {
    const s = selectGpus({ vendor: 'nvidia', devices: [{ vramMin: 10000 }, { vramMin: 30000 }] }, inv)!;
    expect(s.deviceRequests).toEqual([{ Driver: 'nvidia', DeviceIDs: ['2', '0'], Capabilities: [['gpu']] }]);
    expect(s.selected.map(g => g.index)).toEqual([2, 0]);
    expect(s.summary).toBe('GPUs #2 Tesla T4 (15360 MB), #0 NVIDIA A100-SXM4-40GB (40960 MB)');
  });

  it('does not give one GPU twice', () => {
    const s = selectGpus({ vendor: 'nvidia', devices: [{ vramMin: 20000 }, { vramMin: 20000 }] }, inv)!;
    expect(s.deviceRequests[0].DeviceIDs).toEqual(['1', '0']);
    expect(() => selectGpus({ vendor: 'nvidia', devices: [{ vramMin: 20000 }, { vramMin: 20000 }, { vramMin: 20000 }] }, inv)).toThrow(
      /no free GPU has 20000 MB: this machine has 3 GPUs/
    );
  });

  it('explains vramMin with no GPUs at all', () => {
    expect(() => selectGpus({ vendor: 'nvidia', devices: [{ vramMin: 1024 }] }, [])).toThrow(
      'the RED asks for 1 GPU (vramMin 1024 MB), but nvidia-smi lists no GPUs on this machine (is the NVIDIA driver installed and nvidia-smi on PATH?)'
    );
    expect(describeInventory([])).toBe('nvidia-smi lists no GPUs on this machine');
  });
});
