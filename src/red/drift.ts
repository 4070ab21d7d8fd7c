// A drift report: how a re-run of a recorded run differs from it (inputs, image, engine,
// outputs, logs). The wire shape shared by `redlab rerun --json`, the bridge's drift
// route and the panel's drift view. Pure types (and pure comparisons as they are added).
import { globToRegExp } from './glob';

export type OutputDriftKind = 'identical' | 'within-tolerance' | 'changed' | 'missing' | 'extra' | 'ignored';

/** Value-level comparison of a CSV or JSON output. */
export interface ValueDrift {
  /** Cells (CSV) or leaves (JSON) compared. */
  compared: number;
  /** Of those, how many differ beyond atol/rtol. */
  differing: number;
  /** Largest absolute and relative difference among numbers. */
  maxAbs?: number;
  maxRel?: number;
  /** A few differences, in words: where (row/column or JSON path), before, after. */
  examples: { where: string; before: string; after: string }[];
  /** Structure that differs (columns, row count, keys), in words. */
  structure?: string[];
}

/** Pixel comparison of an image output (PNG). */
export interface PixelDrift {
  differing: number;
  total: number;
  /** [width, height] when the sizes differ. */
  sizeBefore?: [number, number];
  sizeAfter?: [number, number];
}

export interface OutputDrift {
  /** The file's path relative to the run's output folder (a folder's files are listed one by one). */
  path: string;
  /** The RED output key it belongs to, when known. */
  output?: string;
  kind: OutputDriftKind;
  sha256?: { before?: string; after?: string };
  size?: { before?: number; after?: number };
  values?: ValueDrift;
  pixels?: PixelDrift;
  /** What differs, in words. */
  detail?: string;
}

export interface InputDrift {
  /** The RED input key. */
  key: string;
  kind: 'identical' | 'changed' | 'missing' | 'unchecked';
  sha256?: { before?: string; after?: string };
  detail?: string;
}

export interface DriftReport {
  /** True when nothing differs beyond tolerance (ignored files do not count): `redlab rerun` exits 0 only then. */
  identical: boolean;
  inputs: InputDrift[];
  image: { before: string; after: string; same: boolean; detail?: string };
  engine: { before: string; after: string; same: boolean; detail?: string };
  exitCode?: { before?: number; after?: number };
  outputs: OutputDrift[];
  /** stdout/stderr of the run (batch) compared; `diff` is a short unified diff when they differ. */
  logs: { stream: 'stdout' | 'stderr'; same: boolean; diff?: string }[];
  options: { atol: number; rtol: number; ignore: string[] };
}

// ---------------------------------------------------------------------------------------
// Pure comparisons (no I/O): CSV and JSON values within a tolerance, ignore globs, and
// whether a report as a whole is identical.

export interface Tolerance {
  /** Absolute tolerance. */
  atol: number;
  /** Relative tolerance, of the value before. */
  rtol: number;
}

/** How many differences a ValueDrift keeps as examples, and how many structure lines. */
export const DRIFT_EXAMPLES = 10;
const STRUCTURE_LINES = 20;
const SHOWN_CHARS = 80;

/** `|after - before| <= atol + rtol * |before|` (numpy.isclose with the run before as reference); NaN equals NaN, infinities only themselves. */
export function withinTolerance(before: number, after: number, tol: Tolerance): boolean {
  if (Number.isNaN(before) || Number.isNaN(after)) return Number.isNaN(before) && Number.isNaN(after);
  if (!Number.isFinite(before) || !Number.isFinite(after)) return before === after;
  return Math.abs(after - before) <= tol.atol + tol.rtol * Math.abs(before);
}

/** A number as text in a data file: decimal or exponent notation, NaN, Inf (not hex, not '' and not ' 1 2'). */
export function parseNumberCell(text: string): number | undefined {
  const t = text.trim();
  if (/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(t)) return Number(t);
  if (/^[+-]?nan$/i.test(t)) return NaN;
  if (/^[+-]?inf(inity)?$/i.test(t)) return t.startsWith('-') ? -Infinity : Infinity;
  return undefined;
}

export class CsvParseError extends Error {
  constructor(readonly line: number, detail: string) {
    super(`line ${line}: ${detail}`);
    this.name = 'CsvParseError';
  }
}

/**
 * Parses CSV text as RFC 4180 says (and as Python's csv module reads it): fields split at
 * `delimiter`, records at CRLF, LF or CR; a field in double quotes may hold delimiters,
 * line breaks and `""` for a quote. A leading byte order mark is dropped, blank lines are
 * skipped. A quote in the middle of an unquoted field is kept as a character. Throws
 * CsvParseError for a quoted field that is never closed or has text after its closing quote.
 */
export function parseCsv(text: string, delimiter = ','): string[][] {
  if (delimiter.length !== 1 || delimiter === '"' || delimiter === '\n' || delimiter === '\r') throw new Error(`the CSV delimiter must be one character other than a quote or line break, got ${JSON.stringify(delimiter)}`);
  const s = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  const n = s.length;
  const records: string[][] = [];
  let record: string[] = [];
  let field = '';
  /** The current field was quoted: only a delimiter or line break may follow its closing quote. */
  let quoted = false;
  let line = 1;
  const endField = () => {
    record.push(field);
    field = '';
  };
  const endRecord = () => {
    const blank = record.length === 0 && field === '' && !quoted;
    endField();
    if (!blank) records.push(record);
    record = [];
    quoted = false;
  };
  let i = 0;
  while (i < n) {
    const c = s[i];
    if (c === delimiter) {
      endField();
      quoted = false;
      i++;
    } else if (c === '\n' || c === '\r') {
      endRecord();
      i += c === '\r' && s[i + 1] === '\n' ? 2 : 1;
      line++;
    } else if (quoted) {
      throw new CsvParseError(line, `text after the closing quote of a field ("${s.slice(i, i + 10)}…"): a quote inside a quoted field is written ""`);
    } else if (c === '"' && field === '') {
      // A quoted field: up to the quote that is not doubled.
      const startLine = line;
      let closed = false;
      for (i++; i < n; i++) {
        if (s[i] === '"') {
          if (s[i + 1] !== '"') {
            closed = true;
            i++;
            break;
          }
          i++;
        } else if (s[i] === '\n' || (s[i] === '\r' && s[i + 1] !== '\n')) {
          line++;
        }
        field += s[i];
      }
      if (!closed) throw new CsvParseError(startLine, 'a quoted field is not closed by a quote');
      quoted = true;
    } else {
      field += c;
      i++;
    }
  }
  if (field !== '' || quoted || record.length) endRecord();
  return records;
}

/** Text of a value for an example, cut to a readable length. */
function shown(text: string): string {
  return text.length > SHOWN_CHARS ? `${text.slice(0, SHOWN_CHARS - 1)}…` : text;
}

/** Collects differences: counts, the largest number differences, a few examples. */
class DiffCollector {
  compared = 0;
  differing = 0;
  maxAbs: number | undefined;
  maxRel: number | undefined;
  readonly examples: ValueDrift['examples'] = [];
  private readonly structure: string[] = [];
  private structureMore = 0;

  constructor(private readonly tol: Tolerance) {}

  /** Compares two values as numbers when both are numbers, else as text. */
  value(where: string, before: string | number, after: string | number, beforeText: string, afterText: string): void {
    this.compared++;
    let same: boolean;
    if (typeof before === 'number' && typeof after === 'number') {
      same = withinTolerance(before, after, this.tol);
      if (Number.isFinite(before) && Number.isFinite(after)) {
        const abs = Math.abs(after - before);
        this.maxAbs = Math.max(this.maxAbs ?? 0, abs);
        if (before !== 0) this.maxRel = Math.max(this.maxRel ?? 0, abs / Math.abs(before));
      }
    } else {
      same = before === after;
    }
    if (!same) this.differ(where, beforeText, afterText);
  }

  differ(where: string, before: string, after: string): void {
    this.differing++;
    if (this.examples.length < DRIFT_EXAMPLES) this.examples.push({ where, before: shown(before), after: shown(after) });
  }

  structural(line: string): void {
    if (this.structure.length < STRUCTURE_LINES) this.structure.push(line);
    else this.structureMore++;
  }

  result(): ValueDrift {
    const structure = this.structureMore ? [...this.structure, `… and ${this.structureMore} more`] : this.structure;
    return {
      compared: this.compared,
      differing: this.differing,
      ...(this.maxAbs !== undefined ? { maxAbs: this.maxAbs } : {}),
      ...(this.maxRel !== undefined ? { maxRel: this.maxRel } : {}),
      examples: this.examples,
      ...(structure.length ? { structure } : {})
    };
  }
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** A first row of names (no cell a number, no empty or repeated name) reads as a header. */
function isHeader(row: string[] | undefined): row is string[] {
  return !!row && row.length > 0 && row.every(c => c.trim() !== '' && parseNumberCell(c) === undefined) && new Set(row).size === row.length;
}

/**
 * Compares two CSV texts cell by cell: numbers (in both) within the tolerance, other
 * cells as text. When both first rows are headers, columns are matched by name (a column
 * only one side has is a structure difference); otherwise by position. Rows are matched
 * by position; extra rows are a structure difference. Rows are numbered as a spreadsheet
 * shows them (the header is row 1). Throws CsvParseError when either side is not CSV.
 */
export function compareCsv(before: string, after: string, tol: Tolerance, opts: { delimiter?: string } = {}): ValueDrift {
  const a = parseCsv(before, opts.delimiter);
  const b = parseCsv(after, opts.delimiter);
  const out = new DiffCollector(tol);
  const headers = isHeader(a[0]) && isHeader(b[0]);
  // Columns compared: [name for messages, index before, index after].
  let columns: [string, number, number][] = [];
  if (headers) {
    const ha = a[0];
    const hb = b[0];
    columns = ha.filter(name => hb.includes(name)).map(name => [name, ha.indexOf(name), hb.indexOf(name)]);
    const gone = ha.filter(name => !hb.includes(name));
    const added = hb.filter(name => !ha.includes(name));
    if (gone.length) out.structural(`column${gone.length === 1 ? '' : 's'} ${gone.map(c => JSON.stringify(c)).join(', ')} only before`);
    if (added.length) out.structural(`column${added.length === 1 ? '' : 's'} ${added.map(c => JSON.stringify(c)).join(', ')} only after`);
    const common = ha.filter(name => hb.includes(name));
    if (!gone.length && !added.length && common.some((name, i) => hb.indexOf(name) !== i)) out.structural(`columns in another order: ${hb.map(c => JSON.stringify(c)).join(', ')} (before: ${ha.map(c => JSON.stringify(c)).join(', ')})`);
  }
  const first = headers ? 1 : 0;
  const rows = Math.min(a.length, b.length);
  for (let r = first; r < rows; r++) {
    const ra = a[r];
    const rb = b[r];
    const rowName = `row ${r + 1}`;
    let cols = columns;
    if (!headers) {
      if (ra.length !== rb.length) out.structural(`${rowName}: ${plural(ra.length, 'cell')} before, ${rb.length} after`);
      cols = Array.from({ length: Math.min(ra.length, rb.length) }, (_, i) => [String(i + 1), i, i]);
    } else if (ra.length !== a[0].length || rb.length !== b[0].length) {
      out.structural(`${rowName}: ${ra.length} cells before (header ${a[0].length}), ${rb.length} after (header ${b[0].length})`);
    }
    for (const [name, ia, ib] of cols) {
      if (ia >= ra.length || ib >= rb.length) continue;
      const ca = ra[ia];
      const cb = rb[ib];
      const na = parseNumberCell(ca);
      const nb = parseNumberCell(cb);
      const where = `${rowName}, column ${headers ? JSON.stringify(name) : name}`;
      if (na !== undefined && nb !== undefined) out.value(where, na, nb, ca, cb);
      else out.value(where, ca, cb, ca, cb);
    }
  }
  if (a.length !== b.length) out.structural(`${plural(a.length - first, 'row')} before, ${b.length - first} after${headers ? ' (not counting the header)' : ''}`);
  return out.result();
}

/** `$.a.b[2]`, with keys that are not plain names in brackets: `$["a key"]`. */
function jsonPath(parent: string, key: string | number): string {
  if (typeof key === 'number') return `${parent}[${key}]`;
  return /^[A-Za-z_$][\w$]*$/.test(key) ? `${parent}.${key}` : `${parent}[${JSON.stringify(key)}]`;
}

function jsonKind(v: unknown): 'object' | 'array' | 'leaf' {
  return Array.isArray(v) ? 'array' : v !== null && typeof v === 'object' ? 'object' : 'leaf';
}

function jsonText(v: unknown): string {
  return v === undefined ? 'undefined' : JSON.stringify(v);
}

/**
 * Compares two parsed JSON values leaf by leaf (a leaf: a string, number, boolean, null,
 * or an empty object or array), numbers within the tolerance. Keys only one side has,
 * arrays of different lengths (the common items are compared) and an object where the
 * other has an array or a leaf are structure differences, named by their JSON path.
 */
export function compareJson(before: unknown, after: unknown, tol: Tolerance): ValueDrift {
  const out = new DiffCollector(tol);
  const walk = (a: unknown, b: unknown, where: string): void => {
    const ka = jsonKind(a);
    const kb = jsonKind(b);
    if (ka !== kb && (ka !== 'leaf' || kb !== 'leaf')) {
      const what = (k: string, v: unknown) => (k === 'leaf' ? jsonText(v) : `an ${k}`);
      if (ka === 'leaf' || kb === 'leaf') out.value(where, jsonText(a), jsonText(b), shown(what(ka, a)), shown(what(kb, b)));
      else out.structural(`${where}: an ${ka} before, an ${kb} after`);
      return;
    }
    if (ka === 'array') {
      const xa = a as unknown[];
      const xb = b as unknown[];
      if (!xa.length && !xb.length) return out.value(where, '[]', '[]', '[]', '[]');
      if (xa.length !== xb.length) out.structural(`${where}: ${plural(xa.length, 'item')} before, ${xb.length} after`);
      for (let i = 0; i < Math.min(xa.length, xb.length); i++) walk(xa[i], xb[i], jsonPath(where, i));
      return;
    }
    if (ka === 'object') {
      const oa = a as Record<string, unknown>;
      const ob = b as Record<string, unknown>;
      const keysA = Object.keys(oa);
      const keysB = Object.keys(ob);
      if (!keysA.length && !keysB.length) return out.value(where, '{}', '{}', '{}', '{}');
      for (const k of keysA) {
        if (Object.prototype.hasOwnProperty.call(ob, k)) walk(oa[k], ob[k], jsonPath(where, k));
        else out.structural(`${jsonPath(where, k)} only before`);
      }
      for (const k of keysB) if (!Object.prototype.hasOwnProperty.call(oa, k)) out.structural(`${jsonPath(where, k)} only after`);
      return;
    }
    if (typeof a === 'number' && typeof b === 'number') out.value(where, a, b, jsonText(a), jsonText(b));
    else out.value(where, jsonText(a), jsonText(b), jsonText(a), jsonText(b));
  };
  walk(before, after, '$');
  return out.result();
}

/**
 * An executed notebook without what changes on every run though nothing ran differently:
 * papermill's start/end times and durations (the notebook's and each cell's) and
 * nbclient's per-cell `execution` timestamps. Cells, outputs and values stay.
 */
export function withoutNotebookTimes(nb: unknown): unknown {
  if (!nb || typeof nb !== 'object' || Array.isArray(nb)) return nb;
  const copy = JSON.parse(JSON.stringify(nb)) as { metadata?: Record<string, unknown>; cells?: { metadata?: Record<string, unknown> }[] };
  const dropTimes = (pm: unknown) => {
    if (pm && typeof pm === 'object') for (const k of ['start_time', 'end_time', 'duration']) delete (pm as Record<string, unknown>)[k];
  };
  dropTimes(copy.metadata?.papermill);
  for (const cell of Array.isArray(copy.cells) ? copy.cells : []) {
    if (!cell?.metadata) continue;
    dropTimes(cell.metadata.papermill);
    delete cell.metadata.execution;
  }
  return copy;
}

/**
 * The kind of a file whose bytes differ, from its value comparison: within-tolerance when
 * no value differs beyond the tolerance and the structure is the same, else changed.
 */
export function valueDriftKind(values: ValueDrift): 'within-tolerance' | 'changed' {
  return values.differing === 0 && !values.structure?.length ? 'within-tolerance' : 'changed';
}

/**
 * Whether `--ignore` globs cover a relative path (of an output file, or `run-record/stdout.txt`
 * for a log). A glob with a `/` matches the whole path (`results/*.png`, `**\/*.log`); one
 * without matches a file's name in any folder (`*.log`), as .gitignore does. A glob that
 * matches a folder covers everything in it (`logs`, `run-*`). Globs match as output globs do
 * (glob.ts): `*` and `?` stay within a name, `**` spans folders, `[abc]` classes; wildcards
 * do not match names starting with "." unless the glob's name does.
 */
export function isIgnored(path: string, globs: readonly string[]): boolean {
  const rel = path.replace(/^(\.\/)+/, '');
  const parts = rel.split('/').filter(Boolean);
  return globs.some(raw => {
    const glob = raw.replace(/^(\.\/)+/, '').replace(/\/+$/, '');
    if (!glob) return false;
    const re = globToRegExp(glob);
    if (!glob.includes('/')) return parts.some(name => re.test(name));
    // The path or any folder above it.
    for (let i = parts.length; i > 0; i--) if (re.test(parts.slice(0, i).join('/'))) return true;
    return false;
  });
}

/** Output kinds that are not drift. */
const SAME_OUTPUT: readonly OutputDriftKind[] = ['identical', 'within-tolerance', 'ignored'];

/**
 * Whether a report shows no drift: every checked input the same, the same image and
 * engine, the same exit code, every output identical, within tolerance or ignored, and
 * the same logs (a log whose path is ignored does not count; `logs` lists only those that count).
 */
export function isIdentical(report: Omit<DriftReport, 'identical'>): boolean {
  return (
    report.inputs.every(i => i.kind === 'identical' || i.kind === 'unchecked') &&
    report.image.same &&
    report.engine.same &&
    (report.exitCode === undefined || report.exitCode.before === report.exitCode.after) &&
    report.outputs.every(o => SAME_OUTPUT.includes(o.kind)) &&
    report.logs.every(l => l.same)
  );
}
