// The command line of a job, built exactly as Curious Containers' agent builds it
// (cc_core/commons/command_builder.py; the same code is inlined in the restricted_red agent):
//
//   - baseCommand: a string gives one word, a list gives its words, each stripped of
//     surrounding whitespace (Python str.strip); absent/null gives no word.
//   - Inputs WITHOUT a (non-empty) prefix are positional: they come first, sorted by
//     inputBinding.position (default 0); ties keep declaration order (Python's stable sort).
//   - Inputs WITH a prefix come after all positional ones, in declaration order. Their
//     `position` is ignored (unlike the CWL specification).
//   - A missing input (absent or null) is dropped when its type ends in `?`, an error otherwise.
//   - Values render as Python's str(): File/Directory as their path in the container, strings as
//     themselves, numbers as Python ints/floats (floats via `floatPaths`), booleans `True`/`False`.
//   - boolean: true gives the bare prefix (nothing without a prefix), false gives nothing.
//   - boolean[]: items are only rendered when itemSeparator is set (joined: "True,False");
//     a non-empty list with a prefix and no itemSeparator gives the bare prefix, whatever its items.
//   - arrays: itemSeparator (when non-empty) joins the items into one word; with a prefix and no
//     itemSeparator the prefix is its own word followed by the items (`separate` is ignored);
//     with an itemSeparator, `separate: false` glues prefix and joined items ("-Xa,b").
//   - an empty array gives nothing (not even the prefix).
//   - `separate: false` on a scalar glues prefix and value ("--n=3" when prefix is "--n=").

import { pyFloatRepr, pyStr, pyStrip, pyTruthy, shlexQuote } from './pyformat';
import { RedError, type CommandLineTool, type CwlInput, type CwlPrimitive, type FileOrDirectory, type JobInputs } from './types';
import { CWL_PRIMITIVES, parseCwlType } from './cwl-type';

export type ContainerPathOf = (key: string, value: FileOrDirectory, index?: number) => string;

export interface BuildCommandOptions {
  /** Where a File/Directory input lives in the container (see paths.ts inputContainerPath). */
  containerPathOf: ContainerPathOf;
  /** Dotted paths of numbers written as floats in the source (`inputs.alpha`, `batches.0.inputs.xs.2`). */
  floatPaths?: ReadonlySet<string>;
  /** The dotted path the given inputs live at: `inputs` (default) or `batches.<i>.inputs`. */
  floatPathPrefix?: string;
}

export type InputCategory = CwlPrimitive;

export interface InputType {
  category: InputCategory;
  array: boolean;
  optional: boolean;
}

/** Parses a CWL input type as RED writes it: a primitive with optional `[]`, then optional `?`. */
export function parseInputType(type: string): InputType {
  const t = parseCwlType(type);
  if (!t) throw new Error(`the input type "${type}" is not valid: use one of ${CWL_PRIMITIVES.join(', ')}, optionally followed by "[]" and/or "?"`);
  return { category: t.base, array: t.array, optional: t.optional };
}

interface CliArgument {
  key: string;
  type: InputType;
  positional: boolean;
  position: number;
  prefix?: string;
  separate: boolean;
  itemSeparator?: string;
}

function toCliArgument(key: string, input: CwlInput): CliArgument {
  const binding = (input && input.inputBinding) || {};
  const type = parseInputType(input.type);
  const rawPosition = binding.position as unknown;
  const position = typeof rawPosition === 'number' ? rawPosition : 0;
  const prefix = typeof binding.prefix === 'string' && binding.prefix !== '' ? binding.prefix : undefined;
  // Python truthiness of inputBinding.get('separate', True).
  const separate = 'separate' in binding ? pyTruthy(binding.separate) : true;
  const itemSeparator = typeof binding.itemSeparator === 'string' && binding.itemSeparator !== '' ? binding.itemSeparator : undefined;
  return { key, type, positional: prefix === undefined, position, prefix, separate, itemSeparator };
}

/** The CLI arguments in command line order: positional ones by position (stable), then prefixed ones in declaration order. */
function orderedArguments(cli: CommandLineTool): CliArgument[] {
  const args = Object.entries(cli.inputs || {}).map(([k, v]) => toCliArgument(k, v));
  return args.sort((a, b) => {
    if (a.positional && b.positional) return a.position - b.position;
    if (a.positional) return -1;
    if (b.positional) return 1;
    return 0;
  });
}

/** The base command as a list of words (Curious Containers' normalize_base_command). */
export function normalizeBaseCommand(baseCommand: CommandLineTool['baseCommand']): string[] {
  if (Array.isArray(baseCommand)) return baseCommand.map(w => pyStrip(String(w)));
  if (typeof baseCommand === 'string') return [pyStrip(baseCommand)];
  return [];
}

/** Builds the argv of one job, byte for byte as Curious Containers does. */
export function buildCommand(cli: CommandLineTool, inputs: JobInputs, opts: BuildCommandOptions): string[] {
  const prefix = opts.floatPathPrefix ?? 'inputs';
  const floatPaths = opts.floatPaths;
  const isFloat = (path: string) => !!floatPaths && floatPaths.has(path);
  const fail = (key: string, message: string, fix?: string): never => {
    throw new RedError([{ path: `${prefix}.${key}`, message, fix, severity: 'error' }]);
  };

  const command = normalizeBaseCommand(cli.baseCommand);

  for (const arg of orderedArguments(cli)) {
    const value = (inputs as Record<string, unknown>)[arg.key];
    if (value === undefined || value === null) {
      if (arg.type.optional) continue;
      fail(arg.key, `required input "${arg.key}" is missing`, `give a value for "${arg.key}", or make its type optional ("${arg.type.category}${arg.type.array ? '[]' : ''}?")`);
    }

    const render = (v: unknown, index?: number): string => {
      const where = index === undefined ? arg.key : `${arg.key}.${index}`;
      if (arg.type.category === 'File' || arg.type.category === 'Directory') {
        if (!v || typeof v !== 'object' || Array.isArray(v)) {
          fail(where, `input "${where}" is declared as ${arg.type.category} but its value is not a ${arg.type.category} object`);
        }
        return opts.containerPathOf(arg.key, v as FileOrDirectory, index);
      }
      if (v !== null && typeof v === 'object') {
        fail(where, `input "${where}" is declared as ${arg.type.category} but its value is ${Array.isArray(v) ? 'a list' : 'an object'}`);
      }
      const path = `${prefix}.${where}`;
      return typeof v === 'number' && isFloat(path) ? pyFloatRepr(v) : pyStr(v);
    };

    // The words of the value, before the prefix and before joining with itemSeparator.
    let items: string[] = [];
    if (arg.type.array) {
      if (!Array.isArray(value)) {
        fail(arg.key, `input "${arg.key}" is declared as an array (${arg.type.category}[]) but its value is not a list`, 'give a list, e.g. [a, b]');
      }
      const list = value as unknown[];
      if (arg.type.category !== 'boolean' || arg.itemSeparator !== undefined) items = list.map((v, i) => render(v, i));
    } else {
      if (Array.isArray(value)) {
        fail(arg.key, `input "${arg.key}" is declared as ${arg.type.category} but its value is a list`, `declare it as "${arg.type.category}[]" or give a single value`);
      }
      if (arg.type.category !== 'boolean') items = [render(value)];
    }
    if (items.length && arg.itemSeparator !== undefined) items = [items.join(arg.itemSeparator)];

    if (arg.prefix === undefined) {
      command.push(...items);
      continue;
    }
    const separate = arg.type.array && arg.itemSeparator === undefined ? true : arg.separate;
    let addPrefix = true;
    if (arg.type.array && !pyTruthy(value)) addPrefix = false;
    if (arg.type.category === 'boolean' && !pyTruthy(value)) addPrefix = false;
    if (!addPrefix) continue;
    if (separate) {
      command.push(arg.prefix, ...items);
    } else if (items.length === 0) {
      command.push(arg.prefix);
    } else {
      command.push(arg.prefix + items[0]);
    }
  }
  return command;
}

/** A command line for display: each word quoted as Python's shlex.quote would, joined by spaces. */
export function formatCommandLine(argv: string[]): string {
  return argv.map(shlexQuote).join(' ');
}
