// Semantic checks of output globs: a glob stays inside the output directory, and each
// `$(inputs.…)` expression in it refers to a declared input, in a form that input has
// (an index only for lists, attributes only for File/Directory, no absolute path at
// the start), and that every job gives.
//
// Pure TypeScript: no DOM, no Node APIs.

import type { CwlType } from './cwl-type';
import type { IssueCollector } from './issue-collector';
import type { Job } from './red-jobs';
import { hasDotDot } from './semantic-names';
import { didYouMean } from './suggest';
import { isObj, type Obj } from './values';

const FILE_ATTRIBUTES = ['basename', 'nameroot', 'nameext', 'path', 'dirname'];
const DIRECTORY_ATTRIBUTES = ['basename', 'path'];

/** The glob of each cli.outputs entry, against the declared inputs and the jobs' values. */
export function checkOutputGlobs(cliOutputs: Obj, declared: Map<string, CwlType | undefined>, jobs: Job[], ctx: IssueCollector): void {
  for (const [key, decl] of Object.entries(cliOutputs)) {
    if (!isObj(decl) || !isObj(decl.outputBinding) || typeof decl.outputBinding.glob !== 'string') continue;
    checkGlob(decl.outputBinding.glob, `cli.outputs.${key}.outputBinding.glob`, key, declared, jobs, ctx);
  }
}

const EXPRESSION = /^inputs\.([a-zA-Z0-9_-]+)(?:\[(\d+)\])?(?:\.([a-zA-Z_]+))?$/;

function checkGlob(glob: string, path: string, outputKey: string, declared: Map<string, CwlType | undefined>, jobs: Job[], ctx: IssueCollector): void {
  if (glob.startsWith('/')) {
    ctx.error(path, `glob of output "${outputKey}" must be relative to the output directory, found the absolute ${JSON.stringify(glob)}`, `remove the leading "/": ${JSON.stringify(glob.replace(/^\/+/, ''))}`);
  }
  if (hasDotDot(glob)) {
    ctx.error(path, `glob of output "${outputKey}" must stay inside the output directory (no ".." segments), found ${JSON.stringify(glob)}`, 'remove the ".." segments');
  }
  const allowed = 'allowed: $(inputs.KEY), $(inputs.KEY[N]), $(inputs.KEY.basename|nameroot|nameext|path|dirname)';
  let i = 0;
  while (i < glob.length) {
    const start = glob.indexOf('$(', i);
    if (start < 0) break;
    const end = glob.indexOf(')', start + 2);
    if (end < 0) {
      ctx.error(path, `unclosed expression in glob of output "${outputKey}": ${JSON.stringify(glob.slice(start))}`, `close it with ")"; ${allowed}`);
      return;
    }
    const expr = glob.slice(start, end + 1);
    const inner = glob.slice(start + 2, end).trim();
    i = end + 1;
    const m = EXPRESSION.exec(inner);
    if (!m) {
      ctx.error(path, `unsupported expression ${expr} in glob of output "${outputKey}"`, allowed);
      continue;
    }
    const [, key, indexText, attr] = m;
    if (!declared.has(key)) {
      const s = didYouMean(key, [...declared.keys()]);
      ctx.error(path, `${expr} refers to "${key}", which is not declared in cli.inputs (declared: ${[...declared.keys()].join(', ') || 'none'})`, s ? `did you mean $(inputs.${s}${attr ? '.' + attr : ''})?` : 'refer to a declared input');
      continue;
    }
    const t = declared.get(key);
    if (!t) continue;
    const isFileLike = t.base === 'File' || t.base === 'Directory';
    if (indexText !== undefined && !t.array) {
      ctx.error(path, `${expr}: input "${key}" is not a list (type ${t.text}), it cannot be indexed`, `write $(inputs.${key}${attr ? '.' + attr : ''})`);
      continue;
    }
    if (indexText === undefined && t.array) {
      ctx.error(path, `${expr}: input "${key}" is a list (type ${t.text}); pick one item`, `write $(inputs.${key}[0]${attr ? '.' + attr : isFileLike ? '.basename' : ''})`);
      continue;
    }
    if (attr !== undefined) {
      if (!isFileLike) {
        ctx.error(path, `${expr}: .${attr} only applies to File and Directory inputs, "${key}" is ${t.text}`, `write $(inputs.${key}${indexText !== undefined ? `[${indexText}]` : ''})`);
        continue;
      }
      const attrs = t.base === 'File' ? FILE_ATTRIBUTES : DIRECTORY_ATTRIBUTES;
      if (!attrs.includes(attr)) {
        const s = didYouMean(attr, attrs);
        ctx.error(path, `${expr}: ${t.base} inputs have no attribute .${attr} (available: ${attrs.map(a => '.' + a).join(', ')})`, s ? `did you mean .${s}?` : `use one of ${attrs.map(a => '.' + a).join(', ')}`);
        continue;
      }
      if ((attr === 'path' || attr === 'dirname') && start === 0) {
        ctx.error(path, `${expr} at the start of the glob of output "${outputKey}" gives an absolute path (inputs live under /cc/inputs)`, `use $(inputs.${key}${indexText !== undefined ? `[${indexText}]` : ''}.basename) instead`);
        continue;
      }
    } else if (isFileLike) {
      ctx.error(path, `${expr} refers to a whole ${t.base} object`, `use an attribute: $(inputs.${key}${indexText !== undefined ? `[${indexText}]` : ''}.basename)`);
      continue;
    }
    // Each job must provide what the expression refers to.
    for (const job of jobs) {
      if (!isObj(job.inputs)) continue;
      const value = job.inputs[key];
      if (value === undefined) {
        if (t.optional) ctx.error(path, `${expr} in the glob of output "${outputKey}" refers to the optional input "${key}", which ${job.label} does not give`, `give ${key} in ${job.inputsPath}, or do not use it in the glob`);
        continue;
      }
      if (indexText !== undefined && Array.isArray(value) && Number(indexText) >= value.length) {
        ctx.error(path, `${expr}: ${job.label} gives only ${value.length} item${value.length === 1 ? '' : 's'} for "${key}"`, `use an index below ${value.length}`);
      }
    }
  }
}
