// Host keys checked against a known_hosts file as OpenSSH does (StrictHostKeyChecking=yes:
// plain and `|1|` hashed names, `[host]:port`, @revoked), shared by everything that opens an
// SSH connection with ssh2 (the docker-ssh engine, the red-connector-ssh data connector).
// ssh2 reads no known_hosts: its `hostVerifier` gets the raw key blob, checked here; a
// refusal says the key's fingerprint and how to trust it. Also the wording of a host not reached.
import { createHash, createHmac } from 'crypto';
import * as fs from 'fs';

/** known_hosts cannot be read (not: has no entry). */
export class KnownHostsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KnownHostsError';
  }
}

export interface KnownHostEntry {
  /** 1-based line number in the file. */
  line: number;
  marker?: '@revoked' | '@cert-authority';
  /** Comma-separated host patterns, or undefined when the name is hashed. */
  patterns?: string[];
  hashed?: { salt: Buffer; hash: Buffer };
  /** The key type field, e.g. `ssh-ed25519`. */
  keyType: string;
  /** The raw public key blob (what the server sends and ssh2's hostVerifier gets). */
  key: Buffer;
}

/** Parses known_hosts text as OpenSSH does; lines it cannot read are skipped (as ssh skips them). */
export function parseKnownHosts(text: string): KnownHostEntry[] {
  const entries: KnownHostEntry[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const fields = raw.trim().split(/\s+/);
    if (!fields[0] || fields[0].startsWith('#')) return;
    let marker: KnownHostEntry['marker'];
    if (fields[0].startsWith('@')) {
      if (fields[0] !== '@revoked' && fields[0] !== '@cert-authority') return;
      marker = fields.shift() as KnownHostEntry['marker'];
    }
    if (fields.length < 3) return;
    const [hostField, keyType, keyBase64] = fields;
    const key = Buffer.from(keyBase64, 'base64');
    if (key.length < 8 || keyTypeOf(key) !== keyType) return; // damaged, or not a public key line
    const entry: KnownHostEntry = { line: i + 1, marker, keyType, key };
    const hashed = /^\|1\|([^|]+)\|([^|]+)$/.exec(hostField);
    if (hashed) entry.hashed = { salt: Buffer.from(hashed[1], 'base64'), hash: Buffer.from(hashed[2], 'base64') };
    else if (hostField.startsWith('|')) return; // an unknown hash format
    else entry.patterns = hostField.split(',').filter(Boolean);
    entries.push(entry);
  });
  return entries;
}

/** The name known_hosts records for a host: `host`, or `[host]:port` when the port is not 22. */
export function knownHostsName(host: string, port: number): string {
  return port === 22 ? host.toLowerCase() : `[${host.toLowerCase()}]:${port}`;
}

function globMatch(pattern: string, name: string): boolean {
  const re = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${re}$`, 'i').test(name);
}

/** Whether the entry's host field names this host (a negated pattern `!p` that matches excludes it). */
export function entryMatchesHost(entry: KnownHostEntry, host: string, port: number): boolean {
  const name = knownHostsName(host, port);
  if (entry.hashed) return createHmac('sha1', entry.hashed.salt).update(name).digest().equals(entry.hashed.hash);
  let matched = false;
  for (const p of entry.patterns ?? []) {
    if (p.startsWith('!')) {
      if (globMatch(p.slice(1), name)) return false;
    } else if (globMatch(p, name)) matched = true;
  }
  return matched;
}

/** The key type a public key blob declares (its first SSH string), e.g. `ssh-ed25519`. */
export function keyTypeOf(blob: Buffer): string | undefined {
  if (blob.length < 4) return undefined;
  const len = blob.readUInt32BE(0);
  if (len === 0 || len > 64 || 4 + len > blob.length) return undefined;
  return blob.subarray(4, 4 + len).toString('latin1');
}

/** `SHA256:...` as ssh-keygen -l prints it. */
export function keyFingerprint(blob: Buffer): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

// ssh2's host key algorithms for each known_hosts key type, in ssh2's order of preference.
const HOST_KEY_ALGORITHMS: Record<string, string[]> = {
  'ssh-ed25519': ['ssh-ed25519'],
  'ecdsa-sha2-nistp256': ['ecdsa-sha2-nistp256'],
  'ecdsa-sha2-nistp384': ['ecdsa-sha2-nistp384'],
  'ecdsa-sha2-nistp521': ['ecdsa-sha2-nistp521'],
  'ssh-rsa': ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa']
};
const ALGORITHM_ORDER = ['ssh-ed25519', 'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521', 'rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'];

export type HostKeyVerdict =
  | { ok: true; entry: KnownHostEntry }
  | { ok: false; kind: 'unknown-host' | 'changed-host-key' | 'revoked-host-key'; message: string };

export interface KnownHosts {
  file: string;
  entries: KnownHostEntry[];
}

/** Reads a known_hosts file; a missing file is an empty one (every host is then unknown). */
export function readKnownHosts(file: string): KnownHosts {
  let text = '';
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw new KnownHostsError(`cannot read known_hosts file ${file}: ${(e as Error).message}.`);
  }
  return { file, entries: parseKnownHosts(text) };
}

/** The host key algorithms to offer: those of the keys known for the host (as OpenSSH prefers them), or undefined for ssh2's defaults. */
export function hostKeyAlgorithmsFor(known: KnownHosts, host: string, port: number): string[] | undefined {
  const types = new Set(known.entries.filter(e => !e.marker && entryMatchesHost(e, host, port)).map(e => e.keyType));
  const algos = new Set([...types].flatMap(t => HOST_KEY_ALGORITHMS[t] ?? []));
  return algos.size ? ALGORITHM_ORDER.filter(a => algos.has(a)) : undefined;
}

/** Checks the key a host presents against known_hosts, as OpenSSH with StrictHostKeyChecking=yes. */
export function checkHostKey(known: KnownHosts, host: string, port: number, key: Buffer): HostKeyVerdict {
  const type = keyTypeOf(key) ?? 'unknown';
  const fingerprint = keyFingerprint(key);
  const where = port === 22 ? host : `${host} port ${port}`;
  const forHost = known.entries.filter(e => entryMatchesHost(e, host, port));
  const revoked = known.entries.find(e => e.marker === '@revoked' && e.key.equals(key));
  if (revoked) {
    return { ok: false, kind: 'revoked-host-key', message: `the SSH host key of ${where} (${type} ${fingerprint}) is marked @revoked in ${known.file} line ${revoked.line}: refused. Ask the host's administrator for its current key.` };
  }
  const match = forHost.find(e => !e.marker && e.key.equals(key));
  if (match) return { ok: true, entry: match };
  const sameType = forHost.find(e => !e.marker && e.keyType === type);
  if (sameType) {
    return {
      ok: false,
      kind: 'changed-host-key',
      message:
        `the SSH host key of ${where} has CHANGED: ${known.file} line ${sameType.line} holds a different ${type} key for it (${keyFingerprint(sameType.key)}), ` +
        `but the host now presents ${fingerprint}. Refused: this may be an attack (someone between you and the host), or the host was reinstalled. ` +
        `Ask the host's administrator; only if the new key is right, remove the old entry (ssh-keygen -R '${knownHostsName(host, port)}' -f ${known.file}) and add the new one.`
    };
  }
  return {
    ok: false,
    kind: 'unknown-host',
    message:
      `the SSH host key of ${where} is not known: ${known.file} has no entry for ${knownHostsName(host, port)}; the host presents the ${type} key ${fingerprint}. ` +
      `Check this fingerprint with the host's administrator, then trust it: ssh-keyscan -p ${port} ${host} >> ${known.file}`
  };
}

/**
 * The ssh2 ConnectConfig parts that verify the host key: a `hostVerifier` that records the
 * presented key and the refusal, and the host key algorithms to offer. Offering only the key
 * types known_hosts has for the host (as OpenSSH does) keeps a host with several keys from
 * being reported as changed.
 */
export function hostKeyVerification(known: KnownHosts, host: string, port: number) {
  const state: { presented?: Buffer; refusal?: Extract<HostKeyVerdict, { ok: false }> } = {};
  const algorithms = hostKeyAlgorithmsFor(known, host, port);
  const hostVerifier = (key: Buffer): boolean => {
    state.presented = key;
    const verdict = checkHostKey(known, host, port, key);
    if (!verdict.ok) state.refusal = verdict;
    return verdict.ok;
  };
  /** Why a handshake error happened, when it was the host key: the refusal, or no key of a known type offered. */
  const refusalFor = (err: Error & { level?: string }): { kind: 'unknown-host' | 'changed-host-key' | 'revoked-host-key'; message: string } | undefined => {
    if (state.refusal) return state.refusal;
    if (algorithms && err.level === 'handshake' && /host key/i.test(err.message)) {
      return {
        kind: 'changed-host-key',
        message: `the SSH host key of ${host} may have CHANGED: ${known.file} knows only ${algorithms.join(', ')} keys for it, and the host offers none of them (${err.message}). Refused: ask the host's administrator for its key fingerprint.`
      };
    }
    return undefined;
  };
  return { hostVerifier, algorithms, state, refusalFor };
}

/** Why an SSH connection failed before login, when the host was not reached (refused, timed out, not found, reset); undefined otherwise. */
export function unreachableReason(err: NodeJS.ErrnoException & { level?: string }, host: string, port: number, timeoutMs: number): { message: string; code?: string } | undefined {
  const t = { host, port };
  const at = `${t.host} port ${t.port}`;
  const code = err.code;
  if (err.level === 'client-timeout' || code === 'ETIMEDOUT')
    return { message: `cannot reach ${at} over SSH: no answer within ${timeoutMs / 1000} s. Check the address, that the host is up, and that no firewall blocks port ${t.port}.`, code: 'ETIMEDOUT' };
  if (code === 'ECONNREFUSED')
    return { message: `cannot reach ${at} over SSH: connection refused (nothing listens there). Check that sshd runs on ${t.host} and that the port is right.`, code };
  if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH')
    return { message: `cannot reach ${at} over SSH: no route to the host (${code}). Check the address and that the host is up and on a network you can reach.`, code };
  if (err.level === 'client-dns' || code === 'ENOTFOUND' || code === 'EAI_AGAIN')
    return { message: `cannot reach ${at} over SSH: the host name ${t.host} was not found (${code}). Check its spelling, or use its address.`, code };
  if (code === 'ECONNRESET' || /connection lost before handshake/i.test(err.message))
    return { message: `cannot reach ${at} over SSH: the connection was closed before the SSH handshake (${err.message}). Check that port ${t.port} is an SSH server.`, code };
  return undefined;
}
