// Small text helpers for the HTML a run cell shows. The HTML goes through
// JupyterLab's sanitizer when the notebook is not trusted, so it only uses what the
// sanitizer keeps: plain tags, classes, links, <img> with data: URIs, <progress>. Pure.

const ENTITIES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
  // Run records are Markdown cells: `$` and `\` would start LaTeX there, a newline could end the
  // HTML block. As entities they mean the same in HTML and nothing to Markdown.
  $: '&#36;',
  '\\': '&#92;',
  '\n': '&#10;',
  '\r': ''
};

export function esc(s: unknown): string {
  return String(s).replace(/[&<>"'$\\\n\r]/g, c => ENTITIES[c]);
}

export { formatBytes, formatDuration } from '../red';


/** An SVG as an <img> source (the sanitizer drops inline <svg>, not data: images). */
export function svgDataUri(svg: string): string {
  return 'data:image/svg+xml;charset=utf-8,' + encodeURIComponent(svg);
}

/** A sparkline of `values` (0..max) as SVG text. */
export function sparklineSvg(values: readonly number[], opts: { width?: number; height?: number; max?: number; color?: string } = {}): string {
  const w = opts.width ?? 120;
  const h = opts.height ?? 24;
  const max = Math.max(opts.max ?? 0, ...values, 1e-9);
  const n = values.length;
  const x = (i: number) => (n <= 1 ? w : (i / (n - 1)) * w);
  const y = (v: number) => h - 1 - (Math.max(0, v) / max) * (h - 2);
  const pts = values.map((v, i) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(' ');
  const color = opts.color ?? '#1976d2';
  const area = n > 1 ? `<polygon points="0,${h} ${pts} ${w},${h}" fill="${color}" fill-opacity="0.15"/>` : '';
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}">` +
    area +
    (n > 0 ? `<polyline points="${pts}" fill="none" stroke="${color}" stroke-width="1.5"/>` : '') +
    `</svg>`
  );
}

export function shortSha(sha: string): string {
  return sha ? sha.slice(0, 12) : '';
}
