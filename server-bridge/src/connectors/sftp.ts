// red-connector-ssh, built in: SFTP with the ssh2 package, run on the host (any image works).
// Access as Curious Containers' red-connector-ssh: {host, port?: 22, auth: {username, password}
// or {username, privateKey, passphrase?}, filePath | dirPath, timeout? (seconds), writable? (mounts)}.
// Receive a File or a Directory (recursive), send a File or a Directory. Transfers stream
// chunk by chunk (ssh2's fastGet/fastPut: parallel reads/writes at offsets), never whole in memory.
// Unlike CC, the host key is checked against known_hosts (util/ssh-host-keys): an unknown or
// changed key is refused with its fingerprint. The host obeys the connectors' HostPolicy, and
// the connection goes to the vetted address (no second name lookup).
import { lstat, mkdir, readdir, rename, rm } from 'fs/promises';
import * as os from 'os';
import * as path from 'path';
import type { Client, ConnectConfig, ParsedKey, SFTPWrapper, Stats } from 'ssh2';
import { isSafeSegment } from '../util/fs-safety';
import { hostKeyVerification, KnownHostsError, knownHostsName, readKnownHosts, unreachableReason } from '../util/ssh-host-keys';
import { HostPolicy, HostRefusedError } from './host-policy';
import { contextRetry, isTransientNetError, TRANSIENT_NET_CODES, TransientConnectorError, withRetries } from './retry';
import { TransferCounter } from './transfer-progress';
import { mountSshfs, type MountedInput, type MountingInputConnector } from './mounts';
import {
  ConnectorError,
  type ConnectorContext,
  type InputStageRequest,
  type OutputConnector,
  type OutputSendRequest,
  type SourceIdentity,
  type StagedInput
} from './types';

export const SSH_CONNECTOR = 'red-connector-ssh';
export const SSH_KNOWN_HOSTS_ENV = 'REDLAB_SSH_KNOWN_HOSTS';
const DEFAULT_TIMEOUT_S = 30;

/** ssh2, loaded when an SSH connector is first used: other runs start without it. */
function ssh2(): typeof import('ssh2') {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require('ssh2') as typeof import('ssh2');
}

export interface SshAccess {
  host: string;
  port: number;
  username: string;
  password?: string;
  privateKey?: string;
  passphrase?: string;
  filePath?: string;
  dirPath?: string;
  timeoutS: number;
}

const ACCESS_KEYS = ['host', 'port', 'auth', 'filePath', 'dirPath', 'timeout', 'writable'];

/** Checks an access object as red-connector-ssh's schema does; `where` names it (e.g. `input data`). Never quotes a secret. */
export function parseSshAccess(access: Record<string, unknown> | undefined, where: string, cls: 'File' | 'Directory'): SshAccess {
  const bad = (msg: string) => new ConnectorError(`${where} (${SSH_CONNECTOR}): ${msg}`);
  if (!access || typeof access !== 'object') throw bad('connector.access is missing; it needs {host, auth: {username, password}, filePath or dirPath}');
  const extra = Object.keys(access).filter(k => !ACCESS_KEYS.includes(k));
  if (extra.length) throw bad(`unknown access key${extra.length > 1 ? 's' : ''} ${extra.join(', ')}; allowed: ${ACCESS_KEYS.join(', ')}`);
  if (typeof access.host !== 'string' || !access.host.trim()) throw bad('access.host must be the SSH server (a host name or address)');
  const port = access.port === undefined ? 22 : Number(access.port);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw bad(`access.port must be a port number (1-65535), not ${JSON.stringify(access.port)}`);
  const timeoutS = access.timeout === undefined ? DEFAULT_TIMEOUT_S : Number(access.timeout);
  if (!Number.isFinite(timeoutS) || timeoutS <= 0) throw bad(`access.timeout must be a number of seconds (> 0), not ${JSON.stringify(access.timeout)}`);
  const auth = access.auth as Record<string, unknown> | undefined;
  if (!auth || typeof auth !== 'object' || typeof auth.username !== 'string' || !auth.username) {
    throw bad('access.auth needs username and either password or privateKey (give secrets as {{variables}})');
  }
  const authExtra = Object.keys(auth).filter(k => !['username', 'password', 'privateKey', 'passphrase'].includes(k));
  if (authExtra.length) throw bad(`unknown access.auth key${authExtra.length > 1 ? 's' : ''} ${authExtra.join(', ')}; allowed: username, password, privateKey, passphrase`);
  const str = (k: string) => {
    if (auth[k] !== undefined && typeof auth[k] !== 'string') throw bad(`access.auth.${k} must be a string`);
    return auth[k] as string | undefined;
  };
  const password = str('password');
  const privateKey = str('privateKey');
  const passphrase = str('passphrase');
  if (password === undefined && privateKey === undefined) throw bad('access.auth needs password or privateKey (the private key text, e.g. from a {{variable}})');
  const pathKey = cls === 'File' ? 'filePath' : 'dirPath';
  const other = cls === 'File' ? 'dirPath' : 'filePath';
  const p = access[pathKey];
  if (typeof p !== 'string' || !p) {
    throw bad(`a ${cls} needs access.${pathKey} (the path on the SSH server)${access[other] !== undefined ? `; access.${other} is for a ${cls === 'File' ? 'Directory' : 'File'}` : ''}`);
  }
  return { host: access.host.trim(), port, username: auth.username, password, privateKey, passphrase, [pathKey]: p, timeoutS };
}

export interface SshConnectorOptions {
  policy?: HostPolicy;
  /** known_hosts to check host keys against (default: REDLAB_SSH_KNOWN_HOSTS, else ~/.ssh/known_hosts). */
  knownHostsFile?: string;
  env?: NodeJS.ProcessEnv;
}

function knownHostsFileOf(opts: SshConnectorOptions): string {
  const env = opts.env ?? process.env;
  return opts.knownHostsFile || env[SSH_KNOWN_HOSTS_ENV] || path.join(env.HOME || os.homedir(), '.ssh', 'known_hosts');
}

/** An SFTP session on one verified, logged-in connection. */
interface Session {
  client: Client;
  sftp: SFTPWrapper;
  /** sftp://user@host:port, for targets and messages. */
  origin: string;
  /** The address the host policy vetted, where the connection went. */
  address: string;
  /** Counts the bytes moved (set by the input or output this session serves). */
  progress?: TransferCounter;
  /**
   * Rejects when the connection closes. fastGet/fastPut are raced against it: when the
   * connection drops mid-transfer, ssh2 fails the pending reads, then waits for the
   * answer to a close request sent on the dead channel, and would wait forever.
   */
  dropped: Promise<never>;
  close(): void;
}

async function openSession(a: SshAccess, where: string, opts: SshConnectorOptions, ctx: ConnectorContext): Promise<Session> {
  const policy = opts.policy ?? new HostPolicy();
  let address: string;
  try {
    address = (await policy.vet(a.host))[0].address;
  } catch (err) {
    if (err instanceof HostRefusedError) throw new ConnectorError(`${where} (${SSH_CONNECTOR}): ${err.message}`);
    throw new ConnectorError(`${where} (${SSH_CONNECTOR}): the host name ${a.host} was not found (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); check access.host`);
  }
  let known;
  try {
    known = readKnownHosts(knownHostsFileOf(opts));
  } catch (err) {
    throw new ConnectorError(`${where} (${SSH_CONNECTOR}): ${err instanceof KnownHostsError ? err.message : String(err)}`);
  }
  let key: ParsedKey | undefined;
  if (a.privateKey !== undefined) {
    const parsed = ssh2().utils.parseKey(a.privateKey, a.passphrase);
    const first = Array.isArray(parsed) ? parsed[0] : parsed;
    if (first instanceof Error || !first || !first.isPrivateKey()) {
      const encrypted = first instanceof Error && /encrypted|passphrase|decrypt/i.test(first.message);
      throw new ConnectorError(
        `${where} (${SSH_CONNECTOR}): access.auth.privateKey ${encrypted ? 'is encrypted and the passphrase is missing or wrong: check access.auth.passphrase' : 'is not a private key ssh2 can read: give the key file\'s text (-----BEGIN ... PRIVATE KEY-----)'}`
      );
    }
    key = first;
  }
  const timeoutMs = a.timeoutS * 1000;
  const verification = hostKeyVerification(known, a.host, a.port);
  const client = new (ssh2().Client)();
  const config: ConnectConfig = {
    host: address,
    port: a.port,
    username: a.username,
    readyTimeout: timeoutMs,
    keepaliveInterval: 15_000,
    keepaliveCountMax: 4,
    hostVerifier: verification.hostVerifier,
    ...(key ? { privateKey: a.privateKey, passphrase: a.passphrase } : { password: a.password, tryKeyboard: false })
  };
  if (verification.algorithms) config.algorithms = { serverHostKey: verification.algorithms as NonNullable<ConnectConfig['algorithms']>['serverHostKey'] };
  const origin = `sftp://${a.username}@${a.host}${a.port === 22 ? '' : `:${a.port}`}`;
  if (ctx.signal?.aborted) throw new ConnectorError(`${where}: cancelled`);
  // Cancel ends the connection: a pending connect or transfer then fails, and is reported as cancelled.
  const abort = () => client.destroy(); // end() waits for a handshake that may never come
  ctx.signal?.addEventListener('abort', abort, { once: true });
  const close = () => {
    ctx.signal?.removeEventListener('abort', abort);
    client.end();
  };
  try {
    await new Promise<void>((resolve, reject) => {
      client.once('ready', () => resolve());
      client.once('error', (err: NodeJS.ErrnoException & { level?: string }) => {
        client.on('error', () => undefined); // a reset while closing must not go unhandled
        if (ctx.signal?.aborted) return reject(new ConnectorError(`${where}: cancelled`));
        const refusal = verification.refusalFor(err);
        if (refusal) {
          return reject(
            new ConnectorError(`${where} (${SSH_CONNECTOR}): ${refusal.message} (the known_hosts file is set with --ssh-known-hosts or ${SSH_KNOWN_HOSTS_ENV})`)
          );
        }
        if (err.level === 'client-authentication') {
          return reject(
            new ConnectorError(
              `${where} (${SSH_CONNECTOR}): ${a.host} refused SSH login as ${a.username} (port ${a.port}); check access.auth.username and ${key ? 'access.auth.privateKey (its public key must be in the user\'s authorized_keys there)' : 'access.auth.password'}`
            )
          );
        }
        const why = unreachableReason(err, a.host, a.port, timeoutMs);
        // Refused, reset or timed out may pass; a name that does not resolve will not.
        const Err = isTransientNetError(err) || (why?.code !== undefined && TRANSIENT_NET_CODES.has(why.code)) ? TransientConnectorError : ConnectorError;
        reject(new Err(`${where} (${SSH_CONNECTOR}): ${why ? why.message : `SSH connection to ${a.host} port ${a.port} failed: ${err.message}`}${why?.code === 'ETIMEDOUT' ? ' (access.timeout sets how long to wait)' : ''}`));
      });
      client.once('close', () => reject(ctx.signal?.aborted ? new ConnectorError(`${where}: cancelled`) : new TransientConnectorError(`${where} (${SSH_CONNECTOR}): ${a.host} closed the SSH connection before login`)));
      client.connect(config);
    });
    client.on('error', () => undefined); // later errors surface on the SFTP requests that hit them
    const dropped = new Promise<never>((_, reject) => client.once('close', () => reject(new Error('the SSH connection closed (connection lost)'))));
    dropped.catch(() => undefined); // nobody may be waiting on it
    const sftp = await new Promise<SFTPWrapper>((resolve, reject) =>
      client.sftp((err, s) => (err ? reject(new ConnectorError(`${where} (${SSH_CONNECTOR}): ${a.host} offers no SFTP (${err.message}); check that its sshd has an sftp Subsystem`)) : resolve(s)))
    );
    return { client, sftp, origin, address, dropped, close };
  } catch (err) {
    close();
    throw err;
  }
}

/** An SFTP status error worded for people: missing, permission denied, or the server's text. */
function sftpError(err: unknown, what: string, where: string, hint: string, ctx: ConnectorContext): ConnectorError {
  if (ctx.signal?.aborted) return new ConnectorError(`${where}: cancelled`);
  if (err instanceof ConnectorError) return err;
  const code = (err as { code?: unknown }).code;
  if (code === 2) return new ConnectorError(`${where} (${SSH_CONNECTOR}): ${what}: no such file or folder on the server; ${hint}`);
  if (code === 3) return new ConnectorError(`${where} (${SSH_CONNECTOR}): ${what}: permission denied on the server; check that access.auth.username may use it`);
  // The connection went (ssh2 fails what was pending with "No response from server"): a new one may do.
  const dropped = code === 6 || code === 7 || isTransientNetError(err) || /no response from server|channel not open|connection lost|no connection/i.test(String((err as Error)?.message));
  return new (dropped ? TransientConnectorError : ConnectorError)(`${where} (${SSH_CONNECTOR}): ${what}: ${(err as Error)?.message ?? String(err)}`);
}

const call = <T>(fn: (cb: (err: Error | null | undefined, v: T) => void) => void): Promise<T> =>
  new Promise((resolve, reject) => fn((err, v) => (err ? reject(err) : resolve(v))));

/**
 * fastGet/fastPut: 32 requests of 254 KiB in flight, the most OpenSSH serves per request with
 * ssh2's overhead (larger ones would be split). 64 of 32 KiB (ssh2's default) made a 1 GB download
 * ~0.55 of scp's throughput: the JS work is per request (bench/connectors.js). A server with a
 * smaller limit gets its own size (ssh2 splits the request).
 */
const TRANSFER_REQUESTS = { concurrency: 32, chunkSize: 254 * 1024 };
const remoteStat = (s: SFTPWrapper, p: string) => call<Stats>(cb => s.stat(p, cb));
type OnStep = (total: number, chunk: number, size: number) => void;
const fastGet = (s: SFTPWrapper, remote: string, local: string, step?: OnStep) => call<void>(cb => s.fastGet(remote, local, { ...TRANSFER_REQUESTS, step }, err => cb(err, undefined)));
const fastPut = (s: SFTPWrapper, local: string, remote: string, step?: OnStep) => call<void>(cb => s.fastPut(local, remote, { ...TRANSFER_REQUESTS, step }, err => cb(err, undefined)));

/** A fastGet/fastPut step callback counting into the session's progress; `moved()` is the file's bytes so far. */
function stepCounter(s: Session): { step: OnStep; moved: () => number } {
  let moved = 0;
  return {
    step: (_total, chunk) => {
      moved += chunk;
      s.progress?.add(chunk);
    },
    moved: () => moved
  };
}

/** Downloads one remote file into `dest` (through dest.part). */
async function getFile(s: Session, remote: string, dest: string, where: string, ctx: ConnectorContext): Promise<void> {
  const part = dest + '.part';
  const count = stepCounter(s);
  try {
    await Promise.race([fastGet(s.sftp, remote, part, count.step), s.dropped]);
    await rename(part, dest);
  } catch (err) {
    await rm(part, { force: true });
    s.progress?.takeBack(count.moved());
    throw sftpError(err, `download of ${remote} failed`, where, 'check access.filePath / access.dirPath', ctx);
  }
}

/** Where a remote path is, as a URL-like name for records and messages (`/~/` marks a path relative to the login folder). */
const remoteName = (s: Session, remote: string) => `${s.origin}${remote.startsWith('/') ? '' : '/~/'}${remote}`;

const isInside = (p: string, root: string) => p === root || p.startsWith(root.endsWith('/') ? root : root + '/');

/**
 * Copies the remote folder `remote` into `local`, recursively. Links on the server are
 * followed only to files inside dirPath (`rootReal`); a link out of it, or to a folder
 * (which could loop), is refused naming it.
 */
async function getDir(s: Session, remote: string, local: string, rootReal: string, rel: string, where: string, ctx: ConnectorContext): Promise<void> {
  await mkdir(local, { recursive: true });
  let entries;
  try {
    entries = await call<{ filename: string; attrs: Stats }[]>(cb => s.sftp.readdir(remote, cb));
  } catch (err) {
    throw sftpError(err, `cannot list ${remote}`, where, 'check access.dirPath', ctx);
  }
  for (const e of entries) {
    if (e.filename === '.' || e.filename === '..') continue;
    const r = rel ? `${rel}/${e.filename}` : e.filename;
    if (!isSafeSegment(e.filename)) throw new ConnectorError(`${where} (${SSH_CONNECTOR}): the server lists ${JSON.stringify(r)} in ${remote}, which is not a plain file name`);
    const rp = path.posix.join(remote, e.filename);
    const lp = path.join(local, e.filename);
    if (e.attrs.isDirectory()) await getDir(s, rp, lp, rootReal, r, where, ctx);
    else if (e.attrs.isFile()) await getFile(s, rp, lp, `${where} (${r})`, ctx);
    else if (e.attrs.isSymbolicLink()) {
      const real = await call<string>(cb => s.sftp.realpath(rp, cb)).catch(() => undefined);
      const st = real ? await remoteStat(s.sftp, real).catch(() => undefined) : undefined;
      if (!real || !st) throw new ConnectorError(`${where} (${SSH_CONNECTOR}): ${r} in dirPath is a link that leads nowhere on the server; remove it or copy the data in its place`);
      if (!isInside(real, rootReal)) {
        throw new ConnectorError(`${where} (${SSH_CONNECTOR}): ${r} in dirPath is a link to ${real}, outside dirPath (${rootReal}); links are not followed out of dirPath: copy the data into dirPath or point dirPath at it`);
      }
      if (!st.isFile()) throw new ConnectorError(`${where} (${SSH_CONNECTOR}): ${r} in dirPath is a link to a folder; such links are not followed (they can loop): replace it with the folder`);
      await getFile(s, rp, lp, `${where} (${r})`, ctx);
    } else throw new ConnectorError(`${where} (${SSH_CONNECTOR}): ${r} in dirPath is not a regular file, folder or link; remove it from the folder`);
  }
}

/** Creates the remote folder `dir` and its missing parents (as mkdir -p). */
async function mkdirs(s: Session, dir: string, where: string, ctx: ConnectorContext): Promise<void> {
  const st = await remoteStat(s.sftp, dir).catch((err: { code?: unknown }) => {
    if (err.code === 2) return undefined;
    throw sftpError(err, `cannot look at ${dir}`, where, 'check access.filePath / access.dirPath', ctx);
  });
  if (st) {
    if (!st.isDirectory()) throw new ConnectorError(`${where} (${SSH_CONNECTOR}): ${dir} on the server is a file, not a folder; check access.filePath / access.dirPath`);
    return;
  }
  const parent = path.posix.dirname(dir);
  if (parent !== dir) await mkdirs(s, parent, where, ctx);
  await call<void>(cb => s.sftp.mkdir(dir, err => cb(err, undefined))).catch(err => {
    throw sftpError(err, `cannot create the folder ${dir}`, where, 'check access.dirPath', ctx);
  });
}

async function putFile(s: Session, local: string, remote: string, where: string, ctx: ConnectorContext): Promise<void> {
  const count = stepCounter(s);
  try {
    await Promise.race([fastPut(s.sftp, local, remote, count.step), s.dropped]);
  } catch (err) {
    s.progress?.takeBack(count.moved());
    throw sftpError(err, `upload to ${remote} failed`, where, 'check access.filePath / access.dirPath', ctx);
  }
}

/** Uploads the local folder `local` into the remote folder `remote`. Local links are never followed: refused, naming them. */
async function putDir(s: Session, local: string, remote: string, rel: string, where: string, ctx: ConnectorContext): Promise<void> {
  await mkdirs(s, remote, where, ctx);
  for (const name of (await readdir(local)).sort()) {
    const lp = path.join(local, name);
    const rp = path.posix.join(remote, name);
    const r = rel ? `${rel}/${name}` : name;
    const st = await lstat(lp);
    if (st.isDirectory()) await putDir(s, lp, rp, r, where, ctx);
    else if (st.isFile()) await putFile(s, lp, rp, `${where} (${r})`, ctx);
    else throw new ConnectorError(`${where} (${SSH_CONNECTOR}): ${r} in the output folder is not a regular file or folder (a link?); it is not sent`);
  }
}

/**
 * A stat of a File input on the server, for the input cache: the source is
 * sftp://user@host:port/path, the validator its size and mtime (what rsync's quick check
 * trusts; SFTP gives mtimes in whole seconds).
 */
async function identifySftpFile(req: InputStageRequest, ctx: ConnectorContext, opts: SshConnectorOptions): Promise<SourceIdentity | undefined> {
  if (req.value.class !== 'File') return undefined;
  const where = `input ${req.label}`;
  const a = parseSshAccess(req.value.connector.access, where, 'File');
  const s = await openSession(a, where, opts, ctx);
  try {
    const remote = a.filePath as string;
    const st = await remoteStat(s.sftp, remote).catch(err => {
      throw sftpError(err, `${remote} on ${a.host}`, where, 'check access.filePath', ctx);
    });
    if (!st.isFile()) return undefined; // stage says what is wrong with it
    return { source: `${remoteName(s, remote)} (port ${a.port})`, validator: JSON.stringify({ size: st.size, mtime: st.mtime }) };
  } finally {
    s.close();
  }
}

/** red-connector-ssh (input and output) reaching only the hosts `policy` allows. */
export function createSshConnectors(opts: SshConnectorOptions = {}): { input: MountingInputConnector; output: OutputConnector } {
  const input: MountingInputConnector = {
    command: SSH_CONNECTOR,
    classes: ['File', 'Directory'],
    async stage(req: InputStageRequest, ctx: ConnectorContext): Promise<StagedInput> {
      const where = `input ${req.label}`;
      const a = parseSshAccess(req.value.connector.access, where, req.value.class);
      // A dropped connection is tried again from the start, on a new one.
      const progress = new TransferCounter(ctx, 'input', req.label);
      const staged = await withRetries(async () => {
        const s = await openSession(a, where, opts, ctx);
        s.progress = progress;
        try {
          if (req.value.class === 'File') {
            const remote = a.filePath as string;
            const st = await remoteStat(s.sftp, remote).catch(err => {
              throw sftpError(err, `${remote} on ${a.host}`, where, 'check access.filePath', ctx);
            });
            if (!st.isFile()) throw new ConnectorError(`${where} (${SSH_CONNECTOR}): ${remote} on ${a.host} is ${st.isDirectory() ? 'a folder' : 'not a regular file'}, but the input is a File; check access.filePath`);
            progress.setTotal(st.size);
            await getFile(s, remote, req.dest, where, ctx);
            ctx.onInfo?.(`${where}: received ${remoteName(s, remote)} (${st.size} bytes)`);
            return { hostPath: req.dest, copied: true };
          }
          const remote = a.dirPath as string;
          const rootReal = await call<string>(cb => s.sftp.realpath(remote, cb)).catch(err => {
            throw sftpError(err, `${remote} on ${a.host}`, where, 'check access.dirPath', ctx);
          });
          const st = await remoteStat(s.sftp, rootReal).catch(err => {
            throw sftpError(err, `${remote} on ${a.host}`, where, 'check access.dirPath', ctx);
          });
          if (!st.isDirectory()) throw new ConnectorError(`${where} (${SSH_CONNECTOR}): ${remote} on ${a.host} is not a folder, but the input is a Directory; check access.dirPath`);
          await getDir(s, rootReal, req.dest, rootReal, '', where, ctx);
          ctx.onInfo?.(`${where}: received the folder ${remoteName(s, remote)}`);
          return { hostPath: req.dest, copied: true, listing: req.value.listing };
        } finally {
          s.close();
        }
      }, contextRetry(ctx));
      progress.done();
      return staged;
    },
    identify: (req, ctx) => identifySftpFile(req, ctx, opts),
    /** mount: true: sshfs, after an SFTP check of policy, host key, login and dirPath (the same words as a download). */
    async mount(req: InputStageRequest, ctx: ConnectorContext): Promise<MountedInput> {
      const where = `input ${req.label} (${SSH_CONNECTOR})`;
      const a = parseSshAccess(req.value.connector.access, `input ${req.label}`, 'Directory');
      const writable = req.value.connector.access?.writable;
      if (writable !== undefined && typeof writable !== 'boolean') throw new ConnectorError(`${where}: access.writable must be true or false`);
      const s = await openSession(a, `input ${req.label}`, opts, ctx);
      let remoteDir: string;
      try {
        remoteDir = await call<string>(cb => s.sftp.realpath(a.dirPath as string, cb)).catch(err => {
          throw sftpError(err, `${a.dirPath} on ${a.host}`, `input ${req.label}`, 'check access.dirPath', ctx);
        });
        const st = await remoteStat(s.sftp, remoteDir).catch(err => {
          throw sftpError(err, `${a.dirPath} on ${a.host}`, `input ${req.label}`, 'check access.dirPath', ctx);
        });
        if (!st.isDirectory()) throw new ConnectorError(`${where}: ${a.dirPath} on ${a.host} is not a folder, but the input is a Directory; check access.dirPath`);
      } finally {
        s.close();
      }
      return mountSshfs({
        where,
        host: a.host,
        address: s.address,
        port: a.port,
        username: a.username,
        password: a.password,
        privateKey: a.privateKey,
        passphrase: a.passphrase,
        remoteDir,
        writable: writable === true,
        knownHostsFile: knownHostsFileOf(opts),
        knownHostsName: knownHostsName(a.host, a.port),
        timeoutS: a.timeoutS,
        dest: req.dest,
        signal: ctx.signal
      });
    }
  };
  const output: OutputConnector = {
    command: SSH_CONNECTOR,
    classes: ['File', 'Directory'],
    async send(req: OutputSendRequest, ctx: ConnectorContext): Promise<{ target: string }> {
      const where = `output ${req.key}`;
      const a = parseSshAccess(req.access, where, req.class);
      const progress = new TransferCounter(ctx, 'output', req.key, req.class === 'File' ? (await lstat(req.hostPath)).size : undefined);
      const target = await withRetries(async () => {
        const s = await openSession(a, where, opts, ctx);
        s.progress = progress;
        try {
          if (req.class === 'File') {
            const remote = a.filePath as string;
            await mkdirs(s, path.posix.dirname(remote), where, ctx);
            await putFile(s, req.hostPath, remote, where, ctx);
            return { target: remoteName(s, remote) };
          }
          const remote = a.dirPath as string;
          await putDir(s, req.hostPath, remote, '', where, ctx);
          return { target: remoteName(s, remote) };
        } finally {
          s.close();
        }
      }, contextRetry(ctx));
      progress.done();
      return target;
    }
  };
  return { input, output };
}
