// Semantic checks of file names the run writes or stages: cli.stdout/stderr stay
// inside the output directory, and the basenames of File/Directory inputs (and of
// their listings) are plain names, not paths.
//
// Pure TypeScript: no DOM, no Node APIs.

import type { IssueCollector } from './issue-collector';
import { joinPath } from './parse';
import type { Job } from './red-jobs';
import { isObj, type Obj } from './values';

/** cli.stdout and cli.stderr: non-empty, relative, without ".." segments. */
export function checkStreamNames(cli: Obj, ctx: IssueCollector): void {
  for (const stream of ['stdout', 'stderr'] as const) {
    const name = cli[stream];
    if (typeof name !== 'string') continue;
    const path = `cli.${stream}`;
    if (name === '') ctx.error(path, `${stream} file name must not be empty`, `remove cli.${stream} or give a file name`);
    else if (name.startsWith('/')) ctx.error(path, `${stream} file name must be relative to the output directory, found ${JSON.stringify(name)}`, `write a plain file name, e.g. ${stream}.txt`);
    else if (hasDotDot(name)) ctx.error(path, `${stream} file name must stay inside the output directory (no ".." segments), found ${JSON.stringify(name)}`, `write a plain file name, e.g. ${stream}.txt`);
  }
}

/** The basenames of every File/Directory value the jobs give, listings included. */
export function checkInputBasenames(jobs: Job[], ctx: IssueCollector): void {
  for (const job of jobs) {
    if (!isObj(job.inputs)) continue;
    for (const [key, value] of Object.entries(job.inputs)) {
      const items = Array.isArray(value) ? value.map((v, i) => [v, joinPath(joinPath(job.inputsPath, key), i)] as const) : [[value, joinPath(job.inputsPath, key)] as const];
      for (const [v, p] of items) if (isObj(v)) checkBasenames(v, p, ctx);
    }
  }
}

export function hasDotDot(p: string): boolean {
  return p.split('/').some(seg => seg === '..');
}

function checkBasenames(v: Obj, path: string, ctx: IssueCollector): void {
  if (typeof v.basename === 'string') checkBasename(v.basename, joinPath(path, 'basename'), ctx);
  if (Array.isArray(v.listing)) {
    v.listing.forEach((entry, i) => {
      if (isObj(entry)) checkBasenames(entry, joinPath(joinPath(path, 'listing'), i), ctx);
    });
  }
}

function checkBasename(name: string, path: string, ctx: IssueCollector): void {
  if (name === '') return; // reported by the schema
  if (name.includes('/') || name === '.' || name === '..' || name.includes('\0')) {
    ctx.error(path, `basename must be a plain file or directory name, found ${JSON.stringify(name)}`, 'remove "/" and ".." from it (use dirname for the directory of a File)');
  }
}
