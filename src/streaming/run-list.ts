// The run list as the status bar counts it, kept current by the bridge's stream of run
// changes (RunsModel) and by the runs' own event streams. States only go forward
// (queued … collecting, then a final state), so a stale answer never takes a state back. Pure.
import { ALL_STATES, isFinalState, type RunSummary, type RunState } from '../red';

export function stateRank(state: RunState): number {
  return ALL_STATES.indexOf(state);
}

/**
 * `runs` with run `runId` in `state`, or the same array when that is no step forward. A run
 * not listed yet comes first, with what the event tells, until the bridge's list has it.
 */
export function withRunState(runs: readonly RunSummary[], runId: string, state: RunState, at = new Date().toISOString()): readonly RunSummary[] {
  const i = runs.findIndex(r => r.id === runId);
  if (i < 0) return [{ id: runId, state, createdAt: at, updatedAt: at, options: {}, batchCount: 1, lastSeq: 0 }, ...runs];
  if (stateRank(state) <= stateRank(runs[i].state)) return runs;
  const next = runs.slice();
  next[i] = { ...runs[i], state, updatedAt: at };
  return next;
}

/** A listed page, with the states event streams told since (`seen`) where those are further on. */
export function mergeListed(listed: readonly RunSummary[], seen: ReadonlyMap<string, RunState>): RunSummary[] {
  return listed.map(r => {
    const s = seen.get(r.id);
    return s && stateRank(s) > stateRank(r.state) ? { ...r, state: s } : r;
  });
}

/** Runs queued, and runs on their way (preparing, running, collecting). */
export function countRuns(runs: readonly RunSummary[]): { queued: number; running: number } {
  let queued = 0;
  let running = 0;
  for (const r of runs) {
    if (r.state === 'queued') queued++;
    else if (!isFinalState(r.state)) running++;
  }
  return { queued, running };
}

/**
 * `runs` with `summary` (a change the bridge sent) in its place, newest id first. A summary
 * older than the listed one (lower lastSeq) changes nothing; a state is never taken back.
 */
export function withSummary(runs: readonly RunSummary[], summary: RunSummary): readonly RunSummary[] {
  const i = runs.findIndex(r => r.id === summary.id);
  if (i < 0) {
    const at = runs.findIndex(r => r.id < summary.id);
    const next = runs.slice();
    next.splice(at < 0 ? runs.length : at, 0, summary);
    return next;
  }
  const listed = runs[i];
  if (summary.lastSeq < listed.lastSeq) return runs;
  // A run cell may have told a further state already (the listed entry may be its placeholder).
  const state = stateRank(listed.state) > stateRank(summary.state) ? listed.state : summary.state;
  const next = runs.slice();
  next[i] = state === summary.state ? summary : { ...summary, state };
  return next;
}
