// GET /runs/{id}/drift?against=<otherId>: how a finished re-run differs from the finished run
// it reproduces, as `redlab rerun` reports it (a DriftReport), from the two runs' crates in
// their outputs folders (read without following links: containers wrote them).
import type { FastifyInstance } from 'fastify';
import { RunCrateError, type DriftReport, type RunCrateSummary } from '../../../../src/red';
import { buildDriftReport, readRunCrate } from '../../drift/report';
import { isRunId } from '../../store/ids';
import { isFinalState, type RunRecord } from '../../store/types';
import type { RunService } from '../service';
import { HttpError } from './errors';
import { intParam, onlyParams, runIdParam, single, type Query } from './params';
import { crateOf } from './runs';

/** Most --ignore globs one request takes, and their length. */
const MAX_IGNORE = 50;
const MAX_GLOB_CHARS = 500;

/** A tolerance: a number >= 0 in plain or exponent notation (default 0). */
function toleranceParam(q: Query, name: 'atol' | 'rtol'): number {
  const s = single(q, name);
  if (s === undefined) return 0;
  const n = /^\s*(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$/.test(s) ? Number(s) : NaN;
  if (!Number.isFinite(n)) throw new HttpError(400, `query parameter ${name}=${JSON.stringify(s.slice(0, 40))} is not a tolerance: give a number of at least 0, e.g. ${name}=1e-6, or leave it out (0)`);
  return n;
}

/** ?ignore=GLOB, repeated for several. */
function ignoreParam(q: Query): string[] {
  const v = q.ignore;
  if (v === undefined) return [];
  const globs = (Array.isArray(v) ? v : [v]).map(String);
  if (globs.length > MAX_IGNORE) throw new HttpError(400, `query parameter ignore is given ${globs.length} times, more than the limit of ${MAX_IGNORE}`);
  for (const g of globs) {
    if (!g.trim() || g.length > MAX_GLOB_CHARS) throw new HttpError(400, `query parameter ignore must be a glob of output paths (e.g. ignore=*.log) of 1 to ${MAX_GLOB_CHARS} characters`);
  }
  return globs;
}

/** One run's crate for the comparison: 404 unknown or without a crate, 409 not finished. */
async function crateFor(service: RunService, id: string, role: string, batch: number | undefined): Promise<{ run: RunRecord; dir: string; summary: RunCrateSummary }> {
  const run = service.store.getRun(id);
  if (!run) throw new HttpError(404, `no run ${id} (${role}): it does not exist or was deleted; GET /api/v1/runs lists runs`);
  if (!isFinalState(run.state)) throw new HttpError(409, `run ${id} (${role}) is ${run.state}: its drift can be reported once it has ended and left its crate; ask again then`, { state: run.state });
  const { dir } = crateOf(run, batch);
  try {
    return { run, dir, summary: await readRunCrate(dir) };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      throw new HttpError(404, `run ${id} (${role}, ${run.state}) has no crate: none was written in its outputs folder (a run of a bridge from before run records, or its record could not be written: see its log)`);
    }
    if (err instanceof RunCrateError || err instanceof SyntaxError) throw new HttpError(409, `run ${id} (${role}): its crate cannot be read: ${err.message}`);
    throw err;
  }
}

export function registerDriftRoutes(app: FastifyInstance, service: RunService): void {
  app.get('/runs/:id/drift', async (req): Promise<DriftReport> => {
    const q = req.query as Query;
    onlyParams(q, ['against', 'batch', 'atol', 'rtol', 'ignore']);
    const id = runIdParam(req.params);
    const against = single(q, 'against');
    if (against === undefined || against === '') throw new HttpError(400, 'query parameter against is missing: give the id of the run this one reproduces (?against=<run id>)');
    if (!isRunId(against)) throw new HttpError(400, `query parameter against=${JSON.stringify(String(against).slice(0, 40))} is not a run id: run ids are 26 characters (0-9, A-Z)`);
    if (against === id) throw new HttpError(400, `against is run ${id} itself: give the id of the run it reproduces`);
    const batch = intParam(q, 'batch', { min: 0, max: 1_000_000 });
    const atol = toleranceParam(q, 'atol');
    const rtol = toleranceParam(q, 'rtol');
    const ignore = ignoreParam(q);
    const before = await crateFor(service, against, 'the original', batch);
    const after = await crateFor(service, id, 'the re-run', batch);
    return buildDriftReport(before.summary, after.summary, { beforeDir: before.dir, afterDir: after.dir, atol, rtol, ignore });
  });
}
