// Which hosts data connectors may reach. Connectors run on the host, not in the
// container, so a RED could otherwise read a service that listens only on this machine
// (loopback), a cloud metadata service (link-local), or the bridge itself, and hand what
// it got to a container with network access. Those are refused unless the operator
// allows a host explicitly (--allow-connector-host, REDLAB_ALLOW_CONNECTOR_HOSTS, the
// bridge's allowConnectorHosts setting). Private lab ranges (10/8, 172.16/12,
// 192.168/16) stay allowed.
//
// The check is on the address a name RESOLVES to, and the connection goes to exactly
// that address (a custom `lookup` for Node's http/https), so a name that resolves to a
// public address first and to 127.0.0.1 next (DNS rebinding) cannot slip through.
// Every redirect hop is checked the same way.
import * as dns from 'dns';
import * as http from 'http';
import * as https from 'https';
import * as net from 'net';
import * as os from 'os';

export const ALLOW_HOSTS_ENV = 'REDLAB_ALLOW_CONNECTOR_HOSTS';

/** A connection the policy refuses: names the host, the address and the opt-in. */
export class HostRefusedError extends Error {
  constructor(
    readonly host: string,
    readonly address: string,
    readonly reason: string
  ) {
    super(
      `refused to connect to ${host}${address !== host ? ` (${address})` : ''}: ${reason}. ` +
        'Data connectors run on the host, not in the container, so such an address would let a RED read services that are not meant for it. ' +
        `If you trust this RED, allow the host: redlab run/bridge --allow-connector-host ${host}, or ${ALLOW_HOSTS_ENV}=${host}` +
        ' (the bridge also takes allowConnectorHosts in its settings)'
    );
    this.name = 'HostRefusedError';
  }
}

/** An IP address as 16 bytes (IPv4 as ::ffff:a.b.c.d), or undefined for what is not one. */
export function ipBytes(address: string): number[] | undefined {
  const a = address.replace(/^\[|\]$/g, '').replace(/%.*$/, '');
  const kind = net.isIP(a);
  if (kind === 4) return [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, ...a.split('.').map(Number)];
  if (kind !== 6) return undefined;
  const [head, tail] = a.includes('::') ? a.split('::') : [a, undefined];
  const groups = (s: string | undefined): number[] => {
    if (!s) return [];
    const out: number[] = [];
    for (const part of s.split(':')) {
      if (part.includes('.')) {
        const v4 = part.split('.').map(Number);
        out.push((v4[0] << 8) | v4[1], (v4[2] << 8) | v4[3]);
      } else out.push(parseInt(part, 16));
    }
    return out;
  };
  const h = groups(head);
  const t = groups(tail);
  const all = [...h, ...new Array<number>(8 - h.length - t.length).fill(0), ...t];
  return all.flatMap(g => [g >> 8, g & 0xff]);
}

function inRange(bytes: number[], net16: number[], prefix: number): boolean {
  for (let bit = 0; bit < prefix; bit++) {
    const i = bit >> 3;
    const m = 0x80 >> (bit & 7);
    if ((bytes[i] & m) !== (net16[i] & m)) return false;
  }
  return true;
}

const v4 = (a: string, prefix: number): [number[], number] => [ipBytes(a)!, 96 + prefix];
const v6 = (a: string, prefix: number): [number[], number] => [ipBytes(a)!, prefix];

/** Ranges refused by default, with why. IPv4-mapped (::ffff:a.b.c.d) addresses are IPv4 here. */
const REFUSED: { range: [number[], number]; reason: string }[] = [
  { range: v4('127.0.0.0', 8), reason: 'it is a loopback address (this machine)' },
  { range: v4('0.0.0.0', 8), reason: 'it is an unspecified address (0.0.0.0 reaches this machine)' },
  { range: v4('169.254.0.0', 16), reason: 'it is a link-local address (cloud metadata services live there)' },
  { range: v4('100.100.100.200', 32), reason: 'it is a cloud metadata address' },
  { range: v6('::1', 128), reason: 'it is a loopback address (this machine)' },
  { range: v6('::', 128), reason: 'it is an unspecified address (:: reaches this machine)' },
  { range: v6('fe80::', 10), reason: 'it is a link-local address' },
  { range: v6('fd00:ec2::254', 128), reason: 'it is a cloud metadata address' }
];

/** IPv4 embedded in IPv6 forms that reach the IPv4 host: IPv4-compatible (::a.b.c.d) and NAT64 (64:ff9b::/96). */
function unwrapV4(bytes: number[]): number[] {
  const zero12 = bytes.slice(0, 12).every(b => b === 0) && bytes.slice(12).some(b => b !== 0) && !(bytes[15] === 1 && bytes.slice(12, 15).every(b => b === 0));
  const nat64 = inRange(bytes, ipBytes('64:ff9b::')!, 96);
  return zero12 || nat64 ? [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, ...bytes.slice(12)] : bytes;
}

/** Why connectors may not reach `address` by default, or undefined. */
export function refusedReason(address: string): string | undefined {
  const bytes = ipBytes(address);
  if (!bytes) return undefined;
  const b = unwrapV4(bytes);
  return REFUSED.find(r => inRange(b, r.range[0], r.range[1]))?.reason;
}

function sameAddress(a: string, b: string): boolean {
  const x = ipBytes(a);
  const y = ipBytes(b);
  return !!x && !!y && x.every((v, i) => v === y[i]);
}

/** An allowed entry: a host name, an IP address, or a CIDR range (`10.0.0.0/8`, `fd00::/8`). */
interface AllowEntry {
  text: string;
  name?: string;
  range?: [number[], number];
}

function parseEntry(text: string): AllowEntry {
  const t = text.trim().toLowerCase().replace(/^\[(.*)\]$/, '$1');
  const slash = t.indexOf('/');
  if (slash >= 0) {
    const bytes = ipBytes(t.slice(0, slash));
    const bits = Number(t.slice(slash + 1));
    const isV4 = net.isIP(t.slice(0, slash)) === 4;
    if (!bytes || !Number.isInteger(bits) || bits < 0 || bits > (isV4 ? 32 : 128)) {
      throw new Error(`--allow-connector-host ${text}: not a host name, IP address or CIDR range (e.g. 127.0.0.1, localhost, 10.1.0.0/16)`);
    }
    return { text, range: [bytes, isV4 ? 96 + bits : bits] };
  }
  const bytes = ipBytes(t);
  if (bytes) return { text, range: [bytes, 128] };
  if (!/^[a-z0-9_]([a-z0-9_.-]*[a-z0-9_])?\.?$/.test(t)) {
    throw new Error(`--allow-connector-host ${text}: not a host name, IP address or CIDR range (e.g. 127.0.0.1, localhost, 10.1.0.0/16)`);
  }
  return { text, name: t.replace(/\.$/, '') };
}

export interface HostPolicyOptions {
  /** Hosts (names, addresses, CIDR ranges) connectors may reach although they are refused by default. */
  allow?: readonly string[];
  /** More addresses refused by default (the bridge's own listening address). */
  deny?: readonly { address: string; reason: string }[];
  /** Name resolution (tests pass their own); default dns.lookup. */
  resolve?: (host: string) => Promise<{ address: string; family: number }[]>;
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | dns.LookupAddress[], family?: number) => void;

/** The hosts connectors may reach, and a `lookup` that connects only to vetted addresses. */
export class HostPolicy {
  private readonly allow: AllowEntry[];
  private readonly deny: readonly { address: string; reason: string }[];
  private readonly resolve: (host: string) => Promise<{ address: string; family: number }[]>;

  constructor(opts: HostPolicyOptions = {}) {
    this.allow = (opts.allow ?? []).map(parseEntry);
    this.deny = opts.deny ?? [];
    this.resolve = opts.resolve ?? (host => dns.promises.lookup(host, { all: true, verbatim: true }));
  }

  private agents?: { http: http.Agent; https: https.Agent };

  /**
   * Agents whose sockets connect through `lookup` only. Their own (not Node's global
   * ones), so no socket opened under another policy is ever reused; no keep-alive, so
   * every request (and redirect hop) resolves and is vetted again.
   */
  agent(secure: boolean): http.Agent {
    this.agents ??= { http: new http.Agent({ keepAlive: false, lookup: this.lookup as never }), https: new https.Agent({ keepAlive: false, lookup: this.lookup as never }) };
    return secure ? this.agents.https : this.agents.http;
  }

  /** The allowed entries as given (for messages and logs). */
  get allowed(): string[] {
    return this.allow.map(a => a.text);
  }

  private isAllowed(host: string, address: string): boolean {
    const name = host.toLowerCase().replace(/^\[|\]$/g, '').replace(/\.$/, '');
    const bytes = ipBytes(address);
    return this.allow.some(a => (a.name !== undefined && a.name === name) || (a.range && bytes && inRange(bytes, a.range[0], a.range[1])));
  }

  /** Throws HostRefusedError when `address` (what `host` resolved to) may not be reached. */
  check(host: string, address: string): void {
    const reason = refusedReason(address) ?? this.deny.find(d => sameAddress(d.address, address))?.reason;
    if (reason && !this.isAllowed(host, address)) throw new HostRefusedError(host.replace(/^\[|\]$/g, ''), address, reason);
  }

  /** Resolves `host` once and checks every address it has; returns them (IP literals as they are). */
  async vet(host: string): Promise<{ address: string; family: number }[]> {
    const bare = host.replace(/^\[|\]$/g, '');
    const family = net.isIP(bare);
    const addresses = family ? [{ address: bare, family }] : await this.resolve(bare);
    // Every address is checked: a name with one public and one loopback address is refused.
    for (const a of addresses) this.check(bare, a.address);
    return addresses;
  }

  /** A `lookup` for http.request: resolves through the policy, so the socket connects to a vetted address only. */
  readonly lookup = (hostname: string, options: dns.LookupOptions | number | LookupCallback, callback?: LookupCallback): void => {
    const cb = (typeof options === 'function' ? options : callback) as LookupCallback;
    const opts = typeof options === 'object' ? options : {};
    this.vet(hostname).then(
      all => {
        const fitting = opts.family === 4 || opts.family === 6 ? all.filter(a => a.family === opts.family) : all;
        if (!fitting.length) {
          const e: NodeJS.ErrnoException = new Error(`getaddrinfo ENOTFOUND ${hostname}`);
          e.code = 'ENOTFOUND';
          return cb(e, '');
        }
        if (opts.all) cb(null, fitting.map(a => ({ address: a.address, family: a.family })));
        else cb(null, fitting[0].address, fitting[0].family);
      },
      err => cb(err as NodeJS.ErrnoException, '')
    );
  };
}

/** Allowed hosts from flags and the environment (REDLAB_ALLOW_CONNECTOR_HOSTS, comma-separated). */
export function allowedConnectorHosts(flags: readonly string[] | undefined, env: NodeJS.ProcessEnv = process.env): string[] {
  const fromEnv = (env[ALLOW_HOSTS_ENV] ?? '').split(',').map(s => s.trim()).filter(Boolean);
  const all = [...(flags ?? []), ...fromEnv];
  all.forEach(parseEntry); // a bad entry fails at start-up, naming it
  return all;
}

/** The addresses a server listening on `host` answers on: all of this machine's for a wildcard. */
export async function listeningAddresses(host: string): Promise<string[]> {
  const bare = host.replace(/^\[|\]$/g, '');
  if (bare === '0.0.0.0' || bare === '::' || bare === '') {
    return Object.values(os.networkInterfaces())
      .flat()
      .filter((i): i is os.NetworkInterfaceInfo => !!i)
      .map(i => i.address);
  }
  if (net.isIP(bare)) return [bare];
  return (await dns.promises.lookup(bare, { all: true }).catch(() => [])).map(a => a.address);
}
