// Parse the text of a RED file (YAML or JSON) into plain data, keeping what
// validation and command lines need from the source: the line of every node,
// and which integral numbers were written as floats (`1.0`, `2e3`).
//
// Pure TypeScript: no DOM, no Node APIs.

import { Alias, Document, isAlias, isMap, isPair, isScalar, isSeq, LineCounter, Node, parseDocument, Scalar } from 'yaml';
import { RedError, RedIssue, formatIssues } from './types';

export interface ParsedText {
  /** The document as plain data (objects, arrays, strings, numbers, booleans, null). */
  data: unknown;
  /** `json` when the first non-blank character is `{` or `[`, else `yaml`. */
  format: 'yaml' | 'json';
  /** Dotted paths of integral numbers written as float literals (`1.0`, `2e3`). */
  floatPaths: Set<string>;
  /** 1-based line of the node at a dotted path (`batches.0.inputs.x`), when it is in the text. */
  lineOf(path: string): number | undefined;
}

/** Deepest nesting of mappings and lists a RED file may have. */
export const MAX_DEPTH = 64;
/** yaml's limit on how much one alias may expand (its default). */
const MAX_ALIAS_COUNT = 100;
/** Nodes visited (aliases expanded) before a document counts as an alias bomb. */
const MAX_NODES = 200_000;
/** Rough nesting limit checked on the raw text, before the YAML parser recurses into it. */
const PRESCAN_DEPTH = 200;

const CORE_TAGS = new Set(
  ['str', 'int', 'float', 'bool', 'null', 'map', 'seq'].map(t => `tag:yaml.org,2002:${t}`)
);

const FLOAT_LITERAL = /^[-+]?(?:\d[\d_]*\.[\d_]*(?:[eE][-+]?\d+)?|\.\d[\d_]*(?:[eE][-+]?\d+)?|\d[\d_]*[eE][-+]?\d+)$/;

/** Join a parent dotted path and a key or index. */
export function joinPath(parent: string, key: string | number): string {
  return parent === '' ? String(key) : `${parent}.${key}`;
}

/**
 * Parse RED text. Throws `RedError` (every issue with its line) on syntax errors,
 * duplicate keys, non-core tags, alias bombs, too deep nesting, non-text keys,
 * or a top level that is not a mapping.
 */
export function parseRedText(text: string, opts: { source?: string } = {}): ParsedText {
  const fail = (issues: RedIssue[]): never => {
    throw new RedError(issues, formatIssues(issues, opts.source));
  };
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const first = text.match(/\S/)?.[0];
  const format: 'yaml' | 'json' = first === '{' || first === '[' ? 'json' : 'yaml';

  const lineCounter = new LineCounter();
  const deep = prescanDepth(text);
  if (deep) {
    fail([issue('', deep.line, `nesting is deeper than ${MAX_DEPTH} levels`, 'flatten the document; a RED file needs only a few levels')]);
  }

  let doc: Document.Parsed;
  try {
    doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: false, merge: true, version: '1.2' });
  } catch (e) {
    return fail([issue('', undefined, `could not parse the ${format === 'json' ? 'JSON' : 'YAML'}: ${String((e as Error).message ?? e)}`)]);
  }
  const lineAt = (offset: number | undefined): number | undefined =>
    offset === undefined ? undefined : lineCounter.linePos(offset).line;

  const syntax: RedIssue[] = [];
  for (const err of doc.errors) {
    const line = lineAt(err.pos?.[0]);
    syntax.push(issue('', line, syntaxMessage(err.code, err.message, format), syntaxFix(err.code, format)));
  }
  if (syntax.length) fail(dedupe(syntax));
  // Non-core tags are reported by the walk below; a core tag that does not fit its value
  // (`!!int abc`) only shows up as a warning of the parser.
  const tagProblems: RedIssue[] = [];
  for (const w of doc.warnings) {
    const tag = w.message.replace(/^Unresolved tag:\s*/, '').trim();
    if (w.code === 'TAG_RESOLVE_FAILED' && CORE_TAGS.has(tag)) {
      tagProblems.push(issue('', lineAt(w.pos?.[0]), `the value does not fit its tag ${tag}`, 'remove the tag; RED files use plain YAML values only'));
    }
  }

  const contents = doc.contents as Node | null;
  if (contents === null || (isScalar(contents) && contents.value === null)) {
    fail([issue('', 1, 'the file is empty', 'a RED file is a mapping with redVersion, cli, inputs (or batches) and container')]);
  }
  const top = contents as Node;
  if (!isMap(top)) {
    const kind = isSeq(top) ? 'a list' : isScalar(top) ? `a single value (${JSON.stringify(top.value)})` : 'not a mapping';
    fail([issue('', lineAt(top.range?.[0]) ?? 1, `the top level must be a mapping (key: value pairs), found ${kind}`, 'start the file with redVersion: "9", cli:, inputs:, container: ...')]);
  }

  // Walk the node tree: lines, float literals, keys, tags, depth, duplicates.
  const lines = new Map<string, number>();
  const floatPaths = new Set<string>();
  const problems: RedIssue[] = tagProblems;
  let visited = 0;
  let tooMany = false;
  let tooDeep = false;

  const walk = (node: unknown, path: string, depth: number, viaAlias: number): void => {
    if (tooMany) return;
    if (++visited > MAX_NODES) {
      tooMany = true;
      return;
    }
    if (isAlias(node)) {
      if (viaAlias > 32) {
        tooMany = true;
        return;
      }
      const target = (node as Alias).resolve(doc);
      if (target) walk(target, path, depth, viaAlias + 1);
      return;
    }
    const n = node as Node;
    const tag = (n as { tag?: string }).tag;
    if (tag && !CORE_TAGS.has(tag) && !viaAlias) {
      problems.push(issue(path, lineAt(n.range?.[0]), `unsupported tag ${tag}`, 'remove the tag; RED files use plain YAML values only'));
    }
    if (isMap(n) || isSeq(n)) {
      if (depth >= MAX_DEPTH) {
        if (!tooDeep) {
          problems.push(issue(path, lineAt(n.range?.[0]), `nesting is deeper than ${MAX_DEPTH} levels`, 'flatten the document; a RED file needs only a few levels'));
          tooDeep = true;
        }
        return;
      }
    }
    if (isMap(n)) {
      const seen = new Map<string, number | undefined>();
      const merged: unknown[] = [];
      for (const pair of n.items) {
        if (!isPair(pair)) continue;
        const k = pair.key as unknown;
        const keyLine = lineAt((k as Node | null)?.range?.[0]);
        if (isScalar(k) && (typeof k.value === 'symbol' || (k.value === '<<' && (k as Scalar).type === 'PLAIN'))) {
          merged.push(pair.value);
          continue;
        }
        if (!isScalar(k) || typeof k.value !== 'string') {
          if (!viaAlias) {
            const shown = isScalar(k) ? JSON.stringify(k.value) : isAlias(k) ? `*${(k as Alias).source}` : 'a collection';
            problems.push(issue(path, keyLine, `key ${shown} is not text; keys must be strings`, isScalar(k) && k.value !== null ? `quote it: "${String(k.value)}"` : 'use a text key'));
          }
          continue;
        }
        const key = k.value;
        const childPath = joinPath(path, key);
        if (seen.has(key)) {
          if (!viaAlias) {
            const firstLine = seen.get(key);
            problems.push(issue(childPath, keyLine, `duplicate key "${key}"${firstLine !== undefined ? ` (first defined on line ${firstLine})` : ''}`, 'keep only one of them; YAML and JSON do not allow a key twice in the same mapping'));
          }
          continue;
        }
        seen.set(key, keyLine);
        if (keyLine !== undefined && (!viaAlias || !lines.has(childPath))) lines.set(childPath, keyLine);
        walk(pair.value, childPath, depth + 1, viaAlias);
      }
      // Merge keys (`<<: *defaults`): their entries appear in this mapping unless given explicitly.
      for (const m of merged) {
        const sources = isSeq(m) ? m.items : [m];
        for (const s of sources) {
          const target = isAlias(s) ? (s as Alias).resolve(doc) : s;
          if (!isMap(target)) continue;
          for (const pair of target.items) {
            if (!isPair(pair) || !isScalar(pair.key) || typeof pair.key.value !== 'string') continue;
            const childPath = joinPath(path, pair.key.value);
            if (seen.has(pair.key.value)) continue;
            seen.set(pair.key.value, undefined);
            const l = lineAt((pair.key as Node).range?.[0]);
            if (l !== undefined && !lines.has(childPath)) lines.set(childPath, l);
            walk(pair.value, childPath, depth + 1, viaAlias + 1);
          }
        }
      }
      return;
    }
    if (isSeq(n)) {
      n.items.forEach((item, i) => {
        const childPath = joinPath(path, i);
        const l = lineAt((item as Node | null)?.range?.[0]);
        if (l !== undefined && (!viaAlias || !lines.has(childPath))) lines.set(childPath, l);
        walk(item, childPath, depth + 1, viaAlias);
      });
      return;
    }
    if (isScalar(n) && typeof n.value === 'number' && Number.isInteger(n.value)) {
      const src = typeof n.source === 'string' ? n.source.trim() : '';
      if (tag === 'tag:yaml.org,2002:float' || FLOAT_LITERAL.test(src)) floatPaths.add(path);
    }
  };
  walk(top, '', 0, 0);

  if (tooMany) fail([issue('', undefined, 'aliases expand too much (YAML anchors/aliases that multiply the document, a "billion laughs" bomb)', 'write the values out or use fewer aliases')]);
  if (problems.length) fail(problems);

  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (e) {
    const msg = String((e as Error).message ?? e);
    if (/alias/i.test(msg)) fail([issue('', undefined, 'aliases expand too much (YAML anchors/aliases that multiply the document, a "billion laughs" bomb)', 'write the values out or use fewer aliases')]);
    fail([issue('', undefined, `could not read the document: ${msg}`)]);
  }

  return {
    data,
    format,
    floatPaths,
    lineOf: (p: string) => lines.get(p)
  };
}

function issue(path: string, line: number | undefined, message: string, fix?: string): RedIssue {
  const i: RedIssue = { path, message, severity: 'error' };
  if (line !== undefined) i.line = line;
  if (fix) i.fix = fix;
  return i;
}

function dedupe(issues: RedIssue[]): RedIssue[] {
  const seen = new Set<string>();
  return issues.filter(i => {
    const k = `${i.line}|${i.message}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

function syntaxMessage(code: string, message: string, format: 'yaml' | 'json'): string {
  const what = format === 'json' ? 'JSON' : 'YAML';
  switch (code) {
    case 'RESOURCE_EXHAUSTION':
      return `nesting is too deep to parse (more than ${MAX_DEPTH} levels)`;
    case 'MULTIPLE_DOCS':
      return `the file contains more than one ${what} document (a second "---" or "..." line)`;
    case 'DUPLICATE_KEY':
      return 'duplicate key';
    default:
      return `invalid ${what}: ${message}`;
  }
}

function syntaxFix(code: string, format: 'yaml' | 'json'): string | undefined {
  switch (code) {
    case 'TAB_AS_INDENT':
      return 'indent with spaces, not tabs';
    case 'MULTIPLE_DOCS':
      return 'keep one RED document per file';
    case 'RESOURCE_EXHAUSTION':
      return 'flatten the document';
    default:
      return format === 'json' ? 'check brackets, commas and quotes near this line' : 'check indentation, colons and quotes near this line';
  }
}

/**
 * A cheap upper bound on nesting depth computed on the raw text (block indentation levels
 * plus open flow brackets outside quotes and comments). The YAML parser recurses per level,
 * and very deep input can exhaust the stack (or worse) before it can report an error.
 */
function prescanDepth(text: string): { line: number } | undefined {
  const indents: number[] = [];
  let flow = 0;
  let quote: '"' | "'" | '' = '';
  let line = 1;
  let i = 0;
  const n = text.length;
  while (i < n) {
    // start of a line
    let col = 0;
    if (!quote) {
      while (i < n && text[i] === ' ') {
        i++;
        col++;
      }
      // compact nested sequences: "- - - x"
      let dashes = 0;
      while (i + 1 < n && text[i] === '-' && (text[i + 1] === ' ' || text[i + 1] === '\t')) {
        dashes++;
        i += 2;
        while (i < n && text[i] === ' ') i++;
      }
      if (i < n && text[i] !== '\n' && text[i] !== '\r' && text[i] !== '#') {
        while (indents.length && indents[indents.length - 1] >= col) indents.pop();
        indents.push(col);
        if (indents.length + dashes > PRESCAN_DEPTH) return { line };
      }
    }
    // rest of the line
    let prev = ' ';
    while (i < n && text[i] !== '\n') {
      const c = text[i];
      if (quote) {
        if (quote === '"' && c === '\\') {
          i += 2;
          continue;
        }
        if (c === quote) {
          if (quote === "'" && text[i + 1] === "'") {
            i += 2;
            continue;
          }
          quote = '';
        }
      } else if (c === '#' && (prev === ' ' || prev === '\t')) {
        while (i < n && text[i] !== '\n') i++;
        break;
      } else if ((c === '"' || c === "'") && /[\s:[{,-]/.test(prev)) {
        quote = c;
      } else if (c === '[' || c === '{') {
        flow++;
        if (flow + indents.length > PRESCAN_DEPTH) return { line };
      } else if ((c === ']' || c === '}') && flow > 0) {
        flow--;
      }
      prev = c;
      i++;
    }
    if (i < n) {
      i++;
      line++;
    }
  }
  return undefined;
}
