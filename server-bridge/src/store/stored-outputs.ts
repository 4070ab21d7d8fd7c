// The copy of a session execution's outputs that the store keeps: bounded, since a cell
// may print gigabytes and the record is for finding out what ran, not a second log store.
import { streamText, type NotebookOutput } from '../../../src/red';

/** Characters of stream text the store keeps of one execution (its head and its tail); the rest is left out of the stored copy. */
export const STORED_STREAM_CHARS = 4 * 1024 * 1024;

/**
 * The copy of `outputs` the store keeps: when their stream text is over `maxChars` in all, the
 * longest streams are cut in the middle (head and tail kept, a line saying how much was left
 * out) to a common length that brings the total to maxChars; shorter streams and other outputs
 * stay whole, so a cell printing gigabytes does not fill the database. `leftOut`: characters cut.
 */
export function storedOutputs(outputs: readonly NotebookOutput[], maxChars = STORED_STREAM_CHARS): { outputs: NotebookOutput[]; leftOut: number } {
  const lengths = outputs.filter(o => o.output_type === 'stream').map(o => streamText(o).length);
  if (lengths.reduce((a, b) => a + b, 0) <= maxChars) return { outputs: outputs as NotebookOutput[], leftOut: 0 };
  // The longest a stream may stay: short ones keep all they have, the rest share what is left.
  let budget = maxChars;
  let sharing = lengths.length;
  for (const n of [...lengths].sort((a, b) => a - b)) {
    if (n > Math.floor(budget / sharing)) break;
    budget -= n;
    sharing--;
  }
  const cap = Math.floor(budget / Math.max(1, sharing));
  let leftOut = 0;
  const kept = outputs.map(o => {
    if (o.output_type !== 'stream') return o;
    const text = streamText(o);
    if (text.length <= cap) return o;
    const head = text.slice(0, Math.ceil(cap / 2));
    const tail = text.slice(text.length - Math.floor(cap / 2));
    const cut = text.length - head.length - tail.length;
    leftOut += cut;
    return { ...o, text: `${head}\n[… ${cut} characters left out of the stored record; the output's hash is of all of it …]\n${tail}` };
  });
  return { outputs: kept, leftOut };
}
