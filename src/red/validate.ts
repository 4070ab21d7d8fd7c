// Validate a RED 9 document: the JSON Schema for the shape (schema-issues.ts), then
// the rules that relate several places of the document (semantic-checks.ts). Every
// issue is reported at once, with a dotted path, its line when known, and a fix.
// `loadRed` is the way in from text: parse (parse.ts), upgrade RED 7/8 (upgrade.ts),
// validate. Callers import from here or from the core's entry point (index.ts).
//
// Pure TypeScript: no DOM, no Node APIs.

import { IssueCollector, nearestLine, type ValidateOptions } from './issue-collector';
import { parseRedText } from './parse';
import { checkSchema } from './schema-issues';
import { semanticChecks } from './semantic-checks';
import { upgradeLegacy } from './upgrade';
import { describeValue, isObj, type Obj } from './values';
import { formatIssues, LoadedRed, Red, RedError, RedIssue } from './types';

export type { ValidateOptions } from './issue-collector';
export { parseCwlType } from './cwl-type';
export { didYouMean } from './suggest';

/** All issues of a RED 9 document (errors and warnings), empty when it is valid. */
export function validateRed(doc: unknown, opts: ValidateOptions = {}): RedIssue[] {
  const ctx = new IssueCollector(opts);
  if (!isObj(doc)) {
    ctx.error('', `the document must be a mapping (key: value pairs), found ${describeValue(doc)}`, 'start with redVersion: "9", cli:, inputs:, container:');
    return ctx.issues;
  }
  const isBatch = 'batches' in doc;
  checkSchema(doc, isBatch, ctx);
  semanticChecks(doc, isBatch, ctx);
  return ctx.sorted();
}

/**
 * Parse, upgrade (RED 7/8) and validate RED text. Throws `RedError` carrying every
 * error (and the warnings); returns the document with its warnings when valid.
 */
export function loadRed(text: string, opts: { source?: string } = {}): LoadedRed {
  const parsed = parseRedText(text, opts);
  const data = parsed.data as Obj;
  const up = upgradeLegacy(data);
  const lineNear = (p: string) => nearestLine(parsed.lineOf, p);
  const withLine = (i: RedIssue): RedIssue => (i.line === undefined && lineNear(i.path) !== undefined ? { ...i, line: lineNear(i.path) } : i);

  const upgradeErrors = up.errors.map(withLine);
  let issues = validateRed(up.doc, { lineOf: parsed.lineOf, floatPaths: parsed.floatPaths });
  // An unsupported version is already reported by the upgrade step.
  if (upgradeErrors.length) issues = issues.filter(i => i.path !== 'redVersion');
  const all = [...upgradeErrors, ...up.warnings.map(withLine), ...issues];
  const errors = all.filter(i => i.severity === 'error');
  if (errors.length) {
    const ordered = [...errors, ...all.filter(i => i.severity !== 'error')];
    throw new RedError(ordered, formatIssues(ordered, opts.source));
  }
  return {
    red: up.doc as unknown as Red,
    format: parsed.format,
    floatPaths: parsed.floatPaths,
    lineOf: parsed.lineOf,
    warnings: all.filter(i => i.severity === 'warning')
  };
}
