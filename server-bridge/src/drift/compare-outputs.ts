// Compares the outputs of a recorded run with those of its re-run, file by file: equal
// sha256 (as the crates recorded them: nothing is hashed again) is identical; otherwise
// CSV and JSON files are compared value by value within a tolerance, PNG images pixel by
// pixel, anything else by size and hash. Files are read from the two output folders
// without following any link (a container wrote them).
import { createTwoFilesPatch } from 'diff';
import * as path from 'path';
import { PNG } from 'pngjs';
import { compareCsv, compareJson, withoutNotebookTimes, isIgnored, valueDriftKind, type OutputDrift, type PixelDrift, type RunCrateOutput, type Tolerance, type ValueDrift } from '../../../src/red';
import { SafeDir, withDir } from '../util/safe-fs';

export interface RecordedOutputs {
  /** The run's output folder (the crate's root): the outputs' paths are relative to it. */
  dir: string;
  outputs: RunCrateOutput[];
}

export interface CompareOptions extends Tolerance {
  /** Globs of output paths not to compare (isIgnored). */
  ignore: readonly string[];
}

/** Files bigger than this are compared by hash only (a value or pixel comparison reads the whole file). */
export const VALUE_COMPARE_MAX_BYTES = 64 * 1024 * 1024;

/** One file of an output: a file output, one file of a folder output, or what a connector sent. */
interface OutputFile {
  path: string;
  key: string;
  sha256: string;
  size: number;
  encodingFormat?: string;
  /** Sent through a connector: not in the folder, only its record can be compared. */
  sentTo?: string;
}

function filesOf(outputs: RunCrateOutput[]): Map<string, OutputFile> {
  const files = new Map<string, OutputFile>();
  for (const o of outputs) {
    // What a connector sent is not in the folder; its record may have no path (then it goes by its key).
    const sentTo = o.connector ? (o.url && /^[a-z][a-z0-9+.-]*:\/\//i.test(o.url) ? o.url : o.connector) : undefined;
    if (o.class === 'Directory' && o.files && !sentTo) {
      for (const f of o.files) files.set(f.path, { path: f.path, key: o.key, sha256: f.sha256, size: f.size });
    } else {
      const p = o.path || `${o.key} (sent by ${o.connector ?? 'a connector'})`;
      files.set(p, { path: p, key: o.key, sha256: o.sha256, size: o.size, encodingFormat: o.encodingFormat, ...(sentTo ? { sentTo } : {}) });
    }
  }
  return files;
}

type Format = 'csv' | 'tsv' | 'json' | 'ipynb' | 'png' | undefined;

function formatOf(f: OutputFile): Format {
  const ext = path.posix.extname(f.path).toLowerCase();
  const mime = f.encodingFormat?.toLowerCase();
  if (ext === '.csv' || mime === 'text/csv') return 'csv';
  if (ext === '.tsv' || mime === 'text/tab-separated-values') return 'tsv';
  if (ext === '.json' || mime === 'application/json') return 'json';
  if (ext === '.ipynb' || mime === 'application/x-ipynb+json') return 'ipynb';
  if (ext === '.png' || mime === 'image/png') return 'png';
  return undefined;
}

/** The bytes of `rel` below `dir`, never through a link. */
export async function readOutputFile(dir: string, rel: string): Promise<Buffer> {
  const parts = rel.split('/');
  return withDir(SafeDir.open(dir, `the output folder ${dir}`), root =>
    withDir(root.openDir(parts.slice(0, -1).join('/')), async folder => {
      const { handle } = await folder.openFile(parts[parts.length - 1], rel);
      try {
        return await handle.readFile();
      } finally {
        await handle.close();
      }
    })
  );
}

function pixelDrift(before: Buffer, after: Buffer): PixelDrift {
  const a = PNG.sync.read(before);
  const b = PNG.sync.read(after);
  if (a.width !== b.width || a.height !== b.height) {
    return { differing: Math.max(a.width * a.height, b.width * b.height), total: Math.max(a.width * a.height, b.width * b.height), sizeBefore: [a.width, a.height], sizeAfter: [b.width, b.height] };
  }
  // pngjs decodes every colour type and depth to 8-bit RGBA.
  let differing = 0;
  for (let i = 0; i < a.data.length; i += 4) {
    if (a.data[i] !== b.data[i] || a.data[i + 1] !== b.data[i + 1] || a.data[i + 2] !== b.data[i + 2] || a.data[i + 3] !== b.data[i + 3]) differing++;
  }
  return { differing, total: a.width * a.height };
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function valuesDetail(v: ValueDrift, unit: 'cell' | 'value'): string {
  const parts = [`${v.differing} of ${plural(v.compared, unit)} differ beyond the tolerance`];
  if (v.maxAbs !== undefined && v.maxAbs > 0) parts.push(`largest difference ${v.maxAbs.toPrecision(3)}${v.maxRel !== undefined ? ` (relative ${v.maxRel.toPrecision(3)})` : ''}`);
  if (v.structure?.length) parts.push(v.structure.join('; '));
  return parts.join('; ');
}

/** What differs between two files whose bytes differ. */
async function compareChanged(before: RecordedOutputs, after: RecordedOutputs, a: OutputFile, b: OutputFile, tol: Tolerance): Promise<Partial<OutputDrift> & Pick<OutputDrift, 'kind'>> {
  const format = formatOf(b) ?? formatOf(a);
  const sizes = `${plural(a.size, 'byte')} before, ${b.size} after`;
  if (a.sentTo || b.sentTo) return { kind: 'changed', detail: `sent to ${b.sentTo ?? a.sentTo}: compared by the recorded sha256 only (${sizes})` };
  if (!format) return { kind: 'changed', detail: `other bytes (${sizes})` };
  if (a.size > VALUE_COMPARE_MAX_BYTES || b.size > VALUE_COMPARE_MAX_BYTES) return { kind: 'changed', detail: `other bytes (${sizes}); too big for a ${format === 'png' ? 'pixel' : 'value'} comparison` };
  let bytesBefore: Buffer;
  let bytesAfter: Buffer;
  try {
    [bytesBefore, bytesAfter] = await Promise.all([readOutputFile(before.dir, a.path), readOutputFile(after.dir, b.path)]);
  } catch (err) {
    return { kind: 'changed', detail: `other bytes (${sizes}); cannot read it to compare values: ${(err as Error).message}` };
  }
  try {
    if (format === 'png') {
      const pixels = pixelDrift(bytesBefore, bytesAfter);
      if (pixels.sizeBefore) return { kind: 'changed', pixels, detail: `image size ${pixels.sizeBefore.join('×')} before, ${pixels.sizeAfter!.join('×')} after` };
      if (!pixels.differing) return { kind: 'within-tolerance', pixels, detail: 'the same pixels in other bytes (metadata or compression)' };
      return { kind: 'changed', pixels, detail: `${pixels.differing} of ${plural(pixels.total, 'pixel')} differ` };
    }
    if (format === 'ipynb') {
      // An executed notebook carries the times of its run: compared without them, as JSON.
      const values = compareJson(withoutNotebookTimes(JSON.parse(bytesBefore.toString('utf8'))), withoutNotebookTimes(JSON.parse(bytesAfter.toString('utf8'))), tol);
      const kind = valueDriftKind(values);
      return { kind, values, detail: kind === 'within-tolerance' ? 'the same cells and outputs (within the tolerance); only the run times differ' : valuesDetail(values, 'value') };
    }
    const values =
      format === 'json'
        ? compareJson(JSON.parse(bytesBefore.toString('utf8')), JSON.parse(bytesAfter.toString('utf8')), tol)
        : compareCsv(bytesBefore.toString('utf8'), bytesAfter.toString('utf8'), tol, { delimiter: format === 'tsv' ? '\t' : ',' });
    const kind = valueDriftKind(values);
    return { kind, values, detail: kind === 'within-tolerance' ? `every value within the tolerance${values.maxAbs ? ` (largest difference ${values.maxAbs.toPrecision(3)})` : ''}` : valuesDetail(values, format === 'json' ? 'value' : 'cell') };
  } catch (err) {
    return { kind: 'changed', detail: `other bytes (${sizes}); not comparable as ${format.toUpperCase()}: ${(err as Error).message}` };
  }
}

/**
 * Each output file of the run before and after, in the order of the run before (files
 * only the re-run has last): identical (same recorded sha256), within-tolerance, changed,
 * missing (only before), extra (only after), ignored (its path matches an --ignore glob).
 */
export async function compareOutputs(before: RecordedOutputs, after: RecordedOutputs, opts: CompareOptions): Promise<OutputDrift[]> {
  const a = filesOf(before.outputs);
  const b = filesOf(after.outputs);
  const paths = [...a.keys(), ...[...b.keys()].filter(p => !a.has(p))];
  const tol = { atol: opts.atol, rtol: opts.rtol };
  const out: OutputDrift[] = [];
  for (const p of paths) {
    const fa = a.get(p);
    const fb = b.get(p);
    const base: OutputDrift = {
      path: p,
      output: (fa ?? fb)!.key,
      kind: 'identical',
      sha256: { ...(fa ? { before: fa.sha256 } : {}), ...(fb ? { after: fb.sha256 } : {}) },
      size: { ...(fa ? { before: fa.size } : {}), ...(fb ? { after: fb.size } : {}) }
    };
    if (isIgnored(p, opts.ignore)) out.push({ ...base, kind: 'ignored' });
    else if (!fb) out.push({ ...base, kind: 'missing', detail: 'the re-run did not write it' });
    else if (!fa) out.push({ ...base, kind: 'extra', detail: 'only the re-run wrote it' });
    else if (fa.sha256 === fb.sha256) out.push(base);
    else out.push({ ...base, ...(await compareChanged(before, after, fa, fb, tol)) });
  }
  return out;
}

/** Lines of a log diff shown at most. */
export const LOG_DIFF_MAX_LINES = 40;

/**
 * Whether two logs (stdout or stderr of the run before and after) are the same, and if
 * not a short unified diff (two lines of context, at most LOG_DIFF_MAX_LINES lines).
 */
export function compareLogs(beforeText: string, afterText: string, name = 'log'): { same: boolean; diff?: string } {
  if (beforeText === afterText) return { same: true };
  // A bound on the work: logs that differ everywhere are not worth a line-by-line diff.
  const patch = createTwoFilesPatch(`${name} before`, `${name} after`, beforeText, afterText, undefined, undefined, { context: 2, maxEditLength: 5000 });
  if (patch === undefined) {
    const lines = (t: string) => t.split('\n').length - (t.endsWith('\n') ? 1 : 0);
    return { same: false, diff: `(too different for a line diff: ${plural(lines(beforeText), 'line')} before, ${lines(afterText)} after)` };
  }
  // Without the "=====" line jsdiff puts first, and the "\ No newline" markers.
  const lines = patch.split('\n').filter(l => !/^=+$/.test(l) && !l.startsWith('\\ No newline') && l !== '');
  const shown = lines.slice(0, LOG_DIFF_MAX_LINES);
  if (lines.length > shown.length) shown.push(`… (${lines.length - shown.length} more lines)`);
  return { same: false, diff: shown.join('\n') };
}
