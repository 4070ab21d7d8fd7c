// RunCellState → the run cell's outputs (nbformat JSON): a header (state, image,
// phases, progress, resources, final state), a note when old log lines were dropped,
// the log as `stream` outputs, an `error` output for a failed run, and the output
// files with previews. The header also carries the state itself (RUN_MIME), so a
// reopened notebook resumes from what its outputs show (restore.ts). Pure.
import type { LogStream } from '../red/bridge-api';
import { failureName } from './failure';
import { esc, formatBytes, formatDuration, shortSha, sparklineSvg, svgDataUri } from './html';
import { lastLines } from './logs';
import type { ArtifactView, PhaseView, Preview, RunCellState } from './types';

/** Machine-readable state in the header output (JupyterLab renders its text/html). */
export const RUN_MIME = 'application/vnd.redlab.run+json';
/** Marks the "earlier lines not shown" note. */
export const TRUNCATED_MIME = 'application/vnd.redlab.truncated+json';
/** Marks the output files table. */
export const ARTIFACTS_MIME = 'application/vnd.redlab.artifacts+json';

export type CellOutput =
  | { output_type: 'stream'; name: LogStream; text: string }
  | { output_type: 'display_data'; data: Record<string, unknown>; metadata: Record<string, unknown> }
  | { output_type: 'error'; ename: string; evalue: string; traceback: string[] };

export interface RenderLinks {
  log(stream: LogStream): string;
  output(name: string, batch?: number): string;
  record: string;
}

const STDERR_LINES_IN_ERROR = 15;
const PHASE_ORDER = ['pull', 'staging', 'running', 'collecting'];

export function renderOutputs(s: RunCellState, links: RenderLinks): CellOutput[] {
  const out: CellOutput[] = [header(s, links)];
  if (s.logs.dropped.stdout || s.logs.dropped.stderr) out.push(truncatedNote(s, links));
  for (const seg of s.logs.segments) out.push({ output_type: 'stream', name: seg.stream, text: seg.text });
  if (s.final?.state === 'failed' && s.final.failure) out.push(errorOutput(s));
  if (s.artifacts.length) out.push(artifactsOutput(s, links));
  return out;
}

/** The state as the header stores it: everything but the log text and previews. */
export function snapshot(s: RunCellState): Record<string, unknown> {
  const { connection: _c, connectionMessage: _m, ...rest } = s;
  // JSON round trip: outputs are JSON, `undefined` has no place there.
  return JSON.parse(
    JSON.stringify({
      ...rest,
      logs: { lines: s.logs.lines, dropped: s.logs.dropped },
      artifacts: s.artifacts.map(({ preview: _p, ...a }) => a)
    })
  );
}

function header(s: RunCellState, links: RenderLinks): CellOutput {
  const html: string[] = [];
  const text: string[] = [];
  html.push(
    `<div class="jp-RedLab-run-title"><span class="jp-RedLab-badge jp-RedLab-badge-${esc(s.state)}">${esc(s.state)}</span> ` +
      `RED Lab run <code>${esc(s.runId)}</code>` +
      (s.image ? ` · image <code>${esc(s.image)}</code>` : '') +
      (s.gpus ? ` · ${esc(s.gpus)}` : '') +
      `</div>`
  );
  text.push(`RED Lab run ${s.runId}: ${s.state}${s.image ? ` · image ${s.image}` : ''}${s.gpus ? ` · ${s.gpus}` : ''}`);

  if (s.phases.length) {
    const phases = [...s.phases].sort((a, b) => PHASE_ORDER.indexOf(a.phase) - PHASE_ORDER.indexOf(b.phase) || (a.batch ?? -1) - (b.batch ?? -1));
    html.push(`<div class="jp-RedLab-run-phases">${phases.map(p => `<span class="jp-RedLab-phase jp-RedLab-phase-${p.status}">${esc(phaseText(p))}</span>`).join(' → ')}</div>`);
    text.push(phases.map(phaseText).join(' → '));
  }

  const pull = pullProgress(s);
  if (pull) {
    html.push(`<div class="jp-RedLab-run-progress">pulling the image <progress max="${pull.total}" value="${pull.current}"></progress> ${esc(pull.label)}</div>`);
    text.push(`pulling the image: ${pull.label}`);
  }
  if (s.build) {
    const b = s.build;
    const step = b.stepIndex && b.stepCount ? `step ${b.stepIndex}/${b.stepCount}` : b.step ?? '';
    html.push(
      `<div class="jp-RedLab-run-progress">building the image ${b.stepIndex && b.stepCount ? `<progress max="${b.stepCount}" value="${b.stepIndex}"></progress> ` : ''}${esc(step)}` +
        (b.line ? ` <span class="jp-RedLab-muted">${esc(b.line.slice(0, 160))}</span>` : '') +
        `</div>`
    );
    text.push(`building the image: ${step}`);
  }

  if (s.stats && s.stats.samples.length) {
    const st = s.stats;
    const last = st.samples[st.samples.length - 1];
    const cpu = sparklineSvg(st.samples.map(x => x.cpu), { max: 100, color: '#1976d2' });
    const mem = sparklineSvg(st.samples.map(x => x.mem), { max: st.memLimit || undefined, color: '#7b1fa2' });
    const memText = `${formatBytes(last.mem)}${st.memLimit ? ` / ${formatBytes(st.memLimit)}` : ''}`;
    html.push(
      `<div class="jp-RedLab-run-stats">CPU <img class="jp-RedLab-spark" alt="CPU" src="${svgDataUri(cpu)}"/> ${last.cpu.toFixed(0)} %` +
        ` · memory <img class="jp-RedLab-spark" alt="memory" src="${svgDataUri(mem)}"/> ${esc(memText)}` +
        (st.pids !== undefined ? ` · ${st.pids} processes` : '') +
        `</div>`
    );
    text.push(`CPU ${last.cpu.toFixed(0)} % · memory ${memText}`);
  }

  if (s.final) {
    const f = s.final;
    const parts = [f.state, f.exitCode !== undefined ? `exit code ${f.exitCode}` : '', f.durationMs !== undefined ? `took ${formatDuration(f.durationMs)}` : ''].filter(Boolean);
    html.push(`<div class="jp-RedLab-run-final jp-RedLab-run-final-${esc(f.state)}">${esc(parts.join(' · '))}${f.failure && f.state !== 'failed' ? ` — ${esc(f.failure.reason)}` : ''}</div>`);
    text.push(parts.join(' · '));
  }

  for (const m of s.info) html.push(`<div class="jp-RedLab-muted">${esc(m)}</div>`);
  if (s.connection === 'retrying' && s.connectionMessage) {
    html.push(`<div class="jp-RedLab-run-connection">${esc(s.connectionMessage)}</div>`);
    text.push(s.connectionMessage);
  }

  html.push(
    `<div class="jp-RedLab-run-links">` +
      `<a href="${esc(links.log('stdout'))}" target="_blank" rel="noopener">stdout log</a> · ` +
      `<a href="${esc(links.log('stderr'))}" target="_blank" rel="noopener">stderr log</a> · ` +
      `<a href="${esc(links.record)}" target="_blank" rel="noopener">run record</a></div>`
  );
  return {
    output_type: 'display_data',
    data: { 'text/html': `<div class="jp-RedLab-run">${html.join('')}</div>`, 'text/plain': text.join('\n'), [RUN_MIME]: snapshot(s) },
    metadata: {}
  };
}

function phaseText(p: PhaseView): string {
  // Single runs have only batch 0; later batches get their number.
  const name = p.batch ? `${p.phase} #${p.batch}` : p.phase;
  return p.status === 'done' ? `${name} ✓${p.ms !== undefined ? ` ${formatDuration(p.ms)}` : ''}` : `${name} …`;
}

function pullProgress(s: RunCellState): { current: number; total: number; label: string } | undefined {
  if (!s.pull) return undefined;
  const layers = Object.values(s.pull.layers).filter(l => l.total);
  if (!layers.length) {
    const statuses = Object.values(s.pull.layers).map(l => l.status);
    return { current: 0, total: 1, label: statuses[statuses.length - 1] ?? '' };
  }
  const total = layers.reduce((a, l) => a + (l.total ?? 0), 0);
  const current = layers.reduce((a, l) => a + Math.min(l.current ?? 0, l.total ?? 0), 0);
  return { current, total, label: `${Math.round((current / total) * 100)} % (${formatBytes(current)} of ${formatBytes(total)})` };
}

function truncatedNote(s: RunCellState, links: RenderLinks): CellOutput {
  const { stdout, stderr } = s.logs.dropped;
  const parts = [stdout ? `${stdout} stdout` : '', stderr ? `${stderr} stderr` : ''].filter(Boolean).join(', ');
  const html =
    `<div class="jp-RedLab-run-truncated">… ${esc(parts)} line${stdout + stderr === 1 ? '' : 's'} not shown here. ` +
    (stdout ? `<a href="${esc(links.log('stdout'))}" target="_blank" rel="noopener">show full log (stdout)</a>` : '') +
    (stdout && stderr ? ' · ' : '') +
    (stderr ? `<a href="${esc(links.log('stderr'))}" target="_blank" rel="noopener">show full log (stderr)</a>` : '') +
    `</div>`;
  return {
    output_type: 'display_data',
    data: { 'text/html': html, 'text/plain': `… ${parts} lines not shown: ${links.log('stdout')}`, [TRUNCATED_MIME]: { stdout, stderr } },
    metadata: {}
  };
}

function errorOutput(s: RunCellState): CellOutput {
  const f = s.final!;
  const failure = f.failure!;
  const ename = failureName(failure.kind);
  let stderr = lastLines(s.logs, 'stderr', STDERR_LINES_IN_ERROR);
  // Log text dropped or never seen (a run resumed late): the bridge's error has the stderr tail.
  if (!stderr.length && f.error) stderr = f.error.split('\n').slice(1).filter(l => l.trim()).slice(-STDERR_LINES_IN_ERROR);
  const traceback = [
    `\x1b[31m${ename}\x1b[0m: ${failure.reason}`,
    ...(f.exitCode !== undefined && failure.kind !== 'exit-code' ? [`exit code ${f.exitCode}`] : []),
    ...(failure.fix ? [`\x1b[32mwhat to do\x1b[0m: ${failure.fix}`] : []),
    ...(stderr.length ? ['', `\x1b[33m--- last ${stderr.length} stderr line${stderr.length === 1 ? '' : 's'} ---\x1b[0m`, ...stderr] : [])
  ];
  return { output_type: 'error', ename, evalue: failure.reason, traceback };
}

function artifactsOutput(s: RunCellState, links: RenderLinks): CellOutput {
  const rows = s.artifacts.map(a => {
    const label = `${a.name}${a.file && a.file !== a.name ? ` · ${a.file}` : ''}${a.batch !== undefined ? ` (batch ${a.batch})` : ''}`;
    const link = a.class === 'File' ? `<a href="${esc(links.output(a.name, a.batch))}" target="_blank" rel="noopener">download</a>` : 'folder';
    return `<tr><td><code>${esc(label)}</code></td><td>${esc(formatBytes(a.size))}</td><td><code title="${esc(a.sha256)}">${esc(shortSha(a.sha256))}</code></td><td>${link}</td></tr>`;
  });
  const previews = s.artifacts.filter(a => a.preview && a.preview.kind !== 'none').map(a => previewHtml(a, a.preview!));
  const html =
    `<div class="jp-RedLab-artifacts"><table class="jp-RedLab-table"><thead><tr><th>output</th><th>size</th><th>sha256</th><th></th></tr></thead>` +
    `<tbody>${rows.join('')}</tbody></table>${previews.join('')}</div>`;
  const text = s.artifacts.map(a => `${a.name}${a.file && a.file !== a.name ? ` (${a.file})` : ''}${a.batch !== undefined ? ` (batch ${a.batch})` : ''}\t${formatBytes(a.size)}\t${shortSha(a.sha256)}\t${links.output(a.name, a.batch)}`).join('\n');
  return {
    output_type: 'display_data',
    data: { 'text/html': html, 'text/plain': text, [ARTIFACTS_MIME]: s.artifacts.map(a => ({ name: a.name, batch: a.batch, size: a.size, sha256: a.sha256 })) },
    metadata: {}
  };
}

function previewHtml(a: ArtifactView, p: Preview): string {
  const title = `<div class="jp-RedLab-preview-title"><code>${esc(a.file ?? a.name)}</code></div>`;
  switch (p.kind) {
    case 'image':
      return `<div class="jp-RedLab-preview">${title}<img class="jp-RedLab-preview-image" alt="${esc(a.name)}" src="${esc(p.dataUri)}"/></div>`;
    case 'csv': {
      const [head, ...body] = p.rows;
      const th = (head ?? []).map(c => `<th>${esc(c)}</th>`).join('');
      const trs = body.map(r => `<tr>${r.map(c => `<td>${esc(c)}</td>`).join('')}</tr>`).join('');
      return `<div class="jp-RedLab-preview">${title}<table class="jp-RedLab-table"><thead><tr>${th}</tr></thead><tbody>${trs}</tbody></table>${p.more ? '<div class="jp-RedLab-muted">… first lines only</div>' : ''}</div>`;
    }
    case 'json':
      return `<div class="jp-RedLab-preview">${title}<pre class="jp-RedLab-preview-json">${esc(p.text)}</pre></div>`;
    default:
      return '';
  }
}
