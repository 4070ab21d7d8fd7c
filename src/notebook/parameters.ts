// The `parameters` cell of a Python notebook (papermill's convention: the code cell whose
// metadata.tags holds "parameters"), read into typed NotebookParameter values without Python.
//
// What counts as a parameter: a simple assignment `name = <literal>` or an annotated one
// `name: float = 0.5`, one per logical line (brackets, triple-quoted strings and `\` may span
// physical lines). Literals: ints (`-3`, `1_000`, `0x1F`), floats (`1.0`, `1e-3`, `.5`, `-2.5`),
// strings ('..', "..", triple-quoted, r/u prefixes, adjacent literals joined, escapes decoded),
// True/False, and non-empty homogeneous lists of these (ints and floats together are float[]).
// A trailing `# comment` becomes the parameter's `doc`. Anything else (imports, calls, None,
// dicts, tuples, f-strings, empty lists, nested lists) is reported as a warning, never thrown.
//
// Pure TypeScript: no DOM, no Node APIs.

import type { JobPrimitive } from '../red/types';
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

function splitLogicalLines(source: string): { lines: LogicalLine[]; problems: ParameterWarning[] } {
  const src = source.replace(/\r\n?/g, '\n');
  const physical = src.split('\n');
  const lines: LogicalLine[] = [];
  const problems: ParameterWarning[] = [];
  let code = '';
  let comment: string | undefined;
  let startLine = 1;
  let depth = 0;
  let quote: string | null = null; // the open string's quote: ' " ''' """
  let lineNo = 1;
  let i = 0;
  const flush = () => {
    if (code.trim() !== '') lines.push({ line: startLine, indented: /^[ \t]/.test(physical[startLine - 1] ?? ''), code: code.trim(), comment, raw: (physical[startLine - 1] ?? '').trim() });
    code = '';
    comment = undefined;
    depth = 0;
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
        lineNo++;
        if (quote.length === 1) {
          // An unterminated one-line string: end the statement here.
          problems.push({ line: startLine, text: (physical[startLine - 1] ?? '').trim(), reason: 'a string is not closed on its line' });
          quote = null;
          code = '';
          comment = undefined;
          depth = 0;
          i++;
          startLine = lineNo;
          continue;
        }
      }
      code += ch;
      i++;
      continue;
    }
    if (ch === '#') {
      const end = src.indexOf('\n', i);
      const text = src.slice(i + 1, end === -1 ? src.length : end).trim();
      comment = text;
      i = end === -1 ? src.length : end;
      continue;
    }
    if (ch === '"' || ch === "'") {
      quote = src.startsWith(ch.repeat(3), i) ? ch.repeat(3) : ch;
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
    if (ch === '(' || ch === '[' || ch === '{') depth++;
    if (ch === ')' || ch === ']' || ch === '}') depth = Math.max(0, depth - 1);
    if (ch === '\n') {
      lineNo++;
      i++;
      if (depth > 0) {
        code += ' ';
        // A comment inside brackets documents the value only when it is on the last line.
        comment = undefined;
        continue;
      }
      flush();
      startLine = lineNo;
      continue;
    }
    if (ch === ';' && depth === 0) {
      // `a = 1; b = 2`: two statements on one line; the comment belongs to the last.
      const before = code;
      code = '';
      if (before.trim() !== '') lines.push({ line: startLine, indented: /^[ \t]/.test(physical[startLine - 1] ?? ''), code: before.trim(), raw: (physical[startLine - 1] ?? '').trim() });
      i++;
      continue;
    }
    code += ch;
    i++;
  }
  if (quote !== null) {
    problems.push({ line: startLine, text: (physical[startLine - 1] ?? '').trim(), reason: 'a string is not closed' });
    code = '';
  }
  flush();
  return { lines, problems };
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
        if (after !== undefined && /[\p{L}\p{Nd}_]/u.test(after)) throw new LiteralError(`"${expr.slice(i, i + m[0].length + 1)}" is not a number`);
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
    throw new LiteralError(`unexpected character "${ch}"`);
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

/** A parsed literal: a primitive with its CWL type, or a list. */
type Lit = { type: 'int' | 'float' | 'string' | 'boolean'; value: JobPrimitive } | { type: 'list'; items: Lit[] };

class Parser {
  private pos = 0;
  constructor(private readonly toks: Tok[]) {}

  parseAll(): Lit {
    if (this.toks.length === 0) throw new LiteralError('there is no value');
    const v = this.value();
    if (this.pos < this.toks.length) {
      const t = this.toks[this.pos];
      if (t.kind === 'op' && t.text === ',') throw new LiteralError('a tuple is not supported; use a list [a, b]');
      throw new LiteralError('the value is an expression, not a literal; compute it in a later cell');
    }
    return v;
  }

  private peek(): Tok | undefined {
    return this.toks[this.pos];
  }

  private value(): Lit {
    const t = this.peek();
    if (!t) throw new LiteralError('a value is missing');
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
      if (t.text === 'None') throw new LiteralError('None has no type; give a default of the type the parameter takes (0, 0.0, "", False)');
      const next = this.peek();
      if (next && next.kind === 'op' && next.text === '(') throw new LiteralError(`the value is a call to ${t.text}(); only literal values can be parameters`);
      throw new LiteralError(`the value refers to "${t.text}"; only literal values can be parameters`);
    }
    if (t.kind === 'op' && t.text === '[') {
      this.pos++;
      if (this.toks.slice(this.pos).some(x => x.kind === 'name' && x.text === 'for')) {
        throw new LiteralError('a list comprehension is an expression; write the list out');
      }
      const items: Lit[] = [];
      for (;;) {
        const n = this.peek();
        if (!n) throw new LiteralError('a list is not closed');
        if (n.kind === 'op' && n.text === ']') {
          this.pos++;
          break;
        }
        items.push(this.value());
        const sep = this.peek();
        if (sep && sep.kind === 'op' && sep.text === ',') {
          this.pos++;
          continue;
        }
        if (sep && sep.kind === 'op' && sep.text === ']') continue;
        throw new LiteralError('a list item is an expression, not a literal');
      }
      return { type: 'list', items };
    }
    if (t.kind === 'op' && t.text === '(') {
      this.pos++;
      const n = this.peek();
      if (n && n.kind === 'op' && n.text === ')') throw new LiteralError('a tuple is not supported; use a list [a, b]');
      const inner = this.value();
      const close = this.peek();
      if (close && close.kind === 'op' && close.text === ',') throw new LiteralError('a tuple is not supported; use a list [a, b]');
      if (!close || close.kind !== 'op' || close.text !== ')') throw new LiteralError('the value is an expression, not a literal');
      this.pos++;
      return inner;
    }
    if (t.kind === 'op' && t.text === '{') throw new LiteralError('a dict or set is not supported; use one parameter per value');
    throw new LiteralError('the value is an expression, not a literal');
  }
}

function numberLiteral(text: string): Lit {
  const clean = text.replace(/_/g, '');
  if (/[jJ]$/.test(clean)) throw new LiteralError('a complex number is not supported');
  if (/^0[xX]/.test(clean)) return { type: 'int', value: parseInt(clean.slice(2), 16) };
  if (/^0[oO]/.test(clean)) return { type: 'int', value: parseInt(clean.slice(2), 8) };
  if (/^0[bB]/.test(clean)) return { type: 'int', value: parseInt(clean.slice(2), 2) };
  if (/^\d+$/.test(clean)) {
    if (clean.length > 1 && clean.startsWith('0') && /[1-9]/.test(clean)) throw new LiteralError('a number with leading zeros is not valid Python (use 0o for octal)');
    const n = Number(clean);
    if (!Number.isSafeInteger(n)) throw new LiteralError(`${text} is too large to pass on exactly; use a float or a string`);
    return { type: 'int', value: n };
  }
  const f = Number(clean);
  if (!Number.isFinite(f)) throw new LiteralError(`${text} is too large for a float`);
  return { type: 'float', value: f };
}

/** The NotebookParameter type and default of a literal, or a reason it cannot be one. */
function typed(lit: Lit): { type: string; value: JobPrimitive | JobPrimitive[] } {
  if (lit.type !== 'list') return { type: lit.type, value: lit.value };
  if (lit.items.length === 0) throw new LiteralError('an empty list has no item type; give at least one item so its type is known');
  if (lit.items.some(i => i.type === 'list')) throw new LiteralError('a nested list is not supported');
  const kinds = new Set(lit.items.map(i => i.type));
  let type: string;
  if (kinds.size === 1) type = [...kinds][0];
  else if (kinds.size === 2 && kinds.has('int') && kinds.has('float')) type = 'float';
  else throw new LiteralError(`the list mixes ${[...kinds].join(' and ')}; a list parameter has one item type`);
  return { type: `${type}[]`, value: lit.items.map(i => (i as { value: JobPrimitive }).value) };
}

const ANNOTATION_TYPES: Record<string, string> = {
  int: 'int',
  float: 'float',
  str: 'string',
  bool: 'boolean'
};

/** The CWL type an annotation names (`float`, `list[int]`, `List[str]`), if it is a simple one. */
function annotationType(annotation: string): string | undefined {
  const a = annotation.replace(/\s+/g, '');
  if (ANNOTATION_TYPES[a]) return ANNOTATION_TYPES[a];
  const m = /^(?:list|List|typing\.List)\[(\w+)\]$/.exec(a);
  if (m && ANNOTATION_TYPES[m[1]]) return `${ANNOTATION_TYPES[m[1]]}[]`;
  return undefined;
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
      if (next === '=' || '=!<>'.includes(prev)) return { reason: 'a comparison is not an assignment' };
      if ('+-*/%&|^@'.includes(prev) || (prev === '/' && code[i - 2] === '/')) return { reason: 'an augmented assignment (+=, -=, ...) is not a parameter' };
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

/**
 * Reads the source of a `parameters` cell. Later assignments to the same name replace earlier
 * ones (as when Python runs the cell), with a warning.
 */
export function parseParametersSource(source: string): ParametersResult {
  const { lines, problems } = splitLogicalLines(source);
  const warnings: ParameterWarning[] = [...problems];
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
    }
    if (!IDENTIFIER.test(target) || KEYWORDS.has(target)) {
      warn(l, /[,]/.test(target) || /^[([]/.test(target) ? 'unpacking several names at once is not supported; give each parameter its own line' : `"${target}" is not a plain name`);
      continue;
    }
    if (!RED_KEY.test(target)) {
      warn(l, `"${target}" has characters a RED input name cannot have (only A-Z, a-z, 0-9, _ and -)`);
      continue;
    }
    let lit: { type: string; value: JobPrimitive | JobPrimitive[] };
    try {
      lit = typed(new Parser(tokenize(split.value)).parseAll());
    } catch (e) {
      if (e instanceof LiteralError) {
        warn(l, e.message);
        continue;
      }
      throw e;
    }
    if (annotation !== undefined) {
      const want = annotationType(annotation);
      if (want === 'float' && lit.type === 'int') lit = { type: 'float', value: lit.value };
      else if (want === 'float[]' && lit.type === 'int[]') lit = { type: 'float[]', value: lit.value };
      else if (want !== undefined && want !== lit.type) {
        warn(l, `the annotation says ${annotation} but the value is ${lit.type}; the value's type is used`);
      }
    }
    const param: NotebookParameter = { name: target, type: lit.type, default: lit.value };
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

/** Parameters of a notebook's first `parameters` cell; `cell` is its index (-1 when there is none). */
export function parseNotebookParameters(cells: readonly unknown[]): ParametersResult & { cell: number } {
  const cell = findParametersCell(cells);
  if (cell < 0) return { parameters: [], warnings: [], cell };
  return { ...parseParametersSource(cellSource(cells[cell])), cell };
}
