// The files a notebook writes, found in its code: calls that write to a file name given as a
// plain string literal. They become the draft's explicit outputs (the panel lists them with a
// checkbox each); every other file the notebook writes still comes back through the new-files
// folder (see newFilesOutput in infer.ts), so a name this misses is not lost.
//
// Recognised (the file name is the call's first string argument unless said otherwise):
//   open('x', 'w' | 'a' | 'x' | 'wb' ..., or mode='w')   io.open / codecs.open alike
//   .to_csv .to_json .to_excel .to_parquet .to_pickle .to_feather .to_html .to_latex .to_markdown
//   .to_hdf .to_netcdf .to_stata .to_xml                    (pandas / xarray)
//   savefig imsave np.save np.savez np.savez_compressed np.savetxt
//   .write_text .write_bytes on Path('x')                    (Path('x').write_text(...))
//   .save('x.ext') with a file extension                     (PIL images, models)
//   torch.save(obj, 'x') joblib.dump(obj, 'x') pickle/json.dump(obj, open('x', 'w')) via open
// Names are kept when they are relative, inside the working folder (/cc/outputs/x is x), and
// have no wildcard characters; f-strings and variables are not followed.
//
// Pure TypeScript: no DOM, no Node APIs.

import { cellSource } from './parameters';

export interface WrittenFile {
  /** Relative to the working folder: `results.csv`, `figures/a.png`. */
  path: string;
  /** 1-based among the notebook's code cells. */
  codeCell: number;
  /** 1-based line in the cell. */
  line: number;
  /** The line, trimmed. */
  code: string;
}

/** A plain string literal (no f/b prefix) whose quote is capture group `n` and its text group n + 1. */
const str = (n: number) => `(?:[rRuU])?(['"])((?:(?!\\${n})[^\\\\\\n])*)\\${n}`;
const STR = str(1);
const SEP = String.raw`\s*,\s*`;
const WRITE_MODE = /^[rbt+]*[wax][bt+]*$/;

interface Pattern {
  re: RegExp;
  /** Which capture group holds the file name; the quote is the group before it. */
  name: number;
  /** Checks on the whole match (e.g. the mode of open()). */
  accept?: (m: RegExpExecArray) => boolean;
}

const PATTERNS: Pattern[] = [
  {
    // open('x', 'w') / open('x', mode='w'); the mode is group 4 or 6
    re: new RegExp(String.raw`\bopen\(\s*${str(1)}${SEP}(?:${str(3)}|mode\s*=\s*${str(5)})`, 'g'),
    name: 2,
    accept: m => WRITE_MODE.test(m[4] ?? m[6] ?? '')
  },
  { re: new RegExp(String.raw`\.to_(?:csv|json|excel|parquet|pickle|feather|html|latex|markdown|hdf|netcdf|stata|xml)\(\s*(?:path_or_buf\s*=\s*)?${STR}`, 'g'), name: 2 },
  { re: new RegExp(String.raw`\b(?:savefig|imsave|np\.save|numpy\.save|np\.savez|np\.savez_compressed|np\.savetxt|numpy\.savetxt)\(\s*(?:fname\s*=\s*)?${STR}`, 'g'), name: 2 },
  { re: new RegExp(String.raw`\bPath\(\s*${STR}\s*\)\s*\.write_(?:text|bytes)\(`, 'g'), name: 2 },
  { re: new RegExp(String.raw`\.save\(\s*${STR}`, 'g'), name: 2, accept: m => /\.[A-Za-z0-9]{1,8}$/.test(m[2]) },
  { re: new RegExp(String.raw`\b(?:torch\.save|joblib\.dump)\(\s*[^,]+?${SEP}${STR}`, 'g'), name: 2 }
];

const OUTPUTS_DIR = '/cc/outputs/';

/** The file name as a path inside the working folder, or undefined when it is not one. */
function workingPath(raw: string): string | undefined {
  let p = raw.trim();
  if (p.startsWith(OUTPUTS_DIR)) p = p.slice(OUTPUTS_DIR.length);
  while (p.startsWith('./')) p = p.slice(2);
  if (!p || p.startsWith('/') || p.startsWith('~') || /[*?[\]{}$,\\]/.test(p) || p.endsWith('/')) return undefined;
  if (p.split('/').some(s => s === '..' || s === '.' || s === '' || s.startsWith('.'))) return undefined;
  return p;
}

/** Without `# comments` (outside strings), so that commented-out code writes nothing. */
function stripComment(line: string): string {
  let quote: string | null = null;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (quote) {
      if (ch === '\\') i++;
      else if (ch === quote) quote = null;
    } else if (ch === '"' || ch === "'") quote = ch;
    else if (ch === '#') return line.slice(0, i);
  }
  return line;
}

/** The files the notebook's code cells write to literal names, each once (its first place), in order. */
export function findWrittenFiles(cells: readonly unknown[]): WrittenFile[] {
  const found = new Map<string, WrittenFile>();
  let codeCell = 0;
  for (const cell of cells) {
    if (!cell || typeof cell !== 'object' || (cell as { cell_type?: unknown }).cell_type !== 'code') continue;
    codeCell++;
    cellSource(cell)
      .replace(/\r\n?/g, '\n')
      .split('\n')
      .forEach((raw, i) => {
        const line = stripComment(raw);
        for (const p of PATTERNS) {
          p.re.lastIndex = 0;
          for (let m = p.re.exec(line); m; m = p.re.exec(line)) {
            if (p.accept && !p.accept(m)) continue;
            const path = workingPath(m[p.name]);
            if (path && !found.has(path)) found.set(path, { path, codeCell, line: i + 1, code: raw.trim() });
          }
        }
      });
  }
  return [...found.values()];
}
