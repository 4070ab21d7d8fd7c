// Values of {{variables}} (credentials) given at launch: kept in this browser tab's
// memory for the session only, never in the notebook, the RED or the settings. Pure.
import type { RedVariable } from '../red';

export class SessionVariables {
  private readonly values = new Map<string, string>();

  has(name: string): boolean {
    return this.values.has(name);
  }

  get(name: string): string | undefined {
    return this.values.get(name);
  }

  set(name: string, value: string): void {
    this.values.set(name, value);
  }

  /** The variables still without a value. */
  missing(vars: readonly RedVariable[]): RedVariable[] {
    return vars.filter(v => !this.values.has(v.name));
  }

  /** Values for `vars` (those known). */
  valuesFor(vars: readonly RedVariable[]): Record<string, string> {
    const out: Record<string, string> = {};
    for (const v of vars) {
      const value = this.values.get(v.name);
      if (value !== undefined) out[v.name] = value;
    }
    return out;
  }

  forget(name?: string): void {
    if (name === undefined) this.values.clear();
    else this.values.delete(name);
  }
}
