// The drift report in plain words for a terminal: what was checked before the run
// (inputs, image, engine), one line per output file, the logs, and a summary line that
// says whether `redlab rerun` exits 0 (nothing differs beyond tolerance) or 1 (drift).
import type { DriftReport, OutputDrift, OutputDriftKind } from '../../../src/red';

/** `redlab rerun`'s exit status for a report: 0 only when nothing differs beyond tolerance. */
export function driftExitStatus(report: DriftReport): 0 | 1 {
  return report.identical ? 0 : 1;
}

const KIND_WORDS: Record<OutputDriftKind, string> = {
  identical: 'identical',
  'within-tolerance': 'within tolerance',
  changed: 'CHANGED',
  missing: 'MISSING',
  extra: 'EXTRA',
  ignored: 'ignored'
};
const KIND_WIDTH = Math.max(...Object.values(KIND_WORDS).map(w => w.length));
/** Examples of differing values shown under a changed output. */
const EXAMPLES_SHOWN = 3;

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function short(sha?: string): string {
  return sha ? sha.slice(0, 12) : '?';
}

function outputLines(o: OutputDrift): string[] {
  const lines = [`  ${KIND_WORDS[o.kind].padEnd(KIND_WIDTH)}  ${o.path}${o.detail && o.kind !== 'identical' && o.kind !== 'ignored' ? `: ${o.detail}` : ''}`];
  if (o.kind === 'changed' && o.values) {
    for (const e of o.values.examples.slice(0, EXAMPLES_SHOWN)) lines.push(`  ${''.padEnd(KIND_WIDTH)}    ${e.where}: ${e.before} → ${e.after}`);
    if (o.values.differing > EXAMPLES_SHOWN) lines.push(`  ${''.padEnd(KIND_WIDTH)}    … ${o.values.differing - EXAMPLES_SHOWN} more`);
  }
  return lines;
}

/** The report as lines of text (ending in a newline), for stdout. */
export function formatDriftReport(report: DriftReport): string {
  const lines: string[] = [];
  const { atol, rtol, ignore } = report.options;
  lines.push(`Drift report (atol ${atol}, rtol ${rtol}${ignore.length ? `, ignoring ${ignore.join(' ')}` : ''})`);

  lines.push('inputs:');
  if (!report.inputs.length) lines.push('  (none)');
  for (const i of report.inputs) {
    const what = { identical: 'identical', changed: 'CHANGED', missing: 'MISSING', unchecked: 'not checked' }[i.kind];
    const hashes = i.kind === 'changed' ? ` (sha256 ${short(i.sha256?.before)}… before, ${short(i.sha256?.after)}… now)` : '';
    lines.push(`  ${i.key}: ${what}${hashes}${i.detail ? `: ${i.detail}` : ''}`);
  }
  const part = (name: string, p: { before: string; after: string; same: boolean; detail?: string }) =>
    `${name}: ${p.same ? `same (${p.before})` : `DIFFERS: ${p.before} before, ${p.after} now`}${p.detail ? `; ${p.detail}` : ''}`;
  lines.push(part('image', report.image));
  lines.push(part('engine', report.engine));
  if (report.exitCode && report.exitCode.before !== report.exitCode.after) lines.push(`exit code: DIFFERS: ${report.exitCode.before ?? 'none'} before, ${report.exitCode.after ?? 'none'} now`);

  lines.push('outputs:');
  if (!report.outputs.length) lines.push('  (none)');
  for (const o of report.outputs) lines.push(...outputLines(o));

  if (report.logs.length) lines.push('logs:');
  for (const l of report.logs) {
    lines.push(`  ${l.stream}: ${l.same ? 'same' : 'DIFFERS'}`);
    if (!l.same && l.diff) for (const d of l.diff.split('\n')) lines.push(`    ${d}`);
  }

  lines.push(summaryLine(report));
  return lines.join('\n') + '\n';
}

/** One line: identical or drift, with counts, and the exit status that follows. */
export function summaryLine(report: DriftReport): string {
  const count = (kind: OutputDriftKind) => report.outputs.filter(o => o.kind === kind).length;
  if (report.identical) {
    const same = [`${count('identical')} identical`];
    if (count('within-tolerance')) same.push(`${count('within-tolerance')} within tolerance`);
    if (count('ignored')) same.push(`${count('ignored')} ignored`);
    return `IDENTICAL within tolerance: ${plural(report.outputs.length, 'output file')} (${same.join(', ')}); exit status 0`;
  }
  const drift: string[] = [];
  const inputs = report.inputs.filter(i => i.kind === 'changed' || i.kind === 'missing').length;
  if (inputs) drift.push(`${plural(inputs, 'input')} changed or missing`);
  if (!report.image.same) drift.push('another image');
  if (!report.engine.same) drift.push('another engine');
  if (report.exitCode && report.exitCode.before !== report.exitCode.after) drift.push('another exit code');
  for (const kind of ['changed', 'missing', 'extra'] as const) if (count(kind)) drift.push(`${plural(count(kind), 'output file')} ${kind}`);
  const logs = report.logs.filter(l => !l.same).map(l => l.stream);
  if (logs.length) drift.push(`${logs.join(' and ')} differ${logs.length === 1 ? 's' : ''}`);
  return `DRIFT: ${drift.join(', ')}; exit status 1`;
}
