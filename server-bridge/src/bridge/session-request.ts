// POST /sessions' body checked field by field (issue 10): each refusal names the field
// and the fix (422), and a notebook path that tries to leave the Jupyter root (absolute,
// `..`) is refused as forbidden (403) before any file is touched.
import * as path from 'path';
import { ramRangeProblem, RAM_RANGE_FIX, type GpuRequirement, type SessionCreateRequest, type SessionGpuRequest } from '../../../src/red';
import { RequestError } from './service';

/** A create request, checked and with its defaults. */
export interface SessionRequest {
  image: string;
  /** Relative to the first allowed root, `/`-separated, normalised. */
  notebookPath: string;
  /** Its folder (the working directory): '' for the root itself. */
  folder: string;
  profile: string;
  ram?: number;
  cpus?: number;
  gpus?: SessionGpuRequest;
  env: Record<string, string>;
  engine?: string;
}

export const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
export const DEFAULT_PROFILE = 'default';

/** A refused field: 422 (or `status`) with the field as the issue's path. */
export function fieldError(field: string, message: string, fix: string, status = 422): RequestError {
  const text = `${field}: ${message}`;
  return new RequestError(status, text, { fix, issues: [{ path: field, message: text, fix, severity: 'error' }] });
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
const positive = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v > 0;

function notebookPathOf(v: unknown): { notebookPath: string; folder: string } {
  const fix = 'give the notebook\'s path relative to the Jupyter root, e.g. "project/analysis.ipynb"';
  if (typeof v !== 'string' || !v.trim()) throw fieldError('notebookPath', `must be the notebook's path as text, not ${JSON.stringify(v)}`, fix);
  if (v.includes('\0')) throw fieldError('notebookPath', 'contains a NUL character', fix);
  if (path.posix.isAbsolute(v) || /^[A-Za-z]:[\\/]/.test(v)) throw fieldError('notebookPath', `${v} is absolute: sessions only run in folders inside the Jupyter root`, fix, 403);
  const parts = v.split(/[\\/]+/).filter(p => p !== '' && p !== '.');
  if (parts.includes('..')) throw fieldError('notebookPath', `${v} goes up with "..": sessions only run in folders inside the Jupyter root`, fix, 403);
  if (!parts.length) throw fieldError('notebookPath', `${JSON.stringify(v)} names no notebook`, fix);
  return { notebookPath: parts.join('/'), folder: parts.slice(0, -1).join('/') };
}

function gpusOf(v: unknown): SessionGpuRequest | undefined {
  if (v === undefined || v === null) return undefined;
  const fix = 'send {"count": N} (N >= 1) or {"vramMin": MB} (one GPU with at least that much memory), or leave gpus out';
  if (!isObject(v)) throw fieldError('gpus', `must be an object, not ${JSON.stringify(v)}`, fix);
  const unknown = Object.keys(v).filter(k => k !== 'count' && k !== 'vramMin');
  if (unknown.length) throw fieldError('gpus', `has no field ${unknown.join(', ')}`, fix);
  if (v.count === undefined && v.vramMin === undefined) throw fieldError('gpus', 'asks for nothing', fix);
  if (v.count !== undefined && !(Number.isInteger(v.count) && (v.count as number) >= 1)) throw fieldError('gpus.count', `must be a whole number of at least 1, not ${JSON.stringify(v.count)}`, fix);
  if (v.vramMin !== undefined && !positive(v.vramMin)) throw fieldError('gpus.vramMin', `must be a positive number of MB, not ${JSON.stringify(v.vramMin)}`, fix);
  return { ...(v.count !== undefined ? { count: v.count as number } : {}), ...(v.vramMin !== undefined ? { vramMin: v.vramMin as number } : {}) };
}

function envOf(v: unknown): Record<string, string> {
  if (v === undefined || v === null) return {};
  const fix = 'send env as {"NAME": "value"} with names of letters, digits and _ (not starting with a digit)';
  if (!isObject(v)) throw fieldError('env', `must be an object of names and text values, not ${JSON.stringify(v)}`, fix);
  for (const [k, value] of Object.entries(v)) {
    if (!ENV_NAME.test(k)) throw fieldError('env', `${JSON.stringify(k)} is not an environment variable name`, fix);
    // The value is never echoed: it may be a secret.
    if (typeof value !== 'string') throw fieldError(`env.${k}`, 'must be text', fix);
    if (value.includes('\0')) throw fieldError(`env.${k}`, 'contains a NUL character', fix);
  }
  return { ...(v as Record<string, string>) };
}

/** Checks a POST /sessions body; throws RequestError naming the field. */
export function parseSessionRequest(body: unknown): SessionRequest {
  if (!isObject(body)) throw new RequestError(400, 'the request body must be a JSON object: {"image": ..., "notebookPath": ...}');
  const req = body as Partial<SessionCreateRequest> & Record<string, unknown>;
  if (typeof req.image !== 'string' || !req.image.trim() || /\s/.test(req.image) || req.image.length > 512) {
    throw fieldError('image', `must be an image reference or ID without spaces, not ${JSON.stringify(req.image)}`, 'e.g. "python:3.12-slim" or "sha256:…" (an image with python3)');
  }
  const { notebookPath, folder } = notebookPathOf(req.notebookPath);
  const profile = req.profile === undefined || req.profile === null ? DEFAULT_PROFILE : req.profile;
  if (typeof profile !== 'string' || !profile.trim() || profile.length > 100 || /[\u0000-\u001f]/.test(profile)) {
    throw fieldError('profile', `must be a name of 1 to 100 characters, not ${JSON.stringify(req.profile)}`, `leave it out for "${DEFAULT_PROFILE}"`);
  }
  if (req.ram !== undefined && req.ram !== null) {
    const problem = positive(req.ram) ? ramRangeProblem(req.ram) : `must be a positive number of MB, not ${JSON.stringify(req.ram)}`;
    if (problem) throw fieldError('ram', problem, RAM_RANGE_FIX);
  }
  if (req.cpus !== undefined && req.cpus !== null && !positive(req.cpus)) {
    throw fieldError('cpus', `must be a positive number (fractions allowed), not ${JSON.stringify(req.cpus)}`, 'e.g. "cpus": 2, or leave it out for no limit');
  }
  if (req.engine !== undefined && req.engine !== null && (typeof req.engine !== 'string' || !req.engine)) {
    throw fieldError('engine', `must be an engine's name as text, not ${JSON.stringify(req.engine)}`, 'use a name GET /health lists, or leave it out for the default');
  }
  return {
    image: req.image,
    notebookPath,
    folder,
    profile,
    ...(req.ram !== undefined && req.ram !== null ? { ram: req.ram } : {}),
    ...(req.cpus !== undefined && req.cpus !== null ? { cpus: req.cpus } : {}),
    ...(gpusOf(req.gpus) ? { gpus: gpusOf(req.gpus) } : {}),
    env: envOf(req.env),
    ...(typeof req.engine === 'string' ? { engine: req.engine } : {})
  };
}

/** The request as the GPU pool's requirement: a count, or `count` GPUs (default 1) of at least vramMin MB each. */
export function gpuRequirement(g: SessionGpuRequest): GpuRequirement {
  if (g.vramMin !== undefined) return { vendor: 'nvidia', devices: Array.from({ length: g.count ?? 1 }, () => ({ vramMin: g.vramMin as number })) };
  return { vendor: 'nvidia', count: g.count ?? 1 };
}

/** What a GPU request asks for, in words. */
export function describeGpuAsk(g: SessionGpuRequest): string {
  const n = g.count ?? 1;
  const many = n === 1 ? 'GPU' : 'GPUs';
  return g.vramMin !== undefined ? `${n === 1 ? 'a' : n} ${many} with at least ${g.vramMin} MB` : `${n} ${many}`;
}
