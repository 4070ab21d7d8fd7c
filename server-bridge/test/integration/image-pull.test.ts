// A real `docker pull` from a loopback registry (the helper serves an image made
// from a local one): progress events, image.auth, ID and RepoDigest in the result.
import { randomUUID } from 'crypto';
import * as path from 'path';
import type { RunEvent } from '../../../src/red/run';
import { createDockerClient } from '../../src/engine/docker-client';
import { DockerEngine } from '../../src/engine/docker';
import { ensureImage } from '../../src/engine/image';
import { BUSYBOX, removeContainersWithLabel, removeTempDirs, request, tempDir } from '../helpers/red';
import { startLocalRegistry, type LocalRegistry } from '../helpers/local-registry';

// Real containers: seconds each, and much longer on a loaded machine than jest's default 5 s.
jest.setTimeout(60_000);

const docker = createDockerClient();
const TEST_LABEL = 'org.redlab.test';
const testId = randomUUID();
let registry: LocalRegistry;
const tags: string[] = [];

beforeAll(async () => {
  registry = await startLocalRegistry(docker, BUSYBOX, 'redlab-test/busybox', { auth: { username: 'puller', password: 'reg-pass-77' } });
});
afterAll(async () => {
  await removeContainersWithLabel(docker, TEST_LABEL, testId);
  for (const t of tags) await docker.getImage(t).remove().catch(() => undefined);
  await registry.close();
  await removeTempDirs();
});

describe('image pull', () => {
  it('pulls with image.auth, streams progress and records ID and RepoDigest', async () => {
    const url = `${registry.host}/redlab-test/busybox:${testId.slice(0, 8)}`;
    tags.push(url);
    const events: RunEvent[] = [];
    const dir = await tempDir('redlab-it-pull-');
    const red = `redVersion: "9"
cli:
  cwlVersion: v1.0
  class: CommandLineTool
  baseCommand: [echo, pulled]
  inputs: {}
  outputs: {}
inputs: {}
container:
  engine: docker
  settings:
    image:
      url: "${url}"
      auth: {username: puller, password: reg-pass-77}
`;
    const req = request(red, dir, { labels: { [TEST_LABEL]: testId } });
    const res = await new DockerEngine({ workRoot: path.join(dir, 'work') }).run(req, { onEvent: e => events.push(e) });
    expect(res.error).toBeUndefined();
    expect(res.state).toBe('succeeded');
    const local = await docker.getImage(BUSYBOX).inspect();
    expect(res.image).toEqual({ url, id: local.Id, digest: `${registry.host}/redlab-test/busybox@${registry.manifestDigest}`, pulled: true });
    const progress = events.filter((e): e is Extract<RunEvent, { type: 'pull-progress' }> => e.type === 'pull-progress');
    expect(progress.length).toBeGreaterThan(0);
    expect(progress.map(p => p.status)).toContain(`Digest: ${registry.manifestDigest}`);
    expect(registry.requests).toContain(`HEAD /v2/redlab-test/busybox/manifests/${testId.slice(0, 8)}`);
    // A second run finds it locally.
    const again = await ensureImage(docker, url);
    expect(again).toEqual({ url, id: local.Id, digest: res.image.digest, pulled: false });
  });

  it('wrong credentials: the registry refuses, the error says to check image.auth', async () => {
    const url = `${registry.host}/redlab-test/busybox:nope-${testId.slice(0, 8)}`;
    const err = await ensureImage(docker, url, { auth: { username: 'puller', password: 'wrong' } }).catch(e => e);
    expect(err.name).toBe('ImageUnavailableError');
    expect(err.reason).toBe('denied');
    expect(err.message).toMatch(new RegExp(`^image ${url} is not on this machine and could not be pulled: the registry refused the credentials \\(check container.settings.image.auth username and password\\)\\. Docker said: `));
  });

  it('an unknown repository on a reachable registry is "not found"', async () => {
    const url = `${registry.host}/redlab-test/other:1`;
    const err = await ensureImage(docker, url, { auth: { username: 'puller', password: 'reg-pass-77' } }).catch(e => e);
    expect(err.reason).toBe('not-found');
    expect(err.message).toContain('the registry has no such image');
  });
});
