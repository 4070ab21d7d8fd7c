// The Docker client: dockerode on DOCKER_HOST (tcp://, unix://) or the
// local socket. Failing to reach an engine is a DockerUnavailableError whose
// message names what was tried and how to start one.
import Docker from 'dockerode';
import * as http from 'http';

export const DEFAULT_DOCKER_SOCKET = '/var/run/docker.sock';

export class DockerUnavailableError extends Error {
  constructor(
    message: string,
    /** The engine address tried: DOCKER_HOST or unix://<socket>. */
    readonly target: string,
    readonly code?: string
  ) {
    super(message);
    this.name = 'DockerUnavailableError';
  }
}

export interface DockerClientOptions {
  /** Overrides DOCKER_HOST, e.g. `unix:///run/user/1000/docker.sock` or `tcp://host:2375`. */
  dockerHost?: string;
  /** A local socket path (wins over dockerHost). */
  socketPath?: string;
  env?: NodeJS.ProcessEnv;
}

/** Where the client will connect, as a person would write it. */
export function dockerTarget(opts: DockerClientOptions = {}): string {
  if (opts.socketPath) return `unix://${opts.socketPath}`;
  const host = opts.dockerHost ?? (opts.env ?? process.env).DOCKER_HOST;
  return host ? host : `unix://${DEFAULT_DOCKER_SOCKET}`;
}

/** A client on a local socket; no keep-alive, so an idle client never holds the process open. */
function socketClient(socketPath: string): Docker {
  return new Docker({ socketPath, agent: new http.Agent({ keepAlive: false }) } as Docker.DockerOptions);
}

/** A dockerode client (not yet connected). */
export function createDockerClient(opts: DockerClientOptions = {}): Docker {
  if (opts.socketPath) return socketClient(opts.socketPath);
  const host = opts.dockerHost ?? (opts.env ?? process.env).DOCKER_HOST;
  if (!host) return socketClient(DEFAULT_DOCKER_SOCKET);
  if (host.startsWith('unix://')) return socketClient(host.slice('unix://'.length) || DEFAULT_DOCKER_SOCKET);
  // docker-modem's own ssh transport checks no host key: the docker-ssh engine (ssh-docker.ts) verifies it.
  if (/^ssh:\/\//i.test(host)) throw new Error(`${host} is reached over SSH by the docker-ssh engine, which checks the host key: use --engine docker-ssh (redlab run) or let the bridge add it`);
  if (opts.dockerHost === undefined) return new Docker(); // docker-modem reads DOCKER_HOST, DOCKER_TLS_VERIFY, DOCKER_CERT_PATH
  const u = new URL(host.includes('//') ? host : `tcp://${host}`);
  const protocol = u.port === '2376' ? 'https' : 'http';
  return new Docker({ host: u.hostname, port: u.port || (protocol === 'https' ? 2376 : 2375), protocol, username: u.username || undefined } as Docker.DockerOptions);
}

const START_HINT = 'start Docker: `sudo systemctl start docker` or `sudo dockerd &`; or set DOCKER_HOST to a running engine';

/** Turns a connection failure into a DockerUnavailableError with a fix. */
export function dockerUnavailable(err: unknown, target: string): DockerUnavailableError {
  const e = err as NodeJS.ErrnoException;
  const code = e?.code;
  let why: string;
  let fix = START_HINT;
  switch (code) {
    case 'ENOENT':
      why = 'no such socket (is Docker installed and running?)';
      break;
    case 'ECONNREFUSED':
      why = 'connection refused (the engine is not running)';
      break;
    case 'EACCES':
      why = 'permission denied on the socket';
      fix = 'add your user to the docker group (`sudo usermod -aG docker $USER`, then log in again), run as root, or set DOCKER_HOST to an engine you may use';
      break;
    case 'ETIMEDOUT':
      why = 'no answer in time';
      break;
    default:
      why = e?.message ?? String(err);
  }
  return new DockerUnavailableError(`cannot reach the Docker engine at ${target}: ${why}. To fix: ${fix}.`, target, code);
}

/** Pings the engine (with a timeout); resolves with the client or rejects with DockerUnavailableError. */
export async function connectDocker(opts: DockerClientOptions & { timeoutMs?: number; docker?: Docker } = {}): Promise<Docker> {
  const target = dockerTarget(opts);
  let docker: Docker;
  try {
    docker = opts.docker ?? createDockerClient(opts);
  } catch (err) {
    throw new DockerUnavailableError(`cannot use DOCKER_HOST=${target}: ${(err as Error).message}`, target);
  }
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      docker.ping(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' })), opts.timeoutMs ?? 10_000);
      })
    ]);
  } catch (err) {
    throw dockerUnavailable(err, target);
  } finally {
    clearTimeout(timer);
  }
  return docker;
}
