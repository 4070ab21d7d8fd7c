import { bindSpec, buildCreateOptions, DEFAULT_RAM_MB, LABEL_BATCH, LABEL_MANAGED, LABEL_RUN, type ContainerPlan } from '../../src/engine/host-config';
import { selectGpus } from '../../src/engine/gpu';

const plan = (over: Partial<ContainerPlan> = {}): ContainerPlan => ({
  image: 'sha256:abc',
  cmd: ['grep', '-c', 'hello', '/cc/inputs/file/file'],
  ramMb: 256,
  inputBinds: [{ hostPath: '/tmp/w/batch-0/inputs/file/file', containerPath: '/cc/inputs/file/file', readOnly: false }],
  outputsHostDir: '/tmp/w/batch-0/outputs',
  runId: 'run-1',
  batch: 0,
  ...over
});

describe('buildCreateOptions', () => {
  it('locks the container down', () => {
    const o = buildCreateOptions(plan());
    const hc = o.HostConfig!;
    expect(hc.CapDrop).toEqual(['ALL']);
    expect(hc.CapAdd).toBeUndefined();
    expect(hc.SecurityOpt).toEqual(['no-new-privileges']);
    expect(hc.Privileged).toBe(false);
    expect(hc.Init).toBe(true);
    expect(hc.PidsLimit).toBe(4096);
    expect(hc.LogConfig).toEqual({ Type: 'json-file', Config: { 'max-size': '100m', 'max-file': '10', compress: 'true' } });
    expect(hc.NetworkMode).toBeUndefined();
    expect(hc.Devices).toBeUndefined();
    expect(hc.DeviceRequests).toBeUndefined();
    expect(o.Tty).toBe(false);
    expect(o.OpenStdin).toBe(false);
  });

  it('limits memory with no swap on top', () => {
    const hc = buildCreateOptions(plan()).HostConfig!;
    expect(hc.Memory).toBe(256 * 1024 * 1024);
    expect(hc.MemorySwap).toBe(256 * 1024 * 1024);
    const dflt = buildCreateOptions(plan({ ramMb: undefined })).HostConfig!;
    expect(dflt.Memory).toBe(DEFAULT_RAM_MB * 1024 * 1024);
    expect(buildCreateOptions(plan({ ramMb: null })).HostConfig!.Memory).toBe(0);
    expect(() => buildCreateOptions(plan({ ramMb: 2 }))).toThrow('container.settings.ram must be at least 256, found 2: ram is in MB');
  });

  it('binds inputs read-only (whatever staging asked) and only the outputs folder read-write', () => {
    const hc = buildCreateOptions(plan()).HostConfig!;
    expect(hc.Binds).toEqual(['/tmp/w/batch-0/inputs/file/file:/cc/inputs/file/file:ro', '/tmp/w/batch-0/outputs:/cc/outputs:rw']);
    expect(hc.Mounts).toBeUndefined();
    expect(hc.VolumesFrom).toBeUndefined();
  });

  it('runs the argv in /cc/outputs without a shell and clears the ENTRYPOINT by default', () => {
    const o = buildCreateOptions(plan());
    expect(o.Cmd).toEqual(['grep', '-c', 'hello', '/cc/inputs/file/file']);
    expect(o.WorkingDir).toBe('/cc/outputs');
    expect(o.Entrypoint).toEqual([]);
    expect('Entrypoint' in buildCreateOptions(plan({ entrypoint: 'image' }))).toBe(false);
    expect(o.User).toBeUndefined();
    expect(buildCreateOptions(plan({ user: '1000:1000' })).User).toBe('1000:1000');
  });

  it('labels the container, and extra labels cannot override RED Lab ones', () => {
    const o = buildCreateOptions(plan({ batch: 3, labels: { 'org.redlab.bridge-run': 'b-7', [LABEL_RUN]: 'spoofed', [LABEL_MANAGED]: 'false' } }));
    expect(o.Labels).toEqual({ 'org.redlab.bridge-run': 'b-7', [LABEL_MANAGED]: 'true', [LABEL_RUN]: 'run-1', [LABEL_BATCH]: '3' });
  });

  it('adds GPU device requests from the selection', () => {
    const gpus = selectGpus({ vendor: 'nvidia', count: 1 }, []);
    expect(buildCreateOptions(plan({ gpus })).HostConfig!.DeviceRequests).toEqual([{ Driver: 'nvidia', Count: 1, Capabilities: [['gpu']] }]);
  });

  it('refuses bind paths Docker cannot parse and an empty command', () => {
    expect(() => bindSpec({ hostPath: '/data/a:b', containerPath: '/cc/inputs/x/x', readOnly: true })).toThrow("bind mount path /data/a:b contains ':'");
    expect(() => bindSpec({ hostPath: 'relative', containerPath: '/cc/inputs/x/x', readOnly: true })).toThrow('must be absolute');
    expect(() => buildCreateOptions(plan({ cmd: [] }))).toThrow('the command is empty');
  });
});
