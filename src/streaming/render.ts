// RunCellState → the run record's rendering: one line of HTML that is the source of the
// run cell (a Markdown cell, so no kernel action runs or clears it): a header (state,
// image, phases, progress, resources, final state), a note when old log lines were
// dropped, the log, a failure section for a failed run, and the output files with
// previews. One line: a blank line would end Markdown's HTML block, and `$`/`\` are
// entities (html.ts), so Markdown and LaTeX leave it alone; MathJax skips `mathjax_ignore`.
// The state itself goes into the cell's metadata (snapshot, restore.ts). Pure.
import { transferText, type LogStream } from '../red';
import { failureName } from './failure';
import { esc, formatBytes, formatDuration, shortSha, sparklineSvg, svgDataUri } from './html';
import { isRunnerStatusLine, lastLines } from './logs';
import { markFailedPhases } from './reducer';
import type { ArtifactView, PhaseView, Preview, RunCellState } from './types';

export interface RenderLinks {
  log(stream: LogStream): string;
  output(name: string, batch?: number): string;
  record: string;
}

const STDERR_LINES_IN_ERROR = 15;
const PHASE_ORDER = ['pull', 'staging', 'running', 'collecting'];
/** Root classes: styles, MathJax off, and what tests and restore look for. */
export const RUN_RECORD_CLASS = 'jp-RedLab-run';
// eslint-disable-next-line no-control-regex
const ANSI = /\x1b\[[0-9;?]*[ -/]*[@-~]/g;

/** The run cell's source. */
export function renderRecord(s: RunCellState, links: RenderLinks): string {
  const parts = [header(s, links)];
  if (s.logs.dropped.stdout || s.logs.dropped.stderr) parts.push(truncatedNote(s, links));
  if (s.logs.segments.length) parts.push(logHtml(s));
  if (s.final?.state === 'failed' && s.final.failure) parts.push(failureHtml(s));
  if (s.artifacts.length) parts.push(artifactsHtml(s, links));
  return `<div class="${RUN_RECORD_CLASS} mathjax_ignore tex2jax_ignore">${parts.join('')}</div>`;
}

/** The state as the cell's metadata keeps it: everything but the log text, previews and the connection. */
export function snapshot(s: RunCellState): Record<string, unknown> {
  const { connection: _c, connectionMessage: _m, ...rest } = s;
  // JSON round trip: metadata is JSON, `undefined` has no place there.
  return JSON.parse(
    JSON.stringify({
      ...rest,
      logs: { lines: s.logs.lines, dropped: s.logs.dropped },
      artifacts: s.artifacts.map(({ preview: _p, ...a }) => a)
    })
  );
}

function header(s: RunCellState, links: RenderLinks): string {
  const html: string[] = [];
  html.push(
    `<div class="jp-RedLab-run-title"><span class="jp-RedLab-badge jp-RedLab-badge-${esc(s.state)}">${esc(s.state)}</span> ` +
      `RED Lab run <code>${esc(s.runId)}</code>` +
      (s.image ? ` · image <code>${esc(s.image)}</code>` : '') +
      (s.gpus ? ` · ${esc(s.gpus)}` : '') +
      `</div>`,
    ...(s.execution ? [`<div class="jp-RedLab-run-execution jp-RedLab-muted">cells run by ${esc(s.execution)}</div>`] : [])
  );

  if (s.phases.length) {
    const phases = [...(s.final ? markFailedPhases(s.phases, s.final) : s.phases)].sort((a, b) => PHASE_ORDER.indexOf(a.phase) - PHASE_ORDER.indexOf(b.phase) || (a.batch ?? -1) - (b.batch ?? -1));
    html.push(
      `<div class="jp-RedLab-run-phases">${phases
        .map(p => `<span class="jp-RedLab-phase jp-RedLab-phase-${p.status}"${p.reason ? ` title="${esc(p.reason)}"` : ''}>${esc(phaseText(p))}</span>`)
        .join(' → ')}</div>`
    );
  }

  const pull = pullProgress(s);
  if (pull) {
    html.push(`<div class="jp-RedLab-run-progress">pulling the image <progress max="${pull.total}" value="${pull.current}"></progress> ${esc(pull.label)}</div>`);
  }
  for (const t of Object.values(s.transfers ?? {})) {
    const bar = t.total ? `<progress max="${t.total}" value="${Math.min(t.bytes, t.total)}"></progress> ` : '';
    html.push(`<div class="jp-RedLab-run-progress" data-testid="redlab-transfer-progress">${t.direction === 'input' ? 'receiving' : 'sending'} ${bar}${esc(transferText(t))}</div>`);
  }
  if (s.build) {
    const b = s.build;
    const step = b.stepIndex && b.stepCount ? `step ${b.stepIndex}/${b.stepCount}` : b.step ?? '';
    html.push(
      `<div class="jp-RedLab-run-progress">building the image ${b.stepIndex && b.stepCount ? `<progress max="${b.stepCount}" value="${b.stepIndex}"></progress> ` : ''}${esc(step)}` +
        (b.line ? ` <span class="jp-RedLab-muted">${esc(b.line.slice(0, 160))}</span>` : '') +
        `</div>`
    );
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
  }

  if (s.final) {
    const f = s.final;
    const parts = [f.state, f.exitCode !== undefined ? `exit code ${f.exitCode}` : '', f.durationMs !== undefined ? `took ${formatDuration(f.durationMs)}` : ''].filter(Boolean);
    html.push(`<div class="jp-RedLab-run-final jp-RedLab-run-final-${esc(f.state)}">${esc(parts.join(' · '))}${f.failure && f.state !== 'failed' ? ` — ${esc(f.failure.reason)}` : ''}</div>`);
  }

  for (const m of s.info) html.push(`<div class="jp-RedLab-muted">${esc(m)}</div>`);
  if (s.connection === 'retrying' && s.connectionMessage) {
    html.push(`<div class="jp-RedLab-run-connection">${esc(s.connectionMessage)}</div>`);
  }

  html.push(
    `<div class="jp-RedLab-run-links">` +
      `<a href="${esc(links.log('stdout'))}" target="_blank" rel="noopener">stdout log</a> · ` +
      `<a href="${esc(links.log('stderr'))}" target="_blank" rel="noopener">stderr log</a> · ` +
      `<a href="${esc(links.record)}" target="_blank" rel="noopener">run record</a></div>`
  );
  return `<div class="jp-RedLab-run-header">${html.join('')}</div>`;
}

/** Longest failure reason shown in the phase line (the failure section has it whole). */
const PHASE_REASON_CHARS = 120;

export function phaseText(p: PhaseView): string {
  // Single runs have only batch 0; later batches get their number.
  const name = p.batch ? `${p.phase} #${p.batch}` : p.phase;
  const took = p.ms !== undefined ? ` ${formatDuration(p.ms)}` : '';
  switch (p.status) {
    case 'done':
      return `${name} ✓${took}`;
    case 'failed': {
      const reason = p.reason && p.reason.length > PHASE_REASON_CHARS ? `${p.reason.slice(0, PHASE_REASON_CHARS - 1)}…` : p.reason;
      return `${name} ✗${took}${reason ? `: ${reason}` : ''}`;
    }
    default:
      return `${name} …`;
  }
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

function truncatedNote(s: RunCellState, links: RenderLinks): string {
  const { stdout, stderr } = s.logs.dropped;
  const parts = [stdout ? `${stdout} stdout` : '', stderr ? `${stderr} stderr` : ''].filter(Boolean).join(', ');
  return (
    `<div class="jp-RedLab-run-truncated">… ${esc(parts)} line${stdout + stderr === 1 ? '' : 's'} not shown here. ` +
    (stdout ? `<a href="${esc(links.log('stdout'))}" target="_blank" rel="noopener">show full log (stdout)</a>` : '') +
    (stdout && stderr ? ' · ' : '') +
    (stderr ? `<a href="${esc(links.log('stderr'))}" target="_blank" rel="noopener">show full log (stderr)</a>` : '') +
    `</div>`
  );
}

/**
 * The log, line by line: stderr lines as errors, except the runner's own status lines
 * (`redlab_nbrun: …`), which say what it does, not that something went wrong.
 */
function logHtml(s: RunCellState): string {
  const lines: string[] = [];
  for (const seg of s.logs.segments) {
    const text = seg.text.replace(ANSI, '');
    const parts = text.split('\n');
    if (parts[parts.length - 1] === '') parts.pop();
    for (const line of parts) {
      const kind = seg.stream === 'stdout' ? 'stdout' : isRunnerStatusLine(line) ? 'status' : 'stderr';
      lines.push(`<span class="jp-RedLab-log-line jp-RedLab-log-${kind}">${esc(line)}</span>`);
    }
  }
  // Newlines as entities: the HTML stays on one line, and the log keeps its lines where the
  // classes are stripped (nbviewer, GitHub) and in copied text.
  return `<pre class="jp-RedLab-log">${lines.join('&#10;')}</pre>`;
}

function failureHtml(s: RunCellState): string {
  const f = s.final!;
  const failure = f.failure!;
  const ename = failureName(failure.kind);
  // The log above shows the notebook's traceback already; the bridge's error carries the
  // stderr tail only for a log the cell does not show (dropped, or a run resumed late).
  const shownStderr = lastLines(s.logs, 'stderr', 1).length > 0;
  const tail = shownStderr || !f.error ? [] : f.error.split('\n').slice(1).filter(l => l.trim()).slice(-STDERR_LINES_IN_ERROR);
  return (
    `<div class="jp-RedLab-failure">` +
    `<div><span class="jp-RedLab-failure-name">${esc(ename)}</span>: ${esc(failure.reason)}</div>` +
    (f.exitCode !== undefined && failure.kind !== 'exit-code' ? `<div>exit code ${esc(f.exitCode)}</div>` : '') +
    (failure.fix ? `<div><span class="jp-RedLab-failure-fix">what to do</span>: ${esc(failure.fix)}</div>` : '') +
    (tail.length ? `<pre class="jp-RedLab-log">${tail.map(l => `<span class="jp-RedLab-log-line jp-RedLab-log-stderr">${esc(l.replace(ANSI, ''))}</span>`).join('&#10;')}</pre>` : '') +
    `</div>`
  );
}

function artifactsHtml(s: RunCellState, links: RenderLinks): string {
  const rows = s.artifacts.map(a => {
    const label = `${a.name}${a.file && a.file !== a.name ? ` · ${a.file}` : ''}${a.batch !== undefined ? ` (batch ${a.batch})` : ''}`;
    const link = a.class === 'File' ? `<a href="${esc(links.output(a.name, a.batch))}" target="_blank" rel="noopener">download</a>` : 'folder';
    return `<tr><td><code>${esc(label)}</code></td><td>${esc(formatBytes(a.size))}</td><td><code title="${esc(a.sha256)}">${esc(shortSha(a.sha256))}</code></td><td>${link}</td></tr>`;
  });
  const previews = s.artifacts.filter(a => a.preview && a.preview.kind !== 'none').map(a => previewHtml(a, a.preview!));
  return (
    `<div class="jp-RedLab-artifacts"><table class="jp-RedLab-table"><thead><tr><th>output</th><th>size</th><th>sha256</th><th></th></tr></thead>` +
    `<tbody>${rows.join('')}</tbody></table>${previews.join('')}</div>`
  );
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
