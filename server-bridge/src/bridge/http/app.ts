// The bridge's HTTP and WebSocket API (Fastify 5 + ws), on top of a RunService.
//
// Every request, the 404s included, passes two gates before anything else happens
// (and before a body is read): its Origin, when it has one, must be a configured
// origin (403), and it must carry the token as `Authorization: Bearer <token>` (401),
// compared in constant time. WebSocket upgrades pass the same gates, where the token
// may also come as `?token=` (browsers cannot set headers on a WebSocket).
//
// Configured origins get CORS headers (and preflight answers); with none configured
// (the default) the API answers no browser at all.
import { randomBytes } from 'crypto';
import Fastify, { type FastifyBaseLogger, type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { AddressInfo } from 'net';
import type { Logger } from 'pino';
import type { RunService } from '../service';
import { AUTH_MESSAGE, bearerToken, originMessage, OriginPolicy, TokenChecker } from './auth';
import { HttpError, toErrorReply } from './errors';
import { EventSockets, type EventSocketOptions, type EventSocketStats } from './events';
import { registerImageRoutes } from './images';
import { createLogger, type LogConfig } from './logger';
import { registerRunRoutes } from './runs';

export const API_PREFIX = '/api/v1';
export const DEFAULT_MAX_BODY_BYTES = 10 * 1024 * 1024;
export const DEFAULT_MAX_BUILD_CONTEXT_BYTES = 200 * 1024 * 1024;

export interface HttpConfig {
  /** The bearer token every request must carry (at least 8 characters; generate it, e.g. 32 random bytes). */
  token: string;
  /** Browser origins allowed to call the API, exactly as `scheme://host[:port]`. Requests without Origin are always allowed. Default none. */
  allowedOrigins?: string[];
  /** Largest request body (default 10 MiB). */
  maxBodyBytes?: number;
  /** Largest image build context (default 200 MiB). */
  maxBuildContextBytes?: number;
  /** Image builds running at once through the API (default 4). */
  maxConcurrentBuilds?: number;
  /** A pino logger, options for a new one (JSON lines; `pretty: true` for readable lines), or false for none. */
  logger?: Logger | LogConfig | false;
  /** WebSocket tuning (backpressure threshold, keepalive). */
  events?: EventSocketOptions;
  /** Whole-request time limit in ms (slow uploads); default 5 minutes. */
  requestTimeoutMs?: number;
}

export interface BridgeApp {
  app: FastifyInstance;
  /** Listens (default 127.0.0.1, port 0: any free port) and returns the base URL (`http://127.0.0.1:PORT`). */
  listen(opts?: { host?: string; port?: number }): Promise<{ url: string; port: number; host: string }>;
  /** Closes event sockets (1001), cancels builds streaming to clients, and closes the server. Does not close the service or its store. */
  close(): Promise<void>;
  /** Open event sockets and the largest send queue seen (for monitoring and tests). */
  eventStats(): EventSocketStats;
}

const CORS_ALLOW_HEADERS = 'Authorization, Content-Type, Range, If-None-Match, If-Range';
const CORS_EXPOSE_HEADERS = 'Location, ETag, Content-Range, Content-Disposition, Accept-Ranges, X-Log-Offset, X-Log-End, X-Log-Size, X-Run-State, Retry-After';

/** The token header was sent but not as `Bearer <token>`: say so. */
function authMessage(req: FastifyRequest): string {
  const h = req.headers.authorization;
  if (typeof h === 'string' && !/^Bearer\s/i.test(h)) return `${AUTH_MESSAGE} (the Authorization header is not of the Bearer scheme)`;
  const q = req.query as Record<string, unknown> | undefined;
  if (h === undefined && q && 'token' in q) return `${AUTH_MESSAGE} (?token= is accepted on WebSocket URLs only)`;
  return AUTH_MESSAGE;
}

/** Builds the API on `service`. Call `listen()` (or `app.listen`) to serve it. */
export function createApp(service: RunService, config: HttpConfig): BridgeApp {
  const tokens = new TokenChecker(config.token);
  const origins = new OriginPolicy(config.allowedOrigins ?? []);
  const maxBodyBytes = config.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  if (!Number.isSafeInteger(maxBodyBytes) || maxBodyBytes < 1024) throw new TypeError('maxBodyBytes must be a whole number of bytes >= 1024');
  const logger = createLogger(config.logger);
  let reqCounter = 0;
  const reqPrefix = randomBytes(3).toString('hex');

  const app = Fastify({
    loggerInstance: logger as FastifyBaseLogger,
    bodyLimit: maxBodyBytes,
    requestIdHeader: false,
    genReqId: () => `${reqPrefix}-${(++reqCounter).toString(36)}`,
    return503OnClosing: true,
    forceCloseConnections: true,
    requestTimeout: config.requestTimeoutMs ?? 5 * 60_000,
    routerOptions: { maxParamLength: 256, ignoreTrailingSlash: true },
    // Bad URLs are refused by the router before any hook runs: apply the gates here too.
    frameworkErrors: (err: FastifyError, req: FastifyRequest, reply: FastifyReply) => {
      reply.header('cache-control', 'no-store').header('x-content-type-options', 'nosniff').type('application/json; charset=utf-8');
      const origin = req.headers.origin;
      if (!origins.allows(origin)) return reply.code(403).send({ error: originMessage(origin!) });
      if (!tokens.matches(bearerToken(req.headers))) return reply.code(401).header('www-authenticate', 'Bearer').send({ error: AUTH_MESSAGE });
      if (err.code === 'FST_ERR_MAX_PARAM_LENGTH') return reply.code(414).send({ error: 'a part of the URL path is longer than 256 characters: no resource has such a name (run ids are 26 characters)' });
      if (err.code === 'FST_ERR_BAD_URL') return reply.code(400).send({ error: 'the URL is not valid: check its percent-encoding (%XX with two hex digits, UTF-8)' });
      return reply.code(400).send({ error: 'the request is not valid: check its URL and headers' });
    },
    clientErrorHandler: (err: NodeJS.ErrnoException, socket) => {
      if (err.code === 'ECONNRESET' || socket.destroyed) return;
      const [status, reason, message] =
        err.code === 'HPE_HEADER_OVERFLOW'
          ? [431, 'Request Header Fields Too Large', 'the request headers are too large: send fewer or shorter headers']
          : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
            ? [408, 'Request Timeout', 'the request took too long to arrive: send it again']
            : [400, 'Bad Request', 'the request is not valid HTTP'];
      const body = JSON.stringify({ error: message });
      if (socket.writable) {
        socket.end(`HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
      } else socket.destroy(err);
    }
  });
  // No parser at the root: each route context adds the body types it takes.
  app.removeAllContentTypeParsers();
  // Proxies and JupyterLab's request helper put a Content-Type on body-less requests
  // (a DELETE through jupyter-server-proxy arrives with `Content-Length: 0` and JSON's
  // type): with no body there is nothing to parse, so the type is dropped, not refused.
  app.addHook('onRequest', async (req: FastifyRequest) => {
    const bodyless = (req.headers['content-length'] ?? '0') === '0' && req.headers['transfer-encoding'] === undefined;
    if ((req.method === 'GET' || req.method === 'HEAD' || req.method === 'DELETE') && bodyless && req.headers['content-type'] !== undefined) {
      delete req.raw.headers['content-type'];
    }
  });

  const events = new EventSockets(service.store, tokens, origins, logger, config.events);
  const builds = new Set<AbortController>();

  // --- gates: origin, then token (before any body is read) ---
  app.addHook('onRequest', async (req: FastifyRequest, reply: FastifyReply) => {
    reply.header('cache-control', 'no-store');
    reply.header('x-content-type-options', 'nosniff');
    const origin = req.headers.origin;
    if (!origins.allows(origin)) {
      req.log.warn({ origin: String(origin).slice(0, 100) }, 'refused: origin not allowed');
      throw new HttpError(403, originMessage(origin!));
    }
    if (origins.isConfigured(origin)) {
      reply.header('access-control-allow-origin', origin);
      reply.header('vary', 'Origin');
      reply.header('access-control-expose-headers', CORS_EXPOSE_HEADERS);
      if (req.method === 'OPTIONS' && req.headers['access-control-request-method']) {
        // A preflight carries no credentials: answer it without the token.
        return reply
          .code(204)
          .header('access-control-allow-methods', 'GET, POST, DELETE, HEAD')
          .header('access-control-allow-headers', CORS_ALLOW_HEADERS)
          .header('access-control-max-age', '600')
          .send();
      }
    }
    if (!tokens.matches(bearerToken(req.headers))) {
      req.log.warn('refused: missing or wrong token');
      throw new HttpError(401, authMessage(req), {}, { 'www-authenticate': 'Bearer' });
    }
  });

  app.setErrorHandler((err: FastifyError | Error, req, reply) => {
    const accepts = (req.routeOptions?.config as { accepts?: string[] } | undefined)?.accepts;
    const r = toErrorReply(err, req, accepts);
    if (r.internal) req.log.error({ err }, 'request failed');
    else req.log.info({ status: r.status, error: r.body.error.slice(0, 300) }, 'request refused');
    // Headers a download had set before it failed do not describe the error.
    for (const h of ['content-disposition', 'content-length', 'content-range', 'etag', 'accept-ranges', 'content-security-policy']) reply.removeHeader(h);
    if (r.headers) reply.headers(r.headers);
    // A body the client is still sending is not worth reading.
    if (r.status === 413 || r.status === 415) reply.header('connection', 'close');
    return reply.code(r.status).type('application/json; charset=utf-8').send(r.body);
  });

  app.setNotFoundHandler((req, reply) => {
    const path = (req.url.split('?')[0] ?? '').slice(0, 200);
    return reply.code(404).send({ error: `no route ${req.method} ${path}: the API is under ${API_PREFIX} (health, runs, images)` });
  });

  app.register(
    async api => {
      api.get('/health', async () => service.health());
      registerRunRoutes(api, service);
      registerImageRoutes(api, service, { maxContextBytes: config.maxBuildContextBytes ?? DEFAULT_MAX_BUILD_CONTEXT_BYTES, maxConcurrentBuilds: config.maxConcurrentBuilds }, builds);
    },
    { prefix: API_PREFIX }
  );

  app.server.on('upgrade', (req, socket, head) => events.handleUpgrade(req, socket, head));
  app.addHook('preClose', async () => {
    for (const b of builds) b.abort();
    await events.close();
  });

  return {
    app,
    async listen(opts = {}) {
      const host = opts.host ?? '127.0.0.1';
      await app.listen({ host, port: opts.port ?? 0 });
      const addr = app.server.address() as AddressInfo;
      const shownHost = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
      return { url: `http://${shownHost}:${addr.port}`, port: addr.port, host: addr.address };
    },
    close: () => app.close(),
    eventStats: () => events.stats()
  };
}
