// Python's text renderings of values, as Curious Containers produces them (its agent
// builds command lines with `str(value)`, its glob references with `str(resolved)`).
// Pure TypeScript: no DOM, no Node APIs.

/**
 * Python's `repr(float)` (== `str(float)` since Python 3.2): the shortest digits that
 * round-trip, in fixed notation when the decimal exponent is in [-4, 16), otherwise
 * in exponent notation with a sign and at least two exponent digits.
 * `1.0` -> "1.0", `1e16` -> "1e+16", `1e-05` -> "1e-05", `-0.0` -> "-0.0".
 */
export function pyFloatRepr(x: number): string {
  if (Number.isNaN(x)) return 'nan';
  if (x === Infinity) return 'inf';
  if (x === -Infinity) return '-inf';
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0';
  const sign = x < 0 ? '-' : '';
  // toExponential() with no argument gives the shortest digits that identify the
  // double uniquely, the same digits as Python's repr (both pick the closest shortest).
  const [mantissa, expText] = Math.abs(x).toExponential().split('e');
  const digits = mantissa.replace('.', '');
  const exp = parseInt(expText, 10);
  if (exp >= -4 && exp < 16) {
    if (exp < 0) return `${sign}0.${'0'.repeat(-exp - 1)}${digits}`;
    const intPart = digits.length > exp + 1 ? digits.slice(0, exp + 1) : digits + '0'.repeat(exp + 1 - digits.length);
    const fracPart = digits.length > exp + 1 ? digits.slice(exp + 1) : '0';
    return `${sign}${intPart}.${fracPart}`;
  }
  const mant = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
  const absExp = Math.abs(exp);
  return `${sign}${mant}e${exp < 0 ? '-' : '+'}${absExp < 10 ? '0' : ''}${absExp}`;
}

/** Python's `str(int)` for an integral number: all digits, never exponent notation, no `-0`. */
export function pyIntStr(n: number): string {
  if (!Number.isInteger(n)) throw new Error(`pyIntStr: ${n} is not an integer`);
  if (n === 0) return '0';
  return Math.abs(n) <= Number.MAX_SAFE_INTEGER ? String(n) : BigInt(n).toString();
}

/**
 * Python's `str(value)` for a value read from a RED: booleans are `True`/`False`, strings
 * are themselves, numbers are ints unless `isFloat` (the source literal was a float such
 * as `1.0`) or the number is not integral. `null` is `None`.
 */
export function pyStr(value: unknown, isFloat = false): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'boolean') return value ? 'True' : 'False';
  if (typeof value === 'number') return isFloat || !Number.isInteger(value) ? pyFloatRepr(value) : pyIntStr(value);
  if (value === null || value === undefined) return 'None';
  throw new Error(`cannot render ${Array.isArray(value) ? 'a list' : typeof value} as a command line word`);
}

/** Python truthiness of a JSON-like value (`False`, `0`, `''`, `[]`, `{}`, `None` are false). */
export function pyTruthy(value: unknown): boolean {
  if (value === null || value === undefined || value === false || value === 0 || value === '') return false;
  if (Number.isNaN(value)) return true;
  if (Array.isArray(value)) return value.length > 0;
  if (typeof value === 'object') return Object.keys(value as object).length > 0;
  return true;
}

// Characters for which Python's str.isspace() is true (what str.strip() removes).
const PY_WHITESPACE = new Set(
  [0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x1c, 0x1d, 0x1e, 0x1f, 0x20, 0x85, 0xa0, 0x1680,
    0x2000, 0x2001, 0x2002, 0x2003, 0x2004, 0x2005, 0x2006, 0x2007, 0x2008, 0x2009, 0x200a,
    0x2028, 0x2029, 0x202f, 0x205f, 0x3000].map(c => String.fromCharCode(c))
);

/** Python's `str.strip()` with no argument. */
export function pyStrip(s: string): string {
  let start = 0;
  let end = s.length;
  while (start < end && PY_WHITESPACE.has(s[start])) start++;
  while (end > start && PY_WHITESPACE.has(s[end - 1])) end--;
  return s.slice(start, end);
}

/**
 * Python's `posixpath.splitext`: splits at the last dot of the last path component,
 * ignoring leading dots (`.bashrc` has no extension). Returns [root, ext].
 */
export function pySplitext(p: string): [string, string] {
  const sep = p.lastIndexOf('/');
  const dot = p.lastIndexOf('.');
  if (dot > sep) {
    for (let i = sep + 1; i < dot; i++) {
      if (p[i] !== '.') return [p.slice(0, dot), p.slice(dot)];
    }
  }
  return [p, ''];
}

/** Python's `shlex.quote`: words made only of `[A-Za-z0-9_@%+=:,./-]` stay bare, others are single-quoted. */
export function shlexQuote(s: string): string {
  if (s === '') return "''";
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(s)) return s;
  return "'" + s.replace(/'/g, `'"'"'`) + "'";
}

/** Compares strings by Unicode code point, as Python sorts `str` (JS `<` compares UTF-16 units). */
export function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const ca = a.charCodeAt(i);
    const cb = b.charCodeAt(i);
    if (ca === cb) continue;
    const sa = ca >= 0xd800 && ca <= 0xdfff;
    const sb = cb >= 0xd800 && cb <= 0xdfff;
    // A surrogate (astral code point) sorts after every BMP unit, including U+E000..U+FFFF.
    if (sa !== sb) return sa ? 1 : -1;
    return ca - cb;
  }
  return a.length - b.length;
}
