// red-connector-http, built in: receive a File (GET url), a Directory (every file
// of the job value's `listing`, fetched from url + '/' + relative path, as CC's
// receive-dir does) and send a File (POST by default, or access.method).
// Access: {url, method?, auth?: {username, password, method?: basic|digest}, disableSSLVerification?}.
// The connector runs on the host: it reaches only hosts its HostPolicy allows (no
// loopback, link-local or metadata addresses unless the operator allows them).
import { createReadStream, createWriteStream } from 'fs';
import { mkdir, rename, rm, stat } from 'fs/promises';
import * as path from 'path';
import { pipeline } from 'stream/promises';
import type { ListingEntry } from '../../../src/red';
import { isSafeSegment } from '../util/fs-safety';
import { httpRequest, HttpTransportError, type HttpAuth } from './http-client';
import { HostPolicy, HostRefusedError } from './host-policy';
import { contextRetry, isTransientHttpStatus, isTransientNetError, TransientConnectorError, withRetries } from './retry';
import { TransferCounter } from './transfer-progress';
import { mountHttpDirectory, type MountingInputConnector } from './mounts';
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

export const HTTP_CONNECTOR = 'red-connector-http';
/** Bytes a download may queue for the disk before the response pauses: with the default 16 KiB every network chunk paused it (half of curl's speed, bench/connectors.js). */
const DOWNLOAD_WRITE_BUFFER = 1 << 20;

export interface HttpAccess {
  url: string;
  method?: 'GET' | 'PUT' | 'POST';
  auth?: HttpAuth;
  disableSSLVerification?: boolean;
}

const ACCESS_KEYS = ['url', 'method', 'auth', 'disableSSLVerification'];

/** Checks an access object as red-connector-http's schema does; `where` names it in errors (e.g. `input data`), `command` the connector its variants (-json, -archive) are. */
export function parseHttpAccess(access: Record<string, unknown> | undefined, where: string, command = HTTP_CONNECTOR): HttpAccess {
  const bad = (msg: string) => new ConnectorError(`${where} (${command}): ${msg}`);
  if (!access || typeof access !== 'object') throw bad('connector.access is missing; it needs at least {url: ...}');
  const extra = Object.keys(access).filter(k => !ACCESS_KEYS.includes(k));
  if (extra.length) throw bad(`unknown access key${extra.length > 1 ? 's' : ''} ${extra.join(', ')}; allowed: ${ACCESS_KEYS.join(', ')}`);
  const url = access.url;
  if (typeof url !== 'string' || !url) throw bad('access.url must be an http(s) URL');
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw bad('access.url is not a valid URL');
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw bad(`access.url must start with http:// or https://, not ${parsed.protocol}//`);
  const out: HttpAccess = { url };
  if (access.method !== undefined) {
    const m = String(access.method).toUpperCase();
    if (m !== 'GET' && m !== 'PUT' && m !== 'POST') throw bad(`access.method must be GET, PUT or POST, not ${String(access.method)}`);
    out.method = m;
  }
  if (access.auth !== undefined) {
    const a = access.auth as Record<string, unknown>;
    if (!a || typeof a !== 'object' || typeof a.username !== 'string' || typeof a.password !== 'string') {
      throw bad('access.auth needs username and password (strings)');
    }
    const m = String(a.method ?? 'basic').toLowerCase();
    if (m !== 'basic' && m !== 'digest') throw bad(`access.auth.method must be basic or digest, not ${String(a.method)}`);
    out.auth = { username: a.username, password: a.password, method: m };
  }
  if (access.disableSSLVerification !== undefined) {
    if (typeof access.disableSSLVerification !== 'boolean') throw bad('access.disableSSLVerification must be true or false');
    out.disableSSLVerification = access.disableSSLVerification;
  }
  return out;
}

/** Appends path segments to a base URL as os.path.join does in CC's connector (one `/` between), each segment encoded. */
export function joinUrl(base: string, segments: string[]): string {
  if (!segments.length) return base;
  const u = new URL(base);
  const tail = segments.map(s => encodeURIComponent(s)).join('/');
  u.pathname = u.pathname.endsWith('/') ? u.pathname + tail : `${u.pathname}/${tail}`;
  return u.toString();
}

function statusHint(status: number, owner: string): string {
  if (status === 401 || status === 403) return `check username and password (and auth.method basic/digest) in connector.access.auth of ${owner}`;
  if (status === 404 || status === 410) return `check the URL in connector.access.url of ${owner}`;
  if (status >= 500) return 'the server failed; try again later or ask its owner';
  return `check connector.access of ${owner}`;
}

/**
 * GETs (or access.method) `url` into `dest` (through dest.part). Returns the byte count.
 * A transient failure (connection reset or refused, cut off mid-body, HTTP 5xx/429) is
 * tried again (ctx.retry); `progress` counts the bytes (those of a failed try taken back).
 */
export async function fetchToFile(
  url: string,
  dest: string,
  access: HttpAccess,
  ctx: ConnectorContext,
  policy: HostPolicy,
  where: string,
  owner = where,
  progress?: TransferCounter
): Promise<number> {
  return withRetries(() => fetchOnce(url, dest, access, ctx, policy, where, owner, progress), contextRetry(ctx));
}

async function fetchOnce(url: string, dest: string, access: HttpAccess, ctx: ConnectorContext, policy: HostPolicy, where: string, owner: string, progress?: TransferCounter): Promise<number> {
  const method = access.method ?? 'GET';
  const shown = redactUrl(url);
  let res;
  try {
    res = await httpRequest({ url, method, auth: access.auth, insecure: access.disableSSLVerification, signal: ctx.signal, policy });
  } catch (err) {
    throw transportError(err, `${where}: ${method} ${shown}`, owner, ctx);
  }
  const status = res.statusCode ?? 0;
  if (status < 200 || status >= 300) {
    res.resume();
    const Err = isTransientHttpStatus(status) ? TransientConnectorError : ConnectorError;
    throw new Err(`${where}: ${method} ${shown} answered HTTP ${status} ${res.statusMessage ?? ''}`.trimEnd() + `; ${statusHint(status, owner)}`);
  }
  const part = dest + '.part';
  let bytes = 0;
  const length = Number(res.headers['content-length']);
  if (Number.isFinite(length) && !res.headers['content-encoding']) progress?.setTotal(length);
  res.on('data', (c: Buffer) => {
    bytes += c.length;
    progress?.add(c.length);
  });
  try {
    await pipeline(res, createWriteStream(part, { highWaterMark: DOWNLOAD_WRITE_BUFFER }), { signal: ctx.signal });
  } catch (err) {
    await rm(part, { force: true });
    progress?.takeBack(bytes);
    throw transportError(err, `${where}: download of ${shown} broke off after ${bytes} bytes`, owner, ctx);
  }
  const expected = Number(res.headers['content-length']);
  if (res.headers['content-length'] !== undefined && !res.headers['content-encoding'] && Number.isFinite(expected) && expected !== bytes) {
    await rm(part, { force: true });
    progress?.takeBack(bytes);
    throw new TransientConnectorError(`${where}: download of ${shown} broke off: got ${bytes} of ${expected} bytes`);
  }
  await rename(part, dest);
  return bytes;
}

function transportError(err: unknown, prefix: string, owner: string, ctx: ConnectorContext): Error {
  if (ctx.signal?.aborted) return new ConnectorError(`${owner}: cancelled`);
  if (err instanceof ConnectorError) return err;
  if (err instanceof HostRefusedError) return new ConnectorError(`${prefix}: ${err.message}`);
  const msg = err instanceof HttpTransportError || err instanceof Error ? err.message : String(err);
  const hint = err instanceof HttpTransportError && (err.code === 'ECONNREFUSED' || err.code === 'ENOTFOUND' || err.code === 'EAI_AGAIN')
    ? `; check that the server runs and the host and port in connector.access.url of ${owner}`
    : '';
  const Err = isTransientNetError(err) ? TransientConnectorError : ConnectorError;
  return new Err(`${prefix}: ${msg}${hint}`);
}

/** A URL without a password in its user info, for messages. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '********';
    return u.toString();
  } catch {
    return url;
  }
}

async function fetchListing(
  base: string,
  listing: ListingEntry[],
  dir: string,
  relParts: string[],
  access: HttpAccess,
  ctx: ConnectorContext,
  policy: HostPolicy,
  where: string,
  progress?: TransferCounter
): Promise<void> {
  for (const entry of listing) {
    if (!entry || !isSafeSegment(entry.basename)) {
      throw new ConnectorError(`${where}: listing entry ${JSON.stringify(entry?.basename)} at ${relParts.join('/') || '(top)'} is not a plain file or folder name (no '/', '.', '..')`);
    }
    const parts = [...relParts, entry.basename];
    const target = path.join(dir, entry.basename);
    if (entry.class === 'Directory') {
      await mkdir(target, { recursive: true });
      if (entry.listing) await fetchListing(base, entry.listing, target, parts, access, ctx, policy, where, progress);
    } else if (entry.class === 'File') {
      await fetchToFile(joinUrl(base, parts), target, access, ctx, policy, `${where} (${parts.join('/')})`, where, progress);
    } else {
      throw new ConnectorError(`${where}: listing entry ${parts.join('/')} has class ${String((entry as { class?: unknown }).class)}; use File or Directory`);
    }
  }
}

/** red-connector-http (input and output) reaching only the hosts `policy` allows. */
export function createHttpConnectors(policy: HostPolicy = new HostPolicy()): { input: InputConnector; output: OutputConnector } {
  return { input: httpInput(policy), output: httpOutput(policy) };
}

const httpInput = (policy: HostPolicy): MountingInputConnector => ({
  command: HTTP_CONNECTOR,
  classes: ['File', 'Directory'],
  /** mount: true: httpdirfs (read-only), its host vetted by the same policy. */
  mount: (req, ctx) => mountHttpDirectory(req, ctx, policy, parseHttpAccess(req.value.connector.access, `input ${req.label}`)),
  async stage(req: InputStageRequest, ctx: ConnectorContext): Promise<StagedInput> {
    const where = `input ${req.label}`;
    const access = parseHttpAccess(req.value.connector.access, where);
    if (access.method && access.method !== 'GET') ctx.onInfo?.(`${where}: fetching with ${access.method} as access.method says`);
    const progress = new TransferCounter(ctx, 'input', req.label);
    if (req.value.class === 'File') {
      await fetchToFile(access.url, req.dest, access, ctx, policy, where, where, progress);
      progress.done();
      return { hostPath: req.dest, copied: true };
    }
    if (!req.value.listing) {
      throw new ConnectorError(
        `${where} (${HTTP_CONNECTOR}): a Directory needs a listing (its files and folders, e.g. listing: [{class: File, basename: a.txt}]); ` +
          'red-connector-http fetches each listed file from url/<path> (or mount: true mounts the folder with httpdirfs)'
      );
    }
    await mkdir(req.dest, { recursive: true });
    await fetchListing(access.url, req.value.listing, req.dest, [], access, ctx, policy, where, progress);
    progress.done();
    return { hostPath: req.dest, copied: true, listing: req.value.listing };
  },
  identify: (req, ctx) => identifyHttpFile(req, ctx, policy)
});

/**
 * A HEAD of a File input's URL, for the input cache: the source is the URL (without its
 * password) and the user; the validator its ETag and Last-Modified, with its length.
 * Undefined (not cached) for a Directory, a fetch that is not a GET, a HEAD refused, or a
 * server that gives neither ETag nor Last-Modified (a length alone cannot tell an edit).
 */
async function identifyHttpFile(req: InputStageRequest, ctx: ConnectorContext, policy: HostPolicy): Promise<SourceIdentity | undefined> {
  const where = `input ${req.label}`;
  const access = parseHttpAccess(req.value.connector.access, where);
  if (req.value.class !== 'File' || (access.method ?? 'GET') !== 'GET') return undefined;
  const shown = redactUrl(access.url);
  let res;
  try {
    res = await httpRequest({ url: access.url, method: 'HEAD', auth: access.auth, insecure: access.disableSSLVerification, signal: ctx.signal, policy });
  } catch (err) {
    throw transportError(err, `${where}: HEAD ${shown}`, where, ctx);
  }
  res.resume();
  const status = res.statusCode ?? 0;
  if (isTransientHttpStatus(status)) throw new TransientConnectorError(`${where}: HEAD ${shown} answered HTTP ${status} ${res.statusMessage ?? ''}`.trimEnd() + `; ${statusHint(status, where)}`);
  // Any other refusal of HEAD (405, or 403 from a URL signed for GET only): not cached; the GET says what is wrong, if anything.
  if (status < 200 || status >= 300) return undefined;
  const etag = res.headers.etag;
  const modified = res.headers['last-modified'];
  if (!etag && !modified) return undefined;
  const u = new URL(access.url);
  const user = access.auth?.username ?? decodeURIComponent(u.username);
  u.username = '';
  u.password = '';
  return {
    source: `${u.toString()}${user ? ` as ${user}` : ''}`,
    validator: JSON.stringify({ etag: etag ?? null, modified: modified ?? null, length: res.headers['content-length'] ?? null })
  };
}

/** red-connector-http's send-file; its variants (red-connector-http-json) send under their `command` with their content type. */
export const httpOutput = (policy: HostPolicy, command = HTTP_CONNECTOR, contentType = 'application/octet-stream'): OutputConnector => ({
  command,
  classes: ['File'],
  async send(req: OutputSendRequest, ctx: ConnectorContext): Promise<{ target: string }> {
    const where = `output ${req.key}`;
    const access = parseHttpAccess(req.access, where, command);
    if (req.class !== 'File') {
      throw new ConnectorError(`${where} (${command}): only files can be sent over HTTP; this output is a ${req.class}`);
    }
    const method = access.method ?? 'POST';
    if (method === 'GET') throw new ConnectorError(`${where} (${command}): access.method GET cannot send a file; use PUT or POST`);
    const shown = redactUrl(access.url);
    const length = (await stat(req.hostPath)).size;
    const progress = new TransferCounter(ctx, 'output', req.key, length);
    let sent = 0;
    const open = () => {
      progress.takeBack(sent); // a digest challenge, a redirect or a new try sends it again
      sent = 0;
      const stream = createReadStream(req.hostPath);
      stream.on('data', c => {
        sent += c.length;
        progress.add(c.length);
      });
      return stream;
    };
    // A PUT may be sent again; a POST only when it never reached the server (it may not be idempotent).
    await withRetries(async () => {
      let res;
      try {
        res = await httpRequest({
          url: access.url,
          method,
          auth: access.auth,
          insecure: access.disableSSLVerification,
          signal: ctx.signal,
          policy,
          headers: { 'content-type': contentType },
          body: { open, length }
        });
      } catch (err) {
        const e = transportError(err, `${where}: ${method} ${shown}`, where, ctx);
        throw method === 'POST' && (err as { code?: string }).code !== 'ECONNREFUSED' && e instanceof TransientConnectorError ? new ConnectorError(e.message) : e;
      }
      res.resume();
      const status = res.statusCode ?? 0;
      if (status < 200 || status >= 300) {
        const Err = method === 'PUT' && isTransientHttpStatus(status) ? TransientConnectorError : ConnectorError;
        throw new Err(`${where}: ${method} ${shown} answered HTTP ${status} ${res.statusMessage ?? ''}`.trimEnd() + `; ${statusHint(status, where)}`);
      }
    }, contextRetry(ctx));
    progress.done();
    return { target: shown };
  }
});

/** With the default policy: loopback, link-local and metadata addresses refused, nothing allowed extra. */
export const { input: httpInputConnector, output: httpOutputConnector } = createHttpConnectors();
