// `redlab validate FILE…`: every file checked, every problem listed.
import { formatIssues } from '../../../src/red';
import { CliError, readRedFile } from './red-file';

export async function validateFiles(files: string[], out: NodeJS.WritableStream, err: NodeJS.WritableStream): Promise<number> {
  let failed = 0;
  for (const file of files) {
    try {
      const loaded = await readRedFile(file);
      const red = loaded.red;
      const shape = 'batches' in red ? `${red.batches.length} batch${red.batches.length === 1 ? '' : 'es'}` : `${Object.keys(red.inputs).length} input${Object.keys(red.inputs).length === 1 ? '' : 's'}`;
      out.write(`${file}: valid RED 9 (${shape}, image ${red.container.settings.image.url})\n`);
      if (loaded.warnings.length) err.write(formatIssues(loaded.warnings, file) + '\n');
    } catch (e) {
      if (!(e instanceof CliError)) throw e;
      failed++;
      err.write(e.message + '\n');
    }
  }
  return failed ? 1 : 0;
}
