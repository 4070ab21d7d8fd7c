import { classifyPullError, dockerMessage, registryOf, repositoryOf, toAuthConfig } from '../../src/engine/image';
import { connectDocker, dockerTarget, dockerUnavailable, DockerUnavailableError } from '../../src/engine/docker-client';

describe('image references', () => {
  it('finds the registry and repository', () => {
    expect(registryOf('ubuntu:22.04')).toBeUndefined();
    expect(registryOf('team/tool:1')).toBeUndefined();
    expect(registryOf('registry.example.org:5000/team/tool:1')).toBe('registry.example.org:5000');
    expect(registryOf('localhost/tool')).toBe('localhost');
    expect(repositoryOf('registry.example.org:5000/team/tool:1')).toBe('registry.example.org:5000/team/tool');
    expect(repositoryOf('tool@sha256:abc')).toBe('tool');
  });

  it('turns image.auth into an X-Registry-Auth object', () => {
    expect(toAuthConfig('ghcr.io/x/y:1', { username: 'u', password: 'p' })).toEqual({ username: 'u', password: 'p', serveraddress: 'ghcr.io' });
    expect(toAuthConfig('x/y:1', { username: 'u', password: 'p' })).toEqual({ username: 'u', password: 'p', serveraddress: 'https://index.docker.io/v1/' });
    expect(toAuthConfig('x/y:1', undefined)).toBeUndefined();
  });

  it('classifies pull failures by what Docker says', () => {
    expect(classifyPullError('Get "https://registry-1.docker.io/v2/": dial tcp: lookup registry-1.docker.io on 10.0.0.53:53: no such host')).toBe('unreachable');
    expect(classifyPullError('Get "http://localhost:5999/v2/": dial tcp 127.0.0.1:5999: connect: connection refused')).toBe('unreachable');
    expect(classifyPullError("pull access denied for foo, repository does not exist or may require 'docker login': denied: requested access to the resource is denied")).toBe('not-found');
    expect(classifyPullError('manifest for foo:9 not found: manifest unknown: manifest unknown')).toBe('not-found');
    expect(classifyPullError('Head "https://ghcr.io/v2/x/manifests/1": unauthorized')).toBe('denied');
    expect(classifyPullError('something else')).toBe('other');
    expect(dockerMessage(Object.assign(new Error('(HTTP code 500) server error - boom'), { json: { message: 'boom' } }))).toBe('boom');
    expect(dockerMessage(new Error('(HTTP code 404) no such image - no such image: x'))).toBe('no such image: x');
  });
});

describe('docker client', () => {
  it('names the engine it will try', () => {
    expect(dockerTarget({ env: {} })).toBe('unix:///var/run/docker.sock');
    expect(dockerTarget({ env: { DOCKER_HOST: 'tcp://10.0.0.2:2375' } })).toBe('tcp://10.0.0.2:2375');
    expect(dockerTarget({ socketPath: '/run/user/1000/docker.sock' })).toBe('unix:///run/user/1000/docker.sock');
  });

  it('explains permission problems differently from a stopped engine', () => {
    const denied = dockerUnavailable(Object.assign(new Error('connect EACCES'), { code: 'EACCES' }), 'unix:///var/run/docker.sock');
    expect(denied).toBeInstanceOf(DockerUnavailableError);
    expect(denied.message).toBe(
      'cannot reach the Docker engine at unix:///var/run/docker.sock: permission denied on the socket. To fix: add your user to the docker group (`sudo usermod -aG docker $USER`, then log in again), run as root, or set DOCKER_HOST to an engine you may use.'
    );
    expect(dockerUnavailable(Object.assign(new Error('x'), { code: 'ECONNREFUSED' }), 'tcp://h:2375').message).toBe(
      'cannot reach the Docker engine at tcp://h:2375: connection refused (the engine is not running). To fix: start Docker: `sudo systemctl start docker` or `sudo dockerd &`; or set DOCKER_HOST to a running engine.'
    );
  });

  it('rejects with DockerUnavailableError when nothing listens', async () => {
    const err = await connectDocker({ socketPath: '/nonexistent/docker.sock' }).catch(e => e);
    expect(err).toBeInstanceOf(DockerUnavailableError);
    expect(err.target).toBe('unix:///nonexistent/docker.sock');
    expect(err.code).toBe('ENOENT');
  });
});
