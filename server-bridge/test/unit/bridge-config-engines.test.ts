// The bridge's engine settings: --engines / REDLAB_ENGINES and --default-engine /
// REDLAB_DEFAULT_ENGINE, checked at start with errors that name the setting and the fix.
import { resolveBridgeOptions } from '../../src/bridge/config';

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
    expect(() => resolve({ engines: 'docker,podman' })).toThrow('--engines: there is no engine "podman"; list some of docker, process (e.g. docker,process)');
    expect(() => resolve({}, { REDLAB_ENGINES: 'Docker' })).toThrow('REDLAB_ENGINES: there is no engine "Docker"');
    expect(() => resolve({ defaultEngine: 'k8s' })).toThrow('--default-engine: there is no engine "k8s"; use one of docker, process');
  });

  it('refuses a default the engines list leaves out', () => {
    expect(() => resolve({ engines: 'docker', defaultEngine: 'process' })).toThrow(
      '--default-engine is process, which --engines (docker) does not list: add it there, or choose one of those'
    );
    expect(() => resolve({}, { REDLAB_ENGINES: 'process', REDLAB_DEFAULT_ENGINE: 'docker' })).toThrow('REDLAB_DEFAULT_ENGINE is docker, which REDLAB_ENGINES (process) does not list');
  });
});
