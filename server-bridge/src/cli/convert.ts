// `redlab convert format|cwl|batches FILE`, as `faice convert …` does.
import { parseRedText } from '../../../src/red/parse';
import { cliToCwl, toBatchRed, toSortedJson, toSortedYaml } from '../../../src/red/convert';
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

export async function convertBatches(file: string, to: FormatName = 'yaml'): Promise<string> {
  const batchRed = toBatchRed((await readRedFile(file)).red);
  return to === 'json' ? toSortedJson(batchRed) : toSortedYaml(batchRed);
}
