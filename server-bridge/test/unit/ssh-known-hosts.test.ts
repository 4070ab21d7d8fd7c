// known_hosts parsing and host key checks of the SSH Docker engine, against files written
// and hashed by OpenSSH's own ssh-keygen (real keys of each type), and parseSshTarget.
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import {
  checkHostKey,
  entryMatchesHost,
  hostKeyAlgorithmsFor,
  keyFingerprint,
  keyTypeOf,
  knownHostsName,
  parseKnownHosts,
  parseSshTarget,
  type KnownHosts
} from '../../src/engine/ssh-docker';

let dir: string;
const keys: Record<string, { field: string; blob: Buffer; fingerprint: string }> = {};

function makeKey(name: string, args: string[]) {
  const file = path.join(dir, name);
  execFileSync('ssh-keygen', ['-q', ...args, '-N', '', '-C', name, '-f', file]);
  const field = fs.readFileSync(`${file}.pub`, 'utf8').trim().split(/\s+/).slice(0, 2).join(' ');
  const fingerprint = execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', `${file}.pub`]).toString().split(/\s+/)[1];
  keys[name] = { field, blob: Buffer.from(field.split(' ')[1], 'base64'), fingerprint };
}

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'redlab-knownhosts-'));
  makeKey('ed', ['-t', 'ed25519']);
  makeKey('ed2', ['-t', 'ed25519']);
  makeKey('ecdsa', ['-t', 'ecdsa', '-b', '256']);
  makeKey('rsa', ['-t', 'rsa', '-b', '2048']);
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const known = (text: string, file = '/home/u/.ssh/known_hosts'): KnownHosts => ({ file, entries: parseKnownHosts(text) });

describe('parseKnownHosts', () => {
  it('reads plain entries of each key type, with markers, comments and blank lines', () => {
    const text = [
      '# a comment',
      '',
      `gpu.example.org,10.0.0.5 ${keys.ed.field} alice@laptop`,
      `[10.0.0.6]:2222 ${keys.ecdsa.field}`,
      `  @revoked old.example.org ${keys.rsa.field}`,
      `@cert-authority *.example.org ${keys.ed2.field}`
    ].join('\n');
    const entries = parseKnownHosts(text);
    expect(entries.map(e => [e.line, e.marker, e.patterns, e.keyType])).toEqual([
      [3, undefined, ['gpu.example.org', '10.0.0.5'], 'ssh-ed25519'],
      [4, undefined, ['[10.0.0.6]:2222'], 'ecdsa-sha2-nistp256'],
      [5, '@revoked', ['old.example.org'], 'ssh-rsa'],
      [6, '@cert-authority', ['*.example.org'], 'ssh-ed25519']
    ]);
    expect(entries[0].key.equals(keys.ed.blob)).toBe(true);
  });

  it('skips damaged lines: missing fields, a key field that is not base64 of its type, an unknown marker or hash format', () => {
    const text = [
      'host-only',
      'host ssh-ed25519',
      `host ssh-rsa ${keys.ed.field.split(' ')[1]}`, // blob says ed25519, field says rsa
      'host ssh-ed25519 !!notbase64!!',
      `@bogus host ${keys.ed.field}`,
      `|2|abc|def ${keys.ed.field}`,
      `good ${keys.ed.field}`
    ].join('\n');
    expect(parseKnownHosts(text).map(e => e.line)).toEqual([7]);
  });

  it('reads entries hashed by ssh-keygen -H, which then match only the right name and port', () => {
    const file = path.join(dir, 'hashed_known_hosts');
    fs.writeFileSync(file, `gpu.example.org ${keys.ed.field}\n[10.0.0.6]:2222 ${keys.ecdsa.field}\n`);
    execFileSync('ssh-keygen', ['-q', '-H', '-f', file]);
    const text = fs.readFileSync(file, 'utf8');
    expect(text).not.toContain('gpu.example.org');
    const [a, b] = parseKnownHosts(text);
    expect(a.hashed).toBeDefined();
    expect(entryMatchesHost(a, 'gpu.example.org', 22)).toBe(true);
    expect(entryMatchesHost(a, 'GPU.example.org', 22)).toBe(true);
    expect(entryMatchesHost(a, 'gpu.example.org', 2222)).toBe(false);
    expect(entryMatchesHost(a, 'other.example.org', 22)).toBe(false);
    expect(entryMatchesHost(b, '10.0.0.6', 2222)).toBe(true);
    expect(entryMatchesHost(b, '10.0.0.6', 22)).toBe(false);
  });
});

describe('host matching', () => {
  it('uses [host]:port for a port other than 22, plain host for 22', () => {
    expect(knownHostsName('Box', 22)).toBe('box');
    expect(knownHostsName('box', 2222)).toBe('[box]:2222');
    const [plain, bracketed] = parseKnownHosts(`box ${keys.ed.field}\n[box]:2222 ${keys.ed.field}`);
    expect(entryMatchesHost(plain, 'box', 22)).toBe(true);
    expect(entryMatchesHost(plain, 'box', 2222)).toBe(false);
    expect(entryMatchesHost(bracketed, 'box', 2222)).toBe(true);
    expect(entryMatchesHost(bracketed, 'box', 22)).toBe(false);
  });

  it('honours wildcards and negated patterns', () => {
    const [e] = parseKnownHosts(`*.example.org,!evil.example.org,10.0.0.? ${keys.ed.field}`);
    expect(entryMatchesHost(e, 'gpu.example.org', 22)).toBe(true);
    expect(entryMatchesHost(e, 'evil.example.org', 22)).toBe(false);
    expect(entryMatchesHost(e, '10.0.0.7', 22)).toBe(true);
    expect(entryMatchesHost(e, '10.0.0.70', 22)).toBe(false);
    expect(entryMatchesHost(e, 'example.org', 22)).toBe(false);
    expect(entryMatchesHost(e, 'gpuXexample.org', 22)).toBe(false); // the dot is literal
  });
});

describe('checkHostKey', () => {
  it('fingerprints and types a key as ssh-keygen does', () => {
    for (const k of Object.values(keys)) {
      expect(keyFingerprint(k.blob)).toBe(k.fingerprint);
      expect(keyTypeOf(k.blob)).toBe(k.field.split(' ')[0]);
    }
  });

  it('accepts only the matching key, of each type', () => {
    const kh = known(`box ${keys.ed.field}\nbox ${keys.ecdsa.field}\nbox ${keys.rsa.field}`);
    for (const name of ['ed', 'ecdsa', 'rsa']) expect(checkHostKey(kh, 'box', 22, keys[name].blob)).toMatchObject({ ok: true });
    expect(checkHostKey(kh, 'other', 22, keys.ed.blob)).toMatchObject({ ok: false, kind: 'unknown-host' });
  });

  it('an unknown host: refused with the fingerprint and the ssh-keyscan line to trust it', () => {
    const v = checkHostKey(known(`elsewhere ${keys.ed.field}`), '10.0.0.6', 2222, keys.ed2.blob);
    expect(v).toMatchObject({ ok: false, kind: 'unknown-host' });
    const msg = (v as { message: string }).message;
    expect(msg).toContain(keys.ed2.fingerprint);
    expect(msg).toContain("Check this fingerprint with the host's administrator");
    expect(msg).toContain('ssh-keyscan -p 2222 10.0.0.6 >> /home/u/.ssh/known_hosts');
  });

  it('a changed key of a known type: refused as CHANGED, possible attack, both fingerprints and the line', () => {
    const v = checkHostKey(known(`# x\nbox ${keys.ed.field}`), 'box', 22, keys.ed2.blob);
    expect(v).toMatchObject({ ok: false, kind: 'changed-host-key' });
    const msg = (v as { message: string }).message;
    expect(msg).toContain('CHANGED');
    expect(msg).toContain('attack');
    expect(msg).toContain('line 2');
    expect(msg).toContain(keys.ed.fingerprint);
    expect(msg).toContain(keys.ed2.fingerprint);
  });

  it('a @revoked key is refused even when another line trusts it; a @cert-authority line trusts nothing', () => {
    expect(checkHostKey(known(`box ${keys.ed.field}\n@revoked * ${keys.ed.field}`), 'box', 22, keys.ed.blob)).toMatchObject({ ok: false, kind: 'revoked-host-key' });
    expect(checkHostKey(known(`@cert-authority box ${keys.ed.field}`), 'box', 22, keys.ed.blob)).toMatchObject({ ok: false, kind: 'unknown-host' });
  });

  it('offers only the key algorithms known for the host (so a host with several keys is not reported as changed)', () => {
    const kh = known(`box ${keys.rsa.field}\nbox ${keys.ecdsa.field}\nother ${keys.ed.field}`);
    expect(hostKeyAlgorithmsFor(kh, 'box', 22)).toEqual(['ecdsa-sha2-nistp256', 'rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa']);
    expect(hostKeyAlgorithmsFor(kh, 'unknown', 22)).toBeUndefined();
  });
});

describe('parseSshTarget', () => {
  it('reads user, host and port', () => {
    expect(parseSshTarget('ssh://alice@gpu.example.org')).toEqual({ user: 'alice', host: 'gpu.example.org', port: 22 });
    expect(parseSshTarget('ssh://root@10.0.0.5:2222')).toEqual({ user: 'root', host: '10.0.0.5', port: 2222 });
    expect(parseSshTarget('ssh://bob@[fd00::5]:2200')).toEqual({ user: 'bob', host: 'fd00::5', port: 2200 });
  });

  it.each([
    ['tcp://host:2375', 'must start with ssh://'],
    ['ssh://gpu.example.org', 'names no user'],
    ['ssh://a:secret@host', 'password'],
    ['ssh://a@host/path', 'no path'],
    ['ssh://a@host:99999', 'cannot be parsed'],
    ['ssh://a@', 'cannot be parsed']
  ])('refuses %s, naming the setting and why', (value, why) => {
    expect(() => parseSshTarget(value, '--docker-host')).toThrow(why);
    expect(() => parseSshTarget(value, '--docker-host')).toThrow(`--docker-host=${JSON.stringify(value)}`);
  });
});
