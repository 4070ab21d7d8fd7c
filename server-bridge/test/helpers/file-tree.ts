// A folder's regular files with their bytes, for tests that compare what a run or a bundle left.
import * as fs from 'fs';
import * as path from 'path';

/** Every regular file below `root`, relative path → bytes (links and others are not files here). */
export function filesBelow(root: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) out.set(path.relative(root, p), fs.readFileSync(p));
    }
  };
  walk(root);
  return out;
}
