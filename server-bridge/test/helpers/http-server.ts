// A real HTTP server on 127.0.0.1 for connector tests: serves files from a map,
// optionally behind basic or digest auth, and records what is PUT/POSTed.
import { createHash, randomBytes } from 'crypto';
import * as http from 'http';
import type { AddressInfo } from 'net';
import { defaultConnectors, type ConnectorRegistry } from '../../src/connectors/registry';
import { HostPolicy } from '../../src/connectors/host-policy';

export interface TestServerOptions {
  files?: Record<string, string | Buffer>;
  auth?: { username: string; password: string; method: 'basic' | 'digest' };
  /** Paths that answer with a status (e.g. 500) instead of a file. */
  status?: Record<string, number>;
  /** Paths whose body is cut short (Content-Length larger than what is sent). */
  truncate?: string[];
  /** Paths that never answer (until the server closes). */
  hang?: string[];
  /** Files are sent with an ETag (of their bytes) and a Last-Modified, and HEAD answers them (the input cache's validators). */
  validators?: boolean;
  /** Paths whose first N GETs send half the body, then drop the connection (a transfer cut off mid-way). */
  dropFirst?: Record<string, number>;
  /** Paths whose GETs send their body slowly: this many ms between 64 KiB chunks. */
  slowChunkMs?: Record<string, number>;
  /** Every HEAD answers this status (e.g. 403: a URL signed for GET only). */
  headStatus?: number;
}

export interface ReceivedRequest {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

export interface TestServer {
  url: string;
  port: number;
  requests: ReceivedRequest[];
  uploads: Map<string, { method: string; body: Buffer }>;
  close(): Promise<void>;
}

const md5 = (s: string) => createHash('md5').update(s).digest('hex');

function parseAuthParams(h: string): Record<string, string> {
  const out: Record<string, string> = {};
  const re = /(\w+)=(?:"([^"]*)"|([^\s,]+))/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(h))) out[m[1]] = m[2] ?? m[3];
  return out;
}

export async function startTestServer(opts: TestServerOptions = {}): Promise<TestServer> {
  const requests: ReceivedRequest[] = [];
  const uploads = new Map<string, { method: string; body: Buffer }>();
  const realm = 'redlab-test';
  const nonce = randomBytes(8).toString('hex');
  const authorized = (req: http.IncomingMessage): boolean => {
    const a = opts.auth;
    if (!a) return true;
    const h = req.headers.authorization ?? '';
    if (a.method === 'basic') return h === 'Basic ' + Buffer.from(`${a.username}:${a.password}`).toString('base64');
    if (!h.startsWith('Digest ')) return false;
    const p = parseAuthParams(h.slice(7));
    const ha1 = md5(`${a.username}:${realm}:${a.password}`);
    const ha2 = md5(`${req.method}:${p.uri}`);
    const expected = p.qop ? md5(`${ha1}:${nonce}:${p.nc}:${p.cnonce}:${p.qop}:${ha2}`) : md5(`${ha1}:${nonce}:${ha2}`);
    return p.username === a.username && p.nonce === nonce && p.uri === req.url && p.response === expected;
  };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', c => chunks.push(c));
    req.on('end', () => respond(req, res, Buffer.concat(chunks)));
  });
  const respond = (req: http.IncomingMessage, res: http.ServerResponse, body: Buffer): void => {
    {
      requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      if (!authorized(req)) {
        res.statusCode = 401;
        if (opts.auth?.method === 'digest') res.setHeader('WWW-Authenticate', `Digest realm="${realm}", nonce="${nonce}", qop="auth", algorithm=MD5`);
        else res.setHeader('WWW-Authenticate', `Basic realm="${realm}"`);
        res.end('unauthorized');
        return;
      }
      const pathname = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
      if (opts.hang?.includes(pathname)) return;
      if (req.method === 'HEAD' && opts.headStatus) {
        res.statusCode = opts.headStatus;
        res.end();
        return;
      }
      if (opts.status?.[pathname]) {
        res.statusCode = opts.status[pathname];
        res.end('status');
        return;
      }
      if (req.method === 'PUT' || req.method === 'POST') {
        uploads.set(pathname, { method: req.method, body });
        res.statusCode = 201;
        res.end();
        return;
      }
      const f = opts.files?.[pathname];
      if (f === undefined) {
        res.statusCode = 404;
        res.end('not found');
        return;
      }
      const data = Buffer.from(f);
      if (opts.validators) {
        res.setHeader('ETag', `"${createHash('sha1').update(data).digest('hex')}"`);
        res.setHeader('Last-Modified', new Date(0).toUTCString());
      }
      if (req.method === 'GET' && (opts.dropFirst?.[pathname] ?? 0) > 0) {
        opts.dropFirst![pathname]--;
        res.setHeader('Content-Length', String(data.length));
        res.write(data.subarray(0, Math.floor(data.length / 2)));
        setTimeout(() => res.socket?.destroy(), 50);
        return;
      }
      const slow = opts.slowChunkMs?.[pathname];
      if (slow && req.method === 'GET') {
        res.setHeader('Content-Length', String(data.length));
        let at = 0;
        const step = () => {
          if (res.destroyed) return;
          const chunk = data.subarray(at, at + 65536);
          at += chunk.length;
          if (at >= data.length) res.end(chunk);
          else res.write(chunk, () => setTimeout(step, slow));
        };
        step();
        return;
      }
      if (opts.truncate?.includes(pathname)) {
        res.setHeader('Content-Length', String(data.length + 100));
        res.write(data);
        setTimeout(() => res.socket?.destroy(), 50);
        return;
      }
      res.setHeader('Content-Length', String(data.length));
      res.end(data);
    }
  };
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    uploads,
    close: () =>
      new Promise(resolve => {
        server.closeAllConnections?.();
        server.close(() => resolve());
      })
  };
}

/** A port nothing listens on (bound, then released). */
export async function freePort(): Promise<number> {
  const s = http.createServer();
  await new Promise<void>(r => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise(r => s.close(r));
  return port;
}

/**
 * Connectors that may reach the test servers on 127.0.0.1: loopback is refused by
 * default (connectors run on the host), so tests opt in as an operator would
 * (--allow-connector-host 127.0.0.1).
 */
export function loopbackConnectors(): ConnectorRegistry {
  return defaultConnectors({ hostPolicy: new HostPolicy({ allow: ['127.0.0.1'] }) });
}
