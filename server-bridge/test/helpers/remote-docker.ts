// A real second Docker host reachable only over SSH, for the SSH engine's tests and
// its benchmark baseline (issue 9). No mocks: a network namespace joined to this host
// by a veth pair on a private /30, and inside it a second `dockerd` (its own data root,
// exec root, socket, containerd and containerd namespaces; its own docker0 and iptables,
// which are per network namespace, so it never touches the host engine's) and an
// OpenSSH `sshd` on the veth address with a generated host key and key-only login.
// `docker system dial-stdio`, which both the docker CLI and docker-modem run over ssh,
// finds the remote engine through `SetEnv DOCKER_HOST` in the sshd config.
// Like a real other host, it cannot see this host's files: dockerd and sshd share a mount
// namespace in which /tmp, /var/tmp, /home, /root, the checkout's top folder and the host
// engine's sockets are empty, so a bind mount of a local path gets the empty folder that
// a remote engine makes for a missing bind source (the trap the SSH engine must avoid).
//
// The docker CLI runs the `ssh` binary, and ssh reads ~/.ssh from the passwd entry, not
// $HOME, so `cliEnv` puts a wrapper `ssh` (`ssh -F <sshConfigFile>`) first on PATH.
//
// What the SSH engine will need from this, and what docker-modem 5.0.7 (lib/ssh.js,
// lib/modem.js, over ssh2 1.17) gives it:
// - No host key check: modem passes `sshOptions` straight to ssh2's `Client.connect`, and
//   ssh2 accepts any host key unless `hostVerifier` is set. ssh2 takes
//   `hostVerifier(key: Buffer) => boolean` (the raw key blob) but reads no known_hosts:
//   the engine must parse `knownHostsFile` itself (plain and `|1|` hashed host names,
//   `[host]:port` for a port other than 22) and refuse with `hostKeyFingerprint`.
// - Auth: from `DOCKER_HOST=ssh://` modem sets only `sshOptions.agent = SSH_AUTH_SOCK` (no
//   key file), and while DOCKER_HOST is set that default `agent` wins over the caller's:
//   pass `privateKey` (from `identityFile`) and `hostVerifier` explicitly, and parse
//   DOCKER_HOST in the engine rather than in modem.
// - One ssh connection per API call: `buildRequest` makes a new ssh2 Client (handshake,
//   auth, `docker system dial-stdio`) for every request, ignoring any `agent` option, and
//   ends it when the response closes (measured here: 3 calls, 3 logins). Keep one connection
//   per run instead: dockerode with `protocol: 'http'` and an http.Agent whose
//   createConnection opens a `docker system dial-stdio` exec channel on one ssh2 Client
//   (the fixture's test does this: info, create, start, wait, remove over one login; no
//   keepAlive, an ssh2 channel has no setKeepAlive). modem's ssh path also triggers Node's
//   DEP0170 warning (it builds an invalid `ssh:` URL).
import { execFile, execFileSync, spawn, type ChildProcess } from 'child_process';
import { randomBytes } from 'crypto';
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { promisify } from 'util';

const run = promisify(execFile);

export interface RemoteDocker {
  /** The remote host's address on the veth pair (reachable from this host only). */
  host: string;
  port: number;
  user: string;
  /** Private key (ed25519, no passphrase) the remote sshd accepts. */
  identityFile: string;
  /** known_hosts with the remote host key (`host key` or `[host]:port key`). */
  knownHostsFile: string;
  /** ssh_config for `ssh -F`: identity, known_hosts, StrictHostKeyChecking yes, BatchMode. */
  sshConfigFile: string;
  /** The remote host key as a known_hosts key field: `ssh-ed25519 AAAA...`. */
  hostPublicKey: string;
  /** As ssh prints it: `SHA256:...`. */
  hostKeyFingerprint: string;
  /** `ssh://user@host` (`:port` when not 22). */
  dockerHost: string;
  /** The remote engine's own socket, for set-up and checks from this host (not for the code under test). */
  socketPath: string;
  /** The remote engine's data root (what `docker info` reports as DockerRootDir). */
  dataRoot: string;
  namespace: string;
  /** Environment for the docker CLI: the ssh wrapper first on PATH, an empty DOCKER_CONFIG, DOCKER_HOST. */
  cliEnv: NodeJS.ProcessEnv;
  /** Logs of the remote dockerd and sshd (the sshd log has one `Accepted publickey` line per ssh connection). */
  dockerdLog: string;
  sshdLog: string;
  /** Runs a shell script as root on the remote host (its network and mount namespace): set-up a test needs there, e.g. a stand-in nvidia-smi. Its stdout. */
  shell(script: string): Promise<string>;
  /** Stops both daemons and removes the namespace, the veth pair and the fixture's folder. Idempotent. */
  stop(): Promise<void>;
}

export interface RemoteDockerOptions {
  /** Local images copied into the remote engine (docker save | docker load). Default: redlab/busybox:1. */
  images?: string[];
  /** sshd port inside the namespace (default 22). */
  port?: number;
}

/**
 * Why this machine cannot make a remote Docker host (not root, no network namespaces),
 * or undefined when it can. A missing sshd or dockerd is not a reason: .ci/setup installs them.
 */
export function remoteDockerUnavailable(): string | undefined {
  if (typeof process.getuid === 'function' && process.getuid() !== 0) return 'not root: creating a network namespace and a second dockerd needs root';
  const probe = `redlab-rd-probe-${randomBytes(3).toString('hex')}`;
  try {
    execFileSync('ip', ['netns', 'add', probe], { stdio: 'pipe' });
  } catch (e) {
    return `ip netns add failed (no network namespaces here): ${String((e as { stderr?: Buffer }).stderr ?? e).trim()}`;
  }
  execFileSync('ip', ['netns', 'del', probe], { stdio: 'pipe' });
  return undefined;
}

// Every fixture not yet stopped, cleaned synchronously if the process exits first.
const live = new Set<() => void>();
process.once('exit', () => {
  for (const cleanup of live) cleanup();
});

/** Kills what runs in the namespace and removes it, its veth pair and the fixture's folder. */
function removeFixture(id: string, dir: string): void {
  const ns = `redlab-rd-${id}`;
  for (const pid of pidsInNamespace(ns)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
  for (const args of [
    ['link', 'del', `rdh-${id}`],
    ['netns', 'del', ns]
  ]) {
    try {
      execFileSync('ip', args, { stdio: 'ignore' });
    } catch {
      /* not created yet, or already removed */
    }
  }
  try {
    fs.rmSync(dir, { recursive: true, force: true });
    fs.rmdirSync(FIXTURE_ROOT); // only when no other fixture is using it
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOTEMPTY') console.error(`remote-docker: could not remove ${dir}: ${String(e)}`);
  }
}

/** Removes the fixtures of test processes that died without stopping them (SIGKILL, a crash). */
function sweepOrphans(): void {
  let entries: string[] = [];
  try {
    entries = fs.readdirSync(FIXTURE_ROOT);
  } catch {
    return;
  }
  for (const entry of entries) {
    const dir = path.join(FIXTURE_ROOT, entry);
    if (!/^[0-9a-f]{6}-/.test(entry)) continue;
    let alive: boolean;
    try {
      process.kill(Number(fs.readFileSync(path.join(dir, 'owner.pid'), 'utf8')), 0);
      alive = true;
    } catch (e) {
      // No pid file yet: a fixture being made right now, unless it is old.
      const code = (e as NodeJS.ErrnoException).code;
      alive = code === 'ENOENT' && Date.now() - fs.statSync(dir).mtimeMs < 10 * 60_000;
      if (code === 'EPERM') alive = true;
    }
    if (!alive) removeFixture(entry.slice(0, 6), dir);
  }
}

function pidsInNamespace(ns: string): number[] {
  try {
    return execFileSync('ip', ['netns', 'pids', ns], { stdio: ['ignore', 'pipe', 'ignore'] })
      .toString()
      .split(/\s+/)
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}

function tail(file: string, lines = 15): string {
  try {
    return fs.readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

const exited = (child: ChildProcess) => child.exitCode !== null || child.signalCode !== null;

function waitExit(child: ChildProcess, ms: number): Promise<boolean> {
  if (exited(child)) return Promise.resolve(true);
  return new Promise(resolve => {
    const timer = setTimeout(() => resolve(false), ms);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

const FIXTURE_ROOT = '/var/lib/redlab-rd';
const SYSTEM_DIRS = new Set(['/', '/usr', '/etc', '/var', '/lib', '/lib64', '/bin', '/sbin', '/run', '/proc', '/sys', '/dev', '/boot', '/opt', '/srv', '/mnt']);

/**
 * What the remote host must not see of this one: the usual places of users' and tests' files
 * (the checkout's top folder, or the checkout itself when that is under a system folder),
 * and the host engine's sockets (a stray `docker` there must not reach the host engine).
 */
function hiddenPaths(): { dirs: string[]; files: string[] } {
  const checkout = path.resolve(__dirname, '../../..');
  const top = '/' + checkout.split('/')[1];
  const candidates = [os.tmpdir(), '/tmp', '/var/tmp', '/home', '/root', SYSTEM_DIRS.has(top) ? checkout : top, '/run/containerd', '/run/docker'];
  const dirs = [...new Set(candidates.map(d => path.resolve(d)))].filter(d => !SYSTEM_DIRS.has(d) && !FIXTURE_ROOT.startsWith(d + '/') && fs.existsSync(d) && fs.statSync(d).isDirectory());
  const files = ['/run/docker.sock'].filter(f => fs.existsSync(f));
  return { dirs, files };
}

/** A free 10.213.x.y/30 (host side .y+1, remote .y+2) that no local interface uses. */
function pickSubnet(): { hostIp: string; remoteIp: string } {
  const used = execFileSync('ip', ['-o', '-4', 'addr', 'show']).toString();
  for (let i = 0; i < 20; i++) {
    const x = randomBytes(1)[0];
    const y = (randomBytes(1)[0] % 64) * 4;
    const hostIp = `10.213.${x}.${y + 1}`;
    const remoteIp = `10.213.${x}.${y + 2}`;
    if (!used.includes(` ${hostIp}/`) && !used.includes(` ${remoteIp}/`)) return { hostIp, remoteIp };
  }
  throw new Error('remote-docker: no free 10.213.x.y/30 after 20 tries');
}

/** Resolves once the server's SSH banner arrives. */
async function waitForSsh(host: string, port: number, child: ChildProcess, log: string, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (exited(child)) throw new Error(`remote-docker: sshd exited (${child.exitCode ?? child.signalCode}):\n${tail(log)}`);
    const banner = await new Promise<boolean>(resolve => {
      const sock = net.connect({ host, port });
      sock.setTimeout(1000);
      sock.once('data', d => {
        sock.destroy();
        resolve(String(d).startsWith('SSH-'));
      });
      sock.once('error', () => resolve(false));
      sock.once('timeout', () => {
        sock.destroy();
        resolve(false);
      });
    });
    if (banner) return;
    if (Date.now() > deadline) throw new Error(`remote-docker: sshd on ${host}:${port} did not answer in ${ms} ms:\n${tail(log)}`);
    await new Promise(r => setTimeout(r, 100));
  }
}

async function waitForDocker(socketPath: string, child: ChildProcess, log: string, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (exited(child)) throw new Error(`remote-docker: dockerd exited (${child.exitCode ?? child.signalCode}):\n${tail(log)}`);
    try {
      await run('docker', ['-H', `unix://${socketPath}`, 'version', '--format', '{{.Server.Version}}'], { timeout: 5000 });
      return;
    } catch {
      if (Date.now() > deadline) throw new Error(`remote-docker: dockerd did not answer on ${socketPath} in ${ms} ms:\n${tail(log)}`);
      await new Promise(r => setTimeout(r, 200));
    }
  }
}

export async function startRemoteDocker(opts: RemoteDockerOptions = {}): Promise<RemoteDocker> {
  const images = opts.images ?? ['redlab/busybox:1'];
  const port = opts.port ?? 22;
  const user = 'root';
  for (const bin of ['/usr/sbin/sshd', 'ssh', 'ssh-keygen', 'dockerd', 'nsenter', 'unshare', 'ip']) {
    try {
      execFileSync('sh', ['-c', 'command -v "$1"', 'sh', bin], { stdio: 'ignore' });
    } catch {
      throw new Error(`remote-docker: ${bin} not found (bash .ci/setup installs openssh-server, openssh-client, iproute2 and docker.io)`);
    }
  }

  const id = randomBytes(3).toString('hex');
  const ns = `redlab-rd-${id}`;
  const vethHost = `rdh-${id}`;
  const vethRemote = `rdn-${id}`;
  // Outside every folder the remote host must not see, and short: unix socket paths
  // (containerd's under exec-root) must stay < 108 bytes.
  sweepOrphans();
  fs.mkdirSync(FIXTURE_ROOT, { recursive: true, mode: 0o700 });
  const dir = fs.mkdtempSync(path.join(FIXTURE_ROOT, `${id}-`));
  fs.writeFileSync(path.join(dir, 'owner.pid'), String(process.pid));
  const socketPath = path.join(dir, 'docker.sock');
  const dataRoot = path.join(dir, 'data');
  const dockerdLog = path.join(dir, 'dockerd.log');
  const sshdLog = path.join(dir, 'sshd.log');
  const children: ChildProcess[] = [];

  // Cleanup as a synchronous sweep, so the exit hook can run it too; safe at any stage.
  let stopped = false;
  const cleanupSync = () => {
    if (stopped) return;
    stopped = true;
    live.delete(cleanupSync);
    for (const c of children) if (!exited(c)) c.kill('SIGKILL');
    removeFixture(id, dir);
  };
  live.add(cleanupSync);

  // Graceful first: dockerd stops its containers and containerd and unmounts its layers.
  const stop = async () => {
    if (stopped) return;
    for (const c of [...children].reverse()) {
      if (!exited(c)) c.kill('SIGTERM');
      await waitExit(c, 20_000);
    }
    cleanupSync();
  };

  try {
    const { hostIp, remoteIp } = pickSubnet();
    execFileSync('ip', ['netns', 'add', ns]);
    execFileSync('ip', ['link', 'add', vethHost, 'type', 'veth', 'peer', 'name', vethRemote]);
    execFileSync('ip', ['link', 'set', vethRemote, 'netns', ns]);
    execFileSync('ip', ['addr', 'add', `${hostIp}/30`, 'dev', vethHost]);
    execFileSync('ip', ['link', 'set', vethHost, 'up']);
    for (const args of [
      ['addr', 'add', `${remoteIp}/30`, 'dev', vethRemote],
      ['link', 'set', vethRemote, 'up'],
      ['link', 'set', 'lo', 'up']
    ]) {
      execFileSync('ip', ['netns', 'exec', ns, 'ip', ...args]);
    }

    // nsenter joins only the network namespace (`ip netns exec` would also remount /sys and
    // hide the cgroup mounts dockerd needs); unshare gives dockerd a private mount namespace,
    // so its layer mounts vanish with it even if it is killed, and in it the host's files are hidden.
    const netns = `--net=/run/netns/${ns}`;
    const hide = hiddenPaths();
    const hideScript = [
      'set -e',
      ...hide.dirs.map(d => `mount -t tmpfs -o size=64m,mode=755 redlab-rd-hidden '${d}'`),
      ...hide.files.map(f => `mount --bind /dev/null '${f}'`),
      'exec "$@"'
    ].join('\n');
    fs.writeFileSync(path.join(dir, 'daemon.json'), '{}\n'); // not the host's /etc/docker/daemon.json
    const dockerdOut = fs.openSync(dockerdLog, 'a');
    const dockerd = spawn(
      'nsenter',
      [
        netns,
        '--',
        'unshare',
        '--mount',
        '--propagation',
        'private',
        '--',
        'sh',
        '-c',
        hideScript,
        'sh',
        'dockerd',
        '--config-file',
        path.join(dir, 'daemon.json'),
        '--data-root',
        dataRoot,
        '--exec-root',
        path.join(dir, 'exec'),
        '--pidfile',
        path.join(dir, 'dockerd.pid'),
        '-H',
        `unix://${socketPath}`,
        '--containerd-namespace',
        ns,
        '--containerd-plugins-namespace',
        `${ns}-plugins`
      ],
      { stdio: ['ignore', dockerdOut, dockerdOut] }
    );
    fs.closeSync(dockerdOut);
    children.push(dockerd);

    const hostKey = path.join(dir, 'ssh_host_ed25519_key');
    const identityFile = path.join(dir, 'id_ed25519');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', `redlab-rd-host-${id}`, '-f', hostKey]);
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', `redlab-rd-client-${id}`, '-f', identityFile]);
    fs.copyFileSync(`${identityFile}.pub`, path.join(dir, 'authorized_keys'));
    const hostPublicKey = fs.readFileSync(`${hostKey}.pub`, 'utf8').trim().split(/\s+/).slice(0, 2).join(' ');
    const hostKeyFingerprint = execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', `${hostKey}.pub`]).toString().split(/\s+/)[1];
    fs.writeFileSync(
      path.join(dir, 'sshd_config'),
      [
        `ListenAddress ${remoteIp}:${port}`,
        `HostKey ${hostKey}`,
        `PidFile ${path.join(dir, 'sshd.pid')}`,
        `AuthorizedKeysFile ${path.join(dir, 'authorized_keys')}`,
        `AllowUsers ${user}`,
        'PermitRootLogin prohibit-password',
        'PubkeyAuthentication yes',
        'PasswordAuthentication no',
        'KbdInteractiveAuthentication no',
        'UsePAM no',
        // The temp dir is not owned the way StrictModes wants a home directory to be.
        'StrictModes no',
        // Tests open and refuse many connections in a row; sshd's default (10:30:100) drops some
        // unauthenticated ones at random, which a client sees as a reset, not as the refusal tested.
        'MaxStartups 100:30:200',
        // `docker system dial-stdio` (docker CLI and docker-modem) reaches this engine, not the host's.
        `SetEnv DOCKER_HOST=unix://${socketPath}`,
        ''
      ].join('\n')
    );

    const knownHostsFile = path.join(dir, 'known_hosts');
    const hostPattern = port === 22 ? remoteIp : `[${remoteIp}]:${port}`;
    fs.writeFileSync(knownHostsFile, `${hostPattern} ${hostPublicKey}\n`);
    const sshConfigFile = path.join(dir, 'ssh_config');
    fs.writeFileSync(
      sshConfigFile,
      [
        `Host ${remoteIp}`,
        `  Port ${port}`,
        `  User ${user}`,
        `  IdentityFile ${identityFile}`,
        '  IdentitiesOnly yes',
        `  UserKnownHostsFile ${knownHostsFile}`,
        '  GlobalKnownHostsFile /dev/null',
        '  StrictHostKeyChecking yes',
        '  BatchMode yes',
        ''
      ].join('\n')
    );
    const binDir = path.join(dir, 'bin');
    fs.mkdirSync(binDir);
    fs.writeFileSync(path.join(binDir, 'ssh'), `#!/bin/sh\nexec ${execFileSync('sh', ['-c', 'command -v ssh']).toString().trim()} -F '${sshConfigFile}' "$@"\n`, { mode: 0o755 });
    const dockerConfig = path.join(dir, 'docker-config');
    fs.mkdirSync(dockerConfig);
    const dockerHost = `ssh://${user}@${remoteIp}${port === 22 ? '' : `:${port}`}`;
    const cliEnv = { ...process.env, PATH: `${binDir}:${process.env.PATH ?? '/usr/bin:/bin'}`, DOCKER_CONFIG: dockerConfig, DOCKER_HOST: dockerHost };

    await waitForDocker(socketPath, dockerd, dockerdLog, 60_000);
    // sshd joins dockerd's mount namespace (set up by now): the same host, seen from the same files.
    fs.mkdirSync('/run/sshd', { recursive: true, mode: 0o755 }); // sshd's privilege-separation dir
    const sshdOut = fs.openSync(sshdLog, 'a');
    const sshd = spawn('nsenter', [netns, `--mount=/proc/${dockerd.pid}/ns/mnt`, '--', '/usr/sbin/sshd', '-D', '-e', '-f', path.join(dir, 'sshd_config')], {
      stdio: ['ignore', sshdOut, sshdOut]
    });
    fs.closeSync(sshdOut);
    children.push(sshd);
    await waitForSsh(remoteIp, port, sshd, sshdLog, 20_000);
    for (const image of images) {
      await run('bash', ['-o', 'pipefail', '-c', 'docker save "$1" | docker -H "unix://$2" load -q', 'bash', image, socketPath], { maxBuffer: 1 << 20 }).catch(e => {
        throw new Error(`remote-docker: could not copy ${image} into the remote engine (bash .ci/base-images.sh builds it): ${String(e.stderr ?? e).trim()}`);
      });
    }

    return {
      host: remoteIp,
      port,
      user,
      identityFile,
      knownHostsFile,
      sshConfigFile,
      hostPublicKey,
      hostKeyFingerprint,
      dockerHost,
      socketPath,
      dataRoot,
      namespace: ns,
      cliEnv,
      dockerdLog,
      sshdLog,
      shell: async script => (await run('nsenter', [netns, `--mount=/proc/${dockerd.pid}/ns/mnt`, '--', 'sh', '-c', script])).stdout,
      stop
    };
  } catch (e) {
    await stop();
    throw e;
  }
}
