// An execution's outputs as a notebook keeps them: consecutive `stream` outputs of one
// name merged into one (as Jupyter saves them), and the sha256 of each output's canonical
// JSON (keys sorted, no spaces) for the execution's record.
//
// A cell may print 50 MB: the hash of a stream output is therefore taken as its text
// arrives (the canonical JSON of {name, output_type, text} ends with the text, so the
// bytes before it are known from the start), not by building and hashing the whole JSON
// when the cell ends, which held the bridge's one thread for a second. (The copy the store
// keeps is bounded: store/stored-outputs.ts; the hashes stay those of the whole outputs.)
import { createHash, type Hash } from 'crypto';
import { streamText, type NotebookOutput } from '../../../src/red';

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

/** A stream output whose canonical JSON is {"name":…,"output_type":"stream","text":…} (nothing else in it). */
const isPlainStream = (o: NotebookOutput): boolean => o.output_type === 'stream' && typeof o.name === 'string' && Object.keys(o).every(k => k === 'name' || k === 'output_type' || k === 'text');

/** The JSON string escape of `text` without its quotes: escaping is per character, so pieces concatenate. */
const escaped = (text: string): string => JSON.stringify(text).slice(1, -1);

/** The hash of the trailing stream output while text still comes. */
interface OpenStream {
  hash: Hash;
  /** A high surrogate that ended the last piece: JSON.stringify escapes a lone one, a pair it keeps. */
  held: string;
}

/** An execution's outputs, merged as a notebook keeps them, with their hashes kept up to date. */
export class OutputRecorder {
  /** Merged outputs, in order (the record's `outputs`). */
  readonly outputs: NotebookOutput[] = [];
  /** Hashes of all outputs but an open trailing stream. */
  private readonly closed: string[] = [];
  private open?: OpenStream;
  /** Characters of stream text in `outputs`. */
  streamChars = 0;

  /** Appends a copy of `output`, merging it into a stream output of the same name just before it. */
  append(output: NotebookOutput): void {
    const last = this.outputs[this.outputs.length - 1];
    if (output.output_type === 'stream' && last?.output_type === 'stream' && last.name === output.name && isPlainStream(output)) {
      const text = streamText(output);
      last.text = streamText(last) + text;
      this.streamChars += text.length;
      if (this.open) this.feed(this.open, text);
      return;
    }
    this.close();
    const copy: NotebookOutput = output.output_type === 'stream' ? { ...output, text: streamText(output) } : { ...output };
    this.outputs.push(copy);
    if (copy.output_type === 'stream') this.streamChars += (copy.text as string).length;
    if (isPlainStream(copy)) {
      this.open = { hash: createHash('sha256').update(`{"name":${JSON.stringify(copy.name)},"output_type":"stream","text":"`), held: '' };
      this.feed(this.open, copy.text as string);
    } else this.closed.push(outputHash(copy));
  }

  /** sha256 of each output's canonical JSON, in the order of `outputs`. */
  hashes(): string[] {
    return this.open ? [...this.closed, finish(this.open.hash.copy(), this.open.held)] : [...this.closed];
  }

  private close(): void {
    if (!this.open) return;
    this.closed.push(finish(this.open.hash, this.open.held));
    this.open = undefined;
  }

  private feed(open: OpenStream, text: string): void {
    let piece = open.held + text;
    open.held = '';
    const lastCode = piece.charCodeAt(piece.length - 1);
    if (lastCode >= 0xd800 && lastCode <= 0xdbff) {
      open.held = piece.slice(-1);
      piece = piece.slice(0, -1);
    }
    if (piece) open.hash.update(escaped(piece));
  }
}

function finish(hash: Hash, held: string): string {
  return hash.update(`${held ? escaped(held) : ''}"}`).digest('hex');
}
