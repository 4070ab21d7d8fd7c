// A small HTTP(S) client on Node's http/https for the red-connector-http connector:
// basic and digest auth (as Python requests' HTTPBasicAuth/HTTPDigestAuth),
// optional TLS verification, redirects, timeouts, abort, and errors that say
// what went wrong in words. Every connection (each redirect hop too) goes only to an
// address the HostPolicy allows (see host-policy.ts).
import { createHash, randomBytes } from 'crypto';
import * as http from 'http';
import * as https from 'https';
import * as net from 'net';
import type { Readable } from 'stream';
import { HostPolicy, HostRefusedError } from './host-policy';

export interface HttpAuth {
  username: string;
  password: string;
  method: 'basic' | 'digest';
}

export interface HttpRequestOptions {
  url: string;
  /** HEAD: what a GET would answer, without the body (the input cache asks it). */
  method: 'GET' | 'HEAD' | 'PUT' | 'POST';
  auth?: HttpAuth;
  /** Skip TLS certificate verification (access.disableSSLVerification). */
  insecure?: boolean;
  /** Request body: a factory, since a digest challenge or a redirect sends it again. */
  body?: { open: () => Readable; length: number };
  headers?: Record<string, string>;
  signal?: AbortSignal;
  connectTimeoutMs?: number;
  /** A response that sends nothing for this long fails. */
  idleTimeoutMs?: number;
  maxRedirects?: number;
  /** Which hosts may be reached (default: loopback, link-local and metadata addresses refused, nothing allowed extra). */
  policy?: HostPolicy;
}

const STRICT_POLICY = new HostPolicy();

/** A transport failure (no HTTP status): `code` is Node's (ECONNREFUSED, ENOTFOUND, …). */
export class HttpTransportError extends Error {
  constructor(message: string, readonly code?: string) {
    super(message);
    this.name = 'HttpTransportError';
  }
}

export const DEFAULT_CONNECT_TIMEOUT_MS = 15_000;
export const DEFAULT_IDLE_TIMEOUT_MS = 300_000;

/** Sends a request; resolves with the final response (any status) after auth challenges and redirects. */
export async function httpRequest(opts: HttpRequestOptions): Promise<http.IncomingMessage> {
  let url = new URL(opts.url);
  let auth = opts.auth;
  // user:password@host in the URL, as requests does, when no auth is given.
  if (!auth && (url.username || url.password)) {
    auth = { username: decodeURIComponent(url.username), password: decodeURIComponent(url.password), method: 'basic' };
  }
  url.username = '';
  url.password = '';
  const origin = url.origin;
  let method = opts.method;
  let body = opts.body;
  let digestHeader: string | undefined;
  for (let hop = 0; ; hop++) {
    const headers: Record<string, string> = { 'user-agent': 'redlab-connector-http', ...(opts.headers ?? {}) };
    const sameOrigin = url.origin === origin;
    if (auth && sameOrigin) {
      if (auth.method === 'basic') headers.authorization = 'Basic ' + Buffer.from(`${auth.username}:${auth.password}`).toString('base64');
      else if (digestHeader) headers.authorization = digestHeader;
    }
    let res: http.IncomingMessage;
    try {
      res = await sendOnce(url, method, headers, body, opts);
    } catch (err) {
      if (hop > 0 && err instanceof HostRefusedError) err.message = `the server redirected to ${url.origin}${url.pathname}; ${err.message}`;
      throw err;
    }
    if (res.statusCode === 401 && auth?.method === 'digest' && sameOrigin && !digestHeader) {
      const challenge = parseDigestChallenge(res.headers['www-authenticate']);
      if (!challenge) return res;
      res.resume();
      digestHeader = digestAuthorization(challenge, auth, method, url.pathname + url.search);
      headers.authorization = digestHeader;
      res = await sendOnce(url, method, headers, body, opts);
    }
    const status = res.statusCode ?? 0;
    const location = res.headers.location;
    const redirect = location && [301, 302, 303, 307, 308].includes(status);
    if (!redirect || hop >= (opts.maxRedirects ?? 5)) return res;
    // GET follows every redirect; PUT/POST only 307/308, which keep method and body.
    if (method !== 'GET' && method !== 'HEAD' && status !== 307 && status !== 308) return res;
    res.resume();
    url = new URL(location as string, url);
    if (status === 303) {
      if (method !== 'HEAD') method = 'GET';
      body = undefined;
    }
    digestHeader = undefined;
  }
}

function sendOnce(
  url: URL,
  method: string,
  headers: Record<string, string>,
  body: HttpRequestOptions['body'],
  opts: HttpRequestOptions
): Promise<http.IncomingMessage> {
  return new Promise((resolve, reject) => {
    if (opts.signal?.aborted) return reject(new HttpTransportError('cancelled', 'ABORT_ERR'));
    const isHttps = url.protocol === 'https:';
    if (!isHttps && url.protocol !== 'http:') return reject(new HttpTransportError(`unsupported URL scheme ${url.protocol} (use http or https)`, 'EPROTO'));
    const h = { ...headers };
    if (body) h['content-length'] = String(body.length);
    else if (method !== 'GET' && method !== 'HEAD') h['content-length'] = '0';
    const policy = opts.policy ?? STRICT_POLICY;
    const host = url.hostname.replace(/^\[|\]$/g, '');
    // An IP literal is never looked up: check it here. A name is checked by the lookup, on the address the socket then uses.
    if (net.isIP(host)) {
      try {
        policy.check(host, host);
      } catch (err) {
        return reject(err);
      }
    }
    const reqOpts: https.RequestOptions = { method, headers: h, signal: opts.signal, agent: policy.agent(isHttps), lookup: policy.lookup as unknown as https.RequestOptions['lookup'] };
    if (isHttps && opts.insecure) reqOpts.rejectUnauthorized = false;
    const req = (isHttps ? https : http).request(url, reqOpts);
    const connectTimer = setTimeout(() => {
      req.destroy(new HttpTransportError(`no connection within ${Math.round((opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS) / 1000)} s`, 'ETIMEDOUT'));
    }, opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS);
    req.setTimeout(opts.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS, () => {
      req.destroy(new HttpTransportError(`the server sent nothing for ${Math.round((opts.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS) / 1000)} s`, 'ETIMEDOUT'));
    });
    req.on('socket', s => s.once(isHttps ? 'secureConnect' : 'connect', () => clearTimeout(connectTimer)));
    req.on('response', res => {
      clearTimeout(connectTimer);
      resolve(res);
    });
    req.on('error', err => {
      clearTimeout(connectTimer);
      const e = err as NodeJS.ErrnoException;
      if (e instanceof HttpTransportError || e instanceof HostRefusedError) reject(e);
      else if (e.name === 'AbortError') reject(new HttpTransportError('cancelled', 'ABORT_ERR'));
      else reject(new HttpTransportError(describeNetError(e), e.code));
    });
    if (body) {
      const src = body.open();
      src.on('error', err => req.destroy(err));
      src.pipe(req);
    } else req.end();
  });
}

/** Words for a Node network error code. */
export function describeNetError(err: NodeJS.ErrnoException): string {
  switch (err.code) {
    case 'ECONNREFUSED':
      return 'connection refused (nothing listens at that host and port)';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'host not found (DNS lookup failed)';
    case 'ECONNRESET':
      return 'the server closed the connection';
    case 'ETIMEDOUT':
      return 'timed out';
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return 'network unreachable';
    case 'DEPTH_ZERO_SELF_SIGNED_CERT':
    case 'SELF_SIGNED_CERT_IN_CHAIN':
    case 'UNABLE_TO_VERIFY_LEAF_SIGNATURE':
    case 'CERT_HAS_EXPIRED':
    case 'ERR_TLS_CERT_ALTNAME_INVALID':
      return `TLS certificate not accepted (${err.code}); if you trust this server set access.disableSSLVerification: true`;
    default:
      return err.code ? `${err.code}: ${err.message}` : err.message;
  }
}

interface DigestChallenge {
  realm: string;
  nonce: string;
  qop?: string;
  opaque?: string;
  algorithm?: string;
}

function parseDigestChallenge(header: string | string[] | undefined): DigestChallenge | undefined {
  const values = Array.isArray(header) ? header : header ? [header] : [];
  const digest = values.find(v => /^\s*digest\s/i.test(v));
  if (!digest) return undefined;
  const params: Record<string, string> = {};
  const re = /(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))/g;
  let m: RegExpExecArray | null;
  const body = digest.replace(/^\s*digest\s+/i, '');
  while ((m = re.exec(body))) params[m[1].toLowerCase()] = m[2] !== undefined ? m[2].replace(/\\(.)/g, '$1') : m[3];
  if (params.realm === undefined || params.nonce === undefined) return undefined;
  return { realm: params.realm, nonce: params.nonce, qop: params.qop, opaque: params.opaque, algorithm: params.algorithm };
}

/** RFC 7616/2617 `Authorization: Digest …` for MD5, MD5-sess, SHA-256 with qop=auth (or none). */
export function digestAuthorization(ch: DigestChallenge, auth: HttpAuth, method: string, uri: string, cnonce = randomBytes(8).toString('hex')): string {
  const algo = (ch.algorithm ?? 'MD5').toUpperCase();
  const hashName = algo.startsWith('SHA-256') ? 'sha256' : 'md5';
  const H = (s: string) => createHash(hashName).update(s).digest('hex');
  const nc = '00000001';
  let ha1 = H(`${auth.username}:${ch.realm}:${auth.password}`);
  if (algo.endsWith('-SESS')) ha1 = H(`${ha1}:${ch.nonce}:${cnonce}`);
  const ha2 = H(`${method}:${uri}`);
  const qop = ch.qop
    ?.split(',')
    .map(s => s.trim())
    .find(q => q === 'auth');
  const response = qop ? H(`${ha1}:${ch.nonce}:${nc}:${cnonce}:${qop}:${ha2}`) : H(`${ha1}:${ch.nonce}:${ha2}`);
  const q = (s: string) => `"${s.replace(/(["\\])/g, '\\$1')}"`;
  const parts = [`username=${q(auth.username)}`, `realm=${q(ch.realm)}`, `nonce=${q(ch.nonce)}`, `uri=${q(uri)}`, `response=${q(response)}`];
  if (ch.algorithm) parts.push(`algorithm=${ch.algorithm}`);
  if (ch.opaque !== undefined) parts.push(`opaque=${q(ch.opaque)}`);
  if (qop) parts.push(`qop=${qop}`, `nc=${nc}`, `cnonce=${q(cnonce)}`);
  return 'Digest ' + parts.join(', ');
}
