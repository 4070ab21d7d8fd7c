import { checkImageReference } from '../image-ref';
import { loadRed, validateRed } from '../validate';

const ok = (ref: string) => expect({ ref, ...checkImageReference(ref) }).toEqual({ ref, ok: true });
const refused = (ref: string, why: RegExp) => {
  const r = checkImageReference(ref);
  expect(r.ok).toBe(false);
  if (!r.ok) {
    expect(r.message).toMatch(why);
    expect(r.fix.length).toBeGreaterThan(10);
  }
};

describe('Docker image references', () => {
  it('takes what the engine takes', () => {
    ['busybox', 'redlab/busybox:1', 'redlab/debian-python:12', 'python:3.12-slim', 'localhost/x', 'localhost:5000/team/tool:2.0',
      'registry.example.org:5000/a/b/c:latest', 'a__b/c-d.e_f:TAG_1', 'Registry.Example.org/x',
      `busybox@sha256:${'a'.repeat(64)}`, `redlab/busybox:1@sha256:${'0'.repeat(64)}`, `sha256:${'f'.repeat(64)}`].forEach(ok);
  });

  it('says what is wrong with the others', () => {
    refused('Not A Valid Image!!', /contains spaces/);
    refused('MyImage:1', /lowercase/);
    refused('redlab/Busybox', /lowercase/);
    refused('redlab/busy box', /spaces/);
    refused(' busybox', /spaces/);
    refused('busybox!', /"busybox!" is not a valid part/);
    refused('busybox:-x', /tag "-x"/);
    refused(`busybox:${'t'.repeat(129)}`, /tag/);
    refused('busybox@sha256:xyz', /digest/);
    refused('redlab//busybox', /empty part/);
    refused('registry:port/x', /port/);
    refused(':1', /no image name/);
    refused('-busybox', /not a valid part/);
    refused('', /empty/);
  });

  it('is part of RED validation, at container.settings.image.url with a fix', () => {
    const red = {
      redVersion: '9',
      cli: { cwlVersion: 'v1.0', class: 'CommandLineTool', baseCommand: 'true', inputs: {}, outputs: {} },
      inputs: {},
      outputs: {},
      container: { engine: 'docker', settings: { image: { url: 'Not A Valid Image!!' }, ram: 256 } }
    };
    const issues = validateRed(red).filter(i => i.path === 'container.settings.image.url');
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatchObject({ severity: 'error', message: expect.stringMatching(/image "Not A Valid Image!!" contains spaces/), fix: expect.stringMatching(/name\[:tag\]/) });
    red.container.settings.image.url = 'redlab/busybox:1';
    expect(validateRed(red)).toEqual([]);
    const text = JSON.stringify({ ...red, container: { engine: 'docker', settings: { image: { url: 'Bad Image' } } } });
    expect(() => loadRed(text)).toThrow(/container\.settings\.image\.url.*image "Bad Image" contains spaces/s);
  });
});
