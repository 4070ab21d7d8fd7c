// The run list as the status bar counts it, kept current by the runs' event streams
// between polls of the bridge. States only go forward (queued … collecting, then a
// final state), so a stale answer never takes a state back. Pure.
import { ALL_STATES, isFinalState, type RunSummary } from '../red/bridge-api';
import type { RunState } from '../red/run';

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
