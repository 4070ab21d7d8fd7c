// red-connector-ftp, built in (basic-ftp): receive a File or a Directory (recursive;
// with a `listing`, only what it names, as CC's receive-dir does), send a File or a
// Directory. Access as Curious Containers' red-connector-ftp: {url: ftp://host[:port]/path,
// auth?: {username, password}} (anonymous without auth), plus `port` as our extension.
// ftps:// uses explicit TLS (AUTH TLS) on the control and data connections.
//
// The URL's path is relative to the login folder (RFC 1738); `%2F` first makes it
// absolute (ftp://h/%2Fpub/x is /pub/x). Transfers are passive (EPSV, else PASV): the
// data connection goes to the control connection's address only (basic-ftp refuses a
// PASV answer naming another host), and the control connection goes to the address the
// HostPolicy vetted (the name is resolved once), so loopback and link-local hosts are
// refused unless allowed, as for red-connector-http.
import { Client, FTPError, type FileInfo } from 'basic-ftp';
import { lstat, mkdir, readdir, rename, rm } from 'fs/promises';
import * as net from 'net';
import * as path from 'path';
import type { ListingEntry } from '../../../src/red';
import { isSafeSegment } from '../util/fs-safety';
import { describeNetError } from './http-client';
import { redactUrl } from './http';
import { HostPolicy, HostRefusedError } from './host-policy';
import { contextRetry, isTransientNetError, TransientConnectorError, withRetries } from './retry';
import { TransferCounter } from './transfer-progress';
import {
  ConnectorError,
  type ConnectorContext,
  type InputConnector,
  type InputStageRequest,
  type OutputConnector,
  type OutputSendRequest,
  type SourceIdentity,
  type StagedInput
} from './types';

export const FTP_CONNECTOR = 'red-connector-ftp';

export interface FtpAccess {
  url: string;
  host: string;
  port: number;
  secure: boolean;
  /** Remote path: relative to the login folder, or absolute. */
  remotePath: string;
  username: string;
  password: string;
}

const ACCESS_KEYS = ['url', 'port', 'auth'];

/** Checks an access object as red-connector-ftp's schema does (plus `port`); `where` names it in errors. */
export function parseFtpAccess(access: Record<string, unknown> | undefined, where: string): FtpAccess {
  const bad = (msg: string) => new ConnectorError(`${where} (${FTP_CONNECTOR}): ${msg}`);
  if (!access || typeof access !== 'object') throw bad('connector.access is missing; it needs at least {url: ftp://host/path}');
  const extra = Object.keys(access).filter(k => !ACCESS_KEYS.includes(k));
  if (extra.length) throw bad(`unknown access key${extra.length > 1 ? 's' : ''} ${extra.join(', ')}; allowed: ${ACCESS_KEYS.join(', ')}`);
  if (typeof access.url !== 'string' || !access.url) throw bad('access.url must be an ftp:// (or ftps://) URL');
  let u: URL;
  try {
    u = new URL(access.url);
  } catch {
    throw bad('access.url is not a valid URL');
  }
  if (u.protocol !== 'ftp:' && u.protocol !== 'ftps:') throw bad(`access.url must start with ftp:// or ftps://, not ${u.protocol}//`);
  if (!u.hostname) throw bad('access.url has no host');
  let remotePath: string;
  try {
    remotePath = decodeURIComponent(u.pathname.replace(/^\//, ''));
  } catch {
    throw bad('access.url has a badly %-encoded path');
  }
  if (!remotePath || remotePath === '/') throw bad('access.url needs a path after the host (the file or folder), e.g. ftp://host/data/file.csv');
  if (remotePath.includes('\0') || /[\r\n]/.test(remotePath)) throw bad('access.url has a control character in its path');
  let port = u.port ? Number(u.port) : 21;
  if (access.port !== undefined) {
    const p = access.port;
    if (typeof p !== 'number' || !Number.isInteger(p) || p < 1 || p > 65535) throw bad('access.port must be a port number (1-65535)');
    if (u.port && Number(u.port) !== p) throw bad(`access.port ${p} and the port in access.url (${u.port}) differ; give one`);
    port = p;
  }
  let username = u.username ? decodeURIComponent(u.username) : 'anonymous';
  let password = u.password ? decodeURIComponent(u.password) : '';
  if (access.auth !== undefined) {
    const a = access.auth as Record<string, unknown>;
    if (!a || typeof a !== 'object' || Array.isArray(a)) throw bad('access.auth must be {username, password}');
    const extraAuth = Object.keys(a).filter(k => k !== 'username' && k !== 'password');
    if (extraAuth.length) throw bad(`unknown access.auth key${extraAuth.length > 1 ? 's' : ''} ${extraAuth.join(', ')}; allowed: username, password`);
    if (a.username !== undefined && typeof a.username !== 'string') throw bad('access.auth.username must be a string');
    if (a.password !== undefined && typeof a.password !== 'string') throw bad('access.auth.password must be a string');
    username = (a.username as string | undefined) ?? 'anonymous';
    password = (a.password as string | undefined) ?? '';
  }
  if (/[\r\n]/.test(username + password)) throw bad('access.auth has a line break in the username or password');
  return { url: access.url, host: u.hostname.replace(/^\[|\]$/g, ''), port, secure: u.protocol === 'ftps:', remotePath, username, password };
}

/** The URL without any password (what a FileRecord keeps as the output's target). */
function urlWithoutPassword(url: string): string {
  const u = new URL(url);
  u.password = '';
  return u.toString();
}

export interface FtpConnectorOptions {
  /** No answer (connect, reply or data) for this long fails; default 30 s. */
  timeoutMs?: number;
}

export const DEFAULT_FTP_TIMEOUT_MS = 30_000;

/** One FTP session for one input or output: what it failed at and what to check, in words. */
class FtpSession {
  private readonly client: Client;
  private readonly shown: string;
  private readonly onAbort = () => this.client.close();

  private constructor(
    readonly access: FtpAccess,
    private readonly where: string,
    private readonly ctx: ConnectorContext,
    private readonly timeoutMs: number
  ) {
    this.client = new Client(timeoutMs);
    this.shown = redactUrl(access.url);
  }

  static async open(access: FtpAccess, where: string, ctx: ConnectorContext, policy: HostPolicy, timeoutMs: number): Promise<FtpSession> {
    const s = new FtpSession(access, where, ctx, timeoutMs);
    if (ctx.signal?.aborted) throw new ConnectorError(`${where}: cancelled`);
    ctx.signal?.addEventListener('abort', s.onAbort, { once: true });
    try {
      // Resolve once, connect to the vetted address (TLS still checks the certificate against the name).
      const [address] = await policy.vet(access.host);
      await s.client.access({
        host: address.address,
        port: access.port,
        user: access.username,
        password: access.password,
        secure: access.secure,
        secureOptions: access.secure ? { host: access.host, ...(net.isIP(access.host) ? {} : { servername: access.host }) } : undefined
      });
    } catch (err) {
      s.close();
      throw s.error(err, 'login');
    }
    return s;
  }

  close(): void {
    this.ctx.signal?.removeEventListener('abort', this.onAbort);
    this.client.close();
  }

  /** Bytes this session moved into `progress` so far. */
  moved = 0;

  /** Counts the session's transfers into `progress` (basic-ftp polls its sockets twice a second). */
  countInto(progress: TransferCounter): void {
    let last = 0;
    this.client.trackProgress(info => {
      const delta = info.bytesOverall - last;
      last = info.bytesOverall;
      this.moved += delta;
      progress.add(delta);
    });
  }

  /** Runs `step`; a failure becomes a ConnectorError naming `what` (a remote path or action). */
  async run<T>(what: string, step: (c: Client) => Promise<T>): Promise<T> {
    try {
      return await step(this.client);
    } catch (err) {
      throw this.error(err, what);
    }
  }

  error(err: unknown, what: string): Error {
    const owner = this.where;
    if (this.ctx.signal?.aborted) return new ConnectorError(`${owner}: cancelled`);
    if (err instanceof ConnectorError) return err;
    const prefix = `${owner}: ${FTP_CONNECTOR} ${this.shown}: ${what}`;
    if (err instanceof HostRefusedError) return new ConnectorError(`${prefix}: ${err.message}`);
    // A server reply has a numeric code; socket errors (ECONNREFUSED …) may come wrapped with a string code.
    if (err instanceof FTPError && typeof err.code === 'number') {
      const reply = `the server answered ${err.code} ${err.message.replace(/^\d{3}[ -]?/, '').trim()}`;
      if (err.code === 530) return new ConnectorError(`${prefix}: login refused (${reply}); check auth.username and auth.password in connector.access of ${owner}`);
      if (err.code === 550 || err.code === 553) {
        return new ConnectorError(`${prefix}: no such file or folder, or no permission (${reply}); check the path in connector.access.url of ${owner}`);
      }
      if (err.code >= 500) return new ConnectorError(`${prefix}: ${reply}; check connector.access of ${owner}`);
      // 4xx: "not now" (421 closing, 425/426 data connection failed, 45x busy).
      return new TransientConnectorError(`${prefix}: ${reply}; try again later`);
    }
    const e = err as NodeJS.ErrnoException;
    const msg = String(e?.message ?? err);
    if (/^Timeout/i.test(msg)) {
      return new TransientConnectorError(
        `${prefix}: no answer within ${Math.round(this.timeoutMs / 1000)} s; check the host and port in connector.access.url of ${owner}, and that a firewall lets passive data connections through`
      );
    }
    if (e?.code && /CERT|SELF_SIGNED|UNABLE_TO_VERIFY/.test(e.code)) {
      return new ConnectorError(
        `${prefix}: the server's TLS certificate is not trusted (${e.code}); have this machine trust it (the system's CA store, or NODE_EXTRA_CA_CERTS=<its CA file> for redlab and the bridge), or use ftp:// where the network is private`
      );
    }
    if (e?.code) {
      const hint = ['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH'].includes(e.code)
        ? `; check that the server runs and the host and port in connector.access.url of ${owner}`
        : '';
      return new (isTransientNetError(e) ? TransientConnectorError : ConnectorError)(`${prefix}: ${describeNetError(e)}${hint}`);
    }
    // basic-ftp's words for a control connection that went away.
    return new (/closed|FIN packet|socket|connection/i.test(msg) ? TransientConnectorError : ConnectorError)(`${prefix}: ${msg}`);
  }
}

/** A plain name from the server's listing, or a ConnectorError (a hostile server could send `../x`). */
function checkedName(name: string, remoteDir: string, where: string): string {
  if (!isSafeSegment(name)) throw new ConnectorError(`${where}: the server lists ${JSON.stringify(name)} in ${remoteDir}, which is not a plain file or folder name; refusing it`);
  return name;
}

const remoteJoin = (dir: string, name: string) => (dir.endsWith('/') ? dir + name : `${dir}/${name}`);

/** RETR `remote` into `local` (through local.part, removed on failure). */
async function receiveFile(s: FtpSession, remote: string, local: string): Promise<void> {
  const part = local + '.part';
  try {
    await s.run(`download of ${remote}`, c => c.downloadTo(part, remote));
  } catch (err) {
    await rm(part, { force: true });
    throw err;
  }
  await rename(part, local);
}

/** Every file and folder under `remote` into `local` (which it creates). Links on the server are skipped, with a note. */
async function receiveTree(s: FtpSession, remote: string, local: string, ctx: ConnectorContext, where: string): Promise<void> {
  await mkdir(local, { recursive: true });
  const entries: FileInfo[] = await s.run(`listing of ${remote}`, c => c.list(remote));
  for (const e of entries) {
    if (e.name === '.' || e.name === '..') continue;
    const name = checkedName(e.name, remote, where);
    const r = remoteJoin(remote, name);
    if (e.isDirectory) await receiveTree(s, r, path.join(local, name), ctx, where);
    else if (e.isFile) await receiveFile(s, r, path.join(local, name));
    else ctx.onInfo?.(`${where}: skipped ${r} on the server (a link or special file)`);
  }
}

/** What `listing` names under `remote` (a listed folder without its own listing: all of it). */
async function receiveListing(s: FtpSession, remote: string, listing: ListingEntry[], local: string, ctx: ConnectorContext, where: string, rel = ''): Promise<void> {
  await mkdir(local, { recursive: true });
  for (const entry of listing) {
    const shown = rel ? `${rel}/${entry?.basename}` : String(entry?.basename);
    if (!entry || !isSafeSegment(entry.basename)) {
      throw new ConnectorError(`${where}: listing entry ${JSON.stringify(entry?.basename)} at ${rel || '(top)'} is not a plain file or folder name (no '/', '.', '..')`);
    }
    const r = remoteJoin(remote, entry.basename);
    const l = path.join(local, entry.basename);
    if (entry.class === 'Directory') {
      if (entry.listing) await receiveListing(s, r, entry.listing, l, ctx, where, shown);
      else await receiveTree(s, r, l, ctx, where);
    } else if (entry.class === 'File') await receiveFile(s, r, l);
    else throw new ConnectorError(`${where}: listing entry ${shown} has class ${String((entry as { class?: unknown }).class)}; use File or Directory`);
  }
}

/** Uploads the folder `local` into the (existing, current) remote folder `remote`. Links are not followed. */
async function sendTree(s: FtpSession, local: string, remote: string, ctx: ConnectorContext, where: string): Promise<void> {
  for (const d of await readdir(local, { withFileTypes: true })) {
    const l = path.join(local, d.name);
    const r = remoteJoin(remote, d.name);
    if (d.isDirectory()) {
      // An existing folder is fine (a rerun); a folder that cannot be made fails at the first upload into it.
      await s.run(`creating folder ${r}`, c => c.sendIgnoringError(`MKD ${r}`));
      await sendTree(s, l, r, ctx, where);
    } else if (d.isFile()) await s.run(`upload to ${r}`, c => c.uploadFrom(l, r));
    else ctx.onInfo?.(`${where}: skipped ${path.relative(local, l) || d.name} (a link or special file; links are not followed)`);
  }
}

/**
 * SIZE and MDTM of a File input, for the input cache: the source is the URL without its
 * password (and the user), the validator size and modification time. Undefined (not
 * cached) for a Directory or a server without MDTM (a size alone cannot tell an edit).
 */
async function identifyFtpFile(req: InputStageRequest, ctx: ConnectorContext, policy: HostPolicy, timeoutMs: number): Promise<SourceIdentity | undefined> {
  if (req.value.class !== 'File') return undefined;
  const where = `input ${req.label}`;
  const access = parseFtpAccess(req.value.connector.access, where);
  const s = await FtpSession.open(access, where, ctx, policy, timeoutMs);
  try {
    const size = await s.run(`size of ${access.remotePath}`, c => c.size(access.remotePath));
    const modified = await s.run(`modification time of ${access.remotePath}`, c => c.lastMod(access.remotePath)).catch(err => {
      // 500/502: no MDTM here; a missing file has failed SIZE already.
      if (err instanceof TransientConnectorError) throw err;
      return undefined;
    });
    if (!modified || Number.isNaN(modified.getTime())) return undefined;
    const u = new URL(urlWithoutPassword(access.url));
    u.username = '';
    return { source: `${u.toString()} (port ${access.port}) as ${access.username}`, validator: JSON.stringify({ size, modified: modified.toISOString() }) };
  } finally {
    s.close();
  }
}

/** red-connector-ftp (input and output) reaching only the hosts `policy` allows. */
export function createFtpConnectors(policy: HostPolicy = new HostPolicy(), opts: FtpConnectorOptions = {}): { input: InputConnector; output: OutputConnector } {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_FTP_TIMEOUT_MS;
  const input: InputConnector = {
    command: FTP_CONNECTOR,
    classes: ['File', 'Directory'],
    async stage(req: InputStageRequest, ctx: ConnectorContext): Promise<StagedInput> {
      const where = `input ${req.label}`;
      const access = parseFtpAccess(req.value.connector.access, where);
      if (req.value.class === 'Directory' && req.value.connector.mount) {
        throw new ConnectorError(`${where} (${FTP_CONNECTOR}): mount: true is not supported for FTP; remove it to download the folder`);
      }
      // A dropped connection is tried again from the start, on a new one.
      const progress = new TransferCounter(ctx, 'input', req.label);
      const staged = await withRetries(async () => {
        const s = await FtpSession.open(access, where, ctx, policy, timeoutMs);
        s.countInto(progress);
        try {
          if (req.value.class === 'File') {
            await receiveFile(s, access.remotePath, req.dest);
            return { hostPath: req.dest, copied: true };
          }
          if (req.value.listing) await receiveListing(s, access.remotePath, req.value.listing, req.dest, ctx, where);
          else await receiveTree(s, access.remotePath, req.dest, ctx, where);
          return { hostPath: req.dest, copied: true, ...(req.value.listing ? { listing: req.value.listing } : {}) };
        } catch (err) {
          await rm(req.dest, { recursive: true, force: true });
          progress.takeBack(s.moved);
          throw err;
        } finally {
          s.close();
        }
      }, contextRetry(ctx));
      progress.done();
      return staged;
    },
    identify: (req, ctx) => identifyFtpFile(req, ctx, policy, timeoutMs)
  };
  const output: OutputConnector = {
    command: FTP_CONNECTOR,
    classes: ['File', 'Directory'],
    async send(req: OutputSendRequest, ctx: ConnectorContext): Promise<{ target: string }> {
      const where = `output ${req.key}`;
      const access = parseFtpAccess(req.access, where);
      const st = await lstat(req.hostPath);
      if (req.class === 'File' ? !st.isFile() : !st.isDirectory()) {
        throw new ConnectorError(`${where} (${FTP_CONNECTOR}): ${req.hostPath} is not a ${req.class === 'File' ? 'plain file' : 'folder'}; nothing sent`);
      }
      const progress = new TransferCounter(ctx, 'output', req.key, req.class === 'File' ? st.size : undefined);
      await withRetries(async () => {
        const s = await FtpSession.open(access, where, ctx, policy, timeoutMs);
        s.countInto(progress);
        try {
          const remote = access.remotePath;
          if (req.class === 'File') {
            const parent = path.posix.dirname(remote);
            // ensureDir makes the parent folders (MKD, ignoring "exists") and enters it.
            if (parent !== '.' && parent !== '/') await s.run(`creating folder ${parent}`, c => c.ensureDir(parent));
            await s.run(`upload to ${remote}`, c => c.uploadFrom(req.hostPath, path.posix.basename(remote)));
          } else {
            await s.run(`creating folder ${remote}`, c => c.ensureDir(remote));
            const cwd = await s.run('reading the current folder', c => c.pwd());
            await sendTree(s, req.hostPath, cwd, ctx, where);
          }
        } catch (err) {
          progress.takeBack(s.moved);
          throw err;
        } finally {
          s.close();
        }
      }, contextRetry(ctx));
      progress.done();
      return { target: urlWithoutPassword(access.url) };
    }
  };
  return { input, output };
}
