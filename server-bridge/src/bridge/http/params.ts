// Query and path parameters, checked: each is a single string of the expected shape,
// or the request gets a 400 naming the parameter and what it takes.
import { isRunId } from '../../store/ids';
import { HttpError } from './errors';

export type Query = Record<string, unknown>;

const shown = (v: string) => JSON.stringify(v.length > 60 ? v.slice(0, 60) + '…' : v);

/** The single value of a query parameter (undefined when absent); a repeated one is refused. */
export function single(q: Query, name: string): string | undefined {
  const v = q?.[name];
  if (v === undefined) return undefined;
  if (Array.isArray(v)) throw new HttpError(400, `query parameter ${name} is given ${v.length} times: give it once`);
  return String(v);
}

/** A whole number in [min, max] (default when absent). */
export function intParam(q: Query, name: string, opts: { min: number; max?: number; def: number }): number;
export function intParam(q: Query, name: string, opts: { min: number; max?: number; def?: undefined }): number | undefined;
export function intParam(q: Query, name: string, opts: { min: number; max?: number; def?: number }): number | undefined {
  const s = single(q, name);
  if (s === undefined || s === '') {
    if (s === '') throw new HttpError(400, `query parameter ${name} is empty: give a whole number${opts.def !== undefined ? ` or leave it out (default ${opts.def})` : ''}`);
    return opts.def;
  }
  const max = opts.max ?? Number.MAX_SAFE_INTEGER;
  if (!/^\d{1,16}$/.test(s) || !Number.isSafeInteger(Number(s))) {
    throw new HttpError(400, `query parameter ${name}=${shown(s)} is not a whole number >= ${opts.min}: give e.g. ${name}=${opts.def ?? opts.min}`);
  }
  const n = Number(s);
  if (n < opts.min || n > max) throw new HttpError(400, `query parameter ${name}=${n} is out of range: give a whole number from ${opts.min} to ${max}`);
  return n;
}

/** A boolean flag: 1/true/yes or 0/false/no (default false). */
export function flagParam(q: Query, name: string): boolean {
  const s = single(q, name);
  if (s === undefined) return false;
  const v = s.toLowerCase();
  if (v === '' || v === '1' || v === 'true' || v === 'yes') return true;
  if (v === '0' || v === 'false' || v === 'no') return false;
  throw new HttpError(400, `query parameter ${name}=${shown(s)} is not a flag: give ${name}=true or ${name}=false`);
}

/** One of `allowed` (default when absent). */
export function enumParam<T extends string>(q: Query, name: string, allowed: readonly T[], def: T): T {
  const s = single(q, name);
  if (s === undefined) return def;
  if (!(allowed as readonly string[]).includes(s)) throw new HttpError(400, `query parameter ${name}=${shown(s)} is not one of ${allowed.join(', ')}`);
  return s as T;
}

/** Refuses query parameters the route does not know (a typo should not be silently ignored). */
export function onlyParams(q: Query, known: readonly string[]): void {
  for (const k of Object.keys(q ?? {})) {
    if (!known.includes(k)) {
      throw new HttpError(400, `unknown query parameter ${shown(k)}${known.length ? `: this route takes ${known.join(', ')}` : ': this route takes none'}`);
    }
  }
}

/** A run id from the path: ULID-shaped, else 404 (no such run can exist). */
export function runIdParam(p: unknown): string {
  const id = (p as { id?: unknown })?.id;
  if (!isRunId(id)) {
    throw new HttpError(404, `no run ${shown(String(id ?? ''))}: run ids are 26 characters (0-9, A-Z), as POST /api/v1/runs returns them`);
  }
  return id;
}
