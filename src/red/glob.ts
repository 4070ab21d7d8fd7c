// Output globs: `$(inputs.…)` references (as Curious Containers' input_references.py resolves
// them) and glob matching inside the outputs directory (as Python's glob module matches,
// which Curious Containers' agent uses from the working directory /cc/outputs).
//
// References: `$(inputs.KEY)` gives Python's str() of a primitive input; File/Directory inputs
// have the attributes `path`, `basename`, `dirname`, plus `nameroot`/`nameext` for Files
// (os.path.splitext of the basename: split at the last dot, leading dots don't count), and the
// fields written in the RED (`size`, `checksum`, `connector.command`, …). Array elements are
// addressed as `inputs.KEY[0]` (negative indices count from the end, as in Python), attributes
// also as `inputs.KEY["basename"]`. Referencing a whole File/Directory or list is an error.

import { pyFloatRepr, pySplitext, pyStr } from './pyformat';
import { posixBasename, posixDirname } from './paths';
import { RedError, type FileOrDirectory, type JobInputs } from './types';
import type { ContainerPathOf } from './command';

export interface ResolveGlobOptions {
  /** Dotted paths of numbers written as floats (`inputs.alpha`), so they render as Python floats. */
  floatPaths?: ReadonlySet<string>;
  /** The dotted path the given inputs live at: `inputs` (default) or `batches.<i>.inputs`. */
  floatPathPrefix?: string;
}

export class GlobReferenceError extends Error {
  constructor(readonly expression: string, readonly glob: string, detail: string) {
    super(`cannot resolve ${expression} in glob "${glob}": ${detail}`);
    this.name = 'GlobReferenceError';
  }
}

/** Splits text into plain parts and `$(...)` references (a reference ends at the first `)`). */
function splitReferences(glob: string): Array<{ text: string } | { ref: string }> | string {
  const out: Array<{ text: string } | { ref: string }> = [];
  let i = 0;
  let text = '';
  while (i < glob.length) {
    const start = glob.indexOf('$(', i);
    if (start < 0) break;
    const next = glob.indexOf('$(', start + 2);
    const end = glob.indexOf(')', start + 2);
    if (end < 0) return `"$(" at column ${start + 1} is not closed by ")"`;
    if (next >= 0 && next < end) return `"$(" at column ${next + 1} starts inside another "$(...)"`;
    text += glob.slice(i, start);
    if (text) out.push({ text });
    text = '';
    out.push({ ref: glob.slice(start, end + 1) });
    i = end + 1;
  }
  text += glob.slice(i);
  if (text) out.push({ text });
  return out;
}

/** `inputs.a[0]["basename"]` -> ['inputs', 'a', 0, 'basename']; a string is an error message. */
function parseReference(body: string): Array<string | number> | string {
  const parts: Array<string | number> = [];
  let i = 0;
  const n = body.length;
  let expectName = true;
  while (i < n) {
    const c = body[i];
    if (c === '.') {
      i++;
      expectName = true;
      continue;
    }
    if (c === '[') {
      const q = body[i + 1];
      if (q === '"' || q === "'") {
        const close = body.indexOf(q + ']', i + 2);
        if (close < 0) return `[${q} is not closed by ${q}]`;
        parts.push(body.slice(i + 2, close));
        i = close + 2;
      } else {
        const close = body.indexOf(']', i + 1);
        if (close < 0) return '"[" is not closed by "]"';
        const inner = body.slice(i + 1, close).trim();
        parts.push(/^[+-]?\d+$/.test(inner) ? parseInt(inner, 10) : inner);
        i = close + 1;
      }
      expectName = false;
      continue;
    }
    if (!expectName) return `unexpected "${c}" after "]"`;
    let j = i;
    while (j < n && body[j] !== '.' && body[j] !== '[') j++;
    parts.push(body.slice(i, j));
    i = j;
    expectName = false;
  }
  return parts;
}

function describe(parts: Array<string | number>): string {
  return parts.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');
}

/** The attributes a reference can read from a File/Directory input. */
function fileAttributes(key: string, value: FileOrDirectory, containerPathOf: ContainerPathOf, index?: number): Record<string, unknown> {
  const path = containerPathOf(key, value, index);
  const basename = typeof value.basename === 'string' ? value.basename : posixBasename(path);
  const dirname = typeof value.dirname === 'string' ? value.dirname : posixDirname(path);
  const attrs: Record<string, unknown> = { ...value, path, basename, dirname };
  if (value.class === 'File') {
    const [nameroot, nameext] = pySplitext(basename);
    attrs.nameroot = nameroot;
    attrs.nameext = nameext;
  }
  return attrs;
}

function isFileOrDirectory(v: unknown): v is FileOrDirectory {
  return !!v && typeof v === 'object' && !Array.isArray(v) && ((v as FileOrDirectory).class === 'File' || (v as FileOrDirectory).class === 'Directory');
}

/**
 * Replaces every `$(inputs.…)` reference in an output glob. Throws GlobReferenceError naming
 * the expression when one cannot be resolved. Apply `assertSafeGlob` to the result.
 */
export function resolveGlobPattern(glob: string, inputs: JobInputs, containerPathOf: ContainerPathOf, opts: ResolveGlobOptions = {}): string {
  const pieces = splitReferences(glob);
  if (typeof pieces === 'string') throw new GlobReferenceError('a "$(...)" reference', glob, pieces);
  const prefix = opts.floatPathPrefix ?? 'inputs';
  return pieces
    .map(piece => {
      if ('text' in piece) return piece.text;
      const expr = piece.ref;
      const fail = (detail: string): never => {
        throw new GlobReferenceError(expr, glob, detail);
      };
      const parts = parseReference(expr.slice(2, -1).trim());
      if (typeof parts === 'string') fail(parts);
      const ref = parts as Array<string | number>;
      if (ref.length < 2 || ref[0] !== 'inputs') fail('a reference reads an input: write $(inputs.NAME) or $(inputs.NAME.basename)');
      const key = ref[1];
      if (typeof key !== 'string') fail('inputs is a mapping: write $(inputs.NAME)');
      const inputKey = key as string;
      if (!Object.prototype.hasOwnProperty.call(inputs, inputKey) || inputs[inputKey] === null || inputs[inputKey] === undefined) {
        fail(`there is no input "${inputKey}" in this job (inputs: ${Object.keys(inputs).join(', ') || 'none'})`);
      }
      let current: unknown = inputs[inputKey];
      let index: number | undefined;
      let floatPath: string | undefined = `${prefix}.${inputKey}`;
      if (isFileOrDirectory(current)) current = fileAttributes(inputKey, current, containerPathOf);
      for (let i = 2; i < ref.length; i++) {
        const step = ref[i];
        const here = describe(ref.slice(0, i));
        if (Array.isArray(current)) {
          if (typeof step !== 'number') fail(`"${here}" is a list: index it with a number, e.g. ${here}[0]`);
          const len = current.length;
          const idx = (step as number) < 0 ? len + (step as number) : (step as number);
          if (idx < 0 || idx >= len) fail(`index ${step} is out of range: "${here}" has ${len} item${len === 1 ? '' : 's'}`);
          const item = current[idx];
          if (i === 2) {
            index = idx;
            floatPath = `${prefix}.${inputKey}.${idx}`;
            current = isFileOrDirectory(item) ? fileAttributes(inputKey, item, containerPathOf, index) : item;
          } else {
            floatPath = undefined;
            current = item;
          }
        } else if (current && typeof current === 'object') {
          if (typeof step !== 'string') fail(`"${here}" is not a list, so [${step}] cannot index it`);
          const obj = current as Record<string, unknown>;
          if (!Object.prototype.hasOwnProperty.call(obj, step as string) || obj[step as string] === null || obj[step as string] === undefined) {
            fail(`"${here}" has no "${step}" (it has: ${Object.keys(obj).join(', ')})`);
          }
          floatPath = undefined;
          current = obj[step as string];
        } else {
          fail(`"${here}" is a ${typeof current}, it has no "${step}"`);
        }
      }
      if (Array.isArray(current)) fail(`"${describe(ref)}" is a list: pick an item, e.g. ${describe(ref)}[0]`);
      if (current && typeof current === 'object') {
        fail(`"${describe(ref)}" is a ${isFileOrDirectory(current) ? current.class : 'mapping'}: pick an attribute, e.g. ${describe(ref)}.basename`);
      }
      if (typeof current === 'number' && floatPath && opts.floatPaths?.has(floatPath)) return pyFloatRepr(current);
      return pyStr(current);
    })
    .join('');
}

/** Rejects a glob that could reach outside the outputs directory: absolute paths and `..` segments. */
export function assertSafeGlob(pattern: string, field: string): void {
  const problem =
    typeof pattern !== 'string' || pattern === ''
      ? 'the glob is empty'
      : pattern.startsWith('/')
        ? `the glob "${pattern}" is absolute: outputs are searched for inside the working directory only`
        : pattern.split('/').includes('..')
          ? `the glob "${pattern}" has a ".." segment: outputs are searched for inside the working directory only`
          : undefined;
  if (problem) {
    throw new RedError([{ path: field, message: problem, fix: 'write the glob relative to the working directory, e.g. "out.txt" or "results/*.csv"', severity: 'error' }]);
  }
}

function escapeRegExp(s: string): string {
  return s.replace(/[\\^$.*+?()[\]{}|/]/g, '\\$&');
}

/** Translates one path segment the way Python's fnmatch does (`*`, `?`, `[...]`, `[!...]`). */
function segmentToRegExp(seg: string): string {
  let out = '';
  let i = 0;
  const n = seg.length;
  while (i < n) {
    const c = seg[i++];
    if (c === '*') {
      out += '[^/]*';
      while (seg[i] === '*') i++;
    } else if (c === '?') {
      out += '[^/]';
    } else if (c === '[') {
      let j = i;
      if (j < n && seg[j] === '!') j++;
      if (j < n && seg[j] === ']') j++;
      while (j < n && seg[j] !== ']') j++;
      if (j >= n) {
        out += '\\[';
        continue;
      }
      let body = seg.slice(i, j);
      i = j + 1;
      const negate = body.startsWith('!');
      if (negate) body = body.slice(1);
      // Members: single characters and a-z ranges; ranges whose end is below their start match nothing.
      const members: string[] = [];
      let k = 0;
      const chars = Array.from(body);
      while (k < chars.length) {
        if (k + 2 < chars.length && chars[k + 1] === '-') {
          if (chars[k].codePointAt(0)! <= chars[k + 2].codePointAt(0)!) members.push(`${escapeClassChar(chars[k])}-${escapeClassChar(chars[k + 2])}`);
          k += 3;
        } else {
          members.push(escapeClassChar(chars[k]));
          k += 1;
        }
      }
      if (members.length === 0) out += negate ? '[^/]' : '(?!)';
      else out += negate ? `[^/${members.join('')}]` : `[${members.join('')}]`;
    } else {
      out += escapeRegExp(c);
    }
  }
  return out;
}

function escapeClassChar(c: string): string {
  return /[\\\]^[-]/.test(c) ? `\\${c}` : c;
}

function hasMagic(seg: string): boolean {
  return /[*?[]/.test(seg);
}

/**
 * A RegExp matching relative posix paths (as found below the outputs directory) against a glob:
 * `*` and `?` stay within one path segment, `[abc]`/`[a-z]`/`[!abc]` are character classes,
 * a `**` segment matches zero or more directories. As in Python's glob, wildcards do not match
 * names starting with "." unless the pattern segment itself starts with ".".
 * (Curious Containers calls glob.glob without recursive=True, so there `**` acts like `*`.)
 */
export function globToRegExp(pattern: string): RegExp {
  const segs = pattern
    .split('/')
    .filter(s => s !== '' && s !== '.')
    .filter((s, i, all) => !(s === '**' && all[i - 1] === '**'));
  const name = '(?!\\.)[^/]+';
  let re = '';
  segs.forEach((seg, i) => {
    const last = i === segs.length - 1;
    if (seg === '**') {
      // Zero or more directories; a trailing `**` also matches the directory it is in (`a/**` matches `a`).
      if (!last) re += `(?:${name}/)*`;
      else if (i === 0) re += `(?:${name}(?:/${name})*)?`;
      else re = re.replace(/\/$/, '') + `(?:/${name})*`;
      return;
    }
    if (hasMagic(seg) && !seg.startsWith('.')) re += '(?!\\.)';
    re += segmentToRegExp(seg);
    if (!last) re += '/';
  });
  return new RegExp(`^${re}$`, 'u');
}
