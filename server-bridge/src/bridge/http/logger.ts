// The bridge's request log: pino, JSON lines by default, or one readable line per entry
// with `pretty: true` (a small formatter here; pino-pretty is not a dependency).
//
// Secrets never reach the log: request bodies are never logged (RED variables travel
// in them), the Authorization header is not serialized, `token` query parameters are
// replaced by `[redacted]` in logged URLs, and common secret-bearing fields are
// redacted by pino should a caller log them. With `masker` (the bridge passes its
// store's SecretRegistry) every line is masked as it is written: an error that quotes
// a filled {{variable}}, in any encoding, shows ******** instead.
import pino, { type Logger, type LoggerOptions } from 'pino';
import type { FastifyRequest } from 'fastify';
import type { Masking } from '../../../../src/red';

export interface LogConfig {
  /** Default `info`. */
  level?: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** One human-readable line per entry instead of JSON. */
  pretty?: boolean;
  /** Where lines go (default: standard output). */
  destination?: { write(line: string): unknown };
  /** Masks every line before it is written (the secrets of the runs in flight). */
  masker?: Pick<Masking, 'mask'>;
}

/** Paths pino replaces by `[redacted]` wherever a caller logs them. */
export const REDACT_PATHS = [
  'authorization',
  'token',
  'variables',
  'body',
  'headers.authorization',
  'req.headers.authorization',
  'req.headers.cookie',
  'req.body',
  '*.token',
  '*.variables',
  '*.authorization'
];

const MAX_URL = 512;

/** A URL for the log: `token` (any case) query values replaced, long URLs cut. */
export function redactUrl(url: string | undefined): string | undefined {
  if (url === undefined) return undefined;
  const q = url.indexOf('?');
  let out = url;
  if (q >= 0) {
    const query = url
      .slice(q + 1)
      .split('&')
      .map(part => {
        const eq = part.indexOf('=');
        let name = eq >= 0 ? part.slice(0, eq) : part;
        try {
          name = decodeURIComponent(name.replace(/\+/g, ' '));
        } catch {
          /* keep it raw */
        }
        return /token|secret|password|auth/i.test(name) ? `${eq >= 0 ? part.slice(0, eq) : part}=[redacted]` : part;
      })
      .join('&');
    out = url.slice(0, q + 1) + query;
  }
  return out.length > MAX_URL ? out.slice(0, MAX_URL) + '…' : out;
}

/** What a request looks like in the log: no headers, no body. */
export function serializeRequest(req: FastifyRequest | { method?: string; url?: string; ip?: string; socket?: { remoteAddress?: string } }): Record<string, unknown> {
  const r = req as { method?: string; url?: string; ip?: string; socket?: { remoteAddress?: string; remotePort?: number } };
  return { method: r.method, url: redactUrl(r.url), remoteAddress: r.ip ?? r.socket?.remoteAddress, remotePort: r.socket?.remotePort };
}

const serializers = {
  req: serializeRequest,
  res: (reply: { statusCode?: number }) => ({ statusCode: reply.statusCode }),
  err: pino.stdSerializers.err
};

const LEVELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
const SKIP = new Set(['level', 'time', 'msg', 'pid', 'hostname', 'reqId', 'req', 'res', 'err', 'responseTime', 'v']);

/** One JSON log line as a readable line: `12:00:01.123 INFO  [req-1] GET /api/v1/health → 200 (1.2 ms) key=value`. */
export function formatPretty(line: string): string {
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(line);
  } catch {
    return line.endsWith('\n') ? line : line + '\n';
  }
  const time = typeof o.time === 'number' ? new Date(o.time).toISOString().slice(11, 23) : '';
  const level = (LEVELS[o.level as number] ?? String(o.level)).padEnd(5);
  const parts = [time, level];
  if (o.reqId !== undefined) parts.push(`[${String(o.reqId)}]`);
  const req = o.req as { method?: string; url?: string } | undefined;
  const res = o.res as { statusCode?: number } | undefined;
  if (req?.method) parts.push(`${req.method} ${req.url ?? ''}`);
  if (res?.statusCode !== undefined) parts.push(`→ ${res.statusCode}`);
  if (typeof o.responseTime === 'number') parts.push(`(${o.responseTime.toFixed(1)} ms)`);
  if (o.msg !== undefined && !((req || res) && /^(incoming request|request completed)$/.test(String(o.msg)))) parts.push(String(o.msg));
  for (const [k, v] of Object.entries(o)) {
    if (SKIP.has(k)) continue;
    parts.push(`${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`);
  }
  const err = o.err as { type?: string; message?: string; stack?: string } | undefined;
  let out = parts.join(' ');
  if (err) out += `\n    ${err.stack ?? `${err.type ?? 'Error'}: ${err.message ?? ''}`}`.replace(/\n/g, '\n    ');
  return out + '\n';
}

function isLogger(x: unknown): x is Logger {
  return !!x && typeof x === 'object' && ['child', 'info', 'error', 'warn', 'debug', 'trace', 'fatal'].every(m => typeof (x as Record<string, unknown>)[m] === 'function');
}

/**
 * The logger the app uses. A pino instance given by the caller gets a child with the
 * bridge's serializers and redaction; options make a new pino logger; false: silent.
 */
export function createLogger(config: Logger | LogConfig | false | undefined): Logger {
  if (config === false) return pino({ level: 'silent' });
  if (isLogger(config)) return config.child({}, { serializers, redact: { paths: REDACT_PATHS, censor: '[redacted]' } });
  const c = (config ?? {}) as LogConfig;
  const opts: LoggerOptions = {
    level: c.level ?? 'info',
    serializers,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    base: { pid: process.pid },
    ...(c.masker ? { hooks: { streamWrite: (line: string) => c.masker!.mask(line) } } : {})
  };
  if (c.pretty) {
    const out = c.destination ?? process.stdout;
    return pino(opts, { write: (line: string) => void out.write(formatPretty(line)) });
  }
  return c.destination ? pino(opts, { write: (line: string) => void c.destination!.write(line) }) : pino(opts);
}
