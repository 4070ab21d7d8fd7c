// The `parameters` cell of a Python notebook (papermill's convention: the code cell whose
// metadata.tags holds "parameters"), read into typed NotebookParameter values without Python.
//
// What counts as a parameter: a simple assignment `name = <literal>` or an annotated one
// `name: float = 0.5`, one per logical line (brackets, triple-quoted strings and `\` may span
// physical lines). Literals: ints (`-3`, `1_000`, `0x1F`), floats (`1.0`, `1e-3`, `.5`, `-2.5`),
// strings ('..', "..", triple-quoted, r/u prefixes, adjacent literals joined, escapes decoded),
// True/False, None, lists and dicts (string keys) of these.
//
// Types (the same rules as parameter_type() in jupyterlab_redlab/runner/redlab_nbrun.py, which
// src/notebook/__tests__/params-differential.test.ts checks on one table of cells):
//   int, float, string, boolean          a value of that type (an annotation `float` makes an int float)
//   X[]                                  a non-empty list of one of them (ints and floats: float[]),
//                                        or any list annotated list[X] / List[X]
//   X?                                   annotated Optional[X] / X | None, or annotated X with a None value
//                                        (but an optional bool or list is json: absent is False or [], not None)
//   string with json: true               anything else: None without annotation, dicts, empty, mixed or
//                                        nested lists, or annotated dict / Any: the value travels as JSON
// An annotation that contradicts the value is warned about and the value's type is used.
// A trailing `# comment` becomes the parameter's `doc`. Anything else (imports, calls, tuples,
// sets, f-strings) is reported as a warning, never thrown. A Python syntax error in the cell
// (an unclosed bracket or string, an unexpected indent, ...) is `syntaxError`: as in Python,
// nothing of the cell counts then, and the runner refuses the notebook with the same line.
//
// Pure TypeScript: no DOM, no Node APIs.

import { pyFloatRepr, type JobPrimitive } from '../red';
import type { NotebookParameter } from './types';

export interface ParameterWarning {
  /** 1-based line in the cell's source where the statement starts. */
  line: number;
  /** The statement as written (its first line when it spans several, trimmed). */
  text: string;
  reason: string;
}

export interface ParametersResult {
  parameters: NotebookParameter[];
  warnings: ParameterWarning[];
  /** The cell is not valid Python (line 1-based in the cell): it has no parameters then. */
  syntaxError?: { line: number; reason: string };
}

/** One Python logical line: its text (comments removed), its first line, and its last comment. */
interface LogicalLine {
  line: number;
  /** Its first physical line is indented: it belongs to a block (if/for/def ...). */
  indented: boolean;
  code: string;
  comment?: string;
  /** The source of its first physical line, for warnings. */
  raw: string;
}

// Python keywords: not usable as names.
const KEYWORDS = new Set(
  ('False None True and as assert async await break class continue def del elif else except finally for from ' +
    'global if import in is lambda nonlocal not or pass raise return try while with yield').split(' ')
);

const IDENTIFIER = /^[\p{L}\p{Nl}_][\p{L}\p{Nl}\p{Mn}\p{Mc}\p{Nd}\p{Pc}]*$/u;
/** What RED input keys allow (`^[a-zA-Z0-9_-]+$`). */
const RED_KEY = /^[A-Za-z0-9_-]+$/;

/** The source of a cell as one string (nbformat allows a string or a list of lines). */
export function cellSource(cell: unknown): string {
  const src = cell && typeof cell === 'object' ? (cell as { source?: unknown }).source : undefined;
  if (Array.isArray(src)) return src.map(s => (typeof s === 'string' ? s : '')).join('');
  return typeof src === 'string' ? src : '';
}

/** The tags of a cell (metadata.tags), or none. */
export function cellTags(cell: unknown): string[] {
  const md = cell && typeof cell === 'object' ? (cell as { metadata?: unknown }).metadata : undefined;
  const tags = md && typeof md === 'object' ? (md as { tags?: unknown }).tags : undefined;
  return Array.isArray(tags) ? tags.filter((t): t is string => typeof t === 'string') : [];
}

/** Index of the first code cell tagged `parameters` (papermill uses the first), or -1. */
export function findParametersCell(cells: readonly unknown[]): number {
  return cells.findIndex(c => !!c && typeof c === 'object' && (c as { cell_type?: unknown }).cell_type === 'code' && cellTags(c).includes('parameters'));
}

// ---------------------------------------------------------------------------------------------
// Logical lines: join physical lines inside brackets, triple-quoted strings and after `\`,
// strip comments (keeping the last one as the doc).

interface SyntaxProblem {
  line: number;
  reason: string;
}

const CLOSER: Record<string, string> = { '(': ')', '[': ']', '{': '}' };

function splitLogicalLines(source: string): { lines: LogicalLine[]; syntaxError?: SyntaxProblem } {
  const src = source.replace(/\r\n?/g, '\n');
  const physical = src.split('\n');
  const lines: LogicalLine[] = [];
  let code = '';
  let comment: string | undefined;
  let startLine = 1;
  // The open brackets with their lines: Python names the innermost unclosed one.
  const open: Array<{ ch: string; line: number }> = [];
  let quote: string | null = null; // the open string's quote: ' " ''' """
  let quoteLine = 1;
  let lineNo = 1;
  let i = 0;
  const fail = (line: number, reason: string) => ({ lines: [], syntaxError: { line, reason } });
  const push = (text: string, withComment?: string) => {
    if (text.trim() !== '') lines.push({ line: startLine, indented: /^[ \t]/.test(physical[startLine - 1] ?? ''), code: text.trim(), comment: withComment, raw: (physical[startLine - 1] ?? '').trim() });
  };
  while (i < src.length) {
    const ch = src[i];
    if (quote !== null) {
      if (ch === '\\' && i + 1 < src.length) {
        code += ch + src[i + 1];
        if (src[i + 1] === '\n') lineNo++;
        i += 2;
        continue;
      }
      if (src.startsWith(quote, i)) {
        code += quote;
        i += quote.length;
        quote = null;
        continue;
      }
      if (ch === '\n') {
        if (quote.length === 1) return fail(quoteLine, 'a string is not closed on its line');
        lineNo++;
      }
      code += ch;
      i++;
      continue;
    }
    if (ch === '#') {
      const end = src.indexOf('\n', i);
      comment = src.slice(i + 1, end === -1 ? src.length : end).trim();
      i = end === -1 ? src.length : end;
      continue;
    }
    if (ch === '"' || ch === "'") {
      quote = src.startsWith(ch.repeat(3), i) ? ch.repeat(3) : ch;
      quoteLine = lineNo;
      code += quote;
      i += quote.length;
      continue;
    }
    if (ch === '\\' && src[i + 1] === '\n') {
      code += ' ';
      i += 2;
      lineNo++;
      continue;
    }
    if (ch === '(' || ch === '[' || ch === '{') open.push({ ch, line: lineNo });
    if (ch === ')' || ch === ']' || ch === '}') {
      const top = open.pop();
      if (!top) return fail(lineNo, `"${ch}" closes no bracket`);
      if (CLOSER[top.ch] !== ch) return fail(lineNo, `"${ch}" does not match the "${top.ch}" it closes (line ${top.line})`);
    }
    if (ch === '\n') {
      lineNo++;
      i++;
      if (open.length > 0) {
        code += ' ';
        // A comment inside brackets documents the value only when it is on the last line.
        comment = undefined;
        continue;
      }
      push(code, comment);
      code = '';
      comment = undefined;
      startLine = lineNo;
      continue;
    }
    if (ch === ';' && open.length === 0) {
      // `a = 1; b = 2`: two statements on one line; the comment belongs to the last.
      push(code);
      code = '';
      i++;
      continue;
    }
    code += ch;
    i++;
  }
  if (quote !== null) return fail(quoteLine, quote.length === 3 ? 'a triple-quoted string is not closed' : 'a string is not closed on its line');
  if (open.length) {
    const top = open[open.length - 1];
    return fail(top.line, `"${top.ch}" is never closed`);
  }
  push(code, comment);
  return { lines };
}

// ---------------------------------------------------------------------------------------------
// Literal expressions: a tiny tokenizer and parser for the literals listed above.

type Tok =
  | { kind: 'num'; text: string }
  | { kind: 'str'; value: string; bytes: boolean; fstring: boolean }
  | { kind: 'name'; text: string }
  | { kind: 'op'; text: string };

class LiteralError extends Error {}

const NUMBER = /^(?:0[xX](?:_?[0-9a-fA-F])+|0[oO](?:_?[0-7])+|0[bB](?:_?[01])+|\d(?:_?\d)*(?:\.(?:\d(?:_?\d)*)?)?(?:[eE][-+]?\d(?:_?\d)*)?[jJ]?|\.\d(?:_?\d)*(?:[eE][-+]?\d(?:_?\d)*)?[jJ]?)/;
const STRING_PREFIX = /^([rRuUbBfF]{0,2})(['"])/;

function tokenize(expr: string): Tok[] {
  const toks: Tok[] = [];
  let i = 0;
  while (i < expr.length) {
    const ch = expr[i];
    if (/\s/.test(ch)) {
      i++;
      continue;
    }
    const sp = STRING_PREFIX.exec(expr.slice(i));
    if (sp && /^[rRuUbBfF]*$/.test(sp[1]) && isStringPrefix(sp[1])) {
      const prefix = sp[1].toLowerCase();
      const q = sp[2];
      let j = i + sp[1].length;
      const quote = expr.startsWith(q.repeat(3), j) ? q.repeat(3) : q;
      j += quote.length;
      let body = '';
      let closed = false;
      while (j < expr.length) {
        if (expr[j] === '\\' && j + 1 < expr.length) {
          body += expr[j] + expr[j + 1];
          j += 2;
          continue;
        }
        if (expr.startsWith(quote, j)) {
          j += quote.length;
          closed = true;
          break;
        }
        body += expr[j];
        j++;
      }
      if (!closed) throw new LiteralError('a string is not closed');
      const raw = prefix.includes('r');
      toks.push({ kind: 'str', value: raw ? body : decodeEscapes(body), bytes: prefix.includes('b'), fstring: prefix.includes('f') });
      i = j;
      continue;
    }
    if (/[0-9.]/.test(ch)) {
      const m = NUMBER.exec(expr.slice(i));
      if (m && m[0] !== '.' && m[0] !== '') {
        // A number glued to a name (`1abc`) is not a literal.
        const after = expr[i + m[0].length];
        if (after !== undefined && /[\p{L}\p{Nd}_]/u.test(after)) throw new PySyntaxError(`"${expr.slice(i, i + m[0].length + 1)}" is not a number`);
        toks.push({ kind: 'num', text: m[0] });
        i += m[0].length;
        continue;
      }
    }
    const name = /^[\p{L}\p{Nl}_][\p{L}\p{Nl}\p{Mn}\p{Mc}\p{Nd}\p{Pc}.]*/u.exec(expr.slice(i));
    if (name) {
      toks.push({ kind: 'name', text: name[0] });
      i += name[0].length;
      continue;
    }
    const op = /^(?:\*\*|\/\/|[-+*/%@()[\]{},:<>=!~^&|.])/.exec(expr.slice(i));
    if (op) {
      toks.push({ kind: 'op', text: op[0] });
      i += op[0].length;
      continue;
    }
    throw new PySyntaxError(`"${ch}" is not valid Python here`);
  }
  return toks;
}

function isStringPrefix(p: string): boolean {
  const l = p.toLowerCase();
  return ['', 'r', 'u', 'b', 'f', 'br', 'rb', 'fr', 'rf'].includes(l);
}

/** Python's escape sequences in a non-raw string literal. */
function decodeEscapes(body: string): string {
  let out = '';
  for (let i = 0; i < body.length; i++) {
    const ch = body[i];
    if (ch !== '\\' || i + 1 >= body.length) {
      out += ch;
      continue;
    }
    const n = body[++i];
    switch (n) {
      case '\n':
        break; // line continuation inside a string
      case '\\':
      case "'":
      case '"':
        out += n;
        break;
      case 'n':
        out += '\n';
        break;
      case 't':
        out += '\t';
        break;
      case 'r':
        out += '\r';
        break;
      case 'a':
        out += '\x07';
        break;
      case 'b':
        out += '\b';
        break;
      case 'f':
        out += '\f';
        break;
      case 'v':
        out += '\v';
        break;
      case 'x': {
        const hex = body.slice(i + 1, i + 3);
        if (!/^[0-9a-fA-F]{2}$/.test(hex)) throw new LiteralError('a \\x escape needs two hex digits');
        out += String.fromCharCode(parseInt(hex, 16));
        i += 2;
        break;
      }
      case 'u':
      case 'U': {
        const len = n === 'u' ? 4 : 8;
        const hex = body.slice(i + 1, i + 1 + len);
        if (!new RegExp(`^[0-9a-fA-F]{${len}}$`).test(hex)) throw new LiteralError(`a \\${n} escape needs ${len} hex digits`);
        const cp = parseInt(hex, 16);
        if (cp > 0x10ffff) throw new LiteralError(`\\${n}${hex} is not a character`);
        out += String.fromCodePoint(cp);
        i += len;
        break;
      }
      case 'N':
        throw new LiteralError('\\N{...} escapes are not supported; write the character itself');
      default:
        if (/[0-7]/.test(n)) {
          const oct = /^[0-7]{1,3}/.exec(body.slice(i))![0];
          out += String.fromCharCode(parseInt(oct, 8));
          i += oct.length - 1;
        } else {
          out += '\\' + n; // unknown escapes stay as written, as in Python
        }
    }
  }
  return out;
}

/** A parsed literal. */
type Lit =
  | { type: 'int' | 'float' | 'string' | 'boolean'; value: JobPrimitive }
  | { type: 'none' }
  | { type: 'list'; items: Lit[] }
  | { type: 'dict'; entries: Array<[string, Lit]> };

/** Text Python does not parse (the runner refuses the notebook for it), as opposed to a valid value that is no literal. */
class PySyntaxError extends LiteralError {}

const isOp = (t: Tok | undefined, text: string) => !!t && t.kind === 'op' && t.text === text;

class Parser {
  private pos = 0;
  constructor(private readonly toks: Tok[]) {}

  parseAll(): Lit {
    if (this.toks.length === 0) throw new PySyntaxError('the value is missing after "="');
    const v = this.value();
    if (this.pos < this.toks.length) {
      const t = this.toks[this.pos];
      const last = this.toks[this.toks.length - 1];
      if (last.kind === 'op' && !')]}'.includes(last.text)) throw new PySyntaxError(`the value ends with "${last.text}"`);
      if (isOp(t, ',')) throw new LiteralError('a tuple is not supported; use a list [a, b]');
      throw new LiteralError('the value is an expression, not a literal; compute it in a later cell');
    }
    return v;
  }

  private peek(): Tok | undefined {
    return this.toks[this.pos];
  }

  private value(): Lit {
    const t = this.peek();
    if (!t) throw new PySyntaxError('the value is incomplete');
    if (t.kind === 'op' && (t.text === '-' || t.text === '+')) {
      this.pos++;
      const inner = this.value();
      if (inner.type !== 'int' && inner.type !== 'float') throw new LiteralError(`"${t.text}" before a non-number is an expression`);
      return t.text === '-' ? { type: inner.type, value: -(inner.value as number) } : inner;
    }
    if (t.kind === 'num') {
      this.pos++;
      return numberLiteral(t.text);
    }
    if (t.kind === 'str') {
      let value = '';
      while (this.peek()?.kind === 'str') {
        const s = this.toks[this.pos++] as Extract<Tok, { kind: 'str' }>;
        if (s.fstring) throw new LiteralError('an f-string is an expression; write a plain string');
        if (s.bytes) throw new LiteralError('bytes are not supported; use a str');
        value += s.value;
      }
      return { type: 'string', value };
    }
    if (t.kind === 'name') {
      this.pos++;
      if (t.text === 'True' || t.text === 'False') return { type: 'boolean', value: t.text === 'True' };
      if (t.text === 'None') return { type: 'none' };
      const next = this.peek();
      if (isOp(next, '(')) throw new LiteralError(`the value is a call to ${t.text}(); only literal values can be parameters`);
      throw new LiteralError(`the value refers to "${t.text}"; only literal values can be parameters`);
    }
    if (isOp(t, '[')) {
      this.pos++;
      if (this.toks.slice(this.pos).some(x => x.kind === 'name' && x.text === 'for')) {
        throw new LiteralError('a list comprehension is an expression; write the list out');
      }
      const items: Lit[] = [];
      this.sequence(']', () => items.push(this.value()));
      return { type: 'list', items };
    }
    if (isOp(t, '{')) {
      this.pos++;
      if (this.toks.slice(this.pos).some(x => x.kind === 'name' && x.text === 'for')) {
        throw new LiteralError('a dict comprehension is an expression; write the dict out');
      }
      const entries: Array<[string, Lit]> = [];
      this.sequence('}', () => {
        const key = this.value();
        if (!isOp(this.peek(), ':')) throw new LiteralError('a set is not supported; use a list [a, b]');
        this.pos++;
        const v = this.value();
        if (key.type !== 'string') throw new LiteralError('a dict parameter travels as JSON, so its keys must be strings');
        entries.push([key.value as string, v]);
      });
      return { type: 'dict', entries };
    }
    if (isOp(t, '(')) {
      this.pos++;
      if (isOp(this.peek(), ')')) throw new LiteralError('a tuple is not supported; use a list [a, b]');
      const inner = this.value();
      const close = this.peek();
      if (isOp(close, ',')) throw new LiteralError('a tuple is not supported; use a list [a, b]');
      if (!isOp(close, ')')) throw new LiteralError('the value is an expression, not a literal');
      this.pos++;
      return inner;
    }
    if (isOp(t, ',')) throw new PySyntaxError('"," has no value before it');
    throw new LiteralError('the value is an expression, not a literal');
  }

  /** Items up to `close`, separated by commas (a trailing one allowed). */
  private sequence(close: string, item: () => void): void {
    for (;;) {
      if (!this.peek()) throw new PySyntaxError(`"${close}" is missing`);
      if (isOp(this.peek(), close)) {
        this.pos++;
        return;
      }
      item();
      const sep = this.peek();
      if (isOp(sep, ',')) {
        this.pos++;
        continue;
      }
      if (isOp(sep, close)) continue;
      if (sep && (sep.kind === 'num' || sep.kind === 'str')) throw new PySyntaxError('two values follow each other; perhaps a comma is missing');
      throw new LiteralError(`an item is an expression, not a literal`);
    }
  }
}

function numberLiteral(text: string): Lit {
  const clean = text.replace(/_/g, '');
  if (/[jJ]$/.test(clean)) throw new LiteralError('a complex number is not supported');
  if (/^0[xX]/.test(clean)) return { type: 'int', value: parseInt(clean.slice(2), 16) };
  if (/^0[oO]/.test(clean)) return { type: 'int', value: parseInt(clean.slice(2), 8) };
  if (/^0[bB]/.test(clean)) return { type: 'int', value: parseInt(clean.slice(2), 2) };
  if (/^\d+$/.test(clean)) {
    if (clean.length > 1 && clean.startsWith('0') && /[1-9]/.test(clean)) throw new PySyntaxError('a number with leading zeros is not valid Python (use 0o for octal)');
    const n = Number(clean);
    if (!Number.isSafeInteger(n)) throw new LiteralError(`${text} is too large to pass on exactly; use a float or a string`);
    return { type: 'int', value: n };
  }
  const f = Number(clean);
  if (!Number.isFinite(f)) throw new LiteralError(`${text} is too large for a float`);
  return { type: 'float', value: f };
}

/** The value as JSON text that Python's json.loads reads back as the literal (floats stay floats: 1.0). */
export function literalJson(lit: Lit): string {
  switch (lit.type) {
    case 'none':
      return 'null';
    case 'float':
      return pyFloatRepr(lit.value as number);
    case 'int':
    case 'boolean':
      return String(lit.value);
    case 'string':
      return JSON.stringify(lit.value);
    case 'list':
      return `[${lit.items.map(literalJson).join(', ')}]`;
    case 'dict':
      return `{${lit.entries.map(([k, v]) => `${JSON.stringify(k)}: ${literalJson(v)}`).join(', ')}}`;
  }
}

const ANNOTATION_TYPES: Record<string, string> = {
  int: 'int',
  float: 'float',
  str: 'string',
  bool: 'boolean'
};

/** What an annotation asks for: a CWL type (`float`, `int[]`), optional or not; JSON; or nothing known. */
type Wanted = { kind: 'cwl'; item: string; list: boolean; optional: boolean } | { kind: 'json' } | undefined;

const ANY_ANNOTATION = /^(?:typing\.)?(?:Any|dict|Dict|object)(?:\[.*\])?$/;

/** The type an annotation names: int/float/str/bool, list[X] / List[X], Optional[T] / T | None / Union[T, None], dict / Any (JSON). */
export function annotationType(annotation: string): Wanted {
  let a = annotation.replace(/\s+/g, '');
  let optional = false;
  const opt = /^(?:typing\.)?Optional\[(.+)\]$/.exec(a) ?? /^(?:typing\.)?Union\[(.+),None\]$/.exec(a) ?? /^(?:typing\.)?Union\[None,(.+)\]$/.exec(a) ?? /^(.+)\|None$/.exec(a) ?? /^None\|(.+)$/.exec(a);
  if (opt) {
    a = opt[1];
    optional = true;
  }
  if (ANY_ANNOTATION.test(a)) return { kind: 'json' };
  if (ANNOTATION_TYPES[a]) return { kind: 'cwl', item: ANNOTATION_TYPES[a], list: false, optional };
  const m = /^(?:list|List|typing\.List)\[(\w+)\]$/.exec(a);
  if (m && ANNOTATION_TYPES[m[1]]) return { kind: 'cwl', item: ANNOTATION_TYPES[m[1]], list: true, optional };
  if (m && ANY_ANNOTATION.test(m[1])) return { kind: 'json' };
  return undefined;
}

interface Typed {
  type: string;
  value: JobPrimitive | JobPrimitive[] | null;
  json?: boolean;
}

const jsonTyped = (lit: Lit): Typed => ({ type: 'string', value: literalJson(lit), json: true });

/** The type of a literal without annotation. */
function valueType(lit: Lit): Typed {
  switch (lit.type) {
    case 'int':
    case 'float':
    case 'string':
    case 'boolean':
      return { type: lit.type, value: lit.value };
    case 'list': {
      const kinds = new Set(lit.items.map(i => i.type));
      if (kinds.size === 2 && kinds.has('int') && kinds.has('float')) kinds.delete('int');
      const [kind] = [...kinds];
      if (kinds.size !== 1 || !ANNOTATION_TYPES[kind === 'string' ? 'str' : kind === 'boolean' ? 'bool' : kind]) return jsonTyped(lit);
      return { type: `${kind}[]`, value: lit.items.map(i => (i as { value: JobPrimitive }).value) };
    }
    default:
      return jsonTyped(lit);
  }
}

/** A literal as a value of an item type (ints count as floats), or undefined when it is not one. */
function asItem(lit: Lit, item: string): JobPrimitive | undefined {
  if (lit.type === item) return (lit as { value: JobPrimitive }).value;
  if (item === 'float' && lit.type === 'int') return (lit as { value: JobPrimitive }).value;
  return undefined;
}

/** The parameter's type and default from its literal and annotation; `mismatch` when the annotation does not fit the value. */
function parameterType(lit: Lit, annotation: string | undefined): Typed & { mismatch?: boolean } {
  const want = annotation === undefined ? undefined : annotationType(annotation);
  if (!want) return valueType(lit);
  if (want.kind === 'json') return jsonTyped(lit);
  // An absent option is false for a flag and [] for a list: an optional boolean or list, which may
  // also be None, travels as JSON.
  if ((want.item === 'boolean' || want.list) && (want.optional || lit.type === 'none')) return jsonTyped(lit);
  const type = `${want.item}${want.list ? '[]' : ''}`;
  if (lit.type === 'none') return { type: `${type}?`, value: null };
  const suffix = want.optional ? '?' : '';
  if (want.list && lit.type === 'list') {
    const items = lit.items.map(i => asItem(i, want.item));
    if (items.every(i => i !== undefined)) return { type: type + suffix, value: items as JobPrimitive[] };
  } else if (!want.list) {
    const v = asItem(lit, want.item);
    if (v !== undefined) return { type: type + suffix, value: v };
  }
  return { ...valueType(lit), mismatch: true };
}

/** Splits `name[: annotation] = value` at the first `=` outside brackets and strings that is not part of `==`, `<=`, .... */
function splitAssignment(code: string): { target: string; value: string } | { reason: string } {
  let depth = 0;
  let quote: string | null = null;
  for (let i = 0; i < code.length; i++) {
    const ch = code[i];
    if (quote) {
      if (ch === '\\') i++;
      else if (code.startsWith(quote, i)) {
        i += quote.length - 1;
        quote = null;
      }
      continue;
    }
    if (ch === '"' || ch === "'") {
      quote = code.startsWith(ch.repeat(3), i) ? ch.repeat(3) : ch;
      i += quote.length - 1;
      continue;
    }
    if ('([{'.includes(ch)) depth++;
    else if (')]}'.includes(ch)) depth--;
    else if (ch === '=' && depth === 0) {
      const prev = code[i - 1] ?? '';
      const next = code[i + 1] ?? '';
      if (next === '=' || (prev !== '' && '=!<>'.includes(prev))) return { reason: 'a comparison is not an assignment' };
      if ((prev !== '' && '+-*/%&|^@'.includes(prev)) || (prev === '/' && code[i - 2] === '/')) return { reason: 'an augmented assignment (+=, -=, ...) is not a parameter' };
      const target = code.slice(0, i).trim();
      const value = code.slice(i + 1).trim();
      if (!('reason' in splitAssignment(value))) return { reason: 'a chained assignment (a = b = 1) is not supported; give each parameter its own line' };
      return { target, value };
    }
  }
  return { reason: '' };
}

const STATEMENT_REASONS: Array<[RegExp, string]> = [
  [/^(?:import|from)\s/, 'an import is not a parameter; move it to another cell'],
  [/^(?:def|class|async\s+def)\s/, 'a definition is not a parameter; move it to another cell'],
  [/^(?:if|for|while|with|try|except|finally|else|elif)\b/, 'a compound statement is not a parameter; the parameters cell should only assign literal values'],
  [/^(?:print|display)\s*\(/, 'a call is not a parameter; move it to another cell'],
  [/^(?:del|pass|global|nonlocal|assert|raise|return)\b/, 'this statement is not a parameter'],
  [/^[%!]/, 'IPython magics and shell commands are not parameters (and need the IPython kernel)']
];

const MAGIC = /^[%!]/;
/** A line the runner blanks before parsing (its _MAGIC_LINE). */
const MAGIC_LINE = /^\s*(%%?|!)/;

/** Syntax errors between logical lines: an indented line after no block header, a block header with no body. */
function layoutError(lines: LogicalLine[]): SyntaxProblem | undefined {
  for (let k = 0; k < lines.length; k++) {
    const l = lines[k];
    const prev = lines[k - 1];
    const opensBlock = (x: LogicalLine | undefined) => !!x && !MAGIC.test(x.code) && x.code.endsWith(':');
    if (l.indented && !opensBlock(prev) && !(prev && prev.indented)) return { line: l.line, reason: 'the line is indented, but no block (if, for, def, ...) starts before it' };
    if (opensBlock(l) && !(lines[k + 1] && lines[k + 1].indented)) {
      return { line: lines[k + 1] ? lines[k + 1].line : l.line, reason: `the block started on line ${l.line} has no indented body` };
    }
  }
  return undefined;
}

/**
 * Reads the source of a `parameters` cell. Later assignments to the same name replace earlier
 * ones (as when Python runs the cell), with a warning.
 */
export function parseParametersSource(source: string): ParametersResult {
  // IPython magics are no Python: blank them (keeping line numbers), as the runner does before ast.parse.
  const magics: ParameterWarning[] = [];
  const physical = source.replace(/\r\n?/g, '\n').split('\n');
  const blanked = physical.map((line, n) => {
    if (!MAGIC_LINE.test(line)) return line;
    magics.push({ line: n + 1, text: line.trim(), reason: 'IPython magics and shell commands are not parameters (and need the IPython kernel)' });
    return '';
  });
  const split = splitLogicalLines(blanked.join('\n'));
  if (split.syntaxError) return { parameters: [], warnings: [], syntaxError: split.syntaxError };
  const lines = split.lines;
  const layout = layoutError(lines);
  if (layout) return { parameters: [], warnings: [], syntaxError: layout };
  const warnings: ParameterWarning[] = magics;
  const byName = new Map<string, NotebookParameter>();
  const warn = (l: LogicalLine, reason: string) => warnings.push({ line: l.line, text: l.raw || l.code, reason });

  for (const l of lines) {
    if (l.indented) {
      warn(l, 'an indented line belongs to a block (if, for, def, ...); parameters are plain assignments at the top level of the cell');
      continue;
    }
    const split = splitAssignment(l.code);
    if ('reason' in split && /^[\p{L}_][\p{L}\p{N}_]*\s*:[^=]*$/u.test(l.code) && !/^(?:else|try|finally)\b/.test(l.code)) {
      warn(l, 'an annotation without a value is not a parameter; give it a default (name: int = 0)');
      continue;
    }
    if ('reason' in split) {
      const stmt = STATEMENT_REASONS.find(([re]) => re.test(l.code));
      warn(l, split.reason || (stmt ? stmt[1] : 'this statement is not an assignment of a literal value, so it is not a parameter'));
      continue;
    }
    let target = split.target;
    let annotation: string | undefined;
    const colon = target.indexOf(':');
    if (colon >= 0) {
      annotation = target.slice(colon + 1).trim();
      target = target.slice(0, colon).trim();
      if (annotation === '') return { parameters: [], warnings: [], syntaxError: { line: l.line, reason: 'the annotation after ":" is missing' } };
    }
    if (target === '' || KEYWORDS.has(target)) {
      return { parameters: [], warnings: [], syntaxError: { line: l.line, reason: target === '' ? 'nothing is assigned to: a name is missing before "="' : `"${target}" is a Python keyword and cannot be assigned to` } };
    }
    if (!IDENTIFIER.test(target)) {
      warn(l, /[,]/.test(target) || /^[([]/.test(target) ? 'unpacking several names at once is not supported; give each parameter its own line' : `"${target}" is not a plain name`);
      continue;
    }
    if (!RED_KEY.test(target)) {
      warn(l, `"${target}" has characters a RED input name cannot have (only A-Z, a-z, 0-9, _ and -)`);
      continue;
    }
    let typed: ReturnType<typeof parameterType>;
    try {
      typed = parameterType(new Parser(tokenize(split.value)).parseAll(), annotation);
    } catch (e) {
      if (e instanceof PySyntaxError) return { parameters: [], warnings: [], syntaxError: { line: l.line, reason: e.message } };
      if (e instanceof LiteralError) {
        warn(l, e.message);
        continue;
      }
      throw e;
    }
    if (typed.mismatch) warn(l, `the annotation says ${annotation} but the value is ${typed.json ? 'another type' : typed.type}; the value's type is used`);
    const param: NotebookParameter = { name: target, type: typed.type, default: typed.value };
    if (typed.json) param.json = true;
    if (l.comment) param.doc = l.comment;
    if (byName.has(target)) {
      warn(l, `"${target}" is assigned again; the last value is used`);
      byName.delete(target);
    }
    byName.set(target, param);
  }
  warnings.sort((a, b) => a.line - b.line);
  return { parameters: [...byName.values()], warnings };
}

/** Index of the cell among the notebook's code cells, 1-based: how the runner names cells too ("code cell 2"). */
export function codeCellNumber(cells: readonly unknown[], index: number): number {
  return cells.slice(0, index + 1).filter(c => !!c && typeof c === 'object' && (c as { cell_type?: unknown }).cell_type === 'code').length;
}

/** The message for a syntax error in the parameters cell, word for word as the runner gives it. */
export function parametersSyntaxMessage(codeCell: number, line: number, reason: string): string {
  return `the parameters cell (code cell ${codeCell}) has a syntax error on line ${line}: ${reason}; fix it in the notebook`;
}

/** Parameters of a notebook's first `parameters` cell; `cell` is its index (-1 when there is none). */
export function parseNotebookParameters(cells: readonly unknown[]): ParametersResult & { cell: number } {
  const cell = findParametersCell(cells);
  if (cell < 0) return { parameters: [], warnings: [], cell };
  return { ...parseParametersSource(cellSource(cells[cell])), cell };
}
