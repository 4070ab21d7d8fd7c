// Semantic checks of each job's values against the cli section: every given input
// and output is declared, every required input is given, and each value fits its
// declared CWL type (int vs float literal, quoted numbers, lists vs single values,
// File vs Directory), with the fix in the user's own terms.
//
// Pure TypeScript: no DOM, no Node APIs.

import type { CwlType } from './cwl-type';
import type { IssueCollector } from './issue-collector';
import { joinPath } from './parse';
import type { Job } from './red-jobs';
import { didYouMean } from './suggest';
import { describeValue, isObj, type Obj } from './values';

/** Job inputs against cli.inputs: `declaredTypes` holds each declared key (undefined for a type the schema rejects). */
export function checkJobInputs(declaredTypes: Map<string, CwlType | undefined>, jobs: Job[], isBatch: boolean, ctx: IssueCollector): void {
  const declared = [...declaredTypes.keys()];
  for (const job of jobs) {
    if (!isObj(job.inputs)) continue;
    for (const [key, value] of Object.entries(job.inputs)) {
      const path = joinPath(job.inputsPath, key);
      if (!declaredTypes.has(key)) {
        undeclared('input', key, path, declared, ctx);
        continue;
      }
      const t = declaredTypes.get(key);
      if (t && value !== null && value !== undefined) checkJobValue(value, t, path, key, ctx);
    }
    for (const [key, t] of declaredTypes) {
      if (!t || t.optional || key in job.inputs) continue;
      ctx.error(joinPath(job.inputsPath, key), `missing required input "${key}" (cli.inputs.${key} has type ${t.text})${isBatch ? ` in ${job.label}` : ''}`, `add ${key}: <${t.text} value> under ${job.inputsPath}, or make it optional with type "${t.text}?"`);
    }
  }
}

/** Job outputs (where outputs are sent) against cli.outputs: declared keys, matching class. */
export function checkJobOutputs(cliOutputs: Obj, jobs: Job[], ctx: IssueCollector): void {
  const declared = Object.keys(cliOutputs);
  for (const job of jobs) {
    if (!isObj(job.outputs)) continue;
    for (const [key, target] of Object.entries(job.outputs)) {
      const path = joinPath(job.outputsPath, key);
      const decl = cliOutputs[key];
      if (decl === undefined) {
        undeclared('output', key, path, declared, ctx);
        continue;
      }
      const type = isObj(decl) && typeof decl.type === 'string' ? decl.type.replace(/\?$/, '') : undefined;
      const cls = isObj(target) ? target.class : undefined;
      if (type && typeof cls === 'string' && ['File', 'Directory', 'stdout', 'stderr'].includes(cls) && cls !== type) {
        ctx.error(joinPath(path, 'class'), `output "${key}" is declared in cli.outputs as ${String((decl as Obj).type)} but given class ${cls}`, `write class: ${type}`);
      }
    }
  }
}

function undeclared(kind: 'input' | 'output', key: string, path: string, declared: string[], ctx: IssueCollector): void {
  const s = didYouMean(key, declared);
  ctx.error(
    path,
    `${kind} "${key}" is not declared in cli.${kind}s (declared: ${declared.length ? declared.join(', ') : 'none'})`,
    s ? `rename it to "${s}", or declare it under cli.${kind}s` : `remove it, or declare it under cli.${kind}s`
  );
}

function checkJobValue(value: unknown, t: CwlType, path: string, key: string, ctx: IssueCollector): void {
  if (t.array) {
    if (!Array.isArray(value)) {
      ctx.error(path, `input "${key}" is declared as ${t.text} (a list) but given ${describeValue(value)}`, `write a list: [${Array.isArray(value) ? '' : shortValue(value)}]`);
      return;
    }
    value.forEach((item, i) => {
      if (item !== null) checkItem(item, t, joinPath(path, i), key, ctx);
    });
    return;
  }
  if (Array.isArray(value)) {
    ctx.error(path, `input "${key}" is declared as ${t.text} (a single value) but given a list`, `give one value, or declare the type as "${t.base}[]${t.optional ? '?' : ''}"`);
    return;
  }
  checkItem(value, t, path, key, ctx);
}

function checkItem(v: unknown, t: CwlType, path: string, key: string, ctx: IssueCollector): void {
  const decl = `input "${key}" is declared as ${t.text}`;
  switch (t.base) {
    case 'File':
    case 'Directory': {
      if (!isObj(v)) {
        ctx.error(path, `${decl} but given ${describeValue(v)}`, `give a ${t.base} object: {class: ${t.base}, connector: {command: red-connector-…, access: {...}}}`);
        return;
      }
      if ((v.class === 'File' || v.class === 'Directory') && v.class !== t.base) {
        ctx.error(joinPath(path, 'class'), `${decl} but given class ${v.class}`, `write class: ${t.base}, or declare the input as ${v.class}`);
      }
      return;
    }
    case 'string':
      if (typeof v !== 'string') ctx.error(path, `${decl} but given ${describeValue(v)}`, typeof v === 'number' || typeof v === 'boolean' ? `quote it: "${String(v)}"` : 'give a string');
      return;
    case 'int':
    case 'long': {
      if (typeof v === 'number' && Number.isInteger(v) && !ctx.isFloatLiteral(path)) {
        if (!Number.isSafeInteger(v)) ctx.error(path, `${decl} but ${String(v)} is too large to be represented exactly`, `use a value between -${Number.MAX_SAFE_INTEGER} and ${Number.MAX_SAFE_INTEGER}, or pass it as a string`);
        return;
      }
      if (typeof v === 'number' && Number.isInteger(v)) {
        ctx.error(path, `${decl} but given the float ${v}.0 (written with a decimal point or exponent)`, `write ${v} without the decimal point/exponent, or declare the input as float`);
      } else if (typeof v === 'number') {
        ctx.error(path, `${decl} but given the non-integer ${String(v)}`, 'use a whole number, or declare the input as float');
      } else if (typeof v === 'string' && /^[-+]?\d+$/.test(v.trim())) {
        ctx.error(path, `${decl} but given the string ${JSON.stringify(v)}`, `remove the quotes: ${v.trim()}`);
      } else {
        ctx.error(path, `${decl} but given ${describeValue(v)}`, 'give a whole number');
      }
      return;
    }
    case 'float':
    case 'double':
      if (typeof v === 'number') return;
      if (typeof v === 'string' && v.trim() !== '' && !Number.isNaN(Number(v))) ctx.error(path, `${decl} but given the string ${JSON.stringify(v)}`, `remove the quotes: ${v.trim()}`);
      else ctx.error(path, `${decl} but given ${describeValue(v)}`, 'give a number');
      return;
    case 'boolean':
      if (typeof v === 'boolean') return;
      if (typeof v === 'string' && /^(true|false)$/i.test(v.trim())) ctx.error(path, `${decl} but given the string ${JSON.stringify(v)}`, `write ${v.trim().toLowerCase()} without quotes`);
      else ctx.error(path, `${decl} but given ${describeValue(v)}`, 'give true or false');
      return;
  }
}

function shortValue(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return '...';
}
