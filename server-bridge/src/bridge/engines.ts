// Which engines a bridge (or `redlab run`) has: the one place that names the backends.
// Docker always; `docker-ssh` (Docker on another host over SSH) when an ssh:// Docker host
// is set; `process` (no container, not isolated) only when asked for, or when no engines
// were named and no Docker can be reached at start (mybinder.org): then it is the
// default, and the log says so. `slurm` (batches as Slurm jobs, on a login node) and
// `kubernetes` (batches as Jobs) only when named: in --engines, or by a RED's execution.engine
// for `redlab run`.
import type Docker from 'dockerode';
import type { ConnectorRegistry } from '../connectors/registry';
import { DEFAULT_DOCKER_SOCKET } from '../engine/docker-client';
import { DockerEngine } from '../engine/docker';
import { createDockerSshEngine, DOCKER_SSH_ENGINE } from '../engine/docker-ssh';
import { parseSshTarget, type SshDockerOptions } from '../engine/ssh-docker';
import { ProcessEngine } from '../engine/process';
import { SLURM_ENGINE, SlurmEngine } from '../engine/slurm/slurm-engine';
import { createKubernetesEngine, KUBERNETES_ENGINE_NAME } from '../engine/kubernetes/kubernetes-engine';
import { EngineRegistry } from '../engine/registry';
import type { Engine } from '../engine/types';
import type { SlurmSettings } from '../engine/slurm/settings';

export const ENGINE_NAMES = ['docker', DOCKER_SSH_ENGINE, 'process', SLURM_ENGINE, KUBERNETES_ENGINE_NAME] as const;
export type EngineName = (typeof ENGINE_NAMES)[number];

export function isEngineName(name: string): name is EngineName {
  return (ENGINE_NAMES as readonly string[]).includes(name);
}

/** Where the Docker engines connect (resolveDockerHosts). */
export interface DockerHosts {
  /** The docker-ssh engine's host, the setting it came from (named in errors) and the ssh key and known_hosts to use. */
  ssh?: { target: string; setting: string; options: SshDockerOptions };
  /** The docker engine's tcp:// or unix:// address; absent: DOCKER_HOST, else the local socket. */
  local?: string;
}

export interface DockerHostSettings {
  /** --docker-host: ssh://user@host[:port] adds the docker-ssh engine; tcp:// or unix:// is the docker engine's. */
  dockerHost?: string;
  /** --ssh-identity: the private key to log in with (default ~/.ssh/id_* and the ssh agent). */
  sshIdentity?: string;
  /** --ssh-known-hosts: the known_hosts the host key is checked against (default ~/.ssh/known_hosts). */
  sshKnownHosts?: string;
}

/**
 * The Docker hosts from flags, then REDLAB_DOCKER_HOST / REDLAB_SSH_IDENTITY /
 * REDLAB_SSH_KNOWN_HOSTS, then an ssh:// DOCKER_HOST (which then is not the local engine's:
 * docker-modem's own ssh transport checks no host key). A bad ssh:// address is refused here.
 */
export function resolveDockerHosts(flags: DockerHostSettings, env: NodeJS.ProcessEnv = process.env): DockerHosts {
  const given = flags.dockerHost ?? (env.REDLAB_DOCKER_HOST || undefined);
  const setting = flags.dockerHost !== undefined ? '--docker-host' : 'REDLAB_DOCKER_HOST';
  const options: SshDockerOptions = {
    identityFile: flags.sshIdentity ?? (env.REDLAB_SSH_IDENTITY || undefined),
    knownHostsFile: flags.sshKnownHosts ?? (env.REDLAB_SSH_KNOWN_HOSTS || undefined),
    env
  };
  const ssh = (target: string, from: string) => {
    parseSshTarget(target, from);
    return { target, setting: from, options: { ...options, setting: from } };
  };
  if (given && /^ssh:\/\//i.test(given)) return { ssh: ssh(given, setting) };
  if (given) return { local: given };
  if (env.DOCKER_HOST && /^ssh:\/\//i.test(env.DOCKER_HOST)) return { ssh: ssh(env.DOCKER_HOST, 'DOCKER_HOST'), local: `unix://${DEFAULT_DOCKER_SOCKET}` };
  return {};
}

/** The site's Slurm defaults from the environment (a RED's execution.settings go over them). */
export function slurmDefaults(env: NodeJS.ProcessEnv): SlurmSettings {
  const s: SlurmSettings = {};
  if (env.REDLAB_SLURM_WORK_DIR) s.workDir = env.REDLAB_SLURM_WORK_DIR;
  if (env.REDLAB_SLURM_PARTITION) s.partition = env.REDLAB_SLURM_PARTITION;
  if (env.REDLAB_SLURM_ACCOUNT) s.account = env.REDLAB_SLURM_ACCOUNT;
  if (env.REDLAB_SLURM_TIME_LIMIT) s.timeLimit = env.REDLAB_SLURM_TIME_LIMIT;
  return s;
}

export interface EngineDeps {
  /** Private work folder (<workRoot>/<runId>/batch-N) of every engine. */
  workRoot: string;
  connectors: ConnectorRegistry;
  /** A ready dockerode client for the Docker engine (else one from DOCKER_HOST / the socket). */
  docker?: Docker;
  dockerHosts?: DockerHosts;
  /** Where engine settings from the environment are read (default process.env). */
  env?: NodeJS.ProcessEnv;
}

/** One engine by name. */
export function createEngine(name: EngineName, deps: EngineDeps): Engine {
  switch (name) {
    case 'docker':
      return new DockerEngine({ docker: deps.docker, dockerHost: deps.dockerHosts?.local, workRoot: deps.workRoot, connectors: deps.connectors });
    case DOCKER_SSH_ENGINE: {
      const ssh = deps.dockerHosts?.ssh;
      if (!ssh) throw new Error(`the ${DOCKER_SSH_ENGINE} engine needs the Docker host to reach over SSH: --docker-host ssh://user@host (or REDLAB_DOCKER_HOST, or DOCKER_HOST)`);
      return createDockerSshEngine(ssh.target, { ...ssh.options, workRoot: deps.workRoot, connectors: deps.connectors });
    }
    case 'process':
      return new ProcessEngine({ workRoot: deps.workRoot, connectors: deps.connectors });
    case SLURM_ENGINE:
      // Its work folder must be one the nodes share: REDLAB_SLURM_WORK_DIR (or the RED's workDir), else the work root.
      return new SlurmEngine({
        workRoot: deps.workRoot,
        connectors: deps.connectors,
        dockerHost: deps.dockerHosts?.local,
        settings: slurmDefaults(deps.env ?? process.env)
      });
    case KUBERNETES_ENGINE_NAME:
      return createKubernetesEngine({ workRoot: deps.workRoot, connectors: deps.connectors });
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
  const ssh = deps.dockerHosts?.ssh;
  const withSsh = named ? named.includes(DOCKER_SSH_ENGINE) || opts.defaultEngine === DOCKER_SSH_ENGINE : !!ssh || opts.defaultEngine === DOCKER_SSH_ENGINE;
  let withProcess = !!named?.includes('process') || opts.defaultEngine === 'process';
  // DOCKER_HOST=ssh://… says where Docker is: runs go there unless told otherwise.
  let defaultName = opts.defaultEngine ?? (named ? named[0] : ssh?.setting === 'DOCKER_HOST' ? DOCKER_SSH_ENGINE : 'docker');
  if (!named && !opts.defaultEngine && defaultName === 'docker') {
    const problem = await dockerProblem(docker);
    if (problem && ssh) {
      defaultName = DOCKER_SSH_ENGINE;
      deps.log?.(`the local Docker engine is not reachable (${problem}): runs go to the ${DOCKER_SSH_ENGINE} engine (${ssh.target}) unless they name another`);
    } else if (problem) {
      withProcess = true;
      defaultName = 'process';
      deps.log?.(
        `Docker is not reachable (${problem}): runs go to the "process" engine, which runs each command directly on this machine, ` +
          'without a container, image or limits (not isolated). Start Docker and restart the bridge to run in containers, ' +
          'or set REDLAB_ENGINES=docker to never use the process engine.'
      );
    }
  }
  const clusters = ([SLURM_ENGINE, KUBERNETES_ENGINE_NAME] as const).filter(n => named?.includes(n) || opts.defaultEngine === n);
  const engines = [
    docker,
    ...(withSsh ? [createEngine(DOCKER_SSH_ENGINE, deps)] : []),
    ...(withProcess ? [createEngine('process', deps)] : []),
    ...clusters.map(n => createEngine(n, deps))
  ];
  return new EngineRegistry(engines, defaultName);
}
