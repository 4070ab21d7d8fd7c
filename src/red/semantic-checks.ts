// The semantic half of validation: the rules that relate several places of a RED
// document, which the JSON Schema cannot express (schema-issues.ts does the shape).
// Each family of checks has its own module; this one runs them in a fixed order, so
// issues on the same line keep their order.
//
// Pure TypeScript: no DOM, no Node APIs.

import { type CwlType, parseCwlType } from './cwl-type';
import { checkImageReference } from './image-ref';
import type { IssueCollector } from './issue-collector';
import { jobsOf } from './red-jobs';
import { checkExecution } from './semantic-execution';
import { checkOutputGlobs } from './semantic-globs';
import { checkJobInputs, checkJobOutputs } from './semantic-job-values';
import { checkInputBasenames, checkStreamNames } from './semantic-names';
import { walkValues } from './semantic-variables';
import { isObj, type Obj } from './values';

export function semanticChecks(doc: Obj, isBatch: boolean, ctx: IssueCollector): void {
  const cli = isObj(doc.cli) ? doc.cli : undefined;
  const cliInputs = cli && isObj(cli.inputs) ? cli.inputs : undefined;
  const cliOutputs = cli && isObj(cli.outputs) ? cli.outputs : undefined;
  const declaredTypes = new Map<string, CwlType | undefined>();
  if (cliInputs) for (const [k, v] of Object.entries(cliInputs)) declaredTypes.set(k, isObj(v) ? parseCwlType(v.type) : undefined);
  const jobs = jobsOf(doc, isBatch);

  if (cliInputs) checkJobInputs(declaredTypes, jobs, isBatch, ctx);
  if (cliOutputs) checkJobOutputs(cliOutputs, jobs, ctx);
  if (cliOutputs) checkOutputGlobs(cliOutputs, declaredTypes, jobs, ctx);
  if (cli) checkStreamNames(cli, ctx);
  checkInputBasenames(jobs, ctx);

  // the image reference, as the engine will parse it
  const image = isObj(doc.container) && isObj(doc.container.settings) && isObj(doc.container.settings.image) ? doc.container.settings.image.url : undefined;
  // ({{variables}} there are reported as such below)
  if (typeof image === 'string' && image !== '' && !image.includes('{{')) {
    const ref = checkImageReference(image);
    if (!ref.ok) ctx.error('container.settings.image.url', ref.message, ref.fix);
  }

  // execution.settings of RED Lab's engines (time limits, shared folder, names)
  checkExecution(doc, ctx);

  // {{variables}} and numbers, anywhere
  walkValues(doc, '', false, ctx);
}
