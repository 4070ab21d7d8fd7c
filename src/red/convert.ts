// `redlab convert …`: the outputs of Curious Containers' `faice convert format|cwl|batches`.
//
// faice dumps YAML with ruamel.yaml `YAML(typ='safe')`, `default_flow_style = False`
// (cc_core/commons/files.py). With ruamel.yaml's C extension (the usual install) that is:
//   - mapping keys sorted (Python sorts str by code point);
//   - libyaml's emitter: block style, indent 2, width 80, unicode written as is,
//     sequences inside mappings NOT indented (`key:\n- item`), empty collections as `{}`/`[]`;
//   - YAML 1.2 implicit typing (ruamel's resolver) decides which strings must be quoted:
//     `'9'`, `'true'`, `'null'`, `''`, `'1e3'`, `'0o17'`, `'2001-12-14'` are quoted, but
//     `yes`, `no`, `on`, `off`, `12:30` stay plain (they are strings in YAML 1.2);
//   - libyaml's scalar styles: plain when possible, else single-quoted, else double-quoted
//     (non-printable characters, tabs, spaces around line breaks); long plain and quoted
//     scalars are folded at spaces past column 80; multi-line strings are single-quoted with
//     doubled line breaks; keys longer than 128 bytes or multi-line use `? key\n: value`.
// This module emits that byte for byte (verified against ruamel.yaml 0.17.21 + libyaml),
// with its own emitter, since the `yaml` package's stringifier makes other choices.
// JSON is Python's json.dumps(indent=4, ensure_ascii=True), plus the newline `print` adds;
// faice itself does not sort JSON keys, toSortedJson does unless told not to.

import { curiousContainersIssues, isRedLabExtension } from './execution';
import { pyFloatRepr, pyIntStr, compareCodePoints } from './pyformat';
import type { Batch, BatchRed, Red, RedIssue, SingleRed } from './types';

export interface ConvertOptions {
  /** Dotted paths (from the document root) of numbers written as floats in the source (`1.0`), dumped as floats. */
  floatPaths?: ReadonlySet<string>;
}

// ---------------------------------------------------------------------------------------------
// Implicit typing: would this plain scalar read back as something other than a string?
// (ruamel.yaml's YAML 1.2 implicit resolvers, selected by the first character as ruamel does.)

const RESOLVERS: Array<{ first: string; re: RegExp }> = [
  { first: 'tTfF', re: /^(?:true|True|TRUE|false|False|FALSE)$/ },
  {
    first: '-+0123456789.',
    re: /^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?|[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)|[-+]?\.[0-9_]+(?:[eE][-+][0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$/
  },
  { first: '-+0123456789', re: /^(?:[-+]?0b[0-1_]+|[-+]?0o?[0-7_]+|[-+]?[0-9_]+|[-+]?0x[0-9a-fA-F_]+)$/ },
  { first: '<', re: /^(?:<<)$/ },
  { first: '~nN', re: /^(?:~|null|Null|NULL)$/ },
  {
    first: '0123456789',
    re: /^(?:[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]|[0-9][0-9][0-9][0-9]-[0-9][0-9]?-[0-9][0-9]?(?:[Tt]|[ \t]+)[0-9][0-9]?:[0-9][0-9]:[0-9][0-9](?:\.[0-9]*)?(?:[ \t]*(?:Z|[-+][0-9][0-9]?(?::[0-9][0-9])?))?)$/
  },
  { first: '=', re: /^(?:=)$/ },
  { first: '!&*', re: /^(?:!|&|\*)$/ }
];

/** True when the string, written plain, would be read as a non-string (bool, int, float, null, timestamp, …). */
export function plainReadsAsNonString(s: string): boolean {
  // Python's `$` also matches before a final newline.
  const v = s.endsWith('\n') ? s.slice(0, -1) : s;
  if (s === '') return true; // null
  return RESOLVERS.some(r => r.first.includes(s[0]) && r.re.test(v));
}

// ---------------------------------------------------------------------------------------------
// Representation: JSON-like value -> YAML nodes (ruamel SafeRepresenter).

type YNode =
  | { kind: 'scalar'; value: string; isString: boolean }
  | { kind: 'seq'; items: YNode[] }
  | { kind: 'map'; entries: Array<[YNode, YNode]> };

function ruamelFloat(x: number): string {
  if (Number.isNaN(x)) return '.nan';
  if (x === Infinity) return '.inf';
  if (x === -Infinity) return '-.inf';
  return pyFloatRepr(x).toLowerCase();
}

function represent(value: unknown, path: string, floats: ReadonlySet<string> | undefined): YNode {
  if (value === null || value === undefined) return { kind: 'scalar', value: 'null', isString: false };
  if (typeof value === 'string') return { kind: 'scalar', value, isString: true };
  if (typeof value === 'boolean') return { kind: 'scalar', value: value ? 'true' : 'false', isString: false };
  if (typeof value === 'number') {
    const isFloat = !Number.isInteger(value) || (floats?.has(path) ?? false);
    return { kind: 'scalar', value: isFloat ? ruamelFloat(value) : pyIntStr(value), isString: false };
  }
  if (Array.isArray(value)) return { kind: 'seq', items: value.map((v, i) => represent(v, sub(path, String(i)), floats)) };
  if (typeof value === 'object') {
    const keys = Object.keys(value as object)
      .filter(k => (value as Record<string, unknown>)[k] !== undefined)
      .sort(compareCodePoints);
    return {
      kind: 'map',
      entries: keys.map(k => [
        { kind: 'scalar', value: k, isString: true },
        represent((value as Record<string, unknown>)[k], sub(path, k), floats)
      ])
    };
  }
  throw new Error(`cannot write a ${typeof value} as YAML`);
}

function sub(path: string, key: string): string {
  return path === '' ? key : `${path}.${key}`;
}

// ---------------------------------------------------------------------------------------------
// libyaml's emitter, for block collections, empty flow collections and scalars.

function cp(ch: string): number {
  return ch.codePointAt(0)!;
}

function isBreak(ch: string | undefined): boolean {
  return ch === '\r' || ch === '\n' || ch === '\x85' || ch === '\u2028' || ch === '\u2029';
}

function isBlankz(ch: string | undefined): boolean {
  return ch === undefined || ch === ' ' || ch === '\t' || ch === '\0' || isBreak(ch);
}

function isPrintable(ch: string): boolean {
  const c = cp(ch);
  return c === 0x0a || (c >= 0x20 && c <= 0x7e) || (c >= 0xa0 && c <= 0xd7ff) || (c >= 0xe000 && c <= 0xfffd && c !== 0xfeff);
}

function utf8Length(chars: string[]): number {
  let n = 0;
  for (const ch of chars) {
    const c = cp(ch);
    n += c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4;
  }
  return n;
}

interface Analysis {
  chars: string[];
  length: number;
  multiline: boolean;
  flowPlain: boolean;
  blockPlain: boolean;
  singleQuoted: boolean;
}

function analyze(value: string): Analysis {
  const chars = Array.from(value);
  const n = chars.length;
  if (n === 0) return { chars, length: 0, multiline: false, flowPlain: false, blockPlain: true, singleQuoted: true };
  let blockIndicators = false;
  let flowIndicators = false;
  let lineBreaks = false;
  let special = false;
  let leadingSpace = false;
  let leadingBreak = false;
  let trailingSpace = false;
  let trailingBreak = false;
  let breakSpace = false;
  let spaceBreak = false;
  if (value.startsWith('---') || value.startsWith('...')) {
    blockIndicators = true;
    flowIndicators = true;
  }
  let precededByWhitespace = true;
  let followedByWhitespace = isBlankz(chars[1]);
  let previousSpace = false;
  let previousBreak = false;
  for (let i = 0; i < n; i++) {
    const ch = chars[i];
    if (i === 0) {
      if ('#,[]{}&*!|>\'"%@`'.includes(ch)) {
        flowIndicators = true;
        blockIndicators = true;
      }
      if (ch === '?' || ch === ':') {
        flowIndicators = true;
        if (followedByWhitespace) blockIndicators = true;
      }
      if (ch === '-' && followedByWhitespace) {
        flowIndicators = true;
        blockIndicators = true;
      }
    } else {
      if (',?[]{}'.includes(ch)) flowIndicators = true;
      if (ch === ':') {
        flowIndicators = true;
        if (followedByWhitespace) blockIndicators = true;
      }
      if (ch === '#' && precededByWhitespace) {
        flowIndicators = true;
        blockIndicators = true;
      }
    }
    if (!isPrintable(ch)) special = true;
    if (isBreak(ch)) lineBreaks = true;
    if (ch === ' ') {
      if (i === 0) leadingSpace = true;
      if (i === n - 1) trailingSpace = true;
      if (previousBreak) breakSpace = true;
      previousSpace = true;
      previousBreak = false;
    } else if (isBreak(ch)) {
      if (i === 0) leadingBreak = true;
      if (i === n - 1) trailingBreak = true;
      if (previousSpace) spaceBreak = true;
      previousSpace = false;
      previousBreak = true;
    } else {
      previousSpace = false;
      previousBreak = false;
    }
    precededByWhitespace = isBlankz(ch);
    followedByWhitespace = isBlankz(chars[i + 2]);
  }
  let flowPlain = true;
  let blockPlain = true;
  let singleQuoted = true;
  if (leadingSpace || leadingBreak || trailingSpace || trailingBreak) flowPlain = blockPlain = false;
  if (breakSpace) flowPlain = blockPlain = singleQuoted = false;
  if (spaceBreak || special) flowPlain = blockPlain = singleQuoted = false;
  if (lineBreaks) flowPlain = blockPlain = false;
  if (flowIndicators) flowPlain = false;
  if (blockIndicators) blockPlain = false;
  return { chars, length: utf8Length(chars), multiline: lineBreaks, flowPlain, blockPlain, singleQuoted };
}

const ESCAPES: Record<number, string> = {
  0x00: '0', 0x07: 'a', 0x08: 'b', 0x09: 't', 0x0a: 'n', 0x0b: 'v', 0x0c: 'f', 0x0d: 'r', 0x1b: 'e',
  0x22: '"', 0x5c: '\\', 0x85: 'N', 0xa0: '_', 0x2028: 'L', 0x2029: 'P'
};

interface Context {
  root?: boolean;
  mapping?: boolean;
  simpleKey?: boolean;
}

class Emitter {
  private out = '';
  private column = 0;
  private whitespace = true;
  private indention = true;
  private indent = -1;
  private readonly indents: number[] = [];
  private flowLevel = 0;
  private openEnded = false;
  private readonly bestIndent = 2;
  private readonly bestWidth = 80;

  document(root: YNode): string {
    this.emitNode(root, { root: true });
    this.writeIndent();
    if (this.openEnded) {
      this.put('...');
      this.writeIndent();
    }
    return this.out;
  }

  private put(s: string): void {
    this.out += s;
    this.column += s.length;
  }

  private writeChar(ch: string): void {
    this.out += ch;
    this.column += 1;
  }

  private putBreak(): void {
    this.out += '\n';
    this.column = 0;
  }

  private writeIndent(): void {
    const indent = this.indent >= 0 ? this.indent : 0;
    if (!this.indention || this.column > indent || (this.column === indent && !this.whitespace)) this.putBreak();
    while (this.column < indent) this.put(' ');
    this.whitespace = true;
    this.indention = true;
  }

  private writeIndicator(indicator: string, needWhitespace: boolean, isWhitespace: boolean, isIndention: boolean): void {
    if (needWhitespace && !this.whitespace) this.put(' ');
    this.put(indicator);
    this.whitespace = isWhitespace;
    this.indention = this.indention && isIndention;
    this.openEnded = false;
  }

  private increaseIndent(flow: boolean, indentless: boolean): void {
    this.indents.push(this.indent);
    if (this.indent < 0) this.indent = flow ? this.bestIndent : 0;
    else if (!indentless) this.indent += this.bestIndent;
  }

  private popIndent(): void {
    this.indent = this.indents.pop()!;
  }

  private emitNode(node: YNode, ctx: Context): void {
    if (node.kind === 'scalar') return this.emitScalar(node, ctx);
    const empty = node.kind === 'seq' ? node.items.length === 0 : node.entries.length === 0;
    const [open, close] = node.kind === 'seq' ? ['[', ']'] : ['{', '}'];
    if (empty || this.flowLevel) {
      if (!empty) throw new Error('flow collections with content are not emitted');
      this.writeIndicator(open, true, true, false);
      this.increaseIndent(true, false);
      this.flowLevel++;
      this.flowLevel--;
      this.popIndent();
      this.writeIndicator(close, false, false, false);
      return;
    }
    if (node.kind === 'seq') {
      this.increaseIndent(false, !!ctx.mapping && !this.indention);
      for (const item of node.items) {
        this.writeIndent();
        this.writeIndicator('-', true, false, true);
        this.emitNode(item, {});
      }
      this.popIndent();
      return;
    }
    this.increaseIndent(false, false);
    for (const [key, value] of node.entries) {
      this.writeIndent();
      if (this.isSimpleKey(key)) {
        this.emitNode(key, { mapping: true, simpleKey: true });
        this.writeIndicator(':', false, false, false);
      } else {
        this.writeIndicator('?', true, false, true);
        this.emitNode(key, { mapping: true });
        this.writeIndent();
        this.writeIndicator(':', true, false, true);
      }
      this.emitNode(value, { mapping: true });
    }
    this.popIndent();
  }

  private isSimpleKey(key: YNode): boolean {
    if (key.kind !== 'scalar') return (key.kind === 'seq' ? key.items.length : key.entries.length) === 0;
    const a = analyze(key.value);
    return !a.multiline && a.length <= 128;
  }

  private emitScalar(node: { value: string; isString: boolean }, ctx: Context): void {
    const a = analyze(node.value);
    const plainImplicit = !node.isString || !plainReadsAsNonString(node.value);
    let style: 'plain' | 'single' | 'double' = 'plain';
    if (ctx.simpleKey && a.multiline) style = 'double';
    if (style === 'plain') {
      if ((this.flowLevel && !a.flowPlain) || (!this.flowLevel && !a.blockPlain)) style = 'single';
      if (!a.length && (this.flowLevel || ctx.simpleKey)) style = 'single';
      if (!plainImplicit) style = 'single';
    }
    if (style === 'single' && !a.singleQuoted) style = 'double';
    this.increaseIndent(true, false);
    const allowBreaks = !ctx.simpleKey;
    if (style === 'plain') this.writePlain(a.chars, allowBreaks, !!ctx.root);
    else if (style === 'single') this.writeSingleQuoted(a.chars, allowBreaks);
    else this.writeDoubleQuoted(a.chars, allowBreaks);
    this.popIndent();
  }

  private writePlain(chars: string[], allowBreaks: boolean, root: boolean): void {
    if (!this.whitespace && (chars.length || this.flowLevel)) this.put(' ');
    let spaces = false;
    let breaks = false;
    for (let i = 0; i < chars.length; i++) {
      const ch = chars[i];
      if (ch === ' ') {
        if (allowBreaks && !spaces && this.column > this.bestWidth && chars[i + 1] !== ' ') this.writeIndent();
        else this.writeChar(ch);
        spaces = true;
      } else if (isBreak(ch)) {
        if (!breaks && ch === '\n') this.putBreak();
        this.writeBreak(ch);
        this.indention = true;
        breaks = true;
      } else {
        if (breaks) this.writeIndent();
        this.writeChar(ch);
        this.indention = false;
        spaces = false;
        breaks = false;
      }
    }
    this.whitespace = false;
    this.indention = false;
    if (root) this.openEnded = true;
  }

  private writeBreak(ch: string): void {
    if (ch === '\n') this.putBreak();
    else {
      this.out += ch;
      this.column = 0;
    }
  }

  private writeSingleQuoted(chars: string[], allowBreaks: boolean): void {
    this.writeIndicator("'", true, false, false);
    let spaces = false;
    let breaks = false;
    const n = chars.length;
    for (let i = 0; i < n; i++) {
      const ch = chars[i];
      if (ch === ' ') {
        if (allowBreaks && !spaces && this.column > this.bestWidth && i !== 0 && i !== n - 1 && chars[i + 1] !== ' ') this.writeIndent();
        else this.writeChar(ch);
        spaces = true;
      } else if (isBreak(ch)) {
        if (!breaks && ch === '\n') this.putBreak();
        this.writeBreak(ch);
        this.indention = true;
        breaks = true;
      } else {
        if (breaks) this.writeIndent();
        if (ch === "'") this.put("'");
        this.writeChar(ch);
        this.indention = false;
        spaces = false;
        breaks = false;
      }
    }
    if (breaks) this.writeIndent();
    this.writeIndicator("'", false, false, false);
  }

  private writeDoubleQuoted(chars: string[], allowBreaks: boolean): void {
    this.writeIndicator('"', true, false, false);
    let spaces = false;
    const n = chars.length;
    for (let i = 0; i < n; i++) {
      const ch = chars[i];
      const c = cp(ch);
      if (!isPrintable(ch) || c === 0xfeff || isBreak(ch) || ch === '"' || ch === '\\') {
        this.put('\\');
        const short = ESCAPES[c];
        if (short !== undefined) this.put(short);
        else if (c <= 0xff) this.put('x' + c.toString(16).toUpperCase().padStart(2, '0'));
        else if (c <= 0xffff) this.put('u' + c.toString(16).toUpperCase().padStart(4, '0'));
        else this.put('U' + c.toString(16).toUpperCase().padStart(8, '0'));
        spaces = false;
      } else if (ch === ' ') {
        if (allowBreaks && !spaces && this.column > this.bestWidth && i !== 0 && i !== n - 1) {
          this.writeIndent();
          if (chars[i + 1] === ' ') this.put('\\');
        } else {
          this.writeChar(ch);
        }
        spaces = true;
      } else {
        this.writeChar(ch);
        spaces = false;
      }
    }
    this.writeIndicator('"', false, false, false);
  }
}

/**
 * YAML as `faice convert format` writes it (ruamel.yaml safe dump, block style): keys sorted,
 * byte-compatible with Curious Containers. Ends with a newline.
 */
export function toSortedYaml(doc: unknown, opts: ConvertOptions = {}): string {
  return new Emitter().document(represent(doc, '', opts.floatPaths));
}

// ---------------------------------------------------------------------------------------------
// JSON as Python's json.dumps(indent=4, ensure_ascii=True) writes it.

function jsonString(s: string): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const ch = s[i];
    if (ch === '"') out += '\\"';
    else if (ch === '\\') out += '\\\\';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (ch === '\b') out += '\\b';
    else if (ch === '\f') out += '\\f';
    else if (c < 0x20 || c > 0x7e) out += '\\u' + c.toString(16).padStart(4, '0');
    else out += ch;
  }
  return out + '"';
}

function jsonNumber(x: number, isFloat: boolean): string {
  if (Number.isNaN(x)) return 'NaN';
  if (x === Infinity) return 'Infinity';
  if (x === -Infinity) return '-Infinity';
  return isFloat || !Number.isInteger(x) ? pyFloatRepr(x) : pyIntStr(x);
}

function jsonValue(value: unknown, path: string, level: number, sortKeys: boolean, floats: ReadonlySet<string> | undefined): string {
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'string') return jsonString(value);
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'number') return jsonNumber(value, floats?.has(path) ?? false);
  const pad = '    '.repeat(level + 1);
  const end = '    '.repeat(level);
  if (Array.isArray(value)) {
    if (value.length === 0) return '[]';
    return '[\n' + value.map((v, i) => pad + jsonValue(v, sub(path, String(i)), level + 1, sortKeys, floats)).join(',\n') + '\n' + end + ']';
  }
  if (typeof value === 'object') {
    let keys = Object.keys(value as object).filter(k => (value as Record<string, unknown>)[k] !== undefined);
    if (sortKeys) keys = keys.sort(compareCodePoints);
    if (keys.length === 0) return '{}';
    return (
      '{\n' +
      keys.map(k => `${pad}${jsonString(k)}: ${jsonValue((value as Record<string, unknown>)[k], sub(path, k), level + 1, sortKeys, floats)}`).join(',\n') +
      '\n' +
      end +
      '}'
    );
  }
  throw new Error(`cannot write a ${typeof value} as JSON`);
}

/**
 * JSON as Python's `json.dumps(doc, indent=4, sort_keys=True)` followed by a newline (as faice
 * prints it). Pass `sortKeys: false` for faice's own output, which keeps the key order.
 */
export function toSortedJson(doc: unknown, opts: ConvertOptions & { sortKeys?: boolean } = {}): string {
  return jsonValue(doc, '', 0, opts.sortKeys ?? true, opts.floatPaths) + '\n';
}

// ---------------------------------------------------------------------------------------------

function deepCopy<T>(value: T): T {
  if (Array.isArray(value)) return value.map(deepCopy) as unknown as T;
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = deepCopy(v);
    return out as T;
  }
  return value;
}

function subPaths(floats: ReadonlySet<string> | undefined, prefix: string): Set<string> | undefined {
  if (!floats) return undefined;
  const out = new Set<string>();
  for (const p of floats) if (p.startsWith(prefix + '.')) out.add(p.slice(prefix.length + 1));
  return out;
}

/** The RED's `cli` section as a CWL YAML file, as `faice convert cwl` writes it. */
export function cliToCwl(red: Red, opts: ConvertOptions = {}): string {
  if (!red || typeof red !== 'object' || !red.cli || typeof red.cli !== 'object') throw new Error('the RED has no "cli" section');
  return toSortedYaml(red.cli, { floatPaths: subPaths(opts.floatPaths, 'cli') });
}

/**
 * The RED as a batch RED: a single RED's inputs/outputs (and cloud) become its one batch;
 * a batch RED is returned as a copy.
 */
export function toBatchRed(red: Red): BatchRed {
  if ('batches' in red && Array.isArray(red.batches)) return deepCopy(red) as BatchRed;
  const single = red as SingleRed;
  const batch: Batch = { inputs: single.inputs };
  if (single.outputs !== undefined) batch.outputs = single.outputs;
  if (single.cloud !== undefined) batch.cloud = single.cloud;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(single)) {
    if (k === 'inputs') out.batches = [batch];
    else if (k !== 'outputs' && k !== 'cloud') out[k] = v;
  }
  if (!('batches' in out)) out.batches = [batch];
  return deepCopy(out) as unknown as BatchRed;
}

/**
 * `faice convert batches`: one single RED per batch. Each is the RED without `batches`, with
 * the batch's `inputs`, and its `outputs` when the batch has non-empty outputs (a batch's
 * `cloud` and `doc` are not carried over, as in faice). A RED without batches is an error.
 */
export function splitBatches(red: Red): SingleRed[] {
  if (!('batches' in red) || !Array.isArray(red.batches)) throw new Error('the RED does not contain batches');
  return red.batches.map(b => {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(red)) if (k !== 'batches') out[k] = v;
    out.inputs = b.inputs;
    if (b.outputs && Object.keys(b.outputs).length > 0) out.outputs = b.outputs;
    return deepCopy(out) as unknown as SingleRed;
  });
}

/** A RED made readable for Curious Containers, and what was changed to make it so. */
export interface CuriousContainersRed<T> {
  red: T;
  /** One warning per change (empty: the RED was Curious Containers' already). */
  warnings: RedIssue[];
}

/**
 * The RED as Curious Containers (faice, CC-Agency) can run it: a RED Lab extension engine in
 * `execution` (slurm, kubernetes, docker, docker-ssh, process), which cc-core refuses
 * (`execution-engine "slurm" not supported`), is left out, so faice runs the RED on its own
 * machine as with ccfaice; the warning says so. Anything else is returned as a copy, unchanged.
 * For exports meant for Curious Containers (`faice exec` of `convert batches`' files); RED Lab's
 * own files keep their `execution` (a format conversion keeps content, as faice's does:
 * curiousContainersIssues says what cc will refuse there).
 */
export function forCuriousContainers<T extends Red>(red: T): CuriousContainersRed<T> {
  const copy = deepCopy(red);
  if (!isRedLabExtension(red)) return { red: copy, warnings: [] };
  const [issue] = curiousContainersIssues(red);
  delete (copy as { execution?: unknown }).execution;
  const settings = red.execution?.settings ?? {};
  const dropped = Object.keys(settings).length ? ` and its settings (${Object.keys(settings).join(', ')})` : '';
  return {
    red: copy,
    warnings: [
      {
        path: 'execution',
        message: `${issue.message}; left out${dropped}, so Curious Containers runs the RED on its own machine (as with ccfaice)`,
        fix: 'keep the RED as written to run it on that engine with RED Lab (redlab run)',
        severity: 'warning'
      }
    ]
  };
}
