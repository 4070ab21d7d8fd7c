// Inline previews of a run's output files: which files get one, and how their bytes
// become something small enough to keep in the notebook. Pure (fetch-previews.ts
// downloads the bytes).
import { svgDataUri } from './html';
import type { Preview } from './types';

export type PreviewType = 'png' | 'svg' | 'csv' | 'json';

/** Largest file fetched for a preview. Images are embedded in the notebook, so keep this modest. */
export const PREVIEW_MAX_BYTES: Record<PreviewType, number> = { png: 1024 * 1024, svg: 512 * 1024, csv: 4 * 1024 * 1024, json: 256 * 1024 };
export const CSV_PREVIEW_LINES = 10;
const JSON_PREVIEW_CHARS = 4000;

export function previewTypeOf(name: string, enabled: readonly string[]): PreviewType | undefined {
  const ext = /\.([A-Za-z0-9]+)$/.exec(name)?.[1]?.toLowerCase() as PreviewType | undefined;
  return ext && (['png', 'svg', 'csv', 'json'] as const).includes(ext) && enabled.includes(ext) ? ext : undefined;
}

/** The first `n` records of CSV text (quotes honoured), and whether more follow. */
export function csvHead(text: string, n = CSV_PREVIEW_LINES): { rows: string[][]; more: boolean } {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  let i = 0;
  const delimiter = guessDelimiter(text);
  const endRow = () => {
    row.push(field);
    rows.push(row);
    row = [];
    field = '';
  };
  for (; i < text.length && rows.length < n; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"' && field === '') quoted = true;
    else if (c === delimiter) {
      row.push(field);
      field = '';
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      endRow();
    } else field += c;
  }
  if (rows.length < n && (field !== '' || row.length)) endRow();
  const rest = text.slice(i).trim();
  return { rows, more: rest.length > 0 };
}

function guessDelimiter(text: string): string {
  const first = text.slice(0, text.search(/\r?\n|$/));
  const counts = [',', ';', '\t'].map(d => [d, first.split(d).length - 1] as const);
  counts.sort((a, b) => b[1] - a[1]);
  return counts[0][1] > 0 ? counts[0][0] : ',';
}

/** Pretty JSON (metrics files), shortened. Not JSON: no preview. */
export function jsonPreview(text: string): Preview {
  try {
    const pretty = JSON.stringify(JSON.parse(text), null, 2);
    return { kind: 'json', text: pretty.length > JSON_PREVIEW_CHARS ? pretty.slice(0, JSON_PREVIEW_CHARS) + '\n…' : pretty };
  } catch {
    return { kind: 'none', reason: 'not valid JSON' };
  }
}

export function bytesToBase64(bytes: Uint8Array): string {
  let bin = '';
  const CHUNK = 0x8000;
  for (let i = 0; i < bytes.length; i += CHUNK) bin += String.fromCharCode(...bytes.subarray(i, i + CHUNK));
  return btoa(bin);
}

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47];

export function pngPreview(bytes: Uint8Array): Preview {
  if (!PNG_SIGNATURE.every((b, i) => bytes[i] === b)) return { kind: 'none', reason: 'not a PNG file' };
  return { kind: 'image', dataUri: `data:image/png;base64,${bytesToBase64(bytes)}` };
}

export function svgPreview(text: string): Preview {
  // Shown through <img>: an SVG there runs no scripts and loads nothing.
  return /<svg[\s>]/i.test(text) ? { kind: 'image', dataUri: svgDataUri(text) } : { kind: 'none', reason: 'not an SVG file' };
}

export function previewFromText(type: Exclude<PreviewType, 'png'>, text: string): Preview {
  switch (type) {
    case 'svg':
      return svgPreview(text);
    case 'csv':
      return { kind: 'csv', ...csvHead(text) };
    case 'json':
      return jsonPreview(text);
  }
}
