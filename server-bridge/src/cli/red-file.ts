// Reading a RED file from disk for the CLI: one place that turns I/O and RED
// errors into messages that say which file and what to do.
import { readFile } from 'fs/promises';
import * as path from 'path';
import { loadRed, formatIssues, RedError, type LoadedRed } from '../../../src/red';

export class CliError extends Error {
  constructor(message: string, readonly exitCode = 2) {
    super(message);
  }
}

export async function readText(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new CliError(`${file}: no such file. Check the path (relative paths start at ${process.cwd()}).`);
    if (code === 'EISDIR') throw new CliError(`${file}: is a folder; give the RED file inside it (e.g. experiment.red.yml).`);
    throw new CliError(`${file}: cannot read: ${(err as Error).message}`);
  }
}

/** Loads and validates a RED file; RED errors become a CliError listing every issue with file:line. */
export async function readRedFile(file: string): Promise<LoadedRed> {
  const text = await readText(file);
  try {
    return loadRed(text, { source: path.basename(file) });
  } catch (err) {
    if (err instanceof RedError) {
      throw new CliError(`${file} is not a valid RED file (${err.issues.length} problem${err.issues.length === 1 ? '' : 's'}):\n${formatIssues(err.issues, file)}`);
    }
    throw err;
  }
}
