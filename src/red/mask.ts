// Replaces every known secret value with ******** in text that leaves the process
// (logs, errors, results). Values are held in memory only.

export const MASK = '********';

export class SecretMasker {
  private secrets: string[] = [];

  /** Register a filled secret. Very short values (< 3 chars) would mask ordinary text, so they are skipped. */
  add(value: unknown): void {
    if (typeof value !== 'string' && typeof value !== 'number') return;
    const s = String(value);
    if (s.length < 3 || this.secrets.includes(s)) return;
    this.secrets.push(s);
    // Longest first, so a secret that contains another is masked whole.
    this.secrets.sort((a, b) => b.length - a.length);
  }

  get size(): number {
    return this.secrets.length;
  }

  mask(text: string): string {
    let out = text;
    for (const s of this.secrets) out = out.split(s).join(MASK);
    return out;
  }

  /** Deep copy of a JSON-like value with every string masked. */
  maskValue<T>(value: T): T {
    if (typeof value === 'string') return this.mask(value) as unknown as T;
    if (Array.isArray(value)) return value.map(v => this.maskValue(v)) as unknown as T;
    if (value && typeof value === 'object') {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value)) out[k] = this.maskValue(v);
      return out as T;
    }
    return value;
  }
}
