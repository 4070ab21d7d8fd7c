// Container profiles: the RED panel's defaults, the notebook's experiment, its own changes
// (metadata redlab.sessionProfiles), what POST /sessions gets, and errors naming the field.
import { badgeText, readBinding } from '../binding';
import { createRequest, profileNames, resolveProfile, wantsGpu, withProfileChange } from '../profiles';

const DEFAULTS = { image: 'redlab/debian-python:12', ramMb: 1024, gpus: 0, engine: '' };

test('default and gpu from the settings: no GPU, then one GPU', () => {
  expect(resolveProfile('default', DEFAULTS, undefined)).toEqual({ name: 'default', image: 'redlab/debian-python:12', ramMb: 1024 });
  expect(resolveProfile('gpu', { ...DEFAULTS, gpus: 2, engine: 'docker' }, undefined)).toEqual({ name: 'gpu', image: 'redlab/debian-python:12', ramMb: 1024, engine: 'docker', gpus: { count: 2 } });
  expect(resolveProfile('gpu', DEFAULTS, {}).gpus).toEqual({ count: 1 });
});

test('the notebook’s experiment (the RED panel’s choices) gives image and RAM; its GPUs only to the gpu profile', () => {
  const meta = { experiment: { image: 'my/img:1', ramMb: 4096, gpus: { vramMinMb: 8000 } } };
  expect(resolveProfile('default', DEFAULTS, meta)).toEqual({ name: 'default', image: 'my/img:1', ramMb: 4096 });
  expect(resolveProfile('gpu', DEFAULTS, meta).gpus).toEqual({ vramMin: 8000 });
});

test('the notebook’s own profile changes win, and add profiles', () => {
  const meta = {
    experiment: { image: 'my/img:1', ramMb: 4096 },
    sessionProfiles: { default: { image: 'redlab/debian-scipy:12', cpus: 0.5, env: { OMP_NUM_THREADS: '2' } }, big: { ramMb: 65536, gpus: { vramMin: 40000 }, engine: 'remote' } }
  };
  expect(resolveProfile('default', DEFAULTS, meta)).toEqual({ name: 'default', image: 'redlab/debian-scipy:12', ramMb: 4096, cpus: 0.5, env: { OMP_NUM_THREADS: '2' } });
  expect(resolveProfile('big', DEFAULTS, meta)).toEqual({ name: 'big', image: 'my/img:1', ramMb: 65536, gpus: { vramMin: 40000 }, engine: 'remote' });
  expect(resolveProfile('gpu', DEFAULTS, { sessionProfiles: { gpu: { gpus: 0 } } }).gpus).toBeUndefined();
  expect(profileNames(meta)).toEqual(['default', 'gpu', 'big']);
});

test.each([
  [{ default: { ramMb: '2 GB' } }, 'redlab.sessionProfiles.default.ramMb must be a whole number of MB, e.g. 2048'],
  [{ default: { image: '' } }, 'redlab.sessionProfiles.default.image must be an image name'],
  [{ default: { cpus: 0 } }, 'redlab.sessionProfiles.default.cpus must be a number of CPUs above 0'],
  [{ default: { gpus: { count: 1, vramMin: 2 } } }, 'redlab.sessionProfiles.default.gpus must be a count (1)'],
  [{ default: { env: { 'BAD-NAME': 'x' } } }, 'redlab.sessionProfiles.default.env must map variable names'],
  [{ default: { env: { MODE: 'train', HF_TOKEN: 'hf_abc' } } }, "redlab.sessionProfiles.default.env.HF_TOKEN looks like a secret, and the notebook's metadata is saved in the notebook file"],
  [{ default: { memory: 3 } }, 'redlab.sessionProfiles.default.memory is not a profile field: use image, ramMb, cpus, gpus, env, engine'],
  [{ default: 'scipy' }, 'redlab.sessionProfiles.default in the notebook metadata must be an object']
])('a bad profile field names itself and the fix: %j', (profiles, message) => {
  expect(() => resolveProfile('default', DEFAULTS, { sessionProfiles: profiles })).toThrow(message);
});

test('an unknown profile name says which ones there are', () => {
  expect(() => resolveProfile('tpu', DEFAULTS, {})).toThrow('the notebook has no container profile "tpu": use "default" or "gpu", or add it to the notebook metadata redlab.sessionProfiles');
});

test('createRequest: the contract’s fields; no gpus, env or engine when there are none', () => {
  expect(createRequest(resolveProfile('default', DEFAULTS, undefined), 'a/b.ipynb')).toEqual({ image: 'redlab/debian-python:12', notebookPath: 'a/b.ipynb', profile: 'default', ram: 1024 });
  const p = resolveProfile('gpu', { ...DEFAULTS, engine: 'docker' }, { sessionProfiles: { gpu: { cpus: 2, env: { A: '1' } } } });
  expect(createRequest(p, 'b.ipynb')).toEqual({ image: 'redlab/debian-python:12', notebookPath: 'b.ipynb', profile: 'gpu', ram: 1024, cpus: 2, gpus: { count: 1 }, env: { A: '1' }, engine: 'docker' });
  expect(wantsGpu(p)).toBe(true);
  expect(wantsGpu({ gpus: { count: 0 } })).toBe(false);
});

test('withProfileChange keeps the rest of the notebook’s redlab metadata', () => {
  const meta = { experiment: { image: 'x' }, sessionProfiles: { gpu: { ramMb: 2048 } } };
  expect(withProfileChange(meta, 'default', { image: 'redlab/debian-scipy:12' })).toEqual({
    experiment: { image: 'x' },
    sessionProfiles: { gpu: { ramMb: 2048 }, default: { image: 'redlab/debian-scipy:12' } }
  });
  expect(meta.sessionProfiles).toEqual({ gpu: { ramMb: 2048 } });
  expect(withProfileChange(undefined, 'gpu', { image: 'a' })).toEqual({ sessionProfiles: { gpu: { image: 'a' } } });
});

test('a cell’s binding: run records’ redlab metadata is none; the badge says container or GPU and the image', () => {
  expect(readBinding({ runId: 'R1', since: 3, state: 'running' })).toBeUndefined();
  expect(readBinding(undefined)).toBeUndefined();
  expect(readBinding({ profile: 'gpu', image: 'i:1', gpu: true, sessionId: 'S', executionId: 'E', junk: 1 })).toEqual({ profile: 'gpu', image: 'i:1', gpu: true, sessionId: 'S', executionId: 'E' });
  expect(badgeText({ profile: 'default', image: 'redlab/debian-python:12' }).text).toBe('container · redlab/debian-python:12');
  const gpu = badgeText({ profile: 'gpu', image: 'i:1', gpu: true, executionId: 'E1', sessionId: 'S1' });
  expect(gpu.text).toBe('GPU container · i:1');
  expect(gpu.title).toContain('Last execution: E1 in session S1');
});
