// Semantic checks of every value in the document: {{variables}} appear only inside
// access/auth objects (where they are filled at run time) and are well formed, and
// every number is finite.
//
// Pure TypeScript: no DOM, no Node APIs.

import type { IssueCollector } from './issue-collector';
import { joinPath } from './parse';
import { isObj } from './values';
import { VARIABLE_PARENT_KEYS } from './variables';

const KEY_PATTERN = /^[a-zA-Z0-9_-]+$/;

/** {{variables}} only inside access/auth, with valid names; numbers must be finite. */
export function walkValues(v: unknown, path: string, inScope: boolean, ctx: IssueCollector): void {
  if (Array.isArray(v)) {
    v.forEach((item, i) => walkValues(item, joinPath(path, i), inScope, ctx));
  } else if (isObj(v)) {
    for (const [k, child] of Object.entries(v)) walkValues(child, joinPath(path, k), inScope || VARIABLE_PARENT_KEYS.includes(k), ctx);
  } else if (typeof v === 'string') {
    if (!v.includes('{{') && !v.includes('}}')) return;
    if (!inScope) {
      // RED Lab's engine settings (slurm submit, kubernetes) hold no secrets: the SSH key stays in the file identityFile names.
      const fix = path.startsWith('execution.settings.')
        ? "write the value itself here: RED Lab's engine settings are not filled from variables, and hold no secret (submit.identityFile names the key file; the key itself never goes in the RED)"
        : 'write the value itself here';
      ctx.error(path, `{{variables}} are only allowed inside access or auth objects (connector access, image auth, execution access), found ${JSON.stringify(v)} in ${path}`, fix);
      return;
    }
    checkTemplate(v, path, ctx);
  } else if (typeof v === 'number' && !Number.isFinite(v)) {
    ctx.error(path, `${String(v)} is not a usable number`, 'give a finite number');
  }
}

function checkTemplate(s: string, path: string, ctx: IssueCollector): void {
  const re = /\{\{(.*?)\}\}/g;
  let last = 0;
  let m: RegExpExecArray | null;
  const outside: string[] = [];
  while ((m = re.exec(s)) !== null) {
    outside.push(s.slice(last, m.index));
    last = m.index + m[0].length;
    const name = m[1];
    if (name.includes('{{')) {
      ctx.error(path, `malformed variable in ${JSON.stringify(s)}: too many "{{"`, 'write each variable as {{name}}');
      return;
    }
    if (!KEY_PATTERN.test(name)) {
      const trimmed = name.trim();
      ctx.error(
        path,
        name === '' ? `empty variable {{}} in ${JSON.stringify(s)}` : `invalid variable name ${JSON.stringify(name)} in ${JSON.stringify(s)}: use only letters, digits, _ and -`,
        KEY_PATTERN.test(trimmed) ? `write {{${trimmed}}} without spaces` : 'write {{name}} with letters, digits, _ and - only'
      );
    }
  }
  outside.push(s.slice(last));
  if (outside.some(part => part.includes('{{') || part.includes('}}'))) {
    ctx.error(path, `unbalanced braces in ${JSON.stringify(s)}`, 'write each variable as {{name}}; "{{" and "}}" cannot appear otherwise');
  }
}
