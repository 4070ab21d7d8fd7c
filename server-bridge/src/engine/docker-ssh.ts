// Docker on another host over SSH (DOCKER_HOST=ssh://user@host, --docker-host): the
// Docker engine's own pipeline on a client whose every request is a channel of one
// verified ssh connection (ssh-docker.ts), with inputs and outputs copied through the
// Docker API (container-files.ts) because the remote engine cannot see this host's
// folders. GPUs are those nvidia-smi reports on the remote host.
import type Docker from 'dockerode';
import { DockerEngine, type DockerConnection, type DockerEngineOptions } from './docker';
import { NVIDIA_SMI_ARGS, parseGpuCsv, type Gpu } from './gpu';
import { openSshDocker, parseSshTarget, type SshDocker, type SshDockerOptions } from './ssh-docker';

export const DOCKER_SSH_ENGINE = 'docker-ssh';

export type DockerSshEngineOptions = Omit<DockerEngineOptions, 'name' | 'connection' | 'files' | 'docker' | 'dockerHost' | 'socketPath'> & SshDockerOptions;

/**
 * One ssh connection for all of the engine's requests, opened when first needed and
 * opened again when it has dropped (the next request reconnects, verifying the host key again).
 */
export class SshConnection implements DockerConnection {
  private current?: Promise<SshDocker>;

  constructor(
    readonly target: string,
    private readonly opts: SshDockerOptions = {}
  ) {
    parseSshTarget(target, opts.setting); // a bad address is refused at once, not at the first run
  }

  connection(): Promise<SshDocker> {
    if (!this.current) {
      const opening = openSshDocker(this.target, this.opts);
      this.current = opening;
      const forget = () => {
        if (this.current === opening) this.current = undefined;
      };
      opening.then(c => c.client.once('close', forget), forget);
    }
    return this.current;
  }

  async client(): Promise<Docker> {
    return (await this.connection()).docker;
  }

  /** Runs `command` on the host (a session channel of the same connection): its exit code and stdout. */
  async exec(command: string, timeoutMs = 10_000): Promise<{ code: number | null; stdout: string }> {
    const { client } = await this.connection();
    return new Promise((resolve, reject) => {
      client.exec(command, (err, channel) => {
        if (err) return reject(err);
        let stdout = '';
        const timer = setTimeout(() => channel.close(), timeoutMs);
        channel.on('data', (d: Buffer) => (stdout += d.toString()));
        channel.stderr.resume();
        let code: number | null = null;
        channel.on('exit', (c: number | null) => (code = c));
        channel.on('close', () => {
          clearTimeout(timer);
          resolve({ code, stdout });
        });
      });
    });
  }

  async close(): Promise<void> {
    const open = this.current;
    this.current = undefined;
    (await open?.catch(() => undefined))?.close();
  }
}

/** The remote host's GPUs (nvidia-smi there); none when it has no nvidia-smi or it fails. */
export async function remoteGpuInventory(conn: SshConnection): Promise<Gpu[]> {
  const r = await conn.exec(`nvidia-smi ${NVIDIA_SMI_ARGS.join(' ')}`).catch(() => undefined);
  return r?.code === 0 ? parseGpuCsv(r.stdout) : [];
}

/** The `docker-ssh` engine on `target` (ssh://user@host[:port]). */
export function createDockerSshEngine(target: string, opts: DockerSshEngineOptions = {}): DockerEngine {
  const conn = new SshConnection(target, opts);
  return new DockerEngine({
    ...opts,
    name: DOCKER_SSH_ENGINE,
    note: `Docker on ${target} over SSH: inputs are copied there, outputs back`,
    location: target,
    connection: conn,
    files: 'copy',
    gpuInventory: opts.gpuInventory ?? (() => remoteGpuInventory(conn))
  });
}
