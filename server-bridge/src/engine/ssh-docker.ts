// A Docker engine on another host, reached over ONE verified SSH connection (issue 9;
// a second only while every channel of the first stays in use, see acquire below).
// docker-modem's own ssh transport checks no host key, logs in only through SSH_AUTH_SOCK
// and opens a new ssh connection for every API call; instead this opens one ssh2 Client,
// verifies the host key against known_hosts as OpenSSH does (plain and hashed names,
// `[host]:port`), and gives dockerode an http.Agent whose every connection is a
// `docker system dial-stdio` exec channel on that one Client, kept alive for the next
// request (starting dial-stdio there costs ~50 ms; a run makes a dozen requests).
import Docker from 'dockerode';
import * as fs from 'fs';
import * as http from 'http';
import * as os from 'os';
import * as path from 'path';
import type { AuthMethod, Client, ClientChannel, ConnectConfig, ParsedKey } from 'ssh2';
import { Duplex } from 'stream';
import { hostKeyVerification, keyFingerprint, KnownHostsError, readKnownHosts, unreachableReason, type KnownHosts } from '../util/ssh-host-keys';

// The known_hosts checks live in util/ssh-host-keys (shared with the SSH data connector); re-exported for callers here.
export {
  checkHostKey,
  entryMatchesHost,
  hostKeyAlgorithmsFor,
  keyFingerprint,
  keyTypeOf,
  knownHostsName,
  parseKnownHosts,
  readKnownHosts,
  type HostKeyVerdict,
  type KnownHostEntry,
  type KnownHosts
} from '../util/ssh-host-keys';

/** ssh2, loaded when an SSH engine is first used: every other command starts without it. */
function ssh2(): typeof import('ssh2') {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require('ssh2') as typeof import('ssh2');
}

export type SshDockerErrorKind = 'target' | 'unknown-host' | 'changed-host-key' | 'revoked-host-key' | 'auth' | 'no-keys' | 'unreachable' | 'no-docker' | 'dial';

/** A failure to reach Docker over SSH; the message says what happened and what to do. */
export class SshDockerError extends Error {
  constructor(
    message: string,
    readonly kind: SshDockerErrorKind,
    readonly code?: string
  ) {
    super(message);
    this.name = 'SshDockerError';
  }
}

export interface SshTarget {
  user: string;
  host: string;
  port: number;
}

/** `ssh://user@host[:port]` → its parts; `setting` names where the value came from in errors. */
export function parseSshTarget(value: string, setting = 'DOCKER_HOST'): SshTarget {
  const example = `e.g. ${setting}=ssh://alice@gpu-box.example.org or ssh://alice@10.0.0.5:2222`;
  const bad = (why: string) => new SshDockerError(`${setting}=${JSON.stringify(value)} is not a usable SSH address: ${why} (${example}).`, 'target');
  if (!/^ssh:\/\//i.test(value)) throw bad('it must start with ssh://');
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    throw bad('it cannot be parsed as a URL');
  }
  if (u.password) throw bad('a password in the address is not supported (use a key or the ssh agent)');
  if (!u.username) throw bad('it names no user (ssh://USER@host)');
  if (!u.hostname) throw bad('it names no host');
  if ((u.pathname && u.pathname !== '/') || u.search || u.hash) throw bad('it must have no path, query or fragment');
  const port = u.port ? Number(u.port) : 22;
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw bad(`port ${u.port} is out of range`);
  // URL keeps IPv6 literals bracketed; ssh and known_hosts use the bare address.
  const host = u.hostname.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  return { user: decodeURIComponent(u.username), host, port };
}

// ---- authentication ---------------------------------------------------------------

interface Identity {
  /** Where it came from, for messages: a file path or `ssh agent at <socket>`. */
  label: string;
  method: AuthMethod;
}

const DEFAULT_IDENTITIES = ['id_ed25519', 'id_ecdsa', 'id_rsa'];

function loadIdentities(user: string, opts: SshDockerOptions, home: string): { identities: Identity[]; skipped: string[] } {
  const env = opts.env ?? process.env;
  const files = opts.identityFile ? [opts.identityFile] : DEFAULT_IDENTITIES.map(f => path.join(home, '.ssh', f)).filter(f => fs.existsSync(f));
  const identities: Identity[] = [];
  const skipped: string[] = [];
  for (const file of files) {
    let data: Buffer;
    try {
      data = fs.readFileSync(file);
    } catch (e) {
      skipped.push(`${file} (cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
      continue;
    }
    const parsed = ssh2().utils.parseKey(data, opts.passphrase);
    const key = Array.isArray(parsed) ? parsed[0] : parsed;
    if (key instanceof Error || !key) {
      skipped.push(`${file} (${key instanceof Error && /encrypted|passphrase/i.test(key.message) ? 'encrypted: give its passphrase or load it into the ssh agent' : `not a private key ssh2 can read: ${key instanceof Error ? key.message : 'empty'}`})`);
      continue;
    }
    if (!(key as ParsedKey).isPrivateKey()) {
      skipped.push(`${file} (a public key, not a private key)`);
      continue;
    }
    const label = `${file} (${(key as ParsedKey).type} ${keyFingerprint((key as ParsedKey).getPublicSSH())})`;
    identities.push({ label, method: { type: 'publickey', username: user, key } as AuthMethod });
  }
  const agent = env.SSH_AUTH_SOCK;
  if (agent) identities.push({ label: `the ssh agent at ${agent}`, method: { type: 'agent', username: user, agent } as AuthMethod });
  return { identities, skipped };
}

// ---- the connection ---------------------------------------------------------------

/** How long a request waits for a channel before another connection is opened. */
export const SPILL_AFTER_MS = 1000;
/** How long an idle channel is kept for the next request. */
const IDLE_CHANNEL_MS = 5000;

export interface SshDockerOptions {
  /** known_hosts to verify the host key against (default ~/.ssh/known_hosts). */
  knownHostsFile?: string;
  /** Private key to log in with (default: ~/.ssh/id_ed25519, id_ecdsa, id_rsa that exist), besides SSH_AUTH_SOCK. */
  identityFile?: string;
  passphrase?: string;
  /** Time for connect + handshake + login, in ms (default 15000). */
  connectTimeoutMs?: number;
  /** The docker binary on the remote host (default `docker`, found on the login PATH). */
  remoteDocker?: string;
  /**
   * Most dial-stdio channels open at once on one connection (default 8): OpenSSH refuses
   * channels beyond its MaxSessions (default 10) per connection.
   */
  maxChannels?: number;
  /** Connections at most (default 4): another is opened when every channel stays in use for SPILL_AFTER_MS. */
  maxConnections?: number;
  /** Where SSH_AUTH_SOCK and HOME are read (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** The setting the target came from, named in errors (default DOCKER_HOST). */
  setting?: string;
}

export interface SshDocker {
  target: SshTarget;
  /** dockerode whose every request is a dial-stdio channel on the one ssh connection. */
  docker: Docker;
  /** The first ssh connection (another is opened only while every channel of those open stays in use). */
  client: Client;
  /** The host key the host presented and known_hosts vouched for. */
  hostKeyFingerprint: string;
  /** Ends the ssh connection (and every channel on it). Idempotent. */
  close(): void;
}

function unreachable(err: NodeJS.ErrnoException & { level?: string }, t: SshTarget, timeoutMs: number): SshDockerError | undefined {
  const why = unreachableReason(err, t.host, t.port, timeoutMs);
  return why && new SshDockerError(why.message, 'unreachable', why.code);
}

/** Opens one ssh connection, verifies the host key, logs in, and checks that Docker answers there. */
export async function openSshDocker(target: string | SshTarget, opts: SshDockerOptions = {}): Promise<SshDocker> {
  const setting = opts.setting ?? 'DOCKER_HOST';
  const t = typeof target === 'string' ? parseSshTarget(target, setting) : target;
  const env = opts.env ?? process.env;
  const home = env.HOME || os.homedir();
  let known: KnownHosts;
  try {
    known = readKnownHosts(opts.knownHostsFile ?? path.join(home, '.ssh', 'known_hosts'));
  } catch (e) {
    throw e instanceof KnownHostsError ? new SshDockerError(e.message, 'unknown-host') : e;
  }
  const { identities, skipped } = loadIdentities(t.user, opts, home);
  const tried = () => [...identities.map(i => i.label), ...skipped.map(s => `skipped ${s}`)].join('; ');
  if (!identities.length) {
    throw new SshDockerError(
      `no SSH key to log in to ${t.host} as ${t.user}: ${skipped.length ? skipped.join('; ') : `none of ~/.ssh/${DEFAULT_IDENTITIES.join(', ')} exists`} and SSH_AUTH_SOCK is not set. Create a key (ssh-keygen -t ed25519), add its .pub to ~${t.user}/.ssh/authorized_keys on ${t.host}, or start an ssh agent with your key.`,
      'no-keys'
    );
  }
  const timeoutMs = opts.connectTimeoutMs ?? 15_000;
  let presented: Buffer | undefined;

  /** One verified, logged-in ssh connection (the first; more only when its channels are all in use). */
  const login = () =>
    new Promise<Client>((resolve, reject) => {
      const client = new (ssh2().Client)();
      const verification = hostKeyVerification(known, t.host, t.port);
      const config: ConnectConfig = {
        host: t.host,
        port: t.port,
        username: t.user,
        readyTimeout: timeoutMs,
        // A host that vanished is noticed within a minute, also while a run only waits.
        keepaliveInterval: 15_000,
        keepaliveCountMax: 4,
        authHandler: identities.map(i => i.method),
        hostVerifier: verification.hostVerifier
      };
      if (verification.algorithms) config.algorithms = { serverHostKey: verification.algorithms as NonNullable<ConnectConfig['algorithms']>['serverHostKey'] };
      client.once('ready', () => {
        presented ??= verification.state.presented;
        client.removeAllListeners('error');
        client.on('error', () => undefined); // later errors surface on the requests that hit them
        resolve(client);
      });
      client.once('error', (err: NodeJS.ErrnoException & { level?: string }) => {
        // The first error decides; a reset that follows as the connection closes must not go unhandled.
        client.on('error', () => undefined);
        client.end();
        const refusal = verification.refusalFor(err);
        if (refusal) return reject(new SshDockerError(refusal.message, refusal.kind));
        if (err.level === 'client-authentication')
          return reject(
            new SshDockerError(
              `${t.host} refused SSH login as ${t.user} (port ${t.port}); tried: ${tried()}. Add one of these public keys to ~${t.user}/.ssh/authorized_keys on ${t.host}, or give the key it accepts (identityFile) or load it into your ssh agent.`,
              'auth'
            )
          );
        reject(unreachable(err, t, timeoutMs) ?? new SshDockerError(`SSH connection to ${t.host} port ${t.port} failed: ${err.message}.`, 'unreachable', err.code));
      });
      client.connect(config);
    });
  const client = await login();

  const CHANNEL_RETRIES = 6;
  const remoteDocker = opts.remoteDocker ?? 'docker';
  const dialCommand = `${remoteDocker} system dial-stdio`;
  // Keep-alive: a request reuses an idle channel (one `docker system dial-stdio` process there
  // serves many requests: starting one costs ~50 ms a request); idle ones close after a while.
  const agent = new http.Agent({ keepAlive: true, maxFreeSockets: 2, timeout: IDLE_CHANNEL_MS });
  // sshd refuses channels beyond its MaxSessions ("open failed"), so a connection carries at
  // most maxChannels at once and further requests wait for one to close. Long requests
  // (attach, wait, stats of running containers) hold theirs: when none closes for a while,
  // the waiting request may be what they wait for (a container's start behind its own
  // attach), so another connection is opened (up to maxConnections). http.Agent's maxSockets
  // cannot do this: it counts a socket only once createConnection has delivered it.
  const maxChannels = opts.maxChannels ?? 8;
  const maxConnections = opts.maxConnections ?? 4;
  type Conn = { client: Client; channels: number };
  const conns: Conn[] = [{ client, channels: 0 }];
  let opening: Promise<unknown> | undefined;
  const waiting: Array<() => void> = [];
  const channelFreed = () =>
    new Promise<boolean>(resolve => {
      const wake = () => {
        clearTimeout(timer);
        resolve(true);
      };
      const timer = setTimeout(() => {
        const i = waiting.indexOf(wake);
        if (i >= 0) waiting.splice(i, 1);
        resolve(false);
      }, SPILL_AFTER_MS);
      waiting.push(wake);
    });
  const acquire = async (): Promise<Conn> => {
    for (;;) {
      const free = conns.find(c => c.channels < maxChannels);
      if (free) {
        free.channels++;
        return free;
      }
      if (!(await channelFreed()) && conns.length < maxConnections) {
        opening ??= login()
          .then(c => conns.push({ client: c, channels: 0 }))
          .catch(() => undefined) // requests go on waiting for the connections there are
          .finally(() => (opening = undefined));
        await opening;
      }
    }
  };
  const openChannel = (conn: Conn, cb: (err: Error | null, stream?: Duplex) => void, attempt = 0) => {
    const release = () => {
      conn.channels--;
      waiting.shift()?.();
    };
    conn.client.exec(dialCommand, (err, channel) => {
      if (err && /open failed/i.test(err.message) && attempt < CHANNEL_RETRIES) {
        // sshd frees a session slot a moment after the client sees the channel close: try again shortly.
        setTimeout(() => openChannel(conn, cb, attempt + 1), 50 * (attempt + 1));
        return;
      }
      if (err) {
        release();
        return cb(
          new SshDockerError(
            `cannot open an SSH channel to ${t.host} for "${dialCommand}": ${err.message}. If sshd there allows fewer sessions per connection (MaxSessions) than ${maxChannels}, lower maxChannels.`,
            'dial'
          )
        );
      }
      channel.once('close', release);
      cb(null, dialStream(channel, t, dialCommand));
    });
  };
  (agent as unknown as { createConnection: unknown }).createConnection = (_o: unknown, cb: (err: Error | null, stream?: Duplex) => void) => {
    acquire().then(
      conn => openChannel(conn, cb),
      err => cb(err)
    );
  };
  const docker = new Docker({ protocol: 'http', host: t.host, port: 2375, agent } as Docker.DockerOptions);
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    agent.destroy();
    for (const c of conns) c.client.end();
  };
  try {
    await docker.ping();
  } catch (e) {
    close();
    throw e instanceof SshDockerError ? e : new SshDockerError(`Docker on ${t.host} did not answer over SSH: ${(e as Error).message}.`, 'dial');
  }
  return { target: t, docker, client, hostKeyFingerprint: keyFingerprint(presented as Buffer), close };
}

/**
 * The dial-stdio channel as the HTTP client's socket. Its end is held back until the remote
 * command's exit status is known: a `docker` that is missing or cannot reach its engine exits
 * without a byte of output, and the request should fail with why, not with "socket hang up".
 */
function dialStream(channel: ClientChannel, t: SshTarget, dialCommand: string): Duplex {
  let sawData = false;
  let stderr = '';
  let exitCode: number | null | undefined;
  let ended = false;
  let settled = false;
  let idle: { ms: number; timer?: NodeJS.Timeout } = { ms: 0 };
  const touch = () => {
    clearTimeout(idle.timer);
    if (idle.ms > 0) idle.timer = setTimeout(() => stream.emit('timeout'), idle.ms);
  };
  const stream = new Duplex({
    read() {
      channel.resume();
    },
    write(chunk, _enc, done) {
      touch();
      channel.write(chunk, done);
    },
    final(done) {
      channel.end();
      done();
    },
    destroy(err, done) {
      clearTimeout(idle.timer);
      channel.destroy();
      done(err);
    }
  });
  // What http.Agent's keep-alive asks of a socket (net.Socket's): an inactivity timeout ('timeout'
  // event: the agent then destroys an idle channel); keep-alive, delay and ref are no-ops here.
  Object.assign(stream, {
    setTimeout(ms: number, cb?: () => void) {
      idle = { ms, timer: idle.timer };
      (stream as Duplex & { timeout?: number }).timeout = ms;
      if (cb && ms === 0) stream.removeListener('timeout', cb);
      else if (cb) stream.once('timeout', cb);
      touch();
      return stream;
    },
    setKeepAlive: () => stream,
    setNoDelay: () => stream,
    ref: () => stream,
    unref: () => stream
  });
  const finish = () => {
    if (settled || !ended || exitCode === undefined || stream.destroyed) return;
    settled = true;
    if (!sawData && exitCode !== 0) {
      const out = stderr.trim().slice(0, 500);
      const missing = exitCode === 127 || /command not found|not found|no such file/i.test(out);
      stream.destroy(
        missing
          ? new SshDockerError(
              `no Docker on ${t.host}: "${dialCommand}" failed there (exit ${exitCode}${out ? `: ${out}` : ''}). Install Docker on ${t.host}, or if it is installed outside the login PATH, give the remote docker binary's full path.`,
              'no-docker'
            )
          : new SshDockerError(
              `"${dialCommand}" on ${t.host} failed (exit ${exitCode}${out ? `: ${out}` : ''}). Check that the Docker engine runs on ${t.host} and that ${t.user} may use it (the docker group).`,
              'dial'
            )
      );
    } else stream.push(null);
  };
  channel.on('data', (chunk: Buffer) => {
    sawData = true;
    touch();
    if (!stream.push(chunk)) channel.pause();
  });
  channel.stderr.on('data', (chunk: Buffer) => {
    if (stderr.length < 4096) stderr += chunk.toString();
  });
  channel.on('exit', (code: number | null) => {
    exitCode = code;
    finish();
  });
  channel.on('end', () => {
    ended = true;
    finish();
  });
  channel.on('close', () => {
    ended = true;
    if (exitCode === undefined) exitCode = null; // closed without an exit status (e.g. killed by a signal)
    finish();
    // A closed channel is never handed out again: gone once what it held is read (at once when idle).
    if (stream.destroyed) return;
    if (stream.readableLength === 0 && !stream.readableFlowing) stream.destroy();
    else stream.once('end', () => stream.destroy());
  });
  channel.on('error', (err: Error) => stream.destroy(err));
  return stream;
}
