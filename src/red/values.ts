// Plain document values as the validator and the upgrade step see them: a mapping
// test, and the words an issue uses for a value it found ("the number 3", "a list").
//
// Pure TypeScript: no DOM, no Node APIs.

export type Obj = Record<string, unknown>;

/** A mapping (key: value pairs), not a list and not null. */
export function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** What a found value is, for "… but given X" messages; long strings are cut. */
export function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (v === undefined) return 'nothing';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 60 ? v.slice(0, 57) + '...' : v)}`;
  if (typeof v === 'number') return `the number ${String(v)}`;
  return `${typeof v} ${String(v)}`;
}
