// Newline-delimited JSON as it arrives in chunks (the image build's progress). Pure.

/** Complete lines of `buffered + chunk` as JSON values, and the unfinished rest. */
export function splitNdjson(buffered: string, chunk: string): { values: unknown[]; rest: string } {
  const text = buffered + chunk;
  const lines = text.split('\n');
  const rest = lines.pop() ?? '';
  const values: unknown[] = [];
  for (const line of lines) {
    const t = line.trim();
    if (!t) continue;
    try {
      values.push(JSON.parse(t));
    } catch {
      values.push({ type: 'build-progress', line: t });
    }
  }
  return { values, rest };
}
