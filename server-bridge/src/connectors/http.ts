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
import { mountHttpDirectory, type MountingInputConnector } from './mounts';
import {
  ConnectorError,
  type ConnectorContext,
  type InputConnector,
  type InputStageRequest,
  type OutputConnector,
  type OutputSendRequest,
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

/** GETs (or access.method) `url` into `dest` (through dest.part). Returns the byte count. */
export async function fetchToFile(url: string, dest: string, access: HttpAccess, ctx: ConnectorContext, policy: HostPolicy, where: string, owner = where): Promise<number> {
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
    throw new ConnectorError(`${where}: ${method} ${shown} answered HTTP ${status} ${res.statusMessage ?? ''}`.trimEnd() + `; ${statusHint(status, owner)}`);
  }
  const part = dest + '.part';
  let bytes = 0;
  res.on('data', (c: Buffer) => (bytes += c.length));
  try {
    await pipeline(res, createWriteStream(part, { highWaterMark: DOWNLOAD_WRITE_BUFFER }), { signal: ctx.signal });
  } catch (err) {
    await rm(part, { force: true });
    throw transportError(err, `${where}: download of ${shown} broke off after ${bytes} bytes`, owner, ctx);
  }
  const expected = Number(res.headers['content-length']);
  if (res.headers['content-length'] !== undefined && !res.headers['content-encoding'] && Number.isFinite(expected) && expected !== bytes) {
    await rm(part, { force: true });
    throw new ConnectorError(`${where}: download of ${shown} broke off: got ${bytes} of ${expected} bytes; try again`);
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
  return new ConnectorError(`${prefix}: ${msg}${hint}`);
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
  where: string
): Promise<void> {
  for (const entry of listing) {
    if (!entry || !isSafeSegment(entry.basename)) {
      throw new ConnectorError(`${where}: listing entry ${JSON.stringify(entry?.basename)} at ${relParts.join('/') || '(top)'} is not a plain file or folder name (no '/', '.', '..')`);
    }
    const parts = [...relParts, entry.basename];
    const target = path.join(dir, entry.basename);
    if (entry.class === 'Directory') {
      await mkdir(target, { recursive: true });
      if (entry.listing) await fetchListing(base, entry.listing, target, parts, access, ctx, policy, where);
    } else if (entry.class === 'File') {
      await fetchToFile(joinUrl(base, parts), target, access, ctx, policy, `${where} (${parts.join('/')})`, where);
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
    if (req.value.class === 'File') {
      await fetchToFile(access.url, req.dest, access, ctx, policy, where);
      return { hostPath: req.dest, copied: true };
    }
    if (!req.value.listing) {
      throw new ConnectorError(
        `${where} (${HTTP_CONNECTOR}): a Directory needs a listing (its files and folders, e.g. listing: [{class: File, basename: a.txt}]); ` +
          'red-connector-http fetches each listed file from url/<path> (or mount: true mounts the folder with httpdirfs)'
      );
    }
    await mkdir(req.dest, { recursive: true });
    await fetchListing(access.url, req.value.listing, req.dest, [], access, ctx, policy, where);
    return { hostPath: req.dest, copied: true, listing: req.value.listing };
  }
});

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
        body: { open: () => createReadStream(req.hostPath), length }
      });
    } catch (err) {
      throw transportError(err, `${where}: ${method} ${shown}`, where, ctx);
    }
    res.resume();
    const status = res.statusCode ?? 0;
    if (status < 200 || status >= 300) {
      throw new ConnectorError(`${where}: ${method} ${shown} answered HTTP ${status} ${res.statusMessage ?? ''}`.trimEnd() + `; ${statusHint(status, where)}`);
    }
    return { target: shown };
  }
});

/** With the default policy: loopback, link-local and metadata addresses refused, nothing allowed extra. */
export const { input: httpInputConnector, output: httpOutputConnector } = createHttpConnectors();
