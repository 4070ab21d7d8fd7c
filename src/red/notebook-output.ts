// nbformat output dicts, as cells and the session runner hold them. Pure.

/** The text of a `stream` output: nbformat allows a string or a list of lines. */
export function streamText(output: object): string {
  const t = (output as { text?: unknown }).text;
  return Array.isArray(t) ? t.join('') : String(t ?? '');
}
