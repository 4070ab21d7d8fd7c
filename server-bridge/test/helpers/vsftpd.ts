// A real FTP server for connector tests: Debian's vsftpd (installed by .ci/setup, its
// own service never started), run in the foreground on a free 127.0.0.1 port with a
// config of its own: one local user (created once, password new per server, locked
// again on stop), chrooted into a temp folder it may write, passive mode on loopback.
import { execFileSync, spawn, type ChildProcess } from 'child_process';
import { randomBytes } from 'crypto';
import { chmod, chown, mkdir, mkdtemp, rm, writeFile } from 'fs/promises';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { freePort } from './http-server';

export const FTP_TEST_USER = 'redlab-ftp-test';
const VSFTPD = '/usr/sbin/vsftpd';
let running = 0;
let password = '';

export interface FtpTestServer {
  port: number;
  /** The user's FTP root on this machine (what the server serves and where uploads land). */
  root: string;
  username: string;
  password: string;
  /** ftp://127.0.0.1:port/<remotePath> (no user info). */
  url(remotePath: string): string;
  /** With `tls`: the self-signed certificate (for 127.0.0.1) a client must trust. */
  caFile?: string;
  /** The listening vsftpd's process id (each session is a process below it). */
  pid: number;
  stop(): Promise<void>;
}

function ensureUser(): number {
  if (process.getuid?.() !== 0) throw new Error('the FTP tests start vsftpd with a local user: run them as root (as CI does)');
  try {
    return Number(execFileSync('id', ['-u', FTP_TEST_USER]).toString().trim());
  } catch {
    // Home `/`: vsftpd enters the home before local_root; /bin/sh: PAM's pam_shells wants a listed shell.
    execFileSync('useradd', ['--system', '--no-create-home', '--home-dir', '/', '--shell', '/bin/sh', FTP_TEST_USER]);
    return Number(execFileSync('id', ['-u', FTP_TEST_USER]).toString().trim());
  }
}

/** Resolves when the server sends its 220 greeting. */
async function waitForGreeting(port: number, proc: ChildProcess, log: () => string): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`vsftpd exited (${proc.exitCode}): ${log()}`);
    const ok = await new Promise<boolean>(resolve => {
      const s = net.connect(port, '127.0.0.1');
      s.once('data', d => {
        s.destroy();
        resolve(d.toString().startsWith('220'));
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`vsftpd did not answer on 127.0.0.1:${port}: ${log()}`);
    await new Promise(r => setTimeout(r, 100));
  }
}

/** Starts vsftpd serving `files` (relative paths → contents) for a fresh password; `tls`: FTPS (explicit, required). */
export async function startVsftpd(files: Record<string, string | Buffer> = {}, opts: { tls?: boolean } = {}): Promise<FtpTestServer> {
  const uid = ensureUser();
  // One password while any server of this process runs (they share the user); locked after the last.
  if (running++ === 0) {
    password = 'pw-' + randomBytes(9).toString('base64url');
    execFileSync('chpasswd', { input: `${FTP_TEST_USER}:${password}\n` });
    execFileSync('usermod', ['--unlock', FTP_TEST_USER]);
  }
  try {
    return await serve(uid, files, opts);
  } catch (err) {
    release();
    throw err;
  }
}

function release(): void {
  if (--running === 0) execFileSync('usermod', ['--lock', FTP_TEST_USER]);
}

async function serve(uid: number, files: Record<string, string | Buffer>, opts: { tls?: boolean }): Promise<FtpTestServer> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'redlab-vsftpd-'));
  await chmod(dir, 0o755);
  const root = path.join(dir, 'root');
  const empty = path.join(dir, 'empty'); // secure_chroot_dir: empty, not writable by the user
  await mkdir(root);
  await mkdir(empty);
  for (const [rel, content] of Object.entries(files)) {
    const p = path.join(root, rel);
    await mkdir(path.dirname(p), { recursive: true });
    await writeFile(p, content);
  }
  execFileSync('chown', ['-R', String(uid), root]);
  await chown(root, uid, 0);
  const tlsLines: string[] = [];
  let caFile: string | undefined;
  if (opts.tls) {
    caFile = path.join(dir, 'cert.pem');
    const key = path.join(dir, 'key.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', caFile, '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
    tlsLines.push('ssl_enable=YES', `rsa_cert_file=${caFile}`, `rsa_private_key_file=${key}`, 'force_local_logins_ssl=YES', 'force_local_data_ssl=YES');
  }
  const port = await freePort();
  const conf = path.join(dir, 'vsftpd.conf');
  await writeFile(
    conf,
    [
      'listen=YES',
      'listen_ipv6=NO',
      'listen_address=127.0.0.1',
      `listen_port=${port}`,
      'background=NO',
      'anonymous_enable=NO',
      'local_enable=YES',
      'write_enable=YES',
      'local_umask=022',
      'chroot_local_user=YES',
      'allow_writeable_chroot=YES',
      `local_root=${root}`,
      `secure_chroot_dir=${empty}`,
      'pam_service_name=vsftpd',
      'userlist_enable=NO',
      'pasv_enable=YES',
      'pasv_address=127.0.0.1',
      'port_enable=NO',
      // Containers (CI) refuse the sandbox's seccomp filter and network namespaces.
      'seccomp_sandbox=NO',
      'isolate=NO',
      'isolate_network=NO',
      'xferlog_enable=NO',
      'utf8_filesystem=YES',
      ...tlsLines,
      ''
    ].join('\n')
  );
  const proc = spawn(VSFTPD, [conf], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  proc.stdout!.on('data', d => (output += d));
  proc.stderr!.on('data', d => (output += d));
  const stop = async () => {
    if (proc.exitCode === null) {
      const gone = new Promise(r => proc.once('exit', r));
      proc.kill('SIGTERM');
      await gone;
    }
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await waitForGreeting(port, proc, () => output);
  } catch (err) {
    await stop(); // then release() in startVsftpd
    throw err;
  }
  return { port, root, username: FTP_TEST_USER, password, pid: proc.pid as number, url: p => `${opts.tls ? 'ftps' : 'ftp'}://127.0.0.1:${port}/${p}`, caFile, stop: () => stop().finally(release) };
}
