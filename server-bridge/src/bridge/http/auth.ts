// Who may talk to the bridge: whoever holds its token (the bridge drives Docker, so
// the token is as good as root on this machine), from no browser origin at all (curl,
// the CLI, a proxy) or from one of the configured origins.
import { createHash, timingSafeEqual } from 'crypto';
import type { IncomingHttpHeaders } from 'http';

export const AUTH_MESSAGE = 'missing or wrong token: send Authorization: Bearer <token>';
export const WS_AUTH_MESSAGE = 'missing or wrong token: send Authorization: Bearer <token>, or ?token=<token> on the WebSocket URL';

const digest = (s: string | Buffer) => createHash('sha256').update(s).digest();

/** Compares a presented token with the configured one in constant time (hashes are of equal length whatever was sent). */
export class TokenChecker {
  private readonly expected: Buffer;
  constructor(token: string) {
    if (typeof token !== 'string' || token.length < 8) throw new TypeError('the bridge token must be a string of at least 8 characters');
    this.expected = digest(token);
  }
  matches(presented: string | undefined): boolean {
    // Always hash and compare, so a missing token takes the time a wrong one does.
    const got = digest(presented ?? '');
    return timingSafeEqual(got, this.expected) && presented !== undefined;
  }
}

/** The token of an `Authorization: Bearer <token>` header; undefined when absent or malformed. */
export function bearerToken(headers: IncomingHttpHeaders): string | undefined {
  const h = headers.authorization;
  if (typeof h !== 'string') return undefined;
  const m = /^Bearer[ \t]+([^\s]+)[ \t]*$/i.exec(h);
  return m ? m[1] : undefined;
}

/** The origin (scheme://host[:port], default port dropped) a configured entry names, or undefined when it is not one. */
export function normalizeOrigin(o: string): string | undefined {
  if (o === 'null') return 'null';
  try {
    const m = /^([a-z][a-z0-9+.-]*):\/\/([^/?#@\s]+)\/?$/i.exec(o);
    // Anything beyond scheme://host:port (a path, credentials, a query) makes it something else.
    if (!m) return undefined;
    const origin = new URL(o).origin;
    return origin === 'null' ? undefined : origin;
  } catch {
    return undefined;
  }
}

/**
 * Browser origins allowed to call the bridge. Browsers send the Origin header in its
 * canonical form, so a request's Origin is compared exactly with the configured ones;
 * a request without Origin (curl, the CLI, a server-side proxy) is no browser page.
 */
export class OriginPolicy {
  private readonly allowed = new Set<string>();
  constructor(origins: readonly string[]) {
    for (const o of origins) {
      const n = typeof o === 'string' ? normalizeOrigin(o) : undefined;
      if (!n) throw new TypeError(`allowed origin ${JSON.stringify(o)} is not an origin: write it as scheme://host[:port], e.g. http://localhost:8888`);
      this.allowed.add(n);
    }
  }
  /** True when there is no Origin header, or it is exactly one of the configured origins. */
  allows(origin: string | string[] | undefined): boolean {
    if (origin === undefined) return true;
    return typeof origin === 'string' && this.allowed.has(origin);
  }
  /** True when `origin` is present and configured (CORS headers go only to those). */
  isConfigured(origin: string | string[] | undefined): origin is string {
    return typeof origin === 'string' && this.allowed.has(origin);
  }
}

export function originMessage(origin: string | string[]): string {
  origin = String(origin);
  const shown = JSON.stringify(origin.length > 100 ? origin.slice(0, 100) + '…' : origin);
  return `requests from origin ${shown} are not allowed: add it to the bridge's allowed origins (exactly as scheme://host:port), or call the bridge without a browser`;
}
