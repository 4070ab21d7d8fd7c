// Where `{{variable}}` values come from on the command line: a variables file,
// REDLAB_VAR_<name> environment variables, then an interactive prompt (masked for
// protected keys). Values stay in memory; nothing here writes them anywhere.
import { parseRedText, listVariables, type Red } from '../../../src/red';
import { CliError, readText } from './red-file';

export interface VariableSources {
  file?: string;
  env: NodeJS.ProcessEnv;
  interactive: boolean;
  prompt?: (question: string, masked: boolean) => Promise<string>;
}

export async function readVariablesFile(file: string): Promise<Record<string, string>> {
  const text = await readText(file);
  let data: unknown;
  try {
    data = parseRedText(text, { source: file }).data;
  } catch (err) {
    throw new CliError(`${file}: not a YAML/JSON variables file: ${(err as Error).message}`);
  }
  if (!data || typeof data !== 'object' || Array.isArray(data)) {
    throw new CliError(`${file}: a variables file must be a mapping of names to values, e.g.\n  ssh_username: alice\n  ssh_password: secret`);
  }
  const values: Record<string, string> = {};
  for (const [k, v] of Object.entries(data as Record<string, unknown>)) {
    if (v === null || typeof v === 'object') throw new CliError(`${file}: variable "${k}" must be a string or number, not ${v === null ? 'null' : Array.isArray(v) ? 'a list' : 'a mapping'}.`);
    values[k] = String(v);
  }
  return values;
}

export async function collectVariables(red: Red, sources: VariableSources): Promise<Record<string, string>> {
  const wanted = listVariables(red);
  if (wanted.length === 0) return {};
  const fromFile = sources.file ? await readVariablesFile(sources.file) : {};
  const values: Record<string, string> = {};
  const missing: typeof wanted = [];
  for (const v of wanted) {
    const env = sources.env[`REDLAB_VAR_${v.name}`];
    if (v.name in fromFile) values[v.name] = fromFile[v.name];
    else if (env !== undefined) values[v.name] = env;
    else missing.push(v);
  }
  if (missing.length && sources.interactive && sources.prompt) {
    for (const v of missing.splice(0)) {
      values[v.name] = await sources.prompt(`${v.name}${v.protected ? ' (hidden)' : ''}: `, v.protected);
    }
  }
  if (missing.length) {
    const names = missing.map(v => v.name);
    throw new CliError(
      `missing values for ${names.length} variable${names.length === 1 ? '' : 's'}: ${names.join(', ')}\n` +
        `  give them in a file (--variables vars.yml with lines like "${names[0]}: ...") or as environment variables (${names.map(n => `REDLAB_VAR_${n}`).join(', ')})` +
        (sources.interactive ? '' : ', or run without --non-interactive in a terminal to be asked')
    );
  }
  return values;
}

/** Asks on the terminal; masked input echoes '*' so secrets never show on screen. */
export function terminalPrompt(input: NodeJS.ReadStream, output: NodeJS.WritableStream) {
  return (question: string, masked: boolean): Promise<string> =>
    new Promise((resolve, reject) => {
      output.write(question);
      let answer = '';
      const raw = input.isTTY === true;
      if (raw) input.setRawMode(true);
      input.resume();
      input.setEncoding('utf8');
      const done = (err?: Error) => {
        input.off('data', onData);
        if (raw) input.setRawMode(false);
        input.pause();
        output.write('\n');
        if (err) reject(err);
        else resolve(answer);
      };
      const onData = (chunk: string) => {
        for (const ch of chunk) {
          if (ch === '\r' || ch === '\n') return done();
          if (ch === '\u0003') return done(new CliError('cancelled at the prompt', 130));
          if (ch === '\u007f' || ch === '\b') {
            if (answer.length) {
              answer = answer.slice(0, -1);
              if (raw) output.write('\b \b');
            }
            continue;
          }
          answer += ch;
          if (raw) output.write(masked ? '*' : ch);
        }
      };
      input.on('data', onData);
    });
}
