// The bridge's engine settings: --engines / REDLAB_ENGINES and --default-engine /
// REDLAB_DEFAULT_ENGINE, checked at start with errors that name the setting and the fix.
import { resolveBridgeOptions } from '../../src/bridge/config';
import { createEngines, resolveDockerHosts } from '../../src/bridge/engines';
import { defaultConnectors } from '../../src/connectors/registry';

const resolve = (flags: Parameters<typeof resolveBridgeOptions>[0], env: NodeJS.ProcessEnv = {}) => resolveBridgeOptions(flags, env, '/tmp');

describe('bridge options: engines', () => {
  it('leaves both unset by default (docker, and process when Docker is unreachable: createEngines decides)', () => {
    const o = resolve({});
    expect([o.engines, o.defaultEngine]).toEqual([undefined, undefined]);
  });

  it('reads a comma-separated list and a default from the flags, before the environment', () => {
    const o = resolve({ engines: 'docker, process', defaultEngine: 'process' }, { REDLAB_ENGINES: 'docker', REDLAB_DEFAULT_ENGINE: 'docker' });
    expect([o.engines, o.defaultEngine]).toEqual([['docker', 'process'], 'process']);
  });

  it('reads REDLAB_ENGINES and REDLAB_DEFAULT_ENGINE; empty values count as unset', () => {
    expect(resolve({}, { REDLAB_ENGINES: 'process', REDLAB_DEFAULT_ENGINE: 'process' })).toMatchObject({ engines: ['process'], defaultEngine: 'process' });
    const empty = resolve({}, { REDLAB_ENGINES: '', REDLAB_DEFAULT_ENGINE: '' });
    expect([empty.engines, empty.defaultEngine]).toEqual([undefined, undefined]);
  });

  it('refuses an engine there is not, naming the setting and the engines there are', () => {
    expect(() => resolve({ engines: 'docker,podman' })).toThrow('--engines: there is no engine "podman"; list some of docker, docker-ssh, process, slurm, kubernetes (e.g. docker,process)');
    expect(() => resolve({}, { REDLAB_ENGINES: 'Docker' })).toThrow('REDLAB_ENGINES: there is no engine "Docker"');
    expect(() => resolve({ defaultEngine: 'k8s' })).toThrow('--default-engine: there is no engine "k8s"; use one of docker, docker-ssh, process, slurm, kubernetes');
  });

  it('refuses a default the engines list leaves out', () => {
    expect(() => resolve({ engines: 'docker', defaultEngine: 'process' })).toThrow(
      '--default-engine is process, which --engines (docker) does not list: add it there, or choose one of those'
    );
    expect(() => resolve({}, { REDLAB_ENGINES: 'process', REDLAB_DEFAULT_ENGINE: 'docker' })).toThrow('REDLAB_DEFAULT_ENGINE is docker, which REDLAB_ENGINES (process) does not list');
  });
});

describe('Docker hosts: --docker-host / REDLAB_DOCKER_HOST / an ssh:// DOCKER_HOST', () => {
  it('an ssh:// address is the docker-ssh engine\'s, with the key and known_hosts from the flags, else the environment', () => {
    const env = { REDLAB_SSH_IDENTITY: '/env/key', REDLAB_SSH_KNOWN_HOSTS: '/env/known', REDLAB_DOCKER_HOST: 'tcp://other:2375' };
    expect(resolve({ dockerHost: 'ssh://alice@gpu.lab:2222', sshIdentity: '/flag/key' }, env).dockerHosts).toEqual({
      ssh: { target: 'ssh://alice@gpu.lab:2222', setting: '--docker-host', options: { identityFile: '/flag/key', knownHostsFile: '/env/known', env, setting: '--docker-host' } }
    });
    expect(resolve({}, { REDLAB_DOCKER_HOST: 'ssh://bob@box' }).dockerHosts.ssh).toMatchObject({ target: 'ssh://bob@box', setting: 'REDLAB_DOCKER_HOST' });
  });

  it('tcp:// or unix:// is the docker engine\'s own address; nothing set: DOCKER_HOST / the socket as before', () => {
    expect(resolve({ dockerHost: 'tcp://10.0.0.5:2375' }).dockerHosts).toEqual({ local: 'tcp://10.0.0.5:2375' });
    expect(resolve({}, { DOCKER_HOST: 'unix:///run/user/1000/docker.sock' }).dockerHosts).toEqual({});
  });

  it('an ssh:// DOCKER_HOST becomes the docker-ssh engine (docker-modem would check no host key); the docker engine keeps the local socket', () => {
    expect(resolveDockerHosts({}, { DOCKER_HOST: 'ssh://carol@remote' })).toMatchObject({ ssh: { target: 'ssh://carol@remote', setting: 'DOCKER_HOST' }, local: 'unix:///var/run/docker.sock' });
  });

  it('refuses an ssh:// address it cannot use, naming the setting', () => {
    expect(() => resolve({ dockerHost: 'ssh://gpu.lab' })).toThrow('--docker-host="ssh://gpu.lab" is not a usable SSH address: it names no user');
    expect(() => resolve({}, { DOCKER_HOST: 'ssh://a:pw@h' })).toThrow('DOCKER_HOST="ssh://a:pw@h" is not a usable SSH address: a password in the address is not supported');
  });
});

describe('createEngines with a Docker host over SSH', () => {
  const deps = { workRoot: '/tmp/redlab-unit-engines', connectors: defaultConnectors() };
  const ssh = (setting: string) => ({ ssh: { target: 'ssh://alice@192.0.2.1', setting, options: {} } });

  it('adds docker-ssh beside docker; the default stays docker unless DOCKER_HOST itself is ssh://', async () => {
    const added = await createEngines({ engines: ['docker', 'docker-ssh'] }, { ...deps, dockerHosts: ssh('--docker-host') });
    expect([added.names, added.defaultName]).toEqual([['docker', 'docker-ssh'], 'docker']);
    expect(added.get('docker-ssh').capabilities).toMatchObject({ bindMounts: false, isolated: true });
    const fromEnv = await createEngines({}, { ...deps, dockerHosts: ssh('DOCKER_HOST') });
    expect([fromEnv.names, fromEnv.defaultName]).toEqual([['docker', 'docker-ssh'], 'docker-ssh']);
    await added.close();
    await fromEnv.close();
  });

  it('docker-ssh without an ssh:// host is refused with the setting to give', async () => {
    await expect(createEngines({ engines: ['docker-ssh'] }, deps)).rejects.toThrow('the docker-ssh engine needs the Docker host to reach over SSH: --docker-host ssh://user@host (or REDLAB_DOCKER_HOST, or DOCKER_HOST)');
  });
});
