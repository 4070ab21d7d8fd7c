// The bounds on container.settings numbers: one set of constants (limits.ts) that the
// JSON schemas, the validator's messages and the engine-memory check all agree with.
import * as fs from 'fs';
import * as path from 'path';
import { GPU_COUNT_MAX, RAM_MAX_MB, RAM_MIN_MB, RAM_RANGE_FIX, ramExceedsEngine, ramRangeProblem, VRAM_MAX_MB, VRAM_MIN_MB } from '../limits';
import { RedError, type RedIssue } from '../types';
import { loadRed, validateRed } from '../validate';

const ROOT = path.join(__dirname, '..', '..', '..');
const readJson = (p: string): any => JSON.parse(fs.readFileSync(path.join(ROOT, p), 'utf8'));

const redYaml = (settings: string) => `redVersion: "9"
cli:
  cwlVersion: v1.0
  class: CommandLineTool
  baseCommand: echo
  inputs: {}
  outputs: {}
inputs: {}
outputs: {}
container:
  engine: docker
  settings:
    image: { url: redlab/busybox:1 }
${settings
  .split('\n')
  .map(l => `    ${l}`)
  .join('\n')}
`;

/** The issues loadRed reports for a RED with these container.settings lines (fails when it loads). */
function issuesFor(settings: string): RedIssue[] {
  try {
    loadRed(redYaml(settings));
  } catch (e) {
    if (!(e instanceof RedError)) throw e;
    return e.issues.filter(i => i.severity === 'error');
  }
  throw new Error(`expected ${JSON.stringify(settings)} to be refused`);
}

describe('one set of bounds', () => {
  it('the RED schema writes the same numbers as limits.ts', () => {
    const defs = readJson('schema/red.schema.json').definitions;
    const ram = defs.dockerSettings.properties.ram;
    expect([ram.minimum, ram.maximum]).toEqual([RAM_MIN_MB, RAM_MAX_MB]);
    expect(defs.gpus.properties.count.maximum).toBe(GPU_COUNT_MAX);
    expect(defs.gpus.properties.devices.maxItems).toBe(GPU_COUNT_MAX);
    const vram = defs.gpus.properties.devices.items.properties.vramMin;
    expect([vram.minimum, vram.maximum]).toEqual([VRAM_MIN_MB, VRAM_MAX_MB]);
  });

  it('the extension setting for the default RAM has the same range', () => {
    const setting = readJson('schema/plugin/plugin.json').properties.defaultRamMb;
    expect([setting.minimum, setting.maximum]).toEqual([RAM_MIN_MB, RAM_MAX_MB]);
  });

  it('the descriptions name the bounds the schema enforces', () => {
    const defs = readJson('schema/red.schema.json').definitions;
    expect(defs.dockerSettings.properties.ram.description).toContain(`from ${RAM_MIN_MB} to ${RAM_MAX_MB}`);
    expect(defs.gpus.properties.devices.items.properties.vramMin.description).toContain(`from ${VRAM_MIN_MB} to ${VRAM_MAX_MB}`);
  });
});

describe('container.settings.ram', () => {
  it('too little and too much get the same fix', () => {
    const low = issuesFor('ram: 16');
    expect(low).toEqual([expect.objectContaining({ path: 'container.settings.ram', message: `must be at least ${RAM_MIN_MB}, found 16`, fix: RAM_RANGE_FIX })]);
    const high = issuesFor('ram: 1e12');
    expect(high).toEqual([expect.objectContaining({ path: 'container.settings.ram', message: `must be at most ${RAM_MAX_MB}, found 1000000000000`, fix: RAM_RANGE_FIX })]);
    expect(RAM_RANGE_FIX).toContain(`from ${RAM_MIN_MB} to ${RAM_MAX_MB}`);
  });

  it('the bounds themselves are valid', () => {
    expect(() => loadRed(redYaml(`ram: ${RAM_MIN_MB}`))).not.toThrow();
    expect(() => loadRed(redYaml(`ram: ${RAM_MAX_MB}`))).not.toThrow();
    expect(issuesFor(`ram: ${RAM_MAX_MB + 1}`)[0].message).toBe(`must be at most ${RAM_MAX_MB}, found ${RAM_MAX_MB + 1}`);
  });

  it.each(['.inf', '-.inf', '.nan', '1e400'])('non-finite ram %s is refused', text => {
    const [issue] = issuesFor(`ram: ${text}`);
    expect(issue.path).toBe('container.settings.ram');
    expect(issue.message).toMatch(/must be a whole number|must be at (least|most)/);
  });

  it('JSON Infinity (1e400) is refused too', () => {
    const red = JSON.parse(JSON.stringify(loadRed(redYaml('ram: 512')).red).replace('"ram":512', '"ram":1e400'));
    expect(red.container.settings.ram).toBe(Infinity);
    expect(validateRed(red).filter(i => i.path === 'container.settings.ram' && i.severity === 'error').length).toBeGreaterThan(0);
  });

  it('ramRangeProblem says what the validator says', () => {
    expect(ramRangeProblem(100)).toBe(`must be at least ${RAM_MIN_MB}, found 100`);
    expect(ramRangeProblem(1e12)).toBe(`must be at most ${RAM_MAX_MB}, found 1000000000000`);
    expect(ramRangeProblem(Infinity)).toBe('must be a whole number, found Infinity');
    expect(ramRangeProblem(NaN)).toBe('must be a whole number, found NaN');
    expect(ramRangeProblem(512.5)).toBe('must be a whole number, found 512.5');
    expect(ramRangeProblem(1024)).toBeUndefined();
  });
});

describe('GPUs', () => {
  it('an absurd count is refused with the range', () => {
    const [issue] = issuesFor('gpus: { vendor: nvidia, count: 1000000000 }');
    expect(issue).toMatchObject({ path: 'container.settings.gpus.count', message: `must be at most ${GPU_COUNT_MAX}, found 1000000000`, fix: `ask for 1 to ${GPU_COUNT_MAX} GPUs` });
    expect(issuesFor('gpus: { vendor: nvidia, count: .inf }')[0].path).toBe('container.settings.gpus.count');
  });

  it('more device entries than GPUs a RED may ask for', () => {
    const devices = Array.from({ length: GPU_COUNT_MAX + 1 }, () => '{}').join(', ');
    const [issue] = issuesFor(`gpus: { vendor: nvidia, devices: [${devices}] }`);
    expect(issue).toMatchObject({ path: 'container.settings.gpus.devices', message: `must list at most ${GPU_COUNT_MAX} items, found ${GPU_COUNT_MAX + 1}` });
  });

  it('vramMin out of range, either way, gets its range', () => {
    const fix = `vramMin is in MB, a whole number from ${VRAM_MIN_MB} to ${VRAM_MAX_MB} (1 TiB)`;
    expect(issuesFor('gpus: { vendor: nvidia, devices: [{ vramMin: 1e12 }] }')).toEqual([
      expect.objectContaining({ path: 'container.settings.gpus.devices.0.vramMin', message: `must be at most ${VRAM_MAX_MB}, found 1000000000000`, fix })
    ]);
    expect(issuesFor('gpus: { vendor: nvidia, devices: [{ vramMin: 16 }] }')).toEqual([expect.objectContaining({ message: `must be at least ${VRAM_MIN_MB}, found 16`, fix })]);
    expect(issuesFor('gpus: { vendor: nvidia, devices: [{ vramMin: .nan }] }')[0].path).toBe('container.settings.gpus.devices.0.vramMin');
  });
});

describe('ramExceedsEngine', () => {
  const GiB = 1024 ** 3;

  it('names the request, the engine memory and the fix', () => {
    const over = ramExceedsEngine(1_000_000, 16 * GiB);
    expect(over?.message).toBe(
      'container.settings.ram asks for 1000000 MB (977 GiB), more than the Docker engine\'s memory of 16384 MB (16 GiB, docker info MemTotal 17179869184 bytes)'
    );
    expect(over?.fix).toBe('lower container.settings.ram to at most 16384 (MB), or run it on an engine with more memory');
  });

  it('all of the engine memory fits; one MB more does not', () => {
    const memTotal = 16 * GiB + 123_456; // not a whole number of MB
    expect(ramExceedsEngine(16384, memTotal)).toBeUndefined();
    expect(ramExceedsEngine(16385, memTotal)?.fix).toContain('at most 16384 (MB)');
  });

  it('an engine that does not report its memory is not checked', () => {
    expect(ramExceedsEngine(1_000_000, 0)).toBeUndefined();
    expect(ramExceedsEngine(1_000_000, NaN)).toBeUndefined();
  });
});
