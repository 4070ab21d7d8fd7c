// Reading a rendered run record (render.ts) in tests, without a DOM.

const ENTITY: Record<string, string> = { '&amp;': '&', '&lt;': '<', '&gt;': '>', '&quot;': '"', '&#39;': "'", '&#36;': '$', '&#92;': '\\', '&#10;': '\n' };

export function decode(html: string): string {
  return html.replace(/&(amp|lt|gt|quot|#39|#36|#92|#10);/g, e => ENTITY[e]);
}

/** The log's lines, each with its kind (stdout, stderr, or the runner's status lines). */
export function logLines(html: string): { kind: string; text: string }[] {
  const log = /<pre class="jp-RedLab-log">(.*?)<\/pre>/.exec(html)?.[1] ?? '';
  return log.split('&#10;').map(line => {
    const m = /^<span class="jp-RedLab-log-line jp-RedLab-log-(\w+)">(.*)<\/span>$/.exec(line);
    if (!m) throw new Error(`not a log line: ${line}`);
    return { kind: m[1], text: decode(m[2]) };
  });
}

/** The element (up to its closing tag) whose class list starts with `cls`; '' when there is none. */
export function section(html: string, cls: string): string {
  const start = html.search(new RegExp(`<(\\w+) class="${cls}[" ]`));
  if (start < 0) return '';
  const tag = /^<(\w+)/.exec(html.slice(start))![1];
  const re = new RegExp(`<${tag}[ >]|</${tag}>`, 'g');
  re.lastIndex = start;
  let depth = 0;
  for (let m = re.exec(html); m; m = re.exec(html)) {
    depth += m[0].startsWith('</') ? -1 : 1;
    if (depth === 0) return html.slice(start, m.index + m[0].length);
  }
  return html.slice(start);
}
