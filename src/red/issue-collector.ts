// Where the validator's checks put what they find: each issue once (same severity,
// path and message), with the source line of its path (or of the nearest parent that
// has one) and its fix; `sorted()` hands them back in the order of the file.
//
// Pure TypeScript: no DOM, no Node APIs.

import type { RedIssue } from './types';

export interface ValidateOptions {
  /** Line of a dotted path in the source text (from `parseRedText`). */
  lineOf?: (path: string) => number | undefined;
  /** Paths of integral numbers written as floats (`1.0`): they are not valid `int` values. */
  floatPaths?: ReadonlySet<string>;
}

export class IssueCollector {
  readonly issues: RedIssue[] = [];
  private readonly seen = new Set<string>();
  constructor(readonly opts: ValidateOptions) {}

  line(path: string): number | undefined {
    return this.opts.lineOf ? nearestLine(this.opts.lineOf, path) : undefined;
  }
  isFloatLiteral(path: string): boolean {
    return this.opts.floatPaths?.has(path) ?? false;
  }
  add(severity: RedIssue['severity'], path: string, message: string, fix?: string): void {
    const key = `${severity}|${path}|${message}`;
    if (this.seen.has(key)) return;
    this.seen.add(key);
    const issue: RedIssue = { path, message, severity };
    const line = this.line(path);
    if (line !== undefined) issue.line = line;
    if (fix) issue.fix = fix;
    this.issues.push(issue);
  }
  error(path: string, message: string, fix?: string): void {
    this.add('error', path, message, fix);
  }
  warn(path: string, message: string, fix?: string): void {
    this.add('warning', path, message, fix);
  }
  sorted(): RedIssue[] {
    // By line (unknown lines last), stable otherwise.
    return this.issues
      .map((issue, i) => ({ issue, i }))
      .sort((a, b) => (a.issue.line ?? Infinity) - (b.issue.line ?? Infinity) || a.i - b.i)
      .map(x => x.issue);
  }
}

/** The line of a dotted path, or of its nearest parent that has one (a key the source does not write). */
export function nearestLine(lineOf: (p: string) => number | undefined, path: string): number | undefined {
  let p = path;
  for (;;) {
    const l = lineOf(p);
    if (l !== undefined) return l;
    if (p === '') return undefined;
    const dot = p.lastIndexOf('.');
    p = dot < 0 ? '' : p.slice(0, dot);
  }
}
