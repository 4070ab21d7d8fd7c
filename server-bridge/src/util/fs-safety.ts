// Path checks shared by connectors and output collection: a path must stay inside
// a root after symlinks are followed, and names taken from a RED are single segments.
import { realpath } from 'fs/promises';
import * as path from 'path';

/** True when `child` is `parent` or below it (both absolute, already resolved). */
export function isWithin(child: string, parent: string): boolean {
  const rel = path.relative(parent, child);
  return rel === '' || (!path.isAbsolute(rel) && rel !== '..' && !rel.startsWith('..' + path.sep));
}

/** A single path segment a RED gives as a name (basename, listing entry): no `/`, not `.`/`..`, no NUL. */
export function isSafeSegment(name: string): boolean {
  return typeof name === 'string' && name.length > 0 && name !== '.' && name !== '..' && !/[/\\\0]/.test(name);
}

export class PathNotAllowedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PathNotAllowedError';
  }
}

/** The real paths of `roots` (symlinks followed); a root that does not exist allows nothing. */
export async function realRoots(roots: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  for (const r of roots) {
    try {
      out.push(await realpath(r));
    } catch {
      /* missing: skipped */
    }
  }
  return out;
}

/**
 * Resolves a host path (relative to `baseDir`) to its real path (symlinks followed)
 * and checks it lies under one of `roots` (their real paths). Throws
 * PathNotAllowedError (outside) or the fs error (ENOENT …) otherwise. The answer is
 * only true when it is given: bind or read nothing by this path; pin it first
 * (pinned-input.ts), which checks again on the opened file.
 */
export async function resolveUnderRoots(p: string, baseDir: string, roots: readonly string[], what: string): Promise<string> {
  const abs = path.resolve(baseDir, p);
  const real = await realpath(abs);
  const allowed = await realRoots(roots);
  if (!allowed.some(r => isWithin(real, r))) {
    const via = real !== abs ? ` (it resolves to ${real})` : '';
    throw new PathNotAllowedError(
      `${what}: ${abs}${via} is outside the folders local inputs may come from (${allowed.join(', ') || 'none'}); ` +
        `move the data under one of them or allow its folder (redlab run --allow-root DIR)`
    );
  }
  return real;
}
