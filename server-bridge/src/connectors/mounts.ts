// `mount: true`: a Directory input mounted on the HOST by the bridge with FUSE (sshfs for
// red-connector-ssh, httpdirfs for red-connector-http) and bind-mounted into the container,
// so a terabyte input is read in place instead of copied, while the experiment container
// gets no SYS_ADMIN and no /dev/fuse. Read-only unless access.writable (sshfs only): then
// the bind is read-write and what the container writes there lands on the server.
//
// Secrets never touch argv: a password goes to sshfs on stdin (password_stdin); a private
// key (and a passphrase, through SSH_ASKPASS) lives in a 0600 file of a private 0700 folder
// beside the mount point for as long as sshfs takes to log in, and is deleted right after.
// httpdirfs takes its login from a --config file there, deleted the same way.
//
// Every mount is unmounted when its batch ends (BatchMounts.unmountAll: success, failure,
// cancel). A process that dies first leaves its mounts behind: each mount's fsname carries
// `redlab-<pid>-<start time>` of the process that made it, and cleanupStaleMounts (at the
// engine's first use) unmounts those under the work root whose process is gone.
import { spawn } from 'child_process';
import * as fs from 'fs';
import { mkdtemp, readFile, rm, statfs, writeFile } from 'fs/promises';
import * as path from 'path';
import type { ConnectorRegistry } from './registry';
import { ConnectorError, type ConnectorContext, type InputConnector, type InputStageRequest } from './types';

/** A Directory input mounted on the host; unmount() on every exit path. */
export interface MountedInput {
  /** The mount point (`dest` of the stage request), bound into the container. */
  hostPath: string;
  /** access.writable: the bind is read-write and writes go to the server. */
  writable: boolean;
  /** Where the data lives (no secret), for messages. */
  source: string;
  /** Why the mount no longer answers (its FUSE process died, the server went away), or undefined. */
  broken(): Promise<string | undefined>;
  /** fusermount -u, then lazy; never throws: returns what went wrong. */
  unmount(): Promise<string | undefined>;
}

/** An input connector that can also mount a Directory (mount: true). */
export interface MountingInputConnector extends InputConnector {
  mount(req: InputStageRequest, ctx: ConnectorContext): Promise<MountedInput>;
}

export const canMount = (c: InputConnector): c is MountingInputConnector => typeof (c as Partial<MountingInputConnector>).mount === 'function';

/** The FUSE file system types our mounts have in /proc/self/mountinfo. */
const MOUNT_FS_TYPES = new Set(['fuse.sshfs', 'fuse.httpdirfs']);
/** The FUSE program that mounts each built-in connector's Directory. */
export const MOUNT_TOOLS: Record<string, 'sshfs' | 'httpdirfs'> = { 'red-connector-ssh': 'sshfs', 'red-connector-http': 'httpdirfs' };

function onPath(bin: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  for (const dir of (env.PATH || '/usr/local/bin:/usr/bin:/bin').split(':').concat(['/usr/sbin', '/sbin'])) {
    const p = path.join(dir || '.', bin);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return p;
    } catch {
      /* next */
    }
  }
  return undefined;
}

/** Why this host cannot mount with `tool`, or undefined (`fuseDevice`: for tests). */
export function mountUnavailable(tool: 'sshfs' | 'httpdirfs', env: NodeJS.ProcessEnv = process.env, fuseDevice = '/dev/fuse'): string | undefined {
  let st: fs.Stats | undefined;
  try {
    st = fs.statSync(fuseDevice);
  } catch {
    st = undefined;
  }
  if (!st?.isCharacterDevice()) return `this host cannot mount: ${fuseDevice} is missing (FUSE is not available here; in a container, run the bridge with --device /dev/fuse --cap-add SYS_ADMIN)`;
  try {
    fs.accessSync(fuseDevice, fs.constants.R_OK | fs.constants.W_OK);
  } catch {
    return `this host cannot mount: ${fuseDevice} is not open to the bridge's user`;
  }
  if (!onPath(tool, env)) return `this host cannot mount: ${tool} is not installed (Debian: apt-get install ${tool})`;
  if (!onPath('fusermount3', env) && !onPath('fusermount', env)) return 'this host cannot mount: fusermount3 is not installed (Debian: apt-get install fuse3)';
  return undefined;
}

/** The registry's connectors whose Directory inputs this host can mount now (an engine's capability mountConnectors). */
export function mountableConnectors(registry: Pick<ConnectorRegistry, 'inputCommands' | 'input'>, env: NodeJS.ProcessEnv = process.env): string[] {
  return registry.inputCommands.filter(command => {
    const tool = MOUNT_TOOLS[command];
    if (!tool || mountUnavailable(tool, env)) return false;
    try {
      return canMount(registry.input(command, 'mount', 'Directory'));
    } catch {
      return false;
    }
  });
}

/**
 * Why input `label` (a `cls` of connector `command`, mount: true) cannot be mounted here, or
 * undefined: the connector cannot mount, it is not a Directory, the Docker engine runs on
 * another machine (`remote` names it), FUSE or the tool is missing. Names the fix.
 */
function whyNotMountable(label: string, cls: string, command: string, remote: string | undefined, env: NodeJS.ProcessEnv): string | undefined {
  const fix = `remove mount: true from inputs.${label}.connector to download the folder before the run instead`;
  const tool = MOUNT_TOOLS[command];
  if (!tool) return `input ${label}: ${command} cannot mount a folder on the host (mount: true works with ${Object.keys(MOUNT_TOOLS).join(' and ')}); ${fix}`;
  if (cls !== 'Directory') return `input ${label}: mount: true is for Directory inputs only; ${fix}`;
  if (remote) return `input ${label}: mount: true mounts the folder on this host, but the Docker engine ${remote} runs on another machine and cannot see this host's mounts; ${fix}`;
  const why = mountUnavailable(tool, env);
  return why && `input ${label}: mount: true needs ${tool}, but ${why}; ${fix}`;
}

interface MountItem {
  label: string;
  value: { class: string; connector: { command: string; mount?: boolean } };
}

/**
 * Why the `mount: true` inputs of `items` cannot be mounted here, checked before any pull or
 * container (undefined when they can, or none asks). Connectors that cannot mount are left
 * to say themselves what they do with mount: true (FTP, archives, CC connector images refuse it).
 */
export function mountRefusal(items: readonly MountItem[], remote?: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  for (const { label, value } of items) {
    if (!value.connector.mount || !MOUNT_TOOLS[value.connector.command]) continue;
    const why = whyNotMountable(label, value.class, value.connector.command, remote, env);
    if (why) return why;
  }
  return undefined;
}

/** The mounts of one batch: made by staging, checked after the container, unmounted on every exit path. */
export class BatchMounts {
  private readonly mounts: MountedInput[] = [];
  /** `remote`: the engine runs on another machine (so named), which cannot see this host's mounts. */
  constructor(readonly remote?: string) {}

  get count(): number {
    return this.mounts.length;
  }

  add(m: MountedInput): void {
    this.mounts.push(m);
  }

  /** What broke during the run, one message per broken mount. */
  async broken(): Promise<string[]> {
    const out: string[] = [];
    for (const m of this.mounts) {
      const why = await m.broken();
      if (why) out.push(why);
    }
    return out;
  }

  /** Unmounts all (each tried, whatever the others do); returns what went wrong. */
  async unmountAll(): Promise<string[]> {
    const errors: string[] = [];
    for (const m of this.mounts.splice(0)) {
      const err = await m.unmount();
      if (err) errors.push(err);
    }
    return errors;
  }
}

/** Mounts one `mount: true` input for staging (its checks named for the input), registered in `mounts`. */
export async function mountInput(connector: InputConnector, req: InputStageRequest, ctx: ConnectorContext, mounts: BatchMounts | undefined): Promise<MountedInput & { copied: false }> {
  if (!mounts) throw new ConnectorError(`input ${req.label}: this engine cannot mount folders (mount: true); remove mount: true from inputs.${req.label}.connector to download the folder before the run instead`);
  const why = whyNotMountable(req.label, req.value.class, connector.command, mounts.remote, process.env);
  if (why || !canMount(connector)) throw new ConnectorError(why ?? `input ${req.label}: ${connector.command} cannot mount a folder on the host`);
  const tool = MOUNT_TOOLS[connector.command];
  const m = await connector.mount(req, ctx);
  mounts.add(m);
  ctx.onInfo?.(`input ${req.label}: mounted ${m.source} ${m.writable ? 'read-write' : 'read-only'} (${tool})`);
  return { ...m, copied: false };
}

// ---- /proc/self/mountinfo ----

interface MountInfoEntry {
  mountPoint: string;
  fsType: string;
  source: string;
}

/** mountinfo escapes space, tab, newline and backslash as \ooo. */
const unescapeMountInfo = (s: string) => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));

export function readMountInfo(file = '/proc/self/mountinfo'): MountInfoEntry[] {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  const out: MountInfoEntry[] = [];
  for (const line of text.split('\n')) {
    const dash = line.indexOf(' - ');
    if (dash < 0) continue;
    const left = line.slice(0, dash).split(' ');
    const right = line.slice(dash + 3).split(' ');
    if (left.length < 5 || right.length < 2) continue;
    out.push({ mountPoint: unescapeMountInfo(left[4]), fsType: right[0], source: unescapeMountInfo(right[1]) });
  }
  return out;
}

export const isMounted = (mountPoint: string) => readMountInfo().some(e => e.mountPoint === mountPoint);

/** A process's start time (field 22 of /proc/<pid>/stat), to tell it from a later one with its pid. */
function processStartTime(pid: number): string | undefined {
  try {
    const s = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return s.slice(s.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

/** The fsname our mounts carry: who made them (`redlab-<pid>-<start time>`). */
export function ownerMark(pid = process.pid): string {
  return `redlab-${pid}-${processStartTime(pid) ?? '0'}`;
}

/** Whether the process named by a mount's owner mark still runs (the same process, not a reused pid). */
function ownerAlive(source: string): boolean {
  const m = /^redlab-(\d+)-(\d+)/.exec(source);
  if (!m) return false;
  const start = processStartTime(Number(m[1]));
  return start !== undefined && start === m[2];
}

const fusermount = () => onPath('fusermount3') ?? onPath('fusermount') ?? 'fusermount3';

function run(bin: string, args: string[], timeoutMs = 15_000): Promise<{ code: number | null; output: string }> {
  return new Promise(resolve => {
    let output = '';
    const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.on('error', err => {
      clearTimeout(timer);
      resolve({ code: null, output: err.message });
    });
    child.on('close', code => {
      clearTimeout(timer);
      resolve({ code, output: output.trim() });
    });
  });
}

/** fusermount -u; when busy or dead, lazy (-uz), then umount -l as root. Undefined on success. */
export async function unmountPath(mountPoint: string): Promise<string | undefined> {
  if (!isMounted(mountPoint)) return undefined;
  const first = await run(fusermount(), ['-u', mountPoint]);
  if (!isMounted(mountPoint)) return undefined;
  await run(fusermount(), ['-uz', mountPoint]);
  if (!isMounted(mountPoint)) return undefined;
  if (process.getuid?.() === 0) await run('umount', ['-l', mountPoint]);
  if (!isMounted(mountPoint)) return undefined;
  return `cannot unmount ${mountPoint}: ${first.output || 'fusermount failed'}; unmount it by hand (fusermount3 -uz ${mountPoint})`;
}

/**
 * Unmounts the sshfs/httpdirfs mounts under `workRoot` whose owner process is gone (a bridge
 * or CLI that crashed or was killed mid-run). Mounts of live processes are left alone (a
 * bridge and a CLI may share a work root). Returns the mount points it unmounted.
 */
export async function cleanupStaleMounts(workRoot: string): Promise<{ unmounted: string[]; errors: string[] }> {
  const roots = new Set([path.resolve(workRoot)]);
  try {
    roots.add(fs.realpathSync(workRoot));
  } catch {
    /* not made yet: nothing under it is mounted either */
  }
  const under = (p: string) => [...roots].some(r => p.startsWith(r.endsWith('/') ? r : r + '/'));
  const unmounted: string[] = [];
  const errors: string[] = [];
  // Deepest first, so a mount inside another is gone before its parent.
  const stale = readMountInfo()
    .filter(e => MOUNT_FS_TYPES.has(e.fsType) && under(e.mountPoint) && !ownerAlive(e.source))
    .sort((a, b) => b.mountPoint.length - a.mountPoint.length);
  for (const e of stale) {
    const err = await unmountPath(e.mountPoint);
    if (err) errors.push(err);
    else unmounted.push(e.mountPoint);
  }
  return { unmounted, errors };
}

// ---- running the FUSE programs ----

/**
 * A private 0700 folder for a mount's secrets and its program's log, beside the mount point
 * (in the batch's private work folder, so whatever a killed process leaves goes with it).
 */
const privateDir = (dest: string) => mkdtemp(path.join(path.dirname(dest), `.${path.basename(dest)}.mount-`));

interface FuseRun {
  where: string;
  tool: 'sshfs' | 'httpdirfs';
  args: string[];
  env?: NodeJS.ProcessEnv;
  stdin?: string;
  /** The program's stdout/stderr go here (a file: the daemon and its ssh keep writing after the mount). */
  logFile: string;

  timeoutMs: number;
  signal?: AbortSignal;
}

/** Runs the FUSE program until it has mounted and gone to the background; returns its exit code and log. */
async function runFuse(r: FuseRun): Promise<{ code: number | null; log: string; timedOut: boolean; cancelled: boolean }> {
  const fd = fs.openSync(r.logFile, 'a', 0o600);
  let timedOut = false;
  let cancelled = false;
  const code = await new Promise<number | null>((resolve, reject) => {
    const child = spawn(r.tool, r.args, { stdio: ['pipe', fd, fd], env: r.env ?? process.env });
    fs.closeSync(fd);
    const kill = () => child.kill('SIGKILL');
    const timer = setTimeout(() => {
      timedOut = true;
      kill();
    }, r.timeoutMs);
    const abort = () => {
      cancelled = true;
      kill();
    };
    r.signal?.addEventListener('abort', abort, { once: true });
    child.stdin?.on('error', () => undefined);
    child.stdin?.end(r.stdin ?? '');
    child.on('error', err => {
      clearTimeout(timer);
      r.signal?.removeEventListener('abort', abort);
      reject(new ConnectorError(`${r.where}: cannot start ${r.tool}: ${err.message}`));
    });
    // 'exit', not 'close': ssh, started by sshfs, keeps the log open after sshfs has mounted.
    child.on('exit', c => {
      clearTimeout(timer);
      r.signal?.removeEventListener('abort', abort);
      resolve(c);
    });
  });
  const log = await readFile(r.logFile, 'utf8').catch(() => '');
  return { code, log, timedOut, cancelled };
}

/** The last meaningful lines of a FUSE program's log (no secret ever goes there). */
const logTail = (log: string) =>
  log
    .split('\n')
    .map(l => l.trim())
    .filter(Boolean)
    .slice(-4)
    .join(' | ');

/** Builds the MountedInput for a mount point now mounted by `tool`; `tmp` is removed at unmount. */
function mounted(where: string, tool: string, dest: string, source: string, writable: boolean, tmp: string, logFile: string): MountedInput {
  let done = false;
  // What the program (and sshfs's ssh) said up to the mount; what it says after is news.
  const logAtMount = fs.statSync(logFile, { throwIfNoEntry: false })?.size ?? 0;
  return {
    hostPath: dest,
    writable,
    source,
    async broken() {
      if (done) return undefined;
      const later = (await readFile(logFile).catch(() => Buffer.alloc(0))).subarray(logAtMount).toString();
      // A lost connection: ssh says so in the log, sshfs then answers ENOTCONN/EIO (but may still
      // serve what it cached); statfs asks the server itself. A server that stopped answering may block.
      // sshfs without `reconnect` ends itself (and its host mount) when the connection is lost.
      const why = !isMounted(dest)
        ? `${tool} ended and its mount is gone`
        : /closed|reset|broken pipe|timeout|timed out|disconnect|not responding/i.test(later)
          ? 'the connection was lost'
          : await new Promise<string | undefined>(resolve => {
        const timer = setTimeout(() => resolve('it does not answer'), 5000);
        statfs(dest).then(
          () => {
            clearTimeout(timer);
            resolve(undefined);
          },
          (err: NodeJS.ErrnoException) => {
            clearTimeout(timer);
            resolve(err.code === 'ENOTCONN' ? 'the connection is gone' : err.message);
          }
        );
      });
      if (!why) return undefined;
      const log = logTail(later);
      return `${where}: the ${tool} mount of ${source} broke during the run (${why}${log ? `; ${tool} said: ${log}` : ''}): the server went away or the network failed`;
    },
    async unmount() {
      if (done) return undefined;
      done = true;
      const err = await unmountPath(dest);
      await rm(tmp, { recursive: true, force: true }).catch(() => undefined);
      return err ? `${where}: ${err}` : undefined;
    }
  };
}

/** Checks that `dest` really is a FUSE mount of `tool` now; else unmounts what is there and throws. */
async function expectMounted(where: string, tool: string, dest: string, code: number | null, log: string): Promise<void> {
  const e = readMountInfo().find(m => m.mountPoint === dest);
  if (e && e.fsType === `fuse.${tool}`) return;
  if (e) await unmountPath(dest);
  throw new ConnectorError(`${where}: ${tool} exited${code === null ? '' : ` with ${code}`} without mounting: ${logTail(log) || 'no message'}`);
}

export interface SshfsMountOptions {
  where: string;
  /** The name the RED gives (for known_hosts and messages). */
  host: string;
  /** The address the host policy vetted: where the connection goes. */
  address: string;
  port: number;
  username: string;
  password?: string;
  privateKey?: string;
  passphrase?: string;
  /** The folder on the server (absolute: resolved by the caller's SFTP check). */
  remoteDir: string;
  writable: boolean;
  knownHostsFile: string;
  /** known_hosts name of the host (`host` or `[host]:port`). */
  knownHostsName: string;
  timeoutS: number;
  dest: string;
  signal?: AbortSignal;
}

/** One FUSE -o option: its commas and backslashes escaped (paths, ssh's comma lists). */
const fuseOpt = (o: string) => o.replace(/[\\,]/g, c => `\\${c}`);

/** Mounts `remoteDir` at `dest` (made here, empty) with sshfs. */
export async function mountSshfs(o: SshfsMountOptions): Promise<MountedInput> {
  await fs.promises.mkdir(o.dest, { recursive: true });
  const tmp = await privateDir(o.dest);
  const logFile = path.join(tmp, 'sshfs.log');
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME, LANG: 'C' };
  const opts = [
    `fsname=${ownerMark()}`,
    o.writable ? 'rw' : 'ro',
    'StrictHostKeyChecking=yes',
    `UserKnownHostsFile=${o.knownHostsFile}`,
    'GlobalKnownHostsFile=/dev/null',
    `HostKeyAlias=${o.knownHostsName}`,
    'CheckHostIP=no',
    'UpdateHostKeys=no',
    `ConnectTimeout=${Math.max(1, Math.ceil(o.timeoutS))}`,
    // A server that goes away ends the mount (EIO/ENOTCONN in the container) instead of hanging it.
    'ServerAliveInterval=5',
    'ServerAliveCountMax=3',
    'IdentityAgent=none'
  ];
  // ssh's own words (host key refused, login refused, connection lost) go to the log too: sshfs keeps its
  // stderr from us. sshfs splits ssh_command at blanks (no escape): a log path with one goes without.
  if (!/\s/.test(logFile)) opts.push(`ssh_command=ssh -E ${logFile}`);
  // The container may run as another user than the bridge; the mount point's folder stays private (0700 work root).
  if (process.getuid?.() === 0) opts.push('allow_other');
  let stdin: string | undefined;
  try {
    if (o.privateKey !== undefined) {
      const keyFile = path.join(tmp, 'id');
      await writeFile(keyFile, o.privateKey.endsWith('\n') ? o.privateKey : o.privateKey + '\n', { mode: 0o600 });
      opts.push(`IdentityFile=${keyFile}`, 'IdentitiesOnly=yes', 'PasswordAuthentication=no', 'KbdInteractiveAuthentication=no', 'PreferredAuthentications=publickey');
      if (o.passphrase !== undefined) {
        // ssh asks SSH_ASKPASS for the passphrase; the script reads it from a 0600 file beside the key.
        const passFile = path.join(tmp, 'pass');
        const askpass = path.join(tmp, 'askpass');
        await writeFile(passFile, o.passphrase, { mode: 0o600 });
        await writeFile(askpass, `#!/bin/sh\ncat '${passFile}'\n`, { mode: 0o700 });
        Object.assign(env, { SSH_ASKPASS: askpass, SSH_ASKPASS_REQUIRE: 'force', DISPLAY: ':0' });
        opts.push('NumberOfPasswordPrompts=1');
      } else opts.push('BatchMode=yes');
    } else {
      stdin = `${o.password ?? ''}\n`;
      opts.push('password_stdin', 'PubkeyAuthentication=no', 'PreferredAuthentications=password,keyboard-interactive', 'NumberOfPasswordPrompts=1');
    }
    const target = `${o.username}@${o.address.includes(':') ? `[${o.address}]` : o.address}:${o.remoteDir}`;
    const args = [target, o.dest, '-p', String(o.port), '-F', '/dev/null', '-o', opts.map(fuseOpt).join(',')];
    const r = await runFuse({ where: o.where, tool: 'sshfs', args, env, stdin, logFile, timeoutMs: (o.timeoutS + 15) * 1000, signal: o.signal });
    const source = `sftp://${o.username}@${o.host}${o.port === 22 ? '' : `:${o.port}`}${o.remoteDir}`;
    if (r.cancelled || r.timedOut) {
      await unmountPath(o.dest);
      throw new ConnectorError(r.cancelled ? `${o.where}: cancelled` : `${o.where}: sshfs did not mount ${source} within ${o.timeoutS + 15} s (access.timeout sets how long to wait)`);
    }
    if (r.code !== 0 || !isMounted(o.dest)) {
      const log = r.log;
      if (/Host key verification failed|REMOTE HOST IDENTIFICATION HAS CHANGED|No .* host key is known/i.test(log)) {
        throw new ConnectorError(`${o.where}: sshfs refused ${o.host}'s host key: it is not the one in ${o.knownHostsFile} (${logTail(log)})`);
      }
      if (/Permission denied|Too many authentication failures|incorrect passphrase/i.test(log)) {
        throw new ConnectorError(`${o.where}: ${o.host} refused the sshfs login as ${o.username}; check access.auth.username and ${o.privateKey !== undefined ? 'access.auth.privateKey / passphrase' : 'access.auth.password'}`);
      }
      if (/Connection (reset|closed|refused)|Broken pipe/i.test(log)) {
        // ssh's own words may not reach the log (sshfs runs it on a pty for password_stdin).
        throw new ConnectorError(
          `${o.where}: sshfs could not log in to ${o.host} port ${o.port} as ${o.username} (${logTail(log)}); check access.auth.username and ${o.privateKey !== undefined ? 'access.auth.privateKey / passphrase' : 'access.auth.password'}, and that the server runs`
        );
      }
      await expectMounted(o.where, 'sshfs', o.dest, r.code, log);
    }
    await expectMounted(o.where, 'sshfs', o.dest, r.code, r.log);
    // The key and passphrase are needed only to log in: gone now (the log stays until unmount).
    await Promise.all(['id', 'pass', 'askpass'].map(f => rm(path.join(tmp, f), { force: true })));
    return mounted(o.where, 'sshfs', o.dest, source, o.writable, tmp, logFile);
  } catch (err) {
    await rm(tmp, { recursive: true, force: true }).catch(() => undefined);
    throw err;
  }
}

export interface HttpdirfsMountOptions {
  where: string;
  /** A folder URL (an Apache/nginx-like index page). */
  url: string;
  /** Shown in messages and records: the URL without a password. */
  shownUrl: string;
  auth?: { username: string; password: string };
  insecure?: boolean;
  dest: string;
  signal?: AbortSignal;
}

/** Mounts the folder at `url` (read-only) at `dest` (made here, empty) with httpdirfs. */
export async function mountHttpdirfs(o: HttpdirfsMountOptions): Promise<MountedInput> {
  await fs.promises.mkdir(o.dest, { recursive: true });
  const tmp = await privateDir(o.dest);
  const logFile = path.join(tmp, 'httpdirfs.log');
  try {
    const args = ['-o', `ro,fsname=${ownerMark()},subtype=httpdirfs${process.getuid?.() === 0 ? ',allow_other' : ''}`, '--retry-wait', '1'];
    if (o.auth) {
      if (/[\r\n\0]/.test(o.auth.username + o.auth.password)) throw new ConnectorError(`${o.where}: access.auth.username or password contains a line break, which httpdirfs cannot take; remove mount: true to download the folder instead`);
      // httpdirfs reads its login from a config file (never argv): 0600, in the private folder, deleted after the mount.
      const config = path.join(tmp, 'config');
      await writeFile(config, `--username ${o.auth.username}\n--password ${o.auth.password}\n`, { mode: 0o600 });
      args.push('--config', config);
    }
    if (o.insecure) args.push('--insecure-tls');
    const url = o.url.endsWith('/') ? o.url : o.url + '/';
    args.push(url, o.dest);
    const r = await runFuse({ where: o.where, tool: 'httpdirfs', args, env: { PATH: process.env.PATH, HOME: tmp, XDG_CACHE_HOME: tmp, LANG: 'C' }, logFile, timeoutMs: 60_000, signal: o.signal });
    await rm(path.join(tmp, 'config'), { force: true });
    if (r.cancelled || r.timedOut) {
      await unmountPath(o.dest);
      throw new ConnectorError(r.cancelled ? `${o.where}: cancelled` : `${o.where}: httpdirfs did not mount ${o.shownUrl} within 60 s`);
    }
    if (!isMounted(o.dest)) {
      if (/401|403|authori[sz]/i.test(r.log)) throw new ConnectorError(`${o.where}: ${o.shownUrl} refused the login; check access.auth.username and access.auth.password`);
      throw new ConnectorError(`${o.where}: httpdirfs could not mount ${o.shownUrl}: ${logTail(r.log) || `exit ${r.code}`}; check access.url (a folder whose page lists its files)`);
    }
    await expectMounted(o.where, 'httpdirfs', o.dest, r.code, r.log);
    return mounted(o.where, 'httpdirfs', o.dest, o.shownUrl, false, tmp, logFile);
  } catch (err) {
    await rm(tmp, { recursive: true, force: true }).catch(() => undefined);
    throw err;
  }
}

/** red-connector-http's mount: the host policy vets the URL's host (each address it resolves to), then httpdirfs mounts it. */
export async function mountHttpDirectory(
  req: InputStageRequest,
  ctx: ConnectorContext,
  policy: { vet(host: string): Promise<unknown> },
  access: { url: string; auth?: { username: string; password: string }; disableSSLVerification?: boolean }
): Promise<MountedInput> {
  const where = `input ${req.label} (red-connector-http)`;
  const u = new URL(access.url);
  if (u.username || u.password) throw new ConnectorError(`${where}: give the login in access.auth, not in access.url, for a mount`);
  try {
    await policy.vet(u.hostname.replace(/^\[|\]$/g, ''));
  } catch (err) {
    throw new ConnectorError(`${where}: ${(err as Error).message}`);
  }
  return mountHttpdirfs({
    where,
    url: access.url,
    shownUrl: access.url,
    auth: access.auth ? { username: access.auth.username, password: access.auth.password } : undefined,
    insecure: access.disableSSLVerification,
    dest: req.dest,
    signal: ctx.signal
  });
}
