// The JSON Schema half of validation: run the ajv validator precompiled from
// schema/red.schema.json and translate its errors into RED issues a user can act on
// (a dotted path, a plain message, a fix; one issue for a oneOf/anyOf instead of one
// per branch). The rules the schema cannot express are in semantic-checks.ts.
//
// Pure TypeScript: no DOM, no Node APIs.

import type { ErrorObject } from 'ajv';
import { suggestInputType } from './cwl-type';
import * as generatedValidators from './generated/red-validators';
import type { IssueCollector } from './issue-collector';
import { GPU_COUNT_MAX, RAM_RANGE_FIX, VRAM_MAX_MB, VRAM_MIN_MB } from './limits';
import { joinPath } from './parse';
import { didYouMean } from './suggest';
import { describeValue, isObj, type Obj } from './values';

// Precompiled at build time (schema/generate-validators.js): no schema compilation at
// start-up, and no `new Function` in the browser.
const validators = { single: generatedValidators.single, batch: generatedValidators.batch };

/** Checks `doc` against the RED schema (single job, or batches) and reports each error as an issue. */
export function checkSchema(doc: Obj, isBatch: boolean, ctx: IssueCollector): void {
  const validate = isBatch ? validators.batch : validators.single;
  if (!validate(doc)) schemaIssues(validate.errors ?? [], doc, isBatch, ctx);
}

function pointerToPath(pointer: string): string {
  if (!pointer) return '';
  return pointer
    .slice(1)
    .split('/')
    .map(s => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .join('.');
}

function schemaIssues(errors: ErrorObject[], doc: Obj, isBatch: boolean, ctx: IssueCollector): void {
  // Branch errors of oneOf/anyOf are summarised by the oneOf/anyOf error itself.
  const combinators = errors.filter(e => e.keyword === 'oneOf' || e.keyword === 'anyOf');
  const isBranchError = (e: ErrorObject) =>
    combinators.some(c => c !== e && c.instancePath === e.instancePath && e.schemaPath.startsWith(c.schemaPath + '/'));

  for (const e of errors) {
    if (e.keyword === 'if') continue; // "must match then schema": the inner errors say why
    if (e.keyword === 'pattern' && e.schemaPath.startsWith('#/definitions/key/')) continue; // reported by propertyNames
    if (isBranchError(e)) continue;
    convertError(e, errors, doc, isBatch, ctx);
  }
}

function convertError(e: ErrorObject, all: ErrorObject[], doc: Obj, isBatch: boolean, ctx: IssueCollector): void {
  const base = pointerToPath(e.instancePath);
  const p = e.params as Record<string, unknown>;
  const data = e.data;
  switch (e.keyword) {
    case 'required': {
      const missing = String(p.missingProperty);
      const path = joinPath(base, missing);
      ctx.error(path, `missing required key "${missing}"${base ? ` in ${base}` : ''}`, requiredFix(base, missing, isBatch));
      return;
    }
    case 'additionalProperties': {
      const key = String(p.additionalProperty);
      const path = joinPath(base, key);
      if (base === '' && isBatch && (key === 'inputs' || key === 'outputs' || key === 'cloud')) {
        ctx.error(path, `"${key}" cannot be used together with "batches"`, `move it into each batch (batches[i].${key}), or remove "batches" for a single job`);
        return;
      }
      const allowed = Object.keys(((e.parentSchema as Obj | undefined)?.properties as Obj | undefined) ?? {});
      const where = base ? ` in ${base}` : ' at the top level';
      let message = `unknown key "${key}"${where}`;
      const cls = isObj(data) ? data.class : undefined;
      if (key === 'outputBinding' && isObj(data) && (data.type === 'stdout' || data.type === 'stderr')) {
        message = `"${key}" is not allowed for a ${String(data.type)} output`;
      } else if (cls === 'Directory' && ['dirname', 'checksum', 'size'].includes(key)) {
        message = `"${key}" is only allowed for File inputs, not for a Directory`;
      } else if (cls === 'File' && key === 'listing') {
        message = '"listing" is only allowed for Directory inputs, not for a File';
      }
      const suggestion = didYouMean(key, allowed);
      const fix = suggestion
        ? `remove it; did you mean "${suggestion}"?`
        : allowed.length
          ? `remove it (allowed here: ${allowed.join(', ')})`
          : 'remove it';
      ctx.error(path, message, fix);
      return;
    }
    case 'propertyNames': {
      const name = String(p.propertyName);
      ctx.error(joinPath(base, name), `"${name}" is not a valid identifier: use only letters, digits, _ and -`, `rename it, e.g. "${name.replace(/[^a-zA-Z0-9_-]+/g, '_') || 'name'}"`);
      return;
    }
    case 'type': {
      typeIssue(base, p.type, data, ctx);
      return;
    }
    case 'const': {
      constIssue(base, p.allowedValue, data, ctx);
      return;
    }
    case 'enum': {
      const allowed = (p.allowedValues as unknown[]).map(String);
      if (/^cli\.inputs\.[^.]+\.type$/.test(base)) {
        const s = suggestInputType(data);
        ctx.error(base, `unknown input type ${JSON.stringify(data)}`, `${s ? `did you mean "${s}"? ` : ''}use File, Directory, string, int, long, float, double or boolean, optionally followed by [] (list) and/or ? (optional)`);
        return;
      }
      const s = typeof data === 'string' ? didYouMean(data, allowed) : undefined;
      ctx.error(base, `${JSON.stringify(data)} is not allowed here: must be one of ${allowed.map(a => JSON.stringify(a)).join(', ')}`, s ? `did you mean "${s}"?` : undefined);
      return;
    }
    case 'minimum':
    case 'maximum': {
      const limit = Number(p.limit);
      const least = e.keyword === 'minimum';
      const last = base.split('.').pop();
      let fix: string | undefined;
      if (last === 'ram') fix = RAM_RANGE_FIX;
      else if (last === 'vramMin') fix = `vramMin is in MB, a whole number from ${VRAM_MIN_MB} to ${VRAM_MAX_MB} (1 TiB)`;
      else if (last === 'count' && base.endsWith('gpus.count')) fix = `ask for 1 to ${GPU_COUNT_MAX} GPUs`;
      else if (last === 'position') fix = 'positions start at 0';
      else fix = `use a value of at ${least ? 'least' : 'most'} ${limit}`;
      ctx.error(base, `must be at ${least ? 'least' : 'most'} ${limit}, found ${JSON.stringify(data)}`, fix);
      return;
    }
    case 'minLength':
      ctx.error(base, 'must not be empty', 'give a value or remove the key');
      return;
    case 'minItems':
      ctx.error(base, `must list at least ${String(p.limit)} item${p.limit === 1 ? '' : 's'}`, base === 'batches' ? 'add a batch with its inputs, or use top level inputs for a single job' : undefined);
      return;
    case 'maxItems':
      ctx.error(base, `must list at most ${String(p.limit)} items, found ${Array.isArray(data) ? data.length : '?'}`, base.endsWith('gpus.devices') ? `ask for 1 to ${GPU_COUNT_MAX} GPUs` : undefined);
      return;
    case 'pattern': {
      if (base.endsWith('checksum') || /(^|\.)checksum$/.test(base)) {
        ctx.error(base, `checksum must be "sha1$" followed by 40 hexadecimal digits, found ${JSON.stringify(data)}`, 'write it as sha1$<40 hex digits> (the output of sha1sum), or remove it');
      } else {
        ctx.error(base, `${JSON.stringify(data)} does not match the pattern ${String(p.pattern)}`);
      }
      return;
    }
    case 'oneOf':
    case 'anyOf': {
      const branches = all.filter(b => b !== e && b.instancePath === e.instancePath && b.schemaPath.startsWith(e.schemaPath + '/'));
      const names = branches.filter(b => b.keyword === 'required').map(b => String((b.params as Obj).missingProperty));
      const passing = p.passingSchemas;
      const options = names.length ? names : oneOfRequiredNames(e);
      const label = options.join(' or ');
      if (Array.isArray(passing) && passing.length > 1) {
        ctx.error(base, `give only one of ${label}, not both`, base.endsWith('gpus') ? 'use gpus: {vendor: nvidia, count: N} or gpus: {vendor: nvidia, devices: [{vramMin: MB}, ...]}' : `remove all but one of ${options.join(', ')}`);
      } else {
        const fix = base.endsWith('gpus')
          ? 'add count: N (number of GPUs) or devices: [{vramMin: MB}, ...]'
          : `add ${options[0] ?? 'the missing key'}`;
        ctx.error(joinPath(base, options[0] ?? ''), `missing required key: ${label}${base ? ` in ${base}` : ''}`, fix);
      }
      return;
    }
    default:
      ctx.error(base, e.message ?? `invalid (${e.keyword})`);
  }
}

function oneOfRequiredNames(e: ErrorObject): string[] {
  const schema = e.schema;
  if (!Array.isArray(schema)) return [];
  return schema.flatMap(s => (isObj(s) && Array.isArray(s.required) ? s.required.map(String) : []));
}

/** The fix for a missing key, where it does not depend on the place the key is missing from. */
const ADD_MISSING_KEY = new Map<string, string>([
  ['redVersion', 'add redVersion: "9" (a quoted string)'],
  ['cli', 'add the cli section (a CWL CommandLineTool: cwlVersion, class, baseCommand, inputs, outputs)'],
  ['batches', 'add batches: a list of {inputs: ...}'],
  ['container', 'add container: {engine: docker, settings: {image: {url: IMAGE}}}'],
  ['cwlVersion', 'add cwlVersion: "v1.0"'],
  ['inputBinding', 'add inputBinding: {} (or with position: N / prefix: "--flag")'],
  ['type', 'add type: e.g. string, int, File or File?'],
  ['outputBinding', 'add outputBinding: {glob: "file name or pattern"}'],
  ['glob', 'add glob: "file name or pattern" (relative to the output directory)'],
  ['connector', 'add connector: {command: red-connector-…, access: {...}}'],
  ['command', 'add command: the connector program, e.g. red-connector-http'],
  ['access', 'add access: {...} (connector specific, e.g. url:)'],
  ['image', 'add image: {url: IMAGE}'],
  ['url', 'add url:'],
  ['vendor', 'add vendor: nvidia'],
  ['basename', 'add basename: the file or directory name']
]);

function requiredFix(base: string, missing: string, isBatch: boolean): string | undefined {
  switch (missing) {
    case 'inputs':
      return base === '' && !isBatch ? 'add inputs: with the values of cli.inputs (or batches: for several jobs)' : 'add inputs: (may be {} when cli.inputs is empty)';
    case 'class':
      return base === 'cli' ? 'add class: CommandLineTool' : 'add class: File or class: Directory';
    case 'outputs':
      return base === 'cli' ? 'add outputs: {} (or the files the program writes)' : undefined;
    case 'engine':
      return base === 'container' ? 'add engine: docker' : 'add engine: ccfaice or ccagency';
    case 'settings':
      return base === 'execution' ? 'add settings: {}' : 'add settings: {image: {url: IMAGE}}';
    default:
      return ADD_MISSING_KEY.get(missing);
  }
}

function typeIssue(path: string, expected: unknown, data: unknown, ctx: IssueCollector): void {
  const types = (Array.isArray(expected) ? expected : String(expected).split(',')).map(String);
  if (data === null) {
    const isJobValue = /(^|\.)inputs\.[^.]+(\.\d+)?$/.test(path) && !path.startsWith('cli.');
    ctx.error(
      path,
      'null is not allowed here',
      isJobValue ? 'leave the key out for an optional input, or give a value' : `give ${types.map(describeType).join(' or ')}, or remove the key`
    );
    return;
  }
  let fix: string | undefined;
  if (types.length === 1 && types[0] === 'string' && (typeof data === 'number' || typeof data === 'boolean')) fix = `quote it: "${String(data)}"`;
  else if (types.length === 1 && types[0] === 'integer' && typeof data === 'number') fix = 'use a whole number';
  else if (types.length === 1 && types[0] === 'integer' && typeof data === 'string' && /^\d+$/.test(data)) fix = `remove the quotes: ${data}`;
  else if (types.length === 1 && types[0] === 'boolean' && (data === 'true' || data === 'false')) fix = `remove the quotes: ${data}`;
  else if (types.includes('object') && !types.includes('string')) fix = 'write a mapping (key: value pairs)';
  ctx.error(path, `must be ${types.map(describeType).join(' or ')}, found ${describeValue(data)}`, fix);
}

function constIssue(path: string, allowed: unknown, data: unknown, ctx: IssueCollector): void {
  const want = JSON.stringify(allowed);
  if (path === 'redVersion') {
    ctx.error(path, `redVersion must be the string "9", found ${describeValue(data)}`, 'write redVersion: "9" (quoted)');
  } else if (path === 'container.engine' && data === 'nvidia-docker') {
    ctx.error(path, 'container engine "nvidia-docker" is no longer supported', 'use engine: docker with settings.gpus, e.g. gpus: {vendor: nvidia, count: 1}');
  } else if (path === 'cli.cwlVersion') {
    ctx.error(path, `cwlVersion must be "v1.0", found ${describeValue(data)}`, 'write cwlVersion: "v1.0"');
  } else {
    const s = typeof data === 'string' && typeof allowed === 'string' && didYouMean(data, [allowed]);
    ctx.error(path, `must be ${want}, found ${describeValue(data)}`, s ? `did you mean ${want}?` : `write ${want}`);
  }
}

function describeType(t: string): string {
  switch (t) {
    case 'string':
      return 'a string';
    case 'number':
      return 'a number';
    case 'integer':
      return 'a whole number';
    case 'boolean':
      return 'true/false';
    case 'array':
      return 'a list';
    case 'object':
      return 'a mapping';
    case 'null':
      return 'null';
    default:
      return t;
  }
}
