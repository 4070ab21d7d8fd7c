// Replaces every known secret value with ******** in text that leaves the process
// (logs, errors, results, events). Values are held in memory only.
//
// A secret rarely stays raw on its way into a message: a URL parser percent-encodes it
// (differently in the user info, the path, the query, a form body) or lowercases it
// (host names; punycode for non-ASCII ones), basic auth sends it in base64, JSON
// escapes it (`\"`, `\\`, `\uXXXX`, once or twice when JSON sits in JSON), a command
// line shell-quotes it. So every secret is expanded into all the forms it can take,
// and one regular expression (longest form first) replaces them all. Pure: no Node
// APIs (base64, UTF-8, percent-encoding and punycode are implemented here).

import { shlexQuote } from './pyformat';

export const MASK = '********';

/** Shorter values would mask ordinary text, so they are not registered. */
export const MIN_SECRET_LENGTH = 3;
/** Secrets of at least this many UTF-8 bytes are also found inside any base64 text (e.g. `user:secret`). */
const MIN_BASE64_CORE_BYTES = 6;

// ---------------------------------------------------------------------------
// pure encoders

/** UTF-8 bytes of `s` (a lone surrogate becomes U+FFFD, as TextEncoder does). */
export function utf8Bytes(s: string): number[] {
  const out: number[] = [];
  for (let i = 0; i < s.length; i++) {
    let c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
        i++;
      }
    }
    if (c >= 0xd800 && c <= 0xdfff) c = 0xfffd;
    if (c < 0x80) out.push(c);
    else if (c < 0x800) out.push(0xc0 | (c >> 6), 0x80 | (c & 63));
    else if (c < 0x10000) out.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
    else out.push(0xf0 | (c >> 18), 0x80 | ((c >> 12) & 63), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
  }
  return out;
}

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** Base64 (RFC 4648) of bytes, padded with `=`. */
export function base64(bytes: readonly number[], alphabet = B64): string {
  let out = '';
  for (let i = 0; i < bytes.length; i += 3) {
    const n = (bytes[i] << 16) | ((bytes[i + 1] ?? 0) << 8) | (bytes[i + 2] ?? 0);
    out += alphabet[(n >> 18) & 63] + alphabet[(n >> 12) & 63];
    out += i + 1 < bytes.length ? alphabet[(n >> 6) & 63] : '=';
    out += i + 2 < bytes.length ? alphabet[n & 63] : '=';
  }
  return out;
}

/**
 * The base64 characters that depend on `bytes` alone when they sit at byte offset
 * `shift` (0, 1, 2 modulo 3) of a longer text: found in the base64 of any text holding them.
 */
function base64Core(bytes: readonly number[], shift: number, alphabet: string): string {
  const encoded = base64([...new Array<number>(shift).fill(0), ...bytes], alphabet);
  return encoded.slice(Math.ceil((8 * shift) / 6), Math.floor((8 * (shift + bytes.length)) / 6));
}

type Keep = (c: string) => boolean;
const ALNUM = /^[A-Za-z0-9]$/;
const setOf = (chars: string): Keep => c => chars.includes(c);
const or = (...fs: Keep[]): Keep => c => fs.some(f => f(c));
const not = (f: Keep): Keep => c => !f(c);

/** Percent-encodes the UTF-8 bytes of every character `encode` selects (`+` for space in forms). */
function percentEncode(s: string, encode: Keep, spaceAsPlus = false): string {
  let out = '';
  for (const ch of s) {
    if (spaceAsPlus && ch === ' ') out += '+';
    else if (encode(ch)) out += utf8Bytes(ch).map(b => '%' + b.toString(16).toUpperCase().padStart(2, '0')).join('');
    else out += ch;
  }
  return out;
}

// The WHATWG URL standard's percent-encode sets (each contains the one before it).
const C0: Keep = c => c < ' ' || c > '~';
const FRAGMENT = or(C0, setOf(' "<>`'));
const QUERY = or(C0, setOf(' "#<>'));
const SPECIAL_QUERY = or(QUERY, setOf("'"));
const PATH_OLD = or(QUERY, setOf('?`{}'));
const PATH = or(PATH_OLD, setOf('^'));
const USERINFO = or(PATH, setOf('/:;=@[\\]|'));
const COMPONENT = or(USERINFO, setOf('$%&+,'));
const FORM = or(COMPONENT, setOf("!'()~"));
// encodeURIComponent / encodeURI (ECMAScript), Python's quote (RFC 3986 unreserved kept).
const URI_COMPONENT = not(or(c => ALNUM.test(c), setOf("-_.!~*'()")));
const URI = not(or(c => ALNUM.test(c), setOf("-_.!~*'();/?:@&=+$,#")));
const RFC3986 = not(or(c => ALNUM.test(c), setOf('-._~')));
const RFC3986_PATH = not(or(c => ALNUM.test(c), setOf('-._~/')));

/** Every percent-encoding of `s` a URL parser, a form or a URL library produces. */
function percentForms(s: string): string[] {
  const sets = [FRAGMENT, QUERY, SPECIAL_QUERY, PATH_OLD, PATH, USERINFO, COMPONENT, URI_COMPONENT, URI, RFC3986, RFC3986_PATH];
  // In the path of an http(s) URL a backslash is a path separator: the parser writes `/`.
  const slashed = s.replace(/\\/g, '/');
  return [
    ...sets.map(set => percentEncode(s, set)),
    percentEncode(slashed, PATH),
    percentEncode(slashed, PATH_OLD),
    percentEncode(s, FORM, true),
    percentEncode(s, RFC3986, true)
  ];
}

/** RFC 3492 punycode of one label (already lowercased). */
export function punycode(label: string): string {
  const input = Array.from(label, ch => ch.codePointAt(0) as number);
  const base = 36;
  const digit = (d: number) => String.fromCharCode(d < 26 ? 97 + d : 22 + d);
  const adapt = (delta: number, points: number, first: boolean) => {
    delta = first ? Math.floor(delta / 700) : delta >> 1;
    delta += Math.floor(delta / points);
    let k = 0;
    for (; delta > 455; k += base) delta = Math.floor(delta / 35);
    return k + Math.floor((36 * delta) / (delta + 38));
  };
  let out = input.filter(c => c < 0x80).map(c => String.fromCharCode(c)).join('');
  const basic = out.length;
  let handled = basic;
  if (basic) out += '-';
  let n = 128;
  let delta = 0;
  let bias = 72;
  while (handled < input.length) {
    const m = Math.min(...input.filter(c => c >= n));
    delta += (m - n) * (handled + 1);
    n = m;
    for (const c of input) {
      if (c < n) delta++;
      if (c !== n) continue;
      let q = delta;
      for (let k = base; ; k += base) {
        const t = k <= bias ? 1 : k >= bias + 26 ? 26 : k - bias;
        if (q < t) break;
        out += digit(t + ((q - t) % (base - t)));
        q = Math.floor((q - t) / (base - t));
      }
      out += digit(q);
      bias = adapt(delta, handled + 1, handled === basic);
      delta = 0;
      handled++;
    }
    delta++;
    n++;
  }
  return out;
}

/** `s` as a URL parser writes it in a host name: lowercased, non-ASCII labels in punycode (`xn--…`). */
export function asciiHost(s: string): string {
  const mapped = s.normalize('NFKC').toLowerCase();
  const pure = mapped
    .split('.')
    .map(l => (/^[\x00-\x7f]*$/.test(l) ? l : 'xn--' + punycode(l)))
    .join('.');
  return pure;
}

/** What WHATWG URL itself makes of `s` as a host, when this runtime has URL (may differ from asciiHost for IDNA mappings). */
function urlHost(s: string): string | undefined {
  const U = (globalThis as { URL?: new (u: string) => { hostname: string } }).URL;
  if (!U || !/[^\x00-\x7f]/.test(s)) return undefined;
  try {
    return new U(`http://${s}/`).hostname;
  } catch {
    return undefined;
  }
}

/** `s` inside a JSON string: `\"`, `\\`, control characters; with asciiOnly every non-ASCII character as `\uXXXX` too. */
export function jsonEscape(s: string, asciiOnly = false): string {
  const inner = JSON.stringify(s).slice(1, -1);
  return asciiOnly ? inner.replace(/[\u007f-\uffff]/g, c => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0')) : inner;
}

/** Every form `secret` can take in a message (the raw value first). */
export function secretForms(secret: string): string[] {
  const plain = new Set<string>([secret, secret.toLowerCase(), secret.normalize('NFC')]);
  for (const p of percentForms(secret)) plain.add(p);
  plain.add(asciiHost(secret));
  const host = urlHost(secret);
  if (host) plain.add(host);
  // Shell-quoted as formatCommandLine writes it: the whole word, and the inside of a longer quoted word.
  plain.add(shlexQuote(secret));
  plain.add(secret.replace(/'/g, `'"'"'`));
  const bytes = utf8Bytes(secret);
  for (const alphabet of [B64, B64URL]) {
    const b = base64(bytes, alphabet);
    plain.add(b);
    plain.add(b.replace(/=+$/, ''));
    if (bytes.length >= MIN_BASE64_CORE_BYTES) for (const shift of [0, 1, 2]) plain.add(base64Core(bytes, shift, alphabet));
  }
  const all = new Set(plain);
  for (const f of plain) {
    const once = jsonEscape(f);
    all.add(once);
    all.add(jsonEscape(f, true));
    all.add(once.replace(/\//g, '\\/'));
    all.add(jsonEscape(once)); // JSON inside JSON (a log line quoting an error body)
    all.add(jsonEscape(jsonEscape(f, true)));
  }
  return [...all].filter(f => f.length >= MIN_SECRET_LENGTH);
}

// ---------------------------------------------------------------------------
// matching

/** A regular expression source for `form`: literal, but the hex digits of `%XX` and `\uXXXX` in either case. */
function formSource(form: string): string {
  let src = '';
  for (let i = 0; i < form.length; i++) {
    const hexRun = form[i] === '%' ? 2 : form[i] === '\\' && form[i + 1] === 'u' ? 4 : 0;
    const start = form[i] === '%' ? i + 1 : i + 2;
    const digits = form.slice(start, start + hexRun);
    if (hexRun && digits.length === hexRun && /^[0-9a-fA-F]+$/.test(digits)) {
      src += (form[i] === '%' ? '%' : '\\\\u') + Array.from(digits, d => (/[0-9]/.test(d) ? d : `[${d.toLowerCase()}${d.toUpperCase()}]`)).join('');
      i = start + hexRun - 1;
    } else src += form[i].replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');
  }
  return src;
}

interface Compiled {
  re: RegExp | undefined;
  /** Lowercased proper prefixes of every form: a text ending in one may continue into a secret. */
  prefixes: Set<string>;
  /** Every character (lowercased) of every form. */
  chars: Set<string>;
  longest: number;
}

function compile(forms: Iterable<string>): Compiled {
  const list = [...new Set(forms)].sort((a, b) => b.length - a.length || (a < b ? -1 : 1));
  const prefixes = new Set<string>();
  const chars = new Set<string>();
  for (const f of list) {
    for (let n = 1; n < f.length; n++) prefixes.add(f.slice(0, n).toLowerCase());
    const lower = f.toLowerCase();
    for (let i = 0; i < lower.length; i++) chars.add(lower[i]); // UTF-16 units, as the tail is read
  }
  return { re: list.length ? new RegExp(list.map(formSource).join('|'), 'g') : undefined, prefixes, chars, longest: list[0]?.length ?? 0 };
}

/** What masks text: a SecretMasker, or a SecretRegistry of several. */
export interface Masking {
  mask(text: string): string;
  maskValue<T>(value: T): T;
  /** A masker for text that arrives in pieces (logs): a secret split across pieces is masked too. */
  stream(): MaskingStream;
}

abstract class MaskingBase implements Masking {
  protected abstract compiled(): Compiled;

  mask(text: string): string {
    const { re } = this.compiled();
    return re && text ? text.replace(re, MASK) : text;
  }

  /** Deep copy of a JSON-like value with every string (keys too) masked. */
  maskValue<T>(value: T): T {
    if (!this.compiled().re) return value;
    const rec = (v: unknown): unknown => {
      if (typeof v === 'string') return this.mask(v);
      if (Array.isArray(v)) return v.map(rec);
      if (v && typeof v === 'object') {
        const out: Record<string, unknown> = {};
        for (const [k, x] of Object.entries(v)) out[this.mask(k)] = rec(x);
        return out;
      }
      return v;
    };
    return rec(value) as T;
  }

  stream(): MaskingStream {
    return new MaskingStream(() => this.compiled());
  }
}

/**
 * Masks text that arrives in pieces: the end of a piece that may be the start of a
 * secret is held back until the next piece (or end()) tells.
 */
export class MaskingStream {
  private held = '';

  constructor(private readonly current: () => Compiled) {}

  /** The masked text that is certain now (maybe less than was written). */
  write(piece: string): string {
    const { re, prefixes, chars, longest } = this.current();
    const text = this.held + piece;
    this.held = '';
    if (!re) return text;
    let lastEnd = 0;
    const masked = text.replace(re, (m: string, at: number) => {
      lastEnd = at + m.length;
      return MASK;
    });
    // Only a tail made of characters that occur in some form can start one.
    let run = 0;
    const max = Math.min(longest - 1, text.length - lastEnd);
    while (run < max && chars.has(text[text.length - 1 - run].toLowerCase())) run++;
    let keep = 0;
    for (let n = run; n > 0; n--) {
      if (prefixes.has(text.slice(text.length - n).toLowerCase())) {
        keep = n;
        break;
      }
    }
    // The held tail lies after the last match, so it is the same in `masked`.
    this.held = text.slice(text.length - keep);
    return masked.slice(0, masked.length - keep);
  }

  /** Whatever is held back, masked: call when no more text comes. */
  end(): string {
    const rest = this.held;
    this.held = '';
    const { re } = this.current();
    return re ? rest.replace(re, MASK) : rest;
  }

  get pending(): number {
    return this.held.length;
  }
}

/** The secrets of one run (or one CLI invocation). */
export class SecretMasker extends MaskingBase {
  private readonly secrets = new Set<string>();
  readonly forms = new Set<string>();
  private cache: Compiled | undefined;

  /** Register a filled secret. Very short values (< 3 chars) would mask ordinary text, so they are skipped. */
  add(value: unknown): void {
    if (typeof value !== 'string' && typeof value !== 'number') return;
    const s = String(value);
    if (s.length < MIN_SECRET_LENGTH || this.secrets.has(s)) return;
    this.secrets.add(s);
    for (const f of secretForms(s)) this.forms.add(f);
    this.cache = undefined;
  }

  /**
   * Register basic-auth credentials: the password (and the username when `secretUser`),
   * and `user:password` in base64 as an Authorization header carries it.
   */
  addBasicAuth(username: string, password: string, secretUser = false): void {
    if (secretUser) this.add(username);
    this.add(password);
    if (!password) return;
    const bytes = utf8Bytes(`${username}:${password}`);
    for (const alphabet of [B64, B64URL]) {
      const b = base64(bytes, alphabet);
      this.forms.add(b);
      this.forms.add(b.replace(/=+$/, ''));
    }
    this.cache = undefined;
  }

  get size(): number {
    return this.secrets.size;
  }

  protected compiled(): Compiled {
    return (this.cache ??= compile(this.forms));
  }
}

/**
 * The secrets of every run that holds some right now, under a key (the run id): what a
 * process-wide sink (the bridge's store, its log) masks with.
 */
export class SecretRegistry extends MaskingBase {
  private readonly held = new Map<string, SecretMasker>();
  private cache: Compiled | undefined;
  private seen = -1;

  hold(key: string, masker: SecretMasker): void {
    this.held.set(key, masker);
    this.cache = undefined;
  }

  release(key: string): void {
    if (this.held.delete(key)) this.cache = undefined;
  }

  has(key: string): boolean {
    return this.held.has(key);
  }

  protected compiled(): Compiled {
    // A held masker may get secrets after it was handed over: recompile when any grew.
    const total = [...this.held.values()].reduce((n, m) => n + m.forms.size, 0);
    if (!this.cache || total !== this.seen) {
      this.seen = total;
      this.cache = compile([...this.held.values()].flatMap(m => [...m.forms]));
    }
    return this.cache;
  }
}
