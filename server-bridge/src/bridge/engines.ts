// Which engines a bridge (or `redlab run`) has: the one place that names the backends.
// Docker always; `process` (no container, not isolated) only when asked for, or when no
// engines were named and Docker cannot be reached at start (mybinder.org): then it is
// the default, and the log says so.
import type Docker from 'dockerode';
import type { ConnectorRegistry } from '../connectors/registry';
import { DockerEngine } from '../engine/docker';
import { ProcessEngine } from '../engine/process';
import { EngineRegistry } from '../engine/registry';
import type { Engine } from '../engine/types';

export const ENGINE_NAMES = ['docker', 'process'] as const;
export type EngineName = (typeof ENGINE_NAMES)[number];

export function isEngineName(name: string): name is EngineName {
  return (ENGINE_NAMES as readonly string[]).includes(name);
}

export interface EngineDeps {
  /** Private work folder (<workRoot>/<runId>/batch-N) of every engine. */
  workRoot: string;
  connectors: ConnectorRegistry;
  /** A ready dockerode client for the Docker engine (else one from DOCKER_HOST / the socket). */
  docker?: Docker;
}

/** One engine by name. */
export function createEngine(name: EngineName, deps: EngineDeps): Engine {
  switch (name) {
    case 'docker':
      return new DockerEngine({ docker: deps.docker, workRoot: deps.workRoot, connectors: deps.connectors });
    case 'process':
      return new ProcessEngine({ workRoot: deps.workRoot, connectors: deps.connectors });
  }
}

export interface EngineChoice {
  /** The engines asked for (--engines / REDLAB_ENGINES); absent: docker, plus process when Docker is unreachable. */
  engines?: string[];
  /** --default-engine / REDLAB_DEFAULT_ENGINE. */
  defaultEngine?: string;
}

/** How long the start waits for Docker to answer before it counts as unreachable. */
const DOCKER_PROBE_MS = 5000;

async function dockerProblem(docker: Engine): Promise<string | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<{ available: false; error: string }>(resolve => {
    timer = setTimeout(() => resolve({ available: false, error: `the Docker engine did not answer within ${DOCKER_PROBE_MS / 1000} s` }), DOCKER_PROBE_MS);
  });
  const s = await Promise.race([docker.status(), timeout]);
  clearTimeout(timer);
  return s.available ? undefined : (s.error ?? 'the Docker engine is not available');
}

export async function createEngines(opts: EngineChoice, deps: EngineDeps & { log?: (message: string) => void }): Promise<EngineRegistry> {
  for (const n of [...(opts.engines ?? []), ...(opts.defaultEngine ? [opts.defaultEngine] : [])]) {
    if (!isEngineName(n)) throw new Error(`there is no engine "${n}"; the engines are ${ENGINE_NAMES.join(', ')}`);
  }
  const docker = createEngine('docker', deps);
  const named = opts.engines?.length ? opts.engines : undefined;
  let withProcess = !!named?.includes('process') || opts.defaultEngine === 'process';
  let defaultName = opts.defaultEngine ?? (named ? named[0] : 'docker');
  if (!named && !opts.defaultEngine) {
    const problem = await dockerProblem(docker);
    if (problem) {
      withProcess = true;
      defaultName = 'process';
      deps.log?.(
        `Docker is not reachable (${problem}): runs go to the "process" engine, which runs each command directly on this machine, ` +
          'without a container, image or limits (not isolated). Start Docker and restart the bridge to run in containers, ' +
          'or set REDLAB_ENGINES=docker to never use the process engine.'
      );
    }
  }
  const engines = [docker, ...(withProcess ? [createEngine('process', deps)] : [])];
  return new EngineRegistry(engines, defaultName);
}
