// Container profiles of "Run cell in container": what a notebook's session container gets
// (image, RAM, CPUs, GPUs, environment, engine). Two are built in, from the RED panel's
// defaults (settings) and the notebook's own experiment (metadata `redlab.experiment`, the
// panel's choices): `default` (no GPU) and `gpu` (the experiment's GPUs, else at least one).
// A notebook changes them, or adds its own, in its metadata `redlab.sessionProfiles`
// ({name: {image?, ramMb?, cpus?, gpus?, env?, engine?}}). Pure.
import { isSecretEnvName, type SessionCreateRequest, type SessionGpuRequest } from '../red';

export const DEFAULT_PROFILE = 'default';
export const GPU_PROFILE = 'gpu';
/** Key of the notebook metadata (under `redlab`) holding the notebook's profile changes. */
export const PROFILES_KEY = 'sessionProfiles';

export interface SessionProfile {
  name: string;
  image: string;
  ramMb?: number;
  cpus?: number;
  gpus?: SessionGpuRequest;
  env?: Record<string, string>;
  engine?: string;
}

/** The RED panel's defaults (settings), as index.ts hands them to the panel. */
export interface ProfileDefaults {
  image: string;
  ramMb: number;
  /** GPUs a GPU experiment starts with (0: one for the GPU profile). */
  gpus?: number;
  /** The defaultEngine setting (empty: the bridge's default). */
  engine?: string;
}

export class ProfileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProfileError';
  }
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const isWhole = (v: unknown, min: number): v is number => typeof v === 'number' && Number.isInteger(v) && v >= min;

/** The notebook's `redlab` metadata (an object, or undefined). */
export type NotebookRedlabMetadata = unknown;

/** The profiles the notebook can use by name: the built-in two and those its metadata adds. */
export function profileNames(meta: NotebookRedlabMetadata): string[] {
  const own = isObj(meta) && isObj(meta[PROFILES_KEY]) ? Object.keys(meta[PROFILES_KEY] as Obj) : [];
  return [...new Set([DEFAULT_PROFILE, GPU_PROFILE, ...own])];
}

/** Whether a profile asks for GPUs. */
export function wantsGpu(profile: Pick<SessionProfile, 'gpus'>): boolean {
  return Boolean(profile.gpus && ((profile.gpus.count ?? 0) > 0 || (profile.gpus.vramMin ?? 0) > 0));
}

/**
 * The profile `name` of a notebook: the built-in base (settings, then the notebook's
 * experiment), with the notebook's changes over it. Throws ProfileError naming the field and
 * the fix when the metadata holds something a session cannot take.
 */
export function resolveProfile(name: string, defaults: ProfileDefaults, meta: NotebookRedlabMetadata): SessionProfile {
  const experiment = isObj(meta) && isObj(meta.experiment) ? meta.experiment : {};
  const own = isObj(meta) && isObj(meta[PROFILES_KEY]) ? (meta[PROFILES_KEY] as Obj)[name] : undefined;
  if (name !== DEFAULT_PROFILE && name !== GPU_PROFILE && own === undefined) {
    throw new ProfileError(`the notebook has no container profile "${name}": use "${DEFAULT_PROFILE}" or "${GPU_PROFILE}", or add it to the notebook metadata redlab.${PROFILES_KEY}`);
  }
  const profile: SessionProfile = { name, image: defaults.image, ramMb: defaults.ramMb };
  if (defaults.engine) profile.engine = defaults.engine;
  if (typeof experiment.image === 'string' && experiment.image.trim()) profile.image = experiment.image.trim();
  if (isWhole(experiment.ramMb, 1)) profile.ramMb = experiment.ramMb;
  if (name === GPU_PROFILE) profile.gpus = experimentGpus(experiment.gpus) ?? { count: Math.max(1, defaults.gpus ?? 0) };
  if (own !== undefined) applyOwn(profile, own, `redlab.${PROFILES_KEY}.${name}`);
  if (!profile.image) throw new ProfileError(`the container profile "${name}" has no image: set the RED panel's image, or redlab.${PROFILES_KEY}.${name}.image in the notebook metadata`);
  return profile;
}

/** The experiment's GPUs (the panel's {count} or {vramMinMb}) as a session asks for them. */
function experimentGpus(g: unknown): SessionGpuRequest | undefined {
  if (!isObj(g)) return undefined;
  if (isWhole(g.vramMinMb, 1)) return { vramMin: g.vramMinMb };
  if (isWhole(g.count, 1)) return { count: g.count };
  return undefined;
}

function applyOwn(profile: SessionProfile, own: unknown, at: string): void {
  if (!isObj(own)) throw new ProfileError(`${at} in the notebook metadata must be an object such as {"image": "redlab/debian-python:12"}`);
  const known = ['image', 'ramMb', 'cpus', 'gpus', 'env', 'engine'];
  for (const key of Object.keys(own)) {
    if (!known.includes(key)) throw new ProfileError(`${at}.${key} is not a profile field: use ${known.join(', ')}`);
  }
  if (own.image !== undefined) {
    if (typeof own.image !== 'string' || !own.image.trim()) throw new ProfileError(`${at}.image must be an image name such as "redlab/debian-python:12"`);
    profile.image = own.image.trim();
  }
  if (own.ramMb !== undefined) {
    if (!isWhole(own.ramMb, 1)) throw new ProfileError(`${at}.ramMb must be a whole number of MB, e.g. 2048`);
    profile.ramMb = own.ramMb;
  }
  if (own.cpus !== undefined) {
    if (typeof own.cpus !== 'number' || !(own.cpus > 0)) throw new ProfileError(`${at}.cpus must be a number of CPUs above 0, e.g. 2 or 0.5`);
    profile.cpus = own.cpus;
  }
  if (own.gpus !== undefined) {
    const g = own.gpus;
    if (g === null || g === 0) delete profile.gpus;
    else if (isWhole(g, 1)) profile.gpus = { count: g };
    else if (isObj(g) && Object.keys(g).length === 1 && (isWhole(g.count, 1) || isWhole(g.vramMin, 1))) profile.gpus = isWhole(g.count, 1) ? { count: g.count } : { vramMin: g.vramMin as number };
    else throw new ProfileError(`${at}.gpus must be a count (1), {"count": 1}, {"vramMin": 8000} (MB of GPU memory) or 0 for none`);
  }
  if (own.env !== undefined) {
    const env = own.env;
    if (!isObj(env) || Object.entries(env).some(([k, v]) => !/^[A-Za-z_][A-Za-z0-9_]*$/.test(k) || typeof v !== 'string')) {
      throw new ProfileError(`${at}.env must map variable names ([A-Za-z_][A-Za-z0-9_]*) to strings, e.g. {"OMP_NUM_THREADS": "4"}`);
    }
    // The notebook's metadata is saved with it and shared: no place for a token.
    const secret = Object.keys(env).find(isSecretEnvName);
    if (secret) throw new ProfileError(`${at}.env.${secret} looks like a secret, and the notebook's metadata is saved in the notebook file for anyone who gets it: remove it there, and set secrets in the container some other way (e.g. a file in a folder only you can read, opened by the cell)`);
    profile.env = { ...(env as Record<string, string>) };
  }
  if (own.engine !== undefined) {
    if (typeof own.engine !== 'string') throw new ProfileError(`${at}.engine must be the name of a bridge engine, e.g. "docker"`);
    if (own.engine) profile.engine = own.engine;
    else delete profile.engine;
  }
}

/** What POST /sessions asks for a profile of the notebook at `notebookPath`. */
export function createRequest(profile: SessionProfile, notebookPath: string): SessionCreateRequest {
  const req: SessionCreateRequest = { image: profile.image, notebookPath, profile: profile.name };
  if (profile.ramMb !== undefined) req.ram = profile.ramMb;
  if (profile.cpus !== undefined) req.cpus = profile.cpus;
  if (profile.gpus && wantsGpu(profile)) req.gpus = { ...profile.gpus };
  if (profile.env && Object.keys(profile.env).length) req.env = { ...profile.env };
  if (profile.engine) req.engine = profile.engine;
  return req;
}

/** The notebook's `redlab` metadata with `patch` merged into profile `name` (a new object). */
export function withProfileChange(meta: NotebookRedlabMetadata, name: string, patch: Partial<Omit<SessionProfile, 'name'>>): Obj {
  const base = isObj(meta) ? meta : {};
  const profiles = isObj(base[PROFILES_KEY]) ? (base[PROFILES_KEY] as Obj) : {};
  const was = isObj(profiles[name]) ? (profiles[name] as Obj) : {};
  return { ...base, [PROFILES_KEY]: { ...profiles, [name]: { ...was, ...patch } } };
}
