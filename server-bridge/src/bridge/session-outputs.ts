// An execution's outputs as a notebook keeps them: consecutive `stream` outputs of one
// name merged into one (as Jupyter saves them), and the sha256 of each output's canonical
// JSON (keys sorted, no spaces) for the execution's record.
import { createHash } from 'crypto';
import type { NotebookOutput } from '../../../src/red';

/** JSON with object keys sorted by code point at every level and no whitespace. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(v => (v === undefined ? 'null' : canonicalJson(v))).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

export function outputHash(output: NotebookOutput): string {
  return createHash('sha256').update(canonicalJson(output)).digest('hex');
}

const streamText = (o: NotebookOutput): string => {
  const t = (o as { text?: unknown }).text;
  return Array.isArray(t) ? t.join('') : String(t ?? '');
};

/** Appends `output` to `outputs` (a copy: the caller's object is left as it is), merging it into a stream output of the same name just before it. */
export function appendOutput(outputs: NotebookOutput[], output: NotebookOutput): void {
  const last = outputs[outputs.length - 1];
  if (output.output_type === 'stream' && last?.output_type === 'stream' && last.name === output.name) {
    last.text = streamText(last) + streamText(output);
    return;
  }
  outputs.push(output.output_type === 'stream' ? { ...output, text: streamText(output) } : { ...output });
}
