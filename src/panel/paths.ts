// Jupyter paths (relative to the server root, `/`-separated, no leading slash) as the
// panel uses them: the notebook's folder, the RED file next to it, a file picked in
// the file browser as a path relative to the notebook's folder. Pure.

export function dirOf(path: string): string {
  const i = path.lastIndexOf('/');
  return i < 0 ? '' : path.slice(0, i);
}

export function baseOf(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

export function joinPath(dir: string, rel: string): string {
  return normalize(dir ? `${dir}/${rel}` : rel);
}

/** `a/./b/../c` → `a/c`; leading `..` stay. */
export function normalize(path: string): string {
  const out: string[] = [];
  for (const seg of path.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..' && out.length && out[out.length - 1] !== '..') out.pop();
    else out.push(seg);
  }
  return out.join('/');
}

/** `analysis.ipynb` → `analysis`. */
export function nameroot(path: string): string {
  const base = baseOf(path);
  const dot = base.lastIndexOf('.');
  return dot > 0 ? base.slice(0, dot) : base;
}

/** Where "Export RED…" writes: `<notebook dir>/<notebook nameroot>.red.yml`. */
export function redPathFor(notebookPath: string): string {
  return joinPath(dirOf(notebookPath), `${nameroot(notebookPath)}.red.yml`);
}

/** `target` (server-root relative) as seen from the folder `fromDir`: `data/x.csv`, `../shared/y.csv`. */
export function relativePath(fromDir: string, target: string): string {
  const from = normalize(fromDir).split('/').filter(Boolean);
  const to = normalize(target).split('/').filter(Boolean);
  let common = 0;
  while (common < from.length && common < to.length && from[common] === to[common]) common++;
  return [...from.slice(common).map(() => '..'), ...to.slice(common)].join('/') || '.';
}

/** File names "Import RED…" takes. */
export function looksLikeRedFile(path: string): boolean {
  return /\.(red\.ya?ml|red\.json|red|ya?ml|json)$/i.test(path);
}
