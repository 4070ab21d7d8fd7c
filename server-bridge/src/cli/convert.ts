// `redlab convert format|cwl|batches FILE`, as `faice convert …` does.
import { parseRedText, cliToCwl, curiousContainersIssues, forCuriousContainers, formatIssues, splitBatches, toSortedJson, toSortedYaml, type Red, type RedIssue } from '../../../src/red';
import { writeFile } from 'fs/promises';
import * as path from 'path';
import { CliError, readRedFile, readText } from './red-file';

export type FormatName = 'yaml' | 'json';

/** What a conversion says besides its output: a RED Lab engine that Curious Containers cannot run (printed on stderr). */
export type ConvertWarnings = (text: string) => void;

/**
 * A RED as written (its RED Lab engine kept, the warning says cc cannot run it), or with
 * `forCc` as Curious Containers can run it (the extension engine left out, the warning says so).
 */
function forTarget<T extends Red>(red: T, file: string, forCc: boolean | undefined, warn: ConvertWarnings | undefined): T {
  const { red: out, warnings } = forCc ? forCuriousContainers(red) : { red, warnings: curiousContainersIssues(red) as RedIssue[] };
  if (warnings.length) warn?.(formatIssues(warnings, file));
  return out as T;
}

export async function convertFormat(file: string, to: FormatName | undefined, opts: { forCc?: boolean; warn?: ConvertWarnings } = {}): Promise<string> {
  const text = await readText(file);
  let parsed;
  try {
    parsed = parseRedText(text, { source: file });
  } catch (err) {
    throw new CliError(`${file}: ${(err as Error).message}`);
  }
  const target = to ?? (parsed.format === 'json' ? 'yaml' : 'json');
  if (target !== 'yaml' && target !== 'json') throw new CliError(`--format must be yaml or json, got ${to}`);
  // Only a RED that loads has an engine to speak of; a format conversion keeps what it cannot read as it is.
  const data = parsed.data && typeof parsed.data === 'object' && 'execution' in (parsed.data as object) ? forTarget(parsed.data as Red, file, opts.forCc, opts.warn) : parsed.data;
  return target === 'yaml' ? toSortedYaml(data) : toSortedJson(data);
}

export async function convertCwl(file: string): Promise<string> {
  return cliToCwl((await readRedFile(file)).red);
}

/** As `faice convert batches`: one RED file per batch, `<prefix>batch_<N>.<ext>` in `outdir`. Returns the paths written. */
export async function convertBatches(file: string, opts: { format: FormatName; prefix: string; outdir: string; forCc?: boolean; warn?: ConvertWarnings }): Promise<string[]> {
  const red = forTarget((await readRedFile(file)).red, file, opts.forCc, opts.warn);
  if (!('batches' in red)) throw new CliError(`${file} has no batches: nothing to split (it already runs as one experiment).`);
  const written: string[] = [];
  for (const [n, single] of splitBatches(red).entries()) {
    const target = path.join(opts.outdir, `${opts.prefix}batch_${n}.${opts.format === 'json' ? 'json' : 'yml'}`);
    await writeFile(target, opts.format === 'json' ? toSortedJson(single) : toSortedYaml(single));
    written.push(target);
  }
  return written;
}
