// A real SFTP server for the red-connector-ssh tests: Debian's OpenSSH sshd on a loopback
// port, with its own host key and config, serving `internal-sftp`.
// Its login is a throw-away system account (useradd, removed by stop() and at exit): sshd
// authenticates only accounts of the system, and without PAM (`UsePAM no`) it checks a
// password against /etc/shadow, so a user made with useradd + chpasswd is the reliable way
// to have password login without touching root's password or the machine's PAM set-up. The
// same user also logs in with a key: AuthorizedKeysFile points into the fixture's folder
// (StrictModes off, as that folder lies under the world-writable /tmp). Needs root (sshd
// then runs as root, as on a real server).
import { execFileSync, spawn, type ChildProcess } from 'child_process';
import { randomBytes } from 'crypto';
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { freePort } from './http-server';

export interface SftpServer {
  host: string;
  port: number;
  user: string;
  password: string;
  /** The user's private key (ed25519, OpenSSH format, no passphrase), as text. */
  privateKey: string;
  /** known_hosts with the server's host key (`[127.0.0.1]:port ssh-ed25519 ...`). */
  knownHostsFile: string;
  /** As ssh-keygen -l prints it: `SHA256:...`. */
  hostKeyFingerprint: string;
  /** The user's home: what SFTP paths reach (owned by the user). */
  home: string;
  sshdLog: string;
  /** Lets the user log in with one more public key (an `ssh-ed25519 AAAA...` line). */
  authorize(publicKey: string): void;
  /** Stops sshd, removes the user and the fixture's folder. Idempotent. */
  stop(): Promise<void>;
}

/** Why this machine cannot run the fixture, or undefined. */
export function sftpServerUnavailable(): string | undefined {
  if (typeof process.getuid === 'function' && process.getuid() !== 0) return 'not root: sshd and a test user need root';
  for (const bin of ['/usr/sbin/sshd', '/usr/sbin/useradd', '/usr/sbin/chpasswd']) if (!fs.existsSync(bin)) return `${bin} is missing (.ci/setup installs openssh-server)`;
  return undefined;
}

const live = new Set<() => void>();
process.once('exit', () => live.forEach(cleanup => cleanup()));

async function waitForBanner(port: number, child: ChildProcess, log: string, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`sftp-server: sshd exited:\n${fs.readFileSync(log, 'utf8').slice(-2000)}`);
    const ok = await new Promise<boolean>(resolve => {
      const s = net.connect(port, '127.0.0.1');
      s.once('data', d => {
        s.destroy();
        resolve(d.toString().startsWith('SSH-'));
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`sftp-server: sshd did not answer on port ${port} in ${ms} ms:\n${fs.readFileSync(log, 'utf8').slice(-2000)}`);
    await new Promise(r => setTimeout(r, 100));
  }
}

export async function startSftpServer(): Promise<SftpServer> {
  const id = randomBytes(3).toString('hex');
  const user = `rlsftp${id}`;
  const password = `pw-${randomBytes(9).toString('base64url')}`;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'redlab-sftp-'));
  fs.chmodSync(dir, 0o755);
  const home = path.join(dir, 'home');
  let child: ChildProcess | undefined;
  let userMade = false;
  const cleanup = () => {
    if (child && child.exitCode === null) child.kill('SIGKILL');
    if (userMade) {
      try {
        execFileSync('userdel', [user], { stdio: 'pipe' });
      } catch {
        /* already gone */
      }
      userMade = false;
    }
    fs.rmSync(dir, { recursive: true, force: true });
  };
  live.add(cleanup);
  try {
    execFileSync('useradd', ['-M', '-d', home, '-s', '/bin/sh', user], { stdio: 'pipe' });
    userMade = true;
    execFileSync('chpasswd', { input: `${user}:${password}\n`, stdio: ['pipe', 'pipe', 'pipe'] });
    fs.mkdirSync(home);
    execFileSync('chown', [`${user}:`, home]);
    const hostKey = path.join(dir, 'host_ed25519');
    const userKey = path.join(dir, 'user_ed25519');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', `redlab-sftp-host-${id}`, '-f', hostKey]);
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', `redlab-sftp-user-${id}`, '-f', userKey]);
    fs.writeFileSync(path.join(dir, 'authorized_keys'), fs.readFileSync(`${userKey}.pub`), { mode: 0o644 });
    const port = await freePort();
    const hostPub = fs.readFileSync(`${hostKey}.pub`, 'utf8').trim().split(/\s+/).slice(0, 2).join(' ');
    const knownHostsFile = path.join(dir, 'known_hosts');
    fs.writeFileSync(knownHostsFile, `[127.0.0.1]:${port} ${hostPub}\n`);
    const hostKeyFingerprint = execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', `${hostKey}.pub`]).toString().split(/\s+/)[1];
    const config = path.join(dir, 'sshd_config');
    fs.writeFileSync(
      config,
      [
        `Port ${port}`,
        'ListenAddress 127.0.0.1',
        `HostKey ${hostKey}`,
        `PidFile ${path.join(dir, 'sshd.pid')}`,
        `AuthorizedKeysFile ${path.join(dir, 'authorized_keys')}`,
        'PasswordAuthentication yes',
        'KbdInteractiveAuthentication no',
        'UsePAM no',
        'StrictModes no',
        'PermitRootLogin no',
        `AllowUsers ${user}`,
        'Subsystem sftp internal-sftp',
        'LogLevel VERBOSE',
        'MaxStartups 100:30:200',
        ''
      ].join('\n')
    );
    fs.mkdirSync('/run/sshd', { recursive: true, mode: 0o755 }); // sshd's privilege-separation folder
    const sshdLog = path.join(dir, 'sshd.log');
    const out = fs.openSync(sshdLog, 'a');
    child = spawn('/usr/sbin/sshd', ['-D', '-e', '-f', config], { stdio: ['ignore', out, out] });
    fs.closeSync(out);
    await waitForBanner(port, child, sshdLog, 15_000);
    const stop = async () => {
      if (child && child.exitCode === null && child.signalCode === null) {
        const exited = new Promise(r => child!.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
      cleanup();
      live.delete(cleanup);
    };
    const authorize = (publicKey: string) => fs.appendFileSync(path.join(dir, 'authorized_keys'), publicKey.trim() + '\n');
    return { host: '127.0.0.1', port, user, password, privateKey: fs.readFileSync(userKey, 'utf8'), knownHostsFile, hostKeyFingerprint, home, sshdLog, authorize, stop };
  } catch (e) {
    cleanup();
    live.delete(cleanup);
    throw e;
  }
}
