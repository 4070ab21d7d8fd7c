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
//
// Slow clients cannot hold sockets (slowloris): a request head must arrive within
// headersTimeoutMs of its first byte (a silent new connection counts from its start),
// a whole request within requestTimeoutMs, and an idle kept-alive connection closes
// after keepAliveTimeoutMs. A refused request (401/403) closes its connection, and at
// most maxUnauthenticatedConnections wait for their first authenticated request: a new
// one beyond that closes the oldest waiting ones that have waited a second or more (an
// honest client sends its head within milliseconds, so a burst of them is never cut
// short; a slow one holds its socket at most a second past the cap, or the headers
// timeout when no new connection comes). A WebSocket leaves all of this at its
// upgrade (its own ping keeps it honest), so event streams live as long as the run.
// No idle-socket timeout (Fastify's connectionTimeout): an image build's progress may be
// silent for minutes, and the limits above already cover a client that stops sending.
import { randomBytes } from 'crypto';
import Fastify, { type FastifyBaseLogger, type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { AddressInfo, Socket } from 'net';
import type { Logger } from 'pino';
import type { RunService } from '../service';
import { AUTH_MESSAGE, bearerToken, originMessage, OriginPolicy, TokenChecker } from './auth';
import { HttpError, toErrorReply } from './errors';
import { EventSockets, type EventSocketOptions, type EventSocketStats } from './events';
import { registerImageRoutes } from './images';
import { createLogger, type LogConfig } from './logger';
import { registerRunRoutes } from './runs';
import { registerDriftRoutes } from './drift';
import { sessionEventsRoute } from './session-events';
import { registerSessionRoutes } from './sessions';

export const API_PREFIX = '/api/v1';
export const DEFAULT_MAX_BODY_BYTES = 10 * 1024 * 1024;
export const DEFAULT_MAX_BUILD_CONTEXT_BYTES = 200 * 1024 * 1024;
export const DEFAULT_HEADERS_TIMEOUT_MS = 10_000;
export const DEFAULT_REQUEST_TIMEOUT_MS = 5 * 60_000;
export const DEFAULT_KEEP_ALIVE_TIMEOUT_MS = 5_000;
export const DEFAULT_MAX_UNAUTHENTICATED_CONNECTIONS = 256;
/** How long a connection may wait for its first authenticated request before a new one over the cap closes it. */
const UNAUTHENTICATED_GRACE_MS = 1000;
/** After a 4xx for a broken or late request, how long the client gets to read it before the socket is destroyed. */
const CLIENT_ERROR_LINGER_MS = 1000;

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
  /** Time (ms) a request's head (request line and headers) may take to arrive, from its first byte (slowloris); default 10 s. */
  headersTimeoutMs?: number;
  /** Whole-request time limit in ms (slow uploads); default 5 minutes. At least headersTimeoutMs. */
  requestTimeoutMs?: number;
  /** How long (ms) a kept-alive connection may wait for its next request; default 5 s. */
  keepAliveTimeoutMs?: number;
  /** Connections waiting for their first authenticated request (or WebSocket upgrade), at most; one more closes the oldest that waited 1 s or more. Default 256. */
  maxUnauthenticatedConnections?: number;
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

/** The limits against slow clients that the bridge takes from the environment, by the variable that sets each. */
export const HTTP_LIMIT_VARIABLES = {
  headersTimeoutMs: 'REDLAB_HEADERS_TIMEOUT_MS',
  requestTimeoutMs: 'REDLAB_REQUEST_TIMEOUT_MS',
  keepAliveTimeoutMs: 'REDLAB_KEEPALIVE_TIMEOUT_MS',
  maxUnauthenticatedConnections: 'REDLAB_MAX_UNAUTHENTICATED_CONNECTIONS'
} as const;
export type HttpLimits = Partial<Record<keyof typeof HTTP_LIMIT_VARIABLES, number>>;

/** HTTP_LIMIT_VARIABLES that are set, as numbers; a value that is not a whole number >= 1 is refused naming its variable. */
export function httpLimitsFromEnv(env: NodeJS.ProcessEnv): HttpLimits {
  const limits: HttpLimits = {};
  for (const [key, name] of Object.entries(HTTP_LIMIT_VARIABLES) as [keyof HttpLimits, string][]) {
    const text = env[name]?.trim();
    if (!text) continue;
    const n = Number(text);
    if (!Number.isInteger(n) || n < 1 || n > 2 ** 31 - 1) throw new Error(`${name} must be a whole number from 1 to ${2 ** 31 - 1}${key.endsWith('Ms') ? ' (milliseconds)' : ''}, not ${text}`);
    limits[key] = n;
  }
  return limits;
}

/** `config[key]` or its default, refused unless a whole number from `min` to 2^31-1 (node's timer limit). */
function wholeSetting(config: HttpConfig, key: keyof HttpConfig, dflt: number, min = 1): number {
  const v = config[key] ?? dflt;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > 2 ** 31 - 1) throw new TypeError(`${key} must be a whole number from ${min} to ${2 ** 31 - 1}, not ${String(v)}`);
  return v;
}

/** Builds the API on `service`. Call `listen()` (or `app.listen`) to serve it. */
export function createApp(service: RunService, config: HttpConfig): BridgeApp {
  const tokens = new TokenChecker(config.token);
  const origins = new OriginPolicy(config.allowedOrigins ?? []);
  const maxBodyBytes = config.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  if (!Number.isSafeInteger(maxBodyBytes) || maxBodyBytes < 1024) throw new TypeError('maxBodyBytes must be a whole number of bytes >= 1024');
  const headersTimeout = wholeSetting(config, 'headersTimeoutMs', DEFAULT_HEADERS_TIMEOUT_MS);
  const requestTimeout = wholeSetting(config, 'requestTimeoutMs', DEFAULT_REQUEST_TIMEOUT_MS);
  if (headersTimeout > requestTimeout) throw new TypeError(`headersTimeoutMs must be at most requestTimeoutMs (${requestTimeout}), not ${headersTimeout}`);
  const keepAliveTimeout = wholeSetting(config, 'keepAliveTimeoutMs', DEFAULT_KEEP_ALIVE_TIMEOUT_MS);
  const maxWaiting = wholeSetting(config, 'maxUnauthenticatedConnections', DEFAULT_MAX_UNAUTHENTICATED_CONNECTIONS);
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
    requestTimeout,
    keepAliveTimeout,
    // Node checks the head and request deadlines every connectionsCheckingInterval (default 30 s).
    http: { headersTimeout, requestTimeout, connectionsCheckingInterval: Math.max(100, Math.min(1000, Math.floor(headersTimeout / 4))) },
    routerOptions: { maxParamLength: 256, ignoreTrailingSlash: true },
    // Bad URLs are refused by the router before any hook runs: apply the gates here too.
    frameworkErrors: (err: FastifyError, req: FastifyRequest, reply: FastifyReply) => {
      reply.header('cache-control', 'no-store').header('x-content-type-options', 'nosniff').type('application/json; charset=utf-8');
      const origin = req.headers.origin;
      if (!origins.allows(origin)) return reply.code(403).header('connection', 'close').send({ error: originMessage(origin!) });
      if (!tokens.matches(bearerToken(req.headers))) return reply.code(401).header('www-authenticate', 'Bearer').header('connection', 'close').send({ error: AUTH_MESSAGE });
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
        // end() only half-closes: a client that goes on trickling would keep the socket.
        const linger = setTimeout(() => socket.destroy(), CLIENT_ERROR_LINGER_MS).unref();
        socket.once('close', () => clearTimeout(linger));
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
  events.addRoute(sessionEventsRoute(service.sessions, events, logger, { maxQueuedBytes: config.events?.maxQueuedBytes }));
  const builds = new Set<AbortController>();

  // Connections with no authenticated request yet and when they came, oldest first (a Map keeps insertion order).
  const waiting = new Map<Socket, number>();
  app.server.on('connection', (socket: Socket) => {
    const now = Date.now();
    waiting.set(socket, now);
    socket.once('close', () => waiting.delete(socket));
    for (const [oldest, since] of waiting) {
      if (waiting.size <= maxWaiting || now - since < UNAUTHENTICATED_GRACE_MS) break;
      waiting.delete(oldest);
      oldest.destroy();
    }
  });

  // --- gates: origin, then token (before any body is read) ---
  app.addHook('onRequest', async (req: FastifyRequest, reply: FastifyReply) => {
    reply.header('cache-control', 'no-store');
    reply.header('x-content-type-options', 'nosniff');
    const origin = req.headers.origin;
    if (!origins.allows(origin)) {
      req.log.warn({ origin: String(origin).slice(0, 100) }, 'refused: origin not allowed');
      throw new HttpError(403, originMessage(origin!), {}, { connection: 'close' });
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
      throw new HttpError(401, authMessage(req), {}, { 'www-authenticate': 'Bearer', connection: 'close' });
    }
    waiting.delete(req.raw.socket);
  });

  app.setErrorHandler((err: FastifyError | Error, req, reply) => {
    const accepts = (req.routeOptions?.config as { accepts?: string[] } | undefined)?.accepts;
    const r = toErrorReply(err, req, accepts);
    // Error texts may quote what a request carried: masked with the secrets of the runs in flight.
    r.body = service.store.secrets.maskValue(r.body);
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
    return reply.code(404).send({ error: `no route ${req.method} ${path}: the API is under ${API_PREFIX} (health, runs, sessions, images)` });
  });

  app.register(
    async api => {
      api.get('/health', async () => service.health());
      registerRunRoutes(api, service);
      registerDriftRoutes(api, service);
      registerSessionRoutes(api, service, { maxWaitMs: requestTimeout });
      registerImageRoutes(api, service, { maxContextBytes: config.maxBuildContextBytes ?? DEFAULT_MAX_BUILD_CONTEXT_BYTES, maxConcurrentBuilds: config.maxConcurrentBuilds }, builds);
    },
    { prefix: API_PREFIX }
  );

  app.server.on('upgrade', (req, socket, head) => {
    // The upgrade checks its own token and closes the socket when it is wrong.
    waiting.delete(socket as Socket);
    events.handleUpgrade(req, socket, head);
  });
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
