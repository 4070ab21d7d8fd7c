// CWL input types as RED writes them: a primitive, optionally followed by `[]` (a
// list) and/or `?` (optional). Parsed once here for the validator, the command line
// builder and the panel; plus the type a user most likely meant by a wrong one.
//
// Pure TypeScript: no DOM, no Node APIs.

import { didYouMean } from './suggest';
import type { CwlPrimitive } from './types';

export const CWL_PRIMITIVES: readonly CwlPrimitive[] = ['File', 'Directory', 'string', 'int', 'long', 'float', 'double', 'boolean'];

export interface CwlType {
  base: CwlPrimitive;
  array: boolean;
  optional: boolean;
  /** The type as written, e.g. `int[]?`. */
  text: string;
}

/** `int[]?` → {base: int, array, optional}; undefined for anything that is not a CWL input type. */
export function parseCwlType(s: unknown): CwlType | undefined {
  if (typeof s !== 'string') return undefined;
  const m = /^([A-Za-z]+)(\[\])?(\?)?$/.exec(s);
  if (!m || !(CWL_PRIMITIVES as readonly string[]).includes(m[1])) return undefined;
  return { base: m[1] as CwlPrimitive, array: !!m[2], optional: !!m[3], text: s };
}

/**
 * The parts of a type as written, whatever its base (`x[]?` → {base: 'x', array, optional}):
 * for code past validation, and for fields that show what a user typed.
 */
export function splitCwlType(type: string): { base: string; array: boolean; optional: boolean } {
  let s = String(type).trim();
  const optional = s.endsWith('?');
  if (optional) s = s.slice(0, -1);
  const array = s.endsWith('[]');
  if (array) s = s.slice(0, -2);
  return { base: s, array, optional };
}

const ALL_INPUT_TYPES = CWL_PRIMITIVES.flatMap(p => [p, `${p}[]`, `${p}?`, `${p}[]?`]);

const TYPE_ALIASES: Record<string, CwlPrimitive> = {
  str: 'string',
  text: 'string',
  integer: 'int',
  number: 'float',
  bool: 'boolean',
  file: 'File',
  dir: 'Directory',
  directory: 'Directory',
  folder: 'Directory'
};

/** A likely meant CWL input type for a wrong one: `strng` → `string`, `int?[]` → `int[]?`, `bool` → `boolean`. */
export function suggestInputType(data: unknown): string | undefined {
  if (typeof data !== 'string') return undefined;
  const m = /^\s*([A-Za-z]+)\s*(.*)$/.exec(data);
  if (!m) return didYouMean(data, ALL_INPUT_TYPES);
  const word = m[1];
  const base =
    (CWL_PRIMITIVES as readonly string[]).find(p => p === word) ??
    TYPE_ALIASES[word.toLowerCase()] ??
    didYouMean(word, CWL_PRIMITIVES);
  if (!base) return didYouMean(data, ALL_INPUT_TYPES);
  const rest = m[2];
  const candidate = `${base}${rest.includes('[') ? '[]' : ''}${rest.includes('?') ? '?' : ''}`;
  return candidate !== data ? candidate : undefined;
}
