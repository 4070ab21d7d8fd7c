// `redlab convert format|cwl|batches FILE`, as `faice convert …` does.
import { parseRedText, cliToCwl, splitBatches, toSortedJson, toSortedYaml } from '../../../src/red';
import { writeFile } from 'fs/promises';
import * as path from 'path';
import { CliError, readRedFile, readText } from './red-file';

export type FormatName = 'yaml' | 'json';

export async function convertFormat(file: string, to: FormatName | undefined): Promise<string> {
  const text = await readText(file);
  let parsed;
  try {
    parsed = parseRedText(text, { source: file });
  } catch (err) {
    throw new CliError(`${file}: ${(err as Error).message}`);
  }
  const target = to ?? (parsed.format === 'json' ? 'yaml' : 'json');
  if (target !== 'yaml' && target !== 'json') throw new CliError(`--format must be yaml or json, got ${to}`);
  return target === 'yaml' ? toSortedYaml(parsed.data) : toSortedJson(parsed.data);
}

export async function convertCwl(file: string): Promise<string> {
  return cliToCwl((await readRedFile(file)).red);
}

/** As `faice convert batches`: one RED file per batch, `<prefix>batch_<N>.<ext>` in `outdir`. Returns the paths written. */
export async function convertBatches(file: string, opts: { format: FormatName; prefix: string; outdir: string }): Promise<string[]> {
  const red = (await readRedFile(file)).red;
  if (!('batches' in red)) throw new CliError(`${file} has no batches: nothing to split (it already runs as one experiment).`);
  const written: string[] = [];
  for (const [n, single] of splitBatches(red).entries()) {
    const target = path.join(opts.outdir, `${opts.prefix}batch_${n}.${opts.format === 'json' ? 'json' : 'yml'}`);
    await writeFile(target, opts.format === 'json' ? toSortedJson(single) : toSortedYaml(single));
    written.push(target);
  }
  return written;
}
