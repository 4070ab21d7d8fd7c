// How a re-run differs from the run it reproduces (a DriftReport), in plain words: one
// summary line, the image and engine before and after, the inputs that changed, one row
// per output file (the same, the same within tolerance, changed, missing, new, not
// compared) with a few differing values or the pixel count, and short log diffs.
import * as React from 'react';
import type { DriftReport, InputDrift, OutputDrift, OutputDriftKind } from '../../red';

/** What each output kind says to a reader. */
export const OUTPUT_KIND_WORDS: Record<OutputDriftKind, string> = {
  identical: 'the same',
  'within-tolerance': 'the same within tolerance',
  changed: 'changed',
  missing: 'missing in the re-run',
  extra: 'new in the re-run',
  ignored: 'not compared'
};

const INPUT_KIND_WORDS: Record<InputDrift['kind'], string> = {
  identical: 'the same',
  changed: 'changed',
  missing: 'missing',
  unchecked: 'not checked'
};

function count(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

/** The summary line: "Reproduced: …" when identical within tolerance, else what differs, counted. */
export function driftSummary(report: DriftReport): string {
  const by = (k: OutputDriftKind) => report.outputs.filter(o => o.kind === k).length;
  if (report.identical) {
    const files = report.outputs.length - by('ignored');
    const loose = by('within-tolerance');
    const ignored = by('ignored');
    const notes = [loose ? `${count(loose, 'file')} within tolerance` : '', ignored ? `${count(ignored, 'file')} not compared` : ''].filter(Boolean);
    return `Reproduced: identical to the original run (${count(files, 'output file')}${notes.length ? `; ${notes.join(', ')}` : ''}).`;
  }
  const parts: string[] = [];
  const changed = by('changed');
  const missing = by('missing');
  const extra = by('extra');
  if (changed) parts.push(`${count(changed, 'output')} changed`);
  if (missing) parts.push(`${count(missing, 'output')} missing`);
  if (extra) parts.push(`${count(extra, 'new output')}`);
  const inputs = report.inputs.filter(i => i.kind === 'changed' || i.kind === 'missing').length;
  if (inputs) parts.push(`${count(inputs, 'input')} changed`);
  if (!report.image.same) parts.push('another image');
  if (!report.engine.same) parts.push('another engine');
  if (report.exitCode && report.exitCode.before !== report.exitCode.after) parts.push(`exit code ${report.exitCode.before ?? '?'} → ${report.exitCode.after ?? '?'}`);
  const logs = report.logs.filter(l => !l.same).map(l => l.stream);
  if (logs.length) parts.push(`${logs.join(' and ')} differ${logs.length === 1 ? 's' : ''}`);
  return `Not identical: ${parts.join(', ') || 'see below'}.`;
}

/** Image IDs and digests shortened to 12 hex digits, as `docker images` shows them (the title keeps them whole). */
function shortIds(text: string): string {
  return text.replace(/sha256:([0-9a-f]{12})[0-9a-f]{52}/g, 'sha256:$1…');
}

function BeforeAfter(props: { label: string; part: { before: string; after: string; same: boolean; detail?: string }; testId: string }): JSX.Element {
  const { label, part } = props;
  return (
    <div className="jp-RedLab-drift-line" data-testid={props.testId} data-same={part.same}>
      <span className="jp-RedLab-drift-label">{label}:</span>{' '}
      {part.same ? (
        <span title={part.before}>the same ({shortIds(part.before)})</span>
      ) : (
        <span className="jp-RedLab-drift-differs" title={`before: ${part.before}\nnow: ${part.after}`}>
          {shortIds(part.before)} before, {shortIds(part.after)} now
        </span>
      )}
      {part.detail ? <div className="jp-RedLab-muted">{part.detail}</div> : null}
    </div>
  );
}

function sizeText(n: number | undefined): string {
  if (n === undefined) return '?';
  return n >= 1024 * 1024 ? `${(n / (1024 * 1024)).toFixed(1)} MiB` : n >= 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${n} bytes`;
}

/** The details under an output row: a few values that differ, or how many pixels. */
function OutputDetails({ output }: { output: OutputDrift }): JSX.Element | null {
  const v = output.values;
  const p = output.pixels;
  const lines: React.ReactNode[] = [];
  if (output.detail) lines.push(<div key="detail">{output.detail}</div>);
  if (p && !p.sizeBefore && output.kind === 'changed') lines.push(<div key="pixels">{`${p.differing} of ${p.total} pixels differ (${((100 * p.differing) / Math.max(1, p.total)).toPrecision(2)}%)`}</div>);
  if (v?.examples.length) {
    lines.push(
      <table key="values" className="jp-RedLab-drift-values" data-testid="redlab-drift-values">
        <thead>
          <tr>
            <th>where</th>
            <th>before</th>
            <th>after</th>
          </tr>
        </thead>
        <tbody>
          {v.examples.map((e, i) => (
            <tr key={i}>
              <td>{e.where}</td>
              <td>{e.before}</td>
              <td>{e.after}</td>
            </tr>
          ))}
        </tbody>
      </table>
    );
    if (v.differing > v.examples.length) lines.push(<div key="more" className="jp-RedLab-muted">{`… and ${v.differing - v.examples.length} more`}</div>);
  }
  if (v?.structure?.length && !output.detail?.includes(v.structure[0])) lines.push(<div key="structure">{v.structure.join('; ')}</div>);
  if (output.kind === 'changed' && !output.detail && output.size) lines.push(<div key="size">{`${sizeText(output.size.before)} before, ${sizeText(output.size.after)} now`}</div>);
  return lines.length ? <div className="jp-RedLab-drift-detail">{lines}</div> : null;
}

export interface DriftViewProps {
  report: DriftReport;
  /** How the original run is named (its start time), for the heading. */
  originalLabel?: string;
}

export function DriftView({ report, originalLabel }: DriftViewProps): JSX.Element {
  const changedInputs = report.inputs.filter(i => i.kind !== 'identical');
  const { atol, rtol, ignore } = report.options;
  return (
    <div className={`jp-RedLab-drift ${report.identical ? 'jp-RedLab-drift-identical' : 'jp-RedLab-drift-drifted'}`} data-testid="redlab-drift" data-identical={report.identical}>
      <div className="jp-RedLab-drift-summary" data-testid="redlab-drift-summary">
        {driftSummary(report)}
      </div>
      {originalLabel ? <div className="jp-RedLab-muted">Compared with the original run of {originalLabel}.</div> : null}
      <details className="jp-RedLab-drift-more" open={!report.identical}>
        <summary>Details</summary>
        <BeforeAfter label="Image" part={report.image} testId="redlab-drift-image" />
        <BeforeAfter label="Engine" part={report.engine} testId="redlab-drift-engine" />
        {report.exitCode && report.exitCode.before !== report.exitCode.after ? (
          <div className="jp-RedLab-drift-line jp-RedLab-drift-differs">
            Exit code: {report.exitCode.before ?? '?'} before, {report.exitCode.after ?? '?'} now
          </div>
        ) : null}
        <div className="jp-RedLab-drift-line" data-testid="redlab-drift-inputs">
          <span className="jp-RedLab-drift-label">Inputs:</span>{' '}
          {report.inputs.length === 0 ? 'none' : changedInputs.length === 0 ? `all ${report.inputs.length} the same` : null}
          {changedInputs.length ? (
            <ul className="jp-RedLab-drift-list">
              {changedInputs.map(i => (
                <li key={i.key} data-kind={i.kind} className={i.kind === 'unchecked' ? 'jp-RedLab-muted' : 'jp-RedLab-drift-differs'}>
                  {i.key}: {INPUT_KIND_WORDS[i.kind]}
                  {i.detail ? ` (${i.detail})` : ''}
                </li>
              ))}
            </ul>
          ) : null}
        </div>
        <table className="jp-RedLab-drift-outputs" data-testid="redlab-drift-outputs">
          <tbody>
            {report.outputs.map(o => (
              <tr key={o.path} data-testid="redlab-drift-output" data-kind={o.kind} className={`jp-RedLab-drift-${o.kind}`}>
                <td className="jp-RedLab-drift-path" title={o.output ? `output ${o.output}` : undefined}>
                  {o.path}
                </td>
                <td>
                  <span className="jp-RedLab-drift-kind">{OUTPUT_KIND_WORDS[o.kind]}</span>
                  {o.kind === 'identical' || o.kind === 'ignored' ? null : <OutputDetails output={o} />}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        {report.outputs.length === 0 ? <div className="jp-RedLab-muted">Neither run wrote an output file.</div> : null}
        {report.logs.map(l =>
          l.same ? null : (
            <details key={l.stream} className="jp-RedLab-drift-log" data-testid={`redlab-drift-log-${l.stream}`}>
              <summary>What the run printed ({l.stream}) differs</summary>
              <pre>{l.diff}</pre>
            </details>
          )
        )}
        {atol || rtol || ignore.length ? (
          <div className="jp-RedLab-muted">
            {atol || rtol ? `Numbers count as the same within ${atol} + ${rtol} × |before|. ` : ''}
            {ignore.length ? `Not compared: ${ignore.join(', ')}.` : ''}
          </div>
        ) : null}
      </details>
    </div>
  );
}
