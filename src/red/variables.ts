// `{{name}}` variables, as Curious Containers handles them (red_val/red_variables.py,
// cc_core/commons/templates.py, red_secrets.py):
//   - a variable may only appear in a string below a key named `access` or `auth`
//     (anywhere deeper in that subtree); `{{` or `}}` elsewhere is an error;
//   - a string may hold several variables and text around them ("https://{{host}}/x");
//     the name is the text between the braces, taken as is (no trimming), never empty;
//   - a key is protected when it is `password` or `privateKey` or starts with `_`;
//     everything below a protected key is secret, and a protected key is only allowed
//     below `access`/`auth`;
//   - RED Lab also keeps secret (masked, never placement-checked) the other secret fields of
//     its connectors below `access`/`auth` (`passphrase`, `secretAccessKey`: connector-fields);
//   - filling replaces each `{{name}}` with the value's text (values are strings).

import { SECRET_ACCESS_KEYS } from './connector-fields';
import { MASK, SecretMasker } from './mask';
import { RedError, type Red, type RedIssue } from './types';

/** Keys below which variables are allowed. */
export const VARIABLE_PARENT_KEYS: readonly string[] = ['access', 'auth'];
/** Keys whose values are secret (besides every key starting with `_`). */
export const PROTECTED_KEYS: readonly string[] = ['password', 'privateKey'];

export function isProtectedKey(key: string): boolean {
  return PROTECTED_KEYS.includes(key) || key.startsWith('_');
}

/**
 * Secret (masked, asked for hidden): a protected key, or below `access`/`auth` a secret field of
 * a connector (connector-fields: passphrase, secretAccessKey), which CC does not protect.
 */
function isSecretKeyAt(key: string, parent: { allowed: boolean }): boolean {
  return isProtectedKey(key) || (parent.allowed && SECRET_ACCESS_KEYS.includes(key));
}

export interface RedVariable {
  name: string;
  /** True when any use of the variable sits below a protected key. */
  protected: boolean;
  /** Dotted paths of the strings that use it (`inputs.f.connector.access.auth.password`). */
  paths: string[];
}

export class MissingVariablesError extends Error {
  constructor(readonly names: string[]) {
    super(`no value given for variable${names.length === 1 ? '' : 's'} ${names.map(n => `"${n}"`).join(', ')}`);
    this.name = 'MissingVariablesError';
  }
}

type Part = { text: string } | { variable: string };

/**
 * Splits a string into text and `{{name}}` parts, as Curious Containers does. Returns an
 * error message for malformed strings (unclosed `{{`, nested `{{`, stray `}}`, empty name).
 */
export function parseTemplate(s: string): Part[] | string {
  // Tokens: "{{", "}}" and the non-empty text between them ("{{" found first, left to right).
  const tokens: string[] = [];
  s.split('{{').forEach((piece, i) => {
    if (i > 0) tokens.push('{{');
    piece.split('}}').forEach((t, j) => {
      if (j > 0) tokens.push('}}');
      if (t) tokens.push(t);
    });
  });
  const parts: Part[] = [];
  let inVar = false;
  let text = '';
  for (const t of tokens) {
    if (inVar) {
      if (t === '{{') return `"{{" opens a variable inside another variable`;
      if (t === '}}') {
        if (text === '') return 'a variable name is empty ("{{}}")';
        parts.push({ variable: text });
        text = '';
        inVar = false;
      } else {
        text += t;
      }
    } else if (t === '{{') {
      if (text) parts.push({ text });
      text = '';
      inVar = true;
    } else if (t === '}}') {
      return '"}}" without a matching "{{"';
    } else {
      text += t;
    }
  }
  if (inVar) return '"{{" is not closed by "}}"';
  if (text) parts.push({ text });
  return parts;
}

function hasBraces(s: string): boolean {
  return s.includes('{{') || s.includes('}}');
}

interface Visit {
  path: string;
  allowed: boolean;
  protected: boolean;
}

/** Walks every string/number/boolean leaf of a JSON-like value with its dotted path and key flags. */
function walk(node: unknown, visit: (leaf: unknown, at: Visit) => void, at: Visit, onKey?: (key: string, at: Visit) => void): void {
  if (Array.isArray(node)) {
    node.forEach((v, i) => walk(v, visit, { ...at, path: join(at.path, String(i)) }, onKey));
  } else if (node && typeof node === 'object') {
    for (const [k, v] of Object.entries(node)) {
      const sub: Visit = {
        path: join(at.path, k),
        allowed: at.allowed || VARIABLE_PARENT_KEYS.includes(k),
        protected: at.protected || isSecretKeyAt(k, at)
      };
      onKey?.(k, sub);
      walk(v, visit, sub, onKey);
    }
  } else {
    visit(node, at);
  }
}

function join(path: string, key: string): string {
  return path ? `${path}.${key}` : key;
}

const ROOT: Visit = { path: '', allowed: false, protected: false };

/**
 * Problems with variables and protected keys, as Curious Containers rejects them: braces
 * outside `access`/`auth`, malformed `{{...}}`, protected keys outside `access`/`auth`.
 */
export function checkVariables(red: unknown): RedIssue[] {
  const issues: RedIssue[] = [];
  walk(
    red,
    (leaf, at) => {
      if (typeof leaf !== 'string' || !hasBraces(leaf)) return;
      if (!at.allowed) {
        issues.push({
          path: at.path,
          severity: 'error',
          message: `"{{" or "}}" found outside "access"/"auth": variables are only allowed in connector access and auth sections`,
          fix: 'move the value below an "access" or "auth" key, or remove the braces'
        });
        return;
      }
      const parsed = parseTemplate(leaf);
      if (typeof parsed === 'string') {
        issues.push({ path: at.path, severity: 'error', message: `malformed variable in "${leaf}": ${parsed}`, fix: 'write variables as {{name}}' });
      }
    },
    ROOT,
    (key, at) => {
      if (isProtectedKey(key) && !at.allowed) {
        issues.push({
          path: at.path,
          severity: 'error',
          message: `protected key "${key}" is only allowed below an "access" or "auth" key`,
          fix: key.startsWith('_') ? `rename "${key}" so that it does not start with "_"` : `move "${key}" below "access" or "auth"`
        });
      }
    }
  );
  return issues;
}

/** The variables of a RED, in order of first use. Throws RedError on malformed or misplaced variables. */
export function listVariables(red: Red): RedVariable[] {
  const issues = checkVariables(red);
  if (issues.length) throw new RedError(issues);
  return collect(red);
}

function collect(red: unknown): RedVariable[] {
  const found = new Map<string, RedVariable>();
  walk(
    red,
    (leaf, at) => {
      if (typeof leaf !== 'string' || !at.allowed || !hasBraces(leaf)) return;
      const parsed = parseTemplate(leaf);
      if (typeof parsed === 'string') return;
      for (const p of parsed) {
        if (!('variable' in p)) continue;
        let v = found.get(p.variable);
        if (!v) {
          v = { name: p.variable, protected: false, paths: [] };
          found.set(p.variable, v);
        }
        v.protected = v.protected || at.protected;
        if (!v.paths.includes(at.path)) v.paths.push(at.path);
      }
    },
    ROOT
  );
  return [...found.values()];
}

function fillString(s: string, values: Record<string, string>): string {
  const parsed = parseTemplate(s);
  if (typeof parsed === 'string') return s;
  return parsed.map(p => ('variable' in p ? String(values[p.variable]) : p.text)).join('');
}

function mapTree(node: unknown, fn: (leaf: unknown, at: Visit) => unknown, at: Visit): unknown {
  if (Array.isArray(node)) return node.map((v, i) => mapTree(v, fn, { ...at, path: join(at.path, String(i)) }));
  if (node && typeof node === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(node)) {
      out[k] = mapTree(v, fn, {
        path: join(at.path, k),
        allowed: at.allowed || VARIABLE_PARENT_KEYS.includes(k),
        protected: at.protected || isSecretKeyAt(k, at)
      });
    }
    return out;
  }
  return fn(node, at);
}

/**
 * A deep copy of the RED with every `{{name}}` replaced by `values[name]`. Throws
 * MissingVariablesError (listing every missing name) when a value is missing, RedError on
 * malformed or misplaced variables. Extra values are ignored.
 */
export function fillVariables(red: Red, values: Record<string, string>): Red {
  const vars = listVariables(red);
  const missing = vars.map(v => v.name).filter(n => !Object.prototype.hasOwnProperty.call(values, n) || values[n] === undefined || values[n] === null);
  if (missing.length) throw new MissingVariablesError(missing);
  return mapTree(red, (leaf, at) => (typeof leaf === 'string' && at.allowed && hasBraces(leaf) ? fillString(leaf, values) : leaf), ROOT) as Red;
}

/**
 * Registers with the masker every value that may be secret: the value of every variable the
 * RED uses (variables only live in connector access/auth sections, which hold tokens and
 * credentials), and every literal value below a protected key. Works on the RED before or
 * after filling. Never throws on malformed variables.
 */
export function registerSecrets(red: Red, values: Record<string, string>, masker: SecretMasker): void {
  for (const v of collect(red)) {
    if (Object.prototype.hasOwnProperty.call(values, v.name)) masker.add(values[v.name]);
  }
  walk(
    red,
    (leaf, at) => {
      if (!at.protected) return;
      if (typeof leaf === 'string' && isUnfilledTemplate(leaf)) return;
      masker.add(leaf);
    },
    ROOT
  );
  registerBasicAuth(red, values, masker);
}

/**
 * Credentials travel as base64 of `username:password` (HTTP basic auth, registry auth):
 * register that form for every `{username, password}` object and every URL with user
 * info (`https://user:pw@host`), filled with `values` where they hold variables.
 */
function registerBasicAuth(node: unknown, values: Record<string, string>, masker: SecretMasker): void {
  const filled = (v: unknown): string | undefined => {
    if (typeof v === 'number') return String(v);
    if (typeof v !== 'string') return undefined;
    const parsed = parseTemplate(v);
    if (typeof parsed === 'string') return v;
    return parsed.map(p => ('variable' in p ? values[p.variable] ?? '' : p.text)).join('');
  };
  const isVariable = (v: unknown) => typeof v === 'string' && isUnfilledTemplate(v);
  if (Array.isArray(node)) return node.forEach(n => registerBasicAuth(n, values, masker));
  if (node && typeof node === 'object') {
    const o = node as Record<string, unknown>;
    const user = filled(o.username);
    const password = filled(o.password);
    if (user !== undefined && password !== undefined) masker.addBasicAuth(user, password, isVariable(o.username));
    for (const v of Object.values(o)) registerBasicAuth(v, values, masker);
    return;
  }
  const text = filled(node);
  const info = text === undefined ? null : /^[a-z][a-z0-9+.-]*:\/\/([^/?#]*)@/i.exec(text);
  if (!info || !info[1].includes(':')) return;
  const [user, password] = [info[1].slice(0, info[1].indexOf(':')), info[1].slice(info[1].indexOf(':') + 1)].map(safeDecode);
  masker.addBasicAuth(user, password, true);
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** A string that holds at least one well-formed `{{name}}` (a variable not yet filled in). */
function isUnfilledTemplate(s: string): boolean {
  if (!hasBraces(s)) return false;
  const parsed = parseTemplate(s);
  return typeof parsed !== 'string' && parsed.some(p => 'variable' in p);
}

/**
 * A copy for display (results, logs): every value below a protected key becomes `********`
 * (unfilled `{{name}}` references stay readable), and, when `template` (the RED before
 * filling) is given, every string that was filled from a variable becomes `********` too.
 */
export function maskRed<T extends Red>(red: T, template?: Red): T {
  return mapSecretLeaves(red, template, () => MASK);
}

/**
 * A copy to keep or share (the RED inside a run record): every secret value written in
 * the RED itself becomes a `{{variable}}` named after where it was
 * (`inputs.data.connector.access.auth.password` → `{{data_password}}`), so the copy
 * holds no secret and a re-run asks for it as for any variable. Unfilled `{{name}}`
 * references stay as they are. `red` must be the RED as written, before filling.
 */
export function templateSecrets<T extends Red>(red: T): T {
  const used = new Set(listVariables(red).map(v => v.name));
  return mapSecretLeaves(red, undefined, at => {
    const parts = at.path.split('.');
    const base = `${parts[0] === 'inputs' || parts[0] === 'outputs' ? parts[1] : parts[0]}_${parts[parts.length - 1]}`.replace(/[^A-Za-z0-9_]/g, '_');
    let name = base;
    for (let i = 2; used.has(name); i++) name = `${base}_${i}`;
    used.add(name);
    return `{{${name}}}`;
  });
}

/** A copy of `red` with each secret leaf (and, given `template`, each filled-in one) replaced by `replace`. */
function mapSecretLeaves<T extends Red>(red: T, template: Red | undefined, replace: (at: Visit) => string): T {
  const maskLeaf = (leaf: unknown, at: Visit, tmpl: unknown): unknown => {
    if (typeof tmpl === 'string' && tmpl !== leaf && isUnfilledTemplate(tmpl)) return replace(at);
    if (at.protected && leaf !== null && leaf !== undefined && typeof leaf !== 'boolean') {
      if (typeof leaf === 'string' && isUnfilledTemplate(leaf)) return leaf;
      return replace(at);
    }
    return leaf;
  };
  const rec = (node: unknown, tmpl: unknown, at: Visit): unknown => {
    if (Array.isArray(node)) {
      return node.map((v, i) => rec(v, Array.isArray(tmpl) ? tmpl[i] : undefined, { ...at, path: join(at.path, String(i)) }));
    }
    if (node && typeof node === 'object') {
      const out: Record<string, unknown> = {};
      const t = tmpl && typeof tmpl === 'object' && !Array.isArray(tmpl) ? (tmpl as Record<string, unknown>) : undefined;
      for (const [k, v] of Object.entries(node)) {
        out[k] = rec(v, t?.[k], {
          path: join(at.path, k),
          allowed: at.allowed || VARIABLE_PARENT_KEYS.includes(k),
          protected: at.protected || isSecretKeyAt(k, at)
        });
      }
      return out;
    }
    return maskLeaf(node, at, tmpl);
  };
  return rec(red, template, ROOT) as T;
}
